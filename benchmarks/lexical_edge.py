"""The mean summary fused with a lexical BM25 sparse vector by RRF, measured on Qdrant Edge.

``first_stages.py`` replays this first stage exactly; here it runs in the engine. SciFact
and the needle corpus (``first_stages.needle_corpus``) are each written through a
``TokenPoolingClient(path=..., engine="edge")`` as ``edge_quality.py`` writes them (the
pooled pf=2 multivector given, pooling off; the mean ``summary`` vector, HNSW) plus a
sparse vector ``bm25`` with ``Modifier.IDF`` whose values are BM25's document-side weights
(``first_stages.bm25_terms``; Qdrant multiplies a query's terms, 1 each, by its IDF), then
``optimize``d. Reported:

- the IDF check: Edge's sparse scores against the replay's ``bm25_scores`` (first
  ``--check`` queries, top 10 each: largest relative difference, top-10 agreement);
- writes: SciFact written with the summary only, with summary + bm25 and (``--tokens``)
  with the default token index, each then optimized: write s, optimize s, store
  throughput against the summary-only build of the same round, bytes per document;
- queries, all through ``query_points`` (``--prefetch`` limits, default 100)::

      query_points(name, prefetch=[Prefetch(prefetch=[
              Prefetch(query=q_summary, using="summary", limit=P),
              Prefetch(query=SparseVector(...), using="bm25", limit=P)],
          query=FusionQuery(fusion=Fusion.RRF), limit=P)],
          query=<query tokens>, using="colbert", limit=10)

  and on the same collection plain pooled MaxSim (``query=<query tokens>,
  using="colbert"``), each prefetch alone (the first ``P``) before pooled MaxSim, and the
  sparse search alone (no MaxSim): SciFact nDCG@10 (share of plain pooled, paired
  bootstrap CI), needle recall@10 (share of full MaxSim's), the first stage's recall of
  the needle and share of full MaxSim's top-10 needles it keeps (asked with
  ``limit=P``: every candidate comes back, rescored), the share of its candidates that
  the exact replay (``first_stages.fused_candidates``) has too, and the median ms/query
  on SciFact after one untimed pass.

Run: ``python benchmarks/lexical_edge.py --tokens --out docs/img`` (needs the caches that
``funnel.py`` / ``needle.py`` fill; writes ``lexical_edge.txt`` and ``lexical_edge.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import edge_quality as EQ
import first_stages as FS
import funnel as F

from qdrant_tokenpool.candidates import DEFAULT_CANDIDATES
from qdrant_tokenpool.eval.metrics import paired_bootstrap
from qdrant_tokenpool.firststage import document_summaries, query_summary

FIRST = ("summary", "bm25", "fused")
"""The stages of :class:`QueryPoints` with a first stage (a prefetch) before pooled MaxSim."""


def sparse_row(m: Any, i: int) -> Any:
    """Row ``i`` of the CSR matrix ``m`` as a ``models.SparseVector``."""
    from qdrant_client import models

    lo, hi = m.indptr[i], m.indptr[i + 1]
    return models.SparseVector(indices=m.indices[lo:hi].tolist(), values=m.data[lo:hi].tolist())


class QueryPoints:
    """``query_points`` requests behind the ``query_late_interaction(name, q, limit=,
    with_payload=, **kw)`` call that ``edge_quality.run_scifact`` / ``run_needles`` make
    (their loops, metrics and timing reused): ``stage`` ``"plain"`` (pooled MaxSim over
    every point), ``"fused"`` (the nested RRF prefetch of the module docstring, both
    prefetches and the fusion ``prefetch_limit``), ``"summary"`` / ``"bm25"`` (pooled
    MaxSim over that one prefetch) or ``"sparse"`` (the ``bm25`` search alone, no
    MaxSim). Query ``q`` (token vectors) is found by its bytes among ``queries``."""

    def __init__(self, client: Any, queries: list[np.ndarray], terms: Any) -> None:
        self.client = client
        self.index = {q.tobytes(): i for i, q in enumerate(queries)}
        self.summaries = [query_summary("mean", q, normalize=True) for q in queries]
        self.sparse = [sparse_row(terms, i) for i in range(len(queries))]

    def query_late_interaction(self, name: str, q: np.ndarray, limit: int, with_payload: bool = False,
                               stage: str = "fused", prefetch_limit: int = 100) -> Any:
        from qdrant_client import models

        i = self.index[q.tobytes()]
        if stage == "sparse":
            return self.client.query_points(name, query=self.sparse[i], using="bm25", limit=limit,
                                            with_payload=with_payload)
        p = prefetch_limit
        dense = models.Prefetch(query=self.summaries[i], using="summary", limit=p)
        lexical = models.Prefetch(query=self.sparse[i], using="bm25", limit=p)
        prefetch = {"plain": None, "summary": dense, "bm25": lexical,
                    "fused": models.Prefetch(prefetch=[dense, lexical],
                                             query=models.FusionQuery(fusion=models.Fusion.RRF),
                                             limit=p)}[stage]
        return self.client.query_points(name, prefetch=prefetch, query=q, using="colbert",
                                        limit=limit, with_payload=with_payload)


def idf_check(client: Any, name: str, qp: QueryPoints, replay: np.ndarray, n: int) -> dict[str, float]:
    """Edge's ``bm25`` scores of the first ``n`` queries' top 10 against the replay's
    BM25 scores (``replay``: queries x points): the largest relative difference and the
    share of Edge's top 10 in the replay's top 10."""
    rel, agree = [], []
    for i in range(n):
        resp = client.query_points(name, query=qp.sparse[i], using="bm25", limit=10)
        ids = np.array([int(p.id) for p in resp.points])
        got = np.array([p.score for p in resp.points])
        want = replay[i, ids]
        rel.append(float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-9))))
        top = set(np.argsort(-replay[i], kind="stable")[:10].tolist())
        agree.append(len(top & set(ids.tolist())) / 10)
    return {"max_rel_diff": max(rel), "top10_agreement": float(np.mean(agree)), "queries": n}


def replay_candidates(stage: str, dense: np.ndarray, lexical: np.ndarray, p: int) -> list[np.ndarray]:
    """The exact replay's candidates of a first ``stage`` (``"summary"``, ``"bm25"`` or
    ``"fused"``) per query, from the dense and BM25 scores (queries x points)."""
    if stage == "fused":
        return FS.fused_candidates(dense, lexical, p, FS.RRF_K)
    return list(np.argsort(-(dense if stage == "summary" else lexical), axis=1, kind="stable")[:, :p])


def replay_agreement(qp: QueryPoints, name: str, queries: list[np.ndarray], stage: str,
                     replay: list[np.ndarray], p: int) -> float:
    """Share of Edge's candidates of a first ``stage`` (the funnel asked with ``limit=p``
    returns them all, rescored) that the exact replay's (``replay``, per query) hold too."""
    out = []
    for q, want in zip(queries, replay):
        got = qp.query_late_interaction(name, q, limit=p, stage=stage, prefetch_limit=p)
        out.append(len({int(x.id) for x in got.points} & set(want.tolist())) / max(1, len(want)))
    return float(np.mean(out))


def collection_bytes(folder: Path, name: str) -> int | None:
    """Bytes on disk of collection ``name``'s folder under ``folder`` (None: not found)."""
    d = next((p for p in folder.rglob("*") if p.is_dir() and p.name == name), None)
    return None if d is None else FS._dir_bytes(d)


def build(client: Any, folder: Path, data: F.Data, name: str, kind: str, sparse: Any,
          docs: tuple[list[np.ndarray], list[np.ndarray]] | None = None) -> dict[str, Any]:
    """``first_stages.edge_build`` of collection ``name`` (pf=2): ``kind`` ``"summary"``
    (the summary only), ``"bm25"`` (summary + the ``bm25`` sparse vector ``sparse``) or
    ``"tokens"`` (summary + the default token index, ``edge_quality``'s config); its
    bytes on disk (the token index's companion included)."""
    tokens = kind == "tokens"
    b = FS.edge_build(client, folder, data, 2, name, EQ.DEFAULT_CFG if tokens else None,
                      "int8" if tokens else None, docs=docs,
                      candidates=DEFAULT_CANDIDATES if tokens else 0,
                      sparse=sparse if kind == "bm25" else None)
    b["bytes"] = (collection_bytes(folder, name) or 0) + b.get("companion_bytes", 0)
    return b


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=F.DEFAULT_DATA)
    ap.add_argument("--queries", type=int, default=None, help="the first N queries (default: all)")
    ap.add_argument("--prefetch", type=int, nargs="+", default=[100],
                    help="the fused stage's prefetch limits (both prefetches and the fusion)")
    ap.add_argument("--check", type=int, default=20, help="queries of the IDF check")
    ap.add_argument("--rounds", type=int, default=1, help="rounds of the write timing")
    ap.add_argument("--tokens", action="store_true",
                    help="also time the default token index's build (summary + companion)")
    ap.add_argument("--no-needles", action="store_true", help="SciFact only")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    from qdrant_tokenpool import TokenPoolingClient

    t_start = time.perf_counter()
    data = F.load_data(a.data, None)
    n_q = min(a.queries or len(data.queries), len(data.queries))
    queries = data.queries.items()
    qs = queries[:n_q]
    tok = data.encoder.tokenizer
    terms = FS.bm25_terms(tok, data.ds.query_texts, False)
    sc_docs = FS.bm25_terms(tok, data.ds.documents, True)
    sc_replay, _ = FS.bm25_scores(tok, data.ds.documents, data.ds.query_texts)
    mean = F.cached_matrix(data, "first-mean", lambda: F.first_stage_scores(data, "mean", None))
    stages: dict[str, dict[str, Any]] = {
        "plain pooled MaxSim": {"stage": "plain"},
        f"mean summary top-{a.prefetch[0]}": {"stage": "summary", "prefetch_limit": a.prefetch[0]},
        f"BM25 top-{a.prefetch[0]}": {"stage": "bm25", "prefetch_limit": a.prefetch[0]},
        **{f"mean + BM25, RRF, top-{p}": {"stage": "fused", "prefetch_limit": p} for p in a.prefetch},
        "BM25 sparse alone (no MaxSim)": {"stage": "sparse"},
    }
    res: dict[str, Any] = {"builds": {}, "idf": {}, "rows": {label: {} for label in stages},
                           "queries": n_q, "docs": len(data.corpus)}
    folder = Path(tempfile.mkdtemp(prefix="lexical-edge-"))
    client = TokenPoolingClient(path=str(folder), engine="edge")
    qp = QueryPoints(client, queries, terms)
    try:
        # -- writes: summary only, summary + bm25 (kept: "scifact"), the token index ---------
        for r in range(1, a.rounds + 1):
            for kind in ("summary", "bm25", *(("tokens",) if a.tokens else ())):
                name = "scifact" if (kind, r) == ("bm25", 1) else f"{kind}-{r}"
                res["builds"][f"{kind} #{r}"] = build(client, folder, data, name, kind, sc_docs)
                if name != "scifact":
                    client.delete_collection(name)
        res["idf"]["scifact"] = idf_check(client, "scifact", qp, sc_replay, a.check)
        F.log(f"IDF check, SciFact: {res['idf']['scifact']}")

        # -- SciFact --------------------------------------------------------------------------
        for label, kw in stages.items():
            EQ.run_scifact(qp, data, "scifact", kw, n_q)  # the untimed pass
            r = EQ.run_scifact(qp, data, "scifact", kw, n_q)
            res["rows"][label].update(r)
            if kw["stage"] in FIRST:
                p = kw["prefetch_limit"]
                want = replay_candidates(kw["stage"], mean[:n_q], sc_replay[:n_q], p)
                res["rows"][label]["scifact_replay"] = replay_agreement(qp, "scifact", qs, kw["stage"], want, p)
            F.log(f"SciFact {label}: nDCG@10 {r['ndcg']:.4f}, {r['ms']:.1f} ms")

        # -- needles --------------------------------------------------------------------------
        full_r10 = None
        if not a.no_needles:
            full = F.cached_matrix(data, "full", lambda: F.maxsim_matrix(data, data.corpus))
            nc = FS.needle_corpus(data, 2, full)
            del full
            nc["full_top10"] = nc["full_top10"][:n_q]
            full_r10 = float(np.mean(nc["full_top10"]))
            dis = nc["distractors"]
            fulls = [data.corpus.items()[i] for i in dis] + list(nc["tokens"].items())
            n_docs = FS.bm25_terms(tok, nc["texts"], True)
            n_replay, _ = FS.bm25_scores(tok, nc["texts"], data.ds.query_texts)
            res["builds"]["needles"] = build(client, folder, data, "needles", "bm25", n_docs,
                                             docs=(nc["corpus"].items(), fulls))
            res["idf"]["needles"] = idf_check(client, "needles", qp, n_replay, a.check)
            F.log(f"IDF check, needles: {res['idf']['needles']}")
            qv = np.stack(qp.summaries[:n_q])
            n_mean = np.concatenate(
                [mean[:n_q][:, dis], qv @ document_summaries("mean", nc["tokens"].items(), normalize=True).T],
                axis=1)
            for label, kw in stages.items():
                first = kw["stage"] in FIRST
                r = EQ.run_needles(qp, nc, "needles", kw, qs, first)
                res["rows"][label].update(r)
                if first:
                    p = kw["prefetch_limit"]
                    want = replay_candidates(kw["stage"], n_mean, n_replay[:n_q], p)
                    res["rows"][label]["needle_replay"] = replay_agreement(qp, "needles", qs, kw["stage"], want, p)
                F.log(f"needles {label}: recall@10 {r['needle_r10']:.3f}, first stage "
                      f"{r['needle_first_recall']:.3f}, kept {r['needle_kept_of_full_top10']:.3f}")
    finally:
        client.close()
        shutil.rmtree(folder, ignore_errors=True)
    res["full_r10"] = full_r10
    res["load"] = os.getloadavg()
    res["wall_s"] = time.perf_counter() - t_start
    res["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    text = report(res)
    sys.stdout.write(text)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "lexical_edge.txt").write_text(text)
        rows = {k: {x: y for x, y in v.items() if x != "per_query"} for k, v in res["rows"].items()}
        (a.out / "lexical_edge.json").write_text(json.dumps(
            {**res, "rows": rows, "time": time.strftime("%Y-%m-%d %H:%M"),
             "args": {k: str(v) for k, v in vars(a).items()}}, indent=1))
    return 0


def report(res: dict[str, Any]) -> str:
    """The IDF check, the write table and the query table as Markdown."""
    docs = res["docs"]
    lines = [f"Qdrant Edge through `TokenPoolingClient(engine=\"edge\")`, pooled pf=2 given "
             f"(pooling off). Run: {res['wall_s']:.0f} s, peak RSS {res['peak_rss_gib']:.1f} GiB. "
             "Load average at the end: " + ", ".join(f"{x:.2f}" for x in res["load"]), ""]
    for corpus, c in res["idf"].items():
        lines.append(f"IDF check ({corpus}, first {c['queries']} queries, top 10 each): Edge's "
                     f"`bm25` scores vs the replay's BM25: largest relative difference "
                     f"{c['max_rel_diff']:.1e}, top-10 agreement {c['top10_agreement']:.1%}.")
    lines += ["", f"Writes: the {docs} SciFact documents, 64 per upsert, then optimize:", "",
              "| index | write s | optimize s | store throughput vs summary only | bytes/doc on disk |",
              "|---|---|---|---|---|"]
    names = {"summary": "summary only", "bm25": "summary + bm25 (sparse, IDF)",
             "tokens": "summary + default token index (x2, int8)"}
    for key, b in res["builds"].items():
        kind, _, round_ = key.partition(" ")
        if kind not in names:
            continue
        base = res["builds"][f"summary {round_}"]
        ratio = (base["write_s"] + base["optimize_s"]) / (b["write_s"] + b["optimize_s"])
        lines.append(f"| {names[kind]} {round_} | {b['write_s']:.1f} | {b['optimize_s']:.1f} | "
                     f"{ratio:.2f}x | {b['bytes'] / docs:,.0f} |")
    full_r10 = res["full_r10"]
    lines += ["", (f"Queries through `query_points` (SciFact test, {res['queries']} queries; needle "
                   "corpus of needle.py" + ("" if full_r10 is None else
                                            f", full MaxSim's needle recall@10 {full_r10:.3f}")
                   + "); ms: median on SciFact, limit 10, after one untimed pass; 'candidates = "
                   "replay': share of Edge's first-stage candidates that the exact replay has too "
                   "(SciFact / needles):"), ""]
    head = ["query", "SciFact nDCG@10", "% of plain pooled", "Δ vs plain [95% CI]",
            "needle recall@10", "% of full MaxSim", "needle first-stage recall",
            "keeps full top-10 needles", "candidates = replay", "ms/query", "speed-up vs plain"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base = next(iter(res["rows"].values()))
    qids = sorted(base["per_query"])
    for label, r in res["rows"].items():
        ci = paired_bootstrap([base["per_query"][q] for q in qids], [r["per_query"][q] for q in qids])
        needle = (["", "", "", ""] if "needle_r10" not in r else
                  [f"{r['needle_r10']:.3f}", f"{r['needle_r10'] / full_r10:.1%}",
                   f"{r['needle_first_recall']:.3f}" if "scifact_replay" in r else "",
                   f"{r['needle_kept_of_full_top10']:.1%}" if "scifact_replay" in r else ""])
        agree = ("" if "scifact_replay" not in r else f"{r['scifact_replay']:.3f}"
                 + ("" if "needle_replay" not in r else f" / {r['needle_replay']:.3f}"))
        cells = [label, f"{r['ndcg']:.4f}", f"{r['ndcg'] / base['ndcg']:.1%}",
                 f"{ci[0]:+.4f} [{ci[1]:+.4f}, {ci[2]:+.4f}]", *needle, agree,
                 f"{r['ms']:.1f}", f"{base['ms'] / r['ms']:.1f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
