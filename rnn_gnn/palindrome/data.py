"""Palindrome data (SPEC Part 1): read the first T-1 digits, predict the last.

A palindrome of length T is ceil(T/2) uniform digits 0-9 followed by their mirror (for odd T
the middle digit is not repeated), so the target, the last digit, equals the first one.
Everything here is pure and jit-able; ``length`` may be a traced value when ``max_length``
is given, which lets every length share one compiled program.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

NUM_CLASSES = 10


def palindromes(key, batch_size: int, length: int) -> jax.Array:
    """Integer palindromes ``[batch, length]`` (static length)."""
    half = jax.random.randint(key, (batch_size, (length + 1) // 2), 0, NUM_CLASSES)
    return jnp.concatenate([half, half[:, : length // 2][:, ::-1]], axis=1)


def encode(digits, input_dim: int):
    """Digits ``[...]`` as inputs ``[..., input_dim]``: raw scalars (1) or one-hot (10)."""
    if input_dim == 1:
        return digits[..., None].astype(jnp.float32)
    if input_dim == NUM_CLASSES:
        return jax.nn.one_hot(digits, NUM_CLASSES)
    raise ValueError(f"input_dim must be 1 (raw digits) or 10 (one-hot), got {input_dim}")


def palindrome_batch(key, batch_size: int, length, input_dim: int = 1,
                     max_length: int | None = None):
    """``(inputs [batch, max_length-1, input_dim], targets [batch])``.

    Without ``max_length`` the inputs are the first T-1 digits.  With it, they are left-padded
    with zeros to ``max_length - 1`` steps; pair them with ``step_mask(length, max_length)``.
    """
    if max_length is None:
        digits = palindromes(key, batch_size, length)
        return encode(digits[:, :-1], input_dim), digits[:, -1]
    # Build the padded sequence position by position: position j (counted from the end of the
    # T-1 inputs) mirrors a random "half" digit, so one program serves every length.
    steps = max_length - 1
    half = jax.random.randint(key, (batch_size, (max_length + 1) // 2), 0, NUM_CLASSES)
    pos = jnp.arange(steps) - (steps - (length - 1))          # index within the palindrome
    mirror = jnp.minimum(pos, length - 1 - pos)                # palindrome[i] = half[min(i, T-1-i)]
    digits = jnp.take_along_axis(half, jnp.clip(mirror, 0, half.shape[1] - 1)[None, :]
                                 .repeat(batch_size, 0), axis=1)
    valid = pos >= 0
    inputs = jnp.where(valid[None, :, None], encode(digits, input_dim), 0.0)
    return inputs, half[:, 0]


def step_mask(length, max_length: int) -> jax.Array:
    """``[max_length - 1]`` booleans, True on the T-1 real (right-aligned) input steps."""
    steps = max_length - 1
    return jnp.arange(steps) >= steps - (length - 1)
