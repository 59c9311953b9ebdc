r"""Training in random affine subspaces and the intrinsic dimension (Li, Farkhoor, Liu &
Yosinski 2018).

In a subspace of dimension $d$ the params are $\theta = \theta_0 + Pz$ with $z\in\mathbb R^d$
initialised at 0 and $P\in\mathbb R^{D\times d}$ frozen with orthonormal columns (QR of a
Gaussian matrix, so that a learning rate means the same for every $d$). The intrinsic
dimension $d_{90}$ is the smallest $d$ whose trained performance reaches 90% of the
full-space performance.

The first $d$ columns of the QR factor of a Gaussian $D\times d_\max$ matrix are distributed
as the QR factor of a Gaussian $D\times d$ matrix; so one $P$ of $d_\max$ columns per seed
serves every $d$ by masking $z$ to its first $d$ entries. This nests the subspaces and lets
all $d$ share one compiled training loop.
"""

import enum
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._custom_types import Params, Scalar
from .._validation import as_enum, as_float_array, check_finite
from ..problems._base import AbstractProblem
from ._optim import opt_init, opt_step


def random_subspace(key: PRNGKeyArray, num_params: int, dim: int, *, dtype=None) -> Array:
    """A `(num_params, dim)` matrix with orthonormal columns: the Q factor of a Gaussian
    matrix (column signs fixed so that the diagonal of R is positive)."""
    num_params, dim = int(num_params), int(dim)
    if not 1 <= dim <= num_params:
        raise ValueError(f"dim: must be in [1, {num_params}] (the number of params), got {dim}")
    dtype = jnp.result_type(float) if dtype is None else dtype
    g = jr.normal(key, (num_params, dim), dtype)
    q, r = jnp.linalg.qr(g)
    s = jnp.sign(jnp.diagonal(r))
    return q * jnp.where(s == 0, 1, s)


class SubspaceResult(NamedTuple):
    """Output of `subspace_train`: the trained subspace coordinates `z` (shape `(d,)`), the
    params $\\theta_0 + Pz$, and the training loss at every step."""

    z: Array
    params: Params
    losses: Array


def subspace_train(
    problem: AbstractProblem,
    params0: Params,
    basis: Float[ArrayLike, "D d"],
    *,
    num_steps: int,
    optimizer: optax.GradientTransformation | None = None,
) -> SubspaceResult:
    r"""Minimise $L(\theta_0 + Pz)$ over $z$ (from $z=0$) with `optimizer` (default
    `optax.adam(1e-2)`), full batch, `num_steps` steps in one `lax.scan`. `basis` is $P$
    (see `random_subspace`)."""
    flat0, unravel = ravel_pytree(params0)
    check_finite("params0", params0)
    basis = as_float_array("basis", basis, ndim=2)
    if basis.shape[0] != flat0.shape[0]:
        raise ValueError(
            f"basis: has {basis.shape[0]} rows but params0 has {flat0.shape[0]} params"
        )
    num_steps = _steps(num_steps)
    optimizer = optax.adam(1e-2) if optimizer is None else optimizer
    mask = jnp.ones((basis.shape[1],), flat0.dtype)
    z, losses = _train_z(
        problem, flat0, basis.astype(flat0.dtype), mask, unravel, optimizer, num_steps
    )
    return SubspaceResult(z, unravel(flat0 + basis.astype(flat0.dtype) @ z), losses)


def _steps(num_steps) -> int:
    n = int(num_steps)
    if n < 1:
        raise ValueError(f"num_steps: must be >= 1, got {num_steps}")
    return n


def _train_z(problem, flat0, basis, mask, unravel, optimizer, num_steps):
    def loss(z):
        return problem.loss(unravel(flat0 + basis @ (mask * z)))

    def step(carry, _):
        z, state = carry
        val, g = jax.value_and_grad(loss)(z)
        z, state = opt_step(optimizer, g, state, z, value=val, value_fn=loss)
        return (z, state), val

    z0 = jnp.zeros((basis.shape[1],), flat0.dtype)
    (z, _), losses = jax.lax.scan(step, (z0, opt_init(optimizer, z0)), None, length=num_steps)
    return mask * z, losses


def _train_full(problem, flat0, unravel, optimizer, num_steps):
    def loss(w):
        return problem.loss(unravel(w))

    def step(carry, _):
        w, state = carry
        val, g = jax.value_and_grad(loss)(w)
        w, state = opt_step(optimizer, g, state, w, value=val, value_fn=loss)
        return (w, state), val

    (w, _), losses = jax.lax.scan(step, (flat0, opt_init(optimizer, flat0)), None, length=num_steps)
    return w


class SeedStatistic(enum.Enum):
    """How the performance of the seeds at one `d` is summarised before the threshold test:
    `MEDIAN` (default; the typical random subspace, robust to the occasional ill-conditioned
    draw whose optimum lies far away and is not reached within the step budget) or `MEAN`."""

    MEDIAN = "median"
    MEAN = "mean"


class IntrinsicDimension(NamedTuple):
    r"""Result of `intrinsic_dimension`.

    - `dims`: the subspace dimensions tried, shape `(n,)`;
    - `performance`: trained performance, shape `(n, seeds)`;
    - `baseline`: full-space performance per seed, shape `(seeds,)`;
    - `threshold`: `fraction` × mean baseline;
    - `dimension`: the smallest `d` whose seed statistic (median or mean over seeds) reaches
      `threshold` (`-1` when none does).
    """

    dims: Array
    performance: Array
    baseline: Array
    threshold: Array
    dimension: int


def intrinsic_dimension(
    problem: AbstractProblem,
    *,
    key: PRNGKeyArray,
    dims: Int[ArrayLike, " n"],
    performance: Callable[[Params], Scalar],
    num_seeds: int = 3,
    num_steps: int = 1000,
    optimizer: optax.GradientTransformation | None = None,
    fraction: float = 0.9,
    baseline: Float[ArrayLike, ""] | None = None,
    statistic: SeedStatistic | str = SeedStatistic.MEDIAN,
    chunk_size: int | None = None,
) -> IntrinsicDimension:
    r"""Search the intrinsic dimension $d_{90}$ over the grid `dims` (Li et al. 2018).

    For each of `num_seeds` seeds: $\theta_0$ = `problem.init`, one orthonormal
    $P\in\mathbb R^{D\times\max(\text{dims})}$; for every $d$ in `dims` train $z$ in the first
    $d$ columns of $P$ (`subspace_train`'s loop) and record `performance(params)` (higher is
    better, e.g. accuracy). Seeds are vmapped; the `dims` are mapped in vmapped chunks of
    `chunk_size` (default: all at once). The full-space baseline trains all $D$ params from
    the same $\theta_0$ with the same optimizer, unless `baseline` is given. The threshold is
    `fraction` × the mean baseline; `d` passes when the `statistic` (median by default, see
    `SeedStatistic`) of its seeds' performances reaches it.
    """
    dims_np = np.asarray(dims)
    if dims_np.ndim != 1 or dims_np.size == 0:
        raise ValueError(f"dims: expected a non-empty 1-D array of ints, got shape {dims_np.shape}")
    if not np.issubdtype(dims_np.dtype, np.integer):
        raise TypeError(f"dims: expected integers, got dtype {dims_np.dtype}")
    if np.any(np.diff(dims_np) <= 0) or dims_np[0] < 1:
        raise ValueError("dims: must be positive and strictly increasing")
    if not callable(performance):
        raise TypeError("performance: expected a function params -> scalar (higher is better)")
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"fraction: must be in (0, 1], got {fraction}")
    statistic = as_enum("statistic", statistic, SeedStatistic)
    num_seeds = int(num_seeds)
    if num_seeds < 1:
        raise ValueError(f"num_seeds: must be >= 1, got {num_seeds}")
    num_steps = _steps(num_steps)
    optimizer = optax.adam(1e-2) if optimizer is None else optimizer

    k_init, k_basis = jr.split(key)
    params0 = jax.vmap(problem.init)(jr.split(k_init, num_seeds))
    flat0 = jax.vmap(lambda p: ravel_pytree(p)[0])(params0)
    _, unravel = ravel_pytree(jax.tree_util.tree_map(lambda x: x[0], params0))
    n_params = flat0.shape[1]
    dmax = int(dims_np[-1])
    if dmax > n_params:
        raise ValueError(f"dims: largest d = {dmax} exceeds the number of params {n_params}")
    bases = jax.vmap(lambda k: random_subspace(k, n_params, dmax, dtype=flat0.dtype))(
        jr.split(k_basis, num_seeds)
    )
    chunk = len(dims_np) if chunk_size is None else max(1, min(int(chunk_size), len(dims_np)))
    perf = _run_dims(
        problem,
        flat0,
        bases,
        jnp.asarray(dims_np),
        unravel,
        optimizer,
        num_steps,
        performance,
        chunk,
    )
    if baseline is None:
        base = _run_full(problem, flat0, unravel, optimizer, num_steps, performance)
    else:
        base = jnp.full((num_seeds,), as_float_array("baseline", baseline, ndim=0))
    threshold = float(fraction) * jnp.mean(base)
    if not float(threshold) > 0:
        raise ValueError(
            f"baseline: full-space performance {float(jnp.mean(base)):.4g} must be > 0 for a "
            "relative threshold; use a performance that is positive when trained"
        )
    summary = (
        jnp.median(perf, axis=1) if statistic is SeedStatistic.MEDIAN else jnp.mean(perf, axis=1)
    )
    reached = np.asarray(summary >= threshold)
    dim = int(dims_np[np.argmax(reached)]) if reached.any() else -1
    return IntrinsicDimension(jnp.asarray(dims_np), perf, base, threshold, dim)


@eqx.filter_jit
def _run_dims(problem, flat0, bases, dims, unravel, optimizer, num_steps, performance, chunk):
    dmax = bases.shape[2]

    def per_seed(f0, basis):
        def per_dim(d):
            mask = (jnp.arange(dmax) < d).astype(f0.dtype)
            z, _ = _train_z(problem, f0, basis, mask, unravel, optimizer, num_steps)
            return performance(unravel(f0 + basis @ z))

        return jax.lax.map(per_dim, dims, batch_size=chunk)

    return jax.vmap(per_seed, out_axes=1)(flat0, bases)


@eqx.filter_jit
def _run_full(problem, flat0, unravel, optimizer, num_steps, performance):
    def per_seed(f0):
        return performance(unravel(_train_full(problem, f0, unravel, optimizer, num_steps)))

    return jax.vmap(per_seed)(flat0)


# ---------------------------------------------------------------------------------------------


class GroupSumProblem(AbstractProblem):
    r"""Li et al. (2018)'s toy of known intrinsic dimension: $D$ params in $G$ equal
    contiguous groups whose sums must hit fixed targets,

    $$L(\theta) = \frac{1}{2G}\sum_{g=1}^G \Big(\sum_{i\in g}\theta_i - s_g\Big)^2 .$$

    The solutions form an affine subspace of codimension $G$, so a generic random affine
    subspace of dimension $d$ contains a solution iff $d \ge G$: $d_{\rm int} = G$.
    `accuracy` is the fraction of groups whose sum is within `tol` of its target.
    """

    sums: Array
    dim: int = eqx.field(static=True)
    init_scale: float = eqx.field(static=True, default=1.0)
    tol: float = eqx.field(static=True, default=1e-2)

    def group_sums(self, params: Array) -> Array:
        return jnp.sum(params.reshape(self.sums.shape[0], -1), axis=1)

    def loss(self, params: Array) -> Scalar:
        return 0.5 * jnp.mean((self.group_sums(params) - self.sums) ** 2)

    def init(self, key: PRNGKeyArray) -> Array:
        g = self.sums.shape[0]
        return (
            self.init_scale * jr.normal(key, (self.dim,), self.sums.dtype) / np.sqrt(self.dim // g)
        )

    def accuracy(self, params: Array) -> Scalar:
        ok = jnp.abs(self.group_sums(params) - self.sums) < self.tol
        return jnp.mean(ok.astype(self.sums.dtype))


def group_sum_problem(
    key: PRNGKeyArray,
    *,
    dim: int = 1000,
    groups: int = 10,
    init_scale: float = 1.0,
    tol: float = 1e-2,
    dtype=None,
) -> GroupSumProblem:
    """`GroupSumProblem` with targets drawn from N(0, 1) (`dim` must be a multiple of
    `groups`)."""
    dim, groups = int(dim), int(groups)
    if groups < 1:
        raise ValueError(f"groups: must be >= 1, got {groups}")
    if dim < groups or dim % groups:
        raise ValueError(f"dim: must be a positive multiple of groups={groups}, got {dim}")
    dtype = jnp.result_type(float) if dtype is None else dtype
    sums = jr.normal(key, (groups,), dtype)
    return GroupSumProblem(sums=sums, dim=dim, init_scale=float(init_scale), tol=float(tol))
