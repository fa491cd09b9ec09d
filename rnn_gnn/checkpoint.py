"""The one checkpoint format: msgpack (no pickle), checksummed, written atomically.

A checkpoint file is ``MAGIC + sha256(payload) + payload`` where the payload is the msgpack of
``{"tree": state_dict(tree), "meta": meta}``; ``meta`` is JSON-like (config, vocabulary,
step).  A truncated or altered file fails the checksum and raises ``CheckpointError``; loading
never executes code, and a tree restored into a target must match its shapes and dtypes.

A run directory holds ``ckpt-<step>.msgpack`` files; the newest that verifies is the one to
resume from.  A save is durable before anything is deleted: the file is written to a temporary
name and fsynced, renamed into place, and the directory is fsynced; only then are the
checkpoints beyond ``keep`` removed.  The first save of a process into a directory also removes
the temporary files a killed writer left there.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Callable

import jax
import numpy as np
from flax import serialization

from rnn_gnn.errors import CheckpointError, ConfigError
from rnn_gnn.files import atomic_write_bytes, is_main_process

MAGIC = b"RNNGNN-CKPT-1\n"
_NAME = re.compile(r"ckpt-(\d+)\.msgpack$")
# What ``files.atomic_write_bytes`` names its temporary file while it writes a checkpoint.
_TEMP = re.compile(r"\.ckpt-\d+\.msgpack\..+\.tmp$")


def to_bytes(tree, meta: dict | None = None) -> bytes:
    payload = serialization.msgpack_serialize(
        {"tree": serialization.to_state_dict(jax.device_get(tree)), "meta": meta or {}})
    return MAGIC + hashlib.sha256(payload).digest() + payload


def from_bytes(data: bytes, target=None, source: str = "checkpoint"):
    """``(tree, meta)``; with ``target`` the tree is restored into its structure and shapes."""
    head = len(MAGIC) + 32
    if len(data) < head or not data.startswith(MAGIC):
        raise CheckpointError(f"{source} is not an rnn_gnn checkpoint (bad header)")
    digest, payload = data[len(MAGIC):head], data[head:]
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f"{source} is truncated or corrupted (checksum mismatch)")
    try:
        content = serialization.msgpack_restore(payload)
        tree, meta = content["tree"], content["meta"]
    except Exception as e:  # msgpack raises several unrelated types
        raise CheckpointError(f"{source} cannot be decoded: {e}") from None
    if target is None:
        return tree, meta
    return restore(target, tree, source), meta


def restore(target, tree, source: str = "checkpoint"):
    """``tree`` (a checkpoint's state dict, as ``from_bytes`` without a target gives it)
    restored into ``target``'s structure; every leaf must have its target's shape and dtype."""
    try:
        restored = serialization.from_state_dict(target, tree)
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{source} does not match the model: {e}") from None
    _check_leaves(target, restored, source)
    return restored


def _dtype(x) -> np.dtype:
    return x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype


def _check_leaves(target, restored, source):
    """Every restored leaf has its target's shape and dtype (msgpack keeps both, so a mismatch
    means another model or a forged file, and would otherwise surface as a recompile or a
    silent change of precision)."""
    want = jax.tree_util.tree_leaves_with_path(target)
    got = jax.tree_util.tree_leaves(restored)
    for (path, a), b in zip(want, got):
        where = f"{source} does not match the model: {jax.tree_util.keystr(path)}"
        if np.shape(a) != np.shape(b):
            raise CheckpointError(f"{where} has shape {np.shape(b)}, expected {np.shape(a)}")
        if _dtype(a) != _dtype(b):
            raise CheckpointError(f"{where} has dtype {_dtype(b)}, expected {_dtype(a)}")


def fsync_directory(directory) -> None:
    """Make a rename in ``directory`` durable (the new name lives in the directory's data)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(path, tree, meta: dict | None = None) -> Path:
    """Write ``tree`` (and ``meta``) to ``path`` durably; in a multi-process job only process 0
    writes (every process holds the same replicated state)."""
    path = Path(path)
    if not is_main_process():
        return path
    atomic_write_bytes(path, to_bytes(tree, meta))
    fsync_directory(path.parent)
    return path


def load(path, target=None):
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path} is a directory, not a checkpoint file") from None
    return from_bytes(data, target, source=str(path))


def step_path(directory, step: int) -> Path:
    return Path(directory) / f"ckpt-{step:09d}.msgpack"


def list_checkpoints(directory) -> list[Path]:
    """Checkpoint files in ``directory``, oldest step first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := _NAME.search(p.name))]
    return [p for _, p in sorted(found)]


def remove_stale_temporaries(directory) -> list[Path]:
    """Delete the temporary checkpoint files in ``directory`` (left by a writer killed before
    its rename); returns them.  Call only where no other process is writing."""
    d = Path(directory)
    stale = [p for p in d.iterdir() if _TEMP.match(p.name)] if d.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


_CLEANED: set[Path] = set()  # directories this process has written to (cleaned on first save)


def save_step(directory, step: int, tree, meta: dict | None = None, keep: int = 3) -> Path:
    """Save ``ckpt-<step>`` durably; then drop all but the newest ``keep`` checkpoints.

    The first call of a process for a directory first removes a killed writer's temporary
    files: this process is now that directory's writer, so no temporary there is in use.
    """
    if not is_main_process():
        return step_path(directory, step)
    key = Path(directory).resolve()
    if key not in _CLEANED:
        remove_stale_temporaries(directory)
        _CLEANED.add(key)
    path = save(step_path(directory, step), tree, dict(meta or {}, step=int(step)))
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_latest(directory, target=None):
    """``(tree, meta, path)`` of the newest checkpoint that verifies, or ``None`` if none.

    A damaged newest file must not hide an intact older one, so files failing the checksum are
    skipped, and so are files that vanish between listing and reading (another process pruning
    them); an intact file that does not fit ``target`` still raises.
    """
    for path in reversed(list_checkpoints(directory)):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        try:
            from_bytes(data, None, str(path))
        except CheckpointError:
            continue
        return (*from_bytes(data, target, str(path)), path)
    return None


# ----------------------------------------------------------------------------- in the loop

def checkpointer(directory, every: int, meta: dict | None = None, keep: int = 3,
                 then: Callable | None = None):
    """A ``train`` callback that saves the state every ``every`` steps.

    ``then(state, history)``, when given, is called first on every callback (the caller's own
    per-chunk work, e.g. recording a history to save beside the state).  Saves happen only
    after the loop's finite-loss check, so the newest checkpoint is always a good one; each
    file is written atomically, so a kill at any moment leaves the directory readable.  Pair
    with ``log_every`` dividing ``every``.
    """
    def callback(state, history):
        step = int(np.max(jax.device_get(state.step)))
        if then is not None:
            then(state, history)
        if step % every == 0:
            save_step(directory, step, state, meta, keep=keep)
    return callback


def restore_or(state, directory):
    """Resume or start, with no questions asked: ``(restored, meta)``, the newest intact
    checkpoint in ``directory`` restored into ``state``'s structure, shapes and dtypes (as
    device arrays), or ``(state, None)``, the fresh state itself, when there is none.  A CLI
    that may find an earlier run's checkpoints calls ``resume``, which first checks that the
    user asked to continue and that the settings match."""
    found = load_latest(directory, target=jax.device_get(state))
    if found is None:
        return state, None
    restored, meta, _ = found
    return jax.tree_util.tree_map(jax.numpy.asarray, restored), meta


def check_resume(directory, settings: dict, resume: bool, upgrade: Callable | None = None):
    """The checkpoint to continue from, ``(tree, meta, path)``, or None to start afresh (no
    checkpoint in ``directory``); checked before anything trains.

    Checkpoints there are continued only if ``resume`` is set and the newest intact one was
    made with ``settings``: each key of ``settings`` equal in its meta (passed first through
    ``upgrade``, for the meta of older code), nested dicts (e.g. a config) key by key.  Raises,
    touching nothing:

    - ``CheckpointError``: checkpoints exist but ``resume`` is off (they are never overwritten
      silently), or none of them is intact;
    - ``ConfigError``: it was made with other settings; the one-line message names them.
    """
    if not list_checkpoints(directory):
        return None
    if not resume:
        raise CheckpointError(f"{directory} holds checkpoints of an earlier run: pass --resume "
                              f"to continue it, or choose another --run_dir")
    found = load_latest(directory)
    if found is None:
        raise CheckpointError(f"cannot resume: no intact checkpoint in {directory}")
    tree, meta, path = found
    changed = differences(upgrade(meta) if upgrade else meta, settings)
    if changed:
        raise ConfigError(f"cannot resume from {path}: it was made with other settings "
                          f"({'; '.join(changed)})")
    return tree, meta, path


def resume(directory, state, settings: dict, resume: bool, upgrade: Callable | None = None):
    """Continue the run saved in ``directory``, or start afresh: ``(state, meta)``.

    ``check_resume``, then the checkpoint restored into ``state``'s structure, shapes and
    dtypes (``CheckpointError`` when it does not fit); ``(state, None)``, the fresh ``state``
    itself, when there is no checkpoint.
    """
    found = check_resume(directory, settings, resume, upgrade)
    if found is None:
        return state, None
    tree, meta, path = found
    restored = restore(jax.device_get(state), tree, str(path))
    return jax.tree_util.tree_map(jax.numpy.asarray, restored), meta


def differences(saved: dict, wanted: dict) -> list[str]:
    """Each setting of ``wanted`` whose value in ``saved`` differs, as ``"key old -> new"``
    (``"config.num_hidden 64 -> 128"`` inside a nested dict)."""
    out = []
    for key, value in wanted.items():
        old = saved.get(key)
        if old is None and value is not None:
            out.append(f"{key} not recorded")
        elif isinstance(value, dict) and isinstance(old, dict):
            out += [f"{key}.{k} {_short(old.get(k))} -> {_short(v)}" for k, v in value.items()
                    if old.get(k) != v]
        elif old != value:
            out.append(f"{key} {_short(old)} -> {_short(value)}")
    return out


def _short(value, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."
