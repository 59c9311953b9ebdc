"""Ghost mechanism: learning-rate × seed sweeps through `toymodels.dynamics.run` (vmapped)
against the model's own training loops before the engine (a verbatim copy of `adcfd7a`'s
`models/ghost` `train_gd`/`rnn_sweep` and `gradient_descent`/`lr_seed_sweep`, kept below as
the baseline). Both are timed in the same process after warm-up (compilation excluded); the
ratio is engine / baseline (< 1: the engine is faster) and the final losses are compared.

- `rnn_*`: the paper's rank-one RNN (N = 100, T = 20), 6 learning rates × 4 seeds, 2000
  GD steps, records every 100 (`rnn_f32_*`: the same in float32).
- `canonical_*`: reduced GD on r (T = 100, LIMIT model), 10 learning rates × 20 seeds, 4000
  steps: a scalar per run, so this measures the engine's per-step overhead.
- `*_step_overhead_*`: what in `run`'s step costs time, measured on the canonical sweep by
  variants of the same scan (see `_overhead`).
"""

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.flatten_util import ravel_pytree

from toymodels import dynamics
from toymodels.models import ghost
from toymodels.problems import leaky_rnn


# ---------------------------------------------------------------- baseline (adcfd7a)
def _old_train_gd(problem, params, lr, *, num_epochs, record_every=1):
    n, k = int(num_epochs), int(record_every)
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
    return loss, gn, problem.loss(final), final


@eqx.filter_jit
def _old_rnn_sweep(problem, lrs, keys, *, num_epochs, record_every):
    def one(lr, key):
        return _old_train_gd(
            problem, problem.init(key), lr, num_epochs=num_epochs, record_every=record_every
        )

    return jax.vmap(jax.vmap(one, (None, 0)), (0, None))(lrs, keys)


def _old_gradient_descent(problem, r0, lr, *, num_steps):
    lr = jnp.asarray(lr, r0.dtype)

    def body(r, _):
        r = r - lr * problem.grad(r)
        return r, r

    _, rs = jax.lax.scan(body, r0, None, length=int(num_steps))
    return jnp.concatenate([r0[None], rs])


@eqx.filter_jit
def _old_lr_seed_sweep(problem, lrs, keys, *, num_steps):
    def one(lr, key):
        return _old_gradient_descent(problem, problem.init(key), lr, num_steps=num_steps)[-1]

    final = jax.vmap(jax.vmap(one, (None, 0)), (0, None))(lrs, keys)
    return final, jax.vmap(jax.vmap(problem.loss))(final)


# ---------------------------------------------------------------- timing
def _best_of_interleaved(fns, repeats=5):
    """Best wall time and best CPU time (all threads of this process) of each function,
    timed in turn (a b a b ...), so that load from other processes on a shared machine hits
    every side alike; CPU time is the steadier of the two there."""
    wall, cpu = [np.inf] * len(fns), [np.inf] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0, c0 = time.perf_counter(), time.process_time()
            jax.block_until_ready(fn())
            wall[i] = min(wall[i], time.perf_counter() - t0)
            cpu[i] = min(cpu[i], time.process_time() - c0)
    return wall, cpu


def _rnn(num_steps=2000, dtype=jnp.float64):
    tag = "rnn" if dtype == jnp.float64 else "rnn_f32"
    rnn = leaky_rnn(x0=jnp.asarray(-0.3, dtype))
    lrs = jnp.asarray(np.geomspace(1e-3, 3e-2, 6), dtype)
    key = jr.key(0)
    keys = jr.split(key, 4)  # = the engine sweep's seeds

    def new():
        return ghost.rnn_sweep(
            rnn, lrs, key=key, num_seeds=4, num_steps=num_steps, record_every=100
        ).final_loss

    def old():
        return _old_rnn_sweep(rnn, lrs, keys, num_epochs=num_steps, record_every=100)[2]

    a, b = jax.block_until_ready(new()), jax.block_until_ready(old())  # compile both
    (t_new, t_old), (c_new, c_old) = _best_of_interleaved([new, old])
    runs = lrs.size * keys.shape[0]
    return {
        f"{tag}_runs_x_steps": f"{runs} x {num_steps}",
        f"{tag}_engine_s": t_new,
        f"{tag}_baseline_s": t_old,
        f"{tag}_ratio_engine_over_baseline": t_new / t_old,
        f"{tag}_cpu_ratio_engine_over_baseline": c_new / c_old,
        f"{tag}_max_abs_diff_final_loss": float(np.max(np.abs(np.asarray(a) - np.asarray(b)))),
        f"{tag}_us_per_step_run_engine": 1e6 * t_new / (runs * num_steps),
    }


def _canonical(num_steps=4000):
    p = ghost.canonical_ghost(100.0, time="limit")
    lrs = ghost.critical_lr(100.0) * jnp.geomspace(0.3, 3.0, 10)
    key = jr.key(1)
    keys = jr.split(key, 20)

    def new():
        return ghost.lr_seed_sweep(p, lrs, key=key, num_seeds=20, num_steps=num_steps)

    def old():
        return _old_lr_seed_sweep(p, lrs, keys, num_steps=num_steps)

    a, b = jax.block_until_ready(new()), jax.block_until_ready(old())
    (t_new, t_old), (c_new, c_old) = _best_of_interleaved([new, old], repeats=20)
    return {
        "canonical_runs_x_steps": f"{lrs.size * keys.shape[0]} x {num_steps}",
        "canonical_engine_s": t_new,
        "canonical_baseline_s": t_old,
        "canonical_ratio_engine_over_baseline": t_new / t_old,
        "canonical_cpu_ratio_engine_over_baseline": c_new / c_old,
        "canonical_max_abs_diff_final_r": float(np.max(np.abs(a.final_r - b[0]))),
        "canonical_max_abs_diff_final_loss": float(np.max(np.abs(a.final_loss - b[1]))),
        "canonical_same_trapped": bool(np.all(a.trapped == p.in_no_learning_zone(b[0]))),
    }


def _overhead(num_steps=4000):
    """Where `run`'s per-step time goes, on the scalar canonical sweep (200 runs, one scalar
    each: the step's own work is tiny, so the engine's bookkeeping shows). `replica` is
    `dynamics._run`'s step body rewritten here with parts switched off (the engine itself
    is not edited): `freeze` = the `lax.cond(stopped, frozen, active)` plus the inner
    `where(halt, old, new)` (under vmap the cond becomes a select of the whole carry),
    `checks` = the non-finite tests of loss, gradient and new params (`_tree_finite`:
    `jnp.stack` of per-leaf `all(isfinite)`), `save` = the per-step `lax.cond` on the save
    slot. `merged` is the proposed fix: no cond, one `where(stopped | halt, old, new)`."""
    p = ghost.canonical_ghost(100.0, time="limit")
    lrs = ghost.critical_lr(100.0) * jnp.geomspace(0.3, 3.0, 10)
    r0 = jax.vmap(p.init)(jr.split(jr.key(1), 20))
    k = jr.key(2)
    dtype = r0.dtype

    def finite(tree):
        leaves = jax.tree_util.tree_leaves(tree)
        return jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in leaves]))

    def replica(*, freeze, checks, save, merged=False):
        def one(lr, params):
            tx = dynamics.GD(learning_rate=lr).transform()
            state = dynamics.optax_init(tx, params)
            buf = jnp.zeros((1,), dtype)

            def body(carry, xs):
                params, state, stopped, buf = carry
                step, slot = xs
                if save:
                    buf = jax.lax.cond(
                        slot >= 0, lambda b: b.at[slot].set(p.loss(params)), lambda b: b, buf
                    )

                def active(_):
                    loss, g = jax.value_and_grad(p.loss)(params)
                    new_p, new_s = dynamics.optax_update(tx, g, state, params)
                    halt = jnp.asarray(False)
                    if checks:
                        halt = ~jnp.isfinite(loss) | ~finite(g) | ~finite(new_p)
                    if freeze and not merged:
                        new_p = jnp.where(halt, params, new_p)
                    return new_p, new_s, halt, loss

                if merged:
                    new_p, new_s, halt, loss = active(None)
                    keep = stopped | halt
                    params = jnp.where(keep, params, new_p)
                    state = jax.tree_util.tree_map(lambda o, n: jnp.where(keep, o, n), state, new_s)
                    loss, stopped = jnp.where(stopped, jnp.nan, loss), keep
                elif freeze:
                    nan = jnp.asarray(jnp.nan, dtype)
                    params, state, stopped, loss = jax.lax.cond(
                        stopped, lambda _: (params, state, stopped, nan), active, None
                    )
                else:
                    params, state, stopped, loss = active(None)
                return (params, state, stopped, buf), loss

            slots = jnp.full((num_steps,), -1, jnp.int32)
            xs = (jnp.arange(num_steps, dtype=jnp.int32), slots)
            init = (params, state, jnp.asarray(False), buf)
            return jax.lax.scan(body, init, xs)[0][0]

        f = jax.jit(lambda lrs, r0: jax.vmap(jax.vmap(one, (None, 0)), (0, None))(lrs, r0))
        return lambda: f(lrs, r0)

    def engine(stop):
        def one(lr, r):
            opt = dynamics.GD(learning_rate=lr)
            return dynamics.run(p, r, opt, num_steps=num_steps, key=k, stop=stop).params

        f = jax.jit(lambda lrs, r0: jax.vmap(jax.vmap(one, (None, 0)), (0, None))(lrs, r0))
        return lambda: f(lrs, r0)

    @jax.jit
    def bare(lrs, r0):
        one = lambda lr, r: _old_gradient_descent(p, r, lr, num_steps=num_steps)[-1]
        return jax.vmap(jax.vmap(one, (None, 0)), (0, None))(lrs, r0)

    variants = {
        "baseline_scan": lambda: bare(lrs, r0),
        "engine_stop_default": engine(dynamics.Stop()),
        "engine_stop_nonfinite_only": engine(dynamics.Stop(max_norm=None, loss_ratio=None)),
        "replica_full": replica(freeze=True, checks=True, save=True),
        "replica_no_freeze_no_checks": replica(freeze=False, checks=False, save=True),
        "replica_freeze_no_checks": replica(freeze=True, checks=False, save=True),
        "replica_no_save_cond": replica(freeze=True, checks=True, save=False),
        "replica_merged_where_fix": replica(freeze=True, checks=True, save=True, merged=True),
    }
    outs = [jax.block_until_ready(fn()) for fn in variants.values()]
    for o in outs[1:]:  # the same GD (chaotic at the cusp: compare the outcome)
        np.testing.assert_array_equal(p.in_no_learning_zone(o), p.in_no_learning_zone(outs[0]))
    _, cpu = _best_of_interleaved(list(variants.values()), repeats=30)
    per = lrs.size * r0.shape[0] * num_steps
    return {f"canonical_ns_per_step_run_{n}": 1e9 * c / per for n, c in zip(variants, cpu)}


def main() -> dict:
    return {**_rnn(), **_rnn(dtype=jnp.float32), **_canonical(), **_overhead()}


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    for k, v in main().items():
        print(f"{k}: {v}")
