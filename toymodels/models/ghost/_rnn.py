r"""Real RNNs on the delayed-activation task, trained by full-batch gradient descent.

The networks are `toymodels.problems.LeakyRNN` (rank one with the paper's readout
$\sigma(10(\kappa - 1))$, rank $K$, or full rank with a trainable sigmoid readout). Training
is `toymodels.dynamics.run` with `GD`, recording the full-data loss and the gradient norm
every `record_every` steps (`Save`); a learning-rate × seed sweep is `jax.vmap` of `run`,
ONE jitted computation (learning rates are traced: new values do not recompile).

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
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..._custom_types import Params
from ..._validation import as_float_array, check_key, is_concrete
from ...dynamics import GD, Save, Stop, StopCode, run
from ...problems import AbstractProblem, LeakyRNN
from ._canonical import _seed_keys


# The delayed-activation losses are bounded (sigmoid outputs; a linear readout is the
# user's choice), so only non-finite values stop a run, as `run` always does.
_STOP = Stop(max_norm=None, loss_ratio=None)


class TrainHistory(eqx.Module):
    """GD training record (`train_gd`; under `rnn_sweep` every field but `steps` gains the
    leading axes `(num_lrs, num_seeds)`).

    - `steps`: the recorded steps $0, k, 2k, \\dots, K$ (`record_every` $= k$,
      `num_steps` $= K$): the state $\\theta_s$ before step $s$, the last one final.
    - `loss`, `grad_norm`: `(..., num_records)`, the full-data loss and $\\|\\nabla L\\|_2$ at
      those steps.
    - `final_loss`: `(...)`, the loss at `params`, the final params.
    - `stop_reason`, `stop_step`: as in `toymodels.dynamics.Trajectory` ("completed" unless a
      value became non-finite).
    """

    steps: Array
    loss: Array
    grad_norm: Array
    final_loss: Array
    params: Params
    stop_reason: StopCode
    stop_step: Array


def _check_schedule(num_steps: int, record_every: int) -> tuple[int, int]:
    if isinstance(num_steps, bool) or int(num_steps) != num_steps or int(num_steps) < 1:
        raise ValueError(f"num_steps: must be an integer >= 1, got {num_steps!r}")
    n, k = int(num_steps), int(record_every)
    if k <= 0 or n % k:
        raise ValueError(f"record_every: must be a positive divisor of {n}, got {record_every}")
    return n, k


def _check_problem(problem) -> None:
    if not isinstance(problem, AbstractProblem):
        raise TypeError(
            f"problem: expected a toymodels.problems.AbstractProblem, got {type(problem).__name__}"
        )


def _history(problem, params0, learning_rate, key, *, num_steps, record_every) -> TrainHistory:
    # Save.fn is a static part of `run`'s program: built here, inside the caller's jit, so
    # that its identity does not force a new compilation per call.
    def record(step, params, opt_state, loss):
        del step, opt_state, loss  # the full-data loss comes with the gradient below
        value, g = jax.value_and_grad(problem.loss)(params)
        return value, optax.tree.norm(g)

    traj = run(
        problem,
        params0,
        GD(learning_rate=learning_rate),
        num_steps=num_steps,
        key=key,
        save=Save(every=record_every, fn=record),
        stop=_STOP,
    )
    loss, grad_norm = traj.saved
    return TrainHistory(
        steps=jnp.asarray(np.arange(0, num_steps + 1, record_every)),
        loss=loss,
        grad_norm=grad_norm,
        final_loss=traj.final_loss,
        params=traj.params,
        stop_reason=traj.stop_reason,
        stop_step=traj.stop_step,
    )


_train_gd = eqx.filter_jit(_history)


def train_gd(
    problem: AbstractProblem,
    params0: Params,
    *,
    learning_rate: Float[ArrayLike, ""],
    num_steps: int,
    key: PRNGKeyArray,
    record_every: int = 1,
) -> TrainHistory:
    r"""Full-batch GD $\theta \leftarrow \theta - \eta\nabla L(\theta)$ for `num_steps` steps:
    `toymodels.dynamics.run` with `GD(learning_rate=...)`, recording the loss and the
    gradient norm every `record_every` steps (a divisor of `num_steps`). Any params pytree;
    jitted, and the learning rate is traced (a new value does not recompile). `key` is the
    run's key (full-batch GD on a deterministic problem draws nothing from it)."""
    _check_problem(problem)
    n, k = _check_schedule(num_steps, record_every)
    check_key("key", key)
    leaves = jax.tree_util.tree_leaves(params0)
    dtype = jnp.result_type(*leaves) if leaves else None
    lr = as_float_array("learning_rate", learning_rate, ndim=0)
    if dtype is not None:
        lr = lr.astype(dtype)
    if is_concrete(lr) and not float(lr) > 0:
        raise ValueError(f"learning_rate: must be > 0, got {learning_rate!r}")
    return _train_gd(problem, params0, lr, key, num_steps=n, record_every=k)


def rnn_sweep(
    problem: AbstractProblem,
    learning_rates: Float[ArrayLike, " num_lrs"],
    *,
    key: PRNGKeyArray,
    num_seeds: int,
    num_steps: int,
    record_every: int,
) -> TrainHistory:
    """GD (`train_gd`) from `problem.init(jr.split(key, num_seeds)[j])` for every (learning
    rate, seed) pair: `jax.vmap` of `toymodels.dynamics.run` as ONE jitted computation;
    arrays get leading axes `(num_lrs, num_seeds)` (`steps` stays 1-D). The runs' own keys
    come from `fold_in(key, num_seeds)` (unused by full-batch GD)."""
    _check_problem(problem)
    n, k = _check_schedule(num_steps, record_every)
    check_key("key", key)
    if isinstance(num_seeds, bool) or int(num_seeds) != num_seeds or int(num_seeds) < 1:
        raise ValueError(f"num_seeds: must be an integer >= 1, got {num_seeds!r}")
    lrs = as_float_array("learning_rates", learning_rates, ndim=1)
    if is_concrete(lrs) and not bool(jnp.all(lrs > 0)):
        raise ValueError(f"learning_rates: must be > 0, got {learning_rates!r}")
    init_keys, run_keys = _seed_keys(key, int(num_seeds))
    return _rnn_sweep(problem, lrs, init_keys, run_keys, num_steps=n, record_every=k)


@eqx.filter_jit
def _rnn_sweep(problem, lrs, init_keys, run_keys, *, num_steps, record_every):
    def one(lr, k_init, k_run):
        p0 = problem.init(k_init)
        lr = lr.astype(jnp.result_type(*jax.tree_util.tree_leaves(p0)))
        return _history(problem, p0, lr, k_run, num_steps=num_steps, record_every=record_every)

    hist = jax.vmap(jax.vmap(one, (None, 0, 0)), (0, None, None))(lrs, init_keys, run_keys)
    return eqx.tree_at(lambda h: h.steps, hist, hist.steps[0, 0])


class Outcome(eqx.Module):
    """Per-run classification: `learned` (final loss < `learned_below`), `trapped` (final
    loss above `trapped_above` with a gradient norm below `grad_tol`: stuck on the flat,
    high-confidence wrong plateau), neither (still moving, or oscillating near a minimum)."""

    learned: Array
    trapped: Array

    @property
    def learned_fraction(self) -> Array:
        """Fraction learned over the last (seed) axis."""
        return jnp.mean(self.learned.astype(jnp.result_type(float)), axis=-1)

    @property
    def trapped_fraction(self) -> Array:
        """Fraction trapped over the last (seed) axis."""
        return jnp.mean(self.trapped.astype(jnp.result_type(float)), axis=-1)


def classify_runs(
    history: TrainHistory,
    *,
    learned_below: float = 1e-2,
    trapped_above: float = 0.5,
    grad_tol: float = 1e-6,
) -> Outcome:
    """Learned / trapped labels of every run of a sweep (see `Outcome`); the gradient norm
    is the last record's (at the final params)."""
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
