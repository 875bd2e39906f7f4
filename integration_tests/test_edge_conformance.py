"""Edge gives local mode's answers: reads (issue 18).

The same seeded collections (every payload value type, dense/sparse/multivectors, some
points without some vectors, integer and UUID ids) live in a local-mode client and in each
Edge client (``EdgeQdrantClient``, ``TokenPoolingClient(engine="edge")``), once without
payload indexes (``plain``) and once with an index on every field (``indexed``). Every
filter condition, query type, selector, offset and limit, and ``scroll``, ``count``,
``facet``, ``retrieve`` and ``query_batch_points``, must give the same ids, scores
(within 1e-4 relative), payloads and vectors, or both raise, or Edge raises an
``EdgeUnsupportedError`` that docs/engines.md lists. Writes, collections, errors and the
unsupported list: ``test_edge_conformance_writes.py``.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from _conformance import (
    BASE_TIME,
    DENSE,
    ENGINES,
    GEO_CENTER,
    LOCAL_MODE_NOTICES,
    MULTI,
    SPARSE,
    UIDS,
    N,
    compare_points,
    expect_same,
    fill,
    kind,
    local_client,
    make_points,
    point_id,
    random_vector,
    server_rules,
)
from qdrant_client import QdrantClient, models

pytestmark = LOCAL_MODE_NOTICES
COLLECTIONS = ("plain", "indexed")
VECTOR_NAMES = [*DENSE, *MULTI, *SPARSE]


@pytest.fixture(scope="module")
def points() -> list[models.PointStruct]:
    return make_points()


@pytest.fixture(scope="module")
def local(points: list[models.PointStruct]) -> Iterator[QdrantClient]:
    client = local_client()
    for name in COLLECTIONS:
        fill(client, name, points, indexed=name == "indexed")
    yield client
    client.close()


@pytest.fixture(scope="module", params=list(ENGINES))
def edge(request: pytest.FixtureRequest, points: list[models.PointStruct]) -> Iterator[QdrantClient]:
    client = ENGINES[request.param]()
    for name in COLLECTIONS:
        fill(client, name, points, indexed=name == "indexed")
    yield client
    client.close()


def same(
    local: QdrantClient, edge: QdrantClient, fn: Callable[[QdrantClient], Any], limit: int | None = None,
    unsupported: str | None = None, where: str = "", offset: int = 0,
) -> None:
    def compare(x: Any, y: Any) -> None:
        if hasattr(x, "points"):
            x, y = x.points, y.points
        compare_points(x, y, limit, where, offset)

    expect_same(fn, local, edge, compare, unsupported)


# ---------------------------------------------------------------------------------------
# every filter condition x every payload value type
# ---------------------------------------------------------------------------------------
def fc(key: str, **kw: Any) -> models.FieldCondition:
    return models.FieldCondition(key=key, **kw)


def mv(key: str, value: Any) -> models.FieldCondition:
    return fc(key, match=models.MatchValue(value=value))


DAY = timedelta(days=1)
LON, LAT = GEO_CENTER
SQUARE = [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5), (-0.5, -0.5)]
HOLE = [(-0.2, -0.2), (0.2, -0.2), (0.2, 0.2), (-0.2, 0.2), (-0.2, -0.2)]


def ring(offsets: list[tuple[float, float]]) -> models.GeoLineString:
    return models.GeoLineString(points=[models.GeoPoint(lon=LON + a, lat=LAT + b) for a, b in offsets])


CONDITIONS: dict[str, Any] = {
    # bool
    "bool-true": mv("flag", True),
    "bool-false": mv("flag", False),
    "bool-nested-object": mv("meta.c", True),
    "bool-array": mv("flags", True),
    "bool-array-false": mv("flags[]", False),
    # int
    "int-value": mv("count", 3),
    "int-any": fc("count", match=models.MatchAny(any=[1, 2, 3])),
    "int-except": fc("count", match=models.MatchExcept(**{"except": [1, 2]})),
    "int-range": fc("count", range=models.Range(gte=2, lt=6)),
    "int-array-value": mv("nums", 2),
    "int-array-range": fc("nums", range=models.Range(gt=3)),
    "int-nested-object": mv("meta.a", 2),
    "int-nested-range": fc("meta.a", range=models.Range(lte=1)),
    "int-matches-no-bool": mv("flag", 1),
    # float
    "float-range": fc("price", range=models.Range(gt=50.0)),
    "float-range-closed": fc("price", range=models.Range(gte=10.5, lte=40.25)),
    # str (keyword)
    "str-value": mv("color", "red"),
    "str-any": fc("color", match=models.MatchAny(any=["red", "blue"])),
    "str-except": fc("color", match=models.MatchExcept(**{"except": ["red", "green"]})),
    "str-prefix": fc("color", match=models.MatchPrefix(prefix="re")),
    "str-substring": fc("color", match=models.MatchSubstring(substring="ee")),
    "str-array-value": mv("tags", "a"),
    "str-array-any": fc("tags", match=models.MatchAny(any=["b", "c"])),
    "str-array-except": fc("tags", match=models.MatchExcept(**{"except": ["a"]})),
    "str-nested-object": mv("meta.b", "green"),
    "str-array-of-objects": mv("items[].k", "x"),
    # str (text)
    "text-word": fc("text", match=models.MatchText(text="quick")),
    "text-words": fc("text", match=models.MatchText(text="fox quick")),
    "text-any": fc("text", match=models.MatchTextAny(text_any="lazy cat")),
    "text-phrase": fc("text", match=models.MatchPhrase(phrase="brown fox")),
    # uuid
    "uuid-value": mv("uid", UIDS[0]),
    "uuid-any": fc("uid", match=models.MatchAny(any=UIDS[1:3])),
    "uuid-except": fc("uid", match=models.MatchExcept(**{"except": [UIDS[0]]})),
    # datetime
    "datetime-range": fc("when", range=models.DatetimeRange(gte=BASE_TIME + 5 * DAY, lt=BASE_TIME + 12 * DAY)),
    "datetime-range-str": fc("when", range=models.DatetimeRange(gt="2026-01-20T00:00:00Z")),
    "datetime-range-naive": fc("when", range=models.DatetimeRange(lte="2026-01-03T12:00:00")),
    # null, empty
    "null-is-null": models.IsNullCondition(is_null=models.PayloadField(key="maybe")),
    "null-is-empty": models.IsEmptyCondition(is_empty=models.PayloadField(key="maybe")),
    "null-nested-is-null": models.IsNullCondition(is_null=models.PayloadField(key="meta.d")),
    "null-missing-is-empty": models.IsEmptyCondition(is_empty=models.PayloadField(key="count")),
    "array-is-empty": models.IsEmptyCondition(is_empty=models.PayloadField(key="tags")),
    "array-is-null": models.IsNullCondition(is_null=models.PayloadField(key="tags")),
    "field-is-null": fc("maybe", is_null=True),
    "field-is-empty": fc("tags", is_empty=True),
    "field-is-not-empty": fc("flags", is_empty=False),
    # nested (arrays of objects)
    "nested": models.NestedCondition(nested=models.Nested(key="items", filter=models.Filter(
        must=[mv("k", "x"), fc("v", range=models.Range(gte=2))]
    ))),
    "nested-must-not": models.NestedCondition(nested=models.Nested(key="items", filter=models.Filter(
        must_not=[mv("k", "y")]
    ))),
    "nested-range-path": fc("items[].v", range=models.Range(gte=4)),
    # values_count
    "values-count-gte": fc("tags", values_count=models.ValuesCount(gte=2)),
    "values-count-lt": fc("nums", values_count=models.ValuesCount(lt=2)),
    "values-count-bools": fc("flags", values_count=models.ValuesCount(gt=0)),
    "values-count-scalar": fc("count", values_count=models.ValuesCount(gte=1)),
    # geo
    "geo-box": fc("loc", geo_bounding_box=models.GeoBoundingBox(
        top_left=models.GeoPoint(lon=LON - 0.5, lat=LAT + 0.5),
        bottom_right=models.GeoPoint(lon=LON + 0.5, lat=LAT - 0.5),
    )),
    "geo-radius": fc("loc", geo_radius=models.GeoRadius(center=models.GeoPoint(lon=LON, lat=LAT), radius=40_000.0)),
    "geo-polygon": fc("loc", geo_polygon=models.GeoPolygon(exterior=ring(SQUARE))),
    "geo-polygon-hole": fc("loc", geo_polygon=models.GeoPolygon(exterior=ring(SQUARE), interiors=[ring(HOLE)])),
    # ids, vectors, slices
    "has-id": models.HasIdCondition(has_id=[0, 1, point_id(3), point_id(7), 999]),
    "has-vector-multi": models.HasVectorCondition(has_vector="multi"),
    "has-vector-sparse": models.HasVectorCondition(has_vector="sparse"),
    "slice": models.SliceCondition(slice=models.Slice(total=3, index=1)),
}


PAYLOAD_KEYS = ["flag", "count", "price", "color", "text", "uid", "when", "maybe", "meta", "meta.a", "tags",
                "nums", "flags", "items", "loc"]
"""A key of every payload value type (see ``_conformance.payload``)."""
for _key in PAYLOAD_KEYS:  # conditions that apply to a key of any type
    CONDITIONS[f"any-type-is-empty-{_key}"] = models.IsEmptyCondition(is_empty=models.PayloadField(key=_key))
    CONDITIONS[f"any-type-is-null-{_key}"] = models.IsNullCondition(is_null=models.PayloadField(key=_key))
    CONDITIONS[f"any-type-values-count-{_key}"] = fc(_key, values_count=models.ValuesCount(gte=2))
CONDITIONS["datetime-match-value"] = mv("when", "2026-01-16T06:00:00+00:00")


def as_filter(c: Any) -> models.Filter:
    return c if isinstance(c, models.Filter) else models.Filter(must=[c])


FILTERS: dict[str, models.Filter] = {
    **{name: as_filter(c) for name, c in CONDITIONS.items()},
    "must-not-bool": models.Filter(must_not=[mv("flag", True)]),
    "must-not-missing": models.Filter(must_not=[models.IsEmptyCondition(is_empty=models.PayloadField(key="count"))]),
    "should": models.Filter(should=[mv("color", "red"), mv("tags", "a"), mv("flag", False)]),
    "must-should-not": models.Filter(
        must=[fc("count", range=models.Range(gte=1))],
        should=[mv("meta.c", True), fc("price", range=models.Range(lt=30))],
        must_not=[mv("uid", UIDS[3])],
    ),
    "min-should": models.Filter(min_should=models.MinShould(
        conditions=[mv("flag", True), mv("color", "red"), fc("count", range=models.Range(gt=5)), mv("tags", "b")],
        min_count=2,
    )),
    "nested-filters": models.Filter(should=[
        models.Filter(must=[mv("flag", True), mv("meta.c", False)]),
        models.Filter(must_not=[fc("nums", range=models.Range(gte=0))]),
    ]),
    "empty": models.Filter(),
}


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("name", list(FILTERS))
def test_filter(local: QdrantClient, edge: QdrantClient, collection: str, name: str) -> None:
    """count, scroll and a filtered nearest query select the same points."""
    flt = FILTERS[name]
    where = f"{name} on {collection}"
    n_local = local.count(collection, count_filter=flt).count
    assert edge.count(collection, count_filter=flt).count == n_local, where
    same(local, edge, lambda c: c.scroll(collection, scroll_filter=flt, limit=N, with_payload=False)[0], where=where)
    query = np.linspace(-1, 1, DENSE["dense"][0]).tolist()
    same(
        local, edge,
        lambda c: c.query_points(collection, query, using="dense", query_filter=flt, limit=15, with_payload=False),
        limit=15, where=where,
    )


def test_filter_matches_something() -> None:
    """The filter cases are not vacuous: most select some points and not all (a wrong
    answer of "nothing" or "everything" would not go unnoticed)."""
    client = local_client()
    fill(client, "c", make_points(), indexed=False)
    counts = {name: client.count("c", count_filter=f).count for name, f in FILTERS.items()}
    client.close()
    trivial = {name for name, n in counts.items() if n in (0, N) and not name.startswith("any-type-")}
    assert trivial <= {"empty", "int-matches-no-bool"}, trivial


def test_bool_filters_everywhere(local: QdrantClient, edge: QdrantClient) -> None:
    """A boolean ``MatchValue`` matches on Edge wherever a filter goes: nested and
    prefetch filters, facet filters, and ``delete``/``set_payload`` by filter (issue 18,
    item 1: qdrant-edge 0.9 reads ``True`` as ``1``)."""
    t = mv("flag", True)
    assert edge.count("plain", count_filter=models.Filter(must=[t])).count > 0
    nested = models.Filter(should=[models.Filter(must=[t])])
    assert edge.count("plain", count_filter=nested).count == local.count("plain", count_filter=nested).count
    prefetch = models.Prefetch(query=[1.0] * 8, using="dense", filter=models.Filter(must=[t]), limit=50)
    same(local, edge, lambda c: c.query_points("indexed", prefetch=prefetch, query=[0.5] * 6, using="dot", limit=20))
    facet = lambda c: c.facet("indexed", "color", facet_filter=models.Filter(must=[t]), exact=True)
    assert edge.facet("indexed", "color", facet_filter=models.Filter(must=[t]), exact=True) == facet(local)
    batch = [models.QueryRequest(query=[1.0] * 8, using="dense", filter=models.Filter(must=[t]), limit=5)]
    same(local, edge, lambda c: c.query_batch_points("plain", batch)[0])


# ---------------------------------------------------------------------------------------
# every query type on dense, sparse and multivectors
# ---------------------------------------------------------------------------------------
QUERY_RNG = np.random.default_rng(7)
VIEWS: list[dict[str, Any]] = [
    {"limit": 10},
    {"limit": 5, "offset": 3, "with_payload": ["color", "meta"], "with_vectors": True},
    {"limit": 7, "with_payload": models.PayloadSelectorExclude(exclude=["text", "items"]), "with_vectors": "using"},
    {"limit": 20, "offset": 10, "with_payload": False, "with_vectors": False},
]
"""Limits, offsets and ``with_payload``/``with_vectors`` selectors each query runs with
(``"using"``: a list naming the query's vector)."""


def query_cases() -> dict[str, tuple[str, Any, dict[str, Any]]]:
    """``{case: (using, query, extra query_points arguments)}`` for every query type on
    every vector; ``query`` may be a callable taking the vector name."""
    cases: dict[str, tuple[str, Any, dict[str, Any]]] = {}
    for v in VECTOR_NAMES:
        q = random_vector(QUERY_RNG, v)
        q2 = random_vector(QUERY_RNG, v)
        pid, pid2, pid3 = point_id(1), point_id(3), point_id(8)  # points 1, 3, 8 have every vector
        cases[f"nearest-{v}"] = (v, models.NearestQuery(nearest=q), {})
        cases[f"bare-vector-{v}"] = (v, q, {})
        cases[f"by-id-{v}"] = (v, models.NearestQuery(nearest=pid), {})
        cases[f"bare-id-{v}"] = (v, pid2, {})
        for strategy in models.RecommendStrategy:
            cases[f"recommend-{strategy.value}-{v}"] = (v, models.RecommendQuery(recommend=models.RecommendInput(
                positive=[pid, q], negative=[pid3], strategy=strategy)), {})
        cases[f"recommend-default-{v}"] = (v, models.RecommendQuery(recommend=models.RecommendInput(positive=[pid2])), {})
        cases[f"discover-{v}"] = (v, models.DiscoverQuery(discover=models.DiscoverInput(
            target=q, context=[models.ContextPair(positive=pid, negative=pid3)])), {})
        cases[f"context-{v}"] = (v, models.ContextQuery(context=[
            models.ContextPair(positive=pid, negative=pid3), models.ContextPair(positive=q, negative=q2)]), {})
        cases[f"mmr-{v}"] = (v, models.NearestQuery(nearest=q, mmr=models.Mmr(diversity=0.6, candidates_limit=30)), {})
        cases[f"mmr-default-{v}"] = (v, models.NearestQuery(nearest=pid, mmr=models.Mmr()), {})
        cases[f"threshold-{v}"] = (v, q, {"score_threshold": 0.1 if kind(v) != "dense" or DENSE[v][1] != models.Distance.EUCLID else 3.0})
        cases[f"filtered-{v}"] = (v, q, {"query_filter": models.Filter(must=[mv("flag", True)])})
        cases[f"lookup-from-{v}"] = (v, models.NearestQuery(nearest=pid), {
            "lookup_from": models.LookupLocation(collection="indexed", vector=v)})
        idf = models.IdfCorpusParams(corpus=models.Filter(must=[mv("flag", False)])) if v == "sparse_idf" else None
        cases[f"search-params-{v}"] = (v, q, {"search_params": models.SearchParams(exact=True, hnsw_ef=16, idf=idf)})
    return cases


QUERIES = query_cases()


def unsupported_query(case: str) -> str | None:
    """The documented feature an Edge query case lacks, if any."""
    if case.startswith("mmr") and kind(QUERIES[case][0]) == "sparse":
        return "NearestQuery(mmr=...)"
    return None


def run_query(c: QdrantClient, collection: str, using: str, query: Any, extra: dict[str, Any], view: dict[str, Any]) -> Any:
    kwargs = {**view, **extra}
    if kwargs.get("with_vectors") == "using":
        kwargs["with_vectors"] = [using]
    return c.query_points(collection, query, using=using, **kwargs)


@pytest.mark.parametrize("case", list(QUERIES))
def test_query(local: QdrantClient, edge: QdrantClient, case: str) -> None:
    using, query, extra = QUERIES[case]
    for i, view in enumerate(VIEWS):
        collection = COLLECTIONS[i % 2]
        same(
            local, edge, lambda c: run_query(c, collection, using, query, extra, view),  # noqa: B023
            limit=view["limit"], unsupported=unsupported_query(case), where=f"{case} {view} on {collection}",
            offset=view.get("offset", 0),
        )


def prefetch(using: str, limit: int = 40, **kw: Any) -> models.Prefetch:
    rng = np.random.default_rng(zlib.crc32(using.encode()))
    return models.Prefetch(query=random_vector(rng, using), using=using, limit=limit, **kw)


NO_VECTOR_QUERIES: dict[str, dict[str, Any]] = {
    "no-query": {},
    "no-query-filter": {"query_filter": models.Filter(must=[mv("flag", True)])},
    "order-by-int": {"query": models.OrderByQuery(order_by="count")},
    "order-by-float-desc": {"query": models.OrderByQuery(order_by=models.OrderBy(key="price", direction=models.Direction.DESC))},
    "order-by-datetime": {"query": models.OrderByQuery(order_by=models.OrderBy(key="when", start_from=BASE_TIME + 3 * DAY))},
    "order-by-start-from": {"query": models.OrderByQuery(order_by=models.OrderBy(key="price", start_from=30.0))},
    "rrf": {"query": models.FusionQuery(fusion=models.Fusion.RRF), "prefetch": [prefetch("dense"), prefetch("sparse"), prefetch("multi")]},
    "dbsf": {"query": models.FusionQuery(fusion=models.Fusion.DBSF), "prefetch": [prefetch("dot"), prefetch("sparse_idf")]},
    "rrf-k-weights": {"query": models.RrfQuery(rrf=models.Rrf(k=5, weights=[2.0, 0.5])), "prefetch": [prefetch("euclid"), prefetch("multi_dot")]},
    "rescore-prefetch": {"query": random_vector(QUERY_RNG, "multi"), "using": "multi", "prefetch": prefetch("dense", 30)},
    "nested-prefetch": {
        "query": random_vector(QUERY_RNG, "multi"), "using": "multi",
        "prefetch": models.Prefetch(
            query=random_vector(QUERY_RNG, "dense"), using="dense", limit=25,
            prefetch=[prefetch("sparse", 60), prefetch("dot", 60)], filter=models.Filter(must_not=[mv("flag", False)]),
        ),
    },
    "prefetch-threshold": {"query": models.FusionQuery(fusion=models.Fusion.RRF), "prefetch": [
        prefetch("dense", score_threshold=0.2), prefetch("manhattan", 50)]},
    "prefetch-by-id": {"query": models.FusionQuery(fusion=models.Fusion.RRF), "prefetch": [
        models.Prefetch(query=point_id(1), using="dense", limit=30), models.Prefetch(query=point_id(3), using="sparse", limit=30)]},
    "prefetch-mmr": {"query": random_vector(QUERY_RNG, "dot"), "using": "dot", "prefetch": models.Prefetch(
        query=models.NearestQuery(nearest=random_vector(QUERY_RNG, "dense"), mmr=models.Mmr(diversity=0.4)), using="dense", limit=30)},
    "prefetch-order-by": {"query": random_vector(QUERY_RNG, "dense"), "using": "dense", "prefetch": models.Prefetch(
        query=models.OrderByQuery(order_by="price"), limit=50)},
}
"""Queries on no vector (no query, order_by) and on prefetches (fusion, rescoring)."""


@pytest.mark.parametrize("case", list(NO_VECTOR_QUERIES))
def test_query_without_vector(local: QdrantClient, edge: QdrantClient, case: str) -> None:
    kwargs = NO_VECTOR_QUERIES[case]
    for i, view in enumerate(VIEWS):
        collection = "indexed" if "order-by" in case or i % 2 else "plain"
        v = {**view, "with_vectors": ["dense"] if view.get("with_vectors") == "using" else view.get("with_vectors", False)}
        same(
            local, edge, lambda c: c.query_points(collection, **kwargs, **v),  # noqa: B023
            limit=view["limit"], where=f"{case} {view} on {collection}", offset=view.get("offset", 0),
        )


def test_sample(local: QdrantClient, edge: QdrantClient) -> None:
    """A random sample: as many points as local mode, from the filter's points, scores as
    local mode's; ``offset`` ignored as local mode does (100 points, offset 10 -> 100)."""
    flt = models.Filter(must=[mv("flag", True)])
    matching = {p.id for p in local.scroll("plain", scroll_filter=flt, limit=N)[0]}
    for kwargs in ({"limit": 10}, {"limit": 100, "offset": 10}, {"limit": N, "query_filter": flt},
                   {"limit": 5, "offset": 2, "query_filter": flt, "with_vectors": True}):
        got_l = local.query_points("plain", models.SampleQuery(sample=models.Sample.RANDOM), **kwargs).points
        got_e = edge.query_points("plain", models.SampleQuery(sample=models.Sample.RANDOM), **kwargs).points
        assert len(got_e) == len(got_l), kwargs
        assert len({p.id for p in got_e}) == len(got_e)
        assert [p.score for p in got_e] == [p.score for p in got_l]
        if "query_filter" in kwargs:
            assert {p.id for p in got_e} <= matching
        by_id = {p.id: p for p in local.retrieve("plain", [p.id for p in got_e], with_vectors=bool(kwargs.get("with_vectors")))}
        for p in got_e:
            assert p.payload == by_id[p.id].payload
            assert (p.vector is None) == (not kwargs.get("with_vectors"))


SCORE = "$score"
FORMULAS: dict[str, Any] = {
    "sum-mult": models.SumExpression(sum=[SCORE, models.MultExpression(mult=[0.01, "price"])]),
    "condition": models.SumExpression(sum=[SCORE, models.MultExpression(mult=[0.5, mv("flag", True)])]),
    "defaults": models.SumExpression(sum=["$score[0]", "count"]),
    "two-scores": models.SumExpression(sum=["$score[0]", models.MultExpression(mult=[2.0, "$score[1]"])]),
    "div-pow": models.DivExpression(div=models.DivParams(
        left=models.PowExpression(pow=models.PowParams(base=SCORE, exponent=2.0)),
        right=models.SumExpression(sum=["meta.a", 1.0]), by_zero_default=0.0)),
    "unary": models.SumExpression(sum=[
        models.NegExpression(neg=models.AbsExpression(abs=SCORE)),
        models.SqrtExpression(sqrt=models.SumExpression(sum=["price", 1.0])),
        models.LnExpression(ln=models.SumExpression(sum=["price", 1.0])),
        models.Log10Expression(log10=models.SumExpression(sum=["price", 1.0])),
        models.ExpExpression(exp=models.MultExpression(mult=[0.01, "price"])),
        models.AcoshExpression(acosh=models.SumExpression(sum=["price", 1.0])),
    ]),
    "max-min": models.SumExpression(sum=[
        models.MaxExpression(max=[SCORE, 0.5, "meta.a"]), models.MinExpression(min=[SCORE, "count"])]),
    "decays": models.SumExpression(sum=[
        models.LinDecayExpression(lin_decay=models.DecayParamsExpression(x="price", target=50.0, scale=20.0)),
        models.ExpDecayExpression(exp_decay=models.DecayParamsExpression(x="count", scale=3.0, midpoint=0.3)),
        models.GaussDecayExpression(gauss_decay=models.DecayParamsExpression(x=SCORE)),
    ]),
    "geo-distance": models.SumExpression(sum=[SCORE, models.MultExpression(mult=[-1e-6, models.GeoDistance(
        geo_distance=models.GeoDistanceParams(origin=models.GeoPoint(lon=LON, lat=LAT), to="loc"))])]),
    "datetime": models.GaussDecayExpression(gauss_decay=models.DecayParamsExpression(
        x=models.DatetimeKeyExpression(datetime_key="when"),
        target=models.DatetimeExpression(datetime="2026-01-15T00:00:00Z"), scale=86400.0 * 5)),
}


@pytest.mark.parametrize("name", list(FORMULAS))
def test_formula(local: QdrantClient, edge: QdrantClient, name: str) -> None:
    """Formula queries rescore prefetched points (``$score``, ``$score[i]``, payload
    variables with ``defaults``, conditions, every operator and decay)."""
    q = models.FormulaQuery(formula=FORMULAS[name], defaults={"count": 0, "meta.a": 0, "price": 0.0})
    pf = [prefetch("dense", 60), prefetch("dot", 60)]
    for view in VIEWS[:2]:
        same(local, edge, lambda c: c.query_points("indexed", q, prefetch=pf, **{**view, "with_vectors": False}),  # noqa: B023
             limit=view["limit"], offset=view.get("offset", 0), where=name)


FORMULA_ERRORS: dict[str, Any] = {
    "missing-variable": models.SumExpression(sum=[SCORE, "nowhere"]),
    "not-a-number": models.SumExpression(sum=[SCORE, "color"]),
    "non-finite": models.PowExpression(pow=models.PowParams(base=0.0, exponent=-1.0)),
    "domain": models.LnExpression(ln=-1.0),
}


@pytest.mark.parametrize("name", list(FORMULA_ERRORS))
def test_formula_errors(local: QdrantClient, edge: QdrantClient, name: str) -> None:
    """A formula that cannot be evaluated fails on both, Edge saying why (its engine only
    says "Operation cancelled")."""
    q = models.FormulaQuery(formula=FORMULA_ERRORS[name])
    with pytest.raises(ValueError):
        local.query_points("plain", q, prefetch=prefetch("dense"))
    with pytest.raises(ValueError, match="formula could not be evaluated"):
        edge.query_points("plain", q, prefetch=prefetch("dense"))


@pytest.mark.parametrize("using", ["dense", "euclid", "manhattan"])
def test_relevance_feedback(local: QdrantClient, edge: QdrantClient, using: str) -> None:
    """Naive relevance feedback on dense vectors (local mode cannot do it on multi or
    sparse vectors, so there is no reference there; Edge answers)."""
    q = models.RelevanceFeedbackQuery(relevance_feedback=models.RelevanceFeedbackInput(
        target=random_vector(QUERY_RNG, using),
        feedback=[models.FeedbackItem(example=point_id(1), score=0.9), models.FeedbackItem(example=point_id(3), score=0.1),
                  models.FeedbackItem(example=random_vector(QUERY_RNG, using), score=0.5)],
        strategy=models.NaiveFeedbackStrategy(naive=models.NaiveFeedbackStrategyParams(a=1.0, b=0.5, c=0.2)),
    ))
    for view in VIEWS[:2]:
        same(local, edge, lambda c: c.query_points("plain", q, using=using, **{**view, "with_vectors": False}),  # noqa: B023
             limit=view["limit"], offset=view.get("offset", 0))


def test_text_query(local: QdrantClient, edge: QdrantClient, points: list[models.PointStruct]) -> None:
    """BM25 over a text index with ``scoring`` (a ``TextQuery``, ``using`` the field)."""
    for c in (local, edge):
        if not c.collection_exists("bm25"):
            c.create_collection("bm25", {"dense": models.VectorParams(size=8, distance=models.Distance.COSINE)})
            c.create_payload_index("bm25", "text", models.TextIndexParams(type=models.TextIndexType.TEXT, scoring=True))
            c.upsert("bm25", [models.PointStruct(id=p.id, vector={"dense": p.vector["dense"]}, payload=p.payload) for p in points])
    for text in ("quick fox", models.TextQueryInput(query="lazy dog cat", scoring=models.Bm25Scoring(bm25=models.Bm25Params(k=1.5, b=0.5)))):
        same(local, edge, lambda c: c.query_points("bm25", models.TextQuery(text=text), using="text", limit=15), limit=15)  # noqa: B023


def test_query_batch(local: QdrantClient, edge: QdrantClient) -> None:
    requests = [
        models.QueryRequest(query=random_vector(QUERY_RNG, "dense"), using="dense", limit=5, with_payload=True),
        models.QueryRequest(query=point_id(1), using="sparse", limit=8, offset=2, with_vector=["sparse"]),
        models.QueryRequest(prefetch=[prefetch("dense"), prefetch("multi")], query=models.FusionQuery(fusion=models.Fusion.RRF), limit=6),
        models.QueryRequest(query=models.OrderByQuery(order_by="count"), limit=4, filter=models.Filter(must=[mv("flag", True)])),
        models.QueryRequest(query=models.RecommendQuery(recommend=models.RecommendInput(positive=[point_id(1)])), using="multi", limit=4),
    ]
    kind_l = local.query_batch_points("indexed", requests)
    kind_e = edge.query_batch_points("indexed", requests)
    assert len(kind_l) == len(kind_e)
    for r, x, y in zip(requests, kind_l, kind_e):
        compare_points(x.points, y.points, r.limit, where=str(r), offset=r.offset or 0)


# ---------------------------------------------------------------------------------------
# request parts given as dicts (issue 18, item 5): accepted as qdrant-client's remote
# client accepts them; local mode takes only models, so it answers the model form
# ---------------------------------------------------------------------------------------
DICT_FORMS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "search_params": ({"search_params": {"exact": True, "hnsw_ef": 32}},
                      {"search_params": models.SearchParams(exact=True, hnsw_ef=32)}),
    "query_filter": ({"query_filter": {"must": [{"key": "flag", "match": {"value": True}}]}},
                     {"query_filter": models.Filter(must=[mv("flag", True)])}),
    "prefetch": ({"prefetch": {"query": [0.1] * 8, "using": "dense", "limit": 20, "filter": {"must_not": [{"key": "color", "match": {"value": "red"}}]}}},
                 {"prefetch": models.Prefetch(query=[0.1] * 8, using="dense", limit=20, filter=models.Filter(must_not=[mv("color", "red")]))}),
    "prefetch-list": ({"prefetch": [{"query": [0.1] * 8, "using": "dense"}, {"query": point_id(1), "using": "dense", "params": {"exact": True}}]},
                      {"prefetch": [models.Prefetch(query=[0.1] * 8, using="dense"),
                                    models.Prefetch(query=point_id(1), using="dense", params=models.SearchParams(exact=True))]}),
    "with_payload": ({"with_payload": {"include": ["color", "count"]}},
                     {"with_payload": models.PayloadSelectorInclude(include=["color", "count"])}),
    "lookup_from": ({"query": point_id(2), "lookup_from": {"collection": "indexed", "vector": "dense"}},
                    {"query": point_id(2), "lookup_from": models.LookupLocation(collection="indexed", vector="dense")}),
}


@pytest.mark.parametrize("part", list(DICT_FORMS))
def test_dicts_accepted(local: QdrantClient, edge: QdrantClient, part: str) -> None:
    as_dict, as_model = DICT_FORMS[part]
    base: dict[str, Any] = {"query": [0.3] * 8, "using": "dense", "limit": 8}
    if "prefetch" in as_model:
        base["query"] = [0.2] * 8
    expected = local.query_points("plain", **{**base, **as_model}).points
    compare_points(expected, edge.query_points("plain", **{**base, **as_dict}).points, 8, where=part)


def test_dicts_accepted_in_reads(local: QdrantClient, edge: QdrantClient) -> None:
    f_dict = {"should": [{"key": "tags", "match": {"any": ["a", "b"]}}, {"key": "flag", "match": {"value": False}}]}
    f_model = models.Filter(should=[fc("tags", match=models.MatchAny(any=["a", "b"])), mv("flag", False)])
    assert edge.count("plain", count_filter=f_dict) == local.count("plain", count_filter=f_model)
    compare_points(
        local.scroll("indexed", scroll_filter=f_model, limit=N, order_by=models.OrderBy(key="count"))[0],
        edge.scroll("indexed", scroll_filter=f_dict, limit=N, order_by={"key": "count"})[0],
    )
    assert edge.facet("indexed", "color", facet_filter=f_dict, exact=True) == local.facet("indexed", "color", facet_filter=f_model)
    compare_points(
        local.retrieve("plain", [0, 1], with_payload=models.PayloadSelectorExclude(exclude=["text"])),
        edge.retrieve("plain", [0, 1], with_payload={"exclude": ["text"]}),
    )

# ---------------------------------------------------------------------------------------
# scroll, count, facet, retrieve
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("collection", COLLECTIONS)
def test_scroll_pages(local: QdrantClient, edge: QdrantClient, collection: str) -> None:
    """Paging through every point (integer and UUID ids), with selectors."""
    for limit, wp, wv in ((7, True, False), (50, ["meta", "tags"], ["dense", "sparse"]), (N, False, True)):
        offset_l = offset_e = None
        while True:
            page_l, offset_l = local.scroll(collection, limit=limit, offset=offset_l, with_payload=wp, with_vectors=wv)
            page_e, offset_e = edge.scroll(collection, limit=limit, offset=offset_e, with_payload=wp, with_vectors=wv)
            compare_points(page_l, page_e, where=f"scroll limit={limit}")
            assert offset_e == offset_l
            if offset_l is None:
                break


@pytest.mark.parametrize("order_by", [
    "count", models.OrderBy(key="price", direction=models.Direction.DESC),
    models.OrderBy(key="when", start_from="2026-01-10T00:00:00Z"), models.OrderBy(key="nums", direction=models.Direction.ASC),
    models.OrderBy(key="meta.a", start_from=2),
])
def test_scroll_order_by(local: QdrantClient, edge: QdrantClient, order_by: Any) -> None:
    """Ordered by an indexed payload field (values tie: any order among equals), also a
    field holding arrays with repeated values, filtered (Edge comes back short there:
    :func:`qdrant_tokenpool.engines.edge.queries.order_by_refill`)."""
    flt = models.Filter(must_not=[mv("color", "red")])
    for limit in (9, 60, N):
        same(local, edge, lambda c: c.scroll("indexed", limit=limit, order_by=order_by, scroll_filter=flt, with_vectors=["multi"])[0], limit=limit)  # noqa: B023
        same(local, edge, lambda c: c.scroll("indexed", limit=limit, order_by=order_by)[0], limit=limit)  # noqa: B023
    query = models.OrderByQuery(order_by=order_by)
    same(local, edge, lambda c: c.query_points("indexed", query, query_filter=flt, limit=N, offset=5), limit=N, offset=5)


INDEX_REQUIRED: dict[str, Callable[[QdrantClient], Any]] = {
    "order_by": lambda c: c.scroll("plain", order_by="count"),
    "OrderByQuery": lambda c: c.query_points("plain", models.OrderByQuery(order_by="price")),
    "facet": lambda c: c.facet("plain", "color"),
}


def test_idf_needs_an_idf_vector(local: QdrantClient, edge: QdrantClient) -> None:
    """``SearchParams(idf=...)`` on a vector without the IDF modifier: local mode ignores
    it, Edge refuses it as a server does (docs/engines.md)."""
    params = models.SearchParams(idf=models.IdfCorpusParams(corpus=models.Filter(must=[mv("flag", False)])))
    local.query_points("plain", [0.1] * 8, using="dense", search_params=params)
    with pytest.raises(ValueError, match="idf"):
        edge.query_points("plain", [0.1] * 8, using="dense", search_params=params)
    assert "`SearchParams(idf=...)`" in server_rules()


def test_uuid_index_matches_any_form(local: QdrantClient, edge: QdrantClient) -> None:
    """On a ``uuid`` index a UUID matches in any written form (as on a server); local mode
    and an unindexed field compare the strings (docs/engines.md)."""
    hex_form = models.Filter(must=[mv("uid", UIDS[1].replace("-", ""))])
    dashed = models.Filter(must=[mv("uid", UIDS[1])])
    assert edge.count("indexed", count_filter=hex_form) == local.count("plain", count_filter=dashed)
    assert edge.count("plain", count_filter=hex_form) == local.count("plain", count_filter=hex_form)
    assert "`uuid` index" in server_rules()


def test_sparse_zero_scores(local: QdrantClient, edge: QdrantClient) -> None:
    """A sparse nearest query whose only overlap with a point has weight 0: local mode
    returns the point with score 0, Edge (as a server's sparse index) does not
    (qdrant-client#1454); the points that score agree."""
    q = models.SparseVector(indices=[3, 5, 7, 11], values=[0.0, 0.0, 0.5, 0.25])
    got_l = local.query_points("plain", q, using="sparse", limit=N).points
    got_e = edge.query_points("plain", q, using="sparse", limit=N).points
    compare_points([p for p in got_l if p.score != 0.0], got_e)
    assert any(p.score == 0.0 for p in got_l)
    assert "score 0" in server_rules()


@pytest.mark.parametrize("what", list(INDEX_REQUIRED))
def test_index_required(local: QdrantClient, edge: QdrantClient, what: str) -> None:
    """Where a Qdrant server needs a payload index, so does Edge (local mode has none and
    answers anyway): a ``ValueError`` naming the field and the index it needs, as
    docs/engines.md says."""
    INDEX_REQUIRED[what](local)
    with pytest.raises(ValueError, match="(range index|index for faceting).*(count|price|color)"):
        INDEX_REQUIRED[what](edge)
    assert f"`{what}`" in server_rules(), f"docs/engines.md does not say that {what} needs an index"


def test_count(local: QdrantClient, edge: QdrantClient) -> None:
    """Exact counts agree; ``exact=False`` is exact without a filter and Edge's estimate
    with one (as on a server; docs/engines.md), which local mode does not make."""
    flt = FILTERS["must-should-not"]
    for collection in COLLECTIONS:
        assert edge.count(collection) == local.count(collection)
        assert edge.count(collection, exact=False) == local.count(collection, exact=False)
        assert 0 <= edge.count(collection, count_filter=flt, exact=False).count <= N


FACETS: list[tuple[str, dict[str, Any]]] = [
    ("color", {}), ("color", {"limit": 2}), ("color", {"exact": True, "limit": 3}),
    ("uid", {}), ("uid", {"limit": 1}), ("uid", {"limit": 2, "exact": True}),
    ("count", {"limit": 4}), ("flag", {}), ("tags", {"limit": 3}), ("nums", {}),
    ("meta.a", {"limit": 2}), ("meta.c", {}), ("flags", {}),
    ("color", {"facet_filter": models.Filter(must=[mv("flag", True)]), "limit": 3}),
    ("uid", {"facet_filter": models.Filter(must=[fc("count", range=models.Range(gte=5))]), "exact": True}),
]


@pytest.mark.parametrize("key,kwargs", FACETS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(FACETS)])
def test_facet(local: QdrantClient, edge: QdrantClient, key: str, kwargs: dict[str, Any]) -> None:
    """Facets on an indexed field: the same values and counts, ties by value (issue 18,
    item 9), every time."""
    expected = local.facet("indexed", key, **kwargs)
    for _ in range(3):
        assert edge.facet("indexed", key, **kwargs) == expected


def test_facet_ties(local: QdrantClient, edge: QdrantClient) -> None:
    """Approximate facets where every value ties (1,000 points, two unique UUIDs or
    keywords each, indexed after the writes): local mode's values (the least ones), every
    call (issue 18, item 9: five calls gave five answers)."""
    rng = np.random.default_rng(9)
    payloads = [{"u": [uuid.UUID(bytes=rng.bytes(16)).hex for _ in range(2)],
                 "k": [str(uuid.UUID(bytes=rng.bytes(16))) for _ in range(2)]} for _ in range(1000)]
    for c in (local, edge):
        if not c.collection_exists("ties"):
            c.create_collection("ties", {"d": models.VectorParams(size=2, distance=models.Distance.DOT)})
            c.upsert("ties", [models.PointStruct(id=i, vector={"d": [1.0, 0.0]}, payload=p) for i, p in enumerate(payloads)])
            c.create_payload_index("ties", "u", models.PayloadSchemaType.UUID)
            c.create_payload_index("ties", "k", models.PayloadSchemaType.KEYWORD)
    for key in ("u", "k"):
        for limit in (1, 5, 50):
            expected = local.facet("ties", key, limit=limit)
            for _ in range(3):
                assert edge.facet("ties", key, limit=limit) == expected, (key, limit)


def test_retrieve(local: QdrantClient, edge: QdrantClient) -> None:
    ids = [0, point_id(3), 5, 999, str(point_id(7)).upper(), point_id(11)]
    for wp, wv in ((True, False), (False, True), (["meta.a", "loc"], ["multi", "sparse_idf"]),
                   (models.PayloadSelectorInclude(include=["items"]), ["euclid"])):
        same(local, edge, lambda c: sorted(c.retrieve("plain", ids, with_payload=wp, with_vectors=wv), key=lambda r: str(r.id)))  # noqa: B023
