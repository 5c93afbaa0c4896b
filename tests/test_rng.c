/* Tests of rng: seeded streams are reproducible, distinct per name, and well distributed; the
 * lane-parallel fill is the one-by-one fill, float for float. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_same_name_same_stream(void **state)
{
    (void)state;
    rumor_rng_t a, b;
    rumor_rng_seed(&a, 42, 3, 17, RUMOR_RNG_BATCH);
    rumor_rng_seed(&b, 42, 3, 17, RUMOR_RNG_BATCH);
    for (int i = 0; i < 1000; i++) assert_int_equal(rumor_rng_u64(&a), rumor_rng_u64(&b));
}

static void test_names_give_distinct_streams(void **state)
{
    (void)state;
    /* Swapping peer and round, or changing any single part, must change the stream. */
    const uint64_t names[][4] = {{1, 2, 3, 4}, {1, 3, 2, 4}, {2, 2, 3, 4},
                                 {1, 2, 3, 5}, {1, 2, 4, 4}, {1, 0, 3, 4}};
    uint64_t first[6];
    for (int i = 0; i < 6; i++) {
        rumor_rng_t r;
        rumor_rng_seed(&r, names[i][0], names[i][1], names[i][2], names[i][3]);
        first[i] = rumor_rng_u64(&r);
    }
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++) assert_true(first[i] != first[j]);
}

static void test_uniform_moments(void **state)
{
    (void)state;
    rumor_rng_t r;
    rumor_rng_seed(&r, 7, 0, 0, RUMOR_RNG_TEST);
    enum { N = 200000 };
    static float buf[N];
    rumor_rng_fill_plan_t *plan = malloc(sizeof *plan);
    rumor_rng_fill_plan_init(plan, N);
    rumor_rng_fill_uniform(&r, plan, buf);
    free(plan);
    double s = 0, s2 = 0;
    int bins[10] = {0};
    for (int i = 0; i < N; i++) {
        assert_true(buf[i] >= 0.0f && buf[i] < 1.0f);
        s += buf[i];
        s2 += (double)buf[i] * buf[i];
        bins[(int)(buf[i] * 10)]++;
    }
    assert_true(fabs(s / N - 0.5) < 0.005);
    assert_true(fabs(s2 / N - 1.0 / 3.0) < 0.005);
    for (int b = 0; b < 10; b++) assert_true(abs(bins[b] - N / 10) < N / 100);
}

/* The contract of rumor_rng_fill_uniform, drawn one by one: draw i gives out[2i] (top 24
 * bits) and out[2i + 1] (bits 8..31). */
static void s_ref_fill(rumor_rng_t *r, float *out, size_t n)
{
    for (size_t i = 0; i < n; i += 2) {
        const uint64_t v = rumor_rng_u64(r);
        out[i] = (float)(uint32_t)(v >> 40) * 0x1.0p-24f;
        if (i + 1 < n) out[i + 1] = (float)(uint32_t)((v >> 8) & 0xffffff) * 0x1.0p-24f;
    }
}

static void test_fill_is_the_one_by_one_fill(void **state)
{
    (void)state;
    const size_t lens[] = {0,  1,   2,   3,   15,   16,   17,    18,
                           31, 127, 128, 129, 1000, 1001, 16384, 100001};
    float *a = malloc(100002 * sizeof *a), *b = malloc(100002 * sizeof *b); /* n + 1 */
    rumor_rng_fill_plan_t *plan = malloc(sizeof *plan);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(plan);
    for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
        const size_t n = lens[l];
        rumor_rng_fill_plan_init(plan, n);
        rumor_rng_t fast, ref;
        rumor_rng_seed(&fast, 13, l, 0, RUMOR_RNG_TEST);
        ref = fast;
        /* twice with one plan: the second fill continues where the first left the stream */
        for (int rep = 0; rep < 2; rep++) {
            memset(a, 0xff, (n + 1) * sizeof *a);
            memset(b, 0xff, (n + 1) * sizeof *b);
            rumor_rng_fill_uniform(&fast, plan, a);
            s_ref_fill(&ref, b, n);
            assert_memory_equal(a, b, (n + 1) * sizeof *a); /* nothing written past n */
            assert_memory_equal(fast.s, ref.s, sizeof fast.s);
        }
    }
    free(a);
    free(b);
    free(plan);
}

static void test_below_is_unbiased_and_bounded(void **state)
{
    (void)state;
    rumor_rng_t r;
    rumor_rng_seed(&r, 9, 0, 0, RUMOR_RNG_TEST);
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        const uint64_t v = rumor_rng_below(&r, 7);
        assert_true(v < 7);
        counts[v]++;
    }
    double chi2 = 0;
    for (int b = 0; b < 7; b++) chi2 += (counts[b] - 10000.0) * (counts[b] - 10000.0) / 10000.0;
    assert_true(chi2 < 22.5); /* p = 0.001 for 6 degrees of freedom */
    assert_int_equal(rumor_rng_below(&r, 1), 0);
}

static void test_normal_and_gamma_moments(void **state)
{
    (void)state;
    rumor_rng_t r;
    rumor_rng_seed(&r, 11, 0, 0, RUMOR_RNG_TEST);
    double s = 0, s2 = 0;
    enum { N = 100000 };
    for (int i = 0; i < N; i++) {
        const double x = rumor_rng_normal(&r);
        s += x;
        s2 += x * x;
    }
    assert_true(fabs(s / N) < 0.02);
    assert_true(fabs(s2 / N - 1.0) < 0.02);
    const double alphas[] = {0.1, 0.5, 1.0, 3.0, 20.0};
    for (int a = 0; a < 5; a++) {
        double m = 0;
        for (int i = 0; i < N; i++) {
            const double g = rumor_rng_gamma(&r, alphas[a]);
            assert_true(g >= 0.0);
            m += g;
        }
        /* Gamma(alpha, 1) has mean alpha and variance alpha. */
        assert_true(fabs(m / N - alphas[a]) < 5.0 * sqrt(alphas[a] / N) + 1e-3);
    }
}

static void test_shuffle_is_permutation(void **state)
{
    (void)state;
    rumor_rng_t r;
    rumor_rng_seed(&r, 5, 0, 0, RUMOR_RNG_TEST);
    uint32_t idx[1000];
    for (uint32_t i = 0; i < 1000; i++) idx[i] = i;
    rumor_rng_shuffle(&r, idx, 1000);
    uint8_t seen[1000] = {0};
    int moved = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        assert_true(idx[i] < 1000);
        assert_false(seen[idx[i]]);
        seen[idx[i]] = 1;
        moved += idx[i] != i;
    }
    assert_true(moved > 900);
}

/* k distinct ascending positions below d, the same for the same seed, each position taken
 * with probability k / d; k = 0 and k = d work. */
static void test_sample_positions(void **state)
{
    (void)state;
    enum { D = 200, K = 30, DRAWS = 4000 };
    uint64_t bits[D / 64 + 1];
    uint32_t idx[D], again[D];
    int hits[D] = {0};
    for (uint64_t seed = 0; seed < DRAWS; seed++) {
        rumor_rng_sample_positions(seed * 0x9E3779B97F4A7C15u, D, K, bits, idx);
        for (int j = 0; j < K; j++) {
            assert_true(idx[j] < D);
            if (j) assert_true(idx[j] > idx[j - 1]);
            hits[idx[j]]++;
        }
        rumor_rng_sample_positions(seed * 0x9E3779B97F4A7C15u, D, K, bits, again);
        assert_memory_equal(idx, again, sizeof(uint32_t) * K);
    }
    const double p = (double)K / D, mean = DRAWS * p, sd = sqrt(DRAWS * p * (1 - p));
    for (int i = 0; i < D; i++) assert_true(fabs(hits[i] - mean) < 6 * sd);
    rumor_rng_sample_positions(5, D, D, bits, idx);
    for (uint32_t i = 0; i < D; i++) assert_int_equal(idx[i], i);
    rumor_rng_sample_positions(5, D, 0, bits, idx);
    rumor_rng_sample_positions(5, 0, 0, bits, idx);
    /* another seed, other positions */
    rumor_rng_sample_positions(1, D, K, bits, idx);
    rumor_rng_sample_positions(2, D, K, bits, again);
    assert_memory_not_equal(idx, again, sizeof(uint32_t) * K);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_name_same_stream),
        cmocka_unit_test(test_names_give_distinct_streams),
        cmocka_unit_test(test_uniform_moments),
        cmocka_unit_test(test_fill_is_the_one_by_one_fill),
        cmocka_unit_test(test_below_is_unbiased_and_bounded),
        cmocka_unit_test(test_normal_and_gamma_moments),
        cmocka_unit_test(test_shuffle_is_permutation),
        cmocka_unit_test(test_sample_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
