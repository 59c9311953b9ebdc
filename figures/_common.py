"""Shared machinery of the figure scripts: float64, the agg backend, deterministic saving,
the compute/plot split, and claims collection.

A figure script `figures/figNN_topic.py` defines

- `TITLE` (str) and `SEED` (int);
- `compute(*, fast: bool) -> dict[str, array]`: all the numerics, no plotting;
- `claims(data) -> list[Claim]`: the claims evaluated on `data`, each of a kind
  (`Claim.quantitative`: a prediction function of the claim's parameters at three or more
  values against the simulation; `Claim.qualitative`: a direction or bound that could fail;
  `Claim.discrepancy`: a paper's statement we do not reproduce), each citing its paper
  through `cite`;
- `plot(data, out: Path) -> list[Path]`: the figure file(s), written under `out`;

and ends with `if __name__ == "__main__": cli(__name__)`. `run_figure` runs the three in
order, stores `data` as `.npz` (never pickle) and attaches the figure file to each claim.
"""

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

import jax


jax.config.update("jax_enable_x64", True)
# JAX's persistent compilation cache (git-ignored): a second `make reproduce` skips the
# compilations of the first; JAX_COMPILATION_CACHE_DIR overrides the place.
if not (os.environ.get("JAX_COMPILATION_CACHE_DIR") or jax.config.jax_compilation_cache_dir):
    jax.config.update(
        "jax_compilation_cache_dir", str(Path(__file__).resolve().parent / "cache" / "jax")
    )
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)

import matplotlib


matplotlib.use("agg")
import matplotlib.pyplot as plt
import numpy as np

from toymodels.claims import Claim, FigureRecord


#: the papers the figures reproduce, as a reader would look them up (authors, year, venue or
#: arXiv id); `cite(key, where)` adds the figure or section
PAPERS = {
    "goodfellow": "Goodfellow, Vinyals & Saxe 2015 (ICLR 2015, arXiv:1412.6544)",
    "saxe": "Saxe, McClelland & Ganguli 2014 (ICLR 2014, arXiv:1312.6120)",
    "ghorbani": "Ghorbani, Krishnan & Xiao 2019 (ICML 2019, arXiv:1901.10159)",
    "marchenko_pastur": "Marchenko & Pastur 1967 (Mat. Sb. 72:507-536)",
    "bbp": "Baik, Ben Arous & Péché 2005 (Ann. Probab. 33:1643-1697)",
    "cohen": "Cohen, Kaur, Li, Kolter & Talwalkar 2021 (ICLR 2021, arXiv:2103.00065)",
    "ghosh": "Ghosh 2026 (arXiv:2605.23476)",
    "li_filter": "Li, Xu, Taylor, Studer & Goldstein 2018 (NeurIPS 2018, arXiv:1712.09913)",
    "lipton": "Lipton 2016 (ICLR 2016 workshop, arXiv:1602.07320)",
    "garipov": "Garipov, Izmailov, Podoprikhin, Vetrov & Wilson 2018 (NeurIPS 2018, "
    "arXiv:1802.10026)",
    "yang": "Yang, Hodgkinson, Theisen, Zou, Gonzalez, Ramchandran & Mahoney 2021 "
    "(NeurIPS 2021, arXiv:2107.11228)",
    "li_intrinsic": "Li, Farkhoor, Liu & Yosinski 2018 (ICLR 2018, arXiv:1804.08838)",
    "dinc": "Dinc, Cirakman, Kurtkaya, Yuksekgonul, Jiang, Schnitzer & Tanaka 2025 "
    "(arXiv:2501.02378)",
    "fukumizu": "Fukumizu & Amari 2000 (Neural Netw. 13:317-327)",
    "martinelli": "Martinelli, van Meegen, Şimşek, Gerstner & Brea 2025 (NeurIPS 2025, "
    "arXiv:2506.14951)",
    "brea": "Brea, Şimşek, Illing & Gerstner 2019 (arXiv:1907.02911)",
    "simsek": "Şimşek, Ged, Jacot, Spadaro, Hongler, Gerstner & Brea 2021 (ICML 2021, "
    "arXiv:2105.12221)",
    "ainsworth": "Ainsworth, Hayase & Srinivasa 2023 (ICLR 2023, arXiv:2209.04836)",
    "soudry": "Soudry & Carmon 2016 (arXiv:1605.08361)",
    "fort_ganguli": "Fort & Ganguli 2019 (arXiv:1910.05929)",
    "fort_scherlis": "Fort & Scherlis 2019 (AAAI-19, arXiv:1807.02581)",
    "fort_jastrzebski": "Fort & Jastrzebski 2019 (NeurIPS 2019, arXiv:1906.04724)",
    "li_sgd": "Li, Gu, Zhou, Chen & Banerjee 2020 (SDM 2020, arXiv:1907.10732)",
    "chen_bruna": "Chen & Bruna 2023 (arXiv:2206.04172)",
    "domine": "Dominé, Anguita, Proca, Braun, Kunin, Mediano & Saxe 2024 (arXiv:2409.14623)",
}


def cite(key: str, where: str = "") -> str:
    """The citation of paper `key` of `PAPERS`, with the figure or section `where`."""
    return PAPERS[key] + (f", {where}" if where else "")


FIGURES_DIR = Path(__file__).resolve().parent
OUT = FIGURES_DIR / "out"

#: printed widths (inches): one journal column, and the full text width a figure of two or
#: three panels is printed at; a wider figure is shrunk to `PAGE_WIDTH`, its fonts with it
COLUMN_WIDTH = 3.4
PAGE_WIDTH = 7.0
#: no text of a saved figure is smaller than this at its printed size (points)
MIN_FONT_SIZE = 7.0

#: the one style of every figure: 9 pt text, 8 pt legends and ticks (legible in print at
#: `PAGE_WIDTH`); figures draw at `figsize=(PAGE_WIDTH, h)` or narrower and never pass a
#: smaller `fontsize`
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "figure.titlesize": 9,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.2,
    "svg.hashsalt": "toymodels",
    "path.simplify": False,
}
plt.rcParams.update(STYLE)


def panels(ncols: int = 1, nrows: int = 1, *, height: float = 2.6, width: float = PAGE_WIDTH):
    """A new figure of `nrows` x `ncols` panels at its printed width (default `PAGE_WIDTH`),
    constrained layout; returns `(fig, axes)` as `plt.subplots` does."""
    return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained")


def caption(fig, text: str):
    """State the setup (network, data, training stage, sizes, seeds) on the figure, as its
    suptitle wrapped to the figure's width (the text the test of legibility checks)."""
    import textwrap

    size = plt.rcParams["figure.titlesize"]
    size = size if isinstance(size, int | float) else 9
    chars = max(40, int(fig.get_figwidth() * 72 / (0.58 * size)))
    return fig.suptitle(textwrap.fill(text, chars), fontsize=size)


def illegible(fig) -> list[str]:
    """The texts of `fig` smaller than `MIN_FONT_SIZE` at the printed size (the saved
    figure, `bbox_inches="tight"`, shrunk to `PAGE_WIDTH` when wider), and `"no setup"` when
    the figure has no suptitle."""
    from matplotlib.text import Text

    tight = (
        fig.get_tightbbox(fig.canvas.get_renderer()).width + 2 * plt.rcParams["savefig.pad_inches"]
    )
    scale = min(1.0, PAGE_WIDTH / max(tight, fig.get_figwidth()))
    bad = []
    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip():
            printed = t.get_fontsize() * scale
            if printed < MIN_FONT_SIZE - 1e-9:
                bad.append(f"{t.get_text()[:40]!r} at {printed:.1f} pt")
    if fig._suptitle is None or not fig._suptitle.get_text().strip():
        bad.append("no setup (caption(fig, ...) states it)")
    return bad


def save(fig, path: Path) -> Path:
    """Save deterministically: no timestamps or software versions in the file (png, pdf,
    svg). Warns when a text is too small in print or the setup is missing (`illegible`)."""
    import warnings

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bad = illegible(fig)
    if bad:
        warnings.warn(f"{path.name}: " + "; ".join(bad[:5]), stacklevel=2)
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
        print(f"{c.status.upper():11s} [{c.kind.value}] {c.name}")
    if rec.error:
        print("ERROR", rec.error)
    sys.exit(0 if rec.error is None and all(c.status != "fail" for c in rec.claims) else 1)
