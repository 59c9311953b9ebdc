r"""Critical points: Newton polish to machine precision, a gradient-norm minimizer that also
finds saddles, and the Hessian index and near-zero modes at the result."""

import dataclasses
import enum

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import optimistix as optx
from jax.flatten_util import ravel_pytree

from .._custom_types import Params
from .._validation import as_enum, check_positive
from ._common import check_problem, flat_loss, flatten_params, max_abs


class CriticalMethod(enum.Enum):
    r"""How `find_critical_point` solves $\nabla L(\theta) = 0$.

    - `NEWTON`: Newton steps $\delta = -H^{+}\nabla L$ (least-squares/pseudo-inverse solve, so
      symmetry-induced zero modes of $H$ do no harm), with backtracking on
      $\lVert\nabla L\rVert$; converges to the nearby critical point of any index.
    - `GRAD_NORM`: Levenberg–Marquardt on the residual $\nabla L$ (minimizes
      $\tfrac12\lVert\nabla L\rVert^2$ with Jacobian $H$; optimistix); lands on minima and
      saddles alike, from further away than Newton.
    """

    NEWTON = "newton"
    GRAD_NORM = "grad_norm"


@dataclasses.dataclass(frozen=True)
class CriticalPoint:
    """Output of `find_critical_point`.

    - `params`, `loss`, `grad_norm` (∞-norm of the gradient).
    - `index`: number of Hessian eigenvalues below `−zero_tol·max|λ|` (the saddle index).
    - `num_zero_modes`: number with `|λ| ≤ zero_tol·max|λ|`.
    - `eigenvalues`: the Hessian spectrum (all of it when dense; the `num_eigs` smallest when
      matrix-free, then `index` and `num_zero_modes` count among those only).
    - `steps`, `converged` (`grad_norm < gtol`).
    """

    params: Params
    loss: float
    grad_norm: float
    index: int
    num_zero_modes: int
    eigenvalues: np.ndarray
    steps: int
    converged: bool


@eqx.filter_jit
def _newton(problem, params, gtol, *, max_steps, matrix_free):
    flat0, unravel = ravel_pytree(params)
    loss = flat_loss(problem, unravel)
    grad = jax.grad(loss)
    dtype = flat0.dtype

    def solve(x, g):
        if matrix_free:
            op = lx.FunctionLinearOperator(
                lambda v: jax.jvp(grad, (x,), (v,))[1],
                jax.ShapeDtypeStruct(x.shape, dtype),
                lx.symmetric_tag,
            )
            solver = lx.GMRES(rtol=1e-12, atol=1e-14 * jnp.maximum(1.0, max_abs(g)), restart=50)
        else:
            op = lx.MatrixLinearOperator(jax.hessian(loss)(x), lx.symmetric_tag)
            solver = lx.SVD()
        return lx.linear_solve(op, -g, solver, throw=False).value

    def cond(state):
        x, g, k, stalled = state
        return (max_abs(g) >= gtol) & (k < max_steps) & ~stalled

    def body(state):
        x, g, k, _ = state
        delta = solve(x, g)
        gn = max_abs(g)

        # backtracking on the gradient norm: alpha = 1, 1/2, ..., 2^-12
        def try_step(carry):
            alpha, _, _, _ = carry
            xn = x + alpha * delta
            gn_new = max_abs(grad(xn))
            return alpha / 2, xn, gn_new, gn_new < gn

        def keep_trying(carry):
            alpha, _, _, ok = carry
            return (~ok) & (alpha > 2.0**-12)

        alpha, xn, _, ok = jax.lax.while_loop(
            keep_trying, try_step, (jnp.asarray(1.0, dtype), x, gn, jnp.asarray(False))
        )
        ok = ok & jnp.all(jnp.isfinite(xn))
        xn = jnp.where(ok, xn, x)
        return xn, grad(xn), k + 1, ~ok

    x, g, k, _ = jax.lax.while_loop(
        cond, body, (flat0, grad(flat0), jnp.asarray(0), jnp.asarray(False))
    )
    return unravel(x), k


@eqx.filter_jit
def _grad_norm_min(problem, params, gtol, *, max_steps):
    flat0, unravel = ravel_pytree(params)
    grad = jax.grad(flat_loss(problem, unravel))
    solver = optx.LevenbergMarquardt(rtol=1e-14, atol=gtol, norm=optx.max_norm)
    sol = optx.least_squares(lambda x, _: grad(x), solver, flat0, max_steps=max_steps, throw=False)
    return unravel(sol.value), sol.stats["num_steps"]


def find_critical_point(
    problem,
    params: Params,
    *,
    method: CriticalMethod | str = CriticalMethod.NEWTON,
    gtol: float = 1e-12,
    max_steps: int = 100,
    zero_tol: float = 1e-8,
    matrix_free: bool | None = None,
    dense_limit: int = 2000,
    num_eigs: int = 10,
    key=None,
) -> CriticalPoint:
    r"""Polish `params` to a critical point of `problem.loss` and classify it.

    **Arguments:**
    - `method`: a `CriticalMethod`: `"newton"` (default; for a flow's end point) or
      `"grad_norm"` (Levenberg–Marquardt on $\nabla L$; may land on saddles).
    - `gtol`: target gradient ∞-norm (default 1e-12, reachable in float64 for well-scaled
      problems).
    - `max_steps`: iteration budget.
    - `zero_tol`: eigenvalues with $|\lambda| \le$ `zero_tol`$\cdot\max|\lambda|$ count as zero
      modes, those below $-$`zero_tol`$\cdot\max|\lambda|$ toward the index.
    - `matrix_free`, `dense_limit`, `num_eigs`: above `dense_limit` parameters (or with
      `matrix_free=True`) Newton solves with GMRES on HVPs and the spectrum is the
      `num_eigs` smallest eigenvalues by Lanczos (`toymodels.linalg.eigsh`, `key`).

    **Returns:** a `CriticalPoint` (check `converged`).
    """
    check_problem(problem)
    flat0, _ = flatten_params("params", params)
    method = as_enum("method", method, CriticalMethod)
    check_positive("gtol", gtol)
    check_positive("zero_tol", zero_tol)
    if int(max_steps) < 1:
        raise ValueError(f"max_steps: must be >= 1, got {max_steps}")
    n = flat0.size
    if matrix_free is None:
        matrix_free = n > dense_limit
    dtype = flat0.dtype
    if method is CriticalMethod.NEWTON:
        out, steps = _newton(
            problem,
            params,
            jnp.asarray(gtol, dtype),
            max_steps=int(max_steps),
            matrix_free=bool(matrix_free),
        )
    else:
        out, steps = _grad_norm_min(
            problem, params, jnp.asarray(gtol, dtype), max_steps=int(max_steps)
        )
    return classify(
        problem,
        out,
        gtol=gtol,
        zero_tol=zero_tol,
        matrix_free=matrix_free,
        num_eigs=num_eigs,
        key=key,
        steps=int(steps),
    )


def classify(
    problem,
    params: Params,
    *,
    gtol: float = 1e-12,
    zero_tol: float = 1e-8,
    matrix_free: bool = False,
    num_eigs: int = 10,
    key=None,
    steps: int = 0,
) -> CriticalPoint:
    """Loss, gradient norm, Hessian index and near-zero modes at `params` (no polishing)."""
    from ..landscape import hessian, hessian_operator  # noqa: PLC0415
    from ..linalg import eigsh  # noqa: PLC0415

    check_problem(problem)
    flat, unravel = flatten_params("params", params)
    loss, g = jax.value_and_grad(flat_loss(problem, unravel))(flat)
    if matrix_free:
        k = min(int(num_eigs), flat.size)
        lo, _, _ = eigsh(hessian_operator(problem, params), k, which="smallest", key=key)
        hi, _, _ = eigsh(hessian_operator(problem, params), 1, which="largest", key=key)
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
        steps=steps,
        converged=gn < gtol,
    )
