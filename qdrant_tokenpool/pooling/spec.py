"""How to pool one document: the settings, checked once, and the vector budget they give.

A :class:`PoolingSpec` is the value passed between the pooling functions. A document's
``protected_tokens`` leading and ``protected_tail_tokens`` trailing vectors pass through
unpooled; the ``u`` between them are pooled into ``k`` vectors, where every budget is an
upper bound on ``k`` and the smallest wins: ``max(1, floor(u / pool_factor))``;
``max_vectors - protected``; Qdrant's cap, always (fewer than
:data:`QDRANT_MAX_MULTIVECTOR_FLOATS` floats: :func:`max_rows`); with
``distance_threshold`` (hierarchical only), the clusters of the Ward dendrogram cut at
that height. Ward merges are nested, so taking the lowest merges meets every bound at
once. ``grid`` keeps its cells, merging neighbouring cells in runs only when there are
more cells than the bound. Pure numerics: no Qdrant, no I/O.
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
"""Qdrant refuses a multivector of this many floats (``n x d``) or more (strictly fewer
are allowed). The one place this number lives."""


def max_rows(dim: int) -> int:
    """Most vectors of dimension ``dim`` that one Qdrant multivector can hold.

    ``(QDRANT_MAX_MULTIVECTOR_FLOATS - 1) // dim``: 8,191 at 128 dimensions, 2,730 at 384,
    1,365 at 768, 1,023 at 1,024, 511 at 2,048, 255 at 4,096.
    """
    if dim < 1:
        raise ValueError(f"dimension must be >= 1, got {dim}")
    return (QDRANT_MAX_MULTIVECTOR_FLOATS - 1) // int(dim)


def cluster_count(n_tokens: int, pool_factor: float) -> int:
    """``max(1, floor(n_tokens / pool_factor))``: clusters for ``n_tokens`` pooled tokens.

    Exact for fractional factors: the float ``pool_factor`` is taken as the exact binary
    fraction it holds (``p / q``) and the floor is taken in integers
    (``n_tokens * q // p``), so e.g. ``floor(3 / 1.5) == 2`` with no rounding surprise.
    """
    if isinstance(pool_factor, numbers.Integral):
        return max(1, int(n_tokens) // int(pool_factor))
    p, q = float(pool_factor).as_integer_ratio()
    return max(1, int(n_tokens) * q // p)


def pooled_length(n_tokens: int, pool_factor: float, protected_tokens: int = 0) -> int:
    """Vectors that pooling with only a pool factor keeps of an ``n_tokens``-vector
    document (no other knob, Qdrant's cap not applied): the protected ones plus
    ``cluster_count`` of the rest (all ``n_tokens`` when ``pool_factor`` is 1 or no token
    is left after the protected ones). For a whole config use
    :meth:`PoolingSpec.stored_vectors`, which this is the special case of."""
    n_free = n_tokens - protected_tokens
    if pool_factor == 1 or n_free <= 0:
        return n_tokens
    return protected_tokens + cluster_count(n_free, pool_factor)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _pool_factor(value: Any) -> int | float:
    """An integer or float ``>= 1``, finite; integral floats become ints (``2.0`` -> ``2``)."""
    bad = ValueError(f"pool_factor must be a finite number >= 1, got {value!r}")
    if _is_int(value):
        if value < 1:
            raise bad
        return int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad
    f = float(value)
    if not math.isfinite(f) or f < 1.0:
        raise bad
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
            ``max(1, floor(u / pool_factor))`` pooled vectors for ``u`` pooled tokens;
            ``1`` sets no bound.
        method: ``"hierarchical"``, ``"kmeans"``, ``"sequential"`` or ``"grid"``.
        protected_tokens: leading vectors kept unpooled, in front.
        protected_tail_tokens: trailing vectors kept unpooled, in order, at the end.
        max_vectors: at most this many stored vectors per document, protected ones
            included (``>= protected_tokens + protected_tail_tokens + 1``); ``None``: no cap
            beyond Qdrant's.
        distance_threshold: ``hierarchical`` only: make every Ward merge of height
            ``<= distance_threshold`` (scipy's linkage scale on the unit vectors; two single
            tokens of cosine ``c`` are ``sqrt(2 - 2c)`` apart); finite, ``>= 0``.
        grid_shape: ``grid`` only (required there): ``(rows, cols)`` of the patch grid;
            a document must hold exactly ``protected + rows * cols`` vectors.
        grid_pool: ``grid`` only: ``"rows"`` (default), ``"columns"`` or ``"blocks"``.
        grid_block: ``grid_pool="blocks"`` only: block side ``k >= 1`` (default 2); edge
            blocks of a grid that ``k`` does not divide are smaller.
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
            t = self.distance_threshold
            if isinstance(t, bool) or not isinstance(t, numbers.Real) or not (
                math.isfinite(float(t)) and float(t) >= 0.0
            ):
                raise ValueError(f"distance_threshold must be a finite number >= 0, got {t!r}")
            if self.method != "hierarchical":
                raise ValueError(
                    "distance_threshold cuts the Ward dendrogram: it needs "
                    f"method='hierarchical', got method={self.method!r}"
                )
            set_(self, "distance_threshold", float(t))
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

    # -- derived --------------------------------------------------------------------------
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
        """Whether a document that no bound reduces is stored unchanged (not normalised):
        ``pool_factor`` 1, no threshold, not ``grid``."""
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
        """Why a document of ``n_tokens`` vectors does not fit this spec, or ``None``.

        Only ``grid`` has a fixed layout: exactly ``protected_tokens + rows * cols +
        protected_tail_tokens`` vectors.
        """
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
        """How a document of ``n_tokens`` vectors of dimension ``dim`` is split and bounded.

        Protected vectors are taken leading first (a short document keeps what it has).
        Every fixed bound (pool factor, ``max_vectors``, Qdrant's cap) is applied; the
        distance threshold, which depends on the vectors, is applied by the clustering.
        In the one case where the protected vectors alone would leave no room under
        Qdrant's cap (``protected + 1 > max_rows(dim)``, e.g. 16 protected vectors of 65,536
        dimensions), trailing then leading vectors lose their protection and are pooled.
        """
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
        """Vectors stored for a document of ``n_tokens`` x ``dim``: exact, except with a
        ``distance_threshold``, where it is the upper bound (the threshold can only merge
        more). A ``grid`` document that fits the grid stores at most its cell count."""
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
    (``pool_factor``, ``method``, ``protected_tokens`` positionally, the rest by name).

    Lets the pooling functions take either form: ``pool_tokens(x, spec)`` or
    ``pool_tokens(x, 2, "kmeans", max_vectors=64)``. ``TypeError`` for a spec and settings.
    """
    if isinstance(spec, PoolingSpec):
        if args or settings:
            raise TypeError("give a PoolingSpec or its settings, not both")
        return spec
    if spec is not None:
        args = (spec, *args)
    return PoolingSpec(*args, **settings)
