/* rumor — what the codec's coders share below them, included by src/codec*.c only: the float32
 * bit helpers, level magnitudes, the magnitude histogram (VSC's table, the entropy bound) and
 * the Golomb parameter (VSC's gaps, the arithmetic coder's gap split). It calls nothing of
 * the codec above it: codec.c calls the coders, and both call down to here.
 */
#ifndef RUMOR_CODEC_BITS_H
#define RUMOR_CODEC_BITS_H

#include "rumor/bitio.h"

#include <stdint.h>
#include <string.h>

_Static_assert(sizeof(float) == 4, "float32 scale and values");

static inline uint32_t s_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float s_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* 1 when f is infinite or NaN (exponent bits all ones); branch-free. */
static inline unsigned s_f32_nonfinite(float f)
{
    return (s_f32_bits(f) & 0x7f800000u) == 0x7f800000u;
}

/* n float32 values, little-endian. */
static inline void s_put_f32s(uint8_t *dst, const float *v, uint32_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(dst, v, (size_t)n * 4);
#else
    for (uint32_t i = 0; i < n; i++) rumor_store32le(dst + 4 * (size_t)i, s_f32_bits(v[i]));
#endif
}

static inline void s_get_f32s(float *v, const uint8_t *src, uint32_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(v, src, (size_t)n * 4);
#else
    for (uint32_t i = 0; i < n; i++) v[i] = s_bits_f32(rumor_load32le(src + 4 * (size_t)i));
#endif
}

/* Magnitude of a level as an unsigned value (|INT32_MIN| = 2^31 fits). */
static inline uint32_t s_abs(int32_t v)
{
    return v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
}

/* ---- magnitude histograms (VSC tables, the entropy bound) ---------------------------- */

enum { S_H_DIRECT = 1024, S_H_HASH = 4096 };

/* Counts of nonzero magnitudes: those below S_H_DIRECT directly, the others in an
 * open-addressing table of up to S_H_HASH - 1 keys (further new keys are only counted in
 * `lost`). Starts and, after s_hist_reset, is again all zero. */
typedef struct {
    uint32_t direct[S_H_DIRECT];
    uint32_t key[S_H_HASH], cnt[S_H_HASH];
    uint16_t slot[S_H_HASH];       /* the table slots in use */
    uint32_t nnz, used, top, lost; /* top: largest direct magnitude seen */
} s_hist_t;

static inline uint32_t s_hist_hash(uint32_t a)
{
    return (a * 2654435761u) >> 20; /* 12 bits */
}

static inline void s_hist_add(s_hist_t *t, uint32_t a)
{
    t->nnz++;
    if (a < S_H_DIRECT) {
        t->direct[a]++;
        if (a > t->top) t->top = a;
        return;
    }
    for (uint32_t h = s_hist_hash(a);; h = (h + 1) & (S_H_HASH - 1)) {
        if (t->cnt[h] && t->key[h] == a) {
            t->cnt[h]++;
            return;
        }
        if (!t->cnt[h] && t->used < S_H_HASH - 1) {
            t->key[h] = a;
            t->cnt[h] = 1;
            t->slot[t->used++] = (uint16_t)h;
            return;
        }
        if (!t->cnt[h]) {
            t->lost++;
            return;
        }
    }
}

/* s_hist_add of mag[0..n) in turn, the same counts and table, faster when most are small. */
void rumor_codec_hist_add_all(s_hist_t *t, const uint32_t *mag, uint32_t n);

/* Makes t all zero again, in time proportional to what it holds. */
void rumor_codec_hist_reset(s_hist_t *t);

/* ---- Golomb parameter ---------------------------------------------------------------- */

/* Golomb code with parameter m: v = q m + rem is written as q zero bits, a one bit, then rem
 * in truncated binary (b = ceil(log2 m) bits, the t = 2^b - m smallest values in b - 1). */
typedef struct {
    uint32_t m;
    unsigned b;
    uint32_t t;
    uint64_t inv; /* floor(2^32 / m): v / m by a multiply */
} s_golomb_t;

/* Parameter for coding the gaps before n marked positions among r (1 <= n <= r), treating
 * each position as marked with probability p = n / r. */
s_golomb_t rumor_codec_golomb_param(uint32_t n, uint32_t r);

#endif
