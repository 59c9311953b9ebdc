"""Run every figure script, then write figures/out/REPORT.md.

python -m figures            # fast mode (what `make reproduce` runs)
python -m figures --full     # full, paper-size runs (`make reproduce FULL=1`)
python -m figures --only fig01_goodfellow_toy
"""

import argparse
import sys
from pathlib import Path

from figures._common import OUT, figure_modules, run_figure
from toymodels.claims import audit_claims, write_report


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
        counted = [c for c in rec.claims if c.status != "discrepancy"]
        n_ok = sum(c.passed for c in counted)
        n_disc = len(rec.claims) - len(counted)
        status = (
            "ERROR"
            if rec.error
            else f"{n_ok}/{len(counted)} claims pass"
            + (f", {n_disc} discrepancies" if n_disc else "")
        )
        print(f"[figures] {name}: {status} in {rec.seconds:.1f} s", flush=True)
        records.append(rec)
    report = write_report(records, args.out / "REPORT.md")
    failed = [c.name for r in records for c in r.claims if c.status == "fail"]
    errors = [r.name for r in records if r.error]
    broken = audit_claims(c for r in records for c in r.claims)
    print(f"[figures] report written to {report}")
    for b in broken:
        print(f"[figures] claim rule broken: {b}", file=sys.stderr)
    if failed or errors or broken:
        print(f"[figures] FAILED claims: {failed}; scripts with errors: {errors}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
