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
def _loss_at(problem, params, x):
    _, f = _flat_loss(problem, params)
    return f(x)


@eqx.filter_jit
def _grad_at(problem, params, x):
    _, f = _flat_loss(problem, params)
    return jax.grad(f)(x)


@eqx.filter_jit
def _newton_data(problem, params, x):
    _, f = _flat_loss(problem, params)
    g = jax.grad(f)(x)
    H = jax.hessian(f)(x)
    return f(x), g, H, jnp.linalg.eigvalsh(H)[0]


@eqx.filter_jit
def _damped_trial(problem, params, x, g, H, mu):
    _, f = _flat_loss(problem, params)
    xn = x - jnp.linalg.solve(H + mu * jnp.eye(x.size, dtype=x.dtype), g)
    return xn, f(xn)


@eqx.filter_jit
def _newton_step(problem, params, x):
    _, f = _flat_loss(problem, params)
    g = jax.grad(f)(x)
    H = jax.hessian(f)(x)
    xn = x - jnp.linalg.lstsq(H, g)[0]
    return xn, jnp.max(jnp.abs(jax.grad(f)(xn)))


@eqx.filter_jit
def dense_hessian(problem, params: Params):
    """The dense Hessian of `problem.loss` in the `ravel_pytree` coordinates of `params`."""
    x0, f = _flat_loss(problem, params)
    return jax.hessian(f)(x0)


def grad_inf_norm(problem, params: Params) -> float:
    """∞-norm of the gradient of `problem.loss` at `params`."""
    x0, _ = jax.flatten_util.ravel_pytree(params)
    return float(jnp.max(jnp.abs(_grad_at(problem, params, x0))))


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
    x, unravel = jax.flatten_util.ravel_pytree(params)
    mu = 1e-3
    steps = 0
    for _ in range(int(max_steps)):
        steps += 1
        fx, gx, H, lam_min = _newton_data(problem, params, x)
        fx, lam_min = float(fx), float(lam_min)
        if float(jnp.max(jnp.abs(gx))) < gtol:
            break
        mu_eff = max(mu, -lam_min + 1e-8 * max(1.0, abs(lam_min)))
        for _ in range(60):
            xn, fn = _damped_trial(problem, params, x, gx, H, mu_eff)
            fn = float(fn)
            if np.isfinite(fn) and fn <= fx:
                x = xn
                mu = max(mu_eff / 3.0, 1e-12)
                break
            mu_eff *= 4.0
        else:
            break
    x, gi = _newton(problem, params, x, newton_steps)
    return unravel(x), {
        "loss": float(_loss_at(problem, params, x)),
        "grad_inf": gi,
        "steps": steps,
    }


def _newton(problem, params, x, steps):
    best = x
    best_g = float(jnp.max(jnp.abs(_grad_at(problem, params, x))))
    for _ in range(int(steps)):
        x, gi = _newton_step(problem, params, x)
        gi = float(gi)
        if not np.isfinite(gi):
            break
        if gi < best_g:
            best, best_g = x, gi
    return best, best_g


def newton_polish(problem, params: Params, *, steps: int = 10) -> tuple[Params, float]:
    """Undamped Newton (least-squares solves with the dense Hessian) from `params`, which
    must already be near a critical point. Returns `(params, gradient ∞-norm)`; the best
    iterate is kept."""
    x, unravel = jax.flatten_util.ravel_pytree(params)
    x, gi = _newton(problem, params, x, steps)
    return unravel(x), gi
