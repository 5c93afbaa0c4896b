/* rumor — what the benchmarks share: option parsing (see bench.h). */
#include "rumor/bench.h"

#include <stdio.h>
#include <string.h>

/* The entry of `list` (NULL-terminated) equal to `a` or, when with_value, that `a` begins with
 * followed by '='; NULL if there is none. */
static const char *s_match(const char *const *list, const char *a, int with_value)
{
    for (; list && *list; list++) {
        const size_t len = strlen(*list);
        if (!strncmp(a, *list, len) && (a[len] == '\0' || (with_value && a[len] == '=')))
            return *list;
    }
    return NULL;
}

int rumor_bench_parse(const rumor_bench_cli_t *cli, int argc, char **argv, void *opts)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli->usage(stdout);
            return 1;
        }
        const char *name = s_match(cli->flags, a, 0);
        if (!name && (name = s_match(cli->valued, a, 1))) {
            const size_t len = strlen(name);
            if (a[len] == '=') {
                val = a + len + 1;
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                fprintf(stderr, "%s: %s needs a value\n", cli->prog, name);
                return 2;
            }
        }
        if (!name) {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", cli->prog, a);
            return 2;
        }
        if (cli->set(opts, name, val)) return 2;
    }
    return 0;
}

int rumor_bench_bad(const char *prog, const char *opt, const char *want, const char *got)
{
    fprintf(stderr, "%s: %s: expected %s, got '%s'\n", prog, opt, want, got);
    return 2;
}
