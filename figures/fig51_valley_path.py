"""Equal-loss valley: at a global minimum (teacher width 3, student width 4 with a zero-type
neuron) the seven-leg path that swaps two neurons is flat to machine precision, while the
straight line between the two permuted minima crosses a barrier; weight matching aligns the
permuted minimum back (barrier 0)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from figures._common import caption, cite, cli, panels, save
from toymodels import landscape, symmetry as S
from toymodels.claims import Claim, Comparison
from toymodels.plot import plot_path
from toymodels.problems import mlp_apply, mlp_init, mlp_regression


TITLE = "Equal-loss valley between permuted global minima vs the straight line"
SEED = 7
PAPER = cite("brea", "§3 (equal-loss valleys between permuted minima)")


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
    # the valley path's zero loss and its end at the permuted minimum hold by construction,
    # and weight matching's recovery of the transposition is a test of the alignment code
    # (tests/symmetry): plotted, not claimed
    return [
        Claim.qualitative(
            "the straight line between two permuted global minima crosses a barrier, where "
            "the valley path through the spare neuron stays at zero loss",
            PAPER,
            predicted=1e-3,
            measured=float(data["barrier"]),
            comparison=Comparison.GREATER,
            note=f"barrier {float(data['barrier']):.3g}; largest loss on the valley path "
            f"{float(np.max(data['valley'])):.2g}; after weight matching "
            f"{float(data['barrier_aligned']):.2g}",
        ),
    ]


def plot(data: dict, out) -> list:
    fig, ax = panels(2, height=2.8)
    s = np.linspace(0, 1, len(data["valley"]))
    plot_path(
        s,
        np.maximum(data["valley"], 1e-40),
        ax=ax[0],
        label="valley path (7 legs)",
        ylabel="loss (floor 1e-40)",
        xlabel="path parameter",
        log=True,
        title="equal-loss valley (machine precision)",
    )
    a = np.linspace(0, 1, len(data["line"]))
    plot_path(
        a,
        {"straight line": data["line"], "valley path": np.zeros_like(a)},
        ax=ax[1],
        ylabel="loss",
        styles={"straight line": {"color": "C3", "marker": ".", "ms": 3}},
        marks={"the two permuted minima": [0.0, 1.0]},
        title=f"straight line: barrier {float(data['barrier']):.3g} (after weight matching "
        f"{float(data['barrier_aligned']):.2g})",
    )
    caption(
        fig,
        "A 2-3-1 teacher (activation g, biases) labels 300 Gaussian inputs; embedded with a "
        "zero-type spare neuron it is a global minimum of a 2-4-1 student (½-MSE); the valley "
        "path swapping neurons 1 "
        f"and 2 through the spare one and the straight line to the swapped minimum, "
        f"{len(s)} and {len(a)} points; seed {SEED}",
    )
    return [save(fig, out / "fig51_valley_path.png")]


if __name__ == "__main__":
    cli(__name__)
