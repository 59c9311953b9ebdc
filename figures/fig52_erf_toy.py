"""The two-erf-neuron toy of Martinelli et al. (2025): the loss at the end of a channel,
ℓ(w, 0), in closed form, with its critical points and the interval where h(w) > 0 (stable
channels), against the loss of the actual two-neuron network along the channel,
ℓ(θ_ε) ≈ ℓ(w, 0) + ε²h(w)."""

import jax
import matplotlib.pyplot as plt
import numpy as np

from figures._common import cli, save
from toymodels import landscape
from toymodels.claims import Claim, Comparison
from toymodels.models import channels as ch


TITLE = "Erf toy: loss at the end of channels, critical points, stable-channel interval"
SEED = 0
PAPER = "Martinelli et al. 2025 Fig. 6, App. C.3/C.5 (symmetry-channels-minima §2.2)"


def compute(*, fast: bool) -> dict:
    toy = ch.erf_toy()
    curve = ch.glu_loss_curve(toy, np.linspace(0.4, 6.0, 120 if fast else 500))
    crit = ch.glu_critical_points(toy, lo=0.3, hi=6.0, num=120)
    ends = ch.stable_channel_interval(toy, lo=0.3, hi=6.0, num=120)
    eps = np.array([0.04, 0.02, 0.01])
    # the two channels (minima), the two-neuron network's closed-form loss at each ε
    points = [ch.channel_params(crit.c[k], crit.a[k], crit.w[k], e) for k in (0, 2) for e in eps]
    stacked = jax.tree.map(lambda *xs: np.stack(xs), *points)
    sim = np.asarray(landscape.trajectory_values(toy, stacked)).reshape(2, len(eps))
    return {
        "w": curve.w,
        "loss": curve.loss,
        "h": curve.h,
        "crit_w": crit.w,
        "crit_loss": crit.loss,
        "crit_h": crit.h,
        "crit_kind": crit.kind,
        "h_ends": ends,
        "eps": eps,
        "sim_loss": sim,
    }


def claims(data: dict) -> list[Claim]:
    pred_sim = (
        data["crit_loss"][[0, 2], None] + data["eps"][None] ** 2 * data["crit_h"][[0, 2], None]
    )
    return [
        Claim(
            "critical points of ℓ(w, 0)",
            PAPER,
            predicted=np.array([0.8663, 1.3996, 3.1504]),
            measured=data["crit_w"],
            atol=1e-3,
            note="paper's numbers (CSV)",
        ),
        Claim(
            "losses at the critical points",
            PAPER,
            predicted=np.array([0.042372, 0.047116, 7.7333e-4]),
            measured=data["crit_loss"],
            rtol=1e-4,
        ),
        Claim(
            "h(w) > 0 exactly on (0.7992, 3.2023)",
            PAPER,
            predicted=np.array([0.7992, 3.2023]),
            measured=data["h_ends"],
            atol=1e-3,
        ),
        Claim(
            "both minima are stable channels (h > 0)",
            PAPER,
            predicted=0.0,
            measured=data["crit_h"][[0, 2]],
            comparison=Comparison.GREATER,
        ),
        Claim(
            "network loss along each channel = ℓ(w,0) + ε²h (ε ≤ 0.04)",
            "Martinelli et al. 2025 App. C.2",
            predicted=pred_sim,
            measured=data["sim_loss"],
            rtol=2e-3,
            note="closed-form two-neuron loss vs ε-expansion",
        ),
    ]


def plot(data: dict, out) -> list:
    fig, ax = plt.subplots(figsize=(5.5, 3.5), layout="constrained")
    ax.plot(data["w"], data["loss"], "k-", label="ℓ(w, 0) (closed form)")
    lo, hi = data["h_ends"][:2]
    ax.axvspan(lo, hi, color="C2", alpha=0.15, label="h(w) > 0")
    for w, l, kind in zip(data["crit_w"], data["crit_loss"], data["crit_kind"]):
        ax.plot(w, l, "o" if kind > 0 else "s", color="C3" if kind > 0 else "C0", ms=6)
    for k, idx in enumerate((0, 2)):
        ax.plot(
            np.full(3, data["crit_w"][idx]),
            data["sim_loss"][k],
            "x",
            color="C1",
            label="two-neuron net at ε = 0.04, 0.02, 0.01" if k == 0 else None,
        )
    ax.set(
        xlabel="gate weight w",
        ylabel="loss",
        yscale="log",
        title="erf toy: channels and critical points",
    )
    ax.legend(fontsize=7)
    return [save(fig, out / "fig52_erf_toy.png")]


if __name__ == "__main__":
    cli(__name__)
