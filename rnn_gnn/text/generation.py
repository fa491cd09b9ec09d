"""Writing text for a user (the library side of ``experiments/generate.py``).

Which model (``choose_model``: the one named, else the default Grimm run, else the model
shipped in the package), the prime checked against its vocabulary (``prime_text``), the texts
themselves (``texts``, with ``sample.write``: one compiled 256-character chunk serves every
length), and texts set side by side in columns (``side_by_side``, question 2.1c).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import jax
import numpy as np

from rnn_gnn import checkpoint
from rnn_gnn.errors import CheckpointError, DataError
from rnn_gnn.text import corpus
from rnn_gnn.text.config import RESULTS, SHIPPED
from rnn_gnn.text.sample import write

DEFAULT_RUN = RESULTS / "grimms"   # where experiments/train_text.py writes its default run


def train_command(run_dir: Path) -> str:
    """The command that creates ``run_dir`` (by name only for the default results/text/<book>
    ones)."""
    name = run_dir.name
    if run_dir == RESULTS / name:
        book = "" if name == "grimms" else (f" --book {name}" if name in corpus.BOOKS
                                            else f" --corpus {name}.txt")
        return f"python experiments/train_text.py{book}"
    return f"python experiments/train_text.py --run_dir {run_dir}"


def choose_model(checkpoint_path=None, run_dir=None) -> tuple:
    """``(source, note)``: what ``store.load_model`` should load, and why when it is the shipped
    model.  A named ``run_dir`` must hold checkpoints (``CheckpointError`` with the command
    that trains it); only the default run falls back to the shipped model."""
    if checkpoint_path is not None:
        return checkpoint_path, ""
    if run_dir is not None:
        if not checkpoint.list_checkpoints(run_dir):
            raise CheckpointError(
                f"no trained model in {run_dir}; train one first with: "
                f"{train_command(Path(run_dir))}   (add --quick for a small model in about a "
                "minute)")
        return run_dir, ""
    if checkpoint.list_checkpoints(DEFAULT_RUN):
        return DEFAULT_RUN, ""
    return SHIPPED, (f"no trained run in {DEFAULT_RUN}, so the shipped model; train your own "
                     f"with: {train_command(DEFAULT_RUN)}")


def prime_text(text: str, vocab: str, ignore_unknown: bool = False) -> tuple[str, str]:
    """``(prime, dropped)``: ``text`` without the characters not in ``vocab``, and those
    characters.  Unless ``ignore_unknown``, any such character raises ``DataError``; so does a
    prime left empty."""
    known, dropped = corpus.drop_unknown(text, vocab)
    if dropped and not ignore_unknown:
        raise DataError(f"characters not in the model's vocabulary: {dropped!r} "
                        "(--ignore_unknown drops them)")
    if not known:
        raise DataError(f"no character of the prime is in the model's vocabulary ({dropped!r})")
    return known, dropped


def texts(params: dict, vocab: str, prime: str | None, num_samples: int, length: int,
          temperature: float, top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> list[str]:
    """``num_samples`` texts: the prime (or a random first character) and the ``length``
    characters written after it."""
    key, first_key = jax.random.split(jax.random.PRNGKey(seed))
    if prime is None:
        start = np.asarray(jax.random.randint(first_key, (num_samples, 1), 0, len(vocab)))
    else:
        start = np.tile(corpus.encode(prime, vocab)[None], (num_samples, 1))
    out = write(params, key, start, length, temperature, top_k, top_p)
    return [corpus.decode(np.concatenate([s, o]), vocab) for s, o in zip(start, out)]


def side_by_side(columns: dict[str, str], width: int) -> str:
    """Texts as wrapped columns under their headings (newlines shown as ``↵``)."""
    wrapped = [textwrap.wrap(text.replace("\n", "↵ "), width, drop_whitespace=False)
               for text in columns.values()]
    rows = max(map(len, wrapped))
    lines = [" │ ".join(h.ljust(width) for h in columns),
             "─┼─".join("─" * width for _ in columns)]
    for i in range(rows):
        lines.append(" │ ".join((w[i] if i < len(w) else "").ljust(width) for w in wrapped))
    return "\n".join(line.rstrip() for line in lines)
