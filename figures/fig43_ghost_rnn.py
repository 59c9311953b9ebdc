"""Ghost mechanism in a real network: the paper's rank-one RNN (N = 100, α = 0.5, T = 20,
x₀ = −0.3·𝟙, readout σ(10(κ − 1))) trained by full-batch GD (`toymodels.dynamics.run`, vmapped
over the learning rates and seeds). At lr = 0.003 the loss sits on a
plateau, then drops abruptly; at lr = 0.02 the run is trapped (loss → 1, gradient → 0). The
1-D reduction κ = nᵀx (exact) shows why: a fixed point of the κ-flow blocks the path to the
readout threshold on the plateau and in the trapped run; after learning the path is open and
κ passes the bottleneck slowly enough to cross the threshold at step T + 1."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from figures._common import caption, cite, cli, panels, save
from toymodels.claims import Claim, Comparison
from toymodels.models import ghost
from toymodels.problems import leaky_rnn


TITLE = "Ghost: rank-one RNN, abrupt learning (lr 0.003) vs trapped (lr 0.02)"
SEED = 0
PAPER = cite("dinc", "Fig. 3A/B (rank-one RNN: lr 0.003 learns abruptly, lr 0.02 is trapped)")
LRS = (0.003, 0.02)


def compute(*, fast: bool) -> dict:
    rnn = leaky_rnn()  # the paper's network
    # fast: one seed, 5·10⁴ epochs (the plateau at lr 0.003 ends near 3.8·10⁴); full: four
    # seeds, 4·10⁵ epochs (the paper: 5·10⁵; at 2·10⁵ one seed still sat at 0.0101)
    num_seeds, num_epochs, every = (1, 50_000, 250) if fast else (4, 400_000, 1000)
    key = jr.key(SEED)
    hist = ghost.rnn_sweep(
        rnn,
        jnp.asarray(LRS),
        key=key,
        num_seeds=num_seeds,
        num_steps=num_epochs,
        record_every=every,
    )
    data = {
        "lrs": np.asarray(LRS),
        "epochs": np.asarray(hist.steps),  # full batch: one GD step per epoch
        "loss": np.asarray(hist.loss),  # (lr, seed, record)
        "grad_norm": np.asarray(hist.grad_norm),
        "final_loss": np.asarray(hist.final_loss),
    }
    grid = jnp.linspace(-3.0, 2.0, 501)
    nets = {
        "init": rnn.init(jr.split(key, num_seeds)[0]),  # seed 0's start
        "learned": jax.tree.map(lambda a: a[0, 0], hist.params),
        "trapped": jax.tree.map(lambda a: a[1, 0], hist.params),
    }
    data["kappa_grid"] = np.asarray(grid)
    for name, p in nets.items():
        gp = ghost.ghost_point(rnn, p)
        data[f"flow_{name}"] = np.asarray(ghost.kappa_flow(rnn, p, grid))
        data[f"kappa_{name}"] = np.asarray(ghost.kappa_trajectory(rnn, p))
        data[f"kappa_full_{name}"] = np.asarray(rnn.states(p) @ p["n"][:, 0])
        data[f"blocked_{name}"] = np.asarray(gp.blocked)
        data[f"crossing_{name}"] = np.asarray(gp.crossing_step)
        data[f"bottleneck_{name}"] = np.asarray([gp.kappa, gp.flow])
        data[f"output_{name}"] = np.asarray(rnn.outputs(p))
    data["targets"] = np.asarray(rnn.targets())
    return data


def claims(data: dict) -> list[Claim]:
    # the exact 1-D reduction κ = nᵀx is an identity, tested in tests/models/test_ghost_rnn.py
    loss, gn = data["loss"], data["grad_norm"]
    learn = loss[0]
    # abrupt: epochs between the last record above 0.9 and the first below 0.05
    jumps = []
    for run in learn:
        above = np.nonzero(run > 0.9)[0]
        below = np.nonzero(run < 0.05)[0]
        ok = above.size and below.size and below[0] > above[-1]
        jumps.append(data["epochs"][below[0]] - data["epochs"][above[-1]] if ok else np.inf)
    plateau = [data["epochs"][np.nonzero(run > 0.9)[0][-1]] for run in learn]
    spacing = data["epochs"][1] - data["epochs"][0]
    window = max(2000.0, 3.0 * spacing)  # the drop is resolved only to the record spacing
    targets = data["targets"]
    # wrong by more than a margin: the output at the step before the switch approaches ½
    # last (after 5·10⁴ epochs it sits within 0.002 of ½, on either side depending on XLA's
    # rounding), so "the right side of ½" alone would be decided by rounding there
    out_learned = data["output_learned"]
    margin = 0.05
    wrong = (out_learned > 0.5) != (targets > 0.5)
    wrong_learned = int(np.sum(wrong & (np.abs(out_learned - 0.5) > margin)))
    closest = float(np.min(np.abs(out_learned - 0.5)))
    after = targets > 0.5
    lrs = [float(v) for v in data["lrs"]]
    return [
        Claim.qualitative(
            "lr 0.003: a plateau (L > 0.9 for ≥ 10⁴ epochs) then an abrupt drop (< 0.05 within "
            "2000 epochs, or 3 record spacings)",
            PAPER,
            predicted=np.r_[window, 1.0 / 10_000],
            measured=np.r_[np.max(jumps), 1.0 / np.min(plateau)],
            comparison=Comparison.LESS,
            params=[{"learning_rate": lrs[0]}],
            note=f"plateau ends at epoch(s) {plateau}",
        ),
        Claim.qualitative(
            "lr 0.003 solves the task: no output on the wrong side of ½ by more than 0.05 "
            "(0 before the delay, 1 after), the same criterion in fast and full mode",
            PAPER,
            predicted=0,
            measured=wrong_learned,
            comparison=Comparison.EQUAL,
            params=[{"learning_rate": lrs[0]}],
            note=f"final loss {np.round(data['final_loss'][0], 4).tolist()} after "
            f"{int(data['epochs'][-1])} epochs (the paper trains 5·10⁵); the output closest "
            f"to ½ is {closest:.4f} from it, {int(np.sum(wrong))} on the wrong side in all",
        ),
        Claim.qualitative(
            "lr 0.02 is trapped: final loss > 0.99 with gradient norm < 1e-6",
            PAPER,
            predicted=np.r_[
                np.full_like(data["final_loss"][1], -0.99), np.full_like(gn[1, :, -1], 1e-6)
            ],
            measured=np.r_[-data["final_loss"][1], gn[1, :, -1]],
            comparison=Comparison.LESS,
            params=[{"learning_rate": lrs[1]}],
            note=f"final losses {data['final_loss'][1]}, grad norms {gn[1, :, -1]}",
        ),
        Claim.qualitative(
            "the trapped network's output is saturated at the wrong value after the delay "
            "(max output < 0.01 where the target is 1)",
            PAPER,
            predicted=0.01,
            measured=float(np.max(data["output_trapped"][after])),
            comparison=Comparison.LESS,
            params=[{"learning_rate": lrs[1]}],
        ),
        Claim.qualitative(
            "κ-flow: the path to the threshold is blocked by a fixed point at init and when "
            "trapped, and open after learning",
            cite("dinc", "Fig. 3 (κ dynamics: ghost versus fixed point)"),
            predicted=np.array([1, 0, 1]),
            measured=np.array(
                [data["blocked_init"], data["blocked_learned"], data["blocked_trapped"]], float
            ),
            comparison=Comparison.EQUAL,
        ),
        Claim.qualitative(
            "the learned κ crosses the readout threshold at step T + 1 = 21 (± 1)",
            PAPER,
            predicted=1.5,
            measured=abs(float(data["crossing_learned"]) - 21.0),
            comparison=Comparison.LESS,
        ),
    ]


def plot(data: dict, out) -> list:
    fig, axs = panels(3, height=3.0)
    ep = data["epochs"]
    for i, (lr, c) in enumerate(zip(data["lrs"], ["C0", "C3"])):
        for s in range(data["loss"].shape[1]):
            lab = f"lr = {lr:g}" if s == 0 else None
            axs[0].plot(ep, data["loss"][i, s], color=c, lw=1, label=lab)
            axs[1].plot(ep, data["grad_norm"][i, s] + 1e-30, color=c, lw=1, label=lab)
    axs[0].set(yscale="log", xlabel="epoch", ylabel="loss", title="loss")
    axs[1].set(yscale="log", xlabel="epoch", ylabel="‖∇L‖", title="gradient norm")
    axs[0].legend()
    axs[1].legend()
    g = data["kappa_grid"]
    for name, c in (("init", "0.5"), ("learned", "C0"), ("trapped", "C3")):
        axs[2].plot(g, data[f"flow_{name}"], color=c, lw=1.2, label=f"F(κ), {name}")
        k = data[f"kappa_{name}"]
        lab = "trajectory κ_t (dots)" if name == "init" else None
        axs[2].plot(k, np.interp(k, g, data[f"flow_{name}"]), ".", color=c, ms=3, label=lab)
    axs[2].axhline(0, color="k", lw=0.6, label="fixed points (F = 0)")
    axs[2].axvline(1.0, color="k", ls=":", lw=1, label="threshold κ = 1")
    axs[2].set(xlabel="κ = nᵀx", ylabel="F(κ) = dκ/dt", title="1-D reduction")
    axs[2].legend(loc="lower left")
    caption(
        fig,
        "Rank-one leaky RNN (N = 100, α = 0.5), delayed activation T = 20, x₀ = −0.3·𝟙, "
        f"readout σ(10(κ − 1)); full-batch GD for {int(ep[-1])} epochs, "
        f"{data['loss'].shape[1]} seed{'s' if data['loss'].shape[1] > 1 else ''} per learning rate, key {SEED}; "
        "F(κ) = −κ + nᵀtanh(mκ + b) at init, after learning and in the trapped run",
    )
    return [save(fig, out / "fig43_ghost_rnn.png")]


if __name__ == "__main__":
    cli(__name__)
