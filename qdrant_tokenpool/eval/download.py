"""Download a BEIR data set (SciFact by default) into the cache, verified, all or nothing.

The archive is streamed to a temporary file (hashed on the way), checked against its
pinned size and digests, unzipped into a temporary folder (members outside it refused),
every pinned file checked, and only then renamed into ``<cache>/datasets/<name>``. Any
failure raises :class:`DownloadError` and removes what it wrote.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from tqdm.auto import tqdm

from .beir import file_sha256
from .cache import default_cache_dir

__all__ = [
    "DATASETS",
    "SCIFACT",
    "DatasetArchive",
    "DownloadError",
    "dataset_cache_dir",
    "download_dataset",
    "resolve_dataset",
]

_CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """A data set could not be downloaded or failed verification; nothing was cached."""


@dataclass(frozen=True)
class DatasetArchive:
    """Where a BEIR data set's zip lives and what it must contain.

    Attributes:
        name: folder name in the cache (``"scifact"``).
        url: the archive's address (``http(s)://`` or ``file://``).
        size, sha256, md5: the archive's length in bytes and hex digests (``None``: not
            pinned).
        files: SHA-256 of files inside the data folder by relative path; each must match.
    """

    name: str
    url: str
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ValueError(f"bad data set name {self.name!r}: one plain folder name")
        if self.sha256 is None and self.md5 is None and not self.files:
            raise ValueError(f"{self.name}: pin at least one digest (sha256, md5 or files)")
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))

    def mirrored(self, url: str) -> DatasetArchive:
        """The same data set fetched from ``url``, checked by its pinned ``files`` only (a
        mirror may pack its zip differently)."""
        if not self.files:
            raise ValueError(f"{self.name}: a mirror needs pinned files to check")
        return DatasetArchive(name=self.name, url=url, files=self.files)


SCIFACT = DatasetArchive(
    name="scifact",
    # BEIR's own address; size and MD5 as pinned by ir_datasets (etc/downloads.json,
    # beir/scifact); no SHA-256 of the zip is published, so the files' are pinned (the BEIR
    # release's bytes)
    url="https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip",
    size=2_816_079,
    md5="5f7d1de60b170fc8027bb7898e2efca1",
    files={
        "corpus.jsonl": "dec31c8182f3d744c7d2c09423756fd1d17cbef75808db13ba01cc0aab4d1ac6",
        "queries.jsonl": "8ff84a7c903f722981cd8d595c022660140c51867b27608a6d4910db86080313",
        "qrels/test.tsv": "0864bb985e0ca2367ba217977e72004d549054b2b06666ed9d4825ac7c21284c",
        "qrels/train.tsv": "a53f2114831916c096b6c37d9e54da68cef4efdcdbd5ed46533601af972acf1d",
    },
)
"""BEIR SciFact: 5,183 abstracts, 1,109 queries, test and train qrels (2.8 MB zip)."""

DATASETS: Mapping[str, DatasetArchive] = MappingProxyType({SCIFACT.name: SCIFACT})
"""The data sets :func:`download_dataset` knows by name."""

SOURCE_FILE = "download.json"
"""Written into a downloaded data folder: the URL, size and digests of the archive."""


def dataset_cache_dir(name: str, cache_dir: str | Path | None = None) -> Path:
    """Where data set ``name`` is (or would be) cached: ``<cache>/datasets/<name>``."""
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return base / "datasets" / name


def _is_beir_folder(path: Path) -> bool:
    return (path / "corpus.jsonl").is_file()


def resolve_dataset(
    candidates: list[str | Path] | tuple[str | Path, ...] = (),
    archive: DatasetArchive = SCIFACT,
    *,
    cache_dir: str | Path | None = None,
    show_progress: bool | None = None,
    timeout: float = 60.0,
) -> Path:
    """The first of ``candidates`` that is a BEIR folder, else the cached (or downloaded) copy."""
    for c in candidates:
        if _is_beir_folder(Path(c)):
            return Path(c)
    return download_dataset(
        archive, cache_dir=cache_dir, show_progress=show_progress, timeout=timeout
    )


def download_dataset(
    archive: DatasetArchive = SCIFACT,
    *,
    cache_dir: str | Path | None = None,
    show_progress: bool | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download, verify and cache ``archive``; return its data folder.

    Args:
        archive: what to fetch and how to check it (default :data:`SCIFACT`).
        cache_dir: cache root (default :func:`default_cache_dir`); the data set goes to
            ``<cache_dir>/datasets/<archive.name>``.
        show_progress: tqdm bar on stderr (``None``: when stderr is a terminal).
        timeout: seconds to wait for the server on connect and on each read.

    Returns:
        The cached folder (nothing is downloaded when it exists).

    Raises:
        DownloadError: a failed or interrupted transfer, a size or digest mismatch, a
            broken archive or one without ``corpus.jsonl``, a pinned file missing or
            different. The cache is left as it was.
    """
    dest = dataset_cache_dir(archive.name, cache_dir)
    if _is_beir_folder(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{archive.name}-", suffix=".partial", dir=dest.parent))
    try:
        zip_path = work / "archive.zip"
        digests = _fetch(archive, zip_path, show_progress=show_progress, timeout=timeout)
        _check_archive(archive, digests)
        folder = _unpack(archive, zip_path, work / "unpacked")
        _check_files(archive, folder)
        (folder / SOURCE_FILE).write_text(
            json.dumps({"url": archive.url, **digests}, indent=2) + "\n", encoding="utf-8"
        )
        try:
            os.rename(folder, dest)
        except OSError:
            # another process finished the same download first: use its copy
            if not _is_beir_folder(dest):
                raise
        return dest
    except DownloadError:
        raise
    except OSError as exc:
        raise DownloadError(f"{archive.name}: could not write the cache in {dest.parent}: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fetch(
    archive: DatasetArchive, path: Path, *, show_progress: bool | None, timeout: float
) -> dict[str, object]:
    """Stream ``archive.url`` to ``path``; returns its ``size``, ``sha256`` and ``md5``."""
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    got = 0
    where = f"{archive.name}: downloading {archive.url}"
    request = urllib.request.Request(archive.url, headers={"User-Agent": "qdrant-tokenpool"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else archive.size
            disable = None if show_progress is None else not show_progress
            with open(path, "wb") as out, tqdm(
                total=expected, unit="B", unit_scale=True, unit_divisor=1024,
                desc=f"downloading {archive.name}", disable=disable,
            ) as bar:
                for chunk in iter(lambda: resp.read(_CHUNK), b""):
                    out.write(chunk)
                    sha256.update(chunk)
                    md5.update(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{where}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"{where}: {exc.reason}") from exc
    except http.client.IncompleteRead as exc:
        raise DownloadError(
            f"{where}: transfer interrupted after {got + len(exc.partial):,} bytes"
            + (f" of {got + len(exc.partial) + exc.expected:,}" if exc.expected else "")
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DownloadError(f"{where}: transfer failed after {got:,} bytes: {exc!r}") from exc
    if length and length.isdigit() and got != int(length):
        raise DownloadError(f"{where}: transfer interrupted after {got:,} of {int(length):,} bytes")
    return {"size": got, "sha256": sha256.hexdigest(), "md5": md5.hexdigest()}


def _check_archive(archive: DatasetArchive, digests: Mapping[str, object]) -> None:
    for key in ("size", "sha256", "md5"):
        want = getattr(archive, key)
        if want is not None and digests[key] != want:
            raise DownloadError(
                f"{archive.name}: the downloaded archive's {key} is {digests[key]}, expected "
                f"{want} ({archive.url}); nothing was cached"
            )


def _unpack(archive: DatasetArchive, zip_path: Path, into: Path) -> Path:
    """Extract the zip under ``into`` and return the folder holding ``corpus.jsonl``."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for member in zf.namelist():
                p = PurePosixPath(member)
                if p.is_absolute() or ".." in p.parts:
                    raise DownloadError(f"{archive.name}: archive member {member!r} escapes its folder")
            zf.extractall(into)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{archive.name}: the downloaded file is not a zip archive: {exc}") from exc
    for folder in (into / archive.name, into, *sorted(p for p in into.iterdir() if p.is_dir())):
        if _is_beir_folder(folder):
            return folder
    raise DownloadError(
        f"{archive.name}: the archive has no corpus.jsonl (at its top or one folder down)"
    )


def _check_files(archive: DatasetArchive, folder: Path) -> None:
    for rel, want in archive.files.items():
        path = folder / rel
        if not path.is_file():
            raise DownloadError(f"{archive.name}: the archive lacks {rel}; nothing was cached")
        got = file_sha256(path)
        if got != want:
            raise DownloadError(
                f"{archive.name}: {rel} in the archive has SHA-256 {got}, expected {want}; "
                "nothing was cached"
            )
