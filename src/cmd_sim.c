/* rumor — `rumor sim`: run a scenario with every peer in this process. */
#include "rumor/cli.h"
#include "rumor/file.h"
#include "rumor/log.h"
#include "rumor/sim.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_usage(FILE *f)
{
    fprintf(
        f,
        "usage: rumor sim SCENARIO.json [OPTIONS]\n\n"
        "Runs every peer of the scenario's topology in this process, in synchronous rounds,\n"
        "and prints a progress line per evaluation (stderr) and a final JSON summary (stdout).\n\n"
        "options:\n"
        "  --rounds N              override algorithm.rounds (0: write the initial models)\n"
        "  --seed S                override the run seed\n"
        "  --eval-every N          override eval_every\n"
        "  --metrics FILE          write one JSON object per evaluation (JSON Lines)\n"
        "  --threads T             worker threads (default: number of cores)\n"
        "  --no-timing             leave wall-clock fields out of the metrics, so a seeded\n"
        "                          run's metrics file is byte-identical across runs and\n"
        "                          thread counts\n"
        "  --models FILE           write every peer's final model (float32, peer-major)\n"
        "  --checkpoint DIR        checkpoint every peer into DIR, and resume from DIR when it\n"
        "                          holds a checkpoint of this run: the models end as if the\n"
        "                          run had never stopped, and --metrics FILE keeps its\n"
        "                          records up to that round\n"
        "  --checkpoint-every K    rounds between checkpoints (default 100; also after the\n"
        "                          last round and on SIGINT/SIGTERM)\n"
        "  --quiet                 no progress lines\n"
        "  -h, --help              this text\n");
}

static int s_parse_u64(const char *opt, const char *s, unsigned long long min,
                       unsigned long long max, unsigned long long *out)
{
    uint64_t v;
    if (rumor_cli_parse_u64(s, min, max, &v) == 0) {
        *out = v;
        return 0;
    }
    fprintf(stderr, "rumor sim: %s: expected a whole number from %llu to %llu, got '%s'\n", opt,
            min, max, s ? s : "");
    return -1;
}

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
    const char *scenario = NULL, *metrics = NULL, *models = NULL, *ckpt = NULL;
    unsigned long long rounds = 0, seed = 0, threads = 0, eval_every = 0, ckpt_every = 0;
    int has_rounds = 0, has_seed = 0, has_eval = 0, quiet = 0, timing = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            s_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--rounds")) {
            if (s_parse_u64(a, v, 0, 100000000, &rounds)) return 2;
            has_rounds = 1;
            i++;
        } else if (!strcmp(a, "--seed")) {
            if (s_parse_u64(a, v, 0, 9007199254740991ULL, &seed)) return 2;
            has_seed = 1;
            i++;
        } else if (!strcmp(a, "--eval-every")) {
            if (s_parse_u64(a, v, 1, 100000000, &eval_every)) return 2;
            has_eval = 1;
            i++;
        } else if (!strcmp(a, "--threads")) {
            if (s_parse_u64(a, v, 0, 1024, &threads)) return 2;
            i++;
        } else if (!strcmp(a, "--metrics")) {
            if (!(metrics = rumor_cli_value("sim", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--models")) {
            if (!(models = rumor_cli_value("sim", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--checkpoint")) {
            if (!(ckpt = rumor_cli_value("sim", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--checkpoint-every")) {
            if (s_parse_u64(a, v, 1, 100000000, &ckpt_every)) return 2;
            i++;
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "--no-timing")) {
            timing = 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "rumor sim: unknown option '%s'\n", a);
            return 2;
        } else if (!scenario) {
            scenario = a;
        } else {
            fprintf(stderr, "rumor sim: more than one scenario given ('%s', '%s')\n", scenario, a);
            return 2;
        }
    }
    if (!scenario) {
        s_usage(stderr);
        return 2;
    }
    if (s_check_outputs(models, metrics, ckpt)) return 2;
    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    if (rumor_scenario_load(scenario, &sc, &em)) {
        fprintf(stderr, "rumor sim: %s\n", em.msg);
        return 1;
    }
    if (has_rounds) sc.rounds = (uint32_t)rounds;
    if (has_seed) sc.seed = seed;
    if (has_eval) sc.eval_every = (uint32_t)eval_every;
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
    const rumor_sim_opts_t opts = {
        .threads = (uint32_t)threads,
        .metrics = mf,
        .progress = quiet ? NULL : stderr,
        .timing = timing,
        .models_out = models,
        .checkpoint_dir = ckpt,
        .checkpoint_every = (uint32_t)ckpt_every,
    };
    rumor_sim_result_t res;
    const int rc = rumor_sim_run(&sc, &opts, &res, &em);
    if (mf && (ferror(mf) | fclose(mf)) != 0) {
        /* Records are buffered: a full disk shows at the latest here. */
        fprintf(stderr, "rumor sim: %s: %s\n", metrics,
                errno == ENOSPC || errno == EDQUOT ? "no space left on device"
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
    char *quoted = name ? json_dumps(name, JSON_ENCODE_ANY) : NULL;
    char extra[512];
    snprintf(extra, sizeof extra, "\"scenario\": %s, \"algorithm\": \"%s\", ",
             quoted ? quoted : "\"\"", rumor_algo_name(sc.algo));
    free(quoted);
    json_decref(name);
    rumor_sim_result_write(stdout, &res, timing, extra);
    return rc ? 1 : 0;
}
