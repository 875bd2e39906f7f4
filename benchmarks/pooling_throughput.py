"""Pooling throughput: qdrant-tokenpool against the newest peers, in the same run.

Peers (the ``[bench]`` extra, see benchmarks/README.md):

- sentence-transformers 6.2 ``HierarchicalTokenPooling`` (``pool(list of tensors)``) with
  fastcluster, which it uses for the Ward linkage when installed;
- PyLate's ``ColBERT.pool_embeddings_hierarchical`` (a method that does not use the
  model: called unbound), scipy's linkage.

Both cluster ``squareform(1 - cos)`` with ``linkage(..., "ward")``: Ward run on the cosine
distances as if they were Euclidean ones. We run Ward on the unit vectors themselves
(scipy's ``linkage(unit_vectors, "ward")``, exactly); the exactness table says on how many
documents each peer's partition is that exact Ward partition, and that where it is, our
vectors equal theirs.

Documents: random unit vectors (d=128) of 32, 128, 256 and 512 tokens, one protected token
for every side, pool factors 2 and 4. Single-core table: each side pools the same batch of
documents in one call (``pool_batch(docs, workers=1)`` for us), one thread each (torch and
every BLAS held to one thread), the sides taking turns round by round, best round kept.
"floor" is the compute floor of exact Ward per document, timed in the same run: the Gram
matrix as one float32 product (the fastest of ``U @ U.T``, the one-triangle ``ssyrk`` and
our kernel's own, ``kernels.gram32_seconds``) plus our nearest-neighbour chain alone on the
ready distances
(``kernels.ward_merges``, stopping once the cut is known, as pooling does). Then
``pool_batch`` on all cores against serial.

Run: ``python benchmarks/pooling_throughput.py [--quick] [--out table.md]``
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Any

import numpy as np
import scipy
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.linalg import blas

from qdrant_tokenpool.pooling import cluster_count, kernels, pool_batch, pool_tokens
from qdrant_tokenpool.pooling._blas import single_blas_thread
from qdrant_tokenpool.pooling.batch import shutdown_pool, uses_threads
from qdrant_tokenpool.pooling.common import cluster_means, normalise

D = 128
PROTECTED = 1


class Peer:
    """One peer: ``pool(list of torch tensors, pool_factor)``, or why it is missing."""

    def __init__(self, name: str, load: Callable[[], Callable[[list[Any], int], list[Any]]]):
        self.name = name
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.pool: Callable[[list[Any], int], list[Any]] | None = load()
            self.why = ""
        except Exception as exc:  # noqa: BLE001 - any import failure: say it, skip the peer
            self.pool = None
            self.why = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]


def load_sentence_transformers() -> Callable[[list[Any], int], list[Any]]:
    from sentence_transformers.multi_vector_encoder.modules.token_pooling import (
        HierarchicalTokenPooling,
    )

    poolers: dict[int, Any] = {}

    def pool(docs: list[Any], pf: int) -> list[Any]:
        if pf not in poolers:
            poolers[pf] = HierarchicalTokenPooling(pool_factor=pf, num_protected_tokens=PROTECTED)
        return poolers[pf].pool(docs)

    return pool


def load_pylate() -> Callable[[list[Any], int], list[Any]]:
    from pylate.models.colbert import ColBERT

    def pool(docs: list[Any], pf: int) -> list[Any]:
        return ColBERT.pool_embeddings_hierarchical(None, docs, pf, PROTECTED)

    return pool


def peers() -> list[Peer]:
    return [
        Peer(_label("sentence-transformers", "fastcluster"), load_sentence_transformers),
        Peer(_label("pylate"), load_pylate),
    ]


def _label(*dists: str) -> str:
    parts = []
    for dist in dists:
        try:
            parts.append(f"{dist} {version(dist)}")
        except Exception:  # noqa: BLE001 - not installed
            parts.append(f"{dist} (not installed)")
    return " + ".join(parts)


def make_docs(n_docs: int, n_tokens: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [normalise(rng.standard_normal((n_tokens, D)).astype(np.float32)) for _ in range(n_docs)]


def rounds_best(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Best-of-``rounds`` seconds of each function, the functions taking turns (the order
    reversed every other round, so a busy machine slows them alike)."""
    for fn in fns.values():  # warm-up
        fn()
    best = {name: float("inf") for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            fns[name]()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def floor_seconds(docs: list[np.ndarray], pf: int, rounds: int) -> tuple[float, float]:
    """Seconds for the batch at the compute floor: the Gram matrix as one float32 product
    (the fastest of U @ U.T and ssyrk, into a buffer kept between calls, and our kernel's
    own, ``kernels.gram32_seconds``), plus our chain alone on ready distances
    (``kernels.ward_chain_seconds``: the chain's own time). Returns (Gram seconds, chain
    seconds)."""
    us = [np.ascontiguousarray(x[PROTECTED:]) for x in docs]
    fortran = [np.asfortranarray(u.T) for u in us]
    out = np.zeros((us[0].shape[0],) * 2, dtype=np.float32, order="F")
    d2s = []
    for u in us:
        g = u.astype(np.float64) @ u.astype(np.float64).T
        sq = np.diag(g)
        d2s.append(np.maximum(sq[:, None] + sq[None, :] - 2 * g, 0.0))
    ks = [cluster_count(u.shape[0], pf) for u in us]

    def gemm() -> None:
        for u in us:
            np.matmul(u, u.T, out=out)

    def syrk() -> None:
        for f in fortran:
            blas.ssyrk(1.0, f, beta=0.0, c=out, trans=1, overwrite_c=1)

    t = rounds_best({"gemm": gemm, "syrk": syrk}, rounds)
    own = min(sum(kernels.gram32_seconds(u) for u in us) for _ in range(rounds))
    chain = min(
        sum(kernels.ward_chain_seconds(d2, k) for d2, k in zip(d2s, ks)) for _ in range(rounds)
    )
    return min(t["gemm"], t["syrk"], own), chain


def single_core_table(
    peer_list: list[Peer], lengths: list[int], factors: list[int], n_docs: int, rounds: int
) -> list[str]:
    import torch

    names = [p.name.split(" ")[0] for p in peer_list if p.pool is not None]
    head = "| tokens | pool factor | docs | " + " | ".join(f"{n} docs/s" for n in names)
    head += " | ours docs/s | " + " | ".join(f"vs {n}" for n in names)
    head += " | floor docs/s | ours / floor | floor: Gram + chain µs/doc | ours, no kernels docs/s |"
    rows = [head, "|" + "---:|" * (head.count("|") - 1)]
    print("\n".join(rows), flush=True)
    for n in lengths:
        count = max(8, n_docs * 128 // n)
        for pf in factors:
            docs = make_docs(count, n, seed=n + pf)
            tensors = [torch.from_numpy(x) for x in docs]
            fns: dict[str, Callable[[], object]] = {
                "ours": lambda: pool_batch(docs, pf, workers=1),
                "fallback": lambda: _fallback_batch(docs, pf),
            }
            for p in peer_list:
                if p.pool is not None:
                    fns[p.name] = lambda p=p: p.pool(tensors, pf)  # type: ignore[misc]
            with single_blas_thread():
                t = rounds_best(fns, rounds)
                gram, chain = floor_seconds(docs, pf, rounds)
                floor = gram + chain
            rate = {k: count / v for k, v in t.items()}
            live = [p.name for p in peer_list if p.pool is not None]
            cells = [str(n), str(pf), str(count)]
            cells += [f"{rate[name]:,.0f}" for name in live]
            cells += [f"{rate['ours']:,.0f}"]
            cells += [f"**{rate['ours'] / rate[name]:.1f}x**" for name in live]
            cells += [
                f"{count / floor:,.0f}",
                f"{floor / t['ours']:.0%}",
                f"{gram / count * 1e6:.0f} + {chain / count * 1e6:.0f}",
                f"{rate['fallback']:,.0f}",
            ]
            rows.append("| " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    return rows


def _fallback_batch(docs: list[np.ndarray], pf: int) -> list[np.ndarray]:
    with kernels.fallback_only():
        return pool_batch(docs, pf, workers=1)


def _partition(labels: np.ndarray) -> tuple[int, ...]:
    first: dict[int, int] = {}
    return tuple(first.setdefault(int(v), len(first)) for v in labels)


def _matches(vectors: np.ndarray, means: np.ndarray, tol: float = 1e-5) -> bool:
    """Whether the rows of ``vectors`` are the rows of ``means`` (unit rows, any order)."""
    if vectors.shape != means.shape:
        return False
    v = normalise(np.asarray(vectors, dtype=np.float32))
    sim = v @ means.T
    best = sim.argmax(axis=1)
    return bool(len(set(best.tolist())) == len(best) and (sim.max(axis=1) > 1 - tol).all())


def exactness_table(peer_list: list[Peer], lengths: list[int], factors: list[int], n_docs: int) -> list[str]:
    """Per size: on how many documents each side's partition is exact Ward's (scipy's
    linkage of the unit vectors, cut at k), and how far our vectors are from a peer's
    where that peer's partition is exact Ward's too."""
    import torch

    live = [p for p in peer_list if p.pool is not None]
    head = "| tokens | pool factor | ours = exact Ward | "
    head += " | ".join(f"{p.name.split(' ')[0]} = exact Ward | ours vs it there, max abs" for p in live)
    rows = [head + " |", "|" + "---:|" * (head.count("|"))]
    print("\n".join(rows), flush=True)
    for n in lengths:
        for pf in factors:
            docs = make_docs(n_docs, n, seed=1000 + n + pf)
            ours_ok = 0
            peer_ok = {p.name: 0 for p in live}
            peer_diff = {p.name: 0.0 for p in live}
            for x in docs:
                u = x[PROTECTED:]
                k = cluster_count(u.shape[0], pf)
                ref = fcluster(linkage(u.astype(np.float64), "ward"), k, criterion="maxclust")
                exact = cluster_means(u, ref)
                ours = pool_tokens(x, pf, protected_tokens=PROTECTED)
                ours_ok += _matches(ours[PROTECTED:], exact)
                for p in live:
                    theirs = p.pool([torch.from_numpy(x)], pf)[0].numpy()[PROTECTED:]  # type: ignore[misc]
                    if _matches(theirs, exact):
                        peer_ok[p.name] += 1
                        theirs_n = normalise(theirs.astype(np.float32))
                        order = (theirs_n @ ours[PROTECTED:].T).argmax(axis=1)
                        diff = float(np.abs(theirs_n - ours[PROTECTED:][order]).max())
                        peer_diff[p.name] = max(peer_diff[p.name], diff)
            cells = [str(n), str(pf), f"{ours_ok}/{len(docs)}"]
            for p in live:
                cells += [f"{peer_ok[p.name]}/{len(docs)}",
                          f"{peer_diff[p.name]:.1e}" if peer_ok[p.name] else "-"]
            rows.append("| " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    return rows


def batch_table(n_tokens: int, pf: int, n_docs: int, rounds: int) -> list[str]:
    docs = make_docs(n_docs, n_tokens, seed=7)
    cores = os.cpu_count() or 1
    pool_batch(docs[: 4 * cores], pf, workers=cores)  # start the workers
    kind = "threads" if uses_threads("hierarchical", docs, PROTECTED) else "processes"
    with ThreadPoolExecutor(cores) as threads:
        fns: dict[str, Callable[[], object]] = {
            "serial (pool_batch workers=1)": lambda: pool_batch(docs, pf, workers=1),
            f"threads ({cores}, pool_tokens)": lambda: list(
                threads.map(lambda x: pool_tokens(x, pf), docs)
            ),
            f"pool_batch, {cores} workers ({kind})": lambda: pool_batch(docs, pf, workers=cores),
        }
        t = rounds_best(fns, rounds)
    base = t["serial (pool_batch workers=1)"]
    rows = [
        (
            f"| pool_batch, {n_docs} docs x {n_tokens} tokens, pf {pf}, hierarchical | docs/s | "
            "vs serial |"
        ),
        "|---|---:|---:|",
    ]
    print("\n".join(rows), flush=True)
    for name, sec in t.items():
        rows.append(f"| {name} | {n_docs / sec:,.0f} | {base / sec:.2f}x |")
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer documents and rounds (~1 min)")
    ap.add_argument("--out", help="also write the Markdown tables to this file")
    ap.add_argument("--docs", type=int, help="documents per batch at 128 tokens (default 64, quick 16)")
    ap.add_argument("--rounds", type=int, help="timing rounds, best kept (default 7, quick 3)")
    ap.add_argument("--exact-docs", type=int, help="documents per size in the exactness table (default 10)")
    ap.add_argument("--no-batch", action="store_true", help="skip the pool_batch table")
    ap.add_argument(
        "--lengths", type=int, nargs="+", default=[32, 128, 256, 512], help="tokens per document"
    )
    ap.add_argument("--factors", type=int, nargs="+", default=[2, 4], help="pool factors")
    args = ap.parse_args(argv)
    n_docs = args.docs or (16 if args.quick else 64)
    rounds = args.rounds or (3 if args.quick else 7)
    exact_docs = args.exact_docs or (4 if args.quick else 10)
    lengths, factors = args.lengths, args.factors

    import torch

    peer_list = peers()
    torch_threads = torch.get_num_threads()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    header = [
        "# Pooling throughput",
        "",
        (
            f"- machine: {platform.machine()}, {os.cpu_count()} cores, load average at start "
            f"{load[0]:.2f}"
        )
        if load
        else f"- machine: {os.cpu_count()} cores",
        (
            f"- python {platform.python_version()}, numpy {np.__version__}, scipy "
            f"{scipy.__version__}, torch {torch.__version__}"
        ),
    ]
    for p in peer_list:
        header.append(f"- peer: {p.name}" + (f": NOT RUN ({p.why})" if p.pool is None else ""))
    header += [
        (
            "- ours: compiled Ward kernel "
            + ("in use" if kernels.compiled_kernels() else "NOT BUILT (numpy/scipy fallback)")
        ),
        (
            f"- documents: random unit vectors, d={D}, {PROTECTED} protected token; batches of "
            f"{n_docs} documents at 128 tokens ({n_docs}*128/n at n tokens); best of {rounds} "
            "rounds, the sides taking turns; one process, one thread (torch.set_num_threads(1), "
            "every OpenBLAS held to one thread)"
        ),
        "",
    ]
    print("\n".join(header), flush=True)
    torch.set_num_threads(1)
    kernels.gram_stats(reset=True)
    lines = header + single_core_table(peer_list, lengths, factors, n_docs, rounds)
    stats = kernels.gram_stats(reset=True)
    if stats:
        lines += [
            "",
            (
                f"Our Ward cuts in this table: {stats['float32']:,} on the float32 Gram matrix, "
                f"{stats['float64']:,} on the float64 one; {stats['near_ties']:,} near ties "
                "settled on float64 cluster means."
            ),
        ]
        print(lines[-1])
    lines += ["", ""]
    print()
    lines += exactness_table(peer_list, lengths, factors, exact_docs)
    torch.set_num_threads(torch_threads)
    if not args.no_batch:
        lines += ["", ""]
        print()
        lines += batch_table(256, 2, 64 if args.quick else 256, rounds)
        shutdown_pool()
    if load:
        end = os.getloadavg()[0]
        lines += ["", f"load average at end: {end:.2f}"]
        print(lines[-1])
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
