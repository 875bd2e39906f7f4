"""One code path for the sync and the async client: client logic is a generator ("flow")
that yields the parent-client calls it needs (:class:`Call`) and receives their results;
:func:`run_sync` drives it against a ``QdrantClient``, :func:`run_async` against an
``AsyncQdrantClient`` (awaiting the results that are awaitable)."""

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
    """A call of a client method by name (looked up on the runner's target, sync or async),
    or of its engine's (``engine=True``). Made by :func:`call` or :func:`engine_call`."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    engine: bool = False


Flow = Generator[Call, Any, T]


def call(method: Callable[Concatenate[Any, P], Any], /, *args: P.args, **kwargs: P.kwargs) -> Call:
    """A :class:`Call` of ``method`` (unbound, one of :mod:`qdrant_tokenpool._parent`'s):
    a type checker verifies the arguments against its signature."""
    return Call(method.__name__, args, kwargs)


def engine_call(method: str, /, *args: Any, **kwargs: Any) -> Call:
    """A :class:`Call` of ``method`` on the engine behind the client (its backend, past
    ``QdrantClient``'s model layer): for capabilities only some engines have, asked for
    where :class:`~qdrant_tokenpool.store.PoolingState` says the engine has them."""
    return Call(method, args, kwargs, engine=True)


def parent_call(
    method: Callable[Concatenate[Any, P], T], /, *args: P.args, **kwargs: P.kwargs
) -> Flow[T]:
    """A flow of one call of the parent's ``method`` (for client methods that add nothing
    but what every flow gets, such as the token index's bookkeeping)."""
    return (yield call(method, *args, **kwargs))


def run_sync(
    flow: Flow[T],
    target: Any,
    resolve: Callable[[Any, Call], Any] | None = None,
) -> T:
    """Run ``flow``, each yielded :class:`Call` made on ``target`` (a sync client);
    ``resolve(result, call)`` turns an awaitable result into its value
    (:func:`run_blocking`). The loop is :func:`run_async`'s: nothing in it suspends."""
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
    """Run ``flow`` synchronously against an async client ``target`` (for the sync methods
    of ``AsyncQdrantClient``). Awaitable results are finished without an event loop when
    ``fallback`` is ``None`` (async local mode never suspends), else the call is made again
    on the sync client ``fallback()`` returns."""

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
    """The method that runs ``request`` on ``target`` (a client or its ``super()``), or its
    engine's."""
    if not request.engine:
        return getattr(target, request.method)
    client = getattr(target, "__self__", target) if isinstance(target, super) else target
    return getattr(backend(client), request.method)


async def _drive(flow: Flow[T], target: Any, resolve: Callable[[Any, Call], Any] | None) -> T:
    """The runners' loop: each yielded call made on ``target``, its result (awaited, or
    ``resolve``d) or its exception sent back into the flow."""
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
