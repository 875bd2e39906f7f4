"""``TokenPoolingClient``: a ``QdrantClient`` whose writes pool configured multivectors.

Every public method is a few lines over a flow (:mod:`._flow`); a parent method keeps the
parent's signature (plus keyword-only extras such as ``pooling=``). The async client is
generated from this file by ``tools/generate_async_client.py``: edit this one, then run it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from qdrant_client import QdrantClient
from qdrant_client.conversions import common_types as types
from qdrant_client.http.models import QueryResponse

from . import _backend, _parent, store, write_path
from ._flow import Flow, T, run_sync
from ._flow import parent_call as _parent_call
from ._parent import method_arguments, parent_options
from .candidates import companion_name
from .companion import follow
from .config import PoolingConfig, PoolingMap
from .encoders.protocol import TextEncoder
from .engines.select import engine_of, init_client
from .inference import LocalInference
from .pooling.validation import check_int
from .query import query_late_interaction as late_interaction_flow
from .store import PoolingArg, PoolingState
from .texts import add_texts as add_texts_flow
from .texts import encode_query

__all__ = ["TokenPoolingClient"]


class TokenPoolingClient(QdrantClient):
    """Drop-in ``QdrantClient`` that pools document multivectors on write.

    Construct it like ``QdrantClient``. ``engine="edge"`` with ``":memory:"`` or ``path=``
    runs the embedded database on Qdrant Edge (:mod:`qdrant_tokenpool.engines`),
    ``engine="local"`` on qdrant-client's local mode; without ``engine`` it is
    ``QdrantClient`` exactly, except that ``path=`` naming an Edge folder opens it on Edge.
    A collection's pooling config per vector name (``create_collection(..., pooling=...)``
    or :meth:`set_pooling`) is stored in its metadata, so every process pools the same
    way; vectors with no config pass through untouched. The config is cached for
    :attr:`pooling_cache_ttl` seconds (this client's own changes are seen at once).

    Thread safety: one client may be shared by many threads (on local mode every call into
    the engine runs under one lock of this client, :mod:`qdrant_tokenpool._backend`).
    """

    def __init__(
        self,
        *args: Any,
        engine: str | None = None,
        pooling_workers: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Arguments as for the parent client, plus ``engine`` (see
        :mod:`qdrant_tokenpool.engines`) and ``pooling_workers`` (see :attr:`pooling_workers`)."""
        init_client(TokenPoolingClient, self, args, kwargs, engine)
        _backend.serialise_in_process(self)
        self._pooling_state = PoolingState.for_engine(
            engine_of(self), inference=LocalInference(self), workers=pooling_workers
        )

    def _run(self, flow: Flow[T]) -> T:
        """Run ``flow``, each call it yields on the parent client."""
        return run_sync(follow(self._pooling_state, flow), super())

    # -- the engine and the pooling settings ------------------------------------------------
    @property
    def engine(self) -> str:
        """Where this client's calls land: ``"edge"`` (Qdrant Edge in process),
        ``"local"`` (qdrant-client's local mode) or ``"server"``."""
        return engine_of(self)

    @property
    def pooling_workers(self) -> int | None:
        """Parallel pooling workers of a write (constructor argument): ``None`` (default) all
        cores for batches with enough work, else the calling thread; ``1`` always the
        calling thread; ``k > 1`` up to ``k`` (:func:`~qdrant_tokenpool.pool_batch`): threads
        for the compiled hierarchical pooling, processes for the other methods."""
        return self._pooling_state.workers

    @pooling_workers.setter
    def pooling_workers(self, workers: int | None) -> None:
        self._pooling_state.workers = (
            None if workers is None else check_int("pooling_workers", workers)
        )

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

    @contextmanager
    def pooling_disabled(self) -> Iterator[None]:
        """Write vectors as given, unpooled, inside the ``with`` block (a plain ``with`` for
        the async client too): this client's writes from the current thread or asyncio task
        only. For copying already pooled data (:doc:`configuration`)."""
        with self._pooling_state.disabled():
            yield

    def optimize(self, collection_name: str | None = None) -> bool:
        """Build indexes now on a Qdrant Edge database, one collection or all (Edge has no
        background optimizer: see :doc:`the indexing policy <engines>`). A server optimizes
        by itself and local mode has no index: ``False`` there. A collection's token index
        (its companion collection) is built with it."""
        if self.engine != "edge":
            return False
        backend = _backend.backend(self)
        changed = bool(backend.optimize(collection_name))
        companion = None if collection_name is None else companion_name(collection_name)
        if companion is not None and backend.collection_exists(companion):
            changed = bool(backend.optimize(companion)) or changed
        return changed

    # -- the pooling config (stored in the collection's metadata) ----------------------------
    def get_pooling(self, collection_name: str) -> PoolingMap:
        """``{vector_name: PoolingConfig}`` stored for the collection (``{}`` if none)."""
        return self._run(store.get_pooling(self._pooling_state, collection_name))

    def set_pooling(
        self,
        collection_name: str,
        pooling: Mapping[str, PoolingConfig | Mapping[str, Any]] | PoolingConfig,
        *,
        replace: bool = False,
    ) -> PoolingMap:
        """Store the pooling config of some vectors (merged with what is there unless
        ``replace``); returns the collection's whole config. Refuses vectors that do not
        exist or are not multivectors (:class:`~qdrant_tokenpool.PoolingConfigError`)."""
        flow = store.set_pooling(self._pooling_state, collection_name, pooling, replace=replace)
        return self._run(flow)

    def remove_pooling(
        self, collection_name: str, vector_names: list[str] | None = None
    ) -> PoolingMap:
        """Stop pooling ``vector_names`` (all when ``None``, which also clears a broken
        stored config); returns the config left."""
        return self._run(store.remove_pooling(self._pooling_state, collection_name, vector_names))

    # -- collections: the pooling config created with them; schema changes forget it ---------
    def create_collection(
        self,
        collection_name: str,
        vectors_config: types.VectorParams | Mapping[str, types.VectorParams] | None = None,
        sparse_vectors_config: Mapping[str, types.SparseVectorParams] | None = None,
        shard_number: int | None = None,
        sharding_method: types.ShardingMethod | None = None,
        replication_factor: int | None = None,
        write_consistency_factor: int | None = None,
        on_disk_payload: bool | None = None,
        hnsw_config: types.HnswConfigDiff | None = None,
        optimizers_config: types.OptimizersConfigDiff | None = None,
        wal_config: types.WalConfigDiff | None = None,
        quantization_config: types.QuantizationConfig | None = None,
        timeout: int | None = None,
        strict_mode_config: types.StrictModeConfig | None = None,
        metadata: types.Payload | None = None,
        payload: types.PayloadStorageParams | None = None,
        id_tracker: types.IdTrackerParams | None = None,
        *,
        pooling: PoolingArg = None,
        **kwargs: Any,
    ) -> bool:
        """``QdrantClient.create_collection`` plus ``pooling={vector_name: PoolingConfig}``.

        The config is checked against ``vectors_config`` before anything is created; extra
        vectors it declares (``summary_vector``, ``keep_original_vector``) are added with
        sensible params when ``vectors_config`` lacks them. Every other argument is the
        parent's."""
        options = parent_options(locals(), "vectors_config", "pooling")
        parent = _parent.create_collection
        flow = store.create_collection(
            self._pooling_state, parent, collection_name, vectors_config, pooling, options
        )
        return self._run(flow)

    def recreate_collection(
        self,
        collection_name: str,
        vectors_config: types.VectorParams | Mapping[str, types.VectorParams] | None = None,
        sparse_vectors_config: Mapping[str, types.SparseVectorParams] | None = None,
        shard_number: int | None = None,
        sharding_method: types.ShardingMethod | None = None,
        replication_factor: int | None = None,
        write_consistency_factor: int | None = None,
        on_disk_payload: bool | None = None,
        hnsw_config: types.HnswConfigDiff | None = None,
        optimizers_config: types.OptimizersConfigDiff | None = None,
        wal_config: types.WalConfigDiff | None = None,
        quantization_config: types.QuantizationConfig | None = None,
        timeout: int | None = None,
        strict_mode_config: types.StrictModeConfig | None = None,
        metadata: types.Payload | None = None,
        payload: types.PayloadStorageParams | None = None,
        id_tracker: types.IdTrackerParams | None = None,
        *,
        pooling: PoolingArg = None,
        **kwargs: Any,
    ) -> bool:
        """``QdrantClient.recreate_collection`` (deprecated upstream) plus ``pooling=``, as
        :meth:`create_collection`."""
        options = parent_options(locals(), "vectors_config", "pooling")
        parent = _parent.recreate_collection
        flow = store.create_collection(
            self._pooling_state, parent, collection_name, vectors_config, pooling, options
        )
        return self._run(flow)

    def delete_collection(
        self, collection_name: str, timeout: int | None = None, **kwargs: Any
    ) -> bool:
        """``QdrantClient.delete_collection``; its cached pooling config is forgotten."""
        options = parent_options(locals())
        flow = store.schema_change(
            self._pooling_state, _parent.delete_collection, collection_name, options
        )
        return self._run(flow)

    def update_collection(
        self,
        collection_name: str,
        optimizers_config: types.OptimizersConfigDiff | None = None,
        collection_params: types.CollectionParamsDiff | None = None,
        vectors_config: types.VectorsConfigDiff | None = None,
        hnsw_config: types.HnswConfigDiff | None = None,
        quantization_config: types.QuantizationConfigDiff | None = None,
        timeout: int | None = None,
        sparse_vectors_config: Mapping[str, types.SparseVectorParams] | None = None,
        strict_mode_config: types.StrictModeConfig | None = None,
        metadata: types.Payload | None = None,
        **kwargs: Any,
    ) -> bool:
        """``QdrantClient.update_collection``; the collection's cached pooling config is
        forgotten (``metadata`` may hold a new one)."""
        options = parent_options(locals())
        flow = store.schema_change(
            self._pooling_state, _parent.update_collection, collection_name, options
        )
        return self._run(flow)

    def create_vector_name(
        self,
        collection_name: str,
        vector_name: str,
        vector_name_config: types.VectorNameConfig,
        wait: bool = True,
        ordering: types.WriteOrdering | None = None,
        timeout: int | None = None,
        **kwargs: Any,
    ) -> types.UpdateResult:
        """``QdrantClient.create_vector_name``; the collection's cached pooling config is
        forgotten."""
        options = {"wait": wait, **parent_options(locals())}
        flow = store.schema_change(
            self._pooling_state, _parent.create_vector_name, collection_name, options
        )
        return self._run(flow)

    def delete_vector_name(
        self,
        collection_name: str,
        vector_name: str,
        wait: bool = True,
        ordering: types.WriteOrdering | None = None,
        timeout: int | None = None,
        **kwargs: Any,
    ) -> types.UpdateResult:
        """``QdrantClient.delete_vector_name``; the collection's cached pooling config is
        forgotten."""
        options = {"wait": wait, **parent_options(locals())}
        flow = store.schema_change(
            self._pooling_state, _parent.delete_vector_name, collection_name, options
        )
        return self._run(flow)

    def get_collections(self, **kwargs: Any) -> types.CollectionsResponse:
        """``QdrantClient.get_collections`` without the companion collections this client
        manages (a token index is part of its collection, :mod:`qdrant_tokenpool.candidates`)."""
        return self._run(_parent_call(_parent.get_collections, **kwargs))

    def delete(
        self,
        collection_name: str,
        points_selector: types.PointsSelector,
        wait: bool = True,
        ordering: types.WriteOrdering | None = None,
        shard_key_selector: types.ShardKeySelector | None = None,
        timeout: int | None = None,
        **kwargs: Any,
    ) -> types.UpdateResult:
        """``QdrantClient.delete``; a token index forgets the deleted points too."""
        options = {"wait": wait, **parent_options(locals(), "points_selector")}
        flow = _parent_call(_parent.delete, collection_name, points_selector, **options)
        return self._run(flow)

    def delete_vectors(
        self,
        collection_name: str,
        vectors: Sequence[str],
        points: types.PointsSelector,
        wait: bool = True,
        ordering: types.WriteOrdering | None = None,
        shard_key_selector: types.ShardKeySelector | None = None,
        timeout: int | None = None,
        **kwargs: Any,
    ) -> types.UpdateResult:
        """``QdrantClient.delete_vectors``; a token index forgets the deleted vectors too."""
        options = {"wait": wait, **parent_options(locals(), "vectors", "points")}
        flow = _parent_call(_parent.delete_vectors, collection_name, vectors, points, **options)
        return self._run(flow)

    # -- writes: configured multivectors pooled, every vector checked first ------------------
    def upsert(
        self,
        collection_name: str,
        points: types.Points,
        wait: bool = True,
        ordering: types.WriteOrdering | None = None,
        shard_key_selector: types.ShardKeySelector | None = None,
        update_filter: types.Filter | None = None,
        update_mode: types.UpdateMode | None = None,
        timeout: int | None = None,
        **kwargs: Any,
    ) -> types.UpdateResult:
        """``QdrantClient.upsert`` with configured multivectors pooled (points or ``Batch``):
        the whole request is checked and pooled before any of it is written
        (:mod:`qdrant_tokenpool.write_path`)."""
        options = {"wait": wait, **parent_options(locals(), "points")}
        return self._run(write_path.upsert(self._pooling_state, collection_name, points, options))

    def update_vectors(
        self,
        collection_name: str,
        points: Sequence[types.PointVectors],
        wait: bool = True,
        ordering: types.WriteOrdering | None = None,
        shard_key_selector: types.ShardKeySelector | None = None,
        update_filter: types.Filter | None = None,
        timeout: int | None = None,
        **kwargs: Any,
    ) -> types.UpdateResult:
        """``QdrantClient.update_vectors`` with configured multivectors pooled (and their
        summary and full-resolution vectors refreshed)."""
        options = {"wait": wait, **parent_options(locals(), "points")}
        return self._run(
            write_path.update_vectors(self._pooling_state, collection_name, points, options)
        )

    def batch_update_points(
        self,
        collection_name: str,
        update_operations: Sequence[types.UpdateOperation],
        wait: bool = True,
        ordering: types.WriteOrdering | None = None,
        timeout: int | None = None,
        **kwargs: Any,
    ) -> list[types.UpdateResult]:
        """``QdrantClient.batch_update_points`` with the upsert and update-vectors operations
        pooled."""
        options = {"wait": wait, **parent_options(locals(), "update_operations")}
        flow = write_path.batch_update_points(
            self._pooling_state, collection_name, update_operations, options
        )
        return self._run(flow)

    def upload_points(
        self,
        collection_name: str,
        points: Iterable[types.PointStruct],
        batch_size: int = 64,
        parallel: int = 1,
        method: str | None = None,
        max_retries: int = 3,
        wait: bool = False,
        shard_key_selector: types.ShardKeySelector | None = None,
        update_filter: types.Filter | None = None,
        update_mode: types.UpdateMode | None = None,
        **kwargs: Any,
    ) -> None:
        """``QdrantClient.upload_points`` with configured multivectors pooled, streamed
        ``batch_size`` points at a time (a list is checked whole before the first batch)."""
        options = {
            "parallel": parallel,
            "max_retries": max_retries,
            "wait": wait,
            **parent_options(locals(), "points", "batch_size"),
        }
        flow = write_path.upload_points(
            self._pooling_state, collection_name, points, batch_size, options
        )
        return self._run(flow)

    def upload_collection(
        self,
        collection_name: str,
        vectors: Iterable[types.VectorStruct] | dict[str, types.NumpyArray] | types.NumpyArray,
        payload: Iterable[dict[Any, Any]] | None = None,
        ids: Iterable[types.PointId] | None = None,
        batch_size: int = 64,
        parallel: int = 1,
        method: str | None = None,
        max_retries: int = 3,
        wait: bool = False,
        shard_key_selector: types.ShardKeySelector | None = None,
        update_filter: types.Filter | None = None,
        update_mode: types.UpdateMode | None = None,
        **kwargs: Any,
    ) -> None:
        """``QdrantClient.upload_collection`` with configured multivectors pooled, streamed
        ``batch_size`` points at a time (``vectors``: a dict of columns, an ``(N, n, d)``
        array or an iterable; sized inputs are checked whole before the first batch)."""
        options = {
            "parallel": parallel,
            "max_retries": max_retries,
            "wait": wait,
            **parent_options(locals(), "vectors", "payload", "ids", "batch_size"),
        }
        flow = write_path.upload_collection(
            self._pooling_state, collection_name, vectors, payload, ids, batch_size, options
        )
        return self._run(flow)

    # -- late-interaction queries; text in, text out ----------------------------------------
    def query_late_interaction(
        self,
        collection_name: str,
        query: Any,
        *,
        using: str | None = None,
        limit: int = 10,
        prefetch_limit: int | None = None,
        rescore_limit: int | None = None,
        query_filter: types.Filter | None = None,
        with_payload: Any = True,
        with_vectors: Any = False,
        rescore: str | None = None,
        summary: bool | None = None,
        full_resolution: bool | None = None,
        search_params: types.SearchParams | None = None,
        score_threshold: float | None = None,
        device: str | None = None,
        first_stage: str | None = None,
        neighbours: int | None = None,
        **kwargs: Any,
    ) -> QueryResponse:
        """Late-interaction (MaxSim) search with the collection's prefetch funnel (one
        ``query_points`` call; the stages: :doc:`query`).

        Args:
            query: the query's token vectors, ``(q, d)`` list / numpy / torch; never pooled.
                Or a ``models.Document`` (``Image``, ``InferenceObject``): embedded as a
                query by the client's local inference (fastembed), as ``query_points`` does.
            using: the pooled multivector; may be left out when the collection has exactly
                one pooled multivector.
            prefetch_limit, rescore_limit: candidates of the summary / full-resolution stage
                (default ``max(100, 10 * limit)`` / ``max(40, 4 * limit)``; with the token
                index: the candidates rescored, default the index's, at least ``limit``; 0: all).
            query_filter: applied at every stage.
            rescore: ``None`` / ``"server"``: the whole funnel in Qdrant; ``"client"``: the
                last stage's exact MaxSim computed here (:mod:`qdrant_tokenpool.maxsim`).
            summary, full_resolution: ``None`` use the stage when configured, ``True``
                require it, ``False`` skip it.
            search_params: of the first stage.
            score_threshold: applied to the final scores.
            device: the :mod:`~qdrant_tokenpool.maxsim` device of client rescoring.
            first_stage: ``None``: the collection's token index when it has a ready one
                (and no ``query_filter``), else the summary stage when configured;
                ``"tokens"`` or ``"summary"`` to require one (:mod:`.candidates`).
            neighbours: token-index candidates per query token (default: the index's).
            with_payload, with_vectors, **kwargs: as in ``query_points`` (``timeout``,
                ``consistency``, ``shard_key_selector``, ...).

        Raises:
            ValueError: unknown collection or vector, bad limits, or a bad query
                (:class:`~qdrant_tokenpool.InvalidMultivectorError`: empty, 1-D, wrong
                dimension, NaN/inf; an inference object with cloud inference), before any
                query is sent.
        """
        flow = late_interaction_flow(self._pooling_state, **method_arguments(locals()))
        return self._run(flow)

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
        """Encode ``texts`` with ``encoder`` ``batch_size`` at a time and upsert them, pooled
        per the collection's config (:doc:`encoders`, "Text in, text out").

        Args:
            texts: the documents (strings).
            encoder: a :class:`~qdrant_tokenpool.encoders.protocol.TextEncoder` whose ``dim``
                is the vector's size.
            ids: one point id per text (unsigned int or UUID); default a new ``uuid4`` each.
            payloads: one payload (dict or ``None``) per text; default ``{"text": text}``.
            vector_name: the multivector; may be left out when the collection has exactly
                one pooled multivector (or, with none pooled, exactly one multivector).
            batch_size: texts per encoder call and per ``upsert`` request.
            show_progress: a tqdm bar (``None``: for more than 1,000 texts).
            wait: ``upsert``'s ``wait``.

        Returns:
            The point ids, in input order.

        Raises:
            ValueError / TypeError: unknown collection or vector, a dense vector, another
                ``dim``, non-string texts, ``ids`` / ``payloads`` of another length, bad or
                repeated ids, ``batch_size < 1``: before anything is encoded or written.
            InvalidMultivectorError: a bad encoder output (names the point id); batches
                before it are already written.
        """
        flow = add_texts_flow(self._pooling_state, **method_arguments(locals()))
        return self._run(flow)

    def query_text(
        self, collection_name: str, text: str, encoder: TextEncoder, **kwargs: Any
    ) -> QueryResponse:
        """Late-interaction search with a text: ``encoder.encode_queries([text])`` (never
        pooled), then :meth:`query_late_interaction` with ``kwargs`` (``using``, ``limit``,
        ``query_filter``, ``rescore``, ...)."""
        query = encode_query(encoder, text, kwargs)
        return self.query_late_interaction(collection_name, query, **kwargs)
