"""Shared pieces of the Edge conformance suite (``test_edge_conformance*.py``): seeded
data with every payload value type and vector kind, the clients compared, and the
comparisons (ids, scores within 1e-4 relative, payloads, vectors, errors).

The reference is qdrant-client's local mode (``QdrantClient(":memory:")``); the clients
under test are ``EdgeQdrantClient(":memory:")`` and ``TokenPoolingClient(":memory:",
engine="edge")``. A difference is either fixed in the Edge backend or an
``EdgeUnsupportedError`` whose feature docs/engines.md lists ("What Edge does not
have"): :func:`documented_unsupported` reads that list.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

pytest.importorskip("qdrant_edge", reason="needs qdrant-edge-py (scripts/setup.sh installs it)")

from qdrant_tokenpool import TokenPoolingClient
from qdrant_tokenpool.edge_client import EdgeQdrantClient
from qdrant_tokenpool.engines import EdgeUnsupportedError

ROOT = Path(__file__).resolve().parents[1]

LOCAL_MODE_NOTICES = pytest.mark.filterwarnings(
    "ignore:Payload indexes have no effect in the local Qdrant:UserWarning",
    "ignore:Local mode performs exact:UserWarning",
    "ignore:`recreate_collection` method is deprecated:DeprecationWarning",
)
"""What qdrant-client's local mode warns about on the calls the suite makes on purpose
(payload indexes, search params and ``recreate_collection`` are compared too)."""
SEED = 18
N = 120
REL = 1e-4

# -- vectors --------------------------------------------------------------------------
MAXSIM = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
DENSE = {  # name -> (size, distance)
    "dense": (8, models.Distance.COSINE),
    "dot": (6, models.Distance.DOT),
    "euclid": (5, models.Distance.EUCLID),
    "manhattan": (4, models.Distance.MANHATTAN),
}
MULTI = {"multi": (4, models.Distance.COSINE), "multi_dot": (3, models.Distance.DOT)}
SPARSE = {"sparse": None, "sparse_idf": models.Modifier.IDF}
SPARSE_DIM = 40

VECTORS_CONFIG = {
    **{n: models.VectorParams(size=s, distance=d) for n, (s, d) in DENSE.items()},
    **{n: models.VectorParams(size=s, distance=d, multivector_config=MAXSIM) for n, (s, d) in MULTI.items()},
}
SPARSE_CONFIG = {n: models.SparseVectorParams(modifier=m) for n, m in SPARSE.items()}


def kind(name: str) -> str:
    """``"dense"``, ``"multi"`` or ``"sparse"``: the kind of a vector of the collections."""
    return "dense" if name in DENSE else "multi" if name in MULTI else "sparse"


def random_vector(rng: np.random.Generator, name: str) -> Any:
    """A vector for ``name`` (a query, or a point's): values rounded to float32."""
    if name in DENSE:
        return rng.standard_normal(DENSE[name][0]).astype(np.float32).tolist()
    if name in MULTI:
        rows = int(rng.integers(1, 5))
        return rng.standard_normal((rows, MULTI[name][0])).astype(np.float32).tolist()
    k = int(rng.integers(1, 7))
    idx = sorted(rng.choice(SPARSE_DIM, size=k, replace=False).tolist())
    # weights in [0.1, 1]: no query term of weight 0, whose matches local mode keeps with
    # score 0 and Edge (as a server's sparse index) drops (test_sparse_zero_scores)
    values = (0.1 + 0.9 * rng.random(k)).astype(np.float32).round(3)
    return models.SparseVector(indices=idx, values=values.tolist())


# -- payloads -------------------------------------------------------------------------
WORDS = ["quick", "brown", "fox", "jumps", "over", "lazy", "dog", "red", "cat"]
COLORS = ["red", "green", "blue", "Red", "reddish", "violet"]
UIDS = [str(uuid.UUID(int=k * 7919 + 1)) for k in range(4)]
BASE_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)
GEO_CENTER = (13.4, 52.5)  # lon, lat


def point_id(i: int) -> int | str:
    """Mostly integer ids, every fourth a UUID string (both kinds in one collection)."""
    return str(uuid.UUID(int=10_000 + i)) if i % 4 == 3 else i


def payload(rng: np.random.Generator, i: int) -> dict[str, Any]:
    """Every payload value type: bool, int, float, str (keyword and text), UUID, datetime,
    null, nested object, arrays (of str, int, bool, objects), geo; some keys missing,
    some arrays empty."""
    p: dict[str, Any] = {
        "flag": bool(i % 3 == 0),
        "count": int(rng.integers(0, 10)),
        "price": float(np.round(rng.random() * 100, 2)),
        "color": COLORS[int(rng.integers(0, len(COLORS)))],
        "text": " ".join(rng.choice(WORDS, size=int(rng.integers(2, 6))).tolist()),
        "uid": UIDS[int(rng.integers(0, len(UIDS)))],
        "when": (BASE_TIME + timedelta(hours=int(rng.integers(0, 24 * 30)))).isoformat(),
        "maybe": None if i % 4 == 0 else int(rng.integers(0, 3)),
        "meta": {"a": int(rng.integers(0, 5)), "b": COLORS[i % 3], "c": bool(i % 2), "d": None if i % 3 else i},
        "tags": rng.choice(["a", "b", "c", "d"], size=int(rng.integers(0, 4)), replace=False).tolist(),
        "nums": rng.integers(0, 6, size=int(rng.integers(0, 4))).tolist(),
        "flags": [bool(x) for x in rng.integers(0, 2, size=int(rng.integers(0, 3)))],
        "items": [
            {"k": str(rng.choice(["x", "y", "z"])), "v": int(rng.integers(0, 5))}
            for _ in range(int(rng.integers(0, 3)))
        ],
        "loc": {
            "lon": float(np.round(GEO_CENTER[0] + rng.uniform(-1, 1), 4)),
            "lat": float(np.round(GEO_CENTER[1] + rng.uniform(-1, 1), 4)),
        },
    }
    if i % 11 == 0:
        del p["count"]
    if i % 13 == 0:
        del p["flag"]
    if i % 17 == 0:
        p["tags"] = None
    return p


def make_points(n: int = N, seed: int = SEED) -> list[models.PointStruct]:
    """``n`` points with every vector kind (some missing per point) and payload type."""
    rng = np.random.default_rng(seed)
    points = []
    for i in range(n):
        vec = {name: random_vector(rng, name) for name in [*DENSE, *MULTI, *SPARSE]}
        if i % 7 == 0:
            del vec["multi"]
        if i % 5 == 0:
            del vec["sparse"]
        points.append(models.PointStruct(id=point_id(i), vector=vec, payload=payload(rng, i)))
    return points


INDEXES: dict[str, Any] = {
    "flag": models.PayloadSchemaType.BOOL,
    "count": models.PayloadSchemaType.INTEGER,
    "price": models.PayloadSchemaType.FLOAT,
    "color": models.PayloadSchemaType.KEYWORD,
    "text": models.TextIndexParams(type=models.TextIndexType.TEXT, phrase_matching=True),
    "uid": models.PayloadSchemaType.UUID,
    "when": models.PayloadSchemaType.DATETIME,
    "maybe": models.PayloadSchemaType.INTEGER,
    "meta.a": models.PayloadSchemaType.INTEGER,
    "meta.c": models.PayloadSchemaType.BOOL,
    "tags": models.PayloadSchemaType.KEYWORD,
    "nums": models.PayloadSchemaType.INTEGER,
    "flags": models.PayloadSchemaType.BOOL,
    "loc": models.PayloadSchemaType.GEO,
}
"""Payload indexes of the ``indexed`` collection (local mode accepts and ignores them)."""


def fill(client: QdrantClient, name: str, points: list[models.PointStruct], indexed: bool) -> None:
    client.create_collection(name, VECTORS_CONFIG, sparse_vectors_config=SPARSE_CONFIG)
    if indexed:
        for field, schema in INDEXES.items():
            client.create_payload_index(name, field, schema)
    client.upsert(name, points)


# -- clients ----------------------------------------------------------------------------
ENGINES: dict[str, Callable[[], QdrantClient]] = {
    "edge": lambda: EdgeQdrantClient(":memory:"),
    "tokenpool": lambda: TokenPoolingClient(":memory:", engine="edge"),
}
"""The clients under test, each compared with a local-mode client."""


def local_client() -> QdrantClient:
    return QdrantClient(":memory:")


# -- comparisons ------------------------------------------------------------------------
def close(a: float, b: float, rel: float = REL) -> bool:
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=rel)


def same_vector(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_vector(a[k], b[k]) for k in a)
    if isinstance(a, models.SparseVector) and isinstance(b, models.SparseVector):
        ia, ib = np.argsort(a.indices), np.argsort(b.indices)
        return (
            np.array_equal(np.asarray(a.indices)[ia], np.asarray(b.indices)[ib])
            and np.allclose(np.asarray(a.values)[ia], np.asarray(b.values)[ib], rtol=REL, atol=1e-5)
        )
    if a is None or b is None:
        return a is b
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a_arr.shape == b_arr.shape and np.allclose(a_arr, b_arr, rtol=REL, atol=1e-5)


def _same_point(x: Any, y: Any, where: str) -> None:
    assert x.payload == y.payload, f"{where}: payload of {x.id}: {x.payload} != {y.payload}"
    assert same_vector(x.vector, y.vector), f"{where}: vector of {x.id}: {x.vector} != {y.vector}"
    if getattr(x, "order_value", None) is not None or getattr(y, "order_value", None) is not None:
        assert close(x.order_value, y.order_value), f"{where}: order_value {x.order_value} != {y.order_value}"


def _rank(p: Any) -> float | None:
    """What orders a result: its ``order_value`` (order_by), else its score; ``None`` for
    records of a plain scroll (ordered by id)."""
    if getattr(p, "order_value", None) is not None:
        return float(p.order_value)
    score = getattr(p, "score", None)
    return None if score is None else float(score)


def compare_points(
    expected: list[Any], actual: list[Any], limit: int | None = None, where: str = "", offset: int = 0
) -> None:
    """Same points in the same order, scores within 1e-4 relative, same payloads and vectors.

    Points that tie (same score, or same ``order_value``) may come in either order; when
    the result was cut at ``limit`` (or after ``offset``), the last (first) group of tied
    points may hold different members of the tie."""
    ids_e, ids_a = [p.id for p in expected], [p.id for p in actual]
    assert len(actual) == len(expected), f"{where}: {len(actual)} points, local mode {len(expected)}: {ids_a} vs {ids_e}"
    if not expected or _rank(expected[0]) is None:
        assert ids_a == ids_e, f"{where}: ids {ids_a} != local {ids_e}"
        for x, y in zip(expected, actual):
            _same_point(x, y, where)
        return
    for i, (x, y) in enumerate(zip(expected, actual)):
        assert close(_rank(x), _rank(y)), (
            f"{where}: score[{i}] {_rank(y)} != local {_rank(x)} (ids {y.id}, {x.id})"
        )
    groups: list[list[int]] = []  # tie groups, by local mode's ranks
    for i, p in enumerate(expected):
        if groups and close(_rank(expected[groups[-1][0]]), _rank(p), 1e-6):
            groups[-1].append(i)
        else:
            groups.append([i])
    for g, members in enumerate(groups):
        cut = (g == len(groups) - 1 and limit is not None and len(expected) >= limit) or (g == 0 and offset > 0)
        tie_e = {ids_e[i] for i in members}
        tie_a = {ids_a[i] for i in members}
        if not cut:
            assert tie_a == tie_e, f"{where}: points tied at {_rank(expected[members[0]])}: {tie_a} != local {tie_e}"
        by_id = {actual[i].id: actual[i] for i in members}  # a point is once in a tie group
        for i in members:
            if ids_e[i] in by_id:
                _same_point(expected[i], by_id[ids_e[i]], where)


def outcome(fn: Callable[[QdrantClient], Any], client: QdrantClient) -> tuple[str, Any]:
    """``("ok", result)`` or ``("error", exception)``."""
    try:
        return "ok", fn(client)
    except Exception as exc:  # noqa: BLE001 - compared by the caller
        return "error", exc


def expect_same(
    fn: Callable[[QdrantClient], Any],
    local: QdrantClient,
    edge: QdrantClient,
    compare: Callable[[Any, Any], None],
    unsupported: str | None = None,
) -> None:
    """``fn`` on both clients: the same answer (``compare(local_result, edge_result)``), or
    both raise (Edge a ``ValueError`` or ``EdgeUnsupportedError``, never a bare engine
    error); with ``unsupported``, Edge raises ``EdgeUnsupportedError`` and that feature is
    in docs/engines.md's list."""
    kind_l, res_l = outcome(fn, local)
    kind_e, res_e = outcome(fn, edge)
    if unsupported is not None:
        assert kind_e == "error" and isinstance(res_e, EdgeUnsupportedError), (
            f"expected EdgeUnsupportedError for {unsupported!r}, got {kind_e}: {res_e!r}"
        )
        assert unsupported in documented_unsupported(), f"{unsupported!r} is not listed in docs/engines.md"
        return
    if kind_l == "error":
        assert kind_e == "error", f"local mode raised {res_l!r}; Edge answered {res_e!r}"
        assert isinstance(res_e, (ValueError, EdgeUnsupportedError)), f"Edge raised {res_e!r} (local: {res_l!r})"
        return
    if kind_e == "error":
        raise AssertionError(f"Edge raised {res_e!r}; local mode answered") from res_e
    compare(res_l, res_e)


# -- what docs/engines.md says Edge lacks ---------------------------------------------------
_SECTION = "## What Edge does not have"


def documented_unsupported() -> set[str]:
    """The features docs/engines.md lists under "What Edge does not have": the code spans
    before the colon of each bullet of that section (``- `a`, `b`: why``)."""
    text = (ROOT / "docs" / "engines.md").read_text(encoding="utf-8")
    section = text.split(_SECTION, 1)[1].split("\n## ", 1)[0]
    bullets = re.split(r"\n- ", "\n" + section)[1:]  # a bullet runs on over indented lines
    keys = set()
    for bullet in bullets:
        m = re.match(r"(.+?):(\s|$)", " ".join(bullet.split()))
        if m:
            keys.update(re.findall(r"`([^`]+)`", m.group(1)))
    return keys


def each_engine(request: pytest.FixtureRequest) -> Iterator[QdrantClient]:
    client = ENGINES[request.param]()
    yield client
    client.close()


def server_rules() -> str:
    """docs/engines.md's section on where Edge answers as a Qdrant server does (payload
    indexes it needs), which local mode does not."""
    text = (ROOT / "docs" / "engines.md").read_text(encoding="utf-8")
    return text.split("## Where Edge answers as a server", 1)[1].split("\n## ", 1)[0]
