"""Question 3.1b as code: how far does information travel through k GCN layers?

A node j influences node i's output after k layers iff the Jacobian block
d out_i / d x_j [K, d] is non-zero.  For a k-layer GCN,

    out = sigma(A_hat ... sigma(A_hat X W0) ... ) W{k-1}

and by the chain rule each block is a sum over walks i <- ... <- j of length k in the graph
with self-loops (A + I), each walk weighted by products of A_hat entries, weights and
sigma' factors.  A_hat is non-negative with a positive diagonal, so (A_hat^k)_ij > 0 exactly
when j is at most k hops from i; with tanh (sigma' > 0 everywhere) and random weights the sum
is non-zero with probability one.  Hence: after k layers, node i has received features from
exactly the nodes within k hops, and a node 3 hops away needs 3 layers.  ``influence`` measures
this with ``jax.jacrev``; ``hop_distances`` is the graph-theoretic side; the tests check that
the two agree layer by layer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph

from rnn_gnn.graph.models import gcn_apply, gcn_init


def hop_distances(graph) -> np.ndarray:
    """Shortest-path lengths in hops ``[N, N]`` (inf where unreachable)."""
    n = int(np.sum(graph.n_node))
    A = sp.csr_matrix((np.ones(len(graph.senders)), (np.asarray(graph.receivers),
                                                      np.asarray(graph.senders))), shape=(n, n))
    return csgraph.shortest_path(A, unweighted=True)


def influence(graph, num_layers: int, key=None, width: int = 4) -> np.ndarray:
    """``[N, N]`` bools, ``[i, j]`` True when node j's input features change node i's output
    after ``num_layers`` GCN layers (tanh between layers, random Glorot weights): the
    non-zero blocks of the Jacobian d out / d X.  ``num_layers = 0`` is the identity.
    """
    n = int(np.sum(graph.n_node))
    if num_layers == 0:
        return np.eye(n, dtype=bool)
    key = jax.random.PRNGKey(0) if key is None else key
    x = jax.random.normal(jax.random.fold_in(key, 1), (n, width))
    params = gcn_init(key, width, width, hidden=width, num_layers=num_layers)

    def output(features):
        return gcn_apply(params, graph._replace(nodes=features), activation=jnp.tanh)

    jacobian = jax.jacrev(output)(x)                      # [N, width, N, width]
    return np.asarray(jnp.any(jacobian != 0, axis=(1, 3)))


def layers_to_reach(graph, source: int, target: int, max_layers: int = 10) -> int | None:
    """The fewest GCN layers after which ``source`` influences ``target``'s output (None if
    not within ``max_layers``)."""
    for k in range(max_layers + 1):
        if influence(graph, k)[target, source]:
            return k
    return None
