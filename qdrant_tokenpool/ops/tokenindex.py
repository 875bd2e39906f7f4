"""``add_token_index``: give an existing collection the token-level first stage
(:mod:`qdrant_tokenpool.candidates`) from its stored pooled vectors, without re-encoding.

The companion is created and the index recorded in the metadata, not yet ``ready``
(queries keep the summary stage; writes through the client already keep the companion in
step). The stored vectors are then copied to the companion batch by batch, the ``scroll``
offset saved after each, so a killed run continues from there (rewriting a batch is
harmless: a document's tokens are deleted before they are written). Then it is ``ready``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any

import numpy as np
from qdrant_client import models

from .. import _parent as parent
from .._flow import Flow, call
from ..candidates import (
    DEFAULT_CANDIDATES,
    DEFAULT_NEIGHBOURS,
    DEFAULT_POOL_FACTOR,
    TokenIndex,
    companion_name,
    create_companion,
    doc_key,
    write_tokens,
)
from ..pooling.validation import check_int
from ..query import resolve_multivector
from .common import (
    OperationUsageError,
    ProgressHook,
    Reporter,
    load_collection,
    operation,
    scroll_points,
)

__all__ = ["TokenIndexResult", "aadd_token_index", "add_token_index", "add_token_index_flow"]


@dataclass(frozen=True)
class TokenIndexResult:
    """What :func:`add_token_index` did: the index, the documents and token vectors it
    wrote now, and whether it continued an interrupted run (or found the index ready)."""

    collection_name: str
    index: TokenIndex
    documents: int
    tokens: int
    resumed: bool
    already_ready: bool


def add_token_index_flow(
    collection_name: str,
    *,
    using: str | None = None,
    neighbours: int = DEFAULT_NEIGHBOURS,
    quantization: str | None = "int8",
    pool_factor: int = DEFAULT_POOL_FACTOR,
    candidates: int = DEFAULT_CANDIDATES,
    hnsw_config: models.HnswConfigDiff | None = None,
    batch_size: int = 256,
    progress: ProgressHook | None = None,
) -> Flow[TokenIndexResult]:
    """Add the token-level first stage to ``collection_name`` (see the module docstring).

    Args:
        using: the pooled multivector to index; may be left out when there is one.
        neighbours: candidates per query token at query time (>= 1).
        quantization: ``"int8"`` (int8 in RAM, the HNSW graph built on it; float32 on disk
            for rescoring) or ``None`` (float32 in RAM).
        pool_factor: the companion holds each document's stored vectors pooled again by
            this factor (fewer points: cheaper to write and index; 1: as stored).
        candidates: at most this many candidate documents per query rescored, the best
            by their first-stage score (0: all; a query's ``prefetch_limit`` overrides it).
        hnsw_config: the companion's HNSW settings when it is created (default:
            :data:`~qdrant_tokenpool.candidates.DEFAULT_HNSW`).
        batch_size: points per read and per companion write (>= 1).

    Raises:
        UnknownCollectionError: no such collection.
        OperationUsageError: the collection already indexes another vector, or a second
            call asks for other settings than the stored (unfinished) index.
    """
    rep = Reporter("add_token_index", progress)
    batch_size = check_int("batch_size", batch_size)
    cp = yield from load_collection(collection_name)
    vname = resolve_multivector(cp, using)
    wanted = TokenIndex(
        vname,
        companion_name(collection_name),
        check_int("neighbours", neighbours),
        quantization,
        check_int("pool_factor", pool_factor),
        check_int("candidates", candidates, minimum=0),
        packed_ids=True,
    )
    ti = TokenIndex.from_metadata(cp.metadata, collection_name)
    resumed = ti is not None
    if ti is not None:
        settings = attrgetter("vector", "quantization", "pool_factor")
        if settings(ti) != settings(wanted):
            raise OperationUsageError(
                f"collection {collection_name!r} already has a token index of vector "
                f"{ti.vector!r} (quantization {ti.quantization!r}, pool_factor "
                f"{ti.pool_factor})"
            )
        if ti.ready:
            rep.info(f"collection {collection_name!r} already has a ready token index")
            return TokenIndexResult(collection_name, ti, 0, 0, True, True)
        rep.info(f"continuing the token index of {collection_name!r}")
    else:
        ti = wanted
    index: TokenIndex = ti  # updated with the read's progress
    yield from create_companion(index, cp.vectors[vname], hnsw_config)
    yield call(parent.update_collection, collection_name, metadata=index.to_metadata())
    docs_done = tokens_done = 0

    def index_batch(records: list[Any]) -> Flow[None]:
        nonlocal docs_done, tokens_done
        docs = []
        for r in records:
            vec = r.vector.get(vname) if isinstance(r.vector, dict) else r.vector
            if vec is not None and len(vec):
                docs.append((doc_key(r.id), np.asarray(vec, dtype=np.float32)))
        yield from write_tokens(index, [doc_key(r.id) for r in records], docs)
        docs_done += len(records)
        tokens_done += sum(len(d) for _, d in docs)

    def checkpoint(offset: Any) -> Flow[None]:
        nonlocal index
        index = replace(index, backfill_offset=offset)
        yield call(parent.update_collection, collection_name, metadata=index.to_metadata())

    yield from scroll_points(
        collection_name, index_batch, rep, f"token index {collection_name}",
        batch_size=batch_size, with_vectors=[vname] if vname else True,
        offset=index.backfill_offset, checkpoint=checkpoint,
    )
    index = replace(index, ready=True, backfill_offset=None)
    yield call(parent.update_collection, collection_name, metadata=index.to_metadata())
    return TokenIndexResult(collection_name, index, docs_done, tokens_done, resumed, False)


add_token_index, aadd_token_index = operation(
    add_token_index_flow, "add_token_index", pooling_client=True
)
