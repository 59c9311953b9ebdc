"""Run every `bench/bench_*.py` (each defines `main() -> dict`), print and store the ratios.

python -m bench              # all
python -m bench curvature    # bench_curvature.py only
python -m bench engine       # bench_engine.py: dynamics.run against the old host-loop train
python -m bench linalg       # bench_linalg.py: trace batching, eigsh overhead, first call
"""

import importlib
import json
import sys
import traceback
from pathlib import Path

import jax


jax.config.update("jax_enable_x64", True)

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    status = 0
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
            print(f"  {k}: {v}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
