"""Question 3.3b: a graph-convolutional LSTM against an LSTM per node and a GCN, on coloured
waves travelling through a graph (rnn_gnn.graph.graph_lstm explains the task and models).

    python experiments/graph_lstm.py                 # 3 seeds per model, table + figure
    python experiments/graph_lstm.py --seeds 1 --steps 300   # a quick look

Trains every model for ``--steps`` steps on fresh random waves (seeds vmapped), scores all of
them on the same 512 held-out sequences, and writes ``{out}/graph_lstm.{csv,json,png}``.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from rnn_gnn import cli  # noqa: E402
from rnn_gnn.graph import graph_lstm as gl  # noqa: E402

# (label, model, gcn window): each baseline lacks one ingredient; the windowed GCN is the
# control that gets time as hand-made features (the last R + 1 frames, all a node's own
# state depends on).
TASK = gl.Task()
VARIANTS = [("graph LSTM", "graph_lstm", 1),
            ("LSTM per node (no graph)", "node_lstm", 1),
            ("GCN, latest frame (no time)", "gcn", 1),
            (f"GCN, last {TASK.refractory + 1} frames", "gcn", TASK.refractory + 1)]
SHORT = ["graph\nLSTM", "LSTM\nper node", "GCN\nlatest", "GCN\nwindow"]


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=cli.positive(int), default=3, help="runs per model")
    p.add_argument("--steps", type=cli.positive(int), default=gl.Config.train_steps)
    p.add_argument("--out", type=cli.out_dir, default="results/gnn", help="output directory")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def smooth(x, width=50):
    width = min(width, len(x))
    return np.convolve(x, np.ones(width) / width, mode="valid")


def plot(results, histories, ceiling, example):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(13, 7.5))
    grid = fig.add_gridspec(2, 3, height_ratios=[1, 1.1])
    ax_loss, ax_bar = fig.add_subplot(grid[0, :2]), fig.add_subplot(grid[0, 2])
    colours = ["tab:red", "tab:blue", "tab:green", "tab:olive"]
    for (label, *_), colour in zip(VARIANTS, colours):
        loss = histories[label]["loss"]                         # [seeds, steps]
        steps = np.arange(loss.shape[1])[-len(smooth(loss[0])):] + 1
        for i, run in enumerate(loss):
            ax_loss.plot(steps, smooth(run), color=colour, lw=1, alpha=0.8,
                         label=label if i == 0 else None)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("training step")
    ax_loss.set_ylabel("training cross-entropy (box-smoothed, 50)")
    ax_loss.legend(fontsize=8)
    ax_loss.grid(alpha=0.3)
    x = np.arange(len(VARIANTS))
    for offset, metric, hatch in ((-0.2, "wave_f1", None), (0.2, "fire_f1", "//")):
        values = np.array([results[label][metric] for label, *_ in VARIANTS])
        ax_bar.bar(x + offset, values.mean(1), 0.38, yerr=values.std(1), color=colours,
                   hatch=hatch, edgecolor="k", lw=0.5)
    ax_bar.axhline(ceiling["wave_f1"], color="k", ls="--", lw=1)
    ax_bar.legend(handles=[
        matplotlib.patches.Patch(facecolor="0.8", edgecolor="k",
                                 label="wave F1 (fires, right colour)"),
        matplotlib.patches.Patch(facecolor="0.8", edgecolor="k", hatch="//",
                                 label="fire F1 (fires, any colour)"),
        matplotlib.lines.Line2D([], [], color="k", ls="--", lw=1, label="rule on hidden state")],
        fontsize=7, loc="upper right", ncol=1)
    ax_bar.set_xticks(x, SHORT, fontsize=8)
    ax_bar.set_ylim(0, 1.35)            # headroom for the legend above the bars
    ax_bar.set_yticks(np.linspace(0, 1, 6))
    ax_bar.set_title("held-out test (mean +- std over seeds)", fontsize=9)
    # One held-out sequence: nodes (rows, in ring order) over time, and the next frame.
    frames, target, predictions = example
    ax_seq = fig.add_subplot(grid[1, :])
    # Shades: 0 resting, 1 excited, 2 = +1 colour, 3 = -1 colour (sparks, next-frame classes).
    image = frames[..., 0] * np.select([frames[..., 1] > 0, frames[..., 1] < 0], [2, 3], 1)
    shade = lambda classes: np.where(classes == 0, 0, classes + 1)[:, None]
    gap = np.full((len(target), 1), np.nan)
    columns = [image.T, gap, shade(target)]
    for label, *_ in VARIANTS:
        columns += [gap, shade(predictions[label])]
    ax_seq.imshow(np.concatenate(columns, 1), aspect="auto", interpolation="nearest",
                  cmap=matplotlib.colors.ListedColormap(
                      ["white", "0.35", "tab:orange", "tab:purple"]),
                  vmin=0, vmax=3)
    T = frames.shape[0]
    ax_seq.set_xticks([T // 2, T + 1] + [T + 3 + 2 * i for i in range(len(VARIANTS))],
                      [f"observed frames t = 1..{T} (grey: excited; coloured: a spark)",
                       "next\nframe"] + SHORT, fontsize=7)
    ax_seq.set_ylabel("node")
    ax_seq.set_title("a held-out sequence; next frame: orange = +1 wave, purple = -1 wave "
                     "(in the observed frames only sparks show their colour)", fontsize=9)
    fig.suptitle(f"Coloured waves on a {TASK.num_nodes}-node small-world graph: predict which "
                 f"nodes fire next and with which wave's colour", fontsize=11)
    fig.tight_layout()
    return fig


def main(argv=None):
    args = parse_args(argv)
    cfg = dataclasses.replace(gl.Config(), train_steps=args.steps)
    graph = gl.make_graph(TASK)
    seeds = list(range(args.seeds))
    start, cpu_start = time.time(), time.process_time()
    results, histories, states = {}, {}, {}
    for label, name, window in VARIANTS:
        state, history, test = gl.train_model(
            name, TASK, dataclasses.replace(cfg, gcn_window=window), seeds,
            progress=False if args.no_progress else label)
        results[label], histories[label], states[label] = test, history, state
        print(f"{label:32s} wave F1 {test['wave_f1'].mean():.3f} +- {test['wave_f1'].std():.3f}  "
              f"fire F1 {test['fire_f1'].mean():.3f}  accuracy {test['accuracy'].mean():.4f}",
              flush=True)
    wall, cpu = time.time() - start, time.process_time() - cpu_start
    ceiling = gl.rule_ceiling(TASK, graph, gl.TEST_KEY, cfg.eval_batch)
    example = gl.example_predictions(TASK, cfg, graph, {
        label: (name, states[label]) for label, name, _ in VARIANTS})
    rows = [{"model": label, "seed": seed, **{m: float(results[label][m][i]) for m in
                                              ("wave_f1", "fire_f1", "accuracy", "loss")}}
            for label, *_ in VARIANTS for i, seed in enumerate(seeds)]
    summary = {label: {m: [float(results[label][m].mean()), float(results[label][m].std())]
                       for m in ("wave_f1", "fire_f1", "accuracy", "loss")}
               for label, *_ in VARIANTS}
    out = Path(args.out)
    cli.write_csv(out / "graph_lstm.csv", rows)
    cli.write_json(out / "graph_lstm.json", {
        "command": " ".join(["python", sys.argv[0]]
                            + (sys.argv[1:] if argv is None else list(argv))),
        "task": dataclasses.asdict(TASK), "config": dataclasses.asdict(cfg), "seeds": seeds,
        "summary (mean, std over seeds)": summary,
        "rule_on_hidden_state": {m: float(ceiling[m]) for m in ("wave_f1", "fire_f1", "accuracy")},
        "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
        "machine": f"{platform.machine()} {platform.processor()}, {os.cpu_count()} CPUs",
        "runs": rows})
    import matplotlib.pyplot as plt
    fig = plot(results, histories, ceiling, example)
    cli.save_figure(fig, out / "graph_lstm.png")
    plt.close(fig)
    print(f"rule on the hidden state (ceiling): wave F1 {ceiling['wave_f1']:.3f}; "
          f"{wall:.0f} s; wrote {out}/graph_lstm.csv, .json, .png")
    return results


if __name__ == "__main__":
    cli.run_main(main)
