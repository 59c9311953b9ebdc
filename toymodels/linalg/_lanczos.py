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
the process does not divide by zero: it sets $\beta_i = 0$ and continues with a fresh generic
vector orthogonal to the basis (`_batching.generic_vector`: a counter-based hash of the key,
cheap to compile). $T_m$ is then block diagonal; the blocks after the first have
zero weight in the Gauss quadrature (the first components of their eigenvectors vanish) and,
for eigenvalue problems, they explore the rest of the space. If the whole space is exhausted
($i + 1 = n$) the next vector is zero.

This is the one place where the Lanczos recurrence lives; `matfree.decomp.tridiag_sym` is
used in the tests as an independent reference (it divides by the norm and returns NaN on
breakdown, which is why the recurrence is not delegated to it).

**One compiled program per bucket.** The basis is a buffer of `m_max + 1` rows with
`m_max = bucket_fine(m)` (at most a third of padding, capped at $n$); the number of steps
`m`, the number of wanted pairs `k` and the restart size are traced, so `eigsh` with a new
`k` or `num_steps` in the same bucket reuses the compiled program, and so does
`spectral_density` with a new `num_steps` or `num_probes`. Unused rows stay zero (they add
nothing to the Gram–Schmidt passes) and the projected matrices are padded with a sentinel
diagonal beyond the wanted end, so the padded result equals the unpadded one to rounding.
The outputs are cut to `k` (or to `num_probes × num_steps`) on the host, which compiles
nothing.
"""

import enum
import warnings
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._validation import as_enum, check_key, is_concrete
from ._batching import (
    bucket,
    bucket_fine,
    dtype_of,
    filter_jit,
    float_array,
    generic_vector,
    int_array,
    key_seed,
    probe_batch_size,
)
from ._operator import AbstractOperator, DenseOperator, as_operator


class Which(enum.Enum):
    """Which end of the spectrum `eigsh` targets (algebraic order)."""

    LARGEST = "largest"
    SMALLEST = "smallest"


class StopOn(enum.Enum):
    """What `eigsh`'s `tol` bounds: the residual ‖Ay − θy‖ of every wanted pair, or the
    estimated error of every wanted eigenvalue, min(‖r‖, ‖r‖²/δ) (see `eigsh`)."""

    RESIDUAL = "residual"
    EIGENVALUE = "eigenvalue"


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


# kept under its old name for the modules that import it
_dtype_of = dtype_of


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


def _step_fn(op: AbstractOperator, n: int, dtype, seed):
    """One Lanczos/Arnoldi step with full reorthogonalisation, shared by `lanczos` (SLQ)
    and `eigsh`: `step(i, Q, q, q_prev, b_prev, anorm, counter, breakdown_tol)` with `Q`
    holding the orthonormal rows 0..i (q = Q[i]) and zeros below. It writes q_{i+1} into
    row i+1 and returns `(Q, A q_i, q_{i+1}, alpha_i, beta_i, h_i, anorm)`, where
    `h_i = Q A q_i` is the projected column (rows 0..i) and beta_i = 0 at a breakdown (then
    q_{i+1} is a fresh generic unit vector orthogonal to Q, `generic_vector(seed, counter)`,
    or 0 once the space is exhausted). `anorm` (the largest ‖A q_i‖ so far) turns NaN as
    soon as a product is not finite, which the callers use to stop.

    The current and previous vectors travel in the loop carry: reading them back from `Q`
    (which the step also updates in place) makes XLA copy the whole basis every step."""
    eps = jnp.finfo(dtype).eps

    def restart_vector(i, Q, counter):
        r = generic_vector(seed, counter, n, dtype)
        r0 = jnp.linalg.norm(r)
        r = _orthogonalise(Q, r)
        rn = jnp.linalg.norm(r)
        ok = (rn > jnp.sqrt(eps) * r0) & (i + 1 < n)
        return jnp.where(ok, r / jnp.where(ok, rn, 1.0), 0.0)

    def step(i, Q, q, q_prev, b_prev, anorm, counter, breakdown_tol):
        aq = op.matvec(q).astype(dtype)
        a = jnp.vdot(q, aq)
        nrm = jnp.linalg.norm(aq)
        anorm = jnp.where(jnp.isfinite(nrm), jnp.maximum(anorm, nrm), jnp.nan)
        # local three-term step (b_prev = 0 at the first step of a cycle: after a thick
        # restart q_{i-1} is a Ritz vector, coupled through the full pass instead), then
        # the full pass(es)
        w, c = _reorthogonalise(Q, aq - a * q - b_prev * q_prev)
        rows = jnp.arange(Q.shape[0])
        h = c + jnp.where(rows == i, a, 0.0) + jnp.where(rows == i - 1, b_prev, 0.0)
        b = jnp.linalg.norm(w)
        broke = (b <= breakdown_tol * anorm) | (i + 1 >= n)
        qn = jax.lax.cond(
            broke, lambda: restart_vector(i, Q, counter), lambda: w / jnp.where(broke, 1.0, b)
        )
        b = jnp.where(broke, 0.0, b)
        Q = Q.at[i + 1].set(qn)
        return Q, aq, qn, a, b, h, anorm

    return step


def _expand(op: AbstractOperator, Q, start, stop, seed, counter0, breakdown_tol):
    """Lanczos steps i = start..stop−1 (`stop` may be traced; `Q` has m_max + 1 rows:
    rows < start orthonormal, row `start` the next unit vector, zeros below). Returns Q,
    the diagonal (q_i·A q_i), the couplings β_i = ‖w_i‖ (0 at breakdown), both (m_max,)
    and zero beyond `stop`, and the largest ‖A q_i‖ (NaN after a non-finite product)."""
    n, m_max, dtype = Q.shape[1], Q.shape[0] - 1, Q.dtype
    step = _step_fn(op, n, dtype, seed)

    def body(i, carry):
        Q, q, q_prev, b_prev, alpha, beta, anorm = carry
        Q, _, qn, a, b, _, anorm = step(i, Q, q, q_prev, b_prev, anorm, counter0 + i, breakdown_tol)
        return Q, qn, q, b, alpha.at[i].set(a), beta.at[i].set(b), anorm

    zero = jnp.zeros((), dtype)
    init = (Q, Q[start], jnp.zeros((n,), dtype), zero, jnp.zeros((m_max,), dtype),
            jnp.zeros((m_max,), dtype), zero)  # fmt: skip
    Q, _, _, _, alpha, beta, anorm = jax.lax.fori_loop(start, stop, body, init)
    return Q, alpha, beta, anorm


def _lanczos_impl(op, v0, seed, m_max, num_steps, breakdown_tol, counter0=1):
    """`num_steps` (maybe traced, <= the static `m_max`) Lanczos steps from `v0`; returns
    the basis buffer (m_max + 1, n), alpha, beta (m_max,), the start norm and the largest
    ‖A q_i‖."""
    n = op.shape[0]
    dtype = v0.dtype
    nrm = jnp.linalg.norm(v0)
    Q = jnp.zeros((m_max + 1, n), dtype).at[0].set(v0 / nrm)
    Q, alpha, beta, anorm = _expand(op, Q, 0, num_steps, seed, counter0, breakdown_tol)
    return Q, alpha, beta, nrm, anorm


@filter_jit
def _lanczos_jit(op, v0, key, num_steps, breakdown_tol):
    v0 = v0.astype(dtype_of(op))
    Q, alpha, beta, nrm, anorm = _lanczos_impl(
        op, v0, key_seed(key), num_steps, num_steps, breakdown_tol
    )
    ok = jnp.isfinite(anorm) & jnp.all(jnp.isfinite(alpha)) & jnp.all(jnp.isfinite(beta))
    v_ok = jnp.isfinite(nrm) & (nrm > 0)
    return LanczosResult(Q[:num_steps], alpha, beta[:-1], beta[-1], nrm), ok, v_ok


def _check_steps(name, num_steps, n):
    if isinstance(num_steps, bool) or not isinstance(num_steps, int | np.integer):
        raise TypeError(f"{name}: expected an int, got {num_steps!r}")
    if num_steps < 1 or num_steps > n:
        raise ValueError(f"{name}: must be between 1 and the dimension {n}, got {num_steps}")
    return int(num_steps)


def _raise_nonfinite(what: str, where: str = ""):
    raise ValueError(
        "op: the operator returned non-finite values (NaN or inf) in its matrix-vector "
        f"products{where}, so {what} cannot be computed (check the params and data behind "
        "it)"
    )


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
    $j \le 2m-1$. `key` (required) seeds the restart vectors after a breakdown (the result
    does not depend on it unless a breakdown happens). `breakdown_tol` is relative
    to the largest $\lVert A q_i\rVert$ seen (default $\epsilon^{3/4}$). Raises a ValueError
    naming `v0` if it is zero or not finite and naming `op` if a product is not finite.
    """
    op = as_operator(op)
    n = op.shape[0]
    num_steps = _check_steps("num_steps", num_steps, n)
    dtype = dtype_of(op)
    v0 = jnp.asarray(v0)
    if v0.shape != (n,):
        raise ValueError(f"v0: expected shape ({n},), got {v0.shape}")
    check_key("key", key)
    tol = _default_tol(dtype) if breakdown_tol is None else float(breakdown_tol)
    res, ok, v_ok = _lanczos_jit(op, v0, key, num_steps, float_array(tol, dtype))
    if is_concrete(ok):
        ok, v_ok = jax.device_get((ok, v_ok))
        if not v_ok:
            raise ValueError("v0: the start vector is zero or not finite")
        if not ok:
            _raise_nonfinite("the Lanczos tridiagonal")
    return res


def _eigsh_impl(op, v0, key, ints, floats, m_max, k_max):
    """Thick-restart Lanczos on a basis buffer of `m_max` (static) rows; `ints` = (k, m,
    keep, largest, max_restarts, eigenvalue_stop) and `floats` = (tol, breakdown_tol) are
    traced. Returns
    the first `k_max` (static) Ritz values, vectors (n, k_max) and residuals, and the
    stats (restarts, converged, products, products finite, start vector usable)."""
    k, m, keep, largest, max_restarts, eig_stop = (ints[i] for i in range(6))
    tol, breakdown_tol = floats[0], floats[1]
    n = op.shape[0]
    dtype = dtype_of(op)
    seed = key_seed(key)
    rows = jnp.arange(m_max)
    wanted = rows < k
    # the wanted end sorts first under `order`; blank (unfilled) positions of the projected
    # matrix get a diagonal sentinel beyond the other end, so they never mix in
    sign = jnp.where(largest > 0, 1.0, -1.0).astype(dtype)
    step = _step_fn(op, n, dtype, seed)
    tiny = jnp.finfo(dtype).tiny

    v = v0.astype(dtype)  # always a vector (`_start_vector`): one program, cold or warm
    nv = jnp.linalg.norm(v)
    v_ok = jnp.isfinite(nv) & (nv > 0)
    Q0 = jnp.zeros((m_max + 1, n), dtype).at[0].set(v / jnp.where(v_ok, nv, 1.0))

    def ritz_of(H, j):
        filled = rows < j
        big = 2 * jnp.max(jnp.abs(H)) + 1
        Hm = jnp.where(filled[:, None] & filled[None, :], H, 0.0)
        Hm = Hm + jnp.diag(jnp.where(filled, 0.0, -sign * big))
        theta, S = jnp.linalg.eigh(0.5 * (Hm + Hm.T))  # ascending
        # the wanted end first: reversed for the largest (the sentinels, at -big, then sort
        # last); a traced choice, one compile for both ends
        theta = jnp.where(largest > 0, theta[::-1], theta)
        S = jnp.where(largest > 0, S[:, ::-1], S)
        scale = jnp.maximum(jnp.max(jnp.where(filled, jnp.abs(theta), 0.0)), tiny)
        return theta, S, scale

    def allowed_residual(theta, scale):
        """The largest residual norm that passes, for the Ritz values `theta` (wanted end
        first, j > k filled): tol·scale, or for the eigenvalue test (min(‖r‖, ‖r‖²/δ) <=
        tol·scale, δ = |θ_{k-1} − θ_k| the Ritz gap between the wanted values and the rest)
        max(tol·scale, √(tol·scale·δ)). In residual units both ways, so the check schedule
        extrapolates the same smooth decay."""
        t = tol * scale
        gap = jnp.abs(theta[k - 1] - theta[k])
        return jnp.where(eig_stop > 0, jnp.maximum(t, jnp.sqrt(t * gap)), t)

    def next_check(j, r, j_last, r_last, start):
        """The step of the next Ritz check after one at step j with ratio r = max
        estimate / allowed residual > 1: a third of the steps that the decay since the previous
        check (at j_last, ratio r_last) predicts to reach r = 1 (Lanczos convergence
        accelerates, so the prediction runs long), at least 1; without a previous check or
        decay, a quarter of the steps taken in this cycle; never more than half of them.
        On the test operators this stops after as many products as a check after every
        step."""
        rate = (jnp.log(r_last) - jnp.log(r)) / jnp.maximum(j - j_last, 1).astype(r.dtype)
        decays = (j_last > 0) & (rate > 0) & jnp.isfinite(rate)
        predicted = jnp.log(r) / jnp.where(decays, rate, 1.0)
        gap = jnp.where(
            decays,
            jnp.floor(jnp.minimum(predicted, m_max) / 3).astype(j.dtype),
            (j - start) // 4,
        )
        # a stall between two checks (the ratio can pause while the Ritz values reorder)
        # predicts a long way off: never look further ahead than half the cycle so far
        return j + jnp.clip(gap, 1, jnp.maximum((j - start) // 2, 1))

    def expand(Q, AQ, H, start, allow_exit, counter0):
        """Steps start.. until the basis is full, or (if `allow_exit`) until the residual
        estimates |β_j s_j| of the wanted Ritz pairs pass `tol` (confirmed afterwards on
        the true residuals). The estimates need the Ritz vectors of the projected matrix
        (an m × m `eigh`), so they are computed only at the steps `next_check` schedules
        from their decay, not after every step."""

        def cond(c):
            i, anorm, done = c[0], c[7], c[9]
            return (i < m) & ~done & ~jnp.isnan(anorm)

        def body(c):
            i, Q, AQ, H, q, q_prev, b_prev, anorm, broke, _, check_at, j_last, r_last = c
            Q, aq, qn, _, b, h, anorm = step(
                i, Q, q, q_prev, b_prev, anorm, counter0 + i - start, breakdown_tol
            )
            AQ = AQ.at[i].set(aq)
            h = h[:m_max]
            H = H.at[:, i].set(h).at[i, :].set(h)
            # after a breakdown (an invariant subspace: exact but maybe not the extremal
            # pairs, e.g. a missing copy of a repeated eigenvalue) fill the cycle as usual
            broke = broke | (b == 0)
            j = i + 1
            check = allow_exit & ~broke & (j > k) & (j >= check_at)

            def do_check():
                theta, S, scale = ritz_of(H, j)
                est = jnp.abs(b) * jnp.abs(S[i])
                r = jnp.max(jnp.where(wanted, est, 0.0)) / allowed_residual(theta, scale)
                return r <= 1, next_check(j, r, j_last, r_last, start), j, r

            def skip():
                return jnp.asarray(False), check_at, j_last, r_last

            done, check_at, j_last, r_last = jax.lax.cond(check, do_check, skip)
            return i + 1, Q, AQ, H, qn, q, b, anorm, broke, done, check_at, j_last, r_last

        zero = jnp.zeros((), dtype)
        false = jnp.asarray(False)
        izero = jnp.zeros_like(start)
        init = (start, Q, AQ, H, Q[start], jnp.zeros((n,), dtype), zero, zero, false,
                false, izero, izero, jnp.ones((), dtype))  # fmt: skip
        j, Q, AQ, H, *rest = jax.lax.while_loop(cond, body, init)
        return j, Q, AQ, H, rest[3]

    def ritz(Q, AQ, j):
        """Rayleigh–Ritz on the filled rows (< j), from the stored products A q_i (the
        projected matrix is formed afresh here, not taken from the step-wise estimate,
        which only decides when to look)."""
        filled = (rows < j)[:, None]
        Qf, AQf = jnp.where(filled, Q[:m_max], 0.0), jnp.where(filled, AQ, 0.0)
        theta, S, scale = ritz_of(Qf @ AQf.T, j)
        Y = S.T @ Qf
        AY = S.T @ AQf
        res = jnp.linalg.norm(AY - theta[:, None] * Y, axis=1)
        return theta, Y, AY, res, scale

    def cycle(carry):
        Q, AQ, H, start, restarts, allow_exit, nmv, _, _, _, _, _ = carry
        # restart vectors after a breakdown: a fresh counter per product
        j, Q, AQ, H, anorm = expand(Q, AQ, H, start, allow_exit, 1 + nmv)
        nmv = nmv + (j - start)
        theta, Y, AY, res, scale = ritz(Q, AQ, j)
        finite = ~jnp.isnan(anorm) & jnp.all(jnp.isfinite(theta))
        passes = res <= allowed_residual(theta, scale)
        conv = finite & (j > k) & jnp.all(jnp.where(wanted, passes, True))
        full = j >= m
        # after a full cycle: thick restart keeping the best `keep` Ritz vectors and the
        # residual direction; after an early stop the true residuals did not confirm: go
        # on filling the same basis, without early stops until the next restart
        restart = full & ~conv & finite

        def do_restart():
            kept = (rows < keep)[:, None]
            Qn = jnp.zeros_like(Q).at[:m_max].set(jnp.where(kept, Y, 0.0)).at[keep].set(Q[m])
            AQn = jnp.where(kept, AY, 0.0)
            Hn = jnp.diag(jnp.where(rows < keep, theta, 0.0))
            return Qn, AQn, Hn

        Q, AQ, H = jax.lax.cond(restart, do_restart, lambda: (Q, AQ, H))
        start = jnp.where(restart, keep, j)
        restarts = restarts + restart.astype(restarts.dtype)
        out = (theta[:k_max], Y[:k_max], res[:k_max])
        return (Q, AQ, H, start, restarts, restart, nmv, *out, conv, finite)

    def cond(carry):
        restarts, conv, finite = carry[4], carry[-2], carry[-1]
        return (~conv) & (restarts <= max_restarts) & finite

    izero = jnp.zeros_like(k)
    init = (
        Q0,
        jnp.zeros((m_max, n), dtype),
        jnp.zeros((m_max, m_max), dtype),
        izero,
        izero,
        jnp.asarray(True),
        izero,
        jnp.zeros((k_max,), dtype),
        jnp.zeros((k_max, n), dtype),
        jnp.full((k_max,), jnp.inf, dtype),
        jnp.asarray(False),
        v_ok,
    )
    out = jax.lax.while_loop(cond, cycle, init)
    restarts, nmv, theta, Y, res, conv, finite = out[4], *out[6:]
    stats = jnp.stack([restarts, conv.astype(k.dtype), nmv, finite.astype(k.dtype)])
    return theta, Y.T, res, stats, v_ok


_eigsh_jit = filter_jit(_eigsh_impl)


@filter_jit
def _start_vector(key, v0, n, dtype):
    """The start vector as a separate small program, so that the main one sees a vector in
    every case (cold, warm from a vector, warm from a matrix) and compiles once: a generic
    vector from the key, `v0`, or the sum of the normalised columns of a matrix `v0` (near
    eigenvectors span the first j Krylov vectors almost exactly)."""
    if v0 is None:
        return generic_vector(key_seed(key), 0, n, dtype)
    v = v0.astype(dtype)
    if v.ndim == 2:
        v = jnp.sum(v / jnp.linalg.norm(v, axis=0), axis=1)
    return v


@filter_jit
def _eigsh_dense(op, v0, ints, k_max, batch):
    """The whole space: when the Krylov basis would span it (num_steps = n), the n products
    A e_i (in memory-sized batches) and a dense `eigh` give the same pairs as n Lanczos
    steps, for the same products and a fraction of the work (tiny operators)."""
    largest = ints[3] > 0
    n = op.shape[0]
    dtype = dtype_of(op)
    if isinstance(op, DenseOperator):
        a = op.matrix.astype(dtype)
    else:  # rows A e_i = columns of the symmetric A
        eye = jnp.eye(n, dtype=dtype)
        a = jax.lax.map(lambda e: op.matvec(e).astype(dtype), eye, batch_size=min(batch, n))
    a = 0.5 * (a + a.T)
    finite = jnp.all(jnp.isfinite(a))
    theta, S = jnp.linalg.eigh(jnp.where(finite, a, 0.0))  # ascending
    theta = jnp.where(largest, theta[::-1], theta)[:k_max]
    S = jnp.where(largest, S[:, ::-1], S)[:, :k_max]
    res = jnp.sqrt(jnp.sum((a @ S - S * theta) ** 2, axis=0))
    nv = jnp.linalg.norm(v0.astype(dtype))
    v_ok = jnp.isfinite(nv) & (nv > 0)
    izero = jnp.zeros_like(ints[0])
    stats = jnp.stack([izero, jnp.ones_like(izero), izero + n, finite.astype(izero.dtype)])
    return theta, S, res, stats, v_ok


def _first(x, k: int, axis: int):
    """`x` cut to `k` entries along `axis`: on the host for concrete arrays (a new `k`
    compiles nothing), by slicing under a trace."""
    if x.shape[axis] == k:
        return x
    index = (slice(None),) * axis + (slice(0, k),)
    if is_concrete(x):  # device_put: `jnp.asarray` of a host array compiles a copy per shape
        return jax.device_put(np.ascontiguousarray(jax.device_get(x)[index]))
    return x[index]


def eigsh(
    op: Any,
    k: int = 1,
    *,
    which: Which | Literal["largest", "smallest"] = "largest",
    key: PRNGKeyArray,
    tol: float | None = None,
    stop: StopOn | Literal["residual", "eigenvalue"] = "residual",
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
    restarts (a `RuntimeWarning` then, unless `warn=False`). The test can stop a cycle
    early: the cheap estimate $|\beta_j s_{j,i}|$ (last coupling times the last component
    of the Ritz vector in the basis) triggers it and the true residuals confirm it, so a
    good warm start stops after a few products. The estimate needs an $m\times m$ `eigh`,
    so it is taken at steps scheduled from its own decay (a third of the predicted distance
    to `tol`), not after every step.

    `stop="eigenvalue"` asks for the eigenvalues only: a wanted pair passes when the
    a-posteriori estimate of its eigenvalue error, $\min(\lVert r\rVert,
    \lVert r\rVert^2/\delta)$, is $\le \text{tol}\cdot\max_j|\theta_j|$, with
    $\delta = |\theta_{k-1} - \theta_k|$ the Ritz gap between the wanted values and the
    rest (Kato–Temple: the error of a Ritz value is second order in its residual, Parlett,
    *The Symmetric Eigenvalue Problem*, §11.7; $\lVert r\rVert$ alone is a bound for any
    symmetric operator). The gap is estimated from the Ritz values, which by interlacing can
    only overstate the true gap while the next eigenvalue is unconverged, so this is an
    estimate, not a bound; it stops after fewer products than the residual test at the same
    `tol` (a residual of about $\sqrt{\text{tol}\cdot\delta/|\theta|}$ suffices), and the
    eigenvectors are then accurate only to $\lVert r\rVert/\delta$, which the returned
    residuals show.

    With `which="smallest"` the most negative eigenvalues come first: their count below 0 is
    the saddle index. `v0` warm-starts: a vector, or a matrix `(n, j)` of earlier
    eigenvectors (e.g. from the previous point of a trajectory; Lanczos then starts from
    the sum of the normalised columns, whose first j Krylov vectors nearly span them).

    `key` (required) seeds the start vector when `v0` is not given and the restart vectors
    after a breakdown (generic vectors from a hash of the key, `_batching.generic_vector`).

    The whole run is one compiled program, shared by every `k` and `num_steps` whose basis
    falls in the same bucket (see the module docstring); the only host synchronisation is
    one read of the convergence and finiteness flags at the end. When the basis would span
    the whole space (`num_steps` = $n$, e.g. $n \le 30$ by default) the $n$ products
    $Ae_i$ and a dense `eigh` replace the Lanczos steps (same products, exact pairs).

    Returns `(eigenvalues (k,), eigenvectors (n, k), residual_norms (k,))`, ordered from the
    requested end; with `return_info=True` a fourth item `{"restarts", "converged",
    "num_matvecs"}`. Raises a ValueError naming `op` when a product is not finite (the run
    stops at the first such product) and naming `v0` when the start vector is zero or not
    finite.
    """
    op = as_operator(op)
    n = op.shape[0]
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"k: expected an int, got {k!r}")
    if k < 1 or k > n:
        raise ValueError(f"k: must be between 1 and the dimension {n}, got {k}")
    k = int(k)
    which = as_enum("which", which, Which)
    dtype = dtype_of(op)
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
    if v0 is not None:
        if not hasattr(v0, "shape"):
            v0 = np.asarray(v0)
        if v0.ndim == 1:
            if v0.shape != (n,):
                raise ValueError(f"v0: expected shape ({n},) or ({n}, j), got {v0.shape}")
        elif not (v0.ndim == 2 and v0.shape[0] == n and 1 <= v0.shape[1] < m):
            raise ValueError(f"v0: expected shape ({n},) or ({n}, j) with j < {m}, got {v0.shape}")
    bt = _default_tol(dtype) if breakdown_tol is None else float(breakdown_tol)
    keep = min(m - 1, k + max((m - k) // 2, 1)) if m < n else m - 1
    restarts = 0 if m == n else int(max_restarts)
    m_max = min(bucket_fine(m), n)
    k_max = min(bucket(k), m_max)
    # numbers that may change between calls are traced (no recompilation), in two arrays
    stop = as_enum("stop", stop, StopOn)
    ints = int_array([k, m, keep, which is Which.LARGEST, restarts, stop is StopOn.EIGENVALUE])
    floats = float_array([tol, bt], dtype)
    if v0 is None or v0.ndim == 2 or v0.dtype != dtype:
        v0 = _start_vector(key, v0, n, dtype)
    if m == n:  # the basis would span the whole space: dense route, same products
        batch = probe_batch_size(op, dtype)
        theta, Y, res, stats, v_ok = _eigsh_dense(op, v0, ints, k_max, batch)
    else:
        theta, Y, res, stats, v_ok = _eigsh_jit(op, v0, key, ints, floats, m_max, k_max)
    if is_concrete(stats):
        stats, v_ok = jax.device_get((stats, v_ok))  # the one host synchronisation
        if not v_ok:
            raise ValueError(
                "v0: the start vector (or the sum of the columns) is zero or not finite"
            )
        restarts_done, conv, num_matvecs, finite = (int(s) for s in stats)
        if not finite:
            # the run stopped at the first such product
            _raise_nonfinite("its eigenpairs", f" (first at product {num_matvecs})")
        conv = bool(conv) or m == n
        if warn and not conv:
            warnings.warn(
                f"eigsh: not converged to tol={tol:g} after {restarts_done} restarts "
                f"(residuals {np.asarray(res)[:k]}); raise num_steps or max_restarts",
                RuntimeWarning,
                stacklevel=2,
            )
    else:
        restarts_done, conv, num_matvecs = stats[0], (stats[1] > 0) | (m == n), stats[2]
    theta, Y, res = _first(theta, k, 0), _first(Y, k, 1), _first(res, k, 0)
    if return_info:
        info = {
            "restarts": min(restarts_done, restarts) if is_concrete(stats) else restarts_done,
            "converged": conv,
            "num_matvecs": num_matvecs,
        }
        return theta, Y, res, info
    return theta, Y, res
