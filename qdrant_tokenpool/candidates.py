"""Token-level first stage: every pooled token vector of a collection also stored as a
point of a companion collection ``<name>--tokenpool-tokens`` (HNSW, payload ``{"doc": id}``),
so that a query finds candidate documents token by token before pooled MaxSim ranks them.
The main collection's metadata records the index (:class:`TokenIndex`); writes keep the
companion in step through a journal that :func:`repair` replays after a crash
(:mod:`qdrant_tokenpool.companion`); candidates are only a filter on the main collection.
Design and guarantees: docs/funnel.md.
"""

from __future__ import annotations

import itertools
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from qdrant_client import models
from qdrant_client.uploader.uploader import iter_batch

from . import _parent as parent
from . import store
from ._flow import Flow, call, engine_call
from .config import PoolingConfigError
from .pooling.batch import pool_arrays
from .pooling.common import normalise
from .pooling.spec import as_spec
from .pooling.validation import InvalidMultivectorError, as_multivector, check_int
from .store import PoolingState

__all__ = [
    "COMPANION_SUFFIX",
    "DEFAULT_CANDIDATES",
    "DEFAULT_HNSW",
    "DEFAULT_NEIGHBOURS",
    "DEFAULT_POOL_FACTOR",
    "DOC_FIELD",
    "METADATA_KEY",
    "PACKED",
    "QUANTIZATIONS",
    "TOKEN_VECTOR",
    "TokenIndex",
    "active",
    "candidate_ids",
    "coarse_rows",
    "companion_name",
    "create_companion",
    "indexed",
    "is_companion_name",
    "journal_entry",
    "journal_set",
    "packed_docs",
    "rank_candidates",
    "rank_hits",
    "repair",
    "restrict",
    "token_point_ids",
    "unpack_ids",
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
# A new index's settings: how they were chosen is in docs/funnel.md.
DEFAULT_POOL_FACTOR = 2
"""The companion pools each document's stored vectors again by this factor."""
DEFAULT_NEIGHBOURS = 60
"""Nearest companion vectors per query token."""
DEFAULT_CANDIDATES = 100
"""Candidate documents rescored per query, the best by :func:`rank_candidates` (the
rescoring's cost is linear in it; an index keeps the cap it was made with)."""
DEFAULT_HNSW = models.HnswConfigDiff(m=16, ef_construct=64)
"""The companion's HNSW graph (m=8, ef_construct=32 builds faster but misses needles)."""
DEFAULT_HNSW_EF = 32
"""Least HNSW beam of a companion search without ``search_params``: a search asks for
``max(DEFAULT_HNSW_EF, neighbours)``, a beam that holds the neighbours it returns."""
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
        neighbours: nearest token vectors per query token.
        quantization: ``None`` (float32 in RAM) or ``"int8"`` (int8 in RAM, float32 on disk).
        candidates: at most this many candidate documents per query (0: all of them).
        pool_factor: the companion holds each document's stored vectors pooled again by
            this factor (Ward; 1: as they are): fewer points to write and build.
        ready: the backfill from stored vectors is done: queries use it.
        backfill_offset: the ``scroll`` offset where an interrupted backfill continues.
        packed_ids: its ids carry their document (:func:`token_point_ids`); an older
            index has random ids only, read through the payload.
    """

    vector: str
    companion: str
    # defaults: what a stored entry without the field reads as (a new index: DEFAULT_*)
    neighbours: int = 10
    quantization: str | None = None
    pool_factor: int = 1
    candidates: int = 0
    ready: bool = False
    backfill_offset: Any = None
    packed_ids: bool = False

    def __post_init__(self) -> None:
        check_int("neighbours", self.neighbours)
        check_int("pool_factor", self.pool_factor)
        check_int("candidates", self.candidates, minimum=0)
        if self.quantization not in QUANTIZATIONS:
            raise PoolingConfigError(
                f"unknown token index quantization {self.quantization!r}; expected None or 'int8'"
            )

    def to_metadata(self) -> dict[str, Any]:
        return {METADATA_KEY: {"format": FORMAT_VERSION, "method": "tokens", **asdict(self)}}

    @classmethod
    def from_metadata(cls, metadata: Any, collection_name: str) -> TokenIndex | None:
        """The index stored in ``metadata`` (``None``: none); :class:`PoolingConfigError`
        for an entry that is malformed or of another format version."""
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
                neighbours=int(entry.get("neighbours", cls.neighbours)),
                quantization=entry.get("quantization"),
                pool_factor=int(entry.get("pool_factor", cls.pool_factor)),
                candidates=int(entry.get("candidates", cls.candidates)),
                ready=bool(entry.get("ready", cls.ready)),
                backfill_offset=entry.get("backfill_offset"),
                packed_ids=bool(entry.get("packed_ids", cls.packed_ids)),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise PoolingConfigError(f"{where}: {exc}") from None


# -- ids and points ----------------------------------------------------------------------
def doc_key(point_id: Any) -> str:
    """The payload value naming a document: its id as a string (int ids as digits, UUIDs
    in canonical form, as Qdrant returns them)."""
    if isinstance(point_id, str) and not point_id.isdigit():
        try:
            return str(uuid.UUID(point_id))
        except ValueError:
            return point_id  # the engine names the bad id
    return str(point_id)


def doc_id(key: str) -> int | str:
    """Inverse of :func:`doc_key` (a UUID string is never all digits)."""
    return int(key) if key.isdigit() else key


def token_ids(n: int) -> list[int]:
    """``n`` new random companion point ids below :data:`PACKED` (unique is enough: a
    document's old tokens are deleted, by document, before its new ones are written)."""
    return _RNG.integers(1, 2**63 - 1, size=n, dtype=np.int64).tolist()


PACKED = 1 << 63
"""Companion ids from :data:`PACKED` up carry their document: ``PACKED | doc << 20 | row``."""
_ROW_BITS = 20  # a multivector holds fewer than 2**20 floats, so fewer rows
_PACKED_DOCS = 1 << (63 - _ROW_BITS)


def token_point_ids(key: str, n: int) -> list[int]:
    """The companion ids of the ``n`` token vectors of document ``key``: ``PACKED | doc <<
    20 | row`` for an integer document below ``2**43`` (a query reads the document from the
    id), else (UUIDs, larger integers) :func:`token_ids` (the document only in the payload)."""
    if key.isdigit() and int(key) < _PACKED_DOCS and n <= 1 << _ROW_BITS:
        base = PACKED | int(key) << _ROW_BITS
        return list(range(base, base + n))
    return token_ids(n)


def packed_docs(ids: Sequence[int]) -> tuple[np.ndarray, list[Any]]:
    """Which companion ids carry their document (bool array) and, for those, the document
    id (``None`` for the others)."""
    packed, docs = unpack_ids(ids)
    return packed, [d if p else None for d, p in zip(docs.tolist(), packed.tolist())]


def unpack_ids(ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`packed_docs` as arrays, in one numpy pass: the bool mask ``(n,)`` and the
    int64 documents ``(n,)`` (meaningless where the mask is false). An id that is not an
    unsigned 64-bit integer raises ValueError, TypeError or OverflowError."""
    arr = np.array(ids, dtype=np.uint64).reshape(-1)
    docs = (arr >> np.uint64(_ROW_BITS)) & np.uint64(_PACKED_DOCS - 1)
    return arr >= np.uint64(PACKED), docs.astype(np.int64)


def _doc_filter(keys: Sequence[str]) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key=DOC_FIELD, match=models.MatchAny(any=list(keys)))]
    )


def restrict(query_filter: models.Filter | None, ids: Sequence[Any]) -> models.Filter:
    """``query_filter`` and "the point is one of ``ids``"."""
    has = models.HasIdCondition(has_id=list(ids))
    return models.Filter(must=[has] if query_filter is None else [has, query_filter])


def token_rows(pid: Any, vector: Any, dim: int, vector_name: str) -> np.ndarray:
    """The pooled token vectors of point ``pid`` as float32 ``(m, dim)``, checked
    (:class:`InvalidMultivectorError` naming the point and the problem otherwise)."""
    # nested lists go to as_multivector as they are: its compiled reader takes them faster
    # than np.asarray (what a PointStruct holds after qdrant-client's validation)
    rows = vector if isinstance(vector, (list, tuple)) else np.asarray(vector, dtype=np.float32)
    try:
        return as_multivector(rows, dim=dim, vector_name=vector_name)
    except InvalidMultivectorError as exc:
        raise InvalidMultivectorError(
            f"point {pid!r}: {exc.problem}", vector_name=vector_name
        ) from None


def _token_points(docs: Sequence[tuple[str, np.ndarray]], lists: bool) -> models.Batch | None:
    """The companion points of ``docs`` as one column-wise ``models.Batch`` (no model per
    point): the token vectors as one float32 ``(n, d)`` array (nested lists when ``lists``:
    a server's request body), one payload dict per document. ``None``: no token vector."""
    point_ids: list[int] = []
    payloads: list[dict[str, str]] = []
    for key, rows in docs:
        payload = {DOC_FIELD: key}
        point_ids.extend(token_point_ids(key, len(rows)))
        payloads.extend(itertools.repeat(payload, len(rows)))
    if not point_ids:
        return None
    column = np.concatenate([rows for _, rows in docs]).astype(np.float32, copy=False)
    return models.Batch.model_construct(
        ids=point_ids,
        vectors={TOKEN_VECTOR: column.tolist() if lists else column},
        payloads=payloads,
    )


def coarse_rows(pool_factor: int, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Float32 ``(m_i, d)`` token matrices as the companion stores them: unit rows (as a
    Cosine engine stores them, so a write and a repair agree) pooled again by
    ``pool_factor`` (hierarchical Ward, no protected rows; unchanged at 1)."""
    if pool_factor == 1 or not arrays:
        return list(arrays)
    spec = as_spec(pool_factor, method="hierarchical", protected_tokens=0)
    units = [normalise(np.asarray(a, dtype=np.float32), zero="keep") for a in arrays]
    return pool_arrays(units, spec)


def write_tokens(
    ti: TokenIndex,
    keys: Sequence[str],
    docs: Sequence[tuple[str, np.ndarray]],
    *,
    lists: bool = False,
) -> Flow[None]:
    """Replace the companion's tokens of documents ``keys`` by ``docs`` (``(key, (m, d))``
    pairs, a subset of ``keys``; the others lose their tokens), pooled again by
    :func:`coarse_rows`: delete by document, then write, so that rewriting the same
    documents (a resumed backfill, a replay) is harmless. ``lists``: vectors as lists."""
    docs = list(zip([k for k, _ in docs], coarse_rows(ti.pool_factor, [r for _, r in docs])))
    for part in iter_batch(keys, _CHUNK):
        yield call(
            parent.delete,
            ti.companion,
            points_selector=models.FilterSelector(filter=_doc_filter(part)),
            wait=True,
        )
    for chunk in iter_batch(docs, _CHUNK):
        batch = _token_points(chunk, lists)
        if batch is not None:
            yield call(parent.upsert, ti.companion, batch, wait=True)


# -- the companion collection ------------------------------------------------------------
def create_companion(
    ti: TokenIndex, spec: Any, hnsw_config: models.HnswConfigDiff | None = None
) -> Flow[None]:
    """Create ``ti.companion`` for a multivector of ``spec`` (a VectorSpec), with the
    keyword index on the document field and ``hnsw_config`` (default: :data:`DEFAULT_HNSW`);
    an existing companion is kept (a resumed build)."""
    if (yield call(parent.collection_exists, ti.companion)):
        return
    quant = ti.quantization == "int8"
    params = models.VectorParams(size=spec.size, distance=spec.distance, on_disk=quant or None)
    quantization = None
    if quant:
        quantization = models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8, quantile=0.99, always_ram=True
            )
        )
    yield call(
        parent.create_collection,
        ti.companion,
        vectors_config={TOKEN_VECTOR: params},
        hnsw_config=DEFAULT_HNSW if hnsw_config is None else hnsw_config,
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


def journal_set(ti: TokenIndex, entry: str, keys: Sequence[str] | None) -> Flow[None]:
    journal = yield from _journal(ti)
    if keys is None:
        journal.pop(entry, None)
    else:
        journal[entry] = list(keys)
    yield call(parent.update_collection, ti.companion, metadata={JOURNAL_KEY: journal})


def journal_entry(state: PoolingState) -> str:
    """A new journal entry name of a write by this process and client."""
    return f"{_WRITER}-{state._id}-{next(_SEQ)}"


def repair(
    ti: TokenIndex, collection_name: str, keys: Sequence[str], *, lists: bool = False
) -> Flow[None]:
    """Rebuild the companion's tokens of documents ``keys`` from the main collection's
    stored vectors (documents gone from it lose their tokens)."""
    for part in iter_batch(keys, _CHUNK):
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
        yield from journal_set(ti, entry, None)


def active(state: PoolingState, collection_name: str) -> Flow[TokenIndex | None]:
    """The collection's token index (``None``: none, or no such collection). The first
    time a client meets it, unfinished writes of killed processes are repaired."""
    found = yield from indexed(state, collection_name)
    return None if found is None else found[0]


def indexed(
    state: PoolingState, collection_name: str
) -> Flow[tuple[TokenIndex, store.CollectionPooling] | None]:
    """:func:`active`'s index with the collection's vectors (``None``: no index)."""
    if not isinstance(collection_name, str) or is_companion_name(collection_name):
        return None
    cp = yield from store.load_if_exists(state, collection_name)
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
    (an error without a ready index of that vector), or by default (``None``) when one
    exists, ``summary`` is ``None`` and there is no filter (the companion holds no payload
    to filter on)."""
    if first_stage not in FIRST_STAGES:
        raise ValueError(f"first_stage must be None, 'tokens' or 'summary', got {first_stage!r}")
    usable = ti is not None and ti.ready and using in (None, ti.vector)
    if first_stage == "tokens":
        if not usable:
            why = "none"
            if ti is not None:
                why = f"of vector {ti.vector!r}" if ti.ready else "still being built"
            raise ValueError(
                f"first_stage='tokens', but collection {cp.name!r} has no ready token index "
                f"for this vector ({why}; add one with add_token_index)"
            )
        if summary is not None:
            raise ValueError("first_stage='tokens' does not combine with summary=")
        return True
    return first_stage is None and summary is None and usable and not filtered


def rank_candidates(
    docs: Sequence[Sequence[Any]], sims: Sequence[Sequence[float]], limit: int | None = None
) -> list[Any]:
    """Candidate documents ranked by their first-stage score, the best ``limit`` (``None``:
    all). ``docs[t]``/``sims[t]``: the documents and similarities of query token ``t``'s
    nearest token vectors. A document's score sums over the query tokens its best
    similarity above the token's lowest retrieved one (0 where the token did not reach
    it): MaxSim with the missing similarities imputed, as XTR does. Ties: first appearance."""
    counts = np.array([len(s) for s in sims], dtype=np.int64)
    keys = [d for t_docs in docs for d in t_docs]
    flat = np.array([float(x) for t_sims in sims for x in t_sims], dtype=np.float64)
    return rank_hits(counts, keys, flat, limit)


def rank_hits(
    counts: np.ndarray, keys: Sequence[Any] | np.ndarray, sims: np.ndarray, limit: int | None = None
) -> list[Any]:
    """:func:`rank_candidates` on hits laid end to end (what the searches return):
    ``counts[t]`` hits of query token ``t``; ``keys`` (hashable documents, or an integer
    array of decoded packed ids) and ``sims`` (float64) of every hit, token after token.
    The sums are added token by token, in order: the same floats and ties as a loop."""
    names, codes = _codes(keys)
    if not names:
        return []
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))[counts > 0]
    floors = np.minimum.reduceat(sims, starts)  # per token with hits
    token = np.repeat(np.arange(len(starts)), counts[counts > 0])
    gains = sims - floors[token]
    n = len(names)
    best = np.full(len(starts) * n, -1.0)
    np.maximum.at(best, token * n + codes, gains)
    best = np.maximum(best.reshape(len(starts), n), 0.0)  # 0: the token did not reach it
    scores = np.zeros(n)
    for row in best:  # token by token: the loop's order of additions
        scores += row
    order = np.lexsort((np.arange(n), -scores))  # best first; ties: first appearance
    if limit is not None:
        order = order[:limit]
    return [names[i] for i in order]


def _codes(keys: Sequence[Any] | np.ndarray) -> tuple[list[Any], np.ndarray]:
    """The distinct ``keys`` in order of first appearance, and each key's index in that
    list (int64 ``(n,)``); an integer array's keys come back as Python ints."""
    if isinstance(keys, np.ndarray) and keys.dtype.kind in "iu":
        if not keys.size:
            return [], np.zeros(0, dtype=np.int64)
        distinct, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        by_first = np.argsort(first)  # distinct keys in order of first appearance
        code = np.empty_like(by_first)
        code[by_first] = np.arange(len(by_first))
        return distinct[by_first].tolist(), code[inverse.reshape(-1)]
    code_of: dict[Any, int] = {}
    codes = np.array([code_of.setdefault(k, len(code_of)) for k in keys], dtype=np.int64)
    return list(code_of), codes


def _hits(
    ti: TokenIndex, rows: np.ndarray, k: int, search_params: models.SearchParams | None,
    native: bool,
) -> Flow[tuple[np.ndarray, list[Any] | np.ndarray, np.ndarray]]:
    """Every query token's ``k`` nearest companion vectors: ``(counts, documents, sims)``
    laid end to end (:func:`rank_hits`; the documents an int64 array when every hit's id
    carries its document), hits without a document dropped. An index with packed ids
    searches without payload and reads the payload only of hits without a packed id."""
    key = None if ti.packed_ids else DOC_FIELD
    if native:
        counts, ids, sims, values = yield engine_call(
            "search_batch", ti.companion, rows, using=TOKEN_VECTOR, limit=k,
            params=search_params, payload_key=key,
        )
    else:
        requests = [
            models.QueryRequest(
                query=row.tolist(), using=TOKEN_VECTOR, limit=k, params=search_params,
                with_payload=[DOC_FIELD] if key else False,
            )
            for row in rows
        ]
        responses = yield call(parent.query_batch_points, ti.companion, requests)
        counts = np.array([len(r.points) for r in responses], dtype=np.int64)
        ids = [p.id for r in responses for p in r.points]
        sims = np.array([p.score for r in responses for p in r.points], dtype=np.float64)
        values = [(p.payload or {}).get(DOC_FIELD) for r in responses for p in r.points] if key else None
    if values is None:
        packed, docs = unpack_ids(ids)  # companion ids are integers
        if packed.all():  # every hit names its document: the array, no Python per hit
            return counts, docs, sims
        # documents written without packed ids: their payload
        others = sorted({i for i, p in zip(ids, packed.tolist()) if not p})
        records = yield call(
            parent.retrieve, ti.companion, others, with_payload=[DOC_FIELD], with_vectors=False
        )
        named = {r.id: (r.payload or {}).get(DOC_FIELD) for r in records}
        values = [d if p else named.get(i) for i, d, p in zip(ids, docs.tolist(), packed.tolist())]
    # a hit's document: decoded from its packed id (int), its payload key, else dropped
    found = [v if isinstance(v, int) else doc_id(v) if isinstance(v, str) else None for v in values]
    ok = np.array([d is not None for d in found], dtype=bool)
    if not ok.all():
        token = np.repeat(np.arange(len(counts)), counts)
        counts = np.bincount(token[ok], minlength=len(counts)).astype(np.int64)
        found = [d for d, good in zip(found, ok) if good]
        sims = sims[ok]
    return counts, found, sims


def candidate_ids(
    ti: TokenIndex,
    q: np.ndarray,
    *,
    cosine: bool,
    neighbours: int | None = None,
    limit: int | None = None,
    results: int = 0,
    search_params: models.SearchParams | None = None,
    hnsw: bool = True,
    native: bool = False,
) -> Flow[list[Any]]:
    """Documents whose token vectors are among the ``neighbours`` nearest of any query
    token (``q``: float32 ``(q, d)``, all searched in one batch), the best ``limit`` by
    :func:`rank_candidates` (default: the index's ``candidates``, at least ``results``; 0:
    all). ``search_params`` default: an HNSW beam of :data:`DEFAULT_HNSW_EF` (``hnsw=False``:
    none, for local mode's exact search). ``native``: the engine's ``search_batch`` (arrays,
    no models; Qdrant Edge), else ``query_batch_points``."""
    k = check_int("neighbours", ti.neighbours if neighbours is None else neighbours)
    limit = (ti.candidates and max(ti.candidates, results)) if limit is None else limit
    check_int("prefetch_limit", limit, minimum=0)
    if search_params is None and hnsw:
        search_params = models.SearchParams(hnsw_ef=max(DEFAULT_HNSW_EF, k))
    rows = normalise(q, zero="keep").astype(np.float32) if cosine else q
    counts, docs, sims = yield from _hits(ti, rows, k, search_params, native)
    return rank_hits(counts, docs, sims, limit or None)
