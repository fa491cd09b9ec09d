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

With several processes the same code runs unchanged: ``jax.devices()`` lists every process's
devices, the mesh spans them all, and each process feeds the same replicated state.  A process
joins its job in one of two ways: ``experiments/launch.py`` calls ``jax.distributed.initialize``
with explicit arguments, or, under ``srun`` / ``mpirun``, ``initialize_from_environment`` calls
it with none (JAX then reads the Slurm / Open MPI variables).  Every process computes the same
numbers, but only the main one (``is_main_process``: process 0) draws progress bars and writes
result files and checkpoints.
"""

from __future__ import annotations

import contextlib
import os

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from rnn_gnn.files import is_main_process  # noqa: F401  (process 0 draws bars and writes files)

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


# ----------------------------------------------------------------------------- processes

# Set to 0 to keep a process started by srun / mpirun out of the job: it then runs alone, as
# if started by hand (launch.py sets it, since it joins its job with explicit arguments).
INIT_ENV = "RNN_GNN_DISTRIBUTED"


def environment_process_count(environ=None) -> int:
    """How many processes the environment says this job has: the task count under ``srun``
    (Slurm) or the world size under Open MPI's ``mpirun``; 1 outside both.

    Only the variables JAX's own cluster detection reads count, so that when this says more
    than 1, ``jax.distributed.initialize()`` without arguments can find the job.
    """
    env = os.environ if environ is None else environ
    slurm = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID",
             "SLURM_LOCALID")
    if all(k in env for k in slurm):
        return int(env.get("SLURM_STEP_NUM_TASKS") or env["SLURM_NTASKS"])
    if "OMPI_MCA_orte_hnp_uri" in env and "OMPI_COMM_WORLD_SIZE" in env:
        return int(env["OMPI_COMM_WORLD_SIZE"])
    return 1


def initialize_from_environment(environ=None) -> bool:
    """Join the multi-process job that ``srun`` / ``mpirun`` started this process in:
    ``jax.distributed.initialize()`` with no arguments, when the environment names more than
    one process, this process has not joined a job yet, and ``$RNN_GNN_DISTRIBUTED`` is not
    ``0``.  Call it first, before anything touches a JAX device; returns whether it joined."""
    env = os.environ if environ is None else environ
    if env.get(INIT_ENV) == "0" or jax.distributed.is_initialized():
        return False
    if environment_process_count(env) <= 1:
        return False
    jax.distributed.initialize()
    return True


def use_cpu_cores() -> None:
    """Give the CPU backend one device per core this process may use, so that independent
    programs (the palindrome sweep's lengths) run side by side, one per core.

    XLA:CPU threads one LSTM step's matmuls poorly, but two programs dispatched to two host
    devices do run at once (docs/performance.md).  Call it before anything touches a JAX device;
    afterwards, or when ``jax_num_cpu_devices`` is already set, it changes nothing.
    """
    try:
        if jax.config.jax_num_cpu_devices <= 1:
            jax.config.update("jax_num_cpu_devices", len(os.sched_getaffinity(0)))
    except RuntimeError:  # the backend is already up: keep what it has
        pass


def local_devices(num_devices: int | None = None) -> list:
    """The first ``num_devices`` devices of this process (default: all of them)."""
    devices = jax.local_devices()
    n = len(devices) if num_devices is None else num_devices
    if not 1 <= n <= len(devices):
        raise ValueError(f"asked for {n} devices but only {len(devices)} "
                         f"{devices[0].platform.upper()} device(s) are available")
    return devices[:n]
