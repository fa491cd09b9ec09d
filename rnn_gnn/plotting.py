"""Figures shared by the experiments (matplotlib, no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

MODEL_COLOURS = {"rnn": "Blues", "lstm": "Oranges"}
MODEL_NAMES = {"rnn": "Vanilla RNN", "lstm": "LSTM"}


def box_filter(y: np.ndarray, width: int) -> np.ndarray:
    """Moving average over the last axis with a box of ``width`` ('valid' part only)."""
    if width <= 1 or y.shape[-1] < width:
        return y
    c = np.cumsum(np.pad(y, [(0, 0)] * (y.ndim - 1) + [(1, 0)]), axis=-1)
    return (c[..., width:] - c[..., :-width]) / width


def length_colours(cmap: str, n: int):
    """``n`` shades of one hue, light (short) to dark (long): lightness codes the length."""
    return plt.get_cmap(cmap)(np.linspace(0.35, 1.0, n))


def training_curves(histories: dict, lengths, smooth: int = 10, title: str = ""):
    """The report's Figure 1: accuracy (top) and loss (bottom) against step, one curve per
    palindrome length (mean over seeds, box-filtered), one column per model.

    ``histories[model][metric]`` has shape ``[len(lengths), seeds, steps]``.
    """
    models = list(histories)
    fig, axes = plt.subplots(2, len(models), figsize=(5.2 * len(models), 6.4), sharex=True,
                             squeeze=False)
    for col, model in enumerate(models):
        h = histories[model]
        colours = length_colours(MODEL_COLOURS.get(model, "Greys"), len(lengths))
        for row, metric in enumerate(("accuracy", "loss")):
            ax = axes[row, col]
            curves = box_filter(h[metric].mean(axis=1), smooth)
            steps = np.arange(curves.shape[-1]) + (smooth if smooth > 1 else 1)
            for t, curve, colour in zip(lengths, curves, colours):
                ax.plot(steps, curve, color=colour, lw=1.2, label=f"T={t}")
            ax.grid(alpha=0.3)
            if metric == "accuracy":
                ax.axhline(0.1, color="grey", ls=":", lw=1)
                ax.set_ylim(0, 1.02)
                ax.set_title(MODEL_NAMES.get(model, model))
            else:
                ax.set_xlabel("training step")
            if col == 0:
                ax.set_ylabel(metric)
        axes[0, col].legend(fontsize=7, ncol=2, loc="lower right", title="length")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_vs_length(finals: dict, lengths, title: str = ""):
    """Final accuracy against palindrome length: mean over seeds, band = min..max."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for model, final in finals.items():
        acc = np.asarray(final["accuracy"])
        colour = plt.get_cmap(MODEL_COLOURS.get(model, "Greys"))(0.8)
        ax.plot(lengths, acc.mean(1), "o-", color=colour, label=MODEL_NAMES.get(model, model))
        ax.fill_between(lengths, acc.min(1), acc.max(1), color=colour, alpha=0.2)
    ax.axhline(0.1, color="grey", ls=":", lw=1, label="chance")
    ax.set_xlabel("palindrome length T")
    ax.set_ylabel("test accuracy (fresh batch)")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(list(lengths))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
