"""The generated sections of README.md and docs/*.md and the figures of docs/figures/,
rebuilt or checked against what docs/results/ gives (``update``).

A generated section sits between ``<!-- report:NAME -->`` and ``<!-- /report:NAME -->`` lines
(``tables.TABLES[NAME]``); the prose around the markers is never touched.  The check also keeps
docs/figures/ and the docs in step: every PNG there is shown by a doc, and every image a doc
shows exists.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from rnn_gnn.errors import DataError
from rnn_gnn.files import atomic_write_bytes
from rnn_gnn.plotting import plt
from rnn_gnn.report.figures import FIGURES, fingerprint, png_fingerprint, render_png
from rnn_gnn.report.results import Source, shown
from rnn_gnn.report.tables import TABLES

RESULTS = Path("docs") / "results"
FIGURE_DIR = Path("docs") / "figures"
DOCS = ("README.md", "docs/*.md")

SECTION = re.compile(r"^<!-- report:(\w+) -->\n(.*?)^<!-- /report:\1 -->$", re.S | re.M)
OPENING = re.compile(r"^<!-- /?report:(\w+) -->$", re.M)
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+\.png)\)")


def render(source: Source, root: Path):
    """What ``source`` gives from the result directories under ``root``/docs/results/."""
    dirs = [root / RESULTS / run for run in source.runs]
    for d in dirs:
        if not d.is_dir():
            raise DataError(f"{shown(d)} is missing (the result directory this section is "
                            f"made from)")
    try:
        return source.render(*dirs)
    except (KeyError, IndexError, TypeError, ValueError) as e:   # a file of another format
        raise DataError(f"{', '.join(map(shown, dirs))}: not the result files expected "
                        f"({type(e).__name__}: {e})") from None


def has_data(source: Source, root: Path) -> bool:
    """Whether every result directory of ``source`` exists and holds the files it ``needs``."""
    dirs = [root / RESULTS / run for run in source.runs]
    return all(d.is_dir() and all((d / f).is_file() for f in source.needs) for d in dirs)


def doc_paths(root: Path) -> list[Path]:
    return sorted(p for pattern in DOCS for p in root.glob(pattern))


def rebuild(text: str, tables: dict, where: Path) -> tuple[str, list[str]]:
    """``text`` with every generated section rewritten; and the names of those that changed."""
    found = SECTION.findall(text)
    if len(OPENING.findall(text)) != 2 * len(found):
        raise DataError(f"{shown(where)}: a report marker without its pair (each section is "
                        f"<!-- report:NAME --> ... <!-- /report:NAME --> on lines of their own)")
    unknown = [name for name, _ in found if name not in tables]
    if unknown:
        raise DataError(f"{shown(where)}: generated section {unknown[0]!r} has no entry in "
                        f"rnn_gnn.report.tables.TABLES")
    changed = [name for name, body in found if body != tables[name]]
    new = SECTION.sub(lambda m: f"<!-- report:{m[1]} -->\n{tables[m[1]]}<!-- /report:{m[1]} -->",
                      text)
    return new, changed


def figure_links(root: Path) -> tuple[set[Path], list[str]]:
    """The PNGs the docs show (resolved), and a line for each one that does not exist."""
    shown_pngs, broken = set(), []
    for doc in doc_paths(root):
        for link in IMAGE.findall(doc.read_text(encoding="utf-8")):
            if "://" in link:
                continue
            path = (doc.parent / link).resolve()
            shown_pngs.add(path)
            if not path.is_file():
                broken.append(f"{doc.relative_to(root)}: shows {link}, which does not exist")
    return shown_pngs, broken


class Outcome(NamedTuple):
    stale: list[str]      # a section or figure that differed from its data (rebuilt unless check)
    problems: list[str]   # a figure no doc shows, an image that does not exist
    undrawn: list[str]    # the PNGs of docs/figures/ not yet drawn from committed data: in no
    #                       FIGURES entry, or drawn by hand while their data are not committed


def _from(runs) -> str:
    return ", ".join(str(RESULTS / r) for r in runs)   # "." is docs/results/ itself


def update(root: Path, check: bool = False) -> Outcome:
    """Rebuild every generated section and figure under ``root`` that differs from what its
    data give (``check``: change nothing); a missing or unreadable result file, or a marker
    without its pair or its entry, raises ``DataError``.

    A figure of ``FIGURES`` whose PNG carries no fingerprint (never drawn from data) while its
    run directory or a file it ``needs`` is not committed yet is left as it is, and listed as
    not yet drawn; once it has been drawn from data, its data missing is an error."""
    stale = []
    tables = {name: render(source, root) for name, source in TABLES.items()}
    for doc in doc_paths(root):
        new, changed = rebuild(doc.read_text(encoding="utf-8"), tables, doc)
        stale += [f"{doc.relative_to(root)}: table {name!r} differs from what "
                  f"{_from(TABLES[name].runs)} gives" for name in changed]
        if changed and not check:
            atomic_write_bytes(doc, new.encode("utf-8"))

    pending = []
    for name, source in FIGURES.items():
        path = root / FIGURE_DIR / name
        committed = png_fingerprint(path)
        if committed is None and not has_data(source, root):
            pending.append(name)
            continue
        fig = render(source, root)
        if committed != fingerprint(fig):
            stale.append(f"{path.relative_to(root)}: figure differs from what "
                         f"{_from(source.runs)} gives")
            if not check:
                atomic_write_bytes(path, render_png(fig))
        plt.close(fig)

    pngs = sorted((root / FIGURE_DIR).glob("*.png"))
    shown_pngs, broken = figure_links(root)
    orphans = [f"{FIGURE_DIR / p.name}: shown by no doc" for p in pngs
               if p.resolve() not in shown_pngs]
    return Outcome(stale, broken + orphans,
                   [p.name for p in pngs if p.name not in FIGURES or p.name in pending])
