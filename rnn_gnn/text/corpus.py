"""Books as integer sequences (SPEC Part 2): vocabulary, named books, random training windows.

A corpus is read as UTF-8; the byte-order mark the Gutenberg files start with is dropped, and
so are the Project Gutenberg header and licence when their ``*** START OF`` / ``*** END OF``
marker lines are present (the licence is 3.5% of Grimm: held out as "validation" it would
measure legal English, not fairy tales).  The vocabulary is the sorted set of characters, so
it is the same in every run (the original ``list(set(text))`` was not), and every checkpoint
stores it.

Named books are looked up only where the user says: a data directory given by flag
(``--data_dir``), else ``$RNN_GNN_DATA``, else the download cache ``$XDG_CACHE_HOME/rnn_gnn``
(``~/.cache/rnn_gnn``), under the file names of ``BOOKS``.  A missing one is downloaded once
from Project Gutenberg, checked to be a whole book, and written atomically.  Gutenberg
revises its files, so a book whose sha256 is not that of the edition the documented results
used (``Book.sha256``) is used with a warning: the numbers may then differ.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rnn_gnn.errors import ConfigError, DataError
from rnn_gnn.files import atomic_write_bytes

BOM = "\ufeff"
GUTENBERG = "https://www.gutenberg.org"
DATA_ENV = "RNN_GNN_DATA"
MIN_BOOK_CHARS = 100_000  # a real book; an error page or a truncated download is far shorter


class Book(NamedTuple):
    file: str     # file name in the data directory
    ebook: int    # Project Gutenberg EBook number
    sha256: str   # of the copy distributed with the original study (newer revisions differ)


BOOKS = {
    "grimms": Book("book_EN_grimms_fairy_tails.txt", 2591,
                   "e6439bd511820742e842e21b75e89b394d3809eec82ca56b506c39ff39d4a7d6"),
    "democracy": Book("book_EN_democracy_in_the_US.txt", 815,
                      "1ba23c5acbb00b0ffbfe48be30273f5b965eaedca5e8dfce55253e6bb24f2ca5"),
    "darwin": Book("book_NL_darwin_reis_om_de_wereld.txt", 33764,
                   "389b114334f9e34bea0b01d43dbe6892d44d7c9430c79a6517c74f0658370535"),
    "tolstoy": Book("book_NL_tolstoy_anna_karenina.txt", 13214,
                    "e8516bf15a6636966224617543fa22a129b35655f66fdfe8af224a9802e8e633"),
}


# ----------------------------------------------------------------------------- text and vocabulary

def clean(text: str) -> str:
    """Drop the BOM and, when both marker lines are present, the Gutenberg header and licence."""
    text = text.lstrip(BOM)
    start, end = text.find("*** START OF"), text.find("*** END OF")
    if 0 <= start < end:
        text = text[text.find("\n", start) + 1:end]
        # The closing "End of Project Gutenberg's ..." line belongs to the licence too.
        tail = text.rfind("End of Project Gutenberg")
        if tail == -1:
            tail = text.rfind("End of the Project Gutenberg")
        if tail > len(text) - 500:
            text = text[:tail]
        text = text.strip("\n") + "\n"
    return text


def make_vocab(text: str) -> str:
    """The sorted distinct characters of ``text``: character i has id i."""
    return "".join(sorted(set(text)))


def encode(text: str, vocab: str) -> np.ndarray:
    """Characters -> int32 ids; raises ``DataError`` naming characters not in ``vocab``."""
    index = {ch: i for i, ch in enumerate(vocab)}
    missing = sorted(set(text) - index.keys())
    if missing:
        raise DataError(f"characters not in the model's vocabulary: {''.join(missing)!r}")
    return np.fromiter((index[ch] for ch in text), np.int32, len(text))


def decode(ids, vocab: str) -> str:
    return "".join(vocab[i] for i in np.asarray(ids).reshape(-1))


def drop_unknown(text: str, vocab: str) -> tuple[str, str]:
    """``(text without the characters not in vocab, those characters sorted)``."""
    known = set(vocab)
    return "".join(ch for ch in text if ch in known), "".join(sorted(set(text) - known))


def read_utf8(path, what: str = "corpus") -> str:
    """A UTF-8 file's text without its BOM; a missing, unreadable, non-UTF-8 or empty file
    raises ``DataError`` naming it as ``what``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{what} {path} does not exist") from None
    except OSError as e:
        raise DataError(f"cannot read {what} {path}: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8").lstrip(BOM)
    except UnicodeDecodeError as e:
        raise DataError(f"{what} {path} is not UTF-8 text (byte {e.start})") from None
    if not text.strip():
        raise DataError(f"{what} {path} is empty")
    return text


def read_text(path) -> str:
    """A corpus file as cleaned text; unreadable, empty or non-UTF-8 files raise ``DataError``."""
    text = clean(read_utf8(path, "corpus"))
    if not text.strip():
        raise DataError(f"corpus {path} is empty")
    return text


# ----------------------------------------------------------------------------- named books

def data_dir(flag=None) -> Path:
    """``--data_dir``, else ``$RNN_GNN_DATA``, else ``$XDG_CACHE_HOME/rnn_gnn`` (``~/.cache``)."""
    if flag:
        return Path(flag).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "rnn_gnn"


def book_url(book: Book, base: str = GUTENBERG) -> str:
    return f"{base.rstrip('/')}/cache/epub/{book.ebook}/pg{book.ebook}.txt"


def check_book(data: bytes, source: str) -> None:
    """Refuse anything that is not a whole Gutenberg plain-text book (error pages, cut-offs)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{source} is not UTF-8 text; not saved") from None
    if len(text) < MIN_BOOK_CHARS or "*** START OF" not in text or "*** END OF" not in text:
        raise DataError(f"{source} does not look like a whole Project Gutenberg book "
                         f"({len(text)} characters, start/end markers missing?); not saved")


def download(name: str, directory, base: str = GUTENBERG, timeout: float = 60.0) -> Path:
    """Fetch a named book into ``directory`` (atomic write after ``check_book``).  Its
    edition is checked by ``book_path``, on every use."""
    book = BOOKS[name]
    url = book_url(book, base)
    request = urllib.request.Request(url, headers={"User-Agent": "rnn_gnn (research code)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise DataError(f"cannot download {name} from {url} ({reason}); put "
                         f"{book.file} in {directory} or pass --corpus FILE") from None
    check_book(data, url)
    path = Path(directory) / book.file
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        raise DataError(f"cannot save {name} to {path} ({e.strerror or e}); pass a writable "
                         "--data_dir") from None
    return path


def book_path(name: str, directory=None, base: str = GUTENBERG, log=print) -> Path:
    """Where book ``name`` lies in the data directory, downloading it on first use; ``log``
    warns when it is not the edition of the documented results (``edition_note``)."""
    if name not in BOOKS:
        raise DataError(f"unknown book {name!r}; choose from {', '.join(BOOKS)} "
                         "or pass --corpus FILE")
    directory = data_dir(directory)
    path = directory / BOOKS[name].file
    if not path.is_file():
        log(f"{name}: not in {directory}; downloading Project Gutenberg EBook "
            f"#{BOOKS[name].ebook} from {book_url(BOOKS[name], base)}")
        download(name, directory, base)
    note = edition_note(name, path)
    if note:
        log(note)
    return path


def edition_note(name: str, path) -> str:
    """A warning when ``path`` is not the edition of book ``name`` that the documented
    results used (Gutenberg revises its files), else ``""``."""
    try:
        got = sha256(path)
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    if got == BOOKS[name].sha256:
        return ""
    return (f"note: {path} (sha256 {got[:12]}...) is not the edition of {name} that the "
            f"documented results used (sha256 {BOOKS[name].sha256[:12]}...); numbers may differ")


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- training data

def split(ids: np.ndarray, seq_length: int, val_fraction: float = 0.05):
    """``(train, val)``: the last ``val_fraction`` of the text is held out.

    Raises ``DataError`` when the text cannot fill one training window (seq_length + 2
    characters).  A held-out slice too short for one window is left empty (no validation).
    """
    if seq_length <= 0:
        raise ConfigError(f"seq_length must be > 0, got {seq_length}")
    if len(ids) < seq_length + 2:
        raise DataError(f"corpus has {len(ids)} characters; it needs at least seq_length + 2 "
                         f"= {seq_length + 2}")
    n_val = int(len(ids) * val_fraction)
    if n_val < seq_length + 1 or len(ids) - n_val < seq_length + 2:
        return ids, ids[:0]
    return ids[:-n_val], ids[-n_val:]


def windows(key, data, batch_size: int, seq_length: int):
    """Random windows of ``data`` (jit-able): inputs ``x [B, T]`` and targets ``y [B, T]``,
    the same window shifted by one character."""
    starts = jax.random.randint(key, (batch_size,), 0, data.shape[0] - seq_length)
    w = data[starts[:, None] + jnp.arange(seq_length + 1)]
    return w[:, :-1], w[:, 1:]


def tiled_windows(data: np.ndarray, seq_length: int):
    """All non-overlapping windows of ``data`` as ``(x [N, T], y [N, T])`` (for validation)."""
    n = (len(data) - 1) // seq_length
    x = data[: n * seq_length].reshape(n, seq_length)
    y = data[1: n * seq_length + 1].reshape(n, seq_length)
    return x, y
