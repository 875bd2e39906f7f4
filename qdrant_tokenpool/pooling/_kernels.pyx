# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled pooling kernels: exact Ward pooling, cluster sums, MaxSim, and nested lists of
floats read into float32 (an optional extension: where it is missing, the pooling modules
fall back to numpy and scipy with the same partitions). The Gram matrix comes from scipy's
BLAS (``scipy.linalg.cython_blas``, looked up on the first clustering), so building needs
no BLAS.

:func:`ward_pool` on ``n`` unprotected tokens, into ``k``: rows to unit length (norms in
float64, rows rounded to float32 as the fallback does); the Ward cut of ``_ward.h`` (the
Gram matrix in float32 where that provably takes float64's decisions, a nearest-neighbour
chain as scipy's ``nn_chain``, the ``n - k`` lowest merges as unions, clusters numbered by
first token); float32 sums per cluster in row order, re-normalised.
"""

from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE,
                             PyBuffer_Release, PyObject_GetBuffer)
from cpython.object cimport PyObject
from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer
from libc.math cimport INFINITY, fabs, sqrt
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc

from time import perf_counter

import numpy as np

cdef extern from "_ward.h":
    ctypedef void (*tp_dsyrk_t)(char *uplo, char *trans, int *n, int *k, double *alpha,
                                double *a, int *lda, double *beta, double *c,
                                int *ldc) noexcept nogil
    ctypedef void (*tp_ssyrk_t)(char *uplo, char *trans, int *n, int *k, float *alpha,
                                float *a, int *lda, float *beta, float *c,
                                int *ldc) noexcept nogil
    ctypedef struct tp_stats:
        long float32_docs
        long near_ties
        long float64_docs
    Py_ssize_t tp_work_doubles(Py_ssize_t n, Py_ssize_t d) noexcept nogil
    double tp_sum_squares(const float *v, Py_ssize_t d) noexcept nogil
    Py_ssize_t tp_first_bad_row(const float *x, Py_ssize_t n, Py_ssize_t d,
                                int allow_zero) noexcept nogil
    int tp_unit_rows(const float *x, Py_ssize_t n, Py_ssize_t d, float *u32) noexcept nogil
    void tp_sum_clusters(const float *u, const Py_ssize_t *labels, Py_ssize_t n, Py_ssize_t d,
                         Py_ssize_t k, float *out, Py_ssize_t *firsts) noexcept nogil
    ctypedef struct tp_merge:
        double height
        Py_ssize_t order, x, y
    ctypedef struct tp_cert:
        pass
    Py_ssize_t tp_stride(Py_ssize_t n) noexcept nogil
    void tp_gram32(const float *u, Py_ssize_t n, Py_ssize_t d, float *g, Py_ssize_t s,
                   tp_ssyrk_t ssyrk) noexcept nogil
    int tp_chain(double *d, Py_ssize_t n, Py_ssize_t s, tp_merge *merges, tp_cert *cert,
                 double *rowmin, Py_ssize_t k, double threshold_sq, Py_ssize_t *done,
                 double *future_low) noexcept nogil
    Py_ssize_t tp_ward_cut(const float *u, Py_ssize_t n, Py_ssize_t d, Py_ssize_t k,
                           double threshold_sq, double top_norm2, double *work,
                           Py_ssize_t *labels, int use32, tp_dsyrk_t dsyrk, tp_ssyrk_t ssyrk,
                           tp_stats *stats) noexcept nogil

cdef extern from "_maxsim.h":
    int tp_maxsim_supported() noexcept nogil
    void tp_query_blocks(const float *q, Py_ssize_t T, Py_ssize_t d, float *out) noexcept nogil
    void tp_maxsim(const float *blocks, Py_ssize_t T, const int64_t *qstarts, Py_ssize_t nq,
                   const float *tokens, const int64_t *offsets, Py_ssize_t lo, Py_ssize_t hi,
                   Py_ssize_t d, float *out, Py_ssize_t out_stride, float *maxbuf) noexcept nogil

cdef extern from "Python.h":
    bint PyList_CheckExact(object o)
    bint PyTuple_CheckExact(object o)
    bint PyFloat_CheckExact "PyFloat_CheckExact" (PyObject *o)
    bint PyLong_CheckExact "PyLong_CheckExact" (PyObject *o)
    double PyFloat_AS_DOUBLE "PyFloat_AS_DOUBLE" (PyObject *o)
    long long PyLong_AsLongLongAndOverflow(PyObject *o, int *overflow) except? -1
    PyObject **PySequence_Fast_ITEMS(object o)
    Py_ssize_t PySequence_Fast_GET_SIZE(object o)

cdef tp_dsyrk_t _dsyrk = NULL
cdef tp_ssyrk_t _ssyrk = NULL
cdef int _use32 = 1
cdef tp_stats _totals


cdef int _load_blas() except -1:
    """Look up scipy's ``dsyrk`` and ``ssyrk`` once, on first use (importing scipy.linalg
    is slow)."""
    global _dsyrk, _ssyrk
    if _dsyrk != NULL:
        return 0
    from scipy.linalg import cython_blas

    capsule = cython_blas.__pyx_capi__["ssyrk"]
    _ssyrk = <tp_ssyrk_t> PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule))
    capsule = cython_blas.__pyx_capi__["dsyrk"]
    _dsyrk = <tp_dsyrk_t> PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule))
    return 0


def load_blas():
    """Look up scipy's ``ssyrk``/``dsyrk`` now (else on the first clustering), loading the
    OpenBLAS that ``_blas.single_blas_thread`` keeps on one thread."""
    _load_blas()


def set_float32_gram(bint enabled):
    """Whether the Ward cut may use the float32 Gram matrix (where it provably takes the
    float64 decisions; default on). Off: always the float64 one. Returns the old setting."""
    global _use32
    old = bool(_use32)
    _use32 = 1 if enabled else 0
    return old


def gram_stats(bint reset=False):
    """Documents clustered on the float32 and on the float64 Gram matrix, and near ties
    settled on float64 cluster means, since the last ``reset``."""
    global _totals
    out = {
        "float32": _totals.float32_docs,
        "float64": _totals.float64_docs,
        "near_ties": _totals.near_ties,
    }
    if reset:
        _totals.float32_docs = 0
        _totals.float64_docs = 0
        _totals.near_ties = 0
    return out


cdef inline void _add_stats(const tp_stats *s) noexcept:
    """Add one call's counts to the module's (with the GIL: threads call concurrently)."""
    global _totals
    _totals.float32_docs += s.float32_docs
    _totals.float64_docs += s.float64_docs
    _totals.near_ties += s.near_ties


def work_size(Py_ssize_t n, Py_ssize_t d):
    """float64 entries of work memory that :func:`ward_labels`/:func:`ward_pool` need for
    ``n`` rows of dimension ``d`` (distances, Gram matrix, unit rows)."""
    return tp_work_doubles(n, d) + (n * d + 1) // 2


cdef inline Py_ssize_t _work_size(Py_ssize_t n, Py_ssize_t d) noexcept nogil:
    return tp_work_doubles(n, d) + (n * d + 1) // 2


cdef double *_work(double[::1] work, Py_ssize_t n, Py_ssize_t d) except NULL:
    if work.shape[0] < _work_size(n, d):
        raise ValueError(f"work has {work.shape[0]} entries, needs work_size({n}, {d})")
    return &work[0]


cdef double _threshold_sq(object threshold) except? -2.0:
    """The squared cut height for the kernels (-1: no threshold); refuses NaN/inf/< 0."""
    if threshold is None:
        return -1.0
    cdef double t = threshold
    if not (0.0 <= t < INFINITY):
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold!r}")
    return t * t


def ward_labels(const float[:, ::1] u not None, Py_ssize_t k, double[::1] work not None,
                threshold=None):
    """Ward clustering of the unit rows of ``u`` (``(n, d)`` float32) into ``1 <= k <= n``
    clusters, fewer where merges of height ``<= threshold`` (scipy's scale) make fewer.
    ``work``: float64 scratch of ``work_size(n, d)`` entries, reused between calls.
    Returns labels ``(n,)`` (``intp``), ``0..k'-1`` by each cluster's first row.
    """
    cdef Py_ssize_t n = u.shape[0], d = u.shape[1], i
    if n < 1 or d < 1 or not 1 <= k <= n:
        raise ValueError(f"need n >= 1, d >= 1 and 1 <= k <= n, got n={n}, d={d}, k={k}")
    cdef double t_sq = _threshold_sq(threshold)
    cdef double *w = _work(work, n, d)
    out = np.empty(n, dtype=np.intp)
    cdef Py_ssize_t[::1] labels = out
    cdef Py_ssize_t got = 0
    cdef double top = 0.0, norm2
    cdef bint finite = True
    cdef const float *src = &u[0, 0]
    cdef tp_stats stats
    stats.float32_docs = stats.float64_docs = stats.near_ties = 0
    _load_blas()
    with nogil:
        for i in range(n):
            norm2 = tp_sum_squares(src + i * d, d)  # float32 squares cannot overflow it
            if not norm2 < INFINITY:
                finite = False
            elif norm2 > top:
                top = norm2
    if not finite:
        raise ValueError("NaN or infinite value among the rows to cluster")
    with nogil:
        got = tp_ward_cut(src, n, d, k, t_sq, top, w, &labels[0], _use32, _dsyrk, _ssyrk,
                          &stats)
    _add_stats(&stats)
    if got < 0:
        raise MemoryError(f"no memory for the Ward clustering of {n} rows")
    return out


def ward_merges(d2, Py_ssize_t k=1, bint seconds=False):
    """The nearest-neighbour chain of :func:`ward_labels` alone, as scipy's ``nn_chain``, on
    ``(n, n)`` squared distances ``d2`` (diagonal ignored), until the cut at ``k``
    clusters is decided. Returns ``(m, 3)`` float64 rows ``(x, y, squared height)`` in
    chain order (the merged cluster keeps slot ``y``); ``seconds``: ``(merges, seconds of
    the chain alone)``.
    """
    d2 = np.asarray(d2, dtype=np.float64)
    cdef Py_ssize_t n = d2.shape[0] if d2.ndim == 2 else 0, s, i, done = 0
    if n < 2 or d2.shape[1] != n or not 1 <= k <= n:
        raise ValueError(f"need an (n, n) matrix with n >= 2 and 1 <= k <= n, got {d2.shape}, k={k}")
    s = tp_stride(n)
    dist = np.full((n, s), INFINITY)
    dist[:, :n] = d2
    np.fill_diagonal(dist, INFINITY)
    rowmin = np.full(s + 1, INFINITY)  # a row's worth: the chain's bounds pass over rows
    rowmin[:n] = dist.min(axis=1)
    cdef double[:, ::1] dv = dist
    cdef double[::1] rv = rowmin
    cdef double future_low = 0.0
    cdef int status = -1
    cdef tp_merge *m = <tp_merge *> malloc((n + 1) * sizeof(tp_merge))
    if m == NULL:
        raise MemoryError(f"no memory for the Ward chain of {n} rows")
    t0 = perf_counter()
    with nogil:
        status = tp_chain(&dv[0, 0], n, s, m, NULL, &rv[0], k, -1.0, &done, &future_low)
    took = perf_counter() - t0
    if status != 0:
        free(m)
        raise MemoryError(f"no memory for the Ward chain of {n} rows")
    out = np.empty((done, 3), dtype=np.float64)
    for i in range(done):
        out[i, 0] = m[i].x
        out[i, 1] = m[i].y
        out[i, 2] = m[i].height
    free(m)
    return (out, took) if seconds else out


def gram32(const float[:, ::1] u not None, bint seconds=False):
    """The float32 Gram matrix ``U U^T`` of the rows of ``u`` (``(n, d)``) as the Ward cut
    computes it (a block FMA product where ``d`` is a multiple of 8 on AVX2, else
    ``ssyrk``): ``(n, n)``, zeros above the diagonal; ``seconds``: ``(matrix, seconds)``."""
    cdef Py_ssize_t n = u.shape[0], d = u.shape[1], s
    if n < 1 or d < 1:
        raise ValueError(f"need n >= 1 and d >= 1, got n={n}, d={d}")
    s = tp_stride(n)
    _load_blas()
    buf = np.zeros((n, s), dtype=np.float32)
    cdef float[:, ::1] g = buf
    t0 = perf_counter()
    with nogil:
        tp_gram32(&u[0, 0], n, d, &g[0, 0], s, _ssyrk)
    took = perf_counter() - t0
    out = np.tril(buf[:, :n])
    return (out, took) if seconds else out


cdef Py_ssize_t _pool_doc(const float *src, Py_ssize_t n_all, Py_ssize_t d, Py_ssize_t protected,
                          Py_ssize_t k, double t_sq, double *work, float *dst,
                          tp_stats *stats) noexcept nogil:
    """One document: ``protected`` rows copied, the others normalised, Ward-cut into at
    most ``k`` clusters and their unit sums written after them into ``dst`` (room for
    ``protected + k`` rows). Returns the number of clusters ``k' <= k``, -1 for a
    zero/NaN/inf row among the unprotected ones, -2 when out of memory."""
    cdef Py_ssize_t n = n_all - protected, i
    cdef float *u32 = <float *> (work + tp_work_doubles(n, d))
    cdef Py_ssize_t *labels = <Py_ssize_t *> malloc((n + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t *firsts = <Py_ssize_t *> malloc((n + 1) * sizeof(Py_ssize_t))
    if labels == NULL or firsts == NULL:
        free(labels); free(firsts)
        return -2
    if tp_unit_rows(src + protected * d, n, d, u32) != 0:
        free(labels); free(firsts)
        return -1
    if k < n or t_sq >= 0.0:
        # unit rows rounded to float32: squared norms <= (1 + 2^-24)^2 (with float64's
        # rounding of the scale, well inside this bound)
        k = tp_ward_cut(u32, n, d, k, t_sq, 1.0 + 1e-6, work, labels, _use32, _dsyrk,
                        _ssyrk, stats)
        if k < 0:
            free(labels); free(firsts)
            return -2
    else:
        for i in range(n):
            labels[i] = i
    for i in range(protected * d):
        dst[i] = src[i]
    tp_sum_clusters(u32, labels, n, d, k, dst + protected * d, firsts)
    free(labels); free(firsts)
    return k


def ward_pool(const float[:, ::1] x not None, Py_ssize_t protected, Py_ssize_t k,
              double[::1] work not None, threshold=None):
    """Hierarchical pooling of one validated ``(n, d)`` float32 document (``ValueError`` for
    a zero or non-finite unprotected row): the ``0 <= protected < n`` rows unchanged, then
    the unit means of at most ``1 <= k <= n - protected`` Ward clusters of the others (as
    :func:`ward_labels`), by first token. ``work``: ``work_size(n - protected, d)``.
    """
    cdef Py_ssize_t n_all = x.shape[0], d = x.shape[1]
    if d < 1 or not 0 <= protected < n_all or not 1 <= k <= n_all - protected:
        raise ValueError(
            f"need d >= 1, 0 <= protected < n and 1 <= k <= n - protected, "
            f"got n={n_all}, d={d}, protected={protected}, k={k}"
        )
    return ward_pool_many([x], [protected], [k], work, threshold)[0]


def ward_pool_many(list xs not None, protected_list not None, k_list not None,
                   double[::1] work not None, threshold=None):
    """:func:`ward_pool` on many float32 C documents (``protected_list``, ``k_list``: per
    document; ``work``: the largest ``work_size``) in one call that holds the GIL only to
    start and to finish; the same bytes, and errors, as :func:`ward_pool` on each.
    """
    cdef Py_ssize_t m = len(xs), j, n_all, d, p, k, got = 0
    cdef double t_sq = _threshold_sq(threshold)
    cdef Py_buffer view
    cdef int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT
    cdef bint ok
    cdef const float **srcs = NULL
    cdef float **dsts = NULL
    cdef Py_ssize_t *dims = NULL
    cdef double *w = NULL
    cdef tp_stats stats
    stats.float32_docs = stats.float64_docs = stats.near_ties = 0
    if len(protected_list) != m or len(k_list) != m:
        raise ValueError("xs, protected_list and k_list must have the same length")
    _load_blas()
    outs = []
    dims = <Py_ssize_t *> malloc((4 * m + 1) * sizeof(Py_ssize_t))
    srcs = <const float **> malloc((m + 1) * sizeof(float *))
    dsts = <float **> malloc((m + 1) * sizeof(float *))
    if dims == NULL or srcs == NULL or dsts == NULL:
        free(dims); free(srcs); free(dsts)
        raise MemoryError("no memory to pool a chunk of documents")
    try:
        for j in range(m):
            # the buffer protocol: a typed memoryview's set-up per document costs more;
            # the pointer stays valid after the release, as xs keeps the array alive
            try:
                PyObject_GetBuffer(xs[j], &view, flags)
            except BufferError as exc:  # not C-contiguous: the memoryview's ValueError
                raise ValueError(f"document {j}: {exc}") from None
            n_all = view.shape[0] if view.ndim == 2 else 0
            d = view.shape[1] if view.ndim == 2 else 0
            srcs[j] = <const float *> view.buf
            ok = view.ndim == 2 and view.itemsize == 4 and view.format != NULL and (
                view.format[0] == b'f' and view.format[1] == 0
                or view.format[0] in b'=<@' and view.format[1] == b'f' and view.format[2] == 0
            )
            PyBuffer_Release(&view)
            if not ok:
                raise ValueError(f"document {j} is not a 2-D C-contiguous float32 array")
            p = protected_list[j]
            k = k_list[j]
            if d < 1 or not 0 <= p < n_all or not 1 <= k <= n_all - p:
                raise ValueError(
                    f"need d >= 1, 0 <= protected < n and 1 <= k <= n - protected, "
                    f"got n={n_all}, d={d}, protected={p}, k={k} (document {j})"
                )
            if work.shape[0] < _work_size(n_all - p, d):
                _work(work, n_all - p, d)  # raises, naming the size
            out = np.empty((p + k, d), dtype=np.float32)
            outs.append(out)
            PyObject_GetBuffer(out, &view, flags | PyBUF_WRITABLE)
            dsts[j] = <float *> view.buf
            PyBuffer_Release(&view)
            dims[4 * j] = n_all
            dims[4 * j + 1] = d
            dims[4 * j + 2] = p
            dims[4 * j + 3] = k
        # the arrays in xs and outs stay alive (referenced) while the pointers are used
        w = &work[0] if m > 0 else NULL
        with nogil:
            for j in range(m):
                got = _pool_doc(srcs[j], dims[4 * j], dims[4 * j + 1], dims[4 * j + 2],
                                dims[4 * j + 3], t_sq, w, dsts[j], &stats)
                if got < 0:
                    break
                dims[4 * j + 3] = got
        _add_stats(&stats)
        if got == -1:
            raise ValueError("zero, NaN or infinite vector among the tokens to pool")
        if got == -2:
            raise MemoryError(f"no memory to pool a document of {dims[4 * j]} tokens")
        for j in range(m):
            if dims[4 * j + 3] < k_list[j]:  # a threshold merged more: fewer rows
                outs[j] = outs[j][: dims[4 * j + 2] + dims[4 * j + 3]].copy()
        return outs
    finally:
        free(dims); free(srcs); free(dsts)


def rows_ok(const float[:, ::1] x not None, bint allow_zero=False):
    """Whether every row of ``x`` (``(n, d)`` float32) is finite and, unless
    ``allow_zero``, not all zeros (float64 sums of squares: no overflow on huge values)."""
    cdef Py_ssize_t bad = -1
    if x.shape[0] and x.shape[1]:
        with nogil:
            bad = tp_first_bad_row(&x[0, 0], x.shape[0], x.shape[1], allow_zero)
    return bad < 0


def maxsim_supported():
    """Whether :func:`maxsim_scores` runs here (x86-64 with AVX2 and FMA)."""
    return bool(tp_maxsim_supported())


def maxsim_query_blocks(const float[:, ::1] q not None):
    """The query tokens ``q`` (``(T, d)`` float32) laid out for :func:`maxsim_scores`:
    blocks of 16 tokens, ``(ceil(T / 16), d, 16)`` float32, zero-padded."""
    cdef Py_ssize_t T = q.shape[0], d = q.shape[1]
    out = np.empty(((T + 15) // 16, d, 16), dtype=np.float32)
    cdef float[:, :, ::1] o = out
    if T > 0 and d > 0:
        with nogil:
            tp_query_blocks(&q[0, 0], T, d, &o[0, 0, 0])
    return out


def maxsim_scores(const float[:, :, ::1] blocks not None, Py_ssize_t T,
                  const int64_t[::1] qstarts not None, const float[:, ::1] tokens not None,
                  const int64_t[::1] offsets not None, Py_ssize_t lo, Py_ssize_t hi,
                  float[:, ::1] out not None):
    """MaxSim of queries against documents ``lo .. hi - 1`` into ``out[:, lo:hi]``
    (``(n_queries, >= hi)`` float32), the GIL released. ``blocks``: the queries'
    :func:`maxsim_query_blocks` back to back, ``qstarts`` their ``(n_queries + 1,)`` token
    offsets; ``tokens`` ``(N, d)`` and ``offsets`` ``(n_docs + 1,)``: the documents (each
    at least one token). Needs :func:`maxsim_supported`.
    """
    cdef Py_ssize_t nq = qstarts.shape[0] - 1, d = tokens.shape[1], nb = blocks.shape[0]
    if not tp_maxsim_supported():
        raise RuntimeError("maxsim_scores needs x86-64 with AVX2 and FMA")
    if blocks.shape[1] != d or blocks.shape[2] != 16 or nb * 16 < T or nq < 1:
        raise ValueError("blocks, T and qstarts do not describe the queries")
    if qstarts[0] != 0 or qstarts[nq] != T:
        raise ValueError(f"qstarts must run from 0 to T={T}")
    if not 0 <= lo <= hi <= offsets.shape[0] - 1 or out.shape[0] != nq or out.shape[1] < hi:
        raise ValueError("bad document range or output shape")
    if hi > lo and (offsets[lo] < 0 or offsets[hi] > tokens.shape[0]):
        raise ValueError("offsets point outside tokens")
    maxbuf = np.empty(nb * 16, dtype=np.float32)
    cdef float[::1] mb = maxbuf
    if hi > lo:
        with nogil:
            tp_maxsim(&blocks[0, 0, 0], T, &qstarts[0], nq, &tokens[0, 0], &offsets[0], lo, hi,
                      d, &out[0, 0], out.shape[1], &mb[0])
    return out


def cluster_sums(const float[:, ::1] x not None, const Py_ssize_t[::1] labels not None):
    """Sum the rows of ``x`` (``(n, d)`` float32) per cluster of ``labels`` (``(n,)``, ids >= 0)
    in row order: ``(sums (k, d) float32, firsts (k,) intp)`` by each cluster's first row.
    """
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1], i, j, c, top = 0, k = 0
    if labels.shape[0] != n:
        raise ValueError(f"labels has {labels.shape[0]} entries for {n} rows")
    for i in range(n):
        if labels[i] < 0:
            raise ValueError(f"labels must be >= 0, got {labels[i]} at row {i}")
        if labels[i] > top:
            top = labels[i]
    remap_arr = np.full(top + 1, -1, dtype=np.intp)
    firsts_arr = np.empty(n, dtype=np.intp)
    cdef Py_ssize_t[::1] remap = remap_arr
    cdef Py_ssize_t[::1] firsts = firsts_arr
    for i in range(n):
        if remap[labels[i]] < 0:
            remap[labels[i]] = k
            firsts[k] = i
            k += 1
    sums_arr = np.zeros((k, d), dtype=np.float32)
    cdef float[:, ::1] sums = sums_arr
    with nogil:
        for i in range(n):
            c = remap[labels[i]]
            for j in range(d):
                sums[c, j] += x[i, j]
    return sums_arr, firsts_arr[:k]


DEF _EXACT_INT = 9007199254740992  # 2**53: larger ints are left to numpy (rounding)


cdef inline bint _sequence(object o) noexcept:
    return PyList_CheckExact(o) or PyTuple_CheckExact(o)


def nested_float32(object rows):
    """A list (or tuple) of ``n >= 1`` equally long lists (or tuples) of ``d >= 1`` Python
    floats and ints read in one pass into a new float32 ``(n, d)`` array, the values
    ``np.asarray(rows, dtype=np.float32)`` gives; ``None`` for anything else and for what
    numpy must judge (ragged, other types, ints >= 2**53, float32 over- or underflow).
    """
    cdef Py_ssize_t n, d, i, j
    cdef PyObject **items
    cdef PyObject *item
    cdef object row
    cdef double v
    cdef float f
    cdef long long iv
    cdef int overflow = 0
    if not _sequence(rows):
        return None
    n = PySequence_Fast_GET_SIZE(rows)
    if n == 0:
        return None
    row = <object> PySequence_Fast_ITEMS(rows)[0]
    if not _sequence(row):
        return None
    d = PySequence_Fast_GET_SIZE(row)
    if d == 0:
        return None
    out_arr = np.empty((n, d), dtype=np.float32)
    cdef float[:, ::1] out = out_arr
    for i in range(n):
        row = <object> PySequence_Fast_ITEMS(rows)[i]
        if not _sequence(row) or PySequence_Fast_GET_SIZE(row) != d:
            return None
        items = PySequence_Fast_ITEMS(row)
        for j in range(d):
            item = items[j]
            if PyFloat_CheckExact(item):
                v = PyFloat_AS_DOUBLE(item)
            elif PyLong_CheckExact(item):
                iv = PyLong_AsLongLongAndOverflow(item, &overflow)
                if overflow or iv > _EXACT_INT or iv < -_EXACT_INT:
                    return None
                v = <double> iv
            else:
                return None
            f = <float> v
            if (fabs(f) == INFINITY and fabs(v) < INFINITY) or (f == 0.0 and v != 0.0):
                return None  # out of float32's range: numpy reads it and names the value
            out[i, j] = f
    return out_arr
