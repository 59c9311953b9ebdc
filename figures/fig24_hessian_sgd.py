"""Li, Gu, Zhou, Chen & Banerjee (2020): the loss Hessian against the second moment of the
stochastic gradients, and SGD's one-step expected loss change, on a trained softmax MLP.

(a) Fisher identity: with labels drawn from the network's own predictive distribution, the
second moment of the per-sample gradients is the model Fisher
E_y[g gᵀ] = (1/N)Σ_n J_nᵀ(diag p_n − p_n p_nᵀ)J_n (`dynamics.fisher_information`, closed
form over the classes), measured by Monte Carlo over label draws on quadratic forms vᵀ·v
and the trace, at three checkpoints of training.
(b) One SGD step: E[L(θ − η g_B)] − L(θ) = −η‖∇L‖² + (η²/2)(∇LᵀH∇L + tr(HΣ_B)) + O(η³)
(`dynamics.sgd_expected_loss_change`), against the exact average over the N single-sample
steps (B = 1) at three learning rates and a Monte-Carlo average over mini-batches at three
batch sizes; the O(η³) error is the third-order Taylor term −(η³/6)E[∇³L[g_B, g_B, g_B]],
read off the same steps taken with −η (the odd part, exact to O(η⁵)).
(c) Scale: for a ReLU net, (αW₁, αb₁, W₂/α) leaves the loss unchanged but not λ_max(H), while
Σ log(|θ_i|√H_ii) is invariant: identities of the Hessian's transformation, tested in
tests/landscape/test_scale_invariance.py, not claimed."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.flatten_util import ravel_pytree
from matplotlib.ticker import NullFormatter

from figures._common import caption, cite, cli, panels, save
from toymodels import dynamics, landscape
from toymodels.claims import Claim, Comparison
from toymodels.data import gaussian_mixture
from toymodels.problems import mlp_classification


TITLE = "Hessian vs stochastic-gradient moments and the one-step SGD loss change (softmax MLP)"
SEED = 24
PAPER = cite("li_sgd", "§3-4 (Hessian and the SG second moment; SGD's one-step loss change)")
NUM_SAMPLES, DIM, CLASSES, HIDDEN = 200, 6, 3, 12
CHECKPOINTS = (25, 100, 400)
LEARNING_RATE = 0.5  # full-batch GD that trains the network
SGD_ETAS = (0.01, 0.02, 0.04)  # one-step SGD, batch size 1 (exact average over samples)
BATCH_SIZES = (1, 4, 16)
BATCH_ETA = 0.05


def _network(key):
    kd, ki = jr.split(key)
    # one compiled program instead of a string of eager operations
    x, labels = jax.jit(
        lambda k: gaussian_mixture(
            key=k, num_samples=NUM_SAMPLES, dim=DIM, num_classes=CLASSES, separation=1.5
        )
    )(kd)
    return x, labels, ki


@jax.jit
def _fisher(prob, nets, probes, keys):
    """For each checkpoint (leading axis of `nets`): the model Fisher's quadratic forms vᵀFv
    (probe columns) and trace, and per label draw the same forms of (1/N)Σ g_n g_nᵀ with
    labels drawn from the network's softmax."""

    def forms(m):
        return jnp.concatenate([jnp.einsum("pi,pq,qi->i", probes, m, probes), jnp.trace(m)[None]])

    def draw(params, key):
        y = jr.categorical(key, prob.apply(params, prob.x))
        g = dynamics.per_sample_gradients(prob.with_data(prob.x, y), params)
        return jnp.concatenate([jnp.mean((g @ probes) ** 2, 0), jnp.mean(jnp.sum(g**2, 1))[None]])

    def one(params):
        pred = forms(dynamics.fisher_information(prob, params))
        return pred, jax.vmap(lambda k: draw(params, k))(keys)

    return jax.vmap(one)(nets)


@jax.jit
def _one_step(prob, params, weights, etas):
    """For each learning rate `etas[k]` and each row of `weights[k]` (mini-batch
    multiplicities / B): the loss change of one SGD step, L(θ − η g_B) − L(θ), with the
    control variate η(∇L·g_B − ‖∇L‖²) (mean zero) added."""
    flat, unravel = ravel_pytree(params)

    def lossf(f):
        return prob.loss(unravel(f))

    g = jax.grad(lossf)(flat)
    gs = dynamics.per_sample_gradients(prob, params)
    l0 = lossf(flat)

    def at(w, eta):
        gb = w @ gs
        return jax.vmap(lambda v: lossf(flat - eta * v))(gb) - l0 + eta * (gb @ g - g @ g)

    return jax.vmap(at)(weights, etas)


@jax.jit
def _second_order(prob, params):
    """The library's one-step prediction at η = 1 for each batch size, and λ_max."""
    pred = jnp.stack(
        [
            dynamics.sgd_expected_loss_change(prob, params, learning_rate=1.0, batch_size=b)
            for b in BATCH_SIZES
        ]
    )
    return pred, jnp.linalg.eigvalsh(landscape.hessian(prob, params))[-1]


def compute(*, fast: bool) -> dict:
    x, labels, k = _network(jr.key(SEED))
    k_init, k_run, k_probe, k_draw = jr.split(k, 4)
    prob = mlp_classification(x, labels, hidden=HIDDEN, activation="tanh")
    tr = dynamics.run(
        prob,
        prob.init(k_init),
        dynamics.GD(learning_rate=LEARNING_RATE),
        num_steps=CHECKPOINTS[-1],
        key=k_run,
        save=dynamics.Save(steps=CHECKPOINTS),
    )
    nets = [jax.tree.map(lambda v, i=i: v[i], tr.saved) for i in range(len(CHECKPOINTS))]
    num_params = ravel_pytree(nets[0])[0].size
    probes = jr.normal(k_probe, (num_params, 4))
    probes = probes / jnp.linalg.norm(probes, axis=0)
    draws = 48 if fast else 512
    f_pred, q = (np.asarray(v) for v in _fisher(prob, tr.saved, probes, jr.split(k_draw, draws)))
    f_mean, f_se = q.mean(1), q.std(1, ddof=1) / np.sqrt(draws)
    # (b) one SGD step from the middle checkpoint
    p = nets[1]
    grad = ravel_pytree(jax.grad(prob.loss)(p))[0]
    first = float(grad @ grad)
    # the library's second-order prediction at η = 1, split into its two terms
    pred1, lam = _second_order(prob, p)
    second = [2 * float(v) + 2 * first for v in pred1]
    mc = 400 if fast else 8000  # a multiple of N: B = 1 uses every sample mc/N times
    # B = 1 exactly: every single-sample step, each the same number of times; then the
    # mini-batches of each size (with replacement); one program for all six averages
    weights = [np.tile(np.eye(NUM_SAMPLES), (mc // NUM_SAMPLES, 1))] * len(SGD_ETAS)
    rng = np.random.default_rng(SEED)
    for b in BATCH_SIZES:
        w = np.zeros((mc, NUM_SAMPLES))
        np.add.at(w, (np.arange(mc)[:, None], rng.integers(0, NUM_SAMPLES, (mc, b))), 1 / b)
        weights.append(w)
    etas = np.array([*SGD_ETAS] + [BATCH_ETA] * len(BATCH_SIZES))
    # the same steps with −η: the odd part of η ↦ ΔL is −η‖∇L‖² − (η³/6)∇³L[g, g, g] +
    # O(η⁵), so ½(c(η) − c(−η)) + η‖∇L‖² is the third-order Taylor term of each step
    both = _one_step(
        prob, p, jnp.asarray(np.concatenate([weights, weights])), jnp.asarray(np.r_[etas, -etas])
    )
    c, c_minus = np.split(np.asarray(both), 2)
    c3 = 0.5 * (c - c_minus) + etas[:, None] * first
    k = len(SGD_ETAS)
    exact, exact_cubic = c[:k].mean(1), c3[:k].mean(1)
    b_mean, b_cubic = c[k:].mean(1), c3[k:].mean(1)
    b_se = c[k:].std(1, ddof=1) / np.sqrt(mc)
    lam = float(lam)
    return {
        "checkpoints": np.asarray(CHECKPOINTS),
        "train_loss": np.asarray(tr.loss),
        "fisher_pred": f_pred,
        "fisher_mc": f_mean,
        "fisher_se": f_se,
        "fisher_draws": np.asarray(draws),
        "grad_sq": np.asarray(first),
        "second": np.array(second),
        "etas": np.asarray(SGD_ETAS),
        "exact": np.array(exact),
        "exact_cubic": np.array(exact_cubic),
        "batch_sizes": np.asarray(BATCH_SIZES),
        "batch_mc": np.array(b_mean),
        "batch_se": np.array(b_se),
        "batch_cubic": np.array(b_cubic),
        "batch_draws": np.asarray(mc),
        "lambda_max": np.asarray(lam),
    }


def _net(data) -> str:
    return (
        f"tanh MLP {DIM}-{HIDDEN}-{CLASSES}, softmax cross-entropy on a {CLASSES}-class "
        f"Gaussian mixture (N = {NUM_SAMPLES}), full-batch GD (lr {LEARNING_RATE})"
    )


def claims(data: dict) -> list[Claim]:
    steps = [int(s) for s in data["checkpoints"]]
    at = {s: k for k, s in enumerate(steps)}
    se = data["fisher_se"]
    etas = [float(e) for e in data["etas"]]
    at_eta = {e: k for k, e in enumerate(etas)}
    sizes = [int(b) for b in data["batch_sizes"]]
    at_b = {b: k for k, b in enumerate(sizes)}
    first = float(data["grad_sq"])
    second = data["second"]
    cubic = np.abs(data["exact_cubic"])
    b_err = data["batch_se"] + np.abs(data["batch_cubic"])
    mid = steps[1]
    return [
        Claim.quantitative(
            "Fisher identity: the second moment of the per-sample gradients with labels drawn "
            "from the model, E_y[g gᵀ], equals the model Fisher (1/N)Σ J_nᵀ(diag p − ppᵀ)J_n "
            "(4 random quadratic forms vᵀ·v and the trace)",
            PAPER,
            predict=lambda step: data["fisher_pred"][at[step]],
            params=[{"step": s} for s in steps],
            measured=data["fisher_mc"],
            atol=4 * se,
            error_estimate=se,
            error_source=f"Monte-Carlo standard error over {int(data['fisher_draws'])} label draws",
            network=_net(data) + f", at steps {steps}",
            note=f"largest |MC − Fisher|/SE = {np.max(np.abs(data['fisher_mc'] - data['fisher_pred']) / se):.2f}",
        ),
        Claim.quantitative(
            "one SGD step (batch 1): E[L(θ − ηg)] − L(θ) = −η‖∇L‖² + (η²/2)(∇LᵀH∇L + tr(HΣ))",
            PAPER,
            predict=lambda learning_rate, batch_size: (
                -learning_rate * first + 0.5 * learning_rate**2 * second[at_b[batch_size]]
            ),
            params=[{"learning_rate": e, "batch_size": 1} for e in etas],
            measured=data["exact"],
            atol=2 * cubic,
            error_estimate=cubic,
            error_source="the third-order Taylor term (η³/6)|E ∇³L[g, g, g]|, from the same "
            "steps with −η (odd part, to O(η⁵)); the average over the N single-sample steps "
            "is exact",
            network=_net(data) + f", at step {mid}",
            note=f"second-order term / error estimate = "
            f"{np.round(0.5 * np.array(etas) ** 2 * second[0] / cubic, 1).tolist()}; "
            f"λ_max = {float(data['lambda_max']):.3g}",
        ),
        Claim.quantitative(
            f"one SGD step at η = {BATCH_ETA:g} against the batch size (with replacement): "
            "the η² term tr(HΣ_B) shrinks as 1/B",
            PAPER,
            predict=lambda batch_size, learning_rate: (
                -learning_rate * first + 0.5 * learning_rate**2 * second[at_b[batch_size]]
            ),
            params=[{"batch_size": b, "learning_rate": BATCH_ETA} for b in sizes],
            measured=data["batch_mc"],
            atol=3 * b_err,
            error_estimate=b_err,
            error_source=f"Monte-Carlo standard error over {int(data['batch_draws'])} "
            "mini-batches (control variate η(∇L·g_B − ‖∇L‖²)) plus the third-order Taylor "
            "term",
            network=_net(data) + f", at step {mid}",
        ),
        Claim.qualitative(
            "batch 1 at η = 0.01 raises the expected loss near the end of training: η exceeds "
            "2‖∇L‖²/(∇LᵀH∇L + tr(HΣ))",
            PAPER,
            predicted=0.0,
            measured=float(data["exact"][at_eta[etas[0]]]),
            comparison=Comparison.GREATER,
            params=[{"learning_rate": etas[0], "batch_size": 1}],
            note=f"threshold 2‖∇L‖²/(…) = {2 * first / second[0]:.3g}",
        ),
    ]


def plot(data: dict, out) -> list:
    fig, (a0, a1, a2) = panels(3, height=2.9)
    steps = data["checkpoints"]
    for k, s in enumerate(steps):
        pred, mc, se = (
            data["fisher_pred"][k, :4],
            data["fisher_mc"][k, :4],
            data["fisher_se"][k, :4],
        )
        a0.errorbar(pred, mc, yerr=2 * se, fmt="o", ms=3, color=f"C{k}", label=f"step {int(s)}")
    lo = float(np.min(data["fisher_pred"][:, :4]))
    hi = float(np.max(data["fisher_pred"][:, :4]))
    a0.plot([lo, hi], [lo, hi], "k-", lw=0.6, label="identity")
    a0.set(
        xlabel="vᵀFv (model Fisher)",
        ylabel="vᵀE[ggᵀ]v (MC, ±2 SE)",
        title="Fisher identity",
    )
    a0.legend()
    e = np.geomspace(data["etas"][0] / 2, data["etas"][-1] * 2, 50)
    first, second = float(data["grad_sq"]), data["second"]
    a1.loglog(e, -e * first + 0.5 * e**2 * second[0], "-", color="C0", label="2nd-order formula")
    a1.loglog(data["etas"], data["exact"], "o", color="C1", label="exact mean over samples")
    a1.xaxis.set_minor_formatter(NullFormatter())
    a1.set(xlabel="learning rate η (batch 1)", ylabel="E[ΔL]", title="one SGD step")
    a1.legend()
    b = data["batch_sizes"]
    a2.errorbar(
        b, data["batch_mc"], yerr=2 * data["batch_se"], fmt="o", color="C1", label="MC ±2 SE"
    )
    a2.plot(
        b,
        -BATCH_ETA * first + 0.5 * BATCH_ETA**2 * second,
        "s-",
        ms=3,
        color="C0",
        label="2nd-order formula",
    )
    a2.set(
        xscale="log",
        xlabel="batch size B",
        ylabel="E[ΔL]",
        title=f"one SGD step, η = {BATCH_ETA:g}",
    )
    a2.legend()
    caption(
        fig,
        f"tanh MLP {DIM}-{HIDDEN}-{CLASSES}, softmax cross-entropy, {NUM_SAMPLES} points of a "
        f"{CLASSES}-class Gaussian mixture, full-batch GD (lr {LEARNING_RATE}) checkpoints at "
        f"steps {', '.join(str(int(s)) for s in steps)} (seed {SEED}); Fisher by "
        f"{int(data['fisher_draws'])} label draws; one-step SGD from step {int(steps[1])}, "
        f"{int(data['batch_draws'])} mini-batches per B",
    )
    return [save(fig, out / "fig24_hessian_sgd.png")]


if __name__ == "__main__":
    cli(__name__)
