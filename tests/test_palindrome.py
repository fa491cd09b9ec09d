"""Palindrome data: mirror property, target = first digit, both parities, padding, and the
randomness of the padded path (uniform kept positions, an independent left half)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

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


# ----------------------------------------------------------------------------- randomness

def chi2_p(counts, expected) -> float:
    """p-value of Pearson's chi-square statistic (df = cells - 1)."""
    counts = np.asarray(counts, np.float64).ravel()
    expected = np.broadcast_to(expected, counts.shape)
    return float(stats.chi2.sf(np.sum((counts - expected) ** 2 / expected), counts.size - 1))


P_MIN = 1e-6  # fixed keys make these deterministic; a real bias gives p-values far below this


@pytest.mark.parametrize("length", [5, 8, 12])
def test_padded_batch_kept_positions_are_uniform_and_the_left_half_independent(length):
    """On the padded path (one program for every length) each kept input position is uniform
    over 0-9, and the free left half of the palindrome is independent across positions."""
    max_length, batch = 12, 20000
    make = jax.jit(P.palindrome_batch, static_argnums=(1, 3, 4))  # length stays traced
    inputs, targets = make(jax.random.PRNGKey(7), batch, length, 1, max_length)
    mask = np.asarray(P.step_mask(length, max_length))
    digits = np.asarray(inputs)[:, mask, 0].astype(int)          # palindrome positions 0..T-2
    for position in range(length - 1):
        counts = np.bincount(digits[:, position], minlength=10)
        assert len(counts) == 10, counts
        assert chi2_p(counts, batch / 10) > P_MIN, (position, counts)
    left = digits[:, :(length + 1) // 2]                           # the free digits
    for i in range(left.shape[1]):
        for j in range(i + 1, left.shape[1]):
            table = np.zeros((10, 10))
            np.add.at(table, (left[:, i], left[:, j]), 1)
            expected = np.outer(table.sum(1), table.sum(0)) / batch
            statistic = np.sum((table - expected) ** 2 / expected)
            assert stats.chi2.sf(statistic, 81) > P_MIN, (i, j)      # (10-1)^2 dof
    np.testing.assert_array_equal(np.asarray(targets), digits[:, 0])


def test_the_chi_square_checks_can_fail():
    """The bounds above reject what a broken generator would give."""
    rng = np.random.default_rng(0)
    assert chi2_p(np.bincount(rng.integers(0, 9, 20000), minlength=10), 2000) < P_MIN
    a = rng.integers(0, 10, 20000)
    table = np.zeros((10, 10))
    np.add.at(table, (a, (a + rng.integers(0, 2, 20000)) % 10), 1)   # b depends on a
    expected = np.outer(table.sum(1), table.sum(0)) / 20000
    assert stats.chi2.sf(np.sum((table - expected) ** 2 / expected), 81) < P_MIN


def test_figure_curves_are_seed_means_over_blocks_without_diverged_steps():
    rng = np.random.default_rng(0)
    history = {k: rng.random((2, 3, 25)) for k in ("loss", "accuracy", "grad_norm")}
    history["finite"] = np.ones((2, 3, 25), bool)
    history["finite"][1, 2, 7:] = False              # one seed diverged at step 8
    history["loss"][1, 2, 7:] = np.nan
    history["finite"][0, :, 12] = False              # every seed of T[0] failed at step 13
    c = P.figure_curves(history, 5)
    np.testing.assert_array_equal(c["step"], [5, 10, 15, 20, 25])
    assert c["smooth"] == 5
    chex.assert_shape([c["loss"], c["accuracy"], c["grad_norm"]], (2, 5))
    # T[1], steps 6..10: seeds 0 and 1 for steps 8..10, all three for 6..7.
    want = (history["loss"][1, :, 5:7].mean(0).sum()
            + history["loss"][1, :2, 7:10].mean(0).sum()) / 5
    np.testing.assert_allclose(c["loss"][1, 1], want)
    assert np.isnan(c["accuracy"][0, 2]) and np.isfinite(c["accuracy"][0, [0, 1, 3, 4]]).all()
    np.testing.assert_allclose(c["grad_norm"][0, 4], history["grad_norm"][0, :, 20:].mean())
    # Fewer steps than the width: one block of all of them; a partial last block is dropped.
    assert P.figure_curves({k: v[..., :3] for k, v in history.items()}, 5)["smooth"] == 3
    assert P.figure_curves({k: v[..., :24] for k, v in history.items()}, 5)["loss"].shape == (2, 4)
