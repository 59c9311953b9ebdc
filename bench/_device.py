"""The benchmarks at a larger scale, for a machine with a GPU (run by bench/device.sh).

- scaling (float32): time per HVP and gradient, `eigsh` top-10, SLQ 90 x 10 and the HVP's
  compiled memory on 64-w-w-10 tanh MLPs from about 1e6 to 1e7 parameters (bench_scaling's
  `measure`), and the largest network whose SLQ basis fits in 24 GiB (computed);
- the float32 accuracy loss, measured against float64 on a smaller MLP (about 1e5 params):
  one HVP, the top-10 eigenvalues, a 20-probe trace with the same probes, the top SLQ node.

`--smoke` (DEVICE_SMOKE=1 in device.sh): tiny sizes, to prove the script on a CPU.
Writes device.json and DEVICE.md under `--out`.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import jax


jax.config.update("jax_enable_x64", True)  # float64 for the accuracy reference only

import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402
import numpy as np  # noqa: E402

from bench import bench_scaling  # noqa: E402
from bench._common import loadavg, machine  # noqa: E402
from bench._report import fmt_seconds, scaling_table  # noqa: E402
from toymodels import landscape, linalg  # noqa: E402


def accuracy_f32(width: int, num_samples: int) -> dict:
    """float32 against float64 on the same weights, data and keys."""
    out = {}
    problem, params = bench_scaling._problem(width, num_samples=num_samples, dtype=jnp.float64)
    p32 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), params)
    prob32 = problem.with_data(problem.x.astype(jnp.float32), problem.targets)
    ops = {
        jnp.float64: landscape.hessian_operator(problem, params),
        jnp.float32: landscape.hessian_operator(prob32, p32),  # the same numbers, rounded
    }
    n = ops[jnp.float64].shape[0]
    out["num_params"] = n
    v = jr.normal(jr.key(7), (n,), jnp.float64)
    hv64 = ops[jnp.float64].matvec(v)
    hv32 = ops[jnp.float32].matvec(v.astype(jnp.float32)).astype(jnp.float64)
    out["hvp_rel_err"] = float(jnp.linalg.norm(hv32 - hv64) / jnp.linalg.norm(hv64))
    e64 = np.asarray(linalg.eigsh(ops[jnp.float64], 10, tol=1e-9, key=jr.key(1), warn=False)[0])
    e32 = np.asarray(linalg.eigsh(ops[jnp.float32], 10, tol=1e-4, key=jr.key(1), warn=False)[0])
    out["top10_f64"] = e64.tolist()
    out["top10_max_rel_err_f32"] = float(np.max(np.abs(e32 - e64) / np.abs(e64)))
    t64 = linalg.trace(ops[jnp.float64], num_probes=20, key=jr.key(3))
    t32 = linalg.trace(ops[jnp.float32], num_probes=20, key=jr.key(3))
    out["trace20_f64"], out["trace20_f32"] = float(t64[0]), float(t32[0])
    out["trace20_rel_diff"] = abs(float(t32[0]) - float(t64[0])) / abs(float(t64[0]))
    n64 = linalg.spectral_density(ops[jnp.float64], num_probes=2, key=jr.key(4)).nodes
    n32 = linalg.spectral_density(ops[jnp.float32], num_probes=2, key=jr.key(4)).nodes
    out["slq_top_node_rel_diff"] = float(
        abs(float(jnp.max(n32)) - float(jnp.max(n64))) / abs(float(jnp.max(n64)))
    )
    return out


def main(argv=None) -> int:
    from toymodels.linalg._batching import bucket_fine

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.smoke:
        widths, samples, acc_width, acc_samples = (8, 16), 64, 16, 64
    else:  # about 1.1e6, 3.4e6 and 1.0e7 parameters
        widths, samples, acc_width, acc_samples = (1000, 1800, 3130), 2048, 300, 2048
    t0 = time.perf_counter()
    res: dict = {"smoke": args.smoke, "machine": machine(), "load_start": loadavg()}
    points = []
    for w in widths:
        p = bench_scaling.measure(w, num_samples=samples, dtype=jnp.float32, rounds=5)
        points.append(p)
        print(f"width {w}: {p['num_params']} params, HVP {fmt_seconds(p['hvp_s'])}, "
              f"eigsh {fmt_seconds(p['eigsh_top10_s'])}, SLQ {fmt_seconds(p['slq_s'])}",
              flush=True)  # fmt: skip
    res["points"] = points
    res["slq_capacity"] = bench_scaling.capacity(
        points, basis_rows=bucket_fine(bench_scaling.SLQ_STEPS) + 1, itemsize=4
    )
    res["accuracy_f32_vs_f64"] = accuracy_f32(acc_width, acc_samples)
    res["seconds"] = time.perf_counter() - t0
    res["load_end"] = loadavg()
    (out_dir / "device.json").write_text(json.dumps(res, indent=1, default=float))
    acc = res["accuracy_f32_vs_f64"]
    m = res["machine"]
    lines = [
        "# Device benchmark"
        + (" (DEVICE_SMOKE=1: tiny sizes, not the numbers)" if args.smoke else ""),
        "",
        f"{m['date_utc']}; {m['jax_device']}; CPU {m['cpu']} ({m['cores']} cores); "
        f"JAX {m['jax']}; {res['seconds']:.0f} s in all.",
        "",
        "## Scaling (float32)",
        "",
        *scaling_table(res),
        "",
        f"SLQ 90 x 10 in 24 GiB: about {res['slq_capacity']['max_params_slq_in_24GiB']:,} "
        f"parameters ({res['slq_capacity']['how']}).",
        "",
        f"## float32 against float64 ({acc['num_params']:,} params, {acc_samples} samples)",
        "",
        f"- one HVP: relative error {acc['hvp_rel_err']:.2g}",
        f"- top-10 eigenvalues (float32 at tol 1e-4): largest relative error "
        f"{acc['top10_max_rel_err_f32']:.2g}",
        f"- trace, 20 probes, same probes: relative difference {acc['trace20_rel_diff']:.2g}",
        f"- SLQ top node: relative difference {acc['slq_top_node_rel_diff']:.2g}",
    ]
    (out_dir / "DEVICE.md").write_text("\n".join(lines) + "\n")
    print(out_dir / "DEVICE.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
