"""Query benchmark: late-interaction search on the embedded backend, and maxsim's speed.

One run measures, on the same synthetic corpus (clustered unit token vectors):

1. ``query_late_interaction`` on qdrant-client's embedded backend (local mode) for
   collections holding the corpus unpooled, pooled at pf=2 and pf=4, and pooled at pf=2
   with the funnel's extra vectors (summary, keep-original): per-query latency, QPS, the
   speed-up against the unpooled collection, and recall@10 against exact full-resolution
   MaxSim over the whole corpus.
2. Why local mode gains less than the token reduction: its MaxSim loop over points,
   timed alone on the unpooled and the pooled vectors.
3. ``qdrant_tokenpool.maxsim`` against a straightforward per-document loop
   (``[(q @ d.T).max(axis=1).sum() for d in docs]``, the way most code computes MaxSim),
   for unpooled and pooled documents, one query and a batch of queries.

Each part prints a Markdown table. Defaults: 5,000 documents x 100 tokens x 128 dims,
32-token queries (about 9 minutes with ``--edge --queries 12`` on 2 heavily shared cores,
less on a quiet machine; ``--quick`` for a 1,000-document smoke
run). Run: ``python benchmarks/query.py`` (add ``--out FILE`` to also save the tables).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from qdrant_tokenpool import PoolingConfig, TokenPoolingClient, pool_batch
from qdrant_tokenpool.maxsim import PackedDocs, maxsim, maxsim_batch, normalize_rows

MAXSIM = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)


# -- data --------------------------------------------------------------------------------
def make_corpus(
    n_docs: int, n_tok: int, dim: int, n_queries: int, q_tok: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Clustered unit token vectors: 512 topic centres; each document mixes 4 topics, each
    query draws its tokens from the topics of one random document. Returns
    ``docs (n_docs, n_tok, dim)`` and ``queries (n_queries, q_tok, dim)``, float32."""
    rng = np.random.default_rng(seed)
    centres = normalize_rows(rng.standard_normal((512, dim), dtype=np.float32))
    topics = rng.integers(0, 512, size=(n_docs, 4))
    docs = np.empty((n_docs, n_tok, dim), dtype=np.float32)
    noise = 0.6 / np.sqrt(dim)
    for lo in range(0, n_docs, 500):  # chunks keep the float32 temporaries small
        hi = min(lo + 500, n_docs)
        pick = topics[lo:hi][np.arange(hi - lo)[:, None], rng.integers(0, 4, (hi - lo, n_tok))]
        x = centres[pick] + noise * rng.standard_normal((hi - lo, n_tok, dim), dtype=np.float32)
        docs[lo:hi] = x / np.linalg.norm(x, axis=2, keepdims=True)
    src = rng.integers(0, n_docs, n_queries)
    pick = topics[src][np.arange(n_queries)[:, None], rng.integers(0, 4, (n_queries, q_tok))]
    q = centres[pick] + noise * rng.standard_normal((n_queries, q_tok, dim), dtype=np.float32)
    return docs, (q / np.linalg.norm(q, axis=2, keepdims=True)).astype(np.float32)


def summary_of(doc: np.ndarray) -> list[float]:
    m = doc.mean(axis=0)
    return (m / np.linalg.norm(m)).tolist()


# -- collections -------------------------------------------------------------------------
def build(
    client: TokenPoolingClient,
    name: str,
    dim: int,
    stored: list[np.ndarray],
    *,
    pooling: PoolingConfig | None = None,
    originals: np.ndarray | None = None,
    batch: int = 200,
) -> float:
    """Create ``name`` and write ``stored`` (already pooled) with the parent's upsert;
    summary / keep-original vectors from ``originals`` when the config asks for them.
    Returns seconds."""
    t0 = time.perf_counter()
    vectors = {"colbert": models.VectorParams(size=dim, distance=models.Distance.COSINE, multivector_config=MAXSIM)}
    client.create_collection(name, vectors, pooling={"colbert": pooling} if pooling else None)
    for lo in range(0, len(stored), batch):
        points = []
        for i in range(lo, min(lo + batch, len(stored))):
            vec: dict[str, Any] = {"colbert": stored[i].tolist()}
            if pooling is not None and pooling.summary_vector:
                vec[pooling.summary_vector] = summary_of(originals[i])
            if pooling is not None and pooling.keep_original_vector:
                vec[pooling.keep_original_vector] = originals[i].tolist()
            points.append(models.PointStruct(id=i, vector=vec))
        QdrantClient.upsert(client, name, points, wait=True)  # vectors are pooled already
    return time.perf_counter() - t0


# -- timing ------------------------------------------------------------------------------
def time_calls(fn: Callable[[int], Any], n: int, warmup: int = 1) -> list[float]:
    """Milliseconds of ``fn(i)`` for ``i`` in ``range(n)`` (after ``warmup`` calls)."""
    for i in range(warmup):
        fn(i)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time of ``fn()`` in milliseconds over ``repeat`` runs (after one warm-up)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def recall_at(got: list[list[Any]], truth: list[list[Any]], k: int) -> float:
    return float(np.mean([len(set(g[:k]) & set(t[:k])) / k for g, t in zip(got, truth)]))


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# -- parts -------------------------------------------------------------------------------
def bench_queries(docs: np.ndarray, queries: np.ndarray, n_queries: int, log) -> tuple[str, dict]:
    n_docs, _, dim = docs.shape
    k = 10
    truth = PackedDocs(docs).search(list(queries), k=k)[0]  # exact full-resolution top-10

    t0 = time.perf_counter()
    pooled2 = pool_batch(list(docs), 2)
    t_pool2 = time.perf_counter() - t0
    t0 = time.perf_counter()
    pooled4 = pool_batch(list(docs), 4)
    t_pool4 = time.perf_counter() - t0
    log(f"pooled {n_docs} docs: pf=2 in {t_pool2:.1f} s, pf=4 in {t_pool4:.1f} s")

    client = TokenPoolingClient(":memory:")
    funnel_cfg = PoolingConfig(pool_factor=2, summary_vector="summary", keep_original_vector="full")
    specs = [
        ("unpooled", list(docs), None),
        ("pf2", pooled2, PoolingConfig(pool_factor=2)),
        ("pf4", pooled4, PoolingConfig(pool_factor=4)),
        ("pf2_funnel", pooled2, funnel_cfg),
    ]
    stored_vectors = {}
    for name, stored, cfg in specs:
        secs = build(client, name, dim, stored, pooling=cfg, originals=docs)
        stored_vectors[name] = sum(len(x) for x in stored)
        log(f"built {name}: {secs:.1f} s")

    cases = [
        ("unpooled, plain MaxSim", "unpooled", {}),
        ("pf=2, plain MaxSim", "pf2", {}),
        ("pf=4, plain MaxSim", "pf4", {}),
        ("pf=2, summary -> pooled MaxSim", "pf2_funnel", {"full_resolution": False}),
        ("pf=2, pooled -> full-res MaxSim", "pf2_funnel", {"summary": False}),
        ("pf=2, summary -> pooled -> full-res", "pf2_funnel", {}),
        ("pf=2, summary -> pooled, rescore=client", "pf2_funnel", {"full_resolution": False, "rescore": "client"}),
        ("pf=2, summary -> full-res, rescore=client", "pf2_funnel", {"rescore": "client"}),
    ]
    rows = []
    base = None
    stats: dict[str, float] = {}
    for label, coll, kw in cases:
        got: list[list[Any]] = [[] for _ in range(n_queries)]

        def run(i: int) -> None:
            resp = client.query_late_interaction(coll, queries[i], limit=k, with_payload=False, **kw)
            got[i] = [p.id for p in resp.points]

        ms = time_calls(run, n_queries)
        mean = statistics.fmean(ms)
        base = mean if base is None else base
        stats[label] = mean
        rows.append(
            [
                label,
                f"{stored_vectors[coll] / n_docs:.0f}",
                f"{mean:.1f}",
                f"{statistics.median(ms):.1f}",
                f"{1000 / mean:.1f}",
                f"{base / mean:.2f}x",
                f"{recall_at(got, truth, k):.3f}",
            ]
        )
        log(f"{label}: {mean:.1f} ms")
    client.close()
    head = ["query (embedded local mode)", "vectors/doc", "mean ms", "median ms", "QPS", "speed-up vs unpooled", "recall@10 vs exact"]
    return table(head, rows), {"stats": stats, "pooled2": pooled2, "pooled4": pooled4}


def bench_engine_loop(docs: np.ndarray, pooled2: list[np.ndarray], query: np.ndarray, repeat: int) -> str:
    """Local mode's own MaxSim (``calculate_multi_distance``: a Python loop over points)
    on the unpooled and pooled vectors, against our maxsim on the same vectors."""
    from qdrant_client.local.multi_distances import calculate_multi_distance

    rows = []
    res = {}
    for label, stored in (("unpooled", list(docs)), ("pf=2", pooled2)):
        stored = [normalize_rows(x) for x in stored]
        engine = best_of(lambda: calculate_multi_distance(query, stored, models.Distance.COSINE), repeat)
        ours = best_of(lambda: maxsim(query, stored), repeat)
        flops = sum(x.shape[0] for x in stored) * query.shape[0] * query.shape[1] * 2
        res[label] = engine
        rows.append([label, f"{sum(len(x) for x in stored) / len(stored):.0f}", f"{engine:.1f}",
                     f"{engine * 1000 / len(stored):.1f}", f"{ours:.1f}", f"{flops / 1e9:.2f}"])
    rows.append(["ratio unpooled / pf=2", "", f"{res['unpooled'] / res['pf=2']:.2f}x", "", "", "2.00x"])
    head = ["stored vectors", "vectors/doc", "local-mode MaxSim ms", "µs per point", "maxsim ms", "GFLOP"]
    return table(head, rows)


def bench_edge(docs: np.ndarray, pooled: dict[str, list[np.ndarray]], queries: np.ndarray, n_queries: int, log) -> str:
    """The same data and funnel on Qdrant Edge (``qdrant-edge-py``: Qdrant's Rust engine
    in process), to show what the engine, not the plugin, limits. Shards are left
    unoptimised (appendable segments): plain MaxSim is brute force, as in local mode."""
    import tempfile

    import qdrant_edge as qe

    k = 10
    truth = PackedDocs(docs).search(list(queries), k=k)[0]
    mv = qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim)
    dim = docs.shape[2]
    rows = []
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        shards = {}
        for name, stored in (("unpooled", list(docs)), *pooled.items()):
            vectors = {"colbert": qe.EdgeVectorParams(dim, qe.Distance.Cosine, multivector_config=mv),
                       "summary": qe.EdgeVectorParams(dim, qe.Distance.Cosine)}
            shard = qe.EdgeShard.create(f"{tmp}/{name}", qe.EdgeConfig(vectors=vectors))
            t0 = time.perf_counter()
            for lo in range(0, len(stored), 200):
                pts = [qe.Point(i, {"colbert": stored[i].tolist(), "summary": summary_of(docs[i])})
                       for i in range(lo, min(lo + 200, len(stored)))]
                shard.update(qe.UpdateOperation.upsert_points(pts))
            log(f"edge shard {name}: {time.perf_counter() - t0:.1f} s")
            shards[name] = shard
        cases = [(f"{name}, plain MaxSim", name, False) for name in shards]
        cases += [(f"{name}, summary -> pooled MaxSim (prefetch 100)", name, True) for name in pooled]
        for label, name, funnel in cases:
            shard = shards[name]
            got: list[list[Any]] = [[] for _ in range(n_queries)]

            def run(i: int) -> None:
                q = queries[i]
                pre = None
                if funnel:
                    m = q.mean(axis=0)
                    pre = [qe.Prefetch(100, query=qe.Query.Nearest((m / np.linalg.norm(m)).tolist(), using="summary"))]
                res = shard.query(qe.QueryRequest(limit=k, query=qe.Query.Nearest(q.tolist(), using="colbert"), prefetches=pre))
                got[i] = [p.id for p in res]

            ms = time_calls(run, n_queries)
            mean = statistics.fmean(ms)
            base = mean if base is None else base
            rows.append([label, f"{mean:.1f}", f"{1000 / mean:.1f}", f"{base / mean:.2f}x", f"{recall_at(got, truth, k):.3f}"])
        for shard in shards.values():
            shard.close()
    return table(["query (Qdrant Edge 0.9, in process)", "mean ms", "QPS", "speed-up vs unpooled", "recall@10 vs exact"], rows)


def naive_loop(q: np.ndarray, docs: list[np.ndarray]) -> np.ndarray:
    """The straightforward way: one small matrix product per document."""
    return np.array([(q @ d.T).max(axis=1).sum() for d in docs], dtype=np.float32)


def bench_maxsim(corpora: dict[str, list[np.ndarray]], queries: np.ndarray, repeat: int) -> str:
    rows = []
    n_batch = min(len(queries), 32)
    qs = list(queries[:n_batch])
    q_tok = queries.shape[1]
    for label, docs in corpora.items():
        q = queries[0]
        gflop = sum(len(d) for d in docs) * q_tok * docs[0].shape[1] * 2 / 1e9  # per query
        want = naive_loop(q, docs)
        assert np.allclose(maxsim(q, docs), want, atol=1e-4)
        loop1 = best_of(lambda: naive_loop(q, docs), repeat)
        one_shot = best_of(lambda: maxsim(q, docs), repeat)
        t0 = time.perf_counter()
        packed = PackedDocs(docs)
        t_pack = (time.perf_counter() - t0) * 1000
        assert np.allclose(packed.scores(q), want, atol=1e-4)
        pre1 = best_of(lambda: packed.scores(q), repeat)
        loop_b = best_of(lambda: [naive_loop(x, docs) for x in qs], 1) / n_batch
        batch_one_shot = best_of(lambda: maxsim_batch(qs, docs), 1) / n_batch
        batch_pre = best_of(lambda: packed.scores_batch(qs), 1) / n_batch
        for what, loop_ms, ours, how in (
            ("1 query", loop1, one_shot, "maxsim(q, docs)"),
            ("1 query", loop1, pre1, f"PackedDocs.scores (packed once: {t_pack:.0f} ms)"),
            (f"{n_batch} queries, per query", loop_b, batch_one_shot, "maxsim_batch(qs, docs)"),
            (f"{n_batch} queries, per query", loop_b, batch_pre, "PackedDocs.scores_batch"),
        ):
            rows.append([label, what, f"{loop_ms:.1f}", f"{gflop / loop_ms * 1000:.0f}", how,
                         f"{ours:.1f}", f"{gflop / ours * 1000:.0f}", f"{loop_ms / ours:.1f}x"])
    head = ["documents", "queries", "per-document loop ms", "loop GFLOP/s", "ours", "ours ms",
            "ours GFLOP/s", "speed-up"]
    return table(head, rows)


def gemm_peak(repeat: int) -> float:
    """float32 GFLOP/s of one large square matrix product: the machine's ceiling."""
    a = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)
    ms = best_of(lambda: a @ a, repeat)
    return 2 * 1024**3 / ms / 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--tokens", type=int, default=100)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--query-tokens", type=int, default=32)
    ap.add_argument("--queries", type=int, default=20, help="timed queries per case")
    ap.add_argument("--repeat", type=int, default=3, help="repeats for the maxsim timings (best of)")
    ap.add_argument("--quick", action="store_true", help="1,000 documents, 8 queries: a smoke run")
    ap.add_argument("--skip-qdrant", action="store_true", help="only the maxsim part")
    ap.add_argument("--edge", action="store_true",
                    help="also time the same data on Qdrant Edge (pip install qdrant-edge-py)")
    ap.add_argument("--out", help="also write the tables to this Markdown file")
    args = ap.parse_args(argv)
    if args.quick:
        args.docs, args.queries = 1000, 8

    def log(msg: str) -> None:
        print(f"# {msg}", file=sys.stderr, flush=True)

    docs, queries = make_corpus(args.docs, args.tokens, args.dim, max(args.queries, 32), args.query_tokens)
    setup = (f"{args.docs} documents x {args.tokens} tokens x {args.dim} d (clustered unit vectors), "
             f"{args.query_tokens}-token queries, qdrant-client local mode, numpy {np.__version__}")
    out = [f"Setup: {setup}", ""]
    if not args.skip_qdrant:
        tab, extra = bench_queries(docs, queries, args.queries, log)
        out += ["### query_late_interaction on the embedded backend", "", tab, ""]
        out += [("### Local mode's MaxSim loop alone (one query, best of "
                 f"{args.repeat})"), "", bench_engine_loop(docs, extra["pooled2"], queries[0], args.repeat), ""]
        pooled2, pooled4 = extra["pooled2"], extra["pooled4"]
        if args.edge:
            edge = bench_edge(docs, {"pf=2": pooled2, "pf=4": pooled4}, queries, args.queries, log)
            out += ["### The same queries on Qdrant Edge (the Rust engine, in process)", "", edge, ""]
    else:
        pooled2, pooled4 = pool_batch(list(docs), 2), pool_batch(list(docs), 4)
    corpora = {
        f"unpooled ({args.tokens} tok)": list(docs),
        f"pf=2 (~{args.tokens // 2} tok)": pooled2,
        f"pf=4 (~{args.tokens // 4} tok)": pooled4,
    }
    out += ["### maxsim vs a per-document loop (numpy, same process)", "",
            bench_maxsim(corpora, queries, args.repeat), "",
            (f"float32 matrix-product ceiling of this machine now (1024^3 GEMM): "
             f"{gemm_peak(args.repeat):.0f} GFLOP/s"), ""]
    text = "\n".join(out)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
