"""Quality-vs-footprint evaluation on BEIR data (no Qdrant: exact numerics).

- :func:`download_dataset` / :func:`resolve_dataset`: BEIR SciFact downloaded (verified,
  all or nothing) into the cache when no local copy is given (:mod:`.download`).
- :func:`run_evaluation` -> :class:`EvalResult` (Markdown / CSV / JSON / PNG outputs);
  see :mod:`qdrant_tokenpool.eval.run` for the full API used by ``qdrant-tokenpool eval``.
- :func:`load_beir` (BEIR folders), :func:`evaluate_run`, :func:`ndcg_at_k`,
  :func:`recall_at_k` (pytrec_eval definitions), :func:`footprint`; exact MaxSim top-k is
  :meth:`~qdrant_tokenpool.maxsim.PackedDocs.top_indices`.

Also runnable as ``python -m qdrant_tokenpool.eval --help``.
"""

from .beir import BeirDataset, load_beir
from .cache import default_cache_dir
from .download import DownloadError, download_dataset, resolve_dataset
from .encoding import encoder_fingerprint, load_encoder
from .footprint import Footprint, footprint
from .metrics import evaluate_run, ndcg_at_k, rank, recall_at_k
from .run import THRESHOLD, UNPOOLED, EvalResult, SettingResult, run_evaluation

__all__ = [
    "THRESHOLD",
    "UNPOOLED",
    "BeirDataset",
    "DownloadError",
    "EvalResult",
    "Footprint",
    "SettingResult",
    "default_cache_dir",
    "download_dataset",
    "encoder_fingerprint",
    "evaluate_run",
    "footprint",
    "load_beir",
    "load_encoder",
    "ndcg_at_k",
    "rank",
    "recall_at_k",
    "resolve_dataset",
    "run_evaluation",
]
