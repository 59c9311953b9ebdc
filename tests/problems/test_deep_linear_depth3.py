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


@pytest.mark.parametrize("hidden", [5, (5, 4), (3, 4, 6)])
def test_balanced_rank_one_init_puts_u0_on_one_balanced_mode(hidden):
    """The product of the layers is u0·e₁dᵀ (rank one, strength u0 along the unit input
    direction d), each layer carrying u0^(1/L); the network's map x ↦ u0 (d·x) on e₁."""
    import jax.numpy as jnp  # noqa: PLC0415

    from toymodels.problems import balanced_rank_one_init  # noqa: PLC0415

    direction, u0 = jnp.array([3.0, 0.0, -4.0, 0.0]), 0.37
    params = balanced_rank_one_init(direction, hidden=hidden, out=2, u0=u0)
    depth = 2 if isinstance(hidden, int) else len(hidden) + 1
    assert len(params) == depth
    prod = np.eye(4)
    for layer in params:
        w = np.asarray(layer["w"])
        assert np.count_nonzero(w) == (2 if layer is params[0] else 1)
        np.testing.assert_allclose(
            np.abs(w).max(), u0 ** (1 / depth) * (0.8 if layer is params[0] else 1), rtol=1e-12
        )
        prod = w @ prod
    expected = np.zeros((2, 4))
    expected[0] = u0 * np.array([0.6, 0.0, -0.8, 0.0])
    np.testing.assert_allclose(prod, expected, atol=1e-15)
    with pytest.raises(ValueError, match="hidden"):
        balanced_rank_one_init(direction, hidden=(), out=1, u0=u0)
