"""Needle in a document: one sentence answers the query, the rest of the document does not.

Built from SciFact: for every test query, the sentence of its (first) relevant abstract
that shares the most content words with the query is the *needle*; it is spliced at a
random sentence boundary into the first sentences of an unrelated abstract (the *host*,
kept short so the whole document fits the encoder's 256 tokens). The corpus is every
SciFact document relevant to no test query (the hosts' originals removed) plus the 300
needle documents; a query's only target is its needle document. Reported: recall@10 of
the target per funnel shape and pool factor (exact scoring, as ``funnel.py``), and the
first stage's candidate recall.

This is pooling's known weak spot: a few needle tokens among ~200 host tokens may be
merged into host clusters, and a mean summary is dominated by the host.

Run: ``python benchmarks/needle.py --out docs/img`` (reads the shared encoding cache;
encodes the 300 needle documents once, ~1-2 min on 2 cores, then cached).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import funnel as F

from qdrant_tokenpool import pool_batch
from qdrant_tokenpool.eval.encoding import encode_cached
from qdrant_tokenpool.firststage import document_summaries, query_summary
from qdrant_tokenpool.maxsim import PackedDocs

WORD = re.compile(r"[a-z0-9]+")
STOP = frozenset({
    "the", "and", "for", "with", "that", "this", "from", "are", "was", "were", "has", "have",
    "had", "not", "but", "can", "its", "into", "than", "then", "also", "been", "more", "most",
    "such", "these", "those", "which", "while", "their", "there", "other", "between", "among",
    "during", "after", "before", "both", "each", "only", "over", "under",
})


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9(])", text) if s.strip()]


def content(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if len(w) > 3 and w not in STOP}


def build(data: F.Data, seed: int, host_words: int) -> dict:
    ds = data.ds
    rng = np.random.default_rng(seed)
    relevant_any = {d for q in ds.query_ids for d, g in ds.qrels.get(q, {}).items() if g > 0}
    pos = {d: i for i, d in enumerate(ds.doc_ids)}
    pool = [i for i, d in enumerate(ds.doc_ids) if d not in relevant_any]
    hosts = rng.permutation(pool)
    needles, texts, targets, placement, used = [], [], [], [], set()
    h = 0
    for q in ds.query_ids:
        rel = sorted(d for d, g in ds.qrels.get(q, {}).items() if g > 0 and d in pos)
        qwords = content(ds.queries[q])
        sents = sentences(ds.texts[pos[rel[0]]])
        best = max(sents, key=lambda s: (len(qwords & content(s)), -abs(len(s.split()) - 25)))
        while True:  # a host with at least 3 sentences
            host = int(hosts[h])
            h += 1
            hs = sentences(ds.texts[host])
            if len(hs) >= 3:
                break
        budget = host_words - len(best.split())
        keep: list[str] = []
        for s in hs:
            if keep and sum(len(x.split()) for x in keep) + len(s.split()) > budget:
                break
            keep.append(s)
        at = int(rng.integers(0, len(keep) + 1))
        doc = keep[:at] + [best] + keep[at:]
        texts.append((ds.titles[host] + " " + " ".join(doc)).strip())
        needles.append(best)
        targets.append(f"needle-{q}")
        placement.append(at / max(1, len(keep)))
        used.add(host)
    distractors = [i for i in pool if i not in used]
    return {"texts": texts, "ids": targets, "needles": needles, "distractors": distractors,
            "placement": placement}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=F.DEFAULT_DATA)
    ap.add_argument("--model", default=None)
    ap.add_argument("--pool-factors", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--host-words", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    data = F.load_data(a.data, a.model)
    nd = build(data, a.seed, a.host_words)
    needle_tok, hit, secs = encode_cached(data.encoder, "documents", nd["ids"], nd["texts"], data.cache)
    F.log(f"needle documents: {len(nd['ids'])} (cache hit {hit}, {secs:.0f} s); "
          f"truncated at 256 tokens: {int((needle_tok.lengths >= 256).sum())}")
    dis = np.array(nd["distractors"])
    n_q = len(data.ds.query_ids)
    qs = data.queries.items()

    def scores(docs_full: PackedDocs | None, cached: np.ndarray, needle_docs: list[np.ndarray],
               fn: str, pf: int | None = None) -> np.ndarray:
        """(n_q, distractors + needles): cached columns for the distractors, fresh for needles."""
        if fn == "maxsim":
            packed = PackedDocs.from_list(needle_docs)
            fresh = F.maxsim_matrix(data, packed)
        else:
            fresh = fn_first[fn](needle_docs)
        return np.concatenate([cached[:, dis], fresh], axis=1)

    fn_first = {}
    for name in ["mean", *F.MUVERA_VARIANTS]:
        params = F.MUVERA_VARIANTS.get(name)
        method = "mean" if name == "mean" else "muvera"

        def enc(docs: list[np.ndarray], method: str = method, params=params) -> np.ndarray:
            qv = np.stack([query_summary(method, q, muvera=params, normalize=True) for q in qs])
            return qv @ document_summaries(method, docs, muvera=params, normalize=True).T

        fn_first[name] = enc

    needle_items = needle_tok.items()
    full_all = F.cached_matrix(data, "full", lambda: F.maxsim_matrix(data, data.corpus))
    full = scores(None, full_all, needle_items, "maxsim")
    pooled = {}
    for pf in a.pool_factors:
        cached = F.cached_matrix(
            data, f"pooled{pf}", lambda pf=pf: F.maxsim_matrix(data, F.pooled_corpus(data, pf)))
        pooled_needles = pool_batch(needle_items, pf, method="hierarchical", protected_tokens=1)
        pooled[pf] = scores(None, cached, pooled_needles, "maxsim")
    firsts = {}
    for name, params in [("mean", None), *F.MUVERA_VARIANTS.items()]:
        cached = F.cached_matrix(
            data, f"first-{name}",
            lambda n=name, p=params: F.first_stage_scores(data, "mean" if n == "mean" else "muvera", p),
            **({} if params is None else {"params": params.to_dict()}))
        firsts[name] = scores(None, cached, needle_items, name)

    target = len(dis) + np.arange(n_q)  # column of each query's needle document
    shapes = [F.Shape(None, None, 0, None)]
    for pf in a.pool_factors:
        shapes += [F.Shape(None, None, pf, None), F.Shape(None, None, pf, 40)]
        for first in firsts:
            for p in (100, 300, 1000):
                shapes += [F.Shape(first, p, pf, None), F.Shape(first, p, pf, 40)]
    rows = []
    for s in shapes:
        pm = full if s.pf == 0 else pooled[s.pf]
        fm = firsts.get(s.first or "")
        hits, cand_hits = [], []
        for qi in range(n_q):
            ranking, cand = F.rank(s, qi, fm, pm, full, 10)
            hits.append(target[qi] in ranking)
            cand_hits.append(fm is None or target[qi] in cand[: s.prefetch])
        rows.append({"shape": "full-resolution MaxSim" if s.pf == 0 else s.label,
                     "pf": s.pf or 1, "first": s.first or "", "prefetch": s.prefetch or "",
                     "rescore": s.rescore or "", "recall@10": float(np.mean(hits)),
                     "first_stage_recall": float(np.mean(cand_hits))})
        F.log(f"{rows[-1]['shape']}: recall@10 {rows[-1]['recall@10']:.3f}")
    load = os.getloadavg()
    lines = [
        f"Needle in a document (SciFact test, {n_q} queries; corpus {len(dis)} unrelated "
        f"abstracts + {n_q} needle documents of <= {a.host_words} words; "
        f"{int((needle_tok.lengths >= 256).sum())} needle documents reach the 256-token cut). "
        "Exact scoring. Load average at the end: " + ", ".join(f"{x:.2f}" for x in load),
        "",
        "| shape | recall@10 | first-stage recall |",
        "|---|---:|---:|",
    ]
    for r in rows:
        fr = f"{r['first_stage_recall']:.3f}" if r["first"] else ""
        lines.append(f"| {r['shape']} | {r['recall@10']:.3f} | {fr} |")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "needle_table.txt").write_text(text)
        (a.out / "needle.json").write_text(json.dumps(
            {"rows": rows, "examples": [{"query": data.ds.queries[q], "needle": n, "document": t}
                                        for q, n, t in list(zip(data.ds.query_ids, nd["needles"], nd["texts"]))[:3]],
             "load": load, "time": time.strftime("%Y-%m-%d %H:%M")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
