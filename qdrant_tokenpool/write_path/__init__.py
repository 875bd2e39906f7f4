"""Write path: pool the configured multivectors of any write request before it reaches Qdrant.

One module per concern:

1. :mod:`.plan` (no I/O). A :class:`PoolingJob` collects the configured multivectors of
   one request while ``plan_*`` functions walk the request's shape (``PointStruct`` /
   ``Record`` / ``PointVectors`` lists, ``Batch``, ``UpsertOperation`` and
   ``UpdateVectorsOperation`` with ``PointsList`` or ``PointsBatch``). Walking validates
   every configured multivector of the *whole* request first (errors name the point id,
   the vector name and the problem); :meth:`PoolingJob.run` then pools them with one
   :func:`~qdrant_tokenpool.pooling.pool_arrays` call per config (all cores); finally the
   plan's builder makes the new request, building each model once, from lists made
   once per pooled array. Vectors and points with nothing configured are the very same
   objects in the output; a request with nothing configured is returned as is.
2. :mod:`.split`: a rewritten request cut for a remote backend's REST body limit.
3. :mod:`.flows` (see :mod:`qdrant_tokenpool._flow`) for ``upsert``, ``update_vectors``,
   ``batch_update_points``, ``upload_points`` and ``upload_collection``, shared by the
   sync and async clients.

Server limits that the embedded backend does not enforce are applied on every backend:
a pooled multivector is always pooled far enough to hold fewer than
:data:`MAX_MULTIVECTOR_FLOATS` floats (the pooling's own budget, never a refusal); an
unpooled copy kept for rescoring (``keep_original_vector``) that is that large is
refused; and on remote backends a rewritten request is split so that each REST body
stays under 32 MiB.
"""

from __future__ import annotations

from .flows import (
    batch_update_points,
    pooled_stream,
    update_vectors,
    upload_collection,
    upload_points,
    upsert,
)
from .plan import (
    MAX_MULTIVECTOR_FLOATS,
    InferenceScan,
    PoolingJob,
    plan_batch,
    plan_operations,
    plan_points,
    pool_batch_request,
    pool_operations,
    pool_points,
)
from .split import (
    JSON_BYTES_PER_FLOAT,
    MAX_REQUEST_BYTES,
    REQUEST_FLOAT_BUDGET,
    count_floats,
    split_batch,
    split_operations,
    split_points,
)

__all__ = [
    "JSON_BYTES_PER_FLOAT",
    "MAX_MULTIVECTOR_FLOATS",
    "MAX_REQUEST_BYTES",
    "REQUEST_FLOAT_BUDGET",
    "InferenceScan",
    "PoolingJob",
    "batch_update_points",
    "count_floats",
    "plan_batch",
    "plan_operations",
    "plan_points",
    "pool_batch_request",
    "pool_operations",
    "pool_points",
    "pooled_stream",
    "split_batch",
    "split_operations",
    "split_points",
    "update_vectors",
    "upload_collection",
    "upload_points",
    "upsert",
]
