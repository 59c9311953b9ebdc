r"""Dense-Hessian minimisation and Newton polishing for tiny problems (a few hundred
parameters at most): enough to put the symmetry constructions on exact critical points."""

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from .._custom_types import Params


def _flat_loss(problem, params):
    x0, unravel = jax.flatten_util.ravel_pytree(params)
    return x0, lambda x: problem.loss(unravel(x))


@eqx.filter_jit
def _newton_data(problem, params, x):
    """Loss, gradient and dense Hessian at the flat point `x` (one compilation per problem
    and params shape; everything else runs on the host: the problems here are tiny)."""
    _, f = _flat_loss(problem, params)
    return f(x), jax.grad(f)(x), jax.hessian(f)(x)


def _host(problem, params, x):
    f, g, H = _newton_data(problem, params, jnp.asarray(x))
    return float(f), np.asarray(g), np.asarray(H)


def dense_hessian(problem, params: Params):
    """The dense Hessian of `problem.loss` in the `ravel_pytree` coordinates of `params`."""
    x0, _ = jax.flatten_util.ravel_pytree(params)
    return _newton_data(problem, params, x0)[2]


def grad_inf_norm(problem, params: Params) -> float:
    """∞-norm of the gradient of `problem.loss` at `params`."""
    x0, _ = jax.flatten_util.ravel_pytree(params)
    return float(jnp.max(jnp.abs(_newton_data(problem, params, x0)[1])))


def minimize_dense(
    problem,
    params: Params,
    *,
    max_steps: int = 500,
    gtol: float = 1e-13,
    newton_steps: int = 8,
) -> tuple[Params, dict]:
    r"""Minimise `problem.loss` from `params` by damped Newton steps
    $\delta = -(H + \mu I)^{-1}\nabla L$ with $\mu$ adapted (Levenberg–Marquardt: divided by
    3 on success, multiplied by 4 on failure, never below $-\lambda_\min(H)$), then polish
    with `newton_steps` undamped Newton steps (least-squares solves, so exact zero modes of
    the Hessian are harmless). Returns `(params, info)` with `info` holding `loss`,
    `grad_inf` (∞-norm of the gradient) and `steps`."""
    if int(max_steps) < 0 or int(newton_steps) < 0:
        raise ValueError("max_steps: must be >= 0 (and newton_steps too)")
    x0, unravel = jax.flatten_util.ravel_pytree(params)
    x = np.asarray(x0)
    mu = 1e-3
    steps = 0
    for _ in range(int(max_steps)):
        steps += 1
        fx, gx, H = _host(problem, params, x)
        if np.max(np.abs(gx)) < gtol:
            break
        lam_min = float(np.linalg.eigvalsh(H)[0])
        mu_eff = max(mu, -lam_min + 1e-8 * max(1.0, abs(lam_min)))
        eye = np.eye(x.size)
        for _ in range(60):
            xn = x - np.linalg.solve(H + mu_eff * eye, gx)
            fn = _host(problem, params, xn)[0]
            if np.isfinite(fn) and fn <= fx:
                x = xn
                mu = max(mu_eff / 3.0, 1e-12)
                break
            mu_eff *= 4.0
        else:
            break
    x, gi = _newton(problem, params, x, newton_steps)
    return unravel(jnp.asarray(x, x0.dtype)), {
        "loss": _host(problem, params, x)[0],
        "grad_inf": gi,
        "steps": steps,
    }


def _newton(problem, params, x, steps):
    _, g, H = _host(problem, params, x)
    best, best_g = x, float(np.max(np.abs(g)))
    for _ in range(int(steps)):
        x = x - np.linalg.lstsq(H, g, rcond=None)[0]
        _, g, H = _host(problem, params, x)
        gi = float(np.max(np.abs(g)))
        if not np.isfinite(gi):
            break
        if gi < best_g:
            best, best_g = x, gi
    return best, best_g


def newton_polish(problem, params: Params, *, steps: int = 10) -> tuple[Params, float]:
    """Undamped Newton (least-squares solves with the dense Hessian) from `params`, which
    must already be near a critical point. Returns `(params, gradient ∞-norm)`; the best
    iterate is kept."""
    x0, unravel = jax.flatten_util.ravel_pytree(params)
    x, gi = _newton(problem, params, np.asarray(x0), steps)
    return unravel(jnp.asarray(x, x0.dtype)), gi
