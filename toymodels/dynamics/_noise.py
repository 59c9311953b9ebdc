r"""SGD gradient noise and its relation to the Hessian (Li et al. 2019; ghost-nonnormal-eos.md §4).

For a supervised problem with per-sample losses $\ell_n$ and $L = \frac1N\sum_n\ell_n$, the
mini-batch gradient $g_B = \frac1B\sum_{n\in B}\nabla\ell_n$ has mean $\nabla L$ and covariance

$$\Sigma_B = \frac{C}{B}\quad\text{(with replacement)},\qquad
\Sigma_B = \frac{C}{B}\,\frac{N-B}{N-1}\quad\text{(without)},\qquad
C = \frac1N\sum_n(\nabla\ell_n - \nabla L)(\nabla\ell_n - \nabla L)^\top.$$

Fisher identity: for a softmax model with labels drawn from the model itself,
$\mathbb E_{y\sim p_\theta}[\nabla\ell\nabla\ell^\top] = \frac1N\sum_n J_n^\top(\mathrm{diag}\,p_n -
p_np_n^\top)J_n$ (the Gauss–Newton matrix), which is the Hessian when the logits are linear in
$\theta$. One SGD step on a quadratic:
$\mathbb E[L(\theta - \eta g_B)] = L - \eta\lVert\nabla L\rVert^2 + \tfrac{\eta^2}{2}
\mathrm{tr}\big(H(\nabla L\nabla L^\top + \Sigma_B)\big)$ (second order in general).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float

from .._custom_types import Params
from .._validation import check_learning_rate
from ..problems import AbstractSupervisedProblem, CrossEntropy
from ._common import flatten_params


def _check_supervised(problem):
    if not isinstance(problem, AbstractSupervisedProblem):
        raise TypeError(
            "problem: expected a supervised problem (toymodels.problems.AbstractSupervisedProblem)"
        )


def _batch(name, batch_size, n):
    b = int(batch_size)
    if not 1 <= b <= n:
        raise ValueError(f"{name}: must be in [1, {n}], got {batch_size}")
    return b


def per_sample_gradients(problem, params: Params) -> Float[Array, "N P"]:
    r"""$\nabla\ell_n(\theta)$ for every sample, as rows of an `(N, P)` array (`ravel_pytree`
    order)."""
    _check_supervised(problem)
    flatten_params("params", params)
    return _per_sample(problem, params)


@eqx.filter_jit
def _per_sample(problem, params):
    # jitted once per problem structure and shapes (the problem's arrays are traced)
    flat, unravel = ravel_pytree(params)

    def one(x, y):
        prob = problem.with_data(x[None], y[None])
        return jax.grad(lambda f: prob.loss(unravel(f)))(flat)

    return jax.vmap(one)(problem.x, problem.targets)


def gradient_noise_covariance(
    problem, params: Params, *, batch_size: int = 1, replace: bool = True
) -> Float[Array, "P P"]:
    r"""Covariance $\Sigma_B$ of the mini-batch gradient for batches of `batch_size` drawn
    uniformly with (`replace=True`) or without replacement (see module docstring)."""
    g = per_sample_gradients(problem, params)
    n = g.shape[0]
    b = _batch("batch_size", batch_size, n)
    d = g - jnp.mean(g, axis=0)
    c = d.T @ d / n
    factor = 1.0 / b if replace else (n - b) / (b * max(n - 1, 1))
    return factor * c


def gradient_second_moment(problem, params: Params) -> Float[Array, "P P"]:
    r"""$\frac1N\sum_n\nabla\ell_n\nabla\ell_n^\top$ (the empirical Fisher)."""
    g = per_sample_gradients(problem, params)
    return g.T @ g / g.shape[0]


def fisher_information(problem, params: Params) -> Float[Array, "P P"]:
    r"""Model Fisher $\mathbb E_x\mathbb E_{y\sim p_\theta(\cdot|x)}[\nabla\ell\nabla\ell^\top]
    = \frac1N\sum_n J_n^\top(\mathrm{diag}\,p_n - p_np_n^\top)J_n$ for a softmax
    cross-entropy problem ($J_n$: Jacobian of the logits of sample $n$)."""
    _check_supervised(problem)
    if not isinstance(problem.objective, CrossEntropy):
        raise ValueError("problem: the Fisher identity needs a CrossEntropy objective")
    flatten_params("params", params)
    return _fisher(problem, params)


@eqx.filter_jit
def _fisher(problem, params):
    flat, unravel = ravel_pytree(params)

    def one(x):
        logits_fn = lambda f: problem.apply(unravel(f), x[None])[0]  # noqa: E731
        z = logits_fn(flat)
        jac = jax.jacrev(logits_fn)(flat)  # (C, P)
        p = jax.nn.softmax(z)
        a = jnp.diag(p) - jnp.outer(p, p)
        return jac.T @ a @ jac

    return jnp.mean(jax.vmap(one)(problem.x), axis=0)


def sgd_expected_loss_change(
    problem,
    params: Params,
    *,
    learning_rate: float,
    batch_size: int = 1,
    replace: bool = True,
) -> Float[Array, ""]:
    r"""Second-order prediction of $\mathbb E[L(\theta - \eta g_B)] - L(\theta)$:
    $-\eta\lVert\nabla L\rVert^2 + \tfrac{\eta^2}{2}(\nabla L^\top H\nabla L + \mathrm{tr}(H\Sigma_B))$,
    exact for a quadratic loss. The expected loss decreases iff
    $\eta < 2\lVert\nabla L\rVert^2 / (\nabla L^\top H\nabla L + \mathrm{tr}(H\Sigma_B))$
    (`sgd_decrease_threshold`)."""
    from ..landscape import hessian  # noqa: PLC0415

    check_learning_rate("learning_rate", learning_rate)
    a, q = _quadratic_terms(problem, params, batch_size, replace, hessian)
    return -learning_rate * a + 0.5 * learning_rate**2 * q


def sgd_decrease_threshold(
    problem, params: Params, *, batch_size: int = 1, replace: bool = True
) -> Float[Array, ""]:
    r"""$2\lVert\nabla L\rVert^2/(\nabla L^\top H\nabla L + \mathrm{tr}(H\Sigma_B))$."""
    from ..landscape import hessian  # noqa: PLC0415

    a, q = _quadratic_terms(problem, params, batch_size, replace, hessian)
    return 2 * a / q


def _quadratic_terms(problem, params, batch_size, replace, hessian):
    _check_supervised(problem)
    flat, _ = ravel_pytree(params)
    sigma = gradient_noise_covariance(problem, params, batch_size=batch_size, replace=replace)
    h = hessian(problem, params)
    g = ravel_pytree(jax.grad(problem.loss)(params))[0]
    return g @ g, g @ h @ g + jnp.sum(h * sigma)
