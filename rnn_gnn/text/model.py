"""A stacked character-level LSTM (SPEC Part 2) built from the Part 1 cell.

Parameters (a plain dict; V = vocabulary size, n = hidden units, d = V one-hot or E embedded):

    layers[0]     the Part 1 LSTM gates  W_gx.. [n, d]  W_gh.. [n, n]  b_g.. [n]
    layers[l>0]   the same with          W_gx.. [n, n]
    W_ph [V, n], b_p [V]                 projection of the top layer's h(t) at every step
    embed [V, E]                         only with an embedding input (embed_dim > 0)

With one-hot input, ``one_hot(x) @ W_x.T`` is a row gather of ``W_x.T``: no [B, T, V] one-hot
tensor is built.  Each layer projects the inputs of all time steps in one matmul before its
``lax.scan`` (as ``cells.lstm_final_state`` does), so the scan body holds only the recurrent
``h @ W_h.T``.  Sampling, where the next input is only known after the previous step, uses
``step``: all layers for one character.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnn_gnn.bptt import lstm_layer
from rnn_gnn.cells import (LSTMState, gate_activations, lstm_fused_weights, lstm_init, lstm_step,
                           lstm_update, project, time_major)
from rnn_gnn.distributed import shard_batch
from rnn_gnn.text.corpus import windows
from rnn_gnn.train import softmax_cross_entropy


def init_params(key, vocab_size: int, num_hidden: int = 128, num_layers: int = 2,
                embed_dim: int = 0, init: str = "pytorch", forget_bias: float = 0.0) -> dict:
    """Parameters as in the module docstring; each layer is ``cells.lstm_init``'s."""
    keys = jax.random.split(key, num_layers + 1)
    layers = []
    for l in range(num_layers):
        d = (embed_dim or vocab_size) if l == 0 else num_hidden
        layer = lstm_init(keys[l], d, num_hidden, vocab_size, init=init, forget_bias=forget_bias)
        head = {"W_ph": layer.pop("W_ph"), "b_p": layer.pop("b_p")}
        layers.append(layer)
    params = {"layers": layers, **head}  # the top layer's projection
    if embed_dim:
        params["embed"] = jax.random.normal(keys[-1], (vocab_size, embed_dim))  # as nn.Embedding
    return params


def zero_state(params: dict, batch_size: int) -> tuple[LSTMState, ...]:
    """c(0) = h(0) = 0 for every layer: a tuple of ``LSTMState([B, n], [B, n])``."""
    n = params["W_ph"].shape[1]
    zeros = jnp.zeros((batch_size, n))
    return tuple(LSTMState(zeros, zeros) for _ in params["layers"])


def fuse(params: dict) -> dict:
    """The parameters rearranged for computing, once per forward pass or sampled text:

    "layers"   per layer ``(W_x [4n, d], W_h [4n, n], b [4n])``, the four gates stacked
               (``cells.lstm_fused_weights``);
    "table"    ``[V, 4n]``: the first layer's input projection ``W_x x + b`` of every possible
               character (one-hot, or its embedding), so reading a character is a row gather;
    "stacked"  for each layer above the first, ``[W_x, W_h]^T`` ``[2n, 4n]``, so that ``step``
               does one matmul per layer on ``[h below, h before]``;
    "W_ph", "b_p"  the output projection, as in ``params``.
    """
    fused = [lstm_fused_weights(layer) for layer in params["layers"]]
    W_x, _, b = fused[0]
    table = (params["embed"] @ W_x.T if "embed" in params else W_x.T) + b
    stacked = [jnp.concatenate([W_x, W_h], 1).T for W_x, W_h, _ in fused[1:]]   # [2n, 4n]
    return {"table": table, "layers": fused, "stacked": stacked, "W_ph": params["W_ph"],
            "b_p": params["b_p"]}


def forward(params: dict, ids, state=None, *, dropout_key=None, dropout: float = 0.0):
    """Logits at every step and the final state.

    ``ids [B, T]`` int -> ``(logits [B, T, V], state)``; ``state`` (default zeros) is a tuple
    of per-layer ``LSTMState``, so a long text can be fed in pieces.  With ``dropout_key`` and
    ``dropout > 0`` (the probability of dropping a unit) the output of every layer is dropped,
    the top one's before the projection too (inverted dropout on the non-recurrent
    connections, a fresh mask per step and unit, as Zaremba et al. 2014); the recurrent
    h(t-1) -> h(t) path is never dropped.
    """
    fused = fuse(params)
    if state is None:
        state = zero_state(params, ids.shape[0])
    x_proj = fused["table"][ids.T]                          # [T, B, 4n]: time-major for scan
    finals = []
    for l, (W_x, W_h, b) in enumerate(fused["layers"]):
        if l > 0:
            x_proj = hs @ W_x.T + b                          # all steps of this layer at once
        final, hs = lstm_layer(W_h, state[l], x_proj)         # hand-derived BPTT backward
        finals.append(final)
        if dropout_key is not None and dropout > 0.0:
            keep_prob = 1.0 - dropout
            keep = jax.random.bernoulli(jax.random.fold_in(dropout_key, l), keep_prob, hs.shape)
            hs = jnp.where(keep, hs / keep_prob, 0.0)
    logits = project(params, hs)                             # [T, B, V]
    return time_major(logits), tuple(finals)


def step(fused: dict, state, ids):
    """One character through all layers: ``ids [B]`` -> ``(state, logits [B, V])``.
    ``fused = fuse(params)``, computed once outside the sampling loop."""
    new = [lstm_step(fused["layers"][0][1], state[0], fused["table"][ids])]
    for l in range(1, len(state)):
        # [h below, h before] @ [W_x, W_h]^T + b: one matmul per layer instead of two
        z = jnp.concatenate([new[-1].h, state[l].h], -1) @ fused["stacked"][l - 1]
        new.append(lstm_update(state[l], gate_activations(z + fused["layers"][l][2])))
    logits = new[-1].h @ fused["W_ph"].T + fused["b_p"]
    return tuple(new), logits


def make_loss(batch_size: int, seq_length: int, dropout: float = 0.0):
    """``loss_fn(params, key, data)`` for ``rnn_gnn.train.train``: draws ``batch_size`` random
    windows of ``data`` (int ids ``[N]``, passed as the loop's ``task``) and returns the mean
    cross-entropy over all ``seq_length`` steps (nats/char) and the accuracy; ``dropout`` is
    the drop probability of ``forward``."""
    def loss_fn(params, key, data):
        batch_key, dropout_key = jax.random.split(key)
        x, y = shard_batch(windows(batch_key, data, batch_size, seq_length))
        logits, _ = forward(params, x, dropout_key=dropout_key if dropout > 0.0 else None,
                            dropout=dropout)
        loss, accuracy = softmax_cross_entropy(logits, y)
        return loss, {"accuracy": accuracy}
    return loss_fn


@jax.jit
def evaluate(params: dict, x, y):
    """Mean cross-entropy (nats/char) and accuracy on fixed windows ``x, y [N, T]``, each read
    from a zero state, as in training."""
    logits, _ = forward(params, x)
    return softmax_cross_entropy(logits, y)


def transfer_vocab(params: dict, old_vocab: str, new_vocab: str, fresh: dict) -> dict:
    """``params`` of a model over ``old_vocab`` made to read and write ``new_vocab`` (for
    fine-tuning on another text): every character of both keeps its learned input weights
    (the first layer's ``W_?x`` columns, or its ``embed`` row) and output row (``W_ph``,
    ``b_p``); a new character gets the rows of ``fresh``, a model initialised for
    ``new_vocab``; old characters the new text lacks are dropped.  Everything else is kept."""
    old = {ch: i for i, ch in enumerate(old_vocab)}
    source = jnp.asarray([old.get(ch, 0) for ch in new_vocab])
    known = jnp.asarray([ch in old for ch in new_vocab])

    def take(learned, init, axis):
        picked = jnp.take(learned, source, axis=axis)
        shape = [1] * learned.ndim
        shape[axis] = -1
        return jnp.where(known.reshape(shape), picked, init)

    first = dict(params["layers"][0])
    if "embed" not in params:  # one-hot input: column j of W_?x reads character j
        first.update({k: take(v, fresh["layers"][0][k], 1) for k, v in first.items()
                      if k.startswith("W_") and k.endswith("x")})
    out = {**params, "layers": [first, *params["layers"][1:]],
           "W_ph": take(params["W_ph"], fresh["W_ph"], 0),
           "b_p": take(params["b_p"], fresh["b_p"], 0)}
    if "embed" in params:
        out["embed"] = take(params["embed"], fresh["embed"], 0)
    return out
