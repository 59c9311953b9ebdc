"""toymodels.linalg: operators, Lanczos, eigsh against dense eigh and matfree."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from toymodels.linalg import FunctionOperator, eigsh, lanczos


def _rotated(key, eigs):
    n = eigs.shape[0]
    q, _ = jnp.linalg.qr(jr.normal(key, (n, n)))
    return (q * eigs) @ q.T


@pytest.fixture(scope="module")
def sym():
    b = jr.normal(jr.key(11), (60, 60))
    return (b + b.T) / 2


def test_full_lanczos_reproduces_eigh(sym, key):
    n = sym.shape[0]
    res = lanczos(sym, jr.normal(key, (n,)), n)
    np.testing.assert_allclose(
        np.linalg.eigvalsh(res.tridiagonal()), np.linalg.eigvalsh(sym), atol=1e-10
    )
    q = np.asarray(res.basis)
    np.testing.assert_allclose(q @ q.T, np.eye(n), atol=1e-10)
    np.testing.assert_allclose(q @ np.asarray(sym) @ q.T, res.tridiagonal(), atol=1e-10)
    vals, vecs, r = eigsh(sym, n)
    np.testing.assert_allclose(vals, np.linalg.eigvalsh(sym)[::-1], atol=1e-10)


def test_eigsh_extremal_and_warm_start(sym, key):
    w = np.linalg.eigvalsh(sym)
    k1, k2 = jr.split(key)
    vals, vecs, res, info = eigsh(sym, 4, key=k1, num_steps=20, tol=1e-10, return_info=True)
    np.testing.assert_allclose(vals, w[::-1][:4], atol=1e-9)
    assert bool(info["converged"]) and np.all(np.asarray(res) <= 1e-10 * np.abs(w).max())
    vals, _, _ = eigsh(sym, 2, which="smallest", key=k2, num_steps=20, tol=1e-10)
    np.testing.assert_allclose(vals, w[:2], atol=1e-9)
    # warm start from the converged eigenvectors: converges in the first cycle
    _, _, _, info2 = eigsh(sym, 4, v0=vecs, key=k2, num_steps=20, tol=1e-8, return_info=True)
    assert int(info2["restarts"]) == 0 and int(info2["restarts"]) < int(info["restarts"])


def test_operator_inputs_and_bad_input(sym):
    op = FunctionOperator(lambda v: sym @ v, sym.shape[0])

    class Obj:
        shape = sym.shape

        def matvec(self, v):
            return sym @ v

    a = eigsh(sym, 2)[0]
    np.testing.assert_allclose(eigsh(op, 2)[0], a, atol=1e-8)
    np.testing.assert_allclose(eigsh(Obj(), 2)[0], a, atol=1e-8)
    with pytest.raises(ValueError, match="^k"):
        eigsh(sym, 61)
    with pytest.raises(ValueError, match="^op"):
        eigsh(jnp.ones((3, 4)), 1)
    with pytest.raises(ValueError, match="^op"):
        eigsh(jnp.triu(sym), 1)
    with pytest.raises(ValueError, match="^op"):
        eigsh(sym.at[0, 0].set(jnp.nan), 1)
    with pytest.raises(ValueError, match="^which"):
        eigsh(sym, 1, which="middle")


def test_low_rank_no_nan(key):
    x = jr.normal(key, (40, 3))
    a = x @ x.T
    vals, vecs, res = eigsh(a, 6)
    assert np.all(np.isfinite(vals)) and np.all(np.isfinite(vecs)) and np.all(np.isfinite(res))
    np.testing.assert_allclose(vals, np.linalg.eigvalsh(a)[::-1][:6], atol=1e-9)
    res = lanczos(a, jnp.ones(40), 40)
    assert np.all(np.isfinite(res.alpha)) and np.all(np.isfinite(res.beta))
    assert np.sum(np.asarray(res.beta) == 0) >= 1
    zero = lanczos(jnp.zeros((5, 5)), jnp.ones(5), 5)
    assert np.all(np.isfinite(zero.basis)) and np.all(np.asarray(zero.alpha) == 0)
