r"""Gradient flow along a channel: the Rosenbrock solver `ROS2` (a diffrax solver) and the
geometric time grid it steps on, through `toymodels.dynamics.gradient_flow`.

The flow along a channel is very stiff (the sharpness grows like $1/\varepsilon^2$ while the
drift is $O(\varepsilon^3)$) and has to be followed to $t\sim10^9$. `channel_flow` integrates
it with `ROS2` on a geometric time grid $t_{n+1} = (1+\delta)t_n$ (constant steps in
$\log t$, `log_step_grid`) given to `diffrax.StepTo`. Gradient descent on the same toy is
`toymodels.dynamics.run` with `toymodels.dynamics.GD`; it stalls where the sharpness reaches
$2/\eta$ (edge of stability).
"""

from collections.abc import Callable
from typing import ClassVar

import diffrax
import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
from jaxtyping import ArrayLike

from ..._custom_types import Numbers, Params
from ..._validation import check_positive
from ...dynamics import FlowResult, gradient_flow


_SolverState = None


class ROS2(diffrax.AbstractAdaptiveSolver):
    r"""The L-stable linearly implicit Rosenbrock method ROS2 (Verwer, Spee, Blom & Hundsdorfer
    1999), second order, with the exact dense Jacobian $J = \partial f/\partial y$ of the
    vector field at the start of each step and $\gamma = 1 + 1/\sqrt2$:

    $$(I - \gamma hJ)k_1 = f(t_0, y_0),\quad (I - \gamma hJ)k_2 = f(t_0 + h, y_0 + hk_1) - 2k_1,
    \quad y_1 = y_0 + \tfrac32hk_1 + \tfrac12hk_2,$$

    one LU factorisation per step, no nonlinear solve, no $\partial f/\partial t$ (it stays
    second order for non-autonomous fields; `tests/models/test_channels.py` checks it). The error
    estimate is the difference
    to the embedded first-order solution $y_0 + hk_1$, i.e. $\tfrac12h(k_1 + k_2)$, so the
    solver also works with `diffrax.PIDController`; dense output is linear.

    Why it exists: on the channel flow of the erf toy, diffrax's `Kvaerno5` (with Newton
    stage solves and PID control) rejected most steps and did not reach $t = 10^9$ within
    $10^5$ steps; ROS2 on a grid with steps $h = \delta t$ gets there in about $3000$ steps
    (for $\delta = 0.01$), stably, because it is L-stable and has no nonlinear solve that
    could fail. Dense Jacobian: for small problems (a few hundred parameters at most).
    """

    term_structure: ClassVar = diffrax.ODETerm
    interpolation_cls: ClassVar[Callable[..., diffrax.LocalLinearInterpolation]] = (
        diffrax.LocalLinearInterpolation
    )

    def order(self, terms):
        del terms
        return 2

    def init(self, terms, t0, t1, y0, args) -> _SolverState:
        del terms, t0, t1, y0, args
        return None

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del solver_state, made_jump
        flat0, unravel = jax.flatten_util.ravel_pytree(y0)

        def f(t, x):
            return jax.flatten_util.ravel_pytree(terms.vf(t, unravel(x), args))[0]

        h = terms.contr(t0, t1)
        dtype = flat0.dtype
        gamma = jnp.asarray(1.0 + 1.0 / np.sqrt(2.0), dtype)
        # J and f(t0, y0) from one trace of the vector field
        jac, f0 = jax.jacfwd(lambda x: (f(t0, x), f(t0, x)), has_aux=True)(flat0)
        lu = jsl.lu_factor(jnp.eye(flat0.size, dtype=dtype) - gamma * h * jac)
        k1 = jsl.lu_solve(lu, f0)
        k2 = jsl.lu_solve(lu, f(t1, flat0 + h * k1) - 2.0 * k1)
        flat1 = flat0 + 1.5 * h * k1 + 0.5 * h * k2
        y1 = unravel(flat1)
        y_error = unravel(0.5 * h * (k1 + k2))
        ok = jnp.all(jnp.isfinite(flat1))
        result = diffrax.RESULTS.where(ok, diffrax.RESULTS.successful, diffrax.RESULTS.nonfinite)
        return y1, y_error, dict(y0=y0, y1=y1), None, result

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)


def _check_ts(ts):
    ts = np.asarray(ts, dtype=float)
    if ts.ndim != 1 or ts.size < 1 or not np.all(np.isfinite(ts)) or np.any(np.diff(ts) <= 0):
        raise ValueError("ts: expected a 1-D increasing array of finite times")
    if ts[0] <= 0:
        raise ValueError("ts: times must be > 0")
    return ts


def log_step_grid(ts: ArrayLike, *, rel_step: float = 0.01, t_start: float = 1e-4) -> np.ndarray:
    r"""Step boundaries for `diffrax.StepTo`: $0$, `t_start`, then geometric steps of relative
    size at most `rel_step` ($h \le \delta t$) with every time of the increasing `ts`
    (all > `t_start`) hit exactly."""
    ts = _check_ts(ts)
    check_positive("rel_step", rel_step)
    check_positive("t_start", t_start)
    if ts[0] <= t_start:
        raise ValueError(f"ts: the first time must exceed t_start={t_start}")
    knots = [np.zeros(1), np.array([float(t_start)])]
    t_prev = float(t_start)
    for t in ts:
        n = max(1, int(np.ceil(np.log(t / t_prev) / np.log1p(rel_step))))
        seg = np.geomspace(t_prev, t, n + 1)[1:]
        seg[-1] = float(t)
        knots.append(seg)
        t_prev = float(t)
    return np.concatenate(knots)


def channel_flow(
    problem, params0: Params, ts: Numbers, *, rel_step: float = 0.01, t_start: float = 1e-4
) -> FlowResult:
    r"""Gradient flow $\dot\theta = -\nabla L$ of `problem.loss` from `params0` at $t=0$,
    saved at the increasing times `ts` (> `t_start`): `toymodels.dynamics.gradient_flow`
    with `ROS2()` on the grid `log_step_grid(ts, rel_step=..., t_start=...)` (steps
    $h = $ `rel_step`$\cdot t$, `t_start` for the first). Returns the `FlowResult` (the
    stacked params at `ts` are its `ys`)."""
    ts = _check_ts(ts)
    grid = log_step_grid(ts, rel_step=rel_step, t_start=t_start)
    return gradient_flow(
        problem,
        params0,
        t1=float(ts[-1]),
        solver=ROS2(),
        stepsize_controller=diffrax.StepTo(ts=grid),
        dt0=None,
        save=diffrax.SaveAt(ts=ts),
        max_steps=grid.size,
    )


def loglog_slope(t: ArrayLike, y: ArrayLike, *, t_min: float = 0.0) -> float:
    """Least-squares slope of log|y| against log t for t > t_min."""
    t, y = np.asarray(t, float), np.abs(np.asarray(y, float))
    m = t > t_min
    if m.sum() < 2:
        raise ValueError(f"t_min: fewer than 2 points beyond t_min={t_min}")
    return float(np.polyfit(np.log(t[m]), np.log(y[m]), 1)[0])
