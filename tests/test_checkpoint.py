"""Checkpoints are durable and tidy: the directory is fsynced after the rename and before any
pruning, a killed writer's temporary files go when the next writer starts, restoring checks
dtypes as well as shapes, and ``load_latest`` survives a file pruned under it."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnn_gnn import checkpoint
from rnn_gnn.checkpoint import CheckpointError
from rnn_gnn.errors import ConfigError


def test_directory_is_fsynced_after_the_rename_and_before_pruning(tmp_path, monkeypatch):
    for step in (1, 2):
        checkpoint.save_step(tmp_path, step, {"w": np.zeros(2, np.float32)}, keep=2)
    events = []
    fsync, replace, unlink = os.fsync, os.replace, Path.unlink

    def logged_fsync(fd):
        events.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        fsync(fd)

    def logged_replace(src, dst):
        events.append(f"rename {Path(dst).name}")
        replace(src, dst)

    def logged_unlink(self, missing_ok=False):
        events.append(f"unlink {self.name}")
        unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(os, "fsync", logged_fsync)
    monkeypatch.setattr(os, "replace", logged_replace)
    monkeypatch.setattr(Path, "unlink", logged_unlink)
    checkpoint.save_step(tmp_path, 3, {"w": np.zeros(2, np.float32)}, keep=2)
    assert events == ["fsync file", f"rename {checkpoint.step_path(tmp_path, 3).name}",
                      "fsync dir", f"unlink {checkpoint.step_path(tmp_path, 1).name}"]


KILLED_WRITER = """
import os, signal, sys
import numpy as np
from rnn_gnn import checkpoint
os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)  # dies before its rename
checkpoint.save_step(sys.argv[1], 7, {"w": np.zeros(1000, np.float32)})
"""


def test_next_writer_removes_a_killed_writers_temporary_file(tmp_path):
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path)],
                          env=dict(os.environ, JAX_PLATFORMS="cpu"), capture_output=True)
    assert done.returncode == -9, done.stderr[-1000:]
    stale = [p.name for p in tmp_path.iterdir()]
    assert len(stale) == 1 and stale[0].startswith(".ckpt-000000007.msgpack."), stale
    (tmp_path / "notes.tmp").write_text("not ours")
    (tmp_path / ".results.csv.abc.tmp").write_text("another writer's, not a checkpoint's")
    checkpoint.save_step(tmp_path, 8, {"w": np.ones(3, np.float32)})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".results.csv.abc.tmp", checkpoint.step_path(tmp_path, 8).name, "notes.tmp"]


@pytest.fixture
def saved(tmp_path):
    tree = {"W": np.arange(6, dtype=np.float32).reshape(2, 3), "step": np.int32(4)}
    return checkpoint.save(tmp_path / "ckpt-000000001.msgpack", tree), tree


@pytest.mark.parametrize("leaf, dtype", [("W", np.float64), ("W", np.int32), ("W", np.float16),
                                         ("step", np.int64), ("step", np.uint32)])
def test_restore_checks_dtypes(saved, leaf, dtype):
    path, tree = saved
    target = dict(tree, **{leaf: np.asarray(tree[leaf]).astype(dtype)})
    with pytest.raises(CheckpointError, match=rf"'{leaf}'.* has dtype .*, expected "
                                              rf"{np.dtype(dtype)}"):
        checkpoint.load(path, target=target)
    restored, _ = checkpoint.load(path, target=tree)
    assert restored["W"].dtype == np.float32 and restored["step"].dtype == np.int32


def test_load_latest_survives_a_file_pruned_between_listing_and_reading(tmp_path, monkeypatch):
    for step in (1, 2):
        checkpoint.save_step(tmp_path, step, {"w": np.full(2, step, np.float32)})
    listing = checkpoint.list_checkpoints(tmp_path) + [checkpoint.step_path(tmp_path, 3)]
    monkeypatch.setattr(checkpoint, "list_checkpoints", lambda directory: listing)
    tree, meta, path = checkpoint.load_latest(tmp_path, target={"w": np.zeros(2, np.float32)})
    assert meta["step"] == 2 and path == checkpoint.step_path(tmp_path, 2)
    np.testing.assert_array_equal(tree["w"], [2.0, 2.0])


def test_resume_continues_only_a_matching_run_and_only_when_asked(tmp_path):
    fresh = {"w": np.zeros(2, np.float32)}
    settings = {"config": {"n": 4, "init": "orthogonal"}, "lengths": [5]}
    assert checkpoint.resume(tmp_path, fresh, settings, resume=False) == (fresh, None)
    checkpoint.save_step(tmp_path, 5, {"w": np.ones(2, np.float32)}, settings)
    with pytest.raises(CheckpointError, match="pass --resume"):
        checkpoint.resume(tmp_path, fresh, settings, resume=False)
    restored, meta = checkpoint.resume(tmp_path, fresh, settings, resume=True)
    np.testing.assert_array_equal(restored["w"], [1.0, 1.0])
    assert meta["step"] == 5 and meta["lengths"] == [5]
    other = {"config": {"n": 8, "init": "orthogonal"}, "lengths": [5, 7], "seeds": [0]}
    with pytest.raises(ConfigError) as err:
        checkpoint.resume(tmp_path, fresh, other, resume=True)
    assert "\n" not in str(err.value) and str(err.value).endswith(
        "made with other settings (config.n 4 -> 8; lengths [5] -> [5, 7]; seeds not recorded)")
    with pytest.raises(CheckpointError, match="shape"):
        checkpoint.resume(tmp_path, {"w": np.zeros(3, np.float32)}, settings, resume=True)
    path = checkpoint.list_checkpoints(tmp_path)[0]
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(CheckpointError, match="no intact checkpoint"):
        checkpoint.resume(tmp_path, fresh, settings, resume=True)
