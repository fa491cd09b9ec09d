"""The docs from the data: every results table and figure of README.md and docs/*.md, rebuilt
from the result files committed under docs/results/ (``experiments/report.py``).

Read bottom-up:

``results``  reading a committed result file: one ``DataError`` line naming the file when it
             is missing, unreadable or lacks a key; ``Source`` (which result directories a
             section or figure is made from, and the function that makes it)
``tables``   the number formats and one formatter per results table; ``TABLES``; README's
             table of experiments from ``experiments.toml`` (data: command, question,
             output, where its committed run recorded its time)
``figures``  the figures, drawn by the parts' own plotting functions from the result files,
             and their fingerprints; ``FIGURES``
``render``   the generated sections of the docs (``<!-- report:NAME -->`` markers), the
             figures' files, and ``update``: rebuild or check all of them

Adding a table or a figure is one entry in ``TABLES`` or ``FIGURES``: commit the run's small
files under docs/results/<run>/ and name them there.  No network and nothing outside the
repository is needed.
"""
