r"""Real RNNs on the delayed-activation task, trained by full-batch gradient descent.

The networks are `toymodels.problems.LeakyRNN` (rank one with the paper's readout
$\sigma(10(\kappa - 1))$, rank $K$, or full rank with a trainable sigmoid readout). Training
is `lax.scan` over epochs (in chunks of `record_every` epochs, recording the loss and the
gradient norm at the start of each chunk); a learning-rate × seed sweep is ONE vmapped
computation.

1-D reduction of the rank-one network: with $\kappa_t = n^\top x_t$,

$$\kappa_{t+1} = (1-\alpha)\kappa_t + \alpha\, n^\top\tanh(m\kappa_t + b),$$

exactly (the input of $\tanh$ depends on $x_t$ only through $\kappa_t$), i.e. the Euler
step $\alpha$ of the flow $\dot\kappa = F(\kappa) = -\kappa + n^\top\tanh(m\kappa + b)$. A ghost
is a near-tangency of $F$ to zero without a crossing: a narrow channel where $F > 0$ is small,
through which $\kappa$ passes slowly on its way to the readout threshold.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..._custom_types import Params
from ...problems import AbstractProblem, LeakyRNN


class TrainHistory(eqx.Module):
    """GD training record. `loss`, `grad_norm`: `(..., num_records)`, the values at epochs
    `epochs` (the start of each chunk); `final_loss`: `(...)`, after the last update;
    `final_params`: params with the same leading axes."""

    epochs: Array
    loss: Array
    grad_norm: Array
    final_loss: Array
    final_params: Params


def _check_schedule(num_epochs: int, record_every: int) -> tuple[int, int]:
    n, k = int(num_epochs), int(record_every)
    if n <= 0:
        raise ValueError(f"num_epochs: must be positive, got {num_epochs}")
    if k <= 0 or n % k:
        raise ValueError(f"record_every: must be a positive divisor of {n}, got {record_every}")
    return n, k


def train_gd(
    problem: AbstractProblem,
    params: Params,
    lr: Float[ArrayLike, ""],
    *,
    num_epochs: int,
    record_every: int = 1,
) -> TrainHistory:
    r"""Full-batch GD $\theta \leftarrow \theta - \eta\nabla L(\theta)$ for `num_epochs`
    epochs in `lax.scan`; works for any params pytree. Jit it (or use `rnn_sweep`)."""
    n, k = _check_schedule(num_epochs, record_every)
    flat, unravel = ravel_pytree(params)
    lr = jnp.asarray(lr, flat.dtype)
    vg = jax.value_and_grad(lambda f: problem.loss(unravel(f)))

    def inner(f, _):
        val, g = vg(f)
        return f - lr * g, (val, jnp.linalg.norm(g))

    def outer(f, _):
        f, (vals, gns) = jax.lax.scan(inner, f, None, length=k)
        return f, (vals[0], gns[0])

    flat, (loss, gn) = jax.lax.scan(outer, flat, None, length=n // k)
    final = unravel(flat)
    return TrainHistory(
        epochs=jnp.arange(0, n, k),
        loss=loss,
        grad_norm=gn,
        final_loss=problem.loss(final),
        final_params=final,
    )


@eqx.filter_jit
def rnn_sweep(
    problem: AbstractProblem,
    lrs: Float[ArrayLike, " num_lrs"],
    keys: PRNGKeyArray,
    *,
    num_epochs: int,
    record_every: int,
) -> TrainHistory:
    """GD from `problem.init(key)` for every (learning rate, seed) pair as ONE vmapped,
    jitted computation; arrays get leading axes `(num_lrs, num_seeds)`."""
    lrs = jnp.asarray(lrs)

    def one(lr, key):
        return train_gd(
            problem, problem.init(key), lr, num_epochs=num_epochs, record_every=record_every
        )

    hist = jax.vmap(jax.vmap(one, (None, 0)), (0, None))(lrs, keys)
    return eqx.tree_at(lambda h: h.epochs, hist, hist.epochs[0, 0])


class Outcome(eqx.Module):
    """Per-run classification: `learned` (final loss < `learned_below`), `trapped` (final
    loss above `trapped_above` with a gradient norm below `grad_tol`: stuck on the flat,
    high-confidence wrong plateau), neither (still moving, or oscillating near a minimum)."""

    learned: Array
    trapped: Array

    def fractions(self) -> tuple[Array, Array]:
        """Fraction learned and fraction trapped over the last (seed) axis."""
        return (
            jnp.mean(self.learned.astype(jnp.float32), axis=-1),
            jnp.mean(self.trapped.astype(jnp.float32), axis=-1),
        )


def classify_runs(
    history: TrainHistory,
    *,
    learned_below: float = 1e-2,
    trapped_above: float = 0.5,
    grad_tol: float = 1e-6,
) -> Outcome:
    """Learned / trapped labels of every run of a sweep (see `Outcome`)."""
    last_gn = history.grad_norm[..., -1]
    return Outcome(
        learned=history.final_loss < learned_below,
        trapped=(history.final_loss > trapped_above) & (last_gn < grad_tol),
    )


# -------------------------------------------------------------------- 1-D reduction
def _rank_one(problem: LeakyRNN, params: Params) -> tuple[Array, Array, Array]:
    if not isinstance(problem, LeakyRNN) or problem.rank != 1:
        raise ValueError("problem: the 1-D reduction needs a rank-one LeakyRNN")
    return params["m"][:, 0], params["n"][:, 0], params["b"]


def kappa_flow(
    problem: LeakyRNN, params: Params, kappa: Float[ArrayLike, "..."]
) -> Float[Array, "..."]:
    r"""$F(\kappa) = -\kappa + n^\top\tanh(m\kappa + b)$ (rank-one networks)."""
    m, n, b = _rank_one(problem, params)
    kappa = jnp.asarray(kappa)
    return -kappa + jnp.tanh(kappa[..., None] * m + b) @ n


def kappa_trajectory(problem: LeakyRNN, params: Params) -> Float[Array, " steps"]:
    r"""$\kappa_1..\kappa_{2T}$ by the exact 1-D map $\kappa \leftarrow \kappa + \alpha F(\kappa)$
    from $\kappa_0 = n^\top x_0$."""
    _, n, _ = _rank_one(problem, params)

    def body(k, _):
        k = k + problem.alpha * kappa_flow(problem, params, k)
        return k, k

    _, ks = jax.lax.scan(body, problem.x0 @ n, None, length=2 * problem.delay)
    return ks


class GhostPoint(eqx.Module):
    r"""The bottleneck of the 1-D flow on the path from $\kappa_0$ to the readout threshold
    $c$: `kappa` (argmin of $F$ there), `flow` ($F$ at it; small and positive for a ghost),
    `blocked` ($F \le 0$ somewhere on the path: a fixed point stops $\kappa$ before $c$,
    the output never switches on), `crossing_step` (first step $t$ with $\kappa_t \ge c$;
    $2T + 1$ if never)."""

    kappa: Array
    flow: Array
    blocked: Array
    crossing_step: Array


def ghost_point(problem: LeakyRNN, params: Params, *, num_grid: int = 2001) -> GhostPoint:
    r"""Locate the bottleneck of the 1-D flow between $\kappa_0$ and the readout offset $c$
    (the paper: $c = 1$); for $\kappa_0 < c$."""
    ks = kappa_trajectory(problem, params)
    k0 = problem.x0 @ params["n"][:, 0]
    c = problem.readout_offset
    grid = k0 + (c - k0) * jnp.linspace(0.0, 1.0, num_grid)
    f = kappa_flow(problem, params, grid)
    i = jnp.argmin(f)
    above = ks >= c
    step = jnp.where(jnp.any(above), jnp.argmax(above) + 1, ks.shape[0] + 1)
    return GhostPoint(kappa=grid[i], flow=f[i], blocked=jnp.any(f <= 0), crossing_step=step)
