"""Short real training runs on the karate club, the CLI's flags and per-epoch CSV, and the
papers' model-selection rules."""

import csv
import dataclasses
import json
import re

import jax
import numpy as np
import pytest

from conftest import load_experiment
from rnn_gnn import cli
from rnn_gnn.graph import classify, download, figures, karate
from rnn_gnn.report import figures as report_figures
from rnn_gnn.train import make_step


def gnn_cli():
    return load_experiment("gnn")


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_karate_default_cli_learns_the_split_and_draws_it(tmp_path):
    result = gnn_cli().main(["--seeds", "2", "--run_dir", str(tmp_path), "--no_progress"])
    # Two labelled members (the leaders), 32 to classify; chance is about 0.5.
    assert np.all(result["test_accuracy"] >= 0.9), result["test_accuracy"]
    saved = json.loads((tmp_path / "karate_gcn.json").read_text())
    assert saved["train/val/test"] == [2, 32, 32]
    assert np.isclose(saved["test_accuracy_mean"], 100 * result["test_accuracy"].mean())
    for name in ("karate_gcn.csv", "karate_gcn_curves.png", "karate_gcn_clubs.png"):
        assert (tmp_path / name).stat().st_size > 0
    # What the club drawing is redrawn from: every member's club, the labelled leaders and seed
    # 0's prediction; the report draws it with seed 0's test accuracy.
    nodes = read_csv(tmp_path / "karate_gcn_nodes.csv")
    node_data = karate.karate_club()
    assert [int(r["node"]) for r in nodes] == list(range(34))
    assert [int(r["club"]) for r in nodes] == node_data.labels.tolist()
    assert [int(r["node"]) for r in nodes if r["labelled"] == "1"] == [0, 33]
    assert [int(r["prediction"]) for r in nodes] == np.asarray(result["prediction"][0]).tolist()
    fig = report_figures.karate_clubs_figure(tmp_path)
    assert f"test accuracy {result['test_accuracy'][0]:.1%} (seed 0)" in fig.axes[0].get_title()
    figures.plt.close(fig)
    # The per-epoch history: every seed's 200 epochs; the last epoch's test accuracy is the
    # reported one (karate selects the last epoch), and the model learned the training pair.
    rows = read_csv(tmp_path / "karate_gcn_epochs.csv")
    assert list(rows[0]) == ["seed", "epoch", *classify.EPOCH_COLUMNS]
    assert [(int(r["seed"]), int(r["epoch"])) for r in rows] == [
        (s, e) for s in (0, 1) for e in range(1, 201)]
    last = [r for r in rows if r["epoch"] == "200"]
    np.testing.assert_allclose([float(r["test_accuracy"]) for r in last],
                               result["test_accuracy"], rtol=1e-6)
    assert all(float(r["train_accuracy"]) == 1.0 for r in last)
    losses = [float(r["loss"]) for r in rows if r["seed"] == "0"]
    assert losses[-1] < 0.5 * losses[0]


def test_flags_set_the_model_and_names_are_not_case_sensitive(tmp_path, capsys):
    argv = ["--dataset", "Karate", "--model", "GAT", "--seeds", "2", "--epochs", "3",
            "--hidden", "4", "--heads", "2", "--dropout", "0.1", "--learning_rate", "0.02",
            "--weight_decay", "0", "--run_dir", str(tmp_path), "--no_progress"]
    gnn_cli().main(argv)
    stem = "karate_gat_hidden4_learning_rate0.02_dropout0.1_weight_decay0_heads2_epochs3"
    saved = json.loads((tmp_path / f"{stem}.json").read_text())
    assert saved["dataset"] == "karate" and saved["model"] == "gat"
    assert {k: saved["config"][k] for k in classify.TUNABLE} == {
        "hidden": 4, "heads": 2, "learning_rate": 0.02, "dropout": 0.1, "weight_decay": 0.0,
        "epochs": 3}
    rows = read_csv(tmp_path / f"{stem}_epochs.csv")
    assert [(r["seed"], r["epoch"]) for r in rows] == [(s, e) for s in "01" for e in "123"]
    for row in rows:
        assert all(0 <= float(row[m]) <= 1 for m in classify.EPOCH_COLUMNS if "accuracy" in m)
        assert np.isfinite(float(row["loss"])) and np.isfinite(float(row["val_loss"]))
    assert (tmp_path / f"{stem}_clubs.png").exists()
    assert not list(tmp_path.glob("karate_gat.*")) and not list(tmp_path.glob("karate_gat_[ce]*"))
    assert f"wrote {tmp_path / stem}.csv" in capsys.readouterr().out


def test_paper_settings_are_the_defaults_and_help_prints_them(capsys):
    gnn = gnn_cli()
    args = gnn.parse_args(["--dataset", "CiteSeer", "--model", "Gat"])
    assert (args.dataset, args.model) == ("citeseer", "gat")
    assert classify.config_for("gcn", "cora") == classify.PAPER["gcn"]
    assert classify.config_for("gat", "cora", hidden=None, epochs=None) == classify.PAPER["gat"]
    with pytest.raises(SystemExit) as done:
        gnn.parse_args(["--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text and not re.search(r"--[a-z]+-[a-z]", text)
    for flag, default in [("--hidden", "default: 16; --model gat: 8"), ("--heads", "default: 8"),
                          ("--learning_rate", "default: 0.01; --model gat: 0.005"),
                          ("--epochs", "default: 200; --model gat: 500"),
                          ("--dropout", "default: 0.5; --model gat: 0.6"),
                          ("--weight_decay", "default: 0.0005)")]:
        # the flag's own help (up to the next flag, "--name METAVAR") names the papers' values
        assert re.search(re.escape(flag) + r" [A-Z_]+ (?:(?! --[a-z_]+ [A-Z{]).)*"
                         + re.escape(default), text), flag


@pytest.mark.parametrize("argv, message", [
    (["--heads", "4"], "--heads applies to --model gat only"),
    (["--dropout", "1"], "dropout must be a drop probability in [0, 1), got 1.0"),
    (["--weight_decay=-1e-4"], "weight_decay must be >= 0"),
    (["--dataset", "PubMed"], "invalid choice: 'pubmed'"),
])
def test_bad_settings_are_one_line_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as done:
        cli.run_main(gnn_cli().main, argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_planetoid_without_a_data_dir_says_how_to_pass_one(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(download.PLANETOID_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    with pytest.raises(SystemExit) as done:
        cli.run_main(gnn_cli().main, ["--dataset", "Cora", "--run_dir", str(tmp_path / "out")])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--data_dir" in err and download.PLANETOID_ENV in err, err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def gat_karate():
    """``(cfg, history, result)`` of the papers' GAT on the karate club, two seeds."""
    cfg = dataclasses.replace(classify.PAPER["gat"], epochs=100, selection="last")
    _, history, result = classify.train_seeds(cfg, karate.karate_club(), [0, 1], progress=False)
    return cfg, history, result


def test_gat_learns_karate(gat_karate):
    _, history, result = gat_karate
    assert history["loss"].shape == (2, 100)
    assert result["test_accuracy"].min() >= 0.8, result["test_accuracy"]     # chance: 0.5


def test_kipf_early_stopping_rule():
    loss = np.concatenate([np.linspace(2.0, 1.0, 30), [1.2], np.linspace(1.0, 0.5, 20)])
    assert classify.kipf_stop(loss, window=10) == (30, True)   # first rise above the window mean
    assert classify.kipf_stop(np.linspace(2, 1, 50), window=10) == (49, False)


def test_gat_selection_keeps_the_last_joint_best_and_stops_on_patience():
    val_acc = np.array([0.5, 0.6, 0.6, 0.7, 0.7] + [0.6] * 10 + [0.9])
    val_loss = np.array([1.0, 0.9, 0.95, 0.85, 0.8] + [1.0] * 10 + [0.1])
    # Epoch 4 improves loss with accuracy tied at its best: kept.  Patience 10 stops before 15.
    assert classify.gat_select(val_loss, val_acc, patience=10) == (4, True)
    assert classify.gat_select(val_loss, val_acc, patience=20) == (15, False)


def test_the_trainer_step_is_the_runners_epoch():
    """``make_trainer`` (what the benchmark times) updates exactly as ``train_seeds`` does;
    with_eval adds the dropout-free evaluation as metrics without changing the update."""
    cfg = dataclasses.replace(classify.config_for("gcn", "karate"), epochs=5)
    club = karate.karate_club()
    _, history, _ = classify.train_seeds(cfg, club, [3], progress=False)
    trainer = classify.make_trainer(cfg, club)
    state, step = trainer.init(classify.run_key(3)), jax.jit(make_step(trainer.loss_fn,
                                                                        trainer.optimizer))
    losses = []
    for _ in range(5):
        state, metrics = step(state)
        losses.append(float(metrics["loss"]))
    assert "val_accuracy" not in metrics and trainer.task is None
    np.testing.assert_allclose(losses, history["loss"][0], rtol=1e-5)
    assert losses[-1] < losses[0]


def test_figures_say_what_bands_bars_and_inits_are(gat_karate):
    cfg, history, result = gat_karate
    assert classify.describe(cfg) == "GAT (Glorot-uniform init)"
    fig = figures.classification_curves(history, result, classify.describe(cfg))
    for ax in fig.axes:
        assert "shaded: mean +- 1 std over 2 seeds" in [t.get_text() for t in
                                                        ax.get_legend().get_texts()]
    fig, ax = figures.plt.subplots()
    figures.label_zero_bars(ax, ax.bar([0, 1, 2], [0.0, 0.5, 0.001]))
    assert [t.get_text() for t in ax.texts] == ["0", "", "0.001"]
    figures.plt.close("all")
