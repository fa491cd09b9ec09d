"""Result files and run records (the bottom layer: imports nothing of ours).

Every file is written atomically: a reader, or a run killed at any moment, sees the old file or
the new one, whole, never a mix.  Result files (``write_bytes``, ``write_json``, ``write_csv``,
``write_npz``, ``save_figure``) are written by the main process only: in a multi-process job
every process computes the same results, and one copy is enough.  ``atomic_write_bytes``
itself writes in every process (for caches of downloads).
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Sequence

import jax
import numpy as np


def is_main_process() -> bool:
    """Process 0 of a multi-process job (always true for a single process)."""
    return jax.process_index() == 0


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file, whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; results are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path, data: bytes) -> None:
    """A result file, written atomically by the main process only."""
    if is_main_process():
        atomic_write_bytes(path, data)


def write_json(path, obj) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, default=_jsonable) + "\n").encode())


def write_csv(path, rows: Iterable[dict]) -> None:
    """Rows as CSV; the columns are every key of any row, in order of first appearance (a
    row without one leaves it empty)."""
    rows = list(rows)
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(k for r in rows for k in r)),
                                restval="")
        writer.writeheader()
        writer.writerows(rows)
    write_bytes(path, buf.getvalue().encode())


def write_npz(path, arrays: dict) -> None:
    """Named arrays as one compressed .npz (``np.load`` reads them back)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    write_bytes(path, buf.getvalue())


def save_figure(fig, path) -> None:
    """Save a matplotlib figure atomically (format by the path's suffix), main process only."""
    if not is_main_process():
        return
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", dpi=130, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


# ----------------------------------------------------------------------------- run records

def machine() -> dict:
    """What a result was measured on: CPU model (with its family and model numbers and widest
    vector unit: "AMD EPYC" alone names CPUs three times apart), usable cores, JAX backend and
    devices."""
    cpu = {"cpu": platform.processor() or platform.machine()}
    try:
        with open("/proc/cpuinfo") as f:
            info = dict(line.split(":", 1) for line in f.read().split("\n\n")[0].splitlines()
                        if ":" in line)
        info = {k.strip(): v.strip() for k, v in info.items()}
        flags = info.get("flags", "").split()
        cpu = {"cpu": info.get("model name", cpu["cpu"]),
               "cpu_family": info.get("cpu family"), "cpu_model": info.get("model"),
               "vector": next((f for f in ("avx512f", "avx2", "sse4_2") if f in flags), None)}
    except OSError:
        pass
    devices = jax.devices()
    return {**cpu, "cores": len(os.sched_getaffinity(0)),
            "backend": devices[0].platform, "device_kind": devices[0].device_kind,
            "devices": len(devices), "jax": jax.__version__}


def command(argv: Sequence[str] | None = None) -> str:
    """The command line that made a result: ``python <script> <args>`` (``argv``: the args,
    default ``sys.argv[1:]``)."""
    script = sys.argv[0] if sys.argv and sys.argv[0] else "python"
    if os.path.isabs(script):   # keep the record free of this machine's paths
        try:
            script = os.path.relpath(script)
        except ValueError:
            pass
    return " ".join(["python", script, *(sys.argv[1:] if argv is None else argv)])


def run_record(argv: Sequence[str] | None = None) -> dict:
    """What every summary.json starts with: the command and the machine."""
    return {"command": command(argv), "machine": machine()}


def compile_timer() -> Callable[[], float]:
    """Start adding up XLA compile time; the returned function gives the seconds so far."""
    total = [0.0]

    def listen(event: str, seconds: float, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            total[0] += seconds
    jax.monitoring.register_event_duration_secs_listener(listen)
    return lambda: total[0]
