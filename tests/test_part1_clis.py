"""experiments/gradients.py and experiments/optimizers.py: bad input is one line and exit 2,
and the optimizer comparison's per-run learning rate is the named Optax optimizer's."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import optax
import pytest

from rnn_gnn import cli
from rnn_gnn.optimizers import OPTIMIZERS, make_optimizer

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gradients():
    return _load("gradients")


@pytest.fixture(scope="module")
def optimizers():
    return _load("optimizers")


@pytest.mark.parametrize("argv,message", [
    (["--models", "rnn,gru"], "--models"),
    (["--models", ""], "--models"),
    (["--input_dims", "1,3"], "--input_dims"),
    (["--lengths", "2,5"], "--lengths"),
    (["--lengths", "5,5"], "duplicates"),
    (["--lengths", "five"], "--lengths"),
    (["--max_norm", "0"], "--max_norm"),
    (["--optimizer", "lion"], "--optimizer"),
    (["--full", "--quick"], "not allowed"),
])
def test_gradients_rejects(gradients, argv, message):
    with pytest.raises(cli.UsageError, match=message):
        gradients.parse_args(argv)


@pytest.mark.parametrize("argv,message", [
    (["--optimizers", "sgd,lion"], "--optimizers"),
    (["--optimizers", "adam,adam"], "--optimizers"),
    (["--length", "1"], "--length"),
    (["--length", "0"], "--length"),
    (["--input_dim", "3"], "--input_dim"),
    (["--grid", "9"], "--grid"),
    (["--seeds", "-1"], "--seeds"),
])
def test_optimizers_rejects(optimizers, argv, message):
    with pytest.raises(cli.UsageError, match=message):
        optimizers.parse_args(argv)


@pytest.mark.parametrize("script,argv,kept", [
    ("gradients.py", ["--lengths", "1"], "flow.csv"),
    ("optimizers.py", ["--optimizers", "lion"], "table.csv"),
])
def test_bad_flag_is_one_line_exit_2_and_keeps_results(tmp_path, script, argv, kept):
    (tmp_path / kept).write_text("earlier results\n")
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / script), *argv,
                           "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{script}: error: ") and proc.stderr.count("\n") == 1
    assert (tmp_path / kept).read_text() == "earlier results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [kept]


def test_out_must_be_a_directory(tmp_path, optimizers, gradients):
    f = tmp_path / "file"
    f.write_text("x")
    for module in (optimizers, gradients):
        with pytest.raises(cli.UsageError, match="not a directory"):
            module.parse_args(["--out", str(f)])


def test_learning_rate_grid_steps_along_1_3_10(optimizers):
    assert optimizers.learning_rates("adam", 1) == [1e-3, 3e-3, 1e-2]
    assert optimizers.learning_rates("sgd", 2) == [0.03, 0.1, 0.3, 1.0, 3.0]
    assert optimizers.learning_rates("momentum", 0) == [0.1]
    assert set(optimizers.CENTRES) == set(OPTIMIZERS)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_vmapped_learning_rates_equal_the_named_optimizer(optimizers, name):
    """Runs with rates lr_k stacked in one state update exactly as make_optimizer(name, lr_k)."""
    params = {"w": jnp.array([[0.5, -1.0], [2.0, 0.1]]), "b": jnp.array([0.3, -0.2])}
    grads = [jax.tree_util.tree_map(lambda p, k=k: jnp.sin(p * (k + 2)) * 5, params)
             for k in range(3)]
    lrs = [0.01, 0.1]
    stack = lambda tree: jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), tree)
    opt = optimizers.tunable_optimizer(name, max_norm=1.0)
    p = stack(params)
    s = jax.vmap(opt.init)(p)._replace(hyperparams={"learning_rate": jnp.array(lrs)})
    for g in grads:   # a few steps, so that momentum and second moments matter
        u, s = jax.vmap(opt.update)(stack(g), s, p)
        p = optax.apply_updates(p, u)
    for r, lr in enumerate(lrs):
        ref_opt, ref_p = make_optimizer(name, lr, max_norm=1.0), params
        ref_state = ref_opt.init(params)
        for g in grads:
            updates, ref_state = ref_opt.update(g, ref_state, ref_p)
            ref_p = optax.apply_updates(ref_p, updates)
        chex.assert_trees_all_close(jax.tree_util.tree_map(lambda x: x[r], p), ref_p,
                                    rtol=1e-6, atol=1e-7)
