/* Tests of quant: the counter-based uniforms, and the scalar, AVX2 and AVX-512 kernels giving
 * bit-identical norms and levels (every path the CPU has). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/quant.h"
#include "rumor/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 70003 }; /* past 2^16 coordinates, and not a multiple of any path's width */

static void s_fill(float *a, float *b, uint32_t n, uint64_t seed)
{
    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_TEST);
    for (uint32_t k = 0; k < n; k++) {
        b[k] = (float)(rumor_rng_normal(&r) * 0.05);
        a[k] = b[k] + (float)(rumor_rng_normal(&r) * (k % 5 ? 1e-4 : 1e-3));
    }
    a[7] = b[7]; /* a zero residual, and signed zeros */
    a[8] = -0.0f;
    b[8] = 0.0f;
}

/* Uniforms lie in [0, 1), have mean 1/2 and variance 1/12, and two keys give two streams. */
static void test_uniforms(void **state)
{
    (void)state;
    enum { M = 1 << 16 };
    float *u = malloc(M * sizeof *u), *v = malloc(M * sizeof *v);
    assert_true(u && v);
    rumor_quant_uniforms((rumor_quant_key_t){1, 2}, 0, M, u);
    rumor_quant_uniforms((rumor_quant_key_t){1, 3}, 0, M, v);
    double s = 0, s2 = 0, same = 0;
    for (uint32_t k = 0; k < M; k++) {
        assert_true(u[k] >= 0.0f && u[k] < 1.0f);
        s += u[k];
        s2 += (double)u[k] * u[k];
        same += u[k] == v[k];
    }
    const double mean = s / M, var = s2 / M - mean * mean;
    assert_true(fabs(mean - 0.5) < 0.01);
    assert_true(fabs(var - 1.0 / 12) < 0.005);
    assert_true(same < 10);
    /* a uniform depends on its coordinate, not on where a call starts */
    rumor_quant_uniforms((rumor_quant_key_t){1, 2}, 100, 10, v);
    assert_memory_equal(v, u + 100, 10 * sizeof *v);
    free(u);
    free(v);
}

/* The sum of squares: the same bits on every path, within rounding of the exact sum. */
static void test_sumsq_paths_agree(void **state)
{
    (void)state;
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    assert_true(a && b);
    s_fill(a, b, N, 1);
    const uint32_t lens[] = {0, 1, 31, 32, 33, 64, 100, N};
    for (size_t l = 0; l < sizeof lens / sizeof *lens; l++)
        for (int diff = 0; diff < 2; diff++) {
            const uint32_t n = lens[l];
            const float *bb = diff ? b : NULL;
            const double ref = rumor_quant_sumsq(RUMOR_SIMD_SCALAR, a, bb, n);
            long double exact = 0;
            for (uint32_t k = 0; k < n; k++) {
                const float r = diff ? a[k] - b[k] : a[k];
                exact += (long double)r * r;
            }
            assert_true(fabsl(ref - exact) <= 1e-14L * exact);
            for (int p = RUMOR_SIMD_AVX2; p <= (int)rumor_simd_best(); p++) {
                const double got = rumor_quant_sumsq((rumor_simd_t)p, a, bb, n);
                assert_memory_equal(&got, &ref, sizeof got);
            }
        }
    free(a);
    free(b);
}

enum { S_STALE = 0x5eed1e55 }; /* what q holds before a level pass: not a level */

static void s_stale(int32_t *q, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++) q[k] = S_STALE;
}

/* The level pass: every path writes the same levels and the same list, over ranges that start
 * and end off the vector width, every level of the range (zeros too) over what q held, and
 * nothing outside it. */
static void test_dither_paths_agree(void **state)
{
    (void)state;
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    int32_t *q0 = malloc(N * sizeof *q0), *q = malloc(N * sizeof *q);
    uint32_t *i0 = malloc(N * sizeof *i0), *idx = malloc(N * sizeof *idx);
    float *u = malloc(N * sizeof *u);
    assert_true(a && b && q0 && q && i0 && idx && u);
    s_fill(a, b, N, 2);
    const uint32_t ranges[][2] = {{0, N}, {3, N - 5}, {17, 18}, {0, 15}, {40, 40}, {65530, 65601}};
    const int32_t levels[] = {1, 8, 1 << 20};
    for (size_t r = 0; r < sizeof ranges / sizeof *ranges; r++)
        for (size_t s = 0; s < sizeof levels / sizeof *levels; s++)
            for (int diff = 0; diff < 2; diff++) {
                const uint32_t lo = ranges[r][0], hi = ranges[r][1];
                const float *bb = diff ? b : NULL;
                const double norm = sqrt(rumor_quant_sumsq(RUMOR_SIMD_SCALAR, a, bb, N));
                const float inv = (float)(levels[s] / norm);
                /* keys with every bit in play */
                const rumor_quant_key_t key = {0x9e3779b9u * (uint32_t)(r + 1),
                                               0x85ebca6bu * (uint32_t)(s + 1)};
                /* q holds anything: every level of [lo, hi) is written, nothing outside */
                s_stale(q0, N);
                const uint32_t n0 = rumor_quant_dither(RUMOR_SIMD_SCALAR, a, bb, lo, hi, inv,
                                                       levels[s], key, q0, i0);
                uint32_t count = 0;
                rumor_quant_uniforms(key, 0, N, u);
                for (uint32_t k = 0; k < N; k++) {
                    if (k < lo || k >= hi) {
                        assert_int_equal(q0[k], S_STALE);
                        continue;
                    }
                    if (q0[k]) assert_int_equal(i0[count++], k);
                    const float x = diff ? a[k] - b[k] : a[k];
                    /* the level, one coordinate at a time */
                    float t = (x < 0.0f ? -x : x) * inv;
                    t = t + u[k];
                    int32_t l = (int32_t)t;
                    l = l > levels[s] ? levels[s] : l;
                    assert_int_equal(q0[k], x < 0.0f ? -l : l);
                    assert_true(q0[k] == 0 || (q0[k] < 0) == (x < 0.0f));
                    assert_true(abs(q0[k]) <= levels[s]);
                }
                assert_int_equal(count, n0);
                if (r == 0 && s == 0) assert_true(n0 > 0);
                for (int p = RUMOR_SIMD_AVX2; p <= (int)rumor_simd_best(); p++) {
                    s_stale(q, N);
                    const uint32_t n = rumor_quant_dither((rumor_simd_t)p, a, bb, lo, hi, inv,
                                                          levels[s], key, q, idx);
                    assert_int_equal(n, n0);
                    assert_memory_equal(q, q0, N * sizeof *q);
                    assert_memory_equal(idx, i0, n * sizeof *idx);
                }
            }
    free(a);
    free(b);
    free(q0);
    free(q);
    free(u);
    free(i0);
    free(idx);
}

/* Dithering is unbiased: a coordinate at 0.3 of a level averages 0.3 over many keys. */
static void test_dither_unbiased(void **state)
{
    (void)state;
    enum { M = 256, KEYS = 400 };
    float a[M];
    int32_t q[M];
    uint32_t idx[M];
    for (uint32_t k = 0; k < M; k++) a[k] = k % 2 ? 0.3f : -2.7f;
    for (int p = RUMOR_SIMD_SCALAR; p <= (int)rumor_simd_best(); p++) {
        double s1 = 0, s2 = 0;
        rumor_rng_t r; /* keys are draws, as a compressor's are */
        rumor_rng_seed(&r, 5, 0, 0, RUMOR_RNG_TEST);
        for (uint32_t t = 0; t < KEYS; t++) {
            const uint64_t w = rumor_rng_u64(&r);
            memset(q, 0, sizeof q);
            (void)rumor_quant_dither((rumor_simd_t)p, a, NULL, 0, M, 1.0f, 8,
                                     (rumor_quant_key_t){(uint32_t)w, (uint32_t)(w >> 32)}, q, idx);
            for (uint32_t k = 0; k < M; k++) *(k % 2 ? &s1 : &s2) += q[k];
        }
        assert_true(fabs(s1 / (KEYS * M / 2) - 0.3) < 0.01);
        assert_true(fabs(s2 / (KEYS * M / 2) + 2.7) < 0.01);
    }
}

/* RUMOR_SIMD picks a path, never one the CPU lacks; an unknown value picks the best. */
static void test_pick(void **state)
{
    (void)state;
    const rumor_simd_t best = rumor_simd_best();
    assert_int_equal(setenv("RUMOR_SIMD", "scalar", 1), 0);
    assert_int_equal(rumor_simd_pick(), RUMOR_SIMD_SCALAR);
    assert_int_equal(setenv("RUMOR_SIMD", "avx512", 1), 0);
    assert_int_equal(rumor_simd_pick(), best);
    assert_int_equal(setenv("RUMOR_SIMD", "avx2", 1), 0);
    assert_int_equal(rumor_simd_pick(), best < RUMOR_SIMD_AVX2 ? best : RUMOR_SIMD_AVX2);
    assert_int_equal(setenv("RUMOR_SIMD", "sse9", 1), 0);
    assert_int_equal(rumor_simd_pick(), best);
    unsetenv("RUMOR_SIMD");
    assert_int_equal(rumor_simd_pick(), best);
    assert_string_equal(rumor_simd_name(RUMOR_SIMD_AVX2), "avx2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniforms),
        cmocka_unit_test(test_sumsq_paths_agree),
        cmocka_unit_test(test_dither_paths_agree),
        cmocka_unit_test(test_dither_unbiased),
        cmocka_unit_test(test_pick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
