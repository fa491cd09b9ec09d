"""Data parallelism over devices (and processes) with ``jax.sharding``.

Every task draws its batch inside the jitted step from a key, so the global batch and its
random numbers do not depend on how many devices run it.  Training on a mesh therefore needs
only two things:

1. the state (params, optimizer state, key) is replicated on every device of the mesh
   (``replicate``), and
2. the batch's leading axis is constrained to be split over the mesh's ``"data"`` axis
   (``shard_batch``, one line in each task's loss).

XLA's partitioner (GSPMD) then runs each device on its slice of the batch and inserts the
all-reduce that combines the per-device gradient contributions.  Because the loss is still
the mean over the *global* batch, the gradient is exactly the single-device one: it cannot
come out N times too large (the classic pitfall of summing per-device mean-gradients), and
the tests check that explicitly.

With several processes (``jax.distributed.initialize``, see ``experiments/launch.py``) the
same code runs unchanged: ``jax.devices()`` lists every process's devices, the mesh spans them
all, and each process feeds the same replicated state.
"""

from __future__ import annotations

import contextlib

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

AXIS = "data"


def make_mesh(num_devices: int | None = None) -> Mesh:
    """A 1-D mesh with axis ``"data"`` over the first ``num_devices`` devices (default: all).

    With several processes ``jax.devices()`` spans all of them, so the default is the whole job.
    The axis is ``Auto`` (GSPMD decides the layout of everything not constrained).
    """
    devices = jax.devices()
    n = len(devices) if num_devices is None else num_devices
    if not 1 <= n <= len(devices):
        raise ValueError(f"asked for {n} devices but only {len(devices)} "
                         f"{devices[0].platform.upper()} device(s) are available")
    return Mesh(np.array(devices[:n]), (AXIS,), axis_types=(AxisType.Auto,))


def shard_batch(batch):
    """Split the leading (batch) axis of every array in ``batch`` over the active mesh.

    Identity when no mesh with a ``"data"`` axis is active (single-device runs, evaluation
    outside ``using``); call it inside the jitted loss right after drawing the batch.
    """
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or AXIS not in mesh.axis_names:
        return batch
    spec = PartitionSpec(AXIS)
    return jax.tree_util.tree_map(
        lambda x: jax.lax.with_sharding_constraint(x, spec) if np.ndim(x) else x, batch)


def replicate(tree, mesh: Mesh | None):
    """``tree`` placed whole on every device of ``mesh`` (unchanged when ``mesh`` is None)."""
    if mesh is None:
        return tree
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def using(mesh: Mesh | None):
    """Context in which ``shard_batch`` sees ``mesh``; a no-op for ``None``.  Trace (first
    call) the jitted step inside it."""
    return contextlib.nullcontext() if mesh is None else jax.set_mesh(mesh)


# ----------------------------------------------------------------------------- CLI glue

def add_devices_flag(parser) -> None:
    """``--devices N``: the same flag, with the same meaning, in every training CLI."""
    from rnn_gnn.cli import positive
    parser.add_argument("--devices", type=positive(int),
                        help="split each batch over the first N devices (default: all; "
                             "the numbers do not depend on N)")


def mesh_from_flag(num_devices: int | None) -> Mesh | None:
    """The mesh for ``--devices`` (``None``, the plain single-device path, for one device);
    ``UsageError`` when more devices are asked for than exist."""
    from rnn_gnn.cli import UsageError
    try:
        mesh = make_mesh(num_devices)
    except ValueError as e:
        raise UsageError(f"--devices: {e}") from None
    return mesh if mesh.devices.size > 1 else None
