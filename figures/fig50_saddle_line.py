"""Fukumizu–Amari saddle line: splitting a polished local minimum of a width-3 student
(g activation, d = 2) into two copies with output weights γa and (1 − γ)a keeps the loss and
a zero gradient for every γ (identities, tested in tests/symmetry). The theory's
predictions, claimed here against the autodiff Hessian of the split network: the curvature
along the opposite-move direction is γ(1−γ)ξᵀBξ with the stability matrix
B = ⟨(f − y)a g″(w·x) xxᵀ⟩ in closed form (g″ by hand, not by differentiating the loss), the
Hessian index along the line is the number of negative eigenvalues of γ(1−γ)B (the
classification into minima for γ ∈ (0, 1) and saddles outside when B > 0). The zero
eigenvalues (1 for generic γ, 1 + d at γ ∈ {0, 1}) hold by construction and are plotted."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optimistix as optx

from figures._common import caption, cite, cli, panels, save
from toymodels import dynamics, landscape, symmetry as S
from toymodels.claims import Claim, Comparison
from toymodels.plot import plot_path
from toymodels.problems import mlp_apply, mlp_init, mlp_regression


TITLE = "Saddle line of a split neuron: loss, curvature and Hessian spectrum against γ"
SEED = 1
PAPER = cite("fukumizu", "§3-4 (lines of critical points from a split hidden unit)")


def _g2(z):
    """g″ for g(z) = sigmoid(4z) + softplus(z), by hand."""
    s4, s1 = 1 / (1 + np.exp(-4 * z)), 1 / (1 + np.exp(-z))
    return 16 * s4 * (1 - s4) * (1 - 2 * s4) + s1 * (1 - s1)


def _stability_matrix(params, x, y, i):
    """B = (1/N)Σ_n (f(x_n) − y_n) a_i g″(w_i·x_n) x_n x_nᵀ of the ½-MSE loss, in closed
    form from the network's weights and residuals."""
    w1, w2 = np.asarray(params[0]["w"]), np.asarray(params[1]["w"])
    x, y = np.asarray(x), np.asarray(y)
    f = (1 / (1 + np.exp(-4 * x @ w1.T)) + np.logaddexp(0, x @ w1.T)) @ w2[0]
    coef = (f - y) * w2[0, i] * _g2(x @ w1[i])
    return (x * coef[:, None]).T @ x / x.shape[0]


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
    B = _stability_matrix(p, x, y, i)
    xi = np.array([0.3, -0.7])
    gammas = np.unique(np.concatenate([np.linspace(-2, 3, 11 if fast else 51), [0.0, 1.0]]))
    L0 = float(prob.loss(p))
    dl, gi, curv, pred, nzero, low, index = [], [], [], [], [], [], []
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
        index.append(np.sum(ev < -1e-8))
        low.append(ev[:4])
    return {
        "gamma": gammas,
        "dloss": np.array(dl),
        "grad_inf": np.array(gi),
        "curvature": np.array(curv),
        "predicted": np.array(pred),
        "num_zero": np.array(nzero),
        "index": np.array(index),
        "B": B,
        "curvature_scale": np.array(
            [np.max(np.abs(np.asarray(landscape.hessian(prob, S.split_neuron(p, i, 0.5)))))]
        ),
        "low_eigs": np.array(low),
        "B_eigs": np.linalg.eigvalsh(B),
        "dim": np.array(p[0]["w"].shape[1]),
        "crit_grad": np.array(crit.grad_norm),
        "crit_index": np.array(crit.index),
    }


def claims(data: dict) -> list[Claim]:
    # the loss and the zero gradient along the line are identities of the split (tests in
    # tests/symmetry/test_symmetry.py); the Newton polish to a minimum is the set-up
    g = data["gamma"]
    generic = [float(v) for v in g if v not in (0.0, 1.0)]
    at = {float(v): k for k, v in enumerate(g)}
    B = data["B"]
    xi = np.array([0.3, -0.7])
    scale = float(data["curvature_scale"][0])
    # a dense autodiff Hessian of this size is exact to a few hundred ulps of its entries
    rounding = 1e-13 * scale

    def index(gamma):
        return int(np.sum(np.linalg.eigvalsh(gamma * (1 - gamma) * B) < 0))

    return [
        Claim.quantitative(
            "curvature along the opposite-move direction vᵀHv = γ(1−γ)ξᵀBξ, B the closed-form "
            "stability matrix",
            PAPER,
            predict=lambda gamma: gamma * (1 - gamma) * (xi @ B @ xi),
            params=[{"gamma": v} for v in generic],
            measured=np.array([data["curvature"][at[v]] for v in generic]),
            atol=10 * rounding,
            error_estimate=rounding,
            error_source="float64 rounding of the dense autodiff Hessian (1e-13 × its largest "
            "entry)",
            note=f"B eigenvalues {np.round(np.linalg.eigvalsh(B), 5).tolist()}, ξ = {xi.tolist()}",
        ),
        Claim.quantitative(
            "Fukumizu–Amari classification: the Hessian index on the line = the number of "
            "negative eigenvalues of γ(1−γ)B (minima for γ ∈ (0, 1), saddles outside)",
            PAPER,
            predict=index,
            params=[{"gamma": v} for v in generic],
            measured=np.array([data["index"][at[v]] for v in generic]),
            comparison=Comparison.EQUAL,
            error_estimate=0.0,
            error_source="an exact count (eigenvalues below −1e-8)",
            note="index of the split point from the dense Hessian's eigenvalues",
        ),
    ]


def plot(data: dict, out) -> list:
    fig, (a0, a1, a2) = panels(3, height=2.9)
    g = data["gamma"]
    plot_path(
        g,
        data["dloss"],
        ax=a0,
        label="L(θ_γ) − L(θ*)",
        ylabel="ΔL",
        xlabel="γ",
        marks={"γ = 0, 1": [0.0, 1.0]},
        title="loss along the line",
        legend_loc="center right",
    )
    a0.lines[0].set(marker="o", ms=3)
    a1.plot(g, data["curvature"], "o", ms=4, label="vᵀHv (autodiff)")
    a1.plot(g, data["predicted"], "-", lw=1, label="γ(1−γ)ξᵀBξ")
    a1.axhline(0, color="k", lw=0.5)
    a1.set(xlabel="γ", title="curvature along v")
    a1.legend()
    for k in range(data["low_eigs"].shape[1]):
        a2.plot(g, data["low_eigs"][:, k], "o-", ms=3, label=f"λ{'₁₂₃₄₅₆'[k]}")
    a2.set_yscale("symlog", linthresh=1e-7)
    a2.set(xlabel="γ", ylabel="smallest Hessian eigenvalues", title="spectrum (zeros at γ = 0, 1)")
    a2.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    caption(
        fig,
        "2-3-1 student (activation g = sigmoid(4z) + softplus(z), no biases), ½-MSE on 200 "
        "Gaussian inputs labelled by a 2-4-1 teacher; a local minimum by BFGS and Newton, "
        f"hidden unit 1 split into output weights γa, (1 − γ)a at {len(g)} values of γ; "
        f"dense Hessians; seed {SEED}",
    )
    return [save(fig, out / "fig50_saddle_line.png")]


if __name__ == "__main__":
    cli(__name__)
