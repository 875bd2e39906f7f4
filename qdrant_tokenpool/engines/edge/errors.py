"""Qdrant Edge's exceptions as qdrant-client's: Edge raises a bare ``Exception`` for a bad
request; here it is a ``ValueError`` (a ``RuntimeError`` for a service failure) that names
the operation and keeps Edge's message."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .. import EdgeUnsupportedError, StorageLockedError

__all__ = ["edge_errors", "query_errors"]


@contextlib.contextmanager
def edge_errors(what: str) -> Iterator[None]:
    """Edge raises bare ``Exception`` for bad requests: turn those into ``ValueError``
    (``RuntimeError`` for service failures), keeping Edge's message."""
    try:
        yield
    except (EdgeUnsupportedError, StorageLockedError):
        raise
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
    """:func:`edge_errors` for queries. qdrant-edge 0.9 reports a formula it cannot
    evaluate on a point (a variable neither in the payload nor in ``defaults``, a value
    that is not a number, a non-finite result) only as "Operation cancelled": the error
    says what that means (local mode and a server name the variable or expression)."""
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
