"""Palindrome data (SPEC Part 1): read the first T-1 digits, predict the last.

A palindrome of length T is ceil(T/2) uniform digits 0-9 followed by their mirror (for odd T
the middle digit is not repeated), so the target, the last digit, equals the first one.
Everything here is pure and jit-able; ``length`` may be a traced value when ``max_length``
is given, which lets every length share one compiled program.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rnn_gnn import bptt, distributed
from rnn_gnn.cells import MODELS
from rnn_gnn.distributed import shard_batch
from rnn_gnn.optimizers import make_optimizer
from rnn_gnn.train import Group, init_state, softmax_cross_entropy, train_groups

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


def make_loss(apply, batch_size: int, input_dim: int, max_length: int,
              length: int | None = None):
    """``loss_fn(params, key, task)`` for the training loop: cross-entropy on the last step.

    Without ``length``, ``task`` is the run's palindrome length T (traced), so runs of
    different lengths share one program, padded to ``max_length`` and masked.  With a static
    ``length`` every run has that length and the program runs only its T-1 steps; its batches
    are the same numbers the padded program draws (the padded batch with the padding cut off),
    so a run's results do not depend on which of the two trained it.
    """
    def loss_fn(params, key, task):
        x, y = shard_batch(palindrome_batch(key, batch_size, task if length is None else length,
                                            input_dim, max_length))
        if length is None:
            logits = apply(params, x, mask=step_mask(task, max_length))
        else:
            logits = apply(params, x[:, max_length - length:])
        loss, accuracy = softmax_cross_entropy(logits, y)
        return loss, {"accuracy": accuracy}
    return loss_fn


@dataclasses.dataclass(frozen=True)
class Config:
    """One place for Part 1's settings.

    The defaults are the original study's, plus the initialisation the original left to each
    student: Glorot weights with every square matrix orthogonal (the recurrent ones, and the
    output projection when n = K), zero biases and a forget-gate bias of 1 for the LSTM.  Both models then start with a recurrent Jacobian whose singular
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
    return bptt.MANUAL[cfg.model_type] if cfg.backward == "manual" else MODELS[cfg.model_type].apply


def init_params(cfg: Config, key):
    extra = {"forget_bias": cfg.forget_bias} if cfg.model_type == "lstm" else {}
    return MODELS[cfg.model_type].init(key, cfg.input_dim, cfg.num_hidden, NUM_CLASSES,
                                       init=cfg.init, **extra)


def run_key(seed: int, length: int):
    """Each (seed, length) run has its own key, independent of what else is in the sweep."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), length)


def init_sweep(cfg: Config, lengths, seeds):
    """The stacked initial TrainState of every (length, seed) run, length-major, and the
    optimizer."""
    optimizer = make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.max_norm)
    keys = jnp.stack([run_key(s, t) for t in lengths for s in seeds])
    init_keys, train_keys = jax.vmap(jax.random.split, out_axes=1)(keys)
    params = jax.vmap(lambda k: init_params(cfg, k))(init_keys)
    state = jax.vmap(lambda p, k: init_state(p, optimizer, k))(params, train_keys)
    return state, optimizer


class Part(NamedTuple):
    """The runs of one length that one compiled program trains, and the device it runs on."""
    length: int
    runs: np.ndarray       # indices into the sweep's (length-major) run axis
    device: object


def plan(lengths, seeds, devices) -> list[Part]:
    """Split a sweep into one program per length, spread over ``devices``.

    Each length gets its own program, so a short palindrome never pays for the longest.  A
    length's seeds are split further only when there are fewer lengths than devices.  The
    parts go to devices longest first, each to the least loaded (cost: T-1 steps per run, plus
    one for the update), which keeps the devices' work level.
    """
    lengths, seeds, devices = list(lengths), list(seeds), list(devices)
    splits = min(len(seeds), -(-len(devices) // len(lengths)))
    parts = []
    for i, t in enumerate(lengths):
        for chunk in np.array_split(np.arange(len(seeds)), splits):
            parts.append((t, i * len(seeds) + chunk))
    load = [0.0] * len(devices)
    out = []
    for t, runs in sorted(parts, key=lambda p: -(p[0] * len(p[1]))):
        d = int(np.argmin(load))
        load[d] += t * len(runs)
        out.append(Part(t, runs, devices[d]))
    return out


def take(tree, runs):
    return jax.tree_util.tree_map(lambda x: x[runs], tree)


def put_back(parts: list[Part], trees):
    """The parts' trees (leading axis: their runs) joined into the sweep's run order."""
    order = np.argsort(np.concatenate([p.runs for p in parts]))
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs)[order],
                                  *jax.device_get(list(trees)))


def train_sweep(cfg: Config, lengths, seeds, *, state=None, log_every: int = 100,
                progress=True, callback=None, devices=None, mesh=None):
    """Train one model per (length, seed): one compiled program per length (``plan``), the
    programs spread over ``devices`` (default: the default device) and run side by side.

    ``state`` (optional) continues from a restored sweep state.  ``callback(state, history)``
    sees the sweep as one: the stacked TrainState ``[runs, ...]`` and the steps so far
    ``[runs, steps]``.  Returns ``(state, history, final)``: the stacked TrainState, per-step
    metrics ``[len(lengths), len(seeds), steps]`` of the steps run here, and the final
    loss/accuracy on a fresh batch of ``cfg.eval_batch`` palindromes,
    ``[len(lengths), len(seeds)]``.  ``mesh`` (``rnn_gnn.distributed.make_mesh``) instead
    splits each training batch over its devices.
    """
    lengths, seeds = list(lengths), list(seeds)
    max_length = max(lengths)
    apply = model_apply(cfg)
    initial, optimizer = init_sweep(cfg, lengths, seeds)
    state = initial if state is None else state
    parts = plan(lengths, seeds, [None] if devices is None or mesh is not None else devices)
    groups = [Group(make_loss(apply, cfg.batch_size, cfg.input_dim, max_length, p.length),
                    take(state, p.runs), None, p.device) for p in parts]

    def joined(states, histories):
        return put_back(parts, states), {k: put_back(parts, [h[k] for h in histories])
                                         for k in histories[0]}

    then = None if callback is None else (
        lambda states, histories: callback(*joined(states, [
            {k: np.concatenate(v, -1) for k, v in h.items()} for h in histories])))
    states, histories = train_groups(groups, optimizer, cfg.train_steps, log_every=log_every,
                                     progress=progress, callback=then, mesh=mesh)
    if not histories[0]:                     # resumed from the final checkpoint: nothing to run
        return state, {}, evaluate(cfg, state.params, lengths, seeds)
    state, history = joined(states, [{k: v for k, v in h.items() if k != "step"}
                                     for h in histories])
    shape = (len(lengths), len(seeds))
    history = {k: v.reshape(*shape, -1) for k, v in history.items()}
    history["step"] = histories[0]["step"]
    # Back on the mesh (replicated) or the default device, as the state came in.
    state = distributed.replicate(jax.tree_util.tree_map(jnp.asarray, state), mesh)
    return state, history, evaluate(cfg, state.params, lengths, seeds)


def evaluate(cfg: Config, params, lengths, seeds):
    """Loss and accuracy of stacked sweep params on fresh palindromes (never trained on).

    One padded program serves every length: evaluation runs once, so one compile costs less
    than a program per length would save."""
    max_length = max(lengths)
    loss_fn = make_loss(model_apply(cfg), cfg.eval_batch, cfg.input_dim, max_length)
    keys = jnp.stack([jax.random.fold_in(run_key(s, t), 10**6) for t in lengths for s in seeds])
    run_lengths = jnp.array([t for t in lengths for _ in seeds], jnp.int32)
    loss, metrics = jax.jit(jax.vmap(loss_fn))(params, keys, run_lengths)
    shape = (len(lengths), len(seeds))
    return {"loss": np.asarray(loss).reshape(shape),
            "accuracy": np.asarray(metrics["accuracy"]).reshape(shape)}
