"""One code path for the sync and the async client.

Client logic is written once, as a generator ("flow") that yields the parent-client
calls it needs (:class:`Call`) and receives their results. :func:`run_sync` drives a
flow against a ``QdrantClient``; :func:`run_async` drives the same flow against an
``AsyncQdrantClient``, awaiting whatever the parent returns as awaitable (some async
parent methods, like ``upload_points``, are plain sync methods).
"""

from __future__ import annotations

import inspect
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Call", "Flow", "T", "call", "run_async", "run_sync"]

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """A call of a parent-client method, by name."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


Flow = Generator[Call, Any, T]


def call(method: str, *args: Any, **kwargs: Any) -> Call:
    return Call(method, args, kwargs)


def run_sync(flow: Flow[T], target: Any) -> T:
    """Run ``flow``, executing each yielded :class:`Call` on ``target`` (a sync client)."""
    try:
        request = next(flow)
        while True:
            try:
                result = getattr(target, request.method)(*request.args, **request.kwargs)
            except Exception as exc:  # noqa: BLE001 - the flow handles (or re-raises) it
                request = flow.throw(exc)
            else:
                request = flow.send(result)
    except StopIteration as stop:
        return stop.value


async def run_async(flow: Flow[T], target: Any) -> T:
    """Async twin of :func:`run_sync`: awaits results that are awaitable."""
    try:
        request = next(flow)
        while True:
            try:
                result = getattr(target, request.method)(*request.args, **request.kwargs)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:  # noqa: BLE001 - the flow handles (or re-raises) it
                request = flow.throw(exc)
            else:
                request = flow.send(result)
    except StopIteration as stop:
        return stop.value
