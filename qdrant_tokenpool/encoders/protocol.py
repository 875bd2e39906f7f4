"""What the rest of the package needs from an encoder: :class:`TextEncoder`.

The one encoder interface: ``add_texts`` / ``query_text`` (:mod:`qdrant_tokenpool.texts`),
:func:`qdrant_tokenpool.index_corpus` and the evaluation all take any object that has it
(a :class:`~qdrant_tokenpool.encoders.TokenEncoder`, a wrapper around another library, a
test double). Never imports torch; never imports ``qdrant_client``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["TextEncoder"]


@runtime_checkable
class TextEncoder(Protocol):
    """What ``add_texts`` / ``query_text`` need from an encoder (duck-typed).

    ``encode_documents`` / ``encode_queries`` take a list of texts and return one
    ``(n_i, dim)`` array-like of token vectors per text, in input order (numpy arrays,
    torch tensors or nested lists). ``dim`` is the vector size ``d``.
    :class:`qdrant_tokenpool.encoders.TokenEncoder` is one. Optional attributes that
    callers use when present: ``name`` (str; the evaluation's cache key),
    ``protected_tokens`` (int; leading document rows that pooling keeps, default 1).
    """

    @property
    def dim(self) -> int: ...

    def encode_documents(
        self, texts: Sequence[str], batch_size: int = ..., show_progress: bool | None = ...
    ) -> Sequence[Any]: ...

    def encode_queries(
        self, texts: Sequence[str], batch_size: int = ..., show_progress: bool | None = ...
    ) -> Sequence[Any]: ...
