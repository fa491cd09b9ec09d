"""Graphs for node classification: Zachary's karate club and the Planetoid citation graphs.

Planetoid (Yang, Cohen & Salakhutdinov 2016; files from https://github.com/kimiyoung/planetoid)
ships each dataset as eight ``ind.{name}.{suffix}`` files, seven of them Python-2 pickles.
Unpickling runs code named by the file, so they are read with a restricted unpickler that
admits exactly the objects those files are made of (``ALLOWED_GLOBALS``); any other reference
is refused before anything is called.  The standard split is Kipf & Welling's: the first
``len(y)`` nodes (20 per class) train, the next 500 validate, the ``test.index`` nodes (1000)
test.

Where the files come from, in order: an explicit directory (``--data-dir``), the directory in
``$RNN_GNN_PLANETOID``, the project's read-only copy ``../shared/datasets/planetoid``, the
download cache (``$XDG_CACHE_HOME/rnn_gnn/planetoid``).  Downloading is opt-in
(``download=True``): it fetches from the Planetoid repository, checks each file's sha256 and
writes it atomically, so an interrupted download never leaves a half file in the cache.
"""

from __future__ import annotations

import collections
import hashlib
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

from rnn_gnn.cli import atomic_write_bytes

PLANETOID_URL = "https://github.com/kimiyoung/planetoid/raw/master/data"
PLANETOID_SUFFIXES = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
PLANETOID_ENV = "RNN_GNN_PLANETOID"
SHARED_PLANETOID = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "planetoid"
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


class DataError(Exception):
    """A data problem the user can fix (missing, corrupt or refused files); one line."""


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

def _allowed_globals() -> dict:
    """The six objects the Planetoid pickles are made of, under the module paths they were
    pickled with (Python 2, old NumPy/SciPy) and their current paths (same objects)."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy < 2
        from numpy.core.multiarray import _reconstruct
    allowed = {
        ("collections", "defaultdict"): collections.defaultdict,
        ("numpy", "dtype"): np.dtype,
        ("numpy", "ndarray"): np.ndarray,
        ("scipy.sparse", "csr_matrix"): sp.csr_matrix,
    }
    for module in ("__builtin__", "builtins"):
        allowed[(module, "list")] = list
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = _reconstruct
    for module in ("scipy.sparse.csr", "scipy.sparse._csr"):
        allowed[(module, "csr_matrix")] = sp.csr_matrix
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


def restricted_load(path) -> object:
    """Unpickle a Planetoid file, admitting only ``ALLOWED_GLOBALS`` (nothing else runs)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return _RestrictedUnpickler(f, encoding="latin1").load()
    except RefusedPickle as e:
        raise RefusedPickle(
            f"{path}: refused to unpickle {e} (a Planetoid file holds only NumPy/SciPy arrays, "
            f"lists and dicts); the file is not a Planetoid file or was tampered with") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not a readable Planetoid pickle "
                        f"({type(e).__name__}: {e})") from None


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
    """The directory holding all eight ``ind.{name}.*`` files (see the module docstring for
    where it looks); downloads into the cache when ``download`` and nothing is found."""
    check_name(name)
    if data_dir is not None:
        candidates = [Path(data_dir)]
    else:
        candidates = [Path(p) for p in [os.environ.get(PLANETOID_ENV)] if p]
        candidates += [SHARED_PLANETOID, cache_dir()]
    for directory in candidates:
        if _complete(name, directory):
            return directory
    target = candidates[0] if data_dir is not None else cache_dir()
    if download:
        return download_planetoid(name, target, url=url)
    missing = next(p for p in planetoid_files(name, candidates[0]).values() if not p.is_file())
    where = (f"{missing}" if data_dir is not None
             else f"{missing.name} in any of {', '.join(str(c) for c in candidates)}")
    raise DataError(f"Planetoid file not found: {where}; pass --data-dir DIR holding the "
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


def _matrix(obj, path, rows=None):
    if sp.issparse(obj):
        obj = sp.csr_matrix((np.asarray(obj.data), np.asarray(obj.indices),
                             np.asarray(obj.indptr)), shape=obj.shape)
    elif not isinstance(obj, np.ndarray):
        raise DataError(f"{path}: expected a matrix, found {type(obj).__name__}")
    if obj.ndim != 2 or (rows is not None and obj.shape[0] != rows):
        raise DataError(f"{path}: unexpected shape {obj.shape}")
    return obj


def load_planetoid(name: str, data_dir=None, download: bool = False,
                   url: str = PLANETOID_URL) -> NodeData:
    """Cora / Citeseer (or any dataset in the ``ind.*`` format) with the standard split.

    Features are row-normalised (each row sums to 1, as both papers preprocess them) and
    stored sparse (BCOO).  Where ``test.index`` skips nodes (Citeseer has 15 isolated nodes
    outside every split), those nodes get zero features and label -1, as the standard loaders
    give them all-zero rows.
    """
    directory = find_planetoid(name, data_dir, download, url)
    files = planetoid_files(name, directory)
    obj = {s: restricted_load(files[s]) for s in PLANETOID_SUFFIXES if s != "test.index"}
    try:
        test_index = np.loadtxt(files["test.index"], dtype=np.int64, ndmin=1)
    except ValueError as e:
        raise DataError(f"{files['test.index']}: expected one integer per line ({e})") from None
    y = _matrix(obj["y"], files["y"])
    x = _matrix(obj["x"], files["x"], rows=len(y))
    allx = _matrix(obj["allx"], files["allx"])
    ally = _matrix(obj["ally"], files["ally"], rows=allx.shape[0])
    ty = _matrix(obj["ty"], files["ty"])
    tx = _matrix(obj["tx"], files["tx"], rows=len(ty))
    graph = obj["graph"]
    if not isinstance(graph, dict) or not all(isinstance(v, list) for v in graph.values()):
        raise DataError(f"{files['graph']}: expected a dict of adjacency lists")
    if len(test_index) != len(ty) or test_index.min() != allx.shape[0]:
        raise DataError(f"{files['test.index']}: {len(test_index)} indices starting at "
                        f"{test_index.min()} do not match {len(ty)} test rows after "
                        f"{allx.shape[0]} others")
    # Row k of tx/ty belongs to node test_index[k] (test.index lists them in file order);
    # nodes in the index range that test.index leaves out (Citeseer) keep all-zero rows.
    n = int(test_index.max()) + 1
    targets = np.concatenate([np.arange(allx.shape[0]), test_index])
    place = sp.csr_matrix((np.ones(len(targets), np.float32), (targets, np.arange(len(targets)))),
                          shape=(n, len(targets)))
    features = place @ sp.vstack([allx, tx]).astype(np.float32)
    onehot = place @ np.concatenate([ally, ty]).astype(np.float32)
    labels = np.where(onehot.sum(1) > 0, onehot.argmax(1), -1).astype(np.int32)
    # Row-normalise: D^-1 X (an all-zero row stays zero).
    rowsum = np.asarray(features.sum(1)).ravel()
    features = sp.diags(np.where(rowsum > 0, 1.0 / np.maximum(rowsum, 1e-30), 0.0)) @ features
    features = features.tocoo()
    indices = np.stack([features.row, features.col], 1).astype(np.int32)
    order = np.lexsort((indices[:, 1], indices[:, 0]))
    nodes = sparse.BCOO((jnp.asarray(features.data[order], jnp.float32),
                         jnp.asarray(indices[order])),
                        shape=features.shape, indices_sorted=True, unique_indices=True)
    edges = [(int(s), int(r)) for s, nbrs in graph.items() for r in nbrs]
    if any(not 0 <= v < n for e in edges for v in e):
        raise DataError(f"{files['graph']}: node index outside 0..{n - 1}")
    return NodeData(name, graph_from_edges(n, edges, nodes), labels,
                    np.arange(len(y), dtype=np.int32),
                    np.arange(len(y), min(len(y) + NUM_VAL, allx.shape[0]), dtype=np.int32),
                    np.sort(test_index).astype(np.int32), int(y.shape[1]))


DATASETS = ("karate",) + PLANETOID_NAMES


def load(name: str, data_dir=None, download: bool = False) -> NodeData:
    """Any dataset by name: ``karate`` (built in) or a Planetoid name."""
    if name == "karate":
        return karate_club()
    if name not in PLANETOID_NAMES:
        raise DataError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return load_planetoid(name, data_dir, download)
