"""Rescaling symmetry of a two-layer ReLU net (Li, Gu, Zhou, Chen & Banerjee 2020, §5): with
(αW₁, αb₁, W₂/α) the network function and so the loss are unchanged; the dense Hessian
transforms as H' = D⁻¹HD⁻¹ with D = diag(α on layer 1, 1/α on W₂, 1 on b₂), so λ_max is not
invariant while Σ_i log(|θ_i|·√H_ii) is."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from toymodels import landscape
from toymodels.data import gaussian_mixture
from toymodels.problems import mlp_classification


def _rescale(params, alpha):
    (l1, l2) = params
    return (
        {"w": alpha * l1["w"], "b": alpha * l1["b"]},
        {"w": l2["w"] / alpha, "b": l2["b"]},
    )


@pytest.fixture(scope="module")
def relu_net():
    kd, ki = jr.split(jr.key(5))
    x, labels = gaussian_mixture(key=kd, num_samples=60, dim=4, num_classes=3, separation=1.5)
    prob = mlp_classification(x, labels, hidden=5, activation="relu")
    return prob, prob.init(ki)


@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_rescaling_keeps_loss_and_transforms_hessian(relu_net, alpha):
    prob, p = relu_net
    q = _rescale(p, alpha)
    assert np.isclose(float(prob.loss(q)), float(prob.loss(p)), rtol=1e-13, atol=0)
    h = np.asarray(landscape.hessian(prob, p))
    hq = np.asarray(landscape.hessian(prob, q))
    # the independent reference: the chain rule for θ' = Dθ, H' = D⁻¹ H D⁻¹
    d = np.asarray(ravel_pytree(_rescale(jax_ones_like(p), alpha))[0])
    assert np.allclose(hq, h / np.outer(d, d), rtol=1e-9, atol=1e-12)
    lam, lamq = np.linalg.eigvalsh(h)[-1], np.linalg.eigvalsh(hq)[-1]
    assert abs(lamq / lam - 1) > 0.05  # λ_max is not invariant
    assert np.all(np.diag(h) > 0)  # no dead unit: every log is finite
    flat, flatq = (np.asarray(ravel_pytree(v)[0]) for v in (p, q))
    inv = np.sum(np.log(np.abs(flat) * np.sqrt(np.diag(h))))
    invq = np.sum(np.log(np.abs(flatq) * np.sqrt(np.diag(hq))))
    assert np.isclose(inv, invq, rtol=1e-10)


def jax_ones_like(params):
    return tuple({k: jnp.ones_like(v) for k, v in layer.items()} for layer in params)
