"""One BLAS thread for the small matrix products of pooling.

OpenBLAS (numpy's and scipy's wheels) runs even a ``255 x 128 @ 128 x 255`` product on
all cores, where threads cost more than they give. :func:`single_blas_thread` sets it to
one thread during a pooling call (process-wide: other threads' BLAS calls too; nested and
concurrent calls share one count, the first sets, the last restores). Without OpenBLAS
(MKL, Accelerate, another OS) it does nothing.
"""

from __future__ import annotations

import ctypes
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["single_blas_thread"]

_Getter = Callable[[], int]
_Setter = Callable[[int], None]

_lock = threading.Lock()
_depth = 0
_saved: list[int] = []
_libs: list[tuple[_Getter, _Setter]] | None = None


def _find_openblas() -> list[tuple[_Getter, _Setter]]:
    """(get_num_threads, set_num_threads) of each OpenBLAS loaded in this process."""
    if not sys.platform.startswith("linux"):
        return []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", f.read())))
    except OSError:
        return []
    found = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        pair = None
        for prefix in ("scipy_", ""):
            for suffix in ("64_", "_64_", ""):
                get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                set_ = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    get.restype, get.argtypes = ctypes.c_int, []
                    set_.restype, set_.argtypes = None, [ctypes.c_int]
                    pair = (get, set_)
                    break
            if pair:
                break
        if pair:
            found.append(pair)
    return found


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """Run the ``with`` block with OpenBLAS on one thread; restore the setting after."""
    global _depth, _saved, _libs
    with _lock:
        if _libs is None:
            # the compiled kernels load scipy (and its OpenBLAS, the one they run on)
            # on first use: load it before the scan, or it would never be limited
            from . import kernels

            kernels.load_blas()
            _libs = _find_openblas()
        if _depth == 0:
            _saved = []
            for get, set_ in _libs:
                _saved.append(get())
                set_(1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for (_, set_), n in zip(_libs, _saved):
                    set_(n)
