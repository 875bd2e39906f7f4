"""``python -m qdrant_tokenpool.eval``: runs the CLI's ``qdrant-tokenpool eval`` command
(the same options and output), e.g.
``python -m qdrant_tokenpool.eval ../shared/data/scifact --pool-factors 1,2,3,4,6,8``.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from ..cli import app

    args = sys.argv[1:] if argv is None else list(argv)
    try:
        app(["eval", *args], prog_name="python -m qdrant_tokenpool.eval")
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
