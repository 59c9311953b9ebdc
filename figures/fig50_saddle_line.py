"""Fukumizu–Amari saddle line: splitting a polished local minimum of a width-3 student
(g activation, d = 2) into two copies with output weights γa and (1 − γ)a keeps the loss and
a zero gradient for every γ (identities, tested in tests/symmetry). The theory's
predictions, claimed here against the autodiff Hessian of the split network: the curvature
along the opposite-move direction is γ(1−γ)ξᵀBξ with the stability matrix
B = ⟨(f − y)a g″(w·x) xxᵀ⟩ in closed form (g″ by hand, not by differentiating the loss), the
Hessian index along the line is the number of negative eigenvalues of γ(1−γ)B (the
classification into minima for γ ∈ (0, 1) and saddles outside when B > 0). The zero
eigenvalues (1 for generic γ, 1 + d at γ ∈ {0, 1}) hold by construction and are plotted.

Brea et al. (2019) permutation points, on students with n_out ∈ {1, 2, 3} outputs: at γ = ½
the Hessian splits (by the exchange symmetry of the two copies) into the smaller net's
Hessian and the difference block, whose quadratic form along (δw_i, δw_j; δa_i, δa_j) =
(ξ, −ξ; c, −c) is ξᵀBξ + 4ξᵀDc with D = ⟨g′(w_i·x) x (f − y)ᵀ⟩ (d × n_out, closed form).
So the index is index(small net) + #neg [[B, 2D], [2Dᵀ, 0]] and the zero modes are the
small net's plus n_out − rank(D): one, not the n_out the paper's abstract states, for
n_out ≥ 2 (D ≠ 0 couples the n_out directions of exactly constant loss to the incoming
weights)."""

import functools

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


TITLE = "Saddle line of a split neuron: loss, curvature and Hessian spectrum against γ"
SEED = 1
PAPER = cite("fukumizu", "§3-4 (lines of critical points from a split hidden unit)")
NET = (
    "2-3-1 student (g = sigmoid(4z) + softplus(z), no biases) of a 2-4-1 teacher, ½-MSE on "
    "200 Gaussian inputs, BFGS then Newton to a local minimum, hidden unit 1 split"
)
BREA = cite("brea", "abstract and §3 (permutation points: saddles, vanishing eigenvalues)")
#: the permutation points' students: (n_out, teacher); one compiled program per n_out
STUDENTS = ((1, 0), (3, 0), (3, 1))
#: an exactly vanishing eigenvalue (float64 Hessians of this size: ~1e-15 for zero modes,
#: >= 1e-5 for the others in these runs)
ZERO = 1e-9


def _g2(z):
    """g″ for g(z) = sigmoid(4z) + softplus(z), by hand."""
    s4, s1 = 1 / (1 + np.exp(-4 * z)), 1 / (1 + np.exp(-z))
    return 16 * s4 * (1 - s4) * (1 - 2 * s4) + s1 * (1 - s1)


def _g1(z):
    """g′ for g(z) = sigmoid(4z) + softplus(z), by hand."""
    s4, s1 = 1 / (1 + np.exp(-4 * z)), 1 / (1 + np.exp(-z))
    return 4 * s4 * (1 - s4) + s1


def _residuals(params, x, y):
    """f(x_n) − y_n, (N, n_out), from the weights with g by hand."""
    w1, w2 = np.asarray(params[0]["w"]), np.asarray(params[1]["w"])
    x = np.asarray(x)
    f = (1 / (1 + np.exp(-4 * x @ w1.T)) + np.logaddexp(0, x @ w1.T)) @ w2.T
    return f - np.asarray(y).reshape(f.shape)


def _stability_matrix(params, x, y, i):
    """B = (1/N)Σ_n (f(x_n) − y_n)·a_i g″(w_i·x_n) x_n x_nᵀ of the ½-MSE loss, in closed
    form from the network's weights and residuals."""
    w1, w2 = np.asarray(params[0]["w"]), np.asarray(params[1]["w"])
    x = np.asarray(x)
    coef = (_residuals(params, x, y) @ w2[:, i]) * _g2(x @ w1[i])
    return (x * coef[:, None]).T @ x / x.shape[0]


def _coupling_matrix(params, x, y, i):
    """D = (1/N)Σ_n g′(w_i·x_n) x_n (f(x_n) − y_n)ᵀ (d × n_out), closed form."""
    w1 = np.asarray(params[0]["w"])
    x = np.asarray(x)
    return (x * _g1(x @ w1[i])[:, None]).T @ _residuals(params, x, y) / x.shape[0]


@functools.cache
def _student(n_out, teacher=0):
    """A 2-3-n_out student of a 2-4-n_out teacher (g, no biases, 200 Gaussian inputs),
    trained to a strict local minimum by BFGS, then Newton (SVD) to a critical point."""
    key = (
        jr.key(SEED)
        if (n_out, teacher) == (1, 0)
        else jr.fold_in(jr.key(SEED), 10 * n_out + teacher)
    )
    k1, k2, k3 = jr.split(key, 3)
    # one compiled program each, not a string of eager operations
    w = jax.jit(lambda k: mlp_init(key=k, sizes=(2, 4, n_out), bias=False, scale=2.0))(k1)
    x = jr.normal(k2, (200, 2))
    y = mlp_apply(w, x, activation="g", scalar_output=n_out == 1)
    prob = mlp_regression(x, y, hidden=3, activation="g", bias=False)
    m = dynamics.minimize(
        prob,
        jax.jit(lambda k: prob.init(k))(k3),
        solver=optx.BFGS(rtol=1e-12, atol=1e-12),
        max_steps=2000,
    )
    crit = dynamics.find_critical_point(prob, m.params, gtol=1e-13, max_steps=20)
    return prob, crit.params, x, y


def _permutation_point(n_out, teacher):
    """At γ = ½ of neuron 0 of the trained student: the dense Hessian spectrum of the
    split net and of the small net, B and D in closed form, and uᵀHu along three random
    difference directions u(ξ, c)."""
    prob, p, x, y = _student(n_out, teacher)
    i = 0
    q = S.split_neuron(p, i, 0.5)
    H = np.asarray(landscape.hessian(prob, q))
    ev = np.linalg.eigvalsh(H)
    small = np.linalg.eigvalsh(np.asarray(landscape.hessian(prob, p)))
    rng = np.random.default_rng([SEED, n_out, teacher])
    xi, c = rng.standard_normal((3, 2)), rng.standard_normal((3, n_out))
    curv = []
    for a, b in zip(xi, c):
        u0 = np.zeros((4, 2))
        u0[i], u0[3] = a, -a
        u1 = np.zeros((n_out, 4))
        u1[:, i], u1[:, 3] = b, -b
        u = np.concatenate([u0.ravel(), u1.ravel()])  # ravel_pytree order: layer 0, layer 1
        curv.append(u @ H @ u)
    return {
        f"pp{n_out}_{teacher}_index": np.asarray(np.sum(ev < -ZERO)),
        f"pp{n_out}_{teacher}_zero": np.asarray(np.sum(np.abs(ev) < ZERO)),
        f"pp{n_out}_{teacher}_small_index": np.asarray(np.sum(small < -ZERO)),
        f"pp{n_out}_{teacher}_small_zero": np.asarray(np.sum(np.abs(small) < ZERO)),
        f"pp{n_out}_{teacher}_low": ev[:4],
        f"pp{n_out}_{teacher}_B": _stability_matrix(p, x, y, i),
        f"pp{n_out}_{teacher}_D": _coupling_matrix(p, x, y, i),
        f"pp{n_out}_{teacher}_xi": xi,
        f"pp{n_out}_{teacher}_c": c,
        f"pp{n_out}_{teacher}_curv": np.array(curv),
        f"pp{n_out}_{teacher}_scale": np.asarray(np.max(np.abs(H))),
    }


def compute(*, fast: bool) -> dict:
    prob, p, x, y = _student(1)
    i = 0
    B = _stability_matrix(p, x, y, i)
    xi = np.array([0.3, -0.7])
    gammas = np.unique(np.concatenate([np.linspace(-2, 3, 7 if fast else 51), [0.0, 1.0]]))
    L0 = float(prob.loss(p))
    dl, gi, curv, pred, nzero, low, index = [], [], [], [], [], [], []
    for g in gammas:
        q = S.split_neuron(p, i, float(g))
        H = np.asarray(landscape.hessian(prob, q))
        v = np.asarray(S.flat_vector(S.saddle_line_direction(p, i, float(g), jnp.asarray(xi))))
        cq = dynamics.classify(prob, q)  # gradient norm and the Hessian spectrum
        ev = cq.eigenvalues
        dl.append(cq.loss - L0)
        gi.append(cq.grad_norm)
        curv.append(v @ H @ v)
        pred.append(float(S.line_curvature(B, g, xi)))
        nzero.append(np.sum(np.abs(ev) < 1e-8))
        index.append(np.sum(ev < -1e-8))
        low.append(ev[:4])
    return {
        "gamma": gammas,
        "dloss": np.array(dl),
        "grad_inf": np.array(gi),
        "curvature": np.array(curv),
        "predicted": np.array(pred),
        "num_zero": np.array(nzero),
        "index": np.array(index),
        "B": B,
        "curvature_scale": np.array(
            [np.max(np.abs(np.asarray(landscape.hessian(prob, S.split_neuron(p, i, 0.5)))))]
        ),
        "low_eigs": np.array(low),
        "B_eigs": np.linalg.eigvalsh(B),
        "dim": np.array(p[0]["w"].shape[1]),
    } | {k: v for n, t in STUDENTS for k, v in _permutation_point(n, t).items()}


def claims(data: dict) -> list[Claim]:
    # the loss and the zero gradient along the line are identities of the split (tests in
    # tests/symmetry/test_symmetry.py); the Newton polish to a minimum is the set-up
    g = data["gamma"]
    generic = [float(v) for v in g if v not in (0.0, 1.0)]
    at = {float(v): k for k, v in enumerate(g)}
    B = data["B"]
    xi = np.array([0.3, -0.7])
    scale = float(data["curvature_scale"][0])
    # a dense autodiff Hessian of this size is exact to a few hundred ulps of its entries
    rounding = 1e-13 * scale

    def index(gamma):
        return int(np.sum(np.linalg.eigvalsh(gamma * (1 - gamma) * B) < 0))

    return [
        Claim.quantitative(
            "curvature along the opposite-move direction vᵀHv = γ(1−γ)ξᵀBξ, B the closed-form "
            "stability matrix",
            PAPER,
            predict=lambda gamma: gamma * (1 - gamma) * (xi @ B @ xi),
            params=[{"gamma": v} for v in generic],
            measured=np.array([data["curvature"][at[v]] for v in generic]),
            atol=10 * rounding,
            error_estimate=rounding,
            error_source="float64 rounding of the dense autodiff Hessian (1e-13 × its largest "
            "entry)",
            note=f"B eigenvalues {np.round(np.linalg.eigvalsh(B), 5).tolist()}, ξ = {xi.tolist()}",
            network=NET,
        ),
        Claim.quantitative(
            "Fukumizu–Amari classification: the Hessian index on the line = the number of "
            "negative eigenvalues of γ(1−γ)B (minima for γ ∈ (0, 1), saddles outside)",
            PAPER,
            predict=index,
            params=[{"gamma": v} for v in generic],
            measured=np.array([data["index"][at[v]] for v in generic]),
            comparison=Comparison.EQUAL,
            error_estimate=0.0,
            error_source="an exact count (eigenvalues below −1e-8)",
            note="index of the split point from the dense Hessian's eigenvalues",
            network=NET,
        ),
        *_permutation_claims(data),
    ]


def _bordered(data, n_out, teacher):
    """[[B, 2D], [2Dᵀ, 0]]: the difference block's form in (ξ, c) at γ = ½."""
    B, D = data[f"pp{n_out}_{teacher}_B"], data[f"pp{n_out}_{teacher}_D"]
    return np.block([[B, 2 * D], [2 * D.T, np.zeros((n_out, n_out))]])


def _permutation_claims(data: dict) -> list[Claim]:
    params = [{"n_out": n, "teacher": t} for n, t in STUDENTS]
    net = (
        "2-3-n_out students (g = sigmoid(4z) + softplus(z), no biases) of 2-4-n_out "
        "teachers, ½-MSE on 200 Gaussian inputs, BFGS then Newton to a local minimum, "
        "neuron 1 split at γ = ½"
    )

    def index(n_out, teacher):
        ev = np.linalg.eigvalsh(_bordered(data, n_out, teacher))
        return int(data[f"pp{n_out}_{teacher}_small_index"]) + int(np.sum(ev < -ZERO))

    def zeros(n_out, teacher):
        ev = np.linalg.eigvalsh(_bordered(data, n_out, teacher))
        return int(data[f"pp{n_out}_{teacher}_small_zero"]) + int(np.sum(np.abs(ev) < ZERO))

    def curvature(n_out, teacher):
        B, D = data[f"pp{n_out}_{teacher}_B"], data[f"pp{n_out}_{teacher}_D"]
        xi, c = data[f"pp{n_out}_{teacher}_xi"], data[f"pp{n_out}_{teacher}_c"]
        return np.einsum("ki,ij,kj->k", xi, B, xi) + 4 * np.einsum("ki,ij,kj->k", xi, D, c)

    scale = np.array([float(data[f"pp{n}_{t}_scale"]) for n, t in STUDENTS])
    # |u|² = 2(|ξ|² + |c|²); dense autodiff Hessian entries exact to ~1e-13 of the largest
    norms = np.array(
        [
            2 * (np.sum(data[f"pp{n}_{t}_xi"] ** 2, 1) + np.sum(data[f"pp{n}_{t}_c"] ** 2, 1))
            for n, t in STUDENTS
        ]
    )
    rounding = 1e-13 * scale[:, None] * norms
    measured_zero = np.array([int(data[f"pp{n}_{t}_zero"]) for n, t in STUDENTS])
    return [
        Claim.quantitative(
            "permutation point (two colliding neurons, γ = ½) of a trained student: "
            "uᵀHu along the difference directions u = (ξ, −ξ; c, −c) is ξᵀBξ + 4ξᵀDc (B, D "
            "in closed form from the weights and residuals)",
            BREA,
            predict=curvature,
            params=params,
            measured=np.array([data[f"pp{n}_{t}_curv"] for n, t in STUDENTS]),
            atol=10 * rounding,
            error_estimate=rounding,
            error_source="float64 rounding of the dense autodiff Hessian (1e-13 × its largest "
            "entry × |u|²)",
            network=net,
            note="3 random (ξ, c) per n_out; ‖D‖ = "
            + ", ".join(f"{np.linalg.norm(data[f'pp{n}_{t}_D']):.2g}" for n, t in STUDENTS),
        ),
        Claim.quantitative(
            "permutation points are saddles: the Hessian index at γ = ½ = the small net's index "
            "+ #negative eigenvalues of [[B, 2D], [2Dᵀ, 0]]",
            BREA,
            predict=index,
            params=params,
            measured=np.array([int(data[f"pp{n}_{t}_index"]) for n, t in STUDENTS]),
            comparison=Comparison.EQUAL,
            error_estimate=0.0,
            error_source=f"an exact count (dense Hessian eigenvalues below −{ZERO:g})",
            network=net,
            note="the small nets are local minima (index "
            f"{[int(data[f'pp{n}_{t}_small_index']) for n, t in STUDENTS]}); the index of the "
            f"permutation points {[int(data[f'pp{n}_{t}_index']) for n, t in STUDENTS]} (1: a "
            "first-order saddle, as in the paper's examples)",
        ),
        Claim.quantitative(
            "vanishing Hessian eigenvalues at the permutation point = the small net's zero "
            "modes + n_out − rank(D) (zero eigenvalues of [[B, 2D], [2Dᵀ, 0]])",
            BREA,
            predict=zeros,
            params=params,
            measured=measured_zero,
            comparison=Comparison.EQUAL,
            error_estimate=0.0,
            error_source=f"an exact count (|eigenvalue| < {ZERO:g}; the zero modes are "
            "~1e-15, the smallest others ≥ 1e-5)",
            network=net,
            note=f"small nets' zero modes {[int(data[f'pp{n}_{t}_small_zero']) for n, t in STUDENTS]}",
        ),
        Claim.discrepancy(
            "permutation points have at least n_out vanishing Hessian eigenvalues",
            BREA,
            paper_value="'at least n_{k+1} vanishing eigenvalues of the Hessian' (abstract), "
            f"i.e. ≥ {[n for n, _ in STUDENTS]} for n_out = {[n for n, _ in STUDENTS]}",
            measured=measured_zero.astype(float),
            params=params,
            note="the n_out directions of exactly constant loss (δa_i = c = −δa_j) exist, but "
            "for c ∉ null(D) they are not eigenvectors (uᵀHu = 0, Hu ≠ 0): the count is the "
            "small net's zero modes + n_out − rank(D)",
        ),
    ]


def plot(data: dict, out) -> list:
    fig, (a0, a1, a2) = panels(3, height=2.9)
    g = data["gamma"]
    plot_path(
        g,
        data["dloss"],
        ax=a0,
        label="L(θ_γ) − L(θ*)",
        ylabel="ΔL",
        xlabel="γ",
        marks={"γ = 0, 1": [0.0, 1.0]},
        title="loss along the line",
        legend_loc="center right",
    )
    a0.lines[0].set(marker="o", ms=3)
    a1.plot(g, data["curvature"], "o", ms=4, label="vᵀHv (autodiff)")
    a1.plot(g, data["predicted"], "-", lw=1, label="γ(1−γ)ξᵀBξ")
    a1.axhline(0, color="k", lw=0.5)
    a1.set(xlabel="γ", title="curvature along v")
    a1.legend()
    for k in range(data["low_eigs"].shape[1]):
        a2.plot(g, data["low_eigs"][:, k], "o-", ms=3, label=f"λ{'₁₂₃₄₅₆'[k]}")
    a2.set_yscale("symlog", linthresh=1e-7)
    a2.set(xlabel="γ", ylabel="smallest Hessian eigenvalues", title="spectrum (zeros at γ = 0, 1)")
    a2.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    caption(
        fig,
        "2-3-1 student (activation g = sigmoid(4z) + softplus(z), no biases), ½-MSE on 200 "
        "Gaussian inputs labelled by a 2-4-1 teacher; a local minimum by BFGS and Newton, "
        f"hidden unit 1 split into output weights γa, (1 − γ)a at {len(g)} values of γ; "
        f"dense Hessians; seed {SEED}",
    )
    return [save(fig, out / "fig50_saddle_line.png")]


if __name__ == "__main__":
    cli(__name__)
