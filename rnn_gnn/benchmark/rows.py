"""The benchmark's rows: what is compared, at which sizes, and against which target.

(a) a palindrome training step (batch 128, T-1 = 19 one-hot digits, 128 hidden, RMSProp,
clipping 10) of the RNN and the LSTM against torch.nn.LSTM / nn.RNN and hand-written torch
loops of the same equations; (b) a char-LSTM training step, 2 x 128 (batch 64, seq 30) and
2 x 512 (batch 64, seq 100), against torch.nn.LSTM; (c) sampling 1000 characters at temperature
0.5 against a torch loop feeding one character at a time; (d) a GCN training epoch on Cora
against torch_geometric's GCNConv (and a plain torch sparse-matmul GCN); (e) the wall and
compile time of README's commands that run on their defaults (``python
experiments/palindrome.py``, ``python experiments/generate.py --temperature 0.5``), each a
fresh process; (f) the study sweep (``palindrome.py --full``: T = 5, 7, ..., 23, 10 seeds, 128
hidden, raw digits, batch 128, RMSProp 1e-3, clipping 10) per run-step, as the library trains
it (``train_sweep``), against torch.nn.LSTM / nn.RNN stepping the same runs one after another,
both projected to the full protocol (10000 steps).

The project's side of rows (a, b, d) is what its experiments train: the part's
``make_trainer(config, ...)`` and ``train.make_chunk`` over its loss and optimizer, compiled
on ``(state, trainer.task)``; row (d) runs ``classify.EPOCHS_PER_CALL`` epochs per call, as
``classify.train_seeds`` does.  Every time is reported per unit (step, epoch): a call's time
divided by the units it ran (``Impl.units``).
"""

from __future__ import annotations

import dataclasses
import functools
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from rnn_gnn import palindrome, text, train
from rnn_gnn.benchmark import torch_reference
from rnn_gnn.benchmark.harness import Case, Impl, compiled, looping, summarize
from rnn_gnn.errors import DataError
from rnn_gnn.graph import classify, data as graph_data
from rnn_gnn.text import model as text_model, sample as text_sample

ROWS = "abcdef"
# Targets: minimum speed-up (torch time / project time) per comparison, per platform.
TARGETS = {
    "cpu": {"palindrome LSTM": 1.0, "palindrome RNN": 2.0, "char-LSTM 2x128": 1.0,
            "char-LSTM 2x512": 2.0, "sample 1000 chars": 20.0, "GCN epoch Cora": 2.0},
    "gpu": {"palindrome LSTM": 5.0, "char-LSTM 2x512": 2.0, "sample 1000 chars": 50.0,
            "GCN epoch Cora": 10.0},
}
PAL = dict(batch=128, length=20, input_dim=10, hidden=128, steps=10)
VOCAB = 87  # Grimms' fairy tales, BOM included
CHAR = {"char-LSTM 2x128": dict(hidden=128, layers=2, batch=64, seq=30, steps=5),
        "char-LSTM 2x512": dict(hidden=512, layers=2, batch=64, seq=100, steps=2)}
SAMPLE = dict(length=1000, temperature=0.5, hidden=128, layers=2)
FULL_COMMAND = "python experiments/palindrome.py --full"
DEFAULT_COMMAND = "python experiments/palindrome.py"
GENERATE_COMMAND = "python experiments/generate.py --temperature 0.5"
# Row (e): README's commands that need no data and no flags beyond these, by entry name.
WHOLE_RUNS = {"default palindrome run": DEFAULT_COMMAND,
              "generate 300 chars (shipped model)": GENERATE_COMMAND}
# Row (f): the study protocol; each repeat is one chunk of CHUNK steps of the whole sweep.
SWEEP = dict(lengths=list(range(5, 24, 2)), seeds=10, hidden=128, batch=128, chunk=20,
             chunks=5, protocol_steps=10000, torch_steps=10)
SWEEP_TARGET = 1.5   # issue 11: the projected protocol at least 1.5x faster than serial torch


def _start_jax():
    jax.block_until_ready(jnp.zeros(()))


def trained(label: str, make_trainer, steps: int) -> Impl:
    """The project's side: ``steps`` updates of ``make_trainer()`` per compiled call, as the
    library's loop runs them (``train.make_chunk``, state donated)."""
    def build():
        t = make_trainer()
        chunk = train.make_chunk(t.loss_fn, t.optimizer, steps)
        state = t.init(jax.random.PRNGKey(0))
        step, seconds = compiled(chunk, state, t.task)
        return looping(step, state, t.task), seconds
    return Impl(label, build, steps, _start_jax)


# ----------------------------------------------------------------------------- (a) palindromes

def _palindrome(model: str) -> Impl:
    cfg = palindrome.Config(model_type=model, input_dim=PAL["input_dim"],
                            num_hidden=PAL["hidden"], batch_size=PAL["batch"])
    return trained(f"rnn_gnn {model} ({cfg.backward} backward)",
                   lambda: palindrome.make_trainer(cfg, PAL["length"]), PAL["steps"])


def row_a() -> list[Case]:
    def ref(kind):
        return torch_reference.palindrome(kind, **PAL)
    lstm, rnn = _palindrome("lstm"), _palindrome("rnn")
    return [Case("palindrome LSTM", "step", lstm, ref("nn.LSTM")),
            Case("palindrome LSTM, torch loop", "step", lstm, ref("loop.LSTM")),
            Case("palindrome RNN", "step", rnn, ref("loop.RNN")),
            Case("palindrome RNN, nn.RNN", "step", rnn, ref("nn.RNN"))]


# ----------------------------------------------------------------------------- (b, c) text

def fake_text(length: int = 200_000) -> np.ndarray:
    """Random character ids: a step's cost does not depend on which characters it reads."""
    return np.random.default_rng(0).integers(0, VOCAB, length).astype(np.int32)


def _char_config(hidden, layers, batch, seq, steps):
    # No dropout and no weight averaging: the torch twin has neither.
    return dataclasses.replace(text.Config(), num_hidden=hidden, num_layers=layers,
                               batch_size=batch, seq_length=seq, dropout=0.0, average_decay=0.0)


def row_b() -> list[Case]:
    cases = []
    for name, size in CHAR.items():
        cfg = _char_config(**size)
        project = trained(f"rnn_gnn char-LSTM {size['layers']}x{size['hidden']}",
                          lambda cfg=cfg: text.make_trainer(cfg, fake_text(), VOCAB),
                          size["steps"])
        cases.append(Case(name, "step", project,
                          torch_reference.char_lstm(fake_text(), VOCAB, **size)))
    return cases


def _sample() -> Impl:
    def build():
        params = text_model.init_params(jax.random.PRNGKey(0), VOCAB, SAMPLE["hidden"],
                                        SAMPLE["layers"])
        prime = jnp.zeros((1, 1), jnp.int32)
        key = jax.random.PRNGKey(2)
        write, seconds = compiled(text_sample.sample, params, key, prime,
                                  length=SAMPLE["length"], temperature=SAMPLE["temperature"])

        def run():
            jax.block_until_ready(write(params, key, prime, temperature=SAMPLE["temperature"]))
        return run, seconds
    return Impl("rnn_gnn sample (one lax.scan)", build, 1, _start_jax)


def row_c() -> list[Case]:
    return [Case("sample 1000 chars", "1000 chars", _sample(),
                 torch_reference.sample(VOCAB, SAMPLE["hidden"], SAMPLE["layers"],
                                        SAMPLE["length"], SAMPLE["temperature"]))]


# ----------------------------------------------------------------------------- (d) GCN

@functools.cache
def cora(data_dir: str | None):
    """Cora from ``data_dir`` (None: ``$RNN_GNN_PLANETOID``, else the download cache)."""
    return graph_data.load("cora", data_dir)


def row_d(data_dir: str | None = None) -> list[Case]:
    names = ("GCN epoch Cora", "GCN epoch Cora, torch sparse")
    try:
        nodes = cora(data_dir)
    except DataError as e:   # the data are not part of the repository
        return [Case(name, "epoch", None, None, f"Cora not found ({e})") for name in names]
    # As many epochs per compiled call as the library trains (``train_seeds``' chunks), so the
    # row does not time a per-epoch dispatch that training never pays; reported per epoch.
    project = trained("rnn_gnn GCN (jraph)",
                      lambda: classify.make_trainer(classify.PAPER["gcn"], nodes),
                      classify.EPOCHS_PER_CALL)
    no_pyg = torch_reference.torch_geometric_missing()
    return [Case(names[0], "epoch", project,
                 None if no_pyg else torch_reference.gcn("pyg", nodes), no_pyg),
            Case(names[1], "epoch", project, torch_reference.gcn("sparse", nodes))]


def cases(row: str, data_dir: str | None = None) -> list[Case]:
    """The comparisons of a timed row (a-d)."""
    return row_d(data_dir) if row == "d" else {"a": row_a, "b": row_b, "c": row_c}[row]()


TIMED = "abcd"


def side(row: str, index: int, which: str, data_dir: str | None = None) -> Impl:
    """One side ("project" or "torch") of a comparison, rebuilt (for a fresh process)."""
    case = cases(row, data_dir)[index]
    return case.project if which == "project" else case.reference


# ----------------------------------------------------------------------------- (e) whole runs

# Run as ``python -c _COMPILE_PROBE ROOT SCRIPT ARGS...``: SCRIPT (relative to the checkout
# ROOT) as its own command would run it, importing ROOT's rnn_gnn, and its compile seconds
# printed last (JAX's compile events of the whole process, which the script cannot report).
_COMPILE_PROBE = """
import atexit, os, runpy, sys, jax.monitoring as m
root, script = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
total = [0.0]
def listen(event, seconds, **kw):
    if event.startswith("/jax/core/compile/") or event.startswith("/jax/compilation_cache/"):
        total[0] += seconds
m.register_event_duration_secs_listener(listen)
atexit.register(lambda: print(f"BENCHMARK_COMPILE_SECONDS {total[0]:.2f}"))
sys.argv = [script] + sys.argv[3:]
runpy.run_path(os.path.join(root, script), run_name="__main__")
"""


def time_command(name: str, command: str, root: Path | None) -> dict:
    """``command`` (``python experiments/X.py ARGS``) timed as a fresh process: wall seconds
    (None when it fails), JAX's compile seconds, its exit status and output tails.  It runs in
    an empty folder, so that its default output folders are fresh and it reads no results of
    earlier runs (``generate.py`` takes results/text/grimms over the shipped model)."""
    _, script, *args = shlex.split(command)
    entry = {"name": name, "command": command}
    if root is None or not (Path(root) / script).is_file():
        return dict(entry, note=f"not measured: no {script} in {root}")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _COMPILE_PROBE, str(Path(root).resolve()),
                               script, *args], cwd=tmp, capture_output=True, text=True)
        wall = time.perf_counter() - start
    compile_s = next((float(line.split()[1]) for line in proc.stdout.splitlines()
                      if line.startswith("BENCHMARK_COMPILE_SECONDS")), None)
    return dict(entry, wall_s=round(wall, 1) if proc.returncode == 0 else None,
                compile_s=compile_s, returncode=proc.returncode, stdout=proc.stdout[-2000:],
                stderr=proc.stderr[-2000:])


def row_e(platform: str, root: Path | None) -> list[dict]:
    """README's commands that run on their built-in defaults (``WHOLE_RUNS``), each the script
    of the checkout ``root`` (the folder holding ``experiments/``; without one, each entry says
    so) timed as a fresh process (``time_command``), and the ``--full`` protocol's entry (not
    run here)."""
    full = {"name": "--full palindrome sweep", "command": FULL_COMMAND,
            "note": ("run it on this GPU machine: time " + FULL_COMMAND if platform == "gpu" else
                     "not measured (GPU-only protocol; target <= 2 min on one H100): "
                     + FULL_COMMAND)}
    return [time_command(name, command, root) for name, command in WHOLE_RUNS.items()] + [full]


# ----------------------------------------------------------------------------- (f) study sweep

def sweep_project(model: str) -> list[float]:
    """Seconds per run-step of each warm chunk of the library's sweep (the first chunk, which
    compiles, is left out)."""
    cfg = palindrome.Config(model_type=model, num_hidden=SWEEP["hidden"],
                            batch_size=SWEEP["batch"],
                            train_steps=SWEEP["chunk"] * (SWEEP["chunks"] + 1))
    ticks = [time.perf_counter()]
    palindrome.train_sweep(cfg, SWEEP["lengths"], range(SWEEP["seeds"]),
                           log_every=SWEEP["chunk"], progress=False, devices=jax.devices(),
                           callback=lambda *_: ticks.append(time.perf_counter()))
    runs = len(SWEEP["lengths"]) * SWEEP["seeds"]
    return [float(d) / (SWEEP["chunk"] * runs) for d in np.diff(ticks[1:])]


def sweep_torch(model: str) -> list[float]:
    """Seconds per run-step of serial torch: each length's run stepped on its own (a seed
    costs what any other does), averaged over the lengths; one value per repeat."""
    steppers = torch_reference.sweep_steppers(model, SWEEP["lengths"], SWEEP["batch"],
                                              SWEEP["hidden"], SWEEP["torch_steps"])
    for run in steppers:
        run()                                                     # warm up
    out = []
    for _ in range(SWEEP["chunks"]):
        start = time.perf_counter()
        for run in steppers:
            run()
        out.append((time.perf_counter() - start) / (SWEEP["torch_steps"] * len(steppers)))
    return out


def sweep_total(rows: list[dict]) -> dict:
    """Both models' sweeps projected to the whole protocol: per repeat, the sum over the
    models of ms per run-step x runs x protocol steps, for each side; its spread, and the
    per-repeat speed-up against ``SWEEP_TARGET``."""
    scale = SWEEP["protocol_steps"] * len(SWEEP["lengths"]) * SWEEP["seeds"] / 1e3
    seconds = {s: [sum(ts) * scale for ts in zip(*(r[f"{s}_ms_runs"] for r in rows))]
               for s in ("project", "torch") if all(f"{s}_ms_runs" in r for r in rows)}
    total = summarize(seconds, SWEEP_TARGET, unit="projected_s", scale=1.0)
    return {"row": "f", "name": "study protocol, both models", "unit": "protocol",
            "target": SWEEP_TARGET, "command": FULL_COMMAND, **total}


def row_f(with_torch: bool = True, log=print) -> list[dict]:
    """Row (f): per model, the sweep's ms per run-step on each side, and ``sweep_total``."""
    rows = []
    for model in ("rnn", "lstm"):
        log(f"(f) study sweep {model} ...")
        times = {"project": sweep_project(model)}
        if with_torch:
            times["torch"] = sweep_torch(model)
        rows.append({"row": "f", "name": f"study sweep {model.upper()}", "unit": "run-step",
                     "runs": len(SWEEP["lengths"]) * SWEEP["seeds"],
                     "protocol_steps": SWEEP["protocol_steps"],
                     "project_label": f"rnn_gnn train_sweep, {len(SWEEP['lengths'])} programs",
                     **({"torch_label": f"torch nn.{model.upper()}, runs one after another"}
                        if with_torch else {}),
                     **summarize(times)})
    return rows + [sweep_total(rows)]
