"""What every part's figures share: matplotlib without a display, one moving average, the
models' colours and names, and the shaded band.  Each part draws its own figures (e.g.
``rnn_gnn.palindrome.figures``); they are saved with ``rnn_gnn.files.save_figure``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")   # the one place: figures are files, never windows
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

MODEL_COLOURS = {"rnn": "Blues", "lstm": "Oranges"}
MODEL_NAMES = {"rnn": "Vanilla RNN", "lstm": "LSTM"}


def box_filter(y: np.ndarray, width: int) -> np.ndarray:
    """Moving average over the last axis with a box of ``width`` ('valid' part only: entry i
    is the mean of steps i .. i + width - 1); ``y`` itself when ``width <= 1`` or when it is
    shorter than ``width``."""
    if width <= 1 or y.shape[-1] < width:
        return y
    c = np.cumsum(np.pad(y, [(0, 0)] * (y.ndim - 1) + [(1, 0)]), axis=-1)
    return (c[..., width:] - c[..., :-width]) / width


def length_colours(cmap: str, n: int):
    """``n`` shades of one hue, light (short) to dark (long): lightness codes the length."""
    return plt.get_cmap(cmap)(np.linspace(0.35, 1.0, n))


def model_colour(model: str):
    """The model's own colour (the dark end of its hue)."""
    return plt.get_cmap(MODEL_COLOURS.get(model, "Greys"))(0.8)


def band(ax, x, low, high, colour, what: str | None = "min..max over seeds"):
    """Shade between ``low`` and ``high``; the legend says what the band is (``what``; None
    for a band like one already labelled)."""
    return ax.fill_between(x, low, high, color=colour, alpha=0.2, lw=0,
                           label=None if what is None else f"shaded: {what}")


def label_bars(ax, bars, values, fmt: str = "{:.3g}") -> None:
    """Write each bar's value on it, zeros included (a bar of height 0 is otherwise
    invisible, and a missing bar reads as a missing result)."""
    for bar, value in zip(bars, values):
        ax.annotate(fmt.format(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=7, xytext=(0, 1),
                    textcoords="offset points")
