r"""Directions in parameter space: random Gaussian directions with filter, layer or model
normalization (Li, Xu, Taylor, Studer & Goldstein 2018), and pytree vector helpers.

Conventions for any params pytree:

- a leaf with `ndim >= 2` is a *weight*; its *filters* are the slices along axis 0 (for the
  package's MLP layout `w: (out, in)` a filter is one output unit's incoming weights, a row);
- a leaf with `ndim <= 1` is a *bias-like* leaf (biases, scalars, normalization scales); what
  happens to it is chosen explicitly by `Biases`.
"""

import enum

import jax
import jax.numpy as jnp
import jax.random as jr
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, PRNGKeyArray

from .._custom_types import Params, Scalar
from .._validation import as_enum, check_finite, check_key, check_params_tree


class Normalization(enum.Enum):
    r"""How a random direction $d$ is scaled relative to the params $\theta$.

    - `FILTER`: every filter $j$ of every weight leaf $i$:
      $d_{ij} \leftarrow d_{ij}\,\lVert\theta_{ij}\rVert / \lVert d_{ij}\rVert$ (Li et al. 2018);
    - `LAYER`: every leaf as a whole, $d_i \leftarrow d_i\,\lVert\theta_i\rVert/\lVert d_i\rVert$;
    - `MODEL`: the whole vector, $d \leftarrow d\,\lVert\theta\rVert/\lVert d\rVert$;
    - `NONE`: the raw Gaussian draw.

    A filter (or leaf) whose norm in $\theta$ or in $d$ is zero gets a zero direction (no
    `1e-10` fudge in the denominator, so that invariances hold to rounding).
    """

    FILTER = "filter"
    LAYER = "layer"
    MODEL = "model"
    NONE = "none"


class Biases(enum.Enum):
    r"""What a direction does on bias-like leaves (`ndim <= 1`).

    - `ZERO`: the direction is zero there (tomgoldstein's `--xignore biasbn`), so biases stay
      at their values in $\theta$;
    - `KEEP`: a random direction is kept there, scaled as one unit per leaf to the norm of the
      leaf in $\theta$ under `FILTER` and `LAYER` (so that a layer-wise rescaling of the
      network rescales it too), raw under `NONE`, and as part of the whole vector under
      `MODEL`;
    - `COPY`: the direction equals $\theta$ there (tomgoldstein's default without
      `--xignore`).
    """

    ZERO = "zero"
    KEEP = "keep"
    COPY = "copy"


# ---------------------------------------------------------------------------------------------
# pytree vector helpers (dtype-agnostic)


def tree_add(a: Params, b: Params) -> Params:
    return jax.tree_util.tree_map(lambda x, y: x + y, a, b)


def tree_sub(a: Params, b: Params) -> Params:
    return jax.tree_util.tree_map(lambda x, y: x - y, a, b)


def tree_scale(a: Params, c) -> Params:
    return jax.tree_util.tree_map(lambda x: c * x, a)


def tree_axpy(c, x: Params, y: Params) -> Params:
    """`c * x + y` leaf by leaf."""
    return jax.tree_util.tree_map(lambda u, v: c * u + v, x, y)


def tree_vdot(a: Params, b: Params) -> Scalar:
    """Euclidean inner product of two pytrees (as flat vectors)."""
    leaves = jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda x, y: jnp.vdot(x, y), a, b))
    return sum(leaves[1:], leaves[0]) if leaves else jnp.zeros(())


def tree_norm(a: Params) -> Scalar:
    """Euclidean norm of a pytree as a flat vector."""
    return jnp.sqrt(tree_vdot(a, a))


def check_like(name: str, tree: Params, reference: Params) -> None:
    """`tree` must have the structure and leaf shapes of `reference` (ValueError otherwise)."""
    check_params_tree(name, tree, reference)


# ---------------------------------------------------------------------------------------------


def _safe_ratio(num: Array, den: Array) -> Array:
    """num / den, and 0 where den == 0 (no NaN, no epsilon)."""
    ok = den > 0
    return jnp.where(ok, num / jnp.where(ok, den, 1), 0)


def _filter_scale(d: Array, theta: Array) -> Array:
    axes = tuple(range(1, d.ndim))
    nd = jnp.sqrt(jnp.sum(d * d, axis=axes, keepdims=True))
    nt = jnp.sqrt(jnp.sum(theta * theta, axis=axes, keepdims=True))
    return d * _safe_ratio(nt, nd)


def _leaf_scale(d: Array, theta: Array) -> Array:
    return d * _safe_ratio(jnp.sqrt(jnp.sum(theta * theta)), jnp.sqrt(jnp.sum(d * d)))


def normalize_direction(
    direction: Params,
    params: Params,
    *,
    normalization: Normalization | str = Normalization.FILTER,
    biases: Biases | str = Biases.ZERO,
) -> Params:
    r"""Scale `direction` relative to `params` (see `Normalization` and `Biases`).

    Filter normalization makes 1-D loss curves $\alpha\mapsto L(\theta + \alpha d)$
    invariant under layer-wise positive rescalings of a ReLU network (each weight leaf
    multiplied by $c_l>0$ with $\prod_l c_l = 1$, biases by the running product), because
    every filter of $d$ is scaled with the corresponding filter of $\theta$.
    """
    normalization = as_enum("normalization", normalization, Normalization)
    biases = as_enum("biases", biases, Biases)
    check_like("direction", direction, params)
    check_finite("params", params)
    check_finite("direction", direction)
    is_bias = jax.tree_util.tree_map(lambda t: jnp.ndim(t) <= 1, params)

    def pre(d, t, b):
        if b and biases is Biases.ZERO:
            return jnp.zeros_like(d)
        if b and biases is Biases.COPY:
            return t
        return d

    d = jax.tree_util.tree_map(pre, direction, params, is_bias)
    if normalization is Normalization.NONE:
        return d
    if normalization is Normalization.MODEL:
        if biases is Biases.KEEP:
            return _model_scale(d, params)
        # scale the weight part only; zeroed/copied bias leaves are left as they are
        w_d = jax.tree_util.tree_map(lambda x, b: jnp.zeros_like(x) if b else x, d, is_bias)
        w_t = jax.tree_util.tree_map(lambda x, b: jnp.zeros_like(x) if b else x, params, is_bias)
        s = _safe_ratio(tree_norm(w_t), tree_norm(w_d))
        return jax.tree_util.tree_map(lambda x, b: x if b else s * x, d, is_bias)

    def scale(dd, t, b):
        if b:
            return _leaf_scale(dd, t) if biases is Biases.KEEP else dd
        if normalization is Normalization.FILTER:
            return _filter_scale(dd, t)
        return _leaf_scale(dd, t)

    return jax.tree_util.tree_map(scale, d, params, is_bias)


def _model_scale(d: Params, params: Params) -> Params:
    s = _safe_ratio(tree_norm(params), tree_norm(d))
    return tree_scale(d, s)


def random_direction(
    params: Params,
    *,
    key: PRNGKeyArray,
    normalization: Normalization | str = Normalization.FILTER,
    biases: Biases | str = Biases.ZERO,
) -> Params:
    r"""A Gaussian direction shaped like `params`, normalized by `normalize_direction`.

    Entries are i.i.d. $\mathcal N(0, 1)$ in the dtype of each leaf; one key split per leaf.
    """
    check_key("key", key)
    check_finite("params", params)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jr.split(key, max(len(leaves), 1))
    raw = [
        jr.normal(k, jnp.shape(x), jnp.result_type(x)) for k, x in zip(keys, leaves, strict=False)
    ]
    d = jax.tree_util.tree_unflatten(treedef, raw)
    return normalize_direction(d, params, normalization=normalization, biases=biases)


def flatten(params: Params) -> tuple[Array, object]:
    """`ravel_pytree` re-exported: `(vector, unravel)`."""
    return ravel_pytree(params)
