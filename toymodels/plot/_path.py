"""1-D profiles: a metric along a line or an interpolation (`plot_path`), and along a straight
line against along a fitted curve between two minima (`plot_curve`)."""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._common import (
    as_array,
    check_positive_for_log,
    finish,
    new_axes,
    series,
    vertical_lines,
)


def plot_path(
    alphas: Any,
    values: Any,
    *,
    ax: Any = None,
    label: str = "loss",
    ylabel: str | None = None,
    xlabel: str = r"$\alpha$",
    marks: Mapping[str, float | Sequence[float]] | None = None,
    styles: Mapping[str, Mapping[str, Any]] | None = None,
    log: bool = False,
    title: str | None = None,
    legend_loc: str = "best",
):
    r"""The metric along a 1-D path: the output of `toymodels.landscape.interpolate`
    ($\theta(\alpha) = (1-\alpha)\theta_0 + \alpha\theta_1$) or `along_direction`
    ($\theta + \alpha d$) against `alphas`.

    **Arguments:**
    - `alphas`: the grid passed to the evaluator, 1-D.
    - `values`: what the evaluator returned: an array like `alphas` (legend entry `label`)
      or, for a metric dict (`metric={"train": ..., "test": ...}`), a dict of such arrays,
      one line per entry.
    - `ax` (keyword-only): the Axes to draw on; default a new one-column figure.
    - `ylabel` (keyword-only): default `label` for one array, `"metric"` for a dict.
    - `marks` (keyword-only): labelled positions on the path, `{"init": 0.0, "solution":
      1.0}` (a value may list several positions, `{"minima": [0.0, 1.0]}`), drawn as
      vertical lines, one legend entry each.
    - `styles` (keyword-only): matplotlib line keywords per line, `{name: {"ls": "--"}}`
      (the names of a metric dict, or `label`), for example to show two curves that
      coincide.
    - `log` (keyword-only): log y-axis.
    - `title` (keyword-only): the setup (network, data, training stage), wrapped to the axes'
      width.

    Returns the matplotlib Axes. Non-finite values raise a `ValueError` naming `values`.
    """
    a = as_array("alphas", alphas, ndim=1)
    lines = series("values", values, a.shape[0], label=label)
    if log:
        for k, v in lines:
            check_positive_for_log(f"values[{k!r}]" if isinstance(values, Mapping) else "values", v)
    styles = {} if styles is None else styles
    if not isinstance(styles, Mapping) or not all(isinstance(v, Mapping) for v in styles.values()):
        raise TypeError("styles: expected a dict {name: {matplotlib line keyword: value}}")
    unknown = sorted(set(styles) - {k for k, _ in lines})
    if unknown:
        raise ValueError(f"styles: {unknown} name no line; lines are {[k for k, _ in lines]}")
    ax = new_axes(ax)
    for k, v in lines:
        ax.plot(a, v, **{"lw": 1.2, **styles.get(k, {}), "label": k})
    _marks(ax, marks)
    if ylabel is None:
        ylabel = "metric" if isinstance(values, Mapping) else label
    ax.set(xlabel=xlabel, ylabel=ylabel, yscale="log" if log else "linear")
    return finish(ax, title=title, legend_loc=legend_loc)


def _marks(ax: Any, marks: Mapping[str, float | Sequence[float]] | None) -> None:
    if marks is None:
        return
    if not isinstance(marks, Mapping):
        raise TypeError(f"marks: expected a dict {{label: position}}, got {type(marks).__name__}")
    styles = ["--", ":", "-.", (0, (5, 1, 1, 1))]
    for i, (name, pos) in enumerate(marks.items()):
        x, y = vertical_lines(np.atleast_1d(as_array(f"marks[{name!r}]", pos)))
        ax.plot(
            x,
            y,
            transform=ax.get_xaxis_transform(),
            color="0.35",
            lw=0.8,
            ls=styles[i % len(styles)],
            label=str(name),
        )


def plot_curve(
    ts: Any,
    line: Any,
    curve: Any,
    *,
    ax: Any = None,
    line_label: str = "straight line",
    curve_label: str = "fitted curve",
    ylabel: str = "loss",
    xlabel: str = r"$t$",
    barrier: bool = True,
    endpoints: str | None = "minima",
    log: bool = False,
    title: str | None = None,
    legend_loc: str = "best",
):
    r"""A metric along the straight line between two minima against along a curve fitted
    between them (Garipov et al. 2018): `toymodels.landscape.curve_values(problem,
    Line(a, b), ts)` and `curve_values(problem, fit.curve, ts)` with `fit =
    fit_curve(problem, Bezier(a, b), ...)`.

    **Arguments:**
    - `ts`: the grid on $[0, 1]$ both were evaluated on, 1-D.
    - `line`, `curve`: the values along the line and along the curve, arrays like `ts`, or
      metric dicts with the same keys (one colour per metric; the line dashed, the curve
      solid).
    - `barrier` (keyword-only): add each profile's barrier height
      (`toymodels.landscape.barrier_height`, the largest excess over the chord between the
      endpoint values) to its legend entry; needs `ts` from 0 to 1.
    - `endpoints` (keyword-only): legend entry of the markers at the two minima ($t = 0, 1$,
      when on the grid); `None` draws none.
    - `log` (keyword-only): log y-axis.
    - `title` (keyword-only): the setup, wrapped to the axes' width.

    Returns the matplotlib Axes. Non-finite values raise a `ValueError` naming the argument.
    """
    t = as_array("ts", ts, ndim=1)
    ls_line = series("line", line, t.shape[0], label=ylabel)
    ls_curve = series("curve", curve, t.shape[0], label=ylabel)
    if isinstance(line, Mapping) != isinstance(curve, Mapping) or [k for k, _ in ls_line] != [
        k for k, _ in ls_curve
    ]:
        raise ValueError(
            "curve: must hold the same metrics as line (both arrays, or dicts with the same "
            f"keys), got {[k for k, _ in ls_line]} and {[k for k, _ in ls_curve]}"
        )
    if log:
        for name, group in (("line", ls_line), ("curve", ls_curve)):
            for _, v in group:
                check_positive_for_log(name, v)
    spans = bool(t[0] == 0.0 and t[-1] == 1.0)
    if barrier and not spans:
        raise ValueError(
            "ts: the barrier height needs a grid from 0 to 1 (the two minima); pass barrier=False"
        )
    many = isinstance(line, Mapping)
    ax = new_axes(ax)
    for i, ((k, vl), (_, vc)) in enumerate(zip(ls_line, ls_curve)):
        color = f"C{i}"
        prefix = f"{k}, " if many else ""
        ax.plot(
            t, vl, "--", color=color, lw=1.2, label=prefix + line_label + _barrier(vl, t, barrier)
        )
        ax.plot(
            t, vc, "-", color=color, lw=1.2, label=prefix + curve_label + _barrier(vc, t, barrier)
        )
    if endpoints is not None:
        at = [i for i in (0, t.shape[0] - 1) if t[i] in (0.0, 1.0)]
        if at:
            ys = np.array([v[at] for _, v in ls_line]).ravel()
            xs = np.tile(t[at], len(ls_line))
            ax.plot(xs, ys, "o", color="k", ms=4, ls="none", label=str(endpoints), zorder=3)
    ax.set(xlabel=xlabel, ylabel=ylabel, yscale="log" if log else "linear")
    return finish(ax, title=title, legend_loc=legend_loc)


def _barrier(values: np.ndarray, ts: np.ndarray, on: bool) -> str:
    if not on:
        return ""
    from ..landscape import barrier_height

    return f" (barrier {float(barrier_height(values, ts)):.3g})"
