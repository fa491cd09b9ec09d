"""How well a next-frame prediction of the wave task (``rnn_gnn.graph.waves``) scores: loss,
accuracy, per-class counts and the F1 scores built from them, and the same scores for the rule
applied to the true hidden state (the ceiling every model is measured against)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rnn_gnn.graph.waves import NUM_CLASSES, Task, simulate
from rnn_gnn.train import softmax_cross_entropy


def scores(logits, target):
    """Cross-entropy, accuracy and per-class counts (for the F1 scores) of a prediction
    ``logits [..., N, K]`` of ``target [..., N]``."""
    loss, accuracy = softmax_cross_entropy(logits.reshape(-1, NUM_CLASSES), target.reshape(-1))
    return loss, dict(counts(jnp.argmax(logits, -1), target), accuracy=accuracy)


def counts(predicted, target):
    """True/false positives and false negatives per class ``[K]``, and for "fires" (any
    class but 0) as entry K: ``[K + 1]`` each."""
    classes = jnp.arange(NUM_CLASSES)
    p = jnp.concatenate([predicted[..., None] == classes, predicted[..., None] > 0], -1)
    t = jnp.concatenate([target[..., None] == classes, target[..., None] > 0], -1)
    axes = tuple(range(predicted.ndim))
    return {"true_pos": jnp.sum(p & t, axes), "false_pos": jnp.sum(p & ~t, axes),
            "false_neg": jnp.sum(~p & t, axes)}


def f1_scores(metrics, xp=np) -> dict:
    """``wave_f1``: mean F1 of the two wave classes (fires next, with the right colour);
    ``fire_f1``: F1 of "fires next" whatever the colour.  Leading axes (seeds) are kept.
    ``xp`` is NumPy (float64) or ``jax.numpy`` (inside a compiled step)."""
    dtype = np.float64 if xp is np else jnp.float32
    tp, fp, fn = (xp.asarray(metrics[k], dtype) for k in ("true_pos", "false_pos", "false_neg"))
    f1 = 2 * tp / xp.maximum(2 * tp + fp + fn, 1)
    return {"wave_f1": f1[..., 1:NUM_CLASSES].mean(-1), "fire_f1": f1[..., NUM_CLASSES]}


def rule_ceiling(task: Task, graph, key, batch_size: int) -> dict:
    """Scores of the rule "fires iff resting and a neighbour is excited, with the colour of
    the excited neighbours" applied to the true hidden state: what a model could reach if it
    tracked every node's state and colour perfectly (it misses only the unforeseeable sparks)."""
    _, target, rule = simulate(key, graph, task, batch_size, with_rule=True)
    metrics = jax.device_get(dict(counts(rule, target), accuracy=jnp.mean(rule == target)))
    return dict(metrics, **f1_scores(metrics))
