"""One code path for the sync and the async client.

Client logic is written once, as a generator ("flow") that yields the parent-client
calls it needs (:class:`Call`) and receives their results. :func:`run_sync` drives a
flow against a ``QdrantClient``; :func:`run_async` drives the same flow against an
``AsyncQdrantClient``, awaiting whatever the parent returns as awaitable (some async
parent methods, like ``upload_points``, are plain sync methods).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar

from ._backend import backend

__all__ = [
    "Call",
    "Flow",
    "T",
    "call",
    "engine_call",
    "parent_call",
    "run_async",
    "run_blocking",
    "run_sync",
]

T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True)
class Call:
    """A call of a client method, by name (the runners look the name up on their target,
    so one flow serves the sync and the async client). Make it with :func:`call`, or with
    :func:`engine_call` for a method of the client's engine (``engine=True``)."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    engine: bool = False


Flow = Generator[Call, Any, T]


def call(method: Callable[Concatenate[Any, P], Any], /, *args: P.args, **kwargs: P.kwargs) -> Call:
    """A :class:`Call` of ``method`` with these arguments.

    ``method`` is the method itself, unbound (``call(QdrantClient.get_collection, name)``,
    or one of :mod:`qdrant_tokenpool._parent`'s): a type checker verifies the arguments
    against its signature, and a misspelt name fails at import.
    """
    return Call(method.__name__, args, kwargs)


def engine_call(method: str, /, *args: Any, **kwargs: Any) -> Call:
    """A :class:`Call` of ``method`` on the engine behind the client (its backend, see
    :func:`qdrant_tokenpool._backend.backend`), past ``QdrantClient``'s model layer: for
    capabilities that only some engines have, which a flow asks for only where
    :class:`~qdrant_tokenpool.store.PoolingState` says the engine has them (the async
    client's engine gives a coroutine, awaited as any result)."""
    return Call(method, args, kwargs, engine=True)


def parent_call(
    method: Callable[Concatenate[Any, P], T], /, *args: P.args, **kwargs: P.kwargs
) -> Flow[T]:
    """A flow of one call: the parent's ``method`` (for client methods that add nothing
    but what every flow gets, such as the token index's bookkeeping)."""
    return (yield call(method, *args, **kwargs))


def run_sync(
    flow: Flow[T],
    target: Any,
    resolve: Callable[[Any, Call], Any] | None = None,
) -> T:
    """Run ``flow``, executing each yielded :class:`Call` on ``target`` (a sync client).

    ``resolve(result, call)``, when given, turns an awaitable result into its value (see
    :func:`run_blocking`); other results are used as they are. The loop is
    :func:`run_async`'s, finished without an event loop: nothing in it suspends.
    """
    return _finish_now(_drive(flow, target, resolve))  # type: ignore[no-any-return]


def _finish_now(awaitable: Any) -> Any:
    """Run an awaitable that never suspends (async local mode) to completion, synchronously."""
    gen = awaitable.__await__()
    try:
        gen.send(None)
    except StopIteration as stop:
        return stop.value
    gen.close()
    raise RuntimeError("awaitable suspended; cannot finish it without an event loop")


def run_blocking(flow: Flow[T], target: Any, fallback: Callable[[], Any] | None = None) -> T:
    """Run ``flow`` synchronously against an async client ``target``.

    For the sync methods of ``AsyncQdrantClient`` (``upload_points``,
    ``upload_collection``). Plain results are used as they are. Awaitable results are
    finished without an event loop when ``fallback`` is ``None`` (async local mode never
    suspends); otherwise the same call is made on the sync client that ``fallback()``
    returns (remote backends).
    """

    def resolve(result: Any, request: Call) -> Any:
        if fallback is None:
            return _finish_now(result)
        if inspect.iscoroutine(result):
            result.close()
        return _method(fallback(), request)(*request.args, **request.kwargs)

    return run_sync(flow, target, resolve)


async def run_async(flow: Flow[T], target: Any) -> T:
    """Async twin of :func:`run_sync`: awaits results that are awaitable."""
    return await _drive(flow, target, None)


def _method(target: Any, request: Call) -> Any:
    """The callable that runs ``request`` on ``target`` (a client, or a client's ``super()``):
    the client's method, or its engine's for an :func:`engine_call`."""
    if not request.engine:
        return getattr(target, request.method)
    client = getattr(target, "__self__", target) if isinstance(target, super) else target
    return getattr(backend(client), request.method)


async def _drive(flow: Flow[T], target: Any, resolve: Callable[[Any, Call], Any] | None) -> T:
    """The runners' loop: each yielded call made on ``target``, its result (awaited, or
    passed to ``resolve`` when given) or its exception sent back into the flow."""
    try:
        request = next(flow)
        while True:
            try:
                result = _method(target, request)(*request.args, **request.kwargs)
                if inspect.isawaitable(result):
                    result = await result if resolve is None else resolve(result, request)
            except Exception as exc:  # noqa: BLE001 - the flow handles (or re-raises) it
                request = flow.throw(exc)
            else:
                request = flow.send(result)
    except StopIteration as stop:
        return stop.value
