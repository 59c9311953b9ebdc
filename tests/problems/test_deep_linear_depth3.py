"""The three-layer Saxe reduction (derivations/deep_linear.py): its closed-form half-rise
time against an independent quadrature of u' = 3u^{4/3}(s − u) (the figure fig02 compares
it with the gradient flow of a whole three-layer linear network)."""

import numpy as np
import pytest
from scipy.integrate import quad

from derivations import deep_linear


def test_derivation_check():
    deep_linear.check()


@pytest.mark.parametrize("s, u0", [(1.0, 1e-3), (2.0, 1e-2), (0.5, 1e-4), (3.0, 0.5)])
def test_depth3_half_time_matches_quadrature(s, u0):
    ref, err = quad(
        lambda u: 1 / (3 * u ** (4 / 3) * (s - u)), u0, s / 2, epsabs=1e-13, epsrel=1e-12
    )
    assert err < 1e-9
    np.testing.assert_allclose(deep_linear.depth3_half_time(s, u0), ref, rtol=1e-10)


def test_depth3_half_time_small_init_limit():
    # t½ → u0^(-1/3)/s as u0 → 0 (the plateau's escape dominates)
    s, u0 = 2.0, 1e-12
    np.testing.assert_allclose(
        deep_linear.depth3_half_time(s, u0) * s * u0 ** (1 / 3), 1, rtol=1e-3
    )


@pytest.mark.parametrize("fraction", [0.1, 0.9])
def test_depth3_time_matches_quadrature(fraction):
    s, u0 = 2.0, 1e-3
    ref = quad(lambda u: 1 / (3 * u ** (4 / 3) * (s - u)), u0, fraction * s, epsrel=1e-12)[0]
    np.testing.assert_allclose(deep_linear.depth3_time(s, u0, fraction * s), ref, rtol=1e-10)
