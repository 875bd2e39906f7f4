"""The default search's quality measured through Qdrant Edge (and local mode), not replayed.

``first_stages.py`` replays the token first stage with the exact nearest token vectors;
here the real default search runs: SciFact's pooled pf=2 vectors (and the needle corpus
of ``needle.py``) are written through a ``TokenPoolingClient`` with the default token
index (``add_token_index``'s defaults: coarse ``DEFAULT_POOL_FACTOR``, int8, the graph
``DEFAULT_HNSW`` unless ``--hnsw``, ``DEFAULT_CANDIDATES`` candidates, ``DEFAULT_NEIGHBOURS``
per query token; pooling off, the pooled vectors given), ``optimize``d, then every query
goes through ``query_late_interaction`` with its defaults, and with plain pooled MaxSim
(``summary=False``) on the same collection. Per row:

- SciFact test nDCG@10 and its share of plain pooled nDCG@10 (paired bootstrap CI);
- needle recall@10 (full MaxSim's: exact, as ``needle.py``), the first stage's recall of
  the needle (its candidates: the query run with ``limit`` = the candidate cap returns
  them all, rescored) and the share of full MaxSim's top-10 needles it keeps;
- median ms/query on SciFact (limit 10; the machine is shared: a ratio to plain pooled
  measured in the same run is the figure to read).

``--sweep`` adds query-side settings of the token stage (``hnsw_ef=N``, ``neighbours=N``,
``prefetch_limit=N``: the candidate cap, as the index's ``candidates``; ``exact``;
combined with ``+``, e.g. ``hnsw_ef=100+neighbours=60``) as more rows on the same
collections: each run builds a new companion graph (Edge's HNSW build is not
deterministic), so compare settings within a run and repeat runs for the build-to-build
spread. ``--engine local`` runs qdrant-client's local mode
(exact search: the first stage equals the replay), ``--queries N`` the first N queries.

Run: ``python benchmarks/edge_quality.py --sweep hnsw_ef=64 hnsw_ef=100 exact --out
docs/img`` (needs the caches that ``funnel.py`` / ``needle.py`` fill; writes
``edge_quality_table.txt`` and ``edge_quality.json``, ``_local`` for local mode).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import first_stages as FS
import funnel as F

from qdrant_tokenpool.candidates import (
    DEFAULT_CANDIDATES,
    DEFAULT_HNSW_EF,
    DEFAULT_NEIGHBOURS,
    DEFAULT_POOL_FACTOR,
)
from qdrant_tokenpool.eval.metrics import evaluate_run, paired_bootstrap

DEFAULT_CFG = {"c": DEFAULT_POOL_FACTOR, "m": None, "ef": None}  # the default coarse factor and HNSW


def parse_setting(text: str) -> dict[str, Any]:
    """``"hnsw_ef=100+neighbours=60"`` -> ``query_late_interaction`` keywords (``exact``:
    the companion searched exactly)."""
    from qdrant_client import models

    kw: dict[str, Any] = {"first_stage": "tokens"}
    params: dict[str, Any] = {}
    for part in text.split("+"):
        if part == "exact":
            params["exact"] = True
            continue
        key, value = part.split("=")
        if key == "hnsw_ef":
            params["hnsw_ef"] = int(value)
        elif key in ("neighbours", "prefetch_limit"):
            kw[key] = int(value)
        else:
            raise ValueError(f"unknown setting {key!r} in {text!r}")
    if params:
        kw["search_params"] = models.SearchParams(**params)
    return kw


def run_scifact(client: Any, data: F.Data, name: str, kw: dict[str, Any], n_q: int) -> dict[str, Any]:
    """SciFact nDCG@10 (per query too) and median ms of ``query_late_interaction(**kw)``,
    limit 10 (11 asked: a document with the query's own id is dropped, as ``funnel.py``)."""
    ds, qs = data.ds, data.queries.items()
    for q in qs[:2]:  # warm-up
        client.query_late_interaction(name, q, limit=11, with_payload=False, **kw)
    run, times = {}, []
    for qi, qid in enumerate(ds.query_ids[:n_q]):
        t0 = time.perf_counter()
        resp = client.query_late_interaction(name, qs[qi], limit=11, with_payload=False, **kw)
        times.append(time.perf_counter() - t0)
        hits = {ds.doc_ids[int(p.id)]: float(-r) for r, p in enumerate(resp.points)}
        hits.pop(qid, None)
        run[qid] = dict(list(hits.items())[:10])
    m, per_query = evaluate_run(run, {q: ds.qrels.get(q, {}) for q in run}, ndcg_ks=(10,), recall_ks=(10,))
    return {"ndcg": m[F.NDCG], "per_query": {q: v[F.NDCG] for q, v in per_query.items()},
            "ms": 1000 * statistics.median(times)}


def run_needles(client: Any, nc: dict[str, Any], name: str, kw: dict[str, Any], qs: list,
                tokens: bool) -> dict[str, Any]:
    """Needle recall@10 of ``query_late_interaction(**kw)``; for the token stage
    (``tokens``) also its first-stage recall of the needle and the share of full
    MaxSim's top-10 needles it keeps (the query asked for every candidate: ``limit`` =
    the cap, so the ranking's first 10 are the default's answer)."""
    cap = kw.get("prefetch_limit", DEFAULT_CANDIDATES) if tokens else 10
    hits, kept, kept_full = [], [], []
    for qi, q in enumerate(qs):
        resp = client.query_late_interaction(name, q, limit=max(10, cap), with_payload=False, **kw)
        ids = [int(p.id) for p in resp.points]
        target = int(nc["target"][qi])
        hits.append(target in ids[:10])
        inside = not tokens or target in ids
        kept.append(inside)
        if nc["full_top10"][qi]:
            kept_full.append(inside)
    return {"needle_r10": float(np.mean(hits)), "needle_first_recall": float(np.mean(kept)),
            "needle_kept_of_full_top10": float(np.mean(kept_full))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=F.DEFAULT_DATA)
    ap.add_argument("--engine", choices=["edge", "local"], default="edge")
    ap.add_argument("--queries", type=int, default=None, help="the first N queries (default: all)")
    ap.add_argument("--sweep", nargs="*", default=[],
                    help="query-side token-stage settings: hnsw_ef=N, neighbours=N, "
                         "prefetch_limit=N, exact; '+' combines")
    ap.add_argument("--hnsw", default=None, metavar="M,EF_CONSTRUCT",
                    help="the companion's HNSW graph (default: the token index's, candidates.DEFAULT_HNSW)")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    cfg = dict(DEFAULT_CFG)
    if a.hnsw:
        cfg["m"], cfg["ef"] = (int(v) for v in a.hnsw.split(","))
    from qdrant_tokenpool import TokenPoolingClient

    pf = 2
    data = F.load_data(a.data, None)
    n_q = min(a.queries or len(data.queries), len(data.queries))
    qs = data.queries.items()[:n_q]
    full = F.cached_matrix(data, "full", lambda: F.maxsim_matrix(data, data.corpus))
    nc = FS.needle_corpus(data, pf, full)
    nc["full_top10"] = nc["full_top10"][:n_q]
    full_r10 = float(np.mean(nc["full_top10"]))
    needle_fulls = [data.corpus.items()[i] for i in nc["distractors"]] + list(nc["tokens"].items())

    folder = Path(tempfile.mkdtemp(prefix="edge-quality-"))
    # local mode in memory: on disk it would pickle every point into SQLite
    client = (TokenPoolingClient(path=str(folder), engine="edge") if a.engine == "edge"
              else TokenPoolingClient(":memory:", engine="local"))
    builds = {}
    try:
        builds["scifact"] = FS.edge_build(client, folder, data, pf, "scifact", cfg, "int8",
                                          candidates=DEFAULT_CANDIDATES)
        builds["needles"] = FS.edge_build(client, folder, data, pf, "needles", cfg, "int8",
                                          docs=(nc["corpus"].items(), needle_fulls),
                                          candidates=DEFAULT_CANDIDATES)
        settings: dict[str, tuple[dict[str, Any], bool]] = {
            "plain pooled MaxSim": ({"summary": False}, False),
            ("" if a.hnsw is None else f"[m,ef_construct={a.hnsw}] ") +
            (f"default (k={DEFAULT_NEIGHBOURS}, hnsw_ef={max(DEFAULT_HNSW_EF, DEFAULT_NEIGHBOURS)}, "
             f"{DEFAULT_CANDIDATES} candidates)"): ({}, True),
            **{s: (parse_setting(s), True) for s in a.sweep},
        }
        rows: dict[str, dict[str, Any]] = {}
        for label, (kw, tokens) in settings.items():
            r = run_scifact(client, data, "scifact", kw, n_q)
            r.update(run_needles(client, nc, "needles", kw, qs, tokens))
            rows[label] = r
            F.log(f"{a.engine}: {label}: nDCG@10 {r['ndcg']:.4f}, needle recall@10 "
                  f"{r['needle_r10']:.3f}, first stage {r['needle_first_recall']:.3f}, "
                  f"kept {r['needle_kept_of_full_top10']:.3f}, {r['ms']:.1f} ms")
    finally:
        client.close()
        shutil.rmtree(folder, ignore_errors=True)
    load = os.getloadavg()
    text = report(rows, a, n_q, full_r10, len(data.corpus), load)
    sys.stdout.write(text)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        suffix = "" if a.engine == "edge" else f"_{a.engine}"
        (a.out / f"edge_quality{suffix}_table.txt").write_text(text)
        (a.out / f"edge_quality{suffix}.json").write_text(json.dumps(
            {"rows": {k: {x: y for x, y in v.items() if x != "per_query"} for k, v in rows.items()},
             "builds": builds, "full_r10": full_r10, "queries": n_q, "load": load,
             "time": time.strftime("%Y-%m-%d %H:%M"), "args": {k: str(v) for k, v in vars(a).items()}},
            indent=1))
    return 0


def report(rows: dict[str, dict[str, Any]], a: Any, n_q: int, full_r10: float, docs: int,
           load: tuple[float, ...]) -> str:
    engine = "Qdrant Edge" if a.engine == "edge" else "qdrant-client local mode (exact search)"
    head = ["query", "SciFact nDCG@10", "% of plain pooled", "Δ vs plain [95% CI]",
            "needle recall@10", "% of full MaxSim", "needle first-stage recall",
            "keeps full top-10 needles", "ms/query", "speed-up vs plain"]
    lines = [
        f"{engine}, `query_late_interaction` on the default token index (written through the "
        f"client, optimized): SciFact test ({docs} documents, {n_q} queries) and the needle "
        f"corpus (needle.py), pooled pf=2; full MaxSim's needle recall@10 {full_r10:.3f} "
        "(exact)" + ("" if a.hnsw is None else f"; companion HNSW m,ef_construct={a.hnsw}") + ". ms: median on SciFact, limit 10. Load average at the end: "
        + ", ".join(f"{x:.2f}" for x in load), "",
        "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base = next(iter(rows.values()))
    qids = sorted(base["per_query"])
    for label, r in rows.items():
        ci = paired_bootstrap([base["per_query"][q] for q in qids], [r["per_query"][q] for q in qids])
        cells = [label, f"{r['ndcg']:.4f}", f"{r['ndcg'] / base['ndcg']:.1%}",
                 f"{ci[0]:+.4f} [{ci[1]:+.4f}, {ci[2]:+.4f}]", f"{r['needle_r10']:.3f}",
                 f"{r['needle_r10'] / full_r10:.1%}", f"{r['needle_first_recall']:.3f}",
                 f"{r['needle_kept_of_full_top10']:.1%}", f"{r['ms']:.1f}", f"{base['ms'] / r['ms']:.1f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
