"""The benchmark's tables (``benchmark.md``), from the results ``suite.run`` returns.

Every number of repeated measurements is shown as the median with the range, ``median
(min-max)``, and every target as "met in k of n repeats": a table never shows the best repeat.
"""

from __future__ import annotations

GPU_COMMAND = "python experiments/benchmark.py --run_dir results/benchmark/gpu  # on a CUDA machine"


def span(spread: dict | None, spec: str = ".2f", suffix: str = "") -> str:
    """``median (min-max)`` of a ``harness.spread``; "-" without one."""
    if spread is None:
        return "-"
    m, lo, hi = (format(spread[k], spec) + suffix for k in ("median", "min", "max"))
    return f"{m} ({lo}-{hi})"


def target_cell(r: dict) -> str:
    """``>= 2x: met in k of n`` (repeats whose speed-up reached the target); "-" without one."""
    target = r.get("target")
    if target is None:
        return "-"
    if "met_in" not in r:
        return f">= {target:g}x"
    k, n = r["met_in"]
    return f">= {target:g}x: met in {k} of {n}"


def _fmt(x, spec: str = ".1f") -> str:
    return "-" if x is None else format(x, spec)


def _hours(spread: dict | None) -> str:
    return span(None if spread is None else {k: v / 3600 for k, v in spread.items()},
                suffix=" h")


def header(result: dict, machine: dict) -> str:
    env = result["environment"]
    return (f"Benchmark {env['date']}: {machine['cpu']} ({machine['cores']} cores), JAX "
            f"{machine['jax']} on {machine['backend']}, torch "
            f"{env.get('torch', 'not installed')} ({env.get('torch_threads', '-')} threads), "
            f"{env['clock']} clock; load average at start {env['load_average_start'][0]:.1f}, "
            f"at end {env['load_average_end'][0]:.1f}.")


def comparisons(results: list[dict], whole: list[dict], repeats: int, backend: str) -> list[str]:
    """The table of rows (a)-(e)."""
    lines = [f"Median over {repeats} repeats, (min-max); speed-up: torch / project time of the "
             f"same repeat; a target is met in the repeats whose speed-up reaches it.", "",
             "| comparison | project | reference | project ms | torch ms | speed-up | target "
             "| compile s | peak MB project / torch |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        missing = r.get("missing") or "-"
        lines.append(
            f"| {r['name']} (per {r['unit']}) | {r.get('project_label', missing)} "
            f"| {r.get('torch_label', missing)} | {span(r.get('project_ms'))} "
            f"| {span(r.get('torch_ms'))} | {span(r.get('speedup'), suffix='x')} "
            f"| {target_cell(r)} | {_fmt(r.get('project_compile_s'))} "
            f"| {_fmt(r.get('project_peak_mb'), '.0f')} / {_fmt(r.get('torch_peak_mb'), '.0f')} |")
    for w in whole:
        if w.get("wall_s") is not None:
            lines.append(f"| {w['name']} | `{w['command']}` | | {w['wall_s']:.1f} s wall "
                         f"| | | | {_fmt(w.get('compile_s'))} | |")
        else:
            note = w.get("note") or f"failed (exit {w.get('returncode')})"
            lines.append(f"| {w['name']} | `{w['command']}` | | {note} | | | | | |")
    if backend != "gpu":
        lines.append(f"| GPU rows | not measured (no GPU here): `{GPU_COMMAND}` | | | | | | | |")
    return lines


def sweep(rows: list[dict]) -> list[str]:
    """The table of row (f): per model, and the whole protocol projected."""
    if not rows:
        return []
    *models, total = rows
    repeats = len(models[0]["project_ms_runs"])
    lines = ["", f"Study sweep (row f): median over {repeats} repeats, (min-max); "
             f"{models[0]['runs']} runs, projected to {models[0]['protocol_steps']} steps; "
             f"repeat i of the project is paired with repeat i of torch.", "",
             "| comparison | project | reference | project ms | torch ms | speed-up | target |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r in models:
        lines.append(f"| {r['name']} (per run-step) | {r['project_label']} | "
                     f"{r.get('torch_label', '-')} | {span(r.get('project_ms'))} | "
                     f"{span(r.get('torch_ms'))} | {span(r.get('speedup'), suffix='x')} | - |")
    lines.append(f"| {total['name']}, projected | `{total['command']}` | serial torch | "
                 f"{_hours(total.get('project_projected_s'))} | "
                 f"{_hours(total.get('torch_projected_s'))} | "
                 f"{span(total.get('speedup'), suffix='x')} | {target_cell(total)} |")
    return lines


def markdown(result: dict, machine: dict) -> str:
    """``benchmark.md``: the header, the comparisons, the study sweep.  ``machine``: the run
    record's (``files.machine``)."""
    lines = [header(result, machine), ""]
    lines += comparisons(result["results"], result["whole_runs"],
                         result["settings"]["repeats"], machine["backend"])
    lines += sweep(result["study_sweep"])
    return "\n".join(lines) + "\n"
