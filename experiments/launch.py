"""Run any experiment as one process of a multi-process (multi-host) JAX job.

    # on every host i = 0..N-1 (same command except --process_id):
    python experiments/launch.py --coordinator HOST0:4321 --num_processes N --process_id i \\
        -- experiments/palindrome.py --lengths 5:41:2
    # try it on one machine: N processes on 127.0.0.1, each with K (forced) CPU devices
    python experiments/launch.py --local 2 --cpu_devices 2 -- experiments/palindrome.py \
        --run_dir results/palindrome_2proc

Each process calls ``jax.distributed.initialize`` and then runs the script unchanged: the
script's mesh (``rnn_gnn.distributed.make_mesh``) spans the devices of every process, and each
process computes the same replicated state; only process 0 draws progress bars and writes the
result files.  A process that fails exits at once, skipping JAX's shutdown barrier; with --local
the launcher then stops the others and exits with the failed process's status.

Under srun or mpirun this launcher is not needed: every experiment joins the job that those
start by itself (``rnn_gnn.distributed.initialize_from_environment``).  The launcher sets
$RNN_GNN_DISTRIBUTED=0, so that the environment's job does not compete with its own arguments.

Writes nothing itself: the script writes its own outputs (from process 0 only), to its own
--run_dir.
"""

from __future__ import annotations

import os
import runpy
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

from rnn_gnn import cli, distributed

# This launcher joins processes with explicit arguments; nothing may join a job from the
# environment first (the experiments' own start-up honours this, and so do the children).
os.environ[distributed.INIT_ENV] = "0"


def parse_args(argv):
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    p = cli.ArgumentParser(description=__doc__)
    p.add_argument("--local", type=cli.positive(int),
                   help="start this many processes on 127.0.0.1 (a one-machine trial)")
    p.add_argument("--coordinator", help="HOST:PORT of process 0, reachable from every host")
    p.add_argument("--num_processes", type=cli.positive(int),
                   help="processes in the job (with --coordinator)")
    p.add_argument("--process_id", type=int,
                   help="this process's index, 0..N-1 (with --coordinator)")
    p.add_argument("--cpu_devices", type=cli.positive(int),
                   help="force this many CPU devices per process (CPU trials only)")
    p.add_argument("--timeout", type=cli.positive(int), default=300,
                   help="seconds to wait for all processes to join (default: 300)")
    args = p.parse_args(argv[:split])  # before the check below, so that --help works
    cli.check(split < len(argv), "missing '-- SCRIPT [ARGS]': the experiment to run after '--'")
    args.script, args.script_args = (argv[split + 1:] or [None])[0], argv[split + 2:]
    cli.check(args.script is not None, "no script after '--'")
    cli.check(Path(args.script).is_file(), f"no such script: {args.script}")
    if args.local is None:
        cli.check(None not in (args.coordinator, args.num_processes, args.process_id),
                  "pass --local N, or all of --coordinator, --num_processes and --process_id")
        cli.check(0 <= args.process_id < args.num_processes,
                  f"--process_id must be in 0..{args.num_processes - 1}, got {args.process_id}")
        host, _, port = args.coordinator.rpartition(":")
        cli.check(bool(host) and port.isdigit(),
                  f"--coordinator must be HOST:PORT, got {args.coordinator!r}")
    else:
        cli.check(args.coordinator is None and args.process_id is None,
                  "--local starts its own coordinator: drop --coordinator/--process_id")
    return args


def run_process(args) -> None:
    """Join the job, then run the script as ``__main__`` with its own argv."""
    import jax
    if args.cpu_devices:
        jax.config.update("jax_num_cpu_devices", args.cpu_devices)
    jax.distributed.initialize(coordinator_address=args.coordinator,
                               num_processes=args.num_processes, process_id=args.process_id,
                               initialization_timeout=args.timeout)
    sys.argv = [args.script, *args.script_args]
    sys.path[0] = str(Path(args.script).resolve().parent)  # as `python SCRIPT` would
    try:
        runpy.run_path(args.script, run_name="__main__")
    except SystemExit as e:
        if e.code not in (None, 0):
            if not isinstance(e.code, int):
                print(e.code, file=sys.stderr)
            _leave_now(e.code if isinstance(e.code, int) else 1)
        raise
    except BaseException:
        traceback.print_exc()
        _leave_now(1)


def _leave_now(status: int) -> None:
    """Exit without JAX's shutdown barrier, which would wait for peers that may never come."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def run_local(args) -> int:
    """Start ``args.local`` processes on 127.0.0.1; if one fails, stop the rest."""
    with socket.socket() as s:  # a free port for the coordinator
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    common = [sys.executable, __file__, "--coordinator", f"127.0.0.1:{port}",
              "--num_processes", str(args.local), "--timeout", str(args.timeout)]
    if args.cpu_devices:
        common += ["--cpu_devices", str(args.cpu_devices)]
    procs = []
    try:
        for i in range(args.local):
            procs.append(subprocess.Popen(
                common + ["--process_id", str(i), "--", args.script, *args.script_args]))
        while True:
            codes = [p.poll() for p in procs]
            if any(c not in (None, 0) for c in codes) or all(c == 0 for c in codes):
                break
            time.sleep(0.1)
        return next((c for c in codes if c not in (None, 0)), 0)
    finally:
        for p in procs:  # a process whose peer died would wait in a collective forever
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()


def main(argv=None):
    args = parse_args(argv)
    if args.local is None:
        run_process(args)
    else:
        sys.exit(run_local(args))


if __name__ == "__main__":
    cli.run_main(main)
