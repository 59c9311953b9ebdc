"""Counting: brute-force enumeration in parameter space against the closed forms."""

import jax.random as jr
import optimistix as optx
import pytest

from derivations import symmetry as theory
from toymodels import dynamics, symmetry as S
from toymodels.problems import mlp_apply, mlp_init, mlp_regression


@pytest.mark.parametrize(
    ("widths", "order"), [((3,), 1), ((4,), 1), ((5,), 2), ((2, 3), 1), ((4, 2), 2)]
)
def test_permutation_points(widths, order, key):
    closed = S.num_permutation_points(widths, order)
    assert S.enumerate_permutation_points(widths, order, key=key) == closed
    assert theory.num_permutation_points(widths, order) == closed


def test_closed_forms_match_sympy_and_recurrences():
    for r in range(1, 4):
        for m in range(r, r + 4):
            assert S.num_global_min_subspaces(r, m, zero_groups=False) == theory.t1(r, m)
            assert S.num_global_min_subspaces(r, m) == theory.t2(r, m)
            assert S.num_critical_subspaces(r, m) == theory.g_count(r, m)
    assert S.num_global_minima([3, 4]) == 144
    assert S.stirling2(5, 2) == 15 and S.stirling2(0, 0) == 1


@pytest.fixture(scope="module")
def two_neuron_teacher():
    k1, k2 = jr.split(jr.key(3))
    teacher = mlp_init(key=k1, sizes=(2, 2, 1), bias=False, scale=2.0)
    x = jr.normal(k2, (100, 2))
    y = mlp_apply(teacher, x, activation="g", scalar_output=True)
    return mlp_regression(x, y, hidden=2, activation="g", bias=False), teacher


def test_global_min_subspaces_by_enumeration(two_neuron_teacher, key):
    prob, teacher = two_neuron_teacher
    for m, groups in ((3, False), (4, True), (4, False)):
        out = S.enumerate_global_min_subspaces(
            prob, teacher, width=m, zero_groups=groups, key=jr.fold_in(key, m)
        )
        assert out.count == out.enumerated  # distinct and maximal
        assert out.count == S.num_global_min_subspaces(2, m, zero_groups=groups)
        assert out.max_loss < 1e-25  # every subspace is a global minimum
        assert out.min_dim >= m - 2  # dimension >= h


def test_critical_subspaces_by_enumeration(two_neuron_teacher, key):
    prob, teacher = two_neuron_teacher
    # a width-1 critical point of the width-2 teacher problem (a saddle/minimum, not global)
    p1 = mlp_init(key=jr.key(0), sizes=(2, 1, 1), bias=False)
    m = dynamics.minimize(prob, p1, solver=optx.BFGS(rtol=1e-12, atol=1e-12), max_steps=2000)
    cp = dynamics.find_critical_point(prob, m.params, gtol=1e-12, max_steps=20)
    assert cp.converged and cp.loss > 1e-6
    out = S.enumerate_critical_subspaces(prob, cp.params, width=3, key=key)
    assert out.count == S.num_critical_subspaces(1, 3)
    assert out.max_grad < 1e-10
    assert out.zero_type_grad > 1e-4  # zero-type neurons are not critical here


def test_bad_counts():
    with pytest.raises(ValueError, match="order"):
        S.num_permutation_points([3], 0)
    with pytest.raises(ValueError, match="widths"):
        S.num_global_minima([0])
    with pytest.raises(ValueError, match="m"):
        S.num_critical_subspaces(2, -1)
    with pytest.raises(TypeError, match="key"):
        S.enumerate_permutation_points([3], 1, key=None)
