"""toymodels.rmt laws against quadrature, sampled matrices (dense eigh) and closed values."""

import numpy as np
import pytest
from scipy import integrate

from toymodels import rmt


@pytest.mark.parametrize("gamma,sigma2", [(0.25, 1.0), (0.5, 2.0), (3.0, 0.7)])
def test_marchenko_pastur_mass_and_moments(gamma, sigma2):
    lo, hi = rmt.marchenko_pastur_edges(gamma, sigma2=sigma2)
    np.testing.assert_allclose(
        [lo, hi], [sigma2 * (1 - gamma**0.5) ** 2, sigma2 * (1 + gamma**0.5) ** 2]
    )

    def f(x):
        return rmt.marchenko_pastur_density(x, gamma, sigma2=sigma2)

    mass = integrate.quad(f, lo, hi, limit=200)[0]
    np.testing.assert_allclose(mass, min(1.0, 1.0 / gamma), rtol=1e-6)
    # moments of the full law (atom at 0 for γ > 1): E λ = σ², E λ² = σ⁴(1 + γ)
    m1 = integrate.quad(lambda x: x * f(x), lo, hi, limit=200)[0]
    m2 = integrate.quad(lambda x: x * x * f(x), lo, hi, limit=200)[0]
    np.testing.assert_allclose(m1, sigma2, rtol=1e-6)
    np.testing.assert_allclose(m2, sigma2**2 * (1 + gamma), rtol=1e-6)
    assert f(np.array([lo - 0.1, hi + 0.1])).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("gamma,sigma2", [(0.25, 1.0), (1.0, 2.0), (3.0, 0.7)])
def test_marchenko_pastur_quantile_inverts_the_quadrature_cdf(gamma, sigma2):
    """Quantiles of the nonzero part against scipy: quad of the density, brentq for the
    root (the atom at 0 left out for γ > 1), and the ends at the bulk edges."""
    from scipy.optimize import brentq  # noqa: PLC0415

    lo, hi = rmt.marchenko_pastur_edges(gamma, sigma2=sigma2)
    mass = min(1.0, 1.0 / gamma)

    def cdf(x):
        f = lambda t: rmt.marchenko_pastur_density(t, gamma, sigma2=sigma2)  # noqa: E731
        return integrate.quad(f, lo, x, limit=200, epsabs=1e-13)[0] / mass

    qs = np.array([0.01, 0.25, 0.5, 0.75, 0.99])
    ref = [brentq(lambda x, q=q: cdf(x) - q, lo, hi, xtol=1e-13) for q in qs]
    np.testing.assert_allclose(rmt.marchenko_pastur_quantile(qs, gamma, sigma2=sigma2), ref,
                               rtol=1e-8)
    np.testing.assert_allclose(rmt.marchenko_pastur_quantile(0.0, gamma, sigma2=sigma2), lo)
    np.testing.assert_allclose(rmt.marchenko_pastur_quantile(1.0, gamma, sigma2=sigma2), hi)
    with pytest.raises(ValueError, match="q"):
        rmt.marchenko_pastur_quantile(1.5, gamma)


def test_marchenko_pastur_matches_sampled_spectrum():
    rng = np.random.default_rng(0)
    n, p = 1600, 400
    x = rng.normal(size=(n, p)) * np.sqrt(1.5)
    lam = np.linalg.eigvalsh(x.T @ x / n)
    lo, hi = rmt.marchenko_pastur_edges(p / n, sigma2=1.5)
    assert abs(lam[0] - lo) < 0.05 and abs(lam[-1] - hi) < 0.1
    hist, edges = np.histogram(lam, bins=20, range=(lo, hi), density=True)
    pred = np.array(
        [
            integrate.quad(lambda t: rmt.marchenko_pastur_density(t, p / n, sigma2=1.5), a, b)[0]
            for a, b in zip(edges[:-1], edges[1:])
        ]
    ) / np.diff(edges)
    assert np.sum(np.abs(hist - pred) * np.diff(edges)) < 0.08


def test_semicircle():
    for r in (2.0, 0.7):
        np.testing.assert_allclose(
            integrate.quad(lambda x, r=r: rmt.semicircle_density(x, radius=r), -r, r)[0],
            1.0,
            rtol=1e-8,
        )
        var = integrate.quad(lambda x, r=r: x * x * rmt.semicircle_density(x, radius=r), -r, r)[0]
        np.testing.assert_allclose(var, r**2 / 4, rtol=1e-8)
        for x in (-0.5 * r, 0.1 * r, 0.9 * r):
            cdf = integrate.quad(lambda t, r=r: rmt.semicircle_density(t, radius=r), -r, x)[0]
            np.testing.assert_allclose(rmt.semicircle_cdf(x, radius=r), cdf, rtol=1e-8)
    rng = np.random.default_rng(1)
    n = 600
    b = rng.normal(size=(n, n))
    w = np.linalg.eigvalsh((b + b.T) / np.sqrt(2 * n))
    assert abs(w[-1] - 2) < 0.1 and abs(np.mean(w < 1.0) - rmt.semicircle_cdf(1.0)) < 0.02


def test_bbp_outlier_and_threshold():
    gamma = 0.5
    np.testing.assert_allclose(rmt.bbp_threshold(gamma), np.sqrt(gamma))
    # continuous at the threshold, equal to the edge below it
    tc = rmt.bbp_threshold(gamma)
    edge = rmt.marchenko_pastur_edges(gamma)[1]
    np.testing.assert_allclose(rmt.bbp_outlier(tc * (1 + 1e-9), gamma), edge, rtol=1e-8)
    np.testing.assert_allclose(rmt.bbp_outlier(0.5 * tc, gamma), edge)
    np.testing.assert_allclose(rmt.bbp_outlier(2.0, 0.25), 3.375)
    # against a sampled spiked covariance (γ = 0.5, θ = 3)
    rng = np.random.default_rng(2)
    n, p, theta = 1600, 800, 3.0
    x = rng.normal(size=(n, p))
    x[:, 0] *= np.sqrt(1 + theta)
    top = np.linalg.eigvalsh(x.T @ x / n)[-1]
    np.testing.assert_allclose(top, rmt.bbp_outlier(theta, gamma), rtol=0.05)


def test_additive_spike_outliers():
    np.testing.assert_allclose(rmt.additive_spike_outlier([5.0, 4.0, 3.0]), [6.25, 16 / 3, 4.5])
    assert rmt.additive_spike_threshold() == 2.0
    # other parameters: γ = 0.5, σ² = 2, against a sampled matrix
    gamma, s2, theta = 0.5, 2.0, 5.0
    tc = rmt.additive_spike_threshold(gamma=gamma, sigma2=s2)
    edge = rmt.marchenko_pastur_edges(gamma, sigma2=s2)[1]
    np.testing.assert_allclose(
        rmt.additive_spike_outlier(tc * (1 + 1e-9), gamma=gamma, sigma2=s2), edge, rtol=1e-6
    )
    rng = np.random.default_rng(3)
    n, p = 1600, 800
    x = rng.normal(size=(n, p)) * np.sqrt(s2)
    y = x.T @ x / n
    y[0, 0] += theta
    top = np.linalg.eigvalsh(y)[-1]
    np.testing.assert_allclose(
        top, rmt.additive_spike_outlier(theta, gamma=gamma, sigma2=s2), rtol=0.03
    )
    # Wigner spike θ + σ²/θ
    m = 800
    b = rng.normal(size=(m, m))
    w = (b + b.T) / np.sqrt(2 * m) * 0.8
    w[0, 0] += 2.0
    np.testing.assert_allclose(
        np.linalg.eigvalsh(w)[-1], rmt.wigner_spike_outlier(2.0, sigma=0.8), rtol=0.03
    )


@pytest.mark.usefixtures("own_checks")
def test_goldilocks_prediction_monotone_and_bad_input():
    rho = np.array([0.0, 2.0, 5.0])
    f = rmt.goldilocks_positive_fraction(rho, 10)
    np.testing.assert_allclose(f[0], 0.5)
    assert np.all(np.diff(f) > 0)
    assert rmt.goldilocks_positive_fraction(2.0, 40) < rmt.goldilocks_positive_fraction(2.0, 10)
    for bad in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="^gamma"):
            rmt.marchenko_pastur_edges(bad)
    with pytest.raises(ValueError, match="^theta"):
        rmt.bbp_outlier(-1.0, 0.5)
