"""Part 1: the vanilla RNN against the LSTM on palindromes, a long-range memory task.

Read bottom-up:

``data``             palindromes and their encodings (``palindrome_batch``, ``step_mask``)
``model``            the cell's ``apply`` (autodiff or hand BPTT), ``init_params``, ``make_loss``
``runner``           ``Config``, ``make_trainer`` (one program per length), ``train_sweep``
                     over (length, seed), ``evaluate``, checkpointed ``train_resumable``
``gradients``        gradient flow through time (questions 1.1, clipping) and its study
``optimizer_study``  SGD, momentum and adaptive rates compared (question 1.4)
``figures``          every Part 1 figure

The names below are Part 1's public API (``from rnn_gnn import palindrome``); the studies and
figures are imported as modules (``from rnn_gnn.palindrome import gradients``).
"""

from rnn_gnn.palindrome.data import (NUM_CLASSES, encode, palindrome_batch, palindromes,
                                     step_mask)
from rnn_gnn.palindrome.model import init_params, make_loss, model_apply
from rnn_gnn.palindrome.runner import (FULL, Config, Part, Sweep, evaluate, figure_curves,
                                       init_sweep, make_trainer, plan, put_back, run_key,
                                       tabulate, take, train_resumable, train_sweep)

__all__ = ["NUM_CLASSES", "encode", "palindrome_batch", "palindromes", "step_mask",
           "init_params", "make_loss", "model_apply", "FULL", "Config", "Part", "Sweep",
           "evaluate", "figure_curves", "init_sweep", "make_trainer", "plan", "put_back", "run_key", "tabulate",
           "take", "train_resumable", "train_sweep"]
