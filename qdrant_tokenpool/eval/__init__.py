"""Quality-vs-footprint evaluation on BEIR data (no Qdrant: exact numerics):
:func:`run_evaluation` -> :class:`EvalResult`, BEIR folders (:func:`load_beir`,
:func:`resolve_dataset`), pytrec_eval's metrics. Also ``python -m qdrant_tokenpool.eval``.
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
