"""Speed of the project's compiled steps against PyTorch references, measured in one run.

    pip install -e ".[bench]"              # torch==2.13.0 (+ torch-geometric for the GCN row)
    python experiments/benchmark.py        # every row; --rows a,c picks some
    python experiments/benchmark.py --rows d --data_dir ../shared/datasets/planetoid
    taskset -c 1 python experiments/benchmark.py --threads 1 --clock cpu   # on a busy machine

Rows (rnn_gnn.benchmark.rows): (a) a palindrome training step, RNN and LSTM; (b) a char-LSTM
training step, 2 x 128 and 2 x 512; (c) sampling 1000 characters; (d) a GCN training epoch on
Cora (from --data_dir; skipped, with the reason, without the files); (e) the wall and compile
time of ``python experiments/palindrome.py`` and ``python experiments/generate.py --temperature
0.5``, each a fresh process; (f) the study sweep (``palindrome.py --full``) per run-step,
projected to the whole protocol.

Each row times the project (warm, jit-compiled, through each part's ``make_trainer``) and its
torch twin interleaved in this process: ``--warmup`` calls each, then ``--repeats`` rounds.
Tables show the median over the rounds with the range (min-max), the speed-up of each round
(torch time / project time: above 1, the project is faster) the same way, and each target as
"met in k of n" rounds; never the best round.  Compile time (``lower().compile()``) is
reported apart; ``peak MB`` is the resident memory a fresh process needs to hold and run the
row once warm.

Writes to --run_dir: benchmark.json (the command, the machine, the settings, every round's raw
numbers and their summaries, the run's wall_seconds) and benchmark.md (the tables).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rnn_gnn import cli, distributed, files
from rnn_gnn.benchmark import report, suite
from rnn_gnn.graph.download import PLANETOID_ENV

ROOT = Path(__file__).resolve().parents[1]   # the checkout whose experiments row (e) runs


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__)
    cli.add_config_flags(p, suite.Settings, skip=("memory",))
    p.add_argument("--no_memory", action="store_true", help="skip the peak-memory processes")
    p.add_argument("--data_dir", type=Path,
                   help=f"directory of the ind.cora.* files for row (d) (default: "
                        f"${PLANETOID_ENV}, else the download cache)")
    p.add_argument("--run_dir", type=cli.out_dir, default=Path("results/benchmark"),
                   help="output directory (made when the results are written)")
    args = p.parse_args(argv)
    settings = dataclasses.replace(cli.config_from_args(args, suite.Settings),
                                   memory=not args.no_memory)
    suite.chosen_rows(settings)   # a bad --rows or --threads fails before anything runs
    return args, settings


def main(argv=None):
    args, settings = parse_args(argv)
    distributed.use_cpu_cores()   # as palindrome.py: row (f) runs its programs one per core
    result = suite.run(settings, data_dir=args.data_dir, root=ROOT)
    record = files.run_record(argv)
    table = report.markdown(result, record["machine"])
    print(table)
    files.write_json(args.run_dir / "benchmark.json", {**record, **result})
    files.write_bytes(args.run_dir / "benchmark.md", table.encode())
    print(f"results in {args.run_dir}/")


if __name__ == "__main__":
    cli.run_main(main)
