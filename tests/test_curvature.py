"""Network curvature: HVPs, dense Hessians, operators, Gauss–Newton split, derived measures."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from toymodels import landscape
from toymodels.linalg import eigsh
from toymodels.problems import mlp_classification, mlp_regression


@pytest.fixture(scope="module")
def mlp():
    """A small tanh MLP classifier (3 → 5 → 4, 12 samples, 44 params) at a random point."""
    k1, k2, k3 = jr.split(jr.key(3), 3)
    x = jr.normal(k1, (12, 3))
    y = jr.randint(k2, (12,), 0, 4)
    problem = mlp_classification(x, y, 5, num_classes=4)
    params = problem.init(k3)
    return problem, params


@pytest.fixture(scope="module")
def mlp_dense(mlp):
    problem, params = mlp
    flat, unravel = ravel_pytree(params)
    return np.asarray(jax.hessian(lambda f: problem.loss(unravel(f)))(flat))


def test_hvp_matches_autodiff_hessian(mlp, mlp_dense, key):
    problem, params = mlp
    flat, unravel = ravel_pytree(params)
    v = jr.normal(key, flat.shape)
    hv = ravel_pytree(landscape.hvp(problem, params, unravel(v)))[0]
    np.testing.assert_allclose(hv, mlp_dense @ np.asarray(v), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(landscape.hessian(problem, params), mlp_dense, atol=1e-12)
    op = landscape.hessian_operator(problem, params)
    assert op.shape == (flat.size, flat.size) and op.dtype == flat.dtype
    np.testing.assert_allclose(op.matvec(v), mlp_dense @ np.asarray(v), rtol=1e-10, atol=1e-12)
    tree = op.tree_matvec(unravel(v))
    np.testing.assert_allclose(op.ravel(tree), mlp_dense @ np.asarray(v), atol=1e-12)


def test_mlp_top5_bottom3_match_dense(mlp, mlp_dense, key):
    problem, params = mlp
    op = landscape.hessian_operator(problem, params)
    w = np.linalg.eigvalsh(mlp_dense)
    k1, k2 = jr.split(key)
    top, vecs, res = eigsh(op, 5, key=k1, tol=1e-10)
    np.testing.assert_allclose(top, w[::-1][:5], atol=1e-8)
    assert np.all(np.asarray(res) < 1e-8) and res.shape == (5,)
    # residuals are the true ‖Hv − λv‖
    true_res = np.linalg.norm(
        mlp_dense @ np.asarray(vecs) - np.asarray(vecs) * np.asarray(top), axis=0
    )
    np.testing.assert_allclose(res, true_res, atol=1e-10)
    bot, _, res = eigsh(op, 3, which="smallest", key=k2, tol=1e-10)
    np.testing.assert_allclose(bot, w[:3], atol=1e-8)
    assert w[0] < 0  # a random point of a tanh net is not a minimum: saddle index > 0


def test_curvature_bad_input(mlp):
    problem, params = mlp
    bad = jax.tree_util.tree_map(lambda a: a.at[(0,) * a.ndim].set(jnp.nan), params)
    for fn in (landscape.hessian, landscape.hessian_operator):
        with pytest.raises(ValueError, match="^params"):
            fn(problem, bad)
    with pytest.raises(ValueError, match="^params"):
        landscape.hvp(problem, bad, params)
    with pytest.raises(TypeError, match="^problem"):
        landscape.hessian("not a problem", params)
    with pytest.raises(ValueError, match="^v"):
        landscape.hvp(problem, params, params[:1])


def test_linear_regression_closed_form(key):
    """Mean MSE (½ convention) of a linear model: H = XᵀX/N exactly."""
    k1, k2, k3 = jr.split(key, 3)
    x = jr.normal(k1, (16, 5))
    y = jr.normal(k2, (16,))
    problem = mlp_regression(x, y, (), bias=False)
    params = problem.init(k3)
    np.testing.assert_allclose(
        landscape.hessian(problem, params), x.T @ x / 16, rtol=1e-10, atol=1e-12
    )
