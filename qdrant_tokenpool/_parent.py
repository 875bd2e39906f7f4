"""The parent-client methods that the flows call (:func:`qdrant_tokenpool._flow.call`),
captured once at import: typed references for the type checker, whose names the runners
look up on the sync or async client at run time. The seam between the package's logic
and qdrant-client, in one list."""

from __future__ import annotations

from qdrant_client import QdrantClient

__all__ = [
    "batch_update_points",
    "collection_exists",
    "count",
    "create_collection",
    "get_collection",
    "get_collections",
    "query_points",
    "retrieve",
    "scroll",
    "update_collection",
    "update_vectors",
    "upload_collection",
    "upload_points",
    "upsert",
]

batch_update_points = QdrantClient.batch_update_points
collection_exists = QdrantClient.collection_exists
count = QdrantClient.count
create_collection = QdrantClient.create_collection
get_collection = QdrantClient.get_collection
get_collections = QdrantClient.get_collections
query_points = QdrantClient.query_points
retrieve = QdrantClient.retrieve
scroll = QdrantClient.scroll
update_collection = QdrantClient.update_collection
update_vectors = QdrantClient.update_vectors
upload_collection = QdrantClient.upload_collection
upload_points = QdrantClient.upload_points
upsert = QdrantClient.upsert
