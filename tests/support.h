/* Test support shared by the test programs: one scratch directory per program, made by the
 * group setup and removed, with everything in it, by the group teardown; running a command
 * with its output captured; and running one shard of a program's tests. */
#ifndef RUMOR_TEST_SUPPORT_H
#define RUMOR_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* The first of 50 loopback ports that this test program holds for its whole run: blocks in
 * 17000-31999, below the kernel's ephemeral ports (32768-60999 by default, where an outgoing
 * connection could hold a port just when a peer binds it). A block is claimed with an
 * exclusive lock on /tmp/rumor-test-ports-<k>.lock, released when the program exits, so test
 * programs run in parallel never share one. 0 when every block is taken. */
static inline unsigned s_port_block(void)
{
    enum { blocks = 300, size = 50, first = 17000 };
    static unsigned base;
    for (unsigned t = 0; !base && t < blocks; t++) {
        const unsigned k = ((unsigned)getpid() + t) % blocks;
        char lock[64];
        snprintf(lock, sizeof lock, "/tmp/rumor-test-ports-%u.lock", k);
        const int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            base = first + k * size; /* fd stays open: the lock lasts the program's life */
        else
            close(fd);
    }
    return base;
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

/* Reads file path into buf (cap bytes, NUL-terminated); 0 or -1. */
static inline int s_slurp(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    const size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return 0;
}

/* Calls main_fn(argc, argv) in this process with stdout and stderr captured (through files in
 * s_dir) into out and err, NUL-terminated; returns what it returned, or -1 when the capture
 * could not be set up. */
static inline int s_call_captured(int (*main_fn)(int, char **), int argc, char **argv, char *out,
                                  size_t out_cap, char *err, size_t err_cap)
{
    char outp[sizeof s_dir + 16], errp[sizeof s_dir + 16];
    snprintf(outp, sizeof outp, "%s/.stdout", s_dir);
    snprintf(errp, sizeof errp, "%s/.stderr", s_dir);
    fflush(stdout);
    fflush(stderr);
    const int save_out = dup(1), save_err = dup(2);
    const int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = -1;
    if (save_out >= 0 && save_err >= 0 && fo >= 0 && fe >= 0 && dup2(fo, 1) >= 0 &&
        dup2(fe, 2) >= 0) {
        rc = main_fn(argc, argv);
        fflush(stdout);
        fflush(stderr);
    }
    if (save_out >= 0) dup2(save_out, 1), close(save_out);
    if (save_err >= 0) dup2(save_err, 2), close(save_err);
    if (fo >= 0) close(fo);
    if (fe >= 0) close(fe);
    if (s_slurp(outp, out, out_cap) || s_slurp(errp, err, err_cap)) return -1;
    return rc;
}

/* Runs a group of tests like cmocka_run_group_tests, or, with RUMOR_TEST_SHARD=k/n in the
 * environment, only the tests at indices i with i % n == k - 1 (group setup and teardown
 * around them): CMakeLists.txt registers each program in RUMOR_TEST_SPLIT as n ctest entries,
 * so that ctest -j runs its tests side by side. No allocation (test_alloc wraps malloc). */
#define s_run_tests(tests, setup, teardown)                                                        \
    s_run_shard(#tests, tests, sizeof(tests) / sizeof((tests)[0]), setup, teardown)
static inline int s_run_shard(const char *name, const struct CMUnitTest *tests, size_t n,
                              CMFixtureFunction setup, CMFixtureFunction teardown)
{
    const char *shard = getenv("RUMOR_TEST_SHARD");
    if (!shard) return _cmocka_run_group_tests(name, tests, n, setup, teardown);
    static struct CMUnitTest sub[64];
    unsigned k = 0, of = 0;
    char end;
    if (sscanf(shard, "%u/%u%c", &k, &of, &end) != 2 || k < 1 || k > of) {
        fprintf(stderr, "RUMOR_TEST_SHARD=%s: expected k/n with 1 <= k <= n\n", shard);
        return 1;
    }
    if (n > sizeof sub / sizeof sub[0]) {
        fprintf(stderr, "RUMOR_TEST_SHARD: %zu tests in %s, more than the %zu it can split\n", n,
                name, sizeof sub / sizeof sub[0]);
        return 1;
    }
    size_t m = 0;
    for (size_t i = k - 1; i < n; i += of) sub[m++] = tests[i];
    return _cmocka_run_group_tests(name, sub, m, setup, teardown);
}

#endif
