"""Every `key` and every learning rate of the public API is validated, with an error that
names the argument, before anything is compiled.

The public API is enumerated (the re-exports of `toymodels`, its subpackages and the model
packages; for classes the constructor and the methods they define), and every parameter
named `key`, `learning_rate` or `learning_rates` is collected. Each such function needs a
row in `CALLS` (a minimal call, given the bad value) or in `SKIPPED` (with the reason): a
new public function that takes a key or a learning rate makes `test_every_argument_has_a_row`
fail until it gets one. A row is called with `key=0` (or a learning rate of -1) and must
raise a `TypeError`/`ValueError` whose message starts with the argument's name, without
compiling any of the package's programs: a `jax.monitoring` listener stops the call as soon
as one of them is traced for compilation (JAX's eager one-operation programs, such as the
`isfinite` a check runs, do not count).
"""

import functools
import importlib
import inspect
import pkgutil
import types

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import toymodels


ARGUMENTS = ("key", "learning_rate", "learning_rates")
BAD = {"key": 0, "learning_rate": -1.0, "learning_rates": [0.1, -1.0]}
K = jr.key(0)


# ---------------------------------------------------------------------------- the API
def _public_modules() -> list[types.ModuleType]:
    names = ["toymodels", *(f"toymodels.{m}" for m in toymodels._LAZY)]
    names += ["toymodels.claims", "toymodels.data", "toymodels.problems"]
    models = importlib.import_module("toymodels.models")
    names += [
        f"toymodels.models.{m.name}"
        for m in pkgutil.iter_modules(models.__path__)
        if not m.name.startswith("_")
    ]
    return [importlib.import_module(n) for n in dict.fromkeys(names)]


def _own(obj) -> bool:
    return getattr(obj, "__module__", "").startswith("toymodels")


def _public_callables() -> dict[str, object]:
    """Public name (`subpackage.name` or `subpackage.Class.method`) -> callable; one name
    per object (the first module that exports it)."""
    out: dict[str, object] = {}
    seen: set[int] = set()
    for mod in _public_modules():
        prefix = mod.__name__.removeprefix("toymodels").lstrip(".")
        names = getattr(mod, "__all__", None) or [n for n in vars(mod) if not n.startswith("_")]
        for name in names:
            obj = getattr(mod, name)
            if inspect.ismodule(obj) or not callable(obj) or not _own(obj):
                continue
            items = [(name, obj)]
            if inspect.isclass(obj):
                items += [
                    (f"{name}.{m}", f)
                    for m, f in vars(obj).items()
                    if not m.startswith("_") and inspect.isfunction(f)
                ]
            for qual, f in items:
                if id(f) in seen:
                    continue
                seen.add(id(f))
                out[f"{prefix}.{qual}" if prefix else qual] = f
    return out


def _validated_arguments() -> list[tuple[str, str]]:
    pairs = []
    for name, f in _public_callables().items():
        try:
            params = inspect.signature(f).parameters
        except (TypeError, ValueError):  # pragma: no cover - builtins
            continue
        pairs += [(name, p) for p in params if p in ARGUMENTS]
    return sorted(pairs)


# ---------------------------------------------------------------------------- minimal inputs
class _Inputs:
    """Small problems and params, each built on first use (outside the compile count) from
    NumPy values where possible (JAX's eager random draws each compile a small program)."""

    x = jnp.asarray(np.linspace(-1.0, 1.0, 12).reshape(6, 2))
    labels = jnp.asarray(np.arange(6) % 2)
    matrix = jnp.asarray(np.diag(np.arange(1.0, 5.0)))

    @functools.cached_property
    def mlp(self):
        from toymodels import problems

        return problems.mlp_classification(self.x, self.labels, hidden=3)

    @functools.cached_property
    def params(self):
        rng = np.random.default_rng(0)
        return tuple(
            {"w": jnp.asarray(rng.normal(size=(o, i))), "b": jnp.zeros(o)}
            for i, o in ((2, 3), (3, 2))
        )

    @functools.cached_property
    def basis(self):
        return jnp.asarray(np.eye(17)[:, :2])

    @functools.cached_property
    def linear(self):
        from toymodels import problems

        return problems.mlp_regression(self.x[:2], self.x[:2, 0], hidden=())

    @functools.cached_property
    def teacher(self):
        return ({"w": jnp.asarray(np.eye(2))}, {"w": jnp.ones((1, 2))})

    @functools.cached_property
    def population(self):
        from toymodels import problems

        return problems.teacher_student_population(self.teacher, width=2)

    @functools.cached_property
    def rnn(self):
        from toymodels import problems

        return problems.leaky_rnn(num_units=4, rank=1, delay=2)

    @functools.cached_property
    def rnn_params(self):
        m = jnp.asarray(np.full((4, 1), 0.5))
        return {"b": jnp.zeros(4), "m": m, "n": m}

    @functools.cached_property
    def ghost(self):
        from toymodels.models import ghost

        return ghost.canonical_ghost(10.0, time="limit")

    @functools.cached_property
    def op(self):
        from toymodels import linalg

        return linalg.as_operator(self.matrix)

    @functools.cached_property
    def wedge(self):
        from toymodels.models import wedge

        return wedge.wedge_landscape(key=K, dim=3, short_dims=[1, 1])

    @functools.cached_property
    def logit_sample(self):
        from toymodels.models import random_features as rf

        rng = np.random.default_rng(0)
        return rf.LogitGradientSample(
            jacobians=jnp.asarray(rng.normal(size=(4, 2, 3))),
            logits=jnp.zeros((4, 2)),
            labels=jnp.asarray(np.arange(4) % 2),
            means=jnp.asarray(np.eye(2, 3)),
            noise=1.0,
        )

    @functools.cached_property
    def micro(self):
        from toymodels.models import load_temperature

        return load_temperature.MicroBatches(problem=self.mlp, batch_size=2)


@pytest.fixture(scope="module")
def inputs():
    return _Inputs()


def _curve(i):
    from toymodels import landscape

    return landscape.Bezier(i.params, jax.tree_util.tree_map(lambda a: a + 1.0, i.params))


def _quadratic():
    from toymodels import problems

    return problems.FunctionProblem(lambda p: 0.5 * jnp.sum(p**2), lambda k: jnp.ones(2))


# name -> function(inputs, **bad) making the smallest call with the bad argument; every other
# argument is valid.
def _calls():
    from toymodels import data, dynamics, landscape, linalg, problems, sweep, symmetry
    from toymodels.models import (
        channels,
        ghost,
        load_temperature as lt,
        random_features as rf,
        soudry,
        wedge,
    )

    L = landscape
    return {
        # data
        "data.digits_split": lambda i, key: data.digits_split(key=key),
        "data.gaussian_mixture": lambda i, key: data.gaussian_mixture(
            key=key, num_samples=4, dim=2, num_classes=2
        ),
        "data.teacher_regression": lambda i, key: data.teacher_regression(
            i.teacher, key=key, num_samples=4
        ),
        "data.train_test_split": lambda i, key: data.train_test_split(i.x, i.labels, key=key),
        # dynamics
        "dynamics.GD": lambda i, learning_rate: dynamics.GD(learning_rate=learning_rate),
        "dynamics.HeavyBall": lambda i, learning_rate: dynamics.HeavyBall(
            learning_rate=learning_rate, momentum=0.9
        ),
        "dynamics.Nesterov": lambda i, learning_rate: dynamics.Nesterov(
            learning_rate=learning_rate, momentum=0.9
        ),
        "dynamics.EMAMomentum": lambda i, learning_rate: dynamics.EMAMomentum(
            learning_rate=learning_rate, momentum=0.9
        ),
        "dynamics.Adam": lambda i, learning_rate: dynamics.Adam(learning_rate=learning_rate),
        "dynamics.classify": lambda i, key: dynamics.classify(
            _quadratic(), jnp.zeros(2), matrix_free=True, key=key
        ),
        "dynamics.find_critical_point": lambda i, key: dynamics.find_critical_point(
            _quadratic(), jnp.zeros(2), matrix_free=True, key=key
        ),
        "dynamics.minibatch_indices": lambda i, key: dynamics.minibatch_indices(
            key=key, num_samples=4, batch_size=2
        ),
        "dynamics.run": lambda i, key: dynamics.run(
            i.mlp, i.params, dynamics.GD(learning_rate=0.1), num_steps=1, key=key
        ),
        "dynamics.sgd_expected_loss_change": lambda i, learning_rate: (
            dynamics.sgd_expected_loss_change(
                i.linear, ({"w": jnp.ones((1, 2)), "b": jnp.zeros(1)},), learning_rate=learning_rate
            )
        ),
        "dynamics.sharpness": lambda i, key: dynamics.sharpness(i.mlp, i.params, key=key),
        "dynamics.train": lambda i, key: dynamics.train(
            i.mlp,
            i.params,
            dynamics.GD(learning_rate=0.1),
            num_steps=1,
            key=key,
            sharpness_steps=[0],
        ),
        # landscape
        "landscape.CurveProblem.init": lambda i, key: L.CurveProblem(i.mlp, _curve(i)).init(key),
        "landscape.CurveProblem.sample": lambda i, key: L.CurveProblem(i.mlp, _curve(i)).sample(
            key
        ),
        "landscape.GroupSumProblem.init": lambda i, key: L.group_sum_problem(
            key=K, dim=4, groups=2
        ).init(key),
        "landscape.SubspaceProblem.init": lambda i, key: L.SubspaceProblem(
            i.mlp, i.params, i.basis
        ).init(key),
        "landscape.curvature_along": lambda i, key: L.curvature_along(
            i.mlp, _curve(i), [0.5], key=key
        ),
        "landscape.fit_curve": lambda i, key: L.fit_curve(i.mlp, _curve(i), key=key, num_steps=1),
        "landscape.group_sum_problem": lambda i, key: L.group_sum_problem(key=key, dim=4, groups=2),
        "landscape.intrinsic_dimension": lambda i, key: L.intrinsic_dimension(
            i.mlp, key=key, dims=[1], performance=i.mlp.accuracy, num_steps=1
        ),
        "landscape.keskar_sharpness": lambda i, key: L.keskar_sharpness(i.mlp, i.params, key=key),
        "landscape.random_direction": lambda i, key: L.random_direction(i.params, key=key),
        "landscape.random_plane": lambda i, key: L.random_plane(i.params, key=key),
        "landscape.random_subspace": lambda i, key: L.random_subspace(key=key, num_params=3, dim=1),
        "landscape.subspace_train": lambda i, key: L.subspace_train(
            i.mlp, i.params, i.basis, num_steps=1, key=key
        ),
        # linalg
        "linalg.diagonal": lambda i, key: linalg.diagonal(i.op, num_probes=2, key=key),
        "linalg.eigsh": lambda i, key: linalg.eigsh(i.op, key=key),
        "linalg.frobenius_squared": lambda i, key: linalg.frobenius_squared(
            i.op, num_probes=2, key=key
        ),
        "linalg.lanczos": lambda i, key: linalg.lanczos(i.op, jnp.ones(4), 2, key=key),
        "linalg.restricted_positive_fraction": lambda i, key: linalg.restricted_positive_fraction(
            i.op, 1, key=key
        ),
        "linalg.spectral_density": lambda i, key: linalg.spectral_density(
            i.op, num_probes=2, key=key
        ),
        "linalg.trace": lambda i, key: linalg.trace(i.op, num_probes=2, key=key),
        # models
        "models.channels.ErfToy.init": lambda i, key: channels.erf_toy().init(key),
        "models.ghost.CanonicalGhost.init": lambda i, key: i.ghost.init(key),
        "models.ghost.bisect_critical_lr": lambda i, key: ghost.bisect_critical_lr(
            i.ghost, key=key, num_seeds=1, lo=1e-3, hi=1e-1, num_steps=1
        ),
        "models.ghost.critical_lr_vs_delay": lambda i, key: ghost.critical_lr_vs_delay(
            [10.0], key=key
        ),
        "models.ghost.lr_seed_sweep": lambda i, key=K, learning_rates=(0.1,): ghost.lr_seed_sweep(
            i.ghost, learning_rates, key=key, num_seeds=1, num_steps=1
        ),
        "models.ghost.DelayedActivation.init": lambda i, key: ghost.DelayedActivation(
            rnn=i.rnn, delay=jnp.asarray(1.0)
        ).init(key),
        "models.ghost.rnn_critical_lr": lambda i, key=K, learning_rates=(0.01, 0.1): (
            ghost.rnn_critical_lr(
                i.rnn, [1, 2], learning_rates=learning_rates, key=key, num_seeds=1, num_steps=1
            )
        ),
        "models.ghost.rnn_sweep": lambda i, key=K, learning_rates=(0.1,): ghost.rnn_sweep(
            i.rnn, learning_rates, key=key, num_seeds=1, num_steps=1, record_every=1
        ),
        "models.ghost.train_gd": lambda i, key=K, learning_rate=0.1: ghost.train_gd(
            i.rnn, i.rnn_params, learning_rate=learning_rate, num_steps=1, key=key
        ),
        "models.ghost.training_checkpoints": lambda i, key=K, learning_rate=0.1: (
            ghost.training_checkpoints(
                i.rnn, i.rnn_params, learning_rate=learning_rate, num_steps=1, key=key
            )
        ),
        "models.load_temperature.MaskedMLP.init": lambda i, key: lt.masked_mlp(
            i.x, i.labels, width=2, max_width=3, num_classes=2
        ).init(key),
        "models.load_temperature.MicroBatches.indices": lambda i, key: i.micro.indices(key),
        "models.load_temperature.MicroBatches.init": lambda i, key: i.micro.init(key),
        "models.load_temperature.MicroBatches.sample": lambda i, key: i.micro.sample(key),
        "models.load_temperature.train_sgd": lambda i, key=K, learning_rate=0.1: lt.train_sgd(
            i.mlp,
            i.params,
            key=key,
            batch_size=2,
            micro_batch_size=2,
            num_epochs=1,
            learning_rate=learning_rate,
            momentum=0.9,
            weight_decay=0.0,
        ),
        "models.random_features.LogitGradientModel.sample": lambda i, key: rf.logit_gradient_model(
            dim=3, num_samples=4, num_classes=2
        ).sample(key),
        "models.random_features.RandomFeatureRegression.init": lambda i, key: (
            rf.RandomFeatureRegression(
                x=i.x,
                targets=i.x[:, 0],
                weights=i.matrix[:2],
                objective=problems.MSE(),
                activation=problems.Activation.TANH,
            ).init(key)
        ),
        "models.random_features.goldilocks_scan": lambda i, key: rf.goldilocks_scan(
            i.mlp, i.params, [1.0], dim=1, key=key
        ),
        "models.random_features.logit_hessian": lambda i, key: rf.logit_hessian(
            i.logit_sample, residual_scale=1.0, key=key
        ),
        "models.random_features.random_feature_regression": lambda i, key: (
            rf.random_feature_regression(key=key, num_samples=4, dim=2, num_features=3)
        ),
        "models.random_features.residual_term": lambda i, key: rf.residual_term(
            i.logit_sample, 1.0, key=key
        ),
        "models.soudry.SoudryCarmon.init": lambda i, key: soudry.SoudryCarmon(
            x=i.x, y=i.x[:, 0], noise=i.x
        ).init(key),
        "models.soudry.soudry_carmon": lambda i, key: soudry.soudry_carmon(
            key=key, d0=2, d1=2, num_samples=3
        ),
        "models.wedge.NoiseState": lambda i, key: wedge.NoiseState(key=key),
        "models.wedge.ScaleInvariantNoise": lambda i, key: wedge.ScaleInvariantNoise(
            noise=jnp.asarray(0.1), key=key
        ),
        "models.wedge.WedgeLandscape.init": lambda i, key: i.wedge.init(key),
        "models.wedge.connect_through_intersection": lambda i, key: (
            wedge.connect_through_intersection(i.wedge, [0, 1], key=key)
        ),
        "models.wedge.ensemble_losses": lambda i, key: wedge.ensemble_losses(
            i.wedge, 0, num_members=2, key=key, spread=0.1
        ),
        "models.wedge.equilibrium_norm": lambda i, learning_rate: wedge.equilibrium_norm(
            learning_rate=learning_rate, weight_decay=0.1, noise=0.1
        ),
        "models.wedge.scale_invariant_noise": lambda i, key: wedge.scale_invariant_noise(
            0.1, key=key
        ),
        "models.wedge.subspace_losses": lambda i, key: wedge.subspace_losses(i.wedge, [1], key=key),
        "models.wedge.wedge_landscape": lambda i, key: wedge.wedge_landscape(
            key=key, dim=3, short_dims=[1, 1]
        ),
        "models.wedge.weight_decay_sgd": lambda i, key=K, learning_rate=0.1: wedge.weight_decay_sgd(
            i.wedge,
            jnp.ones(3),
            key=key,
            learning_rate=learning_rate,
            weight_decay=0.1,
            noise=0.1,
            num_steps=1,
        ),
        # problems
        "problems.DelayedMatchRNN.init": lambda i, key: problems.delayed_match_rnn(
            num_units=3, delay=2, response=1
        ).init(key),
        "problems.EquinoxProblem.init": lambda i, key: _equinox().init(key),
        "problems.FunctionProblem.init": lambda i, key: _quadratic().init(key),
        "problems.LeakyRNN.init": lambda i, key: i.rnn.init(key),
        "problems.MLPProblem.init": lambda i, key: i.mlp.init(key),
        "problems.ScalarFactorization.init": lambda i, key: problems.scalar_factorization().init(
            key
        ),
        "problems.TeacherStudentPopulation.init": lambda i, key: i.population.init(key),
        "problems.mlp_init": lambda i, key: problems.mlp_init((2, 2), key=key),
        "problems.teacher_student_finite": lambda i, key: problems.teacher_student_finite(
            i.teacher, key=key, width=2, num_samples=4
        ),
        "problems.two_layer_init": lambda i, key: problems.two_layer_init(key=key, dim=2, width=2),
        "problems.whitened_inputs": lambda i, key: problems.whitened_inputs(
            key=key, num_samples=3, dim=2
        ),
        # sweep
        "sweep.sweep": lambda i, key: sweep.sweep(
            lambda p, k: {"y": p["a"]}, {"a": [1.0]}, key=key
        ),
        # symmetry
        "symmetry.enumerate_critical_subspaces": lambda i, key: (
            symmetry.enumerate_critical_subspaces(i.population, i.teacher, width=2, key=key)
        ),
        "symmetry.enumerate_global_min_subspaces": lambda i, key: (
            symmetry.enumerate_global_min_subspaces(i.population, i.teacher, width=2, key=key)
        ),
        "symmetry.enumerate_permutation_points": lambda i, key: (
            symmetry.enumerate_permutation_points([2], key=key)
        ),
    }


def _equinox():
    import equinox as eqx

    from toymodels import problems

    return problems.EquinoxProblem(
        lambda k: eqx.nn.Linear(2, 1, key=k), lambda m, d: jnp.sum(m.weight**2)
    )


SKIPPED = {
    "problems.AbstractProblem.init": "abstract: each implementation has its own row",
    "problems.AbstractStochasticProblem.sample": "abstract: each implementation has its own row",
    "linalg.AbstractTraceEstimator.estimate": "abstract: the estimator protocol",
    "linalg.Hutchinson.estimate": (
        "estimator protocol, called with a key that linalg.trace / frobenius_squared / "
        "diagonal have validated (their rows)"
    ),
    "linalg.HutchPlusPlus.estimate": "estimator protocol (see linalg.Hutchinson.estimate)",
    "linalg.XTrace.estimate": "estimator protocol (see linalg.Hutchinson.estimate)",
    "linalg.XNysTrace.estimate": "estimator protocol (see linalg.Hutchinson.estimate)",
    "models.ghost.CanonicalSweep": (
        "a result Module (its `learning_rates` field is filled by lr_seed_sweep, which checks "
        "them, and is built under jit)"
    ),
}

# Functions that do not validate yet, each in a file outside this change (issue 15, item 4):
# strict xfails, so that the fix makes the test fail until its entry is removed here.
_RAW_KEY = "key reaches jax.random unchecked (JAX's 'invalid PRNG key data')"
KNOWN_GAPS = {}

CALLS = _calls()


# ---------------------------------------------------------------------------- compile count
def _package_function_names() -> set[str]:
    """Names of every function and method defined in toymodels (private ones included),
    less the names of JAX's own functions: tracing one of them for compilation means the
    call got past its validation."""
    names: set[str] = set()
    for info in pkgutil.walk_packages(toymodels.__path__, "toymodels."):
        try:
            mod = importlib.import_module(info.name)
        except ImportError:  # a module of a missing optional extra
            continue
        for obj in vars(mod).values():
            if inspect.isfunction(obj) and _own(obj):
                names.add(obj.__name__)
            elif inspect.isclass(obj) and _own(obj):
                names.update(n for n, f in vars(obj).items() if inspect.isfunction(f))
    jax_names = set()
    for ns in (jnp, jnp.linalg, jax.lax, jax.random, jax.nn, jax.scipy.linalg, jax.scipy.special):
        jax_names.update(dir(ns))
    return names - jax_names - {"<lambda>"}


class _Compiled(BaseException):
    """Raised from the monitoring listener as soon as a package program is traced for
    compilation (a BaseException, so that no `except Exception` in the package swallows
    it): the call is stopped there, before XLA spends any time on it."""


class _CompileGuard:
    def __init__(self, names: set[str]):
        self.names = names
        self.active = False
        jax.monitoring.register_event_duration_secs_listener(self)

    def __call__(self, event, duration, **kwargs):
        if self.active and event == "/jax/core/compile/jaxpr_trace_duration":
            fun = str(kwargs.get("fun_name", ""))
            if fun in self.names:
                self.active = False
                raise _Compiled(fun)


@pytest.fixture(scope="module")
def guard():
    return _CompileGuard(_package_function_names())


# ---------------------------------------------------------------------------- the tests
def test_every_argument_has_a_row():
    pairs = _validated_arguments()
    names = {n for n, _ in pairs}
    missing = sorted(n for n in names if n not in CALLS and n not in SKIPPED)
    assert not missing, f"public functions taking key/learning_rate without a row: {missing}"
    stale = sorted((set(CALLS) | set(SKIPPED)) - names)
    assert not stale, f"rows for names that are not public functions with these args: {stale}"
    assert not set(CALLS) & set(SKIPPED)
    assert not {n for n, _ in KNOWN_GAPS} - set(CALLS)
    # the enumeration finds the engine and the models (a walk that finds nothing passes
    # nothing)
    assert {"dynamics.run", "dynamics.GD", "models.ghost.train_gd"} <= names
    assert len(pairs) >= 80


def _cases():
    for name, argument in _validated_arguments():
        if name not in CALLS:
            continue
        gap = KNOWN_GAPS.get((name, argument))
        marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
        yield pytest.param(name, argument, marks=marks, id=f"{name}-{argument}")


@pytest.mark.usefixtures("own_checks")
@pytest.mark.parametrize("name, argument", list(_cases()))
def test_argument_is_validated(name, argument, inputs, guard):
    call = CALLS[name]
    guard.active = True
    try:
        call(inputs, **{argument: BAD[argument]})
    except _Compiled as c:
        pytest.fail(f"{name} compiled {c} before refusing {argument}={BAD[argument]!r}")
    except (TypeError, ValueError) as err:
        message = str(err)
    else:
        pytest.fail(f"{name} accepted {argument}={BAD[argument]!r}")
    finally:
        guard.active = False
    assert message.startswith(f"{argument}: "), f"{name}({argument}=...) said: {message[:300]}"


def test_learning_rate_message_is_uniform():
    """The engine's optimizer and the validator used everywhere else say the same thing."""
    from toymodels import dynamics
    from toymodels._validation import check_learning_rate

    with pytest.raises(ValueError) as a:
        dynamics.GD(learning_rate=-0.1)
    with pytest.raises(ValueError) as b:
        check_learning_rate("learning_rate", -0.1)
    assert str(a.value).startswith("learning_rate: must be finite and > 0")
    assert str(b.value).startswith("learning_rate: must be finite and > 0")
    for bad in (0.0, np.nan, np.inf, [0.1, -0.1]):
        with pytest.raises(ValueError, match="^learning_rate: must be finite and > 0"):
            check_learning_rate("learning_rate", bad)
    with pytest.raises(TypeError, match="^learning_rate"):
        check_learning_rate("learning_rate", None)
    check_learning_rate("learning_rate", jnp.asarray([0.1, 2.0]))
    # traced values are the caller's to check (no host sync under jit)
    jax.jit(lambda lr: check_learning_rate("learning_rate", lr) or lr)(-1.0)


# Public classes that are not eqx.Modules, and why (issue 13: results are eqx.Modules with
# named fields).
NOT_MODULES = {
    "sweep.Grid": "the grid specification (axis values), not a result",
    "sweep.SimpleProgress": "a progress printer",
    "sweep.Store": "the on-disk store",
    "claims.Claim": "a claim record of the figure pipeline",
    "claims.FigureRecord": "a figure record of the figure pipeline",
}


def test_public_classes_are_modules():
    import enum

    import equinox as eqx

    others = {
        name
        for name, obj in _public_callables().items()
        if inspect.isclass(obj) and not issubclass(obj, eqx.Module | enum.Enum | BaseException)
    }
    assert others == set(NOT_MODULES), sorted(others ^ set(NOT_MODULES))
    from toymodels import sweep

    assert issubclass(sweep.SweepResult, eqx.Module) and issubclass(sweep.SweepStats, eqx.Module)
