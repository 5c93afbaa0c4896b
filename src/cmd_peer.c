/* rumor — `rumor peer`: run one node of a scenario over the network. */
#include "rumor/checkpoint.h"
#include "rumor/cmd.h"
#include "rumor/file.h"
#include "rumor/log.h"
#include "rumor/node.h"
#include "rumor/opt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the command line says: the node's options and what decides them afterwards. */
typedef struct {
    rumor_node_opts_t node;
    rumor_byzantine_t byz; /* --byzantine, without its round */
    int has_id, has_every, quiet;
} s_opts_t;

/* A Byzantine behaviour KIND[:PARAM] (not "none"). */
static int s_byzantine(const char *v, void *dst)
{
    rumor_byzantine_t *b = dst;
    return rumor_byzantine_parse(v, b) || b->kind == RUMOR_BYZ_NONE;
}

static const rumor_opt_t s_opts[] = {
    {RUMOR_OPT_STR("--config", s_opts_t, node.config, "FILE",
                   "scenario (same file on every node)")},
    {RUMOR_OPT_U32("--id", s_opts_t, node.id, "I", 0, UINT32_MAX, "this node's id in the topology"),
     .seen = RUMOR_OPT_SEEN(s_opts_t, has_id)},
    {RUMOR_OPT_STR("--topology", s_opts_t, node.topology, "FILE",
                   "topology with endpoints and public keys (default: the\nscenario's)")},
    {RUMOR_OPT_STR("--key", s_opts_t, node.key, "FILE",
                   "secret key file from `rumor keygen` (mode 0600)")},
    {RUMOR_OPT_FLAG("--insecure", s_opts_t, node.insecure,
                    "plaintext; only for loopback, ipc and inproc endpoints")},
    {RUMOR_OPT_STR("--checkpoint", s_opts_t, node.checkpoint_dir, "DIR",
                   "write DIR/node<I>.safetensors (and resume from it)")},
    {RUMOR_OPT_U32("--checkpoint-every", s_opts_t, node.checkpoint_every, "K", 0, UINT32_MAX,
                   "rounds between checkpoints (default 100 with --checkpoint)"),
     .seen = RUMOR_OPT_SEEN(s_opts_t, has_every)},
    {RUMOR_OPT_STR("--metrics", s_opts_t, node.metrics, "FILE",
                   "one JSON object per evaluation (JSON Lines)")},
    {RUMOR_OPT_STR("--model-out", s_opts_t, node.model_out, "FILE", "final model as raw float32")},
    {RUMOR_OPT_U32("--rounds", s_opts_t, node.rounds, "N", 1, UINT32_MAX,
                   "override algorithm.rounds (must match on every node)")},
    {RUMOR_OPT_U32("--wait", s_opts_t, node.wait_s, "S", 1, UINT32_MAX,
                   "give up on a silent neighbour after S seconds (300)")},
    {RUMOR_OPT_U32("--liveness", s_opts_t, node.liveness_ms, "MS", 1, UINT32_MAX,
                   "deadline mode: mark a silent neighbour down after MS\n"
                   "(default 3 x deadline, at least 1000); a peer sends a\n"
                   "HEARTBEAT to any neighbour it was silent to for MS/4")},
    {RUMOR_OPT_FN("--byzantine", s_opts_t, byz, "KIND[:P]", s_byzantine,
                  "signflip, noise, constant, alie or scale, optionally :PARAM (a number)",
                  "send well-formed poison in place of this peer's messages,\n"
                  "for tests of algorithm.robust: signflip[:S] (-S x the\n"
                  "message), noise[:NORM], constant[:VALUE], alie[:Z] or\n"
                  "scale[:FACTOR] (see docs/scenario.md); state stays honest")},
    {RUMOR_OPT_U32("--byzantine-from", s_opts_t, node.byzantine.from, "R", 0, UINT32_MAX,
                   "... from round R on (default 0)")},
    {RUMOR_OPT_U32("--slow", s_opts_t, node.slow_ms, "MS", 0, UINT32_MAX,
                   "sleep MS milliseconds before each local step: a real\n"
                   "straggler for deadline rounds")},
    {RUMOR_OPT_FLAG("--quiet", s_opts_t, quiet, "no progress lines")},
};

static const rumor_opt_cmd_t s_cmd = {
    .prog = "rumor peer",
    .usage = "rumor peer --config SCENARIO.json --id I [OPTIONS]",
    .about = "Runs node I of the scenario's topology: binds its endpoint, connects to its\n"
             "neighbours (CurveZMQ by default), trains, and exits 0 when the last round is done.\n"
             "Start one per node, in any order; each waits for its neighbours. A peer that\n"
             "stops with an error tells its neighbours why; in synchronous mode they stop too,\n"
             "in deadline mode they go on without it.",
    .opts = s_opts,
    .n_opts = sizeof s_opts / sizeof s_opts[0],
};

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
    s_opts_t opts = {0};
    int n_pos;
    const int parsed = rumor_opt_parse(&s_cmd, argc, argv, &opts, NULL, &n_pos);
    if (parsed) return rumor_opt_exit(parsed);
    if (!opts.node.config || !opts.has_id) {
        fprintf(stderr, "rumor peer: --config and --id are required\n\n");
        rumor_opt_help(&s_cmd, stderr);
        return 2;
    }
    rumor_node_opts_t o = opts.node;
    o.progress = opts.quiet ? NULL : stderr;
    const uint32_t from = o.byzantine.from;
    if (opts.byz.kind != RUMOR_BYZ_NONE) o.byzantine = opts.byz;
    o.byzantine.from = from;
    if (o.checkpoint_dir && !opts.has_every) o.checkpoint_every = RUMOR_CHECKPOINT_EVERY;
    if (s_check_outputs(&o)) return 2;
    rumor_errmsg_t em = {""};
    o.stop = rumor_cmd_stop_begin(); /* SIGINT, SIGTERM: checkpoint, BYE and exit */
    const int rc = rumor_node_run(&o, &em);
    rumor_cmd_stop_end();
    if (rc == 0) return 0;
    fprintf(stderr, "rumor peer: %s\n", em.msg[0] ? em.msg : rumor_strerror(rc));
    return rc == RUMOR_EINTR ? 130 : 1;
}
