"""Part 2 sampling: temperature semantics (2.1c), top-k, the nucleus (top-p), long texts with
carried state (2.2), and any length from one compiled chunk."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np

from rnn_gnn.text import sample as sample_module
from rnn_gnn.text.model import forward, init_params
from rnn_gnn.text.sample import draw, random_starts, sample, write

LOGITS = jnp.array([2.0, 1.0, 0.3, 0.0, -1.0, -3.0])   # distinct, so argmax is unique
DRAWS = 40_000


def entropy(p):
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


class DrawTest(chex.TestCase):

    def frequencies(self, temperatures, top_k=0):
        """Frequencies of each id in ``DRAWS`` draws from LOGITS, per temperature."""
        logits = jnp.broadcast_to(LOGITS, (DRAWS, LOGITS.size))  # one independent draw per row
        fn = self.variant(functools.partial(draw, top_k=top_k))   # one compile, tau traced
        out = []
        for tau in temperatures:
            ids = fn(jax.random.PRNGKey(0), logits, tau)
            chex.assert_shape(ids, (DRAWS,))
            out.append(np.bincount(np.asarray(ids), minlength=LOGITS.size) / DRAWS)
        return out

    @chex.variants(with_jit=True, without_jit=True)
    def test_temperature_zero_and_its_limit_are_argmax(self):
        logits = jax.random.normal(jax.random.PRNGKey(1), (64, 30)) * 3
        fn = self.variant(draw)
        greedy = jnp.argmax(logits, -1)
        for key in range(5):
            chex.assert_trees_all_equal(fn(jax.random.PRNGKey(key), logits, 0.0), greedy)
            chex.assert_trees_all_equal(fn(jax.random.PRNGKey(key), logits, 1e-4), greedy)
        assert not np.array_equal(fn(jax.random.PRNGKey(0), logits, 1.0), greedy)

    @chex.variants(with_jit=True, without_jit=True)
    def test_frequencies_follow_softmax_of_logits_over_temperature(self):
        taus = (1.0, 0.5, 2.0)
        for tau, freq in zip(taus, self.frequencies(taus)):
            want = np.asarray(jax.nn.softmax(LOGITS / tau))
            # 4 standard errors of a frequency (at most sqrt(0.25 / 40,000)) is 0.01.
            chex.assert_trees_all_close(freq, want, atol=0.01)

    @chex.variants(with_jit=True, without_jit=True)
    def test_higher_temperature_gives_higher_entropy(self):
        taus = (0.25, 0.5, 1.0, 2.0, 4.0)
        measured = [entropy(f) for f in self.frequencies(taus)]
        assert all(a < b for a, b in zip(measured, measured[1:])), measured
        assert measured[-1] < np.log(LOGITS.size)       # never past uniform
        assert measured[0] > 0                          # still random at 0.25

    @chex.variants(with_jit=True, without_jit=True)
    def test_top_k_keeps_the_k_most_likely(self):
        freq, = self.frequencies([2.0], top_k=2)
        assert freq[2:].sum() == 0
        top = np.exp(np.asarray(LOGITS[:2]) / 2)
        chex.assert_trees_all_close(freq[:2], top / top.sum(), atol=0.01)


def test_sample_carries_state_far_beyond_the_training_window():
    """A 200-character greedy sample must equal the argmax of the model re-reading its own
    output from the start: only true if (c, h) of every layer was carried each step."""
    vocab = 11
    params = init_params(jax.random.PRNGKey(0), vocab, 24, num_layers=2)
    params = jax.tree_util.tree_map(lambda w: 3 * w, params)  # sharper, less repetitive
    prime = jax.random.randint(jax.random.PRNGKey(1), (3, 4), 0, vocab)
    out = sample(params, jax.random.PRNGKey(2), prime, 200, 0.0)
    chex.assert_shape(out, (3, 200))
    chex.assert_type(out, jnp.int32)
    logits, _ = jax.jit(forward)(params, jnp.concatenate([prime, out[:, :-1]], axis=1))
    chex.assert_trees_all_equal(jnp.argmax(logits[:, 3:], -1), out)
    # Tau > 0 (same shapes: the same compiled program): the samples of a batch differ from
    # each other, and the same seed repeats them exactly.
    same_prime = prime[:1].repeat(3, 0)
    hot = sample(params, jax.random.PRNGKey(3), same_prime, 200, 1.0)
    assert len({tuple(row) for row in np.asarray(hot)}) == 3
    chex.assert_trees_all_equal(hot, sample(params, jax.random.PRNGKey(3), same_prime, 200, 1.0))


def test_random_starts_come_from_the_text():
    data = jnp.array([5, 5, 5, 7], jnp.int32)
    starts = random_starts(jax.random.PRNGKey(0), data, 400)
    chex.assert_shape(starts, (400, 1))
    assert set(np.unique(starts)) == {5, 7} and 0.6 < float((starts == 5).mean()) < 0.9


# ----------------------------------------------------------------------------- nucleus (top-p)

def nucleus_of(probs, top_p):
    """The nucleus by its definition, in NumPy: the fewest likeliest ids whose probability
    reaches ``top_p``."""
    order = np.argsort(-probs)
    size = int(np.searchsorted(np.cumsum(probs[order]), top_p) + 1)
    return set(order[:size].tolist())


class NucleusTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_only_the_nucleus_of_the_tempered_distribution_is_drawn(self):
        logits = jnp.broadcast_to(LOGITS, (DRAWS, LOGITS.size))
        for tau, top_p, want in [(1.0, 0.8, {0, 1, 2}), (2.0, 0.8, {0, 1, 2, 3}),
                                 (1.0, 0.5, {0}), (0.5, 0.98, {0, 1, 2})]:
            probs = np.asarray(jax.nn.softmax(LOGITS / tau))
            assert nucleus_of(probs, top_p) == want            # the cases mean what they say
            fn = self.variant(functools.partial(draw, top_p=top_p))
            ids = np.asarray(fn(jax.random.PRNGKey(3), logits, tau))
            freq = np.bincount(ids, minlength=LOGITS.size) / DRAWS
            inside = sorted(want)
            assert set(np.flatnonzero(freq)) == want, (tau, top_p, freq)
            chex.assert_trees_all_close(freq[inside], probs[inside] / probs[inside].sum(),
                                        atol=0.01)

    def test_random_rows_draw_inside_their_own_nucleus(self):
        logits = jax.random.normal(jax.random.PRNGKey(4), (2000, 30)) * 2
        probs = np.asarray(jax.nn.softmax(logits))
        for top_p in (0.3, 0.9):
            ids = np.asarray(jax.jit(functools.partial(draw, top_p=top_p))(
                jax.random.PRNGKey(5), logits, 1.0))
            assert all(i in nucleus_of(p, top_p) for i, p in zip(ids, probs))
            assert len(set(ids)) > 1
        # top_p 1 is off; with top_k the nucleus is taken among the k kept.
        chex.assert_trees_all_equal(draw(jax.random.PRNGKey(5), logits, 1.0, top_p=1.0),
                                    draw(jax.random.PRNGKey(5), logits, 1.0))
        ids = np.asarray(draw(jax.random.PRNGKey(6), logits, 1.0, top_k=3, top_p=0.99))
        top3 = np.argsort(-probs, axis=1)[:, :3]
        assert all(i in row for i, row in zip(ids, top3))


# ----------------------------------------------------------------------------- lengths

def tiny_model():
    """One small layer: these tests are about chunking, and share one compiled chunk."""
    params = init_params(jax.random.PRNGKey(0), 11, 8, num_layers=1)
    return jax.tree_util.tree_map(lambda w: 3 * w, params)


PRIME = jax.random.randint(jax.random.PRNGKey(1), (2, 3), 0, 11)


def test_length_zero_is_an_empty_text():
    """``train_text.py --sample_length 1`` asks for 0 characters after the first one."""
    for fn in (sample, write):
        out = fn(tiny_model(), jax.random.PRNGKey(0), PRIME, 0, 1.0)
        assert out.shape == (2, 0)


def test_a_longer_text_continues_the_shorter_and_write_equals_sample():
    params, key = tiny_model(), jax.random.PRNGKey(7)
    longest = np.asarray(sample(params, key, PRIME, 600, 1.0, top_p=0.9))
    assert len({tuple(row) for row in longest}) == 2 and len(np.unique(longest)) > 3
    for length in (1, 255, 256, 257, 600):
        np.testing.assert_array_equal(write(params, key, PRIME, length, 1.0, top_p=0.9),
                                      longest[:, :length])


def test_write_compiles_nothing_for_a_new_length():
    params, key = tiny_model(), jax.random.PRNGKey(0)
    write(params, key, PRIME, 10, 0.5, top_p=0.9)
    compiled = sample_module._write_chunk._cache_size(), sample_module._read._cache_size()
    for length in (1, 300, 777, 1500):
        assert write(params, key, PRIME, length, 0.5, top_p=0.9).shape == (2, length)
    write(params, key, PRIME, 50, 2.0, top_p=0.9)            # the temperature is traced too
    assert (sample_module._write_chunk._cache_size(),
            sample_module._read._cache_size()) == compiled
