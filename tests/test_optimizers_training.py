"""Discrete training in lax.scan: stability edges on quadratics, optax references, SGD keys,
recorded params and sharpness, the scalar-factorization edge-of-stability values."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from derivations import optimizer_stability as theory
from toymodels import dynamics as D, landscape, problems


class Quadratic(problems.AbstractProblem):
    """L(θ) = ½ θᵀAθ."""

    a: jax.Array

    def loss(self, params):
        return 0.5 * params @ self.a @ params

    def init(self, key):
        return jr.normal(key, (self.a.shape[0],), self.a.dtype)


@pytest.fixture(scope="module")
def quadratic():
    a = jr.normal(jr.key(3), (5, 5))
    a = a @ a.T / 5 + 0.1 * jnp.eye(5)
    return Quadratic(a=a), float(jnp.linalg.eigvalsh(a)[-1])


@pytest.mark.parametrize(
    "make, beta, steps",
    [
        (lambda lr, b: D.gd(lr), 0.0, 6000),
        (lambda lr, b: D.heavy_ball(lr, b), 0.9, 30000),
        (lambda lr, b: D.nesterov(lr, b), 0.6, 20000),
        (lambda lr, b: D.ema_momentum(lr, b), 0.5, 20000),
    ],
    ids=["gd", "heavy_ball", "nesterov", "ema_momentum"],
)
def test_training_diverges_iff_above_edge(quadratic, make, beta, steps):
    """Acceptance: the real optimizer on a quadratic diverges iff ηλ_max exceeds 2, 2(1+β),
    (2+2β)/(1+2β), 2(1+β)/(1−β) — checked at ±0.1% of the SymPy edge."""
    prob, lam = quadratic
    method = make(1.0, beta).method
    edge = {
        D.Method.GD: float(theory.gd_edge()),
        D.Method.HEAVY_BALL: float(theory.heavy_ball_edge(beta)),
        D.Method.NESTEROV: float(theory.nesterov_edge(beta)),
        D.Method.EMA_MOMENTUM: float(theory.ema_momentum_edge(beta)),
    }[method]
    p0 = prob.init(jr.key(0))
    below = D.train(prob, p0, make(0.999 * edge / lam, beta), num_steps=steps)
    above = D.train(prob, p0, make(1.001 * edge / lam, beta), num_steps=steps)
    l0 = float(prob.loss(p0))
    assert below.stop_reason is D.StopReason.T1 and below.loss[-1] < l0
    grew = np.nan_to_num(above.loss, nan=np.inf)  # overflow to NaN counts as divergence
    assert grew[-1] > 10 * l0


def test_records_match_a_python_optax_loop(key):
    """Params at chosen steps = a plain optax loop; sharpness = dense eigvalsh there."""
    k1, k2 = jr.split(key)
    x = jr.normal(k1, (24, 3))
    prob = problems.mlp_regression(x, jnp.sin(x[:, 0]), (5,))
    p0 = prob.init(k2)
    for opt, tx in ((D.adam(0.01), optax.adam(0.01)),):  # heavy ball: operator tests
        res = D.train(
            prob, p0, opt, num_steps=40, record_steps=[0, 10, 40], sharpness_steps=[10, 40]
        )
        params, state = p0, tx.init(p0)
        ref = {0: p0}

        @jax.jit
        def step(params, state, tx=tx):
            with jax.numpy_dtype_promotion("standard"):  # optax's Adam mixes int and float
                upd, state = tx.update(jax.grad(prob.loss)(params), state, params)
            return optax.apply_updates(params, upd), state

        for k in range(40):
            params, state = step(params, state)
            ref[k + 1] = params
        for i, k in enumerate(res.record_steps):
            got = jax.tree.map(lambda a, i=i: a[i], res.params)
            for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(ref[int(k)])):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(res.full_loss[-1], prob.loss(ref[40]), rtol=1e-10)
        for i, k in enumerate(res.sharpness_steps):
            h = landscape.hessian(prob, ref[int(k)])
            np.testing.assert_allclose(res.sharpness[i], np.linalg.eigvalsh(h)[-1], rtol=1e-7)


def test_sgd_minibatches_from_explicit_keys(key):
    k1, k2, k3 = jr.split(key, 3)
    x = jr.normal(k1, (16, 2))
    prob = problems.mlp_regression(x, x[:, 0] * x[:, 1], (4,))
    p0 = prob.init(k2)
    run = lambda k, b: D.train(prob, p0, D.gd(0.05), num_steps=30, batch_size=b, key=k)  # noqa: E731
    a, b, c = run(k3, 4), run(k3, 4), run(jr.split(k3)[0], 4)
    np.testing.assert_array_equal(a.loss, b.loss)
    assert not np.allclose(a.loss, c.loss)
    # mini-batch losses average (over keys) to the full-batch loss at the first step
    full = float(prob.loss(p0))
    firsts = [run(k, 4).loss[0] for k in jr.split(k3, 30)]
    assert abs(np.mean(firsts) - full) < 4 * np.std(firsts) / np.sqrt(30)


def test_scalar_factorization_edge_of_stability():
    """Acceptance (ghost-nonnormal-eos.md §5): GD on ½(uv − 1)² from (3, 0.1). Small η ends
    near the flow's limit sharpness √((u₀²−v₀²)²+4) = 9.21; η = 0.25 ends at ≈ 6.08 ≤ 2/η and
    η = 0.28 at ≈ 3.91; every converged run ends with sharpness ≤ 2/η."""
    prob = problems.scalar_factorization(1.0)
    p0 = jnp.array([3.0, 0.1])
    limit = theory.flow_limit_sharpness(3.0, 0.1)
    out = {}
    for eta in (0.05, 0.1, 0.25, 0.28):
        r = D.train(prob, p0, D.gd(eta), num_steps=20000, sharpness_steps=[20000])
        assert r.loss[-1] < 1e-20
        out[eta] = float(r.sharpness[-1])
        assert out[eta] <= 2 / eta + 1e-6
        # independent reference: plain numpy GD and the SymPy Hessian's top eigenvalue
        u, v = 3.0, 0.1
        for _ in range(20000):
            res_ = u * v - 1
            u, v = u - eta * res_ * v, v - eta * res_ * u
        np.testing.assert_allclose(out[eta], theory.sf_sharpness(u, v), rtol=1e-8)
    assert abs(out[0.05] - limit) < 0.02 and abs(out[0.1] - limit) < 0.05
    assert abs(out[0.25] - 6.08) < 0.01 and abs(out[0.28] - 3.91) < 0.01


def test_training_divergence_and_bad_input(quadratic):
    prob, lam = quadratic
    p0 = prob.init(jr.key(1))
    r = D.train(prob, p0, D.gd(3.0 / lam), num_steps=5000, record_steps=[10, 4000])
    assert r.stop_reason is D.StopReason.DIVERGED and r.steps_done == 4000
    assert np.all(np.isfinite(r.loss[:10]))
    with pytest.raises(ValueError, match="^num_steps"):
        D.train(prob, p0, D.gd(0.1), num_steps=0)
    with pytest.raises(ValueError, match="^record_steps"):
        D.train(prob, p0, D.gd(0.1), num_steps=5, record_steps=[6])
    with pytest.raises(TypeError, match="^batch_size"):
        D.train(prob, p0, D.gd(0.1), num_steps=5, batch_size=2)
    with pytest.raises(ValueError, match="^lr"):
        D.gd(-1.0)
    with pytest.raises(ValueError, match="^beta"):
        D.heavy_ball(0.1, 1.5)
    with pytest.raises(TypeError, match="^optimizer"):
        D.train(prob, p0, "sgd", num_steps=5)
    with pytest.raises(ValueError, match="^params0"):
        D.train(prob, jnp.full(5, jnp.inf), D.gd(0.1), num_steps=5)
