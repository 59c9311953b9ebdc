"""Li, Farkhoor, Liu & Yosinski (2018): training in random affine subspaces θ = θ₀ + Pz with
orthonormal P, and the intrinsic dimension d₉₀ (smallest d reaching 90% of the full-space
performance of the median seed), on the group-sum toy whose intrinsic dimension is the number
of groups. Below it the subspace still lowers the loss by a predictable share: the solutions
have codimension G, the loss is half the mean square of the G-vector of group residuals, and
a random d-dim subspace through θ₀ moves that vector in a uniformly random d-dim subspace of
R^G, so the trained loss keeps the fraction 1 − d/G of L(θ₀) on average (the share removed is
Beta(d/2, (G − d)/2)-distributed).

The same argument on a trained network: a tanh MLP regressing N random targets (its init's
outputs plus isotropic Gaussian noise of scale `NET_NOISE`) has solutions of codimension N,
and in the linear regime a random d-dim subspace moves the residual in the d-dim column space
of J·P; an isotropic residual independent of J·P keeps the fraction 1 − d/N of the loss on
average, whatever the network's Jacobian spectrum (neither 1 − d/P, counting parameters,
nor 0, solving the task)."""

import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from figures._common import caption, cite, cli, panels, save
from toymodels import dynamics, landscape as L
from toymodels.claims import Claim
from toymodels.problems import mlp_regression


TITLE = "Intrinsic dimension by random-subspace training (group-sum toy)"
SEED = 34
PAPER = cite("li_intrinsic", "§2 (the toy whose intrinsic dimension is the number of groups)")
#: (D, groups): the paper's toy and two more sizes (the prediction is d_int = groups)
CASES = ((1000, 10), (300, 5), (300, 3))  # the last shares the second's programs
#: the loss left below the intrinsic dimension: case CASES[LOSS_CASE], d = 1 … G − 1, this
#: many draws of (θ₀, P) each, one vmapped run
LOSS_CASE, LOSS_SEEDS = 1, 64
#: the network check: N samples (4 Gaussian inputs), hidden width, subspace dimensions d,
#: draws of (targets, P), Adam steps (cosine decay from NET_LR) and the targets' noise scale
#: (small: the linear regime of the network around θ₀)
NET_SAMPLES, NET_WIDTH, NET_DIMS, NET_DRAWS = 32, 16, (4, 8, 16), 24
NET_STEPS, NET_LR, NET_NOISE = 300, 0.03, 0.01
NET = (
    f"tanh MLP 4-{NET_WIDTH}-1 (biases, {6 * NET_WIDTH + 1} params), ½-MSE on {NET_SAMPLES} "
    f"Gaussian inputs with targets f(θ₀) + {NET_NOISE}·N(0, 1), trained in random subspaces "
    f"θ₀ + Pz by Adam ({NET_STEPS} steps, dynamics.run)"
)


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


def _network_loss_left() -> dict:
    """L(θ₀ + Pz*)/L(θ₀) of the MLP `NET` trained in random d-dim subspaces (d ∈ `NET_DIMS`,
    nested columns of one orthonormal P per draw, a fresh noise vector per draw), one
    vmapped run over (d, draw); and the ratio the network linearised at θ₀ would reach
    (numpy least squares on J·P): the nonlinearity's and the optimisation's share of the
    error."""
    kx, k0, k_run = jr.split(jr.fold_in(jr.key(SEED), 99), 3)
    x = jr.normal(kx, (NET_SAMPLES, 4))
    prob = mlp_regression(x, jnp.zeros(NET_SAMPLES), hidden=NET_WIDTH)
    p0 = jax.jit(lambda k: prob.init(k))(k0)
    flat0, unravel = jax.flatten_util.ravel_pytree(p0)
    f0 = prob.outputs(p0)
    rng = np.random.default_rng([SEED, NET_SAMPLES])
    dmax = max(NET_DIMS)
    bases = np.linalg.qr(rng.standard_normal((NET_DRAWS, flat0.size, dmax)))[0]
    noise = NET_NOISE * rng.standard_normal((NET_DRAWS, NET_SAMPLES))
    masks = (np.arange(dmax)[None, :] < np.asarray(NET_DIMS)[:, None]).astype(float)
    opt = optax.adam(optax.cosine_decay_schedule(NET_LR, NET_STEPS))

    def one(basis, eps, mask):
        task = prob.with_data(x, f0 + eps)
        sub = L.SubspaceProblem(task, p0, basis, mask)
        stop = dynamics.Stop(max_norm=None, loss_ratio=None)
        z = dynamics.run(sub, jnp.zeros(dmax), opt, num_steps=NET_STEPS, key=k_run, stop=stop)
        return task.loss(sub.to_params(z.params)) / task.loss(p0)

    batch = jax.jit(jax.vmap(jax.vmap(one, in_axes=(0, 0, None)), in_axes=(None, None, 0)))
    trained = np.asarray(batch(jnp.asarray(bases), jnp.asarray(noise), jnp.asarray(masks)))
    jac = np.asarray(jax.jit(jax.jacfwd(lambda f: prob.outputs(unravel(f))))(flat0))
    linear = np.empty_like(trained)
    for i, d in enumerate(NET_DIMS):
        for j in range(NET_DRAWS):
            a = jac @ bases[j][:, :d]
            res = noise[j] - a @ np.linalg.lstsq(a, noise[j], rcond=None)[0]
            linear[i, j] = res @ res / (noise[j] @ noise[j])
    return {
        "net_loss_left": trained,
        "net_loss_left_linear": linear,
        "net_num_params": np.asarray(flat0.size),
    }


def compute(*, fast: bool) -> dict:
    out = _network_loss_left()
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

    net, net_lin = data["net_loss_left"], data["net_loss_left_linear"]
    nd = np.asarray(NET_DIMS)
    n_s, n_p = NET_SAMPLES, int(data["net_num_params"])
    net_mc = np.sqrt(2 * (nd / n_s) * (1 - nd / n_s) / (n_s + 2) / net.shape[1])
    net_bias = np.abs(np.mean(net - net_lin, axis=1))
    net_err = net_mc + net_bias

    def network_loss_fraction_left(num_samples, d):
        return 1.0 - d / num_samples

    net_claim = Claim.quantitative(
        "a trained network below its intrinsic dimension: an MLP regressing N random "
        "targets keeps the fraction 1 − d/N of its initial loss after training in a random "
        "d-dim subspace (the solutions' codimension is N)",
        PAPER,
        predict=network_loss_fraction_left,
        params=[{"num_samples": n_s, "d": int(d)} for d in nd],
        measured=np.mean(net, axis=1),
        atol=3 * net_err,
        error_estimate=net_err,
        error_source=f"Monte-Carlo standard error over {net.shape[1]} draws of (targets, P) "
        "(the removed share is Beta(d/2, (N − d)/2) in the linear regime) plus the mean gap "
        "between the trained ratio and the linearised network's least-squares ratio "
        "(nonlinearity and Adam's optimisation error)",
        note=f"means {np.round(np.mean(net, axis=1), 3).tolist()}, linearised "
        f"{np.round(np.mean(net_lin, axis=1), 3).tolist()}, per-draw spread "
        f"{np.round(np.std(net, axis=1), 3).tolist()}; counting parameters (1 − d/P, P = "
        f"{n_p}) would predict {np.round(1 - nd / n_p, 3).tolist()}",
        network=NET,
    )
    return [
        net_claim,
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
        f"d < {CASES[LOSS_CASE][1]} (loss left, not drawn), and a trained network: {NET}, "
        f"{data['net_loss_left'].shape[1]} draws per d ∈ {list(NET_DIMS)} (not drawn)",
    )
    return [save(fig, out / "fig34_intrinsic_dimension.png")]


if __name__ == "__main__":
    cli(__name__)
