"""torch MaxSim: ``PackedDocs(device=...)`` against a padded einsum + mask + max baseline.

The baseline is what most code does on a GPU: pad every document to the longest one,
``(docs, max_len, d)``, one ``einsum`` with the query, mask the padding to ``-inf``, max
over the document tokens, sum over the query tokens. Ours groups documents by length
into buckets kept on the device (padding repeats a document's last token: no mask) and
accumulates the scores on the device (see ``qdrant_tokenpool/maxsim.py``).

Both run on the same device in the same process, on the same synthetic corpus (unit
token vectors, lengths uniform in ``[--min-len, --max-len]``); the table gives median
milliseconds for one query and per query for a batch, the ratio baseline / ours, and
the largest absolute difference of each to numpy's scores (exactness, on a sample of
documents). The issue's GPU shape is the default on CUDA: 100,000 documents x ~128
tokens x 128 d, 32-token queries. On a CPU it runs a smaller corpus by default
(``--docs``), and the ratio there says little about a GPU.

Run: ``python benchmarks/gpu_maxsim.py`` (``--device cuda``; ``--docs 100000``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

import numpy as np

from qdrant_tokenpool.maxsim import PackedDocs, maxsim_batch


def make(n_docs: int, min_len: int, max_len: int, dim: int, n_q: int, q_len: int,
         seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, n_docs)
    tokens = rng.standard_normal((int(lengths.sum()), dim), dtype=np.float32)
    tokens /= np.linalg.norm(tokens, axis=1, keepdims=True)
    q = rng.standard_normal((n_q, q_len, dim), dtype=np.float32)
    q /= np.linalg.norm(q, axis=2, keepdims=True)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return tokens, offsets, q


class Padded:
    """The baseline: ``(docs, max_len, d)`` zero-padded tensor and a boolean mask."""

    def __init__(self, tokens: np.ndarray, offsets: np.ndarray, device: str) -> None:
        import torch

        lengths = np.diff(offsets)
        n, width, d = len(lengths), int(lengths.max()), tokens.shape[1]
        pad = np.zeros((n, width, d), np.float32)
        mask = np.arange(width)[None, :] < lengths[:, None]
        pad[mask] = tokens
        self.docs = torch.from_numpy(pad).to(device)
        self.mask = torch.from_numpy(mask).to(device)
        self.device = device

    def scores(self, q: Any) -> Any:
        import torch

        sim = torch.einsum("qd,ntd->nqt", q, self.docs)  # (docs, q, max_len)
        sim = sim.masked_fill(~self.mask[:, None, :], float("-inf"))
        return sim.amax(dim=2).sum(dim=1)

    def scores_batch(self, qs: Any) -> Any:
        return [self.scores(q) for q in qs]


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Any, device: str, repeats: int) -> float:
    fn()  # warm-up
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--docs", type=int, default=None, help="default: 100,000 on CUDA, 5,000 on CPU")
    ap.add_argument("--min-len", type=int, default=64)
    ap.add_argument("--max-len", type=int, default=192)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--q-len", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args(argv)
    dev = a.device
    n_docs = a.docs or (100_000 if dev.startswith("cuda") else 5_000)
    torch.backends.cuda.matmul.allow_tf32 = False  # exact float32 on both sides
    tokens, offsets, qs_np = make(n_docs, a.min_len, a.max_len, a.dim, a.batch, a.q_len)
    t0 = time.perf_counter()
    ours = PackedDocs(tokens, offsets=offsets, device=dev)
    sync(dev)
    build_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = Padded(tokens, offsets, dev)
    sync(dev)
    build_base = time.perf_counter() - t0
    q0 = qs_np[0]
    q0_t = torch.from_numpy(q0).to(dev)
    qs_t = torch.from_numpy(qs_np).to(dev)

    # exactness against numpy on a sample of documents
    sample = np.arange(0, n_docs, max(1, n_docs // 2000))
    sub_off = offsets[sample]
    want = maxsim_batch([q0], [tokens[o : o + (offsets[i + 1] - o)] for i, o in zip(sample, sub_off)])[0]
    got_ours = ours.scores(q0)[sample]
    got_base = base.scores(q0_t).cpu().numpy()[sample]
    err_ours = float(np.abs(got_ours - want).max())
    err_base = float(np.abs(got_base - want).max())

    one_ours = timed(lambda: ours.scores(q0), dev, a.repeats)
    one_base = timed(lambda: base.scores(q0_t).cpu(), dev, a.repeats)
    batch_ours = timed(lambda: ours.scores_batch(qs_np), dev, max(1, a.repeats // 2)) / a.batch
    batch_base = timed(lambda: [s.cpu() for s in base.scores_batch(qs_t)], dev,
                       max(1, a.repeats // 2)) / a.batch

    load = os.getloadavg()
    name = torch.cuda.get_device_name(0) if dev.startswith("cuda") else f"CPU ({os.cpu_count()} cores)"
    print(f"device {dev}: {name}; torch {torch.__version__}; {n_docs:,} documents x "
          f"{a.min_len}-{a.max_len} tokens ({int(offsets[-1]):,} token vectors) x {a.dim} d; "
          f"{a.q_len}-token queries; batch {a.batch}; median of {a.repeats}; "
          f"buckets {len(ours._buckets)}; load average " + ", ".join(f"{x:.2f}" for x in load))
    print()
    print("| path | padded baseline ms | PackedDocs ms | baseline / ours | max abs diff vs numpy (baseline, ours) |")
    print("|---|---:|---:|---:|---|")
    print(f"| one query | {one_base:.2f} | {one_ours:.2f} | {one_base / one_ours:.2f}x | "
          f"{err_base:.1e}, {err_ours:.1e} |")
    print(f"| batch of {a.batch}, per query | {batch_base:.2f} | {batch_ours:.2f} | "
          f"{batch_base / batch_ours:.2f}x | |")
    print(f"| build (s) | {build_base:.2f} | {build_ours:.2f} | | |")
    ok = err_ours <= 1e-5
    if not ok:
        print(f"NOT EXACT: ours differs from numpy by {err_ours:.2e}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
