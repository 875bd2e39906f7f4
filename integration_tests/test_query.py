"""query_late_interaction against every backend: each funnel shape returns exactly what
brute-force MaxSim over the stored vectors says, server and client rescoring agree, sync
and async agree, filters hold at every stage, and bad queries never reach Qdrant.

Points are written with the parent ``QdrantClient.upsert`` (vectors pooled and summarised
here), so these tests do not depend on the write path.
"""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from qdrant_tokenpool import InvalidMultivectorError, PoolingConfig
from qdrant_tokenpool.maxsim import maxsim, normalize_rows

D = 16
N_DOCS = 60
MAXSIM = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
SHAPES = {
    "plain": (False, False),
    "summary": (True, False),
    "full_resolution": (False, True),
    "summary+full_resolution": (True, True),
}


def corpus(seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((int(rng.integers(2, 24)), D)).astype(np.float32) for _ in range(N_DOCS)]


def query_tokens(seed: int = 11, n: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, D)).astype(np.float32)


def pooled_of(doc: np.ndarray) -> np.ndarray:
    """A stand-in for pooling at pf=2 (first token kept, then means of token pairs): the
    query helper only needs shorter multivectors, whatever the pooling numerics are."""
    rest = doc[1:]
    pairs = rest[: len(rest) // 2 * 2].reshape(-1, 2, D).mean(axis=1)
    tail = rest[len(rest) // 2 * 2 :]
    return np.concatenate([doc[:1], pairs, tail]).astype(np.float32)


def summary_of(doc: np.ndarray) -> np.ndarray:
    m = normalize_rows(doc).mean(axis=0)
    return m / np.linalg.norm(m)


def setup(summary: bool, original: bool, distance=models.Distance.COSINE):
    """(vectors_config, pooling, points) for one collection."""
    cfg = PoolingConfig(
        pool_factor=2,
        summary_vector="summary" if summary else None,
        keep_original_vector="full" if original else None,
    )
    vectors = {"colbert": models.VectorParams(size=D, distance=distance, multivector_config=MAXSIM)}
    points = []
    for i, doc in enumerate(corpus()):
        vec = {"colbert": pooled_of(doc).tolist()}
        if summary:
            vec["summary"] = summary_of(doc).tolist()
        if original:
            vec["full"] = doc.tolist()
        points.append(models.PointStruct(id=i, vector=vec, payload={"group": i % 3, "i": i}))
    return vectors, {"colbert": cfg}, points


def make(client, name, summary=False, original=False, distance=models.Distance.COSINE):
    vectors, pooling, points = setup(summary, original, distance)
    client.create_collection(name, vectors, pooling=pooling)
    QdrantClient.upsert(client, name, points, wait=True)  # the parent: no write path involved


async def make_async(client, name, summary=False, original=False):
    vectors, pooling, points = setup(summary, original)
    await client.create_collection(name, vectors, pooling=pooling)
    await AsyncQdrantClient.upsert(client, name, points, wait=True)


def stored(client, name) -> tuple[list[int], dict[str, list[np.ndarray]], list[dict]]:
    """All points' ids, vectors per name and payloads, as stored by Qdrant."""
    points, _ = client.scroll(name, limit=10_000, with_vectors=True, with_payload=True)
    points.sort(key=lambda p: p.id)
    names = points[0].vector.keys()
    vecs = {k: [np.asarray(p.vector[k], dtype=np.float32) for p in points] for k in names}
    return [p.id for p in points], vecs, [p.payload for p in points]


def brute_force(
    client,
    name,
    q,
    *,
    limit,
    summary_limit=None,
    rescore_limit=None,
    keep=None,
):
    """Expected (ids, scores) of the funnel, from the stored vectors with numpy."""
    ids, vecs, payloads = stored(client, name)
    cand = np.array([keep(p) if keep else True for p in payloads])
    idx = np.flatnonzero(cand)
    if summary_limit is not None:
        qs = summary_of(q)
        s = np.stack([vecs["summary"][i] for i in idx]) @ qs
        idx = idx[np.argsort(-s, kind="stable")[:summary_limit]]
    pooled = maxsim(q, [vecs["colbert"][i] for i in idx], normalize=True)
    order = np.argsort(-pooled, kind="stable")
    if rescore_limit is None:
        top = order[:limit]
        return [ids[idx[i]] for i in top], pooled[top]
    idx = idx[order[:rescore_limit]]
    full = maxsim(q, [vecs["full"][i] for i in idx], normalize=True)
    top = np.argsort(-full, kind="stable")[:limit]
    return [ids[idx[i]] for i in top], full[top]


def result(resp) -> tuple[list, np.ndarray]:
    return [p.id for p in resp.points], np.array([p.score for p in resp.points])


def test_plain_query_is_brute_force_maxsim_over_stored_vectors(client, collection_name):
    make(client, collection_name)
    q = query_tokens()
    ids, scores = result(client.query_late_interaction(collection_name, q, limit=7))
    want_ids, want_scores = brute_force(client, collection_name, q, limit=7)
    assert ids == want_ids
    np.testing.assert_allclose(scores, want_scores, atol=1e-4)


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("rescore", ["server", "client"])
def test_each_funnel_shape_returns_its_exact_ids_and_scores(client, collection_name, shape, rescore):
    summary, original = SHAPES[shape]
    make(client, collection_name, summary, original)
    q = query_tokens()
    resp = client.query_late_interaction(
        collection_name, q, limit=5, prefetch_limit=20, rescore_limit=9, rescore=rescore
    )
    want_ids, want_scores = brute_force(
        client,
        collection_name,
        q,
        limit=5,
        summary_limit=20 if summary else None,
        rescore_limit=9 if original else None,
    )
    ids, scores = result(resp)
    assert ids == want_ids
    np.testing.assert_allclose(scores, want_scores, atol=1e-4)
    assert all(p.payload is not None and "group" in p.payload for p in resp.points)
    assert all(p.vector is None for p in resp.points)


def test_funnel_stages_change_the_result_as_configured(client, collection_name):
    """A short summary stage and a full-resolution stage really take part: results differ
    from the plain pooled query the way brute force says (guards against stages that are
    silently dropped)."""
    make(client, collection_name, True, True)
    q = query_tokens()
    plain = result(client.query_late_interaction(collection_name, q, limit=5, summary=False, full_resolution=False))
    funnel = result(client.query_late_interaction(collection_name, q, limit=5, prefetch_limit=6, rescore_limit=5))
    want = brute_force(client, collection_name, q, limit=5, summary_limit=6, rescore_limit=5)
    assert funnel[0] == want[0]
    np.testing.assert_allclose(funnel[1], want[1], atol=1e-4)
    assert (plain[0], list(plain[1])) != (funnel[0], list(funnel[1]))
    full_only = result(client.query_late_interaction(collection_name, q, limit=5, summary=False))
    np.testing.assert_allclose(
        full_only[1], brute_force(client, collection_name, q, limit=5, rescore_limit=40)[1], atol=1e-4
    )


@pytest.mark.parametrize("rescore", ["server", "client"])
def test_end_to_end_through_the_write_path(client, collection_name, rescore):
    """Points written by TokenPoolingClient.upsert (pooled, summary and originals filled by
    the write path) are found exactly as brute force over what was stored says."""
    vectors, pooling, _ = setup(True, True)
    client.create_collection(collection_name, vectors, pooling=pooling)
    docs = corpus()
    client.upsert(
        collection_name,
        [models.PointStruct(id=i, vector={"colbert": d}, payload={"group": i % 3}) for i, d in enumerate(docs)],
        wait=True,
    )
    _, vecs, _ = stored(client, collection_name)
    assert sum(len(v) for v in vecs["colbert"]) < sum(len(d) for d in docs)  # pooled
    q = query_tokens(seed=8)
    resp = client.query_late_interaction(collection_name, q, limit=5, prefetch_limit=25, rescore_limit=10, rescore=rescore)
    want_ids, want_scores = brute_force(client, collection_name, q, limit=5, summary_limit=25, rescore_limit=10)
    assert result(resp)[0] == want_ids
    np.testing.assert_allclose(result(resp)[1], want_scores, atol=1e-4)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_filter_applies_at_every_stage(client, collection_name, shape):
    summary, original = SHAPES[shape]
    make(client, collection_name, summary, original)
    q = query_tokens(seed=5)
    flt = models.Filter(must=[models.FieldCondition(key="group", match=models.MatchValue(value=1))])
    for rescore in ("server", "client"):
        resp = client.query_late_interaction(
            collection_name, q, limit=4, prefetch_limit=8, rescore_limit=6, query_filter=flt, rescore=rescore
        )
        assert resp.points and all(p.payload["group"] == 1 for p in resp.points)
        want_ids, want_scores = brute_force(
            client,
            collection_name,
            q,
            limit=4,
            summary_limit=8 if summary else None,
            rescore_limit=6 if original else None,
            keep=lambda p: p["group"] == 1,
        )
        assert result(resp)[0] == want_ids
        np.testing.assert_allclose(result(resp)[1], want_scores, atol=1e-4)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_client_rescoring_equals_server_scores(client, collection_name, shape):
    summary, original = SHAPES[shape]
    make(client, collection_name, summary, original)
    for seed in (1, 2, 3):
        q = query_tokens(seed=seed, n=3 + seed)
        server = client.query_late_interaction(collection_name, q, limit=6, rescore="server")
        local = client.query_late_interaction(collection_name, q, limit=6, rescore="client")
        assert result(local)[0] == result(server)[0]
        np.testing.assert_allclose(result(local)[1], result(server)[1], atol=1e-4)


@pytest.mark.parametrize("scale", [1e20, 1e-25])
def test_client_rescoring_of_a_huge_or_tiny_query(client, collection_name, scale):
    """A Cosine query scaled by 1e20 (squares overflow float32) or 1e-25 (they underflow)
    scores as the unscaled query: not 0.0 for every document."""
    make(client, collection_name, False, True)
    q = query_tokens(seed=4)
    server = result(client.query_late_interaction(collection_name, q, limit=6))
    local = result(
        client.query_late_interaction(collection_name, q * np.float32(scale), limit=6, rescore="client")
    )
    assert local[0] == server[0]
    np.testing.assert_allclose(local[1], server[1], atol=1e-4)


def test_client_rescoring_on_a_dot_collection(client, collection_name):
    make(client, collection_name, distance=models.Distance.DOT)
    q = query_tokens() * 3  # not normalised: Dot uses raw vectors
    server = result(client.query_late_interaction(collection_name, q, limit=5))
    local = result(client.query_late_interaction(collection_name, q, limit=5, rescore="client"))
    assert local[0] == server[0]
    np.testing.assert_allclose(local[1], server[1], rtol=1e-5, atol=1e-4)


def test_payload_and_vectors_pass_through(client, collection_name):
    make(client, collection_name, True, True)
    q = query_tokens()
    for rescore in ("server", "client"):
        resp = client.query_late_interaction(
            collection_name, q, limit=3, with_payload=["i"], with_vectors=["summary"], rescore=rescore
        )
        for p in resp.points:
            assert set(p.payload) == {"i"} and p.payload["i"] == p.id
            assert set(p.vector) == {"summary"}
        resp = client.query_late_interaction(
            collection_name, q, limit=2, with_payload=False, with_vectors=True, rescore=rescore
        )
        for p in resp.points:
            assert not p.payload
            assert set(p.vector) == {"colbert", "summary", "full"}


def test_using_may_be_named_and_is_required_when_ambiguous(client, collection_name):
    vectors = {
        "a": models.VectorParams(size=D, distance=models.Distance.COSINE, multivector_config=MAXSIM),
        "b": models.VectorParams(size=D, distance=models.Distance.COSINE, multivector_config=MAXSIM),
    }
    client.create_collection(
        collection_name, vectors, pooling={"a": PoolingConfig(2), "b": PoolingConfig(4)}
    )
    docs = corpus()[:10]
    QdrantClient.upsert(
        client,
        collection_name,
        [
            models.PointStruct(id=i, vector={"a": d.tolist(), "b": d[:1].tolist()})
            for i, d in enumerate(docs)
        ],
        wait=True,
    )
    q = query_tokens()
    with pytest.raises(ValueError, match="several pooled multivectors"):
        client.query_late_interaction(collection_name, q)
    ids, _ = result(client.query_late_interaction(collection_name, q, using="b", limit=3))
    want = maxsim(q, [d[:1] for d in docs], normalize=True)
    assert ids == list(np.argsort(-want, kind="stable")[:3])


def test_unnamed_default_multivector(client, collection_name):
    client.create_collection(
        collection_name,
        models.VectorParams(size=D, distance=models.Distance.COSINE, multivector_config=MAXSIM),
        pooling=PoolingConfig(pool_factor=2),
    )
    docs = corpus()[:15]
    QdrantClient.upsert(
        client, collection_name,
        [models.PointStruct(id=i, vector=pooled_of(d).tolist()) for i, d in enumerate(docs)], wait=True,
    )
    q = query_tokens()
    want = maxsim(q, [pooled_of(d) for d in docs], normalize=True)
    for rescore in ("server", "client"):
        ids, scores = result(client.query_late_interaction(collection_name, q, limit=4, rescore=rescore))
        assert ids == list(np.argsort(-want, kind="stable")[:4])
        np.testing.assert_allclose(scores, np.sort(want)[::-1][:4], atol=1e-4)


def test_unpooled_collection_with_one_multivector(client, collection_name):
    client.create_collection(
        collection_name,
        {"mv": models.VectorParams(size=D, distance=models.Distance.COSINE, multivector_config=MAXSIM)},
    )
    docs = corpus()[:12]
    QdrantClient.upsert(
        client,
        collection_name,
        [models.PointStruct(id=i, vector={"mv": d.tolist()}) for i, d in enumerate(docs)],
        wait=True,
    )
    q = query_tokens()
    ids, scores = result(client.query_late_interaction(collection_name, q, limit=4, rescore="client"))
    want = maxsim(q, docs, normalize=True)
    assert ids == list(np.argsort(-want, kind="stable")[:4])
    np.testing.assert_allclose(scores, np.sort(want)[::-1][:4], atol=1e-4)


@pytest.mark.anyio
@pytest.mark.parametrize("shape", list(SHAPES))
async def test_async_equals_sync(backend, client, async_client, collection_name, shape):
    summary, original = SHAPES[shape]
    make(client, collection_name, summary, original)
    if not backend.remote:  # embedded: the async client has its own database
        await make_async(async_client, collection_name, summary, original)
    q = query_tokens(seed=21)
    flt = models.Filter(must_not=[models.FieldCondition(key="group", match=models.MatchValue(value=0))])
    for rescore in ("server", "client"):
        kw = {"limit": 5, "prefetch_limit": 15, "rescore_limit": 8, "query_filter": flt, "rescore": rescore}
        want = client.query_late_interaction(collection_name, q, **kw)
        got = await async_client.query_late_interaction(collection_name, q, **kw)
        assert result(got)[0] == result(want)[0]
        np.testing.assert_allclose(result(got)[1], result(want)[1], atol=1e-6)


# -- bad input: a clear ValueError, and nothing is sent ----------------------------------
@pytest.fixture
def no_queries_sent(monkeypatch):
    sent = []
    original = QdrantClient.query_points

    def spy(self, *args, **kwargs):
        sent.append((args, kwargs))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(QdrantClient, "query_points", spy)
    yield sent
    assert sent == [], "a query was sent for bad input"


@pytest.mark.parametrize(
    "query, match",
    [
        (np.zeros((0, D), np.float32), "empty multivector"),
        ([], "empty multivector"),
        (np.ones(D, np.float32), "single vector"),
        (np.ones((3, D + 1), np.float32), "wrong dimension: vectors have 17 values, the collection expects 16"),
        (np.array([[np.nan] * D], np.float32), "non-finite value nan"),
        (np.ones((2, 3, D), np.float32), "shape"),
        ([[1.0] * D, [1.0] * (D - 1)], "ragged"),
    ],
)
def test_bad_query_gives_clear_error_before_sending(client, collection_name, no_queries_sent, query, match):
    make(client, collection_name, True, True)
    with pytest.raises(InvalidMultivectorError, match=match) as info:
        client.query_late_interaction(collection_name, query, rescore="client")
    assert "query" in str(info.value) and "colbert" in str(info.value)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"using": "nope"}, "has no vector 'nope'"),
        ({"using": "summary"}, "dense single vector"),
        ({"limit": 0}, "limit must be an integer >= 1"),
        ({"limit": 10, "prefetch_limit": 5}, r"prefetch_limit \(5\) must be >= limit \(10\)"),
        ({"limit": 10, "rescore_limit": 3}, r"rescore_limit \(3\) must be >= limit \(10\)"),
        ({"rescore": "gpu"}, "rescore must be"),
    ],
)
def test_bad_arguments_give_clear_error_before_sending(client, collection_name, no_queries_sent, kwargs, match):
    make(client, collection_name, True, True)
    with pytest.raises(ValueError, match=match):
        client.query_late_interaction(collection_name, query_tokens(), **kwargs)


def test_unknown_collection(client, no_queries_sent):
    with pytest.raises(ValueError, match="collection 'no_such_collection' does not exist"):
        client.query_late_interaction("no_such_collection", query_tokens())


def test_required_stage_missing(client, collection_name, no_queries_sent):
    make(client, collection_name)
    with pytest.raises(ValueError, match="declares no summary_vector"):
        client.query_late_interaction(collection_name, query_tokens(), summary=True)
    with pytest.raises(ValueError, match="declares no keep_original_vector"):
        client.query_late_interaction(collection_name, query_tokens(), full_resolution=True)


@pytest.mark.parametrize("rescore", ["server", "client"])
def test_muvera_first_stage_end_to_end(client, collection_name, rescore):
    """summary_method="muvera": create_collection adds a Dot vector of the encoding's
    size, the write path fills it with each document's FDE, the query side sends the
    query's FDE, and the funnel returns what brute force over the stored vectors says."""
    from qdrant_tokenpool.firststage import Muvera, MuveraParams

    params = MuveraParams(k_sim=3, dim_proj=8, r_reps=4, seed=1)
    cfg = PoolingConfig(2, summary_vector="fde", summary_method="muvera", muvera=params)
    mv = models.VectorParams(size=D, distance=models.Distance.COSINE, multivector_config=MAXSIM)
    client.create_collection(collection_name, {"colbert": mv}, pooling={"colbert": cfg})
    fde_params = client.get_collection(collection_name).config.params.vectors["fde"]
    assert (fde_params.size, fde_params.distance) == (params.output_dim(D), models.Distance.DOT)
    docs = corpus()
    client.upsert(
        collection_name,
        [models.PointStruct(id=i, vector={"colbert": d}) for i, d in enumerate(docs)],
        wait=True,
    )
    enc = Muvera.for_dim(D, params)
    ids, vecs, _ = stored(client, collection_name)
    np.testing.assert_allclose(
        np.stack(vecs["fde"]), enc.encode_documents([docs[i] for i in ids], normalize=True),
        rtol=1e-4, atol=1e-5,
    )
    q = query_tokens(seed=8)
    resp = client.query_late_interaction(collection_name, q, limit=5, prefetch_limit=20, rescore=rescore)
    first = np.stack(vecs["fde"]) @ enc.encode_query(q, normalize=True)
    cand = np.argsort(-first, kind="stable")[:20]
    pooled = maxsim(q, [vecs["colbert"][i] for i in cand], normalize=True)
    top = np.argsort(-pooled, kind="stable")[:5]
    assert result(resp)[0] == [ids[cand[i]] for i in top]
    np.testing.assert_allclose(result(resp)[1], pooled[top], atol=1e-4)
