"""The settings of a character-model run, in two parts, and where a run is written.

``Config`` is what the model and its training are: the architecture, the optimizer, the data
split and the seed.  A resumed run must have the same ``Config`` (and the same vocabulary) as
the checkpoint it continues.  ``Monitor`` is how long it trains and how often we look at it
(steps, sample / validation / checkpoint intervals): a resumed run may change any of it, for
example to train further.  Every field is a flag of ``experiments/train_text.py`` (through
``cli.add_config_flags``), with its help here.

The defaults are the original study's (SPEC Part 2) except two regularisers that meet the
held-out target on Grimm (docs/part2.md): ``dropout=0.0, average_decay=0.0`` is the original
exactly.  ``QUICK`` is the ``--quick`` preset: a small model that learns visible words in about
a minute on two CPU cores.  Checkpoints store both parts, flat, as ``meta["config"]``
(``settings``).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from rnn_gnn.cells import INITS
from rnn_gnn.cli import field
from rnn_gnn.errors import ConfigError
from rnn_gnn.optimizers import OPTIMIZERS

RESULTS = Path("results") / "text"
SHIPPED = "shipped"                    # the name that loads the model shipped in the package


@dataclasses.dataclass(frozen=True)
class Config:
    """What must match on resume: the model, its optimisation, the data split, the seed."""
    seq_length: int = field(30, "characters per training window")
    num_hidden: int = field(128, "LSTM units per layer")
    num_layers: int = field(2, "stacked LSTM layers")
    embed_dim: int = field(0, "0: one-hot input (the original); > 0: a learned embedding of "
                              "this size")
    batch_size: int = field(64, "windows per training step")
    learning_rate: float = field(2e-3, "initial learning rate")
    learning_rate_decay: float = field(0.96, "multiply the learning rate by this every "
                                             "--decay_steps steps (staircase)")
    decay_steps: int = field(5000, "steps between learning-rate decays")
    dropout: float = field(0.25, "probability of dropping each unit of each LSTM layer's output "
                                 "(0: none, the original)")
    max_norm: float = field(5.0, "clip the gradient's global norm (<= 0: off)")
    optimizer: str = field("adam", "the optimizer", choices=tuple(OPTIMIZERS))
    average_decay: float = field(0.999, "validate, sample and save for generation an "
                                        "exponential moving average of the weights with this "
                                        "decay (0: the raw weights)")
    init: str = field("pytorch", "weight initialisation", choices=INITS)
    seed: int = field(0, "random numbers of initialisation, batches and dropout")
    val_fraction: float = field(0.05, "the end of the text held out for validation")


@dataclasses.dataclass(frozen=True)
class Monitor:
    """How long to train and how often to look: free to change on resume."""
    train_steps: int = field(20000, "train until this step")
    sample_every: int = field(100, "greedy samples every N steps (question 2.1b)")
    eval_every: int = field(500, "validation loss every N steps (and best.msgpack when it "
                                 "improves)")
    checkpoint_every: int = field(1000, "a checkpoint and the learning curve every N steps")
    sample_length: int = field(30, "characters per greedy sample")
    num_greedy: int = field(5, "greedy samples per sampling point (0: none)")


QUICK = dict(num_hidden=96, num_layers=1, train_steps=1500, batch_size=32, learning_rate=1e-2,
             dropout=0.0, sample_every=100, eval_every=250, checkpoint_every=500)

# The shape of the model: fine-tuning takes these from the model it starts from.
ARCHITECTURE = ("num_hidden", "num_layers", "embed_dim")


def validate(cfg: Config, monitor: Monitor | None = None) -> None:
    """Raise ``ConfigError`` for settings that cannot train."""
    positive = [(name, getattr(cfg, name)) for name in
                ("seq_length", "num_hidden", "num_layers", "batch_size", "decay_steps")]
    if monitor is not None:
        positive += [(name, getattr(monitor, name)) for name in
                     ("train_steps", "sample_every", "eval_every", "checkpoint_every",
                      "sample_length")]
        if monitor.num_greedy < 0:
            raise ConfigError(f"num_greedy must be >= 0, got {monitor.num_greedy}")
    for name, value in positive:
        if value <= 0:
            raise ConfigError(f"{name} must be > 0, got {value}")
    if cfg.embed_dim < 0:
        raise ConfigError(f"embed_dim must be >= 0, got {cfg.embed_dim}")
    if not 0 <= cfg.dropout < 1:
        raise ConfigError(f"dropout (the drop probability) must be in [0, 1), got {cfg.dropout}")
    if not 0 <= cfg.average_decay < 1:
        raise ConfigError(f"average_decay must be in [0, 1), got {cfg.average_decay}")
    if not 0 <= cfg.val_fraction < 1:
        raise ConfigError(f"val_fraction must be in [0, 1), got {cfg.val_fraction}")
    if not (cfg.learning_rate > 0 and 0 < cfg.learning_rate_decay <= 1):
        raise ConfigError("learning_rate must be > 0 and learning_rate_decay in (0, 1]")
    if cfg.optimizer not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {cfg.optimizer!r}; "
                          f"choose from {', '.join(OPTIMIZERS)}")
    if cfg.init not in INITS:
        raise ConfigError(f"unknown init {cfg.init!r}; choose from {', '.join(INITS)}")


def settings(cfg: Config, monitor: Monitor) -> dict:
    """Both parts as one flat dict: what checkpoints (``meta["config"]``) and summaries store."""
    return {**dataclasses.asdict(cfg), **dataclasses.asdict(monitor)}


def _known(cls, d: dict):
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


def config_from(d: dict) -> Config:
    """The ``Config`` of a checkpoint's ``meta["config"]``.  Checkpoints written before
    ``dropout`` replaced ``keep_prob`` store the keep probability; settings added since take
    their defaults."""
    d = dict(d)
    if "keep_prob" in d and "dropout" not in d:
        d["dropout"] = round(1.0 - d.pop("keep_prob"), 12)  # 1 - 0.8 is 0.19999999999999996
    return _known(Config, d)


def monitor_from(d: dict) -> Monitor:
    """The ``Monitor`` of a checkpoint's ``meta["config"]``."""
    return _known(Monitor, d)


def log_every(monitor: Monitor) -> int:
    """Steps per compiled chunk: every sample, validation and checkpoint falls on a chunk end."""
    return math.gcd(monitor.sample_every, monitor.eval_every, monitor.checkpoint_every)


def default_run_dir(name: str, quick: bool = False, init_from=None) -> Path:
    """``results/text/<name>``; ``_quick`` for a ``--quick`` run and ``_from_<source>`` for a
    fine-tuned one, so that neither blocks the full run on the same text."""
    suffix = "_quick" if quick else ""
    if init_from is not None:
        source = Path(init_from)
        named = source.is_dir() or str(source) == SHIPPED     # else a file in a run directory
        suffix += f"_from_{source.name if named else source.parent.name}"
    return RESULTS / f"{name}{suffix}"
