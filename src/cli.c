/* rumor — the `rumor` program: global options and subcommand dispatch. */
#include "rumor/cli.h"
#include "rumor/cmd.h"
#include "rumor/log.h"
#include "rumor/opt.h"

#include <stdio.h>
#include <stdlib.h>

static const rumor_opt_sub_t s_commands[] = {
    {"peer", rumor_cmd_peer}, {"sim", rumor_cmd_sim},     {"sweep", rumor_cmd_sweep},
    {"topo", rumor_cmd_topo}, {"bench", rumor_cmd_bench}, {"keygen", rumor_cmd_keygen},
    {"eval", rumor_cmd_eval},
};

typedef struct {
    int version;
    rumor_log_level_t level;
    int has_level;
} s_opts_t;

static int s_level(const char *v, void *dst)
{
    return rumor_log_parse_level(v, dst);
}

static const rumor_opt_t s_opts[] = {
    {RUMOR_OPT_FN("--log", s_opts_t, level, "LEVEL", s_level, "error, warn, info or debug",
                  "error, warn, info (default) or debug; also RUMOR_LOG"),
     .seen = RUMOR_OPT_SEEN(s_opts_t, has_level)},
    {RUMOR_OPT_FLAG("--version", s_opts_t, version, "print the version")},
};

static const rumor_opt_cmd_t s_cmd = {
    .prog = "rumor",
    .usage = "rumor [--log LEVEL] COMMAND [ARGS]",
    .about = "Decentralized peer-to-peer training with compressed gossip.\n\ncommands:\n"
             "  peer     run one node of a scenario over the network\n"
             "  sim      run a multi-peer simulation from a scenario file\n"
             "  sweep    run a grid of scenario variations x seeds, and summarise it\n"
             "  topo     generate, check and describe topologies\n"
             "  bench    measure training and codec speed\n"
             "  keygen   create CurveZMQ key files (one, or one per topology node)\n"
             "  eval     test loss, accuracy and density of a checkpoint or model file",
    .after = "Run `rumor COMMAND --help` for a command's options.",
    .opts = s_opts,
    .n_opts = sizeof s_opts / sizeof s_opts[0],
    .args = "COMMAND",
    .min_args = 1,
    .max_args = 1,
    .subcommand = 1,
};

int rumor_cli_main(int argc, char **argv)
{
    const char *env = getenv("RUMOR_LOG");
    rumor_log_level_t level;
    if (env && rumor_log_parse_level(env, &level) == 0) rumor_log_set_level(level);
    s_opts_t o = {0};
    const char *name = NULL;
    int at = 0;
    const int parsed = rumor_opt_parse(&s_cmd, argc, argv, &o, &name, &at);
    if (parsed) return rumor_opt_exit(parsed);
    if (o.version) {
        printf("rumor %s\n", RUMOR_VERSION);
        return 0;
    }
    if (o.has_level) rumor_log_set_level(o.level);
    return rumor_opt_run_sub(&s_cmd, "command", s_commands,
                             sizeof s_commands / sizeof s_commands[0], name, argc, argv, at);
}
