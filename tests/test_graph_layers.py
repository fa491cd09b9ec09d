"""GCN equals dense A_hat H W; GAT attention is a softmax over incoming edges with padding
masked; padding compiles once; the hops proof (question 3.1b)."""

import chex
import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest
from jax.experimental import sparse

from reference import dense_adjacency, dense_gcn_layer, normalized_adjacency
from rnn_gnn.graph import hops, layers
from rnn_gnn.graph.graphs import graph_from_edges, pad_graphs


def random_graph(rng, n, p, d=3, isolated=()):
    """An Erdos-Renyi graph on n nodes; the nodes in ``isolated`` keep no edges."""
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)
             if rng.random() < p and i not in isolated and j not in isolated]
    return graph_from_edges(n, pairs, jnp.asarray(rng.normal(size=(n, d)), jnp.float32))


def make_batch():
    """Four graphs batched: one with two isolated nodes, one single isolated node."""
    rng = np.random.default_rng(0)
    graphs = [random_graph(rng, 7, 0.4, isolated=(2, 5)), random_graph(rng, 1, 0.0),
              random_graph(rng, 9, 0.3), random_graph(rng, 5, 0.8)]
    return jraph.batch(graphs)


@pytest.fixture
def batch():
    return make_batch()


def dense_reference(graph, W):
    A_hat = normalized_adjacency(dense_adjacency(graph))
    return dense_gcn_layer(A_hat, np.asarray(graph.nodes)[:len(A_hat)], W)


def directed_graph(edges, n):
    s, r = np.array(edges).T
    return jraph.GraphsTuple(nodes=jnp.eye(n), edges=jnp.ones(len(s)), senders=jnp.asarray(s),
                             receivers=jnp.asarray(r), n_node=jnp.array([n]),
                             n_edge=jnp.array([len(s)]), globals=None)


# A_hat of two 3-node graphs, by hand.  D~ = in-degree + 1 (the self-loop).
PATH_A_HAT = np.array([[1 / 2, 1 / np.sqrt(6), 0],            # 0 - 1 - 2: D~ = 2, 3, 2
                       [1 / np.sqrt(6), 1 / 3, 1 / np.sqrt(6)],
                       [0, 1 / np.sqrt(6), 1 / 2]])
DIRECTED_A_HAT = np.array([[1, 0, 0],                          # 0 -> 1, 0 -> 2, 1 -> 2:
                           [1 / np.sqrt(2), 1 / 2, 0],         # D~ = 1, 2, 3
                           [1 / np.sqrt(3), 1 / np.sqrt(6), 1 / 3]])


def test_reference_a_hat_of_a_three_node_path_by_hand():
    path = graph_from_edges(3, [(0, 1), (1, 2)], jnp.eye(3))
    np.testing.assert_allclose(normalized_adjacency(dense_adjacency(path)), PATH_A_HAT,
                               rtol=1e-12)
    np.testing.assert_allclose(layers.propagate(path, jnp.eye(3)), PATH_A_HAT, rtol=1e-6)


def test_propagate_normalises_directed_graphs_by_in_degree_on_both_sides():
    """On a directed graph A_hat is the SPEC's formula with D~ the row sums of A + I (the
    receivers' in-degrees); jraph's symmetric normalisation, which takes the sender's side from
    its out-degree, is not."""
    graph = directed_graph([(0, 1), (0, 2), (1, 2)], 3)
    np.testing.assert_allclose(normalized_adjacency(dense_adjacency(graph)), DIRECTED_A_HAT,
                               rtol=1e-12)
    np.testing.assert_allclose(layers.propagate(graph, jnp.eye(3)), DIRECTED_A_HAT, rtol=1e-6)
    jraph_gcn = jraph.GraphConvolution(lambda x: x, add_self_edges=True)(graph).nodes
    assert not np.allclose(jraph_gcn, DIRECTED_A_HAT, atol=1e-3)


class GCNEqualsDenseTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_gcn_layer_equals_dense_reference(self):
        batch = make_batch()
        W = jax.random.normal(jax.random.PRNGKey(1), (3, 4))
        out = self.variant(layers.gcn_layer)(batch, W).nodes
        chex.assert_shape(out, (22, 4))
        chex.assert_trees_all_close(np.asarray(out), dense_reference(batch, W), atol=1e-5)
        # An isolated node (only its self-loop) keeps its own H W: A_hat_ii = 1.
        chex.assert_trees_all_close(np.asarray(out[2]), np.asarray(batch.nodes[2] @ W), atol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_gcn_layer_unchanged_by_padding_and_sparse_features(self):
        batch = make_batch()
        W = jax.random.normal(jax.random.PRNGKey(2), (3, 4))
        padded = pad_graphs(jraph.unbatch(batch), n_node=32, n_edge=128, n_graph=6)
        apply = self.variant(layers.gcn_layer)
        out = apply(padded, W).nodes
        chex.assert_trees_all_close(np.asarray(out[:22]), dense_reference(batch, W), atol=1e-5)
        sparse_out = apply(batch._replace(nodes=sparse.BCOO.fromdense(batch.nodes)), W).nodes
        chex.assert_trees_all_close(sparse_out, apply(batch, W).nodes, atol=1e-6)


def test_padded_batches_compile_once():
    rng = np.random.default_rng(3)
    traces = []

    @jax.jit
    def forward(graph, W):
        traces.append(1)
        return layers.gcn_layer(graph, W).nodes

    W = jnp.ones((3, 2))
    for sizes in ((4, 6), (9,), (3, 3, 3)):
        forward(pad_graphs([random_graph(rng, n, 0.5) for n in sizes], 16, 64, 4), W)
    assert len(traces) == 1


def gat_params(key, d=3, heads=2, f=4):
    k = jax.random.split(key, 3)
    return {"W": jax.random.normal(k[0], (d, heads * f)),
            "a_src": jax.random.normal(k[1], (heads, f)),
            "a_dst": jax.random.normal(k[2], (heads, f)), "b": jnp.zeros((heads * f,))}


def test_gat_attention_sums_to_one_and_masks_padding(batch):
    params = gat_params(jax.random.PRNGKey(4))
    padded = pad_graphs(jraph.unbatch(batch), n_node=30, n_edge=120, n_graph=6)
    z = (padded.nodes @ params["W"]).reshape(30, 2, 4)
    alpha, senders, receivers = layers.gat_attention(padded, z, params["a_src"], params["a_dst"])
    num_edges = len(padded.senders)
    chex.assert_shape(alpha, (num_edges + 30, 2))
    pad_edge = ~np.asarray(jraph.get_edge_padding_mask(padded))
    assert pad_edge.sum() == 120 - len(batch.senders)
    assert np.all(np.asarray(alpha)[:num_edges][pad_edge] == 0.0)
    totals = jax.ops.segment_sum(alpha, receivers, num_segments=30)
    chex.assert_trees_all_close(totals, jnp.ones((30, 2)), atol=1e-6)
    # Real nodes compute exactly what they compute unpadded.
    out = layers.gat_layer(padded, params).nodes[:22]
    chex.assert_trees_all_close(out, layers.gat_layer(batch, params).nodes, atol=1e-5)


def numpy_gat(graph, params, concat=True):
    """Independent reference: dense masked softmax over each node's neighbours and itself."""
    A = dense_adjacency(graph) + np.eye(int(np.sum(graph.n_node)))
    h = np.asarray(graph.nodes, np.float64)
    heads, f = params["a_src"].shape
    z = (h @ np.asarray(params["W"])).reshape(len(h), heads, f)
    out = []
    for k in range(heads):
        src = z[:, k] @ np.asarray(params["a_src"][k])
        dst = z[:, k] @ np.asarray(params["a_dst"][k])
        e = dst[:, None] + src[None, :]                         # e[i, j]: edge j -> i
        e = np.where(e > 0, e, 0.2 * e)
        e = np.where(A > 0, e, -np.inf)
        a = np.exp(e - e.max(1, keepdims=True))
        out.append((a / a.sum(1, keepdims=True)) @ z[:, k])
    out = np.stack(out, 1)
    return (out.reshape(len(h), -1) if concat else out.mean(1)) + np.asarray(params["b"])


@pytest.mark.parametrize("concat", [True, False])
def test_gat_layer_matches_numpy_reference(batch, concat):
    params = gat_params(jax.random.PRNGKey(5))
    if not concat:
        params["b"] = jnp.zeros((4,))
    out = layers.gat_layer(batch, params, concat=concat).nodes
    chex.assert_trees_all_close(np.asarray(out), numpy_gat(batch, params, concat), atol=1e-5)


def test_dropout_is_inverted_and_keeps_sparse_zeros():
    x = sparse.BCOO.fromdense(jnp.array([[0.0, 2.0], [4.0, 0.0]]))
    dropped = layers.dropout_features(jax.random.PRNGKey(0), x, 0.5).todense()
    assert set(np.unique(np.asarray(dropped))) <= {0.0, 4.0, 8.0}
    assert float(dropped[0, 0]) == 0.0 and float(dropped[1, 1]) == 0.0
    big = layers.dropout_features(jax.random.PRNGKey(1), jnp.ones((200, 200)), 0.6)
    assert abs(float(big.mean()) - 1.0) < 0.05


# ----------------------------------------------------------------------------- hops (3.1b)

NAMES = "ABCDEF"
EDGES = ["AB", "AC", "BC", "CD", "DE", "EF"]        # C - D - E - F: E is 2 hops, F 3 from C


@pytest.fixture
def lettered():
    ix = {c: i for i, c in enumerate(NAMES)}
    return graph_from_edges(6, [(ix[a], ix[b]) for a, b in EDGES], jnp.zeros((6, 1)))


def test_c_reaches_e_after_exactly_its_hop_distance(lettered):
    C, E, F = NAMES.index("C"), NAMES.index("E"), NAMES.index("F")
    distance = hops.hop_distances(lettered)
    assert distance[E, C] == 2 and distance[F, C] == 3
    assert [bool(hops.influence(lettered, k)[E, C]) for k in range(4)] == [False, False, True, True]
    assert hops.layers_to_reach(lettered, C, E) == 2
    assert hops.layers_to_reach(lettered, C, F) == 3          # 3 hops need 3 layers


def test_receptive_field_is_the_k_hop_ball(lettered):
    distance = hops.hop_distances(lettered)
    for k in range(5):
        np.testing.assert_array_equal(hops.influence(lettered, k), distance <= k, err_msg=f"k={k}")
