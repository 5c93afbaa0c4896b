/* libFuzzer target for the option parser: arbitrary command lines (the input split at NUL
 * bytes into at most 15 arguments) over a table of every kind must parse, ask for help or be
 * refused, never crash or read past an argument; what parses respects the table's bounds, and
 * the positionals are arguments of the command line.
 *
 * Build with -DRUMOR_FUZZ=ON (clang) and run, for example:
 *   build-fuzz/fuzz_opt -max_total_time=60 tests/fuzz/corpus-run tests/fuzz/corpus/opt
 */
#include "rumor/err.h"
#include "rumor/opt.h"
#include "fuzz_text.h"

#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    int flag, has_n;
    uint32_t n;
    uint64_t big;
    double x;
    const char *path;
    int even;
} s_opts_t;

static int s_even(const char *v, void *dst)
{
    uint32_t x;
    if (rumor_opt_parse_u32(v, 0, 1000, &x) || x % 2) return -1;
    *(int *)dst = (int)x;
    return 0;
}

static const rumor_opt_t s_opts[] = {
    {RUMOR_OPT_FLAG("--flag", s_opts_t, flag, "a flag")},
    {RUMOR_OPT_U32("--n", s_opts_t, n, "N", 2, 40, "a count"),
     .seen = RUMOR_OPT_SEEN(s_opts_t, has_n)},
    {RUMOR_OPT_U64("-b", s_opts_t, big, "B", 0, UINT64_MAX, "a large number")},
    {RUMOR_OPT_REAL("--x", s_opts_t, x, "X", 3.5, "a real")},
    {RUMOR_OPT_STR("--output", s_opts_t, path, "FILE", "where"), .alias = "-o"},
    {RUMOR_OPT_FN("--even", s_opts_t, even, "E", s_even, "an even number", "even")},
};

static const rumor_opt_cmd_t s_cmd = {
    .prog = "fuzz",
    .usage = "fuzz [OPTIONS] A [B C]",
    .opts = s_opts,
    .n_opts = sizeof s_opts / sizeof s_opts[0],
    .args = "A [B C]",
    .min_args = 1,
    .max_args = 3,
};

static int s_null = -1, s_stderr = -1; /* /dev/null and the fuzzer's own stderr */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The parser's help and messages go nowhere, the fuzzer's report stays on stderr; set
     * FUZZ_OPT_VERBOSE to see them (and a sanitizer's report) when replaying an input. */
    RUMOR_ASSERT(freopen("/dev/null", "w", stdout));
    if (!getenv("FUZZ_OPT_VERBOSE")) {
        s_null = open("/dev/null", O_WRONLY);
        s_stderr = dup(2);
        RUMOR_ASSERT(s_null >= 0 && s_stderr >= 0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text) return 0;
    char *argv[16] = {"fuzz"};
    int argc = 1;
    for (char *a = text; argc < 15 && a <= text + size; a += strlen(a) + 1) argv[argc++] = a;
    argv[argc] = NULL;
    s_opts_t o = {0};
    const char *pos[3] = {NULL, NULL, NULL};
    int n_pos = -1;
    if (s_null >= 0) dup2(s_null, 2);
    const int rc = rumor_opt_parse(&s_cmd, argc, argv, &o, pos, &n_pos);
    if (s_null >= 0) {
        fflush(stderr);
        dup2(s_stderr, 2);
    }
    RUMOR_ASSERT(rc == RUMOR_OPT_RUN || rc == RUMOR_OPT_HELP || rc == RUMOR_OPT_USAGE);
    RUMOR_ASSERT(n_pos >= 0 && n_pos <= 3);
    if (rc == RUMOR_OPT_RUN) {
        RUMOR_ASSERT(n_pos >= 1);
        RUMOR_ASSERT(!o.has_n || (o.n >= 2 && o.n <= 40));
        RUMOR_ASSERT(o.x == 0.0 || (isfinite(o.x) && o.x > 0.0 && o.x <= 3.5));
        RUMOR_ASSERT(o.even % 2 == 0 && o.even >= 0 && o.even <= 1000);
        RUMOR_ASSERT(!o.path || (o.path[0] && o.path >= text && o.path <= text + size));
        for (int i = 0; i < n_pos; i++) {
            int found = 0;
            for (int k = 1; k < argc; k++) found |= pos[i] == argv[k];
            RUMOR_ASSERT(found);
        }
    }
    free(text);
    return 0;
}
