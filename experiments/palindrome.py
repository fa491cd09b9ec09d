"""Questions 1.2, 1.3 and 1.6: vanilla RNN versus LSTM on palindromes of growing length.

    python experiments/palindrome.py                 # the default run (about 2 minutes, 2 cores)
    python experiments/palindrome.py --input_dim 10  # the same with one-hot digits
    python experiments/palindrome.py --full --checkpoint_every 500 --resume
                                                     # the study's protocol (Figure 1)
    python experiments/palindrome.py --full --lengths 5:41:2   # longer palindromes (a GPU)

Each length's seeds train side by side (vmap) in a program of their own, and the programs run
at once on every device (on a CPU, one per core); rnn_gnn.palindrome.runner holds the sweep.

Writes to --run_dir (default results/palindrome; with --full, results/palindrome_full):
  final.csv               accuracy per model, length and seed on fresh palindromes (a diverged
                          run is marked with its step, not scored)
  summary.json            command, machine, config, per-length mean/std, wall and compile seconds
  curves.npz              Figure 1's curves: loss, accuracy and grad_norm per model and length,
                          mean over seeds in blocks of --smooth steps
  training_curves.png     the report's Figure 1
  accuracy_vs_length.png  final accuracy against T
  checkpoints/<model>/    with --checkpoint_every: the newest states (and curves so far)
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from rnn_gnn import cli, distributed, files, palindrome
from rnn_gnn.palindrome import figures, runner
from rnn_gnn.palindrome.runner import Config, Sweep


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__)
    p.add_argument("--model_type", default="both", choices=["rnn", "lstm", "both"],
                   help="which model(s) to train")
    p.add_argument("--input_length", type=cli.positive(int),
                   help="train one length only: T-1 input digits (the original flag; replaces "
                        "--lengths)")
    p.add_argument("--smooth", type=cli.positive(int), default=10,
                   help="box-filter width of the training curves (steps)")
    cli.add_checkpoint_flags(p, "RUN_DIR/checkpoints")
    p.add_argument("--devices", type=cli.positive(int),
                   help="run the lengths' programs side by side on the first N devices "
                        "(default: all; on a CPU one device per core; the numbers do not "
                        "depend on N)")
    args = runner.parse_flags(p, argv, [Config, Sweep], palindrome.FULL,
                              "the study's protocol (Figure 1)", "palindrome", skip=("model_type",))
    if args.input_length is not None:
        args.lengths = (args.input_length + 1,)
    cli.check_checkpoint_every(args)
    args.models = ["rnn", "lstm"] if args.model_type == "both" else [args.model_type]
    args.model_type = None   # per model below; the config's other fields come from the flags
    distributed.use_cpu_cores()
    try:
        args.device_list = distributed.local_devices(args.devices)
    except ValueError as e:
        raise cli.UsageError(f"--devices: {e}") from None
    return args, cli.config_from_args(args, Config), cli.config_from_args(args, Sweep)


def main(argv=None):
    args, cfg, sweep = parse_args(argv)
    lengths, seeds = list(sweep.lengths), sweep.seed_list
    compile_seconds = files.compile_timer()
    wall = time.perf_counter()
    curves, finals, rows, results = {}, {}, [], {}
    for model in args.models:
        start = time.perf_counter()
        history, final = palindrome.train_resumable(
            dataclasses.replace(cfg, model_type=model), lengths, seeds,
            checkpoint_dir=args.run_dir / "checkpoints" / model,
            checkpoint_every=args.checkpoint_every, resume=args.resume,
            log_every=args.log_every, devices=args.device_list,
            progress=not args.no_progress and f"{model} x {len(lengths) * len(seeds)} runs")
        seconds = time.perf_counter() - start
        model_rows, per_length, acc = palindrome.tabulate(model, lengths, seeds, history, final)
        rows += model_rows
        results[model] = {"seconds": round(seconds, 1), "per_length": per_length}
        curves[model] = palindrome.figure_curves(history, args.smooth)
        finals[model] = {**final, "accuracy": acc}
        print(f"{model:5s} " + "  ".join(f"T={t}: {np.nanmean(acc[i]):.3f}"
                                         for i, t in enumerate(lengths))
              + f"   ({seconds:.0f} s)")
    wall = time.perf_counter() - wall

    # Everything is computed; only now touch the run directory, one atomic file at a time.
    out = args.run_dir
    files.write_csv(out / "final.csv", rows)
    files.write_json(out / "summary.json", {
        **files.run_record(argv),
        "config": {k: v for k, v in dataclasses.asdict(cfg).items() if k != "model_type"},
        "lengths": lengths, "seeds": sweep.seeds, "seed_list": seeds, "results": results,
        "wall_seconds": round(wall, 1), "compile_seconds": round(compile_seconds(), 1),
        "devices": len(args.device_list)})
    files.write_npz(out / "curves.npz", {"lengths": np.array(lengths), **{
        f"{m}_{k}": v for m, c in curves.items() for k, v in c.items()}})
    title = figures.sweep_title(cfg, sweep.seeds, args.models)
    files.save_figure(figures.training_curves(curves, lengths, title),
                      out / "training_curves.png")
    files.save_figure(figures.accuracy_vs_length(finals, lengths, title),
                      out / "accuracy_vs_length.png")
    print(f"results in {out}/  ({wall:.0f} s wall, {compile_seconds():.0f} s compiling)")


if __name__ == "__main__":
    cli.run_main(main)
