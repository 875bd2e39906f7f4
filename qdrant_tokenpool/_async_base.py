"""What only the async pooling client has besides its generated methods.

``AsyncQdrantClient.upload_points`` and ``upload_collection`` are sync methods, so
:class:`~qdrant_tokenpool.AsyncTokenPoolingClient`'s are too, and run their flow without
an event loop (:func:`~qdrant_tokenpool._flow.run_blocking`): async local mode finishes
its calls at once; on a server the flow's reads go through a sync ``QdrantClient`` with this
client's options, on Qdrant Edge through a sync client on the same database.
"""

from __future__ import annotations

from typing import Any

from qdrant_client import AsyncQdrantClient, QdrantClient

from . import _backend
from ._flow import Flow, T, run_blocking
from .companion import follow
from .engines.select import engine_of, install_edge

__all__ = ["AsyncClientBase", "borrowed_sync_client"]


class _BorrowedClient(QdrantClient):
    """A sync ``QdrantClient`` on another client's Edge backend; closing it leaves the
    backend open (its owner closes it)."""

    def close(self, grpc_grace: float | None = None, **kwargs: Any) -> None:
        pass


def borrowed_sync_client(async_backend: Any) -> QdrantClient:
    """A sync ``QdrantClient`` over the sync side of an
    :class:`~qdrant_tokenpool.engines.edge.AsyncEdgeBackend`: the sync methods of the async
    client run in the caller's thread, on the same database."""
    client = _BorrowedClient(":memory:")
    install_edge(client, async_backend.sync)
    return client


class AsyncClientBase(AsyncQdrantClient):
    """``AsyncQdrantClient`` plus :meth:`_run_blocking`, and :meth:`close` closing the sync
    client that made for it (the base of the generated ``AsyncTokenPoolingClient``)."""

    _blocking_client: QdrantClient | None = None

    def _run_blocking(self, flow: Flow[T], parent: Any) -> T:
        """Run ``flow`` from a sync method, each call it yields on ``parent`` (the caller's
        ``super()``); awaitable results are finished as the module docstring says."""
        engine = engine_of(self)

        def sync_client() -> QdrantClient:
            if self._blocking_client is None:
                self._blocking_client = (
                    borrowed_sync_client(_backend.backend(self))
                    if engine == "edge"
                    else QdrantClient(**self._init_options)
                )
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
