"""The funnel plan and the query_points request it builds (no database)."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import models

from qdrant_tokenpool import PoolingConfig
from qdrant_tokenpool._flow import Call
from qdrant_tokenpool.firststage import Muvera, MuveraParams, mean_summary
from qdrant_tokenpool.query import (
    _build_request,
    default_prefetch_limit,
    default_rescore_limit,
    plan_funnel,
    query_late_interaction,
    rescore_points,
)
from qdrant_tokenpool.store import CollectionPooling, PoolingState, VectorSpec

COS = models.Distance.COSINE


def cp(summary=True, original=True, extra_multi=False, pooled=True) -> CollectionPooling:
    vectors = {"colbert": VectorSpec(8, COS, True)}
    if summary:
        vectors["summary"] = VectorSpec(8, COS, False)
    if original:
        vectors["full"] = VectorSpec(8, COS, True)
    if extra_multi:
        vectors["other"] = VectorSpec(8, COS, True)
    cfg = PoolingConfig(
        2, summary_vector="summary" if summary else None, keep_original_vector="full" if original else None
    )
    return CollectionPooling("c", {"colbert": cfg} if pooled else {}, vectors, {})


def stages(f):
    return [(s.using, s.kind, s.limit) for s in f.stages]


def test_shapes_and_default_limits():
    assert stages(plan_funnel(cp(False, False))) == [("colbert", "maxsim", 10)]
    assert plan_funnel(cp(False, False)).shape == "plain"
    f = plan_funnel(cp(True, False))
    assert f.shape == "summary"
    assert stages(f) == [("summary", "dense", 100), ("colbert", "maxsim", 10)]
    f = plan_funnel(cp(False, True))
    assert f.shape == "full_resolution"
    assert stages(f) == [("colbert", "maxsim", 40), ("full", "maxsim", 10)]
    f = plan_funnel(cp(True, True), limit=20)
    assert f.shape == "summary+full_resolution"
    assert stages(f) == [("summary", "dense", 200), ("colbert", "maxsim", 80), ("full", "maxsim", 20)]


def test_default_limit_rules():
    assert default_prefetch_limit(1) == 100 and default_prefetch_limit(50) == 500
    assert default_rescore_limit(10) == 40 and default_rescore_limit(30) == 120
    assert default_rescore_limit(10, prefetch_limit=25) == 25  # never more than the summary stage
    # an explicit small prefetch limit caps the default rescore limit
    assert stages(plan_funnel(cp(), limit=5, prefetch_limit=12))[1] == ("colbert", "maxsim", 12)


def test_stages_can_be_skipped_or_required():
    assert plan_funnel(cp(), summary=False, full_resolution=False).shape == "plain"
    assert plan_funnel(cp(), summary=False).shape == "full_resolution"
    with pytest.raises(ValueError, match="declares no summary_vector"):
        plan_funnel(cp(False, False), summary=True)
    with pytest.raises(ValueError, match="declares no keep_original_vector"):
        plan_funnel(cp(False, False), full_resolution=True)


def test_using_resolution():
    assert plan_funnel(cp(extra_multi=True)).using == "colbert"  # the one pooled multivector
    assert plan_funnel(cp(False, False, pooled=False)).using == "colbert"  # the one multivector
    with pytest.raises(ValueError, match="several multivectors .* none is pooled"):
        plan_funnel(cp(False, False, extra_multi=True, pooled=False))
    f = plan_funnel(cp(extra_multi=True), using="other")
    assert f.shape == "plain" and f.using == "other"
    with pytest.raises(ValueError, match="has no vector 'x'"):
        plan_funnel(cp(), using="x")
    with pytest.raises(ValueError, match="dense single vector"):
        plan_funnel(cp(), using="summary")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"limit": 0}, "limit must be"),
        ({"limit": 2.5}, "limit must be"),
        ({"limit": True}, "limit must be"),
        ({"prefetch_limit": 0}, "prefetch_limit must be"),
        ({"limit": 10, "prefetch_limit": 9}, r"prefetch_limit \(9\) must be >= limit"),
        ({"rescore_limit": -1}, "rescore_limit must be"),
    ],
)
def test_bad_limits(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plan_funnel(cp(), **kwargs)


def test_request_nests_stages_innermost_first_with_the_filter_everywhere():
    f = plan_funnel(cp(), limit=5, prefetch_limit=50, rescore_limit=20)
    q = np.arange(16, dtype=np.float32).reshape(2, 8) + 1
    flt = models.Filter(must=[models.HasIdCondition(has_id=[1, 2])])
    sp = models.SearchParams(hnsw_ef=128)
    req = _build_request(f, f.stages, q, query_filter=flt, search_params=sp)
    unit = q / np.linalg.norm(q, axis=1, keepdims=True)  # Cosine: the query's unit rows
    assert req["using"] == "full" and req["limit"] == 5
    np.testing.assert_allclose(req["query"], unit, rtol=1e-6)
    assert req["query_filter"] == flt and req["search_params"] is None
    mid = req["prefetch"]
    assert (mid.using, mid.limit, mid.filter, mid.params) == ("colbert", 20, flt, None)
    np.testing.assert_allclose(mid.query, unit, rtol=1e-6)
    inner = mid.prefetch
    assert (inner.using, inner.limit, inner.filter, inner.params, inner.prefetch) == ("summary", 50, flt, sp, None)
    np.testing.assert_allclose(inner.query, mean_summary(q), rtol=1e-6)


def test_cosine_stages_get_unit_rows_even_when_float32_squares_overflow():
    """Engines normalise in float32 (a server, Qdrant Edge): a query scaled by 1e20 would
    score 0/NaN there, so Cosine stages get unit rows computed robustly here."""
    f = plan_funnel(cp(False, False), limit=3)
    q = np.array([[3.0, 4.0, 0, 0, 0, 0, 0, 0]], np.float32) * np.float32(1e20)
    req = _build_request(f, f.stages, q, query_filter=None, search_params=None)
    np.testing.assert_allclose(req["query"], [[0.6, 0.8, 0, 0, 0, 0, 0, 0]], rtol=1e-6)


def test_dot_stages_get_the_raw_query():
    vectors = {"colbert": VectorSpec(8, models.Distance.DOT, True)}
    dot = CollectionPooling("c", {"colbert": PoolingConfig(2)}, vectors, {})
    f = plan_funnel(dot, limit=3)
    q = np.arange(8, dtype=np.float32).reshape(1, 8) * 3
    assert _build_request(f, f.stages, q, query_filter=None, search_params=None)["query"] == q.tolist()


def test_plain_request_has_no_prefetch_and_takes_search_params():
    f = plan_funnel(cp(False, False), limit=3)
    q = np.ones((2, 8), np.float32)
    sp = models.SearchParams(exact=True)
    req = _build_request(f, f.stages, q, query_filter=None, search_params=sp)
    assert req["prefetch"] is None and req["using"] == "colbert" and req["search_params"] == sp


def test_summary_query_is_normalised_mean_of_normalised_tokens():
    q = np.array([[3.0, 0.0], [0.0, 0.5]], np.float32)
    np.testing.assert_allclose(plan_funnel(cp()).summary_query(q), [2**-0.5, 2**-0.5], rtol=1e-6)


def point(pid, vec, score=0.0):
    return models.ScoredPoint(id=pid, version=0, score=score, vector=vec, payload={"p": pid})


def test_rescore_points_sorts_by_exact_maxsim_and_strips_vectors():
    q = np.array([[1.0, 0.0]], np.float32)
    pts = [
        point(1, {"mv": [[0.0, 1.0]], "s": [1.0, 0.0]}, 9.0),
        point(2, {"mv": [[1.0, 0.0], [0.0, 1.0]], "s": [1.0, 0.0]}, 1.0),
        point(3, {"mv": [[1.0, 1.0]], "s": [1.0, 0.0]}, 5.0),
    ]
    out = rescore_points(q, pts, vector_name="mv", distance=COS, limit=2, with_vectors=["s"])
    assert [p.id for p in out] == [2, 3]
    np.testing.assert_allclose([p.score for p in out], [1.0, 2**-0.5], rtol=1e-6)
    assert out[0].vector == {"s": [1.0, 0.0]} and out[0].payload == {"p": 2}
    assert pts[1].score == 1.0  # inputs untouched
    dot = rescore_points(q * 2, pts, vector_name="mv", distance=models.Distance.DOT, limit=3)
    assert [p.score for p in dot] == [2.0, 2.0, 0.0] and [p.id for p in dot] == [2, 3, 1]
    assert all(p.vector is None for p in dot)
    thr = rescore_points(q, pts, vector_name="mv", distance=COS, limit=3, score_threshold=0.9)
    assert [p.id for p in thr] == [2]
    with pytest.raises(ValueError, match="Cosine and Dot"):
        rescore_points(q, pts, vector_name="mv", distance=models.Distance.EUCLID, limit=3)


def test_flow_checks_everything_before_sending_a_query():
    state = PoolingState()
    state.put(cp())
    flow = query_late_interaction(state, "c", np.ones((2, 9), np.float32))
    with pytest.raises(ValueError, match="wrong dimension"):
        next(flow)  # the config is cached: no call at all, not even get_collection


def test_flow_sends_one_query_points_call():
    state = PoolingState()
    state.put(cp())
    q = np.ones((2, 8), np.float32)
    flow = query_late_interaction(state, "c", q, limit=3, timeout=5)
    request = next(flow)
    assert isinstance(request, Call) and request.method == "query_points"
    assert request.args == ("c",) and request.kwargs["timeout"] == 5
    assert request.kwargs["using"] == "full" and request.kwargs["prefetch"].prefetch.using == "summary"
    sentinel = object()
    with pytest.raises(StopIteration) as stop:
        flow.send(sentinel)
    assert stop.value.value is sentinel


def test_client_mode_asks_for_the_last_stage_vectors():
    state = PoolingState()
    state.put(cp())
    flow = query_late_interaction(
        state, "c", np.ones((2, 8), np.float32), limit=3, rescore="client", with_vectors=["summary"]
    )
    request = next(flow)
    assert request.kwargs["using"] == "colbert"  # the candidates' stage, not "full"
    assert request.kwargs["limit"] == 40
    assert request.kwargs["with_vectors"] == ["summary", "full"]


def test_muvera_summary_stage_sends_the_query_fde():
    params = MuveraParams(k_sim=2, dim_proj=4, r_reps=3, seed=5)
    cfg = PoolingConfig(2, summary_vector="fde", summary_method="muvera", muvera=params)
    size = params.output_dim(8)
    vectors = {"colbert": VectorSpec(8, COS, True), "fde": VectorSpec(size, models.Distance.DOT, False)}
    f = plan_funnel(CollectionPooling("c", {"colbert": cfg}, vectors, {}), limit=5)
    assert stages(f) == [("fde", "dense", 100), ("colbert", "maxsim", 5)]
    q = np.arange(16, dtype=np.float32).reshape(2, 8) + 1
    req = _build_request(f, f.stages, q, query_filter=None, search_params=None)
    unit = q / np.linalg.norm(q, axis=1, keepdims=True)  # Cosine: the FDE of unit rows
    want = Muvera.for_dim(8, params).encode_query(unit)
    assert len(req["prefetch"].query) == size
    np.testing.assert_allclose(req["prefetch"].query, want, rtol=1e-5, atol=1e-6)
