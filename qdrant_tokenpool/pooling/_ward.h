/* Exact Ward clustering of one document's unit rows: the numerics of _kernels.pyx.
 *
 * tp_ward_cut() gives the labels of the partition after the n - k lowest merges of the
 * Ward dendrogram of n rows (scipy's linkage(rows, "ward") cut at k clusters, ties
 * included), optionally cut at a height too. Steps:
 *
 * 1. the Gram matrix G = U U^T (one triangle: float32 by tp_gram32 where it runs, else
 *    BLAS ssyrk; float64 by BLAS dsyrk), then squared distances G_ii + G_jj - 2 G_ij
 *    (clamped at 0) into a float64 n x n matrix;
 * 2. a nearest-neighbour chain on it, step by step as scipy's nn_chain (tp_chain);
 * 3. the cut: the n - k lowest merges as unions (tp_cut), clusters numbered by first row.
 *
 * Two ways to get the Gram matrix. The float64 one (dsyrk) is the reference: the chain
 * and cut follow scipy's nn_chain on it decision by decision. The float32 one (a third
 * of the time) is used only where it provably takes the same decisions:
 *
 * - |G32_ij - G64_ij| <= eps32 + eps64 with eps = gamma_d * max|u_i|^2 (the classical
 *   bound of a d-term dot product, any summation order, fused multiply-adds or not;
 *   gamma_d = d u / (1 - d u)), so
 *   each starting squared distance differs by at most 4 (eps32 + eps64) (clamping only
 *   brings two values closer);
 * - the Lance-Williams recursion is linear in the starting distances: in exact
 *   arithmetic the Ward distance of clusters of sizes a and b moves by at most
 *   4 ab / (a + b) times that (it is 2ab/(a+b) |mean_A - mean_B|^2, a fixed combination
 *   of pairwise distances whose weights sum to at most 2); both paths round the same
 *   recursion in float64, which TP_SLACK covers (relative 1e-10; the recursion's own
 *   rounding is ~1e-16 per step, ~1e-13 after 2,048 steps);
 * - so every comparison the chain and the cut make (a row minimum against the row's
 *   second smallest value, a merge height against the cut's other side or the
 *   threshold) whose margin exceeds the two values' bounds comes out as on the float64
 *   path. By induction over the steps the merges, and so the partition, are the same.
 *
 * A comparison within the bounds is a near tie: it is settled again on float64 cluster
 * means (2ab/(a+b) |sum_A/a - sum_B/b|^2 from float64 cluster sums, error bounded the
 * same way, ~1e-13), and if it is still within those bounds (a true tie, e.g. duplicate
 * tokens), the whole document is clustered on the float64 Gram matrix.
 *
 * Plain C with GCC/clang vector extensions; on x86-64 Linux with GCC the row scan and
 * the Lance-Williams update are compiled twice (AVX2 and the baseline) and the loader
 * picks one for the CPU (target_clones). The build turns off floating-point contraction
 * (-ffp-contract=off in setup.py): every clone computes the same bits.
 *
 * Matrix layout: rows of `stride` doubles (tp_stride); the diagonal and the columns
 * n..stride-1 hold +inf; dead clusters are hidden by an additive +inf mask.
 */
#ifndef QDRANT_TOKENPOOL_WARD_H
#define QDRANT_TOKENPOOL_WARD_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define TP_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TP_CLONES
#endif

#if defined(__GNUC__)
#define TP_VECTORS 1
typedef double tp_v4d __attribute__((vector_size(32)));
typedef long long tp_v4l __attribute__((vector_size(32)));
#else
#define TP_VECTORS 0
#endif

#define TP_SLACK 1e-10

typedef void (*tp_dsyrk_t)(char *uplo, char *trans, int *n, int *k, double *alpha, double *a,
                           int *lda, double *beta, double *c, int *ldc);
typedef void (*tp_ssyrk_t)(char *uplo, char *trans, int *n, int *k, float *alpha, float *a,
                           int *lda, float *beta, float *c, int *ldc);

typedef struct {
    double height; /* squared Ward distance (the chain's value) */
    ptrdiff_t order, x, y;
    double a, b;  /* sizes of the merged clusters */
    double upper; /* height + its float32 bound (certified path) */
} tp_merge;

typedef struct {
    long float32_docs; /* clustered on the float32 Gram matrix */
    long near_ties;    /* comparisons settled on float64 cluster means */
    long float64_docs; /* clustered on the float64 Gram matrix (a tie, or float32 off) */
} tp_stats;

typedef struct {
    double c32;      /* |float32 path - float64 path| <= c32 ab/(a+b) + slack */
    double c64;      /* |float64 cluster means - float64 path| <= c64 ab/(a+b) + slack */
    const float *u;  /* the rows, n x d */
    ptrdiff_t n, d;
    double *sums;    /* n x d float64 scratch (tp_mean_heights; its first 2 d: a settle) */
    ptrdiff_t *head, *tail, *next; /* each live slot's rows, as a linked list (tp_chain) */
    long near_ties;
} tp_cert;

/* Row stride in doubles: n rounded up to whole cache lines (8 doubles), an odd number of
 * them, so that a column's entries (the mirrored writes) spread over all cache sets; a
 * stride of 4 KiB put them all in one set and made pooling 1.5x slower. */
static inline ptrdiff_t tp_stride(ptrdiff_t n)
{
    ptrdiff_t s = (n + 7) & ~(ptrdiff_t)7;
    return (s & 8) ? s : s + 8;
}

/* float64 entries of scratch tp_ward_cut needs for n rows of dimension d: the distances,
 * then one region for the float32 Gram matrix, the cluster sums or the float64 rows. */
static inline ptrdiff_t tp_work_doubles(ptrdiff_t n, ptrdiff_t d)
{
    ptrdiff_t s = tp_stride(n), g32 = (n * s + 1) / 2;
    return n * s + (g32 > n * d ? g32 : n * d);
}

static inline double tp_tol(double c, double a, double b, double h)
{
    return c * (a * b / (a + b)) + TP_SLACK * (1.0 + fabs(h));
}

static inline double tp_gamma(double terms, double unit)
{
    return terms * unit / (1.0 - terms * unit);
}

/* Sum of squares of v[0:d] in float64: four running sums (v[j] into sum j % 4, the
 * remainder into sum 0), then (s0 + s1) + (s2 + s3). The fallback (common.py) and every
 * clone of the callers add in exactly this order. */
static inline double tp_sum_squares(const float *v, ptrdiff_t d)
{
#if TP_VECTORS
    tp_v4d acc = {0.0, 0.0, 0.0, 0.0}, a;
    ptrdiff_t j = 0;
    double s0;
    for (; j + 4 <= d; j += 4) {
        a[0] = v[j];
        a[1] = v[j + 1];
        a[2] = v[j + 2];
        a[3] = v[j + 3];
        acc += a * a;
    }
    s0 = acc[0];
    for (; j < d; j++)
        s0 += (double)v[j] * (double)v[j];
    return (s0 + acc[1]) + (acc[2] + acc[3]);
#else
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, a;
    ptrdiff_t j = 0;
    for (; j + 4 <= d; j += 4) {
        a = v[j];
        s0 += a * a;
        a = v[j + 1];
        s1 += a * a;
        a = v[j + 2];
        s2 += a * a;
        a = v[j + 3];
        s3 += a * a;
    }
    for (; j < d; j++) {
        a = v[j];
        s0 += a * a;
    }
    return (s0 + s1) + (s2 + s3);
#endif
}

/* tp_sum_squares of the four rows v, v + ld, v + 2 ld, v + 3 ld into out[0:4]: the same
 * operations in the same order for each row (so the same bits), interleaved so that the
 * four chains of additions overlap instead of waiting on each other. */
static inline void tp_sum_squares4(const float *v, ptrdiff_t ld, ptrdiff_t d, double *out)
{
#if TP_VECTORS
    tp_v4d a0 = {0.0, 0.0, 0.0, 0.0}, a1 = a0, a2 = a0, a3 = a0, t;
    const float *v0 = v, *v1 = v + ld, *v2 = v + 2 * ld, *v3 = v + 3 * ld;
    ptrdiff_t j = 0;
    double s0, s1, s2, s3;
    for (; j + 4 <= d; j += 4) {
        t[0] = v0[j], t[1] = v0[j + 1], t[2] = v0[j + 2], t[3] = v0[j + 3];
        a0 += t * t;
        t[0] = v1[j], t[1] = v1[j + 1], t[2] = v1[j + 2], t[3] = v1[j + 3];
        a1 += t * t;
        t[0] = v2[j], t[1] = v2[j + 1], t[2] = v2[j + 2], t[3] = v2[j + 3];
        a2 += t * t;
        t[0] = v3[j], t[1] = v3[j + 1], t[2] = v3[j + 2], t[3] = v3[j + 3];
        a3 += t * t;
    }
    s0 = a0[0], s1 = a1[0], s2 = a2[0], s3 = a3[0];
    for (; j < d; j++) {
        s0 += (double)v0[j] * (double)v0[j];
        s1 += (double)v1[j] * (double)v1[j];
        s2 += (double)v2[j] * (double)v2[j];
        s3 += (double)v3[j] * (double)v3[j];
    }
    out[0] = (s0 + a0[1]) + (a0[2] + a0[3]);
    out[1] = (s1 + a1[1]) + (a1[2] + a1[3]);
    out[2] = (s2 + a2[1]) + (a2[2] + a2[3]);
    out[3] = (s3 + a3[1]) + (a3[2] + a3[3]);
#else
    int r;
    for (r = 0; r < 4; r++)
        out[r] = tp_sum_squares(v + r * ld, d);
#endif
}

/* tp_sum_squares of rows i .. i + 3 of x (rows of d; fewer where n - i < 4) into out. */
static inline void tp_sum_squares_at(const float *x, ptrdiff_t i, ptrdiff_t n, ptrdiff_t d,
                                     double *out)
{
    ptrdiff_t r, b;
    if (i + 4 <= n) {
#if defined(__GNUC__)
        /* the next four rows into the cache now: four rows read at once are four streams
         * within a page, which the hardware prefetcher follows badly (measured: 4x slower
         * than one row at a time when the rows come from memory) */
        for (b = 0; b < 4 * d && i + 4 < n; b += 16)
            __builtin_prefetch(x + (i + 4) * d + b);
#endif
        tp_sum_squares4(x + i * d, d, d, out);
        return;
    }
    for (r = 0; i + r < n; r++)
        out[r] = tp_sum_squares(x + (i + r) * d, d);
}

/* The first row of x (n x d) whose float64 sum of squares is not finite (NaN/inf in it)
 * or, unless allow_zero, zero; -1 when every row is fine. */
static TP_CLONES ptrdiff_t tp_first_bad_row(const float *x, ptrdiff_t n, ptrdiff_t d, int allow_zero)
{
    ptrdiff_t i, r;
    double s[4];
    for (i = 0; i < n; i += 4) {
        tp_sum_squares_at(x, i, n, d, s);
        for (r = 0; r < 4 && i + r < n; r++) {
            if (!(s[r] < INFINITY) || (!allow_zero && s[r] == 0.0))
                return i + r;
        }
    }
    return -1;
}

/* Rows of x (n x d) to unit length, rounded to float32, into u32: (float)(x * (1 /
 * sqrt(sum of squares))) in float64. Returns -1 (u32 partly written, nothing else) when
 * a row is all zeros or holds NaN/inf. */
static TP_CLONES int tp_unit_rows(const float *restrict x, ptrdiff_t n, ptrdiff_t d,
                                  float *restrict u32)
{
    ptrdiff_t i, j, r;
    double s[4], scale;
    for (i = 0; i < n; i += 4) {
        tp_sum_squares_at(x, i, n, d, s);
        for (r = 0; r < 4 && i + r < n; r++) {
            if (!(0.0 < s[r] && s[r] < INFINITY)) /* a zero row, or NaN/inf somewhere in it */
                return -1;
            scale = 1.0 / sqrt(s[r]);
            for (j = 0; j < d; j++)
                u32[(i + r) * d + j] = (float)((double)x[(i + r) * d + j] * scale);
        }
    }
    return 0;
}

/* Unit-normalised float32 sums per cluster (labels 0..k-1 by first row) into out (k x d):
 * float32 sums in row order, then scaled as tp_unit_rows does; a zero sum (vectors that
 * cancel out) becomes the cluster's first row. firsts: k entries of scratch (each
 * cluster's first row). */
static TP_CLONES void tp_sum_clusters(const float *restrict u, const ptrdiff_t *labels,
                                      ptrdiff_t n, ptrdiff_t d, ptrdiff_t k,
                                      float *restrict out, ptrdiff_t *firsts)
{
    ptrdiff_t i, j, c, r;
    double s[4];
    float *o;
    const float *row;
    for (c = 0; c < k; c++)
        firsts[c] = -1;
    memset(out, 0, (size_t)(k * d) * sizeof(float));
    for (i = 0; i < n; i++) {
        c = labels[i];
        if (firsts[c] < 0)
            firsts[c] = i;
        o = out + c * d;
        row = u + i * d;
        for (j = 0; j < d; j++)
            o[j] += row[j];
    }
    for (c = 0; c < k; c += 4) {
        tp_sum_squares_at(out, c, k, d, s);
        for (r = 0; r < 4 && c + r < k; r++) {
            o = out + (c + r) * d;
            if (s[r] == 0.0) {
                memcpy(o, u + firsts[c + r] * d, (size_t)d * sizeof(float));
            } else {
                s[r] = 1.0 / sqrt(s[r]);
                for (j = 0; j < d; j++)
                    o[j] = (float)((double)o[j] * s[r]);
            }
        }
    }
}

/* One step of a scan for the smallest value and the second smallest: v, at index i,
 * becomes *best (and i *found) when below it, else *second when below that. Strict
 * comparisons: among equal values the first index scanned wins. */
static inline void tp_keep_two(double v, ptrdiff_t i, double *best, double *second,
                               ptrdiff_t *found)
{
    if (v < *best) {
        *second = *best;
        *best = v;
        *found = i;
    } else if (v < *second) {
        *second = v;
    }
}

/* Merge the per-lane (minimum, its index, second smallest) of `lanes` lanes: the overall
 * minimum (lowest index among equal values) and the second smallest value. */
static inline ptrdiff_t tp_lanes_min(const double *m, const long long *at, const double *m2,
                                     int lanes, double *best, double *second)
{
    int lane, win = 0;
    double b = m[0], sec;
    long long found = at[0];
    for (lane = 1; lane < lanes; lane++) {
        if (m[lane] < b || (m[lane] == b && at[lane] < found)) {
            b = m[lane];
            found = at[lane];
            win = lane;
        }
    }
    *best = b;
    if (second != NULL) {
        sec = m2[win];
        for (lane = 0; lane < lanes; lane++) {
            if (lane != win && m[lane] < sec)
                sec = m[lane];
        }
        *second = sec;
    }
    return (ptrdiff_t)found;
}

/* Index of the smallest value of row[i] + mask[i], i < stride (the lowest index among
 * equal values), that value in *best and the second smallest (over the other indices)
 * in *second (second may be NULL). mask[i] is 0 (live) or +inf (dead); stride is a
 * multiple of 8. Exact comparisons only: every implementation gives the same answer. */
static ptrdiff_t tp_row_min_scalar(const double *row, const double *mask, ptrdiff_t stride,
                                   double *best, double *second)
{
    ptrdiff_t i, found = 0;
    double b = INFINITY, sec = INFINITY;
    for (i = 0; i < stride; i++)
        tp_keep_two(row[i] + mask[i], i, &b, &sec, &found);
    *best = b;
    if (second != NULL)
        *second = sec;
    return found;
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define TP_HAVE_AVX2_SCAN 1

/* tp_row_min with AVX2: two sets of four lanes (8 values a step), so the loop-carried
 * minimum (one vminpd) is not the bottleneck. */
__attribute__((target("avx2"))) static ptrdiff_t
tp_row_min_avx2(const double *row, const double *mask, ptrdiff_t stride, double *best,
                double *second)
{
    __m256d ma = _mm256_set1_pd(INFINITY), mb = ma, sa = ma, sb = ma, va, vb, la, lb;
    __m256i ia = _mm256_setzero_si256(), ib = ia;
    __m256i xa = _mm256_set_epi64x(3, 2, 1, 0), xb = _mm256_set_epi64x(7, 6, 5, 4);
    const __m256i eight = _mm256_set1_epi64x(8);
    double m[8], m2[8];
    long long at[8];
    ptrdiff_t i;
    for (i = 0; i < stride; i += 8) {
        va = _mm256_add_pd(_mm256_loadu_pd(row + i), _mm256_loadu_pd(mask + i));
        vb = _mm256_add_pd(_mm256_loadu_pd(row + i + 4), _mm256_loadu_pd(mask + i + 4));
        if (second != NULL) { /* second = min(second, max(v, m)) */
            sa = _mm256_min_pd(sa, _mm256_max_pd(va, ma));
            sb = _mm256_min_pd(sb, _mm256_max_pd(vb, mb));
        }
        la = _mm256_cmp_pd(va, ma, _CMP_LT_OQ); /* strict: each lane keeps its first minimum */
        lb = _mm256_cmp_pd(vb, mb, _CMP_LT_OQ);
        ma = _mm256_min_pd(va, ma);
        mb = _mm256_min_pd(vb, mb);
        ia = _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(ia), _mm256_castsi256_pd(xa), la));
        ib = _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(ib), _mm256_castsi256_pd(xb), lb));
        xa = _mm256_add_epi64(xa, eight);
        xb = _mm256_add_epi64(xb, eight);
    }
    _mm256_storeu_pd(m, ma);
    _mm256_storeu_pd(m + 4, mb);
    _mm256_storeu_pd(m2, sa);
    _mm256_storeu_pd(m2 + 4, sb);
    _mm256_storeu_si256((__m256i *)at, ia);
    _mm256_storeu_si256((__m256i *)(at + 4), ib);
    return tp_lanes_min(m, at, m2, 8, best, second);
}
#endif

static int tp_scan_level = -1; /* 1: AVX2, 0: scalar; set on first use */

/* Whether the AVX2 forms run here. */
static inline int tp_avx2(void)
{
#ifdef TP_HAVE_AVX2_SCAN
    if (tp_scan_level < 0) {
        __builtin_cpu_init();
        tp_scan_level = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return tp_scan_level == 1;
#else
    return 0;
#endif
}

static ptrdiff_t tp_row_min(const double *row, const double *mask, ptrdiff_t stride,
                            double *best, double *second)
{
#ifdef TP_HAVE_AVX2_SCAN
    if (tp_avx2())
        return tp_row_min_avx2(row, mask, stride, best, second);
#endif
    return tp_row_min_scalar(row, mask, stride, best, second);
}

#ifdef TP_HAVE_AVX2_SCAN
/* The mirror of tp_distances for the 4 x 4 blocks strictly below the diagonal (rows
 * i0..i0+3, columns j0..j0+3, j0 + 4 <= i0 < n4, multiples of 4), by 32 x 32 tiles: each
 * block transposed in registers into rows j0..j0+3 (plain copies: the same values). */
__attribute__((target("avx2"))) static void tp_mirror_blocks_avx2(double *d64, ptrdiff_t n4,
                                                                   ptrdiff_t s)
{
    ptrdiff_t ib, jb, i0, j0, i_end, j_end;
    __m256d r0, r1, r2, r3, t0, t1, t2, t3;
    for (ib = 0; ib < n4; ib += 32) {
        i_end = ib + 32 < n4 ? ib + 32 : n4;
        for (jb = 0; jb <= ib; jb += 32) {
            for (i0 = ib; i0 < i_end; i0 += 4) {
                j_end = jb + 32 < i0 ? jb + 32 : i0;
                for (j0 = jb; j0 < j_end; j0 += 4) {
                    r0 = _mm256_loadu_pd(d64 + i0 * s + j0);
                    r1 = _mm256_loadu_pd(d64 + (i0 + 1) * s + j0);
                    r2 = _mm256_loadu_pd(d64 + (i0 + 2) * s + j0);
                    r3 = _mm256_loadu_pd(d64 + (i0 + 3) * s + j0);
                    t0 = _mm256_unpacklo_pd(r0, r1);
                    t1 = _mm256_unpackhi_pd(r0, r1);
                    t2 = _mm256_unpacklo_pd(r2, r3);
                    t3 = _mm256_unpackhi_pd(r2, r3);
                    _mm256_storeu_pd(d64 + j0 * s + i0, _mm256_permute2f128_pd(t0, t2, 0x20));
                    _mm256_storeu_pd(d64 + (j0 + 1) * s + i0, _mm256_permute2f128_pd(t1, t3, 0x20));
                    _mm256_storeu_pd(d64 + (j0 + 2) * s + i0, _mm256_permute2f128_pd(t0, t2, 0x31));
                    _mm256_storeu_pd(d64 + (j0 + 3) * s + i0, _mm256_permute2f128_pd(t1, t3, 0x31));
                }
            }
        }
    }
}
#endif

#ifdef TP_HAVE_AVX2_SCAN
static int tp_fma_level = -1; /* 1: AVX2 and FMA, 0: not; set on first use */

/* The sums of four vectors' lanes: (sum a, sum b, sum c, sum d). */
__attribute__((target("avx2,fma"))) static inline __m128 tp_hsum4(__m256 a, __m256 b,
                                                                  __m256 c, __m256 d)
{
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

/* The float32 Gram matrix's lower triangle (the diagonal included) of the n rows u (n x
 * d, d a multiple of 8) into g (rows of s floats; it may write a few entries above the
 * diagonal), by 4 x 3 blocks of dot products (12 accumulators, the 16 registers of
 * AVX2), each an 8-lane float32 FMA sum over d then the lanes added: ~30% faster than
 * OpenBLAS's ssyrk at 128 tokens (no packing), 3x at 32. Within the float32 bound of the
 * file's top (gamma_d per entry holds for any order of the sum, FMA included); rows past
 * n - 1 in a block read row n - 1 and are not stored. */
/* One row of a block, eight columns of d: row a's values times those of the three
 * block columns, into its three accumulators. */
#define TP_GRAM_ROW(a, c0, c1, c2)                                                          \
    do {                                                                                   \
        x = _mm256_loadu_ps((a) + k);                                                      \
        c0 = _mm256_fmadd_ps(x, y0, c0);                                                   \
        c1 = _mm256_fmadd_ps(x, y1, c1);                                                   \
        c2 = _mm256_fmadd_ps(x, y2, c2);                                                   \
    } while (0)

__attribute__((target("avx2,fma"))) static void tp_gram32_avx2(const float *u, ptrdiff_t n,
                                                               ptrdiff_t d, float *g,
                                                               ptrdiff_t s)
{
    ptrdiff_t i0, j0, k, p, q, last = n - 1;
    float r[12];
    __m256 c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32, x, y0, y1, y2;
    __m128 v0, v1, v2;
    for (i0 = 0; i0 < n; i0 += 4) {
        const float *a0 = u + i0 * d, *a1 = u + (i0 + 1 < n ? i0 + 1 : last) * d;
        const float *a2 = u + (i0 + 2 < n ? i0 + 2 : last) * d;
        const float *a3 = u + (i0 + 3 < n ? i0 + 3 : last) * d;
        for (j0 = 0; j0 <= i0 + 3 && j0 < n; j0 += 3) {
            const float *b0 = u + j0 * d, *b1 = u + (j0 + 1 < n ? j0 + 1 : last) * d;
            const float *b2 = u + (j0 + 2 < n ? j0 + 2 : last) * d;
            c00 = c01 = c02 = c10 = c11 = c12 = _mm256_setzero_ps();
            c20 = c21 = c22 = c30 = c31 = c32 = c00;
            for (k = 0; k < d; k += 8) {
                y0 = _mm256_loadu_ps(b0 + k);
                y1 = _mm256_loadu_ps(b1 + k);
                y2 = _mm256_loadu_ps(b2 + k);
                TP_GRAM_ROW(a0, c00, c01, c02);
                TP_GRAM_ROW(a1, c10, c11, c12);
                TP_GRAM_ROW(a2, c20, c21, c22);
                TP_GRAM_ROW(a3, c30, c31, c32);
            }
            /* vp: row i0 + p, columns j0 .. j0 + 2, then row i0 + 3's column j0 + p */
            v0 = tp_hsum4(c00, c01, c02, c30);
            v1 = tp_hsum4(c10, c11, c12, c31);
            v2 = tp_hsum4(c20, c21, c22, c32);
            if (j0 + 3 < i0 && i0 + 3 < n) {
                /* the whole block below the diagonal: four-float stores, whose fourth
                 * float (column j0 + 3) the next block of these rows then overwrites */
                _mm_storeu_ps(g + i0 * s + j0, v0);
                _mm_storeu_ps(g + (i0 + 1) * s + j0, v1);
                _mm_storeu_ps(g + (i0 + 2) * s + j0, v2);
                v0 = _mm_unpackhi_ps(v0, v1); /* (., ., v0[3], v1[3]) */
                v2 = _mm_unpackhi_ps(v2, v2); /* (., ., v2[3], v2[3]) */
                _mm_storeu_ps(g + (i0 + 3) * s + j0, _mm_shuffle_ps(v0, v2, 0xEE));
                continue;
            }
            _mm_storeu_ps(r, v0);
            _mm_storeu_ps(r + 4, v1);
            _mm_storeu_ps(r + 8, v2);
            for (p = 0; p < 4 && i0 + p < n; p++)
                for (q = 0; q < 3 && j0 + q <= i0 + p; q++)
                    g[(i0 + p) * s + j0 + q] = p < 3 ? r[4 * p + q] : r[4 * q + 3];
        }
    }
}
#undef TP_GRAM_ROW
#endif

/* The float32 Gram matrix's lower triangle (and diagonal) of u (n x d, row-major) into g
 * (rows of s floats): tp_gram32_avx2 where it runs (x86-64 with AVX2 and FMA, d a
 * multiple of 8), else BLAS ssyrk (row-major U is column-major U^T, d x n: G = (U^T)^T
 * U^T, whose upper triangle in column major is the lower one in row major). */
static void tp_gram32(const float *u, ptrdiff_t n, ptrdiff_t d, float *g, ptrdiff_t s,
                      tp_ssyrk_t ssyrk)
{
    char uplo = 'U', trans = 'T';
    int nn = (int)n, kk = (int)d, lda = (int)d, ldc = (int)s;
    float alpha = 1.0f, beta = 0.0f;
#ifdef TP_HAVE_AVX2_SCAN
    if (tp_fma_level < 0) {
        __builtin_cpu_init();
        tp_fma_level = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
    }
    if (tp_fma_level == 1 && d % 8 == 0) {
        tp_gram32_avx2(u, n, d, g, s);
        return;
    }
#endif
    ssyrk(&uplo, &trans, &nn, &kk, &alpha, (float *)u, &lda, &beta, g, &ldc);
}

/* Lance-Williams for Ward on squared distances, after clusters x (size nx) and y (size
 * ny), at squared distance dxy, merge into y: ry[i] becomes the distance of i to the
 * merged cluster, for every i < stride. size[i]: cluster sizes as doubles, 0 for dead and
 * padding slots (whose entries stay bounded junk or +inf, hidden by the mask). The same
 * operations in the same order as the scalar form, so the same bits. Also lowers lb[i]
 * to ry[i] + mask[i] and returns the smallest ry[i] + mask[i] (row y's minimum, once its
 * diagonal is +inf). */
static TP_CLONES double tp_lance_williams(const double *restrict rx, double *restrict ry,
                                          const double *restrict size,
                                          const double *restrict mask, double *restrict lb,
                                          ptrdiff_t stride, double nx, double ny, double dxy)
{
    ptrdiff_t i;
#if TP_VECTORS
    const tp_v4d vnx = {nx, nx, nx, nx}, vny = {ny, ny, ny, ny}, vd = {dxy, dxy, dxy, dxy};
    const tp_v4d one = {1.0, 1.0, 1.0, 1.0};
    tp_v4d ni, a, b, v, k, l, low = {INFINITY, INFINITY, INFINITY, INFINITY};
    tp_v4l lt;
    double out;
    for (i = 0; i < stride; i += 4) {
        memcpy(&ni, size + i, sizeof ni);
        memcpy(&a, rx + i, sizeof a);
        memcpy(&b, ry + i, sizeof b);
        v = ((ni + vnx) * a + (ni + vny) * b - ni * vd) * (one / (ni + vnx + vny));
        memcpy(ry + i, &v, sizeof v);
        memcpy(&k, mask + i, sizeof k);
        memcpy(&l, lb + i, sizeof l);
        v = v + k;
        lt = v < l;
        l = (tp_v4d)(((tp_v4l)v & lt) | ((tp_v4l)l & ~lt));
        memcpy(lb + i, &l, sizeof l);
        lt = v < low;
        low = (tp_v4d)(((tp_v4l)v & lt) | ((tp_v4l)low & ~lt));
    }
    out = low[0];
    for (i = 1; i < 4; i++)
        out = low[i] < out ? low[i] : out;
    return out;
#else
    double low = INFINITY;
    for (i = 0; i < stride; i++) {
        double ni = size[i], v;
        v = ((ni + nx) * rx[i] + (ni + ny) * ry[i] - ni * dxy) * (1.0 / (ni + nx + ny));
        ry[i] = v;
        v += mask[i];
        lb[i] = v < lb[i] ? v : lb[i];
        low = v < low ? v : low;
    }
    return low;
#endif
}

/* The smallest of lb[i] + mask[i], i < stride (a multiple of 8): exact, so any order
 * gives the same value; two sets of lanes, so the running minimum is no chain of
 * dependent steps. */
static TP_CLONES double tp_masked_min(const double *restrict lb, const double *restrict mask,
                                      ptrdiff_t stride)
{
    ptrdiff_t i;
    double low = INFINITY, v;
#if TP_VECTORS
    tp_v4d a, b, k, la = {INFINITY, INFINITY, INFINITY, INFINITY}, lo = la;
    tp_v4l lt;
    for (i = 0; i + 8 <= stride; i += 8) {
        memcpy(&a, lb + i, sizeof a);
        memcpy(&k, mask + i, sizeof k);
        a = a + k;
        lt = a < la;
        la = (tp_v4d)(((tp_v4l)a & lt) | ((tp_v4l)la & ~lt));
        memcpy(&b, lb + i + 4, sizeof b);
        memcpy(&k, mask + i + 4, sizeof k);
        b = b + k;
        lt = b < lo;
        lo = (tp_v4d)(((tp_v4l)b & lt) | ((tp_v4l)lo & ~lt));
    }
    for (int lane = 0; lane < 4; lane++) {
        low = la[lane] < low ? la[lane] : low;
        low = lo[lane] < low ? lo[lane] : low;
    }
#else
    i = 0;
#endif
    for (; i < stride; i++) {
        v = lb[i] + mask[i];
        low = v < low ? v : low;
    }
    return low;
}

/* One row of squared distances from a Gram matrix row (float32 g32 or float64 g64):
 * out[j] = max(0, gi + diag[j] - 2 g[j]) for j < i, each also lowering rowmin[j]; returns
 * their minimum. */
static TP_CLONES double tp_distance_row(const float *restrict g32, const double *g64,
                                        const double *restrict diag, double gi, ptrdiff_t i,
                                        double *out, double *restrict rowmin)
{
    ptrdiff_t j = 0;
    double v, mi = INFINITY;
#if TP_VECTORS
    const tp_v4d vg = {gi, gi, gi, gi}, two = {2.0, 2.0, 2.0, 2.0}, zero = {0.0, 0.0, 0.0, 0.0};
    tp_v4d dj, gj, w, r, m = {INFINITY, INFINITY, INFINITY, INFINITY};
    tp_v4l lt;
    for (; j + 4 <= i; j += 4) {
        memcpy(&dj, diag + j, sizeof dj);
        if (g32) {
            gj[0] = g32[j];
            gj[1] = g32[j + 1];
            gj[2] = g32[j + 2];
            gj[3] = g32[j + 3];
        } else {
            memcpy(&gj, g64 + j, sizeof gj);
        }
        w = vg + dj - two * gj;
        lt = w > zero;
        w = (tp_v4d)((tp_v4l)w & lt); /* max(0, w): +0.0 where w <= 0 */
        memcpy(out + j, &w, sizeof w);
        memcpy(&r, rowmin + j, sizeof r);
        lt = w < r;
        r = (tp_v4d)(((tp_v4l)w & lt) | ((tp_v4l)r & ~lt));
        memcpy(rowmin + j, &r, sizeof r);
        lt = w < m;
        m = (tp_v4d)(((tp_v4l)w & lt) | ((tp_v4l)m & ~lt));
    }
    for (int lane = 0; lane < 4; lane++)
        mi = m[lane] < mi ? m[lane] : mi;
#endif
    for (; j < i; j++) {
        v = gi + diag[j] - 2.0 * (g32 ? (double)g32[j] : g64[j]);
        v = v > 0.0 ? v : 0.0;
        out[j] = v;
        rowmin[j] = v < rowmin[j] ? v : rowmin[j];
        mi = v < mi ? v : mi;
    }
    return mi;
}

/* Squared distances from a Gram matrix's lower triangle (row-major, rows of stride
 * entries: float32 g32, or float64 in d64 itself when g32 is NULL) into the full float64
 * matrix d64: off the diagonal max(0, G_ii + G_jj - 2 G_ij) in float64, the diagonal and
 * the padding +inf; each row's smallest value into rowmin (s entries: +inf for the
 * padding). The lower triangle row by row
 * (vectorised), then mirrored by 32 x 32 tiles, so the strided writes stay in cache. */
static int tp_distances(const float *g32, double *d64, ptrdiff_t n, ptrdiff_t s,
                        double *rowmin)
{
    ptrdiff_t i, j, ib, jb, i_end, j_end;
    double mi;
    double *diag = (double *)malloc((size_t)(n + 1) * sizeof(double));
    if (diag == NULL)
        return -1;
    for (i = 0; i < n; i++)
        diag[i] = g32 ? (double)g32[i * s + i] : d64[i * s + i];
    for (i = 0; i < s; i++)
        rowmin[i] = INFINITY;
    for (i = 0; i < n; i++) {
        mi = tp_distance_row(g32 ? g32 + i * s : NULL, d64 + i * s, diag, diag[i], i,
                             d64 + i * s, rowmin);
        rowmin[i] = mi < rowmin[i] ? mi : rowmin[i];
    }
#ifdef TP_HAVE_AVX2_SCAN
    if (tp_avx2()) {
        /* whole 4 x 4 blocks below the diagonal in registers; then the rest: the
         * blocks on the diagonal and the last n % 4 rows */
        ptrdiff_t n4 = n & ~(ptrdiff_t)3;
        tp_mirror_blocks_avx2(d64, n4, s);
        for (i = 0; i < n; i++) {
            for (j = i < n4 ? i & ~(ptrdiff_t)3 : 0; j < i; j++)
                d64[j * s + i] = d64[i * s + j];
        }
        goto mirrored;
    }
#endif
    for (ib = 0; ib < n; ib += 32) {
        i_end = ib + 32 < n ? ib + 32 : n;
        for (jb = 0; jb <= ib; jb += 32) {
            for (i = ib; i < i_end; i++) {
                j_end = jb + 32 < i ? jb + 32 : i;
                for (j = jb; j < j_end; j++)
                    d64[j * s + i] = d64[i * s + j];
            }
        }
    }
#ifdef TP_HAVE_AVX2_SCAN
mirrored:
#endif
    for (i = 0; i < n; i++) {
        d64[i * s + i] = INFINITY;
        for (j = n; j < s; j++)
            d64[i * s + j] = INFINITY;
    }
    free(diag);
    return 0;
}

/* The float64 sum of the rows of the cluster in slot p (its linked list) into out. */
static void tp_cluster_sum(const tp_cert *c, ptrdiff_t p, double *out)
{
    ptrdiff_t r, k, d = c->d;
    const float *row;
    for (k = 0; k < d; k++)
        out[k] = 0.0;
    for (r = c->head[p]; r >= 0; r = c->next[r]) {
        row = c->u + r * d;
        for (k = 0; k < d; k++)
            out[k] += (double)row[k];
    }
}

/* 2ab/(a+b) |sp/a - sq/b|^2 in float64 (the Ward distance from cluster means). */
static double tp_mean_distance(const double *sp, const double *sq, ptrdiff_t d, double a, double b)
{
    double acc = 0.0, t;
    ptrdiff_t k;
    for (k = 0; k < d; k++) {
        t = sp[k] / a - sq[k] / b;
        acc += t * t;
    }
    return 2.0 * a * b / (a + b) * acc;
}

/* A near tie in the scan of row x: the candidates within `band` compared on cluster
 * means (their rows summed in float64). Returns the certified nearest neighbour, or -1
 * (a tie within float64 bounds). */
static ptrdiff_t tp_settle_scan(tp_cert *c, const double *row, const double *mask,
                                const double *size, ptrdiff_t s, ptrdiff_t x, double band,
                                double smax)
{
    ptrdiff_t i, found = -1;
    double r, best = INFINITY, second = INFINITY;
    double *sx = c->sums, *si = c->sums + c->d;
    tp_cluster_sum(c, x, sx);
    for (i = 0; i < s; i++) {
        if (mask[i] != 0.0 || i == x || !(row[i] <= band))
            continue;
        tp_cluster_sum(c, i, si);
        r = tp_mean_distance(sx, si, c->d, size[x], size[i]);
        tp_keep_two(r, i, &best, &second, &found);
    }
    c->near_ties++;
    if (found < 0 || (second < INFINITY && !(second - best > 2.0 * tp_tol(c->c64, size[x], smax, second))))
        return -1;
    return found;
}

/* Ward nearest-neighbour chain on the n x n squared distances d (rows of s; destroyed),
 * step by step as scipy's nn_chain: the chain starts at the lowest live slot, a nearest
 * neighbour is the lowest index at the smallest distance, the chain's previous element
 * wins ties; the merged cluster lives in the higher slot. The Lance-Williams update is
 * written on squared distances (no square roots). A neighbour search is a vectorised
 * minimum over a whole row (tp_row_min), the update rewrites the merged cluster's whole
 * row (tp_lance_williams) and mirrors it into the live rows only. With cert (float32
 * Gram matrix) every scan is certified (see the top of this file).
 *
 * It stops as soon as the cut is known: Ward is reducible (merging never brings a
 * cluster closer than the nearer of its parts), so every merge still to come is at least
 * as high as the smallest distance between live clusters, of which lb[] keeps a lower
 * bound per row (exact after a scan, lowered by every mirrored update). Once the
 * merges made so far hold the n - k' the cut needs below that bound (and, with a
 * threshold, the bound is above it), the rest cannot change the cut: *done gets the
 * merges made, *future_low the bound (the remaining merges are at least that high).
 *
 * rowmin: each row's smallest value (tp_distances), s entries (the padding +inf; the
 * update and the lower bound pass over whole rows). Returns 0, -1 when out of memory, -2
 * for a tie the float32 path cannot decide. */
static int tp_chain(double *d, ptrdiff_t n, ptrdiff_t s, tp_merge *merges, tp_cert *cert,
                    double *rowmin, ptrdiff_t k, double threshold_sq, ptrdiff_t *done,
                    double *future_low)
{
    ptrdiff_t *live = (ptrdiff_t *)malloc((size_t)(n + 1) * sizeof(ptrdiff_t));
    ptrdiff_t *chain = (ptrdiff_t *)malloc((size_t)(n + 1) * sizeof(ptrdiff_t));
    double *size = (double *)malloc((size_t)(s + 1) * sizeof(double));
    double *mask = (double *)malloc((size_t)(s + 1) * sizeof(double));
    double *lb = rowmin;
    ptrdiff_t n_live = n, chain_len = 0, step, t, i, x = 0, y = 0, prev, need, below, count;
    ptrdiff_t every = n / 32 > 1 ? n / 32 : 1;
    double best = 0.0, second, dxy, nx, ny, e, smax = 1.0, ymin, low, h;
    double *row, *rowy;
    int status = 0;
    *done = n - 1;
    *future_low = INFINITY;
    if (live == NULL || chain == NULL || size == NULL || mask == NULL) {
        status = -1;
        goto done;
    }
    for (i = 0; i < s; i++) {
        size[i] = i < n ? 1.0 : 0.0;
        mask[i] = i < n ? 0.0 : INFINITY;
    }
    for (i = 0; i < n; i++)
        live[i] = i;
    if (cert != NULL) {
        for (i = 0; i < n; i++) {
            cert->head[i] = cert->tail[i] = i;
            cert->next[i] = -1;
        }
    }
    for (step = 0; step < n - 1; step++) {
        if (chain_len == 0) {
            chain[0] = live[0];
            chain_len = 1;
        }
        for (;;) {
            x = chain[chain_len - 1];
            row = d + x * s;
            prev = chain_len > 1 ? chain[chain_len - 2] : -1;
            if (cert == NULL) {
                y = tp_row_min(row, mask, s, &best, NULL);
                lb[x] = best;
                if (prev >= 0 && row[prev] <= best)
                    break; /* the previous element is a nearest neighbour: x and it merge */
            } else {
                y = tp_row_min(row, mask, s, &best, &second);
                lb[x] = best;
                e = tp_tol(cert->c32, size[x], smax, second);
                if (second < INFINITY && !(second - best > 2.0 * e)) {
                    y = tp_settle_scan(cert, row, mask, size, s, x, best + 2.0 * e, smax);
                    if (y < 0) {
                        status = -2;
                        goto done;
                    }
                    best = row[y];
                }
                if (y == prev)
                    break; /* certified: the previous element is the nearest neighbour */
            }
            if (cert != NULL && chain_len >= n_live) { /* never with consistent decisions */
                status = -2;
                goto done;
            }
            chain[chain_len] = y;
            chain_len += 1;
        }
        y = chain[chain_len - 2];
        chain_len -= 2;
        if (x > y) {
            t = x;
            x = y;
            y = t;
        }
        nx = size[x];
        ny = size[y];
        merges[step].height = best;
        merges[step].order = step;
        merges[step].x = x;
        merges[step].y = y;
        merges[step].a = nx;
        merges[step].b = ny;
        merges[step].upper = cert ? best + tp_tol(cert->c32, nx, ny, best) : best;
        if (cert != NULL) { /* the rows of x join those of y */
            cert->next[cert->tail[y]] = cert->head[x];
            cert->tail[y] = cert->tail[x];
        }
        size[y] = nx + ny;
        size[x] = 0.0; /* dead: its junk entries stay bounded (a convex combination) */
        if (nx + ny > smax)
            smax = nx + ny;
        mask[x] = INFINITY;
        /* drop slot x from the live list (kept in index order: the chain restarts at its head) */
        t = 0;
        while (live[t] != x)
            t++;
        n_live--;
        for (; t < n_live; t++)
            live[t] = live[t + 1];
        /* row y rewritten whole, then mirrored into column y of the live rows */
        dxy = best;
        row = d + x * s;
        rowy = d + y * s;
        ymin = tp_lance_williams(row, rowy, size, mask, lb, s, nx, ny, dxy);
        rowy[y] = INFINITY; /* (it came out +inf, as rowy[y] was) */
        lb[y] = ymin;       /* lb[y] was lowered to +inf + 0: set it to the row's minimum */
        for (t = 0; t < n_live; t++) {
            i = live[t];
            d[i * s + y] = rowy[i];
        }
        /* stop once the merges made decide the cut (see above); checked every `every`
         * merges (a check reads all merges made), and without a threshold only once
         * the n - k merges the cut needs are made */
        if (step + 2 < n && n_live > 1 && (step + 1) % every == 0
            && (threshold_sq >= 0.0 || step + 1 >= n - k)) {
            low = tp_masked_min(lb, mask, s); /* no live pair is closer than low */
            /* each Lance-Williams step rounds a value at least the nearer part's distance
             * down by at most 8 units of the last place: 1e-11 covers 2,048 levels */
            low *= 1.0 - 1e-11;
            if (cert != NULL)
                low -= cert->c32 * smax / 2.0 + TP_SLACK * (1.0 + fabs(low));
            if (threshold_sq >= 0.0 && !(low > threshold_sq))
                continue;
            need = n - k;
            if (threshold_sq >= 0.0) {
                below = 0;
                for (t = 0; t <= step; t++)
                    below += merges[t].height <= threshold_sq;
                if (n - below < k)
                    need = below;
            }
            if (step + 1 < need)
                continue;
            count = 0;
            for (t = 0; t <= step; t++) {
                h = merges[t].upper;
                count += cert ? h < low : h <= low;
            }
            if (count >= need) {
                *done = step + 1;
                *future_low = low;
                break;
            }
        }
    }
done:
    free(live);
    free(chain);
    free(size);
    free(mask);
    return status;
}

static inline int tp_lower(const tp_merge *a, const tp_merge *b, const double *key)
{
    double ka = key ? key[a->order] : a->height, kb = key ? key[b->order] : b->height;
    return ka < kb || (ka == kb && a->order < b->order);
}

/* Reorder m[0:n] so that its `count` lowest merges (by key[order], else height; ties by
 * order) come first (quickselect). */
static void tp_select_lowest(tp_merge *m, ptrdiff_t n, ptrdiff_t count, const double *key)
{
    ptrdiff_t lo = 0, hi = n - 1, i, j, mid;
    tp_merge pivot, tmp;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        pivot = m[mid];
        i = lo;
        j = hi;
        while (i <= j) {
            while (tp_lower(&m[i], &pivot, key))
                i++;
            while (tp_lower(&pivot, &m[j], key))
                j--;
            if (i <= j) {
                tmp = m[i];
                m[i] = m[j];
                m[j] = tmp;
                i++;
                j--;
            }
        }
        /* m[lo..j] <= pivot <= m[i..hi]; keep the side that holds position count - 1 */
        if (count - 1 <= j)
            hi = j;
        else if (count - 1 >= i)
            lo = i;
        else
            return;
    }
}

static ptrdiff_t tp_find(ptrdiff_t *parent, ptrdiff_t i)
{
    ptrdiff_t root = i, nxt;
    while (parent[root] != root)
        root = parent[root];
    while (parent[i] != root) { /* path compression */
        nxt = parent[i];
        parent[i] = root;
        i = nxt;
    }
    return root;
}

/* Heights of all merges (by order) on float64 cluster means, replayed from the rows.
 * Returns 0, or -1 when out of memory. */
static int tp_mean_heights(tp_cert *c, const tp_merge *m, ptrdiff_t count, double *out)
{
    ptrdiff_t i, k, d = c->d;
    ptrdiff_t *at = (ptrdiff_t *)malloc((size_t)(count + 1) * sizeof(ptrdiff_t));
    const tp_merge *mi;
    if (at == NULL)
        return -1;
    for (i = 0; i < count; i++)
        at[m[i].order] = i;
    for (i = 0; i < c->n * d; i++)
        c->sums[i] = (double)c->u[i];
    for (i = 0; i < count; i++) {
        mi = m + at[i];
        out[i] = tp_mean_distance(c->sums + mi->x * d, c->sums + mi->y * d, d, mi->a, mi->b);
        for (k = 0; k < d; k++)
            c->sums[mi->y * d + k] += c->sums[mi->x * d + k];
    }
    free(at);
    return 0;
}

/* The cut: labels 0..k'-1 (by first row) of the partition after the n - k lowest merges,
 * k' = min(k, n - #merges at height <= threshold_sq) when threshold_sq >= 0. m: the
 * `count` merges the chain made (count < n - 1 when it stopped early: the others are at
 * least future_low high, see tp_chain). With cert, every comparison is certified (see
 * the top of this file). Returns k', -1 when out of memory, -2 for a tie the float32
 * path cannot decide. */
static ptrdiff_t tp_cut(tp_merge *m, ptrdiff_t n, ptrdiff_t count, double future_low,
                        ptrdiff_t k, double threshold_sq, tp_cert *cert, ptrdiff_t *labels)
{
    ptrdiff_t *parent = (ptrdiff_t *)malloc((size_t)(n + 1) * sizeof(ptrdiff_t));
    double *key = NULL, h, e, c = 0.0, top_in, low_out;
    ptrdiff_t i, below = 0, root, next_label = 0, merges_made = 0;
    int certain = 1, attempt;
    if (parent == NULL)
        return -1;
    for (attempt = 0; attempt < 2; attempt++) {
        if (cert != NULL)
            c = key ? cert->c64 : cert->c32;
        certain = 1;
        if (threshold_sq >= 0.0) {
            below = 0;
            for (i = 0; i < count; i++) {
                h = key ? key[m[i].order] : m[i].height;
                if (h <= threshold_sq)
                    below++;
                if (cert != NULL && !(fabs(h - threshold_sq) > tp_tol(c, m[i].a, m[i].b, h)))
                    certain = 0;
            }
        }
        merges_made = n - (threshold_sq >= 0.0 && n - below < k ? n - below : k);
        if (certain && 0 < merges_made && merges_made < count)
            tp_select_lowest(m, count, merges_made, key);
        if (certain && cert != NULL && 0 < merges_made && merges_made < n - 1) {
            top_in = -INFINITY;
            low_out = future_low;
            for (i = 0; i < count; i++) {
                h = key ? key[m[i].order] : m[i].height;
                e = tp_tol(c, m[i].a, m[i].b, h);
                if (i < merges_made && h + e > top_in)
                    top_in = h + e;
                if (i >= merges_made && h - e < low_out)
                    low_out = h - e;
            }
            certain = top_in < low_out;
        }
        if (certain || cert == NULL || key != NULL)
            break;
        /* a near tie at the cut: heights again on float64 cluster means */
        key = (double *)malloc((size_t)(count + 1) * sizeof(double));
        if (key == NULL) {
            free(parent);
            return -1;
        }
        if (tp_mean_heights(cert, m, count, key) != 0) {
            free(key);
            free(parent);
            return -1;
        }
        cert->near_ties++;
    }
    free(key);
    if (!certain) {
        free(parent);
        return -2;
    }
    /* the n - k' lowest merges, as unions in any order: the merges form a tree over the
     * slots, so any n - k' of them leave exactly k' components */
    for (i = 0; i < n; i++)
        parent[i] = i;
    for (i = 0; i < merges_made; i++)
        parent[tp_find(parent, m[i].x)] = tp_find(parent, m[i].y);
    for (i = 0; i < n; i++)
        labels[i] = tp_find(parent, i); /* the root slot, for now */
    /* renumber roots by first row: a root's label is assigned when its first row is met */
    for (i = 0; i < n; i++)
        parent[i] = -1;
    for (i = 0; i < n; i++) {
        root = labels[i];
        if (parent[root] < 0)
            parent[root] = next_label++;
        labels[i] = parent[root];
    }
    free(parent);
    return n - merges_made;
}

/* Labels of the Ward cut of the n rows u (float32 n x d, row-major), at most k clusters
 * (fewer where threshold_sq >= 0 merges more); see the top of this file. top_norm2: an
 * upper bound on the rows' squared norms (for the float32 bounds). work: at least
 * tp_work_doubles(n, d) doubles. use32: try the float32 Gram matrix first (needs
 * ssyrk). Returns k' >= 1, or -1 when out of memory. */
static ptrdiff_t tp_ward_cut(const float *u, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k,
                             double threshold_sq, double top_norm2, double *work,
                             ptrdiff_t *labels, int use32, tp_dsyrk_t dsyrk, tp_ssyrk_t ssyrk,
                             tp_stats *stats)
{
    ptrdiff_t s = tp_stride(n), i, got, count;
    double *dist = work, *region = work + n * s, top = top_norm2, future_low;
    tp_merge *merges = (tp_merge *)malloc((size_t)n * sizeof(tp_merge));
    double *rowmin = (double *)malloc((size_t)(s + 1) * sizeof(double)); /* a row's worth */
    tp_cert cert;
    char uplo = 'U', trans = 'T';
    int nn = (int)n, kk = (int)d, lda = (int)d, ldc = (int)s, status;
    if (merges == NULL || rowmin == NULL) {
        free(merges);
        free(rowmin);
        return -1;
    }
    if (use32 && ssyrk != NULL) {
        tp_gram32(u, n, d, (float *)region, s, ssyrk);
        if (tp_distances((const float *)region, dist, n, s, rowmin) != 0) {
            free(merges);
            free(rowmin);
            return -1;
        }
        cert.u = u;
        cert.n = n;
        cert.d = d;
        cert.sums = region; /* the float32 Gram matrix is no longer needed */
        cert.head = (ptrdiff_t *)malloc((size_t)(3 * n + 1) * sizeof(ptrdiff_t));
        if (cert.head == NULL) {
            free(merges);
            free(rowmin);
            return -1;
        }
        cert.tail = cert.head + n;
        cert.next = cert.head + 2 * n;
        cert.near_ties = 0;
        {
            double g32 = tp_gamma((double)d, ldexp(1.0, -24)) * top * (1.0 + 1e-6);
            double g64 = tp_gamma((double)d + 2.0, ldexp(1.0, -53)) * top * (1.0 + 1e-6);
            double gm = 2.0 * top * (1.0 + 1e-6)
                        * (8.0 * sqrt((double)d) * tp_gamma((double)n + 2.0, ldexp(1.0, -53))
                           + 4.0 * tp_gamma((double)d + 4.0, ldexp(1.0, -53)));
            cert.c32 = 16.0 * (g32 + g64);
            cert.c64 = 16.0 * g64 + gm;
        }
        status = tp_chain(dist, n, s, merges, &cert, rowmin, k, threshold_sq, &count,
                          &future_low);
        got = status == 0
                  ? tp_cut(merges, n, count, future_low, k, threshold_sq, &cert, labels)
                  : status;
        free(cert.head);
        stats->near_ties += cert.near_ties;
        if (got == -1 || status == -1) {
            free(merges);
            free(rowmin);
            return -1;
        }
        if (got > 0) {
            stats->float32_docs++;
            free(merges);
            free(rowmin);
            return got;
        }
    }
    {
        double alpha = 1.0, beta = 0.0;
        double *u64 = region;
        for (i = 0; i < n * d; i++)
            u64[i] = (double)u[i];
        dsyrk(&uplo, &trans, &nn, &kk, &alpha, u64, &lda, &beta, dist, &ldc);
    }
    if (tp_distances(NULL, dist, n, s, rowmin) != 0
        || tp_chain(dist, n, s, merges, NULL, rowmin, k, threshold_sq, &count, &future_low) != 0) {
        free(merges);
        free(rowmin);
        return -1;
    }
    got = tp_cut(merges, n, count, future_low, k, threshold_sq, NULL, labels);
    stats->float64_docs++;
    free(merges);
    free(rowmin);
    return got;
}

#endif /* QDRANT_TOKENPOOL_WARD_H */
