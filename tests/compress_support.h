/* Support shared by compress's test programs (test_compress*.c): vectors, compressors made
 * from a spec, the plain reference quantizer the fast dithering path must match bit for bit,
 * and the checks of a listed message. */
#ifndef RUMOR_TEST_COMPRESS_SUPPORT_H
#define RUMOR_TEST_COMPRESS_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/codec.h"
#include "rumor/compress.h"
#include "rumor/quant.h"
#include "rumor/vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { D = 500 };

static inline void s_fill(float *x, uint32_t d, uint64_t seed)
{
    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_TEST);
    for (uint32_t i = 0; i < d; i++) x[i] = (float)(rumor_rng_normal(&r) * (i % 7 == 0 ? 5 : 1));
}

static inline rumor_compressor_t *s_new(const char *spec, uint32_t d)
{
    rumor_compress_cfg_t cfg;
    assert_int_equal(rumor_compress_parse(spec, &cfg, NULL), 0);
    rumor_compressor_t *c = rumor_compressor_new(&cfg, d);
    assert_non_null(c);
    return c;
}

/* One message of compressor spec for x (seeded by seed) into m, which the caller frees; it
 * must pass rumor_cmsg_check. */
static inline void s_apply_once(const char *spec, const float *x, uint64_t seed, rumor_cmsg_t *m)
{
    rumor_compressor_t *c = s_new(spec, D);
    assert_int_equal(rumor_cmsg_init(m, D), 0);
    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_COMPRESS);
    rumor_compressor_apply(c, x, &r, m);
    assert_int_equal(rumor_cmsg_check(m), 0);
    rumor_compressor_destroy(&c);
}

/* The 32-bit mixer of the dithering's counter-based uniforms (quant.h). */
static inline uint32_t s_ref_mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    return x ^ x >> 16;
}

/* The plain dithered quantizer every path must reproduce exactly: the norm as 32 double sums
 * of every 32nd square folded pairwise, then the rest one by one; one 64-bit draw keys the
 * uniforms, coordinate k's from the mix of k. */
static inline void s_ref_dither(const float *x, uint32_t d, uint32_t s, int norm_inf, int biased,
                                rumor_rng_t *r, int32_t *q, uint32_t *nnz, float *scale)
{
    double norm = 0;
    if (norm_inf) {
        for (uint32_t k = 0; k < d; k++) norm = fabs(x[k]) > norm ? fabs(x[k]) : norm;
    } else {
        double acc[32] = {0};
        uint32_t k = 0;
        for (; k + 32 <= d; k += 32)
            for (uint32_t j = 0; j < 32; j++) acc[j] += (double)x[k + j] * x[k + j];
        for (uint32_t h = 16; h; h /= 2)
            for (uint32_t j = 0; j < h; j++) acc[j] += acc[j + h];
        norm = acc[0];
        for (; k < d; k++) norm += (double)x[k] * x[k];
        norm = sqrt(norm);
    }
    *nnz = 0;
    if (!(norm > 0.0) || !isfinite(norm)) {
        memset(q, 0, (size_t)d * sizeof *q);
        *scale = 0.0f;
        return;
    }
    const float inv = (float)(s / norm);
    const uint64_t key = rumor_rng_u64(r);
    for (uint32_t k = 0; k < d; k++) {
        const uint32_t h = s_ref_mix(s_ref_mix(k ^ (uint32_t)key) ^ (uint32_t)(key >> 32));
        const float p = fabsf(x[k]) * inv;
        int32_t l = (int32_t)(p + (float)(h >> 8) * 0x1.0p-24f);
        if (l > (int32_t)s) l = (int32_t)s;
        q[k] = x[k] < 0.0f ? -l : l;
        *nnz += q[k] != 0;
    }
    double sc = norm / s;
    if (biased) {
        const double a = (double)d / ((double)s * s), b = sqrt((double)d) / s;
        sc /= 1.0 + (a < b ? a : b);
    }
    *scale = (float)sc;
}

static inline void s_assert_listed(const rumor_cmsg_t *m)
{
    assert_int_equal(m->listed, 1);
    uint32_t j = 0;
    for (uint32_t k = 0; k < m->d; k++)
        if (m->q[k]) assert_int_equal(m->idx[j++], k);
    assert_int_equal(j, m->nnz);
}

static inline int s_power_of_two(int32_t l)
{
    const uint32_t a = (uint32_t)(l < 0 ? -l : l);
    return a && !(a & (a - 1));
}

#endif
