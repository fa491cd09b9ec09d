"""Backpropagation through time derived by hand (SPEC question 1.1), usable for training.

For the loss L = cross-entropy(softmax(p(T)), y) on the last step only, with p(T) = W_ph h(T) + b_p:

    dL/dp        = y_hat - y                           (per example; a batch mean divides by B)
    dL/dW_ph     = (y_hat - y) h(T)^T                  depends on the last state only
    dL/db_p      = y_hat - y
    dL/dh(T)     = W_ph^T (y_hat - y)

Vanilla RNN, a(t) = W_hx x(t) + W_hh h(t-1) + b_h, h(t) = tanh(a(t)):

    dL/da(t)     = dL/dh(t) * (1 - h(t)^2)
    dL/dh(t-1)   = W_hh^T dL/da(t)                     the recursion: a Jacobian (1 - h^2) W_hh a step
    dL/dW_hh     = sum_t dL/da(t) h(t-1)^T             so dL/dW_hh sums products of T - t Jacobians:
    dL/dW_hx     = sum_t dL/da(t) x(t)^T               they vanish or explode with T
    dL/db_h      = sum_t dL/da(t)

LSTM, with z_g..z_o the gates' pre-activations (g = tanh(z_g), i, f, o = sigmoid(z_.)):

    dL/dc(t)    += dL/dh(t) * o(t) * (1 - tanh(c(t))^2)     (plus dL/dc(t) carried from t+1)
    dL/dz_g(t)   = dL/dc(t) * i(t) * (1 - g(t)^2)
    dL/dz_i(t)   = dL/dc(t) * g(t) * i(t) (1 - i(t))
    dL/dz_f(t)   = dL/dc(t) * c(t-1) * f(t) (1 - f(t))
    dL/dz_o(t)   = dL/dh(t) * tanh(c(t)) * o(t) (1 - o(t))
    dL/dc(t-1)   = dL/dc(t) * f(t)                          the cell's additive path: no W_hh in it
    dL/dh(t-1)   = sum_gates W_.h^T dL/dz_.(t)
    dL/dW_.h     = sum_t dL/dz_.(t) h(t-1)^T,   dL/dW_.x = sum_t dL/dz_.(t) x(t)^T,
    dL/db_.      = sum_t dL/dz_.(t)

The forward passes project each step's input inside the scan: for the study's raw digits
(d = 1) that product fuses into the step's elementwise pass, where projecting all steps before
the scan wrote and read a [T, B, 4n] array of its own (about a tenth of an LSTM step on CPU).
The backward passes run the recursion as a reverse ``lax.scan`` that carries only the
state gradients; every weight gradient is then ONE matmul over all ``time * batch`` rows, rather
than one small matmul per step.  ``MANUAL[model]`` wraps them as ``jax.custom_vjp`` functions with
the signature of ``cells.rnn_apply`` / ``cells.lstm_apply``, so ``Config(backward="manual")``
trains with them (the default: it is faster than autodiff, docs/performance.md); tests check
them against ``jax.grad`` of the scan cells.  ``lstm_layer`` is the same backward pass for a
layer whose every h(t) is used (a sequence model such as the char-LSTM).

With a ``mask`` (True = real step), a masked-out step left the state untouched in the forward
pass, so in the backward pass it passes the state gradients through unchanged and contributes
nothing to the weight gradients.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from rnn_gnn import cells
from rnn_gnn.cells import LSTM_GATES, LSTMState, lstm_fused_weights, time_major


def _keep_if(m, new, old):
    """A masked-out step (m False) keeps the old value; no mask keeps the new one."""
    return new if m is None else jnp.where(m, new, old)


def _weight_grads(dz, x, h_prev):
    """``sum_t dz(t)^T [x(t), 1, h(t-1)]`` as ONE matmul over all time*batch rows.

    ``dz`` [T, B, m] is dL/d(pre-activation), x [T, B, d], h_prev [T, B, n].  Since the
    pre-activation is ``W_x x + b + W_h h(t-1)``, the result splits into (dW_x [m, d],
    db [m], dW_h [m, n]).
    """
    rows = lambda a: a.reshape(-1, a.shape[-1])
    inputs = jnp.concatenate([x, jnp.ones(x.shape[:-1] + (1,), x.dtype), h_prev], axis=-1)
    # XLA:CPU runs inputs^T dz ([d+1+n, m]) about twice as fast as dz^T inputs; the barrier
    # keeps its simplifier from folding the final transpose back into the slow form.
    g = jax.lax.optimization_barrier(rows(inputs).T @ rows(dz)).T
    d = x.shape[-1]
    return g[:, :d], g[:, d], g[:, d + 1:]


# ----------------------------------------------------------------------------- vanilla RNN

def rnn_forward(params, x, mask=None, unroll: int = 1):
    """Logits p(T) [B, K] and the residuals: x (time major), h(0..T-1) [T, B, n] and h(T)."""
    x_tm = time_major(x)
    h0 = jnp.zeros((x.shape[0], params["W_hh"].shape[0]), x.dtype)

    def step(h_prev, inputs):
        xt, m = inputs
        h = cells.rnn_step(params, h_prev, xt @ params["W_hx"].T + params["b_h"])
        return _keep_if(m, h, h_prev), h_prev

    h_T, h_prev = jax.lax.scan(step, h0, (x_tm, mask), unroll=unroll)
    return cells.project(params, h_T), (x_tm, h_prev, h_T)


def rnn_backward(params, residuals, dp, mask=None, unroll: int = 1):
    """Gradients of every parameter (a dict like ``params``) and of x, given dL/dp(T) = ``dp``."""
    x_tm, h_prev, h_T = residuals
    W_hh = params["W_hh"]

    def step(carry, inputs):
        dh, h = carry                                # dL/dh(t), h(t)
        h_before, m = inputs                         # h(t-1)
        da = dh * (1.0 - h * h)                      # dL/da(t), through tanh
        if m is not None:
            da = jnp.where(m, da, 0.0)
        return (_keep_if(m, da @ W_hh, dh), h_before), da    # dL/dh(t-1) = W_hh^T dL/da(t)

    dh_T = dp @ params["W_ph"]
    _, da = jax.lax.scan(step, (dh_T, h_T), (h_prev, mask), reverse=True, unroll=unroll)
    dW_hx, db_h, dW_hh = _weight_grads(da, x_tm, h_prev)
    grads = {
        "W_hx": dW_hx,
        "W_hh": dW_hh,
        "b_h": db_h,
        "W_ph": dp.T @ h_T,                          # (y_hat - y) h(T)^T
        "b_p": dp.sum(0),
    }
    return grads, time_major(da @ params["W_hx"])


# ----------------------------------------------------------------------------- LSTM

def _lstm_step_backward(gate, c, c_before, dh, dc_next, m=None):
    """One step of the LSTM's reverse recursion (module doc): ``(dL/dz(t) [B, 4n], dL/dc(t) f(t))``
    from the gates (g, i, f, o)(t), c(t), c(t-1), dL/dh(t) and dL/dc(t) carried from t+1.  A
    masked-out step (``m`` False) gets dz(t) = 0."""
    g, i, f, o = jnp.split(gate, 4, axis=-1)
    tanh_c = jnp.tanh(c)
    dc = dc_next + dh * o * (1.0 - tanh_c * tanh_c)
    if m is not None:
        dc, dh = jnp.where(m, dc, 0.0), jnp.where(m, dh, 0.0)
    d_gate = jnp.concatenate([dc * i, dc * g, dc * c_before, dh * tanh_c], axis=-1)
    # Through the activations: tanh' = 1 - g^2, sigmoid' = s (1 - s); for a gate written as
    # a tanh(a z) + 1 - a (cells.gate_activations) both are a^2 - (gate - 1 + a)^2.
    a = cells.gate_scale(gate.shape[-1], gate.dtype)
    return d_gate * (a * a - jnp.square(gate - 1.0 + a)), dc * f


def lstm_forward(params, x, mask=None, unroll: int = 1):
    """Logits p(T) and the residuals: x, the gates (g, i, f, o) [T, B, 4n], c(0..T-1), h(0..T-1)
    [T, B, n] and the final state."""
    W_x, W_h, b = lstm_fused_weights(params)
    x_tm = time_major(x)
    zeros = jnp.zeros((x.shape[0], W_h.shape[1]), x.dtype)

    def step(state, inputs):
        xt, m = inputs
        gates = cells.lstm_gates(W_h, state, xt @ W_x.T + b)
        new = cells.lstm_update(state, gates)
        if m is not None:
            new = LSTMState(jnp.where(m, new.c, state.c), jnp.where(m, new.h, state.h))
        return new, (gates, state.c, state.h)

    final, (gates, c_prev, h_prev) = jax.lax.scan(step, LSTMState(zeros, zeros), (x_tm, mask),
                                                  unroll=unroll)
    return cells.project(params, final.h), (x_tm, gates, c_prev, h_prev, final)


def lstm_backward(params, residuals, dp, mask=None, unroll: int = 1):
    """Gradients of every parameter and of x, given dL/dp(T) = ``dp`` (module doc's equations)."""
    x_tm, gates, c_prev, h_prev, final = residuals
    W_x, W_h, _ = lstm_fused_weights(params)

    def step(carry, inputs):
        dh, dc_next, c = carry                       # dL/dh(t), dL/dc(t) carried from t+1, c(t)
        gate, c_before, m = inputs                   # (g, i, f, o)(t), c(t-1)
        dz, dc_f = _lstm_step_backward(gate, c, c_before, dh, dc_next, m)
        dh_before = _keep_if(m, dz @ W_h, dh)       # sum over gates of W_.h^T dL/dz_.(t)
        return (dh_before, _keep_if(m, dc_f, dc_next), c_before), dz

    dh_T = dp @ params["W_ph"]
    _, dz = jax.lax.scan(step, (dh_T, jnp.zeros_like(dh_T), final.c), (gates, c_prev, mask),
                         reverse=True, unroll=unroll)
    dW_x, db, dW_h = _weight_grads(dz, x_tm, h_prev)
    grads = {"W_ph": dp.T @ final.h, "b_p": dp.sum(0)}
    n = W_h.shape[1]
    for k, gate in enumerate(LSTM_GATES):
        rows = slice(k * n, (k + 1) * n)
        grads[f"W_{gate}x"], grads[f"W_{gate}h"] = dW_x[rows], dW_h[rows]
        grads[f"b_{gate}"] = db[rows]
    return grads, time_major(dz @ W_x)


# ----------------------------------------------------------------------------- an LSTM layer

@jax.custom_vjp
def lstm_layer(W_h, state: LSTMState, x_proj):
    """``lax.scan`` of ``cells.lstm_step`` over ``x_proj = W_x x(t) + b`` [T, B, 4n] from
    ``state`` -> ``(final LSTMState, hs [T, B, n])``, with the hand-derived BPTT as its backward
    pass: a drop-in for a sequence model that reads every h(t) (e.g. the char-LSTM's layers).
    Gradients flow to W_h, the initial state and x_proj (hence to W_x, b and the inputs)."""
    def step(s, xp):
        s = cells.lstm_step(W_h, s, xp)
        return s, s.h
    return jax.lax.scan(step, state, x_proj)


def _lstm_layer_fwd(W_h, state, x_proj):
    def step(s, xp):
        gates = cells.lstm_gates(W_h, s, xp)
        new = cells.lstm_update(s, gates)
        return new, (new.h, gates, s.c, s.h)
    final, (hs, gates, c_prev, h_prev) = jax.lax.scan(step, state, x_proj)
    return (final, hs), (W_h, gates, c_prev, h_prev, final.c)


def _lstm_layer_bwd(residuals, cotangents):
    W_h, gates, c_prev, h_prev, c_T = residuals
    d_final, d_hs = cotangents

    def step(carry, inputs):
        dh, dc_next, c = carry
        gate, c_before, dh_out = inputs              # dh_out: dL/dh(t) from the layer's output
        dz, dc_f = _lstm_step_backward(gate, c, c_before, dh + dh_out, dc_next)
        return (dz @ W_h, dc_f, c_before), dz

    (dh_0, dc_0, _), dz = jax.lax.scan(step, (d_final.h, d_final.c, c_T), (gates, c_prev, d_hs),
                                       reverse=True)
    rows = lambda v: v.reshape(-1, v.shape[-1])
    dW_h = jax.lax.optimization_barrier(rows(h_prev).T @ rows(dz)).T  # see _weight_grads
    return dW_h, LSTMState(dc_0, dh_0), dz


lstm_layer.defvjp(_lstm_layer_fwd, _lstm_layer_bwd)


# ----------------------------------------------------------------------------- custom_vjp

def _with_manual_backward(apply, forward, backward):
    """``apply(params, x, mask=None, unroll=1)`` whose reverse-mode derivative is ``backward``."""
    # unroll is a Python int that shapes the program: a non-differentiable, static argument.
    @functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
    def manual_apply(params, x, mask=None, unroll: int = 1):
        return apply(params, x, mask, unroll)

    def fwd(params, x, mask, unroll):
        logits, residuals = forward(params, x, mask, unroll)
        return logits, (params, residuals, mask)

    def bwd(unroll, saved, dp):
        params, residuals, mask = saved
        grads, dx = backward(params, residuals, dp, mask, unroll)
        return grads, dx, None

    manual_apply.defvjp(fwd, bwd)
    return manual_apply


rnn_apply = _with_manual_backward(cells.rnn_apply, rnn_forward, rnn_backward)
lstm_apply = _with_manual_backward(cells.lstm_apply, lstm_forward, lstm_backward)

MANUAL = {"rnn": rnn_apply, "lstm": lstm_apply}
"""Model name -> ``apply(params, x, mask=None, unroll=1)`` trained with the hand-derived BPTT."""
