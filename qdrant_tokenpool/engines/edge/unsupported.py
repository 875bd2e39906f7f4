"""What Qdrant Edge lacks: the ``QdrantBase`` methods with no counterpart in one process
(aliases changes, groups, snapshots, ``search_matrix_*``, cluster and shard operations),
each written out to raise :class:`~qdrant_tokenpool.EdgeUnsupportedError` naming it.
docs/engines.md lists them (``integration_tests/test_edge_conformance_writes.py`` checks
the list against these methods' docstrings)."""

from __future__ import annotations

from typing import Any

from qdrant_client.client_base import QdrantBase

from .. import EdgeUnsupportedError

__all__ = ["EdgeLacks"]


def _unsupported(name: str) -> EdgeUnsupportedError:
    return EdgeUnsupportedError(
        f"{name}()", "use a Qdrant server (url=...) for aliases, groups, snapshots and clusters"
    )


class EdgeLacks(QdrantBase):
    """The base of :class:`~.backend.EdgeBackend`: the methods Edge lacks."""

    def cluster_collection_update(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("cluster_collection_update")

    def cluster_status(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("cluster_status")

    def cluster_telemetry(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("cluster_telemetry")

    def collection_cluster_info(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("collection_cluster_info")

    def create_full_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("create_full_snapshot")

    def create_shard_key(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("create_shard_key")

    def create_shard_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("create_shard_snapshot")

    def create_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("create_snapshot")

    def delete_full_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("delete_full_snapshot")

    def delete_shard_key(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("delete_shard_key")

    def delete_shard_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("delete_shard_snapshot")

    def delete_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("delete_snapshot")

    def get_optimizations(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("get_optimizations")

    def list_shard_keys(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("list_shard_keys")

    def list_shard_snapshots(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("list_shard_snapshots")

    def query_points_groups(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("query_points_groups")

    def recover_current_peer(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("recover_current_peer")

    def recover_shard_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("recover_shard_snapshot")

    def recover_snapshot(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("recover_snapshot")

    def remove_peer(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("remove_peer")

    def search_matrix_offsets(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("search_matrix_offsets")

    def search_matrix_pairs(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("search_matrix_pairs")

    def update_collection_aliases(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."""
        raise _unsupported("update_collection_aliases")
