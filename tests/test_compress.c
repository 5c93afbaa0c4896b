/* Tests of compress: unbiasedness, contraction bounds, exact selections, parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/compress.h"
#include "rumor/vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { D = 500 };

static void s_fill(float *x, uint32_t d, uint64_t seed)
{
    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_TEST);
    for (uint32_t i = 0; i < d; i++) x[i] = (float)(rumor_rng_normal(&r) * (i % 7 == 0 ? 5 : 1));
}

static rumor_compressor_t *s_new(const char *spec, uint32_t d)
{
    rumor_compress_cfg_t cfg;
    assert_int_equal(rumor_compress_parse(spec, &cfg, NULL), 0);
    rumor_compressor_t *c = rumor_compressor_new(&cfg, d);
    assert_non_null(c);
    return c;
}

static void test_parse_and_describe(void **state)
{
    (void)state;
    const char *good[] = {"identity",         "sign",
                          "dither:16",        "dither:4:inf",
                          "dither:16:biased", "dither:8:inf:biased",
                          "topk:0.01",        "randk:0.5"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        rumor_compress_cfg_t cfg, again;
        char buf[64];
        assert_int_equal(rumor_compress_parse(good[i], &cfg, NULL), 0);
        rumor_compress_describe(&cfg, buf, sizeof buf);
        assert_int_equal(rumor_compress_parse(buf, &again, NULL), 0);
        assert_memory_equal(&cfg, &again, sizeof cfg);
    }
    const char *bad[] = {"",       "dither",   "dither:0", "dither:x", "dither:4:foo",
                         "topk:0", "topk:1.5", "randk:",   "sign:3",   "zip"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rumor_compress_cfg_t cfg;
        rumor_errmsg_t em = {""};
        assert_int_equal(rumor_compress_parse(bad[i], &cfg, &em), RUMOR_EINVAL);
        assert_non_null(strstr(em.msg, "compressor"));
    }
}

static void test_identity_exact(void **state)
{
    (void)state;
    float x[D], y[D];
    s_fill(x, D, 1);
    rumor_compressor_t *c = s_new("identity", D);
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, D), 0);
    rumor_compressor_apply(c, x, NULL, &m);
    rumor_cmsg_to_dense(&m, y);
    assert_memory_equal(x, y, sizeof x);
    assert_true(rumor_compressor_delta(c) == 1.0);
    assert_true(rumor_compressor_unbiased(c));
    rumor_cmsg_free(&m);
    rumor_compressor_destroy(&c);
}

/* Mean of many draws of C(x) approaches x; the levels never exceed s. */
static void test_dither_unbiased(void **state)
{
    (void)state;
    const char *specs[] = {"dither:4", "dither:16:inf"};
    for (int s = 0; s < 2; s++) {
        float x[D], y[D];
        double mean[D] = {0};
        s_fill(x, D, 2);
        rumor_compressor_t *c = s_new(specs[s], D);
        assert_true(rumor_compressor_unbiased(c));
        rumor_cmsg_t m;
        assert_int_equal(rumor_cmsg_init(&m, D), 0);
        const int draws = 4000;
        const int32_t smax = s == 0 ? 4 : 16;
        for (int t = 0; t < draws; t++) {
            rumor_rng_t r;
            rumor_rng_seed(&r, 3, 0, (uint64_t)t, RUMOR_RNG_COMPRESS);
            rumor_compressor_apply(c, x, &r, &m);
            assert_int_equal(m.kind, RUMOR_CMSG_INT);
            assert_int_equal(rumor_cmsg_check(&m), 0);
            for (int k = 0; k < D; k++) assert_true(abs(m.q[k]) <= smax);
            rumor_cmsg_to_dense(&m, y);
            for (int k = 0; k < D; k++) mean[k] += y[k] / draws;
        }
        /* Each coordinate's variance is at most (scale)^2 / 4, so the mean's error is
         * within 6 standard errors of that. */
        const double step = m.scale;
        for (int k = 0; k < D; k++)
            assert_true(fabs(mean[k] - x[k]) < 6.0 * step / 2 / sqrt(draws));
        rumor_cmsg_free(&m);
        rumor_compressor_destroy(&c);
    }
}

/* E||C(x) - x||^2 <= (1 - 1/delta) ||x||^2 for the contractive compressors. */
static void test_contraction_bounds(void **state)
{
    (void)state;
    const char *specs[] = {"dither:2:biased", "dither:16:biased", "topk:0.05", "randk:0.1", "sign"};
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
        float x[D], y[D];
        s_fill(x, D, 4 + s);
        rumor_compressor_t *c = s_new(specs[s], D);
        rumor_cmsg_t m;
        assert_int_equal(rumor_cmsg_init(&m, D), 0);
        const double delta = rumor_compressor_delta(c);
        assert_true(delta >= 1.0);
        const double nx = rumor_vec_dot(x, x, D);
        double err = 0;
        const int draws = 300;
        for (int t = 0; t < draws; t++) {
            rumor_rng_t r;
            rumor_rng_seed(&r, 5, 0, (uint64_t)t, RUMOR_RNG_COMPRESS);
            rumor_compressor_apply(c, x, &r, &m);
            rumor_cmsg_to_dense(&m, y);
            err += rumor_vec_dist2(y, x, D) / draws;
        }
        assert_true(err <= (1.0 - 1.0 / delta) * nx * 1.02);
        assert_true(err < nx); /* strictly contractive */
        rumor_cmsg_free(&m);
        rumor_compressor_destroy(&c);
    }
}

static int s_cmp_desc(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

static void test_topk_selects_largest(void **state)
{
    (void)state;
    float x[D], mags[D];
    s_fill(x, D, 6);
    x[10] = x[20] = 100.0f; /* ties are fine */
    rumor_compressor_t *c = s_new("topk:0.1", D);
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, D), 0);
    rumor_compressor_apply(c, x, NULL, &m);
    assert_int_equal(m.kind, RUMOR_CMSG_SPARSE);
    assert_int_equal(m.nnz, 50);
    assert_int_equal(rumor_cmsg_check(&m), 0);
    for (int i = 0; i < D; i++) mags[i] = fabsf(x[i]);
    qsort(mags, D, sizeof *mags, s_cmp_desc);
    for (uint32_t j = 0; j < m.nnz; j++) {
        assert_true(fabsf(m.val[j]) >= mags[49]);
        assert_true(m.val[j] == x[m.idx[j]]);
    }
    /* All-equal input: ties are broken by index, exactly k survive. */
    for (int i = 0; i < D; i++) x[i] = 1.0f;
    rumor_compressor_apply(c, x, NULL, &m);
    assert_int_equal(m.nnz, 50);
    assert_int_equal(m.idx[49], 49);
    rumor_cmsg_free(&m);
    rumor_compressor_destroy(&c);
}

static void test_randk_uniform(void **state)
{
    (void)state;
    float x[D];
    s_fill(x, D, 7);
    rumor_compressor_t *c = s_new("randk:0.1", D);
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, D), 0);
    int hits[D] = {0};
    const int draws = 2000;
    for (int t = 0; t < draws; t++) {
        rumor_rng_t r;
        rumor_rng_seed(&r, 8, 0, (uint64_t)t, RUMOR_RNG_COMPRESS);
        rumor_compressor_apply(c, x, &r, &m);
        assert_int_equal(m.nnz, 50);
        assert_int_equal(rumor_cmsg_check(&m), 0);
        for (uint32_t j = 0; j < m.nnz; j++) hits[m.idx[j]]++;
    }
    /* Each index is kept with probability 0.1: 200 expected hits, sd ~13.4. */
    for (int i = 0; i < D; i++) assert_true(abs(hits[i] - 200) < 70);
    rumor_cmsg_free(&m);
    rumor_compressor_destroy(&c);
}

static void test_sign_scale(void **state)
{
    (void)state;
    float x[4] = {1.0f, -3.0f, 0.0f, 4.0f}, y[4];
    rumor_compressor_t *c = s_new("sign", 4);
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, 4), 0);
    rumor_compressor_apply(c, x, NULL, &m);
    rumor_cmsg_to_dense(&m, y);
    const float want[4] = {2.0f, -2.0f, 0.0f, 2.0f};
    assert_memory_equal(y, want, sizeof y);
    assert_int_equal(m.nnz, 3);
    rumor_cmsg_free(&m);
    rumor_compressor_destroy(&c);
}

static void test_zero_vector(void **state)
{
    (void)state;
    float x[D] = {0}, y[D];
    const char *specs[] = {"dither:16", "topk:0.1", "randk:0.1", "sign"};
    for (int s = 0; s < 4; s++) {
        rumor_compressor_t *c = s_new(specs[s], D);
        rumor_cmsg_t m;
        assert_int_equal(rumor_cmsg_init(&m, D), 0);
        rumor_rng_t r;
        rumor_rng_seed(&r, 1, 0, 0, RUMOR_RNG_COMPRESS);
        rumor_compressor_apply(c, x, &r, &m);
        rumor_cmsg_to_dense(&m, y);
        assert_true(rumor_vec_nrm_inf(y, D) == 0.0);
        rumor_cmsg_free(&m);
        rumor_compressor_destroy(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_describe),   cmocka_unit_test(test_identity_exact),
        cmocka_unit_test(test_dither_unbiased),      cmocka_unit_test(test_contraction_bounds),
        cmocka_unit_test(test_topk_selects_largest), cmocka_unit_test(test_randk_uniform),
        cmocka_unit_test(test_sign_scale),           cmocka_unit_test(test_zero_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
