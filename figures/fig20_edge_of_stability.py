"""Cohen et al. (2021): full-batch GD on a small tanh MLP (MSE) — the sharpness λ_max rises
(progressive sharpening) to about 2/η and hovers there, for two step sizes."""

import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np

from figures._common import cite, cli, save
from toymodels.claims import Claim, Comparison
from toymodels.dynamics import GD, train
from toymodels.problems import mlp_regression


TITLE = "Edge of stability: sharpness of a tanh MLP under full-batch GD hovers at 2/η"
SEED = 0
PAPER = cite("cohen", "§3 and Fig. 1 (progressive sharpening, then λ_max ≈ 2/η)")
ETAS = (0.2, 0.3, 0.4)


def problem(key):
    k1, k2 = jr.split(key)
    x = jr.normal(k1, (64, 4))
    y = np.sin(2 * x[:, 0]) * np.cos(x[:, 1]) + 0.5 * x[:, 2] * x[:, 3]
    return mlp_regression(x, y, hidden=(16, 16)), k2


def compute(*, fast: bool) -> dict:
    prob, k = problem(jr.key(SEED))
    p0 = prob.init(k)
    steps = 2000 if fast else 6000
    every = 100 if fast else 25
    data = {"etas": np.asarray(ETAS)}
    for i, eta in enumerate(ETAS):
        # one compilation for both η (the learning rate is an array); full batch, so the
        # key only starts the Lanczos runs
        r = train(
            prob,
            p0,
            GD(learning_rate=eta),
            num_steps=steps,
            key=jr.key(SEED),
            sharpness_steps=np.arange(0, steps + 1, every),
        )
        data[f"loss_{i}"] = np.asarray(r.trajectory.loss)
        data[f"sharp_steps_{i}"] = r.sharpness_steps
        data[f"sharpness_{i}"] = r.sharpness
    return data


def claims(data: dict) -> list[Claim]:
    etas = [float(e) for e in data["etas"]]
    late = [data[f"sharpness_{i}"][len(data[f"sharpness_{i}"]) // 2 :] for i in range(len(etas))]
    # the sharpness oscillates about the edge: its spread over the second half is the error
    # of reading one value off the series
    spread = np.array([np.std(v) for v in late])
    out = [
        Claim.quantitative(
            "sharpness λ_max hovers at GD's stability threshold 2/η over the second half of "
            "training (median)",
            PAPER,
            predict=lambda learning_rate: float(
                GD(learning_rate=learning_rate).stability_threshold()
            ),
            params=[{"learning_rate": e} for e in etas],
            measured=np.array([np.median(v) for v in late]),
            atol=5 * spread,
            error_estimate=spread,
            error_source="standard deviation of λ_max (Lanczos) over the second half: the "
            "oscillation about the edge",
            note=f"tanh MLP 4-16-16-1, 64 samples, MSE; λ_max every {int(np.diff(data['sharp_steps_0'][:2])[0])} steps",
        )
    ]
    for i, eta in enumerate(etas):
        s = data[f"sharpness_{i}"]
        loss = data[f"loss_{i}"]
        out += [
            Claim.qualitative(
                f"progressive sharpening: λ_max at init is well below 2/η, η = {eta:g}",
                PAPER,
                predicted=0.75 * 2 / eta,
                measured=float(s[0]),
                comparison=Comparison.LESS,
                params=[{"learning_rate": eta}],
            ),
            Claim.qualitative(
                f"the loss still decreases, non-monotonically, at the edge (η = {eta:g}): late "
                "minimum below a tenth of the initial loss",
                PAPER,
                predicted=0.1 * loss[0],
                measured=float(np.min(loss[-100:])),
                comparison=Comparison.LESS,
                params=[{"learning_rate": eta}],
                note=f"{int(np.sum(np.diff(loss) > 0))} steps increase the loss",
            ),
        ]
    return out


def plot(data: dict, out) -> list:
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    for i, eta in enumerate(data["etas"]):
        c = f"C{i}"
        ax0.plot(
            data[f"sharp_steps_{i}"], data[f"sharpness_{i}"], color=c, label=f"λ_max, η = {eta:g}"
        )
        ax0.axhline(2 / eta, color=c, ls="--", lw=1, label=f"2/η = {2 / eta:g}")
        ax1.semilogy(data[f"loss_{i}"], color=c, lw=0.8, label=f"η = {eta:g}")
    ax0.set(xlabel="step", ylabel="sharpness λ_max", title="progressive sharpening, then 2/η")
    ax0.legend(fontsize=6)
    ax1.set(xlabel="step", ylabel="training loss", title="full-batch GD (MSE)")
    ax1.legend(fontsize=6)
    return [save(fig, out / "fig20_edge_of_stability.png")]


if __name__ == "__main__":
    cli(__name__)
