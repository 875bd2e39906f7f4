"""What only the async pooling client has besides its generated methods: its sync
``upload_points`` / ``upload_collection`` (sync like ``AsyncQdrantClient``'s) run their flow
without an event loop (:func:`~qdrant_tokenpool._flow.run_blocking`); on a server or Qdrant
Edge the flow's reads go through a sync client with this client's options or database.
"""

from __future__ import annotations

from typing import Any

from qdrant_client import AsyncQdrantClient, QdrantClient

from . import _backend
from ._flow import Flow, T, run_blocking
from .companion import follow
from .engines.select import engine_of, install_edge

__all__ = ["AsyncClientBase"]


class _BorrowedClient(QdrantClient):
    """A sync ``QdrantClient`` on another client's Edge backend; closing it leaves the
    backend open (its owner closes it)."""

    def close(self, grpc_grace: float | None = None, **kwargs: Any) -> None:
        pass


class AsyncClientBase(AsyncQdrantClient):
    """``AsyncQdrantClient`` plus :meth:`_run_blocking` (and :meth:`close` closing its sync
    client): the base of the generated ``AsyncTokenPoolingClient``."""

    _blocking_client: QdrantClient | None = None

    def _run_blocking(self, flow: Flow[T], parent: Any) -> T:
        """Run ``flow`` from a sync method, each call it yields on ``parent`` (the caller's
        ``super()``)."""
        engine = engine_of(self)

        def sync_client() -> QdrantClient:
            if self._blocking_client is None and engine == "edge":
                borrowed = _BorrowedClient(":memory:")
                install_edge(borrowed, _backend.backend(self).sync)  # the same database
                self._blocking_client = borrowed
            elif self._blocking_client is None:
                self._blocking_client = QdrantClient(**self._init_options)
            return self._blocking_client

        flow = follow(self._pooling_state, flow)  # type: ignore[attr-defined]
        return run_blocking(flow, parent, None if engine == "local" else sync_client)

    async def close(self, grpc_grace: float | None = None, **kwargs: Any) -> None:
        """``AsyncQdrantClient.close``, and the sync client of the sync methods' flows."""
        blocking = self._blocking_client
        if blocking is not None:
            self._blocking_client = None
            blocking.close()
        await super().close(grpc_grace, **kwargs)
