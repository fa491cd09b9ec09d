"""rnn_gnn: recurrent and graph neural networks as pure JAX functions.

Part 1  ``cells``, ``bptt``, ``palindrome``  vanilla RNN vs LSTM on a long-range memory task
Part 2  ``text``                   a character-level LSTM that writes text
Part 3  ``graph``                  GCN and GAT on ``jraph.GraphsTuple``
Shared  bottom up: ``errors``, ``files``; ``optimizers``, ``distributed``, ``train`` (the one
        training loop), ``checkpoint``, ``plotting``; ``cli``
"""

__version__ = "0.1.0"
