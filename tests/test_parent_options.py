"""What each client method hands its qdrant-client parent (built from the method's
``locals()``, :func:`qdrant_tokenpool._parent.parent_options`): the options it was given,
those left at ``None`` left out, the non-``None`` defaults (``wait``, ``parallel``,
``max_retries``) as they are, unknown keyword options passed on, and nothing else; the
sync and the generated async client alike."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from qdrant_tokenpool import AsyncTokenPoolingClient, PoolingConfig, TokenPoolingClient

MULTI = models.VectorParams(
    size=4,
    distance=models.Distance.DOT,
    multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
)
POINT = models.PointStruct(id=1, vector={"m": [[1.0, 0.0, 0.0, 0.0]]})
IDS = models.PointIdsList(points=[1])
NEW_VECTOR = models.DenseVectorNameConfig(
    dense=models.DenseVectorConfig(size=4, distance=models.Distance.DOT)
)
STRONG = models.WriteOrdering.STRONG

# method: (positional arguments, keyword arguments, what the parent gets as keywords)
CALLS: dict[str, tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]] = {
    "create_collection": (
        ("d",),
        {
            "vectors_config": {"m": MULTI},
            "shard_number": None,
            "on_disk_payload": True,
            "extra": "x",
        },
        {"vectors_config": {"m": MULTI}, "on_disk_payload": True, "extra": "x"},
    ),
    "recreate_collection": (
        ("d",),
        {"vectors_config": {"m": MULTI}, "on_disk_payload": None, "timeout": 3, "extra": None},
        {"vectors_config": {"m": MULTI}, "timeout": 3},
    ),
    "delete_collection": (("c",), {"timeout": 3, "extra": "x"}, {"timeout": 3, "extra": "x"}),
    "update_collection": (
        ("c",),
        {"optimizers_config": None, "metadata": {"a": 1}, "timeout": None, "extra": "x"},
        {"metadata": {"a": 1}, "extra": "x"},
    ),
    "create_vector_name": (
        ("c", "v", NEW_VECTOR),
        {"ordering": None, "timeout": 2, "extra": "x"},
        {
            "wait": True,
            "vector_name": "v",
            "vector_name_config": NEW_VECTOR,
            "timeout": 2,
            "extra": "x",
        },
    ),
    "delete_vector_name": (
        ("c", "m"),
        {"wait": False, "ordering": None, "extra": "x"},
        {"wait": False, "vector_name": "m", "extra": "x"},
    ),
    "delete": (
        ("c", IDS),
        {"wait": False, "shard_key_selector": None, "timeout": 4, "extra": "x"},
        {"wait": False, "timeout": 4, "extra": "x"},
    ),
    "delete_vectors": (
        ("c", ["m"], IDS),
        {"ordering": STRONG, "timeout": None, "extra": "x"},
        {"wait": True, "ordering": STRONG, "extra": "x"},
    ),
    "upsert": (
        ("c", [POINT]),
        {"wait": False, "ordering": None, "update_filter": None, "timeout": 4, "extra": "x"},
        {"wait": False, "timeout": 4, "extra": "x"},
    ),
    "update_vectors": (
        ("c", [models.PointVectors(id=1, vector={"m": [[1.0, 0.0, 0.0, 0.0]]})]),
        {"ordering": None, "timeout": 4, "extra": "x"},
        {"wait": True, "timeout": 4, "extra": "x"},
    ),
    "batch_update_points": (
        ("c", [models.UpsertOperation(upsert=models.PointsList(points=[POINT]))]),
        {"wait": False, "ordering": None, "timeout": 4, "extra": "x"},
        {"wait": False, "timeout": 4, "extra": "x"},
    ),
    "upload_points": (
        ("c", [POINT]),
        {"batch_size": 8, "method": None, "max_retries": 2, "update_filter": None, "extra": "x"},
        {"batch_size": 8, "parallel": 1, "max_retries": 2, "wait": False, "extra": "x"},
    ),
    "upload_collection": (
        ("c", {"m": [[[1.0, 0.0, 0.0, 0.0]]]}),
        {"ids": [1], "batch_size": 8, "method": None, "wait": True, "extra": "x"},
        {
            "payload": None,
            "ids": [1],
            "batch_size": 8,
            "parallel": 1,
            "max_retries": 3,
            "wait": True,
            "extra": "x",
        },
    ),
}


class _Stop(Exception):
    """Raised by the recording parent method: nothing is written."""


def _recorder(parent: type, name: str, seen: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(getattr(parent, name)):

        async def record_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            seen.update(kwargs)
            raise _Stop

        return record_async

    def record(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise _Stop

    return record


def _parent_kwargs(
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    args: tuple,
    kwargs: dict,
    parent_name: str | None = None,
) -> dict[str, Any]:
    """The keyword arguments the parent's ``parent_name`` (default ``name``) gets from
    ``client.name(*args, **kwargs)`` on collection ``c`` (an unpooled multivector ``m``) or
    ``p`` (``m`` pooled)."""
    parent_name = parent_name or name
    seen: dict[str, Any] = {}
    if kind == "sync":
        client = TokenPoolingClient(":memory:")
        for collection, pooling in (("c", None), ("p", {"m": PoolingConfig(2)})):
            client.create_collection(collection, vectors_config={"m": MULTI}, pooling=pooling)
        record = _recorder(QdrantClient, parent_name, seen)
        monkeypatch.setattr(QdrantClient, parent_name, record)
        with pytest.raises(_Stop):
            getattr(client, name)(*args, **kwargs)
        return seen

    async def run() -> None:
        client = AsyncTokenPoolingClient(":memory:")
        for collection, pooling in (("c", None), ("p", {"m": PoolingConfig(2)})):
            await client.create_collection(collection, vectors_config={"m": MULTI}, pooling=pooling)
        record = _recorder(AsyncQdrantClient, parent_name, seen)
        monkeypatch.setattr(AsyncQdrantClient, parent_name, record)
        method = getattr(client, name)
        with pytest.raises(_Stop):
            result = method(*args, **kwargs)
            if inspect.isawaitable(result):
                await result

    asyncio.run(run())
    return seen


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("name", sorted(CALLS))
def test_each_method_hands_its_parent_exactly_the_options_it_was_given(kind, name, monkeypatch):
    args, kwargs, expected = CALLS[name]
    assert _parent_kwargs(kind, monkeypatch, name, args, kwargs) == expected


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_pooled_write_hands_its_parent_the_same_options(kind, monkeypatch):
    kwargs = {"wait": False, "ordering": None, "shard_key_selector": None, "timeout": 4}
    kwargs["extra"] = "x"
    point = models.PointStruct(id=1, vector={"m": [[1.0, 0.0, 0.0, 0.0]] * 3})
    seen = _parent_kwargs(kind, monkeypatch, "upsert", ("p", [point]), kwargs)
    assert seen == {"wait": False, "timeout": 4, "extra": "x"}


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_query_late_interaction_hands_query_points_its_own_and_the_extra_options(
    kind, monkeypatch
):
    kwargs = {"limit": 3, "with_payload": False, "score_threshold": 0.5, "timeout": 5, "extra": "x"}
    query = [[1.0, 0.0, 0.0, 0.0]]
    seen = _parent_kwargs(
        kind, monkeypatch, "query_late_interaction", ("p", query), kwargs, "query_points"
    )
    assert seen["using"] == "m" and seen["limit"] == 3
    given = {k: seen[k] for k in ("with_payload", "with_vectors", "score_threshold", "timeout")}
    assert given == {
        "with_payload": False,
        "with_vectors": False,
        "score_threshold": 0.5,
        "timeout": 5,
    }
    assert seen["extra"] == "x"
