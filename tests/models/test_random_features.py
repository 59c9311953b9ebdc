"""Logit-gradient model (outliers, BBP, confinement, freezing) and random-feature spectra
against closed forms (SymPy derivation, toymodels.rmt) and dense eigh."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import derivations.random_features as theory
import toymodels.models.random_features as rf
from tests.helpers import own_checks
from toymodels import rmt
from toymodels.landscape import hessian


def _eigs(model, key):
    return np.asarray(rf.gauss_newton_eigenvalues(model.sample(key)))


@pytest.mark.parametrize("classes", [3, 5, 10])
def test_logit_means_give_c_minus_1_outliers(classes, key):
    m = rf.logit_gradient_model(
        dim=300, num_samples=200, num_classes=classes, mean_scale=3.0, logit_scale=0.5
    )
    ev = _eigs(m, jr.fold_in(key, classes))
    assert rf.outlier_count(num_classes=classes, means="logit") == classes - 1
    assert rf.gap_count(ev) == classes - 1


@pytest.mark.parametrize("classes", [3, 5])
def test_logit_class_means_give_c_times_c_minus_1_outliers(classes, key):
    m = rf.logit_gradient_model(
        dim=300,
        num_samples=200,
        num_classes=classes,
        means="logit_class",
        mean_scale=3.0,
        logit_scale=0.5,
    )
    ev = _eigs(m, jr.fold_in(key, classes))
    assert rf.outlier_count(num_classes=classes, means="logit_class") == classes * (classes - 1)
    assert rf.gap_count(ev) == classes * (classes - 1)


def test_random_means_and_dim_cap(key):
    # Random (non-orthogonal) means: the count is still the rank of the mean part.
    m = rf.logit_gradient_model(
        dim=300, num_samples=200, num_classes=4, mean_scale=3.0, orthogonal_means=False
    )
    assert rf.gap_count(_eigs(m, key)) == 3
    assert rf.outlier_count(num_classes=5, means="logit_class", dim=12) == 12


def test_gauss_newton_matches_per_sample_definition(key):
    m = rf.logit_gradient_model(
        dim=7, num_samples=5, num_classes=3, logit_scale=1.3, class_bias=0.4
    )
    s = m.sample(key)
    p = s.probs
    ref = (
        sum(
            s.jacobians[i].T @ (jnp.diag(p[i]) - jnp.outer(p[i], p[i])) @ s.jacobians[i]
            for i in range(5)
        )
        / 5
    )
    np.testing.assert_allclose(rf.gauss_newton(s), ref, atol=1e-13)
    np.testing.assert_allclose(
        np.sort(rf.gauss_newton_eigenvalues(s)), np.sort(np.linalg.eigvalsh(ref))[-7:], atol=1e-12
    )
    # residual term: GOE with the predicted semicircle radius
    big = rf.logit_gradient_model(dim=300, num_samples=50, num_classes=3, logit_scale=1.0)
    sb = big.sample(key)
    hres = rf.residual_term(sb, 2.0, key=jr.fold_in(key, 1))
    ev = np.linalg.eigvalsh(np.asarray(hres))
    rad = float(rf.residual_radius(sb, 2.0))
    assert abs(ev[-1] - rad) < 0.05 * rad and abs(ev[0] + rad) < 0.05 * rad
    # the model's Hessian is G plus that residual term (same key, same draw)
    full = rf.logit_hessian(sb, residual_scale=2.0, key=jr.fold_in(key, 1))
    np.testing.assert_allclose(full, rf.gauss_newton(sb) + hres, atol=1e-14)
    with own_checks(), pytest.raises(TypeError, match="^key"):
        rf.logit_hessian(sb, residual_scale=2.0, key=None)


@pytest.mark.parametrize(
    "dim,samples,classes,noise",
    [
        (2000, 200, 3, 1.0),
        pytest.param(1000, 120, 4, 0.7, marks=pytest.mark.slow),
    ],  # the spec's parameters, and others
)
def test_bbp_threshold_location_and_edge(dim, samples, classes, noise, key):
    kw = dict(dim=dim, num_samples=samples, num_classes=classes, noise=noise)
    thr = rf.logit_bbp_threshold(**kw)
    edge = rf.bulk_edge(**kw)
    # the library's closed forms equal the SymPy derivation
    np.testing.assert_allclose(thr, theory.bbp_threshold(classes, dim, samples, noise), rtol=1e-12)
    np.testing.assert_allclose(edge, theory.bulk_edge(classes, dim, samples, noise), rtol=1e-12)
    # below threshold: no outlier
    below = _eigs(rf.logit_gradient_model(mean_scale=0.7 * thr, **kw), key)
    assert below[0] < 1.02 * edge
    for j, f in enumerate((2.0, 4.0)):
        sc = f * thr
        ev = _eigs(rf.logit_gradient_model(mean_scale=sc, **kw), jr.fold_in(key, j))
        pred = float(rf.logit_bbp_outlier(sc, **kw))
        np.testing.assert_allclose(pred, theory.bbp_outlier(sc, classes, dim, samples, noise))
        np.testing.assert_allclose(ev[: classes - 1], pred, rtol=0.05)
        np.testing.assert_allclose(ev[classes - 1], edge, rtol=0.02)
        assert ev[classes - 2] > 1.1 * ev[classes - 1]


@pytest.mark.parametrize(
    "offset,samples", [(0.3, 1000), pytest.param(0.6, 400, marks=pytest.mark.slow)]
)
def test_gradient_confinement_fraction(offset, samples, key):
    m = rf.logit_gradient_model(
        dim=500, num_samples=samples, num_classes=5, logit_scale=1.0, offset=offset
    )
    s = m.sample(jr.fold_in(key, samples))
    meas = rf.measured_confinement(s)
    pred = rf.sample_confinement_prediction(s)
    assert abs(meas - pred) < 0.02
    # the library formula equals the derivation
    r = s.residuals
    gbar = jnp.einsum("nk,nkd->d", r, s.mean_jacobians()) / samples
    sv, r2 = float(jnp.sum(gbar**2)), float(jnp.mean(jnp.sum(r**2, 1)))
    np.testing.assert_allclose(pred, theory.confinement_fraction(sv, r2, 1.0, samples, 500, 4))


def test_confinement_falls_without_offset(key):
    # balanced labels and no offset: mean residual -> 0, the gradient leaves the top space
    m = rf.logit_gradient_model(dim=500, num_samples=1000, num_classes=5, logit_scale=1.0)
    assert rf.measured_confinement(m.sample(key)) < 0.35
    m2 = rf.logit_gradient_model(
        dim=500, num_samples=1000, num_classes=5, logit_scale=1.0, offset=1.0
    )
    assert rf.measured_confinement(m2.sample(key)) > 0.9


def test_probability_freezing_shrinks_gauss_newton(key):
    traces, spreads = [], []
    for i, sz in enumerate((0.0, 2.0, 8.0, 30.0)):
        m = rf.logit_gradient_model(dim=300, num_samples=200, num_classes=5, logit_scale=sz)
        s = m.sample(jr.fold_in(key, i))
        tr = float(jnp.trace(rf.gauss_newton(s)))
        pred = float(rf.gauss_newton_trace_prediction(s))
        assert abs(tr - pred) < 0.05 * pred + 1e-12
        # orthogonal logit means: E tr G = (sigma_c^2 + sigma_E^2) <1 - |p|^2>
        np.testing.assert_allclose(pred, 2.0 * float(rf.softmax_spread(s)), rtol=1e-12)
        traces.append(tr)
        spreads.append(float(rf.softmax_spread(s)))
    assert np.all(np.diff(traces) < 0) and traces[-1] < 0.1 * traces[0]
    np.testing.assert_allclose(spreads[0], 1 - 1 / 5, rtol=1e-12)


# ---------------------------------------------------------------- random-feature regression
@pytest.fixture(scope="module")
def rf_problem():
    return rf.random_feature_regression(
        key=jr.key(7), num_samples=800, dim=200, num_features=400, activation="tanh"
    )


def test_feature_hessian_is_the_landscape_hessian(rf_problem):
    small = rf.random_feature_regression(key=jr.key(1), num_samples=30, dim=5, num_features=8)
    h = hessian(small, small.init(jr.key(2)))
    np.testing.assert_allclose(h, rf.feature_hessian(small), atol=1e-12)


def test_random_feature_spectrum_nonlinear_vs_mp(rf_problem):
    ev = np.asarray(jnp.linalg.eigvalsh(rf.feature_hessian(rf_problem)))
    x = np.linspace(0.0, 1.2 * ev.max(), 300)
    dens = rf.random_feature_density(x, gamma=400 / 800, psi=400 / 200, activation="tanh")
    ks = rf.kolmogorov_distance(ev, x, rf.density_cdf(x, dens))
    mom = rf.gaussian_moments("tanh")
    mp = rmt.marchenko_pastur_density(x, 0.5, sigma2=mom.mu1**2 + mom.mu_star**2)
    ks_mp = rf.kolmogorov_distance(ev, x, rf.density_cdf(x, mp))
    assert ks < 0.06
    assert ks_mp > 0.3  # structured features are far from i.i.d. ones


def test_silverstein_reduces_to_marchenko_pastur():
    # identity population: the Silverstein density is MP (independent closed form)
    for gamma in (0.3, 0.7):
        lo, hi = rmt.marchenko_pastur_edges(gamma, sigma2=2.0)
        x = np.linspace(lo + 0.05, hi - 0.05, 40)
        d = rf.silverstein_density(x, np.full(10, 2.0), gamma, eta=1e-6)
        np.testing.assert_allclose(d, rmt.marchenko_pastur_density(x, gamma, sigma2=2.0), rtol=2e-3)
    # psi -> 0 (wide inputs): the nonlinear spectrum tends to MP with variance E sigma^2
    mom = rf.gaussian_moments("erf")
    np.testing.assert_allclose(mom.mu1, 1 / np.sqrt(np.pi), rtol=1e-10)  # Stein: E erf'(g/√2)
    lo, hi = rmt.marchenko_pastur_edges(0.4, sigma2=mom.mu1**2 + mom.mu_star**2)
    x = np.linspace(lo + 0.05, hi - 0.05, 30)
    d = rf.random_feature_density(x, gamma=0.4, psi=1e-4, activation="erf")
    np.testing.assert_allclose(
        d, rmt.marchenko_pastur_density(x, 0.4, sigma2=mom.mu1**2 + mom.mu_star**2), rtol=0.02
    )


def test_bad_input():
    with pytest.raises(ValueError, match="^num_classes"):
        rf.logit_gradient_model(dim=10, num_samples=5, num_classes=1)
    with pytest.raises(ValueError, match="^dim"):
        rf.logit_gradient_model(dim=10, num_samples=5, num_classes=4, means="logit_class")
    with pytest.raises(ValueError, match="^means"):
        rf.logit_gradient_model(dim=10, num_samples=5, num_classes=3, means="bogus")
    with pytest.raises(ValueError, match="^noise"):
        rf.bulk_edge(dim=10, num_samples=5, num_classes=3, noise=-1.0)
    with pytest.raises(ValueError, match="^eigenvalues"):
        rf.gap_count([1.0])
    with pytest.raises(ValueError, match="^num_features"):
        rf.random_feature_regression(key=jr.key(0), num_samples=3, dim=2, num_features=0)


def test_derivation_check():
    theory.check()
