"""What every experiment CLI shares: one-line usage errors (exit 2), atomic result files.

A user error (bad flag, missing file, bad checkpoint) must print one line on stderr and exit
with status 2, never a traceback, and must never overwrite or lose earlier results.  Experiments
therefore validate everything first, compute, and only then write each output atomically.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Sequence

from rnn_gnn.distributed import initialize_from_environment, is_main_process

EXIT_USAGE = 2


class UsageError(Exception):
    """A problem the user can fix; shown as one line, exit status 2."""


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
    """Run ``main(argv)``; turn ``UsageError`` into ``prog: error: ...`` and exit 2.

    A training run that diverged (``NonFiniteLoss``) also ends with one line, exit 1.
    """
    prog = Path(sys.argv[0]).name
    try:
        initialize_from_environment()   # a process started by srun / mpirun joins its job
        main(argv)
    except UsageError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except Exception as e:
        from rnn_gnn.train import NonFiniteLoss
        if not isinstance(e, NonFiniteLoss):
            raise
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)


def parse_with_presets(parser: argparse.ArgumentParser, argv, quick: dict, full: dict,
                       full_help: str):
    """Parse ``argv`` with ``--quick`` (the default) / ``--full`` presets: a preset fills
    every flag that the user left at ``None``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help=f"the default preset: {quick}")
    group.add_argument("--full", action="store_true", help=f"{full_help}: {full}")
    args = parser.parse_args(argv)
    for key, value in (full if args.full else quick).items():
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


# ----------------------------------------------------------------------------- atomic output

def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file, whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; results are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# Result files (write_bytes, write_json, write_csv, save_figure) are written by the main
# process only: in a multi-process job every process computes the same results, and one copy
# is enough (``atomic_write_bytes`` itself writes in every process, for caches of downloads).

def write_bytes(path, data: bytes) -> None:
    """A result file, written atomically by the main process (``is_main_process``) only."""
    if is_main_process():
        atomic_write_bytes(path, data)


def write_json(path, obj) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, default=_jsonable) + "\n").encode())


def write_csv(path, rows: Iterable[dict]) -> None:
    rows = list(rows)
    import io
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_bytes(path, buf.getvalue().encode())


def save_figure(fig, path) -> None:
    """Save a matplotlib figure atomically (PNG by the path's suffix), main process only."""
    if not is_main_process():
        return
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", dpi=130, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def _jsonable(x):
    import numpy as np
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


# ----------------------------------------------------------------------------- run records

def machine() -> dict:
    """What a result was measured on: CPU model, usable cores, JAX backend and devices."""
    import platform

    import jax
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    devices = jax.devices()
    return {"cpu": model, "cores": len(os.sched_getaffinity(0)),
            "backend": devices[0].platform, "device_kind": devices[0].device_kind,
            "devices": len(devices), "jax": jax.__version__}


def compile_timer() -> Callable[[], float]:
    """Start adding up XLA compile time; the returned function gives the seconds so far."""
    import jax
    total = [0.0]

    def listen(event: str, seconds: float, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            total[0] += seconds
    jax.monitoring.register_event_duration_secs_listener(listen)
    return lambda: total[0]
