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

Writes nothing: the texts go to stdout (--num_samples > 1: each under a '--- sample i ---'
line), the model used and any warning to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnn_gnn import cli
from rnn_gnn.text import corpus
from rnn_gnn.text.config import SHIPPED
from rnn_gnn.text.generation import DEFAULT_RUN, choose_model, prime_text, side_by_side, texts
from rnn_gnn.text.store import load_model

COMPARE = (0.5, 1.0, 2.0)  # question 2.1c


def number(kind, low, high=None, low_open=False):
    """argparse ``type=``: a ``kind`` in [low, high] (``low_open``: (low, high])."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
        if value < low or (low_open and value == low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                f"must be in {'(' if low_open else '['}{low}, {high}], got {text}"
                if high is not None else f"must be >= {low}, got {text}")
        return value
    return parse


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--run_dir", type=Path,
                       help=f"a training run directory: its newest intact checkpoint is used "
                            f"(default {DEFAULT_RUN}, or the shipped model when that run does "
                            "not exist)")
    where.add_argument("--checkpoint", type=Path,
                       help=f"a checkpoint or model file, a run directory, or '{SHIPPED}'")
    p.add_argument("--temperature", type=number(float, 0), default=1.0,
                   help="sample from softmax(logits / T); 0 = greedy")
    p.add_argument("--length", type=cli.positive(int), default=300,
                   help="characters to write after the prime")
    primes = p.add_mutually_exclusive_group()
    primes.add_argument("--prime", help="text to continue (without one: a random first character)")
    primes.add_argument("--prime_file", type=Path, help="continue the text of this UTF-8 file")
    p.add_argument("--ignore_unknown", action="store_true",
                   help="drop the prime's characters that are not in the model's vocabulary "
                        "(with a warning) instead of stopping")
    p.add_argument("--num_samples", type=cli.positive(int), default=1,
                   help="texts written side by side, in parallel")
    p.add_argument("--top_k", type=number(int, 0), default=0,
                   help="sample among the k most likely characters only (0: all)")
    p.add_argument("--top_p", type=number(float, 0, 1, low_open=True), default=1.0,
                   help="sample in the nucleus only: the fewest likeliest characters whose "
                        "probability adds up to p (1: all)")
    p.add_argument("--seed", type=int, default=0, help="random numbers of the sampling")
    p.add_argument("--compare_temperatures", action="store_true",
                   help=f"question 2.1c: the same prime at temperatures {COMPARE} side by side")
    p.add_argument("--width", type=cli.positive(int), default=38,
                   help="column width of --compare_temperatures")
    args = p.parse_args(argv)
    cli.check(args.prime is None or args.prime != "", "--prime must not be empty")
    return args


def main(argv=None):
    args = parse_args(argv)
    source, note = choose_model(args.checkpoint, args.run_dir)
    params, vocab, meta, path = load_model(source)
    cli.check(args.top_k <= len(vocab),
              f"--top_k must be <= the vocabulary size {len(vocab)}, got {args.top_k}")
    prime = args.prime
    if args.prime_file is not None:
        prime = corpus.read_utf8(args.prime_file, "prime file")
    if prime is not None:
        prime, dropped = prime_text(prime, vocab, args.ignore_unknown)
        if dropped:
            print(f"warning: dropped from the prime, not in the model's vocabulary: {dropped!r}",
                  file=sys.stderr)
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
