r"""Loss (or any metric) along straight lines and on 2-D planes in parameter space.

Every evaluation maps a function of one point over all points with `jax.lax.map(...,
batch_size=chunk)`: points are vmapped in chunks of `chunk` points (memory-sized, see
`auto_chunk_size`), and the chunks run one after the other inside one compiled loop. No Python
loop over points.

A *metric* is a function `params -> pytree of scalars`, for example `problem.loss` (the
default), `problem.accuracy`, or a dict `{"loss": problem.loss, "error": problem.error}`
(evaluated leaf by leaf, returned as a dict of arrays). Pass bound methods of the problem (or
`jax.tree_util.Partial`) rather than fresh lambdas closing over data, so that the data are
traced arguments and compiled code is reused.

A metric that is NaN or infinite at some point raises a `ValueError` naming the params the
points were built from and the first such point (one check of the finished result, no host
round trip per point). To map a region where the metric is undefined, return a finite
stand-in from the metric (for example `lambda p: jnp.nan_to_num(problem.loss(p), posinf=1e30)`).
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree

from .._custom_types import Numbers, Params
from .._validation import as_float_array, check_finite, check_key, is_concrete
from ..problems._base import AbstractProblem
from ._directions import (
    Biases,
    Normalization,
    check_like,
    random_direction,
    tree_norm,
    tree_scale,
    tree_sub,
    tree_vdot,
)


#: default budget of one chunk of vmapped points, in bytes, by backend: on CPU a chunk should
#: stay cache-sized (XLA:CPU runs a batch of per-point matrix products less efficiently than
#: one product at a time once the operands leave the cache: measured in bench/bench_plane.py);
#: accelerators want large chunks.
DEFAULT_MEMORY = {"cpu": 2**24}
DEFAULT_MEMORY_ACCELERATOR = 2**30


def default_memory() -> int:
    """The chunk budget for the default backend (see `DEFAULT_MEMORY`)."""
    return DEFAULT_MEMORY.get(jax.default_backend(), DEFAULT_MEMORY_ACCELERATOR)


def _metric_fn(problem: Any, metric: Any) -> Callable[[Params], PyTree]:
    if metric is None:
        if not hasattr(problem, "loss"):
            raise TypeError(f"problem: expected a problem with a `loss(params)`, got {problem!r}")
        return problem.loss
    if callable(metric):
        return metric
    if isinstance(metric, Mapping | Sequence) and not isinstance(metric, str):
        items = metric.values() if isinstance(metric, Mapping) else metric
        if len(metric) and all(callable(m) for m in items):
            return _MetricTree(metric)
    raise TypeError(
        "metric: expected a function params -> scalar (or a dict/tuple of such functions), "
        f"got {metric!r}"
    )


class _MetricTree(eqx.Module):
    metrics: Any

    def __call__(self, params):
        if isinstance(self.metrics, Mapping):
            return {k: m(params) for k, m in self.metrics.items()}
        return tuple(m(params) for m in self.metrics)


def _num_elements(tree: Any) -> int:
    return int(sum(np.size(x) for x in jax.tree_util.tree_leaves(tree) if eqx.is_array(x)))


def auto_chunk_size(
    problem: Any, params: Params, *, num_points: int, memory: int | None = None
) -> int:
    r"""Points per vmapped chunk so that one chunk needs about `memory` bytes (default
    `default_memory()`: 16 MiB on CPU, 1 GiB on accelerators).

    Heuristic estimate of the bytes per point: $s\,(2P + 16\,N_\text{data})$ with $s$ the
    itemsize, $P$ the number of params and $N_\text{data}$ the number of array elements held
    by the problem (its data; the factor 16 covers the activations of a few hidden layers of
    width comparable to the input). Pass `chunk_size` explicitly for tighter control.
    """
    leaves = jax.tree_util.tree_leaves(params)
    itemsize = max((jnp.result_type(x).itemsize for x in leaves), default=8)
    memory = default_memory() if memory is None else int(memory)
    per_point = itemsize * (2 * _num_elements(params) + 16 * _num_elements(problem) + 1)
    return int(max(1, min(num_points, memory // per_point)))


def _check_chunk(chunk_size, problem, params, n) -> int:
    if chunk_size is None:
        return auto_chunk_size(problem, params, num_points=n)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer):
        raise TypeError(f"chunk_size: expected a positive int or None, got {chunk_size!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size: must be >= 1, got {chunk_size}")
    return int(min(chunk_size, n))


def _check_values(name: str, values: PyTree, describe: Callable[[int], str]) -> None:
    """Raise a `ValueError` naming `name` when the evaluated metric (a pytree of arrays with
    a leading points axis) is non-finite anywhere; `describe(i)` names point `i`. One pass
    over the finished result (skipped for traced values)."""
    leaves = [
        x
        for x in jax.tree_util.tree_leaves(values)
        if eqx.is_array(x) and is_concrete(x) and jnp.issubdtype(x.dtype, jnp.inexact)
    ]
    if not leaves:
        return
    n = leaves[0].shape[0] if leaves[0].ndim else 1
    finite = np.ones((n,), bool)
    for x in leaves:
        a = np.asarray(x).reshape(n, -1) if x.ndim else np.asarray(x).reshape(1, 1)
        finite &= np.all(np.isfinite(a), axis=1)
    if finite.all():
        return
    bad = int(n - np.count_nonzero(finite))
    raise ValueError(
        f"{name}: the metric is non-finite (NaN or inf) at {bad} of {n} points, first at "
        f"{describe(int(np.argmin(finite)))}"
    )


def _describe_coords(coords: Array, label: str) -> Callable[[int], str]:
    def describe(i: int) -> str:
        c = np.asarray(coords[i]).reshape(-1)
        vals = ", ".join(f"{v:.6g}" for v in c)
        return f"{label} = {vals if c.size == 1 else '(' + vals + ')'}"

    return describe


@eqx.filter_jit
def _map_points(metric, point_fn, data, coords, chunk):
    def one(c):
        return metric(point_fn(data, c))

    return jax.lax.map(one, coords, batch_size=chunk)


def evaluate_points(
    problem: Any,
    point_fn: Callable[[Any, Array], Params],
    data: Any,
    coords: Array,
    *,
    metric: Any = None,
    chunk_size: int | None = None,
    reference: Params | None = None,
) -> PyTree:
    """The evaluator: `metric(point_fn(data, c))` for every row `c` of `coords`, in vmapped
    chunks. `point_fn` should be a module-level function (it is a static argument of the
    compiled loop) and `data` a pytree of arrays. Returns the metric's pytree with a leading
    axis of length `len(coords)`; a non-finite value raises `ValueError` (see the module
    docs)."""
    out = _evaluate(
        problem, point_fn, data, coords, metric=metric, chunk_size=chunk_size, reference=reference
    )
    _check_values("data", out, _describe_coords(coords, "coords[i]"))
    return out


def _evaluate(problem, point_fn, data, coords, *, metric, chunk_size, reference):
    fn = _metric_fn(problem, metric)
    n = int(coords.shape[0])
    if n == 0:
        raise ValueError("coords: no points to evaluate")
    ref = point_fn(data, coords[0]) if reference is None else reference
    chunk = _check_chunk(chunk_size, problem, ref, n)
    return _map_points(fn, point_fn, data, coords, chunk)


def _as_grid(name: str, values: ArrayLike, dtype) -> Array:
    arr = as_float_array(name, values)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D grid of values, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: the grid is empty")
    return arr.astype(dtype)


def _dtype_of(params: Params):
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError("params: the params pytree has no leaves")
    return jnp.result_type(*leaves)


# ---------------------------------------------------------------------------------------------
# lines


def _interp_point(data, a):
    p0, p1 = data
    return jax.tree_util.tree_map(lambda x, y: (1 - a) * x + a * y, p0, p1)


def _line_point(data, a):
    p, d = data
    return jax.tree_util.tree_map(lambda x, y: x + a * y, p, d)


def interpolate(
    problem: AbstractProblem,
    params0: Params,
    params1: Params,
    alphas: Float[ArrayLike, " n"],
    *,
    metric: Any = None,
    chunk_size: int | None = None,
) -> PyTree:
    r"""The metric along the straight line $\theta(\alpha) = (1-\alpha)\theta_0 + \alpha\theta_1$
    (Goodfellow et al. 2015) at every $\alpha$ of the 1-D grid `alphas` (values outside
    $[0, 1]$ extrapolate). Returns an array of shape `(len(alphas),)` (or the metric's pytree
    of such arrays)."""
    check_like("params1", params1, params0)
    check_finite("params0", params0)
    check_finite("params1", params1)
    alphas = _as_grid("alphas", alphas, _dtype_of(params0))
    out = _evaluate(
        problem,
        _interp_point,
        (params0, params1),
        alphas,
        metric=metric,
        chunk_size=chunk_size,
        reference=params0,
    )
    _check_values("params0, params1", out, _describe_coords(alphas, "alpha"))
    return out


def along_direction(
    problem: AbstractProblem,
    params: Params,
    direction: Params,
    alphas: Float[ArrayLike, " n"],
    *,
    metric: Any = None,
    chunk_size: int | None = None,
) -> PyTree:
    r"""The metric at $\theta + \alpha d$ for every $\alpha$ of the 1-D grid `alphas` (Li et
    al. 2018's 1-D plot; build $d$ with `random_direction`)."""
    check_like("direction", direction, params)
    check_finite("params", params)
    check_finite("direction", direction)
    alphas = _as_grid("alphas", alphas, _dtype_of(params))
    out = _evaluate(
        problem,
        _line_point,
        (params, direction),
        alphas,
        metric=metric,
        chunk_size=chunk_size,
        reference=params,
    )
    _check_values("params, direction", out, _describe_coords(alphas, "alpha"))
    return out


# ---------------------------------------------------------------------------------------------
# planes


class Plane(eqx.Module):
    r"""The affine plane $\theta(x, y) = \theta_o + x\,u + y\,v$ in parameter space.

    `origin`, `u`, `v` are pytrees like the params. `points` holds the `(x, y)` coordinates of
    the points the plane was built through (shape `(k, 2)`, possibly `k = 1`).
    """

    origin: Params
    u: Params
    v: Params
    points: Array

    def at(self, x, y) -> Params:
        """The params at plane coordinates `(x, y)`."""
        return jax.tree_util.tree_map(
            lambda o, a, b: o + x * a + y * b, self.origin, self.u, self.v
        )

    def coordinates(self, params: Params) -> Array:
        r"""Least-squares coordinates `(x, y)` of `params` projected onto the plane:
        $G^{-1}[\langle u, \theta-\theta_o\rangle, \langle v, \theta-\theta_o\rangle]$ with the
        Gram matrix $G$ of $(u, v)$. A params pytree with a leading axis (a trajectory) gives
        shape `(T, 2)`."""
        g = jnp.array(
            [
                [tree_vdot(self.u, self.u), tree_vdot(self.u, self.v)],
                [tree_vdot(self.u, self.v), tree_vdot(self.v, self.v)],
            ]
        )
        lead = jnp.ndim(jax.tree_util.tree_leaves(params)[0]) - jnp.ndim(
            jax.tree_util.tree_leaves(self.origin)[0]
        )

        def one(p):
            r = tree_sub(p, self.origin)
            return jnp.linalg.solve(g, jnp.stack([tree_vdot(self.u, r), tree_vdot(self.v, r)]))

        return jax.vmap(one)(params) if lead == 1 else one(params)


def _plane_point(plane, c):
    return plane.at(c[0], c[1])


def _orthogonalize(v: Params, u: Params) -> Params:
    return jax.tree_util.tree_map(lambda a, b: a - (tree_vdot(u, v) / tree_vdot(u, u)) * b, v, u)


def random_plane(
    origin: Params,
    *,
    key: PRNGKeyArray,
    toward: Params | None = None,
    normalization: Normalization | str = Normalization.FILTER,
    biases: Biases | str = Biases.ZERO,
    rtol: float = 1e-8,
) -> Plane:
    r"""A plane through `origin` with random direction(s) (Li et al. 2018).

    - `toward=None`: $u, v$ are two independent random directions normalized relative to
      $\theta$ = `origin` (`normalization`, `biases`, see `random_direction`); $\theta$ sits
      at $(0, 0)$;
    - `toward` $=\theta_1$: $u = \theta_1 - \theta$ and $v$ a random normalized direction
      made orthogonal to $u$ and scaled to $\lVert u\rVert$; the points sit at $(0,0)$ and
      $(1,0)$, so the $x$ axis is the interpolation parameter $\alpha$.

    Raises `ValueError` when `toward` coincides with `origin` (relative tolerance `rtol`).
    """
    check_key("key", key)
    check_finite("origin", origin)
    dtype = _dtype_of(origin)
    opts = dict(normalization=normalization, biases=biases)
    if toward is None:
        k1, k2 = jax.random.split(key)
        u = random_direction(origin, key=k1, **opts)
        v = random_direction(origin, key=k2, **opts)
        if float(tree_norm(u)) == 0.0:
            raise ValueError(
                "origin: every random direction is zero for these params "
                "(all filters zero?); use normalization='none'"
            )
        return Plane(origin, u, v, jnp.zeros((1, 2), dtype))
    check_like("toward", toward, origin)
    check_finite("toward", toward)
    u = tree_sub(toward, origin)
    nu = float(tree_norm(u))
    if nu <= rtol * max(float(tree_norm(origin)), 1e-300):
        raise ValueError("toward: coincides with origin; a plane needs distinct points")
    v = random_direction(origin, key=key, **opts)
    v = _orthogonalize(v, u)
    nv = float(tree_norm(v))
    if nv == 0.0:
        raise ValueError("key: the random direction is parallel to toward - origin")
    v = tree_scale(v, nu / nv)
    return Plane(origin, u, v, jnp.array([[0.0, 0.0], [1.0, 0.0]], dtype))


def plane_through(*points: Params, rtol: float = 1e-8) -> Plane:
    r"""The plane through three params pytrees (Garipov et al. 2018): the orthonormal basis
    $\hat u = (\theta_1 - \theta_0)/\lVert\cdot\rVert$, $\hat v \propto (\theta_2-\theta_0) -
    \langle\theta_2-\theta_0, \hat u\rangle\hat u$, so plane coordinates are Euclidean
    distances; $\theta_0$ sits at $(0, 0)$. (A plane through one or two points needs random
    directions: `random_plane`.)

    Raises `ValueError` for coincident or collinear points (relative tolerance `rtol`).
    """
    if len(points) != 3:
        raise ValueError(
            f"points: a plane goes through 3 points (for 1 or 2 use random_plane), "
            f"got {len(points)}"
        )
    p0 = points[0]
    check_finite("points[0]", p0)
    for i, p in enumerate(points[1:], 1):
        check_like(f"points[{i}]", p, p0)
        check_finite(f"points[{i}]", p)
    dtype = _dtype_of(p0)
    u = tree_sub(points[1], p0)
    nu = float(tree_norm(u))
    if nu <= rtol * max(float(tree_norm(p0)), 1e-300):
        raise ValueError("points[1]: coincides with points[0]; a plane needs distinct points")
    w = tree_sub(points[2], p0)
    nw = float(tree_norm(w))
    uh = tree_scale(u, 1.0 / nu)
    vw = _orthogonalize(w, uh)
    nv = float(tree_norm(vw))
    if nv <= rtol * max(nw, nu):
        raise ValueError(
            "points: the three points are collinear (or coincide); no unique plane through them"
        )
    vh = tree_scale(vw, 1.0 / nv)
    coords = jnp.array([[0.0, 0.0], [nu, 0.0], [float(tree_vdot(w, uh)), nv]], dtype)
    return Plane(p0, uh, vh, coords)


def plane_values(
    problem: AbstractProblem,
    plane: Plane,
    xs: Float[ArrayLike, " nx"] | Numbers,
    ys: Float[ArrayLike, " ny"] | Numbers,
    *,
    metric: Any = None,
    chunk_size: int | None = None,
) -> PyTree:
    r"""The metric on the grid `xs × ys` of `plane`: an array of shape `(len(ys), len(xs))`
    with `Z[i, j]` at `(xs[j], ys[i])` (matplotlib's `contour(xs, ys, Z)` convention)."""
    if not isinstance(plane, Plane):
        raise TypeError(f"plane: expected a Plane (see plane_through), got {type(plane).__name__}")
    check_finite("plane", (plane.origin, plane.u, plane.v))
    dtype = _dtype_of(plane.origin)
    xs = _as_grid("xs", xs, dtype)
    ys = _as_grid("ys", ys, dtype)
    gx, gy = jnp.meshgrid(xs, ys)
    coords = jnp.stack([gx.ravel(), gy.ravel()], axis=1)
    out = _evaluate(
        problem,
        _plane_point,
        plane,
        coords,
        metric=metric,
        chunk_size=chunk_size,
        reference=plane.origin,
    )
    _check_values("plane", out, _describe_coords(coords, "(x, y)"))
    return jax.tree_util.tree_map(lambda z: z.reshape(ys.shape[0], xs.shape[0]), out)
