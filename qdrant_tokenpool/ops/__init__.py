"""Library operations: what the ``qdrant-tokenpool`` CLI does, callable from Python.

Each operation is one flow (:mod:`qdrant_tokenpool._flow`) over the public client API, as a
sync function and an async twin (``aindex_corpus``, ...); it raises library errors
(:class:`OperationError`, ...) and reports progress to a :data:`ProgressHook` (default: the
``qdrant_tokenpool.ops`` logger). See docs/operations.md.
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
from .tokenindex import TokenIndexResult, aadd_token_index, add_token_index

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
    "TokenIndexResult",
    "VectorStats",
    "aadd_token_index",
    "acollection_stats",
    "acreate_footprint_collection",
    "add_token_index",
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
