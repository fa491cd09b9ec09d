"""Part 3's figures: node-classification curves, the karate club coloured by prediction, and
the graph-LSTM comparison (matplotlib through ``rnn_gnn.plotting``, no display needed)."""

from __future__ import annotations

import matplotlib
import numpy as np

from rnn_gnn.graph import comparison
from rnn_gnn.graph.graph_lstm import MODELS
from rnn_gnn.plotting import box_filter, plt


def classification_curves(history: dict, result: dict, title: str):
    """Loss (left) and accuracy (right) per epoch, mean +- std over seeds (shaded), with the
    epochs the selection rule chose marked (``classify.train_seeds``' history and result)."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    seeds, num_epochs = history["loss"].shape
    epochs = np.arange(1, num_epochs + 1)
    band = matplotlib.patches.Patch(color="0.6", alpha=0.4,
                                    label=f"shaded: mean +- 1 std over {seeds} seeds")
    for ax, names in ((ax_loss, ("loss", "val_loss")),
                      (ax_acc, ("accuracy", "val_accuracy", "test_accuracy"))):
        for name in names:
            mean, std = history[name].mean(0), history[name].std(0)
            label = {"loss": "train loss (dropout)", "accuracy": "train acc (dropout)"}.get(
                name, name.replace("_", " "))
            ax.plot(epochs, mean, label=label, lw=1.2)
            ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
        ax.set_xlabel("epoch")
        ax.legend(handles=ax.get_legend_handles_labels()[0] + [band], fontsize=8)
        ax.grid(alpha=0.3)
    for e in result["epoch"]:
        ax_acc.axvline(e, color="k", alpha=0.15, lw=0.8)
    ax_loss.set_ylabel("cross-entropy (mean over seeds)")
    ax_acc.set_ylabel("accuracy (mean over seeds)")
    ax_acc.set_ylim(0, 1.02)
    fig.suptitle(title + "  (grey lines: selected epochs)", fontsize=10)
    fig.tight_layout()
    return fig


def label_zero_bars(ax, bars, below: float = 0.005):
    """Write the value on every bar too short to see (below ``below``; "0" for a zero bar), so
    that a missing bar reads as a score of 0, not as a result left out."""
    ax.bar_label(bars, labels=[f"{b.get_height():.2g}" if abs(b.get_height()) < below else ""
                               for b in bars], fontsize=7, padding=2)


def karate_rows(node_data, prediction) -> list[dict]:
    """What karate_NAME_nodes.csv holds and ``karate_clubs`` draws, one row per member: its
    true club (0 = Mr. Hi's, 1 = the Officer's), whether it is labelled (trained on), the club
    predicted (``prediction [34]``, one seed's), and its place in the drawing (networkx's spring
    layout, seed 3: kept with the data, so that the figure does not depend on the networkx
    version that redraws it)."""
    import networkx as nx
    pos = nx.spring_layout(nx.karate_club_graph(), seed=3)
    train = set(np.asarray(node_data.train).tolist())
    return [{"node": v, "club": int(club), "labelled": int(v in train),
             "prediction": int(prediction[v]), "x": float(pos[v][0]), "y": float(pos[v][1])}
            for v, club in enumerate(np.asarray(node_data.labels))]


def karate_clubs(rows: list[dict], accuracy: float, model: str):
    """Zachary's karate club, each member coloured by its predicted club (shape: true club;
    black ring: labelled, red ring: misclassified); ``rows``: ``karate_rows`` (numbers or their
    text, as read from the CSV); ``model`` names the model in the title
    (``classify.describe``)."""
    import networkx as nx
    g = nx.karate_club_graph()
    rows = sorted(rows, key=lambda r: int(r["node"]))
    column = lambda key: np.array([int(r[key]) for r in rows])
    labels, prediction = column("club"), column("prediction")
    pos = {int(r["node"]): (float(r["x"]), float(r["y"])) for r in rows}
    train = set(np.flatnonzero(column("labelled")).tolist())
    fig, ax = plt.subplots(figsize=(7, 5.6))
    nx.draw_networkx_edges(g, pos, ax=ax, alpha=0.3)
    colours = np.array(["tab:blue", "tab:orange"])
    for club, shape in ((0, "o"), (1, "s")):
        nodes = [v for v in g if labels[v] == club]
        nx.draw_networkx_nodes(
            g, pos, nodelist=nodes, node_shape=shape, ax=ax, node_size=320,
            node_color=colours[prediction[nodes]],
            edgecolors=["black" if v in train else ("red" if prediction[v] != labels[v]
                                                    else "white") for v in nodes],
            linewidths=[3.0 if v in train or prediction[v] != labels[v] else 1.0 for v in nodes])
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=7)
    marker = lambda shape, colour, label, **kw: plt.Line2D([], [], marker=shape, ls="",
                                                           color=colour, label=label, **kw)
    handles = [marker("o", "tab:blue", "predicted: Mr. Hi"),
               marker("o", "tab:orange", "predicted: Officer"),
               marker("o", "grey", "true club: Mr. Hi"),
               marker("s", "grey", "true club: Officer"),
               marker("o", None, "labelled (train)", mfc="none", mec="black", mew=2.5),
               marker("o", None, "misclassified", mfc="none", mec="red", mew=2.5)]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(f"Zachary's karate club: {model} trained on {len(train)} labelled "
                 f"members;\ntest accuracy {accuracy:.1%} (seed 0)", fontsize=10)
    ax.axis("off")
    return fig


def wave_comparison(task, arrays: dict, rows: list[dict], ceiling: dict):
    """The graph-LSTM comparison on ``task``: training loss per seed (box-smoothed), held-out
    F1 bars, and one held-out sequence with every model's next-frame prediction.

    ``arrays``: ``comparison.figure_arrays`` (graph_lstm_figure.npz); ``rows``: the held-out
    scores per model and seed, ``comparison.result_rows`` (graph_lstm.csv, numbers or their
    text); ``ceiling``: the rule on the hidden state's scores.  Each model's legend entry says
    what its weights start from.
    """
    variants = comparison.variants(task)
    fig = plt.figure(figsize=(13, 7.5))
    grid = fig.add_gridspec(2, 3, height_ratios=[1, 1.1])
    ax_loss, ax_bar = fig.add_subplot(grid[0, :2]), fig.add_subplot(grid[0, 2])
    colours = ["tab:red", "tab:blue", "tab:green", "tab:olive"]
    for v, colour in zip(variants, colours):
        loss = arrays[f"{v.key}_loss"]                           # [seeds, steps]
        smooth = box_filter(loss, 50)
        steps = np.arange(loss.shape[1])[-smooth.shape[1]:] + 1
        for i, run in enumerate(smooth):
            ax_loss.plot(steps, run, color=colour, lw=1, alpha=0.8,
                         label=f"{v.label}; init {MODELS[v.model].initialiser}" if i == 0
                         else None)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("training step")
    ax_loss.set_ylabel("training cross-entropy (box-smoothed, 50)")
    ax_loss.set_title("one line per seed", fontsize=9)
    ax_loss.legend(fontsize=8)
    ax_loss.grid(alpha=0.3)
    x = np.arange(len(variants))
    for offset, metric, hatch in ((-0.2, "wave_f1", None), (0.2, "fire_f1", "//")):
        values = np.array([[float(r[metric]) for r in rows if r["model"] == v.label]
                           for v in variants])                  # [variants, seeds]
        bars = ax_bar.bar(x + offset, values.mean(1), 0.38, yerr=values.std(1), color=colours,
                          hatch=hatch, edgecolor="k", lw=0.5)
        label_zero_bars(ax_bar, bars)
    ax_bar.axhline(ceiling["wave_f1"], color="k", ls="--", lw=1)
    ax_bar.legend(handles=[
        matplotlib.patches.Patch(facecolor="0.8", edgecolor="k",
                                 label="wave F1 (fires, right colour)"),
        matplotlib.patches.Patch(facecolor="0.8", edgecolor="k", hatch="//",
                                 label="fire F1 (fires, any colour)"),
        matplotlib.lines.Line2D([], [], color="k", ls="--", lw=1, label="rule on hidden state")],
        fontsize=7, loc="upper right", ncol=1)
    ax_bar.set_xticks(x, [v.short for v in variants], fontsize=8)
    ax_bar.set_ylim(0, 1.35)            # headroom for the legend above the bars
    ax_bar.set_yticks(np.linspace(0, 1, 6))
    ax_bar.set_title("held-out test (bar: mean, whisker: +- 1 std over seeds)", fontsize=9)
    # One held-out sequence: nodes (rows, in ring order) over time, and the next frame.
    frames, target = arrays["frames"], arrays["target"]
    ax_seq = fig.add_subplot(grid[1, :])
    # Shades: 0 resting, 1 excited, 2 = +1 colour, 3 = -1 colour (sparks, next-frame classes).
    image = frames[..., 0] * np.select([frames[..., 1] > 0, frames[..., 1] < 0], [2, 3], 1)
    shade = lambda classes: np.where(classes == 0, 0, classes + 1)[:, None]
    gap = np.full((len(target), 1), np.nan)
    columns = [image.T, gap, shade(target)]
    for v in variants:
        columns += [gap, shade(arrays[f"{v.key}_prediction"])]
    ax_seq.imshow(np.concatenate(columns, 1), aspect="auto", interpolation="nearest",
                  cmap=matplotlib.colors.ListedColormap(
                      ["white", "0.35", "tab:orange", "tab:purple"]),
                  vmin=0, vmax=3)
    T = frames.shape[0]
    ax_seq.set_xticks([T // 2, T + 1] + [T + 3 + 2 * i for i in range(len(variants))],
                      [f"observed frames t = 1..{T} (grey: excited; coloured: a spark)",
                       "next\nframe"] + [v.short for v in variants], fontsize=7)
    ax_seq.set_ylabel("node")
    ax_seq.set_title("a held-out sequence; next frame: orange = +1 wave, purple = -1 wave "
                     "(in the observed frames only sparks show their colour)", fontsize=9)
    fig.suptitle(f"Coloured waves on a {task.num_nodes}-node small-world graph: predict which "
                 f"nodes fire next and with which wave's colour", fontsize=11)
    fig.tight_layout()
    return fig
