"""Training trajectories of a ReLU MLP on digits: a filter-normalized 2-D loss contour (Li et
al. 2018) with its invariance under layer-wise rescaling, the trajectory projected on its own
PCA plane, and Lipton (2016)'s checkpoint chords and distance travelled against loss."""

import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
from jax.flatten_util import ravel_pytree
from matplotlib.lines import Line2D

from figures._common import PAGE_WIDTH, caption, cite, cli, panels, save
from toymodels import dynamics, landscape as L
from toymodels.claims import Claim, Comparison
from toymodels.data import digits_split
from toymodels.plot import plot_path, plot_plane, plot_trajectory
from toymodels.problems import mlp_classification


TITLE = "Trajectories: filter-normalized plane, PCA projection, Lipton's chords"
SEED = 31
PAPER_LI = cite("li_filter", "§7 (trajectories on their PCA plane)")
PAPER_RW = "Antognini & Sohl-Dickstein 2018 (NeurIPS 2018, arXiv:1806.08805), PCA of random walks"
PAPER_LIPTON = cite("lipton", "§3-4 (training paths, chords between checkpoints)")
#: checkpoints of the initial plateau near the saddle (loss within 10 % of its start)
PLATEAU = 0.9
RESCALE = (5.0, 0.1, 2.0)  # layer-wise factors with product 1


def _rescale(params, c):
    cum = np.cumprod(c)
    return tuple({"w": ci * l["w"], "b": cc * l["b"]} for l, ci, cc in zip(params, c, cum))


def compute(*, fast: bool) -> dict:
    k_split, k_init, k_dir, k_plane, k_run = jr.split(jr.key(SEED), 5)
    split = digits_split(key=k_split)
    # a smallish init (0.3 × LeCun) starts near the saddle at the origin, as after "breaking
    # symmetry with a random initialization"; full-batch heavy-ball steps
    problem = mlp_classification(
        split.x_train, split.y_train, hidden=(32, 32), activation="relu", init_scale=0.3
    )
    steps, every = (300, 3) if fast else (2000, 5)
    run = dynamics.run(
        problem,
        problem.init(k_init),
        dynamics.HeavyBall(learning_rate=0.1, momentum=0.9),
        num_steps=steps,
        key=k_run,
        save=dynamics.Save(every=every),
    )
    final, trajectory = run.params, run.saved  # checkpoints at steps 0, every, ..., steps
    n = 13 if fast else 51
    # filter-normalized random plane around the solution, and the invariance check
    plane = L.random_plane(final, key=k_plane)
    grid = jnp.linspace(-1.0, 1.0, n)
    z_random = L.plane_values(problem, plane, grid, grid)
    alphas = jnp.linspace(-1.0, 1.0, 41)
    scaled = _rescale(final, RESCALE)
    d1 = L.random_direction(final, key=k_dir)
    d2 = L.random_direction(scaled, key=k_dir)
    raw = L.random_direction(final, key=k_dir, normalization="none")
    curve = L.along_direction(problem, final, d1, alphas)
    curve_scaled = L.along_direction(problem, scaled, d2, alphas)
    curve_raw_scaled = L.along_direction(problem, scaled, raw, alphas)
    curve_raw = L.along_direction(problem, final, raw, alphas)
    # PCA of the trajectory (directions of θ_t − θ_T) and the loss on its plane
    pca = L.trajectory_pca(trajectory, num_components=2)
    c = pca.coordinates
    lo, hi = c.min(axis=0), c.max(axis=0)
    pad = 0.15 * (hi - lo)
    xs = jnp.linspace(lo[0] - pad[0], hi[0] + pad[0], n)
    ys = jnp.linspace(lo[1] - pad[1], hi[1] + pad[1], n)
    z_pca = L.plane_values(problem, pca.plane(), xs, ys)
    # Lipton: chords between consecutive checkpoints, distance against loss
    chords = L.chord_test(problem, trajectory, num_alphas=5)
    dist = L.distance_travelled(problem, trajectory)

    def flat(p):
        return np.asarray(ravel_pytree(p)[0])

    pca_plane = pca.plane()
    return {
        "num_steps": np.asarray(steps),
        "num_train": np.asarray(split.x_train.shape[0]),
        # the planes as flat vectors (ravel_pytree order), to rebuild them for the plot
        "plane_origin": flat(plane.origin),
        "plane_u": flat(plane.u),
        "plane_v": flat(plane.v),
        "plane_points": np.asarray(plane.points),
        "pca_u": flat(pca_plane.u),
        "pca_v": flat(pca_plane.v),
        "grid": np.asarray(grid),
        "z_random": np.asarray(z_random),
        "alphas": np.asarray(alphas),
        "curve": np.asarray(curve),
        "curve_scaled": np.asarray(curve_scaled),
        "curve_raw": np.asarray(curve_raw),
        "curve_raw_scaled": np.asarray(curve_raw_scaled),
        "pca_xs": np.asarray(xs),
        "pca_ys": np.asarray(ys),
        "z_pca": np.asarray(z_pca),
        "pca_coords": np.asarray(c),
        "pca_ratio": np.asarray(pca.explained_variance_ratio),
        "chord_alphas": np.asarray(chords.alphas),
        "chord_values": np.asarray(chords.values),
        "chord_gap": np.asarray(chords.midpoint_gap),
        "step": np.asarray(run.save_steps),
        "path_length": np.asarray(dist.path_length),
        "distance_from_start": np.asarray(dist.distance_from_start),
        "distance_to_end": np.asarray(dist.distance_to_end),
        "loss": np.asarray(dist.loss),
    }


def claims(data: dict) -> list[Claim]:
    # the filter-normalized curve's invariance under layer-wise rescaling (and a raw
    # direction's lack of it) hold by construction for a ReLU net: tested in
    # tests/landscape/test_geometry.py; so is the final checkpoint at the PCA origin
    loss, d0 = data["loss"], data["distance_from_start"]
    half = len(loss) // 2
    loss_frac = (loss[half] - loss[-1]) / (loss[0] - loss[-1])
    dist_frac = data["distance_to_end"][half] / d0[-1]
    v = data["chord_values"]
    rel_gap = data["chord_gap"] / (0.5 * (v[:, 0] + v[:, -1]))
    # chords start at checkpoints 0, 1, ...: those on the plateau near the saddle, and after
    on_plateau = loss[:-1] > PLATEAU * loss[0]
    after = ~on_plateau
    # PCA of a high-dimensional random walk: variance ratios (6/π²)/k² for k = 1, 2, ...
    random_walk_top2 = 6 / np.pi**2 * (1 + 1 / 4)
    steps = data["step"]
    return [
        Claim.qualitative(
            "the trajectory is lower-dimensional than a random walk: its top-2 PCA share "
            "exceeds a random walk's (6/π²)(1 + 1/4) ≈ 0.76",
            PAPER_LI + "; " + PAPER_RW,
            predicted=random_walk_top2,
            measured=float(np.sum(data["pca_ratio"])),
            comparison=Comparison.GREATER,
            note=f"PC1 {data['pca_ratio'][0]:.3f}, PC2 {data['pca_ratio'][1]:.3f}; a 50 % bound "
            "would hold for any random walk",
        ),
        Claim.qualitative(
            "apparent convergence: over the second half of training the loss changes by < 1 % "
            "of its total drop",
            PAPER_LIPTON,
            predicted=0.01,
            measured=float(loss_frac),
            comparison=Comparison.LESS,
        ),
        Claim.qualitative(
            "... while the weights still move: ‖θ_T − θ_T/2‖ is > 5 % of ‖θ_T − θ_0‖",
            PAPER_LIPTON,
            predicted=0.05,
            measured=float(dist_frac),
            comparison=Comparison.GREATER,
            note=f"path length {data['path_length'][-1]:.3g} vs net displacement {d0[-1]:.3g}",
        ),
        Claim.qualitative(
            "locally non-convex after breaking symmetry at init: on the initial plateau some "
            "chord's midpoint loss exceeds the mean of its ends by > 0.1 %",
            PAPER_LIPTON,
            predicted=1e-3,
            measured=float(np.max(rel_gap[on_plateau])) if on_plateau.any() else np.nan,
            comparison=Comparison.GREATER,
            note=f"{int(np.sum(rel_gap[on_plateau] > 0))} of {int(on_plateau.sum())} plateau "
            "chords non-convex",
        ),
        Claim.discrepancy(
            "locally non-convex also after partial training (chords between consecutive "
            "checkpoints)",
            PAPER_LIPTON,
            paper_value="error surfaces are locally non-convex ... also after partial training",
            measured=float(np.max(rel_gap[after])) if after.any() else np.nan,
            params=[{"from_step": int(steps[np.argmax(after)]), "to_step": int(steps[-1])}],
            note="largest relative midpoint excess over chords after the plateau (≤ 0: every "
            f"chord convex); {int(after.sum())} chords, 5 points each, full-batch heavy ball "
            "on digits (64-32-32-10 ReLU)",
        ),
    ]


def _plane(data: dict, origin: str, u: str, v: str, points: str) -> L.Plane:
    return L.Plane(*(jnp.asarray(data[k]) for k in (origin, u, v, points)))


def plot(data: dict, out) -> list:
    fig, ax = plt.subplot_mosaic(
        [["random", "pca"], ["curves", "curves"]], figsize=(PAGE_WIDTH, 5.4), layout="constrained"
    )
    axes = [ax["random"], ax["pca"], ax["curves"]]
    g = data["grid"]
    plot_plane(
        _plane(data, "plane_origin", "plane_u", "plane_v", "plane_points"),
        g,
        g,
        data["z_random"],
        ax=axes[0],
        levels=25,
        point_labels=["solution θ_T"],
        xlabel="α (filter-normalized d₁)",
        ylabel="β (filter-normalized d₂)",
        title="random plane at the solution",
        legend_loc="upper right",
    )
    c, r = data["pca_coords"], data["pca_ratio"]
    plot_plane(
        _plane(data, "plane_origin", "pca_u", "pca_v", "pca_coords"),
        data["pca_xs"],
        data["pca_ys"],
        data["z_pca"],
        ax=axes[1],
        levels=25,
        coordinates=c,
        trajectory_label=f"checkpoints (every {int(data['step'][1] - data['step'][0])} steps)",
        xlabel=f"PC1 ({100 * r[0]:.0f} % of variance)",
        ylabel=f"PC2 ({100 * r[1]:.0f} % of variance)",
        title="trajectory on its PCA plane",
        legend_loc="lower left",
    )
    plot_path(
        data["alphas"],
        {
            "filter-norm.": data["curve"],
            "filter-norm., rescaled net": data["curve_scaled"],
            "raw": data["curve_raw"],
            "raw, rescaled net": data["curve_raw_scaled"],
        },
        ax=axes[2],
        styles={
            "filter-norm.": {"lw": 3, "alpha": 0.5},
            "filter-norm., rescaled net": {"ls": "--"},
            "raw, rescaled net": {"ls": ":"},
        },
        ylabel="loss",
        log=True,
        title="1-D curves through the solution along a random direction; the rescaled net "
        f"multiplies the layers by {RESCALE} (same function)",
    )
    setup = (
        f"64-32-32-10 ReLU MLP (init 0.3 × LeCun), cross-entropy, {int(data['num_train'])} "
        f"standardized digits; full-batch heavy ball (lr 0.1, β = 0.9) for "
        f"{int(data['num_steps'])} steps, seed {SEED}"
    )
    caption(fig, setup + f"; loss on {len(g)} × {len(g)} grids")
    f1 = save(fig, out / "fig31_trajectory_planes.png")

    fig, axes = panels(3, height=2.9)
    ax = axes[0]
    vals, al = data["chord_values"], data["chord_alphas"]
    for i in range(vals.shape[0]):
        ax.plot(i + al, vals[i], color="C3" if data["chord_gap"][i] > 0 else "C0", lw=0.8)
    ax.set(
        xlabel="checkpoint (+ α along its chord)",
        ylabel="loss",
        yscale="log",
        title="chords between checkpoints",
    )
    ax.legend(
        handles=[
            Line2D([], [], color="C3", lw=0.8, label="non-convex chord"),
            Line2D([], [], color="C0", lw=0.8, label="convex chord"),
        ],
        loc="lower left",
    )
    ax = axes[1]
    ax.plot(data["path_length"], data["loss"], "o-", ms=2, label="vs path length")
    ax.plot(data["distance_from_start"], data["loss"], "s-", ms=2, label="vs ‖θ_t − θ_0‖")
    ax.set(
        xlabel="distance", ylabel="training loss", yscale="log", title="distance travelled vs loss"
    )
    ax.legend()
    pca = L.TrajectoryPCA(
        origin=jnp.asarray(data["plane_origin"]),
        components=jnp.stack([jnp.asarray(data["pca_u"]), jnp.asarray(data["pca_v"])]),
        explained_variance_ratio=jnp.asarray(data["pca_ratio"]),
        coordinates=jnp.asarray(data["pca_coords"]),
    )
    plot_trajectory(
        pca,
        ax=axes[2],
        values=data["loss"],
        title="the run on its PCA plane",
        legend_loc="upper right",
    )
    lo, hi = np.min(data["pca_coords"][:, 1]), np.max(data["pca_coords"][:, 1])
    axes[2].set_ylim(lo - 0.1 * (hi - lo), hi + 0.9 * (hi - lo))  # room for the legend
    caption(fig, setup + f"; {vals.shape[1]} points per chord")
    f2 = save(fig, out / "fig31_lipton_chords.png")
    return [f1, f2]


if __name__ == "__main__":
    cli(__name__)
