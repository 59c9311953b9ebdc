r"""Training trajectories: PCA of a trajectory of params and projection onto its top
components (Li et al. 2018's trajectory plots), Lipton (2016)'s chord test between consecutive
checkpoints, and distance travelled against change in loss.

A *trajectory* is a params pytree whose every leaf has a leading time axis of length $T$:
checkpoint $t$ is `tree_map(lambda x: x[t], trajectory)`. The engine records one with
`toymodels.dynamics.run(..., save=Save(every=k)).saved` (steps $0, k, 2k, \dots$, the final
step included when $k$ divides `num_steps`).
"""

import enum
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, PyTree

from .._custom_types import Params
from .._validation import as_enum, check_finite
from ._paths import Plane, _check_values, _evaluate


class Center(enum.Enum):
    """What PCA subtracts from the checkpoints: the `FINAL` point (tomgoldstein's
    `projection.py`: directions of $\\theta_t - \\theta_T$) or their `MEAN` (classical PCA)."""

    FINAL = "final"
    MEAN = "mean"


def _check_trajectory(name: str, trajectory: PyTree, *, min_len: int = 2) -> int:
    leaves = jax.tree_util.tree_leaves(trajectory)
    if not leaves:
        raise ValueError(f"{name}: the trajectory pytree has no leaves")
    lengths = {jnp.shape(x)[0] if jnp.ndim(x) else None for x in leaves}
    if None in lengths or len(lengths) != 1:
        raise ValueError(
            f"{name}: every leaf needs the same leading (time) axis, got leading sizes {lengths}"
        )
    (t,) = lengths
    if t < min_len:
        raise ValueError(f"{name}: needs at least {min_len} checkpoints, got {t}")
    check_finite(name, trajectory)
    return int(t)


def checkpoint(trajectory: PyTree, t: int) -> Params:
    """Checkpoint `t` of a trajectory (a params pytree)."""
    return jax.tree_util.tree_map(lambda x: x[t], trajectory)


def _flat_trajectory(trajectory: PyTree) -> tuple[Array, Any]:
    first = checkpoint(trajectory, 0)
    _, unravel = ravel_pytree(first)
    flat = jax.vmap(lambda p: ravel_pytree(p)[0])(trajectory)
    return flat, unravel


class TrajectoryPCA(eqx.Module):
    r"""Principal components of a trajectory.

    - `origin`: the params subtracted before the decomposition (final point or mean);
    - `components`: a params pytree with a leading axis of length `k`, orthonormal as flat
      vectors, ordered by decreasing variance;
    - `explained_variance_ratio`: $s_i^2 / \sum_j s_j^2$ over all singular values of the
      centred trajectory matrix, shape `(k,)`;
    - `coordinates`: the projection of every checkpoint, shape `(T, k)`.
    """

    origin: Params
    components: Params
    explained_variance_ratio: Float[Array, " k"]
    coordinates: Float[Array, "T k"]

    def project(self, params: Params) -> Array:
        r"""Coordinates $\langle c_i, \theta - \theta_o\rangle$ of `params` (or of every
        checkpoint of a trajectory with a leading axis)."""
        o, _ = ravel_pytree(self.origin)
        comps = jax.vmap(lambda c: ravel_pytree(c)[0])(self.components)
        lead = jnp.ndim(jax.tree_util.tree_leaves(params)[0]) - jnp.ndim(
            jax.tree_util.tree_leaves(self.origin)[0]
        )
        if lead == 1:
            flat = jax.vmap(lambda p: ravel_pytree(p)[0])(params)
            return (flat - o) @ comps.T
        return comps @ (ravel_pytree(params)[0] - o)

    def plane(self, i: int = 0, j: int = 1) -> Plane:
        """The plane through `origin` spanned by components `i` and `j` (orthonormal, so plane
        coordinates equal `coordinates[:, [i, j]]`)."""
        ci = jax.tree_util.tree_map(lambda x: x[i], self.components)
        cj = jax.tree_util.tree_map(lambda x: x[j], self.components)
        pts = self.coordinates[:, jnp.array([i, j])]
        return Plane(self.origin, ci, cj, pts)


def trajectory_pca(
    trajectory: PyTree, *, num_components: int = 2, center: Center | str = Center.FINAL
) -> TrajectoryPCA:
    r"""PCA of the checkpoints $\theta_1..\theta_T$ (flattened with `ravel_pytree`) by a thin
    SVD of the $T\times P$ matrix $M$ of $\theta_t - \theta_o$. Component signs are fixed so
    that the largest-magnitude entry of each is positive."""
    t = _check_trajectory("trajectory", trajectory)
    center = as_enum("center", center, Center)
    k = int(num_components)
    if not 1 <= k <= t:
        raise ValueError(f"num_components: must be in [1, {t}] for {t} checkpoints, got {k}")
    flat, unravel = _flat_trajectory(trajectory)
    o = flat[-1] if center is Center.FINAL else jnp.mean(flat, axis=0)
    m = flat - o
    _, s, vt = jnp.linalg.svd(m, full_matrices=False)
    vt = vt[:k]
    sign = jnp.sign(vt[jnp.arange(k), jnp.argmax(jnp.abs(vt), axis=1)])
    vt = vt * jnp.where(sign == 0, 1, sign)[:, None]
    total = jnp.sum(s**2)
    ratio = jnp.where(total > 0, s[:k] ** 2 / jnp.where(total > 0, total, 1), 0)
    return TrajectoryPCA(
        origin=unravel(o),
        components=jax.vmap(unravel)(vt),
        explained_variance_ratio=ratio,
        coordinates=m @ vt.T,
    )


# ---------------------------------------------------------------------------------------------


def _chord_point(traj, c):
    i = c[0].astype(jnp.int32)
    a = c[1]
    return jax.tree_util.tree_map(lambda x: (1 - a) * x[i] + a * x[i + 1], traj)


class ChordTest(eqx.Module):
    r"""Lipton's chord test on consecutive checkpoints $(\theta_t, \theta_{t+1})$.

    - `alphas`: grid on each chord, shape `(n,)` (odd, so $\alpha = ½$ is on it);
    - `values`: the metric on every chord, shape `(T-1, n)`;
    - `midpoint_gap`: $L(\tfrac12(\theta_t+\theta_{t+1})) - \tfrac12(L_t + L_{t+1})$, shape
      `(T-1,)`; positive means the chord violates convexity;
    - `max_excess`: $\max_\alpha L(\theta(\alpha)) - [(1-\alpha)L_t + \alpha L_{t+1}]$ per chord.
    """

    alphas: Array
    values: Array
    midpoint_gap: Array
    max_excess: Array


def chord_test(
    problem: Any,
    trajectory: PyTree,
    *,
    num_alphas: int = 11,
    metric: Any = None,
    chunk_size: int | None = None,
) -> ChordTest:
    """Evaluate the (scalar) metric, default the loss, on the segment between every pair of
    consecutive checkpoints (see `ChordTest`)."""
    t = _check_trajectory("trajectory", trajectory)
    n = int(num_alphas)
    if n < 3 or n % 2 == 0:
        raise ValueError(f"num_alphas: must be an odd integer >= 3, got {num_alphas}")
    dtype = jnp.result_type(*jax.tree_util.tree_leaves(trajectory))
    alphas = jnp.linspace(0.0, 1.0, n, dtype=dtype)
    idx = jnp.repeat(jnp.arange(t - 1, dtype=dtype), n)
    coords = jnp.stack([idx, jnp.tile(alphas, t - 1)], axis=1)
    vals = _evaluate(
        problem,
        _chord_point,
        trajectory,
        coords,
        metric=metric,
        chunk_size=chunk_size,
        reference=checkpoint(trajectory, 0),
    )
    _check_values(
        "trajectory",
        vals,
        lambda i: (
            f"chord {i // n} (checkpoints {i // n}, {i // n + 1}), alpha = "
            f"{float(alphas[i % n]):.6g}"
        ),
    )
    if not isinstance(vals, jax.Array) or vals.ndim != 1:
        raise TypeError("metric: the chord test needs a scalar metric")
    v = vals.reshape(t - 1, n)
    chord = (1 - alphas) * v[:, :1] + alphas * v[:, -1:]
    gap = v[:, n // 2] - 0.5 * (v[:, 0] + v[:, -1])
    return ChordTest(
        alphas=alphas, values=v, midpoint_gap=gap, max_excess=jnp.max(v - chord, axis=1)
    )


def _traj_point(traj, i):
    return jax.tree_util.tree_map(lambda x: x[i], traj)


def trajectory_values(
    problem: Any, trajectory: PyTree, *, metric: Any = None, chunk_size: int | None = None
) -> PyTree:
    """The metric (default the loss) at every checkpoint, shape `(T,)`; a non-finite value
    raises `ValueError` naming the first such checkpoint."""
    t = _check_trajectory("trajectory", trajectory, min_len=1)
    out = _evaluate(
        problem,
        _traj_point,
        trajectory,
        jnp.arange(t),
        metric=metric,
        chunk_size=chunk_size,
        reference=checkpoint(trajectory, 0),
    )
    _check_values("trajectory", out, lambda i: f"checkpoint {i}")
    return out


class DistanceLoss(eqx.Module):
    r"""Distance travelled against change in loss along a trajectory (all shape `(T,)`):
    `path_length` $\sum_{s<t}\lVert\theta_{s+1}-\theta_s\rVert$, `distance_from_start`
    $\lVert\theta_t-\theta_0\rVert$, `distance_to_end` $\lVert\theta_T-\theta_t\rVert$, and
    `loss` (the metric at every checkpoint)."""

    path_length: Array
    distance_from_start: Array
    distance_to_end: Array
    loss: Array


def distance_travelled(
    problem: Any, trajectory: PyTree, *, metric: Any = None, chunk_size: int | None = None
) -> DistanceLoss:
    """See `DistanceLoss` (Lipton 2016: the loss converges while the weights keep moving)."""
    _check_trajectory("trajectory", trajectory)
    flat, _ = _flat_trajectory(trajectory)
    steps = jnp.linalg.norm(jnp.diff(flat, axis=0), axis=1)
    path = jnp.concatenate([jnp.zeros((1,), flat.dtype), jnp.cumsum(steps)])
    loss = trajectory_values(problem, trajectory, metric=metric, chunk_size=chunk_size)
    return DistanceLoss(
        path_length=path,
        distance_from_start=jnp.linalg.norm(flat - flat[0], axis=1),
        distance_to_end=jnp.linalg.norm(flat - flat[-1], axis=1),
        loss=loss,
    )
