"""Graphs for node classification: Zachary's karate club and the Planetoid citation graphs.

Planetoid (Yang, Cohen & Salakhutdinov 2016; files from https://github.com/kimiyoung/planetoid)
ships each dataset as eight ``ind.{name}.{suffix}`` files, seven of them Python-2 pickles.  The
standard split is Kipf & Welling's: the first ``len(y)`` nodes (20 per class) train, the next
500 validate, the ``test.index`` nodes (1000) test.

The files are untrusted input, read in three stages so that nothing in them reaches code that
trusts its input:

1. For the published datasets (Cora, Citeseer) every file's sha256 is checked before it is
   parsed; a modified copy is refused unless the caller passes ``allow_modified=True``
   (``ALLOW_MODIFIED_FLAG`` on the command line).
2. The pickles are parsed by a restricted unpickler that admits only the names the files are
   made of (``ALLOWED_GLOBALS``) and maps the NumPy/SciPy ones to inert records: NumPy's and
   SciPy's own ``__setstate__`` (C code that trusts its state) never run on file contents.
3. The records are validated -- plain numeric dtypes, byte counts that fit the shapes, the full
   CSR format check (indptr monotone from 0 to nnz, indices in range), finite values, shapes
   consistent across the eight files, adjacency lists of integers naming exactly the nodes
   0..n-1 -- and only then turned into arrays.  Every failure, ``MemoryError`` and
   ``OverflowError`` included, is a one-line ``DataError`` naming the file.

Where the files come from, in order: an explicit directory (``--data_dir``), the directory in
``$RNN_GNN_PLANETOID``, the download cache (``$XDG_CACHE_HOME/rnn_gnn/planetoid``, default
``~/.cache/rnn_gnn/planetoid``).  Downloading is opt-in (``download=True``): it fetches from the
Planetoid repository, checks each file's sha256 and writes it atomically, so an interrupted
download never leaves a half file in the cache.
"""

from __future__ import annotations

import collections
import hashlib
import io
import math
import os
import pickle
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

import jax.numpy as jnp
import jraph
import numpy as np
import scipy.sparse as sp
from jax.experimental import sparse

from rnn_gnn.errors import DataError
from rnn_gnn.files import atomic_write_bytes

PLANETOID_URL = "https://github.com/kimiyoung/planetoid/raw/master/data"
PLANETOID_SUFFIXES = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
PLANETOID_ENV = "RNN_GNN_PLANETOID"
ALLOW_MODIFIED_FLAG = "--allow_modified"  # the CLI flag for ``allow_modified=True``
NUM_VAL = 500

# sha256 of the published files (../shared/DATA.md); a download must match them.
PLANETOID_SHA256 = {
    "cora": {
        "allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
        "ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
        "graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
        "test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
        "tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
        "ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
        "x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
        "y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
    },
    "citeseer": {
        "allx": "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668",
        "ally": "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95",
        "graph": "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7",
        "test.index": "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4",
        "tx": "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21",
        "ty": "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce",
        "x": "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6",
        "y": "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924",
    },
}
PLANETOID_NAMES = tuple(PLANETOID_SHA256)


class NodeData(NamedTuple):
    """A node-classification problem on one graph.

    graph: nodes = features [N, d] (float32, dense or BCOO), edges = ones [E]
    labels: [N] int32, -1 where a node has no label;  train, val, test: node indices
    """
    name: str
    graph: jraph.GraphsTuple
    labels: np.ndarray
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    num_classes: int


# ----------------------------------------------------------------------------- building graphs

def graph_from_edges(num_nodes: int, edges, features) -> jraph.GraphsTuple:
    """An undirected simple graph: both directions of every pair, no self-loops, no repeats."""
    e = np.asarray(list(edges), np.int64).reshape(-1, 2)
    e = np.concatenate([e, e[:, ::-1]])
    e = np.unique(e[e[:, 0] != e[:, 1]], axis=0)
    return jraph.GraphsTuple(
        nodes=features, edges=jnp.ones((len(e),), jnp.float32),
        senders=jnp.asarray(e[:, 0], jnp.int32), receivers=jnp.asarray(e[:, 1], jnp.int32),
        n_node=jnp.array([num_nodes], jnp.int32), n_edge=jnp.array([len(e)], jnp.int32),
        globals=None)


def pad_graphs(graphs, n_node: int, n_edge: int, n_graph: int | None = None) -> jraph.GraphsTuple:
    """Batch ``graphs`` into one ``GraphsTuple`` and pad it to a fixed size with
    ``jraph.pad_with_graphs``, so that every batch padded to the same budget shares one
    compiled program.  The padding edges get ``edges == 0`` (masked by GAT); use
    ``jraph.get_node_padding_mask`` to drop padding nodes from losses."""
    batch = jraph.batch(list(graphs))
    return jraph.pad_with_graphs(batch, n_node, n_edge,
                                 n_graph if n_graph is not None else len(graphs) + 1)


def karate_club(num_labels_per_club: int = 1) -> NodeData:
    """Zachary's karate club (networkx): 34 members, 78 friendships, label = the club each
    member joined after the split (0 = Mr. Hi's, 1 = the Officer's).

    Features are the identity (each node only knows who it is), as in Kipf & Welling's karate
    demo; the labelled nodes are the two leaders (0 and 33), then the members nearest to them;
    every other member is both validation and test (there is nothing to select on 34 nodes).
    """
    import networkx as nx
    g = nx.karate_club_graph()
    n = g.number_of_nodes()
    labels = np.array([0 if g.nodes[i]["club"] == "Mr. Hi" else 1 for i in range(n)], np.int32)
    train = []
    for leader in (0, n - 1):
        near = sorted(nx.single_source_shortest_path_length(g, leader).items(),
                      key=lambda kv: (kv[1], kv[0]))
        train += [v for v, _ in near if labels[v] == labels[leader]][:num_labels_per_club]
    train = np.array(sorted(train), np.int32)
    rest = np.setdiff1d(np.arange(n), train).astype(np.int32)
    graph = graph_from_edges(n, g.edges(), jnp.eye(n, dtype=jnp.float32))
    return NodeData("karate", graph, labels, train, rest, rest, 2)


# ----------------------------------------------------------------------------- restricted pickle
#
# Unpickling calls whatever the file names, with arguments the file chooses.  The names below
# are the only ones admitted; the NumPy and SciPy ones map to records that just keep their
# arguments and state, because ndarray/dtype/csr_matrix ``__setstate__`` would take that state
# on trust (object dtypes, out-of-range sparse indices: the C code then reads wild memory).

class _NDArrayName:
    """Stands for ``numpy.ndarray`` (the first argument of ``_reconstruct``)."""
    __slots__ = ()


class _Record:
    """A call the pickle makes to an admitted name: its arguments, then (BUILD) its state.
    Class-level defaults, because NEWOBJ creates an instance without calling ``__init__``."""
    args: tuple = ()
    state = None

    def __init__(self, *args):
        self.args = args

    def __setstate__(self, state):
        self.state = state


class _ArrayRecord(_Record):
    """A pickled ndarray: ``_reconstruct(ndarray, (0,), b"b")``, then its state."""


class _DTypeRecord(_Record):
    """A pickled dtype: ``dtype(code, align, copy)``, then its state."""


class _CSRRecord(_Record):
    """A pickled ``csr_matrix``: created empty, then given its attribute dict as state."""


def _allowed_globals() -> dict:
    """The six names the Planetoid pickles use, under the module paths they were pickled with
    (Python 2, old NumPy/SciPy) and their current paths."""
    allowed = {("collections", "defaultdict"): collections.defaultdict,
               ("numpy", "dtype"): _DTypeRecord,
               ("numpy", "ndarray"): _NDArrayName}
    for module in ("__builtin__", "builtins"):
        allowed[(module, "list")] = list
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = _ArrayRecord
    for module in ("scipy.sparse", "scipy.sparse.csr", "scipy.sparse._csr"):
        allowed[(module, "csr_matrix")] = _CSRRecord
    return allowed


ALLOWED_GLOBALS = _allowed_globals()


class RefusedPickle(DataError):
    """The pickle references something other than ``ALLOWED_GLOBALS``."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedPickle(f"{module}.{name}") from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200]}" if text else type(e).__name__


def unpickle_records(raw: bytes, source) -> object:
    """Parse pickle bytes into lists, dicts, numbers, strings and inert records (nothing runs)."""
    try:
        return _RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except RefusedPickle as e:
        raise RefusedPickle(
            f"{source}: refused to unpickle {e} (a Planetoid file holds only NumPy/SciPy arrays, "
            f"lists and dicts); the file is not a Planetoid file or was tampered with") from None
    # Any exception here comes from malformed bytes (truncation, bad opcodes, wrong argument
    # counts, a huge memo index); all of them mean the same thing to the user.
    except Exception as e:  # noqa: BLE001
        raise DataError(f"{source}: not a readable Planetoid pickle ({_first_line(e)})") from None


def restricted_load(path) -> object:
    """Unpickle and validate one Planetoid pickle: a CSR matrix, a 2-D array, or a dict of
    adjacency lists, as real SciPy/NumPy/Python objects (see the module docstring)."""
    path = Path(path)
    return restricted_value(_read(path), path)


def restricted_value(raw: bytes, path):
    """``restricted_load`` on bytes already read (so that they are the bytes hash-checked)."""
    return _value(unpickle_records(raw, path), path)


# ----------------------------------------------------------------------------- validating records

_PLAIN_CODES = {f"{kind}{size}" for kind, sizes in (("b", "1"), ("u", "1248"), ("i", "1248"),
                                                    ("f", "248")) for size in sizes}
_FLOAT32_MAX = float(np.finfo(np.float32).max)
# Far more bag-of-words columns than any citation dataset has (Citeseer: 3703); the first
# layer's weights grow with it, so a crafted width would exhaust memory far from here.
MAX_FEATURES = 1 << 20


def _dtype(record, path) -> np.dtype:
    """A plain numeric dtype (bool, int, uint, float), never object, structured or sub-array."""
    if not isinstance(record, _DTypeRecord) or len(record.args) != 3:
        raise DataError(f"{path}: an array without a plain dtype")
    code, state = record.args[0], record.state
    if not (isinstance(code, str) and code in _PLAIN_CODES):
        raise DataError(f"{path}: arrays of dtype {str(code)[:20]!r} are not accepted "
                        f"(plain numbers only)")
    dtype = np.dtype(code)
    # (version, byte order, subarray, names, fields, elsize, alignment, flags): a plain number
    # has neither subarray, names nor fields, and its size comes from the code.
    if state is not None:
        if not (type(state) is tuple and len(state) == 8 and state[0] == 3
                and state[1] in ("<", ">", "|", "=") and state[2:7] == (None, None, None, -1, -1)
                and state[7] == 0):
            raise DataError(f"{path}: malformed dtype state for {code!r}")
        if state[1] == ">":
            dtype = dtype.newbyteorder(">")
    return dtype


def _array(record, path) -> np.ndarray:
    """A NumPy array from its record, after checking dtype, shape, byte count and finiteness."""
    if not (isinstance(record, _ArrayRecord) and len(record.args) == 3
            and record.args[0] is _NDArrayName):
        raise DataError(f"{path}: expected a NumPy array, found {type(record).__name__}")
    state = record.state
    if not (type(state) is tuple and len(state) == 5 and state[0] == 1):
        raise DataError(f"{path}: malformed array state")
    _, shape, dtype, fortran, raw = state
    if not (type(shape) is tuple and len(shape) <= 2
            and all(type(s) is int and s >= 0 for s in shape)):
        raise DataError(f"{path}: malformed array shape")
    dtype = _dtype(dtype, path)
    if isinstance(raw, str):  # a Python-2 str read with encoding="latin1"
        raw = raw.encode("latin1")
    if type(fortran) is not bool or not isinstance(raw, bytes):
        raise DataError(f"{path}: malformed array state")
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise DataError(f"{path}: array of shape {shape} and dtype {dtype} needs "
                        f"{math.prod(shape) * dtype.itemsize} bytes, the file holds {len(raw)}")
    array = (np.frombuffer(raw, dtype).reshape(shape, order="F" if fortran else "C")
             .astype(dtype.newbyteorder("="), order="C"))
    # Everything ends up float32: a float that is not finite there poisons training silently.
    if dtype.kind == "f" and array.size and not np.all(np.abs(array) <= _FLOAT32_MAX):
        raise DataError(f"{path}: array holds NaN, inf or values beyond float32")
    return array


def _shape2(shape, path) -> tuple[int, int]:
    if not (type(shape) is tuple and len(shape) == 2
            and all(type(s) is int and s >= 0 for s in shape)):
        raise DataError(f"{path}: malformed sparse matrix shape")
    return shape


def _index_array(record, path, what) -> np.ndarray:
    a = _array(record, path)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise DataError(f"{path}: sparse {what} must be a 1-D integer array")
    if a.size and a.dtype.kind == "u" and a.max() > np.iinfo(np.int64).max:
        raise DataError(f"{path}: sparse {what} out of range")
    return a.astype(np.int64)


def _csr(record, path) -> sp.csr_matrix:
    """A CSR matrix, after SciPy's full format check done here first (SciPy's constructor
    checks only lengths; its C++ kernels then index with whatever ``indices`` hold)."""
    state = record.state
    if not isinstance(state, dict):
        raise DataError(f"{path}: malformed sparse matrix")
    missing = [k for k in ("data", "indices", "indptr", "_shape") if k not in state]
    if missing or state.get("format", "csr") != "csr":
        raise DataError(f"{path}: malformed sparse matrix (missing {', '.join(missing) or 'csr'})")
    rows, cols = _shape2(state["_shape"], path)
    indptr = _index_array(state["indptr"], path, "indptr")
    indices = _index_array(state["indices"], path, "indices")
    data = _array(state["data"], path)
    if data.ndim != 1:
        raise DataError(f"{path}: sparse data must be a 1-D array")
    if len(indptr) != rows + 1 or indptr[0] != 0 or indptr[-1] != len(indices):
        raise DataError(f"{path}: sparse indptr does not span 0..{len(indices)} over {rows} rows")
    if np.any(np.diff(indptr) < 0):
        raise DataError(f"{path}: sparse indptr is not monotone")
    if len(data) != len(indices):
        raise DataError(f"{path}: sparse data and indices differ in length")
    if len(indices) and (indices.min() < 0 or indices.max() >= cols):
        raise DataError(f"{path}: sparse column index outside 0..{cols - 1}")
    return sp.csr_matrix((data, indices, indptr), shape=(rows, cols))


def _adjacency_lists(obj, path) -> dict:
    """A dict of int -> list of ints (Python ints only: no bools, floats or strings)."""
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict of adjacency lists, found {type(obj).__name__}")
    for node, neighbours in obj.items():
        if type(node) is not int or type(neighbours) is not list:
            raise DataError(f"{path}: expected a dict of int -> list of ints")
        if not all(type(v) is int for v in neighbours):
            raise DataError(f"{path}: adjacency list of node {node} holds a non-integer")
    return obj


def _value(obj, path):
    """A validated file: CSR matrix, 2-D array, or adjacency dict; anything else refused."""
    if isinstance(obj, _CSRRecord):
        return _csr(obj, path)
    if isinstance(obj, _ArrayRecord):
        return _array(obj, path)
    if isinstance(obj, dict):
        return _adjacency_lists(obj, path)
    raise DataError(f"{path}: expected a matrix or an adjacency dict, found {type(obj).__name__}")


# ----------------------------------------------------------------------------- Planetoid files

def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "rnn_gnn" / "planetoid"


def planetoid_files(name: str, directory) -> dict[str, Path]:
    return {s: Path(directory) / f"ind.{name}.{s}" for s in PLANETOID_SUFFIXES}


def _complete(name: str, directory) -> bool:
    return all(p.is_file() for p in planetoid_files(name, directory).values())


def find_planetoid(name: str, data_dir=None, download: bool = False,
                   url: str = PLANETOID_URL) -> Path:
    """The directory holding all eight ``ind.{name}.*`` files: ``data_dir`` if given, else
    ``$RNN_GNN_PLANETOID``, else the cache; downloads into it when ``download`` and nothing is
    found."""
    check_name(name)
    if data_dir is not None:
        candidates = [Path(data_dir)]
    else:
        candidates = [Path(p) for p in [os.environ.get(PLANETOID_ENV)] if p] + [cache_dir()]
    for directory in candidates:
        if _complete(name, directory):
            return directory
    target = candidates[0] if data_dir is not None else cache_dir()
    if download:
        return download_planetoid(name, target, url=url)
    missing = next(p for p in planetoid_files(name, candidates[0]).values() if not p.is_file())
    where = (f"{missing}" if data_dir is not None
             else f"{missing.name} in any of {', '.join(str(c) for c in candidates)}")
    raise DataError(f"Planetoid file not found: {where}; pass --data_dir DIR holding the "
                    f"ind.{name}.* files (or set ${PLANETOID_ENV}), or add --download to fetch "
                    f"them from {url} into {target}")


def download_planetoid(name: str, directory, url: str = PLANETOID_URL,
                       sha256: dict | None = None, timeout: float = 60.0) -> Path:
    """Fetch the ``ind.{name}.*`` files missing from ``directory``; each is checked against
    ``sha256`` (default: the published hashes, when the name is known) and written atomically.
    """
    if sha256 is None:
        sha256 = PLANETOID_SHA256.get(name, {})
    for suffix, path in planetoid_files(name, directory).items():
        if path.is_file():
            continue
        source = f"{url.rstrip('/')}/{path.name}"
        try:
            with urllib.request.urlopen(source, timeout=timeout) as response:
                data = response.read()
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise DataError(f"could not download {source}: {getattr(e, 'reason', e)}") from None
        digest = hashlib.sha256(data).hexdigest()
        if suffix in sha256 and digest != sha256[suffix]:
            raise DataError(f"{source}: sha256 {digest[:12]}... does not match the published "
                            f"{sha256[suffix][:12]}...; not saved")
        atomic_write_bytes(path, data)
    return Path(directory)


def check_name(name: str) -> None:
    if not (name.isascii() and name.isalnum()):
        raise DataError(f"bad dataset name {name!r}")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None


def check_published(name: str, suffix: str, raw: bytes, path) -> None:
    """Refuse a file of a published dataset whose bytes are not the published ones."""
    want = PLANETOID_SHA256.get(name, {}).get(suffix)
    digest = hashlib.sha256(raw).hexdigest()
    if want is not None and digest != want:
        raise DataError(f"{path}: sha256 {digest[:12]}... is not the published {want[:12]}...; "
                        f"the file was modified or damaged (pass {ALLOW_MODIFIED_FLAG} to load "
                        f"it anyway)")


def parse_test_index(raw: bytes, path) -> list[int]:
    """``test.index``: one non-negative integer per line (blank lines ignored), at least one."""
    try:
        lines = raw.decode("ascii").split()
    except UnicodeDecodeError:
        raise DataError(f"{path}: expected one integer per line (not ASCII text)") from None
    if not lines:
        raise DataError(f"{path}: no test node indices (empty file)")
    if not all(line.isdigit() and len(line) <= 18 for line in lines):
        bad = next(line for line in lines if not (line.isdigit() and len(line) <= 18))
        raise DataError(f"{path}: expected one non-negative integer per line, found {bad[:20]!r}")
    return [int(line) for line in lines]


def _matrix(obj, path, rows=None, cols=None, dense_only=False):
    """A non-empty 2-D matrix (CSR, or dense only where ``dense_only``) of the expected size."""
    if isinstance(obj, dict) or (dense_only and sp.issparse(obj)):
        kind = "dense array" if dense_only else "matrix"
        raise DataError(f"{path}: expected a {kind}, found {type(obj).__name__}")
    want = (obj.shape[0] if rows is None else rows, obj.shape[1] if cols is None else cols)
    if obj.ndim != 2 or obj.shape != want:
        raise DataError(f"{path}: unexpected shape {obj.shape} (expected "
                        f"{'N' if rows is None else rows} x {'K' if cols is None else cols})")
    if min(obj.shape) == 0:
        raise DataError(f"{path}: empty matrix of shape {obj.shape}")
    return obj


class _Files(NamedTuple):
    """The eight files, validated one by one (``test_index`` as a Python list)."""
    x: sp.csr_matrix | np.ndarray
    y: np.ndarray
    tx: sp.csr_matrix | np.ndarray
    ty: np.ndarray
    allx: sp.csr_matrix | np.ndarray
    ally: np.ndarray
    graph: dict
    test_index: list


def read_planetoid_files(name: str, directory, allow_modified: bool = False) -> _Files:
    """The eight files of ``directory``: hash-checked (published datasets, unless
    ``allow_modified``), parsed without running code, each validated on its own."""
    files = planetoid_files(name, directory)
    raw = {s: _read(files[s]) for s in PLANETOID_SUFFIXES}
    if not allow_modified:
        for suffix in PLANETOID_SUFFIXES:
            check_published(name, suffix, raw[suffix], files[suffix])
    values = {s: restricted_value(raw[s], files[s]) for s in PLANETOID_SUFFIXES
              if s != "test.index"}
    return _Files(**{s: values[s] for s in ("x", "y", "tx", "ty", "allx", "ally", "graph")},
                  test_index=parse_test_index(raw["test.index"], files["test.index"]))


def _check_consistent(f: _Files, files: dict) -> tuple[int, int]:
    """Cross-file checks; returns ``(n, num_classes)`` with n = max(test.index) + 1."""
    # allx/ally, the biggest pair, set the sizes; the others are measured against them.
    ally = _matrix(f.ally, files["ally"], dense_only=True)
    classes = ally.shape[1]
    allx = _matrix(f.allx, files["allx"], rows=len(ally))
    features = allx.shape[1]
    if features > MAX_FEATURES:
        raise DataError(f"{files['allx']}: {features} feature columns (at most {MAX_FEATURES})")
    y = _matrix(f.y, files["y"], cols=classes, dense_only=True)
    ty = _matrix(f.ty, files["ty"], cols=classes, dense_only=True)
    if len(y) > len(ally):
        raise DataError(f"{files['y']}: {len(y)} training rows but only {len(ally)} in ally")
    _matrix(f.x, files["x"], rows=len(y), cols=features)
    _matrix(f.tx, files["tx"], rows=len(ty), cols=features)
    index, path = f.test_index, files["test.index"]
    if len(index) != len(ty) or min(index) != len(ally) or len(set(index)) != len(index):
        raise DataError(f"{path}: {len(index)} indices starting at {min(index)} "
                        f"({len(index) - len(set(index))} repeated) do not match {len(ty)} "
                        f"distinct test rows after {len(ally)} others")
    n = max(index) + 1
    # The format's graph has one adjacency list per node 0..n-1 (Kipf & Welling's loader builds
    # the adjacency from it and needs it to line up with the features).  Checking that bounds n
    # by the graph file's size before anything of size n is allocated.
    graph = f.graph
    if n > len(graph):
        raise DataError(f"{path}: test node {n - 1} is beyond the {len(graph)} nodes of "
                        f"{files['graph'].name}")
    if len(graph) != n or min(graph) != 0 or max(graph) != n - 1:
        raise DataError(f"{files['graph']}: {len(graph)} adjacency lists, expected one for each "
                        f"node 0..{n - 1} (max test index + 1 = {n})")
    for node, neighbours in graph.items():
        if neighbours and not 0 <= min(neighbours) <= max(neighbours) < n:
            raise DataError(f"{files['graph']}: node {node} lists a neighbour outside 0..{n - 1}")
    return n, classes


def assemble(name: str, f: _Files, n: int, num_classes: int) -> NodeData:
    """The validated files as ``NodeData`` (Kipf & Welling's preprocessing)."""
    n_all = f.ally.shape[0]
    test_index = np.asarray(f.test_index, np.int64)
    # Row k of tx/ty belongs to node test_index[k] (test.index lists them in file order);
    # nodes in the index range that test.index leaves out (Citeseer) keep all-zero rows.
    targets = np.concatenate([np.arange(n_all), test_index])
    place = sp.csr_matrix((np.ones(len(targets), np.float32), (targets, np.arange(len(targets)))),
                          shape=(n, len(targets)))
    features = place @ sp.vstack([sp.csr_matrix(f.allx), sp.csr_matrix(f.tx)]).astype(np.float32)
    onehot = place @ np.concatenate([f.ally, f.ty]).astype(np.float32)
    labels = np.where(onehot.sum(1) > 0, onehot.argmax(1), -1).astype(np.int32)
    # Row-normalise: D^-1 X (an all-zero row stays zero).
    rowsum = np.asarray(features.sum(1, dtype=np.float64)).ravel()
    features = sp.diags(np.where(rowsum > 0, 1.0 / np.maximum(rowsum, 1e-30), 0.0)) @ features
    features = features.tocoo()
    indices = np.stack([features.row, features.col], 1).astype(np.int32)
    order = np.lexsort((indices[:, 1], indices[:, 0]))
    nodes = sparse.BCOO((jnp.asarray(features.data[order], jnp.float32),
                         jnp.asarray(indices[order])),
                        shape=features.shape, indices_sorted=True, unique_indices=True)
    edges = [(s, r) for s, nbrs in f.graph.items() for r in nbrs]
    n_train = f.y.shape[0]
    return NodeData(name, graph_from_edges(n, edges, nodes), labels,
                    np.arange(n_train, dtype=np.int32),
                    np.arange(n_train, min(n_train + NUM_VAL, n_all), dtype=np.int32),
                    np.sort(test_index).astype(np.int32), int(num_classes))


def load_planetoid(name: str, data_dir=None, download: bool = False,
                   url: str = PLANETOID_URL, allow_modified: bool = False) -> NodeData:
    """Cora / Citeseer (or any dataset in the ``ind.*`` format) with the standard split.

    Features are row-normalised (each row sums to 1, as both papers preprocess them) and
    stored sparse (BCOO).  Where ``test.index`` skips nodes (Citeseer has 15 isolated nodes
    outside every split), those nodes get zero features and label -1, as the standard loaders
    give them all-zero rows.  Files of a published dataset must be the published bytes unless
    ``allow_modified``; every file is validated before use (module docstring).
    """
    directory = find_planetoid(name, data_dir, download, url)
    files = planetoid_files(name, directory)
    try:
        f = read_planetoid_files(name, directory, allow_modified)
        n, num_classes = _check_consistent(f, files)
        return assemble(name, f, n, num_classes)
    except (MemoryError, OverflowError) as e:
        raise DataError(f"{directory}: ind.{name}.* too large to load "
                        f"({_first_line(e)})") from None


DATASETS = ("karate",) + PLANETOID_NAMES


def load(name: str, data_dir=None, download: bool = False,
         allow_modified: bool = False) -> NodeData:
    """Any dataset by name: ``karate`` (built in) or a Planetoid name (``load_planetoid``)."""
    if name == "karate":
        return karate_club()
    if name not in PLANETOID_NAMES:
        raise DataError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return load_planetoid(name, data_dir, download, allow_modified=allow_modified)
