"""The engine `dynamics.run`: recording, stopping, minibatches, stochastic objectives, resuming,
and bad input, each against an independent hand-written recurrence or a closed form."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from toymodels import dynamics as D, problems


class Quadratic(problems.AbstractProblem):
    """L = ½ Σ λ_i θ_i²: GD gives θ_k = (1 − ηλ)^k θ_0 in closed form."""

    lam: jax.Array

    def loss(self, params):
        return 0.5 * jnp.sum(self.lam * params**2)

    def init(self, key):
        return jr.normal(key, self.lam.shape)


@pytest.fixture(scope="module")
def quad():
    return Quadratic(jnp.array([0.5, 1.0, 2.0]))


def test_save_records_the_closed_form_states(quad):
    p0 = jnp.array([1.0, -2.0, 0.5])
    lr = 0.3
    traj = D.run(
        quad,
        p0,
        D.GD(learning_rate=lr),
        num_steps=12,
        key=jr.key(0),
        save=D.Save(every=4, fn=lambda k, p, s, loss: {"p": p, "loss": loss, "k": k}),
    )
    ks = np.array([0, 4, 8, 12])
    np.testing.assert_array_equal(traj.save_steps, ks)
    np.testing.assert_array_equal(traj.saved["k"], ks)
    closed = (1 - lr * np.asarray(quad.lam))[None, :] ** ks[:, None] * np.asarray(p0)
    np.testing.assert_allclose(traj.saved["p"], closed, rtol=1e-13)
    np.testing.assert_allclose(
        traj.saved["loss"], 0.5 * np.sum(np.asarray(quad.lam) * closed**2, axis=1), rtol=1e-13
    )
    # the per-step loss is the loss at θ_k for k < num_steps
    steps = np.arange(12)
    th = (1 - lr * np.asarray(quad.lam))[None, :] ** steps[:, None] * np.asarray(p0)
    np.testing.assert_allclose(traj.loss, 0.5 * np.sum(np.asarray(quad.lam) * th**2, 1), rtol=1e-13)
    np.testing.assert_allclose(traj.params, closed[-1], rtol=1e-13)
    assert traj.stop_reason == "completed" and int(traj.stop_step) == 12
    assert traj.stop_reason == D.StopReason.COMPLETED
    assert str(traj.stop_reason) == "completed"


def test_gtol_stops_at_the_first_small_gradient(quad):
    p0 = jnp.array([1.0, 1.0, 1.0])
    lr, gtol = 0.2, 1e-3
    traj = D.run(
        quad, p0, D.GD(learning_rate=lr), num_steps=200, key=jr.key(0), stop=D.Stop(gtol=gtol)
    )
    lam = np.asarray(quad.lam)
    k = np.arange(200)
    gnorm = np.max(np.abs(lam[None] * (1 - lr * lam[None]) ** k[:, None]), axis=1)
    first = int(np.argmax(gnorm < gtol))
    assert traj.stop_reason == "converged" and int(traj.stop_step) == first
    np.testing.assert_allclose(traj.params, (1 - lr * lam) ** first, rtol=1e-12)
    assert np.all(np.isfinite(traj.loss[: first + 1])) and np.all(np.isnan(traj.loss[first + 1 :]))


def test_max_norm_and_loss_bounds_stop_as_diverged(quad):
    p0 = jnp.ones(3)
    lr = 1.5  # η λ = 3 > 2 for λ = 2: |θ_3| grows by 2 per step
    t = D.run(
        quad, p0, D.GD(learning_rate=lr), num_steps=50, key=jr.key(0), stop=D.Stop(max_norm=100.0)
    )
    # θ_k = (-2)^k on the last coordinate: the update at step k leaves the ball when 2^{k+1} > 100
    assert t.stop_reason == "diverged" and int(t.stop_step) == 6
    np.testing.assert_allclose(t.params[2], (-2.0) ** 6)
    t2 = D.run(
        quad,
        p0,
        D.GD(learning_rate=lr),
        num_steps=50,
        key=jr.key(0),
        stop=D.Stop(max_norm=None, loss_ratio=None, max_loss=1e3),
    )
    # loss_k ≈ ½·2·4^k: above 1e3 first at k = 5
    lam = np.asarray(quad.lam)
    losses = np.array([0.5 * np.sum(lam * (1 - lr * lam) ** (2 * k)) for k in range(50)])
    assert int(t2.stop_step) == int(np.argmax(losses > 1e3))
    assert float(t2.loss[int(t2.stop_step)]) > 1e3


def _sgd_reference(problem, p0, lr, key, batch_size, num_steps):
    p = p0
    for k in range(num_steps):
        idx = D.minibatch_indices(
            key=jr.fold_in(key, k), num_samples=problem.num_samples, batch_size=batch_size
        )
        g = jax.grad(problem.batch(idx).loss)(p)
        p = jax.tree.map(lambda a, b: a - lr * b, p, g)
    return p


@pytest.fixture(scope="module")
def regression():
    kx, kp = jr.split(jr.key(3))
    x = jr.normal(kx, (40, 3))
    y = jnp.tanh(x[:, 0] - x[:, 1])
    prob = problems.mlp_regression(x, y, hidden=(5,))
    return prob, prob.init(kp)


def test_minibatches_follow_fold_in_of_the_step(regression):
    prob, p0 = regression
    key = jr.key(7)
    traj = D.run(prob, p0, D.GD(learning_rate=0.1), num_steps=15, key=key, batch_size=8)
    ref = _sgd_reference(prob, p0, 0.1, key, 8, 15)
    for a, b in zip(jax.tree.leaves(traj.params), jax.tree.leaves(ref)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    # Save.fn sees the full-data loss, not the minibatch's
    t2 = D.run(
        prob,
        p0,
        D.GD(learning_rate=0.1),
        num_steps=15,
        key=key,
        batch_size=8,
        save=D.Save(steps=[0, 15], fn=lambda k, p, s, loss: loss),
    )
    np.testing.assert_allclose(t2.saved, [prob.loss(p0), prob.loss(ref)], rtol=1e-12)
    np.testing.assert_allclose(t2.final_loss, prob.loss(ref), rtol=1e-12)


def test_equinox_problem_batches_any_data_pytree():
    x = jr.normal(jr.key(0), (30, 2))
    data = {"x": x, "y": jnp.sin(x[:, 0]), "scale": jnp.asarray(2.0)}

    def loss_fn(model, d):
        return d["scale"] * jnp.mean((jax.vmap(model)(d["x"])[:, 0] - d["y"]) ** 2)

    prob = problems.EquinoxProblem(lambda k: eqx.nn.MLP(2, 1, 4, 1, key=k), loss_fn, data=data)
    assert prob.num_samples == 30
    sub = prob.batch(jnp.array([1, 3]))
    np.testing.assert_array_equal(sub.data["x"], x[jnp.array([1, 3])])
    assert sub.data["scale"] == 2.0
    p0 = prob.init(jr.key(1))
    traj = D.run(prob, p0, D.GD(learning_rate=0.05), num_steps=10, key=jr.key(2), batch_size=6)
    ref = _sgd_reference(prob, p0, 0.05, jr.key(2), 6, 10)
    for a, b in zip(jax.tree.leaves(traj.params), jax.tree.leaves(ref)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    bad = problems.EquinoxProblem(
        lambda k: eqx.nn.MLP(2, 1, 4, 1, key=k), loss_fn, data={"x": x, "y": x[:5, 0]}
    )
    with pytest.raises(ValueError, match="^data:"):
        _ = bad.num_samples


class NoisyTarget(problems.AbstractStochasticProblem):
    """L = ½(θ − c)² with c ~ U(0, 1) redrawn each step; the mean objective is ½(θ − ½)² + 1/24."""

    c: jax.Array = eqx.field(default_factory=lambda: jnp.asarray(0.5))

    def loss(self, params):
        return 0.5 * (params - self.c) ** 2 + jnp.where(self.c == 0.5, 1.0 / 24.0, 0.0)

    def init(self, key):
        return jr.normal(key, ())

    def sample(self, key):
        return NoisyTarget(jr.uniform(key, (), minval=0.0, maxval=1.0))


def test_stochastic_problem_is_resampled_each_step():
    prob, lr, n = NoisyTarget(), 0.1, 30
    traj = D.run(prob, jnp.asarray(2.0), D.GD(learning_rate=lr), num_steps=n, key=jr.key(4))
    p = 2.0
    for k in range(n):
        c = float(prob.sample(jr.split(jr.fold_in(jr.key(4), k))[1]).c)
        p = p - lr * (p - c)
    np.testing.assert_allclose(traj.params, p, rtol=1e-12)
    np.testing.assert_allclose(traj.final_loss, 0.5 * (p - 0.5) ** 2 + 1 / 24, rtol=1e-12)


def test_resume_from_opt_state_continues_the_run(regression):
    prob, p0 = regression
    opt = D.HeavyBall(learning_rate=0.05, momentum=0.9)
    whole = D.run(prob, p0, opt, num_steps=20, key=jr.key(0))
    first = D.run(prob, p0, opt, num_steps=10, key=jr.key(0))
    second = D.run(prob, first.params, opt, num_steps=10, key=jr.key(0), opt_state0=first.opt_state)
    for a, b in zip(jax.tree.leaves(whole.params), jax.tree.leaves(second.params)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_vmap_over_initial_points_and_jit(quad):
    p0s = jnp.stack([jnp.ones(3), 2 * jnp.ones(3)])

    def f(p0):
        return D.run(quad, p0, D.GD(learning_rate=0.1), num_steps=5, key=jr.key(0)).params

    out = jax.jit(jax.vmap(f))(p0s)
    lam = np.asarray(quad.lam)
    np.testing.assert_allclose(out, np.asarray(p0s) * (1 - 0.1 * lam) ** 5, rtol=1e-13)


def test_stop_code_compares_and_names():
    code = D.StopCode(jnp.array([0, 2, 1], jnp.int32))
    np.testing.assert_array_equal(code == "diverged", [False, True, False])
    np.testing.assert_array_equal(code != D.StopReason.COMPLETED, [False, True, True])
    assert list(code.names()) == ["completed", "diverged", "converged"]
    with pytest.raises(ValueError, match="^reason:"):
        code == "exploded"  # noqa: B015
    with pytest.raises(ValueError, match="^reason:"):
        code.reason()


@pytest.mark.usefixtures("own_checks")
def test_bad_input_names_the_argument(quad):
    p0 = jnp.ones(3)
    opt = D.GD(learning_rate=0.1)
    with pytest.raises(TypeError, match="^key:"):
        D.run(quad, p0, opt, num_steps=3, key=0)
    with pytest.raises(TypeError, match="^key:"):
        D.run(quad, p0, opt, num_steps=3, key=None)
    with pytest.raises(ValueError, match="^num_steps:"):
        D.run(quad, p0, opt, num_steps=0, key=jr.key(0))
    with pytest.raises(TypeError, match="^optimizer:"):
        D.run(quad, p0, "sgd", num_steps=3, key=jr.key(0))
    with pytest.raises(ValueError, match="^learning_rate:"):
        D.GD(learning_rate=-1e-3)
    with pytest.raises(ValueError, match="^momentum:"):
        D.HeavyBall(learning_rate=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="^params0:"):
        D.run(quad, jnp.array([1.0, jnp.nan, 0.0]), opt, num_steps=3, key=jr.key(0))
    with pytest.raises(TypeError, match="^batch_size:"):
        D.run(quad, p0, opt, num_steps=3, key=jr.key(0), batch_size=2)
    with pytest.raises(ValueError, match="^save:"):
        D.run(quad, p0, opt, num_steps=3, key=jr.key(0), save=D.Save(steps=[5]))
    with pytest.raises(ValueError, match="^gtol:"):
        D.Stop(gtol=-1.0)
    with pytest.raises(TypeError, match="^problem:"):
        D.run(lambda p: p, p0, opt, num_steps=3, key=jr.key(0))


def test_any_optax_transformation_runs(quad):
    p0 = jnp.ones(3)
    traj = D.run(quad, p0, optax.chain(optax.clip(0.1), optax.sgd(0.5)), num_steps=3, key=jr.key(0))
    p = np.ones(3)
    lam = np.asarray(quad.lam)
    for _ in range(3):
        p = p - 0.5 * np.clip(lam * p, -0.1, 0.1)
    np.testing.assert_allclose(traj.params, p, rtol=1e-13)


def test_optax_lbfgs_gets_its_line_search_arguments(quad):
    """`run` hands `value`, `grad` and `value_fn` to transformations that take them: L-BFGS
    with its zoom line search solves a 3-d quadratic in a few steps."""
    traj = D.run(quad, jnp.array([1.0, -2.0, 0.5]), optax.lbfgs(), num_steps=8, key=jr.key(0))
    assert float(traj.final_loss) < 1e-20


@pytest.mark.parametrize("n, k", [(9, 4), (20, 19)])  # Floyd's draws; jr.choice's
def test_minibatch_indices_are_a_uniform_subset(n, k):
    draws = 20000
    sub = np.asarray(
        jax.jit(jax.vmap(lambda kk: D.minibatch_indices(key=kk, num_samples=n, batch_size=k)))(
            jr.split(jr.key(0), draws)
        )
    )
    assert sub.min() >= 0 and sub.max() < n
    assert all(len(set(r)) == k for r in sub[:2000])  # distinct
    # every index appears with probability k/n, every pair with k(k-1)/(n(n-1))
    inc = np.zeros((draws, n), bool)
    inc[np.arange(draws)[:, None], sub] = True
    p1, p2 = k / n, k * (k - 1) / (n * (n - 1))
    np.testing.assert_allclose(inc.mean(0), p1, atol=4 * np.sqrt(p1 * (1 - p1) / draws))
    pair = (inc[:, :, None] & inc[:, None, :]).mean(0)[np.triu_indices(n, 1)]
    # up to 190 pairs: 5 sigma keeps the chance of a false alarm below 1e-4 (Bonferroni)
    np.testing.assert_allclose(pair, p2, atol=5 * np.sqrt(p2 * (1 - p2) / draws))
    full = np.asarray(D.minibatch_indices(key=jr.key(1), num_samples=6, batch_size=6))
    assert sorted(full.tolist()) == list(range(6))

    with pytest.raises(ValueError, match="^batch_size"):
        D.minibatch_indices(key=jr.key(0), num_samples=3, batch_size=4)
