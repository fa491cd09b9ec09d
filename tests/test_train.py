"""The one training loop: optimizers by name, clipping, determinism, NaN guard, checkpoints,
and real short training runs of both Part 1 models."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from rnn_gnn import checkpoint, optimizers as O, palindrome as P, train as T


def quadratic(params, key, task):
    del key, task
    return jnp.sum((params["w"] - 3.0) ** 2), {}


@pytest.mark.parametrize("name", sorted(O.OPTIMIZERS))
def test_every_optimizer_minimises_a_quadratic(name):
    lr = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 1.0}.get(name, 0.1)
    opt = O.make_optimizer(name, lr)
    state = T.init_state({"w": jnp.zeros(4)}, opt, jax.random.PRNGKey(0))
    state, history = T.train(quadratic, opt, state, 200, log_every=50, progress=False)
    chex.assert_shape(history["loss"], (200,))
    np.testing.assert_array_equal(history["step"], np.arange(1, 201))
    assert history["loss"][-1] < 1e-2 * history["loss"][0]


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="unknown optimizer"):
        O.make_optimizer("lbfgs-ish", 0.1)


def test_clipping_bounds_the_update_and_records_the_raw_norm():
    def steep(params, key, task):
        return 1000.0 * jnp.sum(params["w"]), {}
    opt = O.make_optimizer("sgd", 1.0, max_norm=2.0)
    state = T.init_state({"w": jnp.zeros(4)}, opt, jax.random.PRNGKey(0))
    state, metrics = T.make_step(steep, opt)(state)
    np.testing.assert_allclose(float(metrics["grad_norm"]), 2000.0, rtol=1e-6)
    np.testing.assert_allclose(float(jnp.linalg.norm(state.params["w"])), 2.0, rtol=1e-6)


def test_weight_decay_is_l2_on_the_gradient():
    opt = O.make_optimizer("sgd", 0.5, weight_decay=0.1)
    params = {"w": jnp.ones(3)}
    updates, _ = opt.update({"w": jnp.zeros(3)}, opt.init(params), params)
    chex.assert_trees_all_close(updates["w"], -0.5 * 0.1 * jnp.ones(3))


# A program compiled again here (the same sweep twice, a resumed run) comes from JAX's
# persistent cache: the tests compare numbers, not compilations.
pytestmark = pytest.mark.usefixtures("compile_once")


def _sweep_cfg(**kw):
    return P.Config(**dict(dict(num_hidden=16, batch_size=32, train_steps=60), **kw))


LENGTHS, SEEDS = [4, 6], [0, 1]


@pytest.fixture(scope="module")
def lstm_sweep():
    """``(history, final)`` of one LSTM sweep over LENGTHS x SEEDS, which the tests below
    compare with other ways of training the same runs."""
    _, history, final = P.train_sweep(_sweep_cfg(model_type="lstm"), LENGTHS, SEEDS,
                                      log_every=30, progress=False)
    return history, final


def test_same_seed_same_numbers_and_vmap_equals_single_runs(lstm_sweep):
    cfg = _sweep_cfg(model_type="lstm")
    h1, f1 = lstm_sweep
    _, h2, f2 = P.train_sweep(cfg, LENGTHS, SEEDS, log_every=30, progress=False)
    chex.assert_trees_all_equal((h1, f1), (h2, f2))
    # a run inside the sweep equals the same run trained alone (up to float reassociation)
    _, h3, _ = P.train_sweep(cfg, [6], [1], log_every=30, progress=False)
    chex.assert_trees_all_close(h3["loss"][0, 0], h1["loss"][1, 1], rtol=1e-4, atol=1e-4)


def test_non_finite_loss_stops_before_the_callback():
    def explode(params, key, task):
        return jnp.where(params["w"][0] > 5.0, jnp.nan, jnp.sum(params["w"])), {}
    opt = O.make_optimizer("sgd", -1.0)  # climbs: w grows by 1 each step
    state = T.init_state({"w": jnp.zeros(2)}, opt, jax.random.PRNGKey(0))
    seen = []
    with pytest.raises(T.NonFiniteLoss) as err:
        T.train(explode, opt, state, 20, log_every=4, progress=False,
                callback=lambda s, h: seen.append(int(s.step)))
    assert err.value.step == 7 and "step 7" in str(err.value)
    assert seen == [4]


def test_checkpoint_resume_equals_uninterrupted(tmp_path):
    cfg = _sweep_cfg(model_type="rnn")
    loss_fn = P.make_loss(P.model_apply(cfg), cfg.batch_size, 1, 6)
    state0, opt = P.init_sweep(cfg, [6], [0])
    lengths = jnp.array([6])
    full, _ = T.train(loss_fn, opt, state0, 40, task=lengths, log_every=10, vmapped=True,
                      progress=False)
    state0, _ = P.init_sweep(cfg, [6], [0])  # the first state was donated
    T.train(loss_fn, opt, state0, 20, task=lengths, log_every=10, vmapped=True, progress=False,
            callback=checkpoint.checkpointer(tmp_path, 10))
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == [
        "ckpt-000000010.msgpack", "ckpt-000000020.msgpack"]
    fresh, _ = P.init_sweep(cfg, [6], [0])
    restored, meta = checkpoint.restore_or(fresh, tmp_path)
    assert meta["step"] == 20
    resumed, _ = T.train(loss_fn, opt, restored, 40, task=lengths, log_every=10, vmapped=True,
                         progress=False)
    chex.assert_trees_all_equal(jax.device_get(resumed), jax.device_get(full))


def test_checkpoint_detects_damage(tmp_path):
    tree = {"a": np.arange(5.0), "b": {"c": np.ones((2, 3))}}
    path = checkpoint.save(tmp_path / "x.msgpack", tree, {"vocab": ["a", "b"]})
    restored, meta = checkpoint.load(path, target=tree)
    chex.assert_trees_all_equal(restored, tree)
    assert meta == {"vocab": ["a", "b"]}
    data = path.read_bytes()
    path.write_bytes(data[:-3])
    with pytest.raises(checkpoint.CheckpointError, match="truncated or corrupted"):
        checkpoint.load(path)
    path.write_bytes(data[:40] + bytes([data[40] ^ 1]) + data[41:])
    with pytest.raises(checkpoint.CheckpointError, match="truncated or corrupted"):
        checkpoint.load(path)
    path.write_bytes(b"\x80\x04pickle")
    with pytest.raises(checkpoint.CheckpointError, match="not an rnn_gnn checkpoint"):
        checkpoint.load(path)
    path.write_bytes(data)
    with pytest.raises(checkpoint.CheckpointError, match="shape"):
        checkpoint.load(path, target={"a": np.arange(4.0), "b": {"c": np.ones((2, 3))}})


@pytest.mark.parametrize("model", ["rnn", "lstm"])
def test_both_models_learn_length_5(model):
    """Real training: >= 0.99 accuracy on fresh T = 5 palindromes within 400 steps."""
    cfg = P.Config(model_type=model, input_dim=10, num_hidden=32, batch_size=64,
                   learning_rate=3e-3, train_steps=400)
    _, history, final = P.train_sweep(cfg, [5], [0], log_every=200, progress=False)
    assert final["accuracy"].min() >= 0.99, final
    assert history["loss"][0, 0, -20:].mean() < 0.1


def test_average_params_is_the_warmed_up_moving_average_and_changes_nothing_else():
    params = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(0.5)}
    plain = O.make_optimizer("adam", 0.1, 5.0)
    avg = O.make_optimizer("adam", 0.1, 5.0, average_decay=0.9)
    p1, s1, p2, s2 = params, plain.init(params), params, avg.init(params)
    chex.assert_trees_all_equal(optax.tree_utils.tree_get(s2, "average"), params)
    want = jax.tree_util.tree_map(np.asarray, params)
    for t in range(30):
        grads = jax.tree_util.tree_map(lambda x: x ** 3 - t * 0.1, p1)
        u1, s1 = plain.update(grads, s1, p1)
        u2, s2 = avg.update(grads, s2, p2)
        p1, p2 = optax.apply_updates(p1, u1), optax.apply_updates(p2, u2)
        d = min(0.9, (1 + t) / (10 + t))
        want = jax.tree_util.tree_map(lambda a, p: d * a + (1 - d) * np.asarray(p), want, p1)
    chex.assert_trees_all_equal(p2, p1)                          # training is untouched
    state = T.TrainState(jnp.array(30), p2, s2, jax.random.PRNGKey(0))
    chex.assert_trees_all_close(O.averaged(state), want, rtol=1e-5)
    assert not np.allclose(O.averaged(state)["w"], p2["w"])
    no_avg = T.TrainState(jnp.array(30), p1, s1, jax.random.PRNGKey(0))
    chex.assert_trees_all_equal(O.averaged(no_avg), p1)  # nothing kept: the weights


def _scaled_quadratic(params, key, task):
    """loss = task * |w|^2: with SGD 0.1, w <- w (1 - 0.2 task); task 100 blows up (x -19 a step)."""
    return task * jnp.sum(params["w"] ** 2), {}


def _quadratic_runs(tasks):
    opt = O.make_optimizer("sgd", 0.1)
    state = jax.vmap(lambda k: T.init_state({"w": jnp.ones(3)}, opt, k))(
        jax.random.split(jax.random.PRNGKey(0), len(tasks)))
    return opt, state, jnp.array(tasks, jnp.float32)


def test_a_diverging_run_is_frozen_and_the_others_are_unchanged():
    opt, state, tasks = _quadratic_runs([0.1, 100.0, 0.3])
    state, history = T.train(_scaled_quadratic, opt, state, 60, task=tasks, log_every=20,
                             vmapped=True, progress=False)
    gone = T.diverged_at(history)
    assert gone[0] == 0 and gone[2] == 0
    assert 10 < gone[1] < 40            # the loss 300 * 19^(2k) overflows float32 near k = 16
    assert not history["finite"][1, gone[1] - 1:].any() and history["finite"][1, :gone[1] - 1].all()
    chex.assert_tree_all_finite(state.params)           # frozen at its last finite state
    assert int(state.step[1]) == 60                     # the sweep's step count goes on
    for i in (0, 2):                                    # the others: exactly as if alone
        o, alone, t = _quadratic_runs([float(tasks[i])])
        alone, h = T.train(_scaled_quadratic, o, alone, 60, task=t, log_every=20, vmapped=True,
                           progress=False)
        np.testing.assert_array_equal(np.asarray(state.params["w"][i]),
                                      np.asarray(alone.params["w"][0]))
        np.testing.assert_array_equal(history["loss"][i], h["loss"][0])


def test_a_sweep_whose_every_run_diverged_raises_with_the_last_good_state():
    opt, state, tasks = _quadratic_runs([100.0, 200.0])
    with pytest.raises(T.NonFiniteLoss) as err:
        T.train(_scaled_quadratic, opt, state, 100, task=tasks, log_every=10, vmapped=True,
                progress=False)
    assert 10 < err.value.step < 40
    chex.assert_tree_all_finite(err.value.state.params)


def test_grouped_sweep_equals_the_padded_program(lstm_sweep):
    """One program per length (the default) gives each run the numbers of the padded, masked
    program that trains every length at once (same batches, up to float reassociation)."""
    cfg = _sweep_cfg(model_type="lstm")
    lengths, seeds, (grouped, _) = LENGTHS, SEEDS, lstm_sweep
    state, opt = P.init_sweep(cfg, lengths, seeds)
    loss_fn = P.make_loss(P.model_apply(cfg), cfg.batch_size, cfg.input_dim, max(lengths))
    _, padded = T.train(loss_fn, opt, state, cfg.train_steps, log_every=30, vmapped=True,
                        task=jnp.array([t for t in lengths for _ in seeds]), progress=False)
    chex.assert_trees_all_close(grouped["loss"].reshape(4, -1), padded["loss"],
                                rtol=1e-4, atol=1e-5)
    assert grouped["loss"].shape == (2, 2, cfg.train_steps)


def test_plan_spreads_lengths_over_devices_by_work():
    parts = P.plan([5, 10, 15, 20], [0, 1], ["d0", "d1"])
    load = {d: sum((p.length - 1) * len(p.runs) for p in parts if p.device == d)
            for d in ("d0", "d1")}
    assert sorted(np.concatenate([p.runs for p in parts]).tolist()) == list(range(8))
    assert abs(load["d0"] - load["d1"]) <= 2
    # fewer lengths than devices: a length's seeds are split
    parts = P.plan([9], [0, 1, 2, 3], ["d0", "d1"])
    assert sorted(p.device for p in parts) == ["d0", "d1"]
    assert sorted(len(p.runs) for p in parts) == [2, 2]


def test_init_runs_stacks_each_keys_own_run():
    """A stacked run is the run its key makes alone: the same params and batch key."""
    opt = O.make_optimizer("adam", 0.1)
    init = lambda key: {"w": jax.random.normal(key, (3,))}
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    stacked = T.init_runs(init, opt, keys)
    chex.assert_shape([stacked.step, stacked.params["w"]], [(3,), (3, 3)])
    for r in range(3):
        chex.assert_trees_all_equal(P.take(stacked, r), T.init_run(init, opt, keys[r]))
    assert not np.allclose(stacked.params["w"][0], stacked.params["w"][1])


def test_make_trainer_is_the_program_the_sweep_trains():
    """The benchmark's path (make_trainer, make_chunk, init on the run's key) trains the
    numbers train_sweep gives the same run."""
    cfg = _sweep_cfg(model_type="rnn", train_steps=20)
    trainer = P.make_trainer(cfg, 6)
    chunk = T.make_chunk(trainer.loss_fn, trainer.optimizer, 20)
    _, metrics = chunk(trainer.init(P.run_key(0, 6)), trainer.task)
    _, history, _ = P.train_sweep(cfg, [6], [0], log_every=20, progress=False)
    chex.assert_trees_all_close(metrics["loss"], history["loss"][0, 0], rtol=1e-5, atol=1e-6)


def test_a_length_listed_twice_is_one_program():
    parts = P.plan([7, 7, 5], [0, 1], [None])
    assert sorted((p.length, tuple(p.runs)) for p in parts) == [(5, (4, 5)), (7, (0, 1, 2, 3))]
