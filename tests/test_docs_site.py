"""The documentation site builds with ``mkdocs build --strict`` and its API reference is complete.

The reference page (``docs/reference.md``) renders the package with mkdocstrings, driven by
``qdrant_tokenpool.__all__``: a name added there must appear on the page with no edit to it,
and nothing outside ``__all__`` may be listed at the top level. A strict build fails on any
broken link, a link outside ``docs/`` or a missing included file.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import qdrant_tokenpool

ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL_ANCHOR = re.compile(r'id="qdrant_tokenpool\.([A-Za-z_][A-Za-z0-9_]*)"')


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,  # pymdownx.snippets reads included files relative to the repository root
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def test_strict_build_makes_every_nav_page(site: Path):
    for page in ("index.html", "reference/index.html", "benchmarks-method/index.html"):
        assert (site / page).is_file(), page
    # the benchmark method page is benchmarks/README.md itself, not a copy
    readme = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    titles = re.findall(r"^## (.+)$", readme, re.MULTILINE)
    headings = [re.split(r"[`(]", t)[0].strip() for t in titles]
    method = (site / "benchmarks-method" / "index.html").read_text(encoding="utf-8")
    assert headings and all(h in method for h in headings)

def test_reference_documents_exactly_the_public_api(site: Path):
    html = (site / "reference" / "index.html").read_text(encoding="utf-8")
    documented = set(TOP_LEVEL_ANCHOR.findall(html))
    public = set(qdrant_tokenpool.__all__)
    missing = sorted(public - documented)
    extra = sorted(documented - public)
    assert not missing, f"public names missing from the API reference: {missing}"
    assert not extra, f"names outside __all__ in the API reference: {extra}"


def test_reference_shows_docstrings(site: Path):
    html = (site / "reference" / "index.html").read_text(encoding="utf-8")
    # the first line of a class's docstring and a client method of ours (not inherited)
    first_line = (qdrant_tokenpool.PoolingConfig.__doc__ or "").strip().splitlines()[0]
    assert first_line and first_line in html
    assert 'id="qdrant_tokenpool.TokenPoolingClient.upsert"' in html
    assert 'id="qdrant_tokenpool.TokenPoolingClient.scroll"' not in html  # inherited
