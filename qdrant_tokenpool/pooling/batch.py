"""``pool_batch``: pool many documents on all cores, results in input order.

The clustering is many small numpy/scipy calls per document, so threads do not help
(the GIL is held between calls; measured 0.9x-1.15x of serial on the shared 2-core
machine, the gain only a bigger share of a busy scheduler). Large batches go to a
persistent pool of worker processes instead:

- created lazily on the first batch big enough to need it, then reused (starting a worker
  costs about a second of imports, once);
- ``spawn`` start method, so it is safe with torch, CUDA, gRPC or OpenMP threads already
  running in the parent (``fork`` is not); workers start with one BLAS/OpenMP thread each
  and do not re-import the caller's ``__main__`` (no ``if __name__ == "__main__"`` guard
  needed);
- documents are sent in about 8 chunks per worker (transfer overlaps work), balanced by
  estimated cost (``n^2`` for the clustering methods), and the results are put back in
  input order;
- small batches run in the calling process, where the transfer would cost more than it
  saves, and the pool is only started by a batch big enough to pay for starting it
  (:data:`START_POOL_MIN_SECONDS`, :data:`PARALLEL_MIN_SECONDS`);
- if the pool breaks (a worker killed), the batch is pooled in the calling process.

Every worker runs the same code on the same float32 arrays as :func:`pool_tokens`, so the
results are the same bytes as pooling the documents one by one.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
import threading
import types
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from ..validation import as_multivector
from ._blas import single_blas_thread
from .tokens import check_pooling_args, pool_checked

__all__ = [
    "PARALLEL_MIN_SECONDS",
    "START_POOL_MIN_SECONDS",
    "estimated_seconds",
    "pool_batch",
    "shutdown_pool",
]

PARALLEL_MIN_SECONDS = 0.05
"""Estimated serial pooling time of a batch below which :func:`pool_batch` (with
``workers=None``) stays in the calling process once the worker pool is running: smaller
batches are not worth the transfer."""

START_POOL_MIN_SECONDS = 1.0
"""Estimated serial pooling time of a batch needed to *start* the worker pool (starting
costs about a second of imports per worker, once). Until a batch this big comes, every
batch is pooled in the calling process."""


def estimated_seconds(n_tokens: int, dim: int, method: str) -> float:
    """Rough single-core pooling time of one document (measured: ~0.8 ms for a
    hierarchical ``256 x 128`` document, ~0.07 ms sequential); only used for scheduling."""
    if method == "sequential":
        return 2e-9 * n_tokens * dim + 2e-5
    return 1e-10 * n_tokens * n_tokens * dim + 5e-5


_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None
_executor_workers = 0
_executor_pid = 0


_limits: Any = None


def _worker_init() -> None:
    """Runs once in each worker: one BLAS thread (the pool is the parallelism)."""
    try:  # optional; the environment variables set at spawn time already do this
        from threadpoolctl import threadpool_limits

        global _limits
        _limits = threadpool_limits(limits=1)
    except Exception:  # noqa: BLE001, S110 - optional: without it workers still run
        pass


def _worker_ready() -> int:
    return os.getpid()


def _pool_chunk(
    arrays: list[np.ndarray], pool_factor: int, method: str, protected_tokens: int
) -> list[np.ndarray]:
    with single_blas_thread():
        return [pool_checked(x, pool_factor, method, protected_tokens) for x in arrays]


def _get_executor(n_workers: int) -> ProcessPoolExecutor:
    global _executor, _executor_workers, _executor_pid
    with _lock:
        if (
            _executor is not None
            and _executor_pid == os.getpid()
            and _executor_workers == n_workers
        ):
            return _executor
        if _executor is not None and _executor_pid == os.getpid():
            _executor.shutdown(wait=False, cancel_futures=True)
        ctx = multiprocessing.get_context("spawn")
        ex = ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_worker_init)
        # Workers are spawned by submit(), one per submit while none is idle: start them all
        # now, each with one BLAS/OpenMP thread, and without re-importing the caller's
        # __main__ (spawn would run an unguarded script's top level again in each worker;
        # the workers only need this package).
        saved_env = {k: os.environ.get(k) for k in _THREAD_ENV}
        saved_main = sys.modules.get("__main__")
        try:
            for k in _THREAD_ENV:
                os.environ[k] = "1"
            sys.modules["__main__"] = types.ModuleType("__main__")
            ready = [ex.submit(_worker_ready) for _ in range(n_workers)]
        finally:
            if saved_main is not None:
                sys.modules["__main__"] = saved_main
            for k, v in saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        try:
            for f in ready:
                f.result()
        except BaseException:
            ex.shutdown(wait=False, cancel_futures=True)
            raise
        _executor, _executor_workers, _executor_pid = ex, n_workers, os.getpid()
        return ex


def shutdown_pool() -> None:
    """Stop the worker processes of :func:`pool_batch` (they restart on demand)."""
    global _executor
    with _lock:
        if _executor is not None and _executor_pid == os.getpid():
            _executor.shutdown(wait=True, cancel_futures=True)
        _executor = None


atexit.register(shutdown_pool)


def _chunks(costs: Sequence[float], n_chunks: int) -> list[list[int]]:
    """Split document indices into ``n_chunks`` groups of near-equal total cost (greedy)."""
    order = sorted(range(len(costs)), key=lambda i: -costs[i])
    groups: list[list[int]] = [[] for _ in range(n_chunks)]
    loads = [0.0] * n_chunks
    for i in order:
        j = loads.index(min(loads))
        groups[j].append(i)
        loads[j] += costs[i]
    return [sorted(g) for g in groups if g]


def pool_batch(
    documents: Iterable[Any],
    pool_factor: int,
    method: str = "hierarchical",
    protected_tokens: int = 1,
    workers: int | None = None,
) -> list[np.ndarray]:
    """Pool many documents; identical to ``[pool_tokens(d, ...) for d in documents]``.

    Args:
        documents: iterable of ``(n_i, d_i)`` token matrices (numpy, torch or nested lists;
            lengths may differ).
        pool_factor, method, protected_tokens: as for :func:`pool_tokens`.
        workers: processes to use. ``None``: all cores (``os.cpu_count()``) for batches
            with enough work (a batch of about 1 s of work starts the worker pool, which
            is then kept and used for batches of 50 ms and more; see
            :data:`START_POOL_MIN_SECONDS`, :data:`PARALLEL_MIN_SECONDS`), the calling
            process otherwise; ``1``: always the calling process; ``k > 1``: ``k`` worker
            processes for any batch of two or more documents.

    Returns:
        list of float32 ``(m_i, d_i)`` arrays, in input order, new arrays (never the inputs).

    Raises:
        ValueError: bad arguments.
        InvalidMultivectorError: for the first bad document, naming its position as the
            point id. All documents are checked before any is pooled.
    """
    check_pooling_args(pool_factor, method, protected_tokens)
    arrays = [as_multivector(doc, point_id=i) for i, doc in enumerate(documents)]
    pf, prot = int(pool_factor), int(protected_tokens)
    n_workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    if pf == 1 or n_workers == 1 or len(arrays) < 2:
        return _pool_chunk(arrays, pf, method, prot)
    costs = [estimated_seconds(max(x.shape[0] - prot, 0), x.shape[1], method) for x in arrays]
    if workers is None:
        running = _executor is not None and _executor_pid == os.getpid()
        needed = PARALLEL_MIN_SECONDS if running else START_POOL_MIN_SECONDS
        if sum(costs) < needed:
            return _pool_chunk(arrays, pf, method, prot)
    if multiprocessing.current_process().daemon:  # daemonic processes cannot have children
        return _pool_chunk(arrays, pf, method, prot)
    groups = _chunks(costs, min(len(arrays), 8 * n_workers))
    try:
        ex = _get_executor(n_workers)
    except Exception:  # noqa: BLE001 - no processes here (sandbox, limits): pool in-process
        return _pool_chunk(arrays, pf, method, prot)
    try:
        futures = [
            ex.submit(_pool_chunk, [arrays[i] for i in g], pf, method, prot) for g in groups
        ]
        out: list[np.ndarray | None] = [None] * len(arrays)
        for g, fut in zip(groups, futures):
            for i, pooled in zip(g, fut.result()):
                out[i] = pooled
    except (BrokenProcessPool, OSError, RuntimeError):
        shutdown_pool()
        return _pool_chunk(arrays, pf, method, prot)
    return out  # type: ignore[return-value]
