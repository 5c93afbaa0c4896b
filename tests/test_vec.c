/* Tests of vec: every kernel against a plain double-precision reference; the blocked sum of
 * squares behind rumor_vec_nrm2 against the plain sequential loop, bit for bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/rng.h"
#include "rumor/vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 1003 }; /* not a multiple of any vector width */

static void s_fill(float *x, uint64_t seed)
{
    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_TEST);
    for (int i = 0; i < N; i++) x[i] = (float)rumor_rng_normal(&r);
}

static void test_elementwise(void **state)
{
    (void)state;
    float a[N], b[N], y[N], out[N];
    s_fill(a, 1);
    s_fill(b, 2);
    rumor_vec_copy(y, b, N);
    rumor_vec_axpy(y, 0.25f, a, N);
    rumor_vec_sub(out, a, b, N);
    for (int i = 0; i < N; i++) {
        assert_true(y[i] == b[i] + 0.25f * a[i]);
        assert_true(out[i] == a[i] - b[i]);
    }
    rumor_vec_scale(out, 2.0f, N);
    for (int i = 0; i < N; i++) assert_true(out[i] == 2.0f * (a[i] - b[i]));
    rumor_vec_zero(out, N);
    assert_int_equal(rumor_vec_count_nonzero(out, N), 0);
}

/* rumor_vec_lincomb is a copy and m axpys, bit for bit, for every count of terms (one pass of
 * four and the passes after it), in place and not. */
static void test_lincomb_is_copy_and_axpys(void **state)
{
    (void)state;
    enum { M = 9 };
    static float c[M][N], v[N], want[N], got[N];
    const float *cp[M];
    float a[M];
    s_fill(v, 40);
    for (int j = 0; j < M; j++) {
        s_fill(c[j], 41 + (uint64_t)j);
        cp[j] = c[j];
        a[j] = 0.37f / (float)(j + 1) - 0.05f * (float)j;
    }
    for (size_t m = 0; m <= M; m++) {
        memcpy(want, v, sizeof want);
        for (size_t j = 0; j < m; j++) rumor_vec_axpy(want, a[j], c[j], N);
        rumor_vec_lincomb(got, v, m, cp, a, N);
        assert_memory_equal(got, want, sizeof want);
        memcpy(got, v, sizeof got);
        rumor_vec_lincomb(got, got, m, cp, a, N);
        assert_memory_equal(got, want, sizeof want);
    }
}

static void test_reductions(void **state)
{
    (void)state;
    float a[N], b[N];
    s_fill(a, 3);
    s_fill(b, 4);
    double dot = 0, n1 = 0, n2 = 0, ninf = 0, d2 = 0;
    for (int i = 0; i < N; i++) {
        dot += (double)a[i] * b[i];
        n1 += fabs(a[i]);
        n2 += (double)a[i] * a[i];
        if (fabs(a[i]) > ninf) ninf = fabs(a[i]);
        d2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    }
    assert_true(fabs(rumor_vec_dot(a, b, N) - dot) < 1e-9 * (1 + fabs(dot)));
    assert_true(fabs(rumor_vec_nrm1(a, N) - n1) < 1e-9 * n1);
    assert_true(fabs(rumor_vec_nrm2(a, N) - sqrt(n2)) < 1e-9 * sqrt(n2));
    assert_true(rumor_vec_nrm_inf(a, N) == ninf);
    assert_true(fabs(rumor_vec_dist2(a, b, N) - d2) < 1e-9 * d2);
    /* A NaN anywhere, first or later, makes every norm NaN. */
    for (int at = 0; at < N; at += N - 1) {
        const float keep = a[at];
        a[at] = NAN;
        assert_true(isnan(rumor_vec_nrm_inf(a, N)));
        assert_true(isnan(rumor_vec_nrm2(a, N)));
        assert_true(isnan(rumor_vec_nrm1(a, N)));
        a[at] = keep;
    }
}

static void test_soft_threshold(void **state)
{
    (void)state;
    float x[6] = {3.0f, -3.0f, 0.5f, -0.5f, 1.0f, 0.0f};
    rumor_vec_soft_threshold(x, 1.0f, 6);
    const float want[6] = {2.0f, -2.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < 6; i++) assert_true(x[i] == want[i]);
    assert_int_equal(rumor_vec_count_nonzero(x, 6), 2);
}

/* The contract of rumor_vec_nrm2: the plain loop, squares added in index order in double. */
static double s_ref_nrm2(const float *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s);
}

/* The order rumor_vec_dist2 promises (vec.h), written out plainly. */
static double s_ref_dist2(const float *a, const float *b, size_t n)
{
    double S[32] = {0}, rest = 0.0;
    const size_t n32 = n / 32 * 32;
    for (size_t i = 0; i < n; i++) {
        const double t = (double)a[i] - b[i];
        if (i < n32)
            S[i % 32] += t * t;
        else
            rest += t * t;
    }
    double L[8], M[4], H[2];
    for (int k = 0; k < 8; k++) L[k] = (S[k] + S[k + 8]) + (S[k + 16] + S[k + 24]);
    for (int k = 0; k < 4; k++) M[k] = L[k] + L[k + 4];
    for (int k = 0; k < 2; k++) H[k] = M[k] + M[k + 2];
    return (H[0] + H[1]) + rest;
}

static void s_assert_bits(double a, double b)
{
    if (memcmp(&a, &b, sizeof a)) fprintf(stderr, "got %a, want %a\n", a, b);
    assert_memory_equal(&a, &b, sizeof a);
}

enum { S_GENS = 8 };

/* Inputs that exercise the blocked sum: full-precision values; differences of nearby floats
 * with few significant bits (like residuals, many rounding ties); small integers times powers
 * of two (ties in many binades, exact sums); a few huge entries (jumps across binades); runs
 * of zeros, subnormals, and non-finite values. */
static void s_gen(float *x, size_t n, int g, rumor_rng_t *r)
{
    for (size_t i = 0; i < n; i++) {
        const double u = rumor_rng_uniform_d(r);
        switch (g) {
        case 0:
            x[i] = (float)rumor_rng_normal(r);
            break;
        case 1: {
            const float own = (float)(rumor_rng_normal(r) * 0.05);
            x[i] = (own + (float)((rumor_rng_below(r, 1000) - 500.0) * 1e-5)) - own;
            break;
        }
        case 2:
            x[i] = ldexpf((float)rumor_rng_below(r, 64), -(int)rumor_rng_below(r, 8));
            break;
        case 3:
            x[i] = (float)(2 * rumor_rng_below(r, 1u << 20) + 1) * 2.0f; /* ties at u = 8 */
            break;
        case 4:
            x[i] = u < 0.001 ? 1e15f : (float)rumor_rng_normal(r);
            break;
        case 5:
            x[i] = i < n / 3 ? 0.0f : u < 0.5 ? 1e-40f * (float)rumor_rng_below(r, 100) : (float)u;
            break;
        case 6:
            x[i] = u < 0.0005 ? (u < 0.00025 ? INFINITY : NAN) : (float)u;
            break;
        default:
            x[i] = (float)(u * 1e19); /* squares near the top of double's range: overflow */
            break;
        }
    }
}

static void test_nrm2_is_the_sequential_sum(void **state)
{
    (void)state;
    const size_t lens[] = {0, 1, 7, 63, 64, 65, 127, 129, 1003, 4096, 30011, 100000};
    float *x = malloc(100000 * sizeof *x), *a = malloc(100000 * sizeof *a);
    float *b = malloc(100000 * sizeof *b), *dif = malloc(100000 * sizeof *dif);
    assert_non_null(x);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(dif);
    rumor_rng_t r;
    rumor_rng_seed(&r, 5, 0, 0, RUMOR_RNG_TEST);
    for (int g = 0; g < S_GENS; g++)
        for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
            const size_t n = lens[l];
            s_gen(x, n, g, &r);
            s_assert_bits(rumor_vec_nrm2(x, n), s_ref_nrm2(x, n));
            /* the same through the difference form */
            s_gen(b, n, g == 6 ? 0 : g, &r);
            for (size_t i = 0; i < n; i++) a[i] = x[i] + b[i];
            for (size_t i = 0; i < n; i++) dif[i] = a[i] - b[i];
            s_assert_bits(rumor_vec_nrm2_diff(a, b, n), s_ref_nrm2(dif, n));
            s_assert_bits(rumor_vec_dist2(a, b, n), s_ref_dist2(a, b, n));
        }
    free(x);
    free(a);
    free(b);
    free(dif);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_lincomb_is_copy_and_axpys),
        cmocka_unit_test(test_reductions),
        cmocka_unit_test(test_soft_threshold),
        cmocka_unit_test(test_nrm2_is_the_sequential_sum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
