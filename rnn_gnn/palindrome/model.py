"""Part 1's models and loss: a cell of ``rnn_gnn.cells`` (or its hand BPTT, ``rnn_gnn.bptt``)
read over the T-1 input digits, and cross-entropy on the prediction of the last digit.

``cfg`` below is a ``runner.Config``; only its model fields are read here.
"""

from __future__ import annotations

from rnn_gnn import bptt
from rnn_gnn.cells import MODELS
from rnn_gnn.distributed import shard_batch
from rnn_gnn.palindrome.data import NUM_CLASSES, palindrome_batch, step_mask
from rnn_gnn.train import softmax_cross_entropy


def model_apply(cfg):
    """The model's ``apply(params, x, mask)`` with the configured backward pass."""
    return bptt.MANUAL[cfg.model_type] if cfg.backward == "manual" else MODELS[cfg.model_type].apply


def init_params(cfg, key):
    """Fresh parameters of ``cfg``'s model (``rnn_gnn.cells``: shapes in its ``*_init``)."""
    extra = {"forget_bias": cfg.forget_bias} if cfg.model_type == "lstm" else {}
    return MODELS[cfg.model_type].init(key, cfg.input_dim, cfg.num_hidden, NUM_CLASSES,
                                       init=cfg.init, **extra)


def make_loss(apply, batch_size: int, input_dim: int, max_length: int,
              length: int | None = None):
    """``loss_fn(params, key, task)`` for the training loop: cross-entropy on the last step.

    Without ``length``, ``task`` is the run's palindrome length T (traced), so runs of
    different lengths share one program, padded to ``max_length`` and masked.  With a static
    ``length`` every run has that length and the program runs only its T-1 steps; its batches
    are the same numbers the padded program draws (the padded batch with the padding cut off),
    so a run's results do not depend on which of the two trained it.
    """
    def loss_fn(params, key, task):
        x, y = shard_batch(palindrome_batch(key, batch_size, task if length is None else length,
                                            input_dim, max_length))
        if length is None:
            logits = apply(params, x, mask=step_mask(task, max_length))
        else:
            logits = apply(params, x[:, max_length - length:])
        loss, accuracy = softmax_cross_entropy(logits, y)
        return loss, {"accuracy": accuracy}
    return loss_fn
