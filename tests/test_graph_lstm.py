"""The graph-convolutional LSTM against its equations, and the wave task's rules."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from rnn_gnn import cells
from rnn_gnn.graph import graph_lstm as gl
from rnn_gnn.graph import layers

TASK = gl.Task(num_nodes=12, steps=30, refractory=4, spontaneous=0.02)


def numpy_graph_lstm(params, A_hat, x):
    """The SPEC's LSTM equations with every W x and W h replaced by W [x, A_hat x] etc."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    sig = lambda v: 1 / (1 + np.exp(-v))
    B, T, N, _ = x.shape
    n = p["W_gh"].shape[0]
    h, c = np.zeros((B, N, n)), np.zeros((B, N, n))
    for t in range(T):
        xt, ht = x[:, t], h
        pre = {g: xt @ p[f"W_{g}x"].T + (A_hat @ xt) @ p[f"W_{g}xa"].T + ht @ p[f"W_{g}h"].T
               + (A_hat @ ht) @ p[f"W_{g}ha"].T + p[f"b_{g}"] for g in "gifo"}
        c = np.tanh(pre["g"]) * sig(pre["i"]) + c * sig(pre["f"])
        h = np.tanh(c) * sig(pre["o"])
    return h @ p["W_ph"].T + p["b_p"]


class GraphLSTMTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_graph_lstm_equals_numpy_equations(self):
        graph = gl.make_graph(TASK)
        params = gl.graph_lstm_init(jax.random.PRNGKey(0), 1, 5)
        params = {k: v + 0.1 * jax.random.normal(jax.random.PRNGKey(i), v.shape)
                  for i, (k, v) in enumerate(sorted(params.items()))}   # non-zero biases too
        x = jax.random.normal(jax.random.PRNGKey(1), (2, 6, 12, 1))
        out = self.variant(gl.graph_lstm_apply)(params, graph, x)
        chex.assert_shape(out, (2, 12, gl.NUM_CLASSES))
        A_hat = layers.normalized_adjacency(layers.dense_adjacency(graph))
        chex.assert_trees_all_close(np.asarray(out), numpy_graph_lstm(params, A_hat, np.asarray(x)),
                                    atol=1e-5)

    def test_without_neighbour_weights_it_is_the_per_node_lstm(self):
        graph = gl.make_graph(TASK)
        params = gl.graph_lstm_init(jax.random.PRNGKey(2), 1, 6)
        params = {k: (jnp.zeros_like(v) if k.endswith("a") else v) for k, v in params.items()}
        x = jax.random.bernoulli(jax.random.PRNGKey(3), 0.3, (3, 7, 12, 1)).astype(jnp.float32)
        own = {k: v for k, v in params.items() if not k.endswith("a")}
        chex.assert_trees_all_close(gl.graph_lstm_apply(params, graph, x),
                                    gl.node_lstm_apply(own, graph, x), atol=1e-6)
        assert set(own) == set(cells.lstm_init(jax.random.PRNGKey(0), 1, 6, 2))


def test_waves_obey_the_greenberg_hastings_rules():
    graph = gl.make_graph(TASK)
    x, y = gl.simulate(jax.random.PRNGKey(4), graph, TASK, 64)
    chex.assert_shape(x, (64, 30, 12, 2))
    chex.assert_shape(y, (64, 12))
    excited, spark = np.asarray(x[..., 0]) > 0, np.asarray(x[..., 1]) != 0
    assert 0.02 < excited.mean() < 0.5                     # waves are neither dead nor saturated
    assert np.all(excited[spark])                          # a spark is an excitation
    # After firing, a node rests for at least R steps: consecutive firings are > R apart.
    for b, i in zip(*np.nonzero(excited.sum(1) > 1)):
        assert np.min(np.diff(np.flatnonzero(excited[b, :, i]))) >= TASK.refractory + 1
    # Excitation travels along edges: every excitation that is not a spark had an excited
    # neighbour one step earlier; at t = 0 (all at rest before) only sparks fire.
    senders, receivers = np.asarray(graph.senders), np.asarray(graph.receivers)
    nbr = np.zeros(excited.shape)
    np.add.at(nbr, (slice(None), slice(None), receivers), excited[:, :, senders])
    relayed = excited[:, 1:] & ~spark[:, 1:]
    assert relayed.sum() > 100 and np.all(nbr[:, :-1][relayed] > 0)
    assert np.all(spark[:, 0] == excited[:, 0])
    # The rule on the full hidden state (who is resting, which colour each wave carries)
    # predicts the next frame up to the unforeseeable sparks and colour ties.
    ceiling = gl.rule_ceiling(TASK, graph, jax.random.PRNGKey(4), 64)
    assert ceiling["accuracy"] > 0.98 and ceiling["wave_f1"] > 0.9
