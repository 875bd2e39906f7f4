#!/usr/bin/env bash
# Set everything up, then run the unit and integration tests (embedded Qdrant always; the
# container where a Docker engine is present; any server named by QDRANT_URL).
# Then the strict documentation build (mkdocs), ruff and mypy. Fails on any failure, and
# when pytest collects no tests (exit code 5).
#
#   bash scripts/test.sh [PYTEST_ARGS...]
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. scripts/_venv.sh
bash scripts/setup.sh || exit 1
python -m pytest tests integration_tests "$@"
rc=$?
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
[ "$rc" -eq 0 ] || exit "$rc"
# The documentation site, strict: a broken link, a link outside docs/ or a docstring the
# API reference cannot render fails the run (the docs extra, installed by setup.sh).
site_dir=$(mktemp -d)
mkdocs build --strict --quiet --site-dir "$site_dir" || exit 1
rm -rf "$site_dir"
# Static checks (versions pinned in the test extra); lint-imports: the layers contract of
# pyproject.toml (imports point down, the numerics never import qdrant_client).
ruff check qdrant_tokenpool tests integration_tests benchmarks tools || exit 1
mypy qdrant_tokenpool || exit 1
lint-imports || exit 1
