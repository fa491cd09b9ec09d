"""Where the tests find the project's read-only data: ``../shared`` beside the clone, passed to
the loaders explicitly (the library itself never looks there)."""

import importlib.util
import sys
from pathlib import Path

import jax
import pytest
from jax.experimental.compilation_cache import compilation_cache

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
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        _EXPERIMENTS[name] = module
    return _EXPERIMENTS[name]


_EXPERIMENTS: dict = {}


@pytest.fixture(scope="module")
def compile_once(tmp_path_factory):
    """JAX's persistent compilation cache for one test module (``pytestmark =
    pytest.mark.usefixtures("compile_once")``): a program its tests compile again (the same
    run trained twice, a resumed run) is compiled once.  The cache lives in the session's
    temporary directory; the previous settings are restored afterwards."""
    old = (jax.config.jax_compilation_cache_dir,
           jax.config.jax_persistent_cache_min_compile_time_secs)
    compilation_cache.reset_cache()
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.getbasetemp() / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    yield
    jax.config.update("jax_compilation_cache_dir", old[0])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", old[1])
    compilation_cache.reset_cache()
