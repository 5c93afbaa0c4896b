/* rumor — the `rumor` command: global options and subcommand dispatch. */
#include "rumor/bench.h"
#include "rumor/cli.h"
#include "rumor/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} s_command_t;

static const s_command_t s_commands[] = {
    {"peer", rumor_cmd_peer, "run one node of a scenario over the network"},
    {"sim", rumor_cmd_sim, "run a multi-peer simulation from a scenario file"},
    {"sweep", rumor_cmd_sweep, "run a grid of scenario variations x seeds, and summarise it"},
    {"topo", rumor_cmd_topo, "generate, check and describe topologies"},
    {"bench", rumor_cmd_bench, "measure training and codec speed"},
    {"keygen", rumor_cmd_keygen, "create CurveZMQ key files (one, or one per topology node)"},
    {"eval", rumor_cmd_eval, "test loss, accuracy and density of a checkpoint or model file"},
};

static void s_usage(FILE *f)
{
    fprintf(f, "usage: rumor [--log LEVEL] COMMAND [ARGS]\n\n"
               "Decentralized peer-to-peer training with compressed gossip.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        fprintf(f, "  %-8s %s\n", s_commands[i].name, s_commands[i].summary);
    fprintf(f, "\noptions:\n"
               "  --log LEVEL  error, warn, info (default) or debug; also RUMOR_LOG\n"
               "  --version    print the version\n\n"
               "Run `rumor COMMAND --help` for a command's options.\n");
}

int rumor_cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "train") == 0)
        return rumor_bench_train_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "codec") == 0)
        return rumor_bench_codec_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "round") == 0)
        return rumor_bench_round_main(argc - 1, argv + 1);
    const int help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    fprintf(help ? stdout : stderr,
            "usage: rumor bench train|codec|round [OPTIONS]\n"
            "  train  local SGD throughput of a model (samples/s, GFLOP/s)\n"
            "  codec  codec size against the entropy bound, and speed\n"
            "  round  one peer's per-round communication path against its SGD step\n");
    return help ? 0 : 2;
}

int rumor_cli_main(int argc, char **argv)
{
    const char *env = getenv("RUMOR_LOG");
    rumor_log_level_t level;
    if (env && rumor_log_parse_level(env, &level) == 0) rumor_log_set_level(level);
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            s_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("rumor %s\n", RUMOR_VERSION);
            return 0;
        } else if (!strcmp(argv[i], "--log") && i + 1 < argc) {
            if (rumor_log_parse_level(argv[++i], &level) != 0) {
                fprintf(stderr, "rumor: --log: expected error, warn, info or debug, got '%s'\n",
                        argv[i]);
                return 2;
            }
            rumor_log_set_level(level);
        } else {
            fprintf(stderr, "rumor: unknown option '%s'\n\n", argv[i]);
            s_usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        s_usage(stderr);
        return 2;
    }
    for (size_t c = 0; c < sizeof s_commands / sizeof s_commands[0]; c++)
        if (strcmp(argv[i], s_commands[c].name) == 0) return s_commands[c].run(argc - i, argv + i);
    fprintf(stderr, "rumor: unknown command '%s'\n\n", argv[i]);
    s_usage(stderr);
    return 2;
}

int rumor_cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    char *end;
    const unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int rumor_cli_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v;
    if (rumor_cli_parse_u64(s, lo, hi, &v)) return -1;
    *out = (uint32_t)v;
    return 0;
}

const char *rumor_cli_value(const char *cmd, int argc, char **argv, int *i)
{
    const char *opt = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!v || (v[0] == '-' && v[1] != '\0')) {
        fprintf(stderr, "rumor %s: %s needs a value%s%s%s\n", cmd, opt,
                v ? " (got the option '" : "", v ? v : "", v ? "')" : "");
        return NULL;
    }
    ++*i;
    return v;
}

int rumor_cli_parse_double(const char *s, double hi, double *out)
{
    if (!s) return -1;
    errno = 0;
    char *end;
    const double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0.0 && v <= hi)) return -1;
    *out = v;
    return 0;
}
