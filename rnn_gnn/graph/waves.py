"""Question 3.3b's task, one that needs both the graph and time: coloured waves in an
excitable medium (``rnn_gnn.graph.graph_lstm`` holds the models compared on it).

Every node of a fixed small-world graph is a
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
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jraph

from rnn_gnn.graph.graphs import graph_from_edges

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

