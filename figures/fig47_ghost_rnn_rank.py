"""Ghosts inside trained rank-K and full-rank RNNs (N = 100, α = 0.5, T = 20,
x₀ = −0.3·𝟙, readout σ(10(κ₁ − 1)) with κ₁ = n₁ᵀx; full-batch GD at lr 0.1,
`toymodels.dynamics.run`): the rank-one analysis of fig46 repeated in the N-dimensional
state, where no 1-D reduction exists.

"Full rank" is W = m nᵀ with m, n ∈ ℝ^{N×N} (rank K = N: every W, and the paper's confident
readout on κ₁); the `rank=None` network with a trainable sigmoid readout starts at loss ≈ 0.5
with unconfident outputs (σ(w_outᵀx) ≈ 1/2) and has no plateau, which is the paper's remedy 2
(fig45), not a test of the mechanism.

- (a) the loss along GD for each rank: the plateau, the abrupt drop (first loss < 0.5) and
  the jump back onto the plateau (lr 0.1 is above the critical learning rate).
- (b) on the plateau, the output is wrong and confident (mean |2ŷ − 1| over the wrong steps,
  half of the 2T steps) while ‖∇L‖ is small: the gradient vanishes where the output saturates.
- (c) fixed points (`ghost.network_fixed_points`, q ≤ 1e-16) at the checkpoints before and
  at the drop, and at the two checkpoints where their number first changes after it (the
  fold, `ghost.find_fold_crossing`: the saddle continued along the training path).
- (d) the network's passage through the ghost at δ ∈ {10⁻⁴, 3·10⁻⁴, 10⁻³} training steps on
  the ghost side of that fold against π/(2√(a r)) (`ghost.normal_form`).

Fast mode: rank 2, seed 1, 1500 steps. Full mode: ranks 2, 3 and N (= 100), seeds 1 and 2
(`jr.split(jr.key(1), 8)`; seed 0 stays on the plateau for 1500 steps at ranks 1-3), 1500
steps (400 at rank N, whose drop comes at step ~200).
"""

import jax.random as jr
import numpy as np

from figures._common import caption, cite, cli, panels, save
from toymodels.claims import Claim, Comparison
from toymodels.models import ghost
from toymodels.problems import leaky_rnn


TITLE = "Ghosts in rank-K and full-rank RNNs: plateau, drop, fold, passage time"
SEED = 1
LR = 0.1
DELTAS = (1e-4, 3e-4, 1e-3)
PASSAGE_STEPS = 8000
WINDOW = 30.0  # Y = WINDOW·sqrt(r/a), as in fig46
SEARCH = 300  # checkpoints after the drop scanned for the fold
#: every 16th checkpoint, then bisection (a fold undone within 16 steps would be missed)
STRIDE = 16
N = 100


def _network(rank: int, seed: int, num_steps: int) -> dict:
    rnn = leaky_rnn(rank=rank)
    k = jr.split(jr.key(SEED), 8)[seed]
    ck = ghost.training_checkpoints(rnn, rnn.init(k), learning_rate=LR, num_steps=num_steps, key=k)
    loss = np.asarray(ck.loss)
    drop = int(np.nonzero(loss < 0.5)[0][0])
    diag = ghost.output_diagnostics(rnn, ck)
    fps = [ghost.network_fixed_points(rnn, ck.at(j)) for j in (drop - 1, drop)]
    # the plateau's stable point continued across the drop: a fold there or not
    stable = fps[0].points[int(np.nonzero(np.asarray(fps[0].stable))[0][0])]
    across = ghost.training_branch(rnn, ck.take([drop - 1, drop]), stable, start=0)
    try:
        cross = ghost.find_fold_crossing(
            rnn, ck, start=drop - 1, num_checkpoints=SEARCH, stride=STRIDE
        )
    except ValueError:  # no change of the fixed-point count within SEARCH checkpoints
        cross = None
    rows = []
    if cross is not None:
        fold = float(cross.fold)
        path = ghost.training_path(rnn, ck.take(np.asarray(cross.bracket)))
        for delta in DELTAS:
            near = path.params_at(fold + cross.ghost_side * delta)
            fp = ghost.network_fixed_points(rnn, near)
            dist = np.max(np.abs(np.asarray(fp.points - cross.branch.fold_states[0])), axis=1)
            g = int(np.argmin(np.where(np.asarray(fp.is_ghost), dist, np.inf)))
            form = ghost.normal_form(ghost.state_map, fp.points[g], args=(rnn, near))
            y = WINDOW * float(np.sqrt(form.r / form.a))
            ps = ghost.measure_passage(rnn, near, form, window=y, num_steps=PASSAGE_STEPS)
            a, c = float(form.a), float(form.cubic)
            rows.append(
                [
                    delta,
                    float(form.a * form.r),
                    float(ps.measured),
                    float(ps.predicted),
                    float(ps.predicted_window),
                    float(ps.window_correction),
                    3.0 * (c * y / a) ** 2 + 0.005,
                    float(fp.is_ghost[g]),
                    float(fp.q[g]),
                ]
            )
    else:
        fold = np.nan
        rows = [[d] + [np.nan] * 8 for d in DELTAS]
    plateau = drop // 2
    return {
        "loss": loss,
        "drop": drop,
        "grad_norm": np.asarray(diag.grad_norm),
        "wrong_fraction": np.asarray(diag.wrong_fraction),
        "wrong_confidence": np.asarray(diag.wrong_confidence),
        "plateau": plateau,
        "drop_counts": np.asarray([int(np.sum(np.asarray(f.is_fixed))) for f in fps]),
        "drop_stable": np.asarray([int(np.sum(np.asarray(f.stable))) for f in fps]),
        "drop_folds": int(across.folds.shape[0]),
        "drop_completed": bool(across.stop_reason == "completed"),
        "fold_bracket": np.asarray([-1, -1] if cross is None else cross.bracket),
        "fold_counts": np.asarray([-1, -1] if cross is None else cross.counts),
        "fold": fold,
        "ghost_side": 0 if cross is None else cross.ghost_side,
        "passage": np.asarray(rows),
    }


def compute(*, fast: bool) -> dict:
    if fast:
        nets = [(2, 1, 1500)]
    else:
        nets = [(r, s, 400 if r == N else 2000) for r in (2, 3, N) for s in (1, 2)]
    runs = [_network(*spec) for spec in nets]
    data: dict = {
        "ranks": np.asarray([r for r, _, _ in nets]),
        "seeds": np.asarray([s for _, s, _ in nets]),
        "num_steps": np.asarray([n for _, _, n in nets]),
    }
    for key in runs[0]:
        vals = [r[key] for r in runs]
        if key in ("loss", "grad_norm", "wrong_fraction", "wrong_confidence"):
            width = max(len(v) for v in vals)
            data[key] = np.stack(
                [np.pad(v, (0, width - len(v)), constant_values=np.nan) for v in vals]
            )
        else:
            data[key] = np.asarray(vals)
    return data


def _passage_prediction(a_r: float, **_) -> float:
    """π/(2√(a r)), the canonical passage time from x = 0, in map steps."""
    return float(np.pi / (2.0 * np.sqrt(a_r)))


def _label(rank: int, seed: int) -> str:
    return f"rank {'N' if rank == N else rank}, seed {seed}"


def claims(data: dict) -> list[Claim]:
    paper = cite("dinc", "Fig. 2 (passage time π/(2√r)) and Fig. 6 (higher-rank RNNs)")
    ranks, seeds = data["ranks"], data["seeds"]
    nets = tuple(
        {"rank": int(r), "seed": int(s), "learning_rate": LR} for r, s in zip(ranks, seeds)
    )
    params, meas, err, pred = [], [], [], []
    for r, s, rows in zip(ranks, seeds, data["passage"]):
        for d, ar, m, p, _w, corr, rel, _, _ in rows:
            if not np.isfinite(p):  # no fold found within SEARCH checkpoints
                continue
            params.append({"rank": int(r), "seed": int(s), "delta": float(d), "a_r": float(ar)})
            meas.append(m)
            pred.append(p)
            err.append(corr + rel * p + 1.0)
    err = np.asarray(err)
    plateau = data["plateau"]
    i = np.arange(len(ranks))
    conf = data["wrong_confidence"][i, plateau]
    frac = data["wrong_fraction"][i, plateau]
    gn_plateau = data["grad_norm"][i, plateau]
    gn_max = np.nanmax(data["grad_norm"], axis=1)
    counts = data["drop_counts"]
    out = [
        Claim.quantitative(
            "rank-K / full-rank RNN: the passage time through the ghost next to the fold "
            "(half the steps through |s − s*| ≤ 30√(r/a)) equals π/(2√(a r)) with a·r from "
            "the network's normal form",
            paper,
            predict=_passage_prediction,
            params=params,
            measured=np.asarray(meas),
            error_estimate=err,
            atol=err,
            error_source="the window's shortfall 1/(aY), the cubic term 3(cY/a)² + 0.5 % "
            "per-step drift, 1 step of crossing interpolation (as fig46)",
            note="measured / predicted: "
            + ", ".join(f"{m:.1f}/{p:.1f}" for m, p in zip(meas, pred)),
        ),
        Claim.qualitative(
            "on the plateau (half-way to the drop) the wrong outputs are saturated: "
            "confidence |2ŷ − 1| > 0.99 on the wrong half of the steps",
            cite("dinc", "§4 (high-confidence wrong outputs before the drop)"),
            predicted=0.99,
            measured=conf,
            comparison=Comparison.GREATER,
            params=nets,
            note=f"wrong fraction {np.round(frac, 3).tolist()}, confidence "
            f"{np.round(conf, 5).tolist()} at steps {plateau.tolist()}",
        ),
        Claim.qualitative(
            "on the plateau the gradient vanishes: ‖∇L‖ < 1 % of its largest value along "
            "training (reached at the drop)",
            cite("dinc", "§4 (the gradient vanishes at a confident wrong output)"),
            predicted=0.01,
            measured=gn_plateau / gn_max,
            comparison=Comparison.LESS,
            params=nets,
            note=f"‖∇L‖ on the plateau {np.array2string(gn_plateau, precision=2)}, largest "
            f"{np.array2string(gn_max, precision=2)}",
        ),
    ]
    lag = data["fold"] - data["drop"]
    note = (
        f"fixed points at the checkpoints drop − 1 and drop: {counts.tolist()} (stable "
        f"{data['drop_stable'].tolist()}); the plateau's stable point continued across the "
        f"drop: {data['drop_folds'].tolist()} folds; the first change of the count after it "
        f"({data['fold_counts'].tolist()}) is a fold at training steps "
        f"{', '.join(f'{v:.2f}' for v in data['fold'])}, {', '.join(f'{v:.1f}' for v in lag)} "
        "steps after the drop (at the jump back onto the plateau; NaN: no change within "
        f"{SEARCH} checkpoints), as for rank one (fig46)"
    )
    name = (
        "abrupt learning in rank-K and full-rank RNNs passes through the ghost of a "
        "saddle-node (a fold crossed at the loss drop)"
    )
    where = cite("dinc", "Fig. 3A and Fig. 6 (abrupt learning through a ghost)")
    if np.all(data["drop_folds"] == 0):
        out.append(
            Claim.discrepancy(
                name,
                where,
                paper_value="a fold is crossed at the drop: the fixed-point count changes by "
                "2 and the plateau's stable point turns there",
                measured=data["drop_folds"],
                params=nets,
                note=note,
            )
        )
    else:
        out.append(
            Claim.qualitative(
                name,
                where,
                predicted=0,
                measured=data["drop_folds"],
                comparison=Comparison.GREATER,
                params=nets,
                note=note,
            )
        )
    return out


def plot(data: dict, out) -> list:
    fig, axes = panels(2, 2, height=5.2)
    ax_a, ax_b, ax_c, ax_d = axes.ravel()
    ranks, seeds = data["ranks"], data["seeds"]
    for i, (r, s) in enumerate(zip(ranks, seeds)):
        loss, drop = data["loss"][i], int(data["drop"][i])
        steps = np.arange(loss.shape[0])
        ax_a.plot(steps - drop, loss, color=f"C{i}", label=_label(r, s))
        before = slice(0, drop + 1)
        gn = data["grad_norm"][i][before]
        ax_b.semilogy(steps[before] - drop, gn, color=f"C{i}", label=f"‖∇L‖, {_label(r, s)}")
        ax_b.semilogy(
            steps[before] - drop,
            1.0 - data["wrong_confidence"][i][before],
            color=f"C{i}",
            ls=":",
            label=f"1 − confidence of wrong outputs, {_label(r, s)}",
        )
    ax_a.axvline(0.0, color="k", ls="--", lw=0.8, label="drop (loss < 0.5)")
    ax_a.set(xlim=(-200, 150), xlabel="GD step − drop step", ylabel="loss")
    ax_a.set_title("(a) GD at lr 0.1: plateau, drop, trapped")
    ax_a.legend(loc="lower left")
    ax_b.axvline(0.0, color="k", ls="--", lw=0.8, label="drop (loss < 0.5)")
    ax_b.set(xlim=(-1400, 10), xlabel="GD step − drop step", ylabel="value")
    ax_b.set_title("(b) saturated wrong output, vanishing gradient")
    ax_b.legend(loc="lower left")
    x = np.arange(len(ranks))
    w = 0.2
    found = np.where(data["fold_counts"] < 0, np.nan, data["fold_counts"])
    ax_c.bar(x - 1.5 * w, data["drop_counts"][:, 0], w, color="C0", label="drop − 1")
    ax_c.bar(x - 0.5 * w, data["drop_counts"][:, 1], w, color="C1", label="drop")
    ax_c.bar(x + 0.5 * w, found[:, 0], w, color="C2", label="before the fold")
    ax_c.bar(x + 1.5 * w, found[:, 1], w, color="C3", label="after the fold")
    ax_c.set_xticks(x, [_label(r, s).replace(", ", "\n") for r, s in zip(ranks, seeds)])
    ax_c.set(ylabel="fixed points found", ylim=(0, 1.6 * max(3, np.nanmax(found, initial=0))))
    ax_c.set_title("(c) fixed points at the checkpoints")
    ax_c.legend(loc="upper left", ncols=2)
    lim_hi = 0.0
    for i, (r, s) in enumerate(zip(ranks, seeds)):
        rows = data["passage"][i]
        if not np.all(np.isfinite(rows[:, 3])):  # no fold found: no ghost to pass
            continue
        ax_d.plot(rows[:, 3], rows[:, 2], "o", color=f"C{i}", ms=4, mfc="none", label=_label(r, s))
        lim_hi = max(lim_hi, rows[:, 3].max(), rows[:, 2].max())
    lim = np.array([0.0, 1.1 * lim_hi])
    ax_d.plot(lim, lim, "k-", lw=0.8, label="measured = π/(2√(ar))")
    ax_d.set(xlim=lim, ylim=lim, xlabel="π/(2√(a r)) (map steps)", ylabel="passage (map steps)")
    ax_d.set_title("(d) passage through the ghost, δ = 10⁻⁴–10⁻³")
    ax_d.legend(loc="upper left")
    caption(
        fig,
        f"Leaky RNNs, N = {N}, α = 0.5, T = 20, x₀ = −0.3·𝟙, readout σ(10(κ₁ − 1)), W = m nᵀ "
        f"of rank K (K = N: full rank); full-batch GD, lr {LR}, "
        + "; ".join(
            f"{_label(r, s)}: {int(n)} steps" for r, s, n in zip(ranks, seeds, data["num_steps"])
        )
        + "; key jr.key(1)",
    )
    return [save(fig, out / "fig47_ghost_rnn_rank.png")]


if __name__ == "__main__":
    cli(__name__)
