"""Storage of a multivector's numbers (datatype x quantization), named by short specs, and
the footprint configuration chosen for a collection, stored in its metadata under
:data:`FOOTPRINT_KEY` (docs/footprint.md); ``query_late_interaction`` queries with its
search params (:func:`footprint_search_params`).

A storage is its parts joined with ``+`` (:func:`parse_storage`): a datatype (``float32``,
the default, ``float16``, ``turbo4``, ``turbo8``, ``turbo16``; in RAM without a
quantization) and/or a quantization (codes in RAM, the stored vectors on disk, read only to
rescore): ``int8`` (scalar), ``tq8``/``tq4``/``tq2``/``tq1.5``/``tq1`` (TurboQuant bits),
``bq2``/``bq1.5``/``bq1`` (binary), ``pq4``...``pq64`` (product, compression ratio).
``uint8`` is refused: Qdrant casts stored and query numbers to integers 0-255, so unit rows
become zeros.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qdrant_client import models

__all__ = [
    "DATATYPES",
    "DEFAULT_STORAGES",
    "FOOTPRINT_FORMAT",
    "FOOTPRINT_KEY",
    "Storage",
    "footprint_from_metadata",
    "footprint_search_params",
    "footprint_text",
    "parse_storage",
    "quantization_text",
]

FOOTPRINT_KEY = "qdrant_tokenpool_footprint"
"""Top-level key of the collection metadata that holds the chosen footprint configuration."""

FOOTPRINT_FORMAT = 1
"""Version of the stored footprint entry this package writes (and the only one it reads)."""

_DATATYPE_BITS = {"float32": 32, "float16": 16, "turbo4": 4, "turbo8": 8, "turbo16": 16}
DATATYPES = tuple(_DATATYPE_BITS)
_TQ_BITS = {"8": "bits8", "4": "bits4", "2": "bits2", "1.5": "bits1_5", "1": "bits1"}
_BQ_ENCODING = {"2": "two_bits", "1.5": "one_and_half_bits", "1": "one_bit"}
_PQ_RATIOS = ("4", "8", "16", "32", "64")

DEFAULT_STORAGES = (
    "float32", "float16", "turbo8", "turbo4", "int8",
    "tq4", "tq2", "tq1.5", "tq1", "bq2", "bq1.5", "bq1",
)
"""The sweep's storages: 32, 16, 8, 4, 2, 1.5 and 1 bit per number."""


@dataclass(frozen=True)
class Storage:
    """How a multivector's numbers are stored: ``datatype`` (qdrant-client's ``Datatype``
    value) and ``quantization`` (``int8``, ``tq<bits>``, ``bq<bits>``, ``pq<ratio>`` or
    ``None``); ``name``: the spec it was parsed from (``"float16+tq1"``)."""

    name: str
    datatype: str = "float32"
    quantization: str | None = None

    @property
    def bits(self) -> float:
        """Nominal bits per number of what a query scores (the codes, else the vectors)."""
        q = self.quantization
        if q is None:
            return float(_DATATYPE_BITS[self.datatype])
        if q == "int8":
            return 8.0
        if q.startswith("pq"):
            return 32.0 / float(q[2:])
        return float(q[2:])

    def quantization_config(self) -> models.QuantizationConfig | None:
        """The vector's ``quantization_config`` (codes always in RAM)."""
        q = self.quantization
        if q is None:
            return None
        if q == "int8":
            return models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8, always_ram=True))
        if q.startswith("tq"):
            return models.TurboQuantization(turbo=models.TurboQuantQuantizationConfig(
                bits=models.TurboQuantBitSize(_TQ_BITS[q[2:]]), always_ram=True))
        if q.startswith("bq"):
            return models.BinaryQuantization(binary=models.BinaryQuantizationConfig(
                encoding=models.BinaryQuantizationEncoding(_BQ_ENCODING[q[2:]]), always_ram=True))
        return models.ProductQuantization(product=models.ProductQuantizationConfig(
            compression=models.CompressionRatio(f"x{q[2:]}"), always_ram=True))

    def vector_params(self, dim: int) -> models.VectorParams:
        """A MaxSim multivector of ``dim`` numbers stored this way: in RAM without a
        quantization, on disk (codes in RAM) with one; no HNSW graph (exact MaxSim)."""
        return models.VectorParams(
            size=dim,
            distance=models.Distance.COSINE,
            multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
            datatype=None if self.datatype == "float32" else models.Datatype(self.datatype),
            on_disk=self.quantization is not None,
            quantization_config=self.quantization_config(),
            hnsw_config=models.HnswConfigDiff(m=0),
        )

    def search_params(self, rescore: bool, oversampling: float | None = None) -> models.SearchParams | None:
        """Search params of a query: scored from the codes only, or rescored from the stored
        vectors (``oversampling`` x limit candidates); ``None`` without a quantization."""
        if self.quantization is None:
            return None
        return models.SearchParams(quantization=models.QuantizationSearchParams(
            rescore=rescore, oversampling=oversampling if rescore else None))


def parse_storage(spec: str) -> Storage:
    """A :class:`Storage` from ``"datatype"``, ``"quantization"`` or ``"datatype+quantization"``;
    ValueError for an unknown part, two datatypes or two quantizations, or ``uint8``."""
    datatype, quant = None, None
    for part in (p.strip().lower() for p in spec.split("+")):
        if part == "uint8":
            raise ValueError(
                "storage 'uint8' does not hold pooled rows: Qdrant casts stored and query "
                "numbers to integers 0-255, so unit vectors become zeros; use 'int8' (scalar "
                "quantization) for 8 bits per number"
            )
        if part in DATATYPES and datatype is None:
            datatype = part
        elif quant is None and (
            part == "int8"
            or (part.startswith("tq") and part[2:] in _TQ_BITS)
            or (part.startswith("bq") and part[2:] in _BQ_ENCODING)
            or (part.startswith("pq") and part[2:] in _PQ_RATIOS)
        ):
            quant = part
        else:
            raise ValueError(
                f"storage {spec!r}: unknown or repeated part {part!r}; a datatype "
                f"({', '.join(DATATYPES)}) and/or a quantization (int8, tq8/4/2/1.5/1, "
                "bq2/1.5/1, pq4/8/16/32/64), joined with '+'"
            )
    return Storage(spec, datatype or "float32", quant)


def footprint_from_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The stored footprint entry of a collection's metadata, ``None`` when there is none;
    ValueError for an entry of another format version (never guessed)."""
    entry = (metadata or {}).get(FOOTPRINT_KEY)
    if entry is None:
        return None
    if not isinstance(entry, Mapping) or entry.get("format") != FOOTPRINT_FORMAT:
        got = entry.get("format") if isinstance(entry, Mapping) else entry
        raise ValueError(
            f"metadata[{FOOTPRINT_KEY!r}] has format {got!r}; this version reads format "
            f"{FOOTPRINT_FORMAT}"
        )
    return dict(entry)


def footprint_search_params(entry: Mapping[str, Any] | None) -> models.SearchParams | None:
    """The search params a stored footprint entry asks for (``None``: engine defaults)."""
    if not entry or not entry.get("quantization"):
        return None
    return parse_storage(entry["storage"]).search_params(bool(entry.get("rescore")), entry.get("oversampling"))


def quantization_text(q: Any) -> str | None:
    """A quantization config in a few words (``"turbo bits1, always_ram"``); ``None`` for none."""
    if q is None:
        return None
    for kind in ("scalar", "product", "binary", "turbo"):
        inner = getattr(q, kind, None)
        if inner is not None:
            opts = inner.model_dump(mode="json", exclude_none=True)
            words = [str(v) for k, v in opts.items() if k in ("type", "compression", "encoding", "bits")]
            words += [f"{k}={v}" for k, v in opts.items() if k not in ("type", "compression", "encoding", "bits")]
            return " ".join([kind, *words[:1]]) + "".join(f", {w}" for w in words[1:])
    return str(q)


def footprint_text(entry: Mapping[str, Any]) -> str:
    """A stored footprint entry in one line: the vector, pool factor, storage, rescoring
    and what was measured."""
    m = entry.get("measured") or {}
    text = (f"vector {entry.get('vector')!r}: pf={entry.get('pool_factor'):g}, {entry.get('storage')}, "
            f"{'rescored' if entry.get('rescore') else 'codes only'}")
    if m.get("relative_ndcg") is not None:
        text += (f"; measured on {m.get('dataset')}: {m['relative_ndcg']:.1%} of unpooled float32 "
                 f"nDCG@10, {m.get('ram_bytes_per_doc', 0):,.0f} B/doc in RAM, "
                 f"{m.get('disk_bytes_per_doc', 0):,.0f} B/doc on disk")
    return text
