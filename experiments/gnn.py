"""Node classification with GCN or GAT (SPEC Part 3), each paper's settings by default.

    python experiments/gnn.py                                  # karate club, seconds, + picture
    python experiments/gnn.py --dataset Cora --model gcn       # Kipf & Welling's settings
    python experiments/gnn.py --dataset cora --model gat       # Velickovic et al.'s settings
    python experiments/gnn.py --dataset cora --hidden 64 --dropout 0.3 --epochs 300
    python experiments/gnn.py --dataset citeseer --data_dir DIR [--download]

Trains --seeds models at once (vmapped) and reports test accuracy as mean +- std over the
seeds.  Dataset and model names are not case-sensitive.  Cora and Citeseer are read from
--data_dir, else $RNN_GNN_PLANETOID, else the download cache ($XDG_CACHE_HOME/rnn_gnn/planetoid,
default ~/.cache/rnn_gnn/planetoid); --download fetches the missing ind.<name>.* files from the
Planetoid repository into that cache (or into --data_dir), each checked against its published
sha256.  The karate club is built in.

Writes to --run_dir, with NAME = {dataset}_{model}, plus _{setting}{value} for every setting
that differs from the paper's (so other settings never overwrite the paper-settings results):
  NAME.csv          per seed: selected epoch, stopped early, its val and test accuracy
  NAME_epochs.csv   per seed and epoch: loss, train/val/test accuracy (and val loss)
  NAME.json         command, machine, settings, mean +- std, timings, the per-seed rows
  NAME_curves.png   loss and accuracy curves, mean +- std over seeds
  NAME_nodes.csv    (karate only) per member: true club, labelled, seed 0's predicted club,
                    its place in the drawing (what NAME_clubs.png draws)
  NAME_clubs.png    (karate only) the graph coloured by predicted club
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from rnn_gnn import cli, files  # noqa: E402
from rnn_gnn.graph import classify, data, download, figures  # noqa: E402
from rnn_gnn.plotting import plt  # noqa: E402

# The Config fields that are not flags: each paper fixes them (``classify.PAPER``).
FIXED = tuple(f.name for f in dataclasses.fields(classify.Config)
              if f.name not in classify.TUNABLE + ("model",))


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", type=str.lower, choices=data.DATASETS, default="karate",
                   help="the graph (any case)")
    # The flags' defaults are GCN's (the dataclass's); --help also shows GAT's where they differ.
    gat = {k: v for k, v in dataclasses.asdict(classify.PAPER["gat"]).items() if k != "model"}
    cli.add_config_flags(p, classify.Config, skip=FIXED, presets={"model gat": (gat, "")})
    p.add_argument("--seeds", type=cli.positive(int), default=10, help="runs, seeds 0..N-1")
    p.add_argument("--data_dir", type=Path, help=f"directory holding the Planetoid "
                   f"ind.<name>.* files (default: ${download.PLANETOID_ENV}, else the cache)")
    p.add_argument("--download", action="store_true",
                   help=f"fetch missing Planetoid files from {download.PLANETOID_URL} into "
                        f"--data_dir, else the cache")
    p.add_argument("--allow_modified", action="store_true",
                   help="load Cora/Citeseer files whose sha256 differs from the published ones")
    cli.add_output_flags(p, "results/gnn")
    args = p.parse_args(argv)
    args.model = args.model or classify.Config.model
    cli.check(args.heads is None or args.model == "gat", "--heads applies to --model gat only")
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = classify.config_for(args.model, args.dataset,
                              **{k: getattr(args, k) for k in classify.TUNABLE})
    node_data = data.load(args.dataset, args.data_dir, args.download,
                          allow_modified=args.allow_modified)
    seeds = list(range(args.seeds))
    start, cpu_start = time.time(), time.process_time()
    _, history, result = classify.train_seeds(
        cfg, node_data, seeds,
        progress=False if args.no_progress else f"{args.dataset} {args.model}")
    wall, cpu = time.time() - start, time.process_time() - cpu_start
    test = 100 * result["test_accuracy"]
    stopped = int(np.sum(result["stopped_early"]))
    stem = args.run_dir / classify.run_name(args.dataset, cfg)
    rows = classify.seed_rows(result)
    files.write_csv(f"{stem}.csv", rows)
    files.write_csv(f"{stem}_epochs.csv", classify.epoch_rows(history, seeds))
    files.write_json(f"{stem}.json", {
        **files.run_record(argv),
        "dataset": args.dataset, "model": args.model, "config": dataclasses.asdict(cfg),
        "test_accuracy_mean": float(test.mean()), "test_accuracy_std": float(test.std()),
        "num_nodes": int(node_data.labels.shape[0]), "train/val/test": [
            len(node_data.train), len(node_data.val), len(node_data.test)],
        "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "runs": rows})
    fig = figures.classification_curves(history, result, f"{args.dataset} "
                                        f"{classify.describe(cfg)}: {test.mean():.1f} +- "
                                        f"{test.std():.1f} % test accuracy")
    files.save_figure(fig, f"{stem}_curves.png")
    plt.close(fig)
    written = f"{stem}.csv, _epochs.csv, .json, _curves.png"
    if args.dataset == "karate":
        nodes = figures.karate_rows(node_data, np.asarray(result["prediction"][0]))
        files.write_csv(f"{stem}_nodes.csv", nodes)
        fig = figures.karate_clubs(nodes, rows[0]["test_accuracy"], classify.describe(cfg))
        files.save_figure(fig, f"{stem}_clubs.png")
        plt.close(fig)
        written += ", _nodes.csv, _clubs.png"
    print(f"{args.dataset} {args.model}: test accuracy {test.mean():.2f} +- {test.std():.2f} % "
          f"over {args.seeds} seeds (max {cfg.epochs} epochs, selection {cfg.selection}, "
          f"early stop fired in {stopped}/{args.seeds}; {wall:.0f} s)")
    print(f"wrote {written}")
    return result


if __name__ == "__main__":
    cli.run_main(main)
