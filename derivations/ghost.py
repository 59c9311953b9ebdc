r"""The ghost mechanism (Dinc et al. 2025): the canonical model $\dot x = x^2 + r$, $x(0) = 0$.

For $r > 0$ there is no fixed point; the ghost of the saddle-node at $r = 0$ makes the
passage slow. The trajectory is $x(t) = \sqrt r\tan(\sqrt r\,t)$, it reaches $X$ at
$t_X = \arctan(X/\sqrt r)/\sqrt r$ and $+\infty$ at $t^* = \pi/(2\sqrt r)$.

Delayed-activation task: readout $\sigma(a(x - X))$, target 0 for $t \le T$ and 1 for
$T < t \le T + T_R$ (the paper: response window $T_R = T$), loss
$\int(\hat y - y)^2dt / T$. In the confidence limit $a\to\infty$ the output switches on at
$t^*$, so

$$L(r) = |T - t^*(r)|/T \quad (t^* < T + T_R), \qquad L = T_R/T \quad (\text{no-learning zone}),$$

with the no-learning zone $r \le r_{NL} = \pi^2/(4(T+T_R)^2)$ ($= \pi^2/(16T^2) = r^*/4$ at
$T_R = T$), the optimum $r^* = \pi^2/(4T^2)$, a cusp with one-sided slopes
$\mp 2T^2/\pi^2$, and gradient descent with step $\eta$ escapes the cusp only by jumping
into the zone when $\eta\cdot 2T^2/\pi^2 > r^* - r_{NL}$:

$$\eta_c = \frac{\pi^4}{8T^2}\Big(\frac1{T^2} - \frac1{(T+T_R)^2}\Big)
          = \frac{3\pi^4}{32\,T^4}\ (T_R = T), \qquad \approx \frac{\pi^4 T_R}{4T^5}\ (T_R \ll T).$$

Without the $1/T$ normalization (the paper's Fig. 2 code) the slope is $2T^3/\pi^2$ and
$\eta_c = 3\pi^4/(32T^5)$.

Euler with step $\Delta t$ (the paper's simulation, $\Delta t = 0.1$) is, to $O(\Delta t^2)$,
the exact flow of the modified equation $\dot x = f - \tfrac{\Delta t}2 f f'$, so its time to
reach $X$ is $t_X + \tfrac{\Delta t}{2}\ln\big((X^2 + r)/r\big) + O(\Delta t^2)$; the next
order of the modified field, $\tfrac{\Delta t^2}{12}(f''f^2 + 4f'^2f)$, adds
$-\Delta t^2\big(X/2 - \sqrt r\arctan(X/\sqrt r)/3\big)$.

Inside the no-learning zone at a finite confidence $a$ (with $a(X - x) \gg 1$ along the whole
trial) the readout is $\sigma \approx e^{a(x - X)}$, and the gradient is carried by the
response window alone:

$$\frac{dL}{dr} \approx -\frac{2a}{T}e^{-aX}\,\partial_r\int_T^{T+T_R}
  \frac{e^{a x(t)} - 1}{a}\,dt
  = -\frac{2a}{T}e^{-aX}\,\partial_r\sum_{n\ge1}\frac{a^{n-1}}{n!}\big[Q_n\big]_T^{T+T_R},$$

$Q_n = \int x^n dt$ in closed form along $x = \sqrt r\tan(\sqrt r t)$ ($Q_1 = -\ln\cos$,
$Q_2 = \sqrt r\tan - rt$, ...): the vanishing gradient is exponentially small in $aX$.

Below $\eta_c$ GD does not converge at the cusp: it hops across $r^*$ with steps $\eta s$
($s = 2T^2/\pi^2$ the one-sided slope), and over a period-2 cycle $r_a > r^* > r_b$,
$r_a - r_b = \eta s$, the loss $\approx s|r - r^*|$ averages $\eta s^2/2 = \tfrac{3}{16}\eta/\eta_c$.
"""

import sympy as sp


r, T, X, t, TR, h, eta = sp.symbols("r T X t T_R h eta", positive=True)
x = sp.Symbol("x", real=True)

#: The trajectory from x(0) = 0 (valid for 0 <= t < t*).
X_OF_T = sp.sqrt(r) * sp.tan(sp.sqrt(r) * t)
#: Time to reach X, and to reach +infinity.
T_TO_X = sp.atan(X / sp.sqrt(r)) / sp.sqrt(r)
T_STAR = sp.pi / (2 * sp.sqrt(r))
#: Euler's O(dt) correction to the time to reach X (modified equation), and its O(dt^2) one.
EULER_SHIFT = h / 2 * sp.log((X**2 + r) / r)
EULER_SHIFT2 = -(h**2) * (X / 2 - sp.sqrt(r) * sp.atan(X / sp.sqrt(r)) / 3)

#: Optimum (t* = T), no-learning-zone edge (t* = T + T_R; T_R = T in the paper).
R_OPT = sp.pi**2 / (4 * T**2)
R_NL_WINDOW = sp.pi**2 / (4 * (T + TR) ** 2)
R_NL = R_NL_WINDOW.subs(TR, T)

#: The a -> infinity loss on the learning side of the zone, and its two branches.
LOSS_ACTIVE = sp.Abs(T - T_STAR) / T
LOSS_LEFT = (T_STAR - T) / T  # r_NL < r <= r* (switches on late)
LOSS_RIGHT = (T - T_STAR) / T  # r > r* (switches on early)
GRAD_LEFT = sp.diff(LOSS_LEFT, r)
GRAD_RIGHT = sp.diff(LOSS_RIGHT, r)


def loss_expr(*, window=None, normalized: bool = True):
    """Piecewise $L(r)$ in the $a\\to\\infty$ limit, response window $T_R$ (default $T$)."""
    tr = T if window is None else window
    r_nl = R_NL_WINDOW.subs(TR, tr)
    norm = T if normalized else 1
    return sp.Piecewise((tr / norm, r <= r_nl), (sp.Abs(T - T_STAR) / norm, True))


def grad_expr(*, window=None, normalized: bool = True):
    """Piecewise $dL/dr$: 0 in the zone, $\\mp\\pi/(4Tr^{3/2})$ left/right of $r^*$."""
    tr = T if window is None else window
    r_nl = R_NL_WINDOW.subs(TR, tr)
    norm = T if normalized else 1
    g = sp.pi / (4 * r ** sp.Rational(3, 2)) / norm
    return sp.Piecewise((0, r <= r_nl), (-g, r <= R_OPT), (g, True))


def _critical_lr(window, normalized: bool):
    cusp = sp.limit(sp.diff(T * LOSS_RIGHT, r) / (T if normalized else 1), r, R_OPT, "+")
    return sp.simplify((R_OPT - R_NL_WINDOW.subs(TR, window)) / cusp)


# ---------------------------------------------------------------- zone gradient at finite a
a_conf = sp.Symbol("a", positive=True)
_s = sp.sqrt(r)
#: antiderivatives Q_n = int x(t)^n dt along the trajectory (n = 1..4)
Q_N = (
    -sp.log(sp.cos(_s * t)),
    _s * sp.tan(_s * t) - r * t,
    r * (sp.tan(_s * t) ** 2 / 2 + sp.log(sp.cos(_s * t))),
    r * _s * (sp.tan(_s * t) ** 3 / 3 - sp.tan(_s * t) + _s * t),
)


def _zone_term(n: int):
    q = Q_N[n - 1]
    window = q.subs(t, T + TR) - q.subs(t, T)
    return (
        -2
        * a_conf
        / T
        * sp.exp(-a_conf * X)
        * a_conf ** (n - 1)
        / sp.factorial(n)
        * sp.diff(window, r)
    )


#: dL/dr in the zone, three orders in a*x (the trial's largest a*x is small), and the 4th
ZONE_GRAD = sum(_zone_term(n) for n in (1, 2, 3))
ZONE_GRAD_NEXT = _zone_term(4)


def _deficit_term(n: int):
    q = Q_N[n - 1]
    return (
        2
        / T
        * sp.exp(-a_conf * X)
        * a_conf**n
        / sp.factorial(n)
        * (q.subs(t, T + TR) - q.subs(t, T))
    )


#: the zone's plateau T_R/T - L: twice the wrong outputs' mean over the window,
#: (2/T) e^{-aX} int_T^{T+T_R} e^{ax} dt (three orders in ax), and the 4th order
ZONE_DEFICIT = 2 / T * sp.exp(-a_conf * X) * TR + sum(_deficit_term(n) for n in (1, 2, 3))
ZONE_DEFICIT_NEXT = _deficit_term(4)
#: time-averaged loss of GD hopping across the cusp (period-2 cycle of step eta*s)
OSCILLATION_LOSS = eta * (2 * T**2 / sp.pi**2) ** 2 / 2
#: ... and its slow drift: with the slope s (r/r*)^{-3/2} the upper point climbs by (3/2)d0^2 r*
#: per 2-step cycle (d0 = eta s / r*), so it sweeps its hop d0 r* in 4/(3 d0) steps
d0 = sp.Symbol("delta_0", positive=True)
SAWTOOTH_PERIOD = 4 / (3 * d0)
#: d x(t) / dr along the trajectory (for quadratures of the finite-a gradient)
DX_DR = sp.diff(X_OF_T, r)

CUSP_GRAD = sp.simplify(GRAD_RIGHT.subs(r, R_OPT))
CUSP_GRAD_UNNORMALIZED = sp.simplify(T * CUSP_GRAD)
ETA_C = _critical_lr(T, True)
ETA_C_UNNORMALIZED = _critical_lr(T, False)
ETA_C_WINDOW = _critical_lr(TR, True)
ETA_C_WINDOW_UNNORMALIZED = _critical_lr(TR, False)

# ---------------------------------------------------------------- numeric exports
escape_time = sp.lambdify((r,), T_STAR, "numpy")
escape_time_to = sp.lambdify((r, X), T_TO_X, "numpy")
euler_escape_time_to = sp.lambdify((r, X, h), T_TO_X + EULER_SHIFT, "numpy")
euler_escape_time_to2 = sp.lambdify((r, X, h), T_TO_X + EULER_SHIFT + EULER_SHIFT2, "numpy")
euler_shift2 = sp.lambdify((r, X, h), EULER_SHIFT2, "numpy")
euler_escape_time_to2_dr = sp.lambdify(
    (r, X, h), sp.diff(T_TO_X + EULER_SHIFT + EULER_SHIFT2, r), "numpy"
)
zone_grad = sp.lambdify((r, a_conf, T, TR, X), ZONE_GRAD, "numpy")
zone_grad_next = sp.lambdify((r, a_conf, T, TR, X), ZONE_GRAD_NEXT, "numpy")
zone_deficit = sp.lambdify((r, a_conf, T, TR, X), ZONE_DEFICIT, "numpy")
zone_deficit_next = sp.lambdify((r, a_conf, T, TR, X), ZONE_DEFICIT_NEXT, "numpy")
oscillation_loss = sp.lambdify((eta, T), OSCILLATION_LOSS, "numpy")
trajectory_dr = sp.lambdify((r, t), DX_DR, "numpy")
trajectory = sp.lambdify((r, t), X_OF_T, "numpy")
r_opt = sp.lambdify((T,), R_OPT, "numpy")
r_no_learning = sp.lambdify((T, TR), R_NL_WINDOW, "numpy")
loss = sp.lambdify((r, T), loss_expr(), "numpy")
loss_window = sp.lambdify((r, T, TR), loss_expr(window=TR), "numpy")
loss_unnormalized = sp.lambdify((r, T), loss_expr(normalized=False), "numpy")
loss_grad = sp.lambdify((r, T), grad_expr(), "numpy")
cusp_grad = sp.lambdify((T,), CUSP_GRAD, "numpy")
critical_lr = sp.lambdify((T,), ETA_C, "numpy")
critical_lr_unnormalized = sp.lambdify((T,), ETA_C_UNNORMALIZED, "numpy")
critical_lr_window = sp.lambdify((T, TR), ETA_C_WINDOW, "numpy")


def check() -> None:
    # The trajectory solves dx/dt = x^2 + r with x(0) = 0, and increases with r at fixed t.
    assert sp.simplify(sp.diff(X_OF_T, t) - (X_OF_T**2 + r)) == 0
    assert X_OF_T.subs(t, 0) == 0
    assert sp.diff(X_OF_T, r).subs({r: sp.Rational(1, 4), t: 1}).evalf() > 0
    # Time to X: x(t_X) = X; tends to pi/(2 sqrt r) as X -> infinity.
    assert sp.simplify(X_OF_T.subs(t, T_TO_X) - X) == 0
    assert sp.simplify(sp.limit(T_TO_X, X, sp.oo) - T_STAR) == 0
    # The finite-X correction is -1/X to leading order: t_X = t* - 1/X + O(X^-3).
    assert sp.simplify(sp.series(T_TO_X, X, sp.oo, 3).removeO() - (T_STAR - 1 / X)) == 0
    # Euler = time-h flow of the modified field f - h/2 f f' up to O(h^3).
    f = x**2 + r
    f_mod = f - h / 2 * f * sp.diff(f, x)
    flow = x + h * f_mod + h**2 / 2 * sp.diff(f_mod, x) * f_mod
    assert sp.expand(sp.series(flow - (x + h * f), h, 0, 3).removeO()) == 0
    # ...whose time to X is int dx / f_mod = t_X + h/2 int f'/f dx + O(h^2).
    assert sp.simplify(sp.integrate(sp.diff(f, x) / f, (x, 0, X)) - 2 * EULER_SHIFT / h) == 0
    # ... and its second order: the modified field f - h/2 f f' + h^2/12 (f'' f^2 + 4 f'^2 f)
    # reproduces Euler to O(h^3), and its h^2 term in int dx / f_mod integrates to EULER_SHIFT2.
    f2 = sp.Rational(1, 12) * (sp.diff(f, x, 2) * f**2 + 4 * sp.diff(f, x) ** 2 * f)
    f_mod2 = f_mod + h**2 * f2
    d = lambda g: sp.diff(g, x)  # noqa: E731
    flow3 = (
        x
        + h * f_mod2
        + h**2 / 2 * d(f_mod2) * f_mod2
        + h**3 / 6 * (d(d(f_mod2)) * f_mod2**2 + d(f_mod2) ** 2 * f_mod2)
    )
    assert sp.expand(sp.series(flow3 - (x + h * f), h, 0, 4).removeO()) == 0
    inv = sp.series(1 / f_mod2, h, 0, 3).removeO().coeff(h, 2)
    assert sp.simplify(sp.integrate(sp.simplify(inv), (x, 0, X)) - EULER_SHIFT2 / h**2) == 0
    # Zone gradient: the antiderivatives are those of x^n, the sum is the series of
    # (e^{ax} - 1)/a, and the readout's tail factor (1 - s) s (1 - s) -> e^z as z -> -inf.
    for n, q in enumerate(Q_N, start=1):
        assert sp.simplify(sp.diff(q, t) - X_OF_T**n) == 0
    ax = sp.Symbol("ax")
    assert (
        sp.expand(
            sum(ax**n / sp.factorial(n) for n in (1, 2, 3, 4))
            - sp.series(sp.exp(ax) - 1, ax, 0, 5).removeO()
        )
        == 0
    )
    w = sp.Symbol("w", positive=True)  # w = e^z, z = a(x - X)
    sig = w / (1 + w)
    assert sp.series((1 - sig) * sig * (1 - sig), w, 0, 2).removeO() == w
    # ... the first-order term equals -(2a/T) e^{-aX} d/dr int_T^{T+T_R} x dt
    lead = -2 * a_conf / T * sp.exp(-a_conf * X) * sp.diff(sp.integrate(X_OF_T, (t, T, T + TR)), r)
    pt = {r: sp.Rational(1, 400), T: 3, TR: 2, a_conf: 2, X: 10}
    assert abs(float((lead - _zone_term(1)).subs(pt).evalf())) < 1e-12 * abs(
        float(_zone_term(1).subs(pt).evalf())
    )
    # ... and it is minus the r-derivative of the plateau's deficit (one expansion, two
    # observables: the wrong outputs' confidence and the escape gradient)
    assert sp.simplify(-sp.diff(ZONE_DEFICIT, r) - ZONE_GRAD) == 0
    assert sp.simplify(-sp.diff(ZONE_DEFICIT_NEXT, r) - ZONE_GRAD_NEXT) == 0
    # Cusp oscillation: the period-2 average of s|r - r*| with r_a - r_b = eta s is eta s^2/2,
    # = 3/16 of eta/eta_c.
    ra, rb = R_OPT + sp.Symbol("u", positive=True), None
    rb = ra - eta * CUSP_GRAD
    cycle = (CUSP_GRAD * (ra - R_OPT) + CUSP_GRAD * (R_OPT - rb)) / 2
    assert sp.simplify(cycle - OSCILLATION_LOSS) == 0
    q = sp.Symbol("q", positive=True)
    assert sp.simplify(OSCILLATION_LOSS.subs(eta, q * ETA_C) - 3 * q / 16) == 0
    # the drift: hop down from u (above r*, units of r*) by d(u), back up by d(u - d(u))
    u = sp.Symbol("u", positive=True)
    hop = lambda v: d0 * (1 + v) ** sp.Rational(-3, 2)  # noqa: E731
    drift = sp.series((u - hop(u) + hop(u - hop(u)) - u).subs(u, 0), d0, 0, 3).removeO()
    assert sp.simplify(drift - sp.Rational(3, 2) * d0**2) == 0
    assert sp.simplify(2 * d0 / drift - SAWTOOTH_PERIOD) == 0
    # Optimum t*(r*) = T; no-learning zone edge t*(r_NL) = T + T_R, = r*/4 for T_R = T.
    assert sp.simplify(T_STAR.subs(r, R_OPT) - T) == 0
    assert sp.simplify(T_STAR.subs(r, R_NL_WINDOW) - (T + TR)) == 0
    assert sp.simplify(R_NL - sp.pi**2 / (16 * T**2)) == 0
    assert sp.simplify(R_NL - R_OPT / 4) == 0
    # The loss is continuous at the zone edge (value T_R/T) and vanishes at r*.
    assert sp.simplify(LOSS_LEFT.subs(r, R_NL_WINDOW) - TR / T) == 0
    assert sp.simplify(LOSS_LEFT.subs(r, R_OPT)) == 0
    assert sp.simplify(LOSS_RIGHT.subs(r, R_OPT)) == 0
    # The piecewise form agrees with both branches and with 1 in the zone (paper: T_R = T).
    L = loss_expr()
    for q in (sp.Rational(1, 10), sp.Rational(1, 4), sp.Rational(1, 2), 1, 3):
        rq = q * R_OPT.subs(T, 7)
        val = L.subs(T, 7).subs(r, rq)
        if q <= sp.Rational(1, 4):
            assert val == 1
        else:
            assert sp.simplify(val - LOSS_ACTIVE.subs(T, 7).subs(r, rq)) == 0
    # Branch gradients -+ pi/(4 T r^{3/2}); the cusp: one-sided slopes -+ 2T^2/pi^2.
    g = sp.pi / (4 * T * r ** sp.Rational(3, 2))
    assert sp.simplify(GRAD_LEFT + g) == 0 and sp.simplify(GRAD_RIGHT - g) == 0
    assert sp.simplify(CUSP_GRAD - 2 * T**2 / sp.pi**2) == 0
    assert sp.simplify(GRAD_LEFT.subs(r, R_OPT) + CUSP_GRAD) == 0
    assert sp.simplify(CUSP_GRAD_UNNORMALIZED - 2 * T**3 / sp.pi**2) == 0
    # The gradient below the zone edge is 0 (flat loss): no escape by gradient descent.
    assert grad_expr().subs(T, 5).subs(r, R_OPT.subs(T, 5) / 8) == 0
    # Critical learning rate: one step from r* lands exactly on the zone edge at eta_c.
    assert sp.simplify(ETA_C - 3 * sp.pi**4 / (32 * T**4)) == 0
    assert sp.simplify(R_OPT - ETA_C * CUSP_GRAD - R_NL) == 0
    assert sp.simplify(ETA_C_UNNORMALIZED - 3 * sp.pi**4 / (32 * T**5)) == 0
    # log-log slopes -4 (normalized) and -5 (unnormalized).
    assert sp.simplify(T * sp.diff(sp.log(ETA_C), T)) == -4
    assert sp.simplify(T * sp.diff(sp.log(ETA_C_UNNORMALIZED), T)) == -5
    # Response window T_R: general formula, the paper's T_R = T, and the short window.
    general = sp.pi**4 / (8 * T**2) * (1 / T**2 - 1 / (T + TR) ** 2)
    assert sp.simplify(ETA_C_WINDOW - general) == 0
    assert sp.simplify(ETA_C_WINDOW.subs(TR, T) - ETA_C) == 0
    lead = sp.series(ETA_C_WINDOW, TR, 0, 2).removeO()
    assert sp.simplify(lead - sp.pi**4 * TR / (4 * T**5)) == 0
    assert sp.simplify(T * ETA_C_WINDOW_UNNORMALIZED - ETA_C_WINDOW) == 0
    # A shorter window makes learning more fragile: eta_c increases with T_R.
    assert sp.simplify(sp.diff(ETA_C_WINDOW, TR) - sp.pi**4 / (4 * T**2 * (T + TR) ** 3)) == 0


if __name__ == "__main__":
    check()
    print("ok")
