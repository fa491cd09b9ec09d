"""The one training loop of the library.

A task is a pure ``loss_fn(params, key, task) -> (loss, metrics)``: it draws its own batch
(or dropout mask) from ``key`` inside the compiled step, so the whole step, data included, is
one XLA program.  ``task`` is any pytree of per-run settings (e.g. the palindrome length) that
is vmapped alongside the state; it is ``None`` for a single run.  The loop runs ``log_every`` steps per compiled call (a ``lax.scan`` over steps),
records every step's metrics, and can train many independent runs (seeds, lengths) side by side
with ``jax.vmap`` when the state carries a leading run axis.

Optimizers come from Optax by name; clipping by global norm is chained in front.
"""

from __future__ import annotations

from typing import Callable, Iterable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnn_gnn import distributed

# Each entry maps a learning rate (float or schedule) to an Optax transformation.  RMSProp
# uses decay 0.99 and eps 1e-8 as torch.optim.RMSprop, the original study's optimizer.
OPTIMIZERS: dict[str, Callable] = {
    "sgd": lambda lr: optax.sgd(lr),
    "momentum": lambda lr: optax.sgd(lr, momentum=0.9),
    "nesterov": lambda lr: optax.sgd(lr, momentum=0.9, nesterov=True),
    "rmsprop": lambda lr: optax.rmsprop(lr, decay=0.99, eps=1e-8),
    "adam": lambda lr: optax.adam(lr),
    "adamw": lambda lr: optax.adamw(lr, weight_decay=1e-4),
    "adagrad": lambda lr: optax.adagrad(lr),
}


def make_optimizer(name: str, learning_rate, max_norm: float | None = None,
                   weight_decay: float = 0.0,
                   average_decay: float = 0.0) -> optax.GradientTransformation:
    """``clip_by_global_norm(max_norm)`` -> [L2 weight decay] -> the named optimizer
    [-> ``average_params(average_decay)``].

    ``weight_decay`` adds ``weight_decay * params`` to the gradient (L2 regularisation, as
    torch's ``weight_decay`` argument and the GCN paper); ``max_norm`` None or <= 0 disables
    clipping; ``average_decay`` > 0 also keeps an average of the weights (``averaged``).
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    parts = []
    if max_norm is not None and max_norm > 0:
        parts.append(optax.clip_by_global_norm(max_norm))
    if weight_decay:
        parts.append(optax.add_decayed_weights(weight_decay))
    parts.append(OPTIMIZERS[name](learning_rate))
    if average_decay:
        parts.append(average_params(average_decay))
    return optax.chain(*parts)


class AverageState(NamedTuple):
    count: jax.Array     # int32: updates averaged so far
    average: optax.Params


def average_params(decay: float) -> optax.GradientTransformation:
    """Passes the updates through unchanged and keeps, in its state, an exponential moving
    average of the parameters they produce (Polyak averaging), starting from the initial ones:
    ``a <- d a + (1 - d) p`` after update t, with ``d = min(decay, (1 + t) / (10 + t))`` so
    that early on, and in short runs, the average follows the weights (as TensorFlow's
    ``ExponentialMovingAverage(num_updates=...)``).  Put it last in a chain."""
    def init(params):
        return AverageState(jnp.zeros((), jnp.int32), jax.tree_util.tree_map(jnp.array, params))

    def update(updates, state, params):
        new = optax.apply_updates(params, updates)
        d = jnp.minimum(decay, (1.0 + state.count) / (10.0 + state.count))
        return updates, AverageState(state.count + 1,
                                     optax.incremental_update(new, state.average, 1.0 - d))
    return optax.GradientTransformation(init, update)


def averaged(state: "TrainState"):
    """The averaged parameters of ``state`` when its optimizer keeps them, else its params."""
    return optax.tree_utils.tree_get(state.opt_state, "average", default=state.params)


class TrainState(NamedTuple):
    step: jax.Array      # int32 scalar (or [runs])
    params: dict
    opt_state: optax.OptState
    key: jax.Array       # PRNG key for the next step's batch


class NonFiniteLoss(RuntimeError):
    """Raised when a step produced a NaN or infinite loss (or parameters); carries the step."""

    def __init__(self, step: int):
        super().__init__(f"loss or parameters became NaN/inf at step {step}; "
                         "stopped (last good state kept)")
        self.step = step


def init_state(params, optimizer: optax.GradientTransformation, key) -> TrainState:
    return TrainState(jnp.zeros((), jnp.int32), params, optimizer.init(params), key)


def make_step(loss_fn: Callable, optimizer: optax.GradientTransformation):
    """One update: ``(state, task) -> (state, metrics)``; metrics gain ``loss`` and ``grad_norm``."""
    def step(state: TrainState, task=None):
        key, batch_key = jax.random.split(state.key)
        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, batch_key, task)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = dict(metrics, loss=loss, grad_norm=optax.tree.norm(grads))
        return TrainState(state.step + 1, params, opt_state, key), metrics
    return step


def make_chunk(loss_fn: Callable, optimizer, num_steps: int, vmapped: bool = False):
    """A jitted ``(state, task) -> (state, metrics[num_steps])`` running ``num_steps`` updates."""
    step = make_step(loss_fn, optimizer)

    def chunk(state, task):
        return jax.lax.scan(lambda s, _: step(s, task), state, None, length=num_steps)

    if vmapped:
        chunk = jax.vmap(chunk)
    return jax.jit(chunk, donate_argnums=0)


def train(loss_fn: Callable, optimizer, state: TrainState, num_steps: int, *,
          task=None, log_every: int = 100, vmapped: bool = False,
          callback: Callable | None = None, progress: bool | str = True,
          mesh=None) -> tuple[TrainState, dict[str, np.ndarray]]:
    """Train for ``num_steps`` from ``state`` (which may already be part-way, e.g. resumed).

    Every ``log_every`` steps, control returns to Python: the loss and parameters are checked
    (NaN/inf raises ``NonFiniteLoss`` before the callback can save anything), the progress bar
    is updated and ``callback(state, metrics_so_far)`` runs (validation, samples, checkpoints).

    Returns the final state and the history: each metric as an array ``[..., steps]`` (the
    leading axes are the vmapped runs), plus ``step`` (1-based step numbers).

    With a ``mesh`` (``rnn_gnn.distributed.make_mesh``) the state is replicated on its devices
    and each batch is split over them (data parallelism); the numbers stay the single-device ones.
    """
    start = int(np.max(jax.device_get(state.step)))
    remaining = num_steps - start
    history: dict[str, list] = {}
    if remaining <= 0:
        return state, {}
    state, task = distributed.replicate((state, task), mesh)
    chunks = {}
    bar = _progress(total=num_steps, initial=start, enabled=progress)
    done = start
    while done < num_steps:
        n = min(log_every, num_steps - done)
        if n not in chunks:
            chunks[n] = make_chunk(loss_fn, optimizer, n, vmapped)
        with distributed.using(mesh):
            state, metrics = chunks[n](state, task)
        metrics = jax.device_get(metrics)
        bad = np.flatnonzero(~np.isfinite(np.asarray(metrics["loss"]).reshape(-1, n)).any(0))
        # A finite loss can still be followed by an update that overflows the parameters.
        if bad.size or not _all_finite(state.params):
            if bar is not None:  # clear the bar, so the error is a line of its own
                bar.close()
            raise NonFiniteLoss(done + (int(bad[0]) + 1 if bad.size else n))
        for k, v in metrics.items():
            history.setdefault(k, []).append(np.asarray(v))
        done += n
        if bar is not None:
            bar.update(n)
            bar.set_postfix({k: f"{np.mean(v[..., -1]):.3f}" for k, v in metrics.items()
                             if k in ("loss", "accuracy")})
        if callback is not None:
            callback(state, history)
    if bar is not None:
        bar.close()
    out = {k: np.concatenate(v, axis=-1) for k, v in history.items()}
    out["step"] = np.arange(start + 1, num_steps + 1)
    return state, out


@jax.jit
def _all_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.isfinite(x).all() for x in jax.tree_util.tree_leaves(tree)]))


def _progress(total: int, initial: int, enabled: bool | str):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, desc=enabled if isinstance(enabled, str) else None,
                unit="step", dynamic_ncols=True, leave=False)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy and accuracy for integer labels."""
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    accuracy = (jnp.argmax(logits, -1) == labels).mean()
    return loss, accuracy


def stack_states(states: Iterable[TrainState]) -> TrainState:
    """Stack per-run states along a new leading axis, for ``vmapped=True``."""
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *states)


# ----------------------------------------------------------------------------- checkpoints

def checkpointer(directory, every: int, meta: dict | None = None, keep: int = 3,
                 then: Callable | None = None):
    """A ``train`` callback that saves the state every ``every`` steps (and calls ``then``).

    Saves happen only after the loop's finite-loss check, so the newest checkpoint is always a
    good one; each file is written atomically, so a kill at any moment leaves the directory
    readable.  Pair with ``log_every`` dividing ``every``.
    """
    from rnn_gnn import checkpoint

    def callback(state: TrainState, history):
        step = int(np.max(jax.device_get(state.step)))
        if then is not None:
            then(state, history)
        if step % every == 0:
            checkpoint.save_step(directory, step, state, meta, keep=keep)
    return callback


def restore_or(state: TrainState, directory):
    """The newest intact checkpoint in ``directory`` restored into ``state``'s structure
    (``(state, meta)``), or ``(state, None)`` when there is none."""
    from rnn_gnn import checkpoint
    found = checkpoint.load_latest(directory, target=jax.device_get(state))
    if found is None:
        return state, None
    restored, meta, _ = found
    return jax.tree_util.tree_map(jnp.asarray, restored), meta
