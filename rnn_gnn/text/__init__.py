"""Part 2: a character-level LSTM that learns a book and writes text.

``corpus``  books -> vocabulary and int ids; named Gutenberg books; random training windows
``model``   the stacked LSTM (Part 1 cells): ``init_params``, ``forward``, ``step``, ``make_loss``,
            ``transfer_vocab`` (fine-tuning on a text with other characters)
``sample``  temperature / top-k / top-p / greedy sampling in compiled 256-character chunks:
            ``sample`` (one program), ``write`` (any length, nothing recompiled), ``draw``
``run``     ``Config`` (original defaults + dropout, averaging), ``train_run``, ``load_model``
            (run directories, checkpoints, model files, ``"shipped"``: the Grimm model in
            ``models/``)
"""

from rnn_gnn.text import corpus, model, run, sample  # noqa: F401  (the submodules, by name)
