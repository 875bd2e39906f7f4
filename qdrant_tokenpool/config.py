"""Pooling configuration and its stored form in a Qdrant collection's metadata.

A collection's pooling config maps a vector name (``""`` is the unnamed default
vector) to a :class:`PoolingConfig`. It is stored in the collection's metadata under
one namespaced key, :data:`METADATA_KEY`, with a format version, so that every
process (and a plain ``QdrantClient`` reading the metadata) sees the same settings::

    {"qdrant_tokenpool": {"format": 2,
                          "vectors": {"colbert": {"pool_factor": 1.5,
                                                  "method": "hierarchical",
                                                  "protected_tokens": 1,
                                                  "max_vectors": 256}}}}

Format history: format 1 held ``pool_factor`` (an integer), ``method``,
``protected_tokens``, ``summary_vector`` and ``keep_original_vector``; it is still read
exactly as before (and only those fields). Format 2 (written now) adds fractional pool
factors, ``protected_tail_tokens``, ``max_vectors``, ``distance_threshold`` and the patch
grid (``method="grid"``, ``grid_shape``, ``grid_pool``, ``grid_block``). Other versions
are refused with a clear error, never guessed.

This module never imports qdrant_client: it converts plain dicts. The numeric checks are
the pooling numerics' own (:class:`~qdrant_tokenpool.pooling.spec.PoolingSpec`).
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

from .pooling.spec import GRID_POOLS, METHODS, PoolingSpec
from .pooling.validation import vector_label

if TYPE_CHECKING:  # imported at run time only when a summary is checked: firststage
    from .firststage import MuveraParams  # imports the numerics, which import this module

__all__ = [
    "DEFAULT_SUMMARY_METHOD",
    "FORMAT_READERS",
    "FORMAT_VERSION",
    "GRID_POOLS",
    "METADATA_KEY",
    "METHODS",
    "READABLE_FORMATS",
    "PoolingConfig",
    "PoolingConfigError",
    "pooling_from_metadata",
    "pooling_to_metadata",
    "vector_label",
]

METADATA_KEY = "qdrant_tokenpool"
"""Top-level key of the collection metadata that holds the pooling config."""

FORMAT_VERSION = 2
"""Version of the stored format that this package writes."""

FORMAT_1_FIELDS = frozenset(
    {"pool_factor", "method", "protected_tokens", "summary_vector", "keep_original_vector"}
)
"""The fields a format-1 entry may hold (format 1 is read exactly as before)."""

Method = Literal["hierarchical", "kmeans", "sequential", "grid"]
GridPool = Literal["rows", "columns", "blocks"]

DEFAULT_SUMMARY_METHOD: str = "mean"
"""First-stage encoding of a ``summary_vector`` when ``summary_method`` is not given.
A stored config without ``summary_method`` (written before it existed) reads as
``"mean"`` whatever this default is."""


class PoolingConfigError(ValueError):
    """A pooling config (or its stored form) is invalid."""


def _check_name(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise PoolingConfigError(f"{name} must be a non-empty vector name or None, got {value!r}")
    return value


@dataclass(frozen=True)
class PoolingConfig:
    """How to pool one multivector of a collection. Immutable and validated.

    Every budget knob is an upper bound on a document's pooled vectors and the smallest
    wins (see :mod:`qdrant_tokenpool.pooling.spec`); whatever the knobs, a stored
    multivector always fits Qdrant's cap of fewer than 1,048,576 floats (a document that
    would not is pooled further, never refused).

    Attributes:
        pool_factor: target reduction, a number ``>= 1`` (fractional allowed); an
            ``n``-token document keeps ``max(1, floor((n - protected) / pool_factor))``
            pooled vectors plus its protected tokens. ``1`` sets no bound (stored
            unchanged unless another knob or Qdrant's cap reduces it).
        method: ``"hierarchical"`` (Ward linkage on the unit vectors, the paper's best),
            ``"kmeans"`` (seeded spherical k-means), ``"sequential"`` (runs of
            neighbouring tokens) or ``"grid"`` (an image's patch grid, see ``grid_shape``).
        protected_tokens: leading vectors (e.g. ``[CLS]``, ``[D]``) that pass through
            unpooled, in front.
        summary_vector: optional name of a dense vector that the write path fills with
            a single-vector encoding of the document (the HNSW first stage of the query
            funnel, which encodes the query the same way); ``None`` for none.
        summary_method: how ``summary_vector`` encodes a document
            (:mod:`qdrant_tokenpool.firststage`): ``"mean"``, the normalised mean of the
            token vectors (``d`` dimensions, the pooled vector's distance), or
            ``"muvera"``, a MUVERA fixed dimensional encoding (``muvera.output_dim(d)``
            dimensions, Dot distance). Default :data:`DEFAULT_SUMMARY_METHOD` when a
            summary vector is set; only with ``summary_vector``.
        muvera: :class:`~qdrant_tokenpool.firststage.MuveraParams` (or a dict of them)
            of ``summary_method="muvera"``; default the paper's reference parameters
            (``k_sim=5, dim_proj=16, r_reps=20, seed=42``: 10,240 dimensions).
        keep_original_vector: optional name of a multivector that the write path fills
            with the unpooled token vectors (for full-resolution rescoring in the query
            funnel); ``None`` for none.
        protected_tail_tokens: trailing vectors (e.g. ColPali/ColQwen's prompt and
            special tokens after the image patches) that pass through unpooled, in order,
            at the end.
        max_vectors: at most this many stored vectors per document, protected ones
            included (``>= protected_tokens + protected_tail_tokens + 1``); ``None``: none.
        distance_threshold: adaptive pooling (``method="hierarchical"`` only): every Ward
            merge of height ``<= distance_threshold`` is made, in the scale of scipy's
            ``linkage(unit_vectors, "ward")`` (two tokens of cosine ``c`` are
            ``sqrt(2 - 2c)`` apart), so redundant documents keep fewer vectors. It only
            merges more than ``pool_factor``/``max_vectors`` ask for: set
            ``pool_factor=1`` for purely adaptive pooling. Finite, ``>= 0``; ``None``: off.
        grid_shape: ``method="grid"`` only (required there): ``(rows, cols)`` of the
            image patch grid; each document must hold exactly
            ``protected_tokens + rows * cols + protected_tail_tokens`` vectors.
        grid_pool: ``method="grid"``: ``"rows"`` (the default), ``"columns"`` or ``"blocks"``.
        grid_block: ``grid_pool="blocks"``: the block side ``k`` (``k x k`` patches;
            default 2).
    """

    pool_factor: float = 2
    method: Method = "hierarchical"
    protected_tokens: int = 1
    summary_vector: str | None = None
    keep_original_vector: str | None = None
    protected_tail_tokens: int = 0
    max_vectors: int | None = None
    distance_threshold: float | None = None
    grid_shape: tuple[int, int] | None = None
    grid_pool: GridPool | None = None
    grid_block: int | None = None
    summary_method: Literal["mean", "muvera"] | None = None
    muvera: MuveraParams | None = None

    def __post_init__(self) -> None:
        if isinstance(self.grid_shape, list):  # as JSON stores it
            object.__setattr__(self, "grid_shape", tuple(self.grid_shape))
        try:
            spec = self._make_spec()
        except ValueError as exc:
            raise PoolingConfigError(str(exc)) from None
        for name in _SPEC_FIELDS:
            object.__setattr__(self, name, getattr(spec, name))
        _check_name("summary_vector", self.summary_vector)
        _check_name("keep_original_vector", self.keep_original_vector)
        if self.summary_vector is not None and self.summary_vector == self.keep_original_vector:
            raise PoolingConfigError("summary_vector and keep_original_vector must differ")
        self._check_summary()

    def _check_summary(self) -> None:
        """Resolve ``summary_method`` / ``muvera`` against ``summary_vector``."""
        from .firststage import SUMMARY_METHODS, MuveraParams

        method: str | None = self.summary_method
        muvera: Any = self.muvera
        if self.summary_vector is None:
            if method is not None or muvera is not None:
                raise PoolingConfigError(
                    "summary_method and muvera need a summary_vector (the dense vector "
                    "that holds the first-stage encoding)"
                )
            return
        method = DEFAULT_SUMMARY_METHOD if method is None else method
        if method not in SUMMARY_METHODS:
            raise PoolingConfigError(
                f"unknown summary_method {method!r}; expected one of {', '.join(SUMMARY_METHODS)}"
            )
        if method == "mean":
            if muvera is not None:
                raise PoolingConfigError('muvera parameters need summary_method="muvera"')
        elif not isinstance(muvera, MuveraParams):
            if muvera is None:
                muvera = MuveraParams()
            elif isinstance(muvera, Mapping):
                known = {f.name for f in fields(MuveraParams)}
                unknown = set(muvera) - known
                if unknown:
                    raise PoolingConfigError(
                        f"unknown muvera parameter(s): {', '.join(sorted(unknown))}"
                    )
                try:
                    muvera = MuveraParams(**dict(muvera))
                except ValueError as exc:
                    raise PoolingConfigError(f"muvera: {exc}") from None
            else:
                raise PoolingConfigError(
                    f"muvera must be MuveraParams or a mapping, got {type(muvera).__name__}"
                )
        object.__setattr__(self, "summary_method", method)
        object.__setattr__(self, "muvera", muvera)

    def _make_spec(self) -> PoolingSpec:
        return PoolingSpec(**{name: getattr(self, name) for name in _SPEC_FIELDS})

    @property
    def spec(self) -> PoolingSpec:
        """The numeric pooling knobs, as the pooling functions take them."""
        return self._make_spec()

    # -- plain dict / JSON round-trip ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; optional fields that are ``None`` (and
        ``protected_tail_tokens`` when 0) are left out; ``grid_shape`` is a list."""
        d = asdict(self)
        if d["grid_shape"] is not None:
            d["grid_shape"] = list(d["grid_shape"])
        if d["protected_tail_tokens"] == 0:
            del d["protected_tail_tokens"]
        return {k: v for k, v in d.items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PoolingConfig:
        """Inverse of :meth:`to_dict`. Unknown keys are refused (they would be lost)."""
        if not isinstance(data, Mapping):
            raise PoolingConfigError(f"pooling config must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise PoolingConfigError(
                f"unknown pooling config field(s): {', '.join(sorted(unknown))}"
            )
        return cls(**dict(data))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PoolingConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PoolingConfigError(f"pooling config is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def summary_dim(self, dim: int) -> int:
        """Dimensions of the summary vector for ``dim``-dimensional tokens: ``dim`` for
        the mean summary, the MUVERA encoding's size for ``"muvera"``."""
        return self.muvera.output_dim(dim) if self.muvera is not None else int(dim)

    def extra_vector_names(self) -> tuple[str, ...]:
        """Names of the extra vectors this config asks the write path to fill."""
        return tuple(n for n in (self.summary_vector, self.keep_original_vector) if n)


_SPEC_FIELDS = tuple(f.name for f in fields(PoolingSpec))

PoolingMap = dict[str, PoolingConfig]


def coerce_pooling(
    pooling: Mapping[str, PoolingConfig | Mapping[str, Any]] | PoolingConfig,
) -> PoolingMap:
    """Accept ``{vector_name: PoolingConfig | dict}`` and return validated configs.

    A ``PoolingConfig`` may be given instead of a mapping; it then applies to the
    unnamed default vector ``""``.
    """
    if isinstance(pooling, PoolingConfig):
        return {"": pooling}
    if not isinstance(pooling, Mapping):
        raise PoolingConfigError(
            "pooling must map vector names to PoolingConfig, "
            f"got {type(pooling).__name__}"
        )
    out: PoolingMap = {}
    for name, cfg in pooling.items():
        if not isinstance(name, str):
            raise PoolingConfigError(f"vector names must be strings, got {name!r}")
        out[name] = cfg if isinstance(cfg, PoolingConfig) else PoolingConfig.from_dict(cfg)
    used: dict[str, str] = {}
    for name, cfg in out.items():
        for extra in cfg.extra_vector_names():
            if extra in out:
                raise PoolingConfigError(
                    f"vector {extra!r} is both pooled and an extra vector of {name!r}"
                )
            if extra in used:
                raise PoolingConfigError(
                    f"extra vector {extra!r} is used by both {used[extra]!r} and {name!r}"
                )
            used[extra] = name
    return out


def pooling_to_metadata(pooling: Mapping[str, PoolingConfig]) -> dict[str, Any]:
    """The collection-metadata entry (``{METADATA_KEY: {...}}``) for a pooling map;
    ``{METADATA_KEY: None}`` (no config) for an empty one."""
    if not pooling:
        return {METADATA_KEY: None}
    return {
        METADATA_KEY: {
            "format": FORMAT_VERSION,
            "vectors": {name: cfg.to_dict() for name, cfg in sorted(pooling.items())},
        }
    }


def _format_1_entry(name: Any, cfg: Any) -> None:
    """Refuse what format 1 could not hold (it is read exactly as before)."""
    if not isinstance(cfg, Mapping):
        return  # coerce_pooling names the problem
    extra = set(cfg) - FORMAT_1_FIELDS
    if extra:
        raise PoolingConfigError(
            f"vector {name!r}: field(s) {', '.join(sorted(map(str, extra)))} are not part "
            "of stored format 1"
        )
    pf = cfg.get("pool_factor", 2)
    if isinstance(pf, bool) or not isinstance(pf, numbers.Integral):
        raise PoolingConfigError(
            f"vector {name!r}: pool_factor must be an integer in stored format 1, got {pf!r}"
        )


def _entry_vectors(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    """The non-empty ``vectors`` mapping of an entry ``{"format": N, "vectors": {...}}``."""
    unknown = set(entry) - {"format", "vectors"}
    if unknown:
        raise PoolingConfigError(f"unknown key(s) {', '.join(sorted(map(repr, unknown)))}")
    if "vectors" not in entry:
        raise PoolingConfigError("'vectors' is missing (no vector is configured)")
    vectors = entry["vectors"]
    if not isinstance(vectors, Mapping):
        raise PoolingConfigError(f"'vectors' must be a mapping, got {type(vectors).__name__}")
    if not vectors:
        raise PoolingConfigError("'vectors' is empty (no vector is configured)")
    return vectors


def _read_format_1(entry: Mapping[str, Any]) -> PoolingMap:
    """Format 1: ``{"format": 1, "vectors": {name: PoolingConfig.to_dict(), ...}}`` with
    only the five fields format 1 had (integer ``pool_factor``): read exactly as before."""
    vectors = _entry_vectors(entry)
    for name, cfg in vectors.items():
        _format_1_entry(name, cfg)
    return coerce_pooling({name: _stored_defaults(cfg) for name, cfg in vectors.items()})


def _read_format_2(entry: Mapping[str, Any]) -> PoolingMap:
    """Format 2: as format 1, plus the budget and layout fields (fractional
    ``pool_factor``, ``protected_tail_tokens``, ``max_vectors``, ``distance_threshold``,
    ``grid_shape``/``grid_pool``/``grid_block`` with ``method="grid"``) and the
    first-stage encoding (``summary_method``, ``muvera``; an entry with a summary vector
    but no ``summary_method`` was written before it existed: ``"mean"``)."""
    return coerce_pooling(
        {name: _stored_defaults(cfg) for name, cfg in _entry_vectors(entry).items()}
    )


FORMAT_READERS: dict[int, Callable[[Mapping[str, Any]], PoolingMap]] = {
    1: _read_format_1,
    2: _read_format_2,
}
"""One reader per stored format version: the entry under :data:`METADATA_KEY` (its
``format`` already checked) to a pooling map, raising :class:`PoolingConfigError` with
the problem. A new format adds its reader here; older formats keep theirs."""

READABLE_FORMATS: tuple[int, ...] = tuple(sorted(FORMAT_READERS))
"""Stored formats this package reads; any other version is refused."""


def pooling_from_metadata(
    metadata: Mapping[str, Any] | None, collection_name: str | None = None
) -> PoolingMap:
    """Read the pooling map from a collection's metadata (``{}`` when there is none).

    Reads formats 1 and 2 (:data:`FORMAT_READERS`). Refuses, with a
    :class:`PoolingConfigError` naming ``collection_name`` and the problem, anything that
    is not a complete config of a known format: an entry that is not a mapping, a
    ``format`` that is not an integer (``true``, ``1.0``, ``"1"``), a format this version
    does not read, and what the format's reader refuses (missing or empty ``vectors``,
    unknown keys, invalid configs; in format 1 also the fields it did not have). A partial
    config is never read as "no pooling".
    """
    if not metadata or METADATA_KEY not in metadata or metadata[METADATA_KEY] is None:
        return {}
    where = f"metadata[{METADATA_KEY!r}]"
    if collection_name is not None:
        where = f"collection {collection_name!r}: {where}"
    try:
        entry = metadata[METADATA_KEY]
        if not isinstance(entry, Mapping):
            raise PoolingConfigError(f"must be a mapping, got {type(entry).__name__}")
        version = entry.get("format")
        if isinstance(version, bool) or not isinstance(version, int):
            raise PoolingConfigError(
                f"'format' must be an integer format version, got {version!r}"
            )
        reader = FORMAT_READERS.get(version)
        if reader is None:
            newest = max(FORMAT_READERS)
            hint = " (upgrade the package)" if version > newest else ""
            raise PoolingConfigError(
                f"has format {version}; this version of qdrant-tokenpool reads format(s) "
                f"{', '.join(map(str, sorted(FORMAT_READERS)))}{hint}"
            )
        return reader(entry)
    except PoolingConfigError as exc:
        raise PoolingConfigError(f"{where}: {exc}") from None


def _stored_defaults(cfg: Any) -> Any:
    """A stored config as written: a summary vector without ``summary_method`` predates
    the field and holds the mean summary, whatever :data:`DEFAULT_SUMMARY_METHOD` is."""
    if isinstance(cfg, Mapping) and cfg.get("summary_vector") and "summary_method" not in cfg:
        return {**cfg, "summary_method": "mean"}
    return cfg
