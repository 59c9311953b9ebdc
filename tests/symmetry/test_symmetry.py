"""Weight-space symmetry: splits, the Fukumizu–Amari matrix, zero eigenvalues, valley paths,
alignment, bad input."""

import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optimistix as optx
import pytest

from derivations import symmetry as theory
from toymodels import dynamics, landscape, symmetry as S
from toymodels.problems import mlp_apply, mlp_init, mlp_regression


def _g(z):
    return jax.nn.sigmoid(4.0 * z) + jax.nn.softplus(z)


def _critical_point(prob, p0, *, gtol):
    """BFGS to a minimum, then Newton (SVD) to a critical point to `gtol`: the engine's
    `dynamics.minimize` and `dynamics.find_critical_point`."""
    m = dynamics.minimize(prob, p0, solver=optx.BFGS(rtol=1e-12, atol=1e-12), max_steps=2000)
    cp = dynamics.find_critical_point(prob, m.params, gtol=gtol, max_steps=20)
    assert cp.converged, cp.grad_norm
    return cp


@jax.jit
def _grad_inf(prob, p):
    return jnp.max(jnp.abs(jax.flatten_util.ravel_pytree(jax.grad(prob.loss)(p))[0]))


def _hessian_eigs(prob, p):
    return np.linalg.eigvalsh(np.asarray(landscape.hessian(prob, p)))


def _line_barrier(prob, p0, p1, *, num):
    losses = landscape.interpolate(prob, p0, p1, np.linspace(0.0, 1.0, num))
    return float(landscape.barrier_height(losses))


@pytest.fixture(scope="module")
def crit():
    """A polished width-3 critical point of a width-4 teacher (g activation, d = 2, no bias)."""
    k1, k2, k3 = jr.split(jr.key(1), 3)
    teacher = mlp_init(key=k1, sizes=(2, 4, 1), bias=False, scale=2.0)
    x = jr.normal(k2, (200, 2))
    y = mlp_apply(teacher, x, activation="g", scalar_output=True)
    prob = mlp_regression(x, y, hidden=3, activation="g", bias=False)
    cp = _critical_point(prob, prob.init(k3), gtol=1e-13)
    assert cp.index == 0 and cp.num_zero_modes == 0  # a strict local minimum
    return prob, cp.params


def test_split_invariance_over_gamma(crit):
    prob, p = crit
    L0 = float(prob.loss(p))
    for gamma in np.linspace(-2.0, 3.0, 6):
        q = S.split_neuron(p, 1, float(gamma))
        assert abs(float(prob.loss(q)) - L0) < 1e-12
        assert float(_grad_inf(prob, q)) < 1e-9
    # merging undoes the split, permutations and zero-type neurons keep the function
    q = S.split_neuron(p, 1, 2.5)
    back = S.merge_neurons(q, 1, 3)
    assert all(
        np.allclose(a, b, atol=1e-14) for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(p))
    )
    perm = S.permute_neurons(p, np.array([2, 0, 1]))
    z = S.add_zero_neurons(p, jnp.array([[0.3, -1.2]]))
    x = prob.x
    f = mlp_apply(p, x, activation="g")
    assert np.allclose(mlp_apply(perm, x, activation="g"), f, atol=1e-13)
    assert np.allclose(mlp_apply(z, x, activation="g"), f, atol=1e-13)
    assert np.allclose(mlp_apply(S.remove_neurons(z, [3]), x, activation="g"), f, atol=1e-13)


def test_curvature_identity_and_B(crit):
    prob, p = crit
    i = 0
    B = S.fukumizu_amari_matrix(prob, p, i)
    # independent B: <a σ''(w·x) x xᵀ (f − y)> for the ½-MSE, σ'' by autodiff of g
    w, a = p[0]["w"][i], p[1]["w"][0, i]
    x = prob.x
    res = prob.outputs(p) - prob.targets
    s2 = jax.vmap(jax.grad(jax.grad(_g)))(x @ w)
    B_ref = (x * (a * s2 * res)[:, None]).T @ x / x.shape[0]
    assert np.allclose(B, B_ref, rtol=1e-10, atol=1e-14)
    xi = jnp.array([0.3, -0.7])
    for gamma in (-1.5, 0.3, 0.5, 2.0):
        q = S.split_neuron(p, i, gamma)
        H = landscape.hessian(prob, q)
        v = S.flat_vector(S.saddle_line_direction(p, i, gamma, xi))
        pred = float(S.line_curvature(B, gamma, xi))
        assert abs(float(v @ H @ v) - pred) <= 1e-6 * abs(pred) + 1e-15


def test_zero_eigenvalue_counts_and_minima_segment(crit):
    prob, p = crit
    d = p[0]["w"].shape[1]
    assert _hessian_eigs(prob, p)[0] > 1e-8  # strict local minimum
    for i in range(3):
        B = S.fukumizu_amari_matrix(prob, p, i)
        seg = S.minima_segment(B)
        for gamma, expect_zero in ((0.3, 1), (1.7, 1), (0.0, 1 + d), (1.0, 1 + d)):
            ev = _hessian_eigs(prob, S.split_neuron(p, i, gamma))
            assert np.sum(np.abs(ev) < 1e-8) == expect_zero
            if gamma in (0.3, 1.7):
                # local minimum on the line iff the segment predicted by B contains gamma
                assert (ev[0] > -1e-10) == seg.contains(gamma), (i, gamma, seg, ev[:3])


def test_minima_segment_classification():
    assert S.minima_segment(np.diag([1.0, 2.0])) is S.MinimaSegment.INSIDE
    assert S.minima_segment(-np.eye(2)) is S.MinimaSegment.OUTSIDE
    assert S.minima_segment(np.diag([1.0, -2.0])) is S.MinimaSegment.NONE
    assert S.MinimaSegment.OUTSIDE.contains(-0.5) and not S.MinimaSegment.INSIDE.contains(1.5)


def test_split_curvature_symbolic():
    # the SymPy second-order term, evaluated for σ = tanh, against autodiff of the output
    import sympy as sp

    expr = theory.SPLIT_OUTPUT.subs(theory.sigma, sp.tanh)
    d2 = sp.lambdify(
        (theory.gamma, theory.a, theory.w, theory.x, theory.xi),
        sp.diff(expr, theory.eta, 2).subs(theory.eta, 0).doit(),
    )
    g, a, w, x, xi = 0.3, 1.7, 0.4, -0.8, 0.6

    def out(eta):
        return g * a * jnp.tanh((w + (1 - g) * eta * xi) * x) + (1 - g) * a * jnp.tanh(
            (w - g * eta * xi) * x
        )

    assert np.isclose(float(jax.grad(jax.grad(out))(0.0)), d2(g, a, w, x, xi), rtol=1e-12)


@pytest.fixture(scope="module")
def teacher_problem():
    k1, k2, k3 = jr.split(jr.key(7), 3)
    teacher = mlp_init(key=k1, sizes=(2, 3, 1), bias=True, scale=2.0)
    teacher = (teacher[0] | {"b": jr.normal(k3, (3,))}, teacher[1])
    x = jr.normal(k2, (300, 2))
    y = mlp_apply(teacher, x, activation="g", scalar_output=True)
    return mlp_regression(x, y, hidden=4, activation="g", bias=True), teacher


def test_valley_path_is_flat_at_a_global_minimum(teacher_problem):
    prob, teacher = teacher_problem
    p = S.add_zero_neurons(teacher, jnp.array([[0.5, -0.4]]), jnp.array([0.2]))
    path = S.valley_path(p, 0, 1, spare=3, num=21)
    losses = landscape.trajectory_values(prob, path)
    assert float(jnp.max(losses)) < 1e-25
    end = jax.tree.map(lambda v: v[-1], path)
    target = S.permute_neurons(p, S.transposition(4, 0, 1))
    assert all(
        np.allclose(a, b, atol=1e-15) for a, b in zip(jax.tree.leaves(end), jax.tree.leaves(target))
    )
    # the straight line between the two permuted minima has a real barrier
    assert _line_barrier(prob, p, target, num=21) > 1e-3


def test_alignment_recovers_planted_permutation(key):
    k1, k2, k3 = jr.split(key, 3)
    for sizes in ((3, 6, 2), (3, 5, 4, 2)):
        pa = mlp_init(key=k1, sizes=sizes, bias=True)
        pa = tuple(lay | {"b": 0.3 * jr.normal(k3, lay["b"].shape)} for lay in pa)
        planted = [
            np.asarray(jr.permutation(jr.fold_in(k2, i), n)) for i, n in enumerate(sizes[1:-1])
        ]
        pb = S.apply_permutations(pa, planted)
        perms = S.weight_matching(pa, pb)
        aligned = S.apply_permutations(pb, perms)
        assert all(
            np.array_equal(a, b) for a, b in zip(jax.tree.leaves(aligned), jax.tree.leaves(pa))
        )
        if len(sizes) > 3:
            continue
        x = jr.normal(k3, (50, sizes[0]))
        y = mlp_apply(pa, x, activation="tanh")
        prob = mlp_regression(x, y, hidden=sizes[1:-1], activation="tanh")
        before = _line_barrier(prob, pa, pb, num=11)
        after = _line_barrier(prob, pa, aligned, num=11)
        assert before > 1e-3 and abs(after) < 1e-14


def test_linear_assignment_matches_scipy():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 9):
        c = rng.standard_normal((n, n))
        for maximize in (False, True):
            cols = S.linear_assignment(c, maximize=maximize)
            r, ref = linear_sum_assignment(c, maximize=maximize)
            assert np.isclose(c[np.arange(n), cols].sum(), c[r, ref].sum(), rtol=1e-12)
            assert sorted(cols) == list(range(n))


def test_bad_input(crit):
    _, p = crit
    with pytest.raises(ValueError, match="gamma"):
        S.split_neuron(p, 0, float("nan"))
    with pytest.raises(ValueError, match="gamma"):
        S.split_neuron(p, 0, float("inf"))
    with pytest.raises(ValueError, match="i: neuron index 5 out of range"):
        S.split_neuron(p, 5, 0.5)
    with pytest.raises(ValueError, match="layer"):
        S.split_neuron(p, 0, 0.5, layer=1)
    with pytest.raises(TypeError, match="params"):
        S.split_neuron({"w": jnp.ones((2, 2))}, 0, 0.5)
    with pytest.raises(TypeError, match="params"):
        S.permute_neurons(({"W": jnp.ones((2, 2))}, {"w": jnp.ones((1, 2))}), np.arange(2))
    with pytest.raises(ValueError, match="params"):
        S.width(({"w": jnp.ones((3, 2))}, {"w": jnp.ones((1, 4))}))
    with pytest.raises(ValueError, match="perm"):
        S.permute_neurons(p, np.array([0, 0, 1]))
    with pytest.raises(ValueError, match="j: neurons 0 and 1 have different incoming"):
        S.merge_neurons(p, 0, 1)
    with pytest.raises(ValueError, match="spare"):
        S.valley_path(p, 0, 1, spare=2)
    with pytest.raises(ValueError, match="xi"):
        S.saddle_line_direction(p, 0, 0.5, jnp.ones(3))
    with pytest.raises(ValueError, match="cost"):
        S.linear_assignment(np.ones((2, 3)))


@pytest.mark.slow
def test_multi_output_plateau_at_permutation_point():
    """Spec §1.4: with n_out = 2 outputs, γ = ½ has n_out directions of exactly constant loss
    but only n_out − rank(D) zero Hessian eigenvalues, D = <σ'(w_j·x) x eᵀ>."""
    k1, k2, k3 = jr.split(jr.key(11), 3)
    teacher = mlp_init(key=k1, sizes=(2, 4, 2), bias=False, scale=2.0)
    x = jr.normal(k2, (200, 2))
    y = mlp_apply(teacher, x, activation="g")
    prob = mlp_regression(x, y, hidden=3, activation="g", bias=False)
    p = _critical_point(prob, prob.init(k3), gtol=1e-12).params
    j = 1
    q = S.split_neuron(p, j, 0.5)
    L = float(prob.loss(q))
    for c in (jnp.array([1.0, 0.0]), jnp.array([0.3, -0.8])):
        moved = (q[0], {"w": q[1]["w"].at[:, j].add(0.5 * c).at[:, 3].add(-0.5 * c)})
        assert abs(float(prob.loss(moved)) - L) < 1e-14
    e = prob.outputs(p) - prob.targets
    s1 = jax.vmap(jax.grad(_g))(x @ p[0]["w"][j])
    D = (x * s1[:, None]).T @ e / x.shape[0]
    assert np.allclose(D @ p[1]["w"][:, j], 0.0, atol=1e-12)
    rank = np.linalg.matrix_rank(np.asarray(D), tol=1e-8)
    ev = _hessian_eigs(prob, q)
    assert np.sum(np.abs(ev) < 1e-8) == 2 - rank


def test_match_neurons_reads_a_split_and_padded_student_as_its_teacher():
    """A 2-3-2 teacher split at neuron 1 (γ = 0.3), one zero-type neuron appended, neurons
    permuted: each teacher neuron's outgoing weight is the sum over its matched student
    neurons, the zero-type neuron is unmatched with outgoing 0; a perturbed neuron unmatches."""
    teacher = mlp_init(key=jr.key(7), sizes=(2, 3, 2), bias=True)
    student = S.add_zero_neurons(
        S.split_neuron(teacher, 1, 0.3), jnp.array([[5.0, -5.0]]), jnp.array([2.0])
    )
    perm = np.array([4, 2, 0, 3, 1])  # student neuron j = old neuron perm[j]
    student = S.permute_neurons(student, perm)
    m = S.match_neurons(student, teacher)
    old_to_teacher = np.array([0, 1, 2, 1, -1])  # the split copy is old neuron 3
    np.testing.assert_array_equal(m.teacher_index, old_to_teacher[perm])
    np.testing.assert_allclose(m.outgoing_sum, np.asarray(teacher[1]["w"]).T, atol=1e-12)
    assert m.unmatched_outgoing == 0.0
    assert set(m.nearest.tolist()) <= set(np.flatnonzero(m.teacher_index >= 0).tolist())
    bumped = (student[0] | {"b": student[0]["b"].at[m.nearest[2]].add(1e-3)}, student[1])
    m2 = S.match_neurons(bumped, teacher)
    assert m2.teacher_index[m.nearest[2]] == -1
    np.testing.assert_allclose(m2.unmatched_outgoing, np.abs(teacher[1]["w"][:, 2]).sum())
    with pytest.raises(ValueError, match="teacher"):
        S.match_neurons(student, mlp_init(key=jr.key(1), sizes=(3, 3, 2), bias=True))
