"""Writing text with a trained model (SPEC 2.1b, 2.1c, 2.2).

The next character is drawn from ``softmax(p / tau)``; ``tau = 0`` takes the argmax (greedy),
the limit of ``tau -> 0``.  Optionally only the ``top_k`` likeliest characters, or the
nucleus (the fewest likeliest characters holding probability ``top_p``, Holtzman et al.
2020), may be drawn.  A prime (one character or a sentence the user starts) is read first,
then the text is written CHUNK characters at a time, each chunk one compiled ``lax.scan``
carrying every layer's (c, h) from character to character, so the text can be as long as
wanted; a batch of samples runs in parallel.

Chunk i draws its noise from ``fold_in(key, i)`` whatever the length, so a longer text
continues the shorter one of the same key.  ``sample`` is one compiled program for one length
(for use inside ``jit``); ``write`` runs the same chunks from Python, so that one compiled
chunk serves every length and a new length never recompiles.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from rnn_gnn.cells import time_major
from rnn_gnn.text.model import forward, fuse, step


def draw(key, logits, temperature, top_k: int = 0, top_p: float = 1.0):
    """Sample one character per row: ``logits [..., V]`` -> ids ``[...]`` (int), drawn from
    ``softmax(logits / temperature)`` with fresh noise from ``key`` (``pick`` with that noise).

    ``temperature`` may be traced; 0 means argmax.  ``top_k > 0`` keeps only the ``top_k``
    largest logits, ``top_p < 1`` only the nucleus (both static: without them no sort is
    compiled into the per-character step).
    """
    return pick(jax.random.gumbel(key, logits.shape), logits, temperature, top_k, top_p)


def nucleus(scores, top_p):
    """``scores [..., V]`` with everything outside the nucleus set to -inf: the likeliest
    entries whose probabilities, ``softmax(scores)``, add up to ``top_p`` or just past it.

    An entry is kept when the mass of the entries likelier than it is still below ``top_p``,
    so the likeliest one always stays (a tiny ``top_p`` is greedy) and ``top_p = 1`` keeps all.
    """
    ordered = -jnp.sort(-scores, axis=-1)                         # likeliest first
    probs = jax.nn.softmax(ordered, axis=-1)
    before = jnp.cumsum(probs, axis=-1) - probs                   # mass of the likelier ones
    kept = jnp.where(before < top_p, ordered, jnp.inf)
    threshold = jnp.min(kept, axis=-1, keepdims=True)            # the least likely one kept
    return jnp.where(scores < threshold, -jnp.inf, scores)


def pick(noise, logits, temperature, top_k: int = 0, top_p: float = 1.0):
    """``draw`` with its noise given: ``noise [..., V]`` standard Gumbel, ``logits [..., V]``
    -> ids ``[...]``.  ``argmax(logits / tau + noise)`` is a draw from ``softmax(logits / tau)``
    (the Gumbel-max trick), so the noise of a whole text can be made in one vectorised call
    before the sequential loop (``write_chunk``); ``tau = 0`` ignores the noise (argmax).
    Top-k and the nucleus are taken of the tempered distribution, the one actually sampled
    (as Hugging Face and nanoGPT do)."""
    if top_k:
        kth = jax.lax.top_k(logits, top_k)[0][..., -1:]
        logits = jnp.where(logits < kth, -jnp.inf, logits)
    hot = temperature > 0
    scaled = logits / jnp.where(hot, temperature, 1.0)
    if top_p < 1:
        scaled = nucleus(scaled, top_p)
    return jnp.argmax(jnp.where(hot, scaled + noise, logits), axis=-1)


# Every chunk writes this many characters with its noise made up front: vectorised, yet
# memory stays flat for any length.
CHUNK = 256


def read(params: dict, prime):
    """The state after reading ``prime [B, P]`` (all its steps per layer at once) and the
    logits of the first character to write: the ``carry`` of ``write_chunk``."""
    logits, state = forward(params, prime)
    return state, logits[:, -1]


def write_chunk(fused: dict, carry, key, index, temperature, top_k: int = 0,
                top_p: float = 1.0):
    """Chunk ``index`` of a text: CHUNK characters after ``carry = (state, logits)``, with
    noise from ``fold_in(key, index)``.  Returns ``(carry, ids [B, CHUNK])``;
    ``fused = model.fuse(params)``."""
    def one(carry, noise):                           # one character
        state, logits = carry
        ids = pick(noise, logits, temperature, top_k, top_p)
        state, logits = step(fused, state, ids)
        return (state, logits), ids

    noise = jax.random.gumbel(jax.random.fold_in(key, index), (CHUNK, *carry[1].shape))
    # Unrolling lets XLA fuse work across characters: about 3x faster on CPU.
    carry, ids = jax.lax.scan(one, carry, noise, unroll=16)
    return carry, ids.T


def num_chunks(length: int) -> int:
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    return -(-length // CHUNK)


@partial(jax.jit, static_argnames=("length", "top_k", "top_p"))
def sample(params: dict, key, prime, length: int, temperature=1.0, top_k: int = 0,
           top_p: float = 1.0):
    """Continue ``prime [B, P]`` (int ids, P >= 1) by ``length`` characters -> ``[B, length]``
    (``length = 0``: an empty ``[B, 0]``).  One compiled program per ``length``."""
    chunks = num_chunks(length)
    if chunks == 0:
        return jnp.zeros((prime.shape[0], 0), jnp.int32)
    fused = fuse(params)
    _, ids = jax.lax.scan(
        lambda carry, i: write_chunk(fused, carry, key, i, temperature, top_k, top_p),
        read(params, prime), jnp.arange(chunks))                       # ids [chunks, B, CHUNK]
    return time_major(ids).reshape(prime.shape[0], -1)[:, :length]


_read = jax.jit(read)
_fuse = jax.jit(fuse)
_write_chunk = jax.jit(write_chunk, static_argnames=("top_k", "top_p"))


def write(params: dict, key, prime, length: int, temperature=1.0, top_k: int = 0,
          top_p: float = 1.0) -> np.ndarray:
    """``sample`` with one compiled chunk for every length: the chunks are called from Python
    (one dispatch per CHUNK characters) and joined on the host, so a new ``length`` compiles
    nothing.  The same text as ``sample`` for the same arguments, as a NumPy array."""
    fused, carry = _fuse(params), _read(params, prime)
    out = [np.zeros((prime.shape[0], 0), np.int32)]
    for i in range(num_chunks(length)):
        carry, ids = _write_chunk(fused, carry, key, i, temperature, top_k, top_p)
        out.append(np.asarray(ids))
    return np.concatenate(out, axis=1)[:, :length]


def random_starts(key, data, num_samples: int):
    """``[num_samples, 1]`` first characters drawn from random positions of ``data [N]`` (so
    with the text's own character frequencies)."""
    return data[jax.random.randint(key, (num_samples, 1), 0, data.shape[0])]
