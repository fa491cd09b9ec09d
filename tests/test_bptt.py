"""The hand-derived BPTT (rnn_gnn.bptt) against jax.grad of the scan cells, and in training."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_gnn import bptt, cells, palindrome
from rnn_gnn.train import softmax_cross_entropy

MODELS = ("rnn", "lstm")


def _problem(model, input_dim, T, batch=3, hidden=6, seed=0):
    k = jax.random.split(jax.random.PRNGKey(seed), 3)
    params = cells.MODELS[model].init(k[0], input_dim, hidden, 10)
    x = jax.random.normal(k[1], (batch, T, input_dim))
    y = jax.random.randint(k[2], (batch,), 0, 10)
    return params, x, y


def _loss(apply, unroll=1):
    def loss(params, x, y, mask=None):
        return softmax_cross_entropy(apply(params, x, mask, unroll), y)[0]
    return loss


def _grads(apply, params, x, y, mask=None, unroll=1):
    return jax.grad(_loss(apply, unroll), argnums=(0, 1))(params, x, y, mask)


# Random shapes: each case its own T, batch and hidden size; every model sees both encodings,
# with and without a mask, T from a single step up to 9, and scan unrolling.
CASES = [(1, 1, False, 1), (10, 4, False, 1), (1, 9, True, 1), (10, 6, True, 2)]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("input_dim,T,masked,unroll", CASES)
def test_manual_gradients_equal_autodiff(model, input_dim, T, masked, unroll):
    params, x, y = _problem(model, input_dim, T, batch=2 + T % 3, hidden=5 + T, seed=T)
    # Mask out a left-padded prefix, as palindrome batches do (at least one real step).
    mask = jnp.arange(T) >= T // 2 if masked else None

    @jax.jit
    def both(params, x, y):
        return (_grads(cells.MODELS[model].apply, params, x, y, mask),
                _grads(bptt.MANUAL[model], params, x, y, mask, unroll),
                cells.MODELS[model].apply(params, x, mask),
                bptt.MANUAL[model](params, x, mask, unroll))
    expected, manual, logits, manual_logits = both(params, x, y)
    chex.assert_trees_all_close(manual, expected, atol=1e-5, rtol=1e-4)
    chex.assert_trees_all_close(manual_logits, logits)


@pytest.mark.parametrize("model", MODELS)
def test_masked_steps_pass_gradients_through(model):
    """Left padding plus a mask gives exactly the gradient of the unpadded sequence."""
    params, x, y = _problem(model, 1, 5)
    padded = jnp.concatenate([jnp.full((3, 4, 1), 7.0), x], axis=1)
    mask = jnp.arange(9) >= 4
    grads = jax.jit(lambda *a: _grads(bptt.MANUAL[model], *a)[0])
    chex.assert_trees_all_close(grads(params, padded, y, mask), grads(params, x, y), atol=1e-6)


def test_output_layer_gradient_is_the_spec_formula():
    """dL/dW_ph = (y_hat - y) h(T)^T (averaged over the batch) and dL/db_p = y_hat - y."""
    params, x, y = _problem("rnn", 10, 6, batch=5)
    h_T = np.asarray(cells.rnn_final_state(params, x))
    logits = h_T @ np.asarray(params["W_ph"]).T + np.asarray(params["b_p"])
    y_hat = np.exp(logits - logits.max(1, keepdims=True))
    y_hat /= y_hat.sum(1, keepdims=True)
    delta = (y_hat - np.eye(10)[np.asarray(y)]) / len(y)
    grads, _ = jax.jit(lambda *a: _grads(bptt.MANUAL["rnn"], *a))(params, x, y)
    np.testing.assert_allclose(grads["W_ph"], delta.T @ h_T, atol=1e-6)
    np.testing.assert_allclose(grads["b_p"], delta.sum(0), atol=1e-6)


def test_manual_backward_trains_like_autodiff():
    """A short real training run: the custom_vjp path reaches the accuracy autodiff reaches.
    At T = 10 only: the manual path (the default) learns T = 5 in
    test_train.test_both_models_learn_length_5."""
    base = palindrome.Config(model_type="lstm", input_dim=10, num_hidden=32, batch_size=64,
                             learning_rate=3e-3, train_steps=300, eval_batch=512)
    accuracy = {}
    for backward in ("autodiff", "manual"):
        cfg = palindrome.Config(**{**base.__dict__, "backward": backward})
        _, history, final = palindrome.train_sweep(cfg, [10], [0], progress=False)
        accuracy[backward] = final["accuracy"][:, 0]
    np.testing.assert_array_less(0.95, accuracy["manual"])
    np.testing.assert_allclose(accuracy["manual"], accuracy["autodiff"], atol=0.03)


def test_lstm_layer_gradients_equal_autodiff():
    """bptt.lstm_layer (every h(t) and the final state out) against jax.grad of the scan."""
    T, B, n = 6, 3, 5
    k = jax.random.split(jax.random.PRNGKey(3), 6)
    W_h = jax.random.normal(k[0], (4 * n, n)) * 0.5
    state = cells.LSTMState(jax.random.normal(k[1], (B, n)), jax.random.normal(k[2], (B, n)))
    x_proj = jax.random.normal(k[3], (T, B, 4 * n))
    w_hs, w_final = jax.random.normal(k[4], (T, B, n)), jax.random.normal(k[5], (B, n))

    def scan_layer(W_h, state, x_proj):
        def step(s, xp):
            s = cells.lstm_step(W_h, s, xp)
            return s, s.h
        return jax.lax.scan(step, state, x_proj)

    def loss(layer):
        def f(W_h, state, x_proj):
            final, hs = layer(W_h, state, x_proj)
            return (hs * w_hs).sum() + (final.c * w_final).sum() + (final.h * w_final ** 2).sum()
        return jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2)))
    chex.assert_trees_all_close(loss(bptt.lstm_layer)(W_h, state, x_proj),
                                loss(scan_layer)(W_h, state, x_proj), atol=1e-5, rtol=1e-4)
