"""First stages side by side, on the same data: SciFact nDCG@10 and the needle test.

For each first stage at pool factor 2 (mean summary top-100, MUVERA top-100, token-level
candidates with ``k`` neighbours per query token, coarse token-level candidates: the
companion holds each document's pooled vectors pooled again by ``C``, optionally only the
best ``N`` candidates by their first-stage score rescored; a coarse multivector of at
most 8 or 16 Ward-pooled vectors per document, MaxSim over it, top ``N``; larger MUVERA
encodings top-100; BM25 over the encoder's tokenizer alone and fused with the mean summary
by RRF, top-100; the mean summary with an adaptive prefetch; no first stage), one row with:

- SciFact test nDCG@10 and its share of plain pooled MaxSim, the first stage's recall of
  the relevant documents, candidates per query (exact replay, as ``funnel.py``);
- needle recall@10 (``needle.py``'s corpus), its share of full MaxSim's, the first
  stage's recall of the needle document, and the share of the needles that full MaxSim
  ranks in its top 10 that the first stage keeps (exact replay);
- the first stage's extra floats per document.

With ``--engine edge``, on Qdrant Edge: SciFact written once with the summary only and
once per companion config (``--configs``: pool factor, HNSW ``m``/``ef_construct``),
pooled vectors given (pooling off: the store's cost only), then ``optimize`` (the HNSW
builds, the companion's timed apart; in the JSON); then ``query_late_interaction`` ms
(median) of every stage on its collection, and the share of Edge's top 10 that the exact
replay returns too (HNSW and int8 approximate the exact neighbours).

``--writes-only``: only those builds, ``--rounds`` times in turn (summary only, then each
config), and their table: write seconds, optimize seconds (the companion's), store
throughput against the summary-only build of the same round, companion points and bytes
per document (``first_stages_writes.txt``).

Run: ``python benchmarks/first_stages.py --out docs/img [--engine edge]`` (needs the
caches that ``funnel.py`` / ``needle.py`` fill; writes ``first_stages_table.txt``,
``first_stages.json``, ``first_stages.png`` and, with Edge, ``first_stages_edge.txt``;
the exact token neighbours are computed once and cached: about 15 minutes on 2 cores the
first time, then about 2).
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
import funnel as F
import needle as N

from qdrant_tokenpool import pool_batch
from qdrant_tokenpool.candidates import (
    DEFAULT_CANDIDATES,
    DEFAULT_NEIGHBOURS,
    DEFAULT_POOL_FACTOR,
    coarse_rows,
    rank_candidates,
)
from qdrant_tokenpool.eval.encoding import encode_cached
from qdrant_tokenpool.firststage import MuveraParams, document_summaries, query_summary
from qdrant_tokenpool.maxsim import PackedDocs
from qdrant_tokenpool.pooling.spec import as_spec


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def coarse_key(c: int, k: int, n: int) -> str:
    return f"tokens-c{c}-{k}" + (f"-n{n}" if n else "")


def pruned_candidates(nb: list[tuple[np.ndarray, np.ndarray]], k: int, n: int) -> list[np.ndarray]:
    """The documents of each query token's ``k`` nearest vectors, ranked by
    :func:`qdrant_tokenpool.candidates.rank_candidates` (the library's own ranking), the
    best ``n`` (0: all)."""
    return [np.array(rank_candidates(d[:, :k], s[:, :k], n or None), dtype=np.int64) for d, s in nb]


def cached_neighbours(data: F.Data, name: str, docs: PackedDocs, factor: int, kmax: int,
                      **parts: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`funnel.scored_token_neighbours` (``kmax`` per query token) among ``docs``'
    vectors pooled again by ``factor`` (:func:`qdrant_tokenpool.candidates.coarse_rows`), cached
    in the evaluation cache as ``first-stages-{name}-{key of parts}.npz``."""
    path = data.cache / f"first-stages-{name}-{F._key(data, **parts)}.npz"
    n_q = len(data.queries)
    if path.exists():
        z = np.load(path)
        return [(z[f"q{i}"], z[f"s{i}"]) for i in range(n_q)]
    t0 = time.perf_counter()
    packed = docs if factor == 1 else PackedDocs.from_list(coarse_rows(factor, docs.items()))
    out = F.scored_token_neighbours(data.queries.items(), packed, kmax)
    np.savez(path, **{f"q{i}": x for i, (x, _) in enumerate(out)},
             **{f"s{i}": y for i, (_, y) in enumerate(out)})
    F.log(f"{name} c={factor}: {len(packed.tokens)} vectors, neighbours in {time.perf_counter() - t0:.0f} s")
    return out


def coarse_multivectors(pooled: list[np.ndarray], n: int) -> list[np.ndarray]:
    """Each document's pooled ``(m_i, d)`` vectors Ward-pooled again (hierarchical, no
    protected rows) to at most ``n`` unit vectors (``max_vectors``; a document of ``n`` or
    fewer keeps its own): the coarse multivector, a MaxSim first stage."""
    return pool_batch(pooled, 1, method="hierarchical", protected_tokens=0, max_vectors=n)


def coarse_scores(data: F.Data, docs: list[np.ndarray]) -> np.ndarray:
    """Exact MaxSim (Cosine) of every query over ``docs``: float32 ``(n_queries, n_docs)``."""
    return PackedDocs.from_list(docs, normalize=True).scores_batch(data.queries.items())


BM25_K1, BM25_B = 1.2, 0.75
"""BM25's term-frequency saturation and length normalisation (fastembed's ``Bm25`` and
Qdrant's ``qdrant/bm25`` defaults)."""


def bm25_scores(tokenizer: Any, docs: list[str], queries: list[str]) -> tuple[np.ndarray, float]:
    """Lexical sparse first stage, as Qdrant scores it: ``(scores (n_queries, n_docs)
    float32, mean non-zeros per document)``. Terms are the ids of ``tokenizer`` (the
    encoder's WordPiece, no special tokens, no truncation); a document's weight of term
    ``t`` is BM25's ``tf (k1 + 1) / (tf + k1 (1 - b + b len / avglen))`` (``avglen``: the
    corpus's mean length); a query's terms weigh 1, times Qdrant's ``Modifier.IDF``
    ``ln((N - df + 0.5) / (df + 0.5) + 1)`` over these ``N`` documents."""
    from scipy import sparse

    def matrix(texts: list[str], bm25: bool) -> sparse.csr_matrix:
        ids = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        rows = np.repeat(np.arange(len(ids)), [len(x) for x in ids])
        tf = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, np.concatenate(ids))),
                               shape=(len(ids), len(tokenizer)))
        tf.sum_duplicates()
        if not bm25:
            tf.data[:] = 1.0
            return tf
        lengths = np.array([len(x) for x in ids], np.float32)
        norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths / lengths.mean())
        tf.data = tf.data * (BM25_K1 + 1) / (tf.data + np.repeat(norm, np.diff(tf.indptr)))
        return tf

    d = matrix(docs, True)
    df = np.bincount(d.indices, minlength=d.shape[1])
    idf = np.log((len(docs) - df + 0.5) / (df + 0.5) + 1).astype(np.float32)
    q = matrix(queries, False).multiply(idf[None, :]).tocsr()
    return np.asarray((q @ d.T).todense(), dtype=np.float32), float(d.nnz / len(docs))


RRF_K = 2
"""Qdrant's ``Fusion.RRF`` constant: a point at 0-based position ``p`` of a prefetch adds
``1 / (p + k)`` (the RRF paper's 60 is ``k=61`` here, ``models.Rrf(k=61)``)."""


def rrf_candidates(rankings: list[np.ndarray], limit: int, k: int = RRF_K) -> np.ndarray:
    """Reciprocal rank fusion of prefetch rankings (best first), as Qdrant's
    ``Fusion.RRF``: the best ``limit`` by their summed ``1 / (position + k)``, ties in
    order of first appearance."""
    score: dict[int, float] = {}
    for ranking in rankings:
        for pos, j in enumerate(ranking.tolist()):
            score[j] = score.get(j, 0.0) + 1.0 / (pos + k)
    return np.array(sorted(score, key=score.__getitem__, reverse=True)[:limit], dtype=np.int64)


def fused_candidates(dense: np.ndarray, lexical: np.ndarray, prefetch: int, k: int) -> list[np.ndarray]:
    """Per query: the dense and the sparse first stage's top ``prefetch`` each, fused by
    :func:`rrf_candidates` into the best ``prefetch``."""
    tops = [np.argsort(-m, axis=1, kind="stable")[:, :prefetch] for m in (dense, lexical)]
    return [rrf_candidates([t[qi] for t in tops], prefetch, k) for qi in range(len(dense))]


def adaptive_candidates(first: np.ndarray, pooled: np.ndarray, start: int, cap: int,
                        top: int = 10) -> tuple[list[np.ndarray], list[int]]:
    """Adaptive prefetch: per query the first stage's top ``start``, doubled (capped at
    ``cap``) until pooled MaxSim's top ``top`` is the same in two rounds in a row: ``(the
    last round's candidates, the candidates rescored in all rounds)``."""
    cands, rescored = [], []
    for qi in range(len(first)):
        order = np.argsort(-first[qi], kind="stable")
        p, total = start, start
        best = set(F.rank(F.Shape("adaptive", p, 0, None), qi, first, pooled, pooled, top)[0].tolist())
        while p < cap:
            p = min(2 * p, cap)
            total += p
            now = set(F.rank(F.Shape("adaptive", p, 0, None), qi, first, pooled, pooled, top)[0].tolist())
            if now == best:
                break
            best = now
        cands.append(order[:p])
        rescored.append(total)
    return cands, rescored


def new_stages(firsts: dict[str, Any], pooled: np.ndarray, a: Any,
               notes: dict[str, float]) -> dict[str, tuple[Any, int | None]]:
    """The first stages of ``firsts`` beyond the mean, MUVERA and token-level ones, as
    ``key: (scores or candidates per query, prefetch)``: the coarse multivectors
    (``cmv{n}``) top ``--coarse-mv-top``, the larger MUVERA encodings and BM25 top-100,
    BM25 fused with the mean summary by RRF (``rrf{k}``), the adaptive prefetch (its mean
    candidates rescored in all rounds and in the last: ``notes["adaptive_rescored"]``,
    ``notes["adaptive_candidates"]``)."""
    out: dict[str, tuple[Any, int | None]] = {}
    for n in a.coarse_mv:
        out.update({f"cmv{n}-{t}": (firsts[f"cmv{n}"], t) for t in a.coarse_mv_top})
    out.update({name: (firsts[name], 100) for name in firsts if name.startswith("muvera-")})
    if a.rrf_ks:
        out["bm25"] = (firsts["bm25"], 100)
    for k in a.rrf_ks:
        out[f"rrf{k}"] = (fused_candidates(firsts["mean"], firsts["bm25"], 100, k), None)
    if a.adaptive_cap:
        cands, rescored = adaptive_candidates(firsts["mean"], pooled, 100, a.adaptive_cap)
        out["adaptive"] = (cands, None)
        notes["adaptive_rescored"] = float(np.mean(rescored))
        notes["adaptive_candidates"] = float(np.mean([len(c) for c in cands]))
    return out


def new_labels(big_muvera: dict[str, MuveraParams], dim: int, a: Any) -> dict[str, str]:
    """The table's names of :func:`new_stages`' keys."""
    return {
        **{f"cmv{n}-{t}": f"coarse multivector <= {n} vectors, top-{t}"
           for n in a.coarse_mv for t in a.coarse_mv_top},
        **{name: f"MUVERA {name[len('muvera-'):]} ({p.output_dim(dim):,} d) top-100"
           for name, p in big_muvera.items()},
        "bm25": "BM25 sparse top-100",
        **{f"rrf{k}": f"mean summary + BM25, RRF k={k}, top-100" for k in a.rrf_ks},
        "adaptive": f"mean summary, adaptive prefetch 100-{a.adaptive_cap}",
    }


def coarse_floats(lengths: np.ndarray, c: int, dim: int) -> float:
    """Mean floats per document of the coarse token index ``xc`` (its vectors x ``dim``)."""
    spec = as_spec(c, method="hierarchical", protected_tokens=0)
    return float(np.mean([spec.stored_vectors(int(n), dim) for n in lengths]) * dim)


def muvera_params(text: str) -> MuveraParams:
    """``"r_reps=40,k_sim=6"``: MUVERA parameters, the rest MUVERA's defaults."""
    return MuveraParams(**{k: int(v) for k, v in (part.split("=") for part in text.split(","))})


def parse_config(text: str) -> dict[str, Any]:
    """``"c4,m=8,ef=32"``: the companion's pool factor (``c``), HNSW ``m`` and
    ``ef_construct`` (missing: the token index's default, ``candidates.DEFAULT_HNSW``)."""
    out: dict[str, Any] = {"c": 1, "m": None, "ef": None}
    for part in text.split(","):
        if part.startswith("c") and "=" not in part:
            out["c"] = int(part[1:])
        else:
            key, value = part.split("=")
            out[key] = int(value)
    return out


def config_label(cfg: dict[str, Any]) -> str:
    hnsw = ("default HNSW" if cfg["m"] is None else f"m={cfg['m']}, ef_construct={cfg['ef']}")
    return f"x{cfg['c']}, {hnsw}"


def write_pooled(client: Any, name: str, pooled: list[np.ndarray], summaries: list[np.ndarray]) -> None:
    """SciFact's pooled vectors and summaries given as they are (pooling off: the store's
    cost only), 64 documents per ``upsert``."""
    from qdrant_client import models

    with client.pooling_disabled():
        for lo in range(0, len(pooled), 64):
            client.upsert(name, [
                models.PointStruct(id=i, vector={"colbert": pooled[i], "summary": summaries[i]})
                for i in range(lo, min(lo + 64, len(pooled)))
            ])


def edge_build(client: Any, folder: Path, data: F.Data, pf: int, name: str,
               cfg: dict[str, Any] | None, quantization: str | None,
               docs: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
               candidates: int = 0) -> dict[str, Any]:
    """Write SciFact's pooled vectors (pooling off: the store's cost only, 64 per upsert;
    ``docs``: other documents, ``(pooled, full resolution)`` lists, point ``i`` the
    ``i``-th) into a new collection ``name`` of ``client`` (Qdrant Edge in ``folder``),
    with the token index of ``cfg`` (``None``: the summary only; its candidate cap
    ``candidates``, 0: all), then ``optimize``: seconds of the write, of the companion's
    HNSW build and of the whole optimize, the companion's points and bytes."""
    from qdrant_client import models

    from qdrant_tokenpool import PoolingConfig
    from qdrant_tokenpool.ops import add_token_index

    pooled, fulls = docs or (F.pooled_corpus(data, pf).items(), data.corpus.items())
    summaries = document_summaries("mean", fulls)
    mv = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
    client.create_collection(
        name,
        {"colbert": models.VectorParams(size=data.corpus.dim, distance=models.Distance.COSINE,
                                        multivector_config=mv, hnsw_config=models.HnswConfigDiff(m=0))},
        pooling={"colbert": PoolingConfig(pool_factor=pf, summary_vector="summary")},
    )
    if cfg is not None:
        hnsw = (None if cfg["m"] is None
                else models.HnswConfigDiff(m=cfg["m"], ef_construct=cfg["ef"]))
        add_token_index(client, name, quantization=quantization, hnsw_config=hnsw,
                        pool_factor=cfg["c"], candidates=candidates)
    t0 = time.perf_counter()
    write_pooled(client, name, pooled, summaries)
    t1 = time.perf_counter()
    if cfg is not None and client.engine == "edge":  # the companion's HNSW build alone
        client.optimize(f"{name}--tokenpool-tokens")  # (client.optimize does both)
    t2 = time.perf_counter()
    client.optimize(name)
    t3 = time.perf_counter()
    b: dict[str, Any] = {"label": "summary only" if cfg is None else config_label(cfg),
                         "write_s": t1 - t0, "optimize_s": t3 - t1,
                         "companion_optimize_s": t2 - t1}
    comp = next((p for p in folder.rglob("*")
                 if p.is_dir() and p.name == f"{name}--tokenpool-tokens"), None)
    if comp is not None:
        b["companion_bytes"] = _dir_bytes(comp)
        try:
            b["points"] = client.count(f"{name}--tokenpool-tokens").count
        except Exception:  # noqa: BLE001 - a figure only
            b["points"] = None
    F.log(f"edge: {b['label']}: write {t1 - t0:.0f} s, optimize {t3 - t1:.0f} s "
          f"(companion {t2 - t1:.0f} s)")
    return b


def needle_corpus(data: F.Data, pf: int, full: np.ndarray) -> dict[str, Any]:
    """``needle.py``'s corpus (seed 0, hosts of <= 150 words) at pool factor ``pf``:
    ``tokens`` (the needle documents' full-resolution vectors), ``distractors`` (their
    SciFact rows), ``pooled`` (the needle documents pooled), ``corpus`` (the pooled
    corpus: distractors, then one needle document per query), ``full`` (full MaxSim
    scores, queries x corpus; ``full``: SciFact's), ``target`` (each query's needle
    column), ``full_top10`` (whether full MaxSim ranks it in its top 10),
    ``full_r10`` (their mean: full MaxSim's needle recall@10) and ``texts`` (the corpus's
    texts, in its order)."""
    nd = N.build(data, 0, 150)
    needle_tok, _, _ = encode_cached(data.encoder, "documents", nd["ids"], nd["texts"], data.cache)
    dis = np.array(nd["distractors"])
    needle_pooled = pool_batch(needle_tok.items(), pf, method="hierarchical", protected_tokens=1)
    pooled_items = F.pooled_corpus(data, pf).items()
    ncorpus = PackedDocs.from_list([pooled_items[i] for i in dis] + list(needle_pooled))
    n_full = np.concatenate([full[:, dis], F.maxsim_matrix(data, needle_tok)], axis=1)
    target = len(dis) + np.arange(len(data.queries))
    full_top10 = [target[qi] in np.argsort(-n_full[qi], kind="stable")[:10] for qi in range(len(target))]
    return {"tokens": needle_tok, "distractors": dis, "pooled": needle_pooled, "corpus": ncorpus,
            "full": n_full, "target": target, "full_top10": full_top10,
            "full_r10": float(np.mean(full_top10)),
            "texts": [data.ds.documents[i] for i in dis] + nd["texts"]}


def edge_runs(data: F.Data, pf: int, configs: list[dict[str, Any]], ks: dict[int, list[int]],
              prune: list[int], n_queries: int, replay: dict[str, list], quantization: str | None) -> dict[str, Any]:
    """Build SciFact on Qdrant Edge once without and once per companion config with the
    token index, time writes, optimize and queries of every first stage."""
    from qdrant_client import models

    from qdrant_tokenpool import TokenPoolingClient

    folder = Path(tempfile.mkdtemp(prefix="first-stages-"))
    client = TokenPoolingClient(path=str(folder), engine="edge")
    out: dict[str, Any] = {"ms": {}, "agreement": {}, "builds": {}, "docs": len(data.corpus)}
    builds: list[tuple[str, dict[str, Any] | None]] = [("summary", None)]
    builds += [(f"tokens{i}", cfg) for i, cfg in enumerate(configs)]
    for name, cfg in builds:
        out["builds"][name] = edge_build(client, folder, data, pf, name, cfg, quantization)
    queries = data.queries.items()[:n_queries]
    beam = models.SearchParams(hnsw_ef=100)  # Qdrant's default
    runs: dict[str, tuple[str, dict[str, Any]]] = {
        "plain": ("summary", {"summary": False}),
        "mean": ("summary", {"first_stage": "summary", "prefetch_limit": 100}),
    }
    for i, cfg in enumerate(configs):
        for k in ks[cfg["c"]]:
            for n in (prune if cfg["c"] > 1 else [0]):
                key = f"tokens-{k}" if cfg["c"] == 1 else coarse_key(cfg["c"], k, n)
                runs[f"{key} [{config_label(cfg)}]"] = (
                    f"tokens{i}", {"first_stage": "tokens", "neighbours": k, "prefetch_limit": n})
        if cfg["c"] == 1:  # Qdrant's default beam, for comparison
            k = 10 if 10 in ks[1] else ks[1][0]
            runs[f"tokens-{k} [{config_label(cfg)}] hnsw_ef=100"] = (
                f"tokens{i}", {"first_stage": "tokens", "neighbours": k, "search_params": beam,
                               "prefetch_limit": 0})
    for label, (name, kw) in runs.items():
        for q in queries[:2]:
            client.query_late_interaction(name, q, limit=10, with_payload=False, **kw)
        times, ids = [], []
        for q in queries:
            t0 = time.perf_counter()
            resp = client.query_late_interaction(name, q, limit=10, with_payload=False, **kw)
            times.append(time.perf_counter() - t0)
            ids.append([int(p.id) for p in resp.points])
        out["ms"][label] = 1000 * statistics.median(times)
        want = replay.get(label.split(" ")[0])
        if want:
            out["agreement"][label] = float(np.mean(
                [len(set(a) & set(b)) / max(1, len(b)) for a, b in zip(ids, want)]))
        F.log(f"edge: {label}: {out['ms'][label]:.1f} ms")
    client.close()
    shutil.rmtree(folder, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=F.DEFAULT_DATA)
    ap.add_argument("--model", default=None)
    ap.add_argument("--pf", type=int, default=2)
    ap.add_argument("--ks", type=int, nargs="+", default=[5, 10, 20])
    ap.add_argument("--coarse", type=int, nargs="*", default=[2, 4, 8],
                    help="companion pool factors over the pooled vectors (coarse token index)")
    ap.add_argument("--coarse-ks", type=int, nargs="+", default=[20, 40])
    ap.add_argument("--prune", type=int, nargs="+", default=[0, 100, 200],
                    help="coarse rows: rescore only the top N candidates by their first-stage "
                         "score (0: all)")
    ap.add_argument("--coarse-mv", type=int, nargs="*", default=[8, 16],
                    help="coarse multivector rows: each document's pooled vectors Ward-pooled "
                         "to at most N, MaxSim over them (brute force)")
    ap.add_argument("--coarse-mv-top", type=int, nargs="+", default=[100, 150, 200],
                    help="coarse multivector rows: candidates rescored by pooled MaxSim")
    ap.add_argument("--rrf-ks", type=int, nargs="*", default=[RRF_K],
                    help="lexical sparse (BM25) fused with the mean summary by RRF with these k "
                         "(Qdrant's formula; none: no sparse rows)")
    ap.add_argument("--muvera", nargs="*", default=["r_reps=40", "k_sim=6"],
                    help="larger MUVERA encodings (MuveraParams fields, e.g. r_reps=40,k_sim=6)")
    ap.add_argument("--adaptive-cap", type=int, default=800,
                    help="adaptive prefetch on the mean summary: 100, doubled up to this (0: none)")
    ap.add_argument("--engine", choices=["none", "edge"], default="none")
    ap.add_argument("--time-queries", type=int, default=30)
    ap.add_argument("--configs", nargs="+", default=["c1,m=16,ef=100", "c1", "c2", "c4"],
                    help="companion configs built on Edge: pool factor cN, HNSW m= and ef= "
                         "(e.g. c4,m=8,ef=32; no m: the engine's default HNSW)")
    ap.add_argument("--edge-ks", type=int, nargs="*", default=None,
                    help="neighbours timed on Edge (default: --ks for c1, --coarse-ks otherwise)")
    ap.add_argument("--quantization", default="int8", choices=["int8", "none"])
    ap.add_argument("--writes-only", action="store_true",
                    help="only the store-only Edge builds (summary only and each --configs), "
                         "--rounds times in turn; writes first_stages_writes.txt")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    t_start = time.perf_counter()
    pf, kmax = a.pf, max(a.ks)
    ckmax = max(a.coarse_ks)
    data = F.load_data(a.data, a.model)
    if a.writes_only:
        return writes_only(data, a)
    qs = data.queries.items()
    n_q = len(qs)

    # -- SciFact ------------------------------------------------------------------------
    full = F.cached_matrix(data, "full", lambda: F.maxsim_matrix(data, data.corpus))
    pooled = F.cached_matrix(data, f"pooled{pf}", lambda: F.maxsim_matrix(data, F.pooled_corpus(data, pf)))
    firsts: dict[str, Any] = {
        "mean": F.cached_matrix(data, "first-mean", lambda: F.first_stage_scores(data, "mean", None)),
        "muvera": F.cached_matrix(data, "first-muvera",
                                  lambda: F.first_stage_scores(data, "muvera", F.MUVERA_VARIANTS["muvera"]),
                                  params=F.MUVERA_VARIANTS["muvera"].to_dict()),
    }
    big_muvera = {f"muvera-{t}": muvera_params(t) for t in a.muvera}
    for name, params in big_muvera.items():
        firsts[name] = F.cached_matrix(data, f"first-{name}",
                                       lambda p=params: F.first_stage_scores(data, "muvera", p),
                                       params=params.to_dict())
    pooled_items = F.pooled_corpus(data, pf).items()
    for n in a.coarse_mv:
        firsts[f"cmv{n}"] = F.cached_matrix(
            data, f"first-coarse-mv{n}", lambda n=n: coarse_scores(data, coarse_multivectors(pooled_items, n)),
            pool_factor=pf, max_vectors=n)
    if a.rrf_ks:  # the encoder's own tokenizer (MiniLM's WordPiece)
        firsts["bm25"], sparse_nnz = bm25_scores(data.encoder.tokenizer, data.ds.documents,
                                                 data.ds.query_texts)
    nb_path = data.cache / f"first-stages-neighbours-{F._key(data, pf=pf, k=kmax)}.npz"
    if nb_path.exists():
        z = np.load(nb_path)
        nb = [z[f"q{i}"] for i in range(n_q)]
    else:
        t0 = time.perf_counter()
        nb = F.token_neighbours(qs, F.pooled_corpus(data, pf), kmax)
        np.savez(nb_path, **{f"q{i}": x for i, x in enumerate(nb)})
        F.log(f"SciFact token neighbours in {time.perf_counter() - t0:.0f} s")
    coarse_nb = {c: cached_neighbours(data, "coarse-scored", F.pooled_corpus(data, pf), c, ckmax,
                                      pf=pf, c=c, k=ckmax) for c in a.coarse}
    coarse_keys = [(c, k, n) for c in a.coarse for k in a.coarse_ks for n in a.prune]
    notes: dict[str, float] = {}
    stages: dict[str, tuple[Any, int | None]] = {
        "plain": (None, None), "mean": (firsts["mean"], 100), "muvera": (firsts["muvera"], 100),
        **{f"tokens-{k}": (F.token_candidates(nb, k), None) for k in a.ks},
        **{coarse_key(c, k, n): (pruned_candidates(coarse_nb[c], k, n), None)
           for c, k, n in coarse_keys},
        **new_stages(firsts, pooled, a, notes),
    }
    labels = {"plain": f"none (plain pooled pf={pf})", "mean": "mean summary top-100",
              "muvera": "MUVERA top-100", **{f"tokens-{k}": f"token-level, k={k}" for k in a.ks},
              **{coarse_key(c, k, n): f"coarse token-level x{c}, k={k}" + (f", top {n}" if n else "")
                 for c, k, n in coarse_keys},
              **new_labels(big_muvera, data.corpus.dim, a)}
    lengths = F.pooled_corpus(data, pf).lengths
    extra = {"plain": 0.0, "mean": float(data.corpus.dim),
             "muvera": float(F.MUVERA_VARIANTS["muvera"].output_dim(data.corpus.dim)),
             **{f"tokens-{k}": float(lengths.mean() * data.corpus.dim) for k in a.ks},
             **{coarse_key(c, k, n): coarse_floats(lengths, c, data.corpus.dim) for c, k, n in coarse_keys},
             **{f"cmv{n}-{t}": float(np.minimum(lengths, n).mean() * data.corpus.dim)
                for n in a.coarse_mv for t in a.coarse_mv_top},
             **{name: float(p.output_dim(data.corpus.dim)) for name, p in big_muvera.items()},
             **({"bm25": 2 * sparse_nnz} if a.rrf_ks else {}),
             **{f"rrf{k}": data.corpus.dim + 2 * sparse_nnz for k in a.rrf_ks},
             **({"adaptive": float(data.corpus.dim)} if a.adaptive_cap else {})}
    rows: dict[str, dict[str, Any]] = {}
    replay: dict[str, list] = {}
    base = None
    for key, (first, prefetch) in stages.items():
        shape = F.Shape(None if first is None else key, prefetch, pf, None)
        res = F.evaluate(data, shape, first, pooled, full)
        if base is None:
            base = res
        qids = sorted(base["per_query"])
        delta = F.paired_bootstrap([base["per_query"][q] for q in qids], [res["per_query"][q] for q in qids])
        ncand = (float(np.mean([len(c) for c in first])) if isinstance(first, list)
                 else (prefetch or len(data.corpus)))
        rows[key] = {"stage": labels[key], "ndcg": res[F.NDCG], "vs_plain": res[F.NDCG] / base[F.NDCG],
                     "delta_ci": delta, "first_recall": res["candidate_recall"], "candidates": ncand,
                     "extra_floats": extra[key]}
        replay[key] = [[int(j) for j in F.rank(shape, qi, first, pooled, full, 10)[0]]
                       for qi in range(min(a.time_queries, n_q))]
        F.log(f"SciFact {labels[key]}: nDCG@10 {res[F.NDCG]:.4f}, candidates {ncand:.0f}")

    # -- needles --------------------------------------------------------------------------
    nc = needle_corpus(data, pf, full)
    needle_tok, dis, needle_pooled, ncorpus = nc["tokens"], nc["distractors"], nc["pooled"], nc["corpus"]
    n_full, target, full_top10, full_r10 = nc["full"], nc["target"], nc["full_top10"], nc["full_r10"]
    n_pooled = np.concatenate([pooled[:, dis], F.maxsim_matrix(data, PackedDocs.from_list(needle_pooled))], axis=1)
    n_first = {}
    for name, method, params in (("mean", "mean", None), ("muvera", "muvera", F.MUVERA_VARIANTS["muvera"]),
                                 *((name, "muvera", p) for name, p in big_muvera.items())):
        qv = np.stack([query_summary(method, q, muvera=params, normalize=True) for q in qs])
        fresh = qv @ document_summaries(method, needle_tok.items(), muvera=params, normalize=True).T
        n_first[name] = np.concatenate([firsts[name][:, dis], fresh], axis=1)
    for n in a.coarse_mv:
        fresh = coarse_scores(data, coarse_multivectors(needle_pooled, n))
        n_first[f"cmv{n}"] = np.concatenate([firsts[f"cmv{n}"][:, dis], fresh], axis=1)
    if a.rrf_ks:  # IDF and mean length of the needle corpus itself
        n_first["bm25"], _ = bm25_scores(data.encoder.tokenizer, nc["texts"], data.ds.query_texts)
    n_notes: dict[str, float] = {}
    needle_key = {"pf": pf, "needle_seed": 0, "host_words": 150}
    n_nb = [d for d, _ in cached_neighbours(data, "needle-scored", ncorpus, 1, kmax, k=kmax, **needle_key)]
    n_coarse_nb = {c: cached_neighbours(data, "needle-coarse-scored", ncorpus, c, ckmax,
                                        c=c, k=ckmax, **needle_key) for c in a.coarse}
    n_stages = {"plain": (None, None), "mean": (n_first["mean"], 100), "muvera": (n_first["muvera"], 100),
                **{f"tokens-{k}": (F.token_candidates(n_nb, k), None) for k in a.ks},
                **{coarse_key(c, k, n): (pruned_candidates(n_coarse_nb[c], k, n), None)
                   for c, k, n in coarse_keys},
                **new_stages(n_first, n_pooled, a, n_notes)}
    for key, (first, prefetch) in n_stages.items():
        shape = F.Shape(None if first is None else key, prefetch, pf, None)
        hits, kept, kept_full = [], [], []
        for qi in range(n_q):
            ranking, cand = F.rank(shape, qi, first, n_pooled, n_full, 10)
            hits.append(target[qi] in ranking)
            inside = first is None or target[qi] in set(cand[:prefetch].tolist())
            kept.append(inside)
            if full_top10[qi]:
                kept_full.append(inside)
        rows[key].update({"needle_r10": float(np.mean(hits)), "needle_vs_full": float(np.mean(hits)) / full_r10,
                          "needle_first_recall": float(np.mean(kept)),
                          "needle_kept_of_full_top10": float(np.mean(kept_full))})
        F.log(f"needle {labels[key]}: recall@10 {np.mean(hits):.3f}, first-stage {np.mean(kept):.3f}")

    # -- Qdrant Edge ----------------------------------------------------------------------
    edge = None
    if a.engine == "edge":
        configs = [parse_config(t) for t in a.configs]
        ks = {c: (a.ks if c == 1 else a.coarse_ks) for c in {cfg["c"] for cfg in configs}}
        if a.edge_ks:
            ks = {c: a.edge_ks for c in ks}
        edge = edge_runs(data, pf, configs, ks, a.prune, a.time_queries, replay,
                         None if a.quantization == "none" else a.quantization)
        for key in ("plain", "mean"):
            rows[key]["edge_ms"] = edge["ms"][key]
            rows[key]["edge_agreement"] = edge["agreement"].get(key)

    if "adaptive" in rows:
        rows["adaptive"]["rescored"] = notes["adaptive_rescored"]
        rows["adaptive"]["needle_rescored"] = n_notes["adaptive_rescored"]
        rows["adaptive"]["needle_candidates"] = n_notes["adaptive_candidates"]
    load = os.getloadavg()
    a.wall_s = time.perf_counter() - t_start
    text = report(rows, data, n_q, full_r10, a, load)
    sys.stdout.write(text + ("" if edge is None else "\n" + edge_report(edge, a)))
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "first_stages_table.txt").write_text(text)
        if edge is not None:
            (a.out / "first_stages_edge.txt").write_text(edge_report(edge, a))
        (a.out / "first_stages.json").write_text(json.dumps(
            {"rows": rows, "edge": edge, "load": load, "time": time.strftime("%Y-%m-%d %H:%M"),
             "args": {k: str(v) for k, v in vars(a).items()}}, indent=1, default=str))
        plot(rows, a.out / "first_stages.png")
    return 0


def report(rows: dict[str, dict[str, Any]], data: F.Data, n_q: int, full_r10: float,
           a: Any, load: tuple[float, ...]) -> str:
    head = ["first stage", "SciFact nDCG@10", "% of plain pooled", "Δ vs plain [95% CI]",
            "first-stage recall", "candidates/query", "needle recall@10", "% of full MaxSim",
            "needle first-stage recall", "keeps full top-10 needles", "extra floats/doc"]
    lines = [
        f"SciFact test ({len(data.corpus)} documents, {n_q} queries) and the needle corpus "
        f"(needle.py), pooled pf={a.pf}, exact replay (exact nearest token vectors for the "
        f"token-level rows; 'coarse xC': the companion holds each document's pooled vectors "
        f"pooled again by C; 'coarse multivector <= N': each document's pooled vectors "
        f"Ward-pooled to at most N, brute-force MaxSim; BM25 over the encoder's WordPiece ids "
        f"with Qdrant's IDF, RRF as Qdrant's 1/(position + k), k=2 its default; 'extra "
        f"floats/doc': the first stage's stored numbers per document beyond the pooled "
        f"multivector, sparse: index + weight per term); full MaxSim needle recall@10 "
        f"{full_r10:.3f}. Run: {a.wall_s:.0f} s. Load average at the end: "
        + ", ".join(f"{x:.2f}" for x in load),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows.values():
        ci = r["delta_ci"]
        cells = [r["stage"], f"{r['ndcg']:.4f}", f"{r['vs_plain']:.1%}",
                 f"{ci[0]:+.4f} [{ci[1]:+.4f}, {ci[2]:+.4f}]", f"{r['first_recall']:.3f}",
                 f"{r['candidates']:.0f}", f"{r['needle_r10']:.3f}", f"{r['needle_vs_full']:.1%}",
                 f"{r['needle_first_recall']:.3f}", f"{r['needle_kept_of_full_top10']:.1%}",
                 f"{r['extra_floats']:,.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if "adaptive" in rows:
        r = rows["adaptive"]
        lines += ["", (f"Adaptive prefetch: candidates/query is the last round's prefetch "
                       f"(needle queries: {r['needle_candidates']:.0f}); rescored in all rounds "
                       f"(each round a new query): {r['rescored']:.0f} per SciFact query, "
                       f"{r['needle_rescored']:.0f} per needle query.")]
    return "\n".join(lines) + "\n"


def edge_report(edge: dict[str, Any], a: Any) -> str:
    """The Edge query timings of ``--engine edge`` as a markdown table (the builds' times
    are in the JSON; their table: ``--writes-only``), ``first_stages_edge.txt``."""
    lines = [(f"Qdrant Edge `query_late_interaction`, median ms of {a.time_queries} "
              "queries (limit 10; token rows: hnsw_ef 32 unless stated); 'top-10 = replay': "
              "the share of Edge's top 10 that the exact replay returns too:"), "",
             "| query | ms | speed-up vs plain pooled | top-10 = replay |", "|---|---|---|---|"]
    plain = edge["ms"]["plain"]
    for label, ms in edge["ms"].items():
        ag = edge["agreement"].get(label)
        lines.append(f"| {label} | {ms:.1f} | {plain / ms:.1f}x | "
                     + ("" if ag is None else f"{ag:.3f}") + " |")
    return "\n".join(lines) + "\n"


def write_table(builds: dict[str, dict[str, Any]], docs: int) -> list[str]:
    """The Edge builds of ``--writes-only`` (:func:`edge_build`, keyed ``"name #r"``: round
    ``r``) as a markdown table, throughput against the summary-only build of the same
    round."""
    lines = [(f"Qdrant Edge, the {docs} SciFact documents written with pooled "
              "vectors given (pooling off: the store's cost only), 64 per upsert, then "
              "optimize (HNSW builds):"), "",
             "| index | companion points | write s | optimize s (companion's) | store throughput vs summary only | extra bytes/doc |",
             "|---|---|---|---|---|---|"]
    for key, b in builds.items():
        _, space, round_ = key.partition(" ")
        base = builds["summary" + space + round_]
        base_s = base["write_s"] + base["optimize_s"]
        total = b["write_s"] + b["optimize_s"]
        extra = b.get("companion_bytes")
        lines.append(f"| {b['label']}{space}{round_} | {b.get('points', '')} | "
                     f"{b['write_s']:.0f} | {b['optimize_s']:.0f} ({b['companion_optimize_s']:.0f}) | "
                     f"{base_s / total:.2f}x | " + ("" if extra is None else f"{extra / docs:,.0f}") + " |")
    return lines


def writes_only(data: F.Data, a: Any) -> int:
    """``--writes-only``: the store-only builds of ``edge_runs`` alone (summary only, then
    each ``--configs``), ``--rounds`` times in turn, no quality, no queries."""
    from qdrant_tokenpool import TokenPoolingClient

    builds: dict[str, dict[str, Any]] = {}
    quantization = None if a.quantization == "none" else a.quantization
    for r in range(1, a.rounds + 1):
        folder = Path(tempfile.mkdtemp(prefix="first-stages-writes-"))
        client = TokenPoolingClient(path=str(folder), engine="edge")
        try:
            for i, cfg in enumerate([None, *(parse_config(t) for t in a.configs)]):
                name = "summary" if cfg is None else f"tokens{i - 1}"
                builds[f"{name} #{r}"] = edge_build(client, folder, data, a.pf, name, cfg, quantization)
        finally:
            client.close()
            shutil.rmtree(folder, ignore_errors=True)
    load = os.getloadavg()
    text = "\n".join([*write_table(builds, len(data.corpus)), "",
                      "Load average at the end: " + ", ".join(f"{x:.2f}" for x in load)]) + "\n"
    sys.stdout.write(text)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "first_stages_writes.txt").write_text(text)
    return 0


def plot(rows: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=130)
    colors = {"tokens-c": "tab:purple", "tokens": "tab:green", "cmv": "tab:orange",
              "muvera": "tab:red", "bm25": "tab:brown", "rrf": "tab:brown", "adaptive": "tab:cyan",
              "mean": "tab:blue", "plain": "k"}
    star = coarse_key(DEFAULT_POOL_FACTOR, DEFAULT_NEIGHBOURS, DEFAULT_CANDIDATES)
    first = star not in rows  # today's default not replayed: the first default's row (k=40)
    if first:
        star = coarse_key(DEFAULT_POOL_FACTOR, 40, DEFAULT_CANDIDATES)
    # label offsets (points) where labels would overlap
    offsets = {"plain": (-4, -10), "tokens-10": (4, 2), "tokens-20": (4, 4), "bm25": (-4, 6),
               "rrf2": (4, -14), "cmv16-100": (-4, 6)}
    for key, r in rows.items():
        color = next(c for prefix, c in colors.items() if key.startswith(prefix))
        default = key == star
        ax.scatter(r["vs_plain"] * 100, r["needle_r10"], color=color, s=120 if default else 30,
                   marker="*" if default else "o", zorder=3 if default else 2)
        if (key.startswith("tokens-c") and not default) or (key.startswith("cmv") and not key.endswith("-100")):
            continue  # unlabelled: the coarse rows other than the default, coarse multivectors
            # other than their top-100
        dx, dy = offsets.get(key, (4, -10 if default else 4))
        ax.annotate(("first default: " if default and first else "default: " if default else "")
                    + r["stage"] + (f" ({r['edge_ms']:.0f} ms)" if r.get("edge_ms") else ""),
                    (r["vs_plain"] * 100, r["needle_r10"]), textcoords="offset points",
                    xytext=(dx, dy), fontsize=6, ha="right" if dx < 0 else "left")
    ax.axvline(99.5, color="0.5", linestyle="--", linewidth=0.8)
    ax.axhline(0.55, color="0.5", linestyle=":", linewidth=0.8)
    ax.set_xlabel("SciFact nDCG@10, % of plain pooled MaxSim")
    ax.set_ylabel("needle recall@10")
    ax.set_title("First stages at pf=2 (targets: dashed lines; purple: coarse token index, the "
                 f"star its {'first ' if first else ''}default;\norange: coarse multivector; "
                 "brown: BM25 / RRF; cyan: adaptive)", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
