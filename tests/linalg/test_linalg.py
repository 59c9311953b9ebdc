"""toymodels.linalg: operators, Lanczos, eigsh against dense eigh and matfree."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from toymodels import rmt
from toymodels.linalg import (
    FunctionOperator,
    diagonal,
    eigsh,
    frobenius_squared,
    lanczos,
    restricted_positive_fraction,
    spectral_density,
    trace,
    trace_frobenius_ratio,
    wolkowicz_styan,
)


def _rotated(key, eigs):
    n = eigs.shape[0]
    q, _ = jnp.linalg.qr(jr.normal(key, (n, n)))
    return (q * eigs) @ q.T


@pytest.fixture(scope="module")
def sym():
    b = jr.normal(jr.key(11), (60, 60))
    return (b + b.T) / 2


def test_full_lanczos_reproduces_eigh(sym, key):
    n = sym.shape[0]
    res = lanczos(sym, jr.normal(key, (n,)), n, key=jr.key(101))
    np.testing.assert_allclose(
        np.linalg.eigvalsh(res.tridiagonal()), np.linalg.eigvalsh(sym), atol=1e-10
    )
    q = np.asarray(res.basis)
    np.testing.assert_allclose(q @ q.T, np.eye(n), atol=1e-10)
    np.testing.assert_allclose(q @ np.asarray(sym) @ q.T, res.tridiagonal(), atol=1e-10)
    vals, vecs, r = eigsh(sym, n, key=jr.key(102))
    np.testing.assert_allclose(vals, np.linalg.eigvalsh(sym)[::-1], atol=1e-10)


def test_eigsh_extremal_and_warm_start(sym, key):
    w = np.linalg.eigvalsh(sym)
    k1, k2 = jr.split(key)
    vals, vecs, res, info = eigsh(sym, 4, key=k1, num_steps=20, tol=1e-10, return_info=True)
    np.testing.assert_allclose(vals, w[::-1][:4], atol=1e-9)
    assert bool(info["converged"]) and np.all(np.asarray(res) <= 1e-10 * np.abs(w).max())
    vals, _, _ = eigsh(sym, 4, which="smallest", key=k2, num_steps=20, tol=1e-10)
    np.testing.assert_allclose(vals, w[:4], atol=1e-9)
    # warm start from the converged eigenvectors: converges in the first cycle
    _, _, _, info2 = eigsh(sym, 4, v0=vecs, key=k2, num_steps=20, tol=1e-10, return_info=True)
    assert int(info2["restarts"]) == 0 and int(info2["restarts"]) < int(info["restarts"])


def test_eigsh_stops_early_and_warm_starts_along_a_path(key):
    """The convergence test runs every step: a well-separated top pair converges before the
    basis is full, and a warm start from the eigenvectors at a nearby matrix (a step along
    a trajectory) takes a few products where a cold start takes a full cycle."""
    k1, k2, k3 = jr.split(key, 3)
    eigs = jnp.concatenate([jnp.array([10.0, 8.0, 6.0]), jr.uniform(k1, (197,))])
    a = _rotated(k2, eigs)
    p = jr.normal(k3, (200, 200))
    b = a + 1e-3 * (p + p.T) / 2  # the next point of the trajectory
    wb = np.linalg.eigvalsh(np.asarray(b))[::-1]
    vals, vecs, res, info = eigsh(a, 3, num_steps=40, tol=1e-10, return_info=True, key=jr.key(103))
    np.testing.assert_allclose(vals, [10.0, 8.0, 6.0], atol=1e-9)
    assert bool(info["converged"]) and int(info["num_matvecs"]) < 40
    cold = eigsh(b, 3, num_steps=40, tol=1e-10, return_info=True, key=jr.key(104))
    warm = eigsh(b, 3, num_steps=40, tol=1e-10, v0=vecs, return_info=True, key=jr.key(105))
    for v, _, r, inf in (cold, warm):
        np.testing.assert_allclose(v, wb[:3], atol=1e-9)
        assert bool(inf["converged"]) and np.all(np.asarray(r) <= 1e-10 * 10.5)
    assert int(warm[3]["num_matvecs"]) < int(cold[3]["num_matvecs"])
    # one vector, float32-like loose tolerance: a handful of products
    one = eigsh(b, 1, tol=1e-4, v0=vecs[:, 0], return_info=True, key=jr.key(106))[3]
    assert int(one["num_matvecs"]) <= 6


def test_eigsh_eigenvalue_stop_reaches_tol_in_fewer_products(key):
    """`stop="eigenvalue"` bounds the estimated eigenvalue error min(‖r‖, ‖r‖²/δ) instead of
    the residual: against dense `eigh`, every wanted eigenvalue is within tol·max|λ| and the
    run takes fewer products than the residual test at the same tol."""
    k1, k2 = jr.split(key)
    eigs = jnp.concatenate(
        [jnp.array([10.0, 9.0, 8.0]), jr.uniform(k1, (397,), minval=-1, maxval=5)]
    )
    a = _rotated(k2, eigs)
    w = np.sort(np.asarray(eigs))[::-1]
    for k, tol in ((1, 1e-4), (1, 1e-6), (3, 1e-4), (3, 1e-6)):
        runs = {
            stop: eigsh(a, k, tol=tol, stop=stop, key=jr.key(107), return_info=True)
            for stop in ("residual", "eigenvalue")
        }
        vals, _, res, info = runs["eigenvalue"]
        assert bool(info["converged"])
        assert np.max(np.abs(np.asarray(vals) - w[:k])) <= tol * w[0]
        # the residuals are looser than tol (that is the saving), the eigenvalues are not
        assert np.max(np.asarray(res)) > tol * w[0]
        assert int(info["num_matvecs"]) < int(runs["residual"][3]["num_matvecs"])


def test_eigsh_finds_both_copies_of_a_repeated_top_eigenvalue(key):
    """Lanczos from one vector sees one copy of a repeated eigenvalue, then breaks down on
    the invariant subspace; the cycle must go on with a fresh vector, not stop early.

    Without a breakdown (a repeated eigenvalue of a full-rank matrix) the second copy only
    appears through rounding: with 2 of 8 start keys `eigsh(k=2)` returns [5, 3], both
    genuine converged eigenpairs (the known limit of single-vector Lanczos, ARPACK's too).
    That case is not asserted; the breakdown case below is, for several start keys."""
    k2, *keys = jr.split(key, 5)
    low_rank = _rotated(k2, jnp.concatenate([jnp.array([4.0, 4.0, 1.0]), jnp.zeros(47)]))
    for k in keys:  # breaks down after 3 steps
        vals, _, _ = eigsh(low_rank, 2, num_steps=20, tol=1e-10, key=k)
        np.testing.assert_allclose(vals, [4.0, 4.0], atol=1e-9)


@pytest.mark.usefixtures("own_checks")
def test_operator_inputs_and_bad_input(sym):
    op = FunctionOperator(lambda v: sym @ v, sym.shape[0])

    class Obj:
        shape = sym.shape

        def matvec(self, v):
            return sym @ v

    v = jnp.ones(sym.shape[0])
    ref = lanczos(sym, v, 10, key=jr.key(109))
    for o in (op, Obj()):
        np.testing.assert_allclose(lanczos(o, v, 10, key=jr.key(110)).alpha, ref.alpha, atol=1e-12)
    np.testing.assert_allclose(op.to_dense(), sym, atol=1e-14)
    with pytest.raises(ValueError, match="^k"):
        eigsh(sym, 61, key=jr.key(111))
    with pytest.raises(ValueError, match="^op"):
        eigsh(jnp.ones((3, 4)), 1, key=jr.key(112))
    with pytest.raises(ValueError, match="^op"):
        eigsh(jnp.triu(sym), 1, key=jr.key(113))
    with pytest.raises(ValueError, match="^op"):
        eigsh(sym.at[0, 0].set(jnp.nan), 1, key=jr.key(114))
    with pytest.raises(ValueError, match="^which"):
        eigsh(sym, 1, which="middle", key=jr.key(115))


def test_low_rank_no_nan(key):
    x = jr.normal(key, (60, 3))
    a = x @ x.T
    vals, vecs, res = eigsh(a, 4, num_steps=20, key=jr.key(116))
    assert np.all(np.isfinite(vals)) and np.all(np.isfinite(vecs)) and np.all(np.isfinite(res))
    np.testing.assert_allclose(vals, np.linalg.eigvalsh(a)[::-1][:4], atol=1e-9)
    res = lanczos(a, jnp.ones(60), 60, key=jr.key(117))
    assert np.all(np.isfinite(res.alpha)) and np.all(np.isfinite(res.beta))
    assert np.sum(np.asarray(res.beta) == 0) >= 1
    zero = lanczos(jnp.zeros((5, 5)), jnp.ones(5), 5, key=jr.key(118))
    assert np.all(np.isfinite(zero.basis)) and np.all(np.asarray(zero.alpha) == 0)


# --- SLQ -------------------------------------------------------------------------------


def test_quadrature_exactness_and_matfree_agreement(key):
    """Σᵢ ωᵢ ℓᵢʲ = vᵀAʲv/‖v‖² for j ≤ 2m − 1 (same v), and the tridiagonal equals matfree's.
    m = 13 runs in a basis bucket of 16 rows: the padding must leave the quadrature exact."""
    from matfree import decomp

    k1, k2 = jr.split(key)
    b = jr.normal(k1, (100, 300))
    a = b @ b.T / 300
    v = jr.normal(k2, (100,))
    m = 13
    sd = spectral_density(a, num_steps=m, num_probes=1, key=key, v0=v[None])
    u = np.asarray(v) / np.linalg.norm(np.asarray(v))
    an = np.asarray(a)
    w = u.copy()
    for j in range(0, 2 * m):
        exact = u @ w  # uᵀ A^j u
        np.testing.assert_allclose(sd.moments(j)[0], exact, rtol=1e-10)
        w = an @ w
    res = lanczos(a, v, m, key=jr.key(119))
    ref = decomp.tridiag_sym(m, materialize=False)(lambda x: a @ x, v)
    diag, off = ref.J_small
    np.testing.assert_allclose(res.alpha, diag, atol=1e-10)
    np.testing.assert_allclose(res.beta, off, atol=1e-10)


def test_slq_breakdown_low_rank_no_nan(key):
    """Rank-3 matrix, 20 steps: the Krylov space is invariant after 4 steps; no NaN, the
    weights still sum to 1 and the quadrature is still exact."""
    k1, k2 = jr.split(key)
    x = jr.normal(k1, (40, 3))
    a = x @ x.T
    sd = spectral_density(a, num_steps=20, num_probes=3, key=k2)
    assert np.all(np.isfinite(sd.nodes)) and np.all(np.isfinite(sd.weights))
    np.testing.assert_allclose(np.sum(sd.weights, axis=1), 1.0, atol=1e-12)
    big = np.asarray(sd.weights) > 1e-10
    lam = np.linalg.eigvalsh(a)
    # nodes with weight are the 3 non-zero eigenvalues and 0
    for row_nodes, row_big in zip(np.asarray(sd.nodes), big):
        got = np.sort(row_nodes[row_big])
        np.testing.assert_allclose(got, np.sort(np.r_[0.0, lam[-3:]]), atol=1e-8)
    g = sd.grid(500)
    for kern in ("gaussian", "lorentzian"):
        d = sd.density(g, kernel=kern, sigma=0.5)
        assert np.all(np.isfinite(d))
        np.testing.assert_allclose(jnp.trapezoid(d, g), 1.0, rtol=1e-12)
    # zero matrix: immediate breakdown
    sd0 = spectral_density(jnp.zeros((6, 6)), num_steps=4, num_probes=1, key=k2)
    assert np.all(np.asarray(sd0.nodes) == 0) and np.all(np.isfinite(sd0.weights))


def _smooth(x, grid, sigma):
    g = np.exp(-0.5 * ((grid[:, None] - x[None, :]) / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma)
    return g.mean(axis=1)


@pytest.mark.slow  # the same check runs by default as fig10's claims (test_claims_and_figures)
def test_slq_marchenko_pastur_with_bbp_spike(key):
    """n = 2000 samples, p = 500 (γ = 0.25), covariance I + θ e₁e₁ᵀ with θ = 2: SLQ density
    vs the MP law (L1 < 0.1) and the top Ritz value vs the BBP outlier (2 %)."""
    n, p, theta = 2000, 500, 2.0
    gamma = p / n
    k1, k2 = jr.split(key)
    x = jr.normal(k1, (n, p))
    # plant the spike with its exact sample variance 1 + θ along e₁: removes the O(√(2/n))
    # χ² fluctuation of ‖Xe₁‖²/n (3 % at n = 2000) that would otherwise swamp a 2 % test
    col = x[:, 0] / jnp.linalg.norm(x[:, 0]) * np.sqrt(n * (1 + theta))
    x = x.at[:, 0].set(col)
    h = x.T @ x / n
    sd = spectral_density(h, num_steps=90, num_probes=10, key=k2)
    lo, hi = rmt.marchenko_pastur_edges(gamma)
    grid = np.linspace(lo - 0.3, hi + 0.3, 3000)
    sigma = 0.02
    est = np.asarray(sd.density(jnp.asarray(grid), sigma=sigma))
    fine = np.linspace(lo, hi, 20001)
    mp = rmt.marchenko_pastur_density(fine, gamma)
    mp_smooth = (
        np.exp(-0.5 * ((grid[:, None] - fine[None, :]) / sigma) ** 2)
        / (np.sqrt(2 * np.pi) * sigma)
        @ (mp * (fine[1] - fine[0]))
    )
    l1 = np.trapezoid(np.abs(est - mp_smooth), grid)
    assert l1 < 0.1, l1
    top = float(np.max(sd.nodes))
    pred = float(rmt.bbp_outlier(theta, gamma))
    assert abs(top / pred - 1) < 0.02, (top, pred)
    assert top > hi * 1.1  # separated from the bulk


@pytest.mark.slow
def test_slq_papyan_additive_spikes(key):
    """Papyan (2020) Fig. 15a: diag(5,4,3,0,…) + ZZᵀ/2000 has outliers θ²/(θ−1)."""
    n = 2000
    z = jr.normal(key, (n, n))
    y = z @ z.T / n
    y = y.at[jnp.arange(3), jnp.arange(3)].add(jnp.array([5.0, 4.0, 3.0]))
    sd = spectral_density(y, num_steps=90, num_probes=1, key=jr.fold_in(key, 1))
    top3 = np.sort(np.asarray(sd.nodes[0]))[::-1][:3]
    pred = rmt.additive_spike_outlier(np.array([5.0, 4.0, 3.0]))
    np.testing.assert_allclose(pred, [6.25, 16 / 3, 4.5], rtol=1e-12)
    np.testing.assert_allclose(top3, pred, rtol=0.02)


# --- trace estimators -------------------------------------------------------------------


@pytest.fixture(scope="module")
def rotated():
    """Spectrum 1/(i+1), n = 80, in a random basis (a diagonal matrix would make Rademacher
    Hutchinson exact)."""
    return _rotated(jr.key(5), 1.0 / (jnp.arange(80, dtype=float) + 1.0))


def test_hutchinson_within_three_stderr_and_variance_formula(rotated, key):
    a = np.asarray(rotated)
    tr = np.trace(a)
    k1, k2, k3, k4 = jr.split(key, 4)
    est, se = trace(rotated, num_probes=400, key=k1)
    assert abs(float(est) - tr) < 3 * float(se)
    # standard error vs 2(‖A‖²_F − Σ Aᵢᵢ²)/k (Rademacher) and 2‖A‖²_F/k (Gaussian)
    k = 20000
    _, se = trace(rotated, num_probes=k, key=k2)
    var = 2 * (np.sum(a * a) - np.sum(np.diag(a) ** 2))
    np.testing.assert_allclose(float(se) ** 2 * k, var, rtol=0.1)
    _, se = trace(rotated, num_probes=k, key=k3, probes="gaussian")
    np.testing.assert_allclose(float(se) ** 2 * k, 2 * np.sum(a * a), rtol=0.1)
    # Hutch++ with the same budget is within 3 standard errors and much tighter here
    est, se_pp = trace(rotated, num_probes=60, key=k4, method="hutch++")
    assert abs(float(est) - tr) < 3 * float(se_pp)
    _, se_h = trace(rotated, num_probes=60, key=k4)
    assert float(se_pp) < 0.5 * float(se_h)


def test_frobenius_and_diagonal(rotated, key):
    a = np.asarray(rotated)
    k1, k2 = jr.split(key)
    est, se = frobenius_squared(rotated, num_probes=400, key=k1)
    assert abs(float(est) - np.sum(a * a)) < 3 * float(se)
    est, se = diagonal(rotated, num_probes=400, key=k2)
    z = (np.asarray(est) - np.diag(a)) / np.asarray(se)
    assert np.mean(np.abs(z) < 3) > 0.95 and abs(np.mean(z)) < 0.5
    with pytest.raises(ValueError, match="^num_probes"):
        trace(rotated, num_probes=1, key=k1)
    with pytest.raises(ValueError, match="^method"):
        trace(rotated, num_probes=10, key=k1, method="magic")


# --- measures ----------------------------------------------------------------------------


def test_wolkowicz_styan_random_and_rank_one():
    rng = np.random.default_rng(0)
    for trial in range(100):
        n = int(rng.integers(2, 30))
        b = rng.normal(size=(n, n))
        a = b @ b.T if trial % 3 == 0 else (b + b.T) / 2
        w = np.linalg.eigvalsh(a)
        ws = wolkowicz_styan(np.trace(a), np.sum(a * a), n)
        tol = 1e-9 * max(1.0, np.abs(w).max())
        assert ws.lmax_lower - tol <= w[-1] <= ws.lmax_upper + tol
        assert ws.lmin_lower - tol <= w[0] <= ws.lmin_upper + tol
        assert ws.spread_lower - tol <= w[-1] - w[0] <= ws.spread_upper + tol
    v = rng.normal(size=7)
    a = np.outer(v, v)
    ws = wolkowicz_styan(np.trace(a), np.sum(a * a), 7)
    np.testing.assert_allclose(ws.lmax_upper, v @ v, rtol=1e-12)
    np.testing.assert_allclose(ws.lmin_upper, 0.0, atol=1e-12)  # the other n−1 are equal (0)
    with pytest.raises(ValueError, match="^n"):
        wolkowicz_styan(1.0, 1.0, 1)


def test_goldilocks_measures(key):
    # ρ = tr/‖·‖_F: √k for a rank-k PSD projector, 0 for a traceless matrix
    q, _ = jnp.linalg.qr(jr.normal(key, (30, 4)))
    np.testing.assert_allclose(trace_frobenius_ratio(q @ q.T), 2.0, rtol=1e-12)
    # GOE plus a shift: restricted positivity vs the semicircle prediction (±0.05)
    n, d = 400, 20
    b = jr.normal(jr.fold_in(key, 1), (n, n))
    goe = (b + b.T) / np.sqrt(2 * n)
    fracs = []
    for shift in (0.0, 0.05):
        a = goe + shift * jnp.eye(n)
        rho = float(trace_frobenius_ratio(a))
        fr, se = restricted_positive_fraction(a, d, key=jr.fold_in(key, 2), num_subspaces=40)
        pred = float(rmt.goldilocks_positive_fraction(rho, d))
        assert abs(float(fr) - pred) < 0.05 + 3 * float(se), (fr, pred)
        fracs.append(float(fr))
    assert fracs[1] > fracs[0] + 0.05
    with pytest.raises(ValueError, match="^d"):
        restricted_positive_fraction(goe, 0, key=key)
