"""toymodels.plot: every helper renders (agg) from a real result object computed with the
library on a tiny problem; its artists match the result they were drawn from; every mark has
a legend entry; no text is below 8 pt; two renders save to byte-identical PDF and PNG."""

import io
import subprocess
import sys

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import matplotlib


matplotlib.use("agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.contour import ContourSet
from matplotlib.text import Text
from scipy.interpolate import RegularGridInterpolator

from toymodels import data, dynamics, landscape as L, linalg, plot, problems, rmt


SETUP = "tanh MLP 3-4-2, 40 Gaussian-mixture samples, after 40 GD steps (η = 0.5)"


# ---------------------------------------------------------------------------- results
# Session-scoped: the conftest orders tests by recorded duration across modules, and a
# module-scoped fixture would be rebuilt each time this module's tests resume.
@pytest.fixture(scope="session")
def trained():
    """A tiny tanh MLP on a 2-class Gaussian mixture, trained by GD from two inits."""
    x, y = data.gaussian_mixture(key=jr.key(0), num_samples=40, dim=3, num_classes=2)
    prob = problems.mlp_classification(x, y, hidden=4)
    p0, q0 = prob.init(jr.key(1)), prob.init(jr.key(2))
    run = dict(num_steps=40, key=jr.key(3), save=dynamics.Save(every=4))
    traj = dynamics.run(prob, p0, dynamics.GD(learning_rate=0.5), **run)
    other = dynamics.run(prob, q0, dynamics.GD(learning_rate=0.5), **run)
    return prob, p0, traj, other


@pytest.fixture(scope="session")
def path(trained):
    prob, p0, traj, _ = trained
    alphas = jnp.linspace(-0.25, 1.25, 13)
    metric = {"loss": prob.loss, "error": prob.error}
    return alphas, L.interpolate(prob, p0, traj.params, alphas, metric=metric)


@pytest.fixture(scope="session")
def pca(trained):
    prob, _, traj, _ = trained
    # compiled as one program (eager, the PCA dispatches and compiles op by op)
    pca = eqx.filter_jit(L.trajectory_pca)(traj.saved, num_components=2)
    return pca, L.trajectory_values(prob, traj.saved)


@pytest.fixture(scope="session")
def plane(trained):
    """The plane through the trained net, the other trained net and the init (Garipov et
    al.'s plane through three points)."""
    prob, p0, traj, other = trained
    pl = L.plane_through(traj.params, other.params, p0)
    pts = np.asarray(pl.points)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.25 * (hi - lo)
    xs = jnp.linspace(lo[0] - pad[0], hi[0] + pad[0], 9)
    ys = jnp.linspace(lo[1] - pad[1], hi[1] + pad[1], 7)
    return pl, xs, ys, L.plane_values(prob, pl, xs, ys)


@pytest.fixture(scope="session")
def curves(trained):
    prob, _, traj, other = trained
    a, b = traj.params, other.params
    fit = L.fit_curve(prob, L.Bezier(a, b), key=jr.key(6), num_steps=20)
    ts = jnp.linspace(0.0, 1.0, 9)
    # the straight line as the unfitted Bezier (bend at the midpoint: exactly the segment),
    # so that both profiles share one compiled evaluator
    line = L.curve_values(prob, L.Bezier(a, b), ts)
    return ts, line, L.curve_values(prob, fit.curve, ts)


def _step(point, key):
    """GD on ½(T - w₁w₂)² at learning rate `lr` from a random small init."""
    prob = problems.scalar_factorization(point["T"], init_scale=0.5)
    traj = dynamics.run(
        prob, prob.init(key), dynamics.GD(learning_rate=point["lr"]), num_steps=30, key=key
    )
    return {
        "loss": traj.final_loss,
        "stop": traj.stop_reason.code,
        "diverged": traj.stop_reason == "diverged",
    }


@pytest.fixture(scope="session")
def swept():
    from toymodels import sweep

    return sweep.sweep(
        _step,
        {"lr": [0.03, 0.1, 0.3, 0.6, 1.0], "T": [0.5, 1.0, 2.0, 4.0]},
        seeds=3,
        key=jr.key(4),
        chunk_size=60,
        progress=False,
    )


@pytest.fixture(scope="session")
def spectrum():
    x = jr.normal(jr.key(7), (400, 100))
    sd = linalg.spectral_density(x.T @ x / 400, num_probes=2, num_steps=30, key=jr.key(8))
    return sd, 100 / 400


STOP = list(dynamics.StopReason)
CATEGORIES = {
    STOP.index(dynamics.StopReason.COMPLETED): "converging",
    STOP.index(dynamics.StopReason.DIVERGED): "diverged",
}


# ---------------------------------------------------------------------------- drawing
def _draw_path(path, ax=None):
    alphas, values = path
    return plot.plot_path(alphas, values, ax=ax, marks={"init": 0.0, "trained": 1.0}, title=SETUP)


def _draw_plane(plane, traj, ax=None):
    pl, xs, ys, z = plane
    return plot.plot_plane(pl, xs, ys, z, ax=ax, trajectory=traj.saved, title=SETUP)


def _draw_trajectory(pca, ax=None):
    return plot.plot_trajectory(pca[0], values=pca[1], ax=ax, title=SETUP)


def _draw_curve(curves, ax=None):
    ts, line, curve = curves
    return plot.plot_curve(ts, line, curve, ax=ax, curve_label="Bezier curve", title=SETUP)


def _draw_heat_map(swept, ax=None):
    title = "GD on ½(T − w₁w₂)², 30 steps"
    return plot.plot_sweep(
        swept, "loss", x="lr", y="T", ax=ax, levels=[1e-3, 1e-1], log=True, title=title
    )


def _draw_phase_diagram(swept, ax=None):
    title = "GD on ½(T − w₁w₂)², 30 steps"
    return plot.plot_sweep(swept, "stop", x="lr", y="T", ax=ax, categories=CATEGORIES, title=title)


def _draw_density(spectrum, ax=None):
    sd, gamma = spectrum
    return plot.plot_density(
        None,
        sd,
        ax=ax,
        theory=lambda g: rmt.marchenko_pastur_density(g, gamma),
        theory_label="Marchenko–Pastur",
        outliers=list(rmt.marchenko_pastur_edges(gamma)),
        outlier_label="MP edges",
        title="XᵀX/n, n = 400, d = 100 (γ = 0.25)",
    )


# ---------------------------------------------------------------------------- checks
def _legend_labels(ax) -> list[str]:
    leg = ax.get_legend()
    assert leg is not None, "no legend"
    return [t.get_text() for t in leg.get_texts()]


PNG = {"format": "png", "metadata": {"Software": None}, "dpi": 50}
PDF = {"format": "pdf", "metadata": {"Software": None, "CreationDate": None}}


def _saved(fig, options) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, **options)
    return buf.getvalue()


def _check_rendered(ax, make=None, *, pdf: bool = False) -> None:
    """Render with agg (a PNG save, straight after drawing, as a figure script does); every
    line and every labelled collection drawn is named in the legend (heat maps and filled
    contours are keyed by their colorbar instead); no text is below `plot.MIN_FONT_SIZE`;
    with `make`, a second render saves to the same PNG bytes (and PDF bytes with `pdf`)."""
    fig = ax.figure
    png = _saved(fig, PNG)
    first_pdf = _saved(fig, PDF) if pdf else None
    labels = _legend_labels(ax)
    for line in ax.lines:
        assert line.get_label() in labels, line.get_label()
    for coll in ax.collections:
        if isinstance(coll, QuadMesh | ContourSet):
            assert coll.colorbar is not None or ax.get_legend() is not None
        else:
            assert coll.get_label() in labels, coll.get_label()
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    assert sizes and min(sizes) >= plot.MIN_FONT_SIZE, min(sizes)
    plt.close(fig)
    if make is not None:
        again = make()
        assert _saved(again.figure, PNG) == png
        if pdf:
            assert len(first_pdf) > 5000
            assert _saved(again.figure, PDF) == first_pdf
        plt.close(again.figure)


# ---------------------------------------------------------------------------- helpers
def test_importing_toymodels_does_not_import_matplotlib():
    code = (
        "import sys, toymodels, toymodels.plot; toymodels.plot.plot_sweep; "
        "assert not [m for m in sys.modules if m.split('.')[0] == 'matplotlib'], 'matplotlib'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_plot_path(path):
    alphas, values = path
    ax = _draw_path(path)
    # the metric dict comes back from interpolate with sorted keys
    assert _legend_labels(ax) == ["error", "loss", "init", "trained"]
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), np.asarray(values["loss"]))
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), np.asarray(alphas))
    assert np.unique(ax.lines[3].get_xdata()[::3]).tolist() == [1.0]
    assert "40 GD steps" in ax.get_title().replace("\n", " ")
    assert "\n" in ax.get_title()  # wrapped to the one-column axes
    _check_rendered(ax, lambda: _draw_path(path))


def test_plot_plane(plane, trained):
    pl, xs, ys, z = plane
    traj = trained[2]
    ax = _draw_plane(plane, traj)
    (cs,) = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert cs.filled and cs.colorbar is not None
    assert cs.colorbar.ax.get_ylabel() == r"$\log_{10}$ loss"
    assert cs.levels[0] <= np.log10(float(z.min())) and cs.levels[-1] >= np.log10(float(z.max()))
    # the trajectory lies in the plane: it starts at the init (the plane's third point) and
    # ends at the trained net (its origin)
    line = next(ln for ln in ax.lines if ln.get_label() == "trajectory")
    pts = np.asarray(pl.points)
    np.testing.assert_allclose(line.get_xydata()[[0, -1]], pts[[2, 0]], atol=1e-9)
    assert line.get_xydata().shape == (11, 2)
    # the three points are marked, each with its legend entry
    marks = [ln for ln in ax.lines if ln.get_label().startswith("$")]
    np.testing.assert_allclose([m.get_xydata()[0] for m in marks], pts, rtol=1e-12)
    labels = [r"$\theta_0$", r"$\theta_1$", r"$\theta_2$"]
    assert _legend_labels(ax) == ["trajectory", "start", *labels]
    _check_rendered(ax, lambda: _draw_plane(plane, traj), pdf=True)
    # point_labels=() marks none of the points
    ax = plot.plot_plane(pl, xs, ys, z, log=False, point_labels=())
    assert ax.get_legend() is None and not ax.lines
    assert ax.collections[0].colorbar.ax.get_ylabel() == "loss"
    plt.close(ax.figure)


def test_plot_path_styles_and_plane_coordinates(path, plane, trained):
    """`styles` reaches the named line only; `coordinates=` draws what `trajectory=` draws
    (the figures keep coordinates, not whole trajectories)."""
    alphas, values = path
    ax = plot.plot_path(alphas, values, styles={"loss": {"ls": "--", "lw": 3.0}})
    err, loss = ax.lines[:2]
    assert (loss.get_linestyle(), loss.get_linewidth()) == ("--", 3.0)
    assert (err.get_linestyle(), err.get_linewidth()) == ("-", 1.2)
    with pytest.raises(ValueError, match="^styles"):
        plot.plot_path(alphas, values, ax=ax, styles={"accuracy": {"ls": ":"}})
    plt.close(ax.figure)
    pl, xs, ys, z = plane
    traj = trained[2].saved
    a = plot.plot_plane(pl, xs, ys, z, trajectory=traj)
    b = plot.plot_plane(pl, xs, ys, z, coordinates=np.asarray(pl.coordinates(traj)))
    la, lb = (next(ln for ln in x.lines if ln.get_label() == "trajectory") for x in (a, b))
    np.testing.assert_allclose(lb.get_xydata(), la.get_xydata(), rtol=1e-12, atol=1e-14)
    assert _legend_labels(a) == _legend_labels(b)
    with pytest.raises(ValueError, match="^coordinates"):
        plot.plot_plane(pl, xs, ys, z, coordinates=np.ones((3, 3)))
    plt.close("all")


def test_plot_trajectory(pca):
    p, values = pca
    ax = _draw_trajectory(pca)
    r = np.asarray(p.explained_variance_ratio)
    assert ax.get_xlabel() == f"PC1 ({100 * r[0]:.1f} % of variance)"
    assert ax.get_ylabel() == f"PC2 ({100 * r[1]:.1f} % of variance)"
    np.testing.assert_array_equal(ax.lines[0].get_xydata(), np.asarray(p.coordinates))
    (sc,) = ax.collections
    np.testing.assert_allclose(sc.get_array(), np.log10(np.asarray(values)), rtol=1e-12)
    assert _legend_labels(ax) == ["trajectory", "checkpoints", "start", "end"]
    _check_rendered(ax, lambda: _draw_trajectory(pca))


def test_plot_curve(curves):
    ts, line, curve = curves
    ax = _draw_curve(curves)
    bl, bc = float(L.barrier_height(line, ts)), float(L.barrier_height(curve, ts))
    assert bc < bl  # the fitted curve lowers the barrier of the straight line
    assert _legend_labels(ax) == [
        f"straight line (barrier {bl:.3g})",
        f"Bezier curve (barrier {bc:.3g})",
        "minima",
    ]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), np.asarray(line))
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), np.asarray(curve))
    # the minima markers sit at the endpoint values, shared by line and curve
    np.testing.assert_allclose(ax.lines[2].get_ydata(), np.asarray(line)[[0, -1]], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(curve)[[0, -1]], np.asarray(line)[[0, -1]], rtol=1e-12)
    _check_rendered(ax, lambda: _draw_curve(curves))


def test_plot_sweep_heat_map_with_levels(swept):
    ax = _draw_heat_map(swept)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    mean = np.mean(swept["loss"], axis=2).T  # (T, lr)
    np.testing.assert_array_equal(np.ma.getdata(mesh.get_array()).reshape(mean.shape), mean)
    assert mesh.colorbar.ax.get_ylabel() == "loss (mean over seed)"
    lines = {ln.get_label(): ln for ln in ax.lines}
    assert set(lines) == {"loss = 0.001", "loss = 0.1"}
    # every vertex of a level line lies on a line between cell centres where the linear
    # interpolation of log10(loss) in (log10 lr, T) equals the level
    lr, t = np.asarray(swept.coords["lr"]), np.asarray(swept.coords["T"])
    # (cells at exactly 0 are off the log scale; the lines avoid them, so the value put there
    # only keeps the interpolation finite: it carries zero weight on the lines' vertices)
    interp = RegularGridInterpolator((t, np.log10(lr)), np.log10(np.where(mean > 0, mean, 1.0)))
    for level in (1e-3, 1e-1):
        xy = lines[f"loss = {level:g}"].get_xydata()
        xy = xy[np.isfinite(xy).all(axis=1)]
        assert len(xy) >= 2
        vals = interp(np.c_[xy[:, 1], np.log10(xy[:, 0])])
        np.testing.assert_allclose(vals, np.log10(level), atol=1e-9)
    _check_rendered(ax, lambda: _draw_heat_map(swept))


def test_plot_sweep_from_to_dict_and_colour_limits(swept):
    """The `to_dict()` form (what a figure stores as npz) draws the same cells as the
    result; `vmin`/`vmax` set the colour scale."""
    a = _draw_heat_map(swept)
    b = plot.plot_sweep(
        swept.to_dict(), "loss", x="lr", y="T", levels=[1e-3, 1e-1], log=True, vmin=1e-9, vmax=10.0
    )
    ma, mb = (next(c for c in x.collections if isinstance(c, QuadMesh)) for x in (a, b))
    np.testing.assert_array_equal(np.ma.getdata(mb.get_array()), np.ma.getdata(ma.get_array()))
    assert (mb.norm.vmin, mb.norm.vmax) == (1e-9, 10.0)
    assert _legend_labels(a) == _legend_labels(b)
    with pytest.raises(ValueError, match="^result"):
        plot.plot_sweep({"loss": np.ones(3)}, "loss", x="lr", y="T")
    with pytest.raises(ValueError, match="^vmax"):
        plot.plot_sweep(swept, "loss", x="lr", y="T", vmin=1.0, vmax=0.5)
    plt.close("all")


def test_plot_sweep_phase_diagram(swept):
    ax = _draw_phase_diagram(swept)
    # independent reference: the majority over seeds of "diverged" (3 seeds: no ties)
    diverged = (np.asarray(swept["diverged"]).sum(axis=2) >= 2).T.astype(int)
    assert 0 < diverged.sum() < diverged.size  # both phases on the grid
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(diverged.shape), diverged)
    (boundary,) = ax.lines
    edges = int(np.sum(diverged[:, 1:] != diverged[:, :-1]) + np.sum(diverged[1:] != diverged[:-1]))
    assert np.sum(np.isnan(boundary.get_xdata())) + 1 == edges
    assert _legend_labels(ax) == ["phase boundary", "converging", "diverged"]
    assert ax.get_legend().get_title().get_text() == "outcome (most frequent over seed)"
    _check_rendered(ax, lambda: _draw_phase_diagram(swept))
    # one seed selected, the boolean output as the category
    ax = plot.plot_sweep(
        swept, "diverged", x="lr", y="T", select={"seed": 0}, categories={False: "no", True: "yes"}
    )
    np.testing.assert_array_equal(
        np.asarray(ax.collections[0].get_array()).reshape(4, 5),
        np.asarray(swept["diverged"])[:, :, 0].T,
    )
    plt.close(ax.figure)


def test_plot_density(spectrum):
    sd, gamma = spectrum
    ax = _draw_density(spectrum)
    slq, theory, marks = ax.lines
    np.testing.assert_allclose(
        slq.get_ydata(), np.maximum(np.asarray(sd.density(sd.grid())), 1e-8), rtol=1e-12
    )
    np.testing.assert_allclose(
        theory.get_ydata(),
        np.maximum(rmt.marchenko_pastur_density(slq.get_xdata(), gamma), 1e-8),
        rtol=1e-12,
    )
    edges = np.sort(rmt.marchenko_pastur_edges(gamma))
    np.testing.assert_array_equal(np.unique(marks.get_xdata()[::3]), edges)
    assert _legend_labels(ax) == ["SLQ", "Marchenko–Pastur", "MP edges"]
    _check_rendered(ax, lambda: _draw_density(spectrum))
    # density values on a grid (a figure's stored arrays) draw the same line
    grid = sd.grid()
    ax = plot.plot_density(grid, sd.density(grid), floor=1e-6)
    np.testing.assert_allclose(
        ax.lines[0].get_ydata(), np.maximum(slq.get_ydata(), 1e-6), rtol=1e-12
    )
    assert ax.get_ylim()[0] == 1e-6
    plt.close(ax.figure)


def _panels(trained, path, plane, pca, curves, swept, spectrum, *, with_axes=False):
    """One panel per helper (the phase diagram shares plot_sweep's code with the heat map)."""
    fig, axes = plt.subplots(2, 3, figsize=(3 * plot.COLUMN_WIDTH, 5.2))
    axes = axes.ravel()
    drawn = [
        _draw_path(path, axes[0]),
        _draw_plane(plane, trained[2], axes[1]),
        _draw_trajectory(pca, axes[2]),
        _draw_curve(curves, axes[3]),
        _draw_heat_map(swept, axes[4]),
        _draw_density(spectrum, axes[5]),
    ]
    return (fig, list(zip(axes, drawn))) if with_axes else fig


def test_every_helper_draws_on_given_axes(trained, path, plane, pca, curves, swept, spectrum):
    fig, drawn = _panels(trained, path, plane, pca, curves, swept, spectrum, with_axes=True)
    for ax, returned in drawn:
        assert returned is ax
        assert ax.get_legend() is not None and ax.get_title()
    plt.close(fig)


@pytest.mark.slow
def test_every_helper_on_given_axes_saves_byte_identical_pdf(
    trained, path, plane, pca, curves, swept, spectrum
):
    """All helpers drawn on the axes of one figure (`ax=`), rendered twice from the same
    results: the PDF files are byte-identical (the PNG files of each helper's own figure
    are compared in its test, and the PDF files of plot_plane's)."""
    results = (trained, path, plane, pca, curves, swept, spectrum)
    files = []
    for _ in range(2):
        fig = _panels(*results)
        files.append(_saved(fig, PDF))
        plt.close(fig)
    assert len(files[0]) > 10_000
    assert files[0] == files[1]


# ---------------------------------------------------------------------------- bad input
def test_bad_input_names_the_argument(swept, pca):
    with pytest.raises(ValueError, match="^values"):
        plot.plot_path(np.arange(3.0), np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="^values"):
        plot.plot_path(np.arange(3.0), np.ones(4))
    with pytest.raises(ValueError, match="^x: 'eta'"):
        plot.plot_sweep(swept, "loss", x="eta", y="T")
    with pytest.raises(ValueError, match="^output"):
        plot.plot_sweep(swept, "accuracy", x="lr", y="T")
    with pytest.raises(ValueError, match="^categories"):
        plot.plot_sweep(swept, "stop", x="lr", y="T", categories={0: "completed"})
    with pytest.raises(ValueError, match="^select"):
        plot.plot_sweep(swept, "loss", x="lr", y="T", select={"seed": 7})
    with pytest.raises(ValueError, match="^components"):
        plot.plot_trajectory(pca[0], components=(0, 2))
    with pytest.raises(ValueError, match="^ts"):
        plot.plot_curve(np.linspace(0, 0.5, 3), np.ones(3), np.ones(3))
    with pytest.raises(TypeError, match="^plane"):
        plot.plot_plane(None, np.ones(2), np.ones(2), np.ones((2, 2)))
