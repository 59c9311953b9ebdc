r"""Curves between minima (Garipov et al. 2018): straight segments, quadratic Bezier curves and
polychains with fixed endpoints, trained by sampling $t\sim U[0,1]$ at every step (a
stochastic problem transform, `CurveProblem`, trained by `toymodels.dynamics.run`); metrics
along a curve, the barrier height, and Yang et al. (2021)'s mode-connectivity metric.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree

from .._custom_types import Params, Scalar
from .._validation import as_float_array, check_finite, check_key
from ..dynamics import AbstractOptimizer, Stop, run
from ..problems._base import AbstractProblem, AbstractProblemTransform, AbstractStochasticProblem
from ._directions import check_like
from ._engine import default_optimizer
from ._paths import _as_grid, _dtype_of, evaluate_points


class AbstractCurve(eqx.Module):
    r"""A path $\varphi(t)$, $t\in[0,1]$, in parameter space with $\varphi(0)=$ `start` and
    $\varphi(1)=$ `end`. Only `bend` is trained by `fit_curve`."""

    start: eqx.AbstractVar[Params]
    end: eqx.AbstractVar[Params]

    def __call__(self, t) -> Params:
        raise NotImplementedError


class Line(AbstractCurve):
    r"""The segment $\varphi(t) = (1-t)\,\theta_0 + t\,\theta_1$ (nothing to train)."""

    start: Params
    end: Params

    def __init__(self, start: Params, end: Params):
        check_like("end", end, start)
        self.start, self.end = start, end

    def __call__(self, t) -> Params:
        return jax.tree_util.tree_map(lambda a, b: (1 - t) * a + t * b, self.start, self.end)


def _checked_bend(start: Params, end: Params, bend: Params | None) -> Params:
    """Validate `end` and `bend` against `start`; the bend defaults to the midpoint."""
    check_like("end", end, start)
    if bend is None:
        bend = jax.tree_util.tree_map(lambda a, b: 0.5 * (a + b), start, end)
    check_like("bend", bend, start)
    return bend


class Bezier(AbstractCurve):
    r"""Quadratic Bezier curve $\varphi(t) = (1-t)^2\theta_0 + 2t(1-t)\,\theta_b +
    t^2\theta_1$ with bend $\theta_b$ (default: the midpoint, i.e. initialised on the line)."""

    start: Params
    bend: Params
    end: Params

    def __init__(self, start: Params, end: Params, bend: Params | None = None):
        self.start, self.bend, self.end = start, _checked_bend(start, end, bend), end

    def __call__(self, t) -> Params:
        return jax.tree_util.tree_map(
            lambda a, m, b: (1 - t) ** 2 * a + 2 * t * (1 - t) * m + t**2 * b,
            self.start,
            self.bend,
            self.end,
        )


class PolyChain(AbstractCurve):
    r"""Polygonal chain through the bend: $\varphi(t) = 2(t\,\theta_b + (\tfrac12 - t)\theta_0)$
    on $[0,\tfrac12]$ and $2((t-\tfrac12)\theta_1 + (1-t)\theta_b)$ on $[\tfrac12, 1]$."""

    start: Params
    bend: Params
    end: Params

    def __init__(self, start: Params, end: Params, bend: Params | None = None):
        self.start, self.bend, self.end = start, _checked_bend(start, end, bend), end

    def __call__(self, t) -> Params:
        def leaf(a, m, b):
            first = 2 * (t * m + (0.5 - t) * a)
            second = 2 * ((t - 0.5) * b + (1 - t) * m)
            return jnp.where(t <= 0.5, first, second)

        return jax.tree_util.tree_map(leaf, self.start, self.bend, self.end)


def _check_curve(curve: Any) -> None:
    if not isinstance(curve, AbstractCurve):
        raise TypeError(f"curve: expected a Line, Bezier or PolyChain, got {type(curve).__name__}")


def _curve_point(curve, t):
    return curve(t)


def curve_values(
    problem: Any,
    curve: AbstractCurve,
    ts: Float[ArrayLike, " n"],
    *,
    metric: Any = None,
    chunk_size: int | None = None,
) -> PyTree:
    """The metric (default the loss) at every `t` of the 1-D grid `ts` along `curve`, in
    vmapped chunks. Returns shape `(len(ts),)` (or the metric's pytree)."""
    _check_curve(curve)
    ts = _as_grid("ts", ts, _dtype_of(curve.start))
    return evaluate_points(
        problem,
        _curve_point,
        curve,
        ts,
        metric=metric,
        chunk_size=chunk_size,
        reference=curve.start,
    )


class CurveProblem(AbstractStochasticProblem, AbstractProblemTransform):
    r"""Garipov et al.'s curve objective as a problem transform whose params are the bend
    $\theta_b$ of `curve` (the endpoints stay fixed):

    $$\ell(\theta_b) = \frac1{|T|}\sum_{t\in T}\Big[L(\varphi_{\theta_b}(t)) +
    \tfrac{\lambda}{2}\lVert\varphi_{\theta_b}(t)\rVert^2\Big].$$

    `sample(key)` (called by `toymodels.dynamics.run` at every step) draws
    $T$ = `samples_per_step` fresh $t\sim U[0,1]$; the problem itself averages over the
    midpoint grid $T = \{(i+\frac12)/n\}_{i<n}$ with $n$ = `num_quadrature` (a deterministic
    estimate of $E_t$, used for `Trajectory.final_loss`). $\lambda$ is `weight_decay`;
    `loss_fn(problem, params)` overrides $L$ (default `problem.loss(params)`). Minibatches
    are the original problem's (`num_samples`, `batch`).
    """

    problem: AbstractProblem
    curve: AbstractCurve
    ts: Float[Array, " n"]
    weight_decay: Float[Array, ""]
    samples_per_step: int = eqx.field(static=True)
    loss_fn: Callable[[Any, Params], Scalar] | None = eqx.field(static=True)

    def __init__(
        self,
        problem: AbstractProblem,
        curve: AbstractCurve,
        *,
        samples_per_step: int = 1,
        weight_decay: float = 0.0,
        loss_fn: Callable[[Any, Params], Scalar] | None = None,
        num_quadrature: int = 16,
    ):
        _check_curve(curve)
        if not hasattr(curve, "bend"):
            raise TypeError(f"curve: a {type(curve).__name__} has no bend to train")
        if int(samples_per_step) < 1:
            raise ValueError(f"samples_per_step: must be >= 1, got {samples_per_step}")
        if float(weight_decay) < 0:
            raise ValueError(f"weight_decay: must be >= 0, got {weight_decay}")
        if int(num_quadrature) < 1:
            raise ValueError(f"num_quadrature: must be >= 1, got {num_quadrature}")
        if loss_fn is not None and not callable(loss_fn):
            raise TypeError("loss_fn: expected a function (problem, params) -> scalar")
        dtype = _dtype_of(curve.bend)
        n = int(num_quadrature)
        self.problem = problem
        self.curve = curve
        self.ts = (jnp.arange(n, dtype=dtype) + 0.5) / n
        self.weight_decay = jnp.asarray(weight_decay, dtype)
        self.samples_per_step = int(samples_per_step)
        self.loss_fn = loss_fn

    def with_bend(self, bend: Params) -> AbstractCurve:
        """`curve` with its bend replaced."""
        return eqx.tree_at(lambda c: c.bend, self.curve, bend)

    def loss(self, bend: Params) -> Scalar:
        c = self.with_bend(bend)

        def at(t):
            p = c(t)
            val = self.problem.loss(p) if self.loss_fn is None else self.loss_fn(self.problem, p)
            sq = sum(jnp.sum(x**2) for x in jax.tree_util.tree_leaves(p))
            return val + 0.5 * self.weight_decay * sq

        return jnp.mean(jax.vmap(at)(self.ts))

    def init(self, key: PRNGKeyArray) -> Params:
        check_key("key", key)
        return self.curve.bend

    def sample(self, key: PRNGKeyArray) -> "CurveProblem":
        check_key("key", key)
        ts = jr.uniform(key, (self.samples_per_step,), self.ts.dtype)
        return eqx.tree_at(lambda s: s.ts, self, ts)


class CurveFit(eqx.Module):
    """Output of `fit_curve`: the trained `curve` and the sampled objective `loss` at every
    step (shape `(num_steps,)`)."""

    curve: AbstractCurve
    loss: Float[Array, " num_steps"]


def fit_curve(
    problem: Any,
    curve: AbstractCurve,
    *,
    key: PRNGKeyArray,
    num_steps: int,
    optimizer: AbstractOptimizer | optax.GradientTransformation | None = None,
    samples_per_step: int = 1,
    batch_size: int | None = None,
    weight_decay: float = 0.0,
    loss_fn: Callable[[Any, Params], Scalar] | None = None,
) -> CurveFit:
    r"""Train the bend of `curve` with its endpoints fixed (Garipov et al. 2018).

    Minimises $\ell(\theta_b) = E_{t\sim U[0,1]}\,L(\varphi_{\theta_b}(t)) +
    \tfrac{\lambda}{2}E_t\lVert\varphi(t)\rVert^2$ by stochastic steps of `optimizer` (default
    `toymodels.dynamics.Adam(learning_rate=1e-2)`, or any optax transformation): the
    `CurveProblem` trained by `toymodels.dynamics.run`, which at every step draws
    `samples_per_step` fresh values of $t$ and, when `batch_size` is given (problems with the
    minibatch protocol), a fresh minibatch of samples (without replacement within the step).
    $\lambda$ is `weight_decay`. `loss_fn(problem, params)` overrides the objective (default
    `problem.loss(params)`). The run stops early only on non-finite values.
    """
    _check_curve(curve)
    check_key("key", key)
    num_steps = int(num_steps)
    if num_steps < 1:
        raise ValueError(f"num_steps: must be >= 1, got {num_steps}")
    check_finite("curve", curve)
    cp = CurveProblem(
        problem,
        curve,
        samples_per_step=samples_per_step,
        weight_decay=weight_decay,
        loss_fn=loss_fn,
    )
    optimizer = default_optimizer() if optimizer is None else optimizer
    traj = run(
        cp,
        cp.init(key),
        optimizer,
        num_steps=num_steps,
        key=key,
        batch_size=batch_size,
        stop=Stop(max_norm=None, loss_ratio=None),
    )
    return CurveFit(curve=cp.with_bend(traj.params), loss=traj.loss)


# ---------------------------------------------------------------------------------------------


def _values_1d(name: str, values: ArrayLike) -> Array:
    v = as_float_array(name, values, ndim=1)
    if v.shape[0] < 2:
        raise ValueError(f"{name}: needs at least 2 points along the path, got {v.shape[0]}")
    return v


def barrier_height(
    values: Float[ArrayLike, " n"], ts: Float[ArrayLike, " n"] | None = None
) -> Scalar:
    r"""Barrier of a metric profile along a path: $\max_t\,[v(t) - ((1-t)v(0) + t\,v(1))]$,
    the largest excess over the chord between the endpoint values (Frankle et al. 2020's
    convention). `ts` defaults to an even grid on $[0, 1]$; it must start at 0 and end at 1.
    Zero when the profile never rises above the chord."""
    v = _values_1d("values", values)
    if ts is None:
        ts = jnp.linspace(0.0, 1.0, v.shape[0], dtype=v.dtype)
    else:
        ts = _values_1d("ts", ts).astype(v.dtype)
        if ts.shape != v.shape:
            raise ValueError(f"ts: has shape {ts.shape} but values has {v.shape}")
        if float(ts[0]) != 0.0 or float(ts[-1]) != 1.0:
            raise ValueError("ts: must start at 0 and end at 1 (the endpoints)")
    return jnp.maximum(jnp.max(v - ((1 - ts) * v[0] + ts * v[-1])), 0.0)


def mode_connectivity(values: Float[ArrayLike, " n"]) -> Scalar:
    r"""Yang et al. (2021)'s mode-connectivity metric of a profile $e_0..e_{n-1}$ along a
    curve (in their code: training error in %, at $t\in\{0, .25, .5, .75, 1\}$):

    $$mc = \frac{e_0 + e_{n-1}}{2} - e_u,\qquad u = \arg\max_t \Big|e_t - \frac{e_0 +
    e_{n-1}}{2}\Big|.$$

    $mc < 0$: a barrier (poorly connected); $mc \approx 0$: well connected; $mc > 0$: the
    curve beats its endpoints."""
    e = _values_1d("values", values)
    mid = 0.5 * (e[0] + e[-1])
    u = jnp.argmax(jnp.abs(e - mid))
    return mid - e[u]


def curve_mode_connectivity(
    problem: Any,
    curve: AbstractCurve,
    *,
    metric: Any = None,
    num_points: int = 5,
) -> Scalar:
    """`mode_connectivity` of `metric` (default: the problem's classification `error` in %,
    as Yang et al.) at `num_points` evenly spaced `t` along `curve`."""
    if int(num_points) < 3:
        raise ValueError(f"num_points: needs at least 3 points, got {num_points}")
    if metric is None:
        if not hasattr(problem, "error"):
            raise TypeError("metric: this problem has no `error`; pass a metric")
        err = problem.error
        metric = _Percent(err)
    ts = np.linspace(0.0, 1.0, int(num_points))
    return mode_connectivity(curve_values(problem, curve, ts, metric=metric))


class _Percent(eqx.Module):
    fn: Any

    def __call__(self, p):
        return 100.0 * self.fn(p)


# ---------------------------------------------------------------------------------------------


class CurvatureAlong(eqx.Module):
    """Output of `curvature_along`: the grid `t` (shape `(n,)`), the Hessian's largest
    eigenvalues `top_eigenvalues` (descending, shape `(n, num_eigs)`), Hutchinson's `trace`
    estimate and its `trace_stderr` (shape `(n,)`)."""

    t: Float[Array, " n"]
    top_eigenvalues: Float[Array, "n k"]
    trace: Float[Array, " n"]
    trace_stderr: Float[Array, " n"]


def curvature_along(
    problem: Any,
    curve: AbstractCurve,
    ts: Float[ArrayLike, " n"],
    *,
    key: PRNGKeyArray,
    num_probes: int = 100,
    num_eigs: int = 1,
) -> CurvatureAlong:
    r"""Hessian top eigenvalue(s) and trace at points of `curve` (Yang et al. 2021's
    sharpness metrics along a path), computed with the curvature toolkit:
    `toymodels.landscape.hessian_operator`, `toymodels.linalg.eigsh(op, k, which="largest")` and
    Hutchinson's `toymodels.linalg.trace(op, num_probes=...)`.

    Returns a `CurvatureAlong`. One point after another (Lanczos is not vmapped); each point
    gets its own keys.
    """
    from .. import linalg
    from . import hessian_operator

    _check_curve(curve)
    check_key("key", key)
    if int(num_probes) < 2:
        raise ValueError(f"num_probes: must be >= 2, got {num_probes}")
    ts = _as_grid("ts", ts, _dtype_of(curve.start))
    keys = jr.split(key, 2 * ts.shape[0]).reshape(ts.shape[0], 2)
    tops, traces, errs = [], [], []
    for i in range(ts.shape[0]):
        op = hessian_operator(problem, curve(ts[i]))
        vals = linalg.eigsh(op, int(num_eigs), which="largest", key=keys[i, 0])[0]
        tr = linalg.trace(op, num_probes=int(num_probes), key=keys[i, 1])
        tops.append(jnp.sort(jnp.asarray(vals))[::-1])
        traces.append(tr.estimate)
        errs.append(tr.stderr)
    return CurvatureAlong(
        t=ts,
        top_eigenvalues=jnp.stack(tops),
        trace=jnp.stack(traces),
        trace_stderr=jnp.stack(errs),
    )
