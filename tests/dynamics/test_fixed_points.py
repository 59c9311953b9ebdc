"""`dynamics.fixed_points` and `dynamics.continue_branch` on systems with a known saddle-node.

- 2-D flow ẋ = x² + μ, ẏ = −y: for μ < 0 the fixed points (±√−μ, 0), the one at +√−μ a saddle
  (eigenvalues 2x, −1); for μ > 0 no fixed point and a ghost at (0, 0) with q = μ²/2 and a
  marginal eigenvalue 0; the fold at μ = 0.
- 3-D, coupled and rotated: z = (x, y, w) with ż = (x² + μ, −y + x², −2w + xy), viewed in
  h = c + Qz (Q a random orthogonal matrix): fixed points c + Q(x*, x*², x*³/2) with
  x* = ±√−μ, eigenvalues 2x*, −1, −2; for μ > 0 the ghost at h = c with q = μ²/2 (the last
  two components of ż vanish on y = x², w = xy/2, leaving (x² + μ)² minimal at x = 0).
- The same as the map h ↦ h + dt·f(h): the same points, eigenvalues 1 + dt·λ, q = dt²μ²/2.

All references are these closed forms. Each system is one module-level function with its
data in `args` (arrays), so that a new μ does not recompile.
"""

import jax.numpy as jnp
import numpy as np
import pytest

from toymodels import dynamics


def flow2(h, mu):
    x, y = h
    return jnp.stack([x**2 + mu, -y])


def flow2_param(h, p):
    return flow2(h, p)


def _zdot(z, mu):
    x, y, w = z
    return jnp.stack([x**2 + mu, -y + x**2, -2.0 * w + x * y])


def map3(h, args):
    """h ↦ h + dt·Q ż(Qᵀ(h − c))."""
    q, c, mu, dt = args
    return h + dt * (q @ _zdot(q.T @ (h - c), mu))


def flow3(h, args):
    q, c, mu = args
    return q @ _zdot(q.T @ (h - c), mu)


class _Map3Param:
    """`fn(h, p)` for continuation of the 3-D map in μ (a plain callable holding arrays)."""

    def __init__(self, q, c, dt):
        self.q, self.c, self.dt = q, c, dt

    def __call__(self, h, p):
        return map3(h, (self.q, self.c, p, self.dt))


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return jnp.asarray(q), jnp.asarray(rng.normal(size=3))


def _exact3(q, c, mu):
    xs = np.array([-np.sqrt(-mu), np.sqrt(-mu)])
    z = np.stack([xs, xs**2, xs**3 / 2], axis=1)
    return np.asarray(c) + z @ np.asarray(q).T


def _match(points, exact):
    """Each exact point's distance to the nearest point found."""
    d = np.max(np.abs(np.asarray(points)[None, :, :] - exact[:, None, :]), axis=-1)
    return d.min(axis=1), d.argmin(axis=1)


STATES2 = np.random.default_rng(0).uniform(-2.0, 2.0, (48, 2))


def test_flow2_fixed_points_and_ghost():
    mu = -0.25
    search = dict(discrete=False, polish=True)  # the Newton polish on ∇q = 0 here only
    fp = dynamics.fixed_points(flow2, STATES2, args=jnp.asarray(mu), **search)
    exact = np.array([[-0.5, 0.0], [0.5, 0.0]])
    dist, which = _match(fp.points, exact)
    assert fp.points.shape == (2, 2) and np.all(dist < 1e-8), fp.points
    assert np.all(np.asarray(fp.is_fixed)) and float(np.max(fp.q)) < 1e-20
    # −√−μ stable (eigenvalues −1, −1); +√−μ a saddle (1, −1)
    np.testing.assert_array_equal(np.asarray(fp.unstable_dims)[which], [0, 1])
    np.testing.assert_array_equal(np.asarray(fp.stable)[which], [True, False])
    eig = np.sort(np.asarray(fp.jacobian_eigenvalues).real, axis=1)[which]
    np.testing.assert_allclose(eig, [[-1.0, -1.0], [-1.0, 1.0]], atol=1e-8)
    assert int(np.sum(fp.counts)) + fp.num_dropped == STATES2.shape[0]
    np.testing.assert_array_equal(np.bincount(np.asarray(fp.labels), minlength=2), fp.counts)

    for mu in (0.3, 0.05):  # a ghost: q = μ²/2 at the origin, eigenvalue 0 marginal
        fp = dynamics.fixed_points(flow2, STATES2, args=jnp.asarray(mu), **search)
        assert fp.points.shape == (1, 2)
        np.testing.assert_allclose(fp.points[0], [0.0, 0.0], atol=1e-12)  # polished
        assert float(fp.q[0]) == pytest.approx(mu**2 / 2, rel=1e-12)
        assert bool(fp.is_ghost[0]) and not bool(fp.stable[0])
        assert int(fp.marginal_dims[0]) == 1 and int(fp.unstable_dims[0]) == 0
        assert float(fp.grad_norm[0]) < 1e-12


@pytest.mark.parametrize("discrete", [False, True])
def test_rotated_3d(frame, discrete):
    q, c = frame
    dt = 0.1
    rng = np.random.default_rng(1)
    states = np.asarray(c) + rng.uniform(-1.5, 1.5, (48, 3))

    def search(mu):
        if discrete:
            args = (q, c, jnp.asarray(mu), jnp.asarray(dt))
            return dynamics.fixed_points(map3, states, args=args)
        return dynamics.fixed_points(flow3, states, args=(q, c, jnp.asarray(mu)), discrete=False)

    mu = -0.36
    fp = search(mu)
    exact = _exact3(q, c, mu)
    dist, which = _match(fp.points, exact)
    assert fp.points.shape == (2, 3) and np.all(dist < 1e-8), (fp.points, exact)
    np.testing.assert_array_equal(np.asarray(fp.unstable_dims)[which], [0, 1])
    assert np.all(np.asarray(fp.marginal_dims) == 0)
    lam = np.array([[2 * x, -1.0, -2.0] for x in (-0.6, 0.6)])
    if discrete:
        lam = 1.0 + dt * lam
    got = np.sort(np.asarray(fp.jacobian_eigenvalues).real, axis=1)[which]
    np.testing.assert_allclose(got, np.sort(lam, axis=1), atol=1e-8)

    mu = 0.2
    fp = search(mu)
    assert fp.points.shape == (1, 3)
    np.testing.assert_allclose(fp.points[0], c, atol=1e-8)
    scale = dt**2 if discrete else 1.0
    assert float(fp.q[0]) == pytest.approx(scale * mu**2 / 2, rel=1e-10)
    assert bool(fp.is_ghost[0]) and int(fp.marginal_dims[0]) == 1
    assert int(fp.unstable_dims[0]) == 0


def test_continuation_fold_flow2():
    br = dynamics.continue_branch(
        flow2_param, jnp.array([-1.0, 0.0]), -1.0, p_range=(-1.0, 1.0), discrete=False
    )
    assert br.stop_reason == "completed"
    assert br.folds.shape == (1,) and abs(float(br.folds[0])) < 1e-8
    np.testing.assert_allclose(br.fold_states[0], [0.0, 0.0], atol=1e-8)
    assert bool(br.fold_converged[0])
    x, y, mu = np.asarray(br.states[:, 0]), np.asarray(br.states[:, 1]), np.asarray(br.params)
    np.testing.assert_allclose(x**2 + mu, 0.0, atol=1e-10)  # every point is on the branch
    np.testing.assert_allclose(y, 0.0, atol=1e-10)
    # around the fold: lower branch stable, upper branch a saddle; ends at μ = −1, x = +1
    np.testing.assert_array_equal(np.asarray(br.unstable_dims), (x > 0).astype(int))
    np.testing.assert_allclose(br.states[-1], [1.0, 0.0], atol=1e-10)
    assert float(br.params[-1]) == pytest.approx(-1.0, abs=1e-12)
    assert np.all(mu <= 1e-12)


def test_continuation_fold_rotated_map(frame):
    q, c = frame
    fn = _Map3Param(q, c, jnp.asarray(0.1))
    h0 = _exact3(q, c, -1.0)[0] + 1e-3  # near the stable point at μ = −1
    br = dynamics.continue_branch(fn, h0, -1.0, p_range=(-1.0, 0.5), step_size=0.05)
    assert br.stop_reason == "completed"
    assert br.folds.shape == (1,) and abs(float(br.folds[0])) < 1e-8
    np.testing.assert_allclose(br.fold_states[0], c, atol=1e-8)
    # the points are the closed-form ones: x = ±√−μ along the branch
    mu = np.asarray(br.params)
    z = (np.asarray(br.states) - np.asarray(c)) @ np.asarray(q)
    np.testing.assert_allclose(z[:, 0] ** 2 + mu, 0.0, atol=1e-10)
    np.testing.assert_allclose(z[:, 1], z[:, 0] ** 2, atol=1e-10)
    np.testing.assert_allclose(z[:, 2], z[:, 0] ** 3 / 2, atol=1e-10)
    np.testing.assert_array_equal(np.asarray(br.unstable_dims), (z[:, 0] > 0).astype(int))


def _sqrt_branch(h, p):
    # ḣ = √(1 − p) − h: the branch h = √(1 − p) ends at p = 1 (no solution beyond)
    return jnp.sqrt(1.0 - p) - h


@pytest.mark.usefixtures("own_checks")
def test_bad_input():
    def wrong_shape(h, args):
        return h[:1]

    with pytest.raises(ValueError, match="^fn"):
        dynamics.fixed_points(wrong_shape, STATES2)
    with pytest.raises(ValueError, match="^initial_states"):
        dynamics.fixed_points(flow2, np.array([[0.0, np.nan]]), args=jnp.asarray(1.0))
    with pytest.raises(ValueError, match="^initial_states"):
        dynamics.fixed_points(flow2, np.zeros(2), args=jnp.asarray(1.0))
    with pytest.raises(ValueError, match="^fn"):
        dynamics.continue_branch(lambda h, p: h[:1], jnp.zeros(2), 0.0, p_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="^p0"):
        dynamics.continue_branch(flow2_param, jnp.zeros(2), 2.0, p_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="^h0"):
        dynamics.continue_branch(flow2_param, jnp.array([np.inf, 0.0]), -1.0, p_range=(-1, 1))


def test_continuation_that_cannot_go_on_stops_cleanly():
    """The branch h = √(1 − p) turns vertical at p = 1 and has no continuation: the
    corrector fails at every step size, the run stops with "failed", and everything
    computed before is kept (finite, on the branch)."""
    with pytest.raises(ValueError, match="^h0"):  # no fixed point at all: Newton fails
        dynamics.continue_branch(
            _sqrt_branch, jnp.array([1.0]), 1.5, p_range=(-1.0, 2.0), discrete=False
        )
    br = dynamics.continue_branch(
        _sqrt_branch, jnp.array([1.0]), 0.0, p_range=(-1.0, 2.0), discrete=False
    )
    assert br.stop_reason == "failed"
    p, h = np.asarray(br.params), np.asarray(br.states[:, 0])
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(h)) and p.size > 5
    np.testing.assert_allclose(h, np.sqrt(1.0 - p), atol=1e-9)
    assert 0.99 < p[-1] <= 1.0 and br.folds.shape == (0,)
