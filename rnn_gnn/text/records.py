"""What a training run records beside its checkpoints: history rows, validation, samples, summary.

``history.csv`` has one row per ``log_every`` steps (``COLUMNS``): train loss and accuracy,
learning rate, wall time; every ``eval_every`` steps the validation loss in nats and bits per
character, measured two ways (``validation_sets``).  ``samples.txt`` holds one line per greedy
sample, ``<step> "<text>"``.  A resumed run reads both back and keeps the rows up to the step
it resumes from, so its files end as the uninterrupted run's do.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from rnn_gnn.files import write_bytes
from rnn_gnn.text import corpus
from rnn_gnn.text.model import evaluate

COLUMNS = ("step", "loss", "accuracy", "val_loss", "val_bpc", "val_accuracy",
           "val_loss_carried", "val_bpc_carried", "val_accuracy_carried", "learning_rate", "time_s")
CARRIED_PIECES = 16
# The validation measure that picks best.msgpack: the held-out text read through with the
# state carried, as the model reads when it writes (the target of docs/part2.md).
BEST_BY = "val_loss_carried"


def validation_sets(val_ids: np.ndarray, seq_length: int) -> dict:
    """Two views of the held-out text, as ``{column suffix: (x, y)}``:

    ""          windows of ``seq_length`` read from a zero state, exactly the training loss;
    "_carried"  the text cut into ``CARRIED_PIECES`` long pieces, each read through with the
                state carried (as the model reads when it writes, and as char-rnn evaluates):
                no restart penalty every ``seq_length`` characters.
    """
    if not len(val_ids):
        return {}
    sets = {"": corpus.tiled_windows(val_ids, seq_length)}
    piece = (len(val_ids) - 1) // CARRIED_PIECES
    sets["_carried"] = corpus.tiled_windows(val_ids, max(piece, seq_length))
    return {k: (jnp.asarray(x), jnp.asarray(y)) for k, (x, y) in sets.items()}


def validation_scores(params: dict, held_out: dict) -> dict:
    """The validation columns of a history row for ``params`` on ``validation_sets``."""
    row = {}
    for suffix, (x, y) in held_out.items():
        loss, acc = jax.device_get(evaluate(params, x, y))
        row.update({f"val_loss{suffix}": float(loss), f"val_bpc{suffix}": float(loss) / math.log(2),
                    f"val_accuracy{suffix}": float(acc)})
    return row


def model_meta(meta: dict, row: dict) -> dict:
    """A model file's meta: the run's, the step, and what the step scored where measured."""
    scores = {k: row[k] for k in ("loss", "val_loss", "val_loss_carried") if row.get(k) != ""}
    return {**meta, "step": int(row["step"]), **{k: float(v) for k, v in scores.items()}}


def summarize(rows: list[dict], settings: dict) -> dict:
    """``summary.json``: the last step's training numbers, the last and best validation, and
    ``settings`` (``config.settings``)."""
    val = [(int(r["step"]), float(r["val_loss"])) for r in rows if r["val_loss"] != ""]
    last = rows[-1] if rows else {}
    out = {"steps": int(last.get("step", 0)), "train_loss": _float(last.get("loss")),
           "train_accuracy": _float(last.get("accuracy")), "time_s": _float(last.get("time_s")),
           "config": settings}
    if val:
        best = min(val, key=lambda sv: sv[1])
        out.update(val_loss=val[-1][1], val_bpc=val[-1][1] / math.log(2), best_val_loss=best[1],
                   best_val_step=best[0])
        carried = [(int(r["step"]), float(r[BEST_BY])) for r in rows if r[BEST_BY] != ""]
        if carried:
            step, loss = min(carried, key=lambda sv: sv[1])
            out.update(val_loss_carried=carried[-1][1],
                       val_bpc_carried=carried[-1][1] / math.log(2),
                       best_model={"file": "best.msgpack", "step": step, BEST_BY: loss})
    return out


def _float(x):
    return None if x in (None, "") else float(x)


def history_until(run_dir, step: int) -> list[dict]:
    """The rows of ``run_dir/history.csv`` up to ``step`` (none without the file)."""
    try:
        with open(Path(run_dir) / "history.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        return []
    return [{c: r.get(c, "") for c in COLUMNS} for r in rows if int(r["step"]) <= step]


def samples_until(run_dir, step: int) -> list[str]:
    """The lines of ``run_dir/samples.txt`` up to ``step`` (none without the file)."""
    try:
        lines = (Path(run_dir) / "samples.txt").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [l for l in lines if l.strip() and int(l.split()[0]) <= step]


def write_lines(path, lines) -> None:
    """A text file of ``lines`` (a result file: written atomically, by the main process only)."""
    write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
