/* rumor — `rumor peer`: run one node of a scenario over the network. */
#include "rumor/checkpoint.h"
#include "rumor/cli.h"
#include "rumor/file.h"
#include "rumor/log.h"
#include "rumor/node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: rumor peer --config SCENARIO.json --id I [OPTIONS]\n\n"
            "Runs node I of the scenario's topology: binds its endpoint, connects to its\n"
            "neighbours (CurveZMQ by default), trains, and exits 0 when the last round is done.\n"
            "Start one per node, in any order; each waits for its neighbours. A peer that\n"
            "stops with an error tells its neighbours why; in synchronous mode they stop too,\n"
            "in deadline mode they go on without it.\n\n"
            "options:\n"
            "  --config FILE           scenario (same file on every node)\n"
            "  --id I                  this node's id in the topology\n"
            "  --topology FILE         topology with endpoints and public keys (default: the\n"
            "                          scenario's)\n"
            "  --key FILE              secret key file from `rumor keygen` (mode 0600)\n"
            "  --insecure              plaintext; only for loopback, ipc and inproc endpoints\n"
            "  --checkpoint DIR        write DIR/node<I>.safetensors (and resume from it)\n"
            "  --checkpoint-every K    rounds between checkpoints (default 100 with --checkpoint)\n"
            "  --metrics FILE          one JSON object per evaluation (JSON Lines)\n"
            "  --model-out FILE        final model as raw float32\n"
            "  --rounds N              override algorithm.rounds (must match on every node)\n"
            "  --wait S                give up on a silent neighbour after S seconds (300)\n"
            "  --liveness MS           deadline mode: mark a silent neighbour down after MS\n"
            "                          (default 3 x deadline, at least 1000); a peer sends a\n"
            "                          HEARTBEAT to any neighbour it was silent to for MS/4\n"
            "  --byzantine KIND[:P]    send well-formed poison in place of this peer's messages,\n"
            "                          for tests of algorithm.robust: signflip[:S] (-S x the\n"
            "                          message), noise[:NORM], constant[:VALUE], alie[:Z] or\n"
            "                          scale[:FACTOR] (see docs/scenario.md); state stays honest\n"
            "  --byzantine-from R      ... from round R on (default 0)\n"
            "  --slow MS               sleep MS milliseconds before each local step: a real\n"
            "                          straggler for deadline rounds\n"
            "  --quiet                 no progress lines\n"
            "  -h, --help              this text\n");
}

static int s_u32(const char *opt, const char *v, uint32_t min, uint32_t *out)
{
    if (rumor_cli_parse_u32(v, min, UINT32_MAX, out) == 0) return 0;
    if (min)
        fprintf(stderr, "rumor peer: %s: expected a whole number of at least %u, got '%s'\n", opt,
                min, v ? v : "");
    else
        fprintf(stderr, "rumor peer: %s: expected a whole number, got '%s'\n", opt, v ? v : "");
    return -1;
}

/* Checks before the run what the run writes at its end (the model, checkpoints), so that a
 * typo does not cost the whole run, and removes what a killed predecessor left half-written. */
static int s_check_outputs(const rumor_node_opts_t *o)
{
    rumor_errmsg_t em = {""};
    const char *opt = "--model-out";
    int rc = o->model_out ? rumor_file_check_output(o->model_out, &em) : 0;
    if (!rc && o->metrics) {
        opt = "--metrics";
        rc = rumor_file_check_output(o->metrics, &em);
    }
    if (!rc && o->checkpoint_dir) {
        opt = "--checkpoint";
        rc = rumor_file_check_dir(o->checkpoint_dir, &em);
    }
    if (rc) {
        fprintf(stderr, "rumor peer: %s %s\n", opt, em.msg);
        return rc;
    }
    char ckpt[4096];
    if (o->checkpoint_dir &&
        rumor_checkpoint_path(ckpt, sizeof ckpt, o->checkpoint_dir, o->id) == 0) {
        const int n = rumor_file_remove_stale(ckpt);
        if (n) rumor_info("node %u: removed %d half-written checkpoint(s) of %s", o->id, n, ckpt);
    }
    if (o->model_out) (void)rumor_file_remove_stale(o->model_out);
    return 0;
}

int rumor_cmd_peer(int argc, char **argv)
{
    rumor_node_opts_t o = {.progress = stderr};
    int has_id = 0, has_every = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            s_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--insecure")) {
            o.insecure = 1;
        } else if (!strcmp(a, "--quiet")) {
            o.progress = NULL;
        } else if (!strcmp(a, "--config")) {
            if (!(o.config = rumor_cli_value("peer", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--topology")) {
            if (!(o.topology = rumor_cli_value("peer", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--key")) {
            if (!(o.key = rumor_cli_value("peer", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--checkpoint")) {
            if (!(o.checkpoint_dir = rumor_cli_value("peer", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--metrics")) {
            if (!(o.metrics = rumor_cli_value("peer", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--model-out")) {
            if (!(o.model_out = rumor_cli_value("peer", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--id")) {
            if (!(v = rumor_cli_value("peer", argc, argv, &i)) || s_u32(a, v, 0, &o.id)) return 2;
            has_id = 1;
        } else if (!strcmp(a, "--checkpoint-every")) {
            if (!(v = rumor_cli_value("peer", argc, argv, &i)) ||
                s_u32(a, v, 0, &o.checkpoint_every))
                return 2;
            has_every = 1;
        } else if (!strcmp(a, "--rounds")) {
            if (!(v = rumor_cli_value("peer", argc, argv, &i)) || s_u32(a, v, 1, &o.rounds))
                return 2;
        } else if (!strcmp(a, "--wait")) {
            if (!(v = rumor_cli_value("peer", argc, argv, &i)) || s_u32(a, v, 1, &o.wait_s))
                return 2;
        } else if (!strcmp(a, "--byzantine")) {
            if (!(v = rumor_cli_value("peer", argc, argv, &i))) return 2;
            const uint32_t from = o.byzantine.from;
            if (rumor_byzantine_parse(v, &o.byzantine) || o.byzantine.kind == RUMOR_BYZ_NONE) {
                fprintf(stderr,
                        "rumor peer: --byzantine: expected signflip, noise, constant, alie or "
                        "scale, optionally :PARAM (a number), got '%s'\n",
                        v);
                return 2;
            }
            o.byzantine.from = from;
        } else if (!strcmp(a, "--byzantine-from")) {
            if (!(v = rumor_cli_value("peer", argc, argv, &i)) || s_u32(a, v, 0, &o.byzantine.from))
                return 2;
        } else if (!strcmp(a, "--slow")) {
            if (!(v = rumor_cli_value("peer", argc, argv, &i)) || s_u32(a, v, 0, &o.slow_ms))
                return 2;
        } else if (!strcmp(a, "--liveness")) {
            if (!(v = rumor_cli_value("peer", argc, argv, &i)) || s_u32(a, v, 1, &o.liveness_ms))
                return 2;
        } else {
            fprintf(stderr, "rumor peer: unknown option '%s'\n", a);
            return 2;
        }
    }
    if (!o.config || !has_id) {
        fprintf(stderr, "rumor peer: --config and --id are required\n\n");
        s_usage(stderr);
        return 2;
    }
    if (o.checkpoint_dir && !has_every) o.checkpoint_every = RUMOR_CHECKPOINT_EVERY;
    if (s_check_outputs(&o)) return 2;
    rumor_errmsg_t em = {""};
    const int rc = rumor_node_run(&o, &em);
    if (rc == 0) return 0;
    fprintf(stderr, "rumor peer: %s\n", em.msg[0] ? em.msg : rumor_strerror(rc));
    return rc == RUMOR_EINTR ? 130 : 1;
}
