"""The docs from the data: every results table and figure of README.md and docs/*.md, rebuilt
from the result files committed under docs/results/.

    python experiments/report.py           # rewrite the generated sections and figures
    python experiments/report.py --check   # change nothing; exit 1 naming what is stale

A generated section of a doc sits between ``<!-- report:NAME -->`` and ``<!-- /report:NAME -->``
lines; ``TABLES[NAME]`` says which result directories it is made from and which function
formats it.  The prose around the markers is never touched.  ``FIGURES`` does the same for the
PNGs of docs/figures/, drawn by the plotting functions the experiments use.  Adding a table or a
figure is one entry: commit the run's small files under docs/results/<run>/ and name them here.

How a figure is compared.  PNG bytes differ between matplotlib and FreeType versions (text
rasterisation, anti-aliasing), and setup.cfg does not pin matplotlib, so a byte or pixel
comparison would fail on a clean clone with another matplotlib.  Instead every figure carries,
in a PNG text chunk, a fingerprint of what it shows: the sha256 of its artists' content (lines'
and patches' data, colours, styles, texts, axis limits and scales; no positions that depend on
font metrics), with numbers to 6 significant digits.  ``--check`` redraws each figure from the
data and compares fingerprints; a figure that was copied by hand (no fingerprint), drawn from
other data or by other plotting code fails.  A rebuild writes a PNG only when its fingerprint
changed, so figures are not rewritten by every matplotlib upgrade.  Rendering is deterministic
(Agg, fixed dpi, no "Software" or date metadata): the same data gives the same bytes with the
same libraries.

The check also keeps docs/figures/ and the docs in step: every PNG there is shown by a doc, and
every image a doc shows exists.  A result file that is missing or unreadable is one line and
exit 2; no network and nothing outside the repository is needed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sys
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import numpy as np

# The library, imported here only (update these lines when modules move).
from rnn_gnn import cli, files, plotting
from rnn_gnn.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path("docs") / "results"
FIGURE_DIR = Path("docs") / "figures"
DOCS = ("README.md", "docs/*.md")
FINGERPRINT_KEY = "rnn_gnn report"   # the PNG text chunk holding a figure's fingerprint
DPI = 130                            # as files.save_figure


# ----------------------------------------------------------------------------- reading results

def read_json(path: Path) -> dict:
    return _read(path, lambda text: json.loads(text))


def read_csv(path: Path) -> list[dict]:
    return _read(path, lambda text: list(csv.DictReader(io.StringIO(text))))


def read_npz(path: Path) -> dict:
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DataError(f"{_shown(path)} is missing") from None
    except (OSError, ValueError) as e:
        raise DataError(f"{_shown(path)} is not a readable .npz file ({e})") from None


def _read(path: Path, parse):
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{_shown(path)} is missing") from None
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as e:
        raise DataError(f"{_shown(path)} is not readable ({type(e).__name__}: {e})") from None


def lookup(record: dict, *keys, where: Path):
    """``record[k0][k1]...``; a missing key is a ``DataError`` naming the file."""
    value = record
    for k in keys:
        if not isinstance(value, dict) or k not in value:
            raise DataError(f"{_shown(where)} has no {'.'.join(map(str, keys))}")
        value = value[k]
    return value


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------- number formats

def sig(x: float | None, digits: int = 2) -> str:
    """``digits`` significant digits, fixed notation from 0.001 to 9999 (``0.030``, ``14``),
    else scientific (``2.1e-5``); None or NaN is ``-``."""
    if x is None or not np.isfinite(x):
        return "-"
    rounded = float(f"{x:.{digits}g}")
    if rounded == 0:
        return "0"
    if 1e-3 <= abs(rounded) < 1e4:
        decimals = max(digits - 1 - int(np.floor(np.log10(abs(rounded)))), 0)
        return f"{rounded:.{decimals}f}"
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def duration(seconds: float) -> str:
    if seconds < 600:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def spread(values: Sequence[float], spec: str = ".2f", unit: str = "") -> str:
    """Median and (min-max) of repeated measurements: never the best one alone."""
    v = np.asarray(values, float)
    if len(v) == 1:
        return f"{v[0]:{spec}}{unit}"
    return f"{np.median(v):{spec}}{unit} ({v.min():{spec}}-{v.max():{spec}}{unit})"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence], align: str = "") -> str:
    """``align``: one character per column, ``l`` or ``r`` (default all ``l``)."""
    align = align or "l" * len(header)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(map(str, line)) + " |" for line in lines) + "\n"


def command_of(record: dict, where: Path) -> str:
    """The command that made a result, without its output directory (where it was written is
    not how)."""
    command = record.get("command") or record.get("machine", {}).get("command")
    if not command:
        raise DataError(f"{_shown(where)} records no command")
    return re.sub(r"\s--(out|run_dir)(=|\s+)\S+", "", command)


# ----------------------------------------------------------------------------- Part 1 tables

ENCODINGS = {1: "raw digits", 10: "one-hot"}


def palindrome_table(run: Path) -> str:
    """``experiments/palindrome.py``'s accuracy against length (summary.json, final.csv): mean
    over seeds; where the seeds disagree by more than 0.2 each seed's value too."""
    summary = read_json(run / "summary.json")
    rows = read_csv(run / "final.csv")
    lengths = lookup(summary, "lengths", where=run / "summary.json")
    results = lookup(summary, "results", where=run / "summary.json")
    body = []
    for model, result in results.items():
        cells = []
        for t in lengths:
            per_length = lookup(result, "per_length", str(t), where=run / "summary.json")
            seeds = [r["accuracy"] for r in rows if r["model"] == model and int(r["length"]) == t]
            cells.append(_accuracy_cell(per_length, seeds))
        body.append([plotting.MODEL_NAMES.get(model, model), *cells])
    cfg = summary.get("config", {})
    machine = summary.get("machine", {})
    caption = (f"Accuracy on {cfg.get('eval_batch', '?')} fresh palindromes per run, mean of "
               f"{summary.get('seeds')} seeds; {palindrome_settings(summary)}.  "
               f"`{command_of(summary, run / 'summary.json')}`: "
               f"{summary.get('wall_seconds')} s wall, {summary.get('compile_seconds')} s of it "
               f"compiling, on {machine.get('cpu', '?')} ({machine.get('cores', '?')} cores), "
               f"JAX {machine.get('jax', '?')}.")
    return markdown_table(["T", *map(str, lengths)], body) + "\n" + caption + "\n"


def _accuracy_cell(per_length: dict, seeds: list[str]) -> str:
    mean = per_length.get("mean_accuracy")
    text = "-" if mean is None else f"{mean:.3f}"
    scored = [float(s) for s in seeds if s != ""]
    if per_length.get("diverged"):
        text += f" ({per_length['diverged']} of {len(seeds)} seeds diverged)"
    elif scored and max(scored) - min(scored) > 0.2:
        text += " (seeds: " + ", ".join(f"{s:.3f}" for s in scored) + ")"
    return text


def palindrome_settings(summary: dict) -> str:
    """The run's settings as the experiment's figure titles state them."""
    c = summary["config"]
    encoding = "raw digits" if c["input_dim"] == 1 else "one-hot digits"
    return (f"{encoding}, {c['num_hidden']} hidden, {c['optimizer']} lr {c['learning_rate']}, "
            f"batch {c['batch_size']}, init {c['init']} (forget bias {c['forget_bias']})")


def gradients_table(*runs: Path) -> str:
    """``experiments/gradients.py``'s summary.json, one row per model and encoding of each run:
    r = ||dl/dh(1)|| / ||dl/dh(T-1)|| per length at init and after training, the decay per
    step at the longest length, and the accuracy after training ("/ c:" the LSTM's cell path)."""
    body, lengths = [], []
    for run in runs:
        where = run / "summary.json"
        summary = read_json(where)
        config = lookup(summary, "config", where=where)
        lengths = config["lengths"]
        for model in config["models"]:
            for d in config["input_dims"]:
                entries = {(T, stage): lookup(summary, "results", f"{model} d={d} T={T} {stage}",
                                             where=where)
                           for T in lengths for stage in ("init", "trained")}
                body.append([config["init"], *_gradient_cells(entries, model, d, lengths)])
    return markdown_table(["init", "model, encoding", f"r at init, T = {' / '.join(map(str, lengths))}",
                           "factor at init", "r after training", "accuracy after training"], body)


def _gradient_cells(entries: dict, model: str, d: int, lengths) -> list[str]:
    def per_length(stage, key):
        return " / ".join(sig(entries[T, stage].get(key)) for T in lengths)
    longest = lengths[-1]
    r_init = per_length("init", "dh_first_over_last")
    r_trained = per_length("trained", "dh_first_over_last")
    factor = sig(entries[longest, "init"].get("dh_decay_per_step"))
    name = f"{plotting.MODEL_NAMES.get(model, model)}, {ENCODINGS.get(d, d)}"
    if model == "lstm":
        name += ": h / c"
        r_init += " / c: " + per_length("init", "dc_first_over_last")
        r_trained += " / c: " + per_length("trained", "dc_first_over_last")
        factor += " / c: " + sig(entries[longest, "init"].get("dc_decay_per_step"))
    accuracy = " / ".join(f"{entries[T, 'trained']['final_accuracy']:.2f}" for T in lengths)
    return [name, r_init, factor, r_trained, accuracy]


def clipping_table(run: Path) -> str:
    """``experiments/gradients.py``'s clipping.csv: percent of steps whose gradient norm exceeded
    max_norm and the largest norm; where an unclipped run exists, clipped / unclipped."""
    rows = read_csv(run / "clipping.csv")
    lengths = sorted({int(r["length"]) for r in rows})
    body = []
    for model, d in dict.fromkeys((r["model"], int(r["input_dim"])) for r in rows):
        mine = [r for r in rows if r["model"] == model and int(r["input_dim"]) == d]
        name = f"{plotting.MODEL_NAMES.get(model, model)}, {ENCODINGS.get(d, d)}"

        def cell(T, unclipped, what):
            found = [r for r in mine if int(r["length"]) == T
                     and (r["max_norm"] == "none") == unclipped]
            if not found:
                return "-"
            r = found[0]
            if r.get("diverged_at"):
                return f"diverged at step {r['diverged_at']}"
            if what == "accuracy":
                return f"{float(r['final_accuracy']):.2f}"
            share = f"{100 * float(r['clipped_fraction']):.1f}%"
            return share if what == "share" else f"{share}, max {sig(float(r['max_grad_norm']))}"
        if any(r["max_norm"] == "none" for r in mine):
            body.append([f"{name}: clipped run / unclipped run",
                         *(f"{cell(T, False, 'share')} / {cell(T, True, 'share')}"
                           for T in lengths)])
            body.append([f"{name}: accuracy clipped / unclipped",
                         *(f"{cell(T, False, 'accuracy')} / {cell(T, True, 'accuracy')}"
                           for T in lengths)])
        else:
            body.append([f"{name} (clipped run)", *(cell(T, False, "max") for T in lengths)])
    return markdown_table(["model, encoding", *(f"T = {T}" for T in lengths)], body)


def optimizers_table(run: Path) -> str:
    """``experiments/optimizers.py``'s table.csv and summary.json (the rates tried)."""
    rows = read_csv(run / "table.csv")
    rates = lookup(read_json(run / "summary.json"), "learning_rates",
                  where=run / "summary.json")
    body = []
    for r in rows:
        tried = ", ".join(f"{lr:g}" for lr in rates.get(r["optimizer"], []))
        if r.get("diverged_at"):
            body.append([r["optimizer"], tried, "-", f"diverged at step {r['diverged_at']}",
                         "-", "-"])
            continue
        reached, seeds = r["reached_0.99"].split("/")
        steps = r["steps_to_0.99_median"] or "-"
        body.append([r["optimizer"], tried, f"{float(r['best_lr']):g}",
                     f"{steps} ({reached} of {seeds} seeds)",
                     f"{float(r['test_accuracy_mean']):.3f} ± {float(r['test_accuracy_std']):.3f}",
                     r["train_seconds"]])
    return markdown_table(["optimizer", "rates tried", "chosen", "steps to 0.99",
                           "test accuracy", "training wall time (s)"], body)


# ----------------------------------------------------------------------------- Part 2 tables

def text_curve_table(run: Path, steps: Sequence[int] = (1000, 5000, 10000, 15000, 20000)) -> str:
    """``train_text.py``'s history.csv at the given steps: training and held-out loss (nats per
    character) and accuracy, held out both as 30-character windows and with the state carried."""
    rows = {int(r["step"]): r for r in read_csv(run / "history.csv")}
    seq = lookup(read_json(run / "summary.json"), "config", "seq_length",
                where=run / "summary.json")
    body = []
    for step in steps:
        if step not in rows or rows[step].get("val_loss", "") == "":
            raise DataError(f"{_shown(run / 'history.csv')} has no validated row at step {step}")
        r = rows[step]
        body.append([f"{step:,}", *(f"{float(r[k]):.3f}" for k in (
            "loss", "accuracy", "val_loss", "val_accuracy", "val_loss_carried",
            "val_accuracy_carried"))])
    return markdown_table(["step", "train loss", "train acc.", f"val loss, {seq}-char windows",
                           "val acc.", "val loss, state carried", "val acc."], body, "rrrrrrr")


def regularisation_table(*runs: Path) -> str:
    """One row per ``train_text.py`` run (summary.json, history.csv): its command, dropout,
    weight averaging, last training loss, best held-out losses and wall time."""
    body = []
    for run in runs:
        summary = read_json(run / "summary.json")
        where = run / "summary.json"
        cfg = lookup(summary, "config", where=where)
        history = read_csv(run / "history.csv")
        carried = [(float(r["val_loss_carried"]), int(r["step"])) for r in history
                   if r.get("val_loss_carried", "") != ""]
        if not carried:
            raise DataError(f"{_shown(run / 'history.csv')} has no held-out loss")
        best_carried = min(carried)
        average = cfg.get("average_decay", 0)
        dropout = cfg.get("dropout", 0)
        command = f"`{command_of(summary, where)}`" if summary.get("command") else "not recorded"
        body.append([command, f"{dropout:g}" if dropout else "none",
                     f"{average:g}" if average else "no",
                     f"{lookup(summary, 'train_loss', where=where):.3f}",
                     f"{lookup(summary, 'best_val_loss', where=where):.3f} at "
                     f"{lookup(summary, 'best_val_step', where=where) / 1000:g}k",
                     f"{best_carried[0]:.3f} at {best_carried[1] / 1000:g}k",
                     f"{lookup(summary, 'time_s', where=where):,.0f} s"])
    return markdown_table(["command", "dropout", "averaged weights", "train loss",
                           "val, windows (best)", "val, carried (best)", "wall"], body,
                          "lllrrrr")


# ----------------------------------------------------------------------------- Part 3 tables

# What each paper reports (test accuracy, %), beside our reproduction.
PAPER_ACCURACY = {("cora", "gcn"): "81.5 % (Kipf & Welling 2017)", ("citeseer", "gcn"): "70.3 %",
                  ("cora", "gat"): "83.0 % (Velickovic et al. 2018)", ("citeseer", "gat"): "72.5 %"}
GNN_RUNS = ("cora_gcn", "citeseer_gcn", "cora_gat", "citeseer_gat", "karate_gcn", "karate_gat")
DATASET_NAMES = {"cora": "Cora", "citeseer": "Citeseer", "karate": "karate club"}


def gnn_table(run: Path, names: Sequence[str] = GNN_RUNS, short: bool = False) -> str:
    """``experiments/gnn.py``'s NAME.json files: test accuracy, mean +- std over the seeds,
    beside the paper's; ``short``: without the selection rule and the times (the README's)."""
    body = []
    for name in names:
        where = run / f"{name}.json"
        r = read_json(where)
        dataset, model = lookup(r, "dataset", where=where), lookup(r, "model", where=where)
        accuracy = (f"{lookup(r, 'test_accuracy_mean', where=where):.2f} +- "
                    f"{lookup(r, 'test_accuracy_std', where=where):.2f} %")
        row = [DATASET_NAMES.get(dataset, dataset), model.upper(), accuracy,
               PAPER_ACCURACY.get((dataset, model), "-")]
        if not short:
            seeds = lookup(r, "runs", where=where)
            fired = sum(bool(s["stopped_early"]) for s in seeds)
            cfg = lookup(r, "config", where=where)
            rule = {"kipf": f"Kipf's early stopping (fired in {fired}/{len(seeds)})",
                    "gat": f"GAT's joint val acc/loss rule, {cfg['epochs']} epochs (fired in "
                           f"{fired}/{len(seeds)})",
                    "last": f"last epoch ({cfg['epochs']})"}.get(cfg["selection"],
                                                                  cfg["selection"])
            row += [rule, f"{r['wall_seconds']:.0f} s / {r['cpu_seconds']:.0f} s"]
        body.append(row)
    header = ["dataset", "model", "rnn_gnn", "paper"]
    return markdown_table(header + ([] if short else ["selection", "wall / CPU time"]), body)


# What each variant of question 3.3b is given (rnn_gnn.graph.comparison.variants' labels).
SEES = {"graph LSTM": "graph + time (recurrent)", "LSTM per node (no graph)": "time, no graph",
        "GCN, latest frame (no time)": "graph, no time"}


def graph_lstm_table(run: Path) -> str:
    """``experiments/graph_lstm.py``'s graph_lstm.json: held-out scores, mean +- std over seeds,
    and the rule applied to the true hidden state (the ceiling)."""
    where = run / "graph_lstm.json"
    r = read_json(where)
    body = []
    for label, scores in lookup(r, "summary (mean, std over seeds)", where=where).items():
        f1 = [f"{scores[m][0]:.3f} +- {scores[m][1]:.3f}" for m in ("wave_f1", "fire_f1")]
        body.append([label, SEES.get(label, "graph + a window of frames"), *f1,
                     f"{scores['accuracy'][0]:.4f}", f"{scores['loss'][0]:.3f}"])
    rule = lookup(r, "rule_on_hidden_state", where=where)
    body.append(["rule applied to the true hidden state", "everything (ceiling)",
                 f"{rule['wave_f1']:.3f}", f"{rule['fire_f1']:.3f}", f"{rule['accuracy']:.4f}",
                 "-"])
    return markdown_table(["model", "sees", "wave F1", "fire F1", "accuracy",
                           "test cross-entropy"], body)


# ----------------------------------------------------------------------------- benchmark tables

def study_sweep_table(run: Path) -> str:
    """Row (f) of ``experiments/benchmark.py`` (benchmark.json): per run-step, median of the
    repeats with the spread; the protocol projected, and in how many repeats the target held."""
    where = run / "benchmark.json"
    bench = read_json(where)
    rows = lookup(bench, "study_sweep", where=where)
    if not rows:
        raise DataError(f"{_shown(where)} holds no row (f)")
    *models, total = rows
    body = [[m["name"].removeprefix("study sweep "), spread(m["project_ms_runs"]),
             spread(m["torch_ms_runs"]), spread(m["speedups"], unit="x")] for m in models]
    met, repeats = total["met_in"].split(" of ")
    body.append(["**whole protocol, projected**",
                 f"**{total['project_projected_s'] / 3600:.2f} h**",
                 f"**{total['torch_projected_s'] / 3600:.2f} h**",
                 f"**{spread(total['speedups'], unit='x')}**, target >= {total['target']:g}x: "
                 f"met in {met} of {repeats} repeats"])
    info = bench["machine"]
    caption = (f"`{command_of(bench, where)}`, {info['date'][:10]}, {info['cpu']} "
               f"({info['cpu_cores']} cores), JAX {info['jax']}, torch {info.get('torch', '-')} "
               f"({info.get('torch_threads', '-')} threads), {info['clock']} clock; median of "
               f"{len(total['speedups'])} repeats (min-max); speed-up = torch time / project "
               f"time within a repeat.")
    return (markdown_table(["per run-step", "project ms", "serial torch ms", "speed-up"], body,
                           "lrrr") + "\n" + caption + "\n")


def benchmark_table(*runs: Path) -> str:
    """Rows (a)-(e) of ``experiments/benchmark.py`` over several runs (benchmark.json each): the
    median of the runs with their spread, and in how many runs each target was met."""
    results, wholes = {}, {}
    for run in runs:
        bench = read_json(run / "benchmark.json")
        for r in lookup(bench, "results", where=run / "benchmark.json"):
            if "speedup" in r:
                key = (r["name"], r.get("project_label", ""), r.get("torch_label", ""))
                results.setdefault(key, []).append(r)
        for w in bench.get("whole_runs", []):
            if w.get("wall_s") is not None:
                wholes.setdefault(w["command"], []).append(w)
    body = []
    for (name, project, torch), rs in results.items():
        target = rs[0].get("target")
        met = "-" if target is None else (
            f">= {target:g}x: met in {sum(r['speedup'] >= target for r in rs)} of {len(rs)}")
        body.append([name, project, torch, spread([r["project_ms"] for r in rs]),
                     spread([r["torch_ms"] for r in rs]),
                     spread([r["speedup"] for r in rs], unit="x"), met])
    for command, ws in wholes.items():
        compile_s = [w["compile_s"] for w in ws if w.get("compile_s") is not None]
        wall = spread([w["wall_s"] for w in ws], ".1f", " s") + " wall"
        if compile_s:
            wall += f", {spread(compile_s, '.1f', ' s')} compiling"
        body.append([ws[0]["name"], f"`{command}`", "", wall, "", "", "-"])
    return (markdown_table(["comparison", "project", "reference", "project ms", "torch ms",
                            "speed-up", "target"], body, "lllrrrl")
            + f"\nMedian (min-max) over {len(runs)} runs of the script.\n")


# ----------------------------------------------------------------------------- the experiments

class Experiment(NamedTuple):
    command: str
    question: str
    output: str
    time: tuple[str, Callable[[Path], str]] | None   # (result directory, its time as text)


def seconds(file: str, key: str) -> Callable[[Path], str]:
    """The wall time a run recorded: ``key`` of ``file`` in its result directory."""
    def read(run: Path) -> str:
        return duration(lookup(read_json(run / file), key, where=run / file))
    return read


def projected_protocol(run: Path) -> str:
    total = lookup(read_json(run / "benchmark.json"), "study_sweep", where=run)[-1]
    return f"not yet measured (projected {total['project_projected_s'] / 3600:.1f} h, row f)"


# Result directory names are those the committed runs get under docs/results/.
EXPERIMENTS = (
    Experiment("python experiments/palindrome.py",
               "1.2, 1.3, 1.6: how long a palindrome can the vanilla RNN and the LSTM remember?",
               "results/palindrome", ("palindrome_default", seconds("summary.json",
                                                                    "wall_seconds"))),
    Experiment("python experiments/palindrome.py --full",
               "the same, with the study's protocol (T = 5..23, 10 seeds, 10000 steps: Figure 1)",
               "results/palindrome", ("benchmark_study_sweep", projected_protocol)),
    Experiment("python experiments/gradients.py",
               "1.1, clipping: does the RNN's gradient vanish where the LSTM's carries? what "
               "does max_norm do?", "results/gradients",
               ("gradients_default", seconds("summary.json", "seconds"))),
    Experiment("python experiments/optimizers.py",
               "1.4: plain SGD against momentum and adaptive learning rates",
               "results/optimizers", ("optimizers_default", seconds("summary.json", "seconds"))),
    Experiment("python experiments/generate.py --temperature 0.5",
               "2.1: text from the shipped Grimm model (no training needed)", "stdout", None),
    Experiment("python experiments/train_text.py --quick",
               "2.1: a small character LSTM, to see words appear", "results/text/grimms_quick",
               ("text_grimms_quick", seconds("summary.json", "time_s"))),
    Experiment("python experiments/train_text.py --data_dir ../shared/corpora",
               "2.1: does the 2x128 LSTM reach 1.35 nats/char on held-out text?",
               "results/text/grimms", ("text_grimms", seconds("summary.json", "time_s"))),
    Experiment("python experiments/gnn.py",
               "3.1: a GCN on Zachary's karate club, drawn", "results/gnn",
               ("gnn_paper_settings", seconds("karate_gcn.json", "wall_seconds"))),
    Experiment("python experiments/gnn.py --dataset cora --model gcn "
               "--data_dir ../shared/datasets/planetoid",
               "3.1: GCN and GAT (`--model gat`) on Cora and Citeseer against the papers",
               "results/gnn", ("gnn_paper_settings", seconds("cora_gcn.json", "wall_seconds"))),
    Experiment("python experiments/graph_lstm.py",
               "3.3b: does a graph-convolutional LSTM beat a GCN without time and an LSTM "
               "without the graph?", "results/graph_lstm",
               ("graph_lstm", seconds("graph_lstm.json", "wall_seconds"))),
    Experiment("python experiments/benchmark.py",
               "performance: each compiled step against its PyTorch reference",
               "results/benchmark", None),
)


def experiments_table(results: Path) -> str:
    """Every experiment: command, question, time from its committed result (else "not yet
    measured"), output folder."""
    body = []
    for e in EXPERIMENTS:
        time = "not yet measured"
        if e.time is not None and (results / e.time[0]).is_dir():
            time = e.time[1](results / e.time[0])
        body.append([f"`{e.command}`", e.question, time, f"`{e.output}`"])
    return markdown_table(["command", "question", "time on 2 cores", "output"], body)


# ----------------------------------------------------------------------------- figures

def palindrome_finals(run: Path) -> tuple[list[int], dict]:
    """final.csv as ``accuracy_vs_length``'s input: ``{model: {"accuracy": [lengths, seeds]}}``
    (a diverged run is NaN, as the experiment passes it)."""
    lengths = lookup(read_json(run / "summary.json"), "lengths", where=run / "summary.json")
    finals = {}
    for r in read_csv(run / "final.csv"):
        finals.setdefault(r["model"], {}).setdefault(int(r["length"]), []).append(
            float(r["accuracy"]) if r["accuracy"] != "" else np.nan)
    try:
        return lengths, {m: {"accuracy": np.array([per[t] for t in lengths])}
                         for m, per in finals.items()}
    except (KeyError, ValueError):
        raise DataError(f"{_shown(run / 'final.csv')} does not hold every length and seed of "
                        f"summary.json") from None


def palindrome_title(run: Path) -> str:
    summary = read_json(run / "summary.json")
    return f"{palindrome_settings(summary)}, mean of {summary['seeds']} seeds"


def palindrome_accuracy_figure(run: Path):
    lengths, finals = palindrome_finals(run)
    return plotting.accuracy_vs_length(finals, lengths, palindrome_title(run))


def palindrome_curves_figure(run: Path, smooth: int = 10):
    """Figure 1 from curves.npz (``{model}_{metric}``: ``[lengths, seeds, steps]``)."""
    curves = read_npz(run / "curves.npz")
    models = list(dict.fromkeys(k.split("_", 1)[0] for k in curves if k != "lengths"))
    histories = {m: {k.split("_", 1)[1]: v for k, v in curves.items() if k.startswith(m + "_")}
                 for m in models}
    return plotting.training_curves(histories, [int(t) for t in curves["lengths"]], smooth,
                                    palindrome_title(run))


def fingerprint(fig) -> str:
    """sha256 of what a figure shows, independent of the matplotlib version's rasterisation."""
    from matplotlib.colors import to_hex

    def num(values):
        return [f"{v:.6g}" for v in np.ravel(np.asarray(values, float))]

    def colours(values):
        return [to_hex(c, keep_alpha=True) for c in np.atleast_2d(values)] if len(values) else []
    parts = [num(fig.get_size_inches()), fig.get_suptitle()]
    for ax in fig.axes:
        parts.append([ax.get_title("left"), ax.get_title(), ax.get_title("right"),
                      ax.get_xlabel(), ax.get_ylabel(), num(ax.get_xlim()), num(ax.get_ylim()),
                      ax.get_xscale(), ax.get_yscale()])
        for line in ax.lines:
            parts.append(["line", num(line.get_xydata()), to_hex(line.get_color(), True),
                          str(line.get_linestyle()), num([line.get_linewidth()]),
                          str(line.get_marker()), line.get_label()])
        for c in ax.collections:
            parts.append(["collection", [num(p.vertices) for p in c.get_paths()],
                          num(c.get_offsets()), colours(c.get_facecolor()),
                          colours(c.get_edgecolor())])
        for p in ax.patches:
            parts.append(["patch", num(p.get_patch_transform().transform(p.get_path().vertices)),
                          to_hex(p.get_facecolor(), True)])
        for t in ax.texts:
            parts.append(["text", t.get_text(), num(t.get_position())])
        for image in ax.images:
            parts.append(["image", num(image.get_array())])
        legend = ax.get_legend()
        if legend is not None:
            parts.append(["legend", legend.get_title().get_text(),
                          [t.get_text() for t in legend.get_texts()]])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def render_png(fig) -> bytes:
    """The figure as PNG bytes with its fingerprint, deterministically (Agg, fixed dpi, no
    version or date metadata)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight",
                metadata={"Software": None, FINGERPRINT_KEY: fingerprint(fig)})
    return buf.getvalue()


def png_fingerprint(path: Path) -> str | None:
    """The fingerprint a committed PNG carries (None: missing, unreadable, or drawn by hand)."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as image:
            return image.text.get(FINGERPRINT_KEY)
    except (FileNotFoundError, UnidentifiedImageError, OSError):
        return None


# ----------------------------------------------------------------------------- the registry

class Source(NamedTuple):
    runs: tuple[str, ...]             # result directories under docs/results/
    render: Callable[..., object]     # render(*run_dirs) -> markdown text, or a Figure


TABLES = {
    "experiments": Source((".",), experiments_table),   # docs/results/ itself
    "palindrome_default": Source(("palindrome_default",), palindrome_table),
    "benchmark_study_sweep": Source(("benchmark_study_sweep",), study_sweep_table),
}
FIGURES = {
    "palindrome_accuracy_vs_length.png": Source(("palindrome_default",),
                                                palindrome_accuracy_figure),
}


def render(source: Source, root: Path):
    dirs = [root / RESULTS / run for run in source.runs]
    for d in dirs:
        if not d.is_dir():
            raise DataError(f"{_shown(d)} is missing (the result directory this section is "
                            f"made from)")
    try:
        return source.render(*dirs)
    except (KeyError, IndexError, TypeError, ValueError) as e:   # a file of another format
        raise DataError(f"{', '.join(map(_shown, dirs))}: not the result files expected "
                        f"({type(e).__name__}: {e})") from None


# ----------------------------------------------------------------------------- docs

SECTION = re.compile(r"^<!-- report:(\w+) -->\n(.*?)^<!-- /report:\1 -->$", re.S | re.M)
OPENING = re.compile(r"^<!-- /?report:(\w+) -->$", re.M)
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+\.png)\)")


def doc_paths(root: Path) -> list[Path]:
    return sorted(p for pattern in DOCS for p in root.glob(pattern))


def rebuild(text: str, tables: dict, where: Path) -> tuple[str, list[str]]:
    """``text`` with every generated section rewritten; and the names of those that changed."""
    found = SECTION.findall(text)
    if len(OPENING.findall(text)) != 2 * len(found):
        raise DataError(f"{_shown(where)}: a report marker without its pair (each section is "
                        f"<!-- report:NAME --> ... <!-- /report:NAME --> on lines of their own)")
    unknown = [name for name, _ in found if name not in tables]
    if unknown:
        raise DataError(f"{_shown(where)}: generated section {unknown[0]!r} has no entry in "
                        f"report.TABLES")
    changed = [name for name, body in found if body != tables[name]]
    new = SECTION.sub(lambda m: f"<!-- report:{m[1]} -->\n{tables[m[1]]}<!-- /report:{m[1]} -->",
                      text)
    return new, changed


def figure_links(root: Path) -> tuple[set[Path], list[str]]:
    """The PNGs the docs show (resolved), and a line for each one that does not exist."""
    shown, broken = set(), []
    for doc in doc_paths(root):
        for link in IMAGE.findall(doc.read_text(encoding="utf-8")):
            if "://" in link:
                continue
            path = (doc.parent / link).resolve()
            shown.add(path)
            if not path.is_file():
                broken.append(f"{doc.relative_to(root)}: shows {link}, which does not exist")
    return shown, broken


def main(argv=None):
    p = cli.ArgumentParser(description=__doc__)
    p.add_argument("--check", action="store_true",
                   help="change nothing; exit 1 naming every generated section or figure that "
                        "differs from what docs/results/ gives")
    p.add_argument("--root", type=Path, default=ROOT, help="the repository to work on")
    args = p.parse_args(argv)
    root = args.root.resolve()
    stale = []

    tables = {name: render(source, root) for name, source in TABLES.items()}
    for doc in doc_paths(root):
        text = doc.read_text(encoding="utf-8")
        new, changed = rebuild(text, tables, doc)
        stale += [f"{doc.relative_to(root)}: table {name!r} differs from what "
                  f"{', '.join(str(RESULTS / r) for r in TABLES[name].runs) or str(RESULTS)} "
                  f"gives" for name in changed]
        if changed and not args.check:
            files.atomic_write_bytes(doc, new.encode("utf-8"))

    for name, source in FIGURES.items():
        path = root / FIGURE_DIR / name
        fig = render(source, root)
        if png_fingerprint(path) != fingerprint(fig):
            stale.append(f"{path.relative_to(root)}: figure differs from what "
                         f"{', '.join(str(RESULTS / r) for r in source.runs)} gives")
            if not args.check:
                files.atomic_write_bytes(path, render_png(fig))
        plotting.plt.close(fig)

    shown, broken = figure_links(root)
    orphans = [f"{(FIGURE_DIR / p.name)}: shown by no doc" for p in
               sorted((root / FIGURE_DIR).glob("*.png")) if p.resolve() not in shown]
    undrawn = sorted(p.name for p in (root / FIGURE_DIR).glob("*.png") if p.name not in FIGURES)
    if args.check:
        for line in stale + broken + orphans:
            print(f"report.py: {line}", file=sys.stderr)
        if stale:
            print("report.py: run `python experiments/report.py` to rebuild from the data",
                  file=sys.stderr)
        print(f"checked {len(TABLES)} tables and {len(FIGURES)} figures; not yet drawn from "
              f"committed data: {', '.join(undrawn) or 'none'}")
        if stale or broken or orphans:
            sys.exit(1)
    else:
        for line in stale:
            print(f"rebuilt {line}")
        for line in broken + orphans:
            print(f"report.py: {line}", file=sys.stderr)
        if broken or orphans:
            sys.exit(1)


if __name__ == "__main__":
    cli.run_main(main)
