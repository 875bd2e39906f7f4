"""qdrant-tokenpool command line (work in progress: commands arrive with the encoder issue)."""

from __future__ import annotations

import sys


def main() -> None:
    print("qdrant-tokenpool: the command line is not implemented yet (stub).", file=sys.stderr)
    raise SystemExit(2)
