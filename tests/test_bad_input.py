"""Bad input raises a clear ValueError naming the argument."""

import jax.numpy as jnp
import jax.random as jr
import pytest

from toymodels import data, problems


X = jnp.ones((10, 3))
LABELS = jnp.arange(10) % 3


def test_mismatched_samples():
    with pytest.raises(ValueError, match="labels"):
        problems.mlp_classification(X, LABELS[:9], hidden=4)
    with pytest.raises(ValueError, match="y"):
        problems.mlp_regression(X, jnp.ones(8), hidden=4)


def test_non_finite_data():
    with pytest.raises(ValueError, match="x: .*non-finite"):
        problems.mlp_classification(X.at[2, 1].set(jnp.nan), LABELS, hidden=4)
    with pytest.raises(ValueError, match="y: .*non-finite"):
        problems.mlp_regression(X, jnp.ones(10).at[0].set(jnp.inf), hidden=4)


def test_labels_out_of_range():
    with pytest.raises(ValueError, match="labels: label 3 out of range"):
        problems.mlp_classification(X, LABELS.at[0].set(3), hidden=4, num_classes=3)
    with pytest.raises(ValueError, match="labels: labels must be >= 0"):
        problems.mlp_classification(X, LABELS.at[0].set(-1), hidden=4)
    with pytest.raises(ValueError, match="labels: labels must be integers"):
        problems.mlp_classification(X, jnp.full(10, 0.5), hidden=4)


def test_unknown_activation():
    with pytest.raises(ValueError, match="activation: unknown value 'swishy'"):
        problems.mlp_regression(X, jnp.ones(10), hidden=4, activation="swishy")
    with pytest.raises(ValueError, match="activation"):
        problems.teacher_student_population(
            problems.two_layer_init(key=jr.key(0), dim=3, width=2), width=2, activation="tanh"
        )


def test_bad_shapes_and_options():
    with pytest.raises(ValueError, match="x: expected an array with 2"):
        problems.mlp_regression(jnp.ones(10), jnp.ones(10), hidden=4)
    with pytest.raises(ValueError, match="hidden"):
        problems.mlp_regression(X, jnp.ones(10), hidden=(4, 0))
    with pytest.raises(ValueError, match="classes"):
        data.gaussian_mixture(key=jr.key(0), num_samples=10, dim=2, num_classes=1)
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_test_split(X, LABELS, key=jr.key(0), test_fraction=1.5)
    with pytest.raises(ValueError, match="rank"):
        problems.leaky_rnn(num_units=10, rank=11)
    with pytest.raises(ValueError, match="readout"):
        problems.leaky_rnn(num_units=10, rank=None, readout="kappa")
    with pytest.raises(ValueError, match="teacher"):
        problems.teacher_student_population({"w": jnp.ones(3)}, width=2)
    with pytest.raises(ValueError, match="s: must be finite and > 0"):
        problems.saxe_mode_strength(1.0, s=-1.0, u0=0.1)
