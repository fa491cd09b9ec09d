"""Part 2: a character-level LSTM that learns a book and writes text.

``corpus``  books -> vocabulary and int ids; named Gutenberg books; random training windows
``model``   the stacked LSTM (Part 1 cells): ``init_params``, ``forward``, ``step``, ``make_loss``
``sample``  temperature / top-k / greedy sampling as one compiled scan: ``sample``, ``draw``
``run``     ``Config`` (original defaults + dropout, averaging), ``train_run``, ``load_model``
"""

from rnn_gnn.text import corpus, model, run, sample  # noqa: F401  (the submodules, by name)
