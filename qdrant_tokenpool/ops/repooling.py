"""``repool``: copy a collection into a pooled one, in batches, streaming, resumable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qdrant_client import models

from .. import _parent as parent
from .._flow import Flow, call
from ..candidates import METADATA_KEY as TOKEN_INDEX_KEY
from ..candidates import TokenIndex
from ..config import METADATA_KEY, PoolingConfig, PoolingMap, coerce_pooling
from ..pooling.validation import check_int, vector_label
from ..query import resolve_multivector
from . import common

__all__ = ["RepoolResult", "arepool", "repool", "repool_flow"]


@dataclass(frozen=True)
class RepoolResult:
    """What :func:`repool` did: the destination's pooling, whether it was created, and
    the points ``copied`` now and ``skipped`` (already there)."""

    source_collection: str
    dest_collection: str
    pooling: PoolingMap
    created: bool
    copied: int
    skipped: int


def repool_flow(
    source_collection: str,
    dest_collection: str,
    pooling: PoolingConfig | Mapping[str, PoolingConfig | Mapping[str, Any]],
    *,
    batch_size: int = 64,
    progress: common.ProgressHook | None = None,
) -> Flow[RepoolResult]:
    """Copy ``source_collection`` into ``dest_collection`` with a pooling client, pooling on
    the way, ``batch_size`` points per read and write (one batch held at a time).

    A missing destination is created with the source's vectors, sparse vectors and metadata
    plus ``pooling`` (a :class:`PoolingConfig` for the source's only multivector, or
    ``{vector_name: PoolingConfig}``); an existing one must pool the same vectors with the
    same settings. Other vectors, payloads and ids are copied unchanged; points already
    there are skipped (resumable). The unpooled token count goes into the payload key
    ``_tokenpool_tokens``.

    Raises:
        UnknownCollectionError: no source. OperationUsageError: the same source and
            destination, no single multivector, or other pooling at the destination.
        OperationError: the destination does not pool the vector.
        PoolingConfigError: a bad config, or a vector that is not a multivector.
    """
    rep = common.Reporter("repool", progress)
    batch_size = check_int("batch_size", batch_size)
    if source_collection == dest_collection:
        raise common.OperationUsageError("the source and destination collections must differ")
    src = yield from common.load_collection(source_collection)
    if isinstance(pooling, PoolingConfig):
        try:
            vname = resolve_multivector(src, None, arg="pooling")
        except ValueError as exc:
            raise common.OperationUsageError(
                f"{exc} (a {{vector_name: PoolingConfig}} map, or the CLI's --vector)"
            ) from None
        pmap: PoolingMap = {vname: pooling}
    else:
        pmap = coerce_pooling(pooling)
    src.check(pmap)
    for vname in pmap:
        before = src.pooling.get(vname)
        if before is not None and before.pool_factor > 1:
            rep.info(
                f"note: {source_collection!r} is already pooled ({common.config_text(before)}); "
                "its vectors are pooled again"
            )

    created = not (yield call(parent.collection_exists, dest_collection))
    if not created:
        dest = yield from common.load_collection(dest_collection)
        for vname, cfg in list(pmap.items()):
            have = dest.pooling.get(vname)
            if vname not in dest.vectors or have is None:
                raise common.OperationError(
                    f"collection {dest_collection!r} exists but does not pool "
                    f"{vector_label(vname)}; pick a new destination"
                )
            if have.spec != cfg.spec:
                raise common.OperationUsageError(
                    f"collection {dest_collection!r} exists with {common.config_text(have)}, "
                    f"not {common.config_text(cfg)}"
                )
            pmap[vname] = have
        rep.info(f"continuing into existing collection {dest_collection!r}")
    else:
        info = yield call(parent.get_collection, source_collection)
        metadata = dict(src.metadata)
        metadata.pop(METADATA_KEY, None)
        metadata.pop(TOKEN_INDEX_KEY, None)  # the destination gets its own (below)
        yield call(
            parent.create_collection,
            dest_collection,
            vectors_config=info.config.params.vectors,
            sparse_vectors_config=info.config.params.sparse_vectors,
            pooling=pmap,
            metadata=metadata or None,
        )
        rep.info(
            f"created collection {dest_collection!r} ("
            + "; ".join(f"{common.config_text(c)} on {vector_label(n)}" for n, c in pmap.items())
            + ")"
        )
        index = TokenIndex.from_metadata(src.metadata, source_collection)
        if index is not None and index.vector in pmap:
            from .tokenindex import add_token_index_flow  # empty now: kept in step by the copy

            yield from add_token_index_flow(
                dest_collection,
                using=index.vector,
                neighbours=index.neighbours,
                quantization=index.quantization,
                pool_factor=index.pool_factor,
                candidates=index.candidates,
                progress=progress,
            )

    count_vector = next(iter(pmap))
    copied = skipped = 0

    def copy_missing(records: list[models.Record]) -> Flow[None]:
        nonlocal copied, skipped
        ids = [r.id for r in records]
        if not ids:
            return
        missing = yield from common.missing_ids(dest_collection, ids)
        skipped += len(ids) - len(missing)
        if not missing:
            return
        full = yield call(
            parent.retrieve, source_collection, ids=missing, with_payload=True, with_vectors=True
        )
        out_ids, out_vecs, out_payloads = [], [], []
        for r in full:
            vec = r.vector if isinstance(r.vector, dict) else {"": r.vector}
            payload = dict(r.payload or {})
            tokens = vec.get(count_vector)
            if tokens is not None:  # a multivector: one list per token
                payload.setdefault(common.TOKENS_PAYLOAD_KEY, len(tokens))
            out_ids.append(r.id)
            out_vecs.append(vec[""] if list(vec) == [""] else vec)  # unnamed: bare
            out_payloads.append(payload)
        yield call(
            parent.upload_collection,
            dest_collection,
            vectors=out_vecs,
            payload=out_payloads,
            ids=out_ids,
            batch_size=max(1, len(out_ids)),
            wait=True,
        )
        copied += len(out_ids)

    # ids only: each batch's missing points are then read whole, the others never
    yield from common.scroll_points(
        source_collection, copy_missing, rep, f"repool {dest_collection}", batch_size=batch_size
    )
    return RepoolResult(source_collection, dest_collection, pmap, created, copied, skipped)


repool, arepool = common.operation(repool_flow, "repool", pooling_client=True)
