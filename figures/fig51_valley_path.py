"""Equal-loss valley: at a global minimum (teacher width 3, student width 4 with a zero-type
neuron) the seven-leg path that swaps two neurons is flat to machine precision, while the
straight line between the two permuted minima crosses a barrier; weight matching aligns the
permuted minimum back (barrier 0)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np

from figures._common import cli, save
from toymodels import landscape, symmetry as S
from toymodels.claims import Claim, Comparison
from toymodels.problems import mlp_apply, mlp_init, mlp_regression


TITLE = "Equal-loss valley between permuted global minima vs the straight line"
SEED = 7
PAPER = "Brea et al. 2019; Şimşek et al. 2021 (symmetry-channels-minima §1.2)"


def compute(*, fast: bool) -> dict:
    k1, k2, k3 = jr.split(jr.key(SEED), 3)
    teacher = mlp_init(key=k1, sizes=(2, 3, 1), bias=True, scale=2.0)
    teacher = (teacher[0] | {"b": jr.normal(k3, (3,))}, teacher[1])
    x = jr.normal(k2, (300, 2))
    y = mlp_apply(teacher, x, activation="g", scalar_output=True)
    prob = mlp_regression(x, y, hidden=4, activation="g", bias=True)
    p = S.add_zero_neurons(teacher, jnp.array([[0.5, -0.4]]), jnp.array([0.2]))
    num = 21 if fast else 101
    path = S.valley_path(p, 0, 1, spare=3, num=num)
    valley = np.asarray(landscape.trajectory_values(prob, path))
    swapped = S.permute_neurons(p, S.transposition(4, 0, 1))
    alphas = np.linspace(0.0, 1.0, num)
    line = landscape.interpolate(prob, p, swapped, alphas)
    barrier = landscape.barrier_height(line)
    perms = S.weight_matching(p, swapped)
    aligned = S.apply_permutations(swapped, perms)
    after = landscape.barrier_height(landscape.interpolate(prob, p, aligned, alphas))
    end = jax.tree.map(lambda v: v[-1], path)
    end_gap = max(
        float(jnp.max(jnp.abs(a - b)))
        for a, b in zip(jax.tree.leaves(end), jax.tree.leaves(swapped))
    )
    return {
        "valley": valley,
        "line": np.asarray(line),
        "barrier": np.array(float(barrier)),
        "barrier_aligned": np.array(float(after)),
        "end_gap": np.array(end_gap),
        "perm": np.asarray(perms[0]),
    }


def claims(data: dict) -> list[Claim]:
    return [
        Claim(
            "max loss along the valley path (global minimum)",
            PAPER,
            predicted=1e-25,
            measured=np.max(data["valley"]),
            comparison=Comparison.LESS,
        ),
        Claim(
            "the valley path ends at the permuted minimum",
            PAPER,
            predicted=0.0,
            measured=data["end_gap"],
            atol=1e-14,
        ),
        Claim(
            "straight line between permuted minima has a barrier",
            PAPER,
            predicted=1e-3,
            measured=data["barrier"],
            comparison=Comparison.GREATER,
        ),
        Claim(
            "weight matching recovers the transposition",
            "Ainsworth et al. 2023",
            predicted=np.array([1, 0, 2, 3]),
            measured=data["perm"],
            comparison=Comparison.EQUAL,
        ),
        Claim(
            "barrier after alignment",
            "Ainsworth et al. 2023",
            predicted=0.0,
            measured=data["barrier_aligned"],
            atol=1e-14,
        ),
    ]


def plot(data: dict, out) -> list:
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.3), layout="constrained")
    s = np.linspace(0, 1, len(data["valley"]))
    ax[0].semilogy(s, np.maximum(data["valley"], 1e-40), ".-", ms=2, label="valley path (7 legs)")
    ax[0].set(xlabel="path parameter", ylabel="loss", title="equal-loss valley (machine precision)")
    ax[0].legend()
    ax[1].plot(np.linspace(0, 1, len(data["line"])), data["line"], "C3.-", label="straight line")
    ax[1].axhline(0, color="k", lw=0.5, label="valley path")
    ax[1].set(xlabel="α", ylabel="loss", title="straight line between permuted minima")
    ax[1].legend()
    return [save(fig, out / "fig51_valley_path.png")]


if __name__ == "__main__":
    cli(__name__)
