"""Node classification with GCN or GAT (SPEC Part 3), each paper's settings by default.

    python experiments/gnn.py                                  # karate club, seconds, + picture
    python experiments/gnn.py --dataset Cora --model gcn       # Kipf & Welling's settings
    python experiments/gnn.py --dataset cora --model gat       # Velickovic et al.'s settings
    python experiments/gnn.py --dataset cora --hidden 64 --dropout 0.3 --epochs 300
    python experiments/gnn.py --dataset citeseer --data_dir DIR [--download]

Trains --seeds models at once (vmapped) and reports test accuracy as mean +- std over the
seeds.  Cora and Citeseer are read from --data_dir, else $RNN_GNN_PLANETOID, else the download
cache ($XDG_CACHE_HOME/rnn_gnn/planetoid); --download fetches missing files from the Planetoid
repository into that cache (or into --data_dir).  The karate club is built in.

Writes to --out, with NAME = {dataset}_{model}, plus _{setting}{value} for every setting that
differs from the paper's (so other settings never overwrite the paper-settings results):
  NAME.csv          per seed: selected epoch, stopped early, its val and test accuracy
  NAME_epochs.csv   per seed and epoch: loss, train/val/test accuracy (and val loss)
  NAME.json         command, settings, mean +- std, timings, the per-seed rows
  NAME_curves.png   loss and accuracy curves, mean +- std over seeds
  NAME_clubs.png    (karate only) the graph coloured by predicted club
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from rnn_gnn import cli, files
from rnn_gnn.graph import classify, data, figures  # noqa: E402
from rnn_gnn.plotting import plt  # noqa: E402


def name_in(names, what):
    """argparse ``type=``: one of ``names``, in any letter case."""
    def parse(text):
        if text.lower() not in names:
            raise argparse.ArgumentTypeError(f"unknown {what} {text!r}; choose from "
                                             f"{', '.join(names)}")
        return text.lower()
    return parse


def number(kind, low, high=None):
    """argparse ``type=``: a ``kind`` in ``[low, high)`` (no upper bound without ``high``)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}")
        if low <= value and (high is None or value < high):
            return value
        raise argparse.ArgumentTypeError(f"must be in [{low}, {high or 'inf'}), got {text}")
    return parse


def paper(field, models=tuple(classify.PAPER)):
    """The papers' value of ``field`` for --help, per model where they differ."""
    values = {m: getattr(classify.PAPER[m], field) for m in models}
    same = len(set(values.values())) == 1
    return "default: " + (f"{values[models[0]]}" if same else
                          ", ".join(f"{m} {v}" for m, v in values.items()))


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", type=name_in(data.DATASETS, "dataset"), default="karate",
                   metavar="{" + ",".join(data.DATASETS) + "}", help="default: karate (any case)")
    p.add_argument("--model", type=name_in(tuple(classify.PAPER), "model"), default="gcn",
                   metavar="{" + ",".join(classify.PAPER) + "}", help="default: gcn (any case)")
    p.add_argument("--seeds", type=cli.positive(int), default=10,
                   help="runs, seeds 0..N-1 (default: 10)")
    p.add_argument("--hidden", type=cli.positive(int),
                   help=f"hidden units per layer, per head for GAT ({paper('hidden')})")
    p.add_argument("--heads", type=cli.positive(int),
                   help=f"GAT hidden-layer attention heads ({paper('heads', ('gat',))}; gat only)")
    p.add_argument("--learning_rate", type=cli.positive(float),
                   help=f"Adam's learning rate ({paper('learning_rate')})")
    p.add_argument("--dropout", type=number(float, 0.0, 1.0),
                   help=f"drop probability, in [0, 1) ({paper('dropout')})")
    p.add_argument("--weight_decay", type=number(float, 0.0),
                   help=f"L2 on the weights each paper decays ({paper('weight_decay')})")
    p.add_argument("--epochs", type=cli.positive(int),
                   help=f"most epochs ({paper('epochs')}; karate 200)")
    p.add_argument("--data_dir", type=Path, help=f"directory holding the Planetoid "
                   f"ind.<name>.* files (default: ${data.PLANETOID_ENV}, else the cache)")
    p.add_argument("--download", action="store_true",
                   help=f"fetch missing Planetoid files from {data.PLANETOID_URL}")
    p.add_argument("--allow_modified", action="store_true",
                   help="load Cora/Citeseer files whose sha256 differs from the published ones")
    p.add_argument("--out", type=cli.out_dir, default=Path("results/gnn"),
                   help="output directory (default: results/gnn)")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    cli.check(args.heads is None or args.model == "gat", "--heads applies to --model gat only")
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = classify.config_for(args.model, args.dataset,
                              **{k: getattr(args, k) for k in classify.TUNABLE})
    try:
        node_data = data.load(args.dataset, args.data_dir, args.download,
                              allow_modified=args.allow_modified)
    except data.DataError as e:
        raise cli.UsageError(str(e))
    seeds = list(range(args.seeds))
    start, cpu_start = time.time(), time.process_time()
    _, history, result = classify.train_seeds(
        cfg, node_data, seeds,
        progress=False if args.no_progress else f"{args.dataset} {args.model}")
    wall, cpu = time.time() - start, time.process_time() - cpu_start
    test = 100 * result["test_accuracy"]
    stopped = int(np.sum(result["stopped_early"]))
    stem = args.out / classify.run_name(args.dataset, cfg)
    rows = classify.seed_rows(result)
    files.write_csv(f"{stem}.csv", rows)
    files.write_csv(f"{stem}_epochs.csv", classify.epoch_rows(history, seeds))
    files.write_json(f"{stem}.json", {
        "command": " ".join(["python", sys.argv[0]]
                            + (sys.argv[1:] if argv is None else list(argv))),
        "dataset": args.dataset, "model": args.model, "config": dataclasses.asdict(cfg),
        "test_accuracy_mean": float(test.mean()), "test_accuracy_std": float(test.std()),
        "num_nodes": int(node_data.labels.shape[0]), "train/val/test": [
            len(node_data.train), len(node_data.val), len(node_data.test)],
        "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
        "machine": f"{platform.machine()} {platform.processor()}, {os.cpu_count()} CPUs",
        "runs": rows})
    fig = figures.classification_curves(history, result, f"{args.dataset} {args.model.upper()}: "
                                        f"{test.mean():.1f} +- {test.std():.1f} % test accuracy")
    files.save_figure(fig, f"{stem}_curves.png")
    plt.close(fig)
    written = f"{stem}.csv, _epochs.csv, .json, _curves.png"
    if args.dataset == "karate":
        fig = figures.karate_clubs(node_data, np.asarray(result["prediction"][0]),
                                   float(result["test_accuracy"][0]), args.model)
        files.save_figure(fig, f"{stem}_clubs.png")
        plt.close(fig)
        written += ", _clubs.png"
    print(f"{args.dataset} {args.model}: test accuracy {test.mean():.2f} +- {test.std():.2f} % "
          f"over {args.seeds} seeds (max {cfg.epochs} epochs, selection {cfg.selection}, "
          f"early stop fired in {stopped}/{args.seeds}; {wall:.0f} s)")
    print(f"wrote {written}")
    return result


if __name__ == "__main__":
    cli.run_main(main)
