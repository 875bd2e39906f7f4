"""Backends for the integration suite: one suite, every Qdrant that is available.

Fixtures (all tests that take one of them run once per backend):

- ``backend``: a :class:`Backend` (session scope), parametrized over
  ``"embedded"`` (qdrant-client local mode, always), ``"edge"`` (Qdrant Edge in process,
  ``engine="edge"``: always where ``qdrant-edge-py`` installs, which CI's setup does),
  ``"docker"`` (the container of
  ``docker/docker-compose.yml`` through pytest-docker, when a Docker engine answers
  ``docker info``) and ``"url"`` (any server named by the ``QDRANT_URL`` environment
  variable). Unavailable backends are skipped with a reason that says how to run them.
- ``client``: a sync :class:`TokenPoolingClient` on the backend (``":memory:"`` for the
  embedded backend: a fresh database per test).
- ``async_client``: an :class:`AsyncTokenPoolingClient` on the same kind of backend
  (embedded: its own ``":memory:"`` database; remote: the same server).
- ``collection_name``: a unique collection name; the collection is deleted after the test.
- ``reopen`` / ``reopen_async``: callables that open a *new* client on persistent storage
  of the backend (embedded: ``path=`` in a temp dir; remote: the same server). Use them for
  "survives a new client / a reopen" tests. Embedded engines lock their folder: close
  the previous client before opening the next one on the same path.

Run against a server without Docker here:
``docker compose -f docker/docker-compose.yml up -d`` on a machine with Docker, then
``QDRANT_URL=http://localhost:6333 python -m pytest integration_tests``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from qdrant_tokenpool import AsyncTokenPoolingClient, TokenPoolingClient

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker" / "docker-compose.yml"

HOW_TO_DOCKER = (
    "needs a Docker engine (`docker info` must succeed) to start "
    "docker/docker-compose.yml via pytest-docker; or start Qdrant yourself "
    "(`docker compose -f docker/docker-compose.yml up -d`) and set QDRANT_URL"
)
HOW_TO_EDGE = (
    "needs qdrant-edge-py (pip install 'qdrant-edge-py>=0.9,<0.10'; scripts/setup.sh "
    "installs it where a wheel exists)"
)
HOW_TO_URL = (
    "set QDRANT_URL (e.g. QDRANT_URL=http://localhost:6333, and QDRANT_API_KEY if needed) "
    "to run the suite against a running Qdrant server (>= 1.16)"
)


@dataclass(frozen=True)
class Backend:
    """Where the clients of a test connect. ``url`` is ``None`` for the embedded backend."""

    kind: str
    url: str | None = None
    api_key: str | None = None
    engine: str | None = None  # embedded engine: None (local mode, no engine=) or "edge"

    @property
    def remote(self) -> bool:
        return self.url is not None

    @property
    def streams_uploads(self) -> bool:
        """Uploads are written batch by batch (a server, Qdrant Edge); qdrant-client's
        local mode collects a whole upload before writing any of it."""
        return self.remote or self.engine == "edge"

    def _kwargs(self, path: Path | None) -> dict:
        if self.url is not None:
            return {"url": self.url, "api_key": self.api_key, "timeout": 60}
        engine = {} if self.engine is None else {"engine": self.engine}
        if path is not None:
            return {"path": str(path), **engine}
        return {"location": ":memory:", **engine}

    def sync(self, path: Path | None = None) -> TokenPoolingClient:
        """A new sync client (embedded: ``":memory:"``, or ``path=`` when given)."""
        return TokenPoolingClient(**self._kwargs(path))

    def async_(self, path: Path | None = None) -> AsyncTokenPoolingClient:
        """A new async client (embedded: ``":memory:"``, or ``path=`` when given)."""
        return AsyncTokenPoolingClient(**self._kwargs(path))

    def plain(self) -> QdrantClient | None:
        """A plain ``QdrantClient`` on a remote backend (for clean-up); ``None`` when embedded."""
        if self.url is None:
            return None
        return QdrantClient(url=self.url, api_key=self.api_key, timeout=60)


def _docker_engine_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return (
            subprocess.run(
                ["docker", "info"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=20,
                check=False,
            ).returncode
            == 0
        )
    except (OSError, subprocess.SubprocessError):
        return False


def _ready(url: str) -> bool:
    for probe in ("/readyz", "/healthz"):
        try:
            with urllib.request.urlopen(url + probe, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            continue
    return False


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    """pytest-docker: our compose file instead of its default ``tests/docker-compose.yml``."""
    return str(COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"qdrant-tokenpool-it-{os.getpid()}"


@pytest.fixture(scope="session", params=["embedded", "edge", "docker", "url"])
def backend(request: pytest.FixtureRequest) -> Backend:
    kind = request.param
    if kind == "embedded":
        return Backend("embedded")
    if kind == "edge":
        try:
            import qdrant_edge  # noqa: F401
        except ImportError:
            if os.environ.get("CI"):
                raise  # CI installs qdrant-edge-py: a missing engine is a failure there
            pytest.skip(f"edge backend: {HOW_TO_EDGE}")
        return Backend("edge", engine="edge")
    if kind == "url":
        url = os.environ.get("QDRANT_URL")
        if not url:
            pytest.skip(f"url backend: {HOW_TO_URL}")
        return Backend("url", url.rstrip("/"), os.environ.get("QDRANT_API_KEY"))
    # docker: check for an engine first; pytest-docker itself never skips.
    if not _docker_engine_available():
        pytest.skip(f"docker backend: {HOW_TO_DOCKER}")
    services = request.getfixturevalue("docker_services")
    ip = request.getfixturevalue("docker_ip")
    url = f"http://{ip}:{services.port_for('qdrant', 6333)}"
    services.wait_until_responsive(check=lambda: _ready(url), timeout=120.0, pause=0.5)
    return Backend("docker", url)


@pytest.fixture
def client(backend: Backend) -> Iterator[TokenPoolingClient]:
    c = backend.sync()
    yield c
    c.close()


@pytest.fixture
async def async_client(backend: Backend) -> AsyncIterator[AsyncTokenPoolingClient]:
    """Needs an async test marked ``@pytest.mark.anyio`` (anyio's pytest plugin)."""
    c = backend.async_()
    yield c
    await c.close()


@pytest.fixture
def collection_name(backend: Backend) -> Iterator[str]:
    name = f"it_{uuid.uuid4().hex[:12]}"
    yield name
    plain = backend.plain()
    if plain is not None:  # embedded databases vanish with their client / temp dir
        try:
            plain.delete_collection(name)
        finally:
            plain.close()


@pytest.fixture
def reopen(backend: Backend, tmp_path: Path) -> Callable[[], TokenPoolingClient]:
    """Open a new sync client on the backend's persistent storage (embedded: ``path=``)."""
    path = None if backend.remote else tmp_path / "qdrant"
    return lambda: backend.sync(path)


@pytest.fixture
def reopen_async(backend: Backend, tmp_path: Path) -> Callable[[], AsyncTokenPoolingClient]:
    """Async twin of :func:`reopen` (same storage as ``reopen`` in the same test)."""
    path = None if backend.remote else tmp_path / "qdrant"
    return lambda: backend.async_(path)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests run with anyio's pytest plugin (mark them ``@pytest.mark.anyio``) on asyncio."""
    return "asyncio"
