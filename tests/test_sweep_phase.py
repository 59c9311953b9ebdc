"""The pieces of the load–temperature sweep (figures/fig70) that make the whole grid one
vmapped program: a width mask and batch sizes by micro-batch accumulation."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from figures import fig70_load_temperature as fig
from toymodels.problems import mlp_classification


@pytest.fixture(scope="module")
def small():
    s, _, _ = fig._data()
    return s.x_train[:96], s.y_train[:96]


def _plain_sgd(problem, params, key, batch, epochs):
    """Reference: minibatch SGD with momentum and weight decay, one update per minibatch
    (the same shuffles as `train_sgd` with micro = batch)."""
    n = problem.num_samples
    perms = np.asarray(jax.vmap(lambda k: jr.permutation(k, n))(jr.split(key, epochs)))
    v = jax.tree_util.tree_map(jnp.zeros_like, params)

    @jax.jit
    def step(params, v, i):
        g = jax.grad(problem.with_data(problem.x[i], problem.targets[i]).loss)(params)
        v = jax.tree_util.tree_map(
            lambda vi, gi, pi: fig.MOMENTUM * vi + gi + fig.WEIGHT_DECAY * pi, v, g, params
        )
        return jax.tree_util.tree_map(lambda pi, vi: pi - fig.LR * vi, params, v), v

    for perm in perms:
        for j in range(n // batch):
            params, v = step(params, v, perm[j * batch : (j + 1) * batch])
    return params


def test_micro_batch_accumulation_is_minibatch_sgd(small):
    x, y = small
    problem = fig.masked_problem(x, y, 5, 8)
    params = problem.init(jr.key(1))
    key = jr.key(2)
    batches = jnp.array([8, 16, 32])
    # one program, batch size traced: micro-batches of 8 accumulated into each minibatch;
    # 96 = 3*32 so the shuffles (first n // micro * micro samples) match the reference's
    run = jax.jit(jax.vmap(lambda b: fig.train_sgd(problem, params, key, b, epochs=2, micro=8)))
    out = run(batches)
    for i, b in enumerate([8, 16, 32]):
        ref = _plain_sgd(problem, params, key, b, 2)
        got = jax.tree_util.tree_map(lambda a, i=i: a[i], out)
        for r, g in zip(jax.tree.leaves(ref), jax.tree.leaves(got)):
            np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)
    # switched-off units stay exactly zero
    assert not np.any(np.asarray(out[0]["w"][:, 5:]))
    assert not np.any(np.asarray(out[1]["w"][:, :, 5:]))


def test_masked_network_equals_plain_mlp(small):
    x, y = small
    plain = mlp_classification(x, y, 3, num_classes=fig.CLASSES)
    p = plain.init(jr.key(0))
    masked = fig.masked_problem(x, y, 3, 7)
    pm = (
        {"w": jnp.pad(p[0]["w"], ((0, 4), (0, 0))), "b": jnp.pad(p[0]["b"], (0, 4))},
        {"w": jnp.pad(p[1]["w"], ((0, 0), (0, 4))), "b": p[1]["b"]},
    )
    lp, g_plain = jax.jit(jax.value_and_grad(plain.loss))(p)
    lm, g_masked = jax.jit(jax.value_and_grad(masked.loss))(pm)
    np.testing.assert_allclose(lm, lp, rtol=1e-13)
    np.testing.assert_allclose(g_masked[0]["w"][:3], g_plain[0]["w"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g_masked[1]["w"][:, :3], g_plain[1]["w"], rtol=1e-12, atol=1e-14)
    assert not np.any(np.asarray(g_masked[0]["w"][3:])) and not np.any(
        np.asarray(g_masked[1]["w"][:, 3:])
    )
    # init: switched-off weights are zero, the active output weights have fan-in = width
    q = masked.init(jr.key(3))
    assert not np.any(np.asarray(q[0]["w"][3:])) and not np.any(np.asarray(q[1]["w"][:, 3:]))
