/* rumor — `rumor bench`: dispatch to the benchmarks of bench.h. */
#include "rumor/bench.h"
#include "rumor/cmd.h"
#include "rumor/opt.h"

static const rumor_opt_cmd_t s_cmd = {
    .prog = "rumor bench",
    .usage = "rumor bench train|codec|round [OPTIONS]",
    .about = "  train  local SGD throughput of a model (samples/s, GFLOP/s)\n"
             "  codec  codec size against the entropy bound, and speed\n"
             "  round  one peer's per-round communication path against its SGD step",
    .after = "Run `rumor bench BENCHMARK --help` for its options.",
    .args = "BENCHMARK",
    .min_args = 1,
    .max_args = 1,
    .subcommand = 1,
};

int rumor_cmd_bench(int argc, char **argv)
{
    static const rumor_opt_sub_t benches[] = {
        {"train", rumor_bench_train_main},
        {"codec", rumor_bench_codec_main},
        {"round", rumor_bench_round_main},
    };
    const char *name = NULL;
    int at = 0;
    const int parsed = rumor_opt_parse(&s_cmd, argc, argv, NULL, &name, &at);
    if (parsed) return rumor_opt_exit(parsed);
    return rumor_opt_run_sub(&s_cmd, "benchmark", benches, sizeof benches / sizeof benches[0], name,
                             argc, argv, at);
}
