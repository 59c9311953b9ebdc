"""Soudry & Carmon: Khatri–Rao rank and training outcomes (data (samples, features))."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from derivations import soudry as theory
from toymodels.models import soudry as sc


def test_derivation_identities():
    theory.check()


def test_gradient_is_khatri_rao_times_error(key):
    k1, k2 = jr.split(key)
    prob = sc.soudry_carmon(key=k1, d0=theory.D0, d1=theory.D1, num_samples=theory.N)
    assert prob.x.shape == (theory.N, theory.D0) and prob.noise.shape == (theory.N, theory.D1)
    p = prob.init(k2)
    U = np.asarray(prob.preactivations(p))
    A = np.where(U > 0, 1.0, prob.slope)
    ref = theory.grad_w(
        np.asarray(prob.x),
        np.asarray(prob.noise),
        A,
        np.asarray(p["W"]),
        np.asarray(p["w2"]),
        np.asarray(prob.y),
    )
    assert np.allclose(jax.grad(prob.loss)(p)["W"], ref, rtol=1e-12, atol=1e-14)
    e = prob.outputs(p) - prob.y
    kr = 2 * prob.khatri_rao(p).T @ e / prob.num_samples
    assert np.allclose(kr.reshape(theory.D1, theory.D0), ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("d1", [2, 4, 6, 12])
def test_khatri_rao_rank(key, d1):
    k1, k2 = jr.split(jr.fold_in(key, d1))
    prob = sc.soudry_carmon(key=k1, d0=4, d1=d1, num_samples=20)
    assert sc.khatri_rao_rank(prob, prob.init(k2)) == sc.predicted_rank(prob) == min(20, 4 * d1)


def test_batch_protocol(key):
    k1, k2 = jr.split(key)
    prob = sc.soudry_carmon(key=k1, d0=3, d1=2, num_samples=10)
    p = prob.init(k2)
    idx = jnp.array([7, 1, 4])
    sub = prob.batch(idx)
    assert sub.num_samples == 3
    assert np.allclose(sub.outputs(p), prob.outputs(p)[idx], rtol=1e-14)
    assert np.allclose(sub.noise, prob.noise[idx]) and np.allclose(sub.y, prob.y[idx])


def _fit(d0, d1, n, seed):
    k1, k2 = jr.split(jr.key(seed))
    prob = sc.soudry_carmon(key=k1, d0=d0, d1=d1, num_samples=n)
    return sc.fit(prob, prob.init(k2), num_steps=1000)


def test_training_outcomes_small():
    # N = 16, d0 = 4: d0·d1 = 32 = 2N fits exactly, d0·d1 = 8 = N/2 does not
    over = _fit(4, 8, 16, 0)
    assert over.stop_reason == "converged"
    assert over.mse < 1e-10 and over.rank == 16 and over.grad_norm < 1e-10
    assert over.min_abs_preactivation > 1e-8  # a differentiable point
    under = _fit(4, 2, 16, 0)
    assert under.mse > 0.1 and under.rank == 8


@pytest.mark.slow
def test_training_outcomes_paper_size():
    for seed in range(3):
        assert _fit(8, 16, 64, seed).mse < 1e-10
        assert _fit(8, 4, 64, seed).mse > 0.1


def test_bad_input(key):
    with pytest.raises(ValueError, match="slope"):
        sc.soudry_carmon(key=key, d0=2, d1=2, num_samples=4, slope=1.0)
    with pytest.raises(ValueError, match="d1"):
        sc.soudry_carmon(key=key, d0=2, d1=0, num_samples=4)
    with pytest.raises(TypeError, match="key"):
        sc.soudry_carmon(key=None, d0=2, d1=2, num_samples=4)
    with pytest.raises(TypeError):
        sc.soudry_carmon(key, 2, 2, 4)  # keyword-only
    with pytest.raises(ValueError, match="noise"):
        sc.from_data(jnp.ones((4, 2)), jnp.ones(4), jnp.ones((5, 3)))
    with pytest.raises(ValueError, match="y"):
        sc.from_data(jnp.ones((4, 2)), jnp.ones(3), jnp.ones((4, 3)))
