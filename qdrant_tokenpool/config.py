"""Pooling configuration and its stored form in a Qdrant collection's metadata: vector
names (``""``: the unnamed vector) mapped to :class:`PoolingConfig`, stored under
:data:`METADATA_KEY` with a format version (docs/configuration.md shows it), so every process
(and a plain ``QdrantClient``) sees the same settings. Formats 1 and 2 are read as they were
written (2 is written); other versions are refused, never guessed. No qdrant_client import.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from .firststage import SUMMARY_METHODS, MuveraParams
from .pooling.spec import PoolingSpec

__all__ = [
    "DEFAULT_SUMMARY_METHOD",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "READABLE_FORMATS",
    "PoolingConfig",
    "PoolingConfigError",
    "pooling_from_metadata",
    "pooling_to_metadata",
]

METADATA_KEY = "qdrant_tokenpool"
"""Top-level key of the collection metadata that holds the pooling config."""

FORMAT_VERSION = 2
"""Version of the stored format that this package writes."""

FORMAT_1_FIELDS = frozenset(
    {"pool_factor", "method", "protected_tokens", "summary_vector", "keep_original_vector"}
)
"""The fields a format-1 entry may hold."""

DEFAULT_SUMMARY_METHOD: str = "mean"
"""First-stage encoding of a ``summary_vector`` when ``summary_method`` is not given (a
stored config without it reads as ``"mean"`` whatever this default is)."""


class PoolingConfigError(ValueError):
    """A pooling config (or its stored form) is invalid."""


def _check_name(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise PoolingConfigError(f"{name} must be a non-empty vector name or None, got {value!r}")
    return value


def _summary(vector: str | None, method: Any, muvera: Any) -> tuple[Any, MuveraParams | None]:
    """``summary_method`` and ``muvera`` resolved against ``summary_vector``."""
    if vector is None:
        if method is not None or muvera is not None:
            raise PoolingConfigError(
                "summary_method and muvera need a summary_vector (the dense vector "
                "that holds the first-stage encoding)"
            )
        return None, None
    method = DEFAULT_SUMMARY_METHOD if method is None else method
    if method not in SUMMARY_METHODS:
        raise PoolingConfigError(
            f"unknown summary_method {method!r}; expected one of {', '.join(SUMMARY_METHODS)}"
        )
    if method == "mean":
        if muvera is not None:
            raise PoolingConfigError('muvera parameters need summary_method="muvera"')
        return method, None
    if muvera is None or isinstance(muvera, MuveraParams):
        return method, MuveraParams() if muvera is None else muvera
    if not isinstance(muvera, Mapping):
        raise PoolingConfigError(
            f"muvera must be MuveraParams or a mapping, got {type(muvera).__name__}"
        )
    unknown = set(muvera) - {f.name for f in fields(MuveraParams)}
    if unknown:
        raise PoolingConfigError(f"unknown muvera parameter(s): {', '.join(sorted(unknown))}")
    try:
        return method, MuveraParams(**dict(muvera))
    except ValueError as exc:
        raise PoolingConfigError(f"muvera: {exc}") from None


@dataclass(frozen=True, init=False)
class PoolingConfig:
    """How to pool one multivector of a collection. Immutable and validated.

    A :class:`PoolingSpec` (the numeric settings, also read as attributes:
    ``cfg.pool_factor``) plus what only a collection has; bad values raise
    :class:`PoolingConfigError`. ``PoolingConfig(2, "kmeans", max_vectors=64,
    summary_vector="s")`` takes the spec's settings as :class:`PoolingSpec` does;
    ``PoolingConfig(spec=spec, ...)`` takes a spec (settings given with it replace its own).

    Attributes:
        spec: the pooling settings (see :mod:`qdrant_tokenpool.pooling.spec`).
        summary_vector: a dense vector the write path fills with the document's
            first-stage encoding (the funnel's HNSW stage); ``None``: none.
        keep_original_vector: a multivector the write path fills with the unpooled token
            vectors (full-resolution rescoring); ``None``: none.
        summary_method: ``"mean"`` (normalised mean of the tokens, ``d`` dimensions) or
            ``"muvera"`` (a MUVERA encoding, ``muvera.output_dim(d)`` dimensions, Dot);
            :data:`DEFAULT_SUMMARY_METHOD` when a summary vector is set, else ``None``.
        muvera: :class:`~qdrant_tokenpool.firststage.MuveraParams` (or a dict of them) of
            the ``"muvera"`` summary; default the paper's reference parameters.
    """

    spec: PoolingSpec
    summary_vector: str | None
    keep_original_vector: str | None
    summary_method: Literal["mean", "muvera"] | None
    muvera: MuveraParams | None

    def __init__(
        self,
        *args: Any,
        spec: PoolingSpec | None = None,
        summary_vector: str | None = None,
        keep_original_vector: str | None = None,
        summary_method: Literal["mean", "muvera"] | None = None,
        muvera: MuveraParams | Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> None:
        if isinstance(settings.get("grid_shape"), list):  # as JSON stores it
            settings["grid_shape"] = tuple(settings["grid_shape"])
        if spec is not None and args:
            raise TypeError("give a spec or positional settings, not both")
        try:
            if spec is None:
                spec = PoolingSpec(*args, **settings)
            elif settings:
                spec = replace(spec, **settings)
        except ValueError as exc:
            raise PoolingConfigError(str(exc)) from None
        set_ = object.__setattr__
        set_(self, "spec", spec)
        set_(self, "summary_vector", _check_name("summary_vector", summary_vector))
        set_(self, "keep_original_vector", _check_name("keep_original_vector", keep_original_vector))
        if summary_vector is not None and summary_vector == keep_original_vector:
            raise PoolingConfigError("summary_vector and keep_original_vector must differ")
        summary_method, muvera = _summary(summary_vector, summary_method, muvera)
        set_(self, "summary_method", summary_method)
        set_(self, "muvera", muvera)

    def __getattr__(self, name: str) -> Any:
        """The spec's settings as attributes (``cfg.pool_factor``, ``cfg.method``, ...)."""
        if name in _SPEC_FIELDS:
            return getattr(self.spec, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- plain dict / JSON round-trip ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; optional fields that are ``None`` (and
        ``protected_tail_tokens`` when 0) are left out; ``grid_shape`` is a list."""
        d = asdict(self)
        d = {**d.pop("spec"), **d}
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
        unknown = set(data) - _STORED_FIELDS
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


_SPEC_FIELDS = frozenset(f.name for f in fields(PoolingSpec))
_STORED_FIELDS = _SPEC_FIELDS | {f.name for f in fields(PoolingConfig)} - {"spec"}

PoolingMap = dict[str, PoolingConfig]


def coerce_pooling(
    pooling: Mapping[str, PoolingConfig | Mapping[str, Any]] | PoolingConfig,
) -> PoolingMap:
    """Validated configs from ``{vector_name: PoolingConfig | dict}``, or from one
    ``PoolingConfig`` for the unnamed default vector ``""``."""
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


READABLE_FORMATS: tuple[int, ...] = (1, 2)
"""Stored formats this package reads; any other version is refused."""


def _read_entry(entry: Mapping[str, Any], version: int) -> PoolingMap:
    """The pooling map of a stored entry ``{"format": N, "vectors": {name: config dict}}``
    (format 1: only :data:`FORMAT_1_FIELDS`, integer ``pool_factor``); a summary vector
    without ``summary_method`` predates the field and reads as ``"mean"``, as written."""
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
    stored: dict[str, Any] = {}
    for name, cfg in vectors.items():
        if isinstance(cfg, Mapping):  # else coerce_pooling names the problem
            if version == 1:
                _check_format_1(name, cfg)
            if cfg.get("summary_vector") and "summary_method" not in cfg:
                cfg = {**cfg, "summary_method": "mean"}
        stored[name] = cfg
    return coerce_pooling(stored)


def _check_format_1(name: Any, cfg: Mapping[str, Any]) -> None:
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


def pooling_from_metadata(
    metadata: Mapping[str, Any] | None, collection_name: str | None = None
) -> PoolingMap:
    """The pooling map of a collection's metadata (``{}`` when there is none). Raises
    :class:`PoolingConfigError`, naming ``collection_name`` and the problem, for anything but
    a complete config of a format in :data:`READABLE_FORMATS` (never read as "no pooling")."""
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
        if version not in READABLE_FORMATS:
            hint = " (upgrade the package)" if version > max(READABLE_FORMATS) else ""
            raise PoolingConfigError(
                f"has format {version}; this version of qdrant-tokenpool reads format(s) "
                f"{', '.join(map(str, READABLE_FORMATS))}{hint}"
            )
        return _read_entry(entry, version)
    except PoolingConfigError as exc:
        raise PoolingConfigError(f"{where}: {exc}") from None
