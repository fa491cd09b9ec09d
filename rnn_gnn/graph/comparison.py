"""Question 3.3b's comparison: the graph LSTM against its baselines, trained per seed,
resumable, and scored on the same held-out waves (``experiments/graph_lstm.py`` runs it).

``variants(task)`` are the four models: each baseline lacks one ingredient, and the windowed
GCN is the control that gets time as hand-made features (the last R + 1 frames, all a node's
own state depends on).

Checkpoints reuse the library's mechanism (``rnn_gnn.checkpoint.checkpointer`` /
``resume``): each variant saves its stacked state, RNG key included, every
``checkpoint_every`` steps into its own directory, with the settings and the curves so far in
the checkpoint's meta.  A resumed variant therefore computes exactly what the uninterrupted run
computes.  ``check_resume`` runs for every variant before anything trains: a directory holding
checkpoints is continued only when asked, and only with the settings it was made with;
otherwise it raises ``CheckpointError`` or ``ConfigError`` with one line.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from rnn_gnn import checkpoint
from rnn_gnn.checkpoint import checkpointer
from rnn_gnn.graph import forecast
from rnn_gnn.graph.waves import Task

# The per-step training metrics in ``history`` and in the per-step CSV (training batches).
STEP_METRICS = ("loss", "accuracy", "wave_f1", "fire_f1", "grad_norm")


class Variant(NamedTuple):
    label: str    # the table's and the legend's name
    key: str      # its checkpoint directory's name
    model: str    # a key of rnn_gnn.graph.graph_lstm.MODELS
    window: int   # gcn: how many latest frames it reads as features
    short: str    # tick label of the bar chart


def variants(task: Task) -> tuple[Variant, ...]:
    control = task.refractory + 1
    return (Variant("graph LSTM", "graph_lstm", "graph_lstm", 1, "graph\nLSTM"),
            Variant("LSTM per node (no graph)", "node_lstm", "node_lstm", 1, "LSTM\nper node"),
            Variant("GCN, latest frame (no time)", "gcn", "gcn", 1, "GCN\nlatest"),
            Variant(f"GCN, last {control} frames", "gcn_window", "gcn", control, "GCN\nwindow"))


def settings(variant: Variant, task: Task, cfg: forecast.Config, seeds) -> dict:
    """What a checkpoint must have been made with to be resumed (its meta, less the curves)."""
    cfg = dataclasses.replace(cfg, gcn_window=variant.window)
    return {"model": variant.model, "task": dataclasses.asdict(task),
            "config": dataclasses.asdict(cfg), "seeds": [int(s) for s in seeds]}


def _join(a: dict, b: dict) -> dict:
    """Metric dicts concatenated along the step axis (either may be empty)."""
    return {k: np.concatenate([np.asarray(d[k]) for d in (a, b) if k in d], -1)
            for k in {**a, **b}}


def train_variant(variant: Variant, task: Task, cfg: forecast.Config, seeds, *,
                  checkpoint_dir=None, checkpoint_every: int = 0, resume: bool = False,
                  log_every: int = 100, progress=True, log: Callable[[str], None] = print):
    """Train one variant for every seed (vmapped); returns ``(state, history, test)`` as
    ``forecast.train_model``, with ``history`` covering every step, resumed ones included.

    With ``checkpoint_dir`` an earlier run there is continued (``check_resume``) and, with
    ``checkpoint_every`` (a multiple of ``log_every``), the state is saved every that many steps.
    """
    seeds = list(seeds)
    wanted = settings(variant, task, cfg, seeds)
    cfg = dataclasses.replace(cfg, gcn_window=variant.window)
    state, previous = None, {}
    if checkpoint_dir is not None:
        template = forecast.init_runs(forecast.make_trainer(variant.model, task, cfg), seeds)
        restored, saved = checkpoint.resume(checkpoint_dir, template, wanted, resume)
        if saved is not None:
            state = restored
            previous = saved.get("history", {})
            log(f"{variant.label}: resuming from step {saved['step']} in {checkpoint_dir}")
    callback = None
    if checkpoint_dir is not None and checkpoint_every:
        meta = dict(wanted)

        def with_history(state, history):  # the curves so far travel inside the checkpoint
            meta["history"] = _join(previous, {k: np.concatenate(v, -1)
                                               for k, v in history.items()})
        callback = checkpointer(checkpoint_dir, checkpoint_every, meta, then=with_history)
    state, history, test = forecast.train_model(variant.model, task, cfg, seeds, state=state,
                                                callback=callback, log_every=log_every,
                                                progress=progress)
    return state, _join(previous, {k: v for k, v in history.items() if k != "step"}), test


def train_all(task: Task, cfg: forecast.Config, seeds, *, checkpoint_root=None,
              checkpoint_every: int = 0, resume: bool = False, log_every: int = 100,
              progress: bool = True, log: Callable[[str], None] = print):
    """Every variant in turn (``train_variant``), with checkpoints in
    ``checkpoint_root/<variant key>``; every such directory is checked before the first variant
    trains.  Returns ``{label: (state, history, test)}``, in the order of ``variants(task)``."""
    seeds = list(seeds)
    root = checkpoint_root
    directory = (lambda v: None) if root is None else (lambda v: Path(root) / v.key)
    for v in variants(task):
        if directory(v) is not None:
            checkpoint.check_resume(directory(v), settings(v, task, cfg, seeds), resume)
    runs = {}
    for v in variants(task):
        runs[v.label] = train_variant(v, task, cfg, seeds, checkpoint_dir=directory(v),
                                      checkpoint_every=checkpoint_every, resume=resume,
                                      log_every=log_every, progress=progress and v.label,
                                      log=log)
        test = runs[v.label][2]
        log(f"{v.label:32s} wave F1 {test['wave_f1'].mean():.3f} +- "
            f"{test['wave_f1'].std():.3f}  fire F1 {test['fire_f1'].mean():.3f}  "
            f"accuracy {test['accuracy'].mean():.4f}")
    return runs


def step_rows(label: str, history: dict, seeds) -> list[dict]:
    """The per-step CSV rows of one variant: its training-batch metrics per seed and step."""
    steps = np.asarray(history["loss"]).shape[-1]
    return [{"model": label, "seed": int(seed), "step": t + 1,
             **{m: float(history[m][i, t]) for m in STEP_METRICS}}
            for i, seed in enumerate(seeds) for t in range(steps)]


def result_rows(runs: dict, seeds) -> list[dict]:
    """One row per variant and seed: the held-out test scores."""
    return [{"model": label, "seed": int(seed),
             **{m: float(test[m][i]) for m in ("wave_f1", "fire_f1", "accuracy", "loss")}}
            for label, (_, _, test) in runs.items() for i, seed in enumerate(seeds)]


def figure_arrays(task: Task, runs: dict, example) -> dict:
    """What graph_lstm_figure.npz holds and ``figures.wave_comparison`` draws besides the test
    scores: per variant (by its ``key``) the training loss per seed and step (``{key}_loss
    [seeds, steps]``) and its prediction of the example's next frame (``{key}_prediction
    [N]``); the example's ``frames [T, N, 2]`` and ``target [N]``.  ``runs`` as ``train_all``
    returns them on ``task``, ``example`` as ``forecast.example_predictions``."""
    frames, target, predictions = example
    arrays = {"frames": np.asarray(frames), "target": np.asarray(target)}
    for v in variants(task):
        arrays[f"{v.key}_loss"] = np.asarray(runs[v.label][1]["loss"])
        arrays[f"{v.key}_prediction"] = np.asarray(predictions[v.label])
    return arrays
