/* rumor — the clocks: monotonic seconds for timings and deadlines, and CPU seconds for the
 * time split of a round. Never used for anything that affects results, so seeded runs stay
 * reproducible. */
#ifndef RUMOR_CLOCK_H
#define RUMOR_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double rumor_clock_now(void);

/* CPU seconds used by the calling thread (CLOCK_THREAD_CPUTIME_ID). Unlike wall time, this
 * does not grow while the thread waits for a core, so it measures work even when more
 * peers than cores share a machine. */
double rumor_clock_thread_cpu(void);

/* CPU seconds used by every thread of the process, ZeroMQ's I/O threads included. */
double rumor_clock_process_cpu(void);

/* Sleeps ms milliseconds of wall time (again after a signal, until they are over): a slow
 * peer's extra time (rumor peer --slow). */
void rumor_clock_sleep_ms(uint32_t ms);

/* For progress lines: the time `left` more rounds take at `rate` rounds per second, as
 * "eta 42s", "eta 3m05s" or "eta 2h10m"; "" when rate is not positive or nothing is left.
 * Writes into buf (always NUL-terminated when cap > 0) and returns it. */
const char *rumor_clock_eta(double rate, uint32_t left, char *buf, size_t cap);

/* The end of a driver's progress line: "12.5 rounds/s  eta 3m05s" after `rounds` rounds in
 * `secs` seconds with `left` to go ("0.0 rounds/s" when secs is not positive; no eta when
 * rumor_clock_eta has none). Writes into buf (always NUL-terminated when cap > 0) and
 * returns it. */
const char *rumor_clock_pace(uint32_t rounds, double secs, uint32_t left, char *buf, size_t cap);

#endif
