"""Cora and Citeseer (or any dataset in the Planetoid ``ind.*`` format) as ``NodeData``.

Planetoid (Yang, Cohen & Salakhutdinov 2016) ships each dataset as eight ``ind.{name}.{suffix}``
files, seven of them Python-2 pickles.  The standard split is Kipf & Welling's: the first
``len(y)`` nodes (20 per class) train, the next 500 validate, the ``test.index`` nodes (1000) test.

The files are untrusted input, read in three stages so that nothing in them reaches code that
trusts its input:

1. For the published datasets (Cora, Citeseer) every file's sha256 is checked before it is
   parsed; a modified copy is refused unless the caller passes ``allow_modified=True``
   (``ALLOW_MODIFIED_FLAG`` on the command line).
2. The pickles are parsed by a restricted unpickler that admits only the names the files are
   made of and maps the NumPy/SciPy ones to inert records (``rnn_gnn.graph.unpickle``).
3. The records are validated, each file on its own (``unpickle``), then across the eight
   files here -- shapes consistent, adjacency lists naming exactly the nodes 0..n-1 -- and only
   then assembled.  Every failure, ``MemoryError`` and ``OverflowError`` included, is a
   one-line ``DataError`` naming the file.

Where the files are found or fetched: ``rnn_gnn.graph.download``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jax.experimental import sparse

from rnn_gnn.errors import DataError
from rnn_gnn.graph.download import (PLANETOID_SHA256, PLANETOID_SUFFIXES, PLANETOID_URL,
                                    find_planetoid, planetoid_files)
from rnn_gnn.graph.graphs import NodeData, graph_from_edges
from rnn_gnn.graph.unpickle import first_line, restricted_value

ALLOW_MODIFIED_FLAG = "--allow_modified"  # the CLI flag for ``allow_modified=True``
NUM_VAL = 500
# Far more bag-of-words columns than any citation dataset has (Citeseer: 3703); the first
# layer's weights grow with it, so a crafted width would exhaust memory far from here.
MAX_FEATURES = 1 << 20


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
                        f"({first_line(e)})") from None
