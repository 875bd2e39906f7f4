"""Query benchmark: late-interaction search on the embedded engines, and maxsim's speed.

One run measures, on the same synthetic corpus (clustered unit token vectors):

1. ``query_late_interaction`` on each embedded engine (``--engine``: Qdrant Edge and
   qdrant-client's local mode, each in a folder) for collections holding the corpus
   unpooled, pooled at pf=2 and pf=4, and pooled at pf=2 with the funnel's extra vectors
   (summary, keep-original): per-query latency, QPS, the speed-up against the unpooled
   collection, and recall@10 against exact full-resolution MaxSim over the whole corpus.
   Edge's table is followed by its targets (pf=2 >= 2x unpooled; the summary funnel >= 20x
   plain pooled MaxSim). Each table names the machine's load when it was measured.
2. Why local mode gains less than the token reduction: its MaxSim loop over points,
   timed alone on the unpooled and the pooled vectors.
3. ``qdrant_tokenpool.maxsim`` against a straightforward per-document loop
   (``[(q @ d.T).max(axis=1).sum() for d in docs]``, the way most code computes MaxSim),
   for unpooled and pooled documents, one query and a batch of queries.

Each part prints a Markdown table. Defaults: 5,000 documents x 100 tokens x 128 dims,
32-token queries (``--engine edge`` alone takes a few minutes on 2 shared cores, local mode
about 10 more; ``--quick`` for a 1,000-document smoke run). Run: ``python benchmarks/query.py`` (add ``--out FILE`` to also save the tables).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
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
def pool_corpus(docs: np.ndarray, log) -> tuple[list[np.ndarray], list[np.ndarray]]:
    t0 = time.perf_counter()
    pooled2 = pool_batch(list(docs), 2)
    t_pool2 = time.perf_counter() - t0
    t0 = time.perf_counter()
    pooled4 = pool_batch(list(docs), 4)
    t_pool4 = time.perf_counter() - t0
    log(f"pooled {len(docs)} docs: pf=2 in {t_pool2:.1f} s, pf=4 in {t_pool4:.1f} s")
    return pooled2, pooled4


def bench_queries(
    docs: np.ndarray,
    queries: np.ndarray,
    n_queries: int,
    log,
    *,
    engine: str,
    pooled2: list[np.ndarray],
    pooled4: list[np.ndarray],
    workdir: str,
) -> tuple[str, dict]:
    """``query_late_interaction`` on one embedded engine (``"local"`` or ``"edge"``), the
    database in a folder under ``workdir`` (as a user has it)."""
    n_docs, _, dim = docs.shape
    k = 10
    truth = PackedDocs(docs).search(list(queries), k=k)[0]  # exact full-resolution top-10
    client = TokenPoolingClient(path=f"{workdir}/{engine}", engine=engine)
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
        log(f"{engine}: built {name}: {secs:.1f} s")
    t0 = time.perf_counter()
    client.optimize()  # Edge: index now, as after a bulk upload (local mode: nothing to do)
    log(f"{engine}: optimize {time.perf_counter() - t0:.1f} s")

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
    # round robin: query i runs in every case before query i + 1, so a change of the
    # machine's load (it is shared) hits every case alike
    got: dict[str, list[list[Any]]] = {label: [[] for _ in range(n_queries)] for label, _, _ in cases}
    times: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    for i in range(-1, n_queries):  # i = -1: one warm-up round
        for label, coll, kw in cases:
            q = queries[max(i, 0)]
            t0 = time.perf_counter()
            resp = client.query_late_interaction(coll, q, limit=k, with_payload=False, **kw)
            ms = (time.perf_counter() - t0) * 1000
            if i >= 0:
                times[label].append(ms)
                got[label][i] = [p.id for p in resp.points]
    rows = []
    base = None
    stats: dict[str, float] = {}
    for label, coll, _ in cases:
        ms_list = times[label]
        mean = statistics.fmean(ms_list)
        base = mean if base is None else base
        stats[label] = mean
        rows.append(
            [
                label,
                f"{stored_vectors[coll] / n_docs:.0f}",
                f"{mean:.1f}",
                f"{statistics.median(ms_list):.1f}",
                f"{1000 / mean:.1f}",
                f"{base / mean:.2f}x",
                f"{recall_at(got[label], truth, k):.3f}",
            ]
        )
        log(f"{engine}: {label}: {mean:.1f} ms")
    client.close()
    head = [f"query ({ENGINE_NAMES[engine]})", "vectors/doc", "mean ms", "median ms", "QPS",
            "speed-up vs unpooled", "recall@10 vs exact"]
    return table(head, rows), {"stats": stats}


ENGINE_NAMES = {"local": "qdrant-client local mode", "edge": "Qdrant Edge, in process"}


def load() -> str:
    """The machine's load average now (other engineers share it)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unavailable"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def targets(stats: dict[str, float]) -> str:
    """The issue's targets for Edge: pooled pf=2 >= 2x faster than unpooled; the summary
    funnel >= 20x faster than plain pooled MaxSim."""
    pf2 = stats["unpooled, plain MaxSim"] / stats["pf=2, plain MaxSim"]
    funnel = stats["pf=2, plain MaxSim"] / stats["pf=2, summary -> pooled MaxSim"]
    rows = [
        ["pf=2 plain MaxSim vs unpooled", f"{pf2:.2f}x", ">= 2x", "met" if pf2 >= 2 else "NOT met"],
        ["summary -> pooled vs plain pf=2", f"{funnel:.1f}x", ">= 20x", "met" if funnel >= 20 else "NOT met"],
    ]
    return table(["Edge target", "measured", "target", ""], rows)


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
    ap.add_argument("--engine", choices=["local", "edge", "both"], default="both",
                    help="embedded engine(s) for the query_late_interaction tables (default both)")
    ap.add_argument("--out", help="also write the tables to this Markdown file")
    args = ap.parse_args(argv)
    if args.quick:
        args.docs, args.queries = 1000, 8

    def log(msg: str) -> None:
        print(f"# {msg}", file=sys.stderr, flush=True)

    docs, queries = make_corpus(args.docs, args.tokens, args.dim, max(args.queries, 32), args.query_tokens)
    setup = (f"{args.docs} documents x {args.tokens} tokens x {args.dim} d (clustered unit vectors), "
             f"{args.query_tokens}-token queries, numpy {np.__version__}")
    out = [f"Setup: {setup}", ""]
    pooled2, pooled4 = pool_corpus(docs, log)
    if not args.skip_qdrant:
        engines = ["local", "edge"] if args.engine == "both" else [args.engine]
        with tempfile.TemporaryDirectory(prefix="bench-query-") as workdir:
            for engine in engines:
                tab, extra = bench_queries(docs, queries, args.queries, log, engine=engine,
                                           pooled2=pooled2, pooled4=pooled4, workdir=workdir)
                out += [f"### query_late_interaction on {ENGINE_NAMES[engine]} ({load()})", "", tab, ""]
                if engine == "edge":
                    out += [targets(extra["stats"]), ""]
        if "local" in engines:
            out += [("### Local mode's MaxSim loop alone (one query, best of "
                     f"{args.repeat})"), "", bench_engine_loop(docs, pooled2, queries[0], args.repeat), ""]
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
