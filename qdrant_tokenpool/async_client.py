"""``AsyncTokenPoolingClient``: the async twin of :class:`TokenPoolingClient`.

Runs the same flows as the sync client with :func:`run_async`; no logic lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qdrant_client import AsyncQdrantClient, models

from . import store
from ._flow import Flow, T, run_async
from .config import PoolingConfig, PoolingMap

__all__ = ["AsyncTokenPoolingClient"]


class AsyncTokenPoolingClient(AsyncQdrantClient):
    """Drop-in ``AsyncQdrantClient`` that pools document multivectors on write.

    Same behaviour and methods as :class:`~qdrant_tokenpool.TokenPoolingClient`, awaited.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pooling_state = store.PoolingState()

    async def _run(self, flow: Flow[T]) -> T:
        return await run_async(flow, super())

    @property
    def pooling_cache_ttl(self) -> float:
        """Seconds a collection's pooling config is cached before it is read again."""
        return self._pooling_state.ttl

    @pooling_cache_ttl.setter
    def pooling_cache_ttl(self, seconds: float) -> None:
        self._pooling_state.ttl = float(seconds)

    def refresh_pooling(self, collection_name: str | None = None) -> None:
        """Forget the cached config of one collection (all when ``None``)."""
        self._pooling_state.forget(collection_name)

    async def create_collection(  # type: ignore[override]
        self,
        collection_name: str,
        vectors_config: models.VectorParams | Mapping[str, models.VectorParams] | None = None,
        *,
        pooling: Mapping[str, PoolingConfig | Mapping[str, Any]] | PoolingConfig | None = None,
        **kwargs: Any,
    ) -> bool:
        """See :meth:`TokenPoolingClient.create_collection`."""
        return await self._run(
            store.create_collection(
                self._pooling_state, collection_name, vectors_config, pooling, kwargs
            )
        )

    async def get_pooling(self, collection_name: str) -> PoolingMap:
        """See :meth:`TokenPoolingClient.get_pooling`."""
        return dict((await self._run(store.load(self._pooling_state, collection_name))).pooling)

    async def set_pooling(
        self,
        collection_name: str,
        pooling: Mapping[str, PoolingConfig | Mapping[str, Any]] | PoolingConfig,
        *,
        replace: bool = False,
    ) -> PoolingMap:
        """See :meth:`TokenPoolingClient.set_pooling`."""
        return await self._run(
            store.set_pooling(self._pooling_state, collection_name, pooling, replace=replace)
        )

    async def remove_pooling(
        self, collection_name: str, vector_names: list[str] | None = None
    ) -> PoolingMap:
        """See :meth:`TokenPoolingClient.remove_pooling`."""
        return await self._run(
            store.remove_pooling(self._pooling_state, collection_name, vector_names)
        )

    async def delete_collection(self, collection_name: str, **kwargs: Any) -> bool:
        self._pooling_state.forget(collection_name)
        return await super().delete_collection(collection_name, **kwargs)
