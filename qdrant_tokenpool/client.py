"""``TokenPoolingClient``: a ``QdrantClient`` whose writes pool configured multivectors.

Thin by design: each method runs a flow from :mod:`store`, :mod:`write_path` or
:mod:`query` with :func:`run_sync`; :mod:`async_client` runs the very same flows with
:func:`run_async`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.local.qdrant_local import QdrantLocal

from . import _backend, store, write_path
from ._flow import Flow, T, run_sync
from .config import PoolingConfig, PoolingMap
from .query import QueryResponse
from .query import query_late_interaction as late_interaction_flow
from .texts import TextEncoder
from .texts import add_texts as add_texts_flow
from .texts import query_text as query_text_flow

__all__ = ["TokenPoolingClient"]


class TokenPoolingClient(QdrantClient):
    """Drop-in ``QdrantClient`` that pools document multivectors on write.

    Construct it exactly like ``QdrantClient`` (``":memory:"``, ``path=...``,
    ``url=...``, ``api_key=...``). Collections get a pooling config per vector name with
    ``create_collection(..., pooling=...)`` or :meth:`set_pooling`; it is stored in the
    collection's metadata in Qdrant, so every process that opens the collection pools the
    same way. Vectors and collections with no config pass through untouched.

    The config is cached per client for :attr:`pooling_cache_ttl` seconds (default 60);
    changes made through this client are seen at once, another process's change after the
    TTL or at once after :meth:`refresh_pooling`.

    Thread safety: one client may be shared by many threads. On an in-process engine
    (local mode ``":memory:"`` / ``path=``) every call into the engine runs under one lock
    of this client, reads included (see :mod:`qdrant_tokenpool._backend`); remote clients
    are unaffected.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pooling_state = store.PoolingState()
        _backend.serialise_in_process(self)

    # -- plumbing ---------------------------------------------------------------------
    def _run(self, flow: Flow[T]) -> T:
        return run_sync(flow, super())

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

    # -- pooling config ---------------------------------------------------------------
    def create_collection(  # type: ignore[override]
        self,
        collection_name: str,
        vectors_config: models.VectorParams | Mapping[str, models.VectorParams] | None = None,
        *,
        pooling: Mapping[str, PoolingConfig | Mapping[str, Any]] | PoolingConfig | None = None,
        **kwargs: Any,
    ) -> bool:
        """``QdrantClient.create_collection`` plus ``pooling={vector_name: PoolingConfig}``.

        The config is checked against ``vectors_config`` before anything is created; extra
        vectors it declares (``summary_vector``, ``keep_original_vector``) are added with
        sensible params when ``vectors_config`` lacks them.
        """
        return self._run(
            store.create_collection(
                self._pooling_state, collection_name, vectors_config, pooling, kwargs
            )
        )

    def get_pooling(self, collection_name: str) -> PoolingMap:
        """``{vector_name: PoolingConfig}`` stored for the collection (``{}`` if none)."""
        return dict(self._run(store.load(self._pooling_state, collection_name)).pooling)

    def set_pooling(
        self,
        collection_name: str,
        pooling: Mapping[str, PoolingConfig | Mapping[str, Any]] | PoolingConfig,
        *,
        replace: bool = False,
    ) -> PoolingMap:
        """Store the pooling config of some vectors (merged with what is there unless
        ``replace``). Refuses vectors that do not exist or are not multivectors."""
        return self._run(
            store.set_pooling(self._pooling_state, collection_name, pooling, replace=replace)
        )

    def remove_pooling(
        self, collection_name: str, vector_names: list[str] | None = None
    ) -> PoolingMap:
        """Stop pooling ``vector_names`` (all when ``None``); returns the config left."""
        return self._run(store.remove_pooling(self._pooling_state, collection_name, vector_names))

    # -- late-interaction queries (see qdrant_tokenpool.query) -------------------------
    def query_late_interaction(
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
        """Late-interaction (MaxSim) search with the collection's prefetch funnel.

        One ``query_points`` call: optional HNSW first stage on the summary vector
        (``prefetch_limit`` candidates, default ``max(100, 10 * limit)``), MaxSim over the
        pooled multivector, optional last stage MaxSim over the kept full-resolution vectors
        (``rescore_limit`` candidates, default ``max(40, 4 * limit)``).

        Args:
            collection_name: the collection.
            query: the query's token vectors, ``(q, d)`` list / numpy / torch; never pooled.
            using: the pooled multivector; may be left out when the collection has exactly
                one pooled multivector.
            limit: results to return.
            prefetch_limit, rescore_limit: candidates of the summary / full-resolution stage.
            query_filter: applied at every stage.
            with_payload, with_vectors: as in ``query_points``.
            rescore: ``None`` / ``"server"``: the whole funnel in Qdrant; ``"client"``: the
                last stage's exact MaxSim computed here (:mod:`qdrant_tokenpool.maxsim`).
            summary, full_resolution: ``None`` use the stage when configured, ``True``
                require it, ``False`` skip it.
            **kwargs: ``search_params`` (first stage), ``score_threshold``, ``device``
                (client rescoring), and ``query_points`` options (``timeout``, ...).

        Raises:
            ValueError: unknown collection or vector, bad limits, or a bad query
                (:class:`~qdrant_tokenpool.InvalidMultivectorError`: empty, 1-D, wrong
                dimension, NaN/inf), before any query is sent.
        """
        return self._run(
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
    def add_texts(
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
        """Encode ``texts`` with ``encoder`` and upsert them, pooled per the collection's
        config (see :func:`qdrant_tokenpool.texts.add_texts`).

        ``texts`` are encoded and written ``batch_size`` at a time (never all at once).
        ``ids``: one per text (unsigned int or UUID); default a new ``uuid4`` string each.
        ``payloads``: one dict per text, stored as given; default ``{"text": text}``.
        ``vector_name`` may be left out when the collection has exactly one pooled
        multivector. Inputs (lengths, ids, vector, encoder ``dim``) are checked before
        anything is encoded or written. Returns the point ids in input order.
        """
        return self._run(
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

    def query_text(
        self, collection_name: str, text: str, encoder: TextEncoder, **kwargs: Any
    ) -> QueryResponse:
        """Late-interaction search with a text: ``encoder.encode_queries([text])`` (never
        pooled), then :meth:`query_late_interaction` with ``kwargs`` (``using``, ``limit``,
        ``query_filter``, ``rescore``, ...)."""
        return self._run(
            query_text_flow(self._pooling_state, collection_name, text, encoder, **kwargs)
        )

    def delete_collection(
        self, collection_name: str, timeout: int | None = None, **kwargs: Any
    ) -> bool:
        self._pooling_state.forget(collection_name)
        return super().delete_collection(collection_name, timeout=timeout, **kwargs)

    # -- write path: pooled before the parent writes (see qdrant_tokenpool.write_path) -----
    @property
    def _remote(self) -> bool:
        return not isinstance(_backend.backend(self), QdrantLocal)

    @contextmanager
    def pooling_disabled(self) -> Iterator[None]:
        """Write vectors as given, unpooled, inside the ``with`` block (this client, all
        threads). Use it to copy already pooled data, e.g. ``QdrantClient.migrate`` into
        this client: pooling pooled vectors again would shrink them twice."""
        before = self._pooling_state.enabled
        self._pooling_state.enabled = False
        try:
            yield
        finally:
            self._pooling_state.enabled = before

    def upsert(self, collection_name: str, points: Any, *args: Any, **kwargs: Any) -> models.UpdateResult:
        """``QdrantClient.upsert`` with configured multivectors pooled (points or ``Batch``)."""
        return self._run(
            write_path.upsert(
                self._pooling_state, collection_name, points, args, kwargs, remote=self._remote
            )
        )

    def update_vectors(
        self, collection_name: str, points: Sequence[models.PointVectors], *args: Any, **kwargs: Any
    ) -> models.UpdateResult:
        """``QdrantClient.update_vectors`` with configured multivectors pooled."""
        return self._run(
            write_path.update_vectors(
                self._pooling_state, collection_name, points, args, kwargs, remote=self._remote
            )
        )

    def batch_update_points(
        self, collection_name: str, update_operations: Sequence[Any], *args: Any, **kwargs: Any
    ) -> list[models.UpdateResult]:
        """``QdrantClient.batch_update_points`` with upsert / update-vectors operations pooled."""
        return self._run(
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
        """``QdrantClient.upload_points`` with configured multivectors pooled, streamed
        ``batch_size`` points at a time."""
        return self._run(
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
        """``QdrantClient.upload_collection`` with configured multivectors pooled, streamed
        ``batch_size`` points at a time (dict of columns, ``(N, n, d)`` array or iterable)."""
        return self._run(
            write_path.upload_collection(
                self._pooling_state, collection_name, vectors, payload, ids, batch_size, kwargs,
                remote=self._remote,
            )
        )

    # -- schema changes forget the cached config ------------------------------------------
    def recreate_collection(  # type: ignore[override]
        self,
        collection_name: str,
        vectors_config: models.VectorParams | Mapping[str, models.VectorParams] | None = None,
        *,
        pooling: Mapping[str, PoolingConfig | Mapping[str, Any]] | PoolingConfig | None = None,
        **kwargs: Any,
    ) -> bool:
        """``QdrantClient.recreate_collection`` (deprecated upstream) plus ``pooling=``."""
        return self._run(
            store.create_collection(
                self._pooling_state, collection_name, vectors_config, pooling, kwargs,
                method="recreate_collection",
            )
        )

    def update_collection(self, collection_name: str, *args: Any, **kwargs: Any) -> bool:
        self._pooling_state.forget(collection_name)
        try:
            return super().update_collection(collection_name, *args, **kwargs)
        finally:
            self._pooling_state.forget(collection_name)

    def create_vector_name(self, collection_name: str, *args: Any, **kwargs: Any) -> Any:
        self._pooling_state.forget(collection_name)
        return super().create_vector_name(collection_name, *args, **kwargs)

    def delete_vector_name(self, collection_name: str, *args: Any, **kwargs: Any) -> Any:
        self._pooling_state.forget(collection_name)
        return super().delete_vector_name(collection_name, *args, **kwargs)
