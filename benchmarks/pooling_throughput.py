"""Pooling throughput: qdrant-tokenpool against the peer, in the same run.

The peer is ``pool_embeddings_hierarchical`` from ``colbert-ai`` (Stanford ColBERT,
``colbert/modeling/checkpoint.py``), the code RAGatouille and PyLate use. It runs Ward
``linkage`` on the ``n x n`` cosine-distance matrix as if its rows were observations
(``O(n^3)``) and averages clusters in a Python loop. Install it for benchmarks only,
without touching torch: ``pip install -e ".[bench]"`` (see benchmarks/README.md). If it
cannot be imported, a verbatim copy of its algorithm is timed instead and labelled so.

Documents: random unit vectors (d=128) of 32, 128, 256 and 512 tokens, one protected
token (``[CLS]``/``[D]``) for both sides, pool factors 2 and 4. Single-core table: one
call per document on each side (``pool_tokens`` / the peer with ``token_lengths=[n]``),
each document's best of several calls in a row, peer and ours taking turns document by
document, so a busy machine slows both alike; also our hierarchical pooling on the
numpy/scipy fallback (``kernels.fallback_only()``), what an install without a C compiler
gets. Then ``pool_batch`` on all cores against serial and plain threads (wall time of
whole batches, best of several rounds).

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

import numpy as np
import scipy
from scipy.cluster.hierarchy import ClusterWarning, fcluster, linkage

from qdrant_tokenpool.pooling import kernels, pool_batch, pool_tokens
from qdrant_tokenpool.pooling.batch import shutdown_pool, uses_threads
from qdrant_tokenpool.pooling.common import normalise
from qdrant_tokenpool.pooling.hierarchical import hierarchical_labels

D = 128
PROTECTED = 1
METHODS = ("hierarchical", "kmeans", "sequential")


def load_peer() -> tuple[Callable, str]:
    """The peer's function and a label saying where it came from."""
    try:
        from importlib.metadata import version

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from colbert.modeling.checkpoint import pool_embeddings_hierarchical

        return pool_embeddings_hierarchical, f"colbert-ai {version('colbert-ai')} (imported)"
    except Exception as exc:  # noqa: BLE001 - any import failure means: use the copy
        return _peer_copy, f"COPY of colbert-ai 0.2.22's algorithm (import failed: {exc!r})"


def _peer_copy(p_embeddings, token_lengths, pool_factor, protected_tokens=0, showprogress=False):
    """Verbatim copy of colbert-ai 0.2.22 ``pool_embeddings_hierarchical`` (CPU, no tqdm)."""
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    p_embeddings = p_embeddings.to(device)
    pooled_embeddings = []
    pooled_token_lengths = []
    start_idx = 0
    for token_length in token_lengths:
        passage_embeddings = p_embeddings[start_idx : start_idx + token_length]
        protected_embeddings = passage_embeddings[:protected_tokens]
        passage_embeddings = passage_embeddings[protected_tokens:]
        similarities = torch.mm(passage_embeddings, passage_embeddings.t())
        similarities = 1 - similarities.cpu().numpy()
        Z = linkage(similarities, metric="euclidean", method="ward")
        max_clusters = token_length // pool_factor if token_length // pool_factor > 0 else 1
        cluster_labels = fcluster(Z, t=max_clusters, criterion="maxclust")
        for cluster_id in range(1, max_clusters + 1):
            cluster_indices = torch.where(
                torch.tensor(cluster_labels == cluster_id, device=device)
            )[0]
            if cluster_indices.numel() > 0:
                pooled_embedding = passage_embeddings[cluster_indices].mean(dim=0)
                pooled_embeddings.append(pooled_embedding)
        pooled_embeddings.extend(protected_embeddings)
        pooled_token_lengths.append(len(pooled_embeddings) - sum(pooled_token_lengths))
        start_idx += token_length
    pooled_embeddings = torch.stack(pooled_embeddings)
    return pooled_embeddings, pooled_token_lengths


def make_docs(n_docs: int, n_tokens: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [normalise(rng.standard_normal((n_tokens, D)).astype(np.float32)) for _ in range(n_docs)]


def interleaved(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Best-of-``rounds`` seconds of each function, the functions taking turns."""
    for fn in fns.values():  # warm-up
        fn()
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def exactness_check(n_docs: int) -> str:
    """Our hierarchical labels against scipy ``linkage(unit_vectors, "ward")`` cut at k."""
    same = total = 0
    for n in (32, 128, 256, 512):
        for pf in (2, 4):
            for x in make_docs(n_docs, n, seed=n * 10 + pf):
                u = normalise(x[PROTECTED:])
                k = max(1, u.shape[0] // pf)
                ref = fcluster(linkage(u.astype(np.float64), "ward"), k, criterion="maxclust")
                ours = hierarchical_labels(u, k)
                fallback = hierarchical_labels(u, k, compiled=False)
                total += 1
                same += _partition(ref) == _partition(ours) == _partition(fallback)
    return (
        f"{same}/{total} documents: the same partition as scipy linkage(unit vectors, 'ward'), "
        "compiled kernel and fallback alike"
    )


def _partition(labels: np.ndarray) -> tuple[int, ...]:
    first: dict[int, int] = {}
    return tuple(first.setdefault(int(v), len(first)) for v in labels)


def per_document_best(
    fns: dict[str, Callable[[int], object]], count: int, rounds: int
) -> dict[str, float]:
    """Seconds for ``count`` documents: each document's best of ``rounds`` calls, summed.

    Document by document, each function makes ``rounds`` calls in a row (warm caches, as
    in a batch) and keeps its fastest; the functions take turns within milliseconds of
    each other, so a busy machine slows them alike, and a call of a fraction of a
    millisecond to a few ms is rarely interrupted, which keeps the numbers stable on a
    shared machine.
    """
    best = {name: np.full(count, np.inf) for name in fns}
    for fn in fns.values():  # warm-up
        fn(0)
    names = list(fns)
    for i in range(count):
        for name in names if i % 2 == 0 else names[::-1]:
            fn = fns[name]
            for _ in range(rounds):
                t0 = time.perf_counter()
                fn(i)
                dt = time.perf_counter() - t0
                best[name][i] = min(best[name][i], dt)
    return {name: float(b.sum()) for name, b in best.items()}


def fallback_pool(x: np.ndarray, pf: int) -> np.ndarray:
    """Hierarchical ``pool_tokens`` on the numpy/scipy fallback (no compiled kernels)."""
    with kernels.fallback_only():
        return pool_tokens(x, pf, "hierarchical", protected_tokens=PROTECTED)


def single_process_table(
    peer: Callable, lengths: list[int], factors: list[int], n_docs: int, rounds: int
) -> list[str]:
    import torch

    rows = [
        (
            "| tokens | pool factor | peer hierarchical docs/s | ours hierarchical docs/s | "
            "ratio | ours hierarchical, no kernels docs/s | ratio | ours kmeans docs/s | "
            "ours sequential docs/s |"
        ),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    print("\n".join(rows), flush=True)
    for n in lengths:
        count = max(8, n_docs * 256 // n) if n > 256 else n_docs
        for pf in factors:
            docs = make_docs(count, n, seed=n + pf)
            tensors = [torch.from_numpy(x) for x in docs]
            fns: dict[str, Callable[[int], object]] = {
                "peer": lambda i: peer(tensors[i], [n], pf, protected_tokens=PROTECTED),
            }
            for method in METHODS:
                fns[method] = lambda i, m=method: pool_tokens(
                    docs[i], pf, m, protected_tokens=PROTECTED
                )
            fns["fallback"] = lambda i: fallback_pool(docs[i], pf)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ClusterWarning)
                t = per_document_best(fns, count, rounds)
            rate = {k: count / v for k, v in t.items()}
            rows.append(
                f"| {n} | {pf} | {rate['peer']:,.0f} | {rate['hierarchical']:,.0f} | "
                f"**{rate['hierarchical'] / rate['peer']:.1f}x** | {rate['fallback']:,.0f} | "
                f"{rate['fallback'] / rate['peer']:.1f}x | {rate['kmeans']:,.0f} | "
                f"{rate['sequential']:,.0f} |"
            )
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
        t = interleaved(fns, rounds)
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
    ap.add_argument("--docs", type=int, help="documents per size (default 48, quick 12)")
    ap.add_argument("--rounds", type=int, help="timing rounds, best kept (default 7, quick 3)")
    ap.add_argument("--no-batch", action="store_true", help="skip the pool_batch table")
    ap.add_argument(
        "--lengths", type=int, nargs="+", default=[32, 128, 256, 512], help="tokens per document"
    )
    ap.add_argument("--factors", type=int, nargs="+", default=[2, 4], help="pool factors")
    args = ap.parse_args(argv)
    n_docs = args.docs or (12 if args.quick else 48)
    rounds = args.rounds or (3 if args.quick else 7)
    lengths, factors = args.lengths, args.factors

    import torch

    peer, peer_label = load_peer()
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
        f"- peer: {peer_label}",
        (
            "- ours: compiled Ward kernel "
            + ("in use" if kernels.compiled_kernels() else "NOT BUILT (numpy/scipy fallback)")
        ),
        (
            f"- documents: random unit vectors, d={D}, {PROTECTED} protected token; "
            f"{n_docs} documents per size (fewer above 256 tokens); each document's best of "
            f"{rounds} calls in a row, peer and ours taking turns; one process, one thread "
            "(torch.set_num_threads(1) for the peer; ours runs BLAS on one thread)"
        ),
        f"- exactness: {exactness_check(2 if args.quick else 5)}",
        "",
    ]
    print("\n".join(header), flush=True)
    torch.set_num_threads(1)
    lines = header + single_process_table(peer, lengths, factors, n_docs, rounds)
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
