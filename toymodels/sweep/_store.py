"""The on-disk result store, keyed per point: a manifest and `.npz` files of computed points.

Layout under the store root (the `store=` argument of `sweep`)::

    ROOT/<spec hash, 16 hex>/manifest.json            the sweep's specification
    ROOT/<spec hash, 16 hex>/points-<16 hex>.npz      some points: their axis values,
                                                      their outputs and a JSON header

The specification names what a point's result depends on besides its coordinates: the
function (qualified name and source), the base key, the float64 setting, the label, and the
grid's layout (axis names, value types and static flags, in order) but not the axis values.
A changed specification goes to a new folder and is never mixed with old results; a grid
with other values along its axes (extended, refined, a sub-grid, more seeds) shares the
folder and reuses every point already there, matched by its exact coordinates.

Each points file holds the coordinates of its points (`__axis__<name>`, one value per
point), the outputs (`<name>`, first dimension the points) and `__meta__`: the spec hash,
a SHA-256 of the coordinates (whose first 16 hex digits name the file) and a SHA-256 of the
whole content. Files are written to a temporary name in the same folder, flushed and renamed
with `os.replace` (atomic on POSIX), so a killed run leaves whole files or none. A file that
cannot be read, or whose header, name or hash does not match, is corrupt: its points count
as missing (they are recomputed) and it is renamed `<name>.corrupt`, out of the way. Only
`json` and `numpy.savez` (loaded with `allow_pickle=False`) are used.
"""

import hashlib
import json
import os
import socket
import uuid
from pathlib import Path

import numpy as np


FORMAT = 2
_META = "__meta__"
_AXIS = "__axis__"
_PREFIX = "points-"


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def spec_hash(spec: dict) -> str:
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def content_hash(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(canonical_json([name, a.dtype.str, list(a.shape)]).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def points_hash(coords: dict[str, np.ndarray]) -> str:
    """SHA-256 of the points' coordinates: axis names and exact values (floats by their
    bits), independent of the width of a string dtype."""
    h = hashlib.sha256()
    for name in sorted(coords):
        a = np.asarray(coords[name])
        if a.dtype.kind == "U":
            h.update(canonical_json([name, "str", a.tolist()]).encode())
        else:
            a = np.ascontiguousarray(a)
            h.update(canonical_json([name, a.dtype.str, list(a.shape)]).encode())
            h.update(a.tobytes())
    return h.hexdigest()


def _host() -> str:
    """This machine's name, made safe for a file name (temporaries are tagged with it, so
    that only their own machine judges whether their writer is still alive)."""
    return "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:64] or "host"


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # pragma: no cover - e.g. platforms without directory fsync
        pass


class CorruptFile(Exception):
    """A points file exists but cannot be trusted."""


class Store:
    """One sweep's folder: `manifest.json` and the points files.

    Build it from a root and a specification (`Store(root, spec)`), or from an existing
    folder with `Store.at(folder)` (the hash is the folder's name, checked by `open`)."""

    def __init__(self, root, spec: dict):
        try:
            root = Path(root)
        except TypeError:
            raise TypeError(f"store: expected a path, got {type(root).__name__}") from None
        if root.exists() and not root.is_dir():
            raise ValueError(f"store: {root} exists and is not a folder")
        self.spec = spec
        self.hash = spec_hash(spec)
        self.root = root
        self.path = root / self.hash[:16]

    @classmethod
    def at(cls, folder, spec_hash_: str) -> "Store":
        """The store in `folder` (a worker's view: the caller has checked the manifest)."""
        st = cls.__new__(cls)
        st.path = Path(folder)
        st.root = st.path.parent
        st.hash = spec_hash_
        st.spec = None
        return st

    # ---------------------------------------------------------------- manifest
    def read_manifest(self) -> dict | None:
        """The manifest of an existing folder, checked against this specification; None
        for a new store."""
        manifest = self.path / "manifest.json"
        if not manifest.exists():
            return None
        try:
            stored = json.loads(manifest.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"store: cannot read {manifest} ({err}); remove that folder") from None
        if stored.get("spec_hash") != self.hash or stored.get("spec") != json.loads(
            canonical_json(self.spec)
        ):
            raise ValueError(
                f"store: {self.path} holds a different sweep (spec hash "
                f"{stored.get('spec_hash')!r}, this sweep's is {self.hash!r}); refusing to mix them"
            )
        return stored

    def write_manifest(self, chunk_size: int) -> None:
        """Create the folder and its manifest (once; `chunk_size` is the default for later
        runs that pass `chunk_size=None`)."""
        self.path.mkdir(parents=True, exist_ok=True)
        manifest = self.path / "manifest.json"
        if manifest.exists():
            return
        body = {
            "format": FORMAT,
            "spec_hash": self.hash,
            "spec": self.spec,
            "chunk_size": chunk_size,
        }
        text = json.dumps(body, indent=1, sort_keys=True, allow_nan=False).encode()
        _atomic_write(manifest, lambda f: f.write(text))

    # ---------------------------------------------------------------- points files
    def files(self) -> list[Path]:
        """The points files, in name order (a point stored twice is taken from the first)."""
        if not self.path.exists():
            return []
        return sorted(self.path.glob(f"{_PREFIX}*.npz"))

    def write_points(self, coords: dict[str, np.ndarray], arrays: dict[str, np.ndarray]) -> Path:
        """Write computed points (their coordinates and outputs) as one file; returns its
        path. The name is derived from the coordinates, so the same points computed again
        replace the file instead of adding one."""
        coords = {k: np.asarray(v) for k, v in coords.items()}
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        p_hash = points_hash(coords)
        payload = {f"{_AXIS}{k}": v for k, v in coords.items()}
        payload.update(arrays)
        meta = {
            "format": FORMAT,
            "spec_hash": self.hash,
            "num_points": int(len(next(iter(coords.values())))),
            "points_sha256": p_hash,
            "content_sha256": content_hash(payload),
        }
        payload[_META] = np.asarray(canonical_json(meta))
        path = self.path / f"{_PREFIX}{p_hash[:16]}.npz"
        _atomic_write(path, lambda f: np.savez(f, **payload))
        return path

    def read_coords(self, path: Path) -> dict[str, np.ndarray]:
        """The coordinates stored in a points file (its outputs are not read); raises
        `CorruptFile` when they cannot be read."""
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k[len(_AXIS) :]: z[k] for k in z.files if k.startswith(_AXIS)}
        except Exception as err:  # zip/zlib/format errors: a damaged file
            raise CorruptFile(f"{path.name}: unreadable ({type(err).__name__}: {err})") from None

    def read_points(
        self, path: Path, expected: dict[str, tuple] | None
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """`(coords, outputs)` of a points file, checked: its header (spec hash, name),
        its content hash and (when `expected` maps output names to `(shape, dtype)` of one
        point) its outputs. Raises `CorruptFile` for a damaged file and `OutputMismatch`
        for an intact file whose outputs are not those the function returns now."""
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z[_META][()]))
                payload = {k: z[k] for k in z.files if k != _META}
        except Exception as err:
            raise CorruptFile(f"{path.name}: unreadable ({type(err).__name__}: {err})") from None
        if meta.get("spec_hash") != self.hash:
            raise CorruptFile(f"{path.name}: header spec_hash={meta.get('spec_hash')!r}")
        if content_hash(payload) != meta.get("content_sha256"):
            raise CorruptFile(f"{path.name}: content hash mismatch")
        coords = {k[len(_AXIS) :]: v for k, v in payload.items() if k.startswith(_AXIS)}
        outputs = {k: v for k, v in payload.items() if not k.startswith(_AXIS)}
        p_hash = points_hash(coords)
        if p_hash != meta.get("points_sha256") or path.name != f"{_PREFIX}{p_hash[:16]}.npz":
            raise CorruptFile(f"{path.name}: its name or header does not match its points")
        n = int(meta.get("num_points", -1))
        if any(len(v) != n for v in (*coords.values(), *outputs.values())):
            raise CorruptFile(f"{path.name}: arrays do not all hold {n} points")
        if expected is not None:
            have = {k: (tuple(v.shape[1:]), v.dtype.str) for k, v in outputs.items()}
            want = {k: (tuple(s), np.dtype(d).str) for k, (s, d) in expected.items()}
            if have != want:
                raise OutputMismatch(path, have, want)
        return coords, outputs

    def set_aside(self, path: Path) -> None:
        """Rename a corrupt file `<name>.corrupt` (kept for inspection, no longer read)."""
        try:
            os.replace(path, path.with_name(path.name + ".corrupt"))
        except OSError:  # pragma: no cover - gone already, or a read-only store
            pass

    def remove_stale_temporaries(self) -> None:
        """Delete temporary files left by dead processes of this machine (those written on
        other machines, such as cluster nodes sharing the folder, are left alone)."""
        if not self.path.exists():
            return
        host = _host()
        for p in self.path.glob(".*.tmp-*"):
            try:
                h, pid, _ = p.name.rsplit(".tmp-", 1)[1].rsplit("-", 2)
                pid = int(pid)
            except ValueError:
                continue
            if h == host and pid != os.getpid() and not _alive(pid):
                p.unlink(missing_ok=True)


class OutputMismatch(Exception):
    """An intact points file whose outputs differ from what the function returns now."""

    def __init__(self, path: Path, have: dict, want: dict):
        super().__init__(path, have, want)
        self.path, self.have, self.want = path, have, want


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
