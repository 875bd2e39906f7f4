"""The compiled pooling kernels (``_kernels.pyx``), or ``None`` where they were not built.

They also read nested lists of floats into float32 matrices (:func:`nested_float32`, used
by :mod:`qdrant_tokenpool.pooling.validation`: 0.1 ms instead of numpy's 0.9 ms for 180 x 128).

``pip install`` compiles them with Cython when a C compiler is there (the extension is
optional, see ``setup.py``). Without them every pooling method still works, on numpy and
scipy, with the same partitions: the kernels make hierarchical pooling and the cluster
means faster (see ``docs/benchmarks.md``).

:func:`ward_labels` and :func:`ward_pool` hand the kernels a per-thread scratch buffer
that is reused between calls, so pooling a stream of documents does not allocate (and
page-fault) megabytes per document. Buffers up to :data:`KEEP_BYTES` are kept; larger
ones (documents of more than ~1,400 tokens) are allocated per call.
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
    "has",
    "load_blas",
    "nested_float32",
    "ward_labels",
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
