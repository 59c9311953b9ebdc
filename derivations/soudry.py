r"""Soudry & Carmon (2016): the gradient of the MSE in the first layer is the Khatri–Rao
product applied to the error, $\nabla_{W_1}\mathrm{MSE} = \tfrac2N\,\mathrm{reshape}((G*X)e)$,
$G = \mathrm{diag}(w_2)(A\circ E)$, for a fixed slope pattern $A$ (a small symbolic case)."""

import sympy as sp


D0, D1, N = 2, 2, 3
X = sp.Matrix(D0, N, lambda i, j: sp.Symbol(f"x{i}{j}", real=True))
E = sp.Matrix(D1, N, lambda i, j: sp.Symbol(f"e{i}{j}", real=True))
A = sp.Matrix(D1, N, lambda i, j: sp.Symbol(f"s{i}{j}", real=True))  # slopes of the pattern
W = sp.Matrix(D1, D0, lambda i, j: sp.Symbol(f"W{i}{j}", real=True))
w2 = sp.Matrix(D1, 1, lambda i, j: sp.Symbol(f"v{i}", real=True))
y = sp.Matrix(1, N, lambda i, j: sp.Symbol(f"y{j}", real=True))

U = W * X
V = sp.Matrix(D1, N, lambda i, n: A[i, n] * U[i, n] * E[i, n])
ERR = w2.T * V - y
MSE = (ERR * ERR.T)[0] / N
GRAD_W = sp.Matrix(D1, D0, lambda i, j: sp.diff(MSE, W[i, j]))
G = sp.Matrix(D1, N, lambda i, n: w2[i] * A[i, n] * E[i, n])
KR = sp.Matrix(D1 * D0, N, lambda r, n: G[r // D0, n] * X[r % D0, n])
GRAD_KR = 2 * KR * ERR.T / N

_SYMS = [s for M in (X, E, A, W, w2, y) for s in M]
_grad_flat = sp.lambdify(_SYMS, list(GRAD_W), modules="numpy")


def grad_w(x, e, a, w, v, yy):
    """The symbolic gradient (pattern `a` of slopes) at numeric arrays of the shapes of
    (X, E, A, W, w2, y): returns a (D1, D0) array."""
    import numpy as np

    vals = np.concatenate([np.asarray(t, dtype=float).ravel() for t in (x, e, a, w, v, yy)])
    return np.array(_grad_flat(*vals), dtype=float).reshape(D1, D0)


def check() -> None:
    diff = GRAD_KR - GRAD_W.reshape(D1 * D0, 1)
    assert all(sp.expand(d) == 0 for d in diff)


if __name__ == "__main__":
    check()
    print("ok")
