"""Questions 2.1c and 2.2: write text with a trained character LSTM.

    python experiments/generate.py --temperature 0.5            # the Grimm run, else the shipped model
    python experiments/generate.py --prime "Sleeping beauty is" --length 400
    python experiments/generate.py --prime_file opening.txt --top_p 0.9
    python experiments/generate.py --compare_temperatures       # tau 0.5, 1.0, 2.0 side by side
    python experiments/generate.py --checkpoint results/text/democracy --num_samples 3 --top_k 5

The model: --checkpoint (a run directory's newest intact checkpoint, a checkpoint or model
file such as RUN_DIR/best.msgpack, or 'shipped'), else --run_dir, else the newest checkpoint
of results/text/grimms (where experiments/train_text.py writes), and when that run does not
exist, the Grimm model shipped in the package; stderr names the one used.  The next
character is drawn from softmax(logits / temperature), among the --top_k likeliest or the
--top_p nucleus only if asked; temperature 0 is greedy.  The hidden and cell states are
carried from character to character, so --length can be anything: the text is written 256
characters per compiled call, so no length compiles anything new.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import jax
import numpy as np

from rnn_gnn import checkpoint, cli
from rnn_gnn.text import corpus
from rnn_gnn.text.run import RESULTS, SHIPPED, add_flag, load_model
from rnn_gnn.text.sample import write

COMPARE = (0.5, 1.0, 2.0)  # question 2.1c
DEFAULT_RUN = RESULTS / "grimms"


def non_negative(kind=float):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise cli.argparse.ArgumentTypeError(f"expected a number, got {text!r}")
        if not value >= 0:
            raise cli.argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value
    return parse


def probability(text):
    try:
        value = float(text)
    except ValueError:
        raise cli.argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not 0 < value <= 1:
        raise cli.argparse.ArgumentTypeError(f"must be in (0, 1] (1: off), got {text}")
    return value


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__)
    where = p.add_mutually_exclusive_group()
    add_flag(where, "run_dir", type=Path,
             help=f"a training run directory: its newest intact checkpoint is used (default "
                  f"{DEFAULT_RUN}, or the shipped model when that run does not exist)")
    where.add_argument("--checkpoint", type=Path,
                       help=f"a checkpoint or model file, a run directory, or '{SHIPPED}'")
    p.add_argument("--temperature", type=non_negative(float), default=1.0,
                   help="sample from softmax(logits / T); 0 = greedy")
    p.add_argument("--length", type=cli.positive(int), default=300,
                   help="characters to write after the prime")
    primes = p.add_mutually_exclusive_group()
    primes.add_argument("--prime", help="text to continue (without one: a random first character)")
    primes.add_argument("--prime_file", type=Path, help="continue the text of this UTF-8 file")
    p.add_argument("--ignore_unknown", action="store_true",
                   help="drop the prime's characters that are not in the model's vocabulary "
                        "(with a warning) instead of stopping")
    add_flag(p, "num_samples", type=cli.positive(int), default=1,
             help="texts written side by side, in parallel")
    add_flag(p, "top_k", type=non_negative(int), default=0,
             help="sample among the k most likely characters only (0: all)")
    p.add_argument("--top_p", type=probability, default=1.0,
                   help="sample in the nucleus only: the fewest likeliest characters whose "
                        "probability adds up to p (1: all)")
    p.add_argument("--seed", type=int, default=0, help="random numbers of the sampling")
    add_flag(p, "compare_temperatures", action="store_true",
             help=f"question 2.1c: the same prime at temperatures {COMPARE} side by side")
    p.add_argument("--width", type=cli.positive(int), default=38,
                   help="column width of --compare_temperatures")
    args = p.parse_args(argv)
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


def choose_model(args):
    """``(source, note)``: what to load, and why when it is the shipped model."""
    if args.checkpoint is not None:
        return args.checkpoint, ""
    if args.run_dir is not None:
        if not checkpoint.list_checkpoints(args.run_dir):
            raise cli.UsageError(
                f"no trained model in {args.run_dir}; train one first with: "
                f"{train_command(args.run_dir)}   (add --quick for a small model in about a "
                "minute)")
        return args.run_dir, ""
    if checkpoint.list_checkpoints(DEFAULT_RUN):
        return DEFAULT_RUN, ""
    return SHIPPED, (f"no trained run in {DEFAULT_RUN}, so the shipped model; train your own "
                     f"with: {train_command(DEFAULT_RUN)}")


def prime_text(args, vocab: str) -> str | None:
    """The prime, from --prime or --prime_file, checked against the vocabulary."""
    text = args.prime
    if args.prime_file is not None:
        text = corpus.read_utf8(args.prime_file, "prime file")
    if text is None:
        return None
    known, dropped = corpus.drop_unknown(text, vocab)
    if dropped and not args.ignore_unknown:
        raise cli.UsageError(f"characters not in the model's vocabulary: {dropped!r} "
                             "(--ignore_unknown drops them)")
    cli.check(known != "", f"no character of the prime is in the model's vocabulary "
                           f"({dropped!r})")
    if dropped:
        print(f"warning: dropped from the prime, not in the model's vocabulary: {dropped!r}",
              file=sys.stderr)
    return known


def texts(params, vocab, prime, num_samples, length, temperature, top_k, top_p, seed):
    """``num_samples`` texts: the prime (or a random first character) and what follows."""
    key, first_key = jax.random.split(jax.random.PRNGKey(seed))
    if prime is None:
        start = np.asarray(jax.random.randint(first_key, (num_samples, 1), 0, len(vocab)))
    else:
        start = np.tile(corpus.encode(prime, vocab)[None], (num_samples, 1))
    out = write(params, key, start, length, temperature, top_k, top_p)
    return [corpus.decode(np.concatenate([s, o]), vocab) for s, o in zip(start, out)]


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
    source, note = choose_model(args)
    params, vocab, meta, path = load_model(source)
    cli.check(args.top_k <= len(vocab),
              f"--top_k must be <= the vocabulary size {len(vocab)}, got {args.top_k}")
    prime = prime_text(args, vocab)
    what = "the shipped model " if str(source) == SHIPPED else ""
    print(f"# {what}{path} (step {meta.get('step')}, {meta.get('corpus') or 'corpus'}, "
          f"{len(vocab)} characters)" + (f": {note}" if note else ""), file=sys.stderr)
    write_with = dict(num_samples=args.num_samples, length=args.length, top_k=args.top_k,
                      top_p=args.top_p, seed=args.seed)
    if args.compare_temperatures:
        runs = {t: texts(params, vocab, prime, temperature=t, **write_with) for t in COMPARE}
        for i in range(args.num_samples):
            print(side_by_side({f"temperature {t}": runs[t][i] for t in COMPARE}, args.width))
            print()
        return
    for i, text in enumerate(texts(params, vocab, prime, temperature=args.temperature,
                                   **write_with)):
        if args.num_samples > 1:
            print(f"--- sample {i + 1} ---")
        print(text)


if __name__ == "__main__":
    cli.run_main(main)
