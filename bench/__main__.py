"""Run every `bench/bench_*.py` (each defines `main() -> dict`), print and store the ratios.

python -m bench              # all
python -m bench curvature    # bench_curvature.py only
python -m bench engine       # bench_engine.py: dynamics.run against the old host-loop train
python -m bench linalg       # bench_linalg.py: trace batching, eigsh overhead, first call
python -m bench peers scaling  # what `make bench` runs: the peer report and the scaling
python -m bench --report     # rebuild bench/out/BENCH.md and its figures from the JSONs

Every run ends by rebuilding bench/out/BENCH.md (bench/_report.py) from the JSONs there.
"""

import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

import jax


jax.config.update("jax_enable_x64", True)
# the persistent compilation cache, as in the figures and tests; the benchmarks time steady
# state (and bench_linalg the first call in a fresh process with its own empty cache)
if not (os.environ.get("JAX_COMPILATION_CACHE_DIR") or jax.config.jax_compilation_cache_dir):
    jax.config.update(
        "jax_compilation_cache_dir", str(Path(__file__).resolve().parent / "out" / "jax-cache")
    )
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    from bench import _report
    from bench._common import loadavg

    if "--report" in argv:
        print(_report.report())
        return 0
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    status = 0
    load_start, t0 = loadavg(), time.perf_counter()
    for name in names:
        print(f"== {name}", flush=True)
        try:
            result = importlib.import_module(f"bench.{name}").main()
        except Exception:
            traceback.print_exc()
            status = 1
            continue
        (out / f"{name}.json").write_text(json.dumps(result, indent=1, default=float))
        for k, v in result.items():
            if not isinstance(v, (dict, list)):  # the nested tables are in the JSON
                print(f"  {k}: {v}")
    meta = {
        "names": " ".join(names),
        "load_start": load_start,
        "load_end": loadavg(),
        "seconds": time.perf_counter() - t0,
    }
    (out / "run_meta.json").write_text(json.dumps(meta, indent=1))
    print(_report.report())
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
