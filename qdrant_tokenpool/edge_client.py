"""``EdgeQdrantClient`` / ``AsyncEdgeQdrantClient``: plain Qdrant clients (no pooling) on
Qdrant Edge (:func:`~qdrant_tokenpool.engines.select.init_client`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from qdrant_client import AsyncQdrantClient, QdrantClient

from . import _backend
from .engines.select import init_client

__all__ = ["AsyncEdgeQdrantClient", "EdgeQdrantClient"]


def _edge_only(cls: str, kwargs: dict[str, Any]) -> None:
    engine = kwargs.pop("engine", "edge")
    if engine != "edge":
        raise ValueError(f"{cls} runs on engine 'edge', not {engine!r}")


def _check_sized_upload(
    backend: Any, collection_name: str, points: Any = None, vectors: Any = None, ids: Any = None
) -> None:
    """Check a sized upload whole before the parent writes its first batch: qdrant-client
    hands the engine a generator even for a list (``backend``: an ``EdgeBackend``)."""
    if points is not None and isinstance(points, Sequence):
        backend.check_points(collection_name, points)
    if vectors is not None and isinstance(vectors, Sequence):  # dicts and arrays: the engine
        backend.check_columns(collection_name, vectors, ids)


class EdgeQdrantClient(QdrantClient):
    """A plain ``QdrantClient`` on Qdrant Edge (no pooling): ``EdgeQdrantClient(path=...)``
    or ``EdgeQdrantClient(":memory:")``; what Edge lacks raises
    :class:`~qdrant_tokenpool.EdgeUnsupportedError`. Every write checks all its vectors
    before any is written (a sized upload before its first batch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _edge_only("EdgeQdrantClient", kwargs)
        init_client(EdgeQdrantClient, self, args, kwargs, "edge")

    def optimize(self, collection_name: str | None = None) -> bool:
        """Run Edge's optimizers now (see :meth:`EdgeBackend.optimize`)."""
        return bool(_backend.backend(self).optimize(collection_name))

    def upload_points(self, collection_name: str, points: Iterable[Any], *args: Any, **kwargs: Any) -> None:
        """``QdrantClient.upload_points``; a list or tuple is checked whole first."""
        _check_sized_upload(_backend.backend(self), collection_name, points=points)
        super().upload_points(collection_name, points, *args, **kwargs)

    def upload_collection(
        self, collection_name: str, vectors: Any, payload: Any = None, ids: Any = None, *args: Any, **kwargs: Any
    ) -> None:
        """``QdrantClient.upload_collection``; sized ``vectors`` are checked whole first."""
        _check_sized_upload(_backend.backend(self), collection_name, vectors=vectors, ids=ids)
        super().upload_collection(collection_name, vectors, payload, ids, *args, **kwargs)


class AsyncEdgeQdrantClient(AsyncQdrantClient):
    """Async twin of :class:`EdgeQdrantClient` (calls run in a worker thread)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _edge_only("AsyncEdgeQdrantClient", kwargs)
        init_client(AsyncEdgeQdrantClient, self, args, kwargs, "edge")

    async def optimize(self, collection_name: str | None = None) -> bool:
        """See :meth:`EdgeQdrantClient.optimize`."""
        return bool(await _backend.backend(self).optimize(collection_name))

    def upload_points(self, collection_name: str, points: Iterable[Any], *args: Any, **kwargs: Any) -> None:
        """See :meth:`EdgeQdrantClient.upload_points` (sync, as ``AsyncQdrantClient``'s)."""
        _check_sized_upload(_backend.backend(self).sync, collection_name, points=points)
        super().upload_points(collection_name, points, *args, **kwargs)

    def upload_collection(
        self, collection_name: str, vectors: Any, payload: Any = None, ids: Any = None, *args: Any, **kwargs: Any
    ) -> None:
        """See :meth:`EdgeQdrantClient.upload_collection` (sync, as ``AsyncQdrantClient``'s)."""
        _check_sized_upload(_backend.backend(self).sync, collection_name, vectors=vectors, ids=ids)
        super().upload_collection(collection_name, vectors, payload, ids, *args, **kwargs)
