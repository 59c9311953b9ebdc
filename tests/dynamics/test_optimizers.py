"""The engine `run` over every optimizer (one test body each, parametrized over all of them,
the way diffrax parametrizes over its solvers): a hand-written reference recurrence, the
stability edge of the linearized operator and of the real run on a quadratic. Then stop
reasons and divergence, minibatch keys, no recompilation for a new learning rate, the
sharpness wrapper `train`, and the scalar-factorization edge-of-stability values."""

import itertools
import logging

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from derivations import optimizer_stability as theory
from toymodels import dynamics as D, landscape, problems
from toymodels.data import digits


class Quadratic(problems.AbstractProblem):
    """L(θ) = ½ θᵀAθ."""

    a: jax.Array

    def loss(self, params):
        return 0.5 * params @ self.a @ params

    def init(self, key):
        return jr.normal(key, (self.a.shape[0],), self.a.dtype)


# ----------------------------------------------------------------- hand-written references
# Plain numpy recurrences on the flat params (formulas of the _optimizers.py docstring, which
# are optax's = torch's conventions); `grad` is the gradient at θ_k.


def _ref_gd(lr):
    def step(theta, state, g, k):
        return theta - lr * g, state

    return step, None


def _ref_heavy_ball(lr, b):
    def step(theta, buf, g, k):
        buf = b * buf + g
        return theta - lr * buf, buf

    return step, 0.0


def _ref_nesterov(lr, b):
    def step(theta, buf, g, k):
        buf = b * buf + g
        return theta - lr * (g + b * buf), buf

    return step, 0.0


def _ref_ema(lr, b):
    def step(theta, m, g, k):
        m = b * m + (1 - b) * g
        return theta - lr * m, m

    return step, 0.0


def _ref_adam(lr, b1, b2, eps):
    def step(theta, state, g, k):
        m, v = state
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        t = k + 1
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        return theta - lr * m_hat / (np.sqrt(v_hat) + eps), (m, v)

    return step, (0.0, 0.0)


def _ref_rmsprop(lr, decay, eps):
    def step(theta, v, g, k):
        v = decay * v + (1 - decay) * g**2
        return theta - lr * g / np.sqrt(v + eps), v

    return step, 0.0


#: (optimizer, reference recurrence, SymPy stability edge ηλ or None)
CASES = {
    "gd": (D.GD(learning_rate=0.05), _ref_gd(0.05), theory.gd_edge),
    "heavy_ball": (
        D.HeavyBall(learning_rate=0.02, momentum=0.9),
        _ref_heavy_ball(0.02, 0.9),
        lambda: theory.heavy_ball_edge(0.9),
    ),
    "nesterov": (
        D.Nesterov(learning_rate=0.03, momentum=0.6),
        _ref_nesterov(0.03, 0.6),
        lambda: theory.nesterov_edge(0.6),
    ),
    "ema_momentum": (
        D.EMAMomentum(learning_rate=0.1, momentum=0.5),
        _ref_ema(0.1, 0.5),
        lambda: theory.ema_momentum_edge(0.5),
    ),
    "adam": (
        D.Adam(learning_rate=0.01, b1=0.8, b2=0.99, eps=1e-7),
        _ref_adam(0.01, 0.8, 0.99, 1e-7),
        None,
    ),
    # eps = 1e-3 (inside the root): near the minimum RMSprop then turns into GD with step
    # η/√ε and converges; with a tiny eps it is sign-like there, and chaotic (the last bits of
    # two implementations part ways)
    "optax_rmsprop": (
        optax.rmsprop(0.005, decay=0.9, eps=1e-3),
        _ref_rmsprop(0.005, 0.9, 1e-3),
        None,
    ),
}
ALL = list(CASES)
WITH_OPERATOR = ["gd", "heavy_ball", "nesterov", "ema_momentum"]


QUAD_STEPS = 10_000
QUAD_SAVES = (0, 10, 30)
GTOL = 1e-6


def _quad_run(a, p0, opt):
    """The one program per optimizer type that the reference, convergence and divergence
    tests share: 10⁴ steps on ½θᵀAθ, θ saved at steps 0, 10, 30, stop at gradient
    ∞-norm < 1e-6 ("converged") or loss > 1e3 L(θ₀) ("diverged")."""
    return D.run(
        Quadratic(a=a),
        p0,
        opt,
        num_steps=QUAD_STEPS,
        key=jr.key(0),
        save=D.Save(steps=QUAD_SAVES),
        stop=D.Stop(gtol=GTOL),
    )


def _reference(recurrence, a, p0):
    """The numpy `recurrence` = (step, state0) on ½θᵀAθ (gradient Aθ) with `run`'s stop rule:
    θ_0..θ_K, the losses at θ_0..θ_K, the state after step K-1 and the stop step K (K = 10⁴
    when no stop)."""
    ref_step, state0 = recurrence
    a, theta = np.asarray(a), np.asarray(p0)
    state = jax.tree.map(lambda s: np.zeros_like(theta) + s, state0)
    thetas, losses = [theta], []
    for k in range(QUAD_STEPS):
        g = a @ theta
        losses.append(0.5 * theta @ a @ theta)
        if np.max(np.abs(g)) < GTOL or losses[-1] > 1e3 * losses[0]:
            return thetas, losses, state, k
        theta, state = ref_step(theta, state, g, k)
        thetas.append(theta)
    losses.append(0.5 * theta @ a @ theta)
    return thetas, losses, state, QUAD_STEPS


def _quadratic_with_top(key, top, n=5):
    """A quadratic with eigenvalues top·(0.2, ..., 0.9, 1) in a random eigenbasis."""
    q, _ = jnp.linalg.qr(jr.normal(key, (n, n)))
    eigs = top * jnp.concatenate([jnp.linspace(0.2, 0.9, n - 1), jnp.ones(1)])
    return (q * eigs) @ q.T


@pytest.mark.parametrize("name", ALL)
def test_run_matches_reference_recurrence(name):
    """`run` on a quadratic = the optimizer's recurrence written out in numpy (gradient Aθ in
    closed form), to 1e-12 in float64: the params recorded at steps 0, 10, 30 (θ_k before
    step k), the loss at every step, the step and reason of the stop, the final params and
    loss; for Adam also the frozen preconditioner `Adam.preconditioner(opt_state)` =
    1/(√v̂ + ε) of the recurrence."""
    opt = CASES[name][0]
    a = _quadratic_with_top(jr.key(7), 5.0)
    p0 = jr.normal(jr.key(8), (5,))
    traj = _quad_run(a, p0, opt)
    thetas, losses, state, stop = _reference(CASES[name][1], a, p0)
    reason = "converged" if stop < QUAD_STEPS else "completed"
    assert traj.stop_reason == reason and int(traj.stop_step) == stop, (name, stop)
    assert stop > QUAD_SAVES[-1]
    np.testing.assert_array_equal(traj.save_steps, QUAD_SAVES)
    np.testing.assert_allclose(traj.saved, [thetas[k] for k in QUAD_SAVES], rtol=1e-12)
    np.testing.assert_allclose(traj.params, thetas[-1], rtol=1e-12, atol=1e-14)
    n = min(stop + 1, QUAD_STEPS)
    np.testing.assert_allclose(traj.loss[:n], losses[:n], rtol=1e-12, atol=1e-24)
    np.testing.assert_allclose(traj.final_loss, losses[-1], rtol=1e-12, atol=1e-24)
    assert np.all(np.isnan(np.asarray(traj.loss[n:])))
    if isinstance(opt, D.Adam):
        _, v = state
        v_hat = v / (1 - 0.99**stop)
        np.testing.assert_allclose(
            opt.preconditioner(traj.opt_state), 1 / (np.sqrt(v_hat) + 1e-7), rtol=1e-12
        )


@pytest.mark.parametrize("name", WITH_OPERATOR)
def test_operator_radius_crosses_one_at_threshold_product(name):
    """ρ(J) of the linearized operator on a quadratic crosses 1 where ηλ_max equals
    `threshold_product()` = the SymPy edge (±0.1%), for several learning rates."""
    opt, _, edge = CASES[name]
    product = float(opt.threshold_product())
    np.testing.assert_allclose(product, edge(), rtol=1e-14)
    a = _quadratic_with_top(jr.key(5), 1.0)
    for lr in (0.01, 0.3, 2.0):
        o = eqx.tree_at(lambda o: o.learning_rate, opt, jnp.asarray(lr))
        np.testing.assert_allclose(float(o.stability_threshold()), product / lr, rtol=1e-14)
        assert D.spectral_radius(o.operator(0.999 * float(o.stability_threshold()) * a)) < 1
        assert D.spectral_radius(o.operator(1.001 * float(o.stability_threshold()) * a)) > 1


@pytest.mark.parametrize("name", WITH_OPERATOR)
def test_run_converges_below_and_diverges_above_threshold(name):
    """Acceptance: the real optimizer on a quadratic with λ_max just below (0.999×) the
    `stability_threshold()` curvature converges (gradient ∞-norm < 1e-6: "converged"); just
    above (1.001×) it stops as "diverged" (loss beyond 1e3 × the initial loss)
    (the same program as the reference test's)."""
    opt, _, _ = CASES[name]
    crit = float(opt.stability_threshold())
    key = jr.key(2)
    p0 = jr.normal(jr.key(4), (5,))
    below, above = (_quad_run(_quadratic_with_top(key, f * crit), p0, opt) for f in (0.999, 1.001))
    assert below.stop_reason == "converged" and above.stop_reason == "diverged", name
    assert int(below.stop_step) < QUAD_STEPS and int(above.stop_step) < QUAD_STEPS
    l0 = [float(Quadratic(a=_quadratic_with_top(key, f * crit)).loss(p0)) for f in (0.999, 1.001)]
    assert float(below.final_loss) < 1e-10 * l0[0]
    # the stopped run keeps θ_k, the first iterate whose loss exceeds 1e3 · L(θ₀)
    assert float(above.final_loss) > 1e3 * l0[1]


def test_divergence_on_a_quadratic_matches_closed_form():
    """GD at ηλ_max = 3 on a quadratic: θ_k = (I − ηA)ᵏθ₀. The run stops at the first k whose
    loss exceeds 1e3 × L(θ₀) (the default `Stop.loss_ratio`), keeps θ_k, and records the frozen
    state at later save steps; losses after the stop are NaN."""
    a = _quadratic_with_top(jr.key(6), 1.0)
    p0 = Quadratic(a=a).init(jr.key(1))
    lr = 3.0
    traj = _quad_run(a, p0, D.GD(learning_rate=lr))
    thetas, losses, _, k = _reference(_ref_gd(lr), a, p0)
    assert 0 < k < QUAD_SAVES[1] and losses[k] > 1e3 * losses[0]
    assert traj.stop_reason == "diverged" and int(traj.stop_step) == k
    np.testing.assert_allclose(traj.params, thetas[k], rtol=1e-12)
    np.testing.assert_allclose(traj.saved, [thetas[0], thetas[k], thetas[k]], rtol=1e-12)
    np.testing.assert_allclose(traj.loss[: k + 1], losses, rtol=1e-12)
    assert np.all(np.isnan(np.asarray(traj.loss[k + 1 :])))


# ----------------------------------------------------------------- digits MLP, acceptance


@pytest.fixture(scope="module")
def digits_mlp():
    x, y = digits(standardize=False)
    prob = problems.mlp_classification(x[:200], y[:200], hidden=(8,), num_classes=10)
    return prob, prob.init(jr.key(0))


NUM_DIGITS_STEPS = 20


def _gd_run(prob, p0, lr):
    return D.run(prob, p0, D.GD(learning_rate=lr), num_steps=NUM_DIGITS_STEPS, key=jr.key(1))


def test_gd_diverges_on_digits(digits_mlp):
    """Acceptance: GD at learning rate 1e4 on a digits MLP stops with "diverged"."""
    prob, p0 = digits_mlp
    traj = _gd_run(prob, p0, 1e4)
    assert traj.stop_reason == "diverged"
    assert int(traj.stop_step) < NUM_DIGITS_STEPS
    assert np.all(np.isfinite(ravel_pytree(traj.params)[0]))


def _nan_at(k):
    """An optax transformation that multiplies the updates by NaN at its k-th call."""

    def init(params):
        return jnp.zeros((), jnp.int32)

    def update(updates, count, params=None):
        scale = jnp.where(count == k, jnp.nan, 1.0)
        return jax.tree.map(lambda u: u * scale.astype(u.dtype), updates), count + 1

    return optax.GradientTransformation(init, update)


def test_nan_injected_at_step_k_stops_there(digits_mlp):
    """Acceptance: a NaN injected into the update of step k stops the run at stop_step = k,
    with the params θ_k of the plain run (GD without the injection) after k steps. (k is the
    other tests' run length, so the plain run shares their compilation.)"""
    prob, p0 = digits_mlp
    k, lr = NUM_DIGITS_STEPS, 0.1
    tx = optax.chain(D.GD(learning_rate=lr).transform(), _nan_at(k))
    traj = D.run(prob, p0, tx, num_steps=2 * k, key=jr.key(1))
    assert traj.stop_reason == "diverged" and int(traj.stop_step) == k
    single = _gd_run(prob, p0, lr)
    assert single.stop_reason == "completed"
    np.testing.assert_array_equal(ravel_pytree(traj.params)[0], ravel_pytree(single.params)[0])
    np.testing.assert_array_equal(traj.loss[:k], single.loss)
    assert np.all(np.isnan(np.asarray(traj.loss[k + 1 :])))


def test_vmapped_learning_rates_with_a_diverging_member(digits_mlp):
    """Acceptance: in a vmapped batch over learning rates with one diverging member (1e4),
    the others' final params and losses equal their single runs to 1e-12."""
    prob, p0 = digits_mlp
    lrs = jnp.asarray([0.05, 1e4, 0.2])
    batch = jax.vmap(
        lambda lr: D.run(
            prob, p0, D.GD(learning_rate=lr), num_steps=NUM_DIGITS_STEPS, key=jr.key(1)
        )
    )(lrs)
    np.testing.assert_array_equal(batch.stop_reason.names(), ["completed", "diverged", "completed"])
    for i, lr in enumerate(np.asarray(lrs)):
        single = _gd_run(prob, p0, float(lr))
        assert int(single.stop_step) == int(batch.stop_step[i])
        if i == 1:
            continue
        got = ravel_pytree(jax.tree.map(lambda a, i=i: a[i], batch.params))[0]
        np.testing.assert_allclose(got, ravel_pytree(single.params)[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(batch.final_loss[i], single.final_loss, rtol=1e-12)
        np.testing.assert_allclose(batch.loss[i], single.loss, rtol=1e-12)


class _Compiles(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        msg = record.getMessage()
        if msg.startswith("Compiling"):
            self.messages.append(msg)


def _count_compiles(fn):
    handler = _Compiles()
    logger = logging.getLogger("jax")
    logger.addHandler(handler)
    try:
        with jax.log_compiles(True):
            out = jax.block_until_ready(fn())
    finally:
        logger.removeHandler(handler)
    return len(handler.messages), out


def test_new_learning_rate_does_not_recompile(digits_mlp):
    """Acceptance: a second `run` with a new learning rate compiles nothing (the learning
    rate is an array field of the optimizer); the counter does see a new program."""
    prob, p0 = digits_mlp
    _gd_run(prob, p0, 0.1)
    n, traj = _count_compiles(lambda: _gd_run(prob, p0, 0.0123))
    assert n == 0 and traj.stop_reason == "completed"
    fresh = jax.jit(lambda x: jnp.sin(x) * 1.2345)  # a new program: the counter works
    n_fresh, _ = _count_compiles(lambda: fresh(jnp.ones(3)))
    assert n_fresh >= 1


# ----------------------------------------------------------------- minibatches, train, EoS


def test_sgd_minibatches_from_explicit_keys(key):
    k1, k2, k3 = jr.split(key, 3)
    x = jr.normal(k1, (16, 2))
    prob = problems.mlp_regression(x, x[:, 0] * x[:, 1], hidden=(4,))
    p0 = prob.init(k2)

    def sgd(k):
        return D.run(prob, p0, D.GD(learning_rate=0.05), num_steps=30, batch_size=4, key=k)

    a, b, c = sgd(k3), sgd(k3), sgd(jr.split(k3)[0])
    np.testing.assert_array_equal(a.loss, b.loss)
    assert not np.allclose(a.loss, c.loss)
    # mini-batch losses average (over keys) to the full-batch loss at the first step
    full = float(prob.loss(p0))
    firsts = np.asarray([sgd(k).loss[0] for k in jr.split(k3, 30)])  # one compilation
    assert abs(np.mean(firsts) - full) < 4 * np.std(firsts) / np.sqrt(30)
    # a minibatch loss is the loss of 4 distinct samples: one of the C(16, 4) subsets
    per_sample = np.asarray(prob.objective.per_sample(prob.outputs(p0), prob.targets))
    subsets = per_sample[np.asarray(list(itertools.combinations(range(16), 4)))].mean(axis=1)
    assert np.min(np.abs(subsets - float(a.loss[0]))) < 1e-13


def test_train_records_sharpness():
    """`train` (the sharpness wrapper over `run`) on an MLP (params a tuple of dicts): the
    params at the sharpness steps = the numpy Adam recurrence, sharpness = dense eigvalsh of
    the Hessian there, the vectors its eigenvectors."""
    k1, k2 = jr.split(jr.key(11))
    x = jr.normal(k1, (24, 3))
    prob = problems.mlp_regression(x, jnp.sin(x[:, 0]), hidden=(5,))
    p0 = prob.init(k2)
    num_steps, steps = 40, [10, 40]
    opt = D.Adam(learning_rate=0.01)  # b1 = 0.9, b2 = 0.999, eps = 1e-8
    res = D.train(prob, p0, opt, num_steps=num_steps, key=jr.key(3), sharpness_steps=steps)
    flat, unravel = ravel_pytree(p0)
    grad = jax.jit(jax.grad(lambda f: prob.loss(unravel(f))))
    ref_step, _ = _ref_adam(0.01, 0.9, 0.999, 1e-8)
    theta = np.asarray(flat)
    state, thetas = (np.zeros_like(theta), np.zeros_like(theta)), [theta]
    for k in range(num_steps):
        theta, state = ref_step(theta, state, np.asarray(grad(jnp.asarray(theta))), k)
        thetas.append(theta)
    assert res.trajectory.stop_reason == "completed"
    np.testing.assert_array_equal(res.sharpness_steps, steps)
    for i, k in enumerate(steps):
        got = ravel_pytree(jax.tree.map(lambda a, i=i: a[i], res.trajectory.saved))[0]
        np.testing.assert_allclose(got, thetas[k], rtol=1e-10, atol=1e-12)
        h = np.asarray(landscape.hessian(prob, unravel(jnp.asarray(thetas[k]))))
        np.testing.assert_allclose(res.sharpness[i], np.linalg.eigvalsh(h)[-1], rtol=1e-7)
        v = res.sharpness_vectors[i]
        np.testing.assert_allclose(h @ v, res.sharpness[i] * v, atol=1e-6)
    np.testing.assert_allclose(
        res.trajectory.final_loss, prob.loss(unravel(jnp.asarray(thetas[-1]))), rtol=1e-10
    )


def test_scalar_factorization_edge_of_stability():
    """Acceptance (ghost-nonnormal-eos.md §5): GD on ½(uv − 1)² from (3, 0.1). Small η ends
    near the flow's limit sharpness √((u₀²−v₀²)²+4) = 9.21; η = 0.25 ends at ≈ 6.08 ≤ 2/η and
    η = 0.28 at ≈ 3.91; every converged run ends with sharpness ≤ 2/η. One compilation for
    all η (the learning rate is an array)."""
    prob = problems.scalar_factorization(1.0)
    p0 = jnp.array([3.0, 0.1])
    limit = theory.flow_limit_sharpness(3.0, 0.1)
    out = {}
    for eta in (0.05, 0.1, 0.25, 0.28):
        r = D.train(
            prob,
            p0,
            D.GD(learning_rate=eta),
            num_steps=20000,
            key=jr.key(0),
            sharpness_steps=[20000],
        )
        assert r.trajectory.stop_reason == "completed" and r.trajectory.final_loss < 1e-20
        out[eta] = float(r.sharpness[-1])
        assert out[eta] <= 2 / eta + 1e-6
        # independent reference: plain numpy GD and the SymPy Hessian's top eigenvalue
        u, v = 3.0, 0.1
        for _ in range(20000):
            res_ = u * v - 1
            u, v = u - eta * res_ * v, v - eta * res_ * u
        np.testing.assert_allclose(out[eta], theory.sf_sharpness(u, v), rtol=1e-8)
    assert abs(out[0.05] - limit) < 0.02 and abs(out[0.1] - limit) < 0.05
    assert abs(out[0.25] - 6.08) < 0.01 and abs(out[0.28] - 3.91) < 0.01


@pytest.mark.usefixtures("own_checks")
def test_run_bad_input():
    prob = Quadratic(a=jnp.eye(5))
    p0 = prob.init(jr.key(1))
    k = jr.key(0)
    gd = D.GD(learning_rate=0.1)
    with pytest.raises(ValueError, match="^num_steps"):
        D.run(prob, p0, gd, num_steps=0, key=k)
    with pytest.raises(ValueError, match="^save"):
        D.run(prob, p0, gd, num_steps=5, key=k, save=D.Save(steps=[6]))
    with pytest.raises(TypeError, match="^batch_size"):
        D.run(prob, p0, gd, num_steps=5, key=k, batch_size=2)
    with pytest.raises(ValueError, match="^learning_rate"):
        D.GD(learning_rate=-1.0)
    with pytest.raises(ValueError, match="^momentum"):
        D.HeavyBall(learning_rate=0.1, momentum=1.5)
    with pytest.raises(TypeError, match="^optimizer"):
        D.run(prob, p0, "sgd", num_steps=5, key=k)
    with pytest.raises(ValueError, match="^params0"):
        D.run(prob, jnp.full(5, jnp.inf), gd, num_steps=5, key=k)
    with pytest.raises(TypeError, match="^key"):
        D.run(prob, p0, gd, num_steps=5, key=None)
    with pytest.raises(ValueError, match="^gtol"):
        D.Stop(gtol=0.0)
