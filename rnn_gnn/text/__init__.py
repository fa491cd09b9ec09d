"""Part 2: a character-level LSTM that learns a book and writes text.

Modules, bottom up (each imports only those above it):

``corpus``      books -> vocabulary and int ids; named Gutenberg books; random training windows
``model``       the stacked LSTM (Part 1 cells): ``init_params``, ``forward``, ``step``,
                ``make_loss``, ``transfer_vocab`` (fine-tuning on a text with other characters)
``sample``      temperature / top-k / top-p / greedy sampling in compiled 256-character chunks:
                ``sample`` (one program), ``write`` (any length, nothing recompiled), ``draw``
``config``      ``Config`` (must match on resume) and ``Monitor`` (steps and intervals, free on
                resume), the ``QUICK`` preset, validation, default run directories
``trainer``     ``make_trainer(cfg, data, vocab_size)``: the ``train.Trainer`` of a run
``store``       model files, the shipped Grimm model (``models/``), ``load_model``
``generation``  the model to write with, the prime, texts, columns (``experiments/generate.py``)
``records``     history rows, validation sets and scores, samples, the summary
``figures``     the learning curve (with the held-out target on Grimm)
``runner``      ``train_run`` (train, resume, fine-tune into a run directory) and
                ``train_corpus`` (``experiments/train_text.py``)

``runner`` and ``figures`` load matplotlib and are not imported here: ``from rnn_gnn.text
import runner``.
"""

from rnn_gnn.text import config, corpus, generation, model, sample, store, trainer  # noqa: F401
from rnn_gnn.text.config import Config, Monitor  # noqa: F401
from rnn_gnn.text.trainer import make_trainer  # noqa: F401
