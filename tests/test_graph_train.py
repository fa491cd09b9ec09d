"""Short real training runs on the karate club, the CLI's flags and per-epoch CSV, and the
papers' model-selection rules."""

import csv
import dataclasses
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

from rnn_gnn import cli
from rnn_gnn.graph import classify, data

ROOT = Path(__file__).resolve().parents[1]


def gnn_cli():
    spec = importlib.util.spec_from_file_location("gnn_cli", ROOT / "experiments" / "gnn.py")
    gnn = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gnn)
    return gnn


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_karate_default_cli_learns_the_split_and_draws_it(tmp_path):
    result = gnn_cli().main(["--seeds", "2", "--out", str(tmp_path), "--no_progress"])
    # Two labelled members (the leaders), 32 to classify; chance is about 0.5.
    assert np.all(result["test_accuracy"] >= 0.9), result["test_accuracy"]
    saved = json.loads((tmp_path / "karate_gcn.json").read_text())
    assert saved["train/val/test"] == [2, 32, 32]
    assert np.isclose(saved["test_accuracy_mean"], 100 * result["test_accuracy"].mean())
    for name in ("karate_gcn.csv", "karate_gcn_curves.png", "karate_gcn_clubs.png"):
        assert (tmp_path / name).stat().st_size > 0
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
            "--weight_decay", "0", "--out", str(tmp_path), "--no_progress"]
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
    for flag, default in [("--hidden", "gcn 16, gat 8"), ("--heads", "default: 8"),
                          ("--learning_rate", "gcn 0.01, gat 0.005"), ("--epochs", "gcn 200"),
                          ("--dropout", "gcn 0.5, gat 0.6"), ("--weight_decay", "0.0005")]:
        # the flag's own help (up to the next flag) names the paper's value
        assert re.search(re.escape(flag) + r" [A-Z_]+ (?:(?! --).)*" + re.escape(default),
                         text), flag


@pytest.mark.parametrize("argv, message", [
    (["--heads", "4"], "--heads applies to --model gat only"),
    (["--dropout", "1"], "must be in [0.0, 1.0)"),
    (["--weight_decay=-1e-4"], "must be in [0.0, inf)"),
    (["--dataset", "PubMed"], "unknown dataset 'PubMed'"),
])
def test_bad_settings_are_one_line_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as done:
        cli.run_main(gnn_cli().main, argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_planetoid_without_a_data_dir_says_how_to_pass_one(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(data.PLANETOID_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    with pytest.raises(SystemExit) as done:
        cli.run_main(gnn_cli().main, ["--dataset", "Cora", "--out", str(tmp_path / "out")])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--data_dir" in err and data.PLANETOID_ENV in err, err
    assert not (tmp_path / "out").exists()


def test_gat_learns_karate():
    cfg = dataclasses.replace(classify.PAPER["gat"], epochs=100, selection="last")
    _, history, result = classify.train_seeds(cfg, data.karate_club(), [0], progress=False)
    assert history["loss"].shape == (1, 100)
    assert result["test_accuracy"][0] >= 0.8, result["test_accuracy"]     # chance: 0.5


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
