/* Tests of codec's entropy bound: its values, and AUTO's size within 3% of it on what
 * Malcom-PSGD sends. */
#include "codec_support.h"

/* Dithered quantization of a Laplacian vector whose support is a fraction `frac` of d, with s
 * levels against its L2 norm: what Malcom-PSGD sends. */
static void s_gen_dithered(rumor_rng_t *r, rumor_cmsg_t *m, uint32_t d, double frac, double s)
{
    double *x = malloc(sizeof *x * d), n2 = 0;
    for (uint32_t k = 0; k < d; k++) {
        x[k] = 0;
        if (rumor_rng_uniform_d(r) >= frac) continue;
        const double u = rumor_rng_uniform_d(r) - 0.5;
        x[k] = (u < 0 ? 1 : -1) * log(1 - 2 * fabs(u));
        n2 += x[k] * x[k];
    }
    m->kind = RUMOR_CMSG_INT;
    m->listed = 0;
    m->nb = 0;
    m->d = d;
    m->nnz = 0;
    m->scale = (float)(sqrt(n2) / s);
    for (uint32_t k = 0; k < d; k++) {
        const int32_t l =
            n2 > 0 ? (int32_t)(fabs(x[k]) * s / sqrt(n2) + rumor_rng_uniform_d(r)) : 0;
        m->q[k] = x[k] < 0 ? -l : l;
        m->nnz += l != 0;
    }
    free(x);
}

static void test_size_within_3pct_of_entropy_bound(void **state)
{
    s_fix_t *f = *state;
    const double fracs[] = {0.014, 0.03, 0.07, 0.14, 0.3, 0.7, 1.0};
    const double spread[] = {0.5, 1.5, 4.0}; /* mean level of the kept entries, roughly */
    unsigned checked = 0;
    for (size_t i = 0; i < sizeof fracs / sizeof *fracs; i++)
        for (size_t j = 0; j < 3; j++)
            for (int rep = 0; rep < 2; rep++) {
                const uint32_t d = 100000;
                s_gen_dithered(&f->rng, &f->m, d, fracs[i], spread[j] * sqrt(2 * fracs[i] * d));
                if (f->m.nnz < 1000) continue;
                const double bound = rumor_codec_entropy_bound_bits(&f->m) / 8;
                int wm;
                const size_t n = s_roundtrip(f, RUMOR_CODEC_AUTO, &wm);
                if ((double)n > 1.03 * bound)
                    fprintf(stderr, "frac %.3f spread %.1f nnz %u: %zu bytes, bound %.0f\n",
                            fracs[i], spread[j], f->m.nnz, n, bound);
                assert_true((double)n <= 1.03 * bound);
                checked++;
            }
    /* Malcom's own setting: s = 16 levels on the L2 norm */
    for (int rep = 0; rep < 6; rep++) {
        s_gen_dithered(&f->rng, &f->m, DMAX, 0.02 + 0.2 * rep, 16);
        if (f->m.nnz < 1000) continue;
        const double bound = rumor_codec_entropy_bound_bits(&f->m) / 8;
        assert_true((double)s_roundtrip(f, RUMOR_CODEC_AUTO, NULL) <= 1.03 * bound);
        checked++;
    }
    assert_true(checked >= 30);
}

static void test_entropy_bound_values(void **state)
{
    s_fix_t *f = *state;
    /* d = 8, two nonzeros of one magnitude: log2 C(8,2) + 0 + 2 + 32 */
    f->m.kind = RUMOR_CMSG_INT;
    f->m.d = 8;
    memset(f->m.q, 0, 8 * 4);
    f->m.q[1] = 3;
    f->m.q[6] = -3;
    f->m.nnz = 2;
    assert_float_equal(rumor_codec_entropy_bound_bits(&f->m), log2(28) + 34, 1e-9);
    /* magnitudes 1, 1, 2, 5: H = 1.5 bits */
    f->m.q[0] = 1;
    f->m.q[2] = 2;
    f->m.q[6] = -1;
    f->m.q[1] = 5;
    f->m.nnz = 4;
    assert_float_equal(rumor_codec_entropy_bound_bits(&f->m), log2(70) + 4 * 1.5 + 4 + 32, 1e-9);
    /* large d: Stirling agrees with a direct sum */
    f->m.d = 100000;
    memset(f->m.q, 0, 100000 * 4);
    f->m.nnz = 1000;
    for (uint32_t k = 0; k < 1000; k++) f->m.q[k * 97] = 1;
    double want = 0;
    for (uint32_t k = 0; k < 1000; k++) want += log2((100000.0 - k) / (1000.0 - k));
    assert_float_equal(rumor_codec_entropy_bound_bits(&f->m), want + 1000 + 32, 1e-6);
    /* many distinct large magnitudes are counted exactly while the table has room */
    f->m.d = 3000;
    for (uint32_t k = 0; k < 3000; k++) f->m.q[k] = (int32_t)(5000 + k);
    f->m.nnz = 3000;
    assert_float_equal(rumor_codec_entropy_bound_bits(&f->m), 3000 * log2(3000) + 3000 + 32, 1e-6);
    s_gen_sparse(&f->rng, &f->m, 1000, 0.1);
    assert_float_equal(rumor_codec_entropy_bound_bits(&f->m), rumor_codec_entropy_bound_bits(&f->m),
                       0);
    s_gen_dense(&f->rng, &f->m, 77);
    assert_float_equal(rumor_codec_entropy_bound_bits(&f->m), 32 * 77, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_size_within_3pct_of_entropy_bound, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_entropy_bound_values, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
