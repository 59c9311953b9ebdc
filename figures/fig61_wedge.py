"""The wedge landscape (Fort & Jastrzebski 2019): escape distance ∝ radius (P1), random-
subspace success against d (P4), and a 2-D slice through three solutions joined through a
common intersection (P5)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np

import toymodels.models.wedge as W
from figures._common import PAGE_WIDTH, caption, cite, cli, save
from toymodels.claims import Claim, Comparison
from toymodels.landscape import Plane
from toymodels.plot import plot_plane


TITLE = "Wedge landscape: width ∝ radius, subspace success at d = n, common intersections"
SEED = 61
PAPER = cite(
    "fort_jastrzebski", "§3-4 (the wedge model: width ∝ radius, random subspaces, connected sets)"
)


def compute(*, fast: bool) -> dict:
    key = jr.key(SEED)
    k1, k2, k3, k4 = jr.split(key, 4)
    dim = 30
    Lh = W.wedge_landscape(key=k1, dim=dim, short_dims=(5, 7), epsilon=0.05, kind="hinge")
    core = Lh.core_projection(jr.normal(k2, (dim,)), 0)
    core = core / jnp.linalg.norm(core)
    radii = np.geomspace(0.3, 10, 6 if fast else 15)
    u = jr.normal(k3, (dim,))
    meas = np.array(
        [float(W.measured_escape_distance(Lh, r * core, u, 0, t_max=50.0 * r)) for r in radii]
    )
    pred = np.array([float(W.escape_distance(Lh, r * core, u, 0)) for r in radii])
    # rays aimed back toward the apex, slightly off the core (‖Sᵀu‖∞ < ε): they leave the
    # cone near its tip
    back = -core + 0.03 * Lh.bases[0][:, 0]
    meas_back = np.array(
        [float(W.measured_escape_distance(Lh, r * core, back, 0, t_max=4.0 * r)) for r in radii]
    )
    pred_back = np.array([float(W.escape_distance(Lh, r * core, back, 0)) for r in radii])
    n = 5
    Ls = W.wedge_landscape(key=k1, dim=20, short_dims=(n,), epsilon=0.5)
    dims = list(range(1, 10))
    rate = W.success_rate(W.subspace_losses(Ls, dims, key=k4, num_trials=4 if fast else 16))
    L3 = W.wedge_landscape(key=k2, dim=30, short_dims=(8, 8, 8), epsilon=0.5)
    sx = W.connect_through_intersection(L3, [0, 1, 2], key=k3)
    s0, s1, s2 = sx.solutions
    e1 = s1 - s0
    e2 = s2 - s0
    g = np.linspace(-0.3, 1.3, 41 if fast else 121)
    A, B = np.meshgrid(g, g)
    pts = s0 + A.ravel()[:, None] * e1 + B.ravel()[:, None] * e2
    surf = np.asarray(jax.vmap(L3.loss)(pts)).reshape(A.shape)
    # coordinates of the center in the plane (least squares)
    coef = np.linalg.lstsq(np.stack([e1, e2], 1), np.asarray(sx.center - s0), rcond=None)[0]
    return {
        "radii": radii,
        "escape_measured": meas,
        "escape_predicted": pred,
        "escape_back_measured": meas_back,
        "escape_back_predicted": pred_back,
        "dims": np.array(dims),
        "success": rate,
        "n": np.array(n),
        "grid": g,
        "slice": surf,
        "center_coef": coef,
        # the plane through the three solutions (origin s₀, directions s₁ − s₀, s₂ − s₀)
        "plane_origin": np.asarray(s0),
        "plane_u": np.asarray(e1),
        "plane_v": np.asarray(e2),
        "path_max": np.asarray(sx.path_max),
        "direct_max": np.asarray(sx.direct_max),
        "residual": np.asarray(W.intersection_residual(L3, [0, 1, 2])),
    }


def claims(data: dict) -> list[Claim]:
    # P1's slope 1 holds by construction (the cone is scale invariant, t*(rθ̂) = r t*(θ̂)),
    # as do P5's common point for D > Σn and the zero loss on segments inside the cones:
    # tests in tests/models/test_wedge.py
    d, rate, n = data["dims"], data["success"], int(data["n"])
    radii = [float(r) for r in data["radii"]]
    closed = {("random", r): v for r, v in zip(radii, data["escape_predicted"])}
    closed |= {("back", r): v for r, v in zip(radii, data["escape_back_predicted"])}
    params = [{"radius": r, "ray": k} for k in ("random", "back") for r in radii]
    return [
        Claim.quantitative(
            "P1: the hinge loss stays zero along a ray up to the closed-form t* (first crossing "
            "found on the loss itself), for random rays and rays aimed back at the apex",
            PAPER,
            predict=lambda radius, ray: closed[(ray, radius)],
            params=params,
            measured=np.r_[data["escape_measured"], data["escape_back_measured"]],
            rtol=1e-9,
            relative_error=1e-10,
            error_source="float64 rounding of ε‖θ + tu‖ at the crossing (bisection to 2^−80)",
            note="escape distance ∝ radius by construction; the back rays exit near the tip",
        ),
        Claim.quantitative(
            "P4: a random d-dimensional affine plane reaches zero loss iff d ≥ n (d = n included)",
            PAPER,
            predict=lambda d, n: float(d >= n),
            params=[{"d": int(v), "n": n} for v in d],
            measured=rate,
            comparison=Comparison.EQUAL,
            error_estimate=0.0,
            error_source="success rates over trials are exact fractions; the prediction is 0 or 1",
            note=f"success per d: {np.round(rate, 3).tolist()}",
        ),
        Claim.qualitative(
            "P5: direct segments between the three solutions cross barriers (the common point "
            "is needed)",
            PAPER,
            predicted=1e-3,
            measured=data["direct_max"],
            comparison=Comparison.GREATER,
            note=f"largest loss on the segments through the common point: "
            f"{np.max(data['path_max']):.2g}",
        ),
    ]


def plot(data: dict, out) -> list:
    fig, (a0, a1, a2) = plt.subplots(
        1, 3, figsize=(PAGE_WIDTH, 3.3), layout="constrained", width_ratios=(1, 1, 1.5)
    )
    a0.loglog(data["radii"], data["escape_predicted"], "k-", label="closed form")
    a0.loglog(data["radii"], data["escape_measured"], "o", color="C3", label="bisection")
    a0.set(xlabel="radius ‖θ*‖", ylabel="escape distance", title="P1: width ∝ radius")
    a0.legend(loc="lower right")
    a1.plot(data["dims"], data["success"], "o-", label="success rate")
    a1.axvline(float(data["n"]), color="gray", ls="--", label="d = n")
    a1.set(xlabel="subspace dimension d", ylabel="success rate", title="P4: random subspaces")
    a1.legend()
    g = data["grid"]
    points = jnp.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    plane = Plane(*(jnp.asarray(data[k]) for k in ("plane_origin", "plane_u", "plane_v")), points)
    plot_plane(
        plane,
        g,
        g,
        data["slice"] + 1e-6,
        ax=a2,
        levels=30,
        label="(L + 1e-6)",
        point_labels=["s₁", "s₂", "s₃"],
        xlabel="α (s₂ − s₁)",
        ylabel="β (s₃ − s₁)",
        title="P5: solutions and common point",
    )
    c = data["center_coef"]
    for k, p in enumerate(((0, 0), (1, 0), (0, 1))):
        a2.plot(
            [p[0], c[0]], [p[1], c[1]], "-", color="C1", lw=1.2, label="joins" if k == 0 else None
        )
    a2.plot(*c, "r*", ms=10, ls="none", label="common point")
    a2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=3, columnspacing=0.8)
    caption(
        fig,
        f"Wedge landscapes (Fort & Jastrzebski): P1 hinge wedge in D = 30 with short "
        f"dimensions 5, 7 and ε = 0.05, {len(data['radii'])} radii; P4 D = 20, one cone of "
        f"n = {int(data['n'])}, ε = 0.5; P5 D = 30, three cones of 8, on a {len(g)} × "
        f"{len(g)} grid; key {SEED}",
    )
    return [save(fig, out / "fig61_wedge.png")]


if __name__ == "__main__":
    cli(__name__)
