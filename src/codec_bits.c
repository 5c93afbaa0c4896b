/* rumor — the codec's shared helpers (codec_bits.h): the magnitude histogram's reset and the
 * Golomb parameter, which VSC and the arithmetic coder both derive from counts. */
#include "codec_bits.h"

#include "rumor/err.h"

#include <string.h>

void rumor_codec_hist_reset(s_hist_t *t)
{
    memset(t->direct, 0, (t->top + 1) * sizeof *t->direct);
    for (uint32_t i = 0; i < t->used; i++) t->cnt[t->slot[i]] = 0;
    t->nnz = t->used = t->top = t->lost = 0;
}

void rumor_codec_hist_add_all(s_hist_t *t, const uint32_t *mag, uint32_t n)
{
    /* 1, 2 and 3 in registers, in a loop the compiler vectorises: the same counter in memory
     * incremented again and again would wait on its own store each time */
    uint32_t c1 = 0, c2 = 0, c3 = 0;
    for (uint32_t i = 0; i < n; i++) {
        c1 += mag[i] == 1;
        c2 += mag[i] == 2;
        c3 += mag[i] == 3;
    }
    if (c1 + c2 + c3 < n)
        for (uint32_t i = 0; i < n; i++)
            if (mag[i] - 1 > 2) s_hist_add(t, mag[i]); /* in order: the table's slots alike */
    const uint32_t c[4] = {0, c1, c2, c3};
    for (uint32_t a = 1; a <= 3; a++) {
        t->direct[a] += c[a];
        t->nnz += c[a];
        if (c[a] && a > t->top) t->top = a;
    }
}

/* ---- Golomb parameter ---------------------------------------------------------------- */

/* Smallest p (in units of 2^-32) for which Golomb parameter m is optimal for a geometric
 * source of success probability p, m = 1..64: p_m = 1 - q_m with q_m^m (1 + q_m) = 1
 * (Gallager and van Voorhis). Part of the format: both sides derive m from counts with it. */
static const uint32_t s_golomb_pmin[64] = {
    1640531527, 1052792407, 776648142, 615576687, 509935190, 435278990, 379707951, 336728359,
    302493996,  274581078,  251386080, 231805706, 215055885, 200564075, 187902425, 176744772,
    166838125,  157983228,  150021014, 142822954, 136284069, 130317767, 124851988, 119826279,
    115189544,  110898306,  106915333, 103208558, 99750213,  96516132,  93485185,  90638814,
    87960657,   85436231,   83052667,  80798494,  78663456,  76638349,  74714897,  72885633,
    71143803,   69483285,   67898515,  66384425,  64936391,  63550180,  62221917,  60948043,
    59725283,   58550622,   57421277,  56334674,  55288433,  54280345,  53308360,  52370574,
    51465213,   50590623,   49745262,  48927688,  48136555,  47370599,  46628637,  45909560,
};

/* Parameter for coding the gaps before n marked positions among r (1 <= n <= r), treating
 * each position as marked with probability p = n / r. Integer arithmetic only, so every
 * platform derives the same m. Beyond the table m = round(ln 2 / p), to which the optimum
 * converges (ln 2 ~ 45426 / 2^16). */
s_golomb_t rumor_codec_golomb_param(uint32_t n, uint32_t r)
{
    RUMOR_ASSERT(n >= 1 && n <= r);
    const uint64_t p = ((uint64_t)n << 32) / r;
    uint32_t m = 0;
    for (uint32_t i = 0; i < 64; i++)
        if (p >= s_golomb_pmin[i]) {
            m = i + 1;
            break;
        }
    if (!m) {
        const uint64_t x = (UINT64_C(45426) * r) / n;
        m = (uint32_t)((x + 32768) >> 16);
        if (m < 65) m = 65;
    }
    s_golomb_t g = {m, rumor_bit_width(m - 1), 0, (UINT64_C(1) << 32) / m};
    g.t = (uint32_t)((UINT64_C(1) << g.b) - m);
    return g;
}
