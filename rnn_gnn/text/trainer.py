"""What the training loop (and the benchmark) needs of a character model: ``make_trainer``.

``make_trainer(cfg, data, vocab_size)`` is a ``train.Trainer``: the loss that draws random
windows of ``data`` inside the compiled step, the optimizer (the named Optax optimizer with
clipping and weight averaging, on the original's staircase schedule), and ``init(key)``, a
fresh state.  The run starts from ``init(PRNGKey(cfg.seed))`` (``initial_state``), which is also
the structure every checkpoint is read into.
"""

from __future__ import annotations

import jax
import optax

from rnn_gnn.optimizers import make_optimizer
from rnn_gnn.text.config import Config
from rnn_gnn.text.model import init_params, make_loss
from rnn_gnn.train import Trainer, TrainState, init_state


def schedule(cfg: Config):
    """lr * decay ** floor(step / decay_steps): the original StepLR(5000, 0.96)."""
    return optax.exponential_decay(cfg.learning_rate, cfg.decay_steps, cfg.learning_rate_decay,
                                   staircase=True)


def make_trainer(cfg: Config, data, vocab_size: int) -> Trainer:
    """The ``Trainer`` of ``cfg`` on ``data`` (int32 ids ``[N]``, the loop's ``task``, from
    which the loss draws ``batch_size`` windows of ``seq_length`` per step) over a vocabulary
    of ``vocab_size`` characters.  ``init(key)`` splits ``key`` into the initialisation's key
    and the state's own (batches, dropout)."""
    optimizer = make_optimizer(cfg.optimizer, schedule(cfg), cfg.max_norm,
                               average_decay=cfg.average_decay)

    def init(key) -> TrainState:
        init_key, train_key = jax.random.split(key)
        params = init_params(init_key, vocab_size, cfg.num_hidden, cfg.num_layers,
                             cfg.embed_dim, cfg.init)
        return init_state(params, optimizer, train_key)

    return Trainer(make_loss(cfg.batch_size, cfg.seq_length, cfg.dropout), optimizer, init, data)


def initial_state(cfg: Config, vocab_size: int) -> TrainState:
    """The state at step 0 of a run with ``cfg`` (seeded by ``cfg.seed``)."""
    return make_trainer(cfg, None, vocab_size).init(jax.random.PRNGKey(cfg.seed))
