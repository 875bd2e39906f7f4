"""fastembed on the real code path: a tiny ColBERT exported to ONNX here, run by fastembed.

The tiny Stanford ColBERT of ``_encoder_fixtures`` is exported with ``torch.onnx`` and
registered with :func:`register_local_model`; then real fastembed (ONNX Runtime) embeds
with it: through :class:`FastEmbedEncoder`, and through qdrant-client's own local
inference for ``models.Document`` objects in points and queries of a pooled collection.
Its documents and queries equal ``TokenEncoder``'s outputs on the same checkpoint, so the
expected pooled vectors are known exactly.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from _encoder_fixtures import (
    COLPALI_DIM,
    STANFORD_DIM,
    TEXTS,
    make_fastembed_colbert,
    make_tiny_colpali,
)
from qdrant_client import models

from qdrant_tokenpool import (
    AsyncTokenPoolingClient,
    InvalidMultivectorError,
    PoolingConfig,
    TokenPoolingClient,
    pool_tokens,
)
from qdrant_tokenpool.encoders import TokenEncoder
from qdrant_tokenpool.encoders.fastembed import (
    FastEmbedEncoder,
    is_fastembed_model,
    register_local_model,
)

NAME = "qdrant-tokenpool-tests/tiny-colbert"
DOCS = [t for t in TEXTS if t][:4]
QUERY = "which cat sat on the mat?"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = make_fastembed_colbert(tmp_path_factory.mktemp("fastembed"))
    register_local_model(NAME, path / "onnx", dim=STANFORD_DIM)
    return path


@pytest.fixture(scope="module")
def encoder(tiny: Path) -> FastEmbedEncoder:
    return FastEmbedEncoder(NAME)


@pytest.fixture(scope="module")
def reference(tiny: Path) -> TokenEncoder:
    """The same checkpoint through torch: ColBERT's documents, 32-token queries."""
    return TokenEncoder.from_pretrained(str(tiny / "checkpoint"), device="cpu", query_length=32)


def vectors_config() -> dict[str, models.VectorParams]:
    mv = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
    return {
        "colbert": models.VectorParams(
            size=STANFORD_DIM, distance=models.Distance.COSINE, multivector_config=mv
        ),
        "plain": models.VectorParams(
            size=STANFORD_DIM, distance=models.Distance.COSINE, multivector_config=mv
        ),
    }


POOLING = {"colbert": PoolingConfig(pool_factor=2, protected_tokens=2)}


def expected_pooled(encoder: FastEmbedEncoder, text: str) -> np.ndarray:
    doc = encoder.encode_documents([text])[0]
    pooled = pool_tokens(doc, 2, protected_tokens=2)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def doc(text: str) -> models.Document:
    return models.Document(text=text, model=NAME)


# -- the encoder --------------------------------------------------------------------------


def test_registered_local_model_runs_in_fastembed(encoder: FastEmbedEncoder, reference):
    assert is_fastembed_model(NAME) and is_fastembed_model(NAME.upper())
    assert not is_fastembed_model("nobody/no-such-colbert")
    assert (encoder.name, encoder.dim, encoder.protected_tokens) == (NAME, STANFORD_DIM, 2)
    docs = encoder.encode_documents(DOCS)
    ref = reference.encode_documents(DOCS)
    for got, want in zip(docs, ref):
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=2e-5)  # punctuation dropped, [CLS] [D] first
    queries = encoder.encode_queries([QUERY, "red"])
    for got, want in zip(queries, reference.encode_queries([QUERY, "red"])):
        assert got.shape == (32, STANFORD_DIM)  # [MASK]-padded, as ColBERT's queries
        np.testing.assert_allclose(got, want, atol=2e-5)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    streamed = list(encoder.iter_documents(iter(DOCS), batch_size=2))
    assert all(np.allclose(a, b) for a, b in zip(streamed, docs))


def test_register_refuses_bad_folders_and_fastembed_names(tiny: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="no model.onnx"):
        register_local_model("x/y", tmp_path, dim=4)
    with pytest.raises(ValueError, match="fastembed's own models"):
        register_local_model("colbert-ir/colbertv2.0", tiny / "onnx", dim=STANFORD_DIM)
    with pytest.raises(ValueError, match="positive"):
        register_local_model("x/y", tiny / "onnx", dim=0)


def test_add_texts_and_query_text_take_a_fastembed_encoder(encoder: FastEmbedEncoder):
    client = TokenPoolingClient(":memory:")
    client.create_collection("notes", vectors_config(), pooling=POOLING)
    ids = client.add_texts("notes", DOCS, encoder, vector_name="colbert")
    stored = client.retrieve("notes", ids, with_vectors=True)
    by_id = {p.id: np.asarray(p.vector["colbert"]) for p in stored}
    for pid, text in zip(ids, DOCS):
        np.testing.assert_allclose(by_id[pid], expected_pooled(encoder, text), atol=1e-5)
    hits = client.query_text("notes", QUERY, encoder, using="colbert", limit=4)
    by_arr = client.query_late_interaction(
        "notes", encoder.encode_queries([QUERY])[0], using="colbert", limit=4
    )
    assert len(hits.points) == 4
    assert [h.id for h in hits.points] == [h.id for h in by_arr.points]


# -- models.Document through qdrant-client's local inference -----------------------------


def test_document_points_are_embedded_pooled_and_written(encoder: FastEmbedEncoder):
    client = TokenPoolingClient(":memory:")
    client.create_collection("docs", vectors_config(), pooling=POOLING)
    points = [
        models.PointStruct(id=i, vector={"colbert": doc(t), "plain": doc(t)}, payload={"t": t})
        for i, t in enumerate(DOCS)
    ]
    client.upsert("docs", points)
    for p in client.retrieve("docs", list(range(len(DOCS))), with_vectors=True):
        text = DOCS[p.id]
        full = encoder.encode_documents([text])[0]
        np.testing.assert_allclose(p.vector["colbert"], expected_pooled(encoder, text), atol=1e-5)
        np.testing.assert_allclose(p.vector["plain"], full, atol=1e-5)  # not pooled, embedded
    # queries as Documents: embedded as queries (32 [MASK]-padded rows), never pooled
    by_doc = client.query_late_interaction("docs", doc(QUERY), using="colbert", limit=4)
    by_arr = client.query_late_interaction(
        "docs", encoder.encode_queries([QUERY])[0], using="colbert", limit=4
    )
    assert [h.id for h in by_doc.points] == [h.id for h in by_arr.points]
    np.testing.assert_allclose(
        [h.score for h in by_doc.points], [h.score for h in by_arr.points], atol=1e-4
    )
    plain = client.query_points("docs", query=doc(QUERY), using="colbert", limit=4)
    assert [h.id for h in plain.points] == [h.id for h in by_arr.points]


@pytest.mark.parametrize("method", ["update_vectors", "batch_update_points", "upload_points",
                                    "upload_collection"])
def test_every_write_method_embeds_documents(encoder: FastEmbedEncoder, method: str):
    client = TokenPoolingClient(":memory:")
    client.create_collection("docs", vectors_config(), pooling=POOLING)
    ids = list(range(len(DOCS)))
    vecs = [{"colbert": doc(t)} for t in DOCS]
    if method == "update_vectors":
        blank = np.ones((3, STANFORD_DIM), dtype=np.float32)
        client.upsert("docs", [models.PointStruct(id=i, vector={"colbert": blank}) for i in ids])
        client.update_vectors("docs", [models.PointVectors(id=i, vector=v) for i, v in zip(ids, vecs)])
    elif method == "batch_update_points":
        op = models.UpsertOperation(
            upsert=models.PointsList(
                points=[models.PointStruct(id=i, vector=v) for i, v in zip(ids, vecs)]
            )
        )
        client.batch_update_points("docs", [op])
    elif method == "upload_points":
        client.upload_points(
            "docs", [models.PointStruct(id=i, vector=v) for i, v in zip(ids, vecs)], batch_size=3
        )
    else:
        client.upload_collection("docs", {"colbert": [doc(t) for t in DOCS]}, ids=ids, batch_size=3)
    for p in client.retrieve("docs", ids, with_vectors=True):
        np.testing.assert_allclose(
            p.vector["colbert"], expected_pooled(encoder, DOCS[p.id]), atol=1e-5
        )


def test_async_client_embeds_documents_too(encoder: FastEmbedEncoder):
    async def run() -> tuple[list, list, list]:
        client = AsyncTokenPoolingClient(":memory:")
        await client.create_collection("docs", vectors_config(), pooling=POOLING)
        await client.upsert(
            "docs", [models.PointStruct(id=i, vector={"colbert": doc(t)}) for i, t in enumerate(DOCS)]
        )
        stored = await client.retrieve("docs", [0, 1], with_vectors=True)
        hits = await client.query_late_interaction("docs", doc(QUERY), using="colbert", limit=4)
        by_arr = await client.query_late_interaction(
            "docs", encoder.encode_queries([QUERY])[0], using="colbert", limit=4
        )
        return stored, hits.points, by_arr.points

    stored, hits, by_arr = asyncio.run(run())
    for p in stored:
        np.testing.assert_allclose(p.vector["colbert"], expected_pooled(encoder, DOCS[p.id]), atol=1e-5)
    assert len(hits) == 4 and [h.id for h in hits] == [h.id for h in by_arr]
    np.testing.assert_allclose([h.score for h in hits], [h.score for h in by_arr], atol=1e-4)


def test_a_bad_point_beside_documents_writes_nothing(tiny: Path):
    client = TokenPoolingClient(":memory:")
    client.create_collection("docs", vectors_config(), pooling=POOLING)
    wrong_dim = np.ones((5, STANFORD_DIM + 1), dtype=np.float32)
    points = [
        models.PointStruct(id=1, vector={"colbert": doc(DOCS[0])}),
        models.PointStruct(id=2, vector={"colbert": wrong_dim}),
    ]
    with pytest.raises(InvalidMultivectorError, match=r"point 2, vector 'colbert'.*dimension"):
        client.upsert("docs", points)
    with pytest.raises(ValueError, match="nobody/no-such-model"):
        client.upsert(
            "docs",
            [models.PointStruct(id=3, vector={"colbert": models.Document(text="x", model="nobody/no-such-model")})],
        )
    assert client.count("docs").count == 0


def test_cloud_inference_keeps_its_clear_error(tiny: Path):
    client = TokenPoolingClient(":memory:")
    client.create_collection("docs", vectors_config(), pooling=POOLING)
    client.cloud_inference = True  # local mode refuses it in the constructor; the flag is what counts
    with pytest.raises(InvalidMultivectorError, match=r"point 1, vector 'colbert'.*cloud inference"):
        client.upsert("docs", [models.PointStruct(id=1, vector={"colbert": doc(DOCS[0])})])
    assert client.count("docs").count == 0


COLPALI = "qdrant-tokenpool-tests/tiny-colpali"


@pytest.fixture(scope="module")
def colpali(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    path = make_tiny_colpali(tmp_path_factory.mktemp("colpali"))
    register_local_model(COLPALI, path, dim=COLPALI_DIM, kind="colpali")
    for name, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
        Image.new("RGB", (64, 48), colour).save(path / f"{name}.png")
    return path


def test_image_points_are_embedded_pooled_and_written(colpali: Path):
    """models.Image through qdrant-client's local inference on a real fastembed
    (LateInteractionMultimodalEmbedding), then pooled; a Document query on the same
    multimodal model is embedded as text and never pooled."""
    from fastembed import LateInteractionMultimodalEmbedding

    fe = LateInteractionMultimodalEmbedding(COLPALI)
    images = [str(colpali / "red.png"), str(colpali / "blue.png")]
    raw = [np.asarray(e, dtype=np.float32) for e in fe.embed_image(images)]
    assert raw[0].shape == (1030, COLPALI_DIM) and not np.allclose(raw[0], raw[1])

    mv = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
    params = models.VectorParams(
        size=COLPALI_DIM, distance=models.Distance.COSINE, multivector_config=mv
    )
    client = TokenPoolingClient(":memory:")
    client.create_collection(
        "pages", {"colpali": params}, pooling={"colpali": PoolingConfig(pool_factor=2)}
    )
    client.upsert(
        "pages",
        [
            models.PointStruct(id=i, vector={"colpali": models.Image(image=img, model=COLPALI)})
            for i, img in enumerate(images)
        ],
    )
    for p in client.retrieve("pages", [0, 1], with_vectors=True):
        want = pool_tokens(raw[p.id], 2)
        want = want / np.linalg.norm(want, axis=1, keepdims=True)
        assert len(p.vector["colpali"]) == 515  # 1,030 patch and text rows, pooled at pf=2
        np.testing.assert_allclose(p.vector["colpali"], want, atol=1e-5)
    query = models.Document(text="a red page", model=COLPALI)
    by_doc = client.query_late_interaction("pages", query, limit=2)
    q = np.asarray(next(iter(fe.embed_text(["a red page"]))), dtype=np.float32)
    by_arr = client.query_late_interaction("pages", q, limit=2)
    assert [h.id for h in by_doc.points] == [h.id for h in by_arr.points]
    np.testing.assert_allclose(
        [h.score for h in by_doc.points], [h.score for h in by_arr.points], atol=1e-4
    )


# -- the CLI's --model and the evaluation's model name -------------------------------------


def test_cli_model_name_selects_fastembed(encoder: FastEmbedEncoder, tmp_path: Path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from qdrant_tokenpool.cli import app
    from qdrant_tokenpool.eval import load_encoder
    from qdrant_tokenpool.ops.database import open_embedded

    assert isinstance(load_encoder(NAME), FastEmbedEncoder)
    data = tmp_path / "beir"
    (data / "qrels").mkdir(parents=True)
    (data / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": f"d{i}", "title": "", "text": t}) + "\n" for i, t in enumerate(DOCS))
    )
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    got = runner.invoke(app, ["index", str(data), "-c", "fe", "--model", NAME, "-q"])
    assert got.exit_code == 0, got.output
    client, _ = open_embedded("qdrant_data")  # the CLI's folder, on its engine
    try:
        pooling = client.get_pooling("fe")
        vector = next(iter(pooling))
        assert pooling[vector].protected_tokens == 2  # the fastembed encoder's
        stored = client.scroll("fe", with_vectors=True, with_payload=True, limit=10)[0]
        assert len(stored) == len(DOCS)
        for p in stored:
            np.testing.assert_allclose(
                p.vector[vector], expected_pooled(encoder, p.payload["text"]), atol=1e-5
            )
    finally:
        client.close()
    # search: the model recorded at index time, fastembed again
    hits = runner.invoke(app, ["search", QUERY, "-c", "fe", "--top-k", "2"])
    assert hits.exit_code == 0, hits.output
    assert "loading model " + NAME in hits.stderr


def test_fastembed_needs_no_torch(tiny: Path, tmp_path: Path):
    """The fastembed way works with torch unimportable (a user with only the fastembed extra)."""
    import subprocess
    import sys

    code = f"""
import sys
sys.modules["torch"] = None  # import torch now raises ImportError
import numpy as np
from qdrant_client import models
from qdrant_tokenpool import FastEmbedEncoder, PoolingConfig, TokenPoolingClient
from qdrant_tokenpool.encoders.fastembed import register_local_model
register_local_model({NAME!r}, {str(tiny / "onnx")!r}, dim={STANFORD_DIM})
enc = FastEmbedEncoder({NAME!r})
c = TokenPoolingClient(":memory:")
mv = models.VectorParams(size=enc.dim, distance=models.Distance.COSINE,
    multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM))
c.create_collection("d", {{"colbert": mv}}, pooling={{"colbert": PoolingConfig(pool_factor=2, protected_tokens=2)}})
c.add_texts("d", ["the cat sat on the mat", "a red gene"], enc)
c.upsert("d", [models.PointStruct(id=7, vector={{"colbert": models.Document(text="blue cells", model={NAME!r})}})])
hits = c.query_late_interaction("d", models.Document(text="cat", model={NAME!r}), limit=3)
assert len(hits.points) == 3 and c.count("d").count == 3
assert "torch" not in {{m.split(".")[0] for m, v in sys.modules.items() if v is not None}}
print("ok")
"""
    got = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert got.returncode == 0 and got.stdout.strip() == "ok", got.stderr[-3000:]
