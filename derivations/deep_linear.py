r"""Deep linear toys: Goodfellow et al.'s two-parameter network and Saxe's learning curve.

Goodfellow, Vinyals & Saxe (2015) show a two-parameter deep linear model $f = w_2 w_1 x$
with target $y = x$, $E[x^2] = 1$: $J = \tfrac12(1 - w_1w_2)^2$. Saxe, McClelland & Ganguli
(2014) solve the gradient flow of $\tfrac12(s - ab)^2$ from a balanced start.
"""

import sympy as sp


w1, w2, alpha = sp.symbols("w1 w2 alpha", real=True)
s, u0, t = sp.symbols("s u0 t", positive=True)
a0, b0, c0, d0 = sp.symbols("a0 b0 c0 d0", real=True)

J = sp.Rational(1, 2) * (1 - w1 * w2) ** 2
GRAD = sp.Matrix([sp.diff(J, w1), sp.diff(J, w2)])
HESSIAN = sp.hessian(J, (w1, w2))


def along_line(p0, p1):
    r"""$J(\alpha)$ on the segment $(1-\alpha)p_0 + \alpha p_1$, as a SymPy expression."""
    x = (1 - alpha) * p0[0] + alpha * p1[0]
    y = (1 - alpha) * p0[1] + alpha * p1[1]
    return sp.expand(J.subs({w1: x, w2: y}))


LINE_GENERIC = along_line((a0, b0), (c0, d0))

#: J along a general segment, as a numeric function of (a0, b0, c0, d0, alpha).
line_loss = sp.lambdify((a0, b0, c0, d0, alpha), LINE_GENERIC, modules="numpy")


def barrier(p0, p1):
    """Exact maximum of J on the segment [p0, p1] (over critical alphas and the ends)."""
    expr = along_line(p0, p1)
    cands = [sp.Integer(0), sp.Integer(1)]
    for r in sp.solve(sp.diff(expr, alpha), alpha):
        if r.is_real and 0 <= r <= 1:
            cands.append(r)
    return sp.Max(*[sp.nsimplify(expr.subs(alpha, c)) for c in cands])


#: Saxe's mode strength u(t) and its ODE du/dt = 2u(s - u).
U_SAXE = s * sp.exp(2 * s * t) / (sp.exp(2 * s * t) - 1 + s / u0)
saxe_u = sp.lambdify((t, s, u0), U_SAXE, modules="numpy")

#: Saxe's deeper network: three layers from a balanced start a₁ = a₂ = a₃ = a, u = a³, under
#: ½(s − a₁a₂a₃)²: a' = (s − a³)a², so u' = 3a⁴(s − u) = 3u^{4/3}(s − u). With c = s^{1/3} the
#: time from a₀ to a is dt = da/(a²(c³ − a³)), whose antiderivative (for 0 < a < c) is
a3, c3 = sp.symbols("a c", positive=True)
DEPTH3_RATE = 1 / (a3**2 * (c3**3 - a3**3))
DEPTH3_TIME = (
    -1 / (a3 * c3**3)
    - sp.log(c3 - a3) / (3 * c3**4)
    + sp.log(a3**2 + a3 * c3 + c3**2) / (6 * c3**4)
    - sp.sqrt(3) * sp.atan((2 * a3 + c3) / (sp.sqrt(3) * c3)) / (3 * c3**4)
)
_depth3_time = sp.lambdify((a3, c3), DEPTH3_TIME, modules="numpy")


#: GD on Goodfellow's J = ½(1 − w₁w₂)² at step η: w₁² − w₂² is multiplied by (1 − η²r²) each
#: step (r = w₁w₂ − 1), so a run that never converges ends balanced (w₁ = w₂), where the
#: product p = w₁w₂ follows p ← p(1 − η(p − 1))². Every minimum has sharpness ≥ 2, so for
#: η > 1 none is stable; the period-2 orbit born at η = 1 solves η²p² − (η² + η)p + 1 = 0.
eta_gd, p_gd = sp.symbols("eta p", positive=True)
PRODUCT_MAP = p_gd * (1 - eta_gd * (p_gd - 1)) ** 2
PERIOD2 = eta_gd**2 * p_gd**2 - (eta_gd**2 + eta_gd) * p_gd + 1


def period2_products(eta_value):
    """The two products p = w₁w₂ of GD's balanced period-2 orbit at step `eta_value` > 1
    (the roots of `PERIOD2`), smaller first."""
    if not eta_value > 1:
        raise ValueError(f"eta_value: the period-2 orbit exists for eta > 1, got {eta_value}")
    root = ((eta_value + 1) ** 2 - 4) ** 0.5
    return ((eta_value + 1) - root) / (2 * eta_value), ((eta_value + 1) + root) / (2 * eta_value)


def depth3_time(s_value, u0_value, u_value):
    r"""Time for the mode of a balanced three-layer linear network to rise from $u_0$ to
    $u < s$ under gradient flow: $\int_{u_0}^{u} du / (3u^{4/3}(s - u))$, in closed form
    (`DEPTH3_TIME` at $a = u^{1/3}$, $c = s^{1/3}$)."""
    c = s_value ** (1 / 3)
    return _depth3_time(u_value ** (1 / 3), c) - _depth3_time(u0_value ** (1 / 3), c)


def depth3_half_time(s_value, u0_value):
    r"""`depth3_time` to $u = s/2$."""
    return depth3_time(s_value, u0_value, s_value / 2)


def check() -> None:
    # The origin is a saddle with Hessian eigenvalues ±1; minima are the hyperbola w1 w2 = 1.
    h0 = HESSIAN.subs({w1: 0, w2: 0})
    assert sorted(h0.eigenvals().keys()) == [-1, 1]
    assert all(sp.simplify(g.subs(w2, 1 / w1)) == 0 for g in GRAD)
    # Origin -> (1, 1): J(alpha) = (1 - alpha^2)^2 / 2, monotone decreasing, J'(0) = 0.
    j = along_line((0, 0), (1, 1))
    assert sp.simplify(j - sp.Rational(1, 2) * (1 - alpha**2) ** 2) == 0
    assert sp.diff(j, alpha).subs(alpha, 0) == 0
    assert all(sp.diff(j, alpha).subs(alpha, v) < 0 for v in (sp.Rational(1, 4), sp.Rational(3, 4)))
    # (1, 1) -> (-1, -1): barrier 1/2 exactly at the saddle (alpha = 1/2).
    assert barrier((1, 1), (-1, -1)) == sp.Rational(1, 2)
    assert along_line((1, 1), (-1, -1)).subs(alpha, sp.Rational(1, 2)) == sp.Rational(1, 2)
    # (2, 1/2) -> (1/2, 2), same branch: J(1/2) = (1 - 25/16)^2 / 2 = 81/512 ≈ 0.1582.
    mid = along_line((2, sp.Rational(1, 2)), (sp.Rational(1, 2), 2)).subs(alpha, sp.Rational(1, 2))
    assert mid == sp.Rational(81, 512)
    assert barrier((2, sp.Rational(1, 2)), (sp.Rational(1, 2), 2)) == sp.Rational(81, 512)
    # Saxe: u solves du/dt = 2u(s-u) with u(0) = u0, and u -> s.
    assert sp.simplify(sp.diff(U_SAXE, t) - 2 * U_SAXE * (s - U_SAXE)) == 0
    assert sp.simplify(U_SAXE.subs(t, 0) - u0) == 0
    assert sp.limit(U_SAXE, t, sp.oo) == s
    # Balanced two-layer flow a' = (s - ab) b, b' = (s - ab) a keeps a = b and u = ab = a^2.
    a = sp.sqrt(U_SAXE)
    assert sp.simplify(sp.diff(a**2, t) - 2 * (s - a * a) * a * a) == 0
    # GD's balance: (w1 - ηr w2)² - (w2 - ηr w1)² = (1 - η²r²)(w1² - w2²)
    r_ = w1 * w2 - 1
    n1, n2 = w1 - eta_gd * r_ * w2, w2 - eta_gd * r_ * w1
    assert sp.expand(n1**2 - n2**2 - (1 - eta_gd**2 * r_**2) * (w1**2 - w2**2)) == 0
    # balanced: the product map; the period-2 factor divides p∘p - p and its roots swap
    assert sp.expand((n1 * n2).subs(w2, w1) - PRODUCT_MAP.subs(p_gd, w1**2)) == 0
    twice = sp.expand(PRODUCT_MAP.subs(p_gd, PRODUCT_MAP) - p_gd)
    assert sp.rem(twice, sp.expand(PERIOD2), p_gd) == 0
    lo, hi = sp.solve(PERIOD2.subs(eta_gd, sp.Rational(21, 20)), p_gd)
    assert sp.simplify(PRODUCT_MAP.subs({eta_gd: sp.Rational(21, 20), p_gd: lo}) - hi) == 0
    # three balanced layers: the gradient of ½(s - a1 a2 a3)² keeps them equal, u' = 3a⁴(s - u)
    l1, l2, l3 = sp.symbols("l1 l2 l3", positive=True)
    loss3 = sp.Rational(1, 2) * (c3**3 - l1 * l2 * l3) ** 2
    flow = [-sp.diff(loss3, v) for v in (l1, l2, l3)]
    at = {l1: a3, l2: a3, l3: a3}
    assert all(sp.simplify(f.subs(at) - (c3**3 - a3**3) * a3**2) == 0 for f in flow)
    u_dot = sum(sp.diff(l1 * l2 * l3, v) * f for v, f in zip((l1, l2, l3), flow)).subs(at)
    assert sp.simplify(u_dot - 3 * a3**4 * (c3**3 - a3**3)) == 0
    # dt/da = 1/a' : the antiderivative's derivative is the rate, a rational identity
    assert sp.cancel(sp.together(sp.diff(DEPTH3_TIME, a3) - DEPTH3_RATE)) == 0
    # deeper is slower from small u0: the leading term 1/(a0 c³) = u0^(-1/3)/s dominates
    assert sp.limit(DEPTH3_TIME * a3, a3, 0) == -1 / c3**3


if __name__ == "__main__":
    check()
    print("ok")
