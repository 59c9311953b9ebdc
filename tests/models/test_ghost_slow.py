"""Ghosts inside the trained rank-one RNN (N = 100, α = 0.5, T = 20, x₀ = −0.3·𝟙, readout
σ(10(κ − 1))): folds crossed by training, located by continuation along the training path,
and the passage time through the ghost against the canonical π/(2√(a r)).

Setting (3 seeds, `jr.split(jr.key(1), 8)[[0, 4, 7]]`): full-batch GD at lr 0.1 (above the
critical learning rate: after the abrupt drop GD throws the network back onto the plateau),
1500 steps, params saved every step. All of these are `slow` (the training run's
compilation is ~20 s of XLA compile); fig46's claims cover the fold and the passage time in
the default run. The independent reference throughout is the exact 1-D
reduction f(κ) = −κ + nᵀtanh(mκ + b) (`kappa_flow`): its zeros on a grid count the fixed
points, f = f' = 0 is a fold, a·r = α² f''(κ*) f(κ*)/2 at the minimum κ* of f (scipy).

Measured (these seeds, float64):
- the learning drop (first loss < 0.5, at steps 1218, 1094, 1442) crosses NO fold: the
  plateau's single stable fixed point moves across the readout threshold; the branch
  continued across the drop has no turning point (slow test; also at lr 0.003, 0.014 and
  0.02 with seeds `jr.split(jr.key(0), 4)`: one fixed point before and after every drop).
  The saddle-node comes later: the first change of the fixed-point count after the drop
  (1 → 3) is between steps 1230/1231, 1115/1116 and 1485/1486, and the loss jumps to > 0.99
  at step 1232, 1117 and 1486: the fold is crossed at the trapping jump, 0-2 steps before
  the output locks off. Continuation from the new saddle back along the path finds it at
  fractional training steps inside those brackets, with |f(κ_f)|, |f'(κ_f)| < 1e-12.
- at p = p_fold − 10⁻³ steps (the ghost side) the ghost is a local minimum of q with q > 0
  and one marginal eigenvalue; the normal form's a·r equals the 1-D reference to 1e-9
  (relative); the network's passage through |s − s*| ≤ Y, Y = 30√(r/a), takes (half of it)
  528.4, 609.4 and 296.9 steps against the normal form's window times 528.0, 608.8 and
  294.6 (0.1-0.8 %) and π/(2√(a r)) = 539.4, 622.0 and 301.0 (1.4-2.0 % more: the window's
  1/(aY) = 11.4, 13.2 and 6.4 steps).
- the slow test repeats this at the paper's failure learning rate 0.02 (Fig. 3B).

Tolerances: the window time of the quadratic normal form is exact up to the cubic term
c s³, whose first-order effect cancels over the symmetric window, leaving a relative error
of order (cY/a)² (≈ 0.01 here), plus the per-step change of the speed, √(a r) ≲ 0.005, and
the linear interpolation of the two crossings (< 1 step): tolerance 3(cY/a)² + 0.5 % + 1
step. Against π/(2√(a r)) the finite window adds 1/(aY) (the normal form's own shortfall,
5-7 steps here), so the tolerance is that plus the same.

The RNN's critical learning rate (`rnn_critical_lr`, a grid bisection on log η of vmapped
runs, delays as data through `DelayedActivation`): on a 20-unit network at T ∈ {3, 4}
(1000 GD steps, 4 seeds), its last bracket against a dense `rnn_sweep` of the T = 4
network itself classified by `classify_runs`; the masked loss against
`leaky_rnn(delay=T).loss`.

Any rank (`find_fold_crossing`, `output_diagnostics`): a rank-two network of 4 units in two
blocks, whose fixed points, fold (p_f = √2 − atanh(1/√2) along b₁ = −p) and ghost (a·r of
the 1-D map's extremum, scipy) are closed forms; the diagnostics against the map run by hand
in numpy and a central difference of the loss; a trained rank-two network (slow) checked in
its 2-D reduction f(κ) = −κ + nᵀtanh(mκ + b) (scipy `root`).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.optimize as so

from toymodels.models import ghost
from toymodels.problems import leaky_rnn


LR = 0.1
NUM_STEPS = 1500
SEEDS = (0, 4, 7)  # the slow tests; the default run checks seed 4 (fold at step 1115.8)
DEFAULT_SEED, DEFAULT_STEPS = 4, 1200
DELTA = 1e-3  # distance to the fold along the training path, in steps
GRID = jnp.linspace(-12.0, 12.0, 2401)
SEARCH = 400  # checkpoints after the drop searched for the fold


@pytest.fixture(scope="module")
def rnn():
    return leaky_rnn()


@eqx.filter_jit
def _zero_counts(rnn, params):
    """Sign changes of the 1-D flow f on GRID at every checkpoint (the reference count)."""

    def count(p):
        f = ghost.kappa_flow(rnn, p, GRID)
        return jnp.sum(jnp.diff(jnp.sign(f)) != 0)

    return jax.lax.map(count, params)


def _sub(ck, idx):
    return ck.take(idx)


@eqx.filter_jit
def _derivatives(rnn, params, kappa):
    """f, f', f'' of the 1-D flow at `kappa`."""

    def f(k):
        return ghost.kappa_flow(rnn, params, k)

    return f(kappa), jax.grad(f)(kappa), jax.grad(jax.grad(f))(kappa)


def _kappa_min(rnn, params, kappa0):
    def df(k):
        return float(_derivatives(rnn, params, jnp.asarray(k))[1])

    return so.brentq(df, kappa0 - 0.5, kappa0 + 0.5, xtol=1e-14)


def _fold_bracket(rnn, ck, *, search):
    """The drop (first loss < 0.5) and the first checkpoint pair (j, j + 1) after it where
    the reference count of fixed points goes 1 → 3 (`search` checkpoints are looked at)."""
    loss = np.asarray(ck.loss)
    drop = int(np.nonzero(loss < 0.5)[0][0])
    last = ck.steps.shape[0] - 1
    near_drop = np.minimum(np.arange(drop - 1, drop + search), last)  # one shape
    nz = np.asarray(_zero_counts(rnn, _sub(ck, near_drop).params))
    j = drop + int(np.nonzero((nz[1:-1] == 1) & (nz[2:] == 3))[0][0])
    trap = j + int(np.nonzero(loss[j:] > 0.99)[0][0])
    return drop, j, trap, nz[:2]


def _analyse(rnn, fold_ck):
    """Continue the new saddle of `fold_ck.at(1)` back along the path to the fold, find the
    ghost at `DELTA` steps before the fold, its normal form and the network's passage."""
    fp_after = ghost.network_fixed_points(rnn, fold_ck.at(1))
    saddle = fp_after.points[int(np.nonzero(np.asarray(fp_after.unstable_dims) == 1)[0][0])]
    branch = ghost.training_branch(rnn, fold_ck, saddle, start=1, direction=-1)
    path = ghost.training_path(rnn, fold_ck)
    near = path.params_at(float(branch.folds[0]) - DELTA)
    visited = ghost.visited_states(rnn, near)[1:]  # the same shape: one compiled search
    fp = ghost.network_fixed_points(
        rnn, near, initial_states=jnp.concatenate([branch.fold_states[:1], visited])
    )
    dist = np.max(np.abs(np.asarray(fp.points - branch.fold_states[0])), axis=1)
    g = int(np.argmin(np.where(np.asarray(fp.is_ghost), dist, np.inf)))
    form = ghost.normal_form(ghost.state_map, fp.points[g], args=(rnn, near))
    window = 30.0 * float(np.sqrt(form.r / form.a))
    # long enough for 4 predicted passages, in multiples of 3000 steps (few programs)
    num_steps = 3000 * int(np.ceil(4.0 * float(form.passage_time) / 3000))
    passage = ghost.measure_passage(rnn, near, form, window=window, num_steps=num_steps)
    return dict(
        fp_after=fp_after,
        branch=branch,
        path=path,
        near=near,
        fp=fp,
        g=g,
        form=form,
        window=window,
        passage=passage,
    )


def _run(rnn, seed, num_steps):
    k = jr.split(jr.key(1), 8)[seed]
    ck = ghost.training_checkpoints(rnn, rnn.init(k), learning_rate=LR, num_steps=num_steps, key=k)
    drop, j, trap, drop_nz = _fold_bracket(rnn, ck, search=SEARCH)
    run = dict(ck=ck, drop=drop, j=j, trap=trap, drop_nz=drop_nz)
    run.update(_analyse(rnn, _sub(ck, [j, j + 1])))
    return run


@pytest.fixture(scope="module")
def one_run(rnn):
    return [_run(rnn, DEFAULT_SEED, DEFAULT_STEPS)]


@pytest.fixture(scope="module")
def runs(rnn):
    return [_run(rnn, s, NUM_STEPS) for s in SEEDS]


def _check_fold(rnn, run):
    j, br = run["j"], run["branch"]
    # the fold lies between the checkpoints where the fixed-point count changes ...
    assert br.folds.shape == (1,) and bool(br.fold_converged[0])
    assert j < float(br.folds[0]) < j + 1
    # the 1-D reference: f = f' = 0 at the fold
    pf = run["path"].params_at(br.folds[0])
    kf = br.fold_states[0] @ pf["n"][:, 0]
    f, df, _ = _derivatives(rnn, pf, jnp.asarray(kf))
    assert abs(float(f)) < 1e-10 and abs(float(df)) < 1e-8
    # after the jump: a saddle with one unstable direction beside a stable point (the third
    # fixed point, far off, is not near the visited states)
    fa = run["fp_after"]
    assert np.all(np.asarray(fa.is_fixed)) and set(np.asarray(fa.unstable_dims)) == {0, 1}
    # the branch: the saddle (1 unstable direction) turns into the stable node at the fold
    np.testing.assert_array_equal(np.unique(np.asarray(br.unstable_dims)), [0, 1])


def _check_passage(rnn, run):
    form, ps, fp, g = run["form"], run["passage"], run["fp"], run["g"]
    assert bool(fp.is_ghost[g]) and int(fp.marginal_dims[g]) == 1
    assert abs(float(form.centre_eigenvalue) - 1.0) < 1e-3
    # the normal form against the exact 1-D reduction
    near = run["near"]
    k_star = _kappa_min(rnn, near, float(fp.points[g] @ near["n"][:, 0]))
    f, _, d2f = _derivatives(rnn, near, jnp.asarray(k_star))
    ar_ref = rnn.alpha**2 * float(d2f) * float(f) / 2
    assert float(form.a * form.r) == pytest.approx(ar_ref, rel=1e-9)
    # the network's passage against the canonical model
    a, c, y = float(form.a), float(form.cubic), run["window"]
    rel = 3.0 * (c * y / a) ** 2 + 0.005
    meas, win, pred = float(ps.measured), float(ps.predicted_window), float(ps.predicted)
    assert np.isfinite(meas) and meas > 100.0
    assert abs(meas - win) <= rel * win + 1.0, (meas, win, rel)
    assert abs(meas - pred) <= float(ps.window_correction) + rel * pred + 1.0, (meas, pred)


def _fold_and_jump(rnn, runs):
    for run in runs:
        _check_fold(rnn, run)
        # the loss jumps back onto the plateau at most two steps after the fold
        assert run["trap"] - run["j"] <= 2 and float(run["ck"].loss[run["trap"]]) > 0.99


# slow since 2026-12-01: the shared training run's compilation is ~20 s of one worker and
# the suite is at its 10-minute budget; the same fold and passage on the trained network are
# claimed in the default run by figures/fig46 (against the network's normal form)
@pytest.mark.slow
def test_fold_at_the_trapping_jump(rnn, one_run):
    _fold_and_jump(rnn, one_run)


@pytest.mark.slow
def test_passage_time_through_the_ghost(rnn, one_run):
    _check_passage(rnn, one_run[0])


@pytest.mark.slow
def test_fold_and_passage_three_seeds(rnn, runs):
    _fold_and_jump(rnn, runs)
    for run in runs:
        _check_passage(rnn, run)


@pytest.mark.slow
def test_no_fold_at_the_learning_drop(rnn, runs):
    """The plateau's single stable fixed point, continued across the drop, has no turning
    point: the drop is not a saddle-node."""
    for run in runs:
        np.testing.assert_array_equal(run["drop_nz"], [1, 1])
        drop_ck = _sub(run["ck"], [run["drop"] - 1, run["drop"]])
        fp = ghost.network_fixed_points(rnn, drop_ck.at(0))
        stable = fp.points[int(np.nonzero(np.asarray(fp.stable))[0][0])]
        br = ghost.training_branch(rnn, drop_ck, stable, start=0)
        assert br.stop_reason == "completed" and br.folds.shape == (0,)
        assert float(br.params[-1]) == pytest.approx(run["drop"])
        assert np.all(np.asarray(br.unstable_dims) == 0)  # one stable point throughout


@pytest.mark.slow
def test_paper_learning_rate_trapping_fold(rnn):
    """The paper's failure setting (lr 0.02, Fig. 3B), seeds `jr.split(jr.key(0), 4)`:
    training records every 20 steps find the drop and the trap; GD is re-run from the
    record before the trap with params every step (full-batch GD is deterministic, so this
    is the same trajectory); then the same checks as at lr 0.1 for every trapped seed with a
    1 → 3 change of the fixed-point count, and no fold at the drop."""
    keys = jr.split(jr.key(0), 4)
    checked = 0
    for k in keys:
        coarse = ghost.training_checkpoints(
            rnn, rnn.init(k), learning_rate=0.02, num_steps=8000, key=k, every=20
        )
        loss = np.asarray(coarse.loss)
        if not np.any(loss < 0.5) or loss[-1] < 0.99:
            continue  # learned (not trapped) within 8000 steps
        drop = int(np.nonzero(loss < 0.5)[0][0])
        start = drop - 1
        fine = ghost.training_checkpoints(
            rnn, coarse.at(start), learning_rate=0.02, num_steps=1000, key=k
        )
        fine = eqx.tree_at(lambda c: c.steps, fine, fine.steps + int(coarse.steps[start]))
        drop_f, j, trap, drop_nz = _fold_bracket(rnn, fine, search=1000)
        run = dict(ck=fine, drop=drop_f, j=j, trap=trap, drop_nz=drop_nz)
        run.update(_analyse(rnn, _sub(fine, [j, j + 1])))
        run["j"] = float(fine.steps[j])  # in training steps
        _check_fold(rnn, run)
        _check_passage(rnn, run)
        np.testing.assert_array_equal(drop_nz, [1, 1])
        checked += 1
    assert checked >= 3


# ------------------------------------------------------ the RNN's critical learning rate
# A 20-unit rank-one network (the paper's α, x₀ and readout) at T ∈ {3, 4}, 1000 GD steps,
# 4 seeds: small enough for the default run. The reference is independent of the
# bisection's program: `rnn_sweep` on `leaky_rnn(delay=4)` itself (not the masked
# `DelayedActivation`) over a dense grid of learning rates, classified by `classify_runs`
# (trapped: final loss > 0.5 with gradient norm < 1e-6) or a non-finite loss.
CRIT_DELAYS, CRIT_BRACKET, CRIT_STEPS, CRIT_SEEDS = (3, 4), (0.1, 0.5), 1000, 4


@pytest.fixture(scope="module")
def critical():
    net = leaky_rnn(num_units=20, delay=max(CRIT_DELAYS))
    res = ghost.rnn_critical_lr(
        net,
        CRIT_DELAYS,
        learning_rates=CRIT_BRACKET,
        key=jr.key(3),
        num_seeds=CRIT_SEEDS,
        num_steps=CRIT_STEPS,
        num_lrs=4,
        num_rounds=2,
        num_bootstrap=200,
    )
    return net, res


def test_delayed_activation_is_the_delay_task(key):
    """The masked loss at T < T_max and at T = T_max against `leaky_rnn(delay=T).loss`."""
    net = leaky_rnn(num_units=6, delay=5)
    params = net.init(key)
    params = {**params, "b": 0.3 * jr.normal(jr.fold_in(key, 1), (6,))}
    delays = (2, 5)

    @jax.jit
    def losses(params):
        masked = jax.vmap(lambda t: ghost.DelayedActivation(rnn=net, delay=t).loss(params))
        direct = [leaky_rnn(num_units=6, delay=t).loss(params) for t in delays]
        return masked(jnp.asarray(delays, float)), jnp.stack(direct)

    masked, direct = losses(params)
    np.testing.assert_allclose(np.asarray(masked), np.asarray(direct), rtol=1e-13)
    assert np.all(np.asarray(direct) > 0.1)  # not trivially equal


def test_rnn_critical_lr_against_a_dense_sweep(critical):
    net, res = critical
    lo, hi, eta = (np.asarray(a) for a in (res.lower, res.upper, res.critical_lr))
    assert np.all((CRIT_BRACKET[0] <= lo) & (lo < eta) & (eta < hi) & (hi <= CRIT_BRACKET[1]))
    # two rounds of 4 learning rates: the bracket shrinks by (4 - 1)·(4 + 1) in log
    width = np.log(CRIT_BRACKET[1] / CRIT_BRACKET[0]) / 15
    np.testing.assert_allclose(np.log(hi / lo), width, rtol=1e-9)
    # the reference: rnn_sweep of the T = 4 network itself, the same seeds (same key)
    dense = np.geomspace(*CRIT_BRACKET, 10)
    lrs = np.concatenate([dense, [lo[1], hi[1]]])
    hist = ghost.rnn_sweep(
        net, lrs, key=jr.key(3), num_seeds=CRIT_SEEDS, num_steps=CRIT_STEPS, record_every=CRIT_STEPS
    )
    out = ghost.classify_runs(hist)
    failed = np.asarray(out.trapped) | ~np.isfinite(np.asarray(hist.final_loss))
    frac = failed.mean(-1)
    # the bisected bracket: below half the seeds fail at its lower end, at least half at
    # its upper end ...
    assert frac[-2] < 0.5 <= frac[-1], frac
    # ... and the dense grid's first crossing overlaps it
    k = int(np.nonzero(frac[:10] >= 0.5)[0][0])
    assert k > 0 and dense[k - 1] <= hi[1] and lo[1] <= dense[k], (dense, frac, lo, hi)
    # the exponent: the least-squares slope through the two bisected values, its error a
    # positive number
    slope = np.log(eta[1] / eta[0]) / np.log(4 / 3)
    assert float(res.exponent) == pytest.approx(slope, rel=1e-12)
    assert float(res.exponent_error) > 0 and np.isfinite(float(res.bootstrap_error))


def test_rnn_critical_lr_bad_input(critical):
    net, _ = critical
    kw = dict(key=jr.key(3), num_seeds=CRIT_SEEDS, num_steps=CRIT_STEPS, num_lrs=4)
    with pytest.raises(ValueError, match="^delays: must be at most"):
        ghost.rnn_critical_lr(net, (3, 9), learning_rates=CRIT_BRACKET, **kw)
    with pytest.raises(ValueError, match="^learning_rates: must be finite and > 0"):
        ghost.rnn_critical_lr(net, CRIT_DELAYS, learning_rates=(-0.1, 0.5), **kw)
    with pytest.raises(ValueError, match="^learning_rates: expected"):
        ghost.rnn_critical_lr(net, CRIT_DELAYS, learning_rates=(0.5, 0.1), **kw)
    with pytest.raises(ValueError, match="^learning_rates: expected .* shape"):
        ghost.rnn_critical_lr(net, CRIT_DELAYS, learning_rates=(0.1, 0.2, 0.3), **kw)
    # a bracket far below the critical learning rate: no run fails (the same program)
    with pytest.raises(ValueError, match="^learning_rates: .* does not bracket"):
        ghost.rnn_critical_lr(net, CRIT_DELAYS, learning_rates=(1e-4, 2e-4), num_rounds=1, **kw)


# ---------------------------------------------------------------- any rank
# A rank-two network of N = 4 units in two blocks of two, m = diag blocks (c₁, c₂), n the
# block means, b = (b₁, b₁, b₂, b₂): on the invariant subspace x = (u, u, v, v) the map is
# u ← u + α(−u + tanh(c₁u + b₁)) and the same for v (the directions x₀ − x₁, x₂ − x₃ decay
# by 1 − α). With c₁ = 2 the u-equation has three fixed points for |b₁| < b_f and one beyond,
# b_f = √2 − atanh(1/√2) (tangency at u = 1/√2, where c₁(1 − u²) = 1); c₂ = 1/2 gives one v.
# Along b₁(p) = −p (two checkpoints, p = 0 and 1) the saddle u and the upper node u meet at
# p_f = b_f: the closed form. The ghost just past it is the 1-D one (scipy reference).
C1, C2, B2, ALPHA2 = 2.0, 0.5, 0.1, 0.5
P_FOLD = float(np.sqrt(2.0) - np.arctanh(1.0 / np.sqrt(2.0)))


def _block_params(b1):
    m = jnp.asarray([[C1, 0.0], [C1, 0.0], [0.0, C2], [0.0, C2]])
    n = jnp.asarray([[0.5, 0.0], [0.5, 0.0], [0.0, 0.5], [0.0, 0.5]])
    return {"m": m, "n": n, "b": jnp.asarray([b1, b1, B2, B2])}


@pytest.fixture(scope="module")
def block_net():
    net = leaky_rnn(num_units=4, rank=2, alpha=ALPHA2, delay=3)
    p0, p1 = _block_params(0.0), _block_params(-1.0)
    ck = ghost.Checkpoints(
        steps=jnp.asarray([0, 1]),
        params=jax.tree.map(lambda a, b: jnp.stack([a, b]), p0, p1),
        loss=jnp.asarray([net.loss(p0), net.loss(p1)]),
        stop_reason=ghost.training_checkpoints(
            net, p0, learning_rate=1e-3, num_steps=1, key=jr.key(0)
        ).stop_reason,
    )
    u = np.linspace(-0.99, 0.99, 23)
    starts = jnp.asarray(np.stack([u, u + 0.01, np.zeros_like(u), np.full_like(u, 0.02)], 1))
    return net, ck, starts


def _u_roots(b1):
    """Fixed points of u = tanh(c₁u + b₁) (scipy brentq on the sign changes of a grid)."""
    g = lambda u: np.tanh(C1 * u + b1) - u  # noqa: E731
    grid = np.linspace(-0.999, 0.999, 2001)
    s = np.sign(g(grid))
    return [so.brentq(g, grid[i], grid[i + 1], xtol=1e-15) for i in np.nonzero(s[:-1] != s[1:])[0]]


def test_rank_two_fixed_points_fold_and_ghost(block_net):
    net, ck, starts = block_net
    v = so.brentq(lambda v: np.tanh(C2 * v + B2) - v, -1, 1, xtol=1e-15)
    # the fixed points at p = 0 (three) against the 1-D roots, and their types
    fp = ghost.network_fixed_points(net, ck.at(0), initial_states=starts)
    fixed = np.asarray(fp.points)[np.asarray(fp.is_fixed)]
    roots = _u_roots(0.0)
    assert len(roots) == 3 and fixed.shape[0] == 3
    for u in roots:
        x = np.asarray([u, u, v, v])
        i = int(np.argmin(np.max(np.abs(fixed - x), axis=1)))
        assert np.max(np.abs(fixed[i] - x)) < 1e-8
        # the u-direction's map eigenvalue 1 − α + α c₁(1 − u²): unstable iff > 1
        unstable = int((1 - ALPHA2 + ALPHA2 * C1 * (1 - u**2)) > 1)
        j = int(np.nonzero(np.asarray(fp.is_fixed))[0][i])
        assert int(fp.unstable_dims[j]) == unstable
    # the fold crossed between the two checkpoints, at the closed-form p_f
    cross = ghost.find_fold_crossing(net, ck, start=0, num_checkpoints=2, initial_states=starts)
    assert np.asarray(cross.counts).tolist() == [3, 1] and cross.ghost_side == 1
    assert float(cross.fold) == pytest.approx(P_FOLD, abs=1e-8)
    xf = np.asarray(cross.branch.fold_states[0])
    assert np.max(np.abs(xf - [2**-0.5, 2**-0.5, v, v])) < 1e-6
    # the ghost past the fold: a·r of the normal form against the 1-D map's minimum
    delta = 1e-3
    near = _block_params(-(P_FOLD + delta))
    fpg = ghost.network_fixed_points(net, near, initial_states=starts)
    g = int(np.nonzero(np.asarray(fpg.is_ghost))[0][0])
    form = ghost.normal_form(ghost.state_map, fpg.points[g], args=(net, near))
    b1 = -(P_FOLD + delta)

    def speed(u):  # the 1-D map's u_{t+1} − u_t; past this fold its maximum is < 0
        return ALPHA2 * (np.tanh(C1 * u + b1) - u)

    best = so.minimize_scalar(
        lambda u: -speed(u), bounds=(0.5, 0.9), method="bounded", options={"xatol": 1e-12}
    )
    h = 1e-4
    curv = (speed(best.x + h) - 2 * speed(best.x) + speed(best.x - h)) / h**2
    # s -> -s orients a > 0: r = −max(speed) > 0, a·r = speed''·speed/2; the unit slow
    # direction is (1, 1, 0, 0)/√2, so s = √2·u and r is √2 times the u-speed (a·r is
    # invariant: the passage time does not depend on the coordinate's scale)
    assert float(form.r) == pytest.approx(-np.sqrt(2.0) * speed(best.x), rel=1e-6)
    assert float(form.a * form.r) == pytest.approx(curv / 2 * speed(best.x), rel=1e-5)


def test_find_fold_crossing_bad_input(block_net):
    net, ck, starts = block_net
    same = ck.take([0, 0])
    with pytest.raises(ValueError, match="^start: must be"):
        ghost.find_fold_crossing(net, ck, start=1, num_checkpoints=2, initial_states=starts)
    with pytest.raises(ValueError, match="^num_checkpoints: must be"):
        ghost.find_fold_crossing(net, ck, start=0, num_checkpoints=1, initial_states=starts)
    flat = ghost.Checkpoints(
        steps=jnp.asarray([0, 1]),
        params=same.params,
        loss=same.loss,
        stop_reason=ck.stop_reason,
    )
    with pytest.raises(ValueError, match="^checkpoints: the number of fixed points"):
        ghost.find_fold_crossing(net, flat, start=0, num_checkpoints=2, initial_states=starts)


EPS = 1e-6  # central-difference step (‖∇L‖ ~ 5e-7 here: rounding ~2e-4 relative)


def test_output_diagnostics_against_numpy(block_net):
    net, ck, _ = block_net
    diag = ghost.output_diagnostics(net, ck)
    loss = eqx.filter_jit(lambda p: net.loss(p))
    grad = eqx.filter_jit(jax.grad(lambda p: net.loss(p)))
    for i in range(2):
        p = jax.tree.map(np.asarray, ck.at(i))
        w = p["m"] @ p["n"].T
        x, ys = np.asarray(net.x0), []
        for _ in range(2 * net.delay):  # the map by hand, readout σ(10(κ₁ − 1))
            x = (1 - ALPHA2) * x + ALPHA2 * np.tanh(w @ x + p["b"])
            ys.append(1 / (1 + np.exp(-10 * (x @ p["n"][:, 0] - 1))))
        ys = np.asarray(ys)
        target = np.arange(1, 2 * net.delay + 1) > net.delay
        wrong = (ys > 0.5) != target
        assert float(diag.wrong_fraction[i]) == pytest.approx(wrong.mean(), abs=1e-15)
        conf = np.abs(2 * ys - 1)[wrong].mean() if wrong.any() else 0.0
        assert float(diag.wrong_confidence[i]) == pytest.approx(conf, rel=1e-12)
        # ‖∇L‖ against a central difference of the loss along the gradient's direction
        g = grad(ck.at(i))
        gn = float(diag.grad_norm[i])
        step = jax.tree.map(lambda a, gn=gn: EPS * a / gn, g)
        lp = loss(jax.tree.map(jnp.add, ck.at(i), step))
        lm = loss(jax.tree.map(jnp.subtract, ck.at(i), step))
        assert float((lp - lm) / (2 * EPS)) == pytest.approx(gn, rel=2e-3)


def _latent_roots(params, grid):
    """Zeros of the K-dim reduction f(κ) = −κ + nᵀtanh(mκ + b) of a rank-K network
    (scipy `root` from every start of `grid`, unique to 1e-6): its fixed points."""
    m, n, b = (np.asarray(params[k]) for k in ("m", "n", "b"))

    def f(k):
        return -k + n.T @ np.tanh(m @ k + b)

    def jac(k):
        return -np.eye(k.size) + n.T @ ((1 - np.tanh(m @ k + b) ** 2)[:, None] * m)

    roots = []
    for k0 in grid:
        sol = so.root(f, k0, jac=jac, tol=1e-13)
        if sol.success and np.max(np.abs(f(sol.x))) < 1e-10:
            if not any(np.max(np.abs(sol.x - r)) < 1e-6 for r in roots):
                roots.append(sol.x)
    return np.asarray(roots), f, jac


@pytest.mark.slow
def test_rank_two_trained_fold_after_the_drop():
    """Rank two, seed 1 (the fig47 network): no fold at the drop, a fold after it, located
    in the N-dim state and checked in the 2-D reduction: f(κ_f) = 0, det J_f(κ_f) = 0, and
    the number of zeros of f on a grid of starts changes across the bracket."""
    net = leaky_rnn(rank=2)
    k = jr.split(jr.key(1), 8)[1]
    ck = ghost.training_checkpoints(net, net.init(k), learning_rate=LR, num_steps=1500, key=k)
    drop = int(np.nonzero(np.asarray(ck.loss) < 0.5)[0][0])
    cross = ghost.find_fold_crossing(net, ck, start=drop - 1, num_checkpoints=200)
    j = int(cross.bracket[0])
    assert j > drop  # the structure does not change at the drop
    # the same bracket by stride + bisection
    coarse = ghost.find_fold_crossing(net, ck, start=drop - 1, num_checkpoints=200, stride=16)
    assert int(coarse.bracket[0]) == j
    assert float(coarse.fold) == pytest.approx(float(cross.fold), abs=1e-8)
    path = ghost.training_path(net, ck.take(np.asarray(cross.bracket)))
    pf = path.params_at(cross.fold)
    kf = np.asarray(cross.branch.fold_states[0]) @ np.asarray(pf["n"])
    _, f, jac = _latent_roots(pf, [])
    assert np.max(np.abs(f(kf))) < 1e-9
    assert abs(np.linalg.det(jac(kf))) < 1e-7
    g = np.linspace(-12.0, 12.0, 13)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    before = _latent_roots(ck.at(j), grid)[0]
    after = _latent_roots(ck.at(j + 1), grid)[0]
    assert abs(len(after) - len(before)) == 2
    # the network's search saw the change in the same direction
    assert np.sign(int(cross.counts[1]) - int(cross.counts[0])) == np.sign(len(after) - len(before))
