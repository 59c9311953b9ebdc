"""Ghost mechanism, remedy 1: a higher trainable rank. Final loss against the learning rate for
leaky RNNs (N = 100, α = 0.5, T = 20, trainable sigmoid readout as in the paper's Fig. 6B) of
rank 1 and higher rank, each learning-rate × seed sweep one vmapped computation. The rank-one
network learns only in a narrow band of learning rates; higher rank widens it."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
from matplotlib.ticker import NullFormatter

from figures._common import caption, cite, cli, panels, save
from toymodels.claims import Claim, Comparison
from toymodels.models import ghost
from toymodels.problems import leaky_rnn


TITLE = "Ghost: final loss vs learning rate, rank 1 vs higher trainable rank"
SEED = 44
PAPER = cite("dinc", "Fig. 6A/B (a higher trainable rank stabilizes learning)")
LEARNED = 0.1  # final loss below which a run counts as learned (plateau: ≈ 0.5 or 1)


def compute(*, fast: bool) -> dict:
    if fast:
        ranks, lrs, seeds, epochs = (1, 0), np.array([0.03, 0.1, 0.3]), 2, 3000
    else:
        ranks, lrs, seeds, epochs = (1, 3, 10, 0), np.logspace(-3, 0, 10), 4, 20_000
    final = []
    for k in ranks:  # 0 = full rank
        net = leaky_rnn(rank=None if k == 0 else k, readout="sigmoid")
        h = ghost.rnn_sweep(
            net,
            jnp.asarray(lrs),
            key=jr.key(SEED),
            num_seeds=seeds,
            num_steps=epochs,
            record_every=epochs // 10,
        )
        final.append(np.asarray(h.final_loss))
    return {
        "ranks": np.asarray(ranks),
        "lrs": lrs,
        "final_loss": np.stack(final),
        "num_epochs": np.asarray(epochs),
    }


def _learning_set(final):
    return np.mean(final < LEARNED, axis=-1) >= 0.5


def claims(data: dict) -> list[Claim]:
    fl = data["final_loss"]
    sets = [_learning_set(f) for f in fl]
    one, full = sets[0], sets[-1]
    mask = (data["lrs"] >= 0.1) & full
    out = [
        Claim.qualitative(
            "every learning rate at which rank 1 learns, higher rank learns too",
            PAPER,
            predicted=0.0,
            measured=float(sum(np.sum(one & ~s) for s in sets[1:])),
            comparison=Comparison.EQUAL,
            note=f"learned = final loss < {LEARNED} in ≥ half the seeds",
        ),
        Claim.qualitative(
            "full rank learns at strictly more learning rates than rank 1",
            PAPER,
            predicted=float(np.sum(one)),
            measured=float(np.sum(full)),
            comparison=Comparison.GREATER,
            note=f"rank 1 at lr {data['lrs'][one]}, full at lr {data['lrs'][full]}",
        ),
        Claim.qualitative(
            "at lr ≥ 0.1 rank 1 fails (mean final loss > 0.5) where full rank learns",
            PAPER,
            predicted=0.5,
            measured=np.mean(fl[0][mask]) if mask.any() else np.nan,
            comparison=Comparison.GREATER,
        ),
    ]
    return out


def plot(data: dict, out) -> list:
    fig, ax = panels(width=5.0, height=3.6)
    for k, f in zip(data["ranks"], data["final_loss"]):
        lab = "full rank" if k == 0 else f"rank {k}"
        ax.plot(data["lrs"], np.mean(f, axis=-1), "o-", ms=3, label=f"{lab} (seed mean)")
        ax.plot(np.repeat(data["lrs"], f.shape[-1]), f.ravel(), ".", ms=2, color="0.6")
    ax.lines[1].set_label("single seeds")
    ax.axhline(LEARNED, color="k", ls=":", lw=1, label="learned threshold")
    ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="final loss",
           title="delayed activation, T = 20 (N = 100)")  # fmt: skip
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend()
    seeds = data["final_loss"].shape[-1]
    caption(
        fig,
        "Leaky RNN (N = 100) of rank 1 to full, sigmoid readout, on the delayed-activation "
        f"task; full-batch GD for {int(data['num_epochs'])} epochs at each learning rate, "
        f"{seeds} seeds each (vmapped), key {SEED}",
    )
    return [save(fig, out / "fig44_ghost_rank.png")]


if __name__ == "__main__":
    cli(__name__)
