/* rumor — run configuration (see scenario.h). */
#include "rumor/scenario.h"
#include "rumor/codec.h"
#include "rumor/compress.h"
#include "rumor/data.h"
#include "rumor/file.h"
#include "rumor/model.h"

#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Fills s with the defaults (Fashion-MNIST, ring of 16, softmax, Malcom-PSGD). */
static void s_defaults(rumor_scenario_t *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "unnamed");
    s->topo_gen.kind = RUMOR_TOPOLOGY_RING;
    s->topo_gen.n = 16;
    s->topo_gen.seed = 1;
    s->data = RUMOR_DATA_FASHION;
    snprintf(s->data_path, sizeof s->data_path, "%s", RUMOR_FASHION_MNIST_DIR);
    s->synth_n = 8000;
    s->synth_test_n = 2000;
    s->synth_dim = 20;
    s->synth_classes = 4;
    s->synth_sep = 3.0;
    s->redundancy = 1;
    snprintf(s->model, sizeof s->model, "softmax");
    s->algo = RUMOR_ALGO_MALCOM;
    s->lr = 0.05;
    s->gamma = 0.1;
    s->lambda = 0.0;
    s->batch = 32;
    s->rounds = 2000;
    s->local_steps = 1;
    s->participation = 1.0;
    snprintf(s->schedule, sizeof s->schedule, "constant");
    snprintf(s->compressor, sizeof s->compressor, "dither:8:biased");
    snprintf(s->codec, sizeof s->codec, "auto");
    s->seed = 1;
    s->eval_every = 100;
    s->deadline_ms = 1000;
}

/* A parsing context: the origin and the dotted path of the object being read. */
typedef struct {
    const char *origin;
    const char *path; /* "" at top level, "algorithm." inside */
    rumor_errmsg_t *em;
} s_ctx_t;

static int s_fail(const s_ctx_t *c, const char *key, const char *what)
{
    return rumor_errmsg_set(c->em, RUMOR_EINVAL, "%s: %s%s: %s", c->origin, c->path, key, what);
}

static int s_check_keys(const s_ctx_t *c, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++) ok |= !strcmp(*a, key);
        if (!ok) return s_fail(c, key, "unknown key");
    }
    return 0;
}

static int s_str(const s_ctx_t *c, json_t *obj, const char *key, char *dst, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (!json_is_string(v)) return s_fail(c, key, "expected a string");
    if (json_string_length(v) >= cap || json_string_length(v) == 0)
        return s_fail(c, key, "string is empty or too long");
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* Reads a number within [lo, hi] (integers when is_int). */
static int s_num(const s_ctx_t *c, json_t *obj, const char *key, double lo, double hi, int is_int,
                 double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (!json_is_number(v)) return s_fail(c, key, "expected a number");
    const double x = json_number_value(v);
    char what[128];
    if (is_int && (!json_is_integer(v) || x < lo || x > hi)) {
        snprintf(what, sizeof what, "expected an integer in [%.0f, %.0f]", lo, hi);
        return s_fail(c, key, what);
    }
    if (!(x >= lo && x <= hi)) {
        snprintf(what, sizeof what, "expected a number in [%g, %g]", lo, hi);
        return s_fail(c, key, what);
    }
    *out = x;
    return 0;
}

static int s_u32(const s_ctx_t *c, json_t *obj, const char *key, uint32_t lo, uint32_t hi,
                 uint32_t *out)
{
    double x = *out;
    const int rc = s_num(c, obj, key, lo, hi, 1, &x);
    *out = (uint32_t)x;
    return rc;
}

/* Reads a string that must be one of names[0..n-1] into *out (its index). */
static int s_choice(const s_ctx_t *c, json_t *obj, const char *key, const char *const *names, int n,
                    int *out)
{
    char str[32] = "";
    int rc = s_str(c, obj, key, str, sizeof str);
    if (rc || !str[0]) return rc;
    for (int i = 0; i < n; i++) {
        if (!strcmp(str, names[i])) {
            *out = i;
            return 0;
        }
    }
    char what[256] = "expected ";
    for (int i = 0; i < n; i++) {
        const size_t at = strlen(what);
        snprintf(what + at, sizeof what - at, "%s%s",
                 i == 0      ? ""
                 : i + 1 < n ? ", "
                             : " or ",
                 names[i]);
    }
    return s_fail(c, key, what);
}

static int s_path(const s_ctx_t *c, json_t *obj, const char *key, const char *base_dir, char *dst,
                  size_t cap)
{
    char raw[RUMOR_PATH_MAX] = "";
    int rc = s_str(c, obj, key, raw, sizeof raw);
    if (rc || !raw[0]) return rc;
    int n;
    if (raw[0] == '/' || !base_dir || !base_dir[0])
        n = snprintf(dst, cap, "%s", raw);
    else
        n = snprintf(dst, cap, "%s/%s", base_dir, raw);
    return n < 0 || (size_t)n >= cap ? s_fail(c, key, "path too long") : 0;
}

static int s_parse_topology(const s_ctx_t *c0, json_t *v, const char *base_dir, rumor_scenario_t *s)
{
    if (json_is_string(v)) {
        json_t *wrap = json_pack("{s:O}", "topology", v);
        const int rc =
            s_path(c0, wrap, "topology", base_dir, s->topology_file, sizeof s->topology_file);
        json_decref(wrap);
        return rc;
    }
    if (!json_is_object(v)) return s_fail(c0, "topology", "expected a file name or an object");
    const s_ctx_t c = {c0->origin, "topology.", c0->em};
    static const char *const keys[] = {"generate", "n",    "rows",      "p",
                                       "k",        "seed", "port_base", NULL};
    int rc = s_check_keys(&c, v, keys);
    if (rc) return rc;
    if (!json_object_get(v, "generate")) return s_fail(&c, "generate", "missing");
    char kind[16];
    rumor_errmsg_t why = {""};
    if ((rc = s_str(&c, v, "generate", kind, sizeof kind))) return rc;
    if (rumor_topology_kind_parse(kind, &s->topo_gen.kind, &why))
        return s_fail(&c, "generate", why.msg);
    double x = s->topo_gen.p;
    if ((rc = s_u32(&c, v, "n", 2, RUMOR_TOPOLOGY_MAX_NODES, &s->topo_gen.n)) ||
        (rc = s_u32(&c, v, "rows", 0, RUMOR_TOPOLOGY_MAX_NODES, &s->topo_gen.rows)) ||
        (rc = s_num(&c, v, "p", 0.0, 1.0, 0, &x)) ||
        (rc = s_u32(&c, v, "k", 0, RUMOR_TOPOLOGY_MAX_NODES, &s->topo_gen.k)) ||
        (rc = s_u32(&c, v, "port_base", 0, 65000, &s->topo_gen.port_base)))
        return rc;
    s->topo_gen.p = x;
    double seed = (double)s->topo_gen.seed;
    if ((rc = s_num(&c, v, "seed", 0, 9007199254740991.0, 1, &seed))) return rc;
    s->topo_gen.seed = (uint64_t)seed;
    s->topology_file[0] = '\0';
    return 0;
}

static int s_parse_data(const s_ctx_t *c0, json_t *v, const char *base_dir, rumor_scenario_t *s)
{
    if (!json_is_object(v)) return s_fail(c0, "data", "expected an object");
    const s_ctx_t c = {c0->origin, "data.", c0->em};
    static const char *const keys[] = {"name", "path",       "test_path",   "partition",
                                       "n",    "test_n",     "dim",         "classes",
                                       "sep",  "redundancy", "coded_scale", NULL};
    int rc = s_check_keys(&c, v, keys);
    if (rc) return rc;
    char name[32] = "fashion-mnist";
    if ((rc = s_str(&c, v, "name", name, sizeof name))) return rc;
    if (!strcmp(name, "fashion-mnist"))
        s->data = RUMOR_DATA_FASHION;
    else if (!strcmp(name, "libsvm"))
        s->data = RUMOR_DATA_LIBSVM;
    else if (!strcmp(name, "synthetic"))
        s->data = RUMOR_DATA_SYNTHETIC;
    else
        return s_fail(&c, "name", "expected fashion-mnist, libsvm or synthetic");
    if ((rc = s_path(&c, v, "path", base_dir, s->data_path, sizeof s->data_path)) ||
        (rc = s_path(&c, v, "test_path", base_dir, s->test_path, sizeof s->test_path)))
        return rc;
    if (s->data == RUMOR_DATA_LIBSVM && (!json_object_get(v, "path") || !s->test_path[0]))
        return s_fail(&c, "path", "libsvm data needs both path and test_path");
    char part[64] = "iid";
    if ((rc = s_str(&c, v, "partition", part, sizeof part))) return rc;
    if (!strcmp(part, "iid")) {
        s->dirichlet_alpha = 0.0;
    } else if (!strncmp(part, "dirichlet:", 10)) {
        char *end;
        s->dirichlet_alpha = strtod(part + 10, &end);
        if (end == part + 10 || *end || !(s->dirichlet_alpha > 0.0) ||
            !isfinite(s->dirichlet_alpha))
            return s_fail(&c, "partition", "expected iid or dirichlet:ALPHA with ALPHA > 0");
    } else {
        return s_fail(&c, "partition", "expected iid or dirichlet:ALPHA");
    }
    double sep = s->synth_sep;
    if ((rc = s_u32(&c, v, "n", 1, 100000000, &s->synth_n)) ||
        (rc = s_u32(&c, v, "test_n", 1, 100000000, &s->synth_test_n)) ||
        (rc = s_u32(&c, v, "dim", 1, 10000000, &s->synth_dim)) ||
        (rc = s_u32(&c, v, "classes", 2, 100000, &s->synth_classes)) ||
        (rc = s_num(&c, v, "sep", 0.0, 1e6, 0, &sep)) ||
        (rc = s_u32(&c, v, "redundancy", 1, 64, &s->redundancy)))
        return rc;
    s->synth_sep = sep;
    char scale[16] = "unbiased";
    if ((rc = s_str(&c, v, "coded_scale", scale, sizeof scale))) return rc;
    if (strcmp(scale, "unbiased") && strcmp(scale, "none"))
        return s_fail(&c, "coded_scale", "expected unbiased or none");
    s->coded_unscaled = !strcmp(scale, "none");
    return 0;
}

static int s_parse_algorithm(const s_ctx_t *c0, json_t *v, rumor_scenario_t *s)
{
    if (!json_is_object(v)) return s_fail(c0, "algorithm", "expected an object");
    const s_ctx_t c = {c0->origin, "algorithm.", c0->em};
    static const char *const keys[] = {
        "name",          "lr",       "gamma",          "lambda",      "prox",
        "prox_lr",       "batch",    "rounds",         "local_steps", "warmup",
        "schedule",      "momentum", "gamma_schedule", "sync_p",      "tracking_grad",
        "participation", "robust",   "track",          NULL};
    static const char *const prox[] = {"after-mix", "before-compress"};
    static const char *const prox_lr[] = {"schedule", "base"};
    static const char *const gamma_schedule[] = {"constant", "lr"};
    static const char *const tracking_grad[] = {"fresh", "same-batch"};
    static const char *const track[] = {"all", "last"};
    int rc = s_check_keys(&c, v, keys);
    if (rc) return rc;
    char name[16] = "", momentum[32] = "", robust[40] = "";
    int at = (int)s->prox;
    if ((rc = s_str(&c, v, "name", name, sizeof name))) return rc;
    if (name[0] && rumor_algo_parse(name, &s->algo) != 0)
        return s_fail(&c, "name", "expected dpsgd, choco, malcom, dcd, deepsqueeze or beer");
    /* lr 0 takes no step: pure gossip of the initial models */
    if ((rc = s_num(&c, v, "lr", 0.0, 1e6, 0, &s->lr)) ||
        (rc = s_num(&c, v, "gamma", 1e-12, 10.0, 0, &s->gamma)) ||
        (rc = s_num(&c, v, "lambda", 0.0, 1e6, 0, &s->lambda)) ||
        (rc = s_choice(&c, v, "prox", prox, 2, &at)) ||
        (rc = s_choice(&c, v, "prox_lr", prox_lr, 2, &s->prox_lr_base)) ||
        (rc = s_choice(&c, v, "gamma_schedule", gamma_schedule, 2, &s->gamma_follows_lr)) ||
        (rc = s_num(&c, v, "sync_p", 0.0, 1.0, 0, &s->sync_p)) ||
        (rc = s_choice(&c, v, "tracking_grad", tracking_grad, 2, &s->same_batch)) ||
        (rc = s_choice(&c, v, "track", track, 2, &s->track_last)) ||
        (rc = s_num(&c, v, "participation", 1e-6, 1.0, 0, &s->participation)) ||
        (rc = s_u32(&c, v, "batch", 1, 65536, &s->batch)) ||
        (rc = s_u32(&c, v, "rounds", 1, 100000000, &s->rounds)) ||
        (rc = s_u32(&c, v, "local_steps", 1, 1000, &s->local_steps)) ||
        (rc = s_u32(&c, v, "warmup", 0, 100000000, &s->warmup)) ||
        (rc = s_str(&c, v, "schedule", s->schedule, sizeof s->schedule)) ||
        (rc = s_str(&c, v, "momentum", momentum, sizeof momentum)) ||
        (rc = s_str(&c, v, "robust", robust, sizeof robust)))
        return rc;
    if (robust[0] && rumor_robust_parse(robust, &s->robust))
        return s_fail(&c, "robust",
                      "expected none, clip:TAU (TAU > 0), clip:auto[:B[:R[:M]]][+shift][+origin] "
                      "(B >= 1, R > 1, M >= 1) or trim:F");
    s->prox = (rumor_prox_at_t)at;
    if (s->robust.kind != RUMOR_ROBUST_NONE &&
        (s->algo == RUMOR_ALGO_BEER || s->participation < 1.0))
        return s_fail(&c, "robust",
                      "applies to dpsgd, choco, malcom, dcd and deepsqueeze, with participation 1");
    if (s->sync_p > 0.0 && s->algo != RUMOR_ALGO_CHOCO && s->algo != RUMOR_ALGO_MALCOM &&
        s->algo != RUMOR_ALGO_BEER)
        return s_fail(&c, "sync_p", "applies to choco, malcom and beer only");
    if (s->participation < 1.0 && s->algo != RUMOR_ALGO_CHOCO && s->algo != RUMOR_ALGO_MALCOM &&
        s->algo != RUMOR_ALGO_BEER)
        return s_fail(&c, "participation", "applies to choco, malcom and beer only");
    if (s->same_batch && s->local_steps != 1)
        return s_fail(&c, "local_steps",
                      "beer with tracking_grad same-batch takes one step a round");
    if (s->same_batch && s->algo != RUMOR_ALGO_BEER)
        return s_fail(&c, "tracking_grad", "applies to beer only");
    if (s->track_last && s->algo != RUMOR_ALGO_BEER)
        return s_fail(&c, "track", "applies to beer only");
    if (s->gamma_follows_lr && !(s->lr > 0.0))
        return s_fail(&c, "gamma_schedule",
                      "\"lr\" scales gamma by the schedule's lr / lr: lr must be > 0");
    if (rumor_momentum_parse(momentum, &s->momentum, NULL))
        return s_fail(&c, "momentum",
                      "expected none, heavy-ball:BETA, nesterov:BETA or quasi-global:BETA[:MU], "
                      "0 <= BETA < 1, 0 < MU <= 1");
    return 0;
}

static int s_parse_round_mode(const s_ctx_t *c, json_t *v, rumor_scenario_t *s)
{
    if (json_is_string(v) && !strcmp(json_string_value(v), "sync")) {
        s->deadline = 0;
        return 0;
    }
    if (json_is_object(v)) {
        const s_ctx_t cc = {c->origin, "round_mode.", c->em};
        static const char *const keys[] = {"deadline_ms", "compute_ms", NULL};
        int rc = s_check_keys(&cc, v, keys);
        if (rc) return rc;
        if (!json_object_get(v, "deadline_ms")) return s_fail(&cc, "deadline_ms", "missing");
        if ((rc = s_u32(&cc, v, "deadline_ms", 1, 3600000, &s->deadline_ms))) return rc;
        if ((rc = s_num(&cc, v, "compute_ms", 0.0, 3600000.0, 0, &s->compute_ms))) return rc;
        s->deadline = 1;
        return 0;
    }
    return s_fail(c, "round_mode",
                  "expected \"sync\" or {\"deadline_ms\": N[, \"compute_ms\": C]}");
}

/* The "nodes" array of a fault entry into f->nodes. */
static int s_parse_nodes(const s_ctx_t *c, json_t *e, rumor_fault_t *f)
{
    json_t *nodes = json_object_get(e, "nodes");
    const size_t n = json_array_size(nodes);
    if (!json_is_array(nodes) || n == 0 || n > RUMOR_FAULT_NODES) {
        char what[80];
        snprintf(what, sizeof what, "expected an array of 1 to %d node ids", RUMOR_FAULT_NODES);
        return s_fail(c, "nodes", what);
    }
    for (size_t j = 0; j < n; j++) {
        json_t *id = json_array_get(nodes, j);
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > 99999)
            return s_fail(c, "nodes", "expected node ids, whole numbers in [0, 99999]");
        f->nodes[j] = (uint32_t)json_integer_value(id);
    }
    f->n_nodes = (uint32_t)n;
    return 0;
}

/* {"byzantine": KIND, "nodes": [...], "from": A, PARAM: X} into f. */
static int s_parse_byzantine(const s_ctx_t *c, json_t *e, rumor_fault_t *f)
{
    static const char *const keys[] = {"byzantine", "nodes", "from",   "s", "norm",
                                       "value",     "z",     "factor", NULL};
    int rc = s_check_keys(c, e, keys);
    if (rc) return rc;
    json_t *kind = json_object_get(e, "byzantine");
    const char *name = json_is_string(kind) ? json_string_value(kind) : ":";
    f->kind = RUMOR_FAULT_BYZANTINE;
    if (strchr(name, ':') || rumor_byzantine_parse(name, &f->byz)) /* a kind, without :PARAM */
        return s_fail(c, "byzantine", "expected none, signflip, noise, constant, alie or scale");
    const rumor_byz_kind_t k = f->byz.kind;
    const char *own = rumor_byzantine_param_key(k);
    for (int j = 1; j < RUMOR_BYZ_KINDS; j++) {
        const char *key = rumor_byzantine_param_key((rumor_byz_kind_t)j);
        if (j == (int)k || !json_object_get(e, key)) continue;
        char what[96];
        snprintf(what, sizeof what, "not a parameter of %s%s%s", rumor_byzantine_name(k),
                 own ? " (it takes " : "", own ? own : "");
        if (own) strncat(what, ")", sizeof what - strlen(what) - 1);
        return s_fail(c, key, what);
    }
    if (own && (rc = s_num(c, e, own, -1e30, 1e30, 0, &f->byz.param))) return rc;
    if ((rc = s_u32(c, e, "from", 0, 100000000, &f->from))) return rc;
    f->byz.from = f->from;
    return s_parse_nodes(c, e, f);
}

/* {"straggle": P, "rounds": [A, B], "late": K, "nodes": [...]} into f, but for the rounds. */
static int s_parse_straggle(const s_ctx_t *c, json_t *e, rumor_fault_t *f)
{
    static const char *const keys[] = {"straggle", "rounds", "late", "nodes", NULL};
    int rc = s_check_keys(c, e, keys);
    if (rc) return rc;
    f->kind = RUMOR_FAULT_STRAGGLE;
    double late = 0;
    if ((rc = s_num(c, e, "straggle", 0.0, 1.0, 0, &f->drop)) ||
        (rc = s_num(c, e, "late", -1, 100000000, 1, &late)))
        return rc;
    f->late = (int32_t)late;
    return json_object_get(e, "nodes") ? s_parse_nodes(c, e, f) : 0;
}

/* {"slow": MS, "nodes": [...], "rounds": [A, B]} into f, but for the rounds. */
static int s_parse_slow(const s_ctx_t *c, json_t *e, rumor_fault_t *f)
{
    static const char *const keys[] = {"slow", "nodes", "rounds", NULL};
    int rc = s_check_keys(c, e, keys);
    if (rc) return rc;
    f->kind = RUMOR_FAULT_SLOW;
    if ((rc = s_num(c, e, "slow", 0.0, 3600000.0, 0, &f->slow_ms))) return rc;
    return s_parse_nodes(c, e, f);
}

static int s_parse_faults(const s_ctx_t *c, json_t *v, rumor_scenario_t *s)
{
    if (!json_is_array(v)) return s_fail(c, "faults", "expected an array");
    if (json_array_size(v) > RUMOR_SCENARIO_FAULTS) {
        char what[64];
        snprintf(what, sizeof what, "at most %d entries", RUMOR_SCENARIO_FAULTS);
        return s_fail(c, "faults", what);
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char path[32], at[32];
        snprintf(path, sizeof path, "faults[%zu].", i);
        snprintf(at, sizeof at, "faults[%zu]", i);
        if (!json_is_object(e)) return s_fail(c, at, "expected an object");
        const s_ctx_t cc = {c->origin, path, c->em};
        rumor_fault_t *f = &s->faults[i];
        *f = (rumor_fault_t){.kind = RUMOR_FAULT_DOWN, .to = 100000000};
        const char *span = "down";
        int rc;
        if (json_object_get(e, "byzantine")) {
            if ((rc = s_parse_byzantine(&cc, e, f))) return rc;
            continue;
        } else if (json_object_get(e, "straggle")) {
            if ((rc = s_parse_straggle(&cc, e, f))) return rc;
            span = "rounds";
        } else if (json_object_get(e, "slow")) {
            if ((rc = s_parse_slow(&cc, e, f))) return rc;
            span = "rounds";
        } else if (json_object_get(e, "drop")) {
            static const char *const keys[] = {"drop", "rounds", NULL};
            if ((rc = s_check_keys(&cc, e, keys))) return rc;
            f->kind = RUMOR_FAULT_DROP;
            if ((rc = s_num(&cc, e, "drop", 0.0, 1.0, 0, &f->drop))) return rc;
            span = "rounds";
        } else if (json_object_get(e, "delay") || json_object_get(e, "delay_ms")) {
            static const char *const keys[] = {"delay", "p", "rounds", NULL};
            static const char *const ms_keys[] = {"delay_ms", "rounds", NULL};
            const int ms = json_object_get(e, "delay_ms") != NULL;
            if ((rc = s_check_keys(&cc, e, ms ? ms_keys : keys))) return rc;
            f->kind = RUMOR_FAULT_DELAY;
            f->drop = 1.0;
            if (ms) {
                json_t *r = json_object_get(e, "delay_ms");
                json_t *lo = json_array_get(r, 0), *hi = json_array_get(r, 1);
                if (json_array_size(r) != 2 || !json_is_number(lo) || !json_is_number(hi) ||
                    !(json_number_value(lo) >= 0) ||
                    !(json_number_value(hi) >= json_number_value(lo)) ||
                    !(json_number_value(hi) <= 3600000))
                    return s_fail(&cc, "delay_ms", "expected [LO, HI], 0 <= LO <= HI <= 3600000");
                f->delay_lo = json_number_value(lo);
                f->delay_hi = json_number_value(hi);
            } else if ((rc = s_u32(&cc, e, "delay", 1, 100000000, &f->delay)) ||
                       (rc = s_num(&cc, e, "p", 0.0, 1.0, 0, &f->drop))) {
                return rc;
            }
            span = "rounds";
        } else {
            const int crash = json_object_get(e, "crash") != NULL;
            static const char *const down_keys[] = {"node", "down", NULL};
            static const char *const crash_keys[] = {"node", "crash", "checkpoint_every", NULL};
            if ((rc = s_check_keys(&cc, e, crash ? crash_keys : down_keys))) return rc;
            if (!json_object_get(e, "node"))
                return s_fail(&cc, "node",
                              "missing (an entry is {\"node\": N, \"down\": [FROM, TO]}, "
                              "{\"node\": N, \"crash\": [FROM, TO]}, {\"drop\": P}, "
                              "{\"straggle\": P}, {\"slow\": MS, \"nodes\": [N, ...]} or "
                              "{\"byzantine\": KIND, \"nodes\": [N, ...]})");
            if ((rc = s_u32(&cc, e, "node", 0, 99999, &f->node))) return rc;
            if (crash) {
                f->kind = RUMOR_FAULT_CRASH;
                f->every = RUMOR_CHECKPOINT_EVERY;
                if ((rc = s_u32(&cc, e, "checkpoint_every", 1, 100000000, &f->every))) return rc;
                span = "crash";
            }
        }
        json_t *r = json_object_get(e, span);
        if (!r && (f->kind == RUMOR_FAULT_DROP || f->kind == RUMOR_FAULT_DELAY ||
                   f->kind == RUMOR_FAULT_STRAGGLE || f->kind == RUMOR_FAULT_SLOW))
            continue;
        json_t *a = json_array_get(r, 0), *b = json_array_get(r, 1);
        if (json_array_size(r) != 2 || !json_is_integer(a) || !json_is_integer(b) ||
            json_integer_value(a) < 0 || json_integer_value(b) <= json_integer_value(a) ||
            json_integer_value(b) > 100000000)
            return s_fail(&cc, span,
                          "expected [FROM, TO]: the rounds FROM to TO - 1, "
                          "0 <= FROM < TO <= 100000000");
        f->from = (uint32_t)json_integer_value(a);
        f->to = (uint32_t)json_integer_value(b);
    }
    s->n_faults = (uint32_t)json_array_size(v);
    return 0;
}

/* ---- whole-scenario checks ------------------------------------------------------------------
 *
 * Run at load, after every key is read and before any data is, so that a bad value costs no
 * data loading and its message names the key and the value. One function per check, listed
 * in s_checks: a new key's check is one more entry. */

typedef int (*s_check_fn)(const s_ctx_t *c, json_t *root, const rumor_scenario_t *s);

/* Fails on key with the message of the parser that refused its value; one that begins with the
 * key's last part and the value ("schedule 'x': ...") is put after the key's path. */
static int s_fail_parser(const s_ctx_t *c, const char *key, const char *msg)
{
    const char *dot = strrchr(key, '.'), *leaf = dot ? dot + 1 : key;
    const size_t n = strlen(leaf);
    if (strncmp(msg, leaf, n) || strncmp(msg + n, " '", 2)) return s_fail(c, key, msg);
    return rumor_errmsg_set(c->em, RUMOR_EINVAL, "%s: %s%.*s%s", c->origin, c->path,
                            (int)(leaf - key), key, msg);
}

/* The model spec, with the data's sizes where the scenario gives them (LIBSVM's are known only
 * when its files are read: there the syntax is checked with a square input). */
static int s_check_model(const s_ctx_t *c, json_t *root, const rumor_scenario_t *s)
{
    (void)root;
    uint32_t in = 784, out = 10; /* Fashion-MNIST */
    if (s->data == RUMOR_DATA_SYNTHETIC) in = s->synth_dim, out = s->synth_classes;
    if (s->data == RUMOR_DATA_LIBSVM) in = 1024, out = 2;
    rumor_model_spec_t spec;
    rumor_errmsg_t why = {""};
    if (rumor_model_spec_parse(s->model, in, out, &spec, &why))
        return s_fail_parser(c, "model", why.msg);
    if (spec.kind == RUMOR_MODEL_EXTERNAL && s->algo == RUMOR_ALGO_BEER)
        return s_fail(c, "model",
                      "beer tracks gradients that rumor takes itself; an external model gossips "
                      "with dpsgd, choco, malcom, dcd or deepsqueeze");
    return 0;
}

static int s_check_compressor(const s_ctx_t *c, json_t *root, const rumor_scenario_t *s)
{
    rumor_compress_cfg_t cfg;
    rumor_errmsg_t why = {""};
    if (rumor_compress_parse(s->compressor, &cfg, &why))
        return s_fail_parser(c, "compressor", why.msg);
    /* D-PSGD sends its models uncompressed: a compressor it would ignore is refused. */
    if (s->algo == RUMOR_ALGO_DPSGD && json_object_get(root, "compressor") &&
        cfg.kind != RUMOR_COMPRESS_IDENTITY) {
        char what[160];
        snprintf(what, sizeof what,
                 "dpsgd sends its models uncompressed: leave compressor out or make it "
                 "identity, got '%s'",
                 s->compressor);
        return s_fail(c, "compressor", what);
    }
    return 0;
}

static int s_check_codec(const s_ctx_t *c, json_t *root, const rumor_scenario_t *s)
{
    (void)root;
    rumor_codec_mode_t mode;
    if (rumor_codec_parse_mode(s->codec, &mode) == 0) return 0;
    char what[96];
    snprintf(what, sizeof what, "expected auto, raw, vsc or arith, got '%s'", s->codec);
    return s_fail(c, "codec", what);
}

static int s_check_schedule(const s_ctx_t *c, json_t *root, const rumor_scenario_t *s)
{
    (void)root;
    rumor_schedule_t sched = {.lr = s->lr, .warmup = s->warmup};
    rumor_errmsg_t why = {""};
    if (rumor_schedule_parse(s->schedule, s->rounds, &sched, &why))
        return s_fail_parser(c, "algorithm.schedule", why.msg);
    return 0;
}

/* data.coded_scale none scales a coded step: R = 1 takes the plain one, never rescaled. */
static int s_check_coded_scale(const s_ctx_t *c, json_t *root, const rumor_scenario_t *s)
{
    (void)root;
    if (s->coded_unscaled && s->redundancy == 1)
        return s_fail(c, "data.coded_scale",
                      "none needs data.redundancy 2 or more (with 1 the step is never scaled)");
    return 0;
}

static const s_check_fn s_checks[] = {
    s_check_model, s_check_compressor, s_check_codec, s_check_schedule, s_check_coded_scale,
};

int rumor_scenario_parse(const char *json, const char *origin, const char *base_dir,
                         rumor_scenario_t *s, rumor_errmsg_t *em)
{
    s_defaults(s);
    snprintf(s->origin, sizeof s->origin, "%s", origin);
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s:%d:%d: %s", origin, jerr.line, jerr.column,
                                jerr.text);
    const s_ctx_t c = {origin, "", em};
    static const char *const keys[] = {
        "name", "topology",   "data",         "model",      "algorithm", "compressor", "codec",
        "seed", "eval_every", "eval_samples", "round_mode", "faults",    "target_acc", NULL};
    int rc = 0;
    json_t *v;
    if (!json_is_object(root)) {
        rc = rumor_errmsg_set(em, RUMOR_EINVAL, "%s: expected a JSON object", origin);
        goto done;
    }
    if ((rc = s_check_keys(&c, root, keys))) goto done;
    if ((rc = s_str(&c, root, "name", s->name, sizeof s->name))) goto done;
    if ((v = json_object_get(root, "topology")) && (rc = s_parse_topology(&c, v, base_dir, s)))
        goto done;
    if ((v = json_object_get(root, "data")) && (rc = s_parse_data(&c, v, base_dir, s))) goto done;
    if ((rc = s_str(&c, root, "model", s->model, sizeof s->model))) goto done;
    if ((v = json_object_get(root, "algorithm")) && (rc = s_parse_algorithm(&c, v, s))) goto done;
    if (s->redundancy > 1 && (s->algo == RUMOR_ALGO_BEER || s->redundancy > s->batch)) {
        rc = s_fail(&c, "data.redundancy",
                    s->algo == RUMOR_ALGO_BEER
                        ? "beer has no coded step (its tracker takes the plain gradient)"
                        : "more than algorithm.batch (each held shard gives batch / R rows)");
        goto done;
    }
    if ((rc = s_str(&c, root, "compressor", s->compressor, sizeof s->compressor)) ||
        (rc = s_str(&c, root, "codec", s->codec, sizeof s->codec)))
        goto done;
    double seed = (double)s->seed;
    if ((rc = s_num(&c, root, "seed", 0, 9007199254740991.0, 1, &seed))) goto done;
    s->seed = (uint64_t)seed;
    if ((rc = s_u32(&c, root, "eval_every", 1, 100000000, &s->eval_every)) ||
        (rc = s_u32(&c, root, "eval_samples", 0, 100000000, &s->eval_samples)))
        goto done;
    if ((v = json_object_get(root, "target_acc"))) {
        s->target_acc = json_is_number(v) ? json_number_value(v) : 0.0;
        if (!(s->target_acc > 0.0 && s->target_acc <= 1.0)) {
            rc = s_fail(&c, "target_acc", "expected an accuracy in (0, 1]");
            goto done;
        }
    }
    if ((v = json_object_get(root, "round_mode")) && (rc = s_parse_round_mode(&c, v, s))) goto done;
    if ((v = json_object_get(root, "faults")) && (rc = s_parse_faults(&c, v, s))) goto done;
    for (size_t k = 0; k < sizeof s_checks / sizeof s_checks[0]; k++)
        if ((rc = s_checks[k](&c, root, s))) goto done;
    rumor_scenario_rehash(s);
done:
    json_decref(root);
    return rc;
}

int rumor_scenario_load(const char *path, rumor_scenario_t *s, rumor_errmsg_t *em)
{
    char *buf;
    size_t len;
    const int read = rumor_file_read(path, 16u << 20, &buf, &len, em);
    if (read) return read;
    char dir[RUMOR_PATH_MAX];
    if (rumor_file_dir(path, dir, sizeof dir) != 0) {
        free(buf);
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", path);
    }
    const int rc = rumor_scenario_parse(buf, path, dir, s, em);
    free(buf);
    return rc;
}

/* ---- the run-config hash ------------------------------------------------------------------
 *
 * Everything peers must agree on, in a fixed textual form hashed with BLAKE2b. Data paths are
 * left out (hosts may keep the data in different places), and so are eval_every,
 * eval_samples, target_acc and the name; the topology is hashed separately (HELLO carries
 * both). One row per field, in the order of the text. Rows of an optional group (group > 0)
 * are written only when one of the group's fields differs from the defaults, so that adding a
 * field in a new group keeps the hashes of the runs without it. */

typedef enum {
    S_H_INT,      /* an int or an enum: %d */
    S_H_U32,      /* %u */
    S_H_U64,      /* %llu */
    S_H_F64,      /* %.17g */
    S_H_STR,      /* a char array */
    S_H_ROBUST,   /* rumor_robust_cfg_t, by rumor_robust_describe; differs when its kind does */
    S_H_MOMENTUM, /* rumor_momentum_t: KIND:BETA[:MU] (%.9g); differs when its kind does */
    S_H_FAULTS,   /* n_faults, then faults[]; differs when there are any */
} s_hkind_t;

typedef struct {
    const char *text; /* written before the value */
    s_hkind_t kind;
    size_t at, size; /* the field in rumor_scenario_t */
    int group;
} s_hfield_t;

#define S_H(TEXT, KIND, FIELD, GROUP)                                                              \
    {                                                                                              \
        TEXT, KIND, offsetof(rumor_scenario_t, FIELD), sizeof(((rumor_scenario_t *)0)->FIELD),     \
            GROUP                                                                                  \
    }

static const s_hfield_t s_hash_fields[] = {
    S_H("rumor-run-config-1|data=", S_H_INT, data, 0),
    S_H("|", S_H_F64, dirichlet_alpha, 0),
    S_H("|", S_H_U32, synth_n, 0),
    S_H("|", S_H_U32, synth_test_n, 0),
    S_H("|", S_H_U32, synth_dim, 0),
    S_H("|", S_H_U32, synth_classes, 0),
    S_H("|", S_H_F64, synth_sep, 0),
    S_H("|model=", S_H_STR, model, 0),
    S_H("|algo=", S_H_INT, algo, 0),
    S_H("|", S_H_F64, lr, 0),
    S_H("|", S_H_F64, gamma, 0),
    S_H("|", S_H_F64, lambda, 0),
    S_H("|", S_H_U32, batch, 0),
    S_H("|", S_H_U32, rounds, 0),
    S_H("|", S_H_U32, warmup, 0),
    S_H("|", S_H_STR, schedule, 0),
    S_H("|", S_H_STR, compressor, 0),
    S_H("|", S_H_STR, codec, 0),
    S_H("|seed=", S_H_U64, seed, 0),
    S_H("|deadline=", S_H_INT, deadline, 0),
    S_H("|", S_H_U32, deadline_ms, 0),
    S_H("|redundancy=", S_H_U32, redundancy, 7),
    S_H("|local_steps=", S_H_U32, local_steps, 1),
    S_H("|prox=", S_H_INT, prox, 2),
    S_H(":", S_H_INT, prox_lr_base, 2),
    S_H(":", S_H_INT, gamma_follows_lr, 2),
    S_H("|marina=", S_H_F64, sync_p, 3),
    S_H(":", S_H_INT, same_batch, 3),
    S_H(":", S_H_F64, participation, 3),
    S_H("|robust=", S_H_ROBUST, robust, 4),
    S_H("|momentum=", S_H_MOMENTUM, momentum, 5),
    S_H("|faults=", S_H_FAULTS, n_faults, 6),
    S_H("|coded_unscaled=", S_H_INT, coded_unscaled, 8),
    S_H("|compute_ms=", S_H_F64, compute_ms, 9),
    S_H("|track_last=", S_H_INT, track_last, 10),
};

#define S_HASH_FIELDS (sizeof s_hash_fields / sizeof s_hash_fields[0])

/* The size a row of kind k must have: a table entry of the wrong type fails at once. */
static size_t s_hsize(s_hkind_t k)
{
    switch (k) {
    case S_H_INT:
        return sizeof(int);
    case S_H_U32:
    case S_H_FAULTS:
        return sizeof(uint32_t);
    case S_H_U64:
        return sizeof(uint64_t);
    case S_H_F64:
        return sizeof(double);
    case S_H_ROBUST:
        return sizeof(rumor_robust_cfg_t);
    case S_H_MOMENTUM:
        return sizeof(rumor_momentum_t);
    default:
        return 0; /* S_H_STR: any array */
    }
}

/* 1 when row f of s differs from the defaults d. */
static int s_hdiffers(const s_hfield_t *f, const rumor_scenario_t *s, const rumor_scenario_t *d)
{
    const char *a = (const char *)s + f->at, *b = (const char *)d + f->at;
    switch (f->kind) {
    case S_H_STR:
        return strcmp(a, b) != 0;
    case S_H_ROBUST:
        return ((const rumor_robust_cfg_t *)(const void *)a)->kind !=
               ((const rumor_robust_cfg_t *)(const void *)b)->kind;
    case S_H_MOMENTUM:
        return ((const rumor_momentum_t *)(const void *)a)->kind !=
               ((const rumor_momentum_t *)(const void *)b)->kind;
    case S_H_F64: {
        double x, y;
        memcpy(&x, a, sizeof x);
        memcpy(&y, b, sizeof y);
        return x != y;
    }
    default:
        return memcmp(a, b, f->size) != 0;
    }
}

/* The text being hashed. */
typedef struct {
    char buf[4096 + RUMOR_SCENARIO_FAULTS * 160];
    size_t n;
} s_htext_t;

static void s_put(s_htext_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_put(s_htext_t *t, const char *fmt, ...)
{
    if (t->n >= sizeof t->buf) return;
    va_list ap;
    va_start(ap, fmt);
    const int len = vsnprintf(t->buf + t->n, sizeof t->buf - t->n, fmt, ap);
    va_end(ap);
    t->n += len > 0 ? (size_t)len : 0;
}

/* Appends the faults of s ("KIND:NODE:RATE:FROM:TO" and what their kind adds, comma-separated). */
static void s_hfaults(s_htext_t *out, const rumor_scenario_t *s)
{
    for (uint32_t i = 0; i < s->n_faults; i++) {
        const rumor_fault_t *f = &s->faults[i];
        s_put(out, "%s%d:%u:%.17g:%u:%u", i ? "," : "", (int)f->kind, f->node, f->drop, f->from,
              f->to);
        if (f->kind == RUMOR_FAULT_CRASH) s_put(out, ":%u", f->every);
        if (f->kind == RUMOR_FAULT_DELAY)
            s_put(out, ":%u:%.17g:%.17g", f->delay, f->delay_lo, f->delay_hi);
        if (f->kind == RUMOR_FAULT_BYZANTINE)
            s_put(out, ":%d:%.17g", (int)f->byz.kind, f->byz.param);
        if (f->kind == RUMOR_FAULT_STRAGGLE) s_put(out, ":late=%d", (int)f->late);
        if (f->kind == RUMOR_FAULT_SLOW) s_put(out, ":slow=%.17g", f->slow_ms);
        for (uint32_t j = 0; j < f->n_nodes; j++) s_put(out, ":%u", f->nodes[j]);
    }
}

/* Appends row f's value in s. */
static void s_hvalue(s_htext_t *out, const s_hfield_t *f, const rumor_scenario_t *s)
{
    const void *p = (const char *)s + f->at;
    int i;
    uint32_t u;
    uint64_t l;
    double x;
    switch (f->kind) {
    case S_H_INT:
        memcpy(&i, p, sizeof i);
        s_put(out, "%d", i);
        break;
    case S_H_U32:
        memcpy(&u, p, sizeof u);
        s_put(out, "%u", u);
        break;
    case S_H_U64:
        memcpy(&l, p, sizeof l);
        s_put(out, "%llu", (unsigned long long)l);
        break;
    case S_H_F64:
        memcpy(&x, p, sizeof x);
        s_put(out, "%.17g", x);
        break;
    case S_H_STR:
        s_put(out, "%s", (const char *)p);
        break;
    case S_H_ROBUST: {
        char rule[64];
        rumor_robust_describe(p, rule, sizeof rule);
        s_put(out, "%s", rule);
        break;
    }
    case S_H_MOMENTUM: {
        const rumor_momentum_t *m = p;
        s_put(out, "%d:%.9g", (int)m->kind, (double)m->beta);
        if (m->kind == RUMOR_MOMENTUM_QUASI_GLOBAL) s_put(out, ":%.9g", (double)m->mu);
        break;
    }
    case S_H_FAULTS:
        s_hfaults(out, s);
        break;
    }
}

void rumor_scenario_rehash(rumor_scenario_t *s)
{
    rumor_scenario_t d;
    s_defaults(&d);
    s_htext_t text = {.n = 0};
    s_htext_t *out = &text;
    int written = -1; /* the group whose rows are being written, -1 none */
    for (size_t k = 0; k < S_HASH_FIELDS; k++) {
        const s_hfield_t *f = &s_hash_fields[k];
        RUMOR_ASSERT(f->kind == S_H_STR || f->size == s_hsize(f->kind));
        if (f->group && f->group != written) {
            int differs = 0;
            for (size_t j = k; j < S_HASH_FIELDS && s_hash_fields[j].group == f->group; j++)
                differs |= s_hdiffers(&s_hash_fields[j], s, &d);
            if (!differs) {
                while (k + 1 < S_HASH_FIELDS && s_hash_fields[k + 1].group == f->group) k++;
                continue;
            }
            written = f->group;
        }
        s_put(out, "%s", f->text);
        s_hvalue(out, f, s);
    }
    RUMOR_ASSERT(text.n < sizeof text.buf); /* the buffer holds the most faults */
    crypto_generichash(s->hash, sizeof s->hash, (const unsigned char *)text.buf, text.n, NULL, 0);
}

int rumor_scenario_topology(const rumor_scenario_t *s, rumor_topology_t **out, rumor_errmsg_t *em)
{
    if (s->topology_file[0]) return rumor_topology_load(s->topology_file, out, em);
    return rumor_topology_generate(&s->topo_gen, out, em);
}
