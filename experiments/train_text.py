"""Question 2.1: train a character-level LSTM on a book (defaults: the original's + dropout).

The original study's settings plus dropout 0.25 on each layer's output and averaged weights
for evaluation; --dropout 0 --average_decay 0 is the original exactly.

    python experiments/train_text.py                      # Grimms' Fairy Tales, 2x128, 20,000 steps
    python experiments/train_text.py --quick              # a small model in about a minute
    python experiments/train_text.py --resume             # continue the run in --run_dir
    python experiments/train_text.py --book democracy --data_dir ../shared/corpora
    python experiments/train_text.py --corpus my.txt      # any UTF-8 text
    python experiments/train_text.py --book darwin --init_from shipped --train_steps 3000

Named books (--book) are read from --data_dir, else $RNN_GNN_DATA, else the download cache
$XDG_CACHE_HOME/rnn_gnn (~/.cache/rnn_gnn).  A book missing there is fetched once from Project
Gutenberg, https://www.gutenberg.org/cache/epub/<number>/pg<number>.txt, checked to be a whole
book and saved there; a copy that is not the edition of the documented results (sha256) is
used with a warning that the numbers may differ.

Writes to --run_dir (default results/text/<book or corpus file name>, with _quick for
--quick and _from_<source> for --init_from): checkpoints (the newest three), best.msgpack
(the best validation so far), model.msgpack (the last step), history.csv, samples.txt
(greedy samples during training, question 2.1b), curve.png, summary.json.
Then: python experiments/generate.py --run_dir RUN_DIR --temperature 0.5
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from rnn_gnn import cli, distributed
from rnn_gnn.text import corpus
from rnn_gnn.text.run import (QUICK, SHIPPED, Config, add_flag, default_run_dir,
                              fine_tune_config, load_model, train_run, validate)

BOOKS_HELP = "a named book (default grimms): " + ", ".join(
    f"{name} (Project Gutenberg #{b.ebook})" for name, b in corpus.BOOKS.items())

HELP = {
    "seq_length": "characters per training window",
    "embed_dim": "0: one-hot input; > 0: a learned embedding of this size",
    "learning_rate_decay": "multiply the learning rate by this every --decay_steps steps",
    "dropout": "probability of dropping each unit of each LSTM layer's output (0: none)",
    "average_decay": "validate, sample and save for generation an exponential moving average "
                     "of the weights with this decay (0: the raw weights)",
    "max_norm": "clip the gradient's global norm (<= 0: off)",
    "val_fraction": "the end of the text held out for validation",
    "eval_every": "validation loss every N steps (and best.msgpack when it improves)",
    "sample_every": "greedy samples every N steps (question 2.1b)",
    "num_greedy": "greedy samples per sampling point",
}


def replaced_keep_prob(text):
    """``--keep_prob`` was the inverted setting; say what to write instead."""
    try:
        hint = f" (--keep_prob {text} is --dropout {round(1 - float(text), 12)})"
    except ValueError:
        hint = ""
    raise argparse.ArgumentTypeError(
        f"replaced by --dropout, the probability of dropping a unit{hint}")


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--book", choices=list(corpus.BOOKS), help=BOOKS_HELP)
    source.add_argument("--corpus", "--txt_file", type=Path, help="any UTF-8 text file")
    add_flag(p, "data_dir", help=f"where named books are read and downloaded to (default "
                                 f"${corpus.DATA_ENV}, else ~/.cache/rnn_gnn)")
    add_flag(p, "run_dir", type=Path,
             help="default results/text/<book or corpus name>[_quick][_from_<source>]")
    p.add_argument("--resume", action="store_true", help="continue the run in --run_dir")
    p.add_argument("--quick", action="store_true", help="a small model, about a minute: "
                   + ", ".join(f"{k}={v}" for k, v in QUICK.items()))
    p.add_argument("--init_from", metavar="MODEL",
                   help=f"fine-tune: start from the model of a run directory, a checkpoint or "
                        f"model file, or '{SHIPPED}' (the Grimm model in the package); its "
                        "architecture is kept, characters both texts share keep their weights, "
                        "new ones start fresh")
    p.add_argument("--keep_prob", type=replaced_keep_prob, help=argparse.SUPPRESS)
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    cli.add_devices_flag(p)
    # Every Config field is a flag; what the user leaves out comes from --quick or Config.
    for f in dataclasses.fields(Config):
        add_flag(p, f.name, type=type(f.default), default=None,
                 help=f"{HELP.get(f.name, '')} (default {f.default})".strip())
    args = p.parse_args(argv)
    preset = QUICK if args.quick else {}
    args.given = {f.name for f in dataclasses.fields(Config) if getattr(args, f.name) is not None}
    args.config = Config(**{**preset, **{k: getattr(args, k) for k in args.given}})
    validate(args.config)  # before a book is downloaded
    args.mesh = cli.mesh_from_flag(args.devices)
    return args


def main(argv=None):
    args = parse_args(argv)
    from tqdm.auto import tqdm
    cfg, source = args.config, None
    if args.init_from is not None:
        source = load_model(args.init_from)
        cfg = fine_tune_config(cfg, source, args.given)
    if args.corpus is not None:
        path, name = args.corpus, args.corpus.stem
    else:
        name = args.book or "grimms"
        path = corpus.book_path(name, args.data_dir, log=tqdm.write)
    run_dir = args.run_dir or default_run_dir(name, args.quick, args.init_from)
    text = corpus.read_text(path)
    t0 = time.perf_counter()
    _, summary = train_run(cfg, text, run_dir, corpus_name=name, resume=args.resume,
                           init_from=source, progress=not args.no_progress, log=tqdm.write,
                           mesh=args.mesh)
    wall = time.perf_counter() - t0
    val = (f", validation {summary['val_loss']:.3f} nats/char ({summary['val_bpc']:.3f} bits)"
           if "val_loss" in summary else "")
    print(f"step {summary['steps']}: train loss {summary['train_loss']:.3f}{val}; "
          f"{wall:.0f} s this session; wrote {run_dir}")
    print(f"write text: python experiments/generate.py --run_dir {run_dir} --temperature 0.5")


if __name__ == "__main__":
    cli.run_main(main)
