"""The ghost mechanism: SymPy derivation, canonical model (Euler / diffrax / limit), GD on r,
critical learning rate, and the real RNNs (fast checks; long runs are marked slow)."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from derivations import ghost as theory
from toymodels import dynamics, problems
from toymodels.models import ghost


T = 100.0
R_STAR = math.pi**2 / (4 * T**2)


# ------------------------------------------------------------------ derivation
def test_derivation_check():
    theory.check()


@pytest.mark.parametrize("delay", [7.0, 333.0])
def test_closed_forms_match_sympy(delay):
    r = np.geomspace(0.05, 5, 41) * math.pi**2 / (4 * delay**2)
    np.testing.assert_allclose(ghost.escape_time(r), theory.escape_time(r), rtol=1e-13)
    np.testing.assert_allclose(
        ghost.escape_time(r, threshold=10.0), theory.escape_time_to(r, 10.0), rtol=1e-13
    )
    np.testing.assert_allclose(
        ghost.escape_time(r, threshold=10.0, dt=0.1),
        theory.euler_escape_time_to(r, 10.0, 0.1),
        rtol=1e-13,
    )
    np.testing.assert_allclose(ghost.limit_loss(r, delay=delay), theory.loss(r, delay), atol=1e-13)
    np.testing.assert_allclose(
        ghost.limit_loss(r, delay=delay, normalized=False),
        theory.loss_unnormalized(r, delay),
        rtol=1e-12,
    )
    w = 0.3 * delay
    np.testing.assert_allclose(
        ghost.limit_loss(r, delay=delay, window=w), theory.loss_window(r, delay, w), atol=1e-13
    )
    np.testing.assert_allclose(
        ghost.limit_loss_grad(r, delay=delay), theory.loss_grad(r, delay), rtol=1e-12
    )
    # the closed-form gradient is the derivative of the closed-form loss (away from r*)
    off = np.abs(r / ghost.optimal_r(delay) - 1) > 1e-3
    ad = jax.vmap(jax.grad(lambda q: ghost.limit_loss(q, delay=delay)))(jnp.asarray(r))
    np.testing.assert_allclose(ad[off], ghost.limit_loss_grad(r, delay=delay)[off], rtol=1e-10)
    assert ghost.optimal_r(delay) == pytest.approx(theory.r_opt(delay), rel=1e-14)
    assert ghost.no_learning_r(delay) == pytest.approx(theory.r_no_learning(delay, delay))
    assert ghost.cusp_gradient(delay) == pytest.approx(theory.cusp_grad(delay), rel=1e-14)
    assert ghost.critical_lr(delay) == pytest.approx(theory.critical_lr(delay), rel=1e-14)
    assert ghost.critical_lr(delay) == pytest.approx(3 * math.pi**4 / (32 * delay**4))
    assert ghost.critical_lr(delay, normalized=False) == pytest.approx(
        theory.critical_lr_unnormalized(delay), rel=1e-14
    )
    assert ghost.critical_lr(delay, window=w) == pytest.approx(
        theory.critical_lr_window(delay, w), rel=1e-14
    )


@pytest.mark.parametrize("delay", [5.0, 20.0, 40.0])
def test_euler_critical_lr_against_brentq_and_its_continuous_limit(delay):
    """η_c of the Euler loss against NumPy: t_E in closed form (two orders in Δt), brentq on
    log r for t_E = T and 2T, a central difference for the slope; → critical_lr as Δt → 0."""
    from scipy.optimize import brentq  # noqa: PLC0415

    dt, x = 0.1, 10.0

    def t_euler(r):
        s = np.sqrt(r)
        a = np.arctan(x / s)
        return a / s + dt / 2 * np.log1p(x**2 / r) - dt**2 * (x / 2 - s * a / 3)

    def solve(t):
        return np.exp(brentq(lambda u: t_euler(np.exp(u)) - t, np.log(1e-9), np.log(10.0),
                             xtol=1e-14))

    r_opt, r_nl = solve(delay), solve(2 * delay)
    h = 1e-6 * r_opt
    slope = abs(t_euler(r_opt + h) - t_euler(r_opt - h)) / (2 * h) / delay
    got = float(ghost.euler_critical_lr(delay, threshold=x, dt=dt))
    assert got == pytest.approx((r_opt - r_nl) / slope, rel=1e-8)
    assert got != pytest.approx(float(ghost.critical_lr(delay)), rel=0.05)  # Euler matters
    fine = float(ghost.euler_critical_lr(delay, threshold=1e5, dt=1e-6))
    assert fine == pytest.approx(float(ghost.critical_lr(delay)), rel=1e-3)
    with pytest.raises(ValueError, match="dt"):
        ghost.euler_critical_lr(delay, dt=0.0)


def test_euler_escape_time_prediction():
    """The modified-equation shift predicts the Euler escape step (the spec's 50.5, 100.6,
    200.6 at T = 50, 100, 200), and for other Δt and X."""
    for delay, dt, x_max in [(50.0, 0.1, 10.0), (100.0, 0.1, 10.0), (200.0, 0.1, 10.0),
                             (100.0, 0.02, 5.0), (30.0, 0.05, 20.0)]:  # fmt: skip
        r = ghost.optimal_r(delay)
        p = ghost.canonical_ghost(delay, dt=dt, threshold=x_max)
        xs = p.euler_states(r)
        measured = (int(jnp.argmax(xs >= x_max)) + 1) * dt
        predicted = float(ghost.escape_time(r, threshold=x_max, dt=dt))
        assert abs(measured - predicted) < dt, (delay, dt, measured, predicted)
    assert ghost.euler_optimal_r(100.0) / R_STAR == pytest.approx(1.011, abs=1e-3)


# ------------------------------------------------------------------ canonical model
@pytest.fixture(scope="module")
def euler_a1():
    return ghost.canonical_ghost(T)  # the paper's T = 100, Δt = 0.1, a = 1, X = 10


def test_simulated_loss_matches_limit(euler_a1):
    """Acceptance: within 0.01 of |T − π/(2√r)|/T on [0.3, 2] r*, and 1 ± 1e-3 below 0.2 r*."""
    f = np.linspace(0.3, 2.0, 35)
    ref = {0.3: 0.8307, 0.5: 0.4189, 0.8: 0.1226, 1.5: 0.1790, 2.0: 0.2884}  # ghost_sim.py
    low_f = np.array([0.02, 0.1, 0.2])
    out = np.asarray(
        jax.jit(jax.vmap(euler_a1.loss))(np.concatenate([f, low_f, list(ref)]) * R_STAR)
    )
    sim, low, got = out[:35], out[35:38], out[38:]
    lim = np.abs(T - math.pi / (2 * np.sqrt(f * R_STAR))) / T
    assert np.max(np.abs(sim - lim)) < 0.01
    # with the finite threshold and Euler's shift the residual shrinks further
    corrected = ghost.limit_loss(f * R_STAR, delay=T, threshold=10.0, dt=0.1)
    assert np.max(np.abs(sim - corrected)) < 0.004
    np.testing.assert_allclose(low, 1.0, atol=1e-3)
    np.testing.assert_allclose(got, list(ref.values()), atol=1e-4)


def test_other_parameters_follow_the_limit():
    """Predictions are functions of T and the window: T = 30, T_R = 0.5 T, Δt = 0.05."""
    d, w = 30.0, 15.0
    p = ghost.canonical_ghost(d, window=w, dt=0.05)
    rs = ghost.optimal_r(d) * np.array([0.2, 0.6, 0.9, 1.3, 2.0])
    rs = np.append(rs, 0.8 * ghost.no_learning_r(d, window=w))
    sim = jax.jit(jax.vmap(p.loss))(rs)
    pred = ghost.limit_loss(rs, delay=d, window=w, threshold=10.0, dt=0.05)
    np.testing.assert_allclose(sim, pred, atol=0.01)
    # below the zone edge r_NL = π²/(4(T + T_R)²) the loss is T_R/T
    assert float(sim[-1]) == pytest.approx(0.5, abs=2e-3)


def test_cusp_gradient():
    """Acceptance: |∂L/∂r| just above r* within 5% of 2T²/π² (autodiff through Euler at
    Δt = 0.01, where the crossing is resolved; finite differences agree)."""
    p = ghost.canonical_ghost(T, dt=0.01)
    r, h = 1.01 * R_STAR, 1e-3 * R_STAR
    pts = jnp.array([r, 0.97 * R_STAR])
    g, (lp, lm) = jax.jit(lambda q: (jax.vmap(p.grad)(q), jax.vmap(p.loss)(q[:1] + jnp.array([h, -h]))))(pts)  # fmt: skip
    fd = float((lp - lm) / (2 * h))
    cusp = 2 * T**2 / math.pi**2
    assert abs(float(g[0]) / cusp - 1) < 0.05 and abs(fd / float(g[0]) - 1) < 0.01
    np.testing.assert_allclose(g, ghost.limit_loss_grad(pts, delay=T), rtol=0.02)
    assert float(g[1]) < 0
    # finite-a prediction (quadrature on the exact trajectory) = the Δt → 0 simulation
    pred = jax.jit(jax.vmap(jax.grad(lambda q: ghost.confidence_loss(q, delay=T, confidence=1.0))))
    np.testing.assert_allclose(g, pred(pts), rtol=2e-3)


def test_no_learning_zone_and_confidence():
    """Acceptance: a = 10 → gradient vanishes deep in the zone (loss flat to the last bit, a
    GD step is a no-op); a = 0.1 → strictly negative (GD escapes)."""
    rs = np.array([0.05, 0.1, 0.2]) * R_STAR
    h = 1e-3 * R_STAR

    @jax.jit
    def probe(confidence):
        p = ghost.canonical_ghost(T, confidence=1.0)
        p = eqx.tree_at(lambda q: q.confidence, p, confidence)
        return jax.vmap(p.loss)(rs + h), jax.vmap(p.loss)(rs - h), jax.vmap(p.grad)(rs)

    lp, lm, g = probe(10.0)
    np.testing.assert_array_equal(lp, 1.0)  # flat to the last bit: finite differences are 0
    np.testing.assert_array_equal(lm, 1.0)
    assert np.all(np.abs(g) < 1e-30)  # autodiff: ~1e-40, vs 2T²/π² ≈ 2e3 at the optimum
    np.testing.assert_array_equal(rs - 1e-4 * g, rs)  # a step 1e3 η_c leaves r unchanged
    _, _, g_soft = probe(0.1)
    assert np.all(np.asarray(g_soft) < 0)
    np.testing.assert_allclose(g_soft[1:], [-6.74, -21.9], rtol=0.01)  # spec's table
    # ... and the finite-a prediction (exact trajectory, quadrature), a function of a
    pred = jax.jit(
        jax.vmap(jax.grad(lambda q, a: ghost.confidence_loss(q, delay=T, confidence=a)), (0, None))
    )
    for a, gs in ((0.1, g_soft), (10.0, g)):
        np.testing.assert_allclose(gs, pred(jnp.asarray(rs), a), rtol=0.02)


def test_continuous_time_matches_closed_form():
    r = 1.3 * R_STAR
    ts = jnp.linspace(1.0, 80.0, 7)
    x = ghost.continuous_trajectory(r, ts)
    np.testing.assert_allclose(x, theory.trajectory(r, np.asarray(ts)), rtol=1e-7)


@pytest.mark.slow
def test_continuous_loss_and_gradient():
    r = 1.3 * R_STAR
    t10 = ghost.continuous_escape_time(r, threshold=10.0)
    assert float(t10) == pytest.approx(float(theory.escape_time_to(r, 10.0)), rel=1e-6)
    p = ghost.canonical_ghost(T, time="continuous", confidence=1.0)
    f = np.array([0.1, 0.5, 1.01, 1.5])
    loss = jax.vmap(p.loss)(f * R_STAR)
    lim = ghost.limit_loss(f * R_STAR, delay=T, threshold=10.0)
    np.testing.assert_allclose(loss, lim, atol=3e-3)
    g = jax.vmap(p.grad)(f[1:] * R_STAR)
    np.testing.assert_allclose(g, ghost.limit_loss_grad(f[1:] * R_STAR, delay=T), rtol=0.02)
    assert abs(float(g[1]) / (2 * T**2 / math.pi**2) - 1) < 0.05
    assert float(ghost.continuous_escape_time(R_STAR, threshold=math.inf)) == pytest.approx(T)


# ------------------------------------------------------------------ GD on r
def test_gd_on_r_through_run_matches_python_loop():
    """GD on r is `dynamics.run` on the problem whose params are r; its step is the SymPy
    gradient (the LIMIT loss carries the closed-form derivative)."""
    p = ghost.canonical_ghost(50.0, time="limit")
    r0 = p.init(jr.key(1))
    lr = 0.7 * float(ghost.critical_lr(50.0))
    traj = dynamics.run(
        p,
        r0,
        dynamics.GD(learning_rate=lr),
        num_steps=50,
        key=jr.key(2),
        save=dynamics.Save(every=1),
    )
    rs = traj.saved
    r = float(r0)
    for k in range(50):
        r = r - lr * float(theory.loss_grad(r, 50.0))
        assert float(rs[k + 1]) == pytest.approx(r, rel=1e-10)
    assert traj.stop_reason == "completed"
    # at the cusp the derivative is the right-hand slope, in the zone exactly 0
    g = jax.jit(jax.vmap(p.grad))(jnp.array([1.0, 0.2, -1.0]) * ghost.optimal_r(50.0))
    np.testing.assert_allclose(g[0], ghost.cusp_gradient(50.0), rtol=1e-12)
    np.testing.assert_array_equal(g[1:], 0.0)


def test_trapped_fraction_at_critical_lr():
    """Acceptance: trapped fraction 0 at 0.9 η_c and 1 at 1.1 η_c, T ∈ {20, 50, 100, 200}
    (one vmapped sweep of 20 seeds per T; T is a traced leaf, so one compilation); the sweep
    equals single `dynamics.run` calls."""
    key = jr.key(2)
    for d in (20.0, 50.0, 100.0, 200.0):
        p = ghost.canonical_ghost(d, time="limit")
        lrs = ghost.critical_lr(d) * jnp.array([0.5, 0.9, 1.1, 2.0])
        res = ghost.lr_seed_sweep(p, lrs, key=key, num_seeds=20, num_steps=4000)
        np.testing.assert_array_equal(res.trapped_fraction, [0, 0, 1, 1])
        # trapped runs sit in the zone at loss 1; the others oscillate around r*
        assert np.all(np.asarray(res.final_loss[2:]) == 1.0)
        assert np.all(np.asarray(res.final_loss[:2]) < 1.0)
    # seed j starts from init(split(key, num_seeds)[j]); a converging member of the sweep is
    # its single run to rounding. Above η_c the iteration oscillates chaotically before it is
    # trapped (which member it lands on depends on the last bit: the vmapped and the single
    # program round differently unless XLA compiles them alike), so a trapped member is
    # compared by outcome: its single run is trapped too.
    k3 = jr.split(key, 20)[3]
    for i in (0, 1):
        one = dynamics.run(
            p, p.init(k3), dynamics.GD(learning_rate=lrs[i]), num_steps=4000, key=jr.key(0)
        )
        assert float(one.params) == pytest.approx(float(res.final_r[i, 3]), rel=1e-12)
    one = dynamics.run(
        p, p.init(k3), dynamics.GD(learning_rate=lrs[2]), num_steps=4000, key=jr.key(0)
    )
    assert bool(p.in_no_learning_zone(one.params)) and float(one.loss[-1]) == 1.0
    # the single-T bisection (T = 200 here) lands within 5% of 3π⁴/(32T⁴)
    guess = float(ghost.critical_lr(200.0))
    ec = ghost.bisect_critical_lr(
        p, key=key, num_seeds=20, lo=guess / 4, hi=guess * 4, num_steps=4000, num_iters=20
    )
    assert float(ec) / guess == pytest.approx(1.0, abs=0.05)


def test_critical_lr_scaling():
    """Acceptance: log-log slope of bisected η_c over T ∈ [10, 400] is −4.00 ± 0.05 (and −5
    unnormalized); the bisected value is within 5% of 3π⁴/(32T⁴)."""
    key = jr.key(3)
    delays = jnp.geomspace(10.0, 400.0, 6)
    ec = ghost.critical_lr_vs_delay(delays, key=key, num_steps=4000, num_iters=25)
    slope = np.polyfit(np.log(delays), np.log(ec), 1)[0]
    assert abs(slope + 4) < 0.05
    np.testing.assert_allclose(ec / ghost.critical_lr(delays), 1.0, atol=0.05)
    ec5 = ghost.critical_lr_vs_delay(
        delays, key=key, num_steps=4000, num_iters=25, normalized=False
    )
    assert abs(np.polyfit(np.log(delays), np.log(ec5), 1)[0] + 5) < 0.05


@pytest.mark.usefixtures("own_checks")
def test_bad_input():
    with pytest.raises(ValueError, match="^time"):
        ghost.canonical_ghost(time="leapfrog")
    with pytest.raises(ValueError, match="^delay"):
        ghost.canonical_ghost(-1.0)
    with pytest.raises(ValueError, match="^dt"):
        ghost.canonical_ghost(10.05, dt=0.1)
    with pytest.raises(ValueError, match="^confidence"):
        ghost.canonical_ghost(confidence=0.0)
    with pytest.raises(ValueError, match="^dt"):
        ghost.escape_time(1.0, dt=-0.1)
    with pytest.raises(ValueError, match="^threshold"):
        ghost.escape_time(1.0, dt=0.1)
    with pytest.raises(ValueError, match="^window"):
        ghost.critical_lr_vs_delay([10.0], key=jr.key(0), window=1.0, window_ratio=0.5)
    with pytest.raises(ValueError, match="^bracket"):
        ghost.critical_lr_vs_delay([10.0], key=jr.key(0), bracket=1.0)
    limit = ghost.canonical_ghost(time="limit")
    with pytest.raises(ValueError, match="^num_steps"):
        ghost.lr_seed_sweep(limit, [1.0], key=jr.key(0), num_seeds=2, num_steps=0)
    with pytest.raises(ValueError, match="^num_seeds"):
        ghost.lr_seed_sweep(limit, [1.0], key=jr.key(0), num_seeds=0, num_steps=5)
    with pytest.raises(ValueError, match="^learning_rates"):
        ghost.lr_seed_sweep(limit, [-1.0], key=jr.key(0), num_seeds=2, num_steps=5)
    with pytest.raises(TypeError, match="^key"):
        ghost.lr_seed_sweep(limit, [1.0], key=None, num_seeds=2, num_steps=5)
    with pytest.raises(TypeError, match="^key"):
        ghost.bisect_critical_lr(limit, key=0, num_seeds=2, lo=1.0, hi=2.0, num_steps=5)
    net = problems.leaky_rnn(num_units=10)
    with pytest.raises(ValueError, match="^record_every"):
        ghost.train_gd(net, {}, learning_rate=0.1, num_steps=10, record_every=3, key=jr.key(0))
    with pytest.raises(ValueError, match="^num_steps"):
        ghost.train_gd(net, {}, learning_rate=0.1, num_steps=0, key=jr.key(0))
    with pytest.raises(ValueError, match="^learning_rate"):
        ghost.train_gd(net, {}, learning_rate=-0.1, num_steps=10, key=jr.key(0))
    with pytest.raises(TypeError, match="^key"):
        ghost.rnn_sweep(net, [0.1], key=None, num_seeds=2, num_steps=10, record_every=5)
    with pytest.raises(ValueError, match="^problem"):
        net2 = problems.leaky_rnn(num_units=10, rank=2)
        ghost.kappa_flow(net2, net2.init(jr.key(0)), 0.0)
