"""Part 2's figure: a run's learning curve, ``curve.png`` (matplotlib through
``rnn_gnn.plotting``, no display needed).

On Grimms' Fairy Tales the curve carries the study's target, held-out loss <= 1.35 nats/char
within 20,000 steps (docs/part2.md), as a labelled line: the state-carried validation curve is
the one the target is read against.
"""

from __future__ import annotations

import numpy as np

from rnn_gnn.files import save_figure
from rnn_gnn.plotting import plt

# The held-out target per book (nats/char), drawn on its curves.
TARGETS = {"grimms": 1.35}


def plot_history(rows: list[dict], path, title: str = "", seq_length: int = 30) -> None:
    """``learning_curve`` saved to ``path`` (nothing without rows)."""
    if not rows:
        return
    fig = learning_curve(rows, title, seq_length)
    save_figure(fig, path)
    plt.close(fig)


def learning_curve(rows: list[dict], title: str = "", seq_length: int = 30):
    """Training and validation loss (nats/char, top) and training accuracy (bottom) against
    step, from the rows of ``history.csv``; ``title`` is the corpus' name (a book of
    ``TARGETS`` gets its target line)."""
    step = np.array([int(r["step"]) for r in rows])
    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    ax_loss.plot(step, [float(r["loss"]) for r in rows], lw=1, label="training (mean per log)")
    val = [(int(r["step"]), float(r["val_loss"])) for r in rows if r["val_loss"] != ""]
    if val:
        ax_loss.plot(*zip(*val), "o-", ms=3,
                     label=f"validation, {seq_length}-char windows as in training")
    carried = [(int(r["step"]), float(r["val_loss_carried"])) for r in rows
               if r.get("val_loss_carried", "") != ""]
    if carried:
        ax_loss.plot(*zip(*carried), "s-", ms=3, label="validation, state carried through the text")
    if title in TARGETS:
        ax_loss.axhline(TARGETS[title], color="k", ls="--", lw=1,
                        label=f"target: validation <= {TARGETS[title]} nats/char")
    ax_loss.set_ylabel("cross-entropy (nats/char)")
    ax_loss.set_ylim(top=min(4.5, ax_loss.get_ylim()[1]))
    ax_loss.grid(alpha=0.3)
    ax_loss.legend()
    ax_acc.plot(step, [float(r["accuracy"]) for r in rows], lw=1, color="C2")
    ax_acc.set_ylabel("training accuracy")
    ax_acc.set_xlabel("training step")
    ax_acc.grid(alpha=0.3)
    if title:
        ax_loss.set_title(f"Character LSTM on {title}")
    return fig
