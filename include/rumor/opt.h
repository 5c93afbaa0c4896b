/* rumor — command-line options: one table-driven parser for every command.
 *
 * A command describes its options in a table of rumor_opt_t (name, kind, where the value goes,
 * its help) and parses argv with rumor_opt_parse; its --help text is made from the same table
 * by rumor_opt_help. Every valued option takes `--opt VALUE` and `--opt=VALUE`. Errors name
 * the command, the option and the value ("rumor sim: --rounds: expected a whole number from 0
 * to 100000000, got 'x'"). This module sits at the bottom of the program's layers: it knows no
 * command, and commands know nothing of each other.
 *
 * Adding an option is one table entry, plus the field it fills:
 *   {RUMOR_OPT_U32("--slow", s_opts_t, slow_ms, "MS", 0, UINT32_MAX, "sleep MS a round")},
 */
#ifndef RUMOR_OPT_H
#define RUMOR_OPT_H

#include "rumor/err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    RUMOR_OPT_KIND_FLAG, /* no value: sets an int to 1 */
    RUMOR_OPT_KIND_STR,  /* const char *, the argument itself (not empty) */
    RUMOR_OPT_KIND_U32,  /* uint32_t, decimal digits only, within [lo, hi] */
    RUMOR_OPT_KIND_U64,  /* uint64_t, decimal digits only, within [lo, hi] */
    RUMOR_OPT_KIND_REAL, /* double, finite, within (0, max] */
    RUMOR_OPT_KIND_FN,   /* parse(value, destination): 0, or nonzero for a bad value */
} rumor_opt_kind_t;

typedef struct {
    const char *name;  /* "--rounds" (or "-j") */
    const char *alias; /* a second spelling ("-o" for "--output"), or NULL */
    rumor_opt_kind_t kind;
    size_t at;        /* offsetof the destination in the command's options struct */
    size_t seen;      /* RUMOR_OPT_SEEN(T, f): an int set to 1 when the option is given; 0 none */
    const char *arg;  /* the value's name in the help ("N"); NULL for a flag */
    const char *help; /* one or more lines, '\n' between them */
    uint64_t lo, hi;  /* U32, U64 */
    double max;       /* REAL */
    int (*parse)(const char *value, void *dst); /* FN */
    const char *want; /* what a value must be, in errors (FN; overrides the default of others) */
} rumor_opt_t;

#define RUMOR_OPT_SEEN(T, f) (offsetof(T, f) + 1)

/* offsetof(T, f), which does not compile unless f has `size` bytes: a table entry of the wrong
 * kind for its field is caught by the compiler. */
#define RUMOR_OPT_AT(T, f, size)                                                                   \
    (offsetof(T, f) + 0 * sizeof(char[sizeof(((T *)0)->f) == (size) ? 1 : -1]))

/* The body of a table entry, one per kind; add .alias, .seen or (numbers) .want after it:
 *   {RUMOR_OPT_U32("--rounds", s_opts_t, rounds, "N", 0, 100000000, "override algorithm.rounds"),
 *    .seen = RUMOR_OPT_SEEN(s_opts_t, has_rounds)} */
#define RUMOR_OPT_FLAG(N, T, f, H)                                                                 \
    .name = (N), .kind = RUMOR_OPT_KIND_FLAG, .at = RUMOR_OPT_AT(T, f, sizeof(int)), .help = (H)
#define RUMOR_OPT_STR(N, T, f, A, H)                                                               \
    .name = (N), .kind = RUMOR_OPT_KIND_STR, .at = RUMOR_OPT_AT(T, f, sizeof(char *)), .arg = (A), \
    .help = (H)
#define RUMOR_OPT_U32(N, T, f, A, LO, HI, H)                                                       \
    .name = (N), .kind = RUMOR_OPT_KIND_U32, .at = RUMOR_OPT_AT(T, f, 4), .arg = (A), .help = (H), \
    .lo = (LO), .hi = (HI)
#define RUMOR_OPT_U64(N, T, f, A, LO, HI, H)                                                       \
    .name = (N), .kind = RUMOR_OPT_KIND_U64, .at = RUMOR_OPT_AT(T, f, 8), .arg = (A), .help = (H), \
    .lo = (LO), .hi = (HI)
#define RUMOR_OPT_REAL(N, T, f, A, MAX, H)                                                         \
    .name = (N), .kind = RUMOR_OPT_KIND_REAL, .at = RUMOR_OPT_AT(T, f, sizeof(double)),            \
    .arg = (A), .help = (H), .max = (MAX)
#define RUMOR_OPT_FN(N, T, f, A, FN, WANT, H)                                                      \
    .name = (N), .kind = RUMOR_OPT_KIND_FN, .at = offsetof(T, f), .arg = (A), .help = (H),         \
    .parse = (FN), .want = (WANT)

/* A command: its usage line, what it does, its options and its positional arguments. */
typedef struct {
    const char *prog;  /* "rumor sim": begins every message */
    const char *usage; /* after "usage: ": "rumor sim SCENARIO.json [OPTIONS]" (more lines ok) */
    const char *about; /* paragraphs between the usage and the options, or NULL */
    const char *after; /* text after the options (examples, environment), or NULL */
    const rumor_opt_t *opts;
    size_t n_opts;
    const char *args; /* the positional arguments' names in messages ("SCENARIO.json") */
    int min_args, max_args;
    int subcommand; /* 1: options end at the first positional, the subcommand (see parse) */
} rumor_opt_cmd_t;

enum {
    RUMOR_OPT_RUN = 0,   /* parsed: run the command */
    RUMOR_OPT_HELP = 1,  /* -h or --help: the help is on stdout; exit 0 */
    RUMOR_OPT_USAGE = 2, /* a usage error, reported on stderr; exit 2 */
};

/* Parses argv[1..argc) into opts (each entry of cmd->opts stores its value at opts + at) and
 * the positional arguments, in order, into pos (room for cmd->max_args; *n_pos their count).
 * With cmd->subcommand, parsing stops at the first positional: pos[0] is it and *n_pos its
 * index in argv, the subcommand's argv[0]; without one, pos[0] is NULL and *n_pos 0. A lone "-" is
 * a positional argument; a value may start with '-' only as a negative number ("--seed -1" is then
 * refused by its range). Returns RUMOR_OPT_RUN, RUMOR_OPT_HELP after printing the help to stdout,
 * or RUMOR_OPT_USAGE after one line on stderr naming the option and the value (an unknown option, a
 * missing or bad value, a flag given a value, too few or too many positionals). */
int rumor_opt_parse(const rumor_opt_cmd_t *cmd, int argc, char **argv, void *opts, const char **pos,
                    int *n_pos);

/* The process exit status of a parse that did not return RUMOR_OPT_RUN: 0 or 2. */
static inline int rumor_opt_exit(int parsed)
{
    return parsed == RUMOR_OPT_HELP ? 0 : 2;
}

/* Prints the command's help: usage, about, one aligned line per option and -h, after. */
void rumor_opt_help(const rumor_opt_cmd_t *cmd, FILE *f);

/* One subcommand of a command with cmd->subcommand: its name and its main. */
typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
} rumor_opt_sub_t;

/* Runs the subcommand `name` of a parse that stopped at it (argv[at] is its argv[0]) from
 * subs[n]. A missing one prints the command's help to stderr; an unknown one says
 * "PROG: unknown WHAT 'NAME'" first. Returns the subcommand's status, or 2. */
int rumor_opt_run_sub(const rumor_opt_cmd_t *cmd, const char *what, const rumor_opt_sub_t *subs,
                      size_t n, const char *name, int argc, char **argv, int at);

/* The strict number parses behind the U32, U64 and REAL kinds, for values read elsewhere:
 * whole numbers are decimal digits only (no sign, no blanks, no trailing text) within
 * [lo, hi]; reals are finite within (0, max]. Each returns 0, or RUMOR_EINVAL for NULL or
 * anything else. */
int rumor_opt_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
int rumor_opt_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);
int rumor_opt_parse_real(const char *s, double max, double *out);

#endif
