"""Run `check()` of every derivation module."""

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    failed = []
    for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"derivations.{info.name}")
        try:
            mod.check()
            print(f"ok   derivations.{info.name}")
        except AssertionError as err:
            failed.append(info.name)
            print(f"FAIL derivations.{info.name}: {err}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
