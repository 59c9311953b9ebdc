"""Activation functions by name."""

import enum
from collections.abc import Callable

import jax
import jax.numpy as jnp

from .._validation import as_enum


class Activation(enum.Enum):
    """Activation functions of the package's networks.

    - `TANH`, `RELU`, `SOFTPLUS`, `SIGMOID`, `IDENTITY`: as usual.
    - `LEAKY_RELU`: `max(x, s·x)` with the network's `negative_slope` s (default 0.01).
    - `ERF`: `erf(x/√2)` (= 2Φ(x) − 1), the convention of Saad & Solla and of
      MLPGradientFlow.jl's `sigmoid2`, for which the Gaussian-input kernel is the arcsin
      kernel $(2/\\pi)\\arcsin(C_{12}/\\sqrt{(1+C_{11})(1+C_{22})})$.
    - `G`: `sigmoid(4x) + softplus(x)`, the asymmetric activation of Brea, Şimşek et al.
    """

    TANH = "tanh"
    RELU = "relu"
    LEAKY_RELU = "leaky_relu"
    SOFTPLUS = "softplus"
    ERF = "erf"
    G = "g"
    SIGMOID = "sigmoid"
    IDENTITY = "identity"


def _erf(x):
    return jax.scipy.special.erf(x / jnp.sqrt(jnp.asarray(2.0, dtype=jnp.result_type(x))))


def _g(x):
    return jax.nn.sigmoid(4.0 * x) + jax.nn.softplus(x)


def activation_function(activation, *, negative_slope: float = 0.01) -> Callable:
    """The elementwise function of an `Activation` (or its string name)."""
    act = as_enum("activation", activation, Activation)
    if act is Activation.LEAKY_RELU:
        slope = float(negative_slope)
        return lambda x: jnp.where(x >= 0, x, slope * x)
    return {
        Activation.TANH: jnp.tanh,
        Activation.RELU: jax.nn.relu,
        Activation.SOFTPLUS: jax.nn.softplus,
        Activation.ERF: _erf,
        Activation.G: _g,
        Activation.SIGMOID: jax.nn.sigmoid,
        Activation.IDENTITY: lambda x: x,
    }[act]
