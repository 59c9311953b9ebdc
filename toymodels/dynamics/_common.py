"""Small helpers shared by the dynamics modules."""

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .._validation import check_finite
from ..problems import AbstractProblem


def check_problem(problem) -> None:
    if not isinstance(problem, AbstractProblem):
        raise TypeError(
            f"problem: expected a toymodels.problems.AbstractProblem, got {type(problem).__name__}"
        )


def flatten_params(name: str, params):
    """Check `params` (a pytree of floating arrays, all finite) and ravel it."""
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError(f"{name}: empty params pytree")
    for leaf in leaves:
        if not jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.inexact):
            raise TypeError(
                f"{name}: every leaf must be a floating array, got {jnp.asarray(leaf).dtype}"
            )
    check_finite(name, params)
    flat, unravel = ravel_pytree(params)
    return flat, unravel


def flat_loss(problem, unravel):
    """The loss as a function of the flat parameter vector."""

    def f(x):
        return problem.loss(unravel(x))

    return f


def max_abs(x):
    return jnp.max(jnp.abs(x))
