"""Fukumizu–Amari saddle line: splitting a polished critical point of a width-3 student
(g activation, d = 2) keeps the loss and zero gradient for every γ; the curvature along the
opposite-move direction is γ(1−γ)ξᵀBξ, and d more Hessian eigenvalues vanish at γ ∈ {0, 1}."""

import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
import optimistix as optx

from figures._common import cli, save
from toymodels import dynamics, landscape, symmetry as S
from toymodels.claims import Claim, Comparison
from toymodels.problems import mlp_apply, mlp_init, mlp_regression


TITLE = "Saddle line of a split neuron: loss, curvature and Hessian spectrum against γ"
SEED = 1
PAPER = "Fukumizu & Amari 2000; Martinelli et al. 2025 App. A.1 (symmetry-channels-minima §1.4)"


def compute(*, fast: bool) -> dict:
    k1, k2, k3 = jr.split(jr.key(SEED), 3)
    teacher = mlp_init(key=k1, sizes=(2, 4, 1), bias=False, scale=2.0)
    x = jr.normal(k2, (200, 2))
    y = mlp_apply(teacher, x, activation="g", scalar_output=True)
    prob = mlp_regression(x, y, hidden=3, activation="g", bias=False)
    # a strict local minimum: BFGS, then Newton (SVD) to a critical point
    m = dynamics.minimize(
        prob, prob.init(k3), solver=optx.BFGS(rtol=1e-12, atol=1e-12), max_steps=2000
    )
    crit = dynamics.find_critical_point(prob, m.params, gtol=1e-13, max_steps=20)
    p = crit.params
    i = 0
    B = np.asarray(S.fukumizu_amari_matrix(prob, p, i))
    xi = np.array([0.3, -0.7])
    gammas = np.unique(np.concatenate([np.linspace(-2, 3, 11 if fast else 51), [0.0, 1.0]]))
    L0 = float(prob.loss(p))
    dl, gi, curv, pred, nzero, low = [], [], [], [], [], []
    for g in gammas:
        q = S.split_neuron(p, i, float(g))
        H = np.asarray(landscape.hessian(prob, q))
        v = np.asarray(S.flat_vector(S.saddle_line_direction(p, i, float(g), jnp.asarray(xi))))
        cq = dynamics.classify(prob, q)  # gradient norm and the Hessian spectrum
        ev = cq.eigenvalues
        dl.append(cq.loss - L0)
        gi.append(cq.grad_norm)
        curv.append(v @ H @ v)
        pred.append(float(S.line_curvature(B, g, xi)))
        nzero.append(np.sum(np.abs(ev) < 1e-8))
        low.append(ev[:4])
    return {
        "gamma": gammas,
        "dloss": np.array(dl),
        "grad_inf": np.array(gi),
        "curvature": np.array(curv),
        "predicted": np.array(pred),
        "num_zero": np.array(nzero),
        "low_eigs": np.array(low),
        "B_eigs": np.linalg.eigvalsh(B),
        "dim": np.array(p[0]["w"].shape[1]),
        "crit_grad": np.array(crit.grad_norm),
        "crit_index": np.array(crit.index),
    }


def claims(data: dict) -> list[Claim]:
    g = data["gamma"]
    at01 = (g == 0.0) | (g == 1.0)
    d = int(data["dim"])
    rel = np.abs(data["curvature"] - data["predicted"]) / np.maximum(
        np.abs(data["predicted"]), 1e-300
    )
    return [
        Claim(
            "the split point is a critical point (gradient ∞-norm after Newton)",
            PAPER,
            predicted=1e-13,
            measured=data["crit_grad"],
            comparison=Comparison.LESS,
        ),
        Claim(
            "the split point is a local minimum (Hessian index)",
            PAPER,
            predicted=0,
            measured=data["crit_index"],
            comparison=Comparison.EQUAL,
        ),
        Claim(
            "loss unchanged along the saddle line, γ ∈ [−2, 3]",
            PAPER,
            predicted=0.0,
            measured=np.max(np.abs(data["dloss"])),
            atol=1e-12,
        ),
        Claim(
            "gradient ∞-norm on the saddle line",
            PAPER,
            predicted=1e-9,
            measured=np.max(data["grad_inf"]),
            comparison=Comparison.LESS,
        ),
        Claim(
            "vᵀHv = γ(1−γ)ξᵀBξ (relative error, γ ∉ {0,1})",
            PAPER,
            predicted=1e-6,
            measured=np.max(rel[~at01]),
            comparison=Comparison.LESS,
        ),
        Claim(
            "one zero Hessian eigenvalue for generic γ (scalar output)",
            PAPER,
            predicted=1,
            measured=data["num_zero"][~at01],
            comparison=Comparison.EQUAL,
        ),
        Claim(
            "1 + d zero eigenvalues at γ ∈ {0, 1}",
            PAPER,
            predicted=1 + d,
            measured=data["num_zero"][at01],
            comparison=Comparison.EQUAL,
            note=f"d = {d}",
        ),
    ]


def plot(data: dict, out) -> list:
    fig, (a0, a1, a2) = plt.subplots(1, 3, figsize=(11, 3.3), layout="constrained")
    g = data["gamma"]
    a0.plot(g, data["dloss"], "o-", ms=3)
    a0.set(xlabel="γ", ylabel="L(θ_γ) − L(θ*)", title="loss along the line")
    gg = np.linspace(g.min(), g.max(), 200)
    a1.plot(g, data["curvature"], "o", ms=4, label="vᵀHv (autodiff)")
    a1.plot(g, data["predicted"], "-", lw=1, label="γ(1−γ)ξᵀBξ")
    a1.axhline(0, color="k", lw=0.5)
    a1.set(xlabel="γ", title="curvature along v")
    a1.legend()
    for k in range(data["low_eigs"].shape[1]):
        a2.plot(g, data["low_eigs"][:, k], "o-", ms=3)
    a2.set_yscale("symlog", linthresh=1e-7)
    a2.set(xlabel="γ", ylabel="smallest Hessian eigenvalues", title="spectrum (zeros at γ = 0, 1)")
    del gg
    return [save(fig, out / "fig50_saddle_line.png")]


if __name__ == "__main__":
    cli(__name__)
