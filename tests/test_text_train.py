"""Part 2 runs and CLIs: a tiny text learned by heart through experiments/train_text.py,
checkpoints that carry vocabulary and config, resume equal to an uninterrupted run,
experiments/generate.py end to end, and bad input answered by one line and exit status 2."""

import csv
import dataclasses
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import chex
import jax
import numpy as np
import pytest
from jax.experimental.compilation_cache import compilation_cache

from rnn_gnn import checkpoint, cli
from rnn_gnn.cli import UsageError
from rnn_gnn.text import corpus
from rnn_gnn.text.run import Config, initial_state, load_model, train_run
from rnn_gnn.train import averaged

ROOT = Path(__file__).resolve().parents[1]
# Every character has one successor, so a working model drives the loss to ~0 and its greedy
# text is the corpus itself.
TEXT = "The quick.\n" * 30
# Tiny but complete: two layers, validation, samples, and a learning rate that decays at
# steps 30, 60 and 90 (a resume that lost the schedule's count would train differently).
TINY = Config(seq_length=8, num_hidden=32, num_layers=2, batch_size=16, learning_rate=2e-2,
              learning_rate_decay=0.7, decay_steps=30, train_steps=120, sample_every=30,
              eval_every=60, checkpoint_every=60, sample_length=12, num_greedy=2,
              val_fraction=0.1)


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_text, generate = load_script("train_text"), load_script("generate")


@pytest.fixture(scope="module", autouse=True)
def compile_once(tmp_path_factory):
    """Every run here compiles the same training step: let JAX's persistent cache share it."""
    old = (jax.config.jax_compilation_cache_dir,
           jax.config.jax_persistent_cache_min_compile_time_secs)
    compilation_cache.reset_cache()
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.getbasetemp() / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    yield
    jax.config.update("jax_compilation_cache_dir", old[0])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", old[1])
    compilation_cache.reset_cache()


def call(main, argv, capsys):
    """Run a CLI in-process: ``(exit status, stdout, stderr)``."""
    try:
        cli.run_main(main, [str(a) for a in argv])
        status = 0
    except SystemExit as e:
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


def tiny_flags(cfg=TINY):
    """The flags that turn Config() into ``cfg``."""
    default = Config()
    return [x for k, v in dataclasses.asdict(cfg).items() if v != getattr(default, k)
            for x in (f"--{k}", v)]


def run(cfg, run_dir, resume=False, text=TEXT):
    return train_run(cfg, text, run_dir, corpus_name="tiny", resume=resume, progress=False,
                     log=lambda *_: None)


def digest(directory):
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in directory.rglob("*") if p.is_file()}


def table(path, drop=("time_s",)):
    with open(path) as f:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(f)]


def final_state(run_dir):
    path = checkpoint.list_checkpoints(run_dir)[-1]
    target, _ = initial_state(TINY, len(corpus.make_vocab(TEXT)))
    return checkpoint.load(path, target=jax.device_get(target))[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``train_text.py --corpus tiny.txt`` with TINY's settings, uninterrupted."""
    root = tmp_path_factory.mktemp("tiny")
    (root / "tiny.txt").write_text(TEXT)
    cli.run_main(train_text.main, [str(a) for a in ["--corpus", root / "tiny.txt", "--run_dir",
                                                    root / "run", "--no_progress", *tiny_flags()]])
    return root / "run"


# ----------------------------------------------------------------------------- training runs

def test_tiny_text_is_learned_to_near_zero_loss(trained):
    summary = json.loads((trained / "summary.json").read_text())
    assert summary["train_loss"] < 0.05 and summary["val_loss"] < 0.05
    rows = table(trained / "history.csv")
    assert float(rows[0]["loss"]) > 1.0                      # it did start from ignorance
    assert [int(r["step"]) for r in rows] == [30, 60, 90, 120]
    assert [r["val_loss"] != "" for r in rows] == [False, True, False, True]
    chex.assert_trees_all_close([float(r["learning_rate"]) for r in rows],
                                [2e-2, 1.4e-2, 9.8e-3, 6.86e-3], rtol=1e-5)  # staircase decay
    samples = (trained / "samples.txt").read_text().splitlines()
    assert len(samples) == 4 * TINY.num_greedy and samples[0].startswith("30 ")
    last = [json.loads(line.split(" ", 1)[1]) for line in samples[-TINY.num_greedy:]]
    assert all(len(s) == TINY.sample_length and s in TEXT for s in last)   # greedy = the text
    assert (trained / "curve.png").stat().st_size > 1000


def test_checkpoint_round_trip_carries_vocabulary_and_config(trained):
    assert [p.name for p in checkpoint.list_checkpoints(trained)] == [
        "ckpt-000000060.msgpack", "ckpt-000000120.msgpack"]
    params, vocab, meta, path = load_model(trained)
    assert path.name == "ckpt-000000120.msgpack" and meta["step"] == 120
    assert vocab == corpus.make_vocab(TEXT) and meta["corpus"] == "tiny"
    assert meta["config"] == dataclasses.asdict(TINY)       # the CLI flags gave exactly TINY
    state = final_state(trained)
    assert int(state.step) == 120
    chex.assert_trees_all_equal(params, averaged(state))   # what the run validated


def test_resume_after_interruption_equals_uninterrupted_run(trained, tmp_path):
    run(dataclasses.replace(TINY, train_steps=90), tmp_path)
    # "Killed" after step 90 but before its checkpoint: the newest checkpoint is step 60 and
    # the history already holds row 90, which the resumed run must replace.
    checkpoint.step_path(tmp_path, 90).unlink()
    state, _ = run(TINY, tmp_path, resume=True)
    chex.assert_trees_all_equal(jax.device_get(state), final_state(trained))
    assert table(tmp_path / "history.csv") == table(trained / "history.csv")
    assert (tmp_path / "samples.txt").read_text() == (trained / "samples.txt").read_text()


def test_run_directory_is_never_overwritten_or_resumed_wrongly(trained, tmp_path):
    before = digest(trained)
    with pytest.raises(UsageError, match="already holds a run .*--resume"):
        run(TINY, trained)
    with pytest.raises(UsageError, match="num_hidden=32 \\(now 16\\)"):
        run(dataclasses.replace(TINY, num_hidden=16), trained, resume=True)
    with pytest.raises(UsageError, match="vocabulary"):
        run(TINY, trained, resume=True, text=TEXT.upper())
    assert digest(trained) == before


# ----------------------------------------------------------------------------- generate.py

def test_generate_end_to_end_writes_the_learned_text(trained):
    """The real command line, in a fresh process: greedy text from a prime is the corpus."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "generate.py"), "--run-dir", str(trained),
         "--temperature", "0", "--prime", "The q", "--length", "60", "--num-samples", "2"],
        capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    texts = done.stdout.split("--- sample 2 ---\n")
    assert texts[0].startswith("--- sample 1 ---\n")
    want = TEXT[:65]
    assert texts[0].split("\n", 1)[1] == want + "\n" and texts[1] == want + "\n"
    assert "ckpt-000000120.msgpack (step 120" in done.stderr


def test_generate_samples_and_compares_temperatures(trained, capsys):
    status, out, _ = call(generate.main, ["--run-dir", trained, "--temperature", "0.5",
                                          "--length", "300", "--prime", "The"], capsys)
    assert status == 0 and out == TEXT[:303] + "\n"           # 300 characters beyond 30
    status, out, _ = call(generate.main, ["--checkpoint", checkpoint.list_checkpoints(trained)[0],
                                          "--compare-temperatures", "--length", "20"], capsys)
    header = out.splitlines()[0]
    assert status == 0 and all(f"temperature {t}" in header for t in (0.5, 1.0, 2.0))


def test_generate_without_a_model_prints_the_training_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                              # no results/text/grimms here
    status, out, err = call(generate.main, ["--temperature", "0.5"], capsys)
    assert status == 2 and out == "" and err.count("\n") == 1
    assert "no trained model in results/text/grimms" in err
    assert "python experiments/train_text.py " in err and "--quick" in err
    status, _, err = call(generate.main, ["--run-dir", tmp_path / "elsewhere"], capsys)
    assert status == 2 and f"python experiments/train_text.py --run_dir {tmp_path}" in err


def damaged(trained, tmp_path):
    """Broken checkpoint files of every kind, named by what is wrong with them."""
    good = checkpoint.list_checkpoints(trained)[-1]
    data = good.read_bytes()
    files = {"truncated": data[: len(data) // 2], "not-a-checkpoint": b"PK\x03\x04 zip?",
             "bit-flip": data[:-7] + bytes([data[-7] ^ 1]) + data[-6:]}
    tree, meta = checkpoint.load(good)
    files["other-vocabulary"] = checkpoint.to_bytes(tree, dict(meta, vocab=meta["vocab"] + "Z"))
    files["palindrome-model"] = checkpoint.to_bytes({"params": {"W_hx": np.zeros((4, 1))}},
                                                    {"config": {"model_type": "rnn"}})
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "broken-run").mkdir()
    (tmp_path / "broken-run" / good.name).write_bytes(files["truncated"])
    return tmp_path


@pytest.mark.parametrize("argv, message", [
    (["--temperature", "-1"], "--temperature: must be >= 0"),
    (["--temperature", "hot"], "--temperature: expected a number"),
    (["--length", "0"], "--length: must be > 0"),
    (["--num-samples", "0"], "--num-samples/--num_samples: must be > 0"),
    (["--top-k", "-1"], "--top-k must be >= 0"),
    (["--top-k", "999"], "--top-k must be <= the vocabulary size 11"),
    (["--prime", "The Frog€"], "not in the model's vocabulary: 'Fgor€'"),
    (["--prime", ""], "--prime must not be empty"),
    (["--checkpoint", "{bad}/missing.msgpack"], "no checkpoint at"),
    (["--checkpoint", "{bad}/truncated"], "truncated or corrupted"),
    (["--checkpoint", "{bad}/bit-flip"], "truncated or corrupted"),
    (["--checkpoint", "{bad}/not-a-checkpoint"], "not an rnn_gnn checkpoint"),
    (["--checkpoint", "{bad}/other-vocabulary"], "does not match the model"),
    (["--checkpoint", "{bad}/palindrome-model"], "not a character-model checkpoint"),
    (["--checkpoint", "{bad}/broken-run"], "no intact checkpoint in"),
    (["--run-dir", "{bad}/broken-run"], "no intact checkpoint in"),
    (["--sample-everything"], "unrecognized arguments"),
])
def test_generate_bad_input_is_one_line_and_exit_2(trained, tmp_path, capsys, argv, message):
    bad = damaged(trained, tmp_path)
    argv = [a.format(bad=bad) for a in argv]
    if not any(a in argv for a in ("--checkpoint", "--run-dir")):
        argv += ["--run-dir", str(trained)]
    before = digest(trained), digest(bad)
    status, out, err = call(generate.main, argv, capsys)
    assert status == 2 and out == "" and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err
    assert (digest(trained), digest(bad)) == before


@pytest.mark.parametrize("setup, argv, message", [
    (None, ["--corpus", "{d}/missing.txt"], "does not exist"),
    (b"", ["--corpus", "{d}/c.txt"], "is empty"),
    ("caf\xe9".encode("latin-1") * 20, ["--corpus", "{d}/c.txt"], "not UTF-8"),
    (b"The quick.", ["--corpus", "{d}/c.txt"], "needs at least seq_length + 2 = 32"),
    (TEXT.encode(), ["--corpus", "{d}/c.txt", "--seq_length", "0"], "seq_length must be > 0"),
    (TEXT.encode(), ["--corpus", "{d}/c.txt", "--keep_prob", "1.5"], "keep_prob"),
    (TEXT.encode(), ["--corpus", "{d}/c.txt", "--num_hidden", "many"], "invalid int value"),
    (TEXT.encode(), ["--book", "hamlet"], "invalid choice"),
    (TEXT.encode(), ["--corpus", "{d}/c.txt", "--book", "grimms"], "not allowed with"),
    (TEXT.encode(), ["--corpus", "{d}/c.txt", "--run_dir", "{run}"], "already holds a run"),
    (TEXT.encode(), ["--corpus", "{d}/c.txt", "--run_dir", "{run}", "--resume", *tiny_flags(
        dataclasses.replace(TINY, num_layers=1))], "num_layers=2 (now 1)"),
    (TEXT.upper().encode(), ["--corpus", "{d}/c.txt", "--run_dir", "{run}", "--resume",
                             *tiny_flags()], "vocabulary"),
], ids=["missing", "empty", "latin-1", "too-short", "seq-length-0", "keep-prob", "not-an-int",
        "unknown-book", "book-and-corpus", "run-exists", "resume-other-config",
        "resume-other-text"])
def test_train_bad_input_is_one_line_and_exit_2(trained, tmp_path, capsys, setup, argv, message):
    if setup is not None:
        (tmp_path / "c.txt").write_bytes(setup)
    argv = [str(a).format(d=tmp_path, run=trained) for a in argv] + ["--no_progress"]
    before = digest(trained), digest(tmp_path)
    status, out, err = call(train_text.main, argv, capsys)
    assert status == 2 and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err
    assert (digest(trained), digest(tmp_path)) == before      # nothing written, nothing lost
