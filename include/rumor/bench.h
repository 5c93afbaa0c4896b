/* rumor — benchmarks behind `rumor bench`. Each prints its figures to stdout as a table and,
 * with --json, as one JSON object per line. Returns a process exit status. */
#ifndef RUMOR_BENCH_H
#define RUMOR_BENCH_H

#include <stddef.h>

/* rumor bench train [--model SPEC] [--batch B] [--seconds S] [--threads T] */
int rumor_bench_train_main(int argc, char **argv);

/* rumor bench codec [--residuals FILE] [--d D] [--seconds S] */
int rumor_bench_codec_main(int argc, char **argv);

/* Shared option parsing: matches argv[*i] against `valued` ("--opt VALUE" or "--opt=VALUE"),
 * sets *name to the matched option and *val to its value, advancing *i past a separate
 * value. Returns 0, or 2 after printing "PROG: unknown option" / "needs a value". */
int rumor_bench_option(const char *prog, int argc, char **argv, int *i, const char *const *valued,
                       size_t n, const char **name, const char **val);

/* Prints "PROG: OPT: expected WANT, got 'GOT'" and returns 2 (a usage error). */
int rumor_bench_bad(const char *prog, const char *opt, const char *want, const char *got);

/* Option values are parsed with rumor_cli_parse_* (cli.h). */

#endif
