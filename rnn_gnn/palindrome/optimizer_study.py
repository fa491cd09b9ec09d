"""Question 1.4: plain SGD against momentum and adaptive learning rates, measured.

The LSTM learns palindromes of one length with every optimizer of
``rnn_gnn.optimizers.OPTIMIZERS`` (Optax, by name, clipped at ``max_norm`` as in the study).
For a given seed every run starts from the same parameters and sees the same batches.  Each
optimizer's learning rate is picked from a grid (steps of about half a decade around its usual
range) by accuracy on a validation batch; the final accuracy is then measured on a separate
test batch.  All (learning rate, seed) runs of one optimizer are one ``train_sweep`` (the
length listed once per rate, so one compiled program): ``optax.inject_hyperparams`` keeps the
learning rate in the optimizer state, so vmap treats it as data.  A run that diverges is frozen
and reported as diverged, and the rate is chosen among the rates whose every seed stayed
finite.  Figures: ``rnn_gnn.palindrome.figures.optimizer_curves`` / ``learning_rate_grid``.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnn_gnn import cli
from rnn_gnn.errors import ConfigError, NonFiniteLoss
from rnn_gnn.optimizers import OPTIMIZERS, make_optimizer
from rnn_gnn.palindrome.runner import Config, comma_list, evaluate, init_sweep, train_sweep
from rnn_gnn.plotting import box_filter
from rnn_gnn.train import diverged_at

# The middle of each optimizer's grid of learning rates; the grid steps along 1, 3, 10, 30, ...
CENTRES = {"sgd": 0.3, "momentum": 0.1, "nesterov": 0.1, "rmsprop": 3e-3, "adam": 3e-3,
           "adamw": 3e-3, "adagrad": 0.1}
TARGET = 0.99


@dataclasses.dataclass(frozen=True)
class Study:
    """Settings of the optimizer comparison; the defaults are its default run (``FULL``: the
    finer grid, more seeds, the study's model size)."""
    optimizers: tuple = cli.field(tuple(OPTIMIZERS), "optimizers, comma-separated names from "
                                  "rnn_gnn.optimizers.OPTIMIZERS", type=comma_list)
    length: int = cli.field(11, "palindrome length T (>= 2)", type=int)
    input_dim: int = cli.field(1, "1 = raw digits (the original), 10 = one-hot", type=int,
                               choices=[1, 10])
    grid: int = cli.field(1, "learning rates per optimizer: 2*GRID+1 steps of the ladder 1, 3, "
                          "10, ... around its centre", type=int, choices=range(5))
    seeds: int = cli.field(2, "runs per learning rate", type=cli.positive(int))
    seed: int = cli.field(0, "the first seed", type=int)
    num_hidden: int = cli.field(64, "the LSTM's hidden units n", type=cli.positive(int))
    batch_size: int = cli.field(64, "palindromes per training step", type=cli.positive(int))
    train_steps: int = cli.field(600, "training steps per run", type=cli.positive(int))
    max_norm: float = cli.field(10.0, "clip the global gradient norm at this; <= 0: no clipping")
    eval_batch: int = cli.field(2048, "palindromes in the validation and in the test batch",
                                type=cli.positive(int))
    smooth: int = cli.field(20, "box-filter width (steps) for the curves and the steps-to-0.99 "
                            "count", type=cli.positive(int))

    def __post_init__(self):
        names = self.optimizers
        unknown = [n for n in names if n not in OPTIMIZERS]
        if not names or unknown or len(set(names)) < len(names):
            raise ConfigError(f"optimizers must list distinct names from {', '.join(OPTIMIZERS)}"
                              f", got {','.join(names)!r}")
        if self.length < 2:
            raise ConfigError(f"length must be a palindrome length >= 2, got {self.length}")

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))

    def config(self) -> Config:
        """The LSTM sweep settings every optimizer trains with."""
        return Config(model_type="lstm", input_dim=self.input_dim, num_hidden=self.num_hidden,
                      batch_size=self.batch_size, train_steps=self.train_steps,
                      max_norm=self.max_norm, eval_batch=self.eval_batch)


FULL = dict(length=15, grid=2, seeds=5, num_hidden=128, batch_size=128, train_steps=3000)


def learning_rates(name: str, grid: int) -> list[float]:
    """``2 * grid + 1`` rates around the optimizer's centre on the ladder 1, 3, 10, 30, ..."""
    ladder = [m * 10.0 ** e for e in range(-6, 3) for m in (1, 3)]
    i = int(np.argmin([abs(np.log(r / CENTRES[name])) for r in ladder]))
    return [float(f"{r:.3g}") for r in ladder[i - grid:i + grid + 1]]


def tunable_optimizer(name: str, max_norm: float):
    """``make_optimizer(name, lr, max_norm)`` with ``lr`` held in the optimizer state."""
    return optax.inject_hyperparams(make_optimizer, static_args=("name", "max_norm",
                                                                 "weight_decay"))(
        name=name, learning_rate=0.0, max_norm=max_norm)


def steps_to(values, threshold: float, width: int = 1):
    """First step (1-based) at which the ``width``-step moving average of ``values`` reaches
    ``threshold``, per leading index; NaN where it never does.  ``values [..., steps]``."""
    s = box_filter(np.asarray(values, np.float64), width) >= threshold
    first = np.argmax(s, axis=-1) + width          # window ending at step argmax + width
    return np.where(s.any(axis=-1), first, np.nan)


def train_grid(study: Study, name: str, log_every: int = 100, progress=True) -> dict:
    """Train and score every (learning rate, seed) run of one optimizer side by side.

    Returns the rates and, unless every run diverged (then ``diverged_at``: that step), per
    (rate, seed) ``[len(lrs), seeds]``: the history, the step each run diverged at (0: never),
    the steps to 0.99 accuracy, validation and test accuracy (NaN for a diverged run), and the
    chosen rate ``best``."""
    cfg, lrs, seeds = study.config(), learning_rates(name, study.grid), study.seed_list
    lengths = [study.length] * len(lrs)     # run_key(seed, T): every rate starts alike
    optimizer = tunable_optimizer(name, study.max_norm)
    state, _ = init_sweep(cfg, lengths, seeds, optimizer)
    lr = jnp.repeat(jnp.array(lrs, jnp.float32), len(seeds))
    state = state._replace(opt_state=state.opt_state._replace(hyperparams={"learning_rate": lr}))
    ticks = []
    start = time.perf_counter()
    try:
        state, history, test = train_sweep(
            cfg, lengths, seeds, state=state, optimizer=optimizer, log_every=log_every,
            progress=progress and f"{name} x {len(lengths) * len(seeds)} runs",
            callback=lambda *_: ticks.append(time.perf_counter()))
    except NonFiniteLoss as e:   # every rate and seed diverged
        return {"lrs": lrs, "diverged_at": e.step}
    seconds = time.perf_counter() - start
    # Steady-state cost per step of the whole grid, without the first chunk (it compiles).
    ms_per_step = (1000 * (ticks[-1] - ticks[0]) / (cfg.train_steps - log_every)
                   if len(ticks) > 1 else float("nan"))
    # A run that diverged is frozen at its last finite state and scored as diverged, never as a
    # number, so the other rates of the grid still count.
    gone = diverged_at(history)
    history = {k: v for k, v in history.items() if k != "step"}
    val_key = jax.random.fold_in(jax.random.PRNGKey(study.seed), 2 * 10**6)  # one shared batch
    val = evaluate(cfg, state.params, lengths, seeds, key=val_key)
    masked = lambda x: np.where(gone > 0, np.nan, x)
    r = {"lrs": lrs, "history": history, "seconds": seconds, "ms_per_step": ms_per_step,
         "diverged_at": None, "diverged": gone,
         "steps_to": masked(steps_to(history["accuracy"], TARGET, study.smooth)),
         "val_accuracy": masked(val["accuracy"]), "val_loss": masked(val["loss"]),
         "test_accuracy": masked(test["accuracy"])}
    # The chosen rate: the best mean validation accuracy, ties to the lower loss, among the
    # rates whose every seed stayed finite.
    finite = ~(gone > 0).any(1)
    order = np.lexsort((np.nan_to_num(r["val_loss"].mean(1), nan=np.inf),
                        -np.nan_to_num(r["val_accuracy"].mean(1), nan=-1.0), ~finite))
    r["best"] = int(order[0])
    return r


def run(study: Study, log_every: int = 100, progress=True) -> dict:
    """``train_grid`` for every optimizer of the study, by name."""
    return {name: train_grid(study, name, log_every, progress) for name in study.optimizers}


def tables(study: Study, results):
    """Rows of grid.csv (every rate and seed) and table.csv (each optimizer at its rate)."""
    grid_rows, table_rows = [], []
    for name, r in results.items():
        if r["diverged_at"] is not None:
            table_rows.append({"optimizer": name, "best_lr": "", "diverged_at": r["diverged_at"]})
            continue
        for i, lr in enumerate(r["lrs"]):
            for j, seed in enumerate(study.seed_list):
                grid_rows.append({"optimizer": name, "lr": lr, "seed": seed,
                                  "val_accuracy": _round_or_blank(r["val_accuracy"][i, j]),
                                  "val_loss": _round_or_blank(r["val_loss"][i, j]),
                                  "test_accuracy": _round_or_blank(r["test_accuracy"][i, j]),
                                  "steps_to_0.99": _int_or_blank(r["steps_to"][i, j]),
                                  "diverged_at": _int_or_blank(r["diverged"][i, j] or np.nan)})
        b = r["best"]
        reached = r["steps_to"][b][~np.isnan(r["steps_to"][b])]
        table_rows.append({
            "optimizer": name, "best_lr": r["lrs"][b],
            # a seed that never reached 0.99 counts as infinitely slow
            "steps_to_0.99_median": _int_or_blank(np.median(np.nan_to_num(r["steps_to"][b],
                                                                          nan=np.inf))),
            "reached_0.99": f"{len(reached)}/{study.seeds}",
            "test_accuracy_mean": round(float(r["test_accuracy"][b].mean()), 4),
            "test_accuracy_std": round(float(r["test_accuracy"][b].std()), 4),
            "train_seconds": round(r["seconds"], 1),
            "ms_per_step": round(r["ms_per_step"], 1),
            "diverged_at": "",
            "diverged_rates": ",".join(f"{lr:g}" for lr, d in zip(r["lrs"], r["diverged"])
                                       if d.any())})
    columns = max((list(row) for row in table_rows), key=len)   # diverged rows lack most
    return grid_rows, [{c: row.get(c, "") for c in columns} for row in table_rows]


def chosen_curves(results) -> dict:
    """What curves.npz holds and ``figures.optimizer_curves`` draws: per optimizer that did
    not diverge at every rate, its chosen rate (``{name}_lr``) and that rate's training loss
    and accuracy per seed and step (``{name}_loss``, ``{name}_accuracy``: ``[seeds, steps]``)."""
    curves = {}
    for name, r in results.items():
        if r["diverged_at"] is None:
            b = r["best"]
            curves[f"{name}_lr"] = np.array(r["lrs"][b])
            for metric in ("loss", "accuracy"):
                curves[f"{name}_{metric}"] = np.asarray(r["history"][metric][b])
    return curves


def report(table_rows: list[dict]) -> list[str]:
    """The lines the CLI prints: each optimizer at its chosen rate."""
    lines = [f"{'optimizer':10s} {'best lr':>8s} {'steps to 0.99':>14s} {'test accuracy':>14s} "
             f"{'train s':>7s} {'ms/step':>8s}"]
    for row in table_rows:
        if row["diverged_at"] != "":
            lines.append(f"{row['optimizer']:10s} diverged at step {row['diverged_at']}")
            continue
        steps = row["steps_to_0.99_median"]
        lines.append(f"{row['optimizer']:10s} {row['best_lr']:8g} "
                     f"{(str(steps) if steps != '' else '-'):>9s} ({row['reached_0.99']}) "
                     f"{row['test_accuracy_mean']:8.3f} ± {row['test_accuracy_std']:.3f} "
                     f"{row['train_seconds']:7.1f} {row['ms_per_step']:8.1f}")
    return lines


def _int_or_blank(x):
    return int(x) if np.isfinite(x) else ""


def _round_or_blank(x):
    return round(float(x), 4) if np.isfinite(x) else ""
