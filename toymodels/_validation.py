"""Input checks shared by the whole package.

Every check raises ``ValueError`` (or ``TypeError``) whose message starts with the
name of the offending argument, so that a user sees at once which input is wrong.
These run eagerly on concrete arrays; under ``jax.jit`` tracing (abstract values)
the value checks are skipped and only shape/dtype checks apply.
"""

import enum
from collections.abc import Sequence
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np


E = TypeVar("E", bound=enum.Enum)


def is_concrete(x: Any) -> bool:
    """True when ``x`` holds values (not a tracer inside jit/vmap/grad)."""
    return not isinstance(x, jax.core.Tracer)


def as_float_array(name: str, x: Any, *, ndim: int | Sequence[int] | None = None) -> jax.Array:
    """Convert ``x`` to a floating JAX array and check its rank and finiteness."""
    try:
        arr = jnp.asarray(x)
    except TypeError as err:  # pragma: no cover - message only
        raise TypeError(f"{name}: cannot be converted to an array ({err})") from None
    if not jnp.issubdtype(arr.dtype, jnp.inexact):
        if jnp.issubdtype(arr.dtype, jnp.bool_):
            raise TypeError(f"{name}: expected a floating array, got dtype {arr.dtype}")
        arr = arr.astype(jnp.result_type(float))
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValueError(
                f"{name}: expected an array with {' or '.join(map(str, allowed))} dimension(s), "
                f"got shape {arr.shape}"
            )
    check_finite(name, arr)
    return arr


def check_finite(name: str, tree: Any) -> None:
    """Raise ``ValueError`` naming ``name`` if any leaf of ``tree`` has NaN or inf."""
    for leaf in jax.tree_util.tree_leaves(tree):
        if not is_concrete(leaf):
            continue
        a = np.asarray(leaf)
        if np.issubdtype(a.dtype, np.inexact) and not np.all(np.isfinite(a)):
            bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
            raise ValueError(f"{name}: contains {bad} non-finite value(s) (NaN or inf)")


def as_labels(name: str, labels: Any, *, num_classes: int | None = None) -> jax.Array:
    """Check integer class labels in ``[0, num_classes)``."""
    arr = jnp.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of integer labels, got shape {arr.shape}")
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        if is_concrete(arr) and jnp.issubdtype(arr.dtype, jnp.floating):
            a = np.asarray(arr)
            if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
                raise ValueError(f"{name}: labels must be integers, got non-integer values")
            arr = arr.astype(jnp.int32)
        else:
            raise TypeError(f"{name}: expected integer labels, got dtype {arr.dtype}")
    if is_concrete(arr) and arr.size:
        # on the host: inside a jit trace, jnp operations on a concrete array are traced
        a = np.asarray(arr)
        lo, hi = int(a.min()), int(a.max())
        if lo < 0:
            raise ValueError(f"{name}: labels must be >= 0, found {lo}")
        if num_classes is not None and hi >= num_classes:
            raise ValueError(
                f"{name}: label {hi} out of range for {num_classes} classes (expected 0..{num_classes - 1})"
            )
    return arr


def check_same_length(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Both arrays must have the same number of samples (leading axis)."""
    na, nb = np.shape(a)[0], np.shape(b)[0]
    if na != nb:
        raise ValueError(
            f"{name_b}: has {nb} samples but {name_a} has {na}; the leading axes must match"
        )


def as_enum(name: str, value: Any, enum_type: type[E]) -> E:
    """Accept an enum member or its string value; otherwise a ValueError listing the choices."""
    if isinstance(value, enum_type):
        return value
    if isinstance(value, str):
        for member in enum_type:
            if value.lower() in (str(member.value).lower(), member.name.lower()):
                return member
    choices = ", ".join(repr(m.value) for m in enum_type)
    raise ValueError(f"{name}: unknown value {value!r}; choose one of {choices}")


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> None:
    v = float(value)
    if not np.isfinite(v) or (v < 0 if allow_zero else v <= 0):
        rel = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: must be finite and {rel}, got {value!r}")


def check_params_tree(name: str, params: Any, reference: Any) -> None:
    """``params`` must have the tree structure and leaf shapes of ``reference``."""
    s1 = jax.tree_util.tree_structure(params)
    s2 = jax.tree_util.tree_structure(reference)
    if s1 != s2:
        raise ValueError(f"{name}: tree structure {s1} does not match the expected {s2}")
    for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(reference)):
        if np.shape(a) != np.shape(b):
            raise ValueError(f"{name}: leaf of shape {np.shape(a)} where {np.shape(b)} is expected")


def check_key(name: str, key: Any) -> None:
    """``key`` must be a JAX PRNG key (typed, from ``jax.random.key``, or a legacy uint32
    ``(2,)`` key from ``jax.random.PRNGKey``); ``None`` and plain integers are refused."""
    if key is None:
        raise TypeError(f"{name}: a PRNG key is required (jax.random.key(seed)); got None")
    if isinstance(key, bool | int | float | np.integer | np.floating):
        raise TypeError(
            f"{name}: expected a PRNG key from jax.random.key(seed), got the number {key!r}"
        )
    dtype = getattr(key, "dtype", None)
    if dtype is None:
        raise TypeError(f"{name}: expected a PRNG key from jax.random.key(seed), got {key!r}")
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return
    if dtype == jnp.uint32 and np.shape(key)[-1:] == (2,):
        return
    raise TypeError(f"{name}: expected a PRNG key from jax.random.key(seed), got {key!r}")


def check_learning_rate(name: str, value: Any) -> None:
    """A learning rate (a number or an array of them) must be finite and > 0: a negative one
    would run gradient ascent, zero would not move. Skipped for traced values (under jit the
    check belongs to the caller that had the number)."""
    if value is None:
        raise TypeError(f"{name}: a learning rate is required, got None")
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected a positive number, got {value!r}")
    if not is_concrete(value):
        return
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a positive number, got {value!r}") from None
    if a.size == 0:
        raise ValueError(f"{name}: no learning rate given (empty array)")
    bad = ~(np.isfinite(a) & (a > 0))
    if np.any(bad):
        first = a.reshape(-1)[np.argmax(bad.reshape(-1))]
        what = f"got {value!r}" if a.ndim == 0 else f"got {float(first):g} among {a.size} values"
        raise ValueError(
            f"{name}: must be finite and > 0 (a negative learning rate runs gradient ascent), "
            f"{what}"
        )
