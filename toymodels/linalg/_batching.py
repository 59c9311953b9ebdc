r"""Matrix-vector products in memory-sized batches, streamed statistics, bucketed sizes and
cheap generic vectors: the plumbing shared by the estimators, `eigsh` and SLQ.

**Batches.** `M` products never run all at once: rows are mapped through the operator `b` at
a time (`b` = `probe_batch_size`, chosen like `toymodels.landscape.auto_chunk_size`: a memory
budget over a heuristic per-product footprint), inside one compiled loop, so memory does
not grow with `M` and, on a CPU, a batch stays cache-sized (vmapping 20 Hessian-vector
products at once was 1.6× slower than 20 separate ones on the bench MLP).

**Counts are traced.** The number of products is a traced integer: the loop runs
`count // b` full batches and then `count % b` single products, so a new `num_probes` does
not recompile. Where a count sets a shape (Krylov basis, stored sketches), the shape is the
count's *bucket*: a power of two (`bucket`), or for Krylov bases a finer ladder with at most
a third of padding (`bucket_fine`); the padded rows stay zero and are masked out.
"""

import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._operator import AbstractOperator, DenseOperator


def bucket(x: int) -> int:
    """The smallest power of two >= `x` (`x` >= 1)."""
    return 1 << max(int(x) - 1, 0).bit_length()


def bucket_fine(x: int) -> int:
    """The smallest size >= `x` of the ladder 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, ...
    (powers of two and their 3/2 multiples: at most a third of padding)."""
    p = bucket(x)
    return 3 * p // 4 if p >= 4 and 3 * p // 4 >= x else p


def dtype_of(op: AbstractOperator) -> Any:
    """The operator's floating dtype (the default float for an integer one)."""
    dt = jnp.dtype(op.dtype)
    return dt if jnp.issubdtype(dt, jnp.floating) else jnp.dtype(jnp.result_type(float))


_CONSTANTS: dict = {}


def _constant(values: Any, dtype: str) -> jax.Array:
    key = (values, dtype)
    out = _CONSTANTS.get(key)
    if out is None:
        out = jax.device_put(np.asarray(values, dtype=dtype))
        if isinstance(out, jax.core.Tracer):  # called under a trace: never cache a tracer
            return out
        if len(_CONSTANTS) < 1024:
            _CONSTANTS[key] = out
    return out


def int_array(values: Any) -> jax.Array:
    """Host ints (an int or a sequence) as a device array of the default int dtype, for
    the compiled programs to trace (a new value does not recompile). Cached: a call that
    repeats the numbers of an earlier one (per-step curvature tracking) transfers nothing."""
    key = int(values) if np.ndim(values) == 0 else tuple(int(v) for v in values)
    return _constant(key, jax.dtypes.canonicalize_dtype(np.int64).name)


def float_array(values: Any, dtype: Any) -> jax.Array:
    """Host floats as a device array of `dtype`, cached like `int_array`."""
    key = float(values) if np.ndim(values) == 0 else tuple(float(v) for v in values)
    return _constant(key, jnp.dtype(dtype).name)


def _num_elements(tree: Any) -> int:
    return int(sum(np.size(x) for x in jax.tree_util.tree_leaves(tree) if eqx.is_array(x)))


def probe_batch_size(op: AbstractOperator, dtype: Any, *, memory: int | None = None) -> int:
    r"""Products per batch so that one batch needs about `memory` bytes (default: the
    package's chunk budget, `toymodels.landscape.default_memory()`: 16 MiB on CPU, 1 GiB on
    accelerators).

    Heuristic bytes per product, as `auto_chunk_size` estimates a point: $s\,(4n + 16N)$
    with $s$ the itemsize, $n$ the dimension and $N$ the number of array elements the
    operator holds (a Hessian operator's data and params: the factor 16 covers the
    activations of a few hidden layers); a dense matrix is shared by the batch ($N = 0$).
    """
    if memory is None:
        # the package's one chunk budget (imported here: landscape builds on linalg)
        from ..landscape._paths import default_memory  # noqa: PLC0415

        memory = default_memory()
    n = op.shape[0]
    held = 0 if isinstance(op, DenseOperator) else _num_elements(op)
    per = jnp.dtype(dtype).itemsize * (4 * n + 16 * held)
    return int(max(1, int(memory) // max(per, 1)))


def check_batch_size(batch_size: Any, op: AbstractOperator, dtype: Any, num: int) -> int:
    """`batch_size` (None: `probe_batch_size`) capped at the largest power of two <= `num`,
    so a small count is not padded into one oversized batch (static: one value per bucket
    of `num`)."""
    if batch_size is None:
        b = probe_batch_size(op, dtype)
    else:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise TypeError(f"batch_size: expected a positive int or None, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        b = int(batch_size)
    return int(max(1, min(b, bucket(num + 1) // 2)))


def map_rows(
    fn: Callable[[Any], Any], count: Any, num_rows: int, batch: int, like: jax.ShapeDtypeStruct
) -> jax.Array:
    """`out[i] = fn(i)` for `i < count` (traced), zeros for `count <= i < num_rows`:
    `count // batch` vmapped batches of `batch` rows, then single rows."""
    out = jnp.zeros((num_rows, *like.shape), like.dtype)
    batch = min(batch, num_rows)
    if batch > 1:
        offsets = jnp.arange(batch)

        def full(j, out):
            vals = jax.vmap(fn)(j * batch + offsets).astype(like.dtype)
            return jax.lax.dynamic_update_slice_in_dim(out, vals, j * batch, axis=0)

        nfull = count // batch
        out = jax.lax.fori_loop(0, nfull, full, out)
        start = nfull * batch
    else:
        start = jnp.zeros_like(count)

    def single(i, out):
        return out.at[i].set(fn(i).astype(like.dtype))

    return jax.lax.fori_loop(start, count, single, out)


def stream_mean_sem(
    fn: Callable[[Any], Any], count: Any, batch: int, like: jax.ShapeDtypeStruct
) -> tuple[jax.Array, jax.Array]:
    r"""Mean and standard error (sample standard deviation, ddof = 1, over $\sqrt{count}$)
    of the samples `fn(0), ..., fn(count - 1)` without storing them: Welford's update per
    single sample and Chan et al.'s pairwise combination per vmapped batch (numerically
    stable; the same values as the two-pass formulas up to rounding)."""
    zero = jnp.zeros(like.shape, like.dtype)
    state = (jnp.zeros((), like.dtype), zero, zero)  # count, mean, M2

    def combine(state, nb, mb, m2b):
        na, ma, m2a = state
        tot = na + nb
        delta = mb - ma
        return tot, ma + delta * (nb / tot), m2a + m2b + delta**2 * (na * nb / tot)

    if batch > 1:
        offsets = jnp.arange(batch)
        nb = jnp.asarray(float(batch), like.dtype)

        def full(j, state):
            s = jax.vmap(fn)(j * batch + offsets).astype(like.dtype)
            mb = jnp.mean(s, axis=0)
            return combine(state, nb, mb, jnp.sum((s - mb) ** 2, axis=0))

        nfull = count // batch
        state = jax.lax.fori_loop(0, nfull, full, state)
        start = nfull * batch
    else:
        start = jnp.zeros_like(count)

    def single(i, state):
        return combine(state, jnp.ones((), like.dtype), fn(i).astype(like.dtype), zero)

    k, mean, m2 = jax.lax.fori_loop(start, count, single, state)
    sem = jnp.sqrt(m2 / jnp.maximum(k - 1, 1) / jnp.maximum(k, 1))
    return mean, jnp.where(k > 1, sem, jnp.inf)


def batched_matvec(op: AbstractOperator, batch: int) -> Callable[[jax.Array], jax.Array]:
    """`op.matvec` whose `vmap` runs as `lax.map(..., batch_size=batch)`: hands a library
    routine that vmaps its products (matfree's XTrace) memory-sized batches."""

    @jax.custom_batching.custom_vmap
    def mv(v):
        return op.matvec(v)

    @mv.def_vmap
    def _rule(axis_size, in_batched, v):
        if not in_batched[0]:
            return op.matvec(v), False
        return jax.lax.map(op.matvec, v, batch_size=min(batch, axis_size)), True

    return mv


# --- dispatch ------------------------------------------------------------------------


# XLA:CPU options for the linalg programs (top-level calls on the CPU backend). The
# programs are many small kernels (eigsh's thick-restart Lanczos: ~170, of which ~40 are a
# digits-MLP Hessian-vector product), and XLA:CPU's MLIR fusion emitters spend ~25 ms on
# each: with the classic emitters and the default scheduler the digits-MLP `eigsh(k=10)`
# program compiles in 2.7-2.9 s CPU instead of 4.8-4.9 s, at the same steady speed
# (measured 2026-12-01, jax 0.10.2, load 5). Probed once (a future XLA without these
# options gets none); nested calls (under an outer jit, vmap, eval_shape) cannot carry
# compiler options and use the plain program.
_CPU_OPTIONS = {
    "xla_cpu_use_fusion_emitters": False,
    "xla_cpu_enable_concurrency_optimized_scheduler": False,
}
_OPTIONS: list = []


def compiler_options() -> dict | None:
    """The compiler options of the linalg programs on this backend (see `_CPU_OPTIONS`)."""
    if not _OPTIONS:
        opts = None
        if jax.default_backend() == "cpu":
            try:
                probe = jax.jit(lambda x: x + 1, compiler_options=_CPU_OPTIONS)
                probe.lower(np.zeros((), np.float32)).compile()
                opts = dict(_CPU_OPTIONS)
            except Exception:  # an XLA without them: plain programs
                opts = None
        _OPTIONS.append(opts)
    return _OPTIONS[0]


class filter_jit:  # noqa: N801 - used as a decorator, like eqx.filter_jit
    """`eqx.filter_jit`'s rule (array leaves traced, every other leaf static) with a lean
    dispatch: one `jax.jit` per (tree structure, static leaves), the array leaves passed as
    a flat list. `eqx.filter_jit` spends 80-220 µs per call partitioning and hashing its
    arguments (measured on `eigsh`'s operators), which on a tiny operator is most of the
    call; this costs about what `jax.jit` does (10-20 µs). Top-level calls compile with
    `compiler_options()`; calls under a trace use the plain `jax.jit` (nested programs
    cannot carry options)."""

    def __init__(self, fn: Callable):
        self.fn = fn
        self.__wrapped__ = fn
        self.__name__ = getattr(fn, "__name__", "filter_jit")
        self._compiled: dict = {}

    def __call__(self, *args):
        leaves, treedef = jax.tree_util.tree_flatten(args)
        traced = tuple(eqx.is_array(x) for x in leaves)
        static = tuple(None if t else x for t, x in zip(traced, leaves))
        key = (treedef, traced, static)
        jitted = self._compiled.get(key)
        if jitted is None:
            fn = self.fn

            def run(dynamic):
                it = iter(dynamic)
                full = [next(it) if t else x for t, x in zip(traced, static)]
                return fn(*jax.tree_util.tree_unflatten(treedef, full))

            run.__name__ = self.__name__
            opts = compiler_options()
            top = jax.jit(run, compiler_options=opts) if opts else None
            jitted = self._compiled[key] = (jax.jit(run), top)
        plain, top = jitted
        dynamic = [x for t, x in zip(traced, leaves) if t]
        if top is not None and not any(isinstance(x, jax.core.Tracer) for x in dynamic):
            try:
                return top(dynamic)
            except ValueError as err:  # concrete arguments, but under an outer trace
                if "compiler_options" not in str(err):
                    raise
        return plain(dynamic)


# --- generic vectors -------------------------------------------------------------------

_GOLDEN = 0x9E3779B9


def _mix(x: jax.Array) -> jax.Array:
    """A uint32 avalanche hash (the `lowbias32` constants of C. Wellons' hash prospector)."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def key_seed(key: Any) -> jax.Array:
    """Two uint32 words from a PRNG key (typed or legacy), for `generic_vector`."""
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    w = jnp.asarray(key).reshape(-1).astype(jnp.uint32)
    if w.shape[0] == 1:
        return jnp.concatenate([w, _mix(w)])
    seed = w[:2]
    for j in range(2, w.shape[0] - 1, 2):  # fold longer keys (e.g. rbg) into two words
        seed = _mix(seed ^ w[j : j + 2])
    return seed


def generic_vector(seed: jax.Array, counter: Any, n: int, dtype: Any) -> jax.Array:
    r"""A deterministic pseudo-random vector with entries in $(-1, 1)$ from a key's `seed`
    and an integer `counter`: a counter-based hash, for the start and restart vectors of
    Lanczos, which must only be generic (no statistical property is used; the probes of
    the estimators come from `jax.random`). It compiles in a few ms where a threefry normal
    of the same size takes about 0.5 s of XLA time, and gives the same bits on every
    backend."""
    c = jnp.asarray(counter).astype(jnp.uint32)
    s = _mix(seed[0] ^ _mix(seed[1] ^ _mix(c + jnp.uint32(_GOLDEN))))
    j = jnp.arange(n, dtype=jnp.uint32)
    u = _mix(_mix(j * jnp.uint32(_GOLDEN) + s) ^ seed[1])
    scale = math.ldexp(1.0, -23)
    return ((u >> 8).astype(dtype) + 0.5) * scale - 1.0
