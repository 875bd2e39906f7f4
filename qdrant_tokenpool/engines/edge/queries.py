"""Queries between qdrant-client's models and Qdrant Edge's types: a ``query_points``
request (every query type, prefetches, search params, ``order_by``, formulas, MMR, the
recommend strategies) as Edge's ``QueryRequest``, and what Edge answers short refilled."""

from __future__ import annotations

import itertools
import operator
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import qdrant_edge as E
from qdrant_client import models

from ...pooling.validation import is_array, to_numpy
from .. import EdgeUnsupportedError
from .errors import query_errors
from .filters import edge_condition, edge_filter, geo_point, has_id_excluded
from .points import ResultShape, edge_with_payload, edge_with_vectors, model_id, parse_model

__all__ = [
    "QueryConverter",
    "edge_expression",
    "edge_order_by",
    "edge_search_params",
    "facet_response",
    "is_point_id",
    "order_by_refill",
    "query_request",
]


PREFETCH = models.Prefetch | list[models.Prefetch]
"""The ``prefetch`` argument of ``query_points``: one prefetch or a list."""


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
    """A query vector (given, or looked up from a point) as Edge takes it; arrays as nested
    lists, which Edge reads fastest (it reads a numpy array element by element)."""
    if isinstance(v, models.SparseVector):
        return E.SparseVector(list(v.indices), list(v.values))
    if isinstance(v, (models.Document, models.Image, models.InferenceObject)):
        raise EdgeUnsupportedError(f"{type(v).__name__} query", "embed it first")
    if is_array(v):
        return to_numpy(v).astype(np.float32, copy=False).tolist()
    return v


class QueryConverter:
    """Turns a ``query_points`` query (and its prefetches) into Edge's types.
    ``lookup(collection, vector_name, point_id)``: a point's stored vector, for queries that
    name points (then excluded from the results, as Qdrant does)."""

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

        def pairs(ctx: Any) -> list[Any]:
            items = ctx if isinstance(ctx, list) else [ctx]
            return [E.ContextPair(vin(p.positive), vin(p.negative)) for p in items]

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
            target = vin(q.discover.target)
            return E.Query.Discover(E.DiscoverQuery(target, pairs(q.discover.context)), using=using)
        if isinstance(q, models.ContextQuery):
            return E.Query.Context(E.ContextQuery(pairs(q.context)), using=using)
        if isinstance(q, (models.FusionQuery, models.RrfQuery)) and using:
            raise ValueError("Fusion queries cannot be combined with the 'using' field.")
        if isinstance(q, models.FusionQuery):
            if q.fusion == models.Fusion.RRF:
                return E.Fusion.Rrf(k=2)  # Qdrant's default RRF constant
            if q.fusion == models.Fusion.DBSF:
                return E.Fusion.Dbsf()
            raise EdgeUnsupportedError(f"fusion {q.fusion!r}")
        if isinstance(q, models.RrfQuery):
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


_UNARY = (
    models.NegExpression, models.AbsExpression, models.SqrtExpression, models.ExpExpression,
    models.Log10Expression, models.LnExpression, models.AcoshExpression,
)
_NARY = (models.MultExpression, models.SumExpression, models.MaxExpression, models.MinExpression)
_DECAY = (models.LinDecayExpression, models.ExpDecayExpression, models.GaussDecayExpression)
"""Formula operators whose model's one field names Edge's: ``neg`` -> ``Expression.Neg``,
``mult`` -> ``Expression.Mult``, ``lin_decay`` -> ``DecayKind.Lin``."""


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
        return E.Expression.GeoDistance(geo_point(g.origin), g.to)
    if isinstance(x, models.DatetimeExpression):
        return E.Expression.Datetime(x.datetime)
    if isinstance(x, models.DatetimeKeyExpression):
        return E.Expression.DatetimeKey(x.datetime_key)
    if isinstance(x, models.DivExpression):
        d = x.div
        return E.Expression.Div(edge_expression(d.left), edge_expression(d.right), d.by_zero_default)
    if isinstance(x, models.PowExpression):
        return E.Expression.Pow(edge_expression(x.pow.base), edge_expression(x.pow.exponent))
    if isinstance(x, _UNARY + _NARY + _DECAY):
        (field,) = type(x).model_fields
        p = getattr(x, field)
        if isinstance(x, _UNARY):
            return getattr(E.Expression, field.capitalize())(edge_expression(p))
        if isinstance(x, _NARY):
            return getattr(E.Expression, field.capitalize())([edge_expression(e) for e in p])
        decay = getattr(E.DecayKind, field.split("_")[0].capitalize())
        target = edge_expression(p.target) if p.target is not None else None
        return E.Expression.Decay(decay, edge_expression(p.x), target, p.midpoint, p.scale)
    return E.Expression.Condition(edge_condition(x))


def _mmr(vec: Any, mmr: models.Mmr, using: str | None, limit: int) -> E.Mmr:
    """MMR as Qdrant defines it: ``lambda = 1 - diversity`` (default 0.5), ``candidates_limit``
    defaulting to the request's ``limit``. Refused by name on a sparse vector, where Edge's
    engine fails with a service error."""
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


def order_by_refill(got: list[Any], limit: int, fetch: Any) -> list[Any]:
    """An order_by answer of ``limit`` entries where Edge gave fewer than exist: qdrant-edge
    0.9 counts a point's repeated key values (``[4, 4]``) toward the limit before dropping
    the repeats (docs/engines.md). ``fetch(n)`` asks Edge for ``n``; the shortfall is asked
    for again until the answer is full or stops growing."""
    asked = limit
    while len(got) < limit:
        asked += limit - len(got)
        more = fetch(asked)
        if len(more) <= len(got):
            break
        got = more
    return got[:limit]


def facet_response(fetch: Callable[[int], list[Any]], limit: int) -> models.FacetResponse:
    """A facet's ``limit`` values by count descending, then by value, as local mode and a
    server give them. Edge cuts ties at ``limit`` in no fixed order, so ``fetch(n)`` (Edge's
    hits for ``n``) is asked for more until every value tied with the last kept one is in."""
    asked = limit
    while True:
        hits = fetch(asked)
        counts = sorted((h.count for h in hits), reverse=True)
        if len(hits) < asked or counts[-1] < counts[limit - 1]:
            break
        asked *= 2
    ordered = sorted(hits, key=lambda h: (-h.count, h.value))[:limit]
    return models.FacetResponse(
        hits=[models.FacetValueHit(value=h.value, count=h.count) for h in ordered]
    )


def query_request(
    collection_name: str, r: models.QueryRequest, lookup: Callable[[str, str, Any], Any]
) -> tuple[Any, ResultShape]:
    """One ``query_points`` request as Edge's ``QueryRequest``, and the shape of its
    results. ``r`` is built unvalidated (``model_construct``, so numpy queries pass); dict
    parts are validated here, as qdrant-client's remote client does."""
    query, prefetch, score_threshold, offset = r.query, r.prefetch, r.score_threshold, r.offset
    limit = r.limit if r.limit is not None else 10
    if limit < 1:
        raise ValueError(f"limit value {limit} is invalid. Must be 1 or larger.")
    if offset is not None and offset < 0:
        raise ValueError(f"offset value {offset} is invalid. Must be 0 or larger.")
    if prefetch and query is None:
        raise ValueError("A query is needed to merge the prefetches.")
    if score_threshold is not None and query is None:
        raise ValueError("A query is needed to use the score_threshold.")
    if isinstance(query, models.OrderByQuery) and score_threshold is not None:
        raise ValueError("Can't use score_threshold with an order_by query.")
    if isinstance(query, models.SampleQuery):
        offset = None  # a random sample has no order to skip into: local mode ignores it
    conv = QueryConverter(collection_name, lookup)
    mentioned: list[Any] = []
    q = conv.query(query, r.using, r.lookup_from, mentioned, limit)
    wp, has_payload = edge_with_payload(r.with_payload)
    with_vectors = edge_with_vectors(r.with_vector)
    request = E.QueryRequest(
        limit=limit,
        offset=offset,
        query=q,
        prefetches=conv.prefetches(prefetch),
        with_vector=with_vectors,
        with_payload=wp,
        filter=edge_filter(has_id_excluded(parse_model(r.filter, models.Filter), mentioned)),
        score_threshold=score_threshold,
        params=edge_search_params(r.params),
    )
    return request, ResultShape(has_payload, with_vectors)


_SCORE, _ID = operator.attrgetter("score"), operator.attrgetter("id")


def search_batch(
    shard: Any,
    collection_name: str,
    vectors: np.ndarray,
    *,
    using: str,
    limit: int,
    params: models.SearchParams | None = None,
    payload_key: str | None = None,
) -> tuple[np.ndarray, list[Any], np.ndarray, list[Any] | None]:
    """The ``limit`` nearest points of dense vector ``using`` to each row of ``vectors``
    (float32 ``(n, d)``, as given: normalise them for Cosine), in one Edge batch without
    qdrant-client's models (the token first stage's search).

    Returns:
        ``(counts, ids, scores, values)``: hits per row (int64 ``(n,)``); every hit's id
        (``int`` or UUID ``str``) and score (float64), row after row, best first; its
        payload value ``payload_key`` (``None`` where it has none; ``None`` without a key).

    Raises:
        ValueError: unknown collection, ``vectors`` not 2-d, ``limit`` below 1, or what
            Edge rejects (unknown vector name, wrong dimension), named.
    """
    rows = np.asarray(vectors, dtype=np.float32)
    if rows.ndim != 2:
        raise ValueError(f"search_batch: vectors must be 2-d (n, d), got shape {rows.shape}")
    if limit < 1:
        raise ValueError(f"limit value {limit} is invalid. Must be 1 or larger.")
    edge_params = edge_search_params(params)
    selector = False if payload_key is None else E.PayloadSelector.Include([payload_key])
    requests = [
        E.QueryRequest(
            limit=limit, query=E.Query.Nearest(row, using=using), params=edge_params,
            with_payload=selector, with_vector=False,
        )
        for row in rows.tolist()  # nested lists: what Edge reads fastest
    ]
    results: list[Any] = []
    if requests:
        with query_errors(f"search_batch on {collection_name!r}"):
            results = shard.query_batch(E.QueryBatchRequest(requests))
    # C-level passes over the hits (query tokens x limit: over a thousand by default)
    counts = np.fromiter(map(len, results), dtype=np.int64, count=len(results))
    hits = list(itertools.chain.from_iterable(results))
    scores = np.fromiter(map(_SCORE, hits), dtype=np.float64, count=len(hits))
    ids = list(map(_ID, hits))
    if uuid.UUID in set(map(type, ids)):  # UUID ids: as qdrant-client returns them
        ids = [model_id(i) for i in ids]
    values = (
        None if payload_key is None else [(p.payload or {}).get(payload_key) for p in hits]
    )
    return counts, ids, scores, values
