"""Garipov et al. (2018) / Yang et al. (2021): the straight line against a trained quadratic
Bezier curve between two independently trained ReLU MLPs (20-64-64-5 on a 5-class Gaussian
mixture); loss and error along both, Yang's mode-connectivity metric, CKA of the two
models' outputs, and the Hessian's top eigenvalue and trace along both paths."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from figures._common import caption, cite, cli, panels, save
from toymodels import dynamics, landscape as L
from toymodels.claims import Claim, Comparison
from toymodels.data import gaussian_mixture
from toymodels.plot import plot_curve
from toymodels.problems import mlp_classification


TITLE = "Mode connectivity: straight line vs trained Bezier curve between two MLPs"
SEED = 33
PAPER = cite("garipov", "§3-4 (Bezier curves between independent solutions)")
PAPER_MC = cite("yang", "§3 (mode connectivity mc; mc < 0 is a barrier)")


def compute(*, fast: bool) -> dict:
    k_data, k_init, k_curve, k_curv, k_run = jr.split(jr.key(SEED), 5)
    n = 500 if fast else 1000
    x, y = gaussian_mixture(
        key=k_data, num_samples=n, dim=20, num_classes=5, separation=1.0, dtype=jnp.float32
    )
    problem = mlp_classification(x, y, hidden=(64, 64), activation="relu")
    steps = 500 if fast else 2000

    def train(k_init, k_run):
        adam = dynamics.Adam(learning_rate=1e-2)
        return dynamics.run(problem, problem.init(k_init), adam, num_steps=steps, key=k_run).params

    both = jax.vmap(train)(jr.split(k_init, 2), jr.split(k_run, 2))
    pa = jax.tree_util.tree_map(lambda a: a[0], both)
    pb = jax.tree_util.tree_map(lambda a: a[1], both)
    # the untrained Bezier (bend at the midpoint) is exactly the straight line; using it
    # shares the compiled evaluation with the trained curve
    line = L.Bezier(pa, pb)
    fit = L.fit_curve(
        problem,
        line,
        key=k_curve,
        num_steps=300 if fast else 1500,
        samples_per_step=4,
        optimizer=dynamics.Adam(learning_rate=1e-2 if fast else 5e-3),
    )
    curve = fit.curve
    ts = jnp.linspace(0.0, 1.0, 41 if fast else 101, dtype=jnp.float32)
    metric = {"loss": problem.loss, "error": problem.error}
    on_line = L.curve_values(problem, line, ts, metric=metric)
    on_curve = L.curve_values(problem, curve, ts, metric=metric)
    five = np.searchsorted(np.asarray(ts), [0.0, 0.25, 0.5, 0.75, 1.0])
    out = {
        "num_samples": np.asarray(n),
        "num_steps": np.asarray(steps),
        "t": np.asarray(ts),
        "line_loss": np.asarray(on_line["loss"]),
        "line_error": np.asarray(on_line["error"]),
        "curve_loss": np.asarray(on_curve["loss"]),
        "curve_error": np.asarray(on_curve["error"]),
        "fit_losses": np.asarray(fit.loss),
        # Yang et al.: training error in % at t = 0, .25, .5, .75, 1
        "mc_line": np.asarray(L.mode_connectivity(100 * on_line["error"][five])),
        "mc_curve": np.asarray(L.mode_connectivity(100 * on_curve["error"][five])),
        "cka_logits": np.asarray(L.model_cka(problem, pa, pb)),
    }
    if not fast:  # Lanczos/Hutchinson compile time is not worth it in fast mode
        t_curv = jnp.linspace(0.0, 1.0, 9, dtype=jnp.float32)
        kl, kc = jr.split(k_curv)
        for name, path in (("line", line), ("curve", curve)):
            c = L.curvature_along(
                problem, path, t_curv, key=kl if name == "line" else kc, num_probes=100
            )
            out["t_curv"] = np.asarray(t_curv)
            out[f"{name}_top_eig"] = np.asarray(c.top_eigenvalues[:, 0])
            out[f"{name}_trace"] = np.asarray(c.trace)
            out[f"{name}_trace_stderr"] = np.asarray(c.trace_stderr)
    return out


def claims(data: dict) -> list[Claim]:
    out = [
        Claim.qualitative(
            "the straight line between independent solutions crosses a barrier: max training "
            "loss > 1 (the ends are below 0.05)",
            PAPER,
            predicted=1.0,
            measured=float(np.max(data["line_loss"])),
            comparison=Comparison.GREATER,
            note=f"loss at the ends {data['line_loss'][0]:.3g}, {data['line_loss'][-1]:.3g}",
        ),
        Claim.qualitative(
            "the trained Bezier curve connects them at low loss: max training loss < 0.05",
            PAPER,
            predicted=0.05,
            measured=float(np.max(data["curve_loss"])),
            comparison=Comparison.LESS,
        ),
        Claim.qualitative(
            "Yang's mc (training error %, 5 points) is clearly negative on the line (a barrier)",
            PAPER_MC,
            predicted=-10.0,
            measured=float(data["mc_line"]),
            comparison=Comparison.LESS,
        ),
        Claim.qualitative(
            "Yang's mc on the trained Bezier curve shows no barrier: mc > −1 %",
            PAPER_MC,
            predicted=-1.0,
            measured=float(data["mc_curve"]),
            comparison=Comparison.GREATER,
        ),
    ]
    ends = 0.5 * (data["curve_loss"][0] + data["curve_loss"][-1])
    out.append(
        Claim.discrepancy(
            "the trained Bezier curve's training loss is not flat at the end points' level: "
            "its largest value over the end points' mean",
            PAPER,
            paper_value="max training loss along the trained Bezier curve = the end points' "
            "(VGG16 on CIFAR-10: 0.24 on the curve, 0.24 at the end points; the "
            "dnn-mode-connectivity README), a ratio of 1.0",
            measured=float(np.max(data["curve_loss"]) / ends),
            params=[
                {"curve_steps": len(data["fit_losses"]), "num_samples": int(data["num_samples"])}
            ],
            note=f"max on the curve {np.max(data['curve_loss']):.3g}, end points "
            f"{data['curve_loss'][0]:.3g} and {data['curve_loss'][-1]:.3g}, line barrier "
            f"{np.max(data['line_loss']):.3g}: the curve removes the barrier (about "
            f"{np.max(data['line_loss']) / np.max(data['curve_loss']):.0f}× lower) but sits "
            "well above the end points' loss; no weight decay here (the README's losses "
            "include it), Adam on 4 random t per step instead of SGD on one t per minibatch",
        )
    )
    if "t_curv" in data:  # full mode only
        mid = len(data["t_curv"]) // 2
        out.append(
            Claim.qualitative(
                "Hessian λ_max at the line's midpoint (the barrier) exceeds the Bezier "
                "midpoint's (curvature toolkit: Lanczos)",
                PAPER,
                predicted=float(data["curve_top_eig"][mid]),
                measured=float(data["line_top_eig"][mid]),
                comparison=Comparison.GREATER,
            )
        )
    return out


def plot(data: dict, out) -> list:
    fig, axes = panels(3, height=2.9)
    t = data["t"]
    plot_curve(
        t,
        data["line_loss"],
        data["curve_loss"],
        ax=axes[0],
        line_label="line",
        curve_label="Bezier",
        ylabel="training loss",
        log=True,
        title="loss along the paths",
        legend_loc="lower center",
    )
    axes[0].set_ylim(bottom=1e-3 * min(np.min(data["line_loss"]), np.min(data["curve_loss"])))
    plot_curve(
        t,
        100 * data["line_error"],
        100 * data["curve_error"],
        ax=axes[1],
        line_label=f"line (mc = {float(data['mc_line']):.1f})",
        curve_label=f"Bezier (mc = {float(data['mc_curve']):.1f})",
        ylabel="training error (%)",
        barrier=False,
        title=f"error; linear CKA of the logits {float(data['cka_logits']):.3f}",
        legend_loc="upper right",
    )
    axes[1].set_ylim(top=2 * max(np.max(100 * data["line_error"]), 1.0))
    ax = axes[2]
    setup = (
        f"Two 20-64-64-5 ReLU MLPs from independent inits, cross-entropy on "
        f"{int(data['num_samples'])} samples of a 5-class Gaussian mixture (dim 20), "
        f"full-batch Adam (lr 1e-2) for {int(data['num_steps'])} steps each; quadratic "
        f"Bezier bend trained by Adam on 4 random t per step for {len(data['fit_losses'])} "
        f"steps; seed {SEED}"
    )
    if "t_curv" not in data:
        n = len(data["fit_losses"])
        ax.plot(np.arange(n), data["fit_losses"], lw=0.5, label="loss at 4 random t")
        ax.set(xlabel="step", ylabel="sampled loss", yscale="log", title="curve training")
        ax.legend()
        caption(fig, setup)
        return [save(fig, out / "fig33_mode_connectivity.png")]
    tc = data["t_curv"]
    ax.plot(tc, data["line_top_eig"], "o-", label="λ_max, line")
    ax.plot(tc, data["curve_top_eig"], "s-", label="λ_max, Bezier")
    ax.errorbar(tc, data["line_trace"], data["line_trace_stderr"], fmt="o--", label="tr H, line")
    ax.errorbar(
        tc, data["curve_trace"], data["curve_trace_stderr"], fmt="s--", label="tr H, Bezier"
    )
    ax.set(xlabel="t", yscale="symlog", title="Hessian along the paths")
    ax.legend()
    caption(fig, setup + "; Hessian by Lanczos and Hutchinson")
    return [save(fig, out / "fig33_mode_connectivity.png")]


if __name__ == "__main__":
    cli(__name__)
