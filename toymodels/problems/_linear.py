r"""Deep linear networks and scalar factorizations, with Saxe's closed-form learning curve."""

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from .._custom_types import Params, Real, Scalar
from .._validation import as_float_array, check_key, check_positive
from ._base import AbstractProblem
from ._mlp import MLPProblem, mlp_regression


class ScalarFactorization(AbstractProblem):
    r"""$J(w) = \tfrac12\,(s - w_1 w_2\cdots w_L)^2$: the deep linear network of one input and
    one output with whitened data, $E[x^2] = 1$, target $y = s x$.

    With `depth=2` and `target=1` this is Goodfellow et al.'s two-parameter toy
    $J = \tfrac12(1 - w_1 w_2)^2$: minima on the hyperbola $w_1w_2 = 1$, a saddle at 0.
    Params: an array of shape `(depth,)`.
    """

    target: Array
    depth: int = eqx.field(static=True, default=2)
    init_scale: float = eqx.field(static=True, default=1e-2)

    def __check_init__(self):
        if self.depth < 1:
            raise ValueError(f"depth: must be >= 1, got {self.depth}")

    def loss(self, params: Array) -> Scalar:
        return 0.5 * (self.target - jnp.prod(params)) ** 2

    def init(self, key: PRNGKeyArray) -> Array:
        check_key("key", key)
        return self.init_scale * jr.normal(key, (self.depth,), jnp.result_type(self.target))


def scalar_factorization(
    target: Real = 1.0, *, depth: int = 2, init_scale: float = 1e-2
) -> ScalarFactorization:
    """`ScalarFactorization` with a float target (dtype follows the x64 setting)."""
    t = as_float_array("target", target, ndim=0)
    return ScalarFactorization(target=t, depth=int(depth), init_scale=float(init_scale))


def deep_linear_regression(
    x: ArrayLike, y: ArrayLike, *, hidden: int | Sequence[int], init_scale: float = 1.0
) -> MLPProblem:
    r"""A deep linear network (identity activations, no biases) under
    $\frac1{2N}\sum_n\lVert W_L\cdots W_1 x_n - y_n\rVert^2$."""
    return mlp_regression(
        x, y, hidden=hidden, activation="identity", bias=False, half=True, init_scale=init_scale
    )


def saxe_mode_strength(t: ArrayLike, *, s: float, u0: float) -> Array:
    r"""Saxe, McClelland & Ganguli (2014): the strength $u(t)$ of one input–output mode of a
    two-layer linear network under gradient flow on $\tfrac12(s - ab)^2$ from a balanced start
    $a = b$, $u_0 = ab > 0$:

    $$u(t) = \frac{s\,e^{2st}}{e^{2st} - 1 + s/u_0}.$$

    Written as $s / (1 - e^{-2st} + (s/u_0)e^{-2st})$ to stay finite for large $t$.
    """
    check_positive("s", s)
    check_positive("u0", u0)
    t = jnp.asarray(t)
    decay = jnp.exp(-2.0 * s * t)
    return s / (1.0 - decay + (s / u0) * decay)


def saxe_plateau_time(*, s: float, u0: float) -> float:
    r"""Time for the mode to reach half its final strength, $\frac{1}{2s}\ln(s/u_0 - 1)$
    (exact from `saxe_mode_strength`; about $\frac1{2s}\ln(s/u_0)$ for small $u_0$)."""
    check_positive("s", s)
    check_positive("u0", u0)
    return float(jnp.log(s / u0 - 1.0) / (2.0 * s))


def whitened_inputs(*, key: PRNGKeyArray, num_samples: int, dim: int, dtype=None) -> Array:
    """Inputs with exactly identity second moment, $X^\\top X / N = I$ (needs
    `num_samples >= dim`)."""
    check_key("key", key)
    if num_samples < dim:
        raise ValueError(f"num_samples: need at least dim={dim} samples, got {num_samples}")
    dtype = jnp.result_type(float) if dtype is None else dtype
    g = jr.normal(key, (num_samples, dim), dtype)
    q, _ = jnp.linalg.qr(g)
    return q * jnp.sqrt(jnp.asarray(num_samples, dtype))


def balanced_rank_one_init(
    direction: Array, *, hidden: int | Sequence[int], out: int, u0: Real
) -> Params:
    """Params of a linear net in which one mode along `direction` (unit input vector) has
    strength `u0`, balanced between the layers: each of the L = len(hidden) + 1 layers
    carries u0^(1/L) on the mode (used to check Saxe's curves; `hidden` an int is one hidden
    layer, a sequence the widths of `deep_linear_regression`)."""
    widths = (hidden,) if isinstance(hidden, int | np.integer) else tuple(hidden)
    if not widths or any(int(h) < 1 for h in widths):
        raise ValueError(f"hidden: widths must be >= 1, got {hidden!r}")
    d = direction / jnp.linalg.norm(direction)
    u0 = jnp.asarray(u0, d.dtype)
    r = jnp.sqrt(u0) if len(widths) == 1 else u0 ** (1.0 / (len(widths) + 1))
    layers = [{"w": jnp.zeros((widths[0], d.shape[0]), d.dtype).at[0].set(r * d)}]
    for a, b in zip(widths[:-1], widths[1:]):
        layers.append({"w": jnp.zeros((b, a), d.dtype).at[0, 0].set(r)})
    layers.append({"w": jnp.zeros((out, widths[-1]), d.dtype).at[0, 0].set(r)})
    return tuple(layers)
