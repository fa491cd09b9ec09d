"""experiments/report.py and rnn_gnn.report: the docs' tables and figures are what the
committed results give.

The check runs on the repository itself; the failure cases run on a copy of its docs in a
temporary directory.  The table formatters of experiments without committed results yet are
checked against small files written here in each experiment's output format.
"""

import csv
import dataclasses
import io
import json
import re
import shutil
import tomllib

import numpy as np
import pytest

from conftest import ROOT, load_experiment
from rnn_gnn import cli, files, palindrome
from rnn_gnn.benchmark import rows as benchmark_rows
from rnn_gnn.benchmark.harness import summarize
from rnn_gnn.errors import DataError
from rnn_gnn.graph import classify, comparison, karate, waves
from rnn_gnn.graph import figures as graph_figures
from rnn_gnn.palindrome import figures as part1_figures
from rnn_gnn.palindrome import gradients, optimizer_study
from rnn_gnn.palindrome.figures import sweep_title
from rnn_gnn.palindrome.runner import Config
from rnn_gnn.plotting import box_filter, plt
from rnn_gnn.report import figures, render, tables
from rnn_gnn.text.config import default_run_dir

report = load_experiment("report")


@pytest.fixture
def docs(tmp_path):
    """A copy of the repository's docs (README.md, docs/) to break."""
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def check(root, capsys):
    """Run ``report.py --check --root ROOT``; returns (exit status, stderr)."""
    capsys.readouterr()
    try:
        cli.run_main(report.main, ["--check", "--root", str(root)])
        status = 0
    except SystemExit as e:
        status = e.code
    return status, capsys.readouterr().err


def test_check_passes_on_the_repository(capsys):
    status, err = check(ROOT, capsys)
    assert status == 0, err


def test_every_generated_section_has_an_entry_and_the_docs_have_sections():
    names = {name for doc in render.doc_paths(ROOT)
             for name, _ in render.SECTION.findall(doc.read_text())}
    assert names == set(tables.TABLES)


def test_changing_any_digit_of_a_generated_table_is_found(docs):
    built = {name: render.render(source, docs) for name, source in tables.TABLES.items()}
    tried = 0
    for doc in render.doc_paths(docs):
        text = doc.read_text()
        for m in render.SECTION.finditer(text):
            for i in range(m.start(2), m.end(2)):
                if text[i].isdigit():
                    changed = text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1:]
                    assert render.rebuild(changed, built, doc)[1] == [m[1]], (doc, m[1], i)
                    tried += 1
    assert tried > 50


def test_a_changed_table_fails_naming_file_and_table_and_a_rebuild_restores_it(docs, capsys):
    readme = docs / "README.md"
    original = readme.read_text()
    section = re.search(r"<!-- report:palindrome_default -->\n.*?1\.000", original, re.S)
    broken = original[:section.end() - 1] + "1" + original[section.end():]   # 1.000 -> 1.001
    readme.write_text(broken)
    status, err = check(docs, capsys)
    assert status == 1
    assert "README.md: table 'palindrome_default' differs" in err
    assert "benchmark_study_sweep" not in err

    cli.run_main(report.main, ["--root", str(docs)])
    assert readme.read_text() == original                    # prose untouched, table restored
    assert check(docs, capsys)[0] == 0


@pytest.mark.parametrize("name", sorted(str(p.relative_to(ROOT / "docs" / "results"))
                                        for p in (ROOT / "docs" / "results").rglob("*")
                                        if p.is_file()))
def test_deleting_a_committed_result_file_fails(docs, capsys, name):
    path = docs / "docs" / "results" / name
    path.unlink()
    status, err = check(docs, capsys)
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and path.name in err and "Traceback" not in err


def test_a_corrupt_result_file_is_one_line_exit_2(docs, capsys):
    (docs / "docs/results/palindrome_default/summary.json").write_text('{"lengths": [5, 1')
    status, err = check(docs, capsys)
    assert status == 2 and "summary.json is not readable" in err
    assert len(err.strip().splitlines()) == 1


def test_a_figure_from_other_data_or_copied_by_hand_fails(docs, capsys):
    final = docs / "docs/results/palindrome_default/final.csv"
    final.write_text(final.read_text().replace("lstm,15,1,1.0,", "lstm,15,1,0.9,"))
    status, err = check(docs, capsys)
    assert status == 1
    assert "docs/figures/palindrome_accuracy_vs_length.png: figure differs" in err
    assert "table" not in err           # the seeds' mean in summary.json is unchanged

    shutil.copy(ROOT / "docs/results/palindrome_default/final.csv", final)
    figure = docs / "docs/figures/palindrome_accuracy_vs_length.png"
    shutil.copy(docs / "docs/figures/gradient_flow.png", figure)   # a PNG without fingerprint
    assert "palindrome_accuracy_vs_length.png: figure differs" in check(docs, capsys)[1]
    cli.run_main(report.main, ["--root", str(docs)])
    assert check(docs, capsys)[0] == 0


def test_renders_are_deterministic():
    run = ROOT / "docs/results/palindrome_default"
    first, second = (figures.render_png(figures.palindrome_accuracy_figure(run)) for _ in range(2))
    assert first == second
    fig = figures.palindrome_accuracy_figure(run)
    assert figures.png_fingerprint(io.BytesIO(first)) == figures.fingerprint(fig)
    assert b"Software" not in first


def test_orphan_and_missing_figures_fail(docs, capsys):
    shutil.copy(docs / "docs/figures/gradient_flow.png", docs / "docs/figures/unused.png")
    status, err = check(docs, capsys)
    assert status == 1 and "docs/figures/unused.png: shown by no doc" in err
    (docs / "docs/figures/unused.png").unlink()
    (docs / "docs/figures/optimizer_lr_grid.png").unlink()
    status, err = check(docs, capsys)
    assert status == 1
    assert "docs/part1.md: shows figures/optimizer_lr_grid.png, which does not exist" in err


def test_unknown_or_unpaired_markers_are_one_line_exit_2(docs, capsys):
    part1 = docs / "docs/part1.md"
    text = part1.read_text()
    part1.write_text(text + "\n<!-- report:nonsense -->\n| a |\n<!-- /report:nonsense -->\n")
    status, err = check(docs, capsys)
    assert status == 2 and "'nonsense' has no entry in rnn_gnn.report.tables.TABLES" in err
    part1.write_text(text + "\n<!-- report:palindrome_default -->\n")
    status, err = check(docs, capsys)
    assert status == 2 and "a report marker without its pair" in err


# ----------------------------------------------------------------------------- formatters

def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def table_rows(text):
    """The body rows of the first markdown table in ``text``, as lists of cells."""
    lines = [l for l in text.splitlines() if l.startswith("|")][2:]
    return [[c.strip() for c in l.strip("|").split("|")] for l in lines]


def test_sig():
    assert [tables.sig(x) for x in (0.0296, 2.1e-5, 14.2, 46.4, 0.00133, 0.996, 0.0, None)] == \
        ["0.030", "2.1e-5", "14", "46", "0.0013", "1.0", "0", "-"]


def test_palindrome_table_shows_disagreeing_seeds_and_the_run(tmp_path):
    run = ROOT / "docs/results/palindrome_default"
    text = tables.palindrome_table(run)
    assert table_rows(text) == [
        ["Vanilla RNN", "1.000", "1.000", "0.552 (seeds: 1.000, 0.104)", "0.098"],
        ["LSTM", "1.000", "1.000", "1.000", "1.000"]]
    assert "`python experiments/palindrome.py`: 137.8 s wall" in text   # --run_dir dropped
    assert "; raw digits, 64 hidden, rmsprop lr 0.001, batch 128, init orthogonal (LSTM forget " \
           "bias 1), mean of 2 seeds." in text


def test_protocol_tables_mean_std_reach_and_plateau(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ROOT / "docs/results/palindrome_default", run)
    rows = list(csv.DictReader(io.StringIO((run / "final.csv").read_text())))
    for r in rows:
        if r["model"] == "rnn" and r["length"] == "15":
            r["accuracy"] = "0.995"                    # both seeds solve T = 15
        if r["model"] == "lstm" and r["length"] == "20" and r["seed"] == "1":
            r["accuracy"], r["loss"], r["diverged_at"] = "", "", "77"
    files.write_csv(run / "final.csv", rows)
    curves = dict(np.load(run / "curves.npz"))
    curves["lstm_accuracy"][-1, :30] = 0.1             # T = 20 at chance until step 300
    curves["lstm_accuracy"][-1, 30] = 0.25
    np.savez(run / "curves.npz", **curves)
    text = tables.protocol_table(run, run)
    body = table_rows(text)
    assert body[0] == ["Vanilla RNN, init orthogonal", "1.000 ± 0.000", "1.000 ± 0.000",
                       "0.995 ± 0.000", "0.098 ± 0.001"]
    assert body[1][0] == "LSTM, init orthogonal, forget bias 1"
    assert body[1][4] == "1.000 ± 0.000 (1 diverged)" and body[2:] == body[:2]
    assert "mean ± std over 2 seeds; 64 hidden, 2000 steps." in text
    reach = table_rows(tables.protocol_reach_table(run))
    # RNN: solved to 15 in every seed; above chance to 15; never leaves chance at T = 20.
    assert reach[0][1:5] == ["15", "15", "15", "never left"]
    # LSTM: the diverged seed at T = 20 is not solved, so "every seed" and "most" stop at 15.
    assert reach[1][1:5] == ["15", "15", "20", "310"]
    assert reach[1][5:] == list(tables.STUDY_REACH["lstm"])


def test_lengths_table_compares_runs_at_shared_lengths_and_models(tmp_path):
    base = ROOT / "docs/results/palindrome_default"
    other = tmp_path / "other"
    shutil.copytree(base, other)
    summary = json.loads((base / "summary.json").read_text())
    summary["config"]["init"], summary["lengths"] = "pytorch", [15]
    (other / "summary.json").write_text(json.dumps(summary))
    rows = [r for r in csv.DictReader(io.StringIO((base / "final.csv").read_text()))
            if r["length"] == "15" and r["model"] == "rnn"]
    rows[0]["accuracy"] = "0.995"
    files.write_csv(other / "final.csv", rows)
    body = table_rows(tables.lengths_table(base, other))
    want = np.array([float(r["accuracy"]) for r in rows])
    assert body[1] == ["Vanilla RNN, init pytorch",
                       f"{want.mean():.3f} ± {want.std():.3f} (1 of 2 seeds solve it)"]
    assert body[0][0] == "Vanilla RNN, init orthogonal" and len(body) == 2   # no lstm, T = 15
    picked = tables.lengths_table(base, models=("lstm",), lengths=(10, 20))
    assert table_rows(picked)[0] == ["LSTM, init orthogonal, forget bias 1",
                                     "1.000 ± 0.000 (2 of 2 seeds solve it)",
                                     "1.000 ± 0.000 (2 of 2 seeds solve it)"]
    assert "| T | 10 | 20 |" in picked


def test_plateau_table_compares_runs_at_their_longest_shared_length(tmp_path):
    full = tmp_path / "full"
    shutil.copytree(ROOT / "docs/results/palindrome_default", full)
    # The other run trains the LSTM alone at T = 15: its curves sit at chance until step 500.
    piece = tmp_path / "piece"
    piece.mkdir()
    summary = json.loads((full / "summary.json").read_text())
    summary["config"]["init"], summary["lengths"] = "pytorch", [15]
    (piece / "summary.json").write_text(json.dumps(summary))
    rows = [r for r in csv.DictReader(io.StringIO((full / "final.csv").read_text()))
            if r["length"] == "15" and r["model"] == "lstm"]
    rows[0]["accuracy"] = "0.5"
    files.write_csv(piece / "final.csv", rows)
    curves = {k: v[2:3] if v.ndim == 2 else v for k, v in np.load(full / "curves.npz").items()
              if k.startswith("lstm_")}
    curves["lstm_accuracy"] = np.where(curves["lstm_step"] < 500, 0.1, 0.5)[None]
    np.savez(piece / "curves.npz", lengths=np.array([15]), **curves)
    body = table_rows(tables.plateau_table(full, piece))
    assert [r[0] for r in body] == ["LSTM, init orthogonal, forget bias 1",
                                    "LSTM, init pytorch, forget bias 1"]      # no RNN
    full_curves = np.load(full / "curves.npz")
    want = full_curves["lstm_accuracy"][2][list(full_curves["lstm_step"]).index(1000)]
    assert body[0][2] == f"{want:.3f}"                      # T = 15 of the full run
    assert body[1][1:] == ["500", "0.500", "0.500",          # steps 1000 and 2000 (the end)
                           "0.750 ± 0.250 (1 of 2 seeds solve it)"]


def test_the_title_is_the_experiments_own_from_the_summarys_config(tmp_path):
    # The committed run is the default run: its title is the one palindrome.py gives it.
    run = ROOT / "docs/results/palindrome_default"
    assert tables.palindrome_title(run) == sweep_title(Config(), 2, ["rnn", "lstm"])
    summary = json.loads((run / "summary.json").read_text())
    summary["config"]["hidden_units"] = 64
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(DataError, match="summary.json: its config is not a palindrome Config"):
        tables.palindrome_title(tmp_path)


def test_gradients_table(tmp_path):
    entry = lambda r, f, acc=None: {"dh_first_over_last": r, "dh_decay_per_step": f,
                                    "dc_first_over_last": 2 * r, "dc_decay_per_step": 0.89,
                                    **({} if acc is None else {"final_accuracy": acc})}
    results = {}
    for model in ("rnn", "lstm"):
        for T, (r0, r1, acc) in {5: (0.25, 2.7, 1.0), 20: (0.0013, 2.1e-5, 0.11)}.items():
            results[f"{model} d=1 T={T} init"] = entry(r0, 0.7)
            results[f"{model} d=1 T={T} trained"] = entry(r1, 0.9, acc)
    (tmp_path / "summary.json").write_text(json.dumps({"config": {
        "models": ["rnn", "lstm"], "input_dims": [1], "lengths": [5, 20], "init": "orthogonal"},
        "results": results}))
    assert table_rows(tables.gradients_table(tmp_path)) == [
        ["orthogonal", "Vanilla RNN, raw digits", "0.25 / 0.0013", "0.70", "2.7 / 2.1e-5",
         "1.00 / 0.11"],
        ["orthogonal", "LSTM, raw digits: h / c", "0.25 / 0.0013 / c: 0.50 / 0.0026",
         "0.70 / c: 0.89", "2.7 / 2.1e-5 / c: 5.4 / 4.2e-5", "1.00 / 0.11"]]


def test_clipping_table(tmp_path):
    row = lambda d, T, norm, frac, top, acc, gone="": {
        "model": "rnn", "input_dim": d, "length": T, "max_norm": norm, "diverged_at": gone,
        "clipped_fraction": frac, "median_grad_norm": 1, "p99_grad_norm": 2,
        "max_grad_norm": top, "final_accuracy": acc}
    write_csv(tmp_path / "clipping.csv", [
        row(1, 5, 10.0, 0.044, 50, 1.0), row(1, 20, 10.0, 0.0, 3, 0.11),
        row(1, 5, "none", 0.045, 60, 1.0), {**row(1, 20, "none", "", "", ""), "diverged_at": 7},
        row(10, 5, 10.0, 0.0, 1.04, 1.0), row(10, 20, 10.0, 0.01, 20.4, 1.0)])
    (tmp_path / "summary.json").write_text(json.dumps({
        "command": "python experiments/gradients.py --run_dir results/g", "seconds": 161.2}))
    assert table_rows(tables.clipping_table(tmp_path)) == [
        ["Vanilla RNN, raw digits: clipped run / unclipped run", "4.4% / 4.5%",
         "0.0% / diverged at step 7"],
        ["Vanilla RNN, raw digits: accuracy clipped / unclipped", "1.00 / 1.00",
         "0.11 / diverged at step 7"],
        ["Vanilla RNN, one-hot (clipped run)", "0.0%, max 1.0", "1.0%, max 20"]]
    assert "`python experiments/gradients.py`: 161.2 s." in tables.clipping_table(tmp_path)


def test_optimizers_table(tmp_path):
    base = {"optimizer": "adam", "best_lr": 0.01, "steps_to_0.99_median": 238,
            "reached_0.99": "2/2", "test_accuracy_mean": 1.0, "test_accuracy_std": 0.0,
            "train_seconds": 7.3, "ms_per_step": 5.0, "diverged_at": "", "diverged_rates": ""}
    write_csv(tmp_path / "table.csv", [
        base, {**base, "optimizer": "sgd", "best_lr": 0.3, "steps_to_0.99_median": "",
               "reached_0.99": "0/2", "test_accuracy_mean": 0.5791, "test_accuracy_std": 0.0417},
        {**dict.fromkeys(base, ""), "optimizer": "adagrad", "diverged_at": 12}])
    (tmp_path / "summary.json").write_text(json.dumps({"learning_rates": {
        "adam": [0.001, 0.003, 0.01], "sgd": [0.1, 0.3, 1.0], "adagrad": [0.03, 0.1, 0.3]}}))
    assert table_rows(tables.optimizers_table(tmp_path)) == [
        ["adam", "0.001, 0.003, 0.01", "0.01", "238 (2 of 2 seeds)", "1.000 ± 0.000", "7.3"],
        ["sgd", "0.1, 0.3, 1", "0.3", "- (0 of 2 seeds)", "0.579 ± 0.042", "7.3"],
        ["adagrad", "0.03, 0.1, 0.3", "-", "diverged at step 12", "-", "-"]]


def text_run(path, steps=(1000, 2000), dropout=0.25, average=0.999, command=None,
             corpus="grimms"):
    path.mkdir()
    rows = [{"step": s, "loss": 2.0 - s / 1e4, "accuracy": 0.4, "val_loss": 1.99 - s / 1e4,
             "val_bpc": 2.9, "val_accuracy": 0.427, "val_loss_carried": 1.962 - s / 2e4,
             "val_bpc_carried": 2.8, "val_accuracy_carried": 0.434, "learning_rate": 2e-3,
             "time_s": s / 10} for s in steps]
    write_csv(path / "history.csv", rows)
    (path / "summary.json").write_text(json.dumps({
        "steps": steps[-1], "train_loss": rows[-1]["loss"], "time_s": 968.4, "corpus": corpus,
        "config": {"seq_length": 30, "dropout": dropout, "average_decay": average},
        "best_val_loss": rows[-1]["val_loss"], "best_val_step": steps[-1],
        **({"command": command} if command else {})}))
    return path


def test_text_tables(tmp_path):
    run = text_run(tmp_path / "grimms")
    assert table_rows(tables.text_curve_table(run, steps=(1000, 2000))) == [
        ["1,000", "1.900", "0.400", "1.890", "0.427", "1.912", "0.434"],
        ["2,000", "1.800", "0.400", "1.790", "0.427", "1.862", "0.434"]]
    with pytest.raises(DataError, match="no validated row at step 5000"):
        tables.text_curve_table(run, steps=(5000,))
    original = text_run(tmp_path / "original", dropout=0.0, average=0.0,
                        command="python experiments/train_text.py --dropout 0 --average_decay 0 "
                                "--run_dir results/x")
    side_by_side = tables.text_runs_table(original, original, step=2000)
    assert table_rows(side_by_side) == 2 * [
        ["`python experiments/train_text.py --dropout 0 --average_decay 0`", "1.800", "0.400",
         "1.790", "0.427", "1.862", "0.434"]]
    assert side_by_side.startswith("| after 2,000 steps | train loss |")
    with pytest.raises(DataError, match="records no command"):
        tables.text_runs_table(run, step=2000)


def test_greedy_samples_table_shows_each_steps_first_sample(tmp_path):
    (tmp_path / "samples.txt").write_text(
        '100 "a|b  "\n100 "second"\n\n200 "the the"\n', encoding="utf-8")
    text = tables.greedy_samples_table(tmp_path, steps=(100, 200))
    assert text.splitlines()[2:] == ["| 100 | `a\\|b  ` |", "| 200 | `the the` |"]
    with pytest.raises(DataError, match="no sample at step 300"):
        tables.greedy_samples_table(tmp_path, steps=(300,))
    (tmp_path / "samples.txt").write_text('100 "a"\nstep 200 "b"\n', encoding="utf-8")
    with pytest.raises(DataError, match="not a <step>"):
        tables.greedy_samples_table(tmp_path, steps=(100,))
    (tmp_path / "samples.txt").unlink()
    with pytest.raises(DataError, match="samples.txt is missing"):
        tables.greedy_samples_table(tmp_path, steps=(100,))


def test_gnn_tables(tmp_path):
    for dataset, model, fired, selection in (("cora", "gcn", 1, "kipf"),
                                             ("karate", "gat", 0, "last")):
        (tmp_path / f"{dataset}_{model}.json").write_text(json.dumps({
            "dataset": dataset, "model": model, "test_accuracy_mean": 81.4,
            "test_accuracy_std": 0.7234, "wall_seconds": 120.2, "cpu_seconds": 21.0,
            "config": {"epochs": 200, "selection": selection},
            "runs": [{"seed": s, "stopped_early": s < fired} for s in range(10)]}))
    names = ("cora_gcn", "karate_gat")
    assert table_rows(tables.gnn_table(tmp_path, names)) == [
        ["Cora", "GCN", "81.40 +- 0.72 %", "81.5 % (Kipf & Welling 2017)",
         "Kipf's early stopping (fired in 1/10)", "120 s / 21 s"],
        ["karate club", "GAT", "81.40 +- 0.72 %", "-", "last epoch (200)", "120 s / 21 s"]]
    assert table_rows(tables.gnn_table(tmp_path, names, short=True))[0] == \
        ["Cora", "GCN", "81.40 +- 0.72 %", "81.5 % (Kipf & Welling 2017)"]


def test_graph_lstm_table(tmp_path):
    (tmp_path / "graph_lstm.json").write_text(json.dumps({
        "summary (mean, std over seeds)": {"graph LSTM": {
            "wave_f1": [0.9671, 0.0012], "fire_f1": [0.98, 0.0], "accuracy": [0.99681, 0.0],
            "loss": [0.0213, 0.001]}},
        "rule_on_hidden_state": {"wave_f1": 0.969, "fire_f1": 0.98, "accuracy": 0.9969}}))
    assert table_rows(tables.graph_lstm_table(tmp_path)) == [
        ["graph LSTM", "graph + time (recurrent)", "0.967 +- 0.001", "0.980 +- 0.000",
         "0.9968", "0.021"],
        ["rule applied to the true hidden state", "everything (ceiling)", "0.969", "0.980",
         "0.9969", "-"]]


def benchmark_json(path, **result):
    """A benchmark.json as experiments/benchmark.py writes it: the run record and
    ``suite.run``'s result (rows summarised by ``harness.summarize``)."""
    path.mkdir()
    (path / "benchmark.json").write_text(json.dumps({
        "command": "python experiments/benchmark.py --run_dir results/b",
        "machine": {"cpu": "AMD EPYC", "cores": 2, "backend": "cpu", "jax": "0.10.2"},
        "settings": {"repeats": 3}, "environment": {
            "date": "2027-01-02T03:04:05", "clock": "wall", "torch": "2.13.0+cpu",
            "torch_threads": 2}, "results": [], "whole_runs": [], "study_sweep": [], **result}))
    return path


def test_benchmark_table_is_the_median_of_every_repeat_and_counts_targets_met(tmp_path):
    runs = []
    for i, rounds in enumerate([[(3.9, 2.12), (3.4, 1.73)], [(3.6, 2.09)]]):
        times = {"project": [ms / 1e3 for ms, _ in rounds],
                 "torch": [ms * s / 1e3 for ms, s in rounds]}
        runs.append(benchmark_json(tmp_path / f"run{i}", results=[
            {"row": "a", "name": "palindrome RNN", "unit": "step", "target": 2.0,
             "project_label": "p", "torch_label": "t", **summarize(times, 2.0)},
            {"row": "d", "name": "GCN epoch Cora", "unit": "epoch", "target": 2.0,
             "missing": "Cora not found"}],
            whole_runs=[{"name": "default palindrome run",
                         "command": "python experiments/palindrome.py", "wall_s": 120 + i,
                         "compile_s": 13.0 + i},
                        {"name": "--full", "command": "x", "note": "not measured"}]))
    rows = table_rows(tables.benchmark_table(*runs))
    assert len(rows) == 2                                   # no row for what was not measured
    assert rows[0][3:] == ["3.60 (3.40-3.90)", "7.52 (5.88-8.27)", "2.09x (1.73-2.12x)",
                           ">= 2x: met in 2 of 3"]
    assert rows[1][3] == "120.5 s (120.0-121.0 s) wall, 13.5 s (13.0-14.0 s) compiling"


def test_study_sweep_table_is_the_median_with_spread():
    run = ROOT / "docs/results/benchmark"
    rows = table_rows(tables.study_sweep_table(run))
    rnn, _, total = json.loads((run / "benchmark.json").read_text())["study_sweep"]

    def spread(values, unit=""):
        v = np.asarray(values)
        return f"{np.median(v):.2f}{unit} ({v.min():.2f}-{v.max():.2f}{unit})"
    assert rows[0] == ["RNN", spread(rnn["project_ms_runs"]), spread(rnn["torch_ms_runs"]),
                       spread(rnn["speedups"], "x")]
    hours = [np.asarray(total[f"{side}_projected_s_runs"]) / 3600 for side in ("project", "torch")]
    assert rows[2][1:3] == [f"**{spread(h, ' h')}**" for h in hours]
    met = sum(x >= total["target"] for x in total["speedups"])
    assert f"met in {met} of {len(total['speedups'])} repeats" in rows[2][3]


def test_study_sweep_table_reads_the_current_format(tmp_path):
    models = [{"row": "f", "name": f"study sweep {m}", "unit": "run-step", "runs": 100,
               "protocol_steps": 10000,
               **summarize({"project": [p / 1e3 for p in ps], "torch": [t / 1e3 for t in ts]})}
              for m, ps, ts in (("RNN", [3.0, 2.5, 3.1], [8.0, 9.0, 7.5]),
                                ("LSTM", [14.0, 15.0, 13.5], [22.0, 24.0, 20.0]))]
    per_repeat = {s: [sum(ts) * 1e3 for ts in zip(*(m[f"{s}_ms_runs"] for m in models))]
                  for s in ("project", "torch")}      # ms per run-step x 1e6 run-steps
    total = {"row": "f", "name": "study protocol, both models", "target": 1.5,
             **summarize(per_repeat, 1.5, unit="projected_s", scale=1.0)}
    run = benchmark_json(tmp_path / "sweep", study_sweep=models + [total])
    text = tables.study_sweep_table(run)
    rows = table_rows(text)
    assert rows[0] == ["RNN", "3.00 (2.50-3.10)", "8.00 (7.50-9.00)", "2.67x (2.42-3.60x)"]
    assert rows[2][1:3] == ["**4.72 h (4.61-4.86 h)**", "**8.33 h (7.64-9.17 h)**"]
    assert "target >= 1.5x: met in 3 of 3 repeats" in rows[2][3]
    assert ("`python experiments/benchmark.py`, 2027-01-02, AMD EPYC, 2 cores, JAX 0.10.2, "
            "torch 2.13.0+cpu (2 threads), wall clock; median of 3 repeats") in text


def test_experiments_table_times_come_from_committed_results(tmp_path):
    rows = table_rows(tables.experiments_table(tmp_path))
    assert len(rows) == len(tables.EXPERIMENTS)
    assert {r[2] for r in rows} == {"not yet measured"}
    (tmp_path / "palindrome_default").mkdir()
    (tmp_path / "palindrome_default/summary.json").write_text('{"wall_seconds": 125.7}')
    rows = table_rows(tables.experiments_table(tmp_path))
    assert rows[0][0] == "`python experiments/palindrome.py`" and rows[0][2] == "126 s"
    assert any("generate.py --temperature 0.5" in r[0] for r in rows)


GENERATE = "python experiments/generate.py --temperature 0.5"


def test_experiments_table_times_generate_and_the_benchmark_from_benchmark_json(tmp_path):
    def times(**result):
        shutil.rmtree(tmp_path / "benchmark", ignore_errors=True)
        benchmark_json(tmp_path / "benchmark", **result)
        rows = table_rows(tables.experiments_table(tmp_path))
        return {r[0].strip("`"): r[2] for r in rows
                if r[0].strip("`") in (GENERATE, "python experiments/benchmark.py")}
    palindrome_only = [{"name": "default palindrome run",
                        "command": "python experiments/palindrome.py", "wall_s": 133.3}]
    # A benchmark.json written before the run recorded these times.
    assert times(whole_runs=palindrome_only) == {
        GENERATE: "not yet measured", "python experiments/benchmark.py": "not yet measured"}
    generate = {"name": "generate", "command": GENERATE, "wall_s": 6.4, "compile_s": 2.1}
    assert times(whole_runs=palindrome_only + [generate], wall_seconds=3723.4) == {
        GENERATE: "6 s on AMD EPYC, 2 cores",
        "python experiments/benchmark.py": "62 min on AMD EPYC, 2 cores"}
    # Matched by the whole command; a failed run records no wall time.
    other = dict(generate, command="python experiments/generate.py")
    assert times(whole_runs=[other])[GENERATE] == "not yet measured"
    assert times(whole_runs=[dict(generate, wall_s=None, returncode=1)])[GENERATE] == \
        "not yet measured"
    with pytest.raises(DataError, match="wall_seconds is not a number of seconds"):
        times(wall_seconds="an hour")


def test_the_experiments_timed_by_row_e_are_the_commands_it_runs():
    entries = tomllib.loads((ROOT / "rnn_gnn/report/experiments.toml").read_text())["experiment"]
    from_row_e = {e["command"] for e in entries if e.get("entry") == "whole_runs"}
    assert GENERATE in from_row_e
    assert from_row_e <= set(benchmark_rows.WHOLE_RUNS.values())


def test_benchmark_table_shows_each_whole_run_on_its_own_row(tmp_path):
    run = benchmark_json(tmp_path / "b", whole_runs=[
        {"name": "default palindrome run", "command": "python experiments/palindrome.py",
         "wall_s": 133.3, "compile_s": 86.04},
        {"name": "generate 300 chars (shipped model)", "command": GENERATE, "wall_s": 6.4,
         "compile_s": None}])
    assert table_rows(tables.benchmark_table(run)) == [
        ["default palindrome run", "`python experiments/palindrome.py`", "",
         "133.3 s wall, 86.0 s compiling", "", "", "-"],
        ["generate 300 chars (shipped model)", f"`{GENERATE}`", "", "6.4 s wall", "", "", "-"]]


def test_the_full_protocols_projection_is_from_runs_of_the_protocol(tmp_path):
    run = ROOT / "docs/results/palindrome_e2e_check"
    text = tables.projected_protocol(run)
    assert "`--train_steps 100` 377.6 s and `--train_steps 300` 694.9 s" in text
    assert "projected at **4.41 h**" in text and "AMD EPYC, 2 cores, quiet" in text
    shutil.copytree(run, tmp_path / "e2e")
    summary = json.loads((run / "summary_300.json").read_text())
    summary["config"]["num_hidden"] = 64
    (tmp_path / "e2e/summary_300.json").write_text(json.dumps(summary))
    with pytest.raises(DataError, match="summary_300.json is not a 300-step run of the --full"):
        tables.projected_protocol(tmp_path / "e2e")


@pytest.mark.parametrize("experiment", [e for e in tables.EXPERIMENTS
                                        if e.output != "stdout"], ids=lambda e: e.command)
def test_experiments_table_names_each_commands_default_output(experiment):
    name, *flags = experiment.command.removeprefix("python experiments/").split()
    cli_module = load_experiment(name.removesuffix(".py"))
    args = cli_module.parse_args(flags)
    args = args[0] if isinstance(args, tuple) else args
    run_dir = args.run_dir
    if run_dir is None:                  # train_text: decided from the book and the preset
        run_dir = default_run_dir("grimms", args.preset == "quick")
    assert str(run_dir) == experiment.output


def test_training_curves_figure_from_curves_npz(tmp_path):
    shutil.copy(ROOT / "docs/results/palindrome_default/summary.json", tmp_path)
    rng = np.random.default_rng(0)
    curves = {f"{m}_{k}": v for m in ("rnn", "lstm") for k, v in palindrome.figure_curves(
        {k: rng.random((4, 2, 50)) for k in ("loss", "accuracy", "grad_norm")}
        | {"finite": np.ones((4, 2, 50), bool)}, 5).items()}
    np.savez(tmp_path / "curves.npz", lengths=np.array([5, 10, 15, 20]), **curves)
    before = figures.fingerprint(figures.palindrome_curves_figure(tmp_path))
    curves["lstm_loss"][3, 8] += 0.5
    np.savez(tmp_path / "curves.npz", lengths=np.array([5, 10, 15, 20]), **curves)
    assert figures.fingerprint(figures.palindrome_curves_figure(tmp_path)) != before
    (tmp_path / "curves.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="curves.npz is not a readable"):
        figures.palindrome_curves_figure(tmp_path)


# ----------------------------------------------------------------------------- figures from files

def test_gradient_flow_figures_from_flow_csv_are_the_experiments(tmp_path):
    study = gradients.Study(models=("rnn", "lstm"), input_dims=(1,), lengths=(5, 7))
    rng = np.random.default_rng(0)
    flows = lambda model: {s: {k: np.round(rng.random((2, 6)), 3) + 0.01
                               for k in ("dh", "dW") + (("dc",) if model == "lstm" else ())}
                           for s in gradients.STAGES}
    runs = {10.0: {"grad_norm": rng.random((2, 20)), "final_accuracy": np.array([1.0, 0.5]),
                   "diverged_at": np.zeros(2)}}
    results = {(m, 1): (flows(m), runs) for m in study.models}
    flow_rows, _, _ = gradients.summarise(study, results)
    files.write_csv(tmp_path / "flow.csv", flow_rows)
    files.write_json(tmp_path / "summary.json", {"config": dataclasses.asdict(study)})
    ours = figures.fingerprint(figures.gradient_flow_figure(tmp_path))
    assert ours == figures.fingerprint(part1_figures.gradient_flow(study, results, "dh",
                                                                   "mean ||dl/dh(t)||"))
    ours = figures.fingerprint(figures.gradient_terms_figure(tmp_path))
    assert ours == figures.fingerprint(part1_figures.gradient_flow(
        study, results, "dW", "||step t's term of dL/dW_hh||"))
    results[("lstm", 1)][0]["trained"]["dc"][1, 3] *= 2          # a step of T = 7
    assert figures.fingerprint(part1_figures.gradient_flow(study, results, "dh", "y")) != \
        figures.fingerprint(figures.gradient_flow_figure(tmp_path))
    write_csv(tmp_path / "flow.csv", [r for r in flow_rows if r["stage"] == "init"])
    with pytest.raises(DataError, match="flow.csv does not hold every model, encoding and stage"):
        figures.gradient_flow_figure(tmp_path)


def test_learning_rate_grid_from_grid_csv_is_the_experiments(tmp_path):
    study = optimizer_study.Study(optimizers=("sgd", "adam", "adagrad"), seeds=2)
    lrs = {n: optimizer_study.learning_rates(n, study.grid) for n in study.optimizers}
    val = np.array([[0.5, 0.25], [np.nan, 0.75], [0.125, 0.5]])
    gone = np.array([[0, 0], [12, 0], [0, 0]])
    result = {"diverged_at": None, "val_accuracy": val, "val_loss": val, "test_accuracy": val,
              "steps_to": np.full((3, 2), np.nan), "diverged": gone, "best": 2,
              "seconds": 1.0, "ms_per_step": 1.0}
    results = {"sgd": {**result, "lrs": lrs["sgd"]},
               "adam": {**result, "lrs": lrs["adam"], "best": 0},
               "adagrad": {"lrs": lrs["adagrad"], "diverged_at": 7}}
    grid_rows, table_rows = optimizer_study.tables(study, results)
    write_csv(tmp_path / "grid.csv", grid_rows)
    write_csv(tmp_path / "table.csv", table_rows)
    files.write_json(tmp_path / "summary.json", {"config": dataclasses.asdict(study),
                                                 "learning_rates": lrs})
    expected = figures.fingerprint(part1_figures.learning_rate_grid(study, results))
    assert figures.fingerprint(figures.optimizer_lr_grid_figure(tmp_path)) == expected
    results["adam"]["best"] = 2
    assert figures.fingerprint(part1_figures.learning_rate_grid(study, results)) != expected


def test_classification_curves_from_epochs_csv_are_the_experiments(tmp_path):
    cfg = classify.config_for("gcn", "cora")
    rng = np.random.default_rng(1)
    history = {m: rng.random((3, 40)) for m in classify.EPOCH_COLUMNS}
    history["accuracy"] = history["train_accuracy"]     # train_seeds' history holds both
    result = {"seed": [0, 1, 2], "epoch": [12, 40, 33], "stopped_early": [True, False, True],
              "val_accuracy": [0.7, 0.8, 0.75], "test_accuracy": [0.81, 0.8, 0.82]}
    files.write_csv(tmp_path / "cora_gcn_epochs.csv", classify.epoch_rows(history, [0, 1, 2]))
    files.write_json(tmp_path / "cora_gcn.json", {
        "dataset": "cora", "model": "gcn", "config": dataclasses.asdict(cfg),
        "test_accuracy_mean": 81.0, "test_accuracy_std": 0.8165,
        "runs": classify.seed_rows(result)})
    title = f"cora {classify.describe(cfg)}: 81.0 +- 0.8 % test accuracy"
    expected = figures.fingerprint(graph_figures.classification_curves(history, result, title))
    assert figures.fingerprint(figures.classification_curves_figure(tmp_path)) == expected


def gradient_runs(study, rng, diverged=()):
    """``gradients.run``'s results as far as the histograms read them: every (model, encoding)
    a clipped run, the first encoding an unclipped one too; ``diverged``: (model, T) whose
    unclipped run diverged at step 12.  Norms spread over four decades, some above max_norm."""
    results = {}
    for m in study.models:
        for d in study.input_dims:
            runs = {}
            for max_norm in (study.max_norm, None) if d == study.input_dims[0] else (study.max_norm,):
                runs[max_norm] = {
                    "grad_norm": (10 ** rng.normal(0.3, 0.8, (len(study.lengths), 300))
                                  ).astype(np.float32),
                    "final_accuracy": np.ones(len(study.lengths)),
                    "diverged_at": np.array([12 if max_norm is None and (m, T) in diverged else 0
                                             for T in study.lengths])}
            results[(m, d)] = ({}, runs)
    return results


def write_gradient_run(run, study, results):
    run.mkdir(parents=True, exist_ok=True)
    files.write_json(run / "summary.json", {"config": dataclasses.asdict(study)})
    files.write_json(run / "grad_norm_hist.json", gradients.norm_histograms(study, results))


def test_grad_norm_histograms_from_json_are_the_steps_norms(tmp_path):
    study = gradients.Study(models=("rnn", "lstm"), input_dims=(1, 10), lengths=(5, 7))
    results = gradient_runs(study, np.random.default_rng(0), diverged={("rnn", 7)})
    write_gradient_run(tmp_path, study, results)
    fig = figures.grad_norm_hist_figure(tmp_path)
    assert figures.fingerprint(fig) == figures.fingerprint(
        part1_figures.clipping(study, gradients.norm_histograms(study, results)))
    # One panel per length and model with an unclipped run (raw digits only); each run's bars
    # are numpy's 60-bin histogram of log10 of that run's every step's norm.
    assert len(fig.axes) == 4
    for panel, (model, i) in zip(fig.axes, [("rnn", 0), ("lstm", 0), ("rnn", 1), ("lstm", 1)]):
        runs = results[(model, 1)][1]
        heights = [p.get_height() for p in panel.patches]
        expected = [np.histogram(np.log10(runs[n]["grad_norm"][i]), bins=60)[0]
                    for n in (study.max_norm, None) if not runs[n]["diverged_at"][i]]
        np.testing.assert_array_equal(heights, np.concatenate(expected))
        share = 100 * np.mean(runs[study.max_norm]["grad_norm"][i] > study.max_norm)
        assert f"clip 10: {share:.1f}% > 10" in [t.get_text() for t in panel.get_legend().get_texts()]
    assert [t.get_text() for t in fig.axes[2].texts] == ["unclipped run diverged at step 12"]
    saved = json.loads((tmp_path / "grad_norm_hist.json").read_text())
    saved["histograms"][0]["steps"][30] += 1
    (tmp_path / "grad_norm_hist.json").write_text(json.dumps(saved))
    assert figures.fingerprint(figures.grad_norm_hist_figure(tmp_path)) != \
        figures.fingerprint(fig)
    plt.close("all")


def optimizer_run(run, study, results):
    grid_rows, table_rows = optimizer_study.tables(study, results)
    run.mkdir(parents=True, exist_ok=True)
    write_csv(run / "grid.csv", grid_rows)
    write_csv(run / "table.csv", table_rows)
    files.write_json(run / "summary.json", {"config": dataclasses.asdict(study), "learning_rates": {
        n: r["lrs"] for n, r in results.items()}})
    files.write_npz(run / "curves.npz", optimizer_study.chosen_curves(results))


def test_optimizer_curves_from_curves_npz_are_the_chosen_rates(tmp_path):
    study = optimizer_study.Study(optimizers=("sgd", "adam", "adagrad"), seeds=2, smooth=5)
    rng = np.random.default_rng(2)
    result = lambda best: {
        "diverged_at": None, "best": best, "val_accuracy": rng.random((3, 2)),
        "val_loss": rng.random((3, 2)), "test_accuracy": rng.random((3, 2)),
        "steps_to": np.full((3, 2), np.nan), "diverged": np.zeros((3, 2), int), "seconds": 1.0,
        "ms_per_step": 1.0, "history": {k: rng.random((3, 2, 40)).astype(np.float32)
                                        for k in ("loss", "accuracy")}}
    results = {"sgd": {**result(1), "lrs": [0.1, 0.3, 1.0]},
               "adam": {"lrs": [0.001, 0.003, 0.01], "diverged_at": 9},
               "adagrad": {**result(2), "lrs": [0.03, 0.1, 0.3]}}
    optimizer_run(tmp_path, study, results)
    fig = figures.optimizer_curves_figure(tmp_path)
    assert figures.fingerprint(fig) == figures.fingerprint(
        part1_figures.optimizer_curves(study, optimizer_study.chosen_curves(results)))
    # Each line: the mean over seeds of the 5-step moving average at the chosen rate.
    window = lambda y: np.convolve(y, np.ones(5) / 5, "valid")
    for line, name, ax in ((0, "sgd", 0), (1, "adagrad", 0), (0, "sgd", 1)):
        r = results[name]
        metric = ("loss", "accuracy")[ax]
        expected = np.mean([window(y) for y in r["history"][metric][r["best"]]], 0)
        np.testing.assert_allclose(fig.axes[ax].lines[line].get_ydata(), expected, rtol=1e-6)
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == [
        "sgd (lr 0.3)", "shaded: min..max over seeds", "adagrad (lr 0.3)"]
    results["adagrad"]["history"]["loss"][2, 1, 17] += 0.5
    files.write_npz(tmp_path / "curves.npz", optimizer_study.chosen_curves(results))
    assert figures.fingerprint(figures.optimizer_curves_figure(tmp_path)) != \
        figures.fingerprint(fig)
    curves = optimizer_study.chosen_curves(results)
    del curves["sgd_loss"]
    files.write_npz(tmp_path / "curves.npz", curves)
    with pytest.raises(DataError, match="curves.npz has no curves of sgd, which table.csv holds"):
        figures.optimizer_curves_figure(tmp_path)
    plt.close("all")


def test_text_curve_from_history_csv_has_the_books_target(tmp_path):
    run = text_run(tmp_path / "grimms", steps=(500, 1000, 1500))
    fig = figures.text_curve_figure(run)
    ax = fig.axes[0]
    assert ax.get_title() == "Character LSTM on grimms"
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["validation, state carried through the text"].get_ydata(),
                               [1.962 - s / 2e4 for s in (500, 1000, 1500)])
    assert "validation, 30-char windows as in training" in lines
    assert lines["target: validation <= 1.35 nats/char"].get_ydata()[0] == 1.35
    rows = list(csv.DictReader(io.StringIO((run / "history.csv").read_text())))
    rows[1]["val_loss"] = str(float(rows[1]["val_loss"]) + 0.01)
    write_csv(run / "history.csv", rows)
    assert figures.fingerprint(figures.text_curve_figure(run)) != figures.fingerprint(fig)
    other = text_run(tmp_path / "tiny", corpus="tiny")
    assert [l.get_label() for l in figures.text_curve_figure(other).axes[0].get_lines()
            if "target" in l.get_label()] == []
    summary = json.loads((run / "summary.json").read_text())
    del summary["corpus"]
    (run / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(DataError, match="summary.json has no corpus"):
        figures.text_curve_figure(run)
    plt.close("all")


def test_karate_clubs_from_nodes_csv_are_the_experiments(tmp_path):
    node_data = karate.karate_club()
    prediction = np.asarray(node_data.labels).copy()
    prediction[[5, 20]] = 1 - prediction[[5, 20]]                 # two members misclassified
    cfg = classify.config_for("gcn", "karate")
    files.write_csv(tmp_path / "karate_gcn_nodes.csv",
                    graph_figures.karate_rows(node_data, prediction))
    files.write_json(tmp_path / "karate_gcn.json", {
        "config": dataclasses.asdict(cfg), "runs": [{"seed": 0, "test_accuracy": 0.9375}]})
    fig = figures.karate_clubs_figure(tmp_path)
    assert figures.fingerprint(fig) == figures.fingerprint(graph_figures.karate_clubs(
        graph_figures.karate_rows(node_data, prediction), 0.9375, classify.describe(cfg)))
    assert "test accuracy 93.8% (seed 0)" in fig.axes[0].get_title()
    # The two node collections (true clubs 0 and 1): coloured by the prediction, misclassified
    # members ringed red, the two labelled leaders black.
    labels = np.asarray(node_data.labels)
    for club, nodes in enumerate(fig.axes[0].collections[1:3]):
        members = np.flatnonzero(labels == club)
        colours = [graph_figures.matplotlib.colors.to_hex(c) for c in nodes.get_facecolor()]
        assert colours == [("#1f77b4", "#ff7f0e")[p] for p in prediction[members]]
        rings = [graph_figures.matplotlib.colors.to_hex(c) for c in nodes.get_edgecolor()]
        assert [v for v, r in zip(members, rings) if r == "#ff0000"] == \
            [v for v in (5, 20) if labels[v] == club]
        assert [v for v, r in zip(members, rings) if r == "#000000"] == \
            [v for v in (0, 33) if labels[v] == club]
    nodes = tmp_path / "karate_gcn_nodes.csv"
    nodes.write_text(nodes.read_text().replace("\n7,0,0,0,", "\n7,0,0,1,"))
    assert figures.fingerprint(figures.karate_clubs_figure(tmp_path)) != figures.fingerprint(fig)
    plt.close("all")


def test_graph_lstm_figure_from_its_npz_is_the_experiments(tmp_path):
    task = waves.Task(num_nodes=12, steps=6, refractory=2)
    seeds, rng = [0, 1], np.random.default_rng(3)
    variants = comparison.variants(task)
    runs = {v.label: (None, {"loss": rng.random((2, 80)).astype(np.float32)},
                      {m: rng.random(2).astype(np.float32)
                       for m in ("wave_f1", "fire_f1", "accuracy", "loss")}) for v in variants}
    frames = np.stack([rng.integers(0, 2, (6, 12)), rng.integers(-1, 2, (6, 12))], -1)
    example = (frames.astype(np.float32), rng.integers(0, 3, 12),
               {v.label: rng.integers(0, 3, 12) for v in variants})
    rule = {"wave_f1": 0.97, "fire_f1": 0.98, "accuracy": 0.99}
    arrays = comparison.figure_arrays(task, runs, example)
    rows = comparison.result_rows(runs, seeds)
    files.write_npz(tmp_path / "graph_lstm_figure.npz", arrays)
    files.write_csv(tmp_path / "graph_lstm.csv", rows)
    files.write_json(tmp_path / "graph_lstm.json", {"task": dataclasses.asdict(task),
                                                    "rule_on_hidden_state": rule})
    fig = figures.graph_lstm_figure(tmp_path)
    assert figures.fingerprint(fig) == figures.fingerprint(
        graph_figures.wave_comparison(task, arrays, rows, rule))
    # The bars are the test scores' means over seeds; the loss lines each seed's 50-step
    # average; the image ends with every model's prediction.
    wave_bars = [b.get_height() for b in fig.axes[1].patches[:len(variants)]]
    np.testing.assert_allclose(wave_bars, [runs[v.label][2]["wave_f1"].mean() for v in variants],
                               rtol=1e-6)
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(),
                               box_filter(runs[variants[0].label][1]["loss"], 50)[1], rtol=1e-6)
    image = fig.axes[2].images[0].get_array()
    last = example[2][variants[-1].label]
    np.testing.assert_array_equal(image[:, -1], np.where(last == 0, 0, last + 1))
    arrays["node_lstm_loss"] = arrays["node_lstm_loss"] * 2
    files.write_npz(tmp_path / "graph_lstm_figure.npz", arrays)
    assert figures.fingerprint(figures.graph_lstm_figure(tmp_path)) != figures.fingerprint(fig)
    plt.close("all")


# ----------------------------------------------------------------------------- figures waiting

def hand_drawn(path):
    """Replace the PNG at ``path`` with one drawn by hand (no fingerprint)."""
    fig = plt.figure(figsize=(1, 1))
    files.save_figure(fig, path)
    plt.close(fig)
    assert figures.png_fingerprint(path) is None


def test_a_figure_waits_for_its_new_file_and_then_needs_it(docs, capsys):
    """Committed runs made before their experiment wrote a figure's file: the figure, never
    drawn from data, is "not yet drawn"; with the file committed it is stale until rebuilt;
    once drawn, the file missing is an error."""
    run, png = docs / "docs/results/gradients_default", docs / "docs/figures/grad_norm_hist.png"
    (run / "grad_norm_hist.json").unlink(missing_ok=True)
    hand_drawn(png)
    outcome = render.update(docs, check=True)
    assert "grad_norm_hist.png" in outcome.undrawn and not outcome.stale
    assert check(docs, capsys)[0] == 0

    study = figures.study_of(gradients.Study, run)
    files.write_json(run / "grad_norm_hist.json", gradients.norm_histograms(
        study, gradient_runs(study, np.random.default_rng(4))))
    status, err = check(docs, capsys)
    assert status == 1 and "docs/figures/grad_norm_hist.png: figure differs from what " \
                           "docs/results/gradients_default gives" in err
    cli.run_main(report.main, ["--root", str(docs)])
    assert check(docs, capsys)[0] == 0
    assert "grad_norm_hist.png" not in render.update(docs, check=True).undrawn

    (run / "grad_norm_hist.json").unlink()
    status, err = check(docs, capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "grad_norm_hist.json is missing" in err


def test_a_figure_waits_for_its_run_and_then_needs_it(docs, capsys, monkeypatch):
    # The Grimm curve, as if drawn from a run that no table reads and that is not committed yet.
    name = "part2_grimm_curve.png"
    monkeypatch.setitem(render.FIGURES, name, render.FIGURES[name]._replace(runs=("new_run",)))
    run, png = docs / "docs/results/new_run", docs / "docs/figures" / name
    hand_drawn(png)
    assert "part2_grimm_curve.png" in render.update(docs, check=True).undrawn
    text_run(run)
    assert "docs/figures/part2_grimm_curve.png: figure differs" in check(docs, capsys)[1]
    cli.run_main(report.main, ["--root", str(docs)])
    assert check(docs, capsys)[0] == 0
    shutil.rmtree(run)
    status, err = check(docs, capsys)
    assert status == 2 and "docs/results/new_run is missing" in err
