/* rumor — what the benchmarks share: option parsing (see bench.h). */
#include "rumor/bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

int rumor_bench_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (*s < '0' || *s > '9') return -1;
    errno = 0;
    char *end;
    const unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int rumor_bench_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v;
    if (rumor_bench_parse_u64(s, lo, hi, &v)) return -1;
    *out = (uint32_t)v;
    return 0;
}

int rumor_bench_parse_double(const char *s, double hi, double *out)
{
    errno = 0;
    char *end;
    const double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0.0 && v <= hi)) return -1;
    *out = v;
    return 0;
}
