"""Independent NumPy implementations of the SPEC equations: the recurrent cells one time step
at a time, and the GCN as dense matrices.

Deliberately naive (per-gate matmuls, float64, Python loops, dense N x N matrices) so that
they share nothing with the fused, scanned or message-passing compute paths they check.
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def rnn_forward(p, x):
    """Vanilla RNN logits p(T) for x [B, T, d]; returns (logits [B, K], hs [T+1, B, n])."""
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    x = np.asarray(x, np.float64)
    h = np.zeros((x.shape[0], p["W_hh"].shape[0]))
    hs = [h]
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ p["W_hx"].T + h @ p["W_hh"].T + p["b_h"])
        hs.append(h)
    return h @ p["W_ph"].T + p["b_p"], np.stack(hs)


def lstm_forward(p, x):
    """LSTM logits p(T) for x [B, T, d]; returns (logits [B, K], h(T), c(T))."""
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    x = np.asarray(x, np.float64)
    n = p["W_gh"].shape[0]
    h = np.zeros((x.shape[0], n))
    c = np.zeros((x.shape[0], n))
    for t in range(x.shape[1]):
        xt = x[:, t]
        g = np.tanh(xt @ p["W_gx"].T + h @ p["W_gh"].T + p["b_g"])
        i = sigmoid(xt @ p["W_ix"].T + h @ p["W_ih"].T + p["b_i"])
        f = sigmoid(xt @ p["W_fx"].T + h @ p["W_fh"].T + p["b_f"])
        o = sigmoid(xt @ p["W_ox"].T + h @ p["W_oh"].T + p["b_o"])
        c = g * i + c * f
        h = np.tanh(c) * o
    return h @ p["W_ph"].T + p["b_p"], h, c


# ----------------------------------------------------------------------------- graphs (Part 3)

def dense_adjacency(graph) -> np.ndarray:
    """A [N, N] with A[r, s] = number of real edges s -> r (padding edges, ``edges == 0``,
    left out), N = the real nodes of a ``jraph.GraphsTuple``."""
    n = int(np.sum(graph.n_node))
    real = (np.ones(len(graph.senders), bool) if graph.edges is None
            else np.asarray(graph.edges) > 0)
    A = np.zeros((n, n), np.float64)
    np.add.at(A, (np.asarray(graph.receivers)[real], np.asarray(graph.senders)[real]), 1.0)
    return A


def normalized_adjacency(A) -> np.ndarray:
    """A_hat = D~^(-1/2) (A + I) D~^(-1/2),  D~_ii = sum_j (A + I)_ij (the SPEC's formula)."""
    A_tilde = np.asarray(A, np.float64) + np.eye(len(A))
    d = 1.0 / np.sqrt(A_tilde.sum(1))
    return d[:, None] * A_tilde * d[None, :]


def dense_gcn_layer(A_hat, H, W):
    """One GCN layer without its nonlinearity: A_hat H W as two dense matrix products."""
    return A_hat @ np.asarray(H, np.float64) @ np.asarray(W, np.float64)
