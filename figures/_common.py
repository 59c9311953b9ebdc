"""Shared machinery of the figure scripts: float64, the agg backend, deterministic saving,
the compute/plot split, and claims collection.

A figure script `figures/figNN_topic.py` defines

- `TITLE` (str) and `SEED` (int);
- `compute(*, fast: bool) -> dict[str, array]`: all the numerics, no plotting;
- `claims(data) -> list[Claim]`: theory-vs-simulation claims evaluated on `data`;
- `plot(data, out: Path) -> list[Path]`: the figure file(s), written under `out`;

and ends with `if __name__ == "__main__": cli(__name__)`. `run_figure` runs the three in
order, stores `data` as `.npz` (never pickle) and attaches the figure file to each claim.
"""

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

import jax


jax.config.update("jax_enable_x64", True)

import matplotlib


matplotlib.use("agg")
import matplotlib.pyplot as plt
import numpy as np

from toymodels.claims import Claim, FigureRecord


FIGURES_DIR = Path(__file__).resolve().parent
OUT = FIGURES_DIR / "out"

plt.rcParams.update(
    {
        "figure.dpi": 100,
        "savefig.dpi": 120,
        "font.size": 9,
        "axes.titlesize": 9,
        "axes.labelsize": 9,
        "legend.fontsize": 8,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "toymodels",
        "path.simplify": False,
    }
)


def save(fig, path: Path) -> Path:
    """Save deterministically: no timestamps or software versions in the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    metadata = {
        ".png": {"Software": None},
        ".pdf": {"CreationDate": None, "Producer": None, "Creator": None, "ModDate": None},
        ".svg": {"Date": None, "Creator": None},
    }.get(suffix, {})
    fig.savefig(path, metadata=metadata, bbox_inches="tight")
    plt.close(fig)
    return path


def figure_modules() -> list[str]:
    """Names of all figure scripts, in order."""
    return sorted(p.stem for p in FIGURES_DIR.glob("fig[0-9]*.py"))


def load(name: str):
    return importlib.import_module(f"figures.{name}")


def _save_data(data: dict, path: Path) -> None:
    arrays = {k: np.asarray(v) for k, v in data.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def run_figure(name: str, *, out: Path = OUT, fast: bool = True, plot: bool = True) -> FigureRecord:
    """Compute, plot and evaluate the claims of one figure script; errors are recorded, not
    raised, so that one broken figure cannot hide the others."""
    module = load(name)
    t0 = time.perf_counter()
    files: list[str] = []
    claims: list[Claim] = []
    try:
        data = module.compute(fast=fast)
        _save_data(data, out / "data" / f"{name}.npz")
        if plot:
            files = [str(p) for p in module.plot(data, out)]
        main_file = files[0] if files else None
        for c in module.claims(data):
            claims.append(c if c.figure or main_file is None else _with_figure(c, main_file))
        error = None
    except Exception as err:  # report, never hide
        traceback.print_exc()
        error = f"{type(err).__name__}: {err}".replace("|", "/").replace("\n", " ")[:300]
    return FigureRecord(
        name=name,
        title=getattr(module, "TITLE", name),
        files=files,
        claims=claims,
        seconds=time.perf_counter() - t0,
        fast=fast,
        error=error,
    )


def _with_figure(c: Claim, path: str) -> Claim:
    import dataclasses

    return dataclasses.replace(c, figure=path)


def cli(module_name: str) -> None:
    """`python -m figures.figNN_topic [--full] [--out DIR]` for one figure."""
    parser = argparse.ArgumentParser(description=f"Run {module_name}")
    parser.add_argument("--full", action="store_true", help="full (paper-size) mode")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    name = module_name.rsplit(".", 1)[-1]
    if name == "__main__":
        name = Path(sys.argv[0]).stem
    rec = run_figure(name, out=args.out, fast=not args.full)
    for c in rec.claims:
        print(("PASS " if c.passed else "FAIL ") + c.name)
    if rec.error:
        print("ERROR", rec.error)
    sys.exit(0 if rec.error is None and all(c.passed for c in rec.claims) else 1)
