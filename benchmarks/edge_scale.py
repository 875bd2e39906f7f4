"""Scale benchmark: 100,000 documents x 128 tokens x 128 d on Qdrant Edge, on disk.

What a user with a real corpus meets on one machine with the embedded engine: ingest
speed through ``TokenPoolingClient`` (pooling included), peak memory (RSS) of the process,
disk used, the time of the optimization that builds the funnel's HNSW, and the latency
(p50/p95) of ``query_late_interaction`` for

- unpooled MaxSim (plain MaxSim over the kept full-resolution vectors),
- pooled pf=2 and pf=4 MaxSim,
- the funnel: HNSW on the summary vector -> MaxSim over pf=2 (and -> full resolution).

Two collections in one Edge folder: ``pf2`` (pooled pf=2 + summary vector + the
full-resolution vectors kept, ``keep_original_vector``) and ``pf4``. Documents are
synthetic (clustered unit vectors, generated in chunks: the corpus is never in memory
whole; 6.5 GB of float32 unpooled). Run: ``python benchmarks/edge_scale.py`` (``--docs``
to scale down, ``--dir`` for the database folder, kept with ``--keep``). Prints Markdown
tables, with the machine's load. ``--defaults``: instead, ``index_corpus``'s settings
(pf=2 + summary) without and with the token index, the default first stage.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import models

from qdrant_tokenpool import PoolingConfig, TokenPoolingClient
from qdrant_tokenpool.maxsim import normalize_rows

MAXSIM = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)


def log(msg: str) -> None:
    print(f"# {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def disk_gib(path: Path) -> float:
    """Allocated blocks (Edge preallocates sparse files: their length is not disk used)."""
    return sum(getattr(f.stat(), "st_blocks", 0) * 512 for f in path.rglob("*") if f.is_file()) / 2**30


def setup_line(args: argparse.Namespace) -> str:
    return (f"Setup: {args.docs:,} documents x {args.tokens} tokens x {args.dim} d (synthetic, "
            f"clustered), {args.query_tokens}-token queries, Qdrant Edge (qdrant-edge-py) on "
            f"disk, {load()} at the end")


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


class Corpus:
    """Clustered unit token vectors, chunk by chunk, reproducible (as benchmarks/query.py)."""

    def __init__(self, n_docs: int, n_tok: int, dim: int, seed: int = 0) -> None:
        self.n_docs, self.n_tok, self.dim, self.seed = n_docs, n_tok, dim, seed
        rng = np.random.default_rng(seed)
        self.centres = normalize_rows(rng.standard_normal((512, dim), dtype=np.float32))
        self.topics = rng.integers(0, 512, size=(n_docs, 4))
        self.noise = 0.6 / np.sqrt(dim)

    def chunk(self, lo: int, hi: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, lo))
        pick = self.topics[lo:hi][np.arange(hi - lo)[:, None], rng.integers(0, 4, (hi - lo, self.n_tok))]
        x = self.centres[pick] + self.noise * rng.standard_normal((hi - lo, self.n_tok, self.dim), dtype=np.float32)
        return (x / np.linalg.norm(x, axis=2, keepdims=True)).astype(np.float32)

    def queries(self, n: int, q_tok: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, self.n_docs + 1))  # a stream no chunk uses
        src = rng.integers(0, self.n_docs, n)
        pick = self.topics[src][np.arange(n)[:, None], rng.integers(0, 4, (n, q_tok))]
        q = self.centres[pick] + self.noise * rng.standard_normal((n, q_tok, self.dim), dtype=np.float32)
        return (q / np.linalg.norm(q, axis=2, keepdims=True)).astype(np.float32)


def ingest(client: TokenPoolingClient, name: str, corpus: Corpus, cfg: PoolingConfig, batch: int,
           token_index: bool = False) -> float:
    """Write the corpus through the pooling client's ``upsert`` (pooling, summary and kept
    originals made by the write path; with ``token_index`` the token-level first stage
    added first, its default settings, so that every write feeds it, as ``index_corpus``
    does); returns seconds, optimization excluded."""
    vp = models.VectorParams(size=corpus.dim, distance=models.Distance.COSINE, multivector_config=MAXSIM)
    client.create_collection(name, {"colbert": vp}, pooling={"colbert": cfg})
    if token_index:
        from qdrant_tokenpool.ops import add_token_index

        add_token_index(client, name)
    t0 = time.perf_counter()
    for lo in range(0, corpus.n_docs, batch):
        hi = min(lo + batch, corpus.n_docs)
        docs = corpus.chunk(lo, hi)
        client.upsert(name, [models.PointStruct(id=lo + i, vector={"colbert": docs[i]}) for i in range(hi - lo)])
        if (lo // batch) % 20 == 0:
            log(f"{name}: {hi} docs, {hi / (time.perf_counter() - t0):.0f} docs/s, peak RSS {peak_rss_gib():.2f} GiB")
    return time.perf_counter() - t0


def latencies(fn: Any, queries: np.ndarray) -> list[float]:
    fn(queries[0])  # warm-up (page cache)
    out = []
    for q in queries[1:]:
        t0 = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--query-tokens", type=int, default=32)
    ap.add_argument("--queries", type=int, default=21, help="queries per case (the first warms up)")
    ap.add_argument("--unpooled-queries", type=int, default=11, help="queries for the slow unpooled case")
    ap.add_argument("--batch", type=int, default=500, help="documents per upsert")
    ap.add_argument("--dir", default=None, help="database folder (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the database folder")
    ap.add_argument("--defaults", action="store_true",
                    help="only index_corpus's settings: pf=2 + summary, without and with the "
                         "token index (the default first stage), instead of pf2/pf4")
    args = ap.parse_args(argv)
    if args.defaults:
        return defaults_run(args)

    root = Path(args.dir or tempfile.mkdtemp(prefix="edge-scale-")) / "db"
    corpus = Corpus(args.docs, args.tokens, args.dim)
    queries = corpus.queries(max(args.queries, args.unpooled_queries), args.query_tokens)
    t_start = time.perf_counter()
    rows_ingest, rows_query = [], []
    try:
        client = TokenPoolingClient(path=str(root), engine="edge")
        specs = [
            ("pf2", PoolingConfig(pool_factor=2, summary_vector="summary", keep_original_vector="full")),
            ("pf4", PoolingConfig(pool_factor=4)),
        ]
        for name, cfg in specs:
            secs = ingest(client, name, corpus, cfg, args.batch)
            t0 = time.perf_counter()
            client.optimize(name)
            opt = time.perf_counter() - t0
            info = client.get_collection(name)
            rows_ingest.append([
                name + (" + summary + full-res kept" if cfg.keep_original_vector else ""),
                f"{args.docs / secs:.0f}", f"{secs:.0f}", f"{opt:.0f}", info.points_count,
                f"{disk_gib(root / 'collections' / name):.2f}", f"{peak_rss_gib():.2f}",
            ])
            log(f"{name}: ingest {secs:.0f} s, optimize {opt:.0f} s, {load()}")

        cases = [
            ("unpooled (128 tok): MaxSim over the kept full-res vectors", "pf2",
             {"using": "full", "summary": False, "full_resolution": False}, args.unpooled_queries),
            ("pf=2: plain MaxSim", "pf2", {"summary": False, "full_resolution": False}, args.queries),
            ("pf=4: plain MaxSim", "pf4", {}, args.queries),
            ("funnel: summary HNSW -> pf=2 MaxSim", "pf2", {"full_resolution": False}, args.queries),
            ("funnel: summary HNSW -> pf=2 -> full-res", "pf2", {}, args.queries),
        ]
        for label, coll, kw, n in cases:
            kw = dict(kw)
            using = kw.pop("using", None)
            if using == "full":
                def run(q: np.ndarray, coll: str = coll) -> Any:
                    return client.query_points(coll, query=q, using="full", limit=10, with_payload=False)
            else:
                def run(q: np.ndarray, coll: str = coll, kw: dict = kw) -> Any:
                    return client.query_late_interaction(coll, q, limit=10, with_payload=False, **kw)
            ms = latencies(run, queries[:n])
            p95 = float(np.percentile(ms, 95))
            rows_query.append([label, len(ms), f"{statistics.median(ms):.1f}", f"{p95:.1f}"])
            log(f"{label}: p50 {statistics.median(ms):.1f} ms p95 {p95:.1f} ms")
        t0 = time.perf_counter()
        client.close()
        close_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = TokenPoolingClient(path=str(root), engine="edge")
        first = again.query_late_interaction("pf2", queries[0], limit=10, full_resolution=False)
        reopen_s = time.perf_counter() - t0
        again.close()
        assert len(first.points) == 10
    finally:
        total = time.perf_counter() - t_start
        if not args.keep:
            shutil.rmtree(root.parent if args.dir is None else root, ignore_errors=True)

    out = [
        setup_line(args), "",
        table(["collection", "ingest docs/s", "ingest s", "optimize s", "points", "disk GiB", "peak RSS GiB so far"], rows_ingest),
        "",
        table(["query (top 10)", "queries", "p50 ms", "p95 ms"], rows_query),
        "",
        (f"close {close_s:.1f} s; reopen + first funnel query {reopen_s:.2f} s; "
         f"whole run {total / 60:.1f} min; peak RSS {peak_rss_gib():.2f} GiB"),
    ]
    print("\n".join(out))
    return 0


def defaults_run(args: argparse.Namespace) -> int:
    """``--defaults``: two collections of ``index_corpus``'s settings, ``summary`` (pf=2 +
    summary vector, the first stage before the token index) and ``tokens`` (the same + the
    token index, today's default): their ingest and optimize times, and p50/p95 of plain
    pooled MaxSim, the summary funnel and the token first stage."""
    root = Path(args.dir or tempfile.mkdtemp(prefix="edge-scale-")) / "db"
    corpus = Corpus(args.docs, args.tokens, args.dim)
    queries = corpus.queries(args.queries, args.query_tokens)
    t_start = time.perf_counter()
    rows_ingest, rows_query = [], []
    cfg = PoolingConfig(pool_factor=2, summary_vector="summary")
    try:
        client = TokenPoolingClient(path=str(root), engine="edge")
        for name in ("summary", "tokens"):
            secs = ingest(client, name, corpus, cfg, args.batch, token_index=name == "tokens")
            t0 = time.perf_counter()
            client.optimize(name)  # the main collection and its token index
            opt = time.perf_counter() - t0
            disk = sum(disk_gib(p) for p in (root / "collections").glob(f"{name}*"))
            rows_ingest.append([
                "pf2 + summary" + (" + token index" if name == "tokens" else ""),
                f"{args.docs / secs:.0f}", f"{secs:.0f}", f"{opt:.0f}",
                f"{args.docs / (secs + opt):.0f}", f"{disk:.2f}", f"{peak_rss_gib():.2f}",
            ])
            log(f"{name}: ingest {secs:.0f} s, optimize {opt:.0f} s, {load()}")
        cases = [
            ("pf=2: plain MaxSim", "summary", {"summary": False}),
            ("summary funnel: summary HNSW top-100 -> pf=2 MaxSim", "summary", {}),
            ("token first stage (default): token index -> pf=2 MaxSim", "tokens", {}),
        ]
        for label, coll, kw in cases:
            def run(q: np.ndarray, coll: str = coll, kw: dict = kw) -> Any:
                return client.query_late_interaction(coll, q, limit=10, with_payload=False, **kw)
            ms = latencies(run, queries)
            p95 = float(np.percentile(ms, 95))
            rows_query.append([label, len(ms), f"{statistics.median(ms):.1f}", f"{p95:.1f}"])
            log(f"{label}: p50 {statistics.median(ms):.1f} ms p95 {p95:.1f} ms")
        client.close()
    finally:
        total = time.perf_counter() - t_start
        if not args.keep:
            shutil.rmtree(root.parent if args.dir is None else root, ignore_errors=True)
    print("\n".join([
        setup_line(args), "",
        table(["collection", "ingest docs/s", "ingest s", "optimize s", "docs/s incl. optimize",
               "disk GiB", "peak RSS GiB so far"], rows_ingest),
        "",
        table(["query (top 10)", "queries", "p50 ms", "p95 ms"], rows_query),
        "",
        f"whole run {total / 60:.1f} min; peak RSS {peak_rss_gib():.2f} GiB",
    ]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
