"""Network curvature: HVPs, dense Hessians, operators, Gauss–Newton split, derived measures."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from tests.helpers import own_checks
from toymodels import landscape
from toymodels.linalg import eigsh
from toymodels.problems import mlp_classification, mlp_regression


@pytest.fixture(scope="module")
def mlp():
    """A small tanh MLP classifier (3 → 5 → 4, 12 samples, 44 params) at a random point."""
    k1, k2, k3 = jr.split(jr.key(3), 3)
    x = jr.normal(k1, (12, 3))
    y = jr.randint(k2, (12,), 0, 4)
    problem = mlp_classification(x, y, hidden=5, num_classes=4)
    params = problem.init(k3)
    return problem, params


@pytest.fixture(scope="module")
def mlp_dense(mlp):
    problem, params = mlp
    flat, unravel = ravel_pytree(params)
    return np.asarray(jax.jit(jax.hessian(lambda f: problem.loss(unravel(f))))(flat))


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
    bot, _, res = eigsh(op, 5, which="smallest", key=k2, tol=1e-10)  # same compile as top-5
    np.testing.assert_allclose(bot[:3], w[:3], atol=1e-8)
    assert np.all(np.asarray(res) < 1e-8)
    assert w[0] < 0  # a random point of a tanh net is not a minimum: saddle index > 0


@pytest.mark.usefixtures("own_checks")
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


def test_dense_hessian_of_any_pytree():
    """`landscape.hessian` on a dict of a scalar, a vector and a matrix, in ravel_pytree order
    (keys sorted: s, v, w), against the closed form of
    L = ½ s² Σw² + s Σv + Σv³/6."""
    from toymodels.problems import FunctionProblem

    def loss(p):
        return (
            0.5 * p["s"] ** 2 * jnp.sum(p["w"] ** 2)
            + p["s"] * jnp.sum(p["v"])
            + jnp.sum(p["v"] ** 3) / 6
        )

    params = {"w": jnp.array([[1.0, -2.0, 0.5], [0.3, 0.0, 4.0]]), "s": jnp.array(1.5)}
    params["v"] = jnp.array([0.2, -1.0, 3.0])
    prob = FunctionProblem(loss, lambda k: params)
    s, v, w = 1.5, np.asarray(params["v"]), np.asarray(params["w"]).ravel()
    ref = np.zeros((10, 10))
    ref[0, 0] = np.sum(w**2)
    ref[0, 1:4] = ref[1:4, 0] = 1.0
    ref[1:4, 1:4] = np.diag(v)
    ref[0, 4:] = ref[4:, 0] = 2 * s * w
    ref[4:, 4:] = s**2 * np.eye(6)
    np.testing.assert_allclose(landscape.hessian(prob, params), ref, rtol=1e-14, atol=1e-14)


def test_linear_regression_closed_form(key):
    """Mean MSE (½ convention) of a linear model: H = XᵀX/N exactly."""
    k1, k2, k3 = jr.split(key, 3)
    x = jr.normal(k1, (16, 5))
    y = jr.normal(k2, (16,))
    problem = mlp_regression(x, y, hidden=(), bias=False)
    params = problem.init(k3)
    np.testing.assert_allclose(
        landscape.hessian(problem, params), x.T @ x / 16, rtol=1e-10, atol=1e-12
    )


def test_binary_logistic_and_softmax_linear_closed_forms(key):
    """Binary logistic H = Xᵀdiag(p(1−p))X/N; softmax-linear H = (1/N)Σ(diag p − ppᵀ)⊗xxᵀ;
    for both the Gauss–Newton term equals H and the residual vanishes (outputs linear)."""
    from toymodels.problems import FunctionProblem

    k1, k2, k3, k4 = jr.split(key, 4)
    n, d, c = 16, 5, 3
    x = jr.normal(k1, (n, d))
    yb = jr.bernoulli(k2, 0.5, (n,)).astype(x.dtype)

    def logistic_loss(w):
        z = x @ w["w"]
        return jnp.mean(jax.nn.softplus(z) - yb * z)

    prob = FunctionProblem(logistic_loss, lambda k: {"w": jr.normal(k, (d,))})
    w = prob.init(k3)
    p = jax.nn.sigmoid(x @ w["w"])
    np.testing.assert_allclose(
        landscape.hessian(prob, w), (x.T * (p * (1 - p))) @ x / n, rtol=1e-10, atol=1e-12
    )
    labels = jr.randint(k4, (n,), 0, c)
    sm = mlp_classification(x, labels, hidden=(), bias=False, num_classes=c)
    params = sm.init(k3)
    probs = jax.nn.softmax(x @ params[0]["w"].T, axis=-1)
    h_ref = (
        sum(
            np.kron(np.diag(probs[i]) - np.outer(probs[i], probs[i]), np.outer(x[i], x[i]))
            for i in range(n)
        )
        / n
    )
    np.testing.assert_allclose(landscape.hessian(sm, params), h_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        landscape.gauss_newton_operator(sm, params).to_dense(), h_ref, rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(landscape.residual_operator(sm, params).to_dense(), 0.0, atol=1e-12)


def test_gauss_newton_split_mse_and_ce(mlp, mlp_dense, key):
    """H = G + H_res against autodiff for CE and MSE; G against explicit Jᵀ M J."""
    problem, params = mlp
    flat, unravel = ravel_pytree(params)
    g = landscape.gauss_newton_operator(problem, params).to_dense()
    r = landscape.residual_operator(problem, params).to_dense()
    np.testing.assert_allclose(g + r, mlp_dense, atol=1e-12)
    jac = jax.jit(jax.jacobian(lambda f: problem.outputs(unravel(f))))(flat)  # (N, C, P)
    probs = jax.nn.softmax(problem.outputs(params), axis=-1)
    m = jax.vmap(lambda q: jnp.diag(q) - jnp.outer(q, q))(probs)
    g_ref = jnp.einsum("nkp,nkl,nlq->pq", jac, m, jac) / problem.num_samples
    np.testing.assert_allclose(g, g_ref, atol=1e-12)
    assert np.linalg.eigvalsh(g).min() > -1e-12  # PSD
    # MSE with vector outputs: G = JᵀJ/N, H_res = Σ (z − y)/N ∇²z
    k1, k2 = jr.split(key)
    y = jr.normal(k1, (12, 4))
    reg = mlp_regression(problem.x, y, hidden=5)
    p2 = reg.init(k2)
    f2, un2 = ravel_pytree(p2)
    h2 = jax.jit(jax.hessian(lambda f: reg.loss(un2(f))))(f2)
    g2 = landscape.gauss_newton_operator(reg, p2).to_dense()
    r2 = landscape.residual_operator(reg, p2).to_dense()
    j2 = jax.jit(jax.jacobian(lambda f: reg.outputs(un2(f))))(f2).reshape(-1, f2.size)
    np.testing.assert_allclose(g2, j2.T @ j2 / 12, atol=1e-12)
    np.testing.assert_allclose(g2 + r2, h2, atol=1e-12)
    with own_checks(), pytest.raises(TypeError, match="^problem"):
        from toymodels.problems import FunctionProblem

        landscape.gauss_newton_operator(FunctionProblem(lambda p: p @ p, lambda k: 0.0), flat)


def test_wolkowicz_styan_on_mlp_hessians(mlp, key):
    """The six bounds hold for MLP Hessians at 20 random points (same shapes: one compile),
    and from Hutchinson estimates of the traces the λmax bound still exceeds Lanczos λmax."""
    from toymodels.linalg import frobenius_squared, trace, wolkowicz_styan

    problem, _ = mlp
    for i in range(20):
        params = problem.init(jr.fold_in(key, i))
        h = np.asarray(landscape.hessian(problem, params))
        w = np.linalg.eigvalsh(h)
        ws = wolkowicz_styan(np.trace(h), np.sum(h * h), h.shape[0])
        tol = 1e-9 * np.abs(w).max()
        assert ws.lmax_lower - tol <= w[-1] <= ws.lmax_upper + tol
        assert ws.lmin_lower - tol <= w[0] <= ws.lmin_upper + tol
        assert ws.spread_lower - tol <= w[-1] - w[0] <= ws.spread_upper + tol
    op = landscape.hessian_operator(problem, params)
    k1, k2 = jr.split(key)
    t, t_se = trace(op, num_probes=200, key=k1)
    f, f_se = frobenius_squared(op, num_probes=200, key=k2)
    assert abs(float(t) - np.trace(h)) < 3 * float(t_se)
    assert abs(float(f) - np.sum(h * h)) < 3 * float(f_se)
    assert float(wolkowicz_styan(t, f, h.shape[0]).lmax_upper) > w[-1]


def test_gradient_fraction_and_keskar(mlp, mlp_dense, key):
    problem, params = mlp
    g = ravel_pytree(problem.grad(params))[0]
    w, v = np.linalg.eigh(mlp_dense)
    top = v[:, ::-1][:, :5]
    ref = np.sum((top.T @ np.asarray(g)) ** 2) / np.sum(np.asarray(g) ** 2)
    _, vecs, _ = eigsh(landscape.hessian_operator(problem, params), 5, key=key, tol=1e-10)
    frac = landscape.gradient_fraction_in_top_subspace(problem, params, eigenvectors=vecs)
    np.testing.assert_allclose(frac, ref, rtol=1e-8)
    assert 0 < float(frac) < 1
    # Keskar ε-sharpness of a diagonal convex quadratic at its minimum c: the box maximum is
    # the corner, ½ Σ hᵢ ε²(|cᵢ| + 1)², so φ = 100 · that / (1 + 0)
    from toymodels.problems import FunctionProblem

    h = jnp.array([1.0, 3.0, 0.5, 2.0])
    c = jnp.array([0.3, -1.0, 2.0, 0.0])
    quad = FunctionProblem(lambda p: 0.5 * jnp.sum(h * (p - c) ** 2), lambda k: c)
    for eps in (1e-3, 5e-4):
        got = landscape.keskar_sharpness(quad, c, epsilon=eps, key=key)
        np.testing.assert_allclose(
            got, 100 * 0.5 * jnp.sum(h * eps**2 * (jnp.abs(c) + 1) ** 2), rtol=1e-10
        )
    sub = landscape.keskar_sharpness(problem, params, epsilon=1e-3, key=key, num_directions=10)
    assert np.isfinite(float(sub))
    with pytest.raises(ValueError, match="^epsilon"):
        landscape.keskar_sharpness(quad, c, epsilon=-1.0, key=key)


def test_curvature_gradient_against_finite_differences_of_the_dense_hessian(mlp, key):
    """∇(uᵀH(θ)u) along random w = central differences of uᵀH(θ ± hw)u, H the dense autodiff
    Hessian; with u the top eigenvector it is the derivative of λ_max (Hellmann–Feynman)."""
    problem, params = mlp
    flat, unravel = ravel_pytree(params)
    dense = jax.jit(jax.hessian(lambda f: problem.loss(unravel(f))))
    ku, kw = jr.split(key)
    h = 1e-4
    for u in (jr.normal(ku, flat.shape), jnp.linalg.eigh(dense(flat))[1][:, -1]):
        grad = ravel_pytree(landscape.curvature_gradient(problem, params, unravel(u)))[0]
        for w in jr.normal(kw, (3, flat.size)):
            fd = (u @ dense(flat + h * w) @ u - u @ dense(flat - h * w) @ u) / (2 * h)
            np.testing.assert_allclose(grad @ w, fd, rtol=1e-6, atol=1e-9)
    top = [jnp.linalg.eigvalsh(dense(flat + s * h * w))[-1] for s in (1, -1)]
    np.testing.assert_allclose(grad @ w, (top[0] - top[1]) / (2 * h), rtol=1e-6, atol=1e-9)


def test_curvature_gradient_rejects_a_mismatched_direction(mlp):
    problem, params = mlp
    with pytest.raises(ValueError, match="direction"):
        landscape.curvature_gradient(problem, params, {"w": jnp.ones(3)})
