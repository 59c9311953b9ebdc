"""Symmetric linear operators: a dense array or a matrix-free `matvec`, behind one interface.

Every function of `toymodels.linalg` accepts `op` as

- a dense symmetric 2-D array (checked: square, finite, symmetric to rounding);
- an `AbstractOperator` (e.g. `DenseOperator`, `FunctionOperator`,
  `toymodels.landscape.hessian_operator(...)`);
- any object with `.shape == (n, n)` and `.matvec(v)` (wrapped in `ObjectOperator`).

Operators are equinox modules, hence pytrees: the jitted algorithms take them as arguments
and do not recompile when only the arrays inside (params, data, a matrix) change.
"""

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._validation import check_finite, is_concrete


class AbstractOperator(eqx.Module):
    r"""A symmetric linear map $A: \mathbb{R}^n \to \mathbb{R}^n$ given by its action `matvec`."""

    @property
    @abc.abstractmethod
    def shape(self) -> tuple[int, int]: ...

    @property
    @abc.abstractmethod
    def dtype(self) -> Any: ...

    @abc.abstractmethod
    def matvec(self, v: Float[Array, " n"]) -> Float[Array, " n"]:
        """$A v$ for a flat vector `v` of length `n`."""

    def matmat(self, vs: Float[Array, "n k"]) -> Float[Array, "n k"]:
        """$A V$ column by column (vmapped matvec)."""
        return jax.vmap(self.matvec, in_axes=1, out_axes=1)(vs)

    def to_dense(self) -> Float[Array, "n n"]:
        """The dense matrix (n matvecs, jitted; only for small n)."""
        return _to_dense(self)

    def __matmul__(self, v):
        v = jnp.asarray(v)
        return self.matvec(v) if v.ndim == 1 else self.matmat(v)


class DenseOperator(AbstractOperator):
    """A dense symmetric matrix as an operator."""

    matrix: Float[Array, "n n"]

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.matrix.shape)

    @property
    def dtype(self):
        return self.matrix.dtype

    def matvec(self, v):
        return self.matrix @ v

    def matmat(self, vs):
        return self.matrix @ vs

    def to_dense(self):
        return self.matrix


class FunctionOperator(AbstractOperator):
    """An operator from a function `fn(v) -> A v` on flat vectors of length `size`.

    `fn` is a static field: pass the same function object to avoid recompilation (arrays it
    closes over are baked into the compiled code; for changing data prefer a subclass of
    `AbstractOperator` with the data as fields).
    """

    fn: Callable[[Array], Array] = eqx.field(static=True)
    size: int = eqx.field(static=True)
    dtype_: Any = eqx.field(static=True)

    def __init__(self, fn: Callable[[Array], Array], size: int, dtype: Any = None):
        if not callable(fn):
            raise TypeError("fn: expected a function v -> A v")
        if int(size) <= 0:
            raise ValueError(f"size: must be a positive int, got {size!r}")
        self.fn = fn
        self.size = int(size)
        self.dtype_ = jnp.dtype(jnp.result_type(float) if dtype is None else dtype)

    @property
    def shape(self):
        return (self.size, self.size)

    @property
    def dtype(self):
        return self.dtype_

    def matvec(self, v):
        return self.fn(v)


class ObjectOperator(AbstractOperator):
    """Wraps any object with `.shape` and `.matvec` (kept as a pytree field)."""

    obj: Any
    size: int = eqx.field(static=True)
    dtype_: Any = eqx.field(static=True)

    @property
    def shape(self):
        return (self.size, self.size)

    @property
    def dtype(self):
        return self.dtype_

    def matvec(self, v):
        return jnp.asarray(self.obj.matvec(v))


def as_operator(op: Any, name: str = "op", *, check_symmetric: bool = True) -> AbstractOperator:
    """Normalise `op` (dense symmetric array, `AbstractOperator`, or an object with `.shape`
    and `.matvec`) to an `AbstractOperator`; raise a ValueError/TypeError naming `name`."""
    if isinstance(op, AbstractOperator):
        n, m = op.shape
        if n != m:
            raise ValueError(f"{name}: operator must be square, got shape {op.shape}")
        return op
    if (
        hasattr(op, "matvec")
        and hasattr(op, "shape")
        and not isinstance(op, jax.Array | np.ndarray)
    ):
        shape = tuple(op.shape)
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"{name}: operator must be square, got shape {shape}")
        dtype = getattr(op, "dtype", None)
        dtype = jnp.dtype(jnp.result_type(float) if dtype is None else dtype)
        return ObjectOperator(obj=op, size=int(shape[0]), dtype_=dtype)
    try:
        a = jnp.asarray(op)
    except TypeError:
        raise TypeError(
            f"{name}: expected a symmetric 2-D array or an operator with .shape and .matvec, "
            f"got {type(op).__name__}"
        ) from None
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name}: expected a square 2-D array, got shape {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name}: empty matrix")
    if not jnp.issubdtype(a.dtype, jnp.floating):
        if jnp.issubdtype(a.dtype, jnp.complexfloating):
            raise TypeError(f"{name}: complex matrices are not supported")
        a = a.astype(jnp.result_type(float))
    check_finite(name, a)
    if check_symmetric and is_concrete(a):
        an = np.asarray(a)
        scale = max(float(np.max(np.abs(an))), np.finfo(an.dtype).tiny)
        asym = float(np.max(np.abs(an - an.T)))
        if asym > 100 * np.finfo(an.dtype).eps * scale * an.shape[0] ** 0.5:
            raise ValueError(
                f"{name}: matrix is not symmetric (max |A - Aᵀ| = {asym:.3g}); "
                "symmetrise it with (A + A.T) / 2"
            )
    return DenseOperator(a)


def dense(op: Any) -> Float[Array, "n n"]:
    """The dense matrix of `op` (n matvecs)."""
    return as_operator(op).to_dense()


@eqx.filter_jit
def _to_dense(op: AbstractOperator):
    return op.matmat(jnp.eye(op.shape[0], dtype=op.dtype))
