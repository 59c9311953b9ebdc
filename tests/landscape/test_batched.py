"""Curvature of any model: a user's own equinox model through the supervised protocol
(Gauss–Newton against a dense JᵀHJ), and curvature over data given as batches against the
full-batch result (HVP, trace, eigsh top-5, SLQ nodes; float64, 1e-10)."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from jaxtyping import Array

from toymodels import landscape, linalg, problems


NUM_SAMPLES, BATCH = 50, 16  # batches of 16, 16, 16 and a ragged 2


def _make(key):
    return eqx.nn.MLP(3, 4, 6, 2, activation=jnp.tanh, key=key)


class OwnModel(problems.AbstractSupervisedProblem):
    """A user's own eqx.nn model made supervised (the README's protocol)."""

    x: Array
    targets: Array
    static: Any = eqx.field(static=True)
    objective: problems.AbstractObjective = problems.CrossEntropy()

    def apply(self, params, x):
        return jax.vmap(eqx.combine(params, self.static))(x)

    def init(self, key):
        return eqx.partition(_make(key), eqx.is_inexact_array)[0]


@pytest.fixture(scope="module")
def setup():
    kx, ky, kp = jr.split(jr.key(7), 3)
    x = jr.normal(kx, (NUM_SAMPLES, 3))
    y = jr.randint(ky, (NUM_SAMPLES,), 0, 4)
    params, static = eqx.partition(_make(kp), eqx.is_inexact_array)
    problem = OwnModel(x, y, static)
    batches = [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, NUM_SAMPLES, BATCH)]
    assert [b[0].shape[0] for b in batches] == [16, 16, 16, 2]
    return problem, params, batches


@pytest.fixture(scope="module")
def dense_hessian(setup):
    problem, params, _ = setup
    return np.asarray(landscape.hessian(problem, params))


def test_own_equinox_model_gauss_newton_matches_dense_jthj(setup, dense_hessian):
    problem, params, batches = setup
    flat, unravel = ravel_pytree(params)
    z = np.asarray(problem.outputs(params))
    J = np.asarray(jax.jit(jax.jacfwd(lambda f: problem.outputs(unravel(f)).reshape(-1)))(flat))
    # output-space Hessian of the mean cross-entropy in closed form: (diag p - p pᵀ)/N per sample
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    blocks = [np.diag(pn) - np.outer(pn, pn) for pn in p]
    Hz = np.zeros((z.size, z.size))
    k = z.shape[1]
    for n, b in enumerate(blocks):
        Hz[n * k : (n + 1) * k, n * k : (n + 1) * k] = b / z.shape[0]
    G_ref = J.T @ Hz @ J
    G = landscape.gauss_newton_operator(problem, params).to_dense()
    np.testing.assert_allclose(G, G_ref, rtol=1e-10, atol=1e-13)
    # the residual term completes the dense Hessian
    R = landscape.residual_operator(problem, params).to_dense()
    np.testing.assert_allclose(G + R, dense_hessian, rtol=1e-10, atol=1e-13)
    # and over batches (same operator, accumulated)
    Gb = landscape.batched_operator(
        problem, params, batches=batches, curvature=landscape.gauss_newton_operator
    ).to_dense()
    np.testing.assert_allclose(Gb, G_ref, rtol=1e-10, atol=1e-13)


def test_batched_hvp_and_trace_equal_full_batch(setup, dense_hessian):
    """Against the full-batch Hessian (dense, float64; its HVPs agree with it to 1e-13 in
    tests/landscape/test_curvature.py): HVP, and the Hutchinson trace with the same key."""
    problem, params, batches = setup
    H = dense_hessian
    op = landscape.batched_operator(problem, params, batches=batches)
    assert op.shape == H.shape and op.dtype == H.dtype
    flat, unravel = ravel_pytree(params)
    k_v, k_tr = jr.split(jr.key(8))
    v = jr.normal(k_v, flat.shape)
    hv = landscape.batched_hvp(problem, params, unravel(v), batches=batches)
    np.testing.assert_allclose(ravel_pytree(hv)[0], H @ np.asarray(v), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(op.matvec(v), H @ np.asarray(v), rtol=1e-10, atol=1e-12)
    t_b = linalg.trace(op, num_probes=8, key=k_tr)
    t_f = linalg.trace(linalg.DenseOperator(jnp.asarray(H)), num_probes=8, key=k_tr)
    np.testing.assert_allclose(t_b.estimate, t_f.estimate, rtol=1e-10)
    np.testing.assert_allclose(t_b.stderr, t_f.stderr, rtol=1e-10)


@pytest.mark.slow
def test_batched_eigsh_and_slq_equal_full_batch(setup, dense_hessian):
    """eigsh top-5 against the dense eigenvalues; SLQ nodes and weights against SLQ on the
    full-batch Hessian with the same key (~12 s: two more compiled Lanczos programs)."""
    problem, params, batches = setup
    H = dense_hessian
    op = landscape.batched_operator(problem, params, batches=batches)
    k_eig, k_slq = jr.split(jr.key(10))
    top = linalg.eigsh(op, 5, key=k_eig, tol=1e-11)[0]
    np.testing.assert_allclose(top, np.linalg.eigvalsh(H)[::-1][:5], rtol=1e-10, atol=1e-12)
    sd_b = linalg.spectral_density(op, num_steps=20, num_probes=2, key=k_slq)
    sd_f = linalg.spectral_density(
        linalg.DenseOperator(jnp.asarray(H)), num_steps=20, num_probes=2, key=k_slq
    )
    np.testing.assert_allclose(sd_b.nodes, sd_f.nodes, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sd_b.weights, sd_f.weights, rtol=1e-10, atol=1e-12)


def test_lazy_batches_of_an_equinox_problem_compile_once_per_shape(setup, dense_hessian):
    """An `EquinoxProblem` (the same network and loss) with data pytrees produced lazily by
    a function (the larger-than-memory case); each batch shape traces its product once."""
    own, params, batches = setup

    def loss_fn(model, data):
        xb, yb = data
        return jnp.mean(problems.CrossEntropy().per_sample(jax.vmap(model)(xb), yb))

    eq = problems.EquinoxProblem(_make, loss_fn, data=(own.x, own.targets))
    traces = []

    def counting_hessian(problem, params):
        traces.append(problem.data[0].shape[0])  # runs at trace time only
        return landscape.hessian_operator(problem, params)

    def source():  # a fresh pass each call, one batch in memory at a time
        for xb, yb in batches:
            yield (np.asarray(xb), np.asarray(yb))

    op = landscape.batched_operator(eq, params, batches=source, curvature=counting_hessian)
    v = np.asarray(jr.normal(jr.key(9), (op.shape[0],)))
    for scale in (1.0, 2.0, 3.0):
        hv = op.matvec(scale * v)
        np.testing.assert_allclose(hv, dense_hessian @ (scale * v), rtol=1e-10, atol=1e-12)
    op.to_dense()  # 94 vectors in one pass: the same two programs
    assert sorted(traces) == [2, 16]  # full batches and the ragged last: two programs


@pytest.mark.usefixtures("own_checks")
def test_bad_batches_are_refused(setup):
    problem, params, batches = setup
    with pytest.raises(ValueError, match="batches: a one-shot iterator"):
        landscape.batched_operator(problem, params, batches=iter(batches))
    with pytest.raises(ValueError, match="batches: empty"):
        landscape.batched_operator(problem, params, batches=[])
    with pytest.raises(TypeError, match="batches: expected an iterable"):
        landscape.batched_operator(problem, params, batches=3)
    with pytest.raises(ValueError, match="batches: each batch of a supervised problem"):
        landscape.batched_operator(problem, params, batches=[batches[0][0]])
    x, y = batches[0]
    with pytest.raises(ValueError, match="different leading"):
        landscape.batched_operator(problem, params, batches=[(x, y[:3])])
    bad = landscape.batched_operator(problem, params, batches=[(x, y), (x[:, :2], y)])
    with pytest.raises(ValueError, match="batches: batch 1 differs"):
        bad.tree_matvec(params)
    quad = problems.FunctionProblem(lambda p: jnp.sum(p**2), lambda k: jr.normal(k, (3,)))
    with pytest.raises(TypeError, match="with_batch"):
        landscape.batched_operator(quad, jnp.ones(3), batches=batches)
