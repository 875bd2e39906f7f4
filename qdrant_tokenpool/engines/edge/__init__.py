"""Qdrant Edge (``qdrant-edge-py``, Qdrant's Rust engine in process) behind qdrant-client's API.

:class:`EdgeBackend` is a ``QdrantBase`` (what ``QdrantClient`` delegates to): real HNSW,
MaxSim in Rust, payload indexes, an instant reopen, where local mode scores every point in
Python. :class:`AsyncEdgeBackend` is its async twin (each call in a worker thread; Edge
releases the GIL). One module per concern, like qdrant-client's ``local/``: backend,
unsupported (what Edge lacks, raising :class:`EdgeUnsupportedError`), storage (folder lock
via portalocker, sidecars, free space), config, points, filters, queries, operations,
errors, async_backend (generated).

Edge 0.9 has one ``EdgeShard`` per collection and keeps no qdrant-client config or
metadata: the folder layout, sidecar and lock are :mod:`.storage`'s. It has no background
optimizer: HNSW on dense vectors, ``m=0`` (exact MaxSim) on multivectors unless their
``hnsw_config`` sets ``m``; :meth:`EdgeBackend.optimize` runs after bulk uploads and on
close when the shard changed.
"""

from __future__ import annotations

from .. import require_edge

require_edge()  # EngineNotAvailableError, saying how to install it, before any Edge import

from .async_backend import AsyncEdgeBackend
from .backend import EdgeBackend

__all__ = ["AsyncEdgeBackend", "EdgeBackend"]
