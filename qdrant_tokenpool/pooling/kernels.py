"""The compiled kernels (``_kernels.pyx``): Ward pooling, exact MaxSim, nested lists read
into float32. ``compiled`` is ``None`` where the optional extension was not built: every
method then runs on numpy and scipy, with the same partitions. The ``ward_*``,
``gram32*`` and ``cluster_sums`` wrappers need :func:`compiled_kernels`; the Ward calls
reuse a per-thread scratch buffer up to :data:`KEEP_BYTES`.
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
    """The numpy/scipy fallback inside the ``with`` block, for this whole process (not the
    worker processes of ``pool_batch``)."""
    global _disabled
    _disabled += 1
    try:
        yield
    finally:
        _disabled -= 1


@contextmanager
def float64_gram() -> Iterator[None]:
    """The compiled Ward cut on the float64 Gram matrix only, inside the ``with`` block
    (process-wide, not re-entrant across threads). By default it uses float32 where that
    provably gives the float64 decisions (``_ward.h``): the same bytes either way."""
    if not has("set_float32_gram"):
        yield
        return
    old = compiled.set_float32_gram(False)  # type: ignore[union-attr]
    try:
        yield
    finally:
        compiled.set_float32_gram(old)  # type: ignore[union-attr]


def gram_stats(reset: bool = False) -> dict[str, int]:
    """Documents the compiled Ward cut clustered on the float32 and the float64 Gram
    matrix, and near ties it settled on float64 means, since the last reset (``{}``
    without the kernels)."""
    if not has("gram_stats"):
        return {}
    return dict(compiled.gram_stats(reset))  # type: ignore[union-attr]


def has(name: str) -> bool:
    """Whether the built extension has kernel ``name`` (one built from an older checkout
    may lack it: callers then fall back)."""
    return compiled is not None and hasattr(compiled, name)


def load_blas() -> None:
    """Load the BLAS the compiled kernels run on (scipy's; they look it up on first use)."""
    if has("load_blas"):
        compiled.load_blas()  # type: ignore[union-attr]


def nested_float32(rows: object) -> np.ndarray | None:
    """A list of equally long lists of Python floats/ints as a new float32 ``(n, d)`` array,
    equal to ``np.asarray(rows, dtype=np.float32)``; ``None`` when the kernels are off or
    for any input numpy must judge (ragged, other types, outside float32's range)."""
    if _disabled or not has("nested_float32"):
        return None
    return compiled.nested_float32(rows)  # type: ignore[union-attr]


def rows_ok(x: np.ndarray, allow_zero: bool = False) -> bool | None:
    """Whether every row of a float32 C ``(n, d)`` array is finite and (unless
    ``allow_zero``) non-zero, in one pass; ``None`` when the kernels are off or ``x`` is
    another kind of array."""
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
    """Compiled Ward cut of the unit rows of ``u`` (``(n, d)`` float32 C) into ``k``
    clusters, fewer when merges of height ``<= threshold`` (scipy's scale) make fewer.
    Returns labels ``(n,)``, ``0..k'-1`` by first row."""
    assert compiled is not None
    return compiled.ward_labels(u, k, _workspace(u.shape[0], u.shape[1]), threshold)


def ward_pool(x: np.ndarray, protected: int, k: int, threshold: float | None = None) -> np.ndarray:
    """Compiled hierarchical pooling of one validated ``(n, d)`` float32 document: the
    ``protected`` first rows, then at most ``k`` unit cluster means by first token (as
    :func:`ward_labels`): float32 ``(protected + k', d)``."""
    assert compiled is not None
    return compiled.ward_pool(
        x, protected, k, _workspace(x.shape[0] - protected, x.shape[1]), threshold
    )


def ward_pool_many(
    xs: list[np.ndarray], protected: list[int], ks: list[int], threshold: float | None = None
) -> list[np.ndarray]:
    """:func:`ward_pool` on many float32 C documents in one call that releases the GIL;
    the same bytes as :func:`ward_pool` on each."""
    assert compiled is not None
    n = max(x.shape[0] - p for x, p in zip(xs, protected))
    d = max(x.shape[1] for x in xs)
    return compiled.ward_pool_many(xs, protected, ks, _workspace(n, d), threshold)


def ward_merges(d2: np.ndarray, k: int = 1) -> np.ndarray:
    """The compiled nearest-neighbour chain alone on ``(n, n)`` squared distances: merges
    ``(x, y, squared height)`` in order, until the cut at ``k`` clusters is decided."""
    assert compiled is not None
    return compiled.ward_merges(np.ascontiguousarray(d2, dtype=np.float64), k)  # type: ignore[no-any-return]


def ward_chain_seconds(d2: np.ndarray, k: int = 1) -> float:
    """Seconds :func:`ward_merges` spends in the chain itself (a benchmark floor)."""
    assert compiled is not None
    return float(compiled.ward_merges(np.ascontiguousarray(d2, dtype=np.float64), k, True)[1])


def gram32(u: np.ndarray) -> np.ndarray:
    """The float32 Gram matrix of the rows of ``u`` as the compiled Ward cut computes it:
    ``(n, n)``, lower triangle and diagonal, zeros above."""
    assert compiled is not None
    return compiled.gram32(np.ascontiguousarray(u, dtype=np.float32))  # type: ignore[no-any-return]


def gram32_seconds(u: np.ndarray) -> float:
    """Seconds :func:`gram32` spends in the product itself (a benchmark floor)."""
    assert compiled is not None
    return float(compiled.gram32(np.ascontiguousarray(u, dtype=np.float32), True)[1])


_maxsim_here: bool | None = None


def maxsim_available() -> bool:
    """Whether MaxSim runs on the compiled kernel: built, in use, and a CPU with AVX2 and
    FMA."""
    global _maxsim_here
    if _disabled or not has("maxsim_scores"):
        return False
    if _maxsim_here is None:
        _maxsim_here = bool(compiled.maxsim_supported())  # type: ignore[union-attr]
    return _maxsim_here


def cluster_sums(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float32 row sums per cluster of ``x`` (``(n, d)``; ``labels`` ``(n,)`` ids >= 0), in
    row order: ``(sums (k, d), firsts (k,))``, ordered by each cluster's first row."""
    assert compiled is not None
    return compiled.cluster_sums(
        np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(labels, dtype=np.intp)
    )
