"""Graphs as ``jraph.GraphsTuple``, and ``NodeData``: a node-classification problem on one.

Every loader (``karate``, ``planetoid``) returns ``NodeData``; every model takes its ``graph``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import jraph
import numpy as np


class NodeData(NamedTuple):
    """A node-classification problem on one graph.

    graph: nodes = features [N, d] (float32, dense or BCOO), edges = ones [E]
    labels: [N] int32, -1 where a node has no label;  train, val, test: node indices
    """
    name: str
    graph: jraph.GraphsTuple
    labels: np.ndarray
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    num_classes: int


def graph_from_edges(num_nodes: int, edges, features) -> jraph.GraphsTuple:
    """An undirected simple graph: both directions of every pair, no self-loops, no repeats."""
    e = np.asarray(list(edges), np.int64).reshape(-1, 2)
    e = np.concatenate([e, e[:, ::-1]])
    e = np.unique(e[e[:, 0] != e[:, 1]], axis=0)
    return jraph.GraphsTuple(
        nodes=features, edges=jnp.ones((len(e),), jnp.float32),
        senders=jnp.asarray(e[:, 0], jnp.int32), receivers=jnp.asarray(e[:, 1], jnp.int32),
        n_node=jnp.array([num_nodes], jnp.int32), n_edge=jnp.array([len(e)], jnp.int32),
        globals=None)


def pad_graphs(graphs, n_node: int, n_edge: int, n_graph: int | None = None) -> jraph.GraphsTuple:
    """Batch ``graphs`` into one ``GraphsTuple`` and pad it to a fixed size with
    ``jraph.pad_with_graphs``, so that every batch padded to the same budget shares one
    compiled program.  The padding edges get ``edges == 0`` (masked by GAT); use
    ``jraph.get_node_padding_mask`` to drop padding nodes from losses."""
    batch = jraph.batch(list(graphs))
    return jraph.pad_with_graphs(batch, n_node, n_edge,
                                 n_graph if n_graph is not None else len(graphs) + 1)

