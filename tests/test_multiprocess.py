"""Two JAX processes on 127.0.0.1 train like one process, and only process 0 writes.

``launch.py --local 2 --cpu_devices 2`` starts this file's worker (below ``__main__``) twice:
it joins with ``jax.distributed.initialize``, trains two tiny palindrome runs data-parallel over
the 4 devices of both processes, records its losses and final parameters in a file of its own
(a plain write), and then asks the library to write result files, a checkpoint and a progress
bar whose names carry its process index.  The numbers must match the same training here, in
one process on one device; only process 0's result files, checkpoint and bar may exist.

The second job starts the worker twice by hand with the variables ``mpirun`` sets (Open MPI),
without launch.py: ``distributed.initialize_from_environment`` must join them into one job.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnn_gnn import distributed, files

ROOT = Path(__file__).resolve().parents[1]
STEPS = 12
ENV = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_backend_optimization_level=0")
for _name in list(ENV):  # this machine's own job, if the tests run inside one, is not ours
    if _name.startswith(("SLURM_", "OMPI_", "PMI_")) or _name == distributed.INIT_ENV:
        del ENV[_name]


def tiny_run(mesh=None, progress=False):
    """A few steps of two vmapped palindrome runs, as ``train_sweep`` minus its evaluation."""
    import jax.numpy as jnp
    from rnn_gnn.palindrome import Config, init_sweep, make_loss, model_apply
    from rnn_gnn.train import train
    cfg = Config(model_type="rnn", num_hidden=8, batch_size=16, learning_rate=1e-2)
    state, optimizer = init_sweep(cfg, [4, 6], [0])
    loss_fn = make_loss(model_apply(cfg), cfg.batch_size, cfg.input_dim, 6)
    return train(loss_fn, optimizer, state, STEPS, task=jnp.array([4, 6]), log_every=STEPS,
                 vmapped=True, progress=progress, mesh=mesh)


def run_job(cmds, env, timeout) -> tuple[int, str]:
    """Start every command in its own session; ``(first non-zero exit status or 0, output)``.
    Whatever happens, every process is killed at the end."""
    procs = [subprocess.Popen(cmd, env=e, cwd=ROOT, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for cmd, e in zip(cmds, env)]
    logs = []
    try:
        for proc in procs:
            logs.append(proc.communicate(timeout=timeout)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return next((p.returncode for p in procs if p.returncode), 0), "\n".join(logs)


def launch(*worker_args, timeout=90) -> tuple[int, str]:
    """``launch.py --local 2`` on this file's worker; ``(exit status, output)``."""
    cmd = [sys.executable, str(ROOT / "experiments" / "launch.py"), "--local", "2",
           "--cpu_devices", "2", "--timeout", "60", "--", __file__, *map(str, worker_args)]
    return run_job([cmd], [ENV], timeout)


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    out = tmp_path_factory.mktemp("worker")
    status, log = launch(out)
    assert status == 0, log[-3000:]
    return out, log


def test_two_processes_match_one(job):
    import jax
    out, _ = job
    state, history = tiny_run()
    for pid in range(2):
        got = json.loads((out / f"process{pid}.json").read_text())
        assert got["devices"] == 4 and got["local_devices"] == 2, got
        np.testing.assert_allclose(got["loss"], history["loss"], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(got["grad_norm"], history["grad_norm"], rtol=1e-4,
                                   err_msg="gradients differ from one process (N times?)")
        want = jax.tree_util.tree_leaves(jax.device_get(state.params))
        for a, b in zip(got["params"], want):
            np.testing.assert_allclose(np.array(a, np.float32), b, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(got["accuracy"], history["accuracy"], atol=1e-6)


def test_only_process_0_writes_result_files(job):
    out, _ = job
    for kind in ("json", "csv", "bytes", "png"):
        assert (out / f"result_of_0.{kind}").stat().st_size > 0, kind
        assert not (out / f"result_of_1.{kind}").exists(), f"process 1 wrote a .{kind}"
    assert json.loads((out / "result_of_0.json").read_text()) == {"process": 0}


def test_only_process_0_saves_checkpoints_and_draws_progress(job):
    out, log = job
    assert list((out / "checkpoints_of_0").glob("ckpt-*.msgpack"))
    assert not (out / "checkpoints_of_1").exists(), "process 1 saved a checkpoint"
    assert "bar_of_process_0" in log and "bar_of_process_1" not in log, log[-3000:]


def test_a_failing_process_stops_the_job():
    """Process 1 exits with status 3 while process 0 hangs: the launcher kills process 0 and
    reports 3, long before the test's own timeout."""
    status, log = launch("fail", timeout=60)
    assert status == 3, log[-3000:]


def test_processes_started_by_mpirun_join_one_job(tmp_path):
    """No launch.py: two processes with Open MPI's variables (as ``mpirun -n 2`` sets them)
    join one job by themselves, and only process 0 writes its result file."""
    with socket.socket() as s:  # a free port for process 0's coordinator
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    envs = [dict(ENV, OMPI_MCA_orte_hnp_uri="4096.0;tcp://127.0.0.1:1", JAX_COORDINATOR_PORT=
                 str(port), OMPI_COMM_WORLD_SIZE="2", OMPI_COMM_WORLD_RANK=str(rank),
                 OMPI_COMM_WORLD_LOCAL_RANK="0") for rank in range(2)]
    cmd = [sys.executable, __file__, "mpirun", str(tmp_path)]
    status, log = run_job([cmd, cmd], envs, timeout=90)
    assert status == 0, log[-3000:]
    for rank in range(2):
        seen = json.loads((tmp_path / f"process{rank}.json").read_text())
        assert seen == {"joined": True, "process_count": 2, "process_index": rank}
    assert (tmp_path / "result_of_0.json").exists()
    assert not (tmp_path / "result_of_1.json").exists()


def test_initialize_from_environment_reads_slurm_and_open_mpi(monkeypatch):
    calls = []
    monkeypatch.setattr(distributed.jax.distributed, "initialize", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(distributed.jax.distributed, "is_initialized", lambda: False)
    slurm = {"SLURM_JOB_ID": "7", "SLURM_STEP_NODELIST": "node[01-02]", "SLURM_NTASKS": "2",
             "SLURM_PROCID": "1", "SLURM_LOCALID": "0"}
    ompi = {"OMPI_MCA_orte_hnp_uri": "4096.0;tcp://10.0.0.1:1", "OMPI_COMM_WORLD_SIZE": "4"}
    assert distributed.environment_process_count({}) == 1
    assert distributed.environment_process_count(slurm) == 2
    assert distributed.environment_process_count(dict(slurm, SLURM_STEP_NUM_TASKS="1")) == 1
    assert distributed.environment_process_count(ompi) == 4
    # One process, or opted out: run alone.  srun -n 2 / mpirun -n 4: join, with no arguments.
    for env in ({}, dict(slurm, SLURM_NTASKS="1"), dict(ompi, OMPI_COMM_WORLD_SIZE="1"),
                dict(slurm, **{distributed.INIT_ENV: "0"})):
        assert not distributed.initialize_from_environment(env) and not calls
    assert distributed.initialize_from_environment(slurm) and calls == [()]
    assert distributed.initialize_from_environment(ompi) and calls == [(), ()]
    monkeypatch.setattr(distributed.jax.distributed, "is_initialized", lambda: True)
    assert not distributed.initialize_from_environment(slurm) and len(calls) == 2


def write_results(out: Path, pid: int) -> None:
    """Ask the library to write result files, each named by the process that asks."""
    from rnn_gnn import cli
    from rnn_gnn.plotting import plt
    files.write_json(out / f"result_of_{pid}.json", {"process": pid})
    files.write_csv(out / f"result_of_{pid}.csv", [{"process": pid}])
    files.write_bytes(out / f"result_of_{pid}.bytes", b"x")
    fig = plt.figure(figsize=(1, 1))
    files.save_figure(fig, out / f"result_of_{pid}.png")
    plt.close(fig)


def worker(out: Path) -> None:
    """Runs inside each launched process (after ``jax.distributed.initialize``)."""
    import jax
    from rnn_gnn import checkpoint
    from rnn_gnn.distributed import make_mesh

    mesh = make_mesh()
    pid = jax.process_index()
    assert jax.process_count() == 2 and mesh.devices.size == 4
    state, history = tiny_run(mesh, progress=f"bar_of_process_{pid}")
    params = jax.device_get(state.params)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"process{pid}.json").write_text(json.dumps({  # this process's own record
        "devices": len(jax.devices()), "local_devices": len(jax.local_devices()),
        "loss": history["loss"].tolist(), "grad_norm": history["grad_norm"].tolist(),
        "params": [np.asarray(p).tolist() for p in jax.tree_util.tree_leaves(params)],
        "accuracy": history["accuracy"].tolist()}))
    write_results(out, pid)
    checkpoint.save_step(out / f"checkpoints_of_{pid}", STEPS, params)


def mpirun_worker(out: Path) -> None:
    """Started with Open MPI's variables: join the job from them, then write."""
    import jax
    joined = distributed.initialize_from_environment()
    pid = jax.process_index()
    (out / f"process{pid}.json").write_text(json.dumps({
        "joined": joined, "process_count": jax.process_count(), "process_index": pid}))
    write_results(out, pid)


if __name__ == "__main__":
    if sys.argv[1] == "fail":
        import time

        import jax
        if jax.process_index() == 1:
            sys.exit(3)
        time.sleep(300)  # a process waiting for a peer that died
    elif sys.argv[1] == "mpirun":
        mpirun_worker(Path(sys.argv[2]))
    else:
        worker(Path(sys.argv[1]))
