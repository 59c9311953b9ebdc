"""Goodfellow et al. (2015): the straight path from initialization to solution for an MLP
trained on scikit-learn's digits, next to the two-parameter deep-linear toy, both evaluated
with the generic path code (`toymodels.landscape.interpolate`)."""

import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np

from derivations import deep_linear as theory
from figures._common import cite, cli, save
from toymodels import dynamics, landscape as L
from toymodels.claims import Claim, Comparison
from toymodels.data import digits_split
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
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
    a = data["alpha"]
    ax0.plot(a, data["train_loss"], label="train loss")
    ax0.plot(a, data["test_loss"], label="test loss")
    ax0b = ax0.twinx()
    ax0b.plot(a, data["test_error"], "C2:", label="test error")
    ax0b.set_ylabel("test error")
    ax0.axvline(0, color="k", lw=0.5)
    ax0.axvline(1, color="k", lw=0.5)
    ax0.set(xlabel="α", ylabel="loss", title="digits MLP: init (α=0) → solution (α=1)")
    ax0.legend(loc="upper center")
    ta = data["toy_alpha"]
    ax1.plot(ta, data["toy_init_theory"], lw=3, alpha=0.4, label="½(1 − α²)² (SymPy)")
    ax1.plot(ta[::5], data["toy_init"][::5], "o", ms=3, label="init → (1,1), generic code")
    ax1.plot(ta, data["toy_minima"], label="(1,1) → (−1,−1)")
    ax1.set(xlabel="α", ylabel="J", title="deep-linear toy J = ½(1 − w₁w₂)²")
    ax1.legend(fontsize=7)
    return [save(fig, out / "fig30_goodfellow_digits.png")]


if __name__ == "__main__":
    cli(__name__)
