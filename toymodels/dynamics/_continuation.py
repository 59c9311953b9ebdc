r"""Pseudo-arclength continuation of fixed points in one parameter, with saddle-node (fold)
detection and location.

A branch of solutions of $G(h, p) = 0$ in $u = (h, p)\in\mathbb R^{n+1}$, with
$G = F(h, p) - h$ for a map (`discrete=True`, $F$ = `fn(h, p)`) or $G = f(h, p)$ for a flow
(`discrete=False`), is followed by arclength $s$ (Keller 1977; Allgower & Georg,
"Introduction to Numerical Continuation Methods", ch. 2):

- tangent: the unit null vector $t$ of the $n\times(n+1)$ Jacobian $[G_h\; G_p]$ (at the
  start from the same system with $e_{n+1}$ in place of $t_\text{prev}$, afterwards from $\begin{pmatrix}G_h & G_p\\ t_\text{prev}^\top\end{pmatrix}t =
  e_{n+1}$, which keeps the orientation), Jacobians by `jax.jacfwd`;
- predictor $u_\text{pred} = u + \Delta s\, t$; corrector: Newton on
  $\{G(u) = 0,\ t^\top(u - u_\text{pred}) = 0\}$, whose Jacobian stays regular at folds,
  where $G_h$ is singular and natural continuation in $p$ breaks down;
- step control: $\Delta s$ grows ×1.5 after a corrector of ≤ 3 iterations (up to
  `max_step_size`), shrinks ×0.7 after ≥ 6, and is halved after a failed corrector (no
  convergence, a non-finite value, or a jump larger than $\Delta s$ from the prediction);
  below `min_step_size` the branch stops with `"failed"`.

A fold (saddle-node: an eigenvalue of $F_h$ through 1, of $f_h$ through 0) is where the
branch turns back in $p$: the $p$-component of the tangent changes sign between two
points (so does $\det G_h$). Each one is located right away, inside the loop, by regula
falsi (Illinois) on the arclength $\sigma$ from the point before the sign change: each trial
is a corrector solve on the hyperplane $t_k^\top(u - u_k - \sigma t_k) = 0$ and its tangent's
$dp/ds$; it stops when $|dp/ds| \le 10^3\epsilon$. Since $p$ is extremal at the fold, an
error $\delta$ in $dp/ds$ moves $p$ by $O(\delta^2)$: the fold parameter is exact to
rounding. (The Moore-Spence extended system $G = 0$, $G_h v = 0$, $\ell^\top v = 1$ would
do the same with quadratic convergence, but its second-derivative Jacobian was the largest
program of this module: 6.9 s to compile for the 100-unit RNN against 6.6 s for the whole
predictor-corrector, 2 shared cores.)

The predictor–corrector is one `lax.while_loop` under `jax.jit`: it is a continuation, not
a training or minimisation loop (nothing is optimised; the dynamics' `run`, `minimize` and
`gradient_flow` do not apply). The Newton solves (start, corrector, landing on the end of
`p_range`, fold refinement) are one small dense routine (`jax.jacfwd` + LU in a `lax.while_loop`)
rather than `optimistix.Newton`: the systems are small and dense, and optimistix's generic
root finder made each compiled program several times larger (measured on the 2-D test
system, 2 shared cores: 1.6 s to compile the start correction and 3.3-4.5 s the
predictor-corrector with `optx.Newton`). The Jacobians $G_h$ of the accepted points are
kept, and the stability along the branch (eigenvalues of $F_h$ / $f_h$, as in
`fixed_points`) is computed from them afterwards on the host.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .._validation import check_finite, check_positive
from ._fixed_points import (
    check_map,
    classify_eigenvalues,
    host_eig,
    newton_solve as _newton_solve,
)
from ._run import StopCode, StopReason, reason_code


_RUNNING = -1


class Branch(eqx.Module):
    r"""Output of `continue_branch`: the branch in order of arclength.

    - `params`: `(m,)` the parameter $p$ at each point; `states`: `(m, dim)` the fixed points.
    - `tangents`: `(m, dim + 1)` unit tangents $(dh/ds, dp/ds)$.
    - `unstable_dims`: `(m,)` number of unstable directions (as in `fixed_points`).
    - `folds`: `(k,)` parameter values of the saddle-node points passed;
      `fold_states`: `(k, dim)`; `fold_converged`: `(k,)` whether the refinement reached
      $|dp/ds| \le 10^6\epsilon$ with a converged corrector (if not, the entry is its last
      iterate). At most 15 folds are refined.
    - `stop_reason`: `"completed"` (the branch left `p_range`; its last point lies on the
      boundary), `"max_steps"`, `"failed"` (the corrector did not converge even at
      `min_step_size`; everything computed up to there is kept) or `"diverged"` (the state
      left the ball ‖h‖∞ ≤ `max_norm`).
    """

    params: Float[Array, " m"]
    states: Float[Array, "m dim"]
    tangents: Float[Array, "m dim1"]
    unstable_dims: Int[Array, " m"]
    folds: Float[Array, " k"]
    fold_states: Float[Array, "k dim"]
    fold_converged: Array
    stop_reason: StopCode


def _residual(fn, discrete):
    def g(u):
        h, p = u[:-1], u[-1]
        out = fn(h, p)
        return out - h if discrete else out

    return g


def _next_tangent(jac, t_prev):
    a = jnp.concatenate([jac, t_prev[None, :]], axis=0)
    rhs = jnp.zeros(a.shape[0], a.dtype).at[-1].set(1.0)
    t = jnp.linalg.solve(a, rhs)
    return t / jnp.linalg.norm(t)


_START, _STEP, _LAND, _FOLD = 0, 1, 2, 3
_MAX_FOLDS = 16
_FOLD_ITERATIONS = 40


@eqx.filter_jit
def _follow(
    fn,
    h0,
    p0,
    p_lo,
    p_hi,
    direction,
    *,
    discrete,
    step_size,
    min_step_size,
    max_step_size,
    max_steps,
    max_newton_steps,
    tol,
    max_norm,
):
    r"""The predictor-corrector as one `lax.while_loop` over attempts, with ONE Newton solve
    of $\{G(u) = 0,\ c^\top(u - u_\text{target}) = 0\}$ per attempt (a single solver in the
    program keeps its compile time down). The row $c$ and the target depend on the mode:
    `_START` ($c = e_p$, target $(h_0, p_0)$: correct the start at fixed $p$), `_STEP`
    ($c = t$, target the predictor $u + \Delta s\,t$: pseudo-arclength), `_LAND` ($c = e_p$,
    target on the boundary of `p_range` by the secant to the point that overshot it),
    `_FOLD` ($c = t_k$, target $u_k + \sigma t_k$ from the point $u_k$ before a sign change
    of $dp/ds$: regula falsi (Illinois) on $\sigma$ for $dp/ds = 0$). Buffers are written in
    place at the next free slot every attempt (a rejected attempt is overwritten later)."""
    g = _residual(fn, discrete)
    dtype = h0.dtype
    n = h0.shape[0]
    n1 = n + 1
    e_p = jnp.zeros(n1, dtype).at[-1].set(1.0)
    u_start = jnp.concatenate([h0, p0[None]])
    max_attempts = 4 * max_steps + 64 + _MAX_FOLDS * _FOLD_ITERATIONS
    completed = reason_code(StopReason.COMPLETED)
    fold_tol = 1e3 * jnp.finfo(dtype).eps

    def cond(c):
        return (c["code"] == _RUNNING) & (c["attempts"] < max_attempts)

    def body(c):
        mode, u, t, ds, i = c["mode"], c["u"], c["t"], c["ds"], c["i"]
        over = c["over"]
        p_end = jnp.where(over[-1] < p_lo, p_lo, p_hi)
        w = (p_end - u[-1]) / (over[-1] - u[-1])
        land_guess = (u + w * (over - u)).at[-1].set(p_end)
        # regula falsi on sigma in [lo, hi] with dp/ds values (f_lo, f_hi) of opposite sign
        b_lo, b_hi, f_lo, f_hi = c["bracket"]
        sigma = (b_lo * f_hi - b_hi * f_lo) / (f_hi - f_lo)
        base_u, base_t = c["base"]
        guess = jnp.select(
            [mode == _START, mode == _STEP, mode == _LAND],
            [u_start, u + ds * t, land_guess],
            base_u + sigma * base_t,
        )
        row = jnp.select([mode == _STEP, mode == _FOLD], [t, base_t], e_p)

        def aug(y):
            return jnp.concatenate([g(y), (row @ (y - guess))[None]])

        # the Jacobian of the last Newton iterate (within tol of y) serves the tangent and
        # the stability: one Jacobian program in the loop instead of two
        y, ok, steps, jac_aug = _newton_solve(aug, guess, tol=tol, max_steps=max_newton_steps)
        # a corrector that jumps further than the step is not trusted (another branch)
        ok = ok & ((mode != _STEP) | (jnp.max(jnp.abs(y - guess)) <= ds))
        jac = jac_aug[:-1]
        # one linear solve for every mode: the start orients by e_p and `direction`
        t_ref = jnp.select([mode == _START, mode == _FOLD], [e_p, base_t], t)
        t_new = _next_tangent(jac, t_ref)
        t_new = jnp.where((mode == _START) & (t_new[-1] * direction < 0), -t_new, t_new)
        ok = ok & jnp.all(jnp.isfinite(t_new))
        outside = (y[-1] < p_lo) | (y[-1] > p_hi)
        overshoot = ok & (mode == _STEP) & outside
        accept = ok & ~overshoot & (mode != _FOLD)
        turned = accept & (mode == _STEP) & (t_new[-1] * t[-1] < 0)
        slot = jnp.where(mode == _START, 0, i + 1)
        i_new = jnp.where(accept & (mode != _START), i + 1, i)
        us = c["us"].at[slot].set(y)
        ts = c["ts"].at[slot].set(t_new)
        jacs = c["jacs"].at[slot].set(jac[:, :-1])

        # fold refinement: update the bracket, or record the fold and go back to stepping
        fold_mode = mode == _FOLD
        f_new = t_new[-1]
        side_lo = f_new * f_lo > 0
        illinois = 0.5
        new_bracket = (
            jnp.where(side_lo, sigma, b_lo),
            jnp.where(side_lo, b_hi, sigma),
            jnp.where(side_lo, f_new, f_lo * illinois),
            jnp.where(side_lo, f_hi * illinois, f_new),
        )
        fold_iter = c["fold_iter"] + 1
        fold_done = fold_mode & (
            ~ok | (jnp.abs(f_new) <= fold_tol) | (fold_iter >= _FOLD_ITERATIONS)
        )
        k = c["num_folds"]
        fold_point = jnp.where(ok, y, guess)
        folds = jnp.where(fold_done, c["folds"].at[k].set(fold_point), c["folds"])
        fold_ok = jnp.where(
            fold_done, c["fold_ok"].at[k].set(ok & (jnp.abs(f_new) <= 1e3 * fold_tol)), c["fold_ok"]
        )
        num_folds = jnp.where(fold_done, jnp.minimum(k + 1, _MAX_FOLDS - 1), k)
        start_fold = turned & (k < _MAX_FOLDS - 1)
        bracket = jax.tree.map(
            lambda fresh, upd, old: jnp.where(
                start_fold, fresh, jnp.where(fold_mode & ok, upd, old)
            ),
            (jnp.zeros((), dtype), ds, t[-1], t_new[-1]),
            new_bracket,
            c["bracket"],
        )
        base = jax.tree.map(lambda fresh, old: jnp.where(start_fold, fresh, old), (u, t), c["base"])

        grow = jnp.where(steps <= 3, 1.5, jnp.where(steps >= 6, 0.7, 1.0))
        ds_new = jnp.where(
            mode == _STEP,
            jnp.where(ok, jnp.minimum(ds * grow, max_step_size), 0.5 * ds),
            ds,
        )
        big = accept & (jnp.max(jnp.abs(y[:-1])) > max_norm)
        code = jnp.select(
            [
                mode == _START,
                mode == _LAND,
                mode == _FOLD,
                big,
                accept & (i_new >= max_steps) & ~start_fold,
                ~ok & (ds_new < min_step_size),
            ],
            [
                jnp.where(ok, _RUNNING, reason_code(StopReason.FAILED)),
                completed,  # landed, or the landing failed: the branch ends either way
                _RUNNING,
                reason_code(StopReason.DIVERGED),
                reason_code(StopReason.MAX_STEPS),
                reason_code(StopReason.FAILED),
            ],
            _RUNNING,
        )
        next_mode = jnp.select(
            [overshoot, start_fold, fold_done, accept],
            [_LAND, _FOLD, _STEP, _STEP],
            mode,
        )
        return dict(
            mode=next_mode,
            u=jnp.where(accept, y, u),
            t=jnp.where(accept, t_new, t),
            over=jnp.where(overshoot, y, over),
            ds=ds_new,
            i=i_new,
            attempts=c["attempts"] + 1,
            started=c["started"] | ((mode == _START) & ok),
            code=code,
            us=us,
            ts=ts,
            jacs=jacs,
            bracket=bracket,
            base=base,
            fold_iter=jnp.where(start_fold, 0, jnp.where(fold_mode, fold_iter, c["fold_iter"])),
            folds=folds,
            fold_ok=fold_ok,
            num_folds=num_folds,
        )

    with jax.numpy_dtype_promotion("standard"):
        zero = jnp.zeros((), dtype)
        init = dict(
            mode=jnp.asarray(_START),
            u=u_start,
            t=e_p,
            over=u_start,
            ds=jnp.asarray(step_size, dtype),
            i=jnp.asarray(0),
            attempts=jnp.asarray(0),
            started=jnp.asarray(False),
            code=jnp.asarray(_RUNNING),
            us=jnp.zeros((max_steps + 2, n1), dtype),
            ts=jnp.zeros((max_steps + 2, n1), dtype),
            jacs=jnp.zeros((max_steps + 2, n, n), dtype),
            bracket=(zero, zero, zero, zero),
            base=(u_start, e_p),
            fold_iter=jnp.asarray(0),
            folds=jnp.zeros((_MAX_FOLDS, n1), dtype),
            fold_ok=jnp.zeros((_MAX_FOLDS,), bool),
            num_folds=jnp.asarray(0),
        )
        out = jax.lax.while_loop(cond, body, init)
    code = jnp.where(out["code"] == _RUNNING, reason_code(StopReason.FAILED), out["code"])
    return out, code


def continue_branch(
    fn: Callable[[Float[Array, " dim"], Float[Array, ""]], Float[Array, " dim"]],
    h0: Float[ArrayLike, " dim"],
    p0: float | Float[ArrayLike, ""],
    *,
    p_range: tuple[float, float],
    discrete: bool = True,
    direction: int = 1,
    step_size: float = 0.02,
    min_step_size: float = 1e-8,
    max_step_size: float = 0.2,
    max_steps: int = 500,
    max_newton_steps: int = 12,
    tol: float = 1e-11,
    max_norm: float = 1e8,
    marginal_tol: float = 1e-6,
) -> Branch:
    r"""Follow the branch of fixed points of `fn` through $(h_0, p_0)$ by pseudo-arclength
    continuation and locate its folds (see the module docs).

    **Arguments:**
    - `fn`: `fn(h, p)`, the next state (`discrete=True`) or the velocity (`discrete=False`)
      at state `h` `(dim,)` and scalar parameter `p`. It is part of the compiled program; an
      `eqx.Module` (or `jax.tree_util.Partial`) carrying its arrays as fields does not
      recompile when only those arrays change.
    - `h0`: a state near the branch at `p0` (corrected by Newton in $h$ first); `p0`: the
      starting parameter, inside `p_range`.
    - `p_range`: keyword-only `(p_min, p_max)`; the branch stops on leaving it.
    - `discrete`: keyword-only; map (default) or flow.
    - `direction`: keyword-only, `+1` (start toward larger $p$) or `-1`.
    - `step_size`, `min_step_size`, `max_step_size`: keyword-only arclength steps (in the
      joint $(h, p)$ norm).
    - `max_steps`: keyword-only number of branch points after the start.
    - `max_newton_steps`, `tol`: keyword-only corrector budget and tolerance (∞-norm of the
      residual and of the last Newton step).
    - `max_norm`: keyword-only bound on ‖h‖∞ (beyond it the branch stops, `"diverged"`).
    - `marginal_tol`: keyword-only, for the stability counts along the branch.

    **Returns:** a `Branch`.

    **Raises:** `ValueError` naming `h0` (not 1-D, non-finite, or Newton at `p0` does not
    converge from it), `p0` (outside `p_range`), `fn` (output shape differs from the
    state's) or a setting.
    """
    h0 = jnp.asarray(h0)
    if h0.ndim != 1 or h0.shape[0] == 0:
        raise ValueError(f"h0: expected a non-empty 1-D state, got shape {h0.shape}")
    if not jnp.issubdtype(h0.dtype, jnp.inexact):
        h0 = h0.astype(jnp.result_type(float))
    check_finite("h0", h0)
    try:
        lo, hi = (float(v) for v in p_range)
    except (TypeError, ValueError):
        raise ValueError(f"p_range: expected (p_min, p_max), got {p_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"p_range: expected finite p_min < p_max, got {p_range!r}")
    p0 = float(p0)
    if not lo <= p0 <= hi:
        raise ValueError(f"p0: must lie in p_range {p_range!r}, got {p0}")
    if direction not in (1, -1):
        raise ValueError(f"direction: must be +1 or -1, got {direction!r}")
    for name, v in (
        ("step_size", step_size),
        ("min_step_size", min_step_size),
        ("max_step_size", max_step_size),
        ("tol", tol),
        ("max_norm", max_norm),
    ):
        check_positive(name, v)
    check_positive("marginal_tol", marginal_tol, allow_zero=True)
    if not min_step_size <= step_size <= max_step_size:
        raise ValueError(
            f"step_size: must lie in [min_step_size, max_step_size] = "
            f"[{min_step_size}, {max_step_size}], got {step_size}"
        )
    for name, v in (("max_steps", max_steps), ("max_newton_steps", max_newton_steps)):
        if isinstance(v, bool) or int(v) != v or int(v) < 1:
            raise ValueError(f"{name}: must be an integer >= 1, got {v!r}")
    dtype = h0.dtype
    p0a = jnp.asarray(p0, dtype)
    check_map(fn, h0, p0a)

    out, code = _follow(
        fn,
        h0,
        p0a,
        jnp.asarray(lo, dtype),
        jnp.asarray(hi, dtype),
        jnp.asarray(float(direction), dtype),
        discrete=bool(discrete),
        tol=float(tol),
        max_newton_steps=int(max_newton_steps),
        step_size=float(step_size),
        min_step_size=float(min_step_size),
        max_step_size=float(max_step_size),
        max_steps=int(max_steps),
        max_norm=float(max_norm),
    )
    if not bool(out["started"]):
        raise ValueError(
            f"h0: Newton on fn(h, p0) {'- h ' if discrete else ''}= 0 did not converge from h0 "
            f"at p0 = {p0} (start closer to a fixed point)"
        )
    m = int(out["i"]) + 1
    # to numpy first, then slice: a device slice of a new length would compile a new program
    us, ts = np.asarray(out["us"])[:m], np.asarray(out["ts"])[:m]
    jac = np.asarray(out["jacs"])[:m]
    if discrete:
        jac = jac + np.eye(jac.shape[-1], dtype=jac.dtype)  # F_h = G_h + I
    _, unstable, _ = classify_eigenvalues(
        host_eig(jac), discrete=bool(discrete), marginal_tol=float(marginal_tol)
    )
    k = int(out["num_folds"])
    folds = np.asarray(out["folds"])[:k]
    return Branch(
        params=jnp.asarray(us[:, -1]),
        states=jnp.asarray(us[:, :-1]),
        tangents=jnp.asarray(ts),
        unstable_dims=jnp.asarray(unstable.astype(np.int32)),
        folds=jnp.asarray(folds[:, -1]),
        fold_states=jnp.asarray(folds[:, :-1]),
        fold_converged=jnp.asarray(np.asarray(out["fold_ok"])[:k]),
        stop_reason=StopCode(jnp.asarray(code, jnp.int32)),
    )
