/* Tests of compress: unbiasedness, contraction bounds, exact selections, parsing, and the fast
 * dithering path (blocked norm, lane-parallel uniforms, listed output) against the plain
 * reference quantizer, bit for bit. Buckets and the compressors of the biased-compression
 * paper are in test_compress_family.c. */
#include "compress_support.h"

/* On the path RUMOR_SIMD names (the compressors are made after it is set). */
static void s_dither_matches_reference(void)
{
    const char *specs[] = {"dither:8:biased", "dither:4", "dither:16:inf", "dither:1:inf:biased"};
    const uint32_t lens[] = {1, 2, 3, 64, 65, 500, 16384 + 77, 40000};
    enum { DM = 40000 };
    float *a = malloc(DM * sizeof *a), *b = malloc(DM * sizeof *b), *x = malloc(DM * sizeof *x);
    int32_t *q = malloc(DM * sizeof *q);
    assert_true(a && b && x && q);
    for (size_t sp = 0; sp < sizeof specs / sizeof *specs; sp++)
        for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
            const uint32_t d = lens[l];
            rumor_compressor_t *c = s_new(specs[sp], d);
            rumor_compress_cfg_t cfg;
            assert_int_equal(rumor_compress_parse(specs[sp], &cfg, NULL), 0);
            rumor_cmsg_t m;
            assert_int_equal(rumor_cmsg_init(&m, d), 0);
            rumor_rng_t g;
            rumor_rng_seed(&g, 9, sp, l, RUMOR_RNG_TEST);
            for (int t = 0; t < 3; t++) { /* the same cmsg reused, as a peer does */
                /* a residual of a model against its public copy: few-bit differences */
                for (uint32_t k = 0; k < d; k++) {
                    b[k] = (float)(rumor_rng_normal(&g) * 0.05);
                    a[k] = b[k] + (float)(rumor_rng_normal(&g) * (k % 5 ? 1e-4 : 1e-3));
                    x[k] = a[k] - b[k];
                }
                if (t == 2) { /* levels written by hand, not listed, are all replaced */
                    for (uint32_t k = 0; k < d; k++) m.q[k] = 7;
                    m.listed = 0;
                }
                rumor_rng_t r1, r2;
                rumor_rng_seed(&r1, 1, 2, (uint64_t)t, RUMOR_RNG_COMPRESS);
                r2 = r1;
                uint32_t nnz;
                float scale;
                s_ref_dither(x, d, cfg.levels, cfg.norm_inf, cfg.biased, &r2, q, &nnz, &scale);
                if (t == 1)
                    rumor_compressor_apply(c, x, &r1, &m);
                else
                    rumor_compressor_apply_delta(c, a, b, &r1, &m);
                assert_int_equal(m.kind, RUMOR_CMSG_INT);
                assert_int_equal(m.d, d);
                assert_memory_equal(m.q, q, (size_t)d * sizeof *q);
                assert_int_equal(m.nnz, nnz);
                assert_memory_equal(&m.scale, &scale, sizeof scale);
                assert_memory_equal(r1.s, r2.s, sizeof r1.s); /* the stream advanced alike */
                s_assert_listed(&m);
                assert_int_equal(rumor_cmsg_check(&m), 0);
            }
            /* a zero residual after a nonzero message, and after levels written by hand: every
             * level cleared either way */
            for (int t = 0; t < 2; t++) {
                if (t == 1) {
                    for (uint32_t k = 0; k < d; k++) m.q[k] = 7;
                    m.listed = 0;
                }
                rumor_rng_t r;
                rumor_rng_seed(&r, 1, 2, 3, RUMOR_RNG_COMPRESS);
                rumor_compressor_apply_delta(c, a, a, &r, &m);
                assert_int_equal(m.nnz, 0);
                assert_true(m.scale == 0.0f);
                s_assert_listed(&m);
            }
            rumor_cmsg_free(&m);
            rumor_compressor_destroy(&c);
        }
    free(a);
    free(b);
    free(x);
    free(q);
}

/* Every SIMD path the CPU has gives the reference's messages: they are bit-identical. */
static void test_dither_matches_reference(void **state)
{
    (void)state;
    for (int p = RUMOR_SIMD_SCALAR; p <= (int)rumor_simd_best(); p++) {
        assert_int_equal(setenv("RUMOR_SIMD", rumor_simd_name((rumor_simd_t)p), 1), 0);
        s_dither_matches_reference();
    }
    unsetenv("RUMOR_SIMD");
}

/* For every other compressor apply_delta is apply on the float differences. */
static void test_apply_delta_is_apply_of_difference(void **state)
{
    (void)state;
    const char *specs[] = {"identity", "topk:0.05", "randk:0.1",         "sign",
                           "natural",  "natural:8", "topk:0.1+dither:8", "block:0.1"};
    float a[D], b[D], x[D], ya[D], yb[D];
    s_fill(a, D, 11);
    s_fill(b, D, 12);
    for (int k = 0; k < D; k++) x[k] = a[k] - b[k];
    for (size_t sp = 0; sp < sizeof specs / sizeof *specs; sp++) {
        rumor_compressor_t *c = s_new(specs[sp], D);
        rumor_cmsg_t m1, m2;
        assert_int_equal(rumor_cmsg_init(&m1, D), 0);
        assert_int_equal(rumor_cmsg_init(&m2, D), 0);
        rumor_rng_t r1, r2;
        rumor_rng_seed(&r1, 3, 0, 0, RUMOR_RNG_COMPRESS);
        r2 = r1;
        rumor_compressor_apply_delta(c, a, b, &r1, &m1);
        rumor_compressor_apply(c, x, &r2, &m2);
        assert_int_equal(m1.kind, m2.kind);
        assert_int_equal(m1.nnz, m2.nnz);
        rumor_cmsg_to_dense(&m1, ya);
        rumor_cmsg_to_dense(&m2, yb);
        assert_memory_equal(ya, yb, sizeof ya);
        rumor_cmsg_free(&m1);
        rumor_cmsg_free(&m2);
        rumor_compressor_destroy(&c);
    }
}

static void test_parse_and_describe(void **state)
{
    (void)state;
    const char *good[] = {"identity",
                          "sign",
                          "dither:16",
                          "dither:4:inf",
                          "dither:16:biased",
                          "dither:8:inf:biased",
                          "topk:0.01",
                          "randk:0.5",
                          "natural",
                          "natural:biased",
                          "natural:8",
                          "natural:31:inf:biased",
                          "topk:0.1+dither:8",
                          "topk:0.5+dither:4:inf:biased",
                          "block:0.1",
                          "block:1",
                          "randk:0.1:unbiased",
                          "topk:0.1+natural:4",
                          "topk:0.2+natural:3:inf:biased",
                          "eround:2",
                          "eround:10:unbiased",
                          "dither:8:biased:bucket=64",
                          "dither:4:inf:layer",
                          "natural:4:bucket=100",
                          "natural:6:biased:layer",
                          "sign:stochastic",
                          "sign:stochastic:biased"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        rumor_compress_cfg_t cfg, again;
        char buf[64];
        assert_int_equal(rumor_compress_parse(good[i], &cfg, NULL), 0);
        rumor_compress_describe(&cfg, buf, sizeof buf);
        assert_int_equal(rumor_compress_parse(buf, &again, NULL), 0);
        assert_memory_equal(&cfg, &again, sizeof cfg);
    }
    const char *bad[] = {"",
                         "dither",
                         "dither:0",
                         "dither:x",
                         "dither:4:foo",
                         "dither:-1",
                         "topk:0",
                         "topk:1.5",
                         "randk:",
                         "block:0",
                         "block:",
                         "block:0.1+dither:4",
                         "sign:3",
                         "sign:biased",
                         "sign:stochastic:inf",
                         "sign:stochastic:",
                         "zip",
                         "natural:0",
                         "natural:32",
                         "natural:x",
                         "natural:inf",
                         "natural:",
                         "natural:4:4",
                         "natural:biased:x",
                         "topk:0.1+",
                         "+dither:4",
                         "randk:0.1+dither:4",
                         "topk:0.1+natural",
                         "topk:0.1+dither:4:bucket=8",
                         "topk:0.1+natural:4:layer",
                         "topk:0.1:unbiased",
                         "randk:0.1:biased",
                         "eround",
                         "eround:1",
                         "eround:2.5",
                         "eround:4:biased",
                         "eround:65537",
                         "dither:4:bucket=0",
                         "dither:4:bucket=",
                         "dither:4:bucket=8x",
                         "dither:4:bucket=8:layer",
                         "natural:bucket=8",
                         "natural:layer",
                         "dither:4+topk:0.1",
                         "topk:0.1+dither:4+dither:2"};
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
    const char *specs[] = {"dither:2:biased",
                           "dither:16:biased",
                           "topk:0.05",
                           "randk:0.1",
                           "sign",
                           "natural:biased",
                           "natural:3:biased",
                           "natural:8:biased",
                           "natural:5:inf:biased",
                           "block:0.1"};
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
/* Variance of the natural rounding of x in steps of scale: (y - lo)(hi - y) scale^2 for the
 * levels lo <= y <= hi around y = |x| / scale. */
static double s_natural_var(float x, float scale)
{
    const double y = fabs((double)x) / scale;
    double lo = 0.0;
    if (y >= 1.0) lo = ldexp(1.0, (int)floor(log2(y)));
    const double hi = y >= 1.0 ? 2.0 * lo : 1.0;
    return (y - lo) * (hi - y) * (double)scale * scale;
}

/* Natural compression and dithering: unbiased, levels are 0 or powers of two up to the top
 * level, and the mean squared error is within omega ||x||^2 (omega = delta - 1). */
static void test_natural_unbiased(void **state)
{
    (void)state;
    const char *specs[] = {"natural", "natural:4", "natural:6:inf", "natural:12"};
    const int32_t tops[] = {1 << 30, 8, 32, 2048};
    for (int s = 0; s < 4; s++) {
        float x[D], y[D];
        double mean[D] = {0}, err = 0;
        s_fill(x, D, 20 + s);
        rumor_compressor_t *c = s_new(specs[s], D);
        assert_true(rumor_compressor_unbiased(c));
        rumor_cmsg_t m;
        assert_int_equal(rumor_cmsg_init(&m, D), 0);
        const int draws = 4000;
        for (int t = 0; t < draws; t++) {
            rumor_rng_t r;
            rumor_rng_seed(&r, 9, 0, (uint64_t)t, RUMOR_RNG_COMPRESS);
            rumor_compressor_apply(c, x, &r, &m);
            assert_int_equal(m.kind, RUMOR_CMSG_INT);
            assert_int_equal(rumor_cmsg_check(&m), 0);
            s_assert_listed(&m);
            for (int k = 0; k < D; k++) {
                assert_true(m.q[k] == 0 || s_power_of_two(m.q[k]));
                assert_true(abs(m.q[k]) <= tops[s]);
                assert_true(m.q[k] == 0 || (m.q[k] < 0) == (x[k] < 0.0f));
            }
            rumor_cmsg_to_dense(&m, y);
            for (int k = 0; k < D; k++) mean[k] += y[k] / draws;
            err += rumor_vec_dist2(y, x, D) / draws;
        }
        /* Each mean is within 6 standard errors of x (a binomial count, so this holds even
         * where one of the two outcomes is rare). */
        for (int k = 0; k < D; k++) {
            const double v = s_natural_var(x[k], m.scale);
            assert_true(fabs(mean[k] - x[k]) <= 6.0 * sqrt(v / draws) + 1e-6);
        }
        const double omega = rumor_compressor_delta(c) - 1.0;
        assert_true(err <= omega * rumor_vec_dot(x, x, D));
        rumor_cmsg_free(&m);
        rumor_compressor_destroy(&c);
    }
}

/* Natural compression keeps powers of two exactly, rounds everything else to one of the two
 * powers of two around it, and values 30 binades below the largest to 0 or that floor. */
static void test_natural_compression_rounds_to_neighbours(void **state)
{
    (void)state;
    float x[D], y[D];
    s_fill(x, D, 30);
    x[0] = 64.0f;
    x[1] = -0.125f;
    x[2] = 0x1.8p-40f; /* below the floor 2^(7-30) = 2^-23 */
    rumor_compressor_t *c = s_new("natural", D);
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, D), 0);
    int floor_hits = 0;
    for (int t = 0; t < 200; t++) {
        rumor_rng_t r;
        rumor_rng_seed(&r, 10, 0, (uint64_t)t, RUMOR_RNG_COMPRESS);
        rumor_compressor_apply(c, x, &r, &m);
        assert_true(m.scale == 0x1p-23f);
        rumor_cmsg_to_dense(&m, y);
        assert_true(y[0] == 64.0f);
        assert_true(y[1] == -0.125f);
        assert_true(y[2] == 0.0f || y[2] == 0x1p-23f);
        floor_hits += y[2] != 0.0f;
        for (int k = 3; k < D; k++) {
            const float a = fabsf(x[k]);
            int e;
            frexpf(a, &e); /* 2^(e-1) <= a < 2^e */
            assert_true(fabsf(y[k]) == ldexpf(1.0f, e - 1) || fabsf(y[k]) == ldexpf(1.0f, e));
            assert_true((y[k] < 0.0f) == (x[k] < 0.0f));
        }
    }
    assert_true(floor_hits < 5); /* probability 2^-17 each */
    rumor_cmsg_free(&m);
    rumor_compressor_destroy(&c);
}

/* A vector so small that the factor turning it into levels overflows a float is sent as
 * zeros, not as levels computed from an infinity; natural compression still rounds it. */
static void test_tiny_vector(void **state)
{
    (void)state;
    float x[D], y[D];
    s_fill(x, D, 31);
    for (int k = 0; k < D; k++) x[k] *= 1e-36f;
    const char *specs[] = {"dither:1048576", "natural:31", "natural"};
    for (int s = 0; s < 3; s++) {
        rumor_cmsg_t m;
        s_apply_once(specs[s], x, 11, &m);
        rumor_cmsg_to_dense(&m, y);
        for (int k = 0; k < D; k++) assert_true(isfinite(y[k]));
        if (s < 2)
            assert_int_equal(m.nnz, 0);
        else
            assert_true(m.nnz > D / 2);
        rumor_cmsg_free(&m);
    }
}

/* Top-k then dither is dither (of k coordinates, same stream) applied to top-k's survivors;
 * reusing the message for another vector leaves no level of the first behind. */
static void test_topk_dither_is_its_parts(void **state)
{
    (void)state;
    rumor_compressor_t *both = s_new("topk:0.02+dither:4:biased", D), *top = s_new("topk:0.02", D),
                       *dither = s_new("dither:4:biased", D / 50);
    assert_false(rumor_compressor_unbiased(both));
    rumor_cmsg_t m, t, q;
    assert_int_equal(rumor_cmsg_init(&m, D), 0);
    assert_int_equal(rumor_cmsg_init(&t, D), 0);
    assert_int_equal(rumor_cmsg_init(&q, D / 50), 0);
    for (int v = 0; v < 3; v++) {
        float x[D];
        s_fill(x, D, 40 + v);
        rumor_rng_t r1, r2;
        rumor_rng_seed(&r1, 12, 0, (uint64_t)v, RUMOR_RNG_COMPRESS);
        r2 = r1;
        rumor_compressor_apply(both, x, &r1, &m);
        rumor_compressor_apply(top, x, NULL, &t);
        assert_int_equal(t.nnz, D / 50);
        rumor_compressor_apply(dither, t.val, &r2, &q);
        assert_int_equal(m.kind, RUMOR_CMSG_INT);
        assert_int_equal(rumor_cmsg_check(&m), 0);
        s_assert_listed(&m);
        assert_int_equal(m.nnz, q.nnz);
        assert_true(m.scale == q.scale);
        int32_t want[D] = {0};
        for (uint32_t j = 0; j < t.nnz; j++) want[t.idx[j]] = q.q[j];
        assert_memory_equal(m.q, want, sizeof want);
    }
    rumor_cmsg_free(&m);
    rumor_cmsg_free(&t);
    rumor_cmsg_free(&q);
    rumor_compressor_destroy(&both);
    rumor_compressor_destroy(&top);
    rumor_compressor_destroy(&dither);
}

/* A vector holding a NaN (a diverged model) is sent as zeros by the quantizers, whichever
 * norm they use, and empty by top-k (alone or before dither): never a NaN or levels computed
 * from one. */
static void test_nan_vector(void **state)
{
    (void)state;
    const char *specs[] = {"dither:16",         "dither:16:inf",      "natural",
                           "natural:8:inf",     "topk:0.1+dither:4",  "topk:0.1+dither:4:inf",
                           "topk:0.1",          "topk:0.1+natural:4", "eround:3",
                           "eround:2:unbiased", "sign:stochastic"};
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
        for (int at = 0; at < D; at += D - 1) {
            float x[D];
            s_fill(x, D, 50);
            x[at] = NAN;
            rumor_cmsg_t m;
            s_apply_once(specs[s], x, 13, &m);
            assert_int_equal(m.nnz, 0);
            if (m.kind == RUMOR_CMSG_INT)
                for (int k = 0; k < D; k++) assert_int_equal(m.q[k], 0);
            assert_true(isfinite(m.scale));
            rumor_cmsg_free(&m);
        }
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

/* A random block is k cyclically consecutive coordinates, x's own values, and every
 * coordinate is kept with probability k / d. */
static void test_block_uniform(void **state)
{
    (void)state;
    float x[D];
    s_fill(x, D, 9);
    rumor_compressor_t *c = s_new("block:0.1", D);
    assert_true(rumor_compressor_delta(c) == (double)D / 50);
    assert_false(rumor_compressor_unbiased(c));
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, D), 0);
    int hits[D] = {0}, wrapped = 0;
    const int draws = 2000;
    for (int t = 0; t < draws; t++) {
        rumor_rng_t r;
        rumor_rng_seed(&r, 9, 0, (uint64_t)t, RUMOR_RNG_COMPRESS);
        rumor_compressor_apply(c, x, &r, &m);
        assert_int_equal(m.kind, RUMOR_CMSG_SPARSE);
        assert_int_equal(m.nnz, 50);
        assert_int_equal(rumor_cmsg_check(&m), 0);
        assert_false(m.seeded); /* its positions are not a seed's */
        int breaks = 0;
        for (uint32_t j = 0; j < m.nnz; j++) {
            assert_true(m.val[j] == x[m.idx[j]]);
            hits[m.idx[j]]++;
            if (j + 1 < m.nnz) breaks += m.idx[j + 1] != m.idx[j] + 1;
        }
        assert_true(breaks <= 1);
        if (breaks) { /* the block runs past the end: 0.. and ..D-1 */
            assert_int_equal(m.idx[0], 0);
            assert_int_equal(m.idx[m.nnz - 1], D - 1);
            wrapped++;
        }
    }
    assert_true(wrapped > 0);
    const double p = 50.0 / D, mean = draws * p, sd = sqrt(draws * p * (1 - p));
    for (int i = 0; i < D; i++) assert_true(fabs(hits[i] - mean) < 6 * sd);
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
        /* the positions are those of the seed the message carries, the values x's own */
        uint64_t bits[D / 64 + 1];
        uint32_t idx[50];
        assert_true(m.seeded);
        rumor_rng_sample_positions(m.seed, D, 50, bits, idx);
        assert_memory_equal(idx, m.idx, sizeof idx);
        for (uint32_t j = 0; j < m.nnz; j++) assert_true(m.val[j] == x[m.idx[j]]);
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
    const char *specs[] = {"dither:16", "topk:0.1",  "randk:0.1", "sign",
                           "natural",   "natural:8", "block:0.1", "sign:stochastic"};
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
        rumor_cmsg_t m;
        s_apply_once(specs[s], x, 1, &m);
        rumor_cmsg_to_dense(&m, y);
        assert_true(rumor_vec_nrm_inf(y, D) == 0.0);
        rumor_cmsg_free(&m);
    }
}

/* A compressor writing into a message that last held a decoded packed one (levels in q[0..nnz)
 * in their order) writes an unpacked message, the same as into a fresh buffer. */
static void test_writes_over_a_packed_message(void **state)
{
    (void)state;
    float x[D], y[D], got[D], want[D];
    s_fill(x, D, 5);
    s_fill(y, D, 6);
    rumor_codec_t *codec = NULL;
    assert_int_equal(rumor_codec_create(D, &codec), 0);
    uint8_t *buf = malloc(rumor_codec_bound(D));
    assert_non_null(buf);
    const char *specs[] = {"dither:8", "dither:8:biased", "natural", "natural:4", "eround:2"};
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
        rumor_cmsg_t fresh, reused;
        s_apply_once(specs[s], x, 1, &fresh);
        s_apply_once("dither:4", y, 2, &reused);
        size_t n;
        assert_int_equal(
            rumor_codec_encode(codec, &reused, RUMOR_CODEC_VSC, buf, rumor_codec_bound(D), &n), 0);
        assert_int_equal(rumor_codec_decode_packed(codec, buf, n, D, &reused), 0);
        assert_true(reused.packed);
        rumor_compressor_t *c = s_new(specs[s], D);
        rumor_rng_t r;
        rumor_rng_seed(&r, 1, 0, 0, RUMOR_RNG_COMPRESS);
        rumor_compressor_apply(c, x, &r, &reused);
        rumor_compressor_destroy(&c);
        assert_int_equal(rumor_cmsg_check(&reused), 0);
        assert_false(reused.packed);
        assert_int_equal(reused.nnz, fresh.nnz);
        rumor_cmsg_to_dense(&fresh, want);
        rumor_cmsg_to_dense(&reused, got);
        if (memcmp(got, want, sizeof got))
            fail_msg("%s: the message over a packed one differs from a fresh one", specs[s]);
        rumor_cmsg_free(&fresh);
        rumor_cmsg_free(&reused);
    }
    free(buf);
    rumor_codec_destroy(&codec);
}

/* ":layer" tensor sizes that do not sum to d are a bad configuration, not a failed allocation. */
static void test_create_codes(void **state)
{
    (void)state;
    rumor_compress_cfg_t cfg;
    assert_int_equal(rumor_compress_parse("dither:4:layer", &cfg, NULL), 0);
    const uint32_t sizes[2] = {3, 4};
    cfg.tensors = sizes;
    cfg.n_tensors = 2;
    static char sentinel;
    rumor_compressor_t *c = (rumor_compressor_t *)(void *)&sentinel;
    assert_int_equal(rumor_compressor_create(&cfg, 10, &c), RUMOR_EINVAL);
    assert_null(c);
    assert_int_equal(rumor_compressor_create(&cfg, 7, &c), 0);
    assert_non_null(c);
    rumor_compressor_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_describe),
        cmocka_unit_test(test_identity_exact),
        cmocka_unit_test(test_dither_unbiased),
        cmocka_unit_test(test_contraction_bounds),
        cmocka_unit_test(test_topk_selects_largest),
        cmocka_unit_test(test_randk_uniform),
        cmocka_unit_test(test_block_uniform),
        cmocka_unit_test(test_sign_scale),
        cmocka_unit_test(test_zero_vector),
        cmocka_unit_test(test_natural_unbiased),
        cmocka_unit_test(test_natural_compression_rounds_to_neighbours),
        cmocka_unit_test(test_tiny_vector),
        cmocka_unit_test(test_topk_dither_is_its_parts),
        cmocka_unit_test(test_nan_vector),
        cmocka_unit_test(test_dither_matches_reference),
        cmocka_unit_test(test_apply_delta_is_apply_of_difference),
        cmocka_unit_test(test_writes_over_a_packed_message),
        cmocka_unit_test(test_create_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
