"""Goodfellow et al. (2015): straight paths on the two-parameter deep linear toy
J = ½(1 − w₁w₂)², theory (SymPy) against the JAX problem evaluated along the same lines."""

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.lines import Line2D

from derivations import deep_linear as theory
from figures._common import caption, cite, cli, panels, save
from toymodels.claims import Claim
from toymodels.problems import scalar_factorization


TITLE = "Deep-linear toy: interpolation paths (Goodfellow et al. 2015)"
SEED = 0
PAPER = cite("goodfellow", "linear interpolation on the two-weight deep linear model")
PATHS = {
    "init → solution": ((0.0, 0.0), (1.0, 1.0)),
    "(1,1) → (−1,−1)": ((1.0, 1.0), (-1.0, -1.0)),
    "(2,½) → (½,2)": ((2.0, 0.5), (0.5, 2.0)),
}


def compute(*, fast: bool) -> dict:
    problem = scalar_factorization(1.0, depth=2)
    alphas = jnp.linspace(0.0, 1.0, 101 if fast else 1001)
    loss_on = jax.jit(jax.vmap(problem.loss))
    data = {"alpha": np.asarray(alphas)}
    for i, (p0, p1) in enumerate(PATHS.values()):
        p0, p1 = jnp.asarray(p0), jnp.asarray(p1)
        pts = (1 - alphas)[:, None] * p0 + alphas[:, None] * p1
        data[f"measured_{i}"] = np.asarray(loss_on(pts))
        data[f"theory_{i}"] = np.asarray(theory.line_loss(*p0, *p1, np.asarray(alphas)))
    g = jnp.linspace(-2.0, 2.0, 81 if fast else 201)
    w1, w2 = jnp.meshgrid(g, g)
    data["grid"] = np.asarray(g)
    data["surface"] = np.asarray(jax.vmap(problem.loss)(jnp.stack([w1.ravel(), w2.ravel()], 1)))
    return data


def claims(data: dict) -> list[Claim]:
    alphas = data["alpha"]
    params = [{"theta0": list(p0), "theta1": list(p1)} for p0, p1 in PATHS.values()]
    measured = np.stack([data[f"measured_{i}"] for i in range(len(PATHS))])
    # the largest value on the α grid misses the segment's maximum by at most
    # max|J''|·h²/8 (h the grid step); the discrete second difference bounds it
    grid_error = np.array(
        [np.max(np.abs(np.diff(data[f"measured_{i}"], 2))) / 8 for i in range(len(PATHS))]
    )
    return [
        Claim.quantitative(
            "loss along the straight path (1 − α)θ₀ + αθ₁ = the SymPy line loss J(α)",
            PAPER,
            predict=lambda theta0, theta1: theory.line_loss(*theta0, *theta1, alphas),
            params=params,
            measured=measured,
            atol=1e-13,
            error_estimate=1e-14,
            error_source="float64 rounding of ½(1 − w₁w₂)² with |J| ≤ 4.5",
            note=f"{len(alphas)} values of α ∈ [0, 1] per path",
        ),
        Claim.quantitative(
            "largest loss on the segment (the barrier a path must cross) = SymPy's exact maximum",
            PAPER,
            predict=lambda theta0, theta1: float(theory.barrier(theta0, theta1)),
            params=params,
            measured=np.max(measured, axis=1),
            atol=float(2 * grid_error.max() + 1e-13),
            error_estimate=grid_error + 1e-14,
            error_source="maximum on the α grid: at most max|J″|h²/8 below the true maximum",
        ),
    ]


def plot(data: dict, out) -> list:
    fig, (ax0, ax1) = panels(2, height=3.0)
    g = data["grid"]
    z = data["surface"].reshape(len(g), len(g))
    cs = ax0.contourf(g, g, np.log10(z + 1e-3), levels=30, cmap="viridis")
    fig.colorbar(cs, ax=ax0, label="log10(J + 1e-3)")
    h = np.linspace(0.5, 2.0, 100)
    ax0.plot(h, 1 / h, "w--", lw=1, label="minima w₁w₂ = 1")
    ax0.plot(-h, -1 / h, "w--", lw=1)
    for (label, (p0, p1)), c in zip(PATHS.items(), ["C1", "C3", "C6"]):
        ax0.plot([p0[0], p1[0]], [p0[1], p1[1]], color=c, lw=1.5, label=label)
    ax0.plot(0, 0, "wx", ls="none", label="saddle (0, 0)")
    ax0.set(xlabel="w₁", ylabel="w₂", title="J = ½(1 − w₁w₂)²")
    ax0.legend(loc="lower left")
    a = data["alpha"]
    for i, (label, c) in enumerate(zip(PATHS, ["C1", "C3", "C6"])):
        ax1.plot(a, data[f"theory_{i}"], color=c, lw=2, alpha=0.5, label=label)
        ax1.plot(a[::5], data[f"measured_{i}"][::5], "o", color=c, ms=3)
    ax1.set(xlabel="α", ylabel="J((1 − α)θ₀ + αθ₁)", title="loss along straight paths")
    ax1.set_ylim(top=1.15)
    dots = Line2D([], [], color="0.4", marker="o", ms=3, ls="none", label="JAX problem (dots)")
    sympy = Line2D([], [], color="0.4", lw=2, alpha=0.5, label="SymPy closed form (lines)")
    ax1.legend(handles=[*ax1.get_lines()[::2], sympy, dots], loc="upper right")
    caption(
        fig,
        f"Two-weight deep linear model J = ½(1 − w₁w₂)² (target 1, depth 2): the loss on a "
        f"{len(g)} × {len(g)} grid and along three straight paths, {len(a)} points each; "
        "SymPy closed form against the JAX problem (no training, no randomness)",
    )
    return [save(fig, out / "fig01_goodfellow_toy.png")]


if __name__ == "__main__":
    cli(__name__)
