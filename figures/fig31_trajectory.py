"""Training trajectories of a ReLU MLP on digits: a filter-normalized 2-D loss contour (Li et
al. 2018) with its invariance under layer-wise rescaling, the trajectory projected on its own
PCA plane, and Lipton (2016)'s checkpoint chords and distance travelled against loss."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from threadpoolctl import threadpool_limits

from figures._common import PAGE_WIDTH, caption, cite, cli, panels, save
from toymodels import dynamics, landscape as L
from toymodels.claims import Claim, Comparison
from toymodels.data import digits_split
from toymodels.plot import plot_path, plot_plane, plot_trajectory
from toymodels.problems import AbstractProblem, mlp_classification


TITLE = "Trajectories: filter-normalized plane, PCA projection, Lipton's chords"
SEED = 31
PAPER_LI = cite("li_filter", "§7 (trajectories on their PCA plane)")
PAPER_RW = "Antognini & Sohl-Dickstein 2018 (NeurIPS 2018, arXiv:1806.08805), PCA of random walks"
PAPER_LIPTON = cite("lipton", "§3-4 (training paths, chords between checkpoints)")
#: the PCA of the late path: Lipton's training paths projected on their principal
#: components, the same projection as Li et al.'s §7
PAPER_PCA = cite("lipton", "§3 (training paths on their principal components)") + "; " + PAPER_LI
#: checkpoints of the initial plateau near the saddle (loss within 10 % of its start)
PLATEAU = 0.9
RESCALE = (5.0, 0.1, 2.0)  # layer-wise factors with product 1
LR, MOMENTUM = 0.1, 0.9
COMPONENTS = (1, 2, 3)  # principal components of the late trajectory compared


def _dot(a, b):
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


class _Quadratic(AbstractProblem):
    """The loss's second-order Taylor model at `center`, in the same params (δ = θ − c):
    L(c) + ∇L(c)·δ + ½ δᵀH(c)δ. `jax.linearize` of value_and_grad at c is taken once
    (`quadratic_model`); a step then costs the HVP's linear map only, and the gradient
    ∇L(c) + H(c)δ comes from a custom VJP (no transpose of the HVP)."""

    # (defaults only because AbstractProblem's own fields have them; quadratic_model fills all)
    center: object = None
    value: object = None
    grad: object = None
    hvp: object = None  # a jax.tree_util.Partial: δ ↦ (∇L(c)·δ, H(c)δ)

    def loss(self, params):
        return _quadratic_loss(self, jax.tree.map(jnp.subtract, params, self.center))

    def init(self, key):
        return self.center


def quadratic_model(problem, center) -> _Quadratic:
    (value, grad), hvp = jax.linearize(jax.value_and_grad(problem.loss), center)
    return _Quadratic(center=center, value=value, grad=grad, hvp=hvp)


def _quadratic_parts(q, delta):
    hd = q.hvp(delta)[1]
    value = q.value + _dot(q.grad, delta) + 0.5 * _dot(delta, hd)
    return value, jax.tree.map(jnp.add, q.grad, hd)


@jax.custom_vjp
def _quadratic_loss(q, delta):
    return _quadratic_parts(q, delta)[0]


def _quadratic_fwd(q, delta):
    value, grad = _quadratic_parts(q, delta)
    return value, (q, grad)


def _quadratic_bwd(res, ct):
    q, grad = res
    zero = jax.tree.map(jnp.zeros_like, eqx.filter(q, eqx.is_inexact_array))
    return zero, jax.tree.map(lambda g: ct * g, grad)


_quadratic_loss.defvjp(_quadratic_fwd, _quadratic_bwd)


def _variance_ratios(trajectory) -> np.ndarray:
    """Explained-variance ratios of the first principal components of the checkpoints
    (centred on their mean; a thin SVD in numpy: one call per tail, no jax compilations)."""
    flat = _flat(trajectory)
    s = np.linalg.svd(flat - flat.mean(axis=0), compute_uv=False)
    return (s**2 / np.sum(s**2))[: max(COMPONENTS)]


def _flat(trajectory) -> np.ndarray:
    """(T, P) checkpoints (the leaves side by side; an order SVDs and norms ignore)."""
    leaves = [np.asarray(a) for a in jax.tree.leaves(trajectory)]
    return np.concatenate([a.reshape(a.shape[0], -1) for a in leaves], axis=1)


def _record(step, params, opt_state, loss):
    return params, opt_state[0].trace  # the checkpoint and its heavy-ball buffer


def _rescale(params, c):
    cum = np.cumprod(c)
    return tuple({"w": ci * l["w"], "b": cc * l["b"]} for l, ci, cc in zip(params, c, cum))


def compute(*, fast: bool) -> dict:
    # LAPACK on one thread (the trajectory SVDs): OpenBLAS's threads oversubscribe a shared
    # 2-core machine
    with threadpool_limits(limits=1, user_api="blas"):
        return _compute(fast=fast)


def _compute(*, fast: bool) -> dict:
    k_split, k_init, k_dir, k_plane, k_run = jr.split(jr.key(SEED), 5)
    split = digits_split(key=k_split)
    # a smallish init (0.3 × LeCun) starts near the saddle at the origin, as after "breaking
    # symmetry with a random initialization"; full-batch heavy-ball steps
    problem = mlp_classification(
        split.x_train, split.y_train, hidden=(32, 32), activation="relu", init_scale=0.3
    )
    steps, every = (300, 3) if fast else (2000, 5)
    optimizer = dynamics.HeavyBall(learning_rate=LR, momentum=MOMENTUM)
    run = dynamics.run(
        problem,
        problem.init(k_init),
        optimizer,
        num_steps=steps,
        key=k_run,
        save=dynamics.Save(every=every, fn=_record),
    )
    # numpy copies: slicing checkpoints on the host compiles nothing (each eager jax op is a
    # compilation, most of this figure's cost before)
    host = jax.tree.map(np.asarray, (run.params, run.saved))
    (final_np, (traj_np, buffers)), dev = host, lambda t: jax.tree.map(jnp.asarray, t)  # noqa: E731
    final, trajectory = run.params, run.saved[0]
    # the last third of the run against heavy ball on the loss's quadratic model, taken at
    # the run's end and (for the error estimate) at the half-way checkpoint, from the same
    # state; PCA of each tail
    half = 2 * (steps // every) // 3  # the tail: the last third of the run
    at = lambda tree, i: jax.tree.map(lambda a: a[i], tree)  # noqa: E731
    start, buf = dev(at(traj_np, half)), dev(at(buffers, half))
    state0 = dynamics.optax_init(optimizer.transform(), start)
    state0 = (state0[0]._replace(trace=buf), *state0[1:])
    tail_steps = steps - half * every
    centers = dev(jax.tree.map(lambda a, b: np.stack([a, b]), final_np, at(traj_np, half)))

    def model_run(center):
        q = quadratic_model(problem, center)
        t = dynamics.run(
            q,
            start,
            optimizer,
            num_steps=tail_steps,
            key=k_run,
            save=dynamics.Save(every=every),
            stop=dynamics.Stop(loss_ratio=None),
            opt_state0=state0,
        )
        return t.saved, t.loss[::every]  # the model's checkpoints and its loss there

    model_tail, model_loss = jax.tree.map(np.asarray, eqx.filter_jit(jax.vmap(model_run))(centers))
    tail = jax.tree.map(lambda a: a[half:], traj_np)
    n = 13 if fast else 51
    # filter-normalized random plane around the solution, and the invariance check
    plane = L.random_plane(final, key=k_plane)
    grid = jnp.linspace(-1.0, 1.0, n)
    z_random = L.plane_values(problem, plane, grid, grid)
    alphas = jnp.linspace(-1.0, 1.0, 41)
    scaled = dev(_rescale(final_np, RESCALE))
    d1 = L.random_direction(final, key=k_dir)
    d2 = L.random_direction(scaled, key=k_dir)
    raw = L.random_direction(final, key=k_dir, normalization="none")
    curve = L.along_direction(problem, final, d1, alphas)
    curve_scaled = L.along_direction(problem, scaled, d2, alphas)
    curve_raw_scaled = L.along_direction(problem, scaled, raw, alphas)
    curve_raw = L.along_direction(problem, final, raw, alphas)
    # Lipton/Goodfellow: the straight chord from the init to the solution (the same 41-point
    # program as the curves above: θ_0 + α(θ_T − θ_0), α ∈ [0, 1])
    init = at(traj_np, 0)
    chord_init = L.along_direction(
        problem, dev(init), dev(jax.tree.map(np.subtract, final_np, init)), 0.5 * (alphas + 1.0)
    )
    # PCA of the trajectory (directions of θ_t − θ_T) and the loss on its plane
    pca = jax.jit(L.trajectory_pca, static_argnames=("num_components", "center"))(
        trajectory, num_components=2
    )
    c = pca.coordinates
    lo, hi = c.min(axis=0), c.max(axis=0)
    pad = 0.15 * (hi - lo)
    xs = jnp.linspace(lo[0] - pad[0], hi[0] + pad[0], n)
    ys = jnp.linspace(lo[1] - pad[1], hi[1] + pad[1], n)
    z_pca = L.plane_values(problem, pca.plane(), xs, ys)
    # Lipton: chords between consecutive checkpoints, distance against loss
    chords = L.chord_test(problem, trajectory, num_alphas=3)
    dist = L.distance_travelled(problem, trajectory)
    # displacement from the tail's start, actual and on the two quadratic models
    flat_tail = _flat(tail)
    model_disp = np.stack(
        [np.linalg.norm(_flat(at(model_tail, i)) - flat_tail[0], axis=1) for i in (0, 1)]
    )

    def flat(p):  # ravel_pytree's order: the leaves raveled one after another
        return np.concatenate([np.ravel(np.asarray(a)) for a in jax.tree.leaves(p)])

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
        "tail_start": np.asarray(half * every),
        "chord_init": np.asarray(chord_init),
        "tail_ratio": _variance_ratios(tail),
        "tail_disp": np.linalg.norm(flat_tail - flat_tail[0], axis=1),
        "model_disp": model_disp,
        "model_ratio": np.stack([_variance_ratios(at(model_tail, i)) for i in (0, 1)]),
        # the loss over the tail (full batch, at the checkpoints), actual and on the models
        "tail_loss": np.asarray(dist.loss)[half:],
        "model_loss": model_loss,
    }


def claims(data: dict) -> list[Claim]:
    # the filter-normalized curve's invariance under layer-wise rescaling (and a raw
    # direction's lack of it) hold by construction for a ReLU net: tested in
    # tests/landscape/test_geometry.py; so is the final checkpoint at the PCA origin
    loss = data["loss"]
    half = len(loss) // 2
    loss_frac = (loss[half] - loss[-1]) / (loss[0] - loss[-1])
    v = data["chord_values"]
    rel_gap = data["chord_gap"] / (0.5 * (v[:, 0] + v[:, -1]))
    # chords start at checkpoints 0, 1, ...: those on the plateau near the saddle, and after
    on_plateau = loss[:-1] > PLATEAU * loss[0]
    after = ~on_plateau
    # PCA of a high-dimensional random walk: variance ratios (6/π²)/k² for k = 1, 2, ...
    random_walk_top2 = 6 / np.pi**2 * (1 + 1 / 4)
    steps = data["step"]
    network = (
        f"ReLU MLP 64-32-32-10 on {int(data['num_train'])} digits, {int(data['num_steps'])} "
        f"full-batch heavy-ball steps (lr {LR}, β = {MOMENTUM})"
    )
    t0, every = int(data["tail_start"]), int(steps[1] - steps[0])
    ratio, model = data["tail_ratio"], data["model_ratio"]
    log_err = np.abs(np.log10(model[0]) - np.log10(model[1]))
    model_setup = (
        f"last third of the run (steps {t0}-{int(steps[-1])}, {len(data['tail_disp'])} "
        "checkpoints) against heavy ball on the loss's second-order Taylor model at θ_T, "
        f"started from the run's state at step {t0}"
    )
    offsets = [len(data["tail_disp"]) // 3, 2 * (len(data["tail_disp"]) // 3), -1]
    disp_err = np.abs(data["model_disp"][0] - data["model_disp"][1])[offsets]
    c_init = data["chord_init"]
    # the loss over the tail: checkpoints 0, 1, ... of the tail against the models' losses
    # there (the models' last recorded step is one checkpoint before the end)
    n_model = data["model_loss"].shape[1]
    loss_offsets = [n_model // 3, 2 * n_model // 3, n_model - 1]
    loss_err = float(np.max(np.abs(data["model_loss"][0] - data["model_loss"][1])))
    tail_loss = data["tail_loss"]
    return [
        Claim.quantitative(
            "PCA of the late trajectory: log10 explained-variance ratio of PC k = that of heavy "
            "ball on the quadratic model at the solution",
            PAPER_PCA,
            predict=lambda component: np.log10(model[0][component - 1]),
            params=[{"component": k} for k in COMPONENTS],
            measured=np.log10(ratio[: len(COMPONENTS)]),
            atol=2 * log_err,
            error_estimate=log_err,
            error_source="nonlinearity over the tail: the same model taken at the tail's start "
            "(step " + str(t0) + ") instead of its end",
            note=model_setup
            + "; measured "
            + ", ".join(f"{r:.3g}" for r in ratio)
            + ", model at θ_T "
            + ", ".join(f"{r:.3g}" for r in model[0])
            + ", at the tail's start "
            + ", ".join(f"{r:.3g}" for r in model[1]),
            network=network,
        ),
        Claim.quantitative(
            "the weights keep moving after apparent convergence: ‖θ_t − θ_t0‖ over the tail = "
            "the quadratic model's",
            PAPER_LIPTON,
            predict=lambda steps_after: data["model_disp"][0][steps_after // every],
            params=[
                {"steps_after": int(steps[t0 // every + (o % len(data["tail_disp"]))] - t0)}
                for o in offsets
            ],
            measured=data["tail_disp"][offsets],
            atol=3 * disp_err,
            error_estimate=disp_err,
            error_source="nonlinearity over the tail: the model at the tail's start instead of θ_T",
            note=model_setup
            + "; the run moves farther than both models late in the tail (measured "
            + ", ".join(f"{v:.3g}" for v in data["tail_disp"][offsets])
            + "; models "
            + ", ".join(f"{v:.3g}" for v in data["model_disp"][0][offsets])
            + " and "
            + ", ".join(f"{v:.3g}" for v in data["model_disp"][1][offsets])
            + ")",
            network=network,
        ),
        Claim.quantitative(
            "apparent convergence: the loss's slow fall over the tail (while the weights move) "
            "= heavy ball's on the quadratic model",
            PAPER_LIPTON,
            predict=lambda steps_after: data["model_loss"][0][steps_after // every],
            params=[{"steps_after": every * k} for k in loss_offsets],
            measured=tail_loss[loss_offsets],
            atol=3 * loss_err,
            error_estimate=loss_err,
            error_source="nonlinearity over the tail: the largest difference over the tail "
            "between the models at θ_T and at the tail's start",
            note=model_setup
            + f"; loss {tail_loss[0]:.4g} at the tail's start, measured "
            + ", ".join(f"{v:.4g}" for v in tail_loss[loss_offsets])
            + "; models "
            + ", ".join(f"{v:.4g}" for v in data["model_loss"][0][loss_offsets])
            + " and "
            + ", ".join(f"{v:.4g}" for v in data["model_loss"][1][loss_offsets]),
            network=network,
        ),
        Claim.qualitative(
            "the loss falls monotonically along the straight chord from the init to the "
            "solution: the largest rise between consecutive points, over the total drop, is < 0",
            PAPER_LIPTON,
            predicted=0.0,
            measured=float(np.max(np.diff(c_init)) / (c_init[0] - c_init[-1])),
            comparison=Comparison.LESS,
            note=f"{c_init.size} points, loss {c_init[0]:.3g} → {c_init[-1]:.3g}",
        ),
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
    # one collection per colour (100 separate lines cost the layout engine ~1 s)
    segments = np.stack([np.arange(vals.shape[0])[:, None] + al[None, :], vals], axis=-1)
    convex = data["chord_gap"] <= 0
    for mask, color in ((~convex, "C3"), (convex, "C0")):
        ax.add_collection(LineCollection(segments[mask], colors=color, linewidths=0.8))
    ax.autoscale_view()
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
