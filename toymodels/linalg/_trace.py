r"""Stochastic trace, squared Frobenius norm and diagonal estimators with standard errors.

Hutchinson: for probes $z$ with $E[zz^\top] = I$, $E[z^\top A z] = \operatorname{tr} A$.
The variance of one sample is $2(\lVert A\rVert_F^2 - \sum_i A_{ii}^2)$ for Rademacher and
$2\lVert A\rVert_F^2$ for Gaussian probes; the reported standard error is the sample
standard deviation (ddof = 1) over $\sqrt{\text{num\_probes}}$.

Hutch++ (Meyer, Musco, Musco & Woodruff 2021): a third of the budget sketches the top range
$Q = \operatorname{orth}(A S)$, whose trace $\operatorname{tr}(Q^\top A Q)$ is exact, and
Hutchinson on the deflated $(I - QQ^\top) A (I - QQ^\top)$ covers the rest; the standard
error is that of the Hutchinson part.
"""

import enum
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._validation import as_enum
from ._lanczos import _dtype_of
from ._matfree import Probes, sample_probes
from ._operator import AbstractOperator, DenseOperator, as_operator


class TraceMethod(enum.Enum):
    HUTCHINSON = "hutchinson"
    HUTCHPP = "hutch++"


class Estimate(NamedTuple):
    """A stochastic estimate and its standard error (same shape)."""

    estimate: Array
    stderr: Array


def apply_many(op: AbstractOperator, Z: Float[Array, "k n"], batch_size: int | None):
    """Rows of `Z` mapped through `op`: dense ops in one matmul, others with `lax.map`."""
    if isinstance(op, DenseOperator):
        return Z @ op.matrix.T
    if batch_size is None or batch_size >= Z.shape[0]:
        return jax.vmap(op.matvec)(Z)
    return jax.lax.map(op.matvec, Z, batch_size=batch_size)


def _check_probes(name, num, minimum=1):
    if isinstance(num, bool) or not isinstance(num, int | np.integer):
        raise TypeError(f"{name}: expected an int, got {num!r}")
    if num < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {num}")
    return int(num)


def _mean_sem(s):
    k = s.shape[0]
    mean = jnp.mean(s, axis=0)
    sem = jnp.std(s, axis=0, ddof=1) / jnp.sqrt(k) if k > 1 else jnp.full_like(mean, jnp.inf)
    return mean, sem


@eqx.filter_jit
def _hutchinson(op, key, num, kind, batch_size, what):
    n = op.shape[0]
    Z = sample_probes(key, n, num, _dtype_of(op), kind)
    AZ = apply_many(op, Z, batch_size).astype(Z.dtype)
    if what == "trace":
        s = jnp.sum(Z * AZ, axis=1)
    elif what == "frobenius":
        s = jnp.sum(AZ * AZ, axis=1)
    else:  # diagonal: E[z ⊙ Az] = diag(A) for both probe kinds
        s = Z * AZ
    return _mean_sem(s)


@eqx.filter_jit
def _hutchpp(op, key, num, kind, batch_size):
    n = op.shape[0]
    dtype = _dtype_of(op)
    k1, k2 = jr.split(key)
    m = num // 3
    S = sample_probes(k1, n, m, dtype, kind)
    Q, _ = jnp.linalg.qr(apply_many(op, S, batch_size).T)  # (n, m)
    AQ = apply_many(op, Q.T, batch_size)  # (m, n)
    t_top = jnp.sum(Q.T * AQ)
    G = sample_probes(k2, n, num - 2 * m, dtype, kind)
    G = G - (G @ Q) @ Q.T
    AG = apply_many(op, G, batch_size)
    AG = AG - (AG @ Q) @ Q.T
    s = jnp.sum(G * AG, axis=1)
    mean, sem = _mean_sem(s)
    return t_top + mean, sem


def trace(
    op: Any,
    *,
    num_probes: int,
    key: PRNGKeyArray,
    probes: Probes | str = "rademacher",
    method: TraceMethod | str = "hutchinson",
    batch_size: int | None = None,
) -> Estimate:
    r"""Estimate $\operatorname{tr} A$ with its standard error: `(estimate, stderr)`.

    `method="hutchinson"` (default) uses `num_probes` probes; `"hutch++"` spends the same
    number of matvecs (at least 6) as `num_probes // 3` sketch vectors (applied twice) and
    the rest as deflated Hutchinson probes. `probes`: `"rademacher"` (default) or
    `"gaussian"`. `batch_size` bounds how many matvecs run at once (default: all).
    """
    op = as_operator(op)
    probes = as_enum("probes", probes, Probes)
    method = as_enum("method", method, TraceMethod)
    if method is TraceMethod.HUTCHPP:
        num = _check_probes("num_probes", num_probes, 6)
        return Estimate(*_hutchpp(op, key, num, probes, batch_size))
    num = _check_probes("num_probes", num_probes, 2)
    return Estimate(*_hutchinson(op, key, num, probes, batch_size, "trace"))


def frobenius_squared(
    op: Any,
    *,
    num_probes: int,
    key: PRNGKeyArray,
    probes: Probes | str = "rademacher",
    batch_size: int | None = None,
) -> Estimate:
    r"""Estimate $\lVert A\rVert_F^2 = \operatorname{tr}(A^2) = E\lVert Az\rVert^2$ with its
    standard error."""
    op = as_operator(op)
    probes = as_enum("probes", probes, Probes)
    num = _check_probes("num_probes", num_probes, 2)
    return Estimate(*_hutchinson(op, key, num, probes, batch_size, "frobenius"))


def diagonal(
    op: Any,
    *,
    num_probes: int,
    key: PRNGKeyArray,
    probes: Probes | str = "rademacher",
    batch_size: int | None = None,
) -> Estimate:
    r"""Estimate $\operatorname{diag} A = E[z \odot Az]$ (Bekas et al. 2007) with
    elementwise standard errors. With Rademacher probes the error of entry $i$ comes only
    from the off-diagonal row $\sum_{j\ne i} A_{ij}^2$."""
    op = as_operator(op)
    probes = as_enum("probes", probes, Probes)
    num = _check_probes("num_probes", num_probes, 2)
    return Estimate(*_hutchinson(op, key, num, probes, batch_size, "diagonal"))
