"""The library operations from Python: index_corpus, repool, collection_stats (sync and
async twins), on the embedded backend with a deterministic numpy encoder."""

from __future__ import annotations

import asyncio
import zlib

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

import qdrant_tokenpool as tp
from qdrant_tokenpool import (
    AsyncTokenPoolingClient,
    OperationError,
    OperationUsageError,
    PoolingConfig,
    PoolingConfigError,
    TokenPoolingClient,
    UnknownCollectionError,
    pool_tokens,
)
from qdrant_tokenpool.firststage import mean_summary
from qdrant_tokenpool.ops import (
    TOKENS_PAYLOAD_KEY,
    Document,
    DocumentError,
    Progress,
    index_record,
    point_id,
)

DIM = 8
DOCS = [
    Document("a", "Alpha", "one two three four five six seven"),
    Document("b", "", "eight nine ten"),
    Document("c", "Gamma", "eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen"),
    Document("d", "Delta", "x"),
    Document("e", "Eps", "y z w v u t s r q p o n m"),
]


class FakeEncoder:
    """Token vectors from a seed of the text: ``(words + 2, DIM)`` rows (like [CLS] ... [SEP])."""

    dim = DIM
    protected_tokens = 1

    def __init__(self) -> None:
        self.calls = 0

    def vectors(self, text: str) -> np.ndarray:
        rng = np.random.default_rng(zlib.crc32(text.encode()))
        return rng.normal(size=(len(text.split()) + 2, DIM)).astype(np.float32)

    def encode_documents(self, texts, batch_size=32, show_progress=None):
        self.calls += 1
        return [self.vectors(t) for t in texts]

    def encode_queries(self, texts, batch_size=32, show_progress=None):
        return [self.vectors(t) for t in texts]


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def stored(client, name: str, vector: str) -> dict[str, tuple[np.ndarray, dict]]:
    recs, _ = client.scroll(name, limit=1000, with_payload=True, with_vectors=True)
    out = {}
    for r in recs:
        v = r.vector[vector] if isinstance(r.vector, dict) else r.vector
        out[str(r.id)] = (np.asarray(v, dtype=np.float32), r.payload)
    return out


@pytest.fixture
def client():
    c = TokenPoolingClient(":memory:")
    yield c
    c.close()


# ------------------------------------------------------------------------ index_corpus


def test_index_corpus_writes_pooled_vectors_payloads_and_counts(client):
    enc = FakeEncoder()
    events: list[Progress] = []
    result = tp.index_corpus(
        client, "docs", DOCS, enc, pool_factor=2, batch_size=2, progress=events.append
    )
    assert result.created and result.added == 5 and result.skipped == 0
    assert result.vector_name == "tokens"
    assert result.pooling == PoolingConfig(2, summary_vector="summary")
    assert client.get_pooling("docs")["tokens"].pool_factor == 2
    got = stored(client, "docs", "tokens")
    assert set(got) == {point_id(d.doc_id) for d in DOCS}
    n_raw = n_pooled = 0
    for d in DOCS:
        raw = enc.vectors(d.content)
        want = unit(pool_tokens(raw, 2, protected_tokens=1))
        vec, payload = got[point_id(d.doc_id)]
        np.testing.assert_allclose(vec, want, atol=1e-5)
        assert payload == {
            "doc_id": d.doc_id,
            "title": d.title,
            "text": d.text,
            TOKENS_PAYLOAD_KEY: raw.shape[0],
        }
        n_raw += raw.shape[0]
        n_pooled += want.shape[0]
    assert (result.token_vectors, result.stored_vectors) == (n_raw, n_pooled)
    assert result.reduction == pytest.approx(1 - n_pooled / n_raw)
    assert index_record(client, "docs") == {"vector": "tokens"}
    kinds = [e.kind for e in events]
    assert kinds[0] == "info" and "start" in kinds and kinds[-1] == "end"
    assert sum(e.count for e in events if e.kind == "advance") == len(DOCS)
    assert next(e for e in events if e.kind == "start").total == len(DOCS)


def test_a_new_collection_gets_a_summary_vector_and_its_tokens_on_disk(client):
    tp.index_corpus(client, "docs", DOCS, FakeEncoder(), pool_factor=2)
    vectors = client.get_collection("docs").config.params.vectors
    assert vectors["tokens"].on_disk is True and vectors["tokens"].multivector_config
    assert vectors["summary"].size == DIM and not vectors["summary"].on_disk
    summaries = stored(client, "docs", "summary")
    for d in DOCS:
        want = mean_summary(FakeEncoder().vectors(d.content))
        np.testing.assert_allclose(summaries[point_id(d.doc_id)][0], want, atol=1e-6)
    # the funnel runs: summary top-k first, then MaxSim over the pooled vectors
    q = FakeEncoder().vectors(DOCS[0].content)
    top = client.query_late_interaction("docs", q, limit=1).points
    assert str(top[0].id) == point_id(DOCS[0].doc_id)


def test_index_corpus_makes_the_token_index_by_default(client, monkeypatch):
    from qdrant_tokenpool import candidates
    from qdrant_tokenpool.candidates import DEFAULT_POOL_FACTOR, coarse_rows, companion_name

    calls: list[str] = []
    real = candidates.candidate_ids

    def spy(ti, *args, **kwargs):
        calls.append(ti.companion)
        return (yield from real(ti, *args, **kwargs))

    monkeypatch.setattr(candidates, "candidate_ids", spy)
    tp.index_corpus(client, "tok", DOCS, FakeEncoder(), pool_factor=2)
    pooled = stored(client, "tok", "tokens").values()
    coarse = coarse_rows(DEFAULT_POOL_FACTOR, [v[0] for v in pooled])
    assert client.count(companion_name("tok")).count == sum(len(c) for c in coarse)
    assert sum(len(c) for c in coarse) < sum(v[0].shape[0] for v in pooled)
    # the user sees one collection; its queries take their candidates from the index
    assert [c.name for c in client.get_collections().collections] == ["tok"]
    q = FakeEncoder().vectors(DOCS[2].content)
    top = client.query_late_interaction("tok", q, limit=1).points
    assert str(top[0].id) == point_id(DOCS[2].doc_id)
    assert calls == [companion_name("tok")]
    # the opt-out: the summary funnel, as collections made before the token index
    tp.index_corpus(client, "plain", DOCS, FakeEncoder(), pool_factor=2, token_index=False)
    assert not client.collection_exists(companion_name("plain"))
    top = client.query_late_interaction("plain", q, limit=3).points
    summary = client.query_late_interaction("plain", q, limit=3, first_stage="summary").points
    assert [p.id for p in top] == [p.id for p in summary]
    assert str(top[0].id) == point_id(DOCS[2].doc_id)
    assert calls == [companion_name("tok")]


def test_index_corpus_without_summary_and_in_ram(client):
    result = tp.index_corpus(
        client, "docs", DOCS, FakeEncoder(), pool_factor=2, summary=False, on_disk=False
    )
    assert result.pooling == PoolingConfig(2)
    vectors = client.get_collection("docs").config.params.vectors
    assert set(vectors) == {"tokens"} and not vectors["tokens"].on_disk
    # an existing collection keeps its config: summary=True adds nothing
    again = tp.index_corpus(client, "docs", DOCS, FakeEncoder(), pool_factor=2)
    assert again.pooling == PoolingConfig(2) and again.skipped == len(DOCS)


def test_index_corpus_pooling_options_set_and_check_the_config(client):
    enc = FakeEncoder()
    opts = {"max_vectors": 3, "protected_tail_tokens": 1}
    result = tp.index_corpus(client, "docs", DOCS, enc, pool_factor=1.5, pooling_options=opts)
    assert result.pooling == PoolingConfig(
        1.5, max_vectors=3, protected_tail_tokens=1, summary_vector="summary"
    )
    got = stored(client, "docs", "tokens")
    for d in DOCS:
        raw = enc.vectors(d.content)
        want = pool_tokens(raw, 1.5, protected_tokens=1, **opts)
        assert len(want) <= 3
        np.testing.assert_allclose(got[point_id(d.doc_id)][0], unit(want), atol=1e-5)
    assert result.stored_vectors == sum(
        len(pool_tokens(enc.vectors(d.content), 1.5, protected_tokens=1, **opts)) for d in DOCS
    )
    again = tp.index_corpus(client, "docs", DOCS, enc, pooling_options={"max_vectors": 3})
    assert again.added == 0 and again.skipped == len(DOCS)
    with pytest.raises(OperationUsageError, match="max_vectors=4 differs"):
        tp.index_corpus(client, "docs", DOCS, enc, pooling_options={"max_vectors": 4})
    with pytest.raises(PoolingConfigError, match="not in pooling_options"):
        tp.index_corpus(client, "new", DOCS, enc, pooling_options={"pool_factor": 2})
    with pytest.raises(PoolingConfigError, match="distance_threshold must be a finite number"):
        tp.index_corpus(client, "new", DOCS, enc, pooling_options={"distance_threshold": -1})
    assert not client.collection_exists("new")


def test_repool_destination_must_match_every_knob(client):
    make_plain(client, "raw", 3)
    tp.repool(client, "raw", "p", PoolingConfig(2, max_vectors=5))
    with pytest.raises(OperationUsageError, match="exists with .*max_vectors=5.*, not"):
        tp.repool(client, "raw", "p", PoolingConfig(2))
    again = tp.repool(client, "raw", "p", PoolingConfig(2, max_vectors=5))
    assert again.skipped == 3


def test_index_corpus_encodes_groups_ahead_in_short_passes_and_stops_on_an_error(client):
    """Groups of ENCODE_BATCHES batches are encoded (in passes of at most
    FORWARD_DOCUMENTS) while the group before is written; an encoder error reaches the
    caller, and the groups written before it stay written."""
    from qdrant_tokenpool.ops import index as index_mod

    docs = [Document(f"d{i}", "", " ".join(["w"] * (3 + i % 5))) for i in range(30)]

    class Recording(FakeEncoder):
        def __init__(self, fail_at=None):
            super().__init__()
            self.sizes: list[tuple[int, int]] = []
            self.fail_at = fail_at

        def encode_documents(self, texts, batch_size=32, show_progress=None):
            self.sizes.append((len(texts), batch_size))
            if self.fail_at is not None and len(self.sizes) == self.fail_at:
                raise RuntimeError("encoder broke")
            return super().encode_documents(texts, batch_size, show_progress)

    enc = Recording()
    result = tp.index_corpus(client, "docs", docs, enc, batch_size=3)
    group = 3 * index_mod.ENCODE_BATCHES
    assert [n for n, _ in enc.sizes] == [group, group, 30 - 2 * group]
    assert {b for _, b in enc.sizes} == {min(3, index_mod.FORWARD_DOCUMENTS)}
    assert result.added == 30 and client.count("docs").count == 30

    broken = Recording(fail_at=2)
    with pytest.raises(RuntimeError, match="encoder broke"):
        tp.index_corpus(client, "other", docs, broken, batch_size=3)
    assert client.count("other").count == group  # the first group only


def test_index_corpus_resumes_and_never_loads_the_encoder_when_done(client):
    first = tp.index_corpus(client, "docs", DOCS[:3], FakeEncoder(), record={"model": "m"})
    assert first.added == 3
    loads = []

    def factory():
        loads.append(1)
        return FakeEncoder()

    rows = [{"_id": d.doc_id, "title": d.title, "text": d.text} for d in DOCS]
    second = tp.index_corpus(client, "docs", iter(rows), factory, batch_size=2)
    assert (second.added, second.skipped, second.created) == (2, 3, False)
    assert len(loads) == 1
    third = tp.index_corpus(client, "docs", iter(rows), factory)
    assert (third.added, third.skipped) == (0, 5) and len(loads) == 1  # not loaded again
    assert client.count("docs").count == 5
    assert index_record(client, "docs") == {"vector": "tokens", "model": "m"}
    assert index_record(client, "missing") == {}


def test_index_corpus_refuses_mismatches_and_bad_documents(client):
    tp.index_corpus(client, "docs", DOCS[:1], FakeEncoder(), pool_factor=2)
    with pytest.raises(OperationUsageError, match="pool_factor=2"):
        tp.index_corpus(client, "docs", DOCS, FakeEncoder(), pool_factor=4)
    with pytest.raises(OperationUsageError, match="method=hierarchical"):
        tp.index_corpus(client, "docs", DOCS, FakeEncoder(), method="kmeans")
    with pytest.raises(PoolingConfigError, match="bogus"):
        tp.index_corpus(client, "new", DOCS, FakeEncoder(), method="bogus")

    class Wide(FakeEncoder):
        dim = DIM + 1

    with pytest.raises(OperationError, match="stores 8-d vectors"):
        tp.index_corpus(client, "docs", DOCS, Wide())
    # a list is checked whole before anything is written
    bad = [*DOCS[1:], {"_id": "z", "title": "", "text": "  "}]
    with pytest.raises(DocumentError, match="document #4: document 'z' has no title"):
        tp.index_corpus(client, "docs", bad, FakeEncoder())
    dup = [DOCS[1], DOCS[2], DOCS[1]]
    with pytest.raises(DocumentError, match="duplicate document id 'b'"):
        tp.index_corpus(client, "docs", dup, FakeEncoder())
    assert client.count("docs").count == 1
    with pytest.raises(TypeError, match="TokenPoolingClient"):
        tp.index_corpus(QdrantClient(":memory:"), "docs", DOCS, FakeEncoder())


def test_async_index_corpus_matches_the_sync_one(client):
    tp.index_corpus(client, "docs", DOCS, FakeEncoder())
    want = stored(client, "docs", "tokens")

    async def run():
        aclient = AsyncTokenPoolingClient(":memory:")
        try:
            first = await tp.aindex_corpus(aclient, "docs", DOCS[:2], FakeEncoder())
            second = await tp.aindex_corpus(aclient, "docs", DOCS, FakeEncoder())
            recs, _ = await aclient.scroll("docs", limit=100, with_payload=True, with_vectors=True)
            stats = await tp.acollection_stats(aclient, "docs")
            return first, second, recs, stats
        finally:
            await aclient.close()

    first, second, recs, stats = asyncio.run(run())
    assert (first.added, second.added, second.skipped) == (2, 3, 2)
    assert {str(r.id) for r in recs} == set(want)
    for r in recs:
        np.testing.assert_allclose(r.vector["tokens"], want[str(r.id)][0], atol=1e-6)
    assert stats.stored_vectors == sum(v.shape[0] for v, _ in want.values())


# ------------------------------------------------------------------------------ repool


def make_plain(client, name: str = "raw", n: int = 9, *, two_multis: bool = False):
    multi = models.VectorParams(
        size=DIM,
        distance=models.Distance.COSINE,
        multivector_config=models.MultiVectorConfig(
            comparator=models.MultiVectorComparator.MAX_SIM
        ),
    )
    vc = {"colbert": multi, "dense": models.VectorParams(size=4, distance=models.Distance.DOT)}
    if two_multis:
        vc["other"] = multi
    client.create_collection(name, vectors_config=vc, metadata={"owner": "me"})
    rng = np.random.default_rng(0)
    docs = {i: rng.normal(size=(int(rng.integers(2, 12)), DIM)).astype(np.float32) for i in range(1, n + 1)}
    with client.pooling_disabled():
        client.upsert(
            name,
            [
                models.PointStruct(
                    id=i,
                    vector={"colbert": v.tolist(), "dense": [float(i)] * 4}
                    | ({"other": v.tolist()} if two_multis else {}),
                    payload={"n": i},
                )
                for i, v in docs.items()
            ],
        )
    return docs


def test_repool_copies_pools_and_resumes(client):
    docs = make_plain(client)
    result = tp.repool(client, "raw", "pooled", PoolingConfig(2), batch_size=4)
    assert (result.created, result.copied, result.skipped) == (True, 9, 0)
    assert result.pooling == {"colbert": PoolingConfig(2)}
    info = client.get_collection("pooled")
    assert info.config.metadata["owner"] == "me"

    def check():
        got = stored(client, "pooled", "colbert")
        assert len(got) == 9
        for pid, (vec, payload) in got.items():
            raw = docs[int(pid)]
            np.testing.assert_allclose(vec, unit(pool_tokens(raw, 2)), atol=1e-5)
            assert payload == {"n": int(pid), TOKENS_PAYLOAD_KEY: raw.shape[0]}

    check()
    client.delete("pooled", points_selector=models.PointIdsList(points=[2, 5]))
    again = tp.repool(client, "raw", "pooled", {"colbert": PoolingConfig(2)})
    assert (again.created, again.copied, again.skipped) == (False, 2, 7)
    check()
    stats = tp.collection_stats(client, "pooled")
    assert stats.vectors["colbert"].reduction > 0 and stats.vectors["dense"].stored_vectors == 9


def test_repool_errors(client):
    make_plain(client, "two", 3, two_multis=True)
    make_plain(client, "raw", 3)
    with pytest.raises(OperationUsageError, match="several multivectors"):
        tp.repool(client, "two", "out", PoolingConfig(2))
    tp.repool(client, "two", "out", {"other": PoolingConfig(2)})
    assert client.get_pooling("out") == {"other": PoolingConfig(2)}
    with pytest.raises(OperationUsageError, match="must differ"):
        tp.repool(client, "raw", "raw", PoolingConfig(2))
    with pytest.raises(UnknownCollectionError, match=r"collection 'nope' does not exist \(collections: .*raw"):
        tp.repool(client, "nope", "x", PoolingConfig(2))
    with pytest.raises(PoolingConfigError, match="not a multivector"):
        tp.repool(client, "raw", "x", {"dense": PoolingConfig(2)})
    tp.repool(client, "raw", "p2", PoolingConfig(2))
    with pytest.raises(OperationUsageError, match="exists with pool_factor=2"):
        tp.repool(client, "raw", "p2", PoolingConfig(4))
    with pytest.raises(OperationError, match="does not pool vector 'colbert'"):
        tp.repool(client, "raw", "two", PoolingConfig(2))
    assert not client.collection_exists("x")


# -------------------------------------------------------------------- collection_stats


def test_collection_stats_counts_with_any_client(tmp_path):
    path = str(tmp_path / "db")
    c = TokenPoolingClient(path=path)
    try:
        tp.index_corpus(c, "docs", DOCS, FakeEncoder(), pool_factor=2)
        s = tp.collection_stats(c, "docs")
        with pytest.raises(UnknownCollectionError):
            tp.collection_stats(c, "nope")
    finally:
        c.close()
    enc = FakeEncoder()
    raw = [enc.vectors(d.content).shape[0] for d in DOCS]
    pooled = [1 + max(1, (n - 1) // 2) for n in raw]
    assert s.points == 5 and s.stored_vectors == sum(pooled)
    v = s.vectors["tokens"]
    assert (v.dim, v.datatype, v.distance, v.multivector) == (DIM, "float32", "Cosine", True)
    assert v.bytes == sum(pooled) * DIM * 4 and v.points_with_vector == 5
    assert v.unpooled_vectors == sum(raw)
    assert v.reduction == pytest.approx(1 - sum(pooled) / sum(raw))
    assert s.pooling == {"tokens": PoolingConfig(2, summary_vector="summary")}
    assert s.on_disk_bytes > 0
    d = s.to_dict()
    assert d["vectors"]["tokens"]["pooling"] == {
        "pool_factor": 2,
        "method": "hierarchical",
        "protected_tokens": 1,
        "summary_vector": "summary",
        "summary_method": "mean",
    }
    summary_bytes = s.vectors["summary"].bytes
    assert summary_bytes == 5 * DIM * 4
    assert d["total_vector_bytes"] == v.bytes + summary_bytes
    assert d["on_disk_path"].endswith("docs")
    plain = QdrantClient(path=path)  # a plain client reads the same footprint
    try:
        again = tp.collection_stats(plain, "docs")
    finally:
        plain.close()
    assert again.to_dict() == d


def test_the_package_exports_the_operations():
    for name in ("index_corpus", "repool", "collection_stats", "aindex_corpus", "arepool"):
        assert name in tp.__all__ and callable(getattr(tp, name))


# -- open_database: says what it opens before opening it ------------------------------------
def test_open_database_reports_before_the_open(tmp_path, monkeypatch):
    from qdrant_tokenpool.client import TokenPoolingClient
    from qdrant_tokenpool.ops import database

    events: list[str] = []
    real_init = TokenPoolingClient.__init__

    def init(self, *args, **kwargs):
        events.append("client constructed")
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(TokenPoolingClient, "__init__", init)
    hook = lambda e: events.append(f"{e.kind}: {e.message}")
    folder = tmp_path / "db"
    with pytest.raises(OperationError, match=f"no Qdrant database at {folder}"):
        database.open_database(folder, must_exist=True, progress=hook)
    assert events == []  # refused before anything was opened or said
    database.open_database(folder, progress=hook).close()
    assert events == [f"info: creating a database at {folder} ...", "client constructed"]
    events.clear()
    monkeypatch.setattr(database, "SLOW_OPEN_S", 0.0)  # report the duration however short
    client = database.open_database(folder, must_exist=True, progress=hook)
    assert events[:2] == [f"info: opening the database at {folder} ...", "client constructed"]
    assert len(events) == 3 and events[2].startswith(f"info: opened {folder} in ")
    with pytest.raises(OperationError, match="open in another process"):
        database.open_database(folder, progress=hook)
    client.close()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OperationError, match="is not a folder"):
        database.open_database(tmp_path / "file", progress=hook)


# -- how an operation is made: one flow, a sync function and its async twin ------------------
def test_operations_take_the_flows_signature_and_return_its_result_type():
    import inspect

    from qdrant_tokenpool.ops import RepoolResult, repooling

    for fn in (tp.repool, tp.arepool):
        sig = inspect.signature(fn)
        assert list(sig.parameters)[:4] == ["client", "source_collection", "dest_collection", "pooling"]
        assert sig.parameters["batch_size"].default == 64
        assert sig.return_annotation is RepoolResult  # not the flow's Flow[RepoolResult]
    assert tp.repool.__doc__ == repooling.repool_flow.__doc__
    assert tp.arepool.__name__ == "arepool" and "Async twin" in tp.arepool.__doc__


# -- one scroll loop: every point once, whatever the batch size -----------------------------
@pytest.mark.parametrize("batch", [1, 4, 9, 100])
def test_scroll_points_hands_every_point_once_and_reports_the_count(client, batch):
    from qdrant_tokenpool._flow import run_sync
    from qdrant_tokenpool.ops.common import Reporter, scroll_points

    make_plain(client, n=9)
    seen: list[int] = []
    events: list[Progress] = []
    total = run_sync(
        scroll_points("raw", lambda recs: seen.extend(r.id for r in recs),
                      Reporter("test", events.append), "read raw", batch_size=batch),
        client,
    )
    assert total == 9 and sorted(seen) == list(range(1, 10))
    assert events[0].kind == "start" and events[0].total == 9
    assert sum(e.count for e in events if e.kind == "advance") == 9 and events[-1].kind == "end"


# -- search_documents / evaluate_collection: text queries against an indexed collection -----
def beir_folder(tmp_path, docs=DOCS):
    """A BEIR folder whose queries are the documents' own texts, each judging its document."""
    import json

    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": d.doc_id, "title": d.title, "text": d.text}) + "\n" for d in docs)
    )
    (tmp_path / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": f"q{d.doc_id}", "text": d.content}) + "\n" for d in docs)
    )
    (tmp_path / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{d.doc_id}\t{d.doc_id}\t1\n" for d in docs)
    )
    return tmp_path


def test_search_documents_ranks_by_maxsim_over_the_stored_vectors(client):
    from qdrant_tokenpool.ops import asearch_documents, search_documents

    tp.index_corpus(client, "docs", DOCS, FakeEncoder(), pool_factor=2, summary=False)
    enc = FakeEncoder()
    loads: list[int] = []
    hits = search_documents(client, "docs", DOCS[2].content, lambda: loads.append(1) or enc, limit=3)
    assert loads == [1]  # a loader is called once, after the collection was found
    q = unit(enc.vectors(DOCS[2].content))
    brute = sorted(
        ((float((q @ vec.T).max(axis=1).sum()), payload["doc_id"])
         for vec, payload in stored(client, "docs", "tokens").values()),
        reverse=True,
    )[:3]
    assert [h.rank for h in hits] == [1, 2, 3]
    assert [h.doc_id for h in hits] == [d for _, d in brute]
    np.testing.assert_allclose([h.score for h in hits], [s for s, _ in brute], atol=1e-4)
    titles = {d.doc_id: d.title or d.text for d in DOCS}
    assert [h.to_dict()["title"] for h in hits] == [titles[h.doc_id] for h in hits]
    assert list(hits[0].to_dict()) == ["rank", "score", "doc_id", "title"]

    async def run():
        aclient = AsyncTokenPoolingClient(":memory:")
        try:
            await tp.aindex_corpus(aclient, "docs", DOCS, FakeEncoder(), pool_factor=2, summary=False)
            return await asearch_documents(aclient, "docs", DOCS[2].content, enc, limit=3)
        finally:
            await aclient.close()

    again = asyncio.run(run())
    assert [(h.rank, h.doc_id, h.title) for h in again] == [(h.rank, h.doc_id, h.title) for h in hits]
    np.testing.assert_allclose([h.score for h in again], [h.score for h in hits], atol=1e-5)


def test_search_documents_opens_the_token_index_before_loading_the_encoder(tmp_path):
    from qdrant_tokenpool._backend import backend
    from qdrant_tokenpool.ops import search_documents

    folder = str(tmp_path / "db")
    c = TokenPoolingClient(path=folder, engine="edge")
    tp.index_corpus(c, "docs", DOCS, FakeEncoder(), pool_factor=2)  # with its token index
    c.close()
    c = TokenPoolingClient(path=folder, engine="edge")
    folders = backend(c)._collections
    opened: list[tuple[bool, ...]] = []

    def load() -> FakeEncoder:
        opened.append(tuple(folders[n]._shard is not None for n in ("docs", "docs--tokenpool-tokens")))
        return FakeEncoder()

    hits = search_documents(c, "docs", DOCS[2].content, load, limit=2)
    c.close()
    assert opened == [(True, True)] and hits[0].doc_id == "c"


def test_search_documents_errors(client):
    from qdrant_tokenpool.ops import search_documents

    with pytest.raises(UnknownCollectionError):
        search_documents(client, "nope", "x", lambda: pytest.fail("loaded for nothing"))
    tp.index_corpus(client, "docs", DOCS, FakeEncoder())

    class Wide(FakeEncoder):
        dim = DIM * 2

    with pytest.raises(OperationError, match=f"makes {2 * DIM}-d vectors"):
        search_documents(client, "docs", "x", Wide())
    with pytest.raises(OperationUsageError, match="no vector 'other'"):
        search_documents(client, "docs", "x", FakeEncoder(), vector_name="other")


def test_evaluate_collection_exact_and_through_qdrant_agree(client, tmp_path):
    from qdrant_tokenpool.ops import aevaluate_collection, evaluate_collection

    folder = beir_folder(tmp_path)
    tp.index_corpus(client, "raw", DOCS, FakeEncoder(), pool_factor=1)
    exact = evaluate_collection(client, "raw", folder, FakeEncoder(), top_k=10)
    served = evaluate_collection(client, "raw", folder, FakeEncoder(), top_k=10, scoring="qdrant")
    # each query is its document's text: unpooled MaxSim puts that document first
    assert exact.metrics == {"ndcg@10": 1.0, "recall@10": 1.0} == served.metrics
    assert exact.to_dict() == {
        "collection": "raw", "data": str(folder), "split": "test", "queries": len(DOCS),
        "scoring": "exact", "ndcg@10": 1.0, "recall@10": 1.0,
    }
    for qid, hits in exact.run.items():
        assert set(hits) == set(served.run[qid])
        np.testing.assert_allclose(
            [hits[d] for d in sorted(hits)], [served.run[qid][d] for d in sorted(hits)], atol=1e-4
        )
    assert exact.to_markdown().splitlines() == [
        "| collection | queries | nDCG@10 | recall@10 |", "|---|---:|---:|---:|",
        f"| raw | {len(DOCS)} | 1.0000 | 1.0000 |",
    ]

    async def run():
        aclient = AsyncTokenPoolingClient(":memory:")
        try:
            await tp.aindex_corpus(aclient, "raw", DOCS, FakeEncoder(), pool_factor=1)
            return await aevaluate_collection(aclient, "raw", folder, FakeEncoder(), top_k=10)
        finally:
            await aclient.close()

    assert asyncio.run(run()).metrics == exact.metrics
    with pytest.raises(OperationUsageError, match="scoring"):
        evaluate_collection(client, "raw", folder, FakeEncoder(), scoring="fast")
    with pytest.raises(FileNotFoundError, match="missing"):
        evaluate_collection(client, "raw", tmp_path / "qrels", FakeEncoder())


def test_progress_bars_hand_messages_on_and_count_steps(client, capsys):
    from qdrant_tokenpool.ops import progress_bars

    messages: list[str] = []
    tp.index_corpus(client, "docs", DOCS, FakeEncoder(), progress=progress_bars(info=messages.append))
    assert any(m.startswith("creating collection 'docs'") for m in messages)
    err = capsys.readouterr().err
    assert "index docs" in err and f"{len(DOCS)}/{len(DOCS)}" in err  # the bar, on stderr
    tp.collection_stats(client, "docs", progress=progress_bars(info=messages.append, disable=True))
    assert capsys.readouterr().err == ""
