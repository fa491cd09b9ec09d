"""The Part 1 cells against the SPEC equations, flax, and the transformations they must survive."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from reference import lstm_forward, rnn_forward
from rnn_gnn import cells

B, T, N, K = 3, 7, 16, 10


def _inputs(input_dim, key=jax.random.PRNGKey(1)):
    if input_dim == 1:
        return jax.random.randint(key, (B, T, 1), 0, 10).astype(jnp.float32)
    return jax.nn.one_hot(jax.random.randint(key, (B, T), 0, 10), 10)


def _random_params(init_fn, input_dim, init="glorot", key=jax.random.PRNGKey(0)):
    # Non-zero biases everywhere so that every term of the equations is exercised.
    params = init_fn(key, input_dim, N, K, init=init)
    keys = jax.random.split(jax.random.PRNGKey(7), len(params))
    return {k: v + 0.1 * jax.random.normal(kk, v.shape) for (k, v), kk in
            zip(sorted(params.items()), keys)}


class CellsTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_rnn_equals_numpy_reference(self):
        for input_dim in (1, 10):
            params, x = _random_params(cells.rnn_init, input_dim), _inputs(input_dim)
            logits = self.variant(cells.rnn_apply)(params, x)
            chex.assert_shape(logits, (B, K))
            chex.assert_trees_all_close(logits, rnn_forward(params, x)[0].astype(np.float32),
                                        rtol=1e-5, atol=1e-5)

    @chex.variants(with_jit=True, without_jit=True)
    def test_lstm_equals_numpy_reference(self):
        for input_dim in (1, 10):
            params, x = _random_params(cells.lstm_init, input_dim), _inputs(input_dim)
            state = self.variant(cells.lstm_final_state)(params, x)
            ref_logits, ref_h, ref_c = lstm_forward(params, x)
            chex.assert_trees_all_close((state.h, state.c), (ref_h, ref_c), rtol=1e-5, atol=1e-5)
            chex.assert_trees_all_close(self.variant(cells.lstm_apply)(params, x), ref_logits,
                                        rtol=1e-5, atol=1e-5)

    @chex.variants(with_jit=True, without_jit=True)
    def test_lstm_equals_flax_lstm_cell(self):
        params, x = _random_params(cells.lstm_init, 10), _inputs(10)
        # flax: gates i, f, g, o; input kernels (no bias) "i?", recurrent kernels with bias "h?",
        # kernels [in, out].  Map the SPEC's [out, in] weights across.
        flax_params = {"params": {}}
        for gate in "ifgo":
            flax_params["params"][f"i{gate}"] = {"kernel": params[f"W_{gate}x"].T}
            flax_params["params"][f"h{gate}"] = {"kernel": params[f"W_{gate}h"].T,
                                                 "bias": params[f"b_{gate}"]}
        cell = nn.LSTMCell(features=N)

        def flax_final_h(x):
            carry = (jnp.zeros((B, N)), jnp.zeros((B, N)))
            for t in range(T):
                carry, _ = cell.apply(flax_params, carry, x[:, t])
            return carry

        c, h = flax_final_h(x)
        ours = self.variant(cells.lstm_final_state)(params, x)
        chex.assert_trees_all_close((ours.c, ours.h), (c, h), rtol=1e-5, atol=1e-5)

    def test_fused_weights_keep_gate_order(self):
        params = _random_params(cells.lstm_init, 1)
        W_x, W_h, b = cells.lstm_fused_weights(params)
        chex.assert_shape((W_x, W_h, b), [(4 * N, 1), (4 * N, N), (4 * N,)])
        for k, gate in enumerate(cells.LSTM_GATES):
            chex.assert_trees_all_equal(W_h[k * N:(k + 1) * N], params[f"W_{gate}h"])

    @chex.variants(with_jit=True, without_jit=True)
    def test_mask_skips_left_padding_exactly(self):
        for init, apply in ((cells.rnn_init, cells.rnn_apply), (cells.lstm_init, cells.lstm_apply)):
            params, x = _random_params(init, 1), _inputs(1)
            pad = 4
            padded = jnp.concatenate([jnp.full((B, pad, 1), 5.0), x], axis=1)
            mask = jnp.arange(T + pad) >= pad
            chex.assert_trees_all_close(self.variant(apply)(params, padded, mask),
                                        apply(params, x), rtol=1e-6, atol=1e-6)
            # and the padding would have mattered without the mask
            assert not np.allclose(apply(params, padded), apply(params, x), atol=1e-3)

    def test_vmap_over_stacked_params_equals_loop(self):
        keys = jax.random.split(jax.random.PRNGKey(3), 4)
        x = _inputs(10)
        for init, apply in ((cells.rnn_init, cells.rnn_apply), (cells.lstm_init, cells.lstm_apply)):
            stacked = jax.vmap(lambda k: init(k, 10, N, K))(keys)
            batched = jax.jit(jax.vmap(apply, in_axes=(0, None)))(stacked, x)
            one = jax.jit(apply)  # compiled once for the loop (eager, every call retraces)
            looped = jnp.stack([one(init(k, 10, N, K), x) for k in keys])
            chex.assert_shape(batched, (4, B, K))
            chex.assert_trees_all_close(batched, looped, rtol=1e-5, atol=1e-6)

    def test_gradients_flow_to_every_named_parameter(self):
        for init, apply in ((cells.rnn_init, cells.rnn_apply), (cells.lstm_init, cells.lstm_apply)):
            params, x = init(jax.random.PRNGKey(0), 10, N, K), _inputs(10)
            grads = jax.jit(jax.grad(lambda p: apply(p, x).sum() ** 2))(params)
            chex.assert_trees_all_equal_shapes(grads, params)
            chex.assert_tree_all_finite(grads)
            assert all(float(jnp.abs(g).sum()) > 0 for g in jax.tree_util.tree_leaves(grads))


@pytest.mark.parametrize("d,n,k", [(1, 128, 10), (10, 128, 10), (87, 128, 87), (3, 5, 2)])
def test_param_count(d, n, k):
    """SPEC 1.5: the LSTM has 4(dn + n^2 + n) + nK + K parameters; the RNN dn + n^2 + n + nK + K."""
    lstm = cells.lstm_init(jax.random.PRNGKey(0), d, n, k)
    rnn = cells.rnn_init(jax.random.PRNGKey(0), d, n, k)
    assert cells.num_params(lstm) == 4 * (d * n + n * n + n) + n * k + k
    assert cells.lstm_num_params(d, n, k) == cells.num_params(lstm)
    assert cells.num_params(rnn) == d * n + n * n + n + n * k + k == cells.rnn_num_params(d, n, k)
    assert cells.lstm_num_params(d, n) == 4 * (d * n + n * n + n)


@pytest.mark.parametrize("init", cells.INITS)
def test_inits(init):
    n = 64
    p = cells.lstm_init(jax.random.PRNGKey(0), 1, n, 10, init=init, forget_bias=1.0)
    chex.assert_shape([p["W_ix"], p["W_ih"], p["b_f"], p["W_ph"]], [(n, 1), (n, n), (n,), (10, n)])
    if init == "pytorch":
        bound = 1 / np.sqrt(n)
        assert float(jnp.abs(p["W_ih"]).max()) <= bound
        assert float((p["b_f"] - 1.0).max()) <= bound and float((p["b_f"] - 1.0).min()) >= -bound
    else:
        chex.assert_trees_all_equal(p["b_f"], jnp.ones(n))
    if init == "orthogonal":
        chex.assert_trees_all_close(p["W_ih"] @ p["W_ih"].T, jnp.eye(n), atol=1e-5)
    with pytest.raises(ValueError, match="unknown init"):
        cells.rnn_init(jax.random.PRNGKey(0), 1, 8, 10, init="nope")
