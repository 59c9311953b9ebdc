r"""A one-hidden-layer tanh MLP of `max_width` units of which the first `width` are on."""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..._custom_types import Params, Scalar
from ..._validation import check_key, is_concrete
from ...problems import AbstractSupervisedProblem, CrossEntropy


class MaskedMLP(AbstractSupervisedProblem):
    r"""A one-hidden-layer tanh MLP of `max_width` units of which the first `width` are
    switched on by a 0/1 `mask` (a traced field, so widths vary under `jax.vmap`).

    $f(x) = W_2\,[\tanh(W_1x + b_1)\odot m] + b_2$, softmax cross-entropy on integer labels.
    Params: `({"w": (max_width, d), "b": (max_width,)}, {"w": (C, max_width), "b": (C,)})`,
    the layout of `toymodels.problems.mlp_classification`. Switched-off units receive zero
    gradient and zero curvature, so loss, gradients, Hessian spectrum (padded with zeros),
    training and curves equal those of the `width`-unit MLP; `init` is LeCun-normal with the
    true fan-in (`width` for $W_2$) and switched-off weights at 0.
    """

    x: Float[Array, "N d"]
    targets: Int[Array, " N"]
    objective: CrossEntropy
    mask: Float[Array, " W"]
    num_classes: int = eqx.field(static=True)

    @property
    def max_width(self) -> int:
        return self.mask.shape[0]

    def apply(self, params: Params, x: Array) -> Array:
        h = jnp.tanh(x @ params[0]["w"].T + params[0]["b"]) * self.mask
        return h @ params[1]["w"].T + params[1]["b"]

    def init(self, key: PRNGKeyArray) -> Params:
        check_key("key", key)
        k1, k2 = jr.split(key)
        d, width_max, c = self.x.shape[1], self.max_width, self.num_classes
        dt = self.x.dtype
        w1 = jr.normal(k1, (width_max, d), dt) / np.sqrt(d) * self.mask[:, None]
        w2 = jr.normal(k2, (c, width_max), dt) / jnp.sqrt(jnp.sum(self.mask))
        return (
            {"w": w1, "b": jnp.zeros(width_max, dt)},
            {"w": w2 * self.mask[None, :], "b": jnp.zeros(c, dt)},
        )

    def accuracy(self, params: Params, x: Array | None = None, labels=None) -> Scalar:
        """Fraction of correct argmax predictions (on the problem's data by default)."""
        x = self.x if x is None else x
        labels = self.targets if labels is None else labels
        pred = jnp.argmax(self.apply(params, x), -1).astype(labels.dtype)
        return jnp.mean((pred == labels).astype(self.x.dtype))

    def error(self, params: Params, x: Array | None = None, labels=None) -> Scalar:
        """1 − `accuracy`."""
        return 1.0 - self.accuracy(params, x, labels)


def masked_mlp(
    x: Float[Array, "N d"],
    labels: Int[Array, " N"],
    *,
    width: int | Int[Array, ""],
    max_width: int,
    num_classes: int,
) -> MaskedMLP:
    """A `MaskedMLP` on `(x, labels)` (samples, features) with the first `width` of
    `max_width` hidden units on; `width` may be a traced integer (vmapped over)."""
    max_width = int(max_width)
    if max_width < 1:
        raise ValueError(f"max_width: must be >= 1, got {max_width}")
    num_classes = int(num_classes)
    if num_classes < 2:
        raise ValueError(f"num_classes: must be >= 2, got {num_classes}")
    if is_concrete(width):
        w = int(width)
        if not 1 <= w <= max_width:
            raise ValueError(f"width: must be in [1, max_width={max_width}], got {w}")
    x = jnp.asarray(x)
    mask = (jnp.arange(max_width) < width).astype(x.dtype)
    return MaskedMLP(
        x=x,
        targets=jnp.asarray(labels),
        objective=CrossEntropy(),
        mask=mask,
        num_classes=num_classes,
    )
