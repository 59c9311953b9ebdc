r"""Counting permutation points and symmetry-induced critical subspaces, by closed forms and by
brute-force enumeration in parameter space.

Closed forms (status in `FORMULA_STATUS`; brute-force enumeration decides, see the tests):

- Equivalent global minima of an MLP with hidden widths $n_1..n_{L-1}$ and distinct
  neurons: $N_\min = \prod_k n_k!$.
- $K$-th order permutation points (Brea et al. 2019): $N_\min\sum_k \binom{n_k-K}{K}/2^K$.
  In layer $k$, a reduced network with $n_k - K$ distinct neurons has $K$ of them doubled at
  $\gamma = \tfrac12$; $\binom{n_k-K}{K}$ choices, $n_k!/2^K$ placements.
- Symmetry-induced critical subspaces from a width-$r$ critical point with distinct neurons
  in width $m$ (Şimşek et al. 2021, $G$; reconstructed): only duplication is allowed (a
  zero-type neuron is not critical when the residual is not 0), so they are the surjections
  of $m$ neurons onto $r$: $G(r,m) = r!\,S(m,r)$, each of dimension $(m-r)\cdot n_\text{out}$.
- Affine subspaces of the global-minimum manifold of width $m = r^* + h$ for a width-$r^*$
  teacher (Şimşek's $T$; reconstructed): every teacher neuron gets a non-empty block of
  student neurons with its incoming weight and outgoing weights summing to the teacher's; the
  remaining neurons are zero-type. With zero-type *singletons* only ($a = 0$, incoming free):
  $T_1 = \sum_{j=r}^m\binom mj r!\,S(j,r)$. With zero-type *groups* (shared incoming weight,
  outgoing weights summing to 0): $T_2 = \sum_{k=r}^m S(m,k)\,k!/(k-r)!$. They agree for
  $h\le1$. Enumeration shows that the group subspaces are genuine maximal affine pieces of
  the zero-loss set (neither contains the other), so $T_2$ counts all of them; $T_1$ counts
  those of the singleton convention.

$S(n,k)$ are Stirling numbers of the second kind.
"""

import itertools
import math
from collections.abc import Sequence
from fractions import Fraction

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from .._custom_types import Params
from .._validation import check_key
from ._neurons import add_zero_neurons, check_mlp, permute_neurons


FORMULA_STATUS = {
    "num_global_minima": "verified: elementary (permutations of distinct neurons); enumeration agrees",
    "num_permutation_points": "verified against the factor in Brea et al. 2019's abstract [V-src]; "
    "enumeration agrees",
    "num_critical_subspaces": "reconstructed [R] (G of Şimşek et al. 2021 not read in the paper); "
    "enumeration of duplication subspaces agrees and confirms zero-type neurons are not critical",
    "num_global_min_subspaces(zero_groups=False)": "reconstructed [R] (T with zero-type singletons)",
    "num_global_min_subspaces(zero_groups=True)": "reconstructed [R] (T with zero-type groups); "
    "enumeration confirms that these subspaces are distinct, maximal among themselves and of "
    "zero loss (it does not prove that no other affine piece exists)",
}


def _check_count(name, v, minimum=0):
    if not isinstance(v, int | np.integer) or isinstance(v, bool) or int(v) < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {v!r}")
    return int(v)


def stirling2(n: int, k: int) -> int:
    """Stirling number of the second kind S(n, k) (exact integer)."""
    n = _check_count("n", n)
    k = _check_count("k", k)
    row = [1] + [0] * k  # S(0, j)
    for i in range(1, n + 1):
        new = [0] * (k + 1)
        for j in range(1, min(i, k) + 1):
            new[j] = j * row[j] + row[j - 1]
        row = new
    return row[k]


def num_global_minima(widths: Sequence[int]) -> int:
    r"""$N_\min = \prod_k n_k!$: permutations of the hidden neurons of a network with distinct
    neurons."""
    ws = [_check_count("widths", w, 1) for w in widths]
    return math.prod(math.factorial(w) for w in ws)


def num_permutation_points(widths: Sequence[int], order: int = 1) -> int:
    r"""Number of `order`-th order ($K$) permutation points,
    $N_\min\sum_k\binom{n_k-K}{K}/2^K$ (Brea et al. 2019)."""
    ws = [_check_count("widths", w, 1) for w in widths]
    K = _check_count("order", order, 1)
    total = Fraction(0)
    for n in ws:
        if n - K >= K:
            total += Fraction(math.comb(n - K, K), 2**K)
    out = total * num_global_minima(ws)
    assert out.denominator == 1
    return int(out)


def num_critical_subspaces(r: int, m: int) -> int:
    """$G(r, m) = r!\\,S(m, r)$ (reconstructed; see module docs)."""
    r = _check_count("r", r, 1)
    m = _check_count("m", m, 1)
    return math.factorial(r) * stirling2(m, r)


def num_global_min_subspaces(r: int, m: int, *, zero_groups: bool = True) -> int:
    """$T_2(r, m)$ (zero-type groups, default) or $T_1(r, m)$ (singletons); see module docs."""
    r = _check_count("r", r, 1)
    m = _check_count("m", m, 1)
    if m < r:
        return 0
    if zero_groups:
        return sum(
            stirling2(m, k) * math.factorial(k) // math.factorial(k - r) for k in range(r, m + 1)
        )
    return sum(math.comb(m, j) * math.factorial(r) * stirling2(j, r) for j in range(r, m + 1))


# ----------------------------------------------------------------------------- enumeration
def _set_partitions(m):
    """All set partitions of range(m), as lists of blocks (restricted growth strings)."""

    def rec(i, labels, k):
        if i == m:
            blocks = [[] for _ in range(k)]
            for s, lab in enumerate(labels):
                blocks[lab].append(s)
            yield blocks
            return
        for lab in range(k + 1):
            yield from rec(i + 1, labels + [lab], max(k, lab + 1))

    yield from rec(0, [], 0)


def _host_rng(key) -> np.random.Generator:
    """A NumPy generator seeded from the JAX `key` (host-side enumeration)."""
    check_key("key", key)
    return np.random.default_rng(int(jax.random.randint(key, (), 0, 2**31 - 1)))


def enumerate_permutation_points(
    widths: Sequence[int], order: int = 1, *, key: PRNGKeyArray, dim: int = 2
) -> int:
    """Brute-force count of `order`-th order permutation points of an MLP with hidden
    `widths`: for each layer, take a random reduced network (drawn with `key`, input
    dimension `dim`) with `n_k − order` distinct neurons there, build every parameter
    vector with `order` of them doubled (outgoing weights halved) in every arrangement,
    times every permutation of the other layers, and count the distinct parameter
    vectors."""
    ws = [_check_count("widths", w, 1) for w in widths]
    K = _check_count("order", order, 1)
    dim = _check_count("dim", dim, 1)
    rng = _host_rng(key)
    seen = set()
    for k, n in enumerate(ws):
        nr = n - K
        if nr < K:
            continue
        sizes = [dim, *ws[:k], nr, *ws[k + 1 :], 1]
        red = tuple(
            {"w": rng.standard_normal((o, i)), "b": rng.standard_normal(o)}
            for i, o in zip(sizes[:-1], sizes[1:])
        )
        for labels in itertools.product(range(nr), repeat=n):
            mult = np.bincount(labels, minlength=nr)
            if mult.min() < 1 or mult.max() > 2 or np.sum(mult == 2) != K:
                continue
            lab = np.asarray(labels)
            p = list(red)
            p[k] = {"w": red[k]["w"][lab], "b": red[k]["b"][lab]}
            p[k + 1] = {"w": red[k + 1]["w"][:, lab] / mult[lab], "b": red[k + 1]["b"]}
            base = tuple(p)
            others = [range(math.factorial(w)) for w in ws]
            others[k] = range(1)
            for combo in itertools.product(*others):
                q = base
                for layer, idx in enumerate(combo):
                    if layer == k:
                        continue
                    perm = list(itertools.permutations(range(ws[layer])))[idx]
                    q = permute_neurons(q, np.asarray(perm), layer=layer)
                vec = np.concatenate([np.concatenate([v["w"].ravel(), v["b"]]) for v in q])
                seen.add(np.round(np.asarray(vec), 9).tobytes())
    return len(seen)


def _layout(params):
    lay0, lay1 = params
    d = lay0["w"].shape[1]
    return d, "b" in lay0, lay1["w"].shape[0], "b" in lay1


def _to_params(vec, m, d, has_b, o, out_b, dtype):
    """Flat layout: incoming (m, d + has_b) row-major, then outgoing (o, m); `vec` may carry
    leading batch axes. `out_b` is the (unbatched) output bias or None."""
    da = d + has_b
    lead = vec.shape[:-1]
    inc = vec[..., : m * da].reshape(*lead, m, da)
    out = vec[..., m * da : m * da + o * m].reshape(*lead, o, m)
    lay0 = {"w": jnp.asarray(inc[..., :d], dtype)}
    if has_b:
        lay0["b"] = jnp.asarray(inc[..., d], dtype)
    lay1 = {"w": jnp.asarray(out, dtype)}
    if out_b is not None:
        lay1["b"] = jnp.broadcast_to(jnp.asarray(out_b, dtype), (*lead, o))
    return (lay0, lay1)


def _subspaces(params, m, *, zero_blocks: str):
    """Affine subspaces (offset, basis) of width-m params built from the width-r `params`.
    zero_blocks: 'none' (surjections only), 'singletons' or 'groups'."""
    d, has_b, o, _ = _layout(params)
    da = d + has_b
    r = params[0]["w"].shape[0]
    inc = np.asarray(params[0]["w"], float)
    if has_b:
        inc = np.concatenate([inc, np.asarray(params[0]["b"], float)[:, None]], axis=1)
    a = np.asarray(params[1]["w"], float)  # (o, r)
    P = m * (da + o)

    def e_in(s, c):
        v = np.zeros(P)
        v[s * da + c] = 1.0
        return v

    def e_out(s, q):
        v = np.zeros(P)
        v[m * da + q * m + s] = 1.0
        return v

    out = []
    for blocks in _set_partitions(m):
        k = len(blocks)
        if k < r:
            continue
        if zero_blocks == "none" and k != r:
            continue
        for chosen in itertools.permutations(range(k), r):
            rest = [b for i, b in enumerate(blocks) if i not in chosen]
            if zero_blocks == "singletons" and any(len(b) > 1 for b in rest):
                continue
            p0 = np.zeros(P)
            basis = []
            for t, bi in enumerate(chosen):
                blk = blocks[bi]
                for s in blk:
                    p0[s * da : (s + 1) * da] = inc[t]
                    for q in range(o):
                        p0[m * da + q * m + s] = a[q, t] / len(blk)
                for s in blk[1:]:
                    for q in range(o):
                        basis.append(e_out(s, q) - e_out(blk[0], q))
            for blk in rest:
                for c in range(da):
                    basis.append(sum(e_in(s, c) for s in blk))
                for s in blk[1:]:
                    for q in range(o):
                        basis.append(e_out(s, q) - e_out(blk[0], q))
            V = np.stack(basis, 1) if basis else np.zeros((P, 0))
            out.append((p0, V))
    return out


def _maximal_distinct(subspaces):
    """Indices of subspaces that are not contained in another one (first of equal ones)."""

    def rank(M):
        return 0 if M.shape[1] == 0 else np.linalg.matrix_rank(M, tol=1e-9)

    ranks = [rank(V) for _, V in subspaces]
    keep = []
    for i, (p1, V1) in enumerate(subspaces):
        contained = False
        for j, (p2, V2) in enumerate(subspaces):
            if i == j:
                continue
            if rank(np.concatenate([V2, V1, (p1 - p2)[:, None]], 1)) == ranks[j]:
                # S_i ⊆ S_j: drop i if strict, or if equal and j comes first
                if ranks[j] > ranks[i] or j < i:
                    contained = True
                    break
        if not contained:
            keep.append(i)
    return keep


def _check_two_layer(params):
    check_mlp("params", params)
    if len(params) != 2:
        raise ValueError(
            f"params: expected a one-hidden-layer network (2 layers), got {len(params)}"
        )


class GlobalMinSubspaces(eqx.Module):
    """Output of `enumerate_global_min_subspaces`: `count` (distinct maximal subspaces),
    `enumerated` (all constructed), `max_loss` (largest |loss| at the random points) and
    `min_dim` (smallest subspace dimension)."""

    count: int
    enumerated: int
    max_loss: float
    min_dim: int


class CriticalSubspaces(eqx.Module):
    """Output of `enumerate_critical_subspaces`: `count` (distinct maximal subspaces),
    `enumerated`, `max_grad` (largest gradient ∞-norm at the random points),
    `zero_type_grad` (gradient ∞-norm with one zero-type neuron added) and `min_dim`."""

    count: int
    enumerated: int
    max_grad: float
    zero_type_grad: float
    min_dim: int


def enumerate_global_min_subspaces(
    problem,
    teacher: Params,
    *,
    width: int,
    key: PRNGKeyArray,
    zero_groups: bool = True,
    points: int = 2,
) -> GlobalMinSubspaces:
    """Brute-force enumeration of the affine subspaces of params of hidden width `width`
    ($m$) that implement the one-hidden-layer `teacher` (module docs), with duplicates and
    contained subspaces removed, and `problem.loss` evaluated at `points` random points of
    each, drawn with `key` (the problem's data must be labelled by `teacher`)."""
    _check_two_layer(teacher)
    m = _check_count("width", width, teacher[0]["w"].shape[0])
    rng = _host_rng(key)
    subs = _subspaces(teacher, m, zero_blocks="groups" if zero_groups else "singletons")
    keep = _maximal_distinct(subs)
    max_loss, dims = _evaluate(problem, teacher, m, subs, rng, points, grad=False)
    return GlobalMinSubspaces(
        count=len(keep), enumerated=len(subs), max_loss=max_loss, min_dim=min(dims)
    )


def enumerate_critical_subspaces(
    problem, params: Params, *, width: int, key: PRNGKeyArray, points: int = 2
) -> CriticalSubspaces:
    """Brute-force enumeration of the duplication subspaces of hidden width `width` ($m$)
    from the width-`r` critical point `params` (one hidden layer, distinct neurons), with
    the gradient ∞-norm of `problem.loss` at `points` random points of each (drawn with
    `key`). Also reports `zero_type_grad`: the gradient at `params` with a zero-type neuron
    of random incoming weight added, which is not 0 away from a global minimum (why
    zero-type neurons do not enter G)."""
    _check_two_layer(params)
    m = _check_count("width", width, params[0]["w"].shape[0])
    check_key("key", key)
    key_points, key_zero = jax.random.split(key)
    rng = _host_rng(key_points)
    subs = _subspaces(params, m, zero_blocks="none")
    keep = _maximal_distinct(subs)
    max_grad, dims = _evaluate(problem, params, m, subs, rng, points, grad=True)
    d, has_b, o, out_b = _layout(params)
    rng = _host_rng(key_zero)
    pz = add_zero_neurons(
        params,
        rng.standard_normal((1, d)),
        rng.standard_normal(1) if has_b else None,
    )
    gz = jax.grad(problem.loss)(pz)
    zero_grad = float(max(jnp.max(jnp.abs(x)) for x in jax.tree_util.tree_leaves(gz)))
    return CriticalSubspaces(
        count=len(keep),
        enumerated=len(subs),
        max_grad=max_grad,
        zero_type_grad=zero_grad,
        min_dim=min(dims),
    )


def _evaluate(problem, params, m, subs, rng, points, *, grad):
    d, has_b, o, out_b_flag = _layout(params)
    out_b = params[1]["b"] if out_b_flag else None
    dtype = params[0]["w"].dtype
    dims = [0 if V.shape[1] == 0 else int(np.linalg.matrix_rank(V)) for _, V in subs]
    zs = np.stack(
        [p0 + V @ rng.standard_normal(V.shape[1]) for p0, V in subs for _ in range(int(points))]
    )
    batch = _to_params(zs, m, d, has_b, o, out_b, dtype)
    if grad:

        def one(q):
            g = jax.grad(problem.loss)(q)
            return jnp.max(jnp.stack([jnp.max(jnp.abs(x)) for x in jax.tree_util.tree_leaves(g)]))

    else:

        def one(q):
            return jnp.abs(problem.loss(q))

    vals = jax.jit(jax.vmap(one))(batch)
    return float(jnp.max(vals)), dims
