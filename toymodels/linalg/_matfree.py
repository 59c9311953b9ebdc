"""The one place where matfree is used: probe samplers for the stochastic estimators.

matfree's Lanczos (`decomp.tridiag_sym`) divides by the Krylov residual norm and returns NaN
at a breakdown, so the recurrence lives in `_lanczos.py`; the tests compare the two where no
breakdown occurs.
"""

import enum

import jax
import jax.numpy as jnp
from matfree import stochtrace


class Probes(enum.Enum):
    """Probe distribution: Rademacher signs (±1) or standard Gaussian."""

    RADEMACHER = "rademacher"
    GAUSSIAN = "gaussian"


def sample_probes(key, n: int, num: int, dtype, kind: Probes) -> jax.Array:
    """`num` probe vectors of length `n` as rows `(num, n)`, E[z zᵀ] = I."""
    like = jnp.zeros((n,), dtype)
    if kind is Probes.RADEMACHER:
        return stochtrace.sampler_signs(like, num=num)(key)
    return stochtrace.sampler_normal(like, num=num)(key)
