"""``qdrant-tokenpool``: index text with pooled token vectors, search, inspect, evaluate, repool.

The commands parse, call the library operations (:mod:`qdrant_tokenpool.ops`) and print
(results on stdout, progress and messages on stderr); how they run is in
:mod:`qdrant_tokenpool._cli_runtime`. See docs/cli.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from ._cli_runtime import (
    CliState,
    CollectionOpt,
    Command,
    DataDirArg,
    LocalCommand,
    MaxDocumentsOpt,
    ModelOpt,
    PointBatchOpt,
    PoolFactorsOpt,
    PoolingFlags,
    QueryMaxlenOpt,
    StoragesOpt,
    choice_line,
    fail,
    flag_groups,
    floats,
    hits_table,
    index_line,
    print_tables,
    stats_table,
    token_index_line,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="qdrant-tokenpool",
    help=(
        "Token pooling for multi-vector (ColBERT-style) retrieval in Qdrant: index text "
        "with pooled token vectors, search it, inspect the footprint, evaluate quality "
        "against footprint, and repool existing collections.\n\n"
        "Every command uses an embedded Qdrant in --path (default ./qdrant_data) unless "
        "--url names a server. The options below go before the command or after it."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def shared_options(
    ctx: typer.Context,
    path: Annotated[Path, typer.Option(
        envvar="QDRANT_TOKENPOOL_PATH",
        help="Folder of the embedded Qdrant database (ignored with --url).",
    )] = CliState.path,
    engine: Annotated[str | None, typer.Option(
        envvar="QDRANT_TOKENPOOL_ENGINE",
        help="Embedded engine for --path: edge (Qdrant Edge, Qdrant's engine in process) or "
        "local (qdrant-client's pure-Python local mode). Default: the folder's own engine; "
        "edge for a new folder. Ignored with --url.",
    )] = None,
    url: Annotated[str | None, typer.Option(
        envvar="QDRANT_URL", help="URL of a Qdrant server, e.g. http://localhost:6333."
    )] = None,
    api_key: Annotated[str | None, typer.Option(
        envvar="QDRANT_API_KEY", help="API key for --url."
    )] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress bars or info messages."
    )] = False,
) -> None:
    # no docstring: the app's help above is the one to show
    ctx.obj = CliState(path, url, api_key, engine, quiet)


# ------------------------------------------------------------------------------ commands


@app.command(cls=Command)
@flag_groups
def index(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(
        metavar="SOURCE", show_default=False,
        help="A BEIR-style folder (with corpus.jsonl) or a JSONL file of documents with "
        "'_id' (or 'id'), optional 'title', and 'text'.",
    )],
    collection: CollectionOpt,
    model: ModelOpt = None,
    pool_factor: Annotated[float | None, typer.Option(
        "--pool-factor", "-p", min=1.0,
        help="Pool factor for a new collection (default 2; fractional allowed, e.g. 1.5). "
        "For an existing collection it must match the stored config.",
    )] = None,
    method: Annotated[str | None, typer.Option(
        help="Pooling method for a new collection: hierarchical (default), kmeans, "
        "sequential or grid. For an existing collection it must match the stored config."
    )] = None,
    pooling: PoolingFlags = PoolingFlags(),
    vector: Annotated[str | None, typer.Option(
        help="Name of the multivector that holds the token vectors (default: 'tokens', or "
        "the one the collection was indexed with)."
    )] = None,
    summary: Annotated[bool, typer.Option(
        help="A new collection gets a summary vector (each document's mean, HNSW): the first "
        "stage of filtered searches and, with --no-token-index, of every search "
        "(docs/funnel.md). --no-summary: MaxSim over every document there.",
    )] = True,
    token_index: Annotated[bool, typer.Option(
        help="A new collection also gets the token-level first stage (its pooled vectors "
        "pooled again 2x, in an HNSW index; docs/funnel.md). --no-token-index: the summary "
        "funnel only.",
    )] = True,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", "-b", min=1, help="Documents per encode/write batch."
    )] = 32,
    limit: Annotated[int | None, typer.Option(
        min=1, help="Index only the first N documents of SOURCE."
    )] = None,
    doc_maxlen: Annotated[int | None, typer.Option(
        min=1,
        help="Documents are truncated to this many tokens (special tokens included). "
        "Default: 256, or what the collection was indexed with.",
    )] = None,
) -> None:
    """Encode documents to token vectors and write them, pooled, into a collection.

    Creates the collection when it is missing. Each point gets a deterministic id (uuid5 of
    the document id) and the payload doc_id, title, text and _tokenpool_tokens (the unpooled
    token count). Resumable: documents already in the collection are skipped.
    """
    from .ops import corpus_file, count_documents, index_corpus, index_record, iter_documents

    state: CliState = ctx.obj
    options = pooling.options()
    corpus = corpus_file(source)
    total = count_documents(corpus)  # index_corpus takes at most limit of them
    if total == 0:
        fail(f"{corpus} holds no documents")
    with state.session(must_exist=False) as client:
        record = index_record(client, collection)
        for key, given in (("model", model), ("doc_maxlen", doc_maxlen)):
            if given is not None and key in record and str(given) != str(record[key]):
                was = f"{key}={record[key]}"
                state.info(f"note: collection {collection!r} was indexed with {was}; now {given}")
        name = state.model(record, model)
        maxlen = int(doc_maxlen or record.get("doc_maxlen") or 256)
        result = index_corpus(
            client, collection, iter_documents(corpus),
            lambda: state.encoder(name, maxlen),  # loaded only when something is left to do
            vector_name=vector, pool_factor=pool_factor, method=method, pooling_options=options,
            batch_size=batch_size, limit=limit, total=total, summary=summary,
            token_index=token_index, record={"model": name, "doc_maxlen": maxlen}, progress=state.hook(),
        )
    typer.echo(index_line(result))
    state.save_onnx()  # the next `search` encodes its query without torch


@app.command(cls=Command)
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(metavar="QUERY", help="The query text.")],
    collection: CollectionOpt,
    model: ModelOpt = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="Results to show.")] = 10,
    vector: Annotated[str | None, typer.Option(
        help="Multivector to search (default: the one `index` wrote)."
    )] = None,
    query_maxlen: QueryMaxlenOpt = 32,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the results as JSON (one list)."
    )] = False,
) -> None:
    """Search a collection with a text query: top-k documents by MaxSim, with titles."""
    from .ops import index_record, search_documents

    state: CliState = ctx.obj
    if not query.strip():
        raise typer.BadParameter("the query is empty", param_hint="QUERY")
    with state.session(must_exist=True) as client:
        record = index_record(client, collection)
        hits = search_documents(
            client, collection, query, lambda: state.query_encoder(record, model, query_maxlen),
            vector_name=vector, limit=top_k,
        )
    if as_json:
        typer.echo(json.dumps([h.to_dict() for h in hits], ensure_ascii=False))
    elif hits:
        print_tables(hits_table(hits))
    else:
        typer.echo(f"no results (collection {collection!r} is empty)")
    state.save_onnx()  # after the answer: the next search needs no torch


@app.command(cls=Command)
def stats(
    ctx: typer.Context,
    collection: Annotated[str | None, typer.Option(
        "--collection", "-c", help="Collection name (default: all collections)."
    )] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the numbers as JSON.")] = False,
) -> None:
    """Footprint per collection: points, stored vectors, vectors per point, bytes, on-disk
    size (embedded), pooling config, and the reduction against the unpooled token count
    (from the payload key _tokenpool_tokens that `index` and `repool` write).
    """
    from .ops import collection_stats

    state: CliState = ctx.obj
    with state.session(must_exist=True) as client:
        if collection is not None:
            names = [collection]
        else:
            names = sorted(c.name for c in client.get_collections().collections)
        results = [collection_stats(client, n, progress=state.hook()) for n in names]
    if as_json:
        dicts = [s.to_dict() for s in results]
        typer.echo(json.dumps(dicts if collection is None else dicts[0], indent=2))
    elif results:
        print_tables(*map(stats_table, results))
    else:
        typer.echo(f"no collections in {state.where()}")


@app.command("eval", cls=Command)
def eval_(
    ctx: typer.Context,
    data_dir: DataDirArg,
    model: ModelOpt = None,
    pool_factors: PoolFactorsOpt = "1,2,4",
    methods: Annotated[str, typer.Option(
        help="Comma-separated methods: hierarchical,kmeans,sequential."
    )] = "hierarchical,kmeans,sequential",
    distance_thresholds: Annotated[str, typer.Option(
        help="Comma-separated Ward distance thresholds: adaptive settings (hierarchical, "
        "pool factor 1), measured after the pool factors. See docs/budgets.md."
    )] = "",
    out: Annotated[Path | None, typer.Option(
        help="Folder for the CSV/JSON results and the PNG plot (default: eval_results)."
    )] = None,
    split: Annotated[str, typer.Option(help="qrels split to evaluate.")] = "test",
    doc_maxlen: Annotated[int, typer.Option(min=1, help="Document length in tokens.")] = 256,
    query_maxlen: QueryMaxlenOpt = 32,
    collection: Annotated[str | None, typer.Option(
        "--collection", "-c",
        help="Evaluate this indexed collection (through Qdrant, with its stored pooling) "
        "instead of sweeping pool factors and methods.",
    )] = None,
    top_k: Annotated[int, typer.Option(
        "--top-k", "-k", min=10, help="With --collection: results fetched per query."
    )] = 100,
    scoring: Annotated[Literal["exact", "qdrant"], typer.Option(
        help="With --collection: 'exact' scores every query with exact MaxSim on the client "
        "over the stored vectors (Qdrant's scores; fast); 'qdrant' sends one "
        "query_late_interaction per query (the real query path; slow when embedded)."
    )] = "exact",
    batch_size: Annotated[int, typer.Option(
        "--batch-size", "-b", min=1, help="Encoder batch size."
    )] = 32,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache",
        help="Encode afresh; do not read or write the encoding cache "
        "(~/.cache/qdrant-tokenpool).",
    )] = False,
    sweep: Annotated[bool, typer.Option(
        "--sweep",
        help="Footprint sweep on Qdrant Edge: every pool factor x --storages; a table, "
        "CSV/JSON and a Pareto plot in --out (default footprint_results). See "
        "docs/footprint.md.",
    )] = False,
    storages: StoragesOpt = "float32,float16,turbo8,turbo4,int8,tq4,tq2,tq1.5,tq1,bq2,bq1.5,bq1",
    max_documents: MaxDocumentsOpt = None,
) -> None:
    """Quality against footprint on a BEIR data set: nDCG@10, recall@100, stored vectors
    and bytes for every pool factor and method (exact MaxSim; a table, CSV/JSON and a plot
    in --out); with --collection, an indexed collection's nDCG@10 and recall@100; with
    --sweep, pool factors x storages measured on Qdrant Edge.
    """
    state: CliState = ctx.obj
    data_dir = data_dir.expanduser()
    if not data_dir.is_dir():
        fail(f"data folder {data_dir} does not exist")
    if sweep:
        result = _footprint_sweep(state, data_dir, model, pool_factors, storages, max_documents,
                                  out or Path("footprint_results"), doc_maxlen, query_maxlen)
        typer.echo(result.to_markdown().rstrip("\n"))
        state.info(f"wrote the table, CSV, JSON and the Pareto plot to {out or 'footprint_results'}")
        return
    if collection is not None:
        from .ops import evaluate_collection, index_record

        with state.session(must_exist=True) as client:
            record = index_record(client, collection)
            result = evaluate_collection(
                client, collection, data_dir,
                lambda: state.query_encoder(record, model, query_maxlen),
                split=split, top_k=top_k, scoring=scoring, batch_size=batch_size,
                progress=state.hook(),
            )
        typer.echo(result.to_markdown())
        if out is not None:
            state.info(f"wrote {result.save(out)}")
        return
    from .eval import run_evaluation
    from .pooling.spec import METHODS

    pfs = floats(pool_factors, "--pool-factors", 1.0, required=True)
    meths = [m.strip() for m in methods.split(",") if m.strip()]
    bad = [m for m in meths if m not in METHODS]
    if not meths or bad:
        hint = f"unknown method(s) {', '.join(bad) or repr(methods)}; choose from "
        hint += ", ".join(METHODS)
        raise typer.BadParameter(hint, param_hint="--methods")
    out_dir = out if out is not None else Path("eval_results")
    evaluation = run_evaluation(
        data_dir, state.model({}, model), pool_factors=pfs, methods=meths,
        distance_thresholds=floats(distance_thresholds, "--distance-thresholds", 0.0),
        split=split, top_k=100, document_max_length=doc_maxlen, query_max_length=query_maxlen,
        use_cache=not no_cache, batch_size=batch_size, out_dir=out_dir, verbose=not state.quiet,
    )
    typer.echo(evaluation.to_markdown().rstrip("\n"))
    state.info(f"wrote the Markdown table, CSV, JSON and the PNG plot to {out_dir}")


def _footprint_sweep(state: CliState, data_dir: Path, model: str | None, pool_factors: str,
                     storages: str, max_documents: int | None, out: Path | None,
                     doc_maxlen: int = 256, query_maxlen: int = 32) -> Any:
    """``footprint_sweep`` with the CLI's options checked (bad ones: a usage error)."""
    from .ops import footprint_sweep, parse_storage

    pfs = floats(pool_factors, "--pool-factors", 1.0, required=True)
    names = [x.strip() for x in storages.split(",") if x.strip()]
    try:
        if not names:
            raise ValueError("no storage given")
        for name in names:
            parse_storage(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--storages") from None
    return footprint_sweep(
        data_dir, state.model({}, model), pool_factors=pfs, storages=names,
        max_documents=max_documents, out_dir=out, verbose=not state.quiet,
        document_max_length=doc_maxlen, query_max_length=query_maxlen,
    )


@app.command(cls=Command)
def footprint(
    ctx: typer.Context,
    data_dir: DataDirArg,
    min_quality: Annotated[float, typer.Option(
        "--min-quality", min=0.01, max=1.5,
        help="Quality floor: the fraction of unpooled float32 nDCG@10 to keep (0.99 = 99%).",
    )] = 0.99,
    collection: Annotated[str | None, typer.Option(
        "--collection", "-c",
        help="Create this collection with the chosen configuration (then fill it with "
        "`index`); without it the choice is only reported.",
    )] = None,
    minimize: Annotated[Literal["ram", "disk"], typer.Option(
        help="What to make smallest: bytes per document in RAM, or on disk."
    )] = "ram",
    from_sweep: Annotated[Path | None, typer.Option(
        "--from-sweep", help="footprint.json of an earlier sweep (`eval --sweep`): choose "
        "from it instead of measuring again.",
    )] = None,
    model: ModelOpt = None,
    pool_factors: PoolFactorsOpt = "1,2,4,8",
    storages: StoragesOpt = "float32,float16,int8,tq4,tq2,tq1,bq1",
    max_documents: MaxDocumentsOpt = None,
    vector: Annotated[str, typer.Option(help="Name of the new collection's multivector.")] = "tokens",
    out: Annotated[Path | None, typer.Option(
        help="Folder for the sweep's table, CSV/JSON and plot (default: footprint_results)."
    )] = None,
) -> None:
    """The smallest footprint that keeps a quality floor, measured on your data.

    Measures pool factors x storages on Qdrant Edge (or reads --from-sweep), reports the
    configuration with the fewest bytes per document whose nDCG@10 keeps --min-quality of
    unpooled float32's, and with --collection creates a collection with it.
    """
    from .ops import FootprintSweep, create_footprint_collection, recommend_footprint

    state: CliState = ctx.obj
    data_dir = data_dir.expanduser()
    if from_sweep is not None:
        try:
            result = FootprintSweep.from_json(from_sweep)
        except (OSError, ValueError, TypeError) as exc:
            fail(f"cannot read the sweep {from_sweep}: {exc}")
    else:
        if not data_dir.is_dir():
            fail(f"data folder {data_dir} does not exist")
        result = _footprint_sweep(state, data_dir, model, pool_factors, storages, max_documents,
                                  out or Path("footprint_results"))
    choice = recommend_footprint(result, min_quality, minimize=minimize)
    typer.echo(choice_line(choice, result.base_bytes))
    if collection is None:
        return
    with state.session(must_exist=False) as client:
        create_footprint_collection(
            client, collection, choice, result.dim, vector_name=vector, sweep=result,
            min_quality=min_quality, oversampling=result.info.get("oversampling"),
            protected_tokens=int(result.info.get("protected_tokens", 0)),
        )
    typer.echo(f"created collection {collection!r}; fill it with: qdrant-tokenpool index "
               f"{data_dir} -c {collection}")


@app.command(cls=Command)
@flag_groups
def repool(
    ctx: typer.Context,
    source_collection: Annotated[str, typer.Argument(
        metavar="SOURCE_COLLECTION", help="Existing collection to copy.", show_default=False
    )],
    dest_collection: Annotated[str, typer.Argument(
        metavar="DEST_COLLECTION", help="Pooled collection to create or continue.",
        show_default=False,
    )],
    pool_factor: Annotated[float, typer.Option(
        "--pool-factor", "-p", min=1.0, help="Pool factor (e.g. 2 or 1.5)."
    )],
    method: Annotated[str, typer.Option(
        help="Pooling method: hierarchical, kmeans, sequential or grid."
    )] = "hierarchical",
    vector: Annotated[str | None, typer.Option(
        help="Multivector to pool (default: the source's only multivector)."
    )] = None,
    protected_tokens: Annotated[int, typer.Option(
        min=0, help="Leading token vectors kept unpooled (e.g. [CLS])."
    )] = 1,
    pooling: PoolingFlags = PoolingFlags(),
    batch_size: PointBatchOpt = 64,
) -> None:
    """Copy a collection into a pooled one, in batches, streaming.

    DEST gets SOURCE's vectors config plus the pooling config on --vector; other vectors,
    payloads and ids are copied unchanged. Resumable: points already in DEST are skipped.
    """
    from .config import PoolingConfig
    from .ops import repool as repool_collection

    state: CliState = ctx.obj
    cfg = PoolingConfig(
        pool_factor=pool_factor,
        method=method,  # type: ignore[arg-type]
        protected_tokens=protected_tokens,
        **pooling.options(),
    )
    with state.session(must_exist=True) as client:
        result = repool_collection(
            client, source_collection, dest_collection, cfg if vector is None else {vector: cfg},
            batch_size=batch_size, progress=state.hook(),
        )
    line = f"repooled {result.copied} point(s) from {source_collection!r} into {dest_collection!r}"
    if result.skipped:
        line += f", skipped {result.skipped} already there"
    typer.echo(line)


@app.command("add-token-index", cls=Command)
def add_token_index(
    ctx: typer.Context,
    collection: Annotated[str, typer.Argument(
        metavar="COLLECTION", help="Existing pooled collection.", show_default=False
    )],
    vector: Annotated[str | None, typer.Option(
        help="Pooled multivector to index (default: the collection's only one)."
    )] = None,
    neighbours: Annotated[int | None, typer.Option(
        min=1, help="Nearest token vectors per query token at search time (default: the "
        "library's, 60).", show_default=False,
    )] = None,
    int8: Annotated[bool, typer.Option(
        "--int8/--float32", help="The index int8-quantized in RAM (float32 on disk), or "
        "float32 in RAM."
    )] = True,
    batch_size: PointBatchOpt = 256,
) -> None:
    """Add the token-level first stage to an existing collection, from its stored pooled
    vectors (nothing is re-encoded). Resumable: an interrupted run continues."""
    from .candidates import DEFAULT_NEIGHBOURS
    from .ops import add_token_index as add_index

    state: CliState = ctx.obj
    with state.session(must_exist=True) as client:
        result = add_index(
            client, collection, using=vector,
            neighbours=DEFAULT_NEIGHBOURS if neighbours is None else neighbours,
            quantization="int8" if int8 else None, batch_size=batch_size,
            progress=state.hook(),
        )
    typer.echo(token_index_line(result))


@app.command(cls=Command)
def demo(
    ctx: typer.Context,
    data_dir: DataDirArg,
    collection: Annotated[str, typer.Option(
        "--collection", "-c", help="Collection name."
    )] = "scifact",
    model: ModelOpt = None,
    pool_factor: Annotated[int, typer.Option("--pool-factor", "-p", min=1)] = 2,
    query: Annotated[str, typer.Option(help="The sample search.")] = (
        "Vitamin D deficiency is associated with a higher risk of cancer."
    ),
) -> None:
    """The main job in one process: index DATA_DIR pooled into a collection (resumable),
    then print its footprint, its nDCG@10 and recall@100 on the test queries and a sample
    search: index, stats, eval -c and search with the database opened once (local mode
    loads a whole collection on every open).
    """
    state: CliState = ctx.obj
    data_dir = data_dir.expanduser()
    if not (data_dir / "corpus.jsonl").is_file():
        fail(f"{data_dir} is not a BEIR folder (no corpus.jsonl)")
    with state.session(must_exist=False) as client:
        state.shared = client  # the commands below use it and leave it open
        typer.echo(f"== index {data_dir} into {collection!r} (pool factor {pool_factor})")
        index(ctx, data_dir, collection, model=model, pool_factor=pool_factor)
        typer.echo("\n== footprint")
        stats(ctx, collection)
        typer.echo("\n== quality on the test queries (exact MaxSim over the stored vectors)")
        eval_(ctx, data_dir, model=model, collection=collection)
        typer.echo(f"\n== search: {query}")
        search(ctx, query, collection, model=model, top_k=5)


@app.command(cls=LocalCommand)
def download(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(
        metavar="NAME", help="Data set (known: scifact)."
    )] = "scifact",
    prefer: Annotated[list[Path] | None, typer.Option(
        metavar="DIR",
        help="Use DIR instead, with no download, when it holds corpus.jsonl (repeatable).",
    )] = None,
    source: Annotated[str | None, typer.Option(
        "--from", metavar="URL",
        help="A mirror of the archive: its files are checked against the pinned SHA-256s.",
    )] = None,
    cache_dir: Annotated[Path | None, typer.Option(
        metavar="DIR",
        help="Cache root (default $QDRANT_TOKENPOOL_CACHE, else ~/.cache/qdrant-tokenpool).",
    )] = None,
) -> None:
    """Print the folder of a BEIR data set: the first --prefer folder that holds it, else
    the cached copy, else download it into the cache, check its size and digests (a
    mismatch is an error and leaves nothing) and unpack it.
    """
    from .eval.download import DATASETS, resolve_dataset

    archive = DATASETS.get(name)
    if archive is None:
        fail(f"unknown data set {name!r} (known: {', '.join(sorted(DATASETS))})", 2)
    folder = resolve_dataset(
        [p.expanduser() for p in prefer or []], archive.mirrored(source) if source else archive,
        cache_dir=cache_dir, show_progress=False if ctx.obj.quiet else None,
    )
    typer.echo(str(folder))


@app.command("copy-db", cls=LocalCommand)
def copy_db(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(
        metavar="SOURCE", help="Embedded database folder to copy from."
    )],
    dest: Annotated[Path, typer.Argument(
        metavar="DEST", help="New folder (created; must not hold the collections)."
    )],
    engine: Annotated[str, typer.Option(help="Engine of DEST: edge (default) or local.")] = "edge",
    collection: Annotated[list[str] | None, typer.Option(
        "--collection", "-c", help="Only these collections (repeatable)."
    )] = None,
) -> None:
    """Copy an embedded database into a new folder on another engine (e.g. a local-mode
    folder into Qdrant Edge): every collection with its config, pooling config and payload
    indexes, vectors as stored (pooled vectors are not pooled again)."""
    from .ops.database import copy_database

    ctx.obj.info(f"copying {source} into {dest} ({engine}) ...")
    names = copy_database(
        source.expanduser(), dest.expanduser(), dest_engine=engine, collections=collection
    )
    typer.echo(f"copied {len(names)} collection(s) into {dest}: {', '.join(names)}")


def main() -> None:
    """Console-script entry point (``qdrant-tokenpool``)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
