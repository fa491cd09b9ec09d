"""Speed of the project's compiled steps against PyTorch references, measured in one run.

    pip install -e ".[bench]"              # torch==2.13.0 (+ torch-geometric for the GCN row)
    python experiments/benchmark.py        # every row; --rows a,c picks some

Rows (issue 6): (a) a palindrome training step (batch 128, T-1 = 19 one-hot digits, 128 hidden,
RMSProp, clipping 10) of the RNN and the LSTM against torch.nn.LSTM / nn.RNN and hand-written torch
loops of the same equations; (b) a char-LSTM training step, 2 x 128 (batch 64, seq 30) and 2 x 512
(batch 64, seq 100), against torch.nn.LSTM; (c) sampling 1000 characters at temperature 0.5
against a torch loop feeding one character at a time; (d) a GCN training epoch on Cora against
torch_geometric's GCNConv (and a plain torch sparse-matmul GCN); (e) the wall and compile time of
the default ``python experiments/palindrome.py``; (f) the study sweep (``palindrome.py --full``:
T = 5, 7, ..., 23, 10 seeds, 128 hidden, raw digits, batch 128, RMSProp 1e-3, clipping 10) per
run-step, as the library trains it (``train_sweep``, every length's program at once on the
devices), against torch.nn.LSTM / nn.RNN stepping the same runs one after another, the
original code's way, and both projected to the full protocol (10000 steps).

Every row times the project (warm, jit-compiled, through the library's own functions) and its
torch reference interleaved in this process: ``--warmup`` calls each, then ``--repeats`` rounds,
median per unit of work.  ``speed-up`` = torch time / project time (> 1: the project is faster).
Compile time (``lower().compile()``) is reported apart.  ``peak MB`` is the resident memory a
fresh process needs to hold and run the row once warm: its peak RSS while stepping minus its RSS
before building the row.  Results: ``OUT/benchmark.json`` and ``OUT/benchmark.md``.
"""

from __future__ import annotations

import dataclasses
import datetime
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from rnn_gnn import cli, distributed, files

ROWS = "abcdef"
# Targets: minimum speed-up (torch time / project time) per comparison, per platform.
TARGETS = {
    "cpu": {"palindrome LSTM": 1.0, "palindrome RNN": 2.0, "char-LSTM 2x128": 1.0,
            "char-LSTM 2x512": 2.0, "sample 1000 chars": 20.0, "GCN epoch Cora": 2.0},
    "gpu": {"palindrome LSTM": 5.0, "char-LSTM 2x512": 2.0, "sample 1000 chars": 50.0,
            "GCN epoch Cora": 10.0},
}
GPU_COMMAND = "python experiments/benchmark.py --out results/benchmark/gpu  # on a CUDA machine"
FULL_COMMAND = "python experiments/palindrome.py --full"
# Row (f): the study protocol; each repeat is one chunk of CHUNK steps of the whole sweep.
SWEEP = dict(lengths=list(range(5, 24, 2)), seeds=10, hidden=128, batch=128, chunk=20,
             chunks=5, protocol_steps=10000, torch_steps=10)
SWEEP_TARGET = 1.5   # issue 11: the projected protocol at least 1.5x faster than serial torch


@dataclasses.dataclass
class Impl:
    """One side of a comparison.  ``build()`` -> ``(run, compile_s)``; ``run()`` does ``units``
    units of work and returns when they are finished."""
    label: str
    build: Callable[[], tuple[Callable[[], None], float | None]]
    units: int = 1


@dataclasses.dataclass
class Case:
    name: str          # the comparison, e.g. "palindrome LSTM"
    unit: str          # what one unit of work is, e.g. "step"
    project: Impl | None
    reference: Impl | None
    missing: str = ""  # why a side is absent


# ----------------------------------------------------------------------------- helpers

def _jax_compiled(fn, *args, **kwargs):
    """``fn`` (a jitted function) compiled for ``args``, and the seconds it took."""
    start = time.perf_counter()
    compiled = fn.lower(*args, **kwargs).compile()
    return compiled, time.perf_counter() - start


def _looping(compiled, state, *args):
    """``run()`` that feeds ``compiled(state, *args) -> (state, ...)`` its own output (donated
    buffers stay valid) and waits for the result."""
    import jax
    box = [state]

    def run():
        box[0] = compiled(box[0], *args)[0]
        jax.block_until_ready(box[0])
    return run


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_device(torch):
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _torch_sync(torch):
    if torch.cuda.is_available():
        return torch.cuda.synchronize
    return lambda: None


def _torch_train(torch, params, loss_of_batch, make_batch, optimizer, max_norm, units):
    """``run()``: ``units`` torch training steps (fresh batch, backward, clip, update)."""
    sync = _torch_sync(torch)

    def run():
        for _ in range(units):
            loss = loss_of_batch(*make_batch())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, max_norm)
            optimizer.step()
        sync()
    return run


# ----------------------------------------------------------------------------- (a) palindromes

PAL = dict(batch=128, length=20, input_dim=10, hidden=128, steps=10)


def _project_palindrome(model: str):
    def build():
        import jax
        import jax.numpy as jnp
        from rnn_gnn import optimizers, palindrome, train
        cfg = palindrome.Config(model_type=model, input_dim=PAL["input_dim"],
                                num_hidden=PAL["hidden"], batch_size=PAL["batch"])
        loss_fn = palindrome.make_loss(palindrome.model_apply(cfg), cfg.batch_size,
                                       cfg.input_dim, PAL["length"])
        optimizer = optimizers.make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.max_norm)
        state = train.init_state(palindrome.init_params(cfg, jax.random.PRNGKey(0)), optimizer,
                                 jax.random.PRNGKey(1))
        # As the library trains: PAL["steps"] steps per compiled call (train.make_chunk).
        chunk = train.make_chunk(loss_fn, optimizer, PAL["steps"])
        task = jnp.int32(PAL["length"])
        compiled, seconds = _jax_compiled(chunk, state, task)
        return _looping(compiled, state, task), seconds
    backward = _default_backward()
    return Impl(f"rnn_gnn {model} ({backward} backward)", build, PAL["steps"])


def _default_backward():
    from rnn_gnn.palindrome import Config
    return Config().backward


def _torch_palindrome(kind: str):
    """kind: nn.LSTM, nn.RNN, loop.LSTM or loop.RNN (the SPEC equations, one matmul a step)."""
    def build():
        torch = _torch()
        dev = _torch_device(torch)
        torch.manual_seed(0)
        B, T, D, N, K = PAL["batch"], PAL["length"], PAL["input_dim"], PAL["hidden"], 10
        if kind.startswith("nn."):
            rnn = getattr(torch.nn, kind[3:])(D, N, batch_first=True).to(dev)
            head = torch.nn.Linear(N, K).to(dev)
            params = list(rnn.parameters()) + list(head.parameters())

            def logits(x):
                return head(rnn(x)[0][:, -1])
        else:
            gates = 4 if kind == "loop.LSTM" else 1
            s = N ** -0.5

            def uniform(*shape):
                return torch.nn.Parameter(torch.empty(*shape, device=dev).uniform_(-s, s))
            W_x, W_h, b = uniform(gates * N, D), uniform(gates * N, N), uniform(gates * N)
            W_ph, b_p = uniform(K, N), uniform(K)
            params = [W_x, W_h, b, W_ph, b_p]

            def logits(x):
                x_proj = x @ W_x.T + b                    # all steps at once, as the project
                h = torch.zeros(x.shape[0], N, device=dev)
                c = torch.zeros_like(h)
                for t in range(x.shape[1]):
                    z = x_proj[:, t] + h @ W_h.T
                    if gates == 1:
                        h = torch.tanh(z)
                    else:
                        zg, zi, zf, zo = z.chunk(4, 1)
                        c = torch.tanh(zg) * torch.sigmoid(zi) + c * torch.sigmoid(zf)
                        h = torch.tanh(c) * torch.sigmoid(zo)
                return h @ W_ph.T + b_p

        def batch():
            half = torch.randint(0, 10, (B, (T + 1) // 2), device=dev)
            digits = torch.cat([half, half[:, : T // 2].flip(1)], 1)
            return torch.nn.functional.one_hot(digits[:, :-1], 10).float(), digits[:, -1]

        def loss(x, y):
            return torch.nn.functional.cross_entropy(logits(x), y)
        optimizer = torch.optim.RMSprop(params, lr=1e-3, alpha=0.99, eps=1e-8)
        return _torch_train(torch, params, loss, batch, optimizer, 10.0, PAL["steps"]), None
    return Impl(f"torch {kind}", build, PAL["steps"])


def row_a():
    return [
        Case("palindrome LSTM", "step", _project_palindrome("lstm"), _torch_palindrome("nn.LSTM")),
        Case("palindrome LSTM, torch loop", "step", _project_palindrome("lstm"),
             _torch_palindrome("loop.LSTM")),
        Case("palindrome RNN", "step", _project_palindrome("rnn"), _torch_palindrome("loop.RNN")),
        Case("palindrome RNN, nn.RNN", "step", _project_palindrome("rnn"),
             _torch_palindrome("nn.RNN")),
    ]


# ----------------------------------------------------------------------------- (b, c) text

VOCAB = 87  # Grimms' fairy tales, BOM included


def _text_api():
    import importlib
    try:  # the submodules by name: rnn_gnn.text re-exports a function called ``sample``
        model = importlib.import_module("rnn_gnn.text.model")
        sample = importlib.import_module("rnn_gnn.text.sample")
    except ImportError as e:
        return None, f"rnn_gnn.text not available ({e})"
    needed = [(model, "init_params"), (model, "make_loss"), (sample, "sample")]
    missing = [f"{m.__name__}.{n}" for m, n in needed if not hasattr(m, n)]
    return ((model, sample), "") if not missing else (None, "missing " + ", ".join(missing))


def _fake_text(length=200_000):
    return np.random.default_rng(0).integers(0, VOCAB, length).astype(np.int32)


def _project_char_train(hidden, layers, batch, seq, steps):
    def build():
        import jax
        import jax.numpy as jnp
        from rnn_gnn import optimizers, train
        from rnn_gnn.text import model
        from rnn_gnn.text.run import Config
        cfg = Config()
        optimizer = optimizers.make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.max_norm)
        params = model.init_params(jax.random.PRNGKey(0), VOCAB, hidden, layers)
        state = train.init_state(params, optimizer, jax.random.PRNGKey(1))
        chunk = train.make_chunk(model.make_loss(batch, seq), optimizer, steps)
        data = jnp.asarray(_fake_text())
        compiled, seconds = _jax_compiled(chunk, state, data)
        return _looping(compiled, state, data), seconds
    return Impl(f"rnn_gnn char-LSTM {layers}x{hidden}", build, steps)


def _torch_char_train(hidden, layers, batch, seq, steps):
    def build():
        torch = _torch()
        dev = _torch_device(torch)
        torch.manual_seed(0)
        lstm = torch.nn.LSTM(VOCAB, hidden, num_layers=layers, batch_first=True).to(dev)
        head = torch.nn.Linear(hidden, VOCAB).to(dev)
        params = list(lstm.parameters()) + list(head.parameters())
        data = torch.as_tensor(_fake_text(), device=dev).long()
        offsets = torch.arange(seq + 1, device=dev)

        def batch_():
            starts = torch.randint(0, len(data) - seq - 1, (batch, 1), device=dev)
            window = data[starts + offsets]
            return window[:, :-1], window[:, 1:]

        def loss(x, y):
            out = head(lstm(torch.nn.functional.one_hot(x, VOCAB).float())[0])
            return torch.nn.functional.cross_entropy(out.reshape(-1, VOCAB), y.reshape(-1))
        optimizer = torch.optim.Adam(params, lr=2e-3)
        return _torch_train(torch, params, loss, batch_, optimizer, 5.0, steps), None
    return Impl(f"torch nn.LSTM {layers}x{hidden}", build, steps)


SAMPLE = dict(length=1000, temperature=0.5, hidden=128, layers=2)


def _project_sample():
    def build():
        import jax
        import jax.numpy as jnp
        from rnn_gnn.text.model import init_params
        from rnn_gnn.text.sample import sample
        params = init_params(jax.random.PRNGKey(0), VOCAB, SAMPLE["hidden"], SAMPLE["layers"])
        prime = jnp.zeros((1, 1), jnp.int32)
        key = jax.random.PRNGKey(2)
        compiled, seconds = _jax_compiled(sample, params, key, prime,
                                          length=SAMPLE["length"],
                                          temperature=SAMPLE["temperature"])

        def run():
            jax.block_until_ready(compiled(params, key, prime, temperature=SAMPLE["temperature"]))
        return run, seconds
    return Impl("rnn_gnn sample (one lax.scan)", build, 1)


def _torch_sample():
    def build():
        torch = _torch()
        dev = _torch_device(torch)
        torch.manual_seed(0)
        lstm = torch.nn.LSTM(VOCAB, SAMPLE["hidden"], num_layers=SAMPLE["layers"],
                             batch_first=True).to(dev)
        head = torch.nn.Linear(SAMPLE["hidden"], VOCAB).to(dev)
        sync = _torch_sync(torch)

        @torch.no_grad()
        def run():
            ids = torch.zeros(1, 1, dtype=torch.long, device=dev)
            state, out = None, []
            for _ in range(SAMPLE["length"]):
                h, state = lstm(torch.nn.functional.one_hot(ids, VOCAB).float(), state)
                probs = torch.softmax(head(h[:, -1]) / SAMPLE["temperature"], -1)
                ids = torch.multinomial(probs, 1)
                out.append(ids)
            torch.cat(out, 1).cpu()
            sync()
        return run, None
    return Impl("torch loop, one char per call", build, 1)


def row_b():
    api, why = _text_api()
    small = (128, 2, 64, 30, 5)
    big = (512, 2, 64, 100, 2)
    cases = []
    for name, args in (("char-LSTM 2x128", small), ("char-LSTM 2x512", big)):
        cases.append(Case(name, "step", _project_char_train(*args) if api else None,
                          _torch_char_train(*args), why))
    return cases


def row_c():
    api, why = _text_api()
    return [Case("sample 1000 chars", "1000 chars", _project_sample() if api else None,
                 _torch_sample(), why)]


# ----------------------------------------------------------------------------- (d) GCN

def _cora():
    from rnn_gnn.graph import data
    return data.load("cora", data_dir=Path(__file__).resolve().parents[1].parent / "shared"
                     / "datasets" / "planetoid")


def _graph_api():
    try:
        from rnn_gnn.graph import classify, data  # noqa: F401
    except ImportError as e:
        return f"rnn_gnn.graph not available ({e})"
    if not hasattr(classify, "make_epoch"):
        return "rnn_gnn.graph.classify.make_epoch missing"
    try:
        _cora()
    except Exception as e:  # the data files are shared, not part of the repository
        return f"Cora not found ({e})"
    return ""


def _project_gcn():
    def build():
        import jax
        from rnn_gnn.graph import classify
        epoch, state = classify.make_epoch(classify.PAPER["gcn"], _cora())
        compiled, seconds = _jax_compiled(epoch, state)
        box = [state]

        def run():
            box[0] = compiled(box[0])[0]
            jax.block_until_ready(box[0])
        return run, seconds
    return Impl("rnn_gnn GCN (jraph)", build, 1)


def _torch_gcn(kind: str):
    """kind: "pyg" (torch_geometric GCNConv) or "sparse" (torch.sparse.mm with A_hat)."""
    def build():
        torch = _torch()
        dev = _torch_device(torch)
        torch.manual_seed(0)
        d = _cora()
        x = d.graph.nodes
        x = torch.as_tensor(np.array(x.todense() if hasattr(x, "todense") else x), device=dev)
        edges = torch.as_tensor(np.stack([np.asarray(d.graph.senders),
                                          np.asarray(d.graph.receivers)]), device=dev).long()
        y = torch.as_tensor(np.asarray(d.labels), device=dev).long()
        train = torch.as_tensor(np.asarray(d.train), device=dev).long()
        hidden, k, n = 16, d.num_classes, x.shape[0]
        if kind == "pyg":
            from torch_geometric.nn import GCNConv
            layers = torch.nn.ModuleList([GCNConv(x.shape[1], hidden, bias=False),
                                          GCNConv(hidden, k, bias=False)]).to(dev)

            def propagate(layer, h):
                return layers[layer](h, edges)
            weights = list(layers.parameters())
        else:
            loops = torch.arange(n, device=dev)
            idx = torch.cat([edges, torch.stack([loops, loops])], 1)
            deg = torch.zeros(n, device=dev).index_add_(0, idx[0], torch.ones(idx.shape[1],
                                                                               device=dev))
            norm = deg[idx[0]].rsqrt() * deg[idx[1]].rsqrt()
            A_hat = torch.sparse_coo_tensor(idx.flip(0), norm, (n, n),
                                            check_invariants=True).coalesce()
            weights = [torch.nn.Parameter(torch.empty(x.shape[1], hidden, device=dev)),
                       torch.nn.Parameter(torch.empty(hidden, k, device=dev))]
            for w in weights:
                torch.nn.init.xavier_uniform_(w)

            def propagate(layer, h):
                return torch.sparse.mm(A_hat, h @ weights[layer])
        optimizer = torch.optim.Adam([{"params": weights[:1], "weight_decay": 5e-4},
                                      {"params": weights[1:]}], lr=0.01)
        sync = _torch_sync(torch)
        drop = torch.nn.functional.dropout

        def run():
            h = torch.relu(propagate(0, drop(x, 0.5)))
            logits = propagate(1, drop(h, 0.5))
            loss = torch.nn.functional.cross_entropy(logits[train], y[train])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sync()
        return run, None
    return Impl("torch_geometric GCNConv" if kind == "pyg" else "torch sparse.mm GCN", build, 1)


def row_d():
    why = _graph_api()
    project = _project_gcn() if not why else None
    try:
        import torch_geometric  # noqa: F401
        pyg, pyg_why = _torch_gcn("pyg"), why
    except ImportError:
        pyg, pyg_why = None, why or "torch_geometric not installed (pip install torch-geometric)"
    return [Case("GCN epoch Cora", "epoch", project, pyg, pyg_why),
            Case("GCN epoch Cora, torch sparse", "epoch", project, _torch_gcn("sparse"), why)]


ROW_CASES = {"a": row_a, "b": row_b, "c": row_c, "d": row_d}


# ----------------------------------------------------------------------------- timing

_BUILT: dict = {}  # label -> (run, compile_s): a side shared by two comparisons compiles once


def _build(impl: Impl):
    if impl.label not in _BUILT:
        _BUILT[impl.label] = impl.build()
    return _BUILT[impl.label]


def time_case(case: Case, warmup: int, repeats: int, clock=time.perf_counter) -> dict:
    """Median seconds per unit of the project and of the reference, interleaved."""
    sides = {"project": case.project, "torch": case.reference}
    runs, out = {}, {}
    for side, impl in sides.items():
        if impl is not None and (side == "project" or _torch() is not None):
            run, compile_s = _build(impl)
            runs[side] = (run, impl.units)
            out[f"{side}_label"] = impl.label
            if compile_s is not None:
                out[f"{side}_compile_s"] = round(compile_s, 2)
    for run, _ in runs.values():
        for _ in range(warmup):
            run()
    times = {side: [] for side in runs}
    for r in range(repeats):
        order = list(runs) if r % 2 == 0 else list(runs)[::-1]  # cancel slow drifts
        for side in order:
            run, units = runs[side]
            start = clock()
            run()
            times[side].append((clock() - start) / units)
    for side, t in times.items():
        out[f"{side}_ms"] = statistics.median(t) * 1e3
        out[f"{side}_ms_iqr"] = float(np.subtract(*np.percentile(t, [75, 25]))) * 1e3
    if "project_ms" in out and "torch_ms" in out:
        out["speedup"] = out["torch_ms"] / out["project_ms"]
    return out


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _memory_child(row: str, index: int, side: str, queue):
    """In a fresh process: RSS before building, peak RSS while running the warm step."""
    case = ROW_CASES[row]()[index]
    impl = case.project if side == "project" else case.reference
    if side == "project":  # importing and starting JAX's CPU client are not the row's memory
        import jax
        jax.block_until_ready(jax.numpy.zeros(()))
    else:
        _torch()
    before = _rss_kb("VmRSS")
    run, _ = impl.build()
    run()
    with open("/proc/self/clear_refs", "w") as f:  # reset the peak to the current RSS
        f.write("5")
    for _ in range(3):
        run()
    queue.put((_rss_kb("VmHWM") - before) / 1024)


def peak_memory_mb(row: str, index: int, side: str) -> float | None:
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_memory_child, args=(row, index, side, queue))
    child.start()
    child.join()
    return round(queue.get(), 1) if child.exitcode == 0 and not queue.empty() else None


# ----------------------------------------------------------------------------- (e) whole runs

_COMPILE_PROBE = """
import runpy, sys, atexit, jax.monitoring as m
total = [0.0]
def listen(event, seconds, **kw):
    if event.startswith("/jax/core/compile/") or event.startswith("/jax/compilation_cache/"):
        total[0] += seconds
m.register_event_duration_secs_listener(listen)
atexit.register(lambda: print(f"BENCHMARK_COMPILE_SECONDS {total[0]:.2f}"))
sys.argv = ["experiments/palindrome.py"] + sys.argv[1:]
runpy.run_path("experiments/palindrome.py", run_name="__main__")
"""


def row_e(platform_name: str) -> list[dict]:
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _COMPILE_PROBE, "--out", tmp],
                              cwd=root, capture_output=True, text=True)
        wall = time.perf_counter() - start
    compile_s = None
    for line in proc.stdout.splitlines():
        if line.startswith("BENCHMARK_COMPILE_SECONDS"):
            compile_s = float(line.split()[1])
    out = [{"name": "default palindrome run", "command": "python experiments/palindrome.py",
            "wall_s": round(wall, 1) if proc.returncode == 0 else None,
            "compile_s": compile_s, "returncode": proc.returncode,
            "stdout": proc.stdout[-2000:], "stderr": proc.stderr[-2000:]}]
    full = {"name": "--full palindrome sweep", "command": FULL_COMMAND}
    if platform_name == "gpu":
        full["note"] = "run it on this GPU machine: time " + FULL_COMMAND
    else:
        full["note"] = ("not measured (GPU-only protocol; target <= 2 min on one H100): "
                        + FULL_COMMAND)
    return out + [full]


# ----------------------------------------------------------------------------- (f) study sweep

def _sweep_project(model: str) -> list[float]:
    """Seconds per run-step of each warm chunk of the library's sweep (the first chunk, which
    compiles, is left out)."""
    import jax
    from rnn_gnn import palindrome
    cfg = palindrome.Config(model_type=model, num_hidden=SWEEP["hidden"],
                            batch_size=SWEEP["batch"],
                            train_steps=SWEEP["chunk"] * (SWEEP["chunks"] + 1))
    ticks = [time.perf_counter()]
    palindrome.train_sweep(cfg, SWEEP["lengths"], range(SWEEP["seeds"]),
                           log_every=SWEEP["chunk"], progress=False, devices=jax.devices(),
                           callback=lambda *_: ticks.append(time.perf_counter()))
    runs = len(SWEEP["lengths"]) * SWEEP["seeds"]
    return [float(d) / (SWEEP["chunk"] * runs) for d in np.diff(ticks[1:])]


def _sweep_torch(model: str) -> list[float]:
    """Seconds per run-step of serial torch: each length's run stepped on its own (a seed
    costs what any other does), averaged over the lengths; one value per repeat."""
    torch = _torch()
    B, D, N, K = SWEEP["batch"], 1, SWEEP["hidden"], 10
    steppers = []
    for T in SWEEP["lengths"]:
        torch.manual_seed(T)
        rnn = getattr(torch.nn, model.upper())(D, N, batch_first=True)
        head = torch.nn.Linear(N, K)
        params = list(rnn.parameters()) + list(head.parameters())
        optimizer = torch.optim.RMSprop(params, lr=1e-3, alpha=0.99, eps=1e-8)

        def batch(T=T):
            half = torch.randint(0, 10, (B, (T + 1) // 2))
            digits = torch.cat([half, half[:, : T // 2].flip(1)], 1)
            return digits[:, :-1, None].float(), digits[:, -1]

        def loss(x, y, rnn=rnn, head=head):
            return torch.nn.functional.cross_entropy(head(rnn(x)[0][:, -1]), y)
        steppers.append(_torch_train(torch, params, loss, batch, optimizer, 10.0,
                                     SWEEP["torch_steps"]))
    for run in steppers:
        run()                                                     # warm up
    out = []
    for _ in range(SWEEP["chunks"]):
        start = time.perf_counter()
        for run in steppers:
            run()
        out.append((time.perf_counter() - start) / (SWEEP["torch_steps"] * len(steppers)))
    return out


def row_f() -> list[dict]:
    runs = len(SWEEP["lengths"]) * SWEEP["seeds"]
    steps = SWEEP["protocol_steps"]
    rows = []
    for model in ("rnn", "lstm"):
        print(f"(f) study sweep {model} ...", file=sys.stderr, flush=True)
        project = _sweep_project(model)
        reference = _sweep_torch(model) if _torch() is not None else []
        r = {"row": "f", "name": f"study sweep {model.upper()}", "unit": "run-step",
             "runs": runs, "protocol_steps": steps,
             "project_label": f"rnn_gnn train_sweep, {len(SWEEP['lengths'])} programs",
             "project_ms_runs": [t * 1e3 for t in project]}
        r["project_ms"] = statistics.median(project) * 1e3
        r["project_ms_range"] = [min(project) * 1e3, max(project) * 1e3]
        if reference:
            r.update(torch_label=f"torch nn.{model.upper()}, runs one after another",
                     torch_ms_runs=[t * 1e3 for t in reference],
                     torch_ms=statistics.median(reference) * 1e3,
                     torch_ms_range=[min(reference) * 1e3, max(reference) * 1e3])
            r["speedups"] = [t / p for p, t in zip(project, reference)]
            r["speedup"] = statistics.median(r["speedups"])
        rows.append(r)
    total = {"row": "f", "name": "study protocol, both models", "unit": "protocol",
             "target": SWEEP_TARGET, "command": FULL_COMMAND}
    for side in ("project", "torch"):
        if all(f"{side}_ms" in r for r in rows):
            total[f"{side}_projected_s"] = sum(r[f"{side}_ms"] for r in rows) * runs * steps / 1e3
    if "torch_projected_s" in total:
        per_repeat = [sum(t for t in ts) / sum(p for p in ps) for ps, ts in zip(
            zip(*[r["project_ms_runs"] for r in rows]), zip(*[r["torch_ms_runs"] for r in rows]))]
        total["speedups"] = per_repeat
        total["speedup"] = statistics.median(per_repeat)
        total["met_in"] = f"{sum(s >= SWEEP_TARGET for s in per_repeat)} of {len(per_repeat)}"
    return rows + [total]


# ----------------------------------------------------------------------------- report

def machine() -> dict:
    import jax
    info = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "python": platform.python_version(), "jax": jax.__version__,
            "jax_backend": jax.default_backend(), "cpu_cores": os.cpu_count(),
            "cpu": _cpu_name(), "load_average_start": os.getloadavg()}
    torch = _torch()
    if torch is not None:
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                    torch_device=str(_torch_device(torch)))
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _fmt(x, spec=".2f"):
    return "-" if x is None else format(x, spec)


def markdown(results: list[dict], whole: list[dict], info: dict) -> str:
    lines = [f"Benchmark {info['date']}: {info['cpu']} ({info['cpu_cores']} cores), JAX "
             f"{info['jax']} on {info['jax_backend']}, torch {info.get('torch', 'not installed')}"
             f" ({info.get('torch_threads', '-')} threads), {info['clock']} clock; load average "
             f"at start {info['load_average_start'][0]:.1f}, at end "
             f"{info['load_average_end'][0]:.1f}.",
             "",
             "| comparison | project | reference | project ms | torch ms | speed-up | target "
             "| compile s | peak MB project / torch |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        target = r.get("target")
        met = "" if target is None or "speedup" not in r else (
            " (met)" if r["speedup"] >= target else " (NOT met)")
        lines.append(
            f"| {r['name']} (per {r['unit']}) | {r.get('project_label', r.get('missing') or '-')} "
            f"| {r.get('torch_label', r.get('missing') or '-')} | {_fmt(r.get('project_ms'))} "
            f"| {_fmt(r.get('torch_ms'))} | {_fmt(r.get('speedup'))}x | "
            f"{'-' if target is None else f'>= {target:g}x'}{met} | "
            f"{_fmt(r.get('project_compile_s'), '.1f')} | {_fmt(r.get('project_peak_mb'), '.0f')}"
            f" / {_fmt(r.get('torch_peak_mb'), '.0f')} |")
    for w in whole:
        if "wall_s" in w:
            lines.append(f"| {w['name']} | `{w['command']}` | | {_fmt(w['wall_s'], '.1f')} s wall "
                         f"| | | | {_fmt(w['compile_s'], '.1f')} | |")
        else:
            lines.append(f"| {w['name']} | `{w['command']}` | | {w['note']} | | | | | |")
    if info["jax_backend"] != "gpu":
        lines.append(f"| GPU rows | not measured (no GPU here): `{GPU_COMMAND}` | | | | | | | |")
    return "\n".join(lines) + "\n"


def sweep_markdown(rows: list[dict]) -> str:
    if not rows:
        return ""
    span = lambda r, side: (f"{r[side + '_ms']:.2f} ({r[side + '_ms_range'][0]:.2f}-"
                            f"{r[side + '_ms_range'][1]:.2f})" if side + "_ms" in r else "-")
    lines = ["", f"Study sweep (row f): median over {SWEEP['chunks']} repeats, (min-max); "
             f"{rows[0]['runs']} runs, projected to {SWEEP['protocol_steps']} steps.", "",
             "| comparison | project | reference | project ms | torch ms | speed-up |",
             "|---|---|---|---:|---:|---:|"]
    for r in rows[:-1]:
        lines.append(f"| {r['name']} (per run-step) | {r['project_label']} | "
                     f"{r.get('torch_label', '-')} | {span(r, 'project')} | {span(r, 'torch')} | "
                     f"{_fmt(r.get('speedup'))}x |")
    t = rows[-1]
    hours = lambda x: "-" if x is None else f"{x / 3600:.2f} h"
    lines.append(f"| {t['name']}, projected | `{t['command']}` | serial torch | "
                 f"{hours(t.get('project_projected_s'))} | {hours(t.get('torch_projected_s'))} | "
                 f"{_fmt(t.get('speedup'))}x (target >= {t['target']:g}x, met in "
                 f"{t.get('met_in', '-')} repeats) |")
    return "\n".join(lines) + "\n"


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__)
    p.add_argument("--rows", default=ROWS, help="which rows, e.g. 'ab' or 'a,c'")
    p.add_argument("--repeats", type=cli.positive(int), default=15)
    p.add_argument("--warmup", type=cli.positive(int), default=3)
    p.add_argument("--no_memory", action="store_true", help="skip the peak-memory processes")
    p.add_argument("--threads", type=cli.positive(int),
                   help="torch threads (default: torch's own); with 1, pin the whole run to one "
                        "core (taskset -c 0) so that JAX uses one too")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="cpu: this process's CPU time, steadier than wall time on a machine "
                        "shared with other jobs (meaningful with --threads 1 under taskset)")
    p.add_argument("--out", type=cli.out_dir, default=Path("results/benchmark"))
    args = p.parse_args(argv)
    args.rows = [r for r in args.rows.replace(",", "") if r.strip()]
    bad = sorted(set(args.rows) - set(ROWS))
    cli.check(not bad, f"--rows: unknown row(s) {', '.join(bad)}; choose from {', '.join(ROWS)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    distributed.use_cpu_cores()   # as palindrome.py: row (f) runs its programs one per core
    torch = _torch()
    if torch is not None and args.threads:
        torch.set_num_threads(args.threads)
    info = machine()
    info["clock"] = args.clock
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    plat = "gpu" if info["jax_backend"] == "gpu" else "cpu"
    if torch is None:
        print("torch not installed: only the project's times are measured "
              "(pip install -e '.[bench]')", file=sys.stderr)
    results = []
    for row in (r for r in args.rows if r in ROW_CASES):
        for index, case in enumerate(ROW_CASES[row]()):
            print(f"({row}) {case.name} ...", file=sys.stderr, flush=True)
            r = {"row": row, "name": case.name, "unit": case.unit,
                 "target": TARGETS[plat].get(case.name)}
            if case.missing:
                r["missing"] = case.missing
            if case.project is not None:
                r.update(time_case(case, args.warmup, args.repeats, clock))
                if not args.no_memory:
                    r["project_peak_mb"] = peak_memory_mb(row, index, "project")
                    if case.reference is not None and _torch() is not None:
                        r["torch_peak_mb"] = peak_memory_mb(row, index, "torch")
            results.append(r)
            print(f"    project {_fmt(r.get('project_ms'))} ms, "
                  f"torch {_fmt(r.get('torch_ms'))} ms, "
                  f"speed-up {_fmt(r.get('speedup'))}x", file=sys.stderr, flush=True)
    whole = row_e(plat) if "e" in args.rows else []
    sweep = row_f() if "f" in args.rows else []
    info["load_average_end"] = os.getloadavg()
    info["command"] = " ".join(["python", "experiments/benchmark.py"] + list(argv or sys.argv[1:]))
    table = markdown(results, whole, info) + sweep_markdown(sweep)
    print(table)
    files.write_json(args.out / "benchmark.json", {"machine": info, "results": results,
                                                 "whole_runs": whole, "study_sweep": sweep})
    files.write_bytes(args.out / "benchmark.md", table.encode())
    print(f"results in {args.out}/")


if __name__ == "__main__":
    cli.run_main(main)
