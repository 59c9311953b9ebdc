"""A spectral density on a log axis with an optional theory overlay."""

from collections.abc import Callable
from typing import Any

import numpy as np


def plot_density(
    grid: Any,
    density: Any,
    *,
    ax: Any = None,
    theory: Callable[[np.ndarray], np.ndarray] | Any | None = None,
    theory_label: str = "theory",
    label: str = "SLQ",
    outliers: Any = None,
    log: bool = True,
    floor: float = 1e-8,
    color: str = "C0",
):
    """Plot `density` on `grid` (log y-axis by default, values below `floor` clipped so that
    the log axis shows them at the floor) with an optional `theory` overlay: a function of
    the grid or an array on the grid. `outliers` (values) are marked by vertical ticks.
    Returns the matplotlib Axes (a new figure when `ax` is None)."""
    import matplotlib.pyplot as plt

    x = np.asarray(grid, dtype=np.float64)
    y = np.asarray(density, dtype=np.float64)
    if x.ndim != 1 or y.shape != x.shape:
        raise ValueError(f"density: expected shape {x.shape} matching grid, got {y.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.2), layout="constrained")
    ax.plot(x, np.maximum(y, floor) if log else y, color=color, lw=1.2, label=label)
    if theory is not None:
        t = np.asarray(theory(x) if callable(theory) else theory, dtype=np.float64)
        if t.shape != x.shape:
            raise ValueError(f"theory: expected shape {x.shape}, got {t.shape}")
        ax.plot(x, np.maximum(t, floor) if log else t, "k--", lw=1.0, label=theory_label)
    if outliers is not None:
        for v in np.atleast_1d(np.asarray(outliers, dtype=np.float64)):
            ax.axvline(v, color="C3", lw=0.8, ls=":")
    if log:
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor)
    ax.set(xlabel="eigenvalue", ylabel="density")
    ax.legend(fontsize=7)
    return ax
