"""Ghost mechanism, canonical model: the loss L(r) of ẋ = x² + r on the delayed-activation
task — the no-learning zone r ≤ r*/4 and the cusp at r* = π²/(4T²) — theory (SymPy limit)
against the Euler simulation (the paper's Δt = 0.1) at confidences a ∈ {0.1, 1, 3, 10}.

Quantitative claims: the simulated loss against the finite-a quadrature; the vanishing
gradient inside the zone against its asymptotic closed form −(2a/T)e^{−aX}∂_r∫(e^{ax}−1)/a dt
over the response window (`derivations/ghost.py`, three orders in ax), at a ∈ {1, 3, 10}, and
the plateau's deficit T_R/T − L = (2/T)e^{−aX}∫e^{ax}dt (the wrong outputs' confidence) at
a ∈ {1, 2};
the ghost's passage time, the Euler-simulated time to reach X against
arctan(X/√r)/√r with Euler's first- and second-order delays, at five r; the zone's edge, where
the loss leaves T_R/T (a = 10), against the r whose Euler crossing time is T + T_R, at three
response windows T_R."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.lines import Line2D
from scipy.optimize import brentq

from derivations import ghost as theory
from figures._common import caption, cite, cli, panels, save
from toymodels.claims import Claim, Comparison
from toymodels.models import ghost


TITLE = "Ghost: loss landscape L(r), no-learning zone and cusp (Dinc et al. 2025)"
SEED = 0
PAPER = cite("dinc", "Fig. 2A/B (the loss L(r), its cusp and the no-learning zone)")
T = 100.0
CONFIDENCES = (0.1, 1.0, 3.0, 10.0)
COLORS = ("C0", "C1", "C2", "C3")
DT, X = 0.1, 10.0
#: r of the passage-time claim: the optima r*(T) of these delays (two decades of r)
PASSAGE_DELAYS = (10.0, 20.0, 50.0, 100.0, 200.0)
#: response windows T_R of the zone-edge claim (a = 10, where the edge is sharp)
WINDOWS = (50.0, 100.0, 200.0)
EDGE_SPAN = (0.995, 1.015)  # the edge grid, in units of π²/(4(T + T_R)²)


def compute(*, fast: bool) -> dict:
    r_star = float(ghost.optimal_r(T))
    f = np.linspace(0.02, 2.5, 63 if fast else 249)
    base = ghost.canonical_ghost(T)  # Δt = 0.1, X = 10

    @jax.jit
    def landscape(a, rs):
        p = eqx.tree_at(lambda q: q.confidence, base, a)
        return jax.vmap(p.loss)(rs), jax.vmap(p.grad)(rs)

    loss, grad = zip(*(landscape(jnp.asarray(a), jnp.asarray(f * r_star)) for a in CONFIDENCES))
    # the plateau's deficit at a = 2 too (same program; a ≥ 3 leaves it below the sum's rounding)
    loss_a2 = landscape(jnp.asarray(2.0), jnp.asarray(f * r_star))[0]
    # the zone's edge: the loss at a = 10 on a fine r grid about π²/(4(T + T_R)²), per window
    # (T_R = T reuses the landscape's program; the others are one loss program each)
    edge_r, edge_loss = [], []
    for w in WINDOWS:
        grid = np.linspace(*EDGE_SPAN, len(f)) * np.pi**2 / (4 * (T + w) ** 2)
        if w == T:
            val = landscape(jnp.asarray(10.0), jnp.asarray(grid))[0]
        else:
            p = ghost.canonical_ghost(T, window=w, confidence=10.0)
            val = jax.jit(jax.vmap(p.loss))(jnp.asarray(grid))
        edge_r.append(grid)
        edge_loss.append(np.asarray(val))
    predict = jax.jit(
        jax.vmap(
            jax.vmap(lambda r, a: ghost.confidence_loss(r, delay=T, confidence=a), (0, None)),
            (None, 0),
        )
    )
    # the ghost's passage time: Euler states from x = 0 (one vmapped scan, 2 × 200 / Δt steps)
    r_pass = np.pi**2 / (4 * np.asarray(PASSAGE_DELAYS) ** 2)
    xs = np.asarray(jax.jit(jax.vmap(ghost.canonical_ghost(200.0).euler_states))(r_pass))
    hit = np.any(xs >= X, axis=1)
    first = np.where(hit, np.argmax(xs >= X, axis=1) + 1.0, np.nan)  # first k with x_k ≥ X
    data = {
        "loss_a2": np.asarray(loss_a2),
        "edge_windows": np.asarray(WINDOWS),
        "edge_r": np.stack(edge_r),
        "edge_loss": np.stack(edge_loss),
        "passage_r": r_pass,
        "passage_step": first,
        "f": f,
        "r_star": np.asarray(r_star),
        "confidence": np.asarray(CONFIDENCES),
        "loss": np.stack([np.asarray(v) for v in loss]),
        "grad": np.stack([np.asarray(v) for v in grad]),
        "theory": theory.loss(f * r_star, T),
        "theory_euler": np.asarray(ghost.limit_loss(f * r_star, delay=T, threshold=10.0, dt=0.1)),
        "theory_finite_x": np.asarray(ghost.limit_loss(f * r_star, delay=T, threshold=10.0)),
        "theory_grad": theory.loss_grad(f * r_star, T),
        "predicted_finite_a": np.asarray(
            predict(jnp.asarray(f * r_star), jnp.asarray(CONFIDENCES))
        ),
    }
    if not fast:  # continuous time (diffrax): the Δt → 0 limit of the same loss
        pc = ghost.canonical_ghost(T, time="continuous")
        sub = f[::4] * r_star
        data["f_cont"] = f[::4]
        data["loss_cont"] = np.asarray(jax.jit(jax.vmap(pc.loss))(sub))
    return data


def _zone_error(r, a):
    """Error estimate of the zone-gradient closed form at (r, a): Euler's lag of the state,
    x_Euler(t) ≈ x(t − τ), τ = Δt ln sec(√r t) (the modified equation's delay of reaching
    x(t)), applied to the window's ends; the right-end sum over steps against the integral
    (the rule's first error term); the series' next order in ax; the readout's tail
    factor e^{−a(X − x)} at the trial's end."""
    z = theory.zone_grad(r, a, T, T, X)
    tau = lambda t: DT * np.log(1 / np.cos(np.sqrt(r) * t))  # noqa: E731
    t1, t2 = T - tau(T), 2 * T - tau(2 * T)
    lag = abs(theory.zone_grad(r, a, t1, t2 - t1, X) * t1 / T - z)
    tail = (
        3 * abs(z) * np.exp(-a * (X - float(theory.trajectory(r, 2 * T))))
    )  # (1−σ)²σ ≈ e^z(1 − 3e^z)
    # the loss sums the window at the right ends of the steps: the rule's first error term
    phi = lambda t: np.exp(a * theory.trajectory(r, t)) * theory.trajectory_dr(r, t)  # noqa: E731
    rule = DT / 2 * 2 * a / T * np.exp(-a * X) * abs(phi(2 * T) - phi(T))
    return lag + rule + abs(theory.zone_grad_next(r, a, T, T, X)) + tail


def claims(data: dict) -> list[Claim]:
    f, a1 = data["f"], list(data["confidence"]).index(1.0)
    zone = f <= 0.2
    conf = [float(a) for a in data["confidence"]]
    r_star = float(data["r_star"])
    zone_params, zone_meas = [], []
    for a in (a for a in conf if a >= 1.0):  # a = 0.1: e^{−aX} ≈ 0.37, no tail expansion
        for q, g in zip(f[zone], data["grad"][conf.index(a)][zone]):
            zone_params.append({"confidence": a, "r_over_r_star": round(float(q), 4)})
            zone_meas.append(g)

    def zone_gradient(confidence, r_over_r_star):
        return theory.zone_grad(r_over_r_star * r_star, confidence, T, T, X)

    zone_err = [_zone_error(p["r_over_r_star"] * r_star, p["confidence"]) for p in zone_params]
    zone_dev = np.abs(np.array(zone_meas) / [zone_gradient(**p) for p in zone_params] - 1)

    def passage_time(r):
        return theory.euler_escape_time_to2(r, X, DT)

    # the crossing is seen at a whole step: the Euler flow reaches X within half a step of the
    # midpoint (k − ½)Δt; the series in Δt is cut after its second order (its size: the
    # error of the cut)
    pass_t = (data["passage_step"] - 0.5) * DT
    pass_err = DT / 2 + np.abs(theory.euler_shift2(data["passage_r"], X, DT))
    first_order = theory.euler_escape_time_to(data["passage_r"], X, DT) - theory.escape_time_to(
        data["passage_r"], X
    )
    # the zone's edge: where the last step's state reaches X, so that the loss has dropped
    # ¾Δt/T below T_R/T (that step contributes (1 − σ(0))² = ¼ instead of 1); linear
    # interpolation on the grid
    edge_meas = []
    for w, rr, ll in zip(data["edge_windows"], data["edge_r"], data["edge_loss"]):
        level = w / T - 0.75 * DT / T
        k = int(np.argmax(ll < level))
        ok = k > 0 and ll[k - 1] >= level
        edge_meas.append(
            rr[k - 1] + (level - ll[k - 1]) * (rr[k] - rr[k - 1]) / (ll[k] - ll[k - 1])
            if ok
            else np.nan
        )

    def zone_edge(window):
        """The r at which the Euler crossing time (two orders in Δt) is the trial T + T_R."""
        f = lambda u: theory.euler_escape_time_to2(np.exp(u), X, DT) - (T + window)  # noqa: E731
        return float(np.exp(brentq(f, np.log(1e-9), np.log(1.0), xtol=1e-15)))

    spacing = np.array([rr[1] - rr[0] for rr in data["edge_r"]])
    # the truncation: the second-order term's size, as a shift of r (t ∝ r^{-1/2})
    trunc = np.array(
        [
            2 * abs(theory.euler_shift2(zone_edge(w), X, DT)) / (T + w) * zone_edge(w)
            for w in WINDOWS
        ]
    )
    edge_err = spacing + trunc
    bare = [np.pi**2 / (4 * (T + w) ** 2) for w in WINDOWS]
    # the plateau: T_R/T − L over the zone at a = 1, 2 (a = 3 is at the sum's rounding)
    plateau = {1.0: data["loss"][a1][zone], 2.0: data["loss_a2"][zone]}
    def_params, def_meas, def_err = [], [], []
    for a, vals in plateau.items():
        for q, v in zip(f[zone], vals):
            r = float(q) * r_star
            d = theory.zone_deficit(r, a, T, T, X)
            tail = 3 * d * np.exp(-a * (X - float(theory.trajectory(r, 2 * T))))
            rounding = 2000 * np.finfo(float).eps  # n·ε: a bound on the sum of the 2000 steps
            def_params.append({"confidence": a, "r_over_r_star": round(float(q), 4)})
            def_meas.append(1.0 - v)
            def_err.append(abs(theory.zone_deficit_next(r, a, T, T, X)) + tail + rounding)

    def plateau_deficit(confidence, r_over_r_star):
        return theory.zone_deficit(r_over_r_star * r_star, confidence, T, T, X)

    extra = [
        Claim.quantitative(
            "high-confidence wrong outputs in the no-learning zone: the Euler-simulated loss sits "
            "below its plateau T_R/T = 1 by twice the outputs' mean over the window, "
            "(2/T)e^{−aX}∫_T^{2T}e^{ax(t)}dt (closed form, three orders in ax; T = 100, "
            "Δt = 0.1)",
            PAPER,
            predict=plateau_deficit,
            params=def_params,
            measured=np.array(def_meas),
            atol=1.5 * np.array(def_err),
            error_estimate=np.array(def_err),
            error_source="the readout's next order in e^{a(x − X)} ((1 − σ)² = 1 − 2e^z + 3e^{2z}) "
            "+ the series' next order in ax + the loss sum's rounding (2000 terms × ε)",
            note="deficits "
            + ", ".join(f"{v:.3e}" for v in def_meas[:: len(f[zone])])
            + " (first r of each a); the r-dependence across the zone (1–2 %) is ≥ 50× the "
            "tolerance, so a constant deficit would fail; the same expansion's r-derivative is "
            "the gradient claim",
        ),
        Claim.quantitative(
            "the no-learning zone ends where the ghost's passage time is the trial: the Euler-"
            "simulated loss (a = 10, T = 100) leaves T_R/T at the r where the Euler crossing "
            "time of X equals T + T_R, ≈ π²/(4(T + T_R)²) shifted by Euler's delay",
            PAPER,
            predict=zone_edge,
            params=[{"window": w} for w in WINDOWS],
            measured=np.array(edge_meas),
            atol=edge_err,
            error_estimate=edge_err,
            error_source="the r grid's spacing (the drop is sharper than one spacing) + the "
            "Euler series' second-order term as a shift of r (its truncation)",
            note="measured/predicted − 1: "
            + ", ".join(f"{m / zone_edge(w) - 1:.1e}" for m, w in zip(edge_meas, WINDOWS))
            + "; the bare π²/(4(T + T_R)²) is off by "
            + ", ".join(f"{b / zone_edge(w) - 1:.1e}" for b, w in zip(bare, WINDOWS))
            + " (it would fail)",
        ),
        Claim.quantitative(
            "vanishing gradient in the no-learning zone: the Euler-simulated dL/dr (autodiff, "
            "T = 100, Δt = 0.1) = −(2a/T)e^{−aX}∂_r∫_T^{2T}(e^{ax(t)} − 1)/a dt (three orders "
            "in ax, closed form along x = √r tan(√r t)), over 30 decades",
            PAPER,
            predict=zone_gradient,
            params=zone_params,
            measured=np.array(zone_meas),
            atol=1.5 * np.array(zone_err),
            error_estimate=np.array(zone_err),
            error_source="Euler's lag of the state (the modified equation's delay "
            "Δt·ln sec(√r t) applied to the window's ends) + the right-end step sum's first "
            "error term + the series' next order in ax + the readout's tail e^{−a(X − x)}",
            note=f"max |relative deviation| {np.max(zone_dev):.2e} (at r = 0.18 r*); the gradient "
            f"spans {np.min(np.abs(zone_meas)):.1e} … {np.max(np.abs(zone_meas)):.1e}; the "
            "exponent e^{−aX} (a dropped ax term: 16 % at a = 10) would fail",
        ),
        Claim.quantitative(
            "the ghost's passage time: the Euler-simulated ẋ = x² + r (Δt = 0.1) reaches X = 10 "
            "at arctan(X/√r)/√r + (Δt/2)ln(1 + X²/r) − Δt²(X/2 − √r arctan(X/√r)/3) "
            "(modified equation, SymPy), r from 6e-5 to 0.025",
            PAPER,
            predict=passage_time,
            params=[{"r": float(r)} for r in data["passage_r"]],
            measured=pass_t,
            atol=pass_err,
            error_estimate=pass_err,
            error_source="the crossing seen at a whole step (±Δt/2 about (k − ½)Δt) + the "
            "size of the series' last kept (second-order) term",
            note="r = r*(T) for T = "
            + ", ".join(f"{t:g}" for t in PASSAGE_DELAYS)
            + "; measured − continuous time "
            + ", ".join(f"{v:.2f}" for v in pass_t - theory.escape_time_to(data["passage_r"], X))
            + "; Euler's first-order delay "
            + ", ".join(f"{v:.2f}" for v in first_order)
            + " (dropping it fails)",
        ),
    ]
    # the Euler step delays the crossing by (Δt/2)ln(1 + X²/r) (the modified equation): its
    # size in the loss, |L_Euler-shifted − L_continuous| on the grid, is the error of comparing
    # the Euler simulation with a continuous-time prediction
    euler = np.abs(data["theory_euler"] - data["theory_finite_x"])
    err = float(np.max(euler))
    return extra + [
        Claim.quantitative(
            "the Euler-simulated loss (T = 100, Δt = 0.1) = the continuous-time prediction "
            "(quadrature on the exact trajectory), over r ∈ [0.02, 2.5] r*, at each confidence",
            PAPER,
            predict=lambda confidence: data["predicted_finite_a"][conf.index(confidence)],
            params=[{"confidence": a} for a in conf],
            measured=data["loss"],
            atol=2 * err,
            error_estimate=err,
            error_source="the Euler step's delay of the crossing, (Δt/2)ln(1 + X²/r)/T",
            note=f"max deviation {np.max(np.abs(data['loss'] - data['predicted_finite_a'])):.4f}",
        ),
        Claim.qualitative(
            "a = 10: the gradient vanishes in the zone (|dL/dr| < 1e-30 by autodiff)",
            PAPER,
            predicted=1e-30,
            measured=np.max(np.abs(data["grad"][conf.index(10.0)][zone])),
            comparison=Comparison.LESS,
            note="vs the cusp slope 2T²/π² ≈ 2026",
        ),
        Claim.qualitative(
            "a = 0.1: the gradient is strictly negative in the zone (lower confidence escapes)",
            PAPER,
            predicted=0.0,
            measured=np.max(data["grad"][conf.index(0.1)][zone]),
            comparison=Comparison.LESS,
        ),
    ]


def plot(data: dict, out) -> list:
    fig, (ax0, ax1) = panels(2, height=3.2)
    f = data["f"]
    for ax in (ax0, ax1):  # labelled once, in the left panel's legend
        ax.axvspan(0, 0.25, color="0.9", label="no-learning zone r ≤ r*/4" if ax is ax0 else None)
        ax.axvline(1.0, color="0.5", ls=":", lw=1, label="cusp r = r*" if ax is ax0 else None)
    ax0.plot(f, data["theory"], "k", lw=2, alpha=0.6, label="|T − π/(2√r)|/T (a → ∞)")
    for a, loss, pr, c in zip(data["confidence"], data["loss"], data["predicted_finite_a"], COLORS):
        ax0.plot(f, loss, "o", ms=2.5, color=c, label=f"Euler sim, a = {a:g}")
        ax0.plot(f, pr, "-", lw=0.8, color=c)
    if "loss_cont" in data:
        ax0.plot(data["f_cont"], data["loss_cont"], "x", color="C2", ms=4, label="diffrax, a = 1")
    ax0.set(xlabel="r / r*", ylabel="L(r)", title="loss: zone and cusp")
    pred = Line2D([], [], color="0.4", lw=0.8, label="finite-a prediction (lines)")
    ax0.legend(handles=[*ax0.get_legend_handles_labels()[0], pred], loc="upper right")
    zf = np.linspace(0.02, 0.24, 40)
    for a, g, c in zip(data["confidence"], data["grad"], COLORS):
        ax1.plot(f, np.abs(g) + 1e-45, color=c, label=f"|dL/dr|, a = {a:g}")
        if a >= 1.0:
            zg = np.abs(theory.zone_grad(zf * data["r_star"], a, T, T, X))
            ax1.plot(zf, zg, ":", color="k", lw=1.2, label="zone closed form" if a == 1.0 else None)
    ax1.plot(f, np.abs(data["theory_grad"]) + 1e-45, "k--", lw=1, label="limit π/(4T r^(3/2))")
    ax1.axhline(2 * T**2 / np.pi**2, color="0.4", lw=0.8, ls="-.", label="cusp 2T²/π²")
    ax1.set(yscale="log", ylim=(1e-44, 1e6), xlabel="r / r*", title="gradient (autodiff)")
    ax1.legend(loc="lower right")
    caption(
        fig,
        f"Canonical ghost ẋ = x² + r on the delayed-activation task, delay T = {T:g}, Euler "
        f"Δt = 0.1, threshold X = 10, confidence a ∈ {{{', '.join(f'{a:g}' for a in data['confidence'])}}}; "
        f"{len(f)} values of r, r* = π²/(4T²) (no training, no randomness); the claims add the "
        "zone's edge at a = 10 for T_R ∈ {50, 100, 200} and Euler passage times to X at five r",
    )
    return [save(fig, out / "fig40_ghost_loss.png")]


if __name__ == "__main__":
    cli(__name__)
