"""Planetoid loading (real files when present, small files written here), the restricted
unpickler, the download path against a local HTTP server, and one-line exit-2 errors."""

import collections
import functools
import hashlib
import http.server
import importlib.util
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from rnn_gnn import cli
from rnn_gnn.graph import data

ROOT = Path(__file__).resolve().parents[1]
SHARED = data.SHARED_PLANETOID
needs_shared = pytest.mark.skipif(
    not all(data._complete(n, SHARED) for n in ("cora", "citeseer")),
    reason=f"Planetoid files not found in {SHARED} (read-only project data, not in the repo)")


def gnn_cli():
    spec = importlib.util.spec_from_file_location("gnn_cli", ROOT / "experiments" / "gnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- real files

@needs_shared
def test_cora_matches_the_standard_split():
    cora = data.load("cora")
    assert cora.graph.nodes.shape == (2708, 1433)
    assert cora.num_classes == 7
    assert (len(cora.train), len(cora.val), len(cora.test)) == (140, 500, 1000)
    np.testing.assert_array_equal(np.bincount(cora.labels[cora.train]), [20] * 7)
    assert len(cora.graph.senders) == 10556             # 5278 undirected edges, both ways
    assert not set(cora.train) & set(cora.val) and not set(cora.val) & set(cora.test)
    dense = np.asarray(cora.graph.nodes.todense())
    np.testing.assert_allclose(dense.sum(1), 1.0, rtol=1e-5)   # row-normalised


@needs_shared
def test_citeseer_matches_the_standard_split():
    citeseer = data.load("citeseer")
    assert citeseer.graph.nodes.shape == (3327, 3703)
    assert citeseer.num_classes == 6
    assert (len(citeseer.train), len(citeseer.val), len(citeseer.test)) == (120, 500, 1000)
    np.testing.assert_array_equal(np.bincount(citeseer.labels[citeseer.train]), [20] * 6)
    # The 15 nodes test.index skips: no label, no features, in no split.
    unlabelled = np.flatnonzero(citeseer.labels == -1)
    assert len(unlabelled) == 15
    assert not set(unlabelled) & set(np.concatenate([citeseer.train, citeseer.val, citeseer.test]))
    assert np.all(np.asarray(citeseer.graph.nodes.todense())[unlabelled] == 0)


# ----------------------------------------------------------------------------- small files

def write_planetoid(directory, name="tiny", protocol=4):
    """A 9-node dataset: 5 'allx' nodes (3 labelled for training), test nodes 8, 5, 7 listed
    out of order, node 6 skipped (as Citeseer skips some).  Feature row of node v is
    [v + 1, 1, 0, 0], so after row-normalisation every node's row is recognisable."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    row = lambda v: [v + 1.0, 1.0, 0.0, 0.0]
    onehot = lambda c: np.eye(3)[c]
    test_index = [8, 5, 7]
    graph = collections.defaultdict(list, {0: [1, 1, 0], 1: [0, 2], 2: [3], 3: [4], 4: [8],
                                           5: [6], 7: [8]})        # repeat + self-loop dropped
    files = {"x": sp.csr_matrix([row(v) for v in range(3)]),
             "y": np.stack([onehot(c) for c in (0, 1, 2)]),
             "allx": sp.csr_matrix([row(v) for v in range(5)]),
             "ally": np.stack([onehot(c) for c in (0, 1, 2, 1, 0)]),
             "tx": sp.csr_matrix([row(v) for v in test_index]),
             "ty": np.stack([onehot(c) for c in (2, 0, 1)]),
             "graph": graph}
    for suffix, obj in files.items():
        (directory / f"ind.{name}.{suffix}").write_bytes(pickle.dumps(obj, protocol=protocol))
    (directory / f"ind.{name}.test.index").write_text("".join(f"{i}\n" for i in test_index))
    return directory


def test_small_dataset_is_assembled_like_the_standard_loader(tmp_path):
    tiny = data.load_planetoid("tiny", write_planetoid(tmp_path))
    features = np.asarray(tiny.graph.nodes.todense())
    assert features.shape == (9, 4)
    for v in (0, 1, 2, 3, 4, 5, 7, 8):           # every row landed on its own node
        np.testing.assert_allclose(features[v], np.array([v + 1, 1, 0, 0]) / (v + 2), rtol=1e-6)
    assert np.all(features[6] == 0)
    np.testing.assert_array_equal(tiny.labels, [0, 1, 2, 1, 0, 0, -1, 1, 2])
    np.testing.assert_array_equal(tiny.train, [0, 1, 2])
    np.testing.assert_array_equal(tiny.val, [3, 4])
    np.testing.assert_array_equal(tiny.test, [5, 7, 8])
    edges = set(zip(np.asarray(tiny.graph.senders).tolist(),
                    np.asarray(tiny.graph.receivers).tolist()))
    assert edges == {(a, b) for a, b in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 8), (5, 6), (7, 8)]
                     for a, b in ((a, b), (b, a))}


class RunsACommand:
    """Unpickling this calls os.system(command): what a malicious 'dataset' would do."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_pickle_that_would_run_a_command_is_refused(tmp_path):
    directory = write_planetoid(tmp_path / "data", "evil")
    witness = tmp_path / "pwned"
    payload = pickle.dumps(RunsACommand(f"touch {witness}"), protocol=2)
    (directory / "ind.evil.x").write_bytes(payload)
    with pytest.raises(data.RefusedPickle, match=r"refused to unpickle (posix|nt|os)\.system"):
        data.load_planetoid("evil", directory)
    assert not witness.exists()
    # The same file through pickle itself really would run the command.
    pickle.loads((directory / "ind.evil.x").read_bytes())
    assert witness.exists()


def test_missing_files_name_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "SHARED_PLANETOID", tmp_path / "nowhere")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(data.PLANETOID_ENV, raising=False)
    with pytest.raises(data.DataError, match="--data-dir.*--download"):
        data.load("cora")
    with pytest.raises(data.DataError, match="unknown dataset"):
        data.load("pubmedd")


# ----------------------------------------------------------------------------- download

@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving ``tmp_path / 'served'``."""
    served = write_planetoid(tmp_path / "served", "tiny")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(Quiet, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    httpd.shutdown()
    httpd.server_close()


def test_download_fills_the_cache_atomically_and_checks_hashes(tmp_path, server):
    url, served = server
    hashes = {s: hashlib.sha256(p.read_bytes()).hexdigest()
              for s, p in data.planetoid_files("tiny", served).items()}
    cache = tmp_path / "cache"
    bad = dict(hashes, graph="0" * 64)
    with pytest.raises(data.DataError, match="does not match"):
        data.download_planetoid("tiny", cache, url=url, sha256=bad)
    assert not (cache / "ind.tiny.graph").exists()
    assert not list(cache.glob("*.tmp")) and not list(cache.glob(".*"))
    data.download_planetoid("tiny", cache, url=url, sha256=hashes)
    for suffix, path in data.planetoid_files("tiny", cache).items():
        assert path.read_bytes() == (served / path.name).read_bytes()
    assert data.find_planetoid("tiny", cache) == cache
    with pytest.raises(data.DataError, match="could not download"):
        data.download_planetoid("absent", tmp_path / "other", url=url)


def test_load_with_download_uses_the_cache(tmp_path, server, monkeypatch):
    url, _ = server
    monkeypatch.setattr(data, "SHARED_PLANETOID", tmp_path / "nowhere")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(data.PLANETOID_ENV, raising=False)
    tiny = data.load_planetoid("tiny", download=True, url=url)
    assert tiny.graph.nodes.shape == (9, 4)
    assert data._complete("tiny", tmp_path / "xdg" / "rnn_gnn" / "planetoid")


# ----------------------------------------------------------------------------- CLI errors

@pytest.mark.parametrize("argv, message", [
    (["--dataset", "pubmedd"], "unknown dataset 'pubmedd'"),
    (["--model", "gin"], "unknown model 'gin'"),
    (["--seeds", "0"], "must be > 0"),
    (["--dataset", "cora", "--data-dir", "/nonexistent"], "--download"),
])
def test_cli_bad_input_is_one_line_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.run_main(gnn_cli().main, argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_cli_bad_pickle_exits_2_without_traceback_or_outputs(tmp_path):
    directory = write_planetoid(tmp_path / "data", "cora")
    witness = tmp_path / "pwned"
    (directory / "ind.cora.graph").write_bytes(pickle.dumps(RunsACommand(f"touch {witness}")))
    out = tmp_path / "results"
    done = subprocess.run([sys.executable, "experiments/gnn.py", "--dataset", "cora",
                           "--data-dir", str(directory), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "refused to unpickle" in done.stderr, done.stderr
    assert not witness.exists() and not out.exists()
