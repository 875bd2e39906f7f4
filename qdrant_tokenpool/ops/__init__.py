"""Library operations: what the ``qdrant-tokenpool`` CLI does, callable from Python.

- :func:`index_corpus`: documents -> token vectors -> pooled writes; resumable.
- :func:`repool`: copy a collection into a pooled one; streaming, resumable.
- :func:`collection_stats`: points, stored vectors, bytes, reduction of a collection.
- :func:`search_documents`: a text query -> the best documents (doc id, title, score).
- :func:`evaluate_collection`: nDCG@10 / recall of an indexed collection on BEIR queries.
- :func:`footprint_sweep`, :func:`recommend_footprint`, :func:`create_footprint_collection`:
  pool factors x storage datatypes and quantizations measured on Qdrant Edge, the smallest
  at a quality floor, and a collection created with it.
- :func:`open_database`: a pooling client on a server or a local folder, saying what it
  opens before the (possibly long) open; :func:`open_embedded` and :func:`copy_database`:
  a client on a local folder on its own engine, a folder copied into another.

Each is written once as a flow (:mod:`qdrant_tokenpool._flow`) over the public client
API, and comes as a sync function and an async twin (``aindex_corpus``, ``arepool``,
``acollection_stats``, ``asearch_documents``, ``aevaluate_collection``) for
:class:`~qdrant_tokenpool.AsyncTokenPoolingClient` (:func:`.common.operation`). They raise
library errors (:class:`OperationError`, :class:`OperationUsageError`,
:class:`~qdrant_tokenpool.UnknownCollectionError`, :class:`~qdrant_tokenpool.PoolingConfigError`)
and report progress to a :data:`ProgressHook` (or, by default, the
``qdrant_tokenpool.ops`` logger). The CLI (:mod:`qdrant_tokenpool.cli`) only parses,
calls these and prints.

Layering: ops uses the clients and the layers below them; nothing below imports ops.
"""

from .common import (
    DOC_ID_PAYLOAD_KEY,
    INDEX_METADATA_KEY,
    TOKENS_PAYLOAD_KEY,
    OperationError,
    OperationUsageError,
    Progress,
    ProgressHook,
    adescribe_collection,
    config_text,
    describe_collection,
    local_database_path,
    progress_bars,
)
from .database import copy_database, open_database, open_embedded
from .documents import (
    ID_NAMESPACE,
    Document,
    DocumentError,
    as_document,
    corpus_file,
    count_documents,
    iter_documents,
    point_id,
)
from .footprint import (
    FootprintRow,
    FootprintSweep,
    acreate_footprint_collection,
    create_footprint_collection,
    footprint_sweep,
    parse_storage,
    recommend_footprint,
)
from .index import (
    DEFAULT_VECTOR,
    SUMMARY_VECTOR,
    IndexResult,
    aindex_corpus,
    aindex_record,
    index_corpus,
    index_record,
    record_from_metadata,
)
from .repooling import RepoolResult, arepool, repool
from .retrieval import (
    CollectionEvaluation,
    DocumentHit,
    aevaluate_collection,
    asearch_documents,
    evaluate_collection,
    search_documents,
)
from .stats import CollectionStats, VectorStats, acollection_stats, collection_stats

__all__ = [
    "DEFAULT_VECTOR",
    "DOC_ID_PAYLOAD_KEY",
    "ID_NAMESPACE",
    "INDEX_METADATA_KEY",
    "SUMMARY_VECTOR",
    "TOKENS_PAYLOAD_KEY",
    "CollectionEvaluation",
    "CollectionStats",
    "Document",
    "DocumentError",
    "DocumentHit",
    "FootprintRow",
    "FootprintSweep",
    "IndexResult",
    "OperationError",
    "OperationUsageError",
    "Progress",
    "ProgressHook",
    "RepoolResult",
    "VectorStats",
    "acollection_stats",
    "acreate_footprint_collection",
    "adescribe_collection",
    "aevaluate_collection",
    "aindex_corpus",
    "aindex_record",
    "arepool",
    "as_document",
    "asearch_documents",
    "collection_stats",
    "config_text",
    "copy_database",
    "corpus_file",
    "count_documents",
    "create_footprint_collection",
    "describe_collection",
    "evaluate_collection",
    "footprint_sweep",
    "index_corpus",
    "index_record",
    "iter_documents",
    "local_database_path",
    "open_database",
    "open_embedded",
    "parse_storage",
    "point_id",
    "progress_bars",
    "recommend_footprint",
    "record_from_metadata",
    "repool",
    "search_documents",
]
