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
from rnn_gnn.graph import classify, waves
from rnn_gnn.graph.figures import classification_curves, karate_clubs, wave_comparison
from rnn_gnn.palindrome import gradients, optimizer_study
from rnn_gnn.palindrome.figures import (accuracy_vs_length, clipping, gradient_flow,
                                        learning_rate_grid, optimizer_curves, training_curves)
from rnn_gnn.report.results import Source, lookup, read_csv, read_json, read_npz, shown
from rnn_gnn.report.tables import palindrome_title, seed_accuracies
from rnn_gnn.text.figures import learning_curve

FINGERPRINT_KEY = "rnn_gnn report"   # the PNG text chunk holding a figure's fingerprint
DPI = 130                            # as files.save_figure


# ----------------------------------------------------------------------------- Part 1

def palindrome_finals(run: Path) -> tuple[list[int], dict]:
    """final.csv as ``accuracy_vs_length``'s input: ``{model: {"accuracy": [lengths, seeds]}}``
    (a diverged run is NaN, as the experiment passes it)."""
    lengths, acc = seed_accuracies(run)
    return lengths, {m: {"accuracy": a} for m, a in acc.items()}


def palindrome_accuracy_figure(run: Path):
    lengths, finals = palindrome_finals(run)
    return accuracy_vs_length(finals, lengths, palindrome_title(run))


def palindrome_curves_figure(run: Path):
    """Figure 1 from curves.npz (``{model}_{metric}``: ``runner.figure_curves``' arrays)."""
    curves = read_npz(run / "curves.npz")
    models = list(dict.fromkeys(k.split("_", 1)[0] for k in curves if k != "lengths"))
    by_model = {m: {k.split("_", 1)[1]: v for k, v in curves.items() if k.startswith(m + "_")}
                for m in models}
    return training_curves(by_model, [int(t) for t in curves["lengths"]], palindrome_title(run))


def study_of(cls, run: Path):
    """The study dataclass ``cls`` from the ``config`` of a run's summary.json (JSON lists
    back to the tuples the dataclass holds)."""
    where = run / "summary.json"
    config = lookup(read_json(where), "config", where=where)
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    except TypeError as e:
        raise DataError(f"{shown(where)}: its config is not a {cls.__module__}.{cls.__name__} "
                        f"({e})") from None


def gradient_flows(run: Path) -> tuple[gradients.Study, dict]:
    """``experiments/gradients.py``'s flow.csv as ``gradient_flow``'s input:
    ``{(model, d): (flows, {})}``, ``flows[stage][key]`` ``[lengths, max_length - 1]`` with
    each length's T-1 steps at the end of its row, as ``gradients.measure`` pads them."""
    study = study_of(gradients.Study, run)
    lengths, width = list(study.lengths), max(study.lengths) - 1
    flows = {}
    for r in read_csv(run / "flow.csv"):
        T, t = int(r["length"]), int(r["t"])
        stage = flows.setdefault((r["model"], int(r["input_dim"])), {}).setdefault(r["stage"], {})
        for key in ("dh", "dc", "dW"):
            if r[key] != "":
                row = stage.setdefault(key, np.full((len(lengths), width), np.nan))
                row[lengths.index(T), width - (T - 1) + t - 1] = float(r[key])
    try:
        return study, {(m, d): ({s: flows[m, d][s] for s in gradients.STAGES}, {})
                       for m in study.models for d in study.input_dims}
    except KeyError:
        raise DataError(f"{shown(run / 'flow.csv')} does not hold every model, encoding and "
                        f"stage of summary.json") from None


def gradient_flow_figure(run: Path):
    return gradient_flow(*gradient_flows(run), "dh", "mean ||dl/dh(t)||")


def gradient_terms_figure(run: Path):
    return gradient_flow(*gradient_flows(run), "dW", "||step t's term of dL/dW_hh||")


def grad_norm_hist_figure(run: Path):
    """``experiments/gradients.py``'s grad_norm_hist.json: the clipped and unclipped runs'
    gradient-norm histograms."""
    where = run / "grad_norm_hist.json"
    histograms = read_json(where)
    lookup(histograms, "histograms", where=where)
    return clipping(study_of(gradients.Study, run), histograms)


def optimizer_grid(run: Path) -> tuple[optimizer_study.Study, dict]:
    """``experiments/optimizers.py``'s grid.csv and table.csv as ``learning_rate_grid``'s
    input: per optimizer its rates, ``val_accuracy`` and ``diverged`` ``[rates, seeds]`` and
    the chosen rate's index."""
    study = study_of(optimizer_study.Study, run)
    rates = lookup(read_json(run / "summary.json"), "learning_rates",
                   where=run / "summary.json")
    grid = read_csv(run / "grid.csv")
    results = {}
    for t in read_csv(run / "table.csv"):
        name, lrs = t["optimizer"], rates[t["optimizer"]]
        if t["diverged_at"] != "":
            results[name] = {"lrs": lrs, "diverged_at": int(t["diverged_at"])}
            continue
        val = np.full((len(lrs), study.seeds), np.nan)
        gone = np.zeros((len(lrs), study.seeds), int)
        for g in (g for g in grid if g["optimizer"] == name):
            i, j = lrs.index(float(g["lr"])), study.seed_list.index(int(g["seed"]))
            val[i, j] = float(g["val_accuracy"]) if g["val_accuracy"] != "" else np.nan
            gone[i, j] = int(g["diverged_at"] or 0)
        results[name] = {"lrs": lrs, "diverged_at": None, "val_accuracy": val,
                         "diverged": gone, "best": lrs.index(float(t["best_lr"]))}
    return study, results


def optimizer_lr_grid_figure(run: Path):
    return learning_rate_grid(*optimizer_grid(run))


def optimizer_curves_figure(run: Path):
    """``experiments/optimizers.py``'s curves.npz: every optimizer that table.csv does not
    report as diverged at every rate must have its curves there."""
    curves = read_npz(run / "curves.npz")
    for t in read_csv(run / "table.csv"):
        name = t["optimizer"]
        if t["diverged_at"] == "" and not all(f"{name}_{k}" in curves
                                              for k in ("lr", "loss", "accuracy")):
            raise DataError(f"{shown(run / 'curves.npz')} has no curves of {name}, which "
                            f"table.csv holds")
    return optimizer_curves(study_of(optimizer_study.Study, run), curves)


# ----------------------------------------------------------------------------- Part 2

def text_curve_figure(run: Path):
    """``experiments/train_text.py``'s history.csv, titled by the corpus its summary.json
    names (a book with a target gets its target line)."""
    where = run / "summary.json"
    summary = read_json(where)
    return learning_curve(read_csv(run / "history.csv"), lookup(summary, "corpus", where=where),
                          lookup(summary, "config", "seq_length", where=where))


# ----------------------------------------------------------------------------- Part 3

def classification_curves_figure(run: Path, name: str = "cora_gcn"):
    """``experiments/gnn.py``'s NAME_epochs.csv and NAME.json: the learning curves with the
    selected epochs, titled as the experiment titles them."""
    where = run / f"{name}.json"
    r = read_json(where)
    cfg = classify.Config(**lookup(r, "config", where=where))
    rows = read_csv(run / f"{name}_epochs.csv")
    seeds = list(dict.fromkeys(int(row["seed"]) for row in rows))
    history = {m: np.array([[float(row[m]) for row in rows if int(row["seed"]) == s]
                            for s in seeds]) for m in classify.EPOCH_COLUMNS}
    history["accuracy"] = history["train_accuracy"]   # the figure's name for it
    result = {"epoch": [s["epoch"] for s in lookup(r, "runs", where=where)]}
    title = (f"{lookup(r, 'dataset', where=where)} {classify.describe(cfg)}: "
             f"{lookup(r, 'test_accuracy_mean', where=where):.1f} +- "
             f"{lookup(r, 'test_accuracy_std', where=where):.1f} % test accuracy")
    return classification_curves(history, result, title)


def karate_clubs_figure(run: Path, name: str = "karate_gcn"):
    """``experiments/gnn.py``'s NAME_nodes.csv and NAME.json: the club drawing of the first
    seed, titled as the experiment titles it."""
    where = run / f"{name}.json"
    r = read_json(where)
    cfg = classify.Config(**lookup(r, "config", where=where))
    accuracy = lookup(r, "runs", where=where)[0]["test_accuracy"]
    return karate_clubs(read_csv(run / f"{name}_nodes.csv"), accuracy, classify.describe(cfg))


def graph_lstm_figure(run: Path):
    """``experiments/graph_lstm.py``'s graph_lstm_figure.npz, graph_lstm.csv (the held-out
    scores) and graph_lstm.json (the task, the rule's ceiling)."""
    where = run / "graph_lstm.json"
    r = read_json(where)
    return wave_comparison(waves.Task(**lookup(r, "task", where=where)),
                           read_npz(run / "graph_lstm_figure.npz"),
                           read_csv(run / "graph_lstm.csv"),
                           lookup(r, "rule_on_hidden_state", where=where))


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


# Each PNG of docs/figures/ drawn from committed data, from which runs (``needs``: its files
# that runs committed before their experiment wrote them lack).
FIGURES = {
    "palindrome_accuracy_vs_length.png": Source(("palindrome_default",),
                                                palindrome_accuracy_figure),
    "palindrome_training_curves.png": Source(("palindrome_default",), palindrome_curves_figure),
    "palindrome_full_training_curves.png": Source(("palindrome_full",), palindrome_curves_figure),
    "palindrome_full_accuracy_vs_length.png": Source(("palindrome_full",),
                                                     palindrome_accuracy_figure),
    "palindrome_lstm_pytorch_init_t23_training_curves.png": Source(
        ("palindrome_lstm_pytorch_init_t23",), palindrome_curves_figure),
    "gradient_flow.png": Source(("gradients_default",), gradient_flow_figure),
    "gradient_terms.png": Source(("gradients_default",), gradient_terms_figure),
    "gradient_flow_pytorch_init.png": Source(("gradients_pytorch_init",), gradient_flow_figure),
    "grad_norm_hist.png": Source(("gradients_default",), grad_norm_hist_figure,
                                 needs=("grad_norm_hist.json",)),
    "grad_norm_hist_sgd.png": Source(("gradients_sgd",), grad_norm_hist_figure,
                                     needs=("grad_norm_hist.json",)),
    "optimizer_lr_grid.png": Source(("optimizers_default",), optimizer_lr_grid_figure),
    "optimizer_curves.png": Source(("optimizers_default",), optimizer_curves_figure,
                                   needs=("curves.npz",)),
    "part2_grimm_curve.png": Source(("text_grimms",), text_curve_figure),
    "part3_cora_gcn_curves.png": Source(("gnn_paper_settings",), classification_curves_figure),
    "part3_karate_gcn_clubs.png": Source(("gnn_paper_settings",), karate_clubs_figure,
                                         needs=("karate_gcn_nodes.csv",)),
    "part3_graph_lstm.png": Source(("graph_lstm",), graph_lstm_figure),
}
