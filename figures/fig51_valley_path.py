"""Equal-loss valley: at a global minimum (teacher width 3, student width 4 with a zero-type
neuron) the seven-leg path that swaps two neurons is flat to machine precision, while the
straight line between the two permuted minima crosses a barrier; weight matching aligns the
permuted minimum back (barrier 0).

Şimşek et al. (2021), on trained students: a width-4 student of three width-3 teachers,
trained from random inits by BFGS, reaches a global minimum (loss ~1e-31) with
one extra neuron; the theory's two kinds of extra neuron give different manifolds of global
minima, and the Hessian there has as many zero eigenvalues as the kind predicts: d + 1 for a
zero-type neuron (outgoing weight 0: its incoming weights and bias are free), d + 2 for a
duplicated one (its incoming weights and bias collinear with its twin's, plus the split of
their outgoing weight), d = 2 inputs."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optimistix as optx

from figures._common import caption, cite, cli, panels, save
from toymodels import dynamics, landscape, symmetry as S
from toymodels.claims import Claim, Comparison
from toymodels.plot import plot_path
from toymodels.problems import mlp_apply, mlp_init, mlp_regression


TITLE = "Equal-loss valley between permuted global minima vs the straight line"
SEED = 7
PAPER = cite("brea", "§3 (equal-loss valleys between permuted minima)")
SIMSEK = cite("simsek", "§3-4 (zero-type and duplicated neurons at global minima)")
TEACHERS = 3
ZERO = 1e-9  # a vanishing Hessian eigenvalue (zero modes ~1e-16, the others >= 1e-6 here)


@jax.jit
def _student_data(key):
    """Teacher data and a student init, one compiled program (not a string of eager
    operations)."""
    k1, k2, k3, k4 = jr.split(key, 4)
    teacher = mlp_init(key=k1, sizes=(2, 3, 1), bias=True, scale=2.0)
    teacher = (teacher[0] | {"b": jr.normal(k3, (3,))}, teacher[1])
    x = jr.normal(k2, (300, 2))
    y = mlp_apply(teacher, x, activation="g", scalar_output=True)
    return x, y, mlp_init(key=k4, sizes=(2, 4, 1), bias=True), teacher


def _flat_teacher(teacher) -> np.ndarray:
    """A 2-3-1 net as [incoming weights and bias of each hidden neuron (3 × 3), outgoing
    weights (3), output bias, 0 (the outgoing weight left to unmatched neurons)]."""
    w = np.concatenate([np.asarray(teacher[0]["w"]), np.asarray(teacher[0]["b"])[:, None]], 1)
    a = np.asarray(teacher[1]["w"][0])
    return np.concatenate([w.ravel(), a, np.asarray(teacher[1]["b"]).ravel(), [0.0]])


def _match_teacher(student, teacher, tol: float = 1e-6) -> np.ndarray:
    """The student read as its teacher (`_flat_teacher`'s layout, `symmetry.match_neurons`):
    for each teacher neuron the nearest student neuron's incoming weights and bias, the
    summed outgoing weight of the student neurons within `tol` of it (a duplicated pair
    splits it), the output bias, and the summed |outgoing weight| of student neurons near no
    teacher neuron."""
    m = S.match_neurons(student, teacher, atol=tol)
    ws = np.concatenate([np.asarray(student[0]["w"]), np.asarray(student[0]["b"])[:, None]], 1)
    return np.concatenate(
        [
            ws[m.nearest].ravel(),
            m.outgoing_sum[:, 0],
            np.asarray(student[1]["b"]).ravel(),
            [m.unmatched_outgoing],
        ]
    )


def _trained_student(t):
    """A 2-4-1 student (g, biases) of the 2-3-1 teacher `t`, 300 Gaussian inputs, BFGS
    from a random init; its extra neuron's kind and
    the dense Hessian's zero modes there."""
    x, y, p0, teacher = _student_data(jr.fold_in(jr.key(SEED), t))
    prob = mlp_regression(x, y, hidden=4, activation="g", bias=True)
    m = dynamics.minimize(prob, p0, solver=optx.BFGS(rtol=1e-14, atol=1e-14), max_steps=5000)
    p = m.params  # BFGS ends at loss ~1e-31 (no Newton polish needed at a global minimum)
    ev = np.linalg.eigvalsh(np.asarray(landscape.hessian(prob, p)))
    a = np.abs(np.asarray(p[1]["w"][0]))
    w = np.concatenate([np.asarray(p[0]["w"]), np.asarray(p[0]["b"])[:, None]], axis=1)
    gap = min(np.max(np.abs(w[i] - w[j])) for i in range(4) for j in range(i + 1, 4))
    # the extra neuron's kind: 0 zero-type (outgoing weight ~0), 1 duplicated (incoming
    # weights and bias equal to another's), -1 neither
    kind = 0 if np.min(a) < 1e-8 else (1 if gap < 1e-6 else -1)
    stats = (
        float(prob.loss(p)),
        kind,
        int(np.sum(np.abs(ev) < ZERO)),
        float(ev[np.abs(ev) >= ZERO][0]),
    )
    return stats, _match_teacher(p, teacher)


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
        **dict(
            zip(
                ("students", "student_as_teacher"),
                map(np.array, zip(*[_trained_student(t) for t in range(TEACHERS)])),
            )
        ),
    }


def claims(data: dict) -> list[Claim]:
    # the valley path's zero loss and its end at the permuted minimum hold by construction,
    # and weight matching's recovery of the transposition is a test of the alignment code
    # (tests/symmetry): plotted, not claimed
    st = data["students"]  # (teacher, [loss, kind, zero modes, smallest non-zero |eig|])
    fan_in = 3  # two inputs and the bias

    def zero_modes(teacher, kind):
        if kind not in (0, 1):
            raise ValueError("kind: the extra neuron is neither zero-type nor duplicated")
        return fan_in if kind == 0 else fan_in + 1

    def teacher_weights(teacher):
        # the teacher that generated student `teacher`'s data (the same key)
        return _flat_teacher(_student_data(jr.fold_in(jr.key(SEED), teacher))[3])

    # BFGS's distance to the exact minimum in the stiffest flat-free direction:
    # √(2L/λ_min), λ_min the smallest non-zero Hessian eigenvalue; plus float64 rounding
    dist = np.sqrt(2 * np.maximum(st[:, 0], 0.0) / np.abs(st[:, 3]))[:, None] + 1e-12
    match_err = np.broadcast_to(dist, data["student_as_teacher"].shape)
    return [
        Claim.quantitative(
            "a trained over-parameterised student at a global minimum is its teacher plus one "
            "extra neuron: three of its neurons carry the teacher's incoming weights and "
            "biases, their outgoing weights sum to the teacher's (a duplicated pair splits "
            "one), the output bias is the teacher's and any other neuron has outgoing weight 0",
            SIMSEK,
            predict=teacher_weights,
            params=[{"teacher": t} for t in range(len(st))],
            measured=data["student_as_teacher"],
            atol=3 * match_err,
            error_estimate=match_err,
            error_source="BFGS's distance to the exact global minimum, √(2L/λ_min) (L the "
            "final loss, λ_min the smallest non-zero Hessian eigenvalue), plus rounding",
            network="2-4-1 students (g, biases) of three 2-3-1 teachers, ½-MSE on 300 Gaussian "
            "inputs, BFGS from a random init (loss ~1e-31)",
            note="largest deviation per student "
            + ", ".join(
                f"{v:.1g}"
                for v in np.max(
                    np.abs(
                        data["student_as_teacher"]
                        - np.stack([teacher_weights(t) for t in range(len(st))])
                    ),
                    axis=1,
                )
            )
            + "; a student that spread the teacher's function over several neurons in "
            "another way, or stopped at a non-global critical point, would fail",
        ),
        Claim.quantitative(
            "a trained over-parameterised student (width 4, teacher width 3) at a global "
            "minimum: zero Hessian eigenvalues = d + 1 for a zero-type extra neuron, d + 2 for "
            "a duplicated one",
            SIMSEK,
            predict=zero_modes,
            params=[{"teacher": t, "kind": int(st[t, 1])} for t in range(len(st))],
            measured=st[:, 2],
            comparison=Comparison.EQUAL,
            error_estimate=0.0,
            error_source=f"an exact count (|eigenvalue| < {ZERO:g} of the dense Hessian)",
            network="2-4-1 students (g, biases) of three 2-3-1 teachers, ½-MSE on 300 Gaussian "
            "inputs, BFGS from a random init (loss ~1e-31)",
            note=f"losses {[float(f'{v:.2g}') for v in st[:, 0]]}; kinds "
            f"{['zero-type' if k == 0 else 'duplicated' if k == 1 else 'neither' for k in st[:, 1]]}; "
            f"smallest non-zero |eigenvalue| {[float(f'{v:.2g}') for v in st[:, 3]]}; the "
            "d + 2 branch (duplicated neuron) is tested only when a run ends there",
        ),
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
        f"{len(s)} and {len(a)} points; seed {SEED} (the claims add three 2-4-1 students "
        "trained by BFGS on three 2-3-1 teachers)",
    )
    return [save(fig, out / "fig51_valley_path.png")]


if __name__ == "__main__":
    cli(__name__)
