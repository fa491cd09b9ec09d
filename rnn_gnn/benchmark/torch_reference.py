"""The PyTorch twins of the project's steps: the same work, written the way torch users write it.

torch is optional (``pip install -e ".[bench]"``): it is imported inside the functions, never at
import time, and ``torch()`` is None without it.  Each twin returns a ``harness.Impl`` whose
``build()`` makes the model and its optimizer and gives ``(run, None)``: torch compiles nothing.
Each twin moves to the GPU when there is one.
"""

from __future__ import annotations

import numpy as np

from rnn_gnn.benchmark.harness import Impl


def torch():
    """The torch module, or None when it is not installed."""
    try:
        import torch as module
    except ImportError:
        return None
    return module


def torch_geometric_missing() -> str:
    """Why the torch_geometric twin cannot run ("" when it can)."""
    try:
        import torch_geometric  # noqa: F401
    except ImportError:
        return "torch_geometric not installed (pip install torch-geometric)"
    return ""


def _device(t):
    return t.device("cuda" if t.cuda.is_available() else "cpu")


def _sync(t):
    return t.cuda.synchronize if t.cuda.is_available() else (lambda: None)


def training_steps(params, loss_of_batch, make_batch, optimizer, max_norm, units):
    """``run()``: ``units`` torch training steps (fresh batch, backward, clip, update)."""
    t = torch()
    sync = _sync(t)

    def run():
        for _ in range(units):
            loss = loss_of_batch(*make_batch())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            t.nn.utils.clip_grad_norm_(params, max_norm)
            optimizer.step()
        sync()
    return run


def palindrome_batch(t, batch: int, length: int, one_hot: bool, device=None):
    """The first T-1 digits of ``batch`` palindromes and their last digit, as the project's
    ``palindrome_batch`` (one-hot ``[B, T-1, 10]`` or raw ``[B, T-1, 1]``)."""
    half = t.randint(0, 10, (batch, (length + 1) // 2), device=device)
    digits = t.cat([half, half[:, : length // 2].flip(1)], 1)
    x = (t.nn.functional.one_hot(digits[:, :-1], 10).float() if one_hot
         else digits[:, :-1, None].float())
    return x, digits[:, -1]


def rmsprop(t, params):
    """The study's optimizer as the project's ``rmsprop`` entry (decay 0.99, eps 1e-8)."""
    return t.optim.RMSprop(params, lr=1e-3, alpha=0.99, eps=1e-8)


def palindrome(kind: str, batch: int, length: int, input_dim: int, hidden: int,
               steps: int) -> Impl:
    """A palindrome training step.  ``kind``: nn.LSTM, nn.RNN, loop.LSTM or loop.RNN (the SPEC
    equations as a Python loop, one recurrent matmul a step)."""
    def build():
        t = torch()
        dev = _device(t)
        t.manual_seed(0)
        D, N, K = input_dim, hidden, 10
        if kind.startswith("nn."):
            rnn = getattr(t.nn, kind[3:])(D, N, batch_first=True).to(dev)
            head = t.nn.Linear(N, K).to(dev)
            params = list(rnn.parameters()) + list(head.parameters())

            def logits(x):
                return head(rnn(x)[0][:, -1])
        else:
            gates = 4 if kind == "loop.LSTM" else 1
            s = N ** -0.5

            def uniform(*shape):
                return t.nn.Parameter(t.empty(*shape, device=dev).uniform_(-s, s))
            W_x, W_h, b = uniform(gates * N, D), uniform(gates * N, N), uniform(gates * N)
            W_ph, b_p = uniform(K, N), uniform(K)
            params = [W_x, W_h, b, W_ph, b_p]

            def logits(x):
                x_proj = x @ W_x.T + b                    # all steps at once, as the project
                h = t.zeros(x.shape[0], N, device=dev)
                c = t.zeros_like(h)
                for i in range(x.shape[1]):
                    z = x_proj[:, i] + h @ W_h.T
                    if gates == 1:
                        h = t.tanh(z)
                    else:
                        zg, zi, zf, zo = z.chunk(4, 1)
                        c = t.tanh(zg) * t.sigmoid(zi) + c * t.sigmoid(zf)
                        h = t.tanh(c) * t.sigmoid(zo)
                return h @ W_ph.T + b_p

        def loss(x, y):
            return t.nn.functional.cross_entropy(logits(x), y)
        return training_steps(params, loss, lambda: palindrome_batch(t, batch, length,
                                                                     input_dim == 10, dev),
                              rmsprop(t, params), 10.0, steps), None
    return Impl(f"torch {kind}", build, steps, torch)


def _char_model(vocab: int, hidden: int, layers: int):
    """``(torch, device, lstm, head)``: a fresh seeded stacked nn.LSTM and its output layer."""
    t = torch()
    dev = _device(t)
    t.manual_seed(0)
    lstm = t.nn.LSTM(vocab, hidden, num_layers=layers, batch_first=True).to(dev)
    return t, dev, lstm, t.nn.Linear(hidden, vocab).to(dev)


def char_lstm(ids: np.ndarray, vocab: int, hidden: int, layers: int, batch: int, seq: int,
              steps: int) -> Impl:
    """A char-LSTM training step on random windows of ``ids`` (Adam 2e-3, clipping 5)."""
    def build():
        t, dev, lstm, head = _char_model(vocab, hidden, layers)
        params = list(lstm.parameters()) + list(head.parameters())
        data = t.as_tensor(ids, device=dev).long()
        offsets = t.arange(seq + 1, device=dev)

        def windows():
            starts = t.randint(0, len(data) - seq - 1, (batch, 1), device=dev)
            window = data[starts + offsets]
            return window[:, :-1], window[:, 1:]

        def loss(x, y):
            out = head(lstm(t.nn.functional.one_hot(x, vocab).float())[0])
            return t.nn.functional.cross_entropy(out.reshape(-1, vocab), y.reshape(-1))
        optimizer = t.optim.Adam(params, lr=2e-3)
        return training_steps(params, loss, windows, optimizer, 5.0, steps), None
    return Impl(f"torch nn.LSTM {layers}x{hidden}", build, steps, torch)


def sample(vocab: int, hidden: int, layers: int, length: int, temperature: float) -> Impl:
    """Sampling ``length`` characters, one character per call of nn.LSTM."""
    def build():
        t, dev, lstm, head = _char_model(vocab, hidden, layers)
        sync = _sync(t)

        @t.no_grad()
        def run():
            ids = t.zeros(1, 1, dtype=t.long, device=dev)
            state, out = None, []
            for _ in range(length):
                h, state = lstm(t.nn.functional.one_hot(ids, vocab).float(), state)
                probs = t.softmax(head(h[:, -1]) / temperature, -1)
                ids = t.multinomial(probs, 1)
                out.append(ids)
            t.cat(out, 1).cpu()
            sync()
        return run, None
    return Impl("torch loop, one char per call", build, 1, torch)


def gcn(kind: str, data, hidden: int = 16) -> Impl:
    """A GCN training epoch on ``data`` (a ``graph.data.NodeData``), Kipf & Welling's settings.
    ``kind``: "pyg" (torch_geometric's GCNConv) or "sparse" (torch.sparse.mm with A_hat)."""
    def build():
        t = torch()
        dev = _device(t)
        t.manual_seed(0)
        x = data.graph.nodes
        x = t.as_tensor(np.array(x.todense() if hasattr(x, "todense") else x), device=dev)
        edges = t.as_tensor(np.stack([np.asarray(data.graph.senders),
                                      np.asarray(data.graph.receivers)]), device=dev).long()
        y = t.as_tensor(np.asarray(data.labels), device=dev).long()
        train = t.as_tensor(np.asarray(data.train), device=dev).long()
        k, n = data.num_classes, x.shape[0]
        if kind == "pyg":
            from torch_geometric.nn import GCNConv
            layers = t.nn.ModuleList([GCNConv(x.shape[1], hidden, bias=False),
                                      GCNConv(hidden, k, bias=False)]).to(dev)

            def propagate(layer, h):
                return layers[layer](h, edges)
            weights = list(layers.parameters())
        else:
            loops = t.arange(n, device=dev)
            idx = t.cat([edges, t.stack([loops, loops])], 1)
            deg = t.zeros(n, device=dev).index_add_(0, idx[0], t.ones(idx.shape[1], device=dev))
            norm = deg[idx[0]].rsqrt() * deg[idx[1]].rsqrt()
            A_hat = t.sparse_coo_tensor(idx.flip(0), norm, (n, n),
                                        check_invariants=True).coalesce()
            weights = [t.nn.Parameter(t.empty(x.shape[1], hidden, device=dev)),
                       t.nn.Parameter(t.empty(hidden, k, device=dev))]
            for w in weights:
                t.nn.init.xavier_uniform_(w)

            def propagate(layer, h):
                return t.sparse.mm(A_hat, h @ weights[layer])
        optimizer = t.optim.Adam([{"params": weights[:1], "weight_decay": 5e-4},
                                  {"params": weights[1:]}], lr=0.01)
        sync = _sync(t)
        drop = t.nn.functional.dropout

        def run():
            h = t.relu(propagate(0, drop(x, 0.5)))
            logits = propagate(1, drop(h, 0.5))
            loss = t.nn.functional.cross_entropy(logits[train], y[train])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sync()
        return run, None
    return Impl("torch_geometric GCNConv" if kind == "pyg" else "torch sparse.mm GCN", build, 1,
                torch)


def sweep_steppers(model: str, lengths, batch: int, hidden: int, steps: int) -> list:
    """Row (f)'s serial torch: one ``run()`` per length (``steps`` steps of nn.LSTM / nn.RNN on
    raw digits), each its own model and optimizer, stepped one after another as the original
    code trains a sweep."""
    t = torch()
    steppers = []
    for T in lengths:
        t.manual_seed(T)
        rnn = getattr(t.nn, model.upper())(1, hidden, batch_first=True)
        head = t.nn.Linear(hidden, 10)
        params = list(rnn.parameters()) + list(head.parameters())

        def loss(x, y, rnn=rnn, head=head):
            return t.nn.functional.cross_entropy(head(rnn(x)[0][:, -1]), y)
        steppers.append(training_steps(params, loss,
                                       lambda T=T: palindrome_batch(t, batch, T, False),
                                       rmsprop(t, params), 10.0, steps))
    return steppers


def environment(threads: int = 0) -> dict:
    """torch's version, threads and device, after setting ``threads`` (0: torch's own);
    empty without torch."""
    t = torch()
    if t is None:
        return {}
    if threads:
        t.set_num_threads(threads)
    return {"torch": t.__version__, "torch_threads": t.get_num_threads(),
            "torch_device": str(_device(t))}
