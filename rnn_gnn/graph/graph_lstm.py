"""Question 3.3b's models: a graph-convolutional LSTM, and the two baselines that each lack one
of its ingredients.  All read the frames of ``rnn_gnn.graph.waves`` ``x [batch, T, N, d]`` and
output ``[batch, N, K]`` logits.

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

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from rnn_gnn import cells
from rnn_gnn.graph.layers import propagate
from rnn_gnn.graph.waves import NUM_CLASSES


def graph_lstm_init(key, input_dim: int, num_hidden: int, num_classes: int = NUM_CLASSES):
    key_self, key_nbr = jax.random.split(key)
    params = cells.lstm_init(key_self, input_dim, num_hidden, num_classes)
    # The neighbour weights get the self weights' init, PyTorch's U(-1/sqrt(n), 1/sqrt(n)).
    s = 1.0 / math.sqrt(num_hidden)
    uniform = lambda k, shape: jax.random.uniform(k, shape, minval=-s, maxval=s)
    keys = iter(jax.random.split(key_nbr, 8))
    for gate in cells.LSTM_GATES:
        params[f"W_{gate}xa"] = uniform(next(keys), (num_hidden, input_dim))
        params[f"W_{gate}ha"] = uniform(next(keys), (num_hidden, num_hidden))
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
    return cells.time_major(cells.project(params, final.h))      # [B, N, K]


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
    glorot = jax.nn.initializers.glorot_uniform()
    for l in range(num_layers):
        params[f"W_self{l}"] = glorot(keys[2 * l], (sizes[l], sizes[l + 1]))
        params[f"W_nbr{l}"] = glorot(keys[2 * l + 1], (sizes[l], sizes[l + 1]))
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
    return cells.time_major(h)


class SeqModel(NamedTuple):
    init: Callable    # (key, input_dim, num_hidden, ...) -> params
    apply: Callable   # (params, graph, x [B, T, N, d]) -> logits [B, N, K]
    initialiser: str  # what ``init`` draws the weights from (figure titles say it)


PYTORCH_UNIFORM = "PyTorch-uniform U(+-1/sqrt(n))"
MODELS = {
    "graph_lstm": SeqModel(graph_lstm_init, graph_lstm_apply, PYTORCH_UNIFORM),
    "node_lstm": SeqModel(node_lstm_init, node_lstm_apply, PYTORCH_UNIFORM),
    "gcn": SeqModel(gcn_init, gcn_apply, "Glorot-uniform"),
}

