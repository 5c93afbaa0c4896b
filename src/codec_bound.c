/* rumor — the entropy bound of a message (DESIGN.md section 3), the limit `rumor bench codec`
 * compares every mode against. */
#include "codec_bits.h"
#include "rumor/codec.h"

#include <math.h>
#include <string.h>

/* ln n!, exact summation below 32 and Stirling's series above (error < 1e-12). Avoids lgamma,
 * which writes the global signgam. */
static double s_lnfact(double n)
{
    if (n < 32) {
        double s = 0;
        for (double k = 2; k <= n; k++) s += log(k);
        return s;
    }
    const double inv = 1.0 / n, inv2 = inv * inv;
    return n * log(n) - n + 0.5 * log(2 * M_PI * n) +
           inv * (1.0 / 12 - inv2 * (1.0 / 360 - inv2 * (1.0 / 1260)));
}

static double s_log2_binom(uint32_t d, uint32_t k)
{
    return (s_lnfact(d) - s_lnfact(k) - s_lnfact((double)d - k)) / M_LN2;
}

/* nnz * H(magnitudes | nonzero) in bits. */
static double s_mag_entropy_bits(const rumor_cmsg_t *m)
{
    s_hist_t t;
    memset(t.direct, 0, sizeof t.direct);
    memset(t.cnt, 0, sizeof t.cnt);
    t.nnz = t.used = t.top = t.lost = 0;
    const int32_t *q = m->q;
    if (m->listed) {
        for (uint32_t j = 0; j < m->nnz; j++) s_hist_add(&t, s_abs(q[m->idx[j]]));
    } else {
        for (uint32_t k = 0; k < m->d; k++)
            if (q[k]) s_hist_add(&t, s_abs(q[k]));
    }
    double sum = 0; /* sum over symbols of c log2 c */
    for (uint32_t a = 1; a <= t.top; a++)
        if (t.direct[a] > 1) sum += t.direct[a] * log2(t.direct[a]);
    for (uint32_t i = 0; i < t.used; i++)
        if (t.cnt[t.slot[i]] > 1) sum += t.cnt[t.slot[i]] * log2(t.cnt[t.slot[i]]);
    const uint32_t nnz = t.nnz;
    return nnz ? nnz * log2(nnz) - sum : 0.0;
}

double rumor_codec_entropy_bound_bits(const rumor_cmsg_t *m)
{
    switch (m->kind) {
    case RUMOR_CMSG_DENSE:
        return 32.0 * m->d;
    case RUMOR_CMSG_SPARSE:
        return s_log2_binom(m->d, m->nnz) + 32.0 * m->nnz + 32;
    case RUMOR_CMSG_INT:
        /* one float32 step, or one per bucket */
        return s_log2_binom(m->d, m->nnz) + s_mag_entropy_bits(m) + m->nnz +
               32.0 * (m->nb ? m->nb : 1);
    }
    return 0;
}
