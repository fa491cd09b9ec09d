"""Two JAX processes on 127.0.0.1 (2 CPU devices each) train like one process.

The test starts ``experiments/launch.py --local 2 --cpu_devices 2`` on this file's worker
(below ``__main__``): it joins with ``jax.distributed.initialize``, trains two tiny palindrome
runs data-parallel over the 4 devices of both processes, and writes its losses and final
parameters.  They must match the same training here, in one process on one device.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STEPS = 12


def tiny_run(mesh=None):
    """A few steps of two vmapped palindrome runs, as ``train_sweep`` minus its evaluation."""
    import jax.numpy as jnp
    from rnn_gnn.palindrome import Config, init_sweep, make_loss, model_apply
    from rnn_gnn.train import train
    cfg = Config(model_type="rnn", num_hidden=8, batch_size=16, learning_rate=1e-2)
    state, optimizer = init_sweep(cfg, [4, 6], [0])
    loss_fn = make_loss(model_apply(cfg), cfg.batch_size, cfg.input_dim, 6)
    return train(loss_fn, optimizer, state, STEPS, task=jnp.array([4, 6]), log_every=STEPS,
                 vmapped=True, progress=False, mesh=mesh)


def launch(*worker_args, timeout=90) -> tuple[int, str]:
    """``launch.py --local 2`` on this file's worker; ``(exit status, output)``."""
    cmd = [sys.executable, str(ROOT / "experiments" / "launch.py"), "--local", "2",
           "--cpu_devices", "2", "--timeout", "60", "--", __file__, *map(str, worker_args)]
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_backend_optimization_level=0")
    # Own session, so that the launcher and both workers can be killed together whatever happens.
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        log, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, log


def test_two_processes_match_one(tmp_path):
    import jax
    out = tmp_path / "worker"
    status, log = launch(out)
    assert status == 0, log[-3000:]

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


def test_a_failing_process_stops_the_job():
    """Process 1 exits with status 3 while process 0 hangs: the launcher kills process 0 and
    reports 3, long before the test's own timeout."""
    status, log = launch("fail", timeout=60)
    assert status == 3, log[-3000:]


def worker(out: Path) -> None:
    """Runs inside each launched process (after ``jax.distributed.initialize``)."""
    import jax
    from rnn_gnn.cli import write_json
    from rnn_gnn.distributed import make_mesh

    mesh = make_mesh()
    assert jax.process_count() == 2 and mesh.devices.size == 4
    state, history = tiny_run(mesh)
    params = jax.device_get(state.params)
    write_json(out / f"process{jax.process_index()}.json", {
        "devices": len(jax.devices()), "local_devices": len(jax.local_devices()),
        "loss": history["loss"], "grad_norm": history["grad_norm"],
        "params": jax.tree_util.tree_leaves(params), "accuracy": history["accuracy"]})


if __name__ == "__main__":
    if sys.argv[1] == "fail":
        import time

        import jax
        if jax.process_index() == 1:
            sys.exit(3)
        time.sleep(300)  # a process waiting for a peer that died
    worker(Path(sys.argv[1]))
