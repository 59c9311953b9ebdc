r"""The channel coordinates of a neuron pair and their inverse (Martinelli et al. 2025, Eq. 3),
the jump procedure, the channel flow, and the paper's three detection criteria.

For neurons $i, j$ of a hidden layer with augmented incoming weights $\tilde w_{i,j}$
(bias appended, see `toymodels.symmetry.incoming`) and outgoing weights $a_{i,j}$:

$$w = \tfrac12(\tilde w_i+\tilde w_j),\quad \varepsilon = \tfrac12\lVert\tilde w_i-\tilde w_j\rVert,
\quad \Delta = \frac{\tilde w_i-\tilde w_j}{\lVert\tilde w_i-\tilde w_j\rVert},\quad
a = \varepsilon(a_i - a_j),\quad c = a_i + a_j,$$

and back: $\tilde w_{i,j} = w\pm\varepsilon\Delta$, $a_{i,j} = c/2 \pm a/(2\varepsilon)$.
As $\varepsilon\to0$ at fixed $(w, \Delta, a, c)$ the pair computes the gated linear unit
$c\,\sigma(w\cdot x) + (a\Delta\cdot x)\,\sigma'(w\cdot x)$.
"""

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..._custom_types import Params
from ...symmetry import check_mlp, incoming, outgoing, width
from ...symmetry._neurons import _check_neuron


class ChannelCoords(eqx.Module):
    """Channel coordinates `(w, eps, delta, a, c)` of a neuron pair (module docs); `a` and `c`
    have one entry per network output."""

    w: Float[Array, " d"]
    eps: Float[Array, ""]
    delta: Float[Array, " d"]
    a: Float[Array, " out"]
    c: Float[Array, " out"]


def _pair(params, i, j, layer):
    check_mlp("params", params, layer=layer)
    n = width(params, layer=layer)
    i = _check_neuron("i", i, n)
    j = _check_neuron("j", j, n)
    if i == j:
        raise ValueError("j: must differ from i")
    return i, j


def to_channel(params: Params, i: int, j: int, *, layer: int = 0) -> ChannelCoords:
    """Channel coordinates of neurons `i`, `j` (their incoming weights must differ)."""
    i, j = _pair(params, i, j, layer)
    wi, wj = incoming(params, i, layer=layer), incoming(params, j, layer=layer)
    ai, aj = outgoing(params, i, layer=layer), outgoing(params, j, layer=layer)
    diff = wi - wj
    norm = jnp.linalg.norm(diff)
    if float(norm) == 0.0:
        raise ValueError(f"j: neurons {i} and {j} have equal incoming weights (ε = 0)")
    eps = 0.5 * norm
    return ChannelCoords(
        w=0.5 * (wi + wj), eps=eps, delta=diff / norm, a=eps * (ai - aj), c=ai + aj
    )


def from_channel(
    params: Params, coords: ChannelCoords, i: int, j: int, *, layer: int = 0
) -> Params:
    """Replace neurons `i`, `j` of `params` by the pair with channel coordinates `coords`
    (inverse of `to_channel`)."""
    i, j = _pair(params, i, j, layer)
    eps = float(coords.eps)
    if not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"coords: eps must be finite and > 0, got {eps}")
    wi = coords.w + coords.eps * coords.delta
    wj = coords.w - coords.eps * coords.delta
    ai = coords.c / 2 + coords.a / (2 * coords.eps)
    aj = coords.c / 2 - coords.a / (2 * coords.eps)
    lay = params[layer]
    fan = lay["w"].shape[1]
    new = {"w": lay["w"].at[i].set(wi[:fan]).at[j].set(wj[:fan])}
    if "b" in lay:
        new["b"] = lay["b"].at[i].set(wi[fan]).at[j].set(wj[fan])
    nxt = dict(params[layer + 1])
    nxt["w"] = nxt["w"].at[:, i].set(ai).at[:, j].set(aj)
    out = list(params)
    out[layer], out[layer + 1] = new, nxt
    return tuple(out)


def jump(params: Params, i: int, j: int, *, factor: float = 0.5, layer: int = 0) -> Params:
    """The jump procedure (App. C.1): map to channel coordinates, multiply ε by `factor`
    keeping `(w, delta, a, c)`, map back."""
    if not 0.0 < float(factor) < 1.0:
        raise ValueError(f"factor: must be in (0, 1), got {factor}")
    co = to_channel(params, i, j, layer=layer)
    return from_channel(
        params, eqx.tree_at(lambda c: c.eps, co, co.eps * factor), i, j, layer=layer
    )


def weightnorm(params: Params) -> Float[Array, ""]:
    r"""MLPGradientFlow's weight norm $\sum\theta^2/(2\,\#\theta)$."""
    x, _ = jax.flatten_util.ravel_pytree(params)
    return jnp.sum(x**2) / (2 * x.size)


class ChannelDetection(eqx.Module):
    """Output of `detect_channel`: the three criteria's values (`weightnorm`,
    `cosine_distance` of the closest pair, `update_fraction` on that pair), the `pair`
    `(i, j)`, and `is_channel` (all three criteria met)."""

    weightnorm: float
    cosine_distance: float
    update_fraction: float
    pair: tuple[int, int]
    is_channel: bool


def detect_channel(
    params: Params,
    update: Params,
    *,
    layer: int = 0,
    norm_threshold: float = 1e3,
    cosine_threshold: float = 1e-3,
    fraction_threshold: float = 0.9,
) -> ChannelDetection:
    r"""The paper's three channel criteria at `params` with the latest parameter `update`
    (e.g. the last step of a flow): (i) `weightnorm > norm_threshold`; (ii) the smallest
    cosine distance $1 - \cos(\tilde w_i, \tilde w_j)$ between two neurons of `layer` below
    `cosine_threshold`; (iii) more than `fraction_threshold` of the update's squared norm on
    the coordinates of that pair (incoming and outgoing weights; our reading of "updates
    inside the channel subspace"). Returns a `ChannelDetection`."""
    check_mlp("params", params, layer=layer)
    n = width(params, layer=layer)
    if n < 2:
        raise ValueError("params: the layer needs at least two neurons")
    W = jnp.stack([incoming(params, k, layer=layer) for k in range(n)])
    Wn = W / jnp.linalg.norm(W, axis=1, keepdims=True)
    cosd = 1.0 - Wn @ Wn.T
    cosd = cosd + jnp.diag(jnp.full((n,), jnp.inf, cosd.dtype))
    k = int(jnp.argmin(cosd))
    i, j = divmod(k, n)
    mask = jax.tree_util.tree_map(jnp.zeros_like, params)
    mask = list(mask)
    mask[layer] = {key: v.at[jnp.array([i, j])].set(1.0) for key, v in mask[layer].items()}
    mask[layer + 1] = dict(mask[layer + 1])
    mask[layer + 1]["w"] = mask[layer + 1]["w"].at[:, jnp.array([i, j])].set(1.0)
    m, _ = jax.flatten_util.ravel_pytree(tuple(mask))
    u, _ = jax.flatten_util.ravel_pytree(update)
    frac = jnp.sum((m * u) ** 2) / jnp.sum(u**2)
    wn = weightnorm(params)
    wn, cd, fr = float(wn), float(cosd[i, j]), float(frac)
    return ChannelDetection(
        weightnorm=wn,
        cosine_distance=cd,
        update_fraction=fr,
        pair=(int(i), int(j)),
        is_channel=bool(wn > norm_threshold and cd < cosine_threshold and fr > fraction_threshold),
    )
