"""One BLAS thread for the small matrix products of pooling.

OpenBLAS (numpy's and scipy's wheels) runs even a ``255 x 128 @ 128 x 255`` product on all
cores, where threads cost more than they give. :func:`single_blas_thread` sets it to one
thread during a pooling call (process-wide); without OpenBLAS on Linux it does nothing.
"""

from __future__ import annotations

import ctypes
import itertools
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["SharedHold", "single_blas_thread"]

_Getter = Callable[[], int]
_Setter = Callable[[int], None]

_libs: list[tuple[_Getter, _Setter]] | None = None


class SharedHold:
    """A process-wide change held while any ``with`` block of it runs: the first block in
    makes it (``apply()`` returns what it replaced), the last one out undoes it
    (``undo(replaced)``); nested and concurrent blocks share one count."""

    def __init__(self, apply: Callable[[], Any], undo: Callable[[Any], None]) -> None:
        self._apply, self._undo = apply, undo
        self._lock = threading.Lock()
        self._depth = 0
        self._replaced: Any = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._replaced = self._apply()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    self._undo(self._replaced)


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
        for prefix, suffix in itertools.product(("scipy_", ""), ("64_", "_64_", "")):
            get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
            set_ = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                found.append((get, set_))
                break
    return found


def _one_thread() -> list[int]:
    """Every OpenBLAS of the process on one thread; returns their thread counts before."""
    global _libs
    if _libs is None:
        # the compiled kernels load scipy (and its OpenBLAS, the one they run on) on first
        # use: load it before the scan, or it would never be limited
        from . import kernels

        kernels.load_blas()
        _libs = _find_openblas()
    before = [get() for get, _ in _libs]
    for _, set_ in _libs:
        set_(1)
    return before


def _restore(before: list[int]) -> None:
    for (_, set_), n in zip(_libs or [], before):
        set_(n)


single_blas_thread = SharedHold(_one_thread, _restore)
"""``with single_blas_thread():`` runs the block with OpenBLAS on one thread."""
