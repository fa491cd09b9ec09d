"""Question 3.3b: a graph-convolutional LSTM against an LSTM per node and a GCN, on coloured
waves travelling through a graph (rnn_gnn.graph.waves explains the task, rnn_gnn.graph.graph_lstm
the models).

    python experiments/graph_lstm.py                              # 3 seeds per model, ~19 min
    python experiments/graph_lstm.py --seeds 1 --train_steps 300  # a quick look
    python experiments/graph_lstm.py --checkpoint_every 500       # crash-safe: save every 500
    python experiments/graph_lstm.py --checkpoint_every 500 --resume   # continue after a kill

Trains every model for --train_steps steps on fresh random waves (seeds vmapped) and scores all
of them on the same --eval_batch held-out sequences.  A resumed run computes exactly what the
uninterrupted run computes; it must use the same settings (else exit 2).

Writes to --run_dir:
  graph_lstm.csv          per model and seed: held-out wave F1, fire F1, accuracy, loss
  graph_lstm_steps.csv    per model, seed and training step: loss, accuracy, wave F1, fire F1
                          and gradient norm on that step's training batch
  graph_lstm.json         command, machine, settings, mean +- std per model, the rule's
                          ceiling, timings
  graph_lstm_figure.npz   what graph_lstm.png draws besides the scores: each model's training
                          loss per seed and step, one held-out sequence and every prediction
  graph_lstm.png          loss curves, F1 bars and one held-out sequence with every prediction
  graph_lstm_checkpoints/<model>/ckpt-<step>.msgpack   with --checkpoint_every
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rnn_gnn import cli, files  # noqa: E402
from rnn_gnn.graph import comparison, figures, forecast, wave_scores, waves  # noqa: E402
from rnn_gnn.plotting import plt  # noqa: E402

TASK = waves.Task()
METRICS = ("wave_f1", "fire_f1", "accuracy", "loss")


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__)
    # gcn_window is the variant's (comparison.variants), not a setting of the run.
    cli.add_config_flags(p, forecast.Config, skip=("gcn_window",))
    p.add_argument("--seeds", type=cli.positive(int), default=3,
                   help="runs per model, seeds 0..N-1")
    p.add_argument("--log_every", type=cli.positive(int), default=100,
                   help="steps per compiled call, between progress updates")
    cli.add_checkpoint_flags(p, "RUN_DIR/graph_lstm_checkpoints")
    cli.add_output_flags(p, "results/graph_lstm")
    args = p.parse_args(argv)
    cli.check_checkpoint_every(args)
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = cli.config_from_args(args, forecast.Config)
    seeds = list(range(args.seeds))
    variants = comparison.variants(TASK)
    start, cpu_start = time.time(), time.process_time()
    runs = comparison.train_all(
        TASK, cfg, seeds, checkpoint_root=args.run_dir / "graph_lstm_checkpoints",
        checkpoint_every=args.checkpoint_every, resume=args.resume, log_every=args.log_every,
        progress=not args.no_progress, log=lambda line: print(line, flush=True))
    wall, cpu = time.time() - start, time.process_time() - cpu_start
    graph = waves.make_graph(TASK)
    ceiling = wave_scores.rule_ceiling(TASK, graph, forecast.TEST_KEY, cfg.eval_batch)
    example = forecast.example_predictions(TASK, cfg, graph, {
        v.label: (v.model, runs[v.label][0]) for v in variants})
    rows = comparison.result_rows(runs, seeds)
    rule = {m: float(ceiling[m]) for m in ("wave_f1", "fire_f1", "accuracy")}
    arrays = comparison.figure_arrays(TASK, runs, example)
    out = args.run_dir
    files.write_csv(out / "graph_lstm.csv", rows)
    files.write_csv(out / "graph_lstm_steps.csv", [
        row for label, (_, history, _) in runs.items()
        for row in comparison.step_rows(label, history, seeds)])
    files.write_json(out / "graph_lstm.json", {
        **files.run_record(argv),
        "task": dataclasses.asdict(TASK), "config": dataclasses.asdict(cfg), "seeds": seeds,
        "summary (mean, std over seeds)": {
            label: {m: [float(test[m].mean()), float(test[m].std())] for m in METRICS}
            for label, (_, _, test) in runs.items()},
        "rule_on_hidden_state": rule,
        "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "runs": rows})
    files.write_npz(out / "graph_lstm_figure.npz", arrays)
    fig = figures.wave_comparison(TASK, arrays, rows, rule)
    files.save_figure(fig, out / "graph_lstm.png")
    plt.close(fig)
    print(f"rule on the hidden state (ceiling): wave F1 {ceiling['wave_f1']:.3f}; "
          f"{wall:.0f} s; wrote {out}/graph_lstm.csv, _steps.csv, .json, _figure.npz, .png")
    return {label: test for label, (_, _, test) in runs.items()}


if __name__ == "__main__":
    cli.run_main(main)
