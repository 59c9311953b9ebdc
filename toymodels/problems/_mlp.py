"""Multilayer perceptrons as problems."""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from .._custom_types import Params, Scalar
from .._validation import (
    as_enum,
    as_float_array,
    as_labels,
    check_finite,
    check_key,
    check_positive,
    check_same_length,
)
from ._activations import Activation, activation_function
from ._base import MSE, AbstractObjective, AbstractSupervisedProblem, CrossEntropy


def mlp_apply(
    params: Params,
    x: Array,
    *,
    activation: Activation | str = Activation.TANH,
    negative_slope: float = 0.01,
    scalar_output: bool = False,
) -> Array:
    """Forward pass of an MLP with the package's params layout.

    `params` is a tuple of layers, each a dict with `"w"` of shape `(out, in)` and, when the
    network has biases, `"b"` of shape `(out,)`. Every layer but the last is followed by the
    activation. `x` has shape `(samples, in)`; the output `(samples, out)`, or `(samples,)`
    when `scalar_output`.
    """
    sigma = activation_function(activation, negative_slope=negative_slope)
    h = x
    last = len(params) - 1
    for i, layer in enumerate(params):
        h = h @ layer["w"].T
        if "b" in layer:
            h = h + layer["b"]
        if i < last:
            h = sigma(h)
    return h[..., 0] if scalar_output else h


def mlp_init(
    sizes: Sequence[int], *, key: PRNGKeyArray, bias: bool = True, scale: float = 1.0, dtype=None
) -> Params:
    """LeCun-normal weights `N(0, scale²/fan_in)` and zero biases, for layer sizes
    `(in, hidden..., out)`."""
    check_key("key", key)
    dtype = jnp.result_type(float) if dtype is None else dtype
    keys = jr.split(key, len(sizes) - 1)
    layers = []
    for k, fan_in, fan_out in zip(keys, sizes[:-1], sizes[1:]):
        w = scale * jr.normal(k, (fan_out, fan_in), dtype) / jnp.sqrt(jnp.asarray(fan_in, dtype))
        layer = {"w": w}
        if bias:
            layer["b"] = jnp.zeros((fan_out,), dtype)
        layers.append(layer)
    return tuple(layers)


class MLPProblem(AbstractSupervisedProblem):
    r"""A fully connected network fitted to data.

    The params are `mlp_init`'s layout: a tuple of `{"w": (out, in), "b": (out,)}` dicts
    (no `"b"` when `bias=False`). Build one with `mlp_classification` or `mlp_regression`.
    """

    x: Array
    targets: Array
    objective: AbstractObjective
    sizes: tuple[int, ...] = eqx.field(static=True)
    activation: Activation = eqx.field(static=True)
    bias: bool = eqx.field(static=True)
    scalar_output: bool = eqx.field(static=True)
    init_scale: float = eqx.field(static=True)
    negative_slope: float = eqx.field(static=True)

    def apply(self, params: Params, x: Array) -> Array:
        return mlp_apply(
            params,
            x,
            activation=self.activation,
            negative_slope=self.negative_slope,
            scalar_output=self.scalar_output,
        )

    def init(self, key: PRNGKeyArray) -> Params:
        check_key("key", key)
        return mlp_init(
            key=key, sizes=self.sizes, bias=self.bias, scale=self.init_scale, dtype=self.x.dtype
        )

    @property
    def num_classes(self) -> int:
        return self.sizes[-1]

    def accuracy(
        self, params: Params, x: Array | None = None, labels: Array | None = None
    ) -> Scalar:
        """Fraction of correct argmax predictions (classification problems)."""
        if not isinstance(self.objective, CrossEntropy):
            raise ValueError("accuracy: defined for classification problems (CrossEntropy) only")
        x = self.x if x is None else x
        labels = self.targets if labels is None else labels
        pred = jnp.argmax(self.apply(params, x), axis=-1)
        return jnp.mean((pred == jnp.asarray(labels).astype(pred.dtype)).astype(self.x.dtype))

    def error(self, params: Params, x: Array | None = None, labels: Array | None = None) -> Scalar:
        """Classification error `1 − accuracy`."""
        return 1.0 - self.accuracy(params, x, labels)


def _hidden_sizes(hidden) -> tuple[int, ...]:
    if isinstance(hidden, int | jnp.integer):
        hidden = (int(hidden),)
    try:
        sizes = tuple(int(h) for h in hidden)
    except TypeError:
        raise TypeError(f"hidden: expected an int or a sequence of ints, got {hidden!r}") from None
    for h in sizes:
        if h <= 0:
            raise ValueError(f"hidden: layer widths must be positive, got {sizes}")
    return sizes


def _common(activation, init_scale, negative_slope):
    act = as_enum("activation", activation, Activation)
    check_positive("init_scale", init_scale)
    return act, float(init_scale), float(negative_slope)


def mlp_classification(
    x: ArrayLike,
    labels: ArrayLike,
    *,
    hidden: int | Sequence[int],
    activation: Activation | str = "tanh",
    bias: bool = True,
    num_classes: int | None = None,
    init_scale: float = 1.0,
    negative_slope: float = 0.01,
) -> MLPProblem:
    """An MLP classifier under softmax cross-entropy (mean over samples).

    **Arguments:**
    - `x`: inputs, shape `(samples, features)`.
    - `labels`: integer labels in `[0, num_classes)`, shape `(samples,)`.
    - `hidden`: hidden widths, an int for one hidden layer or a sequence (empty for a linear
      model).
    - `activation` (keyword-only): an `Activation` or its name; default `"tanh"`.
    - `bias` (keyword-only): biases on every layer; default `True`.
    - `num_classes` (keyword-only): default `max(labels) + 1`.
    - `init_scale` (keyword-only): multiplies the LeCun-normal initial weights.
    """
    x = as_float_array("x", x, ndim=2)
    if num_classes is not None and int(num_classes) < 2:
        raise ValueError(f"num_classes: need at least 2 classes, got {num_classes}")
    labels = as_labels("labels", labels, num_classes=num_classes)
    check_same_length("x", x, "labels", labels)
    classes = int(num_classes) if num_classes is not None else int(labels.max()) + 1
    act, scale, slope = _common(activation, init_scale, negative_slope)
    sizes = (x.shape[1], *_hidden_sizes(hidden), max(classes, 2))
    return MLPProblem(
        x=x,
        targets=labels,
        objective=CrossEntropy(),
        sizes=sizes,
        activation=act,
        bias=bool(bias),
        scalar_output=False,
        init_scale=scale,
        negative_slope=slope,
    )


def mlp_regression(
    x: ArrayLike,
    y: ArrayLike,
    *,
    hidden: int | Sequence[int],
    activation: Activation | str = "tanh",
    bias: bool = True,
    half: bool = True,
    init_scale: float = 1.0,
    negative_slope: float = 0.01,
) -> MLPProblem:
    r"""An MLP regressor under mean squared error.

    `y` of shape `(samples,)` gives a scalar-output network, `(samples, outputs)` a vector
    output. The loss is $\frac{c}{N}\sum_n\lVert f(x_n)-y_n\rVert^2$ with $c=\frac12$
    (`half=True`, default) or $c=1$; see `MSE`. Other arguments as in `mlp_classification`.
    """
    x = as_float_array("x", x, ndim=2)
    y = as_float_array("y", y, ndim=(1, 2))
    check_same_length("x", x, "y", y)
    check_finite("y", y)
    act, scale, slope = _common(activation, init_scale, negative_slope)
    scalar = y.ndim == 1
    out = 1 if scalar else y.shape[1]
    sizes = (x.shape[1], *_hidden_sizes(hidden), out)
    return MLPProblem(
        x=x,
        targets=y.astype(x.dtype),
        objective=MSE(half=bool(half)),
        sizes=sizes,
        activation=act,
        bias=bool(bias),
        scalar_output=scalar,
        init_scale=scale,
        negative_slope=slope,
    )


def num_params(params: Params) -> int:
    """Number of scalar parameters in a params pytree."""
    return int(sum(jnp.size(leaf) for leaf in jax.tree_util.tree_leaves(params)))
