"""Ghosh (2026): κ(V) and ρ(J) of the heavy-ball update operator along training runs of a
two-layer tanh network, for stable and unstable (loss-spiking) step sizes. J is formed from
the exact Hessian at checkpoints (torch momentum, β = 0.9)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np

from figures._common import cli, save
from toymodels.claims import Claim, Comparison
from toymodels.dynamics import HeavyBall, Save, Stop, eigenvector_condition, run, spectral_radius
from toymodels.landscape import hessian
from toymodels.problems import mlp_regression


TITLE = "κ(V) and ρ(J) of heavy-ball operators in stable and unstable runs"
SEED = 0
PAPER = "Ghosh 2026, arXiv:2605.23476 (ghost-nonnormal-eos.md §2, claim 5)"
BETA = 0.9
LRS = (0.03, 0.1, 0.3, 0.5, 0.8)
FAST_LRS = (0.1, 0.3, 0.5, 0.8)


def compute(*, fast: bool) -> dict:
    k1, k2 = jr.split(jr.key(SEED))
    x = jr.normal(k1, (64, 2))
    y = jnp.sin(2 * x[:, 0]) * jnp.cos(x[:, 1])
    prob = mlp_regression(x, y, hidden=(16,))
    p0 = prob.init(k2)
    steps = 600 if fast else 3000
    every = 150 if fast else 100
    lrs = FAST_LRS if fast else LRS
    data = {"lrs": np.asarray(lrs)}
    # every learning rate in one vmapped run (one compilation); a run stops only when its
    # params leave ‖θ‖∞ ≤ 1e10 or turn non-finite (no loss bound: the loss spikes are the
    # point), and only checkpoints it reached are used. Full batch: the key draws nothing.
    runs = jax.vmap(
        lambda lr: run(
            prob,
            p0,
            HeavyBall(learning_rate=lr, momentum=BETA),
            num_steps=steps,
            key=jr.key(SEED),
            save=Save(steps=np.arange(every, steps + 1, every)),
            stop=Stop(loss_ratio=None),
        )
    )(jnp.asarray(lrs))
    for i, lr in enumerate(lrs):
        rho, kap, sharp = [], [], []
        reached = np.asarray(runs.save_steps[i]) <= int(runs.stop_step[i])
        for c in np.flatnonzero(reached):
            p = jax.tree.map(lambda a, i=i, c=c: a[i, c], runs.saved)
            h = hessian(prob, p)
            if not bool(jnp.all(jnp.isfinite(h))):
                break
            j = HeavyBall(learning_rate=lr, momentum=BETA).operator(h)
            rho.append(spectral_radius(j))
            kap.append(eigenvector_condition(j))
            sharp.append(float(jnp.linalg.eigvalsh(h)[-1]))
        loss = np.nan_to_num(np.asarray(runs.loss[i]), nan=np.inf)
        running_min = np.minimum.accumulate(loss)
        data[f"loss_{i}"] = np.asarray(runs.loss[i])
        data[f"spike_{i}"] = float(np.max(loss[50:] / running_min[50:]))
        data[f"rho_{i}"] = np.asarray(rho)
        data[f"kappa_{i}"] = np.asarray(kap)
        data[f"sharp_{i}"] = np.asarray(sharp)
    return data


def _split(data):
    unstable = [i for i in range(len(data["lrs"])) if data[f"spike_{i}"] > 1.5]
    stable = [i for i in range(len(data["lrs"])) if i not in unstable]
    return stable, unstable


def claims(data: dict) -> list[Claim]:
    stable, unstable = _split(data)
    cat = lambda key, idx: np.concatenate([data[f"{key}_{i}"] for i in idx])  # noqa: E731
    rs, ru = cat("rho", stable), cat("rho", unstable)
    ks, ku = cat("kappa", stable), cat("kappa", unstable)
    edge = float(HeavyBall(learning_rate=1.0, momentum=BETA).threshold_product())
    sharp_u = max(float(np.max(data[f"sharp_{i}"] * data["lrs"][i])) for i in unstable)
    sharp_s = max(float(np.max(data[f"sharp_{i}"] * data["lrs"][i])) for i in stable)
    ratio = float(np.median(ku) / np.median(ks))
    return [
        Claim(
            "both stable and unstable step sizes occur in the sweep",
            PAPER,
            predicted=[1, 1],
            measured=[min(len(stable), 1), min(len(unstable), 1)],
            comparison=Comparison.EQUAL,
            note=f"unstable (loss spikes > 1.5× running min): lr = {[float(data['lrs'][i]) for i in unstable]}",
        ),
        Claim(
            "ρ(J) does not separate stable from unstable runs (the ranges overlap)",
            PAPER,
            predicted=float(np.min(ru)),
            measured=float(np.max(rs)),
            comparison=Comparison.GREATER,
            note="ρ > 1 already in stable runs: negative Hessian eigenvalues",
        ),
        Claim(
            "unstable runs reach the heavy-ball edge η·λ_max ≈ 2(1+β); stable ones stay below it",
            PAPER,
            predicted=0.0,
            measured=float((sharp_u >= 0.95 * edge) and (sharp_s < 0.95 * edge)) - 1.0,
            comparison=Comparison.EQUAL,
            note=f"max η·λ_max: unstable {sharp_u:.3g}, stable {sharp_s:.3g}, edge {edge:.3g}",
        ),
        Claim(
            "every checkpoint's operator is strongly non-normal: κ(V) > 10",
            PAPER,
            predicted=10.0,
            measured=float(min(ks.min(), ku.min())),
            comparison=Comparison.GREATER,
            note=(
                f"median κ(V) unstable/stable = {ratio:.3g}; the paper reports about 10×, "
                "which this reconstruction (exact protocol unknown) does not reproduce"
            ),
        ),
    ]


def plot(data: dict, out) -> list:
    stable, unstable = _split(data)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    for i, lr in enumerate(data["lrs"]):
        mk = "o" if i in stable else "x"
        ax0.loglog(
            data[f"rho_{i}"],
            data[f"kappa_{i}"],
            mk,
            color=f"C{i}",
            label=f"lr = {lr:g} ({'stable' if i in stable else 'unstable'})",
        )
        ax1.semilogy(data[f"loss_{i}"], color=f"C{i}", lw=0.8)
    ax0.set(xlabel="ρ(J)", ylabel="κ(V)", title="checkpoints of heavy-ball runs (β = 0.9)")
    ax0.legend(fontsize=6)
    ax1.set(xlabel="step", ylabel="loss", title="training loss")
    return [save(fig, out / "fig23_kappa_stable_unstable.png")]


if __name__ == "__main__":
    cli(__name__)
