"""Soudry & Carmon (2016): for a one-hidden-layer leaky-ReLU network with dropout-like
noise, every differentiable local minimum has zero training error when N ≤ d0·d1 (the
Khatri–Rao matrix G∗X then has rank N for almost every data set and noise). Claimed on the
end points of BFGS training (random labels): (1) every end point that is a differentiable
critical point (gradient ≈ 0, no pre-activation at a kink) has zero error when N ≤ d0·d1;
(2) the noise is what makes the hypothesis hold: with it rank(G∗X) = min(N, d0·d1) at the
end points, without it the rank falls short (few activation patterns, each spanning at
most d0 rows). Interpolation with 40 parameters for 16 points, or its failure with 10, is
parameter counting and is only plotted."""

import jax.random as jr
import numpy as np

from figures._common import caption, cite, cli, panels, save
from toymodels.claims import Claim, Comparison
from toymodels.models import soudry as sc


TITLE = "No bad local minima: training MSE against d0·d1/N (random labels)"
SEED = 0
PAPER = cite("soudry", "Thm. 1 (zero training error at differentiable local minima)")
#: a differentiable critical point: gradient ∞-norm and smallest |pre-activation| bounds
GTOL, KINK = 1e-8, 1e-8


def compute(*, fast: bool) -> dict:
    d0, n = (4, 16) if fast else (8, 64)
    d1s = [2, 4, 8] if fast else [2, 4, 6, 8, 10, 16, 32]
    seeds = 3 if fast else 5
    out = {"d0": np.asarray(d0), "n": np.asarray(n), "d1": np.asarray(d1s)}
    for tag, noisy in (("", True), ("clean_", False)):
        mse, rank, pred, minpre, gn = [], [], [], [], []
        # the ablation at the theorem's boundary N = d0·d1, where it bites
        for d1 in d1s if noisy else [v for v in d1s if v * d0 == n]:
            row = [[], [], [], [], []]
            for s in range(seeds):
                k1, k2 = jr.split(jr.fold_in(jr.key(SEED), 100 * d1 + s))
                prob = sc.soudry_carmon(key=k1, d0=d0, d1=d1, num_samples=n)
                if not noisy:  # the ablation: the same data without dropout-like noise
                    prob = sc.from_data(prob.x, prob.y, np.ones(prob.noise.shape))
                fit = sc.fit(prob, prob.init(k2), num_steps=1000)  # BFGS via dynamics.minimize
                for lst, v in zip(
                    row,
                    (fit.mse, fit.rank, min(n, d0 * d1), fit.min_abs_preactivation, fit.grad_norm),
                ):
                    lst.append(v)
            for lst, v in zip((mse, rank, pred, minpre, gn), row):
                lst.append(v)
        out[tag + "mse"] = np.array(mse)
        out[tag + "rank"] = np.array(rank)
        out[tag + "pred_rank"] = np.array(pred)
        out[tag + "min_preact"] = np.array(minpre)
        out[tag + "grad_norm"] = np.array(gn)
    out["ratio"] = np.array(d1s) * d0 / n
    out["clean_d1"] = np.array([v for v in d1s if v * d0 == n])
    return out


def claims(data: dict) -> list[Claim]:
    d1 = data["d1"]
    over = data["ratio"] >= 1  # N ≤ d0·d1
    smooth = (data["grad_norm"] < GTOL) & (data["min_preact"] > KINK)  # differentiable critical
    bad = smooth & (data["mse"] > 1e-20)
    shortfall = data["clean_pred_rank"] - data["clean_rank"]
    return [
        Claim.qualitative(
            "N ≤ d0·d1: every end point that is a differentiable critical point has zero "
            "training error (count of those with MSE > 1e-20)",
            PAPER,
            predicted=0,
            measured=int(np.sum(bad[over])),
            comparison=Comparison.EQUAL,
            params=[{"d1": int(v)} for v in d1[over]],
            note=f"differentiable critical end points per d1: {np.sum(smooth, axis=1).tolist()} "
            f"of {smooth.shape[1]} (d1 = {d1.tolist()}); the others stop at a kink "
            f"(smallest |pre-activation| {np.round(np.min(data['min_preact'], axis=1), 6).tolist()}) "
            f"with MSE {np.round(np.max(data['mse'], axis=1), 4).tolist()}",
        ),
        Claim.qualitative(
            "... and such points exist (the statement is not vacuous at the largest width)",
            PAPER,
            predicted=0,
            measured=int(np.sum(smooth[-1])),
            comparison=Comparison.GREATER,
            params=[{"d1": int(d1[-1])}],
        ),
        Claim.qualitative(
            "noise ablation: without the noise rank(G∗X) falls short of min(N, d0·d1) at the "
            "end points of some width (the theorem's hypothesis fails)",
            PAPER,
            predicted=0,
            measured=int(np.max(shortfall)),
            comparison=Comparison.GREATER,
            params=[{"d1": int(v), "noise": False} for v in data["clean_d1"]],
            note=f"largest shortfall per d1 = {data['clean_d1'].tolist()}: "
            f"{np.max(shortfall, axis=1).tolist()} (with the noise, at d1 = {d1.tolist()}: "
            f"{np.max(data['pred_rank'] - data['rank'], axis=1).tolist()}); clean MSE "
            f"{np.round(np.max(data['clean_mse'], axis=1), 4).tolist()}",
        ),
    ]


def plot(data: dict, out) -> list:
    fig, ax = panels(width=5.0, height=3.4)
    r = data["ratio"]
    for k in range(data["mse"].shape[1]):
        lab = "BFGS end points (one per seed)" if k == 0 else None
        ax.semilogy(r, np.maximum(data["mse"][:, k], 1e-32), "o", color="C0", alpha=0.6, label=lab)
    ax.axvline(1.0, color="k", lw=0.5, ls="--", label="d0·d1 = N")
    ax.set(
        xscale="log",
        xlabel="d0·d1 / N",
        ylabel="training MSE",
        title="noisy leaky-ReLU net, random labels",
    )
    ax.legend()
    caption(
        fig,
        f"One-hidden-layer leaky-ReLU net with dropout-like noise, d0 = {int(data['d0'])} "
        f"inputs, widths d1 ∈ {{{', '.join(str(int(v)) for v in data['d1'])}}}, "
        f"N = {int(data['n'])} Gaussian points with Gaussian random labels; BFGS for 1000 steps "
        f"from {data['mse'].shape[1]} seeds per width (key {SEED}); MSE floored at 1e-32",
    )
    return [save(fig, out / "fig54_soudry_carmon.png")]


if __name__ == "__main__":
    cli(__name__)
