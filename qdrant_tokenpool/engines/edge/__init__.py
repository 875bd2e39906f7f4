"""Qdrant Edge (``qdrant-edge-py``, Qdrant's Rust engine in process) behind qdrant-client's API.

:class:`EdgeBackend` is a ``QdrantBase`` (what ``QdrantClient`` delegates to);
:class:`AsyncEdgeBackend` its generated async twin (each call in a worker thread). One
module per concern, like qdrant-client's ``local/``: backend, unsupported, storage (folder,
lock, sidecars, free space), config, points, filters, queries, operations, errors.
Edge 0.9 has no background optimizer: :meth:`EdgeBackend.optimize` runs after bulk uploads
and on close when the shard changed.
"""

from __future__ import annotations

from .. import require_edge

require_edge()  # EngineNotAvailableError, saying how to install it, before any Edge import

from .async_backend import AsyncEdgeBackend
from .backend import EdgeBackend

__all__ = ["AsyncEdgeBackend", "EdgeBackend"]
