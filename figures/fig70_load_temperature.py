"""Yang et al. (2021)'s load–temperature phase diagram, at CPU scale: one-hidden-layer MLPs
on scikit-learn's digits over width (load) × batch size (temperature), several seeds, with
training loss, test accuracy, λ_max and trace of the Hessian, mode connectivity mc and CKA,
run through `toymodels.sweep` (a resumable, vmapped grid)."""

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

import toymodels.models.load_temperature as lt
from figures._common import FIGURES_DIR, PAGE_WIDTH, caption, cite, cli, save
from toymodels.claims import Claim, Comparison
from toymodels.data import digits, train_test_split
from toymodels.landscape import (
    Bezier,
    curve_mode_connectivity,
    fit_curve,
    hessian_operator,
    model_cka,
)
from toymodels.linalg import eigsh, trace
from toymodels.plot import plot_sweep
from toymodels.sweep import sweep


TITLE = "Load–temperature phase diagram of small MLPs on digits (Yang et al. 2021)"
SEED = 0
PAPER = cite("yang", "§3-4 and Fig. 1 (load-temperature phases; mc < 0 is a barrier)")
LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 5e-4
HESSIAN_SAMPLES, CKA_SAMPLES, MIXUP_ALPHA = 200, 256, 16
CLASSES, CURVE_BATCH = 10, 64
MC_THRESHOLD = 0.0  # % training error: Yang et al. read mc < 0 as a barrier (poorly connected)

FAST = dict(
    widths=(4, 32), batches=(16, 256), seeds=2, epochs=8, curve_steps=150, probes=20, chunk_size=8
)
FULL = dict(  # 8 × 8 cells, as a phase diagram needs
    widths=(4, 6, 8, 12, 16, 24, 32, 64),
    batches=(8, 16, 32, 64, 128, 256, 512, 1024),
    seeds=2,
    epochs=20,
    curve_steps=600,
    probes=100,
    chunk_size=12,
)
STORE = FIGURES_DIR / "cache" / "fig70_sweep"


def masked_problem(x, labels, width, max_width: int) -> lt.MaskedMLP:
    return lt.masked_mlp(x, labels, width=width, max_width=max_width, num_classes=CLASSES)


@functools.cache
def _data():
    """Train/test split of digits, the fixed Hessian batch (200 training samples, as Yang et
    al.), and mixup-augmented probe inputs for CKA (λ ~ Beta(16, 16)). Evaluated eagerly
    even when first called while the sweep traces `point_metrics`."""
    with jax.ensure_compile_time_eval():
        x, y = digits()
        return jax.jit(_split_and_mix)(x, y, jr.key(SEED))


def _split_and_mix(x, y, key):
    k_split, k_h, k_mix, k_lam = jr.split(key, 4)
    s = train_test_split(x, y, key=k_split, test_fraction=0.25)
    n = s.x_train.shape[0]
    h_idx = jr.choice(k_h, n, (HESSIAN_SAMPLES,), replace=False)
    pair = jr.choice(k_mix, n, (CKA_SAMPLES, 2))
    # Beta(a, a) for integer a exactly, as the a-th smallest of 2a - 1 uniforms (an order
    # statistic; jr.beta's gamma sampler takes 4-7 s to compile on a CPU)
    a = int(MIXUP_ALPHA)
    u = jr.uniform(k_lam, (CKA_SAMPLES, 2 * a - 1), dtype=s.x_train.dtype)
    lam = jnp.sort(u, axis=-1)[:, a - 1 : a]
    x_mix = lam * s.x_train[pair[:, 0]] + (1 - lam) * s.x_train[pair[:, 1]]
    return s, h_idx, x_mix


def point_metrics(point, key, *, max_width, micro, epochs, curve_steps, probes):
    """Everything measured at one grid point: two networks trained from independent
    initialisations and minibatch orders (a pair), their mean training loss/error, test
    accuracy, Hessian λ_max (`eigsh`) and trace (Hutchinson, Rademacher) on 200 training
    samples, the mode connectivity of a trained Bezier curve between them (Yang et al.'s mc,
    on training error in %), linear CKA of their softmax outputs on mixup inputs, and their
    parameter distance."""
    s, h_idx, x_mix = _data()
    problem = masked_problem(s.x_train, s.y_train, point["width"], max_width)
    batch = point["batch"]
    k_init, k_train, k_eig, k_tr, k_curve = jr.split(key, 5)
    p0 = jax.vmap(problem.init)(jr.split(k_init, 2))

    def train(p, k):
        return lt.train_sgd(
            problem,
            p,
            key=k,
            batch_size=batch,
            micro_batch_size=micro,
            num_epochs=epochs,
            learning_rate=LR,
            momentum=MOMENTUM,
            weight_decay=WEIGHT_DECAY,
        ).params

    pair = jax.vmap(train)(p0, jr.split(k_train, 2))
    a = jax.tree_util.tree_map(lambda x: x[0], pair)
    b = jax.tree_util.tree_map(lambda x: x[1], pair)

    h_problem = problem.with_data(s.x_train[h_idx], s.y_train[h_idx])

    def curvature(p, k1, k2):
        op = hessian_operator(h_problem, p)
        lam = eigsh(op, 1, which="largest", key=k1, warn=False)[0][0]
        return lam, trace(op, num_probes=probes, key=k2)

    lam, tr = jax.vmap(curvature)(pair, jr.split(k_eig, 2), jr.split(k_tr, 2))
    curve = fit_curve(
        problem,
        Bezier(a, b),
        key=k_curve,
        num_steps=curve_steps,
        optimizer=optax.sgd(LR, momentum=MOMENTUM),
        batch_size=CURVE_BATCH,
        weight_decay=WEIGHT_DECAY,
    ).curve
    test = problem.with_data(s.x_test, s.y_test)
    sq = [jnp.sum((x - y) ** 2) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))]
    return {
        "train_loss": jnp.mean(jax.vmap(problem.loss)(pair)),
        "train_error": jnp.mean(jax.vmap(problem.error)(pair)),
        "test_accuracy": jnp.mean(jax.vmap(lambda p: test.accuracy(p))(pair)),
        "lambda_max": jnp.mean(lam),
        "trace": jnp.mean(tr.estimate),
        "lambda_max_a": lam[0],
        "trace_a": tr.estimate[0],
        "trace_a_stderr": tr.stderr[0],
        "params_a": ravel_pytree(a)[0],
        "mc": curve_mode_connectivity(problem, curve, num_points=5),
        "cka": model_cka(problem, a, b, x=x_mix, softmax=True),
        "distance": jnp.sqrt(sum(sq)),
    }


def compute(*, fast: bool) -> dict:
    cfg = FAST if fast else FULL
    widths, batches = list(cfg["widths"]), list(cfg["batches"])
    micro = int(np.gcd.reduce(batches))
    fn = functools.partial(
        point_metrics,
        max_width=max(widths),
        micro=micro,
        epochs=cfg["epochs"],
        curve_steps=cfg["curve_steps"],
        probes=cfg["probes"],
    )
    res = sweep(
        fn,
        {"width": widths, "batch": batches},
        seeds=cfg["seeds"],
        key=jr.key(SEED),
        chunk_size=cfg["chunk_size"],
        store=None if fast else STORE,
        label="fig70 " + repr(sorted(cfg.items())),
    )
    data = res.to_dict()
    data["chunks_computed"] = np.asarray(res.stats.chunks)
    data["epochs"] = np.asarray(cfg["epochs"])
    data["phase"] = phases(data)
    return data


def phases(data: dict) -> np.ndarray:
    """Yang et al.'s phase of every (width, batch) cell from seed means: poorly connected
    when mc < −`MC_THRESHOLD` (% training error); sharp when the Hessian trace is above the
    grid's geometric mean (sharp/flat is relative, as in their diagrams); similar when CKA is
    above the grid's median. Codes: 1 = I (poor, sharp), 2 = II (poor, flat), 3 = III (well,
    sharp), 4 = IV-A (well, flat, dissimilar), 5 = IV-B (well, flat, similar)."""
    mc = data["mc"].mean(-1)
    log_tr = np.log(data["trace"]).mean(-1)
    cka = data["cka"].mean(-1)
    poor = mc < -MC_THRESHOLD
    sharp = log_tr > log_tr.mean()
    similar = cka > np.median(cka)
    return np.where(
        poor,
        np.where(sharp, 1, 2),
        np.where(sharp, 3, np.where(similar, 5, 4)),
    ).astype(np.int64)


PHASE_NAMES = {1: "I", 2: "II", 3: "III", 4: "IV-A", 5: "IV-B"}


def _reproduced_or_not(name, *, ok, paper_value, measured, params, note) -> Claim:
    """A qualitative claim when the run reproduces the paper's statement, else a
    discrepancy with the paper's value beside ours."""
    if ok:
        return Claim.qualitative(
            name, PAPER, predicted=1, measured=1, comparison=Comparison.EQUAL, params=params,
            note=note,
        )  # fmt: skip
    return Claim.discrepancy(
        name, PAPER, paper_value=paper_value, measured=measured, params=params, note=note
    )


def claims(data: dict) -> list[Claim]:
    # the masked network against the plain MLP, Lanczos λ_max and Hutchinson traces against
    # dense eigh are tests of the tools (tests/models/test_load_temperature.py)
    mc = data["mc"].mean(-1)
    tr = data["trace"].mean(-1)
    cka = data["cka"].mean(-1)
    acc = data["test_accuracy"].mean(-1)
    best = np.unravel_index(np.argmax(acc), acc.shape)
    w, b = data["coord_width"], data["coord_batch"]
    cells = [{"width": int(x), "batch": int(y)} for x in w for y in b]
    return [
        Claim.qualitative(
            "temperature: the smallest batch is flatter than the largest (Hessian trace ratio "
            "< 1 at every width)",
            PAPER,
            predicted=1.0,
            measured=tr[:, 0] / tr[:, -1],
            comparison=Comparison.LESS,
            params=[{"width": int(x), "batch": [int(b[0]), int(b[-1])]} for x in w],
            note="a fixed number of epochs: the smaller batch also takes more SGD steps (batch "
            "size and the number of updates are confounded here, as in the paper's protocol)",
        ),
        Claim.qualitative(
            f"load: the narrowest network ({w[0]}) at batch {b[0]} is poorly connected "
            "(mc < 0, a barrier)",
            PAPER,
            predicted=0.0,
            measured=mc[0, 0],
            comparison=Comparison.LESS,
            params=[{"width": int(w[0]), "batch": int(b[0])}],
            note=f"mc per seed {np.round(data['mc'][0, 0], 2).tolist()}",
        ),
        Claim.qualitative(
            "load: connectivity improves with width: the widest network's |mc| is below the "
            "narrowest's at the smallest batch",
            PAPER,
            predicted=abs(mc[0, 0]),
            measured=abs(mc[-1, 0]),
            comparison=Comparison.LESS,
            params=[{"width": [int(w[0]), int(w[-1])], "batch": int(b[0])}],
            note=f"mc {mc[0, 0]:.3g} % (width {w[0]}) vs {mc[-1, 0]:.3g} % (width {w[-1]})",
        ),
        _reproduced_or_not(
            f"the widest network ({w[-1]}) at batch {b[0]} is well connected (mc ≥ 0, no barrier)",
            ok=bool(mc[-1, 0] >= 0),
            paper_value="mc ≈ 0 (well connected) at low load",
            measured=mc[-1, 0],
            params=[{"width": int(w[-1]), "batch": int(b[0])}],
            note=f"mc per seed {np.round(data['mc'][-1, 0], 2).tolist()} (% training error); "
            "a Bezier curve trained for few steps leaves a small barrier",
        ),
        Claim.qualitative(
            "models are more similar when wide: CKA(widest) − CKA(narrowest) > 0 at the "
            "smallest batch",
            PAPER,
            predicted=0.0,
            measured=cka[-1, 0] - cka[0, 0],
            comparison=Comparison.GREATER,
            params=[{"width": [int(w[0]), int(w[-1])], "batch": int(b[0])}],
        ),
        _reproduced_or_not(
            "the best test accuracy lies in phase IV-B (well connected, flat, similar)",
            ok=bool(data["phase"][best] == 5),
            paper_value="phase IV-B (code 5)",
            measured=data["phase"][best],
            params=cells,
            note=f"best cell: width {w[best[0]]}, batch {b[best[1]]}, accuracy {acc[best]:.3f}, "
            f"phase {PHASE_NAMES[int(data['phase'][best])]}, mc {mc[best]:.3g} %",
        ),
    ]


PHASE_LABELS = {
    1: "I: poorly connected, sharp",
    2: "II: poorly connected, flat",
    3: "III: well connected, sharp",
    4: "IV-A: well connected, flat, dissimilar",
    5: "IV-B: well connected, flat, similar",
}


def plot(data: dict, out) -> list:
    # the sweep's to_dict() form: axes width, batch, seed; outputs reduced over the seeds
    swept = {k: v for k, v in data.items() if k.startswith("coord_") or v.ndim == 3}
    grid = {"coord_width": data["coord_width"], "coord_batch": data["coord_batch"]}
    grid["phase"] = data["phase"]
    maps = [
        ("train_loss", "training loss", "loss", True, "viridis", (None, None)),
        ("test_accuracy", "test accuracy", "accuracy", False, "viridis", (None, None)),
        ("lambda_max", "Hessian λ_max", "λ_max", True, "magma", (None, None)),
        ("trace", "Hessian trace", "trace", True, "magma", (None, None)),
        ("mc", "mode connectivity mc", "mc (%)", False, "seismic", (-30.0, 30.0)),
        ("cka", "CKA of softmax outputs", "CKA", False, "viridis", (0.0, 1.0)),
    ]
    fig, axd = plt.subplot_mosaic(
        [["train_loss", "test_accuracy"], ["lambda_max", "trace"], ["mc", "cka"]]
        + [["phase", "legend"]],
        figsize=(PAGE_WIDTH, 9.0),
        layout="constrained",
    )
    axes = dict(xscale="log", yscale="log", xlabel="batch size (← higher temperature)")
    axes["ylabel"] = "width (↑ lower load)"
    for name, title, label, log, cmap, (lo, hi) in maps:
        plot_sweep(
            swept,
            name,
            x="batch",
            y="width",
            ax=axd[name],
            log=log,
            vmin=lo,
            vmax=hi,
            label=label,
            cmap=cmap,
            title=title,
            **axes,
        )
    ax = axd["phase"]
    plot_sweep(
        grid,
        "phase",
        x="batch",
        y="width",
        ax=ax,
        categories=PHASE_LABELS,
        title="phase (Yang et al. 2021) of the seed means",
        **axes,
    )
    legend = ax.get_legend()
    handles = legend.legend_handles
    legend.remove()
    axd["legend"].axis("off")
    axd["legend"].legend(handles, [h.get_label() for h in handles], loc="center left")
    for k, a in axd.items():
        if k == "legend":
            continue
        a.set_xticks(data["coord_batch"], [str(v) for v in data["coord_batch"]])
        a.set_yticks(data["coord_width"], [str(v) for v in data["coord_width"]])
        a.minorticks_off()
    caption(
        fig,
        f"One-hidden-layer MLPs (width) on digits (75/25 split), SGD (lr {LR}, momentum "
        f"{MOMENTUM}, weight decay {WEIGHT_DECAY}) for "
        f"{int(data['epochs'])} epochs at each batch size, {data['coord_seed'].size} seed pairs per cell (means), seed {SEED}. Poorly "
        "connected: mc < 0 (a barrier); sharp: trace above the grid's geometric mean; "
        "similar: CKA above the grid's median.",
    )
    return [save(fig, out / "fig70_load_temperature.png")]


if __name__ == "__main__":
    cli(__name__)
