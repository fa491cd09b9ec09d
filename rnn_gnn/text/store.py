"""Character models on disk: model files, the shipped model, and ``load_model``.

A *model file* is a checkpoint (``rnn_gnn.checkpoint``'s format) holding only
``{"params": the averaged parameters}`` and, as meta, the vocabulary, the config and the step
(``save_model``; no optimizer state: a quarter of the size).  The package ships one, trained on
Grimms' Fairy Tales (``models/grimm_2x128.msgpack``, loaded as ``load_model("shipped")``);
``models/grimm_2x128.json`` records its sha256 and the command that reproduces it.

``load_model`` reads any of them: a model file, a training checkpoint (its averaged weights), a
run directory (its newest intact checkpoint) or ``"shipped"``.  A missing, damaged or foreign
file raises ``CheckpointError``; a shipped model that is missing or altered, ``DataError``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rnn_gnn import checkpoint
from rnn_gnn.errors import CheckpointError, DataError
from rnn_gnn.optimizers import averaged
from rnn_gnn.text.config import SHIPPED, config_from
from rnn_gnn.text.trainer import initial_state

MODEL_FORMAT = "rnn_gnn.text model"   # meta["format"] of a model file (params only)
MODELS = Path(__file__).resolve().parent / "models"
SHIPPED_FILE = MODELS / "grimm_2x128.msgpack"
SHIPPED_INFO = MODELS / "grimm_2x128.json"  # its sha256 and the command that reproduces it


class Model(NamedTuple):
    params: dict    # the averaged parameters, as validated
    vocab: str
    meta: dict      # vocab, config, corpus, step, ...
    path: Path      # the file they came from


def save_model(path, params: dict, meta: dict) -> Path:
    """A model file: ``params`` and ``meta`` (with the vocabulary and config), no optimizer."""
    return checkpoint.save(path, {"params": params}, {"format": MODEL_FORMAT, **meta})


def shipped_info() -> dict:
    """What ``SHIPPED_INFO`` records of the shipped model: its sha256, the command and the
    code that trained it, and what it scored."""
    try:
        return json.loads(SHIPPED_INFO.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"the shipped model's record {SHIPPED_INFO} is missing or unreadable "
                        f"({e}); reinstall rnn_gnn") from None


def shipped_path() -> Path:
    """``SHIPPED_FILE`` after checking it against the sha256 in ``SHIPPED_INFO``."""
    want = shipped_info().get("sha256")
    try:
        got = hashlib.sha256(SHIPPED_FILE.read_bytes()).hexdigest()
    except OSError as e:
        raise DataError(f"the shipped model {SHIPPED_FILE} cannot be read ({e.strerror or e}); "
                        "reinstall rnn_gnn") from None
    if got != want:
        raise DataError(f"the shipped model {SHIPPED_FILE} has sha256 {got[:12]}..., not the "
                        f"recorded {str(want)[:12]}...; reinstall rnn_gnn")
    return SHIPPED_FILE


def load_model(path) -> Model:
    """The model in a model file, a checkpoint file, the newest intact checkpoint of a run
    directory, or (``"shipped"``) the shipped one."""
    path = shipped_path() if str(path) == SHIPPED else Path(path)
    if path.is_dir():
        found = checkpoint.load_latest(path)
        if found is None:
            raise CheckpointError(f"no intact checkpoint in {path}")
        _, meta, path = found
    else:
        _, meta = checkpoint.load(path)
    if not isinstance(meta.get("vocab"), str) or not isinstance(meta.get("config"), dict):
        raise CheckpointError(f"{path} is not a character-model checkpoint (no vocabulary)")
    try:
        target = jax.device_get(initial_state(config_from(meta["config"]), len(meta["vocab"])))
    except (TypeError, ValueError) as e:  # settings of the wrong type or range
        raise CheckpointError(f"{path} has a config this code cannot build ({e})") from None
    if meta.get("format") == MODEL_FORMAT:
        tree, meta = checkpoint.load(path, target={"params": target.params})
        params = tree["params"]
    else:
        state, meta = checkpoint.load(path, target=target)
        params = averaged(state)
    return Model(jax.tree_util.tree_map(jnp.asarray, params), meta["vocab"], meta, path)
