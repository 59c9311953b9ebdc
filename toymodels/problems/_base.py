"""The problem abstraction: data and hyperparameters in an immutable pytree, params apart."""

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._custom_types import Params, Scalar
from .._validation import as_labels, check_finite, check_key, check_same_length, is_concrete


class AbstractProblem(eqx.Module):
    r"""A loss landscape: fixed data and hyperparameters as fields, params passed apart.

    Subclasses implement `loss(params) -> scalar` and `init(key) -> params`. The params are
    any pytree of floating arrays; their flattening with `jax.flatten_util.ravel_pytree` gives
    the landscape coordinates used by `toymodels.landscape` and `toymodels.dynamics`.
    """

    @abc.abstractmethod
    def loss(self, params: Params) -> Scalar:
        """The scalar loss at `params`."""

    @abc.abstractmethod
    def init(self, key: PRNGKeyArray) -> Params:
        """A random initial point drawn with `key`."""

    def grad(self, params: Params) -> Params:
        """Gradient of `loss` (a pytree like `params`)."""
        return jax.grad(self.loss)(params)

    def value_and_grad(self, params: Params) -> tuple[Scalar, Params]:
        return jax.value_and_grad(self.loss)(params)

    # The minibatch protocol: a problem that carries data says how many samples it has and
    # gives the same problem on a subset of them. `toymodels.dynamics.run(..., batch_size=B)`
    # draws `B` indices per step and trains on `problem.batch(indices)`.
    @property
    def num_samples(self) -> int | None:
        """Number of data samples the loss averages over; `None` for a problem without data
        (minibatches then raise)."""
        return None

    def batch(self, indices: Array) -> "AbstractProblem":
        """The same problem on the samples `indices` (an integer array); works under jit."""
        raise TypeError(
            f"batch_size: {type(self).__name__} carries no data to draw minibatches from "
            "(define `num_samples` and `batch(indices)`, see toymodels.problems.AbstractProblem)"
        )


class AbstractProblemTransform(AbstractProblem):
    """A problem built on another one (`problem`) whose params are new coordinates (a
    subspace, a curve's bend, ...): it carries the wrapped problem's data, so minibatches
    pass through to it (`num_samples`, `batch`)."""

    problem: eqx.AbstractVar[AbstractProblem]

    @property
    def num_samples(self) -> int | None:
        return self.problem.num_samples

    def batch(self, indices: Array):
        return eqx.tree_at(lambda s: s.problem, self, self.problem.batch(indices))


class AbstractStochasticProblem(AbstractProblem):
    """A problem whose objective is redrawn at every step of `toymodels.dynamics.run`:
    `sample(key)` returns the deterministic problem for one step (for example a curve
    fitted at a random point along it)."""

    @abc.abstractmethod
    def sample(self, key: PRNGKeyArray) -> AbstractProblem:
        """The problem for one step, drawn with `key`."""


class AbstractObjective(eqx.Module):
    """A per-sample loss of network outputs against targets, averaged over samples."""

    @abc.abstractmethod
    def per_sample(self, outputs: Array, targets: Array) -> Array:
        """Loss of each sample: shape `(samples,)`."""

    def __call__(self, outputs: Array, targets: Array) -> Scalar:
        return jnp.mean(self.per_sample(outputs, targets))


class MSE(AbstractObjective):
    r"""Mean squared error, averaged over samples and summed over output components.

    $L = \frac{c}{N}\sum_{n=1}^N \lVert f(x_n) - y_n\rVert^2$ with $c = 1/2$ when
    `half=True` (the default, so that the Hessian of a linear model is $X^\top X/N$) and
    $c = 1$ otherwise (the convention of MLPGradientFlow.jl's `loss`, which also sums over
    samples: multiply by $N$, or rescale time by $1/N$, to compare).
    """

    half: bool = eqx.field(default=True, static=True)

    def per_sample(self, outputs: Array, targets: Array) -> Array:
        r = outputs - targets
        sq = r**2 if r.ndim == 1 else jnp.sum(r**2, axis=tuple(range(1, r.ndim)))
        return 0.5 * sq if self.half else sq


class CrossEntropy(AbstractObjective):
    r"""Softmax cross-entropy with integer labels, averaged over samples:
    $L = \frac1N \sum_n [\log\sum_c e^{z_{nc}} - z_{n y_n}]$."""

    def per_sample(self, outputs: Array, targets: Array) -> Array:
        logz = jax.nn.logsumexp(outputs, axis=-1)
        picked = jnp.take_along_axis(outputs, targets[:, None], axis=-1)[:, 0]
        return logz - picked


class AbstractSupervisedProblem(AbstractProblem):
    """A network `apply(params, x)` fitted to `(x, targets)` under an `objective`.

    The split into network outputs and an objective is what lets `toymodels.landscape`
    form the Gauss–Newton term and the residual term of the Hessian separately.
    """

    x: eqx.AbstractVar[Array]
    targets: eqx.AbstractVar[Array]
    objective: eqx.AbstractVar[AbstractObjective]

    @abc.abstractmethod
    def apply(self, params: Params, x: Array) -> Array:
        """Network outputs for inputs `x` (leading axis = samples)."""

    def outputs(self, params: Params) -> Array:
        """Network outputs on the problem's own inputs."""
        return self.apply(params, self.x)

    def loss(self, params: Params) -> Scalar:
        return self.objective(self.apply(params, self.x), self.targets)

    def with_data(self, x: Array, targets: Array):
        """The same problem on other data (a mini-batch, a test set); works under jit.

        The data are checked as the constructors check theirs: `x` must have the problem's
        feature shape and `targets` the problem's target shape, with as many samples as `x`;
        both finite; integer labels of a `CrossEntropy` problem in `[0, classes)`. Under jit
        (traced data) only the shapes are checked.
        """
        x, targets = _check_data(self, x, targets)
        return eqx.tree_at(lambda p: (p.x, p.targets), self, (x, targets))

    @property
    def num_samples(self) -> int:
        return self.x.shape[0]

    def batch(self, indices: Array):
        idx = check_indices("indices", indices, self.num_samples)
        return self.with_data(self.x[idx], self.targets[idx])


def check_indices(name: str, indices: Any, num_samples: int) -> Array:
    """Sample indices: a 1-D integer array with values in `[0, num_samples)` (the values are
    checked when concrete; under jit only the dtype and rank)."""
    idx = jnp.asarray(indices)
    if not jnp.issubdtype(idx.dtype, jnp.integer):
        raise TypeError(f"{name}: expected integer sample indices, got dtype {idx.dtype}")
    if idx.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of sample indices, got shape {idx.shape}")
    if is_concrete(idx) and idx.size:
        a = np.asarray(idx)
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi >= num_samples:
            raise ValueError(
                f"{name}: index {lo if lo < 0 else hi} out of range for {num_samples} samples "
                f"(expected 0..{num_samples - 1})"
            )
    return idx


def _shape_text(*dims: Any) -> str:
    return f"({', '.join(map(str, dims))}{',' if len(dims) == 1 else ''})"


def _feature_shape(a: Any) -> tuple[int, ...] | None:
    return tuple(np.shape(a)[1:]) if eqx.is_array(a) else None


def _check_data(problem: AbstractSupervisedProblem, x: Any, targets: Any) -> tuple[Any, Any]:
    if eqx.is_array(problem.x):
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            if jnp.issubdtype(x.dtype, jnp.bool_) or not jnp.issubdtype(
                problem.x.dtype, jnp.inexact
            ):
                raise TypeError(f"x: expected floating inputs, got dtype {x.dtype}")
            x = x.astype(problem.x.dtype)
        want = _feature_shape(problem.x)
        if x.ndim != problem.x.ndim or tuple(x.shape[1:]) != want:
            raise ValueError(
                f"x: expected inputs of shape {_shape_text('samples', *want)} like the "
                f"problem's, got shape {x.shape}"
            )
    check_finite("x", x)
    if not eqx.is_array(problem.targets):
        check_finite("targets", targets)
        return x, targets
    targets = jnp.asarray(targets)
    if eqx.is_array(x):
        check_same_length("x", x, "targets", targets)
    want = _feature_shape(problem.targets)
    if targets.ndim != problem.targets.ndim or tuple(targets.shape[1:]) != want:
        raise ValueError(
            f"targets: expected shape {_shape_text('samples', *want)} like the problem's "
            f"targets, got shape {targets.shape}"
        )
    if jnp.issubdtype(problem.targets.dtype, jnp.integer):
        if isinstance(problem.objective, CrossEntropy) and targets.ndim == 1:
            classes = _num_classes(problem, x) if is_concrete(targets) else None
            targets = as_labels("targets", targets, num_classes=classes)
        elif not jnp.issubdtype(targets.dtype, jnp.integer):
            raise TypeError(f"targets: expected integer targets, got dtype {targets.dtype}")
    else:
        if not jnp.issubdtype(targets.dtype, jnp.inexact):
            if jnp.issubdtype(targets.dtype, jnp.bool_):
                raise TypeError(f"targets: expected floating targets, got dtype {targets.dtype}")
            targets = targets.astype(problem.targets.dtype)
        check_finite("targets", targets)
    return x, targets


# number of logits by (problem structure and leaf shapes, feature shape, dtype): a pass over
# data batches traces the network once, and no problem (nor its data) is kept alive
_LOGITS: dict[Any, int | None] = {}


def _num_classes(problem: AbstractSupervisedProblem, x: Any) -> int | None:
    """The number of logits, from the shapes alone (`jax.eval_shape`: no computation)."""
    if not eqx.is_array(x):
        return None
    leaves, treedef = jax.tree_util.tree_flatten(problem)
    try:
        spec = tuple((np.shape(a), str(jnp.result_type(a))) for a in leaves)
        key = (treedef, spec, tuple(x.shape[1:]), str(x.dtype))
        hash(key)
    except TypeError:  # unhashable static fields or odd leaves: no cache
        key = None
    if key is not None and key in _LOGITS:
        return _LOGITS[key]
    xs = jax.ShapeDtypeStruct((1, *x.shape[1:]), x.dtype)
    out = jax.eval_shape(
        lambda k, a: problem.apply(problem.init(k), a), jax.eval_shape(jr.key, 0), xs
    )
    shape = getattr(out, "shape", None)
    classes = int(shape[-1]) if shape else None
    if key is not None:
        if len(_LOGITS) >= 64:
            _LOGITS.clear()
        _LOGITS[key] = classes
    return classes


class FunctionProblem(AbstractProblem):
    """A problem from two plain functions: `loss_fn(params)` and `init_fn(key)`.

    Functions are static fields, so pass functions (or `jax.tree_util.Partial`) that
    close over their data; for a data-carrying problem prefer a subclass of
    `AbstractProblem`.
    """

    loss_fn: Callable[[Params], Scalar] = eqx.field(static=True)
    init_fn: Callable[[PRNGKeyArray], Params] = eqx.field(static=True)

    def loss(self, params: Params) -> Scalar:
        return self.loss_fn(params)

    def init(self, key: PRNGKeyArray) -> Params:
        check_key("key", key)
        return self.init_fn(key)


def _is_inexact_leaf(x) -> bool:
    if isinstance(x, jax.ShapeDtypeStruct):
        return jnp.issubdtype(x.dtype, jnp.inexact)
    return eqx.is_inexact_array(x)


class EquinoxProblem(AbstractProblem):
    """Use your own equinox model as a problem.

    `make_model(key)` builds the model; `loss_fn(model, data)` returns its scalar loss on
    `data` (any pytree of arrays, stored on the problem). The params are the model's
    floating-point arrays (`eqx.partition(model, eqx.is_inexact_array)`); everything else
    (activation functions, static ints) is kept in `static`.

    ```python
    problem = EquinoxProblem(lambda k: eqx.nn.MLP(2, 1, 8, 2, key=k),
                             lambda m, d: jnp.mean((jax.vmap(m)(d[0])[:, 0] - d[1]) ** 2),
                             data=(x, y))
    params = problem.init(jr.key(1))
    model = problem.model(params)      # back to an equinox module
    ```
    """

    data: Any
    static: Any = eqx.field(static=True)
    make_model: Callable[[PRNGKeyArray], eqx.Module] = eqx.field(static=True)
    loss_fn: Callable[[eqx.Module, Any], Scalar] = eqx.field(static=True)

    def __init__(self, make_model, loss_fn, *, data: Any = None):
        if not callable(make_model):
            raise TypeError("make_model: expected a function key -> equinox module")
        if not callable(loss_fn):
            raise TypeError("loss_fn: expected a function (model, data) -> scalar")
        # Only the structure is needed here: trace `make_model` abstractly (no random draw).
        shape = eqx.filter_eval_shape(make_model, jax.eval_shape(jr.key, 0))
        _, static = eqx.partition(shape, _is_inexact_leaf)
        check_finite("data", data)
        self.data = data
        self.static = static
        self.make_model = make_model
        self.loss_fn = loss_fn

    def model(self, params: Params) -> eqx.Module:
        """Combine `params` with the static part into an equinox model."""
        return eqx.combine(params, self.static)

    def loss(self, params: Params) -> Scalar:
        return self.loss_fn(self.model(params), self.data)

    def init(self, key: PRNGKeyArray) -> Params:
        check_key("key", key)
        params, _ = eqx.partition(self.make_model(key), eqx.is_inexact_array)
        return params

    @property
    def num_samples(self) -> int | None:
        """The common leading axis of the arrays in `data` (`None` without data)."""
        leaves = [a for a in jax.tree_util.tree_leaves(self.data) if jnp.ndim(a) > 0]
        if not leaves:
            return None
        sizes = {int(jnp.shape(a)[0]) for a in leaves}
        if len(sizes) != 1:
            raise ValueError(
                f"data: arrays have different leading (sample) axes {sorted(sizes)}; "
                "minibatches need one sample axis"
            )
        return sizes.pop()

    def batch(self, indices: Array) -> "EquinoxProblem":
        n = self.num_samples
        if n is None:
            return super().batch(indices)
        idx = check_indices("indices", indices, n)
        data = jax.tree_util.tree_map(lambda a: a[idx] if jnp.ndim(a) > 0 else a, self.data)
        return eqx.tree_at(lambda p: p.data, self, data, is_leaf=lambda x: x is None)
