/* Tests of compress: buckets and the compressors of the biased-compression paper (the
 * unbiased and biased families, stochastic sign, eround, rand-k's scales, top-k natural),
 * and every new compressor's messages through the codec. */
#include "compress_support.h"

/* ---- buckets and the compressors of the biased-compression paper ------------------------ */

/* A compressor of spec for d coordinates, with the tensor sizes a ":layer" one needs. */
static rumor_compressor_t *s_new_tensors(const char *spec, uint32_t d, const uint32_t *tensors,
                                         uint32_t n)
{
    rumor_compress_cfg_t cfg;
    assert_int_equal(rumor_compress_parse(spec, &cfg, NULL), 0);
    cfg.tensors = tensors;
    cfg.n_tensors = n;
    return rumor_compressor_new(&cfg, d);
}

/* The model's tensors of the tests below: buckets of even length, so that the reference
 * quantizer draws its uniforms in the same pairs as the whole vector. */
static const uint32_t s_tensors[] = {100, 8, 0, 250, 142};

/* With buckets, each bucket is the plain dithered quantizer of its coordinates alone (its own
 * norm, tau of its length), on the same uniforms, with one step per bucket. */
static void test_buckets_match_reference(void **state)
{
    (void)state;
    const char *specs[] = {"dither:4:bucket=64", "dither:8:biased:bucket=100", "dither:2:inf:layer",
                           "dither:16:biased:layer"};
    for (size_t sp = 0; sp < sizeof specs / sizeof *specs; sp++) {
        rumor_compressor_t *c = s_new_tensors(specs[sp], D, s_tensors, 5);
        assert_non_null(c);
        rumor_compress_cfg_t cfg;
        assert_int_equal(rumor_compress_parse(specs[sp], &cfg, NULL), 0);
        float x[D], y[D];
        int32_t q[D];
        s_fill(x, D, 30 + sp);
        if (sp == 3) x[3] = NAN; /* a NaN sends its bucket as zeros, and only that one */
        rumor_cmsg_t m;
        assert_int_equal(rumor_cmsg_init(&m, D), 0);
        rumor_rng_t r1, r2;
        rumor_rng_seed(&r1, 3, 1, sp, RUMOR_RNG_COMPRESS);
        r2 = r1;
        rumor_compressor_apply(c, x, &r1, &m);
        assert_int_equal(rumor_cmsg_check(&m), 0);
        s_assert_listed(&m);
        const uint32_t want_nb = cfg.layer ? 4 : (D + cfg.bucket - 1) / cfg.bucket;
        assert_int_equal(m.nb, want_nb);
        assert_memory_equal(&m.scale, &m.scales[0], sizeof m.scale);
        uint32_t nnz = 0;
        for (uint32_t b = 0, lo = 0; b < m.nb; lo = m.bend[b++]) {
            const uint32_t n = m.bend[b] - lo, want = cfg.layer ? s_tensors[b + (b >= 2)]
                                                      : lo + cfg.bucket < D ? cfg.bucket
                                                                            : D - lo;
            assert_int_equal(n, want);
            uint32_t nb;
            float scale;
            s_ref_dither(x + lo, n, cfg.levels, cfg.norm_inf, cfg.biased, &r2, q + lo, &nb, &scale);
            assert_memory_equal(&m.scales[b], &scale, sizeof scale);
            nnz += nb;
        }
        assert_memory_equal(m.q, q, sizeof q);
        assert_int_equal(m.nnz, nnz);
        /* delta is tau of the longest bucket */
        const uint32_t longest = cfg.layer ? 250 : cfg.bucket;
        const double a = (double)longest / ((double)cfg.levels * cfg.levels),
                     b = sqrt((double)longest) / cfg.levels;
        assert_float_equal(rumor_compressor_delta(c), 1.0 + (a < b ? a : b), 1e-12);
        rumor_cmsg_to_dense(&m, y);
        for (int k = 0; k < D; k++) assert_true(isfinite(y[k]));
        rumor_cmsg_free(&m);
        rumor_compressor_destroy(&c);
    }
    /* tensors that do not cover the vector, and one bucket, which is no bucket */
    const uint32_t short_by_one[] = {100, 399};
    assert_null(s_new_tensors("dither:4:layer", D, short_by_one, 2));
    assert_null(s_new_tensors("natural:4:layer", D, NULL, 0));
    rumor_compressor_t *one = s_new_tensors("dither:4:bucket=500", D, NULL, 0);
    float x[D];
    s_fill(x, D, 1);
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, D), 0);
    rumor_rng_t r;
    rumor_rng_seed(&r, 3, 0, 0, RUMOR_RNG_COMPRESS);
    rumor_compressor_apply(one, x, &r, &m);
    assert_int_equal(m.nb, 0);
    rumor_cmsg_free(&m);
    rumor_compressor_destroy(&one);
}

/* Measures a compressor on x over draws: the mean of C(x) (into mean), the per-coordinate
 * variance (into var), and E||C(x) - x||^2, returned. */
static double s_measure(rumor_compressor_t *c, const float *x, int draws, double *mean, double *var)
{
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, D), 0);
    float y[D];
    double err = 0;
    memset(mean, 0, D * sizeof *mean);
    memset(var, 0, D * sizeof *var);
    for (int t = 0; t < draws; t++) {
        rumor_rng_t r;
        rumor_rng_seed(&r, 11, 0, (uint64_t)t, RUMOR_RNG_COMPRESS);
        rumor_compressor_apply(c, x, &r, &m);
        assert_int_equal(rumor_cmsg_check(&m), 0);
        rumor_cmsg_to_dense(&m, y);
        err += rumor_vec_dist2(y, x, D) / draws;
        for (int k = 0; k < D; k++) {
            mean[k] += (double)y[k] / draws;
            var[k] += (double)y[k] * y[k] / draws;
        }
    }
    for (int k = 0; k < D; k++) var[k] = fmax(var[k] - mean[k] * mean[k], 0.0);
    rumor_cmsg_free(&m);
    return err;
}

/* Unbiased compressors: over many random vectors, the mean of C(x) is within 6 standard
 * errors of x in every coordinate (a biased one is off by a fraction of x_k, many times that), and
 * E||C(x) - x||^2 <= omega ||x||^2, omega = delta - 1 (with 5% for the sampling of the mean
 * square). */
static void test_unbiased_family(void **state)
{
    (void)state;
    const char *specs[] = {"randk:0.1:unbiased", "randk:0.5:unbiased",  "eround:2:unbiased",
                           "eround:3:unbiased",  "eround:10:unbiased",  "dither:4:bucket=64",
                           "dither:2:inf:layer", "natural:4:bucket=50", "natural:3:inf:layer"};
    const int draws = 3000;
    for (size_t sp = 0; sp < sizeof specs / sizeof *specs; sp++) {
        rumor_compressor_t *c = s_new_tensors(specs[sp], D, s_tensors, 5);
        assert_non_null(c);
        assert_true(rumor_compressor_unbiased(c));
        const double omega = rumor_compressor_delta(c) - 1.0;
        double worst = 0;
        for (uint64_t v = 0; v < 4; v++) {
            float x[D];
            double mean[D], var[D];
            s_fill(x, D, 100 + 10 * sp + v);
            const double err = s_measure(c, x, draws, mean, var);
            /* the standard error of each mean, the sample's own, but not below that of the
             * average coordinate (a rare level, never drawn, has a sample variance of 0) */
            const double floor_var = err / D;
            for (int k = 0; k < D; k++)
                assert_true(fabs(mean[k] - x[k]) <= 6.0 * sqrt(fmax(var[k], floor_var) / draws));
            const double ratio = err / rumor_vec_dot(x, x, D);
            assert_true(ratio <= omega * 1.05);
            worst = fmax(worst, ratio);
        }
        print_message("%-22s omega %.4f, measured %.4f\n", specs[sp], omega, worst);
        rumor_compressor_destroy(&c);
    }
}

/* Contractive (biased) compressors: over many random vectors,
 * E||C(x) - x||^2 <= (1 - 1/delta) ||x||^2 (2% for sampling). */
static void test_biased_family(void **state)
{
    (void)state;
    const char *specs[] = {"randk:0.1",
                           "topk:0.1+natural:4:biased",
                           "topk:0.05+natural:2:inf:biased",
                           "topk:0.2+natural:8:biased",
                           "eround:2",
                           "eround:4",
                           "eround:16",
                           "dither:8:biased:bucket=64",
                           "dither:2:biased:layer",
                           "natural:4:biased:bucket=100",
                           "natural:2:inf:biased:layer"};
    const int draws = 400;
    for (size_t sp = 0; sp < sizeof specs / sizeof *specs; sp++) {
        rumor_compressor_t *c = s_new_tensors(specs[sp], D, s_tensors, 5);
        assert_non_null(c);
        assert_false(rumor_compressor_unbiased(c));
        const double delta = rumor_compressor_delta(c);
        double worst = 0;
        for (uint64_t v = 0; v < 4; v++) {
            float x[D];
            double mean[D], var[D];
            s_fill(x, D, 200 + 10 * sp + v);
            const double ratio = s_measure(c, x, draws, mean, var) / rumor_vec_dot(x, x, D);
            assert_true(ratio <= (1.0 - 1.0 / delta) * 1.02);
            worst = fmax(worst, ratio);
        }
        print_message("%-30s 1 - 1/delta %.4f, measured %.4f (delta-hat %.3f of %.3f)\n", specs[sp],
                      1.0 - 1.0 / delta, worst, 1.0 / (1.0 - worst), delta);
        rumor_compressor_destroy(&c);
    }
}

/* The stochastic 1-bit quantizer: every coordinate is +-B, B = ||x||_inf; over many draws the
 * mean is x within 6 standard errors (sqrt(B^2 - x_k^2) / sqrt(draws)) in every coordinate, and
 * E||C(x) - x||^2 / ||x||^2 is the omega of the formula, d B^2 / ||x||^2 - 1, within 3%. The
 * biased form is that message times 1 / (1 + omega): its mean is x / (1 + omega) and its error
 * 1 - 1 / (1 + omega), a contraction. Both code to one bit per coordinate and a float. */
static void test_sign_stochastic(void **state)
{
    (void)state;
    const int draws = 4000;
    float x[D];
    double mean[D], var[D];
    s_fill(x, D, 321);
    const double B = rumor_vec_nrm_inf(x, D), n2 = rumor_vec_dot(x, x, D);
    const double omega = D * B * B / n2 - 1.0;
    for (int biased = 0; biased < 2; biased++) {
        rumor_compressor_t *c = s_new(biased ? "sign:stochastic:biased" : "sign:stochastic", D);
        assert_int_equal(rumor_compressor_unbiased(c), !biased);
        assert_true(rumor_compressor_delta(c) == D);
        const double f = biased ? 1.0 / (1.0 + omega) : 1.0; /* the scale of the message */
        const double err = s_measure(c, x, draws, mean, var) / n2;
        for (int k = 0; k < D; k++) {
            const double se = f * sqrt((B * B - (double)x[k] * x[k]) / draws);
            if (!(fabs(mean[k] - f * x[k]) <= 6.0 * se + 1e-6 * B))
                fail_msg("%s, coordinate %d: mean %g, expected %g (standard error %g)",
                         biased ? "biased" : "unbiased", k, mean[k], f * x[k], se);
        }
        const double want = biased ? 1.0 - 1.0 / (1.0 + omega) : omega;
        if (!(fabs(err - want) <= 0.03 * want))
            fail_msg("%s: E||C(x) - x||^2 / ||x||^2 = %g, expected %g",
                     biased ? "biased" : "unbiased", err, want);
        print_message("sign:stochastic%s: omega %.3f, error %.4f (expected %.4f)\n",
                      biased ? ":biased" : "", omega, err, want);
        rumor_cmsg_t m;
        s_apply_once(biased ? "sign:stochastic:biased" : "sign:stochastic", x, 5, &m);
        for (int k = 0; k < D; k++) assert_true(m.q[k] == 1 || m.q[k] == -1);
        assert_true(fabsf(m.scale - (float)(f * B)) <= 1e-6f * (float)B);
        rumor_codec_t *codec = rumor_codec_new(D);
        uint8_t buf[4096];
        size_t len;
        assert_int_equal(rumor_codec_encode(codec, &m, RUMOR_CODEC_AUTO, buf, sizeof buf, &len), 0);
        if (len > D / 8 + 16) fail_msg("%zu bytes for %d signs", len, D);
        rumor_codec_destroy(&codec);
        rumor_cmsg_free(&m);
        rumor_compressor_destroy(&c);
    }
}

/* Exponential rounding where its bounds are tight: halfway between two powers the rounding
 * to the nearest loses exactly (B-1)/(B+1) of each coordinate, i.e. 1 - 1/delta of ||x||^2;
 * at 2 B^(j+1) / (B+1) the unbiased form has variance exactly omega x^2. Every level is 0 or
 * a power of B. */
static void test_eround_tight(void **state)
{
    (void)state;
    const uint32_t bases[] = {2, 3, 4, 10};
    for (size_t i = 0; i < sizeof bases / sizeof *bases; i++) {
        const double B = bases[i];
        float x[D];
        char spec[32];
        double mean[D], var[D];
        for (int k = 0; k < D; k++) x[k] = (float)((k % 2 ? -1 : 1) * (1 + B) / 2 * pow(B, k % 4));
        snprintf(spec, sizeof spec, "eround:%u", bases[i]);
        rumor_compressor_t *c = s_new(spec, D);
        const double delta = rumor_compressor_delta(c);
        assert_float_equal(delta, (B + 1) * (B + 1) / (4 * B), 1e-12);
        const double ratio = s_measure(c, x, 1, mean, var) / rumor_vec_dot(x, x, D);
        assert_float_equal(ratio, 1.0 - 1.0 / delta, 1e-5);
        rumor_cmsg_t m;
        s_apply_once(spec, x, 1, &m);
        for (int k = 0; k < D; k++) {
            uint32_t a = (uint32_t)abs(m.q[k]);
            while (a > 1 && a % bases[i] == 0) a /= bases[i];
            assert_int_equal(a, 1);
        }
        rumor_cmsg_free(&m);
        rumor_compressor_destroy(&c);

        for (int k = 0; k < D; k++)
            x[k] = (float)((k % 2 ? -1 : 1) * 2 * B / (B + 1) * pow(B, k % 4));
        snprintf(spec, sizeof spec, "eround:%u:unbiased", bases[i]);
        c = s_new(spec, D);
        const double omega = rumor_compressor_delta(c) - 1.0;
        assert_float_equal(omega, (B - 1) * (B - 1) / (4 * B), 1e-12);
        const double r = s_measure(c, x, 4000, mean, var) / rumor_vec_dot(x, x, D);
        assert_true(fabs(r - omega) < 0.05 * omega);
        rumor_compressor_destroy(&c);
    }
}

/* Unbiased rand-k is rand-k with its values scaled by d / k: the same positions (the same
 * seed), E||C(x) - x||^2 = (d/k - 1) ||x||^2; biased rand-k keeps x's values. */
static void test_randk_unbiased_scales(void **state)
{
    (void)state;
    float x[D];
    s_fill(x, D, 5);
    rumor_cmsg_t a, b;
    s_apply_once("randk:0.1", x, 4, &a);
    s_apply_once("randk:0.1:unbiased", x, 4, &b);
    assert_int_equal(a.nnz, 50);
    assert_int_equal(a.seed, b.seed);
    assert_memory_equal(a.idx, b.idx, 50 * sizeof *a.idx);
    for (uint32_t j = 0; j < 50; j++) {
        assert_true(a.val[j] == x[a.idx[j]]);
        assert_true(b.val[j] == 10.0f * x[a.idx[j]]);
    }
    rumor_cmsg_free(&a);
    rumor_cmsg_free(&b);
    rumor_compressor_t *c = s_new("randk:0.1:unbiased", D);
    double mean[D], var[D];
    const double r = s_measure(c, x, 4000, mean, var) / rumor_vec_dot(x, x, D);
    assert_true(fabs(r - 9.0) < 0.05 * 9.0);
    rumor_compressor_destroy(&c);
}

/* Top-k then natural dithering: the survivors are top-k's, their levels 0 or powers of two up
 * to 2^(s-1) of their own norm, and delta = (1 + omega of natural dithering on k) d / k. */
static void test_topk_natural_is_its_parts(void **state)
{
    (void)state;
    float x[D];
    s_fill(x, D, 6);
    rumor_cmsg_t t, m;
    s_apply_once("topk:0.1", x, 2, &t);
    s_apply_once("topk:0.1+natural:4", x, 2, &m);
    assert_int_equal(m.kind, RUMOR_CMSG_INT);
    s_assert_listed(&m);
    double n2 = 0;
    for (uint32_t j = 0; j < t.nnz; j++) n2 += (double)t.val[j] * t.val[j];
    assert_float_equal(m.scale, (float)(sqrt(n2) / 8), 1e-6 * m.scale);
    for (uint32_t j = 0, i = 0; j < m.nnz; j++) {
        while (t.idx[i] < m.idx[j]) i++;
        assert_int_equal(t.idx[i], m.idx[j]); /* a survivor of top-k */
        assert_true(s_power_of_two(m.q[m.idx[j]]) && abs(m.q[m.idx[j]]) <= 8);
        assert_true((m.q[m.idx[j]] < 0) == (t.val[i] < 0));
    }
    /* the biased form: the same levels, the step over 1 + omega of natural dithering on k */
    const double a = sqrt(50.0) / 8, omega = 0.125 + a * (a < 1 ? a : 1);
    rumor_cmsg_t b;
    s_apply_once("topk:0.1+natural:4:biased", x, 2, &b);
    assert_int_equal(b.nnz, m.nnz);
    assert_memory_equal(b.q, m.q, D * sizeof *m.q);
    assert_float_equal(b.scale, m.scale / (1 + omega), 1e-6 * b.scale);
    rumor_cmsg_free(&b);
    rumor_cmsg_free(&t);
    rumor_cmsg_free(&m);
    rumor_compressor_t *c = s_new("topk:0.1+natural:4:biased", D);
    assert_float_equal(rumor_compressor_delta(c), (1 + omega) * 10, 1e-12);
    rumor_compressor_destroy(&c);
}

/* Every new compressor's messages travel through the codec: each mode gives back the same
 * values, and AUTO picks about the smallest. */
static void test_new_compressors_encode(void **state)
{
    (void)state;
    const char *specs[] = {
        "topk:0.1+natural:4:biased", "randk:0.1:unbiased",        "eround:2",
        "eround:3:unbiased",         "dither:8:biased:bucket=64", "natural:4:layer",
        "sign:stochastic",           "sign:stochastic:biased"};
    enum { N = 5000 };
    const uint32_t tensors[] = {3000, 100, 1890, 10};
    rumor_codec_t *codec = rumor_codec_new(N);
    const size_t cap = rumor_codec_bound(N);
    uint8_t *buf = malloc(cap);
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *z = malloc(N * sizeof *z);
    assert_true(codec && buf && x && y && z);
    s_fill(x, N, 77);
    rumor_cmsg_t m, out;
    assert_int_equal(rumor_cmsg_init(&m, N), 0);
    assert_int_equal(rumor_cmsg_init(&out, N), 0);
    for (size_t sp = 0; sp < sizeof specs / sizeof *specs; sp++) {
        rumor_compressor_t *c = s_new_tensors(specs[sp], N, tensors, 4);
        assert_non_null(c);
        rumor_rng_t r;
        rumor_rng_seed(&r, 1, 0, sp, RUMOR_RNG_COMPRESS);
        rumor_compressor_apply(c, x, &r, &m);
        rumor_cmsg_to_dense(&m, y);
        size_t smallest = SIZE_MAX, sizes[4] = {0};
        for (int mode = RUMOR_CODEC_AUTO; mode <= RUMOR_CODEC_ARITH; mode++) {
            assert_int_equal(
                rumor_codec_encode(codec, &m, (rumor_codec_mode_t)mode, buf, cap, &sizes[mode]), 0);
            assert_int_equal(rumor_codec_decode(codec, buf, sizes[mode], N, &out), 0);
            rumor_cmsg_to_dense(&out, z);
            assert_memory_equal(y, z, N * sizeof *y);
            if (mode != RUMOR_CODEC_AUTO && sizes[mode] < smallest) smallest = sizes[mode];
        }
        /* (AUTO takes ARITH over VSC only when it saves more than 1/256) */
        assert_true(sizes[RUMOR_CODEC_AUTO] <= smallest + smallest / 256 + 1);
        rumor_compressor_destroy(&c);
    }
    rumor_cmsg_free(&m);
    rumor_cmsg_free(&out);
    rumor_codec_destroy(&codec);
    free(buf);
    free(x);
    free(y);
    free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_match_reference),
        cmocka_unit_test(test_unbiased_family),
        cmocka_unit_test(test_biased_family),
        cmocka_unit_test(test_eround_tight),
        cmocka_unit_test(test_sign_stochastic),
        cmocka_unit_test(test_randk_unbiased_scales),
        cmocka_unit_test(test_topk_natural_is_its_parts),
        cmocka_unit_test(test_new_compressors_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
