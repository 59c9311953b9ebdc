r"""Flat channels to infinity (Martinelli et al. 2025): the GLU ε-expansion and the
gradient-flow rate along a channel.

A neuron pair in channel coordinates computes
$g(\varepsilon) = \tfrac c2[\sigma(z+\varepsilon u)+\sigma(z-\varepsilon u)]
+ \tfrac{a}{2\varepsilon}[\sigma(z+\varepsilon u)-\sigma(z-\varepsilon u)]$
($z = w\cdot x$, $u = \Delta\cdot x$), with $g = f_0 + \varepsilon^2 f_2 + O(\varepsilon^4)$,
$f_0 = c\sigma(z) + au\sigma'(z)$, $f_2 = \tfrac c2u^2\sigma''(z) + \tfrac a6u^3\sigma'''(z)$.

Rate: on the channel curve $\theta(\varepsilon)$ (scalar input:
$a_{1,2} = c/2\pm a/(2\varepsilon)$, $w_{1,2} = w\pm\varepsilon$) with
$L = L_\infty + h\varepsilon^2$, the gradient flow projected on the curve is
$\dot\varepsilon = -L'(\varepsilon)/\lVert\theta'(\varepsilon)\rVert^2 \approx
-4h\varepsilon^5/a^2$, so $\varepsilon(t)^{-4} = \varepsilon_0^{-4} + 16ht/a^2$,
$\varepsilon \approx (a^2/(16ht))^{1/4}$ and $L - L_\infty \approx |a|\sqrt h/(4\sqrt t)$.

Sharpness: the Gauss–Newton part of the Hessian of $\mathbb E[(f - f^*)^2]$ along
$v = (\partial_{w_1} - \partial_{w_2})/\sqrt2$ is $2\,\mathbb E[(v\cdot\nabla f)^2]$ with
$v\cdot\nabla f = (a_1x\sigma'(w_1x) - a_2x\sigma'(w_2x))/\sqrt2 \approx (a/\varepsilon)\,
x\sigma'(wx)/\sqrt2$; every other Hessian entry is $O(1/\varepsilon)$ or smaller, so
$\lambda_{\max}\varepsilon^2 \to K = a^2\,\mathbb E[x^2\sigma'(wx)^2]$, which for
$\sigma(z) = \mathrm{erf}(z/\sqrt2)$ and $x\sim\mathcal N(0, 1)$ is
$K = (2/\pi)\,a^2(1 + 2w^2)^{-3/2}$.
"""

import math

import numpy as np
import sympy as sp


z, u, eps, a, c = sp.symbols("z u epsilon a c", real=True)
h, t, eps0 = sp.symbols("h t epsilon0", positive=True)
sigma = sp.Function("sigma")

PAIR = c / 2 * (sigma(z + eps * u) + sigma(z - eps * u)) + a / (2 * eps) * (
    sigma(z + eps * u) - sigma(z - eps * u)
)
F0 = c * sigma(z) + a * u * sp.diff(sigma(z), z)
F2 = c / 2 * u**2 * sp.diff(sigma(z), z, 2) + a / 6 * u**3 * sp.diff(sigma(z), z, 3)

# erf(x/√2) versions for numeric comparison.
_x = sp.symbols("x", real=True)
_ERF = sp.erf(_x / sp.sqrt(2))


def _erf_sub(expr):
    out = expr
    for k in (3, 2, 1):
        out = out.subs(sp.diff(sigma(z), z, k), sp.diff(_ERF, _x, k).subs(_x, z))
    return out.subs(sigma(z), _ERF.subs(_x, z))


#: f0 and f2 for σ(z) = erf(z/√2), as numeric functions of (z, u, a, c).
_MODULES = [{"erf": np.vectorize(math.erf)}, "numpy"]
glu_f0 = sp.lambdify((z, u, a, c), _erf_sub(F0), modules=_MODULES)
glu_f2 = sp.lambdify((z, u, a, c), _erf_sub(F2), modules=_MODULES)

EPS_T = (eps0**-4 + 16 * h * t / a**2) ** sp.Rational(-1, 4)
EPS_ASYMPTOTIC = (a**2 / (16 * h * t)) ** sp.Rational(1, 4)

#: ε(t) from ε(0) = ε0 under dε/dt = −4hε⁵/a², as a numeric function of (t, a, h, ε0).
rate_eps = sp.lambdify((t, a, h, eps0), EPS_T, modules="numpy")


w_gate = sp.symbols("w", real=True)
_xg = sp.symbols("x", real=True)
#: λ_max·ε² → K(a, w) along a channel of the erf toy (module docs)
SHARPNESS = 2 / sp.pi * a**2 * (1 + 2 * w_gate**2) ** sp.Rational(-3, 2)
sharpness_constant = sp.lambdify((a, w_gate), SHARPNESS, modules="numpy")


def _series_coeffs():
    ser = sp.series(PAIR, eps, 0, 5).removeO()
    ser = sp.expand(ser.doit())
    return [sp.simplify(ser.coeff(eps, k)) for k in range(5)]


def check() -> None:
    c0, c1, c2, c3, _ = _series_coeffs()
    # g = f0 + ε² f2 + O(ε⁴): no odd orders.
    assert sp.simplify(c0 - F0) == 0
    assert sp.simplify(c1) == 0
    assert sp.simplify(c2 - F2) == 0
    assert sp.simplify(c3) == 0
    # The difference quotient alone: (a/2ε)[σ(z+εu) − σ(z−εu)] − a u σ' = (aε²/6)u³σ''' + O(ε⁴).
    dq = sp.series(a / (2 * eps) * (sigma(z + eps * u) - sigma(z - eps * u)), eps, 0, 4).removeO()
    dq = sp.expand(dq.doit())
    assert (
        sp.simplify(
            dq - a * u * sp.diff(sigma(z), z) - a * eps**2 / 6 * u**3 * sp.diff(sigma(z), z, 3)
        )
        == 0
    )
    # Projected flow on the channel curve.
    w, cc = sp.symbols("w cc", real=True)
    curve = sp.Matrix([cc / 2 + a / (2 * eps), cc / 2 - a / (2 * eps), w + eps, w - eps])
    metric = sp.simplify((curve.diff(eps).T * curve.diff(eps))[0])
    assert sp.simplify(metric - (a**2 / (2 * eps**4) + 2)) == 0
    L = h * eps**2
    eps_dot = -sp.diff(L, eps) / metric
    lead = sp.limit(eps_dot / eps**5, eps, 0)
    assert sp.simplify(lead + 4 * h / a**2) == 0
    # ε(t) solves dε/dt = −4hε⁵/a² with ε(0) = ε0, and tends to the power law.
    assert sp.simplify(sp.diff(EPS_T, t) + 4 * h * EPS_T**5 / a**2) == 0
    assert sp.simplify(EPS_T.subs(t, 0) - eps0) == 0
    assert sp.limit(EPS_T / EPS_ASYMPTOTIC, t, sp.oo) == 1
    # Sharpness: ε²·2(v·∇f)² → a²x²σ'(wx)² (v the (1, −1)/√2 direction of the two gate
    # weights; σ' written as a generic function), and E[x²σ'(wx)²] for σ = erf(x/√2),
    # x ~ N(0, 1), in closed form.
    xs = sp.symbols("x", real=True)
    ds = sp.Function("dsigma")
    a1, a2 = cc / 2 + a / (2 * eps), cc / 2 - a / (2 * eps)
    vgrad = (a1 * xs * ds((w + eps) * xs) - a2 * xs * ds((w - eps) * xs)) / sp.sqrt(2)
    lead = sp.series(eps**2 * 2 * vgrad**2, eps, 0, 1).removeO().doit()
    assert sp.simplify(lead - a**2 * xs**2 * ds(w * xs) ** 2) == 0
    dsig = sp.diff(_ERF, _x).subs(_x, w_gate * _xg)
    gauss = sp.exp(-(_xg**2) / 2) / sp.sqrt(2 * sp.pi)
    moment = sp.integrate(_xg**2 * dsig**2 * gauss, (_xg, -sp.oo, sp.oo), conds="none")
    assert sp.simplify(a**2 * moment - SHARPNESS) == 0
    # L − L∞ = hε² → |a|√h/(4√t).
    assert sp.simplify(h * EPS_ASYMPTOTIC**2 - sp.Abs(a) * sp.sqrt(h) / (4 * sp.sqrt(t))) == 0


if __name__ == "__main__":
    check()
    print("ok")
