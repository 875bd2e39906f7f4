"""Tests of qdrant_tokenpool.eval: BEIR loader, metrics (hand-computed), footprint,
exact top-k MaxSim, encoding cache and the evaluation runner on a tiny synthetic folder."""

from __future__ import annotations

import csv
import json
import math
import random
import zlib
from pathlib import Path

import numpy as np
import pytest

from qdrant_tokenpool.eval import (
    THRESHOLD,
    UNPOOLED,
    EvalResult,
    evaluate_run,
    footprint,
    load_beir,
    ndcg_at_k,
    rank,
    recall_at_k,
    run_evaluation,
)
from qdrant_tokenpool.eval.cache import default_cache_dir
from qdrant_tokenpool.eval.encoding import encode_cached, encoder_fingerprint
from qdrant_tokenpool.eval.metrics import paired_bootstrap
from qdrant_tokenpool.maxsim import PackedDocs, maxsim_batch
from qdrant_tokenpool.pooling import pool_tokens

# ---------------------------------------------------------------------------------------
# tiny BEIR folder

CORPUS = [
    {"_id": "d1", "title": "Apples", "text": "red apples grow on apple trees"},
    {"_id": "d2", "title": "", "text": "bananas are yellow fruit from warm places"},
    {"_id": "d3", "title": "Cars", "text": "electric cars use batteries and motors"},
    {"_id": "d4", "title": "Trees", "text": "oak trees and pine trees in the forest"},
    {"_id": "d5", "title": "Batteries", "text": "lithium batteries store energy for phones and cars"},
    {"_id": "d6", "title": "Fruit", "text": "fruit salad with apples bananas and grapes"},
]
QUERIES = [
    {"_id": "q1", "text": "apple trees"},
    {"_id": "q2", "text": "batteries for electric cars"},
    {"_id": "q3", "text": "yellow bananas"},
    {"_id": "q9", "text": "a query with no judgments"},
]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td4\t1\nq2\td3\t1\nq2\td5\t1\nq3\td2\t1\n"


def write_beir(root: Path, corpus=CORPUS, queries=QUERIES, qrels=QRELS) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    (root / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries))
    (root / "qrels" / "test.tsv").write_text(qrels)
    return root


@pytest.fixture
def beir_dir(tmp_path: Path) -> Path:
    return write_beir(tmp_path / "tiny")


def test_load_beir_reads_split_and_joins_title(beir_dir: Path) -> None:
    ds = load_beir(beir_dir)
    assert ds.name == "tiny" and ds.split == "test"
    assert ds.doc_ids == ["d1", "d2", "d3", "d4", "d5", "d6"]
    assert ds.documents[0] == "Apples red apples grow on apple trees"
    assert ds.documents[1] == "bananas are yellow fruit from warm places"  # empty title: no space
    assert ds.query_ids == ["q1", "q2", "q3"]  # q9 has no judgments
    assert ds.query_texts == ["apple trees", "batteries for electric cars", "yellow bananas"]
    assert ds.qrels == {"q1": {"d1": 2, "d4": 1}, "q2": {"d3": 1, "d5": 1}, "q3": {"d2": 1}}
    assert set(ds.checksums) == {"corpus", "queries", "qrels"}


def test_load_beir_errors(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="qrels/dev.tsv"):
        load_beir(root, split="dev")
    bad = write_beir(tmp_path / "b")
    (bad / "corpus.jsonl").write_text('{"_id": "x", "text": "ok"}\n{not json\n')
    with pytest.raises(ValueError, match=r"corpus.jsonl:2"):
        load_beir(bad)
    orphan = write_beir(tmp_path / "c", qrels=QRELS + "q404\td1\t1\n")
    with pytest.raises(ValueError, match="missing from queries.jsonl"):
        load_beir(orphan)
    dup = write_beir(tmp_path / "d", corpus=CORPUS + [CORPUS[0]])
    with pytest.raises(ValueError, match="duplicate document id 'd1'"):
        load_beir(dup)


# ---------------------------------------------------------------------------------------
# metrics, against values computed by hand


def test_ndcg_graded_linear_gain_by_hand() -> None:
    judged = {"a": 2, "b": 1, "c": 1, "z": 0}
    ranking = ["x", "b", "a", "z", "c"]
    # DCG@3 = 0/log2(2) + 1/log2(3) + 2/log2(4); IDCG@3 = 2/1 + 1/log2(3) + 1/log2(4)
    dcg = 1 / math.log2(3) + 2 / 2
    idcg = 2 + 1 / math.log2(3) + 1 / 2
    assert ndcg_at_k(ranking, judged, 3) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(ranking, judged, 3) == pytest.approx(0.520909, abs=1e-6)
    # @10 sees c at rank 5: + 1/log2(6)
    assert ndcg_at_k(ranking, judged, 10) == pytest.approx((dcg + 1 / math.log2(6)) / idcg)
    assert ndcg_at_k(["a", "b", "c"], judged, 10) == pytest.approx(1.0)
    assert ndcg_at_k([], judged, 10) == 0.0
    assert ndcg_at_k(["a"], {"a": 0}, 10) == 0.0  # no relevant judged document


def test_recall_by_hand() -> None:
    judged = {"a": 2, "b": 1, "c": 1, "z": 0, "gone": 1}  # "gone": not in corpus, still counts
    ranking = ["x", "b", "a", "z", "c"]
    assert recall_at_k(ranking, judged, 1) == 0.0
    assert recall_at_k(ranking, judged, 2) == pytest.approx(1 / 4)
    assert recall_at_k(ranking, judged, 3) == pytest.approx(2 / 4)
    assert recall_at_k(ranking, judged, 100) == pytest.approx(3 / 4)
    with pytest.raises(ValueError):
        recall_at_k(ranking, judged, 0)


def test_rank_ties_like_trec_eval() -> None:
    # equal scores: document id descending (trec_eval's order)
    assert rank({"a": 1.0, "c": 1.0, "b": 2.0, "d": 0.5}) == ["b", "c", "a", "d"]


def test_evaluate_run_means_and_missing_queries() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1, "c": 1}, "q3": {"d": 1}}
    run = {"q1": {"a": 3.0, "x": 1.0}, "q2": {"x": 5.0, "c": 4.0}}  # q3 absent: counts as 0
    means, per_q = evaluate_run(run, qrels, ndcg_ks=(10,), recall_ks=(1, 100))
    assert per_q["q1"] == {"ndcg@10": 1.0, "recall@1": 1.0, "recall@100": 1.0}
    q2_ndcg = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert per_q["q2"]["ndcg@10"] == pytest.approx(q2_ndcg)
    assert per_q["q2"]["recall@100"] == pytest.approx(0.5)
    assert per_q["q3"] == {"ndcg@10": 0.0, "recall@1": 0.0, "recall@100": 0.0}
    assert means["ndcg@10"] == pytest.approx((1 + q2_ndcg) / 3)
    assert means["recall@100"] == pytest.approx(1.5 / 3)


def test_metrics_match_pytrec_eval_when_installed() -> None:
    """Graded qrels, ties and short runs: per-query values equal trec_eval's own."""
    pytrec_eval = pytest.importorskip("pytrec_eval", reason="pip install pytrec-eval-terrier")
    rnd = random.Random(0)
    qrels, run = {}, {}
    for q in range(200):
        docs = [f"d{i}" for i in range(60)]
        qrels[f"q{q}"] = {d: rnd.choice([0, 1, 1, 2, 3]) for d in rnd.sample(docs, rnd.randint(1, 8))}
        run[f"q{q}"] = {d: round(rnd.random(), 1) for d in rnd.sample(docs, 40)}  # many ties
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.10", "recall.100"}).evaluate(run)
    _, per_q = evaluate_run(run, qrels, ndcg_ks=(10,), recall_ks=(10, 100))
    for q, r in ref.items():
        assert per_q[q]["ndcg@10"] == pytest.approx(r["ndcg_cut_10"], abs=1e-12)
        assert per_q[q]["recall@10"] == pytest.approx(r["recall_10"], abs=1e-12)
        assert per_q[q]["recall@100"] == pytest.approx(r["recall_100"], abs=1e-12)


def test_paired_bootstrap() -> None:
    assert paired_bootstrap([0.5, 0.2], [0.5, 0.2]) == (0.0, 0.0, 0.0)
    m, lo, hi = paired_bootstrap([0.0, 0.5, 1.0], [0.1, 0.6, 1.1])
    assert m == pytest.approx(0.1) and lo == pytest.approx(0.1) and hi == pytest.approx(0.1)
    a, b = [0.0] * 50 + [1.0] * 50, [1.0] * 30 + [0.0] * 20 + [1.0] * 50  # +30 / -0 of 100
    m, lo, hi = paired_bootstrap(a, b)
    assert m == pytest.approx(0.3) and 0.15 < lo < 0.3 < hi < 0.45
    assert paired_bootstrap(a, b) == (m, lo, hi)  # seeded
    with pytest.raises(ValueError):
        paired_bootstrap([], [])


# ---------------------------------------------------------------------------------------
# footprint


def test_footprint_counts_bytes_and_reduction() -> None:
    fp = footprint(np.array([3, 5]), dim=128, unpooled_vectors=16)
    assert fp.documents == 2 and fp.stored_vectors == 8
    assert fp.bytes_float32 == 8 * 128 * 4
    assert fp.vectors_per_doc == 4.0
    assert fp.reduction == pytest.approx(0.5)
    assert footprint(np.array([4, 4]), dim=2).reduction == 0.0


# ---------------------------------------------------------------------------------------
# exact MaxSim top-k


def _unit_items(rng, n, lo, hi, d=16):
    out = []
    for _ in range(n):
        a = rng.standard_normal((int(rng.integers(lo, hi)), d)).astype(np.float32)
        out.append(a / np.linalg.norm(a, axis=1, keepdims=True))
    return out


def test_exact_topk_equals_per_document_loop() -> None:
    rng = np.random.default_rng(0)
    docs, queries = _unit_items(rng, 150, 1, 40), _unit_items(rng, 13, 1, 9)
    naive = np.array([[float((q @ d.T).max(axis=1).sum()) for d in docs] for q in queries])
    pd, pq = PackedDocs.from_list(docs), PackedDocs.from_list(queries)
    np.testing.assert_allclose(maxsim_batch(queries, pd.tokens, offsets=pd.offsets), naive, atol=1e-5)
    for chunk in (1, 100, 1 << 16):  # one document per chunk, a few chunks, one chunk
        scores, idx = pd.top_indices(pq.items(), k=12, chunk_tokens=chunk)
        ref = np.argsort(-naive, axis=1, kind="stable")[:, :12]
        np.testing.assert_array_equal(idx, ref)
        np.testing.assert_allclose(scores, np.take_along_axis(naive, ref, 1), atol=1e-5)
    s, i = pd.top_indices(pq.items(), k=1000)  # k capped at the corpus size
    assert s.shape == (13, 150) and sorted(i[0]) == list(range(150))


def test_exact_topk_ties_prefer_lower_position() -> None:
    v = np.eye(4, dtype=np.float32)
    docs = [v[[0]], v[[1]], v[[0]], v[[0, 1]]]
    s, i = PackedDocs.from_list(docs).top_indices(PackedDocs.from_list([v[[0]]]).items(), k=4, chunk_tokens=1)
    assert i.tolist() == [[0, 2, 3, 1]]
    assert s.tolist() == [[1.0, 1.0, 1.0, 0.0]]


def test_packed_tokens_rejects_bad_offsets() -> None:
    t = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match="at least one token"):
        PackedDocs(t, np.array([0, 2, 2, 4]))
    with pytest.raises(ValueError, match="end at the token count"):
        PackedDocs(t, np.array([0, 3]))


# ---------------------------------------------------------------------------------------
# a fake encoder: one fixed random unit vector per word, plus a [CLS] vector in front


class WordEncoder:
    """Deterministic toy encoder: token ``w`` -> unit vector seeded by ``crc32(w)``."""

    def __init__(self, dim: int = 24, document_max_length: int = 64, query_max_length: int = 8):
        self.name = "toy-words"
        self.dim = dim
        self.protected_tokens = 1
        self.document_max_length = document_max_length
        self.query_max_length = query_max_length
        self._calls = 0

    def _vec(self, word: str) -> np.ndarray:
        v = np.random.default_rng(zlib.crc32(word.encode())).standard_normal(self.dim)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def _enc(self, texts, max_len):
        self._calls += 1
        return [
            np.stack([self._vec("[CLS]")] + [self._vec(w) for w in t.lower().split()][: max_len - 1])
            for t in texts
        ]

    def encode_documents(self, texts, batch_size=32, show_progress=False):
        return self._enc(texts, self.document_max_length)

    def encode_queries(self, texts, batch_size=32, show_progress=False):
        return self._enc(texts, self.query_max_length)


def test_encode_cache_hits_and_keys(tmp_path: Path) -> None:
    enc = WordEncoder()
    ids, texts = ["a", "b", "c"], ["one two", "three", "four five six"]
    p1, hit1, _ = encode_cached(enc, "documents", ids, texts, tmp_path, chunk=2, verbose=False)
    assert not hit1 and enc._calls == 2  # two chunks
    assert p1.lengths.tolist() == [3, 2, 4]  # input order kept despite length sorting
    np.testing.assert_array_equal(p1.item(2), enc.encode_documents(["four five six"])[0])
    calls = enc._calls
    p2, hit2, secs = encode_cached(enc, "documents", ids, texts, tmp_path, verbose=False)
    assert hit2 and secs == 0.0 and enc._calls == calls
    np.testing.assert_array_equal(np.asarray(p2.tokens), p1.tokens)
    # a different max length, other texts or the query side: different entries
    other = WordEncoder(document_max_length=2)
    assert encoder_fingerprint(other) != encoder_fingerprint(enc)
    _, hit3, _ = encode_cached(other, "documents", ids, texts, tmp_path, verbose=False)
    _, hit4, _ = encode_cached(enc, "documents", ids, ["one two", "three", "x"], tmp_path, verbose=False)
    _, hit5, _ = encode_cached(enc, "queries", ids, texts, tmp_path, verbose=False)
    assert not (hit3 or hit4 or hit5)
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 4


def test_default_cache_dir_outside_repo(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("QDRANT_TOKENPOOL_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "qdrant-tokenpool"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "qdrant-tokenpool"
    monkeypatch.setenv("QDRANT_TOKENPOOL_CACHE", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x"


# ---------------------------------------------------------------------------------------
# the runner, end to end on the tiny folder


def test_run_evaluation_end_to_end(beir_dir: Path, tmp_path: Path) -> None:
    enc = WordEncoder()
    out = tmp_path / "out"
    seen = []
    res = run_evaluation(
        beir_dir, enc, pool_factors=(2, 1, 3), methods=("hierarchical", "sequential"),
        top_k=4, cache_dir=tmp_path / "cache", out_dir=out, verbose=False, workers=1,
        on_setting=seen.append,
    )
    keys = [(s.method, s.pool_factor) for s in res.settings]
    assert keys == [(UNPOOLED, 1), ("hierarchical", 2), ("hierarchical", 3),
                    ("sequential", 2), ("sequential", 3)]
    # computed unpooled first, then pool factor by pool factor in the order given
    assert [(s.method, s.pool_factor) for s in seen] == [
        (UNPOOLED, 1), ("hierarchical", 2), ("sequential", 2), ("hierarchical", 3), ("sequential", 3)
    ]
    assert res.documents == 6 and res.queries == 3 and res.dim == 24 and res.protected_tokens == 1

    # unpooled: equals brute-force MaxSim ranking scored with the metrics module
    ds = load_beir(beir_dir)
    docs = enc.encode_documents(ds.documents)
    qs = enc.encode_queries(ds.query_texts)
    run = {}
    for q, qid in zip(qs, ds.query_ids):
        sc = {did: float((q @ d.T).max(axis=1).sum()) for did, d in zip(ds.doc_ids, docs)}
        run[qid] = dict(sorted(sc.items(), key=lambda kv: -kv[1])[:4])
    means, _ = evaluate_run(run, ds.qrels)
    base = res.unpooled
    assert base.metrics["ndcg@10"] == pytest.approx(means["ndcg@10"], abs=1e-6)
    assert base.metrics["recall@100"] == pytest.approx(means["recall@100"], abs=1e-6)
    assert base.relative_ndcg == 1.0 and base.footprint.reduction == 0.0
    assert base.footprint.stored_vectors == sum(len(d) for d in docs)

    # pooled: footprint equals what pool_tokens produces, document by document
    for s in res.settings[1:]:
        n = sum(len(pool_tokens(d, s.pool_factor, s.method, protected_tokens=1)) for d in docs)
        assert s.footprint.stored_vectors == n
        assert s.footprint.bytes_float32 == n * 24 * 4
        assert 0 < s.footprint.reduction < 1
        assert s.relative_ndcg == pytest.approx(s.metrics["ndcg@10"] / base.metrics["ndcg@10"])
    assert res.get("sequential", 3) is res.settings[4]
    assert res.get("kmeans", 1) is base

    # outputs
    md = (out / "results.md").read_text()
    assert md.count("\n| ") == 5 and "| hierarchical | 2 |" in md
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["method"], int(r["pool_factor"])) for r in rows] == keys
    js = json.loads((out / "results.json").read_text())
    assert js["dataset"] == "tiny" and len(js["settings"]) == 5
    assert set(js["per_query"]["none/pf1"]) == {"q1", "q2", "q3"}
    assert (out / "quality_vs_footprint.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "ndcg@10_delta_ci_low" in rows[1] and md.splitlines()[2].endswith("| - |")
    # a saved run loads back to the same tables
    again = EvalResult.from_json(out / "results.json")
    assert again.to_markdown() == md and again.to_csv() == res.to_csv()

    # second run: encodings come from the cache
    calls = enc._calls
    res2 = run_evaluation(beir_dir, enc, pool_factors=(1,), methods=(), top_k=4,
                          cache_dir=tmp_path / "cache", verbose=False)
    assert enc._calls == calls and res2.from_cache == {"documents": True, "queries": True}
    assert res2.unpooled.metrics == base.metrics


def test_run_evaluation_fractional_factors_and_thresholds(beir_dir: Path, tmp_path: Path) -> None:
    enc = WordEncoder()
    out = tmp_path / "out"
    res = run_evaluation(
        beir_dir, enc, pool_factors=(1.5, 2), methods=("hierarchical",),
        distance_thresholds=(1.2, 0.6), top_k=4, use_cache=False, out_dir=out, verbose=False,
        workers=1,
    )
    assert [(s.method, s.pool_factor, s.distance_threshold) for s in res.settings] == [
        (UNPOOLED, 1, None), ("hierarchical", 1.5, None), ("hierarchical", 2, None),
        (THRESHOLD, 1, 0.6), (THRESHOLD, 1, 1.2),
    ]
    docs = enc.encode_documents(load_beir(beir_dir).documents)
    for s in res.settings[1:]:
        kw = {"distance_threshold": s.distance_threshold} if s.distance_threshold else {}
        n = sum(len(pool_tokens(d, s.pool_factor, "hierarchical", 1, **kw)) for d in docs)
        assert s.footprint.stored_vectors == n
    # a larger threshold merges more
    assert (res.get(THRESHOLD, 1.2).footprint.stored_vectors
            < res.get(THRESHOLD, 0.6).footprint.stored_vectors)
    md = (out / "results.md").read_text()
    assert "| hierarchical | 1.5 |" in md and "| threshold | t=0.6 |" in md
    again = EvalResult.from_json(out / "results.json")
    assert again.to_markdown() == md
    assert again.get(THRESHOLD, 0.6).per_query == res.get(THRESHOLD, 0.6).per_query != {}
    png = again.plot(tmp_path / "p.png", intervals=True)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_evaluation_bad_arguments(beir_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown pooling method 'ward'"):
        run_evaluation(beir_dir, WordEncoder(), methods=("ward",), use_cache=False, verbose=False)
    with pytest.raises(ValueError, match="pool factors must be >= 1"):
        run_evaluation(beir_dir, WordEncoder(), pool_factors=(0, 2), use_cache=False, verbose=False)
    with pytest.raises(ValueError, match="distance thresholds must be finite and >= 0"):
        run_evaluation(beir_dir, WordEncoder(), distance_thresholds=(-1.0,), use_cache=False,
                       verbose=False)
