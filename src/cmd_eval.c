/* rumor — `rumor eval`: how good is one trained model?
 *
 *   rumor eval SCENARIO.json MODEL_FILE [--peer K] [--samples N] [--json]
 *
 * The scenario gives the model shape and the data; the model is read from a checkpoint
 * (safetensors, recognised by content), a raw float32 file of exactly d values, or one peer's
 * slice of a `rumor sim --models` file (n_peers x d values, peer-major). It is evaluated on
 * the scenario's test set with the same model code and chunking the peers use, so the
 * accuracy matches what `rumor sim` reports for the same model.
 *
 * Exit status: 0 success, 1 unreadable or mismatched input, 2 a usage error.
 */
#include "rumor/checkpoint.h"
#include "rumor/cmd.h"
#include "rumor/file.h"
#include "rumor/model.h"
#include "rumor/opt.h"
#include "rumor/peer.h"
#include "rumor/scenario.h"
#include "rumor/topology.h"
#include "rumor/vec.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    uint32_t peer, samples;
    int has_peer, json;
} s_opts_t;

static const rumor_opt_t s_opts[] = {
    {RUMOR_OPT_U32("--peer", s_opts_t, peer, "K", 0, UINT32_MAX - 1,
                   "evaluate peer K's model of a `rumor sim --models` file; with a\n"
                   "checkpoint, insist that it was written by node K"),
     .seen = RUMOR_OPT_SEEN(s_opts_t, has_peer), .want = "a peer id"},
    {RUMOR_OPT_U32("--samples", s_opts_t, samples, "N", 1, UINT32_MAX,
                   "evaluate only the first N test samples (default: all)")},
    {RUMOR_OPT_FLAG("--json", s_opts_t, json, "print one JSON object instead of text")},
};

static const rumor_opt_cmd_t s_cmd = {
    .prog = "rumor eval",
    .usage = "rumor eval SCENARIO.json MODEL_FILE [OPTIONS]",
    .about = "Evaluates one trained model on the scenario's test set and prints its test loss,\n"
             "accuracy, density (fraction of nonzero parameters) and per-class accuracy.\n"
             "The scenario gives the model shape and the data. MODEL_FILE is recognised by\n"
             "its content, not its name:\n"
             "  - a checkpoint written by `rumor peer --checkpoint DIR` (safetensors; only the\n"
             "    model tensors are read), or by `rumor sim --checkpoint DIR` (DIR/a/node<K>\n"
             "    or DIR/b/node<K>.safetensors: the slot DIR/sim.json names is the latest)\n"
             "  - a raw float32 model of exactly d values (`rumor peer --model-out FILE`)\n"
             "  - with --peer K: a `rumor sim --models FILE` file (n_peers x d values)",
    .after = "Exit status: 0 success, 1 unreadable or mismatched input, 2 usage error.\n\n"
             "example:\n"
             "  rumor sim sims/fashion-ring16-malcom.json --models models.bin\n"
             "  rumor eval sims/fashion-ring16-malcom.json models.bin --peer 3",
    .opts = s_opts,
    .n_opts = sizeof s_opts / sizeof s_opts[0],
    .args = "SCENARIO.json MODEL_FILE",
    .min_args = 2,
    .max_args = 2,
};

typedef enum { S_CHECKPOINT, S_RAW, S_SIM_MODELS } s_source_t;

static const char *const s_source_names[] = {"checkpoint", "raw", "sim-models"};

/* Everything about the model file that the report shows. */
typedef struct {
    s_source_t source;
    rumor_checkpoint_info_t ckpt; /* S_CHECKPOINT */
    uint32_t peers;               /* S_SIM_MODELS: peers in the file */
} s_loaded_t;

/* Reads the only model of a raw float32 file of size bytes, or with has_peer, model `peer`
 * of a `rumor sim --models` file of `peers` models. */
static int s_load_raw(const char *path, FILE *f, uint64_t size, const rumor_model_spec_t *spec,
                      size_t d, int has_peer, uint32_t peer, uint32_t peers, float *x,
                      s_loaded_t *out, rumor_errmsg_t *em)
{
    const uint64_t one = (uint64_t)d * sizeof(float);
    char model[128], desc[200];
    rumor_model_spec_describe(spec, model, sizeof model);
    snprintf(desc, sizeof desc, "model (%s) has d = %zu parameters, %" PRIu64 " bytes as float32",
             model, d, one);
    if (size == 0) return rumor_errmsg_set(em, RUMOR_ETRUNC, "%s: the file is empty", path);
    uint64_t at = 0;
    if (!has_peer) {
        if (size != one && size % one == 0)
            return rumor_errmsg_set(em, RUMOR_EMISMATCH,
                                    "%s: holds %" PRIu64 " models (a `rumor sim --models` file?); "
                                    "choose one with --peer K",
                                    path, size / one);
        if (size != one)
            return rumor_errmsg_set(em, RUMOR_EMISMATCH,
                                    "%s: neither a safetensors checkpoint nor a raw float32 model "
                                    "of the right size: %" PRIu64 " bytes, but the %s",
                                    path, size, desc);
        out->source = S_RAW;
    } else {
        if (size != (uint64_t)peers * one)
            return rumor_errmsg_set(em, RUMOR_EMISMATCH,
                                    "%s: %" PRIu64 " bytes, but a `rumor sim --models` file of "
                                    "this scenario holds %u peers x %zu floats = %" PRIu64
                                    " bytes (the %s)",
                                    path, size, peers, d, (uint64_t)peers * one, desc);
        out->source = S_SIM_MODELS;
        out->peers = peers;
        at = (uint64_t)peer * one;
    }
    if (fseeko(f, (off_t)at, SEEK_SET) != 0 || fread(x, sizeof(float), d, f) != d)
        return rumor_errmsg_set(em, RUMOR_EIO, "%s: read failed", path);
    return 0;
}

/* Fills x (d floats) from path, whichever kind of model file it is. */
static int s_load(const char *path, const rumor_model_t *m, int has_peer, uint32_t peer,
                  uint32_t peers, float *x, s_loaded_t *out, rumor_errmsg_t *em)
{
    const size_t d = rumor_model_nparams(m);
    FILE *f = fopen(path, "rb");
    if (!f) return rumor_errmsg_set(em, RUMOR_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    uint8_t head[9];
    size_t got = 0;
    int rc = 0;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = rumor_errmsg_set(em, RUMOR_EIO, "%s: not a regular file", path);
        goto done;
    }
    got = fread(head, 1, sizeof head, f);
    if (rumor_checkpoint_sniff(head, got, (uint64_t)st.st_size)) {
        fclose(f);
        f = NULL;
        out->source = S_CHECKPOINT;
        if ((rc = rumor_checkpoint_load_model(path, m, x, &out->ckpt, em))) goto done;
        if (has_peer && out->ckpt.node != peer)
            rc = rumor_errmsg_set(em, RUMOR_EMISMATCH,
                                  "%s: checkpoint of node %u, but --peer %u was asked for", path,
                                  out->ckpt.node, peer);
        goto done;
    }
    rc = s_load_raw(path, f, (uint64_t)st.st_size, rumor_model_spec(m), d, has_peer, peer, peers, x,
                    out, em);
done:
    if (f) fclose(f);
    if (rc) return rc;
    /* A checkpoint's tensors were checked as they were read. */
    return out->source == S_CHECKPOINT ? 0
                                       : rumor_checkpoint_check_finite(path, "parameter", x, d, em);
}

typedef struct {
    uint32_t samples, classes;
    double loss, acc, density;
    size_t nonzero, d;
    uint32_t *class_n; /* (classes) test samples of each class */
    double *class_acc; /* (classes) accuracy on them (0 when there are none) */
} s_report_t;

/* Overall metrics on the first r->samples test rows, then per class on a copy of those rows
 * grouped by label. */
static int s_evaluate(rumor_model_t *m, const float *x, const rumor_dataset_t *test, s_report_t *r)
{
    const uint32_t n = r->samples, dim = test->dim, C = r->classes;
    rumor_model_evaluate(m, x, test->x, test->y, n, &r->loss, &r->acc);
    r->nonzero = rumor_vec_count_nonzero(x, r->d);
    r->density = (double)r->nonzero / (double)r->d;

    uint32_t *start = calloc((size_t)C + 1, sizeof *start);
    float *xs = malloc((size_t)n * dim * sizeof *xs);
    int32_t *ys = malloc((size_t)n * sizeof *ys);
    if (!start || !xs || !ys) {
        free(start);
        free(xs);
        free(ys);
        return RUMOR_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) r->class_n[test->y[i]]++;
    for (uint32_t c = 0; c < C; c++) start[c + 1] = start[c] + r->class_n[c];
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t at = start[test->y[i]]++;
        memcpy(xs + (size_t)at * dim, test->x + (size_t)i * dim, dim * sizeof *xs);
        ys[at] = test->y[i];
    }
    for (uint32_t c = 0, at = 0; c < C; at += r->class_n[c], c++) {
        r->class_acc[c] = 0.0;
        if (r->class_n[c])
            rumor_model_evaluate(m, x, xs + (size_t)at * dim, ys + at, r->class_n[c], NULL,
                                 &r->class_acc[c]);
    }
    free(start);
    free(xs);
    free(ys);
    return 0;
}

static json_t *s_real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* Prints the report as one JSON line; 0, or 1 with a message when it could not be made whole. */
static int s_print_json(const char *path, const char *model, const s_loaded_t *ld, int has_peer,
                        uint32_t peer, const s_report_t *r)
{
    json_t *o = json_object();
    int bad = !o;
    bad |= json_object_set_new(o, "file", json_string(path));
    bad |= json_object_set_new(o, "format", json_string(s_source_names[ld->source]));
    if (ld->source == S_CHECKPOINT) {
        bad |= json_object_set_new(o, "node", json_integer(ld->ckpt.node));
        bad |= json_object_set_new(o, "round", json_integer(ld->ckpt.round));
    } else if (has_peer) {
        bad |= json_object_set_new(o, "peer", json_integer(peer));
    }
    bad |= json_object_set_new(o, "model", json_string(model));
    bad |= json_object_set_new(o, "params", json_integer((json_int_t)r->d));
    bad |= json_object_set_new(o, "samples", json_integer(r->samples));
    bad |= json_object_set_new(o, "test_loss", s_real(r->loss));
    bad |= json_object_set_new(o, "accuracy", s_real(r->acc));
    bad |= json_object_set_new(o, "density", s_real(r->density));
    bad |= json_object_set_new(o, "nonzero", json_integer((json_int_t)r->nonzero));
    json_t *pc = json_array();
    for (uint32_t c = 0; c < r->classes && pc; c++)
        bad |= json_array_append_new(
            pc, json_pack("{s:i, s:i, s:o}", "class", (int)c, "samples", (int)r->class_n[c],
                          "accuracy", r->class_n[c] ? s_real(r->class_acc[c]) : json_null()));
    bad |= json_object_set_new(o, "per_class", pc);
    char *s = NULL;
    size_t len = 0;
    if (!bad)
        bad = rumor_file_json(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10),
                              "stdout", &s, &len, NULL);
    json_decref(o);
    if (bad)
        fprintf(stderr, "rumor eval: out of memory\n");
    else
        printf("%s\n", s);
    free(s);
    return bad ? 1 : 0;
}

static void s_print_text(const char *path, const char *model, const s_loaded_t *ld, uint32_t peer,
                         const rumor_scenario_t *sc, const s_report_t *r)
{
    printf("model     %s", path);
    if (ld->source == S_CHECKPOINT)
        printf(" (checkpoint of node %u after round %u)\n", ld->ckpt.node, ld->ckpt.round);
    else if (ld->source == S_SIM_MODELS)
        printf(" (peer %u of %u)\n", peer, ld->peers);
    else
        printf(" (raw float32)\n");
    printf("          %s, d = %zu\n", model, r->d);
    printf("test set  %u samples of scenario '%s'\n", r->samples, sc->name);
    printf("loss      %.6f\n", r->loss);
    printf("accuracy  %.6f\n", r->acc);
    printf("density   %.6f (%zu of %zu parameters nonzero)\n\n", r->density, r->nonzero, r->d);
    printf("class  samples  accuracy\n");
    for (uint32_t c = 0; c < r->classes; c++) {
        if (r->class_n[c])
            printf("%5u  %7u  %8.4f\n", c, r->class_n[c], r->class_acc[c]);
        else
            printf("%5u  %7u  %8s\n", c, 0u, "-");
    }
}

int rumor_cmd_eval(int argc, char **argv)
{
    s_opts_t o = {0};
    const char *pos[2];
    int n_pos;
    const int parsed = rumor_opt_parse(&s_cmd, argc, argv, &o, pos, &n_pos);
    if (parsed) return rumor_opt_exit(parsed);
    const char *scenario = pos[0], *path = pos[1];
    const uint32_t peer = o.peer, samples = o.samples;
    const int has_peer = o.has_peer, as_json = o.json;

    rumor_errmsg_t em = {""};
    rumor_scenario_t sc;
    if (rumor_scenario_load(scenario, &sc, &em)) {
        fprintf(stderr, "rumor eval: %s\n", em.msg);
        return 1;
    }
    /* Only the test set and the training set's shape are used. */
    rumor_peer_data_t data;
    if (rumor_peer_data_load(&sc, 1, RUMOR_PEER_NONE, &data, &em)) {
        fprintf(stderr, "rumor eval: %s\n", em.msg);
        return 1;
    }
    int status = 1;
    rumor_model_t *m = NULL;
    float *x = NULL;
    s_report_t r = {0};
    rumor_model_spec_t spec;
    if (rumor_model_spec_parse(sc.model, data.train.dim, data.train.classes, &spec, &em)) {
        fprintf(stderr, "rumor eval: %s: model: %s\n", scenario, em.msg);
        goto done;
    }
    if (data.test.n == 0) {
        fprintf(stderr, "rumor eval: %s: the test set is empty\n", scenario);
        goto done;
    }
    for (uint32_t i = 0; i < data.test.n; i++)
        if (data.test.y[i] < 0 || (uint32_t)data.test.y[i] >= spec.out) {
            fprintf(stderr,
                    "rumor eval: %s: test sample %u has label %d, outside the model's %u "
                    "classes\n",
                    scenario, i, (int)data.test.y[i], spec.out);
            goto done;
        }
    /* The peers' evaluation chunk, so results match theirs exactly. */
    const int mrc = rumor_model_create(&spec, rumor_peer_eval_chunk(&sc, RUMOR_PEER_EVAL_ROWS), &m);
    if (mrc) {
        fprintf(stderr, "rumor eval: model %s: %s\n", sc.model, rumor_strerror(mrc));
        goto done;
    }
    r.d = rumor_model_nparams(m);
    r.classes = spec.out;
    r.samples = samples && samples < data.test.n ? samples : data.test.n;
    x = malloc(r.d * sizeof *x);
    r.class_n = calloc(r.classes, sizeof *r.class_n);
    r.class_acc = calloc(r.classes, sizeof *r.class_acc);
    if (!x || !r.class_n || !r.class_acc) {
        fprintf(stderr, "rumor eval: out of memory\n");
        goto done;
    }
    uint32_t peers = 0;
    if (has_peer) {
        rumor_topology_t *topo = NULL;
        if (rumor_scenario_topology(&sc, &topo, &em)) {
            fprintf(stderr, "rumor eval: %s\n", em.msg);
            goto done;
        }
        peers = topo->n;
        rumor_topology_destroy(&topo);
        if (peer >= peers) {
            fprintf(stderr,
                    "rumor eval: --peer %u: the scenario's topology has %u peers (0 to %u)\n", peer,
                    peers, peers - 1);
            status = 2;
            goto done;
        }
    }
    s_loaded_t ld = {0};
    const int rc = s_load(path, m, has_peer, peer, peers, x, &ld, &em);
    if (rc) {
        fprintf(stderr, "rumor eval: %s\n", em.msg[0] ? em.msg : rumor_strerror(rc));
        goto done;
    }
    if (s_evaluate(m, x, &data.test, &r)) {
        fprintf(stderr, "rumor eval: out of memory\n");
        goto done;
    }
    char model[128];
    rumor_model_spec_describe(&spec, model, sizeof model);
    if (as_json && s_print_json(path, model, &ld, has_peer, peer, &r)) goto done;
    if (!as_json) s_print_text(path, model, &ld, peer, &sc, &r);
    status = fflush(stdout) == 0 ? 0 : 1;
done:
    free(r.class_n);
    free(r.class_acc);
    free(x);
    rumor_model_destroy(&m);
    rumor_peer_data_free(&data);
    return status;
}
