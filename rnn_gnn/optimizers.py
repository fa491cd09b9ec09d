"""Optimizers by name (Optax), with clipping, weight decay and weight averaging chained in.

Every experiment's optimizer comes from ``make_optimizer``: the optimizer comparison of Part 1
swaps the name and nothing else.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

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


def averaged(state):
    """The averaged parameters of ``state`` when its optimizer keeps them, else its params."""
    return optax.tree_utils.tree_get(state.opt_state, "average", default=state.params)
