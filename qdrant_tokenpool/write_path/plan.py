"""The write path's plan (no I/O): the ``plan_*`` functions walk a request (point lists,
``Batch``, update operations) into a :class:`PoolingJob`, which validates every configured
multivector of the *whole* request before anything is written and pools them; the builder
they return makes the new request. Anything with nothing configured stays the same object.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
from qdrant_client import models

from ..config import PoolingConfig
from ..engines.checks import (
    CheckedVector,
    VectorsSchema,
    check_batch_lengths,
    check_columns,
    check_struct,
)
from ..firststage import document_summaries
from ..inference import LocalInference, is_inference_object
from ..pooling import pool_arrays
from ..pooling.batch import estimated_seconds, pool_soon
from ..pooling.common import normalise
from ..pooling.spec import QDRANT_MAX_MULTIVECTOR_FLOATS, PoolingSpec
from ..pooling.validation import InvalidMultivectorError, as_multivector
from ..store import CollectionPooling
from ._common import carried, replace, with_carried

__all__ = [
    "MAX_MULTIVECTOR_FLOATS",
    "Builder",
    "InferenceScan",
    "PendingArray",
    "PoolingJob",
    "embedded",
    "plan_batch",
    "plan_operations",
    "plan_points",
    "plan_struct",
    "pool_batch_request",
    "pool_operations",
    "pool_points",
]

STREAM_CHUNK_SECONDS = 0.008
"""Estimated pooling seconds of the documents that :meth:`PoolingJob.add` hands to the
pooling threads at once (a chunk is one GIL hand-over in and one out)."""

MAX_MULTIVECTOR_FLOATS = QDRANT_MAX_MULTIVECTOR_FLOATS
"""Qdrant servers refuse a multivector with this many floats (n x d) or more."""


Getter = Callable[[int], Any]


@dataclass
class _Item:
    config: PoolingConfig
    array: np.ndarray  # validated (n, d) float32
    pooled: np.ndarray | None = None
    cosine: bool = False  # the pooled vector's distance is Cosine: write unit rows
    summary: np.ndarray | None = None  # first-stage vector, when the config has one
    # the chunk of documents being pooled on a thread with this one, and its future
    started: tuple[list[int], Future[list[np.ndarray]]] | None = None


class PendingArray(CheckedVector):
    """A pooled multivector that may still be pooling on a thread: ``np.asarray(pending)``
    waits for it and gives the float32 ``(m, d)`` array. Only Qdrant Edge's backend gets
    these (``pending=True``): it converts point by point, so later points pool while earlier
    ones are converted. Its document is already checked (a ``CheckedVector``)."""

    __slots__ = ("_i", "_job")

    def __init__(self, job: PoolingJob, i: int) -> None:
        self._job = job
        self._i = i

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        arr = self._job.pooled_array(self._i)
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"PendingArray(document {self._i})"

    def size_hint(self) -> int:
        """Values of the unpooled document: at least the pooled one's."""
        return int(self._job.items[self._i].array.size)


class PoolingJob:
    """The configured multivectors of one request: validated on :meth:`add`, pooled on :meth:`run`.

    Args:
        cp: the collection's vectors and pooling config.
        keep: ``False`` validates only (:meth:`run` is refused): checks a whole streamed
            upload before its first batch is sent.
        workers: parallel workers for :func:`pool_arrays` (``None``: all cores for
            batches with enough work; ``1``: the calling thread).
        arrays: named vectors as float32 arrays instead of nested lists (embedded engines
            only: a server needs lists).
        pending: with ``arrays``, vectors still pooling as :class:`PendingArray` (Edge only).
        check_all: also check every other vector against the collection (names, kinds,
            sizes, NaN/inf), for requests the engine does not check whole (a server's parts).
    """

    def __init__(
        self,
        cp: CollectionPooling,
        *,
        keep: bool = True,
        workers: int | None = None,
        arrays: bool = False,
        pending: bool = False,
        check_all: bool = False,
    ):
        self.cp = cp
        self.schema: VectorsSchema | None = cp.schema if check_all else None
        self.keep = keep
        self.workers = workers
        self.arrays = arrays
        self.pending = pending and arrays
        self.items: list[_Item] = []
        self.ran = False
        # per spec: documents not yet handed to the threads, with their estimated cost;
        # specs the threads cannot pool (run() pools them)
        self._waiting: dict[PoolingSpec, tuple[list[int], float]] = {}
        self._unthreaded: set[PoolingSpec] = set()
        self._handed = False  # a chunk went to the threads: the request is big enough

    def check_others(self, check: Callable[..., int], vectors: Any, ids: Any) -> None:
        """With ``check_all``: check the vectors this job does not pool against the
        collection (``check``: ``check_struct`` or ``check_columns``)."""
        if self.schema is not None:
            check(vectors, self.schema, ids, skip=self.cp.pooling)

    def add(
        self, raw: Any, *, point_id: Any, vector_name: str, given: Container[str] = ()
    ) -> int:
        """Validate one document's multivector of a configured vector; returns its index.

        ``raw``: ``(n, d)`` list, numpy array or torch tensor. ``given``: the vector names
        the request itself carries for this point (an extra vector it carries is not
        filled, so its size is not ours to check).

        Raises:
            InvalidMultivectorError: naming ``point_id``, ``vector_name`` and the problem
                (inference object, single dense vector, wrong ``d``, ragged, empty,
                NaN/inf, zero row, a token count off the config's patch grid, or
                ``n * d >= MAX_MULTIVECTOR_FLOATS`` for a kept unpooled original; the
                pooled vector always fits).
        """
        cfg = self.cp.pooling[vector_name]
        if is_inference_object(raw):
            raise InvalidMultivectorError(
                f"got a models.{type(raw).__name__} (an inference object) for a pooled "
                "vector, and no local inference to embed it: pooling needs the token "
                "vectors on the client, which cloud inference (cloud_inference=True: the "
                "server embeds) never sees; use local inference (the default: "
                "TokenPoolingClient embeds it with fastembed, then pools) or write the "
                "(n, d) vectors",
                point_id=point_id,
                vector_name=vector_name,
            )
        spec = self.cp.vectors.get(vector_name)
        arr = as_multivector(
            raw, dim=spec.size if spec else None, point_id=point_id, vector_name=vector_name
        )
        problem = cfg.spec.layout_error(arr.shape[0])
        if problem is not None:
            raise InvalidMultivectorError(
                f"multivector {problem}", point_id=point_id, vector_name=vector_name
            )
        original = cfg.keep_original_vector
        if original and original not in given and arr.size >= MAX_MULTIVECTOR_FLOATS:
            raise InvalidMultivectorError(
                f"multivector too large to keep unpooled in {cfg.keep_original_vector!r}: "
                f"{arr.shape[0]} x {arr.shape[1]} = {arr.size} floats; Qdrant accepts fewer "
                f"than {MAX_MULTIVECTOR_FLOATS} floats per multivector (the pooled vector "
                f"would be {cfg.spec.stored_vectors(arr.shape[0], arr.shape[1])} x "
                f"{arr.shape[1]} and fit)",
                point_id=point_id,
                vector_name=vector_name,
            )
        if not self.keep:
            return -1
        cosine = spec is not None and spec.distance == models.Distance.COSINE
        self.items.append(_Item(cfg, arr, cosine=cosine))
        self._start_pooling(len(self.items) - 1)
        return len(self.items) - 1

    def _start_pooling(self, i: int) -> None:
        """Hand validated documents to the pooling threads :data:`STREAM_CHUNK_SECONDS` of
        work at a time, pooled while this thread checks the next ones (a bad document later
        still stops the request: nothing is written before all is validated)."""
        spec = self.items[i].config.spec
        if self.workers == 1 or spec in self._unthreaded:
            return
        idx, cost = self._waiting.get(spec, ([], 0.0))
        idx.append(i)
        n, d = self.items[i].array.shape
        cost += estimated_seconds(max(n - spec.protected_tokens, 1), d, spec.method)
        if cost >= STREAM_CHUNK_SECONDS:
            future = pool_soon([self.items[j].array for j in idx], spec, self.workers)
            if future is None:
                self._unthreaded.add(spec)
            else:
                for j in idx:
                    self.items[j].started = (idx, future)
                self._handed = True
                idx, cost = [], 0.0
        self._waiting[spec] = (idx, cost)

    def _pooled(self, i: int, p: np.ndarray) -> None:
        # Cosine: unit rows, so every backend stores the same (local mode reloads Cosine
        # multivectors without normalising them)
        self.items[i].pooled = normalise(p) if self.items[i].cosine else p

    def _finish(self, i: int) -> None:
        """Wait for the chunk that pools document ``i`` on a thread (if any)."""
        started = self.items[i].started
        if started is None:
            return
        idx, future = started
        for j, p in zip(idx, future.result()):
            if self.items[j].started is not None:
                self._pooled(j, p)
                self.items[j].started = None

    def run(self) -> None:
        """Pool every collected multivector: the chunks :meth:`add` handed to the threads
        (waited for here, or with ``pending`` when converted), the rest with one
        :func:`pool_arrays` call per pooling spec; then the summary vectors."""
        if not self.keep:
            raise RuntimeError("a validate-only PoolingJob cannot pool")
        groups: dict[PoolingSpec, list[int]] = {}
        for i, item in enumerate(self.items):
            if item.started is None:
                groups.setdefault(item.config.spec, []).append(i)
        for spec, idx in groups.items():
            arrays = [self.items[i].array for i in idx]
            if self.pending and self._handed and spec not in self._unthreaded and (
                future := pool_soon(arrays, spec, self.workers)
            ):
                # Edge converts the points in order: the last documents are pooled on a
                # thread while the first ones are converted
                for i in idx:
                    self.items[i].started = (idx, future)
                continue
            # this thread pools the rest while the threads finish theirs
            for i, p in zip(idx, pool_arrays(arrays, spec, workers=self.workers)):
                self._pooled(i, p)
        # first-stage vectors: one batched encoding per (method, parameters, distance)
        summaries: dict[tuple[Any, ...], list[int]] = {}
        for i, item in enumerate(self.items):
            c = item.config
            if c.summary_vector:
                summaries.setdefault((c.summary_method, c.muvera, item.cosine), []).append(i)
        for (method, muvera, cosine), idx in summaries.items():
            vecs = document_summaries(
                method, [self.items[i].array for i in idx], muvera=muvera, normalize=cosine
            )
            for i, v in zip(idx, vecs):
                self.items[i].summary = v
        if not self.pending:
            for i in range(len(self.items)):
                self._finish(i)
        self.ran = True

    # -- outputs: nested lists (what models hold), or arrays for the embedded backend ----
    def _out(self, arr: np.ndarray) -> Any:
        return arr if self.arrays else arr.tolist()

    def pooled_array(self, i: int) -> np.ndarray:
        """Pooled multivector ``i``, ``(m, d)`` float32 (waits for its pooling thread)."""
        if not self.ran:
            raise RuntimeError("PoolingJob.run() has not been called")
        self._finish(i)
        p = self.items[i].pooled
        assert p is not None
        return p

    def pooled(self, i: int) -> Any:
        """Pooled multivector ``i``, ``(m, d)``: a nested list (a float32 array if
        ``arrays``; a :class:`PendingArray` if ``pending`` and it is still pooling)."""
        if self.pending and self.ran and self.items[i].started is not None:
            return PendingArray(self, i)
        return self._out(self.pooled_array(i))

    def summary(self, i: int) -> Any:
        """Summary vector of document ``i``: its first-stage encoding
        (:func:`~qdrant_tokenpool.firststage.document_summaries`; a list, or a float32
        array if ``arrays``)."""
        v = self.items[i].summary
        if v is None:
            raise RuntimeError("PoolingJob.run() has not been called")
        return self._out(v)

    def original(self, i: int) -> Any:
        """Document ``i``'s validated, unpooled float32 multivector ``(n, d)`` (list or array);
        unit rows when the keep-original vector's distance is Cosine."""
        item = self.items[i]
        name = item.config.keep_original_vector
        spec = self.cp.vectors.get(name) if name else None
        cosine = spec.distance == models.Distance.COSINE if spec else item.cosine
        return self._out(normalise(item.array) if cosine else item.array)

    def outputs(self, vector_name: str, given: Container[str]) -> dict[str, Getter]:
        """The vectors that a pooled ``vector_name`` writes, each with its getter (of a
        document's index): the pooled one, and the config's extra vectors unless ``given``
        (the request's own vectors) names them already."""
        cfg = self.cp.pooling[vector_name]
        out: dict[str, Getter] = {vector_name: self.pooled}
        if cfg.summary_vector and cfg.summary_vector not in given:
            out[cfg.summary_vector] = self.summary
        if cfg.keep_original_vector and cfg.keep_original_vector not in given:
            out[cfg.keep_original_vector] = self.original
        return out


class InferenceScan(PoolingJob):
    """Walks a request like a validate-only job, counting the inference objects at pooled
    vectors (:attr:`found`) instead of refusing them. ``validate``: also validate every
    other configured multivector (raising as :meth:`PoolingJob.add` does)."""

    def __init__(self, cp: CollectionPooling, *, validate: bool = False, check_all: bool = False):
        super().__init__(cp, keep=False, check_all=check_all)
        self.validate = validate
        self.found = 0

    def add(
        self, raw: Any, *, point_id: Any, vector_name: str, given: Container[str] = ()
    ) -> int:
        if is_inference_object(raw):
            self.found += 1
            return -1
        if not self.validate:
            return -1
        return super().add(raw, point_id=point_id, vector_name=vector_name, given=given)


def embedded(
    request: Any,
    cp: CollectionPooling,
    plan: Callable[[Any, PoolingJob], Any],
    inference: LocalInference | None,
) -> Any:
    """``request`` with its inference objects embedded by the client's local inference when
    any sits at a pooled vector (then all of them are, as ``QdrantClient`` would); else
    ``request`` itself. With no local inference they stay, and pooling refuses them."""
    if inference is None:
        return request
    scan = InferenceScan(cp)
    plan(request, scan)
    return inference.documents(request) if scan.found else request


Builder = Callable[[], Any]


def plan_struct(vector: Any, point_id: Any, job: PoolingJob) -> Builder | None:
    """Plan one point's ``VectorStruct`` (dict of named vectors, or the unnamed vector)."""
    pooling = job.cp.pooling
    if vector is None:
        return None
    job.check_others(check_struct, vector, point_id)
    if isinstance(vector, dict):
        names = [n for n in vector if n in pooling]
        if not names:
            return None
        idx = {n: job.add(vector[n], point_id=point_id, vector_name=n, given=vector) for n in names}

        def build_named() -> dict[str, Any]:
            out = dict(vector)
            for n, i in idx.items():
                for name, get in job.outputs(n, vector).items():
                    out[name] = get(i)
            return out

        return build_named
    if "" in pooling:  # the unnamed default vector: always lists (local mode checks for list)
        i = job.add(vector, point_id=point_id, vector_name="")
        return lambda: job.pooled_array(i).tolist()
    return None


def plan_points(points: Sequence[Any], job: PoolingJob) -> Callable[[], list[Any]] | None:
    """Plan a list of ``PointStruct`` / ``Record`` / ``PointVectors`` (anything with
    ``.id`` and ``.vector``). ``None`` when nothing in it is configured."""
    builders: list[tuple[int, Builder]] = []
    for k, p in enumerate(points):
        if not hasattr(p, "vector"):
            raise TypeError(
                f"cannot pool {type(p).__module__}.{type(p).__name__} (point #{k}): use "
                "qdrant_client.models.PointStruct / PointVectors"
            )
        b = plan_struct(p.vector, p.id, job)
        if b is not None:
            builders.append((k, b))
    if not builders:
        return None

    def build() -> list[Any]:
        out = list(points)
        for k, b in builders:
            out[k] = replace(out[k], vector=b())
        return out

    return build


def plan_batch(batch: models.Batch, job: PoolingJob) -> Builder | None:
    """Plan a column-wise ``Batch``. ``None`` when none of its vectors is configured.

    Raises:
        ValueError: a column without one row per id (:func:`check_batch_lengths`).
    """
    check_batch_lengths(batch)
    pooling = job.cp.pooling
    vectors, ids = batch.vectors, batch.ids
    job.check_others(check_columns, vectors, ids)
    if isinstance(vectors, dict):
        names = [n for n in vectors if n in pooling]
        if not names:
            return None
        idx = {
            n: [
                job.add(v, point_id=ids[k], vector_name=n, given=vectors)
                for k, v in enumerate(vectors[n])
            ]
            for n in names
        }

        def build_named() -> models.Batch:
            out = dict(vectors)
            for n, ii in idx.items():
                for name, get in job.outputs(n, vectors).items():
                    out[name] = [get(i) for i in ii]
            return replace(batch, vectors=out)

        return build_named
    if "" in pooling:
        ii = [job.add(v, point_id=ids[k], vector_name="") for k, v in enumerate(vectors)]
        return lambda: replace(batch, vectors=[job.pooled_array(i).tolist() for i in ii])
    return None


def _plan_operation(op: Any, job: PoolingJob) -> Builder | None:
    where = carried(op)
    if where is None:
        return None
    value = getattr(where[1], where[2])
    plan = plan_batch if isinstance(value, models.Batch) else plan_points
    build = plan(value, job)
    if build is None:
        return None
    return lambda: with_carried(op, where, build())


def plan_operations(operations: Sequence[Any], job: PoolingJob) -> Callable[[], list[Any]] | None:
    """Plan ``batch_update_points`` operations. ``None`` when none carries a configured vector."""
    builders = [(k, b) for k, op in enumerate(operations) if (b := _plan_operation(op, job))]
    if not builders:
        return None

    def build() -> list[Any]:
        out = list(operations)
        for k, b in builders:
            out[k] = b()
        return out

    return build


def pool_request(
    plan: Callable[[Any, PoolingJob], Builder | None],
    request: Any,
    cp: CollectionPooling,
    *,
    arrays: bool = False,
    workers: int | None = None,
    pending: bool = False,
    check_all: bool = False,
) -> Any:
    """Validate and pool a request that ``plan`` reads (a ``plan_*`` function); ``request``
    itself if nothing is configured. The options are :class:`PoolingJob`'s."""
    job = PoolingJob(cp, arrays=arrays, workers=workers, pending=pending, check_all=check_all)
    builder = plan(request, job)
    if builder is None:
        return request
    job.run()
    return builder()


def pool_points(points: Sequence[Any], cp: CollectionPooling, **options: Any) -> Any:
    """:func:`pool_request` of a list of points."""
    return pool_request(plan_points, points, cp, **options)


def pool_batch_request(batch: models.Batch, cp: CollectionPooling, **options: Any) -> Any:
    """:func:`pool_request` of a ``Batch``."""
    return pool_request(plan_batch, batch, cp, **options)


def pool_operations(operations: Sequence[Any], cp: CollectionPooling, **options: Any) -> Any:
    """:func:`pool_request` of ``batch_update_points`` operations."""
    return pool_request(plan_operations, operations, cp, **options)
