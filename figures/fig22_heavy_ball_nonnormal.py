"""Ghosh (2026): the heavy-ball update operator is non-normal. Its spectral radius ρ and
eigenvector condition number κ(V) against ηh for β = 0.9 (exceptional points (1 ± √β)² where
κ → ∞; ρ = √β between them; instability at 2(1+β)), and the transient growth ‖Jᵏ‖ with the
bound κ(V)ρᵏ. The claim: heavy-ball runs (optax `sgd` with momentum, through `dynamics.run`)
on a quadratic diverge exactly beyond ηh = 2(1 + β), the operator's ρ = 1 edge, over a
fixed grid of learning rates; and the same runs' contraction rate per step: √β inside the
complex window, the larger root of λ² − (1 + β − ηh)λ + β outside it. The matrix facts
shown (ρ = √β in the complex window, κ(V) → ∞ at the exceptional points, ‖Jᵏ‖ ≤ κ(V)ρᵏ)
and the Kreiss and pseudospectral bounds (not computed here) are theorems, tested in
tests/dynamics/test_operators.py.

On a trained network (a 2-3-1 tanh regressor trained by heavy ball to a strict local
minimum): heavy-ball runs restarted next to the minimum converge at the spectral radius of
the operator built from the network's Hessian, max over its eigenvalues h of the larger
root's modulus of λ² − (1 + β − ηh)λ + β (the slowest curvature sets it when ηh_min lies
below the complex window, as here), not at GD's 1 − ηh_min nor at √β; and restarts leave
the minimum from η = 2(1 + β)/λ_max(H*) on (bisection on a fixed bracket of η)."""

import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from matplotlib.lines import Line2D

from derivations import optimizer_stability as theory
from figures._common import caption, cite, cli, panels, save
from toymodels import landscape
from toymodels.claims import Claim
from toymodels.dynamics import (
    HeavyBall,
    Save,
    eigenvector_condition,
    run,
    spectral_radius,
    transient_growth,
)
from toymodels.problems import FunctionProblem, mlp_apply, mlp_init, mlp_regression


TITLE = "Heavy ball: ρ(J), κ(V), exceptional points and transient growth (β = 0.9)"
SEED = 0
PAPER = cite("ghosh", "§2 (the heavy-ball update operator and its stability edge)")
BETA = 0.9
CASES = (1e-3, 3.7)  # ηh for the ‖Jᵏ‖ panel
EDGE_BETAS = (0.0, 0.5, 0.9, 0.99)  # momenta of the divergence scan
EDGE_GRID = np.linspace(0.5, 5.0, 1001)  # ηh: one fixed grid for every β
#: the convergence rate of the runs at these ηh (1 and 2 inside the complex window for
#: β ≥ 0.5; real roots for β = 0, and for β = 0.5 at 2.95 > (1 + √0.5)² = 2.91):
#: loss envelopes over RATE_WINDOW steps starting at RATE_STEPS
RATE_PRODUCTS = (0.6, 1.0, 1.5, 1.9, 2.0, 2.95)
RATE_STEPS, RATE_WINDOW = (100, 200), 20
#: a run counts as diverged when its loss exceeds 1e3 × the initial loss (Stop's default)
LOSS_RATIO = 1e3
#: the trained network's runs: (momentum, learning rate) of the restarts next to the minimum
NET_CASES = ((0.9, 0.4), (0.8, 0.8), (0.7, 0.5), (0.5, 0.6))
#: training: heavy ball (β = 0.9) for NET_STEPS steps at each learning rate of NET_TRAIN_LRS
#: from the init (the larger one, stable at the minimum, converges its slow modes faster);
#: every restart runs NET_STEPS steps from the minimum + a perturbation of norm NET_DELTA
NET_STEPS, NET_TRAIN_LRS, NET_DELTA = 1500, (0.3, 0.3, 0.8), 1e-3
#: the divergence edge on the trained network: momenta (one bisection each, in one batch),
#: the bracket of η (fixed, the same for every β) and the bisection steps
NET_EDGE_BETAS, NET_EDGE_BRACKET, NET_EDGE_BISECTIONS = (0.9, 0.7, 0.4, 0.0), (0.2, 1.2), 7
NET_EDGE_DELTA = 1e-7  # the edge runs' perturbation (the linear regime lasts longer)
NET_SEED = 22  # the network's data, teacher and init (this one trains to a strict minimum)
#: the rate is fitted where the distance to the minimum lies in this band (above the
#: minimum's own float64 accuracy, ~1e-13, and inside the linear regime)
NET_BAND = (1e-11, 1e-4)
NET = (
    "2-3-1 tanh regressor (biases, 13 params) of a 2-4-1 tanh teacher, ½-MSE on 64 Gaussian "
    f"inputs, heavy ball (β = 0.9) for {NET_STEPS} steps each at η = "
    f"{' then '.join(str(v) for v in NET_TRAIN_LRS)} "
    "(dynamics.run) to a strict local minimum"
)


def _quadratic_loss(p):
    return 0.5 * jnp.sum(p**2)


def _ones(key):
    return jnp.ones(1)


@jax.jit
def _operator(x):
    return HeavyBall(learning_rate=x, momentum=BETA).operator(jnp.array([[1.0]]))


def _j(x):
    """The heavy-ball operator at ηh = x (learning rate x on the curvature h = 1), one
    compiled program for every x."""
    return np.asarray(_operator(jnp.asarray(float(x))))


def compute(*, fast: bool) -> dict:
    lo, hi = theory.heavy_ball_exceptional_points(BETA)
    n = 400 if fast else 3000
    xs = np.unique(np.concatenate([np.geomspace(1e-4, 4.0, n), [lo, hi]]))
    data = {"x": xs}
    # all operators of the grid at once (the learning rate is an array field)
    ops = np.asarray(
        jax.vmap(lambda x: HeavyBall(learning_rate=x, momentum=BETA).operator(jnp.eye(1)))(
            jnp.asarray(xs)
        )
    )
    data["rho"] = np.array([spectral_radius(j) for j in ops])
    data["kappa"] = np.array([eigenvector_condition(j) for j in ops])
    # the ρ = 1 crossing, by bisection on the operator's spectral radius (a scalar bisection
    # on ηh, not a training loop)
    a, b = 3.0, 4.0
    for _ in range(60):
        m = 0.5 * (a + b)
        a, b = (m, b) if spectral_radius(_j(m)) < 1 else (a, m)
    data["edge"] = 0.5 * (a + b)
    data["kappa_near_ep"] = np.array(
        [eigenvector_condition(_j(ep * (1 + 1e-6))) for ep in (lo, hi)]
    )
    # heavy ball on ½θ² (h = 1): which learning rates of the grid diverge, every β at once
    quad = FunctionProblem(loss_fn=_quadratic_loss, init_fn=_ones)
    num_steps = 1000 if fast else 10000
    lr, beta = np.meshgrid(EDGE_GRID, np.asarray(EDGE_BETAS))

    def diverged(lr, beta):
        opt = HeavyBall(learning_rate=lr, momentum=beta)
        traj = run(quad, jnp.ones(1), opt, num_steps=num_steps, key=jr.key(SEED))
        # the loss envelope (largest loss over a window of RATE_WINDOW steps) at two times
        w = [jnp.max(traj.loss[k : k + RATE_WINDOW]) for k in RATE_STEPS]
        return traj.stop_reason == "diverged", jnp.stack(w)

    div, envelope = jax.jit(jax.vmap(diverged))(jnp.asarray(lr.ravel()), jnp.asarray(beta.ravel()))
    div = np.asarray(div).reshape(lr.shape)
    envelope = np.asarray(envelope).reshape(*lr.shape, 2)
    # the contraction rate per step of the runs at RATE_PRODUCTS: loss ∝ ρ^{2k}
    cols = [int(np.argmin(np.abs(EDGE_GRID - x))) for x in RATE_PRODUCTS]
    data["rate_products"] = EDGE_GRID[cols]
    with np.errstate(invalid="ignore"):  # β = 0, ηh = 1 converges in one step: 0/0
        data["rate_measured"] = (envelope[:, cols, 1] / envelope[:, cols, 0]) ** (
            1 / (2 * (RATE_STEPS[1] - RATE_STEPS[0]))
        )
    data["edge_num_steps"] = np.asarray(num_steps)
    data["edge_measured"] = np.array([EDGE_GRID[np.argmax(row)] for row in div])
    data["edge_monotone"] = np.array([np.all(np.diff(row.astype(int)) >= 0) for row in div])
    k = 300 if fast else 1000
    for i, x in enumerate(CASES):
        j = _j(x)
        data[f"norms_{i}"] = np.asarray(transient_growth(j, k))
        data[f"kappa_{i}"] = eigenvector_condition(j)
        data[f"rho_{i}"] = spectral_radius(j)
    return data | _trained_network()


def _trained_network() -> dict:
    """A small tanh network trained by heavy ball to a local minimum θ*, its dense Hessian
    there, and the distance ‖θ_k − θ*‖ of heavy-ball restarts from θ* + δ (|δ| =
    `NET_DELTA`) at `NET_CASES`: one compiled program for the training and the restarts,
    one for the data and init, one for the Hessian and the restart point."""
    keys = jr.split(jr.key(NET_SEED), 4)

    @jax.jit
    def setup(keys):
        x = jr.normal(keys[0], (64, 2))
        teacher = mlp_init(key=keys[1], sizes=(2, 4, 1), bias=True, scale=2.0)
        y = mlp_apply(teacher, x, activation="tanh", scalar_output=True)
        p0 = mlp_init(key=keys[2], sizes=(2, 3, 1), bias=True)
        return x, y, p0

    x, y, p0 = setup(keys)
    prob = mlp_regression(x, y, hidden=3)
    flat0, unravel = jax.flatten_util.ravel_pytree(p0)
    n = len(NET_CASES)

    @jax.jit
    @jax.vmap
    def runs(beta, lr, start, ref, top):
        traj = run(
            prob,
            unravel(start),
            HeavyBall(learning_rate=lr, momentum=beta),
            num_steps=NET_STEPS,
            key=jr.key(SEED),
            save=_distance_save(ref, top),
        )
        return jax.flatten_util.ravel_pytree(traj.params)[0], traj.saved

    @jax.jit
    def at_minimum(star):
        p = unravel(star)
        delta = jr.normal(keys[3], star.shape)
        grad = jax.flatten_util.ravel_pytree(jax.grad(prob.loss)(p))[0]
        hess = landscape.hessian(prob, p)
        return (
            hess,
            prob.loss(p),
            jnp.max(jnp.abs(grad)),
            star + NET_DELTA * delta / jnp.linalg.norm(delta),
        )

    # strong-typed like the restarts' arrays (one compiled program for every call)
    train_b = jnp.asarray(np.full(n, 0.9))
    flat = jnp.broadcast_to(flat0, (n, flat0.size))
    for lr in NET_TRAIN_LRS:
        flat = runs(train_b, jnp.asarray(np.full(n, lr)), flat, flat, jnp.zeros_like(flat))[0]
    star = flat[0]
    hess, loss, grad, start = at_minimum(star)
    betas, lrs = (jnp.asarray([c[i] for c in NET_CASES]) for i in (0, 1))
    both = jnp.stack([start, star])
    ev, vecs = np.linalg.eigh(np.asarray(hess))
    top = jnp.asarray(vecs[:, -1])
    starts = (
        *jnp.broadcast_to(both[:, None], (2, n, star.size)),
        jnp.broadcast_to(top, (n, star.size)),
    )
    dist = runs(betas, lrs, *starts)[1][..., 0]
    tiny = star + (NET_EDGE_DELTA / NET_DELTA) * (start - star)
    edge_starts = (jnp.broadcast_to(tiny, (n, star.size)), *starts[1:])
    # the edge: for each momentum of NET_EDGE_BETAS the smallest η whose restart from
    # θ* + δ·NET_EDGE_DELTA/NET_DELTA keeps, over the last fifth of the run, a component
    # along the top Hessian eigenvector above its start (below the edge it decays at a rate
    # < 1, after a non-normal transient of at most ~1/(1 − β); above, it grows until the
    # nonlinearity saturates it far above the start), by bisection on a fixed bracket
    lo = np.full(n, NET_EDGE_BRACKET[0])
    hi = np.full(n, NET_EDGE_BRACKET[1])
    edge_b = jnp.asarray(NET_EDGE_BETAS)
    for _ in range(NET_EDGE_BISECTIONS):
        mid = 0.5 * (lo + hi)
        comp = np.asarray(runs(edge_b, jnp.asarray(mid), *edge_starts)[1][..., 1])
        left = np.max(comp[:, -NET_STEPS // 5 :], axis=1) > comp[:, 0]
        lo, hi = np.where(left, lo, mid), np.where(left, mid, hi)
    return {
        "net_eigs": ev,
        "net_dist": np.asarray(dist),
        "net_edge": hi,
        "net_edge_width": hi - lo,
        "net_loss": np.asarray(loss),
        "net_grad": np.asarray(grad),
    }


def _distance_save(ref, top):
    """Record ‖θ − ref‖ and |(θ − ref)·top| at every step (flat parameter vectors)."""

    def fn(step, p, state, loss):
        u = jax.flatten_util.ravel_pytree(p)[0] - ref
        return jnp.stack([jnp.linalg.norm(u), jnp.abs(u @ top)])

    return Save(every=1, fn=fn)


def _net_rate(dist: np.ndarray) -> tuple[float, float]:
    """The contraction rate per step of a restart: exp of the least-squares slope of
    log ‖θ_k − θ*‖ over the later half of the band `NET_BAND`, with an error estimate: the
    change from the earlier half (the decay of the faster modes' share) plus the fit's
    oscillation bound (the residuals' range over the window's length)."""
    k = np.flatnonzero((dist > NET_BAND[0]) & (dist < NET_BAND[1]))
    k = k[k >= 100]  # the faster modes first
    mid = k[len(k) // 2]
    rates, spread = [], []
    for sel in (k[k < mid], k[k >= mid]):
        a = np.polyfit(sel, np.log(dist[sel]), 1)
        res = np.log(dist[sel]) - np.polyval(a, sel)
        rates.append(np.exp(a[0]))
        spread.append(np.ptp(res) / np.ptp(sel))
    return rates[1], abs(rates[1] - rates[0]) + rates[1] * spread[1]


def claims(data: dict) -> list[Claim]:
    num_steps = int(data["edge_num_steps"])
    spacing = float(EDGE_GRID[1] - EDGE_GRID[0])

    def bias(beta):
        # a run beyond the edge, ρ = 1 + δ, is stopped once ρᴷ > √LOSS_RATIO: the first
        # diverging η lies ln(LOSS_RATIO)/(2K·dρ/dη) past the edge (dρ/dη from the operator)
        e = float(HeavyBall(learning_rate=1.0, momentum=beta).threshold_product())
        h = 1e-6
        slope = (
            spectral_radius(HeavyBall(learning_rate=e + h, momentum=beta).operator(jnp.eye(1)))
            - spectral_radius(HeavyBall(learning_rate=e - h, momentum=beta).operator(jnp.eye(1)))
        ) / (2 * h)
        return np.log(LOSS_RATIO) / (2 * num_steps * slope)

    err = np.array([bias(b) + spacing for b in EDGE_BETAS])
    # the rate: in the complex window the iterate is A β^{k/2} cos(kφ + φ₀) with
    # cos φ = (1 + β − ηh)/(2√β); a window of RATE_WINDOW ≥ π/φ steps holds a step within
    # φ/2 of a peak among its first π/φ steps, so each envelope is within a factor
    # cos²(φ/2)·β^{π/φ} of A²β^k/2 (k the window's start) and ln ρ is off by at most
    # (−ln cos²(φ/2) − (π/φ) ln β)/(2Δk)
    rate_params, rate_err, rate_meas = [], [], []
    dk = RATE_STEPS[1] - RATE_STEPS[0]
    for i, b in enumerate(EDGE_BETAS):
        for j, x in enumerate(data["rate_products"]):
            lo, hi = theory.heavy_ball_exceptional_points(b) if b > 0 else (1.0, 1.0)
            if not lo < x < hi:
                continue
            phi = np.arccos((1 + b - x) / (2 * np.sqrt(b)))
            if RATE_WINDOW * phi < np.pi:
                continue
            rate_params.append({"momentum": b, "learning_rate": float(x)})
            bound = -np.log(np.cos(phi / 2) ** 2) - np.pi / phi * np.log(b)
            rate_err.append(np.sqrt(b) * bound / (2 * dk))
            rate_meas.append(data["rate_measured"][i, j])
    # real roots (β = 0, any ηh ≠ 1; β = 0.5 past (1 + √β)²): the loss is dominated by the
    # larger root, the smaller one's share of the envelope is (ρ₂/ρ₁)^{2k} by step k
    real_params, real_err, real_meas = [], [], []
    for i, b in enumerate(EDGE_BETAS):
        for j, x in enumerate(data["rate_products"]):
            disc = (1 + b - x) ** 2 - 4 * b
            if disc <= 0 or x >= 2 * (1 + b) or abs(x - 1) < 0.05:
                continue
            r1, r2 = sorted(np.abs(np.roots([1.0, -(1 + b - x), b])))[::-1]
            real_params.append({"momentum": b, "learning_rate": float(x)})
            real_err.append(r1 * (r2 / r1) ** (2 * RATE_STEPS[0]) / dk + 1e-12)
            real_meas.append(data["rate_measured"][i, j])

    def larger_root(momentum, learning_rate):
        # Polyak's characteristic polynomial of heavy ball on a curvature-1 quadratic
        return float(np.max(np.abs(np.roots([1.0, -(1 + momentum - learning_rate), momentum]))))

    ev = data["net_eigs"]
    net_rates = [_net_rate(d) for d in data["net_dist"]]

    def operator_radius(momentum, learning_rate):
        # ρ of the heavy-ball operator on the trained Hessian: per eigenvalue h, the larger
        # root's modulus of λ² − (1 + β − ηh)λ + β (numpy's roots, not the runs)
        return float(
            max(
                np.max(np.abs(np.roots([1.0, -(1 + momentum - learning_rate * h), momentum])))
                for h in ev
            )
        )

    lo_w = [
        float(theory.heavy_ball_exceptional_points(b)[0]) if b > 0 else 1.0 for b, _ in NET_CASES
    ]
    net_claim = Claim.quantitative(
        "a trained network's heavy-ball convergence: restarts next to its minimum contract at "
        "ρ(J_HB) of its Hessian spectrum, max_h |larger root of λ² − (1 + β − ηh)λ + β|",
        PAPER,
        predict=operator_radius,
        params=[{"momentum": b, "learning_rate": lr} for b, lr in NET_CASES],
        measured=np.array([r for r, _ in net_rates]),
        atol=3 * np.array([e for _, e in net_rates]),
        error_estimate=np.array([e for _, e in net_rates]),
        error_source="the fitted rate's change between the two halves of the fit window (the "
        "faster modes' decaying share) plus its oscillation bound (range of the log-distance "
        "residuals over the window's length)",
        note=f"Hessian eigenvalues {ev[0]:.3g} … {ev[-1]:.3g} (condition {ev[-1] / ev[0]:.0f}); "
        "ηh_min against the window's lower edge (1 − √β)²: "
        + ", ".join(
            f"β = {b:g}, η = {lr:g}: {lr * ev[0]:.2g} vs {w:.2g}"
            for (b, lr), w in zip(NET_CASES, lo_w)
        )
        + "; GD's rate 1 − ηh_min would give "
        + ", ".join(f"{1 - lr * ev[0]:.5f}" for _, lr in NET_CASES)
        + f", √β {[round(float(np.sqrt(b)), 4) for b, _ in NET_CASES]}; the minimum: loss "
        f"{float(data['net_loss']):.3g}, |∇L|∞ {float(data['net_grad']):.1g}; restarts from "
        f"θ* + δ, |δ| = {NET_DELTA:g}, rate fitted for ‖θ_k − θ*‖ ∈ {list(NET_BAND)}",
        network=NET,
    )
    lam_max = float(ev[-1])
    edge_betas = np.asarray(NET_EDGE_BETAS)
    # a restart just past the edge needs its top component to regrow (by at most ~1/(1 − β)
    # after the non-normal transient, and from below the float64 floor: ≤ e^5) within the last
    # fifth of the run at the rate ρ − 1 ≈ λ_max·Δη/(1 − β)
    edge_bias = (1 - edge_betas) * 5.0 / (0.8 * NET_STEPS * lam_max)
    edge_err = np.asarray(data["net_edge_width"]) + edge_bias
    edge_claim = Claim.quantitative(
        "a trained network's heavy-ball edge: restarts next to its minimum leave it from "
        "η = 2(1 + β)/λ_max(H*), the operator's ρ = 1 crossing on the top curvature",
        PAPER,
        predict=lambda momentum: (
            float(HeavyBall(learning_rate=1.0, momentum=momentum).threshold_product()) / lam_max
        ),
        params=[{"momentum": float(b)} for b in edge_betas],
        measured=np.asarray(data["net_edge"]),
        atol=3 * edge_err,
        error_estimate=edge_err,
        error_source=f"the bisection's final interval ({NET_EDGE_BISECTIONS} halvings of a fixed "
        f"bracket η ∈ {list(NET_EDGE_BRACKET)}) plus the finite-run bias (1 − β)·5/(0.8 K λ_max)",
        note=f"λ_max(H*) = {lam_max:.4f} (dense eigh); measured edges (upper end of the bisection "
        "interval) "
        + ", ".join(f"{v:.5f}" for v in data["net_edge"])
        + f"; GD's 2/λ_max = {2 / lam_max:.4f}, Nesterov's (2 + 2β)/((1 + 2β)λ_max) "
        + str([round((2 + 2 * b) / ((1 + 2 * b) * lam_max), 4) for b in edge_betas])
        + f"; restarts from θ* + δ with |δ| = {NET_EDGE_DELTA:g}, {NET_STEPS} steps, 'left' = "
        "the component along the top Hessian eigenvector over the last fifth of the run above "
        "its start",
        network=NET,
    )
    return [
        net_claim,
        edge_claim,
        Claim.quantitative(
            "outside the complex window heavy-ball runs contract at the larger root of "
            "λ² − (1 + β − ηh)λ + β (GD, β = 0: |1 − ηh|)",
            PAPER,
            predict=larger_root,
            params=real_params,
            measured=np.asarray(real_meas),
            atol=3 * np.asarray(real_err),
            error_estimate=np.asarray(real_err),
            error_source="the smaller root's share (ρ₂/ρ₁)^{2k} of the loss envelope at the "
            "first window, plus rounding",
            note="from the loss of the divergence scan's runs (h = 1); the characteristic "
            "polynomial by numpy's roots",
        ),
        Claim.quantitative(
            "inside the complex window (1 − √β)² < ηh < (1 + √β)² heavy-ball runs on a "
            "quadratic contract at the rate √β per step, whatever ηh",
            PAPER,
            predict=lambda momentum, learning_rate: float(np.sqrt(momentum)),
            params=rate_params,
            measured=np.asarray(rate_meas),
            atol=np.asarray(rate_err),
            error_estimate=np.asarray(rate_err),
            error_source="a bound: the loss envelope over a window of 20 steps misses the "
            "oscillation's peak by at most a factor cos²(φ/2)·β^{π/φ} (φ the eigenvalues' "
            f"argument), over Δk = {dk} steps",
            note=f"from the loss of the divergence scan's runs (h = 1, learning rate ηh), "
            f"envelopes at steps {RATE_STEPS[0]} and {RATE_STEPS[1]}",
        ),
        Claim.quantitative(
            "heavy-ball runs on a quadratic diverge from ηh = 2(1 + β), the operator's "
            "ρ(J) = 1 edge (smallest diverging η on a fixed grid)",
            PAPER,
            predict=lambda momentum: float(
                HeavyBall(learning_rate=1.0, momentum=momentum).threshold_product()
            ),
            params=[{"momentum": b} for b in EDGE_BETAS],
            measured=data["edge_measured"],
            atol=3 * err,
            error_estimate=err,
            error_source="grid spacing plus the finite-run bias ln(1e3)/(2K·dρ/dη) of the "
            "divergence test",
            note=f"{num_steps} steps per run, ηh ∈ [0.5, 5] in {EDGE_GRID.size} points; every "
            f"row diverges monotonically in η: {bool(np.all(data['edge_monotone']))}",
        ),
    ]


def plot(data: dict, out) -> list:
    lo, hi = theory.heavy_ball_exceptional_points(BETA)
    fig, (ax0, ax1, ax2) = panels(3, height=3.4)
    x = data["x"]
    ax0.semilogx(x, data["rho"], color="C0", label="ρ(J)")
    ax0.axhline(np.sqrt(BETA), color="C0", ls=":", lw=1, label="√β")
    ax0.axhline(1.0, color="k", lw=0.5)
    ax0.set(xlabel="ηh", ylabel="spectral radius ρ(J)", ylim=(0.85, 1.25))
    axk = ax0.twinx()
    axk.loglog(x, data["kappa"], color="C3", label="κ(V) (right axis)")
    axk.set_ylabel("κ(V)", color="C3")
    for ep in (lo, hi):
        ax0.axvline(ep, color="C3", ls="--", lw=1, label="exceptional points (1 ± √β)²")
    ax0.axvline(data["edge"], color="k", ls="--", lw=1, label="edge 2(1 + β)")
    ax0.set_title(f"heavy-ball operator, β = {BETA}")
    handles = ax0.get_lines()[:2] + axk.get_lines() + ax0.get_lines()[3:4] + ax0.get_lines()[5:]
    axk.legend(handles=handles, loc="upper left")  # the twin axes is drawn on top
    for i, xv in enumerate(CASES):
        n = data[f"norms_{i}"]
        k = np.arange(len(n))
        ax1.semilogy(k, n, color=f"C{i}", label=f"‖Jᵏ‖, ηh = {xv:g}")
        ax1.semilogy(k, data[f"kappa_{i}"] * data[f"rho_{i}"] ** k, color=f"C{i}", ls="--", lw=1)
    bound = Line2D([], [], color="0.4", ls="--", lw=1, label="bound κ(V)ρᵏ (dashed)")
    ax1.set(xlabel="k", ylabel="‖Jᵏ‖₂", title="transient growth ‖Jᵏ‖ ≤ κ(V)ρᵏ")
    ax1.legend(handles=[*ax1.get_lines()[::2], bound])
    ev = data["net_eigs"]
    for i, ((b, lr), d) in enumerate(zip(NET_CASES, data["net_dist"])):
        k = np.arange(d.size)
        rho = max(np.max(np.abs(np.roots([1.0, -(1 + b - lr * h), b]))) for h in ev)
        ax2.semilogy(k, d, color=f"C{i}", label=f"β = {b:g}, η = {lr:g}")
        ax2.semilogy(k, d[100] * rho ** (k - 100.0), color="k", ls=":", lw=0.8)
    ax2.plot([], [], color="k", ls=":", lw=0.8, label="ρ(J_HB(H*))ᵏ")
    ax2.set(
        xlabel="step k",
        ylabel="‖θ_k − θ*‖",
        ylim=(1e-14, 1e-2),
        title="trained net: restarts at θ* + δ",
    )
    ax2.legend(loc="lower left")
    caption(
        fig,
        f"Heavy ball (β = {BETA}) on a quadratic of curvature h: its 2 × 2 update operator J on "
        f"{len(x)} values of ηh (no data, no randomness); the divergence edge checked by "
        f"{int(data['edge_num_steps'])}-step runs on ½θ²; right: {NET}, restarts from the minimum "
        f"+ a perturbation of norm {NET_DELTA:g}, dense Hessian (seed {NET_SEED}); the claims add "
        f"its heavy-ball edge by bisection at β ∈ {list(NET_EDGE_BETAS)} (not drawn)",
    )
    return [save(fig, out / "fig22_heavy_ball_nonnormal.png")]


if __name__ == "__main__":
    cli(__name__)
