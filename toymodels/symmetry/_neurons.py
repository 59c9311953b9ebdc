r"""Neuron operations on MLP params: permute, split (duplicate with ratio γ), add zero-type
neurons, merge and remove; the Fukumizu–Amari matrix B and the local-minimum segment of the
saddle line.

Params use the package's MLP layout (`toymodels.problems.mlp_init`): a tuple of layers
`{"w": (out, in), "b": (out,)}` (no `"b"` without biases). Hidden layer `layer` (0-based,
`0 <= layer < len(params) - 1`) has `params[layer]["w"].shape[0]` neurons; neuron `i` has
*incoming* weights `params[layer]["w"][i]` (and bias `params[layer]["b"][i]`) and *outgoing*
weights `params[layer + 1]["w"][:, i]`. The incoming vector with the bias appended,
$\tilde w_i = (w_i, b_i)$, is the "augmented" weight of the neuron ($d$ = fan-in, plus 1 with
biases).

**Splitting** (Fukumizu & Amari 2000, Thm 1): neuron $i$ with outgoing weight $a_i$ is
replaced by two copies with the same incoming weights and outgoing weights $\gamma a_i$
(kept at index $i$) and $(1-\gamma)a_i$ (appended as the last neuron of the layer). The
network function is unchanged for every real $\gamma$, so a critical point of width $r$ maps
to a line of critical points of width $r+1$ (the *saddle line*).
"""

import enum
import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import Params


def check_mlp(name: str, params, *, layer: int | None = None) -> int:
    """Validate MLP params (tuple/list of `{"w": (out, in)[, "b": (out,)]}` dicts with
    matching sizes) and, when given, a hidden `layer` index. Returns the number of layers."""
    if not isinstance(params, tuple | list) or len(params) < 1:
        raise TypeError(
            f"{name}: expected MLP params, a tuple of {{'w': (out, in), 'b': (out,)}} dicts, "
            f"got {type(params).__name__}"
        )
    prev = None
    for k, lay in enumerate(params):
        if not isinstance(lay, dict) or "w" not in lay or not set(lay) <= {"w", "b"}:
            raise TypeError(
                f"{name}: layer {k} must be a dict with keys 'w' (and optionally 'b'), got {lay!r}"[
                    :200
                ]
            )
        w = lay["w"]
        if jnp.ndim(w) != 2:
            raise ValueError(f"{name}: layer {k} 'w' must be 2-D (out, in), got {jnp.shape(w)}")
        if "b" in lay and jnp.shape(lay["b"]) != (jnp.shape(w)[0],):
            raise ValueError(
                f"{name}: layer {k} 'b' has shape {jnp.shape(lay['b'])}, expected ({jnp.shape(w)[0]},)"
            )
        if prev is not None and jnp.shape(w)[1] != prev:
            raise ValueError(
                f"{name}: layer {k} has fan-in {jnp.shape(w)[1]} but layer {k - 1} has {prev} outputs"
            )
        prev = jnp.shape(w)[0]
    n = len(params)
    if layer is not None:
        if not isinstance(layer, int | np.integer) or not 0 <= int(layer) < n - 1:
            raise ValueError(
                f"layer: must be a hidden-layer index in 0..{n - 2} (the params have {n} layers), "
                f"got {layer!r}"
            )
    return n


def _check_neuron(name: str, i, width: int) -> int:
    if not isinstance(i, int | np.integer) or isinstance(i, bool):
        raise TypeError(f"{name}: expected an integer neuron index, got {i!r}")
    if not -width <= int(i) < width:
        raise ValueError(f"{name}: neuron index {i} out of range for a layer of {width} neurons")
    return int(i) % width


def _check_gamma(gamma) -> None:
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        if isinstance(gamma, jax.core.Tracer):
            return
        raise TypeError(f"gamma: expected a real number, got {gamma!r}") from None
    if not math.isfinite(g):
        raise ValueError(f"gamma: must be finite, got {gamma!r}")


def width(params: Params, *, layer: int = 0) -> int:
    """Number of neurons in hidden layer `layer`."""
    check_mlp("params", params, layer=layer)
    return int(jnp.shape(params[layer]["w"])[0])


def incoming(params: Params, i: int, *, layer: int = 0) -> Float[Array, " d"]:
    r"""Augmented incoming weight $\tilde w_i = (w_i, b_i)$ of neuron `i` (bias last, when the
    layer has one)."""
    check_mlp("params", params, layer=layer)
    i = _check_neuron("i", i, width(params, layer=layer))
    lay = params[layer]
    if "b" in lay:
        return jnp.concatenate([lay["w"][i], lay["b"][i : i + 1]])
    return lay["w"][i]


def outgoing(params: Params, i: int, *, layer: int = 0) -> Float[Array, " out"]:
    """Outgoing weights of neuron `i` (a column of the next layer's `w`)."""
    check_mlp("params", params, layer=layer)
    i = _check_neuron("i", i, width(params, layer=layer))
    return params[layer + 1]["w"][:, i]


def _replace(params, layer, new_in, new_out):
    out = list(params)
    out[layer] = new_in
    out[layer + 1] = new_out
    return tuple(out)


def permute_neurons(params: Params, perm: ArrayLike, *, layer: int = 0) -> Params:
    r"""Reorder the neurons of hidden layer `layer`: new neuron `k` is old neuron `perm[k]`
    (incoming rows, biases and outgoing columns together). The network function is
    unchanged."""
    check_mlp("params", params, layer=layer)
    n = width(params, layer=layer)
    p = np.asarray(perm)
    if (
        p.shape != (n,)
        or not np.issubdtype(p.dtype, np.integer)
        or sorted(p.tolist()) != list(range(n))
    ):
        raise ValueError(f"perm: expected a permutation of 0..{n - 1}, got {perm!r}")
    lay, nxt = params[layer], params[layer + 1]
    new_in = {k: v[p] for k, v in lay.items()}
    new_out = dict(nxt)
    new_out["w"] = nxt["w"][:, p]
    return _replace(params, layer, new_in, new_out)


def split_neuron(params: Params, i: int, gamma: float, *, layer: int = 0) -> Params:
    r"""Fukumizu–Amari split: duplicate neuron `i`, give outgoing weight $\gamma a_i$ to the
    original (index `i`) and $(1-\gamma)a_i$ to the copy (appended last). Any real $\gamma$
    (the copies have opposite-sign outgoing weights outside $[0, 1]$)."""
    check_mlp("params", params, layer=layer)
    i = _check_neuron("i", i, width(params, layer=layer))
    _check_gamma(gamma)
    lay, nxt = params[layer], params[layer + 1]
    new_in = {k: jnp.concatenate([v, v[i : i + 1]], axis=0) for k, v in lay.items()}
    a = nxt["w"][:, i]
    w_out = nxt["w"].at[:, i].set(gamma * a)
    new_out = dict(nxt)
    new_out["w"] = jnp.concatenate([w_out, ((1.0 - gamma) * a)[:, None]], axis=1)
    return _replace(params, layer, new_in, new_out)


def add_zero_neurons(
    params: Params, w: ArrayLike, b: ArrayLike | None = None, *, layer: int = 0
) -> Params:
    r"""Append zero-type neurons (outgoing weight 0) with incoming weights `w` `(k, fan_in)`
    (and biases `b` `(k,)` when the layer has biases; zeros if omitted). Their incoming
    weights are free: the network function does not depend on them."""
    check_mlp("params", params, layer=layer)
    lay, nxt = params[layer], params[layer + 1]
    dtype = lay["w"].dtype
    w = jnp.asarray(w, dtype)
    if w.ndim == 1:
        w = w[None]
    if w.ndim != 2 or w.shape[1] != lay["w"].shape[1]:
        raise ValueError(f"w: expected shape (k, {lay['w'].shape[1]}), got {w.shape}")
    k = w.shape[0]
    new_in = {"w": jnp.concatenate([lay["w"], w], axis=0)}
    if "b" in lay:
        b = jnp.zeros((k,), dtype) if b is None else jnp.asarray(b, dtype).reshape(-1)
        if b.shape != (k,):
            raise ValueError(f"b: expected shape ({k},), got {b.shape}")
        new_in["b"] = jnp.concatenate([lay["b"], b])
    elif b is not None:
        raise ValueError("b: this layer has no biases")
    new_out = dict(nxt)
    new_out["w"] = jnp.concatenate([nxt["w"], jnp.zeros((nxt["w"].shape[0], k), dtype)], axis=1)
    return _replace(params, layer, new_in, new_out)


def remove_neurons(params: Params, idx: Sequence[int], *, layer: int = 0) -> Params:
    """Delete neurons `idx` of hidden layer `layer` (their outgoing weights are dropped: the
    function is unchanged only for zero-type neurons; see `merge_neurons`)."""
    check_mlp("params", params, layer=layer)
    n = width(params, layer=layer)
    drop = {_check_neuron("idx", i, n) for i in idx}
    if len(drop) >= n:
        raise ValueError("idx: cannot remove every neuron of the layer")
    keep = np.array([k for k in range(n) if k not in drop])
    lay, nxt = params[layer], params[layer + 1]
    new_in = {k: v[keep] for k, v in lay.items()}
    new_out = dict(nxt)
    new_out["w"] = nxt["w"][:, keep]
    return _replace(params, layer, new_in, new_out)


def merge_neurons(params: Params, i: int, j: int, *, layer: int = 0, atol: float = 1e-8) -> Params:
    r"""Merge duplicate neurons: `j` must have the same incoming weights as `i` (within
    `atol`); its outgoing weight is added to `i`'s and `j` is removed. Inverse of
    `split_neuron(params, i, γ)` (with `j` the appended copy) for every γ."""
    check_mlp("params", params, layer=layer)
    n = width(params, layer=layer)
    i = _check_neuron("i", i, n)
    j = _check_neuron("j", j, n)
    if i == j:
        raise ValueError("j: must differ from i")
    wi, wj = (
        np.asarray(incoming(params, i, layer=layer)),
        np.asarray(incoming(params, j, layer=layer)),
    )
    gap = float(np.max(np.abs(wi - wj)))
    if not gap <= atol:
        raise ValueError(
            f"j: neurons {i} and {j} have different incoming weights (max gap {gap:.3g} > atol)"
        )
    nxt = dict(params[layer + 1])
    nxt["w"] = nxt["w"].at[:, i].add(nxt["w"][:, j])
    merged = _replace(params, layer, params[layer], nxt)
    return remove_neurons(merged, [j], layer=layer)


def saddle_line_direction(
    params: Params, i: int, gamma: float, xi: ArrayLike, *, layer: int = 0
) -> Params:
    r"""The direction $v$ at the split point $\theta_\gamma$ (= `split_neuron(params, i,
    gamma)` of the *unsplit* `params`) that moves the two copies' augmented incoming weights
    oppositely: $\delta\tilde w_i = (1-\gamma)\xi$, $\delta\tilde w_\text{new} = -\gamma\xi$,
    everything else 0. Along it the function changes only at second order and

    $$v^\top H(\theta_\gamma)\,v = \gamma(1-\gamma)\,\xi^\top B\,\xi$$

    with $B$ from `fukumizu_amari_matrix`. Returns a pytree like the split params."""
    check_mlp("params", params, layer=layer)
    n = width(params, layer=layer)
    i = _check_neuron("i", i, n)
    _check_gamma(gamma)
    lay = params[layer]
    d = lay["w"].shape[1] + ("b" in lay)
    xi = jnp.asarray(xi, lay["w"].dtype)
    if xi.shape != (d,):
        raise ValueError(
            f"xi: expected shape ({d},) (fan-in{' + bias' if 'b' in lay else ''}), got {xi.shape}"
        )
    split = split_neuron(params, i, gamma, layer=layer)
    v = jax.tree_util.tree_map(jnp.zeros_like, split)
    dw = jnp.zeros_like(split[layer]["w"])
    dw = (
        dw.at[i]
        .set((1.0 - gamma) * xi[: lay["w"].shape[1]])
        .at[n]
        .set(-gamma * xi[: lay["w"].shape[1]])
    )
    new = {"w": dw}
    if "b" in lay:
        db = (
            jnp.zeros_like(split[layer]["b"])
            .at[i]
            .set((1.0 - gamma) * xi[-1])
            .at[n]
            .set(-gamma * xi[-1])
        )
        new["b"] = db
    v = list(v)
    v[layer] = new
    return tuple(v)


def fukumizu_amari_matrix(
    problem, params: Params, i: int, *, layer: int = 0
) -> Float[Array, "d d"]:
    r"""The Fukumizu–Amari stability matrix of neuron `i`,

    $$B = \Big\langle \textstyle\sum_o a_{io}\,\partial\ell/\partial f_o\;
    \sigma''(\tilde w_i\cdot\tilde x)\;\tilde x\tilde x^\top\Big\rangle$$

    ($d\times d$ over the augmented input $\tilde x = (x, 1)$ of the layer), in the loss
    convention of `problem` (e.g. $\partial\ell/\partial f = f - y$ for the package's
    default ½-MSE, $2(f-y)$ for $\ell = (f-y)^2$).

    Computed for any problem and depth by automatic differentiation: split neuron `i` at
    $\gamma = \tfrac12$ and move the copies' incoming weights by $\pm\eta$; the function
    changes by $\tfrac12 a\sigma''(\eta\cdot\tilde x)^2 + O(\eta^4)$, so the Hessian of the
    loss in $\eta$ at 0 is exactly $B$. (`params` should be a critical point for $B$ to
    decide stability; the matrix itself is defined anywhere.)"""
    check_mlp("params", params, layer=layer)
    n = width(params, layer=layer)
    i = _check_neuron("i", i, n)
    split = split_neuron(params, i, 0.5, layer=layer)
    return _fa_hessian(problem, split, i, n, layer)


@eqx.filter_jit
def _fa_hessian(problem, split, i, n, layer):
    lay = split[layer]
    fan_in = lay["w"].shape[1]
    has_b = "b" in lay

    def moved(eta):
        new = {"w": lay["w"].at[i].add(eta[:fan_in]).at[n].add(-eta[:fan_in])}
        if has_b:
            new["b"] = lay["b"].at[i].add(eta[-1]).at[n].add(-eta[-1])
        p = list(split)
        p[layer] = new
        return problem.loss(tuple(p))

    d = fan_in + has_b
    return jax.hessian(moved)(jnp.zeros((d,), lay["w"].dtype))


class MinimaSegment(enum.Enum):
    """Where the saddle line $\\theta_\\gamma$ of a strict local minimum holds local minima
    (Fukumizu & Amari Thm 3): `INSIDE` for $\\gamma\\in(0,1)$ ($B$ positive definite),
    `OUTSIDE` for $\\gamma\\notin[0,1]$ ($B$ negative definite), `NONE` when $B$ is indefinite
    (every point of the line is then a strict saddle)."""

    INSIDE = "inside"
    OUTSIDE = "outside"
    NONE = "none"

    def contains(self, gamma: float) -> bool:
        """Whether γ lies in the segment of local minima."""
        g = float(gamma)
        if self is MinimaSegment.INSIDE:
            return 0.0 < g < 1.0
        if self is MinimaSegment.OUTSIDE:
            return g < 0.0 or g > 1.0
        return False


def minima_segment(B: ArrayLike, *, rtol: float = 1e-10) -> MinimaSegment:
    """Classify the saddle line by the signs of the eigenvalues of the symmetric `B`
    (eigenvalues within `rtol`·max|λ| of 0 count as neither sign, giving `NONE`)."""
    B = np.asarray(B, dtype=float)
    if B.ndim != 2 or B.shape[0] != B.shape[1]:
        raise ValueError(f"B: expected a square matrix, got shape {B.shape}")
    if not np.all(np.isfinite(B)):
        raise ValueError("B: contains non-finite values")
    ev = np.linalg.eigvalsh(0.5 * (B + B.T))
    tol = rtol * max(np.max(np.abs(ev)), np.finfo(float).tiny)
    if np.all(ev > tol):
        return MinimaSegment.INSIDE
    if np.all(ev < -tol):
        return MinimaSegment.OUTSIDE
    return MinimaSegment.NONE


def line_curvature(B: ArrayLike, gamma: ArrayLike, xi: ArrayLike) -> Array:
    r"""Predicted curvature $\gamma(1-\gamma)\,\xi^\top B\xi$ along `saddle_line_direction`."""
    B = jnp.asarray(B)
    xi = jnp.asarray(xi, B.dtype)
    g = jnp.asarray(gamma, B.dtype)
    return g * (1.0 - g) * (xi @ B @ xi)


def flat_vector(params: Params) -> Float[Array, " p"]:
    """`ravel_pytree(params)[0]` (the landscape coordinates)."""
    return jax.flatten_util.ravel_pytree(params)[0]


class NeuronMatch(eqx.Module):
    """A student network read neuron by neuron as its teacher (`match_neurons`).

    - `gap`: (student, teacher) largest absolute difference of augmented incoming weights.
    - `teacher_index`: for each student neuron, the teacher neuron within `atol` of it, or
      −1 when it is near none (a zero-type or otherwise unmatched neuron).
    - `nearest`: for each teacher neuron, the closest student neuron (by `gap`).
    - `outgoing_sum`: (teacher, out) summed outgoing weights of the student neurons matched
      to each teacher neuron (a duplicated neuron splits its teacher's weight, Fukumizu &
      Amari; the sum is the teacher's at a global minimum).
    - `unmatched_outgoing`: summed |outgoing weight| of the unmatched student neurons (0 for
      zero-type neurons at a global minimum, Şimşek et al. 2021).
    """

    gap: np.ndarray
    teacher_index: np.ndarray
    nearest: np.ndarray
    outgoing_sum: np.ndarray
    unmatched_outgoing: float


def _augmented(params, layer):
    lay = params[layer]
    w = np.asarray(lay["w"], dtype=np.float64)
    return np.concatenate([w, np.asarray(lay["b"])[:, None]], 1) if "b" in lay else w


def match_neurons(student: Params, teacher: Params, *, layer: int = 0, atol: float = 1e-6):
    """Match the hidden neurons of `student` (layer `layer`) to the teacher's by their
    augmented incoming weights (NumPy, on the host): a student neuron belongs to a teacher
    neuron when every incoming weight and the bias agree within `atol`. Both nets must have
    the same fan-in, bias layout and output size. Returns a `NeuronMatch`."""
    check_mlp("student", student, layer=layer)
    check_mlp("teacher", teacher, layer=layer)
    if not (isinstance(atol, int | float) and math.isfinite(atol) and atol > 0):
        raise ValueError(f"atol: must be finite and > 0, got {atol!r}")
    ws, wt = _augmented(student, layer), _augmented(teacher, layer)
    out_s = np.asarray(student[layer + 1]["w"], dtype=np.float64)
    out_t = np.asarray(teacher[layer + 1]["w"])
    if ws.shape[1] != wt.shape[1] or out_s.shape[0] != out_t.shape[0]:
        raise ValueError(
            f"teacher: fan-in/bias {wt.shape[1]} and outputs {out_t.shape[0]} must match the "
            f"student's {ws.shape[1]} and {out_s.shape[0]}"
        )
    gap = np.max(np.abs(ws[:, None, :] - wt[None, :, :]), axis=2)
    near = gap < atol
    index = np.where(near.any(axis=1), np.argmin(gap, axis=1), -1)
    sums = np.stack([out_s[:, index == k].sum(axis=1) for k in range(wt.shape[0])])
    return NeuronMatch(
        gap=gap,
        teacher_index=index,
        nearest=np.argmin(gap, axis=0),
        outgoing_sum=sums,
        unmatched_outgoing=float(np.sum(np.abs(out_s[:, index < 0]))),
    )
