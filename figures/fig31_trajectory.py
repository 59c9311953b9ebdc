"""Training trajectories of a ReLU MLP on digits: a filter-normalized 2-D loss contour (Li et
al. 2018) with its invariance under layer-wise rescaling, the trajectory projected on its own
PCA plane, and Lipton (2016)'s checkpoint chords and distance travelled against loss."""

import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np

from figures._common import cli, save
from toymodels import dynamics, landscape as L
from toymodels.claims import Claim, Comparison
from toymodels.data import digits_split
from toymodels.problems import mlp_classification


TITLE = "Trajectories: filter-normalized plane, PCA projection, Lipton's chords"
SEED = 31
PAPER_LI = "Li, Xu, Taylor, Studer & Goldstein 2018 (hessian-goldilocks-wedges-taxonomy §7)"
PAPER_LIPTON = "Lipton 2016 (symmetry-channels-minima §5)"
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
    return {
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
    loss, d0 = data["loss"], data["distance_from_start"]
    half = len(loss) // 2
    flat = np.asarray(data["pca_coords"])
    loss_frac = (loss[half] - loss[-1]) / (loss[0] - loss[-1])
    dist_frac = data["distance_to_end"][half] / d0[-1]
    return [
        Claim(
            "filter-normalized 1-D curve unchanged by a layer-wise rescaling (5, 0.1, 2) of the "
            "ReLU net",
            PAPER_LI,
            predicted=0.0,
            measured=float(np.max(np.abs(data["curve"] - data["curve_scaled"]))),
            atol=1e-12,
        ),
        Claim(
            "a raw Gaussian direction sees a different curve after the same rescaling",
            PAPER_LI,
            predicted=1.0,
            measured=float(np.max(np.abs(data["curve_raw"] - data["curve_raw_scaled"]))),
            comparison=Comparison.GREATER,
        ),
        Claim(
            "the trajectory is low-dimensional: top-2 PCA components explain > 50% of its variance",
            PAPER_LI,
            predicted=0.5,
            measured=float(np.sum(data["pca_ratio"])),
            comparison=Comparison.GREATER,
        ),
        Claim(
            "the final checkpoint sits at the origin of its PCA plane",
            PAPER_LI,
            predicted=0.0,
            measured=float(np.max(np.abs(flat[-1]))),
            atol=1e-9,
        ),
        Claim(
            "second half of training: the loss changes by < 1% of its total drop ...",
            PAPER_LIPTON,
            predicted=0.01,
            measured=float(loss_frac),
            comparison=Comparison.LESS,
        ),
        Claim(
            "... while the weights cover > 10× that fraction of their total displacement "
            "(‖θ_T − θ_T/2‖/‖θ_T − θ_0‖ over the loss fraction)",
            PAPER_LIPTON,
            predicted=10.0,
            measured=float(dist_frac / loss_frac),
            comparison=Comparison.GREATER,
        ),
        Claim(
            "some chord between consecutive checkpoints is non-convex (midpoint loss above the "
            "mean of its ends)",
            PAPER_LIPTON,
            predicted=0.0,
            measured=float(np.max(data["chord_gap"])),
            comparison=Comparison.GREATER,
        ),
    ]


def plot(data: dict, out) -> list:
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
    g = data["grid"]
    ax = axes[0]
    cs = ax.contourf(g, g, np.log10(data["z_random"]), levels=25, cmap="viridis")
    fig.colorbar(cs, ax=ax, label="log10 loss")
    ax.plot(0, 0, "w*")
    ax.set(
        xlabel="α (filter-normalized d₁)",
        ylabel="β (filter-normalized d₂)",
        title="random plane around the solution",
    )
    ax = axes[1]
    cs = ax.contourf(
        data["pca_xs"], data["pca_ys"], np.log10(data["z_pca"]), levels=25, cmap="viridis"
    )
    fig.colorbar(cs, ax=ax, label="log10 loss")
    c = data["pca_coords"]
    ax.plot(c[:, 0], c[:, 1], "w.-", ms=3, lw=0.8)
    ax.plot(c[0, 0], c[0, 1], "ro", ms=4, label="init")
    r = data["pca_ratio"]
    ax.set(
        xlabel=f"PC1 ({100 * r[0]:.0f}%)",
        ylabel=f"PC2 ({100 * r[1]:.0f}%)",
        title="trajectory on its PCA plane",
    )
    ax.legend(fontsize=7)
    ax = axes[2]
    a = data["alphas"]
    ax.plot(a, data["curve"], lw=3, alpha=0.5, label="filter-norm.")
    ax.plot(a, data["curve_scaled"], "--", label="filter-norm., rescaled net")
    ax.plot(a, data["curve_raw"], label="raw")
    ax.plot(a, data["curve_raw_scaled"], ":", label="raw, rescaled net")
    ax.set(xlabel="α", ylabel="loss", yscale="log", title="1-D curves, layer-wise rescaling")
    ax.legend(fontsize=7)
    f1 = save(fig, out / "fig31_trajectory_planes.png")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    ax = axes[0]
    vals, al = data["chord_values"], data["chord_alphas"]
    for i in range(vals.shape[0]):
        ax.plot(i + al, vals[i], color="C3" if data["chord_gap"][i] > 0 else "C0", lw=0.8)
    ax.set(
        xlabel="checkpoint index (+ α along each chord)",
        ylabel="loss",
        yscale="log",
        title="chords between consecutive checkpoints (red: non-convex)",
    )
    ax = axes[1]
    ax.plot(data["path_length"], data["loss"], "o-", ms=2, label="vs path length")
    ax.plot(data["distance_from_start"], data["loss"], "s-", ms=2, label="vs ‖θ_t − θ_0‖")
    ax.set(
        xlabel="distance", ylabel="training loss", yscale="log", title="distance travelled vs loss"
    )
    ax.legend()
    f2 = save(fig, out / "fig31_lipton_chords.png")
    return [f1, f2]


if __name__ == "__main__":
    cli(__name__)
