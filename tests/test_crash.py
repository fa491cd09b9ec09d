"""Crash safety: kill -9 at random moments, resume, and get the uninterrupted run's numbers.

Each CLI (palindrome, train_text) trains once uninterrupted.  Beside it, the same command is
started with ``--resume`` and killed with SIGKILL at a random moment while it trains and saves
checkpoints, again and again; after every kill the checkpoint directory must hold only intact
checkpoints, at most the steps since the last save may be lost, and the next start must resume
from the newest checkpoint.  A last start runs to the end, and its final parameters and curves
must equal the uninterrupted run's exactly (CPU, same seed).

A persistent compilation cache shared by all these processes keeps each restart at a couple
of seconds.  Also here: the NaN guard, and checkpoints that are truncated, tampered with or
not checkpoints at all (a pickle is refused by type of error; the format is msgpack only).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from rnn_gnn import checkpoint
from rnn_gnn.checkpoint import CheckpointError

ROOT = Path(__file__).resolve().parents[1]
KILLS = 3  # per CLI: 6 kill -9 in all, at random moments (each a fresh process)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cache = tmp_path_factory.mktemp("jax_cache")
    return dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_backend_optimization_level=0",
                JAX_COMPILATION_CACHE_DIR=str(cache),
                JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0", PYTHONUNBUFFERED="1")


def run(cmd, env, timeout=120):
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def start(cmd, env, log: Path) -> subprocess.Popen:
    """``cmd`` in the background (the uninterrupted reference run, while the killed one runs
    beside it on the other core); ``finish`` waits for it."""
    with open(log, "w") as f:
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)


def finish(proc: subprocess.Popen, log: Path, timeout=120) -> None:
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, log.read_text(errors="replace")[-2000:]


def steps_of(directory) -> list[int]:
    return [int(re.search(r"(\d+)", p.name).group(1))
            for p in checkpoint.list_checkpoints(directory)]


def assert_intact(directory) -> int:
    """Every checkpoint in ``directory`` verifies; returns the newest step (0 if none)."""
    for path in checkpoint.list_checkpoints(directory):
        checkpoint.load(path)  # raises CheckpointError if truncated or corrupt
    return max(steps_of(directory), default=0)


def kill_resume_loop(cmd, out: Path, ckpt_dir: Path, every: int, env, seed: int) -> int:
    """Start ``cmd`` (which resumes) repeatedly, SIGKILL it at a random moment after it has
    saved at least once; check the directory after each kill.  Returns the number of kills.
    (A run that finishes before its kill starts over from scratch in a fresh ``out``.)"""
    log = out.parent / f"{out.name}.log"
    rng = random.Random(seed)
    kills = 0
    for _ in range(3 * KILLS):
        if kills == KILLS:
            break
        before = assert_intact(ckpt_dir)
        with open(log, "w") as f:
            proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and max(steps_of(ckpt_dir), default=0) <= before:
                assert time.monotonic() < deadline, "no checkpoint within 60 s"
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.25))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        text = log.read_text(errors="replace")
        if before:  # it resumed from the newest checkpoint there was, not from scratch
            resumed = re.findall(r"resuming .*?step (\d+)", text)
            assert resumed and int(resumed[0]) == before, text[-1500:]
        if proc.returncode == 0:  # finished before the kill: start afresh
            shutil.rmtree(out)
            continue
        assert proc.returncode == -signal.SIGKILL, text[-1500:]
        newest = assert_intact(ckpt_dir)
        seen = [int(s) for s in re.findall(r"(\d+)/\d+ \[", text)]
        # At most the steps since the last save are lost.
        assert newest >= max(seen, default=0) - every, (newest, max(seen))
    return kills


def same_trees(a_path, b_path):
    """The two checkpoints hold bit-identical states (params, optimizer state, step, key)."""
    a, _ = checkpoint.load(a_path)
    b, _ = checkpoint.load(b_path)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(x, y, err_msg=jax.tree_util.keystr(path))


# ----------------------------------------------------------------------------- palindrome

PALINDROME = [sys.executable, "experiments/palindrome.py", "--model_type", "rnn",
              "--lengths", "4,6", "--seeds", "1", "--num_hidden", "8", "--batch_size", "16",
              "--train_steps", "400", "--log_every", "5", "--checkpoint_every", "5"]


def test_palindrome_survives_kill_9(tmp_path, env):
    ref, out = tmp_path / "ref", tmp_path / "killed"
    reference = start(PALINDROME + ["--run_dir", str(ref)], env, tmp_path / "ref.log")
    try:
        kills = kill_resume_loop(PALINDROME + ["--run_dir", str(out), "--resume"], out,
                                 out / "checkpoints" / "rnn", 5, env, seed=1)
    finally:
        finish(reference, tmp_path / "ref.log")
    assert kills == KILLS
    run(PALINDROME + ["--run_dir", str(out), "--resume"], env)
    same_trees(checkpoint.step_path(ref / "checkpoints" / "rnn", 400),
               checkpoint.step_path(out / "checkpoints" / "rnn", 400))
    want, got = np.load(ref / "curves.npz"), np.load(out / "curves.npz")
    assert sorted(want) == sorted(got)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    assert (ref / "final.csv").read_text() == (out / "final.csv").read_text()
    # Killed after its last save but before its outputs: resuming trains nothing, and must
    # still write the same curves (the history travels in the checkpoint).
    (out / "curves.npz").unlink()
    run(PALINDROME + ["--run_dir", str(out), "--resume"], env)
    got = np.load(out / "curves.npz")
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


# ----------------------------------------------------------------------------- text

def tiny_corpus(path: Path) -> Path:
    rng = random.Random(0)
    words = "the king and queen lived in a castle by the sea where a little bird sang".split()
    path.write_text("\n".join(" ".join(rng.choice(words) for _ in range(12)) + "."
                              for _ in range(200)))
    return path


def text_command(corpus: Path, run_dir: Path) -> list[str]:
    return [sys.executable, "experiments/train_text.py", "--corpus", str(corpus),
            "--run_dir", str(run_dir), "--num_hidden", "8", "--num_layers", "1",
            "--seq_length", "10", "--batch_size", "8", "--train_steps", "100",
            "--checkpoint_every", "10", "--eval_every", "10", "--sample_every", "10",
            "--num_greedy", "0"]


def history_without_times(run_dir: Path) -> list[str]:
    lines = (run_dir / "history.csv").read_text().splitlines()
    return [line.rsplit(",", 1)[0] for line in lines]  # time_s is the last column


def test_text_survives_kill_9(tmp_path, env):
    corpus = tiny_corpus(tmp_path / "tale.txt")
    ref, out = tmp_path / "ref", tmp_path / "killed"
    reference = start(text_command(corpus, ref), env, tmp_path / "ref.log")
    try:
        kills = kill_resume_loop(text_command(corpus, out) + ["--resume"], out, out, 10, env,
                                 seed=2)
    finally:
        finish(reference, tmp_path / "ref.log")
    assert kills == KILLS
    run(text_command(corpus, out) + ["--resume"], env)
    same_trees(checkpoint.step_path(ref, 100), checkpoint.step_path(out, 100))
    assert history_without_times(out) == history_without_times(ref)


def test_nan_stops_with_step_and_keeps_last_good_checkpoint(tmp_path, env):
    out = tmp_path / "nan"
    cmd = PALINDROME[:PALINDROME.index("--train_steps")] + [
        "--train_steps", "20", "--log_every", "1", "--checkpoint_every", "1", "--max_norm", "0",
        "--learning_rate", "1e36", "--run_dir", str(out)]  # diverges within a few steps
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr[-500:]
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1].split("\r")[-1]  # after the cleared bar
    found = re.fullmatch(r"palindrome\.py: error: loss or parameters became NaN/inf at step "
                         r"(\d+); stopped\b.*", last)
    assert found, done.stderr[-500:]
    bad = int(found.group(1))
    ckpt = out / "checkpoints" / "rnn"
    assert bad >= 2 and max(steps_of(ckpt)) == bad - 1  # every step before it was saved
    for path in checkpoint.list_checkpoints(ckpt):
        state, _ = checkpoint.load(path)
        assert all(np.isfinite(x).all() for x in jax.tree_util.tree_leaves(state)), path.name
    assert not (out / "final.csv").exists()


def test_train_loop_raises_before_saving_a_bad_state(tmp_path):
    """Library level: the loss turns -inf at step 5 exactly; ckpt 4 is the last one written;
    and an update that overflows the parameters is caught at its own step, before saving."""
    from rnn_gnn.checkpoint import checkpointer
    from rnn_gnn.train import NonFiniteLoss, init_state, train

    def loss_fn(params, key, task):  # gradient 1, so w = 1 - 0.25 (step - 1); log(0) at step 5
        w = params["w"]
        return w + jnp.log(jax.lax.stop_gradient(w)), {}

    opt = optax.sgd(0.25)
    state = init_state({"w": jnp.float32(1.0)}, opt, jax.random.PRNGKey(0))
    with pytest.raises(NonFiniteLoss, match="at step 5") as err:
        train(loss_fn, opt, state, 10, log_every=1, progress=False,
              callback=checkpointer(tmp_path, every=2))
    assert err.value.step == 5
    assert steps_of(tmp_path) == [2, 4]  # nothing saved after the last finite step
    tree, _ = checkpoint.load(checkpoint.step_path(tmp_path, 4))
    assert tree["params"]["w"] == 0.0  # after 4 updates; step 5 then takes log(0)

    def finite_loss(params, key, task):  # finite at w = 3e38; the update at step 2 is not
        return jnp.sum(params["w"]), {}
    opt = optax.sgd(-3e38)  # gradient ascent: w = 1, 3e38, inf (float32 max is 3.4e38)
    state = init_state({"w": jnp.ones(1)}, opt, jax.random.PRNGKey(0))
    with pytest.raises(NonFiniteLoss, match="at step 2"):
        train(finite_loss, opt, state, 10, log_every=1, progress=False,
              callback=checkpointer(tmp_path / "overflow", every=1))
    assert steps_of(tmp_path / "overflow") == [1]


# ------------------------------------------------------------ loading untrusted files

@pytest.fixture
def saved(tmp_path):
    tree = {"W": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.zeros(3, np.float32)}
    path = checkpoint.save(tmp_path / "ckpt-000000001.msgpack", tree, {"step": 1})
    return path, tree


def test_checkpoint_round_trip(saved):
    path, tree = saved
    restored, meta = checkpoint.load(path, target=tree)
    np.testing.assert_array_equal(restored["W"], tree["W"])
    assert meta == {"step": 1}


@pytest.mark.parametrize("cut", [0, 5, 30, -1])
def test_truncated_checkpoint_is_refused(saved, cut):
    path, tree = saved
    data = path.read_bytes()
    path.write_bytes(data[:cut] if cut >= 0 else data[:-1])
    with pytest.raises(CheckpointError, match="truncated|not an rnn_gnn checkpoint"):
        checkpoint.load(path, target=tree)


def test_tampered_checkpoint_is_refused(saved):
    path, tree = saved
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # one bit of one weight
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        checkpoint.load(path, target=tree)


def _forge(payload: bytes) -> bytes:
    """A file with a valid header and checksum around any payload (an attacker can do this)."""
    return checkpoint.MAGIC + hashlib.sha256(payload).digest() + payload


def test_a_pickle_is_not_a_checkpoint(saved):
    """A pickle (bare, or wrapped in a valid header and checksum) is refused as not a
    checkpoint.  The loader has no unpickling step at all (msgpack only), so no test here could
    catch it running code; what can fail is the error it gives."""
    path, tree = saved
    bomb = pickle.dumps({"W": tree["W"]})
    for data, match in ((bomb, "not an rnn_gnn checkpoint"), (_forge(bomb), "cannot be decoded")):
        path.write_bytes(data)
        for target in (tree, None):
            with pytest.raises(CheckpointError, match=match):
                checkpoint.load(path, target=target)


def test_forged_checkpoint_that_does_not_fit_is_refused(saved):
    path, tree = saved
    from flax import serialization
    other = {"W": np.zeros((3, 3), np.float32), "b": np.zeros(3, np.float32)}
    path.write_bytes(_forge(serialization.msgpack_serialize({"tree": other, "meta": {}})))
    with pytest.raises(CheckpointError, match=r"does not match the model: .*'W'.*\(3, 3\)"):
        checkpoint.load(path, target=tree)
    path.write_bytes(_forge(b"\xc1 not msgpack"))
    with pytest.raises(CheckpointError, match="cannot be decoded"):
        checkpoint.load(path, target=tree)


def test_load_latest_skips_a_damaged_newest(tmp_path):
    tree = {"w": np.ones(2, np.float32)}
    for step in (1, 2, 3):
        checkpoint.save_step(tmp_path, step, {"w": tree["w"] * step})
    newest = checkpoint.step_path(tmp_path, 3)
    newest.write_bytes(newest.read_bytes()[:-10])
    restored, meta, path = checkpoint.load_latest(tmp_path, target=tree)
    assert path.name == checkpoint.step_path(tmp_path, 2).name and meta["step"] == 2
    np.testing.assert_array_equal(restored["w"], [2.0, 2.0])
