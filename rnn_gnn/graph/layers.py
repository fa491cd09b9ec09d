"""Graph layers on ``jraph.GraphsTuple`` (SPEC Part 3): GCN and GAT (the tests check them
against dense NumPy references; the GCN's is ``tests/reference.py``).

Shape contract, stated once for the whole package:

- ``graph.nodes``: features ``H [N, d]``; a dense array, or (for one unpadded graph such as
  Cora, whose bag-of-words features are 99% zeros) a ``jax.experimental.sparse.BCOO`` matrix.
- ``graph.senders``, ``graph.receivers``: ``[E]`` int32; an edge s -> r carries a message from
  s to r.  Undirected graphs list both directions.  Graphs carry no self-loops: the layers add
  one per node (the ``+ I`` of ``A + I``).
- ``graph.edges``: ``[E]`` float32, 1.0 on every real edge.  ``jraph.pad_with_graphs`` fills the
  padding edges with 0.0, so the same array is the padding mask (GAT masks on it).
- ``N`` may include padding nodes; a padding node only ever exchanges messages with itself,
  so real nodes compute exactly what they would unpadded.

Layers return a ``GraphsTuple`` whose nodes are the new features; the nonlinearity sigma is the
model's business (``models.py``), so a layer is exactly one equation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
from jax.experimental import sparse

Graph = jraph.GraphsTuple


def propagate(graph: Graph, h):
    """A_hat h with A_hat = D~^(-1/2) (A + I) D~^(-1/2), by Jraph message passing.

    ``A[r, s]`` counts the edges s -> r and ``D~_rr = sum_s (A + I)[r, s]`` is the receiver's
    in-degree plus its self-loop (the SPEC's formula), so A_hat[r, s] = 1 / sqrt(D~_rr D~_ss)
    on both sides with in-degrees.  Each node sends ``h[s] / sqrt(D~_ss)`` along its edges and
    its own self-loop; each node sums what it receives and divides by ``sqrt(D~_rr)``.  On an
    undirected graph this is ``jraph.GraphConvolution``'s symmetric normalisation, which takes
    the sender's side from its out-degree and so differs on directed graphs.  ``h`` is
    ``[N, ...]`` (any trailing shape, e.g. a batch of signals on the same graph); returns the
    same shape.
    """
    n = h.shape[0]
    flat = h.reshape(n, -1)
    loops = jnp.arange(n, dtype=jnp.int32)
    senders = jnp.concatenate([jnp.asarray(graph.senders, jnp.int32), loops])
    receivers = jnp.concatenate([jnp.asarray(graph.receivers, jnp.int32), loops])
    degree = jraph.segment_sum(jnp.ones(receivers.shape, flat.dtype), receivers, num_segments=n)
    scale = jax.lax.rsqrt(degree)[:, None]                      # >= 1 edge: the self-loop
    summed = jraph.segment_sum((flat * scale)[senders], receivers, num_segments=n)
    return (summed * scale).reshape(h.shape)


def gcn_layer(graph: Graph, W) -> Graph:
    """One GCN layer without its nonlinearity: nodes H [N, d] -> A_hat H W [N, k].

    ``W [d, k]`` (the equation's orientation).  H W is computed first (it shrinks the features,
    1433 -> 16 on Cora) and works for sparse BCOO nodes too; then A_hat is applied by message
    passing (``propagate``).
    """
    return graph._replace(nodes=propagate(graph, graph.nodes @ W))


# ----------------------------------------------------------------------------- GAT

def with_self_edges(graph: Graph):
    """``(senders, receivers, mask)`` with one self-loop per node appended; ``mask`` [E + N] is
    False on padding edges (from ``graph.edges``), True on real edges and self-loops."""
    n = graph.nodes.shape[0]
    loops = jnp.arange(n, dtype=jnp.int32)
    real = (jnp.ones(graph.senders.shape, bool) if graph.edges is None
            else jnp.asarray(graph.edges) > 0)
    return (jnp.concatenate([jnp.asarray(graph.senders, jnp.int32), loops]),
            jnp.concatenate([jnp.asarray(graph.receivers, jnp.int32), loops]),
            jnp.concatenate([real, jnp.ones((n,), bool)]))


def gat_attention(graph: Graph, z, a_src, a_dst, negative_slope: float = 0.2):
    """Attention alpha [E + N, heads] of every edge (self-loops appended last) of a GAT layer.

    For an edge j -> i and head k (Velickovic et al. 2018, eqs. 1-3):
        e_ij = LeakyReLU(a_dst . z_i + a_src . z_j),   alpha_ij = softmax_j over i's incoming e_ij
    with ``z [N, heads, f]`` the projected features and ``a_src, a_dst [heads, f]``.  Padding
    edges get logit -inf, hence alpha = 0 exactly; every node has its self-loop, so no softmax
    is over an empty set.  Returns ``(alpha, senders, receivers)``.
    """
    senders, receivers, mask = with_self_edges(graph)
    logits = jax.nn.leaky_relu((z[senders] * a_src).sum(-1) + (z[receivers] * a_dst).sum(-1),
                               negative_slope)
    logits = jnp.where(mask[:, None], logits, -jnp.inf)
    alpha = jraph.segment_softmax(logits, receivers, num_segments=z.shape[0])
    return alpha, senders, receivers


def gat_layer(graph: Graph, params: dict, *, key=None, dropout: float = 0.0,
              concat: bool = True) -> Graph:
    """One multi-head GAT layer without its nonlinearity.

    ``params``: ``W [d, heads * f]``, ``a_src, a_dst [heads, f]``, ``b [heads * f]`` (``[f]`` when
    ``concat`` is False).  Nodes ``[N, d]`` -> ``[N, heads * f]`` (heads concatenated) or ``[N, f]``
    (heads averaged, the paper's output layer).  With a ``key``, dropout is applied to the
    layer's input and to the normalised attention coefficients, as in the paper.
    """
    heads, f = params["a_src"].shape
    h = graph.nodes
    if key is not None:
        key_in, key_att = jax.random.split(key)
        h = dropout_features(key_in, h, dropout)
    z = (h @ params["W"]).reshape(-1, heads, f)
    alpha, senders, receivers = gat_attention(graph, z, params["a_src"], params["a_dst"])
    if key is not None:
        alpha = dropout_features(key_att, alpha, dropout)
    out = jraph.segment_sum(z[senders] * alpha[..., None], receivers, num_segments=z.shape[0])
    out = out.reshape(-1, heads * f) if concat else out.mean(1)
    return graph._replace(nodes=out + params["b"])


# ----------------------------------------------------------------------------- dropout

def dropout_features(key, x, rate: float):
    """Inverted dropout on a dense array or on the stored entries of a BCOO matrix.

    Dropping only the stored entries of sparse features is Kipf & Welling's ``sparse_dropout``:
    zeros stay zero either way, so it equals dense dropout at a hundredth of the cost on Cora.
    """
    if rate <= 0.0:
        return x
    keep = 1.0 - rate
    if isinstance(x, sparse.BCOO):
        mask = jax.random.bernoulli(key, keep, x.data.shape)
        return sparse.BCOO((jnp.where(mask, x.data / keep, 0.0), x.indices), shape=x.shape,
                           indices_sorted=x.indices_sorted, unique_indices=x.unique_indices)
    mask = jax.random.bernoulli(key, keep, x.shape)
    return jnp.where(mask, x / keep, 0.0)
