"""Planetoid loading (the real files from ../shared when present, small files written here),
the restricted unpickler, crafted files in each of the eight roles (in this process and through
the CLI), the published-bytes check, the download path against a local HTTP server, and
one-line exit-2 errors."""

import collections
import functools
import hashlib
import http.server
import os
import pickle
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import load_experiment
from rnn_gnn import cli
from rnn_gnn.errors import DataError
from rnn_gnn.graph import data, download, planetoid, unpickle

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy < 2
    from numpy.core.multiarray import _reconstruct

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- real files

def test_cora_matches_the_standard_split(planetoid_dir):
    cora = data.load("cora", planetoid_dir)
    assert cora.graph.nodes.shape == (2708, 1433)
    assert cora.num_classes == 7
    assert (len(cora.train), len(cora.val), len(cora.test)) == (140, 500, 1000)
    np.testing.assert_array_equal(np.bincount(cora.labels[cora.train]), [20] * 7)
    assert len(cora.graph.senders) == 10556             # 5278 undirected edges, both ways
    assert not set(cora.train) & set(cora.val) and not set(cora.val) & set(cora.test)
    dense = np.asarray(cora.graph.nodes.todense())
    np.testing.assert_allclose(dense.sum(1), 1.0, rtol=1e-5)   # row-normalised


def test_citeseer_matches_the_standard_split(planetoid_dir):
    citeseer = data.load("citeseer", planetoid_dir)
    assert citeseer.graph.nodes.shape == (3327, 3703)
    assert citeseer.num_classes == 6
    assert (len(citeseer.train), len(citeseer.val), len(citeseer.test)) == (120, 500, 1000)
    np.testing.assert_array_equal(np.bincount(citeseer.labels[citeseer.train]), [20] * 6)
    assert len(citeseer.graph.senders) == 9104          # 4552 undirected edges, both ways
    # The 15 nodes test.index skips: no label, no features, in no split.
    unlabelled = np.flatnonzero(citeseer.labels == -1)
    assert len(unlabelled) == 15
    assert not set(unlabelled) & set(np.concatenate([citeseer.train, citeseer.val, citeseer.test]))
    assert np.all(np.asarray(citeseer.graph.nodes.todense())[unlabelled] == 0)


def test_the_library_does_not_look_beside_the_clone(planetoid_dir, tmp_path, monkeypatch):
    """Found only through the argument, $RNN_GNN_PLANETOID and the cache, never ../shared."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(download.PLANETOID_ENV, raising=False)
    with pytest.raises(DataError, match="not found"):
        download.find_planetoid("cora")
    monkeypatch.setenv(download.PLANETOID_ENV, str(planetoid_dir))
    assert download.find_planetoid("cora") == planetoid_dir


# ----------------------------------------------------------------------------- small files

def tiny_objects():
    """A 9-node dataset: 5 'allx' nodes (3 labelled for training), test nodes 8, 5, 7 listed
    out of order, node 6 skipped (as Citeseer skips some).  Feature row of node v is
    [v + 1, 1, 0, 0], so after row-normalisation every node's row is recognisable."""
    row = lambda v: [v + 1.0, 1.0, 0.0, 0.0]
    onehot = lambda c: np.eye(3)[c]
    test_index = [8, 5, 7]
    graph = collections.defaultdict(list, {0: [1, 1, 0], 1: [0, 2], 2: [3], 3: [4], 4: [8],
                                           5: [6], 6: [], 7: [8], 8: []})  # repeat, self-loop
    return {"x": sp.csr_matrix([row(v) for v in range(3)]),
            "y": np.stack([onehot(c) for c in (0, 1, 2)]),
            "allx": sp.csr_matrix([row(v) for v in range(5)]),
            "ally": np.stack([onehot(c) for c in (0, 1, 2, 1, 0)]),
            "tx": sp.csr_matrix([row(v) for v in test_index]),
            "ty": np.stack([onehot(c) for c in (2, 0, 1)]),
            "graph": graph,
            "test.index": "".join(f"{i}\n" for i in test_index)}


def write_planetoid(directory, name="tiny", protocol=4, **replace):
    """Write the tiny dataset; ``replace`` maps a suffix (``test_index`` for ``test.index``) to
    an object to pickle instead, or to the raw ``bytes`` the file should hold."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    objects = tiny_objects()
    objects.update({k.replace("_", "."): v for k, v in replace.items()})
    for suffix, obj in objects.items():
        path = directory / f"ind.{name}.{suffix}"
        if isinstance(obj, bytes):
            path.write_bytes(obj)
        elif suffix == "test.index":
            path.write_text(obj)
        else:
            path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return directory


def test_small_dataset_is_assembled_like_the_standard_loader(tmp_path):
    tiny = planetoid.load_planetoid("tiny", write_planetoid(tmp_path))
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


def test_dense_features_and_big_endian_arrays_load_the_same(tmp_path):
    """Validation refuses only what is wrong: other plain layouts give the same dataset."""
    objects = tiny_objects()
    want = planetoid.load_planetoid("tiny", write_planetoid(tmp_path / "a"))
    got = planetoid.load_planetoid("tiny", write_planetoid(
        tmp_path / "b", allx=objects["allx"].toarray(), x=np.asfortranarray(objects["x"].toarray()),
        ally=objects["ally"].astype(">i8"), ty=objects["ty"].astype(np.uint8)))
    np.testing.assert_array_equal(got.labels, want.labels)
    np.testing.assert_array_equal(np.asarray(got.graph.nodes.todense()),
                                  np.asarray(want.graph.nodes.todense()))


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
    with pytest.raises(unpickle.RefusedPickle, match=r"refused to unpickle (posix|nt|os)\.system"):
        planetoid.load_planetoid("evil", directory)
    assert not witness.exists()
    # The same file through pickle itself really would run the command.
    pickle.loads((directory / "ind.evil.x").read_bytes())
    assert witness.exists()


def test_missing_files_name_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(download.PLANETOID_ENV, raising=False)
    with pytest.raises(DataError, match="--data_dir.*--download"):
        data.load("cora")
    with pytest.raises(DataError, match="unknown dataset"):
        data.load("pubmedd")


# ----------------------------------------------------------------------------- crafted files

class Forged:
    """Pickles as ``func(*args)`` then ``state``: any call a hand-edited file can make with
    the admitted names (``_reconstruct``, ``dtype``), with any state."""

    def __init__(self, func, args, state):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return self.func, self.args, self.state


def forged_array(shape, dtype, raw: bytes, fortran=False):
    return Forged(_reconstruct, (np.ndarray, (0,), b"b"), (1, shape, np.dtype(dtype), fortran, raw))


def csr_with(**attrs):
    """The tiny ``tx`` (3 x 4, 6 stored entries) with attributes overwritten after
    construction, bypassing SciPy's checks, as a hand-made pickle could hold them."""
    m = sp.csr_matrix(tiny_objects()["tx"])
    for name, value in attrs.items():
        setattr(m, name, value)
    return m


FIELDS_DTYPE = Forged(np.dtype, ("f8", False, True),  # a plain code, a structured state
                      (3, "|", None, ("a",), {"a": (np.dtype("f8"), 0)}, 8, 1, 16))
PICKLED = ("x", "y", "tx", "ty", "allx", "ally", "graph")
FEATURES, LABELS = ("x", "tx", "allx"), ("y", "ty", "ally")
valid_pickle = pickle.dumps(tiny_objects()["tx"], protocol=4)

CRAFTED = [  # (file, content, words of the one-line error)
    *[(s, b"", "not a readable Planetoid pickle") for s in PICKLED],
    *[(s, pickle.dumps(tiny_objects()[s], protocol=4)[:-9], "not a readable") for s in PICKLED],
    *[(s, bytes(range(256)), "not a readable") for s in PICKLED],
    *[(s, pickle.dumps([1, 2]), "found list") for s in PICKLED],
    *[(s, pickle.dumps(np.array([[{"a": 1}, [2]]], dtype=object)), "dtype 'O8'") for s in PICKLED],
    *[(s, pickle.dumps(np.zeros((2, 2), dtype=[("a", "f4"), ("b", "i4")])), "dtype 'V8'")
      for s in PICKLED],
    *[(s, csr_with(indices=np.array([0, 1, 0, 10**6, 0, 1], np.int32)), "column index outside")
      for s in PICKLED],                       # checked before its role, in every file
    ("allx", csr_with(indices=np.array([0, 1, -7, 1, 0, 1], np.int32)), "column index outside"),
    ("x", csr_with(indptr=np.array([0, 4, 2, 6], np.int32)), "not monotone"),
    ("tx", csr_with(indptr=np.array([0, 2, 4, 600], np.int32)), "does not span"),
    ("tx", csr_with(indptr=np.array([0, 2, 6], np.int32)), "does not span"),
    ("tx", csr_with(indptr=np.array([5, 2, 4, 6], np.int32)), "does not span"),
    ("tx", csr_with(data=np.ones(2)), "differ in length"),
    ("tx", csr_with(indices=np.zeros(6)), "integer"),
    ("tx", csr_with(data=np.array([1.0, np.nan, 1, 1, 1, 1])), "NaN"),
    ("allx", csr_with(data=np.array([1.0, 1, 1e300, 1, 1, 1])), "beyond float32"),
    ("tx", csr_with(data=np.array([{}] * 6, dtype=object)), "dtype 'O8'"),
    ("tx", csr_with(_shape=(3, 5)), "unexpected shape"),
    ("tx", csr_with(_shape=(3, -4)), "shape"),
    ("tx", csr_with(_shape=(2, 4)), "does not span"),
    ("tx", csr_with(indices=forged_array((10**12,), "i4", b"\0" * 24)), "needs"),
    ("tx", csr_with(data=Forged(_reconstruct, (np.ndarray, (0,), b"b"),
                                (1, (6,), FIELDS_DTYPE, False, b"\0" * 48))), "dtype state"),
    ("allx", sp.csr_matrix((5, 10**7)), "feature columns"),
    ("y", forged_array((3, 3), "f8", b"\0" * 8), "needs"),
    ("ty", forged_array((3, 3), "f8", b"\0" * 72, fortran=1), "malformed array state"),
    ("ally", Forged(_reconstruct, (np.ndarray, (0,), b"b"), (1, (5, 3), "f8", False, b"")),
     "plain dtype"),
    ("y", np.eye(3)[:, :2], "unexpected shape"),
    ("ty", np.array([[1.0, np.inf, 0]] * 3), "NaN, inf"),
    ("ally", sp.csr_matrix(tiny_objects()["ally"]), "expected a dense array"),
    ("y", np.zeros(3), "unexpected shape"),
    ("y", np.eye(6, 3), "6 training rows but only 5"),
    ("graph", {0: [1, 10**6]} | {v: [] for v in range(1, 9)}, "neighbour outside"),
    ("graph", {0: [1, -1]} | {v: [] for v in range(1, 9)}, "neighbour outside"),
    ("graph", {0: [1, 10**30]} | {v: [] for v in range(1, 9)}, "neighbour outside"),
    ("graph", {0: [1.5]} | {v: [] for v in range(1, 9)}, "non-integer"),
    ("graph", {0: [True]} | {v: [] for v in range(1, 9)}, "non-integer"),
    ("graph", {0: "12"} | {v: [] for v in range(1, 9)}, "list of ints"),
    ("graph", {v: [] for v in (*range(8), 9)}, "9 adjacency lists, expected one for each"),
    ("graph", {v: [] for v in range(-1, 8)}, "adjacency lists"),
    ("graph", [[1], [0]], "found list"),
    ("test_index", b"", "empty"),
    ("test_index", b"\n\n", "empty"),
    ("test_index", b"8\n5\nseven\n", "integer"),
    ("test_index", b"8\n-5\n7\n", "integer"),
    ("test_index", b"8\n5\n" + b"9" * 40 + b"\n", "integer"),
    ("test_index", b"8\n5\n\xff\xfe\n", "ASCII"),
    ("test_index", b"8\n5\n", "do not match"),
    ("test_index", b"8\n5\n5\n", "repeated"),
    ("test_index", b"8\n9\n7\n", "do not match"),          # starts after allx, not at it
    ("test_index", b"1000000000000\n5\n7\n", "beyond the 9 nodes"),  # n from a tiny file
]


def crafted_id(case):
    suffix, content, match = case
    return f"{suffix}:{match.split()[0]}"


@pytest.mark.parametrize("suffix, content, match", CRAFTED, ids=map(crafted_id, CRAFTED))
def test_crafted_file_is_one_line_data_error(tmp_path, suffix, content, match):
    """In this process: a crash (segfault, abort) would take the test run down with it."""
    directory = write_planetoid(tmp_path, "cora", **{suffix: content})
    with pytest.raises(DataError) as error:
        planetoid.load_planetoid("cora", directory, allow_modified=True)
    message = str(error.value)
    assert "\n" not in message and match in message, message
    assert message.startswith(str(directory / f"ind.cora.{suffix.replace('_', '.')}")), message


def test_memory_and_overflow_errors_become_the_data_error(tmp_path, monkeypatch):
    directory = write_planetoid(tmp_path, "tiny")
    for error in (MemoryError, OverflowError):
        def fail(*args, error=error):
            raise error("cannot allocate")
        monkeypatch.setattr(planetoid, "assemble", fail)
        with pytest.raises(DataError, match=f"too large to load .{error.__name__}"):
            planetoid.load_planetoid("tiny", directory)


def test_published_names_must_hold_the_published_bytes(tmp_path):
    """A dataset named cora that is not the published Cora is refused before it is parsed,
    naming the first file that differs; ``allow_modified`` loads it (validated)."""
    directory = write_planetoid(tmp_path, "cora")
    with pytest.raises(DataError, match=r"ind\.cora\.x: sha256 [0-9a-f]{12}\.\.\. is not "
                                             r"the published 23cfa55d91c6\.\.\..*"
                                             + planetoid.ALLOW_MODIFIED_FLAG):
        planetoid.load_planetoid("cora", directory)
    assert planetoid.load_planetoid("cora", directory, allow_modified=True).graph.nodes.shape == (9, 4)


@pytest.fixture
def cora_copy(planetoid_dir, tmp_path):
    directory = tmp_path / "cora"
    directory.mkdir()
    for path in download.planetoid_files("cora", planetoid_dir).values():
        shutil.copyfile(path, directory / path.name)
    return directory


@pytest.mark.parametrize("suffix", download.PLANETOID_SUFFIXES)
def test_one_modified_published_file_is_named(cora_copy, suffix):
    path = cora_copy / f"ind.cora.{suffix}"
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(DataError) as error:
        data.load("cora", cora_copy)
    assert str(error.value).startswith(f"{path}: sha256 ") and "\n" not in str(error.value)


# ----------------------------------------------------------------------------- the CLI process

def snapshot(directory: Path) -> dict:
    return {str(p.relative_to(directory)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(directory.rglob("*"))}


def run_gnn(directory, out, allow_modified: bool):
    """gnn.py on Cora from ``directory``; ``allow_modified`` lets crafted files past the hash
    check, so that they reach the validation."""
    argv = [sys.executable, "experiments/gnn.py", "--dataset", "cora", "--data_dir",
            str(directory), "--run_dir", str(out), "--seeds", "1", "--no_progress"]
    return subprocess.run(argv + ["--allow_modified"] * allow_modified, cwd=ROOT,
                          capture_output=True, text=True, timeout=600,  # a loaded machine
                          env=dict(os.environ, JAX_PLATFORMS="cpu"))


PROCESS_CASES = [  # the two crashes measured in issue 15, an object array, a wild graph
    ("tx", csr_with(indices=np.array([0, 1, 0, 10**6, 0, 1], np.int32)), "column index outside"),
    ("test_index", b"", "empty"),
    ("ty", pickle.dumps(np.array([[{"a": 1}, [2]]], dtype=object)), "dtype 'O8'"),
    ("graph", {0: [1, 10**6]} | {v: [] for v in range(1, 9)}, "neighbour outside"),
]


@pytest.fixture
def out(tmp_path):
    """An output directory holding an earlier result, which a failed run must leave alone."""
    out = tmp_path / "results"
    (out / "earlier").mkdir(parents=True)
    (out / "earlier" / "cora_gcn.csv").write_text("seed,test_accuracy\n0,0.81\n")
    return out


def assert_one_line_exit_2(done, words: str):
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("gnn.py: error: "), \
        done.stderr[-2000:]
    assert words in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("suffix, content, match", PROCESS_CASES,
                         ids=map(crafted_id, PROCESS_CASES))
def test_cli_crafted_file_exits_2_with_one_line_and_writes_nothing(tmp_path, out, suffix,
                                                                   content, match):
    directory = write_planetoid(tmp_path / "data", "cora", **{suffix: content})
    before = snapshot(out)
    assert_one_line_exit_2(run_gnn(directory, out, allow_modified=True), match)
    assert snapshot(out) == before


def test_cli_modified_published_file_exits_2_naming_it(tmp_path, out):
    directory = write_planetoid(tmp_path / "data", "cora")
    before = snapshot(out)
    assert_one_line_exit_2(run_gnn(directory, out, allow_modified=False),
                           f"{directory / 'ind.cora.x'}: sha256 ")
    assert snapshot(out) == before


def test_cli_bad_pickle_exits_2_without_traceback_or_outputs(tmp_path):
    directory = write_planetoid(tmp_path / "data", "cora")
    witness = tmp_path / "pwned"
    (directory / "ind.cora.graph").write_bytes(pickle.dumps(RunsACommand(f"touch {witness}")))
    out = tmp_path / "results"
    assert_one_line_exit_2(run_gnn(directory, out, allow_modified=True), "refused to unpickle")
    assert not witness.exists() and not out.exists()


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
              for s, p in download.planetoid_files("tiny", served).items()}
    cache = tmp_path / "cache"
    bad = dict(hashes, graph="0" * 64)
    with pytest.raises(DataError, match="does not match"):
        download.download_planetoid("tiny", cache, url=url, sha256=bad)
    assert not (cache / "ind.tiny.graph").exists()
    assert not list(cache.glob("*.tmp")) and not list(cache.glob(".*"))
    download.download_planetoid("tiny", cache, url=url, sha256=hashes)
    for suffix, path in download.planetoid_files("tiny", cache).items():
        assert path.read_bytes() == (served / path.name).read_bytes()
    assert download.find_planetoid("tiny", cache) == cache
    with pytest.raises(DataError, match="could not download"):
        download.download_planetoid("absent", tmp_path / "other", url=url)


def test_load_with_download_uses_the_cache(tmp_path, server, monkeypatch):
    url, _ = server
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(download.PLANETOID_ENV, raising=False)
    tiny = planetoid.load_planetoid("tiny", download=True, url=url)
    assert tiny.graph.nodes.shape == (9, 4)
    assert download.is_complete("tiny", tmp_path / "xdg" / "rnn_gnn" / "planetoid")


# ----------------------------------------------------------------------------- CLI errors

@pytest.mark.parametrize("argv, message", [
    (["--dataset", "pubmedd"], "invalid choice: 'pubmedd'"),
    (["--model", "gin"], "invalid choice: 'gin'"),
    (["--seeds", "0"], "must be > 0"),
    (["--dataset", "cora", "--data_dir", "/nonexistent"], "--download"),
])
def test_cli_bad_input_is_one_line_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.run_main(load_experiment("gnn").main, argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
