"""The benchmark: the project's compiled steps against PyTorch twins (``experiments/benchmark.py``).

Not imported by ``import rnn_gnn``; torch stays optional (imported inside ``torch_reference``).

harness          timing two sides interleaved, honest summaries (median, min-max, met in k of n),
                 peak memory in a fresh process
torch_reference  the PyTorch twins of each step
rows             the rows (a)-(f): sizes, targets, the project's side through each part's
                 ``make_trainer``
suite            ``Settings`` and ``run``: one benchmark run, every repeat's raw numbers kept
report           the markdown tables
"""
