r"""Spectral measures of a symmetric matrix from traces and random restrictions.

**Wolkowicz–Styan (1980).** For a real symmetric $n\times n$ $A$ with
$m = \operatorname{tr}A/n$ and $s^2 = \operatorname{tr}(A^2)/n - m^2$:
$m + s/\sqrt{n-1} \le \lambda_{\max} \le m + s\sqrt{n-1}$,
$m - s\sqrt{n-1} \le \lambda_{\min} \le m - s/\sqrt{n-1}$,
$2s \le \lambda_{\max} - \lambda_{\min} \le s\sqrt{2n}$.
The upper bound on $\lambda_{\max}$ is attained when the other $n-1$ eigenvalues are equal
(e.g. a rank-1 PSD matrix).

**Goldilocks (Fort & Scherlis 2019).** $\rho = \operatorname{tr}A/\lVert A\rVert_F$ and the
fraction of positive eigenvalues of $P^\top A P$ for a random orthonormal $P$ ($n\times d$).
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._validation import check_finite, check_key
from ._batching import dtype_of, filter_jit, probe_batch_size
from ._operator import as_operator
from ._trace import Estimate, _check_probes, matmat_rows


class WolkowiczStyan(eqx.Module):
    """The six Wolkowicz–Styan bounds (see module docstring)."""

    lmax_lower: Array
    lmax_upper: Array
    lmin_lower: Array
    lmin_upper: Array
    spread_lower: Array
    spread_upper: Array


def wolkowicz_styan(trace: Any, trace_sq: Any, n: int) -> WolkowiczStyan:
    r"""Eigenvalue bounds of a symmetric $n\times n$ matrix from $\operatorname{tr}A$ and
    $\operatorname{tr}A^2 = \lVert A\rVert_F^2$ alone (exact or estimated, e.g. by
    `trace` and `frobenius_squared`). $s^2$ is clipped at 0 against rounding."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise ValueError(f"n: expected an int >= 2, got {n!r}")
    t = jnp.asarray(trace)
    t2 = jnp.asarray(trace_sq)
    check_finite("trace", t)
    check_finite("trace_sq", t2)
    m = t / n
    s = jnp.sqrt(jnp.maximum(t2 / n - m**2, 0.0))
    r = np.sqrt(n - 1.0)
    return WolkowiczStyan(
        lmax_lower=m + s / r,
        lmax_upper=m + s * r,
        lmin_lower=m - s * r,
        lmin_upper=m - s / r,
        spread_lower=2 * s,
        spread_upper=s * np.sqrt(2.0 * n),
    )


def trace_frobenius_ratio(op: Any) -> Float[Array, ""]:
    r"""$\rho = \operatorname{tr}A/\lVert A\rVert_F$ computed exactly from the dense matrix
    (for large operators combine `trace` and `frobenius_squared` estimates)."""
    a = as_operator(op).to_dense()
    return jnp.trace(a) / jnp.linalg.norm(a)


@filter_jit
def _restricted(op, key, d, num, batch):
    n = op.shape[0]
    dtype = dtype_of(op)

    def one(k):
        P, _ = jnp.linalg.qr(jr.normal(k, (n, d), dtype))
        AP = matmat_rows(op, P.T, batch)  # (d, n)
        M = AP @ P
        w = jnp.linalg.eigvalsh(0.5 * (M + M.T))
        return jnp.mean((w > 0).astype(dtype))

    return jax.lax.map(one, jr.split(key, num))


def restricted_positive_fraction(
    op: Any, d: int, *, key: PRNGKeyArray, num_subspaces: int = 10
) -> Estimate:
    r"""Fraction of positive eigenvalues of $P^\top A P$ for random orthonormal $P$
    ($n\times d$, Haar), averaged over `num_subspaces` draws: `(mean, stderr)`.

    Fort & Scherlis's Goldilocks measure; compare with
    `toymodels.rmt.goldilocks_positive_fraction(rho, d)`."""
    op = as_operator(op)
    n = op.shape[0]
    if isinstance(d, bool) or not isinstance(d, int | np.integer) or not 1 <= d <= n:
        raise ValueError(f"d: expected an int between 1 and the dimension {n}, got {d!r}")
    num = _check_probes("num_subspaces", num_subspaces, 2)
    check_key("key", key)
    fr = _restricted(op, key, int(d), num, probe_batch_size(op, dtype_of(op)))
    return Estimate(jnp.mean(fr), jnp.std(fr, ddof=1) / jnp.sqrt(num))
