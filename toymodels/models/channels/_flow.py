r"""Gradient flow and gradient descent along a channel.

The flow along a channel is very stiff (the sharpness grows like $1/\varepsilon^2$ while the
drift is $O(\varepsilon^3)$) and has to be followed to $t\sim10^9$. `channel_flow` uses the
L-stable linearly implicit Rosenbrock method ROS2 (Verwer et al. 1999,
$\gamma = 1 + 1/\sqrt2$, second order) with the exact dense Hessian, on a geometric time
grid $t_{n+1} = (1+\delta)t_n$ (constant steps in $\log t$), in `lax.scan`; between the
requested save times it takes `substeps` steps per save interval at least. (diffrax's
Kvaerno5 with PID control rejected most steps on this problem and did not reach $t = 10^9$
within $10^5$ steps; `flow_diffrax` keeps it for short horizons, where the tests compare
the two.) `gradient_descent` is plain full-batch GD in `lax.scan`, which stalls where the
sharpness reaches $2/\eta$ (edge of stability).
"""

import diffrax
import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ..._custom_types import Params
from ..._validation import check_positive


def _check_ts(ts):
    ts = np.asarray(ts, dtype=float)
    if ts.ndim != 1 or ts.size < 1 or not np.all(np.isfinite(ts)) or np.any(np.diff(ts) <= 0):
        raise ValueError("ts: expected a 1-D increasing array of finite times")
    if ts[0] <= 0:
        raise ValueError("ts: times must be > 0")
    return ts


def channel_flow(
    problem, params0: Params, ts: ArrayLike, *, rel_step: float = 0.01, t_start: float = 1e-4
) -> Params:
    r"""Gradient flow $\dot\theta = -\nabla L$ of `problem.loss` from `params0` at $t=0$,
    saved at the increasing times `ts` (> `t_start`). ROS2 with steps $h = $ `rel_step`·t
    (and `t_start` for the first step); returns the stacked params (leading axis len(ts))."""
    ts = _check_ts(ts)
    check_positive("rel_step", rel_step)
    check_positive("t_start", t_start)
    if ts[0] <= t_start:
        raise ValueError(f"ts: the first time must exceed t_start={t_start}")
    # Step boundaries: geometric from t_start, with the save times inserted exactly.
    knots = [0.0, t_start]
    save_idx = []
    for t in ts:
        t_prev = knots[-1]
        n = max(1, int(np.ceil(np.log(t / t_prev) / np.log1p(rel_step))))
        knots += list(np.geomspace(t_prev, t, n + 1)[1:])
        knots[-1] = float(t)
        save_idx.append(len(knots) - 1)
    hs = np.diff(np.asarray(knots))
    x0, unravel = jax.flatten_util.ravel_pytree(params0)
    xs = _ros2(problem, params0, jnp.asarray(hs, x0.dtype))
    xs = jnp.concatenate([x0[None], xs])[np.asarray(save_idx)]
    return jax.vmap(unravel)(xs)


@eqx.filter_jit
def _ros2(problem, params0, hs):
    x0, unravel = jax.flatten_util.ravel_pytree(params0)

    def f(x):
        return -jax.grad(lambda z: problem.loss(unravel(z)))(x)

    jac = jax.jacfwd(f)
    gamma = 1.0 + 1.0 / jnp.sqrt(2.0)
    eye = jnp.eye(x0.size, dtype=x0.dtype)

    def step(x, h):
        W = eye - gamma * h * jac(x)
        lu = jax.scipy.linalg.lu_factor(W)
        k1 = jax.scipy.linalg.lu_solve(lu, f(x))
        k2 = jax.scipy.linalg.lu_solve(lu, f(x + h * k1) - 2.0 * k1)
        xn = x + 1.5 * h * k1 + 0.5 * h * k2
        return xn, xn

    return jax.lax.scan(step, x0, hs)[1]


def flow_diffrax(problem, params0: Params, ts: ArrayLike, *, rtol=1e-10, atol=1e-12) -> Params:
    """Reference: the same flow with diffrax Kvaerno5 + PID (for short horizons)."""
    ts = _check_ts(ts)
    x0, unravel = jax.flatten_util.ravel_pytree(params0)
    ys = _kvaerno(problem, params0, jnp.asarray(ts, x0.dtype), rtol, atol)
    return jax.vmap(unravel)(ys)


@eqx.filter_jit
def _kvaerno(problem, params0, ts, rtol, atol):
    x0, unravel = jax.flatten_util.ravel_pytree(params0)

    def field(t, x, args):
        return -jax.grad(lambda z: problem.loss(unravel(z)))(x)

    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(field),
        diffrax.Kvaerno5(),
        t0=0.0,
        t1=ts[-1],
        dt0=1e-4,
        y0=x0,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=100_000,
    )
    return sol.ys


def gradient_descent(problem, params0: Params, *, lr: float, steps: int) -> Params:
    """`steps` full-batch GD steps θ ← θ − lr·∇L (lax.scan); returns the final params."""
    check_positive("lr", lr)
    if int(steps) < 1:
        raise ValueError(f"steps: must be >= 1, got {steps}")
    return _gd(problem, params0, jnp.asarray(float(lr)), int(steps))


@eqx.filter_jit
def _gd(problem, params0, lr, steps):
    x0, unravel = jax.flatten_util.ravel_pytree(params0)
    g = jax.grad(lambda z: problem.loss(unravel(z)))

    def body(x, _):
        return x - lr * g(x), None

    return unravel(jax.lax.scan(body, x0, None, length=steps)[0])


@eqx.filter_jit
def loss_and_grad(problem, params: Params):
    """`(loss, gradient)` of `problem.loss` at `params` (jitted once per shape)."""
    return jax.value_and_grad(problem.loss)(params)


@eqx.filter_jit
def sharpness(problem, params: Params) -> Array:
    """Largest Hessian eigenvalue of `problem.loss` (dense; for tiny problems)."""
    x, unravel = jax.flatten_util.ravel_pytree(params)
    H = jax.hessian(lambda z: problem.loss(unravel(z)))(x)
    return jnp.linalg.eigvalsh(H)[-1]


def loglog_slope(t: ArrayLike, y: ArrayLike, *, t_min: float = 0.0) -> float:
    """Least-squares slope of log|y| against log t for t > t_min."""
    t, y = np.asarray(t, float), np.abs(np.asarray(y, float))
    m = t > t_min
    if m.sum() < 2:
        raise ValueError(f"t_min: fewer than 2 points beyond t_min={t_min}")
    return float(np.polyfit(np.log(t[m]), np.log(y[m]), 1)[0])
