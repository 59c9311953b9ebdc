"""A vmapped sweep chunk against a Python loop over the same jitted function, on 1000 small
points (a few gradient steps on a random 8x8 quadratic per point).

    python -m bench sweep
"""

import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from toymodels.sweep import evaluate_chunk, sweep
from toymodels.sweep._sweep import _CONFIG_FLAGS, _Task


N_POINTS = 1000


def f_point(point, key):
    a = jr.normal(key, (8, 8))
    h = a @ a.T / 8 + jnp.eye(8)
    x = jnp.ones(8)
    for _ in range(10):
        x = x - point["lr"] * (h @ x)
    return {"loss": 0.5 * x @ h @ x, "norm": jnp.linalg.norm(x)}


def _best(fn, repeats=5) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> dict:
    lrs = np.linspace(0.01, 0.5, N_POINTS)
    base = jr.key(0)
    key_data = np.asarray(jr.key_data(base))
    task = _Task(
        fn=f_point,
        names=("lr", "seed"),
        static=(),
        dynamic={"lr": lrs, "seed": np.arange(N_POINTS, dtype=np.int64)},
        seeds=np.arange(N_POINTS, dtype=np.uint32),  # point i: key fold_in(base, i)
        padded=N_POINTS,
        key_data=key_data,
        key_impl=str(jr.key_impl(base)),
        config=tuple((n, getattr(jax.config, n)) for n in _CONFIG_FLAGS),
    )
    chunk = evaluate_chunk(task)  # compile

    one = jax.jit(lambda lr, i: f_point({"lr": lr, "seed": 0}, jr.fold_in(base, i)))
    lr_dev = [jnp.asarray(v) for v in lrs]

    def loop():
        out = [one(lr_dev[i], np.uint32(i)) for i in range(N_POINTS)]
        return jax.block_until_ready(out)

    looped = loop()  # compile
    loop_losses = np.array([float(o["loss"]) for o in looped])
    if not np.allclose(loop_losses, chunk["loss"], rtol=1e-10, atol=1e-12):
        raise AssertionError("vmapped chunk and loop disagree")

    t_chunk = _best(lambda: evaluate_chunk(task))
    t_loop = _best(loop, repeats=3)
    sweep(f_point, {"lr": lrs}, key=base, chunk_size=N_POINTS)  # compile through sweep
    t_sweep = _best(lambda: sweep(f_point, {"lr": lrs}, key=base, chunk_size=N_POINTS), 3)
    return {
        "points": N_POINTS,
        "loop_seconds": t_loop,
        "chunk_seconds": t_chunk,
        "sweep_seconds": t_sweep,
        "vmapped_chunk_vs_loop": t_loop / t_chunk,
        "whole_sweep_call_vs_loop": t_loop / t_sweep,
    }


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    for k, v in main().items():
        print(f"{k}: {v}")
