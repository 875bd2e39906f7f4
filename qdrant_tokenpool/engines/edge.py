"""Qdrant Edge as an embedded engine behind qdrant-client's API.

:class:`EdgeBackend` is a ``QdrantBase`` (the interface ``QdrantClient`` delegates every
call to) over ``qdrant-edge-py``, Qdrant's Rust engine in process: real HNSW, MaxSim in
Rust, payload indexes, and a reopen that takes no time, where qdrant-client's local mode
is a pure-Python reference that scores every point in a Python loop and loads every
vector into memory on open. :class:`AsyncEdgeBackend` is its ``AsyncQdrantBase`` twin: the
same backend, each call run in a worker thread (Edge releases the GIL, so threads run
queries in parallel).

Why it looks the way it does (Qdrant Edge 0.9):

- One ``EdgeShard`` holds one collection, so a database is a folder with one shard per
  collection: ``<root>/collections/<name>/shard``.
- Edge has no collection metadata and does not keep the qdrant-client form of the
  config, so each collection has a sidecar ``collection.json`` (vectors config as given,
  ``metadata``, ...) written atomically (temp file, fsync, rename). It is written after
  the shard exists: a folder without it is an unfinished creation and is ignored.
- A second process opening a shard fails on Edge's WAL lock with a cryptic message, so the
  root folder holds a ``.lock`` taken with an OS file lock for the client's life: a second
  client (any process) gets :class:`StorageLockedError` naming the folder.
- ``":memory:"`` is a temporary folder, removed on :meth:`EdgeBackend.close`.
- Edge has no background optimizer. Indexing policy: HNSW on dense vectors (Edge's
  default graph), ``m=0`` (no graph, exact MaxSim) on multivectors unless a vector's own
  ``hnsw_config`` sets ``m``; :meth:`EdgeBackend.optimize` runs the optimizers, and runs
  by itself after a bulk upload (``upload_points``/``upload_collection`` of at least
  :data:`BULK_OPTIMIZE_POINTS` points) and on close when the shard changed.
- What Edge lacks (aliases, ``query_points_groups``, snapshots, ``search_matrix_*``,
  cluster operations) raises :class:`EdgeUnsupportedError` naming the method.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import os
import re
import shutil
import tempfile
import threading
import uuid
import warnings
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from qdrant_client import models
from qdrant_client.async_client_base import AsyncQdrantBase
from qdrant_client.client_base import QdrantBase
from qdrant_client.http.models import QueryResponse

from . import (
    EDGE_MARKER,
    DamagedCollectionError,
    EdgeUnsupportedError,
    StorageFullError,
    StorageLockedError,
    require_edge,
)
from . import edge_storage as storage
from .checks import VectorsSchema, check_columns, check_points
from .edge_storage import SIDECAR, FolderLock, write_json_atomic
from .open import folder_engine

E = require_edge()

from ._edge_convert import (
    QueryConverter,
    ResultShape,
    batch_points,
    edge_filter,
    edge_id,
    edge_order_by,
    edge_payload,
    edge_point,
    edge_search_params,
    edge_vector_struct,
    edge_with_payload,
    edge_with_vectors,
    has_id_excluded,
    model_id,
    model_vector,
    parse_model,
    selector_ids_or_filter,
)

__all__ = [
    "BULK_OPTIMIZE_POINTS",
    "AsyncEdgeBackend",
    "EdgeBackend",
    "EdgeUnsupportedError",
    "StorageLockedError",
]

STORAGE_FORMAT = 1
"""Version of this folder layout (marker file and sidecars), not of Edge's shard format."""

BULK_OPTIMIZE_POINTS = 1000
"""``upload_points``/``upload_collection`` calls writing at least this many points run
:meth:`EdgeBackend.optimize` on the collection when they finish."""

NO_VECTORS_PLACEHOLDER = ":no-vectors"
"""The sparse vector Edge is given for a collection created without vectors
(``vectors_config={}``, payload only), which Edge cannot create otherwise."""

_INVALID_NAME_CHARS = ("<", ">", ":", '"', "/", "\\", "|", "?", "*", "\0", "\x1f")


def _edge_version() -> str:
    try:
        from importlib.metadata import version

        return version("qdrant-edge-py")
    except Exception:  # noqa: BLE001 - version is informational only
        return "unknown"


# ---------------------------------------------------------------------------------------
# errors from Edge
# ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def _edge_errors(what: str) -> Iterator[None]:
    """Edge raises bare ``Exception`` for bad requests: turn those into ``ValueError``
    (``RuntimeError`` for service failures), keeping Edge's message."""
    try:
        yield
    except (EdgeUnsupportedError, StorageLockedError):
        raise
    except Exception as exc:
        if type(exc) in (ValueError, TypeError, KeyError):
            raise ValueError(f"{what}: {exc}") from exc
        if type(exc) is not Exception:
            raise
        msg = str(exc)
        if msg.startswith("Service"):
            raise RuntimeError(f"Qdrant Edge, {what}: {msg}") from exc
        raise ValueError(f"Qdrant Edge, {what}: {msg}") from exc


@contextlib.contextmanager
def _query_errors(what: str) -> Iterator[None]:
    """:func:`_edge_errors` for queries. qdrant-edge 0.9 reports a formula it cannot
    evaluate on a point (a variable neither in the payload nor in ``defaults``, a value
    that is not a number, a non-finite result) only as "Operation cancelled": the error
    says what that means (local mode and a server name the variable or expression)."""
    try:
        with _edge_errors(what):
            yield
    except ValueError as exc:
        if "Operation cancelled" not in str(exc):
            raise
        raise ValueError(
            f"{exc}: a formula could not be evaluated on some point (a variable neither in the "
            "payload nor in the formula defaults, a value that is not a number, or a non-finite "
            "result such as 0^-1 or ln(-1))"
        ) from exc


def _ok() -> models.UpdateResult:
    return models.UpdateResult(operation_id=0, status=models.UpdateStatus.COMPLETED)


class _Op(NamedTuple):
    """An Edge update operation with the vector values and points it writes (for the
    free-space check before it is applied)."""

    op: Any
    values: int = 0
    points: int = 0


_NO_SPACE = re.compile(r"Not enough space available for optimization, needed: ([0-9.]+) MiB")


@contextlib.contextmanager
def _space_errors(folder: Path, what: str) -> Iterator[None]:
    """Edge's optimizer refuses to start without the disk space it needs (a RuntimeError
    from :func:`_edge_errors`): raise :class:`StorageFullError` as the other checks do."""
    try:
        yield
    except RuntimeError as exc:
        found = _NO_SPACE.search(str(exc))
        if found is None:
            raise
        needed = int(float(found.group(1)) * storage.MiB)
        raise StorageFullError(
            28,
            f"not enough free disk space for {what} collection {folder.name!r} in "
            f"{str(folder)!r}: {storage.free_bytes(folder):,} bytes free, {needed:,} needed "
            "(Qdrant Edge's estimate). Nothing was changed; free some space, or move the "
            "folder to a larger disk",
        ) from None


# ---------------------------------------------------------------------------------------
# collection config <-> Edge config
# ---------------------------------------------------------------------------------------
_DISTANCE = {
    models.Distance.COSINE: "Cosine",
    models.Distance.EUCLID: "Euclid",
    models.Distance.DOT: "Dot",
    models.Distance.MANHATTAN: "Manhattan",
}
_DATATYPE = {
    "float32": "Float32", "float16": "Float16", "uint8": "Uint8",
    "turbo4": "Turbo4", "turbo8": "Turbo8", "turbo16": "Turbo16",
}
"""Storage datatypes (``models.Datatype`` / ``models.VectorStorageDatatype`` values) Edge
takes, by their value."""


def _edge_datatype(datatype: Any, name: str) -> Any:
    """A vector's storage datatype (either qdrant-client enum, or its value) as Edge's."""
    if datatype is None:
        return None
    value = str(getattr(datatype, "value", datatype))
    if value not in _DATATYPE:
        raise EdgeUnsupportedError(f"vector {name!r}: datatype {value!r}")
    return getattr(E.VectorStorageDatatype, _DATATYPE[value])


def _hnsw(diff: Any, default_m: int | None = None) -> Any:
    if diff is None and default_m is None:
        return None
    m = getattr(diff, "m", None)
    return E.HnswIndexConfig(
        m=m if m is not None else (default_m if default_m is not None else 16),
        ef_construct=getattr(diff, "ef_construct", None) or 100,
        full_scan_threshold=getattr(diff, "full_scan_threshold", None) or 10000,
        max_indexing_threads=getattr(diff, "max_indexing_threads", None) or 0,
        on_disk=getattr(diff, "on_disk", None),
        payload_m=getattr(diff, "payload_m", None),
    )


def _quantization(q: Any) -> Any:
    if q is None:
        return None
    if isinstance(q, models.ScalarQuantization):
        s = q.scalar
        return E.ScalarQuantizationConfig(E.ScalarType.Int8, quantile=s.quantile, always_ram=s.always_ram)
    if isinstance(q, models.ProductQuantization):
        p = q.product
        ratio = getattr(E.CompressionRatio, str(p.compression.value).upper())
        return E.ProductQuantizationConfig(ratio, always_ram=p.always_ram)
    if isinstance(q, models.BinaryQuantization):
        return E.BinaryQuantizationConfig(always_ram=q.binary.always_ram)
    if isinstance(q, models.TurboQuantization):
        t = q.turbo
        return E.TurboQuantQuantizationConfig(
            always_ram=t.always_ram,
            bits=_edge_enum(E.TurboQuantBitSize, t.bits) if t.bits is not None else None,
            memory=_edge_enum(E.Memory, t.memory) if t.memory is not None else None,
        )
    raise EdgeUnsupportedError(f"quantization config {type(q).__name__}")


def _vector_params(vp: models.VectorParams, name: str) -> Any:
    if vp.distance not in _DISTANCE:
        raise ValueError(f"vector {name!r}: unknown distance {vp.distance!r}")
    datatype = _edge_datatype(vp.datatype, name)
    multi = None
    if vp.multivector_config is not None:
        multi = E.MultiVectorConfig(E.MultiVectorComparator.MaxSim)
    # indexing policy: no HNSW graph on multivectors unless the vector asks for one
    own_m = getattr(vp.hnsw_config, "m", None)
    hnsw = _hnsw(vp.hnsw_config, default_m=0 if multi is not None and own_m is None else None)
    return E.EdgeVectorParams(
        size=vp.size,
        distance=getattr(E.Distance, _DISTANCE[vp.distance]),
        on_disk=vp.on_disk,
        multivector_config=multi,
        datatype=datatype,
        quantization_config=_quantization(vp.quantization_config),
        hnsw_config=hnsw,
    )


def _modifier(sp: Any) -> Any:
    """A sparse vector's value modifier (IDF or none) as Edge's."""
    return E.Modifier.Idf if getattr(sp, "modifier", None) == models.Modifier.IDF else None


def _validate_vector_name(name: str, kind: str) -> None:
    if len(name.encode()) > 200:
        raise ValueError(f"Invalid {kind} vector name `{name}`: must be at most 200 bytes long")
    for ch in _INVALID_NAME_CHARS:
        if ch in name:
            raise ValueError(f"Invalid {kind} vector name `{name}`: cannot contain {ch!r} char")


class _Collection:
    """One collection: its sidecar (qdrant-client form of the config + metadata) and its
    shard, opened on first use."""

    def __init__(self, folder: Path, sidecar: dict[str, Any]) -> None:
        self.folder = folder
        self.sidecar = sidecar
        self._shard: Any = None
        self._schema: tuple[dict[str, Any], VectorsSchema] | None = None
        self.dirty = False  # written since the last optimize
        self.lock = threading.Lock()

    @property
    def shard_path(self) -> Path:
        return self.folder / "shard"

    def shard(self) -> Any:
        if self._shard is None:
            with self.lock:
                if self._shard is None:
                    # opening replays the log: on a full disk Edge would crash (SIGBUS)
                    storage.check_free_space(
                        self.folder,
                        storage.open_needed(self.shard_path),
                        f"opening collection {self.folder.name!r}",
                    )
                    with _edge_errors(f"opening {self.folder.name!r}"):
                        self._shard = E.EdgeShard.load(str(self.shard_path))
        return self._shard

    def optimize(self) -> bool:
        """Edge's optimizers on this shard; too little disk space is a :class:`StorageFullError`."""
        with _space_errors(self.folder, "optimizing"), _edge_errors(f"optimize {self.folder.name!r}"):
            changed = bool(self.shard().optimize())
        self.dirty = False
        return changed

    def close(self, optimize: bool) -> None:
        """Optimize (when asked and written since the last one; skipped with a warning
        when the disk lacks the space), flush and close the shard."""
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

    # qdrant-client views of the sidecar
    def vectors_config(self) -> Any:
        raw = self.sidecar.get("vectors") or {}
        if isinstance(raw.get("size"), int):
            return models.VectorParams.model_validate(raw)
        return {k: models.VectorParams.model_validate(v) for k, v in raw.items()}

    def sparse_config(self) -> dict[str, models.SparseVectorParams] | None:
        raw = self.sidecar.get("sparse_vectors")
        if raw is None:
            return None
        return {k: models.SparseVectorParams.model_validate(v) for k, v in raw.items()}

    def schema(self) -> VectorsSchema:
        """The collection's vectors, as the write checks take them (follows the sidecar)."""
        cached = self._schema
        if cached is None or cached[0] is not self.sidecar:
            cached = (self.sidecar, VectorsSchema.from_config(self.vectors_config(), self.sparse_config()))
            self._schema = cached
        return cached[1]

    def write_sidecar(self) -> None:
        write_json_atomic(self.folder / SIDECAR, self.sidecar)


def _dump(model: Any) -> Any:
    if model is None:
        return None
    if isinstance(model, Mapping):
        return {k: _dump(v) for k, v in model.items()}
    return model.model_dump(mode="json", exclude_none=True)


# ---------------------------------------------------------------------------------------
# the backend
# ---------------------------------------------------------------------------------------
class EdgeBackend(QdrantBase):
    """``QdrantBase`` over Qdrant Edge: one Edge shard per collection under one folder.

    Args:
        location: a folder (created if missing) or ``":memory:"`` (a temporary folder,
            removed on :meth:`close`).
        optimize_on_close: run :meth:`optimize` on collections changed since their last
            optimization when closing (default ``True``; a folder then reopens indexed).

    Raises:
        StorageLockedError: the folder is open in another client.
        ValueError: the folder holds a qdrant-client local-mode database.
    """

    engine_name = "edge"

    def __init__(self, location: str | os.PathLike[str], *, optimize_on_close: bool = True, **kwargs: Any) -> None:
        super().__init__()
        self._memory = str(location) == ":memory:"
        self.optimize_on_close = optimize_on_close and not self._memory
        if self._memory:
            self.root = Path(tempfile.mkdtemp(prefix="qdrant-tokenpool-edge-"))
        else:
            self.root = Path(location).expanduser().resolve()
            self.root.mkdir(parents=True, exist_ok=True)
            if folder_engine(self.root) == "local":
                raise ValueError(
                    f"{str(self.root)!r} holds a qdrant-client local-mode database "
                    "(meta.json); open it with engine='local', or copy it into a new folder "
                    "(qdrant-tokenpool repool / QdrantClient.migrate)"
                )
        self._lock = threading.RLock()
        self._closed = False
        self._folder_lock = FolderLock(self.root)
        self._collections: dict[str, _Collection] = {}
        self._damaged: dict[str, DamagedCollectionError] = {}
        try:
            self._open_storage()
        except BaseException:
            self._folder_lock.release()
            raise
        self._finalizer = weakref.finalize(
            self, EdgeBackend._cleanup, self._collections, self._folder_lock,
            self.root if self._memory else None,
        )

    # -- storage (the folder's files: .edge_storage) --------------------------------------
    def _open_storage(self) -> None:
        """Read the marker (written for a new folder), remove what a killed writer left
        (:func:`~.edge_storage.clean_leftovers`) and read every collection's sidecar: a
        damaged one is set aside (:attr:`damaged`), with a warning, never deleted."""
        marker = self.root / EDGE_MARKER
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
                    f"{str(self.root)!r} was written by a newer qdrant-tokenpool "
                    f"(folder format {version}, this one reads {STORAGE_FORMAT})"
                )
        else:
            write_json_atomic(
                marker,
                {"engine": "qdrant-edge", "format": STORAGE_FORMAT, "qdrant_edge_py": _edge_version()},
            )
        storage.clean_leftovers(self.root)
        base = self.root / "collections"
        base.mkdir(exist_ok=True)
        for folder in sorted(base.iterdir()):
            if not folder.is_dir():
                continue
            try:
                sidecar = storage.read_sidecar(folder)
            except DamagedCollectionError as exc:
                self._damaged[folder.name] = exc
                continue
            self._collections[folder.name] = _Collection(folder, sidecar)
        if self._damaged:
            warnings.warn(
                f"Qdrant Edge database {str(self.root)!r}: "
                + " ".join(str(e) for e in self._damaged.values()),
                RuntimeWarning,
                stacklevel=4,
            )

    @property
    def damaged(self) -> dict[str, DamagedCollectionError]:
        """Collections whose files are damaged, by name, with the error each raises when
        used (they are listed by ``get_collections``; nothing of them is deleted unless
        ``delete_collection`` is called)."""
        return dict(self._damaged)

    @staticmethod
    def _cleanup(collections: dict[str, _Collection], lock: FolderLock, tmp: Path | None) -> None:
        for coll in list(collections.values()):
            with contextlib.suppress(Exception):
                coll.close(optimize=False)
        collections.clear()
        lock.release()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    def _get(self, collection_name: str) -> _Collection:
        if self._closed:
            raise RuntimeError("This Qdrant Edge client is closed. Please create a new instance.")
        coll = self._collections.get(collection_name)
        if coll is None:
            damaged = self._damaged.get(collection_name)
            if damaged is not None:
                raise DamagedCollectionError(str(damaged))  # a fresh one per use
            raise ValueError(f"Collection {collection_name} not found")
        return coll

    def _shard(self, collection_name: str) -> Any:
        return self._get(collection_name).shard()

    def _apply(self, collection_name: str, ops: Sequence[Any], what: str) -> None:
        """Apply Edge operations (or :class:`_Op` with their sizes), after checking that the
        disk has the space they need (:func:`~.edge_storage.write_needed`)."""
        coll = self._get(collection_name)
        shard = coll.shard()
        sized = [op if isinstance(op, _Op) else _Op(op) for op in ops]
        needed = storage.write_needed(sum(o.values for o in sized), sum(o.points for o in sized))
        storage.check_free_space(coll.folder, needed, f"{what} on collection {collection_name!r}")
        coll.dirty = True
        with _edge_errors(f"{what} on {collection_name!r}"):
            for o in sized:
                shard.update(o.op)

    def _write(self, collection_name: str, what: str, build: Any) -> models.UpdateResult:
        """Apply the operation ``build(schema)`` makes from the collection's vectors: an
        unknown collection is reported before the request is converted (and so checked)."""
        coll = self._get(collection_name)
        self._apply(collection_name, [build(coll.schema())], what)
        return _ok()

    def close(self, **kwargs: Any) -> None:
        """Optimize changed collections (see ``optimize_on_close``), flush, close every
        shard and release the folder; ``":memory:"`` folders are removed."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                for coll in self._collections.values():
                    coll.close(optimize=self.optimize_on_close)
            finally:
                self._finalizer()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def persistent(self) -> bool:
        """Whether the database outlives the client (``path=``; not ``":memory:"``)."""
        return not self._memory

    @property
    def location(self) -> str:
        """The database folder (a temporary one for ``":memory:"``)."""
        return str(self.root)

    def collection_path(self, collection_name: str) -> Path:
        """The folder of one collection (its shard and sidecar)."""
        return self.root / "collections" / collection_name

    def optimize(self, collection_name: str | None = None) -> bool:
        """Run Edge's optimizers (segment merge, vacuum, HNSW on dense vectors), blocking
        until done, on one collection or all. Returns whether anything changed."""
        names = [collection_name] if collection_name is not None else list(self._collections)
        changed = False
        for name in names:
            changed = self._get(name).optimize() or changed
        return changed

    # -- collections --------------------------------------------------------------------
    def get_collections(self, **kwargs: Any) -> models.CollectionsResponse:
        self._get_check_open()
        return models.CollectionsResponse(
            collections=[models.CollectionDescription(name=n) for n in [*self._collections, *self._damaged]]
        )

    def _get_check_open(self) -> None:
        if self._closed:
            raise RuntimeError("This Qdrant Edge client is closed. Please create a new instance.")

    def collection_exists(self, collection_name: str, **kwargs: Any) -> bool:
        self._get_check_open()
        return collection_name in self._collections or collection_name in self._damaged

    def get_collection(self, collection_name: str, **kwargs: Any) -> models.CollectionInfo:
        coll = self._get(collection_name)
        with _edge_errors(f"get_collection {collection_name!r}"):
            info = coll.shard().info()
        side = coll.sidecar
        schema = {}
        for field, pinfo in info.payload_schema.items():
            dtype = str(pinfo.data_type).split(".")[-1].lower()
            with contextlib.suppress(ValueError):
                schema[field] = models.PayloadIndexInfo(
                    data_type=models.PayloadSchemaType(dtype), points=pinfo.points
                )
        hnsw = models.HnswConfig(m=16, ef_construct=100, full_scan_threshold=10000)
        if side.get("hnsw_config"):
            hnsw = hnsw.model_copy(update={k: v for k, v in side["hnsw_config"].items() if v is not None})
        quant = side.get("quantization_config")
        return models.CollectionInfo(
            status=models.CollectionStatus.GREEN,
            optimizer_status=models.OptimizersStatusOneOf.OK,
            indexed_vectors_count=info.indexed_vectors_count,
            points_count=info.points_count,
            segments_count=info.segments_count,
            payload_schema=schema,
            config=models.CollectionConfig(
                params=models.CollectionParams(
                    vectors=coll.vectors_config(),
                    shard_number=1,
                    replication_factor=1,
                    write_consistency_factor=1,
                    on_disk_payload=side.get("on_disk_payload", True),
                    sparse_vectors=coll.sparse_config(),
                ),
                hnsw_config=hnsw,
                optimizer_config=models.OptimizersConfig(
                    deleted_threshold=0.2,
                    vacuum_min_vector_number=1000,
                    default_segment_number=0,
                    flush_interval_sec=5,
                ),
                wal_config=models.WalConfig(wal_capacity_mb=32, wal_segments_ahead=0),
                quantization_config=_parse_quantization(quant),
                metadata=side.get("metadata"),
            ),
        )

    def create_collection(
        self,
        collection_name: str,
        vectors_config: models.VectorParams | Mapping[str, models.VectorParams] | None = None,
        sparse_vectors_config: Mapping[str, models.SparseVectorParams] | None = None,
        shard_number: int | None = None,
        sharding_method: Any = None,
        replication_factor: int | None = None,
        write_consistency_factor: int | None = None,
        on_disk_payload: bool | None = None,
        hnsw_config: models.HnswConfigDiff | None = None,
        optimizers_config: models.OptimizersConfigDiff | None = None,
        wal_config: Any = None,
        quantization_config: Any = None,
        timeout: int | None = None,
        strict_mode_config: Any = None,
        metadata: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> bool:
        """Create a collection (one Edge shard). Cluster settings (shards, replication,
        write consistency) have no meaning in one process and are ignored, as in local
        mode. ``init_from`` is not supported."""
        if kwargs.get("init_from") is not None:
            raise EdgeUnsupportedError("create_collection(init_from=...)")
        _validate_collection_name(collection_name)
        named = vectors_config if isinstance(vectors_config, Mapping) else {"": vectors_config}
        for name, vp in named.items():
            if vp is None:
                continue
            _validate_vector_name(name, "dense")
            if not 1 <= vp.size <= 65536:
                raise ValueError(f"Vector size {vp.size} is invalid. Must be from 1 to 65536.")
        for name in sparse_vectors_config or {}:
            _validate_vector_name(name, "sparse")
        if sparse_vectors_config is not None and "" in sparse_vectors_config:
            raise ValueError("Sparse vector name cannot be empty")
        config = _edge_config(
            vectors_config, sparse_vectors_config, on_disk_payload, hnsw_config,
            optimizers_config, quantization_config,
        )
        sidecar = {
            "format": STORAGE_FORMAT,
            "name": collection_name,
            "vectors": _dump(vectors_config) if vectors_config is not None else {},
            "sparse_vectors": _dump(sparse_vectors_config),
            "metadata": _json_metadata(metadata),
            "on_disk_payload": on_disk_payload,
            "hnsw_config": _dump(hnsw_config),
            "quantization_config": _dump(quantization_config),
            "optimizers_config": _dump(optimizers_config),
        }
        with self._lock:
            self._get_check_open()
            if collection_name in self._collections:
                raise ValueError(f"Collection {collection_name} already exists")
            if collection_name in self._damaged:
                raise DamagedCollectionError(str(self._damaged[collection_name]))  # never overwritten
            folder = self.collection_path(collection_name)
            if folder.exists():
                raise DamagedCollectionError(
                    f"{str(folder)!r} exists but was not read when this client opened the "
                    "folder; nothing was changed. Reopen the folder to see it"
                )
            storage.check_free_space(self.root, storage.CREATE_FREE_BYTES, f"creating collection {collection_name!r}")
            # built in a temporary folder, then renamed into place whole (the commit
            # point): collections/<name> without a sidecar is never a leftover of ours
            tmp = storage.new_collection_folder(self.root)
            try:
                with _edge_errors(f"create_collection {collection_name!r}"):
                    shard = E.EdgeShard.create(str(tmp / "shard"), config)
                    try:
                        shard.flush()
                    finally:
                        shard.close()  # Edge keeps its paths: reopened at the new place
                write_json_atomic(tmp / SIDECAR, sidecar)
                storage.commit_collection_folder(tmp, folder)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            self._collections[collection_name] = _Collection(folder, sidecar)
        return True

    def recreate_collection(self, collection_name: str, *args: Any, **kwargs: Any) -> bool:
        _validate_collection_name(collection_name)
        self.delete_collection(collection_name)
        return self.create_collection(collection_name, *args, **kwargs)

    def delete_collection(self, collection_name: str, **kwargs: Any) -> bool:
        """Delete a collection, a damaged one too (its folder is the one named so). The
        folder is renamed out first (atomic): a kill mid-delete leaves no half
        collection, and the next open removes the rest."""
        with self._lock:
            self._get_check_open()
            coll = self._collections.pop(collection_name, None)
            if coll is not None:
                coll.close(optimize=False)
            elif self._damaged.pop(collection_name, None) is None:
                return False
            storage.trash_folder(self.root, self.collection_path(collection_name))
        return True

    def update_collection(
        self,
        collection_name: str,
        optimizers_config: Any = None,
        collection_params: Any = None,
        vectors_config: Any = None,
        hnsw_config: Any = None,
        quantization_config: Any = None,
        timeout: int | None = None,
        sparse_vectors_config: Any = None,
        strict_mode_config: Any = None,
        metadata: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> bool:
        """Only ``metadata`` can change (top-level keys merged, as a server does)."""
        given = {
            "optimizers_config": optimizers_config,
            "collection_params": collection_params,
            "vectors_config": vectors_config,
            "hnsw_config": hnsw_config,
            "quantization_config": quantization_config,
            "sparse_vectors_config": sparse_vectors_config,
            "strict_mode_config": strict_mode_config,
        }
        for key, value in given.items():
            if value is not None:
                raise EdgeUnsupportedError(
                    f"update_collection({key}=...)",
                    "create a new collection with the new config and copy the points",
                )
        with self._lock:
            coll = self._get(collection_name)
            if metadata is None:
                return False
            merged = dict(coll.sidecar.get("metadata") or {})
            merged.update(_json_metadata(metadata) or {})
            new = {**coll.sidecar, "metadata": merged}
            old, coll.sidecar = coll.sidecar, new
            try:
                coll.write_sidecar()
            except BaseException:
                coll.sidecar = old
                raise
        return True

    def create_payload_index(
        self,
        collection_name: str,
        field_name: str,
        field_schema: Any = None,
        field_type: Any = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        schema = field_schema if field_schema is not None else field_type
        if schema is None:
            raise ValueError("create_payload_index needs field_schema")
        self._apply(
            collection_name,
            [E.UpdateOperation.create_field_index(field_name, _payload_schema(schema))],
            "create_payload_index",
        )
        return _ok()

    def delete_payload_index(
        self, collection_name: str, field_name: str, **kwargs: Any
    ) -> models.UpdateResult:
        self._apply(
            collection_name, [E.UpdateOperation.delete_field_index(field_name)], "delete_payload_index"
        )
        return _ok()

    def create_vector_name(
        self, collection_name: str, vector_name: str, vector_name_config: Any, **kwargs: Any
    ) -> models.UpdateResult:
        with self._lock:
            coll = self._get(collection_name)
            vectors = coll.sidecar.get("vectors") or {}
            if isinstance(vectors.get("size"), int):
                raise EdgeUnsupportedError(
                    "create_vector_name on a collection with one unnamed vector"
                )
            if isinstance(vector_name_config, models.DenseVectorNameConfig):
                _validate_vector_name(vector_name, "dense")
                dense = vector_name_config.dense
                vp = models.VectorParams.model_validate(dense.model_dump())
                ep = _vector_params(vp, vector_name)
                op = E.UpdateOperation.create_dense_vector(
                    vector_name, vp.size, ep.distance, ep.multivector_config, ep.datatype
                )
                sidecar = {**coll.sidecar, "vectors": {**vectors, vector_name: _dump(vp)}}
            elif isinstance(vector_name_config, models.SparseVectorNameConfig):
                _validate_vector_name(vector_name, "sparse")
                sparse = vector_name_config.sparse
                # SparseVectorConfig (creation) holds what SparseVectorParams (collection
                # config) spreads over `modifier` and `index.datatype`
                sp = models.SparseVectorParams(
                    modifier=sparse.modifier,
                    index=models.SparseIndexParams(datatype=models.Datatype(sparse.datatype.value))
                    if sparse.datatype is not None
                    else None,
                )
                op = E.UpdateOperation.create_sparse_vector(
                    vector_name, _modifier(sp), _edge_datatype(sparse.datatype, vector_name)
                )
                sidecar = {
                    **coll.sidecar,
                    "sparse_vectors": {**(coll.sidecar.get("sparse_vectors") or {}), vector_name: _dump(sp)},
                }
            else:
                raise ValueError(f"Unsupported vector name config type: {type(vector_name_config)}")  # noqa: TRY004 - ValueError, as qdrant-client
            self._apply(collection_name, [op], "create_vector_name")
            coll.sidecar = sidecar
            coll.write_sidecar()
        return _ok()

    def delete_vector_name(self, collection_name: str, vector_name: str, **kwargs: Any) -> models.UpdateResult:
        with self._lock:
            coll = self._get(collection_name)
            self._apply(collection_name, [E.UpdateOperation.delete_vector_name(vector_name)], "delete_vector_name")
            vectors = dict(coll.sidecar.get("vectors") or {})
            sparse = dict(coll.sidecar.get("sparse_vectors") or {})
            vectors.pop(vector_name, None)
            sparse.pop(vector_name, None)
            coll.sidecar = {**coll.sidecar, "vectors": vectors, "sparse_vectors": sparse or None}
            coll.write_sidecar()
        return _ok()

    # -- points: writes -----------------------------------------------------------------
    # Edge checks a request point by point while writing it (a bad vector mid-request left
    # the points before it stored, a NaN was stored, a ragged multivector crashed it): every
    # vector of a request is checked against the collection (.checks) before the first
    # operation is applied.
    def _upsert_op(
        self, schema: VectorsSchema, points: Any, update_filter: Any, update_mode: Any, check: bool = True
    ) -> _Op:
        structs = batch_points(points) if isinstance(points, models.Batch) else list(points)
        if not structs:
            raise ValueError("Empty update request")
        values = check_points(structs, schema) if check else 0
        edge_points = [edge_point(p) for p in structs]
        mode = None
        if update_mode is not None:
            mode = {
                models.UpdateMode.UPSERT: E.UpdateMode.Upsert,
                models.UpdateMode.INSERT_ONLY: E.UpdateMode.InsertOnly,
                models.UpdateMode.UPDATE_ONLY: E.UpdateMode.UpdateOnly,
            }[models.UpdateMode(update_mode)]
        op = E.UpdateOperation.upsert_points(edge_points, edge_filter(update_filter), mode)
        return _Op(op, values, len(structs))

    def upsert(
        self,
        collection_name: str,
        points: Any,
        update_filter: models.Filter | None = None,
        update_mode: Any = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        return self._write(
            collection_name,
            "upsert",
            lambda schema: self._upsert_op(schema, points, update_filter, update_mode),
        )

    def check_points(self, collection_name: str, points: Sequence[Any]) -> None:
        """Check every vector of ``points`` against the collection, and that the disk has
        the space to write them all, writing nothing (see :mod:`.checks`): for clients that
        hand :meth:`upload_points` a list as a stream."""
        coll = self._get(collection_name)
        values = check_points(points, coll.schema())
        self._check_upload_space(coll, values, len(points))

    def check_columns(self, collection_name: str, vectors: Any, ids: Any = None) -> None:
        """Check sized ``upload_collection`` vectors whole (as :meth:`check_points`)."""
        coll = self._get(collection_name)
        labels = ids if isinstance(ids, (Sequence, np.ndarray)) else None
        values = check_columns(vectors, coll.schema(), labels)
        n = len(next(iter(vectors.values()), ())) if isinstance(vectors, Mapping) else len(vectors)
        self._check_upload_space(coll, values, n)

    @staticmethod
    def _check_upload_space(coll: _Collection, values: int, points: int) -> None:
        storage.check_free_space(
            coll.folder, storage.write_needed(values, points), f"uploading {points:,} points"
        )

    def upload_points(
        self,
        collection_name: str,
        points: Iterable[Any],
        batch_size: int = 64,
        update_filter: models.Filter | None = None,
        update_mode: Any = None,
        **kwargs: Any,
    ) -> None:
        """Write ``points`` ``batch_size`` at a time; then :meth:`optimize` when at least
        :data:`BULK_OPTIMIZE_POINTS` points were written.

        A list or tuple is checked whole before its first batch is written (a bad point
        writes nothing). Anything else (a generator: ``QdrantClient.upload_points`` hands
        every input over as one) is streamed, never held whole: each batch is checked and
        written all or nothing, so a bad point (or an error of the generator) stops the
        upload with the batches before its own written."""
        checked = False
        if isinstance(points, Sequence):
            self.check_points(collection_name, points)
            checked = True
        self._upload(collection_name, points, batch_size, update_filter, update_mode, checked)

    def _upload(
        self, collection_name: str, points: Iterable[Any], batch_size: int, update_filter: Any,
        update_mode: Any, checked: bool,
    ) -> None:
        """Write ``points`` in batches; ``checked``: they were checked whole already."""
        schema = self._get(collection_name).schema()
        size = max(int(batch_size or 64), 1)
        written = 0
        it = iter(points)
        while chunk := list(itertools.islice(it, size)):
            op = self._upsert_op(schema, chunk, update_filter, update_mode, check=not checked)
            self._apply(collection_name, [op], "upload_points")
            written += len(chunk)
        if written >= BULK_OPTIMIZE_POINTS:
            self.optimize(collection_name)

    def upload_collection(
        self,
        collection_name: str,
        vectors: Any,
        payload: Iterable[Any] | None = None,
        ids: Iterable[Any] | None = None,
        batch_size: int = 64,
        update_filter: models.Filter | None = None,
        update_mode: Any = None,
        **kwargs: Any,
    ) -> None:
        """Columns (``{name: array}``, an array, or an iterable of vector structs) as a
        stream of points, written as :meth:`upload_points` writes them. Missing ids become
        UUIDs. A dict of columns, an array or a list is checked whole before the first
        batch is written; a generator is checked batch by batch."""
        checked = isinstance(vectors, (Mapping, np.ndarray, Sequence))
        if checked:
            self.check_columns(collection_name, vectors, ids)
        self._upload(
            collection_name, _columns_as_points(vectors, payload, ids), batch_size,
            update_filter, update_mode, checked,
        )

    def update_vectors(
        self,
        collection_name: str,
        points: Sequence[models.PointVectors],
        update_filter: models.Filter | None = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        return self._write(
            collection_name, "update_vectors", lambda schema: _update_vectors_op(schema, points, update_filter)
        )

    def delete_vectors(
        self, collection_name: str, vectors: Sequence[str], points: Any, **kwargs: Any
    ) -> models.UpdateResult:
        return self._write(collection_name, "delete_vectors", lambda _: _delete_vectors_op(list(vectors), points))

    def delete(self, collection_name: str, points_selector: Any, **kwargs: Any) -> models.UpdateResult:
        return self._write(collection_name, "delete", lambda _: _delete_op(points_selector))

    def set_payload(
        self, collection_name: str, payload: Any, points: Any, key: str | None = None, **kwargs: Any
    ) -> models.UpdateResult:
        return self._write(collection_name, "set_payload", lambda _: _set_payload_op(payload, points, key))

    def overwrite_payload(
        self, collection_name: str, payload: Any, points: Any, **kwargs: Any
    ) -> models.UpdateResult:
        return self._write(collection_name, "overwrite_payload", lambda _: _overwrite_payload_op(payload, points))

    def delete_payload(
        self, collection_name: str, keys: Sequence[str], points: Any, **kwargs: Any
    ) -> models.UpdateResult:
        return self._write(collection_name, "delete_payload", lambda _: _delete_payload_op(list(keys), points))

    def clear_payload(self, collection_name: str, points_selector: Any, **kwargs: Any) -> models.UpdateResult:
        return self._write(collection_name, "clear_payload", lambda _: _clear_payload_op(points_selector))

    def batch_update_points(
        self, collection_name: str, update_operations: Sequence[Any], **kwargs: Any
    ) -> list[models.UpdateResult]:
        """All operations are converted (and so checked) before the first is applied."""
        schema = self._get(collection_name).schema()
        ops = [self._operation(schema, op) for op in update_operations]
        self._apply(collection_name, ops, "batch_update_points")
        return [_ok() for _ in ops]

    def _operation(self, schema: VectorsSchema, op: Any) -> Any:
        if isinstance(op, models.UpsertOperation):
            up = op.upsert
            points = up.batch if isinstance(up, models.PointsBatch) else up.points
            return self._upsert_op(schema, points, up.update_filter, up.update_mode)
        if isinstance(op, models.DeleteOperation):
            return _delete_op(op.delete)
        if isinstance(op, models.SetPayloadOperation):
            sp = op.set_payload
            return _set_payload_op(sp.payload, _points_or_filter(sp.points, sp.filter), sp.key)
        if isinstance(op, models.OverwritePayloadOperation):
            sp = op.overwrite_payload
            return _overwrite_payload_op(sp.payload, _points_or_filter(sp.points, sp.filter), sp.key)
        if isinstance(op, models.DeletePayloadOperation):
            dp = op.delete_payload
            return _delete_payload_op(list(dp.keys), _points_or_filter(dp.points, dp.filter))
        if isinstance(op, models.ClearPayloadOperation):
            return _clear_payload_op(op.clear_payload)
        if isinstance(op, models.UpdateVectorsOperation):
            uv = op.update_vectors
            return _update_vectors_op(schema, uv.points, uv.update_filter)
        if isinstance(op, models.DeleteVectorsOperation):
            dv = op.delete_vectors
            return _delete_vectors_op(list(dv.vector), _points_or_filter(dv.points, dv.filter))
        raise EdgeUnsupportedError(f"batch_update_points with {type(op).__name__}")

    # -- points: reads ------------------------------------------------------------------
    def retrieve(
        self,
        collection_name: str,
        ids: Sequence[Any],
        with_payload: Any = True,
        with_vectors: Any = False,
        **kwargs: Any,
    ) -> list[models.Record]:
        shard = self._shard(collection_name)
        wp, has_payload = edge_with_payload(with_payload)
        shape = ResultShape(has_payload, edge_with_vectors(with_vectors))
        with _edge_errors(f"retrieve from {collection_name!r}"):
            records = shard.retrieve([edge_id(i) for i in ids], wp, shape.with_vectors)
        return shape.records(records)

    def scroll(
        self,
        collection_name: str,
        scroll_filter: models.Filter | None = None,
        limit: int = 10,
        order_by: Any = None,
        offset: Any = None,
        with_payload: Any = True,
        with_vectors: Any = False,
        **kwargs: Any,
    ) -> tuple[list[models.Record], Any]:
        if limit < 1:
            raise ValueError(f"limit value {limit} is invalid. Must be 1 or larger.")
        shard = self._shard(collection_name)
        wp, has_payload = edge_with_payload(with_payload)
        shape = ResultShape(has_payload, edge_with_vectors(with_vectors))
        flt = edge_filter(scroll_filter)
        ob = edge_order_by(order_by) if order_by is not None else None

        def fetch(n: int) -> tuple[list[Any], Any]:
            request = E.ScrollRequest(
                offset=edge_id(offset) if offset is not None else None,
                limit=n,
                filter=flt,
                with_payload=wp,
                with_vector=shape.with_vectors,
                order_by=ob,
            )
            with _edge_errors(f"scroll {collection_name!r}"):
                records, next_offset = shard.scroll(request)
            return list(records), next_offset

        records, next_offset = fetch(limit)
        if ob is not None:
            records = _order_by_refill(records, limit, lambda n: fetch(n)[0])
        return shape.records(records), model_id(next_offset) if next_offset is not None else None

    def count(
        self, collection_name: str, count_filter: models.Filter | None = None, exact: bool = True, **kwargs: Any
    ) -> models.CountResult:
        shard = self._shard(collection_name)
        with _edge_errors(f"count {collection_name!r}"):
            n = shard.count(E.CountRequest(exact=bool(exact), filter=edge_filter(count_filter)))
        return models.CountResult(count=n)

    def facet(
        self,
        collection_name: str,
        key: str,
        facet_filter: models.Filter | None = None,
        limit: int = 10,
        exact: bool = False,
        **kwargs: Any,
    ) -> models.FacetResponse:
        if limit < 1:
            raise ValueError(f"limit value {limit} is invalid. Must be 1 or larger.")
        shard = self._shard(collection_name)
        flt = edge_filter(facet_filter)
        # Edge cuts ties at `limit` in no fixed order (an approximate facet differs from call
        # to call): ask for more until every value tied with the last kept one is in, then
        # order as local mode and a server do, by count descending, then by value
        asked = limit
        while True:
            with _edge_errors(f"facet {collection_name!r}"):
                hits = shard.facet(E.FacetRequest(key, limit=asked, exact=bool(exact), filter=flt)).hits
            counts = sorted((h.count for h in hits), reverse=True)
            if len(hits) < asked or counts[-1] < counts[limit - 1]:
                break
            asked *= 2
        ordered = sorted(hits, key=lambda h: (-h.count, h.value))[:limit]
        return models.FacetResponse(
            hits=[models.FacetValueHit(value=h.value, count=h.count) for h in ordered]
        )

    def _lookup(self, collection_name: str, vector_name: str, point_id: Any) -> Any:
        """The stored ``vector_name`` vector of a point (for queries naming points)."""
        shard = self._shard(collection_name)
        with _edge_errors(f"looking up point {point_id!r} in {collection_name!r}"):
            records = shard.retrieve([edge_id(point_id)], False, [vector_name] if vector_name else True)
        if not records:
            raise ValueError(f"Point {point_id} is not found in collection {collection_name}")
        vec = model_vector(records[0].vector)
        if isinstance(vec, Mapping):
            if vector_name not in vec:
                raise ValueError(f"Vector {vector_name!r} of point {point_id} is not found")
            vec = vec[vector_name]
        if isinstance(vec, models.SparseVector):
            return vec
        return np.asarray(vec, dtype=np.float32)

    def _request(self, collection_name: str, r: models.QueryRequest) -> tuple[Any, ResultShape]:
        """One ``query_points`` request as Edge's ``QueryRequest``, and the shape of its
        results. ``r`` is built unvalidated (``model_construct``): numpy queries pass, and
        parts given as dicts are validated into their models here, as qdrant-client's
        remote client does."""
        query, prefetch, score_threshold, offset = r.query, r.prefetch, r.score_threshold, r.offset
        limit = r.limit
        if limit is None:
            limit = 10
        if limit < 1:
            raise ValueError(f"limit value {limit} is invalid. Must be 1 or larger.")
        if offset is not None and offset < 0:
            raise ValueError(f"offset value {offset} is invalid. Must be 0 or larger.")
        if prefetch and query is None:
            raise ValueError("A query is needed to merge the prefetches.")
        if score_threshold is not None and query is None:
            raise ValueError("A query is needed to use the score_threshold.")
        if isinstance(query, models.OrderByQuery) and score_threshold is not None:
            raise ValueError("Can't use score_threshold with an order_by query.")
        if isinstance(query, models.SampleQuery):
            offset = None  # a random sample has no order to skip into: local mode ignores it
        conv = QueryConverter(collection_name, self._lookup)
        mentioned: list[Any] = []
        q = conv.query(query, r.using, r.lookup_from, mentioned, limit)
        wp, has_payload = edge_with_payload(r.with_payload)
        with_vectors = edge_with_vectors(r.with_vector)
        request = E.QueryRequest(
            limit=limit,
            offset=offset,
            query=q,
            prefetches=conv.prefetches(prefetch),
            with_vector=with_vectors,
            with_payload=wp,
            filter=edge_filter(has_id_excluded(parse_model(r.filter, models.Filter), mentioned)),
            score_threshold=score_threshold,
            params=edge_search_params(r.params),
        )
        return request, ResultShape(has_payload, with_vectors)

    def query_points(
        self,
        collection_name: str,
        query: Any = None,
        using: str | None = None,
        prefetch: Any = None,
        query_filter: models.Filter | None = None,
        search_params: models.SearchParams | None = None,
        limit: int = 10,
        offset: int | None = None,
        with_payload: Any = True,
        with_vectors: Any = False,
        score_threshold: float | None = None,
        lookup_from: Any = None,
        **kwargs: Any,
    ) -> QueryResponse:
        r = models.QueryRequest.model_construct(
            query=query, using=using, prefetch=prefetch, filter=query_filter,
            params=search_params, limit=limit, offset=offset, with_payload=with_payload,
            with_vector=with_vectors, score_threshold=score_threshold, lookup_from=lookup_from,
        )
        return QueryResponse(points=self._query(collection_name, r))

    def _query(self, collection_name: str, r: models.QueryRequest, answer: Any = None) -> list[models.ScoredPoint]:
        """Run one request (``answer``: Edge's points for it, when a batch ran it already)."""
        shard = self._shard(collection_name)
        request, shape = self._request(collection_name, r)
        if answer is None:
            with _query_errors(f"query_points on {collection_name!r}"):
                answer = shard.query(request)
        if isinstance(r.query, models.OrderByQuery):
            offset = r.offset or 0

            def fetch(n: int) -> list[Any]:
                more, _ = self._request(collection_name, r.model_copy(update={"limit": offset + n, "offset": None}))
                with _query_errors(f"query_points on {collection_name!r}"):
                    return list(shard.query(more))[offset:]

            answer = _order_by_refill(list(answer), r.limit or 10, fetch)
        return shape.scored(answer)

    def query_batch_points(
        self, collection_name: str, requests: Sequence[models.QueryRequest], **kwargs: Any
    ) -> list[QueryResponse]:
        shard = self._shard(collection_name)
        parsed = [
            r.model_copy(update={
                "limit": r.limit or 10,
                "with_payload": r.with_payload if r.with_payload is not None else False,
                "with_vector": r.with_vector if r.with_vector is not None else False,
            })
            for r in requests
        ]
        built = [self._request(collection_name, r) for r in parsed]
        if not built:
            return []
        with _query_errors(f"query_batch_points on {collection_name!r}"):
            results = shard.query_batch(E.QueryBatchRequest([b[0] for b in built]))
        return [
            QueryResponse(points=self._query(collection_name, r, pts))
            if isinstance(r.query, models.OrderByQuery)
            else QueryResponse(points=shape.scored(pts))
            for r, (_, shape), pts in zip(parsed, built, results)
        ]

    # -- aliases, snapshots, cluster: Edge has none ------------------------------------
    def get_aliases(self, **kwargs: Any) -> models.CollectionsAliasesResponse:
        self._get_check_open()
        return models.CollectionsAliasesResponse(aliases=[])

    def get_collection_aliases(self, collection_name: str, **kwargs: Any) -> models.CollectionsAliasesResponse:
        self._get(collection_name)
        return models.CollectionsAliasesResponse(aliases=[])

    def list_snapshots(self, collection_name: str, **kwargs: Any) -> list[models.SnapshotDescription]:
        self._get(collection_name)
        return []

    def list_full_snapshots(self, **kwargs: Any) -> list[models.SnapshotDescription]:
        return []

    def info(self) -> models.VersionInfo:
        """The title local mode and a server give; ``version`` is qdrant-edge-py's (local
        mode gives qdrant-client's, a server its own)."""
        return models.VersionInfo(title="qdrant - vector search engine", version=_edge_version())


def _unsupported(name: str) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise EdgeUnsupportedError(
            f"{name}()", "use a Qdrant server (url=...) for aliases, groups, snapshots and clusters"
        )

    method.__name__ = name
    method.__qualname__ = f"EdgeBackend.{name}"
    method.__doc__ = "Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."
    return method


_FACADE_ONLY = ("migrate",)
"""``QdrantBase`` methods ``QdrantClient`` implements itself over the others (so they work
on Edge) and never calls on its backend: left as ``QdrantBase`` has them."""

for _name, _fn in inspect.getmembers(QdrantBase, inspect.isfunction):
    if not _name.startswith("_") and _name not in EdgeBackend.__dict__ and _name not in _FACADE_ONLY:
        setattr(EdgeBackend, _name, _unsupported(_name))


# ---------------------------------------------------------------------------------------
# helpers: operations, config
# ---------------------------------------------------------------------------------------
def _validate_collection_name(name: str) -> None:
    if not isinstance(name, str):
        raise ValueError(f"Collection name must be a string, got {type(name).__name__}")  # noqa: TRY004 - ValueError, as qdrant-client
    for ch in _INVALID_NAME_CHARS:
        if ch in name:
            raise ValueError(f"Collection name cannot contain {ch!r} char")
    if name in ("", ".", "..") or name.startswith(".deleted-"):
        raise ValueError(f"Collection name cannot be {name!r}")
    if len(name) > 255:
        raise ValueError("Collection name must be at most 255 characters long")


def _json_metadata(metadata: Any) -> dict[str, Any] | None:
    if metadata is None:
        return None
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(dict(metadata))


def _parse_quantization(raw: Any) -> Any:
    """The collection's quantization config as the sidecar holds it (a dict), as a model."""
    return parse_model(raw, models.QuantizationConfig)


def _edge_config(
    vectors_config: Any,
    sparse_vectors_config: Any,
    on_disk_payload: bool | None,
    hnsw_config: Any,
    optimizers_config: Any,
    quantization_config: Any,
) -> Any:
    if vectors_config is None:
        vectors: Any = {}
    elif isinstance(vectors_config, Mapping):
        vectors = {name: _vector_params(vp, name) for name, vp in vectors_config.items()}
    else:
        vectors = _vector_params(vectors_config, "")
    sparse = None
    if sparse_vectors_config:
        sparse = {}
        for name, sp in sparse_vectors_config.items():
            index = getattr(sp, "index", None)
            sparse[name] = E.EdgeSparseVectorParams(
                full_scan_threshold=getattr(index, "full_scan_threshold", None),
                on_disk=getattr(index, "on_disk", None),
                modifier=_modifier(sp),
                datatype=_edge_datatype(getattr(index, "datatype", None), name),
            )
    if not vectors and not sparse:
        # Edge refuses a config without vectors; a sparse vector no point will hold stands in
        # (its name has a character vector names may not have, so no user vector collides;
        # it is not in the sidecar, so get_collection does not show it)
        sparse = {NO_VECTORS_PLACEHOLDER: E.EdgeSparseVectorParams()}
    optimizers = None
    if optimizers_config is not None:
        o = optimizers_config
        optimizers = E.EdgeOptimizersConfig(
            deleted_threshold=o.deleted_threshold,
            vacuum_min_vector_number=o.vacuum_min_vector_number,
            default_segment_number=o.default_segment_number,
            max_segment_size=o.max_segment_size,
            indexing_threshold=o.indexing_threshold,
        )
    return E.EdgeConfig(
        vectors=vectors,
        sparse_vectors=sparse,
        on_disk_payload=on_disk_payload,
        hnsw_config=_hnsw(hnsw_config),
        quantization_config=_quantization(quantization_config),
        optimizers=optimizers,
    )


_SCHEMA_NAMES = {
    "keyword": "Keyword", "integer": "Integer", "float": "Float", "geo": "Geo",
    "text": "Text", "bool": "Bool", "datetime": "Datetime", "uuid": "Uuid",
}
def _edge_enum(enum: Any, value: Any) -> Any:
    """The member of Edge's ``enum`` named like qdrant-client's enum ``value``
    (``"english"`` -> ``English``, ``"multilingual"`` -> ``Multilingual``)."""
    key = str(getattr(value, "value", value)).replace("_", "").lower()
    for name in dir(enum):
        if not name.startswith("_") and name.replace("_", "").lower() == key:
            return getattr(enum, name)
    raise EdgeUnsupportedError(f"{enum.__name__} {key!r}")


def _index_option(field: str, value: Any) -> Any:
    """One option of ``*IndexParams`` as Edge takes it."""
    if field == "tokenizer":
        return _edge_enum(E.TokenizerType, value)
    if field == "memory":
        return _edge_enum(E.Memory, value)
    if field == "stopwords":
        if isinstance(value, models.StopwordsSet):
            return E.StopwordsSet(
                languages={_edge_enum(E.Language, x) for x in value.languages or []} or None,
                custom=set(value.custom or []) or None,
            )
        return _edge_enum(E.Language, value)
    if field == "stemmer":
        if isinstance(value, models.SnowballParams):
            return E.SnowballParams(_edge_enum(E.SnowballLanguage, value.language))
        return E.DisabledStemmer()
    if field == "scoring" and isinstance(value, models.TextScoringParams):
        return E.TextScoringParams(_edge_enum(E.TextScoringType, value.type))
    if isinstance(value, Enum) or not isinstance(value, (bool, int, float, str)):
        raise EdgeUnsupportedError(f"payload index option {field}={value!r}")
    return value


def _payload_schema(schema: Any) -> Any:
    """A payload index schema: a type (``models.PayloadSchemaType`` or its string) or
    ``*IndexParams`` (a model or its dict), every option given passed on to Edge (never
    dropped: an option like ``phrase_matching`` changes what filters match).

    Raises:
        EdgeUnsupportedError: an option Edge's index params do not have.
    """
    if isinstance(schema, (str, models.PayloadSchemaType)):
        key = models.PayloadSchemaType(schema).value
        return getattr(E.PayloadSchemaType, _SCHEMA_NAMES[key])
    schema = parse_model(schema, models.PayloadSchemaParams)
    kind = getattr(schema, "type", None)
    if kind is None:
        raise ValueError(f"unsupported payload index schema {schema!r}")
    key = str(getattr(kind, "value", kind))
    cls = getattr(E, f"{_SCHEMA_NAMES[key]}IndexParams")
    accepted = set(re.findall(r"(\w+)=", getattr(cls, "__text_signature__", None) or ""))
    opts: dict[str, Any] = {}
    for field, value in schema:
        if field == "type" or value is None:
            continue
        if field not in accepted:
            raise EdgeUnsupportedError(f"payload index option {field}={value!r}")
        opts[field] = _index_option(field, value)
    return cls(**opts)


def _order_by_refill(got: list[Any], limit: int, fetch: Any) -> list[Any]:
    """An order_by answer of ``limit`` entries where Edge gave fewer than exist.

    qdrant-edge 0.9 counts a point's repeated values of the order_by key (an array
    ``[4, 4]``) toward the limit and only then drops the repeats, so a filtered order_by
    can come back short (docs/engines.md, "Engine bugs worth reporting upstream").
    ``fetch(n)`` asks Edge for ``n``; the shortfall is asked for again until the answer is
    full or stops growing."""
    asked = limit
    while len(got) < limit:
        asked += limit - len(got)
        more = fetch(asked)
        if len(more) <= len(got):
            break
        got = more
    return got[:limit]


def _points_or_filter(points: Any, flt: Any) -> Any:
    if points is not None:
        return list(points)
    if flt is not None:
        return models.FilterSelector(filter=flt)
    raise ValueError("either points or filter is required")


def _delete_op(selector: Any) -> Any:
    ids, flt = selector_ids_or_filter(selector)
    if ids is not None:
        return E.UpdateOperation.delete_points(ids)
    return E.UpdateOperation.delete_points_by_filter(edge_filter(flt))


def _set_payload_op(payload: Any, selector: Any, key: str | None) -> Any:
    ids, flt = selector_ids_or_filter(selector)
    body = edge_payload(payload) or {}
    if ids is not None:
        return E.UpdateOperation.set_payload(ids, body, key)
    return E.UpdateOperation.set_payload_by_filter(edge_filter(flt), body, key)


def _overwrite_payload_op(payload: Any, selector: Any, key: str | None = None) -> Any:
    ids, flt = selector_ids_or_filter(selector)
    body = edge_payload(payload) or {}
    if ids is not None:
        return E.UpdateOperation.overwrite_payload(ids, body, key)
    return E.UpdateOperation.overwrite_payload_by_filter(edge_filter(flt), body, key)


def _delete_payload_op(keys: list[str], selector: Any) -> Any:
    ids, flt = selector_ids_or_filter(selector)
    if ids is not None:
        return E.UpdateOperation.delete_payload(ids, keys)
    return E.UpdateOperation.delete_payload_by_filter(edge_filter(flt), keys)


def _clear_payload_op(selector: Any) -> Any:
    ids, flt = selector_ids_or_filter(selector)
    if ids is not None:
        return E.UpdateOperation.clear_payload(ids)
    return E.UpdateOperation.clear_payload_by_filter(edge_filter(flt))


def _update_vectors_op(schema: VectorsSchema, points: Sequence[Any], update_filter: Any) -> _Op:
    values = check_points(points, schema)
    pvs = [E.PointVectors(edge_id(p.id), edge_vector_struct(p.vector)) for p in points]
    if not pvs:
        raise ValueError("Empty update request")
    return _Op(E.UpdateOperation.update_vectors(pvs, edge_filter(update_filter)), values, len(pvs))


def _delete_vectors_op(names: list[str], selector: Any) -> Any:
    ids, flt = selector_ids_or_filter(selector)
    if ids is not None:
        return E.UpdateOperation.delete_vectors(ids, names)
    return E.UpdateOperation.delete_vectors_by_filter(edge_filter(flt), names)


def _columns_as_points(vectors: Any, payload: Iterable[Any] | None, ids: Iterable[Any] | None) -> Iterator[Any]:
    """``upload_collection`` columns as a stream of point structs, ending with the shortest
    input, as a server's upload does (``QdrantClient.upload_collection`` has already
    refused ``ids``/``payload`` shorter than sized vectors)."""
    if isinstance(vectors, Mapping):
        lengths = {len(v) for v in vectors.values()}
        if len(lengths) > 1:
            raise ValueError("Each named vector should have the same number of vectors")
        n = lengths.pop() if lengths else 0
        rows: Iterable[Any] = ({k: col[i] for k, col in vectors.items()} for i in range(n))
    elif isinstance(vectors, np.ndarray):
        rows = (vectors[i] for i in range(len(vectors)))
    else:
        rows = vectors
    id_iter: Iterable[Any] = (str(uuid.uuid4()) for _ in itertools.count()) if ids is None else ids
    pay_iter: Iterable[Any] = itertools.repeat(None) if payload is None else payload
    for pid, vec, pay in zip(id_iter, rows, pay_iter):
        yield models.PointStruct.model_construct(id=pid, vector=vec, payload=pay)




# ---------------------------------------------------------------------------------------
# async twin: the same backend, calls in a worker thread
# ---------------------------------------------------------------------------------------
class AsyncEdgeBackend(AsyncQdrantBase):
    """``AsyncQdrantBase`` over :class:`EdgeBackend`: every coroutine method runs the sync
    backend's method in a worker thread (``asyncio.to_thread``), so the event loop never
    blocks on Edge; the methods that are sync in ``AsyncQdrantBase`` (``upload_points``,
    ``upload_collection``) call it directly. Methods are generated from
    ``AsyncQdrantBase``, so the surface cannot drift from the sync backend's."""

    engine_name = "edge"

    def __init__(self, location: str | os.PathLike[str], **kwargs: Any) -> None:
        super().__init__()
        self.sync = EdgeBackend(location, **kwargs)

    @property
    def closed(self) -> bool:
        return self.sync.closed

    @property
    def persistent(self) -> bool:
        return self.sync.persistent

    @property
    def location(self) -> str:
        return self.sync.location

    def collection_path(self, collection_name: str) -> Path:
        return self.sync.collection_path(collection_name)

    async def optimize(self, collection_name: str | None = None) -> bool:
        """See :meth:`EdgeBackend.optimize` (runs in a worker thread)."""
        return await asyncio.to_thread(self.sync.optimize, collection_name)


def _bridge(name: str, is_async: bool) -> Any:
    if is_async:
        async def amethod(self: AsyncEdgeBackend, *args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(getattr(self.sync, name), *args, **kwargs)

        method: Any = amethod
    else:
        def smethod(self: AsyncEdgeBackend, *args: Any, **kwargs: Any) -> Any:
            return getattr(self.sync, name)(*args, **kwargs)

        method = smethod
    method.__name__ = name
    method.__qualname__ = f"AsyncEdgeBackend.{name}"
    method.__doc__ = f"See :meth:`EdgeBackend.{name}`."
    return method


for _name, _fn in inspect.getmembers(AsyncQdrantBase, inspect.isfunction):
    if not _name.startswith("_") and _name not in AsyncEdgeBackend.__dict__:
        setattr(AsyncEdgeBackend, _name, _bridge(_name, inspect.iscoroutinefunction(_fn)))
