"""The write path's plan: collect, validate and pool the configured multivectors of one
request, then build the rewritten request.

A :class:`PoolingJob` collects the configured multivectors of one request while the
``plan_*`` functions walk the request's shape (``PointStruct`` / ``Record`` /
``PointVectors`` lists, ``Batch``, ``UpsertOperation`` and ``UpdateVectorsOperation`` with
``PointsList`` or ``PointsBatch``). Walking validates every configured multivector of the
*whole* request first (errors name the point id, the vector name and the problem);
:meth:`PoolingJob.run` then pools them with one :func:`~qdrant_tokenpool.pooling.pool_arrays`
call per config (all cores); finally the plan's builder makes the new request, building
each model once, from lists made once per pooled array. Vectors and points with nothing
configured are the very same objects in the output; a request with nothing configured is
returned as is. No I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from qdrant_client import models

from ..config import PoolingConfig
from ..firststage import document_summaries
from ..inference import LocalInference, is_inference_object
from ..pooling import pool_arrays
from ..pooling.common import normalise
from ..pooling.spec import QDRANT_MAX_MULTIVECTOR_FLOATS, PoolingSpec
from ..store import CollectionPooling
from ..validation import InvalidMultivectorError, as_multivector
from ._common import replace

__all__ = [
    "MAX_MULTIVECTOR_FLOATS",
    "Builder",
    "InferenceScan",
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

MAX_MULTIVECTOR_FLOATS = QDRANT_MAX_MULTIVECTOR_FLOATS
"""Qdrant servers refuse a multivector with this many floats (n x d) or more (defined in
:mod:`qdrant_tokenpool.pooling.spec`, with ``max_rows(dim)``)."""


@dataclass
class _Item:
    config: PoolingConfig
    array: np.ndarray  # validated (n, d) float32
    pooled: np.ndarray | None = None
    cosine: bool = False  # the pooled vector's distance is Cosine: write unit rows
    summary: np.ndarray | None = None  # first-stage vector, when the config has one


class PoolingJob:
    """The configured multivectors of one request: validated on :meth:`add`, pooled on :meth:`run`.

    Args:
        cp: the collection's vectors and pooling config.
        keep: ``False`` validates only (nothing is kept, :meth:`run` is not allowed);
            used to check a whole streamed upload before its first batch is sent.
        workers: parallel workers for :func:`pool_arrays` (``None``: all cores for
            batches with enough work, else the calling thread; ``1``: the calling thread).
        arrays: hand named vectors over as float32 numpy arrays instead of nested lists.
            Only for the embedded backend (qdrant-client's local mode takes arrays inside
            models and skips a list -> array conversion per vector, ~2x faster writes of
            the pooled vectors); a server needs lists (JSON / protobuf).
    """

    def __init__(
        self,
        cp: CollectionPooling,
        *,
        keep: bool = True,
        workers: int | None = None,
        arrays: bool = False,
    ):
        self.cp = cp
        self.keep = keep
        self.workers = workers
        self.arrays = arrays
        self.items: list[_Item] = []
        self.ran = False

    def __len__(self) -> int:
        return len(self.items)

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
                NaN/inf, zero row, a token count that does not fit the config's patch
                grid, or ``n * d >= MAX_MULTIVECTOR_FLOATS`` when the config also keeps
                the unpooled original, which is stored as is). The pooled vector itself
                is never too large: pooling fits it under the cap.
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
        return len(self.items) - 1

    def run(self) -> None:
        """Pool every collected multivector: one :func:`pool_arrays` call per distinct
        pooling spec (the arrays are validated by :meth:`add`)."""
        if not self.keep:
            raise RuntimeError("a validate-only PoolingJob cannot pool")
        groups: dict[PoolingSpec, list[int]] = {}
        for i, item in enumerate(self.items):
            groups.setdefault(item.config.spec, []).append(i)
        for spec, idx in groups.items():
            pooled = pool_arrays([self.items[i].array for i in idx], spec, workers=self.workers)
            for i, p in zip(idx, pooled):
                # Cosine collections store unit vectors anyway (Qdrant normalises them on
                # write); writing them normalised keeps what every backend stores
                # identical, including local mode after a reopen, which reloads Cosine
                # multivectors without normalising them. Rows are validated (finite,
                # non-zero); normalise is robust for tiny and huge values.
                self.items[i].pooled = normalise(p) if self.items[i].cosine else p
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
        self.ran = True

    # -- outputs: nested lists (what models hold), or arrays for the embedded backend ----
    def _out(self, arr: np.ndarray) -> Any:
        return arr if self.arrays else arr.tolist()

    def pooled_list(self, i: int) -> list[list[float]]:
        """Pooled multivector ``i`` as a nested list (``(m, d)``)."""
        p = self.items[i].pooled
        if p is None:
            raise RuntimeError("PoolingJob.run() has not been called")
        return p.tolist()

    def pooled(self, i: int) -> Any:
        """Pooled multivector ``i``, ``(m, d)``: a nested list (a float32 array if ``arrays``)."""
        p = self.items[i].pooled
        if p is None:
            raise RuntimeError("PoolingJob.run() has not been called")
        return self._out(p)

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

    def with_extras(self, out: dict[str, Any], i: int, vector_name: str, given: Any) -> None:
        """Put pooled ``i`` under ``vector_name`` in ``out`` and fill the config's extra
        vectors, unless ``given`` (the request's own vectors) names them already."""
        out[vector_name] = self.pooled(i)
        cfg = self.items[i].config
        if cfg.summary_vector and cfg.summary_vector not in given:
            out[cfg.summary_vector] = self.summary(i)
        if cfg.keep_original_vector and cfg.keep_original_vector not in given:
            out[cfg.keep_original_vector] = self.original(i)


class InferenceScan(PoolingJob):
    """Walks a request like a validate-only job, counting the inference objects at pooled
    vectors (:attr:`found`) instead of refusing them. ``validate``: also validate every
    other configured multivector (raising as :meth:`PoolingJob.add` does)."""

    def __init__(self, cp: CollectionPooling, *, validate: bool = False):
        super().__init__(cp, keep=False)
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
    if isinstance(vector, dict):
        names = [n for n in vector if n in pooling]
        if not names:
            return None
        idx = {n: job.add(vector[n], point_id=point_id, vector_name=n, given=vector) for n in names}

        def build_named() -> dict[str, Any]:
            out = dict(vector)
            for n, i in idx.items():
                job.with_extras(out, i, n, vector)
            return out

        return build_named
    if "" in pooling:  # the unnamed default vector: always lists (local mode checks for list)
        i = job.add(vector, point_id=point_id, vector_name="")
        return lambda: job.pooled_list(i)
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
    """Plan a column-wise ``Batch``. ``None`` when none of its vectors is configured."""
    pooling = job.cp.pooling
    vectors, ids = batch.vectors, batch.ids

    def pid(k: int) -> Any:
        return ids[k] if k < len(ids) else f"#{k}"

    if isinstance(vectors, dict):
        names = [n for n in vectors if n in pooling]
        if not names:
            return None
        idx = {
            n: [
                job.add(v, point_id=pid(k), vector_name=n, given=vectors)
                for k, v in enumerate(vectors[n])
            ]
            for n in names
        }

        def build_named() -> models.Batch:
            out = dict(vectors)
            for n, ii in idx.items():
                out[n] = [job.pooled(i) for i in ii]
                cfg = pooling[n]
                if cfg.summary_vector and cfg.summary_vector not in vectors:
                    out[cfg.summary_vector] = [job.summary(i) for i in ii]
                if cfg.keep_original_vector and cfg.keep_original_vector not in vectors:
                    out[cfg.keep_original_vector] = [job.original(i) for i in ii]
            return replace(batch, vectors=out)

        return build_named
    if "" in pooling:
        ii = [job.add(v, point_id=pid(k), vector_name="") for k, v in enumerate(vectors)]
        return lambda: replace(batch, vectors=[job.pooled_list(i) for i in ii])
    return None


def _plan_operation(op: Any, job: PoolingJob) -> Builder | None:
    if isinstance(op, models.UpsertOperation):
        ins = op.upsert
        if isinstance(ins, models.PointsList):
            points_b = plan_points(ins.points, job)
            if points_b is None:
                return None
            return lambda: replace(op, upsert=replace(ins, points=points_b()))
        if isinstance(ins, models.PointsBatch):
            batch_b = plan_batch(ins.batch, job)
            if batch_b is None:
                return None
            return lambda: replace(op, upsert=replace(ins, batch=batch_b()))
        return None
    if isinstance(op, models.UpdateVectorsOperation):
        upd = op.update_vectors
        vectors_b = plan_points(upd.points, job)
        if vectors_b is None:
            return None
        return lambda: replace(op, update_vectors=replace(upd, points=vectors_b()))
    return None  # deletes, payload and other operations carry no vectors


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


def _pool(
    plan: Callable[[Any, PoolingJob], Builder | None],
    request: Any,
    cp: CollectionPooling,
    arrays: bool = False,
    workers: int | None = None,
) -> Any:
    job = PoolingJob(cp, arrays=arrays, workers=workers)
    builder = plan(request, job)
    if builder is None:
        return request
    job.run()
    return builder()


def pool_points(
    points: Sequence[Any], cp: CollectionPooling, *, arrays: bool = False, workers: int | None = None
) -> Any:
    """Validate and pool a list of points; returns ``points`` itself if nothing is configured.

    ``arrays``: named pooled vectors as float32 arrays (embedded backend only, see
    :class:`PoolingJob`); ``workers``: as for :class:`PoolingJob`."""
    return _pool(plan_points, points, cp, arrays, workers)


def pool_batch_request(
    batch: models.Batch, cp: CollectionPooling, *, arrays: bool = False, workers: int | None = None
) -> Any:
    """Validate and pool a ``Batch``; returns ``batch`` itself if nothing is configured."""
    return _pool(plan_batch, batch, cp, arrays, workers)


def pool_operations(
    operations: Sequence[Any], cp: CollectionPooling, *, arrays: bool = False, workers: int | None = None
) -> Any:
    """Validate and pool ``batch_update_points`` operations (``operations`` itself if none)."""
    return _pool(plan_operations, operations, cp, arrays, workers)
