"""Bad input, everywhere: every experiment CLI answers a user error with exit status 2 and one
line on stderr (``<script>: error: ...``), no traceback, no output, and nothing written.

Most cases call the script's ``main(argv)`` in this process through ``rnn_gnn.cli.run_main``
(what ``python experiments/X.py`` runs); a handful run as real subprocesses, to cover the
process boundary itself.  Every case runs in an empty working directory holding one earlier
result (``old/``) that must come out byte for byte unchanged.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import load_experiment
from rnn_gnn import checkpoint, cli

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"


def script(name: str):
    """``experiments/<name>.py`` imported as a module (once)."""
    assert (EXPERIMENTS / f"{name}.py").exists(), f"experiments/{name}.py is missing"
    return load_experiment(name)


def snapshot(directory: Path) -> dict:
    return {str(p.relative_to(directory)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(directory.rglob("*"))}


@pytest.fixture
def work(tmp_path, monkeypatch):
    """An empty working directory with an earlier result in ``old/`` and a few bad files."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RNN_GNN_DATA", str(tmp_path / "no-data"))  # never reach the network
    old = tmp_path / "old"
    (old / "checkpoints" / "lstm").mkdir(parents=True)
    (old / "final.csv").write_text("model,length,seed,accuracy\nlstm,5,0,1.0\n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "a_file").write_text("not a directory")
    return tmp_path


def fails(work, name: str, argv: list[str], monkeypatch, capsys, match: str = "") -> str:
    """Run ``name``'s main on ``argv``; assert the one-line exit-2 contract; return the line."""
    module = script(name)
    before = snapshot(work)
    monkeypatch.setattr(sys, "argv", [str(EXPERIMENTS / f"{name}.py")])
    with pytest.raises(SystemExit) as exit_:
        cli.run_main(module.main, argv)
    out, err = capsys.readouterr()
    assert exit_.value.code == 2, err
    assert out == "", f"partial output: {out!r}"
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    assert err.startswith(f"{name}.py: error: ") and "Traceback" not in err, err
    assert match.lower() in err.lower(), err
    assert snapshot(work) == before, "the failed command wrote or changed files"
    return err


def text_checkpoint(run_dir: Path, vocab: str = "ab .\n", **config) -> Path:
    """A genuine (untrained) character-model checkpoint, as train_text writes it."""
    from rnn_gnn.text.config import Config
    from rnn_gnn.text.trainer import initial_state
    cfg = Config(num_hidden=4, num_layers=1, **config)
    state = initial_state(cfg, len(vocab))
    return checkpoint.save_step(run_dir, 10, state, {"vocab": vocab,
                                                     "config": dataclasses.asdict(cfg)})


# ----------------------------------------------------------------------------- cases

TINY = ["--model_type", "lstm", "--lengths", "4", "--seeds", "1", "--num_hidden", "4",
        "--train_steps", "10", "--log_every", "5", "--checkpoint_every", "5", "--run_dir", "old"]

FLAG_CASES = [  # (script, argv, words the message must contain)
    ("palindrome", ["--model_type", "gru"], "invalid choice"),
    ("palindrome", ["--lengths", "5,x"], "--lengths"),
    ("palindrome", ["--lengths", "1"], "lengths"),
    ("palindrome", ["--input_dim", "3"], "--input_dim"),
    ("palindrome", ["--batch_size", "0"], "must be > 0"),
    ("palindrome", ["--learning_rate=-1e-3"], "must be > 0"),
    ("palindrome", ["--optimizer", "adamm"], "invalid choice"),
    ("palindrome", ["--log_every", "5", "--checkpoint_every", "7"], "multiple"),
    ("palindrome", ["--run_dir", "a_file"], "not a directory"),
    ("palindrome", ["--devices", "0"], "must be > 0"),
    ("palindrome", ["--devices", "4096"], "devices"),
    ("palindrome", ["--quick"], "unrecognized"),
    ("palindrome", ["--no_such_flag"], "unrecognized"),
    ("gradients", ["--models", "gru"], "models"),
    ("gradients", ["--input_dims", "3"], "input_dims"),
    ("gradients", ["--lengths", "2"], "lengths"),
    ("gradients", ["--max_norm", "0"], "must be > 0"),
    ("optimizers", ["--optimizers", "sgd,adamx"], "adamx"),
    ("optimizers", ["--grid", "9"], "--grid"),
    ("optimizers", ["--length", "1"], "length"),
    ("train_text", ["--corpus", "missing.txt"], "does not exist"),
    ("train_text", ["--corpus", "empty.txt"], "empty"),
    ("train_text", ["--corpus", "garbage.bin"], "UTF-8"),
    ("train_text", ["--book", "no-such-book"], "invalid choice"),
    ("train_text", ["--seq_length", "ten"], "invalid int"),
    ("generate", ["--temperature", "-1"], ">= 0"),
    ("generate", ["--top_k", "-3"], "--top_k"),
    ("generate", ["--length", "0"], "must be > 0"),
    ("generate", ["--checkpoint", "missing.msgpack"], "no checkpoint"),
    ("generate", ["--checkpoint", "garbage.bin"], "not an rnn_gnn checkpoint"),
    ("generate", ["--run_dir", "old"], "no trained model"),
    ("generate", ["--run-dir", "old"], "unrecognized arguments"),   # one spelling only
    ("gnn", ["--dataset", "imagenet"], "invalid choice"),
    ("gnn", ["--model", "gin"], "invalid choice"),
    ("gnn", ["--dataset", "cora", "--data_dir", "no-data"], "not found"),
    ("gnn", ["--seeds", "0"], "must be > 0"),
    ("graph_lstm", ["--seeds", "0"], "must be > 0"),
    ("graph_lstm", ["--train_steps", "many"], "expected a int"),
    ("graph_lstm", ["--run_dir", "a_file"], "not a directory"),
    ("gnn", ["--run_dir", "a_file"], "not a directory"),
    ("benchmark", ["--rows", "az"], "unknown row"),
    ("benchmark", ["--repeats", "0"], "must be > 0"),
    ("benchmark", ["--run_dir", "a_file"], "not a directory"),
    ("gradients", ["--run_dir", "a_file"], "not a directory"),
    ("optimizers", ["--run_dir", "a_file"], "not a directory"),
    ("train_text", ["--devices", "4096"], "devices"),
    ("train_text", ["--keep_prob", "1.5"], "keep_prob"),  # removed (--dropout); no book fetched
    ("train_text", ["--optimizer", "adamm"], "invalid choice"),
    ("train_text", ["--train_steps", "0"], "train_steps must be > 0"),
    ("launch", ["--local", "2"], "--"),
    ("launch", ["--local", "2", "--", "no_such_script.py"], "no such script"),
    ("launch", ["--coordinator", "nohost", "--num_processes", "2", "--process_id", "0", "--",
                "empty.txt"], "HOST:PORT"),
    ("launch", ["--coordinator", "h:1", "--num_processes", "2", "--process_id", "2", "--",
                "empty.txt"], "--process_id"),
]


@pytest.mark.parametrize("name, argv, match", FLAG_CASES,
                         ids=[f"{c[0]}:{' '.join(c[1])}" for c in FLAG_CASES])
def test_bad_flags_and_files(work, name, argv, match, monkeypatch, capsys):
    fails(work, name, argv, monkeypatch, capsys, match)


def test_palindrome_will_not_overwrite_a_run_without_resume(work, monkeypatch, capsys):
    checkpoint.save_step(work / "old" / "checkpoints" / "lstm", 5, {"w": np.zeros(2)})
    fails(work, "palindrome", TINY, monkeypatch, capsys, "--resume")


def test_palindrome_resume_from_corrupt_checkpoints(work, monkeypatch, capsys):
    path = checkpoint.save_step(work / "old" / "checkpoints" / "lstm", 5, {"w": np.zeros(2)})
    path.write_bytes(path.read_bytes()[:-7])  # truncated
    fails(work, "palindrome", TINY + ["--resume"], monkeypatch, capsys, "no intact checkpoint")


def test_palindrome_resume_from_a_checkpoint_of_another_model(work, monkeypatch, capsys):
    checkpoint.save_step(work / "old" / "checkpoints" / "lstm", 5, {"w": np.zeros(2)})
    fails(work, "palindrome", TINY + ["--resume"], monkeypatch, capsys, "cannot resume")


def test_generate_refuses_tampered_and_foreign_checkpoints(work, monkeypatch, capsys):
    good = text_checkpoint(work / "run")
    data = bytearray(good.read_bytes())
    data[-20] ^= 0xFF
    (work / "tampered.msgpack").write_bytes(bytes(data))
    (work / "truncated.msgpack").write_bytes(good.read_bytes()[:100])
    checkpoint.save(work / "foreign.msgpack", {"w": np.zeros(2)}, {"step": 1})
    for name, match in [("tampered", "checksum"), ("truncated", "truncated"),
                        ("foreign", "not a character-model checkpoint")]:
        fails(work, "generate", ["--checkpoint", f"{name}.msgpack"], monkeypatch, capsys, match)
    fails(work, "generate", ["--checkpoint", "run", "--prime", "xyz"], monkeypatch, capsys,
          "not in the model's vocabulary")
    fails(work, "generate", ["--checkpoint", "run", "--top_k", "99"], monkeypatch, capsys,
          "--top_k")


def test_train_text_resume_errors(work, monkeypatch, capsys):
    corpus = work / "tale.txt"
    corpus.write_text("the cat sat on the mat. " * 50)
    args = ["--corpus", "tale.txt", "--run_dir", "run", "--num_hidden", "4", "--num_layers", "1",
            "--seq_length", "8", "--no_progress"]
    text_checkpoint(work / "run", vocab="xyz")
    fails(work, "train_text", args, monkeypatch, capsys, "--resume")
    fails(work, "train_text", args + ["--resume"], monkeypatch, capsys, "other settings (vocab ")
    for path in checkpoint.list_checkpoints(work / "run"):
        path.write_bytes(b"RNNGNN-CKPT-1\n" + b"\0" * 40)
    fails(work, "train_text", args + ["--resume"], monkeypatch, capsys, "intact")


# ----------------------------------------------------------------------------- real processes

PROCESS_CASES = [
    ("palindrome", ["--lengths", "5,,x"], "--lengths"),
    ("train_text", ["--corpus", "missing.txt"], "does not exist"),
    ("generate", ["--checkpoint", "garbage.bin"], "not an rnn_gnn checkpoint"),
    ("gnn", ["--model", "gin"], "invalid choice"),
]


@pytest.mark.parametrize("name, argv, match", PROCESS_CASES, ids=[c[0] for c in PROCESS_CASES])
def test_real_process(work, name, argv, match):
    assert (EXPERIMENTS / f"{name}.py").exists(), f"experiments/{name}.py is missing"
    before = snapshot(work)
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, str(EXPERIMENTS / f"{name}.py"), *argv], cwd=work,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"{name}.py: error: "), \
        done.stderr
    assert match in done.stderr
    assert snapshot(work) == before


def test_a_missing_script_fails_rather_than_skips():
    with pytest.raises(AssertionError, match="no_such_cli.py is missing"):
        script("no_such_cli")
