r"""Curvature over data given as batches: Hessian-vector (or Gauss–Newton-vector) products
accumulated exactly over an iterable of data batches, for data that does not fit one pass.

For a loss that is a mean over samples, $L = \frac1N\sum_{n=1}^N \ell_n$, split into batches
$B_1, \dots, B_m$ of sizes $N_b$ (a ragged last batch included) with batch losses
$L_b = \frac1{N_b}\sum_{n\in B_b}\ell_n$,

$$H v = \sum_b \frac{N_b}{N}\, H_b v,$$

exactly (up to rounding), and likewise for the Gauss–Newton and residual terms. The batches
are visited by a host loop; each batch's product with one vector is one jitted call, compiled
once per batch shape (the full batches and a ragged last one: two programs, whatever the
number of vectors). Only one batch is on the device
at a time, so the batches can be loaded lazily (a memory map, files read one by one).

The operator is a `toymodels.linalg` operator: `linalg.eigsh`, `linalg.trace`,
`linalg.spectral_density` take it unchanged. Inside their compiled loops the product is a
`jax.pure_callback` to the host loop; vectors that `jax.vmap` batches (the probes of a trace
estimate) share one pass over the data (each batch is read once and applied to all of them).
"""

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import Params
from .._validation import check_finite, check_params_tree
from ..linalg._operator import AbstractOperator
from ..problems._base import AbstractProblem, AbstractSupervisedProblem, EquinoxProblem
from ._hessian import _check_params, _check_problem, hessian_operator


def _default_with_batch(problem: AbstractProblem) -> Callable[[Any, Any], AbstractProblem]:
    if isinstance(problem, AbstractSupervisedProblem):
        return _supervised_with_batch
    if isinstance(problem, EquinoxProblem):
        return _equinox_with_batch
    raise TypeError(
        f"with_batch: {type(problem).__name__} is neither an AbstractSupervisedProblem (batches "
        "(x, targets)) nor an EquinoxProblem (batches like its `data`); pass "
        "with_batch=lambda problem, batch: <the problem on that batch>"
    )


def _supervised_with_batch(problem: AbstractSupervisedProblem, batch: Any) -> AbstractProblem:
    if not isinstance(batch, tuple | list) or len(batch) != 2:
        raise ValueError(
            "batches: each batch of a supervised problem must be a pair (x, targets), got "
            f"{type(batch).__name__}"
        )
    return problem.with_data(batch[0], batch[1])


def _equinox_with_batch(problem: EquinoxProblem, batch: Any) -> AbstractProblem:
    return eqx.tree_at(lambda p: p.data, problem, batch, is_leaf=lambda x: x is None)


def _batch_size(index: int, batch: Any) -> int:
    leaves = [a for a in jax.tree_util.tree_leaves(batch) if np.ndim(a) > 0]
    if not leaves:
        raise ValueError(f"batches: batch {index} holds no array with a sample axis")
    sizes = {int(np.shape(a)[0]) for a in leaves}
    if len(sizes) != 1:
        raise ValueError(
            f"batches: the arrays of batch {index} have different leading (sample) axes "
            f"{sorted(sizes)}"
        )
    size = sizes.pop()
    if size < 1:
        raise ValueError(f"batches: batch {index} is empty")
    return size


def _signature(batch: Any):
    """What must agree between batches: the tree structure, trailing shapes and dtypes."""
    leaves, treedef = jax.tree_util.tree_flatten(batch)
    return treedef, tuple(
        (np.shape(a)[1:], np.dtype(a.dtype if hasattr(a, "dtype") else np.result_type(a)))
        for a in leaves
    )


@eqx.filter_jit
def _batch_matvec(curvature, problem, params, v):
    return curvature(problem, params).matvec(v)


class _BatchPass:
    """The host side: the problem, the batch source and the per-batch operator. Hashed by
    identity, so that it can be a static field of the operator (compiled algorithms taking
    the operator are reused while its params change)."""

    def __init__(self, problem, batches, curvature, with_batch, params):
        self.problem = problem
        self.batches = batches
        self.curvature = curvature
        self.with_batch = with_batch
        flat, self.unravel = ravel_pytree(params)
        self.size = int(flat.shape[0])
        self.dtype = flat.dtype
        self.reference = None

    def __repr__(self) -> str:
        return (
            f"_BatchPass(problem={type(self.problem).__name__}, "
            f"curvature={getattr(self.curvature, '__name__', self.curvature)!r})"
        )

    def iterate(self) -> Iterator[Any]:
        if callable(self.batches):  # a function: each call starts a fresh pass
            return iter(self.batches())
        it = iter(self.batches)
        if it is self.batches:
            raise ValueError(
                "batches: a one-shot iterator cannot be passed over more than once; pass a "
                "list, an iterable whose iter() starts a new pass, or a function returning "
                "a fresh iterator"
            )
        return it

    def check(self, index: int, batch: Any) -> int:
        size = _batch_size(index, batch)
        sig = _signature(batch)
        if self.reference is None:
            self.reference = sig
        elif sig != self.reference:
            raise ValueError(
                f"batches: batch {index} differs from batch 0 in structure, trailing shapes or "
                f"dtypes ({sig} vs {self.reference}); only the sample axis may change"
            )
        return size

    def apply(self, flat: ArrayLike, vs: ArrayLike) -> np.ndarray:
        """$\\sum_b (N_b/N) A_b V$ for the rows of `vs` (float64 accumulation)."""
        params = self.unravel(jnp.asarray(flat, self.dtype))
        vs = jnp.asarray(vs, self.dtype)
        acc = np.zeros(vs.shape, np.float64)
        total = 0
        for index, batch in enumerate(self.iterate()):
            size = self.check(index, batch)
            problem = self.with_batch(self.problem, batch)
            # one vector at a time: one program per batch shape, whatever the number of
            # vectors (a trace's probes, `to_dense`), and one batch's activations in memory
            for j in range(vs.shape[0]):
                out = _batch_matvec(self.curvature, problem, params, vs[j])
                acc[j] += size * np.asarray(out, np.float64)
            total += size
        if total == 0:
            raise ValueError("batches: no batch in a pass over the data")
        return (acc / total).astype(self.dtype)

    def __call__(self, flat, v):
        # `vmap_method="expand_dims"`: batched arguments carry the batch axes in front,
        # unbatched ones size-1 axes; broadcast and apply all vectors in one data pass.
        flat, v = np.asarray(flat), np.asarray(v)
        n = self.size
        lead = np.broadcast_shapes(flat.shape[:-1], v.shape[:-1])
        vs = np.broadcast_to(v, lead + (n,)).reshape(-1, n)
        if flat.size == n:
            out = self.apply(flat.reshape(n), vs)
        else:  # params themselves batched (a vmap over params): one pass per member
            ps = np.broadcast_to(flat, lead + (n,)).reshape(-1, n)
            out = np.stack([self.apply(p, vs[i : i + 1])[0] for i, p in enumerate(ps)])
        return out.reshape(lead + (n,))


class BatchedOperator(AbstractOperator):
    r"""$v \mapsto \sum_b (N_b/N) A_b v$: a curvature operator (the Hessian by default)
    accumulated over data batches, on flat vectors in `ravel_pytree(params)` order.

    Made by `batched_operator`. Field `params` (a pytree: compiled algorithms taking the
    operator do not recompile when its values change); the problem, the batches and the
    per-batch operator live in a static host object."""

    params: Params
    source: _BatchPass = eqx.field(static=True)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.source.size, self.source.size)

    @property
    def dtype(self):
        return self.source.dtype

    def matvec(self, v: Float[ArrayLike, " n"]) -> Float[Array, " n"]:
        flat, _ = ravel_pytree(self.params)
        return jax.pure_callback(
            self.source,
            jax.ShapeDtypeStruct((self.source.size,), flat.dtype),
            flat,
            jnp.asarray(v).astype(flat.dtype),
            vmap_method="expand_dims",
        )

    def ravel(self, tree: Params) -> Float[Array, " n"]:
        """A pytree like `params` as a flat vector (ravel_pytree order)."""
        return ravel_pytree(tree)[0]

    def unravel(self, flat: Float[Array, " n"]) -> Params:
        """A flat vector back to a pytree like `params`."""
        return self.source.unravel(flat)

    def tree_matvec(self, v: Params) -> Params:
        """The operator applied to a pytree like `params` (one pass over the batches)."""
        return self.unravel(
            jnp.asarray(self.source.apply(ravel_pytree(self.params)[0], self.ravel(v)[None])[0])
        )


def _check_batches(batches: Any) -> None:
    if isinstance(batches, Iterator):
        raise ValueError(
            "batches: a one-shot iterator cannot be passed over more than once; pass a list, "
            "an iterable whose iter() starts a new pass, or a function returning a fresh "
            "iterator"
        )
    if not (callable(batches) or isinstance(batches, Iterable)):
        raise TypeError(
            "batches: expected an iterable of data batches (a list, a re-iterable loader) or "
            f"a function returning one, got {type(batches).__name__}"
        )


def batched_operator(
    problem: AbstractProblem,
    params: Params,
    *,
    batches: Iterable[Any] | Callable[[], Iterable[Any]],
    curvature: Callable[[AbstractProblem, Params], AbstractOperator] = hessian_operator,
    with_batch: Callable[[AbstractProblem, Any], AbstractProblem] | None = None,
) -> BatchedOperator:
    r"""The curvature of `problem` at `params` over data given as batches, as a matrix-free
    operator for `toymodels.linalg` (`eigsh`, `trace`, `spectral_density`, `lanczos`):
    $v \mapsto \sum_b (N_b/N)\,A_b v$ with $A_b$ = `curvature(problem on batch b, params)`.

    Exact for a loss that is a mean over samples (every problem of the package, and
    `EquinoxProblem`s whose `loss_fn` averages over the batch): it equals the full-data
    operator up to rounding.

    Args:
        problem: the problem; its own data is replaced by each batch in turn.
        params: the point (any pytree of floating arrays).
        batches: keyword-only. The data batches, each a pytree of arrays sharing a leading
            sample axis (only that axis may change between batches, e.g. a ragged last
            batch): a list, an iterable whose `iter()` starts a new pass (a data loader), or
            a function returning a fresh iterator. Every product is one pass over them; a
            one-shot iterator (a generator) is refused.
        curvature: keyword-only. The per-batch operator, `(problem, params) -> operator`:
            `hessian_operator` (default), `gauss_newton_operator`, `residual_operator`.
        with_batch: keyword-only. `(problem, batch) -> problem` on that batch. Default:
            `problem.with_data(x, targets)` for an `AbstractSupervisedProblem` (batches are
            `(x, targets)` pairs) and the `data` field of an `EquinoxProblem`.

    Returns:
        A `BatchedOperator` (`.matvec`, `.tree_matvec`, `.ravel`, `.unravel`, `.to_dense()`).
    """
    _check_problem(problem)
    _check_params(params)
    _check_batches(batches)
    if not callable(curvature):
        raise TypeError("curvature: expected a function (problem, params) -> operator")
    if with_batch is None:
        with_batch = _default_with_batch(problem)
    elif not callable(with_batch):
        raise TypeError("with_batch: expected a function (problem, batch) -> problem")
    source = _BatchPass(problem, batches, curvature, with_batch, params)
    # one look at the first batch: a clear error here rather than inside a compiled loop
    first = next(source.iterate(), None)
    if first is None:
        raise ValueError("batches: empty (no batch to compute the curvature on)")
    source.check(0, first)
    batch_problem = with_batch(problem, first)
    _check_problem(batch_problem)
    return BatchedOperator(params, source)


def batched_hvp(
    problem: AbstractProblem,
    params: Params,
    v: Params,
    *,
    batches: Iterable[Any] | Callable[[], Iterable[Any]],
    with_batch: Callable[[AbstractProblem, Any], AbstractProblem] | None = None,
) -> Params:
    r"""Hessian-vector product $Hv = \sum_b (N_b/N) H_b v$ over data given as batches (one
    pass; see `batched_operator` for `batches` and `with_batch`). `v` and the result are
    pytrees like `params`."""
    op = batched_operator(problem, params, batches=batches, with_batch=with_batch)
    check_params_tree("v", v, params)
    check_finite("v", v)
    return op.tree_matvec(v)
