"""Question 2.1: train a character-level LSTM on a book (defaults: the original's + dropout).

The original study's settings plus dropout 0.25 on each layer's output and averaged weights
for evaluation; --keep_prob 1 --average_decay 0 is the original exactly.

    python experiments/train_text.py                      # Grimms' Fairy Tales, 2x128, 20,000 steps
    python experiments/train_text.py --quick              # a small model in about a minute
    python experiments/train_text.py --resume             # continue the run in --run_dir
    python experiments/train_text.py --book democracy --data_dir ../shared/corpora
    python experiments/train_text.py --corpus my.txt      # any UTF-8 text

Named books are read from --data_dir (else $RNN_GNN_DATA, else ~/.cache/rnn_gnn) and
downloaded from Project Gutenberg the first time.  Writes to --run_dir (default
results/text/<book or corpus file name>): checkpoints, history.csv (training and validation
loss), samples.txt (greedy samples during training, question 2.1b), curve.png, summary.json.
Then: python experiments/generate.py --temperature 0.5
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from rnn_gnn import cli, distributed
from rnn_gnn.text import corpus
from rnn_gnn.text.run import QUICK, RESULTS, Config, train_run, validate

HELP = {
    "seq_length": "characters per training window",
    "embed_dim": "0: one-hot input; > 0: a learned embedding of this size",
    "learning_rate_decay": "multiply the learning rate by this every --decay_steps steps",
    "keep_prob": "dropout on each LSTM layer's output keeps this fraction (1: no dropout)",
    "average_decay": "validate, sample and save for generation an exponential moving average "
                     "of the weights with this decay (0: the raw weights)",
    "max_norm": "clip the gradient's global norm (<= 0: off)",
    "val_fraction": "the end of the text held out for validation",
    "eval_every": "validation loss every N steps",
    "sample_every": "greedy samples every N steps (question 2.1b)",
    "num_greedy": "greedy samples per sampling point",
}


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__.split("\n")[0],
                           formatter_class=cli.argparse.ArgumentDefaultsHelpFormatter)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--book", choices=list(corpus.BOOKS), help="a named book (default grimms)")
    source.add_argument("--corpus", "--txt_file", type=Path, help="any UTF-8 text file")
    p.add_argument("--data_dir", "--data-dir", help=f"where named books live (default "
                   f"${corpus.DATA_ENV}, else ~/.cache/rnn_gnn)")
    p.add_argument("--run_dir", "--run-dir", type=Path,
                   help=f"default {RESULTS}/<book or corpus name>")
    p.add_argument("--resume", action="store_true", help="continue the run in --run_dir")
    p.add_argument("--quick", action="store_true", help="a small model, about a minute: "
                   + ", ".join(f"{k}={v}" for k, v in QUICK.items()))
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    distributed.add_devices_flag(p)
    # Every Config field is a flag; what the user leaves out comes from --quick or Config.
    for f in dataclasses.fields(Config):
        flags = [f"--{f.name}"] + ([f"--{f.name.replace('_', '-')}"] if "_" in f.name else [])
        p.add_argument(*flags, type=type(f.default), default=None,
                       help=f"{HELP.get(f.name, '')} (default {f.default})".strip())
    args = p.parse_args(argv)
    preset = QUICK if args.quick else {}
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config)
                 if getattr(args, f.name) is not None}
    args.config = Config(**{**preset, **overrides})
    validate(args.config)  # before a book is downloaded
    args.mesh = distributed.mesh_from_flag(args.devices)
    return args


def main(argv=None):
    args = parse_args(argv)
    from tqdm.auto import tqdm
    if args.corpus is not None:
        path, name = args.corpus, args.corpus.stem
    else:
        name = args.book or "grimms"
        path = corpus.book_path(name, args.data_dir)
    run_dir = args.run_dir or RESULTS / name
    text = corpus.read_text(path)
    cfg = args.config
    t0 = time.perf_counter()
    _, summary = train_run(cfg, text, run_dir, corpus_name=name, resume=args.resume,
                           progress=not args.no_progress, log=tqdm.write, mesh=args.mesh)
    wall = time.perf_counter() - t0
    val = (f", validation {summary['val_loss']:.3f} nats/char ({summary['val_bpc']:.3f} bits)"
           if "val_loss" in summary else "")
    print(f"step {summary['steps']}: train loss {summary['train_loss']:.3f}{val}; "
          f"{wall:.0f} s this session; wrote {run_dir}")
    print(f"write text: python experiments/generate.py --run_dir {run_dir} --temperature 0.5")


if __name__ == "__main__":
    cli.run_main(main)
