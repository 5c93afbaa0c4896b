/* rumor — what the benchmarks share: option parsing (see bench.h). */
#include "rumor/bench.h"

#include <stdio.h>
#include <string.h>

int rumor_bench_option(const char *prog, int argc, char **argv, int *i, const char *const *valued,
                       size_t n, const char **name, const char **val)
{
    const char *a = argv[*i];
    *name = NULL;
    *val = NULL;
    for (size_t k = 0; k < n && !*name; k++) {
        const size_t len = strlen(valued[k]);
        if (!strncmp(a, valued[k], len) && (a[len] == '\0' || a[len] == '=')) {
            *name = valued[k];
            *val = a[len] == '=' ? a + len + 1 : NULL;
        }
    }
    if (!*name) {
        fprintf(stderr, "%s: unknown option '%s' (see --help)\n", prog, a);
        return 2;
    }
    if (!*val) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value\n", prog, *name);
            return 2;
        }
        *val = argv[++*i];
    }
    return 0;
}

int rumor_bench_bad(const char *prog, const char *opt, const char *want, const char *got)
{
    fprintf(stderr, "%s: %s: expected %s, got '%s'\n", prog, opt, want, got);
    return 2;
}
