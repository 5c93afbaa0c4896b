/* Tests of cmsg: value semantics of each shape, the structural check decoders rely on, and the
 * support list of INT messages (listing, sparse clearing, list-driven axpy and check) against
 * plain dense loops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/cmsg.h"
#include "rumor/err.h"
#include "rumor/rng.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_shapes(void **state)
{
    (void)state;
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, 5), 0);
    float y[5] = {1, 1, 1, 1, 1};

    m.kind = RUMOR_CMSG_INT;
    m.d = 5;
    m.scale = 0.5f;
    const int32_t q[5] = {0, 2, 0, -4, 0};
    for (int k = 0; k < 5; k++) m.q[k] = q[k];
    m.nnz = 2;
    assert_int_equal(rumor_cmsg_check(&m), 0);
    rumor_cmsg_axpy(&m, 2.0f, y);
    const float want_int[5] = {1, 3, 1, -3, 1};
    assert_memory_equal(y, want_int, sizeof y);

    m.kind = RUMOR_CMSG_SPARSE;
    m.nnz = 2;
    m.idx[0] = 1;
    m.idx[1] = 4;
    m.val[0] = 3.0f;
    m.val[1] = -1.0f;
    assert_int_equal(rumor_cmsg_check(&m), 0);
    rumor_cmsg_to_dense(&m, y);
    const float want_sp[5] = {0, 3, 0, 0, -1};
    assert_memory_equal(y, want_sp, sizeof y);

    m.kind = RUMOR_CMSG_DENSE;
    m.nnz = 5;
    for (int k = 0; k < 5; k++) m.val[k] = (float)k;
    assert_int_equal(rumor_cmsg_check(&m), 0);
    rumor_cmsg_to_dense(&m, y);
    const float want_dn[5] = {0, 1, 2, 3, 4};
    assert_memory_equal(y, want_dn, sizeof y);
    rumor_cmsg_free(&m);
}

/* rumor_cmsg_axpy_finite says whether y + alpha value(m) stays finite on every entry axpy
 * touches: NaN or infinite values in any position, an infinite step, and sums of finite
 * values that overflow are caught; entries axpy leaves alone do not count. */
static void test_axpy_finite(void **state)
{
    (void)state;
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, 40), 0);
    float y[40];
    for (uint32_t k = 0; k < 40; k++) y[k] = (float)k;
    m.kind = RUMOR_CMSG_DENSE;
    m.d = m.nnz = 40;
    for (uint32_t k = 0; k < 40; k++) m.val[k] = (float)k - 20.0f;
    m.val[7] = FLT_MAX;
    m.val[8] = -FLT_MAX;
    assert_true(rumor_cmsg_axpy_finite(&m, 1.0f, NULL));
    assert_true(rumor_cmsg_axpy_finite(&m, 1.0f, y));
    y[7] = FLT_MAX; /* FLT_MAX + FLT_MAX overflows */
    assert_false(rumor_cmsg_axpy_finite(&m, 1.0f, y));
    assert_true(rumor_cmsg_axpy_finite(&m, -1.0f, y));
    y[7] = 7.0f;
    const float bad[] = {NAN, -NAN, INFINITY, -INFINITY};
    for (size_t b = 0; b < sizeof bad / sizeof *bad; b++)
        for (uint32_t at = 0; at < 40; at += 13) {
            const float keep = m.val[at];
            m.val[at] = bad[b];
            assert_false(rumor_cmsg_axpy_finite(&m, 1.0f, NULL));
            assert_false(rumor_cmsg_axpy_finite(&m, 1.0f, y));
            m.kind = RUMOR_CMSG_SPARSE; /* the first nnz entries count, not the rest */
            for (uint32_t j = 0; j < 40; j++) m.idx[j] = j;
            m.nnz = at;
            assert_true(rumor_cmsg_axpy_finite(&m, 1.0f, y));
            m.nnz = at + 1;
            assert_false(rumor_cmsg_axpy_finite(&m, 1.0f, y));
            m.kind = RUMOR_CMSG_DENSE;
            m.nnz = 40;
            m.val[at] = keep;
        }
    /* INT: the step, and finite steps whose levels overflow an entry */
    m.kind = RUMOR_CMSG_INT;
    m.listed = 0;
    memset(m.q, 0, 40 * sizeof *m.q);
    m.q[3] = INT32_MIN;
    m.nnz = 1;
    m.scale = 1e-3f;
    assert_true(rumor_cmsg_axpy_finite(&m, 1.0f, y));
    m.scale = 1.5e29f; /* 1.5e29 * -2^31 = -3.2e38: finite once, not twice */
    assert_true(rumor_cmsg_axpy_finite(&m, 1.0f, NULL));
    rumor_cmsg_axpy(&m, 1.0f, y);
    assert_false(rumor_cmsg_axpy_finite(&m, 1.0f, y));
    m.scale = INFINITY;
    assert_false(rumor_cmsg_axpy_finite(&m, 1.0f, NULL));
    rumor_cmsg_list(&m); /* listed: only the nonzero level's entry is touched */
    m.scale = 1.0f;
    y[3] = 0.0f;
    y[5] = NAN;
    assert_true(rumor_cmsg_axpy_finite(&m, 1.0f, y));
    rumor_cmsg_free(&m);
}

static void test_check_catches_bad_structure(void **state)
{
    (void)state;
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, 8), 0);
    m.kind = RUMOR_CMSG_SPARSE;
    m.d = 8;
    m.nnz = 2;
    m.idx[0] = 3;
    m.idx[1] = 3; /* not strictly ascending */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    m.idx[1] = 8; /* out of range */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    m.nnz = 9; /* more entries than d */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    m.kind = RUMOR_CMSG_INT;
    m.nnz = 1; /* q is all zero */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    m.kind = RUMOR_CMSG_DENSE;
    m.nnz = 8;
    m.d = 9; /* beyond capacity */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    rumor_cmsg_free(&m);
}

enum { S_D = 3001 }; /* not a multiple of the 64-level blocks */

/* An INT message with about density * d nonzero levels, written the way a user would. */
static void s_gen_int(rumor_cmsg_t *m, uint32_t d, double density, rumor_rng_t *r)
{
    m->kind = RUMOR_CMSG_INT;
    m->d = d;
    m->scale = 0.25f;
    m->listed = 0;
    m->nnz = 0;
    for (uint32_t k = 0; k < d; k++) {
        const int on = rumor_rng_uniform_d(r) < density;
        m->q[k] = on ? (int32_t)rumor_rng_below(r, 7) - 3 : 0;
        m->nnz += m->q[k] != 0;
    }
}

static void test_list_finds_every_nonzero(void **state)
{
    (void)state;
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, S_D), 0);
    assert_int_equal(m.listed, 0);
    rumor_rng_t r;
    rumor_rng_seed(&r, 3, 0, 0, RUMOR_RNG_TEST);
    const double dens[] = {0.0, 0.001, 0.02, 0.5, 1.0};
    const uint32_t lens[] = {0, 1, 63, 64, 65, S_D};
    for (size_t i = 0; i < sizeof dens / sizeof *dens; i++)
        for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
            s_gen_int(&m, lens[l], dens[i], &r);
            assert_int_equal(rumor_cmsg_list(&m), m.nnz);
            assert_int_equal(m.listed, 1);
            uint32_t j = 0;
            for (uint32_t k = 0; k < m.d; k++)
                if (m.q[k]) assert_int_equal(m.idx[j++], k);
            assert_int_equal(j, m.nnz);
            assert_int_equal(rumor_cmsg_check(&m), 0);
        }
    rumor_cmsg_free(&m);
}

static void test_int_clear_leaves_only_zeros(void **state)
{
    (void)state;
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, S_D), 0);
    rumor_rng_t r;
    rumor_rng_seed(&r, 4, 0, 0, RUMOR_RNG_TEST);
    /* unlisted: every level goes, whatever it was */
    s_gen_int(&m, S_D, 0.3, &r);
    rumor_cmsg_int_clear(&m, S_D);
    for (uint32_t k = 0; k < S_D; k++) assert_int_equal(m.q[k], 0);
    assert_true(m.kind == RUMOR_CMSG_INT && m.listed && m.nnz == 0 && m.d == S_D);
    /* listed, then cleared to a longer length: levels past the old d go too */
    s_gen_int(&m, 1000, 0.05, &r);
    for (uint32_t k = 1000; k < S_D; k++) m.q[k] = 9;
    rumor_cmsg_list(&m);
    rumor_cmsg_int_clear(&m, S_D);
    for (uint32_t k = 0; k < S_D; k++) assert_int_equal(m.q[k], 0);
    /* a SPARSE message's buffers say nothing about q: cleared in full */
    m.kind = RUMOR_CMSG_SPARSE;
    m.nnz = 0;
    m.d = S_D;
    for (uint32_t k = 0; k < S_D; k++) m.q[k] = 5;
    rumor_cmsg_int_clear(&m, 17);
    for (uint32_t k = 0; k < 17; k++) assert_int_equal(m.q[k], 0);
    assert_int_equal(rumor_cmsg_check(&m), 0);
    rumor_cmsg_free(&m);
}

static void test_listed_axpy_matches_dense(void **state)
{
    (void)state;
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, S_D), 0);
    rumor_rng_t r;
    rumor_rng_seed(&r, 5, 0, 0, RUMOR_RNG_TEST);
    float *y = malloc(S_D * sizeof *y), *want = malloc(S_D * sizeof *want);
    assert_non_null(y);
    assert_non_null(want);
    for (int t = 0; t < 4; t++) {
        s_gen_int(&m, S_D, t * 0.1, &r);
        for (uint32_t k = 0; k < S_D; k++) y[k] = want[k] = (float)rumor_rng_normal(&r);
        /* plain dense loop */
        for (uint32_t k = 0; k < S_D; k++) want[k] += -1.5f * m.scale * (float)m.q[k];
        rumor_cmsg_list(&m);
        rumor_cmsg_axpy(&m, -1.5f, y);
        assert_memory_equal(y, want, S_D * sizeof *y);
    }
    free(y);
    free(want);
    rumor_cmsg_free(&m);
}

/* Packs listed message m in place: its levels to q[0..nnz), the rest of q zeroed. */
static void s_pack(rumor_cmsg_t *m)
{
    for (uint32_t j = 0; j < m->nnz; j++) {
        const int32_t l = m->q[m->idx[j]];
        m->q[m->idx[j]] = 0;
        m->q[j] = l; /* idx[j] >= j: not a level still to move */
    }
    m->packed = 1;
}

/* A packed message applies, checks and clears like its unpacked form. */
static void test_packed(void **state)
{
    (void)state;
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, S_D), 0);
    rumor_rng_t r;
    rumor_rng_seed(&r, 8, 0, 0, RUMOR_RNG_TEST);
    float *y = malloc(S_D * sizeof *y), *want = malloc(S_D * sizeof *want);
    assert_true(y && want);
    for (int t = 0; t < 3; t++) {
        s_gen_int(&m, S_D, 0.002 + 0.01 * t, &r);
        rumor_cmsg_list(&m);
        for (uint32_t k = 0; k < S_D; k++) y[k] = want[k] = (float)rumor_rng_normal(&r);
        rumor_cmsg_axpy(&m, 0.7f, want);
        s_pack(&m);
        assert_int_equal(rumor_cmsg_check(&m), 0);
        assert_true(rumor_cmsg_axpy_finite(&m, 0.7f, y));
        rumor_cmsg_axpy(&m, 0.7f, y);
        assert_memory_equal(y, want, S_D * sizeof *y);
        if (m.nnz > 1) { /* a zero level, or packed without a list, is malformed */
            const int32_t l = m.q[1];
            m.q[1] = 0;
            assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
            m.q[1] = l;
            m.listed = 0;
            assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
            m.listed = 1;
        }
        rumor_cmsg_int_clear(&m, S_D);
        assert_false(m.packed);
        for (uint32_t k = 0; k < S_D; k++) assert_int_equal(m.q[k], 0);
    }
    free(y);
    free(want);
    rumor_cmsg_free(&m);
}

static void test_check_catches_bad_lists(void **state)
{
    (void)state;
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, 256), 0);
    m.kind = RUMOR_CMSG_INT;
    m.d = 256;
    memset(m.q, 0, 256 * sizeof *m.q);
    m.q[1] = 2;
    m.q[3] = -1;
    m.q[6] = 3;
    m.nnz = 3;
    assert_int_equal(rumor_cmsg_list(&m), 3);
    assert_int_equal(rumor_cmsg_check(&m), 0);
    m.idx[1] = 1; /* not ascending */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    m.idx[1] = 2; /* a zero level */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    m.idx[1] = 3;
    m.idx[2] = 256; /* out of range */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    m.idx[2] = 6;
    m.nnz = 257; /* more than d */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    /* a long list is checked against the count of nonzero levels */
    for (uint32_t k = 0; k < 64; k++) m.q[2 * k] = 1;
    m.nnz = rumor_cmsg_list(&m);
    assert_int_equal(rumor_cmsg_check(&m), 0);
    m.q[255] = 4; /* a nonzero level off the list */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    rumor_cmsg_free(&m);
}

/* An INT message with buckets takes each level's step from its bucket, listed or not; a
 * non-finite step in any bucket fails the finite check; the check wants at least two buckets,
 * strictly ascending to d. */
static void test_buckets(void **state)
{
    (void)state;
    enum { N = 300 };
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, N), 0);
    rumor_rng_t r;
    rumor_rng_seed(&r, 5, 0, 0, RUMOR_RNG_TEST);
    m.kind = RUMOR_CMSG_INT;
    m.d = N;
    m.nnz = 0;
    for (uint32_t k = 0; k < N; k++) {
        m.q[k] = k % 11 == 0 && k >= 7 ? (int32_t)(k % 7) - 3 : 0; /* none in bucket 0 */
        m.nnz += m.q[k] != 0;
    }
    const uint32_t ends[3] = {7, 200, N};
    const float steps[3] = {0.5f, -2.0f, 0.25f};
    m.nb = 3;
    memcpy(m.bend, ends, sizeof ends);
    memcpy(m.scales, steps, sizeof steps);
    m.scale = steps[0];
    float want[N], y[N];
    for (uint32_t k = 0; k < N; k++)
        want[k] = 1.0f + 3.0f * steps[k < 7 ? 0 : k < 200 ? 1 : 2] * m.q[k];
    for (int listed = 0; listed < 2; listed++) {
        m.listed = 0;
        if (listed) rumor_cmsg_list(&m);
        assert_int_equal(rumor_cmsg_check(&m), 0);
        for (uint32_t k = 0; k < N; k++) y[k] = 1.0f;
        rumor_cmsg_axpy(&m, 3.0f, y);
        assert_memory_equal(y, want, sizeof y);
        assert_true(rumor_cmsg_axpy_finite(&m, 1.0f, NULL));
        for (int j = 0; j < 3; j++) { /* bucket 0 holds only zeros, and counts all the same */
            m.scales[j] = INFINITY;
            assert_false(rumor_cmsg_axpy_finite(&m, 1.0f, NULL));
            m.scales[j] = steps[j];
        }
    }
    const uint32_t bad[][3] = {{7, 7, N}, {7, 200, N - 1}, {0, 200, N}, {200, 7, N}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memcpy(m.bend, bad[i], sizeof bad[i]);
        assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    }
    m.nb = 1;
    m.bend[0] = N;
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    rumor_cmsg_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_axpy_finite),
        cmocka_unit_test(test_check_catches_bad_structure),
        cmocka_unit_test(test_list_finds_every_nonzero),
        cmocka_unit_test(test_int_clear_leaves_only_zeros),
        cmocka_unit_test(test_listed_axpy_matches_dense),
        cmocka_unit_test(test_check_catches_bad_lists),
        cmocka_unit_test(test_packed),
        cmocka_unit_test(test_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
