"""Gradient flow through time, measured (SPEC 1.1 and the vanishing-gradient claim).

The loss of the palindrome task sits on the last step only, so everything the model learns
about the first digit must travel back through every step of the recurrence.  Two measurements
show how much arrives:

* ``dl/dh(t)``: the derivative of the loss with respect to the state carried out of step t
  (through all later steps).  For the RNN it is ``W_ph^T (y_hat - y)`` multiplied by the
  Jacobians ``W_hh^T diag(1 - h(k)^2)`` of steps k = T-1..t+1.  The LSTM carries two states:
  dl/dh(t) (with c(t) held) flows back through the recurrent matrices, dl/dc(t) (with h(t)
  held) along the cell path, where each step multiplies it by its forget gate f(t+1) (plus
  what arrives via h(t+1)); dl/dc(T-1) = 0 because the loss reads h(T-1) only.
* step t's term of ``dL/dW_hh = sum_t delta(t) h(t-1)^T``: how much each step contributes to
  the recurrent weights' update (for the LSTM, the four recurrent matrices W_gh, W_ih, W_fh,
  W_oh stacked as in ``cells.lstm_fused_weights``).

Both come from one ``jax.grad`` through the unchanged scan: a zero is added to the state after
each step (its gradient is dl/dh(t)), and each step uses its own copy of the recurrent matrix
(the copies' gradients are the per-step terms; they sum to dL/dW_hh).  Shapes: ``x [B, S, d]``
with S = T-1 input steps, ``y [B]``; per-step outputs are ``[S]`` (time index t = 1..S).

The study of ``experiments/gradients.py`` (``Study``, ``run``, ``summarise``) measures both at
initialisation and after training, with and without clipping; its figures are in
``rnn_gnn.palindrome.figures``.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnn_gnn import cells, cli
from rnn_gnn.cells import INITS
from rnn_gnn.errors import ConfigError, NonFiniteLoss
from rnn_gnn.optimizers import OPTIMIZERS
from rnn_gnn.palindrome.data import palindrome_batch, step_mask
from rnn_gnn.palindrome.runner import Config, comma_list, init_sweep, train_sweep
from rnn_gnn.train import diverged_at


def recurrent_matrix(model_type: str, params):
    """The matrix BPTT multiplies through time: W_hh [n, n] (RNN) or the stacked W_h [4n, n]."""
    if model_type == "rnn":
        return params["W_hh"]
    return cells.lstm_fused_weights(params)[1]


def _probed_loss(model_type: str, params, W_steps, probes, x, y, mask):
    """Summed cross-entropy of the last step with per-step recurrent matrices and state probes.

    ``W_steps [S, *W.shape]`` all equal the model's matrix and ``probes`` (the state's shape per
    step) are zeros, so the value is the model's; only the gradients are new.  The loss is a sum
    over the batch so that the state gradients are per-example: row b of dl/dh(t) is
    d loss_b / d h_b(t).
    """
    if model_type == "rnn":
        x_proj = cells.time_major(x @ params["W_hx"].T + params["b_h"])
        state = jnp.zeros((x.shape[0], params["W_hh"].shape[0]), x_proj.dtype)

        def step(h, inputs):
            xp, W, e = inputs
            return cells.rnn_step({"W_hh": W}, h, xp) + e
    else:
        W_x, W_h, b = cells.lstm_fused_weights(params)
        x_proj = cells.time_major(x @ W_x.T + b)
        zeros = jnp.zeros((x.shape[0], W_h.shape[1]), x_proj.dtype)
        state = cells.LSTMState(zeros, zeros)

        def step(s, inputs):
            xp, W, e = inputs
            s = cells.lstm_step(W, s, xp)
            return cells.LSTMState(s.c + e.c, s.h + e.h)
    # cells' masked scan: padded steps leave the state (probe included) untouched, so their
    # probes and matrix copies get exactly zero gradient.
    final = cells._scan(step, state, (x_proj, W_steps, probes), mask, 1)
    h = final if model_type == "rnn" else final.h
    logits = cells.project(params, h)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).sum()


@partial(jax.jit, static_argnums=0)
def step_gradients(model_type: str, params, x, y, mask=None):
    """Per-step gradients of the palindrome loss (mean cross-entropy over the batch).

    Returns ``(d_state, d_W)``:
      d_state  dl/dh(t) per example: ``[S, B, n]`` (RNN) or ``LSTMState(c, h)`` of those (LSTM),
               for the summed loss (row b is example b's own gradient);
      d_W      step t's term of dL/dW_hh for the mean loss: ``[S, *recurrent_matrix.shape]``;
               ``d_W.sum(0)`` is dL/dW_hh.
    """
    W = recurrent_matrix(model_type, params)
    steps, batch, n = x.shape[1], x.shape[0], W.shape[1]
    W_steps = jnp.broadcast_to(W, (steps, *W.shape))
    zeros = jnp.zeros((steps, batch, n), x.dtype)
    probes = zeros if model_type == "rnn" else cells.LSTMState(zeros, zeros)
    d_W, d_state = jax.grad(_probed_loss, argnums=(2, 3))(model_type, params, W_steps, probes,
                                                            x, y, mask)
    return d_state, d_W / batch


@partial(jax.jit, static_argnums=0)
def gradient_flow(model_type: str, params, x, y, mask=None):
    """Norms per step t = 1..S (zero on masked steps), as a dict of ``[S]`` arrays:

      dh   mean over examples of ||dl/dh(t)|| (per example: each example's own loss)
      dc   the same for the LSTM's carried cell state c(t) (LSTM only)
      dW   Frobenius norm of step t's term of dL/dW_hh (mean loss; zero at t = 1 since h(0) = 0)
    """
    d_state, d_W = step_gradients(model_type, params, x, y, mask)
    per_example = lambda g: jnp.linalg.norm(g, axis=-1).mean(-1)
    out = {"dW": jnp.sqrt(jnp.sum(d_W ** 2, axis=tuple(range(1, d_W.ndim))))}
    if model_type == "rnn":
        out["dh"] = per_example(d_state)
    else:
        out["dh"], out["dc"] = per_example(d_state.h), per_example(d_state.c)
    return out


@partial(jax.jit, static_argnums=(0, 3, 4, 6))
def palindrome_flow(model_type: str, params, lengths, input_dim: int, batch_size: int, key,
                    max_length: int):
    """``gradient_flow`` of stacked params ``[L, ...]`` on palindromes of ``lengths [L]``, all
    padded to ``max_length`` (one compiled program): dict of ``[L, max_length - 1]`` arrays whose
    last T-1 entries are steps t = 1..T-1 of length T (zeros before)."""
    def one(p, length):
        x, y = palindrome_batch(key, batch_size, length, input_dim, max_length)
        return gradient_flow(model_type, p, x, y, step_mask(length, max_length))
    return jax.vmap(one)(params, lengths)


def decay_rate(norms, first: int = 0) -> float:
    """Geometric factor per step back in time: exp(-slope), with slope that of log ||.||
    against t (``norms`` indexed by t forward, so one step back is -1 in t), fitted by least
    squares on the positive entries from index ``first``.  < 1 means the gradient shrinks as
    it travels back (vanishes), > 1 that it grows (explodes)."""
    norms = np.asarray(norms, np.float64)[first:]
    t = np.arange(len(norms))[norms > 0]
    if len(t) < 2:
        return float("nan")
    slope = np.polyfit(t, np.log(norms[norms > 0]), 1)[0]
    return float(np.exp(-slope))


# ----------------------------------------------------------------------------- training histories

def clipped_fraction(grad_norms, max_norm: float) -> float:
    """Fraction of steps whose (pre-clipping) global gradient norm exceeded ``max_norm``: the
    steps on which ``optax.clip_by_global_norm`` rescaled the gradient."""
    return float(np.mean(np.asarray(grad_norms) > max_norm))



# ----------------------------------------------------------------------------- the study

MODEL_TYPES = ("rnn", "lstm")
ENCODINGS = {1: "raw digits", 10: "one-hot"}
STAGES = ("init", "trained")


@dataclasses.dataclass(frozen=True)
class Study:
    """Settings of the gradient study; the defaults are its default run (``FULL``: the
    study's sizes).  Each (model, encoding) trains one seed per length, clipped at
    ``max_norm``; for the first encoding the runs are repeated without clipping."""
    models: tuple = cli.field(MODEL_TYPES, "models, comma-separated: rnn, lstm",
                              type=comma_list)
    input_dims: tuple = cli.field((1, 10), "input encodings, comma-separated: 1 = raw digits, "
                                  "10 = one-hot")
    lengths: tuple = cli.field((5, 10, 20), "palindrome lengths T (>= 3: two or more steps)")
    num_hidden: int = cli.field(64, "hidden units n", type=cli.positive(int))
    batch_size: int = cli.field(64, "palindromes per training step", type=cli.positive(int))
    train_steps: int = cli.field(1000, "training steps per run", type=cli.positive(int))
    learning_rate: float = cli.field(1e-3, "the optimizer's step size",
                                     type=cli.positive(float))
    optimizer: str = cli.field("rmsprop", "an Optax optimizer by name", choices=list(OPTIMIZERS))
    max_norm: float = cli.field(10.0, "clipping threshold of the clipped runs",
                                type=cli.positive(float))
    init: str = cli.field("orthogonal", "weight initialisation (rnn_gnn.cells)",
                          choices=list(INITS))
    forget_bias: float = cli.field(1.0, "added to the LSTM's b_f at initialisation")
    analysis_batch: int = cli.field(256, "palindromes the gradient norms are averaged over",
                                    type=cli.positive(int))
    seed: int = cli.field(0, "the runs' seed", type=int)

    def __post_init__(self):
        for name, allowed in (("models", MODEL_TYPES), ("input_dims", tuple(ENCODINGS))):
            values = getattr(self, name)
            if not values or len(set(values)) < len(values) or set(values) - set(allowed):
                raise ConfigError(f"{name} must list distinct values from "
                                  f"{', '.join(map(str, allowed))}, got "
                                  f"{','.join(map(str, values))!r}")
        if not self.lengths or min(self.lengths) < 3 or len(set(self.lengths)) < len(self.lengths):
            raise ConfigError(f"lengths must be distinct palindrome lengths >= 3 (two or more "
                              f"steps), got {','.join(map(str, self.lengths))!r}")


FULL = dict(lengths=(5, 10, 15, 20, 25), num_hidden=128, batch_size=128, train_steps=10000)


def config(study: Study, model: str, input_dim: int, **changes) -> Config:
    """The sweep settings of one (model, encoding) of the study."""
    shared = {f.name: getattr(study, f.name) for f in dataclasses.fields(Config)
              if hasattr(study, f.name)}
    return Config(**dict(shared, model_type=model, input_dim=input_dim, **changes))


def measure(study: Study, model: str, input_dim: int, log_every: int = 100, progress=True):
    """``(flows, runs)`` of one (model, encoding): the flow at init and after training
    (``flows[stage][key]`` ``[lengths, max_length - 1]``), and the clipped (and, for the first
    encoding, the unclipped) run's history per length (``runs[max_norm or None]``)."""
    cfg = config(study, model, input_dim)
    lengths, seeds = list(study.lengths), [study.seed]
    key = jax.random.fold_in(jax.random.PRNGKey(study.seed), 10**6 + 1)   # never trained on

    def flow(params):
        f = palindrome_flow(model, params, jnp.array(lengths), input_dim, study.analysis_batch,
                            key, max(lengths))
        return {k: np.asarray(v) for k, v in f.items()}

    initial, _ = init_sweep(cfg, lengths, seeds)     # the very parameters train_sweep starts from
    flows, runs = {"init": flow(initial.params)}, {}
    tag = f"{model} d={input_dim}" if progress else False
    state, history, final = train_sweep(cfg, lengths, seeds, log_every=log_every,
                                        progress=tag and f"{tag} clipped")
    runs[study.max_norm] = _record(history, final)
    flows["trained"] = flow(state.params)
    if input_dim == study.input_dims[0]:
        try:
            _, history, final = train_sweep(dataclasses.replace(cfg, max_norm=0.0), lengths,
                                            seeds, log_every=log_every,
                                            progress=tag and f"{tag} unclipped")
            runs[None] = _record(history, final)
        except NonFiniteLoss as e:   # a result, not an error: every length blew up unclipped
            runs[None] = {"grad_norm": None, "final_accuracy": None,
                          "diverged_at": np.full(len(lengths), e.step)}
    return flows, runs


def run(study: Study, log_every: int = 100, progress=True) -> dict:
    """``measure`` for every (model, encoding), keyed by that pair."""
    return {(m, d): measure(study, m, d, log_every, progress)
            for m in study.models for d in study.input_dims}


def _record(history, final) -> dict:
    """Per length (seed 0): gradient norms, final accuracy and the step it diverged at (0:
    never; a diverged length is frozen while the others train on, and reported as such)."""
    return {"grad_norm": history["grad_norm"][:, 0], "final_accuracy": final["accuracy"][:, 0],
            "diverged_at": diverged_at(history)[:, 0]}


def steps_of(flow_row, length: int):
    """The T-1 real steps of a padded ``[max_length - 1]`` row (t = 1..T-1)."""
    return flow_row[len(flow_row) - (length - 1):]


def summarise(study: Study, results):
    """Rows of flow.csv and clipping.csv, and the summary's numbers."""
    flow_rows, clip_rows, summary = [], [], {}
    for (model, d), (flows, runs) in results.items():
        for stage in STAGES:
            for i, T in enumerate(study.lengths):
                f = {k: steps_of(v[i], T) for k, v in flows[stage].items()}
                for t in range(T - 1):
                    flow_rows.append({"model": model, "input_dim": d, "length": T,
                                      "stage": stage, "t": t + 1,
                                      **{k: float(f"{f[k][t]:.4e}") if k in f else ""
                                         for k in ("dh", "dc", "dW")}})
                # Decay per step: fitted on t = 1..T-2, leaving out the last step, which feeds
                # the output directly (and where the LSTM's dl/dc is 0); dW from t = 2 (h(0) = 0).
                entry = {"dh_first_over_last": f["dh"][0] / f["dh"][-1],
                         "dh_decay_per_step": decay_rate(f["dh"][:-1]),
                         "dW_second_over_last": f["dW"][1] / f["dW"][-1],
                         "dW_decay_per_step": decay_rate(f["dW"][:-1], first=1)}
                if "dc" in f:
                    entry.update(dc_first_over_last=f["dc"][0] / f["dc"][-2],
                                 dc_decay_per_step=decay_rate(f["dc"][:-1]))
                if stage == "trained":
                    entry["final_accuracy"] = runs[study.max_norm]["final_accuracy"][i]
                summary[f"{model} d={d} T={T} {stage}"] = {k: float(f"{v:.4g}")
                                                            for k, v in entry.items()}
        for max_norm, record in runs.items():
            for i, T in enumerate(study.lengths):
                gone = int(record["diverged_at"][i])
                row = {"model": model, "input_dim": d, "length": T,
                       "max_norm": max_norm or "none", "diverged_at": gone or ""}
                if record["grad_norm"] is not None and not gone:
                    g = record["grad_norm"][i]
                    row.update(clipped_fraction=clipped_fraction(g, study.max_norm),
                               median_grad_norm=float(f"{np.median(g):.4g}"),
                               p99_grad_norm=float(f"{np.percentile(g, 99):.4g}"),
                               max_grad_norm=float(f"{g.max():.4g}"),
                               final_accuracy=float(f"{record['final_accuracy'][i]:.4f}"))
                clip_rows.append(row)
    return flow_rows, clip_rows, summary


HIST_BINS = 60   # bins of the gradient-norm histograms (grad_norm_hist.png)


def norm_histograms(study: Study, results) -> dict:
    """What grad_norm_hist.json holds and ``figures.clipping`` draws: for every (model,
    encoding) that has an unclipped run, each length and run (``max_norm``: the study's, or
    None for the unclipped run), the histogram of log10 of the pre-clipping global gradient
    norm over the run's steps (``log10_edges [HIST_BINS + 1]``, ``steps [HIST_BINS]``) and the
    share of steps above ``study.max_norm``; a run that diverged has only ``diverged_at``.

    Binned, because the figure needs no more: a few kB of JSON instead of every step's norm.
    """
    entries = []
    for (model, d), (_, runs) in results.items():
        if None not in runs:
            continue
        for max_norm in (study.max_norm, None):
            record = runs[max_norm]
            for i, T in enumerate(study.lengths):
                entry = {"model": model, "input_dim": d, "length": T, "max_norm": max_norm,
                         "diverged_at": int(record["diverged_at"][i])}
                if not entry["diverged_at"]:
                    g = np.asarray(record["grad_norm"][i])
                    steps, edges = np.histogram(np.log10(np.maximum(g, 1e-12)), bins=HIST_BINS)
                    entry.update(clipped_fraction=clipped_fraction(g, study.max_norm),
                                 log10_edges=edges.tolist(), steps=steps.tolist())
                entries.append(entry)
    return {"histograms": entries}


def report(study: Study, summary: dict, clip_rows: list[dict]) -> list[str]:
    """The lines the CLI prints: decay per run and stage, then each run's clipping."""
    nan = float("nan")
    lines = [f"{'run':24s} {'dh(1)/dh(T-1)':>14s} {'decay/step':>10s} {'accuracy':>8s}"]
    lines += [f"{name:24s} {e['dh_first_over_last']:14.3g} {e['dh_decay_per_step']:10.3f} "
              f"{e.get('final_accuracy', nan):8.3f}" for name, e in summary.items()]
    lines += [f"{r['model']} d={r['input_dim']} T={r['length']} max_norm={r['max_norm']}: "
              f"{100 * r.get('clipped_fraction', nan):.1f}% of steps above "
              f"{study.max_norm:g}, max norm {r.get('max_grad_norm', nan):.3g}, "
              f"final accuracy {r.get('final_accuracy', nan):.3f}" for r in clip_rows]
    return lines
