/* Exact MaxSim of query token vectors against packed documents (included by _kernels.pyx).
 *
 * score[j, i] = sum over the tokens q of query j of max over the tokens t of document i of
 * <q, t>: the dot products of a document's tokens with all query tokens are computed in
 * registers (tiles of 6 document tokens x 16 query tokens, 12 AVX2 accumulators, FMA) and
 * reduced to their maximum at once, so no similarity matrix is ever written. The query
 * tokens are first laid out in blocks of 16 (d x 16 floats each, zero-padded). x86-64
 * with AVX2 and FMA only (tp_maxsim_supported); elsewhere maxsim.py keeps its numpy path.
 * Float32 throughout: equal to numpy's product within float32 rounding (~1e-6 here).
 */
#ifndef QDRANT_TOKENPOOL_MAXSIM_H
#define QDRANT_TOKENPOOL_MAXSIM_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TP_QB 16 /* query tokens per block */

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define TP_HAVE_MAXSIM 1

static int tp_maxsim_supported(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* Running maxima m[0..16) of the dot products of R document tokens (rows of doc, d
 * floats each) with one block of 16 query tokens (qb: d x 16 floats). */
#define TP_TILE(R)                                                                           \
    __attribute__((target("avx2,fma"))) static inline void tp_tile##R(                      \
        const float *doc, ptrdiff_t d, const float *qb, __m256 *m0, __m256 *m1)             \
    {                                                                                        \
        __m256 a0[R], a1[R], q0, q1, t;                                                      \
        ptrdiff_t k;                                                                         \
        int r;                                                                               \
        for (r = 0; r < R; r++) {                                                            \
            a0[r] = _mm256_setzero_ps();                                                     \
            a1[r] = _mm256_setzero_ps();                                                     \
        }                                                                                    \
        for (k = 0; k < d; k++) {                                                            \
            q0 = _mm256_loadu_ps(qb + k * TP_QB);                                            \
            q1 = _mm256_loadu_ps(qb + k * TP_QB + 8);                                        \
            for (r = 0; r < R; r++) {                                                        \
                t = _mm256_broadcast_ss(doc + r * d + k);                                    \
                a0[r] = _mm256_fmadd_ps(t, q0, a0[r]);                                       \
                a1[r] = _mm256_fmadd_ps(t, q1, a1[r]);                                       \
            }                                                                                \
        }                                                                                    \
        for (r = 0; r < R; r++) {                                                            \
            *m0 = _mm256_max_ps(*m0, a0[r]);                                                 \
            *m1 = _mm256_max_ps(*m1, a1[r]);                                                 \
        }                                                                                    \
    }

TP_TILE(1)
TP_TILE(2)
TP_TILE(3)
TP_TILE(4)
TP_TILE(5)
TP_TILE(6)

/* Query tokens q (T x d, row-major) into blocks of 16: out[b][k][j] = q[16 b + j][k],
 * zero for j past T. out: ceil(T / 16) * d * 16 floats. */
static void tp_query_blocks(const float *q, ptrdiff_t T, ptrdiff_t d, float *out)
{
    ptrdiff_t b, k, j, nb = (T + TP_QB - 1) / TP_QB;
    for (b = 0; b < nb; b++)
        for (k = 0; k < d; k++)
            for (j = 0; j < TP_QB; j++)
                out[(b * d + k) * TP_QB + j] = b * TP_QB + j < T ? q[(b * TP_QB + j) * d + k] : 0.0f;
}

/* Scores of documents lo..hi-1 (tokens[offsets[i]:offsets[i+1]], d floats each) against
 * the queries whose tokens are blocks (tp_query_blocks of T tokens) and whose token ranges
 * are qstarts[0..nq] (qstarts[nq] == T): out[j * out_stride + i]. maxbuf: room for
 * ceil(T / 16) * 16 floats. */
__attribute__((target("avx2,fma"))) static void
tp_maxsim(const float *blocks, ptrdiff_t T, const int64_t *qstarts, ptrdiff_t nq,
          const float *tokens, const int64_t *offsets, ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t d,
          float *out, ptrdiff_t out_stride, float *maxbuf)
{
    ptrdiff_t i, b, t, j, q, nb = (T + TP_QB - 1) / TP_QB, end, left;
    const float *doc;
    float s;
    for (i = lo; i < hi; i++) {
        doc = tokens + offsets[i] * d;
        end = offsets[i + 1] - offsets[i];
        for (b = 0; b < nb; b++) {
            const float *qb = blocks + b * d * TP_QB;
            __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
            for (t = 0; t + 6 <= end; t += 6) {
                if (b == 0) /* read ahead: the rows two tiles on (the next document's too) */
                    for (j = 0; j < 6 * d; j += 16)
                        _mm_prefetch((const char *)(doc + (t + 12) * d + j), _MM_HINT_T0);
                tp_tile6(doc + t * d, d, qb, &m0, &m1);
            }
            left = end - t;
            switch (left) {
            case 5: tp_tile5(doc + t * d, d, qb, &m0, &m1); break;
            case 4: tp_tile4(doc + t * d, d, qb, &m0, &m1); break;
            case 3: tp_tile3(doc + t * d, d, qb, &m0, &m1); break;
            case 2: tp_tile2(doc + t * d, d, qb, &m0, &m1); break;
            case 1: tp_tile1(doc + t * d, d, qb, &m0, &m1); break;
            default: break;
            }
            _mm256_storeu_ps(maxbuf + b * TP_QB, m0);
            _mm256_storeu_ps(maxbuf + b * TP_QB + 8, m1);
        }
        for (j = 0; j < nq; j++) {
            s = 0.0f;
            for (q = qstarts[j]; q < qstarts[j + 1]; q++)
                s += maxbuf[q];
            out[j * out_stride + i] = s;
        }
    }
}
#else
#define TP_HAVE_MAXSIM 0
static int tp_maxsim_supported(void) { return 0; }
static void tp_query_blocks(const float *q, ptrdiff_t T, ptrdiff_t d, float *out)
{
    (void)q; (void)T; (void)d; (void)out;
}
static void tp_maxsim(const float *blocks, ptrdiff_t T, const int64_t *qstarts, ptrdiff_t nq,
                      const float *tokens, const int64_t *offsets, ptrdiff_t lo, ptrdiff_t hi,
                      ptrdiff_t d, float *out, ptrdiff_t out_stride, float *maxbuf)
{
    (void)blocks; (void)T; (void)qstarts; (void)nq; (void)tokens; (void)offsets; (void)lo;
    (void)hi; (void)d; (void)out; (void)out_stride; (void)maxbuf;
}
#endif

#endif /* QDRANT_TOKENPOOL_MAXSIM_H */
