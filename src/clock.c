/* rumor — monotonic clock (see clock.h). */
#include "rumor/clock.h"

#include <time.h>

double rumor_clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
