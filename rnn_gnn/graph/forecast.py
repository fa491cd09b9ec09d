"""Training and scoring question 3.3b's models (``rnn_gnn.graph.graph_lstm``) on the wave
forecast (``rnn_gnn.graph.waves``): one ``Config`` for all three, the library's one training
loop with a fresh batch of waves drawn inside every step, seeds vmapped, and every model and
seed scored on the same held-out sequences (``TEST_KEY``, which no training step uses)."""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from rnn_gnn import cli
from rnn_gnn.graph.graph_lstm import MODELS
from rnn_gnn.graph.wave_scores import f1_scores, scores
from rnn_gnn.graph.waves import INPUT_DIM, NUM_CLASSES, Task, make_graph, simulate
from rnn_gnn.optimizers import make_optimizer
from rnn_gnn.train import Trainer, TrainState, init_run, train

TEST_KEY = jax.random.PRNGKey(10**6)


@dataclasses.dataclass(frozen=True)
class Config:
    """Training settings shared by the three models (one place; a resumed run must match)."""
    num_hidden: int = cli.field(32, "hidden units of the LSTMs and of the GCN's hidden layer",
                                type=cli.positive(int))
    batch_size: int = cli.field(32, "wave sequences per training step", type=cli.positive(int))
    learning_rate: float = cli.field(1e-2, "Adam's learning rate", type=cli.positive(float))
    max_norm: float = cli.field(1.0, "clip each gradient to this global norm (<= 0: no "
                                     "clipping)")
    train_steps: int = cli.field(2000, "training steps per model", type=cli.positive(int))
    eval_batch: int = cli.field(512, "held-out sequences every model is scored on",
                                type=cli.positive(int))
    gcn_window: int = cli.field(1, "the GCN's input: the last this many frames",
                                type=cli.positive(int))


def init_params(name: str, key, cfg: Config):
    extra = {"window": cfg.gcn_window} if name == "gcn" else {}
    return MODELS[name].init(key, INPUT_DIM, cfg.num_hidden, NUM_CLASSES, **extra)


def make_loss(name: str, graph, task: Task, batch_size: int):
    """``loss_fn(params, key, task=None)``: a fresh batch of waves per step, drawn from key;
    its metrics are the batch's accuracy and F1 scores (scalars, one per step in the history)."""
    apply = MODELS[name].apply

    def loss_fn(params, key, _=None):
        x, y = simulate(key, graph, task, batch_size)
        loss, metrics = scores(apply(params, graph, x), y)
        return loss, dict(f1_scores(metrics, jnp), accuracy=metrics["accuracy"])
    return loss_fn


def make_trainer(name: str, task: Task, cfg: Config) -> Trainer:
    """Model ``name`` on ``task``: one step = one batch of ``cfg.batch_size`` fresh sequences;
    ``init(key)`` splits the run's key into the init and the batch keys."""
    optimizer = make_optimizer("adam", cfg.learning_rate, cfg.max_norm)
    return Trainer(make_loss(name, make_graph(task), task, cfg.batch_size), optimizer,
                   partial(init_run, lambda key: init_params(name, key, cfg), optimizer))


def init_runs(trainer: Trainer, seeds) -> TrainState:
    """The stacked TrainState ``[len(seeds), ...]`` of one run per seed."""
    keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(s), 1) for s in seeds])
    return jax.vmap(trainer.init)(keys)


def train_model(name: str, task: Task, cfg: Config, seeds, *, state=None, callback=None,
                log_every: int = 100, progress=True):
    """Train ``name`` once per seed (vmapped) up to ``cfg.train_steps``; returns
    ``(state, history, test)``.  ``state`` continues a restored run (``init_runs``' structure);
    ``history`` holds the steps trained here; ``test`` each seed's metrics on ``cfg.eval_batch``
    held-out sequences ``[seeds]`` (``evaluate``).  ``callback`` as in ``train``."""
    trainer = make_trainer(name, task, cfg)
    state = init_runs(trainer, seeds) if state is None else state
    state, history = train(trainer.loss_fn, trainer.optimizer, state, cfg.train_steps,
                           log_every=log_every, vmapped=True, progress=progress,
                           callback=callback)
    return state, history, evaluate(name, task, cfg, state.params)


def evaluate(name: str, task: Task, cfg: Config, params) -> dict:
    """Loss, accuracy, counts and F1 scores of stacked ``params`` ``[seeds]`` on the same
    ``cfg.eval_batch`` held-out sequences for every model and seed."""
    graph, apply = make_graph(task), MODELS[name].apply
    x, y = simulate(TEST_KEY, graph, task, cfg.eval_batch)
    loss, metrics = jax.jit(jax.vmap(lambda p, x, y: scores(apply(p, graph, x), y),
                                     in_axes=(0, None, None)))(params, x, y)
    test = dict(jax.device_get(metrics), loss=np.asarray(loss))
    test.update(f1_scores(test))
    return test


def example_predictions(task: Task, cfg: Config, graph, trained: dict):
    """A held-out sequence ``frames [T, N, 2]`` (the one with the most nodes firing next),
    its next-frame classes ``[N]`` and each trained model's prediction ``[N]`` (seed 0);
    ``trained`` maps a label to ``(model name, stacked TrainState)``."""
    x, y = simulate(TEST_KEY, graph, task, cfg.eval_batch)
    busiest = int(jnp.argmax(jnp.minimum(jnp.sum(y == 1, 1), jnp.sum(y == 2, 1))))
    x, y = x[busiest:], y[busiest:]
    predictions = {}
    for label, (name, state) in trained.items():
        params = jax.tree_util.tree_map(lambda a: a[0], state.params)
        predictions[label] = np.asarray(jnp.argmax(MODELS[name].apply(params, graph, x[:1]), -1)[0])
    return np.asarray(x[0]), np.asarray(y[0]), predictions
