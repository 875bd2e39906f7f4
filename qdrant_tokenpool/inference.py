"""Inference objects (``models.Document``, ``Image``, ``InferenceObject``) on pooled vectors.

Why: Qdrant users write ColBERT the fastembed way, ``models.Document(text=...,
model="colbert-ir/colbertv2.0")`` inside points and queries. qdrant-client embeds such
objects itself ("local inference", with fastembed) inside ``QdrantClient.upsert`` /
``query_points``, that is after our write path has run; but pooling needs the token
vectors. So for a request whose pooled vectors hold inference objects, the write flows
first have it embedded by the parent client's own local inference (the same fastembed
models, options and batch size that ``QdrantClient`` would use), then validate, pool and
write it as if the arrays had been given: the same checks, all or nothing. Queries given
as inference objects are embedded the same way (``is_query=True``) and never pooled.

Cloud inference (``cloud_inference=True``: the server embeds) cannot be pooled by a
client, which never sees the vectors: such objects on a pooled vector are refused with a
clear error (see :meth:`qdrant_tokenpool.write_path.PoolingJob.add`). Objects on vectors
without pooling pass through untouched either way.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from qdrant_client import models

__all__ = ["INFERENCE_TYPES", "LocalInference", "is_inference_object", "local_inference"]

INFERENCE_TYPES: tuple[type, ...] = (models.Document, models.Image, models.InferenceObject)
"""The qdrant-client models that stand for a vector to be computed by a model."""


def is_inference_object(value: Any) -> bool:
    """Whether ``value`` is a ``models.Document`` / ``Image`` / ``InferenceObject``."""
    return isinstance(value, INFERENCE_TYPES)


@dataclass(frozen=True)
class LocalInference:
    """A client's local inference, as the write and query flows use it.

    Attributes:
        embed_models: the parent client's ``_embed_models(raw_models, is_query=,
            batch_size=)``: yields the given models with every inference object replaced
            by its vectors (qdrant-client's own code path; sync on both clients).
        batch_size: the client's ``local_inference_batch_size`` (``None``: its default).
    """

    embed_models: Callable[..., Iterable[Any]]
    batch_size: int | None = None

    def documents(self, request: Any) -> Any:
        """``request`` (a list of points / operations, or one model such as a ``Batch``)
        with its inference objects embedded as documents."""
        out = self.embed_models(request, is_query=False, batch_size=self.batch_size)
        return next(iter(out)) if isinstance(request, BaseModel) else list(out)

    def query(self, obj: Any) -> Any:
        """The query vectors of one inference object (a multivector for a late-interaction
        model: ``(q, d)`` nested lists), embedded with ``is_query=True``."""
        resolved = next(
            iter(
                self.embed_models(
                    models.NearestQuery(nearest=obj), is_query=True, batch_size=self.batch_size
                )
            )
        )
        return resolved.nearest


def local_inference(client: Any) -> LocalInference | None:
    """The local inference of ``client`` (a ``QdrantClient`` or ``AsyncQdrantClient``), or
    ``None`` when it uses cloud inference (the server embeds; nothing to pool on the client).

    It refers to the client weakly: the client keeps it in its pooling state, and a strong
    reference back (a bound method) would make a reference cycle, so that a client dropped
    without ``close()`` kept its folder locked until the garbage collector ran."""
    if getattr(client, "cloud_inference", False):
        return None
    return LocalInference(
        _weak_method(client._embed_models), getattr(client, "local_inference_batch_size", None)
    )


def _weak_method(method: Any) -> Callable[..., Any]:
    """``method`` (bound) without a strong reference to its object. Called after the object
    is gone (it cannot be: a call runs inside a method of the client), it raises
    ``ReferenceError``."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any, **kwargs: Any) -> Any:
        bound = ref()
        if bound is None:
            raise ReferenceError("the client of this local inference was garbage-collected")
        return bound(*args, **kwargs)

    return call
