"""Training a character model on a text into a run directory, resumed and fine-tuned runs too.

``train_run(cfg, monitor, text, run_dir)`` trains with the library's one loop
(``rnn_gnn.train.train``) on ``make_trainer``'s loss and optimizer and writes:

    ckpt-<step>.msgpack   TrainState (params, optimizer state, step, RNG) + meta: vocabulary,
                          settings, corpus (every ``checkpoint_every`` steps and at the end;
                          the newest three are kept)
    best.msgpack          a model file (``store``) of the step with the lowest validation loss
                          (state carried) so far, never pruned
    model.msgpack         a model file of the last step: what generation and fine-tuning need
    history.csv           the rows of ``records.COLUMNS``
    samples.txt           greedy ``sample_length``-character samples from random first
                          characters every ``sample_every`` steps (question 2.1b)
    config.json, curve.png (``figures``), summary.json

``resume=True`` continues the newest checkpoint; its vocabulary and ``Config`` must be this
run's (``Monitor`` may change).  Since the RNG key is part of the state and the data are drawn
inside the compiled step, the resumed run computes exactly what the uninterrupted one would.
``init_from`` (a ``store.Model``) fine-tunes that model on the text: its architecture is kept
(``fine_tune_config``), characters the two vocabularies share keep their weights and new ones
start fresh (``model.transfer_vocab``).  ``train_corpus`` is the whole of
``experiments/train_text.py``: a book or file, the source model, the run directory, the run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from rnn_gnn import checkpoint, files
from rnn_gnn.errors import ConfigError
from rnn_gnn.files import write_csv, write_json
from rnn_gnn.optimizers import averaged
from rnn_gnn.text import corpus, records
from rnn_gnn.text.config import (ARCHITECTURE, Config, Monitor, config_from, default_run_dir,
                                 log_every, settings, validate)
from rnn_gnn.text.figures import plot_history
from rnn_gnn.text.model import transfer_vocab
from rnn_gnn.text.sample import random_starts, sample
from rnn_gnn.text.store import Model, load_model, save_model
from rnn_gnn.text.trainer import make_trainer, schedule
from rnn_gnn.train import TrainState, init_state, train


def fine_tune_config(cfg: Config, source: Model, given=()) -> Config:
    """``cfg`` with the source model's architecture; a setting in ``given`` (set by the
    user) that contradicts it raises ``ConfigError``."""
    old = config_from(source.meta["config"])
    clash = [f"--{k} {getattr(cfg, k)}" for k in ARCHITECTURE
             if k in given and getattr(cfg, k) != getattr(old, k)]
    if clash:
        shape = ", ".join(f"{k}={getattr(old, k)}" for k in ARCHITECTURE)
        raise ConfigError(f"--init_from {source.path}: its model has {shape}; "
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


def _upgraded(meta: dict) -> dict:
    """A checkpoint's meta with its config as this code reads it (``config_from``)."""
    return {**meta, "config": dataclasses.asdict(config_from(meta.get("config") or {}))}


def train_run(cfg: Config, monitor: Monitor, text: str, run_dir, *, corpus_name: str = "",
              resume: bool = False, init_from: Model | None = None, progress=True, log=print,
              mesh=None):
    """Train on ``text`` (already cleaned) into ``run_dir``; returns ``(state, summary)``.

    Refuses (``ConfigError``) to start over a run directory that holds checkpoints unless
    ``resume``.  ``init_from`` (a ``load_model`` result with ``cfg``'s architecture, see
    ``fine_tune_config``) starts from that model's parameters instead of a fresh
    initialisation, with a fresh optimizer and step 0.
    """
    validate(cfg, monitor)
    run_dir = Path(run_dir)
    vocab = corpus.make_vocab(text)
    train_ids, val_ids = corpus.split(corpus.encode(text, vocab), cfg.seq_length,
                                      cfg.val_fraction)
    trainer = make_trainer(cfg, jnp.asarray(train_ids), len(vocab))
    state = trainer.init(jax.random.PRNGKey(cfg.seed))
    meta = {"vocab": vocab, "config": settings(cfg, monitor), "corpus": corpus_name,
            "corpus_chars": len(text)}
    if init_from is not None:
        if fine_tune_config(cfg, init_from) != cfg:
            raise ConfigError(f"--init_from {init_from.path}: its architecture differs from "
                              "the config's (use fine_tune_config)")
        meta["init_from"] = {"path": str(init_from.path), "step": init_from.meta.get("step"),
                             "corpus": init_from.meta.get("corpus", ""),
                             "sha256": corpus.sha256(init_from.path)}
        params = transfer_vocab(init_from.params, init_from.vocab, vocab, state.params)
        state = init_state(params, trainer.optimizer, state.key)
    state, resumed = checkpoint.resume(run_dir, state, {"vocab": vocab,
                                                        "config": dataclasses.asdict(cfg)},
                                       resume, upgrade=_upgraded)
    start = int(state.step)
    if resume:
        log(f"resuming {run_dir} at step {start}" if resumed is not None else
            f"no checkpoint in {run_dir} to resume; starting at step 0")
    log(f"{corpus_name or 'corpus'}: {len(text):,} characters, {len(vocab)} distinct; "
        f"run directory {run_dir}")  # only now: a refused start prints nothing but its error
    if init_from is not None and start == 0:
        log(f"fine-tuning {init_from.path} (step {init_from.meta.get('step')}, "
            f"{init_from.meta.get('corpus') or 'corpus'}): "
            f"{vocab_change(init_from.vocab, vocab)}")

    held_out = records.validation_sets(val_ids, cfg.seq_length)
    rows = records.history_until(run_dir, start)
    samples = records.samples_until(run_dir, start)
    best = [min([float(r[records.BEST_BY]) for r in rows if r[records.BEST_BY] != ""],
                default=math.inf)]
    lr = schedule(cfg)
    # Samples use their own key, so looking at the model never changes how it trains.
    sample_key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 21)
    t0 = time.perf_counter() - (float(rows[-1]["time_s"]) if rows else 0.0)
    write_json(run_dir / "config.json", meta)

    def on_chunk(state: TrainState, history):
        step = int(state.step)
        row = dict.fromkeys(records.COLUMNS, "")
        row.update(step=step, loss=float(np.mean(history["loss"][-1])),
                   accuracy=float(np.mean(history["accuracy"][-1])),
                   learning_rate=float(lr(step - 1)), time_s=round(time.perf_counter() - t0, 2))
        if held_out and (step % monitor.eval_every == 0 or step == monitor.train_steps):
            row.update(records.validation_scores(averaged(state), held_out))
            log(f"step {step}: train loss {row['loss']:.3f}; validation {row['val_loss']:.3f} "
                f"nats/char ({row['val_bpc']:.3f} bits/char, accuracy {row['val_accuracy']:.3f}), "
                f"reading on: {row['val_loss_carried']:.3f} nats/char")
            if row[records.BEST_BY] < best[0]:
                best[0] = row[records.BEST_BY]
                save_model(run_dir / "best.msgpack", averaged(state), records.model_meta(meta, row))
        rows.append(row)
        write_csv(run_dir / "history.csv", rows)
        if monitor.num_greedy and step % monitor.sample_every == 0:
            samples.extend(greedy_samples(averaged(state), jax.random.fold_in(sample_key, step),
                                          trainer.task, vocab, monitor, step))
            records.write_lines(run_dir / "samples.txt", samples)
        if step % monitor.checkpoint_every == 0 or step == monitor.train_steps:
            plot_history(rows, run_dir / "curve.png", corpus_name, cfg.seq_length)

    if start < monitor.train_steps:
        callback = checkpoint.checkpointer(run_dir, monitor.checkpoint_every, meta, then=on_chunk)
        state, _ = train(trainer.loss_fn, trainer.optimizer, state, monitor.train_steps,
                         task=trainer.task, log_every=log_every(monitor), callback=callback,
                         progress=progress, mesh=mesh)
        if monitor.train_steps % monitor.checkpoint_every:
            checkpoint.save_step(run_dir, monitor.train_steps, state, meta)
    else:
        log(f"{run_dir} is already trained to step {start} (train_steps {monitor.train_steps})")

    if rows:
        save_model(run_dir / "model.msgpack", averaged(state), records.model_meta(meta, rows[-1]))
    # the corpus' name titles curve.png (and its target line): the report redraws it from here
    summary = {**files.run_record(), "corpus": corpus_name,
               **records.summarize(rows, settings(cfg, monitor))}
    write_json(run_dir / "summary.json", summary)
    return state, summary


def greedy_samples(params: dict, key, data, vocab: str, monitor: Monitor, step: int) -> list:
    """``num_greedy`` greedy ``sample_length``-character texts from first characters drawn
    from ``data``, as ``samples.txt`` lines."""
    first = random_starts(key, data, monitor.num_greedy)
    out = sample(params, key, first, monitor.sample_length - 1, 0.0)
    return [f"{step} " + json.dumps(corpus.decode(np.concatenate([f, o]), vocab),
                                    ensure_ascii=False)
            for f, o in zip(np.asarray(first), np.asarray(out))]


def train_corpus(cfg: Config, monitor: Monitor, *, book: str | None = None, corpus_file=None,
                 data_dir=None, run_dir=None, init_from=None, given=(), quick: bool = False,
                 resume: bool = False, progress=True, log=print, mesh=None):
    """``train_run`` on a named ``book`` (default grimms, found or downloaded by
    ``corpus.book_path``) or a ``corpus_file``, fine-tuned from the model ``init_from`` names
    (``store.load_model``) when given, into ``run_dir`` (default ``default_run_dir``).
    ``given``: the settings the user chose (an architecture flag that contradicts
    ``init_from`` is an error).  Returns ``(run_dir, summary)``."""
    validate(cfg, monitor)               # before a book is downloaded
    source = None
    if init_from is not None:
        source = load_model(init_from)
        cfg = fine_tune_config(cfg, source, given)
    if corpus_file is not None:
        path, name = Path(corpus_file), Path(corpus_file).stem
    else:
        name = book or "grimms"
        path = corpus.book_path(name, data_dir, log=log)
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(name, quick, init_from)
    _, summary = train_run(cfg, monitor, corpus.read_text(path), run_dir, corpus_name=name,
                           resume=resume, init_from=source, progress=progress, log=log,
                           mesh=mesh)
    return run_dir, summary
