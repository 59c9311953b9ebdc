"""Gradient flow along channel 2 of the erf toy: ε(t) ∝ t^(−1/4) and L − L∞ ∝ t^(−1/2)
(projected flow dε/dt = −4hε⁵/a²), integrated with an L-stable Rosenbrock method to t = 1e9
(full mode) or 1e7 (fast mode: the reduced law from t = 1e5)."""

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from derivations import channels as theory
from figures._common import cli, save
from toymodels.claims import Claim
from toymodels.models import channels as ch


TITLE = "Channel flow: ε(t) and L − L∞ on log-log axes"
SEED = 0
PAPER = "Martinelli et al. 2025 §2.1 (rate: symmetry-channels-minima §2.1, derivations/channels.py)"


def compute(*, fast: bool) -> dict:
    toy = ch.erf_toy()
    crit = ch.glu_critical_points(toy, lo=0.3, hi=6.0, num=120)
    c, a, w, L0, h = (getattr(crit, k)[2] for k in ("c", "a", "w", "loss", "h"))
    ts = np.logspace(5, 7, 9) if fast else np.logspace(0, 9, 37)
    # dynamics.gradient_flow with the Rosenbrock solver ch.ROS2 on a geometric StepTo grid
    flow = ch.channel_flow(
        toy, ch.channel_params(c, a, w, 0.3), ts, rel_step=0.02 if fast else 0.01
    )
    eps = np.asarray(jax.vmap(lambda q: 0.5 * jnp.abs(q[0]["w"][0, 0] - q[0]["w"][1, 0]))(flow.ys))
    excess = np.asarray(flow.loss) - L0
    return {
        "t": ts,
        "eps": eps,
        "excess": excess,
        "a": np.array(a),
        "h": np.array(h),
        "fast": np.array(fast),
    }


def claims(data: dict) -> list[Claim]:
    t, eps, ex, a, h = data["t"], data["eps"], data["excess"], float(data["a"]), float(data["h"])
    if bool(data["fast"]):
        pred = theory.rate_eps(t - t[0], a, h, eps[0])
        return [
            Claim(
                "ε(t) follows ε⁻⁴ = ε₁⁻⁴ + 16h(t − t₁)/a² (t₁ = 1e5 → 1e7)",
                PAPER,
                predicted=pred,
                measured=eps,
                rtol=0.02,
            ),
            Claim(
                "L − L∞ = hε² along the flow", PAPER, predicted=h * eps**2, measured=ex, rtol=0.05
            ),
        ]
    e_pred = np.asarray(ch.channel_rate(t, a=a, h=h).eps)
    m = t >= 1e8
    return [
        Claim(
            "log-log slope of ε for t > 1e6",
            PAPER,
            predicted=-0.25,
            measured=ch.loglog_slope(t, eps, t_min=1e6),
            atol=0.02,
        ),
        Claim(
            "log-log slope of L − L∞ for t > 1e6",
            PAPER,
            predicted=-0.5,
            measured=ch.loglog_slope(t, ex, t_min=1e6),
            atol=0.03,
        ),
        Claim(
            "ε(t) = (a²/(16ht))^{1/4} for t ∈ [1e8, 1e9]",
            PAPER,
            predicted=e_pred[m],
            measured=eps[m],
            rtol=0.01,
        ),
    ]


def plot(data: dict, out) -> list:
    t, a, h = data["t"], float(data["a"]), float(data["h"])
    rate = ch.channel_rate(t, a=a, h=h)
    e_pred, l_pred = rate.eps, rate.excess
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.3), layout="constrained")
    ax[0].loglog(t, data["eps"], "o", ms=4, label="flow")
    ax[0].loglog(t, e_pred, "-", label="(a²/16ht)^{1/4}")
    ax[0].set(xlabel="t", ylabel="ε", title="ε(t)")
    ax[0].legend()
    ax[1].loglog(t, data["excess"], "o", ms=4, label="flow")
    ax[1].loglog(t, l_pred, "-", label="|a|√h/(4√t)")
    ax[1].set(xlabel="t", ylabel="L − L∞", title="loss excess")
    ax[1].legend()
    return [save(fig, out / "fig53_channel_rate.png")]


if __name__ == "__main__":
    cli(__name__)
