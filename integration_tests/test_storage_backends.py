"""Every storage datatype and quantization of a pooled multivector, through both clients,
on every backend (issue 21, item 1).

A collection is created with the pooling client, written, and queried with
``query_late_interaction``: the config comes back as given (quantization: Edge and a server
report it; local mode ignores it and reports none), the query finds its document, and
``search_params`` reach the engine: rescored from the stored vectors, the scores are the
exact MaxSim of the stored rows; from the codes only (Edge, a server), they are not. The
footprint choice stored by :func:`create_footprint_collection` is shown by ``stats`` and
sets the search params of ``query_late_interaction``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from qdrant_client import models

from qdrant_tokenpool import PoolingConfig, PoolingConfigError
from qdrant_tokenpool.footprint import FOOTPRINT_KEY, parse_storage
from qdrant_tokenpool.ops import (
    FootprintRow,
    acreate_footprint_collection,
    collection_stats,
    create_footprint_collection,
)

DIM = 64
N_DOCS = 40
STORAGES = [
    "float16", "turbo4", "turbo8", "turbo16", "int8", "pq8",
    "tq8", "tq4", "tq2", "tq1.5", "tq1", "bq2", "bq1.5", "bq1", "float16+tq1",
]


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)


def docs(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [unit(rng.normal(size=(int(rng.integers(6, 14)), DIM))) for _ in range(N_DOCS)]


def exact(query: np.ndarray, stored: Any) -> float:
    return float((query @ np.asarray(stored, dtype=np.float32).T).max(axis=1).sum())


def fill(client: Any, name: str, storage: str, pooled: bool = True) -> list[np.ndarray]:
    st = parse_storage(storage)
    client.create_collection(
        name, {"colbert": st.vector_params(DIM)},
        pooling={"colbert": PoolingConfig(pool_factor=2)} if pooled else None,
    )
    ds = docs()
    client.upsert(name, [models.PointStruct(id=i, vector={"colbert": d}) for i, d in enumerate(ds)])
    return ds


def stored_rows(client: Any, name: str) -> dict[int, Any]:
    recs = client.retrieve(name, list(range(N_DOCS)), with_vectors=True)
    return {int(r.id): r.vector["colbert"] for r in recs}


def params(rescore: bool) -> models.SearchParams:
    return models.SearchParams(quantization=models.QuantizationSearchParams(rescore=rescore, oversampling=2.0))


pytestmark = pytest.mark.filterwarnings("ignore:Local mode performs exact:UserWarning")


@pytest.mark.parametrize("storage", STORAGES)
def test_storage_config_and_queries(backend: Any, client: Any, collection_name: str, storage: str) -> None:
    st = parse_storage(storage)
    ds = fill(client, collection_name, storage)
    vp = client.get_collection(collection_name).config.params.vectors["colbert"]
    assert str(getattr(vp.datatype, "value", vp.datatype) or "float32") == st.datatype
    # reported as given everywhere; local mode keeps it but searches exactly (docs/engines.md)
    assert vp.quantization_config == st.quantization_config()
    stored = stored_rows(client, collection_name)
    target = 7
    query = ds[target]  # the unpooled rows of document 7: it must come first
    for resc in (True, False):
        hits = client.query_late_interaction(
            collection_name, query, using="colbert", limit=5, search_params=params(resc)
        ).points
        assert hits[0].id == target, (storage, resc)
        exact_engine = backend.engine is None and not backend.remote
        if st.datatype in ("float32", "float16") and (resc or st.quantization is None or exact_engine):
            # the exact MaxSim of the stored rows (a turbo datatype scores with its own
            # estimator, not with the rows it returns)
            for h in hits:
                assert h.score == pytest.approx(exact(query, stored[int(h.id)]), rel=2e-3, abs=2e-3)
    if st.quantization in ("tq1", "bq1") and (backend.engine == "edge" or backend.remote):
        hits = client.query_late_interaction(
            collection_name, query, using="colbert", limit=5, search_params=params(False)
        ).points
        assert any(abs(h.score - exact(query, stored[int(h.id)])) > 1e-3 for h in hits), \
            "codes only: the scores are the codes' estimates, not exact MaxSim"


@pytest.mark.anyio
@pytest.mark.parametrize("storage", ["turbo4", "tq1", "bq2"])
async def test_storage_async(backend: Any, async_client: Any, storage: str) -> None:
    name = f"storage-async-{storage.replace('.', '_')}"
    st = parse_storage(storage)
    await async_client.create_collection(
        name, {"colbert": st.vector_params(DIM)}, pooling={"colbert": PoolingConfig(pool_factor=2)}
    )
    ds = docs(1)
    await async_client.upsert(name, [models.PointStruct(id=i, vector={"colbert": d}) for i, d in enumerate(ds)])
    hits = (await async_client.query_late_interaction(
        name, ds[3], using="colbert", limit=3, search_params=params(True))).points
    assert hits[0].id == 3
    await async_client.delete_collection(name)


def test_uint8_refused_for_pooled_rows(client: Any, collection_name: str) -> None:
    """Qdrant casts uint8 stored and query numbers to 0-255: unit rows would be zeros."""
    vp = models.VectorParams(size=DIM, distance=models.Distance.COSINE, datatype=models.Datatype.UINT8,
                             multivector_config=models.MultiVectorConfig(comparator="max_sim"))
    with pytest.raises(PoolingConfigError, match="uint8.*zeros"):
        client.create_collection(collection_name, {"colbert": vp}, pooling={"colbert": PoolingConfig(pool_factor=2)})
    assert not client.collection_exists(collection_name)
    with pytest.raises(ValueError, match="uint8"):
        parse_storage("uint8")


def test_footprint_choice_stored_shown_and_used(backend: Any, client: Any, collection_name: str) -> None:
    row = FootprintRow(2.0, "tq1", False, 0.6, 0.9, 0.99, 5.0, 100.0, 900.0, 120.0, 1.0, 500.0, 1.0)
    entry = create_footprint_collection(client, collection_name, row, DIM, vector_name="colbert",
                                        min_quality=0.99, protected_tokens=0)
    meta = client.get_collection(collection_name).config.metadata
    assert meta[FOOTPRINT_KEY] == entry and entry["format"] == 1 and entry["rescore"] is False
    assert client.get_pooling(collection_name)["colbert"].pool_factor == 2
    ds = docs()
    client.upsert(collection_name, [models.PointStruct(id=i, vector={"colbert": d}) for i, d in enumerate(ds)])
    s = collection_stats(client, collection_name)
    assert s.footprint == entry
    assert s.vectors["colbert"].quantization.startswith("turbo bits1") or backend.engine is None
    stored = stored_rows(client, collection_name)
    hits = client.query_late_interaction(collection_name, ds[5], using="colbert", limit=5).points
    assert hits[0].id == 5
    exact_scores = [abs(h.score - exact(ds[5], stored[int(h.id)])) < 1e-3 for h in hits]
    if backend.engine == "edge" or backend.remote:  # the stored choice: codes only
        assert not all(exact_scores)
        rescored = client.query_late_interaction(collection_name, ds[5], using="colbert", limit=5,
                                                 search_params=params(True)).points
        assert all(abs(h.score - exact(ds[5], stored[int(h.id)])) < 2e-3 for h in rescored)
    else:
        assert all(exact_scores)
    with pytest.raises(ValueError, match="already exists"):
        create_footprint_collection(client, collection_name, row, DIM)


@pytest.mark.anyio
async def test_footprint_choice_async(backend: Any, async_client: Any) -> None:
    """The async twin creates the same collection; its queries use the stored search params."""
    row = FootprintRow(2.0, "bq1", True, 0.6, 0.9, 0.99, 5.0, 100.0, 900.0, 120.0, 1.0, 500.0, 1.0)
    name = "footprint-async"
    entry = await acreate_footprint_collection(async_client, name, row, DIM, vector_name="colbert")
    assert (await async_client.get_collection(name)).config.metadata[FOOTPRINT_KEY] == entry
    ds = docs(2)
    await async_client.upsert(name, [models.PointStruct(id=i, vector={"colbert": d}) for i, d in enumerate(ds)])
    hits = (await async_client.query_late_interaction(name, ds[4], using="colbert", limit=3)).points
    assert hits[0].id == 4
    await async_client.delete_collection(name)
