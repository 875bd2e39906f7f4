"""The Edge engine's folder: atomic files, the lock, whole-or-absent collections, damage
reported without touching data, free space checked before Edge needs it. Layout::

    <root>/qdrant-tokenpool-edge.json          marker: this layout's version
    <root>/.lock                               held while a client has the folder open
    <root>/collections/<name>/shard/           the collection's Edge shard
    <root>/collections/<name>/collection.json  its config as created + metadata
    <root>/.creating-<hex>/, .deleted-<hex>/   a creation or deletion under way

A collection is built in ``.creating-<hex>`` and renamed into place, and renamed out
before it is deleted: ``collections/<name>`` without a valid ``collection.json`` is damage,
reported (:class:`DamagedCollectionError`), never deleted. Writes, opens and creations
check free space first: a full disk is an error, not a SIGBUS.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import qdrant_edge as E
from qdrant_client import models

from .. import EDGE_MARKER, DamagedCollectionError, StorageFullError, StorageLockedError
from ..checks import VectorsSchema
from .errors import edge_errors

__all__ = [
    "FREE_MARGIN",
    "SIDECAR",
    "STORAGE_FORMAT",
    "CollectionFolder",
    "FolderLock",
    "allocated_bytes",
    "check_free_space",
    "clean_leftovers",
    "commit_collection_folder",
    "create_collection_folder",
    "edge_version",
    "free_bytes",
    "fsync_dir",
    "open_folder",
    "open_needed",
    "read_sidecar",
    "release_folder",
    "space_errors",
    "trash_folder",
    "write_json_atomic",
    "write_needed",
]

STORAGE_FORMAT = 1
"""Version of this folder layout (marker file and sidecars), not of Edge's shard format."""

SIDECAR = "collection.json"
"""A collection's sidecar: its config as created (qdrant-client's form) and metadata."""

_HEX = "[0-9a-f]{32}"
_LEFTOVER_FOLDER = re.compile(rf"\.(creating|deleted)-{_HEX}")
_LEFTOVER_FILE = re.compile(rf"\.(collection|qdrant-tokenpool-edge)\.json\.{_HEX}\.tmp")


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (a rename, a new file) durable (POSIX; a no-op elsewhere)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path``: readers see the old or the new file, never a part."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


class FolderLock:
    """An exclusive OS lock on ``<root>/.lock`` (portalocker, as qdrant-client's local mode
    locks its folder) held while the client is open, across processes and clients."""

    def __init__(self, root: Path) -> None:
        import portalocker  # not at import: it checks for writable folders when imported

        self.path = root / ".lock"
        self._fh: Any = open(self.path, "a+")  # noqa: SIM115 - held for the client's life
        try:
            portalocker.lock(
                self._fh, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING
            )
        except portalocker.exceptions.LockException:
            self._fh.seek(0)
            holder = self._fh.read().strip()
            self._fh.close()
            raise StorageLockedError(
                f"Storage folder {str(root)!r} is already accessed by another instance of "
                "Qdrant client (Qdrant Edge" + (f", {holder}" if holder else "") + "). "
                "Close that client first. If you require concurrent access, use Qdrant "
                "server instead (url=...)."
            ) from None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"pid {os.getpid()}")
        self._fh.flush()

    def release(self) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        import portalocker

        with contextlib.suppress(Exception):
            portalocker.unlock(fh)
        fh.close()


def clean_leftovers(root: Path) -> list[Path]:
    """Remove what a killed writer left (with the folder lock held): the ``.creating-`` /
    ``.deleted-`` folders of ``root`` and :func:`write_json_atomic`'s temporary files, by
    their exact names. Returns what was removed."""
    removed: list[Path] = []
    folders = [root]
    collections = root / "collections"
    if collections.is_dir():
        folders += [f for f in collections.iterdir() if f.is_dir()]
    for folder in folders:
        for entry in folder.iterdir():
            if folder == root and entry.is_dir() and _LEFTOVER_FOLDER.fullmatch(entry.name):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
            elif entry.is_file() and _LEFTOVER_FILE.fullmatch(entry.name):
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed.append(entry)
    return removed


def _damaged(folder: Path, problem: str, fix: str | None = None) -> DamagedCollectionError:
    name = folder.name
    return DamagedCollectionError(
        f"collection {name!r} is damaged: {problem}. Nothing of it was changed; the other "
        "collections of the folder are usable. "
        + (
            fix
            or f"Restore {str(folder / SIDECAR)!r} from a backup of the folder to use it again, "
            f"or delete_collection({name!r}) to remove it with its points."
        )
    )


def read_sidecar(folder: Path) -> dict[str, Any]:
    """A collection folder's sidecar, checked (its ``vectors``, ``sparse_vectors`` and
    ``metadata``), and that the folder holds a ``shard``.

    Raises:
        DamagedCollectionError: naming the file and what is wrong with it.
    """
    side = folder / SIDECAR
    if not side.is_file():
        raise _damaged(folder, f"{str(side)!r} (its config and metadata) is missing")
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _damaged(folder, f"{str(side)!r} is not readable JSON ({exc})") from None
    try:
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")  # noqa: TRY004 - reported as damage
        if not isinstance(data.get("vectors") or {}, Mapping):
            raise ValueError("'vectors' is not an object")  # noqa: TRY004
        for key in ("sparse_vectors", "metadata"):
            if data.get(key) is not None and not isinstance(data[key], Mapping):
                raise ValueError(f"{key!r} is not an object")
        vectors_config(data)
        sparse_config(data)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        text = " ".join(str(exc).split())
        raise _damaged(folder, f"{str(side)!r} is not a collection's config: {text[:300]}") from None
    if not (folder / "shard").is_dir():
        raise _damaged(
            folder,
            f"its shard folder {str(folder / 'shard')!r} is missing",
            f"Restore it from a backup of the folder, or delete_collection({folder.name!r}).",
        )
    return data


def vectors_config(sidecar: Mapping[str, Any]) -> Any:
    """A sidecar's ``vectors`` as qdrant-client's config: one ``VectorParams`` or a dict."""
    raw = sidecar.get("vectors") or {}
    if isinstance(raw.get("size"), int):
        return models.VectorParams.model_validate(raw)
    return {k: models.VectorParams.model_validate(v) for k, v in raw.items()}


def sparse_config(sidecar: Mapping[str, Any]) -> dict[str, models.SparseVectorParams] | None:
    raw = sidecar.get("sparse_vectors")
    if raw is None:
        return None
    return {k: models.SparseVectorParams.model_validate(v) for k, v in raw.items()}


def commit_collection_folder(tmp: Path, folder: Path) -> None:
    """Move a complete collection from ``tmp`` to the new ``folder`` in one durable rename."""
    fsync_dir(tmp)
    if folder.exists():
        raise FileExistsError(f"{str(folder)!r} exists")
    os.rename(tmp, folder)
    fsync_dir(folder.parent)
    fsync_dir(tmp.parent)


def trash_folder(root: Path, folder: Path) -> None:
    """Delete a collection folder, renamed out first: a kill leaves a ``.deleted-<hex>``
    folder that the next open removes, never half a collection."""
    trash = root / f".deleted-{uuid.uuid4().hex}"
    os.replace(folder, trash)
    fsync_dir(folder.parent)
    shutil.rmtree(trash, ignore_errors=True)


# Qdrant Edge writes through sparse memory-mapped files: on a full disk it ends the process
# with SIGBUS (docs/engines.md), so free space is checked before each of its writes.
MiB = 1 << 20
FREE_MARGIN = 16 * MiB
"""Free space kept for Edge's own files on every write (id tracker, payload pages, log
page rounding), and what creating a collection needs."""
WRITE_FACTOR = 3
"""Bytes a write may add to the folder per byte of its vectors: the log record, the
segment's copy, and slack."""
POINT_BYTES = 256
"""Bytes counted per point besides its vectors (id, version, payload offsets)."""
OPEN_MARGIN = 4 * MiB
"""Free space needed to open a shard besides its log (:func:`open_needed`)."""


def free_bytes(path: Path) -> int:
    """Free bytes for an unprivileged writer on ``path``'s file system."""
    return shutil.disk_usage(path).free


def allocated_bytes(path: Path) -> int:
    """Bytes the folder ``path`` occupies on disk: blocks, not apparent sizes (Edge's files
    are sparse)."""
    total = 0
    for entry in path.rglob("*"):
        with contextlib.suppress(OSError):
            st = entry.lstat()
            if entry.is_file():
                total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total


def write_needed(values: int, points: int) -> int:
    """Free bytes a write of ``values`` vector values (float32) and ``points`` points needs."""
    return WRITE_FACTOR * (4 * values + POINT_BYTES * points) + FREE_MARGIN


def open_needed(shard: Path) -> int:
    """Free bytes opening ``shard`` needs: replaying its log writes at most what the log
    holds, plus :data:`OPEN_MARGIN`."""
    wal = shard / "wal"
    return (allocated_bytes(wal) if wal.is_dir() else 0) + OPEN_MARGIN


def check_free_space(path: Path, needed: int, what: str) -> None:
    """Raise :class:`StorageFullError` when fewer than ``needed`` bytes are free at ``path``
    (``what``: the operation, for the message)."""
    free = free_bytes(path)
    if free < needed:
        why = "on a full disk Qdrant Edge would end the process with SIGBUS"
        raise _storage_full(what, path, free, needed, why)


def _storage_full(what: str, path: Path, free: int, needed: int, why: str) -> StorageFullError:
    return StorageFullError(
        28,  # ENOSPC
        f"not enough free disk space for {what} in {str(path)!r}: {free:,} bytes free, "
        f"{needed:,} needed ({why}). Nothing was changed; free some space, or move the "
        "folder to a larger disk",
    )


def edge_version() -> str:
    try:
        from importlib.metadata import version

        return version("qdrant-edge-py")
    except Exception:  # noqa: BLE001 - version is informational only
        return "unknown"


def open_folder(root: Path) -> tuple[dict[str, CollectionFolder], dict[str, DamagedCollectionError]]:
    """The collections of the database folder ``root`` (with its :class:`FolderLock` held),
    and the damaged ones (set aside with a warning) with the error each raises when used.
    Writes the marker of a new folder; removes what a killed writer left.

    Raises:
        ValueError: the marker is damaged, or of a newer folder format.
    """
    marker = root / EDGE_MARKER
    if marker.exists():
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
            version = int(info.get("format", 0))
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"{str(marker)!r}, the marker of a Qdrant Edge database folder, is damaged "
                f"({exc}); nothing was changed. Restore it from a backup, or write "
                f'{{"engine": "qdrant-edge", "format": {STORAGE_FORMAT}}} into it'
            ) from None
        if version > STORAGE_FORMAT:
            raise ValueError(
                f"{str(root)!r} was written by a newer qdrant-tokenpool "
                f"(folder format {version}, this one reads {STORAGE_FORMAT})"
            )
    else:
        write_json_atomic(
            marker,
            {"engine": "qdrant-edge", "format": STORAGE_FORMAT, "qdrant_edge_py": edge_version()},
        )
    clean_leftovers(root)
    base = root / "collections"
    base.mkdir(exist_ok=True)
    collections: dict[str, CollectionFolder] = {}
    damaged: dict[str, DamagedCollectionError] = {}
    for folder in sorted(base.iterdir()):
        if not folder.is_dir():
            continue
        try:
            collections[folder.name] = CollectionFolder(folder, read_sidecar(folder))
        except DamagedCollectionError as exc:
            damaged[folder.name] = exc
    if damaged:
        warnings.warn(
            f"Qdrant Edge database {str(root)!r}: " + " ".join(str(e) for e in damaged.values()),
            RuntimeWarning,
            stacklevel=5,
        )
    return collections, damaged


def release_folder(collections: dict[str, CollectionFolder], lock: FolderLock, tmp: Path | None) -> None:
    """The backend's finalizer (a client dropped without ``close()`` frees its folder):
    close every shard without optimizing, release the lock, remove ``tmp`` (``":memory:"``)."""
    for coll in list(collections.values()):
        with contextlib.suppress(Exception):
            coll.close(optimize=False)
    collections.clear()
    lock.release()
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


def create_collection_folder(root: Path, name: str, config: Any, sidecar: dict[str, Any]) -> CollectionFolder:
    """Create collection ``name`` of the folder ``root``: an Edge shard of ``config`` and
    its ``sidecar``, built in a temporary folder, then renamed into place whole.

    Raises:
        StorageFullError: too little free disk space (nothing was created).
    """
    check_free_space(root, FREE_MARGIN, f"creating collection {name!r}")
    folder = root / "collections" / name
    tmp = root / f".creating-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        with edge_errors(f"create_collection {name!r}"):
            shard = E.EdgeShard.create(str(tmp / "shard"), config)
            try:
                shard.flush()
            finally:
                shard.close()  # Edge keeps its paths: reopened at the new place
        write_json_atomic(tmp / SIDECAR, sidecar)
        commit_collection_folder(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return CollectionFolder(folder, sidecar)


class CollectionFolder:
    """One collection: its folder, its sidecar and its shard (opened on first use)."""

    def __init__(self, folder: Path, sidecar: dict[str, Any]) -> None:
        self.folder = folder
        self.sidecar = sidecar
        self._shard: Any = None
        self._schema: tuple[dict[str, Any], VectorsSchema] | None = None  # (sidecar, its schema)
        self.dirty = False  # written since the last optimize
        self.lock = threading.Lock()

    def shard(self) -> Any:
        if self._shard is None:
            with self.lock:
                if self._shard is None:
                    # opening replays the log: on a full disk Edge would crash (SIGBUS)
                    path = self.folder / "shard"
                    what = f"opening collection {self.folder.name!r}"
                    check_free_space(self.folder, open_needed(path), what)
                    with edge_errors(f"opening {self.folder.name!r}"):
                        self._shard = E.EdgeShard.load(str(path))
        return self._shard

    def optimize(self) -> bool:
        """Edge's optimizers on this shard; too little disk space is a :class:`StorageFullError`."""
        with space_errors(self.folder, "optimizing"), edge_errors(f"optimize {self.folder.name!r}"):
            changed = bool(self.shard().optimize())
        self.dirty = False
        return changed

    def close(self, optimize: bool) -> None:
        """Optimize (when asked and written since the last one; skipped with a warning on a
        full disk), flush and close the shard."""
        if self._shard is None:
            return
        try:
            if optimize and self.dirty:
                try:
                    self.optimize()
                except StorageFullError as exc:
                    warnings.warn(f"closing without optimizing: {exc}", RuntimeWarning, stacklevel=3)
            self._shard.flush()
        finally:
            shard, self._shard = self._shard, None
            shard.close()

    def schema(self) -> VectorsSchema:
        """The collection's vectors, as the write checks take them; kept for the sidecar they
        were read from (writes are not serialised with :meth:`write_sidecar`)."""
        side, cached = self.sidecar, self._schema
        if cached is None or cached[0] is not side:
            cached = (side, VectorsSchema.from_config(vectors_config(side), sparse_config(side)))
            self._schema = cached
        return cached[1]

    def write_sidecar(self, sidecar: dict[str, Any]) -> None:
        """Replace the sidecar, on disk first (atomically), then here."""
        write_json_atomic(self.folder / SIDECAR, sidecar)
        self.sidecar = sidecar


_NO_SPACE = re.compile(r"Not enough space available for optimization, needed: ([0-9.]+) MiB")


@contextlib.contextmanager
def space_errors(folder: Path, what: str) -> Iterator[None]:
    """Edge's optimizer's refusal for lack of disk space as :class:`StorageFullError`."""
    try:
        yield
    except RuntimeError as exc:
        found = _NO_SPACE.search(str(exc))
        if found is None:
            raise
        needed = int(float(found.group(1)) * MiB)
        what = f"{what} collection {folder.name!r}"
        free = free_bytes(folder)
        raise _storage_full(what, folder, free, needed, "Qdrant Edge's estimate") from None
