"""Training a character model on a book, and loading it back (the glue behind the CLIs).

``Config`` holds every setting in one place (defaults: the original study's, plus dropout
and averaged weights, which the original lacks).  ``train_run``
trains with the library's one loop (``rnn_gnn.train.train``) and writes into a run directory:

    ckpt-<step>.msgpack   TrainState (params, optimizer state, step, RNG) + meta: vocabulary,
                          config, corpus (every ``checkpoint_every`` steps and at the end;
                          the newest three are kept)
    best.msgpack          a model file (below) of the step with the lowest validation loss
                          (state carried) so far, never pruned
    model.msgpack         a model file of the last step: what generation and fine-tuning need
    history.csv           per ``log_every`` steps: train loss/accuracy, learning rate, wall
                          time; every ``eval_every`` steps validation loss in nats and bits
                          per character, two ways (``validation_sets``)
    samples.txt           greedy ``sample_length``-character samples from random first
                          characters every ``sample_every`` steps (question 2.1b)
    curve.png, summary.json

``--resume`` restores the newest checkpoint; since the RNG key is part of the state and the
data are drawn inside the compiled step, the resumed run computes exactly what the
uninterrupted one would.

A *model file* is a checkpoint holding only ``{"params": the averaged parameters}`` and, as
meta, the vocabulary, the config and the step (``save_model``; no optimizer state: a quarter
of the size).  The package ships one, trained on Grimms' Fairy Tales (``SHIPPED``, loaded as
``load_model("shipped")``).  ``train_run(init_from=load_model(...))`` fine-tunes such a model
on another text: characters the two vocabularies share keep their weights, new ones start
fresh (``model.transfer_vocab``).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import math
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnn_gnn import checkpoint
from rnn_gnn.cells import INITS
from rnn_gnn.errors import UsageError
from rnn_gnn.files import atomic_write_bytes, save_figure, write_csv, write_json
from rnn_gnn.text import corpus
from rnn_gnn.text.model import evaluate, init_params, make_loss, transfer_vocab
from rnn_gnn.text.sample import random_starts, sample
from rnn_gnn.optimizers import OPTIMIZERS, averaged, make_optimizer
from rnn_gnn.train import TrainState, init_state, train

RESULTS = Path("results") / "text"
MODEL_FORMAT = "rnn_gnn.text model"   # meta["format"] of a model file (params only)
MODELS = Path(__file__).resolve().parent / "models"
SHIPPED = "shipped"                    # the name that loads the shipped model
SHIPPED_FILE = MODELS / "grimm_2x128.msgpack"
SHIPPED_INFO = MODELS / "grimm_2x128.json"  # its sha256 and the command that reproduces it


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of a run.  The defaults are the original study's (SPEC Part 2) except two
    regularisers that meet the held-out target on Grimm (docs/part2.md): ``dropout=0.0,
    average_decay=0.0`` is the original exactly."""
    seq_length: int = 30
    num_hidden: int = 128
    num_layers: int = 2
    embed_dim: int = 0              # 0: one-hot input (the original); > 0: a learned embedding
    batch_size: int = 64
    learning_rate: float = 2e-3
    learning_rate_decay: float = 0.96  # multiply the learning rate by this ...
    decay_steps: int = 5000            # ... every this many steps (staircase)
    dropout: float = 0.25           # drop probability of each layer's output (the original: 0)
    max_norm: float = 5.0           # clip the global gradient norm
    optimizer: str = "adam"
    average_decay: float = 0.999    # evaluate, sample and ship a moving average of the weights
    train_steps: int = 20000
    init: str = "pytorch"
    seed: int = 0
    val_fraction: float = 0.05      # the held-out end of the text
    sample_every: int = 100
    eval_every: int = 500
    checkpoint_every: int = 1000
    sample_length: int = 30
    num_greedy: int = 5             # greedy samples per sampling point


# A small model that learns visible words in about a minute on two CPU cores.
QUICK = dict(num_hidden=96, num_layers=1, train_steps=1500, batch_size=32, learning_rate=1e-2,
             dropout=0.0, sample_every=100, eval_every=250, checkpoint_every=500)

# Settings that only change how long or how often we look: a resumed run may change them.
FREE_ON_RESUME = {"train_steps", "sample_every", "eval_every", "checkpoint_every",
                  "sample_length", "num_greedy"}
# The shape of the model: fine-tuning takes these from the model it starts from.
ARCHITECTURE = ("num_hidden", "num_layers", "embed_dim")


COLUMNS = ("step", "loss", "accuracy", "val_loss", "val_bpc", "val_accuracy",
           "val_loss_carried", "val_bpc_carried", "val_accuracy_carried", "learning_rate", "time_s")
CARRIED_PIECES = 16


def validation_sets(val_ids: np.ndarray, seq_length: int) -> dict:
    """Two views of the held-out text, as ``{column suffix: (x, y)}``:

    ""          windows of ``seq_length`` read from a zero state, exactly the training loss;
    "_carried"  the text cut into ``CARRIED_PIECES`` long pieces, each read through with the
                state carried (as the model reads when it writes, and as char-rnn evaluates):
                no restart penalty every ``seq_length`` characters.
    """
    if not len(val_ids):
        return {}
    sets = {"": corpus.tiled_windows(val_ids, seq_length)}
    piece = (len(val_ids) - 1) // CARRIED_PIECES
    sets["_carried"] = corpus.tiled_windows(val_ids, max(piece, seq_length))
    return {k: (jnp.asarray(x), jnp.asarray(y)) for k, (x, y) in sets.items()}


def validate(cfg: Config) -> None:
    """Raise ``UsageError`` for settings that cannot train."""
    for name in ("seq_length", "num_hidden", "num_layers", "batch_size", "train_steps",
                 "decay_steps", "sample_every", "eval_every", "checkpoint_every",
                 "sample_length"):
        if getattr(cfg, name) <= 0:
            raise UsageError(f"{name} must be > 0, got {getattr(cfg, name)}")
    if cfg.embed_dim < 0 or cfg.num_greedy < 0:
        raise UsageError("embed_dim and num_greedy must be >= 0")
    if not 0 <= cfg.dropout < 1:
        raise UsageError(f"dropout (the drop probability) must be in [0, 1), got {cfg.dropout}")
    if not 0 <= cfg.average_decay < 1:
        raise UsageError(f"average_decay must be in [0, 1), got {cfg.average_decay}")
    if not 0 <= cfg.val_fraction < 1:
        raise UsageError(f"val_fraction must be in [0, 1), got {cfg.val_fraction}")
    if not (cfg.learning_rate > 0 and 0 < cfg.learning_rate_decay <= 1):
        raise UsageError("learning_rate must be > 0 and learning_rate_decay in (0, 1]")
    if cfg.optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {cfg.optimizer!r}; "
                         f"choose from {', '.join(OPTIMIZERS)}")
    if cfg.init not in INITS:
        raise UsageError(f"unknown init {cfg.init!r}; choose from {', '.join(INITS)}")


def schedule(cfg: Config):
    """lr * decay ** floor(step / decay_steps): the original StepLR(5000, 0.96)."""
    return optax.exponential_decay(cfg.learning_rate, cfg.decay_steps, cfg.learning_rate_decay,
                                   staircase=True)


def initial_state(cfg: Config, vocab_size: int):
    """``(state, optimizer)`` at step 0; also the structure every checkpoint is read into."""
    optimizer = make_optimizer(cfg.optimizer, schedule(cfg), cfg.max_norm,
                               average_decay=cfg.average_decay)
    init_key, train_key = jax.random.split(jax.random.PRNGKey(cfg.seed))
    params = init_params(init_key, vocab_size, cfg.num_hidden, cfg.num_layers, cfg.embed_dim,
                         cfg.init)
    return init_state(params, optimizer, train_key), optimizer


def config_from(d: dict) -> Config:
    """The ``Config`` of a checkpoint's meta.  Checkpoints written before ``dropout`` replaced
    ``keep_prob`` store the keep probability; settings added since take their defaults."""
    d = dict(d)
    if "keep_prob" in d and "dropout" not in d:
        d["dropout"] = round(1.0 - d.pop("keep_prob"), 12)  # 1 - 0.8 is 0.19999999999999996
    names = {f.name for f in dataclasses.fields(Config)}
    return Config(**{k: v for k, v in d.items() if k in names})


def default_run_dir(name: str, quick: bool = False, init_from=None) -> Path:
    """``results/text/<name>``; ``_quick`` for a ``--quick`` run and ``_from_<source>`` for a
    fine-tuned one, so that neither blocks the full run on the same text."""
    suffix = "_quick" if quick else ""
    if init_from is not None:
        source = Path(init_from)
        named = source.is_dir() or str(source) == SHIPPED     # else a file in a run directory
        suffix += f"_from_{source.name if named else source.parent.name}"
    return RESULTS / f"{name}{suffix}"


def add_flag(parser, name: str, **kwargs):
    """``--name`` (underscores, the one spelling ``--help`` shows) and, hidden, the hyphenated
    spelling that older command lines used, so they keep working."""
    action = parser.add_argument(f"--{name}", **kwargs)
    if "_" in name:
        same = {k: v for k, v in kwargs.items() if k in ("type", "action", "choices", "const")}
        parser.add_argument(f"--{name.replace('_', '-')}", dest=action.dest,
                            default=argparse.SUPPRESS, help=argparse.SUPPRESS, **same)
    return action


def log_every(cfg: Config) -> int:
    return math.gcd(cfg.sample_every, cfg.eval_every, cfg.checkpoint_every)


# ----------------------------------------------------------------------------- loading

class Model(NamedTuple):
    params: dict    # the averaged parameters, as validated
    vocab: str
    meta: dict      # vocab, config, corpus, step, ...
    path: Path      # the file they came from


def save_model(path, params: dict, meta: dict) -> Path:
    """A model file: ``params`` and ``meta`` (with the vocabulary and config), no optimizer."""
    return checkpoint.save(path, {"params": params}, {"format": MODEL_FORMAT, **meta})


def shipped_info() -> dict:
    """What ``SHIPPED_INFO`` records of the shipped model: its sha256, the command and the
    code that trained it, and what it scored."""
    try:
        return json.loads(SHIPPED_INFO.read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"the shipped model's record {SHIPPED_INFO} is missing or unreadable "
                         f"({e}); reinstall rnn_gnn") from None


def shipped_path() -> Path:
    """``SHIPPED_FILE`` after checking it against the sha256 in ``SHIPPED_INFO``."""
    want = shipped_info().get("sha256")
    try:
        got = hashlib.sha256(SHIPPED_FILE.read_bytes()).hexdigest()
    except OSError as e:
        raise UsageError(f"the shipped model {SHIPPED_FILE} cannot be read ({e.strerror or e}); "
                         "reinstall rnn_gnn") from None
    if got != want:
        raise UsageError(f"the shipped model {SHIPPED_FILE} has sha256 {got[:12]}..., not the "
                         f"recorded {str(want)[:12]}...; reinstall rnn_gnn")
    return SHIPPED_FILE


def load_model(path) -> Model:
    """The model in a model file, a checkpoint file, the newest intact checkpoint of a run
    directory, or (``"shipped"``) the shipped one.  Raises ``UsageError`` (one line) for a
    missing, damaged or foreign file."""
    path = shipped_path() if str(path) == SHIPPED else Path(path)
    try:
        if path.is_dir():
            found = checkpoint.load_latest(path)
            if found is None:
                raise UsageError(f"no intact checkpoint in {path}")
            _, meta, path = found
        else:
            _, meta = checkpoint.load(path)
        if not isinstance(meta.get("vocab"), str) or not isinstance(meta.get("config"), dict):
            raise UsageError(f"{path} is not a character-model checkpoint (no vocabulary)")
        try:
            cfg = config_from(meta["config"])
            target, _ = initial_state(cfg, len(meta["vocab"]))
        except (TypeError, ValueError) as e:  # settings of the wrong type or range
            raise UsageError(f"{path} has a config this code cannot build ({e})") from None
        if meta.get("format") == MODEL_FORMAT:
            tree, meta = checkpoint.load(path, target={"params": jax.device_get(target.params)})
            params = tree["params"]
        else:
            state, meta = checkpoint.load(path, target=jax.device_get(target))
            params = averaged(state)
    except checkpoint.CheckpointError as e:
        raise UsageError(str(e)) from None
    return Model(jax.tree_util.tree_map(jnp.asarray, params), meta["vocab"], meta, path)


def fine_tune_config(cfg: Config, source: Model, given=()) -> Config:
    """``cfg`` with the source model's architecture; a setting in ``given`` (set by the
    user) that contradicts it raises ``UsageError``."""
    old = config_from(source.meta["config"])
    clash = [f"--{k} {getattr(cfg, k)}" for k in ARCHITECTURE
             if k in given and getattr(cfg, k) != getattr(old, k)]
    if clash:
        shape = ", ".join(f"{k}={getattr(old, k)}" for k in ARCHITECTURE)
        raise UsageError(f"--init_from {source.path}: its model has {shape}; "
                         f"{', '.join(clash)} does not fit (leave it out)")
    return dataclasses.replace(cfg, **{k: getattr(old, k) for k in ARCHITECTURE})


def vocab_change(old: str, new: str) -> str:
    """One line on what fine-tuning from ``old`` to ``new`` keeps, adds and drops."""
    added, dropped = sorted(set(new) - set(old)), sorted(set(old) - set(new))
    line = f"{len(set(new) & set(old))} of the text's {len(new)} characters keep their weights"
    if added:
        line += f"; new, from a fresh initialisation: {''.join(added)!r}"
    if dropped:
        line += f"; dropped (not in this text): {''.join(dropped)!r}"
    return line


# ----------------------------------------------------------------------------- training

def train_run(cfg: Config, text: str, run_dir, *, corpus_name: str = "", resume: bool = False,
              init_from: Model | None = None, progress=True, log=print, mesh=None):
    """Train on ``text`` (already cleaned) into ``run_dir``; returns ``(state, summary)``.

    Refuses (``UsageError``) to start over a run directory that holds checkpoints unless
    ``resume``; a resumed run must have the same vocabulary and settings (except those in
    ``FREE_ON_RESUME``).  ``init_from`` (a ``load_model`` result with ``cfg``'s
    architecture, see ``fine_tune_config``) starts from that model's parameters instead of
    a fresh initialisation, with a fresh optimizer and step 0.
    """
    validate(cfg)
    run_dir = Path(run_dir)
    existing = checkpoint.list_checkpoints(run_dir)
    if existing and not resume:
        raise UsageError(f"{run_dir} already holds a run ({existing[-1].name}); add --resume to "
                         "continue it or pass another --run_dir")
    vocab = corpus.make_vocab(text)
    ids = corpus.encode(text, vocab)
    train_ids, val_ids = corpus.split(ids, cfg.seq_length, cfg.val_fraction)
    state, optimizer = initial_state(cfg, len(vocab))
    meta = {"vocab": vocab, "config": dataclasses.asdict(cfg), "corpus": corpus_name,
            "corpus_chars": len(text)}
    if init_from is not None:
        if fine_tune_config(cfg, init_from) != cfg:
            raise UsageError(f"--init_from {init_from.path}: its architecture differs from "
                             "the config's (use fine_tune_config)")
        meta["init_from"] = {"path": str(init_from.path), "step": init_from.meta.get("step"),
                             "corpus": init_from.meta.get("corpus", ""),
                             "sha256": corpus.sha256(init_from.path)}
        params = transfer_vocab(init_from.params, init_from.vocab, vocab, state.params)
        state = init_state(params, optimizer, state.key)
    if resume:
        state = _resume(state, run_dir, cfg, vocab, log)
    start = int(state.step)
    log(f"{corpus_name or 'corpus'}: {len(text):,} characters, {len(vocab)} distinct; "
        f"run directory {run_dir}")  # only now: a refused start prints nothing but its error
    if init_from is not None and start == 0:
        log(f"fine-tuning {init_from.path} (step {init_from.meta.get('step')}, "
            f"{init_from.meta.get('corpus') or 'corpus'}): "
            f"{vocab_change(init_from.vocab, vocab)}")

    held_out = validation_sets(val_ids, cfg.seq_length)
    data = jnp.asarray(train_ids)
    rows = [{c: r.get(c, "") for c in COLUMNS} for r in _read_csv(run_dir / "history.csv")
            if int(r["step"]) <= start]
    samples = [s for s in _read_lines(run_dir / "samples.txt") if int(s.split()[0]) <= start]
    best = [min([float(r[BEST_BY]) for r in rows if r[BEST_BY] != ""], default=math.inf)]
    lr = schedule(cfg)
    # Samples use their own key, so looking at the model never changes how it trains.
    sample_key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 21)
    t0 = time.perf_counter() - (float(rows[-1]["time_s"]) if rows else 0.0)
    write_json(run_dir / "config.json", meta)

    def monitor(state: TrainState, history):
        step = int(state.step)
        row = dict.fromkeys(COLUMNS, "")
        row.update(step=step, loss=float(np.mean(history["loss"][-1])),
                   accuracy=float(np.mean(history["accuracy"][-1])),
                   learning_rate=float(lr(step - 1)), time_s=round(time.perf_counter() - t0, 2))
        if held_out and (step % cfg.eval_every == 0 or step == cfg.train_steps):
            for suffix, (x, y) in held_out.items():
                loss, acc = jax.device_get(evaluate(averaged(state), x, y))
                row.update({f"val_loss{suffix}": float(loss),
                            f"val_bpc{suffix}": float(loss) / math.log(2),
                            f"val_accuracy{suffix}": float(acc)})
            log(f"step {step}: train loss {row['loss']:.3f}; validation {row['val_loss']:.3f} "
                f"nats/char ({row['val_bpc']:.3f} bits/char, accuracy {row['val_accuracy']:.3f}), "
                f"reading on: {row['val_loss_carried']:.3f} nats/char")
            if row[BEST_BY] < best[0]:
                best[0] = row[BEST_BY]
                save_model(run_dir / "best.msgpack", averaged(state), model_meta(meta, row))
        rows.append(row)
        write_csv(run_dir / "history.csv", rows)
        if cfg.num_greedy and step % cfg.sample_every == 0:
            key = jax.random.fold_in(sample_key, step)
            first = random_starts(key, data, cfg.num_greedy)
            out = sample(averaged(state), key, first, cfg.sample_length - 1, 0.0)
            texts = [corpus.decode(np.concatenate([f, o]), vocab)
                     for f, o in zip(np.asarray(first), np.asarray(out))]
            samples.extend(f"{step} " + json.dumps(t, ensure_ascii=False) for t in texts)
            _write_lines(run_dir / "samples.txt", samples)
        if step % cfg.checkpoint_every == 0 or step == cfg.train_steps:
            plot_history(rows, run_dir / "curve.png", corpus_name, cfg.seq_length)

    if start < cfg.train_steps:
        callback = checkpoint.checkpointer(run_dir, cfg.checkpoint_every, meta, then=monitor)
        state, _ = train(make_loss(cfg.batch_size, cfg.seq_length, cfg.dropout), optimizer,
                         state, cfg.train_steps, task=data, log_every=log_every(cfg),
                         callback=callback, progress=progress, mesh=mesh)
        if cfg.train_steps % cfg.checkpoint_every:
            checkpoint.save_step(run_dir, cfg.train_steps, state, meta)
    else:
        log(f"{run_dir} is already trained to step {start} (train_steps {cfg.train_steps})")

    if rows:
        save_model(run_dir / "model.msgpack", averaged(state), model_meta(meta, rows[-1]))
    summary = summarize(rows, cfg)
    write_json(run_dir / "summary.json", summary)
    return state, summary


# The validation measure that picks best.msgpack: the held-out text read through with the
# state carried, as the model reads when it writes (the target of docs/part2.md).
BEST_BY = "val_loss_carried"


def model_meta(meta: dict, row: dict) -> dict:
    """A model file's meta: the run's, the step, and what the step scored where measured."""
    scores = {k: row[k] for k in ("loss", "val_loss", "val_loss_carried") if row.get(k) != ""}
    return {**meta, "step": int(row["step"]), **{k: float(v) for k, v in scores.items()}}


def _resume(state, run_dir, cfg, vocab, log):
    try:
        found = checkpoint.load_latest(run_dir)
        if found is None:
            if checkpoint.list_checkpoints(run_dir):
                raise UsageError(f"cannot resume: no intact checkpoint in {run_dir}")
            log(f"no checkpoint in {run_dir} to resume; starting at step 0")
            return state
        meta = found[1]
        if meta.get("vocab") != vocab:
            raise UsageError(f"cannot resume: the checkpoint's vocabulary "
                             f"({len(meta.get('vocab', ''))} characters) differs from this "
                             f"corpus's ({len(vocab)}): another text?")
        old = dataclasses.asdict(config_from(meta.get("config", {})))
        diff = [f"{k}={old.get(k)!r} (now {v!r})" for k, v in dataclasses.asdict(cfg).items()
                if k not in FREE_ON_RESUME and old.get(k) != v]
        if diff:
            raise UsageError("cannot resume: the checkpoint was trained with " + ", ".join(diff))
        restored, _ = checkpoint.restore_or(state, run_dir)
    except checkpoint.CheckpointError as e:
        raise UsageError(f"cannot resume: {e}") from None
    log(f"resuming {run_dir} at step {int(restored.step)}")
    return restored


def summarize(rows: list[dict], cfg: Config) -> dict:
    val = [(int(r["step"]), float(r["val_loss"])) for r in rows if r["val_loss"] != ""]
    last = rows[-1] if rows else {}
    out = {"steps": int(last.get("step", 0)), "train_loss": _float(last.get("loss")),
           "train_accuracy": _float(last.get("accuracy")), "time_s": _float(last.get("time_s")),
           "config": dataclasses.asdict(cfg)}
    if val:
        best = min(val, key=lambda sv: sv[1])
        out.update(val_loss=val[-1][1], val_bpc=val[-1][1] / math.log(2), best_val_loss=best[1],
                   best_val_step=best[0])
        carried = [(int(r["step"]), float(r[BEST_BY])) for r in rows if r[BEST_BY] != ""]
        if carried:
            step, loss = min(carried, key=lambda sv: sv[1])
            out.update(val_loss_carried=carried[-1][1],
                       val_bpc_carried=carried[-1][1] / math.log(2),
                       best_model={"file": "best.msgpack", "step": step, BEST_BY: loss})
    return out


def plot_history(rows: list[dict], path, title: str = "", seq_length: int = 30) -> None:
    """Training and validation loss (nats/char) and training accuracy against step."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if not rows:
        return
    step = np.array([int(r["step"]) for r in rows])
    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    ax_loss.plot(step, [float(r["loss"]) for r in rows], lw=1, label="training (mean per log)")
    val = [(int(r["step"]), float(r["val_loss"])) for r in rows if r["val_loss"] != ""]
    if val:
        ax_loss.plot(*zip(*val), "o-", ms=3,
                     label=f"validation, {seq_length}-char windows as in training")
    carried = [(int(r["step"]), float(r["val_loss_carried"])) for r in rows
               if r.get("val_loss_carried", "") != ""]
    if carried:
        ax_loss.plot(*zip(*carried), "s-", ms=3, label="validation, state carried through the text")
    ax_loss.set_ylabel("cross-entropy (nats/char)")
    ax_loss.set_ylim(top=min(4.5, ax_loss.get_ylim()[1]))
    ax_loss.grid(alpha=0.3)
    ax_loss.legend()
    ax_acc.plot(step, [float(r["accuracy"]) for r in rows], lw=1, color="C2")
    ax_acc.set_ylabel("training accuracy")
    ax_acc.set_xlabel("training step")
    ax_acc.grid(alpha=0.3)
    if title:
        ax_loss.set_title(f"Character LSTM on {title}")
    save_figure(fig, path)
    plt.close(fig)


def _float(x):
    return None if x in (None, "") else float(x)


def _read_csv(path) -> list[dict]:
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        return []


def _read_lines(path) -> list[str]:
    try:
        return [l for l in Path(path).read_text(encoding="utf-8").splitlines() if l.strip()]
    except FileNotFoundError:
        return []


def _write_lines(path, lines) -> None:
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
