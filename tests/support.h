/* Test support shared by the test programs: one scratch directory per program, made by the
 * group setup and removed, with everything in it, by the group teardown; and running a
 * command with its output captured. */
#ifndef RUMOR_TEST_SUPPORT_H
#define RUMOR_TEST_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

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

/* Runs cmd through the shell with stderr joined to stdout; returns its exit status (-1 when it
 * did not exit normally or could not start) and the first cap - 1 bytes of its output in out,
 * NUL-terminated. */
static inline int s_capture(const char *cmd, char *out, size_t cap)
{
    out[0] = '\0';
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    const size_t len = fread(out, 1, cap - 1, p);
    out[len] = '\0';
    const int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
