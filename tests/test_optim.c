/* Tests of optim: schedules follow their formulas, parsing names bad input, prox and SGD,
 * momentum follows its recurrences and speeds up an ill-conditioned quadratic. */
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

static void test_momentum_parse(void **state)
{
    (void)state;
    rumor_momentum_t m;
    const struct {
        const char *s;
        rumor_momentum_kind_t kind;
        float beta, mu;
    } good[] = {{"", RUMOR_MOMENTUM_NONE, 0.0f, 0.0f},
                {"none", RUMOR_MOMENTUM_NONE, 0.0f, 0.0f},
                {"heavy-ball:0.9", RUMOR_MOMENTUM_HEAVY_BALL, 0.9f, 0.0f},
                {"nesterov:0", RUMOR_MOMENTUM_NESTEROV, 0.0f, 0.0f},
                {"nesterov:0.5", RUMOR_MOMENTUM_NESTEROV, 0.5f, 0.0f},
                {"quasi-global:0.75", RUMOR_MOMENTUM_QUASI_GLOBAL, 0.75f, 0.25f},
                {"quasi-global:0", RUMOR_MOMENTUM_QUASI_GLOBAL, 0.0f, 1.0f},
                {"quasi-global:0.9:0.05", RUMOR_MOMENTUM_QUASI_GLOBAL, 0.9f, 0.05f},
                {"quasi-global:0.9:1", RUMOR_MOMENTUM_QUASI_GLOBAL, 0.9f, 1.0f}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_int_equal(rumor_momentum_parse(good[i].s, &m, NULL), 0);
        assert_int_equal(m.kind, good[i].kind);
        assert_true(m.beta == good[i].beta);
        assert_true(m.mu == good[i].mu);
    }
    const char *bad[] = {"heavy-ball",           "heavy-ball:",       "heavy-ball:1",
                         "nesterov:-0.1",        "nesterov:0.9x",     "adam:0.9",
                         "nesterov:nan",         "Nesterov:0.9",      "quasi-global:0.9:0",
                         "quasi-global:0.9:1.5", "quasi-global:0.9:", "heavy-ball:0.9:0.1",
                         "quasi-global"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rumor_errmsg_t em = {""};
        assert_int_equal(rumor_momentum_parse(bad[i], &m, &em), RUMOR_EINVAL);
        assert_non_null(strstr(em.msg, "momentum"));
        assert_non_null(strstr(em.msg, bad[i]));
    }
}

/* Under a constant gradient the buffer after t steps is g (1 - beta^t) / (1 - beta); heavy
 * ball steps along it, Nesterov along g + beta m; no momentum leaves g alone. */
static void test_momentum_recurrences(void **state)
{
    (void)state;
    enum { D = 5, T = 30 };
    const float g0[D] = {1.0f, -2.0f, 0.5f, 0.0f, 3.0f};
    const rumor_momentum_kind_t kinds[] = {RUMOR_MOMENTUM_HEAVY_BALL, RUMOR_MOMENTUM_NESTEROV};
    for (size_t k = 0; k < 2; k++) {
        const rumor_momentum_t mo = {kinds[k], 0.75f, 0.0f};
        float m[D] = {0}, g[D];
        for (int t = 1; t <= T; t++) {
            memcpy(g, g0, sizeof g);
            rumor_momentum_direction(&mo, m, g, D);
            const double buf = (1.0 - pow(0.75, t)) / 0.25;
            const double dir = kinds[k] == RUMOR_MOMENTUM_HEAVY_BALL ? buf : 1.0 + 0.75 * buf;
            for (int i = 0; i < D; i++) {
                assert_true(fabs(m[i] - buf * g0[i]) <= 1e-5 * (1.0 + fabs(buf * g0[i])));
                assert_true(fabs(g[i] - dir * g0[i]) <= 1e-5 * (1.0 + fabs(dir * g0[i])));
            }
        }
    }
    const rumor_momentum_t none = {RUMOR_MOMENTUM_NONE, 0.0f, 0.0f};
    float g[D];
    memcpy(g, g0, sizeof g);
    rumor_momentum_direction(&none, NULL, g, D);
    assert_memory_equal(g, g0, sizeof g);
}

/* f(x) = (1/2) sum a_i x_i^2 with condition number 100: after 100 steps at lr = 1/100,
 * heavy ball and Nesterov (beta 0.9) are far below plain SGD. */
static double s_quadratic_after(rumor_momentum_kind_t kind)
{
    enum { D = 8, T = 100 };
    const rumor_momentum_t mo = {kind, kind == RUMOR_MOMENTUM_NONE ? 0.0f : 0.9f, 0.0f};
    float x[D], v[D], g[D], m[D] = {0}, a[D];
    for (int i = 0; i < D; i++) {
        x[i] = 1.0f;
        a[i] = i < D / 2 ? 1.0f : 100.0f;
    }
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < D; i++) g[i] = a[i] * x[i];
        rumor_momentum_direction(&mo, m, g, D);
        assert_int_equal(rumor_optim_sgd(v, x, 0.01f, g, D), 1);
        memcpy(x, v, sizeof x);
    }
    double f = 0.0;
    for (int i = 0; i < D; i++) f += 0.5 * a[i] * (double)x[i] * x[i];
    return f;
}

static void test_momentum_speeds_up_a_quadratic(void **state)
{
    (void)state;
    const double plain = s_quadratic_after(RUMOR_MOMENTUM_NONE);
    assert_true(plain > 0.25); /* 4 slow coordinates, each at 0.99^100 = 0.37: f = 0.27 */
    assert_true(s_quadratic_after(RUMOR_MOMENTUM_HEAVY_BALL) < 0.01 * plain);
    assert_true(s_quadratic_after(RUMOR_MOMENTUM_NESTEROV) < 0.01 * plain);
}

/* Quasi-global momentum on one node, where the model's change is the local step alone: with
 * MU 1 its buffer is heavy ball's (m = beta m + g) and the trajectory is heavy ball's; with MU
 * < 1 the buffer averages the changes, m = (1 - mu) m + mu (g + beta m). */
static void test_quasi_global_follows_the_change(void **state)
{
    (void)state;
    enum { D = 6, T = 40 };
    const rumor_momentum_t hb = {RUMOR_MOMENTUM_HEAVY_BALL, 0.8f, 0.0f};
    const float mus[] = {1.0f, 0.3f};
    for (int k = 0; k < 2; k++) {
        const rumor_momentum_t qg = {RUMOR_MOMENTUM_QUASI_GLOBAL, 0.8f, mus[k]};
        float x[D], xh[D], m[D] = {0}, mh[D] = {0}, g[D], gh[D], v[D], want[D] = {0};
        for (int i = 0; i < D; i++) x[i] = xh[i] = (float)(i + 1);
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < D; i++) {
                g[i] = gh[i] = x[i] * (float)(i + 1) / D; /* a quadratic's gradient at x */
                want[i] = (1.0f - mus[k]) * m[i] + mus[k] * (g[i] + 0.8f * m[i]);
            }
            rumor_momentum_direction(&qg, m, g, D);
            assert_int_equal(rumor_optim_sgd(v, x, 0.05f, g, D), 1);
            rumor_momentum_follow(&qg, m, x, v, 0.05f, D);
            memcpy(x, v, sizeof x);
            for (int i = 0; i < D; i++)
                assert_true(fabs(m[i] - want[i]) <= 1e-4 * (1 + fabs(want[i])));
            if (k) continue;
            for (int i = 0; i < D; i++) gh[i] = xh[i] * (float)(i + 1) / D;
            rumor_momentum_direction(&hb, mh, gh, D);
            assert_int_equal(rumor_optim_sgd(v, xh, 0.05f, gh, D), 1);
            memcpy(xh, v, sizeof xh);
            for (int i = 0; i < D; i++) assert_true(fabs(x[i] - xh[i]) <= 1e-4 * (1 + fabs(xh[i])));
        }
    }
    /* the other kinds' buffers do not follow */
    float m[2] = {1.0f, 2.0f};
    const float before[2] = {5.0f, 5.0f}, after[2] = {0.0f, 0.0f};
    rumor_momentum_follow(&hb, m, before, after, 0.1f, 2);
    assert_true(m[0] == 1.0f && m[1] == 2.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_schedule_parse_errors),
        cmocka_unit_test(test_sgd_and_prox),
        cmocka_unit_test(test_sgd_reports_nonfinite),
        cmocka_unit_test(test_momentum_parse),
        cmocka_unit_test(test_momentum_recurrences),
        cmocka_unit_test(test_momentum_speeds_up_a_quadratic),
        cmocka_unit_test(test_quasi_global_follows_the_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
