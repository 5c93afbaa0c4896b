/* Tests of codec's INT messages with buckets (a bucket table before the body): a golden
 * message, round trips, refused tables, encoder checks, the worst case within
 * rumor_codec_bound and the size within 3% of the entropy bound. */
#include "codec_support.h"

/* ---- buckets ------------------------------------------------------------------------- */

/* Gives the INT message m buckets: of b coordinates each (the last shorter), or with b = 0
 * the nb ends in ends; each bucket's step random, the first one also the scale. */
static void s_set_buckets(rumor_rng_t *r, rumor_cmsg_t *m, uint32_t b, const uint32_t *ends,
                          uint32_t nb)
{
    if (b) {
        nb = 0;
        for (uint64_t e = b; nb == 0 || m->bend[nb - 1] < m->d; e += b)
            m->bend[nb++] = e < m->d ? (uint32_t)e : m->d;
    } else {
        if (ends != m->bend) memcpy(m->bend, ends, (size_t)nb * sizeof *ends);
    }
    m->nb = nb;
    for (uint32_t j = 0; j < nb; j++) m->scales[j] = (float)(rumor_rng_uniform_d(r) * 1e-3);
    m->scale = m->scales[0];
}

/* One small message with buckets, by hand: levels 1, 0, 0, -1, 0 in buckets of 2 with steps
 * 0.5, 1 and 2, in RAW; then the same levels with buckets [0,1) [1,4) [4,5) as a list. */
static void test_buckets_golden(void **state)
{
    s_fix_t *f = *state;
    rumor_cmsg_t *m = &f->m;
    m->kind = RUMOR_CMSG_INT;
    m->listed = 0;
    m->d = 5;
    memset(m->q, 0, 5 * sizeof *m->q);
    m->q[0] = 1;
    m->q[3] = -1;
    m->nnz = 2;
    m->nb = 3;
    const uint32_t ends[3] = {2, 4, 5};
    const float steps[3] = {0.5f, 1.0f, 2.0f};
    memcpy(m->bend, ends, sizeof ends);
    memcpy(m->scales, steps, sizeof steps);
    m->scale = 0.5f;
    const uint8_t want[] = {'R', 'c',  3,    0x31, 5, 2, 0, 0,    0, 0x3f, /* header, 0.5 */
                            2,                                             /* buckets of 2 */
                            0,   0,    0x80, 0x3f, 0, 0, 0, 0x40,          /* steps 1 and 2 */
                            2,   0x42, 0}; /* width 2, zigzag levels 2 0 0 1 0 */
    size_t n;
    assert_int_equal(rumor_codec_encode(f->c, m, RUMOR_CODEC_RAW, f->buf, f->cap, &n), 0);
    assert_int_equal(n, sizeof want);
    assert_memory_equal(f->buf, want, sizeof want);
    rumor_codec_info_t info;
    assert_int_equal(rumor_codec_peek(f->buf, n, &info), 0);
    assert_int_equal(info.kind, RUMOR_CMSG_INT);
    assert_true(info.buckets);
    assert_int_equal(rumor_codec_decode(f->c, f->buf, n, DMAX, &f->out), 0);
    s_assert_same(m, &f->out);
    float y[5];
    rumor_cmsg_to_dense(&f->out, y);
    const float values[5] = {0.5f, 0, 0, -1.0f, 0};
    assert_memory_equal(y, values, sizeof y);

    const uint32_t list[3] = {1, 4, 5};
    memcpy(m->bend, list, sizeof list);
    const uint8_t want_list[] = {0, 3, 1, 3, 1}; /* B = 0, three lengths */
    assert_int_equal(rumor_codec_encode(f->c, m, RUMOR_CODEC_RAW, f->buf, f->cap, &n), 0);
    assert_int_equal(n, sizeof want + 4);
    assert_memory_equal(f->buf + 10, want_list, sizeof want_list);
    assert_int_equal(rumor_codec_decode(f->c, f->buf, n, DMAX, &f->out), 0);
    s_assert_same(m, &f->out);
}

/* Every mode carries buckets, of one length or listed, at any density. */
static void test_buckets_roundtrip(void **state)
{
    s_fix_t *f = *state;
    const rumor_codec_mode_t modes[] = {RUMOR_CODEC_AUTO, RUMOR_CODEC_RAW, RUMOR_CODEC_VSC,
                                        RUMOR_CODEC_ARITH};
    const uint32_t lens[] = {2, 3, 100, 1000, 4097};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        for (int dense = 0; dense < 2; dense++) {
            s_gen_int(&f->rng, &f->m, lens[i], dense ? 0.6 : 0.02, S_GEN_DITHER, 8);
            const uint32_t ends[4] = {1, lens[i] / 2 + 1, lens[i] - 1, lens[i]};
            for (int form = 0; form < 3; form++) {
                if (form == 0) s_set_buckets(&f->rng, &f->m, 1 + lens[i] / 7, NULL, 0);
                if (form == 1) s_set_buckets(&f->rng, &f->m, 1, NULL, 0); /* one each */
                if (form == 2) {
                    if (lens[i] < 4) continue;
                    s_set_buckets(&f->rng, &f->m, 0, ends, 4);
                }
                for (size_t k = 0; k < sizeof modes / sizeof *modes; k++)
                    s_roundtrip(f, modes[k], NULL);
            }
        }
}

/* The decoder refuses every other spelling of a bucket table, and truncations. */
static void test_buckets_refused(void **state)
{
    s_fix_t *f = *state;
    s_gen_int(&f->rng, &f->m, 100, 0.1, S_GEN_DITHER, 8);
    s_set_buckets(&f->rng, &f->m, 30, NULL, 0); /* 30, 30, 30, 10 */
    size_t n;
    assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_VSC, f->buf, f->cap, &n), 0);
    uint8_t *b = f->buf;
    const size_t at = rumor_codec_header_size(100, f->m.nnz); /* the table */
    assert_int_equal(b[at], 30);
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), 0);
    for (size_t cut = 1; cut <= 12 && cut < n; cut++)
        assert_true(rumor_codec_decode(f->c, b, n - cut, DMAX, &f->out) < 0);
    b[2] = S_PLAIN; /* buckets are version 3 */
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EFORMAT);
    b[2] = RUMOR_CODEC_VERSION;
    const uint8_t len_byte = b[at];
    b[at] = 100; /* one bucket is no bucket */
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EFORMAT);
    b[at] = 101;
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EFORMAT);
    b[at] = len_byte;
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), 0);

    /* a list: 0, nb, lengths; lists that one length says, a zero length, wrong sums, one
     * bucket, more buckets than coordinates, a list cut short */
    uint8_t msg[64];
    const size_t h = rumor_codec_header_size(100, 0);
    const struct {
        uint8_t table[8];
        size_t len;
        int rc;
    } cases[] = {
        {{0, 2, 40, 60}, 4, 0},
        {{0, 2, 60, 40}, 4, RUMOR_EFORMAT}, /* buckets of 60 */
        {{0, 2, 50, 50}, 4, RUMOR_EFORMAT},
        {{0, 3, 40, 40, 20}, 5, RUMOR_EFORMAT},
        {{0, 3, 40, 0, 60}, 5, RUMOR_EFORMAT},
        {{0, 2, 60, 41}, 4, RUMOR_EFORMAT},
        {{0, 2, 60, 39}, 4, RUMOR_EFORMAT},
        {{0, 1, 100}, 3, RUMOR_EFORMAT},
        {{0, 101}, 2, RUMOR_EFORMAT},
        {{0, 2, 60}, 3, RUMOR_ETRUNC},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const uint8_t head[] = {'R', 'c', 3, RUMOR_CODEC_RAW | 3 << 4, 100, 0, 0, 0, 0, 0};
        memcpy(msg, head, h);
        memcpy(msg + h, cases[i].table, cases[i].len);
        size_t m = h + cases[i].len;
        if (cases[i].rc != RUMOR_ETRUNC) { /* the second step, then the all-zero RAW body */
            memset(msg + m, 0, 5);
            m += 5;
        }
        assert_int_equal(rumor_codec_decode(f->c, msg, m, DMAX, &f->out), cases[i].rc);
        if (!cases[i].rc) assert_int_equal(f->out.nb, 2);
    }
}

/* The encoder refuses buckets that are not a partition of [0, d) in at least two parts. */
static void test_buckets_encode_checks(void **state)
{
    s_fix_t *f = *state;
    s_gen_int(&f->rng, &f->m, 50, 0.1, S_GEN_DITHER, 8);
    size_t n;
    const uint32_t bad[][3] = {{50, 50, 50}, {10, 10, 50}, {20, 10, 50}, {10, 20, 49}, {0, 20, 50}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s_set_buckets(&f->rng, &f->m, 0, bad[i], i == 0 ? 1 : 3);
        assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_AUTO, f->buf, f->cap, &n),
                         RUMOR_EINVAL);
        assert_int_equal(rumor_cmsg_check(&f->m), RUMOR_EFORMAT);
    }
}

/* The largest message there is: levels of 32 bits in RAW, with buckets of one or two
 * coordinates listed one by one; rumor_codec_bound still holds it. */
static void test_buckets_worst_case_fits_bound(void **state)
{
    s_fix_t *f = *state;
    const uint32_t lens[] = {3, 100, 5000, DMAX};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        const uint32_t d = lens[i];
        s_gen_int(&f->rng, &f->m, d, 1.0, S_GEN_HUGE, 0);
        uint32_t nb = 0;
        for (uint32_t e = 2; e < d; e++) f->m.bend[nb++] = e; /* one of 2, then ones */
        f->m.bend[nb++] = d;
        s_set_buckets(&f->rng, &f->m, 0, f->m.bend, nb);
        const size_t n = s_roundtrip(f, RUMOR_CODEC_RAW, NULL);
        assert_true(n > 9 * (size_t)d);
        assert_true(n <= rumor_codec_bound(d));
    }
}

/* Levels dithered with one norm per bucket of 1024 on a residual whose scale differs from
 * bucket to bucket: the bound counts one 32-bit step per bucket, and the codec stays within
 * 3% of it. */
static void test_buckets_within_3pct_of_entropy_bound(void **state)
{
    s_fix_t *f = *state;
    rumor_cmsg_t *m = &f->m;
    const uint32_t d = 100000, b = 1024, s = 8;
    for (int rep = 0; rep < 4; rep++) {
        const double frac = rep < 2 ? 0.05 : 1.0;
        m->kind = RUMOR_CMSG_INT;
        m->listed = 0;
        m->d = d;
        m->nnz = 0;
        s_set_buckets(&f->rng, m, b, NULL, 0);
        double *x = malloc(b * sizeof *x);
        for (uint32_t j = 0, lo = 0; j < m->nb; lo = m->bend[j++]) {
            const double amp = pow(10.0, 3 * rumor_rng_uniform_d(&f->rng));
            double n2 = 0;
            for (uint32_t k = lo; k < m->bend[j]; k++) {
                const double u = rumor_rng_uniform_d(&f->rng) - 0.5;
                x[k - lo] = rumor_rng_uniform_d(&f->rng) < frac
                                ? amp * (u < 0 ? 1 : -1) * log(1 - 2 * fabs(u))
                                : 0;
                n2 += x[k - lo] * x[k - lo];
            }
            m->scales[j] = (float)(sqrt(n2) / s);
            for (uint32_t k = lo; k < m->bend[j]; k++) {
                const int32_t l =
                    n2 > 0
                        ? (int32_t)(fabs(x[k - lo]) * s / sqrt(n2) + rumor_rng_uniform_d(&f->rng))
                        : 0;
                m->q[k] = x[k - lo] < 0 ? -l : l;
                m->nnz += l != 0;
            }
        }
        free(x);
        m->scale = m->scales[0];
        const double bound = rumor_codec_entropy_bound_bits(m);
        m->nb = 0;
        assert_float_equal(bound - rumor_codec_entropy_bound_bits(m), 32.0 * 97, 0.05);
        m->nb = 98;
        const size_t n = s_roundtrip(f, RUMOR_CODEC_AUTO, NULL);
        assert_true(m->nnz > 1000);
        assert_true((double)n <= 1.03 * bound / 8);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_buckets_golden, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_buckets_roundtrip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_buckets_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_buckets_encode_checks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_buckets_worst_case_fits_bound, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_buckets_within_3pct_of_entropy_bound, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
