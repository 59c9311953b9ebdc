r"""Hessian-vector products, the dense Hessian (the one of the package) and Hessian operators
for any params pytree.

Coordinates are those of `jax.flatten_util.ravel_pytree(params)`: the dense Hessian's
entry $(i, j)$ is $\partial^2 L/\partial\theta_i\partial\theta_j$ in that flat order, and the
operators act on flat vectors in that order (`op.ravel(tree)`, `op.unravel(flat)` convert).
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float

from .._custom_types import Params
from .._validation import check_finite, check_params_tree
from ..linalg._operator import AbstractOperator
from ..problems._base import AbstractProblem
from ._directions import tree_vdot


def _check_problem(problem: Any) -> None:
    if not isinstance(problem, AbstractProblem):
        raise TypeError(
            f"problem: expected a toymodels AbstractProblem, got {type(problem).__name__}"
        )


def _check_params(params: Params) -> None:
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError("params: empty pytree")
    for leaf in leaves:
        if not jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
            raise TypeError(
                f"params: leaves must be floating arrays, got dtype {jnp.result_type(leaf)}"
            )
    check_finite("params", params)


def _hvp(problem: AbstractProblem, params: Params, v: Params) -> Params:
    return jax.jvp(jax.grad(problem.loss), (params,), (v,))[1]


_hvp_jit = eqx.filter_jit(_hvp)


def hvp(problem: AbstractProblem, params: Params, v: Params) -> Params:
    r"""Hessian-vector product $H v$ by forward-over-reverse differentiation,
    `jvp(grad(loss), (params,), (v,))` (about the cost of 2–3 gradients).

    `v` is a pytree like `params`; the result too. Jitted (compiled once per problem
    structure and params shapes).
    """
    _check_problem(problem)
    _check_params(params)
    check_params_tree("v", v, params)
    check_finite("v", v)
    return _hvp_jit(problem, params, v)


def _curvature_gradient(problem: AbstractProblem, params: Params, direction: Params) -> Params:
    def curvature(q):
        return tree_vdot(direction, _hvp(problem, q, direction))

    return jax.grad(curvature)(params)


_curvature_gradient_jit = eqx.filter_jit(_curvature_gradient)


def curvature_gradient(problem: AbstractProblem, params: Params, direction: Params) -> Params:
    r"""The gradient in $\theta$ of the curvature along a fixed direction $u$,
    $\nabla_\theta\,(u^\top H(\theta)\,u) = \nabla^3 L(\theta)[u, u, \cdot]$ (reverse
    mode over the HVP). With $u$ the top Hessian eigenvector it is the sharpness gradient
    $\nabla S$ of the self-stabilization analysis of the edge of stability (Damian, Nichani &
    Lee 2023): $u$ is held fixed, not re-derived at each $\theta$ (for a simple eigenvalue
    the two agree, since $\partial u$ is orthogonal to $u$).

    `direction` is a pytree like `params` (not normalised here: the result scales as
    $\|u\|^2$); the result is a pytree like `params`. Jitted; safe inside `jax.jit`/`vmap`.
    """
    _check_problem(problem)
    _check_params(params)
    check_params_tree("direction", direction, params)
    check_finite("direction", direction)
    return _curvature_gradient_jit(problem, params, direction)


def _hessian(problem, params):
    flat, unravel = ravel_pytree(params)
    return jax.hessian(lambda f: problem.loss(unravel(f)))(flat)


_hessian_jit = eqx.filter_jit(_hessian)


def hessian(problem: AbstractProblem, params: Params) -> Float[Array, "n n"]:
    r"""Dense Hessian $\partial^2 L/\partial\theta_i\partial\theta_j$ in
    `ravel_pytree(params)` order (n² memory: only for a few thousand parameters)."""
    _check_problem(problem)
    _check_params(params)
    return _hessian_jit(problem, params)


class _ParamsOperator(AbstractOperator):
    """Shared part of the curvature operators: the problem and the params as pytree fields."""

    problem: AbstractProblem
    params: Params

    @property
    def shape(self) -> tuple[int, int]:
        n = sum(int(jnp.size(x)) for x in jax.tree_util.tree_leaves(self.params))
        return (n, n)

    @property
    def dtype(self):
        # the dtype ravel_pytree promotes to, without an eager ravel (0.8 ms per call)
        return jnp.result_type(*jax.tree_util.tree_leaves(self.params))

    def ravel(self, tree: Params) -> Float[Array, " n"]:
        """A pytree like `params` as a flat vector (ravel_pytree order)."""
        return ravel_pytree(tree)[0]

    def unravel(self, flat: Float[Array, " n"]) -> Params:
        """A flat vector back to a pytree like `params`."""
        return ravel_pytree(self.params)[1](flat)

    def tree_matvec(self, v: Params) -> Params:
        """The operator applied to a pytree like `params`."""
        return self.unravel(self.matvec(self.ravel(v)))


class HessianOperator(_ParamsOperator):
    r"""$v \mapsto H v$ on flat vectors (ravel_pytree order) by forward-over-reverse HVPs.

    Fields `problem`, `params` (a pytree: jitted algorithms taking the operator do not
    recompile when params change values)."""

    def matvec(self, v):
        flat, unravel = ravel_pytree(self.params)
        out = _hvp(self.problem, self.params, unravel(v.astype(flat.dtype)))
        return ravel_pytree(out)[0]


def hessian_operator(problem: AbstractProblem, params: Params) -> HessianOperator:
    r"""The Hessian at `params` as a matrix-free operator (`.shape`, `.dtype`,
    `.matvec(flat)`, `.ravel`, `.unravel`, `.tree_matvec`, `.to_dense()`), for
    `toymodels.linalg.eigsh`, `spectral_density`, `trace`."""
    _check_problem(problem)
    _check_params(params)
    return HessianOperator(problem, params)
