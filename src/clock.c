/* rumor — clocks (see clock.h). */
#include "rumor/clock.h"

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
