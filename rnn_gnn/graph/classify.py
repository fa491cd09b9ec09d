"""Semi-supervised node classification with the library's one training loop.

Full batch: a training step is an epoch (one forward/backward pass over the whole graph).
``loss_fn(params, key, task)`` draws the dropout masks from ``key``; it also returns, as
metrics, the loss and accuracy of the same parameters without dropout on the validation and
test nodes, so the loop's per-step history holds every epoch's evaluation.  Model selection
then works on those arrays after training, exactly as each paper's code does while training:

- GCN (Kipf & Welling): train ``epochs``; stop early when the validation loss exceeds the
  mean of the previous ``window`` epochs' (``kipf_stop``); report the last epoch's test accuracy.
- GAT (Velickovic et al.): keep the parameters of the last epoch at which validation
  accuracy and loss both reached their best so far; stop after ``patience`` epochs in which
  neither improved (``gat_select``); report that epoch's test accuracy.

Seeds are trained together: their states are stacked and the step is vmapped.
``make_trainer`` is the step itself, for this runner and for the benchmark.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnn_gnn import cli
from rnn_gnn.errors import ConfigError
from rnn_gnn.graph.graphs import NodeData
from rnn_gnn.graph.models import MODELS
from rnn_gnn.optimizers import make_optimizer
from rnn_gnn.train import Trainer, TrainState, init_run, softmax_cross_entropy, train

SELECTIONS = ("kipf", "gat", "last")


@dataclasses.dataclass(frozen=True)
class Config:
    """One node-classification run; ``PAPER`` holds each paper's settings (the defaults are
    Kipf & Welling's GCN)."""
    model: str = cli.field("gcn", "GCN (Kipf & Welling) or GAT (Velickovic et al.), any case",
                           type=str.lower, choices=tuple(MODELS))
    hidden: int = cli.field(16, "hidden units per layer, per head for GAT",
                            type=cli.positive(int))
    heads: int = cli.field(8, "GAT hidden-layer attention heads (gat only)",
                           type=cli.positive(int))
    output_heads: int = cli.field(1, "GAT output heads (averaged)", type=cli.positive(int))
    num_layers: int = cli.field(2, "GCN depth", type=cli.positive(int))
    dropout: float = cli.field(0.5, "drop probability, in [0, 1)")
    learning_rate: float = cli.field(0.01, "Adam's learning rate", type=cli.positive(float))
    weight_decay: float = cli.field(5e-4, "L2 on the weights each paper decays, >= 0")
    epochs: int = cli.field(200, "most epochs (karate: at most 200)", type=cli.positive(int))
    selection: str = cli.field("kipf", "kipf: early stopping on the val loss, last epoch; gat: "
                               "best val accuracy and loss, patience; last: the last epoch",
                               choices=SELECTIONS)
    window: int = cli.field(10, "kipf: early-stopping window", type=cli.positive(int))
    patience: int = cli.field(100, "gat: epochs without improvement before stopping",
                              type=cli.positive(int))

    def __post_init__(self):
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; choose from {', '.join(MODELS)}")
        if self.selection not in SELECTIONS:
            raise ConfigError(f"unknown selection rule {self.selection!r}; choose from "
                              f"{', '.join(SELECTIONS)}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be a drop probability in [0, 1), got "
                              f"{self.dropout}")
        if not self.weight_decay >= 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")


PAPER = {
    # Kipf & Welling 2017, sec. 5.2-6.1: 2 layers, 16 hidden, dropout 0.5, Adam 0.01,
    # L2 5e-4 on the first layer, 200 epochs, early-stopping window 10.
    "gcn": Config(),
    # Velickovic et al. 2018, sec. 3.3 (Cora/Citeseer): 8 heads x 8 hidden, ELU, one output
    # head, dropout 0.6 on both layers' inputs and on attention, Adam 0.005, L2 5e-4,
    # patience 100.  The paper's code allows 100000 epochs; on Cora the patience rule fires
    # near epoch 300, so 500 gives the same selection (``stopped_early`` reports it).
    "gat": Config(model="gat", hidden=8, heads=8, output_heads=1, dropout=0.6,
                  learning_rate=0.005, weight_decay=5e-4, epochs=500, selection="gat"),
}


# The settings ``experiments/gnn.py`` exposes as flags; ``None`` keeps the paper's.
TUNABLE = ("hidden", "learning_rate", "dropout", "weight_decay", "heads", "epochs")


def config_for(model: str, dataset: str, **overrides) -> Config:
    """``PAPER[model]`` for ``dataset``, with ``overrides`` (``TUNABLE`` names; ``None`` keeps
    the paper's value).  On the karate club validation and test are the same 32 members, so
    nothing is selected (``selection="last"``) and the epochs are capped at 200."""
    if model not in PAPER:
        raise ConfigError(f"unknown model {model!r}; choose from {', '.join(PAPER)}")
    cfg = PAPER[model]
    if dataset == "karate":
        cfg = dataclasses.replace(cfg, selection="last", epochs=min(cfg.epochs, 200))
    return dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})


def run_name(dataset: str, cfg: Config) -> str:
    """``{dataset}_{model}``, plus ``_{setting}{value}`` for every ``TUNABLE`` setting that
    differs from the paper's (e.g. ``cora_gcn_hidden64``): a run with other settings never
    overwrites the paper-settings results."""
    paper = config_for(cfg.model, dataset)
    return f"{dataset}_{cfg.model}" + "".join(
        f"_{k}{getattr(cfg, k):g}" for k in TUNABLE if getattr(cfg, k) != getattr(paper, k))


def describe(cfg: Config) -> str:
    """The model as figure titles name it, with its initialisation: ``GCN (Glorot-uniform
    init)``."""
    return f"{cfg.model.upper()} ({MODELS[cfg.model].initialiser} init)"


def init_params(cfg: Config, key, data: NodeData):
    d = data.graph.nodes.shape[1]
    if cfg.model == "gcn":
        return MODELS["gcn"].init(key, d, data.num_classes, cfg.hidden, cfg.num_layers)
    return MODELS["gat"].init(key, d, data.num_classes, cfg.hidden, cfg.heads, cfg.output_heads)


def make_optimizer_for(cfg: Config) -> optax.GradientTransformation:
    """Adam with the paper's L2 on the weights ``decay_mask`` selects (added to the gradient,
    as an L2 term in the loss would)."""
    decay = optax.masked(optax.add_decayed_weights(cfg.weight_decay), MODELS[cfg.model].decay_mask)
    return optax.chain(decay, make_optimizer("adam", cfg.learning_rate))


def _split_loss(logits, labels, index):
    return softmax_cross_entropy(logits[index], labels[index])


def make_loss(cfg: Config, data: NodeData, with_eval: bool = True):
    """``loss_fn(params, key, task)``: cross-entropy on the training nodes with dropout; as
    metrics, its accuracy and (``with_eval``) the dropout-free accuracy on the training nodes
    (``train_accuracy``) and loss and accuracy on the validation and test nodes."""
    apply = MODELS[cfg.model].apply
    graph, labels = data.graph, jnp.asarray(data.labels)

    def loss_fn(params, key, task=None):
        logits = apply(params, graph, key=key, dropout=cfg.dropout)
        loss, accuracy = _split_loss(logits, labels, data.train)
        if not with_eval:
            return loss, {"accuracy": accuracy}
        clean = jax.lax.stop_gradient(apply(params, graph))
        _, train_accuracy = _split_loss(clean, labels, data.train)
        val_loss, val_accuracy = _split_loss(clean, labels, data.val)
        _, test_accuracy = _split_loss(clean, labels, data.test)
        return loss, {"accuracy": accuracy, "train_accuracy": train_accuracy,
                      "val_loss": val_loss, "val_accuracy": val_accuracy,
                      "test_accuracy": test_accuracy}
    return loss_fn


def evaluate(cfg: Config, data: NodeData, params) -> dict:
    """Dropout-free loss/accuracy of one parameter set on each split, and the predictions."""
    logits = MODELS[cfg.model].apply(params, data.graph)
    labels = jnp.asarray(data.labels)
    out = {"prediction": jnp.argmax(logits, -1)}
    for split in ("train", "val", "test"):
        out[f"{split}_loss"], out[f"{split}_accuracy"] = _split_loss(
            logits, labels, getattr(data, split))
    return out


# ----------------------------------------------------------------------------- selection rules

def kipf_stop(val_loss: np.ndarray, window: int = 10) -> tuple[int, bool]:
    """``(epoch index, stopped early)``: Kipf & Welling's loop stops at the first epoch
    e > window whose validation loss exceeds the mean of the ``window`` before it, and
    reports that epoch; otherwise it runs to the last epoch."""
    for e in range(window + 1, len(val_loss)):
        if val_loss[e] > np.mean(val_loss[e - window:e]):
            return e, True
    return len(val_loss) - 1, False


def gat_select(val_loss: np.ndarray, val_accuracy: np.ndarray,
               patience: int = 100) -> tuple[int, bool]:
    """``(epoch index, stopped early)``: the GAT code keeps the parameters of the last epoch
    at which validation accuracy and loss were both at their best so far, and stops after
    ``patience`` epochs in which neither improved.  Not stopped = the epoch cap came first."""
    best_acc, best_loss, chosen, waited = -np.inf, np.inf, 0, 0
    for e, (loss, acc) in enumerate(zip(val_loss, val_accuracy)):
        if acc >= best_acc or loss <= best_loss:
            if acc >= best_acc and loss <= best_loss:
                chosen = e
            best_acc, best_loss, waited = max(acc, best_acc), min(loss, best_loss), 0
        else:
            waited += 1
            if waited == patience:
                return chosen, True
    return chosen, False


def select_epoch(cfg: Config, val_loss, val_accuracy) -> tuple[int, bool]:
    if cfg.selection == "kipf":
        return kipf_stop(val_loss, cfg.window)
    if cfg.selection == "gat":
        return gat_select(val_loss, val_accuracy, cfg.patience)
    return len(val_loss) - 1, False    # "last"


# ----------------------------------------------------------------------------- training

# Epochs per compiled call of ``train_seeds`` (its ``log_every``): Python, the progress bar and
# the divergence check are visited once per this many epochs.  A Cora epoch is a few ms, so a
# call per epoch would be mostly dispatch; the benchmark's row (d) times chunks of this size.
EPOCHS_PER_CALL = 50


def run_key(seed: int):
    return jax.random.PRNGKey(seed)


def make_trainer(cfg: Config, data: NodeData, with_eval: bool = False) -> Trainer:
    """One step = one full-batch epoch on ``data``: the training update alone (what the
    benchmark times), or ``with_eval`` also the dropout-free validation and test pass whose
    numbers ``train_seeds`` records every epoch (``make_loss``).  ``init(key)`` splits the
    run's key (``run_key``) into the init and the dropout keys."""
    optimizer = make_optimizer_for(cfg)
    return Trainer(make_loss(cfg, data, with_eval), optimizer,
                   partial(init_run, lambda key: init_params(cfg, key, data), optimizer))


def init_runs(trainer: Trainer, seeds) -> TrainState:
    """Stacked TrainStates ``[len(seeds), ...]``, each seed's init and dropout keys its own."""
    return jax.vmap(trainer.init)(jnp.stack([run_key(s) for s in seeds]))


def train_seeds(cfg: Config, data: NodeData, seeds, *, log_every: int = EPOCHS_PER_CALL,
                progress=True):
    """Train one model per seed, all vmapped in one compiled program.

    Returns ``(state, history, result)``.  ``history[metric]`` is ``[seeds, epochs]``, where
    epoch e's val/test numbers are those of the parameters after e updates (e = 1..epochs; the
    last one comes from a final evaluation).  ``result`` holds per seed the selected epoch
    (1-based), whether the early-stopping rule fired before ``cfg.epochs`` and the selected
    epoch's val/test accuracy, plus the final predictions.
    """
    seeds = list(seeds)
    trainer = make_trainer(cfg, data, with_eval=True)
    state, history = train(trainer.loss_fn, trainer.optimizer, init_runs(trainer, seeds),
                           cfg.epochs, log_every=log_every, vmapped=True, progress=progress)
    final = jax.device_get(jax.jit(jax.vmap(lambda p: evaluate(cfg, data, p)))(state.params))
    # The loss_fn's metrics at step t describe the parameters after t - 1 updates: shift them
    # by one and append the final evaluation, so that index e - 1 is "after e updates".
    for name in ("train_accuracy", "val_loss", "val_accuracy", "test_accuracy"):
        history[name] = np.concatenate([history[name][:, 1:], final[name][:, None]], axis=1)
    epochs, stopped = zip(*[select_epoch(cfg, vl, va) for vl, va in
                            zip(history["val_loss"], history["val_accuracy"])])
    epochs = list(epochs)
    rows = np.arange(len(seeds))
    result = {
        "seed": np.array(seeds),
        "epoch": np.array(epochs) + 1,
        "stopped_early": np.array(stopped),
        "val_accuracy": history["val_accuracy"][rows, epochs],
        "test_accuracy": history["test_accuracy"][rows, epochs],
        "prediction": final["prediction"],
    }
    return state, history, result


# The per-epoch CSV's columns after seed and epoch: ``loss`` is the training objective of
# update e (with dropout); the others are dropout-free, after e updates.
EPOCH_COLUMNS = ("loss", "train_accuracy", "val_loss", "val_accuracy", "test_accuracy")


def epoch_rows(history: dict, seeds) -> list[dict]:
    """``train_seeds``' history as rows: one per seed and epoch, ``EPOCH_COLUMNS``."""
    epochs = history["loss"].shape[1]
    return [{"seed": int(seed), "epoch": e + 1,
             **{m: float(history[m][i, e]) for m in EPOCH_COLUMNS}}
            for i, seed in enumerate(seeds) for e in range(epochs)]


def seed_rows(result: dict) -> list[dict]:
    """``train_seeds``' result as rows: per seed the selected epoch and its accuracies."""
    return [{"seed": int(s), "epoch": int(e), "stopped_early": bool(x), "val_accuracy": float(v),
             "test_accuracy": float(t)}
            for s, e, x, v, t in zip(result["seed"], result["epoch"], result["stopped_early"],
                                     result["val_accuracy"], result["test_accuracy"])]
