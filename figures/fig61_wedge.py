"""The wedge landscape (Fort & Jastrzebski 2019): escape distance ∝ radius (P1), random-
subspace success against d (P4), and a 2-D slice through three solutions joined through a
common intersection (P5); and P3 ("learning rate and L2 act alike on the curvature
explored") on a trained network.

P3 on a network: a scale-invariant MLP on digits (64-16-10, ReLU, no biases, each layer's
weights entering as W/‖W‖_F, so the loss is invariant to each layer's norm and its Hessian
in that layer scales as ‖W‖⁻²), trained by minibatch SGD with L2 (weight decay λ) through
`toymodels.dynamics.run`, six (η, λ) pairs in one vmapped program. The wedge model's
reading (radial structure: curvature ∝ r⁻²) with the weight-decay equilibrium
(van Laarhoven 2017; Wan et al. 2021): the gradient is orthogonal to W, so
r²_{t+1} = (1 − ηλ)² r_t² + η²‖g_t‖² with ‖g‖ ∝ 1/r, and the angular dynamics on the
sphere depend on η and λ only through ηλ once the initial norm is forgotten (≈ 1/(4ηλ)
steps). Hence at equal ηλ: the equilibrium ‖W‖² ∝ √(η/λ) ∝ η (the curvature explored
∝ 1/η), and the equilibrium training loss and test error do not depend on η.
Measured in fast mode (600 steps, averages over steps 150-600, seed 61): ‖W_l‖² over the
reference's 0.47, 0.45, 1.90, 1.77, 3.76, 3.54, 4.14, 3.98 against η/η_ref = 0.5, 0.5, 2,
2, 4, 4, 4, 4, training losses and test errors as the reference's, all within 1.1 of their
errors (batch means and the window's drift; another seed: within 2.2); full mode (4800
steps): ratios 0.476-4.16, all three pass. The angular update
√(ηλ(2 − ηλ))/(1 − ηλ) per step also holds, but given the norm recursion it only says the
norm is stationary (an identity, not claimed).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np

import toymodels.models.wedge as W
from figures._common import PAGE_WIDTH, caption, cite, cli, save
from toymodels import dynamics
from toymodels.claims import Claim, Comparison
from toymodels.data import digits_split
from toymodels.landscape import Plane
from toymodels.plot import plot_plane
from toymodels.problems import AbstractSupervisedProblem, CrossEntropy


TITLE = "Wedge landscape: width ∝ radius, subspace success at d = n, common intersections"
SEED = 61
SUBSPACE_TRIALS = 16  # random planes per dimension d (P4)
W_TOL = 1e-12  # success: final loss below it (W.success_rate's default)
PAPER = cite(
    "fort_jastrzebski", "§3-4 (the wedge model: width ∝ radius, random subspaces, connected sets)"
)
PAPER_P3 = cite(
    "fort_jastrzebski",
    "§4 (learning rate and L2 regularization act alike through the curvature of the regions "
    "explored)",
)
#: P3 on the network: (learning rate η, weight decay λ); the first two (η = 0.1) are the
#: references at ηλ = 0.01 and 0.02, the others have the same products at other η
NET_RUNS = ((0.1, 0.1), (0.1, 0.2), (0.05, 0.2), (0.2, 0.05), (0.4, 0.025), (0.4, 0.05))
NET_REF_LR = 0.1
NET_HIDDEN, NET_BATCH, NET_SCALE = 16, 32, 10.0
#: the state every `NET_EVERY` steps; averages over the run after its first quarter, in
#: `NET_BLOCKS` batch means (the error estimates: 75-step blocks in fast mode, 3× the
#: norm's relaxation time 1/(4ηλ) at ηλ = 0.01; the loss's own slow fluctuations make blocks
#: of 50 steps underestimate the spread between windows by 2×)
NET_BLOCKS, NET_EVERY = 6, 10
#: the initial norm of each layer (below every run's equilibrium norm: approached from below)
NET_INIT_NORM = 0.5


class _ScaleInvariantMLP(AbstractSupervisedProblem):
    """x ↦ s·relu(√H x Ŵ₁ᵀ) Ŵ₂ᵀ with Ŵ = W/‖W‖_F (no biases): the data loss is invariant to
    each layer's norm; `weight_decay` adds (λ/2)‖θ‖² (SGD on it is SGD with weight decay)."""

    x: jax.Array
    targets: jax.Array
    objective: CrossEntropy
    weight_decay: jax.Array
    hidden: int = eqx.field(static=True)
    scale: float = eqx.field(static=True)

    def apply(self, params, x):
        w1 = params["w1"] / jnp.linalg.norm(params["w1"])
        w2 = params["w2"] / jnp.linalg.norm(params["w2"])
        h = jax.nn.relu(jnp.sqrt(float(self.hidden)) * x @ w1.T)
        return self.scale * h @ w2.T

    def loss(self, params):
        l2 = sum(jnp.sum(a**2) for a in jax.tree.leaves(params))
        return self.objective(self.apply(params, self.x), self.targets) + 0.5 * (
            self.weight_decay * l2
        )

    def init(self, key):
        k1, k2 = jr.split(key)
        w1 = jr.normal(k1, (self.hidden, self.x.shape[1]), self.x.dtype)
        w2 = jr.normal(k2, (10, self.hidden), self.x.dtype)
        c = NET_INIT_NORM
        return {"w1": c * w1 / jnp.linalg.norm(w1), "w2": c * w2 / jnp.linalg.norm(w2)}


def _network(*, fast: bool, key) -> dict:
    k_split, k_init, k_run = jr.split(key, 3)
    split = jax.jit(lambda k: digits_split(key=k))(k_split)  # one program, not dozens
    net = _ScaleInvariantMLP(
        split.x_train, split.y_train, CrossEntropy(), jnp.asarray(0.0), NET_HIDDEN, NET_SCALE
    )
    test = net.with_data(split.x_test, split.y_test)
    p0 = net.init(k_init)
    num_steps = 600 if fast else 4800

    @eqx.filter_jit
    def one(lr, wd):  # the checkpoints every NET_EVERY steps
        t = dynamics.run(
            eqx.tree_at(lambda q: q.weight_decay, net, wd),
            p0,
            dynamics.GD(learning_rate=lr),
            num_steps=num_steps,
            key=k_run,
            batch_size=NET_BATCH,
            save=dynamics.Save(every=NET_EVERY),
            stop=dynamics.Stop(loss_ratio=None),
        )
        return t.saved

    def runs(lrs, wds):  # (runs, saves, ...): one program (η, λ are arrays), called per
        # run (a vmapped program costs a second more to compile on a fresh clone)
        out = [one(lr, wd) for lr, wd in zip(lrs, wds)]
        return jax.tree.map(lambda *a: jnp.stack(a), *out)

    @jax.jit
    @jax.vmap
    @jax.vmap
    def measure(params):  # at each checkpoint (a program of its own: inside the scan's
        # body these forward passes cost a second more to compile on a fresh clone)
        data = net.objective(net.apply(params, net.x), net.targets)
        pred = jnp.argmax(test.outputs(params), -1)
        err = 1.0 - jnp.mean((pred == test.targets.astype(pred.dtype)).astype(net.x.dtype))
        sq = jnp.stack([jnp.sum(params["w1"] ** 2), jnp.sum(params["w2"] ** 2)])
        return sq, data, err

    lrs, wds = (jnp.asarray([r[i] for r in NET_RUNS]) for i in (0, 1))
    sq, data_loss, err = (np.asarray(a) for a in measure(runs(lrs, wds)))
    return {
        "net_steps": np.arange(0, num_steps + 1, NET_EVERY),
        "net_sq_norm": sq,  # (runs, saves, layer)
        "net_loss": data_loss,
        "net_test_error": err,
        "net_num_train": np.asarray(split.x_train.shape[0]),
        "net_num_test": np.asarray(split.x_test.shape[0]),
    }


def _window_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the saves (axis 1) after the first quarter and its error: the batch-means
    standard error (`NET_BLOCKS` consecutive blocks) and, in quadrature, half the difference
    between the window's two halves (a slow drift the blocks do not resolve)."""
    w = x[:, x.shape[1] // 4 :]
    n = (w.shape[1] // NET_BLOCKS) * NET_BLOCKS
    blocks = w[:, -n:].reshape(w.shape[0], NET_BLOCKS, -1, *w.shape[2:]).mean(axis=2)
    se = blocks.std(axis=1, ddof=1) / np.sqrt(NET_BLOCKS)
    h = w.shape[1] // 2
    drift = 0.5 * np.abs(w[:, :h].mean(axis=1) - w[:, h:].mean(axis=1))
    return w.mean(axis=1), np.hypot(se, drift)


@eqx.filter_jit
def _slice(k2, k3, g):
    # P5 in one program: three cones of 8 in D = 30, solutions joined through the common
    # point, the loss on the plane through the solutions
    L3 = W.wedge_landscape(key=k2, dim=30, short_dims=(8, 8, 8), epsilon=0.5)
    sx = W.connect_through_intersection(L3, [0, 1, 2], key=k3)
    s0, s1, s2 = sx.solutions
    A, B = jnp.meshgrid(g, g)
    pts = s0 + A.ravel()[:, None] * (s1 - s0) + B.ravel()[:, None] * (s2 - s0)
    surf = jax.vmap(L3.loss)(pts).reshape(A.shape)
    return sx, surf, W.intersection_residual(L3, [0, 1, 2])


def compute(*, fast: bool) -> dict:
    key = jr.key(SEED)
    k1, k2, k3, k4 = jr.split(key, 4)
    k5 = jr.fold_in(key, 5)  # the network's (P3)
    radii = np.geomspace(0.3, 10, 6 if fast else 15)
    dim = 30
    Lh = W.wedge_landscape(key=k1, dim=dim, short_dims=(5, 7), epsilon=0.05, kind="hinge")
    core = Lh.core_projection(jr.normal(k2, (dim,)), 0)
    core = core / jnp.linalg.norm(core)
    u = jr.normal(k3, (dim,))
    # rays aimed back toward the apex, slightly off the core (‖Sᵀu‖∞ < ε): they leave the
    # cone near its tip. (Eager calls: one jitted, vmapped program for P1 is faster from a
    # warm compilation cache but costs 4.6 CPU-s more to compile on a fresh clone.)
    back = -core + 0.03 * Lh.bases[0][:, 0]
    meas = np.array(
        [float(W.measured_escape_distance(Lh, r * core, u, 0, t_max=50.0 * r)) for r in radii]
    )
    pred = np.array([float(W.escape_distance(Lh, r * core, u, 0)) for r in radii])
    meas_back = np.array(
        [float(W.measured_escape_distance(Lh, r * core, back, 0, t_max=4.0 * r)) for r in radii]
    )
    pred_back = np.array([float(W.escape_distance(Lh, r * core, back, 0)) for r in radii])
    n = 5
    Ls = W.wedge_landscape(key=k1, dim=20, short_dims=(n,), epsilon=0.5)
    dims = list(range(1, 10))
    # 16 planes per d in both modes (one compiled program; 0.2 s to run): at d = n one of
    # them shows the failure mode below
    losses = W.subspace_losses(Ls, dims, key=k4, num_trials=SUBSPACE_TRIALS)
    rate = W.success_rate(losses, tol=W_TOL)
    g = np.linspace(-0.3, 1.3, 41 if fast else 121)
    sx, surf, residual = _slice(k2, k3, g)
    sx = jax.tree.map(np.asarray, sx)
    s0, s1, s2 = sx.solutions
    e1 = s1 - s0
    e2 = s2 - s0
    surf = np.asarray(surf)
    # coordinates of the center in the plane (least squares)
    coef = np.linalg.lstsq(np.stack([e1, e2], 1), sx.center - s0, rcond=None)[0]
    return {
        "radii": radii,
        "escape_measured": meas,
        "escape_predicted": pred,
        "escape_back_measured": meas_back,
        "escape_back_predicted": pred_back,
        "dims": np.array(dims),
        "success": rate,
        "losses_at_n": losses[dims.index(n)],
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
        "residual": np.asarray(residual),
        **_network(fast=fast, key=k5),
    }


def _net_claims(data: dict) -> list[Claim]:
    """P3 on the scale-invariant network: at equal ηλ, ‖W_l‖² ∝ η and the same loss."""
    sq, sq_se = _window_stats(data["net_sq_norm"])
    loss, loss_se = _window_stats(data["net_loss"])
    err, err_se = _window_stats(data["net_test_error"])
    prod = lambda lr, wd: round(lr * wd, 9)  # noqa: E731
    ref = {prod(lr, wd): i for i, (lr, wd) in enumerate(NET_RUNS) if lr == NET_REF_LR}
    others = [(i, lr, wd) for i, (lr, wd) in enumerate(NET_RUNS) if lr != NET_REF_LR]
    j = [ref[prod(lr, wd)] for _, lr, wd in others]
    i = [k for k, _, _ in others]
    network = (
        f"scale-invariant ReLU MLP 64-{NET_HIDDEN}-10 (W/‖W‖_F per layer) on "
        f"{int(data['net_num_train'])} digits, {int(data['net_steps'][-1])} SGD steps "
        f"(batch {NET_BATCH}) with weight decay, the last three quarters averaged"
    )
    window = (
        f"means over steps {int(data['net_steps'][len(data['net_steps']) // 4])}-"
        f"{int(data['net_steps'][-1])}; reference runs at η = {NET_REF_LR}"
    )
    source = (
        f"batch means ({NET_BLOCKS} blocks) over the averaging window and half the difference "
        "of its two halves (drift), of the run and of its reference, in quadrature"
    )

    def ref_sq(learning_rate, weight_decay, layer):
        return sq[ref[prod(learning_rate, weight_decay)], layer - 1] * (learning_rate / NET_REF_LR)

    def ref_of(values):
        return lambda learning_rate, weight_decay: values[ref[prod(learning_rate, weight_decay)]]

    pars = [{"learning_rate": lr, "weight_decay": wd} for _, lr, wd in others]
    sq_pars = [{**p, "layer": layer} for p in pars for layer in (1, 2)]
    ratio = sq[i] / sq[j]
    sq_err = np.concatenate(
        [
            (ratio[k] * np.hypot(sq_se[a] / sq[a], sq_se[b] / sq[b]) * sq[b])
            for k, (a, b) in enumerate(zip(i, j))
        ]
    )
    loss_err = np.hypot(loss_se[i], loss_se[j])
    err_err = np.hypot(err_se[i], err_se[j])
    return [
        Claim.quantitative(
            "P3 on a trained network: at equal ηλ the equilibrium ‖W_l‖² grows ∝ η "
            "(r⁴ ∝ η/λ), so the curvature explored (∝ ‖W_l‖⁻²) falls ∝ 1/η",
            PAPER_P3,
            predict=ref_sq,
            params=sq_pars,
            measured=sq[i].reshape(-1),
            atol=3.0 * sq_err,
            error_estimate=sq_err,
            error_source=source,
            note=window
            + "; measured/reference ratios "
            + ", ".join(f"{v:.3g}" for v in ratio.reshape(-1))
            + " against η/η_ref; the wedge model's radial structure (curvature ∝ r⁻²) with "
            "the weight-decay equilibrium of a scale-invariant layer (van Laarhoven 2017, "
            "arXiv:1706.05350; Wan et al. 2021, arXiv:2006.08419)",
            network=network,
        ),
        Claim.quantitative(
            "P3 on a trained network: at equal ηλ the equilibrium training loss does not "
            "depend on η (learning rate and L2 act alike)",
            PAPER_P3,
            predict=ref_of(loss),
            params=pars,
            measured=loss[i],
            atol=3.0 * loss_err,
            error_estimate=loss_err,
            error_source=source,
            note=window
            + "; training cross-entropy "
            + ", ".join(f"{v:.3f}" for v in loss[i])
            + " against the references' "
            + ", ".join(f"{v:.3f}" for v in loss[j])
            + "; at other ηλ it differs (η = 0.1: "
            + ", ".join(f"{loss[ref[k]]:.3f} at ηλ = {k:g}" for k in sorted(ref))
            + ")",
            network=network,
        ),
        Claim.quantitative(
            "P3 on a trained network: at equal ηλ the equilibrium test error does not depend on η",
            PAPER_P3,
            predict=ref_of(err),
            params=pars,
            measured=err[i],
            atol=3.0 * err_err,
            error_estimate=err_err,
            error_source=source,
            note=window
            + f" on {int(data['net_num_test'])} held-out digits; test error "
            + ", ".join(f"{v:.3f}" for v in err[i])
            + " against the references' "
            + ", ".join(f"{v:.3f}" for v in err[j]),
            network=network,
        ),
    ]


def claims(data: dict) -> list[Claim]:
    # P1's slope 1 holds by construction (the cone is scale invariant, t*(rθ̂) = r t*(θ̂)),
    # as do P5's common point for D > Σn and the zero loss on segments inside the cones:
    # tests in tests/models/test_wedge.py
    d, rate, n = data["dims"], data["success"], int(data["n"])
    at_n = np.asarray(data["losses_at_n"])
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
            "P4: a random d-dimensional affine plane reaches zero loss iff d ≥ n (L-BFGS from "
            "the plane's origin; d ≠ n here, d = n in the discrepancy below)",
            PAPER,
            predict=lambda d, n: float(d >= n),
            params=[{"d": int(v), "n": n} for v in d if v != n],
            measured=rate[d != n],
            comparison=Comparison.EQUAL,
            error_estimate=0.0,
            error_source="success rates over trials are exact fractions; the prediction is 0 or 1",
            note=f"success per d = {d.tolist()}: {np.round(rate, 4).tolist()} "
            f"({SUBSPACE_TRIALS} planes each)",
        ),
        Claim.discrepancy(
            f"P4 at the threshold d = n = {n}: every random plane reaches zero loss",
            PAPER,
            paper_value="subspace training succeeds iff d ≥ n (a generic n-plane meets the "
            "(D − n)-dimensional core in one point): success rate 1",
            measured=rate[d == n],
            params=[{"d": n, "n": n}],
            note=f"{int(np.sum(at_n >= W_TOL))} of {at_n.size} planes end at a non-zero loss "
            f"({', '.join(f'{v:.3g}' for v in at_n[at_n >= W_TOL])}): the intersection exists "
            "but lies far out when the plane is nearly parallel to the core, and the "
            "scale-invariant loss then has a lower path to the plane's point at infinity, "
            "whose loss is σ_min(SᵀP)²/ε² > 0 — L-BFGS runs there (for the failing plane "
            "of key 61: σ_min = 0.0155, 300 or 3000 steps and restarts from random z end at "
            "the same loss)"
            if np.any(at_n >= W_TOL)
            else "every plane reaches zero loss in this run",
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
        *_net_claims(data),
    ]


def plot(data: dict, out) -> list:
    fig, ax = plt.subplot_mosaic(
        [["a0", "a1", "a2"], ["a3", "a3", "a3"]],
        figsize=(PAGE_WIDTH, 6.2),
        layout="constrained",
        width_ratios=(1, 1, 1.5),
        height_ratios=(1.2, 1),
    )
    a0, a1, a2, a3 = (ax[f"a{i}"] for i in range(4))
    a0.loglog(data["radii"], data["escape_predicted"], "k-", label="closed form")
    a0.loglog(data["radii"], data["escape_measured"], "o", color="C3", label="bisection")
    a0.set(xlabel="radius ‖θ*‖", ylabel="escape distance", title="P1: width ∝ radius")
    a0.legend(loc="upper left")
    a1.plot(data["dims"], data["success"], "o-", label="success rate")
    a1.axvline(float(data["n"]), color="gray", ls="--", label="d = n")
    a1.set(xlabel="subspace dimension d", ylabel="success rate", title="P4: random subspaces")
    a1.legend(loc="center left")
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
    steps = data["net_steps"]
    t0 = int(steps[len(steps) // 4])
    for k, (lr, wd) in enumerate(NET_RUNS):
        colour = "C0" if round(lr * wd, 9) == 0.01 else "C3"
        style = {0.05: ":", 0.1: "-", 0.2: "--", 0.4: "-."}[lr]
        label = f"η = {lr:g}, λ = {wd:g} (ηλ = {lr * wd:g})"
        a3.plot(steps, data["net_sq_norm"][k, :, 0] / lr, color=colour, ls=style, label=label)
    a3.axvline(t0, color="gray", lw=0.8, label=f"averages from step {t0}")
    a3.set(
        xlabel="SGD step",
        ylabel="‖W₁‖² / η",
        yscale="log",
        ylim=(8, 2000),
        title="P3 on a network: ‖W₁‖² ∝ η at equal ηλ (loss and test error alike: claims)",
    )
    a3.legend(loc="upper right", ncols=2)
    caption(
        fig,
        f"Wedge landscapes (Fort & Jastrzebski): P1 hinge wedge in D = 30 with short "
        f"dimensions 5, 7 and ε = 0.05, {len(data['radii'])} radii; P4 D = 20, one cone of "
        f"n = {int(data['n'])}, ε = 0.5, {SUBSPACE_TRIALS} planes per d; P5 D = 30, three "
        f"cones of 8, on a {len(g)} × "
        f"{len(g)} grid; key {SEED}. P3: scale-invariant ReLU MLP 64-{NET_HIDDEN}-10 "
        f"(W/‖W‖_F per layer, logit scale {NET_SCALE:g}) on {int(data['net_num_train'])} "
        f"standardized digits, {int(steps[-1])} SGD steps of batch {NET_BATCH} with weight "
        f"decay λ, initial ‖W_l‖ = {NET_INIT_NORM}, one shared init and minibatch sequence",
    )
    return [save(fig, out / "fig61_wedge.png")]


if __name__ == "__main__":
    cli(__name__)
