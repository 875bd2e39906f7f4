"""The compiled kernels (``_kernels.pyx`` over ``_ward.h`` and ``_maxsim.h``): Ward pooling,
exact MaxSim for :mod:`qdrant_tokenpool.maxsim`, and nested lists read into float32
(:func:`nested_float32`). ``compiled`` is ``None`` where they were not built (the
extension is optional): every method still works on numpy and scipy, with the same
partitions. :func:`ward_labels` and :func:`ward_pool` reuse a per-thread scratch buffer
up to :data:`KEEP_BYTES`, so a stream of documents does not allocate per document.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from types import ModuleType

import numpy as np

__all__ = [
    "KEEP_BYTES",
    "cluster_sums",
    "compiled",
    "compiled_kernels",
    "fallback_only",
    "float64_gram",
    "gram32",
    "gram32_seconds",
    "gram_stats",
    "has",
    "load_blas",
    "maxsim_available",
    "nested_float32",
    "rows_ok",
    "ward_labels",
    "ward_merges",
    "ward_pool",
    "ward_pool_many",
]

compiled: ModuleType | None
try:  # by name: an import graph (import-linter) cannot see the compiled module
    compiled = import_module(f"{__package__}._kernels")
except ImportError:  # pragma: no cover - depends on the build
    compiled = None

KEEP_BYTES = 16 << 20
_local = threading.local()
_disabled = 0


def compiled_kernels() -> bool:
    """Whether the compiled pooling kernels are in use (``False``: numpy/scipy fallback)."""
    return compiled is not None and _disabled == 0


@contextmanager
def fallback_only() -> Iterator[None]:
    """Pool (and read nested lists) with the numpy/scipy fallback inside the ``with``
    block (benchmarks, checks).

    For this whole process while it lasts (other threads pool on the fallback too; the
    worker processes of ``pool_batch`` keep their kernel).
    """
    global _disabled
    _disabled += 1
    try:
        yield
    finally:
        _disabled -= 1


@contextmanager
def float64_gram() -> Iterator[None]:
    """Cluster on the float64 Gram matrix only inside the ``with`` block (checks,
    benchmarks). By default the compiled Ward cut computes the Gram matrix in float32
    (half the time) and keeps it only where that provably gives the float64 decisions
    (see ``_ward.h``); the bytes are the same either way. For the whole process while it
    lasts (not re-entrant across threads)."""
    if not has("set_float32_gram"):
        yield
        return
    old = compiled.set_float32_gram(False)  # type: ignore[union-attr]
    try:
        yield
    finally:
        compiled.set_float32_gram(old)  # type: ignore[union-attr]


def gram_stats(reset: bool = False) -> dict[str, int]:
    """How the compiled Ward cut decided, since the last reset: documents clustered on the
    float32 Gram matrix (``"float32"``), on the float64 one (``"float64"``: a tie the
    float32 bounds could not settle, or :func:`float64_gram`), and near ties settled on
    float64 cluster means (``"near_ties"``). ``{}`` without the kernels."""
    if not has("gram_stats"):
        return {}
    return dict(compiled.gram_stats(reset))  # type: ignore[union-attr]


def has(name: str) -> bool:
    """Whether the built extension has kernel ``name`` (an extension built from an older
    checkout may lack the newer ones: their callers then fall back; reinstall to build
    them)."""
    return compiled is not None and hasattr(compiled, name)


def load_blas() -> None:
    """Load the BLAS the compiled kernels run on (scipy's; they look it up on first use)."""
    if has("load_blas"):
        compiled.load_blas()  # type: ignore[union-attr]


def nested_float32(rows: object) -> np.ndarray | None:
    """``rows`` (a list or tuple of equally long lists or tuples of Python floats and ints)
    as a new float32 ``(n, d)`` C array, equal to ``np.asarray(rows, dtype=np.float32)``;
    ``None`` when the kernels are off (not built, or :func:`fallback_only`) or for any
    other input, or one numpy must judge (ragged, other item types, a finite value outside
    float32's range): the caller then reads it with numpy."""
    if _disabled or not has("nested_float32"):
        return None
    return compiled.nested_float32(rows)  # type: ignore[union-attr]


def rows_ok(x: np.ndarray, allow_zero: bool = False) -> bool | None:
    """Whether every row of a float32 C-contiguous ``(n, d)`` array is finite and (unless
    ``allow_zero``) not all zeros, in one compiled pass (``validation``'s fast check);
    ``None`` when the kernels are off or ``x`` is not such an array (numpy checks then)."""
    if _disabled or not has("rows_ok") or x.dtype != np.float32 or not x.flags.c_contiguous:
        return None
    return bool(compiled.rows_ok(x, allow_zero))  # type: ignore[union-attr]


def _workspace(n: int, d: int) -> np.ndarray:
    assert compiled is not None
    size = compiled.work_size(n, d)
    buf: np.ndarray | None = getattr(_local, "work", None)
    if buf is not None and buf.size >= size:
        return buf
    buf = np.empty(size, dtype=np.float64)
    if buf.nbytes <= KEEP_BYTES:
        _local.work = buf
    return buf


def ward_labels(u: np.ndarray, k: int, threshold: float | None = None) -> np.ndarray:
    """Compiled Ward cut of the unit rows of ``u`` (``(n, d)`` float32 C-contiguous).

    ``k`` clusters, or fewer when ``threshold`` (a merge height, scipy's linkage scale)
    merges more: every merge of height ``<= threshold`` is made. Returns labels ``(n,)``,
    ``0..k'-1`` by first row. Needs :func:`compiled_kernels`.
    """
    assert compiled is not None
    return compiled.ward_labels(u, k, _workspace(u.shape[0], u.shape[1]), threshold)


def ward_pool(x: np.ndarray, protected: int, k: int, threshold: float | None = None) -> np.ndarray:
    """Compiled hierarchical pooling of one validated document (``(n, d)`` float32).

    The ``protected`` first rows unchanged, then at most ``k`` unit cluster means (fewer
    when ``threshold`` merges more, as for :func:`ward_labels`), ordered by first token:
    float32 ``(protected + k', d)``. Needs :func:`compiled_kernels`.
    """
    assert compiled is not None
    return compiled.ward_pool(
        x, protected, k, _workspace(x.shape[0] - protected, x.shape[1]), threshold
    )


def ward_pool_many(
    xs: list[np.ndarray], protected: list[int], ks: list[int], threshold: float | None = None
) -> list[np.ndarray]:
    """:func:`ward_pool` on many documents (``xs``: float32 C-contiguous, ``protected`` and
    ``ks`` per document) in one compiled call that holds the GIL only to start and to
    finish; the same bytes as :func:`ward_pool` on each. Needs :func:`compiled_kernels`."""
    assert compiled is not None
    n = max(x.shape[0] - p for x, p in zip(xs, protected))
    d = max(x.shape[1] for x in xs)
    return compiled.ward_pool_many(xs, protected, ks, _workspace(n, d), threshold)


def ward_merges(d2: np.ndarray, k: int = 1) -> np.ndarray:
    """The compiled nearest-neighbour chain alone on ``(n, n)`` squared distances: the
    merges ``(x, y, squared height)`` in the order it makes them, stopping once the cut at
    ``k`` clusters is decided (``k=1``: all ``n - 1``). Needs :func:`compiled_kernels`."""
    assert compiled is not None
    return compiled.ward_merges(np.ascontiguousarray(d2, dtype=np.float64), k)  # type: ignore[no-any-return]


def ward_chain_seconds(d2: np.ndarray, k: int = 1) -> float:
    """Seconds :func:`ward_merges` spends in the chain itself (not in laying out ``d2``):
    the benchmarks' compute floor. Needs :func:`compiled_kernels`."""
    assert compiled is not None
    return float(compiled.ward_merges(np.ascontiguousarray(d2, dtype=np.float64), k, True)[1])


def gram32(u: np.ndarray) -> np.ndarray:
    """The float32 Gram matrix of the rows of ``u`` (``(n, d)``) as the compiled Ward cut
    computes it (its own block FMA product where ``d`` is a multiple of 8 on x86-64 with
    AVX2 and FMA, else BLAS ``ssyrk``): ``(n, n)`` float32, lower triangle and diagonal,
    zeros above. Needs :func:`compiled_kernels`."""
    assert compiled is not None
    return compiled.gram32(np.ascontiguousarray(u, dtype=np.float32))  # type: ignore[no-any-return]


def gram32_seconds(u: np.ndarray) -> float:
    """Seconds :func:`gram32` spends in the product itself: with
    :func:`ward_chain_seconds`, the benchmarks' compute floor. Needs
    :func:`compiled_kernels`."""
    assert compiled is not None
    return float(compiled.gram32(np.ascontiguousarray(u, dtype=np.float32), True)[1])


_maxsim_here: bool | None = None


def maxsim_available() -> bool:
    """Whether MaxSim runs on the compiled kernel: built, in use (not
    :func:`fallback_only`), and this CPU has AVX2 and FMA (x86-64); else ``maxsim``
    keeps its numpy path."""
    global _maxsim_here
    if _disabled or not has("maxsim_scores"):
        return False
    if _maxsim_here is None:
        _maxsim_here = bool(compiled.maxsim_supported())  # type: ignore[union-attr]
    return _maxsim_here


def cluster_sums(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Compiled float32 row sums per cluster, in row order (deterministic to the bit).

    ``x``: ``(n, d)``; ``labels``: ``(n,)`` ids >= 0. Returns ``(sums, firsts)``: ``(k, d)``
    sums ordered by each cluster's first row, and that first row (``(k,)``). Needs
    :func:`compiled_kernels`.
    """
    assert compiled is not None
    return compiled.cluster_sums(
        np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(labels, dtype=np.intp)
    )
