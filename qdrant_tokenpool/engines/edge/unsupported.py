"""What Qdrant Edge lacks: the ``QdrantBase`` methods with no counterpart in one process
(aliases changes, groups, snapshots, ``search_matrix_*``, cluster and shard operations),
each written out to raise :class:`~qdrant_tokenpool.EdgeUnsupportedError` naming it.
docs/engines.md lists them (``integration_tests/test_edge_conformance_writes.py`` checks
the list against these methods' docstrings)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from qdrant_client.client_base import QdrantBase

from .. import EdgeUnsupportedError

__all__ = ["EdgeLacks"]


def _lacks(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` raising :class:`EdgeUnsupportedError` that names it."""

    @functools.wraps(method)
    def unsupported(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise EdgeUnsupportedError(
            f"{method.__name__}()",
            "use a Qdrant server (url=...) for aliases, groups, snapshots and clusters",
        )

    unsupported.__doc__ = "Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."
    return unsupported


class EdgeLacks(QdrantBase):
    """The base of :class:`~.backend.EdgeBackend`: the methods Edge lacks."""

    @_lacks
    def cluster_collection_update(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def cluster_status(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def cluster_telemetry(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def collection_cluster_info(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def create_full_snapshot(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def create_shard_key(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def create_shard_snapshot(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def create_snapshot(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def delete_full_snapshot(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def delete_shard_key(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def delete_shard_snapshot(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def delete_snapshot(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def get_optimizations(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def list_shard_keys(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def list_shard_snapshots(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def query_points_groups(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def recover_current_peer(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def recover_shard_snapshot(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def recover_snapshot(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def remove_peer(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def search_matrix_offsets(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def search_matrix_pairs(self, *args: Any, **kwargs: Any) -> Any: ...
    @_lacks
    def update_collection_aliases(self, *args: Any, **kwargs: Any) -> Any: ...
