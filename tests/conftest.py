"""Where the tests find the project's read-only data: ``../shared`` beside the clone, passed to
the loaders explicitly (the library itself never looks there)."""

import importlib.util
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
PLANETOID = SHARED / "datasets" / "planetoid"
PLANETOID_SUFFIXES = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")


@pytest.fixture(scope="session")
def planetoid_dir() -> Path:
    """The directory of the published Cora and Citeseer files; skips the test without them."""
    missing = [f"ind.{n}.{s}" for n in ("cora", "citeseer") for s in PLANETOID_SUFFIXES
               if not (PLANETOID / f"ind.{n}.{s}").is_file()]
    if missing:
        pytest.skip(f"Planetoid files not found in {PLANETOID} (read-only project data beside "
                    f"the clone, not in the repo; missing {missing[0]})")
    return PLANETOID


ROOT = Path(__file__).resolve().parents[1]


def load_experiment(name: str):
    """The CLI module ``experiments/<name>.py``, imported by path (experiments are scripts, not
    a package), once per test session."""
    if name not in _EXPERIMENTS:
        spec = importlib.util.spec_from_file_location(f"experiments_{name}",
                                                      ROOT / "experiments" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _EXPERIMENTS[name] = module
    return _EXPERIMENTS[name]


_EXPERIMENTS: dict = {}
