r"""Stability of optimizers on a quadratic, their exceptional points, the frozen-Adam
commutator identity, SGD's one-step expected loss, and the scalar factorization.

On a quadratic with curvature $h$ every method below acts on one eigen-direction through a
small matrix in $x = \eta h$; it diverges when an eigenvalue leaves the unit disk. Sources:
Cohen et al. 2021 (edge of stability, footnote on quadratics; momentum variants), Ghosh 2026
(non-normal operators), ghost-nonnormal-eos.md §2, §4, §5.
"""

import sympy as sp


x, eta, h = sp.symbols("x eta h", positive=True)  # x = eta * h
beta = sp.symbols("beta", positive=True)
lam = sp.symbols("lambda")
u, v, u0, v0 = sp.symbols("u v u0 v0", real=True)

#: One-direction blocks (state (θ_k, θ_{k-1}) for heavy ball and Nesterov, (θ, m) for EMA).
GD_BLOCK = sp.Matrix([[1 - x]])
HB_BLOCK = sp.Matrix([[1 + beta - x, -beta], [1, 0]])
NESTEROV_BLOCK = sp.Matrix([[(1 + beta) * (1 - x), -beta * (1 - x)], [1, 0]])
# EMA momentum m <- beta m + (1 - beta) h theta, theta <- theta - eta m, in units of eta:
EMA_BLOCK = sp.Matrix([[1 - (1 - beta) * x, -eta * beta], [(1 - beta) * x / eta, beta]])


def char_poly(block):
    return sp.expand((lam * sp.eye(block.shape[0]) - block).det())


def edge(block):
    """The x > 0 where an eigenvalue crosses −1 (the flip/period-doubling edge)."""
    sols = sp.solve(sp.Eq(char_poly(block).subs(lam, -1), 0), x)
    return sp.simplify(sols[0]) if len(sols) == 1 else sols


GD_EDGE = edge(GD_BLOCK)
HB_EDGE = edge(HB_BLOCK)
NESTEROV_EDGE = edge(NESTEROV_BLOCK)
EMA_EDGE = edge(EMA_BLOCK)

#: Heavy-ball discriminant and its zeros (exceptional points, a defective block).
HB_DISCRIMINANT = sp.expand((1 + beta - x) ** 2 - 4 * beta)
HB_EXCEPTIONAL = sorted(sp.solve(sp.Eq(HB_DISCRIMINANT, 0), x), key=lambda e: e.subs(beta, 0.5))
HB_EIGENVALUES = sp.solve(char_poly(HB_BLOCK), lam)

#: numeric exports
gd_edge = sp.lambdify((), GD_EDGE, "numpy")
heavy_ball_edge = sp.lambdify(beta, HB_EDGE, "numpy")
nesterov_edge = sp.lambdify(beta, NESTEROV_EDGE, "numpy")
ema_momentum_edge = sp.lambdify(beta, EMA_EDGE, "numpy")
heavy_ball_exceptional_points = sp.lambdify(beta, sp.Tuple(*HB_EXCEPTIONAL), "numpy")
_hb_eigenvalues = sp.lambdify(
    (x, beta), HB_EIGENVALUES, modules=[{"sqrt": lambda a: (a + 0j) ** 0.5}, "numpy"]
)


def heavy_ball_radius(xv, bv):
    """Spectral radius of the heavy-ball block at x = eta h (numeric, complex-safe)."""
    import numpy as np  # noqa: PLC0415

    return np.maximum(*[np.abs(e) for e in _hb_eigenvalues(xv, bv)])


# ---------------------------------------------------------------- frozen Adam
def adam_commutator_identity(n: int = 3) -> sp.Matrix:
    r"""$J_A - J_A^\top + \eta[M, H]$ for a general symmetric $H$ and diagonal $M$ (zero)."""
    hs = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"h{min(i, j)}{max(i, j)}", real=True))
    ms = sp.diag(*[sp.Symbol(f"m{i}", positive=True) for i in range(n)])
    j = sp.eye(n) - eta * ms * hs
    return sp.simplify(j - j.T + eta * (ms * hs - hs * ms))


# ---------------------------------------------------------------- SGD one step
def sgd_one_step_identity(n: int = 2):
    r"""$\mathbb E[L(\theta - \eta g)] - [L - \eta\lVert\nabla L\rVert^2 + \tfrac{\eta^2}{2}
    \mathrm{tr}(H\,\mathbb E[gg^\top])]$ for $L = \tfrac12\theta^\top H\theta$, $g = \nabla L + \xi$,
    $\mathbb E\xi = 0$, $\mathbb E\xi\xi^\top = \Sigma$ (zero)."""
    hs = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"h{min(i, j)}{max(i, j)}", real=True))
    sig = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"s{min(i, j)}{max(i, j)}", real=True))
    th = sp.Matrix(n, 1, lambda i, _: sp.Symbol(f"t{i}", real=True))
    xi = sp.Matrix(n, 1, lambda i, _: sp.Symbol(f"xi{i}", real=True))
    grad = hs * th
    after = th - eta * (grad + xi)
    loss_after = sp.expand((after.T * hs * after)[0, 0] / 2)
    # Take the expectation: E[xi_i] = 0, E[xi_i xi_j] = s_ij.
    expectation = loss_after
    for i in range(n):
        for j in range(n):
            if i <= j:
                pair = xi[i] * xi[j]
                expectation = expectation.subs(pair, sig[i, j])
    expectation = expectation.subs({xi[i]: 0 for i in range(n)})
    second = grad * grad.T + sig
    pred = (
        (th.T * hs * th)[0, 0] / 2
        - eta * (grad.T * grad)[0, 0]
        + eta**2 / 2 * (hs * second).trace()
    )
    return sp.simplify(sp.expand(expectation - pred))


# ---------------------------------------------------------------- scalar factorization
SF_LOSS = sp.Rational(1, 2) * (u * v - 1) ** 2
SF_HESSIAN = sp.hessian(SF_LOSS, (u, v))
#: Gradient flow conserves u² − v²; on the minimum uv = 1 the sharpness is u² + v².
SF_INVARIANT = u**2 - v**2
SF_FLOW_LIMIT_SHARPNESS = sp.sqrt((u0**2 - v0**2) ** 2 + 4)
flow_limit_sharpness = sp.lambdify((u0, v0), SF_FLOW_LIMIT_SHARPNESS, "numpy")
sf_sharpness = sp.lambdify((u, v), sp.Max(*SF_HESSIAN.eigenvals().keys()), modules="numpy")


def check() -> None:
    assert GD_EDGE == 2
    assert sp.simplify(HB_EDGE - 2 * (1 + beta)) == 0
    assert sp.simplify(NESTEROV_EDGE - (2 + 2 * beta) / (1 + 2 * beta)) == 0
    assert sp.simplify(EMA_EDGE - 2 * (1 + beta) / (1 - beta)) == 0
    # beta -> 0 recovers GD for every momentum variant.
    for e in (HB_EDGE, NESTEROV_EDGE, EMA_EDGE):
        assert sp.limit(e, beta, 0) == 2
    # The other crossing (eigenvalue +1) is at x = 0 for every method.
    for block in (HB_BLOCK, NESTEROV_BLOCK, EMA_BLOCK):
        assert sp.simplify(char_poly(block).subs({lam: 1, x: 0})) == 0
    # EMA: det = beta for every x, so the complex-pair modulus is sqrt(beta).
    assert sp.simplify(EMA_BLOCK.det() - beta) == 0
    # Heavy ball: exceptional points (1 -+ sqrt(beta))^2, modulus sqrt(beta) between them.
    lo, hi = HB_EXCEPTIONAL
    assert sp.simplify(lo - (1 - sp.sqrt(beta)) ** 2) == 0
    assert sp.simplify(hi - (1 + sp.sqrt(beta)) ** 2) == 0
    assert sp.simplify(HB_BLOCK.det() - beta) == 0
    # At an exceptional point the block is a Jordan block (one eigenvector only).
    for ep in HB_EXCEPTIONAL:
        for b in (sp.Rational(1, 4), sp.Rational(9, 10)):
            blk = HB_BLOCK.subs({x: ep.subs(beta, b), beta: b})
            ((ev, mult, vecs),) = blk.eigenvects()
            assert mult == 2 and len(vecs) == 1
    # Frozen Adam: J - J^T = -eta [M, H].
    assert adam_commutator_identity(3) == sp.zeros(3, 3)
    # SGD one-step expected loss on a quadratic.
    assert sgd_one_step_identity(2) == 0
    # Scalar factorization: flow conserves u^2 - v^2; sharpness on uv = 1 is u^2 + v^2.
    flow = sp.Matrix([-sp.diff(SF_LOSS, u), -sp.diff(SF_LOSS, v)])
    assert sp.simplify(sp.diff(SF_INVARIANT, u) * flow[0] + sp.diff(SF_INVARIANT, v) * flow[1]) == 0
    hm = SF_HESSIAN.subs(v, 1 / u)
    assert sp.simplify(hm.trace() - (u**2 + 1 / u**2)) == 0 and sp.simplify(hm.det()) == 0
    # (u^2 + v^2)^2 = (u^2 - v^2)^2 + 4 u^2 v^2 = c^2 + 4 on uv = 1.
    assert sp.simplify((u**2 + 1 / u**2) ** 2 - ((u**2 - 1 / u**2) ** 2 + 4)) == 0


if __name__ == "__main__":
    check()
    print("ok")
