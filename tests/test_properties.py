"""Property-based tests (hypothesis): the list/range flag parser, the palindrome generator for
any T >= 2, and corpus loading on arbitrary bytes (a corpus or a clear error, never a
traceback).  Examples are few and small, so the whole file runs in seconds."""

import argparse
import functools
import tempfile
from pathlib import Path

import jax
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_gnn import cli
from rnn_gnn import palindrome as P
from rnn_gnn.errors import DataError
from rnn_gnn.text import corpus

# No example database: the tests must not write into the checkout.
PROPERTY = settings(max_examples=60, deadline=None, database=None)


# ----------------------------------------------------------------------------- int_list

@PROPERTY
@given(st.lists(st.integers(-10**12, 10**12), max_size=8), st.sampled_from([",", ", ", " ,"]))
def test_int_list_reads_back_any_comma_separated_integers(values, sep):
    assert cli.int_list(sep.join(map(str, values))) == values


@PROPERTY
@given(st.integers(-50, 50), st.integers(-50, 50), st.integers(1, 7) | st.none())
def test_int_list_ranges_include_their_end(start, stop, step):
    text = f"{start}:{stop}" + ("" if step is None else f":{step}")
    want = list(range(start, stop + 1, step or 1))
    assert cli.int_list(text) == want
    assert all(start <= v <= stop for v in want) and (not want or want[0] == start)


@PROPERTY
@given(st.integers(-50, 50), st.integers(-50, 50), st.integers(-5, 0))
def test_int_list_refuses_a_step_that_is_not_positive(start, stop, step):
    try:
        cli.int_list(f"{start}:{stop}:{step}")
    except argparse.ArgumentTypeError as e:
        assert "start:stop[:step]" in str(e)
    else:
        raise AssertionError("accepted a non-positive step")


# Short strings only: "0:99999999999" is a valid, astronomically long range.
@PROPERTY
@given(st.text(alphabet="0123456789:,- x\t+_.", max_size=7) | st.text(max_size=7))
def test_int_list_on_any_text_gives_integers_or_its_one_error(text):
    try:
        values = cli.int_list(text)
    except argparse.ArgumentTypeError as e:
        assert repr(text) in str(e) and "\n" not in str(e)
    else:
        assert isinstance(values, list) and all(type(v) is int for v in values)


# ----------------------------------------------------------------------------- palindromes

MAX_LENGTH = 40
padded = jax.jit(P.palindrome_batch, static_argnums=(1, 3, 4))  # one program for every T


@functools.partial(jax.jit, static_argnums=(1, 2))
def unpadded(key, batch, length):
    """The digits and the unpadded batch from one key: one compiled program per static
    length, rather than one per function (or per operation) and length."""
    return P.palindromes(key, batch, length), P.palindrome_batch(key, batch, length)


def is_palindrome(rows):
    return np.array_equal(rows, rows[:, ::-1])


# Each new static length compiles a program: fewer examples, one batch size.
@settings(max_examples=6, deadline=None, database=None)
@given(st.integers(2, MAX_LENGTH), st.integers(0, 2**31 - 1))
def test_palindromes_of_any_length(length, seed):
    key, batch = jax.random.PRNGKey(seed), 3
    digits, (inputs, targets) = unpadded(key, batch, length)
    digits = np.asarray(digits)
    assert digits.shape == (batch, length) and is_palindrome(digits)
    assert digits.min() >= 0 and digits.max() <= 9
    assert inputs.shape == (batch, length - 1, 1)
    np.testing.assert_array_equal(np.asarray(targets), np.asarray(inputs)[:, 0, 0])
    np.testing.assert_array_equal(np.asarray(targets), digits[:, -1])


@PROPERTY
@given(st.integers(2, MAX_LENGTH), st.integers(0, 2**31 - 1), st.sampled_from([1, 10]))
def test_padded_palindromes_of_any_length(length, seed, input_dim):
    inputs, targets = padded(jax.random.PRNGKey(seed), 4, length, input_dim, MAX_LENGTH)
    inputs, targets = np.asarray(inputs), np.asarray(targets)
    mask = np.asarray(P.step_mask(length, MAX_LENGTH))
    assert inputs.shape == (4, MAX_LENGTH - 1, input_dim) and mask.sum() == length - 1
    assert mask[-1] and not mask[:MAX_LENGTH - length].any()       # right-aligned
    assert (inputs[:, ~mask] == 0).all()                            # zero padding
    digits = inputs[..., 0] if input_dim == 1 else inputs.argmax(-1)
    if input_dim == 10:
        assert (inputs[:, mask].sum(-1) == 1).all()
    full = np.concatenate([digits[:, mask], targets[:, None]], axis=1)
    assert full.shape == (4, length) and is_palindrome(full)
    assert targets.min() >= 0 and targets.max() <= 9


# ----------------------------------------------------------------------------- corpora

PIECES = ["\ufeff", "*** START OF THIS PROJECT GUTENBERG EBOOK X ***", "*** END OF THE BOOK ***",
          "End of Project Gutenberg's X", "End of the Project Gutenberg EBook", "\n", "\r\n", " ",
          "a", "é", "\x00", "\U0001f600", "Once upon a time"]
TEXTS = st.lists(st.sampled_from(PIECES) | st.text(max_size=12), max_size=12).map("".join)
BYTES = st.binary(max_size=300) | TEXTS.map(lambda t: t.encode("utf-8", "surrogatepass"))


@PROPERTY
@given(BYTES, st.integers(1, 12))
def test_corpus_from_any_bytes_is_a_corpus_or_a_clear_error(raw, seq_length):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "book.txt"
        path.write_bytes(raw)
        try:
            text = corpus.read_text(path)
        except DataError as e:
            assert str(path) in str(e) and "\n" not in str(e), e
            return
    assert isinstance(text, str) and text.strip()
    vocab = corpus.make_vocab(text)
    assert list(vocab) == sorted(set(vocab)) == sorted(set(text))
    ids = corpus.encode(text, vocab)
    assert corpus.decode(ids, vocab) == text
    try:
        train, val = corpus.split(ids, seq_length)
    except DataError as e:
        assert "needs at least" in str(e) and len(ids) < seq_length + 2
        return
    np.testing.assert_array_equal(np.concatenate([train, val]), ids)
    assert len(train) >= seq_length + 2
