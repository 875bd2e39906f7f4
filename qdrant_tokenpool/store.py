"""The pooling config's home in Qdrant: read, cache, check and write it, as flows (see
:mod:`qdrant_tokenpool._flow`) shared by the sync and async clients, and each client's
:class:`PoolingState`. The config lives in the collection's metadata
(:mod:`qdrant_tokenpool.config`); a client caches it per collection for
:attr:`PoolingState.ttl` seconds and forgets it at once on any change it makes itself.
"""

from __future__ import annotations

import contextvars
import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from qdrant_client import models

from . import _parent as parent
from ._flow import Flow, call
from .config import (
    PoolingConfig,
    PoolingConfigError,
    PoolingMap,
    coerce_pooling,
    pooling_from_metadata,
    pooling_to_metadata,
)
from .engines.checks import VectorSpec, VectorsSchema
from .inference import LocalInference
from .pooling.validation import check_int, vector_label

__all__ = [
    "CollectionPooling",
    "PoolingArg",
    "PoolingState",
    "UnknownCollectionError",
    "VectorSpec",
    "create_collection",
    "extra_vectors_config",
    "get_pooling",
    "load",
    "load_if_exists",
    "remove_pooling",
    "schema_change",
    "set_pooling",
]

DEFAULT_TTL_S = 60.0

PoolingArg = Mapping[str, PoolingConfig | Mapping[str, Any]] | PoolingConfig | None
"""A pooling config as the clients take it (``create_collection(pooling=...)``):
``{vector_name: PoolingConfig or its dict}``, or one ``PoolingConfig`` for the unnamed
vector; ``None`` for none."""


class UnknownCollectionError(ValueError):
    """The collection ``collection_name`` does not exist; ``known``: the collections that
    do, when the raiser looked them up (else ``None``)."""

    def __init__(self, collection_name: str, known: Sequence[str] | None = None):
        self.collection_name = collection_name
        self.known = None if known is None else list(known)
        message = f"collection {collection_name!r} does not exist"
        if self.known is not None:
            message += f" (collections: {', '.join(self.known) or 'none'})"
        super().__init__(message)


@dataclass(frozen=True)
class CollectionPooling:
    """What the write path and the query helper need to know about one collection: its
    pooling config, its dense / multi vectors, its sparse vector names, its metadata."""

    name: str
    pooling: PoolingMap
    vectors: dict[str, VectorSpec]
    metadata: dict[str, Any]
    sparse: frozenset[str] = frozenset()

    @property
    def schema(self) -> VectorsSchema:
        """The collection's vectors, as the write checks take them."""
        return VectorsSchema(self.vectors, self.sparse)

    @classmethod
    def from_info(
        cls, name: str, info: models.CollectionInfo, *, read_config: bool = True
    ) -> CollectionPooling:
        """The collection's vectors and its stored pooling config, checked against them
        (:class:`PoolingConfigError` naming the collection otherwise). ``read_config=False``
        skips the config (``pooling`` is ``{}``), so that a broken one can be overwritten."""
        schema = VectorsSchema.from_info(info)
        vectors, sparse = dict(schema.dense), schema.sparse
        metadata = dict(getattr(info.config, "metadata", None) or {})
        if not read_config:
            return cls(name, {}, vectors, metadata, sparse)
        cp = cls(name, pooling_from_metadata(metadata, name), vectors, metadata, sparse)
        try:
            cp.check(cp.pooling)
        except PoolingConfigError as exc:
            raise PoolingConfigError(
                f"the pooling config stored in collection {name!r} does not fit it: {exc} "
                "(replace it with set_pooling(..., replace=True) or remove_pooling())"
            ) from None
        return cp

    def check(self, pooling: PoolingMap) -> None:
        """Refuse configs for vectors that are missing, not multivectors, uint8 (unit rows
        would be stored as zeros), or mistyped extras."""
        for vname, cfg in pooling.items():
            spec = self.vectors.get(vname)
            label = vector_label(vname)
            if spec is None:
                known = ", ".join(repr(v) for v in self.vectors) or "none"
                raise PoolingConfigError(
                    f"collection {self.name!r} has no {label} (vectors: {known})"
                )
            if not spec.multivector:
                raise PoolingConfigError(
                    f"{label} of collection {self.name!r} is not a multivector: "
                    "only multivectors (multivector_config set) can be pooled"
                )
            if spec.datatype == "uint8":
                raise PoolingConfigError(
                    f"{label} of collection {self.name!r} has datatype uint8: Qdrant stores "
                    "and queries it as integers 0-255, so pooled rows (unit vectors) become "
                    "zeros; use float16, a turbo datatype or int8 scalar quantization"
                )
            if cfg.summary_vector is not None:
                s = self.vectors.get(cfg.summary_vector)
                size = cfg.summary_dim(spec.size)
                if s is None or s.multivector or s.size != size:
                    raise PoolingConfigError(
                        f"summary vector {cfg.summary_vector!r} of {label} must exist in "
                        f"collection {self.name!r} as a dense single vector of size {size}"
                        + (" (its MUVERA encoding)" if cfg.summary_method == "muvera" else "")
                    )
                if cfg.summary_method == "muvera" and s.distance != models.Distance.DOT:
                    raise PoolingConfigError(
                        f"summary vector {cfg.summary_vector!r} of {label} holds a MUVERA "
                        f"encoding, whose inner product approximates MaxSim: it needs Dot "
                        f"distance, not {s.distance.value}"
                    )
            if cfg.keep_original_vector is not None:
                o = self.vectors.get(cfg.keep_original_vector)
                if o is None or not o.multivector or o.size != spec.size:
                    raise PoolingConfigError(
                        f"keep-original vector {cfg.keep_original_vector!r} of {label} must "
                        f"exist in collection {self.name!r} as a multivector of size {spec.size}"
                    )


_POOLING_OFF: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "qdrant_tokenpool_pooling_off", default=frozenset()
)
"""Ids of the :class:`PoolingState` objects (clients) whose pooling is switched off in the
current context: a thread, or an asyncio task (which starts with a copy of its creator's)."""

_STATE_IDS = itertools.count()


@dataclass
class PoolingState:
    """Per-client state (:meth:`for_engine`): the cache of :class:`CollectionPooling` (time
    to live ``ttl`` seconds), whether pooling is on (:attr:`enabled`), the pooling workers,
    and what the client's engine asks of the write path."""

    ttl: float = DEFAULT_TTL_S
    remote: bool = False
    """A server: requests carry lists, bodies are split under the REST limit (every part
    checked before the first is sent)."""
    streams: bool = False
    """The engine writes an upload batch by batch (not local mode): it is checked whole first."""
    pending: bool = False
    """The engine takes vectors still being pooled (``PendingArray``): Qdrant Edge's backend."""
    native_search: bool = False
    """The engine searches many query vectors at once into arrays (``search_batch``, Qdrant
    Edge's backend): the token first stage calls it
    (:func:`~qdrant_tokenpool._flow.engine_call`)."""
    workers: int | None = None
    """Pooling workers of a write (``pool_arrays``'s ``workers``: ``None`` all cores for
    enough work, ``1`` the calling thread, ``k`` at most ``k``)."""
    local_inference: LocalInference | None = None
    """The client's local inference (``None``: no client, as in tests of the flows)."""
    _cache: dict[str, tuple[float, CollectionPooling]] = field(default_factory=dict)
    _id: int = field(default_factory=lambda: next(_STATE_IDS), repr=False, compare=False)

    @classmethod
    def for_engine(
        cls, engine: str, *, inference: LocalInference | None = None, workers: int | None = None
    ) -> PoolingState:
        """The state of a client whose calls land on ``engine``: server, edge or local."""
        return cls(
            remote=engine == "server",
            streams=engine != "local",
            pending=engine == "edge",
            native_search=engine == "edge",
            workers=None if workers is None else check_int("pooling_workers", workers),
            local_inference=inference,
        )

    @property
    def inference(self) -> LocalInference | None:
        """The local inference that embeds ``models.Document`` on pooled vectors, or ``None``
        when the client uses cloud inference (read from the client at each call)."""
        li = self.local_inference
        return li if li is not None and li.active else None

    @property
    def enabled(self) -> bool:
        """Whether writes pool here and now: ``False`` inside a :meth:`disabled` block of
        the current thread or asyncio task, ``True`` everywhere else."""
        return self._id not in _POOLING_OFF.get()

    @contextmanager
    def disabled(self) -> Iterator[None]:
        """Switch pooling off for this client inside the ``with`` block, in the current
        thread or asyncio task only (a :class:`contextvars.ContextVar`; tasks created inside
        inherit it): other threads' and tasks' writes never change."""
        token = _POOLING_OFF.set(_POOLING_OFF.get() | {self._id})
        try:
            yield
        finally:
            _POOLING_OFF.reset(token)

    def get(self, name: str) -> CollectionPooling | None:
        hit = self._cache.get(name)
        if hit is None or time.monotonic() - hit[0] > self.ttl:
            return None
        return hit[1]

    def put(self, cp: CollectionPooling) -> None:
        self._cache[cp.name] = (time.monotonic(), cp)

    def forget(self, name: str | None = None) -> None:
        if name is None:
            self._cache.clear()
        else:
            self._cache.pop(name, None)


def _is_not_found(exc: Exception) -> bool:
    text = str(exc).lower()
    missing = ("not found", "doesn't exist", "does not exist")
    return getattr(exc, "status_code", None) == 404 or any(m in text for m in missing)


def load(
    state: PoolingState,
    collection_name: str,
    *,
    refresh: bool = False,
    read_config: bool = True,
) -> Flow[CollectionPooling]:
    """The collection's vectors and pooling config, from the cache or from Qdrant
    (``read_config=False``: the vectors only, read now and not cached)."""
    if not refresh and read_config:
        cached = state.get(collection_name)
        if cached is not None:
            return cached
    try:
        info = yield call(parent.get_collection, collection_name)
    except Exception as exc:
        if _is_not_found(exc):
            raise UnknownCollectionError(collection_name) from exc
        raise
    cp = CollectionPooling.from_info(collection_name, info, read_config=read_config)
    if read_config:
        state.put(cp)
    return cp


def load_if_exists(state: PoolingState, collection_name: str) -> Flow[CollectionPooling | None]:
    """The collection's vectors and metadata, with its pooling config (``{}`` when the
    stored config is broken); ``None`` when it does not exist."""
    try:
        try:
            return (yield from load(state, collection_name))
        except PoolingConfigError:
            return (yield from load(state, collection_name, read_config=False))
    except UnknownCollectionError:
        return None


def get_pooling(state: PoolingState, collection_name: str) -> Flow[PoolingMap]:
    """``{vector_name: PoolingConfig}`` stored for the collection (``{}`` if none)."""
    cp = yield from load(state, collection_name)
    return dict(cp.pooling)


def set_pooling(
    state: PoolingState,
    collection_name: str,
    pooling: Mapping[str, PoolingConfig | Mapping[str, Any]] | PoolingConfig,
    *,
    replace: bool = False,
) -> Flow[PoolingMap]:
    """Store the pooling config of some vectors (merged with what is there unless
    ``replace``). Refuses vectors that do not exist or are not multivectors."""
    new = coerce_pooling(pooling)
    cp = yield from load(state, collection_name, refresh=True, read_config=not replace)
    merged = coerce_pooling(new if replace else {**cp.pooling, **new})
    cp.check(merged)
    yield call(parent.update_collection, collection_name, metadata=pooling_to_metadata(merged))
    state.forget(collection_name)
    return merged


def remove_pooling(
    state: PoolingState, collection_name: str, vector_names: list[str] | None = None
) -> Flow[PoolingMap]:
    """Stop pooling ``vector_names`` (all when ``None``, which also clears a broken
    stored config); returns the config left."""
    cp = yield from load(state, collection_name, refresh=True, read_config=vector_names is not None)
    # vector_names None: the config was not read (cp.pooling is {}), so nothing is left
    left = {k: v for k, v in cp.pooling.items() if k not in set(vector_names or ())}
    yield call(parent.update_collection, collection_name, metadata=pooling_to_metadata(left))
    state.forget(collection_name)
    return left


def extra_vectors_config(
    vectors_config: Mapping[str, models.VectorParams], pooling: PoolingMap
) -> dict[str, models.VectorParams]:
    """Vector params for the extra vectors a pooling map asks for and ``vectors_config``
    lacks: a summary vector is dense, with HNSW (the pooled vector's distance for the mean
    summary, Dot for MUVERA); a keep-original vector is a multivector on disk without HNSW
    (``m=0``), so RAM holds only pooled vectors."""
    extra: dict[str, models.VectorParams] = {}
    for vname, cfg in pooling.items():
        base = vectors_config.get(vname)
        if base is None:
            continue  # CollectionPooling.check reports it
        if cfg.summary_vector and cfg.summary_vector not in vectors_config:
            muvera = cfg.summary_method == "muvera"
            extra[cfg.summary_vector] = models.VectorParams(
                size=cfg.summary_dim(base.size),
                distance=models.Distance.DOT if muvera else base.distance,
            )
        if cfg.keep_original_vector and cfg.keep_original_vector not in vectors_config:
            extra[cfg.keep_original_vector] = models.VectorParams(
                size=base.size,
                distance=base.distance,
                multivector_config=base.multivector_config
                or models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
                on_disk=True,
                hnsw_config=models.HnswConfigDiff(m=0),
            )
    return extra


def create_collection(
    state: PoolingState,
    method: Callable[..., bool],
    collection_name: str,
    vectors_config: models.VectorParams | Mapping[str, models.VectorParams] | None,
    pooling: PoolingArg,
    options: dict[str, Any],
) -> Flow[bool]:
    """``method`` (the parent's ``create_collection`` or ``recreate_collection``) with the
    pooling config checked before anything is created, its extra vectors added and the
    config merged into ``metadata``; ``options``: the parent's other arguments."""
    state.forget(collection_name)
    if not pooling:
        return (yield call(method, collection_name, vectors_config=vectors_config, **options))
    pmap = coerce_pooling(pooling)
    if isinstance(vectors_config, models.VectorParams):
        named: dict[str, models.VectorParams] = {"": vectors_config}
    else:
        named = dict(vectors_config or {})
    extra = extra_vectors_config(named, pmap)
    if extra:
        if "" in named:
            raise PoolingConfigError(
                "extra vectors (summary_vector / keep_original_vector) need named vectors: "
                "give vectors_config as {name: VectorParams}"
            )
        named.update(extra)
    specs = {k: VectorSpec.from_params(v) for k, v in named.items()}
    CollectionPooling(collection_name, pmap, specs, {}).check(pmap)
    metadata = {**(options.pop("metadata", None) or {}), **pooling_to_metadata(pmap)}
    out_config: Any = named[""] if list(named) == [""] else named
    return (
        yield call(method, collection_name, vectors_config=out_config, metadata=metadata, **options)
    )


def schema_change(
    state: PoolingState, method: Callable[..., Any], collection_name: str, options: dict[str, Any]
) -> Flow[Any]:
    """The parent's ``method`` (``delete_collection``, ``update_collection``,
    ``create_vector_name``, ...), with the collection's cached config forgotten before and
    after: its schema or its config may change."""
    state.forget(collection_name)
    try:
        return (yield call(method, collection_name, **options))
    finally:
        state.forget(collection_name)
