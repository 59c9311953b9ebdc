r"""The wedge landscape (Fort & Jastrzebski 2019; toy of the spec §3.3): escape distance
(P1), curvature scaling $c^{-2}$ (P2), the weight-decay equilibrium norm (P3), generic
intersection dimensions (P4, P5) and the ensemble average (P6)."""

import sympy as sp


t, a, eps, r, b, lam_ = sp.symbols("t a epsilon r b lambda_", positive=True)
eta, wd, sigma, c, K = sp.symbols("eta lambda sigma c K", positive=True)
x1, x2, x3 = sp.symbols("x1 x2 x3", real=True)

# P1: escape along unit u from theta on the core (S^T theta = 0): the hinge turns on when
# t * a = eps * ||theta + t u||, a = ||S^T u||_inf, b = theta.u, r = ||theta||.
ESCAPE_EQ = t**2 * a**2 - eps**2 * (r**2 + 2 * t * b + t**2)
ESCAPE = (eps**2 * b + sp.sqrt(eps**4 * b**2 + (a**2 - eps**2) * eps**2 * r**2)) / (a**2 - eps**2)

# P2: smooth wedge with short direction e1 in D = 3.
THETA = sp.Matrix([x1, x2, x3])
L_SMOOTH = x1**2 / (eps**2 * (x1**2 + x2**2 + x3**2))

# P3: norm map r^2 -> (1 - eta lambda)^2 r^2 + eta^2 sigma^2 / r^2.
R4_EQ = eta * sigma**2 / (wd * (2 - eta * wd))

escape_distance = sp.lambdify((a, eps, r, b), ESCAPE, modules="numpy")
equilibrium_norm = sp.lambdify((eta, wd, sigma), R4_EQ ** sp.Rational(1, 4), modules="numpy")


def check() -> None:
    # P1: the closed form solves the boundary equation, and scales linearly with the radius
    # (theta -> s theta maps r -> s r and b -> s b).
    assert sp.simplify(ESCAPE_EQ.subs(t, ESCAPE)) == 0
    s = sp.symbols("s", positive=True)
    assert sp.simplify(ESCAPE.subs({r: s * r, b: s * b}, simultaneous=True) - s * ESCAPE) == 0
    # P2: L(c theta) = L(theta) and the Hessian scales as c^-2.
    sub = {x1: c * x1, x2: c * x2, x3: c * x3}
    assert sp.simplify(L_SMOOTH.subs(sub, simultaneous=True) - L_SMOOTH) == 0
    h = sp.hessian(L_SMOOTH, (x1, x2, x3))
    hc = h.subs(sub, simultaneous=True)
    assert sp.simplify(hc - h / c**2) == sp.zeros(3, 3)
    # Euler (degree-0 homogeneity): grad . theta = 0 and H theta = -grad.
    grad = sp.Matrix([sp.diff(L_SMOOTH, v) for v in (x1, x2, x3)])
    assert sp.simplify((grad.T * THETA)[0]) == 0
    assert sp.simplify(h * THETA + grad) == sp.zeros(3, 1)
    # On the core (x1 = 0) at radius r the short-direction curvature is 2/(eps^2 r^2).
    assert sp.simplify(h[0, 0].subs({x1: 0, x2: r, x3: 0}) - 2 / (eps**2 * r**2)) == 0
    # P3: fixed point of the norm map; curvature ~ r^-2 ~ sqrt(lambda/eta) for small eta*lambda.
    q = sp.symbols("q", positive=True)  # q = r^2
    fixed = sp.solve(sp.Eq(q, (1 - eta * wd) ** 2 * q + eta**2 * sigma**2 / q), q)
    assert any(sp.simplify(f**2 - R4_EQ) == 0 for f in fixed)
    assert sp.limit(R4_EQ * wd / eta, wd, 0) == sigma**2 / 2
    # P4/P5: generic subspaces; stacked short bases of sizes n_i have rank min(D, sum n_i),
    # so cores (dim D - n_i) share a nonzero point iff D > sum n_i. Exact check with
    # pseudo-random integer bases.
    for seed, (dim, ns) in enumerate(((7, (2, 2, 2)), (6, (2, 2, 2)), (5, (3, 3)), (8, (3, 3)))):
        stack = sp.randMatrix(sum(ns), dim, min=-9, max=9, seed=seed + 1)
        rank = stack.rank()
        assert rank == min(dim, sum(ns))
        assert (dim - rank > 0) == (dim > sum(ns))
    # P6: averaging K i.i.d. centred deviations divides the mean square by K.
    z = sp.symbols("z0:3", real=True)
    mean = sum(z) / 3
    sq = sp.Poly(sp.expand(mean**2), *z)
    e2 = sum(coef * sigma**2 for mon, coef in sq.terms() if sorted(mon)[-1] == 2)
    assert sp.simplify(e2 - sigma**2 / 3) == 0


if __name__ == "__main__":
    check()
    print("ok")
