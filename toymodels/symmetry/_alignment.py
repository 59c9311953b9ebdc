r"""Permutation alignment by weight matching (Ainsworth, Hayase & Srinivasa 2023), layer by
layer for any depth, with a linear-assignment solver (Hungarian algorithm) in NumPy.

For MLP params $\theta_A, \theta_B$ of equal shapes, find permutations $P_\ell$ of the hidden
layers that maximise $\sum_\ell \langle W^A_\ell,\, P_\ell W^B_\ell P_{\ell-1}^\top\rangle$
(biases included with their layer). For one hidden layer the problem is a single linear
assignment; deeper nets are solved by coordinate ascent over layers until no permutation
changes.
"""

import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, Int

from .._custom_types import Params
from ._neurons import check_mlp, permute_neurons


def linear_assignment(cost: ArrayLike, *, maximize: bool = False) -> Int[np.ndarray, " n"]:
    r"""Solve the square linear assignment problem: the permutation $\pi$ minimising (or
    maximising) $\sum_k C_{k,\pi(k)}$. Returns `cols` with `cols[k] = π(k)`.

    Hungarian algorithm with potentials (Jonker–Volgenant style shortest augmenting paths),
    $O(n^3)$, pure NumPy (agrees with `scipy.optimize.linear_sum_assignment`)."""
    c = np.array(cost, dtype=float)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"cost: expected a square matrix, got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError("cost: contains non-finite values")
    if maximize:
        c = -c
    n = c.shape[0]
    INF = np.inf
    u = np.zeros(n + 1)
    v = np.zeros(n + 1)
    p = np.zeros(n + 1, dtype=int)  # p[j]: row matched to column j (1-based), 0 = none
    way = np.zeros(n + 1, dtype=int)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(n + 1, INF)
        used = np.zeros(n + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            free = ~used[1:]
            cur = c[i0 - 1, :] - u[i0] - v[1:]
            upd = free & (cur < minv[1:])
            minv[1:][upd] = cur[upd]
            way[1:][upd] = j0
            cand = np.where(free, minv[1:], INF)
            j1 = int(np.argmin(cand)) + 1
            delta = cand[j1 - 1]
            u[p[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    cols = np.zeros(n, dtype=int)
    for j in range(1, n + 1):
        cols[p[j] - 1] = j - 1
    return cols


def _rows(layer: dict) -> np.ndarray:
    w = np.asarray(layer["w"], dtype=float)
    if "b" in layer:
        return np.concatenate([w, np.asarray(layer["b"], dtype=float)[:, None]], axis=1)
    return w


def apply_permutations(params: Params, perms) -> Params:
    """Permute every hidden layer `l` of `params` by `perms[l]` (see `permute_neurons`)."""
    n = check_mlp("params", params)
    if len(perms) != n - 1:
        raise ValueError(
            f"perms: expected {n - 1} permutations (one per hidden layer), got {len(perms)}"
        )
    out = params
    for layer, p in enumerate(perms):
        out = permute_neurons(out, p, layer=layer)
    return out


def weight_matching(
    params_a: Params, params_b: Params, *, max_sweeps: int = 100
) -> list[np.ndarray]:
    r"""Permutations of `params_b`'s hidden layers that align it to `params_a` by weight
    matching; `apply_permutations(params_b, perms)` is the aligned copy (same function as
    `params_b`). For layer $\ell$ the assignment maximises
    $\langle W^A_\ell, W^B_\ell P_{\ell-1}^\top\rangle_{\text{rows}} +
    \langle W^A_{\ell+1}, P_{\ell+1} W^B_{\ell+1}\rangle_{\text{cols}}$ given the neighbours'
    permutations; sweeps repeat until nothing changes (one sweep for one hidden layer)."""
    n = check_mlp("params_a", params_a)
    nb = check_mlp("params_b", params_b)
    if n != nb or any(
        jnp.shape(x["w"]) != jnp.shape(y["w"]) or set(x) != set(y)
        for x, y in zip(params_a, params_b)
    ):
        raise ValueError("params_b: must have the same layer shapes as params_a")
    if int(max_sweeps) < 1:
        raise ValueError(f"max_sweeps: must be >= 1, got {max_sweeps}")
    widths = [int(jnp.shape(lay["w"])[0]) for lay in params_a[:-1]]
    perms = [np.arange(w) for w in widths]
    for _ in range(int(max_sweeps)):
        changed = False
        for layer in range(n - 1):
            ra = _rows(params_a[layer])
            rb = _rows(params_b[layer])
            if layer > 0:  # permute the inputs of layer `layer` by the previous perm
                prev = perms[layer - 1]
                fan = np.asarray(params_b[layer]["w"]).shape[1]
                rb = rb.copy()
                rb[:, :fan] = rb[:, prev]
            score = ra @ rb.T
            nxt_a = np.asarray(params_a[layer + 1]["w"], dtype=float)
            nxt_b = np.asarray(params_b[layer + 1]["w"], dtype=float)
            if layer + 1 < n - 1:
                nxt_b = nxt_b[perms[layer + 1]]
            score = score + nxt_a.T @ nxt_b
            new = linear_assignment(score, maximize=True)
            if not np.array_equal(new, perms[layer]):
                perms[layer] = new
                changed = True
        if not changed or n == 2:
            break
    return perms
