"""Goodfellow et al. (2015): straight paths on the two-parameter deep linear toy
J = ½(1 − w₁w₂)², theory (SymPy) against the JAX problem evaluated along the same lines."""

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from derivations import deep_linear as theory
from figures._common import cli, save
from toymodels.claims import Claim, Comparison
from toymodels.problems import scalar_factorization


TITLE = "Deep-linear toy: interpolation paths (Goodfellow et al. 2015)"
SEED = 0
PAPER = "Goodfellow, Vinyals & Saxe 2015 (symmetry-channels-minima §4)"
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
    mid = len(data["alpha"]) // 2
    return [
        Claim(
            "J(α) from the origin to (1,1) equals ½(1 − α²)²",
            PAPER,
            predicted=0.0,
            measured=np.max(np.abs(data["measured_0"] - data["theory_0"])),
            atol=1e-12,
            note="max deviation over α ∈ [0,1]",
        ),
        Claim(
            "init → solution is monotone (largest increase between grid points)",
            PAPER,
            predicted=1e-15,
            measured=np.max(np.diff(data["measured_0"])),
            comparison=Comparison.LESS,
        ),
        Claim(
            "barrier between (1,1) and (−1,−1) is ½, at the saddle",
            PAPER,
            predicted=float(theory.barrier((1, 1), (-1, -1))),
            measured=np.max(data["measured_1"]),
            atol=1e-12,
        ),
        Claim(
            "J at the midpoint of (2,½) → (½,2) is 81/512 ≈ 0.1582",
            PAPER,
            predicted=float(theory.barrier((2, 0.5), (0.5, 2))),
            measured=data["measured_2"][mid],
            atol=1e-12,
        ),
    ]


def plot(data: dict, out) -> list:
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    g = data["grid"]
    z = data["surface"].reshape(len(g), len(g))
    cs = ax0.contourf(g, g, np.log10(z + 1e-3), levels=30, cmap="viridis")
    fig.colorbar(cs, ax=ax0, label="log10(J + 1e-3)")
    h = np.linspace(0.5, 2.0, 100)
    ax0.plot(h, 1 / h, "w--", lw=1, label="minima w₁w₂ = 1")
    ax0.plot(-h, -1 / h, "w--", lw=1)
    for (label, (p0, p1)), c in zip(PATHS.items(), ["C1", "C3", "C6"]):
        ax0.plot([p0[0], p1[0]], [p0[1], p1[1]], color=c, lw=1.5, label=label)
    ax0.plot(0, 0, "wx")
    ax0.set(xlabel="w₁", ylabel="w₂", title="J = ½(1 − w₁w₂)²")
    ax0.legend(loc="lower left", fontsize=6)
    a = data["alpha"]
    for i, (label, c) in enumerate(zip(PATHS, ["C1", "C3", "C6"])):
        ax1.plot(a, data[f"theory_{i}"], color=c, lw=2, alpha=0.5, label=f"{label} (SymPy)")
        ax1.plot(a[::5], data[f"measured_{i}"][::5], "o", color=c, ms=3, label=f"{label} (JAX)")
    ax1.set(xlabel="α", ylabel="J((1 − α)θ₀ + αθ₁)", title="loss along straight paths")
    ax1.legend(fontsize=6)
    return [save(fig, out / "fig01_goodfellow_toy.png")]


if __name__ == "__main__":
    cli(__name__)
