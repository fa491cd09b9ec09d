"""Part 1's sweeps: one model per (palindrome length, seed), trained side by side.

``make_trainer(cfg, length)`` is what the loop (and the benchmark) trains: one compiled
program per length.  ``train_sweep`` spreads a sweep's lengths over devices (``plan``), runs
their programs at once, and scores every run on fresh palindromes (``evaluate``);
``train_resumable`` adds checkpoints and resuming, and ``tabulate`` the result rows.
``parse_flags`` / ``parse_study`` are the Part 1 CLIs' flags; ``run_study`` and
``study_record`` what the two study CLIs (gradients, optimizers) share around their study.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings
from functools import partial
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rnn_gnn import checkpoint, cli, distributed, files
from rnn_gnn.cells import INITS, MODELS
from rnn_gnn.errors import ConfigError
from rnn_gnn.optimizers import OPTIMIZERS, make_optimizer
from rnn_gnn.palindrome.model import init_params, make_loss, model_apply
from rnn_gnn.train import Group, Trainer, diverged_at, init_run, init_runs, train_groups


@dataclasses.dataclass(frozen=True)
class Config:
    """One place for Part 1's model and training settings.

    The defaults are those of the default run (``python experiments/palindrome.py``: the
    study's contrast in about two minutes on two CPU cores): the original study's settings,
    with 64 hidden units and 2000 steps where the study (``FULL``) has 128 and 10000.  The
    initialisation, which the original left to each student: Glorot weights with every square
    matrix orthogonal (the recurrent ones, and the output projection when n = K), zero biases
    and a forget-gate bias of 1 for the LSTM.  Both models then start with a recurrent Jacobian
    whose singular values are 1, so the comparison measures the architectures rather than a
    scale choice; the README reports the PyTorch-style uniform init too (``init="pytorch"``,
    ``forget_bias=0``).
    """
    model_type: str = cli.field("lstm", "which model to train", choices=list(MODELS))
    input_dim: int = cli.field(1, "1 = raw digits (the original), 10 = one-hot", type=int,
                               choices=[1, 10])
    num_hidden: int = cli.field(64, "hidden units n", type=cli.positive(int))
    batch_size: int = cli.field(128, "palindromes per training step", type=cli.positive(int))
    learning_rate: float = cli.field(1e-3, "the optimizer's step size",
                                     type=cli.positive(float))
    optimizer: str = cli.field("rmsprop", "an Optax optimizer by name "
                               "(rnn_gnn.optimizers.OPTIMIZERS)", choices=list(OPTIMIZERS))
    max_norm: float = cli.field(10.0, "clip the global gradient norm at this; <= 0: no clipping")
    train_steps: int = cli.field(2000, "training steps per run", type=cli.positive(int))
    init: str = cli.field("orthogonal", "weight initialisation (rnn_gnn.cells): orthogonal = "
                          "Glorot input, orthogonal square weights; pytorch = torch.nn's "
                          "uniform", choices=list(INITS))
    forget_bias: float = cli.field(1.0, "added to the LSTM's b_f at initialisation")
    backward: str = cli.field("manual", "the hand-derived BPTT (rnn_gnn.bptt, faster) or "
                              "jax.grad through the scan", choices=["manual", "autodiff"])
    eval_batch: int = cli.field(2048, "fresh palindromes each run is scored on",
                                type=cli.positive(int))


@dataclasses.dataclass(frozen=True)
class Sweep:
    """Which runs a sweep trains: every length with seeds ``seed .. seed + seeds - 1``."""
    lengths: tuple = cli.field((5, 10, 15, 20), "palindrome lengths T: 5,10,15 or a range "
                               "5:23:2")
    seeds: int = cli.field(2, "runs per length", type=cli.positive(int))
    seed: int = cli.field(0, "the first seed", type=int)

    def __post_init__(self):
        if not self.lengths or min(self.lengths) < 2 or len(set(self.lengths)) < len(self.lengths):
            raise ConfigError(f"lengths must be distinct palindrome lengths >= 2 (at least one "
                              f"input digit), got {list(self.lengths)}")

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))


# The study's protocol (the report's Figure 1), over the default run's settings.
FULL = dict(lengths=tuple(range(5, 24, 2)), seeds=10, num_hidden=128, train_steps=10000)


def comma_list(text: str) -> tuple[str, ...]:
    """A flag's ``"rnn,lstm"`` as ``("rnn", "lstm")`` (a study's config checks the names)."""
    return tuple(v.strip() for v in text.split(",") if v.strip())


def parse_flags(parser, argv, configs, full: dict, what: str, experiment: str, skip=()):
    """What every Part 1 CLI parses: each dataclass of ``configs`` as flags (``skip``: fields
    the CLI spells its own way), ``--full`` (the values ``full``, the study's protocol: ``what``)
    ``--log_every``, ``--no_progress`` and ``--run_dir``: the run's directory, by default
    ``results/<experiment>`` and with ``--full`` ``results/<experiment>_full``.  Returns the
    parsed args (``cli.parse_with_presets``)."""
    presets = {"full": (full, what)}
    for config_cls in configs:
        cli.add_config_flags(parser, config_cls, presets, skip=skip)
    parser.add_argument("--log_every", type=cli.positive(int), default=100,
                        help="steps per compiled call: progress, divergence check, checkpoints")
    parser.add_argument("--no_progress", action="store_true",
                        help="no progress bars (for a log file)")
    parser.add_argument("--run_dir", type=cli.out_dir,
                        help=f"the run's directory: every file it writes goes there (default: "
                             f"results/{experiment}, with --full results/{experiment}_full)")
    args = cli.parse_with_presets(parser, argv, presets)
    args.run_dir = args.run_dir or Path(f"results/{experiment}" + ("_full" if args.preset else ""))
    return args


def parse_study(argv, doc: str, study_cls, full: dict, what: str, experiment: str):
    """``(args, study)`` for a Part 1 study CLI (gradients, optimizers): ``parse_flags`` over
    the study dataclass, and the study it gives."""
    args = parse_flags(cli.ArgumentParser(description=doc), argv, [study_cls], full, what,
                       experiment)
    return args, cli.config_from_args(args, study_cls)


class StudyRun(NamedTuple):
    """A Part 1 study CLI's run before it writes anything (``run_study``)."""
    args: argparse.Namespace
    study: object          # the study dataclass (``gradients.Study``, ``optimizer_study.Study``)
    results: dict          # what the study's ``run`` returned
    seconds: float         # wall time of that run: training and measuring


def run_study(parse_args: Callable, argv, run: Callable) -> StudyRun:
    """What a Part 1 study CLI (gradients, optimizers) does first: its flags
    (``parse_args(argv) -> (args, study)``, by ``parse_study``) and
    ``run(study, args.log_every, progress)``, timed."""
    args, study = parse_args(argv)
    started = time.perf_counter()
    results = run(study, args.log_every, not args.no_progress)
    return StudyRun(args, study, results, time.perf_counter() - started)


def study_record(argv, done: StudyRun, **results) -> dict:
    """A study's ``summary.json``: the run record (``files.run_record``), the study's settings
    (``config``), ``log_every``, ``results`` (named by the study) and the seconds."""
    return {**files.run_record(argv), "config": dataclasses.asdict(done.study),
            "log_every": done.args.log_every, **results, "seconds": round(done.seconds, 1)}


def run_key(seed: int, length: int):
    """Each (seed, length) run has its own key, independent of what else is in the sweep."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), length)


def make_trainer(cfg: Config, length: int, max_length: int | None = None) -> Trainer:
    """Runs of palindromes of length ``length``: a program of T-1 steps (task: None).

    ``max_length`` (default ``length``) is the longest length of the sweep the runs belong
    to; their batches are the padded ones of that length, cut to the T-1 real steps, so a run
    trains on the same numbers whichever program trains it.
    """
    optimizer = make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.max_norm)
    loss_fn = make_loss(model_apply(cfg), cfg.batch_size, cfg.input_dim,
                        max_length or length, length)
    return Trainer(loss_fn, optimizer, partial(init_run, partial(init_params, cfg), optimizer))


def init_sweep(cfg: Config, lengths, seeds, optimizer=None):
    """``(state, optimizer)``: the stacked initial TrainState of every (length, seed) run,
    length-major, and the optimizer (default: ``cfg``'s)."""
    optimizer = optimizer or make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.max_norm)
    keys = jnp.stack([run_key(s, t) for t in lengths for s in seeds])
    return init_runs(partial(init_params, cfg), optimizer, keys), optimizer


class Part(NamedTuple):
    """The runs of one length that one compiled program trains, and the device it runs on."""
    length: int
    runs: np.ndarray       # indices into the sweep's (length-major) run axis
    device: object


def plan(lengths, seeds, devices) -> list[Part]:
    """Split a sweep into one program per length, spread over ``devices``.

    Each length gets its own program, so a short palindrome never pays for the longest (a
    length listed twice, as the optimizer study's learning rates are, is one program).  A
    length's runs are split further only when there are fewer lengths than devices.  The
    parts go to devices longest first, each to the least loaded (cost: T-1 steps per run, plus
    one for the update), which keeps the devices' work level.
    """
    lengths, seeds, devices = list(lengths), list(seeds), list(devices)
    runs: dict[int, list] = {}
    for i, t in enumerate(lengths):
        runs.setdefault(t, []).extend(i * len(seeds) + np.arange(len(seeds)))
    splits = -(-len(devices) // len(runs))
    parts = [(t, chunk) for t, r in runs.items()
             for chunk in np.array_split(np.array(r), min(len(r), splits))]
    load = [0.0] * len(devices)
    out = []
    for t, r in sorted(parts, key=lambda p: -(p[0] * len(p[1]))):
        d = int(np.argmin(load))
        load[d] += t * len(r)
        out.append(Part(t, r, devices[d]))
    return out


def take(tree, runs):
    return jax.tree_util.tree_map(lambda x: x[runs], tree)


def put_back(parts: list[Part], trees):
    """The parts' trees (leading axis: their runs) joined into the sweep's run order."""
    order = np.argsort(np.concatenate([p.runs for p in parts]))
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs)[order],
                                  *jax.device_get(list(trees)))


def train_sweep(cfg: Config, lengths, seeds, *, state=None, optimizer=None,
                log_every: int = 100, progress=True, callback=None, devices=None, mesh=None):
    """Train one model per (length, seed): one compiled program per length (``plan``,
    ``make_trainer``), the programs spread over ``devices`` (default: the default device) and
    run side by side.

    ``state`` (optional) continues from a restored sweep state, or starts from one built with
    its own ``optimizer`` (default: ``cfg``'s).  ``callback(state, history)`` sees the sweep as
    one: the stacked TrainState ``[runs, ...]`` and the steps so far ``[runs, steps]``.
    Returns ``(state, history, final)``: the stacked TrainState, per-step metrics
    ``[len(lengths), len(seeds), steps]`` of the steps run here, and the final loss/accuracy
    on a fresh batch of ``cfg.eval_batch`` palindromes, ``[len(lengths), len(seeds)]``.
    ``mesh`` (``rnn_gnn.distributed.make_mesh``) instead splits each training batch over its
    devices.
    """
    lengths, seeds = list(lengths), list(seeds)
    if state is None:
        state, optimizer = init_sweep(cfg, lengths, seeds, optimizer)
    parts = plan(lengths, seeds, [None] if devices is None or mesh is not None else devices)
    trainers = [make_trainer(cfg, p.length, max(lengths)) for p in parts]
    optimizer = optimizer or trainers[0].optimizer
    groups = [Group(t.loss_fn, take(state, p.runs), t.task, p.device)
              for t, p in zip(trainers, parts)]

    def joined(states, histories):
        return put_back(parts, states), {k: put_back(parts, [h[k] for h in histories])
                                         for k in histories[0]}

    then = None if callback is None else (
        lambda states, histories: callback(*joined(states, [
            {k: np.concatenate(v, -1) for k, v in h.items()} for h in histories])))
    states, histories = train_groups(groups, optimizer, cfg.train_steps, log_every=log_every,
                                     progress=progress, callback=then, mesh=mesh)
    if not histories[0]:                     # resumed from the final checkpoint: nothing to run
        return state, {}, evaluate(cfg, state.params, lengths, seeds)
    state, history = joined(states, [{k: v for k, v in h.items() if k != "step"}
                                     for h in histories])
    shape = (len(lengths), len(seeds))
    history = {k: v.reshape(*shape, -1) for k, v in history.items()}
    history["step"] = histories[0]["step"]
    # Back on the mesh (replicated) or the default device, as the state came in.
    state = distributed.replicate(jax.tree_util.tree_map(jnp.asarray, state), mesh)
    return state, history, evaluate(cfg, state.params, lengths, seeds)


def evaluate(cfg: Config, params, lengths, seeds, key=None):
    """Loss and accuracy of stacked sweep params on fresh palindromes (never trained on),
    ``[len(lengths), len(seeds)]``: each run on its own batch, or with ``key`` every run on
    the same one (a validation batch).

    One padded program serves every length: evaluation runs once, so one compile costs less
    than a program per length would save."""
    if key is None:
        key = jnp.stack([jax.random.fold_in(run_key(s, t), 10**6) for t in lengths
                         for s in seeds])
    run_lengths = jnp.array([t for t in lengths for _ in seeds], jnp.int32)
    loss, metrics = _scores(cfg, max(lengths), params, key, run_lengths)
    shape = (len(lengths), len(seeds))
    return {"loss": np.asarray(loss).reshape(shape),
            "accuracy": np.asarray(metrics["accuracy"]).reshape(shape)}


@partial(jax.jit, static_argnums=(0, 1))   # one compile per config and shapes
def _scores(cfg: Config, max_length: int, params, key, lengths):
    loss_fn = make_loss(model_apply(cfg), cfg.eval_batch, cfg.input_dim, max_length)
    return jax.vmap(loss_fn, in_axes=(0, 0 if key.ndim > 1 else None, 0))(params, key, lengths)


# ----------------------------------------------------------------------------- resumable runs

def join(a: dict, b: dict) -> dict:
    """Two metric dicts concatenated along the step axis (either may be empty: a run resumed
    from its final checkpoint trains no steps)."""
    return {k: np.concatenate([np.asarray(d[k]) for d in (a, b) if k in d], -1)
            for k in {**a, **b}}


def train_resumable(cfg: Config, lengths, seeds, *, checkpoint_dir=None,
                    checkpoint_every: int = 0, resume: bool = False, log_every: int = 100,
                    devices=None, progress=True):
    """``train_sweep`` with a checkpoint every ``checkpoint_every`` steps (0: none) in
    ``checkpoint_dir``; with ``resume`` an earlier run there continues
    (``checkpoint.resume``: same config, lengths and seeds, else a one-line error).

    The curves so far travel inside each checkpoint, so ``(history, final)`` covers every
    step, resumed ones included: ``history[metric]`` is ``[len(lengths), len(seeds), steps]``.
    """
    lengths, seeds = list(lengths), list(seeds)
    state, previous, callback = None, {}, None
    if checkpoint_every:
        settings = {"config": dataclasses.asdict(cfg), "lengths": lengths, "seeds": seeds}
        state, saved = checkpoint.resume(checkpoint_dir, init_sweep(cfg, lengths, seeds)[0],
                                         settings, resume)
        if saved is not None:
            previous = saved.get("history", {})
            print(f"{cfg.model_type}: resuming from step {saved['step']} in {checkpoint_dir}",
                  file=sys.stderr)
        meta = dict(settings)

        def with_history(state, history):
            meta["history"] = join(previous, history)
        callback = checkpoint.checkpointer(checkpoint_dir, checkpoint_every, meta,
                                           then=with_history)
    _, history, final = train_sweep(cfg, lengths, seeds, state=state, log_every=log_every,
                                    callback=callback, progress=progress, devices=devices)
    shape = (len(lengths), len(seeds))
    history = join({k: v.reshape(*shape, -1) for k, v in previous.items()},
                   {k: v for k, v in history.items() if k != "step"})
    return history, final


def tabulate(model: str, lengths, seeds, history, final):
    """``(rows, per_length, accuracy)``: final.csv's rows, the summary's per-length mean, std
    and count of diverged runs, and the accuracy ``[lengths, seeds]`` with NaN where a run
    diverged (a diverged run is marked, never scored)."""
    steps = np.arange(1, history["loss"].shape[-1] + 1)
    diverged = diverged_at({**history, "step": steps})
    acc = np.where(diverged > 0, np.nan, final["accuracy"])
    rows = []
    for i, t in enumerate(lengths):
        for j, seed in enumerate(seeds):
            ok = diverged[i, j] == 0
            rows.append({"model": model, "length": t, "seed": seed,
                         "accuracy": round(float(acc[i, j]), 4) if ok else "",
                         "loss": round(float(final["loss"][i, j]), 4) if ok else "",
                         "diverged_at": "" if ok else int(diverged[i, j])})
    per_length = {str(t): {"mean_accuracy": _nan_none(np.nanmean(acc[i])),
                           "std_accuracy": _nan_none(np.nanstd(acc[i])),
                           "diverged": int((diverged[i] > 0).sum())}
                  for i, t in enumerate(lengths)}
    return rows, per_length, acc


def figure_curves(history: dict, smooth: int = 10) -> dict:
    """What Figure 1 plots and curves.npz holds: each metric of ``history`` (``[lengths,
    seeds, steps]``) averaged over the seeds whose update at that step was finite, then over
    blocks of ``smooth`` steps (the study's box filter of width ``smooth``, taken every
    ``smooth`` steps): ``[lengths, steps // smooth]``, a last partial block dropped.  ``step``
    holds each block's last step and ``smooth`` the width (at most the number of steps).

    A sweep's own curves, one float per run and step, would be 40 MB for the study's protocol;
    these are a hundredth of it and draw the same figure."""
    finite = np.asarray(history["finite"], bool)
    smooth = max(1, min(smooth, finite.shape[-1]))
    blocks = finite.shape[-1] // smooth
    out = {"step": np.arange(1, blocks + 1) * smooth, "smooth": np.array(smooth)}
    for k in ("loss", "accuracy", "grad_norm"):
        with warnings.catch_warnings():   # a step at which every seed diverged: NaN, a gap
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(np.where(finite, np.asarray(history[k], np.float64), np.nan), 1)
        out[k] = mean[:, :blocks * smooth].reshape(len(mean), blocks, smooth).mean(-1)
    return out


def _nan_none(x) -> float | None:
    return None if np.isnan(x) else float(x)
