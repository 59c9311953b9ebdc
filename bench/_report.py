"""bench/out/BENCH.md and its figures from the stored JSONs (no benchmark is rerun):
`python -m bench --report`, and called at the end of every `python -m bench` run.

- bench/out/BENCH.md: the peer table of bench_peers.json, the acceptance targets (met or
  not), the scaling table of bench_scaling.json, the machine and the load average;
- bench/out/bench_ratios.png: the ratios on a log axis with the targets as marks;
- bench/out/bench_scaling.png: times against the parameter count, log-log, with a slope-1
  reference line.
"""

import json
import math
from pathlib import Path


HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
# fixed metadata: two runs on the same numbers give the same files
_PNG_META = {"Software": None}


def _load(name: str) -> dict | None:
    path = OUT / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def fmt_seconds(t) -> str:
    if t is None or (isinstance(t, float) and math.isnan(t)):
        return "—"
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{1e3 * t:.1f} ms"
    return f"{1e6 * t:.0f} µs"


def fmt_ratio(r) -> str:
    if r is None or (isinstance(r, float) and math.isnan(r)):
        return "—"
    return f"{r:.3g}×" if r < 100 else f"{r:.0f}×"


def fmt_num(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    return f"{x:.2g}"


def fmt_bytes(b) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= size:
            return f"{b / size:.1f} {unit}"
    return f"{b} B"


def _cell(s) -> str:
    return "—" if s is None else str(s).replace("|", "\\|")


def peer_table(rows: list[dict]) -> list[str]:
    lines = [
        "| what | peer (version) | toymodels | peer | ratio | HVPs (ours / peer) "
        "| accuracy (ours / peer) | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        bound = "≥ " if "lower bound" in (r["note"] or "") else ""
        peer_time = bound + fmt_seconds(r["peer_s"])
        if r["peer_s"] is None and (r["note"] or "").startswith("fails"):
            peer_time = "fails"
        lines.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (
                    r["what"],
                    f"{r['peer']} ({r['peer_version']})" if r["peer_version"] else r["peer"],
                    fmt_seconds(r["ours_s"]),
                    peer_time,
                    bound + fmt_ratio(r["ratio"]),
                    f"{fmt_num(r['ours_hvps'])} / {fmt_num(r['peer_hvps'])}",
                    f"{fmt_num(r['ours_acc'])} / {fmt_num(r['peer_acc'])}",
                    r["note"],
                )
            )
            + " |"
        )
    return lines


def acceptance(rows: list[dict]) -> list[str]:
    lines = ["| target | measured | met |", "|---|---|---|"]
    for r in rows:
        if r.get("target"):
            bound = "≥ " if "lower bound" in (r["note"] or "") else ""
            met = "**yes**" if r["target_met"] else "**no**"
            if bound and not r["target_met"]:  # the peer was stopped: a lower bound only
                met = "**not decided** (the peer stopped at its time budget)"
            lines.append(f"| {r['what']}: {r['target']} | {bound}{r['target_value']:.3g} | {met} |")
    return lines


def scaling_table(sc: dict) -> list[str]:
    lines = [
        "| params | width | gradient | HVP | HVP/grad | eigsh top-10 (HVPs) | SLQ 90×10 "
        "| HVP memory / grad (all / temps) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in sc["points"]:
        lines.append(
            f"| {p['num_params']:,} | {p['width']} | {fmt_seconds(p['grad_s'])} "
            f"| {fmt_seconds(p['hvp_s'])} | {p['hvp_over_grad']:.2f} "
            f"| {fmt_seconds(p['eigsh_top10_s'])} ({p['eigsh_top10_hvps']}) "
            f"| {fmt_seconds(p.get('slq_s'))}{'*' if p.get('slq_extrapolated') else ''} "
            f"| {p['memory_hvp_over_grad']:.2f} / {p['memory_hvp_over_grad_temps']:.2f} |"
        )
    return lines


def ratio_figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r["ratio"] is not None and not math.isnan(r["ratio"])]
    labels, values, targets = [], [], []
    for r in shown:
        labels.append(f"{r['what']}\nvs {r['peer']}")
        metric_is_ratio = r["target"] and "HVP/grad" not in r["target"]
        if r["target"] and "HVPs <=" in r["target"]:
            # eigsh HVPs / oracle: plot the ratio the target is about
            values.append(r["target_value"])
            targets.append(("max", 1.2))
        elif r["target"] and "HVP/grad" in r["target"]:
            values.append(r["target_value"])
            targets.append(("max", 2.0))
        elif metric_is_ratio:
            values.append(r["ratio"])
            bound = float(r["target"].split(">=")[1].split("x")[0].split()[0])
            targets.append(("min", bound))
        else:
            values.append(r["ratio"])
            targets.append(None)
    kinds = []
    for r in shown:
        if r["target"] and "HVPs <=" in r["target"]:
            kinds.append("eigsh HVPs / oracle-Lanczos HVPs")
        elif r["target"] and "HVP/grad" in r["target"]:
            kinds.append("toymodels HVP time / gradient time")
        elif r["target"] and "matmul" in r["target"]:
            kinds.append("plane GFLOP/s / matmul-peak GFLOP/s")
        else:
            kinds.append("peer time / toymodels time")
    colors = {
        "peer time / toymodels time": "C0",
        "toymodels HVP time / gradient time": "C1",
        "eigsh HVPs / oracle-Lanczos HVPs": "C2",
        "plane GFLOP/s / matmul-peak GFLOP/s": "C4",
    }
    fig, ax = plt.subplots(figsize=(7, 0.42 * len(shown) + 1.6), layout="constrained")
    y = list(range(len(shown)))[::-1]
    seen = set()
    for yi, val, kind in zip(y, values, kinds):
        ax.barh(yi, val, color=colors[kind], label=None if kind in seen else kind, height=0.6)
        seen.add(kind)
    mins = [(yi, t[1]) for yi, t in zip(y, targets) if t and t[0] == "min"]
    maxs = [(yi, t[1]) for yi, t in zip(y, targets) if t and t[0] == "max"]
    if mins:
        ax.scatter([b for _, b in mins], [yi for yi, _ in mins], marker="|", s=300,
                   color="k", linewidths=2, zorder=3, label="target: at least")  # fmt: skip
    if maxs:
        ax.scatter([b for _, b in maxs], [yi for yi, _ in maxs], marker="x", s=60,
                   color="crimson", linewidths=2, zorder=3, label="target: at most")  # fmt: skip
    ax.axvline(1.0, color="0.5", lw=1, ls="--", label="parity (1×)")
    ax.set_xscale("log")
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel("ratio (log scale)")
    ax.set_title("toymodels against its peers and the machine's limits")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    fig.savefig(path, dpi=120, metadata=_PNG_META)
    plt.close(fig)


def scaling_figure(sc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    pts = sc["points"]
    n = np.array([p["num_params"] for p in pts], float)
    fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    series = (
        ("hvp_s", "one HVP", "o"),
        ("grad_s", "one gradient", "v"),
        ("eigsh_top10_s", "eigsh top-10 (tol 1e-4)", "s"),
        ("slq_s", "SLQ 90 steps × 10 probes (open: 5× 90 × 2)", "^"),
    )
    for i, (key, label, marker) in enumerate(series):
        t = np.array([p.get(key, np.nan) for p in pts], float)
        (line,) = ax.loglog(n, t, marker=marker, label=label, color=f"C{i}")
        if key == "slq_s":  # open markers where the time is extrapolated from 90 x 2
            ext = np.array([bool(p.get("slq_extrapolated")) for p in pts])
            ax.loglog(n[ext], t[ext], marker, mfc="white", color=f"C{i}", ls="none")
    t0 = pts[0]["hvp_s"]
    ax.loglog(n, t0 * n / n[0], "k--", lw=1, label="slope 1 (linear in n)")
    dt = pts[0]["dtype"]
    ax.set_xlabel("parameters n")
    ax.set_ylabel("seconds")
    ax.set_title(f"64-w-w-10 tanh MLP, {pts[0]['num_samples']} samples, {dt}")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=120, metadata=_PNG_META)
    plt.close(fig)


def report(out: Path = OUT) -> Path | None:
    peers, sc, meta = _load("bench_peers"), _load("bench_scaling"), _load("run_meta")
    if peers is None and sc is None:
        print("no bench_peers.json or bench_scaling.json in bench/out: nothing to report")
        return None
    src = peers or sc
    m = src["machine"]
    lines = [
        "# Benchmarks: toymodels against its peers and the machine's limits",
        "",
        f"Generated by `make bench` (`python -m bench peers scaling`; `python -m bench "
        f"--report` rebuilds this file from bench/out/*.json). Run {m['date_utc']}.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores ({m['platform']}); JAX {m['jax']} "
        f"({m['jax_device']}), jaxlib {m['jaxlib']}, torch {m['torch']}, NumPy {m['numpy']}, "
        f"SciPy {m['scipy']}, Python {m['python']}.",
    ]
    if not meta and peers:  # the peers' own record (a run stopped before its end)
        meta = {
            "load_start": peers["load_start"],
            "load_end": peers["load_end"],
            "seconds": peers["seconds"],
            "names": "bench_peers only",
        }
    if meta:
        lines.append(
            f"Load average (1, 5, 15 min) at the start of the run: {meta['load_start']}; at "
            f"the end: {meta['load_end']}; the whole run took {meta['seconds']:.0f} s "
            f"({meta['names']})."
        )
    lines.append(
        "The machine is shared: the sides of every comparison run in one process, "
        "alternated, and the table gives medians (3 rounds unless the note says 1); ratios "
        "are more trustworthy than seconds."
    )
    if peers:
        rows = peers["rows"]
        lines += [
            "",
            "## Against the peers",
            "",
            f"Curvature rows: 64-256-256-10 tanh MLP, 2048 samples, {peers['num_params']:,} "
            "parameters, float32 on both sides, same weights and data; accuracy is the largest "
            "relative error of the requested eigenvalues against a float64 reference "
            f"(λ₁ = {peers['lambda_ref_f64'][0]:.6g}) unless the note says otherwise. "
            "ratio = peer time / toymodels time (> 1: toymodels is faster); for the limit "
            "rows see the note. PyHessian and hessian-eigenthings are charged only the last "
            "run of their tolerance ladder (as if the right setting were known); the note "
            "gives the whole ladder.",
            "",
            *peer_table(rows),
            "",
            "## Acceptance (issue 16)",
            "",
            *acceptance(rows),
        ]
        if peers.get("quick"):
            lines += ["", "**BENCH_QUICK=1: a smoke run at reduced sizes, not the numbers.**"]
    if sc:
        cap = sc["slq_capacity"]
        lines += [
            "",
            "## Scaling with the parameter count",
            "",
            f"64-w-w-10 tanh MLPs, {sc['points'][0]['num_samples']} samples, "
            f"{sc['points'][0]['dtype']}. Memory is XLA's accounting of the compiled jitted "
            "function (`memory_analysis()`: arguments + outputs + temporaries; 'temps' = "
            "temporaries only), not a measured RSS. Times are second calls (compiled); "
            "SLQ marked * is 5× a measured 90 × 2 (probes run one after another; where both "
            "were measured, 90 × 10 / (5 × 90 × 2) = "
            + ", ".join(
                f"{p['slq_over_5x_90x2']:.2f}" for p in sc["points"] if "slq_over_5x_90x2" in p
            )
            + "). Log-log slopes: "
            f"HVP {sc['loglog_slope_hvp_s']:.2f}, eigsh top-10 "
            f"{sc['loglog_slope_eigsh_top10_s']:.2f}, SLQ {sc['loglog_slope_slq_s']:.2f}.",
            "",
            *scaling_table(sc),
            "",
            f"This part: load average {sc['load_start']} at its start, {sc['load_end']} at "
            f"its end, {sc['seconds']:.0f} s.",
            "",
            f"Largest network whose SLQ basis fits in 24 GiB: about "
            f"{cap['max_params_slq_in_24GiB'] / 1e6:.0f} million parameters ({cap['how']}: "
            f"{cap['basis_rows']} basis rows × 4 bytes = {cap['basis_bytes_per_param']} "
            f"bytes per parameter for the basis + {cap['hvp_bytes_per_param']:.0f} for the "
            f"HVP at {sc['points'][0]['num_samples']} samples).",
        ]
    out.mkdir(exist_ok=True)
    if peers:
        ratio_figure(peers["rows"], out / "bench_ratios.png")
        lines += ["", "![ratios](bench_ratios.png)"]
    if sc:
        scaling_figure(sc, out / "bench_scaling.png")
        lines += ["", "![scaling](bench_scaling.png)"]
    path = out / "BENCH.md"
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    print(report())
