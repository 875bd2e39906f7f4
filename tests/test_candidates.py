"""The token-level first stage (qdrant_tokenpool.candidates): the companion collection
follows the main one through every write of both clients, on local mode and Qdrant Edge;
queries take their candidates from it; a killed writer leaves nothing half-indexed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest
from qdrant_client import models

from qdrant_tokenpool import AsyncTokenPoolingClient, PoolingConfig, TokenPoolingClient
from qdrant_tokenpool.candidates import (
    DEFAULT_POOL_FACTOR,
    DOC_FIELD,
    JOURNAL_KEY,
    METADATA_KEY,
    PACKED,
    TOKEN_VECTOR,
    TokenIndex,
    coarse_rows,
    companion_name,
    doc_key,
    packed_docs,
    rank_candidates,
    rank_hits,
    token_ids,
    token_point_ids,
    unpack_ids,
)
from qdrant_tokenpool.ops import OperationUsageError, aadd_token_index, add_token_index, repool
from qdrant_tokenpool.pooling.validation import InvalidMultivectorError

D = 16
ENGINES = ["local", "edge"]


def _params() -> dict[str, models.VectorParams]:
    return {
        "colbert": models.VectorParams(
            size=D,
            distance=models.Distance.COSINE,
            multivector_config=models.MultiVectorConfig(
                comparator=models.MultiVectorComparator.MAX_SIM
            ),
        )
    }


def _pooling() -> dict[str, PoolingConfig]:
    return {"colbert": PoolingConfig(pool_factor=2, summary_vector="summary")}


def _docs(n: int, seed: int = 0, start: int = 0) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {start + i: rng.standard_normal((int(rng.integers(4, 20)), D)) for i in range(n)}


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _rows(rows: list[np.ndarray]) -> np.ndarray:
    """A document's token vectors as a set: unit rows in lexicographic order."""
    arr = np.round(_unit(np.asarray(rows)), 5)
    return arr[np.lexsort(arr.T[::-1])]


def expected_tokens(client, name: str) -> dict[str, np.ndarray]:
    """{document key: its token vectors} from the main collection's stored vectors."""
    records, _ = client.scroll(name, limit=10**6, with_vectors=["colbert"])
    ti = TokenIndex.from_metadata(client.get_collection(name).config.metadata, name)
    return {
        doc_key(r.id): _rows(coarse_rows(ti.pool_factor, [np.asarray(r.vector["colbert"])])[0])
        for r in records
        if (r.vector or {}).get("colbert") is not None
    }


def companion_tokens(client, name: str) -> dict[str, np.ndarray]:
    """{document key: its token vectors} as the companion holds them."""
    records, _ = client.scroll(
        companion_name(name), limit=10**6, with_vectors=True, with_payload=True
    )
    rows: dict[str, list] = {}
    for r in records:
        rows.setdefault(r.payload[DOC_FIELD], []).append(r.vector[TOKEN_VECTOR])
    return {k: _rows(v) for k, v in rows.items()}


def assert_in_step(client, name: str) -> None:
    want, have = expected_tokens(client, name), companion_tokens(client, name)
    assert set(have) == set(want), (len(have), len(want))
    for k, v in want.items():
        assert have[k].shape == v.shape, k
        np.testing.assert_allclose(have[k], v, atol=2e-5)
    info = client.get_collection(companion_name(name))
    assert not (info.config.metadata or {}).get(JOURNAL_KEY), "a journal entry was left"


def _client(engine: str) -> TokenPoolingClient:
    return TokenPoolingClient(":memory:", engine=engine)


def _indexed(
    engine: str, n: int = 30, **settings: Any
) -> tuple[TokenPoolingClient, dict[int, np.ndarray]]:
    client = _client(engine)
    client.create_collection("c", _params(), pooling=_pooling())
    docs = _docs(n)
    client.upsert("c", [models.PointStruct(id=i, vector={"colbert": v}) for i, v in docs.items()])
    add_token_index(client, "c", **settings)
    return client, docs


@pytest.mark.parametrize("pool_factor", [1, DEFAULT_POOL_FACTOR])
@pytest.mark.parametrize("engine", ENGINES)
def test_every_write_method_keeps_the_companion_in_step(engine, pool_factor):
    client, docs = _indexed(engine, pool_factor=pool_factor)
    ti = TokenIndex.from_metadata(client.get_collection("c").config.metadata, "c")
    assert ti is not None and ti.pool_factor == pool_factor
    assert_in_step(client, "c")
    new = _docs(6, seed=1, start=100)
    client.upsert("c", [models.PointStruct(id=i, vector={"colbert": v}) for i, v in new.items()])
    assert_in_step(client, "c")
    client.upsert("c", models.Batch(ids=[200, 201], vectors={"colbert": [new[100], new[101]]}))
    assert_in_step(client, "c")
    # overwrite with fewer tokens: the old extra tokens go
    client.upsert("c", [models.PointStruct(id=0, vector={"colbert": docs[0][:3]})])
    assert_in_step(client, "c")
    client.upload_points(
        "c", [models.PointStruct(id=300 + i, vector={"colbert": v}) for i, v in enumerate(new.values())],
        batch_size=4,
    )
    assert_in_step(client, "c")
    client.upload_collection(
        "c", vectors={"colbert": list(new.values())}, ids=[400 + i for i in range(len(new))],
        batch_size=3,
    )
    assert_in_step(client, "c")
    client.update_vectors("c", [models.PointVectors(id=1, vector={"colbert": new[102]})])
    assert_in_step(client, "c")
    client.update_vectors("c", [models.PointVectors(id=2, vector={"summary": np.ones(D).tolist()})])
    assert_in_step(client, "c")
    client.delete("c", [3, 4])
    assert_in_step(client, "c")
    client.delete("c", models.FilterSelector(filter=models.Filter(must=[models.HasIdCondition(has_id=[5, 6])])))
    assert_in_step(client, "c")
    client.delete("c", models.Filter(must=[models.HasIdCondition(has_id=[7])]))
    assert_in_step(client, "c")
    client.delete_vectors("c", ["colbert"], [8])
    assert_in_step(client, "c")
    client.batch_update_points("c", [
        models.UpsertOperation(upsert=models.PointsList(points=[
            models.PointStruct(id=9, vector={"colbert": new[103]})])),
        models.DeleteOperation(delete=models.PointIdsList(points=[10])),
    ])
    assert_in_step(client, "c")
    with client.pooling_disabled():  # vectors written as given still get their tokens
        client.upsert("c", [models.PointStruct(id=500, vector={"colbert": new[104], "summary": np.ones(D).tolist()})])
    assert_in_step(client, "c")
    assert [c.name for c in client.get_collections().collections] == ["c"]
    client.delete_collection("c")
    assert not client.collection_exists(companion_name("c"))
    assert client.get_collections().collections == []


@pytest.mark.parametrize("engine", ENGINES)
def test_recreate_and_create_drop_the_old_companion(engine):
    client, _ = _indexed(engine)
    with pytest.warns(DeprecationWarning):
        client.recreate_collection("c", _params(), pooling=_pooling())
    assert not client.collection_exists(companion_name("c"))
    assert METADATA_KEY not in (client.get_collection("c").config.metadata or {})
    client.upsert("c", [models.PointStruct(id=1, vector={"colbert": np.ones((3, D))})])  # no index: fine
    assert client.count("c").count == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_a_bad_batch_writes_nothing_anywhere(engine):
    client, _ = _indexed(engine)
    before_main, before_tokens = client.count("c").count, client.count(companion_name("c")).count
    bad = np.ones((4, D))
    bad[2, 3] = np.nan
    good = np.ones((4, D))
    for write in (
        lambda: client.upsert("c", [models.PointStruct(id=900, vector={"colbert": good}),
                                    models.PointStruct(id=901, vector={"colbert": bad})]),
        lambda: client.upsert("c", [models.PointStruct(id=900, vector={"colbert": good}),
                                    models.PointStruct(id=901, vector={"colbert": np.ones((4, D + 1))})]),
    ):
        with pytest.raises(InvalidMultivectorError, match="901"):
            write()
    with client.pooling_disabled(), pytest.raises(InvalidMultivectorError, match=r"point 901: non-finite"):
        client.upsert("c", [models.PointStruct(id=900, vector={"colbert": good, "summary": np.ones(D).tolist()}),
                            models.PointStruct(id=901, vector={"colbert": bad, "summary": np.ones(D).tolist()})])
    assert client.count("c").count == before_main
    assert client.count(companion_name("c")).count == before_tokens
    assert_in_step(client, "c")


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("ids", [[900, 901, 902], [900]])
def test_a_batch_with_a_column_of_another_length_names_it_and_writes_nothing(engine, ids):
    client, _ = _indexed(engine)
    before_main, before_tokens = client.count("c").count, client.count(companion_name("c")).count
    column = [np.ones((4, D)), np.ones((4, D))]
    with pytest.raises(ValueError, match=rf"Batch: vector 'colbert' has 2 rows for {len(ids)} ids"):
        client.upsert("c", models.Batch(ids=ids, vectors={"colbert": column}))
    assert client.count("c").count == before_main
    assert client.count(companion_name("c")).count == before_tokens
    assert_in_step(client, "c")


@pytest.mark.parametrize("engine", ENGINES)
def test_queries_take_their_candidates_from_the_token_index(engine):
    client, docs = _indexed(engine, n=60)
    rng = np.random.default_rng(5)
    for target in (3, 17, 42):
        q = docs[target][:4] + 0.05 * rng.standard_normal((4, D))
        plain = client.query_late_interaction("c", q, limit=5, summary=False)
        tokens = client.query_late_interaction("c", q, limit=5)
        forced = client.query_late_interaction("c", q, limit=5, first_stage="tokens", neighbours=2)
        assert tokens.points[0].id == target == plain.points[0].id == forced.points[0].id
        assert tokens.points[0].score == pytest.approx(plain.points[0].score, rel=1e-5)
        # the candidates are only those of the query tokens' nearest tokens
        few = client.query_late_interaction("c", q, limit=50, neighbours=1)
        assert 1 <= len(few.points) <= 4
    # a filter keeps the summary stage (the companion has no payload to filter on)
    flt = models.Filter(must=[models.HasIdCondition(has_id=[1, 2])])
    hits = client.query_late_interaction("c", docs[1], limit=5, query_filter=flt)
    assert {p.id for p in hits.points} == {1, 2}
    # deleted documents are never served, even before their tokens go
    client.delete("c", [3])
    q = docs[3][:4]
    assert 3 not in {p.id for p in client.query_late_interaction("c", q, limit=10).points}


def test_an_index_stored_before_the_coarse_settings_reads_as_it_was_built():
    # format 1 as the first release wrote it: every stored token vector, every candidate
    old = {"format": 1, "method": "tokens", "vector": "colbert", "companion": "c--tokenpool-tokens",
           "neighbours": 10, "quantization": "int8", "ready": True, "backfill_offset": None}
    ti = TokenIndex.from_metadata({METADATA_KEY: old}, "c")
    assert ti is not None and (ti.pool_factor, ti.candidates, ti.neighbours) == (1, 0, 10)
    assert TokenIndex.from_metadata(ti.to_metadata(), "c") == ti
    with pytest.raises(ValueError, match="pool_factor"):
        TokenIndex("colbert", "c--tokenpool-tokens", pool_factor=0)


def test_optimize_builds_the_companion_with_its_collection(tmp_path, monkeypatch):
    from qdrant_tokenpool import _backend

    def run(client, wait) -> list[str]:
        names: list[str] = []
        engine = _backend.backend(client)
        real = engine.optimize

        def spy(name=None):
            names.append(name)
            return real(name)

        monkeypatch.setattr(engine, "optimize", spy)
        for name, indexed in (("plain", False), ("c", True)):
            wait(client.create_collection(name, _params(), pooling=_pooling()))
            wait(client.upsert(name, [models.PointStruct(id=1, vector={"colbert": np.ones((3, D))})]))
            if indexed:
                wait((aadd_token_index if wait is not _same else add_token_index)(client, name))
            wait(client.optimize(name))
        return names

    sync = TokenPoolingClient(path=str(tmp_path / "s"), engine="edge")
    assert run(sync, _same) == ["plain", "c", companion_name("c")]
    sync.close()
    loop = asyncio.new_event_loop()
    aclient = AsyncTokenPoolingClient(path=str(tmp_path / "a"), engine="edge")
    assert run(aclient, loop.run_until_complete) == ["plain", "c", companion_name("c")]
    loop.run_until_complete(aclient.close())
    loop.close()


def _same(x: Any) -> Any:
    return x


def test_candidates_are_ranked_by_their_imputed_first_stage_score():
    # token 0 reaches a (0.9) and b (0.5), floor 0.5; token 1 reaches b (0.8), c (0.7),
    # a (0.6), floor 0.6: a = 0.4 + 0.0, b = 0.0 + 0.2, c = 0.1
    docs = [["a", "b"], ["b", "c", "a"]]
    sims = [[0.9, 0.5], [0.8, 0.7, 0.6]]
    assert rank_candidates(docs, sims) == ["a", "b", "c"]
    assert rank_candidates(docs, sims, 2) == ["a", "b"]
    assert rank_candidates([[], ["x"]], [[], [0.3]]) == ["x"]  # a token with no neighbour


def _rank_by_loop(docs: list[list[Any]], sims: list[list[float]]) -> list[Any]:
    """The ranking written as a loop over the tokens (the first release's): the reference."""
    scores: dict[Any, float] = {}
    for t_docs, t_sims in zip(docs, sims):
        if not len(t_sims):
            continue
        floor = float(min(t_sims))
        best: dict[Any, float] = {}
        for d, sim in zip(t_docs, t_sims):
            if float(sim) - floor > best.get(d, -1.0):
                best[d] = float(sim) - floor
        for d, gain in best.items():
            scores[d] = scores.get(d, 0.0) + gain
    return sorted(scores, key=scores.__getitem__, reverse=True)


def test_the_vectorised_ranking_is_the_loops_ties_included():
    rng = np.random.default_rng(7)
    for trial in range(200):
        n_tok = int(rng.integers(1, 12))
        docs, sims = [], []
        for _ in range(n_tok):
            k = int(rng.integers(0, 15))  # some tokens reach nothing
            docs.append([f"d{x}" for x in rng.integers(0, 20, size=k)])  # repeats: one doc, many hits
            # few distinct values: many exact ties between documents' scores
            sims.append(sorted(np.round(rng.uniform(0, 1, size=k), 1 if trial % 2 else 6), reverse=True))
        want = _rank_by_loop(docs, sims)
        assert rank_candidates(docs, sims) == want
        assert rank_candidates(docs, sims, 3) == want[:3]
        counts = np.array([len(s) for s in sims])
        flat = np.array([x for s in sims for x in s], dtype=np.float64)
        assert rank_hits(counts, [d for t in docs for d in t], flat, None) == want
    assert rank_hits(np.zeros(3, dtype=np.int64), [], np.zeros(0), None) == []


def _spy_search_batch(monkeypatch) -> list[int]:
    from qdrant_tokenpool.engines.edge.backend import EdgeBackend

    calls: list[int] = []
    real = EdgeBackend.search_batch

    def spy(self, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(args[1]))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(EdgeBackend, "search_batch", spy)
    return calls


def test_edge_searches_the_tokens_natively_with_the_generic_paths_candidates(monkeypatch):
    import uuid

    from qdrant_tokenpool import candidates as cand
    from qdrant_tokenpool._flow import run_sync

    client, docs = _indexed("edge", n=80)
    names = [str(uuid.UUID(int=int(k) + 1)) for k in range(5)]  # UUID documents too
    client.upsert("c", [models.PointStruct(id=u, vector={"colbert": docs[k] + 0.01})
                        for k, u in enumerate(names)])
    assert client._pooling_state.native_search
    calls = _spy_search_batch(monkeypatch)
    ti = TokenIndex.from_metadata(client.get_collection("c").config.metadata, "c")
    parent = super(TokenPoolingClient, client)
    rng = np.random.default_rng(3)
    seen: set[Any] = set()
    for target in range(0, 80, 7):
        q = docs[target][:6] + 0.3 * rng.standard_normal((6, D))
        for k, limit in ((4, None), (40, 0), (40, 5)):
            native, generic = (
                run_sync(cand.candidate_ids(ti, q, cosine=True, neighbours=k, limit=limit,
                                            native=flag), parent)
                for flag in (True, False)
            )
            assert native == generic and len(native) > 1
            seen.update(native)
        hits = client.query_late_interaction("c", q, limit=5)
        assert hits.points[0].id in (target, names[target] if target < 5 else target)
    assert set(names) & seen and set(range(80)) & seen  # UUID and int documents both found
    assert calls and set(calls) == {6}  # one batch of the query's 6 tokens per search


def test_edge_search_batch_errors_name_the_problem():
    from qdrant_tokenpool._backend import backend

    client, _ = _indexed("edge", n=5)
    engine = backend(client)
    companion = companion_name("c")
    with pytest.raises(ValueError, match="not found"):
        engine.search_batch("nope", np.ones((2, D)), using=TOKEN_VECTOR, limit=3)
    with pytest.raises(ValueError, match="2-d"):
        engine.search_batch(companion, np.ones(D), using=TOKEN_VECTOR, limit=3)
    with pytest.raises(ValueError, match="limit"):
        engine.search_batch(companion, np.ones((2, D)), using=TOKEN_VECTOR, limit=0)
    with pytest.raises(Exception, match="(?i)dim"):
        engine.search_batch(companion, np.ones((2, D + 1)), using=TOKEN_VECTOR, limit=3)
    counts, ids, scores, values = engine.search_batch(
        companion, np.ones((2, D)), using=TOKEN_VECTOR, limit=3, payload_key=DOC_FIELD
    )
    assert counts.tolist() == [3, 3] and len(ids) == len(values) == 6 and scores.dtype == np.float64
    assert all(isinstance(v, str) for v in values) and np.all(np.diff(scores[:3]) <= 0)
    assert engine.search_batch(companion, np.ones((0, D)), using=TOKEN_VECTOR, limit=3)[0].size == 0


def test_edge_search_batch_gives_the_ids_query_points_gives(tmp_path):
    """UUID and integer point ids come back as qdrant-client returns them, in the order
    and with the scores of one query_points per row."""
    import uuid

    from qdrant_tokenpool._backend import backend

    client = TokenPoolingClient(path=str(tmp_path / "db"), engine="edge")
    client.create_collection("p", {"v": models.VectorParams(size=D, distance=models.Distance.DOT)})
    rng = np.random.default_rng(2)
    ids = [str(uuid.UUID(int=i + 7)) if i % 2 else i for i in range(30)]
    client.upsert("p", [models.PointStruct(id=i, vector={"v": rng.standard_normal(D).tolist()})
                        for i in ids])
    rows = rng.standard_normal((3, D)).astype(np.float32)
    counts, got, scores, _ = backend(client).search_batch("p", rows, using="v", limit=5)
    want = [client.query_points("p", query=r.tolist(), using="v", limit=5).points for r in rows]
    assert counts.tolist() == [5, 5, 5]
    assert got == [p.id for pts in want for p in pts]
    assert {type(i) for i in got} == {int, str}
    np.testing.assert_allclose(scores, [p.score for pts in want for p in pts], rtol=1e-6)
    client.close()


def test_companion_ids_carry_integer_documents():
    ids = token_point_ids("7", 3) + token_point_ids(str(2**43 - 1), 1)
    assert min(ids) >= PACKED and len(set(ids)) == 4
    assert packed_docs(ids)[1] == [7, 7, 7, 2**43 - 1]
    for key in (str(2**43), "6f1e3c2a-0b7d-4c55-9a51-3d2c2e9b1a10"):  # too large, a UUID
        assert max(token_point_ids(key, 5)) < PACKED
    mask, docs = packed_docs([PACKED | 5 << 20 | 2, 12345])
    assert mask.tolist() == [True, False] and docs == [5, None]


def test_the_array_decode_of_companion_ids_is_packed_docs():
    rng = np.random.default_rng(11)
    for trial in range(50):
        docs = rng.integers(0, 2**43 if trial % 2 else 50, size=int(rng.integers(0, 40)))
        ids = [i for d in docs.tolist() for i in token_point_ids(str(d), int(rng.integers(1, 4)))]
        ids += token_ids(int(rng.integers(0, 5)))  # an older writer's random ids
        ids = [ids[i] for i in rng.permutation(len(ids))]
        mask, arr = unpack_ids(ids)
        want_mask, want = packed_docs(ids)
        assert mask.tolist() == want_mask.tolist() and arr.dtype == np.int64
        assert [d if m else None for d, m in zip(arr.tolist(), mask.tolist())] == want
    with pytest.raises((TypeError, ValueError, OverflowError)):
        unpack_ids(["6f1e3c2a-0b7d-4c55-9a51-3d2c2e9b1a10"])  # a UUID is never a companion id


def test_integer_array_keys_rank_as_their_list_ties_included():
    rng = np.random.default_rng(5)
    for trial in range(200):
        n_tok = int(rng.integers(1, 12))
        counts = rng.integers(0, 15, size=n_tok)
        keys = rng.integers(0, 2**43 if trial % 3 == 0 else 20, size=int(counts.sum()))
        sims = np.concatenate([np.sort(np.round(rng.uniform(0, 1, size=c), 1))[::-1] for c in counts])
        for limit in (None, 3):
            got = rank_hits(counts, keys.astype(np.int64), sims, limit)
            assert got == rank_hits(counts, keys.tolist(), sims, limit)
            assert all(type(d) is int for d in got)  # Python ints: HasIdCondition's ids
    assert rank_hits(np.zeros(2, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), 5) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_old_random_ids_and_packed_ids_give_the_same_candidates(engine, monkeypatch):
    """A companion written before packed ids (random ids, the document only in the
    payload), or partly so (older writers), gives the candidates of the payload reads."""
    from dataclasses import replace

    from qdrant_tokenpool import candidates as cand
    from qdrant_tokenpool._flow import run_sync

    old_ids = cand.token_ids
    monkeypatch.setattr(cand, "token_point_ids",  # every third document as an old writer
                        lambda key, n: old_ids(n) if int(key) % 3 == 0 else token_point_ids(key, n))
    client, docs = _indexed(engine, n=50)
    ti = TokenIndex.from_metadata(client.get_collection("c").config.metadata, "c")
    assert ti.packed_ids
    points, _ = client.scroll(companion_name("c"), limit=10**6, with_payload=True)
    assert {int(p.payload[DOC_FIELD]) % 3 == 0 for p in points if p.id < PACKED} == {True}
    assert {int(p.payload[DOC_FIELD]) == packed_docs([p.id])[1][0] for p in points if p.id >= PACKED} == {True}
    parent = super(TokenPoolingClient, client)
    native = client._pooling_state.native_search
    rng = np.random.default_rng(9)
    for target in (0, 4, 21, 33):
        q = docs[target][:5] + 0.3 * rng.standard_normal((5, D))
        ranked = [run_sync(cand.candidate_ids(index, q, cosine=True, neighbours=6, limit=0,
                                              hnsw=engine == "edge", native=native), parent)
                  for index in (ti, replace(ti, packed_ids=False))]
        assert ranked[0] == ranked[1] and {d % 3 for d in ranked[0]} == {0, 1, 2}
    # an index stored before packed ids reads as one without them, and serves as before
    meta = client.get_collection("c").config.metadata
    entry = {k: v for k, v in meta[METADATA_KEY].items() if k != "packed_ids"}
    assert not TokenIndex.from_metadata({METADATA_KEY: entry}, "c").packed_ids


def test_local_mode_keeps_query_batch_points_and_its_exact_neighbours(monkeypatch):
    client, docs = _indexed("local", n=40)
    assert not client._pooling_state.native_search
    # the reference: every companion vector scored exactly, each token's 3 best
    points, _ = client.scroll(companion_name("c"), limit=10**6, with_payload=True, with_vectors=True)
    mat = _unit(np.array([p.vector[TOKEN_VECTOR] for p in points]))
    keys = [p.payload[DOC_FIELD] for p in points]
    rng = np.random.default_rng(4)
    q = docs[11][:5] + 0.2 * rng.standard_normal((5, D))
    sims = _unit(q) @ mat.T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :3]
    want = _rank_by_loop([[keys[j] for j in row] for row in order],
                         [[sims[t, j] for j in row] for t, row in enumerate(order)])
    from qdrant_tokenpool import candidates as cand

    seen: list[list[Any]] = []
    real = cand.candidate_ids

    def spy(*args: Any, **kwargs: Any) -> Any:
        assert kwargs["native"] is False
        seen.append((yield from real(*args, **kwargs)))
        return seen[-1]

    monkeypatch.setattr(cand, "candidate_ids", spy)
    client.query_late_interaction("c", q, limit=3, neighbours=3, prefetch_limit=0)
    assert seen == [[int(k) for k in want]]


def test_the_async_edge_client_searches_the_tokens_natively(tmp_path, monkeypatch):
    docs = _docs(30)
    sync = TokenPoolingClient(path=str(tmp_path / "db"), engine="edge")
    sync.create_collection("c", _params(), pooling=_pooling())
    sync.upsert("c", [models.PointStruct(id=i, vector={"colbert": v}) for i, v in docs.items()])
    add_token_index(sync, "c")
    want = [p.id for p in sync.query_late_interaction("c", docs[4][:5], limit=5).points]
    sync.close()
    calls = _spy_search_batch(monkeypatch)

    async def main() -> list[Any]:
        client = AsyncTokenPoolingClient(path=str(tmp_path / "db"), engine="edge")
        try:
            hits = await client.query_late_interaction("c", docs[4][:5], limit=5)
        finally:
            await client.close()
        return [p.id for p in hits.points]

    assert asyncio.run(main()) == want and want[0] == 4
    assert calls == [5]


@pytest.mark.parametrize("engine", ENGINES)
def test_prefetch_limit_caps_the_token_candidates(engine, monkeypatch):
    client, docs = _indexed(engine, n=60)
    q = docs[9]
    every = client.query_late_interaction("c", q, limit=60, prefetch_limit=0)
    capped = client.query_late_interaction("c", q, limit=60, prefetch_limit=3)
    assert len(every.points) > 3 and len(capped.points) == 3
    assert capped.points[0].id == every.points[0].id == 9
    # the index's own cap (candidates=) applies by default, never below the query's limit
    import qdrant_tokenpool.candidates as cand

    seen: list[int] = []
    real = cand.restrict
    monkeypatch.setattr(cand, "restrict", lambda f, ids: seen.append(len(ids)) or real(f, ids))
    client2, _ = _indexed(engine, n=60, candidates=4)
    client2.query_late_interaction("c", q, limit=1)
    client2.query_late_interaction("c", q, limit=6)
    client2.query_late_interaction("c", q, limit=1, prefetch_limit=0)
    assert seen[:2] == [4, 6] and seen[2] > 6
    with pytest.raises(ValueError, match="prefetch_limit"):
        client.query_late_interaction("c", q, prefetch_limit=-1)


def test_first_stage_argument_is_checked():
    client = _client("local")
    client.create_collection("c", _params(), pooling=_pooling())
    client.upsert("c", [models.PointStruct(id=1, vector={"colbert": np.ones((3, D))})])
    with pytest.raises(ValueError, match="no ready token index"):
        client.query_late_interaction("c", np.ones((2, D)), first_stage="tokens")
    with pytest.raises(ValueError, match="first_stage must be"):
        client.query_late_interaction("c", np.ones((2, D)), first_stage="bm25")
    add_token_index(client, "c")
    with pytest.raises(ValueError, match="neighbours"):
        client.query_late_interaction("c", np.ones((2, D)), neighbours=0)
    with pytest.raises(OperationUsageError, match="already has a token index"):
        add_token_index(client, "c", quantization=None)
    assert add_token_index(client, "c").already_ready


@pytest.mark.parametrize("engine", ENGINES)
def test_add_token_index_resumes_after_an_interruption(engine):
    client = _client(engine)
    client.create_collection("c", _params(), pooling=_pooling())
    docs = _docs(50)
    client.upsert("c", [models.PointStruct(id=i, vector={"colbert": v}) for i, v in docs.items()])

    class Stop(Exception):
        pass

    done = []

    def stop_after_two(event):
        if event.kind == "advance":
            done.append(event.count)
            if sum(done) >= 20:
                raise Stop

    with pytest.raises(Stop):
        add_token_index(client, "c", batch_size=10, progress=stop_after_two)
    ti = TokenIndex.from_metadata(client.get_collection("c").config.metadata, "c")
    assert ti is not None and not ti.ready and ti.backfill_offset is not None
    # not ready: queries keep the summary stage; writes keep the companion in step already
    client.upsert("c", [models.PointStruct(id=1000, vector={"colbert": np.ones((3, D))})])
    hits = client.query_late_interaction("c", docs[0], limit=3)
    assert hits.points[0].id == 0
    result = add_token_index(client, "c", batch_size=10)
    assert result.resumed and result.index.ready
    assert result.documents < 51  # continued, not restarted
    assert_in_step(client, "c")


def test_repool_gives_the_destination_its_own_index():
    client, _ = _indexed("local", n=12)
    repool(client, "c", "d", PoolingConfig(pool_factor=3, summary_vector="summary"))
    ti = TokenIndex.from_metadata(client.get_collection("d").config.metadata, "d")
    assert ti is not None and ti.ready and ti.companion == companion_name("d")
    assert_in_step(client, "d")
    assert_in_step(client, "c")


def test_the_async_client_keeps_the_companion_in_step():
    async def main() -> None:
        client = AsyncTokenPoolingClient(":memory:")
        await client.create_collection("c", _params(), pooling=_pooling())
        docs = _docs(20)
        await client.upsert("c", [models.PointStruct(id=i, vector={"colbert": v}) for i, v in docs.items()])
        await aadd_token_index(client, "c")
        client.upload_points("c", [models.PointStruct(id=100 + i, vector={"colbert": v}) for i, v in docs.items()], batch_size=7)
        await client.update_vectors("c", [models.PointVectors(id=1, vector={"colbert": docs[2]})])
        await client.delete("c", [3, 4])
        await client.delete_vectors("c", ["colbert"], [5])
        want, have = {}, {}
        records, _ = await client.scroll("c", limit=10**6, with_vectors=["colbert"])
        info = await client.get_collection("c")
        ti = TokenIndex.from_metadata(info.config.metadata, "c")
        assert ti is not None and ti.pool_factor > 1  # the default: a coarse index
        for r in records:
            if (r.vector or {}).get("colbert"):
                rows = coarse_rows(ti.pool_factor, [np.asarray(r.vector["colbert"])])[0]
                want[doc_key(r.id)] = _rows(rows)
        records, _ = await client.scroll(
            companion_name("c"), limit=10**6, with_vectors=True, with_payload=True
        )
        for r in records:
            have.setdefault(r.payload[DOC_FIELD], []).append(r.vector[TOKEN_VECTOR])
        assert set(have) == set(want)
        for k, rows in have.items():
            np.testing.assert_allclose(_rows(rows), want[k], atol=2e-5)
        hits = await client.query_late_interaction("c", docs[7], limit=1)
        assert hits.points[0].id in (7, 107)
        names = [c.name for c in (await client.get_collections()).collections]
        assert names == ["c"]
        await client.delete_collection("c")
        assert not await client.collection_exists(companion_name("c"))

    asyncio.run(main())


# -- a writer killed between the two writes ---------------------------------------------------
KILLED_WRITER = """
    import os, signal, sys
    import numpy as np
    from qdrant_client import models
    from qdrant_tokenpool import PoolingConfig, TokenPoolingClient
    from qdrant_tokenpool.engines.edge.backend import EdgeBackend
    from qdrant_tokenpool.ops import add_token_index
    path, where = sys.argv[1], sys.argv[2]
    client = TokenPoolingClient(path=path, engine="edge")
    D = 16
    mv = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
    client.create_collection("c", {"colbert": models.VectorParams(size=D, distance="Cosine", multivector_config=mv)},
                             pooling={"colbert": PoolingConfig(pool_factor=2, summary_vector="summary")})
    rng = np.random.default_rng(0)
    client.upsert("c", [models.PointStruct(id=i, vector={"colbert": rng.standard_normal((10, D))}) for i in range(40)])
    add_token_index(client, "c")
    real = {name: getattr(EdgeBackend, name) for name in ("upsert", "delete")}
    def killing(name):
        def method(self, collection_name, *args, **kwargs):
            main = collection_name == "c"
            if where == f"before main {name}" and main:
                os.kill(os.getpid(), signal.SIGKILL)
            out = real[name](self, collection_name, *args, **kwargs)
            if where == f"after main {name}" and main:
                os.kill(os.getpid(), signal.SIGKILL)
            return out
        return method
    for name in real:
        setattr(EdgeBackend, name, killing(name))
    print("writing", flush=True)
    # rewrite 0..9 with 4 tokens each (fewer than before), add 100..109; delete 20..29
    new = [models.PointStruct(id=i, vector={"colbert": rng.standard_normal((8, D))}) for i in range(10)]
    new += [models.PointStruct(id=100 + i, vector={"colbert": rng.standard_normal((8, D))}) for i in range(10)]
    client.upsert("c", new)
    client.delete("c", list(range(20, 30)))
    print("survived", flush=True)
"""


@pytest.mark.parametrize(
    "where", ["before main upsert", "after main upsert", "before main delete", "after main delete"]
)
def test_a_writer_killed_between_the_two_writes_serves_nothing_half_indexed(tmp_path, where):
    path = tmp_path / "db"
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLED_WRITER), str(path), where],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert "survived" not in proc.stdout
    client = TokenPoolingClient(path=str(path), engine="edge")
    try:
        journal = (client.get_collection(companion_name("c")).config.metadata or {}).get(JOURNAL_KEY)
        assert journal, "the killed write left no journal entry"
        # the first use replays the journal: the companion is what the main collection says
        rng = np.random.default_rng(1)
        for _ in range(5):
            hits = client.query_late_interaction("c", rng.standard_normal((4, D)), limit=10)
            ids = [p.id for p in hits.points]
            assert ids and all(client.retrieve("c", [i]) for i in ids)
        assert_in_step(client, "c")
        # and the collection takes writes again
        client.upsert("c", [models.PointStruct(id=777, vector={"colbert": np.ones((3, D))})])
        assert_in_step(client, "c")
    finally:
        client.close()
    assert os.path.isdir(path)


@pytest.mark.parametrize("engine", ENGINES)
def test_uuid_ids_in_any_spelling_name_the_same_document(engine):
    import uuid

    client, _ = _indexed(engine, n=3)
    ids = [uuid.uuid4() for _ in range(3)]
    client.upsert("c", [models.PointStruct(id=str(u).upper(), vector={"colbert": np.ones((3, D)) + k})
                        for k, u in enumerate(ids)])
    assert_in_step(client, "c")
    client.delete("c", [u.hex for u in ids[:2]])  # hex spelling, as Qdrant accepts it
    assert_in_step(client, "c")
    assert doc_key(str(ids[2]).upper()) in companion_tokens(client, "c")
