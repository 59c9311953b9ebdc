"""Curves between minima, mode connectivity, curvature along a path, random subspaces."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from tests.helpers import own_checks
from toymodels import data, dynamics, landscape as L, problems


TOY = problems.scalar_factorization(1.0, depth=2)
A, B = jnp.array([2.0, 0.5]), jnp.array([0.5, 2.0])


def test_curve_shapes_and_endpoints():
    bend = jnp.array([0.3, -0.7])
    bz, pc = L.Bezier(A, B, bend), L.PolyChain(A, B, bend)
    for c in (bz, pc, L.Line(A, B)):
        np.testing.assert_array_equal(c(0.0), A)
        np.testing.assert_array_equal(c(1.0), B)
    np.testing.assert_allclose(pc(0.5), bend, atol=1e-15)
    np.testing.assert_allclose(pc(0.25), 0.5 * (A + bend), atol=1e-15)
    np.testing.assert_allclose(pc(0.75), 0.5 * (B + bend), atol=1e-15)
    np.testing.assert_allclose(bz(0.5), 0.25 * A + 0.5 * bend + 0.25 * B, atol=1e-15)
    # the default bend (midpoint) makes both curves the straight line
    ts = jnp.linspace(0.0, 1.0, 9)
    for c in (L.Bezier(A, B), L.PolyChain(A, B)):
        np.testing.assert_allclose(
            L.curve_values(TOY, c, ts), L.interpolate(TOY, A, B, ts), atol=1e-14
        )


def test_fit_bezier_on_the_toy_hyperbola():
    """(2, ½) and (½, 2) lie on the same branch of the minima w₁w₂ = 1; the line bulges
    to J(½) = 81/512, a trained Bezier follows the hyperbola; endpoints stay fixed."""
    ts = jnp.linspace(0.0, 1.0, 41)
    line = L.interpolate(TOY, A, B, ts)
    assert float(jnp.max(line)) == pytest.approx(81 / 512, abs=1e-14)
    fit = L.fit_curve(
        TOY,
        L.Bezier(A, B),
        key=jr.key(0),
        num_steps=400,
        optimizer=dynamics.Adam(learning_rate=2e-2),
    )
    curve, losses = fit.curve, fit.loss
    np.testing.assert_array_equal(curve.start, A)
    np.testing.assert_array_equal(curve.end, B)
    vals = L.curve_values(TOY, curve, ts)
    assert float(jnp.max(vals)) < 0.02 * 81 / 512
    assert losses.shape == (400,) and float(jnp.mean(losses[-50:])) < float(losses[0])
    assert float(L.barrier_height(vals)) < float(L.barrier_height(line)) / 50
    # polychain: the same problem, trained with minibatch-free steps and two t per step
    pc = L.fit_curve(
        TOY,
        L.PolyChain(A, B),
        key=jr.key(1),
        num_steps=300,
        samples_per_step=2,
        optimizer=dynamics.Adam(learning_rate=2e-2),
    ).curve
    assert float(jnp.max(L.curve_values(TOY, pc, ts))) < 0.2 * 81 / 512


def test_mode_connectivity_and_barrier_formulas():
    # barrier: e = [0, 10, 30, 5, 2], mean of ends 1, largest deviation at u = 2 -> mc = -29
    assert float(L.mode_connectivity(jnp.array([0.0, 10.0, 30.0, 5.0, 2.0]))) == -29.0
    assert float(L.mode_connectivity(jnp.array([4.0, 2.0, 1.0, 3.0, 4.0]))) == 3.0  # a dip
    assert float(L.mode_connectivity(jnp.full(5, 7.0))) == 0.0
    # largest |deviation| decides, even when a dip and a bump coexist
    assert float(L.mode_connectivity(jnp.array([1.0, -5.0, 3.0, 1.0]))) == 6.0
    v = jnp.array([0.0, 1.0, 4.0, 1.0, 2.0])
    assert float(L.barrier_height(v)) == pytest.approx(3.0)  # 4 - (0 + 2)/2 at t = 1/2
    ts = jnp.array([0.0, 0.1, 0.2, 0.6, 1.0])
    assert float(L.barrier_height(v, ts)) == pytest.approx(4.0 - 0.4)
    assert float(L.barrier_height(jnp.array([3.0, 2.0, 1.0]))) == 0.0
    with pytest.raises(ValueError, match="^ts: must start at 0"):
        L.barrier_height(v, ts + 0.1)


def test_curvature_along_path_matches_dense_hessian():
    """Top eigenvalue and Hutchinson trace of the toy Hessian along a Bezier curve, via the
    curvature toolkit, against the closed form H = [[w₂², 2w₁w₂−1], [2w₁w₂−1, w₁²]]."""
    curve = L.Bezier(A, B, jnp.array([0.3, 0.2]))
    ts = jnp.array([0.0, 0.5, 0.8])
    out = L.curvature_along(TOY, curve, ts, key=jr.key(3), num_probes=400)
    for i, t in enumerate(np.asarray(ts)):
        w1, w2 = np.asarray(curve(t))
        h = np.array([[w2**2, 2 * w1 * w2 - 1], [2 * w1 * w2 - 1, w1**2]])
        assert float(out.top_eigenvalues[i, 0]) == pytest.approx(
            np.linalg.eigvalsh(h)[-1], rel=1e-8
        )
        err = abs(float(out.trace[i]) - np.trace(h))
        assert err <= 5 * float(out.trace_stderr[i]) + 1e-12
    with (
        own_checks(),
        pytest.raises(TypeError, match="^curve: expected a Line, Bezier or PolyChain"),
    ):
        L.curvature_along(TOY, A, ts, key=jr.key(0))


@pytest.mark.slow
def test_fit_curve_minibatches():
    x, y = data.gaussian_mixture(key=jr.key(5), num_samples=60, dim=4, num_classes=3)
    prob = problems.mlp_classification(x, y, hidden=8)
    pa, pb = prob.init(jr.key(6)), prob.init(jr.key(7))
    fit = L.fit_curve(
        prob, L.Bezier(pa, pb), key=jr.key(8), num_steps=200, batch_size=16, weight_decay=1e-4
    )
    curve, losses = fit.curve, fit.loss
    assert losses.shape == (200,) and bool(jnp.all(jnp.isfinite(losses)))
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(jnp.array_equal, curve.start, pa))
    # the endpoints are untrained inits (the maximum sits at an end); the interior drops
    ts = jnp.linspace(0.0, 1.0, 11)
    inner_curve = L.curve_values(prob, curve, ts)[1:-1]
    inner_line = L.curve_values(prob, L.Line(pa, pb), ts)[1:-1]
    assert float(jnp.mean(inner_curve)) < 0.7 * float(jnp.mean(inner_line))


@pytest.mark.usefixtures("own_checks")
def test_fit_curve_bad_input():
    x, y = data.gaussian_mixture(key=jr.key(5), num_samples=60, dim=4, num_classes=3)
    prob = problems.mlp_classification(x, y, hidden=8)
    pa, pb = prob.init(jr.key(6)), prob.init(jr.key(7))
    with pytest.raises(ValueError, match="^batch_size: must be in"):
        L.fit_curve(prob, L.Bezier(pa, pb), key=jr.key(0), num_steps=5, batch_size=1000)
    with pytest.raises(TypeError, match="^curve: a Line has no bend"):
        L.fit_curve(prob, L.Line(pa, pb), key=jr.key(0), num_steps=5)
    with pytest.raises(ValueError, match="^num_steps: must be >= 1"):
        L.fit_curve(prob, L.Bezier(pa, pb), key=jr.key(0), num_steps=0)
    with pytest.raises(TypeError, match="^key: expected a PRNG key"):
        L.fit_curve(prob, L.Bezier(pa, pb), key=0, num_steps=1)
    with pytest.raises(ValueError, match="^ts: expected a 1-D grid"):
        L.curve_values(prob, L.Line(pa, pb), jnp.ones((2, 2)))


# ---------------------------------------------------------------------------------------------
# random subspaces


def test_random_subspace_orthonormal_and_training():
    p = L.random_subspace(key=jr.key(0), num_params=300, dim=12)
    np.testing.assert_allclose(p.T @ p, np.eye(12), atol=1e-13)
    prob = L.group_sum_problem(key=jr.key(1), dim=300, groups=6)
    theta0 = prob.init(jr.key(2))
    res = L.subspace_train(prob, theta0, p, num_steps=50, key=jr.key(3), optimizer=optax.lbfgs())
    # independent reference: the exact least-squares optimum within the subspace
    a = np.kron(np.eye(6), np.ones((1, 50)))
    m = a @ np.asarray(p)
    z_ls = np.linalg.lstsq(m, np.asarray(prob.sums) - a @ np.asarray(theta0), rcond=None)[0]
    np.testing.assert_allclose(res.z, z_ls, atol=1e-6)
    np.testing.assert_allclose(res.params, theta0 + p @ res.z, atol=1e-12)
    assert float(prob.loss(res.params)) < 1e-12
    with pytest.raises(ValueError, match="^basis: has 10 rows"):
        L.subspace_train(prob, theta0, jnp.ones((10, 2)), num_steps=1, key=jr.key(3))
    with pytest.raises(ValueError, match="^dim: must be in"):
        L.random_subspace(key=jr.key(0), num_params=10, dim=11)


@pytest.mark.slow
@pytest.mark.parametrize("dim, groups", [(1000, 10), (240, 6)])
def test_intrinsic_dimension_of_the_group_sum_toy(dim, groups):
    """Li et al.'s toy: D coordinates in G groups with fixed sums has d_int = G (fast mode of
    figures/fig34_intrinsic_dimension.py checks the (1000, 10) and (300, 5) toys by default)."""
    prob = L.group_sum_problem(key=jr.key(dim), dim=dim, groups=groups, tol=1e-2)
    res = L.intrinsic_dimension(
        prob,
        key=jr.key(groups),
        dims=np.arange(groups - 3, groups + 4),
        performance=prob.accuracy,
        num_seeds=3,
        num_steps=3000,
        optimizer=optax.adam(optax.cosine_decay_schedule(0.3, 3000)),
    )
    assert abs(res.dimension - groups) <= 1, (res.dimension, res.performance)
    mean = np.asarray(jnp.mean(res.performance, axis=1))
    assert mean[0] < 0.5  # d = G - 3 cannot satisfy the constraints
    assert res.performance.shape == (7, 3) and np.all(np.asarray(res.baseline) == 1.0)


@pytest.mark.usefixtures("own_checks")
def test_intrinsic_dimension_bad_input():
    prob = L.group_sum_problem(key=jr.key(0), dim=20, groups=2)
    kw = dict(key=jr.key(0), performance=prob.accuracy, num_steps=2)
    with pytest.raises(ValueError, match="^dims: must be positive and strictly increasing"):
        L.intrinsic_dimension(prob, dims=[3, 2], **kw)
    with pytest.raises(ValueError, match="^dims: expected a non-empty 1-D"):
        L.intrinsic_dimension(prob, dims=[[1, 2]], **kw)
    with pytest.raises(ValueError, match="^dims: largest d = 30 exceeds"):
        L.intrinsic_dimension(prob, dims=[1, 30], **kw)
    with pytest.raises(ValueError, match="^dim: must be a positive multiple"):
        L.group_sum_problem(key=jr.key(0), dim=21, groups=2)


@pytest.mark.slow
def test_mode_connectivity_two_independent_mlps_spec_size():
    """The spec's setting: two Adam-trained 20-64-64-5 ReLU MLPs on 1000 mixture points
    (2000 steps each); the line's max loss > 1, the trained Bezier's < 0.05; mc ≈ 0 vs < 0.
    (figures/fig33_mode_connectivity.py checks a smaller setting in every default run.)"""
    x, y = data.gaussian_mixture(
        key=jr.key(0), num_samples=1000, dim=20, num_classes=5, separation=1.0
    )
    prob = problems.mlp_classification(x, y, hidden=(64, 64), activation="relu")

    def train(k_init, k_run):
        adam = dynamics.Adam(learning_rate=1e-2)
        return dynamics.run(prob, prob.init(k_init), adam, num_steps=2000, key=k_run).params

    both = jax.vmap(train)(jr.split(jr.key(1), 2), jr.split(jr.key(3), 2))
    pa = jax.tree_util.tree_map(lambda a: a[0], both)
    pb = jax.tree_util.tree_map(lambda a: a[1], both)
    curve = L.fit_curve(
        prob,
        L.Bezier(pa, pb),
        key=jr.key(2),
        num_steps=1500,
        samples_per_step=4,
        optimizer=dynamics.Adam(learning_rate=5e-3),
    ).curve
    ts = jnp.linspace(0.0, 1.0, 41)
    assert float(jnp.max(L.interpolate(prob, pa, pb, ts))) > 1.0
    assert float(jnp.max(L.curve_values(prob, curve, ts))) < 0.05
    assert float(L.curve_mode_connectivity(prob, L.Line(pa, pb))) < -10.0
    assert abs(float(L.curve_mode_connectivity(prob, curve))) < 1.0
