"""What the operations share: errors, the progress hook, payload / metadata keys, reading
a collection, the one scroll loop (:func:`scroll_points`) and :func:`operation`, which
makes a sync function and its async twin from one flow (:mod:`qdrant_tokenpool._flow`).
"""

from __future__ import annotations

import inspect
import logging
import sys
import typing
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, Literal, ParamSpec

from qdrant_client import models

from .. import _parent as parent
from .._backend import backend
from .._flow import Flow, T, call, run_async, run_sync
from ..config import PoolingConfig
from ..store import CollectionPooling, UnknownCollectionError

__all__ = [
    "DOC_ID_PAYLOAD_KEY",
    "INDEX_METADATA_KEY",
    "TOKENS_PAYLOAD_KEY",
    "OperationError",
    "OperationUsageError",
    "Progress",
    "ProgressHook",
    "Reporter",
    "adescribe_collection",
    "collection_folder",
    "config_text",
    "describe_collection",
    "load_collection",
    "local_database_path",
    "missing_ids",
    "operation",
    "progress_bars",
    "resolve_encoder",
    "scroll_points",
]

P = ParamSpec("P")

INDEX_METADATA_KEY = "qdrant_tokenpool_cli"
"""Collection-metadata key where :func:`~qdrant_tokenpool.index_corpus` records the vector
name it writes and what the caller adds (the CLI: model and document length)."""

TOKENS_PAYLOAD_KEY = "_tokenpool_tokens"
"""Payload key: a point's unpooled token count (for the reduction in
:func:`~qdrant_tokenpool.collection_stats`)."""

DOC_ID_PAYLOAD_KEY = "doc_id"
"""Payload key: the document's original (string) id."""

logger = logging.getLogger("qdrant_tokenpool.ops")


class OperationError(ValueError):
    """A library operation cannot go on (nothing was written for the failing batch); the
    CLI exits with 1."""


class OperationUsageError(OperationError):
    """The arguments contradict the collection or each other; the CLI exits with 2."""


@dataclass(frozen=True)
class Progress:
    """One progress event of an operation (``operation``: its name, e.g. ``"repool"``).

    ``kind``: ``"info"`` (``message`` for the user); ``"start"`` (a counted step named
    ``message`` begins: ``total`` items of ``unit``, ``None`` when unknown); ``"advance"``
    (``count`` more items done); ``"end"`` (the counted step is over).
    """

    operation: str
    kind: Literal["info", "start", "advance", "end"]
    message: str = ""
    total: int | None = None
    count: int = 0
    unit: str = "item"


ProgressHook = Callable[[Progress], None]
"""Called with every :class:`Progress` event, in the calling thread."""


@dataclass(frozen=True)
class Reporter:
    """Sends an operation's events to ``hook``, or, without one, its messages to the
    ``qdrant_tokenpool.ops`` logger (``"info"`` at INFO, the rest at DEBUG)."""

    operation: str
    hook: ProgressHook | None

    def _emit(self, event: Progress) -> None:
        if self.hook is not None:
            self.hook(event)
        elif event.kind == "info":
            logger.info("%s: %s", self.operation, event.message)
        elif logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: %s", self.operation, event)

    def info(self, message: str) -> None:
        self._emit(Progress(self.operation, "info", message))

    def start(self, message: str, total: int | None, unit: str) -> None:
        self._emit(Progress(self.operation, "start", message, total=total, unit=unit))

    def advance(self, count: int) -> None:
        self._emit(Progress(self.operation, "advance", count=int(count)))

    def end(self) -> None:
        self._emit(Progress(self.operation, "end"))


def progress_bars(
    *, info: Callable[[str], None] | None = None, disable: bool = False
) -> ProgressHook:
    """A :data:`ProgressHook` for a terminal: a tqdm bar on stderr per counted step (none
    with ``disable``), each message handed to ``info`` (default: printed on stderr)."""
    from tqdm.auto import tqdm

    bars: list[Any] = []

    def on_event(event: Progress) -> None:
        if event.kind == "info" and info is not None:
            info(event.message)
        elif event.kind == "info":
            tqdm.write(event.message, file=sys.stderr)
        elif event.kind == "start":
            bars.append(tqdm(total=event.total, desc=event.message, unit=event.unit,
                             disable=disable, file=sys.stderr, dynamic_ncols=True))
        elif bars and event.kind == "advance":
            bars[-1].update(event.count)
        elif bars and event.kind == "end":
            bars.pop().close()

    return on_event


def local_database_path(client: Any) -> Path | None:
    """The folder of an embedded (``path=``) database behind any client, else ``None`` (a
    server, or ``":memory:"``)."""
    inner = backend(client)
    location = getattr(inner, "location", None)
    if getattr(inner, "persistent", False) and location:
        return Path(location)
    return None


def collection_folder(client: Any, collection_name: str) -> Path | None:
    """The folder of one collection of an embedded database behind ``client``, else ``None``."""
    root = local_database_path(client)
    if root is None:
        return None
    inner = backend(client)
    if hasattr(inner, "collection_path"):  # Qdrant Edge
        return Path(inner.collection_path(collection_name))
    return root / "collection" / collection_name  # qdrant-client's local mode


def config_text(cfg: PoolingConfig) -> str:
    """``pool_factor=2 method=hierarchical protected_tokens=1`` (messages, CLI output)."""
    return " ".join(f"{k}={v}" for k, v in cfg.to_dict().items())


def load_collection(collection_name: str) -> Flow[CollectionPooling]:
    """The collection's vectors, pooling config and metadata; ``UnknownCollectionError``
    (``known``: the collections that exist) when it does not exist."""
    if not (yield call(parent.collection_exists, collection_name)):
        response = yield call(parent.get_collections)
        known = sorted(c.name for c in response.collections)
        raise UnknownCollectionError(collection_name, known=known)
    info = yield call(parent.get_collection, collection_name)
    return CollectionPooling.from_info(collection_name, info)


def scroll_points(
    collection_name: str,
    handle: Callable[[list[models.Record]], Flow[Any] | None],
    report: Reporter,
    message: str,
    *,
    batch_size: int = 256,
    with_payload: Any = False,
    with_vectors: Any = False,
    offset: Any = None,
    checkpoint: Callable[[Any], Flow[Any]] | None = None,
) -> Flow[int]:
    """Read every point of a collection once, ``batch_size`` per ``scroll``, handing each
    batch (``models.Record`` list) to ``handle``; returns the exact point count at the start.

    ``handle`` may return a flow (client calls of its own): it runs before the next batch is
    read, so one batch is held at a time. A resumable read starts at point id ``offset``
    and runs ``checkpoint(next_offset)`` after each batch but the last. Progress: a counted
    step ``message`` in points (none for an empty collection).
    """
    total = int((yield call(parent.count, collection_name, exact=True)).count)
    if total:
        report.start(message, total, "pt")
    while True:
        records, offset = yield call(
            parent.scroll,
            collection_name,
            limit=batch_size,
            offset=offset,
            with_payload=with_payload,
            with_vectors=with_vectors,
        )
        step = handle(records)
        if step is not None:
            yield from step
        if total:
            report.advance(len(records))
        if offset is None:
            break
        if checkpoint is not None:
            yield from checkpoint(offset)
    if total:
        report.end()
    return total


def missing_ids(collection_name: str, ids: list[Any]) -> Flow[list[Any]]:
    """The point ids of ``ids`` not in the collection, in order."""
    present = yield call(
        parent.retrieve, collection_name, ids=ids, with_payload=False, with_vectors=False
    )
    have = {str(r.id) for r in present}
    return [i for i in ids if str(i) not in have]


def resolve_encoder(encoder: Any, method: str) -> Any:
    """``encoder``, or what it returns when it is a zero-argument loader without ``method``;
    ``TypeError`` when the result has no ``method(texts, batch_size=, show_progress=)``."""
    if not hasattr(encoder, method) and callable(encoder):
        encoder = encoder()
    if not callable(getattr(encoder, method, None)):
        raise TypeError(
            f"encoder must have {method}(texts, batch_size=, show_progress=) and dim "
            f"(or be a callable returning one), got {type(encoder).__name__}"
        )
    return encoder


def operation(
    flow: Callable[P, Flow[T]],
    name: str,
    *,
    pooling_client: bool,
    finish: Callable[[Any, T], T] | None = None,
) -> tuple[
    Callable[Concatenate[Any, P], T], Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]
]:
    """The sync function ``name`` and its async twin ``"a" + name`` running ``flow`` on the
    client passed first; their signature is ``flow``'s with the client in front and ``T``
    as return type (for ``help()`` and the API reference). ``pooling_client``: a plain
    Qdrant client is refused with a ``TypeError``. ``finish(client, result)`` completes the
    result with what only the client object knows.
    """

    def check(client: Any) -> None:
        if pooling_client and not hasattr(client, "get_pooling"):
            raise TypeError(
                f"{name} needs a pooling client: pass a TokenPoolingClient or an "
                f"AsyncTokenPoolingClient, not {type(client).__name__}"
            )

    def sync(client: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        check(client)
        result = run_sync(flow(*args, **kwargs), client)
        return result if finish is None else finish(client, result)

    async def async_(client: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        check(client)
        result = await run_async(flow(*args, **kwargs), client)
        return result if finish is None else finish(client, result)

    signature = inspect.signature(flow)
    client_param = inspect.Parameter("client", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    signature = signature.replace(
        parameters=[client_param, *signature.parameters.values()],
        return_annotation=typing.get_args(typing.get_type_hints(flow)["return"])[-1],
    )
    for fn, prefix in ((sync, ""), (async_, "a")):
        fn.__name__ = fn.__qualname__ = prefix + name
        fn.__module__ = flow.__module__
        setattr(fn, "__signature__", signature)  # noqa: B010 - functions lack it in typeshed
    sync.__doc__ = flow.__doc__
    async_.__doc__ = (
        f"Async twin of :func:`{name}` for an async client (the same steps, "
        "awaited; encoding and pooling run in the event loop's thread).\n"
        + (flow.__doc__ or "")
    )
    return sync, async_


describe_collection, adescribe_collection = operation(
    load_collection, "describe_collection", pooling_client=False
)
