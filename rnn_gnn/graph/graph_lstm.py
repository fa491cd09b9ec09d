"""Question 3.3b: a graph-convolutional LSTM, and a task that needs both the graph and time.

**The task: waves in an excitable medium.**  Every node of a fixed small-world graph is a
Greenberg-Hastings cell (a classic model of excitable tissue, forest fires, rumours):
resting (0), excited (1) or refractory (2..R).  Each step an excited node turns refractory,
a refractory one counts up and returns to rest after R, and a resting node fires when at
least one neighbour is excited (or, rarely, by itself).  Waves of excitation therefore run
along the edges, one hop per step, and cannot re-enter a node that just fired.  Every wave
has a colour, +1 or -1: a spark picks one at random, and a node a wave reaches takes the colour
of its excited neighbours (the sign of their sum; a tie is broken at random).

Each frame has two channels per node (``INPUT_DIM = 2``): ``x[t, i, 0] = 1`` if node i is
excited at step t, and ``x[t, i, 1]`` is the colour of a spark where node i fired by itself at
t (0 elsewhere), so a wave's colour shows once, where it starts.  Given T frames, predict every
node's class in the next frame (``NUM_CLASSES = 3``): 0 not excited, 1 excited by a +1 wave,
2 by a -1 wave.  A resting node fires next iff a neighbour fires now, in that neighbour's
colour (the graph); whether it is resting or still refractory, and the colour its wave carried
from the spark, show only in the past (time).  The rare sparks are unpredictable and set the
ceiling.

**The models** (all read the same frames, all output ``[batch, N, 3]`` logits):

- ``graph_lstm``: the LSTM of Part 1 whose gate pre-activations are graph convolutions,

      z(t) = W_x [x(t), A_hat x(t)] + W_h [h(t-1), A_hat h(t-1)] + b     (gates g, i, f, o)

  i.e. a first-order graph convolution with separate self and neighbour weights (Kipf &
  Welling's eq. 6 before weight tying; GCRN, Seo et al. 2018), scanned over time with
  ``lax.scan``.  The cell update itself is ``rnn_gnn.cells.lstm_step``.
- ``node_lstm``: ``rnn_gnn.cells``' LSTM run on each node's own series (time, no graph).
- ``gcn``: two such graph convolutions on the latest frame (graph, no time); ``window > 1``
  feeds it the last ``window`` frames as features instead.

Params (d = 2 channels in, 3 classes out): graph_lstm = ``cells.lstm_init(key, d, n, 3)`` plus
neighbour weights ``W_{g,i,f,o}xa [n, d]`` and ``W_{g,i,f,o}ha [n, n]``; node_lstm =
``cells.lstm_init``; gcn = ``W_self{l}, W_nbr{l} [in, out], b{l} [out]``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from rnn_gnn import cells
from rnn_gnn.graph.data import graph_from_edges
from rnn_gnn.graph.layers import propagate
from rnn_gnn.optimizers import make_optimizer
from rnn_gnn.train import init_state, softmax_cross_entropy, train

NUM_CLASSES = 3   # not excited / excited by a +1 wave / by a -1 wave
INPUT_DIM = 2     # excited, spark colour


@dataclasses.dataclass(frozen=True)
class Task:
    """The synthetic spatio-temporal forecasting problem (``experiments/graph_lstm.py``)."""
    num_nodes: int = 48
    degree: int = 4           # Watts-Strogatz: each node starts linked to its 4 ring neighbours
    rewire: float = 0.1       # ... then each link is rewired with this probability
    refractory: int = 6       # R: a node that fired stays refractory for R - 1 steps
    spontaneous: float = 0.005  # per-step chance that a resting node fires by itself
    steps: int = 24           # T frames observed
    graph_seed: int = 0


def make_graph(task: Task) -> jraph.GraphsTuple:
    """The fixed connected small-world graph the signals live on (networkx, seeded)."""
    import networkx as nx
    g = nx.connected_watts_strogatz_graph(task.num_nodes, task.degree, task.rewire,
                                          seed=task.graph_seed)
    return graph_from_edges(task.num_nodes, g.edges(), jnp.zeros((task.num_nodes, 1)))


def neighbours_excited(graph, excited):
    """Sum over each node's neighbours: ``excited [N, ...]`` -> ``[N, ...]``."""
    return jraph.segment_sum(excited[graph.senders], graph.receivers,
                             num_segments=excited.shape[0])


class Wave(NamedTuple):
    state: jax.Array    # [N, B] int: 0 resting, 1 excited, 2..R refractory
    colour: jax.Array   # [N, B] float: +1 / -1, the colour of the wave that last excited it


def wave_step(graph, task: Task, wave: Wave, key):
    """One Greenberg-Hastings step with coloured waves; returns the new state, what is
    observed of it ``[N, B, 2]`` and what the rule on the old full state predicts."""
    key_fire, key_colour, key_tie = jax.random.split(key, 3)
    s, c = wave.state, wave.colour
    excited = (s == 1).astype(jnp.float32)
    resting = s == 0
    pull = neighbours_excited(graph, excited * c)               # colours of excited neighbours
    reached = resting & (neighbours_excited(graph, excited) > 0)
    spark = resting & ~reached & jax.random.bernoulli(key_fire, task.spontaneous, s.shape)
    random_colour = lambda k: jnp.where(jax.random.bernoulli(k, 0.5, s.shape), 1.0, -1.0)
    colour = jnp.where(reached, jnp.where(pull != 0, jnp.sign(pull), random_colour(key_tie)),
                       jnp.where(spark, random_colour(key_colour), c))
    new = jnp.where(resting, (reached | spark).astype(s.dtype),
                    jnp.where(s >= task.refractory, 0, s + 1))
    observed = jnp.stack([(new == 1).astype(jnp.float32), spark * colour], -1)
    return Wave(new, colour), (observed, label(new == 1, colour), label(reached, pull))


def label(excited, colour):
    """A node's class: 0 not excited, 1 excited by a +1 wave, 2 by a -1 wave."""
    return jnp.where(excited, jnp.where(colour >= 0, 1, 2), 0).astype(jnp.int32)


def simulate(key, graph, task: Task, batch_size: int, with_rule: bool = False):
    """``(frames [batch, T, N, 2], next_class [batch, N])``: coloured waves from rest.

    Everything starts at rest; sparks (rare spontaneous firings) show their colour once, in
    channel 1 of the frame where they fire; every other excitation shows only channel 0.
    With ``with_rule`` also the classes the rule on the full hidden state predicts.
    """
    n = task.num_nodes
    zeros = jnp.zeros((n, batch_size))
    start = Wave(zeros.astype(jnp.int32), zeros)
    _, (observed, truth, rule) = jax.lax.scan(lambda w, k: wave_step(graph, task, w, k), start,
                                              jax.random.split(key, task.steps + 1))
    frames = jnp.transpose(observed[:-1], (2, 0, 1, 3))                   # [B, T, N, 2]
    out = frames, truth[-1].T
    return out + (rule[-1].T,) if with_rule else out


# ----------------------------------------------------------------------------- models

def _uniform(key, shape, scale):
    return jax.random.uniform(key, shape, minval=-scale, maxval=scale)


def graph_lstm_init(key, input_dim: int, num_hidden: int, num_classes: int = NUM_CLASSES):
    key_self, key_nbr = jax.random.split(key)
    params = cells.lstm_init(key_self, input_dim, num_hidden, num_classes)
    s = 1.0 / math.sqrt(num_hidden)
    keys = iter(jax.random.split(key_nbr, 8))
    for gate in cells.LSTM_GATES:
        params[f"W_{gate}xa"] = _uniform(next(keys), (num_hidden, input_dim), s)
        params[f"W_{gate}ha"] = _uniform(next(keys), (num_hidden, num_hidden), s)
    return params


def graph_lstm_weights(params):
    """Fused ``W_x [4n, 2d]`` (self | neighbour), ``W_h [4n, 2n]``, ``b [4n]`` in gate order."""
    W_x, W_h, b = cells.lstm_fused_weights(params)
    W_xa = jnp.concatenate([params[f"W_{g}xa"] for g in cells.LSTM_GATES])
    W_ha = jnp.concatenate([params[f"W_{g}ha"] for g in cells.LSTM_GATES])
    return jnp.concatenate([W_x, W_xa], 1), jnp.concatenate([W_h, W_ha], 1), b


def with_neighbours(graph, h):
    """[h, A_hat h] along the last axis: what a first-order graph convolution multiplies."""
    return jnp.concatenate([h, propagate(graph, h)], axis=-1)


def graph_lstm_apply(params, graph, x):
    """``x [batch, T, N, d]`` -> logits ``[batch, N, K]`` from the last step's hidden state."""
    W_x, W_h, b = graph_lstm_weights(params)
    x = jnp.transpose(x, (2, 1, 0, 3))                          # [N, T, B, d]: nodes lead
    x_proj = jnp.moveaxis(with_neighbours(graph, x) @ W_x.T + b, 1, 0)   # [T, N, B, 4n]
    n = W_h.shape[0] // 4
    zeros = jnp.zeros(x_proj.shape[1:3] + (n,))

    def step(state, xp):
        # lstm_step forms z = xp + state.h @ W_h.T; handing it [h, A_hat h] as "h" makes that
        # the graph convolution of the hidden state, and leaves the cell equations to cells.py.
        return cells.lstm_step(W_h, cells.LSTMState(state.c, with_neighbours(graph, state.h)),
                               xp), None

    final, _ = jax.lax.scan(step, cells.LSTMState(zeros, zeros), x_proj)
    return jnp.swapaxes(cells.project(params, final.h), 0, 1)      # [B, N, K]


def node_lstm_init(key, input_dim: int, num_hidden: int, num_classes: int = NUM_CLASSES):
    return cells.lstm_init(key, input_dim, num_hidden, num_classes)


def node_lstm_apply(params, graph, x):
    """Each node's own series through ``cells.lstm_apply``; the graph is ignored."""
    B, T, N, d = x.shape
    series = jnp.transpose(x, (0, 2, 1, 3)).reshape(B * N, T, d)
    return cells.lstm_apply(params, series).reshape(B, N, -1)


def gcn_init(key, input_dim: int, num_hidden: int, num_classes: int = NUM_CLASSES,
             window: int = 1, num_layers: int = 2):
    sizes = [input_dim * window] + [num_hidden] * (num_layers - 1) + [num_classes]
    keys = jax.random.split(key, 2 * num_layers)
    params = {}
    for l in range(num_layers):
        s = math.sqrt(6.0 / (sizes[l] + sizes[l + 1]))
        params[f"W_self{l}"] = _uniform(keys[2 * l], (sizes[l], sizes[l + 1]), s)
        params[f"W_nbr{l}"] = _uniform(keys[2 * l + 1], (sizes[l], sizes[l + 1]), s)
        params[f"b{l}"] = jnp.zeros((sizes[l + 1],))
    return params


def gcn_apply(params, graph, x):
    """The last ``window`` frames as node features -> ``num_layers`` graph convolutions."""
    num_layers = len(params) // 3
    B, T, N, d = x.shape
    window = params["W_self0"].shape[0] // d
    h = jnp.transpose(x[:, T - window:], (2, 0, 1, 3)).reshape(N, B, window * d)
    for l in range(num_layers):
        h = (with_neighbours(graph, h) @ jnp.concatenate([params[f"W_self{l}"],
                                                          params[f"W_nbr{l}"]]) + params[f"b{l}"])
        if l < num_layers - 1:
            h = jax.nn.relu(h)
    return jnp.swapaxes(h, 0, 1)


class SeqModel(NamedTuple):
    init: Callable    # (key, input_dim, num_hidden, ...) -> params
    apply: Callable   # (params, graph, x [B, T, N, d]) -> logits [B, N, K]


MODELS = {
    "graph_lstm": SeqModel(graph_lstm_init, graph_lstm_apply),
    "node_lstm": SeqModel(node_lstm_init, node_lstm_apply),
    "gcn": SeqModel(gcn_init, gcn_apply),
}


# ----------------------------------------------------------------------------- training

@dataclasses.dataclass(frozen=True)
class Config:
    """Training settings shared by the three models (one place)."""
    num_hidden: int = 32
    batch_size: int = 32
    learning_rate: float = 1e-2
    max_norm: float = 1.0
    train_steps: int = 2000
    eval_batch: int = 512
    gcn_window: int = 1


def init_params(name: str, key, cfg: Config):
    extra = {"window": cfg.gcn_window} if name == "gcn" else {}
    return MODELS[name].init(key, INPUT_DIM, cfg.num_hidden, NUM_CLASSES, **extra)


def scores(logits, target):
    """Cross-entropy, accuracy and per-class counts (for the F1 scores) of a prediction."""
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


def make_loss(name: str, graph, task: Task, batch_size: int):
    """``loss_fn(params, key, task=None)``: a fresh batch of waves per step, drawn from key;
    its metrics are the batch's accuracy and F1 scores (scalars, one per step in the history)."""
    apply = MODELS[name].apply

    def loss_fn(params, key, _=None):
        x, y = simulate(key, graph, task, batch_size)
        loss, metrics = scores(apply(params, graph, x), y)
        return loss, dict(f1_scores(metrics, jnp), accuracy=metrics["accuracy"])
    return loss_fn


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


def init_runs(name: str, cfg: Config, seeds):
    """``(state, optimizer)``: the stacked TrainState of one run of ``name`` per seed."""
    optimizer = make_optimizer("adam", cfg.learning_rate, cfg.max_norm)
    keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(s), 1) for s in seeds])
    init_keys, train_keys = jax.vmap(jax.random.split, out_axes=1)(keys)
    params = jax.vmap(lambda k: init_params(name, k, cfg))(init_keys)
    return jax.vmap(lambda p, k: init_state(p, optimizer, k))(params, train_keys), optimizer


def train_model(name: str, task: Task, cfg: Config, seeds, *, state=None, callback=None,
                log_every: int = 100, progress=True):
    """Train ``name`` once per seed (vmapped) up to ``cfg.train_steps``; returns
    ``(state, history, test)``.  ``state`` continues a restored run (``init_runs``' structure);
    ``history`` holds the steps trained here; ``test`` each seed's metrics on ``cfg.eval_batch``
    held-out sequences ``[seeds]`` (``evaluate``).  ``callback`` as in ``train``."""
    initial, optimizer = init_runs(name, cfg, seeds)
    state = initial if state is None else state
    graph = make_graph(task)
    state, history = train(make_loss(name, graph, task, cfg.batch_size), optimizer, state,
                           cfg.train_steps, log_every=log_every, vmapped=True, progress=progress,
                           callback=callback)
    return state, history, evaluate(name, task, cfg, state.params)


def evaluate(name: str, task: Task, cfg: Config, params) -> dict:
    """Loss, accuracy, counts and F1 scores of stacked ``params`` ``[seeds]`` on the same
    ``cfg.eval_batch`` held-out sequences for every model and seed (a key no training step
    uses)."""
    graph, apply = make_graph(task), MODELS[name].apply
    x, y = simulate(TEST_KEY, graph, task, cfg.eval_batch)
    loss, metrics = jax.jit(jax.vmap(lambda p, x, y: scores(apply(p, graph, x), y),
                                     in_axes=(0, None, None)))(params, x, y)
    test = dict(jax.device_get(metrics), loss=np.asarray(loss))
    test.update(f1_scores(test))
    return test


TEST_KEY = jax.random.PRNGKey(10**6)


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
