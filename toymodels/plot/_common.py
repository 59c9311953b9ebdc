"""Shared machinery of the plot helpers: journal-column axes, legible font sizes, legends
that name every mark, and input checks. matplotlib is imported inside the functions only."""

import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np


#: width of one journal column in inches (APS/Elsevier single column, 8.6 cm)
COLUMN_WIDTH = 3.4
#: default size of a new figure: one column wide
FIGSIZE = (COLUMN_WIDTH, 2.6)
#: no text drawn by a helper is smaller than this (points)
MIN_FONT_SIZE = 8.0


def new_axes(ax: Any) -> Any:
    """`ax` itself, or the Axes of a new one-column figure (constrained layout)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    return ax


def font_size(rc_key: str) -> float:
    """The size (points) that rcParams give `rc_key`, raised to `MIN_FONT_SIZE`."""
    import matplotlib as mpl
    from matplotlib.font_manager import FontProperties

    return max(MIN_FONT_SIZE, FontProperties(size=mpl.rcParams[rc_key]).get_size_in_points())


def _wrap(ax: Any, text: str, size: float) -> str:
    fig = ax.figure
    width_in = ax.get_position().width * fig.get_figwidth()
    chars = max(20, int(width_in * 72 / (0.55 * size)))
    return "\n".join(textwrap.fill(line, chars) for line in text.splitlines() or [""])


def legible(ax: Any) -> None:
    """Raise every label, tick label and offset text of `ax` to `MIN_FONT_SIZE`."""
    label = font_size("axes.labelsize")
    ax.xaxis.label.set_fontsize(max(label, ax.xaxis.label.get_fontsize()))
    ax.yaxis.label.set_fontsize(max(label, ax.yaxis.label.get_fontsize()))
    ticks = min(font_size("xtick.labelsize"), label)
    ax.tick_params(axis="both", which="both", labelsize=ticks)
    for axis in (ax.xaxis, ax.yaxis):
        axis.get_offset_text().set_fontsize(ticks)


def finish(
    ax: Any,
    *,
    title: str | None,
    handles: list | None = None,
    legend_loc: str = "best",
) -> Any:
    """Title (wrapped to the axes' width), legible fonts, and a legend with every labelled
    artist of `ax` plus the proxy `handles` (artists not drawn on `ax`, such as patches for
    the categories of a heat map). Returns `ax`."""
    legible(ax)
    if title is not None:
        if not isinstance(title, str):
            raise TypeError(f"title: expected a string, got {type(title).__name__}")
        size = font_size("axes.titlesize")
        ax.set_title(_wrap(ax, title, size), fontsize=size)
    hs, labels = ax.get_legend_handles_labels()
    for h in handles or []:
        hs.append(h)
        labels.append(h.get_label())
    if hs:
        ax.legend(hs, labels, fontsize=font_size("legend.fontsize"), loc=legend_loc)
    return ax


def colorbar(ax: Any, mappable: Any, label: str) -> Any:
    """A colorbar beside `ax` with legible label and tick labels."""
    cb = ax.figure.colorbar(mappable, ax=ax)
    cb.set_label(label, fontsize=font_size("axes.labelsize"))
    cb.ax.tick_params(labelsize=font_size("ytick.labelsize"))
    cb.ax.yaxis.get_offset_text().set_fontsize(font_size("ytick.labelsize"))
    return cb


def as_array(name: str, x: Any, *, ndim: int | None = None, finite: bool = True) -> np.ndarray:
    """`x` as a float64 NumPy array; a `ValueError` naming `name` for the wrong rank or
    (with `finite`) non-finite entries."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: expected an array of numbers ({err})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name}: {bad} non-finite value(s); nothing to plot there")
    return arr


def check_positive_for_log(name: str, arr: np.ndarray) -> None:
    if np.any(arr <= 0):
        raise ValueError(
            f"{name}: a log scale needs positive values, min is {float(np.min(arr)):.3g}; "
            "pass log=False"
        )


def vertical_lines(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y (axes fraction) of vertical lines at `xs` as one polyline broken by NaNs, so
    that a set of marks is one artist with one legend entry (draw it with
    `transform=ax.get_xaxis_transform()`; only x enters the data limits)."""
    xs = np.asarray(xs, dtype=np.float64)
    x = np.repeat(xs, 3)
    y = np.tile([0.0, 1.0, np.nan], xs.shape[0])
    return x, y


def polyline(segments: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """x and y of `(n_i, 2)` segments joined into one polyline broken by NaNs."""
    if not segments:
        return np.empty(0), np.empty(0)
    nan = np.full((1, 2), np.nan)
    joined = np.concatenate([s for seg in segments for s in (np.asarray(seg), nan)][:-1])
    return joined[:, 0], joined[:, 1]


def series(name: str, values: Any, n: int, *, label: str) -> list[tuple[str, np.ndarray]]:
    """`(label, values)` pairs from one array (labelled `label`) or a mapping
    `{name: array}` (a metric dict, as the landscape evaluators return), each of length
    `n` and finite."""
    if isinstance(values, Mapping):
        if not values:
            raise ValueError(f"{name}: the mapping of metrics is empty")
        items = [(str(k), v) for k, v in values.items()]
    else:
        items = [(label, values)]
    out = []
    for k, v in items:
        where = name if len(items) == 1 and not isinstance(values, Mapping) else f"{name}[{k!r}]"
        arr = as_array(where, v, ndim=1)
        if arr.shape[0] != n:
            raise ValueError(f"{where}: has {arr.shape[0]} values for a grid of {n} points")
        out.append((k, arr))
    return out
