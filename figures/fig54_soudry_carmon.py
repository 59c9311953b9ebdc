"""Soudry & Carmon (2016): with dropout-like noise, a one-hidden-layer leaky-ReLU network
reaches zero training error on random labels once d0·d1 ≥ 2N (every differentiable local
minimum is global when rank(G∗X) = N), and cannot when d0·d1 ≤ N/2."""

import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np

from figures._common import cli, save
from toymodels.claims import Claim, Comparison
from toymodels.models import soudry as sc


TITLE = "No bad local minima: training MSE against d0·d1/N (random labels)"
SEED = 0
PAPER = "Soudry & Carmon 2016 (symmetry-channels-minima §3)"


def compute(*, fast: bool) -> dict:
    d0, n = (4, 16) if fast else (8, 64)
    d1s = [2, 8] if fast else [2, 4, 6, 8, 10, 16, 32]
    seeds = 2 if fast else 5
    mse, rank, pred, minpre = [], [], [], []
    for d1 in d1s:
        row_m, row_r, row_p = [], [], []
        for s in range(seeds):
            k1, k2 = jr.split(jr.fold_in(jr.key(SEED), 100 * d1 + s))
            prob = sc.soudry_carmon(key=k1, d0=d0, d1=d1, num_samples=n)
            fit = sc.fit(prob, prob.init(k2), num_steps=1000)  # BFGS via dynamics.minimize
            row_m.append(fit.mse)
            row_r.append(fit.rank)
            row_p.append(sc.predicted_rank(prob))
            minpre.append(fit.min_abs_preactivation)
        mse.append(row_m)
        rank.append(row_r)
        pred.append(row_p)
    return {
        "ratio": np.array(d1s) * d0 / n,
        "mse": np.array(mse),
        "rank": np.array(rank),
        "pred_rank": np.array(pred),
        "min_preact": np.array(minpre),
    }


def claims(data: dict) -> list[Claim]:
    r = data["ratio"]
    return [
        Claim(
            "rank(G∗X) = min(N, d0·d1) at the end of training",
            PAPER,
            predicted=data["pred_rank"],
            measured=data["rank"],
            comparison=Comparison.EQUAL,
        ),
        Claim(
            "MSE < 1e-10 when d0·d1 ≥ 2N",
            PAPER,
            predicted=1e-10,
            measured=data["mse"][r >= 2],
            comparison=Comparison.LESS,
        ),
        Claim(
            "MSE > 0.1 when d0·d1 ≤ N/2 (random labels)",
            PAPER,
            predicted=0.1,
            measured=data["mse"][r <= 0.5],
            comparison=Comparison.GREATER,
        ),
    ]


def plot(data: dict, out) -> list:
    fig, ax = plt.subplots(figsize=(5, 3.4), layout="constrained")
    r = data["ratio"]
    for k in range(data["mse"].shape[1]):
        ax.semilogy(r, np.maximum(data["mse"][:, k], 1e-32), "o", color="C0", alpha=0.6)
    ax.axvline(1.0, color="k", lw=0.5, ls="--", label="d0·d1 = N")
    ax.set(
        xscale="log",
        xlabel="d0·d1 / N",
        ylabel="training MSE",
        title="noisy leaky-ReLU net, random labels",
    )
    ax.legend()
    return [save(fig, out / "fig54_soudry_carmon.png")]


if __name__ == "__main__":
    cli(__name__)
