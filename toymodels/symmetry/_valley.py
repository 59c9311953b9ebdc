r"""Equal-loss valleys: the explicit piecewise-linear path that swaps two neurons through a
spare zero-type neuron. (Losses along a stacked path: `toymodels.landscape.trajectory_values`;
straight lines and their barriers: `toymodels.landscape.interpolate` and
`toymodels.landscape.barrier_height`.)

With a zero-type neuron $s$ ($a_s = 0$) the path from $\theta$ to $\theta$ with neurons
$i \leftrightarrow j$ swapped has seven linear legs, each leaving the network function
unchanged (so the loss is constant up to rounding):

1. $\tilde w_s \to \tilde w_i$ (free: $s$ is silent);
2. $a_s: 0 \to a_i$, $a_i: a_i \to 0$ (the copies have equal incoming weights);
3. $\tilde w_i \to \tilde w_j$ ($i$ is now silent);
4. $a_i: 0 \to a_j$, $a_j \to 0$;
5. $\tilde w_j \to \tilde w_s$ (= old $\tilde w_i$);
6. $a_j: 0 \to a_s$, $a_s \to 0$;
7. $\tilde w_s \to$ its original value.

This is Brea et al.'s (2019) equal-loss valley; at a global minimum of a teacher–student
problem it is a zero-loss path between permuted minima.
"""

import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Params
from ._neurons import _check_neuron, check_mlp, width


def _stack(points):
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *points)


def _leg_incoming(p, layer, k, target, alphas):
    lay = p[layer]
    start = {key: v[k] for key, v in lay.items()}
    pts = []
    for a in alphas:
        new = {key: v.at[k].set((1 - a) * start[key] + a * target[key]) for key, v in lay.items()}
        q = list(p)
        q[layer] = new
        pts.append(tuple(q))
    return pts


def _leg_transfer(p, layer, src, dst, alphas):
    nxt = p[layer + 1]
    w = nxt["w"]
    asrc, adst = w[:, src], w[:, dst]
    pts = []
    for a in alphas:
        nw = w.at[:, src].set((1 - a) * asrc).at[:, dst].set(adst + a * asrc)
        q = list(p)
        q[layer + 1] = {**nxt, "w": nw}
        pts.append(tuple(q))
    return pts


def valley_path(
    params: Params, i: int, j: int, *, spare: int, layer: int = 0, num: int = 21
) -> Params:
    """The seven-leg equal-loss path (module docs) from `params` to `params` with neurons
    `i` and `j` of hidden layer `layer` swapped, through the zero-type neuron `spare`
    (its outgoing weights must be exactly 0). Returns the stacked params (leading axis:
    `7 * num` points, `num` per leg, both ends included); the last point equals
    `permute_neurons(params, perm)` with `perm` the transposition (i j)."""
    check_mlp("params", params, layer=layer)
    n = width(params, layer=layer)
    i = _check_neuron("i", i, n)
    j = _check_neuron("j", j, n)
    s = _check_neuron("spare", spare, n)
    if len({i, j, s}) != 3:
        raise ValueError(
            f"spare: i, j and spare must be three different neurons, got {i}, {j}, {s}"
        )
    if np.any(np.asarray(params[layer + 1]["w"][:, s]) != 0):
        raise ValueError(f"spare: neuron {s} is not zero-type (its outgoing weights are not 0)")
    if int(num) < 2:
        raise ValueError(f"num: need at least 2 points per leg, got {num}")
    alphas = np.linspace(0.0, 1.0, int(num))
    lay = params[layer]
    w_i = {k: v[i] for k, v in lay.items()}
    w_j = {k: v[j] for k, v in lay.items()}
    w_s = {k: v[s] for k, v in lay.items()}
    pts = []
    p = params
    for kind, args in (
        ("in", (s, w_i)),
        ("out", (i, s)),
        ("in", (i, w_j)),
        ("out", (j, i)),
        ("in", (j, w_i)),
        ("out", (s, j)),
        ("in", (s, w_s)),
    ):
        leg = (
            _leg_incoming(p, layer, *args, alphas)
            if kind == "in"
            else _leg_transfer(p, layer, *args, alphas)
        )
        pts += leg
        p = leg[-1]
    return _stack(pts)


def transposition(n: int, i: int, j: int) -> np.ndarray:
    """The permutation of 0..n-1 that swaps `i` and `j`."""
    perm = np.arange(n)
    perm[[i, j]] = perm[[j, i]]
    return perm
