"""First stages side by side, on the same data: SciFact nDCG@10 and the needle test.

For each first stage at pool factor 2 (mean summary top-100, MUVERA top-100, token-level
candidates with ``k`` neighbours per query token, coarse token-level candidates: the
companion holds each document's pooled vectors pooled again by ``C``, optionally only the
best ``N`` candidates by their first-stage score rescored; no first stage), one row with:

- SciFact test nDCG@10 and its share of plain pooled MaxSim, the first stage's recall of
  the relevant documents, candidates per query (exact replay, as ``funnel.py``);
- needle recall@10 (``needle.py``'s corpus), its share of full MaxSim's, the first
  stage's recall of the needle document, and the share of the needles that full MaxSim
  ranks in its top 10 that the first stage keeps (exact replay).

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
``first_stages.json`` and ``first_stages.png``).
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
from qdrant_tokenpool.maxsim import PackedDocs


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def coarse_key(c: int, k: int, n: int) -> str:
    return f"tokens-c{c}-{k}" + (f"-n{n}" if n else "")


def pruned_candidates(nb: list[tuple[np.ndarray, np.ndarray]], k: int, n: int) -> list[np.ndarray]:
    """The documents of each query token's ``k`` nearest vectors, ranked by
    :func:`qdrant_tokenpool.candidates.rank_candidates` (the library's own ranking), the
    best ``n`` (0: all)."""
    return [np.array(rank_candidates(d[:, :k], s[:, :k], n or None), dtype=np.int64) for d, s in nb]


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
    from qdrant_tokenpool.firststage import document_summaries
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
    column), ``full_top10`` (whether full MaxSim ranks it in its top 10) and
    ``full_r10`` (their mean: full MaxSim's needle recall@10)."""
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
            "full_r10": float(np.mean(full_top10))}


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
    nb_path = data.cache / f"first-stages-neighbours-{F._key(data, pf=pf, k=kmax)}.npz"
    if nb_path.exists():
        z = np.load(nb_path)
        nb = [z[f"q{i}"] for i in range(n_q)]
    else:
        t0 = time.perf_counter()
        nb = F.token_neighbours(qs, F.pooled_corpus(data, pf), kmax)
        np.savez(nb_path, **{f"q{i}": x for i, x in enumerate(nb)})
        F.log(f"SciFact token neighbours in {time.perf_counter() - t0:.0f} s")
    coarse_nb = {}
    for c in a.coarse:
        path = data.cache / f"first-stages-coarse-scored-{F._key(data, pf=pf, c=c, k=ckmax)}.npz"
        if path.exists():
            z = np.load(path)
            coarse_nb[c] = [(z[f"q{i}"], z[f"s{i}"]) for i in range(n_q)]
            continue
        t0 = time.perf_counter()
        coarse = PackedDocs.from_list(coarse_rows(c, F.pooled_corpus(data, pf).items()))
        coarse_nb[c] = F.scored_token_neighbours(qs, coarse, ckmax)
        np.savez(path, **{f"q{i}": x for i, (x, _) in enumerate(coarse_nb[c])},
                 **{f"s{i}": y for i, (_, y) in enumerate(coarse_nb[c])})
        F.log(f"SciFact coarse c={c}: {len(coarse.tokens)} vectors, neighbours in "
              f"{time.perf_counter() - t0:.0f} s")
    coarse_keys = [(c, k, n) for c in a.coarse for k in a.coarse_ks for n in a.prune]
    stages: dict[str, tuple[Any, int | None]] = {
        "plain": (None, None), "mean": (firsts["mean"], 100), "muvera": (firsts["muvera"], 100),
        **{f"tokens-{k}": (F.token_candidates(nb, k), None) for k in a.ks},
        **{coarse_key(c, k, n): (pruned_candidates(coarse_nb[c], k, n), None)
           for c, k, n in coarse_keys},
    }
    labels = {"plain": f"none (plain pooled pf={pf})", "mean": "mean summary top-100",
              "muvera": "MUVERA top-100", **{f"tokens-{k}": f"token-level, k={k}" for k in a.ks},
              **{coarse_key(c, k, n): f"coarse token-level x{c}, k={k}" + (f", top {n}" if n else "")
                 for c, k, n in coarse_keys}}
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
                     "delta_ci": delta, "first_recall": res["candidate_recall"], "candidates": ncand}
        replay[key] = [[int(j) for j in F.rank(shape, qi, first, pooled, full, 10)[0]]
                       for qi in range(min(a.time_queries, n_q))]
        F.log(f"SciFact {labels[key]}: nDCG@10 {res[F.NDCG]:.4f}, candidates {ncand:.0f}")

    # -- needles --------------------------------------------------------------------------
    nc = needle_corpus(data, pf, full)
    needle_tok, dis, needle_pooled, ncorpus = nc["tokens"], nc["distractors"], nc["pooled"], nc["corpus"]
    n_full, target, full_top10, full_r10 = nc["full"], nc["target"], nc["full_top10"], nc["full_r10"]
    n_pooled = np.concatenate([pooled[:, dis], F.maxsim_matrix(data, PackedDocs.from_list(needle_pooled))], axis=1)
    from qdrant_tokenpool.firststage import document_summaries, query_summary

    n_first = {}
    for name, method, params in (("mean", "mean", None), ("muvera", "muvera", F.MUVERA_VARIANTS["muvera"])):
        qv = np.stack([query_summary(method, q, muvera=params, normalize=True) for q in qs])
        fresh = qv @ document_summaries(method, needle_tok.items(), muvera=params, normalize=True).T
        n_first[name] = np.concatenate([firsts[name][:, dis], fresh], axis=1)
    t0 = time.perf_counter()
    n_nb = F.token_neighbours(qs, ncorpus, kmax)
    F.log(f"needle token neighbours in {time.perf_counter() - t0:.0f} s")
    n_coarse_nb = {c: F.scored_token_neighbours(qs, PackedDocs.from_list(coarse_rows(c, ncorpus.items())), ckmax)
                   for c in a.coarse}
    n_stages = {"plain": (None, None), "mean": (n_first["mean"], 100), "muvera": (n_first["muvera"], 100),
                **{f"tokens-{k}": (F.token_candidates(n_nb, k), None) for k in a.ks},
                **{coarse_key(c, k, n): (pruned_candidates(n_coarse_nb[c], k, n), None)
                   for c, k, n in coarse_keys}}
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

    load = os.getloadavg()
    text = report(rows, data, n_q, full_r10, edge, a, load)
    sys.stdout.write(text)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "first_stages_table.txt").write_text(text)
        (a.out / "first_stages.json").write_text(json.dumps(
            {"rows": rows, "edge": edge, "load": load, "time": time.strftime("%Y-%m-%d %H:%M"),
             "args": {k: str(v) for k, v in vars(a).items()}}, indent=1, default=str))
        plot(rows, a.out / "first_stages.png")
    return 0


def report(rows: dict[str, dict[str, Any]], data: F.Data, n_q: int, full_r10: float,
           edge: dict[str, Any] | None, a: Any, load: tuple[float, ...]) -> str:
    head = ["first stage", "SciFact nDCG@10", "% of plain pooled", "Δ vs plain [95% CI]",
            "first-stage recall", "candidates/query", "needle recall@10", "% of full MaxSim",
            "needle first-stage recall", "keeps full top-10 needles"]
    lines = [
        f"SciFact test ({len(data.corpus)} documents, {n_q} queries) and the needle corpus "
        f"(needle.py), pooled pf={a.pf}, exact replay (exact nearest token vectors for the "
        f"token-level rows; 'coarse xC': the companion holds each document's pooled vectors "
        f"pooled again by C); full MaxSim needle recall@10 {full_r10:.3f}. Load average at "
        "the end: " + ", ".join(f"{x:.2f}" for x in load),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows.values():
        ci = r["delta_ci"]
        cells = [r["stage"], f"{r['ndcg']:.4f}", f"{r['vs_plain']:.1%}",
                 f"{ci[0]:+.4f} [{ci[1]:+.4f}, {ci[2]:+.4f}]", f"{r['first_recall']:.3f}",
                 f"{r['candidates']:.0f}", f"{r['needle_r10']:.3f}", f"{r['needle_vs_full']:.1%}",
                 f"{r['needle_first_recall']:.3f}", f"{r['needle_kept_of_full_top10']:.1%}"]
        lines.append("| " + " | ".join(cells) + " |")
    if edge:  # the builds' times are in the JSON; their table: --writes-only
        lines += ["", (f"Qdrant Edge `query_late_interaction`, median ms of {a.time_queries} "
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

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=130)
    for key, r in rows.items():
        color = "tab:purple" if key.startswith("tokens-c") else "tab:green" if key.startswith("tokens") else {"plain": "k", "mean": "tab:blue", "muvera": "tab:red"}[key]
        default = key == coarse_key(DEFAULT_POOL_FACTOR, DEFAULT_NEIGHBOURS, DEFAULT_CANDIDATES)
        ax.scatter(r["vs_plain"] * 100, r["needle_r10"], color=color, s=120 if default else 30,
                   marker="*" if default else "o", zorder=3 if default else 2)
        if key.startswith("tokens-c") and not default:
            continue  # unlabelled: the coarse rows other than the default
        ax.annotate(("default: " if default else "") + r["stage"] + (f" ({r['edge_ms']:.0f} ms)" if r.get("edge_ms") else ""),
                    (r["vs_plain"] * 100, r["needle_r10"]), textcoords="offset points",
                    xytext=(4, -10 if default else 4), fontsize=7)
    ax.axvline(99.5, color="0.5", linestyle="--", linewidth=0.8)
    ax.axhline(0.55, color="0.5", linestyle=":", linewidth=0.8)
    ax.set_xlabel("SciFact nDCG@10, % of plain pooled MaxSim")
    ax.set_ylabel("needle recall@10")
    ax.set_title("First stages at pf=2 (targets: dashed lines; purple: coarse token index, "
                 "the star its default)", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
