"""Heat maps and phase diagrams of a sweep over two of its axes (`plot_sweep`)."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ._common import (
    as_array,
    check_positive_for_log,
    colorbar,
    finish,
    font_size,
    new_axes,
    polyline,
)


_LEVEL_STYLES = ("-", "--", ":", "-.")


def plot_sweep(
    result: Any,
    output: str,
    *,
    x: str,
    y: str,
    ax: Any = None,
    select: Mapping[str, Any] | None = None,
    reduce: Callable[..., np.ndarray] | None = None,
    levels: Sequence[float] | None = None,
    categories: Mapping[Any, str] | Sequence[Any] | None = None,
    xscale: str | None = None,
    yscale: str | None = None,
    log: bool = False,
    vmin: float | None = None,
    vmax: float | None = None,
    label: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    cmap: str = "viridis",
    title: str | None = None,
    legend_loc: str = "best",
):
    r"""One output of a sweep on two of its axes: a heat map with phase boundaries as
    contour lines at given `levels`, or a phase diagram of categorical outcomes with the
    boundaries between them.

    **Arguments:**
    - `result`: a `toymodels.sweep.SweepResult` (`.coords`, `.data`), or its `to_dict()`
      (the axes under `coord_<axis>`, in grid order; for example read back from an `.npz`).
    - `output`: the name of a scalar output of the sweep.
    - `x`, `y` (keyword-only): the axes on the horizontal and vertical axis.
    - `ax` (keyword-only): the Axes to draw on; default a new one-column figure.
    - `select` (keyword-only): `{axis: value}` fixes other axes at one of their values
      (for example `{"seed": 0}`).
    - `reduce` (keyword-only): how the remaining axes (typically `"seed"`) are reduced, a
      NumPy reduction called as `reduce(array, axis=axes)`: default `np.mean` for a heat map
      (a boolean output gives the fraction of seeds) and the most frequent category for a
      phase diagram (ties go to the category listed first).
    - `levels` (keyword-only): values of the output at which phase boundaries are drawn as
      contour lines, one line style and legend entry each (interpolated between cell
      centres, in the axes' scales).
    - `categories` (keyword-only): a phase diagram of a categorical output (an integer code,
      a boolean): `{value: label}`, or a sequence of values labelled by `str(value)`; every
      value on the grid must be listed. Cells are coloured by category (a legend entry for
      each present) and the boundaries between categories are drawn along the cell edges.
    - `xscale`, `yscale` (keyword-only): `"linear"` or `"log"`; default `"log"` for
      positive coordinates spanning a factor of 10 or more that are closer to evenly
      spaced in the logarithm than linearly.
    - `log` (keyword-only): a logarithmic colour scale (heat map only).
    - `vmin`, `vmax` (keyword-only): limits of the colour scale (heat map only; default
      the range of the shown values).
    - `label` (keyword-only): the output's name on the colorbar (default `output`).
    - `title` (keyword-only): the setup, wrapped to the axes' width.

    Non-finite cells of a heat map (for example diverged runs) are drawn grey with a
    legend entry. Returns the matplotlib Axes.
    """
    coords, data = _sweep_arrays(result, output)
    dims = list(coords)
    for name, arg in ((x, "x"), (y, "y")):
        if name not in dims:
            raise ValueError(f"{arg}: {name!r} is not an axis of the sweep; axes are {dims}")
    if x == y:
        raise ValueError(f"y: must differ from x, both are {x!r}")
    if categories is not None and levels is not None:
        raise ValueError("levels: a phase diagram of categories draws its own boundaries")
    if reduce is not None and not callable(reduce):
        raise TypeError(f"reduce: expected a NumPy reduction such as np.mean, got {reduce!r}")
    values, dims = _select(data, coords, dims, select, keep=(x, y))
    rest = tuple(i for i, d in enumerate(dims) if d not in (x, y))
    rest_names = [dims[i] for i in rest]

    if categories is not None:
        keys, names = _categories(categories)
        if reduce is not None and rest:
            values = np.asarray(reduce(values, axis=rest))
            codes = _codes(values, keys)
        else:
            codes = _codes(values, keys)
            if rest:
                codes = _most_frequent(codes, rest, len(keys))
        kept = [d for d in dims if d not in rest_names]
        z = codes if kept == [y, x] else codes.T
    else:
        z = as_array(f"result[{output!r}]", values, finite=False)
        if rest:
            z = np.asarray((np.mean if reduce is None else reduce)(z, axis=rest), np.float64)
        kept = [d for d in dims if d not in rest_names]
        if z.shape != (len(coords[kept[0]]), len(coords[kept[1]])):
            raise ValueError(f"reduce: returned shape {z.shape}, expected one value per cell")
        z = z if kept == [y, x] else z.T

    cx, ox = _axis("x", coords[x])
    cy, oy = _axis("y", coords[y])
    z = z[np.ix_(oy, ox)]
    xscale = _scale("xscale", xscale, cx)
    yscale = _scale("yscale", yscale, cy)
    xe, ye = _edges(cx, xscale), _edges(cy, yscale)
    ax = new_axes(ax)
    handles = []
    reduced = ""
    if rest_names:
        how = "most frequent" if categories is not None and reduce is None else None
        how = how or getattr(reduce or np.mean, "__name__", "reduced").strip("_")
        reduced = f" ({how} over {', '.join(rest_names)})"
    if categories is not None:
        handles = _phase_diagram(ax, xe, ye, z, names)
        legend_title = "outcome" + reduced
    else:
        label = output if label is None else str(label)
        mesh, handles = _heat_map(
            ax, cx, cy, xe, ye, z, log, levels, label, xscale, yscale, cmap, (vmin, vmax)
        )
        colorbar(ax, mesh, label + reduced)
        legend_title = None
    ax.set(
        xscale=xscale,
        yscale=yscale,
        xlim=(xe[0], xe[-1]),
        ylim=(ye[0], ye[-1]),
        xlabel=x if xlabel is None else xlabel,
        ylabel=y if ylabel is None else ylabel,
    )
    finish(ax, title=title, handles=handles, legend_loc=legend_loc)
    if legend_title is not None and ax.get_legend() is not None:
        ax.get_legend().set_title(legend_title, prop={"size": font_size("legend.fontsize")})
    return ax


# ---------------------------------------------------------------------------- the data
def _sweep_arrays(result: Any, output: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    if isinstance(result, Mapping):  # SweepResult.to_dict(): axes under coord_<axis>
        coords = {k[len("coord_") :]: v for k, v in result.items() if k.startswith("coord_")}
        data = {k: v for k, v in result.items() if not k.startswith("coord_")}
        if not coords:
            raise ValueError("result: a dict needs the axes under 'coord_<axis>' (to_dict())")
    else:
        coords = getattr(result, "coords", None)
        data = getattr(result, "data", None)
    if not isinstance(coords, Mapping) or not isinstance(data, Mapping):
        raise TypeError(
            f"result: expected a toymodels.sweep.SweepResult, got {type(result).__name__}"
        )
    if output not in data:
        raise ValueError(
            f"output: {output!r} is not an output of the sweep; outputs are {list(data)}"
        )
    coords = {k: np.asarray(v) for k, v in coords.items()}
    arr = np.asarray(data[output])
    shape = tuple(len(v) for v in coords.values())
    if arr.shape != shape:
        raise ValueError(
            f"output: {output!r} has shape {arr.shape} on a grid of shape {shape}; a heat map "
            "needs one scalar per point (index the output in the sweep function)"
        )
    return coords, arr


def _select(data, coords, dims, select, *, keep):
    if select is None:
        return data, dims
    if not isinstance(select, Mapping):
        raise TypeError(f"select: expected a dict {{axis: value}}, got {type(select).__name__}")
    index: list[Any] = [slice(None)] * len(dims)
    for name, value in select.items():
        if name not in dims:
            raise ValueError(f"select: {name!r} is not an axis of the sweep; axes are {dims}")
        if name in keep:
            raise ValueError(f"select: {name!r} is plotted (x or y); it cannot also be selected")
        c = coords[name]
        hit = np.flatnonzero(
            np.isclose(c.astype(np.float64), float(value), rtol=1e-12, atol=0.0)
            if np.issubdtype(c.dtype, np.number)
            else c == value
        )
        if hit.size != 1:
            raise ValueError(f"select: {value!r} is not a value of axis {name!r}: {c.tolist()}")
        index[dims.index(name)] = int(hit[0])
    out = data[tuple(index)]
    return out, [d for d in dims if d not in select]


def _categories(categories) -> tuple[list[Any], list[str]]:
    if isinstance(categories, Mapping):
        keys, names = list(categories), [str(v) for v in categories.values()]
    elif isinstance(categories, Sequence) and not isinstance(categories, str):
        keys, names = list(categories), [str(v) for v in categories]
    else:
        raise TypeError(
            f"categories: expected {{value: label}} or a sequence of values, got {categories!r}"
        )
    if not keys:
        raise ValueError("categories: empty")
    return keys, names


def _codes(values: np.ndarray, keys: list[Any]) -> np.ndarray:
    values = np.asarray(values)
    codes = np.full(values.shape, -1, dtype=np.int64)
    for i, k in enumerate(keys):
        codes[(values == k) & (codes < 0)] = i
    if np.any(codes < 0):
        extra = sorted({v.item() if hasattr(v, "item") else v for v in values[codes < 0]}, key=str)
        raise ValueError(f"categories: the output takes values {extra} that are not listed")
    return codes


def _most_frequent(codes: np.ndarray, axes: tuple[int, ...], k: int) -> np.ndarray:
    keep = [i for i in range(codes.ndim) if i not in axes]
    moved = np.moveaxis(codes, axes, range(codes.ndim - len(axes), codes.ndim))
    flat = moved.reshape(*[codes.shape[i] for i in keep], -1)
    counts = np.stack([(flat == i).sum(axis=-1) for i in range(k)], axis=-1)
    return np.argmax(counts, axis=-1)  # first maximum: ties go to the category listed first


# ---------------------------------------------------------------------------- the axes
def _axis(name: str, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = as_array(name, c, ndim=1)
    order = np.argsort(c, kind="stable")
    return c[order], order


def _scale(name: str, scale: str | None, c: np.ndarray) -> str:
    if scale is not None:
        if scale not in ("linear", "log"):
            raise ValueError(f"{name}: expected 'linear' or 'log', got {scale!r}")
        if scale == "log" and np.any(c <= 0):
            raise ValueError(f"{name}: a log axis needs positive coordinates")
        return scale
    if c.shape[0] >= 3 and np.all(c > 0) and c[-1] / c[0] >= 10:
        d, dl = np.diff(c), np.diff(np.log(c))
        if np.std(dl) / np.mean(dl) < np.std(d) / np.mean(d):
            return "log"
    return "linear"


def _edges(c: np.ndarray, scale: str) -> np.ndarray:
    u = np.log10(c) if scale == "log" else c
    if u.shape[0] == 1:
        half = 0.5 if scale == "log" else 0.5 * max(abs(u[0]), 1.0)
        e = np.array([u[0] - half, u[0] + half])
    else:
        mid = 0.5 * (u[:-1] + u[1:])
        e = np.concatenate([[2 * u[0] - mid[0]], mid, [2 * u[-1] - mid[-1]]])
    return 10.0**e if scale == "log" else e


# ---------------------------------------------------------------------------- drawing
def _heat_map(ax, cx, cy, xe, ye, z, log, levels, label, xscale, yscale, cmap, limits) -> tuple:
    import matplotlib as mpl
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.patches import Patch

    finite = np.isfinite(z)
    shown = finite & (z > 0) if log else finite
    if not shown.any():
        what = "positive and finite" if log else "finite"
        raise ValueError(f"result: no value of {label!r} on this slice is {what}")
    cm = mpl.colormaps[cmap].with_extremes(bad="0.8")
    zm = np.ma.masked_where(~shown, z)
    lo, hi = (
        (z[shown].min() if limits[0] is None else limits[0]),
        (z[shown].max() if limits[1] is None else limits[1]),
    )
    if log and (lo <= 0 or hi <= 0):
        raise ValueError("vmin: a log colour scale needs positive limits")
    if lo >= hi and (limits[0] is not None or limits[1] is not None):
        raise ValueError(f"vmax: must exceed vmin, got vmin={lo:g}, vmax={hi:g}")
    norm = LogNorm(vmin=lo, vmax=hi) if log else Normalize(vmin=lo, vmax=hi)
    mesh = ax.pcolormesh(xe, ye, zm, cmap=cm, norm=norm, shading="flat")
    handles = []
    if not finite.all():
        handles.append(Patch(facecolor="0.8", edgecolor="0.5", lw=0.5, label="non-finite"))
    if log and (finite & ~shown).any():
        zero = np.ma.masked_where(~(finite & ~shown), np.zeros_like(z))
        ax.pcolormesh(xe, ye, zero, cmap=_grey("0.55"), shading="flat")
        handles.append(
            Patch(facecolor="0.55", edgecolor="0.5", lw=0.5, label="≤ 0 (off the log scale)")
        )
    if levels is not None:
        import contourpy

        lv = as_array("levels", levels, ndim=1)
        if log:
            check_positive_for_log("levels", lv)
        u = np.log10(cx) if xscale == "log" else cx
        v = np.log10(cy) if yscale == "log" else cy
        with np.errstate(divide="ignore", invalid="ignore"):
            zz = np.ma.masked_where(~shown, np.log10(z) if log else z)
        gen = contourpy.contour_generator(
            u, v, zz, line_type=contourpy.LineType.Separate, corner_mask=False
        )
        for i, level in enumerate(lv):
            segs = gen.lines(np.log10(level) if log else level)
            if not segs:
                continue
            px, py = polyline(segs)
            px = 10.0**px if xscale == "log" else px
            py = 10.0**py if yscale == "log" else py
            ax.plot(
                px,
                py,
                color="k",
                lw=1.2,
                ls=_LEVEL_STYLES[i % len(_LEVEL_STYLES)],
                label=f"{label} = {level:g}",
            )
    return mesh, handles


def _grey(shade: str):
    from matplotlib.colors import ListedColormap

    return ListedColormap([shade])


def _phase_diagram(ax, xe, ye, codes, names) -> list:
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    k = len(names)
    colors = [f"C{i % 10}" for i in range(k)]
    cm = ListedColormap(colors)
    norm = BoundaryNorm(np.arange(k + 1) - 0.5, k)
    ax.pcolormesh(xe, ye, codes, cmap=cm, norm=norm, shading="flat", alpha=0.6)
    present = sorted(set(np.unique(codes).tolist()))
    handles = [Patch(facecolor=colors[i], alpha=0.6, label=names[i]) for i in present]
    segs = []
    ny, nx = codes.shape
    for r in range(ny):
        for c in range(nx - 1):
            if codes[r, c] != codes[r, c + 1]:
                segs.append(np.array([[xe[c + 1], ye[r]], [xe[c + 1], ye[r + 1]]]))
    for r in range(ny - 1):
        for c in range(nx):
            if codes[r, c] != codes[r + 1, c]:
                segs.append(np.array([[xe[c], ye[r + 1]], [xe[c + 1], ye[r + 1]]]))
    if segs:
        px, py = polyline(segs)
        ax.plot(px, py, color="k", lw=1.2, label="phase boundary")
    return handles
