/* rumor — clocks (see clock.h). */
#include "rumor/clock.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

static double s_read(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double rumor_clock_now(void)
{
    return s_read(CLOCK_MONOTONIC);
}

double rumor_clock_thread_cpu(void)
{
    return s_read(CLOCK_THREAD_CPUTIME_ID);
}

double rumor_clock_process_cpu(void)
{
    return s_read(CLOCK_PROCESS_CPUTIME_ID);
}

void rumor_clock_sleep_ms(uint32_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) continue;
}

const char *rumor_clock_eta(double rate, uint32_t left, char *buf, size_t cap)
{
    if (cap == 0) return buf;
    buf[0] = '\0';
    if (!(rate > 0) || left == 0) return buf;
    const double s = left / rate;
    if (s < 60)
        snprintf(buf, cap, "eta %.0fs", s);
    else if (s < 3600)
        snprintf(buf, cap, "eta %dm%02ds", (int)(s / 60), (int)s % 60);
    else if (s < 1e8)
        snprintf(buf, cap, "eta %dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else
        snprintf(buf, cap, "eta >3 years");
    return buf;
}

const char *rumor_clock_pace(uint32_t rounds, double secs, uint32_t left, char *buf, size_t cap)
{
    const double rate = secs > 0 ? rounds / secs : 0.0;
    char eta[32];
    rumor_clock_eta(rate, left, eta, sizeof eta);
    snprintf(buf, cap, "%.1f rounds/s%s%s", rate, eta[0] ? "  " : "", eta);
    return buf;
}
