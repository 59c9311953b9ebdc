"""Flat channels: Owen's T and the erf kernels, the toy's closed-form loss, its GLU critical
points and stable-channel interval, channel coordinates, the flow rate, sharpness."""

import diffrax
import jax
import jax.monitoring
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import erf, owens_t

from derivations import channels as theory
from tests.helpers import count_compilations
from toymodels import dynamics, landscape
from toymodels.models import channels as ch


X = np.linspace(-12.0, 12.0, 200001)
P = np.exp(-(X**2) / 2) / np.sqrt(2 * np.pi) * (X[1] - X[0])


def sig(z):
    return erf(z / np.sqrt(2))


@jax.jit
def _loss(problem, params):
    return problem.loss(params)


@jax.jit
def _grad(problem, params):
    return jax.grad(problem.loss)(params)


def _sharpness(problem, params):
    """Top Hessian eigenvalue, dense (tiny problems)."""
    return float(np.linalg.eigvalsh(np.asarray(landscape.hessian(problem, params)))[-1])


@pytest.fixture(scope="module")
def toy():
    return ch.erf_toy()


@pytest.fixture(scope="module")
def crit(toy):
    return ch.glu_critical_points(toy, lo=0.3, hi=6.0, num=120)


def test_owens_t_and_pairs():
    rng = np.random.default_rng(0)
    h, a = 3 * rng.standard_normal(300), 5 * rng.standard_normal(300)
    assert (
        np.max(np.abs(np.asarray(ch.owens_t(jnp.asarray(h), jnp.asarray(a))) - owens_t(h, a)))
        < 1e-14
    )
    for a1, b1, a2, b2 in [
        (0.7, 0, 5, 2.5),
        (3.1, 0, 5, -2.5),
        (5, 2.5, 5, -2.5),
        (1.2, 0, -0.4, 0),
    ]:
        ref = np.sum(P * sig(a1 * X + b1) * sig(a2 * X + b2))
        assert abs(float(ch.erf_pair(a1, b1, a2, b2)) - ref) < 1e-10


def test_toy_loss_is_the_population_loss(toy):
    p = ch.channel_params(1.3, -0.7, 2.2, 0.4)
    f = p[1]["w"][0] @ sig(np.asarray(p[0]["w"]) * X)
    fstar = sig(5 * X + 2.5) + sig(5 * X - 2.5)
    assert abs(float(_loss(toy, p)) - np.sum(P * (f - fstar) ** 2)) < 1e-10
    # another teacher: predictions are functions of the teacher
    other = ch.erf_toy((2.0,), (0.5,), (1.5,), width=1)
    q = ({"w": jnp.array([[1.1]])}, {"w": jnp.array([[0.8]])})
    ref = np.sum(P * (0.8 * sig(1.1 * X) - 1.5 * sig(2 * X + 0.5)) ** 2)
    assert abs(float(_loss(other, q)) - ref) < 1e-10


def test_glu_critical_points_and_losses(crit):
    assert np.allclose(crit.w, [0.8663, 1.3996, 3.1504], atol=1e-3)
    assert np.allclose(crit.loss, [0.042372, 0.047116, 7.7333e-4], rtol=1e-4)
    assert list(crit.kind) == [1, -1, 1]  # channel 1 min, saddle line max, channel 2 min
    assert np.allclose([crit.c[2], crit.a[2]], [2.0178, -6.5111], atol=1e-3)
    assert abs(crit.a[1]) < 1e-8  # the saddle line has a = 0


def test_glu_loss_against_quadrature(toy, crit):
    # independent reference: least squares on the dense grid
    fstar = sig(5 * X + 2.5) + sig(5 * X - 2.5)
    for w, loss, h in zip(crit.w, crit.loss, crit.h):
        basis = np.stack([sig(w * X), X * np.sqrt(2 / np.pi) * np.exp(-((w * X) ** 2) / 2)], 1)
        G = basis.T @ (basis * P[:, None])
        c, a = np.linalg.solve(G, basis.T @ (P * fstar))
        f0 = basis @ [c, a]
        assert abs(np.sum(P * (f0 - fstar) ** 2) - loss) < 1e-10
        if abs(a) > 1e-6:
            f2 = theory.glu_f2(w * X, X, a, c)
            assert abs(np.sum(P * f2 * 2 * (f0 - fstar)) - h) < 1e-9


def _quadrature_glu(w, fstar):
    """ℓ(w, 0) and h(w) by least squares and the SymPy f2 on the dense grid (independent of
    the closed-form kernels)."""
    basis = np.stack([sig(w * X), X * np.sqrt(2 / np.pi) * np.exp(-((w * X) ** 2) / 2)], 1)
    G = basis.T @ (basis * P[:, None])
    c, a = np.linalg.solve(G, basis.T @ (P * fstar))
    f0 = basis @ [c, a]
    h = np.sum(P * theory.glu_f2(w * X, X, a, c) * 2 * (f0 - fstar))
    return np.sum(P * (f0 - fstar) ** 2), h


def test_new_teacher_and_grid_compile_nothing(crit):
    """After the paper's teacher (the `crit` fixture), teachers of one to four neurons and
    grids of any size reuse the one compiled GLU program; their critical points and stable
    ends are checked against the dense-grid quadrature: ℓ(w, 0) and h(w) by value,
    ∂_wℓ = 0 at the critical points (central difference) and h = 0 at the ends."""
    teachers = [((4.0, 4.0), (2.0, -2.0), (1.0, 1.0)), ((3.0,), (1.0,), (1.5,))]
    toys = [ch.erf_toy(u, b, v, width=3) for u, b, v in teachers]
    with count_compilations() as counts:
        found = [
            (
                ch.glu_critical_points(t, lo=0.3, hi=6.0, num=n),
                ch.stable_channel_interval(t, lo=0.3, hi=6.0, num=n),
            )
            for t, n in zip(toys, (150, 300))
        ]
    assert counts == {"traced": 0, "compiled": 0}, counts
    for (u, b, v), (cr, ends) in zip(teachers, found):
        fstar = sum(vk * sig(uk * X + bk) for uk, bk, vk in zip(u, b, v))
        assert cr.w.size >= 1 and ends.size >= 1
        for w, loss, h in zip(cr.w, cr.loss, cr.h):
            ql, qh = _quadrature_glu(w, fstar)
            assert abs(ql - loss) < 1e-10 and abs(qh - h) < 1e-8 * max(1.0, abs(h))
            d = 1e-4
            slope = (_quadrature_glu(w + d, fstar)[0] - _quadrature_glu(w - d, fstar)[0]) / (2 * d)
            assert abs(slope) < 1e-7
        for w in ends:
            assert abs(_quadrature_glu(w, fstar)[1]) < 1e-8


def test_stable_channel_interval(toy, crit):
    ends = ch.stable_channel_interval(toy, lo=0.3, hi=6.0, num=120)
    assert np.allclose(ends, [0.7992, 3.2023], atol=1e-3)
    # both minima lie inside, so both are stable channels to infinity
    assert np.all((crit.w[[0, 2]] > ends[0]) & (crit.w[[0, 2]] < ends[1]))
    assert np.all(crit.h[[0, 2]] > 0)


def test_channel_coordinates_roundtrip_and_glu_limit(key):
    from toymodels.problems import mlp_apply, mlp_init

    p = mlp_init(key=key, sizes=(3, 4, 2), bias=True)
    co = ch.to_channel(p, 1, 3)
    back = ch.from_channel(p, co, 1, 3)
    assert all(
        np.allclose(a, b, atol=1e-13) for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(p))
    )
    # the pair at small ε computes the GLU f0 + ε² f2 (SymPy expansion, σ = erf(x/√2))
    x = jax.random.normal(key, (20, 3))
    xt = np.concatenate([np.asarray(x), np.ones((20, 1))], 1)
    for eps in (1e-2, 5e-3):
        q = ch.from_channel(p, ch.ChannelCoords(co.w, jnp.asarray(eps), co.delta, co.a, co.c), 1, 3)
        pair_only = (
            {"w": q[0]["w"][jnp.array([1, 3])], "b": q[0]["b"][jnp.array([1, 3])]},
            {"w": q[1]["w"][:, jnp.array([1, 3])]},
        )
        out = np.asarray(mlp_apply(pair_only, x, activation="erf"))
        z, u = xt @ np.asarray(co.w), xt @ np.asarray(co.delta)
        for o in range(2):
            f0 = theory.glu_f0(z, u, float(co.a[o]), float(co.c[o]))
            f2 = theory.glu_f2(z, u, float(co.a[o]), float(co.c[o]))
            assert np.max(np.abs(out[:, o] - f0 - eps**2 * f2)) < 50 * eps**4
    j = ch.jump(p, 1, 3, factor=0.5)
    cj = ch.to_channel(j, 1, 3)
    assert np.isclose(float(cj.eps), 0.5 * float(co.eps)) and np.allclose(cj.a, co.a)
    assert np.allclose(cj.c, co.c) and np.allclose(cj.w, co.w) and np.allclose(cj.delta, co.delta)


def test_loss_along_channel_is_l0_plus_eps2_h(toy, crit):
    c, a, w, L0, h = (getattr(crit, k)[2] for k in ("c", "a", "w", "loss", "h"))
    for eps in (0.02, 0.01):
        p = ch.channel_params(c, a, w, eps)
        assert abs((float(_loss(toy, p)) - L0) / eps**2 - h) < 0.02 * h


def test_ros2_is_second_order_and_adaptive():
    """ROS2 as a plain diffrax solver on y' = -y + cos t (non-autonomous: ROS2 needs no
    ∂f/∂t), against the exact solution: the global error falls 4x per halving of a fixed
    step, and with PID control the error follows the tolerance."""

    def vf(t, y, args):
        return -y + jnp.cos(t)

    exact = 0.5 * (np.cos(2.0) + np.sin(2.0)) + 0.5 * np.exp(-2.0)

    @jax.jit
    def fixed(dt):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(vf), ch.ROS2(), 0.0, 2.0, dt, jnp.array([1.0]), max_steps=1000
        )
        return sol.ys[-1, 0]

    errs = np.array([abs(float(fixed(2.0 / n)) - exact) for n in (200, 400)])
    assert abs(np.log2(errs[0] / errs[1]) - 2.0) < 0.05
    for rtol in (1e-5, 1e-8):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(vf),
            ch.ROS2(),
            0.0,
            2.0,
            None,
            jnp.array([1.0]),
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=rtol),
            max_steps=100_000,
        )
        assert abs(float(sol.ys[-1, 0]) - exact) < 10 * rtol


@pytest.mark.slow
def test_flow_integrator_against_kvaerno5(toy, crit):
    p0 = ch.channel_params(crit.c[2], crit.a[2], crit.w[2], 0.3)
    ts = np.array([1.0, 10.0])
    A = ch.channel_flow(toy, p0, ts, rel_step=0.002)
    B = dynamics.gradient_flow(
        toy,
        p0,
        t1=10.0,
        solver=diffrax.Kvaerno5(),
        stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-12),
        save=diffrax.SaveAt(ts=ts),
    )
    assert A.stop_reason == "completed" and B.stop_reason == "completed"
    assert all(
        np.max(np.abs(a - b)) < 1e-6 for a, b in zip(jax.tree.leaves(A.ys), jax.tree.leaves(B.ys))
    )


def _eps_and_excess(toy, traj, L0):
    eps = np.asarray(jax.vmap(lambda q: 0.5 * jnp.abs(q[0]["w"][0, 0] - q[0]["w"][1, 0]))(traj))
    return eps, np.asarray(jax.vmap(toy.loss)(traj)) - L0


def test_log_step_grid_hits_the_save_times():
    ts = np.logspace(5, 7, 9)
    grid = ch.log_step_grid(ts, rel_step=0.02)  # the StepTo grid: hits ts, h <= 0.02 t
    assert np.all(np.isin(ts, grid)) and grid[0] == 0.0 and grid[1] == 1e-4
    assert np.all(grid[2:] / grid[1:-1] <= 1.02 * (1 + 1e-12))


@pytest.mark.slow
def test_channel_flow_rate_short(toy, crit):
    """From t = 1e5 on, ε follows the reduced law ε⁻⁴(t) = ε⁻⁴(t₁) + 16h(t − t₁)/a²
    (derivations/channels.py). Slow: the default run checks the same law on the same flow
    through fig53's fast-mode claims (tests/claims/test_claims_and_figures.py), and the flow
    program (ROS2 in diffrax, with host callbacks) is not shared through the persistent
    compilation cache, so a second process compiled it again (~60-95 s)."""
    c, a, w, L0, h = (getattr(crit, k)[2] for k in ("c", "a", "w", "loss", "h"))
    ts = np.logspace(5, 7, 9)  # the same call as fig53's fast mode (one compilation)
    flow = ch.channel_flow(toy, ch.channel_params(c, a, w, 0.3), ts, rel_step=0.02)
    assert flow.stop_reason == "completed"
    assert np.allclose(flow.ts, ts)
    eps, excess = _eps_and_excess(toy, flow.ys, L0)
    assert np.allclose(flow.loss - L0, excess, rtol=1e-12)
    pred = theory.rate_eps(ts - ts[0], a, h, eps[0])
    assert np.allclose(eps, pred, rtol=0.02)
    assert np.allclose(excess, h * eps**2, rtol=0.05)


@pytest.mark.slow
def test_channel_flow_rate_to_1e9(toy, crit):
    c, a, w, L0, h = (getattr(crit, k)[2] for k in ("c", "a", "w", "loss", "h"))
    ts = np.logspace(0, 9, 37)
    flow = ch.channel_flow(toy, ch.channel_params(c, a, w, 0.3), ts)
    assert flow.stop_reason == "completed"
    eps, excess = _eps_and_excess(toy, flow.ys, L0)
    assert abs(ch.loglog_slope(ts, eps, t_min=1e6) + 0.25) < 0.02
    assert abs(ch.loglog_slope(ts, excess, t_min=1e6) + 0.5) < 0.03
    rate = ch.channel_rate(ts, a=a, h=h)
    m = ts >= 1e8
    assert np.allclose(eps[m], np.asarray(rate.eps)[m], rtol=0.01)


def test_sharpness_grows_like_inverse_eps2(toy, crit):
    c, a, w = (getattr(crit, k)[2] for k in ("c", "a", "w"))
    vals = [_sharpness(toy, ch.channel_params(c, a, w, e)) * e**2 for e in (0.1, 0.05, 0.025)]
    assert abs(vals[2] - vals[1]) < abs(vals[1] - vals[0])  # converging
    assert abs(vals[2] / vals[1] - 1) < 0.02


def test_sharpness_constant_against_the_dense_hessian(toy, crit):
    """λ_max·ε² → K = (2/π)a²(1 + 2w²)^(−3/2) (derivations/channels.py) on both channels
    (minima of ℓ(w, 0)): the dense Hessian's top eigenvalue on the closed-form channel at
    small ε, its O(ε²) correction removed by Richardson extrapolation from ε and 2ε."""
    for k in np.flatnonzero(np.asarray(crit.kind) > 0):
        c, a, w = crit.c[k], crit.a[k], crit.w[k]
        e = 0.01
        v1, v2 = (_sharpness(toy, ch.channel_params(c, a, w, s)) * s**2 for s in (e, 2 * e))
        limit = (4 * v1 - v2) / 3
        K = float(theory.sharpness_constant(a, w))
        assert abs(limit / K - 1) < 1e-4, (k, limit, K)
        assert abs(v1 / K - 1) > 10 * abs(limit / K - 1)  # the correction is resolved


@pytest.mark.slow
def test_gd_stalls_at_edge_of_stability(toy, crit, key):
    c, a, w = (getattr(crit, k)[2] for k in ("c", "a", "w"))
    gd = dynamics.GD(learning_rate=0.4)
    traj = dynamics.run(toy, ch.channel_params(c, a, w, 0.3), gd, num_steps=200_000, key=key)
    assert traj.stop_reason == "completed"
    assert abs(_sharpness(toy, traj.params) - gd.stability_threshold()) < 0.01 * 2 / 0.4


def test_detect_channel(toy, crit):
    c, a, w = (getattr(crit, k)[2] for k in ("c", "a", "w"))
    p = ch.channel_params(c, a, w, 1e-4)
    upd = jax.tree.map(lambda g: -g, _grad(toy, p))
    out = ch.detect_channel(p, upd)
    assert out.is_channel and out.pair in ((0, 1), (1, 0))
    q = ch.channel_params(c, a, w, 0.3)
    assert not ch.detect_channel(q, _grad(toy, q)).is_channel


@pytest.mark.usefixtures("own_checks")
def test_bad_input(toy):
    with pytest.raises(ValueError, match="eps"):
        ch.channel_params(1.0, 1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="j"):
        ch.to_channel(ch.channel_params(1.0, 1.0, 1.0, 0.1), 0, 0)
    with pytest.raises(ValueError, match="ts"):
        ch.channel_flow(toy, ch.channel_params(1.0, 1.0, 1.0, 0.1), [10.0, 1.0])
    with pytest.raises(ValueError, match="rel_step"):
        ch.log_step_grid([1.0, 10.0], rel_step=0.0)
    with pytest.raises(ValueError, match="ts"):
        ch.log_step_grid([1e-5, 1.0], t_start=1e-4)
    with pytest.raises(ValueError, match="b"):
        ch.erf_toy((1.0, 2.0), (0.0,), (1.0, 1.0))
    with pytest.raises(ValueError, match="factor"):
        ch.jump(ch.channel_params(1.0, 1.0, 1.0, 0.1), 0, 1, factor=2.0)
