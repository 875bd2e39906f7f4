"""What the operations share: their errors, the progress hook, payload / metadata keys,
reading a collection (as :class:`~qdrant_tokenpool.store.CollectionPooling`), the one
scroll loop (:func:`scroll_points`) and the one way an operation gets its sync function
and async twin (:func:`operation`).

The operations are flows (:mod:`qdrant_tokenpool._flow`) that yield calls of the public
client API (``get_collection``, ``scroll``, ``upload_collection``, ...), so one logic
serves :class:`~qdrant_tokenpool.TokenPoolingClient` and
:class:`~qdrant_tokenpool.AsyncTokenPoolingClient`.
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
name it writes and what the caller adds (the CLI: model and document length). The name
predates the library operations and is kept so existing collections stay readable."""

TOKENS_PAYLOAD_KEY = "_tokenpool_tokens"
"""Payload key: a point's unpooled token count (for the reduction in
:func:`~qdrant_tokenpool.collection_stats`)."""

DOC_ID_PAYLOAD_KEY = "doc_id"
"""Payload key: the document's original (string) id."""

logger = logging.getLogger("qdrant_tokenpool.ops")


class OperationError(ValueError):
    """A library operation cannot go on: the message says why (nothing was written for
    the failing batch). The CLI prints it and exits with 1."""


class OperationUsageError(OperationError):
    """The arguments contradict the collection or each other (e.g. a pool factor other
    than the collection's, or no single multivector to pick). The CLI exits with 2."""


@dataclass(frozen=True)
class Progress:
    """One progress event of an operation.

    Attributes:
        operation: ``"index_corpus"``, ``"repool"``, ``"collection_stats"``,
            ``"evaluate_collection"`` or ``"open"``
            (:func:`~qdrant_tokenpool.ops.open_database`).
        kind: ``"info"`` (a message, e.g. before a long step: loading a model, creating a
            collection); ``"start"`` (a counted step begins: ``total`` items of ``unit``,
            ``message`` names it); ``"advance"`` (``count`` more items done); ``"end"``
            (the counted step is over).
        message: text for the user (``"info"`` / ``"start"``).
        total: items of the counted step (``"start"``), ``None`` when unknown.
        count: items done since the last event (``"advance"``).
        unit: what is counted (``"doc"``, ``"pt"``).
    """

    operation: str
    kind: Literal["info", "start", "advance", "end"]
    message: str = ""
    total: int | None = None
    count: int = 0
    unit: str = "item"


ProgressHook = Callable[[Progress], None]
"""Called with every :class:`Progress` event, in the calling thread."""


class Reporter:
    """Sends an operation's events to ``hook``, or, without one, its messages to the
    ``qdrant_tokenpool.ops`` logger (``"info"`` at INFO, the rest at DEBUG)."""

    def __init__(self, operation: str, hook: ProgressHook | None):
        self.operation = operation
        self.hook = hook

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
    """A :data:`ProgressHook` for a terminal (what the CLI passes): a tqdm bar on stderr
    per counted step, and each message handed to ``info`` (default: printed on stderr).
    ``disable``: no bars; the messages still go to ``info``."""
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
    """The folder of an embedded (``path=``) database behind ``client``, else ``None``
    (a server, or ``":memory:"``). Works for sync and async, plain and pooling clients."""
    inner = backend(client)
    location = getattr(inner, "location", None)
    if getattr(inner, "persistent", False) and location:
        return Path(location)
    return None


def collection_folder(client: Any, collection_name: str) -> Path | None:
    """The folder of one collection of an embedded (``path=``) database behind ``client``
    (Qdrant Edge or local mode), else ``None``."""
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
    """The collection's vectors, pooling config and metadata.

    Raises:
        UnknownCollectionError: it does not exist (``known`` lists those that do).
    """
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
    """Read every point of a collection once, ``batch_size`` points per ``scroll`` request,
    and hand each batch (a list of ``models.Record``) to ``handle``.

    The one scroll loop of the operations (repool, stats, evaluation, token index).
    ``handle`` may return a flow (a batch that needs client calls of its own, such as
    repool's writes): it runs before the next batch is read, so one batch is held at a time.
    A resumable read starts at point id ``offset`` and runs ``checkpoint(next_offset)``
    after each batch but the last, to record how far it got. Progress: a counted step
    ``message`` over the exact point count, in points (none for an empty collection).

    Returns:
        The collection's exact point count when the read began.
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
    """The point ids of ``ids`` not in the collection, in order (what a resumable write
    still has to write)."""
    present = yield call(
        parent.retrieve, collection_name, ids=ids, with_payload=False, with_vectors=False
    )
    have = {str(r.id) for r in present}
    return [i for i in ids if str(i) not in have]


def resolve_encoder(encoder: Any, method: str) -> Any:
    """``encoder``, or what it returns when it is a zero-argument loader without
    ``method``.

    Raises:
        TypeError: the result has no ``method(texts, batch_size=, show_progress=)``.
    """
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
    """The sync function ``name`` and its async twin ``"a" + name`` for an operation
    written once as ``flow``; the one way the operations get their sync and async forms.

    Both take the client first, then ``flow``'s own parameters, and run the calls the
    flow yields on it (:func:`~qdrant_tokenpool._flow.run_sync` /
    :func:`~qdrant_tokenpool._flow.run_async`). Their signature is ``flow``'s with the
    client in front and the flow's result type (``Flow[T]`` is ``Generator[Call, Any,
    T]``: ``T``) as return type, so ``help()``, the type checker and the API reference
    see the real parameters. ``pooling_client``: the operation needs a pooling client
    (it writes pooled collections, or queries through the funnel), so a plain Qdrant
    client is refused with a ``TypeError``. ``finish(client, result)``, when given,
    completes the result with what only the client object knows (not a client call).
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
"""The collection's vectors, pooling config and metadata
(:class:`~qdrant_tokenpool.store.CollectionPooling`); :class:`UnknownCollectionError`
listing the known collections when it does not exist."""
