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
points (so does $\det G_h$). Each one is then located by Newton on the extended system
(Moore & Spence 1980) in $(h, p, v)$:

$$G(h, p) = 0,\qquad G_h(h, p)\,v = 0,\qquad \ell^\top v = 1,$$

started from the tangent-interpolated point with $v$ the $h$-part of the tangent there
($\ell$ = that $v$ normalised), which converges quadratically to the fold.

The predictor–corrector is one `lax.while_loop` under `jax.jit`: it is a continuation, not
a training or minimisation loop (nothing is optimised; the dynamics' `run`, `minimize` and
`gradient_flow` do not apply). The Newton solves (start, corrector, landing on the end of
`p_range`, fold) are one small dense routine (`jax.jacfwd` + LU in a `lax.while_loop`)
rather than `optimistix.Newton`: the systems are small and dense, and optimistix's generic
root finder made each compiled program several times larger (measured on the 2-D test
system, 2 shared cores: 1.6 s to compile the start correction and 3.3-4.5 s the
predictor-corrector with `optx.Newton`). The fold location and the stability along the
branch (eigenvalues of $F_h$ / $f_h$, as in `fixed_points`) are computed afterwards.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .._validation import check_finite, check_positive
from ._fixed_points import check_map, classify_eigenvalues, newton_solve as _newton_solve
from ._run import StopCode, StopReason, reason_code


_RUNNING = -1


class Branch(eqx.Module):
    r"""Output of `continue_branch`: the branch in order of arclength.

    - `params`: `(m,)` the parameter $p$ at each point; `states`: `(m, dim)` the fixed points.
    - `tangents`: `(m, dim + 1)` unit tangents $(dh/ds, dp/ds)$.
    - `unstable_dims`: `(m,)` number of unstable directions (as in `fixed_points`).
    - `folds`: `(k,)` parameter values of the saddle-node points passed;
      `fold_states`: `(k, dim)`; `fold_converged`: `(k,)` whether the extended-system
      Newton converged (if not, the entry is the tangent-interpolated estimate).
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


def _start_tangent(jac, direction):
    # the start was corrected by Newton in h, so G_h is regular there and the null vector
    # of [G_h G_p] has a non-zero p-component: solve with the row e_p, normalise, orient
    e_p = jnp.zeros(jac.shape[1], jac.dtype).at[-1].set(1.0)
    t = _next_tangent(jac, e_p)
    return jnp.where(t[-1] * direction < 0, -t, t)


def _next_tangent(jac, t_prev):
    a = jnp.concatenate([jac, t_prev[None, :]], axis=0)
    rhs = jnp.zeros(a.shape[0], a.dtype).at[-1].set(1.0)
    t = jnp.linalg.solve(a, rhs)
    return t / jnp.linalg.norm(t)


_START, _STEP, _LAND = 0, 1, 2


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
    target on the boundary of `p_range` by the secant to the point that overshot it)."""
    g = _residual(fn, discrete)
    jac_fn = jax.jacfwd(g)
    dtype = h0.dtype
    n1 = h0.shape[0] + 1
    e_p = jnp.zeros(n1, dtype).at[-1].set(1.0)
    u_start = jnp.concatenate([h0, p0[None]])
    us = jnp.zeros((max_steps + 1, n1), dtype)
    ts = jnp.zeros((max_steps + 1, n1), dtype)
    max_attempts = 4 * max_steps + 64
    completed = reason_code(StopReason.COMPLETED)

    def cond(c):
        return (c["code"] == _RUNNING) & (c["attempts"] < max_attempts)

    def body(c):
        mode, u, t, ds, i = c["mode"], c["u"], c["t"], c["ds"], c["i"]
        over = c["over"]
        p_end = jnp.where(over[-1] < p_lo, p_lo, p_hi)
        w = (p_end - u[-1]) / (over[-1] - u[-1])
        land_guess = (u + w * (over - u)).at[-1].set(p_end)
        guess = jnp.where(mode == _START, u_start, jnp.where(mode == _STEP, u + ds * t, land_guess))
        row = jnp.where(mode == _STEP, t, e_p)

        def aug(y):
            return jnp.concatenate([g(y), (row @ (y - guess))[None]])

        y, ok, steps = _newton_solve(aug, guess, tol=tol, max_steps=max_newton_steps)
        # a corrector that jumps further than the step is not trusted (another branch)
        ok = ok & ((mode != _STEP) | (jnp.max(jnp.abs(y - guess)) <= ds))
        t_new = jnp.where(
            mode == _START,
            _start_tangent(jac_fn(y), direction),
            _next_tangent(jac_fn(y), t),
        )
        ok = ok & jnp.all(jnp.isfinite(t_new))
        outside = (y[-1] < p_lo) | (y[-1] > p_hi)
        overshoot = ok & (mode == _STEP) & outside
        accept = ok & ~overshoot
        i_new = jnp.where(accept & (mode != _START), i + 1, i)
        us = jnp.where(accept, c["us"].at[i_new].set(y), c["us"])
        ts = jnp.where(accept, c["ts"].at[i_new].set(t_new), c["ts"])
        grow = jnp.where(steps <= 3, 1.5, jnp.where(steps >= 6, 0.7, 1.0))
        ds_new = jnp.where(
            mode == _STEP,
            jnp.where(ok, jnp.minimum(ds * grow, max_step_size), 0.5 * ds),
            ds,
        )
        big = accept & (jnp.max(jnp.abs(y[:-1])) > max_norm)
        code = jnp.where(
            mode == _START,
            jnp.where(ok, _RUNNING, reason_code(StopReason.FAILED)),
            jnp.where(
                mode == _LAND,
                completed,  # landed, or the landing failed: the branch ends either way
                jnp.where(
                    big,
                    reason_code(StopReason.DIVERGED),
                    jnp.where(
                        accept & (i_new >= max_steps),
                        reason_code(StopReason.MAX_STEPS),
                        jnp.where(
                            ~ok & (ds_new < min_step_size),
                            reason_code(StopReason.FAILED),
                            _RUNNING,
                        ),
                    ),
                ),
            ),
        )
        return dict(
            mode=jnp.where(overshoot, _LAND, jnp.where(accept, _STEP, mode)),
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
        )

    with jax.numpy_dtype_promotion("standard"):
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
            us=us,
            ts=ts,
        )
        out = jax.lax.while_loop(cond, body, init)
    code = jnp.where(out["code"] == _RUNNING, reason_code(StopReason.FAILED), out["code"])
    return out["started"], out["i"], code, out["us"], out["ts"]


@eqx.filter_jit
def _locate_fold(fn, u_guess, v_guess, *, discrete, tol, max_newton_steps):
    g = _residual(fn, discrete)
    n = v_guess.shape[0]
    ell = v_guess / jnp.linalg.norm(v_guess)

    def extended(z):
        u, v = z[: n + 1], z[n + 1 :]
        jv = jax.jvp(lambda h: g(jnp.concatenate([h, u[-1:]])), (u[:-1],), (v,))[1]
        return jnp.concatenate([g(u), jv, (ell @ v - 1.0)[None]])

    z0 = jnp.concatenate([u_guess, ell])
    with jax.numpy_dtype_promotion("standard"):
        z, ok, _ = _newton_solve(extended, z0, tol=tol, max_steps=max_newton_steps)
    return z[: n + 1], ok


@eqx.filter_jit
def _branch_jacobians(fn, states, params):
    return jax.vmap(lambda h, p: jax.jacfwd(fn)(h, p))(states, params)


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

    settings = dict(discrete=bool(discrete), tol=float(tol), max_newton_steps=int(max_newton_steps))
    ok, i, code, us, ts = _follow(
        fn,
        h0,
        p0a,
        jnp.asarray(lo, dtype),
        jnp.asarray(hi, dtype),
        jnp.asarray(float(direction), dtype),
        step_size=float(step_size),
        min_step_size=float(min_step_size),
        max_step_size=float(max_step_size),
        max_steps=int(max_steps),
        max_norm=float(max_norm),
        **settings,
    )
    if not bool(ok):
        raise ValueError(
            f"h0: Newton on fn(h, p0) {'- h ' if discrete else ''}= 0 did not converge from h0 "
            f"at p0 = {p0} (start closer to a fixed point)"
        )
    m = int(i) + 1
    us, ts = np.asarray(us[:m]), np.asarray(ts[:m])

    # folds: sign changes of dp/ds between consecutive points
    tp = ts[:, -1]
    folds, fold_states, fold_ok = [], [], []
    for k in np.nonzero(tp[:-1] * tp[1:] < 0)[0]:
        w = tp[k] / (tp[k] - tp[k + 1])
        u_guess = us[k] + w * (us[k + 1] - us[k])
        v_guess = (1 - w) * ts[k, :-1] + w * ts[k + 1, :-1]
        u_f, conv = _locate_fold(fn, jnp.asarray(u_guess), jnp.asarray(v_guess), **settings)
        conv = bool(conv)
        u_f = np.asarray(u_f) if conv else u_guess
        folds.append(u_f[-1])
        fold_states.append(u_f[:-1])
        fold_ok.append(conv)
    dim = h0.shape[0]
    jac = np.asarray(_branch_jacobians(fn, jnp.asarray(us[:, :-1]), jnp.asarray(us[:, -1])))
    _, unstable, _ = classify_eigenvalues(
        np.linalg.eigvals(jac), discrete=bool(discrete), marginal_tol=float(marginal_tol)
    )
    return Branch(
        params=jnp.asarray(us[:, -1]),
        states=jnp.asarray(us[:, :-1]),
        tangents=jnp.asarray(ts),
        unstable_dims=jnp.asarray(unstable.astype(np.int32)),
        folds=jnp.asarray(np.asarray(folds, dtype=us.dtype).reshape(-1)),
        fold_states=jnp.asarray(np.asarray(fold_states, dtype=us.dtype).reshape(-1, dim)),
        fold_converged=jnp.asarray(np.asarray(fold_ok, dtype=bool)),
        stop_reason=StopCode(jnp.asarray(code, jnp.int32)),
    )
