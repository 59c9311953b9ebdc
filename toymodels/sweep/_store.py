"""The on-disk result store: a manifest and one `.npz` file per finished chunk.

Layout under the store root (the `store=` argument of `sweep`)::

    ROOT/<spec hash, 16 hex>/manifest.json      the sweep's specification and chunk layout
    ROOT/<spec hash, 16 hex>/chunk-000012.npz   outputs of chunk 12 + a JSON header

A sweep lives in the folder named after the hash of its specification, so a changed
specification (grid, seeds, key, function source, label) goes to a new folder and is never
mixed with old chunks. Every file is written to a temporary name in the same folder, flushed
to disk and renamed with `os.replace` (atomic on POSIX), so a killed run leaves either a
whole chunk or none. Each chunk carries the spec hash and a SHA-256 of its arrays; a chunk
that cannot be read, or whose header or hash does not match, is counted as corrupt and
recomputed. Only `json` and `numpy.savez` (loaded with `allow_pickle=False`) are used.
"""

import hashlib
import json
import os
import uuid
from pathlib import Path

import numpy as np


FORMAT = 1
_META = "__meta__"


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


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
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


class Store:
    """One sweep's folder: `manifest.json` and the chunk files."""

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

    # ---------------------------------------------------------------- manifest
    def open(self, chunk_size: int | None) -> int | None:
        """Create the folder or check the manifest of an existing one. Returns the chunk
        size recorded there (None for a new store)."""
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
        stored_cs = int(stored["chunk_size"])
        if chunk_size is not None and chunk_size != stored_cs:
            raise ValueError(
                f"chunk_size: the store {self.path} was written with chunk_size={stored_cs}; "
                f"pass chunk_size={stored_cs} (or None) to resume it, or use another store"
            )
        return stored_cs

    def write_manifest(self, chunk_size: int, num_chunks: int) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        manifest = self.path / "manifest.json"
        if manifest.exists():
            return
        body = {
            "format": FORMAT,
            "spec_hash": self.hash,
            "spec": self.spec,
            "chunk_size": chunk_size,
            "num_chunks": num_chunks,
        }
        text = json.dumps(body, indent=1, sort_keys=True, allow_nan=False).encode()
        _atomic_write(manifest, lambda f: f.write(text))

    # ---------------------------------------------------------------- chunks
    def chunk_path(self, index: int) -> Path:
        return self.path / f"chunk-{index:06d}.npz"

    def write_chunk(self, chunk, arrays: dict[str, np.ndarray]) -> None:
        meta = {
            "format": FORMAT,
            "spec_hash": self.hash,
            "chunk": chunk.index,
            "group": chunk.group,
            "start": chunk.start,
            "stop": chunk.stop,
            "content_sha256": content_hash(arrays),
        }
        payload = {k: np.asarray(v) for k, v in arrays.items()}
        payload[_META] = np.asarray(canonical_json(meta))
        _atomic_write(self.chunk_path(chunk.index), lambda f: np.savez(f, **payload))

    def read_chunk(self, chunk, expected: dict[str, tuple]) -> dict[str, np.ndarray] | None:
        """The chunk's arrays, or None when the file is missing; raises `CorruptChunk` when
        it exists but is truncated, altered, or belongs to something else.

        `expected` maps each output name to `(shape, dtype)` of one point."""
        path = self.chunk_path(chunk.index)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z[_META][()]))
                arrays = {k: z[k] for k in z.files if k != _META}
        except Exception as err:  # zip/zlib/format errors: a damaged file
            raise CorruptChunk(f"{path.name}: unreadable ({type(err).__name__}: {err})") from None
        want = {
            "spec_hash": self.hash,
            "chunk": chunk.index,
            "group": chunk.group,
            "start": chunk.start,
            "stop": chunk.stop,
        }
        for k, v in want.items():
            if meta.get(k) != v:
                raise CorruptChunk(f"{path.name}: header {k}={meta.get(k)!r}, expected {v!r}")
        if set(arrays) != set(expected):
            raise CorruptChunk(f"{path.name}: outputs {sorted(arrays)} != {sorted(expected)}")
        for k, (shape, dtype) in expected.items():
            a = arrays[k]
            if a.shape != (chunk.size, *shape) or a.dtype != np.dtype(dtype):
                raise CorruptChunk(f"{path.name}: output {k!r} has {a.dtype}{a.shape}")
        if content_hash(arrays) != meta.get("content_sha256"):
            raise CorruptChunk(f"{path.name}: content hash mismatch")
        return arrays

    def remove_stale_temporaries(self) -> None:
        """Delete temporary files left by dead processes on this machine."""
        if not self.path.exists():
            return
        for p in self.path.glob(".*.tmp-*"):
            try:
                pid = int(p.name.rsplit(".tmp-", 1)[1].split("-")[0])
            except (IndexError, ValueError):
                continue
            if pid != os.getpid() and not _alive(pid):
                p.unlink(missing_ok=True)


class CorruptChunk(Exception):
    """A chunk file exists but cannot be trusted."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
