#!/usr/bin/env bash
# Install qdrant-tokenpool and everything its tests, benchmarks and demo need into the
# active Python environment. torch goes first, pinned, so that no CUDA build is pulled.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[all]"
