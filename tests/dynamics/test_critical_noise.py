"""Critical points (Newton polish, gradient-norm minimizer, index) and SGD noise vs Hessian."""

import itertools

import diffrax
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optimistix as optx
import pytest

from toymodels import dynamics as D, landscape, problems


def test_teacher_recovery_flow_then_newton():
    """Acceptance: flow + Newton polish on a teacher–student problem with student width =
    teacher width recovers the teacher up to permutation (and the erf sign symmetry), with
    gradient ∞-norm < 1e-12."""
    k1, k2 = jr.split(jr.key(0))
    teacher = problems.two_layer_init(key=k1, dim=4, width=3)
    prob = problems.teacher_student_population(teacher, width=3)
    flow = D.gradient_flow(prob, prob.init(k2), t1=1e4, save=diffrax.SaveAt(ts=D.log_times(1e4, 5)))
    assert flow.stop_reason == "completed"
    assert flow.final_grad_norm > 1e-8  # the flow alone is far from machine precision
    cp = D.find_critical_point(prob, flow.params)
    assert cp.converged and cp.grad_norm < 1e-12 and cp.num_steps <= 10
    # the population loss is a sum of O(1) kernel terms that cancel at the teacher, so its
    # floor is rounding (~1e-16; exactly 0 only by luck, which depends on the XLA build)
    assert cp.index == 0 and abs(cp.loss) < 100 * np.finfo(np.float64).eps

    # neurons (a_i w_i, |a_i|) up to permutation: erf is odd, so (w, a) ~ (−w, −a)
    def neurons(p):
        w, a = np.asarray(p[0]["w"]), np.asarray(p[1]["w"][0])
        s = np.sign(a)[:, None]
        return sorted(map(tuple, np.concatenate([s * w, np.abs(a)[:, None]], axis=1)))

    np.testing.assert_allclose(neurons(cp.params), neurons(teacher), atol=1e-9)


SOLVERS = {
    "newton": None,  # the default: D.newton(gtol=gtol), SVD steps
    "levenberg_marquardt": optx.LevenbergMarquardt(rtol=1e-14, atol=1e-12, norm=optx.max_norm),
}


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_saddle_and_minimum_of_the_goodfellow_toy(solver):
    """J = ½(1 − w₁w₂)²: from near the origin Newton on ∇L and Levenberg–Marquardt on the
    residual ∇L both land on the saddle (index 1, Hessian eigenvalues ±1); near the hyperbola
    on a minimum with one zero mode."""
    prob = problems.scalar_factorization(1.0)
    method = SOLVERS[solver]
    sad = D.find_critical_point(prob, jnp.array([0.05, -0.03]), solver=method)
    assert sad.converged and sad.index == 1 and sad.num_zero_modes == 0
    np.testing.assert_allclose(sad.eigenvalues, [-1.0, 1.0], atol=1e-10)
    mini = D.find_critical_point(prob, jnp.array([1.3, 0.9]), solver=method)
    u, v = np.asarray(mini.params)
    assert mini.converged and mini.index == 0 and mini.num_zero_modes == 1
    np.testing.assert_allclose(u * v, 1.0, atol=1e-12)
    np.testing.assert_allclose(mini.eigenvalues[-1], u**2 + v**2, rtol=1e-10)


@pytest.mark.slow
def test_matrix_free_newton(key):
    x = jr.normal(key, (20, 2))
    prob = problems.mlp_regression(x, jnp.tanh(x @ jnp.array([1.0, -0.5])), hidden=(2,))
    p0 = D.run(
        prob, prob.init(jr.key(1)), D.GD(learning_rate=0.5), num_steps=3000, key=jr.key(2)
    ).params
    dense = D.find_critical_point(prob, p0)
    free = D.find_critical_point(prob, p0, matrix_free=True, num_eigs=4, key=jr.key(3))
    assert dense.converged and free.converged
    a, _ = jax.flatten_util.ravel_pytree(dense.params)
    b, _ = jax.flatten_util.ravel_pytree(free.params)
    np.testing.assert_allclose(a, b, atol=1e-8)
    np.testing.assert_allclose(free.eigenvalues, dense.eigenvalues[:4], atol=1e-7)


@pytest.mark.usefixtures("own_checks")
def test_critical_point_bad_input():
    prob = problems.scalar_factorization(1.0)
    p0 = jnp.array([1.0, 0.5])
    with pytest.raises(ValueError, match="^params"):
        D.find_critical_point(prob, p0 * jnp.nan)
    with pytest.raises(TypeError, match="^solver"):
        D.find_critical_point(prob, p0, solver=optx.BFGS(rtol=1e-8, atol=1e-8))
    with pytest.raises(TypeError, match="^solver"):
        D.find_critical_point(prob, p0, solver="newton")
    with pytest.raises(ValueError, match="^gtol"):
        D.find_critical_point(prob, p0, gtol=0.0)


@pytest.fixture(scope="module")
def regression():
    k1, k2, k3 = jr.split(jr.key(7), 3)
    x = jr.normal(k1, (6, 3))
    y = x @ jnp.array([1.0, -2.0, 0.5]) + 0.3 * jr.normal(k2, (6,))
    prob = problems.mlp_regression(x, y, hidden=(), bias=True)  # linear: the loss is quadratic
    return prob, prob.init(k3)


@pytest.mark.parametrize("batch_size, replace", [(1, True), (2, False)])
def test_noise_covariance_and_one_step_expectation(regression, batch_size, replace):
    """Σ_B and E[L(θ − ηg_B)] against brute-force enumeration of every mini-batch
    (exact for a linear model, whose loss is quadratic)."""
    prob, p = regression
    n = prob.num_samples
    pool = (
        itertools.product(range(n), repeat=batch_size)
        if replace
        else itertools.combinations(range(n), batch_size)
    )
    batches = [list(b) for b in pool]
    flat, unravel = jax.flatten_util.ravel_pytree(p)
    lr = 0.2

    @jax.jit
    def batch_grad_and_next_loss(idx):
        sub = prob.with_data(prob.x[idx], prob.targets[idx])
        g = jax.flatten_util.ravel_pytree(jax.grad(sub.loss)(p))[0]
        return g, prob.loss(unravel(flat - lr * g))

    gs, ls = jax.vmap(batch_grad_and_next_loss)(jnp.asarray(batches))
    cov = np.cov(np.asarray(gs).T, bias=True)
    np.testing.assert_allclose(
        D.gradient_noise_covariance(prob, p, batch_size=batch_size, replace=replace),
        cov,
        atol=1e-12,
    )
    change = float(np.mean(ls) - prob.loss(p))
    np.testing.assert_allclose(
        D.sgd_expected_loss_change(
            prob, p, learning_rate=lr, batch_size=batch_size, replace=replace
        ),
        change,
        rtol=1e-10,
    )
    # the threshold step size: expected change vanishes there
    eta_c = float(D.sgd_decrease_threshold(prob, p, batch_size=batch_size, replace=replace))
    np.testing.assert_allclose(
        D.sgd_expected_loss_change(
            prob, p, learning_rate=eta_c, batch_size=batch_size, replace=replace
        ),
        0.0,
        atol=1e-12,
    )


def test_fisher_identity(key):
    """Softmax regression (logits linear in θ): model Fisher = Hessian exactly; labels drawn
    from the model give per-sample gradient second moments that average to it (Monte Carlo)."""
    k1, k2, k3, k4 = jr.split(key, 4)
    x = jr.normal(k1, (40, 3))
    labels = jr.randint(k2, (40,), 0, 3)
    prob = problems.mlp_classification(x, labels, hidden=(), num_classes=3)
    p = jax.tree.map(lambda a: a + 0.3 * jr.normal(k3, a.shape), prob.init(k3))
    fisher = D.fisher_information(prob, p)
    h = landscape.hessian(prob, p)
    np.testing.assert_allclose(fisher, h, atol=1e-12)
    probs = jax.nn.softmax(prob.apply(p, x), axis=-1)
    draws = jr.categorical(k4, jnp.log(probs), shape=(200, 40))
    mc = jnp.mean(
        jax.vmap(lambda y: D.gradient_second_moment(prob.with_data(x, y), p))(draws), axis=0
    )
    assert float(jnp.linalg.norm(mc - fisher) / jnp.linalg.norm(fisher)) < 0.08
    # a hidden layer: Fisher ≠ Hessian away from a minimum, but still PSD
    mlp = problems.mlp_classification(x, labels, hidden=(4,), num_classes=3)
    pm = mlp.init(k3)
    fm = D.fisher_information(mlp, pm)
    assert np.min(np.linalg.eigvalsh(fm)) > -1e-12
    with pytest.raises(ValueError, match="^problem"):
        D.fisher_information(problems.mlp_regression(x, x[:, 0], hidden=()), prob.init(k3))
