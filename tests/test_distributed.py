"""Data parallelism (rnn_gnn.distributed): 8 forced CPU devices train like one device.

The 8-device run needs XLA_FLAGS set before JAX starts, so it runs in a subprocess: this file's
``__main__`` trains the same tiny palindrome sweep on 1 device and on a mesh of 8, computes the
character LSTM's loss and gradients both ways, and prints it all as JSON; the tests compare.
The in-process tests need only one device.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from rnn_gnn import distributed

STEPS, DEVICES = 16, 8


@pytest.fixture(scope="module")
def eight_devices(tmp_path_factory):
    dump = tmp_path_factory.mktemp("hlo")
    # The optimised HLO of every compiled program is dumped, so the test can look for the
    # all-reduce without compiling anything twice; optimisation level 0 halves compile time.
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=(
        f"--xla_force_host_platform_device_count={DEVICES} --xla_backend_optimization_level=0 "
        f"--xla_dump_to={dump} --xla_dump_hlo_as_text"))
    done = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    chunks = [f.read_text() for f in dump.glob("*jit_chunk*after_optimizations.txt")]
    result["chunks_with_all_reduce"] = sum("all-reduce" in hlo for hlo in chunks)
    result["chunks"] = len(chunks)
    return result


def test_loss_trajectory_matches_single_device(eight_devices):
    one, many = eight_devices["1"], eight_devices[str(DEVICES)]
    assert many["devices"] == DEVICES and one["devices"] == 1
    assert np.isfinite(one["loss"]).all() and np.ptp(one["loss"]) > 0  # it trained
    np.testing.assert_allclose(many["loss"], one["loss"], rtol=1e-5)  # measured: 3e-7
    np.testing.assert_allclose(many["accuracy"], one["accuracy"], atol=1e-6)
    for a, b in zip(many["params"], one["params"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=5e-5)  # measured: 2e-6 at most


def test_gradients_are_not_multiplied_by_device_count(eight_devices):
    """The classic data-parallel bug: summing per-device mean-gradients gives N x the gradient."""
    ratio = (np.array(eight_devices[str(DEVICES)]["grad_norm"])
             / np.array(eight_devices["1"]["grad_norm"]))
    assert np.allclose(ratio, 1.0, rtol=1e-4), \
        f"gradient norm is {ratio.mean():.3f}x the single-device one with {DEVICES} devices"


def test_really_data_parallel(eight_devices):
    """The batch is split (an all-reduce combines gradients) and the state stays replicated."""
    # One training program per length (2) on one device and on the mesh: only the mesh's have
    # a collective.
    assert eight_devices["chunks"] == 4 and eight_devices["chunks_with_all_reduce"] == 2
    assert eight_devices[str(DEVICES)]["state_sharding"] == "replicated"


def test_text_loss_and_gradients_match_single_device(eight_devices):
    """The character LSTM's loss (random windows and dropout drawn in the step) on 8 devices."""
    one, many = eight_devices["text1"], eight_devices[f"text{DEVICES}"]
    np.testing.assert_allclose(many["loss"], one["loss"], rtol=1e-5)
    ratio = np.array(many["grad_norm"]) / np.array(one["grad_norm"])
    assert np.allclose(ratio, 1.0, rtol=1e-4), f"text gradients {ratio}x the single-device ones"
    for a, b in zip(many["grads"], one["grads"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_shard_batch_without_mesh_is_identity():
    x = {"inputs": jnp.arange(12.0).reshape(4, 3), "n": jnp.float32(2.0)}
    assert distributed.shard_batch(x) is x
    out = jax.jit(distributed.shard_batch)(x)
    np.testing.assert_array_equal(out["inputs"], x["inputs"])


def test_shard_batch_on_one_device_mesh_keeps_values():
    mesh = distributed.make_mesh(1)
    with distributed.using(mesh):
        out = jax.jit(lambda x: distributed.shard_batch(x) * 2)(jnp.arange(6.0))
    np.testing.assert_array_equal(out, 2 * jnp.arange(6.0))


def test_make_mesh():
    mesh = distributed.make_mesh()
    assert mesh.axis_names == (distributed.AXIS,) and mesh.devices.size == len(jax.devices())
    with pytest.raises(ValueError, match="only"):
        distributed.make_mesh(len(jax.devices()) + 1)
    with pytest.raises(ValueError):
        distributed.make_mesh(0)


def test_replicate_without_mesh_is_identity():
    tree = {"a": jnp.ones(3)}
    assert distributed.replicate(tree, None) is tree


# ----------------------------------------------------------------------------- subprocess side

def _run(num_devices: int) -> dict:
    from rnn_gnn.palindrome import Config, train_sweep

    cfg = Config(model_type="rnn", num_hidden=8, batch_size=32, train_steps=STEPS,
                 learning_rate=1e-2, eval_batch=64)
    lengths, seeds = [4, 7], [0]
    mesh = distributed.make_mesh(num_devices) if num_devices > 1 else None
    state, history, final = train_sweep(cfg, lengths, seeds, log_every=STEPS, progress=False,
                                        mesh=mesh)
    out = {"devices": 1 if mesh is None else mesh.devices.size,
           "loss": history["loss"].tolist(), "grad_norm": history["grad_norm"].tolist(),
           "accuracy": final["accuracy"].tolist(),
           "params": [np.asarray(p).tolist() for p in jax.tree_util.tree_leaves(state.params)]}
    if mesh is not None:
        replicated = all(p.sharding.is_fully_replicated and len(p.sharding.device_set) == DEVICES
                         for p in jax.tree_util.tree_leaves(state))
        out["state_sharding"] = "replicated" if replicated else "not replicated"
    return out


def _text(num_devices: int) -> dict:
    """Loss and gradients of the character LSTM (2 layers, dropout) on one batch."""
    from rnn_gnn.text.model import init_params, make_loss
    params = init_params(jax.random.PRNGKey(0), 7, num_hidden=8, num_layers=2)
    data = jax.random.randint(jax.random.PRNGKey(1), (500,), 0, 7)
    loss_fn = make_loss(batch_size=16, seq_length=6, dropout=0.5)
    mesh = distributed.make_mesh(num_devices) if num_devices > 1 else None
    params, data = distributed.replicate((params, data), mesh)
    with distributed.using(mesh):
        (loss, _), grads = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))(
            params, jax.random.PRNGKey(2), data)
    leaves = jax.tree_util.tree_leaves(grads)
    return {"loss": float(loss), "grad_norm": float(optax.global_norm(grads)),
            "grads": [np.asarray(g).tolist() for g in leaves]}


if __name__ == "__main__":
    print(json.dumps({**{str(n): _run(n) for n in (1, DEVICES)},
                      **{f"text{n}": _text(n) for n in (1, DEVICES)}}))
