"""LOCAL STAND-IN for ``rnn_gnn.checkpoint.resume``, the one resume-with-a-same-settings-check
of the library (being written in ``rnn_gnn/checkpoint.py`` on another branch).  Delete this
module when that one is merged and import ``resume`` from ``rnn_gnn.checkpoint``; what the text
runner needs of it is exactly this signature and behaviour.
"""

from __future__ import annotations

from typing import Callable

from rnn_gnn import checkpoint
from rnn_gnn.errors import CheckpointError, ConfigError


def differences(saved: dict, wanted: dict) -> list[str]:
    """``name=<saved> (now <wanted>)`` for every entry of ``wanted`` that ``saved`` holds
    otherwise; a dict entry is compared key by key (``saved`` may hold more keys)."""
    out = []
    for key, value in wanted.items():
        old = saved.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            out += differences(old, value)
        elif old != value:
            out.append(f"{key}={_short(old)} (now {_short(value)})")
    return out


def _short(value, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def resume(state, directory, wanted: dict, *, requested: bool,
           upgrade: Callable[[dict], dict] | None = None):
    """Continue the run in ``directory`` or start one: ``(state, meta)``.

    With no checkpoint in ``directory``: ``(state, None)``, the fresh ``state`` itself.  With
    checkpoints and ``requested`` (the user's ``--resume``): the newest intact one restored
    into ``state``'s structure and shapes, after checking that its meta (passed through
    ``upgrade``, for checkpoints of older code) holds every entry of ``wanted``.  Raises
    ``ConfigError`` when checkpoints exist but resuming was not requested, or their settings
    differ (each difference named); ``CheckpointError`` when none of them is intact.
    """
    existing = checkpoint.list_checkpoints(directory)
    if not existing:
        return state, None
    if not requested:
        raise ConfigError(f"{directory} already holds a run ({existing[-1].name}): pass --resume "
                          "to continue it, or another output directory")
    found = checkpoint.load_latest(directory)
    if found is None:
        raise CheckpointError(f"cannot resume: no intact checkpoint in {directory}")
    _, saved, path = found
    changed = differences(upgrade(saved) if upgrade else saved, wanted)
    if changed:
        raise ConfigError(f"cannot resume {path}: it was made with other settings: "
                          + ", ".join(changed))
    try:
        return checkpoint.restore_or(state, directory)
    except CheckpointError as e:
        raise CheckpointError(f"cannot resume: {e}") from None
