r"""Permutation alignment by weight matching (Ainsworth, Hayase & Srinivasa 2023) for any
params pytree described by a permutation spec, with SciPy's linear-assignment solver.

A `PermutationSpec` names, for every weight of the params, the permutation acting on each of
its axes (`None`: not permuted). Hidden units are interchangeable when every weight that
reads or writes them is permuted consistently: the rows (axis 0) of a dense or convolutional
layer's weight and bias with the permutation $P_\ell$ of its outputs, the input axis (axis 1)
of the next layer's weight with the same $P_\ell$. Weight matching finds the permutations of
`params_b` that maximise the total inner product with `params_a`,

$$\max_{\{P\}} \sum_{w}\,\big\langle w^A,\; \pi_{\{P\}}(w^B)\big\rangle,$$

by coordinate ascent: for one permutation $P$ with the others fixed the objective is linear
in $P$, $\langle C, P\rangle$ with $C = \sum_{(w,\,\text{axis})} w^A_{(\text{axis})}
\pi(w^B)_{(\text{axis})}^\top$ (each weight flattened to (units, rest) along the axis $P$
acts on), a linear assignment solved by `scipy.optimize.linear_sum_assignment`. Sweeps over
the permutations (in the spec's order) repeat until none improves the objective. One
permutation (a single hidden layer) is solved exactly in one step.

The package's MLP layout (a tuple of `{"w": (out, in), "b": (out,)}` layers) is the default
(`spec=None`), with one permutation per hidden layer.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import numpy as np
from jaxtyping import ArrayLike, Int
from scipy.optimize import linear_sum_assignment

from .._custom_types import Params
from ._neurons import check_mlp, permute_neurons


def linear_assignment(cost: ArrayLike, *, maximize: bool = False) -> Int[np.ndarray, " n"]:
    r"""Solve the square linear assignment problem: the permutation $\pi$ minimising (or
    maximising) $\sum_k C_{k,\pi(k)}$. Returns `cols` with `cols[k] = π(k)`
    (`scipy.optimize.linear_sum_assignment`)."""
    c = np.array(cost, dtype=float)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"cost: expected a square matrix, got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError("cost: contains non-finite values")
    rows, cols = linear_sum_assignment(c, maximize=maximize)
    out = np.empty(c.shape[0], dtype=int)
    out[rows] = cols
    return out


class PermutationSpec(eqx.Module):
    r"""Which permutation acts on which axis of every weight: `axes` maps each leaf's path
    (`jax.tree_util.keystr` of its key path, e.g. `"[0]['w']"` or `".conv1.weight"`) to a
    tuple with one entry per axis, a permutation name or `None`.

    A two-layer convolutional net, `conv` then `linear` on the pooled channels:

    ```python
    PermutationSpec({".conv.weight": ("c", None, None, None), ".conv.bias": ("c", None, None),
                     ".linear.weight": (None, "c"), ".linear.bias": (None,)})
    ```

    `chain_permutation_spec` builds it for a chain of dense/convolutional layers. Every leaf
    of the params must be listed (a leaf without permuted axes as a tuple of `None`s)."""

    axes: tuple[tuple[str, tuple[str | None, ...]], ...] = eqx.field(static=True)

    def __init__(self, axes: Mapping[str, Sequence[str | None]]):
        if not isinstance(axes, Mapping) or not axes:
            raise TypeError(
                "axes: expected a non-empty mapping {leaf path: (permutation name or None, ...)}"
            )
        items = []
        for path, names in axes.items():
            if not isinstance(path, str):
                raise TypeError(f"axes: keys must be leaf paths (str), got {path!r}")
            if isinstance(names, str) or not isinstance(names, Sequence):
                raise TypeError(
                    f"axes: {path!r} must map to a tuple with one entry per axis, got {names!r}"
                )
            names = tuple(names)
            if not all(n is None or isinstance(n, str) for n in names):
                raise TypeError(f"axes: {path!r} entries must be permutation names or None")
            items.append((path, names))
        if not any(n is not None for _, names in items for n in names):
            raise ValueError("axes: no axis is permuted")
        self.axes = tuple(items)

    @property
    def names(self) -> tuple[str, ...]:
        """The permutation names, in order of first appearance."""
        seen: dict[str, None] = {}
        for _, names in self.axes:
            for n in names:
                if n is not None:
                    seen.setdefault(n, None)
        return tuple(seen)

    def perm_axes(self) -> dict[str, list[tuple[str, int]]]:
        """For each permutation, the `(leaf path, axis)` pairs it acts on."""
        out: dict[str, list[tuple[str, int]]] = {n: [] for n in self.names}
        for path, names in self.axes:
            for axis, n in enumerate(names):
                if n is not None:
                    out[n].append((path, axis))
        return out


def _leaves_by_path(name: str, params: Params) -> dict[str, Any]:
    flat, _ = jax.tree_util.tree_flatten_with_path(params)
    if not flat:
        raise ValueError(f"{name}: empty pytree")
    return {jax.tree_util.keystr(path): leaf for path, leaf in flat}


def _check_spec(spec: PermutationSpec, name: str, params: Params) -> dict[str, int]:
    """`params` against `spec`: the same leaves, one entry per axis, consistent sizes.
    Returns the size of every permutation."""
    if not isinstance(spec, PermutationSpec):
        raise TypeError(f"spec: expected a PermutationSpec, got {type(spec).__name__}")
    leaves = _leaves_by_path(name, params)
    axes = dict(spec.axes)
    missing = [p for p in leaves if p not in axes]
    if missing:
        raise ValueError(
            f"spec: no entry for the {name} leaves {missing} (list every leaf; a tuple of None "
            "for a leaf that is not permuted)"
        )
    extra = [p for p in axes if p not in leaves]
    if extra:
        raise ValueError(
            f"spec: the paths {extra} are not leaves of {name} (paths: {list(leaves)})"
        )
    sizes: dict[str, int] = {}
    for path, names in spec.axes:
        shape = np.shape(leaves[path])
        if len(names) != len(shape):
            raise ValueError(
                f"spec: {path!r} has {len(names)} axis entries but the leaf has shape {shape}"
            )
        for axis, n in enumerate(names):
            if n is None:
                continue
            if sizes.setdefault(n, shape[axis]) != shape[axis]:
                raise ValueError(
                    f"spec: permutation {n!r} acts on axes of sizes {sizes[n]} and {shape[axis]} "
                    f"({path!r} axis {axis})"
                )
    return sizes


def chain_permutation_spec(params: Params, layers: Sequence[str]) -> PermutationSpec:
    r"""The permutation spec of a chain of dense and convolutional layers.

    `layers` are the path prefixes of the layers in order (`keystr` form: `".conv1"`,
    `"['dense_0']"`, `"[0]"`). In each layer the leaf with the most axes is the weight,
    `(out, in, ...)` as in `equinox.nn.Linear`/`Conv` (a kernel size in the trailing axes),
    and the other leaves (biases, `(out,)` or `(out, 1, 1)`) are per output unit. The
    outputs of layer `i` (axis 0 of all its leaves) and the inputs of layer `i + 1` (axis 1 of
    its weight) share the permutation named `layers[i]`; the network's inputs and outputs are
    not permuted. Layers in between that act per channel (activations, pooling over space)
    keep the symmetry; a flatten of a conv output into a dense layer, or a normalisation
    layer with its own parameters, needs a hand-written `PermutationSpec`.
    """
    if isinstance(layers, str) or len(layers) < 2:
        raise ValueError("layers: need at least two layer prefixes (a hidden layer between them)")
    flat, _ = jax.tree_util.tree_flatten_with_path(params)
    if not flat:
        raise ValueError("params: empty pytree")
    owner: dict[str, int] = {}
    for path, _leaf in flat:
        prefixes = {jax.tree_util.keystr(path[:j]) for j in range(1, len(path) + 1)}
        hits = [i for i, lay in enumerate(layers) if lay in prefixes]
        if len(hits) != 1:
            where = "none" if not hits else f"several ({[layers[i] for i in hits]})"
            raise ValueError(
                f"layers: params leaf {jax.tree_util.keystr(path)!r} belongs to {where} of the "
                "layers; give every leaf to one layer or write a PermutationSpec by hand"
            )
        owner[jax.tree_util.keystr(path)] = hits[0]
    shapes = {jax.tree_util.keystr(path): np.shape(leaf) for path, leaf in flat}
    axes: dict[str, tuple[str | None, ...]] = {}
    last = len(layers) - 1
    for i, lay in enumerate(layers):
        paths = [p for p, o in owner.items() if o == i]
        if not paths:
            raise ValueError(f"layers: {lay!r} matches no leaf of params")
        ndims = [len(shapes[p]) for p in paths]
        weight = paths[int(np.argmax(ndims))]
        if len(shapes[weight]) < 2 or ndims.count(max(ndims)) != 1:
            raise ValueError(
                f"layers: {lay!r} has no single weight of shape (out, in, ...) among "
                f"{ {p: shapes[p] for p in paths} }"
            )
        out_name = None if i == last else lay
        in_name = None if i == 0 else layers[i - 1]
        for p in paths:
            rest = (None,) * (len(shapes[p]) - 1)
            axes[p] = (out_name, in_name) + rest[1:] if p == weight else (out_name,) + rest
    return PermutationSpec({p: axes[p] for p in shapes})


def _mlp_spec(params: Params) -> PermutationSpec:
    return chain_permutation_spec(params, [f"[{i}]" for i in range(len(params))])


def _permute(leaf, names, perms):
    for axis, n in enumerate(names):
        if n is not None:
            leaf = leaf[(slice(None),) * axis + (np.asarray(perms[n]),)]
    return leaf


def _check_perms(perms, sizes: dict[str, int]) -> dict[str, np.ndarray]:
    if not isinstance(perms, Mapping) or set(perms) != set(sizes):
        got = sorted(perms) if isinstance(perms, Mapping) else type(perms).__name__
        raise ValueError(f"perms: expected a mapping with the keys {sorted(sizes)}, got {got}")
    out = {}
    for n, size in sizes.items():
        p = np.asarray(perms[n])
        if (
            p.shape != (size,)
            or not np.issubdtype(p.dtype, np.integer)
            or not np.array_equal(np.sort(p), np.arange(size))
        ):
            raise ValueError(f"perms: {n!r} must be a permutation of 0..{size - 1}, got {p!r}")
        out[n] = p
    return out


def apply_permutations(params: Params, perms, *, spec: PermutationSpec | None = None) -> Params:
    """`params` with its units permuted (the same network function).

    Without `spec` (the MLP layout): hidden layer `l` permuted by `perms[l]` (see
    `permute_neurons`). With a `PermutationSpec`: `perms` maps each permutation name to an
    index array, and every axis named `n` is reindexed by `perms[n]` (new unit `k` is old unit
    `perms[n][k]`)."""
    if spec is None:
        n = check_mlp("params", params)
        if len(perms) != n - 1:
            raise ValueError(
                f"perms: expected {n - 1} permutations (one per hidden layer), got {len(perms)}"
            )
        out = params
        for layer, p in enumerate(perms):
            out = permute_neurons(out, p, layer=layer)
        return out
    sizes = _check_spec(spec, "params", params)
    perms = _check_perms(perms, sizes)
    axes = dict(spec.axes)
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: _permute(leaf, axes[jax.tree_util.keystr(path)], perms), params
    )


def _match(spec, sizes, leaves_a, leaves_b, max_sweeps):
    axes = dict(spec.axes)
    wa = {p: np.asarray(x, np.float64) for p, x in leaves_a.items()}
    wb = {p: np.asarray(x, np.float64) for p, x in leaves_b.items()}
    perms = {n: np.arange(s) for n, s in sizes.items()}
    perm_axes = spec.perm_axes()
    for _ in range(max_sweeps):
        improved = False
        for name in spec.names:
            size = sizes[name]
            cost = np.zeros((size, size))
            for path, axis in perm_axes[name]:
                b = wb[path]
                for ax, other in enumerate(axes[path]):
                    if other is not None and ax != axis:
                        b = np.take(b, perms[other], axis=ax)
                a = np.moveaxis(wa[path], axis, 0).reshape(size, -1)
                b = np.moveaxis(b, axis, 0).reshape(size, -1)
                cost += a @ b.T
            new = linear_assignment(cost, maximize=True)
            old_value = cost[np.arange(size), perms[name]].sum()
            new_value = cost[np.arange(size), new].sum()
            if new_value > old_value + 1e-12 * max(1.0, abs(old_value)):
                perms[name] = new
                improved = True
        if not improved:
            break
    return perms


def weight_matching(
    params_a: Params,
    params_b: Params,
    *,
    spec: PermutationSpec | None = None,
    max_sweeps: int = 100,
) -> list[np.ndarray] | dict[str, np.ndarray]:
    r"""Permutations of `params_b`'s units that align it to `params_a` by weight matching
    (Ainsworth et al. 2023); `apply_permutations(params_b, perms, spec=spec)` is the aligned
    copy (the same function as `params_b`).

    Args:
        params_a: the reference params.
        params_b: the params to permute (the same tree and shapes as `params_a`).
        spec: keyword-only. A `PermutationSpec` (e.g. `chain_permutation_spec(params_a,
            [".conv1", ".conv2", ".linear"])`) for any params pytree; `None` (default): the
            package's MLP layout, one permutation per hidden layer.
        max_sweeps: keyword-only. Most sweeps of coordinate ascent over the permutations
            (each one a linear assignment given the others); they stop when none improves.

    Returns:
        Without `spec`, a list with one index array per hidden layer; with `spec`, a dict
        from permutation name to index array.
    """
    if isinstance(max_sweeps, bool) or int(max_sweeps) < 1:
        raise ValueError(f"max_sweeps: must be >= 1, got {max_sweeps}")
    mlp = spec is None
    if mlp:
        n = check_mlp("params_a", params_a)
        nb = check_mlp("params_b", params_b)
        if n != nb or any(
            np.shape(x["w"]) != np.shape(y["w"]) or set(x) != set(y)
            for x, y in zip(params_a, params_b)
        ):
            raise ValueError("params_b: must have the same layer shapes as params_a")
        if n < 2:
            return []
        spec = _mlp_spec(params_a)
    sizes = _check_spec(spec, "params_a", params_a)
    _check_spec(spec, "params_b", params_b)
    leaves_a = _leaves_by_path("params_a", params_a)
    leaves_b = _leaves_by_path("params_b", params_b)
    for p, a in leaves_a.items():
        if np.shape(a) != np.shape(leaves_b[p]):
            raise ValueError(
                f"params_b: leaf {p!r} has shape {np.shape(leaves_b[p])}, params_a {np.shape(a)}"
            )
    perms = _match(spec, sizes, leaves_a, leaves_b, int(max_sweeps))
    if mlp:
        return [perms[f"[{i}]"] for i in range(len(params_a) - 1)]
    return perms
