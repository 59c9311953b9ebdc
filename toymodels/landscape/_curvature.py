r"""The Gauss–Newton / residual split of the Hessian, and curvature measures of a network.

For a supervised problem with outputs $z_n = f(\theta, x_n)$ and
$L(\theta) = \frac1N\sum_n \ell(z_n, y_n)$ (`objective.per_sample`),

$$H = \underbrace{J^\top (\nabla_z^2 L) J}_{G\ \text{(Gauss–Newton)}}
 + \underbrace{\sum_{n,k} \frac{\partial L}{\partial z_{nk}}\,\nabla_\theta^2 z_{nk}}_{H_\text{res}},$$

with $J = \partial z/\partial\theta$. For MSE (½ convention) $\nabla_z^2 L = I/N$ and the
residual weights are $(z - y)/N$; for softmax cross-entropy $\nabla_{z_n}^2 L =
(\mathrm{diag}\,p_n - p_n p_n^\top)/N$ and the weights are $(p_n - e_{y_n})/N$ (Fort &
Ganguli 2019, §1.2 of the taxonomy notes). Both operators are matrix-free: $Gv$ is a JVP of
the network, an HVP of the objective in output space and a VJP; $H_\text{res}v$ is the JVP
of $\theta\mapsto J(\theta)^\top g$ with $g = \partial L/\partial z$ held fixed.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, PRNGKeyArray

from .._custom_types import Params, Scalar
from .._validation import check_positive
from ..linalg._lanczos import eigsh
from ..problems._base import AbstractSupervisedProblem
from ._hessian import _check_params, _check_problem, _ParamsOperator, hessian_operator


def _objective_of_outputs(problem: AbstractSupervisedProblem):
    def obj(z):
        return jnp.mean(problem.objective.per_sample(z, problem.targets))

    return obj


class GaussNewtonOperator(_ParamsOperator):
    r"""$v \mapsto J^\top(\nabla_z^2 L)Jv$ (positive semi-definite for convex objectives)."""

    def matvec(self, v):
        flat, unravel = ravel_pytree(self.params)
        p = self.problem
        z, jv = jax.jvp(p.outputs, (self.params,), (unravel(v.astype(flat.dtype)),))
        hjv = jax.jvp(jax.grad(_objective_of_outputs(p)), (z,), (jv,))[1]
        _, vjp = jax.vjp(p.outputs, self.params)
        return ravel_pytree(vjp(hjv)[0])[0]


class ResidualOperator(_ParamsOperator):
    r"""$v \mapsto \sum_{n,k} (\partial L/\partial z_{nk})\,(\nabla_\theta^2 z_{nk}) v$."""

    def matvec(self, v):
        flat, unravel = ravel_pytree(self.params)
        p = self.problem
        g = jax.grad(_objective_of_outputs(p))(p.outputs(self.params))

        def jtg(params):
            return jax.vjp(p.outputs, params)[1](g)[0]

        out = jax.jvp(jtg, (self.params,), (unravel(v.astype(flat.dtype)),))[1]
        return ravel_pytree(out)[0]


def _check_supervised(problem):
    _check_problem(problem)
    if not isinstance(problem, AbstractSupervisedProblem):
        raise TypeError(
            "problem: the Gauss–Newton split needs an AbstractSupervisedProblem "
            f"(outputs and objective), got {type(problem).__name__}"
        )


def gauss_newton_operator(
    problem: AbstractSupervisedProblem, params: Params
) -> GaussNewtonOperator:
    r"""The Gauss–Newton term $G = J^\top(\nabla_z^2 L)J$ as an operator on flat vectors
    (ravel_pytree order); `.to_dense()` for the matrix. MSE, softmax cross-entropy, or any
    objective with `per_sample`."""
    _check_supervised(problem)
    _check_params(params)
    return GaussNewtonOperator(problem, params)


def residual_operator(problem: AbstractSupervisedProblem, params: Params) -> ResidualOperator:
    r"""The residual term $H_\text{res} = H - G$ (output-curvature term) as an operator."""
    _check_supervised(problem)
    _check_params(params)
    return ResidualOperator(problem, params)


def gradient_fraction_in_top_subspace(
    problem: Any,
    params: Params,
    k: int,
    *,
    key: PRNGKeyArray | None = None,
    eigenvectors: Float[Array, "n k"] | None = None,
    tol: float | None = None,
) -> Scalar:
    r"""$\lVert P_k g\rVert^2/\lVert g\rVert^2$: the share of the gradient's squared norm in
    the span of the top-$k$ (largest algebraic) Hessian eigenvectors (Gur-Ari et al. 2018;
    Ghorbani et al. 2019). Pass `eigenvectors` (n, k) to reuse a computation."""
    _check_problem(problem)
    _check_params(params)
    g = ravel_pytree(problem.grad(params))[0]
    if eigenvectors is None:
        _, eigenvectors, _ = eigsh(hessian_operator(problem, params), k, key=key, tol=tol)
    V = jnp.asarray(eigenvectors, g.dtype)
    if V.ndim != 2 or V.shape[0] != g.shape[0]:
        raise ValueError(f"eigenvectors: expected shape ({g.shape[0]}, k), got {V.shape}")
    proj = V.T @ g
    return jnp.sum(proj**2) / jnp.sum(g**2)


def keskar_sharpness(
    problem: Any,
    params: Params,
    *,
    epsilon: float = 1e-3,
    key: PRNGKeyArray,
    num_directions: int | None = None,
    num_steps: int = 20,
) -> Scalar:
    r"""Keskar et al. (2017) ε-sharpness, in percent:

    $$\phi = 100\,\frac{\max_{y\in C_\varepsilon} L(\theta + A y) - L(\theta)}{1 + L(\theta)},
    \quad C_\varepsilon = \{|y_i| \le \varepsilon(|(A^+\theta)_i| + 1)\}.$$

    $A = I$ by default (full space); `num_directions=p` uses a random Gaussian $n\times p$
    $A$. The inner maximisation is projected sign-gradient ascent (`num_steps` steps from a
    random point of the box, the best value kept) instead of the paper's L-BFGS-B; it
    returns a lower bound of the true maximum, exact when the maximiser is a corner reached
    by the ascent (e.g. a convex quadratic with diagonal Hessian).
    """
    _check_problem(problem)
    _check_params(params)
    check_positive("epsilon", epsilon)
    flat, unravel = ravel_pytree(params)
    n = flat.shape[0]
    k1, k2 = jr.split(key)
    if num_directions is None:
        A = None
        box = epsilon * (jnp.abs(flat) + 1.0)
    else:
        p = int(num_directions)
        if p < 1:
            raise ValueError(f"num_directions: must be >= 1, got {num_directions}")
        A = jr.normal(k1, (n, p), flat.dtype)
        box = epsilon * (jnp.abs(jnp.linalg.pinv(A) @ flat) + 1.0)
    if int(num_steps) < 1:
        raise ValueError(f"num_steps: must be >= 1, got {num_steps}")
    return _keskar(problem, params, A, box, k2, int(num_steps))


@eqx.filter_jit
def _keskar(problem, params, A, box, key, num_steps):
    flat, unravel = ravel_pytree(params)

    def f(y):
        return problem.loss(unravel(flat + (y if A is None else A @ y)))

    f0 = f(jnp.zeros_like(box))
    y0 = box * jr.uniform(key, box.shape, box.dtype, -1.0, 1.0)
    vg = jax.value_and_grad(f)

    def step(carry, _):
        y, best = carry
        val, g = vg(y)
        y = jnp.clip(y + box * jnp.sign(g), -box, box)
        return (y, jnp.maximum(best, val)), None

    (y, best), _ = jax.lax.scan(step, (y0, f(y0)), None, length=num_steps)
    best = jnp.maximum(best, f(y))
    return 100.0 * (best - f0) / (1.0 + f0)
