"""Questions 1.2, 1.3 and 1.6: vanilla RNN versus LSTM on palindromes of growing length.

    python experiments/palindrome.py                 # quick sweep (about 2 minutes on 2 CPU cores)
    python experiments/palindrome.py --input_dim 10  # the same with one-hot digits
    python experiments/palindrome.py --full --checkpoint_every 500 --out results/palindrome_full
                                                     # the study's protocol (Figure 1)
    python experiments/palindrome.py --full --lengths 5:41:2   # longer palindromes (a GPU)

Each length's seeds train side by side (vmap) in a program of their own, and the programs run
at once on every device (on a CPU, one per core).  Writes to --out: final.csv (accuracy per
model, length and seed on fresh palindromes; diverged runs are marked, not scored),
summary.json (config, per-length mean/std, wall and compile seconds, machine, command),
curves.npz (per-step loss/accuracy/grad_norm), training_curves.png (the report's Figure 1) and
accuracy_vs_length.png.
"""

from __future__ import annotations

import dataclasses
import io
import sys
import time
from pathlib import Path

import jax
import numpy as np

from rnn_gnn import checkpoint, cli, distributed, files, plotting
from rnn_gnn.cells import INITS, MODELS
from rnn_gnn.palindrome import Config, init_sweep, train_sweep
from rnn_gnn.optimizers import OPTIMIZERS
from rnn_gnn.train import diverged_at

# Presets fill every flag the user leaves out.  QUICK shows the study's contrast within three
# minutes on two CPU cores; FULL is the report's protocol.
QUICK = dict(lengths=[5, 10, 15, 20], seeds=2, num_hidden=64, train_steps=2000)
FULL = dict(lengths=list(range(5, 24, 2)), seeds=10, num_hidden=128, train_steps=10000)


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__)
    d = Config()
    p.add_argument("--model_type", default="both", choices=["rnn", "lstm", "both"],
                   help="which model(s) to train")
    p.add_argument("--input_length", type=cli.positive(int),
                   help="train one length only: T-1 input digits (the original flag)")
    p.add_argument("--lengths", type=cli.int_list,
                   help="palindrome lengths T, e.g. 5,10,15 or 5:23:2 (default: preset)")
    p.add_argument("--input_dim", type=int, default=d.input_dim,
                   help="1 = raw digits (original), 10 = one-hot")
    p.add_argument("--num_hidden", type=cli.positive(int), help="default: preset")
    p.add_argument("--batch_size", type=cli.positive(int), default=d.batch_size,
                   help="palindromes per training step")
    p.add_argument("--learning_rate", type=cli.positive(float), default=d.learning_rate,
                   help="the optimizer's step size")
    p.add_argument("--train_steps", type=cli.positive(int), help="default: preset")
    p.add_argument("--max_norm", type=float, default=d.max_norm, help="<= 0 disables clipping")
    p.add_argument("--optimizer", default=d.optimizer, choices=list(OPTIMIZERS),
                   help="an Optax optimizer by name (rnn_gnn.optimizers.OPTIMIZERS)")
    p.add_argument("--init", default=d.init, choices=list(INITS),
                   help="weight initialisation (rnn_gnn.cells): orthogonal = Glorot input, "
                        "orthogonal square weights; pytorch = torch.nn's uniform")
    p.add_argument("--forget_bias", type=float, default=d.forget_bias,
                   help="added to the LSTM's b_f at initialisation")
    p.add_argument("--backward", default=d.backward, choices=["autodiff", "manual"],
                   help="jax.grad through the scan, or the hand-derived BPTT")
    p.add_argument("--seeds", type=cli.positive(int), help="runs per length (default: preset)")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--out", type=Path, default=Path("results/palindrome"),
                   help="output directory (made when the results are written)")
    p.add_argument("--log_every", type=cli.positive(int), default=100,
                   help="steps per compiled call: progress, divergence check, checkpoints")
    p.add_argument("--smooth", type=cli.positive(int), default=10, help="box-filter width")
    p.add_argument("--checkpoint_every", type=int, default=0,
                   help="save a checkpoint every N steps (0: off; a multiple of --log_every)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in OUT/checkpoints")
    p.add_argument("--devices", type=cli.positive(int),
                   help="run the lengths' programs side by side on the first N devices "
                        "(default: all; on a CPU one device per core; the numbers do not "
                        "depend on N)")
    args = cli.parse_with_presets(p, argv, {"full": (FULL, "the study's protocol")})
    for key, value in QUICK.items():   # the default run
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.input_length is not None:
        args.lengths = [args.input_length + 1]
    cli.check(args.input_dim in (1, 10),
              f"--input_dim must be 1 (raw digits) or 10 (one-hot), got {args.input_dim}")
    cli.check(all(t >= 2 for t in args.lengths) and args.lengths,
              f"--lengths must be palindrome lengths >= 2 (at least one input digit), "
              f"got {args.lengths}")
    cli.check(len(set(args.lengths)) == len(args.lengths), "--lengths has duplicates")
    cli.check(args.checkpoint_every >= 0 and args.checkpoint_every % args.log_every == 0,
              f"--checkpoint_every must be 0 or a multiple of --log_every ({args.log_every})")
    cli.check(not args.out.exists() or args.out.is_dir(), f"--out {args.out} is not a directory")
    distributed.use_cpu_cores()
    try:
        args.device_list = distributed.local_devices(args.devices)
    except ValueError as e:
        raise cli.UsageError(f"--devices: {e}") from None
    return args


def config_for(args, model: str) -> Config:
    fields = {f.name for f in dataclasses.fields(Config)}
    return Config(**{k: v for k, v in vars(args).items() if k in fields - {"model_type"}},
                  model_type=model)


def run_model(args, model: str):
    """Train (or resume) one model's sweep; returns (history, final, seconds)."""
    cfg = config_for(args, model)
    seeds = list(range(args.seed, args.seed + args.seeds))
    meta = {"config": dataclasses.asdict(cfg), "lengths": args.lengths, "seeds": seeds}
    ckpt_dir = args.out / "checkpoints" / model
    state, previous = None, {}
    if args.checkpoint_every and checkpoint.list_checkpoints(ckpt_dir):
        cli.check(args.resume, f"{ckpt_dir} holds checkpoints of an earlier run: pass --resume "
                               f"to continue it, or choose another --out")
        template, _ = init_sweep(cfg, args.lengths, seeds)
        try:
            found = checkpoint.load_latest(ckpt_dir, target=jax.device_get(template))
        except checkpoint.CheckpointError as e:
            raise cli.UsageError(f"cannot resume: {e}")
        cli.check(found is not None, f"no intact checkpoint in {ckpt_dir}")
        state, saved, path = found
        cli.check(all(saved.get(k) == v for k, v in meta.items()),
                  f"cannot resume from {path}: it was made with other settings")
        previous = saved.get("history", {})
        print(f"{model}: resuming from {path.name} (step {saved['step']})", file=sys.stderr)

    callback = None
    if args.checkpoint_every:
        def with_history(state, history):  # the curves so far travel inside the checkpoint
            meta["history"] = _join(previous, history)
        callback = checkpoint.checkpointer(ckpt_dir, args.checkpoint_every, meta, then=with_history)

    start = time.perf_counter()
    state, history, final = train_sweep(cfg, args.lengths, seeds, state=state,
                                        log_every=args.log_every, callback=callback,
                                        progress=f"{model} x {len(args.lengths) * len(seeds)} runs",
                                        devices=args.device_list)
    seconds = time.perf_counter() - start
    shape = (len(args.lengths), len(seeds))
    history = _join({k: v.reshape(*shape, -1) for k, v in previous.items()},
                    {k: v for k, v in history.items() if k != "step"})
    return history, final, seconds


def _join(a: dict, b: dict) -> dict:
    """Concatenate two metric dicts along the step axis."""
    # Either side may be empty: a run resumed from its final checkpoint trains no steps.
    return {k: np.concatenate([np.asarray(d[k]) for d in (a, b) if k in d], -1)
            for k in {**a, **b}}


def main(argv=None):
    args = parse_args(argv)
    models = ["rnn", "lstm"] if args.model_type == "both" else [args.model_type]
    compile_seconds = files.compile_timer()
    wall = time.perf_counter()
    histories, finals, rows, summary = {}, {}, [], {}
    for model in models:
        history, final, seconds = run_model(args, model)
        histories[model], finals[model] = history, final
        diverged = diverged_at({**history, "step": np.arange(1, history["loss"].shape[-1] + 1)})
        acc = np.where(diverged > 0, np.nan, final["accuracy"])   # a diverged run has no score
        for i, t in enumerate(args.lengths):
            for j in range(args.seeds):
                ok = diverged[i, j] == 0
                rows.append({"model": model, "length": t, "seed": args.seed + j,
                             "accuracy": round(float(acc[i, j]), 4) if ok else "",
                             "loss": round(float(final["loss"][i, j]), 4) if ok else "",
                             "diverged_at": "" if ok else int(diverged[i, j])})
        summary[model] = {"seconds": round(seconds, 1), "per_length": {
            str(t): {"mean_accuracy": _nan_none(np.nanmean(acc[i])),
                     "std_accuracy": _nan_none(np.nanstd(acc[i])),
                     "diverged": int((diverged[i] > 0).sum())}
            for i, t in enumerate(args.lengths)}}
        finals[model] = {**final, "accuracy": acc}
        print(f"{model:5s} " + "  ".join(f"T={t}: {np.nanmean(acc[i]):.3f}"
                                         for i, t in enumerate(args.lengths))
              + f"   ({seconds:.0f} s)")
    wall = time.perf_counter() - wall

    # Everything is computed; only now touch the output directory, one atomic file at a time.
    out = args.out
    cfg = {k: v for k, v in dataclasses.asdict(config_for(args, models[0])).items()
           if k != "model_type"}
    files.write_csv(out / "final.csv", rows)
    files.write_json(out / "summary.json", {
        "config": cfg, "lengths": args.lengths, "seeds": args.seeds,
        "seed_list": list(range(args.seed, args.seed + args.seeds)), "results": summary,
        "wall_seconds": round(wall, 1), "compile_seconds": round(compile_seconds(), 1),
        "devices": len(args.device_list), "machine": files.machine(),
        "command": " ".join(["python"] + sys.argv)})
    buf = io.BytesIO()
    np.savez_compressed(buf, lengths=np.array(args.lengths), **{
        f"{m}_{k}": v for m, h in histories.items() for k, v in h.items()})
    files.write_bytes(out / "curves.npz", buf.getvalue())
    encoding = "raw digits" if args.input_dim == 1 else "one-hot digits"
    title = (f"{encoding}, {args.num_hidden} hidden, {args.optimizer} lr {args.learning_rate}, "
             f"batch {args.batch_size}, init {args.init} (forget bias {args.forget_bias}), "
             f"mean of {args.seeds} seeds")
    files.save_figure(plotting.training_curves(histories, args.lengths, args.smooth, title),
                    out / "training_curves.png")
    files.save_figure(plotting.accuracy_vs_length(finals, args.lengths, title),
                    out / "accuracy_vs_length.png")
    print(f"results in {out}/  ({wall:.0f} s wall, {compile_seconds():.0f} s compiling)")


def _nan_none(x) -> float | None:
    return None if np.isnan(x) else float(x)


if __name__ == "__main__":
    cli.run_main(main)
