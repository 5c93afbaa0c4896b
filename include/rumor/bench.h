/* rumor — benchmarks behind `rumor bench`. Each prints its figures to stdout as a table and,
 * with --json, as one JSON object per line. Returns a process exit status. */
#ifndef RUMOR_BENCH_H
#define RUMOR_BENCH_H

#include <stdio.h>

/* rumor bench train [--model SPEC] [--batch B] [--seconds S] [--threads T] */
int rumor_bench_train_main(int argc, char **argv);

/* rumor bench codec [--residuals FILE] [--d D] [--seconds S] */
int rumor_bench_codec_main(int argc, char **argv);

/* rumor bench round [--model SPEC] [--degree K] [--density F] [--compressor SPEC] ... */
int rumor_bench_round_main(int argc, char **argv);

/* ---- shared option parsing ---------------------------------------------------------------- */

/* A benchmark's command line: which options it takes and where their values go. */
typedef struct {
    const char *prog;          /* "rumor bench codec": begins every message */
    void (*usage)(FILE *f);    /* prints the --help text */
    const char *const *flags;  /* options without a value ("--json"), NULL-terminated */
    const char *const *valued; /* "--opt VALUE" or "--opt=VALUE" options, NULL-terminated */
    /* Stores option `name` (a string from flags or valued) with value `val` (NULL for a flag)
     * in opts. Returns 0, or 2 after reporting a bad value (rumor_bench_bad). */
    int (*set)(void *opts, const char *name, const char *val);
} rumor_bench_cli_t;

/* Parses argv[1..argc) in order into opts through cli->set. -h or --help prints cli->usage to
 * stdout and returns 1 (the caller exits 0); an unknown option, a missing value or a bad one
 * stops at once with a message on stderr and returns 2 (a usage error). Returns 0 to run. */
int rumor_bench_parse(const rumor_bench_cli_t *cli, int argc, char **argv, void *opts);

/* Prints "PROG: OPT: expected WANT, got 'GOT'" and returns 2 (a usage error). */
int rumor_bench_bad(const char *prog, const char *opt, const char *want, const char *got);

/* Option values are parsed with rumor_cli_parse_* (cli.h). */

#endif
