"""Run every figure script, then write figures/out/REPORT.md.

python -m figures            # fast mode (what `make reproduce` runs)
python -m figures --full     # full, paper-size runs
python -m figures --only fig01_goodfellow_toy
"""

import argparse
import sys
from pathlib import Path

from figures._common import OUT, figure_modules, run_figure
from toymodels.claims import write_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="full (non-fast) mode")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", nargs="*", default=None, help="figure script names")
    parser.add_argument("--report-only", action="store_true", help="evaluate claims, skip plots")
    args = parser.parse_args()
    names = args.only or figure_modules()
    records = []
    for name in names:
        print(f"[figures] {name} ({'full' if args.full else 'fast'}) ...", flush=True)
        rec = run_figure(name, out=args.out, fast=not args.full, plot=not args.report_only)
        n_ok = sum(c.passed for c in rec.claims)
        status = "ERROR" if rec.error else f"{n_ok}/{len(rec.claims)} claims pass"
        print(f"[figures] {name}: {status} in {rec.seconds:.1f} s", flush=True)
        records.append(rec)
    report = write_report(records, args.out / "REPORT.md")
    failed = [c.name for r in records for c in r.claims if not c.passed]
    errors = [r.name for r in records if r.error]
    print(f"[figures] report written to {report}")
    if failed or errors:
        print(f"[figures] FAILED claims: {failed}; scripts with errors: {errors}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
