"""The graph-convolutional LSTM against its equations, the wave task's rules, and the
comparison's checkpoint / resume and per-step history."""

import csv
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import load_experiment
from rnn_gnn import cells, checkpoint, cli, files
from rnn_gnn.errors import CheckpointError, ConfigError
from rnn_gnn.graph import comparison, figures, forecast, wave_scores, waves
from rnn_gnn.graph import graph_lstm as gl
from rnn_gnn.report import figures as report_figures
from reference import dense_adjacency, normalized_adjacency

ROOT = Path(__file__).resolve().parents[1]

TASK = waves.Task(num_nodes=12, steps=30, refractory=4, spontaneous=0.02)


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
        graph = waves.make_graph(TASK)
        params = gl.graph_lstm_init(jax.random.PRNGKey(0), 1, 5)
        params = {k: v + 0.1 * jax.random.normal(jax.random.PRNGKey(i), v.shape)
                  for i, (k, v) in enumerate(sorted(params.items()))}   # non-zero biases too
        x = jax.random.normal(jax.random.PRNGKey(1), (2, 6, 12, 1))
        out = self.variant(gl.graph_lstm_apply)(params, graph, x)
        chex.assert_shape(out, (2, 12, waves.NUM_CLASSES))
        A_hat = normalized_adjacency(dense_adjacency(graph))
        chex.assert_trees_all_close(np.asarray(out), numpy_graph_lstm(params, A_hat, np.asarray(x)),
                                    atol=1e-5)

    def test_without_neighbour_weights_it_is_the_per_node_lstm(self):
        graph = waves.make_graph(TASK)
        params = gl.graph_lstm_init(jax.random.PRNGKey(2), 1, 6)
        params = {k: (jnp.zeros_like(v) if k.endswith("a") else v) for k, v in params.items()}
        x = jax.random.bernoulli(jax.random.PRNGKey(3), 0.3, (3, 7, 12, 1)).astype(jnp.float32)
        own = {k: v for k, v in params.items() if not k.endswith("a")}
        chex.assert_trees_all_close(gl.graph_lstm_apply(params, graph, x),
                                    gl.node_lstm_apply(own, graph, x), atol=1e-6)
        assert set(own) == set(cells.lstm_init(jax.random.PRNGKey(0), 1, 6, 2))


def test_waves_obey_the_greenberg_hastings_rules():
    graph = waves.make_graph(TASK)
    x, y = waves.simulate(jax.random.PRNGKey(4), graph, TASK, 64)
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
    ceiling = wave_scores.rule_ceiling(TASK, graph, jax.random.PRNGKey(4), 64)
    assert ceiling["accuracy"] > 0.98 and ceiling["wave_f1"] > 0.9


# ----------------------------------------------------------------------------- resumable runs

TINY_TASK = waves.Task(num_nodes=10, steps=5, refractory=3, spontaneous=0.02)
TINY = forecast.Config(num_hidden=4, batch_size=4, eval_batch=8, train_steps=20)


def resume_worker(out: Path) -> None:
    """Run in a subprocess by the test below: one windowed-GCN variant (quick to compile),
    trained uninterrupted with saves at steps 10 and 20; then, with the step-20 checkpoint
    deleted (a kill between the saves), resumed; then resumed once more, finished."""
    quiet = dict(log_every=5, progress=False, log=lambda line: None)
    variant = comparison.variants(TINY_TASK)[3]
    ckpt = out / variant.key
    runs = {}
    for name, resume in (("whole", False), ("resumed", True), ("again", True)):
        state, history, test = comparison.train_variant(
            variant, TINY_TASK, TINY, [0, 1], checkpoint_dir=ckpt, checkpoint_every=10,
            resume=resume, **quiet)
        runs[name] = (jax.tree_util.tree_leaves(jax.device_get(state.params)), history, test)
        if name == "whole":
            saved = [p.name for p in checkpoint.list_checkpoints(ckpt)]
            checkpoint.list_checkpoints(ckpt)[-1].unlink()
    np.savez(out / "runs.npz", saved=np.array(saved), **{
        f"{name}/{part}/{k}": v for name, (params, history, test) in runs.items()
        for part, tree in (("params", dict(enumerate(params))), ("history", history),
                           ("test", test)) for k, v in tree.items()})
    rows = comparison.step_rows(variant.label, runs["resumed"][1], [0, 1])
    files.write_csv(out / "steps.csv", rows)


def test_a_resumed_run_equals_the_uninterrupted_one(tmp_path):
    # opt level 0 and a compilation cache: the three runs compile their programs once.
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_backend_optimization_level=0",
               JAX_COMPILATION_CACHE_DIR=str(tmp_path / "jax_cache"),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
               JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    done = subprocess.run([sys.executable, __file__, str(tmp_path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = np.load(tmp_path / "runs.npz")
    assert list(runs["saved"]) == ["ckpt-000000010.msgpack", "ckpt-000000020.msgpack"]
    keys = [k.split("/", 1)[1] for k in runs.files if k.startswith("whole/")]
    assert {k for k in keys if k.startswith("history/")} >= {
        f"history/{m}" for m in comparison.STEP_METRICS}
    assert runs["whole/history/loss"].shape == (2, 20)
    for name in ("resumed", "again"):   # exactly the uninterrupted run's numbers
        for key in keys:
            np.testing.assert_array_equal(runs[f"{name}/{key}"], runs[f"whole/{key}"],
                                          err_msg=f"{name} {key}")
    # The per-step CSV: every seed's every step, with the history's numbers.
    with open(tmp_path / "steps.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["model", "seed", "step", *comparison.STEP_METRICS]
    assert [(r["seed"], r["step"]) for r in rows] == [
        (str(s), str(t)) for s in (0, 1) for t in range(1, 21)]
    assert float(rows[25]["loss"]) == runs["whole/history/loss"][1, 5]
    assert all(0 <= float(r["wave_f1"]) <= 1 and 0 <= float(r["accuracy"]) <= 1 for r in rows)


def test_checkpoints_are_continued_only_when_asked_and_with_their_settings(tmp_path):
    variant = comparison.variants(TINY_TASK)[0]
    wanted = comparison.settings(variant, TINY_TASK, TINY, [0])
    ckpt = tmp_path / "graph_lstm"
    assert checkpoint.check_resume(ckpt, wanted, resume=True) is None     # nothing to resume
    checkpoint.save_step(ckpt, 10, {"w": np.zeros(2)}, dict(wanted, history={}))
    with pytest.raises(CheckpointError, match="pass --resume"):
        checkpoint.check_resume(ckpt, wanted, resume=False)
    assert checkpoint.check_resume(ckpt, wanted, resume=True)[1]["step"] == 10
    other = comparison.settings(variant, TINY_TASK, dataclasses.replace(TINY, train_steps=30), [0, 1])
    with pytest.raises(ConfigError, match=r"config\.train_steps 20 -> 30; seeds \[0\] -> \[0, 1\]"):
        checkpoint.check_resume(ckpt, other, resume=True)


@pytest.mark.parametrize("argv, message", [
    ([], "holds checkpoints of an earlier run: pass --resume"),
    (["--resume", "--train_steps", "500"], "other settings (config.train_steps 2000 -> 500)"),
    (["--checkpoint_every", "150"], "--checkpoint_every must be 0 or a multiple of --log_every"),
])
def test_cli_refuses_to_resume_wrongly_in_one_line(tmp_path, argv, message, capsys):
    """Before any training: the first model's directory holds a checkpoint of the default run."""
    module = load_experiment("graph_lstm")
    variant = comparison.variants(module.TASK)[0]
    saved = comparison.settings(variant, module.TASK, forecast.Config(), [0, 1, 2])
    ckpt = tmp_path / "graph_lstm_checkpoints" / variant.key
    checkpoint.save_step(ckpt, 100, {"w": np.zeros(2)}, saved)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as done:
        cli.run_main(module.main, ["--run_dir", str(tmp_path), "--no_progress", *argv])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_cli_writes_what_its_figure_is_drawn_from(tmp_path, monkeypatch):
    """experiments/graph_lstm.py with the training, the rule and the example stubbed (their
    own tests are above): the run's files give its figure."""
    module = load_experiment("graph_lstm")
    variants = comparison.variants(module.TASK)
    rng, n = np.random.default_rng(5), module.TASK.num_nodes
    runs = {v.label: (None, {m: rng.random((2, 60)).astype(np.float32)
                             for m in comparison.STEP_METRICS},
                      {m: rng.random(2).astype(np.float32) for m in module.METRICS})
            for v in variants}
    frames = np.stack([rng.integers(0, 2, (9, n)), rng.integers(-1, 2, (9, n))], -1)
    example = (frames.astype(np.float32), rng.integers(0, 3, n),
               {v.label: rng.integers(0, 3, n) for v in variants})
    rule = {"wave_f1": 0.96, "fire_f1": 0.97, "accuracy": 0.99}
    monkeypatch.setattr(comparison, "train_all", lambda *a, **k: runs)
    monkeypatch.setattr(forecast, "example_predictions", lambda *a, **k: example)
    monkeypatch.setattr(wave_scores, "rule_ceiling", lambda *a, **k: rule)
    cli.run_main(module.main, ["--run_dir", str(tmp_path), "--no_progress", "--seeds", "2"])
    arrays = np.load(tmp_path / "graph_lstm_figure.npz")
    assert set(arrays.files) == {"frames", "target", *(f"{v.key}_{k}" for v in variants
                                                       for k in ("loss", "prediction"))}
    np.testing.assert_array_equal(arrays["gcn_window_loss"], runs[variants[3].label][1]["loss"])
    np.testing.assert_array_equal(arrays["node_lstm_prediction"], example[2][variants[1].label])
    fig = report_figures.graph_lstm_figure(tmp_path)
    expected = figures.wave_comparison(module.TASK, comparison.figure_arrays(
        module.TASK, runs, example), comparison.result_rows(runs, [0, 1]), rule)
    assert report_figures.fingerprint(fig) == report_figures.fingerprint(expected)
    figures.plt.close("all")


if __name__ == "__main__":
    resume_worker(Path(sys.argv[1]))
