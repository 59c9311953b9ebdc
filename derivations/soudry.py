r"""Soudry & Carmon (2016): the gradient of the MSE in the first layer is the Khatri–Rao
product applied to the error, $\nabla_{W_1}\mathrm{MSE} = \tfrac2N\,\mathrm{reshape}((G*X)^\top e)$,
$G = (A\circ E)\,\mathrm{diag}(w_2)$, for a fixed slope pattern $A$ (a small symbolic case).
Data laid out (samples, features): $X$ is $N\times d_0$, $E$ and $A$ are $N\times d_1$, and row
$n$ of $G*X$ is $G_{n,:}\otimes X_{n,:}$."""

import sympy as sp


D0, D1, N = 2, 2, 3
X = sp.Matrix(N, D0, lambda n, j: sp.Symbol(f"x{n}{j}", real=True))
E = sp.Matrix(N, D1, lambda n, i: sp.Symbol(f"e{n}{i}", real=True))
A = sp.Matrix(N, D1, lambda n, i: sp.Symbol(f"s{n}{i}", real=True))  # slopes of the pattern
W = sp.Matrix(D1, D0, lambda i, j: sp.Symbol(f"W{i}{j}", real=True))
w2 = sp.Matrix(D1, 1, lambda i, j: sp.Symbol(f"v{i}", real=True))
y = sp.Matrix(N, 1, lambda n, j: sp.Symbol(f"y{n}", real=True))

U = X * W.T  # (N, D1)
V = sp.Matrix(N, D1, lambda n, i: A[n, i] * U[n, i] * E[n, i])
ERR = V * w2 - y  # (N, 1)
MSE = (ERR.T * ERR)[0] / N
GRAD_W = sp.Matrix(D1, D0, lambda i, j: sp.diff(MSE, W[i, j]))
G = sp.Matrix(N, D1, lambda n, i: A[n, i] * E[n, i] * w2[i])
KR = sp.Matrix(N, D1 * D0, lambda n, r: G[n, r // D0] * X[n, r % D0])
GRAD_KR = 2 * KR.T * ERR / N  # (D1·D0, 1), row r = (i, j) with r = i·D0 + j

_SYMS = [s for M in (X, E, A, W, w2, y) for s in M]
_grad_flat = sp.lambdify(_SYMS, list(GRAD_W), modules="numpy")


def grad_w(x, e, a, w, v, yy):
    """The symbolic gradient (pattern `a` of slopes) at numeric arrays of the shapes of
    (X (N, D0), E (N, D1), A (N, D1), W (D1, D0), w2 (D1,), y (N,)): a (D1, D0) array."""
    import numpy as np

    vals = np.concatenate([np.asarray(t, dtype=float).ravel() for t in (x, e, a, w, v, yy)])
    return np.array(_grad_flat(*vals), dtype=float).reshape(D1, D0)


def check() -> None:
    diff = GRAD_KR - GRAD_W.reshape(D1 * D0, 1)
    assert all(sp.expand(d) == 0 for d in diff)


if __name__ == "__main__":
    check()
    print("ok")
