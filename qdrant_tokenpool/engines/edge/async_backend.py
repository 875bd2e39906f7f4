"""``AsyncEdgeBackend``: the ``AsyncQdrantBase`` over :class:`~.backend.EdgeBackend`.

Every coroutine method runs the sync backend's method in a worker thread
(``asyncio.to_thread``), so the event loop never blocks on Edge, and Edge, which releases
the GIL, runs calls from several tasks in parallel. The methods that are sync in
``AsyncQdrantBase`` (``migrate``, ``upload_points``, ``upload_collection``) call it
directly. Every ``AsyncQdrantBase`` method is written out here (``tests`` check none is
missing).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from qdrant_client.async_client_base import AsyncQdrantBase

from .backend import EdgeBackend

__all__ = ["AsyncEdgeBackend"]


class AsyncEdgeBackend(AsyncQdrantBase):
    """``AsyncQdrantBase`` over :class:`EdgeBackend` (``sync``): the same database, each call
    in a worker thread."""

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
        """See :meth:`EdgeBackend.optimize`."""
        return await asyncio.to_thread(self.sync.optimize, collection_name)

    async def batch_update_points(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.batch_update_points, *args, **kwargs)

    async def clear_payload(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.clear_payload, *args, **kwargs)

    async def close(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.close, *args, **kwargs)

    async def cluster_collection_update(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.cluster_collection_update, *args, **kwargs)

    async def cluster_status(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.cluster_status, *args, **kwargs)

    async def cluster_telemetry(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.cluster_telemetry, *args, **kwargs)

    async def collection_cluster_info(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.collection_cluster_info, *args, **kwargs)

    async def collection_exists(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.collection_exists, *args, **kwargs)

    async def count(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.count, *args, **kwargs)

    async def create_collection(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.create_collection, *args, **kwargs)

    async def create_full_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.create_full_snapshot, *args, **kwargs)

    async def create_payload_index(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.create_payload_index, *args, **kwargs)

    async def create_shard_key(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.create_shard_key, *args, **kwargs)

    async def create_shard_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.create_shard_snapshot, *args, **kwargs)

    async def create_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.create_snapshot, *args, **kwargs)

    async def create_vector_name(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.create_vector_name, *args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.delete, *args, **kwargs)

    async def delete_collection(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.delete_collection, *args, **kwargs)

    async def delete_full_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.delete_full_snapshot, *args, **kwargs)

    async def delete_payload(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.delete_payload, *args, **kwargs)

    async def delete_payload_index(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.delete_payload_index, *args, **kwargs)

    async def delete_shard_key(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.delete_shard_key, *args, **kwargs)

    async def delete_shard_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.delete_shard_snapshot, *args, **kwargs)

    async def delete_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.delete_snapshot, *args, **kwargs)

    async def delete_vector_name(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.delete_vector_name, *args, **kwargs)

    async def delete_vectors(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.delete_vectors, *args, **kwargs)

    async def facet(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.facet, *args, **kwargs)

    async def get_aliases(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.get_aliases, *args, **kwargs)

    async def get_collection(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.get_collection, *args, **kwargs)

    async def get_collection_aliases(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.get_collection_aliases, *args, **kwargs)

    async def get_collections(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.get_collections, *args, **kwargs)

    async def get_optimizations(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.get_optimizations, *args, **kwargs)

    async def info(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.info, *args, **kwargs)

    async def list_full_snapshots(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.list_full_snapshots, *args, **kwargs)

    async def list_shard_keys(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.list_shard_keys, *args, **kwargs)

    async def list_shard_snapshots(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.list_shard_snapshots, *args, **kwargs)

    async def list_snapshots(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.list_snapshots, *args, **kwargs)

    def migrate(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync.migrate(*args, **kwargs)

    async def overwrite_payload(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.overwrite_payload, *args, **kwargs)

    async def query_batch_points(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.query_batch_points, *args, **kwargs)

    async def query_points(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.query_points, *args, **kwargs)

    async def query_points_groups(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.query_points_groups, *args, **kwargs)

    async def recover_current_peer(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.recover_current_peer, *args, **kwargs)

    async def recover_shard_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.recover_shard_snapshot, *args, **kwargs)

    async def recover_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.recover_snapshot, *args, **kwargs)

    async def recreate_collection(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.recreate_collection, *args, **kwargs)

    async def remove_peer(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.remove_peer, *args, **kwargs)

    async def retrieve(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.retrieve, *args, **kwargs)

    async def scroll(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.scroll, *args, **kwargs)

    async def search_matrix_offsets(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.search_matrix_offsets, *args, **kwargs)

    async def search_matrix_pairs(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.search_matrix_pairs, *args, **kwargs)

    async def set_payload(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.set_payload, *args, **kwargs)

    async def update_collection(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.update_collection, *args, **kwargs)

    async def update_collection_aliases(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.update_collection_aliases, *args, **kwargs)

    async def update_vectors(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.update_vectors, *args, **kwargs)

    def upload_collection(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync.upload_collection(*args, **kwargs)

    def upload_points(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync.upload_points(*args, **kwargs)

    async def upsert(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.sync.upsert, *args, **kwargs)
