"""The data-set download (``qdrant_tokenpool.eval.download``), the CLI's ``download`` and the
demo's data step, against a real HTTP server on 127.0.0.1.

The server (``http.server`` in a thread) serves zips in BEIR's layout (``scifact/corpus.jsonl``,
``queries.jsonl``, ``qrels/test.tsv``), HTTP errors and a transfer cut short. Every failure
must raise :class:`DownloadError` and leave the cache as it was (no data folder, no
temporary folder).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qdrant_tokenpool.cli import app
from qdrant_tokenpool.eval import load_beir
from qdrant_tokenpool.eval.download import (
    SCIFACT,
    DatasetArchive,
    DownloadError,
    dataset_cache_dir,
    download_dataset,
    resolve_dataset,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED_SCIFACT = ROOT.parent / "shared" / "data" / "scifact"

FILES = {
    "corpus.jsonl": (
        '{"_id": "d1", "title": "BRCA1", "text": "Mutations raise cancer risk."}\n'
        '{"_id": "d2", "title": "Flour", "text": "Two cups of flour."}\n'
    ),
    "queries.jsonl": '{"_id": "q1", "text": "Which gene raises cancer risk?"}\n',
    "qrels/test.tsv": "query-id\tcorpus-id\tscore\nq1\td1\t1\n",
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_zip(files: dict[str, str | bytes], prefix: str = "scifact/") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(prefix + name, text)
    return buf.getvalue()


class Server:
    """Routes: ``/NAME.zip`` serves ``self.files[NAME]``; ``/cut.zip`` announces the full
    length of ``self.files["cut"]`` and closes after half; ``/status/CODE`` answers CODE."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                if self.path.startswith("/status/"):
                    self.send_error(int(self.path.rsplit("/", 1)[1]))
                    return
                name = self.path.strip("/").removesuffix(".zip")
                body = server.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name == "cut":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{path.lstrip('/')}"


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    s.thread.start()
    try:
        yield s
    finally:
        s.httpd.shutdown()
        s.httpd.server_close()


def archive_for(data: bytes, url: str, **over: object) -> DatasetArchive:
    fields: dict = {
        "name": "scifact",
        "url": url,
        "size": len(data),
        "sha256": sha256(data),
        "files": {k: sha256(v.encode()) for k, v in FILES.items()},
    }
    fields.update(over)
    return DatasetArchive(**fields)


def cache_is_empty(cache: Path) -> bool:
    datasets = cache / "datasets"
    return not datasets.exists() or not any(datasets.iterdir())


def test_download_verifies_unpacks_and_caches(server: Server, tmp_path: Path):
    data = make_zip(FILES)
    server.files["scifact"] = data
    archive = archive_for(data, server.url("scifact.zip"))

    folder = download_dataset(archive, cache_dir=tmp_path, show_progress=False)

    assert folder == dataset_cache_dir("scifact", tmp_path) == tmp_path / "datasets" / "scifact"
    for rel, text in FILES.items():
        assert (folder / rel).read_text(encoding="utf-8") == text
    source = json.loads((folder / "download.json").read_text(encoding="utf-8"))
    assert source == {
        "url": archive.url,
        "size": len(data),
        "sha256": sha256(data),
        "md5": hashlib.md5(data).hexdigest(),
    }
    assert sorted(p.name for p in folder.parent.iterdir()) == ["scifact"]  # no temporary left
    ds = load_beir(folder)
    assert ds.doc_ids == ["d1", "d2"] and ds.qrels == {"q1": {"d1": 1}}
    # cached: a second call makes no request
    assert download_dataset(archive, cache_dir=tmp_path, show_progress=False) == folder
    assert server.requests == ["/scifact.zip"]


def test_archive_without_top_folder_and_progress_bar(server: Server, tmp_path: Path, capsys):
    data = make_zip(FILES, prefix="")
    server.files["flat"] = data
    folder = download_dataset(
        archive_for(data, server.url("flat.zip")), cache_dir=tmp_path, show_progress=True
    )
    assert (folder / "corpus.jsonl").is_file()
    assert "downloading scifact" in capsys.readouterr().err  # the tqdm bar, on stderr


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"sha256": "0" * 64}, "sha256 is"),
        ({"size": 1}, "size is"),
        ({"md5": "0" * 32}, "md5 is"),
        ({"files": {"corpus.jsonl": "0" * 64}}, "corpus.jsonl in the archive has SHA-256"),
        ({"files": {"qrels/train.tsv": "0" * 64}}, "lacks qrels/train.tsv"),
    ],
)
def test_bad_checksum_caches_nothing(server: Server, tmp_path: Path, over: dict, message: str):
    data = make_zip(FILES)
    server.files["scifact"] = data
    archive = archive_for(data, server.url("scifact.zip"), **over)
    with pytest.raises(DownloadError, match=message):
        download_dataset(archive, cache_dir=tmp_path, show_progress=False)
    assert cache_is_empty(tmp_path)


@pytest.mark.parametrize("code", [404, 500])
def test_http_error_caches_nothing(server: Server, tmp_path: Path, code: int):
    archive = archive_for(b"", server.url(f"status/{code}"))
    with pytest.raises(DownloadError, match=f"HTTP {code}"):
        download_dataset(archive, cache_dir=tmp_path, show_progress=False)
    assert cache_is_empty(tmp_path)


def test_interrupted_transfer_caches_nothing(server: Server, tmp_path: Path):
    data = make_zip({**FILES, "corpus.jsonl": FILES["corpus.jsonl"] * 200})
    server.files["cut"] = data
    archive = archive_for(data, server.url("cut.zip"))
    with pytest.raises(DownloadError, match=f"interrupted after {len(data) // 2:,} of {len(data):,}"):
        download_dataset(archive, cache_dir=tmp_path, show_progress=False)
    assert cache_is_empty(tmp_path)
    # the next run starts afresh and succeeds
    server.files["scifact"] = data
    ok = archive_for(data, server.url("scifact.zip"), files={})
    assert (download_dataset(ok, cache_dir=tmp_path, show_progress=False) / "corpus.jsonl").is_file()


def test_unreachable_host_is_a_download_error(tmp_path: Path):
    s = Server()  # bound, never served: connections are refused once closed
    url = s.url("scifact.zip")
    s.httpd.server_close()
    with pytest.raises(DownloadError, match="downloading"):
        download_dataset(archive_for(b"", url), cache_dir=tmp_path, show_progress=False, timeout=5)
    assert cache_is_empty(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html>not a zip</html>", "not a zip archive"),
        (make_zip({"README": "no corpus"}), "no corpus.jsonl"),
        (make_zip({"../evil.txt": "x", **FILES}, prefix=""), "escapes its folder"),
    ],
)
def test_broken_archive_caches_nothing(server: Server, tmp_path: Path, content: bytes, message: str):
    server.files["scifact"] = content
    archive = archive_for(content, server.url("scifact.zip"), files={})
    with pytest.raises(DownloadError, match=message):
        download_dataset(archive, cache_dir=tmp_path, show_progress=False)
    assert cache_is_empty(tmp_path)
    assert not (tmp_path / "evil.txt").exists()


def test_resolve_prefers_an_existing_folder(server: Server, tmp_path: Path):
    local = tmp_path / "here"
    (local / "qrels").mkdir(parents=True)
    for rel, text in FILES.items():
        (local / rel).write_text(text, encoding="utf-8")
    archive = archive_for(b"", server.url("scifact.zip"))
    got = resolve_dataset([tmp_path / "missing", local], archive, cache_dir=tmp_path / "cache")
    assert got == local
    assert server.requests == [] and cache_is_empty(tmp_path / "cache")


def test_scifact_pins_match_the_reference_copy():
    """The pinned SHA-256 of each SciFact file is that of the BEIR copy beside the repository."""
    if not SHARED_SCIFACT.is_dir():
        pytest.fail(f"the reference SciFact copy is missing: {SHARED_SCIFACT}")
    sums = dict(
        reversed(line.split(maxsplit=1))
        for line in (SHARED_SCIFACT / "SHA256SUMS").read_text().splitlines()
    )
    assert dict(SCIFACT.files) == {k.strip(): v for k, v in sums.items()}
    assert SCIFACT.url.endswith("/BEIR/datasets/scifact.zip") and SCIFACT.size == 2_816_079


def test_mirror_keeps_the_file_pins_only():
    m = SCIFACT.mirrored("http://127.0.0.1:1/scifact.zip")
    assert m.files == SCIFACT.files and m.sha256 is m.md5 is m.size is None


# -- the CLI and the demo script ------------------------------------------------------------


def _real_scifact_zip() -> bytes:
    """SciFact's real files (checked against the pins), zipped here: a mirror of the archive."""
    return make_zip({rel: (SHARED_SCIFACT / rel).read_bytes() for rel in SCIFACT.files})


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["QDRANT_TOKENPOOL_CACHE"] = str(tmp_path / "cache")
    env["VIRTUAL_ENV"] = sys.prefix
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("SCIFACT_URL", None)
    return env


def _cli(*args: str, env: dict[str, str]) -> Any:
    cache = {"QDRANT_TOKENPOOL_CACHE": env["QDRANT_TOKENPOOL_CACHE"]}
    return CliRunner().invoke(app, list(args), env=cache)


def test_cli_download_from_a_mirror_then_cached(server: Server, tmp_path: Path):
    server.files["scifact"] = _real_scifact_zip()
    env = _env(tmp_path)
    got = _cli("download", "scifact", "--from", server.url("scifact.zip"), "-q", env=env)
    assert got.exit_code == 0, got.output
    folder = Path(got.stdout.strip())
    assert folder == tmp_path / "cache" / "datasets" / "scifact"
    assert len(load_beir(folder).query_ids) == 300
    again = _cli("download", "--from", server.url("status/500"), env=env)  # cached: no request
    assert again.exit_code == 0 and Path(again.stdout.strip()) == folder
    assert server.requests == ["/scifact.zip"]


def test_cli_download_failure_is_one_error_line(server: Server, tmp_path: Path):
    got = _cli("download", "--from", server.url("status/404"), env=_env(tmp_path))
    assert got.exit_code == 1 and got.stdout == ""
    assert got.stderr.startswith("error: ") and "HTTP 404" in got.stderr
    assert got.stderr.count("\n") == 1 and cache_is_empty(tmp_path / "cache")
    unknown = _cli("download", "msmarco", env=_env(tmp_path))
    assert unknown.exit_code == 2 and "unknown data set 'msmarco'" in unknown.stderr


def _demo_data(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**env, "SKIP_SETUP": "1", "DEMO_DATA_ONLY": "1"}
    return subprocess.run(
        ["bash", str(repo / "scripts" / "demo.sh"), *args],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )


def test_demo_uses_the_shared_copy_and_downloads_nothing(server: Server, tmp_path: Path):
    env = {**_env(tmp_path), "SCIFACT_URL": server.url("scifact.zip")}
    got = _demo_data(ROOT, env)
    assert got.returncode == 0, got.stderr
    assert Path(ROOT, got.stdout.strip()).resolve() == SHARED_SCIFACT.resolve()
    assert server.requests == [] and cache_is_empty(tmp_path / "cache")


def test_demo_in_a_lone_clone_downloads_scifact(server: Server, tmp_path: Path):
    clone = tmp_path / "clone"  # no ../shared beside it
    shutil.copytree(ROOT / "scripts", clone / "scripts")
    server.files["scifact"] = _real_scifact_zip()
    env = {**_env(tmp_path), "SCIFACT_URL": server.url("scifact.zip")}
    got = _demo_data(clone, env)
    assert got.returncode == 0, got.stderr
    assert Path(got.stdout.strip()) == tmp_path / "cache" / "datasets" / "scifact"
    assert server.requests == ["/scifact.zip"]
    # a failed download stops the demo with the CLI's error, before anything else runs
    shutil.rmtree(tmp_path / "cache")
    failed = _demo_data(clone, {**env, "SCIFACT_URL": server.url("status/503")})
    assert failed.returncode == 1 and "HTTP 503" in failed.stderr and failed.stdout == ""
    # a folder given on the command line that is not SciFact is an error, no download
    bad = _demo_data(clone, env, str(tmp_path / "nowhere"))
    assert bad.returncode == 1 and "no BEIR SciFact folder" in bad.stderr
    assert server.requests == ["/scifact.zip", "/status/503"]
