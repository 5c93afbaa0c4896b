/* Test support: one scratch directory per test program, made by the group setup and removed,
 * with everything in it, by the group teardown. */
#ifndef RUMOR_TEST_SCRATCH_H
#define RUMOR_TEST_SCRATCH_H

#include <stdio.h>
#include <stdlib.h>

static char s_dir[128];

/* Makes /tmp/rumor-test-<name>-XXXXXX; 0 or -1. */
static inline int s_scratch_make(const char *name)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/rumor-test-%s-XXXXXX", name);
    return mkdtemp(s_dir) ? 0 : -1;
}

static inline int s_scratch_remove(void)
{
    char cmd[sizeof s_dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* s_dir/name, in one of four rotating buffers (so a call can take a few paths at once). */
static inline const char *s_scratch(const char *name)
{
    static char p[4][sizeof s_dir + 256];
    static int next;
    char *out = p[next++ % 4];
    snprintf(out, sizeof p[0], "%s/%s", s_dir, name);
    return out;
}

#endif
