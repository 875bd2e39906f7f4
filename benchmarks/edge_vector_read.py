"""What Qdrant Edge's Python API costs to take in one document's multivector, by input form.

Why: on Edge, ``upsert`` of ``PointStruct``s at pool factor 2 stays below the unpooled
speed (``benchmarks/ingest.py``). ``PointStruct`` already holds nested lists of Python
floats, which Edge reads directly; the pooled rows are new float32 arrays, and Edge's
``Point`` reads any buffer element by element through Python's sequence protocol (a float
object per value). This measures that ceiling: building ``qdrant_edge.Point`` from

- the unpooled 180 x 128 rows as the lists a ``PointStruct`` holds (the unpooled path);
- the pooled 90 x 128 rows as float32 memoryviews, one per row (what the write path hands
  Edge), as ``tolist()`` lists made for it, and as ready lists (a lower bound no writer
  of new vectors gets).

    python benchmarks/edge_vector_read.py [--docs 300] [--rounds 5]

Prints a Markdown table of ms per document (best round) and the machine's load.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import qdrant_edge as E


def best_ms(fn, items, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - t)
    return 1e3 * best / len(items)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    full = [rng.standard_normal((180, 128)).astype(np.float32) for _ in range(args.docs)]
    pooled = [x[::2].copy() for x in full]
    full_lists = [x.tolist() for x in full]
    pooled_lists = [x.tolist() for x in pooled]
    cases = [
        ("unpooled 180 x 128, lists a PointStruct holds", full_lists, lambda v: E.Point(1, {"t": v}, {})),
        ("pooled 90 x 128, float32 memoryview per row", pooled, lambda a: E.Point(1, {"t": [memoryview(r) for r in a]}, {})),
        ("pooled 90 x 128, tolist() then lists", pooled, lambda a: E.Point(1, {"t": a.tolist()}, {})),
        ("pooled 90 x 128, ready lists (lower bound)", pooled_lists, lambda v: E.Point(1, {"t": v}, {})),
    ]
    rows = [(name, best_ms(fn, items, args.rounds)) for name, items, fn in cases]
    base = rows[0][1]
    one, five, _ = os.getloadavg()
    print(f"qdrant_edge.Point from one document's vectors, {args.docs} docs, best of {args.rounds}, "
          f"load average {one:.2f}/{five:.2f} on {os.cpu_count()} cores\n")
    print("| input | ms per document | vs unpooled lists |")
    print("|---|---:|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.3f} | {ms / base:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
