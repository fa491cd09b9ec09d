"""Question 2.1: train a character-level LSTM on a book (defaults: the original's + dropout).

The original study's settings plus dropout 0.25 on each layer's output and averaged weights
for evaluation; --dropout 0 --average_decay 0 is the original exactly.

    python experiments/train_text.py                      # Grimms' Fairy Tales, 2x128, 20,000 steps
    python experiments/train_text.py --quick              # a small model in about a minute
    python experiments/train_text.py --resume             # continue the run in --run_dir
    python experiments/train_text.py --resume --train_steps 30000   # ... and train it further
    python experiments/train_text.py --book democracy --data_dir ../shared/corpora
    python experiments/train_text.py --corpus my.txt      # any UTF-8 text
    python experiments/train_text.py --book darwin --init_from shipped --train_steps 3000

Named books (--book) are read from --data_dir, else $RNN_GNN_DATA, else the download cache
$XDG_CACHE_HOME/rnn_gnn (~/.cache/rnn_gnn).  A book missing there is fetched once from Project
Gutenberg, https://www.gutenberg.org/cache/epub/<number>/pg<number>.txt, checked to be a whole
book and saved there; a copy that is not the edition of the documented results (sha256) is
used with a warning that the numbers may differ.

A resumed run must have the model's settings of the run it continues; --train_steps and the
--*_every, --sample_length and --num_greedy settings may change.

Writes to --run_dir (default results/text/<book or corpus file name>, with _quick for
--quick and _from_<source> for --init_from):
    ckpt-<step>.msgpack   checkpoints, the newest three
    best.msgpack          the model of the best validation so far
    model.msgpack         the model of the last step
    history.csv           loss, accuracy, learning rate, validation per logged step
    samples.txt           greedy samples during training (question 2.1b)
    config.json, curve.png, summary.json
Then: python experiments/generate.py --run_dir RUN_DIR --temperature 0.5
"""

from __future__ import annotations

import time
from pathlib import Path

from tqdm.auto import tqdm

from rnn_gnn import cli
from rnn_gnn.text import corpus, runner
from rnn_gnn.text.config import QUICK, SHIPPED, Config, Monitor

PRESETS = {"quick": (QUICK, "a small model, about a minute")}
BOOKS_HELP = "a named book (default grimms): " + ", ".join(
    f"{name} (Project Gutenberg #{b.ebook})" for name, b in corpus.BOOKS.items())


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--book", choices=list(corpus.BOOKS), help=BOOKS_HELP)
    source.add_argument("--corpus", type=Path, help="any UTF-8 text file")
    p.add_argument("--data_dir", help=f"where named books are read and downloaded to (default "
                                      f"${corpus.DATA_ENV}, else ~/.cache/rnn_gnn)")
    p.add_argument("--run_dir", type=cli.out_dir,
                   help="default results/text/<book or corpus name>[_quick][_from_<source>]")
    p.add_argument("--resume", action="store_true", help="continue the run in --run_dir")
    p.add_argument("--init_from", metavar="MODEL",
                   help=f"fine-tune: start from the model of a run directory, a checkpoint or "
                        f"model file, or '{SHIPPED}' (the Grimm model in the package); its "
                        "architecture is kept, characters both texts share keep their weights, "
                        "new ones start fresh")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    cli.add_devices_flag(p)
    # Every Config and Monitor field is a flag; what the user leaves out comes from --quick
    # or the dataclass.
    cli.add_config_flags(p, Config, PRESETS)
    cli.add_config_flags(p, Monitor, PRESETS)
    args = cli.parse_with_presets(p, argv, PRESETS)
    args.config = cli.config_from_args(args, Config)
    args.monitor = cli.config_from_args(args, Monitor)
    args.mesh = cli.mesh_from_flag(args.devices)
    return args


def main(argv=None):
    args = parse_args(argv)
    t0 = time.perf_counter()
    run_dir, summary = runner.train_corpus(
        args.config, args.monitor, book=args.book, corpus_file=args.corpus,
        data_dir=args.data_dir, run_dir=args.run_dir, init_from=args.init_from,
        given=args.given, quick=args.preset == "quick", resume=args.resume,
        progress=not args.no_progress, log=tqdm.write, mesh=args.mesh)
    wall = time.perf_counter() - t0
    val = (f", validation {summary['val_loss']:.3f} nats/char ({summary['val_bpc']:.3f} bits)"
           if "val_loss" in summary else "")
    print(f"step {summary['steps']}: train loss {summary['train_loss']:.3f}{val}; "
          f"{wall:.0f} s this session; wrote {run_dir}")
    print(f"write text: python experiments/generate.py --run_dir {run_dir} --temperature 0.5")


if __name__ == "__main__":
    cli.run_main(main)
