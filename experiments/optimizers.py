"""Question 1.4: plain SGD against momentum and adaptive learning rates, measured.

    python experiments/optimizers.py          # quick preset (about 2 minutes of CPU, 2 cores)
    python experiments/optimizers.py --full   # finer grid, more seeds, the study's model size

The LSTM learns palindromes of one length with every optimizer of rnn_gnn.optimizers.OPTIMIZERS
(Optax, by name, clipped at --max_norm as in the study).  For a given seed every run starts
from the same parameters and sees the same batches.  Each optimizer's learning rate is picked
from a grid (steps of about half a decade around its usual range) by accuracy on a validation
batch; the final accuracy is then measured on a separate test batch.  All (learning rate, seed)
runs of one optimizer train side by side in one compiled program: optax.inject_hyperparams
keeps the learning rate in the optimizer state, so vmap treats it as data.

Writes to --out: table.csv (per optimizer at its chosen rate: steps to 0.99 accuracy, final
test accuracy, wall time), grid.csv (every rate and seed), summary.json, curves.png, lr_grid.png.
A run that diverges is frozen and reported as diverged (its step, an x on the grid figure), and
the rate is chosen among the rates whose every seed stayed finite.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnn_gnn import analysis, cli, files, plotting
from rnn_gnn.palindrome import Config, evaluate, init_sweep, make_loss, model_apply
from rnn_gnn.optimizers import OPTIMIZERS, make_optimizer
from rnn_gnn.train import NonFiniteLoss, diverged_at, train

# The middle of each optimizer's grid of learning rates; the grid steps along 1, 3, 10, 30, ...
CENTRES = {"sgd": 0.3, "momentum": 0.1, "nesterov": 0.1, "rmsprop": 3e-3, "adam": 3e-3,
           "adamw": 3e-3, "adagrad": 0.1}
QUICK = dict(length=11, grid=1, seeds=2, num_hidden=64, batch_size=64, train_steps=600)
FULL = dict(length=15, grid=2, seeds=5, num_hidden=128, batch_size=128, train_steps=3000)
TARGET = 0.99


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__)
    d = Config()
    p.add_argument("--optimizers", default=",".join(OPTIMIZERS),
                   help="comma-separated names from rnn_gnn.optimizers.OPTIMIZERS")
    p.add_argument("--length", type=cli.positive(int), help="palindrome length T (default: preset)")
    p.add_argument("--input_dim", type=int, default=d.input_dim,
                   help="1 = raw digits (original), 10 = one-hot")
    p.add_argument("--grid", type=int,
                   help="learning rates per optimizer: 2*GRID+1 steps of the ladder 1, 3, 10, ... "
                        "around its centre (default: preset)")
    p.add_argument("--seeds", type=cli.positive(int),
                   help="runs per learning rate (default: preset)")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--num_hidden", type=cli.positive(int), help="default: preset")
    p.add_argument("--batch_size", type=cli.positive(int), help="default: preset")
    p.add_argument("--train_steps", type=cli.positive(int), help="default: preset")
    p.add_argument("--max_norm", type=float, default=d.max_norm, help="<= 0 disables clipping")
    p.add_argument("--eval_batch", type=cli.positive(int), default=d.eval_batch,
                   help="palindromes in the validation and in the test batch")
    p.add_argument("--smooth", type=cli.positive(int), default=20,
                   help="box-filter width (steps) for the curves and the steps-to-0.99 count")
    p.add_argument("--log_every", type=cli.positive(int), default=100)
    p.add_argument("--out", type=Path, default=Path("results/optimizers"))
    args = cli.parse_with_presets(p, argv, {"full": (FULL, "the thorough grid")})
    for key, value in QUICK.items():   # the default run
        if getattr(args, key) is None:
            setattr(args, key, value)
    names = [n.strip() for n in args.optimizers.split(",") if n.strip()]
    unknown = [n for n in names if n not in OPTIMIZERS]
    cli.check(bool(names) and not unknown and len(set(names)) == len(names),
              f"--optimizers must list distinct names from {', '.join(OPTIMIZERS)}, "
              f"got {args.optimizers!r}")
    args.optimizers = names
    cli.check(args.length >= 2, f"--length must be a palindrome length >= 2, got {args.length}")
    cli.check(args.input_dim in (1, 10),
              f"--input_dim must be 1 (raw digits) or 10 (one-hot), got {args.input_dim}")
    cli.check(0 <= args.grid <= 4, f"--grid must be between 0 and 4, got {args.grid}")
    cli.check(not args.out.exists() or args.out.is_dir(), f"--out {args.out} is not a directory")
    return args


def learning_rates(name: str, grid: int) -> list[float]:
    """``2 * grid + 1`` rates around the optimizer's centre on the ladder 1, 3, 10, 30, ..."""
    ladder = [m * 10.0 ** e for e in range(-6, 3) for m in (1, 3)]
    i = int(np.argmin([abs(np.log(r / CENTRES[name])) for r in ladder]))
    return [float(f"{r:.3g}") for r in ladder[i - grid:i + grid + 1]]


def tunable_optimizer(name: str, max_norm: float):
    """``make_optimizer(name, lr, max_norm)`` with ``lr`` held in the optimizer state."""
    return optax.inject_hyperparams(make_optimizer, static_args=("name", "max_norm",
                                                                 "weight_decay"))(
        name=name, learning_rate=0.0, max_norm=max_norm)


def train_grid(args, cfg: Config, name: str):
    """Train every (learning rate, seed) run of one optimizer side by side."""
    lrs, T = learning_rates(name, args.grid), args.length
    seeds = list(range(args.seed, args.seed + args.seeds))
    runs = len(lrs) * len(seeds)
    # init_sweep with the length repeated once per rate: run_key(seed, T) makes every rate (and
    # every optimizer) start from the same parameters and batches for a given seed.
    template, _ = init_sweep(cfg, [T] * len(lrs), seeds)
    optimizer = tunable_optimizer(name, args.max_norm)
    opt_state = jax.vmap(optimizer.init)(template.params)
    lr = jnp.repeat(jnp.array(lrs, jnp.float32), len(seeds))
    state = template._replace(opt_state=opt_state._replace(hyperparams={"learning_rate": lr}))
    loss_fn = make_loss(model_apply(cfg), cfg.batch_size, cfg.input_dim, T)

    ticks = []
    start = time.perf_counter()
    try:
        state, history = train(loss_fn, optimizer, state, cfg.train_steps,
                               task=jnp.full((runs,), T, jnp.int32), log_every=args.log_every,
                               vmapped=True, progress=f"{name} x {runs} runs",
                               callback=lambda *_: ticks.append(time.perf_counter()))
    except NonFiniteLoss as e:   # every rate and seed diverged
        return {"lrs": lrs, "diverged_at": e.step}
    seconds = time.perf_counter() - start
    # Steady-state cost per step of the whole grid, without the first chunk (it compiles).
    ms_per_step = (1000 * (ticks[-1] - ticks[0]) / (cfg.train_steps - args.log_every)
                   if len(ticks) > 1 else float("nan"))
    shape = (len(lrs), len(seeds))
    # A run that diverged is frozen at its last finite state and scored as diverged, never as a
    # number, so the other rates of the grid still count.
    diverged = diverged_at(history).reshape(shape)
    history = {k: v.reshape(*shape, -1) for k, v in history.items() if k != "step"}
    steps_to = np.where(diverged > 0, np.nan,
                        analysis.steps_to(history["accuracy"], TARGET, args.smooth))
    return {"lrs": lrs, "params": state.params, "history": history, "seconds": seconds,
            "ms_per_step": ms_per_step, "diverged_at": None, "diverged": diverged,
            "steps_to": steps_to}


def assess(args, cfg: Config, results):
    """Validation and test accuracy of every trained run (all optimizers in one program), and
    each optimizer's chosen rate: the best mean validation accuracy, ties to the lower loss."""
    done = [r for r in results.values() if r["diverged_at"] is None]
    if not done:
        return
    T, n_lr = args.length, len(done[0]["lrs"])
    seeds = list(range(args.seed, args.seed + args.seeds))
    params = jax.tree_util.tree_map(lambda *p: jnp.concatenate(p), *[r["params"] for r in done])
    runs = len(done) * n_lr * len(seeds)
    validate = make_loss(model_apply(cfg), args.eval_batch, cfg.input_dim, T)
    val_key = jax.random.fold_in(jax.random.PRNGKey(args.seed), 2 * 10**6)  # one shared batch
    val_loss, val_metrics = jax.jit(jax.vmap(validate, in_axes=(0, None, 0)))(
        params, val_key, jnp.full((runs,), T, jnp.int32))
    test = evaluate(cfg, params, [T] * (len(done) * n_lr), seeds)   # fresh batch per seed
    shape = (len(done), n_lr, len(seeds))
    val_acc = np.asarray(val_metrics["accuracy"]).reshape(shape)
    val_loss = np.asarray(val_loss).reshape(shape)
    for k, r in enumerate(done):
        gone = r["diverged"] > 0
        r.update(val_accuracy=np.where(gone, np.nan, val_acc[k]),
                 val_loss=np.where(gone, np.nan, val_loss[k]),
                 test_accuracy=np.where(gone, np.nan, test["accuracy"].reshape(shape)[k]))
        # The chosen rate is the best among the rates whose every seed stayed finite.
        finite = ~gone.any(1)
        order = np.lexsort((np.nan_to_num(r["val_loss"].mean(1), nan=np.inf),
                            -np.nan_to_num(r["val_accuracy"].mean(1), nan=-1.0), ~finite))
        r["best"] = int(order[0])


def tables(args, results):
    grid_rows, table_rows = [], []
    for name, r in results.items():
        if r["diverged_at"] is not None:
            table_rows.append({"optimizer": name, "best_lr": "", "diverged_at": r["diverged_at"]})
            continue
        for i, lr in enumerate(r["lrs"]):
            for j in range(args.seeds):
                grid_rows.append({"optimizer": name, "lr": lr, "seed": args.seed + j,
                                  "val_accuracy": _round_or_blank(r["val_accuracy"][i, j]),
                                  "val_loss": _round_or_blank(r["val_loss"][i, j]),
                                  "test_accuracy": _round_or_blank(r["test_accuracy"][i, j]),
                                  "steps_to_0.99": _int_or_blank(r["steps_to"][i, j]),
                                  "diverged_at": _int_or_blank(r["diverged"][i, j] or np.nan)})
        b = r["best"]
        reached = r["steps_to"][b][~np.isnan(r["steps_to"][b])]
        table_rows.append({
            "optimizer": name, "best_lr": r["lrs"][b],
            # a seed that never reached 0.99 counts as infinitely slow
            "steps_to_0.99_median": _int_or_blank(np.median(np.nan_to_num(r["steps_to"][b],
                                                                          nan=np.inf))),
            "reached_0.99": f"{len(reached)}/{args.seeds}",
            "test_accuracy_mean": round(float(r["test_accuracy"][b].mean()), 4),
            "test_accuracy_std": round(float(r["test_accuracy"][b].std()), 4),
            "train_seconds": round(r["seconds"], 1),
            "ms_per_step": round(r["ms_per_step"], 1),
            "diverged_at": "",
            "diverged_rates": ",".join(f"{lr:g}" for lr, d in zip(r["lrs"], r["diverged"])
                                       if d.any())})
    columns = max((list(row) for row in table_rows), key=len)   # diverged rows lack most
    return grid_rows, [{c: row.get(c, "") for c in columns} for row in table_rows]


def _int_or_blank(x):
    return int(x) if np.isfinite(x) else ""


def _round_or_blank(x):
    return round(float(x), 4) if np.isfinite(x) else ""


# ----------------------------------------------------------------------------- figures

def curves_figure(args, results, title):
    """Loss and accuracy at each optimizer's chosen rate: mean over seeds, band = min..max."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colours = plt.get_cmap("tab10")
    for k, (name, r) in enumerate(results.items()):
        if r["diverged_at"] is not None:
            continue
        b = r["best"]
        for ax, metric in zip(axes, ("loss", "accuracy")):
            curves = plotting.box_filter(r["history"][metric][b], args.smooth)
            steps = np.arange(curves.shape[-1]) + args.smooth
            ax.plot(steps, curves.mean(0), color=colours(k), lw=1.3,
                    label=f"{name} (lr {r['lrs'][b]:g})")
            ax.fill_between(steps, curves.min(0), curves.max(0), color=colours(k), alpha=0.18)
    axes[0].set_ylabel("training loss")
    axes[1].set_ylabel("training accuracy")
    axes[1].axhline(0.1, color="grey", ls=":", lw=1)
    axes[1].axhline(TARGET, color="k", ls=":", lw=0.8)
    for ax in axes:
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def grid_figure(args, results, title):
    """Validation accuracy against learning rate (mean over seeds; the chosen rate circled)."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.5, 4))
    colours = plt.get_cmap("tab10")
    for k, (name, r) in enumerate(results.items()):
        if r["diverged_at"] is not None:
            continue
        acc = r["val_accuracy"].mean(1)                 # NaN where a seed diverged: a gap
        ax.plot(r["lrs"], acc, "o-", color=colours(k), label=name)
        ax.plot(r["lrs"][r["best"]], acc[r["best"]], "o", ms=12, mfc="none", color=colours(k))
        gone = [lr for lr, d in zip(r["lrs"], r["diverged"]) if d.any()]
        ax.plot(gone, [0.0] * len(gone), "x", ms=9, color=colours(k),
                label=f"{name}: diverged" if gone else None)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("validation accuracy")
    ax.axhline(0.1, color="grey", ls=":", lw=1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def main(argv=None):
    args = parse_args(argv)
    cfg = Config(model_type="lstm", input_dim=args.input_dim, num_hidden=args.num_hidden,
                 batch_size=args.batch_size, train_steps=args.train_steps,
                 max_norm=args.max_norm, eval_batch=args.eval_batch)
    started = time.perf_counter()
    results = {name: train_grid(args, cfg, name) for name in args.optimizers}
    assess(args, cfg, results)
    grid_rows, table_rows = tables(args, results)
    seconds = time.perf_counter() - started

    print(f"{'optimizer':10s} {'best lr':>8s} {'steps to 0.99':>14s} {'test accuracy':>14s} "
          f"{'train s':>7s} {'ms/step':>8s}")
    for row in table_rows:
        if row["diverged_at"] != "":
            print(f"{row['optimizer']:10s} diverged at step {row['diverged_at']}")
            continue
        steps = row["steps_to_0.99_median"]
        print(f"{row['optimizer']:10s} {row['best_lr']:8g} "
              f"{(str(steps) if steps != '' else '-'):>9s} ({row['reached_0.99']}) "
              f"{row['test_accuracy_mean']:8.3f} ± {row['test_accuracy_std']:.3f} "
              f"{row['train_seconds']:7.1f} {row['ms_per_step']:8.1f}")

    out = args.out
    files.write_csv(out / "table.csv", table_rows)
    files.write_csv(out / "grid.csv", grid_rows)
    config = {k: v for k, v in vars(args).items() if k not in ("out", "quick", "full")}
    files.write_json(out / "summary.json", {
        "config": config, "learning_rates": {n: r["lrs"] for n, r in results.items()},
        "table": table_rows, "seconds": round(seconds, 1),
        "command": " ".join(["python"] + sys.argv)})
    encoding = "raw digits" if args.input_dim == 1 else "one-hot digits"
    title = (f"LSTM, T={args.length}, {encoding}, {args.num_hidden} hidden, batch "
             f"{args.batch_size}, clip {args.max_norm:g}, {args.seeds} seeds")
    files.save_figure(curves_figure(args, results, title), out / "curves.png")
    files.save_figure(grid_figure(args, results, title), out / "lr_grid.png")
    print(f"results in {out}/ ({seconds:.0f} s)")


if __name__ == "__main__":
    cli.run_main(main)
