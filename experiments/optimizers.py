"""Question 1.4: plain SGD against momentum and adaptive learning rates, measured.

    python experiments/optimizers.py          # the default run (about 2 minutes, 2 cores)
    python experiments/optimizers.py --full   # finer grid, more seeds, the study's model size
    python experiments/optimizers.py --optimizers sgd,adam --grid 2

The LSTM learns palindromes of one length with every optimizer of rnn_gnn.optimizers.OPTIMIZERS
(Optax, by name, clipped at --max_norm as in the study); each optimizer's learning rate is
picked from a grid by accuracy on a validation batch, and the final accuracy is measured on a
separate test batch (rnn_gnn.palindrome.optimizer_study).  A run that diverges is frozen and
reported as diverged (its step, an x on the grid figure).

Writes to --run_dir (default results/optimizers; with --full, results/optimizers_full):
  table.csv     per optimizer at its chosen rate: steps to 0.99 accuracy, final test accuracy,
                wall time
  grid.csv      every rate and seed: validation and test accuracy, steps to 0.99, divergence
  summary.json  command, machine, settings, learning rates, the table
  curves.npz    each optimizer's training loss and accuracy per seed and step at its chosen
                rate (what curves.png draws)
  curves.png    loss and accuracy at each optimizer's chosen rate
  lr_grid.png   validation accuracy against learning rate
"""

from __future__ import annotations

from rnn_gnn import cli, files
from rnn_gnn.palindrome import figures, optimizer_study, runner


def parse_args(argv):
    return runner.parse_study(argv, __doc__, optimizer_study.Study, optimizer_study.FULL,
                              "the thorough grid", "optimizers")


def main(argv=None):
    done = runner.run_study(parse_args, argv, optimizer_study.run)
    study, results = done.study, done.results
    grid_rows, table_rows = optimizer_study.tables(study, results)
    print("\n".join(optimizer_study.report(table_rows)))

    out = done.args.run_dir
    files.write_csv(out / "table.csv", table_rows)
    files.write_csv(out / "grid.csv", grid_rows)
    files.write_json(out / "summary.json", runner.study_record(
        argv, done, learning_rates={n: r["lrs"] for n, r in results.items()}, table=table_rows))
    curves = optimizer_study.chosen_curves(results)
    files.write_npz(out / "curves.npz", curves)
    files.save_figure(figures.optimizer_curves(study, curves), out / "curves.png")
    files.save_figure(figures.learning_rate_grid(study, results), out / "lr_grid.png")
    print(f"results in {out}/ ({done.seconds:.0f} s)")


if __name__ == "__main__":
    cli.run_main(main)
