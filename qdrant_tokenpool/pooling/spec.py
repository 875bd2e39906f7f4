"""How to pool one document: the settings, checked once, and the vector budget they give.

A :class:`PoolingSpec` is the value passed between the pooling functions. The ``u``
unprotected vectors of a document are pooled into ``k`` vectors, where every budget bounds
``k`` and the smallest wins: ``max(1, floor(u / pool_factor))``, ``max_vectors -
protected``, Qdrant's cap (:func:`max_rows`), and with ``distance_threshold`` the Ward
dendrogram cut at that height (Ward merges are nested, so the lowest merges meet every
bound at once). ``grid`` merges neighbouring cells in runs only past the bound.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import KW_ONLY, dataclass
from typing import Any

from .validation import check_int

__all__ = [
    "GRID_POOLS",
    "METHODS",
    "QDRANT_MAX_MULTIVECTOR_FLOATS",
    "DocumentLayout",
    "PoolingSpec",
    "as_spec",
    "cluster_count",
    "max_rows",
    "pooled_length",
]

METHODS: tuple[str, ...] = ("hierarchical", "kmeans", "sequential", "grid")
"""Pooling methods: the three of Clavié, Chaffin and Adams 2024, best first, then ``grid``
(image patch grids)."""

GRID_POOLS: tuple[str, ...] = ("rows", "columns", "blocks")
"""How ``method="grid"`` groups the patches: one vector per grid row, per column, or per
``grid_block x grid_block`` block."""

QDRANT_MAX_MULTIVECTOR_FLOATS = 1_048_576
"""Qdrant refuses a multivector of this many floats (``n x d``) or more."""


def max_rows(dim: int) -> int:
    """Most vectors of dimension ``dim`` one Qdrant multivector holds (8,191 at 128)."""
    if dim < 1:
        raise ValueError(f"dimension must be >= 1, got {dim}")
    return (QDRANT_MAX_MULTIVECTOR_FLOATS - 1) // int(dim)


def cluster_count(n_tokens: int, pool_factor: float) -> int:
    """``max(1, floor(n_tokens / pool_factor))``, exact for fractional factors: the floor of
    ``n_tokens * q / p`` in integers, ``p / q`` the float's exact binary fraction."""
    if isinstance(pool_factor, numbers.Integral):
        return max(1, int(n_tokens) // int(pool_factor))
    p, q = float(pool_factor).as_integer_ratio()
    return max(1, int(n_tokens) * q // p)


def pooled_length(n_tokens: int, pool_factor: float, protected_tokens: int = 0) -> int:
    """Vectors that pooling with only a pool factor keeps of an ``n_tokens``-vector document
    (Qdrant's cap not applied); :meth:`PoolingSpec.stored_vectors` for a whole spec."""
    n_free = n_tokens - protected_tokens
    if pool_factor == 1 or n_free <= 0:
        return n_tokens
    return protected_tokens + cluster_count(n_free, pool_factor)


def _finite(name: str, value: Any, minimum: float) -> float:
    """``value`` as a float if it is a finite real number (not ``bool``) ``>= minimum``."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    try:
        f = float(value) if real else math.nan
    except OverflowError:  # an int beyond float's range
        f = math.nan
    if not (math.isfinite(f) and f >= minimum):
        raise ValueError(f"{name} must be a finite number >= {minimum:g}, got {value!r}")
    return f


def _pool_factor(value: Any) -> int | float:
    """An integer or finite float ``>= 1``; integral floats become ints (``2.0`` -> ``2``)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= 1:
        return int(value)
    f = _finite("pool_factor", value, 1)
    return int(f) if f.is_integer() else f


@dataclass(frozen=True)
class DocumentLayout:
    """Where one document's vectors go: ``lead`` kept in front, ``tail`` kept at the end,
    ``free`` pooled into at most ``bound`` vectors (``bound == free``: no fixed bound)."""

    lead: int
    free: int
    tail: int
    bound: int

    @property
    def protected(self) -> int:
        return self.lead + self.tail


@dataclass(frozen=True)
class PoolingSpec:
    """The numeric pooling knobs of one multivector, validated (``ValueError`` if bad).

    Attributes:
        pool_factor: number ``>= 1`` (fractional allowed): at most
            ``max(1, floor(u / pool_factor))`` vectors for ``u`` pooled tokens; 1: no bound.
        method: one of :data:`METHODS`.
        protected_tokens, protected_tail_tokens: leading / trailing vectors kept unpooled.
        max_vectors: at most this many stored vectors per document, protected included
            (``>= protected + 1``); ``None``: only Qdrant's cap.
        distance_threshold: ``hierarchical`` only: make every Ward merge of height
            ``<= distance_threshold`` (scipy's linkage scale; two tokens of cosine ``c`` are
            ``sqrt(2 - 2c)`` apart).
        grid_shape: ``grid`` only (required): ``(rows, cols)`` of the patch grid.
        grid_pool: ``grid`` only: one of :data:`GRID_POOLS` (default ``"rows"``).
        grid_block: ``grid_pool="blocks"`` only: block side (default 2).
    """

    pool_factor: int | float = 2
    method: str = "hierarchical"
    protected_tokens: int = 1
    _: KW_ONLY
    protected_tail_tokens: int = 0
    max_vectors: int | None = None
    distance_threshold: float | None = None
    grid_shape: tuple[int, int] | None = None
    grid_pool: str | None = None
    grid_block: int | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "pool_factor", _pool_factor(self.pool_factor))
        if self.method not in METHODS:
            raise ValueError(
                f"unknown pooling method {self.method!r}; expected one of {', '.join(METHODS)}"
            )
        lead = check_int("protected_tokens", self.protected_tokens, 0)
        tail = check_int("protected_tail_tokens", self.protected_tail_tokens, 0)
        set_(self, "protected_tokens", lead)
        set_(self, "protected_tail_tokens", tail)
        if self.max_vectors is not None:
            set_(self, "max_vectors", check_int("max_vectors", self.max_vectors, lead + tail + 1))
        if self.distance_threshold is not None:
            t = _finite("distance_threshold", self.distance_threshold, 0)
            if self.method != "hierarchical":
                raise ValueError(
                    "distance_threshold cuts the Ward dendrogram: it needs "
                    f"method='hierarchical', got method={self.method!r}"
                )
            set_(self, "distance_threshold", t)
        self._check_grid()

    def _check_grid(self) -> None:
        set_ = object.__setattr__
        if self.method != "grid":
            for name in ("grid_shape", "grid_pool", "grid_block"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} needs method='grid', got method={self.method!r}")
            return
        shape = self.grid_shape
        if shape is None:
            raise ValueError("method='grid' needs grid_shape=(rows, cols)")
        if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
            raise ValueError(f"grid_shape must be (rows, cols), got {shape!r}")
        rows, cols = (check_int("grid_shape rows and cols", v, 1) for v in shape)
        set_(self, "grid_shape", (rows, cols))
        pool = "rows" if self.grid_pool is None else self.grid_pool
        if pool not in GRID_POOLS:
            raise ValueError(f"grid_pool must be one of {', '.join(GRID_POOLS)}, got {pool!r}")
        set_(self, "grid_pool", pool)
        if pool == "blocks":
            set_(self, "grid_block", 2 if self.grid_block is None else check_int("grid_block", self.grid_block, 1))
        elif self.grid_block is not None:
            raise ValueError(f"grid_block needs grid_pool='blocks', got grid_pool={pool!r}")

    @property
    def grid_cells(self) -> int | None:
        """Pooled vectors a ``grid`` spec makes before any budget (``None`` otherwise)."""
        if self.grid_shape is None:
            return None
        rows, cols = self.grid_shape
        if self.grid_pool == "rows":
            return rows
        if self.grid_pool == "columns":
            return cols
        b = int(self.grid_block or 1)
        return -(-rows // b) * -(-cols // b)

    @property
    def keeps_unbounded(self) -> bool:
        """Whether a document that no bound reduces is stored unchanged (not normalised)."""
        return self.pool_factor == 1 and self.distance_threshold is None and self.method != "grid"

    @property
    def reduces(self) -> bool:
        """Whether anything but Qdrant's cap can change a document (``False``: pf=1 only)."""
        return (
            self.pool_factor != 1
            or self.max_vectors is not None
            or self.distance_threshold is not None
            or self.method == "grid"
        )

    def layout_error(self, n_tokens: int) -> str | None:
        """Why a document of ``n_tokens`` vectors does not fit this spec (only ``grid`` has a
        fixed length), or ``None``."""
        if self.grid_shape is None:
            return None
        rows, cols = self.grid_shape
        want = self.protected_tokens + rows * cols + self.protected_tail_tokens
        if n_tokens != want:
            return (
                f"has {n_tokens} token vectors, but the pooling grid needs {want} "
                f"({self.protected_tokens} leading + {rows} x {cols} patches + "
                f"{self.protected_tail_tokens} trailing)"
            )
        return None

    def layout(self, n_tokens: int, dim: int) -> DocumentLayout:
        """How a document of ``n_tokens`` vectors of dimension ``dim`` is split and bounded by
        the fixed bounds (the threshold is the clustering's). Protected vectors are taken
        leading first; where they alone leave no room under Qdrant's cap, trailing then
        leading vectors lose their protection."""
        lead = min(self.protected_tokens, n_tokens)
        tail = min(self.protected_tail_tokens, n_tokens - lead)
        cap = max_rows(dim)
        over = lead + tail + 1 - cap
        if over > 0 and n_tokens > cap:
            cut = min(tail, over)
            tail -= cut
            lead -= over - cut
        free = n_tokens - lead - tail
        bound = free
        if free > 0:
            if self.pool_factor != 1:
                bound = min(bound, cluster_count(free, self.pool_factor))
            if self.max_vectors is not None:
                bound = min(bound, max(1, self.max_vectors - lead - tail))
            bound = min(bound, cap - lead - tail)
        return DocumentLayout(lead, free, tail, bound)

    def stored_vectors(self, n_tokens: int, dim: int) -> int:
        """Vectors stored for a document of ``n_tokens`` x ``dim`` (an upper bound with a
        ``distance_threshold``)."""
        lay = self.layout(n_tokens, dim)
        if lay.free <= 0:
            return n_tokens
        k = lay.bound
        cells = self.grid_cells
        if cells is not None and self.layout_error(n_tokens) is None:
            k = min(k, cells)
        return lay.protected + k


def as_spec(spec: PoolingSpec | float | None = None, *args: Any, **settings: Any) -> PoolingSpec:
    """``spec`` itself, or the :class:`PoolingSpec` of the settings given instead
    (``pool_tokens(x, 2, "kmeans", max_vectors=64)``); ``TypeError`` for both."""
    if isinstance(spec, PoolingSpec):
        if args or settings:
            raise TypeError("give a PoolingSpec or its settings, not both")
        return spec
    if spec is not None:
        args = (spec, *args)
    return PoolingSpec(*args, **settings)
