"""Goodfellow et al. (2015): the straight path from initialization to solution for an MLP
trained on scikit-learn's digits, next to the two-parameter deep-linear toy, both evaluated
with the generic path code (`toymodels.landscape.interpolate`)."""

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


def compute(*, fast: bool) -> dict:
    k_split, k_init, k_run = jr.split(jr.key(SEED), 3)
    split = digits_split(key=k_split, dtype=jnp.float32)
    hidden = (32,) if fast else (128, 128)
    train = mlp_classification(split.x_train, split.y_train, hidden=hidden, activation="tanh")
    test = train.with_data(split.x_test, split.y_test)
    p0 = train.init(k_init)
    steps = 300 if fast else 2000
    res = dynamics.run(train, p0, dynamics.Adam(learning_rate=3e-3), num_steps=steps, key=k_run)
    alphas = jnp.linspace(-0.25, 1.25, 61 if fast else 301, dtype=jnp.float32)
    metric = {"train": train.loss, "test": test.loss, "test_error": test.error}
    vals = L.interpolate(train, p0, res.params, alphas, metric=metric)
    toy = scalar_factorization(1.0, depth=2)
    a64 = jnp.linspace(0.0, 1.0, 101 if fast else 1001)
    toy_init = L.interpolate(toy, jnp.array([0.0, 0.0]), jnp.array([1.0, 1.0]), a64)
    toy_minima = L.interpolate(toy, jnp.array([1.0, 1.0]), jnp.array([-1.0, -1.0]), a64)
    return {
        "hidden": np.asarray(hidden),
        "num_steps": np.asarray(steps),
        "num_train": np.asarray(split.x_train.shape[0]),
        "num_test": np.asarray(split.x_test.shape[0]),
        "alpha": np.asarray(alphas),
        "train_loss": np.asarray(vals["train"]),
        "test_loss": np.asarray(vals["test"]),
        "test_error": np.asarray(vals["test_error"]),
        "toy_alpha": np.asarray(a64),
        "toy_init": np.asarray(toy_init),
        "toy_init_theory": theory.line_loss(0.0, 0.0, 1.0, 1.0, np.asarray(a64)),
        "toy_minima": np.asarray(toy_minima),
    }


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
        f"{len(data['alpha'])} points of θ(α) = (1 − α)θ₀ + αθ₁. Right: the two-parameter toy "
        "on the line from the origin (a saddle) and between two minima.",
    )
    return [save(fig, out / "fig30_goodfellow_digits.png")]


if __name__ == "__main__":
    cli(__name__)
