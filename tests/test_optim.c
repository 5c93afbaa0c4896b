/* Tests of optim: schedules follow their formulas, parsing names bad input, prox and SGD. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/optim.h"

#include <float.h>
#include <math.h>
#include <string.h>

static void test_schedules(void **state)
{
    (void)state;
    rumor_schedule_t s = {.lr = 0.1};
    assert_int_equal(rumor_schedule_parse("constant", 100, &s, NULL), 0);
    assert_true(rumor_schedule_lr(&s, 0) == 0.1 && rumor_schedule_lr(&s, 99) == 0.1);

    s = (rumor_schedule_t){.lr = 0.1};
    assert_int_equal(rumor_schedule_parse("step:10:0.5", 100, &s, NULL), 0);
    assert_true(fabs(rumor_schedule_lr(&s, 9) - 0.1) < 1e-15);
    assert_true(fabs(rumor_schedule_lr(&s, 10) - 0.05) < 1e-15);
    assert_true(fabs(rumor_schedule_lr(&s, 25) - 0.025) < 1e-15);

    s = (rumor_schedule_t){.lr = 0.1};
    assert_int_equal(rumor_schedule_parse("cosine:0.01", 100, &s, NULL), 0);
    assert_true(fabs(rumor_schedule_lr(&s, 0) - 0.1) < 1e-15);
    assert_true(fabs(rumor_schedule_lr(&s, 50) - 0.055) < 1e-12);
    assert_true(fabs(rumor_schedule_lr(&s, 100) - 0.01) < 1e-15);
    assert_true(fabs(rumor_schedule_lr(&s, 500) - 0.01) < 1e-15);

    s = (rumor_schedule_t){.lr = 0.1, .warmup = 10};
    assert_int_equal(rumor_schedule_parse("constant", 100, &s, NULL), 0);
    assert_true(fabs(rumor_schedule_lr(&s, 0) - 0.01) < 1e-15);
    assert_true(fabs(rumor_schedule_lr(&s, 9) - 0.1) < 1e-15);
}

static void test_schedule_parse_errors(void **state)
{
    (void)state;
    const char *bad[] = {"",          "linear",   "step",     "step:0:0.5",  "step:10",
                         "step:10:2", "cosine:1", "cosine:x", "step:10:0.5x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rumor_schedule_t s = {.lr = 0.1};
        rumor_errmsg_t em = {""};
        assert_int_equal(rumor_schedule_parse(bad[i], 100, &s, &em), RUMOR_EINVAL);
        assert_non_null(strstr(em.msg, "schedule"));
    }
}

/* The step reports a non-finite result at any position, from a NaN or infinite x or g or
 * from an overflow, and still writes every entry. */
static void test_sgd_reports_nonfinite(void **state)
{
    (void)state;
    enum { D = 37 };
    float x[D], g[D], v[D], want[D];
    for (int i = 0; i < D; i++) {
        x[i] = (float)i - 18.0f;
        g[i] = 0.25f * (float)(i % 5);
    }
    assert_int_equal(rumor_optim_sgd(want, x, 0.1f, g, D), 1);
    const float bad[] = {NAN, -NAN, INFINITY, -INFINITY};
    for (int at = 0; at < D; at++) {
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            float xs[D];
            memcpy(xs, x, sizeof xs);
            xs[at] = bad[b];
            assert_int_equal(rumor_optim_sgd(v, xs, 0.1f, g, D), 0);
            assert_true(v[at == 0] == want[at == 0]); /* the others are still written */
        }
        float gs[D];
        memcpy(gs, g, sizeof gs);
        gs[at] = NAN;
        assert_int_equal(rumor_optim_sgd(v, x, 0.1f, gs, D), 0);
        gs[at] = -3e38f; /* finite inputs whose step overflows */
        assert_int_equal(rumor_optim_sgd(v, x, 10.0f, gs, D), 0);
    }
    /* The largest finite values are finite. */
    float big[3] = {FLT_MAX, -FLT_MAX, FLT_MIN}, zero[3] = {0};
    assert_int_equal(rumor_optim_sgd(v, big, 1.0f, zero, 3), 1);
}

static void test_sgd_and_prox(void **state)
{
    (void)state;
    const float x[4] = {1.0f, -1.0f, 0.05f, 0.0f}, g[4] = {1.0f, 1.0f, 0.0f, -2.0f};
    float v[4];
    assert_int_equal(rumor_optim_sgd(v, x, 0.5f, g, 4), 1);
    const float want[4] = {0.5f, -1.5f, 0.05f, 1.0f};
    assert_memory_equal(v, want, sizeof v);
    rumor_optim_prox_l1(v, 0.1f, 4);
    const float want2[4] = {0.4f, -1.4f, 0.0f, 0.9f};
    for (int i = 0; i < 4; i++) assert_true(fabsf(v[i] - want2[i]) < 1e-7f);
    float u[4] = {1, 2, 3, 4};
    rumor_optim_prox_l1(u, 0.0f, 4);
    assert_true(u[0] == 1 && u[3] == 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_schedule_parse_errors),
        cmocka_unit_test(test_sgd_and_prox),
        cmocka_unit_test(test_sgd_reports_nonfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
