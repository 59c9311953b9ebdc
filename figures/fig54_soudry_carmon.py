"""Soudry & Carmon (2016): for a one-hidden-layer leaky-ReLU network with dropout-like
noise, every differentiable local minimum has zero training error when N ≤ d0·d1, because
at such a point (G∗X)ᵀe = 0 and the Khatri–Rao matrix G∗X (N × d0·d1) has rank
min(N, d0·d1) for almost every data set and noise. Claimed on the end points of BFGS
training (random labels) at several (N, d0, d1) on both sides of N = d0·d1: zero training
error where N ≤ d0·d1; rank(G∗X) = min(N, d0·d1) at the trained end points; the zero-error
minima have P − N flat Hessian directions (rank N of the output Jacobian). At the boundary
N = d0·d1 BFGS stops at kinks (a pre-activation at 0, not a differentiable point): listed as
a discrepancy with the practical reading of the theorem. Noise ablation at the boundary:
without the noise, differentiable local minima with non-zero error appear, where G∗X falls
short of rank N."""

import jax.numpy as jnp
import numpy as np

from figures._common import caption, cite, cli, panels, save
from toymodels import landscape
from toymodels.claims import Claim, Comparison
from toymodels.models import soudry as sc


TITLE = "No bad local minima: training MSE against d0·d1/N (random labels)"
SEED = 0
PAPER = cite("soudry", "Thm. 1 (zero training error at differentiable local minima)")
#: a differentiable critical point: gradient ∞-norm and smallest |pre-activation| bounds
GTOL, KINK = 1e-8, 1e-8
#: BFGS's absolute tolerance on the loss (`sc.fit`'s default solver): the training error a
#: converged zero-error end point can show
LOSS_ATOL = 1e-13
#: (N, d0, d1): three with d0·d1 ≥ 2N, the boundary N = d0·d1, one with d0·d1 = N/2
CONFIGS = {
    True: ((16, 4, 8), (12, 3, 8), (10, 2, 10), (16, 4, 4), (16, 4, 2)),
    False: ((64, 8, 16), (48, 6, 16), (40, 4, 20), (64, 8, 8), (64, 8, 4)),
}


def _fit(n, d0, d1, seed, noisy):
    # data, noise and init drawn by numpy (no compiled program per shape): inputs and
    # random labels N(0, 1), noise U[0.5, 1.5], weights N(0, 1/fan-in)
    rng = np.random.default_rng([SEED, n, d0, d1, seed])
    x, y = rng.standard_normal((n, d0)), rng.standard_normal(n)
    noise = rng.uniform(0.5, 1.5, (n, d1)) if noisy else np.ones((n, d1))
    prob = sc.from_data(x, y, noise)  # the ablation: the same data without the noise
    p0 = {
        "W": jnp.asarray(rng.standard_normal((d1, d0)) / np.sqrt(d0)),
        "w2": jnp.asarray(rng.standard_normal(d1) / np.sqrt(d1)),
    }
    fit = sc.fit(prob, p0, num_steps=1000)  # BFGS via dynamics.minimize
    smooth = fit.grad_norm < GTOL and fit.min_abs_preactivation > KINK
    ev = np.linalg.eigvalsh(np.asarray(landscape.hessian(prob, fit.params))) if smooth else None
    return {
        "mse": fit.mse,
        "rank": fit.rank,
        "min_preact": fit.min_abs_preactivation,
        "grad_norm": fit.grad_norm,
        # the Hessian (a differentiable point only): flat directions and the lowest curvature
        "num_zero": np.nan if ev is None else float(np.sum(np.abs(ev) < 1e-8 * np.max(ev))),
        "min_eig": np.nan if ev is None else float(ev[0] / np.max(ev)),
    }


def compute(*, fast: bool) -> dict:
    configs = CONFIGS[fast]
    seeds = 3 if fast else 5
    out = {"configs": np.array(configs), "seeds": np.asarray(seeds)}
    boundary = [c for c in configs if c[0] == c[1] * c[2]]
    for tag, noisy, cs in (("", True, configs), ("clean_", False, boundary)):
        rows = [[_fit(*c, s, noisy) for s in range(seeds)] for c in cs]
        for k in rows[0][0]:
            out[tag + k] = np.array([[r[k] for r in row] for row in rows])
    out["clean_configs"] = np.array(boundary)
    return out


def _theorem_error(num_samples, d0, d1):
    """Soudry–Carmon Thm. 1: the training error at a differentiable local minimum is 0 when
    N ≤ d0·d1 (the theorem says nothing otherwise)."""
    if num_samples > d0 * d1:
        raise ValueError("num_samples: the theorem needs N <= d0*d1")
    return 0.0


def _net(configs, seeds) -> str:
    return (
        "one-hidden-layer leaky-ReLU net (slope 0.1) with fixed multiplicative noise "
        f"U[0.5, 1.5], MSE on Gaussian inputs with random labels, BFGS (1000 steps) from "
        f"{seeds} inits per (N, d0, d1) ∈ {[tuple(int(v) for v in c) for c in configs]}"
    )


def claims(data: dict) -> list[Claim]:
    cfg = [tuple(int(v) for v in c) for c in data["configs"]]
    seeds = int(data["seeds"])
    at = {c: k for k, c in enumerate(cfg)}
    over = [c for c in cfg if c[1] * c[2] >= 2 * c[0]]
    edge = [c for c in cfg if c[0] == c[1] * c[2]]
    smooth = (data["grad_norm"] < GTOL) & (data["min_preact"] > KINK)

    def params(cs):
        return [{"num_samples": n, "d0": d0, "d1": d1} for n, d0, d1 in cs]

    def rows(key, cs):
        return np.array([data[key][at[c]] for c in cs])

    clean = [tuple(int(v) for v in c) for c in data["clean_configs"]]
    c_smooth = (data["clean_grad_norm"] < GTOL) & (data["clean_min_preact"] > KINK)
    c_min = (data["clean_min_eig"] > -1e-8) & c_smooth  # a (second-order) local minimum
    bad = c_min & (data["clean_mse"] > 1e-3)
    shortfall = np.array([c[0] for c in clean])[:, None] - data["clean_rank"]
    e = edge[0]
    return [
        Claim.quantitative(
            "N ≤ d0·d1 (here d0·d1 ≥ 2N): zero training error at the BFGS end points (the "
            "largest over the inits)",
            PAPER,
            predict=_theorem_error,
            params=params(over),
            measured=np.max(rows("mse", over), axis=1),
            atol=10 * LOSS_ATOL,
            error_estimate=LOSS_ATOL,
            error_source="BFGS's absolute tolerance on the loss (atol 1e-13)",
            network=_net(over, seeds),
            note=f"largest MSE {np.max(rows('mse', over)):.2g}; every one of these end "
            f"points is differentiable: {bool(np.all(rows('grad_norm', over) < GTOL))}",
        ),
        Claim.quantitative(
            "the theorem's linear system at the trained end points: rank(G∗X) = min(N, d0·d1) "
            "(with the noise), on both sides of N = d0·d1",
            PAPER,
            predict=lambda num_samples, d0, d1: np.full(seeds, min(num_samples, d0 * d1)),
            params=params(cfg),
            measured=data["rank"],
            comparison=Comparison.EQUAL,
            error_estimate=0.0,
            error_source="an exact count (numerical rank, numpy's default tolerance)",
            network=_net(cfg, seeds),
            note="without the noise the same count falls short at the boundary (see the ablation)",
        ),
        Claim.quantitative(
            "zero-error minima form a manifold of dimension P − N: the Hessian there has "
            "d1(d0 + 1) − N zero eigenvalues (rank N of G∗X, so of the output Jacobian)",
            PAPER,
            predict=lambda num_samples, d0, d1: np.full(seeds, d1 * (d0 + 1) - num_samples),
            params=params(over),
            measured=rows("num_zero", over),
            comparison=Comparison.EQUAL,
            error_estimate=0.0,
            error_source="an exact count (|eigenvalue| < 1e-8 λ_max of the dense Hessian)",
            network=_net(over, seeds),
        ),
        Claim.qualitative(
            "d0·d1 ≥ 2N: every BFGS end point is a differentiable critical point (count of "
            "end points with |∇|∞ ≥ 1e-8 or a pre-activation within 1e-8 of the kink)",
            PAPER,
            predicted=0,
            measured=int(np.sum(~smooth[[at[c] for c in over]])),
            comparison=Comparison.EQUAL,
            params=params(over),
            note=f"smallest |pre-activation| {np.min(rows('min_preact', over)):.2g}",
        ),
        Claim.discrepancy(
            "at the boundary N = d0·d1 training does not reach zero error: every BFGS end "
            "point stops at a kink (a pre-activation at 0), where the theorem does not apply",
            PAPER,
            paper_value="training error 0 at every differentiable local minimum for N ≤ d0·d1 "
            "(mild over-parameterisation)",
            measured=float(np.min(data["mse"][at[e]])),
            params=params([e]),
            note=f"end points at a kink: {int(np.sum(~smooth[at[e]]))} of {seeds}, smallest "
            f"|pre-activation| {np.max(data['min_preact'][at[e]]):.2g} at most, |∇|∞ "
            f"{np.min(data['grad_norm'][at[e]]):.2g} at least, MSE "
            f"{np.round(data['mse'][at[e]], 3).tolist()}; with d0·d1 ≥ 2N every end point "
            "is a zero-error differentiable minimum; the theorem is not contradicted (no "
            "differentiable minimum with error was found with the noise)",
        ),
        Claim.qualitative(
            "noise ablation: without the noise the theorem's rank condition fails at "
            "N = d0·d1: rank(G∗X) < N at BFGS end points (largest shortfall N − rank)",
            PAPER,
            predicted=0,
            measured=int(np.max(shortfall)),
            comparison=Comparison.GREATER,
            params=[{"num_samples": n, "d0": d0, "d1": d1, "noise": False} for n, d0, d1 in clean],
            note=f"shortfall per init {shortfall.tolist()} (with the noise: "
            f"{(e[0] - data['rank'][at[e]]).tolist()}); clean MSE "
            f"{np.round(data['clean_mse'], 3).tolist()}; bad differentiable local minima "
            f"without the noise (MSE > 1e-3, |∇|∞ < 1e-8, no pre-activation at a kink, "
            f"Hessian ≥ 0): {int(np.sum(bad))} of {bad.size} (with the noise at the boundary: "
            "none, every end point at a kink)",
        ),
    ]


def plot(data: dict, out) -> list:
    fig, ax = panels(width=6.0, height=3.4)
    cfg = data["configs"]
    r = cfg[:, 1] * cfg[:, 2] / cfg[:, 0]
    smooth = (data["grad_norm"] < GTOL) & (data["min_preact"] > KINK)
    jitter = np.linspace(0.97, 1.03, data["mse"].shape[1])
    floor = 1e-32
    for mask, style, lab in (
        (smooth, "o", "noisy net, differentiable end point"),
        (~smooth, "x", "noisy net, end point at a kink"),
    ):
        xs, ys = (r[:, None] * jitter)[mask], np.maximum(data["mse"], floor)[mask]
        ax.semilogy(xs, ys, style, color="C0", alpha=0.7, label=lab)
    cc = data["clean_configs"]
    rc = cc[:, 1] * cc[:, 2] / cc[:, 0]
    c_smooth = (data["clean_grad_norm"] < GTOL) & (data["clean_min_preact"] > KINK)
    for mask, style, lab in (
        (c_smooth, "s", "no noise, differentiable end point"),
        (~c_smooth, "+", "no noise, end point at a kink"),
    ):
        xs = (rc[:, None] * jitter * 1.08)[mask]
        ax.semilogy(xs, np.maximum(data["clean_mse"], floor)[mask], style, color="C3", label=lab)
    ax.axvline(1.0, color="k", lw=0.5, ls="--", label="d0·d1 = N")
    ax.set(
        xscale="log",
        xlabel="d0·d1 / N",
        ylabel="training MSE (floor 1e-32)",
        title="leaky-ReLU net, random labels",
    )
    ax.legend(loc="center left")
    caption(
        fig,
        "One-hidden-layer leaky-ReLU net (slope 0.1) with dropout-like noise U[0.5, 1.5] "
        "(and without: red), MSE on Gaussian inputs with Gaussian random labels, (N, d0, d1) ∈ "
        f"{{{', '.join(str(tuple(int(v) for v in c)) for c in cfg)}}}; BFGS for 1000 steps "
        f"from {data['mse'].shape[1]} inits each (key {SEED})",
    )
    return [save(fig, out / "fig54_soudry_carmon.png")]


if __name__ == "__main__":
    cli(__name__)
