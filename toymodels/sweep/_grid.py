"""The grid of a sweep: named axes (some static), a seed axis, the point order and chunks."""

import dataclasses
import keyword
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


SEED = "seed"
MAX_SEED = 2**32 - 1  # seeds are folded into keys as uint32


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Points of one static group evaluated together: `flat` are their flat indices in the
    grid, in C order of the dynamic axes."""

    index: int
    group: int
    flat: np.ndarray = dataclasses.field(repr=False, compare=False)

    @property
    def size(self) -> int:
        return len(self.flat)


@dataclasses.dataclass(frozen=True, eq=False)
class Grid:
    r"""The product of named axes and a seed axis, in C order (the seed axis last).

    Point $p$ with multi-index $(i_1, \dots, i_k, i_\text{seed})$ has flat index
    $\operatorname{ravel}(i_1, \dots, i_k, i_\text{seed})$ (C order). Its key is
    `jax.random.fold_in(base_key, seed)`, a function of its seed value alone: it does not
    depend on the other axes, on the grid's size, on the chunking or on where a chunk runs.

    Static axes (for example a layer width, which changes array shapes) are passed to the
    user function as Python scalars; the grid is split into groups, one per combination of
    static values, and points of one group are evaluated together under `jax.vmap`. The other
    axes (and the seed) are passed as JAX scalars.
    """

    names: tuple[str, ...]
    values: tuple[np.ndarray, ...]
    static: tuple[str, ...]

    @classmethod
    def build(cls, axes: Any, *, seeds: Any = 1, static: Sequence[str] = ()) -> "Grid":
        pairs = _axis_pairs(axes)
        names: list[str] = []
        values: list[np.ndarray] = []
        static_set = _static_names(static)
        for name, vals in pairs:
            if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
                raise ValueError(f"axes: axis names must be identifiers, got {name!r}")
            if name == SEED:
                raise ValueError(f"axes: the name {SEED!r} is reserved for the seed axis (seeds=)")
            if name in names:
                raise ValueError(f"axes: duplicate axis name {name!r}")
            names.append(name)
            values.append(_axis_values(name, vals, static=name in static_set))
        names.append(SEED)
        values.append(_seed_values(seeds))
        for s in static_set:
            if s not in names:
                raise ValueError(f"static: {s!r} is not an axis name (axes are {names})")
        return cls(tuple(names), tuple(values), tuple(n for n in names if n in static_set))

    # ------------------------------------------------------------------ shape
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.values)

    @property
    def num_points(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def dynamic(self) -> tuple[str, ...]:
        return tuple(n for n in self.names if n not in self.static)

    def coords(self) -> dict[str, np.ndarray]:
        return dict(zip(self.names, self.values))

    # ------------------------------------------------------------------ groups
    @property
    def _static_axes(self) -> tuple[int, ...]:
        return tuple(self.names.index(n) for n in self.static)

    @property
    def num_groups(self) -> int:
        return int(np.prod([self.shape[i] for i in self._static_axes], dtype=np.int64))

    @property
    def group_size(self) -> int:
        return self.num_points // self.num_groups

    def group_static(self, group: int) -> dict[str, Any]:
        """The static values (Python scalars) of a group."""
        sshape = tuple(self.shape[i] for i in self._static_axes)
        idx = np.unravel_index(group, sshape) if sshape else ()
        return {n: self.values[self.names.index(n)][i].item() for n, i in zip(self.static, idx)}

    def group_flat(self, group: int) -> np.ndarray:
        """Flat indices of a group's points, in C order of the dynamic axes."""
        sshape = tuple(self.shape[i] for i in self._static_axes)
        sidx = np.unravel_index(group, sshape) if sshape else ()
        ranges = []
        it = iter(sidx)
        for i, n in enumerate(self.names):
            ranges.append(np.array([next(it)]) if n in self.static else np.arange(self.shape[i]))
        mesh = np.meshgrid(*ranges, indexing="ij")
        return np.ravel_multi_index(tuple(m.ravel() for m in mesh), self.shape).astype(np.int64)

    def dynamic_values(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Values of the dynamic axes at the given flat indices."""
        idx = np.unravel_index(flat, self.shape)
        return {n: self.values[i][idx[i]] for i, n in enumerate(self.names) if n in self.dynamic}

    def values_at(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Values of every axis (static ones included) at the given flat indices."""
        idx = np.unravel_index(flat, self.shape)
        return {n: self.values[i][idx[i]] for i, n in enumerate(self.names)}

    def chunks(self, chunk_size: int, todo: np.ndarray | None = None) -> list[Chunk]:
        """The points to compute (`todo`, a boolean mask over flat indices; all by default),
        group by group, `chunk_size` at a time in C order of the dynamic axes."""
        out: list[Chunk] = []
        for g in range(self.num_groups):
            flat = self.group_flat(g)
            if todo is not None:
                flat = flat[todo[flat]]
            for start in range(0, len(flat), chunk_size):
                out.append(Chunk(len(out), g, flat[start : start + chunk_size]))
        return out

    def locate(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Flat indices in this grid of points given by their axis values (`columns[name]`,
        one array per axis, all of one length); -1 for points not on the grid. Values match
        exactly (floats by their bits, so 0.0 and -0.0 are different points)."""
        n = len(next(iter(columns.values()))) if columns else 0
        idx = []
        for name, vals in zip(self.names, self.values):
            col = np.asarray(columns[name])
            lookup = {v: i for i, v in enumerate(_exact(vals).tolist())}
            uniq, inverse = np.unique(_exact(col), return_inverse=True)
            where = np.array([lookup.get(u, -1) for u in uniq.tolist()], dtype=np.int64)
            idx.append(where[inverse.reshape(-1)] if n else np.zeros(0, np.int64))
        if not idx:
            return np.zeros(n, np.int64)
        stacked = np.stack(idx)
        ok = np.all(stacked >= 0, axis=0)
        flat = np.full(n, -1, dtype=np.int64)
        if ok.any():
            flat[ok] = np.ravel_multi_index(tuple(stacked[:, ok]), self.shape)
        return flat

    def layout(self) -> list[dict]:
        """The axes without their values (names, value types, static flags, in order): the
        part of a grid that identifies a sweep's store. Values are not part of it, so a grid
        extended or refined along any axis shares the store of the original."""
        return [
            {"name": n, "dtype": _dtype_id(v), "static": n in self.static}
            for n, v in zip(self.names, self.values)
        ]


def _dtype_id(values: np.ndarray) -> str:
    return "str" if values.dtype.kind == "U" else values.dtype.str


def _exact(values: np.ndarray) -> np.ndarray:
    """Values in a form whose equality is exact identity: floats as their bit patterns."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return values.view(f"u{values.dtype.itemsize}")
    return values


def _axis_pairs(axes: Any) -> list[tuple[Any, Any]]:
    if isinstance(axes, Mapping):
        return list(axes.items())
    if isinstance(axes, str | bytes) or not isinstance(axes, Sequence):
        raise TypeError(
            "axes: expected a mapping {name: values} or a sequence of (name, values) pairs, "
            f"got {type(axes).__name__}"
        )
    pairs = []
    for item in axes:
        if not (isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2):
            raise TypeError(f"axes: expected (name, values) pairs, got {item!r}")
        pairs.append((item[0], item[1]))
    return pairs


def _static_names(static: Any) -> tuple[str, ...]:
    if isinstance(static, str):
        static = (static,)
    try:
        names = tuple(static)
    except TypeError:
        raise TypeError(f"static: expected a sequence of axis names, got {static!r}") from None
    if len(set(names)) != len(names):
        raise ValueError(f"static: duplicate names in {names}")
    return names


def _axis_values(name: str, vals: Any, *, static: bool) -> np.ndarray:
    try:
        arr = np.asarray(vals)
    except Exception as err:
        raise TypeError(f"axes: axis {name!r} cannot be made an array ({err})") from None
    if arr.ndim != 1:
        raise ValueError(
            f"axes: axis {name!r} must be a 1-D sequence of values, got shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"axes: axis {name!r} is empty")
    kind = arr.dtype.kind
    allowed = "biuf" + ("U" if static else "")
    if kind not in allowed:
        what = "numbers or strings" if static else "numbers (strings need static=)"
        raise TypeError(f"axes: axis {name!r} must hold {what}, got dtype {arr.dtype}")
    if kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"axes: axis {name!r} has non-finite values")
    if len(np.unique(arr)) != arr.size:
        raise ValueError(f"axes: axis {name!r} has duplicate values {arr.tolist()}")
    return arr


def _seed_values(seeds: Any) -> np.ndarray:
    if isinstance(seeds, bool):
        raise TypeError(f"seeds: expected an int or a sequence of ints, got {seeds!r}")
    if isinstance(seeds, int | np.integer):
        if seeds < 1:
            raise ValueError(f"seeds: need at least one seed, got {seeds}")
        if seeds > MAX_SEED + 1:
            raise ValueError(
                f"seeds: at most {MAX_SEED + 1} seeds (values are uint32), got {seeds}"
            )
        return np.arange(int(seeds), dtype=np.int64)
    arr = np.asarray(seeds)
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
        raise ValueError(
            f"seeds: expected an int or a non-empty 1-D sequence of ints, got {seeds!r}"
        )
    if len(np.unique(arr)) != arr.size:
        raise ValueError(f"seeds: duplicate seeds {arr.tolist()}")
    if arr.min() < 0 or arr.max() > MAX_SEED:
        raise ValueError(f"seeds: must be in [0, 2**32), got {arr.tolist()}")
    return arr.astype(np.int64)
