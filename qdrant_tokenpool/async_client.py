"""``AsyncTokenPoolingClient``: the async twin of :class:`TokenPoolingClient`.

Its methods are made by :mod:`qdrant_tokenpool._methods` from the same definitions as the
sync client's, and run the same flows with :func:`run_async`; no logic lives here.
"""

from __future__ import annotations

from typing import Any

from qdrant_client import AsyncQdrantClient, QdrantClient

from . import _backend, query, store, texts
from ._flow import Flow, T, run_async, run_blocking
from ._methods import PoolingClientMixin, async_method, async_override, install_overrides
from .engines.select import borrowed_sync_client, init_client

__all__ = ["AsyncTokenPoolingClient"]


class AsyncTokenPoolingClient(AsyncQdrantClient, PoolingClientMixin):
    """Drop-in ``AsyncQdrantClient`` that pools document multivectors on write.

    Same behaviour and methods as :class:`~qdrant_tokenpool.TokenPoolingClient`, awaited
    (``upload_points`` / ``upload_collection`` stay sync, like the parent's); the same
    thread safety (an in-process engine's calls run under one lock per client).
    """

    _blocking_client: QdrantClient | None = None  # sync twin for sync methods (server, Edge)

    def __init__(
        self,
        *args: Any,
        engine: str | None = None,
        pooling_workers: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Arguments as for the parent client, plus ``engine`` (see :mod:`qdrant_tokenpool.engines`)
        and ``pooling_workers`` (see :attr:`pooling_workers`)."""
        init_client(AsyncTokenPoolingClient, self, args, kwargs, engine, asynchronous=True)
        self._init_pooling(pooling_workers)

    async def optimize(self, collection_name: str | None = None) -> bool:
        """Async twin of ``TokenPoolingClient.optimize`` (runs in a worker thread)."""
        if self.engine != "edge":
            return False
        return bool(await _backend.backend(self).optimize(collection_name))

    # -- plumbing ---------------------------------------------------------------------
    async def _run(self, flow: Flow[T]) -> T:
        return await run_async(flow, super())

    def _run_blocking(self, flow: Flow[T]) -> T:
        """Run a flow from a *sync* method (``upload_points``/``upload_collection`` are sync
        in ``AsyncQdrantClient``): async local calls finish without a loop; on a server,
        reads go through a sync ``QdrantClient`` with this client's options; on Qdrant Edge
        through a sync client on the same database."""
        engine = self.engine

        def fallback() -> QdrantClient:
            if self._blocking_client is None:
                self._blocking_client = (
                    borrowed_sync_client(_backend.backend(self))
                    if engine == "edge"
                    else QdrantClient(**self._init_options)
                )
            return self._blocking_client

        return run_blocking(flow, super(), None if engine == "local" else fallback)

    async def close(self, grpc_grace: float | None = None, **kwargs: Any) -> None:
        blocking = self._blocking_client
        if blocking is not None:
            self._blocking_client = None
            blocking.close()
        await super().close(grpc_grace, **kwargs)

    # -- pooling config (see qdrant_tokenpool.store) --------------------------------------
    get_pooling = async_method(store.get_pooling)
    set_pooling = async_method(store.set_pooling)
    remove_pooling = async_method(store.remove_pooling)

    # -- late-interaction queries, text in / text out (query, texts) -----------------------
    query_late_interaction = async_method(query.query_late_interaction)
    add_texts = async_method(texts.add_texts)
    query_text = async_method(texts.query_text)


# parent methods: writes pooled, schema changes forget the cached config (see _methods)
install_overrides(AsyncTokenPoolingClient, AsyncQdrantClient, async_override)
