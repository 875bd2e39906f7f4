"""What the rest of the package needs from an encoder: :class:`TextEncoder`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["TextEncoder"]


@runtime_checkable
class TextEncoder(Protocol):
    """What ``add_texts``, ``query_text``, ``index_corpus`` and the evaluation need from an
    encoder (duck-typed).

    ``encode_documents`` / ``encode_queries`` return one ``(n_i, dim)`` array-like of token
    vectors per text, in input order. Optional attributes used when present: ``name``
    (the evaluation's cache key), ``protected_tokens`` (leading document rows pooling keeps).
    """

    @property
    def dim(self) -> int: ...

    def encode_documents(
        self, texts: Sequence[str], batch_size: int = ..., show_progress: bool | None = ...
    ) -> Sequence[Any]: ...

    def encode_queries(
        self, texts: Sequence[str], batch_size: int = ..., show_progress: bool | None = ...
    ) -> Sequence[Any]: ...
