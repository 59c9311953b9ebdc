r"""Gradient flow $\dot\theta = -\nabla L(\theta)$ with diffrax, stop conditions and a norm barrier.

Time-scale convention. The flow is driven by the gradient of `problem.loss` exactly as the
problem defines it. The supervised problems of `toymodels.problems` *average* over samples
(`MSE`, `CrossEntropy`), so $t$ is measured in units of "one full-batch GD step of size 1":
GD with step $\eta$ after $k$ steps approximates the flow at $t = k\eta$.
MLPGradientFlow.jl instead integrates the *summed* loss ($N$ times ours, and without the $\tfrac12$
of `MSE(half=True)`), so its time $t_\Sigma$ relates to ours by $t = N t_\Sigma$ (times 2 for the
missing half). Pass `time_scale` to multiply the gradient by a constant if you want their clock:
the flow is then $\dot\theta = -c\,\nabla L$ and $t$ is divided by $c$.
"""

from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import optimistix as optx
from jax.flatten_util import ravel_pytree
from jaxtyping import Array

from .._custom_types import Params, Real
from .._validation import check_positive
from ._common import check_problem, flat_loss, flatten_params, max_abs
from ._run import Stop, StopCode, StopReason, reason_code


def stiff_solver(*, matrix_free: bool = False) -> diffrax.AbstractSolver:
    r"""Kvaerno5 (L-stable ESDIRK 5(4)) for stiff flows, its stage equations solved by Newton
    with the step-size controller's tolerances: densely (LU) or, with `matrix_free=True`,
    by GMRES on Hessian–vector products (no Hessian is formed; for many parameters)."""
    if matrix_free:
        linear_solver = lx.GMRES(rtol=1e-8, atol=1e-14, restart=40, stagnation_iters=40)
    else:
        linear_solver = lx.AutoLinearSolver(well_posed=None)
    root = diffrax.with_stepsize_controller_tols(optx.Newton)(
        linear_solver=linear_solver, cauchy_termination=False
    )
    return diffrax.Kvaerno5(root_finder=root)


class NormBarrier(eqx.Module):
    r"""MLPGradientFlow.jl's cubic norm barrier, added to the loss:

    $$R(\theta) = \frac{c}{3}\,\max(0,\ w(\theta) - w_{\max})^3,\qquad
    w(\theta) = \frac{1}{2P}\sum_i \theta_i^2,$$

    with $P$ the number of parameters. It is zero (with two vanishing derivatives) inside the
    ball and keeps the flow from escaping to infinity along flat channels. MLPGradientFlow
    multiplies $R$ by the sample count because its loss is a sum; ours is a mean, so the
    default `strength` is 1.
    """

    max_weightnorm: Real = 1e3
    strength: Real = 1.0

    def __check_init__(self):
        check_positive("max_weightnorm", self.max_weightnorm)
        check_positive("strength", self.strength, allow_zero=True)

    def __call__(self, flat: Array) -> Array:
        w = jnp.sum(flat**2) / (2 * flat.size)
        return self.strength / 3.0 * jnp.maximum(w - self.max_weightnorm, 0.0) ** 3


class FlowResult(eqx.Module):
    """Output of `gradient_flow`.

    - `ts`: save times reached before the flow stopped, shape `(T,)`; `ys`: the params at
      `ts` (a pytree like `params0` with a leading axis `T`).
    - `loss`, `grad_norm`: loss and gradient ∞-norm at `ts` (loss without the barrier).
    - `params`, `t_final`, `final_loss`, `final_grad_norm`: where the flow stopped (`t1`, or
      the time of the stop event).
    - `stop_reason`: a `StopCode` (compare with `"completed"`, `"converged"`, `"diverged"`,
      `"max_steps"`, `"failed"`).
    - `num_steps`, `num_accepted_steps`: solver step counts (rejected steps included in
      the first).
    """

    ts: np.ndarray
    ys: Params
    loss: np.ndarray
    grad_norm: np.ndarray
    params: Params
    t_final: float
    final_loss: float
    final_grad_norm: float
    stop_reason: StopCode
    num_steps: int
    num_accepted_steps: int

    @property
    def converged(self) -> bool:
        return bool(self.stop_reason == StopReason.CONVERGED)


def log_times(t1: float, num: int, *, t_first: float | None = None) -> np.ndarray:
    """`[0, t_first, ..., t1]`: 0 followed by `num - 1` log-spaced times (default
    `t_first = min(1e-3, t1 / 10)`)."""
    check_positive("t1", t1)
    if int(num) < 2:
        raise ValueError(f"num: need at least 2 save times, got {num}")
    t_first = min(1e-3, t1 / 10) if t_first is None else float(t_first)
    check_positive("t_first", t_first)
    if t_first >= t1:
        raise ValueError(f"t_first: must be < t1 = {t1}, got {t_first}")
    return np.concatenate([[0.0], np.geomspace(t_first, t1, int(num) - 1)])


class _TimeBisection(optx.Bisection):
    """Bisection that stops when the time bracket is small, whatever the condition's value
    (near a blow-up the condition is too steep for a tolerance on its value)."""

    def terminate(self, fn, y, args, options, state, tags):
        del fn, args, options, tags
        scale = self.atol + self.rtol * jnp.abs(y)
        return jnp.abs(state.lower - state.upper) < scale, optx.RESULTS.successful


def _vector_field(problem, unravel, barrier, time_scale):
    loss = flat_loss(problem, unravel)
    total = loss if barrier is None else (lambda x: loss(x) + barrier(x))
    grad = jax.grad(total)

    def f(t, y, args):
        return -time_scale * grad(y)

    return f


@eqx.filter_jit
def _solve(
    problem,
    params0,
    ts,
    t1,
    gtol,
    max_norm,
    barrier,
    time_scale,
    solver,
    stepsize_controller,
    dt0,
    *,
    max_steps,
    use_gtol,
):
    flat0, unravel = ravel_pytree(params0)
    f = _vector_field(problem, unravel, barrier, time_scale)
    term = diffrax.ODETerm(f)

    def stop_value(t, y, args, **kwargs):
        # One continuous condition whose sign change is either event; its crossing time is
        # root-found on the dense output (exact blow-up / convergence time).
        value = (max_norm - max_abs(y)) / max_norm
        if use_gtol:
            value = jnp.minimum(value, max_abs(f(t, y, args)) / (gtol * time_scale) - 1.0)
        return value

    event = diffrax.Event(stop_value, root_finder=_TimeBisection(rtol=1e-14, atol=1e-14))
    sol = diffrax.diffeqsolve(
        term,
        solver,
        t0=0.0,
        t1=t1,
        dt0=dt0,
        y0=flat0,
        saveat=diffrax.SaveAt(ts=ts, t1=True),
        stepsize_controller=stepsize_controller,
        max_steps=max_steps,
        event=event,
        throw=False,
    )
    loss = flat_loss(problem, unravel)
    vg = jax.vmap(jax.value_and_grad(loss))

    def safe_vg(y):
        ok = jnp.all(jnp.isfinite(y), axis=-1)
        l, g = vg(jnp.where(ok[:, None], y, 0.0))
        return jnp.where(ok, l, jnp.nan), jnp.where(ok, jnp.max(jnp.abs(g), axis=-1), jnp.nan)

    losses, gnorms = safe_vg(sol.ys)
    return (
        sol.ts,
        sol.ys,
        losses,
        gnorms,
        sol.result,
        sol.stats["num_steps"],
        sol.stats["num_accepted_steps"],
    )


def gradient_flow(
    problem,
    params0: Params,
    *,
    t1: float,
    solver: diffrax.AbstractSolver = diffrax.Tsit5(),
    stepsize_controller: diffrax.AbstractStepSizeController = diffrax.PIDController(
        rtol=1e-10, atol=1e-12
    ),
    save: diffrax.SaveAt | None = None,
    stop: Stop = Stop(max_norm=1e8, loss_ratio=None),
    barrier: NormBarrier | None = None,
    time_scale: float = 1.0,
    max_steps: int = 1_000_000,
    dt0: float | None = None,
) -> FlowResult:
    r"""Integrate the gradient flow $\dot\theta = -c\,\nabla[L(\theta) + R(\theta)]$ from
    `params0` over $t\in[0, t_1]$ with diffrax.

    **Arguments:**
    - `problem`: any `toymodels.problems.AbstractProblem`; `params0` any params pytree.
    - `t1` (keyword-only): final time, > 0. Times follow the problem's loss as defined (a mean
      over samples for the supervised problems; see the module docstring for the sum-loss
      convention of MLPGradientFlow.jl).
    - `solver`: any `diffrax.AbstractSolver` (default `Tsit5()`; `Dopri8()` for very tight
      tolerances; `stiff_solver()` or `diffrax.Kvaerno5()` for stiff flows; the channel
      flow's `ROS2` of `toymodels.models.channels`).
    - `stepsize_controller`: any diffrax controller (default
      `PIDController(rtol=1e-10, atol=1e-12)`, for float64).
    - `save`: a `diffrax.SaveAt(ts=...)` with save times in `[0, t1]`, increasing (the
      params are saved; loss and gradient norm are evaluated there). Default: 0 and 99
      log-spaced times up to `t1` (`log_times`).
    - `stop`: a `Stop`; its `max_norm` stops the flow when $\lVert\theta\rVert_\infty$
      reaches it (`DIVERGED`; the crossing time is root-found on the dense output, so
      `t_final` is the exact blow-up time to that level), its `gtol` when
      $\lVert\nabla L\rVert_\infty <$ `gtol` (`CONVERGED`). Loss bounds are not used.
    - `barrier`: an optional `NormBarrier` $R$ (MLPGradientFlow's cubic weight-norm
      barrier); `time_scale`: the constant $c$ (default 1).
    - `max_steps`: solver step budget (`MAX_STEPS` when used up).
    - `dt0`: the first step (diffrax's `dt0`); `None` lets an adaptive controller choose it,
      and is what `diffrax.StepTo` needs; `diffrax.ConstantStepSize` needs a number.

    **Returns:** a `FlowResult`. A flow that stops early keeps its trajectory up to the stop.
    Non-finite `params0` or a bad `t1` raise `ValueError`.
    """
    check_problem(problem)
    check_positive("t1", t1)
    t1 = float(t1)
    flat0, unravel = flatten_params("params0", params0)
    if not isinstance(solver, diffrax.AbstractSolver):
        raise TypeError(f"solver: expected a diffrax.AbstractSolver, got {type(solver).__name__}")
    if not isinstance(stepsize_controller, diffrax.AbstractStepSizeController):
        raise TypeError(
            "stepsize_controller: expected a diffrax.AbstractStepSizeController, got "
            f"{type(stepsize_controller).__name__}"
        )
    if not isinstance(stop, Stop):
        raise TypeError(f"stop: expected a toymodels.dynamics.Stop, got {type(stop).__name__}")
    max_norm = np.inf if stop.max_norm is None else float(stop.max_norm)
    gtol = None if stop.gtol is None else float(stop.gtol)
    check_positive("time_scale", time_scale)
    if barrier is not None and not isinstance(barrier, NormBarrier):
        raise TypeError(f"barrier: expected a NormBarrier or None, got {type(barrier).__name__}")
    if int(max_steps) <= 0:
        raise ValueError(f"max_steps: must be positive, got {max_steps}")
    if float(max_abs(flat0)) >= max_norm:
        raise ValueError(
            f"params0: ∞-norm {float(max_abs(flat0)):.3g} is not below stop.max_norm {max_norm:g}"
        )
    if save is None:
        ts_np = log_times(t1, 100)
    else:
        if not isinstance(save, diffrax.SaveAt):
            raise TypeError(f"save: expected a diffrax.SaveAt(ts=...), got {type(save).__name__}")
        sub = save.subs
        if not isinstance(sub, diffrax.SubSaveAt) or sub.ts is None or sub.steps or sub.t0:
            raise ValueError("save: expected diffrax.SaveAt(ts=...) with save times only")
        ts_np = np.asarray(sub.ts, dtype=np.float64).reshape(-1)
        if ts_np.size == 0:
            raise ValueError("save: empty ts")
        if not np.all(np.isfinite(ts_np)):
            raise ValueError("save: ts contains non-finite values")
        if np.any(np.diff(ts_np) < 0):
            raise ValueError("save: ts must be non-decreasing")
        if ts_np[0] < 0 or ts_np[-1] > t1:
            raise ValueError(f"save: ts must lie in [0, t1] = [0, {t1:g}]")
    dtype = flat0.dtype
    # Always pass a barrier with array fields (strength 0 = none): one compilation for all.
    b = NormBarrier(1.0, 1.0) if barrier is None else barrier
    barrier = NormBarrier(
        jnp.asarray(b.max_weightnorm, dtype),
        jnp.asarray(0.0 if barrier is None else b.strength, dtype),
    )
    out = _solve(
        problem,
        params0,
        jnp.asarray(ts_np, dtype),
        jnp.asarray(t1, dtype),
        jnp.asarray(1.0 if gtol is None else gtol, dtype),
        jnp.asarray(np.finfo(np.float64).max if not np.isfinite(max_norm) else max_norm, dtype),
        barrier,
        jnp.asarray(time_scale, dtype),
        solver,
        stepsize_controller,
        None if dt0 is None else jnp.asarray(dt0, dtype),
        max_steps=int(max_steps),
        use_gtol=gtol is not None,
    )
    sts, sys_, losses, gnorms, result, nsteps, nacc = out
    sts, sys_ = np.asarray(sts), np.asarray(sys_)
    losses, gnorms = np.asarray(losses), np.asarray(gnorms)
    # diffrax writes the final state (t1 or the event time) right after the last save time
    # reached, and fills the slots after it with inf.
    k = int(np.sum(np.isfinite(sts))) - 1
    t_final = float(sts[k])
    y_final = sys_[k]
    reason = _stop_reason(result, y_final, float(gnorms[k]), max_norm)
    stacked = jax.vmap(unravel)(jnp.asarray(sys_[:k]))
    return FlowResult(
        ts=sts[:k],
        ys=stacked,
        loss=losses[:k],
        grad_norm=gnorms[:k],
        params=unravel(jnp.asarray(y_final)),
        t_final=t_final,
        final_loss=float(losses[k]),
        final_grad_norm=float(gnorms[k]),
        stop_reason=StopCode(jnp.asarray(reason_code(reason), jnp.int32)),
        num_steps=int(nsteps),
        num_accepted_steps=int(nacc),
    )


def _stop_reason(result: Any, y_final, final_gnorm, max_norm) -> StopReason:
    if not np.all(np.isfinite(y_final)):
        return StopReason.DIVERGED
    if result == diffrax.RESULTS.successful:
        return StopReason.COMPLETED
    if result == diffrax.RESULTS.event_occurred:
        if np.max(np.abs(y_final)) >= max_norm * (1 - 1e-6):
            return StopReason.DIVERGED
        return StopReason.CONVERGED
    if result == diffrax.RESULTS.max_steps_reached:
        return StopReason.MAX_STEPS
    if not np.isfinite(final_gnorm):
        return StopReason.DIVERGED
    return StopReason.FAILED
