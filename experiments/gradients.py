"""Vanishing gradients and gradient clipping, measured (Part 1: question 1.1 and max_norm).

    python experiments/gradients.py          # the default run (about 2.5 minutes, 2 cores)
    python experiments/gradients.py --full   # the study's model size and training length
    python experiments/gradients.py --models lstm --input_dims 10 --lengths 5,20

For the vanilla RNN and the LSTM, each input encoding and several palindrome lengths T:
||dl/dh(t)|| against t (and ||dl/dc(t)|| for the LSTM) and the norm of each step's term of
dL/dW_hh, at initialisation and after training (rnn_gnn.palindrome.gradients, on a batch never
trained on).  The training runs clip the gradient at --max_norm (the study's 10); for the first
input encoding they are repeated without clipping.  Every step's global gradient norm is
recorded before clipping, which gives the fraction of clipped steps.

Writes to --run_dir (default results/gradients; with --full, results/gradients_full):
  flow.csv             ||dl/dh(t)||, ||dl/dc(t)||, ||dL/dW_hh term(t)|| per model, encoding,
                       length, stage (init, trained) and step t
  clipping.csv         per run, clipped and unclipped: share of clipped steps, gradient-norm
                       quantiles, final accuracy, the step it diverged at
  summary.json         command, machine, settings, decay per step, clipping rows
  grad_norm_hist.json  per clipped and unclipped run: a histogram of log10 of its gradient
                       norms (what grad_norm_hist.png draws)
  gradient_flow.png    ||dl/dh(t)|| (and the LSTM's ||dl/dc(t)||) against t
  gradient_terms.png   each step's term of dL/dW_hh against t
  grad_norm_hist.png   the gradient norms of the clipped and the unclipped runs
"""

from __future__ import annotations

from rnn_gnn import cli, files
from rnn_gnn.palindrome import figures, gradients, runner


def parse_args(argv):
    return runner.parse_study(argv, __doc__, gradients.Study, gradients.FULL, "the study's sizes",
                              "gradients")


def main(argv=None):
    done = runner.run_study(parse_args, argv, gradients.run)
    study, results = done.study, done.results
    flow_rows, clip_rows, summary = gradients.summarise(study, results)
    print("\n".join(gradients.report(study, summary, clip_rows)))

    # Everything is computed; only now write, one atomic file at a time.
    out = done.args.run_dir
    files.write_csv(out / "flow.csv", flow_rows)
    files.write_csv(out / "clipping.csv", clip_rows)
    files.write_json(out / "summary.json",
                     runner.study_record(argv, done, results=summary, clipping=clip_rows))
    files.save_figure(figures.gradient_flow(study, results, "dh", "mean ||dl/dh(t)||"),
                      out / "gradient_flow.png")
    files.save_figure(figures.gradient_flow(study, results, "dW",
                                            "||step t's term of dL/dW_hh||"),
                      out / "gradient_terms.png")
    histograms = gradients.norm_histograms(study, results)
    if histograms["histograms"]:
        files.write_json(out / "grad_norm_hist.json", histograms)
        files.save_figure(figures.clipping(study, histograms), out / "grad_norm_hist.png")
    print(f"results in {out}/ ({done.seconds:.0f} s)")


if __name__ == "__main__":
    cli.run_main(main)
