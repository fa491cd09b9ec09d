"""One benchmark run: the chosen rows, timed in this process, summarised per repeat.

``run(settings)`` returns what ``benchmark.json`` holds besides the run record: the settings,
the environment (torch, clock, load average), every comparison with every repeat's raw
numbers and their summary (``harness.summarize``), the whole runs of row (e), the study sweep
of row (f), and ``wall_seconds``: how long the run took (README's table of experiments).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import jax

from rnn_gnn import cli
from rnn_gnn.benchmark import rows
from rnn_gnn.benchmark import torch_reference
from rnn_gnn.benchmark.harness import peak_memory_mb, summarize, time_case
from rnn_gnn.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Settings:
    """How the benchmark measures."""
    rows: str = cli.field(rows.ROWS, "which rows, e.g. 'ab' or 'a,c'")
    repeats: int = cli.field(15, "timed rounds per comparison, each side once per round",
                             type=cli.positive(int))
    warmup: int = cli.field(3, "untimed calls of each side before the rounds",
                            type=cli.positive(int))
    threads: int = cli.field(0, "torch threads (0: torch's own); with 1, pin the whole run to "
                                "one core (taskset -c 0) so that JAX uses one too")
    clock: str = cli.field("wall", "cpu: this process's CPU time, steadier than wall time on "
                                   "a machine shared with other jobs (meaningful with --threads "
                                   "1 under taskset)", choices=("wall", "cpu"))
    memory: bool = True   # measure each side's peak memory in a fresh process


def chosen_rows(settings: Settings) -> list[str]:
    """The rows of ``settings.rows`` in order; ``ConfigError`` for a row that does not exist."""
    chosen = [r for r in settings.rows.replace(",", "") if r.strip()]
    bad = sorted(set(chosen) - set(rows.ROWS))
    if bad:
        raise ConfigError(f"rows: unknown row(s) {', '.join(bad)}; choose from "
                          f"{', '.join(rows.ROWS)}")
    if settings.threads < 0:
        raise ConfigError(f"threads must be >= 0 (0: torch's own), got {settings.threads}")
    return chosen


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ms(spread: dict | None) -> str:
    return "-" if spread is None else f"{spread['median']:.2f}"


def environment(settings: Settings) -> dict:
    """What ``files.machine`` does not say: the date, Python, torch, the clock, the load."""
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "python": platform.python_version(), "clock": settings.clock,
            "load_average_start": os.getloadavg(), **torch_reference.environment(settings.threads)}


def run(settings: Settings, *, data_dir: str | Path | None = None,
        root: str | Path | None = None) -> dict:
    """Measure the rows of ``settings``.  ``data_dir``: the Planetoid files for row (d)
    (None: ``$RNN_GNN_PLANETOID``, else the download cache; the row is skipped with the reason
    without them); ``root``: the checkout whose experiments row (e) runs."""
    start = time.perf_counter()
    chosen = chosen_rows(settings)
    env = environment(settings)
    with_torch = "torch" in env
    if not with_torch:
        log("torch not installed: only the project's times are measured "
            "(pip install -e '.[bench]')")
    data_dir = None if data_dir is None else str(data_dir)
    clock = time.process_time if settings.clock == "cpu" else time.perf_counter
    platform_name = "gpu" if jax.default_backend() == "gpu" else "cpu"
    results, built = [], {}
    for row in (r for r in chosen if r in rows.TIMED):
        for index, case in enumerate(rows.cases(row, data_dir)):
            log(f"({row}) {case.name} ...")
            target = rows.TARGETS[platform_name].get(case.name)
            r = {"row": row, "name": case.name, "unit": case.unit, "target": target}
            if case.missing:
                r["missing"] = case.missing
            if case.project is not None:
                times, labels = time_case(case, settings.warmup, settings.repeats, clock,
                                          built, with_torch)
                r.update(labels, **summarize(times, target))
                if settings.memory:
                    r["project_peak_mb"] = peak_memory_mb(rows.side, row, index, "project",
                                                          data_dir)
                    if "torch_label" in r:
                        r["torch_peak_mb"] = peak_memory_mb(rows.side, row, index, "torch",
                                                            data_dir)
            results.append(r)
            log(f"    project {_ms(r.get('project_ms'))} ms, torch {_ms(r.get('torch_ms'))} ms,"
                f" speed-up {_ms(r.get('speedup'))}x")
    whole = rows.row_e(platform_name, root) if "e" in chosen else []
    sweep = rows.row_f(with_torch, log) if "f" in chosen else []
    env["load_average_end"] = os.getloadavg()
    return {"settings": dataclasses.asdict(settings), "environment": env, "results": results,
            "whole_runs": whole, "study_sweep": sweep,
            "wall_seconds": round(time.perf_counter() - start, 1)}
