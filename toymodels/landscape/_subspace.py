r"""Training in random affine subspaces and the intrinsic dimension (Li, Farkhoor, Liu &
Yosinski 2018).

In a subspace of dimension $d$ the params are $\theta = \theta_0 + Pz$ with $z\in\mathbb R^d$
initialised at 0 and $P\in\mathbb R^{D\times d}$ frozen with orthonormal columns (QR of a
Gaussian matrix, so that a learning rate means the same for every $d$). The intrinsic
dimension $d_{90}$ is the smallest $d$ whose trained performance reaches 90% of the
full-space performance.

Training in the subspace is a problem transform: `SubspaceProblem` is the problem whose params
are $z$ and whose loss is $L(\theta_0 + Pz)$; the engine `toymodels.dynamics.run` trains it.

The first $d$ columns of the QR factor of a Gaussian $D\times d_\max$ matrix are distributed
as the QR factor of a Gaussian $D\times d$ matrix; so one $P$ of $d_\max$ columns per seed
serves every $d$ by masking $z$ to its first $d$ entries. This nests the subspaces and lets
all $d$ share one compiled training loop.
"""

import enum
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._custom_types import Numbers, Params, Scalar
from .._validation import as_enum, as_float_array, check_finite, check_key
from ..dynamics import AbstractOptimizer, Stop, run
from ..problems._base import AbstractProblem, AbstractProblemTransform
from ._engine import default_optimizer


#: subspace training stops on non-finite values only (no norm or loss-ratio bound), as a
#: plain optimizer loop would
_NO_BOUNDS = Stop(max_norm=None, loss_ratio=None)


def random_subspace(*, key: PRNGKeyArray, num_params: int, dim: int, dtype=None) -> Array:
    """A `(num_params, dim)` matrix with orthonormal columns: the Q factor of a Gaussian
    matrix (column signs fixed so that the diagonal of R is positive)."""
    check_key("key", key)
    num_params, dim = int(num_params), int(dim)
    if not 1 <= dim <= num_params:
        raise ValueError(f"dim: must be in [1, {num_params}] (the number of params), got {dim}")
    dtype = jnp.result_type(float) if dtype is None else dtype
    g = jr.normal(key, (num_params, dim), dtype)
    q, r = jnp.linalg.qr(g)
    s = jnp.sign(jnp.diagonal(r))
    return q * jnp.where(s == 0, 1, s)


class SubspaceProblem(AbstractProblemTransform):
    r"""A problem transform: the params are the coordinates $z\in\mathbb R^d$ of the affine
    subspace $\theta = \theta_0 + P(m\odot z)$ and the loss is $L(\theta_0 + P(m\odot z))$.

    - `problem`: the original problem; `origin`: $\theta_0$ (any params pytree);
    - `basis`: $P$, shape `(D, d)` in `ravel_pytree(origin)` order;
    - `mask`: $m$, shape `(d,)` (all ones: the whole subspace; a 0/1 mask restricts to the
      first columns, see `intrinsic_dimension`).

    `init` gives $z = 0$ (the point $\theta_0$); `to_params(z)` maps back. Minibatches are
    the original problem's (`num_samples`, `batch`).
    """

    problem: AbstractProblem
    origin: Params
    basis: Float[Array, "D d"]
    mask: Float[Array, " d"]

    def __init__(self, problem: AbstractProblem, origin: Params, basis, mask=None):
        if not isinstance(problem, AbstractProblem):
            raise TypeError(
                f"problem: expected a toymodels AbstractProblem, got {type(problem).__name__}"
            )
        flat0, _ = ravel_pytree(origin)
        check_finite("origin", origin)
        basis = jnp.asarray(basis)
        check_finite("basis", basis)
        if basis.ndim != 2:
            raise ValueError(f"basis: expected a (num_params, dim) matrix, got shape {basis.shape}")
        if basis.shape[0] != flat0.shape[0]:
            raise ValueError(
                f"basis: has {basis.shape[0]} rows but the origin has {flat0.shape[0]} params"
            )
        self.problem = problem
        self.origin = origin
        self.basis = basis.astype(flat0.dtype)
        d = basis.shape[1]
        self.mask = jnp.ones((d,), flat0.dtype) if mask is None else jnp.asarray(mask, flat0.dtype)

    def to_params(self, z: Float[Array, " d"]) -> Params:
        r"""$\theta_0 + P(m\odot z)$ as a params pytree like `origin`."""
        flat0, unravel = ravel_pytree(self.origin)
        return unravel(flat0 + self.basis @ (self.mask * z))

    def loss(self, z: Float[Array, " d"]) -> Scalar:
        return self.problem.loss(self.to_params(z))

    def init(self, key: PRNGKeyArray) -> Float[Array, " d"]:
        check_key("key", key)  # the start z = 0 draws nothing
        return jnp.zeros(self.basis.shape[1:], self.basis.dtype)


class SubspaceResult(eqx.Module):
    """Output of `subspace_train`: the trained coordinates `z` (shape `(d,)`), the params
    $\\theta_0 + Pz$, and the training `loss` at every step (shape `(num_steps,)`)."""

    z: Array
    params: Params
    loss: Array


def subspace_train(
    problem: AbstractProblem,
    params0: Params,
    basis: Float[ArrayLike, "D d"],
    *,
    num_steps: int,
    key: PRNGKeyArray,
    optimizer: AbstractOptimizer | optax.GradientTransformation | None = None,
    batch_size: int | None = None,
) -> SubspaceResult:
    r"""Minimise $L(\theta_0 + Pz)$ over $z$ (from $z=0$) with `optimizer` (default
    `toymodels.dynamics.Adam(learning_rate=1e-2)`; any optax transformation, `optax.lbfgs()`
    included), `num_steps` steps of `toymodels.dynamics.run` on the `SubspaceProblem`
    (full batch, or minibatches of `batch_size` drawn with `key`). `basis` is $P$ (see
    `random_subspace`). The run stops early only on non-finite values."""
    check_finite("params0", params0)
    basis = as_float_array("basis", basis, ndim=2)
    sub = SubspaceProblem(problem, params0, basis)
    num_steps = _steps(num_steps)
    check_key("key", key)
    optimizer = default_optimizer() if optimizer is None else optimizer
    traj = _train(sub, optimizer, num_steps=num_steps, key=key, batch_size=batch_size)
    return SubspaceResult(z=traj.params, params=sub.to_params(traj.params), loss=traj.loss)


def _train(sub, optimizer, *, num_steps, key, batch_size=None):
    """`run` from z = 0 (no randomness in the start), stopping only on non-finite values."""
    return run(
        sub,
        sub.init(key),
        optimizer,
        num_steps=num_steps,
        key=key,
        batch_size=batch_size,
        stop=_NO_BOUNDS,
    )


def _steps(num_steps) -> int:
    n = int(num_steps)
    if n < 1:
        raise ValueError(f"num_steps: must be >= 1, got {num_steps}")
    return n


class SeedStatistic(enum.Enum):
    """How the performance of the seeds at one `d` is summarised before the threshold test:
    `MEDIAN` (default; the typical random subspace, robust to the occasional ill-conditioned
    draw whose optimum lies far away and is not reached within the step budget) or `MEAN`."""

    MEDIAN = "median"
    MEAN = "mean"


class IntrinsicDimension(eqx.Module):
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
    dims: Int[ArrayLike, " n"] | Numbers,
    performance: Callable[[Params], Scalar],
    num_seeds: int = 3,
    num_steps: int = 1000,
    optimizer: AbstractOptimizer | optax.GradientTransformation | None = None,
    fraction: float = 0.9,
    baseline: Float[ArrayLike, ""] | None = None,
    statistic: SeedStatistic | str = SeedStatistic.MEDIAN,
    chunk_size: int | None = None,
) -> IntrinsicDimension:
    r"""Search the intrinsic dimension $d_{90}$ over the grid `dims` (Li et al. 2018).

    For each of `num_seeds` seeds: $\theta_0$ = `problem.init`, one orthonormal
    $P\in\mathbb R^{D\times\max(\text{dims})}$; for every $d$ in `dims` train $z$ in the first
    $d$ columns of $P$ (a masked `SubspaceProblem` trained by `toymodels.dynamics.run`,
    `num_steps` full-batch steps of `optimizer`, default `Adam(learning_rate=1e-2)`) and
    record `performance(params)` (higher is better, e.g. accuracy). Seeds are vmapped; the
    `dims` are mapped in vmapped chunks of `chunk_size` (default: all at once). The
    full-space baseline trains all $D$ params from the same $\theta_0$ with the same
    optimizer, unless `baseline` is given. The threshold is `fraction` × the mean baseline;
    `d` passes when the `statistic` (median by default, see `SeedStatistic`) of its seeds'
    performances reaches it.
    """
    check_key("key", key)
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
    optimizer = default_optimizer() if optimizer is None else optimizer

    k_init, k_basis, k_run = jr.split(key, 3)
    params0 = jax.vmap(problem.init)(jr.split(k_init, num_seeds))
    n_params = ravel_pytree(jax.tree_util.tree_map(lambda x: x[0], params0))[0].shape[0]
    dtype = jnp.result_type(*jax.tree_util.tree_leaves(params0))
    dmax = int(dims_np[-1])
    if dmax > n_params:
        raise ValueError(f"dims: largest d = {dmax} exceeds the number of params {n_params}")
    bases = jax.vmap(lambda k: random_subspace(key=k, num_params=n_params, dim=dmax, dtype=dtype))(
        jr.split(k_basis, num_seeds)
    )
    run_keys = jr.split(k_run, num_seeds)
    chunk = len(dims_np) if chunk_size is None else max(1, min(int(chunk_size), len(dims_np)))
    perf = _run_dims(
        problem,
        params0,
        bases,
        jnp.asarray(dims_np),
        run_keys,
        optimizer,
        num_steps,
        performance,
        chunk,
    )
    if baseline is None:
        base = _run_full(problem, params0, run_keys, optimizer, num_steps, performance)
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
    return IntrinsicDimension(
        dims=jnp.asarray(dims_np),
        performance=perf,
        baseline=base,
        threshold=threshold,
        dimension=dim,
    )


@eqx.filter_jit
def _run_dims(problem, params0, bases, dims, keys, optimizer, num_steps, performance, chunk):
    dmax = bases.shape[2]

    def per_seed(p0, basis, key):
        def per_dim(d):
            mask = (jnp.arange(dmax) < d).astype(basis.dtype)
            sub = SubspaceProblem(problem, p0, basis, mask)
            traj = _train(sub, optimizer, num_steps=num_steps, key=key)
            return performance(sub.to_params(traj.params))

        return jax.lax.map(per_dim, dims, batch_size=chunk)

    return jax.vmap(per_seed, out_axes=1)(params0, bases, keys)


@eqx.filter_jit
def _run_full(problem, params0, keys, optimizer, num_steps, performance):
    def per_seed(p0, key):
        tx = optimizer
        traj = run(problem, p0, tx, num_steps=num_steps, key=key, stop=_NO_BOUNDS)
        return performance(traj.params)

    return jax.vmap(per_seed)(params0, keys)


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
        check_key("key", key)
        g = self.sums.shape[0]
        return (
            self.init_scale * jr.normal(key, (self.dim,), self.sums.dtype) / np.sqrt(self.dim // g)
        )

    def accuracy(self, params: Array) -> Scalar:
        ok = jnp.abs(self.group_sums(params) - self.sums) < self.tol
        return jnp.mean(ok.astype(self.sums.dtype))


def group_sum_problem(
    *,
    key: PRNGKeyArray,
    dim: int = 1000,
    groups: int = 10,
    init_scale: float = 1.0,
    tol: float = 1e-2,
    dtype=None,
) -> GroupSumProblem:
    """`GroupSumProblem` with targets drawn from N(0, 1) (`dim` must be a multiple of
    `groups`)."""
    check_key("key", key)
    dim, groups = int(dim), int(groups)
    if groups < 1:
        raise ValueError(f"groups: must be >= 1, got {groups}")
    if dim < groups or dim % groups:
        raise ValueError(f"dim: must be a positive multiple of groups={groups}, got {dim}")
    dtype = jnp.result_type(float) if dtype is None else dtype
    sums = jr.normal(key, (groups,), dtype)
    return GroupSumProblem(sums=sums, dim=dim, init_scale=float(init_scale), tol=float(tol))
