r"""Weight-space symmetry: the split construction and its curvature, and the counting
formulas (Fukumizu & Amari 2000; Brea et al. 2019; Şimşek et al. 2021).

Split: $\gamma a\sigma(wx) + (1-\gamma)a\sigma(wx) = a\sigma(wx)$. Moving the copies'
incoming weights by $(1-\gamma)\eta\xi$ and $-\gamma\eta\xi$ changes the output by
$\tfrac12\gamma(1-\gamma)a\sigma''(wx)(\eta\xi x)^2 + O(\eta^3)$, hence
$v^\top Hv = \gamma(1-\gamma)\langle\ell'\,a\sigma''(\xi x)^2\rangle = \gamma(1-\gamma)\xi^\top B\xi$.
"""

import sympy as sp


gamma, eta, a, w, x, xi = sp.symbols("gamma eta a w x xi", real=True)
sigma = sp.Function("sigma")

SPLIT_OUTPUT = gamma * a * sigma((w + (1 - gamma) * eta * xi) * x) + (1 - gamma) * a * sigma(
    (w - gamma * eta * xi) * x
)

r_, m_, n_, K_ = sp.symbols("r m n K", integer=True, positive=True)


def brea_factor(n, K):
    """Σ-term of Brea et al.: C(n − K, K)/2^K (per layer)."""
    return sp.binomial(n - K, K) / 2**K


def _S(n, k):
    return sp.functions.combinatorial.numbers.stirling(int(n), int(k))


def T1(r, m):
    """Global-minimum subspaces with zero-type singletons (reconstructed)."""
    return sum(sp.binomial(m, j) * sp.factorial(r) * _S(j, r) for j in range(int(r), int(m) + 1))


def T2(r, m):
    """Global-minimum subspaces with zero-type groups (reconstructed)."""
    return sum(_S(m, k) * sp.factorial(k) / sp.factorial(k - r) for k in range(int(r), int(m) + 1))


def G(r, m):
    """Duplication subspaces of a width-r critical point in width m (reconstructed)."""
    return sp.factorial(r) * _S(m, r)


#: numeric exports
t1 = lambda r, m: int(T1(sp.Integer(r), sp.Integer(m)))  # noqa: E731
t2 = lambda r, m: int(T2(sp.Integer(r), sp.Integer(m)))  # noqa: E731
g_count = lambda r, m: int(G(sp.Integer(r), sp.Integer(m)))  # noqa: E731
num_permutation_points = lambda widths, K: int(  # noqa: E731
    sp.prod([sp.factorial(n) for n in widths]) * sum(brea_factor(sp.Integer(n), K) for n in widths)
)


def check() -> None:
    # The split leaves the function unchanged and is flat to first order along v.
    assert sp.simplify(SPLIT_OUTPUT.subs(eta, 0) - a * sigma(w * x)) == 0
    d1 = sp.diff(SPLIT_OUTPUT, eta).subs(eta, 0).doit()
    assert sp.simplify(d1) == 0
    d2 = sp.diff(SPLIT_OUTPUT, eta, 2).subs(eta, 0).doit()
    target = (
        gamma
        * (1 - gamma)
        * a
        * sp.Subs(sp.diff(sigma(x * w), w, 2), w, w).doit()
        / x**2
        * (xi * x) ** 2
    )
    assert sp.simplify(sp.expand(d2 - target)) == 0
    # Counting: T1 = T2 for h <= 1; T(1, 2) = 3 (Şimşek 2021 Fig. 4a); the spec's table.
    for r in range(1, 5):
        for h in (0, 1):
            assert T1(r, r + h) == T2(r, r + h)
    assert T1(1, 2) == 3 and T2(1, 2) == 3
    assert [t1(4, 4 + h) for h in range(4)] == [24, 360, 3360, 25200]
    assert [t2(4, 4 + h) for h in range(4)] == [24, 360, 3720, 33600]
    assert [g_count(3, 4 + h) for h in range(4)] == [36, 150, 540, 1806]
    # K = 1: N_min (n − 1)/2 permutation points per layer.
    assert sp.simplify(brea_factor(n_, 1) - (n_ - 1) / 2) == 0


if __name__ == "__main__":
    check()
    print("ok")
