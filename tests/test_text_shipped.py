"""The model shipped in the package (rnn_gnn/text/models): intact, the Grimm vocabulary,
deterministic real-word text, and what generate.py does with it on a fresh clone (no
results/, an empty HOME, no network)."""

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import load_experiment
from rnn_gnn import cli
from rnn_gnn.cells import num_params
from rnn_gnn.errors import DataError
from rnn_gnn.text import corpus, store
from rnn_gnn.text.config import SHIPPED, Config, config_from
from rnn_gnn.text.sample import sample, write

ROOT = Path(__file__).resolve().parents[1]
# The workspace's read-only copies, named explicitly: the library never looks there itself.
SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"
BOOK = SHARED / corpus.BOOKS["grimms"].file
PRIME = "Sleeping beauty is"
# The sorted characters of Grimms' Fairy Tales without the Gutenberg header and licence.
GRIMM_VOCAB = ("\n !()*,-.123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_abcdefghijklmnopqrstuvwxyz"
               "‘’“”")


@pytest.fixture(scope="module")
def shipped():
    return store.load_model(SHIPPED)


def greedy(model, length=200):
    prime = jnp.asarray(corpus.encode(PRIME, model.vocab))[None]
    out = write(model.params, jax.random.PRNGKey(0), prime, length, 0.0)
    return PRIME + corpus.decode(out, model.vocab)


def test_shipped_file_matches_its_record(shipped):
    info = store.shipped_info()
    data = store.SHIPPED_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == info["sha256"] and len(data) == info["bytes"]
    assert shipped.path == store.SHIPPED_FILE and shipped.meta["format"] == store.MODEL_FORMAT
    assert shipped.meta["step"] == info["steps"] == 20000
    assert info["command"].startswith("python experiments/train_text.py")


def test_shipped_model_is_the_2x128_grimm_model_without_optimizer(shipped):
    assert shipped.vocab == GRIMM_VOCAB and len(shipped.vocab) == 80
    cfg = config_from(shipped.meta["config"])
    assert (cfg.num_hidden, cfg.num_layers, cfg.embed_dim) == (128, 2, 0)
    assert cfg == Config()                                 # the default run's settings
    assert num_params(shipped.params) == 248_912
    assert all(x.dtype == jnp.float32 for x in jax.tree_util.tree_leaves(shipped.params))
    assert store.SHIPPED_FILE.stat().st_size < 1.1e6            # parameters only


def test_a_changed_shipped_file_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "grimm.msgpack"
    data = bytearray(store.SHIPPED_FILE.read_bytes())
    data[-9] ^= 1
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(store, "SHIPPED_FILE", copy)
    with pytest.raises(DataError, match="not the recorded .*reinstall"):
        store.load_model(SHIPPED)


def test_greedy_completion_is_deterministic(shipped):
    text = greedy(shipped)
    assert len(text) == len(PRIME) + 200
    assert greedy(shipped) == text
    prime = jnp.asarray(corpus.encode(PRIME, shipped.vocab))[None]
    again = sample(shipped.params, jax.random.PRNGKey(5), prime, 200, 0.0)   # any key
    assert PRIME + corpus.decode(again, shipped.vocab) == text


@pytest.mark.skipif(not BOOK.is_file(), reason=f"{BOOK} (the shared Grimm book) is absent: "
                                                "no word list to check the text against")
def test_greedy_completion_is_made_of_the_books_words(shipped):
    book = corpus.read_text(BOOK)
    assert corpus.make_vocab(book) == shipped.vocab
    words = lambda text: re.findall(r"[a-z]+", text.lower())
    known = set(words(book))
    written = words(greedy(shipped)[len(PRIME):])
    assert len(written) >= 15           # greedy text loops on long words ("beautiful beautiful")
    share = np.mean([w in known for w in written])
    assert share >= 0.9, (share, written)


def fresh_clone_env(tmp_path):
    """An empty HOME, no data directory, and proxies that lead nowhere: a fetch would fail."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in (corpus.DATA_ENV, "XDG_CACHE_HOME")}
    env.update(HOME=str(home), JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT),
               http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    return env, home


def test_generate_falls_back_to_the_shipped_model(shipped, tmp_path):
    """``python experiments/generate.py --temperature 0.5`` on a fresh clone, and a greedy
    completion that is the one computed here."""
    env, home = fresh_clone_env(tmp_path)
    work = tmp_path / "clone"
    work.mkdir()
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "generate.py"),
                           "--temperature", "0.5"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout) > 300 and len(set(done.stdout)) > 20
    assert re.search(r"the shipped model .*grimm_2x128\.msgpack \(step 20000, grimms, 80 "
                     r"characters\): no trained run in results/text/grimms", done.stderr)
    assert list(work.iterdir()) == [] and list(home.iterdir()) == []     # nothing written


def test_generate_writes_the_greedy_completion_computed_here(shipped, tmp_path, monkeypatch,
                                                              capsys):
    monkeypatch.chdir(tmp_path)                               # no results/text/grimms here
    generate = load_experiment("generate")
    cli.run_main(generate.main, ["--temperature", "0", "--prime", PRIME, "--length", "200"])
    out, err = capsys.readouterr()
    assert out == greedy(shipped) + "\n" and "the shipped model" in err
