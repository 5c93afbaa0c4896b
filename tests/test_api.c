/* Tests of librumor's public API (rumor.h): endpoints of a ring over inproc sockets in one
 * process, one thread each, gossiping a caller-owned vector; and the same ring over tcp
 * loopback with CurveZMQ (keys from the rumor binary in RUMOR_BIN). */
#include "rumor/rumor.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

#define S_N 4   /* ring of 4 */
#define S_D 300 /* parameters */

static int s_net; /* a fresh set of inproc endpoint names per topology */
static char s_topo[256];
static int s_secure; /* s_topo is on tcp loopback with keys in s_dir/keys */

/* Writes a ring of S_N nodes on fresh inproc endpoints into s_topo. */
static void s_ring(void)
{
    snprintf(s_topo, sizeof s_topo, "%s", s_scratch("ring.json"));
    FILE *f = fopen(s_topo, "w");
    assert_non_null(f);
    fprintf(f, "{\"name\": \"ring4\", \"nodes\": [");
    for (int i = 0; i < S_N; i++)
        fprintf(f, "%s{\"id\": %d, \"endpoint\": \"inproc://api-%d-%d\"}", i ? ", " : "", i, s_net,
                i);
    fprintf(f, "], \"edges\": [[0, 1], [1, 2], [2, 3], [3, 0]], \"weights\": \"metropolis\"}\n");
    fclose(f);
    s_net++;
    s_secure = 0;
}

/* The same ring on tcp loopback, with a key pair per node, into s_topo. */
static void s_ring_secure(void)
{
    const char *bin = getenv("RUMOR_BIN");
    assert_non_null(bin);
    const unsigned port = s_port_block();
    assert_true(port > 0);
    char cmd[2048], out[1024];
    snprintf(s_topo, sizeof s_topo, "%s", s_scratch("secure.json"));
    snprintf(cmd, sizeof cmd,
             "cd '%s' && rm -rf keys && '%s' topo gen ring --n %d --port-base %u -o plain.json && "
             "'%s' keygen --topology plain.json --dir keys -o secure.json",
             s_dir, bin, S_N, port, bin);
    if (s_capture(cmd, out, sizeof out) != 0) fail_msg("%s", out);
    s_secure = 1;
}

static const char *s_scenario(uint32_t rounds)
{
    static _Thread_local char json[512]; /* the ring's threads call it at once */
    snprintf(json, sizeof json,
             "{\"name\": \"api\", \"model\": \"external:%d\", \"algorithm\": {\"name\": "
             "\"malcom\", \"gamma\": 0.5, \"lambda\": 0, \"rounds\": %u}, \"compressor\": "
             "\"dither:8:biased\", \"codec\": \"auto\", \"seed\": 3}",
             S_D, rounds);
    return json;
}

typedef struct {
    uint32_t id, rounds; /* the scenario's rounds */
    uint32_t until;      /* stop after this round (0: rounds, then try one more) */
    int step;            /* add a peer-specific drift before each round (a "local step") */
    const char *load;    /* rumor's state to load before the first round, or NULL */
    const char *save;    /* where to save it after the last round, or NULL */
    float x[S_D];
    int rc, extra_rc; /* the rounds' result; a round past the scenario's last */
    char extra_msg[256];
    uint64_t sent;
    uint32_t done; /* rounds completed */
    int late_load; /* rumor_load after the rounds */
    rumor_edge_t edge0;
} s_job_t;

static void *s_run(void *arg)
{
    s_job_t *j = arg;
    const rumor_options_t o = {.insecure = !s_secure, .wait_s = 30};
    char key[sizeof s_dir + 32];
    snprintf(key, sizeof key, "%s/keys/node%u.key", s_dir, j->id);
    rumor_endpoint_t *g;
    j->rc = rumor_open(&g, s_scenario(j->rounds), s_topo, j->id, s_secure ? key : NULL, &o);
    if (j->rc) return NULL;
    if (j->load)
        j->rc = rumor_load(g, j->load);
    else
        j->rc = rumor_set_initial(g, j->x);
    const uint32_t until = j->until ? j->until : j->rounds;
    for (uint32_t t = 0; !j->rc && rumor_round(g) < until; t++) {
        if (j->step)
            for (int i = 0; i < S_D; i++) j->x[i] += 0.01f * (float)(j->id + 1) * (i % 7 - 3);
        j->rc = rumor_gossip_round(g, j->x);
    }
    if (!j->rc && !j->until) {
        j->extra_rc = rumor_gossip_round(g, j->x);
        snprintf(j->extra_msg, sizeof j->extra_msg, "%s", rumor_last_error(g));
        j->sent = rumor_bytes_sent(g);
        j->rc = rumor_edge(g, 0, &j->edge0);
    }
    if (!j->rc && j->save) j->rc = rumor_save(g, j->save);
    j->done = rumor_round(g);
    if (j->load) j->late_load = rumor_load(g, j->load);
    const int crc = rumor_close(g);
    if (!j->rc) j->rc = crc;
    return NULL;
}

/* Runs the ring's S_N endpoints in threads. */
static void s_run_ring(s_job_t *jobs)
{
    pthread_t th[S_N];
    for (int i = 0; i < S_N; i++)
        assert_int_equal(pthread_create(&th[i], NULL, s_run, &jobs[i]), 0);
    for (int i = 0; i < S_N; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < S_N; i++) assert_int_equal(jobs[i].rc, 0);
}

static void s_jobs(s_job_t *jobs, uint32_t rounds, int step)
{
    memset(jobs, 0, S_N * sizeof *jobs);
    for (uint32_t i = 0; i < S_N; i++) {
        jobs[i].id = i;
        jobs[i].rounds = rounds;
        jobs[i].step = step;
        for (int k = 0; k < S_D; k++) jobs[i].x[k] = sinf((float)k); /* the common x0 */
    }
}

/* Identical models with no step are a fixed point: every residual is 0 (the mix rounds). */
static void test_identical_models_stay_put(void **state)
{
    (void)state;
    s_ring();
    static s_job_t jobs[S_N];
    s_jobs(jobs, 5, 0);
    s_run_ring(jobs);
    for (int i = 0; i < S_N; i++)
        for (int k = 0; k < S_D; k++) assert_true(fabsf(jobs[i].x[k] - sinf((float)k)) < 1e-6f);
}

/* Drifting models are pulled together, and a run repeats bit for bit. */
static void test_gossip_mixes_and_repeats(void **state)
{
    (void)state;
    static s_job_t a[S_N], b[S_N];
    s_ring();
    s_jobs(a, 30, 1);
    s_run_ring(a);
    s_ring();
    s_jobs(b, 30, 1);
    s_run_ring(b);
    /* Without gossip, peers 0 and 3 would differ by 0.01 * 3 * 30 * |i % 7 - 3| <= 2.7. */
    double spread = 0;
    for (int k = 0; k < S_D; k++) spread = fmax(spread, fabs(a[0].x[k] - a[3].x[k]));
    assert_true(spread < 0.5);
    for (int i = 0; i < S_N; i++) {
        assert_memory_equal(a[i].x, b[i].x, sizeof a[i].x);
        assert_true(a[i].sent > 0);
        assert_int_equal(a[i].edge0.neighbour, i == 0 ? 1 : i == 3 ? 0 : i - 1); /* ascending */
        assert_true(a[i].edge0.bytes_recv > 0);
        /* a round past the scenario's last is refused with a message */
        assert_true(a[i].extra_rc < 0);
        assert_non_null(strstr(a[i].extra_msg, "30 rounds are done"));
    }
}

/* Secure endpoints of one process share its context's ZAP handler: over tcp with CurveZMQ,
 * one thread each, the ring ends bit for bit where the plaintext inproc ring ends. */
static void test_secure_endpoints_share_one_process(void **state)
{
    (void)state;
    static s_job_t plain[S_N], secure[S_N];
    s_ring();
    s_jobs(plain, 20, 1);
    s_run_ring(plain);
    s_ring_secure();
    s_jobs(secure, 20, 1);
    s_run_ring(secure);
    for (int i = 0; i < S_N; i++) assert_memory_equal(plain[i].x, secure[i].x, sizeof plain[i].x);
}

/* rumor's state saved after 10 rounds and loaded into fresh endpoints goes on exactly as an
 * unbroken run of 20 rounds; a load after the first round is refused. */
static void test_save_and_load_resume(void **state)
{
    (void)state;
    static s_job_t whole[S_N], first[S_N], second[S_N];
    static char paths[S_N][256];
    s_ring();
    s_jobs(whole, 20, 1);
    s_run_ring(whole);
    s_ring(); /* both halves on one topology: rumor's state is bound to its hash */
    s_jobs(first, 20, 1);
    for (int i = 0; i < S_N; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/state%d", s_dir, i);
        first[i].until = 10;
        first[i].save = paths[i];
    }
    s_run_ring(first);
    s_jobs(second, 20, 1);
    for (int i = 0; i < S_N; i++) {
        memcpy(second[i].x, first[i].x, sizeof second[i].x);
        second[i].load = paths[i];
    }
    s_run_ring(second);
    for (int i = 0; i < S_N; i++) {
        assert_int_equal(second[i].done, 20);
        assert_int_equal(second[i].late_load, -2 /* RUMOR_EINVAL */);
    }
    for (int i = 0; i < S_N; i++) assert_memory_equal(whole[i].x, second[i].x, sizeof whole[i].x);
}

static void test_open_errors_name_the_problem(void **state)
{
    (void)state;
    s_ring();
    rumor_endpoint_t *g = (rumor_endpoint_t *)1;
    const rumor_options_t o = {.insecure = 1};
    assert_true(rumor_open(&g, "{\"model\": \"softmax\"}", s_topo, 0, NULL, &o) < 0);
    assert_null(g);
    assert_non_null(strstr(rumor_last_error(NULL), "must be external:D"));
    assert_true(rumor_open(&g, "{\"model\": \"external:0\"}", s_topo, 0, NULL, &o) < 0);
    assert_non_null(strstr(rumor_last_error(NULL), "external:D"));
    assert_true(rumor_open(&g, s_scenario(5), s_topo, 9, NULL, &o) < 0);
    assert_non_null(strstr(rumor_last_error(NULL), "--id 9"));
    assert_true(rumor_open(&g, s_scenario(5), s_topo, 0, NULL, NULL) < 0); /* no key */
    assert_non_null(strstr(rumor_last_error(NULL), "secret key"));
    assert_true(rumor_open(&g, s_scratch("missing.json"), s_topo, 0, NULL, &o) < 0);
    assert_non_null(strstr(rumor_last_error(NULL), "missing.json"));
    assert_non_null(strstr(rumor_version(), "rumor "));
}

/* A NaN from the caller's step is an error that says so, not a message to the neighbours. */
static void test_nonfinite_params_are_refused(void **state)
{
    (void)state;
    char topo[256];
    snprintf(topo, sizeof topo, "%s/solo.json", s_dir);
    FILE *f = fopen(topo, "w");
    assert_non_null(f);
    fprintf(f, "{\"name\": \"solo\", \"nodes\": [{\"id\": 0, \"endpoint\": "
               "\"inproc://api-solo\"}], \"edges\": []}\n");
    fclose(f);
    rumor_endpoint_t *g;
    const rumor_options_t o = {.insecure = 1};
    assert_int_equal(rumor_open(&g, s_scenario(5), topo, 0, NULL, &o), 0);
    static float x[S_D];
    assert_int_equal(rumor_gossip_round(g, x), 0);
    x[7] = NAN;
    assert_true(rumor_gossip_round(g, x) < 0);
    assert_non_null(strstr(rumor_last_error(g), "caller's step left non-finite parameters"));
    assert_true(isnan(x[7])); /* the parameters are left as they were */
    assert_int_equal(rumor_round(g), 1);
    rumor_close(g);
}

static int s_setup(void **state)
{
    (void)state;
    return s_scratch_make("api");
}

static int s_teardown(void **state)
{
    (void)state;
    return s_scratch_remove();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_models_stay_put),
        cmocka_unit_test(test_gossip_mixes_and_repeats),
        cmocka_unit_test(test_secure_endpoints_share_one_process),
        cmocka_unit_test(test_save_and_load_resume),
        cmocka_unit_test(test_open_errors_name_the_problem),
        cmocka_unit_test(test_nonfinite_params_are_refused),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
