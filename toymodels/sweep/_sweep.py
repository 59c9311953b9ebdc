"""`sweep`: evaluate a function on a grid, vmapped in chunks, stored per point, resumable,
in this process, on any `concurrent.futures.Executor` (a process pool, Dask) or as SLURM
jobs through submitit."""

import concurrent.futures as cf
import dataclasses
import functools
import hashlib
import inspect
import math
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, PRNGKeyArray

from ._grid import SEED, Chunk, Grid
from ._progress import make_progress
from ._store import FORMAT, CorruptFile, OutputMismatch, Store


_MAX_AUTO_CHUNK = 4096
_CONFIG_FLAGS = ("jax_enable_x64", "jax_numpy_dtype_promotion")
_TRACER_ERRORS = (
    jax.errors.ConcretizationTypeError,  # includes TracerBoolConversionError
    jax.errors.TracerIntegerConversionError,
    jax.errors.TracerArrayConversionError,
    jax.errors.NonConcreteBooleanIndexError,
)


# ---------------------------------------------------------------------------- results
class SweepStats(eqx.Module):
    """What a run did, counted in points of the grid: `computed` were evaluated in this run
    (in `chunks` chunks of at most `chunk_size` points), `reused` were read back from the
    store (`computed + reused == points`). `corrupt` counts store files found damaged (their
    points were recomputed; the files are set aside as `<name>.corrupt`). `chunk_size` is
    None when nothing had to be computed and no size was given."""

    points: int
    computed: int
    reused: int
    chunks: int
    corrupt: int
    chunk_size: int | None
    seconds: float


class SweepResult(eqx.Module):
    """Outputs on the grid.

    `coords[name]` are the values of each axis (the seed axis, `"seed"`, last); `data[out]`
    has shape `grid shape + shape of one point's output`. `store` is the folder holding the
    points (None without a store); `spec_hash` identifies the sweep's specification (the
    function, key, float64 setting, label and axis layout; not the axis values).

    An `eqx.Module` whose pytree leaves are the NumPy arrays of `coords` and `data` (host
    arrays, as read from the store); `stats`, `spec_hash` and `store` describe the run and
    are static fields."""

    coords: dict[str, np.ndarray]
    data: dict[str, np.ndarray]
    stats: SweepStats = eqx.field(static=True)
    spec_hash: str = eqx.field(static=True)
    store: Path | None = eqx.field(static=True, default=None)

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
        values as coordinates; trailing output dimensions are named `<output>_dim_<i>`.
        Needs the optional extra `sweep` (xarray)."""
        try:
            import xarray as xr
        except ImportError as err:
            raise ImportError(
                "to_xarray: needs xarray, from the optional extra `sweep` "
                "(`pip install 'toymodels[sweep]'`); use .data / .to_dict() without it"
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
        """`to_xarray()` when xarray is installed; otherwise `to_dict()`, with a warning
        naming the missing extra."""
        try:
            import xarray  # noqa: F401
        except ImportError:
            warnings.warn(
                "dataset: xarray (optional extra `sweep`) is not installed; returning "
                "to_dict() instead of an xarray.Dataset",
                stacklevel=2,
            )
            return self.to_dict()
        return self.to_xarray()


# ---------------------------------------------------------------------------- chunk work
@dataclasses.dataclass(frozen=True)
class _Task:
    """Everything a worker (thread, process, cluster node) needs for one chunk; plain
    picklable data plus the user's function. `seeds` are the points' seed values (uint32),
    from which their keys are derived. With `store` (a store folder, for workers that write
    their own results, as submitit jobs do) the worker writes the chunk there, with the
    points' `coords`, and returns the file's name. Compiled chunk functions are cached per
    process by function, static values, key type, configuration and `version`."""

    fn: Callable
    names: tuple[str, ...]
    static: tuple[tuple[str, Any], ...]
    dynamic: dict[str, np.ndarray]
    seeds: np.ndarray
    padded: int
    key_data: np.ndarray
    key_impl: str
    config: tuple[tuple[str, Any], ...]
    store: str | None = None
    spec_hash: str = ""
    coords: dict[str, np.ndarray] | None = None
    version: tuple = ()  # (label, output signature): part of the compilation cache's key


_COMPILED: dict = {}


def _point_function(fn, names, static, impl):
    """`(dynamic values, seed, key data) -> fn(point, fold_in(key, seed))` for one point."""
    static = dict(static)

    def one(dyn, seed, key_data):
        key = jax.random.fold_in(jax.random.wrap_key_data(key_data, impl=impl), seed)
        point = {n: static[n] if n in static else dyn[n] for n in names}
        out = fn(point, key)
        return dict(out) if isinstance(out, Mapping) else out

    return one


def _compiled(task: _Task):
    cache_key = (task.fn, task.names, task.static, task.key_impl, task.config, task.version)
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
    """Evaluate one chunk (vmapped, padded to `task.padded` points so that the chunks of a
    group share one compiled shape) and return numpy arrays of its real points. Runs in any
    process: it first mirrors the caller's float64 / dtype-promotion settings."""
    _apply_config(task.config)
    f = _compiled(task)
    n = len(task.seeds)
    pad = task.padded - n
    dyn = {k: np.concatenate([v, np.repeat(v[-1:], pad)]) for k, v in task.dynamic.items()}
    seeds = np.concatenate([task.seeds, np.repeat(task.seeds[-1:], pad)]).astype(np.uint32)
    out = f(dyn, seeds, task.key_data)
    return {k: np.asarray(v)[:n] for k, v in jax.device_get(out).items()}


def _job(task: _Task):
    """A submitit job: evaluate the chunk; with a store, write it there (a file on the
    shared file system, so that finished work survives the caller) and return its name,
    otherwise return the arrays."""
    arrays = evaluate_chunk(task)
    if task.store is None:
        return arrays
    assert task.coords is not None
    return Store.at(task.store, task.spec_hash).write_points(task.coords, arrays).name


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


def _shape_structs(grid: Grid):
    dyn = {
        n: jax.ShapeDtypeStruct((), jax.dtypes.canonicalize_dtype(grid.values[i].dtype))
        for i, n in enumerate(grid.names)
        if n in grid.dynamic
    }
    return dyn, jax.ShapeDtypeStruct((), jnp.uint32)


def _trace(fn, grid: Grid, group: int, key_data, impl, concrete=()):
    """`jax.eval_shape` of one point of `group`; axes in `concrete` get the group's first
    values as Python scalars (as static axes do)."""
    static = grid.group_static(group)
    first = grid.values_at(grid.group_flat(group)[:1])
    static.update({n: first[n][0].item() for n in concrete})
    dyn_struct, seed_struct = _shape_structs(grid)
    one = _point_function(fn, grid.names, tuple(static.items()), impl)
    return jax.eval_shape(one, dyn_struct, seed_struct, key_data)


def _axes_needing_static(fn, grid: Grid, group: int, key_data, impl) -> tuple[str, ...]:
    """The traced axes whose concrete values make tracing succeed: all of them, then
    pruned one by one (empty when no choice of static axes helps)."""

    def traces(concrete) -> bool:
        try:
            _trace(fn, grid, group, key_data, impl, concrete)
        except _TRACER_ERRORS:
            return False
        except Exception:  # another error once concrete: still the axes' doing
            return True
        return True

    need = list(grid.dynamic)
    if not need or not traces(need):
        return ()
    for name in list(need):
        rest = [n for n in need if n != name]
        if traces(rest):
            need = rest
    return tuple(need)


def _output_signature(fn, grid: Grid, key_data, impl) -> dict[str, tuple[tuple, Any]]:
    """Shapes and dtypes of one point's outputs, checked to agree across all static groups
    by tracing (`jax.eval_shape`), before any work. A traced axis value that reaches code
    needing a concrete number is reported with the axis names to pass in `static=`."""
    first = None
    for g in range(grid.num_groups):
        static = grid.group_static(g)
        where = ", ".join(f"{k}={v!r}" for k, v in static.items()) or "every point"
        try:
            out = _trace(fn, grid, g, key_data, impl)
        except _TRACER_ERRORS as err:
            need = _axes_needing_static(fn, grid, g, key_data, impl)
            if not need:
                err.add_note(f"sweep: while tracing fn at {where}")
                raise
            names = ("the axis " if len(need) == 1 else "the axes ") + " and ".join(
                repr(n) for n in need
            )
            raise TypeError(
                f"static: fn needs a concrete value of {names}, which it gets as a traced "
                f"JAX scalar ({type(err).__name__} while tracing it at {where}); "
                f"pass static={sorted({*grid.static, *need})!r} so that those values reach "
                "fn as Python scalars (each combination of static values compiles once)"
            ) from err
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


def _submitit_executor(executor) -> bool:
    """True for a submitit executor (checked without importing submitit)."""
    submitit = sys.modules.get("submitit")
    return submitit is not None and isinstance(executor, submitit.Executor)


def _check_executor(executor) -> None:
    if executor is None or _submitit_executor(executor):
        return
    if not hasattr(executor, "submit"):
        raise TypeError(
            "executor: expected a concurrent.futures.Executor or a submitit executor, got "
            f"{type(executor).__name__}"
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
    dyn_struct, seed_struct = _shape_structs(grid)
    for g in range(grid.num_groups):
        one = _point_function(fn, grid.names, tuple(grid.group_static(g).items()), impl)
        try:
            m = jax.jit(one).lower(dyn_struct, seed_struct, key_data).compile().memory_analysis()
            need = m.temp_size_in_bytes + m.output_size_in_bytes + m.argument_size_in_bytes
        except Exception:  # no memory analysis on this backend: outputs only, with margin
            out = jax.eval_shape(one, dyn_struct, seed_struct, key_data)
            need = 4 * sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in out.values())
        per_point = max(per_point, int(need))
    return int(max(1, min(memory_limit // per_point, grid.group_size, _MAX_AUTO_CHUNK)))


# ---------------------------------------------------------------------------- the store
def _read_store(st: Store, grid: Grid, signature, data, filled) -> tuple[int, int]:
    """Fill `data` (flat outputs) and `filled` (a mask) from the store's points that lie
    on `grid`. Returns `(points reused, corrupt files)`."""
    reused = corrupt = 0
    for path in st.files():
        try:
            coords = st.read_coords(path)
            if set(coords) != set(grid.names):
                raise CorruptFile(f"{path.name}: axes {sorted(coords)}")
            flat = grid.locate(coords)
            rows = np.flatnonzero(flat >= 0)
            rows = rows[~filled[flat[rows]]]
            if not rows.size:
                continue
            _, outputs = st.read_points(path, signature)
        except CorruptFile:
            corrupt += 1
            st.set_aside(path)
            continue
        except OutputMismatch as err:
            raise ValueError(
                f"store: {err.path} holds outputs {err.have} but fn now returns {err.want}: "
                "fn has changed in a way its source does not show (a captured value or a "
                "global?); pass label= to tell the versions apart, or use another store"
            ) from None
        rows = rows[np.unique(flat[rows], return_index=True)[1]]  # each point once
        for k in data:
            data[k][flat[rows]] = outputs[k][rows]
        filled[flat[rows]] = True
        reused += len(rows)
    return reused, corrupt


def _stored_grid_values(st: Store, layout: list[dict]) -> list[np.ndarray]:
    """The distinct values along each axis over every points file (sorted)."""
    cols: dict[str, list[np.ndarray]] = {a["name"]: [] for a in layout}
    for path in st.files():
        try:
            coords = st.read_coords(path)
        except CorruptFile as err:
            raise ValueError(f"path: {err}; run the sweep again to recompute it") from None
        for name in cols:
            if name not in coords:
                raise ValueError(f"path: {path.name} lacks the axis {name!r}")
            cols[name].append(coords[name])
    out = []
    for a in layout:
        if not cols[a["name"]]:
            raise ValueError(f"path: {st.path} holds no computed points")
        vals = np.unique(np.concatenate(cols[a["name"]]))
        out.append(vals.astype(np.dtype(a["dtype"])) if a["dtype"] != "str" else vals)
    return out


# ---------------------------------------------------------------------------- the sweep
def process_pool(max_workers: int | None = None) -> cf.ProcessPoolExecutor:
    """A `ProcessPoolExecutor` whose workers are started with 'spawn' (safe with JAX)."""
    import multiprocessing

    return cf.ProcessPoolExecutor(max_workers, mp_context=multiprocessing.get_context("spawn"))


def sweep(
    fn: Callable[[dict, PRNGKeyArray], Mapping[str, Any]],
    axes: Mapping[str, Sequence | ArrayLike] | Sequence[tuple[str, Sequence | ArrayLike]],
    *,
    key: PRNGKeyArray,
    seeds: int | Sequence[int] = 1,
    static: Sequence[str] = (),
    store: str | Path | None = None,
    chunk_size: int | None = None,
    memory_limit: int = 2**30,
    executor: Any = None,
    progress: bool | None = None,
    label: str = "",
) -> SweepResult:
    r"""Evaluate `fn(point, key)` at every point of a grid.

    The grid is the product of the named `axes` and a seed axis (`seeds`: a count, or the
    seed values), in C order with the seed axis last. `point` is a dict `{axis: value}`
    (including `"seed"`); values of `static` axes are Python scalars (use them for anything
    that changes array shapes or needs a concrete number: a width, a batch size, a model
    constructor's argument), the others JAX scalars. `fn` returns a dict of scalars or
    arrays whose keys, shapes and dtypes are the same at every point (checked with
    `jax.eval_shape` before any work).

    **Keys: the seed is a random draw.** The key handed to a point is
    `jax.random.fold_in(key, seed)`, a function of its seed value alone: the same
    `(lr, seed)` gets the same key in any grid (more seeds, more learning rates, another
    chunking), and every point with seed $s$ shares it, so all learning rates start from
    the same draw (paired comparisons, common random numbers). For independent draws per
    point, fold the other coordinates in yourself:

    ```python
    def fn(point, key):
        lr_bits = jax.lax.bitcast_convert_type(jnp.float32(point["lr"]), jnp.uint32)
        key = jax.random.fold_in(key, lr_bits)          # now (lr, seed) draws independently
        key = jax.random.fold_in(key, point["width"])   # an integer axis folds in directly
        ...
    ```

    Points with the same static values are evaluated `chunk_size` at a time under
    `jax.jit(jax.vmap(fn))`, every chunk padded to `min(chunk_size, points per static
    group)`, so that each group compiles once and a point is computed by the same program
    whether it comes in a fresh run, a resumed one or an extension of the grid (XLA may
    round differently for another batch size, so results are bit-identical for one
    `chunk_size`, and can differ in the last bits between chunk sizes). `chunk_size=None`
    takes the size recorded in the store, or else the largest chunk whose estimated memory
    (XLA's memory analysis of one point, times the chunk size) fits `memory_limit` bytes,
    at most 4096.

    **Store, keyed per point.** With `store=ROOT`, computed points are written atomically
    to `ROOT/<spec hash>/points-*.npz` with their coordinates and a SHA-256 of the content.
    The specification is what a point's result depends on besides its coordinates: the
    function's qualified name and source text, the key, the float64 setting, `label` and
    the grid's layout (axis names, value types and static flags, in order); any change
    gives a different folder, so results are never mixed. Axis *values* are not part of
    it: a run reads back every point of its grid already in the folder, matched by its
    exact coordinates, and computes only the others, so extending or refining a grid, adding
    seeds or taking a sub-grid reuses all the work done (see `SweepResult.stats`). A killed
    run loses at most its unfinished chunks; damaged files are detected and their points
    recomputed. Values a function captures from outside (closures, globals) are not part of
    the specification: put them in `label` or on an axis.

    **Execution.** In this process by default. With `executor` = any
    `concurrent.futures.Executor` (`process_pool(n)`, a Dask `client.get_executor()`),
    chunks are submitted as tasks and written by this process as they finish. With a
    submitit executor (`submitit.AutoExecutor(folder)`: SLURM on a cluster, local
    processes elsewhere), the chunks go out as one job array, one job per chunk; each job
    writes its chunk into the store itself (give a `store` on a file system the nodes
    share), so finished jobs are kept even if this process stops, and running the same
    sweep again reuses them. `fn` must be importable by the workers (a module-level
    function).

    **Arguments:**
    - `fn`: the function `(point: dict, key) -> dict` of scalars/arrays.
    - `axes`: `{name: values}` or `[(name, values), ...]`; 1-D, non-empty, distinct values.
    - `key` (keyword-only): the sweep's base key.
    - `seeds` (keyword-only): number of seeds (values 0..n-1) or a sequence of distinct
      seeds in [0, 2**32).
    - `static` (keyword-only): names of the axes (`"seed"` allowed) passed as Python
      scalars. A traced value reaching code that needs a concrete number raises a
      `TypeError` naming the axes to list here.
    - `store` (keyword-only): root folder of the result store; None keeps nothing.
    - `chunk_size`, `memory_limit` (keyword-only): see above.
    - `executor` (keyword-only): where chunks run; None for this process.
    - `progress` (keyword-only): progress with ETA in points (tqdm on a terminal if
      installed, whole lines without carriage returns on anything else); None shows it
      only when stderr is a terminal.
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
        "format": FORMAT,
        "axes": grid.layout(),
        "key": {"impl": impl, "data": key_data.tolist()},
        "function": _function_id(fn),
        "x64": bool(jax.config.jax_enable_x64),
        "label": label,
    }
    n = grid.num_points
    flat_data = {
        k: np.empty((n, *shape), dtype=np.dtype(dt)) for k, (shape, dt) in signature.items()
    }
    filled = np.zeros(n, dtype=bool)
    reused = corrupt = 0
    st = None
    if store is not None:
        st = Store(store, spec)
        manifest = st.read_manifest()
        if chunk_size is None and manifest is not None:
            chunk_size = int(manifest["chunk_size"])
        st.remove_stale_temporaries()
        reused, corrupt = _read_store(st, grid, signature, flat_data, filled)

    todo = ~filled
    chunks: list[Chunk] = []
    padded: dict[int, int] = {}
    if todo.any():
        if chunk_size is None:
            chunk_size = _auto_chunk_size(fn, grid, key_data, impl, memory_limit)
        chunks = grid.chunks(chunk_size, todo)
        # every chunk is padded to the size a run of the whole grid would use, so that a
        # point is computed by the same program whichever points were already stored
        padded = {c.group: min(chunk_size, grid.group_size) for c in chunks}
        if st is not None:
            st.write_manifest(chunk_size)

    worker_writes = st is not None and _submitit_executor(executor)
    version = (label, tuple(sorted(signature.items())))

    def task(c: Chunk) -> _Task:
        coords = grid.values_at(c.flat)
        return _Task(
            fn=fn,
            names=grid.names,
            static=tuple(grid.group_static(c.group).items()),
            dynamic={k: coords[k] for k in grid.dynamic},
            seeds=coords[SEED].astype(np.uint32),
            padded=padded[c.group],
            key_data=key_data,
            key_impl=impl,
            config=config,
            store=str(st.path.resolve()) if worker_writes else None,
            spec_hash=st.hash if worker_writes else "",
            coords=coords if worker_writes else None,
            version=version,
        )

    def fill(c: Chunk, arrays: dict[str, np.ndarray]) -> None:
        for k, a in arrays.items():
            flat_data[k][c.flat] = a

    def finish(c: Chunk, arrays: dict[str, np.ndarray]) -> None:
        if st is not None:
            st.write_points(grid.values_at(c.flat), arrays)
        fill(c, arrays)

    bar = make_progress(progress, n, reused, "sweep")
    try:
        if not chunks:
            pass
        elif executor is None:
            for c in chunks:
                try:
                    finish(c, evaluate_chunk(task(c)))
                except Exception as err:
                    err.add_note(f"sweep: while computing chunk {c.index} (group {c.group})")
                    raise
                bar.update(c.size)
        elif _submitit_executor(executor):
            from ._submitit import run_jobs

            def done(c: Chunk, out) -> None:
                if isinstance(out, str):  # the job wrote the chunk into the store
                    _, arrays = st.read_points(st.path / out, signature)
                    fill(c, arrays)
                else:
                    finish(c, out)
                bar.update(c.size)

            run_jobs(executor, _job, [(c, task(c)) for c in chunks], done)
        else:
            futures = {executor.submit(evaluate_chunk, task(c)): c for c in chunks}
            try:
                for fut in cf.as_completed(futures):
                    c = futures[fut]
                    try:
                        arrays = fut.result()
                    except Exception as err:
                        err.add_note(f"sweep: while computing chunk {c.index} (group {c.group})")
                        raise
                    finish(c, arrays)
                    bar.update(c.size)
            finally:
                for fut in futures:
                    fut.cancel()
    finally:
        bar.close()

    data = {k: v.reshape(*grid.shape, *v.shape[1:]) for k, v in flat_data.items()}
    stats = SweepStats(
        points=n,
        computed=int(todo.sum()),
        reused=reused,
        chunks=len(chunks),
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


def load(
    path: str | Path,
    axes: Mapping[str, Sequence | ArrayLike]
    | Sequence[tuple[str, Sequence | ArrayLike]]
    | None = None,
    *,
    seeds: int | Sequence[int] | None = None,
) -> SweepResult:
    """Read a sweep back from its store folder (`SweepResult.store`, the folder holding
    `manifest.json`) without the function, each file checked against its header and
    content hash.

    Without `axes`, the grid is the product of the values stored along each axis (sorted);
    with `axes` (and `seeds`; None: every stored seed), that grid. Raises `ValueError` when
    points of the grid are missing (run the sweep to compute them) or a file is damaged."""
    import json

    t0 = time.perf_counter()
    folder = Path(path)
    manifest = folder / "manifest.json"
    try:
        body = json.loads(manifest.read_text())
        spec = body["spec"]
        layout = spec["axes"]
        names = tuple(a["name"] for a in layout)
        static = tuple(a["name"] for a in layout if a["static"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"path: {folder} holds no readable sweep manifest ({err})") from None
    st = Store(folder.parent, spec)
    if st.path.resolve() != folder.resolve():
        raise ValueError(f"path: {folder} does not match its manifest's specification hash")
    stored = _stored_grid_values(st, layout)
    if axes is None:
        grid = Grid(names, tuple(stored), static)
    else:
        if seeds is None:
            seeds = stored[names.index(SEED)]
        given = [n for n, _ in (axes.items() if isinstance(axes, Mapping) else axes)]
        grid = Grid.build(axes, seeds=seeds, static=[s for s in static if s in given])
        if grid.layout() != layout:
            raise ValueError(f"axes: the grid's axes {grid.layout()} are not the store's {layout}")
    data: dict[str, np.ndarray] = {}
    filled = np.zeros(grid.num_points, dtype=bool)
    for p in st.files():
        try:
            coords, outputs = st.read_points(p, None)
        except CorruptFile as err:
            raise ValueError(f"path: {err}; run the sweep again to recompute it") from None
        if not data:
            data = {
                k: np.empty((grid.num_points, *v.shape[1:]), v.dtype) for k, v in outputs.items()
            }
        elif {k: (v.shape[1:], v.dtype) for k, v in outputs.items()} != {
            k: (v.shape[1:], v.dtype) for k, v in data.items()
        }:
            raise ValueError(f"path: {p.name} holds other outputs than the other files")
        flat = grid.locate(coords)
        rows = np.flatnonzero(flat >= 0)
        for k in data:
            data[k][flat[rows]] = outputs[k][rows]
        filled[flat[rows]] = True
    missing = int((~filled).sum())
    if missing:
        first = grid.values_at(np.flatnonzero(~filled)[:1])
        example = ", ".join(f"{k}={v[0].item()!r}" for k, v in first.items())
        hint = "" if axes is not None else "; pass axes= (and seeds=) to load a sub-grid"
        raise ValueError(
            f"path: {missing} of {grid.num_points} points of the grid are missing from "
            f"{folder} (for example {example}); run the sweep to compute them{hint}"
        )
    stats = SweepStats(
        points=grid.num_points,
        computed=0,
        reused=grid.num_points,
        chunks=0,
        corrupt=0,
        chunk_size=None,
        seconds=time.perf_counter() - t0,
    )
    return SweepResult(
        coords=grid.coords(),
        data={k: v.reshape(*grid.shape, *v.shape[1:]) for k, v in data.items()},
        stats=stats,
        spec_hash=st.hash,
        store=st.path,
    )
