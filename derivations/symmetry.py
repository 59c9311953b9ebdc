r"""Weight-space symmetry: the split construction and its curvature, and the counting
formulas (Fukumizu & Amari 2000; Brea et al. 2019; Şimşek et al. 2021).

Split: $\gamma a\sigma(wx) + (1-\gamma)a\sigma(wx) = a\sigma(wx)$. Moving the copies'
incoming weights by $(1-\gamma)\eta\xi$ and $-\gamma\eta\xi$ changes the output by
$\tfrac12\gamma(1-\gamma)a\sigma''(wx)(\eta\xi x)^2 + O(\eta^3)$, hence
$v^\top Hv = \gamma(1-\gamma)\langle\ell'\,a\sigma''(\xi x)^2\rangle = \gamma(1-\gamma)\xi^\top B\xi$.
"""

import itertools

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


def _surjective(labels, r) -> bool:
    return set(range(1, r + 1)) <= set(labels)


def _count_duplications(r: int, m: int) -> int:
    """Maps of m student neurons onto r teacher neurons, each teacher neuron used."""
    return sum(_surjective(f, r) for f in itertools.product(range(1, r + 1), repeat=m))


def _count_zero_singletons(r: int, m: int) -> int:
    """Maps of m neurons to a teacher neuron or to 0 (a zero-type singleton), each teacher
    neuron used."""
    return sum(_surjective(f, r) for f in itertools.product(range(r + 1), repeat=m))


def _set_partitions(items):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _set_partitions(rest):
        yield [[first], *part]
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1 :]]


def _count_zero_groups(r: int, m: int) -> int:
    """Partitions of m neurons into groups, r of them assigned one-to-one to the teacher
    neurons and the rest zero-type groups."""
    return sum(
        len(list(itertools.permutations(range(len(part)), r)))
        for part in _set_partitions(list(range(m)))
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
    # the closed forms against a brute-force enumeration of the objects they count (not a
    # table computed from the same formulas)
    for r, m in [(1, 1), (1, 3), (2, 2), (2, 4), (3, 4), (3, 5), (2, 6), (4, 6)]:
        assert g_count(r, m) == _count_duplications(r, m), (r, m)
        assert t1(r, m) == _count_zero_singletons(r, m), (r, m)
        assert t2(r, m) == _count_zero_groups(r, m), (r, m)
    # K = 1: N_min (n − 1)/2 permutation points per layer.
    assert sp.simplify(brea_factor(n_, 1) - (n_ - 1) / 2) == 0


if __name__ == "__main__":
    check()
    print("ok")
