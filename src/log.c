/* rumor — leveled logging to stderr. */
#include "rumor/log.h"
#include "rumor/err.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static _Atomic int s_level = RUMOR_LOG_INFO;

void rumor_log_set_level(rumor_log_level_t level)
{
    atomic_store(&s_level, (int)level);
}

int rumor_log_parse_level(const char *s, rumor_log_level_t *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (rumor_log_level_t)i;
            return 0;
        }
    }
    return RUMOR_EINVAL;
}

void rumor_log(rumor_log_level_t level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&s_level)) return;
    static const char *const tags[] = {"error", "warning", "", ""};
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (tags[level][0])
        fprintf(stderr, "rumor: %s: %s\n", tags[level], line);
    else
        fprintf(stderr, "rumor: %s\n", line);
}

int rumor_log_burst_note(rumor_log_burst_t *b, double now)
{
    if (b->opened > 0) {
        b->unsaid++;
        return 0;
    }
    b->opened = now;
    return 1;
}

uint64_t rumor_log_burst_close(rumor_log_burst_t *b, double now, int force, double *secs)
{
    if (b->opened <= 0 || (!force && now - b->opened < RUMOR_LOG_BURST_S)) return 0;
    const uint64_t n = b->unsaid;
    *secs = now - b->opened;
    *b = (rumor_log_burst_t){0};
    return n;
}
