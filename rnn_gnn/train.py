"""The one training loop of the library.

A task is a pure ``loss_fn(params, key, task) -> (loss, metrics)``: it draws its own batch
(or dropout mask) from ``key`` inside the compiled step, so the whole step, data included, is
one XLA program.  ``task`` is any pytree of per-run settings (e.g. the palindrome length) that
is vmapped alongside the state; it is ``None`` for a single run.  The loop runs ``log_every``
steps per compiled call (``make_chunk``: a ``lax.scan`` over steps), records every step's
metrics, and can train many independent runs (seeds, lengths) side by side with ``jax.vmap``
when the state carries a leading run axis (``init_runs``).

Each part hands the loop a ``Trainer`` (its ``make_trainer``): loss, optimizer (from
``rnn_gnn.optimizers``), a fresh state per run, and the run's task.
"""

from __future__ import annotations

import concurrent.futures
import os
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnn_gnn import distributed
from rnn_gnn.errors import NonFiniteLoss

class TrainState(NamedTuple):
    step: jax.Array      # int32 scalar (or [runs])
    params: dict
    opt_state: optax.OptState
    key: jax.Array       # PRNG key for the next step's batch


def init_state(params, optimizer: optax.GradientTransformation, key) -> TrainState:
    """Step 0 of a run: ``params``, the optimizer's fresh state, and ``key`` for the batches."""
    return TrainState(jnp.zeros((), jnp.int32), params, optimizer.init(params), key)


def init_run(init_params: Callable, optimizer: optax.GradientTransformation, key) -> TrainState:
    """A fresh run from one key: ``init_params(k1)`` and batches drawn from ``k2``, where
    ``(k1, k2) = split(key)``.  Every part starts its runs this way, so a run's numbers depend
    on its own key only, never on which other runs share its sweep."""
    init_key, train_key = jax.random.split(key)
    return init_state(init_params(init_key), optimizer, train_key)


def init_runs(init_params: Callable, optimizer: optax.GradientTransformation,
              keys) -> TrainState:
    """``init_run`` for every key of ``keys [runs, 2]``, stacked: a TrainState whose every leaf
    has the leading run axis that ``train(..., vmapped=True)`` trains side by side."""
    return jax.vmap(lambda key: init_run(init_params, optimizer, key))(keys)


def make_step(loss_fn: Callable, optimizer: optax.GradientTransformation):
    """One update: ``(state, task) -> (state, metrics)``; metrics gain ``loss``, ``grad_norm``
    and ``finite``.

    An update whose loss, gradient or new parameters are not finite is not applied: the run
    keeps its last finite state (only ``step`` advances) and ``finite`` is False.  Its next
    step then recomputes the same failing update (same key), so a run that diverged stays
    frozen and flagged while the other runs of a sweep go on.
    """
    def step(state: TrainState, task=None):
        key, batch_key = jax.random.split(state.key)
        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, batch_key, task)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        grad_norm = optax.tree.norm(grads)
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm) & _all_finite(params)
        new = TrainState(state.step + 1, params, opt_state, key)
        kept = TrainState(state.step + 1, state.params, state.opt_state, state.key)
        new = jax.tree_util.tree_map(lambda a, b: jnp.where(finite, a, b), new, kept)
        return new, dict(metrics, loss=loss, grad_norm=grad_norm, finite=finite)
    return step


def make_chunk(loss_fn: Callable, optimizer, num_steps: int, vmapped: bool = False):
    """``num_steps`` updates as one compiled call: ``chunk(state, task) -> (state, metrics)``.

    The steps run as a ``lax.scan`` inside one ``jax.jit``, so Python is visited once per
    chunk, not once per step; ``metrics`` holds every step's values, ``[num_steps]`` per metric
    (``[runs, num_steps]`` when ``vmapped``: the state and ``task`` then carry a leading run
    axis and the runs train side by side under ``jax.vmap``).  The input state is donated:
    its buffers are reused for the output, so do not read it after the call.  This is what
    ``train`` calls every ``log_every`` steps, and what the benchmark times.
    """
    step = make_step(loss_fn, optimizer)

    def chunk(state, task):
        return jax.lax.scan(lambda s, _: step(s, task), state, None, length=num_steps)

    if vmapped:
        chunk = jax.vmap(chunk)
    return jax.jit(chunk, donate_argnums=0)


class Trainer(NamedTuple):
    """What a part hands the loop and the benchmark (each part's ``make_trainer(config, ...)``):
    the task's pure loss ``loss_fn(params, key, task) -> (loss, metrics)``, the optimizer, and
    ``init(key) -> TrainState``, a fresh state for one run; ``task``, the run's settings."""
    loss_fn: Callable
    optimizer: optax.GradientTransformation
    init: Callable
    task: object = None


class Group(NamedTuple):
    """Runs trained by one compiled program: their loss, their stacked state (leading run
    axis) and per-run task, placed on ``device`` (None: the default device)."""
    loss_fn: Callable
    state: TrainState
    task: object = None
    device: object = None


def train(loss_fn: Callable, optimizer, state: TrainState, num_steps: int, *,
          task=None, log_every: int = 100, vmapped: bool = False,
          callback: Callable | None = None, progress: bool | str = True,
          mesh=None) -> tuple[TrainState, dict[str, np.ndarray]]:
    """Train for ``num_steps`` from ``state`` (which may already be part-way, e.g. resumed).

    Every ``log_every`` steps, control returns to Python: divergence is checked, the progress
    bar is updated and ``callback(state, metrics_so_far)`` runs (validation, samples,
    checkpoints).  A single run that diverges raises ``NonFiniteLoss`` before the callback can
    save anything; in a sweep (``vmapped``) a diverged run is frozen and flagged (``finite``,
    see ``diverged_at``) and only a sweep whose every run diverged raises.

    Returns the final state and the history: each metric as an array ``[..., steps]`` (the
    leading axes are the vmapped runs), plus ``step`` (1-based step numbers).

    With a ``mesh`` (``rnn_gnn.distributed.make_mesh``) the state is replicated on its devices
    and each batch is split over them (data parallelism); the numbers stay the single-device ones.
    """
    then = None if callback is None else (lambda states, histories: callback(states[0],
                                                                              histories[0]))
    states, histories = train_groups([Group(loss_fn, state, task)], optimizer, num_steps,
                                     log_every=log_every, vmapped=vmapped, callback=then,
                                     progress=progress, mesh=mesh)
    return states[0], histories[0]


def train_groups(groups: Sequence[Group], optimizer, num_steps: int, *, log_every: int = 100,
                 vmapped: bool = True, callback: Callable | None = None,
                 progress: bool | str = True, mesh=None):
    """``train`` for several groups of runs at once, each with its own compiled program.

    Groups differ in what shapes their program (e.g. the palindrome length, so a short
    palindrome never pays for the longest).  Each chunk of ``log_every`` steps is dispatched
    for every group before any result is awaited, so groups placed on different devices run
    at the same time (on a CPU, one host device per core: ``distributed.host_devices``).
    ``callback(states, histories)`` receives lists in group order.  Returns
    ``(states, histories)``, lists in group order.
    """
    groups = [g._replace(state=jax.device_put(g.state, g.device),
                         task=jax.device_put(g.task, g.device)) if g.device is not None
              else g for g in groups]
    states = [g.state for g in groups]
    start = int(max(np.max(jax.device_get(s.step)) for s in states))
    if num_steps - start <= 0:
        return states, [{} for _ in groups]
    states, tasks = distributed.replicate((states, [g.task for g in groups]), mesh)
    chunks: dict = {}
    histories: list[dict[str, list]] = [{} for _ in groups]
    bar = _progress(total=num_steps, initial=start, enabled=progress)
    done = start
    while done < num_steps:
        n = min(log_every, num_steps - done)
        with distributed.using(mesh):
            if n not in chunks:
                chunks[n] = _compile_all(groups, states, tasks, optimizer, n, vmapped)
            outs = [chunk(s, t) for chunk, s, t in zip(chunks[n], states, tasks)]  # async
        states = [s for s, _ in outs]
        metrics = [jax.device_get(m) for _, m in outs]
        failed = _all_diverged(metrics, vmapped)
        if failed is not None:
            if bar is not None:  # clear the bar, so the error is a line of its own
                bar.close()
            state = states[0] if len(states) == 1 else states
            raise NonFiniteLoss(done + failed + 1, state)
        for history, m in zip(histories, metrics):
            for k, v in m.items():
                history.setdefault(k, []).append(np.asarray(v))
        done += n
        if bar is not None:
            bar.update(n)
            bar.set_postfix({k: f"{_mean_last(metrics, k):.3f}"
                             for k in ("loss", "accuracy", "val_accuracy") if k in metrics[0]})
        if callback is not None:
            callback(states, histories)
    if bar is not None:
        bar.close()
    out = []
    for history in histories:
        # The step axis follows the run axis; per-step metrics of any shape keep theirs.
        h = {k: np.concatenate(v, axis=1 if vmapped else 0) for k, v in history.items()}
        h["step"] = np.arange(start + 1, num_steps + 1)
        out.append(h)
    return states, out


def _mean_last(metrics: list[dict], key: str) -> float:
    """The mean over every run of every group of ``key`` at the chunk's last step."""
    return float(np.mean(np.concatenate([np.ravel(m[key][..., -1]) for m in metrics])))


def _compile_all(groups, states, tasks, optimizer, n: int, vmapped: bool) -> list:
    """Every group's chunk of ``n`` steps, compiled side by side (XLA releases the GIL)."""
    def compile_one(i):
        chunk = make_chunk(groups[i].loss_fn, optimizer, n, vmapped)
        return chunk.lower(states[i], tasks[i]).compile()
    if len(groups) == 1 or not jax.sharding.get_abstract_mesh().empty:
        return [compile_one(i) for i in range(len(groups))]   # a mesh context is per thread
    with concurrent.futures.ThreadPoolExecutor(len(os.sched_getaffinity(0))) as pool:
        return list(pool.map(compile_one, range(len(groups))))


def _all_diverged(metrics: list[dict], vmapped: bool) -> int | None:
    """The chunk-relative index of the step at which the last still-finite run diverged, when
    every run has (a single run: its first non-finite step); None while any run is finite."""
    finite = [np.asarray(m["finite"]).reshape(-1, np.shape(m["finite"])[-1]) for m in metrics]
    finite = np.concatenate(finite, axis=0)                     # [runs, n]
    if finite.all() or (vmapped and finite[:, -1].any()):
        return None
    if not vmapped:
        return int(np.flatnonzero(~finite[0])[0])
    return int(np.max(np.argmax(~finite, axis=1)))


def diverged_at(history: dict) -> np.ndarray:
    """Per run (the leading axes of ``history``): the 1-based step at which it diverged
    (its first non-finite update), or 0 for a run that stayed finite."""
    finite = np.asarray(history["finite"], bool)
    first = np.argmax(~finite, axis=-1)
    return np.where(finite.all(-1), 0, np.asarray(history["step"])[first])


@jax.jit
def _all_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.isfinite(x).all() for x in jax.tree_util.tree_leaves(tree)]))


def _progress(total: int, initial: int, enabled: bool | str):
    if not enabled or not distributed.is_main_process():
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, desc=enabled if isinstance(enabled, str) else None,
                unit="step", dynamic_ncols=True, leave=False)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy and accuracy for integer labels."""
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    accuracy = (jnp.argmax(logits, -1) == labels).mean()
    return loss, accuracy
