"""Zachary's karate club as ``NodeData`` (networkx's copy of the 1977 graph)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from rnn_gnn.graph.graphs import NodeData, graph_from_edges


def karate_club(num_labels_per_club: int = 1) -> NodeData:
    """Zachary's karate club (networkx): 34 members, 78 friendships, label = the club each
    member joined after the split (0 = Mr. Hi's, 1 = the Officer's).

    Features are the identity (each node only knows who it is), as in Kipf & Welling's karate
    demo; the labelled nodes are the two leaders (0 and 33), then the members nearest to them;
    every other member is both validation and test (there is nothing to select on 34 nodes).
    """
    import networkx as nx
    g = nx.karate_club_graph()
    n = g.number_of_nodes()
    labels = np.array([0 if g.nodes[i]["club"] == "Mr. Hi" else 1 for i in range(n)], np.int32)
    train = []
    for leader in (0, n - 1):
        near = sorted(nx.single_source_shortest_path_length(g, leader).items(),
                      key=lambda kv: (kv[1], kv[0]))
        train += [v for v, _ in near if labels[v] == labels[leader]][:num_labels_per_club]
    train = np.array(sorted(train), np.int32)
    rest = np.setdiff1d(np.arange(n), train).astype(np.int32)
    graph = graph_from_edges(n, g.edges(), jnp.eye(n, dtype=jnp.float32))
    return NodeData("karate", graph, labels, train, rest, rest, 2)
