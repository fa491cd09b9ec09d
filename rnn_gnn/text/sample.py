"""Writing text with a trained model (SPEC 2.1b, 2.1c, 2.2).

The next character is drawn from ``softmax(p / tau)``; ``tau = 0`` takes the argmax (greedy),
the limit of ``tau -> 0``.  ``sample`` reads a prime (one character or a sentence the user
starts), then writes ``length`` characters in one compiled ``lax.scan``, carrying every
layer's (c, h) from character to character, so the text can be as long as wanted; a batch of
samples runs in parallel.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from rnn_gnn.text.model import forward, fuse, step


def draw(key, logits, temperature, top_k: int = 0):
    """One id per row of ``logits [..., V]`` from ``softmax(logits / temperature)``.

    ``temperature`` may be traced; 0 means argmax.  ``top_k > 0`` (static) first keeps only the
    ``top_k`` largest logits.
    """
    return pick(jax.random.gumbel(key, logits.shape), logits, temperature, top_k)


def pick(noise, logits, temperature, top_k: int = 0):
    """``draw`` with its Gumbel noise given: ``argmax(logits / tau + noise)`` is a draw from
    ``softmax(logits / tau)`` (the Gumbel-max trick), so the noise of a whole text can be made
    in one vectorised call before the sequential loop."""
    if top_k:
        kth = jax.lax.top_k(logits, top_k)[0][..., -1:]
        logits = jnp.where(logits < kth, -jnp.inf, logits)
    hot = temperature > 0
    scores = jnp.where(hot, logits / jnp.where(hot, temperature, 1.0) + noise, logits)
    return jnp.argmax(scores, axis=-1)


# Noise is made CHUNK characters at a time: vectorised, yet memory stays flat for any length.
CHUNK = 256


@partial(jax.jit, static_argnames=("length", "top_k"))
def sample(params: dict, key, prime, length: int, temperature=1.0, top_k: int = 0):
    """Continue ``prime [B, P]`` (int ids, P >= 1) by ``length`` characters -> ``[B, length]``.

    The prime goes through ``forward`` (all its steps per layer at once); the loop then feeds
    each drawn character back in.
    """
    logits, state = forward(params, prime)
    fused = fuse(params)

    def write(carry, noise):                         # one character
        state, logits = carry
        ids = pick(noise, logits, temperature, top_k)
        state, logits = step(fused, state, ids)
        return (state, logits), ids

    size = min(CHUNK, length)

    def write_chunk(carry, key):                     # ``size`` characters, noise made up front
        noise = jax.random.gumbel(key, (size, *carry[1].shape))
        # Unrolling lets XLA fuse work across characters: about 3x faster on CPU.
        return jax.lax.scan(write, carry, noise, unroll=16)

    chunks = -(-length // size)
    _, ids = jax.lax.scan(write_chunk, (state, logits[:, -1]), jax.random.split(key, chunks))
    ids = ids.reshape(chunks * size, -1)[:length]
    return ids.T


def random_starts(key, data, num_samples: int):
    """``[num_samples, 1]`` first characters drawn from random positions of ``data [N]`` (so
    with the text's own character frequencies)."""
    return data[jax.random.randint(key, (num_samples, 1), 0, data.shape[0])]
