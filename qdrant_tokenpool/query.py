"""Late-interaction queries on pooled collections: one ``query_points`` call with a prefetch
funnel built from the collection's stored pooling config, innermost first: *summary* (HNSW on
the first-stage encoding, keeps ``prefetch_limit``), *pooled* (MaxSim over the pooled
multivector, keeps ``limit`` or ``rescore_limit``), *full resolution* (MaxSim over the
unpooled vectors, keeps ``limit``). Every stage gets the filter; queries are never pooled.
``rescore="client"`` runs the last stage's exact MaxSim here (:mod:`qdrant_tokenpool.maxsim`).
Defaults and their reasons: docs/query.md, docs/funnel.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from qdrant_client import models
from qdrant_client.http.models import QueryResponse

from . import _parent as parent
from . import candidates as token_index
from . import store
from ._flow import Flow, call
from .firststage import MuveraParams, query_summary
from .footprint import footprint_from_metadata, footprint_search_params
from .inference import is_inference_object
from .maxsim import maxsim
from .pooling.common import normalise
from .pooling.validation import InvalidMultivectorError, as_multivector, check_int, vector_label
from .store import CollectionPooling

__all__ = [
    "RESCORE_MODES",
    "Funnel",
    "Stage",
    "default_prefetch_limit",
    "default_rescore_limit",
    "plan_funnel",
    "query_late_interaction",
    "resolve_multivector",
]

RESCORE_MODES = (None, "server", "client")
_CLIENT_DISTANCES = (models.Distance.COSINE, models.Distance.DOT)


def default_prefetch_limit(limit: int) -> int:
    """Candidates of the summary (HNSW) stage: ``max(100, 10 * limit)``."""
    return max(100, 10 * limit)


def default_rescore_limit(limit: int, prefetch_limit: int | None = None) -> int:
    """Candidates handed to the full-resolution stage: ``max(40, 4 * limit)``, at most
    ``prefetch_limit`` when a summary stage comes first."""
    n = max(40, 4 * limit)
    return n if prefetch_limit is None else max(limit, min(n, prefetch_limit))


@dataclass(frozen=True)
class Stage:
    """One step of the funnel: query ``using`` with ``kind`` (``"dense"`` or
    ``"maxsim"``), keep ``limit`` points."""

    using: str
    kind: str
    limit: int


@dataclass(frozen=True)
class Funnel:
    """The stages of a late-interaction query, innermost first, and what they need."""

    collection_name: str
    using: str
    distance: models.Distance
    dim: int
    stages: tuple[Stage, ...]
    final_distance: models.Distance
    summary_method: str = "mean"
    muvera: MuveraParams | None = None

    def summary_query(self, q: np.ndarray) -> np.ndarray:
        """The dense query of the summary stage: ``q`` encoded like the documents'
        summary vectors (:func:`~qdrant_tokenpool.firststage.query_summary`; unit token
        vectors on a Cosine multivector)."""
        unit = self.distance == models.Distance.COSINE
        return query_summary(self.summary_method, q, muvera=self.muvera, normalize=unit)

    @property
    def shape(self) -> str:
        """``"plain"``, ``"summary"``, ``"full_resolution"`` or ``"summary+full_resolution"``."""
        parts = []
        if self.stages[0].kind == "dense":
            parts.append("summary")
        if self.stages[-1].using != self.using:
            parts.append("full_resolution")
        return "+".join(parts) or "plain"


def resolve_multivector(cp: CollectionPooling, using: str | None, *, arg: str = "using") -> str:
    """The multivector to use: ``using`` when given (checked), else the collection's one
    pooled multivector (or, with none pooled, its one multivector). ``arg``: the caller's
    parameter name, quoted in errors. Queries, ``add_texts``, ``index_corpus`` and
    ``repool`` all pick "the multivector" here. ValueError: ``using`` is missing or dense,
    or there is no single candidate."""
    multis = [n for n, spec in cp.vectors.items() if spec.multivector]

    def names(vectors: list[str]) -> str:
        return ", ".join(repr(n) for n in vectors)

    if using is not None:
        if not isinstance(using, str):
            raise ValueError(f"{arg} must be a vector name (str), got {using!r}")
        spec = cp.vectors.get(using)
        if spec is None:
            raise ValueError(
                f"collection {cp.name!r} has no {vector_label(using)} "
                f"(multivectors: {names(multis) or 'none'})"
            )
        if not spec.multivector:
            raise ValueError(
                f"{vector_label(using)} of collection {cp.name!r} is a dense single vector; "
                "late-interaction queries need a multivector"
            )
        return using
    pooled = sorted(cp.pooling)
    if len(pooled) == 1:
        return pooled[0]
    if len(pooled) > 1:
        raise ValueError(
            f"collection {cp.name!r} has several pooled multivectors "
            f"({names(pooled)}): pass {arg}="
        )
    if len(multis) == 1:  # nothing pooled, so no pooling extras either
        return multis[0]
    if not multis:
        raise ValueError(f"collection {cp.name!r} has no multivector to query")
    raise ValueError(
        f"collection {cp.name!r} has several multivectors "
        f"({names(multis)}) and none is pooled: pass {arg}="
    )


def plan_funnel(
    cp: CollectionPooling,
    *,
    using: str | None = None,
    limit: int = 10,
    prefetch_limit: int | None = None,
    rescore_limit: int | None = None,
    summary: bool | None = None,
    full_resolution: bool | None = None,
) -> Funnel:
    """The funnel for one collection ``cp`` (:func:`store.load`), no I/O. The other
    arguments are ``query_late_interaction``'s (``using``: :func:`resolve_multivector`;
    limits at least ``limit``, defaults :func:`default_prefetch_limit` and
    :func:`default_rescore_limit`). Raises ``ValueError`` for a bad limit or a stage
    required but not configured."""
    limit = check_int("limit", limit)
    vname = resolve_multivector(cp, using)
    spec = cp.vectors[vname]
    cfg = cp.pooling.get(vname)
    summary_name = cfg.summary_vector if cfg is not None else None
    original_name = cfg.keep_original_vector if cfg is not None else None
    label = vector_label(vname)
    for flag, name, what, field in (
        (summary, summary_name, "summary", "summary_vector"),
        (full_resolution, original_name, "full_resolution", "keep_original_vector"),
    ):
        if flag is True and name not in cp.vectors:
            raise ValueError(
                f"{what}=True, but the pooling config of {label} in collection "
                f"{cp.name!r} declares no {field} (or the vector is missing)"
            )
    if prefetch_limit is not None:
        prefetch_limit = check_int("prefetch_limit", prefetch_limit)
    if rescore_limit is not None:
        rescore_limit = check_int("rescore_limit", rescore_limit)

    def at_least_limit(name: str, value: int) -> int:
        if value < limit:
            raise ValueError(f"{name} ({value}) must be >= limit ({limit})")
        return value

    stages: list[Stage] = []
    pf = None
    if summary is not False and summary_name in cp.vectors:
        pf = at_least_limit("prefetch_limit", prefetch_limit or default_prefetch_limit(limit))
        stages.append(Stage(summary_name, "dense", pf))  # type: ignore[arg-type]
    if full_resolution is not False and original_name in cp.vectors:
        rl = at_least_limit("rescore_limit", rescore_limit or default_rescore_limit(limit, pf))
        stages.append(Stage(vname, "maxsim", rl))
        stages.append(Stage(original_name, "maxsim", limit))  # type: ignore[arg-type]
    else:
        stages.append(Stage(vname, "maxsim", limit))
    final_distance = cp.vectors[stages[-1].using].distance
    return Funnel(
        cp.name,
        vname,
        spec.distance,
        spec.size,
        tuple(stages),
        final_distance,
        summary_method=(cfg.summary_method or "mean") if cfg is not None else "mean",
        muvera=cfg.muvera if cfg is not None else None,
    )


def _build_request(
    funnel: Funnel,
    stages: Sequence[Stage],
    q: np.ndarray,
    *,
    query_filter: models.Filter | None,
    search_params: models.SearchParams | None,
    pooled_params: models.SearchParams | None = None,
) -> dict[str, Any]:
    """``query_points`` keyword arguments for ``stages`` (innermost first): ``search_params``
    on the first stage, ``pooled_params`` (the stored footprint choice) on the pooled
    multivector's stage unless ``search_params`` sets it. A Cosine multivector gets the
    query's unit rows: the same scores, and an engine that normalises in float32 never sees
    rows whose squares overflow or underflow (a query scaled by 1e20 would score 0 or NaN)."""
    rows: dict[models.Distance, list[Any]] = {}  # the query as sent, once per distance

    def vector(stage: Stage) -> Any:
        if stage.kind == "dense":  # one summary stage at most
            return funnel.summary_query(q).tolist()
        distance = funnel.distance if stage.using == funnel.using else funnel.final_distance
        if distance not in rows:
            unit = distance == models.Distance.COSINE
            rows[distance] = (normalise(q, zero="keep").astype(np.float32) if unit else q).tolist()
        return rows[distance]

    def params(i: int, stage: Stage) -> models.SearchParams | None:
        if i == 0 and search_params is not None:
            return search_params
        return pooled_params if stage.using == funnel.using else None

    prefetch: models.Prefetch | None = None
    for i, stage in enumerate(stages[:-1]):
        prefetch = models.Prefetch(
            query=vector(stage),
            using=stage.using or None,  # "" is the unnamed default vector
            limit=stage.limit,
            filter=query_filter,
            params=params(i, stage),
            prefetch=prefetch,
        )
    last = stages[-1]
    return {
        "query": vector(last),
        "using": last.using or None,
        "prefetch": prefetch,
        "limit": last.limit,
        "query_filter": query_filter,
        "search_params": params(len(stages) - 1, last),
    }


def _with_vector_names(with_vectors: Any, needed: str) -> Any:
    if with_vectors is True or needed == "":  # "": the collection's one unnamed vector
        return True
    if not with_vectors:
        return [needed]
    names = [with_vectors] if isinstance(with_vectors, str) else list(with_vectors)
    return names if needed in names else [*names, needed]


def _vector_of(point: models.ScoredPoint, name: str) -> Any:
    v = point.vector
    if isinstance(v, dict) and name in v:
        return v[name]
    if name == "" and v is not None and not isinstance(v, dict):
        return v
    raise ValueError(f"point {point.id!r} has no vector {name!r} to rescore")


def _strip_vectors(vector: Any, with_vectors: Any) -> Any:
    if with_vectors is True:
        return vector
    if not with_vectors:
        return None
    if not isinstance(vector, dict):
        return vector  # the unnamed default vector was asked for
    names = {with_vectors} if isinstance(with_vectors, str) else set(with_vectors)
    return {k: v for k, v in vector.items() if k in names}


def rescore_points(
    q: np.ndarray,
    points: Sequence[models.ScoredPoint],
    *,
    vector_name: str,
    distance: models.Distance,
    limit: int,
    with_vectors: Any = False,
    score_threshold: float | None = None,
    device: str | None = None,
) -> list[models.ScoredPoint]:
    """Exact MaxSim of ``q`` against the ``vector_name`` multivectors carried by
    ``points``; the best ``limit`` as new ``ScoredPoint`` objects, best first (ties keep
    the input order). ``with_vectors`` is what the caller asked for: other vectors are
    dropped from the result."""
    if distance not in _CLIENT_DISTANCES:
        raise ValueError(
            f"client rescoring supports Cosine and Dot multivectors, not {distance.value}"
        )
    if not points:
        return []
    docs = [np.asarray(_vector_of(p, vector_name), dtype=np.float32) for p in points]
    scores = maxsim(
        q, docs, normalize=distance == models.Distance.COSINE, device=device
    ).astype(np.float64)
    order = np.argsort(-scores, kind="stable")[:limit]
    if score_threshold is not None:  # best first: the ones at or above it
        order = order[scores[order] >= score_threshold]
    return [
        points[i].model_copy(
            update={
                "score": float(scores[i]),
                "vector": _strip_vectors(points[i].vector, with_vectors),
            }
        )
        for i in order
    ]


def query_late_interaction(
    state: store.PoolingState,
    collection_name: str,
    query: Any,
    *,
    using: str | None = None,
    limit: int = 10,
    prefetch_limit: int | None = None,
    rescore_limit: int | None = None,
    query_filter: models.Filter | None = None,
    with_payload: Any = True,
    with_vectors: Any = False,
    rescore: str | None = None,
    summary: bool | None = None,
    full_resolution: bool | None = None,
    search_params: models.SearchParams | None = None,
    score_threshold: float | None = None,
    device: str | None = None,
    first_stage: str | None = None,
    neighbours: int | None = None,
    **kwargs: Any,
) -> Flow[QueryResponse]:
    """The flow of ``TokenPoolingClient.query_late_interaction`` (its docstring says what
    each argument does; ``state`` is the client's): the query checked (or embedded, for an
    inference object), then one ``query_points`` call with the funnel of :func:`plan_funnel`,
    or, with ``rescore="client"``, the candidates' vectors rescored by :func:`rescore_points`.
    """
    if rescore not in RESCORE_MODES:
        raise ValueError(f"rescore must be None, 'server' or 'client', got {rescore!r}")
    for key in ("query", "prefetch", "using", "query_filter", "offset"):
        if key in kwargs:
            raise TypeError(f"query_late_interaction() does not take {key!r}")
    cp = yield from store.load(state, collection_name)
    index = yield from token_index.active(state, collection_name)
    tokens = token_index.use_tokens(
        index, cp, first_stage, summary=summary, using=using, filtered=query_filter is not None
    )
    funnel = plan_funnel(
        cp,
        using=using,
        limit=limit,
        prefetch_limit=None if tokens else prefetch_limit,
        rescore_limit=rescore_limit,
        summary=False if tokens else (True if first_stage == "summary" else summary),
        full_resolution=full_resolution,
    )
    if is_inference_object(query):
        if state.inference is None:
            raise InvalidMultivectorError(
                f"query: got a models.{type(query).__name__} and no local inference to embed "
                "it (cloud inference embeds on the server, but the funnel needs the query's "
                "token vectors on the client); use local inference or pass the (q, d) vectors",
                vector_name=funnel.using,
            )
        query = state.inference.query(query)
    try:
        q = as_multivector(query, dim=funnel.dim, vector_name=funnel.using)
    except InvalidMultivectorError as exc:
        raise InvalidMultivectorError(f"query: {exc.problem}", vector_name=funnel.using) from None
    if tokens:
        assert index is not None
        ids = yield from token_index.candidate_ids(
            index, q, cosine=funnel.distance == models.Distance.COSINE, neighbours=neighbours,
            limit=prefetch_limit, results=limit, search_params=search_params,
            hnsw=state.streams,  # not local mode (exact search)
            native=state.native_search,
        )
        if not ids:
            return QueryResponse(points=[])
        query_filter, search_params = token_index.restrict(query_filter, ids), None
    choice = footprint_from_metadata(cp.metadata)  # not on local mode: exact search, it warns
    ours = state.streams and choice is not None and choice.get("vector") == funnel.using
    pooled = footprint_search_params(choice) if ours else None
    client = rescore == "client"
    final = funnel.stages[-1]
    if client and funnel.final_distance not in _CLIENT_DISTANCES:
        raise ValueError(
            f"client rescoring supports Cosine and Dot multivectors; vector {final.using!r} "
            f"of collection {collection_name!r} uses {funnel.final_distance.value}"
        )
    request = _build_request(
        funnel,
        (funnel.stages[:-1] or funnel.stages) if client else funnel.stages,  # client: candidates
        q,
        query_filter=query_filter,
        search_params=search_params,
        pooled_params=pooled,
    )
    response = yield call(
        parent.query_points,
        collection_name,
        **request,
        with_payload=with_payload,
        with_vectors=_with_vector_names(with_vectors, final.using) if client else with_vectors,
        score_threshold=None if client else score_threshold,
        **kwargs,
    )
    if not client:
        return response
    points = rescore_points(
        q,
        response.points,
        vector_name=final.using,
        distance=funnel.final_distance,
        limit=final.limit,
        with_vectors=with_vectors,
        score_threshold=score_threshold,
        device=device,
    )
    return QueryResponse(points=points)
