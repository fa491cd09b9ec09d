"""The docs from the data: every results table and figure of README.md and docs/*.md, rebuilt
from the result files committed under docs/results/ (rnn_gnn.report).

    python experiments/report.py           # rewrite the generated sections and figures
    python experiments/report.py --check   # change nothing; exit 1 naming what is stale

A generated section of a doc sits between <!-- report:NAME --> and <!-- /report:NAME --> lines;
rnn_gnn.report.tables.TABLES says which result directories it is made from, and
rnn_gnn.report.figures.FIGURES the same for the PNGs of docs/figures/, drawn by the plotting
functions the experiments use and compared by a fingerprint of what they show.  A figure of
FIGURES still drawn by hand whose run, or a file of it the figure needs, is not committed yet
is left as it is and listed as not yet drawn.  The prose around the markers is never touched.

Writes (without --check), only where they differ from what the data give:
  README.md, docs/*.md    the generated sections
  docs/figures/*.png      the figures drawn from committed data

Exit 1 (with --check: a stale section or figure; always: a figure no doc shows, or an image a
doc shows that does not exist), exit 2 with one line when a result file is missing or
unreadable.  No network and nothing outside the repository is needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rnn_gnn import cli
from rnn_gnn.report import render

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    p = cli.ArgumentParser(description=__doc__)
    p.add_argument("--check", action="store_true",
                   help="change nothing; exit 1 naming every generated section or figure that "
                        "differs from what docs/results/ gives")
    p.add_argument("--root", type=Path, default=ROOT,
                   help="the repository to work on (default: this script's checkout)")
    args = p.parse_args(argv)
    outcome = render.update(args.root.resolve(), check=args.check)

    if args.check:
        for line in outcome.stale + outcome.problems:
            print(f"report.py: {line}", file=sys.stderr)
        if outcome.stale:
            print("report.py: run `python experiments/report.py` to rebuild from the data",
                  file=sys.stderr)
        print(f"checked {len(render.TABLES)} tables and {len(render.FIGURES)} figures; not yet "
              f"drawn from committed data: {', '.join(outcome.undrawn) or 'none'}")
    else:
        for line in outcome.stale:
            print(f"rebuilt {line}")
        for line in outcome.problems:
            print(f"report.py: {line}", file=sys.stderr)
    if outcome.problems or (args.check and outcome.stale):
        sys.exit(1)


if __name__ == "__main__":
    cli.run_main(main)
