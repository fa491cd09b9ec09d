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
    if top_k:
        kth = jax.lax.top_k(logits, top_k)[0][..., -1:]
        logits = jnp.where(logits < kth, -jnp.inf, logits)
    hot = temperature > 0
    drawn = jax.random.categorical(key, logits / jnp.where(hot, temperature, 1.0), axis=-1)
    return jnp.where(hot, drawn, jnp.argmax(logits, axis=-1))


@partial(jax.jit, static_argnames=("length", "top_k"))
def sample(params: dict, key, prime, length: int, temperature=1.0, top_k: int = 0):
    """Continue ``prime [B, P]`` (int ids, P >= 1) by ``length`` characters -> ``[B, length]``.

    The prime goes through ``forward`` (all its steps per layer at once); the loop then feeds
    each drawn character back in.
    """
    logits, state = forward(params, prime)
    fused = fuse(params)

    def body(carry, key):
        state, logits = carry
        ids = draw(key, logits, temperature, top_k)
        state, logits = step(fused, state, ids)
        return (state, logits), ids

    _, ids = jax.lax.scan(body, (state, logits[:, -1]), jax.random.split(key, length))
    return ids.T


def random_starts(key, data, num_samples: int):
    """``[num_samples, 1]`` first characters drawn from random positions of ``data [N]`` (so
    with the text's own character frequencies)."""
    return data[jax.random.randint(key, (num_samples, 1), 0, data.shape[0])]
