"""The figures of docs/figures/, drawn from the committed result files by the plotting
functions the experiments use; ``FIGURES`` names the runs each PNG is drawn from.

How a figure is compared.  PNG bytes differ between matplotlib and FreeType versions (text
rasterisation, anti-aliasing), and setup.cfg does not pin matplotlib, so a byte or pixel
comparison would fail on a clean clone with another matplotlib.  Instead every figure carries,
in a PNG text chunk, a fingerprint of what it shows: the sha256 of its artists' content (lines'
and patches' data, colours, styles, texts, axis limits and scales; no positions that depend on
font metrics), with numbers to 6 significant digits.  A check redraws each figure from the data
and compares fingerprints; a figure that was copied by hand (no fingerprint), drawn from other
data or by other plotting code fails.  A rebuild writes a PNG only when its fingerprint
changed, so figures are not rewritten by every matplotlib upgrade.  Rendering is deterministic
(Agg, fixed dpi, no "Software" or date metadata): the same data give the same bytes with the
same libraries.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
from matplotlib.colors import to_hex

from rnn_gnn.errors import DataError
from rnn_gnn.palindrome.figures import accuracy_vs_length, training_curves
from rnn_gnn.report.results import Source, lookup, read_csv, read_json, read_npz, shown
from rnn_gnn.report.tables import palindrome_title

FINGERPRINT_KEY = "rnn_gnn report"   # the PNG text chunk holding a figure's fingerprint
DPI = 130                            # as files.save_figure


# ----------------------------------------------------------------------------- Part 1

def palindrome_finals(run: Path) -> tuple[list[int], dict]:
    """final.csv as ``accuracy_vs_length``'s input: ``{model: {"accuracy": [lengths, seeds]}}``
    (a diverged run is NaN, as the experiment passes it)."""
    lengths = lookup(read_json(run / "summary.json"), "lengths", where=run / "summary.json")
    finals = {}
    for r in read_csv(run / "final.csv"):
        finals.setdefault(r["model"], {}).setdefault(int(r["length"]), []).append(
            float(r["accuracy"]) if r["accuracy"] != "" else np.nan)
    try:
        return lengths, {m: {"accuracy": np.array([per[t] for t in lengths])}
                         for m, per in finals.items()}
    except (KeyError, ValueError):
        raise DataError(f"{shown(run / 'final.csv')} does not hold every length and seed of "
                        f"summary.json") from None


def palindrome_accuracy_figure(run: Path):
    lengths, finals = palindrome_finals(run)
    return accuracy_vs_length(finals, lengths, palindrome_title(run))


def palindrome_curves_figure(run: Path, smooth: int = 10):
    """Figure 1 from curves.npz (``{model}_{metric}``: ``[lengths, seeds, steps]``)."""
    curves = read_npz(run / "curves.npz")
    models = list(dict.fromkeys(k.split("_", 1)[0] for k in curves if k != "lengths"))
    histories = {m: {k.split("_", 1)[1]: v for k, v in curves.items() if k.startswith(m + "_")}
                 for m in models}
    return training_curves(histories, [int(t) for t in curves["lengths"]], smooth,
                           palindrome_title(run))


# ----------------------------------------------------------------------------- fingerprints

def fingerprint(fig) -> str:
    """sha256 of what a figure shows, independent of the matplotlib version's rasterisation."""
    def num(values):
        return [f"{v:.6g}" for v in np.ravel(np.asarray(values, float))]

    def colours(values):
        return [to_hex(c, keep_alpha=True) for c in np.atleast_2d(values)] if len(values) else []
    parts = [num(fig.get_size_inches()), fig.get_suptitle()]
    for ax in fig.axes:
        parts.append([ax.get_title("left"), ax.get_title(), ax.get_title("right"),
                      ax.get_xlabel(), ax.get_ylabel(), num(ax.get_xlim()), num(ax.get_ylim()),
                      ax.get_xscale(), ax.get_yscale()])
        for line in ax.lines:
            parts.append(["line", num(line.get_xydata()), to_hex(line.get_color(), True),
                          str(line.get_linestyle()), num([line.get_linewidth()]),
                          str(line.get_marker()), line.get_label()])
        for c in ax.collections:
            parts.append(["collection", [num(p.vertices) for p in c.get_paths()],
                          num(c.get_offsets()), colours(c.get_facecolor()),
                          colours(c.get_edgecolor())])
        for p in ax.patches:
            parts.append(["patch", num(p.get_patch_transform().transform(p.get_path().vertices)),
                          to_hex(p.get_facecolor(), True)])
        for t in ax.texts:
            parts.append(["text", t.get_text(), num(t.get_position())])
        for image in ax.images:
            parts.append(["image", num(image.get_array())])
        legend = ax.get_legend()
        if legend is not None:
            parts.append(["legend", legend.get_title().get_text(),
                          [t.get_text() for t in legend.get_texts()]])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def render_png(fig) -> bytes:
    """The figure as PNG bytes with its fingerprint, deterministically (Agg, fixed dpi, no
    version or date metadata)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight",
                metadata={"Software": None, FINGERPRINT_KEY: fingerprint(fig)})
    return buf.getvalue()


def png_fingerprint(path) -> str | None:
    """The fingerprint a committed PNG carries (None: missing, unreadable, or drawn by hand)."""
    from PIL import Image, UnidentifiedImageError   # matplotlib's own dependency
    try:
        with Image.open(path) as image:
            return image.text.get(FINGERPRINT_KEY)
    except (FileNotFoundError, UnidentifiedImageError, OSError):
        return None


# Each PNG of docs/figures/ drawn from committed data, from which runs.
FIGURES = {
    "palindrome_accuracy_vs_length.png": Source(("palindrome_default",),
                                                palindrome_accuracy_figure),
}
