r"""Lanczos with full reorthogonalisation, and extremal eigenpairs by thick restarts.

The Lanczos process builds an orthonormal basis $q_0, \dots, q_{m-1}$ of the Krylov space
$\mathcal K_m(A, v) = \operatorname{span}\{v, Av, \dots, A^{m-1}v\}$ and the tridiagonal
$T_m = Q^\top A Q$ with diagonal $\alpha_i = q_i^\top A q_i$ and off-diagonal $\beta_i$
(coupling $q_i$ and $q_{i+1}$). Every new vector is Gram–Schmidt orthogonalised twice against
*all* previous ones ("full reorthogonalisation", as in Ghorbani et al. 2019 and PyHessian):
after the local three-term step $w \leftarrow Aq_i - \alpha_i q_i - \beta_{i-1}q_{i-1}$ one
classical Gram–Schmidt pass against the whole basis, and a second pass only when the first
removed more than half of $\lVert w\rVert^2$ (the Daniel–Gragg–Kaufman–Stewart criterion,
$\lVert w'\rVert < \lVert w\rVert/\sqrt2$). Each pass streams the $m\times n$ basis through
memory twice, which for large $n$ costs as much as a Hessian-vector product, so the second
pass is kept for the steps that need it (cancellation, near breakdown, after a restart).

**Breakdown.** When the Krylov space is invariant ($\beta_i \le$ `breakdown_tol`$\cdot\lVert A\rVert$)
the process does not divide by zero: it sets $\beta_i = 0$ and continues with a fresh random
vector orthogonal to the basis. $T_m$ is then block diagonal; the blocks after the first have
zero weight in the Gauss quadrature (the first components of their eigenvectors vanish) and,
for eigenvalue problems, they explore the rest of the space. If the whole space is exhausted
($i + 1 = n$) the next vector is zero.

This is the one place where the Lanczos recurrence lives; `matfree.decomp.tridiag_sym` is
used in the tests as an independent reference (it divides by the norm and returns NaN on
breakdown, which is why the recurrence is not delegated to it).
"""

import enum
import warnings
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._validation import as_enum, check_finite, is_concrete
from ._operator import AbstractOperator, as_operator


class Which(enum.Enum):
    """Which end of the spectrum `eigsh` targets (algebraic order)."""

    LARGEST = "largest"
    SMALLEST = "smallest"


class LanczosResult(NamedTuple):
    """Output of `lanczos`: `basis` (m, n) with orthonormal rows, the tridiagonal's `alpha`
    (m,) and `beta` (m − 1,), the residual coupling `residual_beta` (β_{m−1}, scalar) and the
    `norm` of the start vector."""

    basis: Float[Array, "m n"]
    alpha: Float[Array, " m"]
    beta: Float[Array, " m1"]
    residual_beta: Float[Array, ""]
    norm: Float[Array, ""]

    def tridiagonal(self) -> Float[Array, "m m"]:
        """The dense tridiagonal $T_m$."""
        return jnp.diag(self.alpha) + jnp.diag(self.beta, 1) + jnp.diag(self.beta, -1)


def _default_tol(dtype) -> float:
    return float(jnp.finfo(dtype).eps ** 0.75)


def _gs_pass(Q, w):
    return w - Q.T @ (Q @ w)


def _orthogonalise(Q, w):
    return _gs_pass(Q, _gs_pass(Q, w))


def _reorthogonalise(Q, w):
    """One classical Gram–Schmidt pass against the rows of `Q`, and a second one if the
    first cancelled more than half of ‖w‖² (DGKS)."""
    w1 = _gs_pass(Q, w)
    again = jnp.linalg.norm(w1) < _DGKS * jnp.linalg.norm(w)
    return jax.lax.cond(again, lambda: _gs_pass(Q, w1), lambda: w1)


_DGKS = 0.7071067811865476  # 1/√2


def _expand(op: AbstractOperator, Q, AQ, start, stop, key, breakdown_tol):
    """Lanczos/Arnoldi steps i = start..stop−1 with full reorthogonalisation.

    `Q` has stop+1 rows: rows < start are orthonormal, row `start` is the next unit vector,
    rows > start are zero. `AQ` (stop rows, or None) stores A q_i. Returns Q, AQ, the
    diagonal (q_i·A q_i) and the couplings β_i = ‖w_i‖ (0 at breakdown).

    The current and previous vectors travel in the loop carry: reading them back from `Q`
    (which the step also updates in place) makes XLA copy the whole basis every step."""
    n = Q.shape[1]
    m = Q.shape[0] - 1
    dtype = Q.dtype
    eps = jnp.finfo(dtype).eps

    def restart_vector(i, Q):
        r = jr.normal(jr.fold_in(key, i), (n,), dtype)
        r0 = jnp.linalg.norm(r)
        r = _orthogonalise(Q, r)
        rn = jnp.linalg.norm(r)
        ok = (rn > jnp.sqrt(eps) * r0) & (i + 1 < n)
        return jnp.where(ok, r / jnp.where(ok, rn, 1.0), 0.0)

    def body(i, carry):
        Q, AQ, q, q_prev, b_prev, alpha, beta, anorm = carry
        w = op.matvec(q).astype(dtype)
        if AQ is not None:
            AQ = AQ.at[i].set(w)
        a = jnp.vdot(q, w)
        anorm = jnp.maximum(anorm, jnp.linalg.norm(w))
        # local three-term step (b_prev = 0 at `start`: after a thick restart q_{i-1} is a
        # Ritz vector, coupled through the full pass instead), then the full pass(es)
        w = _reorthogonalise(Q, w - a * q - b_prev * q_prev)
        b = jnp.linalg.norm(w)
        broke = (b <= breakdown_tol * anorm) | (i + 1 >= n)
        qn = jax.lax.cond(broke, lambda: restart_vector(i, Q), lambda: w / jnp.where(broke, 1.0, b))
        b = jnp.where(broke, 0.0, b)
        Q = Q.at[i + 1].set(qn)
        alpha = alpha.at[i].set(a)
        beta = beta.at[i].set(b)
        return Q, AQ, qn, q, b, alpha, beta, anorm

    zero = jnp.zeros((), dtype)
    init = (Q, AQ, Q[start], jnp.zeros((n,), dtype), zero, jnp.zeros((m,), dtype),
            jnp.zeros((m,), dtype), zero)  # fmt: skip
    Q, AQ, _, _, _, alpha, beta, _ = jax.lax.fori_loop(start, stop, body, init)
    return Q, AQ, alpha, beta


def _lanczos_impl(op, v0, key, num_steps, breakdown_tol):
    n = op.shape[0]
    dtype = v0.dtype
    nrm = jnp.linalg.norm(v0)
    Q = jnp.zeros((num_steps + 1, n), dtype).at[0].set(v0 / nrm)
    Q, _, alpha, beta = _expand(op, Q, None, 0, num_steps, key, breakdown_tol)
    return LanczosResult(Q[:num_steps], alpha, beta[:-1], beta[-1], nrm)


_lanczos_jit = eqx.filter_jit(_lanczos_impl)


def _check_steps(name, num_steps, n):
    if isinstance(num_steps, bool) or not isinstance(num_steps, int | np.integer):
        raise TypeError(f"{name}: expected an int, got {num_steps!r}")
    if num_steps < 1 or num_steps > n:
        raise ValueError(f"{name}: must be between 1 and the dimension {n}, got {num_steps}")
    return int(num_steps)


def _dtype_of(op) -> Any:
    dt = jnp.dtype(op.dtype)
    return dt if jnp.issubdtype(dt, jnp.floating) else jnp.dtype(jnp.result_type(float))


def lanczos(
    op: Any,
    v0: Float[Array, " n"],
    num_steps: int,
    *,
    key: PRNGKeyArray | None = None,
    breakdown_tol: float | None = None,
) -> LanczosResult:
    r"""`num_steps` Lanczos steps from `v0` with full reorthogonalisation (jitted).

    Returns a `LanczosResult`: `basis` $Q$ (rows), tridiagonal `alpha`, `beta`, so that
    $Q A Q^\top = T$ and $v_0^\top A^j v_0 = \lVert v_0\rVert^2 (T^j)_{11}$ for
    $j \le 2m-1$. `key` draws restart vectors after a breakdown (default: a fixed key; the
    result does not depend on it unless a breakdown happens). `breakdown_tol` is relative
    to the largest $\lVert A q_i\rVert$ seen (default $\epsilon^{3/4}$).
    """
    op = as_operator(op)
    n = op.shape[0]
    num_steps = _check_steps("num_steps", num_steps, n)
    dtype = _dtype_of(op)
    v0 = jnp.asarray(v0, dtype)
    if v0.shape != (n,):
        raise ValueError(f"v0: expected shape ({n},), got {v0.shape}")
    check_finite("v0", v0)
    if is_concrete(v0) and float(jnp.linalg.norm(v0)) == 0.0:
        raise ValueError("v0: the start vector is zero")
    key = jr.key(0) if key is None else key
    tol = _default_tol(dtype) if breakdown_tol is None else float(breakdown_tol)
    return _lanczos_jit(op, v0, key, num_steps, jnp.asarray(tol, dtype))


def _eigsh_impl(op, Q0, nstart, key, k, m, keep, largest, tol, max_restarts, breakdown_tol):
    n = op.shape[0]
    dtype = Q0.dtype

    # A-images of a warm-start block (rows < nstart; no matvecs when nstart = 0)
    AQ0 = jax.lax.fori_loop(
        0,
        nstart,
        lambda i, aq: aq.at[i].set(op.matvec(Q0[i]).astype(dtype)),
        jnp.zeros((m, n), dtype),
    )

    def ritz(Q, AQ):
        H = Q[:m] @ AQ.T
        H = 0.5 * (H + H.T)
        theta, S = jnp.linalg.eigh(H)
        order = jnp.argsort(jnp.where(largest, -theta, theta))  # traced: one compile for both
        theta, S = theta[order], S[:, order]
        Y = S.T @ Q[:m]
        AY = S.T @ AQ
        res = jnp.linalg.norm(AY - theta[:, None] * Y, axis=1)
        return theta, Y, AY, res

    def cycle(carry):
        Q, AQ, start, it, key, *_ = carry
        key, sub = jr.split(key)
        Q, AQ, _, _ = _expand(op, Q, AQ, start, m, sub, breakdown_tol)
        theta, Y, AY, res = ritz(Q, AQ)
        scale = jnp.maximum(jnp.max(jnp.abs(theta)), jnp.finfo(dtype).tiny)
        conv = jnp.all(res[:k] <= tol * scale)
        Qn = jnp.zeros_like(Q).at[:keep].set(Y[:keep]).at[keep].set(Q[m])
        AQn = jnp.zeros_like(AQ).at[:keep].set(AY[:keep])
        return Qn, AQn, jnp.asarray(keep), it + 1, key, theta[:k], Y[:k], res[:k], conv

    def cond(carry):
        it, conv = carry[3], carry[-1]
        return (~conv) & (it <= max_restarts)

    init = (
        Q0,
        AQ0,
        jnp.asarray(nstart),
        jnp.asarray(0),
        key,
        jnp.zeros((k,), dtype),
        jnp.zeros((k, n), dtype),
        jnp.full((k,), jnp.inf, dtype),
        jnp.asarray(False),
    )
    out = jax.lax.while_loop(cond, cycle, init)
    _, _, _, it, _, theta, Y, res, conv = out
    return theta, Y.T, res, it, conv


_eigsh_jit = eqx.filter_jit(_eigsh_impl)


def eigsh(
    op: Any,
    k: int = 1,
    *,
    which: Which | Literal["largest", "smallest"] = "largest",
    key: PRNGKeyArray | None = None,
    tol: float | None = None,
    v0: Float[Array, "n ..."] | None = None,
    num_steps: int | None = None,
    max_restarts: int = 100,
    breakdown_tol: float | None = None,
    return_info: bool = False,
    warn: bool = True,
):
    r"""The `k` largest or smallest (algebraic) eigenpairs of a symmetric operator.

    Thick-restart Lanczos with full reorthogonalisation: a Krylov basis of `num_steps`
    vectors (default $\min(n, \max(2k + 20, 30))$), Rayleigh–Ritz on it
    ($H = Q A Q^\top$ from stored products $A q_i$), then a restart that keeps the best
    $\ell = k + (m-k)/2$ Ritz vectors and continues from the residual direction
    (Krylov–Schur). Stops when every wanted residual
    $\lVert A y_i - \theta_i y_i\rVert \le \text{tol}\cdot\max_j|\theta_j|$
    (default tol $=\sqrt\epsilon$: $1.5\times10^{-8}$ in float64) or after `max_restarts`
    restarts (a `RuntimeWarning` then, unless `warn=False`).

    With `which="smallest"` the most negative eigenvalues come first: their count below 0 is
    the saddle index. `v0` warm-starts: a vector, or a matrix `(n, j)` of earlier
    eigenvectors (e.g. from the previous point of a trajectory).

    Returns `(eigenvalues (k,), eigenvectors (n, k), residual_norms (k,))`, ordered from the
    requested end; with `return_info=True` a fourth item `{"restarts", "converged",
    "num_matvecs"}`.
    """
    op = as_operator(op)
    n = op.shape[0]
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"k: expected an int, got {k!r}")
    if k < 1 or k > n:
        raise ValueError(f"k: must be between 1 and the dimension {n}, got {k}")
    which = as_enum("which", which, Which)
    dtype = _dtype_of(op)
    if num_steps is None:
        m = min(n, max(2 * k + 20, 30))
    else:
        m = _check_steps("num_steps", num_steps, n)
        if m <= k and m < n:
            raise ValueError(f"num_steps: must exceed k={k} (or equal the dimension {n})")
    tol = float(np.sqrt(np.finfo(dtype).eps)) if tol is None else float(tol)
    if not tol > 0:
        raise ValueError(f"tol: must be > 0, got {tol}")
    if int(max_restarts) < 0:
        raise ValueError(f"max_restarts: must be >= 0, got {max_restarts}")
    key = jr.key(0) if key is None else key
    key, kv = jr.split(key)
    Q0 = jnp.zeros((m + 1, n), dtype)
    if v0 is None:
        v0 = jr.normal(kv, (n,), dtype)
    v0 = jnp.asarray(v0, dtype)
    check_finite("v0", v0)
    if v0.ndim == 1:
        if v0.shape != (n,):
            raise ValueError(f"v0: expected shape ({n},) or ({n}, j), got {v0.shape}")
        Q0 = Q0.at[0].set(v0 / jnp.linalg.norm(v0))
        nstart = 0
    elif v0.ndim == 2 and v0.shape[0] == n and 1 <= v0.shape[1] < m:
        j = v0.shape[1]
        qb, _ = jnp.linalg.qr(v0)
        r = jr.normal(kv, (n,), dtype)
        r = _orthogonalise(qb.T, r)
        Q0 = Q0.at[:j].set(qb.T).at[j].set(r / jnp.linalg.norm(r))
        nstart = j
    else:
        raise ValueError(f"v0: expected shape ({n},) or ({n}, j) with j < {m}, got {v0.shape}")
    bt = _default_tol(dtype) if breakdown_tol is None else float(breakdown_tol)
    keep = min(m - 1, k + max((m - k) // 2, 1)) if m < n else m - 1
    restarts = 0 if m == n else int(max_restarts)
    # numbers that may change between calls are passed as arrays (no recompilation)
    theta, Y, res, it, conv = _eigsh_jit(
        op,
        Q0,
        jnp.asarray(nstart),
        key,
        k,
        m,
        keep,
        jnp.asarray(which is Which.LARGEST),
        jnp.asarray(tol, dtype),
        jnp.asarray(restarts),
        jnp.asarray(bt, dtype),
    )
    if m == n:
        conv = jnp.asarray(True)
    if warn and is_concrete(conv) and not bool(conv):
        warnings.warn(
            f"eigsh: not converged to tol={tol:g} after {int(it)} cycles "
            f"(residuals {np.asarray(res)}); raise num_steps or max_restarts",
            RuntimeWarning,
            stacklevel=2,
        )
    if return_info:
        info = {
            "restarts": it - 1,
            "converged": conv,
            "num_matvecs": nstart + m + (it - 1) * (m - keep),
        }
        return theta, Y, res, info
    return theta, Y, res
