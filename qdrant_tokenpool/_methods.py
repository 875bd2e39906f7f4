"""The methods of both clients, from one source.

:class:`~qdrant_tokenpool.TokenPoolingClient` and
:class:`~qdrant_tokenpool.AsyncTokenPoolingClient` hold no method bodies of their own:
each method is made here, once per client, from one definition, so the sync and async
signatures cannot drift apart (``tests/test_signatures.py`` checks it).

- Our own methods (``query_late_interaction``, ``add_texts``, ``get_pooling``, ...) take
  the signature and docstring of their flow (:mod:`qdrant_tokenpool.query`,
  :mod:`~qdrant_tokenpool.texts`, :mod:`~qdrant_tokenpool.store`), minus the flow's
  leading ``state``: :func:`sync_method` / :func:`async_method`.
- Overridden parent methods (``upsert``, ``create_collection``, ...) take the parent's
  signature, plus our keyword-only extras (``pooling=``): a call is bound to the parent's
  signature first, so every call the parent accepts (positional arguments included) is
  accepted, with the same names, and a call it refuses raises the same ``TypeError``.
  The bound arguments, by name, go to the :class:`Override`'s flow:
  :func:`sync_override` / :func:`async_override`. An async parent method that is sync
  (``upload_points``, ``upload_collection``) stays sync in the async client.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from . import _backend, store, write_path
from ._flow import Flow, call
from .config import PoolingConfig
from .engines.select import engine_of
from .inference import local_inference
from .pooling.validation import check_int
from .store import PoolingState

__all__ = [
    "OVERRIDES",
    "Override",
    "PoolingClientMixin",
    "async_method",
    "async_override",
    "install_overrides",
    "sync_method",
    "sync_override",
]

P = ParamSpec("P")
T = TypeVar("T")

_POOLING = inspect.Parameter(
    "pooling",
    inspect.Parameter.KEYWORD_ONLY,
    default=None,
    annotation="Mapping[str, PoolingConfig | Mapping[str, Any]] | PoolingConfig | None",
)


class PoolingClientMixin:
    """What both clients hold besides their methods: the pooling state and its settings.

    A server is remote (requests carry lists, bodies are split for the REST limit); local
    mode and Qdrant Edge are not.
    Edge and a server write an upload batch by batch (``streams``); local mode collects it
    whole first.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in vars(cls).items():
            if getattr(value, "_made_by", None) == __name__:
                _adopt(cls, name, value)

    def _init_pooling(self, workers: int | None = None) -> None:
        self._pooling_state = PoolingState()
        self.pooling_workers = workers
        _backend.serialise_in_process(self)

    @property
    def engine(self) -> str:
        """Where this client's calls land: ``"edge"`` (Qdrant Edge in process),
        ``"local"`` (qdrant-client's local mode) or ``"server"``."""
        return engine_of(self)

    @property
    def pooling_workers(self) -> int | None:
        """Parallel pooling workers of a write (constructor argument ``pooling_workers``):
        ``None`` (default) all cores for batches with enough work, else the calling thread;
        ``1`` always the calling thread; ``k > 1`` up to ``k`` (see
        :func:`qdrant_tokenpool.pool_batch`). Threads for the compiled hierarchical
        pooling, processes for the other methods."""
        return self._pooling_state.workers

    @pooling_workers.setter
    def pooling_workers(self, workers: int | None) -> None:
        self._pooling_state.workers = (
            None if workers is None else check_int("pooling_workers", workers)
        )

    @property
    def _remote(self) -> bool:
        return self.engine == "server"

    def _state(self) -> PoolingState:
        """The pooling state for one call (``remote``, ``streams``, ``pending`` and the local inference
        that embeds ``models.Document`` on pooled vectors, read from the client now)."""
        remote = self._remote
        self._pooling_state.remote = remote
        self._pooling_state.streams = remote or self.engine != "local"
        self._pooling_state.pending = self.engine == "edge"
        self._pooling_state.inference = local_inference(self)
        return self._pooling_state

    @property
    def pooling_cache_ttl(self) -> float:
        """Seconds a collection's pooling config is cached before it is read again."""
        return self._pooling_state.ttl

    @pooling_cache_ttl.setter
    def pooling_cache_ttl(self, seconds: float) -> None:
        self._pooling_state.ttl = float(seconds)

    def refresh_pooling(self, collection_name: str | None = None) -> None:
        """Forget the cached config of one collection (all when ``None``)."""
        self._pooling_state.forget(collection_name)

    @contextmanager
    def pooling_disabled(self) -> Iterator[None]:
        """Write vectors as given, unpooled, inside the ``with`` block: this client's
        writes from the current thread or asyncio task only (tasks started inside the block
        inherit it); other threads and tasks keep pooling, and overlapping blocks never
        leave pooling off. A plain ``with`` block for the async client too. Use it to copy
        already pooled data, e.g. ``QdrantClient.migrate`` into this client: pooling
        pooled vectors again would shrink them twice."""
        with self._pooling_state.disabled():
            yield


# -- our own methods: the flow's signature ----------------------------------------------
def _method_signature(flow: Callable[..., Any]) -> inspect.Signature:
    sig = inspect.signature(flow)
    params = list(sig.parameters.values())[1:]  # drop the flow's ``state``
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    returns = sig.return_annotation
    if isinstance(returns, str) and returns.startswith("Flow[") and returns.endswith("]"):
        returns = returns[len("Flow[") : -1]
    return sig.replace(parameters=[self_param, *params], return_annotation=returns)


def _named(fn: Any, name: str, signature: inspect.Signature, doc: str | None) -> None:
    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = doc
    fn.__signature__ = signature
    fn._made_by = __name__


def _adopt(cls: type, name: str, fn: Any) -> None:
    """Make a method made here look defined in ``cls`` (tracebacks, help(), the docs)."""
    fn.__module__ = cls.__module__
    fn.__qualname__ = f"{cls.__qualname__}.{name}"


def sync_method(
    flow: Callable[Concatenate[PoolingState, P], Flow[T]],
) -> Callable[Concatenate[Any, P], T]:
    """A sync-client method that runs ``flow(client's state, *args, **kwargs)``."""

    def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(flow(self._state(), *args, **kwargs))  # type: ignore[no-any-return]

    _named(method, flow.__name__, _method_signature(flow), flow.__doc__)
    return method


def async_method(
    flow: Callable[Concatenate[PoolingState, P], Flow[T]],
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]:
    """The async-client twin of :func:`sync_method`."""

    async def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._run(flow(self._state(), *args, **kwargs))  # type: ignore[no-any-return]

    _named(
        method,
        flow.__name__,
        _method_signature(flow),
        f"Async twin of ``TokenPoolingClient.{flow.__name__}``.\n\n{flow.__doc__ or ''}",
    )
    return method


# -- overridden parent methods: the parent's signature ------------------------------------
@dataclass(frozen=True)
class Override:
    """A parent-client method that we override.

    Attributes:
        name: the parent's method name.
        flow: ``flow(state, arguments, **extras)``: ``arguments`` is the call bound to the
            parent's signature, by name (only what the caller passed; a ``**kwargs`` of the
            parent is merged in); ``extras`` are our own keyword-only arguments.
        extras: our keyword-only parameters (after the parent's, before ``**kwargs``).
        doc: the sync method's docstring.
    """

    name: str
    flow: Callable[..., Flow[Any]]
    extras: tuple[inspect.Parameter, ...] = ()
    doc: str = ""


def _bind(sig: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``(self, *args, **kwargs)`` bound to the parent's signature ``sig``, by name."""
    arguments = dict(sig.bind(*args, **kwargs).arguments)  # TypeError as the parent's
    arguments.pop("self", None)
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(arguments.pop(p.name, {}))
    return arguments


def _override_signature(parent: Callable[..., Any], spec: Override) -> inspect.Signature:
    sig = inspect.signature(parent)
    params = list(sig.parameters.values())
    at = next(
        (i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_KEYWORD), len(params)
    )
    return sig.replace(parameters=[*params[:at], *spec.extras, *params[at:]])


def _prepare(
    spec: Override, sig: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    own = {p.name: kwargs.pop(p.name) for p in spec.extras if p.name in kwargs}
    return _bind(sig, args, kwargs), own


def sync_override(parent_cls: type, spec: Override) -> Callable[..., Any]:
    """The sync client's override of ``parent_cls.<spec.name>``."""
    parent = getattr(parent_cls, spec.name)
    sig = inspect.signature(parent)

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        arguments, own = _prepare(spec, sig, (self, *args), kwargs)
        return self._run(spec.flow(self._state(), arguments, **own))

    _named(method, spec.name, _override_signature(parent, spec), spec.doc or parent.__doc__)
    return method


def async_override(parent_cls: type, spec: Override) -> Callable[..., Any]:
    """The async client's override of ``parent_cls.<spec.name>``: a coroutine function when
    the parent's is one, else a sync method run with the client's ``_run_blocking``."""
    parent = getattr(parent_cls, spec.name)
    sig = inspect.signature(parent)
    doc = f"Async twin of ``TokenPoolingClient.{spec.name}``.\n\n{spec.doc or parent.__doc__ or ''}"
    method: Callable[..., Any]
    if inspect.iscoroutinefunction(parent):

        async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            arguments, own = _prepare(spec, sig, (self, *args), kwargs)
            return await self._run(spec.flow(self._state(), arguments, **own))

    else:

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            arguments, own = _prepare(spec, sig, (self, *args), kwargs)
            return self._run_blocking(spec.flow(self._state(), arguments, **own))

    _named(method, spec.name, _override_signature(parent, spec), doc)
    return method


# -- the overrides ---------------------------------------------------------------------
PoolingArg = Mapping[str, PoolingConfig | Mapping[str, Any]] | PoolingConfig | None


def _create(method: str) -> Callable[..., Flow[Any]]:
    def flow(state: PoolingState, a: dict[str, Any], pooling: PoolingArg = None) -> Flow[Any]:
        name = a.pop("collection_name")
        vectors_config = a.pop("vectors_config", None)
        return store.create_collection(state, name, vectors_config, pooling, a, method=method)

    return flow


def _forgetting(method: str) -> Callable[..., Flow[Any]]:
    """The parent's call, with the collection's cached config forgotten before and after
    (its schema or config may change)."""

    def flow(state: PoolingState, a: dict[str, Any]) -> Flow[Any]:
        state.forget(a["collection_name"])
        try:
            return (yield call(method, **a))
        finally:
            state.forget(a["collection_name"])

    return flow


def _upsert(state: PoolingState, a: dict[str, Any]) -> Flow[Any]:
    name, points = a.pop("collection_name"), a.pop("points")
    return write_path.upsert(
        state, name, points, (), a, remote=state.remote, inference=state.inference
    )


def _update_vectors(state: PoolingState, a: dict[str, Any]) -> Flow[Any]:
    name, points = a.pop("collection_name"), a.pop("points")
    return write_path.update_vectors(
        state, name, points, (), a, remote=state.remote, inference=state.inference
    )


def _batch_update_points(state: PoolingState, a: dict[str, Any]) -> Flow[Any]:
    name, ops = a.pop("collection_name"), a.pop("update_operations")
    return write_path.batch_update_points(
        state, name, ops, (), a, remote=state.remote, inference=state.inference
    )


def _upload_points(state: PoolingState, a: dict[str, Any]) -> Flow[Any]:
    name, points = a.pop("collection_name"), a.pop("points")
    batch_size = a.pop("batch_size", 64)
    return write_path.upload_points(
        state, name, points, batch_size, (), a, remote=state.remote, streams=state.streams,
        inference=state.inference,
    )


def _upload_collection(state: PoolingState, a: dict[str, Any]) -> Flow[Any]:
    name, vectors = a.pop("collection_name"), a.pop("vectors")
    payload, ids, batch_size = a.pop("payload", None), a.pop("ids", None), a.pop("batch_size", 64)
    return write_path.upload_collection(
        state, name, vectors, payload, ids, batch_size, a,
        remote=state.remote, streams=state.streams, inference=state.inference,
    )


OVERRIDES: dict[str, Override] = {
    o.name: o
    for o in (
        Override(
            "create_collection",
            _create("create_collection"),
            (_POOLING,),
            """``QdrantClient.create_collection`` plus ``pooling={vector_name: PoolingConfig}``.

        The config is checked against ``vectors_config`` before anything is created; extra
        vectors it declares (``summary_vector``, ``keep_original_vector``) are added with
        sensible params when ``vectors_config`` lacks them. Every other argument (positional
        ones included) is the parent's.""",
        ),
        Override(
            "recreate_collection",
            _create("recreate_collection"),
            (_POOLING,),
            "``QdrantClient.recreate_collection`` (deprecated upstream) plus ``pooling=``.",
        ),
        Override(
            "upsert",
            _upsert,
            doc="``QdrantClient.upsert`` with configured multivectors pooled (points or "
            "``Batch``).",
        ),
        Override(
            "update_vectors",
            _update_vectors,
            doc="``QdrantClient.update_vectors`` with configured multivectors pooled.",
        ),
        Override(
            "batch_update_points",
            _batch_update_points,
            doc="``QdrantClient.batch_update_points`` with upsert / update-vectors "
            "operations pooled.",
        ),
        Override(
            "upload_points",
            _upload_points,
            doc="``QdrantClient.upload_points`` with configured multivectors pooled, streamed "
            "``batch_size`` points at a time.",
        ),
        Override(
            "upload_collection",
            _upload_collection,
            doc="``QdrantClient.upload_collection`` with configured multivectors pooled, "
            "streamed ``batch_size`` points at a time (dict of columns, ``(N, n, d)`` array "
            "or iterable).",
        ),
        Override("delete_collection", _forgetting("delete_collection")),
        Override("update_collection", _forgetting("update_collection")),
        Override("create_vector_name", _forgetting("create_vector_name")),
        Override("delete_vector_name", _forgetting("delete_vector_name")),
    )
}
"""Every parent method the clients override, by name."""


def install_overrides(
    cls: type, parent_cls: type, make: Callable[[type, Override], Callable[..., Any]]
) -> None:
    """Put every :data:`OVERRIDES` method on a client class (``make``: :func:`sync_override`
    or :func:`async_override`). The type checker sees the parent's signatures, which the
    overrides keep."""
    for name, spec in OVERRIDES.items():
        method = make(parent_cls, spec)
        _adopt(cls, name, method)
        setattr(cls, name, method)
