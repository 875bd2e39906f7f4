"""Qdrant Edge's exceptions as qdrant-client's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["edge_errors", "query_errors"]


@contextlib.contextmanager
def edge_errors(what: str) -> Iterator[None]:
    """Edge's bare ``Exception`` for a bad request as a ``ValueError`` (``RuntimeError`` for
    a service failure) naming ``what``, with Edge's message."""
    try:
        yield
    except Exception as exc:
        if type(exc) in (ValueError, TypeError, KeyError):
            raise ValueError(f"{what}: {exc}") from exc
        if type(exc) is not Exception:
            raise
        msg = str(exc)
        if msg.startswith("Service"):
            raise RuntimeError(f"Qdrant Edge, {what}: {msg}") from exc
        raise ValueError(f"Qdrant Edge, {what}: {msg}") from exc


@contextlib.contextmanager
def query_errors(what: str) -> Iterator[None]:
    """:func:`edge_errors` for queries, saying what qdrant-edge 0.9's "Operation cancelled"
    means: a formula it could not evaluate on some point."""
    try:
        with edge_errors(what):
            yield
    except ValueError as exc:
        if "Operation cancelled" not in str(exc):
            raise
        raise ValueError(
            f"{exc}: a formula could not be evaluated on some point (a variable neither in the "
            "payload nor in the formula defaults, a value that is not a number, or a non-finite "
            "result such as 0^-1 or ln(-1))"
        ) from exc
