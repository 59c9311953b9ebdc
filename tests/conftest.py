"""Test entry point: float64 and strict dtype promotion are switched on here, never by
the library."""

import jax


jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")

import jax.random as jr
import pytest


@pytest.fixture
def key():
    """A fresh key per test; split it, never reuse it."""
    return jr.key(20261122)
