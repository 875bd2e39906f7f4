"""Conversions between qdrant-client's models and Qdrant Edge's Python types.

Edge (``qdrant_edge``) has its own classes for every request part (points, filters,
queries, selectors). The backend in :mod:`.edge` accepts what ``QdrantClient`` accepts
(``models.*``, plain lists, numpy arrays, UUID strings) and turns it into Edge's types
here, and Edge's results back into ``models.*``: point ids come back from Edge as
``uuid.UUID`` and are returned as strings, as qdrant-client does.

Anything Edge cannot express raises :class:`EdgeUnsupportedError` naming the feature,
never a silently different answer.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import qdrant_edge as E
from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python
from qdrant_client import models

from . import EdgeUnsupportedError

__all__ = [
    "EdgeUnsupportedError",
    "ResultShape",
    "edge_filter",
    "edge_id",
    "edge_payload",
    "edge_point",
    "edge_vector_struct",
    "edge_with_payload",
    "edge_with_vectors",
    "model_id",
    "parse_model",
    "selector_ids_or_filter",
]


# ---------------------------------------------------------------------------------------
# request parts given as dicts
# ---------------------------------------------------------------------------------------
@functools.cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def parse_model(value: Any, annotation: Any) -> Any:
    """``value`` validated into qdrant-client's model ``annotation`` when it is a dict (or a
    list holding one), as qdrant-client's remote client does when it builds its request
    model; models, lists of models, numpy arrays and ``None`` pass as they are. Called
    once per request part, where a backend method receives it.

    Raises:
        pydantic.ValidationError: (a ``ValueError``) the dict is not a valid ``annotation``.
    """
    if isinstance(value, Mapping) or (
        isinstance(value, list) and any(isinstance(v, Mapping) for v in value)
    ):
        return _adapter(annotation).validate_python(value)
    return value


PREFETCH = models.Prefetch | list[models.Prefetch]
"""The ``prefetch`` argument of ``query_points``: one prefetch or a list."""


# ---------------------------------------------------------------------------------------
# ids, payloads, vectors
# ---------------------------------------------------------------------------------------
def edge_id(pid: Any) -> int | str:
    """A point id for Edge: an unsigned int, or a UUID (string or ``uuid.UUID``) as a
    canonical string. Anything else is a ``ValueError`` naming the id."""
    if isinstance(pid, (bool, np.bool_)):
        raise ValueError(f"Point id {pid!r} is not an unsigned integer or a UUID")  # noqa: TRY004 - ValueError, as qdrant-client
    if isinstance(pid, (int, np.integer)):
        if pid < 0:
            raise ValueError(f"Point id {pid!r} is negative: ids are unsigned integers or UUIDs")
        return int(pid)
    if isinstance(pid, uuid.UUID):
        return str(pid)
    if isinstance(pid, str):
        try:
            return str(uuid.UUID(pid))
        except ValueError:
            raise ValueError(f"Point id {pid!r} is not an unsigned integer or a UUID") from None
    raise ValueError(f"Point id {pid!r} ({type(pid).__name__}) is not an unsigned integer or a UUID")


def model_id(pid: Any) -> int | str:
    """Edge's id back as qdrant-client returns it (``int`` or UUID ``str``)."""
    return str(pid) if isinstance(pid, uuid.UUID) else pid


def edge_payload(payload: Any) -> dict[str, Any] | None:
    """JSON-ready payload (datetimes, UUIDs, numpy scalars become JSON values, as a
    server stores them)."""
    if payload is None:
        return None
    if not isinstance(payload, Mapping):
        raise ValueError(f"payload must be a dict, got {type(payload).__name__}")  # noqa: TRY004 - ValueError, as qdrant-client
    return to_jsonable_python(dict(payload))


def _dense(vec: Any) -> Any:
    """A query's dense or multi vector as Edge takes it: nested Python lists. Edge's
    constructors read a numpy array element by element (1.6 ms for 180 x 128 floats,
    against 0.65 ms for ``tolist()`` plus reading the lists), so arrays and tensors become
    lists here (points' vectors: :func:`_point_rows`)."""
    if isinstance(vec, np.ndarray):
        return vec.astype(np.float32, copy=False).tolist()
    if hasattr(vec, "detach") and hasattr(vec, "cpu"):
        return vec.detach().cpu().float().numpy().tolist()
    return vec


def _point_rows(vec: Any) -> Any:
    """A point's dense or multi vector given as a numpy array or tensor, as Edge reads it
    fastest: float32 memoryviews (one per row of a multivector). Edge reads them as
    sequences of floats, without the float objects and lists of ``tolist()``: 0.20 ms
    against 0.27 ms for a 90 x 128 multivector. Lists pass as they are."""
    if isinstance(vec, np.ndarray):
        arr = np.ascontiguousarray(vec, dtype=np.float32)
    elif hasattr(vec, "detach") and hasattr(vec, "cpu"):
        arr = np.ascontiguousarray(vec.detach().cpu().float().numpy())
    elif hasattr(vec, "__array__"):  # other array-likes, e.g. a vector still being pooled
        arr = np.ascontiguousarray(np.asarray(vec), dtype=np.float32)
    else:
        return vec
    if arr.ndim == 1:
        return arr.data
    if arr.ndim != 2 or arr.shape[1] == 0:
        return arr.tolist()  # Edge names what is wrong
    n, d = arr.shape
    flat = arr.data.cast("B").cast("f")
    return [flat[i * d : (i + 1) * d] for i in range(n)]


def edge_vector(vec: Any, name: str = "") -> Any:
    """A point's vector (dense, multi or sparse) as Edge takes it."""
    if isinstance(vec, models.SparseVector):
        return E.SparseVector(list(vec.indices), list(vec.values))
    if isinstance(vec, (models.Document, models.Image, models.InferenceObject)):
        raise EdgeUnsupportedError(
            f"{type(vec).__name__} input for vector {name!r}",
            "embed it first (local inference runs in QdrantClient before the engine)",
        )
    return _point_rows(vec)


def edge_vector_struct(vector: Any) -> Any:
    """A point's vector struct: unnamed dense/multi vector, or ``{name: vector}``."""
    if isinstance(vector, Mapping):
        return {name: edge_vector(v, name) for name, v in vector.items()}
    return edge_vector(vector)


def edge_point(point: Any) -> E.Point:
    """``models.PointStruct`` (or a ``Record``) as an Edge point."""
    vector = point.vector if point.vector is not None else {}
    return E.Point(edge_id(point.id), edge_vector_struct(vector), edge_payload(point.payload))


def batch_points(batch: models.Batch) -> list[Any]:
    """``models.Batch`` (columns) as point structs."""
    ids = list(batch.ids)
    vectors = batch.vectors
    n = len(ids)
    if isinstance(vectors, Mapping):
        cols = {k: list(v) for k, v in vectors.items()}
        for k, col in cols.items():
            if len(col) != n:
                raise ValueError(f"Batch: vector {k!r} has {len(col)} rows for {n} ids")
        rows: list[Any] = [{k: cols[k][i] for k in cols} for i in range(n)]
    else:
        rows = list(vectors)
        if len(rows) != n:
            raise ValueError(f"Batch: {len(rows)} vectors for {n} ids")
    payloads = list(batch.payloads) if batch.payloads is not None else [None] * n
    if len(payloads) != n:
        raise ValueError(f"Batch: {len(payloads)} payloads for {n} ids")
    return [
        models.PointStruct.model_construct(id=i, vector=v, payload=p)
        for i, v, p in zip(ids, rows, payloads)
    ]


def _out_vector(vec: Any) -> Any:
    if isinstance(vec, E.SparseVector):
        return models.SparseVector(indices=list(vec.indices), values=list(vec.values))
    return vec


def model_vector(vector: Any) -> Any:
    """Edge's vectors back: ``{name: ...}``; the unnamed vector alone as its value."""
    if vector is None:
        return None
    if isinstance(vector, Mapping):
        if not vector:
            return {}
        if set(vector) == {""}:
            return _out_vector(vector[""])
        return {k: _out_vector(v) for k, v in vector.items()}
    return _out_vector(vector)


class ResultShape(NamedTuple):
    """What a read returns of each point: its payload or not (``with_payload``), and
    which vectors (``with_vectors``: Edge's ``with_vector``, a bool or vector names).

    Vectors are selected here again: after MMR, Edge returns the vector it diversified on
    even when the request asked for none."""

    with_payload: bool
    with_vectors: Any

    def vector(self, vector: Any) -> Any:
        if not self.with_vectors:
            return None
        out = model_vector(vector)
        if isinstance(self.with_vectors, list) and isinstance(out, Mapping):
            return {k: v for k, v in out.items() if k in self.with_vectors}
        return out

    def scored(self, points: Iterable[Any]) -> list[models.ScoredPoint]:
        return [
            models.ScoredPoint.model_construct(
                id=model_id(p.id),
                version=p.version,
                score=p.score,
                payload=p.payload if self.with_payload else None,
                vector=self.vector(p.vector),
                shard_key=None,
                order_value=p.order_value,
            )
            for p in points
        ]

    def records(self, records: Iterable[Any]) -> list[models.Record]:
        return [
            models.Record.model_construct(
                id=model_id(r.id),
                payload=r.payload if self.with_payload else None,
                vector=self.vector(r.vector),
                shard_key=None,
                order_value=r.order_value,
            )
            for r in records
        ]


# ---------------------------------------------------------------------------------------
# selectors
# ---------------------------------------------------------------------------------------
def edge_with_payload(with_payload: Any) -> tuple[Any, bool]:
    """``with_payload`` for Edge (a bool, field names, a selector model or its dict), and
    whether any payload is returned."""
    with_payload = parse_model(with_payload, models.WithPayloadInterface)
    if with_payload is None or isinstance(with_payload, bool):
        return bool(with_payload), bool(with_payload)
    if isinstance(with_payload, models.PayloadSelectorInclude):
        return E.PayloadSelector.Include(list(with_payload.include)), True
    if isinstance(with_payload, models.PayloadSelectorExclude):
        return E.PayloadSelector.Exclude(list(with_payload.exclude)), True
    if isinstance(with_payload, Sequence) and not isinstance(with_payload, str):
        return E.PayloadSelector.Include([str(k) for k in with_payload]), True
    raise ValueError(f"with_payload: unsupported selector {with_payload!r}")


def edge_with_vectors(with_vectors: Any) -> Any:
    if with_vectors is None or isinstance(with_vectors, bool):
        return bool(with_vectors)
    if isinstance(with_vectors, Sequence) and not isinstance(with_vectors, str):
        return [str(v) for v in with_vectors]
    raise ValueError(f"with_vectors: unsupported selector {with_vectors!r}")


def selector_ids_or_filter(selector: Any) -> tuple[list[int | str] | None, models.Filter | None]:
    """A points selector (ids, ``PointIdsList``, ``FilterSelector`` or a ``Filter``)."""
    if isinstance(selector, models.PointIdsList):
        return [edge_id(i) for i in selector.points], None
    if isinstance(selector, models.FilterSelector):
        return None, selector.filter
    if isinstance(selector, models.Filter):
        return None, selector
    if isinstance(selector, Iterable) and not isinstance(selector, (str, bytes, Mapping)):
        return [edge_id(i) for i in selector], None
    raise ValueError(f"unsupported points selector {selector!r}")


# ---------------------------------------------------------------------------------------
# filters
# ---------------------------------------------------------------------------------------
def _listify(x: Any) -> list[Any] | None:
    if x is None:
        return None
    return list(x) if isinstance(x, list) else [x]


def edge_filter(f: models.Filter | Mapping[str, Any] | None) -> E.Filter | None:
    """A filter (model or dict) as Edge's; a boolean ``MatchValue`` becomes one Edge
    matches (see :func:`_match_value`)."""
    f = parse_model(f, models.Filter)
    if f is None:
        return None
    if not isinstance(f, models.Filter):
        raise ValueError(f"expected a models.Filter, got {type(f).__name__}")  # noqa: TRY004 - ValueError, as qdrant-client
    min_should = None
    if f.min_should is not None:
        min_should = E.MinShould(
            [_condition(c) for c in f.min_should.conditions], f.min_should.min_count
        )
    return E.Filter(
        must=_conditions(f.must),
        should=_conditions(f.should),
        must_not=_conditions(f.must_not),
        min_should=min_should,
    )


def _conditions(cs: Any) -> list[Any] | None:
    items = _listify(cs)
    return None if items is None else [_condition(c) for c in items]


def _geo(p: models.GeoPoint) -> E.GeoPoint:
    return E.GeoPoint(lon=p.lon, lat=p.lat)


def _condition(c: Any) -> Any:
    if isinstance(c, models.Filter):
        return edge_filter(c)
    if isinstance(c, models.FieldCondition):
        return _field_condition(c)
    if isinstance(c, models.IsEmptyCondition):
        return E.IsEmptyCondition(c.is_empty.key)
    if isinstance(c, models.IsNullCondition):
        return E.IsNullCondition(c.is_null.key)
    if isinstance(c, models.HasIdCondition):
        return E.HasIdCondition({edge_id(i) for i in c.has_id})
    if isinstance(c, models.HasVectorCondition):
        return E.HasVectorCondition(c.has_vector)
    if isinstance(c, models.NestedCondition):
        return E.NestedCondition(c.nested.key, edge_filter(c.nested.filter) or E.Filter())
    if isinstance(c, models.SliceCondition):
        return E.SliceCondition(c.slice.total, c.slice.index)  # type: ignore[attr-defined]  # not in the binding's stub
    raise EdgeUnsupportedError(f"filter condition {type(c).__name__}")


def _match_value(value: Any) -> Any:
    """A ``MatchValue`` for Edge. qdrant-edge 0.9's binding reads a Python ``bool`` as an
    integer (``E.MatchValue(True).value == 1``), so a boolean condition would match no
    boolean payload; a ``numpy.bool_`` is read as a bool (and not as an int). See
    docs/engines.md, "Engine bugs worth reporting upstream"."""
    if isinstance(value, (bool, np.bool_)):
        return E.MatchValue(np.bool_(value))  # type: ignore[arg-type]  # read as a bool
    return E.MatchValue(value)


def _match(m: Any) -> Any:
    if m is None:
        return None
    if isinstance(m, models.MatchValue):
        return _match_value(m.value)
    if isinstance(m, models.MatchText):
        return E.MatchText(m.text)
    if isinstance(m, models.MatchTextAny):
        return E.MatchTextAny(m.text_any)
    if isinstance(m, models.MatchPhrase):
        return E.MatchPhrase(m.phrase)
    if isinstance(m, models.MatchPrefix):
        return E.MatchPrefix(m.prefix)
    if isinstance(m, models.MatchSubstring):
        return E.MatchSubstring(m.substring)
    if isinstance(m, (models.MatchAny, models.MatchExcept)):
        values = list(m.any if isinstance(m, models.MatchAny) else m.except_)
        if any(isinstance(v, (bool, np.bool_)) for v in values):
            # only reachable through model_construct: the models (and a server) take strings
            # or integers here, and Edge's binding would read the booleans as 0/1
            raise ValueError(
                f"{type(m).__name__} takes strings or integers, got {values!r}: "
                "match a boolean with MatchValue"
            )
        cls = E.MatchAny if isinstance(m, models.MatchAny) else E.MatchExcept
        return cls(values)  # type: ignore[arg-type]
    raise EdgeUnsupportedError(f"match condition {type(m).__name__}")


def _range(r: Any) -> Any:
    if r is None:
        return None
    if isinstance(r, models.DatetimeRange):
        def iso(v: Any) -> str | None:
            if v is None:
                return None
            return v if isinstance(v, str) else v.isoformat()

        return E.RangeDateTime(gte=iso(r.gte), gt=iso(r.gt), lte=iso(r.lte), lt=iso(r.lt))
    return E.RangeFloat(gte=r.gte, gt=r.gt, lte=r.lte, lt=r.lt)


def _field_condition(c: models.FieldCondition) -> E.FieldCondition:
    bbox = radius = polygon = values_count = None
    if c.geo_bounding_box is not None:
        bbox = E.GeoBoundingBox(_geo(c.geo_bounding_box.top_left), _geo(c.geo_bounding_box.bottom_right))
    if c.geo_radius is not None:
        radius = E.GeoRadius(_geo(c.geo_radius.center), c.geo_radius.radius)
    if c.geo_polygon is not None:
        polygon = E.GeoPolygon(
            [_geo(p) for p in c.geo_polygon.exterior.points],
            [[_geo(p) for p in ring.points] for ring in c.geo_polygon.interiors or []] or None,
        )
    if c.values_count is not None:
        v = c.values_count
        values_count = E.ValuesCount(lt=v.lt, gt=v.gt, lte=v.lte, gte=v.gte)
    return E.FieldCondition(
        key=c.key,
        match=_match(c.match),
        range=_range(c.range),
        geo_bounding_box=bbox,
        geo_radius=radius,
        geo_polygon=polygon,
        values_count=values_count,
        is_empty=c.is_empty,
        is_null=c.is_null,
    )


def has_id_excluded(f: models.Filter | None, ids: Sequence[Any]) -> models.Filter | None:
    """``f`` that also excludes ``ids`` (points used as query examples are not results,
    as in Qdrant)."""
    if not ids:
        return f
    cond = models.HasIdCondition(has_id=list(ids))
    if f is None:
        return models.Filter(must_not=[cond])
    return models.Filter(must=[f], must_not=[cond])


# ---------------------------------------------------------------------------------------
# search params and queries
# ---------------------------------------------------------------------------------------
def edge_search_params(params: models.SearchParams | Mapping[str, Any] | None) -> E.SearchParams | None:
    p: models.SearchParams | None = parse_model(params, models.SearchParams)
    if p is None:
        return None
    quant = None
    if p.quantization is not None:
        q = p.quantization
        quant = E.QuantizationSearchParams(
            ignore=bool(q.ignore), rescore=q.rescore, oversampling=q.oversampling
        )
    acorn = None
    a = getattr(p, "acorn", None)
    if a is not None:
        acorn = E.AcornSearchParams(enable=bool(a.enable), max_selectivity=a.max_selectivity)
    idf = None
    if isinstance(p.idf, models.IdfCorpusParams):  # IDF over the points of a filter
        idf = E.IdfParams(corpus=edge_filter(p.idf.corpus))
    return E.SearchParams(
        hnsw_ef=p.hnsw_ef,
        exact=bool(p.exact),
        quantization=quant,
        indexed_only=bool(p.indexed_only),
        acorn=acorn,
        idf=idf,
    )


def is_point_id(x: Any) -> bool:
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, (int, np.integer, uuid.UUID)):
        return True
    if isinstance(x, str):
        try:
            uuid.UUID(x)
        except ValueError:
            return False
        return True
    return False


def _query_vector(v: Any) -> Any:
    """A query vector (given, or looked up from a point) as Edge takes it."""
    if isinstance(v, models.SparseVector):
        return E.SparseVector(list(v.indices), list(v.values))
    if isinstance(v, (models.Document, models.Image, models.InferenceObject)):
        raise EdgeUnsupportedError(f"{type(v).__name__} query", "embed it first")
    return _dense(v)


class QueryConverter:
    """Turns a ``query_points`` query (and its prefetches) into Edge's types.

    ``lookup(collection, vector_name, point_id)`` returns the stored vector of a point, for
    queries that name points instead of vectors; those points are then excluded from
    the results, as Qdrant does.
    """

    def __init__(self, collection_name: str, lookup: Any) -> None:
        self.collection_name = collection_name
        self.lookup = lookup

    def vector_input(
        self, v: Any, using: str | None, lookup_from: Any, mentioned: list[Any]
    ) -> Any:
        if is_point_id(v):
            lookup_from = parse_model(lookup_from, models.LookupLocation)
            coll = lookup_from.collection if lookup_from is not None else self.collection_name
            name = (
                lookup_from.vector
                if lookup_from is not None and lookup_from.vector is not None
                else (using or "")
            )
            if coll == self.collection_name:
                mentioned.append(v)
            v = self.lookup(coll, name, v)
        return _query_vector(v)

    def query(
        self, q: Any, using: str | None, lookup_from: Any, mentioned: list[Any], limit: int = 10
    ) -> Any:
        """One query of ``query_points``/a prefetch as an Edge scoring query (or None).
        ``limit``: the request's (or prefetch's) limit, MMR's default number of candidates."""
        if q is None:
            return None

        def vin(v: Any) -> Any:
            return self.vector_input(v, using, lookup_from, mentioned)

        if isinstance(q, models.NearestQuery):
            vec = vin(q.nearest)
            if q.mmr is not None:
                return _mmr(vec, q.mmr, using, limit)
            return E.Query.Nearest(vec, using=using)
        if isinstance(q, models.RecommendQuery):
            r = q.recommend
            pos = [vin(v) for v in r.positive or []]
            neg = [vin(v) for v in r.negative or []]
            strategy = r.strategy or models.RecommendStrategy.AVERAGE_VECTOR
            if strategy == models.RecommendStrategy.BEST_SCORE:
                return E.Query.RecommendBestScore(E.RecommendQuery(pos, neg), using=using)
            if strategy == models.RecommendStrategy.SUM_SCORES:
                return E.Query.RecommendSumScores(E.RecommendQuery(pos, neg), using=using)
            return E.Query.Nearest(_average_vector(pos, neg), using=using)
        if isinstance(q, models.DiscoverQuery):
            ctx = q.discover.context
            pairs = ctx if isinstance(ctx, list) else [ctx]
            return E.Query.Discover(
                E.DiscoverQuery(
                    vin(q.discover.target),
                    [E.ContextPair(vin(p.positive), vin(p.negative)) for p in pairs],
                ),
                using=using,
            )
        if isinstance(q, models.ContextQuery):
            ctx = q.context
            pairs = ctx if isinstance(ctx, list) else [ctx]
            return E.Query.Context(
                E.ContextQuery([E.ContextPair(vin(p.positive), vin(p.negative)) for p in pairs]),
                using=using,
            )
        if isinstance(q, models.FusionQuery):
            if using:
                raise ValueError("Fusion queries cannot be combined with the 'using' field.")
            if q.fusion == models.Fusion.RRF:
                return E.Fusion.Rrf(k=2)  # Qdrant's default RRF constant
            if q.fusion == models.Fusion.DBSF:
                return E.Fusion.Dbsf()
            raise EdgeUnsupportedError(f"fusion {q.fusion!r}")
        if isinstance(q, models.RrfQuery):
            if using:
                raise ValueError("Fusion queries cannot be combined with the 'using' field.")
            k = q.rrf.k if q.rrf.k is not None else 2
            if k < 1:
                raise ValueError(f"rrf k value {k} is invalid. Must be 1 or larger.")
            return E.Fusion.Rrf(k=k, weights=q.rrf.weights)
        if isinstance(q, models.OrderByQuery):
            return edge_order_by(q.order_by)
        if isinstance(q, models.SampleQuery):
            return E.Sample.Random
        if isinstance(q, models.FormulaQuery):
            return E.Formula(edge_expression(q.formula), q.defaults or None)
        if isinstance(q, models.RelevanceFeedbackQuery):
            rf = q.relevance_feedback
            naive = getattr(rf.strategy, "naive", None)
            if naive is None:
                raise EdgeUnsupportedError(f"relevance feedback strategy {type(rf.strategy).__name__}")
            return E.Query.FeedbackNaive(
                E.FeedbackNaiveQuery(
                    vin(rf.target),
                    [E.FeedbackItem(vin(item.example), item.score) for item in rf.feedback],
                    E.NaiveFeedbackStrategy(naive.a, naive.b, naive.c),
                ),
                using=using,
            )
        if isinstance(q, models.TextQuery):
            if not using:
                raise ValueError("A text query needs `using`: the payload field whose text index scores")
            text = q.text if isinstance(q.text, str) else q.text.query
            scoring = None if isinstance(q.text, str) else q.text.scoring
            bm25 = getattr(scoring, "bm25", None)
            return E.TextQuery(using, text, E.Bm25Params(k=bm25.k, b=bm25.b) if bm25 is not None else None)
        # a bare vector (or point id) is a nearest query
        return E.Query.Nearest(vin(q), using=using)

    def prefetch(self, p: models.Prefetch) -> E.Prefetch:
        mentioned: list[Any] = []
        limit = p.limit if p.limit is not None else 10
        if limit < 1:
            raise ValueError(f"prefetch limit value {limit} is invalid. Must be 1 or larger.")
        query = self.query(p.query, p.using, p.lookup_from, mentioned, limit)
        flt = has_id_excluded(parse_model(p.filter, models.Filter), mentioned)
        if p.score_threshold is not None and p.query is None:
            raise ValueError("A query is needed to use the score_threshold.")
        if p.prefetch and p.query is None:
            raise ValueError("A query is needed to merge the prefetches.")
        return E.Prefetch(
            limit=limit,
            query=query,
            prefetches=self.prefetches(p.prefetch),
            params=edge_search_params(p.params),
            filter=edge_filter(flt),
            score_threshold=p.score_threshold,
        )

    def prefetches(self, prefetch: Any) -> list[E.Prefetch] | None:
        """``prefetch`` of a request or a prefetch (one or a list, models or dicts)."""
        prefetch = parse_model(prefetch, PREFETCH)
        if prefetch is None:
            return None
        items = prefetch if isinstance(prefetch, list) else [prefetch]
        return [self.prefetch(p) for p in items if p is not None] or None


def edge_order_by(ob: Any) -> E.OrderBy:
    """``order_by`` (a key, ``models.OrderBy`` or its dict) as Edge's."""
    ob = parse_model(ob, models.OrderByInterface)
    if isinstance(ob, str):
        return E.OrderBy(ob)
    direction = None
    if ob.direction is not None:
        direction = E.Direction.Desc if ob.direction == models.Direction.DESC else E.Direction.Asc
    start: Any = ob.start_from
    if start is not None and not isinstance(start, (int, float, str)):
        start = start.isoformat()
    return E.OrderBy(ob.key, direction=direction, start_from=start)


_UNARY: dict[type, tuple[str, Any]] = {
    models.NegExpression: ("neg", E.Expression.Neg),
    models.AbsExpression: ("abs", E.Expression.Abs),
    models.SqrtExpression: ("sqrt", E.Expression.Sqrt),
    models.ExpExpression: ("exp", E.Expression.Exp),
    models.Log10Expression: ("log10", E.Expression.Log10),
    models.LnExpression: ("ln", E.Expression.Ln),
    models.AcoshExpression: ("acosh", E.Expression.Acosh),
}
_NARY: dict[type, tuple[str, Any]] = {
    models.MultExpression: ("mult", E.Expression.Mult),
    models.SumExpression: ("sum", E.Expression.Sum),
    models.MaxExpression: ("max", E.Expression.Max),
    models.MinExpression: ("min", E.Expression.Min),
}
_DECAY: dict[type, tuple[str, Any]] = {
    models.LinDecayExpression: ("lin_decay", E.DecayKind.Lin),
    models.ExpDecayExpression: ("exp_decay", E.DecayKind.Exp),
    models.GaussDecayExpression: ("gauss_decay", E.DecayKind.Gauss),
}


def edge_expression(x: Any) -> Any:
    """A formula expression (``models.Expression``) as Edge's: constants, variables
    (``"$score"``, ``"$score[i]"``, payload keys), conditions, and every operator."""
    if isinstance(x, bool):
        raise ValueError(f"formula: {x!r} is not a number")  # noqa: TRY004 - ValueError, as pydantic
    if isinstance(x, (int, float)):
        return E.Expression.Constant(float(x))
    if isinstance(x, str):
        return E.Expression.Variable(x)
    if isinstance(x, models.GeoDistance):
        g = x.geo_distance
        return E.Expression.GeoDistance(_geo(g.origin), g.to)
    if isinstance(x, models.DatetimeExpression):
        return E.Expression.Datetime(x.datetime)
    if isinstance(x, models.DatetimeKeyExpression):
        return E.Expression.DatetimeKey(x.datetime_key)
    if isinstance(x, models.DivExpression):
        d = x.div
        return E.Expression.Div(edge_expression(d.left), edge_expression(d.right), d.by_zero_default)
    if isinstance(x, models.PowExpression):
        return E.Expression.Pow(edge_expression(x.pow.base), edge_expression(x.pow.exponent))
    if type(x) in _UNARY:
        field, op = _UNARY[type(x)]
        return op(edge_expression(getattr(x, field)))
    if type(x) in _NARY:
        field, op = _NARY[type(x)]
        return op([edge_expression(e) for e in getattr(x, field)])
    if type(x) in _DECAY:
        field, decay = _DECAY[type(x)]
        p = getattr(x, field)
        target = edge_expression(p.target) if p.target is not None else None
        return E.Expression.Decay(decay, edge_expression(p.x), target, p.midpoint, p.scale)
    return E.Expression.Condition(_condition(x))


def _mmr(vec: Any, mmr: models.Mmr, using: str | None, limit: int) -> E.Mmr:
    """MMR as Qdrant defines it: ``lambda = 1 - diversity`` (default diversity 0.5), and
    ``candidates_limit`` defaulting to the request's ``limit``. Edge has MMR on dense and
    multivectors only: on a sparse vector its engine fails with a service error, so that is
    refused here by name."""
    if isinstance(vec, E.SparseVector):
        raise EdgeUnsupportedError(
            f"MMR on the sparse vector {using!r}", "use a dense or multivector for MMR"
        )
    diversity = mmr.diversity if mmr.diversity is not None else 0.5
    if not 0.0 <= diversity <= 1.0:
        raise ValueError(f"MMR diversity must be between 0.0 and 1.0, got {diversity}")
    candidates = mmr.candidates_limit if mmr.candidates_limit is not None else limit
    return E.Mmr(vec, 1.0 - diversity, candidates, using=using or "")


def _average_vector(pos: list[Any], neg: list[Any]) -> Any:
    """Qdrant's ``average_vector`` recommend strategy, as local mode and the server compute
    it: dense ``avg(pos) + (avg(pos) - avg(neg))``; sparse the same over the union of
    indices; multivectors the rows of every positive followed by the negated rows of every
    negative (one query multivector scored by MaxSim)."""
    if not pos:
        raise ValueError("Positive list is empty")
    if all(isinstance(v, E.SparseVector) for v in pos + neg):
        return _sparse_average(pos, neg)
    if any(isinstance(v, E.SparseVector) for v in pos + neg):
        raise ValueError("recommend: sparse and dense examples cannot be mixed")
    arrays = [np.asarray(v, dtype=np.float32) for v in pos + neg]
    if all(a.ndim == 2 for a in arrays):
        rows = arrays[: len(pos)] + [-a for a in arrays[len(pos) :]]
        return np.concatenate(rows, axis=0).tolist()
    if not all(a.ndim == 1 for a in arrays) or len({a.shape for a in arrays}) != 1:
        raise ValueError("recommend: the examples are not vectors of one dense vector space")
    avg = np.mean(arrays[: len(pos)], axis=0)
    if neg:
        avg = avg + (avg - np.mean(arrays[len(pos) :], axis=0))
    return avg.tolist()


def _sparse_average(pos: list[Any], neg: list[Any]) -> E.SparseVector:
    """``average_vector`` of sparse examples: per index, the mean over the examples (an
    example without the index counts 0), then ``2 * mean(pos) - mean(neg)``."""

    def mean(vectors: list[Any]) -> dict[int, float]:
        acc: dict[int, float] = {}
        for v in vectors:
            if len(set(v.indices)) != len(v.indices):
                raise ValueError("Indices must be unique")
            for i, x in zip(v.indices, v.values):
                acc[i] = acc.get(i, 0.0) + x
        return {i: x / len(vectors) for i, x in acc.items()}

    p = mean(pos)
    n = mean(neg) if neg else {}
    keys = sorted(set(p) | set(n))
    if neg:
        values = [2 * p.get(i, 0.0) - n.get(i, 0.0) for i in keys]
    else:
        values = [p[i] for i in keys]
    return E.SparseVector(keys, values)
