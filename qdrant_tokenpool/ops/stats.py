"""``collection_stats``: a collection's footprint (points, stored vectors, bytes, on-disk
size) and the reduction against its unpooled token count.

Bytes assume the stored datatype (float32: 4 B per number) and leave out index and payload
overhead, which the on-disk size of an embedded database includes. The reduction needs the
payload key ``_tokenpool_tokens`` (written by :func:`index_corpus` and :func:`repool`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import _parent as parent
from .._flow import Flow, call
from ..candidates import companion_name
from ..config import PoolingMap
from ..footprint import footprint_from_metadata, quantization_text
from ..pooling.validation import check_int
from .common import (
    TOKENS_PAYLOAD_KEY,
    ProgressHook,
    Reporter,
    collection_folder,
    load_collection,
    operation,
    scroll_points,
)

__all__ = [
    "CollectionStats",
    "VectorStats",
    "acollection_stats",
    "collection_stats",
    "collection_stats_flow",
]

BYTES_PER_NUMBER = {"float32": 4, "float16": 2, "uint8": 1, "turbo16": 2, "turbo8": 1, "turbo4": 0.5}


@dataclass
class VectorStats:
    """Footprint of one vector name of a collection (``name`` ``""``: the unnamed one).

    Attributes:
        stored_vectors: vectors stored over all points (a multivector's rows; a dense
            vector one per point); ``bytes``: times ``dim`` times bytes per number.
        unpooled_vectors: unpooled token count of the points that record it (multivectors
            only; ``None`` when no point records it); ``reduction``: ``1 - stored /
            unpooled`` over those points.
        pooling: the stored pooling config as a dict, ``None`` when unpooled.
        quantization: its own, else the collection's, in a few words, ``None`` without.
    """

    name: str
    multivector: bool
    dim: int
    datatype: str
    distance: str
    stored_vectors: int = 0
    points_with_vector: int = 0
    bytes: int = 0
    vectors_per_point: float = 0.0
    unpooled_vectors: int | None = None
    reduction: float | None = None
    pooling: dict[str, Any] | None = None
    quantization: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what ``qdrant-tokenpool stats --json`` prints per vector): the
        fields but ``name``, those that are ``None`` left out."""
        return {k: v for k, v in asdict(self).items() if k != "name" and v is not None}


@dataclass
class CollectionStats:
    """Footprint of a collection: exact point count, :class:`VectorStats` and pooling
    config per vector name; ``on_disk_bytes``, ``on_disk_path``: size and folder in an
    embedded database (``None`` on a server or in memory); ``footprint``: the stored
    footprint choice (:mod:`qdrant_tokenpool.footprint`), if any.
    """

    collection: str
    points: int
    vectors: dict[str, VectorStats]
    pooling: PoolingMap = field(default_factory=dict)
    on_disk_bytes: int | None = None
    on_disk_path: str | None = None
    footprint: dict[str, Any] | None = None

    @property
    def stored_vectors(self) -> int:
        """Stored vectors of the collection's multivectors (dense vectors not counted)."""
        return sum(v.stored_vectors for v in self.vectors.values() if v.multivector)

    @property
    def total_vector_bytes(self) -> int:
        """Bytes of all stored vectors, dense ones included."""
        return sum(v.bytes for v in self.vectors.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what ``qdrant-tokenpool stats --json`` prints)."""
        out: dict[str, Any] = {
            "collection": self.collection,
            "points": self.points,
            "vectors": {name: v.to_dict() for name, v in self.vectors.items()},
            "total_vector_bytes": self.total_vector_bytes,
            "pooling": {k: c.to_dict() for k, c in self.pooling.items()},
        }
        if self.on_disk_bytes is not None:
            out["on_disk_bytes"] = self.on_disk_bytes
            out["on_disk_path"] = self.on_disk_path
        if self.footprint is not None:
            out["footprint"] = self.footprint
        return out


def allocated_bytes(path: str | Path) -> int:
    """Bytes a file takes on disk: its allocated blocks where the OS reports them (Qdrant
    Edge preallocates sparse files: their length is not disk used), else its length."""
    st = os.stat(path)
    blocks = getattr(st, "st_blocks", None)
    return int(blocks) * 512 if blocks is not None else st.st_size


def folder_bytes(folder: str | Path) -> dict[str, int]:
    """Bytes a folder takes on disk (:func:`allocated_bytes` of every file): ``total``, and
    by kind as Qdrant Edge lays out a collection: ``codes`` (quantized vectors,
    ``quantized*`` files), ``vectors`` (the stored vectors and their offsets), ``wal`` (the
    write-ahead log), ``other`` (id tracker, payloads, indexes, configs)."""
    out = {"codes": 0, "vectors": 0, "wal": 0, "other": 0}
    for p in Path(folder).rglob("*"):
        if not p.is_file():
            continue
        try:
            n = allocated_bytes(p)
        except OSError:  # removed while counted (a live database)
            continue
        parts = p.relative_to(folder).parts
        if "wal" in parts:
            out["wal"] += n
        elif any(x.startswith("vector_storage") for x in parts):
            out["codes" if p.name.startswith("quantized") else "vectors"] += n
        else:
            out["other"] += n
    out["total"] = sum(out.values())
    return out


def collection_stats_flow(
    collection_name: str,
    *,
    scroll_batch: int = 256,
    progress: ProgressHook | None = None,
) -> Flow[CollectionStats]:
    """Footprint of one collection, read with any Qdrant client (plain ones too),
    ``scroll_batch`` points per request; ``UnknownCollectionError`` when it does not exist.
    """
    rep = Reporter("collection_stats", progress)
    scroll_batch = check_int("scroll_batch", scroll_batch)
    cp = yield from load_collection(collection_name)
    info = yield call(parent.get_collection, collection_name)
    vectors = {
        name: VectorStats(name, spec.multivector, spec.size, spec.datatype, spec.distance.value,
                          quantization=quantization_text(_quantization(info, name)))
        for name, spec in cp.vectors.items()
    }
    multi = [n for n, v in vectors.items() if v.multivector]
    unpooled = dict.fromkeys(multi, 0)
    stored_with_count = dict.fromkeys(multi, 0)
    counted_points = 0

    def count(records: list[Any]) -> None:
        nonlocal counted_points
        for r in records:
            vec = r.vector if isinstance(r.vector, dict) else {"": r.vector}
            toks: Any = (r.payload or {}).get(TOKENS_PAYLOAD_KEY)
            counted = isinstance(toks, int)
            counted_points += counted
            for name, v in vec.items():
                vs = vectors.get(name)
                if vs is None or v is None:
                    continue
                vs.points_with_vector += 1
                n = len(v) if vs.multivector else 1
                vs.stored_vectors += n
                if counted and name in unpooled:
                    unpooled[name] += toks
                    stored_with_count[name] += n

    points = yield from scroll_points(
        collection_name,
        count,
        rep,
        f"stats {collection_name}",
        batch_size=scroll_batch,
        with_payload=[TOKENS_PAYLOAD_KEY],
        with_vectors=list(vectors) or False,
    )
    for name, vs in vectors.items():
        vs.bytes = int(vs.stored_vectors * vs.dim * BYTES_PER_NUMBER.get(vs.datatype, 4))
        vs.vectors_per_point = (
            vs.stored_vectors / vs.points_with_vector if vs.points_with_vector else 0.0
        )
        if name in unpooled and counted_points:
            vs.unpooled_vectors = unpooled[name]
            vs.reduction = 1 - stored_with_count[name] / unpooled[name] if unpooled[name] else 0.0
        if name in cp.pooling:
            vs.pooling = cp.pooling[name].to_dict()
    return CollectionStats(collection_name, points, vectors, dict(cp.pooling),
                           footprint=footprint_from_metadata(cp.metadata))


def _quantization(info: Any, name: str) -> Any:
    """Vector ``name``'s quantization config: its own, else the collection's."""
    vectors = info.config.params.vectors
    params = vectors.get(name) if isinstance(vectors, dict) else vectors if name == "" else None
    own = getattr(params, "quantization_config", None)
    return own if own is not None else info.config.quantization_config


def _with_disk_size(client: Any, stats: CollectionStats) -> CollectionStats:
    """Add the collection's folder size (its companion's included) on an embedded database."""
    folder = collection_folder(client, stats.collection)
    if folder is not None and folder.is_dir():
        companion = collection_folder(client, companion_name(stats.collection))
        folders = [f for f in (folder, companion) if f is not None and f.is_dir()]
        stats.on_disk_bytes = sum(folder_bytes(f)["total"] for f in folders)
        stats.on_disk_path = str(folder)
    return stats


collection_stats, acollection_stats = operation(
    collection_stats_flow, "collection_stats", pooling_client=False, finish=_with_disk_size
)
