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


if __name__ == "__main__":
    check()
    print("ok")
