"""Foundation: problems, networks, data."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.special
from jax.flatten_util import ravel_pytree

import toymodels
from toymodels import data, problems


def test_import_does_not_enable_x64_or_matplotlib():
    import subprocess
    import sys

    code = (
        "import sys, jax, toymodels, toymodels.problems, toymodels.data, toymodels.claims;"
        "assert not jax.config.jax_enable_x64;"
        "assert 'matplotlib' not in sys.modules and 'sympy' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("activation", [a.value for a in problems.Activation])
def test_activations_match_definitions(activation):
    x = jnp.linspace(-3, 3, 13)
    f = problems.activation_function(activation, negative_slope=0.1)
    xn = np.asarray(x)
    ref = {
        "tanh": np.tanh(xn),
        "relu": np.maximum(xn, 0),
        "leaky_relu": np.where(xn >= 0, xn, 0.1 * xn),
        "softplus": np.log1p(np.exp(xn)),
        "erf": scipy.special.erf(xn / np.sqrt(2)),
        "g": 1 / (1 + np.exp(-4 * xn)) + np.log1p(np.exp(xn)),
        "sigmoid": 1 / (1 + np.exp(-xn)),
        "identity": xn,
    }[activation]
    np.testing.assert_allclose(f(x), ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("hidden", [(), 5, (4, 3), (3, 3, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_mlp_regression_matches_numpy_forward(key, hidden, bias):
    kx, ky, kp = jr.split(key, 3)
    x = jr.normal(kx, (7, 3))
    y = jr.normal(ky, (7, 2))
    prob = problems.mlp_regression(x, y, hidden=hidden, activation="tanh", bias=bias, half=True)
    params = prob.init(kp)
    h = np.asarray(x)
    for i, layer in enumerate(params):
        assert ("b" in layer) == bias
        h = h @ np.asarray(layer["w"]).T + (np.asarray(layer["b"]) if bias else 0)
        if i < len(params) - 1:
            h = np.tanh(h)
    ref = 0.5 * np.mean(np.sum((h - np.asarray(y)) ** 2, axis=1))
    np.testing.assert_allclose(prob.loss(params), ref, rtol=1e-13)
    # half=False doubles it: the documented 1/2 convention.
    prob1 = problems.mlp_regression(x, y, hidden=hidden, bias=bias, half=False)
    np.testing.assert_allclose(prob1.loss(params), 2 * ref, rtol=1e-13)


def test_scalar_output_and_init_scale(key):
    kx, kp = jr.split(key)
    x = jr.normal(kx, (2000, 50))
    prob = problems.mlp_regression(x, jnp.zeros(2000), hidden=(400,), init_scale=2.0)
    params = prob.init(kp)
    assert prob.outputs(params).shape == (2000,)
    # LeCun normal: std(w) = scale / sqrt(fan_in).
    np.testing.assert_allclose(jnp.std(params[0]["w"]), 2.0 / np.sqrt(50), rtol=0.02)


def test_cross_entropy_matches_scipy(key):
    kx, kl, kp = jr.split(key, 3)
    x = jr.normal(kx, (20, 4))
    labels = jr.randint(kl, (20,), 0, 3)
    prob = problems.mlp_classification(x, labels, hidden=(6,), activation="relu", num_classes=3)
    params = prob.init(kp)
    logits = np.asarray(prob.outputs(params))
    ref = np.mean(
        scipy.special.logsumexp(logits, axis=1) - logits[np.arange(20), np.asarray(labels)]
    )
    np.testing.assert_allclose(prob.loss(params), ref, rtol=1e-13)
    acc = np.mean(np.argmax(logits, 1) == np.asarray(labels))
    np.testing.assert_allclose(prob.accuracy(params), acc)


def test_problem_is_immutable_pytree_and_jittable(key):
    x, labels = data.gaussian_mixture(key=key, num_samples=30, dim=4, num_classes=3, separation=2.0)
    prob = problems.mlp_classification(x, labels, hidden=5)
    params = prob.init(jr.key(1))
    with pytest.raises(Exception):
        prob.x = x  # frozen dataclass
    leaves = jax.tree_util.tree_leaves(prob)
    assert any(leaf is prob.x for leaf in leaves)
    # jit over the problem itself (data is a leaf, hyperparameters static)
    f = eqx.filter_jit(lambda pr, p: pr.loss(p))
    np.testing.assert_allclose(f(prob, params), prob.loss(params), rtol=1e-14)
    # minibatch view
    sub = prob.with_data(x[:10], labels[:10])
    assert sub.num_samples == 10


def test_equinox_model_as_problem(key):
    """The README example: a user's own equinox model as a problem in a few lines."""
    kx, kp = jr.split(key)
    x = jr.normal(kx, (32, 2))
    y = jnp.sin(x[:, 0])

    def loss_fn(model, d):
        xb, yb = d
        return jnp.mean((jax.vmap(model)(xb)[:, 0] - yb) ** 2)

    problem = problems.EquinoxProblem(lambda k: eqx.nn.MLP(2, 1, 8, 2, key=k), loss_fn, data=(x, y))
    params = problem.init(kp)
    model = problem.model(params)
    np.testing.assert_allclose(problem.loss(params), loss_fn(model, (x, y)), rtol=1e-14)
    g = jax.grad(problem.loss)(params)
    flat, _ = ravel_pytree(g)
    assert flat.shape[0] == sum(leaf.size for leaf in jax.tree_util.tree_leaves(params))
    assert np.all(np.isfinite(flat))


def test_function_problem():
    prob = problems.FunctionProblem(
        loss_fn=lambda p: jnp.sum(p**2), init_fn=lambda k: jr.normal(k, (3,))
    )
    p = prob.init(jr.key(0))
    np.testing.assert_allclose(prob.grad(p), 2 * p)


@pytest.mark.parametrize("activation", ["erf", "relu"])
def test_teacher_student_population_matches_finite_sample(key, activation):
    """Acceptance: population loss vs 1e5-sample loss within 1e-2 at random params."""
    kt, ks, kx = jr.split(key, 3)
    teacher = problems.two_layer_init(key=kt, dim=5, width=3)
    pop = problems.teacher_student_population(teacher, width=4, activation=activation)
    fin = problems.teacher_student_finite(
        key=kx, teacher=teacher, width=4, num_samples=100_000, activation=activation
    )
    for k in jr.split(ks, 3):
        student = pop.init(k)
        lp, lf = pop.loss(student), fin.loss(student)
        assert abs(lp - lf) < 1e-2, (lp, lf)
        assert lp > 1e-3  # a non-trivial comparison


def test_gaussian_kernel_against_quadrature():
    """The closed-form kernels against independent quadrature (not Monte Carlo)."""
    u = np.array([[0.7, -0.2], [1.3, 0.4]])
    v = np.array([[-0.5, 0.9], [0.0, 1.5], [0.7, -0.2]])
    # erf: 2-D Gauss–Hermite (smooth integrand).
    K = np.asarray(problems.gaussian_kernel("erf", jnp.asarray(u), jnp.asarray(v)))
    z, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / w.sum()
    X = np.stack(np.meshgrid(z, z, indexing="ij"), -1).reshape(-1, 2)
    W = np.outer(w, w).ravel()
    gu, gv = scipy.special.erf(X @ u.T / np.sqrt(2)), scipy.special.erf(X @ v.T / np.sqrt(2))
    np.testing.assert_allclose(K, (gu * W[:, None]).T @ gv, atol=1e-10)
    # relu: positively homogeneous, so E = E[r^2] * mean over the circle = 2 * <.>_phi.
    K = np.asarray(problems.gaussian_kernel("relu", jnp.asarray(u), jnp.asarray(v)))
    phi = np.linspace(0, 2 * np.pi, 400_000, endpoint=False)
    e = np.stack([np.cos(phi), np.sin(phi)], 1)
    ref = 2 * (np.maximum(e @ u.T, 0)).T @ np.maximum(e @ v.T, 0) / len(phi)
    np.testing.assert_allclose(K, ref, atol=1e-8)


def test_teacher_student_population_zero_at_teacher_and_finite_gradient(key):
    teacher = problems.two_layer_init(key=key, dim=3, width=2)
    for act in ("erf", "relu"):
        pop = problems.teacher_student_population(teacher, width=2, activation=act)
        assert abs(pop.loss(teacher)) < 1e-14
        g = jax.grad(pop.loss)(teacher)
        assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(g))
        assert max(float(jnp.max(jnp.abs(leaf))) for leaf in jax.tree_util.tree_leaves(g)) < 1e-12


def test_deep_linear_flow_matches_saxe(key):
    """Acceptance: gradient flow (toymodels.dynamics.gradient_flow, via the figure's helper)
    of a deep linear network against Saxe's u(t), within 1e-8."""
    from figures.fig02_saxe_deep_linear import flow_mode_strength

    s, ts = 2.5, np.linspace(0.0, 4.0, 41)
    u = flow_mode_strength(s, dim=4, hidden=3, num_samples=64, ts=ts, key=key)
    ref = problems.saxe_mode_strength(ts, s=s, u0=1e-3)
    np.testing.assert_allclose(u, ref, atol=1e-8, rtol=0)
    assert float(ref[-1]) > 0.99 * s  # the curve did go through the transition


def test_saxe_closed_form_matches_sympy():
    from derivations import deep_linear

    ts = np.linspace(0, 5, 11)
    for s, u0 in [(1.0, 1e-2), (3.0, 1e-4), (0.5, 0.3)]:
        np.testing.assert_allclose(
            problems.saxe_mode_strength(ts, s=s, u0=u0),
            np.asarray(deep_linear.saxe_u(ts, s, u0), float),
            rtol=1e-12,
        )
    t_half = problems.saxe_plateau_time(s=2.0, u0=1e-3)
    np.testing.assert_allclose(problems.saxe_mode_strength(t_half, s=2.0, u0=1e-3), 1.0, rtol=1e-12)


def test_whitened_inputs(key):
    x = problems.whitened_inputs(key=key, num_samples=50, dim=6)
    np.testing.assert_allclose(x.T @ x / 50, np.eye(6), atol=1e-12)


def test_scalar_factorization_goodfellow_values():
    prob = problems.scalar_factorization(1.0)
    assert prob.loss(jnp.array([0.0, 0.0])) == 0.5
    np.testing.assert_allclose(prob.loss(jnp.array([1.25, 1.25])), 81 / 512, rtol=1e-15)
    H = jax.hessian(prob.loss)(jnp.zeros(2))
    np.testing.assert_allclose(np.linalg.eigvalsh(H), [-1, 1], atol=1e-15)


def test_rnn_delayed_activation(key):
    rnn = problems.leaky_rnn()  # the ghost paper's rank-one network
    params = rnn.init(key)
    xs = rnn.states(params)
    assert xs.shape == (40, 100)
    # explicit loop reference
    x = np.full(100, -0.3)
    m, n, b = (np.asarray(params[k]) for k in ("m", "n", "b"))
    outs = []
    for _ in range(40):
        x = 0.5 * x + 0.5 * np.tanh(m @ (n.T @ x) + b)
        outs.append(1 / (1 + np.exp(-10 * (n[:, 0] @ x - 1))))
    target = (np.arange(1, 41) > 20).astype(float)
    ref = np.sum((np.array(outs) - target) ** 2) / 20
    np.testing.assert_allclose(rnn.loss(params), ref, rtol=1e-12)
    # rank-K and full rank with trainable readouts
    for r in (3, None):
        net = problems.leaky_rnn(num_units=50, rank=r, readout="sigmoid", delay=10)
        p = net.init(key)
        assert np.isfinite(net.loss(p))
        g = jax.grad(net.loss)(p)
        assert set(g) == set(p)


def test_gaussian_mixture(key):
    x, y = data.gaussian_mixture(
        key=key, num_samples=300, dim=10, num_classes=5, separation=4.0, noise=0.5
    )
    assert x.shape == (300, 10) and y.shape == (300,)
    assert np.bincount(np.asarray(y)).tolist() == [60] * 5
    means = np.stack([np.asarray(x)[np.asarray(y) == c].mean(0) for c in range(5)])
    d = np.linalg.norm(means[:, None] - means[None], axis=-1)[np.triu_indices(5, 1)]
    np.testing.assert_allclose(d, 4.0 * np.sqrt(2), rtol=0.1)


def test_digits_offline_and_split(key):
    x, y = data.digits()
    assert x.shape == (1797, 64) and y.shape == (1797,)
    assert set(np.unique(np.asarray(y))) == set(range(10))
    split = data.digits_split(key=key, test_fraction=0.25)
    assert split.x_test.shape[0] == 449 and split.x_train.shape[0] == 1348
    assert x.dtype == jnp.float64


def test_teacher_regression(key):
    teacher = problems.two_layer_init(key=key, dim=3, width=4)
    x, y = data.teacher_regression(
        key=jr.key(3), num_samples=100, teacher=teacher, activation="erf"
    )
    ref = problems.mlp_apply(teacher, x, activation="erf", scalar_output=True)
    np.testing.assert_allclose(y, ref)


def test_toymodels_lazy_namespace():
    with pytest.raises(AttributeError):
        toymodels.no_such_thing  # noqa: B018


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    activation=st.sampled_from(["erf", "relu"]),
    k=st.sampled_from([1, 3]),
    scale=st.floats(0.1, 3.0),
)
def test_gaussian_kernel_is_a_symmetric_psd_gram_matrix(seed, activation, k, scale):
    """K(u, u) is a Gram matrix of functions: symmetric and positive semi-definite; the
    population loss is therefore >= 0 for every student."""
    K, loss = _kernel_and_loss(jr.key(seed), activation, k + 1, scale)
    K = np.asarray(K)
    np.testing.assert_allclose(K, K.T, atol=1e-14)
    assert np.linalg.eigvalsh(K).min() > -1e-12
    assert loss >= -1e-14


@functools.partial(jax.jit, static_argnums=(1, 2))
def _kernel_and_loss(key, activation, width, scale):
    k1, k2 = jr.split(key)
    u = scale * jr.normal(k1, (width, 3))
    teacher = problems.two_layer_init(key=k2, dim=3, width=2)
    pop = problems.teacher_student_population(teacher, width=width, activation=activation)
    return problems.gaussian_kernel(activation, u, u), pop.loss(
        ({"w": u}, {"w": jnp.ones((1, width))})
    )
