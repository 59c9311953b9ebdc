"""A spectral density on a log axis with an optional theory overlay."""

from collections.abc import Callable
from typing import Any

import numpy as np

from ._common import as_array, finish, new_axes, vertical_lines


def plot_density(
    grid: Any,
    density: Any,
    *,
    ax: Any = None,
    sigma: float | None = None,
    kernel: Any = "gaussian",
    theory: Callable[[np.ndarray], np.ndarray] | Any | None = None,
    theory_label: str = "theory",
    label: str = "SLQ",
    outliers: Any = None,
    outlier_label: str = "outliers",
    log: bool = True,
    floor: float = 1e-8,
    color: str = "C0",
    title: str | None = None,
    legend_loc: str = "best",
):
    r"""Plot a spectral density with an optional theory overlay and outlier marks.

    **Arguments:**
    - `grid`: the eigenvalue grid, a 1-D array; `None` with a `SpectralDensity` takes
      `density.grid()` (its support widened by 5 %).
    - `density`: a `toymodels.linalg.SpectralDensity` (the result of `spectral_density`,
      smoothed on `grid` with `sigma` and `kernel`, see `SpectralDensity.density`) or an
      array of density values on `grid`.
    - `ax` (keyword-only): the Axes to draw on; default a new one-column figure.
    - `theory` (keyword-only): a function of the grid (for example
      `lambda x: toymodels.rmt.marchenko_pastur_density(x, gamma)`) or an array on the grid,
      drawn dashed with the legend entry `theory_label`.
    - `outliers` (keyword-only): eigenvalues marked by dotted vertical lines (one legend
      entry, `outlier_label`).
    - `log` (keyword-only): log y-axis (default); values below `floor` are drawn at the floor.
    - `title` (keyword-only): the setup (operator, model, data, training stage), wrapped to
      the axes' width.

    Returns the matplotlib Axes.
    """
    from ..linalg import SpectralDensity

    if isinstance(density, SpectralDensity):
        if grid is None:
            grid = density.grid()
        x = as_array("grid", grid, ndim=1)
        y = as_array("density", density.density(np.asarray(x), sigma=sigma, kernel=kernel), ndim=1)
    else:
        if grid is None:
            raise ValueError("grid: needed when density is an array (None only for a result)")
        x = as_array("grid", grid, ndim=1)
        y = as_array("density", density, ndim=1)
    if y.shape != x.shape:
        raise ValueError(f"density: expected shape {x.shape} matching grid, got {y.shape}")
    ax = new_axes(ax)
    ax.plot(x, np.maximum(y, floor) if log else y, color=color, lw=1.2, label=label)
    if theory is not None:
        t = as_array("theory", theory(x) if callable(theory) else theory)
        if t.shape != x.shape:
            raise ValueError(f"theory: expected shape {x.shape}, got {t.shape}")
        ax.plot(x, np.maximum(t, floor) if log else t, "k--", lw=1.0, label=theory_label)
    if outliers is not None:
        v = np.atleast_1d(as_array("outliers", outliers))
        ax.plot(
            *vertical_lines(v),
            transform=ax.get_xaxis_transform(),
            color="C3",
            lw=0.8,
            ls=":",
            label=outlier_label,
        )
    if log:
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor)
    ax.set(xlabel="eigenvalue", ylabel="density")
    return finish(ax, title=title, legend_loc=legend_loc)
