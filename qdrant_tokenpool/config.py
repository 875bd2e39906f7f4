"""Pooling configuration and its stored form in a Qdrant collection's metadata.

A collection's pooling config maps a vector name (``""`` is the unnamed default
vector) to a :class:`PoolingConfig`. It is stored in the collection's metadata under
one namespaced key, :data:`METADATA_KEY`, with a format version, so that every
process (and a plain ``QdrantClient`` reading the metadata) sees the same settings::

    {"qdrant_tokenpool": {"format": 1,
                          "vectors": {"colbert": {"pool_factor": 2,
                                                  "method": "hierarchical",
                                                  "protected_tokens": 1}}}}

This module never imports qdrant_client: it converts plain dicts.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

__all__ = [
    "FORMAT_READERS",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "METHODS",
    "PoolingConfig",
    "PoolingConfigError",
    "pooling_from_metadata",
    "pooling_to_metadata",
    "vector_label",
]

METADATA_KEY = "qdrant_tokenpool"
"""Top-level key of the collection metadata that holds the pooling config."""

FORMAT_VERSION = 1
"""Version of the stored format. Readers accept this version and refuse newer ones."""

METHODS: tuple[str, ...] = ("hierarchical", "kmeans", "sequential")
"""Pooling methods, best first (Clavié, Chaffin and Adams 2024)."""

Method = Literal["hierarchical", "kmeans", "sequential"]


def vector_label(name: str) -> str:
    """A vector name as error messages quote it: ``'colbert'``, or
    ``'' (the default vector)`` for the unnamed default vector."""
    return repr(name) if name else "'' (the default vector)"


class PoolingConfigError(ValueError):
    """A pooling config (or its stored form) is invalid."""


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise PoolingConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_name(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise PoolingConfigError(f"{name} must be a non-empty vector name or None, got {value!r}")
    return value


@dataclass(frozen=True)
class PoolingConfig:
    """How to pool one multivector of a collection. Immutable and validated.

    Attributes:
        pool_factor: target reduction; an ``n``-token document keeps
            ``max(1, (n - protected_tokens) // pool_factor)`` pooled vectors plus its
            protected tokens. ``1`` stores the vectors unchanged.
        method: ``"hierarchical"`` (Ward linkage on the unit vectors, the paper's best),
            ``"kmeans"`` (seeded spherical k-means) or ``"sequential"`` (runs of
            neighbouring tokens).
        protected_tokens: leading vectors (e.g. ``[CLS]``, ``[D]``) that pass through
            unpooled, in front.
        summary_vector: optional name of a dense vector that the write path fills with
            the normalised mean of the document's token vectors (a single-vector first
            stage for the query funnel); ``None`` for none.
        keep_original_vector: optional name of a multivector that the write path fills
            with the unpooled token vectors (for full-resolution rescoring in the query
            funnel); ``None`` for none.
    """

    pool_factor: int = 2
    method: Method = "hierarchical"
    protected_tokens: int = 1
    summary_vector: str | None = None
    keep_original_vector: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "pool_factor", _check_int("pool_factor", self.pool_factor, 1))
        object.__setattr__(
            self, "protected_tokens", _check_int("protected_tokens", self.protected_tokens, 0)
        )
        if self.method not in METHODS:
            raise PoolingConfigError(
                f"unknown pooling method {self.method!r}; expected one of {', '.join(METHODS)}"
            )
        _check_name("summary_vector", self.summary_vector)
        _check_name("keep_original_vector", self.keep_original_vector)
        if self.summary_vector is not None and self.summary_vector == self.keep_original_vector:
            raise PoolingConfigError("summary_vector and keep_original_vector must differ")

    # -- plain dict / JSON round-trip ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; optional fields that are ``None`` are left out."""
        d = asdict(self)
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

    def extra_vector_names(self) -> tuple[str, ...]:
        """Names of the extra vectors this config asks the write path to fill."""
        return tuple(n for n in (self.summary_vector, self.keep_original_vector) if n)


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


def _read_format_1(entry: Mapping[str, Any]) -> PoolingMap:
    """Format 1: ``{"format": 1, "vectors": {name: PoolingConfig.to_dict(), ...}}``."""
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
    return coerce_pooling(vectors)


FORMAT_READERS: dict[int, Callable[[Mapping[str, Any]], PoolingMap]] = {1: _read_format_1}
"""One reader per stored format version: the entry under :data:`METADATA_KEY` (its
``format`` already checked) to a pooling map, raising :class:`PoolingConfigError` with
the problem. A new format adds its reader here; older formats keep theirs."""


def pooling_from_metadata(
    metadata: Mapping[str, Any] | None, collection_name: str | None = None
) -> PoolingMap:
    """Read the pooling map from a collection's metadata (``{}`` when there is none).

    Refuses, with a :class:`PoolingConfigError` naming ``collection_name`` and the problem,
    anything that is not a complete config of a known format: an entry that is not a
    mapping, a ``format`` that is not an integer (``true``, ``1.0``, ``"1"``), a format
    this version does not read, and what the format's reader refuses (format 1: missing or
    empty ``vectors``, unknown keys, invalid configs). A partial config is never read as
    "no pooling".
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
