"""The token index's companion collection kept in step with its collection: every
parent call of every flow of both clients passes through :func:`follow`, which extends
the calls that write a collection, create or delete one, or list them (see
:mod:`qdrant_tokenpool.candidates` for the index, its journal and its repair)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from qdrant_client import models

from . import _parent as parent
from ._flow import Call, Flow, call
from .candidates import (
    TokenIndex,
    companion_name,
    doc_key,
    forget,
    indexed,
    is_companion_name,
    journal_entry,
    journal_set,
    repair,
    token_rows,
    write_tokens,
)
from .config import PoolingConfigError
from .engines.checks import check_batch_lengths
from .store import PoolingState
from .write_path.flows import _batched, _collection_points

__all__ = ["follow"]


def _vector_of(vector: Any, name: str) -> tuple[bool, Any]:
    """(whether the struct sets ``name``, its value)."""
    if isinstance(vector, dict):
        return (name in vector, vector.get(name))
    if name == "":
        return (vector is not None, vector)
    return (False, None)


def _point_docs(
    points: Any, ti: TokenIndex, dim: int, *, update: bool
) -> tuple[list[str], list[tuple[str, np.ndarray]]]:
    """Documents a write of ``points`` (PointStruct / PointVectors list, or a Batch)
    touches, and their new token vectors; checked whole before anything is written.
    ``update``: ``update_vectors`` (a point without the vector keeps its tokens)."""
    if isinstance(points, models.Batch):  # (id, has the vector, its value) per point
        check_batch_lengths(points)
        has, col = _vector_of(points.vectors, ti.vector)
        column = [None] * len(points.ids) if col is None else col
        items = [(pid, has, vec) for pid, vec in zip(points.ids, column, strict=True)]
    else:
        items = [(p.id, *_vector_of(p.vector, ti.vector)) for p in points]
    keys: list[str] = []
    docs: list[tuple[str, np.ndarray]] = []
    for pid, has, vec in items:
        if update and not has:
            continue
        keys.append(doc_key(pid))
        if has and vec is not None:
            docs.append((doc_key(pid), token_rows(pid, vec, dim, ti.vector)))
    return keys, docs


def _guarded(
    state: PoolingState,
    ti: TokenIndex,
    collection_name: str,
    keys: list[str],
    docs: list[tuple[str, np.ndarray]] | None,
    request: Call,
) -> Flow[Any]:
    """Journal, companion, main, journal: ``docs`` the new tokens (``None``: rebuild them
    from the main collection after its write, for writes whose effect is not known
    before)."""
    if not keys:
        return (yield request)
    entry = journal_entry(state)
    yield from journal_set(ti, entry, keys)
    lists = state.remote
    try:
        if docs is not None:
            yield from write_tokens(ti, keys, docs, lists=lists)
        result = yield request
        if docs is None:
            yield from repair(ti, collection_name, keys, lists=lists)
    except Exception:
        try:  # make the companion follow what the main collection holds now
            yield from repair(ti, collection_name, keys, lists=lists)
            yield from journal_set(ti, entry, None)
        except Exception:  # noqa: BLE001, S110 - the journal stays: replayed on next open
            pass
        raise
    yield from journal_set(ti, entry, None)
    return result


def _selected_keys(collection_name: str, selector: Any) -> Flow[list[str]]:
    """Documents a points selector names (a filter is resolved by ``scroll``)."""
    if isinstance(selector, models.PointIdsList):
        return [doc_key(i) for i in selector.points]
    if isinstance(selector, models.FilterSelector):
        selector = selector.filter
    if not isinstance(selector, models.Filter):
        return [doc_key(i) for i in selector]
    keys: list[str] = []
    offset = None
    while True:
        records, offset = yield call(
            parent.scroll,
            collection_name,
            scroll_filter=selector,
            limit=1024,
            offset=offset,
            with_payload=False,
            with_vectors=False,
        )
        keys.extend(doc_key(r.id) for r in records)
        if offset is None:
            return keys


def _arg(request: Call, i: int, name: str) -> Any:
    """Argument ``i`` of the request, given by position or as ``name=``."""
    return request.args[i] if len(request.args) > i else request.kwargs.get(name)


def _upsert_stream(
    state: PoolingState, ti: TokenIndex, dim: int, name: str, points: Iterable[Any], request: Call
) -> Flow[None]:
    """``upload_points`` as guarded ``upsert`` requests of ``batch_size`` points."""
    size = request.kwargs.get("batch_size", 64)
    options = {
        k: request.kwargs[k] for k in ("shard_key_selector", "update_filter") if k in request.kwargs
    }
    for chunk in _batched(points, size):
        keys, docs = _point_docs(chunk, ti, dim, update=False)
        upsert = call(parent.upsert, name, chunk, wait=True, **options)
        yield from _guarded(
            state, ti, name, keys, None if "update_filter" in options else docs, upsert
        )


def _on_write(state: PoolingState, request: Call) -> Flow[Any]:
    name = _arg(request, 0, "collection_name")
    found = yield from indexed(state, name)
    if found is None:
        return (yield request)
    ti, cp = found
    spec = cp.vectors.get(ti.vector)
    if spec is None:
        raise PoolingConfigError(
            f"collection {name!r} indexes the tokens of vector {ti.vector!r}, which it lacks"
        )
    method = request.method
    if method in ("upsert", "update_vectors"):
        points = _arg(request, 1, "points")
        keys, docs = _point_docs(points, ti, spec.size, update=method == "update_vectors")
        conditional = "update_filter" in request.kwargs
        return (yield from _guarded(state, ti, name, keys, None if conditional else docs, request))
    if method in ("upload_points", "upload_collection"):
        if method == "upload_points":
            pts = _arg(request, 1, "points")
        else:
            kw = request.kwargs
            pts = _collection_points(_arg(request, 1, "vectors"), kw.get("payload"), kw.get("ids"))
        return (yield from _upsert_stream(state, ti, spec.size, name, pts, request))
    if method in ("delete", "delete_vectors"):
        if method == "delete_vectors" and ti.vector not in list(_arg(request, 1, "vectors")):
            return (yield request)
        if method == "delete":
            selector = _arg(request, 1, "points_selector")
        else:
            selector = _arg(request, 2, "points")
        keys = yield from _selected_keys(name, selector)
        return (yield from _guarded(state, ti, name, keys, [], request))
    keys = []  # batch_update_points, the last of _WRITES
    for op in _arg(request, 1, "update_operations"):
        keys.extend((yield from _operation_keys(name, op)))
    return (yield from _guarded(state, ti, name, sorted(set(keys)), None, request))


def _operation_keys(name: str, op: Any) -> Flow[list[str]]:
    if isinstance(op, models.UpsertOperation):
        pts = op.upsert.points if hasattr(op.upsert, "points") else op.upsert.batch
        if isinstance(pts, models.Batch):
            return [doc_key(i) for i in pts.ids]
        return [doc_key(p.id) for p in pts]
    if isinstance(op, models.UpdateVectorsOperation):
        return [doc_key(p.id) for p in op.update_vectors.points]
    if isinstance(op, models.DeleteOperation):
        return (yield from _selected_keys(name, op.delete))
    if isinstance(op, models.DeleteVectorsOperation):
        d = op.delete_vectors
        sel = (
            d.points
            if d.points is not None
            else models.FilterSelector(filter=d.filter or models.Filter())
        )
        return (yield from _selected_keys(name, sel))
    return []


def _on_drop(state: PoolingState, request: Call) -> Flow[Any]:
    """create / recreate / delete a collection: its companion goes (a new collection has
    no token index until one is added)."""
    name = _arg(request, 0, "collection_name")
    forget(state, name)
    result = (yield request) if request.method == "delete_collection" else None
    if isinstance(name, str) and not is_companion_name(name):
        companion = companion_name(name)
        if (yield call(parent.collection_exists, companion)):
            yield call(parent.delete_collection, companion)
    if request.method != "delete_collection":
        result = yield request
    return result


def _on_list(state: PoolingState, request: Call) -> Flow[Any]:
    response = yield request
    kept = [c for c in response.collections if not is_companion_name(c.name)]
    return models.CollectionsResponse(collections=kept)


_WRITES = (
    "upsert", "update_vectors", "upload_points", "upload_collection", "delete", "delete_vectors",
    "batch_update_points",
)
_HANDLERS = {
    **dict.fromkeys(_WRITES, _on_write),
    **dict.fromkeys(("create_collection", "recreate_collection", "delete_collection"), _on_drop),
    "get_collections": _on_list,
}


def follow(state: PoolingState, flow: Flow[Any]) -> Flow[Any]:
    """``flow`` with its parent calls that write a collection, create or delete one, or
    list them, extended to keep the token-index companion in step (see the module
    docstring); every other call passes as it is. Both clients run every flow in it."""
    result: Any = None
    error: Exception | None = None
    while True:
        try:
            request = flow.send(result) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value
        handler = _HANDLERS.get(request.method)
        error = None
        try:
            if handler is None:
                result = yield request
            else:
                result = yield from handler(state, request)
        except Exception as exc:  # noqa: BLE001 - the flow handles (or re-raises) it
            error = exc
