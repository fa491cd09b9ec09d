"""Gradient-flow measurements (rnn_gnn.palindrome.gradients) against brute-force references."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from rnn_gnn import cells
from rnn_gnn.palindrome import NUM_CLASSES, gradients, optimizer_study, palindrome_batch

def _setup(model_type, input_dim, length, batch=4, n=8, seed=0, **init_kw):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    params = cells.MODELS[model_type].init(k1, input_dim, n, NUM_CLASSES, **init_kw)
    x, y = palindrome_batch(k2, batch, length, input_dim)
    return params, x, y


def _run(model_type, params, x, Ws, start=0, state=None):
    """A Python loop over steps ``start..S-1`` from ``state`` (zeros when None), step t using
    its own recurrent matrix ``Ws[t]``: the brute-force reference.  Returns the final state."""
    W_x, b = ((params["W_hx"], params["b_h"]) if model_type == "rnn"
              else cells.lstm_fused_weights(params)[::2])
    if state is None:
        zeros = jnp.zeros((x.shape[0], Ws[0].shape[1]))
        state = zeros if model_type == "rnn" else cells.LSTMState(zeros, zeros)
    for t in range(start, x.shape[1]):
        xp = x[:, t] @ W_x.T + b
        state = (cells.rnn_step({"W_hh": Ws[t]}, state, xp) if model_type == "rnn"
                 else cells.lstm_step(Ws[t], state, xp))
    return state


def _loss_sum(model_type, params, state, y):
    h = state if model_type == "rnn" else state.h
    return optax.softmax_cross_entropy_with_integer_labels(cells.project(params, h), y).sum()


@pytest.mark.parametrize("model_type,input_dim", [("rnn", 1), ("lstm", 10)])
def test_step_gradients_equal_brute_force(model_type, input_dim):
    params, x, y = _setup(model_type, input_dim, length=6)
    d_state, d_W = gradients.step_gradients(model_type, params, x, y)
    S = x.shape[1]

    @jax.jit  # the unrolled loops below, compiled once rather than run op by op
    def brute_force(params, x, y):
        W = gradients.recurrent_matrix(model_type, params)

        def rest_loss(t):  # the loss of the steps after t, from the state at t
            return lambda s: _loss_sum(model_type, params,
                                       _run(model_type, params, x, [W] * S, t + 1, s), y)
        # dl/dh(t): differentiate the loss of the remaining steps with respect to the state.
        d_states = [jax.grad(rest_loss(t))(_run(model_type, params, x[:, :t + 1], [W] * S))
                    for t in range(S)]
        # Step t's term of dL/dW_hh: a separate matrix per step in an unrolled loop.
        d_Ws = jax.grad(lambda Ws: _loss_sum(model_type, params, _run(model_type, params, x, Ws),
                                             y))([W] * S)
        return d_states, d_Ws

    ref_states, ref_W = brute_force(params, x, y)
    for t in range(S):
        got = jax.tree_util.tree_map(lambda a: a[t], d_state)
        chex.assert_trees_all_close(got, ref_states[t], atol=1e-5, rtol=1e-4)
    chex.assert_trees_all_close(d_W, jnp.stack(ref_W) / x.shape[0], atol=1e-6, rtol=1e-4)

    # The terms add up to the library cell's own gradient (mean loss).
    def mean_loss(p):
        logits = cells.MODELS[model_type].apply(p, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    g = jax.jit(jax.grad(mean_loss))(params)
    total = g["W_hh"] if model_type == "rnn" else jnp.concatenate(
        [g[f"W_{gate}h"] for gate in cells.LSTM_GATES])
    chex.assert_trees_all_close(d_W.sum(0), total, atol=1e-6, rtol=1e-4)
    chex.assert_trees_all_equal(d_W[0], jnp.zeros_like(d_W[0]))   # h(0) = 0


def test_rnn_terms_are_delta_times_previous_state():
    """SPEC 1.1 in NumPy: step t's term is delta(t) h(t-1)^T, delta(t) = dl/dh(t) * (1 - h(t)^2)."""
    params, x, y = _setup("rnn", 1, length=6)   # shapes of the test above: compiled once
    d_h, d_W = map(np.asarray, gradients.step_gradients("rnn", params, x, y))
    P = {k: np.asarray(v, np.float64) for k, v in params.items()}
    h = np.zeros((x.shape[0], P["W_hh"].shape[0]))
    hs = [h]
    for t in range(x.shape[1]):
        h = np.tanh(np.asarray(x[:, t]) @ P["W_hx"].T + h @ P["W_hh"].T + P["b_h"])
        hs.append(h)
    for t in range(x.shape[1]):
        delta = d_h[t] * (1 - hs[t + 1] ** 2)
        np.testing.assert_allclose(d_W[t], delta.T @ hs[t] / x.shape[0], atol=1e-6, rtol=1e-4)
    # And the last state's gradient is W_ph^T (y_hat - y), per example.
    logits = hs[-1] @ P["W_ph"].T + P["b_p"]
    y_hat = np.exp(logits - logits.max(1, keepdims=True))
    y_hat /= y_hat.sum(1, keepdims=True)
    np.testing.assert_allclose(d_h[-1], (y_hat - np.eye(10)[np.asarray(y)]) @ P["W_ph"],
                               atol=1e-6, rtol=1e-4)


def test_padded_lengths_give_the_unpadded_flow(model_type="lstm"):
    lengths, max_length, batch = [4, 7], 7, 6
    params, _, _ = _setup(model_type, 10, max_length)
    stacked = jax.tree_util.tree_map(lambda a: jnp.stack([a, 2 * a]), params)
    key = jax.random.PRNGKey(3)
    flow = gradients.palindrome_flow(model_type, stacked, jnp.array(lengths), 10, batch, key,
                                    max_length)
    for i, length in enumerate(lengths):
        x, y = palindrome_batch(key, batch, length, 10, max_length)
        pad = max_length - length
        p = jax.tree_util.tree_map(lambda a: a[i], stacked)
        plain = gradients.gradient_flow(model_type, p, x[:, pad:], y)
        for k in plain:
            chex.assert_trees_all_close(flow[k][i, pad:], plain[k], atol=1e-6, rtol=1e-5)
            chex.assert_trees_all_equal(flow[k][i, :pad], jnp.zeros(pad))


def test_rnn_gradient_vanishes_at_init_and_a_saturated_forget_gate_carries_it():
    """The measurement tells the two regimes apart: the PyTorch-initialised RNN's dl/dh(t)
    shrinks geometrically going back in time, while an LSTM whose forget gates are ~1 keeps
    dl/dc(t) nearly constant."""
    params, x, y = _setup("rnn", 10, length=20, batch=32, n=32, init="pytorch")
    flow = gradients.gradient_flow("rnn", params, x, y)
    assert flow["dh"][0] < 1e-3 * flow["dh"][-1]
    assert gradients.decay_rate(flow["dh"]) < 0.75
    params, x, y = _setup("lstm", 10, length=20, batch=32, n=32, init="pytorch", forget_bias=6.0)
    flow = gradients.gradient_flow("lstm", params, x, y)
    assert flow["dc"][0] > 0.5 * flow["dc"][-1]
    assert gradients.decay_rate(flow["dc"]) > 0.95


def test_history_helpers():
    r = 0.5
    assert gradients.decay_rate(r ** np.arange(10, 0, -1.0)) == pytest.approx(r)
    assert np.isnan(gradients.decay_rate([0.0, 0.0, 1.0]))
    assert gradients.clipped_fraction([1.0, 11.0, 10.0, 30.0], 10.0) == 0.5
    acc = np.array([[0, 0, 1, 1, 1.0], [0, 1, 0, 1, 0.0]])
    np.testing.assert_array_equal(optimizer_study.steps_to(acc, 1.0), [3, 2])
    np.testing.assert_array_equal(optimizer_study.steps_to(acc, 1.0, width=2), [4, np.nan])
