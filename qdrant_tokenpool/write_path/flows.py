"""The write flows of both clients (:mod:`qdrant_tokenpool._flow`): the parent's write
methods with the configured multivectors pooled (:mod:`.plan`) and, on a server, the
request split (:mod:`.split`)."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from qdrant_client import models
from qdrant_client.uploader.uploader import iter_batch

from .. import _parent as parent
from .. import store
from .._flow import Flow, call
from ..engines.checks import check_columns
from ..inference import LocalInference
from ..pooling.validation import is_array, to_numpy
from ..store import CollectionPooling, PoolingState, UnknownCollectionError
from ._common import replace
from .plan import (
    InferenceScan,
    PoolingJob,
    embedded,
    plan_batch,
    plan_operations,
    plan_points,
    plan_struct,
    pool_points,
    pool_request,
)
from .split import REQUEST_FLOAT_BUDGET, split_batch, split_operations, split_points

__all__ = [
    "batch_update_points",
    "pooled_stream",
    "update_vectors",
    "upload_collection",
    "upload_points",
    "upsert",
]


def _config(state: PoolingState, collection_name: str) -> Flow[CollectionPooling | None]:
    """The collection's pooling, or ``None`` when pooling is off, the collection has no
    config, or it does not exist (the parent method then reports that as usual)."""
    if not state.enabled:
        return None
    try:
        cp = yield from store.load(state, collection_name)
    except UnknownCollectionError:
        return None
    return cp if cp.pooling else None


def _collection(state: PoolingState, collection_name: str) -> Flow[CollectionPooling | None]:
    """The collection's vectors, with its pooling config when pooling is on (else ``{}``);
    ``None`` when it does not exist. For the checks that hold whether it pools or not."""
    cp = yield from store.load_if_exists(state, collection_name)
    if cp is None:
        return None
    return cp if state.enabled else dataclasses.replace(cp, pooling={})


def _pooled_write(
    state: PoolingState,
    method: Callable[..., Any],
    collection_name: str,
    request: Any,
    options: dict[str, Any],
    plan: Callable[[Any, PoolingJob], Any],
    split: Callable[[Any, int], list[Any]],
    budget: int | None,
    *,
    pending: bool = False,
) -> Flow[list[Any]]:
    """The write flows' skeleton: ``request`` (what ``plan`` reads) with its inference
    objects at pooled vectors embedded, validated and pooled whole before anything is sent;
    on a server in ``split`` parts of at most ``budget`` floats. Returns the results of the
    parent's ``method`` calls, in order."""
    remote = state.remote
    cp = yield from _config(state, collection_name)
    if cp is not None:
        if not isinstance(request, (Sequence, models.Batch)):
            request = list(request)
        request = embedded(request, cp, plan, state.inference)
        # a server gets parts: check all of it first (an embedded engine checks each call)
        new = pool_request(
            plan, request, cp, arrays=not remote, workers=state.workers, pending=pending,
            check_all=remote,
        )
        if new is not request:
            results = []
            for part in split(new, budget or REQUEST_FLOAT_BUDGET) if remote else [new]:
                results.append((yield call(method, collection_name, part, **options)))
            return results
    return [(yield call(method, collection_name, request, **options))]


def upsert(
    state: PoolingState,
    collection_name: str,
    points: Any,
    options: dict[str, Any],
    *,
    budget: int | None = None,
) -> Flow[Any]:
    """``upsert`` (points or a ``Batch``) pooled; ``options``: the parent's other arguments.
    Returns the last request's ``UpdateResult``."""
    plan: Callable[[Any, PoolingJob], Any]
    split: Callable[[Any, int], list[Any]]
    if isinstance(points, models.Batch):
        plan, split, pending = plan_batch, split_batch, False
    else:
        plan, split, pending = plan_points, split_points, state.pending
    results = yield from _pooled_write(
        state, parent.upsert, collection_name, points, options, plan, split, budget,
        pending=pending,
    )
    return results[-1]


def update_vectors(
    state: PoolingState,
    collection_name: str,
    points: Sequence[Any],
    options: dict[str, Any],
    *,
    budget: int | None = None,
) -> Flow[Any]:
    """``update_vectors`` with the configured multivectors pooled (and extras refreshed),
    as :func:`upsert`."""
    results = yield from _pooled_write(
        state, parent.update_vectors, collection_name, points, options, plan_points,
        split_points, budget,
    )
    return results[-1]


def batch_update_points(
    state: PoolingState,
    collection_name: str,
    update_operations: Sequence[Any],
    options: dict[str, Any],
    *,
    budget: int | None = None,
) -> Flow[Any]:
    """``batch_update_points`` with ``UpsertOperation`` / ``UpdateVectorsOperation`` pooled,
    as :func:`upsert`; the results of all requests sent, concatenated."""
    results = yield from _pooled_write(
        state, parent.batch_update_points, collection_name, update_operations, options,
        plan_operations, split_operations, budget,
    )
    return [r for part in results for r in part]


def _batched(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of ``size`` (at least 1) items of ``iterable``, with qdrant-client's batcher."""
    return iter_batch(iterable, max(1, int(size)))  # type: ignore[return-value]


def _lists(vector: Any, named: bool = True) -> Any:
    """numpy arrays and tensors inside a vector struct as lists (what models carry);
    ``named=False``: only an unnamed vector (named ones stay arrays)."""
    if isinstance(vector, dict):
        return {k: _lists(v) for k, v in vector.items()} if named else vector
    if is_array(vector):
        return to_numpy(vector).tolist()
    if isinstance(vector, list) and vector and isinstance(vector[0], np.ndarray):
        return [row.tolist() for row in vector]  # a multivector given as a list of rows
    return vector


def pooled_stream(
    points: Iterable[Any],
    cp: CollectionPooling,
    batch_size: int,
    inference: LocalInference | None = None,
    workers: int | None = None,
    arrays: bool = False,
    pending: bool = False,
    check_all: bool = False,
) -> Iterator[Any]:
    """Pool a stream of points ``batch_size`` at a time (inference objects at pooled vectors
    embedded by ``inference``), holding one batch; a bad point raises before its batch is
    yielded. The other options are :class:`~.plan.PoolingJob`'s."""
    for chunk in _batched(points, batch_size):
        chunk = embedded(chunk, cp, plan_points, inference)
        yield from pool_points(
            chunk, cp, workers=workers, arrays=arrays, pending=pending, check_all=check_all
        )


def _validate_all(
    points: Iterable[Any], cp: CollectionPooling, *, inference: bool, check_all: bool = True
) -> None:
    """Check every vector of ``points`` against the collection (with ``check_all=False``
    the configured multivectors only); inference objects at pooled vectors are left for
    the batches to embed when ``inference``, else refused."""
    job = (
        InferenceScan(cp, validate=True, check_all=check_all)
        if inference
        else PoolingJob(cp, keep=False, check_all=check_all)
    )
    for p in points:
        plan_struct(p.vector, p.id, job)


def upload_points(
    state: PoolingState,
    collection_name: str,
    points: Iterable[Any],
    batch_size: int,
    options: dict[str, Any],
) -> Flow[None]:
    """``upload_points`` pooled, ``batch_size`` points at a time; ``options``: the
    parent's other arguments. Where the engine writes batch by batch (a server, Edge), a
    sized input is checked whole before the first batch is sent, pooled or not; a generator
    batch by batch (batches before a bad one stay written). Inference objects at pooled
    vectors are embedded, and checked, batch by batch."""
    remote, inference = state.remote, state.inference
    cp = yield from _config(state, collection_name)
    if state.streams and isinstance(points, Sequence):
        whole = cp if cp is not None else (yield from _collection(state, collection_name))
        if whole is not None:  # else: the parent reports the unknown collection
            _validate_all(points, whole, inference=inference is not None)
    if cp is not None:
        points = pooled_stream(
            points, cp, batch_size, inference, state.workers, arrays=not remote,
            pending=state.pending, check_all=remote,
        )
    return (
        yield call(parent.upload_points, collection_name, points, batch_size=batch_size, **options)
    )


def _collection_size(vectors: Any) -> int | None:
    """Points in ``upload_collection``'s ``vectors``: ``None`` for generators and streams."""
    if isinstance(vectors, dict):
        lengths = {len(v) for v in vectors.values()}
        if len(lengths) > 1:
            raise ValueError("Each named vector should have the same number of vectors")
        return lengths.pop() if lengths else 0
    if is_array(vectors) or isinstance(vectors, Sequence):
        return len(vectors)
    return None


def _collection_rows(vectors: Any) -> Iterator[Any]:
    """One vector struct per point from ``upload_collection``'s ``vectors`` argument."""
    if isinstance(vectors, dict):  # columns of one length (_collection_size checks)
        return (dict(zip(vectors, row)) for row in zip(*vectors.values()))
    return iter(vectors)


def _require_length(items: Iterable[Any] | None, size: int, name: str) -> Iterable[Any] | None:
    """``ids`` / ``payload`` of ``upload_collection`` shorter than ``size`` raise
    ``ValueError`` as in ``QdrantClient``: sequences and arrays at once, streams when they
    run out; longer ones are read up to ``size`` items."""
    if items is None:
        return None
    if isinstance(items, (Sequence, np.ndarray)):
        if len(items) < size:
            raise ValueError(f"{name} iterable is shorter than vectors iterable")
        return items
    return _take_exactly(items, size, name)


def _take_exactly(items: Iterable[Any], size: int, name: str) -> Iterator[Any]:
    taken = 0
    for item in itertools.islice(items, size):
        yield item
        taken += 1
    if taken < size:
        raise ValueError(f"{name} iterable is shorter than vectors iterable")


def _collection_points(
    vectors: Any, payload: Iterable[Any] | None, ids: Iterable[Any] | None
) -> Iterator[models.PointStruct]:
    """``upload_collection``'s columns as a stream of points (missing ids: UUIDs). A sized
    ``vectors`` raises on shorter ``ids`` / ``payload`` (:func:`_require_length`) at once;
    with a stream of vectors the shortest input ends the upload, as in ``QdrantClient``."""
    size = _collection_size(vectors)
    if size is not None:
        ids = _require_length(ids, size, "ids")
        payload = _require_length(payload, size, "payload")
    return _zip_points(_collection_rows(vectors), payload, ids)


def _zip_points(
    rows: Iterator[Any], payload: Iterable[Any] | None, ids: Iterable[Any] | None
) -> Iterator[models.PointStruct]:
    id_iter: Iterable[Any] = (str(uuid.uuid4()) for _ in itertools.count()) if ids is None else ids
    pay_iter: Iterable[Any] = itertools.repeat(None) if payload is None else payload
    for pid, vec, pay in zip(id_iter, rows, pay_iter):
        if isinstance(pid, uuid.UUID):
            pid = str(pid)
        yield models.PointStruct.model_construct(id=pid, vector=vec, payload=pay)


def _finish_lists(points: Iterable[Any], arrays: bool = False) -> Iterator[Any]:
    """Turn leftover numpy/torch vectors (unconfigured names) into lists; with ``arrays``
    (an embedded engine, which takes named arrays) only an unnamed vector (local mode
    tests a point's vector for truth)."""
    for p in points:
        v = _lists(p.vector, named=not arrays)
        yield p if v is p.vector else replace(p, vector=v)


def upload_collection(
    state: PoolingState,
    collection_name: str,
    vectors: Any,
    payload: Iterable[Any] | None,
    ids: Iterable[Any] | None,
    batch_size: int,
    options: dict[str, Any],
) -> Flow[None]:
    """``upload_collection`` pooled, checked as :func:`upload_points`; ``options``: the
    parent's other arguments. ``vectors``: a dict of columns, an ``(N, n, d)`` array or an
    iterable of vector structs; with a config it goes as points (missing ids: UUIDs)
    through the parent's ``upload_points``, ``batch_size`` at a time."""
    remote, inference = state.remote, state.inference
    cp = yield from _config(state, collection_name)
    if state.streams and _collection_size(vectors) is not None:
        whole = cp if cp is not None else (yield from _collection(state, collection_name))
        if whole is not None:  # else: the parent reports the unknown collection
            _check_columns(vectors, ids, whole, inference=inference is not None)
    if cp is None:
        return (
            yield call(
                parent.upload_collection,
                collection_name,
                vectors,
                payload=payload,
                ids=ids,
                batch_size=batch_size,
                **options,
            )
        )
    pts = _collection_points(vectors, payload, ids)  # ids / payload too short: raises now
    arrays = not remote
    pooled = pooled_stream(
        pts, cp, batch_size, inference, state.workers, arrays=arrays, pending=state.pending,
        check_all=remote,
    )
    stream = _finish_lists(pooled, arrays)
    return (
        yield call(parent.upload_points, collection_name, stream, batch_size=batch_size, **options)
    )


def _check_columns(vectors: Any, ids: Any, cp: CollectionPooling, *, inference: bool) -> None:
    """Check a sized ``upload_collection`` input whole: configured multivectors point by
    point, columns against the collection in one pass (``check_columns``)."""
    labels = ids if isinstance(ids, (Sequence, np.ndarray)) else None
    names = (f"#{k}" for k in itertools.count()) if labels is None else labels
    structs = not (isinstance(vectors, dict) or is_array(vectors))  # a list of vector structs
    if structs or cp.pooling:
        points = _collection_points(vectors, None, names)
        _validate_all(points, cp, inference=inference, check_all=structs)
    if not structs:
        check_columns(vectors, cp.schema, labels, skip=cp.pooling)
