"""The token index companion's HNSW settings: build seconds against how much of the exact
token candidates the graph keeps.

SciFact's pooled pf=2 vectors pooled again x2 (the default companion, 310,013 unit
vectors, int8 in RAM as ``create_companion`` makes it) are written into a Qdrant Edge
collection once per ``--hnsw m,ef_construct`` setting and optimized (the HNSW build,
timed); then every token of the first ``--queries`` SciFact queries is searched with
the default query's beam (``hnsw_ef = max(32, k)``, k = 40) and compared with its exact
40 nearest vectors: neighbour recall@40, and the share of the exact top-150 candidate
documents (:func:`qdrant_tokenpool.candidates.rank_candidates`) that HNSW's hits give
too.

Run: ``python benchmarks/companion_hnsw.py [--queries 300] [--hnsw 8,32 8,24 8,16]``
(needs the pooled corpus cache that ``funnel.py`` fills).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import funnel as F

from qdrant_tokenpool.candidates import (
    DEFAULT_CANDIDATES,
    DEFAULT_HNSW_EF,
    DEFAULT_NEIGHBOURS,
    DEFAULT_POOL_FACTOR,
    coarse_rows,
    rank_candidates,
)
from qdrant_tokenpool.pooling.common import normalise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=F.DEFAULT_DATA)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--hnsw", nargs="+", default=["8,32", "8,24", "8,16"], help="m,ef_construct")
    a = ap.parse_args(argv)
    import qdrant_edge as E
    from qdrant_client import models

    from qdrant_tokenpool.engines.edge.backend import EdgeBackend

    data = F.load_data(a.data, None)
    docs = coarse_rows(DEFAULT_POOL_FACTOR, F.pooled_corpus(data, 2).items())
    x = normalise(np.concatenate(docs).astype(np.float32), zero="keep").astype(np.float32)
    owner = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
    n, d = x.shape
    qs = [normalise(q, zero="keep").astype(np.float32) for q in data.queries.items()[: a.queries]]
    q = np.concatenate(qs)
    k, cap = DEFAULT_NEIGHBOURS, DEFAULT_CANDIDATES
    exact = np.empty((len(q), k), dtype=np.int64)
    for lo in range(0, len(q), 256):
        s = q[lo : lo + 256] @ x.T
        idx = np.argpartition(-s, k, axis=1)[:, :k]
        exact[lo : lo + 256] = np.take_along_axis(idx, np.argsort(-np.take_along_axis(s, idx, 1), 1), 1)

    def candidates(rows: list, sims: list) -> list[set]:
        out, at = [], 0
        for t in (len(x) for x in qs):
            out.append(set(rank_candidates([owner[r] for r in rows[at : at + t]], sims[at : at + t], cap)))
            at += t
        return out

    want = candidates(list(exact), [[float(q[i] @ x[j]) for j in exact[i]] for i in range(len(q))])
    flat = x.data.cast("B").cast("f")
    lines = [(f"SciFact companion (x{DEFAULT_POOL_FACTOR} over pf=2, {n:,} vectors, int8), "
             f"{len(q):,} query tokens of {len(qs)} queries, k={k}, hnsw_ef={max(DEFAULT_HNSW_EF, k)}"), "",
             "| m | ef_construct | HNSW build s | neighbour recall@40 | exact top-150 candidates kept |",
             "|---|---|---|---|---|"]
    for setting in a.hnsw:
        m, ef = (int(v) for v in setting.split(","))
        backend = EdgeBackend(tempfile.mkdtemp(prefix="companion-hnsw-"))
        try:
            backend.create_collection(
                "c", vectors_config={"t": models.VectorParams(size=d, distance=models.Distance.COSINE, on_disk=True)},
                hnsw_config=models.HnswConfigDiff(m=m, ef_construct=ef),
                quantization_config=models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
                    type=models.ScalarType.INT8, quantile=0.99, always_ram=True)))
            shard = backend._shard("c")
            for lo in range(0, n, 20_000):
                shard.update(E.UpdateOperation.upsert_points(
                    [E.Point(i, {"t": flat[i * d : (i + 1) * d]}) for i in range(lo, min(n, lo + 20_000))]))
            t0 = time.perf_counter()
            backend.optimize("c")
            build = time.perf_counter() - t0
            beam = models.SearchParams(hnsw_ef=max(DEFAULT_HNSW_EF, k))
            res = []
            for lo in range(0, len(q), 500):
                res += backend.query_batch_points("c", [
                    models.QueryRequest(query=row.tolist(), using="t", limit=k, params=beam) for row in q[lo : lo + 500]])
        finally:
            backend.close()
        got = [[p.id for p in r.points] for r in res]
        recall = float(np.mean([len(set(g) & set(e.tolist())) / k for g, e in zip(got, exact)]))
        kept = candidates(got, [[p.score for p in r.points] for r in res])
        share = float(np.mean([len(h & w) / len(w) for h, w in zip(kept, want)]))
        lines.append(f"| {m} | {ef} | {build:.1f} | {recall:.3f} | {share:.3f} |")
        F.log(lines[-1])
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
