"""Where the default search's time goes on SciFact (Qdrant Edge): the token first stage and
the pooled MaxSim rescoring, each alone, against plain pooled MaxSim in the same run.

SciFact's pooled vectors (pf=2, the cache of ``funnel.py``) and mean summary are written
once into a Qdrant Edge folder with ``index_corpus``'s default token index (``--db``, kept;
built when missing), then every query of the test split (``--queries``) is timed per row
after one untimed pass over the same queries (each row starts warm: Edge's pages read,
the first process-wide costs paid). Rows:

- plain pooled MaxSim and the default search (``query_late_interaction``; a folder built
  with another candidate cap is queried with today's, ``DEFAULT_CANDIDATES``), and with
  other caps (``--caps``);
- the token stage alone (:func:`~qdrant_tokenpool.candidates.candidate_ids`), through the
  Edge backend's ``search_batch`` and through ``query_batch_points`` (the generic path);
- Edge's batched search alone (``EdgeShard.query_batch`` on prebuilt native requests,
  no payload): the floor of the token stage;
- the rescoring alone: pooled MaxSim over the default's candidates (``query_points`` with
  a ``HasIdCondition``, candidates computed before the clock starts): the floor of the
  second stage.

Prints a Markdown table (median ms, speed-up against plain pooled MaxSim) and the load.
Run: ``python benchmarks/token_stage.py [--db /tmp/scifact-edge] [--queries 100] [--caps 150]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import funnel as F
from first_stages import write_pooled

COLLECTION = "scifact"


def build(db: Path, data: F.Data) -> None:
    from qdrant_client import models

    from qdrant_tokenpool import PoolingConfig, TokenPoolingClient
    from qdrant_tokenpool.firststage import document_summaries
    from qdrant_tokenpool.ops import add_token_index

    pooled = F.pooled_corpus(data, 2).items()
    summaries = document_summaries("mean", data.corpus.items())
    client = TokenPoolingClient(path=str(db), engine="edge")
    mv = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
    client.create_collection(
        COLLECTION,
        {"colbert": models.VectorParams(size=data.corpus.dim, distance=models.Distance.COSINE,
                                        multivector_config=mv, hnsw_config=models.HnswConfigDiff(m=0))},
        pooling={"colbert": PoolingConfig(pool_factor=2, summary_vector="summary")},
    )
    add_token_index(client, COLLECTION)
    t0 = time.perf_counter()
    write_pooled(client, COLLECTION, pooled, summaries)
    client.optimize(COLLECTION)
    client.close()
    F.log(f"built {db} in {time.perf_counter() - t0:.0f} s")


def median_ms(fn: Any, items: list[Any]) -> float:
    for x in items:  # one untimed pass: every row starts warm
        fn(x)
    times = []
    for x in items:
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=F.DEFAULT_DATA)
    ap.add_argument("--db", type=Path, default=Path("/tmp/scifact-edge-token-stage"))
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--caps", type=int, nargs="*", default=[],
                    help="more rows: the default search with these candidate caps (prefetch_limit)")
    a = ap.parse_args(argv)

    import qdrant_edge as E

    from qdrant_tokenpool import TokenPoolingClient
    from qdrant_tokenpool import candidates as C
    from qdrant_tokenpool._backend import backend
    from qdrant_tokenpool._flow import run_sync
    from qdrant_tokenpool.pooling.common import normalise

    data = F.load_data(a.data, None)
    if not a.db.exists():
        build(a.db, data)
    queries = data.queries.items()[: a.queries]
    client = TokenPoolingClient(path=str(a.db), engine="edge")
    parent = super(TokenPoolingClient, client)
    ti = run_sync(C.active(client._pooling_state, COLLECTION), parent)
    assert ti is not None and ti.packed_ids, "the folder's token index predates packed ids: delete it"
    cap = C.DEFAULT_CANDIDATES  # a folder built before the cap changed stores its own: override
    if ti.candidates != cap:
        F.log(f"the folder's index stores a cap of {ti.candidates} candidates; "
              f"the rows use today's default, {cap} (prefetch_limit)")
    shard = backend(client)._shard(ti.companion)
    k = ti.neighbours
    params = E.SearchParams(hnsw_ef=max(C.DEFAULT_HNSW_EF, k))
    native_requests = {
        id(q): E.QueryBatchRequest([
            E.QueryRequest(limit=k, query=E.Query.Nearest(row, using=C.TOKEN_VECTOR), params=params,
                           with_payload=False, with_vector=False)
            for row in normalise(q, zero="keep").astype(np.float32).tolist()
        ])
        for q in queries
    }

    def stage(native: bool) -> Any:
        return lambda q: run_sync(
            C.candidate_ids(ti, q, cosine=True, limit=cap, results=10, native=native), parent)

    def capped(n: int) -> Any:
        return lambda q: client.query_late_interaction(
            COLLECTION, q, limit=10, with_payload=False, prefetch_limit=n)

    candidates = {id(q): stage(True)(q) for q in queries}
    rows = {
        "plain pooled MaxSim": lambda q: client.query_late_interaction(
            COLLECTION, q, limit=10, with_payload=False, summary=False),
        f"default search (token stage + pooled MaxSim over its {cap})": capped(cap),
        **{f"default search with {n} candidates": capped(n) for n in a.caps},
        "token stage alone, Edge backend's search_batch": stage(True),
        "token stage alone, query_batch_points (generic path)": stage(False),
        "Edge's batched search alone (native requests, no payload)": lambda q: shard.query_batch(
            native_requests[id(q)]),
        f"rescoring alone: pooled MaxSim over the {cap} candidates": lambda q: client.query_points(
            COLLECTION, query=q, using="colbert", query_filter=C.restrict(None, candidates[id(q)]),
            limit=10, with_payload=False),
    }
    ms = {label: median_ms(fn, queries) for label, fn in rows.items()}
    client.close()
    plain = ms["plain pooled MaxSim"]
    one, five, fifteen = os.getloadavg()
    tokens = np.mean([len(q) for q in queries])
    print(f"SciFact test, {len(queries)} queries ({tokens:.1f} tokens on average), Qdrant Edge, "
          f"median ms after one untimed pass; load average {one:.2f} {five:.2f} {fifteen:.2f} "
          f"on {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}\n")
    print("| row | ms | speed-up vs plain pooled |\n|---|---|---|")
    for label, v in ms.items():
        print(f"| {label} | {v:.2f} | {plain / v:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
