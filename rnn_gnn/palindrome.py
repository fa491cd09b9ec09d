"""Palindrome data (SPEC Part 1): read the first T-1 digits, predict the last.

A palindrome of length T is ceil(T/2) uniform digits 0-9 followed by their mirror (for odd T
the middle digit is not repeated), so the target, the last digit, equals the first one.
Everything here is pure and jit-able; ``length`` may be a traced value when ``max_length``
is given, which lets every length share one compiled program.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

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


def make_loss(apply, batch_size: int, input_dim: int, max_length: int):
    """``loss_fn(params, key, length)`` for the training loop: cross-entropy on the last step.

    ``length`` (the palindrome length T) is the per-run task, so runs of different lengths are
    vmapped into one program, padded to ``max_length`` and masked.
    """
    from rnn_gnn.distributed import shard_batch
    from rnn_gnn.train import softmax_cross_entropy

    def loss_fn(params, key, length):
        x, y = shard_batch(palindrome_batch(key, batch_size, length, input_dim, max_length))
        logits = apply(params, x, mask=step_mask(length, max_length))
        loss, accuracy = softmax_cross_entropy(logits, y)
        return loss, {"accuracy": accuracy}
    return loss_fn


@dataclasses.dataclass(frozen=True)
class Config:
    """One place for Part 1's settings.

    The defaults are the original study's, plus the initialisation the original left to each
    student: Glorot input weights, orthogonal recurrent weights, zero biases and a forget-gate
    bias of 1 for the LSTM.  Both models then start with a recurrent Jacobian whose singular
    values are 1, so the comparison measures the architectures rather than a scale choice; the
    README reports the PyTorch-style uniform init too (``init="pytorch"``, ``forget_bias=0``).
    """
    model_type: str = "lstm"
    input_dim: int = 1
    num_hidden: int = 128
    batch_size: int = 128
    learning_rate: float = 1e-3
    optimizer: str = "rmsprop"
    max_norm: float = 10.0
    train_steps: int = 10000
    init: str = "orthogonal"
    forget_bias: float = 1.0
    backward: str = "manual"  # the hand-derived BPTT (rnn_gnn.bptt), faster; or "autodiff"
    eval_batch: int = 2048


def model_apply(cfg: Config):
    """The model's ``apply(params, x, mask)`` with the configured backward pass."""
    if cfg.backward == "manual":
        from rnn_gnn import bptt
        return bptt.MANUAL[cfg.model_type]
    from rnn_gnn.cells import MODELS
    return MODELS[cfg.model_type].apply


def init_params(cfg: Config, key):
    from rnn_gnn.cells import MODELS
    extra = {"forget_bias": cfg.forget_bias} if cfg.model_type == "lstm" else {}
    return MODELS[cfg.model_type].init(key, cfg.input_dim, cfg.num_hidden, NUM_CLASSES,
                                       init=cfg.init, **extra)


def run_key(seed: int, length: int):
    """Each (seed, length) run has its own key, independent of what else is in the sweep."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), length)


def init_sweep(cfg: Config, lengths, seeds):
    """The stacked initial TrainState of every (length, seed) run and its optimizer."""
    from rnn_gnn.train import init_state, make_optimizer

    optimizer = make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.max_norm)
    keys = jnp.stack([run_key(s, t) for t in lengths for s in seeds])
    init_keys, train_keys = jax.vmap(jax.random.split, out_axes=1)(keys)
    params = jax.vmap(lambda k: init_params(cfg, k))(init_keys)
    state = jax.vmap(lambda p, k: init_state(p, optimizer, k))(params, train_keys)
    return state, optimizer


def train_sweep(cfg: Config, lengths, seeds, *, state=None, log_every: int = 100,
                progress=True, callback=None, mesh=None):
    """Train one model per (length, seed), all vmapped in one compiled program.

    ``state`` (optional) continues from a restored sweep state.  Returns
    ``(state, history, final)``: the stacked TrainState ``[runs, ...]``, per-step metrics
    ``[len(lengths), len(seeds), steps]`` of the steps run here, and the final loss/accuracy
    on a fresh batch of ``cfg.eval_batch`` palindromes, ``[len(lengths), len(seeds)]``.
    ``mesh`` (``rnn_gnn.distributed.make_mesh``) splits each training batch over its devices.
    """
    from rnn_gnn.train import train

    lengths, seeds = list(lengths), list(seeds)
    max_length = max(lengths)
    apply = model_apply(cfg)
    initial, optimizer = init_sweep(cfg, lengths, seeds)
    state = initial if state is None else state
    run_lengths = jnp.array([t for t in lengths for _ in seeds], jnp.int32)
    loss_fn = make_loss(apply, cfg.batch_size, cfg.input_dim, max_length)
    state, history = train(loss_fn, optimizer, state, cfg.train_steps, task=run_lengths,
                           log_every=log_every, vmapped=True, progress=progress,
                           callback=callback, mesh=mesh)
    shape = (len(lengths), len(seeds))
    history = {k: (v.reshape(*shape, -1) if k != "step" else v) for k, v in history.items()}
    return state, history, evaluate(cfg, state.params, lengths, seeds)


def evaluate(cfg: Config, params, lengths, seeds):
    """Loss and accuracy of stacked sweep params on fresh palindromes (never trained on)."""
    max_length = max(lengths)
    loss_fn = make_loss(model_apply(cfg), cfg.eval_batch, cfg.input_dim, max_length)
    keys = jnp.stack([jax.random.fold_in(run_key(s, t), 10**6) for t in lengths for s in seeds])
    run_lengths = jnp.array([t for t in lengths for _ in seeds], jnp.int32)
    loss, metrics = jax.jit(jax.vmap(loss_fn))(params, keys, run_lengths)
    shape = (len(lengths), len(seeds))
    return {"loss": np.asarray(loss).reshape(shape),
            "accuracy": np.asarray(metrics["accuracy"]).reshape(shape)}
