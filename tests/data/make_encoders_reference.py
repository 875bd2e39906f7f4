"""Write tests/data/encoders_reference.npz: colbert-ai and PyLate outputs on the tiny checkpoints.

Not part of the test run. Run it in a separate environment that has the reference
implementations (they pin other transformers / sentence-transformers versions than ours):

    python -m venv /tmp/refenv
    /tmp/refenv/bin/pip install torch==2.13.0
    /tmp/refenv/bin/pip install transformers==5.3.0 sentence-transformers==5.3.0 \\
        colbert-ai==0.2.22 ujson
    /tmp/refenv/bin/pip install --no-deps pylate==1.6.0
    /tmp/refenv/bin/python tests/data/make_encoders_reference.py

colbert-ai's C++ MaxSim extension (compiled on CPU import) is not needed for encoding and
is skipped. ``tests/test_encoders.py::test_matches_reference_implementation`` compares
``TokenEncoder`` against the arrays written here.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _encoder_fixtures import TEXTS, make_pylate, make_stanford


def stanford_reference(path: Path) -> dict[str, np.ndarray]:
    from colbert.modeling.colbert import ColBERT

    ColBERT.try_load_torch_extensions = classmethod(lambda cls, use_gpu: None)
    from colbert.infra import ColBERTConfig
    from colbert.modeling.checkpoint import Checkpoint

    ckpt = Checkpoint(str(path), colbert_config=ColBERTConfig(), verbose=0)
    assert ckpt.colbert_config.query_maxlen == 12, ckpt.colbert_config
    queries = ckpt.queryFromText(TEXTS, to_cpu=True)
    docs = ckpt.docFromText(TEXTS, bsize=32, keep_dims=False)[0]
    out = {}
    for i in range(len(TEXTS)):
        out[f"stanford_query_{i}"] = queries[i].float().numpy()
        out[f"stanford_doc_{i}"] = docs[i].float().numpy()
    return out


def pylate_reference(path: Path) -> dict[str, np.ndarray]:
    from pylate.models import ColBERT

    model = ColBERT(str(path), device="cpu")
    queries = model.encode(TEXTS, is_query=True)
    docs = model.encode(TEXTS, is_query=False)
    out = {}
    for i in range(len(TEXTS)):
        out[f"pylate_query_{i}"] = np.asarray(queries[i], dtype=np.float32)
        out[f"pylate_doc_{i}"] = np.asarray(docs[i], dtype=np.float32)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        arrays = {
            **stanford_reference(make_stanford(Path(tmp) / "stanford")),
            **pylate_reference(make_pylate(Path(tmp) / "pylate")),
        }
    import colbert  # noqa: F401
    import pylate
    import transformers

    arrays["versions"] = np.array(
        [f"colbert-ai 0.2.22, pylate {pylate.__version__}, transformers {transformers.__version__}"]
    )
    np.savez_compressed(HERE / "encoders_reference.npz", **arrays)
    for key in sorted(arrays):
        print(key, arrays[key].shape)


if __name__ == "__main__":
    main()
