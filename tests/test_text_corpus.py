"""Part 2 corpus: vocabulary, cleaning, named books and their download, training windows."""

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_gnn.errors import ConfigError, DataError
from rnn_gnn.text import corpus

# The workspace's read-only copies, named explicitly: the library never looks there itself.
SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"
NO_NETWORK = "http://127.0.0.1:9"  # nothing listens on the discard port: any fetch would fail


def fake_book(words=20_000, title="FAIRY TALES") -> bytes:
    body = " ".join(f"word{i % 97}" for i in range(words))
    return (f"\ufeffThe Project Gutenberg EBook of {title}\n\n"
            f"*** START OF THIS PROJECT GUTENBERG EBOOK {title} ***\n\n{body}\n\n"
            f"End of Project Gutenberg's {title}\n\n"
            f"*** END OF THIS PROJECT GUTENBERG EBOOK {title} ***\n\nlicence text\n").encode()


# ----------------------------------------------------------------------------- vocabulary

def test_vocabulary_is_sorted_deterministic_and_round_trips():
    text = "Hänsel und Gretel, ‘said she’ — 42!\nzebra"
    vocab = corpus.make_vocab(text)
    assert vocab == "".join(sorted(set(text)))
    assert corpus.make_vocab(text[::-1]) == vocab          # order of appearance does not matter
    assert len(set(vocab)) == len(vocab)
    ids = corpus.encode(text, vocab)
    assert ids.dtype == np.int32 and ids.shape == (len(text),)
    assert ids.min() == 0 and ids.max() == len(vocab) - 1
    assert corpus.decode(ids, vocab) == text


def test_encode_names_characters_outside_the_vocabulary():
    with pytest.raises(DataError, match="'Q€'"):
        corpus.encode("aQb€", "ab")


def test_clean_strips_bom_and_gutenberg_boilerplate():
    raw = fake_book(words=5).decode()
    assert corpus.clean(raw) == " ".join(f"word{i}" for i in range(5)) + "\n"
    plain = "\ufeffOnce upon a time\n*** not a marker pair\n"
    assert corpus.clean(plain) == plain[1:]                 # only the BOM goes


def test_read_text_rejects_missing_empty_and_non_utf8(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "bom.txt").write_bytes("\ufeff\n\n".encode())
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    for name, message in [("missing.txt", "does not exist"), ("empty.txt", "is empty"),
                          ("bom.txt", "is empty"), ("latin1.txt", "not UTF-8")]:
        with pytest.raises(DataError, match=message):
            corpus.read_text(tmp_path / name)
    (tmp_path / "ok.txt").write_bytes("\ufeffhello".encode())
    assert corpus.read_text(tmp_path / "ok.txt") == "hello"


# ----------------------------------------------------------------------------- splits and windows

def test_split_holds_out_the_end_and_rejects_short_texts():
    ids = np.arange(1000, dtype=np.int32)
    train, val = corpus.split(ids, seq_length=30, val_fraction=0.05)
    np.testing.assert_array_equal(np.concatenate([train, val]), ids)
    assert len(val) == 50
    _, val = corpus.split(ids[:100], seq_length=30)         # 5 characters cannot fill a window
    assert len(val) == 0
    assert len(corpus.split(ids[:32], seq_length=30)[0]) == 32
    with pytest.raises(DataError, match="seq_length \\+ 2"):
        corpus.split(ids[:31], seq_length=30)
    with pytest.raises(ConfigError, match="seq_length must be > 0"):
        corpus.split(ids, seq_length=0)


class WindowsTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_windows_are_shifted_by_one_and_inside_the_text(self):
        n, batch, seq = 40, 512, 8
        data = jnp.arange(n, dtype=jnp.int32) * 3            # the value reveals the position
        x, y = self.variant(functools.partial(corpus.windows, batch_size=batch,
                                              seq_length=seq))(jax.random.PRNGKey(0), data)
        chex.assert_shape([x, y], (batch, seq))
        np.testing.assert_array_equal(y, x + 3)                # y(t) is the character after x(t)
        np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
        np.testing.assert_array_equal(np.diff(np.asarray(x), axis=1), 3)   # contiguous windows
        starts = np.asarray(x[:, 0]) // 3
        assert starts.min() == 0 and starts.max() == n - seq - 1   # every start, never past the end

    def test_tiled_windows_cover_the_text_once(self):
        data = np.arange(100)
        x, y = corpus.tiled_windows(data, 30)
        chex.assert_shape([x, y], (3, 30))
        np.testing.assert_array_equal(x.reshape(-1), data[:90])
        np.testing.assert_array_equal(y.reshape(-1), data[1:91])


# ----------------------------------------------------------------------------- named books

def test_data_dir_flag_then_env_then_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(corpus.DATA_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert corpus.data_dir() == tmp_path / "cache" / "rnn_gnn"
    monkeypatch.setenv(corpus.DATA_ENV, str(tmp_path / "env"))
    assert corpus.data_dir() == tmp_path / "env"
    assert corpus.data_dir(tmp_path / "flag") == tmp_path / "flag"


@pytest.fixture
def gutenberg(tmp_path):
    """A local stand-in for gutenberg.org serving ``root`` on 127.0.0.1."""
    root = tmp_path / "site"
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(root, ebook, data):
    path = root / "cache" / "epub" / str(ebook) / f"pg{ebook}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_missing_book_is_downloaded_once_and_written_whole(gutenberg, tmp_path):
    root, url = gutenberg
    book = fake_book()
    _serve(root, corpus.BOOKS["grimms"].ebook, book)
    data = tmp_path / "data"
    messages = []
    path = corpus.book_path("grimms", data, base=url, log=messages.append)
    assert path == data / "book_EN_grimms_fairy_tails.txt"
    assert path.read_bytes() == book
    assert [p.name for p in data.iterdir()] == [path.name]   # no temporary file left behind
    assert "downloading" in messages[0] and "#2591" in messages[0]
    # Not the edition of the documented results: said, on every use.
    assert messages[1].startswith(f"note: {path} (sha256 {hashlib.sha256(book).hexdigest()[:12]}")
    assert "not the edition of grimms" in messages[1] and "numbers may differ" in messages[1]
    # Present now: found without any request.
    assert corpus.book_path("grimms", data, base=NO_NETWORK, log=messages.append) == path
    assert len(messages) == 3 and "downloading" not in messages[2]
    assert corpus.read_text(path).startswith("word0 word1")


@pytest.mark.parametrize("payload, message", [
    (b"<html>Please solve this captcha</html>", "does not look like a whole"),
    (fake_book()[:50_000], "does not look like a whole"),        # cut off before the end marker
    (b"\xff\xfe" + fake_book(), "not UTF-8"),
    (None, "cannot download"),                                    # 404
], ids=["error-page", "cut-off", "not-utf8", "404"])
def test_bad_downloads_are_refused_and_nothing_is_written(gutenberg, tmp_path, payload, message):
    root, url = gutenberg
    if payload is not None:
        _serve(root, corpus.BOOKS["darwin"].ebook, payload)
    with pytest.raises(DataError, match=message):
        corpus.book_path("darwin", tmp_path / "data", base=url, log=lambda m: None)
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def test_unwritable_data_directory_is_a_data_error(gutenberg, tmp_path):
    root, url = gutenberg
    _serve(root, corpus.BOOKS["grimms"].ebook, fake_book())
    (tmp_path / "a-file").write_text("")                     # not a directory, even for root
    with pytest.raises(DataError, match="cannot save grimms .*writable --data_dir"):
        corpus.book_path("grimms", tmp_path / "a-file" / "data", base=url, log=lambda m: None)


def test_unreachable_server_and_unknown_book_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="cannot download tolstoy .*--corpus"):
        corpus.book_path("tolstoy", tmp_path, base=NO_NETWORK, log=lambda m: None)
    with pytest.raises(DataError, match="unknown book 'hamlet'"):
        corpus.book_path("hamlet", tmp_path)


def test_the_documented_edition_passes_without_a_note(tmp_path, monkeypatch):
    """A book whose sha256 is the recorded one is used silently (the record patched to a
    local file: no network, no ../shared)."""
    book = fake_book()
    recorded = corpus.BOOKS["darwin"]
    (tmp_path / recorded.file).write_bytes(book)
    assert "not the edition" in corpus.edition_note("darwin", tmp_path / recorded.file)
    monkeypatch.setitem(corpus.BOOKS, "darwin",
                        recorded._replace(sha256=hashlib.sha256(book).hexdigest()))
    messages = []
    assert corpus.book_path("darwin", tmp_path, base=NO_NETWORK, log=messages.append)
    assert messages == [] and corpus.edition_note("darwin", tmp_path / recorded.file) == ""


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} (the shared corpora) is absent")
def test_shared_corpora_are_the_named_books():
    for name, book in corpus.BOOKS.items():
        messages = []
        path = corpus.book_path(name, SHARED, base=NO_NETWORK, log=messages.append)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == book.sha256
        assert messages == []                                  # the documented editions
    raw = (SHARED / corpus.BOOKS["grimms"].file).read_text(encoding="utf-8")
    assert len(set(raw)) == 87 and raw[0] == corpus.BOM      # SPEC: 87 distinct incl. the BOM
    text = corpus.read_text(SHARED / corpus.BOOKS["grimms"].file)
    assert corpus.BOM not in text and "Gutenberg" not in text[-2000:]
    assert len(corpus.make_vocab(text)) == 80 and 515_000 < len(text) < 525_000
