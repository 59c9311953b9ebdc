"""Bad input raises a clear ValueError naming the argument."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from toymodels import data, linalg, problems


# The package's own messages, not the test run's annotation checks (conftest `own_checks`).
pytestmark = pytest.mark.usefixtures("own_checks")

X = jnp.ones((10, 3))
LABELS = jnp.arange(10) % 3


def test_mismatched_samples():
    with pytest.raises(ValueError, match="labels"):
        problems.mlp_classification(X, LABELS[:9], hidden=4)
    with pytest.raises(ValueError, match="y"):
        problems.mlp_regression(X, jnp.ones(8), hidden=4)


def test_non_finite_data():
    with pytest.raises(ValueError, match="x: .*non-finite"):
        problems.mlp_classification(X.at[2, 1].set(jnp.nan), LABELS, hidden=4)
    with pytest.raises(ValueError, match="y: .*non-finite"):
        problems.mlp_regression(X, jnp.ones(10).at[0].set(jnp.inf), hidden=4)


def test_labels_out_of_range():
    with pytest.raises(ValueError, match="labels: label 3 out of range"):
        problems.mlp_classification(X, LABELS.at[0].set(3), hidden=4, num_classes=3)
    with pytest.raises(ValueError, match="labels: labels must be >= 0"):
        problems.mlp_classification(X, LABELS.at[0].set(-1), hidden=4)
    with pytest.raises(ValueError, match="labels: labels must be integers"):
        problems.mlp_classification(X, jnp.full(10, 0.5), hidden=4)


def test_unknown_eigsh_stop():
    with pytest.raises(ValueError, match="stop"):
        linalg.eigsh(jnp.eye(40), 1, stop="ritz", key=jr.key(0))


def test_unknown_activation():
    with pytest.raises(ValueError, match="activation: unknown value 'swishy'"):
        problems.mlp_regression(X, jnp.ones(10), hidden=4, activation="swishy")
    with pytest.raises(ValueError, match="activation"):
        problems.teacher_student_population(
            problems.two_layer_init(key=jr.key(0), dim=3, width=2), width=2, activation="tanh"
        )


def test_bad_shapes_and_options():
    with pytest.raises(ValueError, match="x: expected an array with 2"):
        problems.mlp_regression(jnp.ones(10), jnp.ones(10), hidden=4)
    with pytest.raises(ValueError, match="hidden"):
        problems.mlp_regression(X, jnp.ones(10), hidden=(4, 0))
    with pytest.raises(ValueError, match="classes"):
        data.gaussian_mixture(key=jr.key(0), num_samples=10, dim=2, num_classes=1)
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_test_split(X, LABELS, key=jr.key(0), test_fraction=1.5)
    with pytest.raises(ValueError, match="rank"):
        problems.leaky_rnn(num_units=10, rank=11)
    with pytest.raises(ValueError, match="readout"):
        problems.leaky_rnn(num_units=10, rank=None, readout="kappa")
    with pytest.raises(ValueError, match="teacher"):
        problems.teacher_student_population({"w": jnp.ones(3)}, width=2)
    with pytest.raises(ValueError, match="s: must be finite and > 0"):
        problems.saxe_mode_strength(1.0, s=-1.0, u0=0.1)


# ---------------------------------------------------------------------------- with_data, batch
def test_with_data_checks_like_the_constructors():
    clf = problems.mlp_classification(X, LABELS, hidden=2)
    ok = clf.with_data(X[:4], LABELS[:4])
    assert ok.num_samples == 4 and ok.targets.dtype == LABELS.dtype
    with pytest.raises(ValueError, match=r"^x: expected inputs of shape \(samples, 3\)"):
        clf.with_data(jnp.ones((4, 2)), LABELS[:4])
    with pytest.raises(ValueError, match="^x: contains 1 non-finite"):
        clf.with_data(X[:4].at[1, 1].set(jnp.nan), LABELS[:4])
    with pytest.raises(ValueError, match="^targets: has 3 samples but x has 4"):
        clf.with_data(X[:4], LABELS[:3])
    with pytest.raises(ValueError, match="^targets: label 3 out of range for 3 classes"):
        clf.with_data(X[:4], LABELS[:4].at[0].set(3))
    with pytest.raises(ValueError, match="^targets: labels must be >= 0"):
        clf.with_data(X[:4], LABELS[:4].at[0].set(-1))
    reg = problems.mlp_regression(X, jnp.ones(10), hidden=2)
    with pytest.raises(ValueError, match="^targets: contains 1 non-finite"):
        reg.with_data(X[:2], jnp.array([1.0, jnp.inf]))
    with pytest.raises(ValueError, match=r"^targets: expected shape \(samples,\)"):
        reg.with_data(X[:2], jnp.ones((2, 2)))
    # the label range comes from the network's shapes, for any supervised problem
    lab = problems.mlp_classification(X, LABELS, hidden=2, num_classes=5)
    lab.with_data(X[:1], jnp.array([4]))
    with pytest.raises(ValueError, match="^targets: label 5 out of range for 5 classes"):
        lab.with_data(X[:1], jnp.array([5]))


def test_with_data_and_batch_under_jit_check_shapes_only():
    # traced data (here by jax.eval_shape, which traces as jit does without compiling): the
    # shapes are checked, the values are not looked at
    clf = problems.mlp_classification(X, LABELS, hidden=2)
    params = clf.init(jr.key(0))

    def loss_on(x, y):
        return clf.with_data(x, y).loss(params)

    assert jax.eval_shape(loss_on, X[:3], LABELS[:3]).shape == ()
    with pytest.raises(ValueError, match="^x: expected inputs"):
        jax.eval_shape(loss_on, jnp.ones((3, 4)), LABELS[:3])
    with pytest.raises(ValueError, match="^targets: has 2 samples but x has 3"):
        jax.eval_shape(loss_on, X[:3], LABELS[:2])
    assert jax.eval_shape(lambda i: clf.batch(i).loss(params), jnp.arange(3)).shape == ()
    # concrete data met inside a trace (a sweep's point function closing over a test set)
    # are still checked by value, on the host
    x2, good, bad, idx = X[:2], jnp.array([0, 2]), jnp.array([0, 3]), jnp.array([10])
    assert jax.eval_shape(lambda: clf.with_data(x2, good).loss(params)).shape == ()
    with pytest.raises(ValueError, match="^targets: label 3 out of range"):
        jax.eval_shape(lambda: clf.with_data(x2, bad).loss(params))
    with pytest.raises(ValueError, match="^indices: index 10 out of range"):
        jax.eval_shape(lambda: clf.batch(idx).loss(params))


def test_batch_indices():
    clf = problems.mlp_classification(X, LABELS, hidden=2)
    assert clf.batch(jnp.array([0, 9])).num_samples == 2
    with pytest.raises(ValueError, match="^indices: index 10 out of range for 10 samples"):
        clf.batch(jnp.array([0, 10]))
    with pytest.raises(ValueError, match="^indices: index -1 out of range"):
        clf.batch(jnp.array([-1, 2]))
    with pytest.raises(TypeError, match="^indices: expected integer"):
        clf.batch(jnp.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="^indices: expected a 1-D array"):
        clf.batch(jnp.zeros((2, 2), int))
    eq = _equinox_problem(data=(X, jnp.ones(10)))
    assert eq.batch(jnp.arange(4)).num_samples == 4
    with pytest.raises(ValueError, match="^indices: index 12 out of range for 10 samples"):
        eq.batch(jnp.array([12]))
    with pytest.raises(ValueError, match="^data: contains 1 non-finite"):
        _equinox_problem(data=(X.at[0, 0].set(jnp.inf), jnp.ones(10)))


def _equinox_problem(*, data):
    import equinox as eqx

    return problems.EquinoxProblem(
        lambda k: eqx.nn.Linear(3, 1, key=k),
        lambda m, d: jnp.mean((jax.vmap(m)(d[0])[:, 0] - d[1]) ** 2),
        data=data,
    )


# ---------------------------------------------------------------------------- landscape
def _log_problem():
    # finite params, a metric that is NaN where p[0] < 0 and -inf at p[0] = 0
    return problems.FunctionProblem(lambda p: jnp.log(p[0]) + p[1] ** 2, lambda k: jnp.ones(2))


def test_paths_and_planes_refuse_non_finite_metrics():
    from toymodels import landscape as L

    prob, a, b = _log_problem(), jnp.array([1.0, 0.0]), jnp.array([-1.0, 1.0])
    alphas = jnp.linspace(0.0, 1.0, 5)
    np.testing.assert_allclose(L.interpolate(prob, a, b, alphas[:2]), [0.0, np.log(0.5) + 0.0625])
    with pytest.raises(
        ValueError,
        match=r"^params0, params1: the metric is non-finite .* at 3 of 5 points, first at alpha = 0.5",
    ):
        L.interpolate(prob, a, b, alphas)
    with pytest.raises(
        ValueError, match=r"^params, direction: .* at 3 of 5 points, first at alpha = 0.5"
    ):
        L.along_direction(prob, a, b - a, alphas)
    plane = L.Plane(a, b - a, jnp.array([0.0, 1.0]), jnp.zeros((1, 2)))
    with pytest.raises(
        ValueError, match=r"^plane: .* at 2 of 4 points, first at \(x, y\) = \(1, 0\)"
    ):
        L.plane_values(prob, plane, [0.0, 1.0], [0.0, 1.0])
    traj = jnp.stack([a, 0.5 * (a + b), b])
    with pytest.raises(ValueError, match="^trajectory: .* at 2 of 3 points, first at checkpoint 1"):
        L.trajectory_values(prob, traj)
    bad = L.Plane(a.at[0].set(jnp.nan), b - a, jnp.array([0.0, 1.0]), jnp.zeros((1, 2)))
    with pytest.raises(ValueError, match="^plane: contains 1 non-finite"):
        L.plane_values(prob, bad, [0.0], [0.0])


def test_directions_and_cka_name_non_finite_params():
    from toymodels import landscape as L

    clf = problems.mlp_classification(X, LABELS, hidden=2)
    p = clf.init(jr.key(0))
    nan = jax.tree_util.tree_map(lambda w: w.at[(0,) * w.ndim].set(jnp.nan), p)
    with pytest.raises(ValueError, match="^params: contains"):
        L.random_direction(nan, key=jr.key(1))
    with pytest.raises(ValueError, match="^direction: contains"):
        L.normalize_direction(nan, p)
    with pytest.raises(ValueError, match="^params_b: contains"):
        L.model_cka(clf, p, nan)
    basis = jnp.eye(17)[:, :2]
    with pytest.raises(ValueError, match="^origin: contains"):
        L.SubspaceProblem(clf, nan, basis)
    with pytest.raises(ValueError, match="^basis: contains"):
        L.SubspaceProblem(clf, p, basis.at[0, 0].set(jnp.inf))


# ---------------------------------------------------------------------------- ghost
def test_ghost_learning_rates_and_delays():
    from toymodels.models import ghost

    g = ghost.canonical_ghost(10.0, time="limit")
    with pytest.raises(ValueError, match="^learning_rates: must be finite and > 0"):
        ghost.lr_seed_sweep(g, [1e-3, -1e-3], key=jr.key(0), num_seeds=1, num_steps=1)
    with pytest.raises(ValueError, match="^learning_rates: contains 1 non-finite"):
        ghost.lr_seed_sweep(g, [jnp.nan], key=jr.key(0), num_seeds=1, num_steps=1)
    kw = dict(key=jr.key(0), num_seeds=1, num_steps=1)
    with pytest.raises(ValueError, match="^lo: must be finite and > 0"):
        ghost.bisect_critical_lr(g, lo=-1e-3, hi=1e-1, **kw)
    with pytest.raises(ValueError, match="^hi: must be finite and > 0"):
        ghost.bisect_critical_lr(g, lo=1e-3, hi=jnp.inf, **kw)
    with pytest.raises(ValueError, match="^hi: must be above lo"):
        ghost.bisect_critical_lr(g, lo=1e-1, hi=1e-3, **kw)
    with pytest.raises(ValueError, match="^fraction"):
        ghost.bisect_critical_lr(g, lo=1e-3, hi=1e-1, fraction=0.0, **kw)
    with pytest.raises(ValueError, match="^delays: must be > 0"):
        ghost.critical_lr_vs_delay([10.0, 0.0], key=jr.key(0))
    for f in (ghost.optimal_r, ghost.critical_lr, ghost.cusp_gradient, ghost.no_learning_r):
        with pytest.raises(ValueError, match="^delay: must be finite and > 0"):
            f(jnp.array([10.0, -1.0]))
    with pytest.raises(ValueError, match="^window: must be finite and > 0"):
        ghost.limit_loss(0.1, delay=10.0, window=0.0)
    with pytest.raises(ValueError, match="^r: contains 1 non-finite"):
        ghost.escape_time(jnp.nan)
    with pytest.raises(ValueError, match="^threshold: must be > 0"):
        ghost.escape_time(1.0, threshold=-1.0)
    with pytest.raises(ValueError, match="^ts: save times must be"):
        ghost.continuous_trajectory(0.1, [1.0, 0.5])
    with pytest.raises(ValueError, match="^confidence: must be finite and > 0"):
        ghost.confidence_loss(0.1, delay=10.0, confidence=0.0)
    # closed forms still run under vmap (the checks skip traced values)
    np.testing.assert_allclose(
        jax.vmap(ghost.optimal_r)(jnp.array([1.0, 2.0])), np.pi**2 / (4 * np.array([1.0, 4.0]))
    )
