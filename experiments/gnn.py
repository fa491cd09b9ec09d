"""Node classification with GCN or GAT (SPEC Part 3).

    python experiments/gnn.py                                  # karate club, seconds, + picture
    python experiments/gnn.py --dataset cora --model gcn       # Kipf & Welling's settings
    python experiments/gnn.py --dataset cora --model gat       # Velickovic et al.'s settings
    python experiments/gnn.py --dataset citeseer --data-dir DIR [--download]

Trains ``--seeds`` models at once (vmapped) with the paper's settings (rnn_gnn.graph.classify.
PAPER) and reports test accuracy as mean +- std over the seeds.  Writes
``{out}/{dataset}_{model}.{csv,json}`` and ``_curves.png``; on the karate club also
``karate_{model}_clubs.png``, the graph coloured by predicted club.
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
from rnn_gnn.graph import classify, data  # noqa: E402


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="karate", help=f"one of {', '.join(data.DATASETS)}")
    p.add_argument("--model", default="gcn", help="gcn or gat")
    p.add_argument("--seeds", type=cli.positive(int), default=10, help="runs (seeds 0..n-1)")
    p.add_argument("--epochs", type=cli.positive(int), help="override the paper's epoch count")
    p.add_argument("--data-dir", help="directory holding the Planetoid ind.<name>.* files "
                                      f"(default: ${data.PLANETOID_ENV}, ../shared, the cache)")
    p.add_argument("--download", action="store_true",
                   help=f"fetch missing Planetoid files from {data.PLANETOID_URL}")
    p.add_argument("--out", type=cli.out_dir, default="results/gnn", help="output directory")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    cli.check(args.dataset in data.DATASETS,
              f"unknown dataset {args.dataset!r}; choose from {', '.join(data.DATASETS)}")
    cli.check(args.model in classify.PAPER,
              f"unknown model {args.model!r}; choose from {', '.join(classify.PAPER)}")
    return args


def config(args) -> classify.Config:
    cfg = classify.PAPER[args.model]
    if args.dataset == "karate":
        # Validation and test are the same 32 members: select nothing, report the last epoch.
        cfg = dataclasses.replace(cfg, selection="last", epochs=min(cfg.epochs, 200))
    if args.epochs:
        cfg = dataclasses.replace(cfg, epochs=args.epochs)
    return cfg


def plot_curves(history, result, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = np.arange(1, history["loss"].shape[1] + 1)
    for ax, names in ((ax_loss, ("loss", "val_loss")),
                      (ax_acc, ("accuracy", "val_accuracy", "test_accuracy"))):
        for name in names:
            mean, std = history[name].mean(0), history[name].std(0)
            label = {"loss": "train loss (dropout)", "accuracy": "train acc (dropout)"}.get(
                name, name.replace("_", " "))
            ax.plot(epochs, mean, label=label, lw=1.2)
            ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    for e in result["epoch"]:
        ax_acc.axvline(e, color="k", alpha=0.15, lw=0.8)
    ax_loss.set_ylabel("cross-entropy")
    ax_acc.set_ylabel("accuracy (mean +- std over seeds)")
    ax_acc.set_ylim(0, 1.02)
    fig.suptitle(title + "  (grey lines: selected epochs)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_karate(node_data, prediction, accuracy, model):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx
    g = nx.karate_club_graph()
    pos = nx.spring_layout(g, seed=3)
    fig, ax = plt.subplots(figsize=(7, 5.6))
    nx.draw_networkx_edges(g, pos, ax=ax, alpha=0.3)
    colours = np.array(["tab:blue", "tab:orange"])
    labels, train = node_data.labels, set(node_data.train.tolist())
    for club, shape in ((0, "o"), (1, "s")):
        nodes = [v for v in g if labels[v] == club]
        nx.draw_networkx_nodes(
            g, pos, nodelist=nodes, node_shape=shape, ax=ax, node_size=320,
            node_color=colours[prediction[nodes]],
            edgecolors=["black" if v in train else ("red" if prediction[v] != labels[v]
                                                    else "white") for v in nodes],
            linewidths=[3.0 if v in train or prediction[v] != labels[v] else 1.0 for v in nodes])
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=7)
    handles = [plt.Line2D([], [], marker="o", ls="", color="tab:blue", label="predicted: Mr. Hi"),
               plt.Line2D([], [], marker="o", ls="", color="tab:orange",
                          label="predicted: Officer"),
               plt.Line2D([], [], marker="o", ls="", color="grey", label="true club: Mr. Hi"),
               plt.Line2D([], [], marker="s", ls="", color="grey", label="true club: Officer"),
               plt.Line2D([], [], marker="o", ls="", mfc="none", mec="black", mew=2.5,
                          label="labelled (train)"),
               plt.Line2D([], [], marker="o", ls="", mfc="none", mec="red", mew=2.5,
                          label="misclassified")]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(f"Zachary's karate club: {model.upper()} trained on {len(train)} labelled "
                 f"members; test accuracy {accuracy:.1%} (seed 0)", fontsize=10)
    ax.axis("off")
    return fig


def main(argv=None):
    args = parse_args(argv)
    cfg = config(args)
    try:
        node_data = data.load(args.dataset, args.data_dir, args.download)
    except data.DataError as e:
        raise cli.UsageError(str(e))
    start, cpu_start = time.time(), time.process_time()
    _, history, result = classify.train_seeds(
        cfg, node_data, range(args.seeds),
        progress=False if args.no_progress else f"{args.dataset} {args.model}")
    wall, cpu = time.time() - start, time.process_time() - cpu_start
    test = 100 * result["test_accuracy"]
    stopped = int(np.sum(result["stopped_early"]))
    summary = (f"{args.dataset} {args.model}: test accuracy "
               f"{test.mean():.2f} +- {test.std():.2f} % "
               f"over {args.seeds} seeds (max {cfg.epochs} epochs, selection {cfg.selection}, "
               f"early stop fired in {stopped}/{args.seeds}; {wall:.0f} s)")
    out = Path(args.out)
    stem = out / f"{args.dataset}_{args.model}"
    rows = [{"seed": int(s), "epoch": int(e), "stopped_early": bool(x), "val_accuracy": float(v),
             "test_accuracy": float(t)}
            for s, e, x, v, t in zip(result["seed"], result["epoch"], result["stopped_early"],
                                     result["val_accuracy"], result["test_accuracy"])]
    cli.write_csv(stem.with_suffix(".csv"), rows)
    cli.write_json(stem.with_suffix(".json"), {
        "command": " ".join(["python", sys.argv[0]]
                            + (sys.argv[1:] if argv is None else list(argv))),
        "dataset": args.dataset, "model": args.model, "config": dataclasses.asdict(cfg),
        "test_accuracy_mean": float(test.mean()), "test_accuracy_std": float(test.std()),
        "num_nodes": int(node_data.labels.shape[0]), "train/val/test": [
            len(node_data.train), len(node_data.val), len(node_data.test)],
        "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
        "machine": f"{platform.machine()} {platform.processor()}, {os.cpu_count()} CPUs",
        "runs": rows})
    import matplotlib.pyplot as plt
    fig = plot_curves(history, result, f"{args.dataset} {args.model.upper()}: "
                                       f"{test.mean():.1f} +- {test.std():.1f} % test accuracy")
    cli.save_figure(fig, Path(f"{stem}_curves.png"))
    plt.close(fig)
    if args.dataset == "karate":
        fig = plot_karate(node_data, np.asarray(result["prediction"][0]),
                          float(result["test_accuracy"][0]), args.model)
        cli.save_figure(fig, out / f"karate_{args.model}_clubs.png")
        plt.close(fig)
    print(summary)
    print(f"wrote {stem}.csv, .json, _curves.png" + (
        f", {out}/karate_{args.model}_clubs.png" if args.dataset == "karate" else ""))
    return result


if __name__ == "__main__":
    cli.run_main(main)
