/* rumor — the dithering quantizer's kernels (see quant.h).
 *
 * Every path computes the same float and integer operations lane by lane: no fused
 * multiply-add (the build is ISO C, so the compiler contracts nothing, and the SIMD paths
 * multiply and add in two instructions), truncating conversions, and the squared norm's
 * additions in the one order quant.h gives. That is what makes the three bit-identical; a
 * test compares them on every path the CPU has.
 */
#include "rumor/quant.h"

#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define S_X86 1
#include <immintrin.h>
#else
#define S_X86 0
#endif

enum { S_LANES = 32 }; /* accumulators of the squared norm */

static const uint32_t s_m1 = 0x7feb352du, s_m2 = 0x846ca68bu;

static inline uint32_t s_mix(uint32_t x)
{
    x ^= x >> 16;
    x *= s_m1;
    x ^= x >> 15;
    x *= s_m2;
    x ^= x >> 16;
    return x;
}

static inline float s_uniform(rumor_quant_key_t key, uint32_t k)
{
    return (float)(s_mix(s_mix(k ^ key.k0) ^ key.k1) >> 8) * 0x1.0p-24f;
}

void rumor_quant_uniforms(rumor_quant_key_t key, uint32_t k0, uint32_t n, float *u)
{
    for (uint32_t j = 0; j < n; j++) u[j] = s_uniform(key, k0 + j);
}

/* The level of r against uniform u (see rumor_quant_dither); the product and the sum are two
 * statements so that no compiler fuses them. */
static inline int32_t s_level(float r, float inv, float u, int32_t smax)
{
    float t = (r < 0.0f ? -r : r) * inv;
    t = t + u;
    int32_t l = (int32_t)t;
    if (l > smax) l = smax;
    return r < 0.0f ? -l : l;
}

/* The coordinates from k on, one at a time: the scalar path and the SIMD paths' tails. Every
 * level is stored, zeros too, and every position to idx[n], kept when the level is not 0: no
 * branch on the data. */
static uint32_t s_dither_from(const float *a, const float *b, uint32_t k, uint32_t hi, float inv,
                              int32_t smax, rumor_quant_key_t key, int32_t *q, uint32_t *idx,
                              uint32_t n)
{
    for (; k < hi; k++) {
        const float r = b ? a[k] - b[k] : a[k];
        const int32_t l = s_level(r, inv, s_uniform(key, k), smax);
        q[k] = l;
        idx[n] = k;
        n += l != 0;
    }
    return n;
}

/* Folds the accumulators pairwise and adds the squares of a[k..n) - b[k..n) one by one. */
static double s_fold_tail(double *s, const float *a, const float *b, uint32_t k, uint32_t n)
{
    for (uint32_t h = S_LANES / 2; h; h /= 2)
        for (uint32_t j = 0; j < h; j++) s[j] += s[j + h];
    double t = s[0];
    for (; k < n; k++) {
        const float r = b ? a[k] - b[k] : a[k];
        t += (double)r * r;
    }
    return t;
}

static double s_sumsq_scalar(const float *a, const float *b, uint32_t n)
{
    double s[S_LANES] = {0};
    uint32_t k = 0;
    for (; k + S_LANES <= n; k += S_LANES)
        for (uint32_t j = 0; j < S_LANES; j++) {
            const float r = b ? a[k + j] - b[k + j] : a[k + j];
            s[j] += (double)r * r;
        }
    return s_fold_tail(s, a, b, k, n);
}

#if S_X86
/* ---- AVX2: 8 lanes ---- */

__attribute__((target("avx2"))) static inline __m256i s_mix8(__m256i x)
{
    x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
    x = _mm256_mullo_epi32(x, _mm256_set1_epi32((int32_t)s_m1));
    x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
    x = _mm256_mullo_epi32(x, _mm256_set1_epi32((int32_t)s_m2));
    return _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
}

/* s_mix(s_mix(ki ^ k0) ^ k1) lane by lane, k0s = k0 ^ k0 >> 16 (see s_hash16). */
__attribute__((target("avx2"))) static inline __m256i s_hash8(__m256i ki, __m256i k0s, __m256i k1)
{
    __m256i x = _mm256_xor_si256(_mm256_xor_si256(ki, _mm256_srli_epi32(ki, 16)), k0s);
    x = _mm256_mullo_epi32(x, _mm256_set1_epi32((int32_t)s_m1));
    x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
    x = _mm256_mullo_epi32(x, _mm256_set1_epi32((int32_t)s_m2));
    x = _mm256_xor_si256(_mm256_xor_si256(x, _mm256_srli_epi32(x, 16)), k1);
    return s_mix8(x);
}

__attribute__((target("avx2"))) static inline __m256 s_load8(const float *a, const float *b,
                                                             uint32_t k)
{
    const __m256 x = _mm256_loadu_ps(a + k);
    return b ? _mm256_sub_ps(x, _mm256_loadu_ps(b + k)) : x;
}

__attribute__((target("avx2"))) static double s_sumsq_avx2(const float *a, const float *b,
                                                           uint32_t n)
{
    __m256d acc[8]; /* acc[i] holds accumulators 4 i .. 4 i + 3 */
    for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_pd();
    uint32_t k = 0;
    for (; k + S_LANES <= n; k += S_LANES)
        for (int i = 0; i < 4; i++) {
            const __m256 r = s_load8(a, b, k + 8 * (uint32_t)i);
            const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(r));
            const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(r, 1));
            acc[2 * i] = _mm256_add_pd(acc[2 * i], _mm256_mul_pd(lo, lo));
            acc[2 * i + 1] = _mm256_add_pd(acc[2 * i + 1], _mm256_mul_pd(hi, hi));
        }
    double s[S_LANES];
    for (int i = 0; i < 8; i++) _mm256_storeu_pd(s + 4 * i, acc[i]);
    return s_fold_tail(s, a, b, k, n);
}

/* For each 4-bit mask, the positions of its set bits, one byte each, ascending; and their
 * count. */
static const uint32_t s_pack4[16] = {
    0,          0x00000000, 0x00000001, 0x00000100, 0x00000002, 0x00000200, 0x00000201, 0x00020100,
    0x00000003, 0x00000300, 0x00000301, 0x00030100, 0x00000302, 0x00030200, 0x00030201, 0x03020100};
static const uint8_t s_count4[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};

__attribute__((target("avx2"))) static uint32_t s_dither_avx2(const float *a, const float *b,
                                                              uint32_t lo, uint32_t hi, float inv,
                                                              int32_t smax, rumor_quant_key_t key,
                                                              int32_t *q, uint32_t *idx)
{
    const __m256i k1 = _mm256_set1_epi32((int32_t)key.k1), step = _mm256_set1_epi32(8);
    const __m256i k0s = _mm256_set1_epi32((int32_t)(key.k0 ^ key.k0 >> 16));
    const __m256i top = _mm256_set1_epi32(smax), zero = _mm256_setzero_si256();
    const __m256i absmask = _mm256_set1_epi32(INT32_MAX);
    const __m256 vinv = _mm256_set1_ps(inv), unit = _mm256_set1_ps(0x1.0p-24f);
    __m256i ki =
        _mm256_add_epi32(_mm256_set1_epi32((int32_t)lo), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    uint32_t n = 0, k = lo;
    for (; k + 8 <= hi; k += 8, ki = _mm256_add_epi32(ki, step)) {
        const __m256 r = s_load8(a, b, k);
        const __m256i h = s_hash8(ki, k0s, k1);
        const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(h, 8)), unit);
        const __m256 ax = _mm256_castsi256_ps(_mm256_and_si256(_mm256_castps_si256(r), absmask));
        const __m256 t = _mm256_add_ps(_mm256_mul_ps(ax, vinv), u);
        const __m256i l = _mm256_min_epi32(_mm256_cvttps_epi32(t), top);
        const __m256i nz = _mm256_cmpgt_epi32(l, zero);
        const unsigned bits = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(nz));
        /* the signed levels, zeros included (q holds zeros there), and the positions of the
         * nonzero ones packed by a table per half, with no branch on the data: a block holds
         * a nonzero level at random, and a masked store (vpmaskmovd) is microcoded on AMD */
        _mm256_storeu_si256((__m256i *)(q + k), _mm256_sign_epi32(l, _mm256_castps_si256(r)));
        const __m128i at = _mm_set1_epi32((int32_t)k);
        const unsigned lo4 = bits & 15u, hi4 = bits >> 4;
        _mm_storeu_si128(
            (__m128i *)(idx + n),
            _mm_add_epi32(at, _mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)s_pack4[lo4]))));
        n += s_count4[lo4];
        _mm_storeu_si128((__m128i *)(idx + n),
                         _mm_add_epi32(at, _mm_cvtepu8_epi32(
                                               _mm_cvtsi32_si128((int)s_pack4[hi4] + 0x04040404))));
        n += s_count4[hi4];
    }
    return s_dither_from(a, b, k, hi, inv, smax, key, q, idx, n);
}

/* ---- AVX-512: 16 lanes ---- */

__attribute__((target("avx512f"))) static inline __m512i s_mix16(__m512i x)
{
    x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 16));
    x = _mm512_mullo_epi32(x, _mm512_set1_epi32((int32_t)s_m1));
    x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 15));
    x = _mm512_mullo_epi32(x, _mm512_set1_epi32((int32_t)s_m2));
    return _mm512_xor_si512(x, _mm512_srli_epi32(x, 16));
}

/* s_mix(s_mix(ki ^ k0) ^ k1) lane by lane, k0s = k0 ^ k0 >> 16: the shifts distribute over
 * the xors, so the first step is ki ^ ki >> 16 ^ k0s, and each three-way xor is one
 * instruction (0x96: a ^ b ^ c). */
__attribute__((target("avx512f"))) static inline __m512i s_hash16(__m512i ki, __m512i k0s,
                                                                  __m512i k1)
{
    const __m512i m1 = _mm512_set1_epi32((int32_t)s_m1), m2 = _mm512_set1_epi32((int32_t)s_m2);
    __m512i x = _mm512_ternarylogic_epi32(ki, _mm512_srli_epi32(ki, 16), k0s, 0x96);
    x = _mm512_mullo_epi32(x, m1);
    x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 15));
    x = _mm512_mullo_epi32(x, m2);
    x = _mm512_ternarylogic_epi32(x, _mm512_srli_epi32(x, 16), k1, 0x96); /* s_mix's end, ^ k1 */
    return s_mix16(x);
}

__attribute__((target("avx512f"))) static inline __m512 s_load16(const float *a, const float *b,
                                                                 uint32_t k)
{
    const __m512 x = _mm512_loadu_ps(a + k);
    return b ? _mm512_sub_ps(x, _mm512_loadu_ps(b + k)) : x;
}

/* The squares of the 16 floats of r, as doubles: the low 8, then the high 8. */
__attribute__((target("avx512f"))) static inline void s_sq16(__m512 r, __m512d *lo, __m512d *hi)
{
    const __m512d l = _mm512_cvtps_pd(_mm512_castps512_ps256(r));
    const __m512d h =
        _mm512_cvtps_pd(_mm256_castsi256_ps(_mm512_extracti64x4_epi64(_mm512_castps_si512(r), 1)));
    *lo = _mm512_mul_pd(l, l);
    *hi = _mm512_mul_pd(h, h);
}

__attribute__((target("avx512f"))) static double s_sumsq_avx512(const float *a, const float *b,
                                                                uint32_t n)
{
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0; /* accumulators 0-7, 8-15 .. */
    uint32_t k = 0;
    for (; k + S_LANES <= n; k += S_LANES) {
        __m512d lo, hi;
        s_sq16(s_load16(a, b, k), &lo, &hi);
        s0 = _mm512_add_pd(s0, lo);
        s1 = _mm512_add_pd(s1, hi);
        s_sq16(s_load16(a, b, k + 16), &lo, &hi);
        s2 = _mm512_add_pd(s2, lo);
        s3 = _mm512_add_pd(s3, hi);
    }
    double s[S_LANES];
    _mm512_storeu_pd(s, s0);
    _mm512_storeu_pd(s + 8, s1);
    _mm512_storeu_pd(s + 16, s2);
    _mm512_storeu_pd(s + 24, s3);
    return s_fold_tail(s, a, b, k, n);
}

__attribute__((target("avx512f"))) static uint32_t
s_dither_avx512(const float *a, const float *b, uint32_t lo, uint32_t hi, float inv, int32_t smax,
                rumor_quant_key_t key, int32_t *q, uint32_t *idx)
{
    const __m512i k1 = _mm512_set1_epi32((int32_t)key.k1), step = _mm512_set1_epi32(16);
    const __m512i k0s = _mm512_set1_epi32((int32_t)(key.k0 ^ key.k0 >> 16));
    const __m512i top = _mm512_set1_epi32(smax), zero = _mm512_setzero_si512();
    const __m512i absmask = _mm512_set1_epi32(INT32_MAX);
    const __m512 vinv = _mm512_set1_ps(inv), unit = _mm512_set1_ps(0x1.0p-24f);
    __m512i ki =
        _mm512_add_epi32(_mm512_set1_epi32((int32_t)lo),
                         _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    uint32_t n = 0, k = lo;
    for (; k + 16 <= hi; k += 16, ki = _mm512_add_epi32(ki, step)) {
        const __m512 r = s_load16(a, b, k);
        const __m512i h = s_hash16(ki, k0s, k1);
        const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(h, 8)), unit);
        const __m512 ax = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(r), absmask));
        const __m512 t = _mm512_add_ps(_mm512_mul_ps(ax, vinv), u);
        __m512i l = _mm512_min_epi32(_mm512_cvttps_epi32(t), top);
        /* no branch on the mask: a quarter of the blocks hold a nonzero level, at random */
        const __mmask16 nz = _mm512_test_epi32_mask(l, l);
        const __mmask16 neg = _mm512_cmp_ps_mask(r, _mm512_setzero_ps(), _CMP_LT_OQ);
        l = _mm512_mask_sub_epi32(l, neg, zero, l);
        _mm512_mask_storeu_epi32(q + k, nz, l);
        /* n <= k - lo: the 16 stored positions stay below hi - lo */
        _mm512_storeu_si512(idx + n, _mm512_maskz_compress_epi32(nz, ki));
        n += (uint32_t)__builtin_popcount(nz);
    }
    return s_dither_from(a, b, k, hi, inv, smax, key, q, idx, n);
}
#endif

rumor_simd_t rumor_simd_best(void)
{
#if S_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return RUMOR_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2")) return RUMOR_SIMD_AVX2;
#endif
    return RUMOR_SIMD_SCALAR;
}

rumor_simd_t rumor_simd_pick(void)
{
    const rumor_simd_t best = rumor_simd_best();
    const char *v = getenv("RUMOR_SIMD");
    if (!v) return best;
    for (int p = RUMOR_SIMD_SCALAR; p <= RUMOR_SIMD_AVX512; p++)
        if (!strcmp(v, rumor_simd_name((rumor_simd_t)p)))
            return (rumor_simd_t)p < best ? (rumor_simd_t)p : best;
    return best;
}

const char *rumor_simd_name(rumor_simd_t p)
{
    switch (p) {
    case RUMOR_SIMD_SCALAR:
        return "scalar";
    case RUMOR_SIMD_AVX2:
        return "avx2";
    case RUMOR_SIMD_AVX512:
        return "avx512";
    }
    return "?";
}

double rumor_quant_sumsq(rumor_simd_t p, const float *a, const float *b, uint32_t n)
{
#if S_X86
    if (p == RUMOR_SIMD_AVX512) return s_sumsq_avx512(a, b, n);
    if (p == RUMOR_SIMD_AVX2) return s_sumsq_avx2(a, b, n);
#else
    (void)p;
#endif
    return s_sumsq_scalar(a, b, n);
}

uint32_t rumor_quant_dither(rumor_simd_t p, const float *a, const float *b, uint32_t lo,
                            uint32_t hi, float inv, int32_t smax, rumor_quant_key_t key, int32_t *q,
                            uint32_t *idx)
{
#if S_X86
    if (p == RUMOR_SIMD_AVX512) { /* it stores the nonzero levels only */
        memset(q + lo, 0, (size_t)(hi - lo) * sizeof *q);
        return s_dither_avx512(a, b, lo, hi, inv, smax, key, q, idx);
    }
    if (p == RUMOR_SIMD_AVX2) return s_dither_avx2(a, b, lo, hi, inv, smax, key, q, idx);
#else
    (void)p;
#endif
    return s_dither_from(a, b, lo, hi, inv, smax, key, q, idx, 0);
}
