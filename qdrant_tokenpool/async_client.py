"""``AsyncTokenPoolingClient``: the async twin of :class:`TokenPoolingClient`.

Runs the same flows as the sync client with :func:`run_async`; no logic lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from qdrant_client import AsyncQdrantClient, QdrantClient, models
from qdrant_client.local.async_qdrant_local import AsyncQdrantLocal

from . import _backend, store, write_path
from ._flow import Flow, T, run_async, run_blocking
from .config import PoolingConfig, PoolingMap
from .query import QueryResponse
from .query import query_late_interaction as late_interaction_flow
from .texts import TextEncoder
from .texts import add_texts as add_texts_flow
from .texts import query_text as query_text_flow

__all__ = ["AsyncTokenPoolingClient"]


class AsyncTokenPoolingClient(AsyncQdrantClient):
    """Drop-in ``AsyncQdrantClient`` that pools document multivectors on write.

    Same behaviour and methods as :class:`~qdrant_tokenpool.TokenPoolingClient`, awaited;
    the same thread safety (an in-process engine's calls run under one lock per client).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pooling_state = store.PoolingState()
        _backend.serialise_in_process(self)

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

    async def query_late_interaction(
        self,
        collection_name: str,
        query: Any,
        *,
        using: str | None = None,
        limit: int = 10,
        prefetch_limit: int | None = None,
        rescore_limit: int | None = None,
        query_filter: models.Filter | None = None,
        with_payload: Any = True,
        with_vectors: Any = False,
        rescore: str | None = None,
        summary: bool | None = None,
        full_resolution: bool | None = None,
        **kwargs: Any,
    ) -> QueryResponse:
        """See :meth:`TokenPoolingClient.query_late_interaction`."""
        return await self._run(
            late_interaction_flow(
                self._pooling_state,
                collection_name,
                query,
                using=using,
                limit=limit,
                prefetch_limit=prefetch_limit,
                rescore_limit=rescore_limit,
                query_filter=query_filter,
                with_payload=with_payload,
                with_vectors=with_vectors,
                rescore=rescore,
                summary=summary,
                full_resolution=full_resolution,
                **kwargs,
            )
        )

    # -- text in, text out (see qdrant_tokenpool.texts) ----------------------------------
    async def add_texts(
        self,
        collection_name: str,
        texts: Iterable[str],
        encoder: TextEncoder,
        *,
        ids: Iterable[Any] | None = None,
        payloads: Iterable[Mapping[str, Any] | None] | None = None,
        vector_name: str | None = None,
        batch_size: int = 64,
        show_progress: bool | None = None,
        wait: bool = True,
    ) -> list[Any]:
        """See :meth:`TokenPoolingClient.add_texts`."""
        return await self._run(
            add_texts_flow(
                self._pooling_state,
                collection_name,
                texts,
                encoder,
                ids=ids,
                payloads=payloads,
                vector_name=vector_name,
                batch_size=batch_size,
                show_progress=show_progress,
                wait=wait,
                remote=self._remote,
            )
        )

    async def query_text(
        self, collection_name: str, text: str, encoder: TextEncoder, **kwargs: Any
    ) -> QueryResponse:
        """See :meth:`TokenPoolingClient.query_text`."""
        return await self._run(
            query_text_flow(self._pooling_state, collection_name, text, encoder, **kwargs)
        )

    async def delete_collection(
        self, collection_name: str, timeout: int | None = None, **kwargs: Any
    ) -> bool:
        self._pooling_state.forget(collection_name)
        return await super().delete_collection(collection_name, timeout=timeout, **kwargs)

    # -- write path: see TokenPoolingClient and qdrant_tokenpool.write_path ----------------
    _blocking_client: QdrantClient | None = None  # sync twin for sync methods on a server
    @property
    def _remote(self) -> bool:
        return not isinstance(_backend.backend(self), AsyncQdrantLocal)

    @contextmanager
    def pooling_disabled(self) -> Iterator[None]:
        """See :meth:`TokenPoolingClient.pooling_disabled` (a plain ``with`` block)."""
        before = self._pooling_state.enabled
        self._pooling_state.enabled = False
        try:
            yield
        finally:
            self._pooling_state.enabled = before

    def _run_blocking(self, flow: Any) -> Any:
        """Run a flow from a *sync* method (``upload_points``/``upload_collection`` are sync
        in ``AsyncQdrantClient``): async local calls finish without a loop; on a server,
        reads go through a sync ``QdrantClient`` with this client's options."""
        fallback = None
        if self._remote:
            def fallback() -> QdrantClient:
                if self._blocking_client is None:
                    self._blocking_client = QdrantClient(**self._init_options)
                return self._blocking_client
        return run_blocking(flow, super(), fallback)

    async def upsert(self, collection_name: str, points: Any, *args: Any, **kwargs: Any) -> models.UpdateResult:
        """See :meth:`TokenPoolingClient.upsert`."""
        return await self._run(
            write_path.upsert(
                self._pooling_state, collection_name, points, args, kwargs, remote=self._remote
            )
        )

    async def update_vectors(
        self, collection_name: str, points: Sequence[models.PointVectors], *args: Any, **kwargs: Any
    ) -> models.UpdateResult:
        """See :meth:`TokenPoolingClient.update_vectors`."""
        return await self._run(
            write_path.update_vectors(
                self._pooling_state, collection_name, points, args, kwargs, remote=self._remote
            )
        )

    async def batch_update_points(
        self, collection_name: str, update_operations: Sequence[Any], *args: Any, **kwargs: Any
    ) -> list[models.UpdateResult]:
        """See :meth:`TokenPoolingClient.batch_update_points`."""
        return await self._run(
            write_path.batch_update_points(
                self._pooling_state, collection_name, update_operations, args, kwargs,
                remote=self._remote,
            )
        )

    def upload_points(
        self,
        collection_name: str,
        points: Iterable[models.PointStruct],
        batch_size: int = 64,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """See :meth:`TokenPoolingClient.upload_points` (sync, like the parent's)."""
        return self._run_blocking(
            write_path.upload_points(
                self._pooling_state, collection_name, points, batch_size, args, kwargs,
                remote=self._remote,
            )
        )

    def upload_collection(  # type: ignore[override]
        self,
        collection_name: str,
        vectors: Any,
        payload: Iterable[dict[Any, Any]] | None = None,
        ids: Iterable[Any] | None = None,
        batch_size: int = 64,
        **kwargs: Any,
    ) -> None:
        """See :meth:`TokenPoolingClient.upload_collection` (sync, like the parent's)."""
        return self._run_blocking(
            write_path.upload_collection(
                self._pooling_state, collection_name, vectors, payload, ids, batch_size, kwargs,
                remote=self._remote,
            )
        )

    async def recreate_collection(  # type: ignore[override]
        self,
        collection_name: str,
        vectors_config: models.VectorParams | Mapping[str, models.VectorParams] | None = None,
        *,
        pooling: Mapping[str, PoolingConfig | Mapping[str, Any]] | PoolingConfig | None = None,
        **kwargs: Any,
    ) -> bool:
        """See :meth:`TokenPoolingClient.recreate_collection`."""
        return await self._run(
            store.create_collection(
                self._pooling_state, collection_name, vectors_config, pooling, kwargs,
                method="recreate_collection",
            )
        )

    async def update_collection(self, collection_name: str, *args: Any, **kwargs: Any) -> bool:
        self._pooling_state.forget(collection_name)
        try:
            return await super().update_collection(collection_name, *args, **kwargs)
        finally:
            self._pooling_state.forget(collection_name)

    async def create_vector_name(self, collection_name: str, *args: Any, **kwargs: Any) -> Any:
        self._pooling_state.forget(collection_name)
        return await super().create_vector_name(collection_name, *args, **kwargs)

    async def delete_vector_name(self, collection_name: str, *args: Any, **kwargs: Any) -> Any:
        self._pooling_state.forget(collection_name)
        return await super().delete_vector_name(collection_name, *args, **kwargs)

    async def close(self, *args: Any, **kwargs: Any) -> None:
        blocking = self._blocking_client
        if blocking is not None:
            self._blocking_client = None
            blocking.close()
        await super().close(*args, **kwargs)
