"""Questions 2.1c and 2.2: write text with a trained character LSTM.

    python experiments/generate.py --temperature 0.5            # newest checkpoint of the Grimm run
    python experiments/generate.py --prime "Sleeping beauty is" --length 400
    python experiments/generate.py --compare-temperatures       # tau 0.5, 1.0, 2.0 side by side
    python experiments/generate.py --checkpoint results/text/democracy --num-samples 3 --top-k 5

Loads the newest checkpoint in --run-dir (default results/text/grimms, where
experiments/train_text.py writes) or --checkpoint (a file or a run directory).  The next
character is drawn from softmax(logits / temperature); temperature 0 is greedy.  The hidden
and cell states are carried from character to character, so --length can be anything; all
samples are written in parallel by one compiled scan.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from rnn_gnn import checkpoint, cli
from rnn_gnn.text import corpus
from rnn_gnn.text.run import RESULTS, load_model
from rnn_gnn.text.sample import sample

COMPARE = (0.5, 1.0, 2.0)  # question 2.1c


def non_negative(text):
    try:
        value = float(text)
    except ValueError:
        raise cli.argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not value >= 0:
        raise cli.argparse.ArgumentTypeError(f"must be >= 0 (0 is greedy), got {text}")
    return value


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__.split("\n")[0],
                           formatter_class=cli.argparse.ArgumentDefaultsHelpFormatter)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--run-dir", "--run_dir", type=Path, default=RESULTS / "grimms",
                       help="a training run directory: its newest intact checkpoint is used")
    where.add_argument("--checkpoint", type=Path, help="a checkpoint file or run directory")
    p.add_argument("--temperature", type=non_negative, default=1.0,
                   help="sample from softmax(logits / T); 0 = greedy")
    p.add_argument("--length", type=cli.positive(int), default=300,
                   help="characters to write after the prime")
    p.add_argument("--prime", help="text to continue; None: start from a random character")
    p.add_argument("--num-samples", "--num_samples", type=cli.positive(int), default=1)
    p.add_argument("--top-k", "--top_k", type=int, default=0,
                   help="sample among the k most likely characters only (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compare-temperatures", "--compare_temperatures", action="store_true",
                   help=f"question 2.1c: the same prime at temperatures {COMPARE} side by side")
    p.add_argument("--width", type=cli.positive(int), default=38,
                   help="column width of --compare-temperatures")
    args = p.parse_args(argv)
    cli.check(args.top_k >= 0, f"--top-k must be >= 0, got {args.top_k}")
    cli.check(args.prime is None or args.prime != "", "--prime must not be empty")
    return args


def train_command(run_dir: Path) -> str:
    """The command that creates ``run_dir`` (only for the default results/text/<book> ones)."""
    name = run_dir.name
    if run_dir == RESULTS / name:
        book = "" if name == "grimms" else (f" --book {name}" if name in corpus.BOOKS
                                            else f" --corpus {name}.txt")
        return f"python experiments/train_text.py{book}"
    return f"python experiments/train_text.py --run_dir {run_dir}"


def write(params, vocab, prime, num_samples, length, temperature, top_k, seed):
    """``num_samples`` texts: the prime (or a random first character) and what follows."""
    key, first_key = jax.random.split(jax.random.PRNGKey(seed))
    if prime is None:
        start = jax.random.randint(first_key, (num_samples, 1), 0, len(vocab))
    else:
        start = jnp.tile(jnp.asarray(corpus.encode(prime, vocab))[None], (num_samples, 1))
    out = sample(params, key, start, length, temperature, top_k)
    return [corpus.decode(np.concatenate([s, o]), vocab)
            for s, o in zip(np.asarray(start), np.asarray(out))]


def side_by_side(columns: dict[str, str], width: int) -> str:
    """Texts as wrapped columns (newlines shown as ``↵``)."""
    wrapped = [textwrap.wrap(text.replace("\n", "↵ "), width, drop_whitespace=False)
               for text in columns.values()]
    rows = max(map(len, wrapped))
    lines = [" │ ".join(h.ljust(width) for h in columns), "─┼─".join("─" * width for _ in columns)]
    for i in range(rows):
        lines.append(" │ ".join((w[i] if i < len(w) else "").ljust(width) for w in wrapped))
    return "\n".join(line.rstrip() for line in lines)


def main(argv=None):
    args = parse_args(argv)
    source = args.checkpoint or args.run_dir
    if args.checkpoint is None and not checkpoint.list_checkpoints(args.run_dir):
        raise cli.UsageError(
            f"no trained model in {args.run_dir}; train one first with: "
            f"{train_command(args.run_dir)}   (add --quick for a small model in about a minute)")
    params, vocab, meta, path = load_model(source)
    cli.check(args.top_k <= len(vocab), f"--top-k must be <= the vocabulary size {len(vocab)}")
    if args.prime is not None:
        corpus.encode(args.prime, vocab)  # fails early, listing unknown characters
    print(f"# {path} (step {meta.get('step')}, {meta.get('corpus') or 'corpus'}, "
          f"{len(vocab)} characters)", file=sys.stderr)
    if args.compare_temperatures:
        runs = {t: write(params, vocab, args.prime, args.num_samples, args.length, t, args.top_k,
                         args.seed) for t in COMPARE}
        for i in range(args.num_samples):
            print(side_by_side({f"temperature {t}": runs[t][i] for t in COMPARE}, args.width))
            print()
        return
    texts = write(params, vocab, args.prime, args.num_samples, args.length, args.temperature,
                  args.top_k, args.seed)
    for i, text in enumerate(texts):
        if args.num_samples > 1:
            print(f"--- sample {i + 1} ---")
        print(text)


if __name__ == "__main__":
    cli.run_main(main)
