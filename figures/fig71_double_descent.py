"""Double descent along the load axis (Yang et al. 2021, §4: at low temperature the test error
peaks where the network starts to interpolate): two-layer tanh networks with a frozen random
first layer of width N (random features) whose readout is trained to the minimum-norm
least-squares solution (BFGS from zero, `dynamics.minimize`) on n noisy samples of a linear
teacher. Theory (the interpolation threshold of min-norm regression on N features: the
n × N feature matrix is square) puts the peak of the test error at N = n, whether the load
n/N is varied through the width (n fixed) or through the data (N fixed)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optimistix as optx

from figures._common import caption, cite, cli, panels, save
from toymodels import dynamics
from toymodels.claims import Claim
from toymodels.models.random_features import RandomFeatureRegression
from toymodels.problems import MSE, Activation


TITLE = "Double descent along the load axis: random-feature networks trained to min norm"
SEED = 71
PAPER = cite("yang", "§4 (double descent along the load axis at low temperature)")
NOISE = 0.2  # label noise (standard deviation) of the linear teacher
FAST = dict(
    dim=10,
    bases=(8, 12, 20),
    ratios=tuple(range(-2, 3)),
    seeds=3,
    num_test=500,
    noise_base=12,
    noises=(0.05, 0.2, 0.8),
    max_steps=300,
)
FULL = dict(  # 9 x 9 x 8 x 3 runs with N up to 256 took 17 min under load: this is smaller
    dim=20,
    bases=(16, 32, 64),
    ratios=tuple(range(-3, 4)),
    seeds=5,
    num_test=2000,
    noise_base=32,
    noises=(0.05, 0.2, 0.8),
    max_steps=1000,
)
#: the grid's ratio: N (or n) = base · STEP^k
STEP = np.sqrt(2.0)
AXES = ("width", "samples", "noise")


def _grid(cfg):
    """(axis, base, k, seed) → (n, N, noise): on the width axis n = base and
    N = base·STEP^k, on the samples axis N = base and n = base·STEP^k (label noise
    `NOISE`); on the noise axis n = `noise_base`, N = n·STEP^k and the label noise is the
    base's entry of `noises`."""
    rows = []
    for ax in AXES:
        bases = cfg["noises"] if ax == "noise" else cfg["bases"]
        for base in bases:
            for k in cfg["ratios"]:
                ref = cfg["noise_base"] if ax == "noise" else base
                other = int(round(ref * STEP**k))
                n, width = (other, base) if ax == "samples" else (ref, other)
                noise = base if ax == "noise" else NOISE
                for s in range(cfg["seeds"]):
                    rows.append((n, width, s, noise))
    return np.asarray(rows, dtype=float)


def compute(*, fast: bool) -> dict:
    cfg = FAST if fast else FULL
    d, n_test = cfg["dim"], cfg["num_test"]
    grid = _grid(cfg)
    n_max, w_max = int(grid[:, 0].max()), int(grid[:, 1].max())

    def one(n, width, noise, key):
        # unused samples and features are zeros: σ(0) = 0 gives them zero loss, zero
        # gradient and zero curvature, so every (n, N) shares one compiled program and the
        # BFGS iterates from zero stay in the span of the active features
        kx, kw, kt, kn = jr.split(key, 4)
        beta = jr.normal(kt, (d,)) / np.sqrt(d)
        x = jr.normal(kx, (n_max + n_test, d))
        y = x @ beta + noise * jr.normal(kn, (n_max + n_test,))
        rows = (jnp.arange(n_max) < n).astype(x.dtype)
        cols = (jnp.arange(w_max) < width).astype(x.dtype)
        w = jr.normal(kw, (d, w_max)) / np.sqrt(d) * cols
        prob = RandomFeatureRegression(
            x=x[:n_max] * rows[:, None],
            targets=y[:n_max] * rows,
            weights=w,
            objective=MSE(),
            activation=Activation.TANH,
        )
        fit = dynamics.minimize(
            prob,
            jnp.zeros(w_max),
            solver=optx.BFGS(rtol=1e-9, atol=1e-9),
            max_steps=cfg["max_steps"],
        )
        test = jnp.mean((prob.apply(fit.params, x[n_max:]) - y[n_max:]) ** 2)
        # the mean squared training residual over the n active samples
        train = jnp.sum((prob.apply(fit.params, x[:n_max]) - y[:n_max]) ** 2 * rows) / jnp.sum(rows)
        return test, train, fit.num_steps

    # the same data and features for every (n, N) of a seed: nested subsets
    seeds = jnp.asarray(grid[:, 2].astype(np.int64))
    keys = jax.vmap(lambda s: jr.fold_in(jr.key(SEED), s))(seeds)
    ints = jnp.asarray(grid[:, :2].astype(np.int64))
    test, train, gnorm = jax.jit(jax.vmap(one))(
        ints[:, 0], ints[:, 1], jnp.asarray(grid[:, 3]), keys
    )
    assert len(cfg["noises"]) == len(cfg["bases"])  # one array shape for the three axes
    shape = (len(AXES), len(cfg["bases"]), len(cfg["ratios"]), cfg["seeds"])
    return {
        "n": grid[:, 0].astype(np.int64).reshape(shape),
        "width": grid[:, 1].astype(np.int64).reshape(shape),
        "noise": grid[:, 3].reshape(shape),
        "test": np.asarray(test).reshape(shape),
        "train": np.asarray(train).reshape(shape),
        "num_steps": np.asarray(gnorm).reshape(shape),
        "bases": np.asarray(cfg["bases"]),
        "noises": np.asarray(cfg["noises"]),
        "noise_base": np.asarray(cfg["noise_base"]),
        "ratios": np.asarray(cfg["ratios"]),
        "dim": np.asarray(d),
        "num_test": np.asarray(n_test),
        "max_steps": np.asarray(cfg["max_steps"]),
    }


def _peaks(data, axis: int) -> np.ndarray:
    """log2 of the varied size (N on the width axis, n on the samples axis) at the maximum
    of the seed-median test error, per base."""
    med = np.median(data["test"][axis], axis=-1)  # (base, k)
    size = (data["n"] if AXES[axis] == "samples" else data["width"])[axis][..., 0]
    return np.log2(size[np.arange(med.shape[0]), np.argmax(med, axis=1)])


def _threshold_width(n):
    """log2 of the interpolation threshold N* = n at n training samples."""
    return float(np.log2(n))


def _threshold_samples(N):  # noqa: N803 (the width's symbol)
    """log2 of the interpolation threshold n* = N at width N."""
    return float(np.log2(N))


def _threshold_noise(noise, n):
    """log2 of the interpolation threshold N* = n at label noise `noise` (the threshold is
    where the feature matrix becomes square, whatever the noise)."""
    del noise
    return float(np.log2(n))


def claims(data: dict) -> list[Claim]:
    bases = [int(b) for b in data["bases"]]
    half = 0.5 * np.log2(STEP)  # half the grid's spacing in log2
    net = (
        f"two-layer tanh network, frozen random first layer (d = {int(data['dim'])} inputs), "
        "readout trained to the min-norm least-squares solution by BFGS from zero "
        "(dynamics.minimize), on a noisy linear teacher"
    )
    steps = data["num_steps"]
    over = data["width"] >= data["n"]
    budget = int(data["max_steps"])  # BFGS's step budget
    cap = steps >= budget
    capped = (
        f"; {int(cap.sum())} of {steps.size} BFGS runs stopped at the {budget}-step "
        f"budget ({int((cap & ~over).sum())} at N < n, where the least-squares solution is "
        f"unique; {int((cap & over).sum())} at N >= n), the others reached |∇L|∞ ≤ 1e-9"
    )
    out = []
    for axis, (what, fixed, varied, predict) in enumerate(
        (
            ("width N", "n", "N", _threshold_width),
            ("number of training samples n", "N", "n", _threshold_samples),
        )
    ):
        med = np.median(data["test"][axis], axis=-1)
        out.append(
            Claim.quantitative(
                f"double descent along the load axis ({what} varied): the test error of the "
                f"trained network peaks at the interpolation threshold {varied} = {fixed} "
                f"(log2 of {varied} at the peak)",
                PAPER,
                predict=predict,
                params=[{fixed: b} for b in bases],
                measured=_peaks(data, axis),
                atol=1.5 * half,
                error_estimate=half,
                error_source=f"half the grid's spacing ({varied} on a grid of ratio √2 around "
                f"{fixed}; a neighbour of the threshold fails)",
                note=f"seed-median test MSE at the peak {np.round(med.max(1), 2).tolist()}, at "
                f"the grid's ends {np.round(med[:, 0], 2).tolist()} / "
                f"{np.round(med[:, -1], 2).tolist()}; {data['test'].shape[-1]} seeds; "
                "theory: min-norm regression on N random features interpolates from N = n on "
                "(the n × N feature matrix is square at N = n, its smallest singular value "
                "→ 0: Belkin, Hsu, Ma & Mandal 2019, PNAS 116:15849; Mei & Montanari 2019, "
                "arXiv:1908.05355)" + capped,
                network=net,
            )
        )
    nb = int(data["noise_base"])
    med = np.median(data["test"][2], axis=-1)
    out.append(
        Claim.quantitative(
            f"the interpolation threshold does not move with the label noise (data quality): "
            f"at n = {nb} the test error peaks at N = n for every noise level (log2 of N at "
            "the peak)",
            PAPER,
            predict=_threshold_noise,
            params=[{"noise": float(v), "n": nb} for v in data["noises"]],
            measured=_peaks(data, 2),
            atol=1.5 * half,
            error_estimate=half,
            error_source="half the grid's spacing (N on a grid of ratio √2 around n; a "
            "neighbour of the threshold fails)",
            note=f"seed-median test MSE at the peak {np.round(med.max(1), 2).tolist()}, at the "
            f"grid's ends {np.round(med[:, 0], 2).tolist()} / "
            f"{np.round(med[:, -1], 2).tolist()} (the peak grows with the noise)" + capped,
            network=net,
        )
    )
    return out


def plot(data: dict, out) -> list:
    fig, axes = panels(3, height=3.6)
    nb = int(data["noise_base"])
    for axis, ax in enumerate(axes):
        for i, b in enumerate(data["bases"]):
            if AXES[axis] == "width":
                x, lab = data["width"][axis, i, :, 0] / b, f"n = {b}"
            elif AXES[axis] == "samples":
                x, lab = data["n"][axis, i, :, 0] / b, f"N = {b}"
            else:
                x, lab = data["width"][axis, i, :, 0] / nb, f"noise {data['noises'][i]:g}"
            med = np.median(data["test"][axis, i], axis=-1)
            ax.plot(x, med, "o-", color=f"C{i}", ms=4, label=lab)
        ax.axvline(1.0, color="k", ls=":", label="threshold N = n")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="n / N" if AXES[axis] == "samples" else "N / n (width / samples)",
            ylabel="test MSE",
            title={
                "width": "width varied",
                "samples": "samples varied",
                "noise": f"n = {nb}, label noise varied",
            }[AXES[axis]],
        )
        ax.set_xticks([0.5, 1.0, 2.0], ["0.5", "1", "2"])
        ax.minorticks_off()
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2)
    caption(
        fig,
        f"Random-feature networks (tanh, frozen first layer, d = {int(data['dim'])} Gaussian "
        f"inputs, linear teacher with label noise {NOISE} unless stated), readout trained to "
        "the min-norm "
        "least-squares solution (BFGS from zero); test MSE on "
        f"{int(data['num_test'])} points, median over {data['test'].shape[-1]} seeds "
        "(each line) "
        f"(seed {SEED})",
    )
    return [save(fig, out / "fig71_double_descent.png")]


if __name__ == "__main__":
    cli(__name__)
