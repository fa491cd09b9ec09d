"""The benchmark's machinery, on fixed fake timings and tiny sizes (nothing here times anything
that matters): the honest summaries, the tables, the optional torch, the CLI's errors."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

import jax
import pytest

from conftest import ROOT, load_experiment
from rnn_gnn import cli, files, palindrome
from rnn_gnn.benchmark import report, rows, suite, torch_reference
from rnn_gnn.benchmark.harness import Case, Impl, spread, summarize, time_case
from rnn_gnn.graph import classify
from rnn_gnn.report import tables

HAS_TORCH = torch_reference.torch() is not None


# ----------------------------------------------------------------------------- summaries

def test_summary_is_the_median_with_its_range_and_met_k_of_n():
    times = {"project": [0.010, 0.012, 0.011, 0.020], "torch": [0.020, 0.018, 0.033, 0.030]}
    s = summarize(times, target=2.0)
    assert s["project_ms_runs"] == pytest.approx([10, 12, 11, 20])
    assert s["project_ms"] == pytest.approx({"median": 11.5, "min": 10, "max": 20})
    assert s["torch_ms"] == pytest.approx({"median": 25.0, "min": 18, "max": 33})
    # The speed-up of each round, paired: 2.0, 1.5, 3.0, 1.5; the best round (3.0) is only
    # the top of the range.
    assert s["speedups"] == pytest.approx([2.0, 1.5, 3.0, 1.5])
    assert s["speedup"] == pytest.approx({"median": 1.75, "min": 1.5, "max": 3.0})
    assert s["met_in"] == [2, 4]
    assert "met_in" not in summarize(times)
    alone = summarize({"project": times["project"]}, target=2.0)
    assert "speedup" not in alone and "met_in" not in alone and "torch_ms" not in alone


def test_spread():
    assert spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0}


def test_time_case_interleaves_rounds_and_divides_by_units():
    now, calls, builds = [0.0], [], []

    def side(name, seconds):
        def build():
            builds.append(name)

            def run():
                calls.append(name)
                now[0] += seconds
            return run, 1.5 if name == "p" else None
        return build

    project = Impl("p", side("p", 0.004), units=2)
    case = Case("x", "step", project, Impl("t", side("t", 0.010)))
    built = {}
    times, info = time_case(case, warmup=1, repeats=3, clock=lambda: now[0], built=built)
    assert calls == ["p", "t", "p", "t", "t", "p", "p", "t"]   # warm-up, then alternating
    assert times["project"] == pytest.approx([0.002] * 3)
    assert times["torch"] == pytest.approx([0.010] * 3)
    assert info == {"project_label": "p", "project_compile_s": 1.5, "torch_label": "t"}
    times, _ = time_case(Case("y", "step", project, None), 0, 2, lambda: now[0], built)
    assert builds == ["p", "t"] and list(times) == ["project"]    # a shared side builds once
    times, _ = time_case(case, 0, 2, lambda: now[0], built, reference=False)
    assert list(times) == ["project"]


def test_sweep_total_projects_every_repeat():
    models = [{"project_ms_runs": [1.0, 2.0], "torch_ms_runs": [2.0, 6.0]},
              {"project_ms_runs": [10.0, 10.0], "torch_ms_runs": [20.0, 10.0]}]
    total = rows.sweep_total(models)
    scale = rows.SWEEP["protocol_steps"] * len(rows.SWEEP["lengths"]) * rows.SWEEP["seeds"]
    assert total["project_projected_s_runs"] == pytest.approx([11 * scale / 1e3,
                                                               12 * scale / 1e3])
    assert total["speedups"] == pytest.approx([2.0, 16 / 12])
    assert total["met_in"] == [1, 2] and total["target"] == rows.SWEEP_TARGET
    assert total["project_projected_s"]["median"] == pytest.approx(11.5 * scale / 1e3)


# ----------------------------------------------------------------------------- tables

MACHINE = {"cpu": "Test CPU", "cores": 2, "jax": "0.0", "backend": "cpu"}
RESULT = {
    "settings": {"repeats": 4},
    "environment": {"date": "2026-01-01T00:00:00", "clock": "wall", "torch": "2.13.0",
                    "torch_threads": 2, "load_average_start": [1.0], "load_average_end": [1.5]},
    "results": [
        {"row": "a", "name": "palindrome RNN", "unit": "step", "target": 2.0,
         "project_label": "rnn_gnn rnn", "torch_label": "torch loop.RNN",
         "project_compile_s": 1.8, "project_peak_mb": 206.0, "torch_peak_mb": 99.0,
         **summarize({"project": [0.004, 0.004, 0.004, 0.004],
                      "torch": [0.00692, 0.00716, 0.00836, 0.00848]}, 2.0)},
        {"row": "d", "name": "GCN epoch Cora", "unit": "epoch", "target": 2.0,
         "missing": "Cora not found (no files)"},
    ],
    "whole_runs": [{"name": "default palindrome run", "command": "python x.py", "wall_s": 129.4,
                    "compile_s": 14.3},
                   {"name": "--full palindrome sweep", "command": "python x.py --full",
                    "note": "not measured"}],
    "study_sweep": [],
}


def test_table_shows_median_range_and_met_in_k_of_n_never_the_best_run():
    md = report.markdown(RESULT, MACHINE)
    lines = md.splitlines()
    assert lines[0].startswith("Benchmark 2026-01-01T00:00:00: Test CPU (2 cores)")
    assert "Median over 4 repeats, (min-max)" in md
    rnn = next(line for line in lines if line.startswith("| palindrome RNN"))
    assert rnn == ("| palindrome RNN (per step) | rnn_gnn rnn | torch loop.RNN "
                   "| 4.00 (4.00-4.00) | 7.76 (6.92-8.48) | 1.94x (1.73x-2.12x) "
                   "| >= 2x: met in 2 of 4 | 1.8 | 206 / 99 |")
    gcn = next(line for line in lines if line.startswith("| GCN"))
    assert "Cora not found (no files)" in gcn and ">= 2x |" in gcn
    assert "| default palindrome run | `python x.py` | | 129.4 s wall | | | | 14.3 | |" in lines
    assert any("not measured" in line and "--full" in line for line in lines)
    assert any(line.startswith("| GPU rows") for line in lines)


def test_sweep_table_projects_hours_with_their_range():
    per_model = {"runs": 100, "protocol_steps": 10000, "project_label": "rnn_gnn train_sweep"}
    models = [dict(per_model, name="study sweep RNN",
                   **summarize({"project": [0.001, 0.002], "torch": [0.002, 0.006]})),
              dict(per_model, name="study sweep LSTM",
                   **summarize({"project": [0.010, 0.010], "torch": [0.020, 0.010]}))]
    lines = report.sweep(models + [rows.sweep_total(models)])
    assert "median over 2 repeats" in lines[1]
    total = lines[-1]
    assert total.startswith("| study protocol, both models, projected |")
    # 11 and 12 ms per run-step of both models x 100 runs x 10000 steps: 3.06 and 3.33 h.
    assert "| 3.19 h (3.06 h-3.33 h) |" in total
    assert "| >= 1.5x: met in 1 of 2 |" in total
    assert report.sweep([]) == []


# ----------------------------------------------------------------------------- optional torch

def test_import_rnn_gnn_imports_neither_torch_nor_the_benchmark():
    code = ("import sys, rnn_gnn, rnn_gnn.palindrome, rnn_gnn.text, rnn_gnn.graph.classify\n"
            "assert 'torch' not in sys.modules, 'rnn_gnn imported torch'\n"
            "assert not [m for m in sys.modules if m.startswith('rnn_gnn.benchmark')]\n"
            "import rnn_gnn.benchmark.suite, rnn_gnn.benchmark.report\n"
            "assert 'torch' not in sys.modules, 'rnn_gnn.benchmark imported torch'\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_gcn_row_is_skipped_with_the_reason_without_cora(tmp_path):
    cases = rows.row_d(str(tmp_path))
    assert [c.name for c in cases] == ["GCN epoch Cora", "GCN epoch Cora, torch sparse"]
    for c in cases:
        assert c.project is None and c.reference is None
        assert "Cora not found" in c.missing and str(tmp_path) in c.missing


def test_gcn_row_times_as_many_epochs_per_call_as_train_seeds(planetoid_dir):
    cases = rows.row_d(str(planetoid_dir))
    assert [c.name for c in cases] == ["GCN epoch Cora", "GCN epoch Cora, torch sparse"]
    assert cases[0].project is cases[1].project          # one compiled side, timed once
    # What the library trains with: train_seeds' own chunk size, read from its signature.
    chunk = inspect.signature(classify.train_seeds).parameters["log_every"].default
    assert cases[0].project.units == chunk == 50
    assert cases[1].reference.units == 1                 # torch: one epoch per call
    assert cases[0].unit == "epoch"                      # so both are reported per epoch


def test_row_a_compares_each_model_with_two_twins():
    cases = rows.row_a()
    assert [c.name for c in cases] == ["palindrome LSTM", "palindrome LSTM, torch loop",
                                       "palindrome RNN", "palindrome RNN, nn.RNN"]
    assert [c.reference.label for c in cases] == ["torch nn.LSTM", "torch loop.LSTM",
                                                  "torch loop.RNN", "torch nn.RNN"]
    assert cases[0].project.label == "rnn_gnn lstm (manual backward)"
    assert {c.project.units for c in cases} == {rows.PAL["steps"]}
    assert rows.TARGETS["cpu"]["palindrome RNN"] == 2.0


def test_a_tiny_row_times_both_sides():
    # Tiny sizes and autodiff (the hand BPTT takes longer to compile): the machinery, not speed.
    cfg = palindrome.Config(model_type="rnn", input_dim=10, num_hidden=8, batch_size=4,
                            backward="autodiff")
    project = rows.trained("tiny rnn", lambda: palindrome.make_trainer(cfg, 5), 2)
    twin = torch_reference.palindrome("loop.RNN", batch=4, length=5, input_dim=10, hidden=8,
                                      steps=2)
    times, info = time_case(Case("tiny", "step", project, twin), warmup=1, repeats=3,
                            reference=HAS_TORCH)
    assert len(times["project"]) == 3 and all(t > 0 for t in times["project"])
    assert info["project_label"] == "tiny rnn" and info["project_compile_s"] > 0
    assert len(times.get("torch", [])) == (3 if HAS_TORCH else 0)


# ----------------------------------------------------------------------------- (e) whole runs

# Stand-ins for the checkout's experiments: they say how they were run; one compiles.
STAND_IN = """
import json, os, sys
import marker                        # a module of the checkout: its folder is on sys.path
if {compile}:
    import jax, jax.numpy as jnp
    jax.jit(lambda x: x * 2)(jnp.ones(3)).block_until_ready()
print(json.dumps({{"argv": sys.argv, "cwd": os.getcwd(),
                   "sees_earlier_results": os.path.exists("results")}}))
sys.exit({exit})
"""


def stand_in_checkout(root, exits=None):
    """A checkout whose experiments are ``STAND_IN`` (palindrome.py compiles), with a
    results/ folder of earlier runs that a timed command must not see."""
    (root / "experiments").mkdir(parents=True)
    (root / "results/text/grimms").mkdir(parents=True)
    (root / "marker.py").write_text("")
    for name in ("palindrome", "generate"):
        (root / "experiments" / f"{name}.py").write_text(STAND_IN.format(
            compile=name == "palindrome", exit=(exits or {}).get(name, 0)))
    return root


def test_row_e_times_readmes_default_commands_each_as_a_fresh_process(tmp_path):
    root = stand_in_checkout(tmp_path / "checkout")
    result = suite.run(suite.Settings(rows="e", memory=False), root=root)
    whole = result["whole_runs"]
    assert [(w["name"], w["command"]) for w in whole] == [
        *rows.WHOLE_RUNS.items(), ("--full palindrome sweep", rows.FULL_COMMAND)]
    assert "python experiments/generate.py --temperature 0.5" in rows.WHOLE_RUNS.values()
    for w in whole[:2]:
        assert w["returncode"] == 0 and w["wall_s"] > 0, w["stderr"]
        ran = json.loads(w["stdout"].splitlines()[0])
        _, script, *flags = w["command"].split()
        assert ran["argv"][1:] == flags and ran["argv"][0] == str(root / script)
        assert not ran["sees_earlier_results"] and ran["cwd"] != str(root)
    palindrome_run, generate_run = whole[:2]
    assert palindrome_run["compile_s"] > 0          # the probe times the script's compiles
    assert generate_run["compile_s"] == 0           # this one compiles nothing
    assert "note" in whole[2] and "wall_s" not in whole[2]

    # README's table of experiments reads the times from the file the CLI writes.
    record = files.run_record([])
    files.write_json(tmp_path / "docs/benchmark/benchmark.json", {**record, **result})
    lines = tables.experiments_table(tmp_path / "docs").splitlines()[2:]
    times = {cells[0]: cells[2] for cells in ([c.strip() for c in line.strip("|").split("|")]
                                              for line in lines)}
    on = f" on {tables.cpu_name(record['machine'])}"
    assert times["`python experiments/generate.py --temperature 0.5`"] == \
        tables.duration(generate_run["wall_s"]) + on
    assert times["`python experiments/benchmark.py`"] == \
        tables.duration(result["wall_seconds"]) + on
    assert times["`python experiments/palindrome.py`"] == "not yet measured"   # its own run's
    rendered = tables.benchmark_table(tmp_path / "docs/benchmark")
    assert f"| {generate_run['name']} | `{rows.GENERATE_COMMAND}` |" in rendered


def test_a_failed_or_missing_whole_run_has_no_time(tmp_path):
    root = stand_in_checkout(tmp_path / "checkout", exits={"generate": 3})
    failed = rows.time_command("g", rows.GENERATE_COMMAND, root)
    assert failed["returncode"] == 3 and failed["wall_s"] is None
    missing = rows.time_command("x", "python experiments/nothing.py", root)
    assert "wall_s" not in missing and "no experiments/nothing.py" in missing["note"]
    assert all("not measured" in w["note"] for w in rows.row_e("cpu", None))


def test_the_run_records_its_wall_time(monkeypatch):
    ticks = iter([100.0, 142.34])
    monkeypatch.setattr(suite.time, "perf_counter", lambda: next(ticks))
    result = suite.run(suite.Settings(rows="e", memory=False), root=None)
    assert result["wall_seconds"] == 42.3


# ----------------------------------------------------------------------------- the CLI

@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a directory")
    return tmp_path


@pytest.mark.parametrize("argv, match", [
    (["--rows", "az"], "unknown row"),
    (["--repeats", "0"], "must be > 0"),
    (["--warmup", "x"], "--warmup"),
    (["--threads", "-1"], "threads"),
    (["--clock", "gpu"], "invalid choice"),
    (["--run_dir", "a_file"], "not a directory"),
    (["--out", "results"], "unrecognized"),
])
def test_bad_flags_exit_2_with_one_line(work, argv, match, capsys):
    main = load_experiment("benchmark").main
    with pytest.raises(SystemExit) as exit_:
        cli.run_main(main, argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0] and match in err[0], err
    assert sorted(p.name for p in work.iterdir()) == ["a_file"]      # nothing written


def test_help_lists_every_flag_with_its_default(capsys):
    main = load_experiment("benchmark").main
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--rows", "--repeats", "--warmup", "--threads", "--clock", "--no_memory",
                 "--data_dir", "--run_dir"):
        assert flag in out
    assert "default: None" not in out and "benchmark.json" in out


def test_cli_writes_the_tables_and_every_raw_number(work):
    jax.devices()   # the backend is up: the CLI's one-device-per-core setting changes nothing
    load_experiment("benchmark").main(["--rows", "d", "--data_dir", str(work / "none"),
                                       "--no_memory", "--run_dir", "out"])
    result = json.loads((work / "out" / "benchmark.json").read_text())
    assert result["command"].endswith("--rows d --data_dir " + str(work / "none")
                                      + " --no_memory --run_dir out")
    assert result["machine"]["cores"] >= 1 and result["settings"]["rows"] == "d"
    assert [r["name"] for r in result["results"]] == ["GCN epoch Cora",
                                                      "GCN epoch Cora, torch sparse"]
    assert "Cora not found" in (work / "out" / "benchmark.md").read_text()
