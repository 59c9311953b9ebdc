r"""Lanczos with full reorthogonalisation, and extremal eigenpairs by thick restarts.

The Lanczos process builds an orthonormal basis $q_0, \dots, q_{m-1}$ of the Krylov space
$\mathcal K_m(A, v) = \operatorname{span}\{v, Av, \dots, A^{m-1}v\}$ and the tridiagonal
$T_m = Q^\top A Q$ with diagonal $\alpha_i = q_i^\top A q_i$ and off-diagonal $\beta_i$
(coupling $q_i$ and $q_{i+1}$). Every new vector is Gram–Schmidt orthogonalised against
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
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._validation import as_enum, check_finite, check_key, is_concrete
from ._operator import AbstractOperator, as_operator


class Which(enum.Enum):
    """Which end of the spectrum `eigsh` targets (algebraic order)."""

    LARGEST = "largest"
    SMALLEST = "smallest"


class LanczosResult(eqx.Module):
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
    first cancelled more than half of ‖w‖² (DGKS). Returns the new vector and the removed
    coefficients (`w = Qᵀ c + w_new`)."""
    c1 = Q @ w
    w1 = w - Q.T @ c1
    again = jnp.linalg.norm(w1) < _DGKS * jnp.linalg.norm(w)

    def second():
        c2 = Q @ w1
        return w1 - Q.T @ c2, c1 + c2

    return jax.lax.cond(again, second, lambda: (w1, c1))


_DGKS = 0.7071067811865476  # 1/√2


def _step_fn(op: AbstractOperator, breakdown_tol, n: int, dtype):
    """One Lanczos/Arnoldi step with full reorthogonalisation, shared by `lanczos` (SLQ)
    and `eigsh`: `step(i, Q, q, q_prev, b_prev, anorm, key)` with `Q` holding the orthonormal
    rows 0..i (q = Q[i]) and zeros below. It writes q_{i+1} into row i+1 and returns
    `(Q, A q_i, q_{i+1}, alpha_i, beta_i, h_i, anorm)`, where `h_i = Q A q_i` is the
    projected column (rows 0..i) and beta_i = 0 at a breakdown (then q_{i+1} is a fresh
    random unit vector orthogonal to Q drawn from `fold_in(key, i)`, or 0 once the space
    is exhausted).

    The current and previous vectors travel in the loop carry: reading them back from `Q`
    (which the step also updates in place) makes XLA copy the whole basis every step."""
    eps = jnp.finfo(dtype).eps

    def restart_vector(i, Q, key):
        r = jr.normal(jr.fold_in(key, i), (n,), dtype)
        r0 = jnp.linalg.norm(r)
        r = _orthogonalise(Q, r)
        rn = jnp.linalg.norm(r)
        ok = (rn > jnp.sqrt(eps) * r0) & (i + 1 < n)
        return jnp.where(ok, r / jnp.where(ok, rn, 1.0), 0.0)

    def step(i, Q, q, q_prev, b_prev, anorm, key):
        aq = op.matvec(q).astype(dtype)
        a = jnp.vdot(q, aq)
        anorm = jnp.maximum(anorm, jnp.linalg.norm(aq))
        # local three-term step (b_prev = 0 at the first step of a cycle: after a thick
        # restart q_{i-1} is a Ritz vector, coupled through the full pass instead), then
        # the full pass(es)
        w, c = _reorthogonalise(Q, aq - a * q - b_prev * q_prev)
        rows = jnp.arange(Q.shape[0])
        h = c + jnp.where(rows == i, a, 0.0) + jnp.where(rows == i - 1, b_prev, 0.0)
        b = jnp.linalg.norm(w)
        broke = (b <= breakdown_tol * anorm) | (i + 1 >= n)
        qn = jax.lax.cond(
            broke, lambda: restart_vector(i, Q, key), lambda: w / jnp.where(broke, 1.0, b)
        )
        b = jnp.where(broke, 0.0, b)
        Q = Q.at[i + 1].set(qn)
        return Q, aq, qn, a, b, h, anorm

    return step


def _expand(op: AbstractOperator, Q, start, stop, key, breakdown_tol):
    """Lanczos steps i = start..stop−1 (`Q` has stop+1 rows: rows < start orthonormal,
    row `start` the next unit vector, zeros below). Returns Q, the diagonal (q_i·A q_i)
    and the couplings β_i = ‖w_i‖ (0 at breakdown)."""
    n, m, dtype = Q.shape[1], Q.shape[0] - 1, Q.dtype
    step = _step_fn(op, breakdown_tol, n, dtype)

    def body(i, carry):
        Q, q, q_prev, b_prev, alpha, beta, anorm = carry
        Q, _, qn, a, b, _, anorm = step(i, Q, q, q_prev, b_prev, anorm, key)
        return Q, qn, q, b, alpha.at[i].set(a), beta.at[i].set(b), anorm

    zero = jnp.zeros((), dtype)
    init = (Q, Q[start], jnp.zeros((n,), dtype), zero, jnp.zeros((m,), dtype),
            jnp.zeros((m,), dtype), zero)  # fmt: skip
    Q, _, _, _, alpha, beta, _ = jax.lax.fori_loop(start, stop, body, init)
    return Q, alpha, beta


def _lanczos_impl(op, v0, key, num_steps, breakdown_tol):
    n = op.shape[0]
    dtype = v0.dtype
    nrm = jnp.linalg.norm(v0)
    Q = jnp.zeros((num_steps + 1, n), dtype).at[0].set(v0 / nrm)
    Q, alpha, beta = _expand(op, Q, 0, num_steps, key, breakdown_tol)
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
    key: PRNGKeyArray,
    breakdown_tol: float | None = None,
) -> LanczosResult:
    r"""`num_steps` Lanczos steps from `v0` with full reorthogonalisation (jitted).

    Returns a `LanczosResult`: `basis` $Q$ (rows), tridiagonal `alpha`, `beta`, so that
    $Q A Q^\top = T$ and $v_0^\top A^j v_0 = \lVert v_0\rVert^2 (T^j)_{11}$ for
    $j \le 2m-1$. `key` (required) draws restart vectors after a breakdown (the result does
    not depend on it unless a breakdown happens). `breakdown_tol` is relative
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
    check_key("key", key)
    tol = _default_tol(dtype) if breakdown_tol is None else float(breakdown_tol)
    return _lanczos_jit(op, v0, key, num_steps, jnp.asarray(tol, dtype))


def _eigsh_impl(op, Q0, key, k, m, keep, largest, tol, max_restarts, breakdown_tol):
    n = op.shape[0]
    dtype = Q0.dtype
    rows = jnp.arange(m)
    # the wanted end sorts first under `order`; blank (unfilled) positions of the projected
    # matrix get a diagonal sentinel beyond the other end, so they never mix in
    sign = jnp.where(largest, 1.0, -1.0).astype(dtype)
    step = _step_fn(op, breakdown_tol, n, dtype)

    def ritz_of(H, j):
        filled = rows < j
        big = 2 * jnp.max(jnp.abs(H)) + 1
        Hm = jnp.where(filled[:, None] & filled[None, :], H, 0.0)
        Hm = Hm + jnp.diag(jnp.where(filled, 0.0, -sign * big))
        theta, S = jnp.linalg.eigh(0.5 * (Hm + Hm.T))
        order = jnp.argsort(-sign * theta)  # traced: one compile for both ends
        theta, S = theta[order], S[:, order]
        scale = jnp.maximum(
            jnp.max(jnp.where(rows < j, jnp.abs(theta), 0.0)), jnp.finfo(dtype).tiny
        )
        return theta, S, scale

    def expand(Q, AQ, H, start, allow_exit, key):
        """Steps start.. until the basis is full, or (if `allow_exit`) until the residual
        estimates |β_j s_j| of the wanted Ritz pairs pass `tol` (confirmed afterwards on
        the true residuals)."""

        def cond(c):
            return (c[0] < m) & ~c[-1]

        def body(c):
            i, Q, AQ, H, q, q_prev, b_prev, anorm, broke, _ = c
            Q, aq, qn, _, b, h, anorm = step(i, Q, q, q_prev, b_prev, anorm, key)
            AQ = AQ.at[i].set(aq)
            h = h[:m]
            H = H.at[:, i].set(h).at[i, :].set(h)
            theta, S, scale = ritz_of(H, i + 1)
            est = jnp.abs(b) * jnp.abs(S[i, :k])
            # after a breakdown (an invariant subspace: exact but maybe not the extremal
            # pairs, e.g. a missing copy of a repeated eigenvalue) fill the cycle as usual
            broke = broke | (b == 0)
            done = allow_exit & ~broke & (i + 1 > k) & jnp.all(est <= tol * scale)
            return i + 1, Q, AQ, H, qn, q, b, anorm, broke, done

        zero = jnp.zeros((), dtype)
        false = jnp.asarray(False)
        init = (start, Q, AQ, H, Q[start], jnp.zeros((n,), dtype), zero, zero, false, false)
        j, Q, AQ, H, *_ = jax.lax.while_loop(cond, body, init)
        return j, Q, AQ, H

    def ritz(Q, AQ, j):
        """Rayleigh–Ritz on the filled rows (< j), from the stored products A q_i (the
        projected matrix is formed afresh here, not taken from the step-wise estimate,
        which only decides when to look)."""
        filled = (rows < j)[:, None]
        Qf, AQf = jnp.where(filled, Q[:m], 0.0), jnp.where(filled, AQ, 0.0)
        theta, S, scale = ritz_of(Qf @ AQf.T, j)
        Y = S.T @ Qf
        AY = S.T @ AQf
        res = jnp.linalg.norm(AY - theta[:, None] * Y, axis=1)
        return theta, Y, AY, res, scale

    def cycle(carry):
        Q, AQ, H, start, restarts, allow_exit, nmv, *_ = carry
        # restart vectors after a breakdown: a fresh key per cycle (step i recurs)
        j, Q, AQ, H = expand(Q, AQ, H, start, allow_exit, jr.fold_in(key, nmv))
        nmv = nmv + (j - start)
        theta, Y, AY, res, scale = ritz(Q, AQ, j)
        conv = (j > k) & jnp.all(res[:k] <= tol * scale)
        full = j >= m
        # after a full cycle: thick restart keeping the best `keep` Ritz vectors and the
        # residual direction; after an early stop the true residuals did not confirm: go
        # on filling the same basis, without early stops until the next restart
        restart = full & ~conv

        def do_restart():
            Qn = jnp.zeros_like(Q).at[:keep].set(Y[:keep]).at[keep].set(Q[m])
            AQn = jnp.zeros_like(AQ).at[:keep].set(AY[:keep])
            Hn = jnp.diag(jnp.where(rows < keep, theta, 0.0))
            return Qn, AQn, Hn

        Q, AQ, H = jax.lax.cond(restart, do_restart, lambda: (Q, AQ, H))
        start = jnp.where(restart, keep, j)
        restarts = restarts + restart.astype(restarts.dtype)
        return (Q, AQ, H, start, restarts, restart, nmv, theta[:k], Y[:k], res[:k], conv)

    def cond(carry):
        restarts, conv = carry[4], carry[-1]
        return (~conv) & (restarts <= max_restarts)

    init = (
        Q0,
        jnp.zeros((m, n), dtype),
        jnp.zeros((m, m), dtype),
        jnp.asarray(0),
        jnp.asarray(0),
        jnp.asarray(True),
        jnp.asarray(0),
        jnp.zeros((k,), dtype),
        jnp.zeros((k, n), dtype),
        jnp.full((k,), jnp.inf, dtype),
        jnp.asarray(False),
    )
    out = jax.lax.while_loop(cond, cycle, init)
    restarts, nmv, theta, Y, res, conv = out[4], out[6], out[7], out[8], out[9], out[10]
    return theta, Y.T, res, restarts, conv, nmv


_eigsh_jit = eqx.filter_jit(_eigsh_impl)


def eigsh(
    op: Any,
    k: int = 1,
    *,
    which: Which | Literal["largest", "smallest"] = "largest",
    key: PRNGKeyArray,
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
    restarts (a `RuntimeWarning` then, unless `warn=False`). The test runs after every
    step, not only at the end of a cycle: the cheap estimate $|\beta_j s_{j,i}|$ (last
    coupling times the last component of the Ritz vector in the basis) triggers it and the
    true residuals confirm it, so a good warm start stops after a few products.

    With `which="smallest"` the most negative eigenvalues come first: their count below 0 is
    the saddle index. `v0` warm-starts: a vector, or a matrix `(n, j)` of earlier
    eigenvectors (e.g. from the previous point of a trajectory; Lanczos then starts from
    the sum of the normalised columns, whose first j Krylov vectors nearly span them).

    `key` (required) draws the start vector when `v0` is not given and the restart vectors
    after a breakdown.

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
    check_key("key", key)
    key, kv = jr.split(key)
    Q0 = jnp.zeros((m + 1, n), dtype)
    if v0 is None:
        v0 = jr.normal(kv, (n,), dtype)
    v0 = jnp.asarray(v0, dtype)
    check_finite("v0", v0)
    if v0.ndim == 1:
        if v0.shape != (n,):
            raise ValueError(f"v0: expected shape ({n},) or ({n}, j), got {v0.shape}")
    elif v0.ndim == 2 and v0.shape[0] == n and 1 <= v0.shape[1] < m:
        # earlier eigenvectors: Lanczos from the sum of the (normalised) columns; near
        # eigenvectors span the first j Krylov vectors almost exactly
        v0 = jnp.sum(v0 / jnp.linalg.norm(v0, axis=0), axis=1)
    else:
        raise ValueError(f"v0: expected shape ({n},) or ({n}, j) with j < {m}, got {v0.shape}")
    if is_concrete(v0) and not float(jnp.linalg.norm(v0)) > 0.0:
        raise ValueError("v0: the start vector (or the sum of the columns) is zero")
    Q0 = Q0.at[0].set(v0 / jnp.linalg.norm(v0))
    bt = _default_tol(dtype) if breakdown_tol is None else float(breakdown_tol)
    keep = min(m - 1, k + max((m - k) // 2, 1)) if m < n else m - 1
    restarts = 0 if m == n else int(max_restarts)
    # numbers that may change between calls are passed as arrays (no recompilation)
    theta, Y, res, restarts_done, conv, num_matvecs = _eigsh_jit(
        op,
        Q0,
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
            f"eigsh: not converged to tol={tol:g} after {int(restarts_done)} restarts "
            f"(residuals {np.asarray(res)}); raise num_steps or max_restarts",
            RuntimeWarning,
            stacklevel=2,
        )
    if return_info:
        info = {
            "restarts": jnp.minimum(restarts_done, restarts),
            "converged": conv,
            "num_matvecs": num_matvecs,
        }
        return theta, Y, res, info
    return theta, Y, res
