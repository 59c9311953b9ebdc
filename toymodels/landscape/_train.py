"""A plain optax training loop that keeps checkpoints: the trajectories that
`trajectory_pca`, `chord_test` and `distance_travelled` read."""

from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax
from jaxtyping import Array, PRNGKeyArray, PyTree

from .._custom_types import Params
from .._validation import check_finite
from ..problems._base import AbstractSupervisedProblem
from ._optim import opt_init, opt_step


class Checkpoints(NamedTuple):
    """`params`: the final params; `trajectory`: params at steps `0, every, 2·every, ...,
    num_steps` stacked on a leading axis; `losses`: the (minibatch) loss at every step."""

    params: Params
    trajectory: PyTree
    losses: Array


def train_with_checkpoints(
    problem: Any,
    params: Params,
    *,
    optimizer: optax.GradientTransformation,
    num_steps: int,
    every: int = 1,
    batch_size: int | None = None,
    key: PRNGKeyArray | None = None,
) -> Checkpoints:
    """Train `params` on `problem.loss` with `optimizer` for `num_steps` steps (full batch, or
    minibatches of `batch_size` drawn without replacement at each step with `key`) in one
    `lax.scan`, keeping a checkpoint every `every` steps (and the initial point)."""
    num_steps, every = int(num_steps), int(every)
    if num_steps < 1:
        raise ValueError(f"num_steps: must be >= 1, got {num_steps}")
    if every < 1 or num_steps % every:
        raise ValueError(f"every: must be >= 1 and divide num_steps={num_steps}, got {every}")
    check_finite("params", params)
    if batch_size is not None:
        if not isinstance(problem, AbstractSupervisedProblem):
            raise TypeError("batch_size: minibatches need a supervised problem (x, targets)")
        if not 1 <= int(batch_size) <= problem.num_samples:
            raise ValueError(f"batch_size: must be in [1, {problem.num_samples}], got {batch_size}")
        if key is None:
            raise ValueError("key: minibatch training needs a key")
        batch_size = int(batch_size)
    key = jr.key(0) if key is None else key
    return _train(problem, params, optimizer, num_steps, every, batch_size, key)


@eqx.filter_jit
def _train(problem, params, optimizer, num_steps, every, batch_size, key):
    def step(carry, k):
        p, state = carry
        prob = problem
        if batch_size is not None:
            idx = jr.choice(k, problem.num_samples, (batch_size,), replace=False)
            prob = problem.with_data(problem.x[idx], problem.targets[idx])
        val, g = jax.value_and_grad(prob.loss)(p)
        p, state = opt_step(optimizer, g, state, p)
        return (p, state), val

    def block(carry, ks):
        carry, vals = jax.lax.scan(step, carry, ks)
        return carry, (carry[0], vals)

    keys = jr.split(key, num_steps).reshape(num_steps // every, every)
    (p, _), (traj, vals) = jax.lax.scan(block, (params, opt_init(optimizer, params)), keys)
    traj = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), params, traj)
    return Checkpoints(p, traj, vals.reshape(-1))
