"""Vanilla RNN and LSTM as pure functions (SPEC Part 1).

Parameters are plain dicts named exactly as in the SPEC equations, with weight matrices in
the equations' orientation ``[out, in]`` (so ``W_hx x`` is ``x @ W_hx.T`` for a batch):

    RNN:   W_hx [n, d]  W_hh [n, n]  b_h [n]  W_ph [K, n]  b_p [K]
    LSTM:  W_gx W_ix W_fx W_ox [n, d]   W_gh W_ih W_fh W_oh [n, n]
           b_g b_i b_f b_o [n]          W_ph [K, n]  b_p [K]

Inputs are ``x: [batch, time, input_dim]``; time runs through ``jax.lax.scan``.  The LSTM
keeps the per-gate names for readers while the compute path fuses them: the input
projection of all time steps is one matmul before the scan, and inside the scan one
``[batch, n] @ [n, 4n]`` matmul feeds all four gates (tests prove it equals the per-gate
equations).

An optional ``mask: [time]`` (True = a real step) lets sequences of different lengths share
one compiled program: left-padded steps leave the state untouched, so the final state is
exactly that of the unpadded sequence.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

Params = dict

LSTM_GATES = ("g", "i", "f", "o")  # input modulation, input, forget, output (SPEC order)
INITS = ("pytorch", "glorot", "orthogonal")


# ----------------------------------------------------------------------------- initialisation

def _weight(key, shape, init: str, fan_in_scale: float):
    """One weight matrix ``[out, in]``.

    pytorch:    U(-1/sqrt(n), 1/sqrt(n)) as torch.nn.RNN/LSTM (the original study's code).
    glorot:     Glorot-uniform on every matrix.
    orthogonal: orthogonal for every square matrix, Glorot-uniform for the others.  The
                square ones are the recurrent weights (the recurrent Jacobian's singular
                values start at 1) but also any input or output matrix that happens to be
                square (input_dim or num_classes equal to num_hidden, e.g. one-hot input
                with 10 hidden units).
    """
    if init == "pytorch":
        return jax.random.uniform(key, shape, minval=-fan_in_scale, maxval=fan_in_scale)
    if init == "orthogonal" and shape[0] == shape[1]:
        return jax.nn.initializers.orthogonal()(key, shape)
    if init in ("glorot", "orthogonal"):
        return jax.nn.initializers.glorot_uniform()(key, shape)
    raise ValueError(f"unknown init {init!r}; choose from {', '.join(INITS)}")


def rnn_init(key, input_dim: int, num_hidden: int, num_classes: int,
             init: str = "pytorch") -> Params:
    """Vanilla RNN parameters; biases start at zero except under the PyTorch scheme."""
    k = jax.random.split(key, 5)
    s = 1.0 / math.sqrt(num_hidden)
    bias = (lambda kk, m: _weight(kk, (m,), "pytorch", s)) if init == "pytorch" else \
        (lambda kk, m: jnp.zeros((m,)))
    return {
        "W_hx": _weight(k[0], (num_hidden, input_dim), init, s),
        "W_hh": _weight(k[1], (num_hidden, num_hidden), init, s),
        "b_h": bias(k[2], num_hidden),
        "W_ph": _weight(k[3], (num_classes, num_hidden), init, s),
        "b_p": bias(k[4], num_classes),
    }


def lstm_init(key, input_dim: int, num_hidden: int, num_classes: int,
              init: str = "pytorch", forget_bias: float = 0.0) -> Params:
    """LSTM parameters; ``forget_bias`` is added to b_f (1.0 is the Jozefowicz et al. trick)."""
    keys = iter(jax.random.split(key, 14))
    s = 1.0 / math.sqrt(num_hidden)
    p = {}
    for gate in LSTM_GATES:
        p[f"W_{gate}x"] = _weight(next(keys), (num_hidden, input_dim), init, s)
        p[f"W_{gate}h"] = _weight(next(keys), (num_hidden, num_hidden), init, s)
        p[f"b_{gate}"] = (_weight(next(keys), (num_hidden,), "pytorch", s) if init == "pytorch"
                          else jnp.zeros((num_hidden,)))
    p["b_f"] = p["b_f"] + forget_bias
    p["W_ph"] = _weight(next(keys), (num_classes, num_hidden), init, s)
    p["b_p"] = (_weight(next(keys), (num_classes,), "pytorch", s) if init == "pytorch"
                else jnp.zeros((num_classes,)))
    return p


def num_params(params: Params) -> int:
    """Number of trainable scalars in a parameter pytree."""
    return sum(int(x.size) for x in jax.tree_util.tree_leaves(params))


def lstm_num_params(d: int, n: int, k: int | None = None) -> int:
    """SPEC 1.5: 4(dn + n^2 + n) for the cell, plus nK + K with the output projection."""
    return 4 * (d * n + n * n + n) + (0 if k is None else n * k + k)


def rnn_num_params(d: int, n: int, k: int | None = None) -> int:
    """The vanilla RNN's count: dn + n^2 + n, plus nK + K with the output projection."""
    return d * n + n * n + n + (0 if k is None else n * k + k)


# ----------------------------------------------------------------------------- single steps

class LSTMState(NamedTuple):
    c: jax.Array  # [batch, n]
    h: jax.Array  # [batch, n]


def rnn_step(params: Params, h, x_proj):
    """h(t) = tanh(W_hx x(t) + W_hh h(t-1) + b_h), with ``x_proj = W_hx x(t) + b_h`` precomputed."""
    return jnp.tanh(x_proj + h @ params["W_hh"].T)


def lstm_fused_weights(params: Params):
    """The four gates' weights stacked in (g, i, f, o) order: W_x [4n, d], W_h [4n, n], b [4n]."""
    W_x = jnp.concatenate([params[f"W_{g}x"] for g in LSTM_GATES])
    W_h = jnp.concatenate([params[f"W_{g}h"] for g in LSTM_GATES])
    b = jnp.concatenate([params[f"b_{g}"] for g in LSTM_GATES])
    return W_x, W_h, b


def gate_scale(width: int, dtype=jnp.float32):
    """``a`` [4n]: 1 on the g block, 1/2 on the i, f, o blocks (see ``gate_activations``)."""
    n = width // 4
    return jnp.concatenate([jnp.ones(n, dtype), jnp.full(3 * n, 0.5, dtype)])


def gate_activations(z):
    """(g, i, f, o) = (tanh(z_g), sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)), stacked [..., 4n].

    With sigmoid(x) = tanh(x/2)/2 + 1/2 every block is ``a tanh(a z) + 1 - a`` (a = 1 for g,
    1/2 for i, f, o): one elementwise pass over all four gates.  On XLA:CPU this is about 4x
    cheaper than activating the four slices separately (docs/performance.md).
    """
    a = gate_scale(z.shape[-1], z.dtype)
    return a * jnp.tanh(a * z) + (1.0 - a)


def lstm_gates(W_h, state: LSTMState, x_proj):
    """The activated gates (g, i, f, o) [batch, 4n] given ``x_proj = W_x x(t) + b``."""
    return gate_activations(x_proj + state.h @ W_h.T)


def lstm_update(state: LSTMState, gates) -> LSTMState:
    """c(t) = g * i + c(t-1) * f,  h(t) = tanh(c(t)) * o."""
    g, i, f, o = jnp.split(gates, 4, axis=-1)
    c = g * i + state.c * f
    return LSTMState(c=c, h=jnp.tanh(c) * o)


def lstm_step(W_h, state: LSTMState, x_proj) -> LSTMState:
    """One LSTM step (SPEC equations) given ``x_proj = W_x x(t) + b``, shape [batch, 4n]."""
    return lstm_update(state, lstm_gates(W_h, state, x_proj))


# ----------------------------------------------------------------------------- sequences

def time_major(x):
    """``[batch, time, ...]`` <-> ``[time, batch, ...]``: ``lax.scan`` steps over the leading
    axis, so a sequence is scanned time-major."""
    return jnp.swapaxes(x, 0, 1)


def _masked(step: Callable, mask):
    """Wrap ``step(carry, x) -> carry`` so that masked-out steps leave the carry as it was."""
    if mask is None:
        return lambda carry, xs: step(carry, xs)

    def masked_step(carry, xs):
        x, m = xs
        new = step(carry, x)
        return jax.tree_util.tree_map(lambda a, b: jnp.where(m, a, b), new, carry)
    return masked_step


def _scan(step, carry, xs, mask, unroll):
    body = _masked(step, mask)
    inputs = xs if mask is None else (xs, mask)
    return jax.lax.scan(lambda c, x: (body(c, x), None), carry, inputs, unroll=unroll)[0]


def rnn_final_state(params: Params, x, mask=None, unroll: int = 1):
    """h(T) for ``x: [batch, time, d]``; h(0) = 0.  Returns [batch, n]."""
    x_proj = time_major(x @ params["W_hx"].T + params["b_h"])
    h0 = jnp.zeros((x.shape[0], params["W_hh"].shape[0]), x_proj.dtype)
    return _scan(lambda h, xp: rnn_step(params, h, xp), h0, x_proj, mask, unroll)


def lstm_final_state(params: Params, x, mask=None, unroll: int = 1) -> LSTMState:
    """(c(T), h(T)) for ``x: [batch, time, d]``; c(0) = h(0) = 0."""
    W_x, W_h, b = lstm_fused_weights(params)
    x_proj = time_major(x @ W_x.T + b)
    n = W_h.shape[1]
    zeros = jnp.zeros((x.shape[0], n), x_proj.dtype)
    return _scan(lambda s, xp: lstm_step(W_h, s, xp), LSTMState(zeros, zeros), x_proj, mask, unroll)


def project(params: Params, h):
    """p = W_ph h + b_p: [..., n] -> [..., K]."""
    return h @ params["W_ph"].T + params["b_p"]


def rnn_apply(params: Params, x, mask=None, unroll: int = 1):
    """Logits p(T) of the vanilla RNN: [batch, time, d] -> [batch, K]."""
    return project(params, rnn_final_state(params, x, mask, unroll))


def lstm_apply(params: Params, x, mask=None, unroll: int = 1):
    """Logits p(T) of the LSTM: [batch, time, d] -> [batch, K]."""
    return project(params, lstm_final_state(params, x, mask, unroll).h)


class Model(NamedTuple):
    init: Callable
    apply: Callable


MODELS = {
    "rnn": Model(rnn_init, rnn_apply),
    "lstm": Model(lstm_init, lstm_apply),
}
