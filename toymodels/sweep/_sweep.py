"""`sweep`: evaluate a function on a grid, vmapped in chunks, stored, resumable, scalable."""

import concurrent.futures as cf
import dataclasses
import functools
import hashlib
import inspect
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from ._grid import Chunk, Grid
from ._progress import make_progress
from ._store import CorruptChunk, Store


_MAX_AUTO_CHUNK = 4096
_CONFIG_FLAGS = ("jax_enable_x64", "jax_numpy_dtype_promotion")


# ---------------------------------------------------------------------------- results
@dataclasses.dataclass(frozen=True)
class SweepStats:
    """What a run did. `computed` counts chunks evaluated in this run (including the
    `corrupt` ones, which were found damaged in the store and recomputed); `reused` counts
    valid chunks read back from the store."""

    chunks: int
    computed: int
    reused: int
    corrupt: int
    chunk_size: int
    seconds: float


@dataclasses.dataclass(frozen=True, eq=False)
class SweepResult:
    """Outputs on the grid.

    `coords[name]` are the values of each axis (the seed axis, `"seed"`, last); `data[out]`
    has shape `grid shape + shape of one point's output`. `store` is the folder holding the
    chunks (None without a store); `spec_hash` identifies the sweep."""

    coords: dict[str, np.ndarray]
    data: dict[str, np.ndarray]
    stats: SweepStats
    spec_hash: str
    store: Path | None = None

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(self.coords)

    def to_dict(self) -> dict[str, np.ndarray]:
        """Coordinates and outputs in one flat dict of arrays (coordinates under
        `coord_<axis>`), ready for `numpy.savez`."""
        out = {f"coord_{k}": v for k, v in self.coords.items()}
        out.update(self.data)
        return out

    def to_xarray(self):
        """An `xarray.Dataset`: one variable per output, the axes as dimensions with their
        values as coordinates; trailing output dimensions are named `<output>_dim_<i>`."""
        try:
            import xarray as xr
        except ImportError as err:
            raise ImportError(
                "to_xarray: needs xarray (`pip install toymodels[sweep]`); "
                "use .data / .to_dict() without it"
            ) from err
        dims = list(self.coords)
        data_vars = {}
        for k, v in self.data.items():
            extra = [f"{k}_dim_{i}" for i in range(v.ndim - len(dims))]
            data_vars[k] = (dims + extra, v)
        attrs = {"spec_hash": self.spec_hash}
        if self.store is not None:
            attrs["store"] = str(self.store)
        return xr.Dataset(data_vars, coords=self.coords, attrs=attrs)

    def dataset(self):
        """`to_xarray()` when xarray is installed, otherwise `to_dict()`."""
        try:
            import xarray  # noqa: F401
        except ImportError:
            return self.to_dict()
        return self.to_xarray()


# ---------------------------------------------------------------------------- chunk work
@dataclasses.dataclass(frozen=True)
class _Task:
    """Everything a worker (thread, process, cluster node) needs for one chunk; plain
    picklable data plus the user's function."""

    fn: Callable
    names: tuple[str, ...]
    static: tuple[tuple[str, Any], ...]
    dynamic: dict[str, np.ndarray]
    flat: np.ndarray
    padded: int
    key_data: np.ndarray
    key_impl: str
    config: tuple[tuple[str, Any], ...]


_COMPILED: dict = {}


def _point_function(fn, names, static, impl):
    static = dict(static)

    def one(dyn, idx, key_data):
        key = jax.random.fold_in(jax.random.wrap_key_data(key_data, impl=impl), idx)
        point = {n: static[n] if n in static else dyn[n] for n in names}
        out = fn(point, key)
        return dict(out) if isinstance(out, Mapping) else out

    return one


def _compiled(task: _Task):
    cache_key = (task.fn, task.names, task.static, task.key_impl, task.config)
    try:
        return _COMPILED[cache_key]
    except TypeError:  # unhashable callable: no cache
        pass
    except KeyError:
        pass
    one = _point_function(task.fn, task.names, task.static, task.key_impl)
    f = jax.jit(jax.vmap(one, in_axes=(0, 0, None)))
    try:
        if len(_COMPILED) > 256:
            _COMPILED.clear()
        _COMPILED[cache_key] = f
    except TypeError:
        pass
    return f


def _apply_config(config) -> None:
    for name, value in config:
        if getattr(jax.config, name) != value:
            jax.config.update(name, value)


def evaluate_chunk(task: _Task) -> dict[str, np.ndarray]:
    """Evaluate one chunk (vmapped, padded to `task.padded` points so that every chunk of a
    group has one compiled shape) and return numpy arrays of its real points. Runs in any
    process: it first mirrors the caller's float64 / dtype-promotion settings."""
    _apply_config(task.config)
    f = _compiled(task)
    n = len(task.flat)
    pad = task.padded - n
    dyn = {k: np.concatenate([v, np.repeat(v[-1:], pad)]) for k, v in task.dynamic.items()}
    flat = np.concatenate([task.flat, np.repeat(task.flat[-1:], pad)]).astype(np.uint32)
    out = f(dyn, flat, task.key_data)
    return {k: np.asarray(v)[:n] for k, v in jax.device_get(out).items()}


# ---------------------------------------------------------------------------- validation
def _check_fn(fn) -> None:
    if not callable(fn):
        raise TypeError(f"fn: expected a function (point, key) -> dict, got {type(fn).__name__}")


def _check_key(key) -> tuple[np.ndarray, str]:
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"key: expected a single key, got a batch of shape {key.shape}")
        return np.asarray(jax.random.key_data(key)), str(jax.random.key_impl(key))
    arr = np.asarray(key) if isinstance(key, jax.Array | np.ndarray) else None
    if arr is not None and arr.dtype == np.uint32 and arr.shape == (2,):
        return arr, "threefry2x32"
    raise TypeError(f"key: expected a PRNG key from jax.random.key(seed), got {key!r}")


def _function_id(fn) -> dict:
    target, bound = fn, []
    while isinstance(target, functools.partial):  # record what a partial binds, not its id
        bound.append({"args": repr(target.args), "keywords": repr(sorted(target.keywords.items()))})
        target = target.func
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', type(target).__name__)}"
    try:
        src = inspect.getsource(target)
    except (OSError, TypeError):
        src = ""
    out = {"name": name, "source_sha256": hashlib.sha256(src.encode()).hexdigest()}
    if bound:
        out["partial"] = bound
    return out


def _output_signature(fn, grid: Grid, key_data, impl) -> dict[str, tuple[tuple, Any]]:
    """Shapes and dtypes of one point's outputs, checked to agree across all static groups
    by tracing (`jax.eval_shape`), before any work."""
    names = grid.names
    dyn_struct = {
        n: jax.ShapeDtypeStruct((), jax.dtypes.canonicalize_dtype(grid.values[i].dtype))
        for i, n in enumerate(names)
        if n in grid.dynamic
    }
    idx_struct = jax.ShapeDtypeStruct((), jnp.uint32)
    first = None
    for g in range(grid.num_groups):
        static = grid.group_static(g)
        one = _point_function(fn, names, tuple(static.items()), impl)
        out = jax.eval_shape(one, dyn_struct, idx_struct, key_data)
        where = ", ".join(f"{k}={v!r}" for k, v in static.items()) or "every point"
        sig = _signature_of(out, where)
        if first is None:
            first, first_where = sig, where
        elif sig != first:
            if set(sig) != set(first):
                raise ValueError(
                    f"fn: returns keys {sorted(first)} at {first_where} but {sorted(sig)} at "
                    f"{where}; every point must return the same keys"
                )
            bad = next(k for k in sig if sig[k] != first[k])
            raise ValueError(
                f"fn: output {bad!r} has shape/dtype {first[bad]} at {first_where} but "
                f"{sig[bad]} at {where}; outputs must agree across the grid"
            )
    return first


def _signature_of(out, where) -> dict[str, tuple[tuple, Any]]:
    if not isinstance(out, Mapping):
        raise TypeError(f"fn: must return a dict of arrays, got {type(out).__name__} at {where}")
    if not out:
        raise ValueError(f"fn: returned an empty dict at {where}")
    sig = {}
    for k, v in out.items():
        if not isinstance(k, str) or not k or k.startswith("__") or k.startswith("coord_"):
            raise ValueError(
                f"fn: output names must be strings not starting with '__' or 'coord_', got {k!r}"
            )
        if not isinstance(v, jax.ShapeDtypeStruct):
            raise TypeError(
                f"fn: output {k!r} must be a scalar or an array, got {type(v).__name__}"
            )
        if jnp.issubdtype(v.dtype, jax.dtypes.prng_key):
            raise TypeError(f"fn: output {k!r} is a PRNG key; return jax.random.key_data(...)")
        sig[k] = (tuple(v.shape), np.dtype(v.dtype).str)
    return sig


def _check_executor(executor) -> None:
    if executor is None:
        return
    if not hasattr(executor, "submit"):
        raise TypeError(
            f"executor: expected a concurrent.futures.Executor, got {type(executor).__name__}"
        )
    if isinstance(executor, cf.ProcessPoolExecutor):
        ctx = getattr(executor, "_mp_context", None)
        if ctx is not None and ctx.get_start_method() == "fork":
            raise ValueError(
                "executor: this ProcessPoolExecutor uses the 'fork' start method, which can "
                "deadlock with JAX's threads; use toymodels.sweep.process_pool(n) or "
                "mp_context=multiprocessing.get_context('spawn')"
            )


def _check_positive_int(name, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


def _auto_chunk_size(fn, grid: Grid, key_data, impl, memory_limit: int) -> int:
    """Largest chunk whose estimated memory fits `memory_limit` bytes: the compiled memory of
    one point (arguments, outputs and XLA temporaries, `Compiled.memory_analysis`) times the
    chunk size, the largest over the static groups."""
    per_point = 1
    dyn_struct = {
        n: jax.ShapeDtypeStruct((), jax.dtypes.canonicalize_dtype(grid.values[i].dtype))
        for i, n in enumerate(grid.names)
        if n in grid.dynamic
    }
    idx = jax.ShapeDtypeStruct((), jnp.uint32)
    for g in range(grid.num_groups):
        one = _point_function(fn, grid.names, tuple(grid.group_static(g).items()), impl)
        try:
            m = jax.jit(one).lower(dyn_struct, idx, key_data).compile().memory_analysis()
            need = m.temp_size_in_bytes + m.output_size_in_bytes + m.argument_size_in_bytes
        except Exception:  # no memory analysis on this backend: outputs only, with margin
            out = jax.eval_shape(one, dyn_struct, idx, key_data)
            need = 4 * sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in out.values())
        per_point = max(per_point, int(need))
    return int(max(1, min(memory_limit // per_point, grid.group_size, _MAX_AUTO_CHUNK)))


# ---------------------------------------------------------------------------- the sweep
def process_pool(max_workers: int | None = None) -> cf.ProcessPoolExecutor:
    """A `ProcessPoolExecutor` whose workers are started with 'spawn' (safe with JAX)."""
    import multiprocessing

    return cf.ProcessPoolExecutor(max_workers, mp_context=multiprocessing.get_context("spawn"))


def sweep(
    fn: Callable[[dict, PRNGKeyArray], Mapping[str, Any]],
    axes: Mapping[str, Sequence] | Sequence[tuple[str, Sequence]],
    *,
    key: PRNGKeyArray,
    seeds: int | Sequence[int] = 1,
    static: Sequence[str] = (),
    store: str | Path | None = None,
    chunk_size: int | None = None,
    memory_limit: int = 2**30,
    executor: cf.Executor | None = None,
    progress: bool | None = None,
    label: str = "",
) -> SweepResult:
    r"""Evaluate `fn(point, key)` at every point of a grid.

    The grid is the product of the named `axes` and a seed axis (`seeds`: a count, or the
    seed values), in C order with the seed axis last. `point` is a dict `{axis: value}`
    (including `"seed"`); values of `static` axes are Python scalars (use them for anything
    that changes array shapes, such as a width or a batch size), the others JAX scalars.
    `key` of the point with flat index $i$ is `jax.random.fold_in(key, i)`: results do not
    depend on the chunking or on where a chunk runs. `fn` returns a dict of scalars or
    arrays whose keys, shapes and dtypes are the same at every point (checked with
    `jax.eval_shape` before any work).

    Points with the same static values are evaluated `chunk_size` at a time under
    `jax.jit(jax.vmap(fn))` (the last chunk of a group is padded, so each group compiles
    once). `chunk_size=None` picks the largest chunk whose estimated memory (XLA's memory
    analysis of one point, times the chunk size) fits `memory_limit` bytes, at most 4096.

    **Store.** With `store=ROOT`, each finished chunk is written atomically to
    `ROOT/<spec hash>/chunk-NNNNNN.npz` with the sweep's specification hash and a SHA-256
    of its contents. Running the same sweep again reads finished chunks back instead of
    computing them (see `SweepResult.stats`); damaged chunks are detected and recomputed.
    The specification is the grid, the seeds, the key, the function's qualified name and
    source text, the float64 setting and `label`; any change gives a different folder, so
    old chunks are never mixed in. Values a function captures from outside (closures,
    globals) are not part of it: put them in `label` or on an axis.

    **Execution.** In this process by default; with `executor` (any
    `concurrent.futures.Executor`: `process_pool(n)`, or a Dask `client.get_executor()`)
    chunks are submitted as tasks and written by this process as they finish. `fn` must
    then be importable by the workers (a module-level function).

    **Arguments:**
    - `fn`: the function `(point: dict, key) -> dict` of scalars/arrays.
    - `axes`: `{name: values}` or `[(name, values), ...]`; 1-D, non-empty, distinct values.
    - `key` (keyword-only): the sweep's base key.
    - `seeds` (keyword-only): number of seeds (values 0..n-1) or a sequence of seeds.
    - `static` (keyword-only): names of the axes passed as Python scalars.
    - `store` (keyword-only): root folder of the result store; None keeps nothing.
    - `chunk_size`, `memory_limit` (keyword-only): see above.
    - `executor` (keyword-only): where chunks run; None for this process.
    - `progress` (keyword-only): a progress bar with ETA (tqdm if installed); None shows it
      when stderr is a terminal.
    - `label` (keyword-only): free text added to the specification.

    Returns a `SweepResult` (`.data`, `.coords`, `.stats`, `.to_xarray()`).
    """
    t0 = time.perf_counter()
    _check_fn(fn)
    key_data, impl = _check_key(key)
    grid = Grid.build(axes, seeds=seeds, static=static)
    if chunk_size is not None:
        chunk_size = _check_positive_int("chunk_size", chunk_size)
    memory_limit = _check_positive_int("memory_limit", memory_limit)
    _check_executor(executor)
    if not isinstance(label, str):
        raise TypeError(f"label: expected a string, got {type(label).__name__}")
    config = tuple((name, getattr(jax.config, name)) for name in _CONFIG_FLAGS)

    signature = _output_signature(fn, grid, key_data, impl)

    spec = {
        "grid": grid.spec(),
        "key": {"impl": impl, "data": key_data.tolist()},
        "function": _function_id(fn),
        "x64": bool(jax.config.jax_enable_x64),
        "label": label,
    }
    st = None
    if store is not None:
        st = Store(store, spec)
        stored_cs = st.open(chunk_size)
        chunk_size = chunk_size or stored_cs
    if chunk_size is None:
        chunk_size = _auto_chunk_size(fn, grid, key_data, impl, memory_limit)
    chunks = grid.chunks(chunk_size)
    padded = min(chunk_size, grid.group_size)

    n = grid.num_points
    flat_data = {
        k: np.empty((n, *shape), dtype=np.dtype(dt)) for k, (shape, dt) in signature.items()
    }

    def fill(chunk: Chunk, arrays: dict[str, np.ndarray]) -> None:
        for k, a in arrays.items():
            flat_data[k][chunk.flat] = a

    pending: list[Chunk] = []
    reused = corrupt = 0
    if st is not None:
        st.write_manifest(chunk_size, len(chunks))
        st.remove_stale_temporaries()
        for c in chunks:
            try:
                arrays = st.read_chunk(c, signature)
            except CorruptChunk:
                corrupt += 1
                arrays = None
            if arrays is None:
                pending.append(c)
            else:
                fill(c, arrays)
                reused += 1
    else:
        pending = list(chunks)

    def task(c: Chunk) -> _Task:
        return _Task(
            fn=fn,
            names=grid.names,
            static=tuple(grid.group_static(c.group).items()),
            dynamic=grid.dynamic_values(c.flat),
            flat=c.flat,
            padded=padded,
            key_data=key_data,
            key_impl=impl,
            config=config,
        )

    def finish(c: Chunk, arrays: dict[str, np.ndarray]) -> None:
        if st is not None:
            st.write_chunk(c, arrays)
        fill(c, arrays)

    bar = make_progress(progress, len(chunks), reused, "sweep")
    try:
        if executor is None:
            for c in pending:
                try:
                    finish(c, evaluate_chunk(task(c)))
                except Exception as err:
                    err.add_note(f"sweep: while computing chunk {c.index} (group {c.group})")
                    raise
                bar.update()
        else:
            futures = {executor.submit(evaluate_chunk, task(c)): c for c in pending}
            try:
                for fut in cf.as_completed(futures):
                    c = futures[fut]
                    try:
                        arrays = fut.result()
                    except Exception as err:
                        err.add_note(f"sweep: while computing chunk {c.index} (group {c.group})")
                        raise
                    finish(c, arrays)
                    bar.update()
            finally:
                for fut in futures:
                    fut.cancel()
    finally:
        bar.close()

    shape = grid.shape
    data = {k: v.reshape(*shape, *v.shape[1:]) for k, v in flat_data.items()}
    stats = SweepStats(
        chunks=len(chunks),
        computed=len(pending),
        reused=reused,
        corrupt=corrupt,
        chunk_size=chunk_size,
        seconds=time.perf_counter() - t0,
    )
    return SweepResult(
        coords=grid.coords(),
        data=data,
        stats=stats,
        spec_hash=st.hash if st is not None else Store("", spec).hash,
        store=st.path if st is not None else None,
    )


def load(path: str | Path) -> SweepResult:
    """Read a finished sweep back from its store folder (`SweepResult.store`, the folder
    holding `manifest.json`) without the function: the grid comes from the manifest, the
    outputs from the chunk files, each checked against its header and content hash.

    Raises `ValueError` naming the first missing or damaged chunk (run the sweep again to
    compute it)."""
    import json

    t0 = time.perf_counter()
    folder = Path(path)
    manifest = folder / "manifest.json"
    try:
        body = json.loads(manifest.read_text())
        spec, chunk_size = body["spec"], int(body["chunk_size"])
        axes = spec["grid"]["axes"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"path: {folder} holds no readable sweep manifest ({err})") from None
    st = Store(folder.parent, spec)
    if st.path.resolve() != folder.resolve():
        raise ValueError(f"path: {folder} does not match its manifest's specification hash")
    grid = Grid(
        tuple(a["name"] for a in axes),
        tuple(np.asarray(a["values"], dtype=np.dtype(a["dtype"])) for a in axes),
        tuple(a["name"] for a in axes if a["static"]),
    )
    chunks = grid.chunks(chunk_size)
    data: dict[str, np.ndarray] | None = None
    for c in chunks:
        path_c = st.chunk_path(c.index)
        if not path_c.exists():
            raise ValueError(f"path: chunk {c.index} of {len(chunks)} is missing from {folder}")
        if data is None:  # the output signature, from the first chunk's arrays
            with np.load(path_c, allow_pickle=False) as z:
                sig = {k: (z[k].shape[1:], z[k].dtype) for k in z.files if k != "__meta__"}
            data = {k: np.empty((grid.num_points, *s), d) for k, (s, d) in sig.items()}
        try:
            arrays = st.read_chunk(c, sig)
        except CorruptChunk as err:
            raise ValueError(f"path: chunk {c.index} is damaged ({err})") from None
        for k, a in arrays.items():
            data[k][c.flat] = a
    assert data is not None
    stats = SweepStats(len(chunks), 0, len(chunks), 0, chunk_size, time.perf_counter() - t0)
    return SweepResult(
        coords=grid.coords(),
        data={k: v.reshape(*grid.shape, *v.shape[1:]) for k, v in data.items()},
        stats=stats,
        spec_hash=st.hash,
        store=st.path,
    )
