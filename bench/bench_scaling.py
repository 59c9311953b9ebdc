"""Scaling with the parameter count: time per HVP (and per gradient), `eigsh` top-10 and SLQ
(90 steps x 10 probes) on 64-w-w-10 tanh MLPs of growing width w (float32, 512 samples,
10 classes), from about 1e4 to 1e6 parameters; the memory of an HVP relative to a gradient;
the largest network whose SLQ basis fits in 24 GiB.

- Times: HVP and gradient are medians of alternated calls after a warm-up; `eigsh`
  (k = 10, tol 1e-4) is the second call (the first compiles and traces: `eigsh_first_s`,
  with `eigsh_compile_s` of XLA compilation by `jax.monitoring`'s events). SLQ 90 x 10 is a
  second call up to 1.5e5 parameters; above, where one call is 900 HVPs (a minute at 1e6 on
  2 cores), it is 5x a measured second call of 90 x 2 (probes run one after another, so
  the cost is linear in their number; `slq_over_5x_90x2` checks this where both exist).
- Memory: XLA's own accounting of the compiled, jitted function (`compiled.memory_analysis()`:
  arguments + outputs + temporaries, aliasing ignored), for `grad` and for a
  forward-over-reverse HVP, on the same arguments (problem with its data, params, vector).
  Not a measured peak RSS.
- SLQ capacity: computed, not measured: bytes per parameter = the Lanczos basis (its padded
  row count x the dtype's bytes, probes run one after another so one basis lives at a time)
  + the HVP's bytes per parameter (the slope of its memory between the two largest
  networks); the largest n is 24 GiB over that.

python -m bench scaling
"""

import os
import time

import equinox as eqx
import jax
import jax.monitoring
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from bench._common import alternate, loadavg, machine
from toymodels import landscape, linalg
from toymodels.problems import mlp_classification


WIDTHS = (70, 300, 1000)  # about 1.0e4, 1.1e5, 1.07e6 params
NUM_SAMPLES = 512
SLQ_STEPS, SLQ_PROBES = 90, 10
SLQ_FULL_MAX = 150_000  # above this, SLQ 90 x 10 is 5x a measured 90 x 2
CAPACITY_BYTES = 24 * 2**30

_compile_s = [0.0]


def _listener(name, duration, **kwargs):
    if name.endswith("backend_compile_duration"):
        _compile_s[0] += duration


jax.monitoring.register_event_duration_secs_listener(_listener)


def _problem(width, *, num_samples, dtype, depth=2, d_in=64, classes=10):
    k1, k2, k3 = jr.split(jr.key(0), 3)
    x = jr.normal(k1, (num_samples, d_in), dtype)
    labels = jr.randint(k2, (num_samples,), 0, classes)
    problem = mlp_classification(x, labels, hidden=(width,) * depth, num_classes=classes)
    return problem, problem.init(k3)


def _memory(fn, *args) -> dict:
    ma = jax.jit(fn).lower(*args).compile().memory_analysis()
    parts = {
        "argument_bytes": int(ma.argument_size_in_bytes),
        "output_bytes": int(ma.output_size_in_bytes),
        "temp_bytes": int(ma.temp_size_in_bytes),
    }
    parts["total_bytes"] = sum(parts.values())
    return parts


def _timed_once(fn):
    """Wall seconds of one call and the XLA compilation seconds inside it."""
    _compile_s[0] = 0.0
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - t0, _compile_s[0]


def measure(width, *, num_samples=NUM_SAMPLES, dtype=jnp.float32, rounds=5, slq=True) -> dict:
    problem, params = _problem(width, num_samples=num_samples, dtype=dtype)
    op = landscape.hessian_operator(problem, params)
    n = op.shape[0]
    v = jax.tree_util.tree_map(lambda a: jnp.ones_like(a) / 100, params)

    def grad_fn(pr, p):
        return pr.grad(p)

    def hvp_fn(pr, p, t):
        return jax.jvp(jax.grad(pr.loss), (p,), (t,))[1]

    grad, hvp = eqx.filter_jit(grad_fn), eqx.filter_jit(hvp_fn)
    t = alternate(
        {"grad": lambda: grad(problem, params), "hvp": lambda: hvp(problem, params, v)},
        rounds=rounds,
    )
    mem_grad = _memory(grad_fn, problem, params)
    mem_hvp = _memory(hvp_fn, problem, params, v)
    out = {
        "width": width,
        "num_params": n,
        "num_samples": num_samples,
        "dtype": jnp.dtype(dtype).name,
        "grad_s": t["grad"]["median_s"],
        "hvp_s": t["hvp"]["median_s"],
        "hvp_over_grad": t["hvp"]["median_s"] / t["grad"]["median_s"],
        "memory_grad": mem_grad,
        "memory_hvp": mem_hvp,
        "memory_hvp_over_grad": mem_hvp["total_bytes"] / mem_grad["total_bytes"],
        "memory_hvp_over_grad_temps": mem_hvp["temp_bytes"] / max(mem_grad["temp_bytes"], 1),
    }

    def eig():
        return linalg.eigsh(op, 10, tol=1e-4, key=jr.key(1), warn=False)[0]

    first, comp = _timed_once(eig)
    out["eigsh_first_s"], out["eigsh_compile_s"] = first, comp
    out["eigsh_first_minus_compile_s"] = first - comp
    out["eigsh_top10_s"] = _timed_once(eig)[0]
    info = linalg.eigsh(op, 10, tol=1e-4, key=jr.key(1), warn=False, return_info=True)[3]
    out["eigsh_top10_hvps"] = int(info["num_matvecs"])
    if slq:

        def dens(num_probes):
            return lambda: (
                linalg.spectral_density(
                    op, num_steps=SLQ_STEPS, num_probes=num_probes, key=jr.key(2)
                ).nodes
            )

        # probes run one after another in one compiled loop: 90 x 10 costs 5x 90 x 2;
        # measured directly (second call) up to SLQ_FULL_MAX params, 5x 90 x 2 above
        _timed_once(dens(2))
        out["slq_90x2_s"] = _timed_once(dens(2))[0]
        out["slq_s"] = SLQ_PROBES / 2 * out["slq_90x2_s"]
        out["slq_extrapolated"] = True
        if n <= SLQ_FULL_MAX:
            _timed_once(dens(SLQ_PROBES))
            out["slq_s"] = _timed_once(dens(SLQ_PROBES))[0]
            out["slq_extrapolated"] = False
            out["slq_over_5x_90x2"] = out["slq_s"] / (SLQ_PROBES / 2 * out["slq_90x2_s"])
    return out


def capacity(points: list[dict], *, basis_rows: int, itemsize: int) -> dict:
    """The largest n whose SLQ working set fits in CAPACITY_BYTES (computed, see module docs)."""
    a, b = points[-2], points[-1]
    hvp_slope = (b["memory_hvp"]["total_bytes"] - a["memory_hvp"]["total_bytes"]) / (
        b["num_params"] - a["num_params"]
    )
    per_param = basis_rows * itemsize + hvp_slope
    return {
        "basis_rows": basis_rows,
        "basis_bytes_per_param": basis_rows * itemsize,
        "hvp_bytes_per_param": hvp_slope,
        "bytes_per_param": per_param,
        "capacity_bytes": CAPACITY_BYTES,
        "max_params_slq_in_24GiB": int(CAPACITY_BYTES / per_param),
        "how": "computed from the measured per-parameter bytes (XLA memory_analysis of the "
        "HVP, slope between the two largest networks) plus the Lanczos basis; not measured",
    }


def main(widths=None) -> dict:
    from toymodels.linalg._batching import bucket_fine

    widths = WIDTHS if widths is None else widths
    if os.environ.get("BENCH_QUICK") == "1":
        widths = widths[:2]
    out: dict = {"load_start": loadavg(), "machine": machine()}
    t0 = time.perf_counter()
    points = []
    for w in widths:
        r = measure(w)
        points.append(r)
        print(
            f"  width {w}: {r['num_params']} params, HVP {1e3 * r['hvp_s']:.1f} ms, "
            f"eigsh {r['eigsh_top10_s']:.2f} s, SLQ {r.get('slq_s', float('nan')):.1f} s",
            flush=True,
        )
    out["points"] = points
    out["slq_capacity"] = capacity(points, basis_rows=bucket_fine(SLQ_STEPS) + 1, itemsize=4)
    ns = np.array([p["num_params"] for p in points], float)
    for key in ("hvp_s", "eigsh_top10_s", "slq_s"):
        ts = np.array([p[key] for p in points], float)
        out[f"loglog_slope_{key}"] = float(np.polyfit(np.log(ns), np.log(ts), 1)[0])
    out["seconds"] = time.perf_counter() - t0
    out["load_end"] = loadavg()
    return out


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    res = main()
    print({k: v for k, v in res.items() if k != "points"})
