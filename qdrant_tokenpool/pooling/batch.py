"""``pool_batch``: pool many documents on all cores, in input order, the same bytes as
pooling them one by one.

Threads for hierarchical pooling with the compiled kernel, which releases the GIL (sending
a document to a process costs more than pooling it). Processes for the numpy/scipy
methods, which hold the GIL: a persistent ``spawn`` pool (safe with torch, CUDA or OpenMP
threads in the parent; a script run as ``python script.py`` gets threads, as ``spawn``
re-imports it), BLAS on one thread per worker, about 8 cost-balanced chunks per worker. A
broken pool falls back to the calling process.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from . import kernels
from ._blas import single_blas_thread
from .hierarchical import COMPILED_MAX_ROWS
from .spec import QDRANT_MAX_MULTIVECTOR_FLOATS, PoolingSpec, as_spec
from .tokens import check_layout, pool_checked_many
from .validation import as_multivector

__all__ = [
    "PARALLEL_MIN_SECONDS",
    "START_POOL_MIN_SECONDS",
    "THREADS_MIN_SECONDS",
    "estimated_seconds",
    "pool_arrays",
    "pool_batch",
    "pool_soon",
    "shutdown_pool",
    "spawn_reimports_main",
    "thread_pool",
    "uses_threads",
]

PARALLEL_MIN_SECONDS = 0.05
"""Estimated serial pooling seconds of a batch from which :func:`pool_batch` (with
``workers=None``) uses the running worker processes."""

START_POOL_MIN_SECONDS = 1.0
"""Estimated serial pooling seconds of a batch that *starts* the worker processes (each
pays its imports once)."""

THREADS_MIN_SECONDS = 0.002
"""Estimated serial pooling seconds of a batch from which the compiled hierarchical
pooling runs on the thread pool."""


def estimated_seconds(n_tokens: int, dim: int, method: str) -> float:
    """Rough single-core pooling time of one document, in seconds; only for scheduling."""
    if method == "sequential":
        return 2e-9 * n_tokens * dim + 2e-5
    return 1e-10 * n_tokens * n_tokens * dim + 5e-5


_lock = threading.Lock()
_pools: dict[str, tuple[ThreadPoolExecutor, int]] = {}  # name -> (pool, workers)
_pools_pid = 0
_executor: ProcessPoolExecutor | None = None
_executor_workers = 0
_executor_pid = 0
_limits: Any = None


def _worker_init() -> None:
    """Runs once in each worker: every BLAS and OpenMP library on one thread, where
    threadpoolctl is installed (``_pool_chunk`` limits OpenBLAS in any case)."""
    global _limits
    with contextlib.suppress(Exception):
        from threadpoolctl import threadpool_limits

        _limits = threadpool_limits(limits=1)


def _worker_ready() -> int:
    return os.getpid()


def _pool_chunk(arrays: list[np.ndarray], spec: PoolingSpec) -> list[np.ndarray]:
    with single_blas_thread():
        return pool_checked_many(arrays, spec)


def thread_pool(n_workers: int, name: str = "pooling") -> ThreadPoolExecutor:
    """The process's shared pool of ``n_workers`` threads called ``name`` (recreated for
    another size or after a fork), for compiled work that releases the GIL: ``"pooling"``
    and ``"encode"``, apart so pooling never waits behind the next batches' encoding."""
    global _pools_pid
    with _lock:
        if _pools_pid != os.getpid():
            _pools.clear()  # a forked child: the parent's threads are not here
            _pools_pid = os.getpid()
        pool, workers = _pools.get(name, (None, 0))
        if pool is None or workers != n_workers:
            if pool is not None:
                pool.shutdown(wait=False)
            pool = ThreadPoolExecutor(n_workers, thread_name_prefix=f"qdrant-tokenpool-{name}")
            _pools[name] = (pool, n_workers)
        return pool


def uses_threads(method: str, arrays: Sequence[np.ndarray], protected_tokens: int) -> bool:
    """Whether the whole batch runs in the compiled kernel, which releases the GIL."""
    return (
        method == "hierarchical"
        and kernels.compiled_kernels()
        and all(x.shape[0] - protected_tokens <= COMPILED_MAX_ROWS for x in arrays)
    )


def _cost(x: np.ndarray, spec: PoolingSpec) -> float:
    if spec.method == "grid":
        return estimated_seconds(x.shape[0], x.shape[1], "sequential")
    return estimated_seconds(max(x.shape[0] - spec.protected_tokens, 0), x.shape[1], spec.method)


def pool_soon(
    arrays: list[np.ndarray], spec: PoolingSpec, workers: int | None = None
) -> Future[list[np.ndarray]] | None:
    """Start pooling validated arrays that fit ``spec`` on the thread pool and return at once
    the future of their pooled arrays (as :func:`pool_arrays`), so a caller can read the
    next documents meanwhile; ``None`` where :func:`pool_arrays` would not use threads."""
    n_workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    if (
        n_workers == 1
        or not arrays
        or not spec.reduces
        or not uses_threads(spec.method, arrays, spec.protected_tokens)
    ):
        return None
    return thread_pool(n_workers).submit(_pool_chunk, arrays, spec)


def _get_executor(n_workers: int) -> ProcessPoolExecutor:
    global _executor, _executor_workers, _executor_pid
    with _lock:
        if _executor is not None and _executor_pid == os.getpid():
            if _executor_workers == n_workers:
                return _executor
            _executor.shutdown(wait=False, cancel_futures=True)
        ctx = multiprocessing.get_context("spawn")
        ex = ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_worker_init)
        # Workers are spawned by submit(), one per submit while none is idle: start them
        # all now (each pays its imports once, before the first batch is timed).
        ready = [ex.submit(_worker_ready) for _ in range(n_workers)]
        try:
            for f in ready:
                f.result()
        except BaseException:
            ex.shutdown(wait=False, cancel_futures=True)
            raise
        _executor, _executor_workers, _executor_pid = ex, n_workers, os.getpid()
        return ex


def spawn_reimports_main() -> bool:
    """Whether a ``spawn`` worker would run the caller's main module again: a script
    (``python script.py``), not ``python -m``, ``-c`` or an interactive session."""
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name is not None:
        return not (name == "__main__" or name.endswith(".__main__"))
    return getattr(main, "__file__", None) is not None


def shutdown_pool() -> None:
    """Stop the worker processes of :func:`pool_batch` and every :func:`thread_pool` (they
    restart on demand)."""
    global _executor
    with _lock:
        if _executor is not None and _executor_pid == os.getpid():
            _executor.shutdown(wait=True, cancel_futures=True)
        _executor = None
        if _pools_pid == os.getpid():
            for pool, _ in _pools.values():
                pool.shutdown(wait=True, cancel_futures=True)
        _pools.clear()


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
    spec: PoolingSpec | float | None = None,
    *args: Any,
    workers: int | None = None,
    **settings: Any,
) -> list[np.ndarray]:
    """Pool many documents; the same bytes as ``[pool_tokens(d, spec) for d in documents]``.

    Args:
        documents: ``(n_i, d_i)`` token matrices (numpy, torch or nested lists).
        spec: a :class:`~.spec.PoolingSpec`, or its settings as for :func:`pool_tokens`.
        workers: ``None``: all cores for a batch with enough work (``*_MIN_SECONDS``), else
            the calling thread; ``1``: the calling thread; ``k > 1``: ``k`` workers.

    Returns new float32 ``(m_i, d_i)`` arrays, in input order. Raises as
    :func:`pool_tokens` for the first bad document, its position as the point id (all are
    checked before any is pooled).
    """
    spec = as_spec(spec, *args, **settings)
    arrays = [as_multivector(doc, point_id=i) for i, doc in enumerate(documents)]
    for i, x in enumerate(arrays):
        check_layout(x, spec, point_id=i)
    return pool_arrays(arrays, spec, workers)


def pool_arrays(
    arrays: list[np.ndarray], spec: PoolingSpec, workers: int | None = None
) -> list[np.ndarray]:
    """:func:`pool_batch` on validated float32 ``(n_i, d)`` arrays that fit ``spec``
    (:func:`~qdrant_tokenpool.pooling.tokens.check_layout`); no checks here."""
    n_workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    if n_workers == 1 or len(arrays) < 2 or not (
        spec.reduces or any(x.size >= QDRANT_MAX_MULTIVECTOR_FLOATS for x in arrays)
    ):
        return _pool_chunk(arrays, spec)
    costs = [_cost(x, spec) for x in arrays]
    if uses_threads(spec.method, arrays, spec.protected_tokens) or spawn_reimports_main():
        if workers is None and sum(costs) < THREADS_MIN_SECONDS:
            return _pool_chunk(arrays, spec)
        return _pool_on(thread_pool(n_workers), arrays, costs, n_workers, spec)
    if workers is None:
        running = _executor is not None and _executor_pid == os.getpid()
        needed = PARALLEL_MIN_SECONDS if running else START_POOL_MIN_SECONDS
        if sum(costs) < needed:
            return _pool_chunk(arrays, spec)
    if multiprocessing.current_process().daemon:  # daemonic processes cannot have children
        return _pool_chunk(arrays, spec)
    try:
        ex = _get_executor(n_workers)
    except Exception:  # noqa: BLE001 - no processes here (sandbox, limits): pool in-process
        return _pool_chunk(arrays, spec)
    try:
        return _pool_on(ex, arrays, costs, n_workers, spec)
    except (BrokenProcessPool, OSError, RuntimeError):
        shutdown_pool()
        return _pool_chunk(arrays, spec)


def _pool_on(
    ex: ProcessPoolExecutor | ThreadPoolExecutor,
    arrays: list[np.ndarray],
    costs: list[float],
    n_workers: int,
    spec: PoolingSpec,
) -> list[np.ndarray]:
    """Pool ``arrays`` on ``ex`` in about 8 cost-balanced chunks per worker, in order."""
    groups = _chunks(costs, min(len(arrays), 8 * n_workers))
    futures = [ex.submit(_pool_chunk, [arrays[i] for i in g], spec) for g in groups]
    out: list[np.ndarray | None] = [None] * len(arrays)
    for g, fut in zip(groups, futures):
        for i, pooled in zip(g, fut.result()):
            out[i] = pooled
    return out  # type: ignore[return-value]
