"""Goodfellow et al. (2015): the straight path from initialization to solution for an MLP
trained on scikit-learn's digits, next to the two-parameter deep-linear toy, both evaluated
with the generic path code (`toymodels.landscape.interpolate`).

Quantitative, on three trained networks (the checkpoints at 1/3, 2/3 and the end of the
run; the path from the init to each): at both
ends of the path the loss is its local second-order model, L(θ(α)) ≈ L(θ_e) + (α − e)∇L·δ
+ ½(α − e)²δᵀHδ with δ = θ₁ − θ₀ (gradient and Hessian-vector product at the end θ_e, e ∈
{0, 1}), against the path's own evaluations at α = e ± 2h; the error estimate is the cubic
term (h the grid spacing, the third derivative from the path's finite differences); and the
path's curvature at the solution, its central second difference, equals δᵀHδ."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from derivations import deep_linear as theory
from figures._common import caption, cite, cli, panels, save
from toymodels import dynamics, landscape as L
from toymodels.claims import Claim, Comparison
from toymodels.data import digits_split
from toymodels.plot import plot_path
from toymodels.problems import mlp_classification, scalar_factorization


TITLE = "Interpolation from initialization to solution: digits MLP and deep-linear toy"
SEED = 30
PAPER = cite("goodfellow", "§3 (the straight path from initialization to solution)")


#: the grid offsets (in spacings h) from each end where the local model is compared
OFFSETS = (-2, 2)


def _dot(a, b):
    return sum(jnp.vdot(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@jax.jit
def _local(problem, params, delta):
    """L, the slope ∇L·δ and the curvature δᵀHδ (`landscape.hvp`) at params: one program."""
    loss, grad = jax.value_and_grad(problem.loss)(params)
    curv = L.hvp(problem, params, delta)
    return jnp.stack([loss, _dot(grad, delta), _dot(curv, delta)])


def compute(*, fast: bool) -> dict:
    k_split, k_init, k_run = jr.split(jr.key(SEED), 3)
    split = digits_split(key=k_split, dtype=jnp.float32)
    hidden = (32,) if fast else (128, 128)
    train = mlp_classification(split.x_train, split.y_train, hidden=hidden, activation="tanh")
    test = train.with_data(split.x_test, split.y_test)
    p0 = train.init(k_init)
    steps = 300 if fast else 2000
    # three trained networks from one run: the checkpoints at a third, two thirds and the
    # end of training (the last is the plotted solution)
    stages = (steps // 3, 2 * steps // 3, steps)
    res = dynamics.run(
        train,
        p0,
        dynamics.Adam(learning_rate=3e-3),
        num_steps=steps,
        key=k_run,
        save=dynamics.Save(steps=stages),
    )
    alphas = jnp.linspace(-0.25, 1.25, 61 if fast else 301, dtype=jnp.float32)
    metric = {"train": train.loss, "test": test.loss, "test_error": test.error}
    nets = [(p0, jax.tree.map(lambda v, k=k: v[k], res.saved)) for k in range(len(stages))]
    vals = L.interpolate(train, p0, res.params, alphas, metric=metric)
    # the same compiled program as the plotted path's (the same metric)
    paths = [
        np.asarray(L.interpolate(train, p0, q, alphas, metric=metric)["train"])
        for _, q in nets[:-1]
    ]
    paths.append(np.asarray(vals["train"]))  # the last checkpoint is the plotted solution
    local = [
        [np.asarray(_local(train, p, jax.tree.map(lambda a, b: b - a, p0, q))) for p in (p0, q)]
        for _, q in nets
    ]
    toy = scalar_factorization(1.0, depth=2)
    a64 = jnp.linspace(0.0, 1.0, 101 if fast else 1001)
    toy_init = L.interpolate(toy, jnp.array([0.0, 0.0]), jnp.array([1.0, 1.0]), a64)
    toy_minima = L.interpolate(toy, jnp.array([1.0, 1.0]), jnp.array([-1.0, -1.0]), a64)
    return {
        "hidden": np.asarray(hidden),
        "num_steps": np.asarray(steps),
        "stages": np.asarray(stages),
        "num_train": np.asarray(split.x_train.shape[0]),
        "num_test": np.asarray(split.x_test.shape[0]),
        "alpha": np.asarray(alphas),
        "train_loss": np.asarray(vals["train"]),
        "test_loss": np.asarray(vals["test"]),
        "test_error": np.asarray(vals["test_error"]),
        "paths": np.array(paths),
        "local": np.array(local),  # (net, end, [L, ∇L·δ, δᵀHδ])
        "toy_alpha": np.asarray(a64),
        "toy_init": np.asarray(toy_init),
        "toy_init_theory": theory.line_loss(0.0, 0.0, 1.0, 1.0, np.asarray(a64)),
        "toy_minima": np.asarray(toy_minima),
    }


#: the spacing h of the path points the claims read (every k-th point of the evaluated
#: grid, the same α's in fast and full mode: finer spacings only add float32 rounding)
SPACING = 0.025


def _ends(alpha):
    """Grid indices of α = 0 and α = 1, and the spacing h."""
    a = alpha.astype(np.float64)
    return [int(np.argmin(np.abs(a - e))) for e in (0.0, 1.0)], float(a[1] - a[0])


def _third(path, i, h):
    """d³L/dα³ at grid point i by the central difference at spacings h and 2h (the larger
    of the two in magnitude)."""
    f = path.astype(np.float64)
    d1 = (f[i + 2] - 2 * f[i + 1] + 2 * f[i - 1] - f[i - 2]) / (2 * h**3)
    d2 = (f[i + 4] - 2 * f[i + 2] + 2 * f[i - 2] - f[i - 4]) / (16 * h**3)
    return max(abs(d1), abs(d2))


def _quadratic_claims(data: dict) -> list[Claim]:
    a = data["alpha"].astype(np.float64)
    k = max(1, int(round(SPACING / (a[1] - a[0]))))
    (i0, i1), h = _ends(data["alpha"][::k])
    paths, local = data["paths"][:, ::k], data["local"]
    nets = range(paths.shape[0])
    net = (
        f"tanh MLP 64-{'-'.join(str(int(v)) for v in np.atleast_1d(data['hidden']))}-10 on "
        "digits (cross-entropy), full-batch Adam (lr 3e-3), the checkpoints after "
        f"{data['stages'].tolist()} steps (float32); the path from the init to each"
    )
    eps = float(np.finfo(np.float32).eps)
    out = []
    for end, idx, where in ((1, i1, "the solution (α = 1)"), (0, i0, "the init (α = 0)")):
        offsets = OFFSETS

        def model(net, offset, end=end):
            value, slope, curv = local[net, end]
            t = offset * h
            return value + t * slope + 0.5 * t * t * curv

        cubic = np.array(
            [[_third(paths[k], idx, h) * abs(o * h) ** 3 / 6 for o in offsets] for k in nets]
        )
        # float32 evaluation of the losses (a few ulps of L at the point)
        cubic = cubic + 4 * eps * np.abs(paths[:, [idx + o for o in offsets]])
        out.append(
            Claim.quantitative(
                f"near {where} the straight path is its local second-order model "
                "L(θ_e) + (α − e)∇L·δ + ½(α − e)²δᵀHδ (gradient and HVP at the end)",
                PAPER,
                predict=lambda net, end=end: np.array([model(net, o, end) for o in OFFSETS]),
                params=[{"net": k, "end": end} for k in nets],
                measured=np.array([[paths[k, idx + o] for o in offsets] for k in nets]),
                atol=2 * cubic,
                error_estimate=cubic,
                error_source="the cubic Taylor term |L‴|(2h)³/6, L‴ from the path's third "
                f"differences at spacings h and 2h (h = {h:.3g}), plus float32 rounding",
                network=net,
                note=f"α − e = ±{2 * h:.3g}; quadratic term ½(2h)²δᵀHδ / error estimate = "
                f"{np.round(0.5 * (2 * h) ** 2 * local[:, end, 2] / cubic.max(1), 1).tolist()}",
            )
        )
    fd = [
        (paths[:, i1 + s] - 2 * paths[:, i1] + paths[:, i1 - s]).astype(np.float64) / (s * h) ** 2
        for s in (1, 2)
    ]
    richardson = np.abs(fd[1] - fd[0]) / 3 + 4 * eps * np.abs(paths[:, i1]) / h**2
    out.append(
        Claim.quantitative(
            "the path's curvature at the solution, d²L/dα² (central second difference of the "
            "evaluated path), is δᵀHδ (HVP at the solution)",
            PAPER,
            predict=lambda net: local[net, 1, 2],
            params=[{"net": k} for k in nets],
            measured=fd[0],
            atol=3 * richardson,
            error_estimate=richardson,
            error_source="Richardson: |D(2h) − D(h)|/3 for the O(h²) error of the central "
            "difference D(h), plus float32 rounding 4ε|L|/h²",
            network=net,
            note=f"δᵀHδ = {np.round(local[:, 1, 2], 4).tolist()}; ∇L·δ at the solution "
            f"{np.round(local[:, 1, 1], 4).tolist()} (Adam's end point is not a minimum "
            "along the line)",
        )
    )
    out.append(
        Claim.qualitative(
            "flat, then a drop: the path starts concave, δᵀH(θ₀)δ < 0 at the init (largest "
            "over the three paths)",
            PAPER,
            predicted=0.0,
            measured=float(np.max(local[:, 0, 2])),
            comparison=Comparison.LESS,
            params=[{"net": k} for k in nets],
            note=f"δᵀH(θ₀)δ = {np.round(local[:, 0, 2], 3).tolist()}, ∇L(θ₀)·δ = "
            f"{np.round(local[:, 0, 1], 3).tolist()}",
        )
    )
    return out


def claims(data: dict) -> list[Claim]:
    # the toy's line loss and barrier through the generic path code are identities tested in
    # tests/landscape/test_geometry.py; fig01 makes the toy's claims
    a = data["alpha"]
    inside = (a >= 0) & (a <= 1)
    tr = data["train_loss"][inside]
    err = data["test_error"][inside]
    return [
        Claim.qualitative(
            "digits MLP: the training loss decreases monotonically from init to solution "
            "(largest rise between grid points on α ∈ [0, 1])",
            PAPER,
            predicted=1e-6,
            measured=float(np.max(np.diff(tr))),
            comparison=Comparison.LESS,
            note=f"loss {tr[0]:.3g} → {tr[-1]:.3g} over {inside.sum()} points",
        ),
        Claim.qualitative(
            "digits MLP: no obstacle for the test error either: at α = 1 it is within 2 "
            "points of its minimum on the path",
            PAPER,
            predicted=0.02,
            measured=float(err[-1] - np.min(err)),
            comparison=Comparison.LESS,
            note=f"test error {err[0]:.3f} at init, {err[-1]:.3f} at the solution",
        ),
        *_quadratic_claims(data),
    ]


def plot(data: dict, out) -> list:
    fig, (ax0, ax1) = panels(2, height=2.8)
    plot_path(
        data["alpha"],
        {
            "train loss": data["train_loss"],
            "test loss": data["test_loss"],
            "test error (fraction)": data["test_error"],
        },
        ax=ax0,
        ylabel="loss, error",
        marks={"init (α = 0)": 0.0, "solution (α = 1)": 1.0},
        title="digits MLP: init → solution",
    )
    ta = data["toy_alpha"]
    plot_path(
        ta,
        {"½(1 − α²)² (SymPy)": data["toy_init_theory"], "(1,1) → (−1,−1)": data["toy_minima"]},
        ax=ax1,
        ylabel="J",
        title="deep-linear toy J = ½(1 − w₁w₂)²",
    )
    ax1.plot(ta[::5], data["toy_init"][::5], "o", ms=3, label="init (0,0) → (1,1), generic code")
    ax1.legend()
    arch = "-".join(str(int(h)) for h in np.atleast_1d(data["hidden"]))
    caption(
        fig,
        f"Left: 64-{arch}-10 tanh MLP, cross-entropy, on digits (standardized, "
        f"{int(data['num_train'])} train / {int(data['num_test'])} test), full-batch Adam "
        f"(lr 3e-3) for {int(data['num_steps'])} steps from one init (seed {SEED}); loss on "
        f"{len(data['alpha'])} points of θ(α) = (1 − α)θ₀ + αθ₁ (the claims use the paths to "
        f"the checkpoints after {', '.join(str(int(v)) for v in data['stages'])} steps too). Right: the two-parameter toy "
        "on the line from the origin (a saddle) and between two minima.",
    )
    return [save(fig, out / "fig30_goodfellow_digits.png")]


if __name__ == "__main__":
    cli(__name__)
