/* Tests of clock: the clocks move forward, CPU clocks count work, and progress ETAs read
 * as a person would write them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/clock.h"

#include <string.h>

static void test_clocks_advance(void **state)
{
    (void)state;
    const double t0 = rumor_clock_now(), c0 = rumor_clock_thread_cpu(),
                 p0 = rumor_clock_process_cpu();
    volatile double x = 0;
    for (int i = 0; i < 20000000; i++) x += i * 1e-9;
    const double t1 = rumor_clock_now(), c1 = rumor_clock_thread_cpu(),
                 p1 = rumor_clock_process_cpu();
    assert_true(t1 > t0 && c1 > c0 && p1 > p0);
    assert_true(p1 - p0 >= (c1 - c0) * 0.5); /* the process clock includes this thread */
}

/* A slow peer's sleep lasts at least what it was asked (wall time), and 0 returns at once. */
static void test_sleep(void **state)
{
    (void)state;
    double t0 = rumor_clock_now();
    rumor_clock_sleep_ms(30);
    const double slept = rumor_clock_now() - t0;
    if (slept < 0.030) fail_msg("slept %.4f s of 0.030", slept);
    t0 = rumor_clock_now();
    rumor_clock_sleep_ms(0);
    assert_true(rumor_clock_now() - t0 < 0.030);
}

static void test_eta(void **state)
{
    (void)state;
    char buf[32];
    const struct {
        double rate;
        uint32_t left;
        const char *want;
    } cases[] = {
        {100.0, 0, ""},
        {0.0, 50, ""},
        {-1.0, 50, ""},
        {100.0, 4200, "eta 42s"},
        {1.0, 185, "eta 3m05s"},
        {1.0, 7800, "eta 2h10m"},
        {1e-9, 4000000000u, "eta >3 years"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memset(buf, 'x', sizeof buf);
        assert_ptr_equal(rumor_clock_eta(cases[i].rate, cases[i].left, buf, sizeof buf), buf);
        assert_string_equal(buf, cases[i].want);
    }
    char tiny[6];
    rumor_clock_eta(1.0, 185, tiny, sizeof tiny); /* truncated, still terminated */
    assert_string_equal(tiny, "eta 3");
}

/* The end of both drivers' progress lines: the rate, and the eta when there is one. */
static void test_pace(void **state)
{
    (void)state;
    char buf[64];
    assert_ptr_equal(rumor_clock_pace(50, 2.0, 300, buf, sizeof buf), buf);
    assert_string_equal(buf, "25.0 rounds/s  eta 12s");
    assert_string_equal(rumor_clock_pace(3, 2.0, 555, buf, sizeof buf), "1.5 rounds/s  eta 6m10s");
    assert_string_equal(rumor_clock_pace(50, 2.0, 0, buf, sizeof buf), "25.0 rounds/s");
    assert_string_equal(rumor_clock_pace(7, 0.0, 300, buf, sizeof buf), "0.0 rounds/s");
    char tiny[8];
    rumor_clock_pace(50, 2.0, 300, tiny, sizeof tiny); /* truncated, still terminated */
    assert_string_equal(tiny, "25.0 ro");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clocks_advance),
        cmocka_unit_test(test_eta),
        cmocka_unit_test(test_pace),
        cmocka_unit_test(test_sleep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
