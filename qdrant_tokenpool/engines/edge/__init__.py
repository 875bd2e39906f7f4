"""Qdrant Edge as an embedded engine behind qdrant-client's API.

:class:`EdgeBackend` (:mod:`.backend`) is a ``QdrantBase`` (the interface ``QdrantClient``
delegates every call to) over ``qdrant-edge-py``, Qdrant's Rust engine in process: real
HNSW, MaxSim in Rust, payload indexes, and a reopen that takes no time, where qdrant-client's local mode
is a pure-Python reference that scores every point in a Python loop and loads every
vector into memory on open. :class:`AsyncEdgeBackend` (:mod:`.async_backend`) is its
``AsyncQdrantBase`` twin: the same backend, each call run in a worker thread (Edge releases
the GIL, so threads run queries in parallel).

Shaped like qdrant-client's ``local/``, one module per concern: :mod:`.backend` (the
``QdrantBase``), :mod:`.unsupported` (what Edge lacks), :mod:`.storage` (the folder: lock,
marker, sidecars, collection folders, free space), :mod:`.config` (collection configs),
:mod:`.points`, :mod:`.filters`, :mod:`.queries` and :mod:`.operations` (request parts,
filters, queries and update operations as Edge's types), :mod:`.errors` (Edge's exceptions
as qdrant-client's), :mod:`.async_backend`.

Why it looks the way it does (Qdrant Edge 0.9):

- One ``EdgeShard`` holds one collection, so a database is a folder with one shard per
  collection: ``<root>/collections/<name>/shard``.
- Edge has no collection metadata and does not keep the qdrant-client form of the
  config, so each collection has a sidecar ``collection.json`` (vectors config as given,
  ``metadata``, ...) written atomically (temp file, fsync, rename). It is written after
  the shard exists: a folder without it is an unfinished creation and is ignored.
- A second process opening a shard fails on Edge's WAL lock with a cryptic message, so the
  root folder holds a ``.lock`` taken with an OS file lock (portalocker, as local mode's)
  for the client's life: a second client (any process) gets :class:`StorageLockedError`
  naming the folder.
- ``":memory:"`` is a temporary folder, removed on :meth:`EdgeBackend.close`.
- Edge has no background optimizer. Indexing policy: HNSW on dense vectors (Edge's
  default graph), ``m=0`` (no graph, exact MaxSim) on multivectors unless a vector's own
  ``hnsw_config`` sets ``m``; :meth:`EdgeBackend.optimize` runs the optimizers, and runs
  by itself after a bulk upload (``upload_points``/``upload_collection`` of at least
  :data:`.backend.BULK_OPTIMIZE_POINTS` points) and on close when the shard changed.
- What Edge lacks (aliases, ``query_points_groups``, snapshots, ``search_matrix_*``,
  cluster operations) raises :class:`EdgeUnsupportedError` naming the method.
"""

from __future__ import annotations

from .. import require_edge

require_edge()  # EngineNotAvailableError, saying how to install it, before any Edge import

from .async_backend import AsyncEdgeBackend
from .backend import EdgeBackend

__all__ = ["AsyncEdgeBackend", "EdgeBackend"]
