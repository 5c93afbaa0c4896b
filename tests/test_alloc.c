/* Tests of the out-of-memory paths: every constructor and loader that allocates is run with its
 * k-th allocation failing, k = 1, 2, ... until it runs with none failing. At each k it must
 * return its documented failure (RUMOR_ENOMEM, or NULL) and not crash; under AddressSanitizer
 * (scripts/test's second build) it must leave no leak behind. Once it succeeds, its object
 * must work.
 *
 * The failures come from this program's link: CMakeLists.txt links it with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc, which sends every call
 * to those functions made by librumor's static objects (and by this file) to the __wrap_
 * functions below; __real_malloc is the allocator the program would have called, the libc's or,
 * under ASan, its interceptor. Calls made inside shared libraries (libzmq, libz, libc itself)
 * are not redirected. jansson's are, through json_set_alloc_funcs, except inside its parsers
 * (json_loads, json_loadb and json_load_file are wrapped to tell): jansson 2.14's parser does not
 * survive a failed allocation of its own (its lexer goes on with a token cut short, then asserts
 * in lex_scan_string). Nothing of this is in the library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/checkpoint.h"
#include "rumor/codec.h"
#include "rumor/coded.h"
#include "rumor/compress.h"
#include "rumor/data.h"
#include "rumor/file.h"
#include "rumor/gossip.h"
#include "rumor/link.h"
#include "rumor/partition.h"
#include "rumor/peer.h"
#include "rumor/robust.h"
#include "rumor/rumor.h"
#include "rumor/sampler.h"
#include "rumor/scenario.h"
#include "rumor/sim.h"
#include "rumor/sweep.h"
#include "rumor/topology.h"

#include "support.h"

#include <dirent.h>
#include <sys/stat.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define GOLDEN(name) RUMOR_SOURCE_DIR "/tests/data/" name

/* ---- the failing allocator ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);

static int s_armed;       /* allocations are counted only while a case's call under test runs */
static long s_fail_at;    /* the counted allocation (from 1) that fails */
static long s_calls;      /* allocations counted since the walk's step began */
static int s_failed_json; /* the one that failed was jansson's */
static int s_failed_opt;  /* ... optional (see __wrap_aligned_alloc) */

/* 1 when this allocation is to fail (errno is then ENOMEM). */
static int s_fail(int json)
{
    if (!s_armed || ++s_calls != s_fail_at) return 0;
    s_failed_json = json;
    errno = ENOMEM;
    return 1;
}

void *__wrap_malloc(size_t n)
{
    return s_fail(0) ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size)
{
    return s_fail(0) ? NULL : __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n)
{
    return s_fail(0) ? NULL : __real_realloc(p, n);
}
/* An alignment of 2 MiB is data_idx.c's move of a loaded set to huge pages, which leaves the
 * set where it is when it cannot be had: the load succeeds all the same. */
void *__wrap_aligned_alloc(size_t align, size_t n)
{
    if (!s_fail(0)) return __real_aligned_alloc(align, n);
    s_failed_opt = align >= (size_t)1 << 21;
    return NULL;
}

static int s_in_parse; /* inside one of jansson's parsers: its allocations are not counted */
static void *s_json_malloc(size_t n)
{
    return !s_in_parse && s_fail(1) ? NULL : __real_malloc(n);
}

/* __wrap_name: jansson's parser `name`, its allocations left alone (see the file comment). */
#define S_PARSER(name, params, args)                                                               \
    json_t *__real_##name params;                                                                  \
    json_t *__wrap_##name params;                                                                  \
    json_t *__wrap_##name params                                                                   \
    {                                                                                              \
        s_in_parse = 1;                                                                            \
        json_t *j = __real_##name args;                                                            \
        s_in_parse = 0;                                                                            \
        return j;                                                                                  \
    }
S_PARSER(json_loads, (const char *s, size_t flags, json_error_t *e), (s, flags, e))
S_PARSER(json_loadb, (const char *s, size_t n, size_t flags, json_error_t *e), (s, n, flags, e))
S_PARSER(json_load_file, (const char *path, size_t flags, json_error_t *e), (path, flags, e))

/* Threads, likewise: pthread_create (the simulator's workers) fails with EAGAIN at the
 * s_thread_fail_at-th call made while armed (0: never). */
int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
static long s_thread_fail_at, s_threads;
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    if (s_armed && ++s_threads == s_thread_fail_at) return EAGAIN;
    return __real_pthread_create(t, attr, fn, arg);
}

/* librumor writes JSON through rumor_file_json only: jansson 2.14's json_dumps leaves out an
 * object key it could not write (out of memory) and returns the malformed rest. */
char *__wrap_json_dumps(const json_t *json, size_t flags);
char *__wrap_json_dumps(const json_t *json, size_t flags)
{
    (void)json;
    (void)flags;
    fail_msg("json_dumps called: use rumor_file_json");
    return NULL;
}

/* Runs stmt with allocations counted (and the k-th failing). */
#define S_ARMED(stmt)                                                                              \
    do {                                                                                           \
        s_armed = 1;                                                                               \
        stmt;                                                                                      \
        s_armed = 0;                                                                               \
    } while (0)

#define S_MAX_K 100000 /* a walk longer than this is a runaway */

/* One case: runs the call under test (in S_ARMED), then, when it succeeded, a minimal use of
 * its result (not armed); frees everything. Returns the call's code (0 on success). */
typedef int (*s_case_t)(const void *arg);

/* Runs c with its k-th allocation failing for k = 1, 2, ... until a run injects no failure,
 * which must succeed; every run before it must return RUMOR_ENOMEM. Success is accepted too when
 * the allocation that failed was optional (the case then checks its object as after any
 * success). Returns the number of allocations of the run without a failure. */
static long s_walk(const char *what, s_case_t c, const void *arg)
{
    for (long k = 1; k < S_MAX_K; k++) {
        s_fail_at = k;
        s_calls = 0;
        s_failed_json = s_failed_opt = 0;
        const int rc = c(arg);
        s_armed = 0;
        if (s_calls < k) {
            if (rc) fail_msg("%s: %s with no allocation failing", what, rumor_strerror(rc));
            return s_calls;
        }
        if (rc != RUMOR_ENOMEM && !(s_failed_opt && rc == 0))
            fail_msg("%s: allocation %ld (%s's) failing: returned %d (%s), expected RUMOR_ENOMEM",
                     what, k, s_failed_json ? "jansson" : "rumor", rc, rumor_strerror(rc));
    }
    fail_msg("%s: more than %d allocations", what, S_MAX_K);
    return 0;
}

/* s_walk, and the case must allocate at least once (or the walk tests nothing). */
static void s_walk_some(const char *what, s_case_t c, const void *arg)
{
    const long n = s_walk(what, c, arg);
    if (n < 1) fail_msg("%s: no allocation counted", what);
    print_message("%s: each of %ld allocations failed in turn\n", what, n);
}

/* ---- fixtures, built before any walk ---- */

static const char *const s_scenario_json[] = {
    /* malcom, dither, coded gradients, on a ring */
    "{\"topology\": {\"generate\": \"ring\", \"n\": 4},"
    " \"data\": {\"name\": \"synthetic\", \"n\": 400, \"test_n\": 100, \"dim\": 10, \"classes\": 3,"
    " \"redundancy\": 2},"
    " \"algorithm\": {\"name\": \"malcom\", \"lambda\": 0.001, \"batch\": 8, \"rounds\": 4},"
    " \"compressor\": \"dither:8\", \"seed\": 3}",
    /* CHOCO with momentum, an mlp, a robust rule and an ALIE peer, on a torus */
    "{\"topology\": {\"generate\": \"torus\", \"n\": 9},"
    " \"data\": {\"name\": \"synthetic\", \"n\": 450, \"test_n\": 90, \"dim\": 6, \"classes\": 3},"
    " \"model\": \"mlp:8\","
    " \"algorithm\": {\"name\": \"choco\", \"batch\": 4, \"rounds\": 4, \"gamma\": 0.5,"
    " \"momentum\": \"nesterov:0.9\", \"robust\": \"clip:auto:1+shift+origin+jump\"},"
    " \"compressor\": \"topk:0.5+dither:4:biased\", \"seed\": 5,"
    " \"faults\": [{\"byzantine\": \"alie\", \"z\": 0.5, \"from\": 1, \"nodes\": [4]}]}",
    /* BEER on a ring */
    "{\"topology\": {\"generate\": \"ring\", \"n\": 4},"
    " \"data\": {\"name\": \"synthetic\", \"n\": 400, \"test_n\": 100, \"dim\": 10,"
    " \"classes\": 3},"
    " \"algorithm\": {\"name\": \"beer\", \"batch\": 8, \"rounds\": 4, \"gamma\": 0.4},"
    " \"compressor\": \"dither:8:biased:bucket=16\", \"seed\": 9}",
};
#define S_SCENARIOS (sizeof s_scenario_json / sizeof *s_scenario_json)

typedef struct {
    rumor_scenario_t sc;
    rumor_topology_t *topo;
    rumor_peer_data_t data;
} s_run_t;

static s_run_t s_runs[S_SCENARIOS];

/* Where the walks that write many files write them: memory (/dev/shm), where fsync, which every
 * atomic save does, costs nothing; s_dir when there is none. */
static char s_shm[64];

/* The fast directory's file name, in one of two rotating buffers. */
static const char *s_fast(const char *name)
{
    static char p[2][sizeof s_dir + 64];
    static int next;
    char *out = p[next++ % 2];
    snprintf(out, sizeof p[0], "%s/%s", s_shm[0] ? s_shm : s_dir, name);
    return out;
}

static int s_setup(void **state)
{
    (void)state;
    json_set_alloc_funcs(s_json_malloc, free);
    if (s_scratch_make("alloc")) return -1;
    snprintf(s_shm, sizeof s_shm, "/dev/shm/rumor-test-alloc-XXXXXX");
    if (!mkdtemp(s_shm)) s_shm[0] = '\0';
    /* the IDX loaders' cache of decompressed files, built anew by the walks */
    if (setenv("RUMOR_CACHE_DIR", s_fast("cache"), 1)) return -1;
    for (size_t i = 0; i < S_SCENARIOS; i++) {
        s_run_t *r = &s_runs[i];
        rumor_errmsg_t em = {""};
        if (rumor_scenario_parse(s_scenario_json[i], "alloc.json", ".", &r->sc, &em) ||
            rumor_scenario_topology(&r->sc, &r->topo, &em) ||
            rumor_peer_data_load(&r->sc, r->topo->n, RUMOR_PEER_ALL, &r->data, &em)) {
            fprintf(stderr, "scenario %zu: %s\n", i, em.msg);
            return -1;
        }
    }
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < S_SCENARIOS; i++) {
        rumor_peer_data_free(&s_runs[i].data);
        rumor_topology_destroy(&s_runs[i].topo);
    }
    if (s_shm[0]) {
        char cmd[sizeof s_shm + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_shm);
        if (system(cmd)) return -1;
    }
    return s_scratch_remove();
}

/* A peer of run r (not armed); fails the test when it cannot be made. */
static rumor_peer_t *s_peer(const s_run_t *r, uint32_t self)
{
    const rumor_peer_cfg_t cfg = rumor_peer_data_cfg(&r->data, &r->sc, r->topo, self, 64);
    rumor_errmsg_t em = {""};
    rumor_peer_t *p = rumor_peer_new(&cfg, &em);
    if (!p) fail_msg("%s", em.msg);
    const rumor_byzantine_t *b = rumor_scenario_byzantine(&r->sc, self);
    if (b) assert_int_equal(rumor_peer_set_byzantine(p, b), 0);
    return p;
}

/* A vector of d floats, some large, some small, some zero. */
static void s_vector(float *x, uint32_t d)
{
    for (uint32_t k = 0; k < d; k++)
        x[k] = k % 7 == 3 ? 0.0f : sinf(0.37f * (float)k) * (float)(k % 5 + 1);
}

/* ---- codec, compressors, robust state, gossip, link ---- */

enum { S_D = 96 };

static int s_case_codec(const void *arg)
{
    (void)arg;
    rumor_codec_t *c = (rumor_codec_t *)&c; /* must come back NULL on failure */
    int rc;
    S_ARMED(rc = rumor_codec_create(S_D, &c));
    if (rc) {
        assert_null(c);
        return rc;
    }
    rumor_compress_cfg_t cfg;
    assert_int_equal(rumor_compress_parse("dither:8", &cfg, NULL), 0);
    rumor_compressor_t *comp = rumor_compressor_new(&cfg, S_D);
    rumor_cmsg_t m, back;
    assert_int_equal(rumor_cmsg_init(&m, S_D), 0);
    assert_int_equal(rumor_cmsg_init(&back, S_D), 0);
    float x[S_D];
    s_vector(x, S_D);
    rumor_rng_t rng;
    rumor_rng_seed(&rng, 1, 0, 0, 0);
    rumor_compressor_apply(comp, x, &rng, &m);
    uint8_t buf[2048];
    size_t w;
    assert_true(rumor_codec_bound(S_D) <= sizeof buf);
    assert_int_equal(rumor_codec_encode(c, &m, RUMOR_CODEC_AUTO, buf, sizeof buf, &w), 0);
    assert_int_equal(rumor_codec_decode(c, buf, w, S_D, &back), 0);
    assert_int_equal(back.nnz, m.nnz);
    assert_memory_equal(back.q, m.q, S_D * sizeof *m.q);
    rumor_cmsg_free(&back);
    rumor_cmsg_free(&m);
    rumor_compressor_destroy(&comp);
    rumor_codec_destroy(&c);
    assert_null(c);
    return 0;
}

static void test_codec(void **state)
{
    (void)state;
    s_walk_some("codec", s_case_codec, NULL);
}

static int s_case_cmsg(const void *arg)
{
    (void)arg;
    rumor_cmsg_t m;
    int rc;
    S_ARMED(rc = rumor_cmsg_init(&m, S_D));
    if (rc) return rc;
    float x[S_D], y[S_D] = {0};
    s_vector(x, S_D);
    m.kind = RUMOR_CMSG_DENSE;
    m.d = m.nnz = S_D;
    memcpy(m.val, x, sizeof x);
    rumor_cmsg_axpy(&m, 1.0f, y);
    assert_memory_equal(x, y, sizeof x);
    rumor_cmsg_free(&m);
    return 0;
}

static void test_cmsg(void **state)
{
    (void)state;
    s_walk_some("cmsg", s_case_cmsg, NULL);
}

static const uint32_t s_tensors[] = {40, 8, 40, 8};

static int s_case_compressor(const void *arg)
{
    rumor_compress_cfg_t cfg;
    assert_int_equal(rumor_compress_parse(arg, &cfg, NULL), 0);
    cfg.tensors = s_tensors;
    cfg.n_tensors = sizeof s_tensors / sizeof *s_tensors;
    rumor_compressor_t *c = (rumor_compressor_t *)&c;
    int rc;
    S_ARMED(rc = rumor_compressor_create(&cfg, S_D, &c));
    if (rc) {
        assert_null(c);
        return rc;
    }
    float x[S_D];
    s_vector(x, S_D);
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, S_D), 0);
    rumor_rng_t rng;
    rumor_rng_seed(&rng, 2, 0, 0, 0);
    rumor_compressor_apply(c, x, &rng, &m);
    assert_int_equal(m.d, S_D);
    assert_true(m.nnz > 0);
    rumor_cmsg_free(&m);
    rumor_compressor_destroy(&c);
    return 0;
}

static const char *const s_compressors[] = {"identity",
                                            "dither:8",
                                            "dither:8:biased:bucket=16",
                                            "natural:4:layer",
                                            "natural",
                                            "topk:0.25",
                                            "topk:0.25+dither:8:biased",
                                            "topk:0.25+natural:4",
                                            "randk:0.25",
                                            "block:0.25",
                                            "sign",
                                            "sign:stochastic",
                                            "eround:4:unbiased"};

static void test_compressors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_compressors / sizeof *s_compressors; i++)
        s_walk(s_compressors[i], s_case_compressor, s_compressors[i]);
}

enum { S_DEG = 4 };

static int s_case_robust(const void *arg)
{
    rumor_robust_cfg_t cfg;
    assert_int_equal(rumor_robust_parse(arg, &cfg), 0);
    float x0[S_D];
    s_vector(x0, S_D);
    int oom = 0;
    rumor_robust_t *r;
    S_ARMED(r = rumor_robust_new(&cfg, S_DEG, S_D, x0, &oom));
    if (!r) {
        assert_int_equal(oom, 1);
        return RUMOR_ENOMEM;
    }
    assert_int_equal(oom, 0);
    float y[S_DEG * S_D];
    for (uint32_t s = 0; s < S_DEG; s++) {
        s_vector(y + s * S_D, S_D);
        y[s * S_D + s] += 1.0f + (float)s;
    }
    const uint8_t up[S_DEG] = {1, 1, 1, 1};
    if (rumor_robust_trims(r)) {
        const float *t = rumor_robust_trim(r, y, up, x0);
        assert_true(isfinite(t[0]));
    } else {
        const double w[S_DEG] = {0.2, 0.2, 0.2, 0.2};
        const double *we = rumor_robust_weights(r, y, up, w, x0);
        for (uint32_t s = 0; s < S_DEG; s++) assert_true(we[s] >= 0 && we[s] <= w[s]);
    }
    assert_int_equal(rumor_robust_stats(r).mixed[0], 1);
    rumor_robust_destroy(&r);
    return 0;
}

static const char *const s_robust[] = {"clip:0.5", "clip:auto:1", "clip:auto:1+shift+origin+jump",
                                       "trim:1"};

static void test_robust(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_robust / sizeof *s_robust; i++)
        s_walk_some(s_robust[i], s_case_robust, s_robust[i]);
}

typedef struct {
    rumor_algo_t algo;
    const char *compress, *robust;
} s_gossip_arg_t;

static int s_case_gossip(const void *arg)
{
    const s_gossip_arg_t *a = arg;
    const uint32_t nbrs[S_DEG] = {1, 2, 4, 7};
    const double w[S_DEG] = {0.2, 0.2, 0.2, 0.2};
    rumor_gossip_cfg_t cfg = {.algo = a->algo,
                              .d = S_D,
                              .self = 3,
                              .degree = S_DEG,
                              .nbrs = nbrs,
                              .w_nbrs = w,
                              .gamma = 0.5f};
    assert_int_equal(rumor_compress_parse(a->compress, &cfg.compress, NULL), 0);
    assert_int_equal(rumor_robust_parse(a->robust, &cfg.robust), 0);
    float x0[S_D], v[S_D], x[S_D];
    s_vector(x0, S_D);
    rumor_gossip_t *g = (rumor_gossip_t *)&g;
    int rc;
    S_ARMED(rc = rumor_gossip_create(&cfg, x0, &g));
    if (rc) {
        assert_null(g);
        return rc;
    }
    rumor_cmsg_t m, mt;
    assert_int_equal(rumor_cmsg_init(&m, S_D), 0);
    assert_int_equal(rumor_cmsg_init(&mt, S_D), 0);
    rumor_rng_t rng;
    rumor_rng_seed(&rng, 3, 0, 0, 0);
    for (uint32_t k = 0; k < S_D; k++) v[k] = x0[k] + 0.01f * (float)(k % 3);
    rumor_gossip_produce(g, v, &rng, &m);
    if (a->algo == RUMOR_ALGO_BEER) rumor_gossip_produce_tracker(g, &rng, &mt);
    for (uint32_t s = 0; s < S_DEG; s++)
        assert_int_equal(
            rumor_gossip_absorb_pair(g, nbrs[s], &m, a->algo == RUMOR_ALGO_BEER ? &mt : NULL), 0);
    rumor_gossip_mix(g, v, x);
    for (uint32_t k = 0; k < S_D; k++) assert_true(isfinite(x[k]));
    rumor_cmsg_free(&mt);
    rumor_cmsg_free(&m);
    rumor_gossip_destroy(&g);
    return 0;
}

static const s_gossip_arg_t s_gossips[] = {
    {RUMOR_ALGO_DPSGD, "identity", "none"},
    {RUMOR_ALGO_CHOCO, "dither:8", "clip:auto:1+shift+origin+jump"},
    {RUMOR_ALGO_MALCOM, "natural:4:biased", "trim:1"},
    {RUMOR_ALGO_DCD, "topk:0.5", "clip:0.5"},
    {RUMOR_ALGO_DEEPSQUEEZE, "sign", "none"},
    {RUMOR_ALGO_BEER, "dither:8:biased", "clip:auto:1"},
};

static void test_gossip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_gossips / sizeof *s_gossips; i++)
        s_walk_some(rumor_algo_name(s_gossips[i].algo), s_case_gossip, &s_gossips[i]);
}

static int s_case_model(const void *arg)
{
    rumor_model_spec_t spec;
    if (rumor_model_spec_parse(arg, 256, 3, &spec, NULL)) fail_msg("model %s", (const char *)arg);
    rumor_model_t *m = (rumor_model_t *)&m;
    int rc;
    S_ARMED(rc = rumor_model_create(&spec, 2, &m));
    if (rc) {
        assert_null(m);
        return rc;
    }
    const size_t d = rumor_model_nparams(m);
    float *w = malloc(d * sizeof *w), *g = malloc(d * sizeof *g), x[2 * 256];
    assert_true(w && g);
    rumor_rng_t rng;
    rumor_rng_seed(&rng, 4, 0, 0, 0);
    rumor_model_init(m, w, &rng);
    s_vector(x, 2 * 256);
    const int32_t y[2] = {0, 2};
    assert_true(isfinite(rumor_model_loss_grad(m, w, x, y, 2, g)));
    free(g);
    free(w);
    rumor_model_destroy(&m);
    return 0;
}

static void test_model(void **state)
{
    (void)state;
    static const char *const specs[] = {"softmax", "mlp:16,8", "cnn:2,3"};
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++)
        s_walk_some(specs[i], s_case_model, specs[i]);
}

static int s_case_link(const void *arg)
{
    (void)arg;
    static const rumor_wire_hello_t hello = {.version = RUMOR_WIRE_PROTOCOL, .dim = 10};
    const rumor_link_cfg_t cfg = {.self = 0,
                                  .id = 1,
                                  .n = 4,
                                  .last_round = 10,
                                  .session = 0x1111,
                                  .hello = &hello,
                                  .frame_cap = 256,
                                  .liveness_s = 1.0,
                                  .heartbeat_s = 0.25};
    rumor_link_t l = {0};
    int rc;
    S_ARMED(rc = rumor_link_init(&l, &cfg));
    if (!rc) {
        assert_non_null(l.early);
        const rumor_wire_header_t h = rumor_link_header(&l, RUMOR_WIRE_HELLO, 0, 0);
        assert_int_equal(h.seq, 0x1111);
    }
    rumor_link_free(&l); /* initialised or not */
    return rc;
}

static void test_link(void **state)
{
    (void)state;
    s_walk_some("link", s_case_link, NULL);
}

/* ---- topologies and scenarios ---- */

/* A topology a case made: checked and freed (not armed); rc passed through. */
static int s_topology_done(int rc, rumor_topology_t *t, uint32_t n)
{
    if (rc) {
        assert_null(t);
        return rc;
    }
    assert_int_equal(t->n, n);
    rumor_errmsg_t em = {""};
    if (rumor_topology_validate(t, "alloc", &em)) fail_msg("%s", em.msg);
    assert_true(rumor_topology_degree(t, 0) >= 1);
    rumor_topology_destroy(&t);
    return 0;
}

static int s_case_topology_load(const void *arg)
{
    (void)arg;
    rumor_topology_t *t = (rumor_topology_t *)&t;
    int rc;
    S_ARMED(rc = rumor_topology_load(GOLDEN("topo_explicit.json"), &t, NULL));
    return s_topology_done(rc, t, 5);
}

static int s_case_topology_parse(const void *arg)
{
    (void)arg;
    rumor_topology_t *t = (rumor_topology_t *)&t;
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_topology_parse("{\"name\": \"tri\", \"nodes\": [{\"id\": 0}, {\"id\": 1},"
                                      " {\"id\": 2}], \"edges\": [[0, 1], [1, 2], [0, 2]]}",
                                      "tri.json", &t, &em));
    if (rc) assert_true(em.msg[0]);
    return s_topology_done(rc, t, 3);
}

static int s_case_topology_generate(const void *arg)
{
    const rumor_topology_gen_t *g = arg;
    rumor_topology_t *t = (rumor_topology_t *)&t;
    int rc;
    S_ARMED(rc = rumor_topology_generate(g, &t, NULL));
    return s_topology_done(rc, t, g->n);
}

static const rumor_topology_gen_t s_gens[] = {
    {.kind = RUMOR_TOPOLOGY_RING, .n = 8, .port_base = 7000},
    {.kind = RUMOR_TOPOLOGY_TORUS, .n = 12, .rows = 3},
    {.kind = RUMOR_TOPOLOGY_ER, .n = 10, .p = 0.3, .seed = 4},
    {.kind = RUMOR_TOPOLOGY_REGULAR, .n = 10, .k = 3, .seed = 4},
    {.kind = RUMOR_TOPOLOGY_COMPLETE, .n = 5},
    {.kind = RUMOR_TOPOLOGY_HYPERCUBE, .n = 8},
    {.kind = RUMOR_TOPOLOGY_EXP, .n = 10},
};

static int s_case_topology_json(const void *arg)
{
    const rumor_topology_t *t = arg;
    char *json;
    S_ARMED(json = rumor_topology_to_json(t));
    if (!json) return RUMOR_ENOMEM;
    rumor_topology_t *back;
    assert_int_equal(rumor_topology_parse(json, "json", &back, NULL), 0);
    uint8_t h0[32], h1[32];
    rumor_topology_hash(t, h0);
    rumor_topology_hash(back, h1);
    assert_memory_equal(h0, h1, 32);
    rumor_topology_destroy(&back);
    free(json);
    return 0;
}

static int s_case_topology_save(const void *arg)
{
    const rumor_topology_t *t = arg;
    const char *path = s_scratch("saved-topology.json");
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_topology_save(t, path, &em));
    if (rc) return rc;
    rumor_topology_t *back;
    assert_int_equal(rumor_topology_load(path, &back, NULL), 0);
    assert_int_equal(back->n_edges, t->n_edges);
    rumor_topology_destroy(&back);
    return 0;
}

/* ---- JSON text for files ---- */

/* rumor_file_json fails whole or gives text that reads back to j (json_dumps, failing the same
 * allocation, may return text with a key left out). */
static int s_case_file_json(const void *arg)
{
    const json_t *j = arg;
    char *text = (char *)&text;
    size_t len = 1;
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_file_json(j, JSON_INDENT(2) | JSON_SORT_KEYS, "x.json", &text, &len, &em));
    if (rc) {
        assert_null(text);
        assert_string_equal(em.msg, "x.json: out of memory");
        return rc;
    }
    json_t *back = json_loads(text, 0, NULL);
    if (!json_equal(back, j)) fail_msg("k = %ld: %s", s_fail_at, text);
    assert_int_equal(len, strlen(text));
    json_decref(back);
    free(text);
    return 0;
}

static void test_file_json(void **state)
{
    (void)state;
    json_t *j = json_object();
    assert_non_null(j);
    for (int i = 0; i < 40; i++) {
        char key[32];
        snprintf(key, sizeof key, "a key long enough %d", i);
        assert_int_equal(
            json_object_set_new(j, key, json_pack("{s:i, s:[f]}", "i", i, "x", 1.0 / (i + 1))), 0);
    }
    s_walk_some("file json", s_case_file_json, j);
    json_decref(j);
}

static void test_topology(void **state)
{
    (void)state;
    s_walk_some("topology load", s_case_topology_load, NULL);
    s_walk_some("topology parse", s_case_topology_parse, NULL);
    for (size_t i = 0; i < sizeof s_gens / sizeof *s_gens; i++)
        s_walk_some(rumor_topology_kind_name(s_gens[i].kind), s_case_topology_generate, &s_gens[i]);
    rumor_topology_t *t;
    assert_int_equal(rumor_topology_load(GOLDEN("topo_explicit.json"), &t, NULL), 0);
    s_walk_some("topology to json", s_case_topology_json, t);
    s_walk_some("topology save", s_case_topology_save, t);
    rumor_topology_destroy(&t);
}

static int s_case_scenario_load(const void *arg)
{
    const char *path = arg;
    rumor_scenario_t s;
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_scenario_load(path, &s, &em));
    if (rc) return rc;
    assert_memory_equal(s.hash, s_runs[1].sc.hash, sizeof s.hash);
    return 0;
}

static int s_case_scenario_topology(const void *arg)
{
    const s_run_t *r = arg;
    rumor_topology_t *t = (rumor_topology_t *)&t;
    int rc;
    S_ARMED(rc = rumor_scenario_topology(&r->sc, &t, NULL));
    return s_topology_done(rc, t, r->topo->n);
}

static void test_scenario(void **state)
{
    (void)state;
    const char *path = s_scratch("scenario.json");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(s_scenario_json[1], f);
    assert_int_equal(fclose(f), 0);
    /* the file's scenario is run 1's, which was parsed with origin "alloc.json" and base "." */
    s_walk_some("scenario load", s_case_scenario_load, path);
    for (size_t i = 0; i < S_SCENARIOS; i++)
        s_walk_some("scenario topology", s_case_scenario_topology, &s_runs[i]);
}

/* ---- data ---- */

static int s_data_done(int rc, rumor_dataset_t *ds, uint32_t n)
{
    if (rc) {
        assert_null(ds);
        return rc;
    }
    assert_int_equal(ds->n, n);
    float x[64];
    int32_t y;
    assert_true(ds->dim <= sizeof x / sizeof *x);
    const uint32_t last = n - 1;
    rumor_data_gather(ds, &last, 1, x, &y);
    assert_true(y >= 0 && (uint32_t)y < ds->classes);
    rumor_dataset_destroy(&ds);
    return 0;
}

static int s_case_idx(const void *arg)
{
    const rumor_data_chooser_t *choose = arg;
    rumor_dataset_t *ds = (rumor_dataset_t *)&ds;
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_data_load_idx(GOLDEN("data_tiny-images-idx3-ubyte"),
                                     GOLDEN("data_tiny-labels-idx1-ubyte.gz"), choose, &ds, &em));
    if (rc) assert_true(em.msg[0]);
    return s_data_done(rc, ds, choose ? 2 : 4);
}

static int s_case_fashion(const void *arg)
{
    const char *dir = arg;
    rumor_dataset_t *ds = (rumor_dataset_t *)&ds, *compact = (rumor_dataset_t *)&compact;
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_data_load_fashion(dir, "train", NULL, &ds, &em));
    if (rc) {
        assert_true(em.msg[0]);
        return s_data_done(rc, ds, 0);
    }
    S_ARMED(rc = rumor_data_load_fashion_compact(dir, "train", &compact, &em));
    if (rc) {
        assert_true(em.msg[0]);
        assert_null(compact);
        rumor_dataset_destroy(&ds);
        return rc;
    }
    assert_non_null(compact->px);
    float a[64 * 64], b[64 * 64];
    int32_t ya, yb;
    assert_true(ds->dim <= 64 * 64);
    const uint32_t row = 1;
    rumor_data_gather(ds, &row, 1, a, &ya);
    rumor_data_gather(compact, &row, 1, b, &yb);
    assert_memory_equal(a, b, ds->dim * sizeof *a);
    assert_int_equal(ya, yb);
    rumor_dataset_destroy(&compact);
    return s_data_done(0, ds, 4);
}

/* Copies the file at from to path, gzip-compressed. */
static void s_gzip(const char *from, const char *path)
{
    FILE *f = fopen(from, "rb");
    assert_non_null(f);
    uint8_t buf[1 << 16];
    const size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof buf);
    gzFile z = gzopen(path, "wb");
    assert_non_null(z);
    assert_int_equal(gzwrite(z, buf, (unsigned)n), (int)n);
    assert_int_equal(gzclose(z), Z_OK);
}

static int s_choose_two(const rumor_dataset_t *labels, void *arg, const uint32_t **rows,
                        uint32_t *n_rows, rumor_errmsg_t *em)
{
    (void)arg;
    (void)em;
    static const uint32_t two[] = {2, 0};
    assert_true(labels->n >= 3);
    *rows = two;
    *n_rows = 2;
    return 0;
}

static int s_case_libsvm(const void *arg)
{
    (void)arg;
    rumor_dataset_t *ds = (rumor_dataset_t *)&ds;
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_data_load_libsvm(GOLDEN("data_tiny.svm"), 0, &ds, &em));
    if (rc) assert_true(em.msg[0]);
    return s_data_done(rc, ds, 4); /* the sample's four rows */
}

static int s_case_synthetic(const void *arg)
{
    (void)arg;
    rumor_dataset_t *ds = (rumor_dataset_t *)&ds;
    int rc;
    S_ARMED(rc = rumor_data_synthetic(50, 6, 3, 2.0, 1, &ds));
    return s_data_done(rc, ds, 50);
}

static int s_case_subset(const void *arg)
{
    const rumor_dataset_t *train = arg;
    static const uint32_t rows[] = {5, 1, 9};
    rumor_dataset_t *ds;
    S_ARMED(ds = rumor_data_subset(train, rows, 3));
    if (!ds) return RUMOR_ENOMEM;
    return s_data_done(0, ds, 3);
}

static int s_case_partition(const void *arg)
{
    const rumor_dataset_t *train = arg;
    rumor_partition_t *p = (rumor_partition_t *)&p, *q = (rumor_partition_t *)&q;
    int rc;
    S_ARMED(rc = rumor_data_partition_iid(train, 4, 7, &p));
    if (rc) {
        assert_null(p);
        return rc;
    }
    S_ARMED(rc = rumor_data_partition_dirichlet(train, 4, 0.5, 7, &q));
    if (rc) {
        assert_null(q);
        rumor_partition_destroy(&p);
        return rc;
    }
    assert_int_equal(p->off[4], train->n);
    assert_int_equal(q->off[4], train->n);
    rumor_sampler_t *s = (rumor_sampler_t *)&s;
    S_ARMED(rc = rumor_sampler_create(p->idx, p->off[1], 7, 0, &s));
    if (!rc) {
        uint32_t b[4];
        rumor_sampler_next(s, 4, b);
        assert_true(b[0] < train->n);
        rumor_sampler_destroy(&s);
    } else {
        assert_null(s);
    }
    rumor_partition_destroy(&q);
    rumor_partition_destroy(&p);
    return rc;
}

typedef struct {
    const s_run_t *run;
    uint32_t self;
} s_peer_arg_t;

static int s_case_peer_data(const void *arg)
{
    const s_peer_arg_t *a = arg;
    rumor_peer_data_t data;
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_peer_data_load(&a->run->sc, a->run->topo->n, a->self, &data, &em));
    if (rc) {
        assert_true(em.msg[0]);
        assert_null(data.part);
        assert_null(data.owned[0]);
        return rc;
    }
    assert_int_equal(data.train.dim, a->run->data.train.dim);
    rumor_peer_data_free(&data);
    return 0;
}

static int s_case_coded(const void *arg)
{
    const s_run_t *r = arg;
    rumor_errmsg_t em = {""};
    rumor_coded_t *c = (rumor_coded_t *)&c;
    int rc;
    S_ARMED(rc = rumor_coded_create(r->topo, r->data.part, 2, r->sc.batch, r->sc.seed, 1, &c, &em));
    if (rc) {
        assert_null(c);
        assert_true(em.msg[0]);
        return rc;
    }
    assert_int_equal(rumor_coded_batch(c), r->sc.batch);
    rumor_coded_destroy(&c);
    return 0;
}

static void test_data(void **state)
{
    (void)state;
    const rumor_data_chooser_t two = {s_choose_two, NULL};
    s_walk_some("idx", s_case_idx, NULL);
    s_walk_some("idx, chosen", s_case_idx, &two);
    const char *fashion = s_scratch("fashion");
    assert_int_equal(mkdir(fashion, 0755), 0);
    s_gzip(GOLDEN("data_tiny-images-idx3-ubyte"), s_scratch("fashion/train-images-idx3-ubyte.gz"));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", GOLDEN("data_tiny-labels-idx1-ubyte.gz"),
             s_scratch("fashion/train-labels-idx1-ubyte.gz"));
    assert_int_equal(system(cmd), 0);
    s_walk_some("fashion", s_case_fashion, fashion);
    s_walk_some("libsvm", s_case_libsvm, NULL);
    s_walk_some("synthetic", s_case_synthetic, NULL);
    s_walk_some("subset", s_case_subset, &s_runs[0].data.train);
    s_walk_some("partition", s_case_partition, &s_runs[0].data.train);
    s_walk_some("coded", s_case_coded, &s_runs[0]);
    for (size_t i = 0; i < S_SCENARIOS; i++) {
        const uint32_t selves[] = {RUMOR_PEER_ALL, 1, RUMOR_PEER_NONE};
        for (size_t j = 0; j < 3; j++) {
            const s_peer_arg_t a = {&s_runs[i], selves[j]};
            s_walk_some("peer data", s_case_peer_data, &a);
        }
    }
}

/* ---- peers and checkpoints ---- */

static int s_case_peer(const void *arg)
{
    const s_peer_arg_t *a = arg;
    const rumor_peer_cfg_t cfg =
        rumor_peer_data_cfg(&a->run->data, &a->run->sc, a->run->topo, a->self, 64);
    rumor_errmsg_t em = {""};
    rumor_peer_t *p = (rumor_peer_t *)&p;
    int rc;
    S_ARMED(rc = rumor_peer_create(&cfg, &p, &em));
    if (rc) {
        assert_null(p);
        assert_true(em.msg[0]);
        return rc;
    }
    const rumor_byzantine_t *b = rumor_scenario_byzantine(&a->run->sc, a->self);
    if (b) {
        S_ARMED(rc = rumor_peer_set_byzantine(p, b));
        if (rc) {
            rumor_peer_destroy(&p);
            return rc;
        }
    }
    const uint8_t *msg;
    size_t len;
    assert_int_equal(rumor_peer_step(p, &msg, &len), 0);
    assert_true(len > 0);
    rumor_peer_finish(p);
    assert_int_equal(rumor_peer_round(p), 1);
    rumor_peer_destroy(&p);
    return 0;
}

static void test_peer(void **state)
{
    (void)state;
    for (size_t i = 0; i < S_SCENARIOS; i++) {
        const s_peer_arg_t a = {&s_runs[i], i == 1 ? 4 : 0};
        s_walk_some("peer", s_case_peer, &a);
    }
}

/* Files in the fast directory whose names start with prefix. */
static int s_files(const char *prefix)
{
    DIR *d = opendir(s_shm[0] ? s_shm : s_dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += !strncmp(e->d_name, prefix, strlen(prefix));
    closedir(d);
    return n;
}

typedef struct {
    const s_run_t *run;
    rumor_peer_t *p; /* stepped a round: the state saved */
    uint32_t self;
    uint8_t th[32];
    const char *path; /* p's checkpoint, for the loads */
} s_ckpt_arg_t;

static int s_case_ckpt_save(const void *arg)
{
    const s_ckpt_arg_t *a = arg;
    const char *path = s_fast("save-ckpt.safetensors");
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_checkpoint_save(path, a->p, a->th, &em));
    if (rc) {
        assert_true(em.msg[0]);
        /* the checkpoint saved before stands, and no temporary file is left */
        assert_int_equal(s_files("save-ckpt"), 1);
        return rc;
    }
    rumor_peer_t *b = s_peer(a->run, a->self);
    if (rumor_checkpoint_load(path, b, a->th, &em)) fail_msg("%s", em.msg);
    assert_memory_equal(rumor_peer_params(b), rumor_peer_params(a->p),
                        rumor_peer_dim(b) * sizeof(float));
    rumor_peer_destroy(&b);
    return 0;
}

static int s_case_ckpt_load(const void *arg)
{
    const s_ckpt_arg_t *a = arg;
    rumor_peer_t *b = s_peer(a->run, a->self);
    const size_t d = rumor_peer_dim(b);
    float *before = malloc(d * sizeof *before);
    assert_non_null(before);
    memcpy(before, rumor_peer_params(b), d * sizeof *before);
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_checkpoint_load(a->path, b, a->th, &em));
    if (rc) {
        if (!em.msg[0]) fail_msg("k = %ld: %s without a message", s_fail_at, rumor_strerror(rc));
        assert_memory_equal(rumor_peer_params(b), before, d * sizeof *before); /* unchanged */
        assert_int_equal(rumor_peer_round(b), 0);
    } else {
        assert_memory_equal(rumor_peer_params(b), rumor_peer_params(a->p), d * sizeof *before);
        assert_int_equal(rumor_peer_round(b), 1);
    }
    free(before);
    rumor_peer_destroy(&b);
    return rc;
}

static int s_case_ckpt_model(const void *arg)
{
    const s_ckpt_arg_t *a = arg;
    const rumor_model_t *m = rumor_peer_model(a->p);
    const size_t d = rumor_model_nparams(m);
    float *x = calloc(d, sizeof *x);
    assert_non_null(x);
    rumor_checkpoint_info_t info = {0};
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_checkpoint_load_model(a->path, m, x, &info, &em));
    if (rc) {
        assert_true(em.msg[0]);
        for (size_t k = 0; k < d; k++) assert_true(x[k] == 0.0f);
    } else {
        assert_memory_equal(x, rumor_peer_params(a->p), d * sizeof *x);
        assert_int_equal(info.round, 1);
        assert_int_equal(info.node, a->self);
    }
    free(x);
    return rc;
}

static void test_checkpoint(void **state)
{
    (void)state;
    for (size_t i = 0; i < S_SCENARIOS; i++) {
        s_ckpt_arg_t a = {.run = &s_runs[i], .self = i == 1 ? 4 : 0};
        a.p = s_peer(a.run, a.self);
        const uint8_t *msg;
        size_t len;
        assert_int_equal(rumor_peer_step(a.p, &msg, &len), 0);
        rumor_peer_finish(a.p);
        rumor_topology_hash(a.run->topo, a.th);
        a.path = s_scratch("ckpt.safetensors");
        rumor_errmsg_t em = {""};
        if (rumor_checkpoint_save(a.path, a.p, a.th, &em)) fail_msg("%s", em.msg);
        if (rumor_checkpoint_save(s_fast("save-ckpt.safetensors"), a.p, a.th, &em))
            fail_msg("%s", em.msg);
        s_walk_some("checkpoint save", s_case_ckpt_save, &a);
        s_walk_some("checkpoint load", s_case_ckpt_load, &a);
        s_walk_some("checkpoint load model", s_case_ckpt_model, &a);
        rumor_peer_destroy(&a.p);
    }
}

/* ---- experiment grids ---- */

static int s_case_sweep(const void *arg)
{
    rumor_sweep_t *s = (rumor_sweep_t *)&s;
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_sweep_load(arg, 0, &s, &em));
    if (rc) {
        assert_null(s);
        assert_true(em.msg[0]);
        return rc;
    }
    assert_int_equal(s->n_cells, 2 * 2 * 3);
    assert_non_null(strstr(s->cells[s->n_cells - 1].scenario, "\"lambda\": 0.01"));
    rumor_sweep_destroy(&s);
    return 0;
}

typedef struct {
    const rumor_sweep_t *s;
    const char *path; /* the results file, written anew before each run */
    const char *text; /* its contents: the good rows, a row of another config, a torn line */
    const char *rows; /* the good rows alone, as the rewrite must leave them */
} s_results_arg_t;

/* The whole of the file at path (malloc'd). */
static char *s_contents(const char *path)
{
    char *text;
    size_t len;
    rumor_errmsg_t em = {""};
    if (rumor_file_read(path, (size_t)1 << 20, &text, &len, &em)) fail_msg("%s", em.msg);
    return text;
}

/* Reading a results file that holds rows to drop rewrites it: with every failing allocation the
 * file stays as it was, else it holds the good rows, whole. */
static int s_case_sweep_results(const void *arg)
{
    const s_results_arg_t *a = arg;
    const rumor_file_piece_t piece = {a->text, strlen(a->text)};
    assert_int_equal(rumor_file_save(a->path, 0644, 0, &piece, 1, NULL), 0);
    json_t *rows = (json_t *)&rows;
    size_t dropped = 0;
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_sweep_read_results(a->s, a->path, &rows, &dropped, &em));
    char *now = s_contents(a->path);
    if (rc) {
        assert_null(rows);
        assert_true(em.msg[0]);
        assert_string_equal(now, a->text);
    } else {
        assert_int_equal(dropped, 2);
        assert_int_equal(json_array_size(rows), a->s->n_cells);
        assert_string_equal(now, a->rows);
        json_decref(rows);
    }
    free(now);
    return rc;
}

/* The results walk's file: a row of every cell, a row of another config, a torn line. */
static void s_results_walk(const char *grid)
{
    rumor_sweep_t *s;
    rumor_errmsg_t em = {""};
    if (rumor_sweep_load(grid, 0, &s, &em)) fail_msg("%s", em.msg);
    char rows[8192] = "", text[9000];
    json_t *summary = json_pack("{s:f, s:f, s:i, s:s}", "acc_avg_model", 0.8125, "loss", 0.5,
                                "round", 4, "scenario", "alloc");
    assert_non_null(summary);
    for (size_t c = 0; c < s->n_cells; c++) { /* 12: the table of rows grows */
        json_t *row = rumor_sweep_row(s, c, summary, NULL, 1.5 + (double)c);
        char *t;
        size_t len;
        assert_int_equal(rumor_file_json(row, RUMOR_SWEEP_ROW_JSON, "row", &t, &len, NULL), 0);
        assert_true(strlen(rows) + len + 2 <= sizeof rows);
        strcat(strcat(rows, t), "\n");
        free(t);
        json_decref(row);
    }
    json_decref(summary);
    snprintf(text, sizeof text,
             "%s{\"variation\": \"raw\", \"seed\": 1, \"config\": \"another\"}\n{\"torn", rows);
    const s_results_arg_t a = {s, s_fast("results.jsonl"), text, rows};
    s_walk_some("sweep results", s_case_sweep_results, &a);
    rumor_sweep_destroy(&s);
}

static void test_sweep(void **state)
{
    (void)state;
    const char *path = s_scratch("grid.json");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"name\": \"alloc\", \"description\": \"a grid\", \"base\": "
            "\"%s/sims/synthetic-ring8-malcom.json\", \"set\": {\"algorithm.rounds\": 4},"
            " \"variations\": [{\"name\": \"raw\", \"set\": {\"codec\": \"raw\"}},"
            " {\"name\": \"vsc\", \"set\": {\"codec\": \"vsc\"}}],"
            " \"axes\": [{\"key\": \"algorithm.lambda\", \"values\": [0, 0.01]}],"
            " \"seeds\": [1, 2, 3]}\n",
            RUMOR_SOURCE_DIR);
    assert_int_equal(fclose(f), 0);
    s_walk_some("sweep", s_case_sweep, path);
    s_results_walk(path);
}

/* ---- librumor's endpoint ---- */

static const char s_endpoint_json[] =
    "{\"model\": \"external:20\", \"algorithm\": {\"name\": \"choco\", \"gamma\": 0.5,"
    " \"rounds\": 3}, \"compressor\": \"dither:8\"}";

/* A triangle on inproc endpoints of their own (a closed endpoint's name is not free at once),
 * written to the fast directory; its path. */
static const char *s_inproc_triangle(void)
{
    static unsigned net;
    const char *topo = s_fast("endpoint.json");
    FILE *f = fopen(topo, "w");
    assert_non_null(f);
    fprintf(f, "{\"nodes\": [");
    for (int i = 0; i < 3; i++)
        fprintf(f, "%s{\"id\": %d, \"endpoint\": \"inproc://alloc-%u-%d\"}", i ? ", " : "", i, net,
                i);
    fprintf(f, "], \"edges\": [[0, 1], [1, 2], [0, 2]]}\n");
    assert_int_equal(fclose(f), 0);
    net++;
    return topo;
}

typedef struct {
    const char *topo; /* NULL: a fresh s_inproc_triangle, plaintext */
    const char *key;  /* node 0's secret key file (topo's keys), or NULL */
} s_endpoint_arg_t;

/* Node 0 of a triangle: open, one look, close. */
static int s_case_endpoint(const void *arg)
{
    const s_endpoint_arg_t *a = arg;
    const char *topo = a->topo ? a->topo : s_inproc_triangle();
    const rumor_options_t o = {.insecure = !a->key, .wait_s = 1};
    rumor_endpoint_t *g = (rumor_endpoint_t *)&g;
    int rc;
    S_ARMED(rc = rumor_open(&g, s_endpoint_json, topo, 0, a->key, &o));
    if (rc) {
        assert_null(g);
        assert_true(rumor_last_error(NULL)[0]);
        return rc;
    }
    assert_int_equal(rumor_dim(g), 20);
    assert_int_equal(rumor_degree(g), 2);
    assert_int_equal(rumor_close(g), 0);
    return 0;
}

static void test_endpoint(void **state)
{
    (void)state;
    const s_endpoint_arg_t plain = {NULL, NULL};
    s_walk_some("endpoint", s_case_endpoint, &plain);
    /* the same over tcp loopback with CurveZMQ keys made by `rumor keygen` */
    const char *bin = getenv("RUMOR_BIN");
    if (!bin) fail_msg("RUMOR_BIN: the rumor program, to make keys (ctest sets it)");
    const unsigned port = s_port_block();
    assert_true(port > 0);
    char cmd[1024], out[1024], key[sizeof s_dir + 32];
    snprintf(cmd, sizeof cmd,
             "(cd '%s' && '%s' topo gen ring --n 3 --port-base %u -o plain.json && "
             "'%s' keygen --topology plain.json --dir keys -o secure.json)",
             s_dir, bin, port, bin);
    if (s_capture(cmd, out, sizeof out) != 0) fail_msg("%s", out);
    snprintf(key, sizeof key, "%s/keys/node0.key", s_dir);
    const s_endpoint_arg_t secure = {s_scratch("secure.json"), key};
    s_walk_some("secure endpoint", s_case_endpoint, &secure);
}

/* ---- the simulator ---- */

static int s_case_sim(const void *arg)
{
    const s_run_t *r = arg;
    const rumor_sim_opts_t opts = {.threads = 1, .models_out = s_scratch("models.bin")};
    rumor_sim_result_t res;
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_sim_run(&r->sc, &opts, &res, &em));
    if (rc) {
        assert_true(em.msg[0]);
        return rc;
    }
    assert_int_equal(res.round, r->sc.rounds);
    assert_true(res.acc_avg_model > 0);
    return 0;
}

/* A run with checkpoints and a crashed peer, in a fresh directory each time. */
static int s_case_sim_ckpt(const void *arg)
{
    const rumor_scenario_t *sc = arg;
    const char *dir = s_fast("sim-ckpt");
    char cmd[sizeof s_dir + 96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    const rumor_sim_opts_t opts = {.threads = 1, .checkpoint_dir = dir, .checkpoint_every = 2};
    rumor_sim_result_t res;
    rumor_errmsg_t em = {""};
    int rc;
    S_ARMED(rc = rumor_sim_run(sc, &opts, &res, &em));
    char state[sizeof s_dir + 96];
    snprintf(state, sizeof state, "%s/sim.json", dir);
    if (rc) {
        assert_true(em.msg[0]);
        /* the run's state written before the failure, if any, stands whole */
        if (access(state, F_OK) == 0) {
            json_t *j = json_load_file(state, 0, NULL);
            if (!json_is_integer(json_object_get(j, "round")))
                fail_msg("k = %ld: %s is not a whole state file", s_fail_at, state);
            json_decref(j);
        }
        return rc;
    }
    assert_int_equal(res.round, sc->rounds);
    /* the finished run's checkpoint is read whole: its models evaluated again */
    rumor_sim_result_t again;
    if (rumor_sim_run(sc, &opts, &again, &em)) fail_msg("%s", em.msg);
    assert_int_equal(again.round, sc->rounds);
    assert_true(again.acc_avg_model == res.acc_avg_model);
    return 0;
}

/* rumor_sim_run on 4 worker threads with the k-th start failing: RUMOR_ENOMEM and a message,
 * the workers that did start stopped (the run returns), nothing leaked. */
static void test_sim_threads(void **state)
{
    (void)state;
    const rumor_sim_opts_t opts = {.threads = 4};
    for (long k = 1; k <= 4; k++) {
        s_fail_at = 0; /* no allocation fails */
        s_thread_fail_at = k;
        s_threads = 0;
        rumor_sim_result_t res;
        rumor_errmsg_t em = {""};
        int rc;
        S_ARMED(rc = rumor_sim_run(&s_runs[0].sc, &opts, &res, &em));
        if (k < 4) {
            assert_int_equal(rc, RUMOR_ENOMEM);
            if (!strstr(em.msg, "cannot start worker thread")) fail_msg("%s", em.msg);
        } else { /* three threads to start: none failed */
            assert_int_equal(s_threads, 3);
            assert_int_equal(rc, 0);
            assert_int_equal(res.round, s_runs[0].sc.rounds);
        }
    }
    s_thread_fail_at = 0;
}

static void test_sim(void **state)
{
    (void)state;
    for (size_t i = 0; i < S_SCENARIOS; i++) s_walk_some("sim", s_case_sim, &s_runs[i]);
    rumor_scenario_t sc = s_runs[0].sc;
    sc.target_acc = 0.01; /* reached at once: the checkpoints keep it */
    sc.faults[sc.n_faults++] =
        (rumor_fault_t){.kind = RUMOR_FAULT_CRASH, .node = 2, .from = 1, .to = 3, .every = 2};
    rumor_scenario_rehash(&sc);
    s_walk_some("sim with checkpoints", s_case_sim_ckpt, &sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),       cmocka_unit_test(test_cmsg),
        cmocka_unit_test(test_compressors), cmocka_unit_test(test_robust),
        cmocka_unit_test(test_gossip),      cmocka_unit_test(test_model),
        cmocka_unit_test(test_link),        cmocka_unit_test(test_file_json),
        cmocka_unit_test(test_topology),    cmocka_unit_test(test_scenario),
        cmocka_unit_test(test_data),        cmocka_unit_test(test_peer),
        cmocka_unit_test(test_checkpoint),  cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_sim),         cmocka_unit_test(test_sim_threads),
        cmocka_unit_test(test_sweep),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
