"""Li, Farkhoor, Liu & Yosinski (2018): training in random affine subspaces θ = θ₀ + Pz with
orthonormal P, and the intrinsic dimension d₉₀ (smallest d reaching 90% of the full-space
performance of the median seed), on the group-sum toy whose intrinsic dimension is the number
of groups."""

import jax.random as jr
import numpy as np
import optax

from figures._common import caption, cite, cli, panels, save
from toymodels import landscape as L
from toymodels.claims import Claim


TITLE = "Intrinsic dimension by random-subspace training (group-sum toy)"
SEED = 34
PAPER = cite("li_intrinsic", "§2 (the toy whose intrinsic dimension is the number of groups)")
#: (D, groups): the paper's toy and two more sizes (the prediction is d_int = groups)
CASES = ((1000, 10), (300, 5), (300, 3))  # the last shares the second's programs


def compute(*, fast: bool) -> dict:
    out = {}
    steps = 3000 if fast else 10000
    out["num_steps"] = np.asarray(steps)
    seeds = 3 if fast else 10
    for i, (dim, groups) in enumerate(CASES):
        k_prob, k_run = jr.split(jr.fold_in(jr.key(SEED), i))
        prob = L.group_sum_problem(key=k_prob, dim=dim, groups=groups, tol=1e-2)
        res = L.intrinsic_dimension(
            prob,
            key=k_run,
            dims=np.arange(1, 2 * groups + 1),
            performance=prob.accuracy,
            num_seeds=seeds,
            num_steps=steps,
            optimizer=optax.adam(optax.cosine_decay_schedule(0.3, steps)),
        )
        out[f"dims_{i}"] = np.asarray(res.dims)
        out[f"performance_{i}"] = np.asarray(res.performance)
        out[f"baseline_{i}"] = np.asarray(res.baseline)
        out[f"threshold_{i}"] = np.asarray(res.threshold)
        out[f"d_int_{i}"] = np.asarray(res.dimension)
    return out


def claims(data: dict) -> list[Claim]:
    return [
        Claim.quantitative(
            "d₉₀ of the group-sum toy equals its number of groups",
            PAPER,
            predict=lambda dim, groups: float(groups),
            params=[{"dim": dim, "groups": groups} for dim, groups in CASES],
            measured=np.array([float(data[f"d_int_{i}"]) for i in range(len(CASES))]),
            atol=1.0,
            error_estimate=1.0,
            error_source="the integer grid of d: the 90 % threshold can be crossed one "
            "dimension early when a seed solves the last group by chance",
        )
    ]


def plot(data: dict, out) -> list:
    fig, axes = panels(len(CASES), height=3.0)
    for i, (ax, (dim, groups)) in enumerate(zip(axes, CASES)):
        d, perf = data[f"dims_{i}"], data[f"performance_{i}"]
        ax.plot(np.repeat(d, perf.shape[1]), perf.ravel(), ".", color="0.6", ms=3, label="seeds")
        ax.plot(d, np.median(perf, axis=1), "o-", ms=3, label="median")
        ax.axhline(float(data[f"threshold_{i}"]), color="C3", ls="--", label="90 % of full")
        ax.axvline(groups, color="k", lw=0.6, label=f"d = {groups} groups")
        ax.set(
            xlabel="subspace dimension d",
            ylabel="fraction of groups solved" if i == 0 else None,
            title=f"D = {dim}: d₉₀ = {int(data[f'd_int_{i}'])}",
        )
        ax.legend(loc="center right")
    seeds = data["performance_0"].shape[1]
    caption(
        fig,
        f"Group-sum toy (D parameters in k groups, tolerance 1e-2) trained in random affine "
        f"subspaces θ₀ + Pz of dimension d: Adam with cosine decay from 0.3 for "
        f"{int(data['num_steps'])} steps, {seeds} seeds per d, seed {SEED}",
    )
    return [save(fig, out / "fig34_intrinsic_dimension.png")]


if __name__ == "__main__":
    cli(__name__)
