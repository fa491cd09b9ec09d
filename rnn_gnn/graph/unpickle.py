"""Stages 2 and 3 of reading a Planetoid pickle (``rnn_gnn.graph.planetoid``): parse it
without running anything, then validate what it holds before any of it becomes an array.

Unpickling calls whatever the file names, with arguments the file chooses.  The names in
``ALLOWED_GLOBALS`` are the only ones admitted; the NumPy and SciPy ones map to records that just
keep their arguments and state, because ndarray/dtype/csr_matrix ``__setstate__`` would take that
state on trust (object dtypes, out-of-range sparse indices: the C code then reads wild memory).
The records are then checked -- plain numeric dtypes, byte counts that fit the shapes, the full
CSR format check, finite values, adjacency lists of integers -- and only then turned into real
SciPy/NumPy/Python objects.  Every failure is a one-line ``DataError`` naming the file.
"""

from __future__ import annotations

import collections
import io
import math
import pickle

import numpy as np
import scipy.sparse as sp

from rnn_gnn.errors import DataError


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


def first_line(e: BaseException) -> str:
    """An exception as the one line a ``DataError`` message quotes."""
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
        raise DataError(f"{source}: not a readable Planetoid pickle ({first_line(e)})") from None


def restricted_value(raw: bytes, path):
    """Pickle bytes (already read, so that they are the bytes hash-checked) as a validated CSR
    matrix, 2-D array, or dict of adjacency lists."""
    return _value(unpickle_records(raw, path), path)


# ----------------------------------------------------------------------------- validating records

_PLAIN_CODES = {f"{kind}{size}" for kind, sizes in (("b", "1"), ("u", "1248"), ("i", "1248"),
                                                    ("f", "248")) for size in sizes}
_FLOAT32_MAX = float(np.finfo(np.float32).max)


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
