"""Outliers above a bulk: spiked covariances against the Marchenko–Pastur edge and the BBP
positions, the gap criterion on a closed-form spectrum, and digits pixels with and without
standardization (one Hessian outlier per hidden unit from the raw pixels' mean)."""

import jax.random as jr
import numpy as np
import pytest

from toymodels import dynamics, landscape, rmt
from toymodels.data import digits
from toymodels.problems import mlp_classification


N, P = 2000, 200  # gamma = 0.1
THETAS = (5.0, 3.0, 1.5)  # all above the BBP threshold sqrt(0.1) = 0.32


def _tracy_widom_scale(n, p):
    """Scale of the top-eigenvalue fluctuations of XᵀX/n (Johnstone 2001)."""
    return (np.sqrt(n) + np.sqrt(p)) * (1 / np.sqrt(n) + 1 / np.sqrt(p)) ** (1 / 3) / n


def _covariance_spectrum(thetas, seed):
    x = np.random.default_rng(seed).standard_normal((N, P))
    x[:, : len(thetas)] *= np.sqrt(1.0 + np.asarray(thetas))
    return np.linalg.eigvalsh(x.T @ x / N)


def test_spiked_covariance_outliers_by_the_mp_edge_and_by_the_gap():
    gamma = P / N
    edge = rmt.marchenko_pastur_edges(gamma)[1]
    margin = 5 * _tracy_widom_scale(N, P)
    e = _covariance_spectrum(THETAS, seed=0)
    by_edge = rmt.outliers(e, edge=edge, margin=margin)
    assert by_edge.count == 3 and by_edge.edge == pytest.approx(edge + margin)
    np.testing.assert_allclose(by_edge.values, rmt.bbp_outlier(np.array(THETAS), gamma), rtol=0.05)
    assert by_edge.bulk_top == pytest.approx(np.sort(e)[-4]) and by_edge.bulk_top < edge + margin
    by_gap = rmt.outliers(e, center=float(np.median(e)))
    assert by_gap.count == 3 and by_gap.relative_gap >= 1.0
    np.testing.assert_array_equal(by_gap.values, by_edge.values)
    # without spikes nothing is an outlier, by either criterion
    e0 = _covariance_spectrum((), seed=1)
    assert rmt.outliers(e0, edge=edge, margin=margin).count == 0
    none = rmt.outliers(e0, center=float(np.median(e0)))
    assert none.count == 0 and none.values.shape == (0,) and np.isnan(none.relative_gap)


def test_gap_criterion_finds_outliers_spread_over_a_decade():
    """Outliers 100, 50, 20, 5 above a bulk on [0, 2] and a near-zero atom: all four (the
    largest single gap would give one), none of the atom's rounding noise."""
    rng = np.random.default_rng(2)
    bulk = np.linspace(0.0, 2.0, 200)
    atom = 1e-12 * rng.standard_normal(500)
    e = rng.permutation(np.concatenate([[100.0, 50.0, 20.0, 5.0], bulk, atom]))
    out = rmt.outliers(e)
    np.testing.assert_array_equal(out.values, [100.0, 50.0, 20.0, 5.0])
    assert out.edge == 2.0 and out.relative_gap == pytest.approx(1.5)
    assert rmt.outliers(e, max_outliers=3).count == 3  # the split at 20 | 5 (r = 3)
    assert rmt.outliers(e, min_gap=2.0).count == 3
    assert rmt.outliers(atom).count == 0  # the ratio of rounding noise is not a gap


@pytest.mark.slow
def test_digits_standardize_removes_the_outliers():
    """A tanh MLP (64 → 8 → 10) on 300 digits, 30 Adam steps: raw pixels (mean ≈ 0.3) give
    one Hessian outlier per hidden unit; standardized pixels none (see `data.digits`;
    ~15 s: digits, two trainings, two dense Hessians)."""
    counts = []
    for standardize in (False, True):
        x, y = digits(standardize=standardize)
        idx = jr.permutation(jr.key(100), x.shape[0])[:300]
        problem = mlp_classification(x[idx], y[idx], hidden=8, num_classes=10)
        params = dynamics.run(
            problem,
            problem.init(jr.key(0)),
            dynamics.Adam(learning_rate=1e-2),
            num_steps=30,
            key=jr.key(3),
        ).params
        e = np.linalg.eigvalsh(np.asarray(landscape.hessian(problem, params)))
        counts.append(rmt.outliers(e).count)
    assert counts == [8, 0]


@pytest.mark.usefixtures("own_checks")
def test_bad_input():
    e = np.linspace(0.0, 1.0, 10)
    with pytest.raises(ValueError, match="eigenvalues: contains 1 non-finite"):
        rmt.outliers(np.append(e, np.nan))
    with pytest.raises(ValueError, match="eigenvalues: expected a 1-D array"):
        rmt.outliers(np.eye(3))
    with pytest.raises(ValueError, match="min_gap"):
        rmt.outliers(e, min_gap=0.0)
    with pytest.raises(ValueError, match="max_outliers"):
        rmt.outliers(e, max_outliers=0)
    with pytest.raises(ValueError, match="edge"):
        rmt.outliers(e, edge=float("inf"))
    with pytest.raises(ValueError, match="margin"):
        rmt.outliers(e, edge=1.0, margin=-1.0)
