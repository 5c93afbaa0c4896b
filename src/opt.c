/* rumor — command-line options (see opt.h). Called once per process on a few arguments. */
#include "rumor/opt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int rumor_opt_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') return RUMOR_EINVAL;
    errno = 0;
    char *end;
    const unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return RUMOR_EINVAL;
    *out = v;
    return 0;
}

int rumor_opt_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v;
    if (rumor_opt_parse_u64(s, lo, hi, &v)) return RUMOR_EINVAL;
    *out = (uint32_t)v;
    return 0;
}

int rumor_opt_parse_real(const char *s, double max, double *out)
{
    if (!s) return RUMOR_EINVAL;
    errno = 0;
    char *end;
    const double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || !(v > 0.0 && v <= max)) return RUMOR_EINVAL;
    *out = v;
    return 0;
}

/* 1 when argument a is an option rather than a value: it starts with '-', is not "-" alone
 * and is not a negative number. */
static int s_is_option(const char *a)
{
    return a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9') && a[1] != '.';
}

/* The entry that argument a names, as NAME or NAME=VALUE (*eq then points at the '='). */
static const rumor_opt_t *s_find(const rumor_opt_cmd_t *cmd, const char *a, const char **eq)
{
    const char *e = strchr(a, '=');
    const size_t len = e ? (size_t)(e - a) : strlen(a);
    for (size_t i = 0; i < cmd->n_opts; i++) {
        const rumor_opt_t *o = &cmd->opts[i];
        if ((strlen(o->name) == len && !strncmp(a, o->name, len)) ||
            (o->alias && strlen(o->alias) == len && !strncmp(a, o->alias, len))) {
            *eq = e;
            return o;
        }
    }
    return NULL;
}

/* What a value of o must be, for its error message. */
static void s_want(const rumor_opt_t *o, char *buf, size_t cap)
{
    const uint64_t top = o->kind == RUMOR_OPT_KIND_U32 ? UINT32_MAX : UINT64_MAX;
    if (o->want)
        snprintf(buf, cap, "%s", o->want);
    else if (o->kind == RUMOR_OPT_KIND_REAL)
        snprintf(buf, cap, "a number in (0, %g]", o->max);
    else if (o->hi < top)
        snprintf(buf, cap, "a whole number from %llu to %llu", (unsigned long long)o->lo,
                 (unsigned long long)o->hi);
    else if (o->lo)
        snprintf(buf, cap, "a whole number of at least %llu", (unsigned long long)o->lo);
    else
        snprintf(buf, cap, "a whole number");
}

/* Stores value v of option o, spelled `as` on the command line, in opts; 0, or
 * RUMOR_OPT_USAGE after the message. */
static int s_store(const rumor_opt_cmd_t *cmd, const rumor_opt_t *o, const char *as, const char *v,
                   void *opts)
{
    char *dst = (char *)opts + o->at;
    int bad;
    switch (o->kind) {
    case RUMOR_OPT_KIND_STR:
        *(const char **)dst = v;
        bad = 0;
        break;
    case RUMOR_OPT_KIND_U32:
        bad = rumor_opt_parse_u32(v, (uint32_t)o->lo, (uint32_t)o->hi, (uint32_t *)(void *)dst);
        break;
    case RUMOR_OPT_KIND_U64:
        bad = rumor_opt_parse_u64(v, o->lo, o->hi, (uint64_t *)(void *)dst);
        break;
    case RUMOR_OPT_KIND_REAL:
        bad = rumor_opt_parse_real(v, o->max, (double *)(void *)dst);
        break;
    case RUMOR_OPT_KIND_FN:
        bad = o->parse(v, dst);
        break;
    default:
        *(int *)(void *)dst = 1;
        bad = 0;
        break;
    }
    if (bad) {
        char want[160];
        s_want(o, want, sizeof want);
        fprintf(stderr, "%s: %s: expected %s, got '%s'\n", cmd->prog, as, want, v);
        return RUMOR_OPT_USAGE;
    }
    if (o->seen) *(int *)(void *)((char *)opts + o->seen - 1) = 1;
    return 0;
}

int rumor_opt_parse(const rumor_opt_cmd_t *cmd, int argc, char **argv, void *opts, const char **pos,
                    int *n_pos)
{
    *n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            rumor_opt_help(cmd, stdout);
            return RUMOR_OPT_HELP;
        }
        if (!s_is_option(a)) {
            if (cmd->subcommand) {
                pos[0] = a;
                *n_pos = i;
                return RUMOR_OPT_RUN;
            }
            if (*n_pos == cmd->max_args) {
                fprintf(stderr, "%s: unexpected argument '%s' (it takes %s)\n", cmd->prog, a,
                        cmd->args ? cmd->args : "no arguments");
                return RUMOR_OPT_USAGE;
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *eq = NULL;
        const rumor_opt_t *o = s_find(cmd, a, &eq);
        if (!o) {
            fprintf(stderr, "%s: unknown option '%s' (see %s --help)\n", cmd->prog, a, cmd->prog);
            return RUMOR_OPT_USAGE;
        }
        char as[64]; /* the option as typed, without its value */
        snprintf(as, sizeof as, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        const char *v = NULL;
        if (o->kind == RUMOR_OPT_KIND_FLAG) {
            if (eq) {
                fprintf(stderr, "%s: %s takes no value, got '%s'\n", cmd->prog, as, a);
                return RUMOR_OPT_USAGE;
            }
        } else if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc && !s_is_option(argv[i + 1])) {
            v = argv[++i];
        } else {
            const char *next = i + 1 < argc ? argv[i + 1] : NULL;
            fprintf(stderr, "%s: %s needs a value%s%s%s\n", cmd->prog, as,
                    next ? " (got the option '" : "", next ? next : "", next ? "')" : "");
            return RUMOR_OPT_USAGE;
        }
        if (v && !v[0]) {
            fprintf(stderr, "%s: %s needs a value (got '%s')\n", cmd->prog, as, a);
            return RUMOR_OPT_USAGE;
        }
        if (s_store(cmd, o, as, v, opts)) return RUMOR_OPT_USAGE;
    }
    if (cmd->subcommand) {
        pos[0] = NULL; /* no subcommand: the caller decides */
        return RUMOR_OPT_RUN;
    }
    if (*n_pos < cmd->min_args) {
        fprintf(stderr, "%s: missing %s\n\n", cmd->prog, cmd->args);
        rumor_opt_help(cmd, stderr);
        return RUMOR_OPT_USAGE;
    }
    return RUMOR_OPT_RUN;
}

/* The left column of o's help line: "-o, --output F" or "--rounds N". */
static void s_left(const rumor_opt_t *o, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s%s%s", o->alias ? o->alias : "", o->alias ? ", " : "", o->name,
             o->arg ? " " : "", o->arg ? o->arg : "");
}

/* One option line: "  LEFT  HELP", the help's further lines under its first. */
static void s_line(FILE *f, const char *left, const char *help, int col)
{
    fprintf(f, "  %-*s  ", col, left);
    for (const char *h = help; *h;) {
        const char *nl = strchr(h, '\n');
        const int len = nl ? (int)(nl - h) : (int)strlen(h);
        fprintf(f, "%.*s\n", len, h);
        if (!nl) return;
        h = nl + 1;
        fprintf(f, "  %-*s  ", col, "");
    }
    fputc('\n', f);
}

int rumor_opt_run_sub(const rumor_opt_cmd_t *cmd, const char *what, const rumor_opt_sub_t *subs,
                      size_t n, const char *name, int argc, char **argv, int at)
{
    for (size_t k = 0; name && k < n; k++)
        if (strcmp(name, subs[k].name) == 0) return subs[k].run(argc - at, argv + at);
    if (name) fprintf(stderr, "%s: unknown %s '%s'\n\n", cmd->prog, what, name);
    rumor_opt_help(cmd, stderr);
    return 2;
}

void rumor_opt_help(const rumor_opt_cmd_t *cmd, FILE *f)
{
    fprintf(f, "usage: %s\n\n", cmd->usage);
    if (cmd->about) fprintf(f, "%s\n\n", cmd->about);
    char left[96];
    int col = (int)strlen("-h, --help");
    for (size_t i = 0; i < cmd->n_opts; i++) {
        s_left(&cmd->opts[i], left, sizeof left);
        if ((int)strlen(left) > col) col = (int)strlen(left);
    }
    fprintf(f, "options:\n");
    for (size_t i = 0; i < cmd->n_opts; i++) {
        s_left(&cmd->opts[i], left, sizeof left);
        s_line(f, left, cmd->opts[i].help, col);
    }
    s_line(f, "-h, --help", "this text", col);
    if (cmd->after) fprintf(f, "\n%s\n", cmd->after);
}
