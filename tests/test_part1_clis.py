"""experiments/gradients.py and experiments/optimizers.py: bad input is one line and exit 2,
--help shows the examples and the outputs, the default run directories follow the preset, a
tiny run of each writes every file its docstring lists, and the optimizer comparison's per-run
learning rate is the named Optax optimizer's."""

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import ROOT, load_experiment

from rnn_gnn import cli, errors
from rnn_gnn.optimizers import OPTIMIZERS, make_optimizer
from rnn_gnn.palindrome import Config, figures, optimizer_study, runner
from rnn_gnn.palindrome import gradients as gradient_study
from rnn_gnn.report import figures as report_figures


@pytest.fixture(scope="module")
def gradients():
    return load_experiment("gradients")


@pytest.fixture(scope="module")
def optimizers():
    return load_experiment("optimizers")


@pytest.mark.parametrize("argv,message", [
    (["--models", "rnn,gru"], "models .* got 'rnn,gru'"),
    (["--models", ""], "models"),
    (["--input_dims", "1,3"], "input_dims"),
    (["--models", "lstm,lstm"], "distinct"),
    (["--lengths", "2,5"], "lengths"),
    (["--lengths", "5,5"], "distinct"),
    (["--lengths", "five"], "--lengths"),
    (["--max_norm", "0"], "--max_norm"),
    (["--optimizer", "lion"], "--optimizer"),
    (["--quick"], "unrecognized"),
])
def test_gradients_rejects(gradients, argv, message):
    with pytest.raises(errors.Error, match=message):
        gradients.parse_args(argv)


@pytest.mark.parametrize("argv,message", [
    (["--optimizers", "sgd,lion"], "optimizers .* got .sgd,lion."),
    (["--optimizers", "adam,adam"], "distinct"),
    (["--length", "1"], "length"),
    (["--length", "0"], "length"),
    (["--input_dim", "3"], "--input_dim"),
    (["--grid", "9"], "--grid"),
    (["--seeds", "-1"], "--seeds"),
])
def test_optimizers_rejects(optimizers, argv, message):
    with pytest.raises(errors.Error, match=message):
        optimizers.parse_args(argv)


@pytest.mark.parametrize("script,argv,kept", [
    ("gradients.py", ["--lengths", "1"], "flow.csv"),
    ("optimizers.py", ["--optimizers", "lion"], "table.csv"),
])
def test_bad_flag_is_one_line_exit_2_and_keeps_results(tmp_path, script, argv, kept):
    (tmp_path / kept).write_text("earlier results\n")
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / script), *argv,
                           "--run_dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{script}: error: ") and proc.stderr.count("\n") == 1
    assert (tmp_path / kept).read_text() == "earlier results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [kept]


def test_run_dir_must_be_a_directory(tmp_path, optimizers, gradients):
    f = tmp_path / "file"
    f.write_text("x")
    for module in (optimizers, gradients):
        with pytest.raises(cli.UsageError, match="not a directory"):
            module.parse_args(["--run_dir", str(f)])


@pytest.mark.parametrize("name", ["gradients", "optimizers", "palindrome"])
def test_default_run_dir_and_presets(name):
    module = load_experiment(name)
    plain, full = module.parse_args([])[0], module.parse_args(["--full"])[0]
    assert plain.run_dir == Path(f"results/{name}") and plain.preset is None
    assert full.run_dir == Path(f"results/{name}_full") and full.preset == "full"
    given = module.parse_args(["--full", "--run_dir", "elsewhere"])[0]
    assert given.run_dir == Path("elsewhere")


def test_presets_fill_the_study_configs(gradients, optimizers):
    assert gradients.parse_args([])[1].num_hidden == 64
    assert gradients.parse_args(["--full"])[1].lengths == (5, 10, 15, 20, 25)
    assert gradients.parse_args(["--full", "--num_hidden", "8"])[1].num_hidden == 8
    study = optimizers.parse_args(["--full", "--optimizers", "sgd,adam"])[1]
    assert study.optimizers == ("sgd", "adam") and study.grid == 2 and study.seeds == 5


@pytest.mark.parametrize("name", ["gradients", "optimizers", "palindrome", "launch"])
def test_help_shows_examples_outputs_and_real_defaults(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        load_experiment(name).parse_args(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert f"python experiments/{name}.py" in text and "Writes" in text
    assert "(default: None)" not in text and "--out " not in text and "--quick" not in text


def test_run_study_runs_the_parsed_study_and_records_it(tmp_path):
    calls = []

    def parse_args(argv):
        return (argparse.Namespace(log_every=7, run_dir=tmp_path, no_progress=True),
                optimizer_study.Study(seeds=int(argv[0])))

    def run(study, log_every, progress):
        calls.append((study.seeds, log_every, progress))
        return {"sgd": 1}
    done = runner.run_study(parse_args, ["3"], run)
    assert calls == [(3, 7, False)] and done.results == {"sgd": 1} and done.seconds >= 0
    record = runner.study_record(["--seeds", "3"], done, table=[{"a": 1}])
    assert list(record) == ["command", "machine", "config", "log_every", "table", "seconds"]
    assert record["config"]["seeds"] == 3 and record["log_every"] == 7
    assert record["command"].endswith("--seeds 3") and record["table"] == [{"a": 1}]


@pytest.mark.parametrize("name,argv,written,keys", [
    ("gradients", ["--models", "rnn", "--input_dims", "1", "--lengths", "3", "--analysis_batch",
                   "4"],
     ["clipping.csv", "flow.csv", "grad_norm_hist.json", "grad_norm_hist.png", "gradient_flow.png",
      "gradient_terms.png", "summary.json"], ["results", "clipping"]),
    ("optimizers", ["--optimizers", "sgd", "--length", "3", "--grid", "0", "--seeds", "1",
                    "--eval_batch", "8", "--smooth", "2"],
     ["curves.npz", "curves.png", "grid.csv", "lr_grid.png", "summary.json", "table.csv"],
     ["learning_rates", "table"]),
])
def test_a_tiny_study_writes_every_file_it_lists(tmp_path, name, argv, written, keys):
    module = load_experiment(name)
    argv = argv + ["--num_hidden", "4", "--batch_size", "4", "--train_steps", "4",
                   "--log_every", "2", "--run_dir", str(tmp_path)]
    module.main(argv)
    assert sorted(p.name for p in tmp_path.iterdir()) == written
    assert all(f in module.__doc__ for f in written)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary) == ["command", "machine", "config", "log_every", *keys, "seconds"]
    assert summary["config"]["train_steps"] == 4 and summary["log_every"] == 2


def test_learning_rate_grid_steps_along_1_3_10():
    assert optimizer_study.learning_rates("adam", 1) == [1e-3, 3e-3, 1e-2]
    assert optimizer_study.learning_rates("sgd", 2) == [0.03, 0.1, 0.3, 1.0, 3.0]
    assert optimizer_study.learning_rates("momentum", 0) == [0.1]
    assert set(optimizer_study.CENTRES) == set(OPTIMIZERS)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_vmapped_learning_rates_equal_the_named_optimizer(name):
    """Runs with rates lr_k stacked in one state update exactly as make_optimizer(name, lr_k)."""
    params = {"w": jnp.array([[0.5, -1.0], [2.0, 0.1]]), "b": jnp.array([0.3, -0.2])}
    grads = [jax.tree_util.tree_map(lambda p, k=k: jnp.sin(p * (k + 2)) * 5, params)
             for k in range(3)]
    lrs = [0.01, 0.1]
    stack = lambda tree: jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), tree)
    opt = optimizer_study.tunable_optimizer(name, max_norm=1.0)
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


def _texts(fig):
    """Every title and legend entry of a figure."""
    out = [fig._suptitle.get_text()] if fig._suptitle else []
    for ax in fig.axes:
        out.append(ax.get_title())
        if ax.get_legend():
            out += [t.get_text() for t in ax.get_legend().get_texts()]
    return out


def test_figures_state_the_initialisation_and_what_the_bands_are():
    rng = np.random.default_rng(0)
    lengths = [5, 9]
    title = figures.sweep_title(Config(init="pytorch", forget_bias=0.0), 2, ["rnn", "lstm"])
    assert "init pytorch (LSTM forget bias 0)" in title
    finals = {m: {"accuracy": rng.uniform(size=(2, 2))} for m in ("rnn", "lstm")}
    texts = _texts(figures.accuracy_vs_length(finals, lengths, title))
    assert title in texts and texts.count("shaded: min..max over seeds") == 1
    curves = {m: {"loss": rng.uniform(size=(2, 6)), "accuracy": rng.uniform(size=(2, 6)),
                  "step": np.arange(5, 31, 5), "smooth": np.array(5)} for m in ("rnn", "lstm")}
    fig = figures.training_curves(curves, lengths, title)
    assert title in _texts(fig)
    assert fig.axes[0].get_ylabel() == "accuracy\n(mean over seeds, 5-step average)"
    study = optimizer_study.Study(optimizers=("sgd", "adam"), seeds=2, smooth=5)
    results = {n: {"lrs": [0.1, 0.3], "best": 1, "diverged_at": None,
                   "diverged": np.zeros((2, 2), int), "val_accuracy": rng.uniform(size=(2, 2)),
                   "history": {k: rng.uniform(size=(2, 2, 30)) for k in ("loss", "accuracy")}}
               for n in study.optimizers}
    curves = optimizer_study.chosen_curves(results)
    for fig in (figures.optimizer_curves(study, curves),
                figures.learning_rate_grid(study, results)):
        assert any("init orthogonal (LSTM forget bias 1)" in t for t in _texts(fig))
    assert "shaded: min..max over seeds" in _texts(figures.optimizer_curves(study, curves))
    assert "init glorot" in figures.gradient_title(gradient_study.Study(init="glorot"))


def test_gradients_cli_writes_the_histograms_its_figure_is_drawn_from(tmp_path, gradients):
    cli.run_main(gradients.main, [
        "--models", "rnn", "--input_dims", "1", "--lengths", "3", "--train_steps", "20",
        "--num_hidden", "4", "--batch_size", "8", "--analysis_batch", "8", "--log_every", "10",
        "--run_dir", str(tmp_path)])
    saved = json.loads((tmp_path / "grad_norm_hist.json").read_text())["histograms"]
    assert [(h["model"], h["input_dim"], h["length"], h["max_norm"]) for h in saved] == [
        ("rnn", 1, 3, 10.0), ("rnn", 1, 3, None)]
    with open(tmp_path / "clipping.csv", newline="") as f:
        clipping = {r["max_norm"]: r for r in csv.DictReader(f)}
    for h, run in zip(saved, ("10.0", "none")):
        # every step once; the top bin ends at the run's largest norm (clipping.csv: 4 digits)
        assert sum(h["steps"]) == 20 and len(h["log10_edges"]) == 61
        assert h["clipped_fraction"] == float(clipping[run]["clipped_fraction"])
        np.testing.assert_allclose(10 ** h["log10_edges"][-1],
                                   float(clipping[run]["max_grad_norm"]), rtol=1e-3)
    fig = report_figures.grad_norm_hist_figure(tmp_path)
    assert [ax.get_title() for ax in fig.axes] == ["Vanilla RNN, raw digits, T=3"]
    assert (tmp_path / "grad_norm_hist.png").stat().st_size > 0
    figures.plt.close("all")


def test_optimizers_cli_writes_the_curves_its_figure_is_drawn_from(tmp_path, optimizers):
    cli.run_main(optimizers.main, [
        "--optimizers", "sgd", "--grid", "0", "--seeds", "2", "--train_steps", "20",
        "--num_hidden", "4", "--batch_size", "8", "--eval_batch", "16", "--smooth", "5",
        "--log_every", "10", "--run_dir", str(tmp_path)])
    curves = np.load(tmp_path / "curves.npz")
    assert sorted(curves.files) == ["sgd_accuracy", "sgd_loss", "sgd_lr"]
    assert float(curves["sgd_lr"]) == 0.3 and curves["sgd_loss"].shape == (2, 20)
    # training-batch numbers: the first loss near chance's ln 10, accuracies in eighths
    np.testing.assert_allclose(curves["sgd_loss"][:, 0], np.log(10), atol=0.3)
    np.testing.assert_allclose(curves["sgd_accuracy"] * 8, np.round(curves["sgd_accuracy"] * 8),
                               atol=1e-5)
    fig = report_figures.optimizer_curves_figure(tmp_path)
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == [
        "sgd (lr 0.3)", "shaded: min..max over seeds"]
    assert (tmp_path / "curves.png").stat().st_size > 0
    figures.plt.close("all")
