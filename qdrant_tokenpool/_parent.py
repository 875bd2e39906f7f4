"""The parent-client methods that the flows call (:func:`qdrant_tokenpool._flow.call`):
typed references for the type checker, whose names the runners look up on the sync or
async client at run time. The seam between the package's logic and qdrant-client, in one
list (each name once: no ``__all__`` repeating it)."""

from __future__ import annotations

from typing import Any

from qdrant_client import QdrantClient

batch_update_points = QdrantClient.batch_update_points
collection_exists = QdrantClient.collection_exists
count = QdrantClient.count
create_collection = QdrantClient.create_collection
create_payload_index = QdrantClient.create_payload_index
create_vector_name = QdrantClient.create_vector_name
delete = QdrantClient.delete
delete_collection = QdrantClient.delete_collection
delete_vector_name = QdrantClient.delete_vector_name
delete_vectors = QdrantClient.delete_vectors
get_collection = QdrantClient.get_collection
get_collections = QdrantClient.get_collections
query_batch_points = QdrantClient.query_batch_points
query_points = QdrantClient.query_points
recreate_collection = QdrantClient.recreate_collection
retrieve = QdrantClient.retrieve
scroll = QdrantClient.scroll
update_collection = QdrantClient.update_collection
update_vectors = QdrantClient.update_vectors
upload_collection = QdrantClient.upload_collection
upload_points = QdrantClient.upload_points
upsert = QdrantClient.upsert


def given(**arguments: Any) -> dict[str, Any]:
    """The arguments of a client method to hand on to the parent's: those not ``None`` (the
    call the caller made; a parent from an older qdrant-client lacking a newer parameter is
    not handed it)."""
    return {name: value for name, value in arguments.items() if value is not None}


def method_arguments(local_vars: dict[str, Any], *taken: str) -> dict[str, Any]:
    """A client method's arguments from its ``locals()`` (called first thing), its
    ``**kwargs`` merged in, but ``self`` and ``taken``."""
    skip = {"self", "__class__", "kwargs", *taken}
    named = {k: v for k, v in local_vars.items() if k not in skip}
    return {**named, **local_vars.get("kwargs", {})}


def parent_options(local_vars: dict[str, Any], *taken: str) -> dict[str, Any]:
    """The options a client method hands its parent, from its ``locals()``: its arguments
    (:func:`method_arguments`) but ``collection_name`` and ``taken`` (what the flow takes
    itself), as :func:`given` (a method hands on a non-``None`` default, such as ``wait``,
    itself)."""
    return given(**method_arguments(local_vars, "collection_name", *taken))
