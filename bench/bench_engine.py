"""The engine `dynamics.run` against the old host-loop `dynamics.train` (commit adcfd7a, copied
below as the baseline) on a digits MLP: same optimizer, same number of steps, both compiled
before timing (best of 5, timed in turn so that load from other processes hits both alike).

- `gd_*`: full-batch GD (1797 samples, 64-32-10 tanh MLP, cross-entropy), 300 steps. The
  final params of both are checked equal (the same recurrence).
- `sgd_*`: minibatches of 64 drawn without replacement, 300 steps (the two draw different
  batches from their keys, so only the time is compared).

Measured 2026-12-01 on 2 shared cores: GD old/new 1.13 (0.74-0.90 before the engine's
per-step `lax.cond` was replaced by one select), SGD 7.1 (1.17 before the engine drew batches
by Floyd's algorithm).

`ratio_old_over_new` >= 1 means the engine is at least as fast. The engine does more per step
than the baseline's bare scan (stop tests on loss, gradient and params every step; a
`lax.cond` that skips the step of a stopped run), the baseline tests divergence once, at the
end of its chunk. Diagnostics, timed alongside:

- `gd_scan_with_masked_stop_checks_s`: the baseline's scan plus the engine's per-step stop
  tests, a stopped state frozen by `jnp.where` instead of `lax.cond`. Measured by hand
  (2 shared cores, 2026-12-01, best of 20): bare scan 1174 µs/step, + stop tests with
  `jnp.where` 1199 (+2 %), the same inside `lax.cond(stopped, frozen, active)` 1257 (+7 %),
  the engine 1321 (+12.5 %): the `lax.cond` around the step is the largest single cost on
  CPU (XLA's conditional materialises its operands and blocks fusion across it), the rest
  is the engine's other per-step bookkeeping.
- `sgd_batch_index_draws_only_s`: the baseline's minibatch index draws alone,
  `jr.choice(..., replace=False)`, which permutes all N indices (a sort) to take B of them:
  ~1.3 ms/step for 64 of 1797, 18× the 64-sample gradient step (~77 µs). The engine draws
  small batches by Floyd's algorithm since 5aef454 (~24 µs here), hence its SGD ratio.
"""

import dataclasses
import enum
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from toymodels import dynamics
from toymodels.data import digits
from toymodels.problems import AbstractSupervisedProblem, mlp_classification


NUM_STEPS = 300
BATCH_SIZE = 64
LEARNING_RATE = 0.1


# ------------------------------------------------------------------ baseline (adcfd7a)
# `toymodels/dynamics/_train.py` at adcfd7a, with only what a plain run needs: the
# `Optimizer` (step size an array), the jitted chunk scan and the host loop over chunk
# boundaries (records and sharpness dropped; a plain run is one chunk of `num_steps`).


class _Method(enum.Enum):
    GD = "gd"


class _OldOptimizer(eqx.Module):
    method: _Method = eqx.field(static=True)
    lr: jax.Array

    def to_optax(self) -> optax.GradientTransformation:
        return optax.sgd(self.lr)


def _old_gd(lr: float) -> _OldOptimizer:
    return _OldOptimizer(_Method.GD, jnp.asarray(lr, dtype=jnp.result_type(float)))


class _StopReason(enum.Enum):
    T1 = "t1"
    DIVERGED = "diverged"


@dataclasses.dataclass(frozen=True)
class _OldTrainResult:
    loss: np.ndarray
    final_params: object
    steps_done: int
    stop_reason: _StopReason


@eqx.filter_jit
def _run_chunk(problem, opt, params, opt_state, key, batch_size, *, length, replace):
    tx = opt.to_optax() if isinstance(opt, _OldOptimizer) else opt

    def step(carry, _):
        params, opt_state, key = carry
        if batch_size is None:
            prob = problem
        else:
            key, sub = jr.split(key)
            idx = jr.choice(sub, problem.num_samples, (batch_size,), replace=replace)
            prob = problem.with_data(problem.x[idx], problem.targets[idx])
        loss, g = jax.value_and_grad(prob.loss)(params)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes int counts and floats
            updates, opt_state = tx.update(g, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state, key), loss

    (params, opt_state, key), losses = jax.lax.scan(
        step, (params, opt_state, key), None, length=length
    )
    return params, opt_state, key, losses


@eqx.filter_jit
def _init_state(opt, params):
    tx = opt.to_optax() if isinstance(opt, _OldOptimizer) else opt
    return tx.init(params)


def _old_train(
    problem,
    params0,
    optimizer,
    *,
    num_steps,
    batch_size=None,
    replace=False,
    key=None,
    max_norm=1e10,
):
    num_steps = int(num_steps)
    if batch_size is not None:
        if not isinstance(problem, AbstractSupervisedProblem):
            raise TypeError("batch_size: mini-batches need a supervised problem (x, targets)")
        batch_size = int(batch_size)
    key = jr.key(0) if key is None else key
    key, _lanczos_key = jr.split(key)
    bounds = np.unique(np.asarray([0, num_steps]))
    params, opt_state = params0, _init_state(optimizer, params0)
    losses = np.full((num_steps,), np.nan)
    reason = _StopReason.T1
    done = 0
    for b in bounds:
        if b > done:
            params, opt_state, key, chunk = _run_chunk(
                problem,
                optimizer,
                params,
                opt_state,
                key,
                batch_size,
                length=int(b - done),
                replace=bool(replace),
            )
            losses[done:b] = np.asarray(chunk)
            done = int(b)
            flat, _ = ravel_pytree(params)
            if (
                not (
                    np.all(np.isfinite(np.asarray(chunk))) and np.all(np.isfinite(np.asarray(flat)))
                )
                or float(jnp.max(jnp.abs(flat))) > max_norm
            ):
                reason = _StopReason.DIVERGED
                break
    return _OldTrainResult(losses, params, done, reason)


# ------------------------------------------------------------------ diagnostics
# What the engine's step costs beyond the baseline's: (1) the baseline scan plus the engine's
# per-step stop tests, the stopped state frozen by `jnp.where` (no `lax.cond`); (2) the
# minibatch index draws alone (`jr.choice` without replacement, as both sides draw them).


@eqx.filter_jit
def _masked_checks_scan(problem, params, lr, *, length):
    tx = optax.sgd(lr)

    def tree_ok(t):
        return jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree.leaves(t)]))

    def step(carry, _):
        params, opt_state, stopped = carry
        loss, g = jax.value_and_grad(problem.loss)(params)
        with jax.numpy_dtype_promotion("standard"):
            updates, new_state = tx.update(g, opt_state, params)
        new = optax.apply_updates(params, updates)
        big = jnp.max(jnp.stack([jnp.max(jnp.abs(a)) for a in jax.tree.leaves(new)])) > 1e10
        halt = stopped | ~jnp.isfinite(loss) | ~tree_ok(g) | ~tree_ok(new) | big
        keep = lambda o, n: jax.tree.map(lambda a, b: jnp.where(halt, a, b), o, n)  # noqa: E731
        return (keep(params, new), keep(opt_state, new_state), halt), loss

    init = (params, tx.init(params), jnp.asarray(False))
    (params, _, _), losses = jax.lax.scan(step, init, None, length=length)
    return params, losses


@eqx.filter_jit
def _draws_only(key, *, n, batch_size, length):
    def step(c, k):
        idx = jr.choice(jr.fold_in(key, k), n, (batch_size,), replace=False)
        return c + idx[0].astype(c.dtype), None

    return jax.lax.scan(step, jnp.zeros((), jnp.int32), jnp.arange(length))[0]


# ------------------------------------------------------------------ timing


def _best_of_interleaved(fns, repeats=5):
    best = [np.inf] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def _case(tag, prob, p0, batch_size):
    key = jr.key(1)

    def new():
        t = dynamics.run(
            prob,
            p0,
            dynamics.GD(learning_rate=LEARNING_RATE),
            num_steps=NUM_STEPS,
            key=key,
            batch_size=batch_size,
        )
        return t.params, t.loss

    def old():
        r = _old_train(
            prob,
            p0,
            _old_gd(LEARNING_RATE),
            num_steps=NUM_STEPS,
            batch_size=batch_size,
            key=key,
        )
        return r.final_params, r.loss

    if batch_size is None:
        lr = jnp.asarray(LEARNING_RATE)

        def diag():
            return _masked_checks_scan(prob, p0, lr, length=NUM_STEPS)

        diag_name = "scan_with_masked_stop_checks_s"
    else:

        def diag():
            return _draws_only(key, n=prob.num_samples, batch_size=batch_size, length=NUM_STEPS)

        diag_name = "batch_index_draws_only_s"
    (pn, ln), (po, lo), pd = new(), old(), diag()  # compile all
    out = {}
    if batch_size is None:
        diff = np.max(np.abs(ravel_pytree(pn)[0] - ravel_pytree(po)[0]))
        assert diff < 1e-12, diff
        np.testing.assert_allclose(np.asarray(ln), lo, rtol=1e-12)
        np.testing.assert_allclose(ravel_pytree(pd[0])[0], ravel_pytree(po)[0], rtol=1e-12)
        out[f"{tag}_max_abs_diff_final_params"] = float(diff)
    t_new, t_old, t_diag = _best_of_interleaved([new, old, diag])
    out.update(
        {
            f"{tag}_steps": NUM_STEPS,
            f"{tag}_engine_s": t_new,
            f"{tag}_old_train_s": t_old,
            f"{tag}_ratio_old_over_new": t_old / t_new,
            f"{tag}_us_per_step_engine": 1e6 * t_new / NUM_STEPS,
            f"{tag}_{diag_name}": t_diag,
            f"{tag}_diagnostic_over_engine": t_diag / t_new,
        }
    )
    print(tag, out, flush=True)
    return out


def main() -> dict:
    jax.config.update("jax_enable_x64", True)
    x, y = digits(standardize=False)
    prob = mlp_classification(x, y, hidden=(32,), num_classes=10)
    p0 = prob.init(jr.key(0))
    out = {"num_samples": int(x.shape[0]), "num_params": int(ravel_pytree(p0)[0].size)}
    out.update(_case("gd", prob, p0, None))
    out.update(_case("sgd", prob, p0, BATCH_SIZE))
    return out


if __name__ == "__main__":
    for k, v in main().items():
        print(f"{k}: {v}")
