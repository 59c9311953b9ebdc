"""The ghost derivation's asymptotic results against independent numerics: Euler's
second-order delay of the crossing (library closed form = SymPy, and against the Euler map
at small Δt), the zone gradient's closed form (= quadrature of the exact finite-a gradient),
the trajectory's r-derivative, and the cusp oscillation's average loss."""

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import expit

from derivations import ghost as theory
from toymodels.models import ghost


def test_second_order_escape_time_matches_sympy_and_euler():
    r = np.geomspace(1e-4, 1e-1, 9)
    for x_max, dt in ((10.0, 0.1), (5.0, 0.02)):
        np.testing.assert_allclose(
            ghost.escape_time(r, threshold=x_max, dt=dt, dt_order=2),
            theory.euler_escape_time_to2(r, x_max, dt),
            rtol=1e-13,
        )
    # the Euler map itself (NumPy loop, small dt so the next order is negligible): the crossing
    # of x = X, interpolated in 1/x between the two steps around it (x grows like 1/(t* − t))
    dt, x_max = 0.002, 2.0
    for r0 in (0.01, 0.04):
        x, k = 0.0, 0
        while x < x_max:
            prev, x, k = x, x + dt * (x * x + r0), k + 1
        frac = (1 / prev - 1 / x_max) / (1 / prev - 1 / x)
        measured = (k - 1 + frac) * dt
        first = float(ghost.escape_time(r0, threshold=x_max, dt=dt))
        second = float(ghost.escape_time(r0, threshold=x_max, dt=dt, dt_order=2))
        assert abs(measured - second) < 0.2 * abs(second - first), (r0, measured, first, second)
    with pytest.raises(ValueError, match="^dt_order"):
        ghost.escape_time(1.0, threshold=10.0, dt=0.1, dt_order=3)


def test_trajectory_r_derivative():
    r, t = 2e-3, np.array([1.0, 10.0, 30.0])
    h = 1e-7 * r
    fd = (theory.trajectory(r + h, t) - theory.trajectory(r - h, t)) / (2 * h)
    np.testing.assert_allclose(theory.trajectory_dr(r, t), fd, rtol=1e-6)


@pytest.mark.parametrize("a, frac", [(1.0, 0.1), (2.0, 0.18), (4.0, 0.05)])
def test_zone_gradient_matches_quadrature(a, frac):
    """dL/dr in the zone (continuous time, exact trajectory, exact sigmoid, scipy quad)
    against the three-order closed form, within twice its next order (the series' remainder
    is about one next term here) + the readout's tail, (1 − σ)²σ = e^z(1 − 3e^z + ...)."""
    T, X = 20.0, 10.0
    r = frac * math.pi**2 / (4 * T**2)

    def integrand(t, target):
        s = expit(a * (theory.trajectory(r, t) - X))
        return (s - target) * s * (1 - s) * theory.trajectory_dr(r, t)

    exact = (
        2
        * a
        / T
        * (
            quad(integrand, 0, T, args=(0.0,), epsabs=0, epsrel=1e-12, limit=200)[0]
            + quad(integrand, T, 2 * T, args=(1.0,), epsabs=0, epsrel=1e-12, limit=200)[0]
        )
    )
    closed = theory.zone_grad(r, a, T, T, X)
    bound = 2 * abs(theory.zone_grad_next(r, a, T, T, X)) + abs(closed) * 4 * math.exp(
        -a * (X - theory.trajectory(r, 2 * T))
    )
    assert abs(exact - closed) < bound, (exact, closed, bound)
    assert exact < 0  # the escape gradient points out of the zone
    # the plateau's deficit T_R/T − L = (1/T)[∫_T^{2T}(2σ − σ²) − ∫_0^T σ²] (no cancellation)
    sig = lambda t: expit(a * (theory.trajectory(r, t) - X))  # noqa: E731
    kw = dict(epsabs=0, epsrel=1e-12, limit=200)
    deficit = (
        quad(lambda t: 2 * sig(t) - sig(t) ** 2, T, 2 * T, **kw)[0]
        - quad(lambda t: sig(t) ** 2, 0, T, **kw)[0]
    ) / T
    closed_d = theory.zone_deficit(r, a, T, T, X)
    bound_d = 2 * abs(theory.zone_deficit_next(r, a, T, T, X)) + closed_d * 4 * math.exp(
        -a * (X - theory.trajectory(r, 2 * T))
    )
    assert abs(deficit - closed_d) < bound_d, (deficit, closed_d, bound_d)


def test_oscillation_loss_is_three_sixteenths_of_the_lr_ratio():
    for T in (7.0, 100.0):
        for q in (0.1, 0.5):
            eta = q * float(ghost.critical_lr(T))
            assert theory.oscillation_loss(eta, T) == pytest.approx(3 * q / 16, rel=1e-12)
            s = float(ghost.cusp_gradient(T))
            assert theory.oscillation_loss(eta, T) == pytest.approx(eta * s**2 / 2, rel=1e-12)
