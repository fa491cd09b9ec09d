"""Vanishing gradients and gradient clipping, measured (Part 1: question 1.1 and max_norm).

    python experiments/gradients.py          # quick preset (about 2.5 minutes of CPU, 2 cores)
    python experiments/gradients.py --full   # the study's model size and training length

For the vanilla RNN and the LSTM, each input encoding and several palindrome lengths T:
||dl/dh(t)|| against t (and ||dl/dc(t)|| for the LSTM) and the norm of each step's term of
dL/dW_hh, at initialisation and after training (rnn_gnn.analysis, on a batch never trained on).
The training runs clip the gradient at --max_norm (the study's 10); for the first input encoding
they are repeated without clipping.  Every step's global gradient norm is recorded before
clipping, which gives the fraction of clipped steps.

Writes to --out: flow.csv (per model, encoding, length, stage and step t), clipping.csv,
summary.json, gradient_flow.png, gradient_terms.png and grad_norm_hist.png.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from rnn_gnn import analysis, cli, files, plotting
from rnn_gnn.cells import INITS
from rnn_gnn.palindrome import Config, init_sweep, train_sweep
from rnn_gnn.optimizers import OPTIMIZERS
from rnn_gnn.train import NonFiniteLoss, diverged_at

QUICK = dict(lengths=[5, 10, 20], num_hidden=64, batch_size=64, train_steps=1000)
FULL = dict(lengths=[5, 10, 15, 20, 25], num_hidden=128, batch_size=128, train_steps=10000)
STAGES = ("init", "trained")
ENCODINGS = {1: "raw digits", 10: "one-hot"}


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__)
    d = Config()
    p.add_argument("--models", default="rnn,lstm", help="comma-separated: rnn, lstm")
    p.add_argument("--input_dims", default="1,10",
                   help="comma-separated encodings: 1 = raw digits, 10 = one-hot")
    p.add_argument("--lengths", type=cli.int_list, help="palindrome lengths T (default: preset)")
    p.add_argument("--num_hidden", type=cli.positive(int), help="default: preset")
    p.add_argument("--batch_size", type=cli.positive(int), help="default: preset")
    p.add_argument("--train_steps", type=cli.positive(int), help="default: preset")
    p.add_argument("--learning_rate", type=cli.positive(float), default=d.learning_rate)
    p.add_argument("--optimizer", default=d.optimizer, choices=list(OPTIMIZERS))
    p.add_argument("--max_norm", type=cli.positive(float), default=d.max_norm,
                   help="clipping threshold of the clipped runs")
    p.add_argument("--init", default=d.init, choices=list(INITS),
                   help="initialisation scheme (rnn_gnn.cells)")
    p.add_argument("--forget_bias", type=float, default=d.forget_bias,
                   help="added to the LSTM's b_f at initialisation")
    p.add_argument("--analysis_batch", type=cli.positive(int), default=256,
                   help="palindromes the gradient norms are averaged over")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log_every", type=cli.positive(int), default=100)
    p.add_argument("--out", type=Path, default=Path("results/gradients"))
    args = cli.parse_with_presets(p, argv, {"full": (FULL, "the study's sizes")})
    for key, value in QUICK.items():   # the default run
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.models = _choices(args.models, "--models", ["rnn", "lstm"], str)
    args.input_dims = _choices(args.input_dims, "--input_dims", [1, 10], int)
    cli.check(bool(args.lengths) and all(t >= 3 for t in args.lengths),
              f"--lengths must be palindrome lengths >= 3 (two or more steps), got {args.lengths}")
    cli.check(len(set(args.lengths)) == len(args.lengths), "--lengths has duplicates")
    cli.check(not args.out.exists() or args.out.is_dir(), f"--out {args.out} is not a directory")
    return args


def _choices(text: str, flag: str, allowed: list, kind):
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = None
    cli.check(bool(values) and all(v in allowed for v in values) and
              len(set(values)) == len(values),
              f"{flag} must list distinct values from {', '.join(map(str, allowed))}, got {text!r}")
    return values


def measure(args, model: str, input_dim: int):
    """Flow at init and after training, plus the clipped (and maybe unclipped) run's history."""
    cfg = Config(model_type=model, input_dim=input_dim, num_hidden=args.num_hidden,
                 batch_size=args.batch_size, train_steps=args.train_steps,
                 learning_rate=args.learning_rate, optimizer=args.optimizer,
                 max_norm=args.max_norm, init=args.init, forget_bias=args.forget_bias)
    lengths, seeds = args.lengths, [args.seed]
    max_length = max(lengths)
    key = jax.random.fold_in(jax.random.PRNGKey(args.seed), 10**6 + 1)   # never trained on

    def flow(params):
        f = analysis.palindrome_flow(model, params, jnp.array(lengths), input_dim,
                                     args.analysis_batch, key, max_length)
        return {k: np.asarray(v) for k, v in f.items()}

    initial, _ = init_sweep(cfg, lengths, seeds)     # the very parameters train_sweep starts from
    flows = {"init": flow(initial.params)}
    runs = {}
    tag = f"{model} d={input_dim}"
    state, history, final = train_sweep(cfg, lengths, seeds, log_every=args.log_every,
                                        progress=f"{tag} clipped")
    runs[args.max_norm] = _record(history, final)
    flows["trained"] = flow(state.params)
    if input_dim == args.input_dims[0]:
        try:
            _, history, final = train_sweep(dataclasses.replace(cfg, max_norm=0.0), lengths,
                                            seeds, log_every=args.log_every,
                                            progress=f"{tag} unclipped")
            runs[None] = _record(history, final)
        except NonFiniteLoss as e:   # a result, not an error: every length blew up unclipped
            runs[None] = {"grad_norm": None, "final_accuracy": None,
                          "diverged_at": np.full(len(lengths), e.step)}
    return flows, runs


def _record(history, final) -> dict:
    """Per length (seed 0): gradient norms, final accuracy and the step it diverged at (0:
    never; a diverged length is frozen while the others train on, and reported as such)."""
    return {"grad_norm": history["grad_norm"][:, 0], "final_accuracy": final["accuracy"][:, 0],
            "diverged_at": diverged_at(history)[:, 0]}


def steps_of(flow_row, length: int):
    """The T-1 real steps of a padded ``[max_length - 1]`` row (t = 1..T-1)."""
    return flow_row[len(flow_row) - (length - 1):]


def summarise(args, results):
    """Rows of flow.csv and clipping.csv, and the summary's numbers."""
    flow_rows, clip_rows, summary = [], [], {}
    for (model, d), (flows, runs) in results.items():
        for stage in STAGES:
            for i, T in enumerate(args.lengths):
                f = {k: steps_of(v[i], T) for k, v in flows[stage].items()}
                for t in range(T - 1):
                    flow_rows.append({"model": model, "input_dim": d, "length": T,
                                      "stage": stage, "t": t + 1,
                                      **{k: float(f"{f[k][t]:.4e}") if k in f else ""
                                         for k in ("dh", "dc", "dW")}})
                # Decay per step: fitted on t = 1..T-2, leaving out the last step, which feeds
                # the output directly (and where the LSTM's dl/dc is 0); dW from t = 2 (h(0) = 0).
                entry = {"dh_first_over_last": f["dh"][0] / f["dh"][-1],
                         "dh_decay_per_step": analysis.decay_rate(f["dh"][:-1]),
                         "dW_second_over_last": f["dW"][1] / f["dW"][-1],
                         "dW_decay_per_step": analysis.decay_rate(f["dW"][:-1], first=1)}
                if "dc" in f:
                    entry.update(dc_first_over_last=f["dc"][0] / f["dc"][-2],
                                 dc_decay_per_step=analysis.decay_rate(f["dc"][:-1]))
                if stage == "trained":
                    entry["final_accuracy"] = runs[args.max_norm]["final_accuracy"][i]
                summary[f"{model} d={d} T={T} {stage}"] = {k: float(f"{v:.4g}")
                                                            for k, v in entry.items()}
        for max_norm, run in runs.items():
            for i, T in enumerate(args.lengths):
                gone = int(run["diverged_at"][i])
                row = {"model": model, "input_dim": d, "length": T,
                       "max_norm": max_norm or "none", "diverged_at": gone or ""}
                if run["grad_norm"] is not None and not gone:
                    g = run["grad_norm"][i]
                    row.update(clipped_fraction=analysis.clipped_fraction(g, args.max_norm),
                               median_grad_norm=float(f"{np.median(g):.4g}"),
                               p99_grad_norm=float(f"{np.percentile(g, 99):.4g}"),
                               max_grad_norm=float(f"{g.max():.4g}"),
                               final_accuracy=float(f"{run['final_accuracy'][i]:.4f}"))
                clip_rows.append(row)
    return flow_rows, clip_rows, summary


# ----------------------------------------------------------------------------- figures

def describe(args) -> str:
    fb = f", LSTM forget bias {args.forget_bias:g}" if "lstm" in args.models else ""
    return (f"init {args.init}{fb}; {args.num_hidden} hidden; trained {args.train_steps} steps, "
            f"{args.optimizer} lr {args.learning_rate:g}, batch {args.batch_size}, "
            f"clip {args.max_norm:g}")


def flow_figure(args, results, key: str, ylabel: str):
    """Rows: init, trained; columns: model x encoding; one curve per length (darker = longer)."""
    import matplotlib.pyplot as plt
    cols = list(results)
    fig, axes = plt.subplots(2, len(cols), figsize=(3.4 * len(cols), 5.6), sharey="row",
                             squeeze=False)
    for c, (model, d) in enumerate(cols):
        colours = plotting.length_colours(plotting.MODEL_COLOURS[model], len(args.lengths))
        flows = results[(model, d)][0]
        for r, stage in enumerate(STAGES):
            ax = axes[r, c]
            for i, (T, colour) in enumerate(zip(args.lengths, colours)):
                t, y = np.arange(1, T), steps_of(flows[stage][key][i], T)
                if key == "dW":   # step 1's term is h(0) = 0
                    t, y = t[1:], y[1:]
                ax.plot(t, y, "o-", ms=2.5, color=colour, label=f"T={T}")
                if key == "dh" and "dc" in flows[stage]:   # zero at T-1: the loss reads h only
                    ax.plot(t[:-1], steps_of(flows[stage]["dc"][i], T)[:-1], "--",
                            color=colour, lw=1)
            ax.set_yscale("log")
            ax.grid(alpha=0.3, which="both")
            ax.set_title(f"{plotting.MODEL_NAMES[model]}, {ENCODINGS[d]}: {stage}", fontsize=9)
            if c == 0:
                ax.set_ylabel(ylabel, fontsize=9)
            if r == 1:
                ax.set_xlabel("step t (the loss is at the last step)", fontsize=8)
        axes[0, c].legend(fontsize=7)
    note = ("\nsolid: ||dl/dh(t)||; dashed: the LSTM's ||dl/dc(t)|| along the cell path "
            "(mean over examples)" if key == "dh" and "lstm" in args.models else "")
    fig.suptitle(describe(args) + note, fontsize=9)
    fig.tight_layout()
    return fig


def clipping_figure(args, results):
    """Histogram of log10 of the pre-clipping global gradient norm, clipped vs unclipped run."""
    import matplotlib.pyplot as plt
    pairs = [(m, d) for (m, d), (_, runs) in results.items() if None in runs]
    fig, axes = plt.subplots(len(args.lengths), len(pairs), figsize=(4.2 * len(pairs),
                             2.1 * len(args.lengths)), sharex=True, squeeze=False)
    for c, (model, d) in enumerate(pairs):
        runs = results[(model, d)][1]
        for r, T in enumerate(args.lengths):
            ax = axes[r, c]
            for max_norm, colour in ((args.max_norm, "tab:blue"), (None, "tab:red")):
                g, gone = runs[max_norm]["grad_norm"], int(runs[max_norm]["diverged_at"][r])
                if gone:
                    ax.text(0.5, 0.5 if max_norm is None else 0.65,
                            f"{'unclipped' if max_norm is None else 'clipped'} run diverged at "
                            f"step {gone}", transform=ax.transAxes, ha="center", fontsize=7)
                    continue
                frac = analysis.clipped_fraction(g[r], args.max_norm)
                label = (f"clip {max_norm:g}" if max_norm else "no clipping") + \
                    f": {100 * frac:.1f}% > {args.max_norm:g}"
                ax.hist(np.log10(np.maximum(g[r], 1e-12)), bins=60, alpha=0.55, color=colour,
                        label=label)
            ax.axvline(np.log10(args.max_norm), color="k", ls=":", lw=1)
            ax.set_yscale("log")
            ax.set_title(f"{plotting.MODEL_NAMES[model]}, {ENCODINGS[d]}, T={T}", fontsize=9)
            ax.legend(fontsize=7)
            if r == len(args.lengths) - 1:
                ax.set_xlabel("log10 global gradient norm (before clipping)", fontsize=8)
            if c == 0:
                ax.set_ylabel("steps", fontsize=8)
    fig.suptitle(describe(args), fontsize=9)
    fig.tight_layout()
    return fig


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    results = {}
    for model in args.models:
        for d in args.input_dims:
            results[(model, d)] = measure(args, model, d)
    flow_rows, clip_rows, summary = summarise(args, results)

    print(f"{'run':24s} {'dh(1)/dh(T-1)':>14s} {'decay/step':>10s} {'accuracy':>8s}")
    for name, e in summary.items():
        if name.endswith("trained") or name.endswith("init"):
            print(f"{name:24s} {e['dh_first_over_last']:14.3g} {e['dh_decay_per_step']:10.3f} "
                  f"{e.get('final_accuracy', float('nan')):8.3f}")
    for row in clip_rows:
        print(f"{row['model']} d={row['input_dim']} T={row['length']} max_norm={row['max_norm']}:"
              f" {100 * row.get('clipped_fraction', float('nan')):.1f}% of steps above "
              f"{args.max_norm:g}, max norm {row.get('max_grad_norm', float('nan')):.3g}, "
              f"final accuracy {row.get('final_accuracy', float('nan')):.3f}")
    seconds = time.perf_counter() - started

    # Everything is computed; only now write, one atomic file at a time.
    out = args.out
    files.write_csv(out / "flow.csv", flow_rows)
    files.write_csv(out / "clipping.csv", clip_rows)
    config = {k: v for k, v in vars(args).items() if k not in ("out", "quick", "full")}
    files.write_json(out / "summary.json", {"config": config, "results": summary,
                                          "clipping": clip_rows,
                                          "seconds": round(seconds, 1),
                                          "command": " ".join(["python"] + sys.argv)})
    files.save_figure(flow_figure(args, results, "dh", "mean ||dl/dh(t)||"),
                    out / "gradient_flow.png")
    files.save_figure(flow_figure(args, results, "dW", "||step t's term of dL/dW_hh||"),
                    out / "gradient_terms.png")
    if any(None in runs for _, runs in results.values()):
        files.save_figure(clipping_figure(args, results), out / "grad_norm_hist.png")
    print(f"results in {out}/ ({seconds:.0f} s)")


if __name__ == "__main__":
    cli.run_main(main)
