"""Test entry point: float64 and strict dtype promotion are switched on here, never by
the library."""

import os
from pathlib import Path

import jax


jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
# Programs that take a while to compile are shared between the xdist workers and between
# tests through JAX's on-disk cache (git-ignored; about 10 % off a cold run, much more on
# a warm one). Override with JAX_COMPILATION_CACHE_DIR.
if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    jax.config.update(
        "jax_compilation_cache_dir",
        str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax-compilation-cache"),
    )
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)

import jax.random as jr
import pytest


@pytest.fixture
def key():
    """A fresh key per test; split it, never reuse it."""
    return jr.key(20261122)
