"""Palindrome data: mirror property, target = first digit, both parities, padding."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_gnn import palindrome as P


@pytest.mark.parametrize("length", [2, 3, 5, 6, 10, 11])
def test_palindromes_mirror_and_target(length):
    digits = np.asarray(P.palindromes(jax.random.PRNGKey(length), 256, length))
    chex.assert_shape(digits, (256, length))
    np.testing.assert_array_equal(digits, digits[:, ::-1])
    assert digits.min() >= 0 and digits.max() <= 9
    inputs, targets = P.palindrome_batch(jax.random.PRNGKey(length), 256, length)
    chex.assert_shape(inputs, (256, length - 1, 1))
    chex.assert_type([inputs, targets], [jnp.float32, jnp.int32])
    np.testing.assert_array_equal(np.asarray(targets), np.asarray(inputs)[:, 0, 0])


def test_digits_are_uniform_including_leading_zero():
    digits = np.asarray(P.palindromes(jax.random.PRNGKey(0), 20000, 5))[:, 0]
    freq = np.bincount(digits, minlength=10) / digits.size
    np.testing.assert_allclose(freq, 0.1, atol=0.01)


def test_one_hot_encoding():
    inputs, targets = P.palindrome_batch(jax.random.PRNGKey(0), 32, 9, input_dim=10)
    chex.assert_shape(inputs, (32, 8, 10))
    np.testing.assert_array_equal(np.asarray(inputs).sum(-1), 1)
    np.testing.assert_array_equal(np.asarray(inputs)[:, 0].argmax(-1), np.asarray(targets))
    with pytest.raises(ValueError, match="input_dim"):
        P.encode(jnp.zeros(3, jnp.int32), 4)


@pytest.mark.parametrize("length", [2, 5, 6, 11, 12])
def test_padded_batch_is_a_right_aligned_palindrome(length):
    max_length = 12
    make = jax.jit(P.palindrome_batch, static_argnums=(1, 3, 4))  # length stays traced
    inputs, targets = make(jax.random.PRNGKey(1), 64, length, 1, max_length)
    mask = np.asarray(P.step_mask(length, max_length))
    chex.assert_shape([inputs, mask], [(64, max_length - 1, 1), (max_length - 1,)])
    assert mask.sum() == length - 1 and mask[-1] and not mask[:max_length - length].any()
    x = np.asarray(inputs)[..., 0]
    assert (x[:, ~mask] == 0).all()
    full = np.concatenate([x[:, mask], np.asarray(targets)[:, None]], axis=1)
    np.testing.assert_array_equal(full, full[:, ::-1])


def test_loss_fn_runs_all_lengths_in_one_vmapped_program():
    from rnn_gnn.cells import lstm_apply, lstm_init
    params = lstm_init(jax.random.PRNGKey(0), 10, 8, 10)
    loss_fn = P.make_loss(lstm_apply, 16, 10, 9)
    lengths = jnp.array([3, 5, 9])
    losses, metrics = jax.jit(jax.vmap(loss_fn, in_axes=(None, 0, 0)))(
        params, jax.random.split(jax.random.PRNGKey(0), 3), lengths)
    chex.assert_shape([losses, metrics["accuracy"]], [(3,), (3,)])
    chex.assert_tree_all_finite(losses)
    # near ln(10) for an untrained model
    np.testing.assert_allclose(np.asarray(losses), np.log(10), atol=0.3)
