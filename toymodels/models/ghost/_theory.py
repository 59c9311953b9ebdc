r"""Closed-form predictions of the ghost mechanism, each a function of its parameters.

Canonical model $\dot x = x^2 + r$, $x(0) = 0$, readout $\sigma(a(x - X))$, delay $T$,
response window $T_R$ (the paper: $T_R = T$), loss $\int(\hat y - y)^2dt/T$ (or without the
$1/T$: `normalized=False`). Derivations and their checks: `derivations/ghost.py`.

- escape time $t_X(r) = \arctan(X/\sqrt r)/\sqrt r \to t^* = \pi/(2\sqrt r)$ ($X\to\infty$);
  Euler with step $\Delta t$ adds $\tfrac{\Delta t}2\ln(1 + X^2/r)$ (modified equation);
- optimum $r^* = \pi^2/(4T^2)$; no-learning zone $r \le r_{NL} = \pi^2/(4(T+T_R)^2)$;
- loss in the confidence limit $a\to\infty$: $|T - t_X|/T$ outside the zone, $T_R/T$ inside;
- cusp slope $2T^2/\pi^2$ ($2T^3/\pi^2$ unnormalized);
- critical learning rate $\eta_c = \frac{\pi^4}{8T^2}(T^{-2} - (T+T_R)^{-2})$
  $= 3\pi^4/(32T^4)$ at $T_R = T$ (divided by $T$ when unnormalized).
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..._validation import check_finite, is_concrete


def _window(delay, window):
    return delay if window is None else window


def _positive(name: str, value) -> Array:
    """`value` as an array whose entries must be finite and > 0 (checked when concrete: the
    closed forms are also evaluated under jit and vmap, where the caller has checked)."""
    a = jnp.asarray(value)
    if is_concrete(a):
        v = np.asarray(a)
        if v.size and not np.all(np.isfinite(v) & (v > 0)):
            raise ValueError(f"{name}: must be finite and > 0, got {value!r}")
    return a


def _threshold(threshold: float, *, allow_inf: bool) -> float:
    x = float(threshold)
    if math.isnan(x) or x <= 0 or (math.isinf(x) and not allow_inf):
        rng = "> 0 (inf allowed)" if allow_inf else "finite and > 0"
        raise ValueError(f"threshold: must be {rng}, got {threshold!r}")
    return x


def escape_time(
    r: Float[ArrayLike, "..."],
    *,
    threshold: float = math.inf,
    dt: float = 0.0,
    dt_order: int = 1,
) -> Float[Array, "..."]:
    r"""Time for $\dot x = x^2 + r$ to go from 0 to `threshold` $X$ (default $+\infty$):
    $\arctan(X/\sqrt r)/\sqrt r$, plus Euler's first-order shift
    $\tfrac{\Delta t}2\ln(1 + X^2/r)$ when `dt` $> 0$ (needs a finite $X$), and with
    `dt_order=2` also its second-order one $-\Delta t^2(X/2 - \sqrt r\arctan(X/\sqrt r)/3)$
    (the modified equation $\dot x = f - \tfrac{\Delta t}2 ff' + \tfrac{\Delta t^2}{12}(f''f^2
    + 4f'^2f)$; `derivations/ghost.py`). $+\infty$ for $r \le 0$ (the trajectory stops at
    the fixed point $-\sqrt{-r}$)."""
    if not dt >= 0 or not math.isfinite(dt):
        raise ValueError(f"dt: must be finite and >= 0, got {dt}")
    if dt_order not in (1, 2) or isinstance(dt_order, bool):
        raise ValueError(f"dt_order: must be 1 or 2, got {dt_order!r}")
    threshold = _threshold(threshold, allow_inf=True)
    if dt > 0 and not math.isfinite(threshold):
        raise ValueError("threshold: Euler's shift needs a finite threshold X")
    check_finite("r", r)
    r = jnp.asarray(r)
    pos = r > 0
    rs = jnp.where(pos, r, jnp.ones_like(r))
    if math.isfinite(threshold):
        t = _finite_escape_time(rs, threshold, dt, float(dt_order == 2))
    else:
        t = (jnp.pi / 2) / jnp.sqrt(rs)
    return jnp.where(pos, t, jnp.inf)


def _finite_escape_time(r, threshold, dt, second_order):
    """`escape_time` for r > 0 and a finite X, with traceable X, Δt and the second-order
    term switched by `second_order` (0 or 1)."""
    sq = jnp.sqrt(r)
    a = jnp.arctan(threshold / sq)
    t = a / sq + 0.5 * dt * jnp.log1p(threshold**2 / r)
    return t - second_order * dt**2 * (threshold / 2 - sq * a / 3)


def optimal_r(delay: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
    r"""$r^* = \pi^2/(4T^2)$: the output switches on exactly at $t = T$."""
    delay = _positive("delay", delay)
    return jnp.pi**2 / (4 * delay**2)


def no_learning_r(
    delay: Float[ArrayLike, "..."], *, window: Float[ArrayLike, "..."] | None = None
) -> Float[Array, "..."]:
    r"""Edge of the no-learning zone $r_{NL} = \pi^2/(4(T + T_R)^2)$ ($= r^*/4$ at $T_R=T$)."""
    delay = _positive("delay", delay)
    window = None if window is None else _positive("window", window)
    return jnp.pi**2 / (4 * (delay + _window(delay, window)) ** 2)


def limit_loss(
    r: Float[ArrayLike, "..."],
    *,
    delay: Float[ArrayLike, ""],
    window: Float[ArrayLike, ""] | None = None,
    normalized: bool = True,
    threshold: float = math.inf,
    dt: float = 0.0,
) -> Float[Array, "..."]:
    r"""The loss in the confidence limit $a\to\infty$: $|T - t_X(r)|$ if the output switches
    on within the trial ($t_X < T + T_R$), else $T_R$ (no-learning zone); divided by $T$
    when `normalized`. `threshold`/`dt` select the finite-$X$ / Euler escape time."""
    delay = _positive("delay", delay)
    window = None if window is None else _positive("window", window)
    tr = _window(delay, window)
    t = escape_time(r, threshold=threshold, dt=dt)
    active = t < delay + tr
    t_safe = jnp.where(active, t, delay)
    val = jnp.where(active, jnp.abs(delay - t_safe), tr * jnp.ones_like(t_safe))
    return val / delay if normalized else val


def limit_loss_grad(
    r: Float[ArrayLike, "..."],
    *,
    delay: Float[ArrayLike, ""],
    window: Float[ArrayLike, ""] | None = None,
    normalized: bool = True,
) -> Float[Array, "..."]:
    r"""$dL/dr$ in the confidence limit: $0$ in the zone, $\mp\pi/(4Tr^{3/2})$ below/above
    $r^*$ (without the $1/T$ when unnormalized); at $r^*$ the right-hand slope."""
    check_finite("r", r)
    r = jnp.asarray(r)
    delay = _positive("delay", delay)
    rs = jnp.where(r > 0, r, jnp.ones_like(r))
    g = (jnp.pi / 4) / rs**1.5
    g = g / delay if normalized else g
    sign = jnp.where(r < optimal_r(delay), -1.0, 1.0)
    return jnp.where(r > no_learning_r(delay, window=window), sign * g, jnp.zeros_like(g))


def cusp_gradient(
    delay: Float[ArrayLike, "..."], *, normalized: bool = True
) -> Float[Array, "..."]:
    r"""One-sided slope $|dL/dr|$ at $r^*$: $2T^2/\pi^2$ ($2T^3/\pi^2$ unnormalized)."""
    delay = _positive("delay", delay)
    g = 2 * delay**3 / jnp.pi**2
    return g / delay if normalized else g


def critical_lr(
    delay: Float[ArrayLike, "..."],
    *,
    window: Float[ArrayLike, "..."] | None = None,
    normalized: bool = True,
) -> Float[Array, "..."]:
    r"""$\eta_c = (r^* - r_{NL})/|L'(r^{*+})| = \frac{\pi^4}{8T^2}(T^{-2} - (T+T_R)^{-2})$:
    $3\pi^4/(32T^4)$ at $T_R = T$, $\approx\pi^4T_R/(4T^5)$ for $T_R\ll T$; divided by
    $T$ without the loss normalization."""
    delay = _positive("delay", delay)
    window = None if window is None else _positive("window", window)
    gap = optimal_r(delay) - no_learning_r(delay, window=window)
    return gap / cusp_gradient(delay, normalized=normalized)


def euler_optimal_r(
    delay: Float[ArrayLike, ""], *, threshold: float = 10.0, dt: float = 0.1, num_iters: int = 80
) -> Float[Array, ""]:
    r"""The $r$ at which the Euler escape time to $X$ (with Euler's first-order shift) equals
    $T$: the minimum of the simulated loss at large confidence. Bisection on $\log r$."""
    delay = _positive("delay", delay)
    threshold = _threshold(threshold, allow_inf=False)
    if not dt > 0 or not math.isfinite(dt):
        raise ValueError(f"dt: must be finite and > 0, got {dt}")
    lo, hi = jnp.log(optimal_r(delay) / 16), jnp.log(optimal_r(delay) * 16)

    def body(_, bracket):
        a, b = bracket
        mid = 0.5 * (a + b)
        late = escape_time(jnp.exp(mid), threshold=threshold, dt=dt) > delay
        return jnp.where(late, mid, a), jnp.where(late, b, mid)

    a, b = jax.lax.fori_loop(0, num_iters, body, (lo, hi))
    return jnp.exp(0.5 * (a + b))


def euler_critical_lr(
    delay: Float[ArrayLike, ""], *, threshold: float = 10.0, dt: float = 0.1, num_iters: int = 200
) -> Float[Array, ""]:
    r"""`critical_lr` of the Euler-discretised model at large confidence: the loss
    $|T - t_E(r)|/T$ with $t_E$ Euler's escape time to $X$ (`escape_time(dt_order=2)`) has its
    minimum at $t_E(r^*_E) = T$ and its no-learning edge at $t_E(r_{NL,E}) = 2T$, so
    $\eta_c = (r^*_E - r_{NL,E})/|L'(r^*_E)|$ with $|L'| = |dt_E/dr|/T$ (autodiff). Both
    roots by bisection on $\log r$ ($t_E$ falls monotonically in $r$); tends to
    `critical_lr(delay)` as $\Delta t 	o 0$, $X 	o \infty$."""
    delay = _positive("delay", delay)
    threshold = _threshold(threshold, allow_inf=False)
    if not dt > 0 or not math.isfinite(dt):
        raise ValueError(f"dt: must be finite and > 0, got {dt}")
    return _euler_critical_lr(delay, threshold, dt, num_iters)


@functools.partial(jax.jit, static_argnums=3)
def _euler_critical_lr(delay, threshold, dt, num_iters):
    def t_euler(r):
        return _finite_escape_time(r, threshold, dt, 1.0)

    def root(t):
        lo, hi = jnp.log(jnp.pi**2 / (4 * t**2) / 64), jnp.log(jnp.pi**2 / (4 * t**2) * 64)

        def body(_, bracket):
            a, b = bracket
            mid = 0.5 * (a + b)
            late = t_euler(jnp.exp(mid)) > t
            return jnp.where(late, mid, a), jnp.where(late, b, mid)

        a, b = jax.lax.fori_loop(0, num_iters, body, (lo, hi))
        return jnp.exp(0.5 * (a + b))

    r_opt, r_nl = root(delay), root(2 * delay)
    slope = jnp.abs(jax.grad(t_euler)(r_opt)) / delay
    return (r_opt - r_nl) / slope


def _closed_form_state(r, t, clip):
    """$x(t)$ from $x(0) = 0$: $\\sqrt r\\tan(\\sqrt r t)$ (held at `clip` once reached),
    $0$ at $r = 0$, $-\\sqrt{-r}\\tanh(\\sqrt{-r}t)$ for $r < 0$."""
    pos = r > 0
    s = jnp.sqrt(jnp.where(pos, r, -r) + jnp.where(r == 0, 1.0, 0.0))
    t_clip = jnp.arctan(clip / s) / s
    up = jnp.where(t < t_clip, s * jnp.tan(s * jnp.minimum(t, t_clip * (1 - 1e-12))), clip)
    down = -s * jnp.tanh(s * t)
    return jnp.where(pos, up, jnp.where(r == 0, jnp.zeros_like(t), down))


def confidence_loss(
    r: Float[ArrayLike, ""],
    *,
    delay: float,
    confidence: Float[ArrayLike, ""],
    threshold: float = 10.0,
    window: float | None = None,
    normalized: bool = True,
    clip: float = 1e6,
    num_points: int = 4001,
) -> Float[Array, ""]:
    r"""The continuous-time loss at finite confidence $a$, by quadrature along the exact
    trajectory: $\frac1T\big[\int_0^T\sigma(a(x(t)-X))^2dt + \int_T^{T+T_R}(1 - \sigma)^2dt\big]$
    with $x(t) = \sqrt r\tan(\sqrt r\,t)$ (trapezoid on a grid refined around the crossing
    time $t_X$). Differentiable in $r$ and $a$: the finite-$a$ prediction (e.g. the
    escape gradient inside the no-learning zone, strictly negative for every finite $a$)."""
    check_finite("r", r)
    r = jnp.asarray(r)
    _positive("delay", delay)
    _positive("confidence", confidence)
    if window is not None:
        _positive("window", window)
    threshold = _threshold(threshold, allow_inf=False)
    if int(num_points) < 2:
        raise ValueError(f"num_points: must be >= 2, got {num_points}")
    a = jnp.asarray(confidence, r.dtype)
    tr = float(delay if window is None else window)
    t_x = escape_time(r, threshold=threshold)
    t_x = jnp.where(jnp.isfinite(t_x), t_x, 2.0 * (delay + tr))
    u = jnp.linspace(0.0, 1.0, num_points, dtype=r.dtype)
    v = jnp.linspace(-1.0, 1.0, num_points, dtype=r.dtype)
    width = 20.0 / (a * threshold**2) + 0.05  # ~20 sigmoid widths in time at the crossing

    def segment(t0, t1, target):
        ts = jnp.concatenate([t0 + (t1 - t0) * u, jnp.clip(t_x + width * v, t0, t1)])
        ts = jnp.sort(ts)
        y = jax.nn.sigmoid(a * (_closed_form_state(r, ts, clip) - threshold))
        f = (y - target) ** 2
        return jnp.sum(0.5 * (f[1:] + f[:-1]) * jnp.diff(ts))

    err = segment(0.0, float(delay), 0.0) + segment(float(delay), float(delay) + tr, 1.0)
    return err / delay if normalized else err
