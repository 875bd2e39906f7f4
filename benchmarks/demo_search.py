"""The README's main job as a user meets it: ``qdrant-tokenpool search "..."`` on the demo's
SciFact database, wall time and peak memory (RSS) of the whole command, per engine.

Each run is a fresh process (the CLI as typed: open the database, load the encoder,
encode the query, search, print), timed from start to exit, with its peak RSS from
``os.wait4``. Give the demo's database on Qdrant Edge (``scripts/demo.sh`` builds it) and,
for the comparison, the same collection in a qdrant-client local-mode folder
(``qdrant-tokenpool copy-db EDGE_DB LOCAL_DB --engine local``). Prints a Markdown table
with the ratios against local mode measured in the same run, and the machine's load.

Run: ``python benchmarks/demo_search.py --edge ./qdrant_data --local ./qdrant_local``
(``--runs 3``; ``--local`` may be left out).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

QUERY = "Vitamin D deficiency is associated with a higher risk of cancer."


def run_once(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS GiB, exit code) of one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if proc.stderr is not None:
        err = proc.stderr.read().decode(errors="replace").strip().splitlines()
        proc.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            print("\n".join(err[-5:]), file=sys.stderr)
    return wall, usage.ru_maxrss / 2**20, os.waitstatus_to_exitcode(status)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--edge", required=True, help="the demo's database folder on Qdrant Edge")
    ap.add_argument("--local", help="the same collection in a local-mode folder")
    ap.add_argument("--collection", default="scifact")
    ap.add_argument("--query", default=QUERY)
    ap.add_argument("--model", default=None, help="--model for the CLI (default: its own)")
    ap.add_argument("--runs", type=int, default=3, help="runs per engine (Edge); local mode runs once")
    ap.add_argument("--local-runs", type=int, default=1)
    args = ap.parse_args(argv)
    exe = shutil.which("qdrant-tokenpool") or "qdrant-tokenpool"
    base = [exe, "search", args.query, "-c", args.collection, "-q"]
    if args.model:
        base += ["--model", args.model]
    cases = [("Qdrant Edge", args.edge, "edge", args.runs)]
    if args.local:
        cases.append(("qdrant-client local mode", args.local, "local", args.local_runs))
    rows = []
    for label, path, engine, runs in cases:
        walls, rsss = [], []
        for _ in range(runs):
            wall, rss, code = run_once([*base, "--path", path, "--engine", engine])
            if code != 0:
                print(f"{label}: exit code {code}", file=sys.stderr)
                return 1
            walls.append(wall)
            rsss.append(rss)
            print(f"# {label}: {wall:.1f} s, peak RSS {rss:.2f} GiB ({load()})", file=sys.stderr)
        rows.append((label, runs, statistics.median(walls), max(walls), max(rsss)))
    ref = rows[-1] if args.local else None
    print(f"`qdrant-tokenpool search` on the demo's SciFact database ({load()} at the end)\n")
    print("| engine | runs | wall s (median) | wall s (max) | peak RSS GiB | wall vs local | RSS vs local |")
    print("|---|---|---|---|---|---|---|")
    for label, runs, med, mx, rss in rows:
        vs_wall = f"{ref[2] / med:.1f}x faster" if ref and ref[0] != label else "-"
        vs_rss = f"{ref[4] / rss:.1f}x less" if ref and ref[0] != label else "-"
        print(f"| {label} | {runs} | {med:.1f} | {mx:.1f} | {rss:.2f} | {vs_wall} | {vs_rss} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
