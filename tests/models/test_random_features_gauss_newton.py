"""`random_features.track_curvature(..., gauss_newton=True)`: the Gauss–Newton term from the
per-sample output Jacobians against independent references (the model Fisher of
`dynamics.fisher_information` for softmax cross-entropy, `landscape.gauss_newton_operator`
and `residual_operator` for a scalar MSE output)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import toymodels.models.random_features as rf
from toymodels import dynamics, landscape
from toymodels.problems import mlp_classification, mlp_regression


X = jr.normal(jr.key(7), (24, 3))


def _check(tr, prob, params, g_dense, k):
    h = np.asarray(landscape.hessian(prob, params))
    w, v = np.linalg.eigh(g_dense)
    top = tr.gn_top.shape[1]
    np.testing.assert_allclose(tr.gn_top[0], w[::-1][:top], rtol=1e-8, atol=1e-12)
    grad = np.asarray(ravel_pytree(prob.grad(params))[0])
    share = np.sum((v[:, -k:].T @ grad) ** 2) / np.sum(grad**2)
    np.testing.assert_allclose(tr.gn_fraction[0], share, rtol=1e-6, atol=1e-12)
    rn = np.linalg.norm(h - g_dense)
    np.testing.assert_allclose(tr.residual_rms[0], rn / np.sqrt(w.size), rtol=1e-8)
    np.testing.assert_allclose(tr.residual_ratio[0], rn / np.linalg.norm(w), rtol=1e-8)
    np.testing.assert_allclose(tr.gn_trace_ratio[0], w.sum() / np.linalg.norm(w), rtol=1e-8)


def test_gauss_newton_observables_cross_entropy_match_the_model_fisher():
    prob = mlp_classification(X, jnp.arange(24) % 3, hidden=(4,))
    p = prob.init(jr.key(0))
    stack = jax.tree_util.tree_map(lambda a: a[None], p)
    tr = rf.track_curvature(prob, stack, k=2, top=4, gauss_newton=True)
    _check(tr, prob, p, np.asarray(dynamics.fisher_information(prob, p)), 2)
    with pytest.raises(TypeError, match="gauss_newton"):
        rf.track_curvature(prob, stack, k=2, gauss_newton=1)


@pytest.mark.slow
def test_gauss_newton_observables_scalar_mse_match_the_operators():
    y = jnp.sin(X[:, 0]) + 0.1 * jr.normal(jr.key(8), (24,))
    prob = mlp_regression(X, y, hidden=(5,))
    p = prob.init(jr.key(1))
    stack = jax.tree_util.tree_map(lambda a: a[None], p)
    tr = rf.track_curvature(prob, stack, k=2, top=4, gauss_newton=True)
    g_dense = np.asarray(landscape.gauss_newton_operator(prob, p).to_dense())
    r_dense = np.asarray(landscape.residual_operator(prob, p).to_dense())
    np.testing.assert_allclose(
        np.asarray(landscape.hessian(prob, p)) - g_dense, r_dense, atol=1e-10
    )
    _check(tr, prob, p, g_dense, 2)
    assert rf.track_curvature(prob, stack, k=2).gn_top is None
