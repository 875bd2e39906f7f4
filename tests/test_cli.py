"""The ``qdrant-tokenpool`` CLI end to end, on a tiny corpus, a tiny BERT and an embedded
Qdrant in a temp folder: index (and resume), search, stats, repool, eval, --help, errors.

The tiny BERT (random weights, 16-d) is built in code; retrieval quality is not the point,
exact agreement with the library (pooling, MaxSim, metrics) is.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from qdrant_client import QdrantClient, models
from typer.testing import CliRunner

from qdrant_tokenpool import TokenPoolingClient, pool_tokens
from qdrant_tokenpool.cli import app
from qdrant_tokenpool.encoders import TokenEncoder
from qdrant_tokenpool.ops import TOKENS_PAYLOAD_KEY, point_id
from qdrant_tokenpool.ops.database import open_embedded

WORDS = [
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "on",
    "with",
    "cells",
    "protein",
    "gene",
    "cancer",
    "vitamin",
    "sleep",
    "brain",
    "heart",
    "study",
    "patients",
    "blood",
    "risk",
    "mice",
    "dna",
    "virus",
    "immune",
    "pressure",
    "expression",
    "folding",
    "system",
]

DOCS = [
    ("d1", "Vitamin D", "vitamin d and the immune system in patients"),
    ("d2", "Sleep", "sleep and the brain in mice"),
    ("d3", "", "gene expression of cancer cells"),
    ("d4", "Heart risk", "blood pressure and heart risk study in patients with cancer"),
    ("d5", "Virus", "virus dna in immune cells of mice"),
    ("d6", "Protein", "protein folding with gene and dna"),
]
# each query is a document's full text (title + text, encoded alike): on an unpooled
# collection every query token finds itself (cosine 1), so that document wins
QUERIES = [
    ("q1", "Sleep sleep and the brain in mice", "d2"),
    ("q2", "Protein protein folding with gene and dna", "d6"),
]
DOC_MAXLEN = 64


@pytest.fixture(autouse=True, scope="module")
def _own_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The package cache (ONNX copies of the models the commands load) in a temp folder."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QDRANT_TOKENPOOL_CACHE", str(cache))
        yield cache


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    out = tmp_path_factory.mktemp("tiny-bert")
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,")
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *sorted(set(WORDS)),
        *chars,
        *("##" + c for c in chars[:36]),
    ]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (out / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": True})
    )
    tok = AutoTokenizer.from_pretrained(str(out))
    assert "[UNK]" not in tok.tokenize("protein folding")
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=512,
    )
    BertModel(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="module")
def beir_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("beir")
    with open(d / "corpus.jsonl", "w") as f:
        f.writelines(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in DOCS)
    with open(d / "queries.jsonl", "w") as f:
        f.writelines(json.dumps({"_id": q, "text": text}) + "\n" for q, text, _ in QUERIES)
    (d / "qrels").mkdir()
    (d / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{doc}\t1\n" for q, _, doc in QUERIES)
    )
    return d


@pytest.fixture(scope="module")
def encoder(tiny_model: str):
    return TokenEncoder.from_pretrained(tiny_model, document_length=DOC_MAXLEN)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("db") / "qdrant"


runner = CliRunner()


def cli(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


@contextmanager
def open_db(path: Path) -> Iterator[TokenPoolingClient]:
    """The database the CLI wrote, on its engine (Qdrant Edge for a new folder)."""
    client, _ = open_embedded(path)
    try:
        yield client
    finally:
        client.close()


def stored(client: QdrantClient, collection: str, vector: str = "tokens") -> dict[str, dict]:
    recs, _ = client.scroll(collection, limit=1000, with_payload=True, with_vectors=True)
    return {
        str(r.id): {
            "payload": r.payload,
            "vec": np.asarray(
                r.vector[vector] if isinstance(r.vector, dict) else r.vector, dtype=np.float32
            ),
        }
        for r in recs
    }


def expected_pooled(encoder, pool_factor: int) -> dict[str, np.ndarray]:
    texts = [(t + " " + x).strip() for _, t, x in DOCS]
    embs = encoder.encode_documents(texts, batch_size=32, show_progress=False)
    return {
        point_id(i): pool_tokens(e, pool_factor, protected_tokens=encoder.protected_tokens)
        for (i, _, _), e in zip(DOCS, embs)
    }, {point_id(i): e for (i, _, _), e in zip(DOCS, embs)}


# ------------------------------------------------------------------------------- help


@pytest.mark.parametrize("command", [None, "index", "search", "stats", "eval", "repool", "demo"])
def test_help(command):
    args = ["--help"] if command is None else [command, "--help"]
    result = cli(*args)
    assert result.exit_code == 0
    assert "Usage" in result.output
    if command is not None:
        assert "--path" in result.output and "--url" in result.output


@pytest.mark.parametrize(("command", "before", "after"), [
    ("index", "--method", "--vector"), ("repool", "--protected-tokens", "--batch-size"),
])
def test_pooling_flags_show_as_options_in_place(command, before, after):
    # index and repool take the six pooling flags as one PoolingFlags parameter
    shown = cli(command, "--help").output
    flags = ["--max-vectors", "--distance-threshold", "--protected-tail-tokens", "--grid ",
             "--grid-pool", "--grid-block"]
    where = [shown.index(f) for f in [before, *flags, after]]
    assert where == sorted(where)
    assert "ROWSxCOLS" in shown and "At most this many stored vectors" in shown


def test_no_arguments_shows_usage():
    result = cli()
    assert result.exit_code != 0 and "Usage" in result.output


# ------------------------------------------------------------------------ index flow


def test_index_stores_pooled_vectors_and_payload(tiny_model, beir_dir, db, encoder):
    result = cli(
        "index",
        beir_dir,
        "-c",
        "docs",
        "--model",
        tiny_model,
        "--pool-factor",
        2,
        "--doc-maxlen",
        DOC_MAXLEN,
        "--path",
        db,
        "-q",
    )
    assert result.exit_code == 0, result.output
    assert "indexed 6 new document(s)" in result.stdout

    pooled, raw = expected_pooled(encoder, 2)
    with open_db(db) as client:
        assert client.get_pooling("docs")["tokens"].pool_factor == 2
        got = stored(client, "docs")
    assert set(got) == set(pooled)
    for pid, rec in got.items():
        np.testing.assert_allclose(rec["vec"], pooled[pid], atol=1e-6)
        assert rec["payload"][TOKENS_PAYLOAD_KEY] == raw[pid].shape[0]
    titles = {rec["payload"]["doc_id"]: rec["payload"]["title"] for rec in got.values()}
    assert titles == {i: t for i, t, _ in DOCS}


def test_index_resumes_and_skips_present_documents(tiny_model, beir_dir, tmp_path):
    path = tmp_path / "q"
    first = cli(
        "index",
        beir_dir,
        "-c",
        "part",
        "--model",
        tiny_model,
        "--limit",
        4,
        "--doc-maxlen",
        DOC_MAXLEN,
        "--path",
        path,
        "-q",
        "--batch-size",
        3,
    )
    assert first.exit_code == 0, first.output
    assert "indexed 4 new" in first.stdout
    second = cli("index", beir_dir, "-c", "part", "--path", path, "-q")
    assert second.exit_code == 0, second.output
    assert "indexed 2 new document(s)" in second.stdout and "skipped 4" in second.stdout
    third = cli("index", beir_dir, "-c", "part", "--path", path, "-q")
    assert third.exit_code == 0 and "indexed 0 new" in third.stdout and "skipped 6" in third.stdout
    with open_db(path) as client:
        assert client.count("part").count == 6


def test_index_accepts_a_jsonl_file_with_id_field(tiny_model, tmp_path):
    src = tmp_path / "docs.jsonl"
    src.write_text(
        "\n".join(
            json.dumps({"id": 7, "text": t})
            if n == 0
            else json.dumps({"id": f"x{n}", "title": "T", "text": t})
            for n, t in enumerate(["gene cells", "virus dna"])
        )
        + "\n"
    )
    result = cli(
        "index",
        src,
        "-c",
        "j",
        "--model",
        tiny_model,
        "--doc-maxlen",
        DOC_MAXLEN,
        "--path",
        tmp_path / "q",
        "-q",
    )
    assert result.exit_code == 0, result.output
    with open_db(tmp_path / "q") as client:
        ids = {r.payload["doc_id"] for r in client.scroll("j", with_payload=True)[0]}
    assert ids == {"7", "x1"}


# --------------------------------------------------------------------------- search


def test_search_matches_brute_force_maxsim(tiny_model, beir_dir, db, encoder):
    result = cli(
        "search", "immune cells of mice", "-c", "docs", "-k", 3, "--json", "--path", db, "-q"
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["rank"] for r in rows] == [1, 2, 3]

    (q,) = encoder.encode_queries(["immune cells of mice"], show_progress=False)
    with open_db(db) as client:
        got = stored(client, "docs")
    brute = sorted(
        (
            (float((q @ rec["vec"].T).max(axis=1).sum()), rec["payload"]["doc_id"])
            for rec in got.values()
        ),
        reverse=True,
    )
    assert [r["doc_id"] for r in rows] == [d for _, d in brute[:3]]
    np.testing.assert_allclose([r["score"] for r in rows], [s for s, _ in brute[:3]], atol=1e-4)
    # the title, or the text when a document has no title
    shown = {i: t or x for i, t, x in DOCS}
    assert [r["title"] for r in rows] == [shown[r["doc_id"]] for r in rows]


def test_index_saves_an_onnx_copy_and_search_then_needs_no_torch(tiny_model, beir_dir, tmp_path):
    from qdrant_tokenpool.encoders.onnx import cached_onnx_encoder

    db = tmp_path / "db"
    args = ["-c", "docs", "--model", tiny_model, "--doc-maxlen", DOC_MAXLEN, "--path", db]
    result = cli("index", beir_dir, *args)
    assert result.exit_code == 0, result.output
    assert cached_onnx_encoder(tiny_model, DOC_MAXLEN, 32) is not None
    in_process = cli("search", "immune cells of mice", "-c", "docs", "--json", "--path", db, "-q")
    assert in_process.exit_code == 0, in_process.output
    # `qdrant-tokenpool search` in a fresh process: the same answer, torch never imported
    code = (
        "import sys\n"
        "from qdrant_tokenpool.cli import main\n"
        f"sys.argv = ['qdrant-tokenpool', 'search', 'immune cells of mice', '-c', 'docs', "
        f"'--json', '-q', '--path', {str(db)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'torch imported'\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True,
        env=dict(os.environ),
    )
    assert out.returncode == 0, out.stderr
    fresh, same = json.loads(out.stdout), json.loads(in_process.stdout)
    assert [r["doc_id"] for r in fresh] == [r["doc_id"] for r in same]
    np.testing.assert_allclose([r["score"] for r in fresh], [r["score"] for r in same], atol=1e-4)


def test_search_table_output(db):
    result = cli("search", "vitamin d", "-c", "docs", "-k", 2, "--path", db, "-q")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["rank", "score", "doc_id", "title"]
    assert len(lines) == 3


def test_commands_say_they_open_the_database_first(db):
    """Before the (possibly long) open, on stderr: stdout stays parseable, and a misspelled
    collection is reported after the message, not after a silence (issue 9 item 8)."""
    result = cli("stats", "-c", "docs", "--json", "--path", db)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == f"opening the database at {db} ..."
    assert json.loads(result.stdout)["points"] == 6
    result = cli("search", "vitamin d", "-c", "nope", "--path", db)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"opening the database at {db} ..."
    assert lines[-1].startswith("error: collection 'nope' does not exist")
    assert cli("stats", "-c", "docs", "--json", "--path", db, "-q").stderr == ""  # --quiet


def test_shared_options_go_before_or_after_the_command(db, tmp_path, monkeypatch):
    """--path/--url/--api-key/--engine/-q are declared once, on the app: accepted before the
    command and after it, where typed after beats typed before, which beats the environment."""
    after = cli("stats", "-c", "docs", "--json", "--path", db, "-q")
    before = cli("--path", db, "-q", "stats", "-c", "docs", "--json")
    assert after.exit_code == before.exit_code == 0, before.output
    assert json.loads(before.stdout) == json.loads(after.stdout) and before.stderr == ""
    missing = tmp_path / "missing"
    assert cli("--path", missing, "stats", "--path", db, "-q").exit_code == 0
    refused = cli("--path", db, "stats", "--path", missing, "-q")
    assert refused.exit_code == 1 and f"no Qdrant database at {missing}" in refused.stderr
    monkeypatch.setenv("QDRANT_TOKENPOOL_PATH", str(db))
    assert cli("stats", "-c", "docs", "--json", "-q").exit_code == 0
    assert cli("--path", missing, "stats", "-q").exit_code == 1
    for command in ("index", "search", "stats", "eval", "repool", "demo"):
        shown = cli(command, "--help").output
        assert all(o in shown for o in ("--path", "--url", "--api-key", "--engine", "--quiet"))
    download = cli("download", "--help").output  # opens no database: --quiet only
    assert "--quiet" in download and "--path" not in download and "--url" not in download


# ---------------------------------------------------------------------------- stats


def test_stats_counts_equal_pooled_counts(db, encoder):
    pooled, raw = expected_pooled(encoder, 2)
    result = cli("stats", "-c", "docs", "--json", "--path", db, "-q")
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)
    v = s["vectors"]["tokens"]
    n_pooled = sum(p.shape[0] for p in pooled.values())
    n_raw = sum(r.shape[0] for r in raw.values())
    assert s["points"] == 6
    assert v["stored_vectors"] == n_pooled
    assert v["unpooled_vectors"] == n_raw
    assert v["bytes"] == n_pooled * encoder.dim * 4
    assert v["vectors_per_point"] == pytest.approx(n_pooled / 6)
    assert v["reduction"] == pytest.approx(1 - n_pooled / n_raw)
    assert s["pooling"]["tokens"]["pool_factor"] == 2
    assert s["on_disk_bytes"] > 0

    text = cli("stats", "--path", db, "-q")
    assert text.exit_code == 0
    assert re.search(rf"^\s*stored vectors:\s+{n_pooled:,}\s*$", text.stdout, re.MULTILINE)
    assert "reduction:" in text.stdout and "collection 'docs'" in text.stdout


def test_new_folders_are_qdrant_edge_and_local_mode_folders_stay_local(tiny_model, beir_dir, db, tmp_path):
    """The index above made an Edge folder (the default for a new --path); --engine local
    makes a local-mode one, which later commands open with local mode and a note saying how
    to move it (copy-db), after which the copy answers the same search."""
    pytest.importorskip("qdrant_edge", reason="the default engine needs qdrant-edge-py")
    assert (db / "qdrant-tokenpool-edge.json").is_file() and not (db / "meta.json").exists()
    local = tmp_path / "local"
    args = ["-c", "docs", "--model", tiny_model, "--doc-maxlen", DOC_MAXLEN, "--path", local]
    assert cli("index", beir_dir, *args, "--engine", "local", "-q").exit_code == 0
    assert (local / "meta.json").is_file()
    found = cli("search", "aspirin", "-c", "docs", "--path", local, "--json")
    assert found.exit_code == 0, found.output
    assert "holds a qdrant-client local-mode database" in found.stderr and "copy-db" in found.stderr
    refused = cli("stats", "--path", local, "--engine", "edge", "-q")
    assert refused.exit_code != 0 and "not one of Qdrant Edge" in refused.output
    moved = tmp_path / "moved"
    copied = cli("copy-db", local, moved, "-q")
    assert copied.exit_code == 0, copied.output
    again = cli("search", "aspirin", "-c", "docs", "--path", moved, "--json")
    assert again.exit_code == 0 and "local-mode" not in again.stderr
    a, b = json.loads(found.stdout), json.loads(again.stdout)
    assert [h["doc_id"] for h in a] == [h["doc_id"] for h in b]
    np.testing.assert_allclose([h["score"] for h in a], [h["score"] for h in b], atol=1e-4)


# --------------------------------------------------------------------------- repool


def test_repool_copies_pooled_and_resumes(tmp_path, encoder):
    path = tmp_path / "q"
    rng = np.random.default_rng(0)
    docs = {
        i: rng.normal(size=(int(rng.integers(3, 12)), 8)).astype(np.float32) for i in range(1, 11)
    }
    plain = QdrantClient(path=str(path))
    plain.create_collection(
        "raw",
        vectors_config={
            "colbert": models.VectorParams(
                size=8,
                distance=models.Distance.COSINE,
                multivector_config=models.MultiVectorConfig(
                    comparator=models.MultiVectorComparator.MAX_SIM
                ),
            ),
            "dense": models.VectorParams(size=4, distance=models.Distance.DOT),
        },
    )
    plain.upsert(
        "raw",
        [
            models.PointStruct(
                id=i, vector={"colbert": v.tolist(), "dense": [float(i)] * 4}, payload={"n": i}
            )
            for i, v in docs.items()
        ],
    )
    plain.close()

    result = cli("repool", "raw", "pooled", "-p", 2, "--batch-size", 4, "--path", path, "-q")
    assert result.exit_code == 0, result.output
    assert "repooled 10 point(s)" in result.stdout

    def check(client):
        assert client.get_pooling("pooled")["colbert"].pool_factor == 2
        recs, _ = client.scroll("pooled", limit=100, with_payload=True, with_vectors=True)
        assert len(recs) == 10
        for r in recs:
            want = pool_tokens(docs[r.id], 2, protected_tokens=1)
            want = want / np.linalg.norm(want, axis=1, keepdims=True)  # Cosine: stored unit
            np.testing.assert_allclose(np.asarray(r.vector["colbert"]), want, atol=1e-6)
            assert r.vector["dense"] == pytest.approx([float(r.id)] * 4)
            assert r.payload == {"n": r.id, TOKENS_PAYLOAD_KEY: docs[r.id].shape[0]}

    with open_db(path) as client:
        check(client)
        client.delete("pooled", points_selector=models.PointIdsList(points=[3, 7]))

    again = cli("repool", "raw", "pooled", "-p", 2, "--path", path, "-q")
    assert again.exit_code == 0, again.output
    assert "repooled 2 point(s)" in again.stdout and "skipped 8" in again.stdout
    with open_db(path) as client:
        check(client)

    mismatch = cli("repool", "raw", "pooled", "-p", 4, "--path", path, "-q")
    assert mismatch.exit_code == 2 and "pool_factor=2" in mismatch.stderr


def test_index_with_budget_flags_stores_the_config_and_pools_by_it(tiny_model, beir_dir, tmp_path, encoder):
    db = tmp_path / "q"
    args = ["index", beir_dir, "-c", "docs", "--model", tiny_model, "--doc-maxlen", DOC_MAXLEN,
            "--path", db, "-q"]
    result = cli(*args, "--pool-factor", 1.5, "--max-vectors", 4, "--protected-tail-tokens", 1,
                 "--distance-threshold", 0.9)
    assert result.exit_code == 0, result.output
    with open_db(db) as client:
        cfg = client.get_pooling("docs")["tokens"]
        got = stored(client, "docs")
    assert (cfg.pool_factor, cfg.max_vectors, cfg.protected_tail_tokens, cfg.distance_threshold) == (
        1.5, 4, 1, 0.9)
    texts = [(t + " " + x).strip() for _, t, x in DOCS]
    for (i, _, _), e in zip(DOCS, encoder.encode_documents(texts, batch_size=32, show_progress=False)):
        want = pool_tokens(e, 1.5, protected_tokens=encoder.protected_tokens, max_vectors=4,
                           protected_tail_tokens=1, distance_threshold=0.9)
        assert len(want) <= 4
        np.testing.assert_allclose(got[point_id(i)]["vec"], want, atol=1e-6)
    # an existing collection: a differing knob is refused, the same one accepted
    assert cli(*args, "--max-vectors", 8).exit_code == 2
    again = cli(*args, "--max-vectors", 4)
    assert again.exit_code == 0 and "indexed 0 new" in again.stdout
    bad = cli(*args[:3], "other", *args[4:], "--method", "kmeans", "--distance-threshold", 0.5)
    assert bad.exit_code != 0 and "needs method='hierarchical'" in bad.stderr
    grid = cli(*args[:3], "g", *args[4:], "--method", "grid", "--grid", "3x")
    assert grid.exit_code != 0 and "ROWSxCOLS" in grid.output


def test_repool_with_grid_flags(tmp_path):
    path = tmp_path / "q"
    rng = np.random.default_rng(3)
    docs = {i: rng.normal(size=(1 + 4 * 3 + 2, 8)).astype(np.float32) for i in range(1, 6)}
    plain = QdrantClient(path=str(path))
    plain.create_collection(
        "raw",
        vectors_config={"colbert": models.VectorParams(
            size=8, distance=models.Distance.DOT,
            multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
        )},
    )
    plain.upsert("raw", [models.PointStruct(id=i, vector={"colbert": v.tolist()}) for i, v in docs.items()])
    plain.close()
    result = cli("repool", "raw", "rows", "-p", 1, "--method", "grid", "--grid", "4x3",
                 "--protected-tail-tokens", 2, "--path", path, "-q")
    assert result.exit_code == 0, result.output
    with open_db(path) as client:
        assert client.get_pooling("rows")["colbert"].grid_shape == (4, 3)
        recs, _ = client.scroll("rows", limit=100, with_vectors=True)
    for r in recs:
        want = pool_tokens(docs[r.id], 1, "grid", 1, protected_tail_tokens=2, grid_shape=(4, 3))
        np.testing.assert_allclose(np.asarray(r.vector["colbert"]), want, atol=1e-6)
        assert len(want) == 1 + 4 + 2


# ----------------------------------------------------------------------------- eval


def test_eval_through_an_unpooled_collection(tiny_model, beir_dir, tmp_path):
    path = tmp_path / "q"
    assert (
        cli(
            "index",
            beir_dir,
            "-c",
            "raw",
            "--model",
            tiny_model,
            "--pool-factor",
            1,
            "--doc-maxlen",
            DOC_MAXLEN,
            "--path",
            path,
            "-q",
        ).exit_code
        == 0
    )
    out = tmp_path / "out"
    result = cli("eval", beir_dir, "-c", "raw", "--out", out, "--path", path, "-q")
    assert result.exit_code == 0, result.output
    # each query is a document's own text: unpooled MaxSim puts that document first
    assert "| raw | 2 | 1.0000 | 1.0000 |" in result.stdout
    saved = json.loads((out / "eval_raw.json").read_text())
    assert saved["ndcg@10"] == 1.0 and saved["queries"] == 2


def test_eval_exact_scoring_equals_qdrant_queries(beir_dir, db):
    rows = {}
    for scoring in ("exact", "qdrant"):
        result = cli("eval", beir_dir, "-c", "docs", "--scoring", scoring, "--path", db, "-q")
        assert result.exit_code == 0, result.output
        rows[scoring] = result.stdout.strip().splitlines()[-1]
    assert rows["exact"] == rows["qdrant"]
    assert rows["exact"].startswith("| docs | 2 | ")


def test_demo_runs_every_step_in_one_process(tiny_model, beir_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("QDRANT_TOKENPOOL_MODEL", tiny_model)
    path = tmp_path / "q"
    first = cli("demo", beir_dir, "--path", path, "-q")
    assert first.exit_code == 0, first.output
    out = first.stdout
    for section in ("== index", "== footprint", "== quality", "== search"):
        assert section in out
    assert "indexed 6 new document(s)" in out
    assert "pool_factor=2" in out and "reduction:" in out
    assert "| scifact | 2 | " in out
    assert out.strip().splitlines()[-6].split() == ["rank", "score", "doc_id", "title"]
    again = cli("demo", beir_dir, "--path", path, "-q")
    assert again.exit_code == 0 and "indexed 0 new document(s)" in again.stdout
    # the shared client is closed at the end: the database can be opened again
    with open_db(path) as client:
        assert client.count("scifact").count == len(DOCS)


def test_eval_sweep_writes_table_csv_json_plot(tiny_model, beir_dir, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    result = cli(
        "eval",
        beir_dir,
        "--model",
        tiny_model,
        "--pool-factors",
        "1,2,1.5",
        "--methods",
        "hierarchical,sequential",
        "--distance-thresholds",
        "0.8",
        "--doc-maxlen",
        DOC_MAXLEN,
        "--out",
        out,
        "--no-cache",
        "-q",
    )
    assert result.exit_code == 0, result.output
    table = [ln for ln in result.stdout.splitlines() if ln.startswith("|")]
    # header, rule, unpooled + 2 methods at pf=1.5 and 2 + one threshold
    assert len(table) == 2 + 1 + 4 + 1
    assert any(ln.startswith("| hierarchical | 1.5 |") for ln in table)
    assert any(ln.startswith("| threshold | t=0.8 |") for ln in table)
    files = {p.suffix for p in out.iterdir()}
    assert {".csv", ".json", ".png"} <= files


# --------------------------------------------------------------------------- errors


def test_errors_exit_codes_and_messages(tiny_model, beir_dir, db, tmp_path):
    cases = [
        (("search", "x", "-c", "nope", "--path", db), 1, "collection 'nope' does not exist"),
        (("stats", "-c", "nope", "--path", db), 1, "collection 'nope' does not exist"),
        (("repool", "nope", "other", "-p", 2, "--path", db), 1, "does not exist"),
        (("stats", "--path", tmp_path / "missing"), 1, "no Qdrant database at"),
        (("index", tmp_path / "missing", "-c", "x", "--path", db), 1, "does not exist"),
        (("index", tmp_path, "-c", "x", "--path", db), 1, "without corpus.jsonl"),
        (("eval", tmp_path / "missing", "--path", db), 1, "does not exist"),
        (("eval", tmp_path, "-c", "docs", "--path", db), 1, "missing"),
        (("index", beir_dir, "-c", "docs", "--pool-factor", 4, "--path", db), 2, "pool_factor=2"),
        (
            ("index", beir_dir, "-c", "docs", "--method", "kmeans", "--path", db),
            2,
            "method=hierarchical",
        ),
        (("index", beir_dir, "-c", "x", "--method", "bogus", "--path", db), 2, "bogus"),
        (("eval", beir_dir, "--pool-factors", "a,b"), 2, "expected comma-separated numbers"),
        (("eval", beir_dir, "--methods", "ward"), 2, "ward"),
        (
            ("index", beir_dir, "-c", "x", "--model", tmp_path / "nomodel", "--path", db),
            1,
            "cannot load model",
        ),
    ]
    for args, code, text in cases:
        result = cli(*args, "-q") if args[0] != "eval" or "-c" in args else cli(*args)
        assert result.exit_code == code, (args, result.output)
        assert text in result.stderr, (args, result.stderr)


def test_bad_jsonl_line_is_named(tiny_model, tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text(json.dumps({"_id": "a", "text": "gene"}) + "\n{not json\n")
    result = cli(
        "index",
        src,
        "-c",
        "b",
        "--model",
        tiny_model,
        "--doc-maxlen",
        DOC_MAXLEN,
        "--path",
        tmp_path / "q",
        "-q",
    )
    assert result.exit_code == 1
    assert f"{src}:2" in result.stderr


# ------------------------------------------------------------------ docs/cli.md runs

CLI_DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def doc_commands() -> list[str]:
    """Every command line of the ```bash blocks of docs/cli.md (continuations joined)."""
    out = []
    for block in re.findall(r"^```bash\n(.*?)^```", CLI_DOC.read_text(), re.DOTALL | re.MULTILINE):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line:
                out.append(line)
    return out


def test_every_command_in_the_cli_doc_runs(tiny_model, beir_dir, tmp_path, monkeypatch):
    commands = doc_commands()
    assert len(commands) >= 8 and all("qdrant-tokenpool" in c for c in commands)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QDRANT_TOKENPOOL_MODEL", tiny_model)
    monkeypatch.setenv("QDRANT_TOKENPOOL_CACHE", str(tmp_path / "cache"))
    # the unpooled "existing ColBERT collection" that the repool example starts from
    plain = QdrantClient(path="qdrant_data")
    plain.create_collection(
        "colbert_docs",
        vectors_config=models.VectorParams(
            size=16,
            distance=models.Distance.COSINE,
            multivector_config=models.MultiVectorConfig(
                comparator=models.MultiVectorComparator.MAX_SIM
            ),
        ),
    )
    rng = np.random.default_rng(1)
    plain.upsert(
        "colbert_docs",
        [models.PointStruct(id=i, vector=rng.normal(size=(9, 16)).tolist()) for i in range(5)],
    )
    plain.close()
    for cmd in commands:
        words = shlex.split(cmd.replace("../shared/data/scifact", str(beir_dir)))
        env = {}
        while "=" in words[0]:
            key, value = words.pop(0).split("=", 1)
            env[key] = value
        assert words[0] == "qdrant-tokenpool", cmd
        result = runner.invoke(app, words[1:], env=env)
        assert "Traceback" not in result.output, (cmd, result.output)
        if "--url" in words and result.exit_code == 1:  # no server here: a clean error
            assert "cannot reach Qdrant at http://localhost:6333" in result.stderr
            continue
        assert result.exit_code == 0, (cmd, result.output)
    with open_db(tmp_path / "qdrant_data") as client:
        assert client.count("scifact").count == len(DOCS)
        assert client.get_pooling("colbert_docs_pf2")[""].pool_factor == 2
        assert client.count("colbert_docs_pf2").count == 5
