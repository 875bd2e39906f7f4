"""``index_corpus``: documents -> token vectors -> pooled writes into a collection; resumable
(deterministic point ids: documents already written are skipped, unencoded)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from qdrant_client import models
from qdrant_client.uploader.uploader import iter_batch

from .. import _parent as parent
from .._flow import Flow, call
from ..config import PoolingConfig, PoolingConfigError
from ..pooling.spec import METHODS
from ..pooling.validation import check_int, vector_label
from ..query import resolve_multivector
from ..store import CollectionPooling
from .common import (
    DOC_ID_PAYLOAD_KEY,
    INDEX_METADATA_KEY,
    TOKENS_PAYLOAD_KEY,
    OperationError,
    OperationUsageError,
    ProgressHook,
    Reporter,
    config_text,
    load_collection,
    missing_ids,
    operation,
    resolve_encoder,
)
from .documents import Document, DocumentError, as_document, point_id

__all__ = [
    "DEFAULT_VECTOR",
    "SUMMARY_VECTOR",
    "IndexResult",
    "aindex_corpus",
    "index_corpus",
    "index_corpus_flow",
    "index_record",
    "indexed_multivector",
    "record_from_metadata",
]

DEFAULT_VECTOR = "tokens"
"""Name of the multivector a new collection gets."""

SUMMARY_VECTOR = "summary"
"""Name of the summary vector (the funnel's first stage) a new collection gets."""


@dataclass(frozen=True)
class IndexResult:
    """What :func:`index_corpus` did: documents ``added`` now and ``skipped`` (already
    there), their unpooled ``token_vectors`` and ``stored_vectors`` after pooling (with a
    ``distance_threshold`` an upper bound); ``pooling`` ``None``: stored unpooled."""

    collection_name: str
    vector_name: str
    created: bool
    pooling: PoolingConfig | None
    added: int
    skipped: int
    token_vectors: int
    stored_vectors: int

    @property
    def reduction(self) -> float:
        """Fraction of the added token vectors that pooling removed (0 when none added)."""
        return 1 - self.stored_vectors / self.token_vectors if self.token_vectors else 0.0


def _documents(documents: Iterable[Any], limit: int | None) -> Iterator[Document]:
    """The first ``limit`` documents as :class:`Document` objects; ids must not repeat."""
    seen: set[str] = set()
    for n, item in enumerate(itertools.islice(documents, limit)):
        doc = as_document(item, f"document #{n}")
        if doc.doc_id in seen:
            raise DocumentError(f"document #{n}: duplicate document id {doc.doc_id!r}")
        seen.add(doc.doc_id)
        yield doc


ENCODE_BATCHES = 4
"""Batches of documents encoded (and written) together: the encoder sorts them by length
(less padding) and runs them side by side on the CPU cores (``TokenEncoder``)."""

FORWARD_DOCUMENTS = 8
"""Most documents per forward pass of the encoder: keeps a pass's temporaries under the C
library's mapping threshold (32 MiB), so their memory is reused instead of mapped fresh
and zeroed by the kernel on every pass."""


def record_from_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """What :func:`index_corpus` recorded in a collection's metadata (``{}`` if nothing):
    ``vector`` and the caller's ``record`` entries (the CLI: ``model``, ``doc_maxlen``)."""
    entry = (metadata or {}).get(INDEX_METADATA_KEY)
    return dict(entry) if isinstance(entry, Mapping) else {}


def indexed_multivector(cp: CollectionPooling, vector_name: str | None) -> str:
    """The token vectors' multivector: ``vector_name``, else the one :func:`index_corpus`
    recorded, else the collection's only (pooled) multivector
    (:func:`~qdrant_tokenpool.query.resolve_multivector`, whose ``ValueError`` it raises)."""
    recorded = record_from_metadata(cp.metadata).get("vector")
    return resolve_multivector(cp, vector_name or recorded, arg="vector_name")


def index_record_flow(collection_name: str) -> Flow[dict[str, Any]]:
    """:func:`record_from_metadata` of the collection; ``{}`` when it does not exist."""
    if not (yield call(parent.collection_exists, collection_name)):
        return {}
    cp = yield from load_collection(collection_name)
    return record_from_metadata(cp.metadata)


def index_corpus_flow(
    collection_name: str,
    documents: Iterable[Document | Mapping[str, Any]],
    encoder: Any,
    *,
    vector_name: str | None = None,
    pool_factor: float | None = None,
    method: str | None = None,
    protected_tokens: int | None = None,
    pooling_options: Mapping[str, Any] | None = None,
    batch_size: int = 32,
    limit: int | None = None,
    total: int | None = None,
    record: Mapping[str, Any] | None = None,
    progress: ProgressHook | None = None,
    summary: bool = True,
    on_disk: bool = True,
    token_index: bool = True,
) -> Flow[IndexResult]:
    """Encode ``documents`` with ``encoder`` and write them, pooled, into a collection.

    A missing collection is created: a Cosine MaxSim multivector ``vector_name`` (default
    ``"tokens"``) of the encoder's ``dim`` (on disk with ``on_disk``), its pooling config in
    the metadata (``pool_factor`` 2, ``method`` ``"hierarchical"``, ``protected_tokens`` the
    encoder's, plus ``pooling_options``), with ``summary`` the dense ``"summary"`` vector and
    with ``token_index`` the token-level first stage (:func:`add_token_index`). An existing
    collection uses the vector :func:`index_corpus` recorded (else its one pooled
    multivector); given settings must match its config. Points get id
    :func:`point_id` and payload ``doc_id``, ``title``, ``text``, ``_tokenpool_tokens``.
    Resumable: documents already there are skipped.

    Args:
        documents: :class:`Document` objects or BEIR rows; a list is checked whole first,
            an iterator read a group at a time.
        encoder: ``encode_documents(texts, batch_size=, show_progress=)`` and ``dim``, or a
            zero-argument callable returning one (called only when something is encoded).
        batch_size: documents per batch (:data:`ENCODE_BATCHES` encoded and written together,
            :data:`FORWARD_DOCUMENTS` per forward pass).
        limit: index only the first ``limit`` documents; ``total``: their number, for progress.
        record: extra metadata recorded with the vector name (the CLI: ``model``, ``doc_maxlen``).

    Raises:
        OperationError: no fitting multivector, or the encoder's ``dim`` differs;
            :class:`DocumentError` for a malformed or repeated document (named).
        OperationUsageError: settings that differ from the collection's.
        PoolingConfigError: a bad setting.
    """
    rep = Reporter("index_corpus", progress)
    batch_size = check_int("batch_size", batch_size)
    if limit is not None:
        limit = check_int("limit", limit)
    if method is not None and method not in METHODS:
        raise PoolingConfigError(
            f"unknown pooling method {method!r}; expected one of {', '.join(METHODS)}"
        )
    options = dict(pooling_options or {})
    fixed = {"pool_factor", "method", "protected_tokens"} & set(options)
    if fixed:
        raise PoolingConfigError(
            f"pass {', '.join(sorted(fixed))} as argument(s), not in pooling_options"
        )
    if isinstance(documents, Sequence) and not isinstance(documents, (str, bytes)):
        # a list is checked whole before anything is written (a stream group by group)
        documents = list(_documents(documents, limit))
        total = len(documents) if total is None else total
    if total is not None and limit is not None:
        total = min(total, limit)

    loaded: Any = None
    size: int | None = None  # the existing vector's size, checked on first load

    def get_encoder() -> Any:
        nonlocal loaded
        if loaded is None:
            loaded = resolve_encoder(encoder, "encode_documents")
            if size is not None and int(loaded.dim) != size:
                raise OperationError(
                    f"collection {collection_name!r} stores {size}-d vectors in "
                    f"{vector_label(vname)} but the encoder makes {loaded.dim}-d vectors"
                )
        return loaded

    exists = yield call(parent.collection_exists, collection_name)
    cfg: PoolingConfig | None
    if exists:
        cp = yield from load_collection(collection_name)
        try:
            vname = indexed_multivector(cp, vector_name)
        except ValueError as exc:
            raise OperationError(str(exc)) from None
        size = cp.vectors[vname].size
        cfg = cp.pooling.get(vname)
        given: dict[str, Any] = {"pool_factor": pool_factor, "method": method}
        given = {k: v for k, v in given.items() if v is not None} | options
        if cfg is None:
            rep.info(
                f"note: collection {collection_name!r} has no pooling config for "
                f"{vector_label(vname)}: vectors are stored unpooled"
            )
        elif given and replace(cfg, **given) != cfg:
            wanted = " ".join(f"{k}={v}" for k, v in given.items())
            raise OperationUsageError(
                f"collection {collection_name!r} pools {vector_label(vname)} with "
                f"{config_text(cfg)}; {wanted} differs (use another collection, or repool)"
            )
    else:
        vname = vector_name or DEFAULT_VECTOR
        enc = get_encoder()
        dim = int(enc.dim)
        if summary and "summary_vector" not in options:
            options["summary_vector"] = SUMMARY_VECTOR
        if protected_tokens is None:
            protected_tokens = int(getattr(enc, "protected_tokens", 1))
        cfg = PoolingConfig(
            pool_factor=pool_factor or 2,
            method=method or "hierarchical",  # type: ignore[arg-type]
            protected_tokens=protected_tokens,
            **options,
        )
        rep.info(f"creating collection {collection_name!r} ...")
        yield call(
            parent.create_collection,
            collection_name,
            vectors_config={
                vname: models.VectorParams(
                    size=dim,
                    distance=models.Distance.COSINE,
                    multivector_config=models.MultiVectorConfig(
                        comparator=models.MultiVectorComparator.MAX_SIM
                    ),
                    on_disk=on_disk,
                )
            },
            pooling={vname: cfg},
            metadata={INDEX_METADATA_KEY: {**(record or {}), "vector": vname}},
        )
        rep.info(f"created collection {collection_name!r} ({dim}-d, {config_text(cfg)})")
        if token_index:
            from .tokenindex import add_token_index_flow

            yield from add_token_index_flow(collection_name, using=vname, progress=progress)

    added = skipped = tokens_in = vectors_out = 0
    rep.start(f"index {collection_name}", total, "doc")

    def encode(enc: Any, texts: list[str]) -> list[Any]:
        embs = list(
            enc.encode_documents(
                texts, batch_size=min(batch_size, FORWARD_DOCUMENTS), show_progress=False
            )
        )
        if len(embs) != len(texts):
            raise OperationError(
                f"encoder.encode_documents returned {len(embs)} results for {len(texts)} texts"
            )
        return embs

    def write(group: list[Document], todo: list[tuple[Document, str]],
              future: Future[list[Any]] | None) -> Flow[None]:
        """Write one group once it is encoded, and count it."""
        nonlocal added, tokens_in, vectors_out
        if future is not None:
            embs = future.result()
            lengths = [len(e) for e in embs]
            yield call(
                parent.upload_collection,
                collection_name,
                vectors=[{vname: e} for e in embs],
                payload=[
                    {DOC_ID_PAYLOAD_KEY: d.doc_id, "title": d.title, "text": d.text,
                     TOKENS_PAYLOAD_KEY: n}
                    for (d, _), n in zip(todo, lengths)
                ],
                ids=[i for _, i in todo],
                batch_size=len(todo),
                wait=True,
            )
            added += len(todo)
            tokens_in += sum(lengths)
            vectors_out += sum(
                n if cfg is None else cfg.spec.stored_vectors(n, len(e[0]))
                for n, e in zip(lengths, embs)
            )
        rep.advance(len(group))

    # two stages: a group is encoded in the background while the one before it is written
    # (the write pools on its own threads and hands the points to the engine)
    ahead = ThreadPoolExecutor(1, thread_name_prefix="qdrant-tokenpool-encode")
    pending: tuple[list[Document], list[tuple[Document, str]], Future[list[Any]] | None] | None
    pending = None
    try:
        for group in iter_batch(_documents(documents, limit), batch_size * ENCODE_BATCHES):
            ids = [point_id(d.doc_id) for d in group]
            missing = set((yield from missing_ids(collection_name, ids)))
            todo = [(d, i) for d, i in zip(group, ids) if i in missing]
            future = (
                ahead.submit(encode, get_encoder(), [d.content for d, _ in todo]) if todo else None
            )
            if pending is not None:
                yield from write(*pending)
            skipped += len(group) - len(todo)
            pending = (group, todo, future)
        if pending is not None:
            yield from write(*pending)
    finally:
        ahead.shutdown(wait=True, cancel_futures=True)
    rep.end()
    return IndexResult(
        collection_name, vname, not exists, cfg, added, skipped, tokens_in, vectors_out
    )


index_corpus, aindex_corpus = operation(index_corpus_flow, "index_corpus", pooling_client=True)
index_record, aindex_record = operation(index_record_flow, "index_record", pooling_client=False)
