"""Gradient flow: closed-form flows, conservation, stop reasons, stiff solver, bad input."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from derivations import optimizer_stability as theory
from toymodels import dynamics, problems


class Cubic(problems.AbstractProblem):
    """L(x) = −(x³/3 + r x): the gradient flow is the saddle-node normal form dx/dt = x² + r."""

    r: jax.Array

    def loss(self, params):
        return -(params**3 / 3 + self.r * params)

    def init(self, key):
        return jnp.zeros(())


class Exponential(problems.AbstractProblem):
    """L(x) = e^{−x}: a flat channel to infinity, dx/dt = e^{−x}, x(t) = log(e^{x₀} + t).
    Params are a dict (any pytree works)."""

    def loss(self, params):
        return jnp.exp(-params["x"])

    def init(self, key):
        return {"x": jnp.zeros(())}


@pytest.mark.parametrize("r, X", [(0.5, 10.0), (0.07, 300.0)])
def test_saddle_node_passage_time(r, X):
    """Acceptance: dx/dt = x² + r from 0 to X takes arctan(X/√r)/√r (1e-8 relative)."""
    res = dynamics.gradient_flow(Cubic(r=jnp.asarray(r)), jnp.zeros(()), t1=50.0, max_norm=X)
    assert res.stop_reason is dynamics.StopReason.DIVERGED
    predicted = np.arctan(X / np.sqrt(r)) / np.sqrt(r)
    assert abs(res.t_final - predicted) / predicted < 1e-8
    # the trajectory up to the stop is kept and is the exact solution √r tan(√r t)
    assert len(res.ts) > 3 and res.ts[-1] <= res.t_final
    np.testing.assert_allclose(res.params, np.sqrt(r) * np.tan(np.sqrt(r) * res.ts), rtol=1e-8)


def test_finite_time_blowup_is_reported_with_trajectory():
    """dx/dt = x² from 1 blows up at t = 1; the flow stops at x = max_norm, t = 1 − 1/max_norm."""
    res = dynamics.gradient_flow(Cubic(r=jnp.asarray(0.0)), jnp.ones(()), t1=5.0, max_norm=1e6)
    assert res.stop_reason is dynamics.StopReason.DIVERGED and not res.converged
    np.testing.assert_allclose(res.t_final, 1 - 1e-6, rtol=1e-10)
    assert np.all(res.ts < 1.0) and np.all(np.isfinite(res.params))
    np.testing.assert_allclose(res.params, 1 / (1 - res.ts), rtol=1e-8)


def test_scalar_factorization_conserves_invariant():
    """Acceptance: u² − v² conserved within 1e-9 over t ∈ [0, 1e3]; the end point has the
    SymPy limit sharpness √((u₀² − v₀²)² + 4)."""
    prob = problems.scalar_factorization(1.0)
    p0 = jnp.array([3.0, 0.1])
    res = dynamics.gradient_flow(prob, p0, t1=1e3, gtol=1e-300)  # shares test below's compile
    assert res.stop_reason is dynamics.StopReason.T1 and res.ts[-1] == 1e3
    c = res.params[:, 0] ** 2 - res.params[:, 1] ** 2
    assert np.max(np.abs(c - (9.0 - 0.01))) < 1e-9
    u, v = np.asarray(res.final_params)
    np.testing.assert_allclose(
        theory.sf_sharpness(u, v), theory.flow_limit_sharpness(3.0, 0.1), rtol=1e-9
    )
    # log-spaced default save times, loss decreasing along the flow
    assert res.ts[0] == 0 and np.allclose(
        np.diff(np.log(res.ts[1:])), np.log(res.ts[2] / res.ts[1])
    )
    assert np.all(np.diff(res.loss) <= 1e-15)


def test_convergence_stop_and_gtol():
    prob = problems.scalar_factorization(1.0)
    res = dynamics.gradient_flow(prob, jnp.array([3.0, 0.1]), t1=1e6, gtol=1e-9)
    assert res.stop_reason is dynamics.StopReason.CONVERGED and res.t_final < 1e6
    # the stop is root-found: the gradient norm at the stop is gtol itself
    np.testing.assert_allclose(res.final_grad_norm, 1e-9, rtol=1e-3)
    assert np.all(res.grad_norm > 1e-9)


def test_flat_channel_closed_form_and_barrier():
    """dx/dt = e^{−x} has x(t) = log(e^{x₀} + t); with MLPGradientFlow's cubic barrier at
    weightnorm x²/2 ≤ 2 the flow instead stops near x = 2, where e^{−x} = R′(x)."""
    p0 = {"x": jnp.zeros(())}
    res = dynamics.gradient_flow(Exponential(), p0, t1=1e4)
    np.testing.assert_allclose(res.params["x"], np.log(1 + res.ts), rtol=1e-9, atol=1e-12)
    assert jax.tree.structure(res.final_params) == jax.tree.structure(p0)
    barrier = dynamics.NormBarrier(max_weightnorm=2.0, strength=1.0)
    rb = dynamics.gradient_flow(Exponential(), p0, t1=1e4, barrier=barrier)
    x = float(rb.final_params["x"])
    assert 2.0 < x < 2.2 and x < float(res.final_params["x"]) - 5
    # stationary: e^{−x} = R′(x) = (x²/2 − 2)² x
    np.testing.assert_allclose(np.exp(-x), (x**2 / 2 - 2) ** 2 * x, rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("matrix_free", [False, True])
def test_stiff_solver_matches_explicit(key, matrix_free):
    """Kvaerno5 (dense LU, or GMRES on HVPs) and Tsit5 reach the same state."""
    k1, k2 = jax.random.split(key)
    teacher = problems.two_layer_init(k1, 3, 2)
    prob = problems.teacher_student_population(teacher, 3)
    p0 = prob.init(k2)
    ref = dynamics.gradient_flow(prob, p0, t1=200.0, ts=[0.0, 50.0, 200.0])
    res = dynamics.gradient_flow(
        prob, p0, t1=200.0, ts=[0.0, 50.0, 200.0], method="kvaerno5", matrix_free=matrix_free
    )
    a, _ = jax.flatten_util.ravel_pytree(ref.final_params)
    b, _ = jax.flatten_util.ravel_pytree(res.final_params)
    np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-8)
    assert res.num_steps < ref.num_steps


def test_flow_bad_input():
    prob = problems.scalar_factorization(1.0)
    p0 = jnp.array([1.0, 0.5])
    for t1 in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="^t1"):
            dynamics.gradient_flow(prob, p0, t1=t1)
    with pytest.raises(ValueError, match="^params0"):
        dynamics.gradient_flow(prob, jnp.array([jnp.nan, 1.0]), t1=1.0)
    with pytest.raises(ValueError, match="^ts"):
        dynamics.gradient_flow(prob, p0, t1=1.0, ts=[0.0, 2.0])
    with pytest.raises(ValueError, match="^method"):
        dynamics.gradient_flow(prob, p0, t1=1.0, method="euler")
    with pytest.raises(TypeError, match="^problem"):
        dynamics.gradient_flow(lambda p: p, p0, t1=1.0)
    with pytest.raises(ValueError, match="^params0"):
        dynamics.gradient_flow(prob, p0, t1=1.0, max_norm=0.1)


@pytest.mark.slow
def test_flow_on_mlp_params_and_max_steps(key):
    """Any params pytree; a budget too small is reported, not raised."""
    prob = problems.mlp_regression(jnp.ones((4, 2)), jnp.arange(4.0), (3,))
    p0 = prob.init(key)
    res = dynamics.gradient_flow(prob, p0, t1=100.0, max_steps=5)
    assert res.stop_reason is dynamics.StopReason.MAX_STEPS
    assert jax.tree.structure(res.final_params) == jax.tree.structure(p0)
    leaves = jax.tree.leaves(res.params)
    assert all(leaf.shape[0] == len(res.ts) for leaf in leaves)
    assert eqx.tree_equal(jax.tree.map(lambda a: a[0], res.params), p0)
