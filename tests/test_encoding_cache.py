"""The evaluation's encoding cache is keyed by the model's content, not its location."""

from __future__ import annotations

import shutil

import numpy as np

from qdrant_tokenpool.eval.encoding import encode_cached, encoder_fingerprint


class FolderEncoder:
    """Token vectors from a seed; ``name`` is a model folder."""

    dim = 4
    protected_tokens = 1

    def __init__(self, folder):
        self.name = str(folder)
        self.calls = 0

    def encode_documents(self, texts, batch_size=32, show_progress=False):
        self.calls += 1
        return [np.full((len(t.split()) + 1, 4), 0.5, np.float32) for t in texts]

    encode_queries = encode_documents


def make_model(folder, weights=b"weights"):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden_size": 4}')
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def test_fingerprint_follows_content_not_location(tmp_path):
    a = make_model(tmp_path / "a" / "model")
    b = tmp_path / "venv" / "model"
    shutil.copytree(a, b)
    fa, fb = encoder_fingerprint(FolderEncoder(a)), encoder_fingerprint(FolderEncoder(b))
    assert fa == fb and "model_sha256" in fa["name"]
    (b / "model.safetensors").write_bytes(b"other weights")
    assert encoder_fingerprint(FolderEncoder(b)) != fa


def test_entries_are_shared_by_copies_and_keyed_by_version(tmp_path, monkeypatch):
    import qdrant_tokenpool.eval.encoding as enc_mod

    cache = tmp_path / "cache"
    a = make_model(tmp_path / "site" / "model")
    ids, texts = ["d1", "d2"], ["one two", "three"]
    first = FolderEncoder(a)
    packed, hit, _ = encode_cached(first, "documents", ids, texts, cache, verbose=False)
    assert not hit and first.calls == 1
    # a copy elsewhere: found under the content key, no encoding
    b = tmp_path / "venv" / "model"
    shutil.copytree(a, b)
    copy = FolderEncoder(b)
    got, hit, _ = encode_cached(copy, "documents", ids, texts, cache, verbose=False)
    assert hit and copy.calls == 0
    np.testing.assert_array_equal(got.tokens, packed.tokens)
    # another cache version: encoded again, never read from the older entry
    monkeypatch.setattr(enc_mod, "CACHE_VERSION", enc_mod.CACHE_VERSION + 1)
    again = FolderEncoder(a)
    _, hit, _ = encode_cached(again, "documents", ids, texts, cache, verbose=False)
    assert not hit and again.calls == 1
