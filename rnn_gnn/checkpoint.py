"""The one checkpoint format: msgpack (no pickle), checksummed, written atomically.

A checkpoint file is ``MAGIC + sha256(payload) + payload`` where the payload is the msgpack of
``{"tree": state_dict(tree), "meta": meta}``; ``meta`` is JSON-like (config, vocabulary,
step).  A truncated or altered file fails the checksum and raises ``CheckpointError``; loading
never executes code.  A run directory holds ``ckpt-<step>.msgpack`` files; the newest that
verifies is the one to resume from, and older ones beyond ``keep`` are removed after a save.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import jax
import numpy as np
from flax import serialization

from rnn_gnn.cli import atomic_write_bytes

MAGIC = b"RNNGNN-CKPT-1\n"
_NAME = re.compile(r"ckpt-(\d+)\.msgpack$")


class CheckpointError(Exception):
    """The file is missing, truncated, altered, or does not fit the expected shapes."""


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
    try:
        restored = serialization.from_state_dict(target, tree)
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{source} does not match the model: {e}") from None
    _check_shapes(target, restored, source)
    return restored, meta


def _check_shapes(target, restored, source):
    want = jax.tree_util.tree_leaves_with_path(target)
    got = jax.tree_util.tree_leaves(restored)
    for (path, a), b in zip(want, got):
        if np.shape(a) != np.shape(b):
            raise CheckpointError(
                f"{source} does not match the model: {jax.tree_util.keystr(path)} has shape "
                f"{np.shape(b)}, expected {np.shape(a)}")


def save(path, tree, meta: dict | None = None) -> Path:
    path = Path(path)
    atomic_write_bytes(path, to_bytes(tree, meta))
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


def save_step(directory, step: int, tree, meta: dict | None = None, keep: int = 3) -> Path:
    """Save ``ckpt-<step>``; then drop all but the newest ``keep`` checkpoints."""
    path = save(step_path(directory, step), tree, dict(meta or {}, step=int(step)))
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_latest(directory, target=None):
    """``(tree, meta, path)`` of the newest checkpoint that verifies, or ``None`` if none.

    A damaged newest file must not hide an intact older one, so files failing the checksum are
    skipped; an intact file that does not fit ``target`` still raises.
    """
    for path in reversed(list_checkpoints(directory)):
        data = path.read_bytes()
        try:
            from_bytes(data, None, str(path))
        except CheckpointError:
            continue
        return (*from_bytes(data, target, str(path)), path)
    return None
