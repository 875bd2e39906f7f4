# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled pooling kernels: exact Ward pooling of one document, cluster sums, and the
reading of a nested list of floats into a float32 matrix (:func:`nested_float32`).

Built by ``pip install`` (Cython, optional extension; see ``setup.py``). Where it is
missing, the pooling modules fall back to numpy and scipy with the same partitions (see
``hierarchical.py`` and ``common.py``). Pure numerics: no Python objects in the loops, no
Qdrant. The Gram matrix comes from the BLAS that scipy ships
(``scipy.linalg.cython_blas.dsyrk``, looked up on the first clustering, so importing the
kernels does not import scipy), so building needs no BLAS.

Steps of :func:`ward_pool` for ``n`` unprotected tokens of dimension ``d``, into ``k``:

1. rows to unit length (norms in float64, rows rounded to float32 as the fallback does);
2. ``G = U U^T`` in float64 (``dsyrk``, one triangle), then squared distances
   ``G_ii + G_jj - 2 G_ij`` (clamped at 0) into an ``n x n`` work matrix;
3. nearest-neighbour-chain Ward on it, step by step as scipy's ``nn_chain`` (see
   :c:func:`_ward_chain`), giving the ``n - 1`` merges;
4. the ``n - k`` lowest merges applied as unions (exactly ``k`` clusters, ties included),
   clusters numbered by their first token;
5. float32 sums of each cluster in row order, re-normalised (a zero sum: its first token).
"""

from cpython.object cimport PyObject
from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer
from libc.math cimport INFINITY, fabs, sqrt
from libc.stdlib cimport free, malloc

import numpy as np

cdef extern from "Python.h":
    bint PyList_CheckExact(object o)
    bint PyTuple_CheckExact(object o)
    bint PyFloat_CheckExact "PyFloat_CheckExact" (PyObject *o)
    bint PyLong_CheckExact "PyLong_CheckExact" (PyObject *o)
    double PyFloat_AS_DOUBLE "PyFloat_AS_DOUBLE" (PyObject *o)
    long long PyLong_AsLongLongAndOverflow(PyObject *o, int *overflow) except? -1
    PyObject **PySequence_Fast_ITEMS(object o)
    Py_ssize_t PySequence_Fast_GET_SIZE(object o)

ctypedef void (*dsyrk_t)(char *uplo, char *trans, int *n, int *k, double *alpha, double *a,
                         int *lda, double *beta, double *c, int *ldc) noexcept nogil

cdef dsyrk_t _dsyrk = NULL


cdef int _load_blas() except -1:
    """Look up scipy's ``dsyrk`` once (importing scipy.linalg takes ~0.2 s: not at import)."""
    global _dsyrk
    if _dsyrk != NULL:
        return 0
    from scipy.linalg import cython_blas

    capsule = cython_blas.__pyx_capi__["dsyrk"]
    _dsyrk = <dsyrk_t> PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule))
    return 0


def load_blas():
    """Look up scipy's ``dsyrk`` now (else on the first clustering): loads scipy's
    OpenBLAS, which ``_blas.single_blas_thread`` must find to keep it on one thread."""
    _load_blas()


cdef struct Merge:
    double height
    Py_ssize_t order  # position in the chain's merge sequence: breaks ties (stable)
    Py_ssize_t x
    Py_ssize_t y


cdef inline bint _lower(const Merge *a, const Merge *b) noexcept nogil:
    return a.height < b.height or (a.height == b.height and a.order < b.order)


cdef void _select_lowest(Merge *m, Py_ssize_t n, Py_ssize_t count) noexcept nogil:
    """Reorder ``m[0:n]`` so that its ``count`` lowest merges come first (quickselect)."""
    cdef Py_ssize_t lo = 0, hi = n - 1, i, j, mid
    cdef Merge pivot, tmp
    while lo < hi:
        mid = lo + (hi - lo) // 2
        pivot = m[mid]
        i = lo
        j = hi
        while i <= j:
            while _lower(&m[i], &pivot):
                i += 1
            while _lower(&pivot, &m[j]):
                j -= 1
            if i <= j:
                tmp = m[i]
                m[i] = m[j]
                m[j] = tmp
                i += 1
                j -= 1
        # m[lo..j] <= pivot <= m[i..hi]; keep the side that holds position count - 1
        if count - 1 <= j:
            hi = j
        elif count - 1 >= i:
            lo = i
        else:
            return


cdef Py_ssize_t _find(Py_ssize_t *parent, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t root = i, nxt
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


cdef int _squared_distances(double *g, Py_ssize_t n) noexcept nogil:
    """Row-major lower triangle of a Gram matrix -> full symmetric squared distances.

    Off-diagonal ``max(0, G_ii + G_jj - 2 G_ij)``; the diagonal becomes +inf (a row's
    nearest neighbour is never itself). By 32 x 32 tiles, so the mirrored writes stay in
    cache. Returns 0, or -1 when out of memory.
    """
    cdef Py_ssize_t i, j, ib, jb, i_end, j_end
    cdef double v, gi
    cdef double *diag = <double *> malloc((n + 1) * sizeof(double))
    if diag == NULL:
        return -1
    for i in range(n):
        diag[i] = g[i * n + i]
    for ib in range(0, n, 32):
        i_end = ib + 32 if ib + 32 < n else n
        for jb in range(0, ib + 1, 32):
            for i in range(ib, i_end):
                gi = diag[i]
                j_end = jb + 32 if jb + 32 < i else i
                for j in range(jb, j_end):
                    v = gi + diag[j] - 2.0 * g[i * n + j]
                    v = v if v > 0.0 else 0.0
                    g[i * n + j] = v
                    g[j * n + i] = v
    for i in range(n):
        g[i * n + i] = INFINITY
    free(diag)
    return 0


cdef int _ward_chain(double *d, Py_ssize_t n, Merge *merges) noexcept nogil:
    """Ward nearest-neighbour chain on the ``n x n`` squared distances ``d`` (destroyed).

    Follows scipy's ``nn_chain`` step by step: the chain starts at the lowest live slot, a
    nearest neighbour is the lowest index at the smallest distance and the chain's
    previous element wins ties; the merged cluster lives in the higher slot. The
    Lance-Williams update is written on squared distances (no square roots). Dead slots
    and the diagonal hold +inf, so a neighbour search is a plain minimum over a
    contiguous row. Writes the ``n - 1`` merges (height: squared Ward distance).
    Returns 0, or -1 when out of memory.
    """
    cdef Py_ssize_t *size = <Py_ssize_t *> malloc((n + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t *live = <Py_ssize_t *> malloc((n + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t *chain = <Py_ssize_t *> malloc((n + 1) * sizeof(Py_ssize_t))
    cdef double *inv = <double *> malloc((n + 1) * sizeof(double))
    cdef double *dsize = <double *> malloc((n + 1) * sizeof(double))
    cdef Py_ssize_t n_live = n, chain_len = 0, step, t, i, x = 0, y = 0, sx, sy
    cdef double best, dist, dxy, nx, ny, ni, m0, m1, m2, m3
    cdef double *row
    cdef double *rowy
    if size == NULL or live == NULL or chain == NULL or inv == NULL or dsize == NULL:
        free(size); free(live); free(chain); free(inv); free(dsize)
        return -1
    inv[0] = 0.0
    for i in range(1, n + 1):
        inv[i] = 1.0 / i  # cluster sizes add up to at most n: no division in the loops
    for i in range(n):
        size[i] = 1
        dsize[i] = 1.0
        live[i] = i
    for step in range(n - 1):
        if chain_len == 0:
            chain[0] = live[0]
            chain_len = 1
        while True:
            x = chain[chain_len - 1]
            row = d + x * n
            # the smallest distance in row x (four running minima), then its first index
            m0 = m1 = m2 = m3 = INFINITY
            i = 0
            while i + 4 <= n:
                m0 = row[i] if row[i] < m0 else m0
                m1 = row[i + 1] if row[i + 1] < m1 else m1
                m2 = row[i + 2] if row[i + 2] < m2 else m2
                m3 = row[i + 3] if row[i + 3] < m3 else m3
                i += 4
            while i < n:
                m0 = row[i] if row[i] < m0 else m0
                i += 1
            m0 = m1 if m1 < m0 else m0
            m2 = m3 if m3 < m2 else m2
            best = m2 if m2 < m0 else m0
            if chain_len > 1 and row[chain[chain_len - 2]] <= best:
                break  # the previous element is a nearest neighbour: x and it merge
            y = 0
            while row[y] != best:
                y += 1
            chain[chain_len] = y
            chain_len += 1
        y = chain[chain_len - 2]
        chain_len -= 2
        if x > y:
            x, y = y, x
        merges[step].height = best
        merges[step].order = step
        merges[step].x = x
        merges[step].y = y
        sx = size[x]
        sy = size[y]
        nx = dsize[x]
        ny = dsize[y]
        size[x] = 0
        size[y] = sx + sy
        dsize[y] = nx + ny
        # drop slot x from the live list (kept in index order: the chain restarts at its head)
        t = 0
        while live[t] != x:
            t += 1
        n_live -= 1
        while t < n_live:
            live[t] = live[t + 1]
            t += 1
        # Lance-Williams for Ward on squared distances; rows x and y are read (contiguous),
        # row y is rewritten, column y mirrored, column x closed with +inf
        dxy = best
        row = d + x * n
        rowy = d + y * n
        for t in range(n_live):
            i = live[t]
            d[i * n + x] = INFINITY
            if i == y:
                continue
            ni = dsize[i]
            dist = ((ni + nx) * row[i] + (ni + ny) * rowy[i] - ni * dxy) * inv[size[i] + sx + sy]
            rowy[i] = dist
            d[i * n + y] = dist
    free(size); free(live); free(chain); free(inv); free(dsize)
    return 0


cdef Py_ssize_t _ward_labels(double *d, Py_ssize_t n, Py_ssize_t k, double threshold_sq,
                             Py_ssize_t *labels) noexcept nogil:
    """Labels ``0..k'-1`` (numbered by first row) of the Ward cut; ``d`` destroyed.

    ``k``: most clusters wanted. ``threshold_sq >= 0`` also makes every merge of squared
    height ``<= threshold_sq`` (the dendrogram cut at that height), so the cut keeps
    ``k' = min(k, n - #merges at or below it)`` clusters; ``threshold_sq < 0``: no
    threshold, ``k' = k``. Returns ``k'``, or -1 when out of memory.
    """
    cdef Merge *merges = <Merge *> malloc((n + 1) * sizeof(Merge))
    cdef Py_ssize_t *parent = <Py_ssize_t *> malloc((n + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t i, step, root, next_label = 0, below = 0
    if merges == NULL or parent == NULL or _ward_chain(d, n, merges) != 0:
        free(merges); free(parent)
        return -1
    if threshold_sq >= 0.0:
        for i in range(n - 1):
            if merges[i].height <= threshold_sq:
                below += 1
        if n - below < k:
            k = n - below
    # the n - k lowest merges, as unions in any order: the merges form a tree over the
    # slots, so any n - k of them leave exactly k components
    if 0 < n - k < n - 1:
        _select_lowest(merges, n - 1, n - k)
    for i in range(n):
        parent[i] = i
    for step in range(n - k):
        parent[_find(parent, merges[step].x)] = _find(parent, merges[step].y)
    for i in range(n):
        labels[i] = _find(parent, i)  # the root slot, for now
    # renumber roots by first row: a root's label is assigned when its first row is met
    for i in range(n):
        parent[i] = -1
    for i in range(n):
        root = labels[i]
        if parent[root] < 0:
            parent[root] = next_label
            next_label += 1
        labels[i] = parent[root]
    free(merges); free(parent)
    return k


cdef int _gram_distances(const double *u, Py_ssize_t n, Py_ssize_t d, double *g) noexcept nogil:
    """Squared distances between the ``n`` rows of ``u`` (row-major ``n x d``) into ``g``."""
    cdef char uplo = b"U"[0], trans = b"T"[0]
    cdef int nn = <int> n, kk = <int> d, lda = <int> d, ldc = <int> n
    cdef double alpha = 1.0, beta = 0.0
    # row-major U is column-major U^T (d x n): G = (U^T)^T U^T, upper triangle in column
    # major = lower triangle in row major
    _dsyrk(&uplo, &trans, &nn, &kk, &alpha, <double *> u, &lda, &beta, g, &ldc)
    return _squared_distances(g, n)


cdef inline double _sum_squares(const float *v, Py_ssize_t d) noexcept nogil:
    """Sum of squares of ``v[0:d]`` in float64 (four running sums: no serial chain)."""
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, a
    cdef Py_ssize_t j = 0
    while j + 4 <= d:
        a = v[j]
        s0 += a * a
        a = v[j + 1]
        s1 += a * a
        a = v[j + 2]
        s2 += a * a
        a = v[j + 3]
        s3 += a * a
        j += 4
    while j < d:
        a = v[j]
        s0 += a * a
        j += 1
    return (s0 + s1) + (s2 + s3)


cdef int _unit_rows(const float *x, Py_ssize_t n, Py_ssize_t d, float *u32, double *u64) noexcept nogil:
    """Rows of ``x`` to unit length: ``u32`` (float32) and the same values in ``u64``.

    Returns -1 (nothing else) when a row is all zeros or holds NaN/inf.
    """
    cdef Py_ssize_t i, j
    cdef double s
    for i in range(n):
        s = _sum_squares(x + i * d, d)
        if not (0.0 < s < INFINITY):  # a zero row, or NaN/inf somewhere in it
            return -1
        s = 1.0 / sqrt(s)
        for j in range(d):
            u32[i * d + j] = <float> (x[i * d + j] * s)
            u64[i * d + j] = u32[i * d + j]
    return 0


cdef void _sum_clusters(const float *u, const Py_ssize_t *labels, Py_ssize_t n,
                              Py_ssize_t d, Py_ssize_t k, float *out,
                              Py_ssize_t *firsts) noexcept nogil:
    """Unit-normalised float32 sums per cluster (labels ``0..k-1`` by first row) into ``out``.

    Sums in row order; a zero sum (vectors that cancel out) becomes the cluster's first
    row. Also writes each cluster's first row into ``firsts``.
    """
    cdef Py_ssize_t i, j, c
    cdef double s
    for c in range(k):
        firsts[c] = -1
        for j in range(d):
            out[c * d + j] = 0.0
    for i in range(n):
        c = labels[i]
        if firsts[c] < 0:
            firsts[c] = i
        for j in range(d):
            out[c * d + j] += u[i * d + j]
    for c in range(k):
        s = _sum_squares(out + c * d, d)
        if s == 0.0:
            for j in range(d):
                out[c * d + j] = u[firsts[c] * d + j]
        else:
            s = 1.0 / sqrt(s)
            for j in range(d):
                out[c * d + j] = <float> (out[c * d + j] * s)


def work_size(Py_ssize_t n, Py_ssize_t d):
    """float64 entries of work memory that :func:`ward_labels`/:func:`ward_pool` need.

    ``n`` tokens to cluster, dimension ``d``: the ``n x n`` distances, the float64 rows
    and the float32 rows.
    """
    return n * n + n * d + (n * d + 1) // 2


cdef double *_work(double[::1] work, Py_ssize_t n, Py_ssize_t d) except NULL:
    if work.shape[0] < work_size(n, d):
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
    """Ward clustering of the rows of ``u`` (``(n, d)`` float32, unit rows) into ``k``.

    ``1 <= k <= n``; ``work``: float64 scratch of at least ``work_size(n, d)`` entries
    (reused between calls, so no page faults per call); ``threshold``: ``None``, or a
    height (scipy's linkage scale: the Ward distance, not squared) at or below which every
    merge is made as well, which can only leave fewer clusters. Returns labels ``(n,)``
    (``intp``), ``0..k'-1`` numbered by each cluster's first row: the partition after the
    ``n - k'`` lowest merges of the Ward dendrogram of the rows.
    """
    cdef Py_ssize_t n = u.shape[0], d = u.shape[1], i
    if n < 1 or d < 1 or not 1 <= k <= n:
        raise ValueError(f"need n >= 1, d >= 1 and 1 <= k <= n, got n={n}, d={d}, k={k}")
    cdef double t_sq = _threshold_sq(threshold)
    cdef double *g = _work(work, n, d)
    cdef double *u64 = g + n * n
    out = np.empty(n, dtype=np.intp)
    cdef Py_ssize_t[::1] labels = out
    cdef Py_ssize_t status = 0
    cdef double total = 0.0
    _load_blas()
    with nogil:
        for i in range(n * d):
            u64[i] = (&u[0, 0])[i]
            total += u64[i]
    if not (-INFINITY < total < INFINITY):  # float32 values cannot overflow this sum
        raise ValueError("NaN or infinite value among the rows to cluster")
    with nogil:
        status = _gram_distances(u64, n, d, g)
        if status == 0:
            status = _ward_labels(g, n, k, t_sq, &labels[0])
    if status < 0:
        raise MemoryError(f"no memory for the Ward clustering of {n} rows")
    return out


def ward_pool(const float[:, ::1] x not None, Py_ssize_t protected, Py_ssize_t k,
              double[::1] work not None, threshold=None):
    """Hierarchical pooling of one validated document (``pool_tokens``'s compiled path).

    ``x``: ``(n, d)`` float32, finite, no zero rows among the unprotected ones (else
    ``ValueError``; ``pool_tokens`` validates first and names the row);
    ``0 <= protected < n``; ``1 <= k <= n - protected``: the most pooled vectors;
    ``threshold``: ``None`` or a Ward height, as for :func:`ward_labels` (fewer vectors);
    ``work``: float64 scratch of at least ``work_size(n - protected, d)`` entries.
    Returns float32 ``(protected + k', d)``: the protected rows unchanged, then the
    unit-normalised means of the ``k'`` Ward clusters of the other rows (normalised
    first), ordered by first token.
    """
    cdef Py_ssize_t n_all = x.shape[0], d = x.shape[1], n = n_all - protected, i
    if d < 1 or not 0 <= protected < n_all or not 1 <= k <= n:
        raise ValueError(
            f"need d >= 1, 0 <= protected < n and 1 <= k <= n - protected, "
            f"got n={n_all}, d={d}, protected={protected}, k={k}"
        )
    cdef double t_sq = _threshold_sq(threshold)
    cdef double *g = _work(work, n, d)
    cdef double *u64 = g + n * n
    cdef float *u32 = <float *> (u64 + n * d)
    cdef const float *src = &x[0, 0]
    cdef float *dst
    cdef float[:, ::1] out
    cdef Py_ssize_t *labels = NULL
    cdef Py_ssize_t *firsts = NULL
    cdef Py_ssize_t status = -2
    _load_blas()
    with nogil:
        labels = <Py_ssize_t *> malloc((n + 1) * sizeof(Py_ssize_t))
        firsts = <Py_ssize_t *> malloc((n + 1) * sizeof(Py_ssize_t))
        if labels != NULL and firsts != NULL:
            status = _unit_rows(src + protected * d, n, d, u32, u64)
            if status == 0:
                if k < n or t_sq >= 0.0:
                    if _gram_distances(u64, n, d, g) != 0:
                        status = -2
                    else:
                        k = _ward_labels(g, n, k, t_sq, labels)
                        if k < 0:
                            status = -2
                else:
                    for i in range(n):
                        labels[i] = i
    if status != 0:
        free(labels); free(firsts)
        if status == -1:
            raise ValueError("zero, NaN or infinite vector among the tokens to pool")
        raise MemoryError(f"no memory to pool a document of {n_all} tokens")
    out_arr = np.empty((protected + k, d), dtype=np.float32)
    out = out_arr
    dst = &out[0, 0]
    with nogil:
        for i in range(protected * d):
            dst[i] = src[i]
        _sum_clusters(u32, labels, n, d, k, dst + protected * d, firsts)
        free(labels); free(firsts)
    return out_arr


cdef Py_ssize_t _pool_doc(const float *src, Py_ssize_t n_all, Py_ssize_t d, Py_ssize_t protected,
                          Py_ssize_t k, double t_sq, double *g, float *dst) noexcept nogil:
    """:func:`ward_pool`'s work on one document, into ``dst`` (room for ``protected + k``
    rows). Returns the number of clusters ``k' <= k``, -1 for a zero/NaN/inf row among the
    unprotected ones, -2 when out of memory."""
    cdef Py_ssize_t n = n_all - protected, i
    cdef double *u64 = g + n * n
    cdef float *u32 = <float *> (u64 + n * d)
    cdef Py_ssize_t *labels = <Py_ssize_t *> malloc((n + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t *firsts = <Py_ssize_t *> malloc((n + 1) * sizeof(Py_ssize_t))
    if labels == NULL or firsts == NULL:
        free(labels); free(firsts)
        return -2
    if _unit_rows(src + protected * d, n, d, u32, u64) != 0:
        free(labels); free(firsts)
        return -1
    if k < n or t_sq >= 0.0:
        if _gram_distances(u64, n, d, g) != 0:
            free(labels); free(firsts)
            return -2
        k = _ward_labels(g, n, k, t_sq, labels)
        if k < 0:
            free(labels); free(firsts)
            return -2
    else:
        for i in range(n):
            labels[i] = i
    for i in range(protected * d):
        dst[i] = src[i]
    _sum_clusters(u32, labels, n, d, k, dst + protected * d, firsts)
    free(labels); free(firsts)
    return k


def ward_pool_many(list xs not None, protected_list not None, k_list not None,
                   double[::1] work not None, threshold=None):
    """:func:`ward_pool` on many documents in one call that holds the GIL only to start
    and to finish: a pooling thread then runs the whole chunk while other threads run
    Python (one GIL hand-over per chunk, not three per document).

    ``xs``: ``(n_i, d_i)`` float32 C-contiguous arrays; ``protected_list``, ``k_list``:
    per document, as for :func:`ward_pool`; ``work``: at least the largest
    ``work_size(n_i - protected_i, d_i)``. Returns the list of pooled arrays, the same
    bytes as :func:`ward_pool` on each (raises as it does, for the first bad document).
    """
    cdef Py_ssize_t m = len(xs), j, n_all, d, p, k, got = 0
    cdef double t_sq = _threshold_sq(threshold)
    cdef const float[:, ::1] x
    cdef float[:, ::1] o
    cdef const float **srcs = NULL
    cdef float **dsts = NULL
    cdef Py_ssize_t *dims = NULL
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
            x = xs[j]
            n_all = x.shape[0]
            d = x.shape[1]
            p = protected_list[j]
            k = k_list[j]
            if d < 1 or not 0 <= p < n_all or not 1 <= k <= n_all - p:
                raise ValueError(
                    f"need d >= 1, 0 <= protected < n and 1 <= k <= n - protected, "
                    f"got n={n_all}, d={d}, protected={p}, k={k} (document {j})"
                )
            _work(work, n_all - p, d)
            out = np.empty((p + k, d), dtype=np.float32)
            o = out
            outs.append(out)
            srcs[j] = &x[0, 0]
            dsts[j] = &o[0, 0]
            dims[4 * j] = n_all
            dims[4 * j + 1] = d
            dims[4 * j + 2] = p
            dims[4 * j + 3] = k
        # the arrays in xs and outs stay alive (referenced) while the pointers are used
        with nogil:
            for j in range(m):
                got = _pool_doc(srcs[j], dims[4 * j], dims[4 * j + 1], dims[4 * j + 2],
                                dims[4 * j + 3], t_sq, &work[0], dsts[j])
                if got < 0:
                    break
                dims[4 * j + 3] = got
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


def cluster_sums(const float[:, ::1] x not None, const Py_ssize_t[::1] labels not None):
    """Sum the rows of ``x`` (``(n, d)`` float32) per cluster of ``labels`` (``(n,)``, ids >= 0).

    Returns ``(sums, firsts)``: float32 ``(k, d)`` sums in row order (deterministic to the
    bit), one per distinct label, ordered by each cluster's first row, and ``firsts``
    (``(k,)`` intp), that first row.
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
    floats and ints, read in one pass into a new float32 C array ``(n, d)``, with the same
    values ``np.asarray(rows, dtype=np.float32)`` gives.

    Returns ``None`` for anything else, and for what numpy must judge or name: an empty
    or ragged input, rows or items of other types (numpy scalars, ``bool``, arrays),
    ints of magnitude >= 2**53, and a finite value that overflows float32 or a non-zero
    one that becomes zero (``validation`` then reads it with numpy and names the problem).
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
