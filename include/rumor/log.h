/* rumor — leveled logging to stderr.
 *
 * The level is process-wide configuration set once at start-up (from --verbose/--quiet or
 * RUMOR_LOG); it is the one piece of global state rumor keeps, and it never changes results.
 * Messages are written with one fprintf each so lines from threads do not interleave.
 */
#ifndef RUMOR_LOG_H
#define RUMOR_LOG_H

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

#define rumor_error(...) rumor_log(RUMOR_LOG_ERROR, __VA_ARGS__)
#define rumor_warn(...)  rumor_log(RUMOR_LOG_WARN, __VA_ARGS__)
#define rumor_info(...)  rumor_log(RUMOR_LOG_INFO, __VA_ARGS__)
#define rumor_debug(...) rumor_log(RUMOR_LOG_DEBUG, __VA_ARGS__)

#endif
