/* rumor — the one clock: monotonic seconds for timings and deadlines. Never used for
 * anything that affects results, so seeded runs stay reproducible. */
#ifndef RUMOR_CLOCK_H
#define RUMOR_CLOCK_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double rumor_clock_now(void);

#endif
