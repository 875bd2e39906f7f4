#!/usr/bin/env bash
# The main job: set everything up, index BEIR SciFact with pooled token vectors (pool
# factor 2) into an embedded Qdrant, and print the footprint, nDCG@10 on the 300 test
# queries, and a sample search.
#
#   bash scripts/demo.sh [SCIFACT_DIR]
#
# With no SCIFACT_DIR: ../shared/data/scifact beside the repository when it exists, else
# BEIR SciFact downloaded once from its public address (2.8 MB; size and digests checked,
# cached in ~/.cache/qdrant-tokenpool/datasets/scifact; `qdrant-tokenpool download --help`).
# SCIFACT_URL=URL downloads from a mirror instead; DEMO_DATA_ONLY=1 stops after printing
# the data folder.
#
# Uses the active virtualenv, else creates and uses ./.venv. Set SKIP_SETUP=1 to skip the
# install step. The database goes to ./qdrant_data (collection "scifact"); a second run
# resumes (nothing left to index) and only re-prints the results. Time and memory, fresh
# and resumed: see "Time and memory" in README.md (most of a fresh run is encoding the
# 5,183 documents).
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${1:-}"
DB="${DEMO_DB:-./qdrant_data}"
COLLECTION="${DEMO_COLLECTION:-scifact}"

if [ -n "$DATA" ] && [ ! -f "$DATA/corpus.jsonl" ]; then
    echo "error: no BEIR SciFact folder at $DATA (expected corpus.jsonl, queries.jsonl," \
         "qrels/test.tsv); pass its path, or none to use or download SciFact" >&2
    exit 1
fi

# shellcheck disable=SC1091
. scripts/_venv.sh
if [ -z "${SKIP_SETUP:-}" ]; then
    echo "== setup (torch==2.13.0, then pip install -e .[all])"
    bash scripts/setup.sh
fi
if [ -z "$DATA" ]; then
    DATA=$(qdrant-tokenpool download scifact --prefer ../shared/data/scifact \
           ${SCIFACT_URL:+--from "$SCIFACT_URL"})
fi
if [ -n "${DEMO_DATA_ONLY:-}" ]; then
    echo "$DATA"
    exit 0
fi

start=$(date +%s)
# One process for index, stats, eval and search (`qdrant-tokenpool demo --help`): the
# database is opened once (qdrant-client's local mode, --engine local, reloads a whole
# collection on every open; Qdrant Edge, the default, opens in a fraction of a second).
# The same steps as separate commands:
#   qdrant-tokenpool index "$DATA" -c "$COLLECTION" --pool-factor 2 --path "$DB"
#   qdrant-tokenpool stats -c "$COLLECTION" --path "$DB"
#   qdrant-tokenpool eval "$DATA" -c "$COLLECTION" --path "$DB"
#   qdrant-tokenpool search "..." -c "$COLLECTION" --top-k 5 --path "$DB"
qdrant-tokenpool demo "$DATA" --collection "$COLLECTION" --pool-factor 2 --path "$DB"

echo
echo "done in $(( $(date +%s) - start )) s (after setup). Try your own query:"
echo "  qdrant-tokenpool search \"your question\" --collection $COLLECTION --path $DB"
