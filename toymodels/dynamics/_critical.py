r"""Minimisation and critical points over optimistix solver objects, and the Hessian index and
near-zero modes at the result.

- `minimize(problem, params0, *, solver=optx.BFGS(...))`: any `optimistix.AbstractMinimiser`
  (BFGS, NonlinearCG, Nelder–Mead, ...) or least-squares solver on the loss.
- `find_critical_point(problem, params, *, solver=optx.Newton(...))`: solves
  $\nabla L(\theta) = 0$ with a root finder (Newton: lands on the nearby critical point of any
  index; with `lineax.SVD()` symmetry-induced zero modes of $H$ do no harm) or a
  least-squares solver on the residual $\nabla L$ (Levenberg–Marquardt: minimizes
  $\tfrac12\lVert\nabla L\rVert^2$ with Jacobian $H$, lands on minima and saddles alike from
  further away than Newton).
- `classify(problem, params)`: loss, gradient norm, Hessian index and zero modes.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import optimistix as optx
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, PRNGKeyArray

from .._custom_types import Params
from .._validation import check_key, check_positive
from ._common import check_problem, flat_loss, flatten_params, max_abs
from ._run import StopCode, StopReason, reason_code


class Minimum(eqx.Module):
    """Output of `minimize`: `params`, `loss`, `grad_norm` (∞-norm), `num_steps`, and
    `stop_reason` (`"converged"`, `"max_steps"`, `"diverged"` or `"failed"`)."""

    params: Params
    loss: Array
    grad_norm: Array
    num_steps: Array
    stop_reason: StopCode

    @property
    def converged(self) -> bool:
        return bool(self.stop_reason == StopReason.CONVERGED)


class CriticalPoint(eqx.Module):
    """Output of `find_critical_point` and `classify`.

    - `params`, `loss`, `grad_norm` (∞-norm of the gradient).
    - `index`: number of Hessian eigenvalues below `−zero_tol·max|λ|` (the saddle index).
    - `num_zero_modes`: number with `|λ| ≤ zero_tol·max|λ|`.
    - `eigenvalues`: the Hessian spectrum (all of it when dense; the `num_eigs` smallest when
      matrix-free, then `index` and `num_zero_modes` count among those only).
    - `num_steps`, `converged` (`grad_norm < gtol`).
    """

    params: Params
    loss: float
    grad_norm: float
    index: int
    num_zero_modes: int
    eigenvalues: np.ndarray
    num_steps: int
    converged: bool


def _code(result, value) -> Array:
    ok = jnp.all(jnp.isfinite(value))
    return jnp.where(
        ~ok,
        reason_code(StopReason.DIVERGED),
        jnp.where(
            result == optx.RESULTS.successful,
            reason_code(StopReason.CONVERGED),
            jnp.where(
                (result == optx.RESULTS.nonlinear_max_steps_reached)
                | (result == optx.RESULTS.max_steps_reached),
                reason_code(StopReason.MAX_STEPS),
                reason_code(StopReason.FAILED),
            ),
        ),
    ).astype(jnp.int32)


@eqx.filter_jit
def _minimise(problem, params0, solver, *, max_steps):
    def fn(p, _):
        return problem.loss(p)

    with jax.numpy_dtype_promotion("standard"):
        if isinstance(solver, optx.AbstractLeastSquaresSolver):
            raise TypeError("solver: use a minimiser for minimize (least squares takes residuals)")
        sol = optx.minimise(fn, solver, params0, max_steps=max_steps, throw=False)
    loss, g = jax.value_and_grad(problem.loss)(sol.value)
    flat_g, _ = ravel_pytree(g)
    return Minimum(
        params=sol.value,
        loss=loss,
        grad_norm=max_abs(flat_g),
        num_steps=sol.stats["num_steps"],
        stop_reason=StopCode(_code(sol.result, ravel_pytree(sol.value)[0])),
    )


def minimize(
    problem,
    params0: Params,
    *,
    solver: optx.AbstractMinimiser = optx.BFGS(rtol=1e-10, atol=1e-10),
    max_steps: int = 10_000,
) -> Minimum:
    """Minimise `problem.loss` from `params0` (any params pytree) with an optimistix
    minimiser (default BFGS with tolerances for float64; `optx.NonlinearCG`,
    `optx.GradientDescent`, ... work the same). Pure apart from the input checks; jit- and
    vmap-able through `toymodels.dynamics._critical._minimise`'s filter_jit."""
    check_problem(problem)
    flatten_params("params0", params0)
    if not isinstance(solver, optx.AbstractMinimiser):
        raise TypeError(f"solver: expected an optimistix minimiser, got {type(solver).__name__}")
    if int(max_steps) < 1:
        raise ValueError(f"max_steps: must be >= 1, got {max_steps}")
    return _minimise(problem, params0, solver, max_steps=int(max_steps))


@eqx.filter_jit
def _critical(problem, params, solver, *, max_steps):
    flat0, unravel = ravel_pytree(params)
    grad = jax.grad(flat_loss(problem, unravel))

    def fn(x, _):
        return grad(x)

    with jax.numpy_dtype_promotion("standard"):
        if isinstance(solver, optx.AbstractRootFinder):
            sol = optx.root_find(fn, solver, flat0, max_steps=max_steps, throw=False)
        else:
            sol = optx.least_squares(fn, solver, flat0, max_steps=max_steps, throw=False)
    return unravel(sol.value), sol.stats["num_steps"]


def newton(*, gtol: float = 1e-12, matrix_free: bool = False) -> optx.AbstractRootFinder:
    r"""Newton's method on $\nabla L = 0$ stopping at gradient ∞-norm `gtol`: the step
    solves $H\delta = -\nabla L$ by SVD (pseudo-inverse; zero modes of $H$ do no harm), or by
    GMRES on Hessian–vector products when `matrix_free` (no Hessian is formed)."""
    check_positive("gtol", gtol)
    if matrix_free:
        linear_solver = lx.GMRES(rtol=1e-12, atol=1e-14, restart=50)
    else:
        linear_solver = lx.SVD()
    return optx.Newton(rtol=1e-14, atol=gtol, norm=optx.max_norm, linear_solver=linear_solver)


def find_critical_point(
    problem,
    params: Params,
    *,
    solver: optx.AbstractRootFinder | optx.AbstractLeastSquaresSolver | None = None,
    gtol: float = 1e-12,
    max_steps: int = 100,
    zero_tol: float = 1e-8,
    matrix_free: bool | None = None,
    dense_limit: int = 2000,
    num_eigs: int = 10,
    key: PRNGKeyArray | None = None,
) -> CriticalPoint:
    r"""Polish `params` to a critical point of `problem.loss` and classify it.

    **Arguments:**
    - `solver`: an optimistix root finder applied to $\nabla L$ (default `newton(gtol=gtol)`,
      for a flow's end point) or a least-squares solver applied to the residual $\nabla L$
      (`optx.LevenbergMarquardt(rtol=..., atol=gtol, norm=optx.max_norm)`: may land on
      saddles, from further away).
    - `gtol`: the gradient ∞-norm at which the point counts as `converged` (default 1e-12,
      reachable in float64 for well-scaled problems).
    - `max_steps`: iteration budget.
    - `zero_tol`: eigenvalues with $|\lambda| \le$ `zero_tol`$\cdot\max|\lambda|$ count as zero
      modes, those below $-$`zero_tol`$\cdot\max|\lambda|$ toward the index.
    - `matrix_free`, `dense_limit`, `num_eigs`, `key`: above `dense_limit` parameters (or with
      `matrix_free=True`) the default Newton solves with GMRES on HVPs and the spectrum is
      the `num_eigs` smallest eigenvalues by Lanczos (`toymodels.linalg.eigsh`), which then
      needs `key`.

    **Returns:** a `CriticalPoint` (check `converged`).
    """
    check_problem(problem)
    flat0, _ = flatten_params("params", params)
    check_positive("gtol", gtol)
    if key is not None:
        check_key("key", key)
    if int(max_steps) < 1:
        raise ValueError(f"max_steps: must be >= 1, got {max_steps}")
    if matrix_free is None:
        matrix_free = flat0.size > dense_limit
    if solver is None:
        solver = newton(gtol=gtol, matrix_free=bool(matrix_free))
    if not isinstance(solver, optx.AbstractRootFinder | optx.AbstractLeastSquaresSolver):
        raise TypeError(
            "solver: expected an optimistix root finder or least-squares solver, got "
            f"{type(solver).__name__}"
        )
    out, steps = _critical(problem, params, solver, max_steps=int(max_steps))
    return classify(
        problem,
        out,
        gtol=gtol,
        zero_tol=zero_tol,
        matrix_free=matrix_free,
        num_eigs=num_eigs,
        key=key,
        num_steps=int(steps),
    )


@eqx.filter_jit
def _value_and_grad(problem, params):
    loss, g = jax.value_and_grad(problem.loss)(params)
    return loss, ravel_pytree(g)[0]


def classify(
    problem,
    params: Params,
    *,
    gtol: float = 1e-12,
    zero_tol: float = 1e-8,
    matrix_free: bool = False,
    num_eigs: int = 10,
    key: PRNGKeyArray | None = None,
    num_steps: int = 0,
) -> CriticalPoint:
    """Loss, gradient norm, Hessian index and near-zero modes at `params` (no polishing).
    Matrix-free (Lanczos) classification needs `key`."""
    from ..landscape import hessian, hessian_operator  # noqa: PLC0415
    from ..linalg import eigsh  # noqa: PLC0415

    check_problem(problem)
    flat, _ = flatten_params("params", params)
    if key is not None:
        check_key("key", key)
    loss, g = _value_and_grad(problem, params)
    if matrix_free:
        if key is None:
            raise TypeError("key: matrix-free classification (Lanczos) needs a PRNG key")
        k1, k2 = jax.random.split(key)
        k = min(int(num_eigs), flat.size)
        lo, _, _ = eigsh(hessian_operator(problem, params), k, which="smallest", key=k1)
        hi, _, _ = eigsh(hessian_operator(problem, params), 1, which="largest", key=k2)
        eigs = np.sort(np.asarray(lo))
        scale = max(float(np.max(np.abs(eigs))), abs(float(hi[0])))
    else:
        eigs = np.linalg.eigvalsh(np.asarray(hessian(problem, params)))
        scale = float(np.max(np.abs(eigs)))
    thr = zero_tol * max(scale, np.finfo(eigs.dtype).tiny)
    gn = float(max_abs(g))
    return CriticalPoint(
        params=params,
        loss=float(loss),
        grad_norm=gn,
        index=int(np.sum(eigs < -thr)),
        num_zero_modes=int(np.sum(np.abs(eigs) <= thr)),
        eigenvalues=eigs,
        num_steps=num_steps,
        converged=gn < gtol,
    )
