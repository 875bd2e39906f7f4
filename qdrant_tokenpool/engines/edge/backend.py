"""``EdgeBackend``: the ``QdrantBase`` that ``QdrantClient`` delegates every call to, over
Qdrant Edge. Edge checks a request point by point while writing it, so every vector of a
request is checked first (:mod:`qdrant_tokenpool.engines.checks`), and the disk's free
space before any write (:mod:`.storage`).
"""

from __future__ import annotations

import os
import tempfile
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as E
from qdrant_client import models
from qdrant_client.http.models import QueryResponse
from qdrant_client.uploader.uploader import iter_batch

from .. import DamagedCollectionError, EdgeUnsupportedError
from ..checks import check_columns, check_points
from ..folders import folder_engine
from . import operations, storage
from .config import (
    collection_info,
    json_metadata,
    new_collection,
    payload_schema,
    validate_collection_name,
    vector_name_change,
)
from .errors import edge_errors, query_errors
from .filters import edge_filter
from .points import (
    ResultShape,
    edge_id,
    edge_with_payload,
    edge_with_vectors,
    model_id,
    model_vector,
)
from .queries import edge_order_by, facet_response, order_by_refill, query_request, search_batch
from .storage import CollectionFolder, FolderLock
from .unsupported import EdgeLacks

__all__ = ["BULK_OPTIMIZE_POINTS", "EdgeBackend"]

BULK_OPTIMIZE_POINTS = 1000
"""``upload_points``/``upload_collection`` calls writing at least this many points run
:meth:`EdgeBackend.optimize` on the collection when they finish."""


def _ok() -> models.UpdateResult:
    return models.UpdateResult(operation_id=0, status=models.UpdateStatus.COMPLETED)


class EdgeBackend(EdgeLacks):
    """``QdrantBase`` over Qdrant Edge: one Edge shard per collection under one folder
    (what Edge lacks: :class:`~.unsupported.EdgeLacks`).

    Args:
        location: a folder (created if missing; :meth:`close` optimizes the collections
            changed since their last optimization, so it reopens indexed) or ``":memory:"``
            (a temporary folder, removed on :meth:`close`).

    Raises:
        StorageLockedError: the folder is open in another client.
        ValueError: the folder holds a qdrant-client local-mode database.
    """

    engine_name = "edge"

    def __init__(self, location: str | os.PathLike[str], **kwargs: Any) -> None:
        super().__init__()
        self._memory = str(location) == ":memory:"
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
        try:
            self._collections, self._damaged = storage.open_folder(self.root)
        except BaseException:
            self._folder_lock.release()
            raise
        self._finalizer = weakref.finalize(
            self, storage.release_folder, self._collections, self._folder_lock,
            self.root if self._memory else None,
        )

    # -- the folder (.storage) -----------------------------------------------------------
    @property
    def damaged(self) -> dict[str, DamagedCollectionError]:
        """Damaged collections by name, with the error each raises when used (listed by
        ``get_collections``; deleted only by ``delete_collection``)."""
        return dict(self._damaged)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("This Qdrant Edge client is closed. Please create a new instance.")

    def _get(self, collection_name: str) -> CollectionFolder:
        self._check_open()
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
        """Apply Edge operations (or :class:`~.operations.Op` with their sizes) once the disk
        has the space they need."""
        coll = self._get(collection_name)
        shard = coll.shard()
        sized = [op if isinstance(op, operations.Op) else operations.Op(op) for op in ops]
        needed = storage.write_needed(sum(o.values for o in sized), sum(o.points for o in sized))
        storage.check_free_space(coll.folder, needed, f"{what} on collection {collection_name!r}")
        coll.dirty = True
        with edge_errors(f"{what} on {collection_name!r}"):
            for o in sized:
                shard.update(o.op)

    def _write(self, collection_name: str, what: str, build: Any) -> models.UpdateResult:
        """Apply ``build(schema)``: an unknown collection is reported before the request is
        converted (and so checked)."""
        coll = self._get(collection_name)
        self._apply(collection_name, [build(coll.schema())], what)
        return _ok()

    def close(self, **kwargs: Any) -> None:
        """Optimize changed collections (not ``":memory:"``), flush, close every shard and
        release the folder; ``":memory:"`` folders are removed."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                for coll in self._collections.values():
                    coll.close(optimize=not self._memory)
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
        """Run Edge's optimizers (segment merge, vacuum, HNSW) on one collection or all, until
        done. Returns whether anything changed."""
        names = [collection_name] if collection_name is not None else list(self._collections)
        changed = [self._get(name).optimize() for name in names]
        return any(changed)

    # -- collections --------------------------------------------------------------------
    def get_collections(self, **kwargs: Any) -> models.CollectionsResponse:
        self._check_open()
        return models.CollectionsResponse(
            collections=[models.CollectionDescription(name=n) for n in [*self._collections, *self._damaged]]
        )

    def collection_exists(self, collection_name: str, **kwargs: Any) -> bool:
        self._check_open()
        return collection_name in self._collections or collection_name in self._damaged

    def get_collection(self, collection_name: str, **kwargs: Any) -> models.CollectionInfo:
        coll = self._get(collection_name)
        with edge_errors(f"get_collection {collection_name!r}"):
            info = coll.shard().info()
        return collection_info(coll, info)

    def create_collection(
        self,
        collection_name: str,
        vectors_config: models.VectorParams | Mapping[str, models.VectorParams] | None = None,
        sparse_vectors_config: Mapping[str, models.SparseVectorParams] | None = None,
        *,
        on_disk_payload: bool | None = None,
        hnsw_config: models.HnswConfigDiff | None = None,
        optimizers_config: models.OptimizersConfigDiff | None = None,
        quantization_config: Any = None,
        metadata: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> bool:
        """Create a collection (one Edge shard). Settings with no meaning in one process
        (shards, replication, WAL, ...) are ignored, as in local mode."""
        if kwargs.get("init_from") is not None:
            raise EdgeUnsupportedError("create_collection(init_from=...)")
        config, sidecar = new_collection(
            collection_name, vectors_config, sparse_vectors_config, on_disk_payload,
            hnsw_config, optimizers_config, quantization_config, metadata,
        )
        with self._lock:
            self._check_open()
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
            self._collections[collection_name] = storage.create_collection_folder(
                self.root, collection_name, config, sidecar
            )
        return True

    def recreate_collection(self, collection_name: str, *args: Any, **kwargs: Any) -> bool:
        validate_collection_name(collection_name)
        self.delete_collection(collection_name)
        return self.create_collection(collection_name, *args, **kwargs)

    def delete_collection(self, collection_name: str, **kwargs: Any) -> bool:
        """Delete a collection, a damaged one too (:func:`~.storage.trash_folder`)."""
        with self._lock:
            self._check_open()
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
        for key, value in {
            "optimizers_config": optimizers_config,
            "collection_params": collection_params,
            "vectors_config": vectors_config,
            "hnsw_config": hnsw_config,
            "quantization_config": quantization_config,
            "sparse_vectors_config": sparse_vectors_config,
            "strict_mode_config": strict_mode_config,
        }.items():
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
            merged.update(json_metadata(metadata) or {})
            coll.write_sidecar({**coll.sidecar, "metadata": merged})
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
        return self._write(
            collection_name,
            "create_payload_index",
            lambda _: E.UpdateOperation.create_field_index(field_name, payload_schema(schema)),
        )

    def delete_payload_index(
        self, collection_name: str, field_name: str, **kwargs: Any
    ) -> models.UpdateResult:
        op = E.UpdateOperation.delete_field_index(field_name)
        return self._write(collection_name, "delete_payload_index", lambda _: op)

    def create_vector_name(
        self, collection_name: str, vector_name: str, vector_name_config: Any, **kwargs: Any
    ) -> models.UpdateResult:
        with self._lock:
            coll = self._get(collection_name)
            op, sidecar = vector_name_change(coll.sidecar, vector_name, vector_name_config)
            self._apply(collection_name, [op], "create_vector_name")
            coll.write_sidecar(sidecar)
        return _ok()

    def delete_vector_name(self, collection_name: str, vector_name: str, **kwargs: Any) -> models.UpdateResult:
        with self._lock:
            coll = self._get(collection_name)
            self._apply(collection_name, [E.UpdateOperation.delete_vector_name(vector_name)], "delete_vector_name")
            vectors = dict(coll.sidecar.get("vectors") or {})
            sparse = dict(coll.sidecar.get("sparse_vectors") or {})
            vectors.pop(vector_name, None)
            sparse.pop(vector_name, None)
            coll.write_sidecar({**coll.sidecar, "vectors": vectors, "sparse_vectors": sparse or None})
        return _ok()

    # -- points: writes -----------------------------------------------------------------
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
            lambda schema: operations.upsert_op(schema, points, update_filter, update_mode),
        )

    def check_points(self, collection_name: str, points: Sequence[Any]) -> None:
        """Check every vector of ``points`` and the disk space to write them, writing
        nothing: for clients that hand :meth:`upload_points` a list as a stream."""
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
    def _check_upload_space(coll: CollectionFolder, values: int, points: int) -> None:
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
        """Write ``points`` ``batch_size`` at a time, then :meth:`optimize` after at least
        :data:`BULK_OPTIMIZE_POINTS`. A list or tuple is checked whole first; anything else
        is streamed, each batch checked and written all or nothing (a bad point stops the
        upload with the batches before its own written)."""
        checked = False
        if isinstance(points, Sequence):
            self.check_points(collection_name, points)
            checked = True
        self._upload(collection_name, points, batch_size, update_filter, update_mode, checked)

    def _upload(
        self, collection_name: str, points: Iterable[Any], batch_size: int, update_filter: Any,
        update_mode: Any, checked: bool,
    ) -> None:
        """``checked``: the points were checked whole already."""
        schema = self._get(collection_name).schema()
        written = 0
        for chunk in iter_batch(points, max(int(batch_size or 64), 1)):
            op = operations.upsert_op(schema, chunk, update_filter, update_mode, check=not checked)
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
        """Columns (``{name: array}``, an array, or an iterable of vector structs) written as
        :meth:`upload_points` writes points (missing ids become UUIDs); a dict, an array or
        a list is checked whole first, a generator batch by batch."""
        checked = isinstance(vectors, (Mapping, np.ndarray, Sequence))
        if checked:
            self.check_columns(collection_name, vectors, ids)
        self._upload(
            collection_name, operations.columns_as_points(vectors, payload, ids), batch_size,
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
            collection_name, "update_vectors", lambda schema: operations.update_vectors_op(schema, points, update_filter)
        )

    def delete_vectors(
        self, collection_name: str, vectors: Sequence[str], points: Any, **kwargs: Any
    ) -> models.UpdateResult:
        return self._write(collection_name, "delete_vectors", lambda _: operations.delete_vectors_op(list(vectors), points))

    def delete(self, collection_name: str, points_selector: Any, **kwargs: Any) -> models.UpdateResult:
        return self._write(collection_name, "delete", lambda _: operations.delete_op(points_selector))

    def set_payload(
        self, collection_name: str, payload: Any, points: Any, key: str | None = None, **kwargs: Any
    ) -> models.UpdateResult:
        return self._write(collection_name, "set_payload", lambda _: operations.set_payload_op(payload, points, key))

    def overwrite_payload(
        self, collection_name: str, payload: Any, points: Any, **kwargs: Any
    ) -> models.UpdateResult:
        return self._write(collection_name, "overwrite_payload", lambda _: operations.overwrite_payload_op(payload, points))

    def delete_payload(
        self, collection_name: str, keys: Sequence[str], points: Any, **kwargs: Any
    ) -> models.UpdateResult:
        return self._write(collection_name, "delete_payload", lambda _: operations.delete_payload_op(list(keys), points))

    def clear_payload(self, collection_name: str, points_selector: Any, **kwargs: Any) -> models.UpdateResult:
        return self._write(collection_name, "clear_payload", lambda _: operations.clear_payload_op(points_selector))

    def batch_update_points(
        self, collection_name: str, update_operations: Sequence[Any], **kwargs: Any
    ) -> list[models.UpdateResult]:
        """All operations are converted (and so checked) before the first is applied."""
        schema = self._get(collection_name).schema()
        ops = [operations.operation(schema, op) for op in update_operations]
        self._apply(collection_name, ops, "batch_update_points")
        return [_ok() for _ in ops]

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
        with edge_errors(f"retrieve from {collection_name!r}"):
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
            with edge_errors(f"scroll {collection_name!r}"):
                records, next_offset = shard.scroll(request)
            return list(records), next_offset

        records, next_offset = fetch(limit)
        if ob is not None:
            records = order_by_refill(records, limit, lambda n: fetch(n)[0])
        return shape.records(records), model_id(next_offset) if next_offset is not None else None

    def count(
        self, collection_name: str, count_filter: models.Filter | None = None, exact: bool = True, **kwargs: Any
    ) -> models.CountResult:
        shard = self._shard(collection_name)
        with edge_errors(f"count {collection_name!r}"):
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

        def fetch(n: int) -> list[Any]:
            with edge_errors(f"facet {collection_name!r}"):
                return list(shard.facet(E.FacetRequest(key, limit=n, exact=bool(exact), filter=flt)).hits)

        return facet_response(fetch, limit)

    def _lookup(self, collection_name: str, vector_name: str, point_id: Any) -> Any:
        """The stored ``vector_name`` vector of a point (for queries naming points)."""
        shard = self._shard(collection_name)
        with edge_errors(f"looking up point {point_id!r} in {collection_name!r}"):
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
        """``answer``: Edge's points for ``r``, when a batch ran it already."""
        shard = self._shard(collection_name)
        request, shape = query_request(collection_name, r, self._lookup)
        if answer is None:
            with query_errors(f"query_points on {collection_name!r}"):
                answer = shard.query(request)
        if isinstance(r.query, models.OrderByQuery):
            offset = r.offset or 0

            def fetch(n: int) -> list[Any]:
                more, _ = query_request(
                    collection_name, r.model_copy(update={"limit": offset + n, "offset": None}), self._lookup
                )
                with query_errors(f"query_points on {collection_name!r}"):
                    return list(shard.query(more))[offset:]

            answer = order_by_refill(list(answer), r.limit or 10, fetch)
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
        built = [query_request(collection_name, r, self._lookup) for r in parsed]
        if not built:
            return []
        with query_errors(f"query_batch_points on {collection_name!r}"):
            results = shard.query_batch(E.QueryBatchRequest([b[0] for b in built]))
        return [
            QueryResponse(points=self._query(collection_name, r, pts))
            if isinstance(r.query, models.OrderByQuery)
            else QueryResponse(points=shape.scored(pts))
            for r, (_, shape), pts in zip(parsed, built, results)
        ]

    def search_batch(
        self, collection_name: str, vectors: np.ndarray, **options: Any
    ) -> tuple[np.ndarray, list[Any], np.ndarray, list[Any] | None]:
        """The nearest points of each row of ``vectors`` (keywords ``using``, ``limit``,
        ``params``, ``payload_key``): :func:`.queries.search_batch`."""
        return search_batch(self._shard(collection_name), collection_name, vectors, **options)

    # -- aliases, snapshots, cluster: Edge has none ------------------------------------
    def get_aliases(self, **kwargs: Any) -> models.CollectionsAliasesResponse:
        self._check_open()
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
        """The title local mode and a server give, with qdrant-edge-py's version."""
        return models.VersionInfo(title="qdrant - vector search engine", version=storage.edge_version())
