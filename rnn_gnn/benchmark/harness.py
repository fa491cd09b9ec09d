"""Timing two implementations of the same work, and summarising repeated measurements honestly.

A comparison (``Case``) has two sides (``Impl``): the project and its reference.  ``time_case``
builds both once, warms them up, then runs ``repeats`` rounds, each side once per round in
alternating order (so that a slow drift of the machine hits both), and gives one time per unit
of work per round.  ``summarize`` turns those rounds into what a table may show: the median
with the spread (min-max) of each side and of the per-round speed-up, and in how many rounds a
target was met; never the best round.  ``peak_memory_mb`` measures what one side needs in a
fresh process.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import statistics
import time
from typing import Callable, Sequence

import jax


@dataclasses.dataclass
class Impl:
    """One side of a comparison.  ``build()`` -> ``(run, compile_s)``; ``run()`` does ``units``
    units of work and returns when they are finished; ``start()`` brings up its runtime (JAX's
    client, torch), which is not the side's own memory."""
    label: str
    build: Callable[[], tuple[Callable[[], None], float | None]]
    units: int = 1
    start: Callable[[], object] = lambda: None


@dataclasses.dataclass
class Case:
    name: str          # the comparison, e.g. "palindrome LSTM"
    unit: str          # what one unit of work is, e.g. "step"
    project: Impl | None
    reference: Impl | None
    missing: str = ""  # why a side is absent


SIDES = ("project", "torch")


def compiled(fn, *args, **kwargs):
    """``fn`` (a jitted function) compiled for ``args``, and the seconds it took."""
    start = time.perf_counter()
    out = fn.lower(*args, **kwargs).compile()
    return out, time.perf_counter() - start


def looping(step, state, *args):
    """``run()`` that feeds ``step(state, *args) -> (state, ...)`` its own output (donated
    buffers stay valid) and waits for the result."""
    box = [state]

    def run():
        box[0] = step(box[0], *args)[0]
        jax.block_until_ready(box[0])
    return run


def time_case(case: Case, warmup: int, repeats: int, clock=time.perf_counter,
              built: dict | None = None, reference: bool = True) -> tuple[dict, dict]:
    """``(times, info)``: seconds per unit of each side, one per round (``times[side]``), and
    each side's label and compile seconds.  ``built`` (label -> ``build()``'s result) lets a
    side shared by two comparisons compile once; ``reference=False`` times the project alone."""
    built = {} if built is None else built
    runs, info = {}, {}
    for side, impl in zip(SIDES, (case.project, case.reference)):
        if impl is None or (side != "project" and not reference):
            continue
        if impl.label not in built:
            built[impl.label] = impl.build()
        run, compile_s = built[impl.label]
        runs[side] = (run, impl.units)
        info[f"{side}_label"] = impl.label
        if compile_s is not None:
            info[f"{side}_compile_s"] = round(compile_s, 2)
    for run, _ in runs.values():
        for _ in range(warmup):
            run()
    times = {side: [] for side in runs}
    for r in range(repeats):
        for side in (list(runs) if r % 2 == 0 else list(runs)[::-1]):   # cancel slow drifts
            run, units = runs[side]
            start = clock()
            run()
            times[side].append((clock() - start) / units)
    return times, info


def spread(values: Sequence[float]) -> dict:
    """The median and the range of repeated measurements."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(times: dict, target: float | None = None, unit: str = "ms",
              scale: float = 1e3) -> dict:
    """What a table shows of ``times`` (``{"project": seconds per round, "torch": ...}``):
    every round's value in ``unit`` (seconds x ``scale``: ``<side>_<unit>_runs``), their
    ``spread`` (``<side>_<unit>``), the speed-up of each round (torch / project time of the same
    round, ``speedups``) and its spread, and ``met_in = [k, n]``: the rounds of n whose
    speed-up reached ``target``."""
    out = {}
    for side in SIDES:
        if times.get(side):
            out[f"{side}_{unit}_runs"] = [t * scale for t in times[side]]
            out[f"{side}_{unit}"] = spread(out[f"{side}_{unit}_runs"])
    if times.get("project") and times.get("torch"):
        out["speedups"] = [t / p for p, t in zip(times["project"], times["torch"])]
        out["speedup"] = spread(out["speedups"])
        if target is not None:
            out["met_in"] = [sum(s >= target for s in out["speedups"]), len(out["speedups"])]
    return out


# ----------------------------------------------------------------------------- memory

def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _memory_child(make_impl, args, queue):
    """In a fresh process: RSS before building, peak RSS while running the warm side."""
    impl = make_impl(*args)
    impl.start()
    before = _rss_kb("VmRSS")
    run, _ = impl.build()
    run()
    with open("/proc/self/clear_refs", "w") as f:  # reset the peak to the current RSS
        f.write("5")
    for _ in range(3):
        run()
    queue.put((_rss_kb("VmHWM") - before) / 1024)


def peak_memory_mb(make_impl: Callable[..., Impl], *args) -> float | None:
    """The resident memory (MB) that the ``Impl`` of ``make_impl(*args)`` (a module-level
    function, rebuilt in a fresh process) needs to hold and run its work once warm; None where
    Linux's peak-RSS reset is missing or the process failed."""
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_memory_child, args=(make_impl, args, queue))
    child.start()
    child.join()
    return round(queue.get(), 1) if child.exitcode == 0 and not queue.empty() else None
