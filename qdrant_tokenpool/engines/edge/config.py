"""Collection configs between qdrant-client's models and Qdrant Edge's (vectors, sparse
vectors, optimizers, payload index schemas); the sidecar that keeps the qdrant-client form
(Edge does not), and the ``CollectionInfo`` made from it.

Indexing policy: HNSW on dense vectors (Edge's default graph), ``m=0`` (no graph, exact
MaxSim) on multivectors unless a vector's own ``hnsw_config`` sets ``m``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any

import qdrant_edge as E
from qdrant_client import models

from .. import EdgeUnsupportedError
from .points import parse_model
from .storage import STORAGE_FORMAT, CollectionFolder, sparse_config, vectors_config

__all__ = [
    "NO_VECTORS_PLACEHOLDER",
    "collection_info",
    "dump",
    "json_metadata",
    "new_collection",
    "payload_schema",
    "validate_collection_name",
    "vector_name_change",
    "vector_params",
]


def _edge_datatype(datatype: Any, name: str) -> Any:
    """A vector's storage datatype (either qdrant-client enum, or its value) as Edge's."""
    if datatype is None:
        return None
    value = str(getattr(datatype, "value", datatype))
    return _edge_enum(E.VectorStorageDatatype, value, f"vector {name!r}: datatype {value!r}")


def _hnsw(diff: Any, default_m: int | None = None) -> Any:
    if diff is None and default_m is None:
        return None
    m = getattr(diff, "m", None)
    return E.HnswIndexConfig(
        m=m if m is not None else (default_m if default_m is not None else 16),
        ef_construct=getattr(diff, "ef_construct", None) or 100,
        full_scan_threshold=getattr(diff, "full_scan_threshold", None) or 10000,
        max_indexing_threads=getattr(diff, "max_indexing_threads", None) or 0,
        on_disk=getattr(diff, "on_disk", None),
        payload_m=getattr(diff, "payload_m", None),
    )


def _quantization(q: Any) -> Any:
    """A quantization config as Edge's (scalar int8, product, binary, TurboQuant: all apply
    to multivectors), every option given passed on.

    Raises:
        EdgeUnsupportedError: a quantization or an option value Edge does not have.
    """
    if q is None:
        return None
    q = parse_model(q, models.QuantizationConfig)

    def opt(enum: Any, value: Any) -> Any:
        return _edge_enum(enum, value) if value is not None else None

    if isinstance(q, models.ScalarQuantization):
        s = q.scalar
        return E.ScalarQuantizationConfig(
            E.ScalarType.Int8, quantile=s.quantile, always_ram=s.always_ram, memory=opt(E.Memory, s.memory)
        )
    if isinstance(q, models.ProductQuantization):
        p = q.product
        ratio = getattr(E.CompressionRatio, str(p.compression.value).upper())
        return E.ProductQuantizationConfig(ratio, always_ram=p.always_ram, memory=opt(E.Memory, p.memory))
    if isinstance(q, models.BinaryQuantization):
        b = q.binary
        return E.BinaryQuantizationConfig(
            always_ram=b.always_ram,
            encoding=opt(E.BinaryQuantizationEncoding, b.encoding),
            query_encoding=opt(E.BinaryQuantizationQueryEncoding, b.query_encoding),
            memory=opt(E.Memory, b.memory),
        )
    if isinstance(q, models.TurboQuantization):
        t = q.turbo
        return E.TurboQuantQuantizationConfig(
            always_ram=t.always_ram, bits=opt(E.TurboQuantBitSize, t.bits), memory=opt(E.Memory, t.memory)
        )
    raise EdgeUnsupportedError(f"quantization config {type(q).__name__}")


def vector_params(vp: models.VectorParams, name: str) -> Any:
    distance = getattr(E.Distance, str(getattr(vp.distance, "value", vp.distance)), None)
    if distance is None:
        raise ValueError(f"vector {name!r}: unknown distance {vp.distance!r}")
    datatype = _edge_datatype(vp.datatype, name)
    multi = None
    if vp.multivector_config is not None:
        multi = E.MultiVectorConfig(E.MultiVectorComparator.MaxSim)
    # indexing policy: no HNSW graph on multivectors unless the vector sets its own m
    hnsw = _hnsw(vp.hnsw_config, default_m=0 if multi is not None else None)
    return E.EdgeVectorParams(
        size=vp.size,
        distance=distance,
        on_disk=vp.on_disk,
        multivector_config=multi,
        datatype=datatype,
        quantization_config=_quantization(vp.quantization_config),
        hnsw_config=hnsw,
    )


def _modifier(sp: Any) -> Any:
    """A sparse vector's value modifier (IDF or none) as Edge's."""
    return E.Modifier.Idf if getattr(sp, "modifier", None) == models.Modifier.IDF else None


_INVALID_NAME_CHARS = ("<", ">", ":", '"', "/", "\\", "|", "?", "*", "\0", "\x1f")


def validate_vector_name(name: str, kind: str) -> None:
    if len(name.encode()) > 200:
        raise ValueError(f"Invalid {kind} vector name `{name}`: must be at most 200 bytes long")
    for ch in _INVALID_NAME_CHARS:
        if ch in name:
            raise ValueError(f"Invalid {kind} vector name `{name}`: cannot contain {ch!r} char")


def validate_collection_name(name: str) -> None:
    if not isinstance(name, str):
        raise ValueError(f"Collection name must be a string, got {type(name).__name__}")  # noqa: TRY004 - ValueError, as qdrant-client
    for ch in _INVALID_NAME_CHARS:
        if ch in name:
            raise ValueError(f"Collection name cannot contain {ch!r} char")
    if name in ("", ".", "..") or name.startswith(".deleted-"):
        raise ValueError(f"Collection name cannot be {name!r}")
    if len(name) > 255:
        raise ValueError("Collection name must be at most 255 characters long")


def json_metadata(metadata: Any) -> dict[str, Any] | None:
    if metadata is None:
        return None
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(dict(metadata))


def dump(model: Any) -> Any:
    if model is None:
        return None
    if isinstance(model, Mapping):
        return {k: dump(v) for k, v in model.items()}
    return model.model_dump(mode="json", exclude_none=True)


NO_VECTORS_PLACEHOLDER = ":no-vectors"
"""The sparse vector Edge is given for a collection created without vectors
(``vectors_config={}``, payload only), which Edge cannot create otherwise."""


def _edge_vectors(vectors_config: Any) -> Any:
    if vectors_config is None:
        return {}
    if isinstance(vectors_config, Mapping):
        return {name: vector_params(vp, name) for name, vp in vectors_config.items()}
    return vector_params(vectors_config, "")


def _edge_sparse(sparse_vectors_config: Any, has_vectors: bool) -> Any:
    sparse = {}
    for name, sp in (sparse_vectors_config or {}).items():
        index = getattr(sp, "index", None)
        sparse[name] = E.EdgeSparseVectorParams(
            full_scan_threshold=getattr(index, "full_scan_threshold", None),
            on_disk=getattr(index, "on_disk", None),
            modifier=_modifier(sp),
            datatype=_edge_datatype(getattr(index, "datatype", None), name),
        )
    if not has_vectors and not sparse:
        # Edge refuses a config without vectors; a sparse vector no point will hold stands in
        # (its name has a character vector names may not have, so no user vector collides;
        # it is not in the sidecar, so get_collection does not show it)
        sparse = {NO_VECTORS_PLACEHOLDER: E.EdgeSparseVectorParams()}
    return sparse or None


def _edge_optimizers(o: Any) -> Any:
    if o is None:
        return None
    return E.EdgeOptimizersConfig(
        deleted_threshold=o.deleted_threshold,
        vacuum_min_vector_number=o.vacuum_min_vector_number,
        default_segment_number=o.default_segment_number,
        max_segment_size=o.max_segment_size,
        indexing_threshold=o.indexing_threshold,
    )


def _edge_enum(enum: Any, value: Any, what: str = "") -> Any:
    """The member of Edge's ``enum`` named like qdrant-client's enum ``value``
    (``"english"`` -> ``English``); else :class:`EdgeUnsupportedError` naming ``what``."""
    key = str(getattr(value, "value", value)).replace("_", "").lower()
    for name in dir(enum):
        if not name.startswith("_") and name.replace("_", "").lower() == key:
            return getattr(enum, name)
    raise EdgeUnsupportedError(what or f"{enum.__name__} {key!r}")


def _index_option(field: str, value: Any) -> Any:
    """One option of ``*IndexParams`` as Edge takes it."""
    if field == "tokenizer":
        return _edge_enum(E.TokenizerType, value)
    if field == "memory":
        return _edge_enum(E.Memory, value)
    if field == "stopwords":
        if isinstance(value, models.StopwordsSet):
            return E.StopwordsSet(
                languages={_edge_enum(E.Language, x) for x in value.languages or []} or None,
                custom=set(value.custom or []) or None,
            )
        return _edge_enum(E.Language, value)
    if field == "stemmer":
        if isinstance(value, models.SnowballParams):
            return E.SnowballParams(_edge_enum(E.SnowballLanguage, value.language))
        return E.DisabledStemmer()
    if field == "scoring" and isinstance(value, models.TextScoringParams):
        return E.TextScoringParams(_edge_enum(E.TextScoringType, value.type))
    if isinstance(value, Enum) or not isinstance(value, (bool, int, float, str)):
        raise EdgeUnsupportedError(f"payload index option {field}={value!r}")
    return value


def payload_schema(schema: Any) -> Any:
    """A payload index schema: a type (``models.PayloadSchemaType`` or its string) or
    ``*IndexParams`` (a model or its dict), every option given passed on to Edge (never
    dropped: an option like ``phrase_matching`` changes what filters match).

    Raises:
        EdgeUnsupportedError: an option Edge's index params do not have.
    """
    if isinstance(schema, (str, models.PayloadSchemaType)):
        return getattr(E.PayloadSchemaType, models.PayloadSchemaType(schema).value.capitalize())
    schema = parse_model(schema, models.PayloadSchemaParams)
    kind = getattr(schema, "type", None)
    if kind is None:
        raise ValueError(f"unsupported payload index schema {schema!r}")
    cls = getattr(E, f"{str(getattr(kind, 'value', kind)).capitalize()}IndexParams")
    accepted = set(re.findall(r"(\w+)=", getattr(cls, "__text_signature__", None) or ""))
    opts: dict[str, Any] = {}
    for field, value in schema:
        if field == "type" or value is None:
            continue
        if field not in accepted:
            raise EdgeUnsupportedError(f"payload index option {field}={value!r}")
        opts[field] = _index_option(field, value)
    return cls(**opts)


def new_collection(
    collection_name: str,
    vectors_config: Any,
    sparse_vectors_config: Any,
    on_disk_payload: bool | None,
    hnsw_config: Any,
    optimizers_config: Any,
    quantization_config: Any,
    metadata: Mapping[str, Any] | None,
) -> tuple[Any, dict[str, Any]]:
    """A new collection's Edge config and its sidecar (the config as given, as JSON, and
    ``metadata``), the names and sizes checked as local mode checks them.

    Raises:
        ValueError: an invalid collection or vector name, a vector size outside 1-65536,
            an empty sparse vector name.
        EdgeUnsupportedError: a setting Edge does not have.
    """
    validate_collection_name(collection_name)
    named = vectors_config if isinstance(vectors_config, Mapping) else {"": vectors_config}
    for name, vp in named.items():
        if vp is None:
            continue
        validate_vector_name(name, "dense")
        if not 1 <= vp.size <= 65536:
            raise ValueError(f"Vector size {vp.size} is invalid. Must be from 1 to 65536.")
    for name in sparse_vectors_config or {}:
        validate_vector_name(name, "sparse")
    if sparse_vectors_config is not None and "" in sparse_vectors_config:
        raise ValueError("Sparse vector name cannot be empty")
    vectors = _edge_vectors(vectors_config)
    config = E.EdgeConfig(
        vectors=vectors,
        sparse_vectors=_edge_sparse(sparse_vectors_config, has_vectors=bool(vectors)),
        on_disk_payload=on_disk_payload,
        hnsw_config=_hnsw(hnsw_config),
        quantization_config=_quantization(quantization_config),
        optimizers=_edge_optimizers(optimizers_config),
    )
    sidecar = {
        "format": STORAGE_FORMAT,
        "name": collection_name,
        "vectors": dump(vectors_config) if vectors_config is not None else {},
        "sparse_vectors": dump(sparse_vectors_config),
        "metadata": json_metadata(metadata),
        "on_disk_payload": on_disk_payload,
        "hnsw_config": dump(hnsw_config),
        "quantization_config": dump(quantization_config),
        "optimizers_config": dump(optimizers_config),
    }
    return config, sidecar


def vector_name_change(sidecar: dict[str, Any], vector_name: str, vector_name_config: Any) -> tuple[Any, dict[str, Any]]:
    """``create_vector_name`` as Edge's operation, and the collection's new sidecar.

    Raises:
        EdgeUnsupportedError: the collection has one unnamed vector.
        ValueError: an invalid name, or a config that is neither dense nor sparse.
    """
    vectors = sidecar.get("vectors") or {}
    if isinstance(vectors.get("size"), int):
        raise EdgeUnsupportedError("create_vector_name on a collection with one unnamed vector")
    if isinstance(vector_name_config, models.DenseVectorNameConfig):
        validate_vector_name(vector_name, "dense")
        vp = models.VectorParams.model_validate(vector_name_config.dense.model_dump())
        ep = vector_params(vp, vector_name)
        op = E.UpdateOperation.create_dense_vector(
            vector_name, vp.size, ep.distance, ep.multivector_config, ep.datatype
        )
        return op, {**sidecar, "vectors": {**vectors, vector_name: dump(vp)}}
    if isinstance(vector_name_config, models.SparseVectorNameConfig):
        validate_vector_name(vector_name, "sparse")
        sparse = vector_name_config.sparse
        # SparseVectorConfig (creation) holds what SparseVectorParams (collection config)
        # spreads over `modifier` and `index.datatype`
        sp = models.SparseVectorParams(
            modifier=sparse.modifier,
            index=models.SparseIndexParams(datatype=models.Datatype(sparse.datatype.value))
            if sparse.datatype is not None
            else None,
        )
        op = E.UpdateOperation.create_sparse_vector(
            vector_name, _modifier(sp), _edge_datatype(sparse.datatype, vector_name)
        )
        sparse_vectors = {**(sidecar.get("sparse_vectors") or {}), vector_name: dump(sp)}
        return op, {**sidecar, "sparse_vectors": sparse_vectors}
    raise ValueError(f"Unsupported vector name config type: {type(vector_name_config)}")


def collection_info(coll: CollectionFolder, info: Any) -> models.CollectionInfo:
    """``get_collection``'s answer: the config as the sidecar holds it (what Edge does not
    keep: the defaults local mode reports), the counts and payload indexes of Edge's shard
    ``info``."""
    side = coll.sidecar
    schema = {}
    for field, pinfo in info.payload_schema.items():
        dtype = str(pinfo.data_type).split(".")[-1].lower()
        with contextlib.suppress(ValueError):
            schema[field] = models.PayloadIndexInfo(
                data_type=models.PayloadSchemaType(dtype), points=pinfo.points
            )
    hnsw = models.HnswConfig(m=16, ef_construct=100, full_scan_threshold=10000)
    if side.get("hnsw_config"):
        hnsw = hnsw.model_copy(update={k: v for k, v in side["hnsw_config"].items() if v is not None})
    return models.CollectionInfo(
        status=models.CollectionStatus.GREEN,
        optimizer_status=models.OptimizersStatusOneOf.OK,
        indexed_vectors_count=info.indexed_vectors_count,
        points_count=info.points_count,
        segments_count=info.segments_count,
        payload_schema=schema,
        config=models.CollectionConfig(
            params=models.CollectionParams(
                vectors=vectors_config(side),
                shard_number=1,
                replication_factor=1,
                write_consistency_factor=1,
                on_disk_payload=side.get("on_disk_payload", True),
                sparse_vectors=sparse_config(side),
            ),
            hnsw_config=hnsw,
            optimizer_config=models.OptimizersConfig(
                deleted_threshold=0.2,
                vacuum_min_vector_number=1000,
                default_segment_number=0,
                flush_interval_sec=5,
            ),
            wal_config=models.WalConfig(wal_capacity_mb=32, wal_segments_ahead=0),
            quantization_config=parse_model(
                side.get("quantization_config"), models.QuantizationConfig
            ),
            metadata=side.get("metadata"),
        ),
    )
