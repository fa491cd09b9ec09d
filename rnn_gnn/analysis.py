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
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnn_gnn import cells
from rnn_gnn.palindrome import palindrome_batch, step_mask


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
        x_proj = jnp.swapaxes(x @ params["W_hx"].T + params["b_h"], 0, 1)
        state = jnp.zeros((x.shape[0], params["W_hh"].shape[0]), x_proj.dtype)

        def step(h, inputs):
            xp, W, e = inputs
            return cells.rnn_step({"W_hh": W}, h, xp) + e
    else:
        W_x, W_h, b = cells.lstm_fused_weights(params)
        x_proj = jnp.swapaxes(x @ W_x.T + b, 0, 1)
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


def steps_to(values, threshold: float, width: int = 1):
    """First step (1-based) at which the ``width``-step moving average of ``values`` reaches
    ``threshold``, per leading index; NaN where it never does.  ``values [..., steps]``."""
    from rnn_gnn.plotting import box_filter
    s = box_filter(np.asarray(values, np.float64), width) >= threshold
    first = np.argmax(s, axis=-1) + width          # window ending at step argmax + width
    return np.where(s.any(axis=-1), first, np.nan)
