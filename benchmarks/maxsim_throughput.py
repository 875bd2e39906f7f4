"""CPU MaxSim: ``PackedDocs`` against maxsim-cpu, in the same run, on the same vectors.

The peer is mixedbread's ``maxsim-cpu`` (Rust + libxsmm, the ``[bench]`` extra):
``maxsim_scores_variable(query, docs)`` scores one query against a list of
variable-length documents on all cores. Ours: ``PackedDocs(docs).scores(query)`` (one
query) and ``.scores_batch(queries)`` (a batch, per query), on all cores: the compiled
kernel on x86-64 with AVX2 and FMA, numpy elsewhere (the "numpy path" column is what
that gives here). The peer has no batch call: a batch is one call per query.

Corpora: 3,000 documents of 40-80 and of 200-400 tokens (uniform), d=128, unit vectors;
queries of 32 tokens. Every side is checked against a float64 reference (exit code 1
beyond 1e-5). Times: best of several rounds, the sides taking turns.

Run: ``python benchmarks/maxsim_throughput.py [--docs 3000] [--batch 32] [--out table.md]``
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pooling_throughput import rounds_best

from qdrant_tokenpool.maxsim import PackedDocs
from qdrant_tokenpool.pooling import kernels

D = 128
QUERY_TOKENS = 32


def unit_docs(rng: np.random.Generator, n: int, lo: int, hi: int) -> list[np.ndarray]:
    docs = []
    for _ in range(n):
        x = rng.standard_normal((int(rng.integers(lo, hi + 1)), D)).astype(np.float32)
        docs.append(x / np.linalg.norm(x, axis=1, keepdims=True))
    return docs


def reference(queries: list[np.ndarray], docs: list[np.ndarray]) -> np.ndarray:
    return np.array(
        [[(q.astype(np.float64) @ d.astype(np.float64).T).max(axis=1).sum() for d in docs] for q in queries]
    )


def numpy_path(packed: PackedDocs, queries: list[np.ndarray]) -> np.ndarray:
    with kernels.fallback_only():
        return packed.scores_batch(queries)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=3000, help="documents per corpus")
    ap.add_argument("--batch", type=int, default=32, help="queries in the batched case")
    ap.add_argument("--rounds", type=int, default=7, help="timing rounds, best kept")
    ap.add_argument("--out", help="also write the Markdown table to this file")
    args = ap.parse_args(argv)
    try:
        import maxsim_cpu

        peer = maxsim_cpu.maxsim_scores_variable
        peer_label = f"maxsim-cpu {version('maxsim-cpu')}"
    except Exception as exc:  # noqa: BLE001 - missing or unsupported: report and stop
        print(f"maxsim-cpu cannot be imported ({exc!r}): pip install -e '.[bench]'", file=sys.stderr)
        return 2
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# CPU MaxSim against maxsim-cpu",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, load average at start {load:.2f}",
        (
            f"- peer: {peer_label}; ours: "
            + ("compiled kernel (AVX2 + FMA)" if kernels.maxsim_available() else "numpy path")
        ),
        (
            f"- {args.docs} documents per corpus, d={D}, unit vectors; {QUERY_TOKENS}-token "
            f"queries; best of {args.rounds} rounds, the sides taking turns; all cores on every side"
        ),
        "",
        (
            "| documents | shape | maxsim-cpu ms/query | ours ms/query | vs maxsim-cpu | "
            "ours, numpy path ms/query | max error ours / peer |"
        ),
        "|---|---|---:|---:|---:|---:|---|",
    ]
    print("\n".join(lines), flush=True)
    rng = np.random.default_rng(0)
    worst = 0.0
    for lo, hi in ((40, 80), (200, 400)):
        docs = unit_docs(rng, args.docs, lo, hi)
        packed = PackedDocs(docs)
        queries = unit_docs(rng, args.batch, QUERY_TOKENS, QUERY_TOKENS)
        q = queries[0]
        ref = reference(queries[:2], docs)
        errs = (
            float(np.abs(packed.scores_batch(queries[:2]) - ref).max()),
            float(max(np.abs(peer(x, docs) - r).max() for x, r in zip(queries[:2], ref))),
        )
        worst = max(worst, errs[0])
        for shape, n_q, fns in (
            (
                "one query",
                1,
                {
                    "peer": lambda: peer(q, docs),
                    "ours": lambda: packed.scores(q),
                    "numpy": lambda: numpy_path(packed, [q]),
                },
            ),
            (
                f"{args.batch} queries, per query",
                args.batch,
                {
                    "peer": lambda: [peer(x, docs) for x in queries],
                    "ours": lambda: packed.scores_batch(queries),
                    "numpy": lambda: numpy_path(packed, queries),
                },
            ),
        ):
            t = rounds_best(fns, args.rounds if n_q == 1 else max(2, args.rounds // 3))
            ms = {k: v / n_q * 1e3 for k, v in t.items()}
            lines.append(
                f"| {args.docs} x {lo}-{hi} tokens | {shape} | {ms['peer']:.2f} | {ms['ours']:.2f} | "
                f"**{ms['peer'] / ms['ours']:.2f}x** | {ms['numpy']:.2f} | {errs[0]:.1e} / {errs[1]:.1e} |"
            )
            print(lines[-1], flush=True)
    end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines += ["", f"load average at end: {end:.2f}"]
    print(lines[-1])
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    if worst > 1e-5:
        print(f"ours differs from the float64 reference by {worst:.2e} (> 1e-5)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
