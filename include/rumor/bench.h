/* rumor — benchmarks behind `rumor bench`. Each prints its figures to stdout as a table and,
 * with --json, as one JSON object per line. Returns a process exit status. */
#ifndef RUMOR_BENCH_H
#define RUMOR_BENCH_H

#include <stddef.h>
#include <stdint.h>

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

/* Strict decimal parses within [lo, hi] (positive reals within (0, hi]); 0 or -1. */
int rumor_bench_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
int rumor_bench_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);
int rumor_bench_parse_double(const char *s, double hi, double *out);

#endif
