"""Landscape geometry (issue 5): directions, lines, planes, trajectories, similarity."""

import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from sklearn.decomposition import PCA

from derivations import deep_linear as theory
from toymodels import data, landscape as L, problems


@pytest.fixture(scope="module")
def relu_mlp():
    """A small ReLU MLP with non-zero biases (random point, not trained)."""
    x, y = data.gaussian_mixture(key=jr.key(0), num_samples=200, dim=8, num_classes=4)
    prob = problems.mlp_classification(x, y, hidden=(12, 12), activation="relu")
    p = prob.init(jr.key(1))
    ks = jr.split(jr.key(2), len(p))
    p = tuple(
        {"w": layer["w"], "b": 0.3 * jr.normal(k, layer["b"].shape)} for layer, k in zip(p, ks)
    )
    return prob, p


def _rescale(params, c):
    """Layer-wise positive rescaling W_l -> c_l W_l, b_l -> (c_1..c_l) b_l; with prod c_l = 1
    the ReLU network computes the same function."""
    cum = np.cumprod(c)
    return tuple({"w": ci * l["w"], "b": cc * l["b"]} for l, ci, cc in zip(params, c, cum))


ALPHAS = jnp.linspace(-1.0, 1.0, 21)


def test_filter_normalized_curves_invariant_under_layer_rescaling(relu_mlp):
    prob, p = relu_mlp
    p2 = _rescale(p, (7.0, 0.2 / 7.0, 1 / 0.2))
    assert float(jnp.max(jnp.abs(prob.outputs(p) - prob.outputs(p2)))) < 1e-12
    for norm, biases in [("filter", "zero"), ("filter", "keep"), ("layer", "zero")]:
        d1 = L.random_direction(p, key=jr.key(5), normalization=norm, biases=biases)
        d2 = L.random_direction(p2, key=jr.key(5), normalization=norm, biases=biases)
        c1 = L.along_direction(prob, p, d1, ALPHAS)
        c2 = L.along_direction(prob, p2, d2, ALPHAS)
        assert float(jnp.max(jnp.abs(c1 - c2))) < 1e-12, (norm, biases)
        assert float(jnp.ptp(c1)) > 0.1  # the curve is not flat
    raw = L.random_direction(p, key=jr.key(5), normalization="none")
    diff = jnp.abs(
        L.along_direction(prob, p, raw, ALPHAS) - L.along_direction(prob, p2, raw, ALPHAS)
    )
    assert float(jnp.max(diff)) > 1.0
    # whole-model normalization is not layer-wise: it breaks the invariance too
    m1 = L.random_direction(p, key=jr.key(5), normalization="model")
    m2 = L.random_direction(p2, key=jr.key(5), normalization="model")
    diff = L.along_direction(prob, p, m1, ALPHAS) - L.along_direction(prob, p2, m2, ALPHAS)
    assert float(jnp.max(jnp.abs(diff))) > 1e-3


def test_per_neuron_rescaling_breaks_filter_invariance(relu_mlp):
    """Li et al.'s invariance is layer-wise: a per-neuron rescaling compensated in the next
    layer's columns keeps the function but not the filter-normalized curve (no BatchNorm)."""
    prob, p = relu_mlp
    a = jnp.exp(jr.normal(jr.key(6), (12,)))
    p3 = (
        {"w": p[0]["w"] * a[:, None], "b": p[0]["b"] * a},
        {"w": p[1]["w"] / a[None, :], "b": p[1]["b"]},
        p[2],
    )
    assert float(jnp.max(jnp.abs(prob.outputs(p) - prob.outputs(p3)))) < 1e-12
    c1 = L.along_direction(prob, p, L.random_direction(p, key=jr.key(5)), ALPHAS)
    c3 = L.along_direction(prob, p3, L.random_direction(p3, key=jr.key(5)), ALPHAS)
    assert float(jnp.max(jnp.abs(c1 - c3))) > 1e-3


def test_direction_normalizations_by_value(relu_mlp):
    _, p = relu_mlp
    d = L.random_direction(p, key=jr.key(7), normalization="filter", biases="zero")
    for dl, pl in zip(d, p):
        np.testing.assert_allclose(
            np.linalg.norm(dl["w"], axis=1), np.linalg.norm(pl["w"], axis=1), rtol=1e-13
        )
        assert not np.any(np.asarray(dl["b"]))
    d = L.random_direction(p, key=jr.key(7), normalization="layer", biases="keep")
    for dl, pl in zip(d, p):
        for k in ("w", "b"):
            np.testing.assert_allclose(np.linalg.norm(dl[k]), np.linalg.norm(pl[k]), rtol=1e-13)
    d = L.random_direction(p, key=jr.key(7), normalization="filter", biases="copy")
    assert all(np.array_equal(dl["b"], pl["b"]) for dl, pl in zip(d, p))
    d = L.random_direction(p, key=jr.key(7), normalization="model", biases="keep")
    flat = lambda t: np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(t)])
    np.testing.assert_allclose(np.linalg.norm(flat(d)), np.linalg.norm(flat(p)), rtol=1e-13)
    # any pytree: an equinox-style dict with a conv kernel (out, in, h, w) and a scalar
    tree = {"conv": jr.normal(jr.key(8), (3, 2, 4, 4)), "scale": jnp.array(2.0)}
    d = L.random_direction(tree, key=jr.key(9))
    np.testing.assert_allclose(
        np.linalg.norm(np.asarray(d["conv"]).reshape(3, -1), axis=1),
        np.linalg.norm(np.asarray(tree["conv"]).reshape(3, -1), axis=1),
        rtol=1e-13,
    )
    assert float(d["scale"]) == 0.0


def test_deep_linear_toy_through_generic_path_code():
    """Goodfellow's toy J = ½(1 − w₁w₂)²: the generic line code on the scalar problem and on
    the same network in the MLP layout (a 1-1-1 deep linear net) matches SymPy."""
    toy = problems.scalar_factorization(1.0, depth=2)
    x = problems.whitened_inputs(key=jr.key(3), num_samples=16, dim=1)
    net = problems.deep_linear_regression(x, x[:, 0], hidden=1)
    alphas = jnp.linspace(0.0, 1.0, 41)
    as_net = lambda w: ({"w": jnp.array([[w[0]]])}, {"w": jnp.array([[w[1]]])})
    for p0, p1 in [((0.0, 0.0), (1.0, 1.0)), ((1.0, 1.0), (-1.0, -1.0)), ((2.0, 0.5), (0.5, 2.0))]:
        ref = theory.line_loss(*p0, *p1, np.asarray(alphas))
        got = L.interpolate(toy, jnp.array(p0), jnp.array(p1), alphas)
        np.testing.assert_allclose(got, ref, atol=1e-14)
        got = L.interpolate(net, as_net(p0), as_net(p1), alphas, chunk_size=7)
        np.testing.assert_allclose(got, ref, atol=1e-12)
        np.testing.assert_allclose(
            L.curve_values(toy, L.Line(jnp.array(p0), jnp.array(p1)), alphas), ref, atol=1e-14
        )
    v = L.interpolate(toy, jnp.array([1.0, 1.0]), jnp.array([-1.0, -1.0]), alphas)
    assert float(L.barrier_height(v)) == pytest.approx(float(theory.barrier((1, 1), (-1, -1))))
    v = L.interpolate(toy, jnp.array([2.0, 0.5]), jnp.array([0.5, 2.0]), alphas)
    assert float(v[20]) == pytest.approx(81 / 512, abs=1e-15)
    # a plane through the three toy points reproduces J at every grid point
    pts = [jnp.array([0.0, 0.0]), jnp.array([1.0, 1.0]), jnp.array([2.0, 0.5])]
    plane = L.plane_through(*pts)
    xs, ys = jnp.linspace(-0.5, 2.0, 6), jnp.linspace(-1.0, 1.5, 5)
    z = L.plane_values(toy, plane, xs, ys)
    for i, yv in enumerate(ys):
        for j, xv in enumerate(xs):
            w = np.asarray(plane.at(xv, yv))
            assert float(z[i, j]) == pytest.approx(0.5 * (1 - w[0] * w[1]) ** 2, abs=1e-13)
    for k, p in enumerate(pts):
        np.testing.assert_allclose(plane.at(*plane.points[k]), p, atol=1e-14)
        np.testing.assert_allclose(plane.coordinates(p), plane.points[k], atol=1e-14)


def test_plane_chunking_and_metrics(relu_mlp):
    prob, p = relu_mlp
    q = L.random_direction(p, key=jr.key(11), normalization="none")
    q = jax.tree_util.tree_map(lambda a, b: a + 0.3 * b, p, q)
    plane = L.random_plane(p, key=jr.key(12), toward=q)
    xs, ys = jnp.linspace(-0.5, 1.5, 9), jnp.linspace(-1.0, 1.0, 5)
    metric = {"loss": prob.loss, "accuracy": prob.accuracy}
    z1 = L.plane_values(prob, plane, xs, ys, metric=metric, chunk_size=4)
    z2 = L.plane_values(prob, plane, xs, ys, metric=metric, chunk_size=45)
    assert z1["loss"].shape == (5, 9)
    np.testing.assert_allclose(z1["loss"], z2["loss"], rtol=1e-12)
    np.testing.assert_array_equal(z1["accuracy"], z2["accuracy"])
    # independent reference: direct calls at a few grid points
    for i, j in [(0, 0), (2, 2), (4, 8), (1, 5)]:
        pt = plane.at(xs[j], ys[i])
        assert float(z1["loss"][i, j]) == pytest.approx(float(prob.loss(pt)), rel=1e-12)
    # (0,0) and (1,0) are the two points; the second axis is orthogonal to the first
    assert float(z1["loss"][2, 2]) == pytest.approx(float(prob.loss(p)), rel=1e-12)
    assert float(z1["loss"][2, 6]) == pytest.approx(float(prob.loss(q)), rel=1e-12)
    flat = lambda t: np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(t)])
    assert abs(flat(plane.u) @ flat(plane.v)) < 1e-10 * np.linalg.norm(flat(plane.u)) ** 2
    assert L.auto_chunk_size(prob, p, num_points=10**6) >= 1


def test_trajectory_pca_matches_sklearn_and_projection():
    t = 30
    base = {"a": jr.normal(jr.key(21), (5, 4)), "b": jr.normal(jr.key(22), (7,))}
    b0, unravel = jax.flatten_util.ravel_pytree(base)
    # a trajectory in a 3-D affine subspace with unequal spreads
    dirs = jr.normal(jr.key(24), (3, b0.shape[0]))
    coef = jr.normal(jr.key(23), (t, 3)) * jnp.array([3.0, 1.0, 0.3])
    flat = np.asarray(b0 + coef @ dirs)
    traj = jax.vmap(unravel)(jnp.asarray(flat))
    pca = L.trajectory_pca(traj, num_components=3, center="mean")
    sk = PCA(n_components=3).fit(flat)
    np.testing.assert_allclose(
        pca.explained_variance_ratio, sk.explained_variance_ratio_, rtol=1e-10
    )
    comps = np.asarray(jax.vmap(lambda c: jax.flatten_util.ravel_pytree(c)[0])(pca.components))
    np.testing.assert_allclose(np.abs(comps @ sk.components_.T), np.eye(3), atol=1e-10)
    assert float(jnp.sum(pca.explained_variance_ratio)) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(pca.project(traj), pca.coordinates, atol=1e-10)
    # FINAL centring: the last checkpoint projects to the origin of the PCA plane
    pf = L.trajectory_pca(traj, num_components=2)
    np.testing.assert_allclose(pf.coordinates[-1], 0.0, atol=1e-12)
    plane = pf.plane()
    np.testing.assert_allclose(plane.coordinates(traj), pf.coordinates, atol=1e-10)


def test_chord_test_and_distance():
    toy = problems.scalar_factorization(1.0, depth=2)
    # a three-checkpoint "trajectory" through the saddle: the chord (1,1)->(-1,-1) has a bump
    traj = jnp.array([[1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0 + 1e-3]])
    ct = L.chord_test(toy, traj, num_alphas=5)
    assert ct.values.shape == (2, 5)
    assert float(ct.midpoint_gap[0]) == pytest.approx(0.5, abs=1e-15)
    assert float(ct.max_excess[0]) == pytest.approx(0.5, abs=1e-15)
    # a convex problem never violates the chord inequality
    quad = problems.FunctionProblem(
        lambda w: 0.5 * jnp.sum(jnp.arange(1.0, 4.0) * w**2), lambda k: jr.normal(k, (3,))
    )
    qtraj = jr.normal(jr.key(31), (6, 3))
    qc = L.chord_test(quad, qtraj)
    assert float(jnp.max(qc.midpoint_gap)) < 0 and float(jnp.max(qc.max_excess)) <= 1e-15
    dl = L.distance_travelled(quad, qtraj)
    steps = np.linalg.norm(np.diff(np.asarray(qtraj), axis=0), axis=1)
    np.testing.assert_allclose(dl.path_length, np.concatenate([[0], np.cumsum(steps)]), rtol=1e-13)
    np.testing.assert_allclose(dl.distance_to_end[-1], 0.0)
    np.testing.assert_allclose(dl.loss, jax.vmap(quad.loss)(qtraj), rtol=1e-13)
    assert np.all(np.asarray(dl.path_length) >= np.asarray(dl.distance_from_start) - 1e-12)


def _gram_cka(x, y):
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k, l = h @ (x @ x.T) @ h, h @ (y @ y.T) @ h
    return np.sum(k * l) / (np.linalg.norm(k) * np.linalg.norm(l))


def test_linear_cka_properties():
    x = np.asarray(jr.normal(jr.key(41), (150, 6)))
    y = np.tanh(x @ np.asarray(jr.normal(jr.key(42), (6, 4)))) + 0.1
    assert float(L.linear_cka(x, y)) == pytest.approx(_gram_cka(x, y), rel=1e-12)
    assert float(L.linear_cka(x, x)) == pytest.approx(1.0, abs=1e-14)
    q, _ = np.linalg.qr(np.asarray(jr.normal(jr.key(43), (6, 6))))
    assert float(L.linear_cka(x @ q * 3.7, y)) == pytest.approx(
        float(L.linear_cka(x, y)), rel=1e-12
    )
    assert float(L.linear_cka(x, 0.01 * y)) == pytest.approx(float(L.linear_cka(x, y)), rel=1e-12)
    # anisotropic scaling is not an invariance
    s = np.diag([10.0, 1, 1, 1, 1, 0.1])
    assert abs(float(L.linear_cka(x @ s, y)) - float(L.linear_cka(x, y))) > 1e-3
    # independent random features, n >> d: CKA ~ sqrt(pq)/n
    a = jr.normal(jr.key(44), (4000, 5))
    b = jr.normal(jr.key(45), (4000, 5))
    assert float(L.linear_cka(a, b)) < 0.01
    assert 0.0 < float(L.linear_cka(x, y)) < 1.0


@pytest.mark.usefixtures("own_checks")
def test_bad_input(relu_mlp):
    prob, p = relu_mlp
    other = p[:2]
    with pytest.raises(ValueError, match="^params1: tree structure"):
        L.interpolate(prob, p, other, ALPHAS)
    with pytest.raises(ValueError, match="^end: tree structure"):
        L.Bezier(p, other)
    wrong_shape = ({"w": p[0]["w"][:, :3], "b": p[0]["b"]}, p[1], p[2])
    with pytest.raises(ValueError, match="^direction: leaf of shape"):
        L.along_direction(prob, p, wrong_shape, ALPHAS)
    with pytest.raises(ValueError, match="^alphas: expected a 1-D grid"):
        L.interpolate(prob, p, p, jnp.zeros((3, 2)))
    with pytest.raises(ValueError, match="^alphas: the grid is empty"):
        L.interpolate(prob, p, p, jnp.zeros((0,)))
    with pytest.raises(ValueError, match="^alphas: .*non-finite"):
        L.interpolate(prob, p, p, jnp.array([0.0, jnp.nan]))
    plane = L.random_plane(p, key=jr.key(1))
    with pytest.raises(ValueError, match="^ys: expected a 1-D grid"):
        L.plane_values(prob, plane, ALPHAS, jnp.zeros((2, 2)))
    q = jax.tree_util.tree_map(lambda a: 2.0 * a, p)
    r = jax.tree_util.tree_map(lambda a: -a, p)
    with pytest.raises(ValueError, match="^points: the three points are collinear"):
        L.plane_through(p, q, r)
    with pytest.raises(ValueError, match="^points\\[1\\]: coincides"):
        L.plane_through(p, p, q)
    with pytest.raises(ValueError, match="^toward: coincides"):
        L.random_plane(p, key=jr.key(0), toward=p)
    with pytest.raises(TypeError, match="^key: a PRNG key is required"):
        L.random_plane(p, key=None)
    with pytest.raises(TypeError, match="^key: a PRNG key is required"):
        L.random_direction(p, key=None)
    with pytest.raises(ValueError, match="^points: a plane goes through 3 points"):
        L.plane_through(p, q, r, p)
    with pytest.raises(ValueError, match="^points: a plane goes through 3 points"):
        L.plane_through(p)
    with pytest.raises(ValueError, match="^normalization: unknown value 'filters'"):
        L.random_direction(p, key=jr.key(0), normalization="filters")
    with pytest.raises(ValueError, match="^biases: unknown value"):
        L.random_direction(p, key=jr.key(0), biases="drop")
    with pytest.raises(ValueError, match="^chunk_size: must be >= 1"):
        L.interpolate(prob, p, q, ALPHAS, chunk_size=0)
    with pytest.raises(TypeError, match="^metric: expected a function"):
        L.interpolate(prob, p, q, ALPHAS, metric="accuracy")
    with pytest.raises(ValueError, match="^x: has 10 samples but y has 9|^y: has 9 samples"):
        L.linear_cka(jnp.ones((10, 2)), jnp.ones((9, 2)))
    with pytest.raises(ValueError, match="^x: the features are constant"):
        L.linear_cka(jnp.ones((10, 2)), jr.normal(jr.key(0), (10, 2)))
    with pytest.raises(ValueError, match="^trajectory: every leaf needs the same leading"):
        L.trajectory_pca({"a": jnp.ones((4, 2)), "b": jnp.ones((3,))})
    with pytest.raises(ValueError, match="^num_alphas: must be an odd"):
        L.chord_test(prob, jax.tree_util.tree_map(lambda a: jnp.stack([a, a]), p), num_alphas=4)
    with pytest.raises(ValueError, match="^values: needs at least 2"):
        L.mode_connectivity(jnp.array([1.0]))
