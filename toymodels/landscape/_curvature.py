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
import optax
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, PRNGKeyArray

from .._custom_types import Params, Scalar
from .._validation import check_key, check_positive
from ..dynamics import Stop, run
from ..problems._base import AbstractProblem, AbstractSupervisedProblem
from ._hessian import _check_params, _check_problem, _ParamsOperator


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
    *,
    eigenvectors: Float[Array, "n k"],
) -> Scalar:
    r"""$\lVert P_k g\rVert^2/\lVert g\rVert^2$: the share of the gradient's squared norm in
    the span of the top-$k$ Hessian eigenvectors (Gur-Ari et al. 2018; Ghorbani et al. 2019).

    `eigenvectors` is the `(n, k)` matrix of orthonormal eigenvectors (`ravel_pytree` order),
    e.g. `toymodels.linalg.eigsh(hessian_operator(problem, params), k, key=key)[1]`."""
    _check_problem(problem)
    _check_params(params)
    g = ravel_pytree(problem.grad(params))[0]
    V = jnp.asarray(eigenvectors, g.dtype)
    if V.ndim != 2 or V.shape[0] != g.shape[0]:
        raise ValueError(f"eigenvectors: expected shape ({g.shape[0]}, k), got {V.shape}")
    proj = V.T @ g
    return jnp.sum(proj**2) / jnp.sum(g**2)


class _KeskarProblem(AbstractProblem):
    r"""The inner problem of Keskar et al.'s ε-sharpness as a problem transform: params
    $u\in[-1, 1]^p$ (box coordinates), loss $-L(\theta + A(b\odot u))$ with the box
    half-widths $b$ (`box`) and $A$ = `directions` (`None`: the identity). Minimising it
    maximises $L$ over the box $C_\varepsilon = \{|y_i|\le b_i\}$, $y = b\odot u$."""

    problem: AbstractProblem
    params: Params
    box: Float[Array, " p"]
    directions: Float[Array, "n p"] | None

    def loss(self, u: Float[Array, " p"]) -> Scalar:
        flat, unravel = ravel_pytree(self.params)
        y = self.box * u
        step = y if self.directions is None else self.directions @ y
        return -self.problem.loss(unravel(flat + step))

    def init(self, key: PRNGKeyArray) -> Float[Array, " p"]:
        """A uniform random point of the box."""
        return jr.uniform(key, self.box.shape, self.box.dtype, -1.0, 1.0)


def _box_sign_ascent_init(params):
    del params
    return optax.EmptyState()


def _box_sign_ascent_update(updates, state, params=None):
    r"""$u \leftarrow \mathrm{clip}(u - \mathrm{sign}(g), -1, 1)$ as an optax update."""
    new = jax.tree_util.tree_map(lambda u, g: jnp.clip(u - jnp.sign(g), -1.0, 1.0), params, updates)
    return jax.tree_util.tree_map(lambda n, u: n - u, new, params), state


#: projected sign-gradient steps of one box width in box coordinates (module-level, so that
#: every call of `keskar_sharpness` shares one compiled run)
_BOX_SIGN_DESCENT = optax.GradientTransformation(_box_sign_ascent_init, _box_sign_ascent_update)


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
    $A$. The inner maximisation is projected sign-gradient ascent with the box half-widths
    $b$, $y \leftarrow \mathrm{clip}(y + b\odot\mathrm{sign}\,\nabla L, -b, b)$: `num_steps`
    steps of `toymodels.dynamics.run` on the problem transform $u \mapsto -L(\theta +
    A(b\odot u))$ in box coordinates $y = b\odot u$, from a random point of the box, the best
    value kept. It replaces the paper's L-BFGS-B and returns a lower bound of the true
    maximum, exact when the maximiser is a corner reached by the ascent (e.g. a convex
    quadratic with diagonal Hessian).
    """
    _check_problem(problem)
    _check_params(params)
    check_positive("epsilon", epsilon)
    check_key("key", key)
    flat, _ = ravel_pytree(params)
    n = flat.shape[0]
    k1, k2, k3 = jr.split(key, 3)
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
    inner = _KeskarProblem(problem, params, box, A)
    traj = run(
        inner,
        inner.init(k2),
        _BOX_SIGN_DESCENT,
        num_steps=int(num_steps),
        key=k3,
        stop=Stop(max_norm=None, loss_ratio=None),
    )
    return _keskar_value(problem, params, traj.loss, traj.final_loss)


@eqx.filter_jit
def _keskar_value(problem, params, losses, final_loss):
    # the best of the values at u_0 .. u_{num_steps} (`loss` holds -L at u_0 .. u_{N-1})
    best = jnp.maximum(jnp.max(-losses), -final_loss)
    f0 = problem.loss(params)
    return 100.0 * (best - f0) / (1.0 + f0)
