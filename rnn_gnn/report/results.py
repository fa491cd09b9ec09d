"""Reading the result files committed under docs/results/: every failure is one
``DataError`` line that names the file (shown relative to the working directory)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from rnn_gnn.errors import DataError


class Source(NamedTuple):
    """What a generated section or figure is made from."""
    runs: tuple[str, ...]             # result directories under docs/results/ ("." : itself)
    render: Callable[..., object]     # render(*run_dirs) -> markdown text, or a Figure
    # Files of each run directory a figure is drawn from that runs committed before their
    # experiment wrote them lack; until they are there, a figure never drawn from data is
    # listed as not yet drawn (rnn_gnn.report.render.update).
    needs: tuple[str, ...] = ()


def read_json(path: Path) -> dict:
    return _read(path, json.loads)


def read_csv(path: Path) -> list[dict]:
    return _read(path, lambda text: list(csv.DictReader(io.StringIO(text))))


def read_lines(path: Path) -> list[str]:
    return _read(path, str.splitlines)


def read_npz(path: Path) -> dict:
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DataError(f"{shown(path)} is missing") from None
    except (OSError, ValueError) as e:
        raise DataError(f"{shown(path)} is not a readable .npz file ({e})") from None


def _read(path: Path, parse):
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{shown(path)} is missing") from None
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as e:
        raise DataError(f"{shown(path)} is not readable ({type(e).__name__}: {e})") from None


def lookup(record: dict, *keys, where: Path):
    """``record[k0][k1]...``; a missing key is a ``DataError`` naming the file."""
    value = record
    for k in keys:
        if not isinstance(value, dict) or k not in value:
            raise DataError(f"{shown(where)} has no {'.'.join(map(str, keys))}")
        value = value[k]
    return value


def shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
