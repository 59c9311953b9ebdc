"""The logit-gradient model's observables on a real small MLP (5-class Gaussian mixture):
the spectral gap after C - 1 eigenvalues during training, gradient confinement under GD vs
SGD, and the Goldilocks scan against weight scale."""

import jax.random as jr
import numpy as np
import pytest

import toymodels.models.random_features as rf
from toymodels import dynamics
from toymodels.data import gaussian_mixture
from toymodels.problems import mlp_classification


# The same acceptance checks run in the default suite as the fast-mode claims of
# figures/fig62_rf_mlp.py (tests/claims/test_claims_and_figures.py); these are the standalone ones.
pytestmark = pytest.mark.slow
C = 5


def _train(problem, params, *, learning_rate, num_steps, every, batch_size=None):
    """GD (full batch) or SGD (minibatches of `batch_size`) with checkpoints every `every`
    steps, through the engine."""
    return dynamics.run(
        problem,
        params,
        dynamics.GD(learning_rate=learning_rate),
        num_steps=num_steps,
        key=jr.key(2),
        batch_size=batch_size,
        save=dynamics.Save(every=every),
    )


@pytest.fixture(scope="module")
def mixture():
    x, y = gaussian_mixture(key=jr.key(0), num_samples=500, dim=10, num_classes=C, separation=1.5)
    return x, y


@pytest.fixture(scope="module")
def tanh_runs(mixture):
    prob = mlp_classification(*mixture, hidden=(16, 16))
    p0 = prob.init(jr.key(1))
    gd = _train(prob, p0, learning_rate=0.2, num_steps=300, every=100)
    sgd = _train(prob, p0, learning_rate=0.2, num_steps=300, every=100, batch_size=50)
    return (
        rf.track_curvature(prob, gd.saved, k=C - 1, indices=[0, 1, 2]),
        rf.track_curvature(prob, sgd.saved, k=C - 1, indices=[2, 3]),
    )


def test_gap_after_c_minus_1_during_training(tanh_runs):
    gd, _ = tanh_runs
    assert rf.outlier_count(num_classes=C, means="logit") in set(gd.gap.tolist())
    assert np.all(np.diff(gd.loss) < 0)


def test_gradient_confinement_gd_vs_sgd(tanh_runs):
    gd, sgd = tanh_runs
    assert gd.fraction[0] > 0.1  # at init the gradient has weight in the top space
    assert np.all(gd.fraction[1:] < 0.01)  # full-batch GD relaxes the top directions
    assert np.all(sgd.fraction > 0.1)  # SGD keeps it there (spec §1.4)


def test_goldilocks_scan(mixture):
    prob = mlp_classification(
        *mixture, hidden=(16, 16), activation="relu", bias=False, init_scale=2**0.5
    )
    p0 = prob.init(jr.key(3))
    scales = [0.1, 0.5, 1.0, 2.0, 5.0]
    gs = rf.goldilocks_scan(prob, p0, scales, dim=20, key=jr.key(4), num_subspaces=10)
    assert gs.trace_ratio[0] < 0.1
    assert 0.5 <= scales[int(np.argmax(gs.trace_ratio))] <= 1.5  # peak at the He scale
    assert gs.trace_ratio[-1] < 0.6 * gs.trace_ratio.max()
    assert abs(gs.positive_fraction[0] - 0.5) < 0.05
    assert gs.positive_fraction.max() > gs.positive_fraction[0] + 0.05
    # semicircle prediction from the measured rho (bulk-dominated regime)
    np.testing.assert_allclose(gs.positive_fraction, gs.predicted, atol=0.1)


def test_transient_rise_of_curvature(mixture):
    # GD explores sharper regions, then flattens as the softmax freezes (spec §1.3 item 4)
    prob = mlp_classification(*mixture, hidden=(16, 16))
    gd = _train(prob, prob.init(jr.key(1)), learning_rate=0.5, num_steps=8000, every=1000)
    tr = rf.track_curvature(prob, gd.saved, k=C - 1, top=3)
    assert tr.lambda_max.max() >= 2 * tr.lambda_max[0]
    assert tr.lambda_max[-1] <= 0.5 * tr.lambda_max.max()
    assert np.all(np.diff(tr.loss) < 0)


def test_digits_gradient_confinement_gd_vs_sgd():
    # digits (10 classes), 64-12-10 tanh MLP on 600 images: full-batch GD drains the top
    # C - 1 = 9 eigenspace, SGD keeps a share there. (No clean gap after 9 eigenvalues was
    # seen on digits at this size within 400 steps; that claim is tested on the mixture.)
    from toymodels.data import digits

    x, y = digits()
    prob = mlp_classification(x[:600], y[:600], hidden=(12,))
    p0 = prob.init(jr.key(1))
    gd = _train(prob, p0, learning_rate=0.2, num_steps=400, every=50)
    tg = rf.track_curvature(prob, gd.saved, k=9, top=20)
    sgd = _train(prob, p0, learning_rate=0.2, num_steps=400, every=100, batch_size=50)
    ts = rf.track_curvature(prob, sgd.saved, k=9, top=20)
    assert tg.fraction[0] > 0.2
    assert np.all(tg.fraction[1:] < 0.05)
    assert np.all(ts.fraction[1:] > 0.05)
    assert np.mean(ts.fraction[1:]) > 3 * np.mean(tg.fraction[1:])
