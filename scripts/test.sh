#!/usr/bin/env bash
# Set up, then run the unit and integration tests. Fails on any failure, and on "no tests".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
python -m pytest tests integration_tests "$@"
rc=$?
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
exit "$rc"
