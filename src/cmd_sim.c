/* rumor — `rumor sim`: run a scenario with every peer in this process. */
#include "rumor/cmd.h"
#include "rumor/file.h"
#include "rumor/log.h"
#include "rumor/opt.h"
#include "rumor/sim.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the command line says. */
typedef struct {
    const char *metrics, *models, *ckpt;
    uint32_t rounds, eval_every, threads, ckpt_every;
    uint64_t seed;
    int has_rounds, has_seed, has_eval, quiet, no_timing;
} s_opts_t;

static const rumor_opt_t s_opts[] = {
    {RUMOR_OPT_U32("--rounds", s_opts_t, rounds, "N", 0, 100000000,
                   "override algorithm.rounds (0: write the initial models)"),
     .seen = RUMOR_OPT_SEEN(s_opts_t, has_rounds)},
    {RUMOR_OPT_U64("--seed", s_opts_t, seed, "S", 0, 9007199254740991ULL, "override the run seed"),
     .seen = RUMOR_OPT_SEEN(s_opts_t, has_seed)},
    {RUMOR_OPT_U32("--eval-every", s_opts_t, eval_every, "N", 1, 100000000, "override eval_every"),
     .seen = RUMOR_OPT_SEEN(s_opts_t, has_eval)},
    {RUMOR_OPT_STR("--metrics", s_opts_t, metrics, "FILE",
                   "write one JSON object per evaluation (JSON Lines)")},
    {RUMOR_OPT_U32("--threads", s_opts_t, threads, "T", 0, 1024,
                   "worker threads (default: number of cores)")},
    {RUMOR_OPT_FLAG("--no-timing", s_opts_t, no_timing,
                    "leave wall-clock fields out of the metrics, so a seeded\n"
                    "run's metrics file is byte-identical across runs and\n"
                    "thread counts")},
    {RUMOR_OPT_STR("--models", s_opts_t, models, "FILE",
                   "write every peer's final model (float32, peer-major)")},
    {RUMOR_OPT_STR("--checkpoint", s_opts_t, ckpt, "DIR",
                   "checkpoint every peer into DIR, and resume from DIR when it\n"
                   "holds a checkpoint of this run: the models end as if the\n"
                   "run had never stopped, and --metrics FILE keeps its\n"
                   "records up to that round")},
    {RUMOR_OPT_U32("--checkpoint-every", s_opts_t, ckpt_every, "K", 1, 100000000,
                   "rounds between checkpoints (default 100; also after the\n"
                   "last round and on SIGINT/SIGTERM)")},
    {RUMOR_OPT_FLAG("--quiet", s_opts_t, quiet, "no progress lines")},
};

static const rumor_opt_cmd_t s_cmd = {
    .prog = "rumor sim",
    .usage = "rumor sim SCENARIO.json [OPTIONS]",
    .about = "Runs every peer of the scenario's topology in this process, in synchronous rounds,\n"
             "and prints a progress line per evaluation (stderr) and a final JSON summary "
             "(stdout).",
    .opts = s_opts,
    .n_opts = sizeof s_opts / sizeof s_opts[0],
    .args = "SCENARIO.json",
    .min_args = 1,
    .max_args = 1,
};

/* Keeps the records of the metrics file at path up to round `upto` (a torn last line is
 * dropped too), rewriting it atomically; a missing file is fine. */
static int s_trim_metrics(const char *path, uint32_t upto, rumor_errmsg_t *em)
{
    char *text;
    size_t len;
    FILE *probe = fopen(path, "r");
    if (!probe) return 0;
    fclose(probe);
    int rc = rumor_file_read(path, (size_t)1 << 32, &text, &len, em);
    if (rc) return rc;
    size_t kept = 0;
    for (char *line = text; line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        if (!nl) break; /* torn: the run stopped while writing it */
        *nl = '\0';
        json_t *rec = json_loads(line, 0, NULL);
        const json_int_t r = json_integer_value(json_object_get(rec, "round"));
        json_decref(rec);
        if (rec && r <= (json_int_t)upto) {
            memmove(text + kept, line, (size_t)(nl - line));
            kept += (size_t)(nl - line);
            text[kept++] = '\n';
        }
        line = nl + 1;
    }
    const rumor_file_piece_t piece = {text, kept};
    rc = rumor_file_save(path, 0644, 0, &piece, 1, em);
    free(text);
    return rc;
}

/* Checks before the run what it writes (models at the end, metrics, checkpoints), so that a
 * typo does not cost the whole run, and removes what a killed predecessor left half-written. */
static int s_check_outputs(const char *models, const char *metrics, const char *ckpt)
{
    rumor_errmsg_t em = {""};
    const char *opt = "--models";
    int rc = models ? rumor_file_check_output(models, &em) : 0;
    if (!rc && metrics) {
        opt = "--metrics";
        rc = rumor_file_check_output(metrics, &em);
    }
    if (!rc && ckpt) {
        opt = "--checkpoint";
        rc = rumor_file_check_dir(ckpt, &em);
    }
    if (rc) {
        fprintf(stderr, "rumor sim: %s %s\n", opt, em.msg);
        return rc;
    }
    if (models) (void)rumor_file_remove_stale(models);
    if (metrics) (void)rumor_file_remove_stale(metrics);
    const int n = ckpt ? rumor_file_remove_stale_in(ckpt) : 0;
    if (n) rumor_info("removed %d half-written checkpoint file(s) in %s", n, ckpt);
    return 0;
}

int rumor_cmd_sim(int argc, char **argv)
{
    s_opts_t o = {0};
    const char *scenario;
    int n_pos;
    const int parsed = rumor_opt_parse(&s_cmd, argc, argv, &o, &scenario, &n_pos);
    if (parsed) return rumor_opt_exit(parsed);
    const char *metrics = o.metrics, *models = o.models, *ckpt = o.ckpt;
    const int quiet = o.quiet, timing = !o.no_timing;
    if (s_check_outputs(models, metrics, ckpt)) return 2;
    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    if (rumor_scenario_load(scenario, &sc, &em)) {
        fprintf(stderr, "rumor sim: %s\n", em.msg);
        return 1;
    }
    if (o.has_rounds) sc.rounds = o.rounds;
    if (o.has_seed) sc.seed = o.seed;
    if (o.has_eval) sc.eval_every = o.eval_every;
    rumor_scenario_rehash(&sc);

    /* A resumed run continues the metrics file from the checkpoint's round. */
    uint32_t resume = 0;
    const int resuming = ckpt ? rumor_sim_checkpoint_round(ckpt, &sc, &resume, &em) : 0;
    if (resuming < 0) {
        fprintf(stderr, "rumor sim: %s\n", em.msg);
        return 1;
    }
    if (resuming && metrics && s_trim_metrics(metrics, resume, &em)) {
        fprintf(stderr, "rumor sim: %s\n", em.msg);
        return 1;
    }
    FILE *mf = NULL;
    if (metrics && !(mf = fopen(metrics, resuming ? "a" : "w"))) {
        fprintf(stderr, "rumor sim: %s: cannot create the metrics file: %s\n", metrics,
                strerror(errno));
        return 1;
    }
    /* From here SIGINT and SIGTERM end the run at its next round, with a checkpoint. */
    const rumor_sim_opts_t opts = {
        .stop = rumor_cmd_stop_begin(),
        .threads = o.threads,
        .metrics = mf,
        .progress = quiet ? NULL : stderr,
        .timing = timing,
        .models_out = models,
        .checkpoint_dir = ckpt,
        .checkpoint_every = o.ckpt_every,
    };
    rumor_sim_result_t res;
    const int rc = rumor_sim_run(&sc, &opts, &res, &em);
    rumor_cmd_stop_end();
    if (mf && (ferror(mf) | fclose(mf)) != 0) {
        /* Records are buffered: a full disk shows at the latest here. */
        fprintf(stderr, "rumor sim: %s: %s\n", metrics,
                rumor_file_disk_full(errno) ? rumor_strerror(RUMOR_EDISKFULL)
                                            : "the metrics could not be written");
        if (!rc) return 1;
    }
    if (rc && rc != RUMOR_EINTR) {
        fprintf(stderr, "rumor sim: %s\n", em.msg[0] ? em.msg : rumor_strerror(rc));
        return 1;
    }
    if (rc == RUMOR_EINTR)
        fprintf(stderr, "rumor sim: %s; summary of the last round follows\n", em.msg);
    json_t *name = json_string(sc.name);
    char *quoted = NULL;
    size_t ql;
    const int dumped = rumor_file_json(name, JSON_ENCODE_ANY, "stdout", &quoted, &ql, NULL);
    char extra[512];
    snprintf(extra, sizeof extra, "\"scenario\": %s, \"algorithm\": \"%s\", ",
             dumped ? "\"\"" : quoted, rumor_algo_name(sc.algo));
    free(quoted);
    json_decref(name);
    rumor_sim_result_write(stdout, &res, timing, extra);
    return rc ? 1 : 0;
}
