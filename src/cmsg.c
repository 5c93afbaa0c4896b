/* rumor — compressed vectors (see cmsg.h). */
#include "rumor/cmsg.h"
#include "rumor/err.h"

#include <stdlib.h>
#include <string.h>

int rumor_cmsg_init(rumor_cmsg_t *m, uint32_t d)
{
    memset(m, 0, sizeof *m);
    const size_t n = d ? d : 1;
    m->q = calloc(n, sizeof *m->q);
    m->idx = calloc(n, sizeof *m->idx);
    m->val = calloc(n, sizeof *m->val);
    m->bend = calloc(n, sizeof *m->bend);
    m->scales = calloc(n, sizeof *m->scales);
    if (!m->q || !m->idx || !m->val || !m->bend || !m->scales) {
        rumor_cmsg_free(m);
        return RUMOR_ENOMEM;
    }
    m->d = d;
    m->cap_d = d;
    m->kind = RUMOR_CMSG_DENSE;
    m->nnz = d;
    return 0;
}

void rumor_cmsg_free(rumor_cmsg_t *m)
{
    free(m->q);
    free(m->idx);
    free(m->val);
    free(m->bend);
    free(m->scales);
    memset(m, 0, sizeof *m);
}

enum { S_AHEAD = 16 }; /* entries between a prefetch and its use */

/* 1 when v is infinite or NaN (exponent bits all ones); branch-free, so OR-ing it vectorises. */
static inline unsigned s_nonfinite(float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    return (bits & 0x7f800000u) == 0x7f800000u;
}

/* Entry k of the update: y[k] + x (0 + x without y), into out[k] unless out is NULL. */
static inline __attribute__((always_inline)) void s_put(const float *y, float *out, uint32_t k,
                                                        float x, unsigned *bad)
{
    const float v = (y ? y[k] : 0.0f) + x;
    if (out) out[k] = v;
    *bad |= s_nonfinite(v);
}

/* y + alpha value(m) on every entry m touches (y = NULL reads as zeros), stored into out
 * unless it is NULL; returns 1 when every result, and the INT step, is finite. The one body
 * of rumor_cmsg_axpy (out = y, result unused) and rumor_cmsg_axpy_finite (out = NULL), so the
 * check computes exactly what the update writes. */
static inline __attribute__((always_inline)) int s_axpy(const rumor_cmsg_t *m, float alpha,
                                                        const float *y, float *out)
{
    unsigned bad = 0;
    switch (m->kind) {
    case RUMOR_CMSG_DENSE:
        for (uint32_t k = 0; k < m->d; k++) s_put(y, out, k, alpha * m->val[k], &bad);
        break;
    case RUMOR_CMSG_INT: {
        /* one step per bucket (a single bucket [0, d) without buckets) */
        const uint32_t nb = m->nb ? m->nb : 1, *bend = m->nb ? m->bend : &m->d;
        const float *steps = m->nb ? m->scales : &m->scale;
        const int32_t *q = m->q;
        for (uint32_t b = 0; b < nb; b++) bad |= s_nonfinite(alpha * steps[b]);
        if (m->listed) {
            /* y is usually out of cache: ask for the lines a few entries ahead (and q's, unless
             * it is packed and read in order) */
            const uint32_t *idx = m->idx, n = m->nnz;
            uint32_t b = 0;
            float a = alpha * steps[0];
            for (uint32_t j = 0; j < n; j++) {
                if (y && j + S_AHEAD < n) {
                    __builtin_prefetch(&y[idx[j + S_AHEAD]], 1);
                    if (!m->packed) __builtin_prefetch(&q[idx[j + S_AHEAD]], 0);
                }
                const uint32_t k = idx[j];
                while (k >= bend[b]) a = alpha * steps[++b];
                s_put(y, out, k, a * (float)q[m->packed ? j : k], &bad);
            }
        } else {
            for (uint32_t b = 0, k = 0; b < nb; b++) {
                const float a = alpha * steps[b];
                for (; k < bend[b]; k++) s_put(y, out, k, a * (float)q[k], &bad);
            }
        }
        break;
    }
    case RUMOR_CMSG_SPARSE:
        for (uint32_t j = 0; j < m->nnz; j++) s_put(y, out, m->idx[j], alpha * m->val[j], &bad);
        break;
    }
    return !bad;
}

void rumor_cmsg_axpy(const rumor_cmsg_t *m, float alpha, float *y)
{
    if (!y) __builtin_unreachable(); /* lets the compiler drop the no-y paths */
    (void)s_axpy(m, alpha, y, y);
}

int rumor_cmsg_axpy_finite(const rumor_cmsg_t *m, float alpha, const float *y)
{
    return s_axpy(m, alpha, y, NULL);
}

/* Bit j set when q[j] != 0, j < 64. */
static inline uint64_t s_nonzero64(const int32_t *q)
{
    uint64_t bits = 0;
    for (unsigned w = 0; w < 4; w++) {
        rumor_cmsg_lanes_t v;
        memcpy(&v, q + 16 * w, sizeof v);
        bits |= rumor_cmsg_nonzero16(v) << (16 * w);
    }
    return bits;
}

uint32_t rumor_cmsg_list(rumor_cmsg_t *m)
{
    m->listed = 1;
    return rumor_cmsg_support(m, m->idx);
}

uint32_t rumor_cmsg_support(const rumor_cmsg_t *m, uint32_t *restrict pos)
{
    RUMOR_ASSERT(!m->packed);
    const int32_t *q = m->q;
    const uint32_t d = m->d;
    uint32_t n = 0, k = 0;
    /* Levels are mostly zero: only the marked ones of each 64 are visited. */
    for (; k + 64 <= d; k += 64)
        for (uint64_t bits = s_nonzero64(q + k); bits; bits &= bits - 1)
            pos[n++] = k + (uint32_t)__builtin_ctzll(bits);
    for (; k < d; k++)
        if (q[k]) pos[n++] = k;
    return n;
}

void rumor_cmsg_int_clear(rumor_cmsg_t *m, uint32_t d)
{
    RUMOR_ASSERT(d <= m->cap_d);
    if (m->kind == RUMOR_CMSG_INT && m->listed && m->packed && m->nnz <= m->d &&
        m->d <= m->cap_d) { /* the levels lie in q[0..nnz) */
        memset(m->q, 0, (size_t)m->nnz * sizeof *m->q);
        if (d > m->d) memset(m->q + m->d, 0, (size_t)(d - m->d) * sizeof *m->q);
    } else if (m->kind == RUMOR_CMSG_INT && m->listed && m->nnz <= m->d / RUMOR_CMSG_SPARSE_DIV &&
               m->d <= m->cap_d) {
        for (uint32_t j = 0; j < m->nnz; j++) {
            if (j + S_AHEAD < m->nnz && m->idx[j + S_AHEAD] < m->cap_d)
                __builtin_prefetch(&m->q[m->idx[j + S_AHEAD]], 1);
            if (m->idx[j] < m->cap_d) m->q[m->idx[j]] = 0;
        }
        if (d > m->d) memset(m->q + m->d, 0, (size_t)(d - m->d) * sizeof *m->q);
    } else {
        memset(m->q, 0, (size_t)d * sizeof *m->q);
    }
    m->kind = RUMOR_CMSG_INT;
    m->d = d;
    m->nnz = 0;
    m->nb = 0;
    m->listed = 1;
    m->packed = 0;
}

void rumor_cmsg_to_dense(const rumor_cmsg_t *m, float *out)
{
    memset(out, 0, (size_t)m->d * sizeof *out);
    rumor_cmsg_axpy(m, 1.0f, out);
}

int rumor_cmsg_check(const rumor_cmsg_t *m)
{
    if (m->d > m->cap_d) return RUMOR_EFORMAT;
    switch (m->kind) {
    case RUMOR_CMSG_DENSE:
        return m->nnz == m->d ? 0 : RUMOR_EFORMAT;
    case RUMOR_CMSG_INT: {
        if (m->packed && !m->listed) return RUMOR_EFORMAT;
        if (m->nb) {
            if (m->nb < 2 || m->nb > m->d || m->bend[m->nb - 1] != m->d) return RUMOR_EFORMAT;
            unsigned bad = m->bend[0] == 0;
            for (uint32_t j = 1; j < m->nb; j++) bad |= m->bend[j] <= m->bend[j - 1];
            if (bad) return RUMOR_EFORMAT;
        }
        if (m->listed) {
            if (m->nnz > m->d) return RUMOR_EFORMAT;
            /* strictly ascending with the last below d; violations OR-ed, which vectorises */
            const uint32_t *idx = m->idx;
            unsigned bad = m->nnz && idx[m->nnz - 1] >= m->d;
            for (uint32_t j = 1; j < m->nnz; j++) bad |= idx[j] <= idx[j - 1];
            if (bad) return RUMOR_EFORMAT;
            if (m->packed) { /* every listed level nonzero, in order */
                for (uint32_t j = 0; j < m->nnz; j++) bad |= m->q[j] == 0;
                return bad ? RUMOR_EFORMAT : 0;
            }
            if (m->nnz > m->d / RUMOR_CMSG_SPARSE_DIV) break; /* counted through q, below */
            for (uint32_t j = 0; j < m->nnz; j++) bad |= m->q[idx[j]] == 0;
            return bad ? RUMOR_EFORMAT : 0;
        }
        break;
    }
    case RUMOR_CMSG_SPARSE:
        if (m->nnz > m->d) return RUMOR_EFORMAT;
        for (uint32_t j = 0; j < m->nnz; j++) {
            if (m->idx[j] >= m->d) return RUMOR_EFORMAT;
            if (j > 0 && m->idx[j] <= m->idx[j - 1]) return RUMOR_EFORMAT;
        }
        return 0;
    default:
        return RUMOR_EFORMAT;
    }
    /* INT: as many nonzero levels as nnz says */
    uint32_t nz = 0;
    for (uint32_t k = 0; k < m->d; k++) nz += m->q[k] != 0;
    return nz == m->nnz ? 0 : RUMOR_EFORMAT;
}
