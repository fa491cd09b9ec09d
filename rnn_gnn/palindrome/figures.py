"""Every Part 1 figure: the sweep's training curves (the report's Figure 1) and accuracy
against length, the gradient study's flow and clipping figures, and the optimizer study's
curves and learning-rate grid.  Each title states the initialisation the numbers rest on;
every shaded band says in its legend what it spans.
"""

from __future__ import annotations

import numpy as np

from rnn_gnn.palindrome import gradients, optimizer_study
from rnn_gnn.palindrome.runner import Config
from rnn_gnn.plotting import (MODEL_COLOURS, MODEL_NAMES, band, box_filter, length_colours,
                              model_colour, plt)


def initialisation(init: str, forget_bias: float, lstm: bool = True) -> str:
    """``"init orthogonal (LSTM forget bias 1)"``: what every Part 1 title states."""
    return f"init {init}" + (f" (LSTM forget bias {forget_bias:g})" if lstm else "")


def sweep_title(cfg: Config, seeds: int, models) -> str:
    encoding = gradients.ENCODINGS[cfg.input_dim]
    return (f"{encoding}, {cfg.num_hidden} hidden, {cfg.optimizer} lr {cfg.learning_rate:g}, "
            f"batch {cfg.batch_size}, {initialisation(cfg.init, cfg.forget_bias, 'lstm' in models)}"
            f", mean of {seeds} seeds")


# ----------------------------------------------------------------------------- the sweep

def training_curves(curves: dict, lengths, title: str = ""):
    """The report's Figure 1: accuracy (top) and loss (bottom) against step, one curve per
    palindrome length (mean over seeds, box-filtered), one column per model.

    ``curves[model]`` is ``runner.figure_curves``' output: ``[len(lengths), blocks]`` per
    metric, with ``step`` and ``smooth``.
    """
    models = list(curves)
    fig, axes = plt.subplots(2, len(models), figsize=(5.2 * len(models), 6.4), sharex=True,
                             squeeze=False)
    for col, model in enumerate(models):
        c = curves[model]
        colours = length_colours(MODEL_COLOURS.get(model, "Greys"), len(lengths))
        for row, metric in enumerate(("accuracy", "loss")):
            ax = axes[row, col]
            for t, curve, colour in zip(lengths, c[metric], colours):
                ax.plot(c["step"], curve, color=colour, lw=1.2, label=f"T={t}")
            ax.grid(alpha=0.3)
            if metric == "accuracy":
                ax.axhline(0.1, color="grey", ls=":", lw=1)
                ax.set_ylim(0, 1.02)
                ax.set_title(MODEL_NAMES.get(model, model))
            else:
                ax.set_xlabel("training step")
            if col == 0:
                ax.set_ylabel(f"{metric}\n(mean over seeds, {int(c['smooth'])}-step average)",
                              fontsize=9)
        axes[0, col].legend(fontsize=7, ncol=2, loc="lower right", title="length")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_vs_length(finals: dict, lengths, title: str = ""):
    """Final accuracy against palindrome length: mean over seeds, band = min..max."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, (model, final) in enumerate(finals.items()):
        acc = np.asarray(final["accuracy"])
        colour = model_colour(model)
        ax.plot(lengths, acc.mean(1), "o-", color=colour, label=MODEL_NAMES.get(model, model))
        band(ax, lengths, acc.min(1), acc.max(1), colour,
             "min..max over seeds" if k == 0 else None)
    ax.axhline(0.1, color="grey", ls=":", lw=1, label="chance")
    ax.set_xlabel("palindrome length T")
    ax.set_ylabel("test accuracy (fresh batch)")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(list(lengths))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- gradient study

def gradient_title(study: gradients.Study) -> str:
    lstm = "lstm" in study.models
    return (f"{initialisation(study.init, study.forget_bias, lstm)}; {study.num_hidden} hidden; "
            f"trained {study.train_steps} steps, {study.optimizer} lr {study.learning_rate:g}, "
            f"batch {study.batch_size}, clip {study.max_norm:g}")


def gradient_flow(study: gradients.Study, results, key: str, ylabel: str):
    """Rows: init, trained; columns: model x encoding; one curve per length (darker = longer)."""
    cols = list(results)
    fig, axes = plt.subplots(2, len(cols), figsize=(3.4 * len(cols), 5.6), sharey="row",
                             squeeze=False)
    for c, (model, d) in enumerate(cols):
        colours = length_colours(MODEL_COLOURS[model], len(study.lengths))
        flows = results[(model, d)][0]
        for r, stage in enumerate(gradients.STAGES):
            ax = axes[r, c]
            for i, (T, colour) in enumerate(zip(study.lengths, colours)):
                t, y = np.arange(1, T), gradients.steps_of(flows[stage][key][i], T)
                if key == "dW":   # step 1's term is h(0) = 0
                    t, y = t[1:], y[1:]
                ax.plot(t, y, "o-", ms=2.5, color=colour, label=f"T={T}")
                if key == "dh" and "dc" in flows[stage]:   # zero at T-1: the loss reads h only
                    ax.plot(t[:-1], gradients.steps_of(flows[stage]["dc"][i], T)[:-1], "--",
                            color=colour, lw=1)
            ax.set_yscale("log")
            ax.grid(alpha=0.3, which="both")
            ax.set_title(f"{MODEL_NAMES[model]}, {gradients.ENCODINGS[d]}: {stage}", fontsize=9)
            if c == 0:
                ax.set_ylabel(ylabel, fontsize=9)
            if r == 1:
                ax.set_xlabel("step t (the loss is at the last step)", fontsize=8)
        axes[0, c].legend(fontsize=7)
    note = ("\nsolid: ||dl/dh(t)||; dashed: the LSTM's ||dl/dc(t)|| along the cell path "
            "(mean over examples)" if key == "dh" and "lstm" in study.models else "")
    fig.suptitle(gradient_title(study) + note, fontsize=9)
    fig.tight_layout()
    return fig


def clipping(study: gradients.Study, histograms: dict):
    """Histogram of log10 of the pre-clipping global gradient norm, clipped vs unclipped run,
    from ``gradients.norm_histograms`` (grad_norm_hist.json): one row per length, one column
    per (model, encoding) with an unclipped run."""
    runs = {(h["model"], h["input_dim"], h["length"], h["max_norm"]): h
            for h in histograms["histograms"]}
    pairs = list(dict.fromkeys((m, d) for m, d, _, max_norm in runs if max_norm is None))
    fig, axes = plt.subplots(len(study.lengths), len(pairs), figsize=(4.2 * len(pairs),
                             2.1 * len(study.lengths)), sharex=True, squeeze=False)
    for c, (model, d) in enumerate(pairs):
        for r, T in enumerate(study.lengths):
            ax = axes[r, c]
            for max_norm, colour in ((study.max_norm, "tab:blue"), (None, "tab:red")):
                h = runs[model, d, T, max_norm]
                if h["diverged_at"]:
                    ax.text(0.5, 0.5 if max_norm is None else 0.65,
                            f"{'unclipped' if max_norm is None else 'clipped'} run diverged at "
                            f"step {h['diverged_at']}", transform=ax.transAxes, ha="center",
                            fontsize=7)
                    continue
                label = (f"clip {max_norm:g}" if max_norm else "no clipping") + \
                    f": {100 * h['clipped_fraction']:.1f}% > {study.max_norm:g}"
                edges = np.asarray(h["log10_edges"], float)
                # the binned counts as weights: the bars a histogram of every step's norm draws
                ax.hist(edges[:-1], bins=edges, weights=h["steps"], alpha=0.55, color=colour,
                        label=label)
            ax.axvline(np.log10(study.max_norm), color="k", ls=":", lw=1)
            ax.set_yscale("log")
            ax.set_title(f"{MODEL_NAMES[model]}, {gradients.ENCODINGS[d]}, T={T}", fontsize=9)
            ax.legend(fontsize=7)
            if r == len(study.lengths) - 1:
                ax.set_xlabel("log10 global gradient norm (before clipping)", fontsize=8)
            if c == 0:
                ax.set_ylabel("steps", fontsize=8)
    fig.suptitle(gradient_title(study), fontsize=9)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- optimizer study

def optimizer_title(study: optimizer_study.Study) -> str:
    cfg = study.config()
    return (f"LSTM, T={study.length}, {gradients.ENCODINGS[study.input_dim]}, "
            f"{study.num_hidden} hidden, batch {study.batch_size}, clip {study.max_norm:g}, "
            f"{initialisation(cfg.init, cfg.forget_bias)}, {study.seeds} seeds")


def optimizer_curves(study: optimizer_study.Study, curves: dict):
    """Loss and accuracy at each optimizer's chosen rate: mean over seeds, band = min..max;
    ``curves``: ``optimizer_study.chosen_curves`` (curves.npz), where an optimizer that
    diverged at every rate has none (it keeps its colour)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colours = plt.get_cmap("tab10")
    labelled = False
    for k, name in enumerate(study.optimizers):
        if f"{name}_loss" not in curves:
            continue
        for ax, metric in zip(axes, ("loss", "accuracy")):
            smoothed = box_filter(curves[f"{name}_{metric}"], study.smooth)
            steps = np.arange(smoothed.shape[-1]) + study.smooth
            ax.plot(steps, smoothed.mean(0), color=colours(k), lw=1.3,
                    label=f"{name} (lr {float(curves[f'{name}_lr']):g})")
            band(ax, steps, smoothed.min(0), smoothed.max(0), colours(k),
                 None if labelled else "min..max over seeds")
        labelled = True
    axes[0].set_ylabel(f"training loss ({study.smooth}-step average)")
    axes[1].set_ylabel(f"training accuracy ({study.smooth}-step average)")
    axes[1].axhline(0.1, color="grey", ls=":", lw=1)
    axes[1].axhline(optimizer_study.TARGET, color="k", ls=":", lw=0.8)
    for ax in axes:
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle(optimizer_title(study), fontsize=10)
    fig.tight_layout()
    return fig


def learning_rate_grid(study: optimizer_study.Study, results):
    """Validation accuracy against learning rate (mean over seeds; the chosen rate circled)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    colours = plt.get_cmap("tab10")
    for k, (name, r) in enumerate(results.items()):
        if r["diverged_at"] is not None:
            continue
        acc = r["val_accuracy"].mean(1)                 # NaN where a seed diverged: a gap
        ax.plot(r["lrs"], acc, "o-", color=colours(k), label=name)
        ax.plot(r["lrs"][r["best"]], acc[r["best"]], "o", ms=12, mfc="none", color=colours(k))
        gone = [lr for lr, d in zip(r["lrs"], r["diverged"]) if d.any()]
        ax.plot(gone, [0.0] * len(gone), "x", ms=9, color=colours(k),
                label=f"{name}: diverged" if gone else None)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (circled: the chosen one)")
    ax.set_ylabel("validation accuracy")
    ax.axhline(0.1, color="grey", ls=":", lw=1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(optimizer_title(study), fontsize=9)
    fig.tight_layout()
    return fig
