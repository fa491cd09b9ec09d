"""GCN (Kipf & Welling 2017) and GAT (Velickovic et al. 2018) node classifiers.

Parameters are flat dicts, one entry per weight, layer ``l`` numbered from 0:

    GCN:  W0 [d, hidden]  W1 [hidden, K]            (no biases, as the paper's code)
    GAT:  W0 [d, heads*f]  a_src0 a_dst0 [heads, f]  b0 [heads*f]
          W1 [heads*f, K]  a_src1 a_dst1 [1, K]      b1 [K]        (one averaged output head)

``apply(params, graph, key=None, dropout=0.0) -> logits [N, K]``; dropout is active only with
a ``key``.  ``decay_mask(params)`` marks the weights each paper regularises with L2.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from rnn_gnn.graph.layers import dropout_features, gat_layer, gcn_layer


# Glorot-uniform U(-r, r), r = sqrt(6 / (fan_in + fan_out)): both papers' initialiser.
glorot = jax.nn.initializers.glorot_uniform()
INITIALISER = "Glorot-uniform"


# ----------------------------------------------------------------------------- GCN

def gcn_init(key, input_dim: int, num_classes: int, hidden: int = 16, num_layers: int = 2):
    """``num_layers`` weights W0..W{L-1}; all hidden layers have ``hidden`` units."""
    sizes = [input_dim] + [hidden] * (num_layers - 1) + [num_classes]
    keys = jax.random.split(key, num_layers)
    return {f"W{l}": glorot(keys[l], (sizes[l], sizes[l + 1])) for l in range(num_layers)}


def gcn_apply(params, graph, key=None, dropout: float = 0.0, activation=jax.nn.relu):
    """H(l+1) = sigma(A_hat H(l) W(l)); the last layer returns logits (no sigma).

    Dropout precedes every layer (Kipf & Welling: on the input features and the hidden layer).
    """
    num_layers = len(params)
    keys = jax.random.split(key, num_layers) if key is not None else [None] * num_layers
    h = graph.nodes
    for l in range(num_layers):
        if keys[l] is not None:
            h = dropout_features(keys[l], h, dropout)
        h = gcn_layer(graph._replace(nodes=h), params[f"W{l}"]).nodes
        if l < num_layers - 1:
            h = activation(h)
    return h


def gcn_decay_mask(params):
    """Kipf & Welling's code decays only the first layer's weights (5e-4); we do the same."""
    return {name: name == "W0" for name in params}


# ----------------------------------------------------------------------------- GAT

def gat_init(key, input_dim: int, num_classes: int, hidden: int = 8, heads: int = 8,
             output_heads: int = 1):
    """Two GAT layers: ``heads`` x ``hidden`` concatenated, then ``output_heads`` averaged."""
    k = jax.random.split(key, 6)
    width = heads * hidden
    return {
        "W0": glorot(k[0], (input_dim, width)),
        "a_src0": glorot(k[1], (heads, hidden)),
        "a_dst0": glorot(k[2], (heads, hidden)),
        "b0": jnp.zeros((width,)),
        "W1": glorot(k[3], (width, output_heads * num_classes)),
        "a_src1": glorot(k[4], (output_heads, num_classes)),
        "a_dst1": glorot(k[5], (output_heads, num_classes)),
        "b1": jnp.zeros((num_classes,)),
    }


def gat_apply(params, graph, key=None, dropout: float = 0.0, activation=jax.nn.elu):
    """ELU(GAT layer, heads concatenated) -> GAT layer with heads averaged -> logits."""
    keys = jax.random.split(key) if key is not None else (None, None)
    layer = lambda l: {n: params[f"{n}{l}"] for n in ("W", "a_src", "a_dst", "b")}
    h = gat_layer(graph, layer(0), key=keys[0], dropout=dropout, concat=True).nodes
    h = activation(h)
    return gat_layer(graph._replace(nodes=h), layer(1), key=keys[1], dropout=dropout,
                     concat=False).nodes


def gat_decay_mask(params):
    """The GAT code adds L2 on every weight except the biases."""
    return {name: not name.startswith("b") for name in params}


class GraphModel(NamedTuple):
    init: Callable       # (key, input_dim, num_classes, **sizes) -> params
    apply: Callable      # (params, graph, key=None, dropout=0.0) -> logits [N, K]
    decay_mask: Callable  # params -> {name: bool}
    initialiser: str     # what ``init`` draws the weights from (figure titles say it)


MODELS = {
    "gcn": GraphModel(gcn_init, gcn_apply, gcn_decay_mask, INITIALISER),
    "gat": GraphModel(gat_init, gat_apply, gat_decay_mask, INITIALISER),
}
