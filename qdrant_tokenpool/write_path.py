"""Write path: pool the configured multivectors of any write request before it reaches Qdrant.

Two layers:

1. Pure helpers (no I/O). A :class:`PoolingJob` collects the configured multivectors of
   one request while ``plan_*`` functions walk the request's shape (``PointStruct`` /
   ``Record`` / ``PointVectors`` lists, ``Batch``, ``UpsertOperation`` and
   ``UpdateVectorsOperation`` with ``PointsList`` or ``PointsBatch``). Walking validates
   every configured multivector of the *whole* request first (errors name the point id,
   the vector name and the problem); :meth:`PoolingJob.run` then pools them with one
   :func:`~qdrant_tokenpool.pooling.pool_arrays` call per config (all cores); finally the
   plan's builder makes the new request, building each model once, from lists made
   once per pooled array. Vectors and points with nothing configured are the very same
   objects in the output; a request with nothing configured is returned as is.
2. Flows (see :mod:`qdrant_tokenpool._flow`) for ``upsert``, ``update_vectors``,
   ``batch_update_points``, ``upload_points`` and ``upload_collection``, shared by the
   sync and async clients.

Server limits that the embedded backend does not enforce are applied on every backend:
a pooled multivector is always pooled far enough to hold fewer than
:data:`MAX_MULTIVECTOR_FLOATS` floats (the pooling's own budget, never a refusal); an
unpooled copy kept for rescoring (``keep_original_vector``) that is that large is
refused; and on remote backends a rewritten request is split so that each REST body
stays under 32 MiB.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from qdrant_client import models

from . import store
from ._budget import budget_ranges
from ._flow import Flow, call
from .config import PoolingConfig
from .firststage import document_summaries
from .inference import LocalInference, is_inference_object
from .pooling import pool_arrays
from .pooling.common import normalise
from .pooling.spec import QDRANT_MAX_MULTIVECTOR_FLOATS, PoolingSpec
from .store import CollectionPooling, PoolingState, UnknownCollectionError
from .validation import InvalidMultivectorError, as_multivector, is_tensor, to_numpy

__all__ = [
    "JSON_BYTES_PER_FLOAT",
    "MAX_MULTIVECTOR_FLOATS",
    "MAX_REQUEST_BYTES",
    "REQUEST_FLOAT_BUDGET",
    "InferenceScan",
    "PoolingJob",
    "batch_update_points",
    "count_floats",
    "plan_batch",
    "plan_operations",
    "plan_points",
    "pool_batch_request",
    "pool_operations",
    "pool_points",
    "split_batch",
    "split_operations",
    "split_points",
    "update_vectors",
    "upload_collection",
    "upload_points",
    "upsert",
]

MAX_MULTIVECTOR_FLOATS = QDRANT_MAX_MULTIVECTOR_FLOATS
"""Qdrant servers refuse a multivector with this many floats (n x d) or more (defined in
:mod:`qdrant_tokenpool.pooling.spec`, with ``max_rows(dim)``)."""

MAX_REQUEST_BYTES = 32 * 1024 * 1024
"""Qdrant's default REST body limit (``service.max_request_size_mb`` = 32)."""

JSON_BYTES_PER_FLOAT = 22
"""Upper estimate of one float32 value's size in a JSON body (``-0.012345678918063641,``)."""

REQUEST_FLOAT_BUDGET = (MAX_REQUEST_BYTES - 4 * 1024 * 1024) // JSON_BYTES_PER_FLOAT
"""Floats per request when splitting for a remote backend (4 MiB left for ids, payloads)."""



# ---------------------------------------------------------------------------------------
# Collecting, validating and pooling
# ---------------------------------------------------------------------------------------
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


def _embedded(
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


# ---------------------------------------------------------------------------------------
# Plans: walk a request shape, add its configured multivectors to the job, return a builder
# ---------------------------------------------------------------------------------------
Builder = Callable[[], Any]


def _plan_struct(vector: Any, point_id: Any, job: PoolingJob) -> Builder | None:
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


def _replace(model: Any, **update: Any) -> Any:
    """Shallow copy of a pydantic model with fields replaced (no re-validation: fast)."""
    return model.model_copy(update=update)


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
        b = _plan_struct(p.vector, p.id, job)
        if b is not None:
            builders.append((k, b))
    if not builders:
        return None

    def build() -> list[Any]:
        out = list(points)
        for k, b in builders:
            out[k] = _replace(out[k], vector=b())
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
            return _replace(batch, vectors=out)

        return build_named
    if "" in pooling:
        ii = [job.add(v, point_id=pid(k), vector_name="") for k, v in enumerate(vectors)]
        return lambda: _replace(batch, vectors=[job.pooled_list(i) for i in ii])
    return None


def _plan_operation(op: Any, job: PoolingJob) -> Builder | None:
    if isinstance(op, models.UpsertOperation):
        ins = op.upsert
        if isinstance(ins, models.PointsList):
            points_b = plan_points(ins.points, job)
            if points_b is None:
                return None
            return lambda: _replace(op, upsert=_replace(ins, points=points_b()))
        if isinstance(ins, models.PointsBatch):
            batch_b = plan_batch(ins.batch, job)
            if batch_b is None:
                return None
            return lambda: _replace(op, upsert=_replace(ins, batch=batch_b()))
        return None
    if isinstance(op, models.UpdateVectorsOperation):
        upd = op.update_vectors
        vectors_b = plan_points(upd.points, job)
        if vectors_b is None:
            return None
        return lambda: _replace(op, update_vectors=_replace(upd, points=vectors_b()))
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
) -> Any:
    job = PoolingJob(cp, arrays=arrays)
    builder = plan(request, job)
    if builder is None:
        return request
    job.run()
    return builder()


def pool_points(points: Sequence[Any], cp: CollectionPooling, *, arrays: bool = False) -> Any:
    """Validate and pool a list of points; returns ``points`` itself if nothing is configured.

    ``arrays``: named pooled vectors as float32 arrays (embedded backend only, see
    :class:`PoolingJob`)."""
    return _pool(plan_points, points, cp, arrays)


def pool_batch_request(batch: models.Batch, cp: CollectionPooling, *, arrays: bool = False) -> Any:
    """Validate and pool a ``Batch``; returns ``batch`` itself if nothing is configured."""
    return _pool(plan_batch, batch, cp, arrays)


def pool_operations(operations: Sequence[Any], cp: CollectionPooling, *, arrays: bool = False) -> Any:
    """Validate and pool ``batch_update_points`` operations (``operations`` itself if none)."""
    return _pool(plan_operations, operations, cp, arrays)


# ---------------------------------------------------------------------------------------
# Splitting for the REST body limit
# ---------------------------------------------------------------------------------------
def count_floats(vector: Any) -> int:
    """Number of floats a ``VectorStruct`` (or one vector of it) carries in a request."""
    if vector is None:
        return 0
    if isinstance(vector, dict):
        return sum(count_floats(v) for v in vector.values())
    if isinstance(vector, np.ndarray):
        return int(vector.size)
    if isinstance(vector, models.SparseVector):
        return 2 * len(vector.indices)
    if isinstance(vector, (list, tuple)):
        if not vector:
            return 0
        first = vector[0]
        if isinstance(first, (list, tuple, np.ndarray)):
            return len(vector) * len(first)
        return len(vector)
    return 0


def _chunks_by_budget(sizes: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """Greedy ``[start, stop)`` ranges within ``budget`` (:func:`budget_ranges`); one empty
    range for no items, so an empty request is still sent once."""
    return budget_ranges(sizes, budget) or [(0, 0)]


def split_points(points: Sequence[Any], budget: int = REQUEST_FLOAT_BUDGET) -> list[list[Any]]:
    """Split a list of points into lists carrying at most ``budget`` floats each."""
    sizes = [count_floats(p.vector) for p in points]
    return [list(points[a:b]) for a, b in _chunks_by_budget(sizes, budget)]


def split_batch(batch: models.Batch, budget: int = REQUEST_FLOAT_BUDGET) -> list[models.Batch]:
    """Split a ``Batch`` into batches carrying at most ``budget`` floats each."""
    v = batch.vectors
    n = len(batch.ids)
    if isinstance(v, dict):
        sizes = [sum(count_floats(col[k]) for col in v.values()) for k in range(n)]
    else:
        sizes = [count_floats(v[k]) for k in range(n)]
    ranges = _chunks_by_budget(sizes, budget)
    if len(ranges) == 1:
        return [batch]
    out = []
    for a, b in ranges:
        vec = {name: col[a:b] for name, col in v.items()} if isinstance(v, dict) else v[a:b]
        pay = None if batch.payloads is None else batch.payloads[a:b]
        out.append(_replace(batch, ids=batch.ids[a:b], vectors=vec, payloads=pay))
    return out


def _batch_floats(batch: models.Batch) -> int:
    v = batch.vectors
    cols = v.values() if isinstance(v, dict) else [v]
    return sum(count_floats(x) for col in cols for x in col)


def _split_operation(op: Any, budget: int) -> list[tuple[Any, int]]:
    """An operation as one or more operations of at most ``budget`` floats, with sizes."""
    if isinstance(op, models.UpsertOperation) and isinstance(op.upsert, models.PointsList):
        ins = op.upsert
        parts = split_points(ins.points, budget)
        ops = [op] if len(parts) == 1 else [_replace(op, upsert=_replace(ins, points=p)) for p in parts]
        return [(o, sum(count_floats(x.vector) for x in p)) for o, p in zip(ops, parts)]
    if isinstance(op, models.UpsertOperation) and isinstance(op.upsert, models.PointsBatch):
        ins_b = op.upsert
        batches = split_batch(ins_b.batch, budget)
        if len(batches) == 1:
            return [(op, _batch_floats(ins_b.batch))]
        return [(_replace(op, upsert=_replace(ins_b, batch=b)), _batch_floats(b)) for b in batches]
    if isinstance(op, models.UpdateVectorsOperation):
        upd = op.update_vectors
        parts = split_points(upd.points, budget)
        ops = (
            [op]
            if len(parts) == 1
            else [_replace(op, update_vectors=_replace(upd, points=p)) for p in parts]
        )
        return [(o, sum(count_floats(x.vector) for x in p)) for o, p in zip(ops, parts)]
    return [(op, 0)]


def split_operations(operations: Sequence[Any], budget: int = REQUEST_FLOAT_BUDGET) -> list[list[Any]]:
    """Split ``batch_update_points`` operations into requests of at most ``budget`` floats.

    Operations keep their order; an operation larger than the budget becomes several
    operations of the same kind.
    """
    flat: list[tuple[Any, int]] = []
    for op in operations:
        flat.extend(_split_operation(op, budget))
    ranges = _chunks_by_budget([s for _, s in flat], budget)
    return [[op for op, _ in flat[a:b]] for a, b in ranges]


# ---------------------------------------------------------------------------------------
# Flows, shared by TokenPoolingClient and AsyncTokenPoolingClient
# ---------------------------------------------------------------------------------------
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


def upsert(
    state: PoolingState,
    collection_name: str,
    points: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    remote: bool,
    budget: int | None = None,
    inference: LocalInference | None = None,
) -> Flow[Any]:
    """``upsert`` with the configured multivectors pooled (list of points or ``Batch``).

    Inference objects at pooled vectors are first embedded by ``inference`` (the client's
    local inference; see :mod:`qdrant_tokenpool.inference`). The whole request is then
    validated and pooled before anything is sent; on a remote backend a rewritten request
    is sent in parts of at most ``budget`` floats (returns the last part's ``UpdateResult``).
    """
    budget = budget or REQUEST_FLOAT_BUDGET
    cp = yield from _config(state, collection_name)
    if cp is not None:
        is_batch = isinstance(points, models.Batch)
        if not is_batch and not isinstance(points, Sequence):
            points = list(points)
        points = _embedded(points, cp, plan_batch if is_batch else plan_points, inference)
        pool = pool_batch_request if is_batch else pool_points
        new = pool(points, cp, arrays=not remote)
        if new is not points:
            split = split_batch if is_batch else split_points
            parts = split(new, budget) if remote else [new]
            return (yield from _send_parts("upsert", collection_name, parts, args, kwargs))
    return (yield call("upsert", collection_name, points, *args, **kwargs))


def _send_parts(
    method: str, collection_name: str, parts: list[Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Flow[Any]:
    """Send a rewritten request's parts in order; the last part's result."""
    result = None
    for part in parts:
        result = yield call(method, collection_name, part, *args, **kwargs)
    return result


def update_vectors(
    state: PoolingState,
    collection_name: str,
    points: Sequence[Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    remote: bool,
    budget: int | None = None,
    inference: LocalInference | None = None,
) -> Flow[Any]:
    """``update_vectors`` with the configured multivectors pooled (and extras refreshed);
    inference objects at pooled vectors embedded first, as in :func:`upsert`."""
    budget = budget or REQUEST_FLOAT_BUDGET
    cp = yield from _config(state, collection_name)
    if cp is not None:
        points = points if isinstance(points, Sequence) else list(points)
        points = _embedded(points, cp, plan_points, inference)
        new = pool_points(points, cp, arrays=not remote)
        if new is not points:
            parts = split_points(new, budget) if remote else [new]
            return (yield from _send_parts("update_vectors", collection_name, parts, args, kwargs))
    return (yield call("update_vectors", collection_name, points, *args, **kwargs))


def batch_update_points(
    state: PoolingState,
    collection_name: str,
    update_operations: Sequence[Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    remote: bool,
    budget: int | None = None,
    inference: LocalInference | None = None,
) -> Flow[Any]:
    """``batch_update_points`` with ``UpsertOperation`` / ``UpdateVectorsOperation`` pooled
    (inference objects at pooled vectors embedded first, as in :func:`upsert`).

    On a remote backend a rewritten request is sent as several requests of at most
    ``budget`` floats, in order; the results of all of them are returned, concatenated.
    """
    budget = budget or REQUEST_FLOAT_BUDGET
    cp = yield from _config(state, collection_name)
    ops = update_operations
    if cp is not None:
        ops = ops if isinstance(ops, Sequence) else list(ops)
        ops = _embedded(ops, cp, plan_operations, inference)
        new = pool_operations(ops, cp, arrays=not remote)
        if new is not ops:
            results: list[Any] = []
            for part in split_operations(new, budget) if remote else [new]:
                results.extend(
                    (yield call("batch_update_points", collection_name, part, *args, **kwargs))
                )
            return results
    return (yield call("batch_update_points", collection_name, ops, *args, **kwargs))


def _batched(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(iterable)
    while chunk := list(itertools.islice(it, max(1, int(size)))):
        yield chunk


def _lists(vector: Any) -> Any:
    """numpy arrays and tensors inside a vector struct as lists (what models carry)."""
    if isinstance(vector, dict):
        return {k: _lists(v) for k, v in vector.items()}
    if isinstance(vector, np.ndarray) or is_tensor(vector):
        return to_numpy(vector).tolist()
    if isinstance(vector, list) and vector and isinstance(vector[0], np.ndarray):
        return [row.tolist() for row in vector]  # a multivector given as a list of rows
    return vector


def pooled_stream(
    points: Iterable[Any],
    cp: CollectionPooling,
    batch_size: int,
    inference: LocalInference | None = None,
) -> Iterator[Any]:
    """Pool a stream of points ``batch_size`` at a time (each batch: inference objects at
    pooled vectors embedded by ``inference``, then one pool_arrays call per config); never
    holds more than one batch. A bad point raises before its batch is yielded."""
    for chunk in _batched(points, batch_size):
        yield from pool_points(_embedded(chunk, cp, plan_points, inference), cp)


def _validate_all(points: Iterable[Any], cp: CollectionPooling, *, inference: bool) -> None:
    """Validate every configured multivector of ``points``; inference objects are left for
    the batches to embed when ``inference`` (a local inference is there), else refused."""
    job = InferenceScan(cp, validate=True) if inference else PoolingJob(cp, keep=False)
    for p in points:
        _plan_struct(p.vector, p.id, job)


def upload_points(
    state: PoolingState,
    collection_name: str,
    points: Iterable[Any],
    batch_size: int,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    remote: bool,
    streams: bool | None = None,
    inference: LocalInference | None = None,
) -> Flow[None]:
    """``upload_points`` with configured multivectors pooled, streamed ``batch_size`` at a time.

    Inference objects at pooled vectors are embedded batch by batch (and their vectors
    validated then); everything else as follows.

    ``streams``: the engine writes batch by batch (a server, Qdrant Edge; default
    ``remote``). Then sized inputs (lists, tuples) are validated whole before the first
    batch is sent; a generator is validated batch by batch. qdrant-client's local mode
    collects the whole upload before writing, so nothing is written there either.
    """
    streams = remote if streams is None else streams
    cp = yield from _config(state, collection_name)
    if cp is None:
        return (yield call("upload_points", collection_name, points, batch_size, *args, **kwargs))
    if streams and isinstance(points, Sequence):
        _validate_all(points, cp, inference=inference is not None)
    stream = pooled_stream(points, cp, batch_size, inference)
    return (yield call("upload_points", collection_name, stream, batch_size, *args, **kwargs))


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) or is_tensor(x)


def _collection_size(vectors: Any) -> int | None:
    """Points in ``upload_collection``'s ``vectors``: ``None`` for generators and streams."""
    if isinstance(vectors, dict):
        lengths = {len(v) for v in vectors.values()}
        if len(lengths) > 1:
            raise ValueError("Each named vector should have the same number of vectors")
        return lengths.pop() if lengths else 0
    if _is_array(vectors) or isinstance(vectors, Sequence):
        return len(vectors)
    return None


def _collection_rows(vectors: Any) -> Iterator[Any]:
    """One vector struct per point from ``upload_collection``'s ``vectors`` argument."""
    if isinstance(vectors, dict):
        n = _collection_size(vectors) or 0
        return ({name: col[i] for name, col in vectors.items()} for i in range(n))
    if _is_array(vectors):
        return (vectors[i] for i in range(len(vectors)))
    return iter(vectors)


def _require_length(items: Iterable[Any] | None, size: int, name: str) -> Iterable[Any] | None:
    """``ids`` / ``payload`` of ``upload_collection`` that end before ``size`` vectors raise
    ``ValueError("<name> iterable is shorter than vectors iterable")``, as in
    ``QdrantClient``: lists, tuples and arrays at once (before anything is written),
    streams when they run out. Longer ones are read only up to ``size`` items."""
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
    """``upload_collection``'s columns as a stream of points (missing ids: UUIDs).

    With a sized ``vectors``, ``ids`` or ``payload`` shorter than it raise (see
    :func:`_require_length`); with a stream of vectors the shortest input ends the upload,
    as in ``QdrantClient``."""
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


def _finish_lists(points: Iterable[Any]) -> Iterator[Any]:
    """Turn leftover numpy/torch vectors (unconfigured names) into lists."""
    for p in points:
        v = _lists(p.vector)
        yield p if v is p.vector else _replace(p, vector=v)


def upload_collection(
    state: PoolingState,
    collection_name: str,
    vectors: Any,
    payload: Iterable[Any] | None,
    ids: Iterable[Any] | None,
    batch_size: int,
    kwargs: dict[str, Any],
    *,
    remote: bool,
    streams: bool | None = None,
    inference: LocalInference | None = None,
) -> Flow[None]:
    """``upload_collection`` with configured multivectors pooled (inference objects at
    pooled vectors embedded batch by batch, as in :func:`upload_points`; ``streams``: see
    :func:`upload_points`).

    ``vectors``: dict of per-name columns (lists or arrays), a ``(N, n, d)`` array for the
    unnamed multivector, or any iterable of vector structs (generators stream). With a
    config it is streamed as points through the parent's ``upload_points``
    (``batch_size`` at a time; missing ids become UUIDs, as the parent does). ``ids`` or
    ``payload`` shorter than a sized ``vectors`` raise ``ValueError`` as in the parent:
    lists and arrays before anything is written.
    """
    cp = yield from _config(state, collection_name)
    if cp is None:
        return (
            yield call(
                "upload_collection",
                collection_name,
                vectors,
                payload=payload,
                ids=ids,
                batch_size=batch_size,
                **kwargs,
            )
        )
    pts = _collection_points(vectors, payload, ids)  # ids / payload too short: raises now
    if (remote if streams is None else streams) and not isinstance(vectors, Iterator):
        # sized input: check all of it before the first batch is sent
        sized_ids = isinstance(ids, (Sequence, np.ndarray))
        labels = ids if sized_ids else (f"#{k}" for k in itertools.count())
        _validate_all(
            _collection_points(vectors, None, labels), cp, inference=inference is not None
        )
    stream = _finish_lists(pooled_stream(pts, cp, batch_size, inference))
    return (yield call("upload_points", collection_name, stream, batch_size=batch_size, **kwargs))
