"""Every Python snippet in README.md and docs/*.md runs, in order, one namespace per page.

A page's snippets share a namespace (a later snippet may use what an earlier one made) and
run in a temporary working directory. A snippet that should fail to run is a doc bug.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def snippets(page: Path) -> list[str]:
    return FENCE.findall(page.read_text(encoding="utf-8"))


PAGES_WITH_CODE = [p for p in PAGES if snippets(p)]


def test_docs_have_snippets():
    # guards the collector itself: the README's quickstart must be found
    assert ROOT / "README.md" in PAGES_WITH_CODE


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_snippets_run(page: Path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__doc_snippet__"}
    for i, code in enumerate(snippets(page)):
        try:
            code_obj = compile(code, f"{page.name}[snippet {i}]", "exec")
            exec(code_obj, namespace)  # noqa: S102 - runs the docs' own snippets
        except Exception as exc:  # pragma: no cover - the failure message is the point
            raise AssertionError(f"{page.name} snippet {i} failed: {exc!r}\n{code}") from exc
