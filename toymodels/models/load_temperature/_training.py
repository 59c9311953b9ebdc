r"""Minibatch SGD with momentum and weight decay whose batch size can be traced (vmapped
over): `toymodels.dynamics.run` draws micro-batches of a fixed size and
`accumulate_gradients` averages `every` of their gradients into one update."""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Int, PRNGKeyArray, PyTree

from ..._custom_types import Params
from ..._validation import check_key, check_positive, is_concrete
from ...dynamics import AbstractOptimizer, Stop, Trajectory, minibatch_indices, run
from ...problems import AbstractProblem, AbstractStochasticProblem


class AccumulationState(eqx.Module):
    """State of `GradientAccumulation`: micro-steps since the last update `count`, the sum
    of their gradients `total`, and the inner optimizer's state `inner`."""

    count: Int[Array, ""]
    total: PyTree
    inner: PyTree


class GradientAccumulation(eqx.Module):
    r"""Gradient accumulation as an optax transformation (built by `accumulate_gradients`):
    the gradients of `every` consecutive steps are summed; at every `every`-th step the
    inner transformation is applied to their mean and its update returned, at the others
    the update is zero and the inner state is kept. `every` is an integer array, so it may
    differ across the members of a `jax.vmap`."""

    inner: optax.GradientTransformation
    every: Int[Array, ""]

    def init(self, params) -> AccumulationState:
        return AccumulationState(
            count=jnp.zeros((), jnp.int32),
            total=jax.tree_util.tree_map(jnp.zeros_like, params),
            inner=self.inner.init(params),
        )

    def update(self, updates, state: AccumulationState, params=None):
        total = jax.tree_util.tree_map(jnp.add, state.total, updates)
        count = state.count + 1
        emit = count == self.every
        k = self.every
        mean = jax.tree_util.tree_map(lambda t: t / k.astype(t.dtype), total)
        out, inner = self.inner.update(mean, state.inner, params)

        def pick(new, old):
            return jax.tree_util.tree_map(lambda a, b: jnp.where(emit, a, b), new, old)

        zeros = jax.tree_util.tree_map(jnp.zeros_like, out)
        new_state = AccumulationState(
            count=jnp.where(emit, 0, count).astype(jnp.int32),
            total=pick(jax.tree_util.tree_map(jnp.zeros_like, total), total),
            inner=pick(inner, state.inner),
        )
        return pick(out, zeros), new_state


def accumulate_gradients(
    optimizer: AbstractOptimizer | optax.GradientTransformation, *, every: int | Int[Array, ""]
) -> optax.GradientTransformation:
    """`optimizer` applied to the mean gradient of every `every` steps (zero updates in
    between): with `toymodels.dynamics.run(..., batch_size=b)` this is minibatch training
    with batches of `every * b` samples (made of `every` micro-batches, each drawn without
    replacement), at the cost of one `b`-sample gradient per step. `every` may be traced."""
    inner = optimizer.transform() if isinstance(optimizer, AbstractOptimizer) else optimizer
    if not isinstance(inner, optax.GradientTransformation):
        raise TypeError(
            "optimizer: expected a toymodels.dynamics optimizer or an optax "
            f"GradientTransformation, got {type(optimizer).__name__}"
        )
    if is_concrete(every) and int(every) < 1:
        raise ValueError(f"every: must be >= 1, got {every}")
    m = GradientAccumulation(inner=inner, every=jnp.asarray(every, jnp.int32))
    return optax.GradientTransformation(m.init, m.update)


class MicroBatches(AbstractStochasticProblem):
    """A stochastic problem for `toymodels.dynamics.run`: at every step the wrapped
    `problem` on a fresh micro-batch of `batch_size` samples (`indices(key)`, a uniformly
    random subset: the distribution of `run(..., batch_size=batch_size)`'s draw, by
    `toymodels.dynamics.minibatch_indices`); `loss` is the full-data loss and `init` the wrapped problem's."""

    problem: AbstractProblem
    batch_size: int = eqx.field(static=True)

    def indices(self, key: PRNGKeyArray) -> Int[Array, " B"]:
        return minibatch_indices(
            key=key, num_samples=self.problem.num_samples, batch_size=self.batch_size
        )

    def sample(self, key: PRNGKeyArray) -> AbstractProblem:
        return self.problem.batch(self.indices(key))

    def loss(self, params: Params):
        return self.problem.loss(params)

    def init(self, key: PRNGKeyArray) -> Params:
        return self.problem.init(key)


def train_sgd(
    problem: AbstractProblem,
    params0: Params,
    *,
    key: PRNGKeyArray,
    batch_size: int | Int[Array, ""],
    micro_batch_size: int,
    num_epochs: int,
    learning_rate: float,
    momentum: float,
    weight_decay: float,
) -> Trajectory:
    r"""SGD with momentum $\beta$ and L2 weight decay $\lambda$ (torch's `SGD(momentum,
    weight_decay)`: $v \leftarrow \beta v + g + \lambda\theta$, $\theta \leftarrow \theta -
    \eta v$) for `num_epochs` epochs' worth of samples, minibatches of `batch_size`.

    One `toymodels.dynamics.run` of `num_epochs * (N // micro_batch_size)` steps on
    micro-batches of `micro_batch_size` samples (static; each a uniformly random subset,
    `MicroBatches`, drawn from the key `run` gives step $k$), whose gradients `accumulate_gradients` averages over
    `batch_size / micro_batch_size` steps per update. `batch_size` may be traced (a
    multiple of `micro_batch_size`), so one compiled program serves every batch size. The
    number of updates is `num_epochs * (N // micro_batch_size) // (batch_size /
    micro_batch_size)` ≈ `num_epochs * N / batch_size`: at a fixed number of epochs a
    smaller batch takes more updates (as in Yang et al. 2021). Stops only on non-finite
    values. Returns the run's `Trajectory` (`loss` per micro-batch step).
    """
    check_key("key", key)
    micro = int(micro_batch_size)
    n = problem.num_samples
    if n is None:
        raise TypeError("problem: needs the minibatch protocol (num_samples, batch)")
    if not 1 <= micro <= n:
        raise ValueError(f"micro_batch_size: must be in [1, {n}], got {micro}")
    if int(num_epochs) < 1:
        raise ValueError(f"num_epochs: must be >= 1, got {num_epochs}")
    if is_concrete(batch_size):
        b = int(batch_size)
        if b < micro or b % micro:
            raise ValueError(
                f"batch_size: must be a positive multiple of micro_batch_size={micro}, got {b}"
            )
    check_positive("learning_rate", learning_rate)
    check_positive("momentum", momentum, allow_zero=True)
    check_positive("weight_decay", weight_decay, allow_zero=True)
    inner = optax.chain(
        optax.add_decayed_weights(weight_decay), optax.sgd(learning_rate, momentum=momentum)
    )
    tx = accumulate_gradients(inner, every=jnp.asarray(batch_size) // micro)
    # MicroBatches draws what run(..., batch_size=micro) would, by Floyd's O(B^2) sampler
    # instead of run's jr.choice(replace=False), which sorts a permutation of all N samples
    # at every step (in fig70 that sort took ~80 % of the training time).
    return run(
        MicroBatches(problem=problem, batch_size=micro),
        params0,
        tx,
        num_steps=int(num_epochs) * (n // micro),
        key=key,
        stop=Stop(max_norm=None, loss_ratio=None),
    )
