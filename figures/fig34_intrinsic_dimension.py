"""Li, Farkhoor, Liu & Yosinski (2018): training in random affine subspaces θ = θ₀ + Pz with
orthonormal P, and the intrinsic dimension d₉₀ (smallest d reaching 90% of the full-space
performance of the median seed), on the group-sum toy whose intrinsic dimension is the number
of groups. Below it the subspace still lowers the loss by a predictable share: the solutions
have codimension G, the loss is half the mean square of the G-vector of group residuals, and
a random d-dim subspace through θ₀ moves that vector in a uniformly random d-dim subspace of
R^G, so the trained loss keeps the fraction 1 − d/G of L(θ₀) on average (the share removed is
Beta(d/2, (G − d)/2)-distributed)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from figures._common import caption, cite, cli, panels, save
from toymodels import dynamics, landscape as L
from toymodels.claims import Claim


TITLE = "Intrinsic dimension by random-subspace training (group-sum toy)"
SEED = 34
PAPER = cite("li_intrinsic", "§2 (the toy whose intrinsic dimension is the number of groups)")
#: (D, groups): the paper's toy and two more sizes (the prediction is d_int = groups)
CASES = ((1000, 10), (300, 5), (300, 3))  # the last shares the second's programs
#: the loss left below the intrinsic dimension: case CASES[LOSS_CASE], d = 1 … G − 1, this
#: many draws of (θ₀, P) each, one vmapped run
LOSS_CASE, LOSS_SEEDS = 1, 64


def _loss_left(prob, *, key, groups: int, num_steps: int, num_seeds: int):
    """L(θ₀ + Pz*)/L(θ₀) after training z by Adam in random d-dim subspaces (d = 1 … G − 1,
    nested: the first d columns of one orthonormal P per draw, numpy's QR of a Gaussian
    matrix), and the same ratio at the exact least-squares minimum in each subspace (numpy,
    the optimisation's error). One vmapped run over (d, draw)."""
    rng = np.random.default_rng([SEED, groups, num_seeds])
    dmax = groups - 1
    p0 = np.asarray(jax.vmap(prob.init)(jr.split(key, num_seeds)))  # (seed, D)
    bases = np.linalg.qr(rng.standard_normal((num_seeds, prob.dim, dmax)))[0]
    dims = np.arange(1, groups)
    masks = (np.arange(dmax)[None, :] < dims[:, None]).astype(float)  # (d, dmax)
    opt = optax.adam(optax.cosine_decay_schedule(0.3, num_steps))

    def one(origin, basis, mask):
        sub = L.SubspaceProblem(prob, origin, basis, mask)
        stop = dynamics.Stop(max_norm=None, loss_ratio=None)  # a stop only on non-finite
        z = dynamics.run(sub, jnp.zeros(dmax), opt, num_steps=num_steps, key=key, stop=stop)
        return prob.loss(sub.to_params(z.params)) / prob.loss(origin)

    batch = jax.jit(jax.vmap(jax.vmap(one, in_axes=(0, 0, None)), in_axes=(None, None, 0)))
    trained = batch(jnp.asarray(p0), jnp.asarray(bases), jnp.asarray(masks))
    # the exact minima: least squares of the group residuals in the subspace's columns
    g = p0.shape[1] // groups
    sums = np.asarray(prob.sums)
    r0 = p0.reshape(num_seeds, groups, g).sum(-1) - sums  # (seed, G)
    a = bases.reshape(num_seeds, groups, g, dmax).sum(2)  # (seed, G, dmax)
    exact = np.empty((dims.size, num_seeds))
    for i, d in enumerate(dims):
        for j in range(num_seeds):
            res = r0[j] - a[j, :, :d] @ np.linalg.lstsq(a[j, :, :d], r0[j], rcond=None)[0]
            exact[i, j] = np.mean(res**2) / np.mean(r0[j] ** 2)
    return np.asarray(trained), np.asarray(exact)  # (d, seed)


def compute(*, fast: bool) -> dict:
    out = {}
    steps = 1500 if fast else 10000
    out["num_steps"] = np.asarray(steps)
    seeds = 3 if fast else 10
    for i, (dim, groups) in enumerate(CASES):
        k_prob, k_run = jr.split(jr.fold_in(jr.key(SEED), i))
        prob = L.group_sum_problem(key=k_prob, dim=dim, groups=groups, tol=1e-2)
        res = L.intrinsic_dimension(
            prob,
            key=k_run,
            dims=np.arange(1, 2 * groups + 1),
            performance=prob.accuracy,
            num_seeds=seeds,
            num_steps=steps,
            optimizer=optax.adam(optax.cosine_decay_schedule(0.3, steps)),
        )
        out[f"dims_{i}"] = np.asarray(res.dims)
        out[f"performance_{i}"] = np.asarray(res.performance)
        out[f"baseline_{i}"] = np.asarray(res.baseline)
        out[f"threshold_{i}"] = np.asarray(res.threshold)
        out[f"d_int_{i}"] = np.asarray(res.dimension)
        if i == LOSS_CASE:
            out["loss_left"], out["loss_left_exact"] = _loss_left(
                prob,
                key=jr.fold_in(k_run, 1),
                groups=groups,
                num_steps=steps,
                num_seeds=LOSS_SEEDS,
            )
    return out


def claims(data: dict) -> list[Claim]:
    dim, groups = CASES[LOSS_CASE]
    left, exact = data["loss_left"], data["loss_left_exact"]
    seeds = left.shape[1]
    ds = np.arange(1, groups)
    # Monte-Carlo error of the mean over draws: the Beta(d/2, (G − d)/2) share removed has
    # variance 2(d/G)(1 − d/G)/(G + 2); plus Adam's distance to the exact minimum
    mc = np.sqrt(2 * (ds / groups) * (1 - ds / groups) / (groups + 2) / seeds)
    opt_err = np.max(np.abs(left - exact), axis=1)

    def loss_fraction_left(dim, groups, d):
        return 1.0 - d / groups

    return [
        Claim.quantitative(
            "below the intrinsic dimension a random d-dim subspace keeps the fraction "
            "1 − d/G of the initial loss (mean over draws of θ₀ and P of L(trained)/L(θ₀))",
            PAPER,
            predict=loss_fraction_left,
            params=[{"dim": dim, "groups": groups, "d": int(d)} for d in ds],
            measured=np.mean(left, axis=1),
            atol=2 * (mc + opt_err),
            error_estimate=mc + opt_err,
            error_source=f"Monte-Carlo standard error over {seeds} draws (the removed share is "
            "Beta(d/2, (G − d)/2): variance 2(d/G)(1 − d/G)/(G + 2)) plus the largest gap "
            "between Adam's loss and the subspace's exact least-squares minimum",
            note=f"D = {dim}, G = {groups}; per-draw ratios spread "
            f"{np.round(np.std(left, axis=1), 3).tolist()}; Adam vs exact minimum within "
            f"{opt_err.max():.1g}; counting parameters instead (1 − d/D) would predict ≈ 1",
        ),
        Claim.quantitative(
            "d₉₀ of the group-sum toy equals its number of groups",
            PAPER,
            predict=lambda dim, groups: float(groups),
            params=[{"dim": dim, "groups": groups} for dim, groups in CASES],
            measured=np.array([float(data[f"d_int_{i}"]) for i in range(len(CASES))]),
            atol=1.0,
            error_estimate=1.0,
            error_source="the integer grid of d: the 90 % threshold can be crossed one "
            "dimension early when a seed solves the last group by chance",
        ),
    ]


def plot(data: dict, out) -> list:
    fig, axes = panels(len(CASES), height=3.0)
    for i, (ax, (dim, groups)) in enumerate(zip(axes, CASES)):
        d, perf = data[f"dims_{i}"], data[f"performance_{i}"]
        ax.plot(np.repeat(d, perf.shape[1]), perf.ravel(), ".", color="0.6", ms=3, label="seeds")
        ax.plot(d, np.median(perf, axis=1), "o-", ms=3, label="median")
        ax.axhline(float(data[f"threshold_{i}"]), color="C3", ls="--", label="90 % of full")
        ax.axvline(groups, color="k", lw=0.6, label=f"d = {groups} groups")
        ax.set(
            xlabel="subspace dimension d",
            ylabel="fraction of groups solved" if i == 0 else None,
            title=f"D = {dim}: d₉₀ = {int(data[f'd_int_{i}'])}",
        )
        ax.legend(loc="center right")
    seeds = data["performance_0"].shape[1]
    caption(
        fig,
        f"Group-sum toy (D parameters in k groups, tolerance 1e-2) trained in random affine "
        f"subspaces θ₀ + Pz of dimension d: Adam with cosine decay from 0.3 for "
        f"{int(data['num_steps'])} steps, {seeds} seeds per d, seed {SEED}; the claims add "
        f"{data['loss_left'].shape[1]} draws of (θ₀, P) at D = {CASES[LOSS_CASE][0]}, "
        f"d < {CASES[LOSS_CASE][1]} (loss left, not drawn)",
    )
    return [save(fig, out / "fig34_intrinsic_dimension.png")]


if __name__ == "__main__":
    cli(__name__)
