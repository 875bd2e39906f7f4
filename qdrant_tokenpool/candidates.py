"""Token-level first stage: every pooled token vector of a collection also stored as one
point of a companion collection (HNSW), so that a query finds candidate documents token by
token (ColBERT v1's end-to-end retrieval) before pooled MaxSim ranks them.

The companion ``<name>--tokenpool-tokens`` holds one point per pooled token vector of the
indexed multivector: the vector (named :data:`TOKEN_VECTOR`, the multivector's size and
distance) and the payload ``{"doc": str(point id)}`` (keyword index). The main
collection's metadata says that the index exists (:class:`TokenIndex`, under
:data:`METADATA_KEY`, format-versioned); the client keeps the companion in step with the
main collection through every write (:func:`follow`, run around every flow of both
clients), creates and deletes it with it, and hides it from ``get_collections``.

Consistency (a crash between the two writes): a write first records the ids it touches
in the companion's metadata (a journal), then writes the companion, then the main
collection, then clears its journal entry. A process killed in between leaves the entry;
the next client to use the collection rebuilds those ids' tokens from the main
collection's stored vectors (:func:`repair`) before it serves or writes anything. And a
candidate is only ever a filter on the main collection (``HasIdCondition``): results are
main points scored with their own stored vectors, never a companion's stale copy.

Query (:func:`candidate_ids`): all query tokens in one ``query_batch_points`` request,
``neighbours`` each; the union of their documents is the candidate set.
"""

from __future__ import annotations

import itertools
import uuid
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from qdrant_client import models

from . import _parent as parent
from . import store
from ._flow import Call, Flow, call
from .config import PoolingConfigError
from .pooling.common import normalise
from .pooling.validation import InvalidMultivectorError, as_multivector, check_int
from .store import PoolingState

__all__ = [
    "COMPANION_SUFFIX",
    "DEFAULT_NEIGHBOURS",
    "DOC_FIELD",
    "METADATA_KEY",
    "QUANTIZATIONS",
    "TOKEN_VECTOR",
    "TokenIndex",
    "active",
    "candidate_ids",
    "companion_name",
    "create_companion",
    "follow",
    "is_companion_name",
    "repair",
    "restrict",
    "write_tokens",
]

METADATA_KEY = "qdrant_tokenpool_first_stage"
"""Top-level key of the main collection's metadata that holds the :class:`TokenIndex`."""
FORMAT_VERSION = 1
JOURNAL_KEY = "qdrant_tokenpool_journal"
"""Key of the companion's metadata: ``{entry: [doc keys]}`` of writes in progress."""
COMPANION_SUFFIX = "--tokenpool-tokens"
TOKEN_VECTOR = "t"
DOC_FIELD = "doc"
DEFAULT_NEIGHBOURS = 10
QUANTIZATIONS = (None, "int8")
_RNG = np.random.default_rng()
_WRITER = uuid.uuid4().hex[:12]  # this process's journal entries
_SEQ = itertools.count()
_OPENED: set[tuple[int, str]] = set()  # (state id, collection) whose journal was replayed
_CHUNK = 256  # documents per companion write / repair read


def companion_name(collection_name: str) -> str:
    """Name of the companion collection of ``collection_name``."""
    return f"{collection_name}{COMPANION_SUFFIX}"


def is_companion_name(name: str) -> bool:
    return isinstance(name, str) and name.endswith(COMPANION_SUFFIX)


@dataclass(frozen=True)
class TokenIndex:
    """The token-level first stage of one collection, as stored in its metadata.

    Attributes:
        vector: the pooled multivector whose token vectors are indexed.
        companion: the companion collection.
        neighbours: nearest token vectors per query token at query time (default 10).
        quantization: ``None`` (float32 vectors in RAM) or ``"int8"`` (scalar int8 in RAM,
            float32 on disk for rescoring).
        ready: the backfill from stored vectors is done: queries use it.
        backfill_offset: the ``scroll`` offset where an interrupted backfill continues.
    """

    vector: str
    companion: str
    neighbours: int = DEFAULT_NEIGHBOURS
    quantization: str | None = None
    ready: bool = False
    backfill_offset: Any = None

    def __post_init__(self) -> None:
        check_int("neighbours", self.neighbours)
        if self.quantization not in QUANTIZATIONS:
            raise PoolingConfigError(
                f"unknown token index quantization {self.quantization!r}; expected None or 'int8'"
            )

    def to_metadata(self) -> dict[str, Any]:
        return {
            METADATA_KEY: {
                "format": FORMAT_VERSION,
                "method": "tokens",
                "vector": self.vector,
                "companion": self.companion,
                "neighbours": self.neighbours,
                "quantization": self.quantization,
                "ready": self.ready,
                "backfill_offset": self.backfill_offset,
            }
        }

    @classmethod
    def from_metadata(cls, metadata: Any, collection_name: str) -> TokenIndex | None:
        """The index stored in ``metadata`` (``None`` when there is none).

        Raises:
            PoolingConfigError: the entry is malformed or of another format version.
        """
        entry = (metadata or {}).get(METADATA_KEY)
        if entry is None:
            return None
        where = f"collection {collection_name!r}: metadata[{METADATA_KEY!r}]"
        if not isinstance(entry, dict) or entry.get("format") != FORMAT_VERSION:
            got = entry.get("format") if isinstance(entry, dict) else entry
            raise PoolingConfigError(
                f"{where}: format {got!r}; this version reads format {FORMAT_VERSION}"
            )
        try:
            return cls(
                vector=str(entry["vector"]),
                companion=str(entry["companion"]),
                neighbours=int(entry.get("neighbours", DEFAULT_NEIGHBOURS)),
                quantization=entry.get("quantization"),
                ready=bool(entry.get("ready", False)),
                backfill_offset=entry.get("backfill_offset"),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise PoolingConfigError(f"{where}: {exc}") from None


# -- ids and points ----------------------------------------------------------------------
def doc_key(point_id: Any) -> str:
    """The payload value naming a document: its id as a string (int ids as digits)."""
    return str(point_id)


def doc_id(key: str) -> int | str:
    """Inverse of :func:`doc_key` (a UUID string is never all digits)."""
    return int(key) if key.isdigit() else key


def token_ids(n: int) -> list[int]:
    """``n`` new companion point ids: random 63-bit integers (a document's old tokens are
    always deleted, by their document, before its new ones are written, so ids need only
    be unique; integers are Qdrant's cheapest ids)."""
    return _RNG.integers(1, 2**63 - 1, size=n, dtype=np.int64).tolist()


def _doc_filter(keys: Sequence[str]) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key=DOC_FIELD, match=models.MatchAny(any=list(keys)))]
    )


def restrict(query_filter: models.Filter | None, ids: Sequence[Any]) -> models.Filter:
    """``query_filter`` and "the point is one of ``ids``"."""
    has = models.HasIdCondition(has_id=list(ids))
    if query_filter is None:
        return models.Filter(must=[has])
    return models.Filter(must=[has, query_filter])


def token_rows(pid: Any, vector: Any, dim: int, vector_name: str) -> np.ndarray:
    """The pooled token vectors of point ``pid`` as float32 ``(m, dim)``, checked.

    Raises:
        InvalidMultivectorError: empty, ragged, of another dimension, or NaN/inf (names the
            point and the problem).
    """
    try:
        return as_multivector(
            np.asarray(vector, dtype=np.float32), dim=dim, vector_name=vector_name
        )
    except InvalidMultivectorError as exc:
        raise InvalidMultivectorError(
            f"point {pid!r}: {exc.problem}", vector_name=vector_name
        ) from None


def _token_points(docs: Sequence[tuple[str, np.ndarray]], lists: bool) -> list[models.PointStruct]:
    ids = iter(token_ids(sum(len(rows) for _, rows in docs)))
    out = []
    for key, rows in docs:
        payload = {DOC_FIELD: key}
        for row in rows:
            vec = row.tolist() if lists else row
            out.append(
                models.PointStruct.model_construct(
                    id=next(ids), vector={TOKEN_VECTOR: vec}, payload=payload
                )
            )
    return out


def write_tokens(
    ti: TokenIndex,
    keys: Sequence[str],
    docs: Sequence[tuple[str, np.ndarray]],
    *,
    lists: bool = False,
) -> Flow[None]:
    """Replace the companion's tokens of documents ``keys`` by ``docs`` (``(key, (m, d))``
    pairs, a subset of ``keys``; the others lose their tokens): delete by document, then
    write, so that rewriting the same documents (a resumed backfill, a replay) is harmless.
    ``lists``: send vectors as lists (a server)."""
    for start in range(0, len(keys), _CHUNK):
        part = keys[start : start + _CHUNK]
        yield call(
            parent.delete,
            ti.companion,
            points_selector=models.FilterSelector(filter=_doc_filter(part)),
            wait=True,
        )
    for start in range(0, len(docs), _CHUNK):
        points = _token_points(docs[start : start + _CHUNK], lists)
        if points:
            yield call(parent.upsert, ti.companion, points, wait=True)


# -- the companion collection ------------------------------------------------------------
def create_companion(
    ti: TokenIndex, spec: Any, hnsw_config: models.HnswConfigDiff | None = None
) -> Flow[None]:
    """Create ``ti.companion`` for a multivector of ``spec`` (a VectorSpec), with the
    keyword index on the document field and ``hnsw_config`` (default: the engine's); an
    existing companion is kept (a resumed build)."""
    if (yield call(parent.collection_exists, ti.companion)):
        return
    quant = ti.quantization == "int8"
    params = models.VectorParams(size=spec.size, distance=spec.distance, on_disk=quant or None)
    quantization = (
        models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8, quantile=0.99, always_ram=True
            )
        )
        if quant
        else None
    )
    yield call(
        parent.create_collection,
        ti.companion,
        vectors_config={TOKEN_VECTOR: params},
        hnsw_config=hnsw_config,
        quantization_config=quantization,
        metadata={JOURNAL_KEY: {}},
    )
    with warnings.catch_warnings():  # local mode: "payload indexes have no effect" (true)
        warnings.filterwarnings("ignore", message="Payload indexes have no effect")
        yield call(
            parent.create_payload_index,
            ti.companion,
            field_name=DOC_FIELD,
            field_schema=models.PayloadSchemaType.KEYWORD,
            wait=True,
        )


def _journal(ti: TokenIndex) -> Flow[dict[str, list[str]]]:
    info = yield call(parent.get_collection, ti.companion)
    meta = getattr(info.config, "metadata", None) or {}
    return dict(meta.get(JOURNAL_KEY) or {})


def _journal_set(ti: TokenIndex, entry: str, keys: Sequence[str] | None) -> Flow[None]:
    journal = yield from _journal(ti)
    if keys is None:
        journal.pop(entry, None)
    else:
        journal[entry] = list(keys)
    yield call(parent.update_collection, ti.companion, metadata={JOURNAL_KEY: journal})


def repair(
    ti: TokenIndex, collection_name: str, keys: Sequence[str], *, lists: bool = False
) -> Flow[None]:
    """Rebuild the companion's tokens of documents ``keys`` from the main collection's
    stored vectors (documents gone from it lose their tokens)."""
    for start in range(0, len(keys), _CHUNK):
        part = list(keys[start : start + _CHUNK])
        records = yield call(
            parent.retrieve,
            collection_name,
            [doc_id(k) for k in part],
            with_payload=False,
            with_vectors=[ti.vector] if ti.vector else True,
        )
        docs = []
        for r in records:
            vec = (r.vector or {}).get(ti.vector) if isinstance(r.vector, dict) else r.vector
            if vec is not None and len(vec):
                docs.append((doc_key(r.id), np.asarray(vec, dtype=np.float32)))
        yield from write_tokens(ti, part, docs, lists=lists)


def _replay(state: PoolingState, ti: TokenIndex, collection_name: str) -> Flow[None]:
    """Finish what killed writers left: every journal entry's documents repaired."""
    if not (yield call(parent.collection_exists, ti.companion)):
        raise PoolingConfigError(
            f"collection {collection_name!r}: the companion collection {ti.companion!r} of "
            "its token index is missing; add the index again (add_token_index)"
        )
    journal = yield from _journal(ti)
    if not journal:
        return
    keys = sorted({k for ks in journal.values() for k in ks})
    yield from repair(ti, collection_name, keys, lists=state.remote)
    for entry in journal:
        yield from _journal_set(ti, entry, None)


def active(state: PoolingState, collection_name: str) -> Flow[TokenIndex | None]:
    """The collection's token index (``None``: none, or no such collection). The first
    time a client meets it, unfinished writes of killed processes are repaired."""
    found = yield from _indexed(state, collection_name)
    return None if found is None else found[0]


def _indexed(
    state: PoolingState, collection_name: str
) -> Flow[tuple[TokenIndex, store.CollectionPooling] | None]:
    from .write_path.flows import _collection  # the collection, whether it pools or not

    if not isinstance(collection_name, str) or is_companion_name(collection_name):
        return None
    cp = yield from _collection(state, collection_name)
    if cp is None:
        return None
    ti = TokenIndex.from_metadata(cp.metadata, collection_name)
    if ti is None:
        return None
    if (state._id, collection_name) not in _OPENED:
        yield from _replay(state, ti, collection_name)
        _OPENED.add((state._id, collection_name))
    return ti, cp


def forget(state: PoolingState, collection_name: str) -> None:
    """Replay the journal again the next time (the collection was deleted or recreated)."""
    _OPENED.discard((state._id, collection_name))


# -- queries -----------------------------------------------------------------------------
FIRST_STAGES = (None, "tokens", "summary")


def use_tokens(
    ti: TokenIndex | None,
    cp: store.CollectionPooling,
    first_stage: str | None,
    *,
    summary: bool | None,
    using: str | None,
    filtered: bool,
) -> bool:
    """Whether a query takes its candidates from the token index: ``first_stage="tokens"``
    (required: an error when the collection has no ready index of that vector), or by
    default (``None``) when a ready index of the queried vector exists, ``summary`` is
    ``None`` and there is no filter (the companion holds no payload to filter on, so a
    filtered query keeps the summary stage, or plain pooled MaxSim)."""
    if first_stage not in FIRST_STAGES:
        raise ValueError(f"first_stage must be None, 'tokens' or 'summary', got {first_stage!r}")
    usable = ti is not None and ti.ready and using in (None, ti.vector)
    if first_stage == "tokens":
        if not usable:
            state = (
                "none"
                if ti is None
                else ("still being built" if not ti.ready else f"of vector {ti.vector!r}")
            )
            raise ValueError(
                f"first_stage='tokens', but collection {cp.name!r} has no ready token index "
                f"for this vector ({state}; add one with add_token_index)"
            )
        if summary is not None:
            raise ValueError("first_stage='tokens' does not combine with summary=")
        return True
    return first_stage is None and summary is None and usable and not filtered


def candidate_ids(
    ti: TokenIndex,
    q: np.ndarray,
    *,
    cosine: bool,
    neighbours: int | None = None,
    search_params: models.SearchParams | None = None,
) -> Flow[list[Any]]:
    """Documents whose token vectors are among the ``neighbours`` nearest of any query
    token (``q``: float32 ``(q, d)``), in order of first appearance: one
    ``query_batch_points`` request on the companion."""
    k = check_int("neighbours", ti.neighbours if neighbours is None else neighbours)
    rows = normalise(q, zero="keep").astype(np.float32) if cosine else q
    requests = [
        models.QueryRequest(
            query=row.tolist(),
            using=TOKEN_VECTOR,
            limit=k,
            params=search_params,
            with_payload=[DOC_FIELD],
        )
        for row in rows
    ]
    responses = yield call(parent.query_batch_points, ti.companion, requests)
    seen: dict[str, None] = {}
    for response in responses:
        for p in response.points:
            key = (p.payload or {}).get(DOC_FIELD)
            if isinstance(key, str):
                seen.setdefault(key, None)
    return [doc_id(k) for k in seen]


# -- keeping the companion in step: every parent call of a flow passes here ---------------
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
    keys: list[str] = []
    docs: list[tuple[str, np.ndarray]] = []
    if isinstance(points, models.Batch):
        ids = list(points.ids)
        vecs = points.vectors
        col = vecs.get(ti.vector) if isinstance(vecs, dict) else (vecs if ti.vector == "" else None)
        for i, pid in enumerate(ids):
            keys.append(doc_key(pid))
            if col is not None and col[i] is not None:
                docs.append((doc_key(pid), token_rows(pid, col[i], dim, ti.vector)))
        return keys, docs
    for p in points:
        has, vec = _vector_of(p.vector, ti.vector)
        if update and not has:
            continue
        keys.append(doc_key(p.id))
        if has and vec is not None:
            docs.append((doc_key(p.id), token_rows(p.id, vec, dim, ti.vector)))
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
    entry = f"{_WRITER}-{state._id}-{next(_SEQ)}"
    yield from _journal_set(ti, entry, keys)
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
            yield from _journal_set(ti, entry, None)
        except Exception:  # noqa: BLE001, S110 - the journal stays: replayed on next open
            pass
        raise
    yield from _journal_set(ti, entry, None)
    return result


def _selected_keys(collection_name: str, selector: Any) -> Flow[list[str]]:
    """Documents a points selector names (a filter is resolved by ``scroll``)."""
    if isinstance(selector, models.PointIdsList):
        return [doc_key(i) for i in selector.points]
    flt = None
    if isinstance(selector, models.FilterSelector):
        flt = selector.filter
    elif isinstance(selector, models.Filter):
        flt = selector
    else:
        return [doc_key(i) for i in selector]
    keys: list[str] = []
    offset = None
    while True:
        records, offset = yield call(
            parent.scroll,
            collection_name,
            scroll_filter=flt,
            limit=1024,
            offset=offset,
            with_payload=False,
            with_vectors=False,
        )
        keys.extend(doc_key(r.id) for r in records)
        if offset is None:
            return keys


def _arg(request: Call, i: int, name: str, default: Any = None) -> Any:
    if len(request.args) > i:
        return request.args[i]
    return request.kwargs.get(name, default)


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, max(1, int(size)))):
        yield chunk


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
    found = yield from _indexed(state, name)
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
    if method == "upload_points":
        return (
            yield from _upsert_stream(
                state, ti, spec.size, name, _arg(request, 1, "points"), request
            )
        )
    if method == "upload_collection":
        from .write_path.flows import _collection_points  # the one home of the conversion

        pts = _collection_points(
            _arg(request, 1, "vectors"), request.kwargs.get("payload"), request.kwargs.get("ids")
        )
        return (yield from _upsert_stream(state, ti, spec.size, name, pts, request))
    if method in ("delete", "delete_vectors"):
        if method == "delete_vectors" and ti.vector not in list(_arg(request, 1, "vectors")):
            return (yield request)
        selector = (
            _arg(request, 2, "points")
            if method == "delete_vectors"
            else _arg(request, 1, "points_selector")
        )
        keys = yield from _selected_keys(name, selector)
        return (yield from _guarded(state, ti, name, keys, [], request))
    if method == "batch_update_points":
        keys = []
        for op in _arg(request, 1, "update_operations"):
            keys.extend((yield from _operation_keys(name, op)))
        return (yield from _guarded(state, ti, name, sorted(set(keys)), None, request))
    return (yield request)


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
    companion = (
        companion_name(name) if isinstance(name, str) and not is_companion_name(name) else None
    )
    if companion is not None and (yield call(parent.collection_exists, companion)):
        yield call(parent.delete_collection, companion)
    if request.method != "delete_collection":
        result = yield request
    return result


def _on_list(state: PoolingState, request: Call) -> Flow[Any]:
    response = yield request
    kept = [c for c in response.collections if not is_companion_name(c.name)]
    return models.CollectionsResponse(collections=kept)


_HANDLERS = {
    "upsert": _on_write,
    "update_vectors": _on_write,
    "upload_points": _on_write,
    "upload_collection": _on_write,
    "delete": _on_write,
    "delete_vectors": _on_write,
    "batch_update_points": _on_write,
    "create_collection": _on_drop,
    "recreate_collection": _on_drop,
    "delete_collection": _on_drop,
    "get_collections": _on_list,
}


def follow(state: PoolingState, flow: Flow[Any]) -> Flow[Any]:
    """``flow`` with its parent calls that write a collection, create or delete one, or
    list them, extended to keep the token-index companion in step (see the module
    docstring); every other call passes as it is. Both clients run every flow in it."""
    try:
        request = next(flow)
    except StopIteration as stop:
        return stop.value
    while True:
        handler = _HANDLERS.get(request.method)
        try:
            if handler is None:
                result = yield request
            else:
                result = yield from handler(state, request)
        except Exception as exc:  # noqa: BLE001 - the flow handles (or re-raises) it
            try:
                request = flow.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                request = flow.send(result)
            except StopIteration as stop:
                return stop.value
