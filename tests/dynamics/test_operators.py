"""Linearized update operators of the optimizer objects: stability edges, exceptional points,
non-normal measures, and the operators against the real optax iterations."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from derivations import optimizer_stability as theory
from toymodels import dynamics


BETAS = (0.0, 0.3, 0.9)
D = dynamics


def _make(name, learning_rate, beta):
    return {
        "gd": lambda: D.GD(learning_rate=learning_rate),
        "heavy_ball": lambda: D.HeavyBall(learning_rate=learning_rate, momentum=beta),
        "nesterov": lambda: D.Nesterov(learning_rate=learning_rate, momentum=beta),
        "ema_momentum": lambda: D.EMAMomentum(learning_rate=learning_rate, momentum=beta),
    }[name]()


def _edge_from_derivation(name, b):
    return {
        "gd": theory.gd_edge,
        "heavy_ball": lambda: theory.heavy_ball_edge(b),
        "nesterov": lambda: theory.nesterov_edge(b),
        "ema_momentum": lambda: theory.ema_momentum_edge(b),
    }[name]()


def _hb(x, beta):
    """The heavy-ball operator at ηh = x on a 1×1 Hessian h = 1."""
    return D.HeavyBall(learning_rate=x, momentum=beta).operator(jnp.array([[1.0]]))


@pytest.mark.parametrize("name", ["gd", "heavy_ball", "nesterov", "ema_momentum"])
@pytest.mark.parametrize("beta", BETAS)
def test_stability_edges(name, beta):
    """Acceptance: ρ(J) crosses 1 at ηh = 2, 2(1+β), (2+2β)/(1+2β), 2(1+β)/(1−β) (±0.1%),
    both as a learning rate at h = 1 (`threshold_product`) and as a curvature at fixed η
    (`stability_threshold` = threshold_product / η)."""
    if name == "gd" and beta:
        pytest.skip("GD has no momentum")
    edge = float(_make(name, 1.0, beta).threshold_product())
    np.testing.assert_allclose(edge, _edge_from_derivation(name, beta), rtol=1e-14)
    lr = 0.37
    crit = float(_make(name, lr, beta).stability_threshold())
    np.testing.assert_allclose(crit, _edge_from_derivation(name, beta) / lr, rtol=1e-14)
    h = jnp.array([[1.0]])
    for factor, stable in ((0.999, True), (1.001, False)):
        j = _make(name, edge * factor, beta).operator(h)
        assert (D.spectral_radius(j) < 1) == stable, (name, beta, factor)
        j = _make(name, lr, beta).operator(factor * crit * h)
        assert (D.spectral_radius(j) < 1) == stable, (name, beta, factor)


def test_edges_on_a_matrix_quadratic(key):
    """With a full Hessian the edge is set by λ_max: ηλ_max just below/above the threshold."""
    a = jr.normal(key, (6, 6))
    h = a @ a.T / 6
    lam = float(jnp.linalg.eigvalsh(h)[-1])
    for name, beta in (
        ("gd", 0.0),
        ("heavy_ball", 0.5),
        ("nesterov", 0.7),
        ("ema_momentum", 0.8),
    ):
        edge = float(_make(name, 1.0, beta).threshold_product()) / lam
        assert D.spectral_radius(_make(name, 0.999 * edge, beta).operator(h)) < 1
        assert D.spectral_radius(_make(name, 1.001 * edge, beta).operator(h)) > 1


@pytest.mark.parametrize("beta", (0.5, 0.9))
def test_heavy_ball_exceptional_points(beta):
    """Acceptance: κ(V) → ∞ at ηh = (1 ± √β)²; ρ = √β between them."""
    lo, hi = (float(e) for e in D.HeavyBall(learning_rate=0.1, momentum=beta).exceptional_points())
    np.testing.assert_allclose((lo, hi), theory.heavy_ball_exceptional_points(beta), rtol=1e-12)
    for ep in (lo, hi):
        near = D.eigenvector_condition(_hb(ep * (1 + 1e-7), beta))
        mid = D.eigenvector_condition(_hb(ep * (1 + 1e-3), beta))
        far = D.eigenvector_condition(_hb(ep * 1.5, beta))
        assert near > 1e3 and near > 10 * mid and mid > far
    for x in np.linspace(lo, hi, 7)[1:-1]:
        rho = D.spectral_radius(_hb(x, beta))
        np.testing.assert_allclose(rho, np.sqrt(beta), rtol=1e-12)
        np.testing.assert_allclose(rho, theory.heavy_ball_radius(x, beta), rtol=1e-12)


def test_transient_growth_and_power_bound():
    """β = 0.9, ηh = 1e-3: ρ < 1 yet ‖Jᵏ‖ grows to ≈ 16; ‖Jᵏ‖ ≤ κ(V)ρᵏ for k ≤ 200."""
    j = _hb(1e-3, 0.9)
    m = D.operator_measures(j, num_steps=2000)
    assert m.rho < 1 and m.max_growth > 15
    # reference: numpy matrix powers
    jn = np.asarray(j)
    ref = max(np.linalg.norm(np.linalg.matrix_power(jn, k), 2) for k in range(0, 2001))
    np.testing.assert_allclose(m.max_growth, ref, rtol=1e-10)
    np.testing.assert_allclose(m.rho, theory.heavy_ball_radius(1e-3, 0.9), rtol=1e-12)
    assert m.departure > 0.1


@pytest.mark.parametrize(
    "opt",
    [
        D.HeavyBall(learning_rate=1.0 / 3, momentum=0.9),
        D.Nesterov(learning_rate=0.2, momentum=0.8),
        D.EMAMomentum(learning_rate=0.05, momentum=0.9),
        D.HeavyBall(learning_rate=(1 + np.sqrt(0.9)) ** 2 * 0.99 / 3, momentum=0.9),
    ],
    ids=["heavy_ball", "nesterov", "ema_momentum", "heavy_ball_near_ep"],
)
def test_power_bound_holds(key, opt):
    """Acceptance: ‖Jᵏ‖₂ ≤ κ(V)ρᵏ for all k ≤ 200, on operators built from random Hessians."""
    a = jr.normal(key, (5, 5))
    h = a @ a.T / 5
    h = 3.0 * h / jnp.linalg.eigvalsh(h)[-1]
    j = opt.operator(h)
    kappa, rho = D.eigenvector_condition(j), D.spectral_radius(j)
    norms = np.asarray(D.transient_growth(j, 200))
    assert np.all(norms <= kappa * rho ** np.arange(201) * (1 + 1e-9))


def test_frozen_adam_commutator(key):
    """Acceptance: ‖J_A − J_Aᵀ‖ = η‖[M, H]‖; κ(V) ≤ √(m_max/m_min); κ = 1 for M ∝ I."""
    k1, k2 = jr.split(key)
    n = 12
    a = jr.normal(k1, (n, n))
    h = a @ a.T / n
    m = jnp.exp(jr.normal(k2, (n,)))
    lr = 0.3
    j = D.Adam(learning_rate=lr, b1=0.0).operator(h, preconditioner=m)
    assert j.shape == (n, n)  # b1 = 0: no first moment, state θ only
    mm = jnp.diag(m)
    for ord_ in ("fro", 2):
        np.testing.assert_allclose(
            np.linalg.norm(j - j.T, ord_), lr * np.linalg.norm(mm @ h - h @ mm, ord_), rtol=1e-10
        )
    assert np.allclose(np.linalg.eigvals(np.asarray(j)).imag, 0)
    kappa = D.eigenvector_condition(j)
    assert 1.5 < kappa <= np.sqrt(float(m.max() / m.min()))
    j_iso = D.Adam(learning_rate=lr, b1=0.0).operator(h, preconditioner=2.0 * jnp.ones(n))
    np.testing.assert_allclose(D.eigenvector_condition(j_iso), 1.0, atol=1e-8)
    # with first moment: the EMA edge for the preconditioned sharpness λ_max(MH)
    lam = float(np.max(np.linalg.eigvals(np.asarray(mm @ h)).real))
    product = float(D.Adam(learning_rate=1.0, b1=0.9).threshold_product())
    np.testing.assert_allclose(product, theory.ema_momentum_edge(0.9), rtol=1e-14)
    np.testing.assert_allclose(float(D.Adam(learning_rate=1.0, b1=0.0).threshold_product()), 2.0)
    edge = product / lam
    below = D.Adam(learning_rate=0.999 * edge, b1=0.9).operator(h, preconditioner=m)
    above = D.Adam(learning_rate=1.001 * edge, b1=0.9).operator(h, preconditioner=m)
    assert below.shape == (2 * n, 2 * n)
    assert D.spectral_radius(below) < 1 < D.spectral_radius(above)


def test_pseudospectra_and_kreiss():
    """Grid ε-pseudospectral radius ≤ ρ + εκ(V) (Bauer–Fike), = ρ + ε for a normal operator;
    Kreiss: K ≤ sup‖Jᵏ‖ ≤ e·n·K, K ≈ 1 for a normal contraction."""
    eps = 1e-3
    j = _hb((1 + np.sqrt(0.9)) ** 2 * 0.99, 0.9)
    r_eps = D.pseudospectral_radius(j, eps, num_radii=1500, r_max=1.2)
    bound = D.pseudospectral_bound(j, eps)
    assert D.spectral_radius(j) + eps < r_eps <= bound
    normal = D.GD(learning_rate=1.0).operator(jnp.diag(jnp.array([0.2, 1.0, 1.5])))
    r_n = D.pseudospectral_radius(normal, 0.01, num_radii=2001, r_max=1.0)
    assert abs(r_n - (0.8 + 0.01)) < 1.5 / 2000  # ρ_ε = ρ + ε for a normal operator
    for jj in (_hb(1e-3, 0.9), j):
        k = D.kreiss_constant(jj)
        growth = float(np.max(D.transient_growth(jj, 3000)))
        assert k <= growth * (1 + 1e-9) <= np.e * jj.shape[0] * k
    np.testing.assert_allclose(D.kreiss_constant(normal), 1.0, rtol=2e-2)
    assert D.kreiss_constant(D.GD(learning_rate=2.5).operator(jnp.eye(2))) == np.inf


@pytest.mark.parametrize("nesterov", [False, True])
def test_operators_match_optax_iterations(key, nesterov):
    """The torch-parametrized operator reproduces optax.sgd(momentum, nesterov) on a quadratic:
    (θ_{k+1}, θ_k) = J (θ_k, θ_{k−1}); EMA momentum's on (θ, m); GD's J = I − ηH."""
    k1, k2 = jr.split(key)
    a = jr.normal(k1, (4, 4))
    h = a @ a.T / 4
    lr, beta = 0.3, 0.8
    opt = optax.sgd(lr, momentum=beta, nesterov=nesterov)
    theta = jr.normal(k2, (4,))
    state = opt.init(theta)
    traj = [theta]
    for _ in range(12):
        upd, state = opt.update(h @ theta, state)
        theta = theta + upd
        traj.append(theta)
    cls = D.Nesterov if nesterov else D.HeavyBall
    j = cls(learning_rate=lr, momentum=beta).operator(h)
    for k in range(1, 12):
        pred = j @ jnp.concatenate([traj[k], traj[k - 1]])
        np.testing.assert_allclose(pred[:4], traj[k + 1], rtol=1e-12, atol=1e-12)
    # EMA momentum: optax.ema (no debiasing) then scale(−η) on the state (θ, m)
    ema = optax.chain(optax.ema(beta, debias=False), optax.scale(-lr))
    theta = traj[0]
    state = ema.init(theta)
    m = jnp.zeros(4)
    je = D.EMAMomentum(learning_rate=lr, momentum=beta).operator(h)
    for _ in range(10):
        upd, state = ema.update(h @ theta, state)
        pred = je @ jnp.concatenate([theta, m])
        theta = theta + upd
        m = -upd / lr
        np.testing.assert_allclose(pred, jnp.concatenate([theta, m]), rtol=1e-12, atol=1e-12)
    # GD: one optax.sgd step is J θ
    upd, _ = optax.sgd(lr).update(h @ traj[0], optax.sgd(lr).init(traj[0]))
    np.testing.assert_allclose(
        D.GD(learning_rate=lr).operator(h) @ traj[0], traj[0] + upd, rtol=1e-12, atol=1e-12
    )


def test_operator_bad_input():
    h = jnp.eye(2)
    with pytest.raises(ValueError, match="^learning_rate"):
        D.GD(learning_rate=0.0)
    with pytest.raises(ValueError, match="^momentum"):
        D.HeavyBall(learning_rate=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="^hessian"):
        D.GD(learning_rate=0.1).operator(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="^preconditioner"):
        D.Adam(learning_rate=0.1).operator(h, preconditioner=jnp.ones(3))
    with pytest.raises(ValueError, match="^preconditioner"):
        D.Adam(learning_rate=0.1).operator(h)
    with pytest.raises(ValueError, match="^b1"):
        D.Adam(learning_rate=0.1, b1=1.0)
    with pytest.raises(ValueError, match="^opt_state"):
        D.Adam(learning_rate=0.1).preconditioner(optax.sgd(0.1).init(jnp.ones(2)))
    with pytest.raises(ValueError, match="^operator"):
        D.spectral_radius(jnp.array([[jnp.nan]]))
    with pytest.raises(ValueError, match="^eps"):
        D.pseudospectral_radius(h, -1.0)


def test_derivation_identities():
    """The SymPy module's own identities (edges, exceptional points, commutator, SGD step,
    scalar factorization)."""
    theory.check()
