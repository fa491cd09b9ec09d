"""Part 2 runs and CLIs: a tiny text learned by heart through experiments/train_text.py,
checkpoints that carry vocabulary and config, resume equal to an uninterrupted run, the best
and last model files, quick runs in their own directory, fine-tuning from a run,
experiments/generate.py end to end (prime files, unknown characters, top-p), and bad input
answered by one line and exit status 2."""

import csv
import dataclasses
import hashlib
import json
from pathlib import Path

import chex
import jax
import numpy as np
import pytest

from conftest import load_experiment
from rnn_gnn import checkpoint, cli, files
from rnn_gnn.errors import CheckpointError, ConfigError
from rnn_gnn.optimizers import averaged
from rnn_gnn.report import figures as report_figures
from rnn_gnn.text import corpus, figures
from rnn_gnn.text.config import (QUICK, Config, Monitor, config_from, default_run_dir,
                                 settings)
from rnn_gnn.text.model import evaluate, transfer_vocab
from rnn_gnn.text.records import validation_sets
from rnn_gnn.text.runner import train_run
from rnn_gnn.text.store import MODEL_FORMAT, load_model
from rnn_gnn.text.trainer import initial_state

# Every character has one successor, so a working model drives the loss to ~0 and its greedy
# text is the corpus itself.
TEXT = "The quick.\n" * 30
# Tiny but complete: two layers, validation, samples, and a learning rate that decays at
# steps 30, 60 and 90 (a resume that lost the schedule's count would train differently).
TINY = Config(seq_length=8, num_hidden=32, num_layers=2, batch_size=16, learning_rate=2e-2,
              learning_rate_decay=0.7, decay_steps=30, val_fraction=0.1)
WATCH = Monitor(train_steps=120, sample_every=30, eval_every=60, checkpoint_every=60,
                sample_length=12, num_greedy=2)

train_text, generate = load_experiment("train_text"), load_experiment("generate")


# Every run here compiles the same training step: JAX's persistent cache shares it.
pytestmark = pytest.mark.usefixtures("compile_once")


def call(main, argv, capsys):
    """Run a CLI in-process: ``(exit status, stdout, stderr)``."""
    try:
        cli.run_main(main, [str(a) for a in argv])
        status = 0
    except SystemExit as e:
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


def tiny_flags(cfg=TINY, monitor=WATCH):
    """The flags that turn Config() and Monitor() into ``cfg`` and ``monitor``."""
    default = settings(Config(), Monitor())
    return [x for k, v in settings(cfg, monitor).items() if v != default[k]
            for x in (f"--{k}", v)]


def run(cfg, run_dir, resume=False, text=TEXT, monitor=WATCH):
    return train_run(cfg, monitor, text, run_dir, corpus_name="tiny", resume=resume,
                     progress=False, log=lambda *_: None)


def digest(directory):
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in directory.rglob("*") if p.is_file()}


def table(path, drop=("time_s",)):
    with open(path) as f:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(f)]


def final_state(run_dir):
    path = checkpoint.list_checkpoints(run_dir)[-1]
    target = initial_state(TINY, len(corpus.make_vocab(TEXT)))
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
    assert len(samples) == 4 * WATCH.num_greedy and samples[0].startswith("30 ")
    last = [json.loads(line.split(" ", 1)[1]) for line in samples[-WATCH.num_greedy:]]
    assert all(len(s) == WATCH.sample_length and s in TEXT for s in last)  # greedy = the text
    assert (trained / "curve.png").stat().st_size > 1000


def test_the_grimm_curve_shows_the_target_line(trained):
    """The held-out target of docs/part2.md, 1.35 nats/char, is a labelled line on the Grimm
    curve only."""
    rows = table(trained / "history.csv", drop=())

    def target_lines(fig):
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        return [(line.get_ydata()[0], label) for line, label in zip(ax.get_lines(), labels)
                if "target" in label]
    assert target_lines(figures.learning_curve(rows, "grimms")) == [
        (1.35, "target: validation <= 1.35 nats/char")]
    assert target_lines(figures.learning_curve(rows, "tiny")) == []
    figures.plt.close("all")


def test_the_report_redraws_the_curve_from_the_runs_files(trained):
    """summary.json names the corpus (the title, and a book's target line) and the window
    length: the report draws the run's curve from history.csv with them."""
    assert json.loads((trained / "summary.json").read_text())["corpus"] == "tiny"
    fig = report_figures.text_curve_figure(trained)
    assert fig.axes[0].get_title() == "Character LSTM on tiny"
    assert "validation, 8-char windows as in training" in [
        t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), [
        float(r["accuracy"]) for r in table(trained / "history.csv")])
    figures.plt.close("all")


def test_checkpoint_round_trip_carries_vocabulary_and_config(trained):
    assert [p.name for p in checkpoint.list_checkpoints(trained)] == [
        "ckpt-000000060.msgpack", "ckpt-000000120.msgpack"]
    params, vocab, meta, path = load_model(trained)
    assert path.name == "ckpt-000000120.msgpack" and meta["step"] == 120
    assert vocab == corpus.make_vocab(TEXT) and meta["corpus"] == "tiny"
    assert meta["config"] == settings(TINY, WATCH)   # the CLI flags gave exactly TINY, WATCH
    state = final_state(trained)
    assert int(state.step) == 120
    chex.assert_trees_all_equal(params, averaged(state))   # what the run validated


def test_resume_after_interruption_equals_uninterrupted_run(trained, tmp_path):
    run(TINY, tmp_path, monitor=dataclasses.replace(WATCH, train_steps=90))
    # "Killed" after step 90 but before its checkpoint: the newest checkpoint is step 60 and
    # the history already holds row 90, which the resumed run must replace.
    checkpoint.step_path(tmp_path, 90).unlink()
    state, _ = run(TINY, tmp_path, resume=True)
    chex.assert_trees_all_equal(jax.device_get(state), final_state(trained))
    assert table(tmp_path / "history.csv") == table(trained / "history.csv")
    assert (tmp_path / "samples.txt").read_text() == (trained / "samples.txt").read_text()


def test_run_directory_is_never_overwritten_or_resumed_wrongly(trained, tmp_path):
    before = digest(trained)
    with pytest.raises(CheckpointError, match="holds checkpoints of an earlier run: pass --resume"):
        run(TINY, trained)
    with pytest.raises(ConfigError, match=r"other settings \(config\.num_hidden 32 -> 16\)$"):
        run(dataclasses.replace(TINY, num_hidden=16), trained, resume=True)
    with pytest.raises(ConfigError, match="other settings \\(vocab "):
        run(TINY, trained, resume=True, text=TEXT.upper())
    assert digest(trained) == before


def test_model_files_hold_the_last_and_the_best_step_without_optimizer(trained):
    summary = json.loads((trained / "summary.json").read_text())
    last, best = load_model(trained / "model.msgpack"), load_model(trained / "best.msgpack")
    chex.assert_trees_all_equal(last.params, averaged(final_state(trained)))
    assert last.meta["step"] == 120 and last.meta["format"] == MODEL_FORMAT
    assert last.vocab == best.vocab == corpus.make_vocab(TEXT)
    assert best.meta["step"] == summary["best_model"]["step"]
    assert best.meta["val_loss_carried"] == summary["best_model"]["val_loss_carried"]
    tree, _ = checkpoint.load(trained / "model.msgpack")
    assert list(tree) == ["params"]                            # no optimizer state, no step
    size = (trained / "model.msgpack").stat().st_size
    assert size < checkpoint.list_checkpoints(trained)[-1].stat().st_size / 3


# A text whose held-out end contradicts the rest ("acb" where training reads "abc"): the
# better the model learns the text, the worse it does on the end, so the best validation
# comes early and its checkpoint would long be pruned.
CONTRARY = "abc" * 300 + "acb" * 34
EARLY = Config(seq_length=8, num_hidden=16, num_layers=1, batch_size=8, learning_rate=3e-2,
               dropout=0.0, average_decay=0.0, val_fraction=0.1)
EVERY_10 = Monitor(train_steps=60, sample_every=10, eval_every=10, checkpoint_every=10,
                   num_greedy=0)


def test_best_checkpoint_outlives_the_newest_ones(tmp_path):
    _, summary = run(EARLY, tmp_path, text=CONTRARY, monitor=EVERY_10)
    kept = [int(p.name[5:14]) for p in checkpoint.list_checkpoints(tmp_path)]
    best = load_model(tmp_path / "best.msgpack")
    rows = table(tmp_path / "history.csv")
    scores = {int(r["step"]): float(r["val_loss_carried"]) for r in rows}
    assert kept == [40, 50, 60] and best.meta["step"] == min(scores, key=scores.get) < 40
    assert scores[60] > scores[best.meta["step"]] + 0.1
    # It is that step's model: its validation is the one logged then.
    _, val = corpus.split(corpus.encode(CONTRARY, best.vocab), 8, 0.1)
    x, y = validation_sets(val, 8)["_carried"]
    chex.assert_trees_all_close(float(evaluate(best.params, x, y)[0]),
                                best.meta["val_loss_carried"], scores[best.meta["step"]],
                                rtol=1e-6)
    # A resumed run goes on comparing with it and leaves it alone.
    before = (tmp_path / "best.msgpack").read_bytes()
    run(EARLY, tmp_path, resume=True, text=CONTRARY,
        monitor=dataclasses.replace(EVERY_10, train_steps=80))
    assert (tmp_path / "best.msgpack").read_bytes() == before


def test_quick_run_has_its_own_directory(trained, tmp_path, monkeypatch, capsys):
    """README order: --quick, then the full run; neither blocks the other.  Also
    --sample_length 1 (greedy samples of one character: nothing written after it)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tale.txt").write_text(TEXT)
    # Every setting of --quick given (TINY's), so that both runs compile the program of the
    # trained fixture (and find it in the compilation cache).
    preset = [x for k in QUICK for x in (f"--{k}", settings(TINY, WATCH)[k])]
    small = ["--corpus", "tale.txt", *tiny_flags(), *preset, "--sample_length", "1",
             "--no_progress"]
    status, out, err = call(train_text.main, small + ["--quick"], capsys)
    assert status == 0, err
    quick = tmp_path / "results" / "text" / "tale_quick"
    assert "--run_dir results/text/tale_quick" in out
    samples = [json.loads(line.split(" ", 1)[1]) for line in
               (quick / "samples.txt").read_text().splitlines()]
    assert len(samples) == 4 * WATCH.num_greedy and all(len(s) == 1 and s in TEXT
                                                        for s in samples)
    status, out, err = call(train_text.main, small, capsys)
    assert status == 0, err
    full = tmp_path / "results" / "text" / "tale"
    assert "--run_dir results/text/tale " in out
    assert checkpoint.list_checkpoints(quick) and checkpoint.list_checkpoints(full)


def test_quick_is_a_preset_under_the_flags_the_user_gives():
    """--quick fills what the user leaves out; without it the defaults are the full run's."""
    args = train_text.parse_args(["--quick", "--num_hidden", "64"])
    assert args.preset == "quick" and args.config.num_hidden == 64
    assert settings(args.config, args.monitor) == {**settings(Config(), Monitor()), **QUICK,
                                                  "num_hidden": 64}
    args = train_text.parse_args([])
    assert args.preset is None and (args.config, args.monitor) == (Config(), Monitor())


def test_default_run_directories_keep_quick_and_fine_tuned_runs_apart(tmp_path):
    results = Path("results") / "text"
    assert default_run_dir("grimms") == results / "grimms"
    assert default_run_dir("grimms", quick=True) == results / "grimms_quick"
    assert default_run_dir("darwin", init_from="shipped") == results / "darwin_from_shipped"
    assert default_run_dir("darwin", init_from=tmp_path) == results / f"darwin_from_{tmp_path.name}"
    assert (default_run_dir("darwin", True, tmp_path / "best.msgpack")
            == results / f"darwin_quick_from_{tmp_path.name}")


def test_checkpoints_from_before_dropout_still_load_and_resume(trained, tmp_path):
    """Older runs stored keep_prob = 1 - dropout."""
    tree, meta = checkpoint.load(checkpoint.list_checkpoints(trained)[-1])
    config = {k: v for k, v in meta["config"].items() if k != "dropout"}
    config["keep_prob"] = 0.75
    checkpoint.save_step(tmp_path, 120, tree, dict(meta, config=config))
    assert config_from(config) == TINY and config_from(dict(config, keep_prob=0.8)).dropout == 0.2
    model = load_model(tmp_path)
    chex.assert_trees_all_equal(model.params, load_model(trained).params)
    state, summary = run(TINY, tmp_path, resume=True)              # the same settings
    assert int(state.step) == 120


TALE2 = "The quick!\n" * 30   # one new character ('!'), one gone ('.')


def test_transfer_vocab_keeps_shared_characters_and_starts_new_ones_fresh(trained):
    source = load_model(trained)
    vocab = corpus.make_vocab(TALE2)
    fresh = initial_state(TINY, len(vocab)).params
    params = transfer_vocab(source.params, source.vocab, vocab, fresh)
    for new_id, ch in enumerate(vocab):
        old_id = source.vocab.find(ch)
        want = source.params if old_id >= 0 else fresh
        i = old_id if old_id >= 0 else new_id
        chex.assert_trees_all_equal(params["W_ph"][new_id], want["W_ph"][i])
        chex.assert_trees_all_equal(params["b_p"][new_id], want["b_p"][i])
        chex.assert_trees_all_equal(params["layers"][0]["W_ix"][:, new_id],
                                    want["layers"][0]["W_ix"][:, i])
    chex.assert_trees_all_equal(params["layers"][1], source.params["layers"][1])
    chex.assert_trees_all_equal(params["layers"][0]["W_fh"], source.params["layers"][0]["W_fh"])


def test_fine_tune_from_a_run(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tale2.txt").write_text(TALE2)
    flags = ["--corpus", "tale2.txt", "--init_from", trained, "--no_progress",
             *tiny_flags(TINY, dataclasses.replace(WATCH, train_steps=30))]
    status, out, err = call(train_text.main, flags, capsys)
    assert status == 0, err
    run_dir = tmp_path / "results" / "text" / f"tale2_from_{trained.name}"
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["init_from"]["path"] == str(trained / "ckpt-000000120.msgpack")
    assert meta["init_from"]["step"] == 120 and meta["config"] == settings(
        TINY, dataclasses.replace(WATCH, train_steps=30))
    assert ("10 of the text's 11 characters keep their weights; new, from a fresh "
            "initialisation: '!'; dropped (not in this text): '.'") in out + err
    # It starts from what the source knew: after 30 steps the loss is far below that of the
    # run from scratch at the same step (> 1 nat/char, test_tiny_text_is_learned...).
    assert float(table(run_dir / "history.csv")[0]["loss"]) < 0.5
    # The architecture comes from the model; a flag that contradicts it is refused.
    status, out, err = call(train_text.main, flags + ["--num_hidden", "16", "--run_dir", "x"],
                            capsys)
    assert status == 2 and err.count("\n") == 1
    assert "its model has num_hidden=32, num_layers=2, embed_dim=0; --num_hidden 16" in err
    status, _, err = call(train_text.main, flags[:2] + ["--init_from", tmp_path / "nothing"],
                          capsys)
    assert status == 2 and "no checkpoint at" in err and not (tmp_path / "x").exists()


# ----------------------------------------------------------------------------- generate.py

def test_generate_end_to_end_writes_the_learned_text(trained, capsys):
    """The command line (in-process: generate.py in a fresh process is
    test_text_shipped.test_generate_falls_back_to_the_shipped_model): greedy text from a prime
    is the corpus."""
    status, out, err = call(generate.main, ["--run_dir", trained, "--temperature", "0",
                                            "--prime", "The q", "--length", "60",
                                            "--num_samples", "2"], capsys)
    assert status == 0, err
    texts = out.split("--- sample 2 ---\n")
    assert texts[0].startswith("--- sample 1 ---\n")
    want = TEXT[:65]
    assert texts[0].split("\n", 1)[1] == want + "\n" and texts[1] == want + "\n"
    assert "ckpt-000000120.msgpack (step 120" in err


def test_generate_samples_and_compares_temperatures(trained, capsys):
    status, out, _ = call(generate.main, ["--run_dir", trained, "--temperature", "0.5",
                                          "--length", "300", "--prime", "The"], capsys)
    assert status == 0 and out == TEXT[:303] + "\n"           # 300 characters beyond 30
    status, out, _ = call(generate.main, ["--checkpoint", checkpoint.list_checkpoints(trained)[0],
                                          "--compare_temperatures", "--length", "20"], capsys)
    header = out.splitlines()[0]
    assert status == 0 and all(f"temperature {t}" in header for t in (0.5, 1.0, 2.0))


def test_generate_prime_file_unknown_characters_and_top_p(trained, tmp_path, capsys):
    (tmp_path / "prime.txt").write_text("\ufeffThe q€u~", encoding="utf-8")
    argv = ["--run_dir", trained, "--temperature", "0", "--length", "30"]
    status, out, err = call(generate.main, argv + ["--prime_file", tmp_path / "prime.txt"],
                            capsys)
    assert status == 2 and out == "" and "'~€' (--ignore_unknown drops them)" in err
    status, out, err = call(generate.main, argv + ["--prime_file", tmp_path / "prime.txt",
                                                   "--ignore_unknown"], capsys)
    assert status == 0 and out == "The qu" + TEXT[6:36] + "\n"    # the BOM is not text either
    assert "warning: dropped from the prime, not in the model's vocabulary: '~€'" in err
    # A nucleus of 0.5 around a sure next character is that character: the text itself.
    status, out, _ = call(generate.main, ["--run_dir", trained, "--prime", "The", "--length",
                                          "40", "--top_p", "0.5"], capsys)
    assert status == 0 and out == TEXT[:43] + "\n"


def test_generate_from_a_named_empty_run_prints_the_training_command(tmp_path, monkeypatch,
                                                                     capsys):
    """A run the user names must exist (only the default one falls back to the shipped
    model: test_text_shipped.py)."""
    monkeypatch.chdir(tmp_path)
    status, out, err = call(generate.main, ["--run_dir", "results/text/grimms"], capsys)
    assert status == 2 and out == "" and err.count("\n") == 1
    assert "no trained model in results/text/grimms" in err
    assert "python experiments/train_text.py " in err and "--quick" in err
    status, _, err = call(generate.main, ["--run_dir", tmp_path / "elsewhere"], capsys)
    assert status == 2 and f"python experiments/train_text.py --run_dir {tmp_path}" in err


def damaged(trained, tmp_path):
    """Broken checkpoint files of every kind, named by what is wrong with them."""
    good = checkpoint.list_checkpoints(trained)[-1]
    data = good.read_bytes()
    files = {"truncated": data[: len(data) // 2], "not-a-checkpoint": b"PK\x03\x04 zip?",
             "bit-flip": data[:-7] + bytes([data[-7] ^ 1]) + data[-6:]}
    tree, meta = checkpoint.load(good)
    files["other-vocabulary"] = checkpoint.to_bytes(tree, dict(meta, vocab=meta["vocab"] + "Z"))
    files["bad-config"] = checkpoint.to_bytes(tree, dict(meta, config={"num_hidden": "many"}))
    files["palindrome-model"] = checkpoint.to_bytes({"params": {"W_hx": np.zeros((4, 1))}},
                                                    {"config": {"model_type": "rnn"}})
    files.update({"latin-1.txt": "caf\xe9".encode("latin-1"), "empty.txt": b"",
                  "frog.txt": "The Frog€".encode()})
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "empty-run").mkdir()
    (tmp_path / "broken-run").mkdir()
    (tmp_path / "broken-run" / good.name).write_bytes(files["truncated"])
    return tmp_path


@pytest.mark.parametrize("argv, message", [
    (["--temperature", "-1"], "--temperature: must be >= 0"),
    (["--temperature", "hot"], "--temperature: expected a number"),
    (["--length", "0"], "--length: must be > 0"),
    (["--num_samples", "0"], "--num_samples: must be > 0"),
    (["--num-samples", "1"], "unrecognized arguments: --num-samples"),   # one spelling only
    (["--top_k", "-1"], "--top_k: must be >= 0"),
    (["--top_k", "999"], "--top_k must be <= the vocabulary size 11"),
    (["--top_p", "0"], "--top_p: must be in (0, 1]"),
    (["--top_p", "1.5"], "--top_p: must be in (0, 1]"),
    (["--prime", "The Frog€"], "not in the model's vocabulary: 'Fgor€' (--ignore_unknown"),
    (["--prime", "€€"], "not in the model's vocabulary: '€'"),
    (["--prime", "€€", "--ignore_unknown"], "no character of the prime is in the model's"),
    (["--prime_file", "{bad}/missing.txt"], "prime file {bad}/missing.txt does not exist"),
    (["--prime_file", "{bad}/latin-1.txt"], "is not UTF-8"),
    (["--prime_file", "{bad}/empty.txt"], "is empty"),
    (["--prime_file", "{bad}/frog.txt"], "not in the model's vocabulary: 'Fgor€'"),
    (["--prime_file", "{bad}/frog.txt", "--prime", "The"], "not allowed with"),
    (["--prime", ""], "--prime must not be empty"),
    (["--checkpoint", "{bad}/missing.msgpack"], "no checkpoint at"),
    (["--checkpoint", "{bad}/truncated"], "truncated or corrupted"),
    (["--checkpoint", "{bad}/bit-flip"], "truncated or corrupted"),
    (["--checkpoint", "{bad}/not-a-checkpoint"], "not an rnn_gnn checkpoint"),
    (["--checkpoint", "{bad}/other-vocabulary"], "does not match the model"),
    (["--checkpoint", "{bad}/palindrome-model"], "not a character-model checkpoint"),
    (["--checkpoint", "{bad}/bad-config"], "has a config this code cannot build"),
    (["--checkpoint", "{bad}/broken-run"], "no intact checkpoint in"),
    (["--run_dir", "{bad}/broken-run"], "no intact checkpoint in"),
    (["--run_dir", "{bad}/empty-run"], "no trained model in"),
    (["--sample-everything"], "unrecognized arguments"),
])
def test_generate_bad_input_is_one_line_and_exit_2(trained, tmp_path, capsys, argv, message):
    bad = damaged(trained, tmp_path)
    argv, message = [a.format(bad=bad) for a in argv], message.format(bad=bad)
    if not any(a in argv for a in ("--checkpoint", "--run_dir")):
        argv += ["--run_dir", str(trained)]
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
    (TEXT.encode(), ["--corpus", "{d}/c.txt", "--dropout", "1"], "dropout (the drop probab"),
    (TEXT.encode(), ["--corpus", "{d}/c.txt", "--keep_prob", "0.75"],
     "unrecognized arguments: --keep_prob"),                      # replaced by --dropout
    (TEXT.encode(), ["--corpus", "{d}/c.txt", "--num_hidden", "many"], "invalid int value"),
    (TEXT.encode(), ["--book", "hamlet"], "invalid choice"),
    (TEXT.encode(), ["--corpus", "{d}/c.txt", "--book", "grimms"], "not allowed with"),
    (TEXT.encode(), ["--corpus", "{d}/c.txt", "--run_dir", "{run}"], "holds checkpoints of an earlier run"),
    (TEXT.encode(), ["--corpus", "{d}/c.txt", "--run_dir", "{run}", "--resume", *tiny_flags(
        dataclasses.replace(TINY, num_layers=1))], "config.num_layers 2 -> 1"),
    (TEXT.upper().encode(), ["--corpus", "{d}/c.txt", "--run_dir", "{run}", "--resume",
                             *tiny_flags()], "other settings (vocab "),
], ids=["missing", "empty", "latin-1", "too-short", "seq-length-0", "dropout-1", "keep-prob",
         "not-an-int",
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
