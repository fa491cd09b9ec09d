"""Every node-classification dataset by name: ``load(name)`` and ``DATASETS``.

``karate`` is built in (``rnn_gnn.graph.karate``); Cora and Citeseer are Planetoid files, found
and checked as ``rnn_gnn.graph.download`` and ``rnn_gnn.graph.planetoid`` describe.
"""

from __future__ import annotations

from rnn_gnn.errors import DataError
from rnn_gnn.graph.download import PLANETOID_NAMES
from rnn_gnn.graph.graphs import NodeData
from rnn_gnn.graph.karate import karate_club
from rnn_gnn.graph.planetoid import load_planetoid

__all__ = ["DATASETS", "NodeData", "load"]

DATASETS = ("karate",) + PLANETOID_NAMES


def load(name: str, data_dir=None, download: bool = False,
         allow_modified: bool = False) -> NodeData:
    """Any dataset by name: ``karate`` (built in) or a Planetoid name (``load_planetoid``)."""
    if name == "karate":
        return karate_club()
    if name not in PLANETOID_NAMES:
        raise DataError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return load_planetoid(name, data_dir, download, allow_modified=allow_modified)
