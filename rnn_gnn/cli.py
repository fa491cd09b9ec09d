"""What every experiment CLI shares: flags, presets, and the one-line error policy.

A user error (bad flag, missing file, bad checkpoint) must print one line on stderr and exit
with status 2, never a traceback, and must never overwrite or lose earlier results.  Experiments
therefore validate everything first, compute, and only then write each output atomically
(``rnn_gnn.files``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from jax.sharding import Mesh

from rnn_gnn import distributed
from rnn_gnn.errors import Error, NonFiniteLoss, UsageError

EXIT_USAGE = 2


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` shows the description as written (a CLI's docstring: examples, outputs) and
    each flag's default where it has one; a flag whose default is None or a switch shows none."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" in text or any(action.default is v for v in (None, False, argparse.SUPPRESS))
                or not action.option_strings):
            return text
        return f"{text} (default: %(default)s)".lstrip()


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but errors are one line (no usage dump) raised as ``UsageError``, and
    ``HelpFormatter`` unless told otherwise."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(message)


def run_main(main: Callable[[Sequence[str] | None], object], argv=None) -> None:
    """Run ``main(argv)``; the one place where errors become exit codes.

    Every ``errors.Error`` (a bad flag, or a data, config or checkpoint problem) is one line
    ``prog: error: ...`` and exit 2; a training run that diverged (``NonFiniteLoss``) is one
    line and exit 1.
    """
    prog = Path(sys.argv[0]).name
    try:
        distributed.initialize_from_environment()   # a process started by srun / mpirun joins
        main(argv)
    except Error as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except NonFiniteLoss as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)


# ----------------------------------------------------------------------------- config <-> flags

def field(default, help: str = "", *, type: Callable | None = None, choices=None):
    """A config dataclass field that is also a flag: its help, and ``type`` / ``choices``
    where the default's own type is not the parser (e.g. ``int_list``)."""
    return dataclasses.field(default=default, metadata={"help": help, "type": type,
                                                        "choices": choices})


def add_config_flags(parser: argparse.ArgumentParser, config_cls, presets: dict | None = None,
                     skip: Sequence[str] = ()) -> None:
    """Every field of the dataclass ``config_cls`` as the flag ``--<field>``.

    The flag's default is None, so that a preset can fill it and ``args.given`` tells what the
    user gave; ``--help`` shows the default that applies: the dataclass's, and each preset's
    value where it differs (``presets`` as for ``parse_with_presets``).
    """
    for f in dataclasses.fields(config_cls):
        if f.name in skip:
            continue
        meta = f.metadata
        default = f.default
        kind = meta.get("type") or _FLAG_TYPES.get(type(default), type(default))
        shown = [f"default: {_show(default)}"] + [
            f"--{name}: {_show(values[f.name])}" for name, (values, _) in (presets or {}).items()
            if f.name in values and values[f.name] != default]
        parser.add_argument(f"--{f.name}", type=kind, default=None, choices=meta.get("choices"),
                            metavar=None if meta.get("choices") else f.name.upper(),
                            help=f"{meta.get('help', '')} ({'; '.join(shown)})".lstrip())


def config_from_args(args: argparse.Namespace, config_cls):
    """The dataclass from the flags that have a value (given, or filled by a preset of
    ``parse_with_presets``) over the dataclass's defaults."""
    names = [f.name for f in dataclasses.fields(config_cls) if hasattr(args, f.name)]
    return config_cls(**{n: getattr(args, n) for n in names if getattr(args, n) is not None})


def boolean(text: str) -> bool:
    """argparse ``type=`` for a true/false flag value (``bool("False")`` is True)."""
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


_FLAG_TYPES: dict[type, Callable] = {bool: boolean, tuple: lambda t: tuple(int_list(t))}


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def parse_with_presets(parser: argparse.ArgumentParser, argv,
                       presets: dict[str, tuple[dict, str]]) -> argparse.Namespace:
    """Parse ``argv`` with presets, the one preset mechanism of every CLI.

    ``presets``: ``{"full": (values, help)}`` adds ``--full`` (presets exclude each other); a
    chosen preset fills every flag the user left at None.  Without one, each flag keeps its
    own default: the plain command is the default run, so there is no preset for it.  Sets
    ``args.preset`` (the chosen name or None) and ``args.given`` (the flags the user gave).
    """
    group = parser.add_mutually_exclusive_group()
    for name, (values, text) in presets.items():
        shown = ", ".join(f"{k}={_show(v)}" for k, v in values.items())
        group.add_argument(f"--{name}", action="store_true", help=f"{text}: {shown}")
    args = parser.parse_args(argv)
    args.given = {k for k, v in vars(args).items() if v is not None and k not in presets}
    args.preset = next((name for name in presets if getattr(args, name)), None)
    for key, value in (presets[args.preset][0] if args.preset else {}).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def check(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)


def positive(kind=int):
    """argparse ``type=`` for a strictly positive number."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}")
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


MAX_LIST = 10_000   # a range flag longer than this is a typo, not a sweep


def int_list(text: str) -> list[int]:
    """``"5,7,9"`` or a range ``"5:23:2"`` (inclusive end, at most ``MAX_LIST`` values) ->
    list of ints."""
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            start, stop, stride = parts if len(parts) == 3 else (*parts, 1)
            if stride <= 0 or len(range(start, stop + 1, stride)) > MAX_LIST:
                raise ValueError
            return list(range(start, stop + 1, stride))
        return [int(p) for p in text.split(",") if p.strip()]
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers or start:stop[:step] (at most {MAX_LIST} "
            f"values), got {text!r}")


def out_dir(text: str) -> Path:
    """argparse ``type=`` for an output directory: made when results are written, so it may
    not exist yet, but it must not be a file (found now, not after the computation)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a directory")
    return path


def add_devices_flag(parser) -> None:
    """``--devices N``: the same flag, with the same meaning, in every training CLI."""
    parser.add_argument("--devices", type=positive(int),
                        help="split each batch over the first N devices (default: all; "
                             "the numbers do not depend on N)")


def mesh_from_flag(num_devices: int | None) -> Mesh | None:
    """The mesh for ``--devices`` (``None``, the plain single-device path, for one device);
    ``UsageError`` when more devices are asked for than exist."""
    try:
        mesh = distributed.make_mesh(num_devices)
    except ValueError as e:
        raise UsageError(f"--devices: {e}") from None
    return mesh if mesh.devices.size > 1 else None


def add_checkpoint_flags(parser, where: str) -> None:
    """``--checkpoint_every N`` and ``--resume``, the same in every long run's CLI (``where``:
    the checkpoint directory ``--resume`` reads); pair with ``check_checkpoint_every``."""
    parser.add_argument("--checkpoint_every", type=int, default=0,
                        help="save a checkpoint every N steps (0: off; a multiple of --log_every)")
    parser.add_argument("--resume", action="store_true",
                        help=f"continue from the newest checkpoint in {where}")


def check_checkpoint_every(args) -> None:
    check(args.checkpoint_every >= 0 and args.checkpoint_every % args.log_every == 0,
          f"--checkpoint_every must be 0 or a multiple of --log_every ({args.log_every})")


def add_output_flags(parser, run_dir: str) -> None:
    """``--run_dir`` (default ``run_dir``) and ``--no_progress``."""
    parser.add_argument("--run_dir", type=out_dir, default=Path(run_dir),
                        help="output directory")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars")
