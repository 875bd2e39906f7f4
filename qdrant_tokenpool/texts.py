"""Text in, text out: the ``add_texts`` flow and ``query_text``'s encoding, for both clients.

The encoder is duck-typed (:class:`~qdrant_tokenpool.encoders.protocol.TextEncoder`; no
torch import here) and runs in the calling thread (with the async client: the event loop's).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from qdrant_client import models

from . import store, write_path
from ._flow import Flow
from .encoders.protocol import TextEncoder
from .pooling.validation import as_multivector, check_int, vector_label
from .query import resolve_multivector
from .store import PoolingState

__all__ = ["TEXT_PAYLOAD_KEY", "TextEncoder", "add_texts", "check_ids", "encode_query"]

TEXT_PAYLOAD_KEY = "text"
"""Payload key of the text when ``add_texts`` is given no ``payloads``."""


def _check_encoder(encoder: Any, method: str) -> None:
    if not callable(getattr(encoder, method, None)):
        raise TypeError(
            f"encoder must have an {method}(texts, batch_size=, show_progress=) method "
            f"(e.g. qdrant_tokenpool.encoders.TokenEncoder), got {type(encoder).__name__}"
        )


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"texts must be a list of strings, not a single {type(texts).__name__}")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is a {type(t).__name__}, expected str")
    return out


def check_ids(ids: Iterable[Any], n: int) -> list[Any]:
    """Point ids for ``n`` texts: unsigned ints or UUIDs (``uuid.UUID`` or a UUID string;
    returned as ``str``), as many as texts, no repeats. Raises ``ValueError`` otherwise
    (``TypeError`` for an id of another type)."""
    if isinstance(ids, (str, bytes)):
        raise TypeError("ids must be a list of point ids, not a single string")
    out = list(ids)
    if len(out) != n:
        raise ValueError(f"ids has {len(out)} entries for {n} texts: give one id per text")
    seen: set[Any] = set()
    for i, pid in enumerate(out):
        key: Any
        if isinstance(pid, uuid.UUID):
            out[i] = key = str(pid)
        elif isinstance(pid, (int, np.integer)) and not isinstance(pid, bool):
            if pid < 0:
                raise ValueError(f"ids[{i}] = {pid}: point ids must be unsigned integers or UUIDs")
            out[i] = key = int(pid)
        elif isinstance(pid, str):
            try:
                key = str(uuid.UUID(pid))
            except ValueError:
                raise ValueError(f"ids[{i}] = {pid!r}: a string point id must be a UUID") from None
        else:
            raise TypeError(f"ids[{i}] = {pid!r}: point ids must be unsigned integers or UUIDs")
        if key in seen:
            raise ValueError(f"ids[{i}] = {out[i]!r} repeats an earlier id")
        seen.add(key)
    return out


def _check_payloads(payloads: Iterable[Any], n: int) -> list[dict[str, Any] | None]:
    if isinstance(payloads, Mapping):
        raise TypeError("payloads must be a list with one payload (dict or None) per text")
    out = list(payloads)
    if len(out) != n:
        raise ValueError(
            f"payloads has {len(out)} entries for {n} texts: give one payload per text"
        )
    for i, p in enumerate(out):
        if p is not None and not isinstance(p, Mapping):
            raise ValueError(f"payloads[{i}] is a {type(p).__name__}, expected a dict or None")
    return [None if p is None else dict(p) for p in out]


def add_texts(
    state: PoolingState,
    collection_name: str,
    texts: Iterable[str],
    encoder: TextEncoder,
    *,
    ids: Iterable[Any] | None,
    payloads: Iterable[Mapping[str, Any] | None] | None,
    vector_name: str | None,
    batch_size: int,
    show_progress: bool | None,
    wait: bool,
) -> Flow[list[Any]]:
    """The flow of ``TokenPoolingClient.add_texts`` (its docstring says what the arguments
    are): everything is checked before anything is encoded, then each batch is encoded and
    written with the write path's ``upsert`` flow, one batch held at a time."""
    _check_encoder(encoder, "encode_documents")
    batch_size = check_int("batch_size", batch_size)
    docs = _check_texts(texts)
    n = len(docs)
    point_ids = check_ids(ids, n) if ids is not None else [str(uuid.uuid4()) for _ in range(n)]
    pays = (
        _check_payloads(payloads, n)
        if payloads is not None
        else [{TEXT_PAYLOAD_KEY: t} for t in docs]
    )
    cp = yield from store.load(state, collection_name)
    vname = resolve_multivector(cp, vector_name, arg="vector_name")
    spec = cp.vectors[vname]
    label = vector_label(vname)
    if not spec.multivector:
        raise ValueError(
            f"{label} of collection {collection_name!r} is a dense single vector; "
            "add_texts writes token vectors into a multivector"
        )
    enc_dim = getattr(encoder, "dim", None)
    if enc_dim is not None and int(enc_dim) != spec.size:
        raise ValueError(
            f"encoder dim {enc_dim} != size {spec.size} of {label} "
            f"in collection {collection_name!r}"
        )
    # the write path checks pooled vectors; others are checked here and written as lists
    pooled = state.enabled and vname in cp.pooling
    from tqdm.auto import tqdm

    show = n > 1000 if show_progress is None else bool(show_progress)
    with tqdm(total=n, disable=not show, unit="doc", desc="add_texts") as bar:
        for start in range(0, n, batch_size):
            chunk = docs[start : start + batch_size]
            encoded = list(
                encoder.encode_documents(chunk, batch_size=len(chunk), show_progress=False)
            )
            if len(encoded) != len(chunk):
                raise ValueError(
                    f"encoder.encode_documents returned {len(encoded)} results for "
                    f"{len(chunk)} texts"
                )
            points = []
            for k, vec in enumerate(encoded):
                i = start + k
                if not pooled:
                    vec = as_multivector(
                        vec, dim=spec.size, point_id=point_ids[i], vector_name=vname
                    ).tolist()
                struct = vec if vname == "" else {vname: vec}
                points.append(
                    models.PointStruct.model_construct(
                        id=point_ids[i], vector=struct, payload=pays[i]
                    )
                )
            yield from write_path.upsert(state, collection_name, points, {"wait": wait})
            bar.update(len(chunk))
    return point_ids


def encode_query(encoder: TextEncoder, text: str, options: Mapping[str, Any]) -> Any:
    """The token vectors of ``client.query_text``'s ``text``:
    ``encoder.encode_queries([text])[0]`` (never pooled). ``options`` are the
    ``query_late_interaction`` keywords it was given (``query=`` is refused)."""
    _check_encoder(encoder, "encode_queries")
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if "query" in options:
        raise TypeError("query_text() takes the text, not query=")
    encoded = list(encoder.encode_queries([text], batch_size=1, show_progress=False))
    if len(encoded) != 1:
        raise ValueError(f"encoder.encode_queries returned {len(encoded)} results for 1 text")
    return encoded[0]
