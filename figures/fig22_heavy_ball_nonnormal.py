"""Ghosh (2026): the heavy-ball update operator is non-normal. Its spectral radius ρ and
eigenvector condition number κ(V) against ηh for β = 0.9 (exceptional points (1 ± √β)² where
κ → ∞; ρ = √β between them; instability at 2(1+β)), and the transient growth ‖Jᵏ‖ with the
bound κ(V)ρᵏ."""

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from derivations import optimizer_stability as theory
from figures._common import cli, save
from toymodels.claims import Claim, Comparison
from toymodels.dynamics import (
    HeavyBall,
    eigenvector_condition,
    kreiss_constant,
    pseudospectral_bound,
    pseudospectral_radius,
    spectral_radius,
    transient_growth,
)


TITLE = "Heavy ball: ρ(J), κ(V), exceptional points and transient growth (β = 0.9)"
SEED = 0
PAPER = "Ghosh 2026, arXiv:2605.23476 (ghost-nonnormal-eos.md §2)"
BETA = 0.9
CASES = (1e-3, 3.7)  # ηh for the ‖Jᵏ‖ panel
EPS = 1e-3


def _j(x):
    """The heavy-ball operator at ηh = x (learning rate x on the curvature h = 1)."""
    return HeavyBall(learning_rate=float(x), momentum=BETA).operator(jnp.array([[1.0]]))


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
    k = 300 if fast else 1000
    for i, x in enumerate(CASES):
        j = _j(x)
        data[f"norms_{i}"] = np.asarray(transient_growth(j, k))
        data[f"kappa_{i}"] = eigenvector_condition(j)
        data[f"rho_{i}"] = spectral_radius(j)
        data[f"kreiss_{i}"] = kreiss_constant(j)
        data[f"pseudo_{i}"] = pseudospectral_radius(j, EPS, num_radii=1200, r_max=1.2)
        data[f"pseudo_bound_{i}"] = pseudospectral_bound(j, EPS)
    return data


def claims(data: dict) -> list[Claim]:
    lo, hi = theory.heavy_ball_exceptional_points(BETA)
    x = data["x"]
    window = (x > lo * 1.001) & (x < hi * 0.999)
    out = [
        Claim(
            "ρ(J) = √β throughout the complex window (1−√β)² < ηh < (1+√β)²",
            PAPER,
            predicted=np.sqrt(BETA),
            measured=data["rho"][window],
            atol=1e-12,
        ),
        Claim(
            "ρ(J) matches the SymPy eigenvalues of the 2×2 block on the whole ηh grid",
            PAPER,
            predicted=theory.heavy_ball_radius(x, BETA),
            measured=data["rho"],
            atol=1e-6,
            note="eigenvalues of the defective block at the exceptional points are only √ε-accurate",
        ),
        Claim(
            "instability edge (ρ = 1) at ηh = 2(1 + β)",
            PAPER,
            predicted=float(theory.heavy_ball_edge(BETA)),
            measured=data["edge"],
            rtol=1e-9,
        ),
        Claim(
            "κ(V) → ∞ at the exceptional points (κ > 1e3 at relative distance 1e-6)",
            PAPER,
            predicted=1e3,
            measured=data["kappa_near_ep"],
            comparison=Comparison.GREATER,
            note=f"ηh = {lo:.5f}, {hi:.5f}",
        ),
    ]
    for i, xv in enumerate(CASES):
        norms, kap, rho = data[f"norms_{i}"], data[f"kappa_{i}"], data[f"rho_{i}"]
        k = np.arange(len(norms))
        out += [
            Claim(
                f"‖Jᵏ‖ ≤ κ(V)ρᵏ for k ≤ 200 (ηh = {xv:g})",
                PAPER,
                predicted=1.0 + 1e-9,
                measured=float(np.max(norms[:201] / (kap * rho ** k[:201]))),
                comparison=Comparison.LESS,
            ),
            Claim(
                f"Kreiss: K(J) ≤ sup_k‖Jᵏ‖ ≤ e·n·K(J) (ηh = {xv:g})",
                PAPER,
                predicted=1.0,
                measured=float(
                    (data[f"kreiss_{i}"] <= norms.max() * (1 + 1e-9))
                    and (norms.max() <= np.e * 2 * data[f"kreiss_{i}"])
                ),
                comparison=Comparison.EQUAL,
                note=f"K = {data[f'kreiss_{i}']:.3g}, sup‖Jᵏ‖ = {norms.max():.3g}",
            ),
            Claim(
                f"ε-pseudospectral radius (grid) ≤ ρ + εκ(V), ε = {EPS:g} (ηh = {xv:g})",
                PAPER,
                predicted=data[f"pseudo_bound_{i}"],
                measured=data[f"pseudo_{i}"],
                comparison=Comparison.LESS,
            ),
        ]
    out.append(
        Claim(
            "transient amplification with ρ < 1: sup‖Jᵏ‖ > 1 at ηh = 1e-3",
            PAPER,
            predicted=1.0,
            measured=float(data["norms_0"].max()),
            comparison=Comparison.GREATER,
            note=f"ρ = {data['rho_0']:.4f}, κ(V) = {data['kappa_0']:.3g}",
        )
    )
    return out


def plot(data: dict, out) -> list:
    lo, hi = theory.heavy_ball_exceptional_points(BETA)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.5, 3.6), layout="constrained")
    x = data["x"]
    ax0.semilogx(x, data["rho"], color="C0", label="ρ(J)")
    ax0.axhline(np.sqrt(BETA), color="C0", ls=":", lw=1, label="√β")
    ax0.axhline(1.0, color="k", lw=0.5)
    ax0.set(xlabel="ηh", ylabel="spectral radius ρ(J)", ylim=(0.85, 1.25))
    axk = ax0.twinx()
    axk.loglog(x, data["kappa"], color="C3", label="κ(V)")
    axk.set_ylabel("κ(V)", color="C3")
    for ep in (lo, hi):
        ax0.axvline(ep, color="C3", ls="--", lw=1)
    ax0.axvline(data["edge"], color="k", ls="--", lw=1)
    ax0.set_title(f"β = {BETA}: exceptional points (dashed red), edge 2(1+β)")
    ax0.legend(loc="upper left", fontsize=6)
    for i, xv in enumerate(CASES):
        n = data[f"norms_{i}"]
        k = np.arange(len(n))
        ax1.semilogy(k, n, color=f"C{i}", label=f"‖Jᵏ‖, ηh = {xv:g}")
        ax1.semilogy(
            k,
            data[f"kappa_{i}"] * data[f"rho_{i}"] ** k,
            color=f"C{i}",
            ls="--",
            lw=1,
            label="κ(V)ρᵏ",
        )
    ax1.set(xlabel="k", ylabel="‖Jᵏ‖₂", title="transient growth under the κ(V)ρᵏ bound")
    ax1.legend(fontsize=6)
    return [save(fig, out / "fig22_heavy_ball_nonnormal.png")]


if __name__ == "__main__":
    cli(__name__)
