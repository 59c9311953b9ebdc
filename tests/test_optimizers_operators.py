"""Linearized update operators: stability edges, exceptional points, non-normal measures,
and the operators against the real optax iterations."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from derivations import optimizer_stability as theory
from toymodels import dynamics


BETAS = (0.0, 0.3, 0.9)
D = dynamics


def _edge_from_derivation(method, b):
    return {
        "gd": theory.gd_edge(),
        "heavy_ball": theory.heavy_ball_edge(b),
        "nesterov": theory.nesterov_edge(b),
        "ema_momentum": theory.ema_momentum_edge(b),
    }[method]


@pytest.mark.parametrize("method", ["gd", "heavy_ball", "nesterov", "ema_momentum"])
@pytest.mark.parametrize("beta", BETAS)
def test_stability_edges(method, beta):
    """Acceptance: ρ(J) crosses 1 at ηh = 2, 2(1+β), (2+2β)/(1+2β), 2(1+β)/(1−β) (±0.1%)."""
    if method == "gd" and beta:
        pytest.skip("GD has no momentum")
    edge = D.stability_threshold(method, beta=beta)
    np.testing.assert_allclose(edge, _edge_from_derivation(method, beta), rtol=1e-14)
    h = jnp.array([[1.0]])
    for factor, stable in ((0.999, True), (1.001, False)):
        j = D.update_operator(h, method, lr=edge * factor, beta=beta)
        assert (D.spectral_radius(j) < 1) == stable, (method, beta, factor)


def test_edges_on_a_matrix_quadratic(key):
    """With a full Hessian the edge is set by λ_max: ηλ_max just below/above the threshold."""
    a = jr.normal(key, (6, 6))
    h = a @ a.T / 6
    lam = float(jnp.linalg.eigvalsh(h)[-1])
    for method, beta in (
        ("gd", 0.0),
        ("heavy_ball", 0.5),
        ("nesterov", 0.7),
        ("ema_momentum", 0.8),
    ):
        edge = D.stability_threshold(method, beta=beta) / lam
        assert D.spectral_radius(D.update_operator(h, method, lr=0.999 * edge, beta=beta)) < 1
        assert D.spectral_radius(D.update_operator(h, method, lr=1.001 * edge, beta=beta)) > 1


@pytest.mark.parametrize("beta", (0.5, 0.9))
def test_heavy_ball_exceptional_points(beta):
    """Acceptance: κ(V) → ∞ at ηh = (1 ± √β)²; ρ = √β between them."""
    lo, hi = D.heavy_ball_exceptional_points(beta)
    np.testing.assert_allclose((lo, hi), theory.heavy_ball_exceptional_points(beta), rtol=1e-12)
    h = jnp.array([[1.0]])
    for ep in (lo, hi):
        near = D.eigenvector_condition(D.heavy_ball_operator(h, ep * (1 + 1e-7), beta))
        mid = D.eigenvector_condition(D.heavy_ball_operator(h, ep * (1 + 1e-3), beta))
        far = D.eigenvector_condition(D.heavy_ball_operator(h, ep * 1.5, beta))
        assert near > 1e3 and near > 10 * mid and mid > far
    for x in np.linspace(lo, hi, 7)[1:-1]:
        rho = D.spectral_radius(D.heavy_ball_operator(h, x, beta))
        np.testing.assert_allclose(rho, np.sqrt(beta), rtol=1e-12)
        np.testing.assert_allclose(rho, theory.heavy_ball_radius(x, beta), rtol=1e-12)


def test_transient_growth_and_power_bound():
    """β = 0.9, ηh = 1e-3: ρ < 1 yet ‖Jᵏ‖ grows to ≈ 16; ‖Jᵏ‖ ≤ κ(V)ρᵏ for k ≤ 200."""
    j = D.heavy_ball_operator(jnp.array([[1.0]]), 1e-3, 0.9)
    m = D.operator_measures(j, num_steps=2000)
    assert m.rho < 1 and m.max_growth > 15
    # reference: numpy matrix powers
    jn = np.asarray(j)
    ref = max(np.linalg.norm(np.linalg.matrix_power(jn, k), 2) for k in range(0, 2001))
    np.testing.assert_allclose(m.max_growth, ref, rtol=1e-10)
    np.testing.assert_allclose(m.rho, theory.heavy_ball_radius(1e-3, 0.9), rtol=1e-12)
    assert m.departure > 0.1


@pytest.mark.parametrize(
    "make",
    [
        lambda h: D.heavy_ball_operator(h, 1.0 / 3, 0.9),
        lambda h: D.nesterov_operator(h, 0.2, 0.8),
        lambda h: D.ema_momentum_operator(h, 0.05, 0.9),
        lambda h: D.heavy_ball_operator(h, (1 + np.sqrt(0.9)) ** 2 * 0.99 / 3, 0.9),
    ],
)
def test_power_bound_holds(key, make):
    """Acceptance: ‖Jᵏ‖₂ ≤ κ(V)ρᵏ for all k ≤ 200, on operators built from random Hessians."""
    a = jr.normal(key, (5, 5))
    h = a @ a.T / 5
    h = 3.0 * h / jnp.linalg.eigvalsh(h)[-1]
    j = make(h)
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
    j = D.adam_operator(h, lr, m)
    mm = jnp.diag(m)
    for ord_ in ("fro", 2):
        np.testing.assert_allclose(
            np.linalg.norm(j - j.T, ord_), lr * np.linalg.norm(mm @ h - h @ mm, ord_), rtol=1e-10
        )
    assert np.allclose(np.linalg.eigvals(np.asarray(j)).imag, 0)
    kappa = D.eigenvector_condition(j)
    assert 1.5 < kappa <= np.sqrt(float(m.max() / m.min()))
    np.testing.assert_allclose(
        D.eigenvector_condition(D.adam_operator(h, lr, 2.0 * jnp.ones(n))), 1.0, atol=1e-8
    )
    # with first moment: the EMA edge for the preconditioned sharpness λ_max(MH)
    lam = float(np.max(np.linalg.eigvals(np.asarray(mm @ h)).real))
    edge = D.stability_threshold("ema_momentum", beta=0.9) / lam
    assert D.spectral_radius(D.adam_operator(h, 0.999 * edge, m, beta1=0.9)) < 1
    assert D.spectral_radius(D.adam_operator(h, 1.001 * edge, m, beta1=0.9)) > 1


def test_pseudospectra_and_kreiss():
    """Grid ε-pseudospectral radius ≤ ρ + εκ(V) (Bauer–Fike), = ρ + ε for a normal operator;
    Kreiss: K ≤ sup‖Jᵏ‖ ≤ e·n·K, K ≈ 1 for a normal contraction."""
    eps = 1e-3
    j = D.heavy_ball_operator(jnp.array([[1.0]]), (1 + np.sqrt(0.9)) ** 2 * 0.99, 0.9)
    r_eps = D.pseudospectral_radius(j, eps, num_radii=1500, r_max=1.2)
    bound = D.pseudospectral_bound(j, eps)
    assert D.spectral_radius(j) + eps < r_eps <= bound
    normal = D.gd_operator(jnp.diag(jnp.array([0.2, 1.0, 1.5])), 1.0)
    r_n = D.pseudospectral_radius(normal, 0.01, num_radii=2001, r_max=1.0)
    assert abs(r_n - (0.8 + 0.01)) < 1.5 / 2000  # ρ_ε = ρ + ε for a normal operator
    for jj in (D.heavy_ball_operator(jnp.array([[1.0]]), 1e-3, 0.9), j):
        k = D.kreiss_constant(jj)
        growth = float(np.max(D.transient_growth(jj, 3000)))
        assert k <= growth * (1 + 1e-9) <= np.e * jj.shape[0] * k
    np.testing.assert_allclose(D.kreiss_constant(normal), 1.0, rtol=2e-2)
    assert D.kreiss_constant(D.gd_operator(jnp.eye(2), 2.5)) == np.inf


@pytest.mark.parametrize("nesterov", [False, True])
def test_operators_match_optax_iterations(key, nesterov):
    """The torch-parametrized operator reproduces optax.sgd(momentum, nesterov) on a quadratic:
    (θ_{k+1}, θ_k) = J (θ_k, θ_{k−1})."""
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
    j = (D.nesterov_operator if nesterov else D.heavy_ball_operator)(h, lr, beta)
    for k in range(1, 12):
        pred = j @ jnp.concatenate([traj[k], traj[k - 1]])
        np.testing.assert_allclose(pred[:4], traj[k + 1], rtol=1e-12, atol=1e-12)
    # EMA momentum: optax.ema (no debiasing) then scale(−η) on the state (θ, m)
    ema = optax.chain(optax.ema(beta, debias=False), optax.scale(-lr))
    theta, state = traj[0], None
    state = ema.init(theta)
    m = jnp.zeros(4)
    je = D.ema_momentum_operator(h, lr, beta)
    for _ in range(10):
        upd, state = ema.update(h @ theta, state)
        pred = je @ jnp.concatenate([theta, m])
        theta = theta + upd
        m = -upd / lr
        np.testing.assert_allclose(pred, jnp.concatenate([theta, m]), rtol=1e-12, atol=1e-12)


def test_operator_bad_input():
    h = jnp.eye(2)
    with pytest.raises(ValueError, match="^lr"):
        D.gd_operator(h, 0.0)
    with pytest.raises(ValueError, match="^beta"):
        D.heavy_ball_operator(h, 0.1, 1.0)
    with pytest.raises(ValueError, match="^hessian"):
        D.gd_operator(jnp.ones((2, 3)), 0.1)
    with pytest.raises(ValueError, match="^preconditioner"):
        D.adam_operator(h, 0.1, jnp.ones(3))
    with pytest.raises(ValueError, match="^method"):
        D.stability_threshold("rmsprop")
    with pytest.raises(ValueError, match="^operator"):
        D.spectral_radius(jnp.array([[jnp.nan]]))
    with pytest.raises(ValueError, match="^eps"):
        D.pseudospectral_radius(h, -1.0)


def test_derivation_identities():
    """The SymPy module's own identities (edges, exceptional points, commutator, SGD step,
    scalar factorization)."""
    theory.check()
