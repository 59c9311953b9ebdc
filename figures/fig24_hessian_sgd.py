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
tests/landscape/test_scale_invariance.py, not claimed.
(d) Many SGD steps at a minimum: the L2-regularised loss L + (λ/2)‖θ‖² (λ = 0.03) has a
finite minimum θ* (Hessian positive definite), reached by heavy-ball descent from the trained
net (`dynamics.run`) and Newton's method (`dynamics.find_critical_point`). Linearised, SGD is δ_{t+1} = (I − ηH)δ_t − ηξ_t
with the mini-batch noise covariance Σ_B = Σ_1(N − B)/(B(N − 1)) (without replacement), so
the stationary covariance solves S = (I − ηH)S(I − ηH)ᵀ + η²Σ_B, i.e.
S_ij = η²(Σ_B)_ij/(1 − (1 − ηλ_i)(1 − ηλ_j)) in H's eigenbasis, and the stationary excess
loss is ½tr(HS) = (η/2)Σ_i(Σ_B)_ii/(2 − ηλ_i) [our derivation]; against the time-averaged
loss of SGD runs at three (η, B) with ηλ_max up to 1.5, where the small-η shortcut
(η/4)tr Σ_B fails. The runs are `dynamics.run` on a stochastic problem whose steps weight a
random subset of traced size B (one program for every B); the nonlinearity is read off a
control run at a batch size B' with about twice the noise, on the same permutations."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float
from matplotlib.ticker import NullFormatter

from figures._common import caption, cite, cli, panels, save
from toymodels import dynamics, landscape
from toymodels.claims import Claim, Comparison
from toymodels.data import gaussian_mixture
from toymodels.problems import (
    AbstractProblem,
    AbstractStochasticProblem,
    MLPProblem,
    mlp_classification,
)


TITLE = "Hessian vs stochastic-gradient moments and the one-step SGD loss change (softmax MLP)"
SEED = 24
PAPER = cite("li_sgd", "§3-4 (Hessian and the SG second moment; SGD's one-step loss change)")
NUM_SAMPLES, DIM, CLASSES, HIDDEN = 200, 6, 3, 12
CHECKPOINTS = (25, 100, 400)
LEARNING_RATE = 0.5  # full-batch GD that trains the network
SGD_ETAS = (0.01, 0.02, 0.04)  # one-step SGD, batch size 1 (exact average over samples)
BATCH_SIZES = (1, 4, 16)
BATCH_ETA = 0.05
DECAY = 0.03  # L2 coefficient of the regularised loss whose minimum the SGD runs sit at
# (η, B, B'): the claimed runs at batch B and a control at B' with about twice the noise
STATIONARY = ((0.5, 100, 67), (1.0, 150, 120), (1.4, 150, 120))
DESCENT_STEPS, DESCENT_LR, DESCENT_MOMENTUM = 400, 1.5, 0.9  # heavy ball to θ*
BLOCKS = 8  # batch means per run for the standard error


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


@jax.jit
def _at_minimum(full, prob, params):
    """(d): the Hessian of the regularised loss and the single-sample gradient covariance Σ_1
    (the L2 term adds the same vector to every per-sample gradient: Σ is the network's)."""
    return landscape.hessian(full, params), dynamics.gradient_noise_covariance(
        prob, params, batch_size=1
    )


class _Regularised(AbstractProblem):
    """(d): the network's loss with per-sample `weights` (1/N each: the full-data loss) plus
    (`decay`/2)‖θ‖²."""

    net: MLPProblem
    weights: Float[Array, " N"]
    decay: float

    def loss(self, params):
        ell = self.net.objective.per_sample(self.net.apply(params, self.net.x), self.net.targets)
        sq = sum(jnp.vdot(v, v) for v in jax.tree.leaves(params))
        return ell @ self.weights + 0.5 * self.decay * sq

    def init(self, key):
        return self.net.init(key)


class _Subsets(AbstractStochasticProblem):
    """(d): SGD's minibatches at a traced `batch_size` (one program for every B): each step's
    problem weights the samples of a uniformly random subset of size B (without replacement:
    the samples whose rank in a random permutation is below B) by 1/B; `loss` is the
    full-data loss that `Save` records."""

    full: _Regularised
    batch_size: Float[Array, ""]

    def loss(self, params):
        return self.full.loss(params)

    def init(self, key):
        return self.full.init(key)

    def sample(self, key):
        n = self.full.weights.shape[0]
        rank = jnp.argsort(jr.uniform(key, (n,)))
        w = jnp.where(rank.astype(self.batch_size.dtype) < self.batch_size, 1.0, 0.0)
        w = w / self.batch_size
        return eqx.tree_at(lambda q: q.weights, self.full, w.astype(self.full.weights.dtype))


def _full_loss(step, params, opt_state, loss):
    return loss


@eqx.filter_jit
def _stationary(full, star, etas, sizes, keys, *, num_steps):
    """(d): one SGD run (`dynamics.run`, GD on `_Subsets`) per row from θ* (learning rate
    `etas[r]`, batch size `sizes[r]`, key `keys[r]`: a run and its control share a key, so
    the control's batches are subsets of the run's); the full-data loss at every step."""

    def one(eta, b, key):
        return dynamics.run(
            _Subsets(full=full, batch_size=b),
            star,
            dynamics.GD(learning_rate=eta),
            num_steps=num_steps,
            key=key,
            save=dynamics.Save(every=1, fn=_full_loss),
        ).saved

    return jax.vmap(one)(etas, sizes, keys)


def _fpc(b):
    """Σ_B/Σ_1 for a batch of b of the N samples drawn without replacement."""
    return (NUM_SAMPLES - b) / (b * (NUM_SAMPLES - 1))


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
    # (d) SGD at the minimum of the regularised loss, started from the trained net
    burn, steps, seeds = (60, 1340, 2) if fast else (500, 5500, 8)
    # θ*: heavy ball from the trained net, then Newton (dynamics.find_critical_point)
    full = _Regularised(net=prob, weights=jnp.full((NUM_SAMPLES,), 1.0 / NUM_SAMPLES), decay=DECAY)
    k_descent, k_sgd = jr.split(jr.key(SEED + 1))
    descent = dynamics.run(
        full,
        nets[-1],
        dynamics.HeavyBall(learning_rate=DESCENT_LR, momentum=DESCENT_MOMENTUM),
        num_steps=DESCENT_STEPS,
        key=k_descent,
    )
    descent_grad = float(np.max(np.abs(ravel_pytree(jax.grad(full.loss)(descent.params))[0])))
    cp = dynamics.find_critical_point(full, descent.params, gtol=1e-12)
    if not (cp.converged and cp.index == 0 and cp.num_zero_modes == 0):
        raise RuntimeError(
            f"θ* is not a minimum: index {cp.index}, zero modes {cp.num_zero_modes}, "
            f"|∇|∞ {cp.grad_norm:.2e}"
        )
    h_star, sigma1 = (np.asarray(v) for v in _at_minimum(full, prob, cp.params))
    lam_star, vecs = np.linalg.eigh(h_star)
    sig_eig = vecs.T @ sigma1 @ vecs
    loss_star = float(cp.loss)
    flat_star = np.asarray(ravel_pytree(cp.params)[0])
    # rows: for each (η, B, B') and seed, the run at B and the control at B' on one key
    keys = jr.split(k_sgd, len(STATIONARY) * seeds)
    rows = [
        (eta, b, i * seeds + s)
        for i, (eta, b0, b1) in enumerate(STATIONARY)
        for b in (b0, b1)
        for s in range(seeds)
    ]
    traj = _stationary(
        full,
        cp.params,
        jnp.asarray([r[0] for r in rows]),
        jnp.asarray([float(r[1]) for r in rows]),
        keys[np.asarray([r[2] for r in rows])],
        num_steps=steps,
    )
    # the full-data loss before each of steps 0..steps − 1, after the burn-in
    excess = np.asarray(traj)[:, burn:steps].reshape(len(STATIONARY), 2, seeds, -1) - loss_star
    blocks = excess.reshape(len(STATIONARY), 2, seeds * BLOCKS, -1).mean(-1)
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
        "stationary": np.asarray(STATIONARY, dtype=float),
        "star_grad": np.asarray([descent_grad, cp.grad_norm]),
        "star_params": np.asarray(flat_star),
        "star_lambda": lam_star,
        "star_sigma": sig_eig,
        "star_loss": np.asarray(loss_star),
        "stat_mean": excess.mean((2, 3)),
        "stat_se": blocks.std(-1, ddof=1) / np.sqrt(blocks.shape[-1]),
        "stat_blocks": blocks,
        "stat_steps": np.asarray([burn, steps - burn, seeds]),
    }


def _excess(data, learning_rate, batch_size, *, shortcut=False, stationary=False):
    """½tr(HS) with S the covariance of linearised SGD started at θ*, averaged over the
    measured window of steps t (S_ii(t) = S_ii(∞)(1 − (1 − ηλ_i)^(2t)) in H's eigenbasis:
    the flattest modes, 1/(ηλ_min) ~ 10³ steps, are still filling in, but they carry almost
    none of the noise, so this changes the prediction by < 1e-4 %), or at stationarity
    (`stationary`; `shortcut`: the small-η, isotropic (η/4)tr Σ_B), from H's eigenvalues and
    Σ_1 in H's eigenbasis at θ*."""
    lam, sig = data["star_lambda"], data["star_sigma"] * _fpc(batch_size)
    if shortcut:
        return 0.25 * learning_rate * np.trace(sig)
    q = 1.0 - learning_rate * lam
    s = learning_rate**2 * np.diag(sig) / (1.0 - q * q)
    if not stationary:
        burn, kept, _ = (int(v) for v in data["stat_steps"])
        t = np.arange(burn, burn + kept)
        s = s * np.mean(1.0 - q[:, None] ** (2 * t[None, :]), axis=1)
    return 0.5 * float(np.sum(lam * s))


def _stationary_error(data):
    """Per (η, B): the standard error of the time average (batch means) plus the
    nonlinearity, read off the control at B' (noise r = Σ_B'/Σ_B times larger): with
    E(r) = a·r + b·r² the second-order term at B is b = (E_B'/r − E_B)/(r − 1), plus its
    own standard error (batch means of the same combination: the control shares the run's
    permutations)."""
    se, blocks = data["stat_se"], data["stat_blocks"]
    r = np.array([_fpc(b1) / _fpc(b0) for _, b0, b1 in data["stationary"]])[:, None]
    second = (blocks[:, 1] / r - blocks[:, 0]) / (r - 1)
    nonlinear = np.abs(second.mean(1))
    nonlinear_se = second.std(1, ddof=1) / np.sqrt(second.shape[1])
    return se[:, 0] + nonlinear + nonlinear_se, nonlinear


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
    stat = [(float(e), int(b)) for e, b, _ in data["stationary"]]
    s_err, s_nonlin = _stationary_error(data)
    s_meas = data["stat_mean"][:, 0]
    s_tol = 2.5 * s_err
    lam_star = data["star_lambda"]
    wrong = {
        "(η/4)tr Σ_B (no curvature)": [_excess(data, e, b, shortcut=True) for e, b in stat],
        "Σ_B → Σ_1 (no batch size)": [_excess(data, e, b) / _fpc(b) for e, b in stat],
        "Σ_1/B (with replacement)": [_excess(data, e, b) / _fpc(b) / b for e, b in stat],
        "tr(HS) (factor 2)": [2 * _excess(data, e, b) for e, b in stat],
        "1.5 × ½tr(HS)": [1.5 * _excess(data, e, b) for e, b in stat],
        "½tr(HS)/1.5": [_excess(data, e, b) / 1.5 for e, b in stat],
    }
    miss = "; ".join(
        f"{k}: |Δ|/tol = " + "/".join(f"{v_:.1f}" for v_ in np.abs(np.array(v) - s_meas) / s_tol)
        for k, v in wrong.items()
    )
    burn, kept, seeds = (int(v) for v in data["stat_steps"])
    stat_claim = Claim.quantitative(
        "SGD's stationary excess loss at a minimum: E[L] − L(θ*) = ½tr(HS), S the stationary "
        "covariance of linearised SGD, S = (I − ηH)S(I − ηH)ᵀ + η²Σ_B, i.e. "
        "(η/2)Σ_i(Σ_B)_ii/(2 − ηλ_i) in H's eigenbasis (Σ_B without replacement; the "
        "prediction averages S(t) = S(∞)(1 − (1 − ηλ_i)^(2t)) over the measured window, runs "
        "started at θ*)",
        PAPER + "; the stationary covariance of linearised SGD: our derivation [D]",
        predict=lambda learning_rate, batch_size: _excess(data, learning_rate, batch_size),
        params=[{"learning_rate": e, "batch_size": b} for e, b in stat],
        measured=s_meas,
        atol=s_tol,
        error_estimate=s_err,
        error_source=f"standard error of the time average ({BLOCKS} batch means per run, "
        f"{seeds} seed(s) × {kept} steps after {burn} of burn-in) plus the nonlinearity "
        "(the second-order term in the noise strength, from the control run at B' on the "
        "same permutations, with its standard error)",
        network=f"tanh MLP {DIM}-{HIDDEN}-{CLASSES}, softmax cross-entropy + "
        f"({DECAY:g}/2)‖θ‖² on the {CLASSES}-class Gaussian mixture (N = {NUM_SAMPLES}), at its "
        f"minimum θ* ({DESCENT_STEPS} heavy-ball steps from the step-{steps[-1]} net to "
        f"|∇|∞ = {data['star_grad'][0]:.0e}, then Newton to "
        f"{data['star_grad'][1]:.0e}; λ_min = {lam_star[0]:.2e}, λ_max = {lam_star[-1]:.3f})",
        note=f"ηλ_max = {', '.join(f'{e * lam_star[-1]:.2f}' for e, _ in stat)}; stationary "
        "½tr(HS) = "
        + ", ".join(f"{_excess(data, e, b, stationary=True):.4g}" for e, b in stat)
        + " (the window's transient from θ* lowers it by "
        + ", ".join(
            f"{100 * (1 - _excess(data, e, b) / _excess(data, e, b, stationary=True)):.2g} %"
            for e, b in stat
        )
        + f"); controls B' = "
        f"{[int(b) for b in data['stationary'][:, 2]]}; nonlinearity / prediction = "
        + ", ".join(
            f"{v / _excess(data, e, b):.3f}" for v, (e, b) in zip(s_nonlin, stat, strict=True)
        )
        + f"; wrong physics at the same tolerance, per (η, B): {miss}",
    )
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
        stat_claim,
    ]


def plot(data: dict, out) -> list:
    fig, axes = panels(2, 2, height=5.0)
    a0, a1, a2, a3 = axes.ravel()
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
    # (d) the stationary excess loss per unit noise, E/(Σ_B/Σ_1), a function of η alone
    stat = data["stationary"]
    lam_max = float(data["star_lambda"][-1])
    e = np.linspace(0.02, 1.6 / lam_max, 100)
    diag = np.diag(data["star_sigma"])  # ½tr(HS)/(Σ_B/Σ_1) = (η/2)Σ_i Σ_ii/(2 − ηλ_i)
    lyap = 0.5 * e * np.sum(diag / (2 - e[:, None] * data["star_lambda"]), axis=1)
    a3.plot(e, lyap, "-", color="C0", label="½tr(HS) (Lyapunov)")
    a3.plot(
        e,
        0.25 * e * np.sum(diag),
        "--",
        color="C2",
        label="(η/4)tr Σ (no curvature)",
    )
    err, _ = _stationary_error(data)
    f0 = np.array([_fpc(b) for b in stat[:, 1]])
    f1 = np.array([_fpc(b) for b in stat[:, 2]])
    a3.errorbar(
        stat[:, 0],
        data["stat_mean"][:, 0] / f0,
        yerr=2 * err / f0,
        fmt="o",
        color="C1",
        label="SGD, B = " + ", ".join(str(int(b)) for b in stat[:, 1]) + " (±2 err)",
    )
    a3.errorbar(
        stat[:, 0] + 0.03,
        data["stat_mean"][:, 1] / f1,
        yerr=2 * data["stat_se"][:, 1] / f1,
        fmt="s",
        mfc="none",
        color="C3",
        label="control B' = " + ", ".join(str(int(b)) for b in stat[:, 2]) + " (±2 SE, η + 0.03)",
    )
    a3.set(
        xlabel=f"learning rate η (2/λ_max = {2 / lam_max:.2f})",
        ylabel="(E[L] − L(θ*)) / ((N − B)/(B(N − 1)))",
        title="stationary SGD at θ* (L2 0.03)",
    )
    a3.legend()
    caption(
        fig,
        f"tanh MLP {DIM}-{HIDDEN}-{CLASSES}, softmax cross-entropy, {NUM_SAMPLES} points of a "
        f"{CLASSES}-class Gaussian mixture, full-batch GD (lr {LEARNING_RATE}) checkpoints at "
        f"steps {', '.join(str(int(s)) for s in steps)} (seed {SEED}); Fisher by "
        f"{int(data['fisher_draws'])} label draws; one-step SGD from step {int(steps[1])}, "
        f"{int(data['batch_draws'])} mini-batches per B; (d) SGD at the minimum of the loss + "
        f"({DECAY:g}/2)‖θ‖², {int(data['stat_steps'][2])} seed(s) × "
        f"{int(data['stat_steps'][1])} steps after {int(data['stat_steps'][0])} of burn-in",
    )
    return [save(fig, out / "fig24_hessian_sgd.png")]


if __name__ == "__main__":
    cli(__name__)
