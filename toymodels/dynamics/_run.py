r"""The engine: `run` moves params with an optimizer in one `lax.scan`.

Step $k$ maps $\theta_k \to \theta_{k+1}$; `loss[k]` is the (minibatch) loss at $\theta_k$ that
step $k$ differentiates. `run` is pure: it can be jitted and vmapped (over learning rate,
seed, initial point, any optimizer hyperparameter), and a new hyperparameter value does not
recompile. What is recorded is a function of `(step, params, opt_state, loss)` at chosen
steps (`Save`), in the manner of diffrax's `SaveAt(fn=...)`; when to stop early is a `Stop`.
"""

import enum
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, Int, PRNGKeyArray, PyTree

from .._custom_types import Params
from .._validation import check_finite, check_key, is_concrete
from ..problems import AbstractProblem, AbstractStochasticProblem
from ._optimizers import AbstractOptimizer, as_transform


class StopReason(enum.Enum):
    """Why a run (or a flow) ended.

    - `COMPLETED`: all `num_steps` steps were taken (a flow: it reached `t1`).
    - `CONVERGED`: the gradient ∞-norm fell below `Stop.gtol`.
    - `DIVERGED`: the loss or the params became non-finite, the loss exceeded its bound
      (`Stop.max_loss`, or `Stop.loss_ratio` times the initial loss), or the params left
      the ball ‖θ‖∞ ≤ `Stop.max_norm`.
    - `MAX_STEPS`: a solver used up its step budget.
    - `FAILED`: a solver failed otherwise (step-size underflow, a nonlinear solve).
    """

    COMPLETED = "completed"
    CONVERGED = "converged"
    DIVERGED = "diverged"
    MAX_STEPS = "max_steps"
    FAILED = "failed"


_CODES = {r: i for i, r in enumerate(StopReason)}
_REASONS = list(StopReason)


def reason_code(reason: StopReason | str) -> int:
    if isinstance(reason, str):
        try:
            reason = StopReason(reason)
        except ValueError:
            raise ValueError(
                f"reason: unknown stop reason {reason!r}; choose one of "
                + ", ".join(repr(r.value) for r in StopReason)
            ) from None
    return _CODES[reason]


class StopCode(eqx.Module):
    """The stop reason as an integer array (one per member of a vmapped batch).

    Compare it with a `StopReason` or its name: `traj.stop_reason == "diverged"` gives a
    boolean (array). `names()` lists the names; `str()` prints them.
    """

    code: Int[Array, "..."]

    def __eq__(self, other):  # type: ignore[override]
        if isinstance(other, StopCode):
            return self.code == other.code
        return self.code == reason_code(other)

    def __ne__(self, other):  # type: ignore[override]
        return jnp.logical_not(self.__eq__(other))

    __hash__ = None  # type: ignore[assignment]

    def names(self) -> np.ndarray:
        """The reasons' names, an array of `str` shaped like `code`."""
        c = np.asarray(self.code)
        return np.vectorize(lambda i: _REASONS[int(i)].value, otypes=[object])(c)

    def reason(self) -> StopReason:
        """The `StopReason` of a single run."""
        c = np.asarray(self.code)
        if c.ndim:
            raise ValueError("reason: a batch of runs has one reason per member; use names()")
        return _REASONS[int(c)]

    def __str__(self) -> str:
        n = self.names()
        return str(n.item()) if n.ndim == 0 else str(n.tolist())

    def __repr__(self) -> str:
        return f"StopCode({self})"


def _record_params(step, params, opt_state, loss):
    del step, opt_state, loss
    return params


class Save(eqx.Module):
    r"""What `run` records, and when (diffrax's `SaveAt(steps=..., fn=...)` in spirit).

    - `steps`: the steps $k \in [0, \text{num\_steps}]$ at which to record (state
      $\theta_k$ before step $k$; $k = $ `num_steps` is the final state).
    - `every`: record every `every` steps instead (0, every, 2·every, ... ≤ num_steps).
    - `fn(step, params, opt_state, loss) -> pytree`: what to record; default the params.
      `loss` is the full-data loss at `params`.

    `Save()` records nothing beyond what `Trajectory` always has (the final params and
    loss, and the loss at every step).
    """

    steps: tuple[int, ...] | None = eqx.field(default=None, static=True)
    every: int | None = eqx.field(default=None, static=True)
    fn: Callable[..., PyTree] = eqx.field(default=_record_params, static=True)

    def __init__(self, *, steps=None, every=None, fn=None):
        if steps is not None and every is not None:
            raise ValueError("steps: give `steps` or `every`, not both")
        if steps is not None:
            s = np.unique(np.asarray(steps, dtype=np.int64).reshape(-1))
            if s.size and s[0] < 0:
                raise ValueError(f"steps: must be >= 0, got {int(s[0])}")
            steps = tuple(int(i) for i in s)
        if every is not None:
            every = int(every)
            if every < 1:
                raise ValueError(f"every: must be >= 1, got {every}")
        if fn is not None and not callable(fn):
            raise TypeError("fn: expected a function (step, params, opt_state, loss) -> pytree")
        self.steps = steps
        self.every = every
        self.fn = _record_params if fn is None else fn

    def resolve(self, num_steps: int) -> np.ndarray:
        if self.every is not None:
            return np.arange(0, num_steps + 1, self.every, dtype=np.int64)
        if self.steps is None:
            return np.zeros((0,), dtype=np.int64)
        s = np.asarray(self.steps, dtype=np.int64)
        if s.size and s[-1] > num_steps:
            raise ValueError(f"save: steps must lie in [0, num_steps] = [0, {num_steps}]")
        return s


class Stop(eqx.Module):
    r"""When `run` (or `gradient_flow`) stops early. A stopped run freezes its state and
    records the reason and step; under vmap the other members go on.

    - non-finite loss, gradient or params always stop the run (`DIVERGED`);
    - `max_norm`: stop when ‖θ‖∞ would exceed it (`DIVERGED`; `None` = never);
    - `max_loss`: stop when the loss exceeds it (`DIVERGED`);
    - `loss_ratio`: stop when the loss exceeds `loss_ratio` times the initial loss (when
      that is positive; `DIVERGED`). Default 1e3: GD far above its stable step size on a
      bounded-output network (tanh) saturates at a large finite loss rather than overflowing;
    - `gtol`: stop when the gradient ∞-norm falls below it (`CONVERGED`; `None` = never).

    Bounds are array fields: changing them does not recompile.
    """

    max_norm: Array | None = None
    max_loss: Array | None = None
    loss_ratio: Array | None = None
    gtol: Array | None = None

    def __init__(self, *, max_norm=1e10, max_loss=None, loss_ratio=1e3, gtol=None):
        for name, v in (
            ("max_norm", max_norm),
            ("max_loss", max_loss),
            ("loss_ratio", loss_ratio),
            ("gtol", gtol),
        ):
            if v is not None and is_concrete(v):
                f = float(v)
                if not (np.isfinite(f) and f > 0):
                    raise ValueError(f"{name}: must be finite and > 0 (or None), got {v!r}")
        conv = lambda v: None if v is None else jnp.asarray(v, dtype=jnp.result_type(float))
        self.max_norm = conv(max_norm)
        self.max_loss = conv(max_loss)
        self.loss_ratio = conv(loss_ratio)
        self.gtol = conv(gtol)


class Trajectory(eqx.Module):
    """What `run` returns (under vmap, every field gains the batch axes).

    - `params`, `opt_state`: the final state (at `stop_step`).
    - `final_loss`: the full-data loss at `params`.
    - `loss`: shape `(num_steps,)`, the (minibatch) loss differentiated at each step; the
      entry at `stop_step` is the value that stopped the run, later entries are NaN.
    - `save_steps`, `saved`: the steps recorded by `Save` and `Save.fn`'s outputs stacked on
      a leading axis (after a stop, the frozen state is recorded).
    - `stop_reason` (a `StopCode`: compare with `"completed"`, `"diverged"`, ...),
      `stop_step` (the step at which the run stopped; `num_steps` when it completed).
    """

    params: Params
    opt_state: PyTree
    final_loss: Array
    loss: Array
    save_steps: Int[Array, " S"]
    saved: PyTree
    stop_reason: StopCode
    stop_step: Int[Array, ""]


def _tree_max_abs(tree) -> Array:
    return jnp.max(jnp.stack([jnp.max(jnp.abs(a)) for a in jax.tree_util.tree_leaves(tree)]))


def _tree_finite(tree) -> Array:
    ok = jnp.asarray(True)
    for a in jax.tree_util.tree_leaves(tree):
        ok = ok & jnp.all(jnp.isfinite(a))
    return ok


def _cast_floats(tree, dtype):
    def cast(a):
        if eqx.is_array(a) and jnp.issubdtype(a.dtype, jnp.floating):
            return a.astype(dtype)
        return a

    return jax.tree_util.tree_map(cast, tree)


def optax_update(tx, grads, opt_state, params, *, value=None, value_fn=None):
    """One optax update, traced under standard dtype promotion (optax mixes its integer step
    counts with float hyperparameters, which a caller's strict promotion would reject).
    Optimizers with extra arguments (`optax.lbfgs`'s line search) get `value` and
    `value_fn` when given. Returns `(new_params, new_state)`."""
    with jax.numpy_dtype_promotion("standard"):
        if value_fn is not None and isinstance(tx, optax.GradientTransformationExtraArgs):
            updates, opt_state = tx.update(
                grads, opt_state, params, value=value, grad=grads, value_fn=value_fn
            )
        else:
            updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state


def optax_init(tx, params):
    with jax.numpy_dtype_promotion("standard"):
        return tx.init(params)


def minibatch_indices(*, key: PRNGKeyArray, num_samples: int, batch_size: int) -> Int[Array, " B"]:
    r"""The minibatch `run` draws: `batch_size` distinct indices, a uniformly random subset of
    `range(num_samples)` (in no particular order). Small batches use Floyd's algorithm (for
    $j = N - B, \dots, N - 1$ draw $t \in [0, j]$ and take $t$, or $j$ when $t$ is taken
    already: $O(B^2)$ work in a loop over the $B$ draws); large ones `jax.random.choice(...,
    replace=False)`, which permutes all $N$ samples."""
    check_key("key", key)
    n, b = int(num_samples), int(batch_size)
    if not 1 <= b <= n:
        raise ValueError(f"batch_size: must be in [1, num_samples={n}], got {b}")
    if b * b > 16 * n:
        return jr.choice(key, n, (b,), replace=False).astype(jnp.int32)
    keys = jr.split(key, b)

    def body(i, chosen):
        j = n - b + i
        t = jr.randint(keys[i], (), 0, j + 1, dtype=jnp.int32)
        t = jnp.where(jnp.any(chosen == t), j, t)
        return chosen.at[i].set(t)

    return jax.lax.fori_loop(0, b, body, jnp.full((b,), -1, jnp.int32))


def _check_batch(problem, batch_size):
    if batch_size is None:
        return None
    batch_size = int(batch_size)
    n = problem.num_samples
    if n is None:
        problem.batch(jnp.zeros((1,), jnp.int32))  # raises the protocol's TypeError
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size: must be in [1, {n}], got {batch_size}")
    return batch_size


def run(
    problem: AbstractProblem,
    params0: Params,
    optimizer: AbstractOptimizer | optax.GradientTransformation,
    *,
    num_steps: int,
    key: PRNGKeyArray,
    batch_size: int | None = None,
    save: Save = Save(),
    stop: Stop = Stop(),
    opt_state0: PyTree | None = None,
) -> Trajectory:
    r"""Take `num_steps` steps of `optimizer` on `problem.loss` from `params0` in one
    `lax.scan`.

    **Arguments:**
    - `problem`: any `toymodels.problems.AbstractProblem`; `params0` any params pytree
      (a user's equinox model included, through `EquinoxProblem`).
    - `optimizer`: `GD`, `HeavyBall`, `Nesterov`, `EMAMomentum`, `Adam` (hyperparameters are
      arrays: a new value does not recompile, and they can be vmapped over) or any optax
      `GradientTransformation` (randomness it needs lives in its state).
    - `num_steps` (static), `key` (required): the key of the run; step $k$ draws its
      minibatch (and a stochastic problem its sample) from `fold_in(key, k)`.
    - `batch_size`: minibatches of this size (`minibatch_indices`: a uniformly random subset
      of the samples, drawn afresh at every step), for
      any problem with the minibatch protocol (`num_samples`, `batch(indices)`: the
      supervised problems, `EquinoxProblem` with data); `None` = full data.
    - `save`: a `Save` (what to record and when); `stop`: a `Stop` (when to stop early).
    - `opt_state0`: resume from this optimizer state (default: a fresh one).

    **Returns:** a `Trajectory`. Pure: `jax.jit(run, static_argnames=...)` and `jax.vmap` work;
    called outside jit, it compiles once per problem structure, optimizer type, `num_steps`,
    `batch_size`, `save` and `stop` structure.
    """
    if not isinstance(problem, AbstractProblem):
        raise TypeError(
            f"problem: expected a toymodels.problems.AbstractProblem, got {type(problem).__name__}"
        )
    if isinstance(num_steps, bool) or int(num_steps) != num_steps or int(num_steps) < 1:
        raise ValueError(f"num_steps: must be an integer >= 1, got {num_steps!r}")
    num_steps = int(num_steps)
    check_key("key", key)
    leaves = jax.tree_util.tree_leaves(params0)
    if not leaves:
        raise ValueError("params0: empty params pytree")
    for leaf in leaves:
        if not jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.inexact):
            raise TypeError(
                f"params0: every leaf must be a floating array, got {jnp.asarray(leaf).dtype}"
            )
    check_finite("params0", params0)
    as_transform(optimizer)  # type check
    if not isinstance(save, Save):
        raise TypeError(f"save: expected a toymodels.dynamics.Save, got {type(save).__name__}")
    if not isinstance(stop, Stop):
        raise TypeError(f"stop: expected a toymodels.dynamics.Stop, got {type(stop).__name__}")
    batch_size = _check_batch(problem, batch_size)
    save_steps = save.resolve(num_steps)
    config = (num_steps, batch_size, tuple(int(s) for s in save_steps), save.fn)
    return _run(problem, params0, optimizer, key, stop, opt_state0, config)


@eqx.filter_jit
def _run(problem, params0, optimizer, key, stop, opt_state0, config):
    # config (static): num_steps, batch_size, the recorded steps and Save.fn
    num_steps, batch_size, save_steps, save_fn = config
    dtype = jnp.result_type(*jax.tree_util.tree_leaves(params0))
    if isinstance(optimizer, AbstractOptimizer):
        optimizer = _cast_floats(optimizer, dtype)
    tx = as_transform(optimizer)
    stop = _cast_floats(stop, dtype)
    opt_state = optax_init(tx, params0) if opt_state0 is None else opt_state0

    def step_problem(k):
        kk = jr.fold_in(key, k)
        prob = problem
        if isinstance(prob, AbstractStochasticProblem):
            kk, sub = jr.split(kk)
            prob = prob.sample(sub)
        if batch_size is not None:
            idx = minibatch_indices(key=kk, num_samples=problem.num_samples, batch_size=batch_size)
            prob = prob.batch(idx)
        return prob

    # Save buffers: slot[k] >= 0 where step k is recorded. Save.fn gets the full-data loss,
    # computed inside the save branch only (the predicate is not batched under vmap).
    num_save = len(save_steps)
    slots = np.full((num_steps + 1,), -1, dtype=np.int32)
    slots[np.asarray(save_steps, dtype=np.int64)] = np.arange(num_save, dtype=np.int32)

    def record_value(k, params, state):
        loss = jnp.asarray(problem.loss(params), dtype)
        return save_fn(k, params, state, loss)

    example = jax.eval_shape(record_value, jnp.zeros((), jnp.int32), params0, opt_state)
    buffer = jax.tree_util.tree_map(lambda s: jnp.zeros((num_save,) + s.shape, s.dtype), example)

    def write(buffer, slot, k, params, state):
        if num_save == 0:
            return buffer

        def do(buf):
            val = record_value(k, params, state)
            return jax.tree_util.tree_map(lambda b, v: b.at[slot].set(v), buf, val)

        return jax.lax.cond(slot >= 0, do, lambda b: b, buffer)

    code_done = _CODES[StopReason.COMPLETED]
    code_div = _CODES[StopReason.DIVERGED]
    code_conv = _CODES[StopReason.CONVERGED]
    nan = jnp.asarray(jnp.nan, dtype)

    def body(carry, xs):
        params, state, loss0, stopped, code, stop_step, buffer = carry
        k, slot = xs
        buffer = write(buffer, slot, k, params, state)

        def active(_):
            prob = step_problem(k)
            loss, g = jax.value_and_grad(prob.loss)(params)
            loss = jnp.asarray(loss, dtype)
            new_params, new_state = optax_update(
                tx, g, state, params, value=loss, value_fn=prob.loss
            )
            l0 = jnp.where(k == 0, loss, loss0)
            bad = ~jnp.isfinite(loss) | ~_tree_finite(g)
            if stop.max_loss is not None:
                bad = bad | (loss > stop.max_loss)
            if stop.loss_ratio is not None:
                bad = bad | ((l0 > 0) & (loss > stop.loss_ratio * l0))
            bad = bad | ~_tree_finite(new_params)
            if stop.max_norm is not None:
                bad = bad | (_tree_max_abs(new_params) > stop.max_norm)
            conv = jnp.asarray(False)
            if stop.gtol is not None:
                conv = _tree_max_abs(g) < stop.gtol
            halt = bad | conv
            return new_params, new_state, l0, halt, bad, loss

        # One select per step (a lax.cond on `stopped` becomes a select of the whole state
        # under vmap anyway): a stopped run keeps its state, a halting one keeps θ_k.
        new_params, new_state, l0, halt, bad, loss = active(None)
        first = ~stopped & halt
        move = ~stopped & ~halt

        def keep(old, new):
            return jax.tree_util.tree_map(lambda o, n: jnp.where(move, n, o), old, new)

        params, state = keep(params, new_params), keep(state, new_state)
        code = jnp.where(first, jnp.where(bad, code_div, code_conv), code)
        stop_step = jnp.where(first, k.astype(jnp.int32), stop_step)
        loss0 = jnp.where(stopped, loss0, l0)
        loss = jnp.where(stopped, nan, loss)
        stopped = stopped | halt
        return (params, state, loss0, stopped, code, stop_step, buffer), loss

    init = (
        params0,
        opt_state,
        jnp.zeros((), dtype),
        jnp.asarray(False),
        jnp.asarray(code_done, jnp.int32),
        jnp.asarray(num_steps, jnp.int32),
        buffer,
    )
    xs = (jnp.arange(num_steps, dtype=jnp.int32), jnp.asarray(slots[:-1]))
    (params, state, _, _, code, stop_step, buffer), losses = jax.lax.scan(body, init, xs)
    final = jnp.asarray(problem.loss(params), dtype)
    buffer = write(buffer, jnp.asarray(slots[-1]), jnp.asarray(num_steps, jnp.int32), params, state)
    return Trajectory(
        params=params,
        opt_state=state,
        final_loss=final,
        loss=losses,
        save_steps=jnp.asarray(np.asarray(save_steps, dtype=np.int32)),
        saved=buffer,
        stop_reason=StopCode(code),
        stop_step=stop_step,
    )
