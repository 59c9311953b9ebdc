"""2-D views: a metric on a plane with a projected trajectory (`plot_plane`) and a trajectory
in its PCA plane (`plot_trajectory`)."""

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import numpy as np

from ._common import as_array, check_positive_for_log, colorbar, finish, new_axes


_POINT_MARKERS = ("*", "P", "X", "D", "s", "^")


@eqx.filter_jit
def _coordinates(plane: Any, trajectory: Any) -> Any:
    """`plane.coordinates(trajectory)` as one compiled program (cached by shape), not one
    dispatch per operation."""
    return plane.coordinates(trajectory)


def plot_plane(
    plane: Any,
    xs: Any,
    ys: Any,
    values: Any,
    *,
    ax: Any = None,
    trajectory: Any = None,
    coordinates: Any = None,
    trajectory_label: str = "trajectory",
    point_labels: Sequence[str] | None = None,
    levels: int | Sequence[float] = 20,
    log: bool = True,
    label: str = "loss",
    xlabel: str = r"$x$ (along $u$)",
    ylabel: str = r"$y$ (along $v$)",
    cmap: str = "viridis",
    title: str | None = None,
    legend_loc: str = "best",
):
    r"""Filled contours of a metric on a plane of parameter space, with the points the plane
    was built through and, optionally, a training trajectory projected onto it.

    **Arguments:**
    - `plane`: the `toymodels.landscape.Plane` (from `plane_through`, `random_plane` or
      `TrajectoryPCA.plane()`).
    - `xs`, `ys`, `values`: the grid and `toymodels.landscape.plane_values(problem, plane,
      xs, ys)` on it (shape `(len(ys), len(xs))`).
    - `ax` (keyword-only): the Axes to draw on; default a new one-column figure.
    - `trajectory` (keyword-only): a params pytree with a leading time axis (for example
      `toymodels.dynamics.run(..., save=Save(every=k)).saved`), drawn at its least-squares
      plane coordinates `plane.coordinates(trajectory)`, its start marked.
    - `coordinates` (keyword-only): instead of `trajectory`, its plane coordinates already
      computed, shape `(T, 2)` (`plane.coordinates(trajectory)`, or
      `TrajectoryPCA.coordinates` on the plane `TrajectoryPCA.plane()`).
    - `point_labels` (keyword-only): legend entries of `plane.points`, each drawn as a
      marker; `()` draws none. Default $\theta_0, \theta_1, \theta_2$ for a plane through up
      to 3 points (`plane_through`, `random_plane`), none for a plane through a whole
      trajectory (`TrajectoryPCA.plane()`, whose points the trajectory shows).
    - `levels` (keyword-only): number of contour levels or their values.
    - `log` (keyword-only): contours of $\log_{10}$ of the values (default; they must be
      positive).
    - `label` (keyword-only): the metric's name on the colorbar.
    - `title` (keyword-only): the setup, wrapped to the axes' width.

    Returns the matplotlib Axes (its colorbar is `ax.collections[0].colorbar`).
    """
    from ..landscape import Plane

    if not isinstance(plane, Plane):
        raise TypeError(f"plane: expected a toymodels.landscape.Plane, got {type(plane).__name__}")
    x = as_array("xs", xs, ndim=1)
    y = as_array("ys", ys, ndim=1)
    z = as_array("values", values, ndim=2)
    if z.shape != (y.shape[0], x.shape[0]):
        raise ValueError(
            f"values: expected shape (len(ys), len(xs)) = {(y.shape[0], x.shape[0])} "
            f"(plane_values' layout), got {z.shape}"
        )
    if log:
        check_positive_for_log("values", z)
        z = np.log10(z)
    pts = np.asarray(plane.points, dtype=np.float64).reshape(-1, 2)
    if point_labels is None:
        point_labels = [rf"$\theta_{i}$" for i in range(pts.shape[0])] if len(pts) <= 3 else []
    if len(point_labels) not in (0, pts.shape[0]):
        raise ValueError(
            f"point_labels: the plane has {pts.shape[0]} point(s), got {len(point_labels)} labels"
        )
    pts = pts[: len(point_labels)]
    if trajectory is not None and coordinates is not None:
        raise ValueError("coordinates: give the trajectory or its coordinates, not both")
    coords = None
    if trajectory is not None:
        coords = as_array("trajectory", _coordinates(plane, trajectory), ndim=2)
    elif coordinates is not None:
        coords = as_array("coordinates", coordinates, ndim=2)
        if coords.shape[1] != 2:
            raise ValueError(f"coordinates: expected shape (T, 2), got {coords.shape}")
    ax = new_axes(ax)
    cs = ax.contourf(x, y, z, levels=levels, cmap=cmap)
    colorbar(ax, cs, rf"$\log_{{10}}$ {label}" if log else label)
    if coords is not None:
        ax.plot(coords[:, 0], coords[:, 1], ".-", color="w", ms=2.5, lw=0.8, label=trajectory_label)
        ax.plot(
            coords[0, 0], coords[0, 1], "o", color="C3", ms=4, ls="none", label="start", zorder=3
        )
    for i, (p, name) in enumerate(zip(pts, point_labels)):
        ax.plot(
            p[0],
            p[1],
            _POINT_MARKERS[i % len(_POINT_MARKERS)],
            color="w",
            mec="k",
            mew=0.8,
            ms=7,
            ls="none",
            label=str(name),
            zorder=4,
        )
    ax.set(xlabel=xlabel, ylabel=ylabel, xlim=(x[0], x[-1]), ylim=(y[0], y[-1]))
    return finish(ax, title=title, legend_loc=legend_loc)


def plot_trajectory(
    pca: Any,
    *,
    ax: Any = None,
    components: tuple[int, int] = (0, 1),
    values: Any = None,
    label: str = "trajectory",
    values_label: str = "loss",
    log: bool = True,
    cmap: str = "viridis",
    title: str | None = None,
    legend_loc: str = "best",
):
    r"""A trajectory in the plane of two of its principal components, with the explained
    variance of each on the axis labels (Li et al. 2018).

    **Arguments:**
    - `pca`: a `toymodels.landscape.TrajectoryPCA` (`trajectory_pca(trajectory)`); its
      `coordinates` are drawn.
    - `ax` (keyword-only): the Axes to draw on; default a new one-column figure.
    - `components` (keyword-only): the two components, default the first two.
    - `values` (keyword-only): one value per checkpoint (for example
      `toymodels.landscape.trajectory_values(problem, trajectory)`), shown as the colour of
      the checkpoints with a colorbar (`values_label`; $\log_{10}$ with `log`).
    - `title` (keyword-only): the setup, wrapped to the axes' width.

    The start and the end are marked, each with its legend entry. Returns the matplotlib Axes.
    """
    from ..landscape import TrajectoryPCA

    if not isinstance(pca, TrajectoryPCA):
        raise TypeError(
            f"pca: expected a toymodels.landscape.TrajectoryPCA, got {type(pca).__name__}"
        )
    c = as_array("pca", pca.coordinates, ndim=2)
    ratio = as_array("pca", pca.explained_variance_ratio, ndim=1)
    k = c.shape[1]
    if (
        len(components) != 2
        or len(set(components)) != 2
        or not all(0 <= int(i) < k for i in components)
    ):
        raise ValueError(
            f"components: expected two distinct indices in [0, {k}) (the PCA has {k} "
            f"component(s); trajectory_pca(num_components=...)), got {components!r}"
        )
    i, j = (int(i) for i in components)
    v = None
    if values is not None:
        v = as_array("values", values, ndim=1)
        if v.shape[0] != c.shape[0]:
            raise ValueError(
                f"values: expected {c.shape[0]} values (one per checkpoint), got {v.shape[0]}"
            )
        if log:
            check_positive_for_log("values", v)
            v = np.log10(v)
    ax = new_axes(ax)
    ax.plot(c[:, i], c[:, j], "-", color="0.3", lw=0.8, label=label, zorder=1)
    if v is not None:
        sc = ax.scatter(c[:, i], c[:, j], c=v, cmap=cmap, s=10, zorder=2, label="checkpoints")
        colorbar(ax, sc, rf"$\log_{{10}}$ {values_label}" if log else values_label)
    ax.plot(c[0, i], c[0, j], "o", color="C3", ms=5, ls="none", label="start", zorder=3)
    ax.plot(
        c[-1, i],
        c[-1, j],
        "*",
        color="C1",
        mec="k",
        mew=0.5,
        ms=8,
        ls="none",
        label="end",
        zorder=3,
    )
    ax.set(
        xlabel=f"PC{i + 1} ({100 * ratio[i]:.1f} % of variance)",
        ylabel=f"PC{j + 1} ({100 * ratio[j]:.1f} % of variance)",
    )
    return finish(ax, title=title, legend_loc=legend_loc)
