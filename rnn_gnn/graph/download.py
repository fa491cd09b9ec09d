"""Where the Planetoid files come from, and the published bytes they must be.

In order: an explicit directory (``--data_dir``), the directory in ``$RNN_GNN_PLANETOID``, the
download cache (``$XDG_CACHE_HOME/rnn_gnn/planetoid``, default ``~/.cache/rnn_gnn/planetoid``);
never a path relative to the installed package.  Downloading is opt-in (``download=True``): it
fetches from the Planetoid repository (Yang, Cohen & Salakhutdinov 2016,
https://github.com/kimiyoung/planetoid), checks each file's sha256 and writes it atomically, so
an interrupted download never leaves a half file in the cache.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from rnn_gnn.errors import DataError
from rnn_gnn.files import atomic_write_bytes

PLANETOID_URL = "https://github.com/kimiyoung/planetoid/raw/master/data"
PLANETOID_SUFFIXES = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
PLANETOID_ENV = "RNN_GNN_PLANETOID"

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


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/rnn_gnn/planetoid`` (default ``~/.cache/rnn_gnn/planetoid``)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "rnn_gnn" / "planetoid"


def planetoid_files(name: str, directory) -> dict[str, Path]:
    return {s: Path(directory) / f"ind.{name}.{s}" for s in PLANETOID_SUFFIXES}


def is_complete(name: str, directory) -> bool:
    """Whether ``directory`` holds all eight ``ind.{name}.*`` files."""
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
        if is_complete(name, directory):
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

