"""Inference objects (``models.Document``, ``Image``, ``InferenceObject``) on pooled vectors:
embedded first by the parent client's own local inference (qdrant-client embeds only inside
``upsert`` / ``query_points``), then validated and pooled as arrays (queries never pooled);
refused with cloud inference. Objects on other vectors pass through untouched.
"""

from __future__ import annotations

import weakref
from typing import Any

from pydantic import BaseModel
from qdrant_client import models

__all__ = ["INFERENCE_TYPES", "LocalInference", "is_inference_object"]

INFERENCE_TYPES: tuple[type, ...] = (models.Document, models.Image, models.InferenceObject)
"""The qdrant-client models that stand for a vector to be computed by a model."""


def is_inference_object(value: Any) -> bool:
    """Whether ``value`` is a ``models.Document`` / ``Image`` / ``InferenceObject``."""
    return isinstance(value, INFERENCE_TYPES)


class LocalInference:
    """A client's local inference: the parent client's own ``_embed_models`` (fastembed,
    the client's options read at each use). It refers to the client weakly (a cycle would
    keep a dropped client's folder lock until the garbage collector ran); it is used only
    inside the client's own methods, so the client is alive then."""

    def __init__(self, client: Any) -> None:
        self._ref = weakref.ref(client)

    @property
    def active(self) -> bool:
        """Whether the client embeds locally (``False`` with ``cloud_inference=True``: the
        server embeds, the client never sees the vectors)."""
        client = self._ref()
        return client is not None and not getattr(client, "cloud_inference", False)

    def _embed(self, request: Any, is_query: bool) -> Any:
        client: Any = self._ref()  # alive: this runs inside one of its methods
        batch_size = getattr(client, "local_inference_batch_size", None)
        return client._embed_models(request, is_query=is_query, batch_size=batch_size)

    def documents(self, request: Any) -> Any:
        """``request`` (a list of points / operations, or one model such as a ``Batch``)
        with its inference objects embedded as documents."""
        out = self._embed(request, is_query=False)
        return next(iter(out)) if isinstance(request, BaseModel) else list(out)

    def query(self, obj: Any) -> Any:
        """The query vectors of one inference object (a multivector for a late-interaction
        model: ``(q, d)`` nested lists), embedded with ``is_query=True``."""
        resolved = next(iter(self._embed(models.NearestQuery(nearest=obj), is_query=True)))
        return resolved.nearest
