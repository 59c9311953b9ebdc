"""The load–temperature model (figures/fig70): the width-masked MLP against a plain MLP of
the smaller width, traced-batch-size SGD through `dynamics.run` against a hand-written
minibatch SGD, gradient accumulation and the micro-batch sampler."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

import toymodels.models.load_temperature as lt
from toymodels import dynamics
from toymodels.data import digits
from toymodels.landscape import hessian
from toymodels.problems import mlp_classification


C = 10
LR, MOMENTUM, WD = 0.05, 0.9, 5e-4


@pytest.fixture(scope="module")
def small():
    x, y = digits()
    return x[:96], y[:96]


def _pad(p, extra):
    return (
        {"w": jnp.pad(p[0]["w"], ((0, extra), (0, 0))), "b": jnp.pad(p[0]["b"], (0, extra))},
        {"w": jnp.pad(p[1]["w"], ((0, 0), (0, extra))), "b": p[1]["b"]},
    )


def test_masked_network_equals_plain_mlp(small):
    x, y = small
    plain = mlp_classification(x, y, hidden=3, num_classes=C)
    p = plain.init(jr.key(0))
    masked = lt.masked_mlp(x, y, width=3, max_width=7, num_classes=C)
    pm = _pad(p, 4)
    lp, g_plain = jax.jit(jax.value_and_grad(plain.loss))(p)
    lm, g_masked = jax.jit(jax.value_and_grad(masked.loss))(pm)
    np.testing.assert_allclose(lm, lp, rtol=1e-13)
    for a, b in zip(jax.tree.leaves(g_masked), jax.tree.leaves(_pad(g_plain, 4))):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(masked.error(pm), 1 - masked.accuracy(pm), rtol=1e-14)
    # init: switched-off weights are zero, active output weights have fan-in = width
    q = masked.init(jr.key(3))
    assert not np.any(np.asarray(q[0]["w"][3:])) and not np.any(np.asarray(q[1]["w"][:, 3:]))
    w2 = np.asarray(jax.vmap(masked.init)(jr.split(jr.key(4), 200))[1]["w"][:, :, :3])
    np.testing.assert_allclose(np.var(w2), 1 / 3, rtol=0.15)


def test_masked_hessian_is_the_plain_hessian_padded_with_zeros(small):
    x, y = small
    x = x[:, :12]  # a small dense Hessian (96 + 3 + 30 + 10 params plain)
    plain = mlp_classification(x, y, hidden=3, num_classes=C)
    p = plain.init(jr.key(5))
    masked = lt.masked_mlp(x, y, width=3, max_width=5, num_classes=C)
    ev_plain = np.linalg.eigvalsh(np.asarray(hessian(plain, p)))
    ev_masked = np.linalg.eigvalsh(np.asarray(hessian(masked, _pad(p, 2))))
    extra = ev_masked.size - ev_plain.size
    assert extra == 2 * 12 + 2 + 2 * C
    ref = np.sort(np.concatenate([ev_plain, np.zeros(extra)]))
    np.testing.assert_allclose(ev_masked, ref, atol=1e-12)


def _reference_sgd(grad_at, params, batch, micro, num_steps):
    """Minibatch SGD with momentum and weight decay, written out: each update averages the
    gradients `grad_at(params, step)` of `batch // micro` micro-batches."""
    k = batch // micro
    v = jax.tree_util.tree_map(jnp.zeros_like, params)
    acc = jax.tree_util.tree_map(jnp.zeros_like, params)
    for step in range(num_steps):
        acc = jax.tree_util.tree_map(jnp.add, acc, grad_at(params, step))
        if (step + 1) % k == 0:
            v = jax.tree_util.tree_map(
                lambda vi, ai, pi: MOMENTUM * vi + ai / k + WD * pi, v, acc, params
            )
            params = jax.tree_util.tree_map(lambda pi, vi: pi - LR * vi, params, v)
            acc = jax.tree_util.tree_map(jnp.zeros_like, acc)
    return params


def test_train_sgd_is_minibatch_sgd_through_run(small):
    x, y = small
    problem = lt.masked_mlp(x, y, width=5, max_width=8, num_classes=C)
    params = problem.init(jr.key(1))
    key = jr.key(2)

    def train(b):
        return lt.train_sgd(
            problem,
            params,
            key=key,
            batch_size=b,
            micro_batch_size=8,
            num_epochs=2,
            learning_rate=LR,
            momentum=MOMENTUM,
            weight_decay=WD,
        )

    # one program, batch size traced (vmapped): 8, 16 and 32 from micro-batches of 8
    out = jax.jit(jax.vmap(train))(jnp.array([8, 16, 32]))
    assert isinstance(out, dynamics.Trajectory)
    num_steps = 2 * (96 // 8)
    assert out.loss.shape == (3, num_steps)
    assert bool(jnp.all(out.stop_reason == "completed"))
    # micro-batches drawn as `dynamics.run` draws a stochastic problem's sample at step k:
    # fold_in(key, k), then split
    mb = lt.MicroBatches(problem=problem, batch_size=8)

    @jax.jit
    def grad_at(p, step):
        _, sub = jr.split(jr.fold_in(key, step))
        return jax.grad(mb.sample(sub).loss)(p)

    for i, b in enumerate([8, 16, 32]):
        ref = _reference_sgd(grad_at, params, b, 8, num_steps)
        got = jax.tree_util.tree_map(lambda a, i=i: a[i], out.params)
        for r, g in zip(jax.tree.leaves(ref), jax.tree.leaves(got)):
            np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)
    # switched-off units stay exactly zero
    assert not np.any(np.asarray(out.params[0]["w"][:, 5:]))
    assert not np.any(np.asarray(out.params[1]["w"][:, :, 5:]))
    # the loss went down
    assert float(problem.loss(jax.tree_util.tree_map(lambda a: a[0], out.params))) < float(
        problem.loss(params)
    )


def test_accumulate_gradients_on_a_quadratic():
    # L = |theta|^2 / 2 (gradient theta): with every = 3 the params move only at steps 3, 6:
    # GD on the mean of three equal gradients, theta -> (1 - lr) theta each time.
    from toymodels.problems import FunctionProblem

    prob = FunctionProblem(lambda p: 0.5 * jnp.sum(p**2), lambda k: jnp.ones(3))
    theta0 = jnp.array([1.0, -2.0, 0.5])
    tx = lt.accumulate_gradients(dynamics.GD(learning_rate=0.3), every=3)
    traj = dynamics.run(prob, theta0, tx, num_steps=7, key=jr.key(0), save=dynamics.Save(every=1))
    factors = np.array([1, 1, 1, 0.7, 0.7, 0.7, 0.49, 0.49])
    np.testing.assert_allclose(traj.saved, factors[:, None] * np.asarray(theta0), rtol=1e-14)
    # every = 1 is the inner optimizer itself
    inner = optax.sgd(0.1, momentum=0.5)
    a = dynamics.run(prob, theta0, inner, num_steps=5, key=jr.key(0))
    b = dynamics.run(
        prob, theta0, lt.accumulate_gradients(inner, every=1), num_steps=5, key=jr.key(0)
    )
    np.testing.assert_allclose(b.params, a.params, rtol=1e-14)


@pytest.mark.usefixtures("own_checks")
def test_bad_input(small):
    x, y = small
    problem = lt.masked_mlp(x, y, width=2, max_width=4, num_classes=C)
    p = problem.init(jr.key(0))
    kw = dict(num_epochs=1, learning_rate=0.1, momentum=0.9, weight_decay=0.0)
    with pytest.raises(ValueError, match="^batch_size"):
        lt.train_sgd(problem, p, key=jr.key(1), batch_size=12, micro_batch_size=8, **kw)
    with pytest.raises(TypeError, match="^key"):
        lt.train_sgd(problem, p, key=None, batch_size=8, micro_batch_size=8, **kw)
    with pytest.raises(ValueError, match="^width"):
        lt.masked_mlp(x, y, width=5, max_width=4, num_classes=C)
