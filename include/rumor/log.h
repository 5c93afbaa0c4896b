/* rumor — leveled logging to stderr.
 *
 * The level is process-wide configuration set once at start-up (from --verbose/--quiet or
 * RUMOR_LOG); it is the one piece of global state rumor keeps, and it never changes results.
 * Messages are written with one fprintf each so lines from threads do not interleave.
 */
#ifndef RUMOR_LOG_H
#define RUMOR_LOG_H

#include <stdint.h>

typedef enum {
    RUMOR_LOG_ERROR = 0,
    RUMOR_LOG_WARN = 1,
    RUMOR_LOG_INFO = 2,
    RUMOR_LOG_DEBUG = 3,
} rumor_log_level_t;

void rumor_log_set_level(rumor_log_level_t level);

/* Parses "error", "warn", "info" or "debug"; returns 0 or RUMOR_EINVAL. */
int rumor_log_parse_level(const char *s, rumor_log_level_t *out);

void rumor_log(rumor_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A burst of like log lines (say, refusals of one stranger who retries every few hundred ms):
 * the first event is logged in full, the next ones only counted, and the count reported in one
 * line once the burst is RUMOR_LOG_BURST_S old. Times are seconds of one monotonic clock. */
#define RUMOR_LOG_BURST_S 10.0

typedef struct {
    double opened;   /* time of the event logged in full; 0: no burst open */
    uint64_t unsaid; /* events since then, counted but not logged */
} rumor_log_burst_t;

/* Notes one event at time now: 1 if it opens a burst (the caller logs it in full), 0 if it was
 * only counted. */
int rumor_log_burst_note(rumor_log_burst_t *b, double now);

/* Closes b if it is older than RUMOR_LOG_BURST_S (or `force`): returns the events to report in
 * one line and the burst's age in seconds in *secs; 0 if there is nothing to say yet. */
uint64_t rumor_log_burst_close(rumor_log_burst_t *b, double now, int force, double *secs);

#define rumor_error(...) rumor_log(RUMOR_LOG_ERROR, __VA_ARGS__)
#define rumor_warn(...)  rumor_log(RUMOR_LOG_WARN, __VA_ARGS__)
#define rumor_info(...)  rumor_log(RUMOR_LOG_INFO, __VA_ARGS__)
#define rumor_debug(...) rumor_log(RUMOR_LOG_DEBUG, __VA_ARGS__)

#endif
