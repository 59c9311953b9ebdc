r"""Representation similarity: linear CKA (Kornblith et al. 2019), as used by Yang et al.
(2021) on two models' outputs."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import Params, Scalar
from .._validation import as_float_array, check_finite, check_same_length, is_concrete


def linear_cka(x: Float[ArrayLike, "n p"], y: Float[ArrayLike, "n q"]) -> Scalar:
    r"""Linear centred kernel alignment of two feature matrices with the same `n` samples:

    $$\mathrm{CKA}(X, Y) = \frac{\langle HKH, HLH\rangle_F}{\lVert HKH\rVert_F\,\lVert
    HLH\rVert_F},\quad K = XX^\top,\ L = YY^\top,\ H = I - \tfrac1n\mathbf 1\mathbf 1^\top,$$

    computed in feature space as $\lVert \bar Y^\top\bar X\rVert_F^2 / (\lVert\bar X^\top\bar
    X\rVert_F\lVert\bar Y^\top\bar Y\rVert_F)$ with column-centred $\bar X, \bar Y$ (equal to
    the Gram form; cost $O(n(p+q)^2)$ instead of $O(n^2)$ memory). Features of more than 2
    axes are flattened after the sample axis. Values lie in $[0, 1]$; 1 for identical
    features, invariant to orthogonal transforms and isotropic scaling of either argument.
    """
    x = _features("x", x)
    y = _features("y", y)
    check_same_length("x", x, "y", y)
    if x.shape[0] < 2:
        raise ValueError(f"x: needs at least 2 samples, got {x.shape[0]}")
    for name, a in (("x", x), ("y", y)):
        if is_concrete(a) and not np.any(np.ptp(np.asarray(a), axis=0) != 0):
            raise ValueError(f"{name}: the features are constant over samples; CKA is undefined")
    return _cka(x, y)


@jax.jit
def _cka(x, y):
    dtype = jnp.result_type(x, y)
    x = x.astype(dtype) - jnp.mean(x, axis=0).astype(dtype)
    y = y.astype(dtype) - jnp.mean(y, axis=0).astype(dtype)
    num = jnp.sum((y.T @ x) ** 2)
    return num / (jnp.linalg.norm(x.T @ x) * jnp.linalg.norm(y.T @ y))


def _features(name: str, a: Any) -> Array:
    arr = as_float_array(name, a)
    if arr.ndim < 2:
        raise ValueError(
            f"{name}: expected features of shape (samples, features...), got shape {arr.shape}"
        )
    return arr.reshape(arr.shape[0], -1)


def model_cka(
    problem: Any,
    params_a: Params,
    params_b: Params,
    *,
    x: Float[ArrayLike, "n d"] | None = None,
    softmax: bool = False,
) -> Scalar:
    """Linear CKA between the outputs of two models of a supervised `problem` on inputs `x`
    (default: the problem's own inputs); `softmax=True` compares softmax probabilities (Yang
    et al.'s choice) instead of logits."""
    if not hasattr(problem, "apply"):
        raise TypeError("problem: model_cka needs a supervised problem with `apply(params, x)`")
    from ._directions import check_like

    check_like("params_b", params_b, params_a)
    check_finite("params_a", params_a)
    check_finite("params_b", params_b)
    x = problem.x if x is None else as_float_array("x", x, ndim=2)
    fa, fb = _outputs(problem, params_a, params_b, x)
    for name, f in (("params_a", fa), ("params_b", fb)):
        if is_concrete(f) and not np.all(np.isfinite(np.asarray(f))):
            raise ValueError(
                f"{name}: the model's outputs at these params are non-finite (NaN or inf); "
                "CKA is undefined"
            )
    if fa.ndim == 1:
        fa, fb = fa[:, None], fb[:, None]
    if softmax:
        fa, fb = jax.nn.softmax(fa, axis=-1), jax.nn.softmax(fb, axis=-1)
    return linear_cka(fa, fb)


@eqx.filter_jit
def _outputs(problem, params_a, params_b, x):
    return problem.apply(params_a, x), problem.apply(params_b, x)
