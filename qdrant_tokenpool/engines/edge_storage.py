"""The Edge engine's folder: files written atomically, the folder lock, collection
folders created and deleted so that a crash never leaves half of one, damage reported
without touching the data, and free disk space checked before Edge needs it.

Layout (see :mod:`.edge`)::

    <root>/qdrant-tokenpool-edge.json          marker: this layout's version
    <root>/.lock                               held while a client has the folder open
    <root>/collections/<name>/shard/           the collection's Edge shard
    <root>/collections/<name>/collection.json  its config as created + metadata
    <root>/.creating-<hex>/                    a collection being created (renamed into
                                               collections/<name> when complete)
    <root>/.deleted-<hex>/                     a collection being deleted (renamed out first)

Guarantees:

- **A collection folder is whole or absent.** A collection is created in
  ``.creating-<hex>`` (shard, then ``collection.json``) and renamed into
  ``collections/<name>`` in one step; it is deleted by renaming it to ``.deleted-<hex>``
  first. So ``collections/<name>`` without a valid ``collection.json`` is damage, never a
  leftover: it is reported (:class:`DamagedCollectionError`, naming the file), never
  deleted or overwritten, and the other collections stay usable.
- **Leftovers are ours and are removed on open**: ``.creating-<hex>`` / ``.deleted-<hex>``
  folders (a kill during ``create_collection`` / ``delete_collection``) and the temporary
  files of :func:`write_json_atomic`, matched by their exact names (32 hex digits).
- **A full disk is an error, not a crash** where it can be foreseen: writes, opens and
  creations check the free space first (:func:`write_needed`, :func:`open_needed`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import DamagedCollectionError, StorageFullError, StorageLockedError

__all__ = [
    "CREATE_FREE_BYTES",
    "FREE_MARGIN",
    "SIDECAR",
    "FolderLock",
    "allocated_bytes",
    "check_free_space",
    "clean_leftovers",
    "commit_collection_folder",
    "free_bytes",
    "fsync_dir",
    "new_collection_folder",
    "open_needed",
    "read_sidecar",
    "trash_folder",
    "write_json_atomic",
    "write_needed",
]

SIDECAR = "collection.json"
"""A collection's sidecar: its config as created (qdrant-client's form) and metadata."""

_HEX = "[0-9a-f]{32}"
_LEFTOVER_FOLDER = re.compile(rf"\.(creating|deleted)-{_HEX}")
_LEFTOVER_FILE = re.compile(rf"\.(collection|qdrant-tokenpool-edge)\.json\.{_HEX}\.tmp")


# ---------------------------------------------------------------------------------------
# files: atomic JSON, the folder lock
# ---------------------------------------------------------------------------------------
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
    """Write ``data`` as JSON to ``path`` so that readers see the old or the new file,
    never a part: temp file in the same folder, fsync, rename, fsync the folder."""
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
    """An exclusive OS lock on ``<root>/.lock``, held while the client is open. Works
    across processes, and across clients in one process (each opens its own file)."""

    def __init__(self, root: Path) -> None:
        self.path = root / ".lock"
        self._fh: Any = open(self.path, "a+")  # noqa: SIM115 - held for the client's life
        try:
            if os.name == "nt":
                import msvcrt

                self._fh.seek(0)
                msvcrt.locking(self._fh.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            else:
                import fcntl

                fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
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
        with contextlib.suppress(OSError):
            if os.name == "nt":
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


# ---------------------------------------------------------------------------------------
# collection folders: whole or absent; damage reported, never deleted
# ---------------------------------------------------------------------------------------
def clean_leftovers(root: Path) -> list[Path]:
    """Remove what a killed writer left (call with the folder lock held): the
    ``.creating-<hex>`` / ``.deleted-<hex>`` folders of ``root`` and the temporary files of
    :func:`write_json_atomic` in ``root`` and in its collection folders. Only names this
    module makes are touched. Returns what was removed."""
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
    """A collection folder's sidecar, checked: a JSON object whose ``vectors`` is a
    ``VectorParams`` (as JSON) or a dict of them, ``sparse_vectors`` a dict or ``null``,
    ``metadata`` a dict or ``null``; and the folder holds a ``shard``.

    Raises:
        DamagedCollectionError: naming the file and what is wrong with it.
    """
    from qdrant_client import models

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
        vectors = data.get("vectors") or {}
        if not isinstance(vectors, Mapping):
            raise ValueError("'vectors' is not an object")  # noqa: TRY004
        if isinstance(vectors.get("size"), int):
            models.VectorParams.model_validate(vectors)
        else:
            for params in vectors.values():
                models.VectorParams.model_validate(params)
        for key in ("sparse_vectors", "metadata"):
            if data.get(key) is not None and not isinstance(data[key], Mapping):
                raise ValueError(f"{key!r} is not an object")
        for params in (data.get("sparse_vectors") or {}).values():
            models.SparseVectorParams.model_validate(params)
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


def new_collection_folder(root: Path) -> Path:
    """A fresh ``<root>/.creating-<hex>`` folder to build a collection in (then
    :func:`commit_collection_folder`); a kill leaves it for :func:`clean_leftovers`."""
    tmp = root / f".creating-{uuid.uuid4().hex}"
    tmp.mkdir()
    return tmp


def commit_collection_folder(tmp: Path, folder: Path) -> None:
    """Move a complete collection from ``tmp`` to ``folder`` in one rename (the commit
    point of ``create_collection``), durably. ``folder`` must not exist."""
    fsync_dir(tmp)
    if folder.exists():
        raise FileExistsError(f"{str(folder)!r} exists")
    os.rename(tmp, folder)
    fsync_dir(folder.parent)
    fsync_dir(tmp.parent)


def trash_folder(root: Path, folder: Path) -> None:
    """Delete a collection folder: renamed out of ``collections/`` first (atomic), so a
    kill leaves a ``.deleted-<hex>`` folder that the next open removes, never half a
    collection."""
    trash = root / f".deleted-{uuid.uuid4().hex}"
    os.replace(folder, trash)
    fsync_dir(folder.parent)
    shutil.rmtree(trash, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# free disk space
# ---------------------------------------------------------------------------------------
# Qdrant Edge writes through memory-mapped files: its write-ahead log (32 MiB segment
# files), vector chunks and payload pages are created sparse and filled as written. When
# the file system has no block left for a page being written, the kernel ends the process
# with SIGBUS (exit code 135): no exception, no chance to clean up; and a reopen, which
# replays the log's unflushed tail, crashes the same way while the disk is full. Edge's
# optimizer checks its own needs and raises (converted to StorageFullError by the
# backend). The checks below run before the other writes Edge makes.
MiB = 1 << 20
FREE_MARGIN = 16 * MiB
"""Free space kept for Edge's own files on every write (id tracker, payload pages,
versions, a log record's page rounding): a write needs :data:`WRITE_FACTOR` times its
vector bytes plus this."""
WRITE_FACTOR = 3
"""Bytes a write may add to the folder per byte of its vectors: the log record, the
segment's copy, and slack (measured: 2.2 on tmpfs, 64 x 50 x 128 float32 per request)."""
POINT_BYTES = 256
"""Bytes counted per point besides its vectors (id, version, payload offsets)."""
OPEN_MARGIN = 4 * MiB
"""Free space needed to open a shard besides its log (:func:`open_needed`)."""
CREATE_FREE_BYTES = FREE_MARGIN
"""Free space needed to create a collection (Edge's files start sparse: a few pages)."""


def free_bytes(path: Path) -> int:
    """Free bytes for an unprivileged writer on ``path``'s file system."""
    return shutil.disk_usage(path).free


def allocated_bytes(path: Path) -> int:
    """Bytes ``path`` (a folder, recursively) occupies on disk: blocks, not apparent sizes
    (Edge's files are sparse)."""
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
    holds (little after a clean close, which flushes and truncates it; up to everything
    written since the last flush after a kill), plus :data:`OPEN_MARGIN`."""
    wal = shard / "wal"
    return (allocated_bytes(wal) if wal.is_dir() else 0) + OPEN_MARGIN


def check_free_space(path: Path, needed: int, what: str) -> None:
    """Raise :class:`StorageFullError` naming ``path``, the free and the needed bytes when
    fewer than ``needed`` bytes are free there (``what``: the operation, for the message)."""
    free = free_bytes(path)
    if free < needed:
        raise StorageFullError(
            28,  # ENOSPC
            f"not enough free disk space for {what} in {str(path)!r}: {free:,} bytes free, "
            f"{needed:,} needed (on a full disk Qdrant Edge would end the process with "
            "SIGBUS). Nothing was changed; free some space, or move the folder to a larger disk",
        )
