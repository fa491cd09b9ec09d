"""The results tables of the docs, one formatter per table, each from the files its
experiment writes; ``TABLES`` names the committed runs each generated section is made from.

Repeated measurements are shown as the median with the range, ``median (min-max)``, and a
target as "met in k of n": a table never shows the best repeat alone.
"""

from __future__ import annotations

import json
import re
import tomllib
from functools import partial
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import numpy as np

from rnn_gnn.errors import DataError
from rnn_gnn.palindrome.figures import sweep_title
from rnn_gnn.palindrome.gradients import ENCODINGS
from rnn_gnn.palindrome.runner import FULL, Config
from rnn_gnn.plotting import MODEL_NAMES
from rnn_gnn.report.results import (Source, lookup, read_csv, read_json, read_lines, read_npz,
                                    shown)


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
        raise DataError(f"{shown(where)} records no command")
    return re.sub(r"\s--(out|run_dir)(=|\s+)\S+", "", command)


def cpu_name(machine: dict) -> str:
    """``"AMD EPYC family 26 model 2 (avx512f), 2 cores"``: as much as the record holds."""
    cpu = machine.get("cpu", "?")
    if machine.get("cpu_family"):
        cpu += f" family {machine['cpu_family']} model {machine.get('cpu_model', '?')}"
    if machine.get("vector"):
        cpu += f" ({machine['vector']})"
    return f"{cpu}, {machine.get('cores', machine.get('cpu_cores', '?'))} cores"


def model_name(model: str, input_dim: int | None = None) -> str:
    name = MODEL_NAMES.get(model, model)
    return name if input_dim is None else f"{name}, {ENCODINGS.get(input_dim, input_dim)}"


# ----------------------------------------------------------------------------- Part 1

def sweep_config(summary: dict, where: Path) -> Config:
    """The ``Config`` of ``experiments/palindrome.py``'s summary.json (which leaves out
    ``model_type``: the run trains each model of ``results``)."""
    try:
        return Config(**lookup(summary, "config", where=where))
    except TypeError as e:
        raise DataError(f"{shown(where)}: its config is not a palindrome Config ({e})") from None


def palindrome_title(run: Path) -> str:
    """The run's settings as the experiment's figure titles state them."""
    where = run / "summary.json"
    summary = read_json(where)
    return sweep_title(sweep_config(summary, where), lookup(summary, "seeds", where=where),
                       list(lookup(summary, "results", where=where)))


def palindrome_table(run: Path) -> str:
    """``experiments/palindrome.py``'s accuracy against length (summary.json, final.csv): mean
    over seeds; where the seeds disagree by more than 0.2 each seed's value too."""
    where = run / "summary.json"
    summary = read_json(where)
    rows = read_csv(run / "final.csv")
    lengths = lookup(summary, "lengths", where=where)
    body = []
    for model, result in lookup(summary, "results", where=where).items():
        cells = []
        for t in lengths:
            per_length = lookup(result, "per_length", str(t), where=where)
            seeds = [r["accuracy"] for r in rows if r["model"] == model and int(r["length"]) == t]
            cells.append(_accuracy_cell(per_length, seeds))
        body.append([model_name(model), *cells])
    machine = summary.get("machine", {})
    caption = (f"Accuracy on {sweep_config(summary, where).eval_batch} fresh palindromes per "
               f"run; {palindrome_title(run)}.  `{command_of(summary, where)}`: "
               f"{summary.get('wall_seconds')} s wall, {summary.get('compile_seconds')} s of it "
               f"compiling, on {cpu_name(machine)}, "
               f"JAX {machine.get('jax', '?')}.")
    return markdown_table(["T", *map(str, lengths)], body) + "\n" + caption + "\n"


# Issue 11's reading of a protocol run: a length is solved at 0.99, and above chance (0.1) at
# 0.15, five binomial standard errors of one 2048-palindrome score at chance.
SOLVED, ABOVE_CHANCE, LEFT_CHANCE = 0.99, 0.15, 0.2


def seed_accuracies(run: Path) -> tuple[list[int], dict]:
    """``(lengths, {model: [len(lengths), seeds]})``: each run's accuracy from
    ``experiments/palindrome.py``'s final.csv, a diverged run as NaN."""
    where = run / "summary.json"
    lengths = lookup(read_json(where), "lengths", where=where)
    per: dict = {}
    for r in read_csv(run / "final.csv"):
        per.setdefault(r["model"], {}).setdefault(int(r["length"]), []).append(
            float(r["accuracy"]) if r["accuracy"] != "" else np.nan)
    try:
        return lengths, {m: np.array([v[t] for t in lengths]) for m, v in per.items()}
    except (KeyError, ValueError):
        raise DataError(f"{shown(run / 'final.csv')} does not hold every length and seed of "
                        f"{shown(where)}") from None


def _run_label(model: str, cfg: Config) -> str:
    extra = f", forget bias {cfg.forget_bias:g}" if model == "lstm" else ""
    return f"{model_name(model)}, init {cfg.init}{extra}"


def protocol_table(*runs: Path) -> str:
    """The study protocol's accuracy per length, mean ± std over seeds, one row per model of
    each run (issue 11: both models, both initialisations)."""
    body, captions = [], []
    for run in runs:
        where = run / "summary.json"
        summary = read_json(where)
        cfg = sweep_config(summary, where)
        lengths, acc = seed_accuracies(run)
        for model, a in acc.items():
            cells = []
            for row in a:
                ok = row[np.isfinite(row)]
                cell = f"{ok.mean():.3f} ± {ok.std():.3f}" if len(ok) else "-"
                cells.append(cell + (f" ({len(row) - len(ok)} diverged)" if len(ok) < len(row)
                                     else ""))
            body.append([_run_label(model, cfg), *cells])
        machine = summary.get("machine", {})
        captions.append(f"`{command_of(summary, where)}`: {duration(summary['wall_seconds'])} "
                        f"wall on {cpu_name(machine)}")
    return (markdown_table(["T", *map(str, lengths)], body) + "\n"
            + f"Accuracy on {cfg.eval_batch} fresh palindromes per run, mean ± std over "
            + f"{summary['seeds']} seeds; {cfg.num_hidden} hidden, {cfg.train_steps} steps.  "
            + "; ".join(captions) + ".\n")


def _longest(lengths, ok) -> str:
    return str(max((t for t, k in zip(lengths, ok) if k), default="-"))


def _solved_cell(a) -> str:
    """One length's seed accuracies: mean ± std and how many seeds solve it (>= SOLVED)."""
    return (f"{np.nanmean(a):.3f} ± {np.nanstd(a):.3f} ({int((a >= SOLVED).sum())} of "
            f"{len(a)} seeds solve it)")


def lengths_table(*runs: Path, models=None, lengths=None) -> str:
    """Runs compared at the lengths and models they share (of ``models`` and ``lengths``, if
    given): per run and model, mean ± std over seeds and how many seeds solve the length
    (>= SOLVED)."""
    shared, rows, commands = lengths, [], []
    for run in runs:
        summary = read_json(run / "summary.json")
        cfg = sweep_config(summary, run / "summary.json")
        commands.append(f"`{command_of(summary, run)}`")
        run_lengths, acc = seed_accuracies(run)
        shared = [t for t in run_lengths if shared is None or t in shared]
        models = [m for m in acc if models is None or m in models]
        rows += [(model, cfg, dict(zip(run_lengths, a))) for model, a in acc.items()]
    body = [[_run_label(model, cfg), *(_solved_cell(a[t]) for t in shared)]
            for model, cfg, a in rows if model in models]
    return markdown_table(["T", *map(str, shared)], body) + (
        f"\nAccuracy on fresh palindromes, mean ± std over seeds; a seed solves a length at "
        f">= {SOLVED}.  " + "; ".join(commands) + ".\n")


STUDY_REACH = {"rnn": ("below about 10", "about 17", "-"),
               "lstm": ("every length to at least 23", "every length", "~3000 (T = 23)")}


def left_chance(curves: dict, model: str, i: int) -> str:
    """The first step at which the seeds' mean accuracy at the ``i``-th length of curves.npz
    exceeds LEFT_CHANCE, or "never left"."""
    left = np.flatnonzero(curves[f"{model}_accuracy"][i] > LEFT_CHANCE)
    return f"{int(curves[f'{model}_step'][left[0]])}" if len(left) else "never left"


def plateau_table(*runs: Path, steps=(1000, 2000, 3000, 5000)) -> str:
    """Runs compared at the longest length they share, through training: per run and model,
    when the seeds' mean accuracy leaves chance, the mean accuracy at ``steps`` and at the
    end (curves.npz), and the final accuracy on fresh palindromes (final.csv)."""
    data = [(run, read_json(run / "summary.json"), *seed_accuracies(run),
             read_npz(run / "curves.npz")) for run in runs]
    length = max(set.intersection(*(set(d[2]) for d in data)))
    models = [m for m in data[0][3] if all(m in d[3] for d in data)]
    first = data[0][4]
    smooth, last = int(first[f"{models[0]}_smooth"]), int(first[f"{models[0]}_step"][-1])
    steps = [s for s in steps if s < last]
    body, commands = [], []
    for run, summary, lengths, acc, curves in data:
        cfg = sweep_config(summary, run / "summary.json")
        commands.append(f"`{command_of(summary, run)}`")
        i = lengths.index(length)
        for model in models:
            curve, at = curves[f"{model}_accuracy"][i], curves[f"{model}_step"]
            a = acc[model][i]
            body.append([_run_label(model, cfg), left_chance(curves, model, i),
                         *(f"{curve[np.searchsorted(at, s, side='right') - 1]:.3f}"
                           for s in (*steps, at[-1])),
                         _solved_cell(a)])
    return (markdown_table(["model", f"mean leaves chance (> {LEFT_CHANCE}) at step",
                            *(f"mean at step {s:,}" for s in (*steps, last)),
                            "final accuracy"], body)
            + f"\nT = {length}.  Mean accuracy of the seeds' training batches ({smooth}-step "
            + "average, the block ending at that step); final accuracy on fresh palindromes, "
            + f"mean ± std over seeds, a seed solving the length at >= {SOLVED}.  "
            + "; ".join(commands) + ".\n")


def protocol_reach_table(*runs: Path) -> str:
    """How far each model reaches in a protocol run, beside the study's results (SPEC): the
    longest T solved in every seed and in most, the longest above chance, and for how many
    steps the longest length sits at chance."""
    body = []
    for run in runs:
        cfg = sweep_config(read_json(run / "summary.json"), run / "summary.json")
        lengths, acc = seed_accuracies(run)
        curves = read_npz(run / "curves.npz")
        smooth = int(next(v for k, v in curves.items() if k.endswith("_smooth")))
        for model, a in acc.items():
            solved = np.nan_to_num(a, nan=0.0) >= SOLVED
            plateau = left_chance(curves, model, -1)
            study = STUDY_REACH.get(model, ("-", "-", "-"))
            body.append([_run_label(model, cfg), _longest(lengths, solved.all(1)),
                         _longest(lengths, solved.sum(1) > a.shape[1] / 2),
                         _longest(lengths, np.nanmean(a, 1) >= ABOVE_CHANCE), plateau,
                         study[0], study[1], study[2]])
    return (markdown_table(["model", f"longest T >= {SOLVED} in every seed", "in most seeds",
                            f"mean >= {ABOVE_CHANCE} (chance 0.1)",
                            f"steps at chance at T = {lengths[-1]}",
                            "study: full accuracy", "study: above chance",
                            "study: steps at chance"], body)
            + f"\nSteps at chance: the first step at which the seeds' mean accuracy "
            + f"({smooth}-step average) exceeds {LEFT_CHANCE}.\n")


def _accuracy_cell(per_length: dict, seeds: list[str]) -> str:
    mean = per_length.get("mean_accuracy")
    text = "-" if mean is None else f"{mean:.3f}"
    scored = [float(s) for s in seeds if s != ""]
    if per_length.get("diverged"):
        text += f" ({per_length['diverged']} of {len(seeds)} seeds diverged)"
    elif scored and max(scored) - min(scored) > 0.2:
        text += " (seeds: " + ", ".join(f"{s:.3f}" for s in scored) + ")"
    return text


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
    return markdown_table(["init", "model, encoding",
                           f"r at init, T = {' / '.join(map(str, lengths))}", "factor at init",
                           "r after training", "accuracy after training"], body)


def _gradient_cells(entries: dict, model: str, d: int, lengths) -> list[str]:
    def per_length(stage, key):
        return " / ".join(sig(entries[T, stage].get(key)) for T in lengths)
    longest = lengths[-1]
    r_init = per_length("init", "dh_first_over_last")
    r_trained = per_length("trained", "dh_first_over_last")
    factor = sig(entries[longest, "init"].get("dh_decay_per_step"))
    name = model_name(model, d)
    if model == "lstm":
        name += ": h / c"
        r_init += " / c: " + per_length("init", "dc_first_over_last")
        r_trained += " / c: " + per_length("trained", "dc_first_over_last")
        factor += " / c: " + sig(entries[longest, "init"].get("dc_decay_per_step"))
    accuracy = " / ".join(f"{entries[T, 'trained']['final_accuracy']:.2f}" for T in lengths)
    return [name, r_init, factor, r_trained, accuracy]


def clipping_table(run: Path) -> str:
    """``experiments/gradients.py``'s clipping.csv: percent of steps whose gradient norm
    exceeded max_norm and the largest norm; where an unclipped run exists, clipped / unclipped;
    the command and its time from summary.json."""
    rows = read_csv(run / "clipping.csv")
    lengths = sorted({int(r["length"]) for r in rows})
    body = []
    for model, d in dict.fromkeys((r["model"], int(r["input_dim"])) for r in rows):
        mine = [r for r in rows if r["model"] == model and int(r["input_dim"]) == d]
        name = model_name(model, d)

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
    where = run / "summary.json"
    summary = read_json(where)
    return (markdown_table(["model, encoding", *(f"T = {T}" for T in lengths)], body)
            + f"\n`{command_of(summary, where)}`: {lookup(summary, 'seconds', where=where)} s.\n")


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


# ----------------------------------------------------------------------------- Part 2

TEXT_COLUMNS = ("loss", "accuracy", "val_loss", "val_accuracy", "val_loss_carried",
                "val_accuracy_carried")


def text_scores(run: Path, steps: Sequence[int]) -> tuple[dict, list[list[str]]]:
    """``(summary, cells)``: ``train_text.py``'s summary.json, and its history.csv at the
    given steps, each row TEXT_COLUMNS to three decimals."""
    rows = {int(r["step"]): r for r in read_csv(run / "history.csv")}
    cells = []
    for step in steps:
        if step not in rows or rows[step].get("val_loss", "") == "":
            raise DataError(f"{shown(run / 'history.csv')} has no validated row at step {step}")
        cells.append([f"{float(rows[step][k]):.3f}" for k in TEXT_COLUMNS])
    return read_json(run / "summary.json"), cells


def _text_header(first: str, run: Path, summary: dict) -> list[str]:
    seq = lookup(summary, "config", "seq_length", where=run / "summary.json")
    return [first, "train loss", "train acc.", f"val loss, {seq}-char windows", "val acc.",
            "val loss, state carried", "val acc."]


def text_curve_table(run: Path, steps: Sequence[int] = (1000, 5000, 10000, 15000, 20000)) -> str:
    """``train_text.py``'s history.csv at the given steps: training and held-out loss (nats per
    character) and accuracy, held out both as windows and with the state carried."""
    summary, cells = text_scores(run, steps)
    return markdown_table(_text_header("step", run, summary),
                          [[f"{step:,}", *c] for step, c in zip(steps, cells)], "rrrrrrr")


def text_runs_table(*runs: Path, step: int) -> str:
    """``train_text.py`` runs side by side at one step: each run's command and scores."""
    body = []
    for run in runs:
        summary, (cells,) = text_scores(run, (step,))
        body.append([f"`{command_of(summary, run / 'summary.json')}`", *cells])
    return markdown_table(_text_header(f"after {step:,} steps", run, summary), body,
                          "lrrrrrr")


def greedy_samples_table(run: Path, steps: Sequence[int]) -> str:
    """``train_text.py``'s samples.txt (``<step> "<text>"`` lines): the first greedy sample
    written at each of ``steps``."""
    where = run / "samples.txt"
    first: dict = {}
    for line in filter(str.strip, read_lines(where)):
        step, _, text = line.partition(" ")
        try:
            step, text = int(step), json.loads(text)
        except ValueError:
            text = None
        if not isinstance(text, str):
            raise DataError(f"{shown(where)}: not a <step> \"<text>\" line: {line[:60]!r}")
        first.setdefault(step, text)
    missing = [s for s in steps if s not in first]
    if missing:
        raise DataError(f"{shown(where)} has no sample at step {missing[0]}")
    return markdown_table(["step", "greedy sample"],
                          [[f"{s:,}", "`" + first[s].replace("|", "\\|") + "`"] for s in steps],
                          "rl")


# ----------------------------------------------------------------------------- Part 3

# What each paper reports (test accuracy, %), beside our reproduction.
PAPER_ACCURACY = {("cora", "gcn"): "81.5 % (Kipf & Welling 2017)", ("citeseer", "gcn"): "70.3 %",
                  ("cora", "gat"): "83.0 % (Velickovic et al. 2018)", ("citeseer", "gat"): "72.5 %"}
PLANETOID_RUNS = ("cora_gcn", "citeseer_gcn", "cora_gat", "citeseer_gat")
GNN_RUNS = (*PLANETOID_RUNS, "karate_gcn", "karate_gat")
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


# ----------------------------------------------------------------------------- benchmark

# benchmark.json (``rnn_gnn.benchmark.suite.run`` + the run record) keeps every repeat's raw
# value (``<side>_ms_runs``, ``speedups``) beside its spread; the tables summarise the raw values.
# The committed study sweep predates that format: its projected totals are single numbers, its
# ``met_in`` is "k of n", and its machine record holds the environment; both are read.

def met_in(row: dict) -> tuple[int, int]:
    """``(k, n)``: the repeats of n whose speed-up reached the row's target."""
    met = row["met_in"]
    k, n = met if isinstance(met, list) else met.split(" of ")
    return int(k), int(n)


def projected_hours(total: dict, side: str) -> list[float]:
    """Row (f)'s whole protocol projected, in hours: one value per repeat."""
    runs = total.get(f"{side}_projected_s_runs") or [total[f"{side}_projected_s"]]
    return [s / 3600 for s in runs]


def study_sweep_table(run: Path) -> str:
    """Row (f) of ``experiments/benchmark.py`` (benchmark.json): per run-step, median of the
    repeats with the spread; the protocol projected, and in how many repeats the target held."""
    where = run / "benchmark.json"
    bench = read_json(where)
    rows = lookup(bench, "study_sweep", where=where)
    if not rows:
        raise DataError(f"{shown(where)} holds no row (f)")
    *models, total = rows
    body = [[m["name"].removeprefix("study sweep "), spread(m["project_ms_runs"]),
             spread(m["torch_ms_runs"]), spread(m["speedups"], unit="x")] for m in models]
    met, repeats = met_in(total)
    body.append(["**whole protocol, projected**",
                 f"**{spread(projected_hours(total, 'project'), unit=' h')}**",
                 f"**{spread(projected_hours(total, 'torch'), unit=' h')}**",
                 f"**{spread(total['speedups'], unit='x')}**, target >= {total['target']:g}x: "
                 f"met in {met} of {repeats} repeats"])
    info = {**bench["machine"], **bench.get("environment", {})}
    caption = (f"`{command_of(bench, where)}`, {info['date'][:10]}, {cpu_name(info)}, "
               f"JAX {info['jax']}, torch "
               f"{info.get('torch', '-')} ({info.get('torch_threads', '-')} threads), "
               f"{info['clock']} clock; median of {len(total['speedups'])} repeats (min-max); "
               f"speed-up = torch time / project time within a repeat.")
    return (markdown_table(["per run-step", "project ms", "serial torch ms", "speed-up"], body,
                           "lrrr") + "\n" + caption + "\n")


def benchmark_table(*runs: Path) -> str:
    """Rows (a)-(e) of ``experiments/benchmark.py`` over one or more runs (benchmark.json
    each): per comparison the median of every repeat of every run with the spread, and in how
    many repeats its target was met; the whole runs' wall time over the runs."""
    results, wholes = {}, {}
    for run in runs:
        where = run / "benchmark.json"
        bench = read_json(where)
        for r in lookup(bench, "results", where=where):
            if "speedups" in r:
                key = (r["name"], r.get("project_label", ""), r.get("torch_label", ""))
                results.setdefault(key, []).append(r)
        for w in bench.get("whole_runs", []):
            if w.get("wall_s") is not None:
                wholes.setdefault(w["command"], []).append(w)
    body = []
    for (name, project, torch), rs in results.items():
        target = rs[0].get("target")
        met = "-"
        if target is not None:
            k, n = np.sum([met_in(r) for r in rs], axis=0)
            met = f">= {target:g}x: met in {k} of {n}"
        body.append([name, project, torch, *(spread([v for r in rs for v in r[key]], **kw)
                                             for key, kw in (("project_ms_runs", {}),
                                                             ("torch_ms_runs", {}),
                                                             ("speedups", {"unit": "x"}))), met])
    for command, ws in wholes.items():
        compile_s = [w["compile_s"] for w in ws if w.get("compile_s") is not None]
        wall = spread([w["wall_s"] for w in ws], ".1f", " s") + " wall"
        if compile_s:
            wall += f", {spread(compile_s, '.1f', ' s')} compiling"
        body.append([ws[0]["name"], f"`{command}`", "", wall, "", "", "-"])
    return (markdown_table(["comparison", "project", "reference", "project ms", "torch ms",
                            "speed-up", "target"], body, "lllrrrl")
            + f"\nMedian (min-max) over every repeat of {len(runs)} run(s) of the script.\n")


# ----------------------------------------------------------------------------- the experiments

class Experiment(NamedTuple):
    """One row of README's table of experiments (``experiments.toml``)."""
    command: str
    question: str
    output: str                                             # the folder it writes by default
    time: tuple[str, Callable[[Path], str | None]] | None   # (committed result directory,
                                                            #  its time; None: not recorded)


def seconds(file: str, key: str, entry: str | None = None,
            command: str = "") -> Callable[[Path], str | None]:
    """The wall time a run recorded, with its machine: ``key`` of ``file`` in its result
    directory, or with ``entry`` of the item of that list whose ``command`` is ``command``
    (benchmark.json's ``whole_runs``, row (e)).  None where the file does not record it: a
    result written before its experiment recorded this time, or a whole run that failed
    (``wall_s`` null)."""
    def read(run: Path) -> str | None:
        where = run / file
        record = item = read_json(where)
        if entry is not None:
            items = record.get(entry, [])
            if not isinstance(items, list):
                raise DataError(f"{shown(where)}: {entry} is not a list")
            item = next((i for i in items if i.get("command") == command), {})
        value = item.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataError(f"{shown(where)}: {key} is not a number of seconds ({value!r})")
        return _on(duration(value), record)
    return read


def _on(time: str, record: dict) -> str:
    """A time with the machine it was measured on (times differ threefold between the CPUs
    that "AMD EPYC" names)."""
    return f"{time} on {cpu_name(record['machine'])}" if "machine" in record else time


def projected_protocol(run: Path) -> str:
    """The ``--full`` protocol's time projected from shorter runs of it, as a sentence (issue
    11's end-to-end check: e2e.json, with each run's summary_<steps>.json, which must be of the
    protocol)."""
    where = run / "e2e.json"
    e2e = read_json(where)
    walls = lookup(e2e, "wall_seconds", where=where)
    for steps in walls:
        summary = read_json(run / f"summary_{steps}.json")
        config = sweep_config(summary, run / f"summary_{steps}.json")
        protocol = (summary.get("lengths"), summary.get("seeds"), config.num_hidden,
                    config.train_steps)
        if protocol != (list(FULL["lengths"]), FULL["seeds"], FULL["num_hidden"], int(steps)):
            raise DataError(f"{shown(run / f'summary_{steps}.json')} is not a {steps}-step run "
                            f"of the --full protocol")
    hours = lookup(e2e, "projected_protocol_s", where=where) / 3600
    runs = " and ".join(f"`--train_steps {k}` {v} s" for k, v in walls.items())
    return (f"End-to-end check ({e2e.get('date', '?')}, {cpu_name(summary['machine'])}, "
            f"quiet): `python experiments/palindrome.py --full` with {runs} of wall: the whole "
            f"protocol projected at **{hours:.2f} h** (the difference, times 50).\n")


def load_experiments(path: Path) -> tuple[Experiment, ...]:
    """The experiments of ``path`` (``experiments.toml``: data, one ``[[experiment]]`` each, in
    the table's order), each with the reader of its committed run's time."""
    out = []
    for e in tomllib.loads(path.read_text())["experiment"]:
        time = None
        if "run" in e:
            time = (e["run"], seconds(*e["time"], entry=e.get("entry"), command=e["command"]))
        out.append(Experiment(e["command"], e["question"], e["output"], time))
    return tuple(out)


EXPERIMENTS = load_experiments(Path(__file__).with_name("experiments.toml"))


def experiments_table(results: Path) -> str:
    """Every experiment: command, question, time from its committed result (else "not yet
    measured"), output folder."""
    body = []
    for e in EXPERIMENTS:
        time = "not yet measured"
        if e.time is not None and (results / e.time[0]).is_dir():
            time = e.time[1](results / e.time[0]) or time
        body.append([f"`{e.command}`", e.question, time, f"`{e.output}`"])
    return markdown_table(["command", "question", "time", "output"], body)


# Issue 11's runs of the study's protocol (PyTorch's init joins when its run has finished).
PROTOCOL_RUNS = ("palindrome_full",)

# Each generated section of the docs (its NAME in <!-- report:NAME -->), from which runs.
TABLES = {
    "experiments": Source((".",), experiments_table),   # docs/results/ itself
    "palindrome_default": Source(("palindrome_default",), palindrome_table),
    "palindrome_full": Source(PROTOCOL_RUNS, protocol_table),
    "palindrome_full_reach": Source(PROTOCOL_RUNS, protocol_reach_table),
    "protocol_e2e": Source(("palindrome_e2e_check",), projected_protocol),
    "palindrome_lstm_plateau": Source(("palindrome_full", "palindrome_lstm_pytorch_init_t23"),
                                      plateau_table),
    "palindrome_init_check": Source(("palindrome_full", "palindrome_rnn_pytorch_init_check"),
                                    lengths_table),
    "gradients": Source(("gradients_default", "gradients_pytorch_init"), gradients_table),
    "clipping": Source(("gradients_default",), clipping_table),
    "clipping_sgd": Source(("gradients_sgd",), clipping_table),
    "optimizers": Source(("optimizers_default",), optimizers_table),
    "text_grimms": Source(("text_grimms",), partial(text_curve_table,
                                                    steps=(1000, 5000, 10000, 15000, 20000))),
    "text_darwin": Source(("text_darwin_finetuned", "text_darwin_scratch"),
                          partial(text_runs_table, step=1000)),
    "graph_lstm": Source(("graph_lstm",), graph_lstm_table),
    "text_grimms_quick": Source(("text_grimms_quick",),
                                partial(text_curve_table, steps=range(250, 1501, 250))),
    "text_samples_quick": Source(("text_grimms_quick",),
                                 partial(greedy_samples_table, steps=(100, 200, 500, 1000, 1500))),
    "gnn": Source(("gnn_paper_settings",), gnn_table),
    "gnn_short": Source(("gnn_paper_settings",),
                        partial(gnn_table, names=PLANETOID_RUNS, short=True)),
    "benchmark_study_sweep": Source(("benchmark",), study_sweep_table),
    "benchmark": Source(("benchmark",), benchmark_table),
}
