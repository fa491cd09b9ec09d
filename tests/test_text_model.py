"""Part 2 model: the stacked LSTM against a NumPy re-implementation of the SPEC equations,
state carrying, and the one-step path used for sampling.  (A tiny text learned to near-zero
loss through the whole training pipeline is in test_text_train.py.)"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_gnn.cells import (lstm_final_state, lstm_fused_weights, lstm_num_params, lstm_step,
                           num_params)
from rnn_gnn.text.model import forward, fuse, init_params, step, zero_state

V, N = 7, 16


def numpy_lstm_stack(params, ids):
    """The SPEC's per-gate equations, layer after layer, in float64 NumPy: logits [B, T, V]."""
    p = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
    sig = lambda z: 1 / (1 + np.exp(-z))
    x = p["embed"][ids] if "embed" in p else np.eye(V)[ids]
    for layer in p["layers"]:
        B, T, _ = x.shape
        n = layer["W_gh"].shape[0]
        h, c, out = np.zeros((B, n)), np.zeros((B, n)), []
        for t in range(T):
            gate = lambda name, f: f(x[:, t] @ layer[f"W_{name}x"].T + h @ layer[f"W_{name}h"].T
                                     + layer[f"b_{name}"])
            g, i, f, o = gate("g", np.tanh), gate("i", sig), gate("f", sig), gate("o", sig)
            c = g * i + c * f
            h = np.tanh(c) * o
            out.append(h)
        x = np.stack(out, axis=1)
    return x @ p["W_ph"].T + p["b_p"]


@pytest.mark.parametrize("embed_dim", [0, 5], ids=["one-hot", "embedding"])
def test_forward_equals_numpy_reference(embed_dim):
    params = init_params(jax.random.PRNGKey(0), V, N, num_layers=3, embed_dim=embed_dim)
    ids = jax.random.randint(jax.random.PRNGKey(1), (4, 9), 0, V)
    logits, state = forward(params, ids)
    chex.assert_shape(logits, (4, 9, V))
    chex.assert_shape([s.h for s in state] + [s.c for s in state], (4, N))
    np.testing.assert_allclose(logits, numpy_lstm_stack(params, np.asarray(ids)), atol=2e-5)


def test_parameters_are_part_1_cells_and_count_matches_spec():
    params = init_params(jax.random.PRNGKey(0), V, N, num_layers=2)
    assert num_params(params) == lstm_num_params(V, N) + lstm_num_params(N, N, V)
    # One layer with one-hot input is exactly the Part 1 LSTM on one-hot vectors.
    one = init_params(jax.random.PRNGKey(0), V, N, num_layers=1)
    ids = jax.random.randint(jax.random.PRNGKey(1), (3, 6), 0, V)
    _, (final,) = forward(one, ids)
    ref = lstm_final_state(one["layers"][0], jax.nn.one_hot(ids, V))
    chex.assert_trees_all_close(tuple(final), tuple(ref), atol=1e-6)


def test_state_carries_across_pieces_and_step_matches_forward():
    params = init_params(jax.random.PRNGKey(2), V, N, num_layers=2)
    ids = jax.random.randint(jax.random.PRNGKey(3), (2, 12), 0, V)
    run = jax.jit(forward)
    whole, final = run(params, ids, zero_state(params, 2))
    first, mid = run(params, ids[:, :6], zero_state(params, 2))
    second, final2 = run(params, ids[:, 6:], mid)           # the same program, state carried
    chex.assert_trees_all_close(jnp.concatenate([first, second], 1), whole, atol=1e-5)
    chex.assert_trees_all_close(final2, final, atol=1e-5)
    fused, one_step = fuse(params), jax.jit(step)
    state, per_step = zero_state(params, 2), []
    for t in range(12):
        state, logits = one_step(fused, state, ids[:, t])
        per_step.append(logits)
    chex.assert_trees_all_close(jnp.stack(per_step, 1), whole, atol=1e-5)
    chex.assert_trees_all_close(state, final, atol=1e-5)


def test_dropout_on_layer_outputs_only_when_asked():
    params = init_params(jax.random.PRNGKey(0), V, N, num_layers=2)
    ids = jax.random.randint(jax.random.PRNGKey(1), (2, 5), 0, V)
    plain, plain_state = forward(params, ids)
    key = jax.random.PRNGKey(9)
    chex.assert_trees_all_close(forward(params, ids, dropout_key=key, dropout=0.0)[0], plain)
    dropped, state = forward(params, ids, dropout_key=key, dropout=0.5)
    assert not np.allclose(dropped, plain)
    chex.assert_trees_all_close(dropped, forward(params, ids, dropout_key=key, dropout=0.5)[0])
    # One layer: its recurrence is untouched (same final state) and only the h(t) fed to the
    # projection is dropped, with inverted scaling.
    single = init_params(jax.random.PRNGKey(0), V, N, num_layers=1)
    logits, (final,) = forward(single, ids, dropout_key=key, dropout=0.5)
    _, (want_final,) = forward(single, ids)
    chex.assert_trees_all_close(final, want_final)
    hs = []
    s = want_final._replace(c=jnp.zeros((2, N)), h=jnp.zeros((2, N)))
    W_x, W_h, b = lstm_fused_weights(single["layers"][0])
    for t in range(5):
        s = lstm_step(W_h, s, W_x.T[ids[:, t]] + b)
        hs.append(s.h)
    hs = jnp.stack(hs)                                                     # [T, B, N]
    keep = jax.random.bernoulli(jax.random.fold_in(key, 0), 0.5, hs.shape)
    want = jnp.where(keep, hs / 0.5, 0.0) @ single["W_ph"].T + single["b_p"]
    chex.assert_trees_all_close(logits, jnp.swapaxes(want, 0, 1), atol=1e-5)
