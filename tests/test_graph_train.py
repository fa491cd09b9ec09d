"""Short real training runs on the karate club, and the papers' model-selection rules."""

import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np

from rnn_gnn.graph import classify, data

ROOT = Path(__file__).resolve().parents[1]


def test_karate_default_cli_learns_the_split_and_draws_it(tmp_path):
    spec = importlib.util.spec_from_file_location("gnn_cli", ROOT / "experiments" / "gnn.py")
    gnn = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gnn)
    result = gnn.main(["--seeds", "2", "--out", str(tmp_path), "--no-progress"])
    # Two labelled members (the leaders), 32 to classify; chance is about 0.5.
    assert np.all(result["test_accuracy"] >= 0.9), result["test_accuracy"]
    saved = json.loads((tmp_path / "karate_gcn.json").read_text())
    assert saved["train/val/test"] == [2, 32, 32]
    assert np.isclose(saved["test_accuracy_mean"], 100 * result["test_accuracy"].mean())
    for name in ("karate_gcn.csv", "karate_gcn_curves.png", "karate_gcn_clubs.png"):
        assert (tmp_path / name).stat().st_size > 0


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
