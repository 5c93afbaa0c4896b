/* Tests of the command line: the option parser (opt.h) on a table of every kind, and every
 * command of `rumor` (cli.h) through it: `--k=v` and `--k v` alike, unknown options, missing
 * and bad values named with the option and the value, and --help made from the table; and
 * short runs of `rumor bench codec` and `rumor bench round`, which print their figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/cli.h"
#include "rumor/opt.h"
#include "support.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_setup(void **state)
{
    (void)state;
    return s_scratch_make("cli");
}

static int s_teardown(void **state)
{
    (void)state;
    return s_scratch_remove();
}

typedef struct {
    uint32_t n;
    uint64_t big;
    double x;
    const char *path;
    int even;
    int flag, has_n;
} s_opts_t;

/* An even whole number, for the FN kind. */
static int s_even(const char *v, void *dst)
{
    uint32_t x;
    if (rumor_opt_parse_u32(v, 0, 100, &x) || x % 2) return -1;
    *(int *)dst = (int)x;
    return 0;
}

static const rumor_opt_t s_opts[] = {
    {RUMOR_OPT_U32("--n", s_opts_t, n, "N", 1, 10, "a count"),
     .seen = RUMOR_OPT_SEEN(s_opts_t, has_n)},
    {RUMOR_OPT_U64("--big", s_opts_t, big, "B", 0, UINT64_MAX, "a large number")},
    {RUMOR_OPT_REAL("--x", s_opts_t, x, "X", 2.0, "a real\nin (0, 2]")},
    {RUMOR_OPT_STR("--output", s_opts_t, path, "FILE", "where it goes"), .alias = "-o"},
    {RUMOR_OPT_FN("--even", s_opts_t, even, "E", s_even, "an even number up to 100",
                  "an even number")},
    {RUMOR_OPT_FLAG("--flag", s_opts_t, flag, "a flag")},
};

static const rumor_opt_cmd_t s_cmd = {
    .prog = "t",
    .usage = "t [OPTIONS] A [B]",
    .about = "A test command.",
    .after = "The end.",
    .opts = s_opts,
    .n_opts = sizeof s_opts / sizeof s_opts[0],
    .args = "A [B]",
    .min_args = 1,
    .max_args = 2,
};

/* What a call printed: stdout and stderr, NUL-terminated. */
typedef struct {
    char out[8192], err[2048];
} s_printed_t;

/* rumor_opt_parse on s_cmd as a main function, for s_call_captured. */
static struct {
    s_opts_t *opts;
    const char **pos;
    int *n_pos;
} s_parse_to;

static int s_parse_main(int argc, char **argv)
{
    return rumor_opt_parse(&s_cmd, argc, argv, s_parse_to.opts, s_parse_to.pos, s_parse_to.n_pos);
}

/* Runs rumor_opt_parse on s_cmd into o, pos, n_pos (cli == 0) or rumor_cli_main (cli == 1) on
 * the arguments (a NULL-terminated list after argv[0]) with stdout and stderr captured. */
static int s_run(int cli, s_opts_t *o, const char **pos, int *n_pos, s_printed_t *p, ...)
{
    char *argv[32] = {cli ? "rumor" : "t"};
    int argc = 1;
    va_list ap;
    va_start(ap, p);
    for (char *a; (a = va_arg(ap, char *)) != NULL;) argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    s_parse_to.opts = o;
    s_parse_to.pos = pos;
    s_parse_to.n_pos = n_pos;
    const int rc = s_call_captured(cli ? rumor_cli_main : s_parse_main, argc, argv, p->out,
                                   sizeof p->out, p->err, sizeof p->err);
    assert_true(rc >= 0);
    return rc;
}

#define S_PARSE(o, pos, n, p, ...) s_run(0, o, pos, n, p, __VA_ARGS__, (char *)NULL)
#define S_RUMOR(p, ...)            s_run(1, NULL, NULL, NULL, p, __VA_ARGS__, (char *)NULL)

static void test_both_forms(void **state)
{
    (void)state;
    s_printed_t p;
    const char *pos[2];
    int n;
    s_opts_t a = {0}, b = {0};
    assert_int_equal(S_PARSE(&a, pos, &n, &p, "--n", "7", "--big", "18446744073709551615", "--x",
                             "1.5", "-o", "f.txt", "--even", "42", "--flag", "first"),
                     RUMOR_OPT_RUN);
    assert_int_equal(S_PARSE(&b, pos, &n, &p, "--n=7", "--big=18446744073709551615", "--x=1.5",
                             "-o=f.txt", "--even=42", "--flag", "first"),
                     RUMOR_OPT_RUN);
    assert_string_equal(p.err, "");
    const s_opts_t *both[2] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(both[i]->n, 7);
        assert_true(both[i]->has_n);
        assert_true(both[i]->big == UINT64_MAX);
        assert_true(both[i]->x == 1.5);
        assert_string_equal(both[i]->path, "f.txt");
        assert_int_equal(both[i]->even, 42);
        assert_int_equal(both[i]->flag, 1);
    }
    assert_int_equal(n, 1);
    assert_string_equal(pos[0], "first");

    /* The long name of an aliased option, "-" as a positional, and positionals anywhere. */
    s_opts_t c = {0};
    assert_int_equal(S_PARSE(&c, pos, &n, &p, "one", "--output", "g", "-"), RUMOR_OPT_RUN);
    assert_string_equal(c.path, "g");
    assert_false(c.has_n);
    assert_int_equal(n, 2);
    assert_string_equal(pos[0], "one");
    assert_string_equal(pos[1], "-");
}

/* Each bad command line is refused with one line that names the option and the value. */
static void test_errors_name_option_and_value(void **state)
{
    (void)state;
    static const struct {
        const char *args[4];
        const char *says;
    } cases[] = {
        {{"--nope", "a"}, "t: unknown option '--nope' (see t --help)\n"},
        {{"a", "--nope=3"}, "t: unknown option '--nope=3'"},
        {{"a", "--n"}, "t: --n needs a value\n"},
        {{"--n", "--flag", "a"}, "t: --n needs a value (got the option '--flag')\n"},
        {{"a", "-o"}, "t: -o needs a value\n"},
        {{"a", "--output="}, "t: --output needs a value (got '--output=')\n"},
        {{"--n=x", "a"}, "t: --n: expected a whole number from 1 to 10, got 'x'\n"},
        {{"--n", "11", "a"}, "t: --n: expected a whole number from 1 to 10, got '11'\n"},
        {{"--n", "-1", "a"}, "t: --n: expected a whole number from 1 to 10, got '-1'\n"},
        {{"--n", " 5", "a"}, "t: --n: expected a whole number from 1 to 10, got ' 5'\n"},
        {{"--big=1x", "a"}, "t: --big: expected a whole number, got '1x'\n"},
        {{"--x", "nan", "a"}, "t: --x: expected a number in (0, 2], got 'nan'\n"},
        {{"--x=0", "a"}, "t: --x: expected a number in (0, 2], got '0'\n"},
        {{"--even", "3", "a"}, "t: --even: expected an even number up to 100, got '3'\n"},
        {{"--flag=1", "a"}, "t: --flag takes no value, got '--flag=1'\n"},
        {{"a", "b", "c"}, "t: unexpected argument 'c' (it takes A [B])\n"},
        {{"--flag"}, "t: missing A [B]\n\nusage: t [OPTIONS] A [B]\n"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        s_opts_t o = {0};
        const char *pos[2];
        int n;
        s_printed_t p;
        const char *const *a = cases[k].args;
        const int rc = S_PARSE(&o, pos, &n, &p, a[0], a[1], a[2], a[3]);
        if (rc != RUMOR_OPT_USAGE || strncmp(p.err, cases[k].says, strlen(cases[k].says)) ||
            p.out[0])
            fail_msg("case %zu: rc %d, stderr \"%s\", expected \"%s\"", k, rc, p.err,
                     cases[k].says);
    }
}

static void test_help_from_the_table(void **state)
{
    (void)state;
    s_opts_t o = {0};
    const char *pos[2];
    int n;
    s_printed_t p;
    assert_int_equal(S_PARSE(&o, pos, &n, &p, "--n", "x", "--help"), RUMOR_OPT_USAGE);
    assert_int_equal(S_PARSE(&o, pos, &n, &p, "a", "-h", "--bogus"), RUMOR_OPT_HELP);
    assert_int_equal(rumor_opt_exit(RUMOR_OPT_HELP), 0);
    assert_int_equal(rumor_opt_exit(RUMOR_OPT_USAGE), 2);
    assert_string_equal(p.err, "");
    assert_string_equal(p.out, "usage: t [OPTIONS] A [B]\n\n"
                               "A test command.\n\n"
                               "options:\n"
                               "  --n N              a count\n"
                               "  --big B            a large number\n"
                               "  --x X              a real\n"
                               "                     in (0, 2]\n"
                               "  -o, --output FILE  where it goes\n"
                               "  --even E           an even number\n"
                               "  --flag             a flag\n"
                               "  -h, --help         this text\n"
                               "\nThe end.\n");
}

static void test_subcommand(void **state)
{
    (void)state;
    rumor_opt_cmd_t cmd = s_cmd;
    cmd.subcommand = 1;
    s_opts_t o = {0};
    const char *sub = NULL;
    int at = 0;
    char *argv[] = {"t", "--flag", "--n=3", "run", "--n", "x", NULL};
    assert_int_equal(rumor_opt_parse(&cmd, 6, argv, &o, &sub, &at), RUMOR_OPT_RUN);
    assert_string_equal(sub, "run");
    assert_int_equal(at, 3);
    assert_int_equal(o.n, 3);
    assert_int_equal(o.flag, 1);
    assert_int_equal(rumor_opt_parse(&cmd, 3, argv, &o, &sub, &at), RUMOR_OPT_RUN);
    assert_null(sub);
    assert_int_equal(at, 0);
}

/* Every command takes --help (exit 0, its usage on stdout) and refuses an unknown option and
 * a bad `--opt=VALUE` (exit 2, one line naming them). */
static void test_every_command(void **state)
{
    (void)state;
    static const struct {
        const char *cmd[2];
        const char *opt; /* an option with a value the command refuses, in --opt=VALUE form */
        const char *says;
    } cmds[] = {
        {{"sim", NULL}, "--rounds=-2", "rumor sim: --rounds: expected a whole number"},
        {{"peer", NULL}, "--id=x", "rumor peer: --id: expected a whole number, got 'x'"},
        {{"sweep", NULL}, "-j=0", "rumor sweep: -j: expected a whole number from 1 to 256"},
        {{"eval", NULL}, "--peer=x", "rumor eval: --peer: expected a peer id, got 'x'"},
        {{"keygen", NULL}, "--force=1", "rumor keygen: --force takes no value"},
        {{"topo", "gen"}, "--p=2", "rumor topo gen: --p: expected a probability in (0, 1]"},
        {{"topo", "check"}, "--x=1", "rumor topo check: unknown option '--x=1'"},
        {{"bench", "train"}, "--batch=0", "rumor bench train: --batch: expected a whole number"},
        {{"bench", "codec"}, "--mode=zstd", "rumor bench codec: --mode: expected auto, raw"},
        {{"bench", "round"}, "--codec=seed", "rumor bench round: --codec: expected auto, vsc"},
    };
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        const char *c0 = cmds[k].cmd[0], *c1 = cmds[k].cmd[1];
        s_printed_t p;
        char usage[64];
        snprintf(usage, sizeof usage, "usage: rumor %s%s%s", c0, c1 ? " " : "", c1 ? c1 : "");
        int rc = c1 ? S_RUMOR(&p, c0, c1, "--help") : S_RUMOR(&p, c0, "--help");
        if (rc != 0 || strncmp(p.out, usage, strlen(usage)))
            fail_msg("rumor %s %s --help: exit %d, stdout \"%.80s\"", c0, c1 ? c1 : "", rc, p.out);
        rc = c1 ? S_RUMOR(&p, c0, c1, cmds[k].opt) : S_RUMOR(&p, c0, cmds[k].opt);
        if (rc != 2 || strncmp(p.err, cmds[k].says, strlen(cmds[k].says)))
            fail_msg("rumor %s %s %s: exit %d, stderr \"%s\", expected \"%s\"", c0, c1 ? c1 : "",
                     cmds[k].opt, rc, p.err, cmds[k].says);
        rc = c1 ? S_RUMOR(&p, c0, c1, "--no-such-option") : S_RUMOR(&p, c0, "--no-such-option");
        if (rc != 2 || !strstr(p.err, "unknown option '--no-such-option'"))
            fail_msg("rumor %s %s --no-such-option: exit %d, stderr \"%s\"", c0, c1 ? c1 : "", rc,
                     p.err);
    }
    s_printed_t p;
    assert_int_equal(S_RUMOR(&p, "--log=loud", "sim"), 2);
    assert_string_equal(p.err, "rumor: --log: expected error, warn, info or debug, got 'loud'\n");
    assert_int_equal(S_RUMOR(&p, "--version"), 0);
    assert_non_null(strstr(p.out, "rumor "));
    assert_int_equal(S_RUMOR(&p, "frobnicate"), 2);
    assert_non_null(strstr(p.err, "rumor: unknown command 'frobnicate'"));
    assert_int_equal(S_RUMOR(&p, "bench", "frobnicate"), 2);
    assert_non_null(strstr(p.err, "rumor bench: unknown benchmark 'frobnicate'"));
}

/* The number parses behind the U32, U64 and REAL kinds take exactly the values in range and
 * refuse the rest (and NULL) with RUMOR_EINVAL. */
static void test_number_parses(void **state)
{
    (void)state;
    uint32_t u = 7;
    uint64_t big = 7;
    double x = 7;
    assert_int_equal(rumor_opt_parse_u32("10", 1, 10, &u), 0);
    assert_int_equal(u, 10);
    assert_int_equal(rumor_opt_parse_u64("18446744073709551615", 0, UINT64_MAX, &big), 0);
    assert_true(big == UINT64_MAX);
    assert_int_equal(rumor_opt_parse_real("0.5", 2.0, &x), 0);
    assert_true(x == 0.5);
    static const char *const bad_whole[] = {NULL, "", "11", "0", "-1", "+1", " 1", "1x", "1e1"};
    for (size_t k = 0; k < sizeof bad_whole / sizeof bad_whole[0]; k++) {
        assert_int_equal(rumor_opt_parse_u32(bad_whole[k], 1, 10, &u), RUMOR_EINVAL);
        assert_int_equal(rumor_opt_parse_u64(bad_whole[k], 1, 10, &big), RUMOR_EINVAL);
    }
    assert_int_equal(rumor_opt_parse_u64("18446744073709551616", 0, UINT64_MAX, &big),
                     RUMOR_EINVAL);
    static const char *const bad_real[] = {NULL, "", "0", "-1", "2.5", "nan", "inf", "1x"};
    for (size_t k = 0; k < sizeof bad_real / sizeof bad_real[0]; k++)
        assert_int_equal(rumor_opt_parse_real(bad_real[k], 2.0, &x), RUMOR_EINVAL);
    assert_int_equal(u, 10); /* a refused value leaves the destination alone */
    assert_true(big == UINT64_MAX && x == 0.5);
}

/* The value of "key": in one JSON line, or -1 when it is missing. */
static double s_field(const char *line, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *at = strstr(line, k);
    return at ? strtod(at + strlen(k), NULL) : -1;
}

/* A short `rumor bench codec` prints one row per input (six synthetic ones and the recorded
 * messages), each with its size and its three speeds, and every input decodes exactly. */
static void test_bench_codec_prints_its_figures(void **state)
{
    (void)state;
    s_printed_t p;
    const int rc =
        S_RUMOR(&p, "bench", "codec", "--d=1000", "--seconds=0.01", "--no-external", "--json");
    if (rc != 0) fail_msg("rumor bench codec: exit %d, stderr \"%s\"", rc, p.err);
    static const char *const inputs[] = {"dither 0.1%",        "dither 1%",   "dither 10%",
                                         "dither 50%",         "malcom s=16", "natural",
                                         "codec_residuals.bin"};
    const char *line = p.out;
    for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
        const char *end = strchr(line, '\n');
        if (!end) fail_msg("rumor bench codec: no row for %s in \"%s\"", inputs[k], p.out);
        char row[1024];
        snprintf(row, sizeof row, "%.*s", (int)(end - line), line);
        char name[64];
        snprintf(name, sizeof name, "{\"input\": \"%s\"", inputs[k]);
        if (strncmp(row, name, strlen(name)) || !strstr(row, "\"exact\": true"))
            fail_msg("rumor bench codec: row %zu is not an exact %s: %s", k, inputs[k], row);
        if (!(s_field(row, "bytes") > 0 && s_field(row, "bits_per_nnz") > 0 &&
              s_field(row, "code_MBps") > 0 && s_field(row, "decode_MBps") > 0 &&
              (k == 6 || s_field(row, "encode_MBps") > 0)))
            fail_msg("rumor bench codec: a figure is missing or not positive: %s", row);
        line = end + 1;
    }
    assert_string_equal(line, "");
}

/* The number under key in o, which must be there. */
static double s_number(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) fail_msg("rumor bench round: no number \"%s\"", key);
    return json_number_value(v);
}

/* Runs `rumor bench round` for a moment on softmax (d = 7850) with the given algorithm and
 * one more option (or NULL); its stdout in p. */
static void s_bench_round(s_printed_t *p, const char *algo, const char *extra)
{
    const int rc = S_RUMOR(p, "bench", "round", "--model=softmax", "--seconds=0.02", algo, extra);
    if (rc != 0) fail_msg("rumor bench round %s: exit %d, stderr \"%s\"", algo, rc, p->err);
}

/* A short `rumor bench round --json` prints one object: each phase of the round and of its
 * floor in ns per parameter, adding up to their totals, which the other figures restate in
 * microseconds, as a share of the SGD step and as their ratio; the floor's bytes are the
 * vectors' (v and the own copy twice, two neighbours' copies and x once, 7 d floats) and the
 * lines it updated. The table says the same, and whether an SGD step ran between rounds;
 * DeepSqueeze's round has no floor. */
static void test_bench_round_prints_its_figures(void **state)
{
    (void)state;
    s_printed_t p;
    s_bench_round(&p, "--algorithm=malcom", "--json");
    json_error_t je;
    json_t *o = json_loads(p.out, 0, &je);
    if (!o) fail_msg("rumor bench round: not one JSON object (%s): %s", je.text, p.out);
    const double d = 7850.0;
    assert_int_equal((int)s_number(o, "d"), 7850);
    assert_true(json_is_false(json_object_get(o, "step_between")));
    assert_true(s_number(o, "rounds") > 0 && s_number(o, "floor_rounds") > 0);
    assert_true(s_number(o, "density") > 0 && s_number(o, "bytes_per_msg") > 0);
    static const char *const phase[] = {"produce_ns", "encode_ns", "decode_ns", "absorb_ns",
                                        "mix_ns"};
    static const char *const floor_phase[] = {"floor_produce_ns", "floor_absorb_ns",
                                              "floor_mix_ns"};
    double sum = 0.0, floor_sum = 0.0;
    for (size_t k = 0; k < sizeof phase / sizeof phase[0]; k++) {
        assert_true(s_number(o, phase[k]) >= 0);
        sum += s_number(o, phase[k]);
    }
    for (size_t k = 0; k < sizeof floor_phase / sizeof floor_phase[0]; k++) {
        if (!(s_number(o, floor_phase[k]) > 0))
            fail_msg("%s not positive: %s", floor_phase[k], p.out);
        floor_sum += s_number(o, floor_phase[k]);
    }
    const double round = s_number(o, "round_ns_per_param"),
                 floor = s_number(o, "floor_ns_per_param");
    const double round_us = s_number(o, "round_us"), floor_us = s_number(o, "floor_us");
    const double sgd_us = s_number(o, "sgd_step_us");
    assert_true(round > 0 && floor > 0 && sgd_us > 0);
    assert_float_equal(sum, round, 1e-3);
    assert_float_equal(floor_sum, floor, 1e-3);
    assert_float_equal(round * d / 1e3, round_us, 1e-2 + 1e-4 * round_us);
    assert_float_equal(floor * d / 1e3, floor_us, 1e-2 + 1e-4 * floor_us);
    assert_float_equal(s_number(o, "fraction_of_step"), round_us / sgd_us, 1e-3);
    assert_float_equal(s_number(o, "floor_fraction_of_step"), floor_us / sgd_us, 1e-3);
    assert_float_equal(s_number(o, "round_over_floor"), round_us / floor_us,
                       1e-3 * round_us / floor_us + 1e-3);
    /* beyond 7 d floats, each line of a neighbour's copy updated moves in and out, each of
     * the own copy's out only (the produce has read it): at least one line per neighbour,
     * and one of the own copy */
    const double lines = s_number(o, "floor_lines"), bytes = s_number(o, "floor_bytes");
    const double nbr_lines = (bytes - 7 * d * sizeof(float)) / 64 - lines;
    assert_true(lines > 0 && lines <= 3 * 491);
    if (!(nbr_lines >= 1.9 && nbr_lines <= lines - 0.9))
        fail_msg("floor_bytes %.0f is not 7 d floats and %.1f lines moved", bytes, lines);
    json_decref(o);

    s_bench_round(&p, "--algorithm=malcom", "--step-between"); /* the table */
    static const char *const rows[] = {
        "\n  produce ", "\nround ", "\nSGD step ",   "\n             (one ran before each round)\n",
        "\nfloor ",     "\n  mix ", "\nround/floor "};
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++)
        if (!strstr(p.out, rows[k])) fail_msg("rumor bench round: no row%s in %s", rows[k], p.out);

    s_bench_round(&p, "--algorithm=deepsqueeze", "--json");
    o = json_loads(p.out, 0, &je);
    if (!o) fail_msg("rumor bench round: not one JSON object (%s): %s", je.text, p.out);
    assert_true(s_number(o, "round_ns_per_param") > 0);
    assert_true(json_is_null(json_object_get(o, "floor_ns_per_param")));
    assert_null(json_object_get(o, "floor_us"));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_forms),
        cmocka_unit_test(test_errors_name_option_and_value),
        cmocka_unit_test(test_help_from_the_table),
        cmocka_unit_test(test_subcommand),
        cmocka_unit_test(test_every_command),
        cmocka_unit_test(test_number_parses),
        cmocka_unit_test(test_bench_codec_prints_its_figures),
        cmocka_unit_test(test_bench_round_prints_its_figures),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
