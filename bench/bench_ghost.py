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
    """Best wall time of each function, timed in turn (a b a b ...), so that load from other
    processes on a shared machine hits both sides alike."""
    best = [np.inf] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


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
    t_new, t_old = _best_of_interleaved([new, old])
    runs = lrs.size * keys.shape[0]
    return {
        f"{tag}_runs_x_steps": f"{runs} x {num_steps}",
        f"{tag}_engine_s": t_new,
        f"{tag}_baseline_s": t_old,
        f"{tag}_ratio_engine_over_baseline": t_new / t_old,
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
    t_new, t_old = _best_of_interleaved([new, old])
    return {
        "canonical_runs_x_steps": f"{lrs.size * keys.shape[0]} x {num_steps}",
        "canonical_engine_s": t_new,
        "canonical_baseline_s": t_old,
        "canonical_ratio_engine_over_baseline": t_new / t_old,
        "canonical_max_abs_diff_final_r": float(np.max(np.abs(a.final_r - b[0]))),
        "canonical_max_abs_diff_final_loss": float(np.max(np.abs(a.final_loss - b[1]))),
        "canonical_same_trapped": bool(np.all(a.trapped == p.in_no_learning_zone(b[0]))),
    }


def _overhead(num_steps=4000):
    """Where `run`'s per-step time goes, on the scalar canonical sweep (200 runs): `run`
    with Stop() (its default checks), with `Stop(max_norm=None, loss_ratio=None)` (only the
    non-finite checks, which are always on) and the bare scan of the baseline."""
    p = ghost.canonical_ghost(100.0, time="limit")
    lrs = ghost.critical_lr(100.0) * jnp.geomspace(0.3, 3.0, 10)
    r0 = jax.vmap(p.init)(jr.split(jr.key(1), 20))
    k = jr.key(2)

    def make(stop):
        @jax.jit
        def sweep(lrs, r0):
            def one(lr, r):
                opt = dynamics.GD(learning_rate=lr)
                return dynamics.run(p, r, opt, num_steps=num_steps, key=k, stop=stop).params

            return jax.vmap(jax.vmap(one, (None, 0)), (0, None))(lrs, r0)

        return lambda: sweep(lrs, r0)

    @jax.jit
    def bare(lrs, r0):
        one = lambda lr, r: _old_gradient_descent(p, r, lr, num_steps=num_steps)[-1]
        return jax.vmap(jax.vmap(one, (None, 0)), (0, None))(lrs, r0)

    variants = {
        "default_stop": make(dynamics.Stop()),
        "nonfinite_only": make(dynamics.Stop(max_norm=None, loss_ratio=None)),
        "bare_scan": lambda: bare(lrs, r0),
    }
    for fn in variants.values():
        jax.block_until_ready(fn())
    times = _best_of_interleaved(list(variants.values()))
    return {
        f"canonical_step_overhead_{name}_ns_per_step_run": 1e9
        * t
        / (lrs.size * r0.shape[0] * num_steps)
        for name, t in zip(variants, times)
    }


def main() -> dict:
    return {**_rnn(), **_rnn(dtype=jnp.float32), **_canonical(), **_overhead()}


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    for k, v in main().items():
        print(f"{k}: {v}")
