"""Loss on a 51×51 plane of a 64-256-256-10 ReLU MLP with 2048 samples: the vmapped, chunked
`toymodels.landscape.plane_values` against 2601 sequential calls of one jitted function
`(a, b) -> loss(θ + a·u + b·v)` (the strong baseline: params are built inside the jitted call,
one dispatch per point). Both in float32, timed after a warm-up call (compilation excluded), best of 3 runs each.

`*_gflops` are the achieved rates of the dense layers (2·n·Σ fan_in·fan_out flops per
point). When the single jitted call already runs near the machine's peak (as on a 2-core
CPU: one point is 0.34 GFLOP of matrix products), batching points cannot gain more than
peak / achieved: the ratio then measures the hardware, not the dispatch overhead that
vmapping removes. The small 20-64-64-5 network shows the dispatch-bound case."""

import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from toymodels import landscape as L
from toymodels.problems import mlp_classification


N_GRID = 51


def _problem(n, d, hidden, classes):
    kx, ky = jr.split(jr.key(0))
    x = jr.normal(kx, (n, d), jnp.float32)
    y = jr.randint(ky, (n,), 0, classes)
    return mlp_classification(x, y, hidden=hidden, activation="relu", num_classes=classes)


def _best_of(fn, repeats):
    """Fastest of `repeats` timed calls (the machine may be shared) and the last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def compare(problem, repeats: int = 3) -> dict:
    """Time both ways on one problem; returns seconds, ratio and the largest difference."""
    params = problem.init(jr.key(1))
    plane = L.random_plane(params, key=jr.key(2))
    grid = jnp.linspace(-1.0, 1.0, N_GRID, dtype=jnp.float32)

    def vmapped():
        return jax.block_until_ready(L.plane_values(problem, plane, grid, grid))

    t0 = time.perf_counter()
    z = vmapped()
    t_compile_vmapped = time.perf_counter() - t0
    t_vmapped, z = _best_of(vmapped, repeats)

    @jax.jit
    def loss_at(a, b):
        return problem.loss(plane.at(a, b))

    gx, gy = np.meshgrid(np.asarray(grid), np.asarray(grid))
    pts = [(jnp.float32(a), jnp.float32(b)) for a, b in zip(gx.ravel(), gy.ravel())]
    jax.block_until_ready(loss_at(*pts[0]))

    def sequential():
        return jax.block_until_ready(jnp.stack([loss_at(a, b) for a, b in pts]))

    t_sequential, seq = _best_of(sequential, repeats)
    seq = np.asarray(seq).reshape(N_GRID, N_GRID)
    diff = float(np.max(np.abs(seq - np.asarray(z)) / np.maximum(np.abs(seq), 1e-6)))
    points = N_GRID * N_GRID
    flops = 2 * problem.x.shape[0] * sum(int(layer["w"].size) for layer in params) * points
    return {
        "sequential_gflops": flops / t_sequential / 1e9,
        "vmapped_gflops": flops / t_vmapped / 1e9,
        "ratio": t_sequential / t_vmapped,
        "seconds_vmapped": t_vmapped,
        "seconds_vmapped_first_call_with_compile": t_compile_vmapped,
        "seconds_sequential_2601_jitted_calls": t_sequential,
        "chunk_size": L.auto_chunk_size(problem, params, num_points=N_GRID * N_GRID),
        "max_relative_difference": diff,
    }


def main() -> dict:
    big = compare(_problem(2048, 64, (256, 256), 10))
    # a small network (20-64-64-5, 512 samples), where one call is cheap and the per-call
    # dispatch of the sequential loop dominates
    small = compare(_problem(512, 20, (64, 64), 5))
    out = {"ratio_sequential_over_vmapped": big.pop("ratio")}
    out.update(big)
    out["ratio_small_mlp_20_64_64_5"] = small["ratio"]
    out["small_mlp_max_relative_difference"] = small["max_relative_difference"]
    out["device"] = str(jax.devices()[0])
    return out


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    for k, v in main().items():
        print(f"{k}: {v}")
