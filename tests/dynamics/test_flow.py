"""Gradient flow: closed-form flows, conservation, stop reasons, stiff solver, bad input."""

import diffrax
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


def _stop(*, max_norm=1e8, gtol=None):
    """The flow's stop: only the norm bound and the gradient tolerance (no loss bounds)."""
    return dynamics.Stop(max_norm=max_norm, loss_ratio=None, gtol=gtol)


@pytest.mark.parametrize("r, X", [(0.5, 10.0), (0.07, 300.0)])
def test_saddle_node_passage_time(r, X):
    """Acceptance: dx/dt = x² + r from 0 to X takes arctan(X/√r)/√r (1e-8 relative)."""
    res = dynamics.gradient_flow(
        Cubic(r=jnp.asarray(r)), jnp.zeros(()), t1=50.0, stop=_stop(max_norm=X)
    )
    assert res.stop_reason == "diverged"
    predicted = np.arctan(X / np.sqrt(r)) / np.sqrt(r)
    assert abs(res.t_final - predicted) / predicted < 1e-8
    # the trajectory up to the stop is kept and is the exact solution √r tan(√r t)
    assert len(res.ts) > 3 and res.ts[-1] <= res.t_final
    np.testing.assert_allclose(res.ys, np.sqrt(r) * np.tan(np.sqrt(r) * res.ts), rtol=1e-8)
    np.testing.assert_allclose(res.params, X, rtol=1e-10)


def test_finite_time_blowup_is_reported_with_trajectory():
    """dx/dt = x² from 1 blows up at t = 1; the flow stops at x = max_norm, t = 1 − 1/max_norm."""
    res = dynamics.gradient_flow(
        Cubic(r=jnp.asarray(0.0)), jnp.ones(()), t1=5.0, stop=_stop(max_norm=1e6)
    )
    assert res.stop_reason == "diverged" and not res.converged
    np.testing.assert_allclose(res.t_final, 1 - 1e-6, rtol=1e-10)
    assert np.all(res.ts < 1.0) and np.all(np.isfinite(res.ys))
    np.testing.assert_allclose(res.ys, 1 / (1 - res.ts), rtol=1e-8)


def test_scalar_factorization_conserves_invariant():
    """Acceptance: u² − v² conserved within 1e-9 over t ∈ [0, 1e3]; the end point has the
    SymPy limit sharpness √((u₀² − v₀²)² + 4)."""
    prob = problems.scalar_factorization(1.0)
    p0 = jnp.array([3.0, 0.1])
    # gtol = 1e-300 never triggers; it shares the test below's compilation
    res = dynamics.gradient_flow(prob, p0, t1=1e3, stop=_stop(gtol=1e-300))
    assert res.stop_reason == "completed" and res.ts[-1] == 1e3 and res.t_final == 1e3
    c = res.ys[:, 0] ** 2 - res.ys[:, 1] ** 2
    assert np.max(np.abs(c - (9.0 - 0.01))) < 1e-9
    u, v = np.asarray(res.params)
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
    res = dynamics.gradient_flow(prob, jnp.array([3.0, 0.1]), t1=1e6, stop=_stop(gtol=1e-9))
    assert res.stop_reason == "converged" and res.converged and res.t_final < 1e6
    # the stop is root-found: the gradient norm at the stop is gtol itself
    np.testing.assert_allclose(res.final_grad_norm, 1e-9, rtol=1e-3)
    assert np.all(res.grad_norm > 1e-9)


def test_flat_channel_closed_form_and_barrier():
    """dx/dt = e^{−x} has x(t) = log(e^{x₀} + t); with MLPGradientFlow's cubic barrier at
    weightnorm x²/2 ≤ 2 the flow instead stops near x = 2, where e^{−x} = R′(x)."""
    p0 = {"x": jnp.zeros(())}
    res = dynamics.gradient_flow(Exponential(), p0, t1=1e4)
    np.testing.assert_allclose(res.ys["x"], np.log(1 + res.ts), rtol=1e-9, atol=1e-12)
    assert jax.tree.structure(res.params) == jax.tree.structure(p0)
    barrier = dynamics.NormBarrier(max_weightnorm=2.0, strength=1.0)
    rb = dynamics.gradient_flow(Exponential(), p0, t1=1e4, barrier=barrier)
    x = float(rb.params["x"])
    assert 2.0 < x < 2.2 and x < float(res.params["x"]) - 5
    # stationary: e^{−x} = R′(x) = (x²/2 − 2)² x
    np.testing.assert_allclose(np.exp(-x), (x**2 / 2 - 2) ** 2 * x, rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("matrix_free", [False, True])
def test_stiff_solver_matches_explicit(key, matrix_free):
    """Kvaerno5 (dense LU, or GMRES on HVPs) and Tsit5 reach the same state."""
    k1, k2 = jax.random.split(key)
    teacher = problems.two_layer_init(key=k1, dim=3, width=2)
    prob = problems.teacher_student_population(teacher, width=3)
    p0 = prob.init(k2)
    save = diffrax.SaveAt(ts=[0.0, 50.0, 200.0])
    ref = dynamics.gradient_flow(prob, p0, t1=200.0, save=save)
    res = dynamics.gradient_flow(
        prob, p0, t1=200.0, save=save, solver=dynamics.stiff_solver(matrix_free=matrix_free)
    )
    a, _ = jax.flatten_util.ravel_pytree(ref.params)
    b, _ = jax.flatten_util.ravel_pytree(res.params)
    np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-8)
    assert res.num_steps < ref.num_steps


@pytest.mark.usefixtures("own_checks")
def test_flow_bad_input():
    prob = problems.scalar_factorization(1.0)
    p0 = jnp.array([1.0, 0.5])
    for t1 in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="^t1"):
            dynamics.gradient_flow(prob, p0, t1=t1)
    with pytest.raises(ValueError, match="^params0"):
        dynamics.gradient_flow(prob, jnp.array([jnp.nan, 1.0]), t1=1.0)
    with pytest.raises(ValueError, match="^save"):
        dynamics.gradient_flow(prob, p0, t1=1.0, save=diffrax.SaveAt(ts=[0.0, 2.0]))
    with pytest.raises(TypeError, match="^save"):
        dynamics.gradient_flow(prob, p0, t1=1.0, save=[0.0, 0.5])
    with pytest.raises(TypeError, match="^solver"):
        dynamics.gradient_flow(prob, p0, t1=1.0, solver="euler")
    with pytest.raises(TypeError, match="^stepsize_controller"):
        dynamics.gradient_flow(prob, p0, t1=1.0, stepsize_controller=1e-8)
    with pytest.raises(TypeError, match="^stop"):
        dynamics.gradient_flow(prob, p0, t1=1.0, stop=1e3)
    with pytest.raises(TypeError, match="^problem"):
        dynamics.gradient_flow(lambda p: p, p0, t1=1.0)
    with pytest.raises(ValueError, match="^params0"):
        dynamics.gradient_flow(prob, p0, t1=1.0, stop=_stop(max_norm=0.1))


@pytest.mark.slow
def test_flow_on_mlp_params_and_max_steps(key):
    """Any params pytree; a budget too small is reported, not raised."""
    prob = problems.mlp_regression(jnp.ones((4, 2)), jnp.arange(4.0), hidden=(3,))
    p0 = prob.init(key)
    res = dynamics.gradient_flow(prob, p0, t1=100.0, max_steps=5)
    assert res.stop_reason == "max_steps"
    assert jax.tree.structure(res.params) == jax.tree.structure(p0)
    leaves = jax.tree.leaves(res.ys)
    assert all(leaf.shape[0] == len(res.ts) for leaf in leaves)
    assert eqx.tree_equal(jax.tree.map(lambda a: a[0], res.ys), p0)
