r"""Fixed points and slow points ("ghosts") of a map or a vector field, from many initial
states at once.

For a discrete map $h_{t+1} = F(h_t)$ (`discrete=True`, $F$ = `fn(h, args)`) or a flow
$\dot h = f(h)$ (`discrete=False`, $f$ = `fn(h, args)`) the residual is
$G(h) = F(h) - h$ or $G(h) = f(h)$, and the search minimises the speed

$$q(h) = \tfrac12\lVert G(h)\rVert_2^2$$

from every initial state (Sussillo & Barak 2013, "Opening the black box", for RNNs):

1. an optimistix minimiser on $q$ (default BFGS), all initial states in ONE jitted program
   (`jax.vmap` over them);
2. optionally (`polish=True`) a Newton polish on $\nabla q = 0$ (Hessian of $q$ by `jax.jacfwd` of its gradient, dense
   LU steps; converged when the step and $\nabla q$ are below $10^3\epsilon(1 + \lVert h\rVert_\infty)$),
   which converges quadratically both at fixed points ($q = 0$, Hessian $J_G^\top J_G$) and
   at ghosts (local minima with $q > 0$, where $J_G$ is nearly singular and a Newton step on
   $G$ itself has nowhere to go); kept only where it converged and did not increase $q$;
3. on the host: states that did not converge are dropped, the rest are merged into unique
   points (∞-distance below `unique_tol`, the lowest $q$ kept), and each point is
   classified by the eigenvalues of the Jacobian of `fn` there: unstable directions are
   $|\lambda| > 1$ (map) or $\operatorname{Re}\lambda > 0$ (flow), marginal ones lie within
   `marginal_tol` of the unit circle / the imaginary axis.

A fixed point has $q \le$ `tol`; a ghost (the slow point left behind by a saddle-node
bifurcation) is a local minimum of $q$ with $q >$ `tol`: there $\dot h$ is small but not
zero, one Jacobian eigenvalue is near 1 (map) / 0 (flow), and trajectories pass slowly.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from jaxtyping import Array, ArrayLike, Bool, Float, Inexact, Int

from .._validation import check_finite, check_positive


class FixedPoints(eqx.Module):
    r"""Output of `fixed_points`: the unique points found, lowest $q$ first.

    - `points`: `(n, dim)` the fixed points and ghosts.
    - `q`: `(n,)` $\tfrac12\lVert F(h) - h\rVert^2$ (map) or $\tfrac12\lVert\dot h\rVert^2$
      (flow) at each point.
    - `grad_norm`: `(n,)` $\lVert\nabla q\rVert_\infty$ (≈ 0: a critical point of $q$).
    - `jacobian_eigenvalues`: `(n, dim)` complex eigenvalues of the Jacobian of `fn` (of $F$
      for a map, of $f$ for a flow), leading first (largest $|\lambda|$ for a map, largest
      $\operatorname{Re}\lambda$ for a flow).
    - `unstable_dims`: `(n,)` number of eigenvalues with $|\lambda| > 1 +$ `marginal_tol`
      (map) or $\operatorname{Re}\lambda >$ `marginal_tol` (flow).
    - `marginal_dims`: `(n,)` number within `marginal_tol` of $|\lambda| = 1$ / of
      $\operatorname{Re}\lambda = 0$.
    - `counts`: `(n,)` how many initial states ended at each point.
    - `labels`: `(num_initial,)` the index of the point each initial state ended at, $-1$
      where the search did not converge (dropped).
    - `tol`, `discrete`: the settings used.

    Properties: `is_fixed` ($q \le$ `tol`), `is_ghost` (a local minimum of $q$ with
    $q >$ `tol`), `stable` (fixed, no unstable and no marginal direction), `num_dropped`.
    """

    points: Float[Array, "n dim"]
    q: Float[Array, " n"]
    grad_norm: Float[Array, " n"]
    jacobian_eigenvalues: Inexact[Array, "n dim"]  # complex, or real where all are
    unstable_dims: Int[Array, " n"]
    marginal_dims: Int[Array, " n"]
    counts: Int[Array, " n"]
    labels: Int[Array, " num_initial"]
    tol: float = eqx.field(static=True)
    discrete: bool = eqx.field(static=True)

    @property
    def is_fixed(self) -> Bool[Array, " n"]:
        return self.q <= self.tol

    @property
    def is_ghost(self) -> Bool[Array, " n"]:
        return self.q > self.tol

    @property
    def stable(self) -> Bool[Array, " n"]:
        return self.is_fixed & (self.unstable_dims == 0) & (self.marginal_dims == 0)

    @property
    def num_dropped(self) -> int:
        return int(np.sum(np.asarray(self.labels) < 0))


def residual(fn: Callable, h, args, *, discrete: bool):
    """$G(h) = F(h) - h$ (map) or $f(h)$ (flow)."""
    out = fn(h, args)
    return out - h if discrete else out


def newton_solve(residual, y0, *, tol, max_steps):
    """Dense Newton on `residual(y) = 0` from `y0` (a `lax.while_loop`; Jacobian by
    `jax.jacfwd`, steps by LU). Converged when the ∞-norms of the residual and of the last
    step are below `tol·(1 + ‖y‖∞)`. Returns `(y, converged, num_steps, jacobian)`, the
    Jacobian at the last iterate before the final step (within `tol` of `y` when
    converged); a non-finite value stops it unconverged."""

    def value_and_jac(y):
        r = residual(y)
        return r, r

    jac_fn = jax.jacfwd(value_and_jac, has_aux=True)

    def cond(c):
        y, k, done, bad, _ = c
        return (k < max_steps) & ~done & ~bad

    def body(c):
        y, k, _, _, _ = c
        jac, r = jac_fn(y)
        step = jnp.linalg.solve(jac, r)
        y_new = y - step
        scale = tol * (1.0 + jnp.max(jnp.abs(y_new)))
        done = (jnp.max(jnp.abs(step)) <= scale) & (jnp.max(jnp.abs(r)) <= scale)
        bad = ~jnp.all(jnp.isfinite(y_new))
        return jnp.where(bad, y, y_new), k + 1, done, bad, jac

    r0 = jax.eval_shape(residual, y0)
    jac0 = jnp.zeros(r0.shape + y0.shape, y0.dtype)
    y, k, done, bad, jac = jax.lax.while_loop(
        cond, body, (y0, jnp.asarray(0), jnp.asarray(False), jnp.asarray(False), jac0)
    )
    ok = done & ~bad & (jnp.max(jnp.abs(residual(y))) <= tol * (1.0 + jnp.max(jnp.abs(y))))
    return y, ok, k, jac


_POLISH_STEPS = 20


def _speed(fn, discrete):
    def q(h, args):
        g = residual(fn, h, args, discrete=discrete)
        return 0.5 * jnp.sum(g * g)

    return q


def _search_one(fn, h0, args, solver, *, max_steps, discrete, polish):
    """One search: minimise q from `h0` (optimistix), polish by Newton on ∇q = 0. Returns the
    point, q there, ‖∇q‖∞ and whether the search converged."""
    q = _speed(fn, discrete)
    with jax.numpy_dtype_promotion("standard"):
        sol = optx.minimise(q, solver, h0, args, max_steps=max_steps, throw=False)
        h = sol.value
        ok = (sol.result == optx.RESULTS.successful) & jnp.all(jnp.isfinite(h))
        if polish:
            grad_q = jax.grad(q)
            polish_tol = 1e3 * jnp.finfo(h.dtype).eps
            hp, good, _, _ = newton_solve(
                lambda y: grad_q(y, args), h, tol=polish_tol, max_steps=_POLISH_STEPS
            )
            q0, q1 = q(h, args), q(hp, args)
            scale = jnp.finfo(h.dtype).eps * (1.0 + jnp.max(jnp.abs(h)))
            good = good & (q1 <= q0 * (1.0 + 1e-6) + scale**2)
            h = jnp.where(good, hp, h)
            ok = ok | good
        qv, g = jax.value_and_grad(q)(h, args)
    ok = ok & jnp.isfinite(qv)
    return h, qv, jnp.max(jnp.abs(g)), ok


_search_single = eqx.filter_jit(_search_one)


@eqx.filter_jit
def _search(fn, states, args, solver, *, max_steps, discrete, polish):
    def one(h0):
        return _search_one(
            fn,
            h0,
            args,
            solver,
            max_steps=max_steps,
            discrete=discrete,
            polish=polish,
        )

    return jax.vmap(one)(states)


@eqx.filter_jit
def _jacobians(fn, points, args):
    return jax.vmap(lambda h: jax.jacfwd(fn)(h, args))(points)


def host_eig(a, *, vectors: bool = False):
    """`numpy.linalg.eigvals` / `eig` of a (stack of) small dense matrices with BLAS limited
    to one thread (`threadpoolctl`, when installed): on a shared, loaded machine the
    threaded OpenBLAS spin-waits, and 100 × 100 problems ran 5× slower threaded (measured
    here, 12 matrices: 0.52-0.73 s threaded, 0.11 s single-threaded)."""
    fn = np.linalg.eig if vectors else np.linalg.eigvals
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - optional
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return fn(a)
    with threadpool_limits(limits=1, user_api="blas"):
        return fn(a)


def classify_eigenvalues(eigs, *, discrete: bool, marginal_tol: float):
    """Sort eigenvalues (leading first) and count unstable / marginal ones (host numpy)."""
    eigs = np.asarray(eigs)
    growth = np.abs(eigs) - 1.0 if discrete else eigs.real
    order = np.argsort(-growth, axis=-1, kind="stable")
    eigs = np.take_along_axis(eigs, order, axis=-1)
    growth = np.take_along_axis(growth, order, axis=-1)
    unstable = np.sum(growth > marginal_tol, axis=-1)
    marginal = np.sum(np.abs(growth) <= marginal_tol, axis=-1)
    return eigs, unstable, marginal


def check_map(fn: Callable, state, second, *, name_fn: str = "fn") -> None:
    """`fn(state, second)` must return an array of `state`'s shape (checked by tracing)."""
    try:
        out = jax.eval_shape(fn, state, second)
    except Exception as err:  # noqa: BLE001 - any failure to trace is the user's fn
        raise ValueError(f"{name_fn}: could not be evaluated on a state ({err})") from err
    shape = getattr(out, "shape", None)
    if shape != tuple(state.shape):
        raise ValueError(
            f"{name_fn}: must return the next state / velocity with the state's shape "
            f"{tuple(state.shape)}, got {shape if shape is not None else type(out).__name__}"
        )


def fixed_points(
    fn: Callable[[Float[Array, " dim"], Any], Float[Array, " dim"]],
    initial_states: Float[ArrayLike, "num_initial dim"],
    *,
    args: Any = None,
    discrete: bool = True,
    solver: optx.AbstractMinimiser = optx.BFGS(rtol=1e-10, atol=1e-12),
    max_steps: int = 1000,
    polish: bool = False,
    tol: float = 1e-16,
    unique_tol: float = 1e-6,
    marginal_tol: float = 1e-6,
) -> FixedPoints:
    r"""Fixed points and ghosts of a map or flow, searched from every initial state at once
    (see the module docs for the method).

    **Arguments:**
    - `fn`: `fn(h, args)`, the next state $F(h)$ (`discrete=True`) or the velocity
      $\dot h$ (`discrete=False`), for a state `h` of shape `(dim,)`. It is part of the
      compiled program: pass a module-level function (or an `eqx.Module`) and put what
      changes between calls (a network's params) in `args`, so that nothing recompiles.
    - `initial_states`: `(num_initial, dim)`, finite.
    - `args`: keyword-only, any pytree handed to `fn`.
    - `discrete`: keyword-only; map (default) or flow.
    - `solver`: keyword-only optimistix minimiser for $q$ (default BFGS, tolerances for
      float64). In tens of dimensions or more with many initial states,
      `optx.NonlinearCG(rtol=1e-10, atol=1e-12)` is faster under vmap (O(dim) state per
      member instead of a dim × dim inverse Hessian; bench/bench_fixed_points.py: 1024
      states of the 100-unit RNN in 0.5-0.7 s against 1.8-3.3 s with BFGS on 2 CPU cores).
    - `max_steps`: keyword-only budget of the minimiser (and of the Newton polish).
    - `polish`: keyword-only; Newton on $\nabla q = 0$ after the minimiser (default off:
      BFGS alone finds the 2-D/3-D test systems' fixed points to ~1e-14 and their ghosts to
      ~5e-9, where $q$ is flat to rounding; the polish takes ghosts to ~1e-15 and roughly
      doubles the compile time).
    - `tol`: keyword-only; points with $q \le$ `tol` are fixed points, the others ghosts.
    - `unique_tol`: keyword-only; end states closer than this (∞-norm) are one point.
    - `marginal_tol`: keyword-only; eigenvalues within this of $|\lambda| = 1$ (map) or of
      $\operatorname{Re}\lambda = 0$ (flow) count as marginal.

    **Returns:** a `FixedPoints`.

    **Raises:** `ValueError` naming `initial_states` (not 2-D, empty or non-finite), `fn`
    (output shape differs from the state's), or a setting.
    """
    states = jnp.asarray(initial_states)
    if states.ndim != 2 or states.shape[0] == 0 or states.shape[1] == 0:
        raise ValueError(
            f"initial_states: expected a non-empty (num_initial, dim) array, got shape "
            f"{states.shape}"
        )
    if not jnp.issubdtype(states.dtype, jnp.inexact):
        states = states.astype(jnp.result_type(float))
    check_finite("initial_states", states)
    if not isinstance(solver, optx.AbstractMinimiser):
        raise TypeError(f"solver: expected an optimistix minimiser, got {type(solver).__name__}")
    if isinstance(max_steps, bool) or int(max_steps) != max_steps or int(max_steps) < 1:
        raise ValueError(f"max_steps: must be an integer >= 1, got {max_steps!r}")
    check_positive("tol", tol, allow_zero=True)
    check_positive("unique_tol", unique_tol, allow_zero=True)
    check_positive("marginal_tol", marginal_tol, allow_zero=True)
    check_map(fn, jax.ShapeDtypeStruct(states.shape[1:], states.dtype), args)

    pts, qs, gn, ok = _search(
        fn,
        states,
        args,
        solver,
        max_steps=int(max_steps),
        discrete=bool(discrete),
        polish=bool(polish),
    )
    pts, qs, gn, ok = (np.asarray(a) for a in (pts, qs, gn, ok))

    # unique points, lowest q first (a stable sort keeps the initial order among ties)
    labels = np.full(states.shape[0], -1, dtype=np.int64)
    keep: list[int] = []
    for i in np.argsort(np.where(ok, qs, np.inf), kind="stable"):
        if not ok[i]:
            break
        for j, k in enumerate(keep):
            if np.max(np.abs(pts[i] - pts[k])) <= unique_tol:
                labels[i] = j
                break
        else:
            labels[i] = len(keep)
            keep.append(int(i))
    idx = np.asarray(keep, dtype=np.int64)
    points = pts[idx]
    dim = states.shape[1]
    if idx.size:
        # padded to a power of two (repeating the last point): few distinct shapes compile
        size = 1 << (idx.size - 1).bit_length()
        padded = np.concatenate([points, np.repeat(points[-1:], size - idx.size, axis=0)])
        jac = np.asarray(_jacobians(fn, jnp.asarray(padded), args))[: idx.size]
        eigs = host_eig(jac)
    else:
        eigs = np.zeros((0, dim), dtype=np.result_type(pts.dtype, np.complex64))
    eigs, unstable, marginal = classify_eigenvalues(
        eigs, discrete=bool(discrete), marginal_tol=float(marginal_tol)
    )
    counts = np.bincount(labels[labels >= 0], minlength=idx.size)
    return FixedPoints(
        points=jnp.asarray(points),
        q=jnp.asarray(qs[idx]),
        grad_norm=jnp.asarray(gn[idx]),
        jacobian_eigenvalues=jnp.asarray(eigs),
        unstable_dims=jnp.asarray(unstable.astype(np.int32)),
        marginal_dims=jnp.asarray(marginal.astype(np.int32)),
        counts=jnp.asarray(counts.astype(np.int32)),
        labels=jnp.asarray(labels.astype(np.int32)),
        tol=float(tol),
        discrete=bool(discrete),
    )
