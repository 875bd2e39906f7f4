"""Fixtures shared by the encoder tests: the tiny ColBERT checkpoints of
``_encoder_fixtures`` (imported inside, so collecting tests needs no torch)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def stanford_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Stanford ColBERT checkpoint (colbert-ai ``HF_ColBERT`` layout)."""
    from _encoder_fixtures import make_stanford

    return make_stanford(tmp_path_factory.mktemp("stanford"))


@pytest.fixture(scope="module")
def pylate_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny PyLate checkpoint (Transformer + two Dense modules)."""
    from _encoder_fixtures import make_pylate

    return make_pylate(tmp_path_factory.mktemp("pylate"))
