/* Tests of vec: every kernel against a plain double-precision reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/rng.h"
#include "rumor/vec.h"

#include <math.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_reductions),
        cmocka_unit_test(test_soft_threshold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
