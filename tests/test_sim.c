/* Tests of sim: seeded simulations train, and reproduce bit for bit across thread counts. */
#define _GNU_SOURCE /* fopencookie: a metrics stream that stops the run */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/compress.h"
#include "rumor/data.h"
#include "rumor/model.h"
#include "rumor/quant.h"
#include "rumor/sim.h"
#include "rumor/vec.h"
#include "support.h"

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void s_scenario(rumor_scenario_t *sc, const char *algo, const char *compressor,
                       double lambda, uint32_t rounds)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"name\": \"t\", \"topology\": {\"generate\": \"ring\", \"n\": 8},"
             " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 1000, \"dim\": 20,"
             " \"classes\": 4, \"sep\": 4.0},"
             " \"algorithm\": {\"name\": \"%s\", \"lr\": 0.1, \"gamma\": 0.5, \"lambda\": %g,"
             " \"batch\": 16, \"rounds\": %u}, \"compressor\": \"%s\", \"seed\": 3,"
             " \"eval_every\": 50}",
             algo, lambda, rounds, compressor);
    rumor_errmsg_t em = {""};
    if (rumor_scenario_parse(json, "test", ".", sc, &em)) fail_msg("%s", em.msg);
}

/* Runs and returns the metrics file's content (malloc'd). */
static char *s_run(const rumor_scenario_t *sc, uint32_t threads, rumor_sim_result_t *res,
                   const char *models)
{
    FILE *mf = tmpfile();
    assert_non_null(mf);
    const rumor_sim_opts_t opts = {
        .threads = threads, .metrics = mf, .timing = 0, .models_out = models};
    rumor_errmsg_t em = {""};
    if (rumor_sim_run(sc, &opts, res, &em)) fail_msg("%s", em.msg);
    const long len = ftell(mf);
    rewind(mf);
    char *buf = calloc(1, (size_t)len + 1);
    assert_int_equal(fread(buf, 1, (size_t)len, mf), (size_t)len);
    fclose(mf);
    return buf;
}

/* Runs sc on 1 and on 3 threads, whose metrics must be identical; returns them, with the
 * result of the 1-thread run in res. */
static char *s_run_on_1_and_3(const rumor_scenario_t *sc, rumor_sim_result_t *res)
{
    rumor_sim_result_t r3;
    char *a = s_run(sc, 1, res, NULL);
    char *b = s_run(sc, 3, &r3, NULL);
    assert_string_equal(a, b);
    free(b);
    return a;
}

static void test_algorithms_train(void **state)
{
    (void)state;
    const char *algos[][2] = {{"dpsgd", "identity"},
                              {"choco", "dither:16"},
                              {"malcom", "dither:16"},
                              {"choco", "topk:0.2"},
                              {"malcom", "natural:8"}};
    for (size_t a = 0; a < sizeof algos / sizeof *algos; a++) {
        rumor_scenario_t sc;
        s_scenario(&sc, algos[a][0], algos[a][1], 0.0, 300);
        rumor_sim_result_t res;
        free(s_run(&sc, 2, &res, NULL));
        if (res.acc_avg_model < 0.85 || res.acc_min < 0.8)
            fail_msg("%s/%s: acc_avg_model %.3f, acc_min %.3f", algos[a][0], algos[a][1],
                     res.acc_avg_model, res.acc_min);
        assert_int_equal(res.round, 300);
        assert_true(res.bytes_sent > 0);
        assert_true(res.consensus_dist < 0.1);
    }
}

static void test_lambda_sparsifies(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    rumor_sim_result_t dense, sparse;
    s_scenario(&sc, "malcom", "dither:16", 0.0, 300);
    free(s_run(&sc, 2, &dense, NULL));
    s_scenario(&sc, "malcom", "dither:16", 0.02, 300);
    free(s_run(&sc, 2, &sparse, NULL));
    assert_true(sparse.density < 0.8 * dense.density);
    assert_true(sparse.acc_avg_model > dense.acc_avg_model - 0.05);
}

static void test_bit_reproducible_across_threads(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    s_scenario(&sc, "malcom", "dither:8", 0.001, 120);
    rumor_sim_result_t r1, r3;
    char m1[] = "/tmp/rumor-sim-models-XXXXXX", m3[] = "/tmp/rumor-sim-models-XXXXXX";
    close(mkstemp(m1));
    close(mkstemp(m3));
    char *a = s_run(&sc, 1, &r1, m1);
    char *b = s_run(&sc, 3, &r3, m3);
    assert_string_equal(a, b);
    assert_true(strlen(a) > 100);
    FILE *fa = fopen(m1, "rb"), *fb = fopen(m3, "rb");
    assert_non_null(fa);
    assert_non_null(fb);
    int ca, cb;
    long n = 0;
    do {
        ca = fgetc(fa);
        cb = fgetc(fb);
        assert_int_equal(ca, cb);
        n++;
    } while (ca != EOF);
    assert_true(n > 8 * 84 * 4);
    fclose(fa);
    fclose(fb);
    unlink(m1);
    unlink(m3);
    /* A different seed gives a different run. */
    sc.seed = 4;
    rumor_scenario_rehash(&sc);
    char *c = s_run(&sc, 2, &r1, NULL);
    assert_string_not_equal(a, c);
    free(a);
    free(b);
    free(c);
}

/* The same seeded run on 1 and 2 threads and with each dithering path the CPU has forced
 * (RUMOR_SIMD) gives byte-identical metrics and models. */
static void test_bit_reproducible_across_simd_paths(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    s_scenario(&sc, "malcom", "dither:8:biased", 0.001, 60);
    char *want = NULL, *want_models = NULL;
    long want_len = 0;
    for (int p = RUMOR_SIMD_SCALAR; p <= (int)rumor_simd_best(); p++)
        for (uint32_t threads = 1; threads <= 2; threads++) {
            assert_int_equal(setenv("RUMOR_SIMD", rumor_simd_name((rumor_simd_t)p), 1), 0);
            char path[] = "/tmp/rumor-sim-models-XXXXXX";
            close(mkstemp(path));
            rumor_sim_result_t r;
            char *got = s_run(&sc, threads, &r, path);
            FILE *f = fopen(path, "rb");
            assert_non_null(f);
            fseek(f, 0, SEEK_END);
            const long len = ftell(f);
            rewind(f);
            char *models = malloc((size_t)len);
            assert_non_null(models);
            assert_int_equal(fread(models, 1, (size_t)len, f), (size_t)len);
            fclose(f);
            unlink(path);
            if (!want) {
                want = got;
                want_models = models;
                want_len = len;
                assert_true(len >= 8 * 84 * 4);
                continue;
            }
            assert_string_equal(got, want);
            assert_int_equal(len, want_len);
            assert_memory_equal(models, want_models, (size_t)len);
            free(got);
            free(models);
        }
    unsetenv("RUMOR_SIMD");
    free(want);
    free(want_models);
}

/* Every peer's final model of a run with models written to path (8 peers, d = 84); malloc'd. */
static float *s_models(const char *path)
{
    const size_t count = 8 * 84;
    float *x = malloc(count * sizeof *x);
    assert_non_null(x);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(x, sizeof *x, count, f), count);
    assert_int_equal(fgetc(f), EOF);
    fclose(f);
    unlink(path);
    return x;
}

/* 1 when the metrics record of round r (a JSON line of text) contains member. */
static int s_record_has(const char *text, uint32_t r, const char *member)
{
    char head[32];
    snprintf(head, sizeof head, "{\"round\": %u, ", r);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, head, strlen(head))) continue;
        const char *end = strchr(line, '\n'), *at = strstr(line, member);
        return at && (!end || at < end);
    }
    return 0;
}

static void s_add_fault(rumor_scenario_t *sc, rumor_fault_t f)
{
    sc->faults[sc->n_faults++] = f;
    rumor_scenario_rehash(sc);
}

static void s_add_outage(rumor_scenario_t *sc, uint32_t node, uint32_t from, uint32_t to)
{
    s_add_fault(sc,
                (rumor_fault_t){.kind = RUMOR_FAULT_DOWN, .node = node, .from = from, .to = to});
}

/* The scenario of the fault tests: 8 peers, 600 rounds, no faults yet. */
static void s_fault_scenario(rumor_scenario_t *sc)
{
    s_scenario(sc, "malcom", "dither:8", 0.001, 600);
}

/* r, a run of s_fault_scenario with faults added, agrees and learns as well as the run
 * without them (simulated once, on the first call). */
static void s_expect_like_fault_free(const rumor_sim_result_t *r)
{
    static rumor_sim_result_t ref;
    static int have_ref;
    if (!have_ref) {
        rumor_scenario_t sc;
        s_fault_scenario(&sc);
        free(s_run(&sc, 2, &ref, NULL));
        have_ref = 1;
    }
    if (!(r->consensus_dist < 3 * ref.consensus_dist) || !(r->acc_min > ref.acc_min - 0.02))
        fail_msg("consensus %.3e (fault-free %.3e), acc_min %.4f (fault-free %.4f)",
                 r->consensus_dist, ref.consensus_dist, r->acc_min, ref.acc_min);
}

/* A peer out from round 60 to the end keeps, bit for bit, the model it has after 60 rounds
 * of the same run without the fault, on any number of threads, while its neighbours go on
 * without it. */
static void test_fault_freezes_a_peer(void **state)
{
    (void)state;
    rumor_scenario_t sc, upto;
    s_scenario(&sc, "malcom", "dither:8", 0.001, 100);
    s_add_outage(&sc, 3, 60, 100);
    s_scenario(&upto, "malcom", "dither:8", 0.001, 60);
    char m1[] = "/tmp/rumor-sim-models-XXXXXX", m3[] = "/tmp/rumor-sim-models-XXXXXX",
         m60[] = "/tmp/rumor-sim-models-XXXXXX";
    close(mkstemp(m1));
    close(mkstemp(m3));
    close(mkstemp(m60));
    rumor_sim_result_t r1, r3, r60;
    char *a = s_run(&sc, 1, &r1, m1);
    char *b = s_run(&sc, 3, &r3, m3);
    free(s_run(&upto, 2, &r60, m60));
    assert_string_equal(a, b);
    assert_true(s_record_has(a, 50, "\"peers_down\": 0,"));
    assert_true(s_record_has(a, 100, "\"peers_down\": 1,"));
    float *x1 = s_models(m1), *x3 = s_models(m3), *x60 = s_models(m60);
    assert_memory_equal(x1, x3, 8 * 84 * sizeof *x1);
    assert_memory_equal(x1 + 3 * 84, x60 + 3 * 84, 84 * sizeof *x1);
    assert_memory_not_equal(x1 + 2 * 84, x60 + 2 * 84, 84 * sizeof *x1);
    assert_memory_not_equal(x1 + 4 * 84, x60 + 4 * 84, 84 * sizeof *x1);
    free(x1);
    free(x3);
    free(x60);
    free(a);
    free(b);
}

/* Peers back from outages (3 out in rounds 100-299, its neighbour 4 in 250-349) resync their
 * copies of their neighbours' public models: the network agrees again as closely as without
 * the faults, and as accurately. (A peer that kept its stale copies would stay apart: this
 * run's consensus distance would be about 180 times the fault-free one.) */
static void test_peers_back_from_faults_rejoin(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    rumor_sim_result_t faulty;
    s_fault_scenario(&sc);
    s_add_outage(&sc, 3, 100, 300);
    s_add_outage(&sc, 4, 250, 350);
    char *a = s_run(&sc, 2, &faulty, NULL);
    assert_true(s_record_has(a, 250, "\"peers_down\": 1,"));
    assert_true(s_record_has(a, 300, "\"peers_down\": 2,"));
    assert_true(s_record_has(a, 350, "\"peers_down\": 1,")); /* out in round 349 */
    assert_true(s_record_has(a, 400, "\"peers_down\": 0,"));
    s_expect_like_fault_free(&faulty);
    assert_int_equal(faulty.peers_down, 0);
    free(a);

    /* A fault naming a node the topology lacks is refused before anything runs. */
    s_add_outage(&sc, 8, 1, 2);
    rumor_errmsg_t em = {""};
    const rumor_sim_opts_t opts = {.threads = 1};
    assert_int_equal(rumor_sim_run(&sc, &opts, &faulty, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "faults[2].node: 8 is not a node of the 8-node topology"));
}

/* 1 when files a and b have the same bytes. */
static int s_same_file(const char *a, const char *b)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static void s_add_crash(rumor_scenario_t *sc, uint32_t node, uint32_t from, uint32_t to,
                        uint32_t every)
{
    s_add_fault(
        sc, (rumor_fault_t){
                .kind = RUMOR_FAULT_CRASH, .node = node, .from = from, .to = to, .every = every});
}

/* A peer that crashes right after a checkpoint loses nothing: the run is, bit for bit, the
 * run in which it is only out for the same rounds. One that crashes 80 rounds after its
 * checkpoint restarts 80 rounds back, and the STATE exchange of its new session reloads the
 * copies on both sides: the network agrees again as closely as without the fault. (Without that
 * reload, consensus ends about 11 times the fault-free one.) */
static void test_crashed_peer_restarts_from_its_checkpoint(void **state)
{
    (void)state;
    rumor_scenario_t down, crash;
    rumor_sim_result_t r1, r2;
    char m1[] = "/tmp/rumor-sim-models-XXXXXX", m2[] = "/tmp/rumor-sim-models-XXXXXX";
    close(mkstemp(m1));
    close(mkstemp(m2));
    s_fault_scenario(&down);
    s_add_outage(&down, 3, 200, 300);
    s_fault_scenario(&crash);
    s_add_crash(&crash, 3, 200, 300, 100);
    free(s_run(&down, 2, &r1, m1));
    free(s_run(&crash, 3, &r2, m2));
    assert_true(s_same_file(m1, m2));
    unlink(m1);
    unlink(m2);

    s_fault_scenario(&crash);
    s_add_crash(&crash, 3, 280, 350, 100);
    s_add_crash(&crash, 4, 330, 400, 50); /* a neighbour, while 3 is out */
    char *a = s_run_on_1_and_3(&crash, &r1);
    assert_true(s_record_has(a, 350, "\"peers_down\": 2,"));
    s_expect_like_fault_free(&r1);
    free(a);
}

/* Every DIFF lost with probability 0.3: the receiver mixes with its stale copy, and its link
 * sees the gap at the sender's next DIFF and asks for a STATE. The run loses as many messages as
 * a binomial draw allows, reproduces on any number of threads, and still agrees and learns
 * as without losses (without the reloads, copies would stay apart for good). */
static void test_lost_messages_are_resynced(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    rumor_sim_result_t r1;
    s_fault_scenario(&sc);
    s_add_fault(&sc, (rumor_fault_t){.kind = RUMOR_FAULT_DROP, .drop = 0.3, .to = 600});
    char *a = s_run_on_1_and_3(&sc, &r1);
    /* 8 peers x 2 neighbours x 600 rounds = 9600 messages: mean 2880, sd 44.9. */
    if (r1.messages_lost < 2880 - 5 * 45 || r1.messages_lost > 2880 + 5 * 45)
        fail_msg("%llu messages lost of 9600 at p = 0.3", (unsigned long long)r1.messages_lost);
    assert_true(s_record_has(a, 600, "\"messages_lost\": "));
    s_expect_like_fault_free(&r1);
    free(a);
}

/* Stragglers: each (peer, round) straggles with probability 0.3, skipping its step, and its
 * DIFF is lost, so the receivers resync at its next one. The run straggles as often as a
 * binomial draw allows, reproduces on any number of threads and still agrees and learns as
 * without stragglers; so it does when their DIFFs come two rounds late. A listed peer that
 * straggles in every round of a span, its DIFFs on time, is the only one counted. */
static void test_stragglers_skip_steps_and_lose_diffs(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    rumor_sim_result_t r1;
    s_fault_scenario(&sc);
    s_add_fault(&sc,
                (rumor_fault_t){.kind = RUMOR_FAULT_STRAGGLE, .drop = 0.3, .late = -1, .to = 600});
    char *a = s_run_on_1_and_3(&sc, &r1);
    /* 8 peers x 600 rounds = 4800 steps: mean 1440, sd 31.7; two lost DIFFs per straggler. */
    if (r1.straggled < 1440 - 5 * 32 || r1.straggled > 1440 + 5 * 32)
        fail_msg("%llu stragglers of 4800 at p = 0.3", (unsigned long long)r1.straggled);
    assert_int_equal(r1.messages_lost, 2 * r1.straggled);
    assert_true(s_record_has(a, 600, "\"straggled\": "));
    s_expect_like_fault_free(&r1);
    free(a);

    s_fault_scenario(&sc);
    s_add_fault(&sc, (rumor_fault_t){.kind = RUMOR_FAULT_STRAGGLE,
                                     .drop = 1.0,
                                     .from = 100,
                                     .to = 300,
                                     .n_nodes = 1,
                                     .nodes = {5}});
    a = s_run_on_1_and_3(&sc, &r1);
    assert_int_equal(r1.straggled, 200);
    assert_int_equal(r1.messages_lost, 0);
    s_expect_like_fault_free(&r1);
    free(a);

    /* Stragglers' DIFFs two rounds late: later ones overtake them, and the links resync. */
    s_fault_scenario(&sc);
    s_add_fault(&sc,
                (rumor_fault_t){.kind = RUMOR_FAULT_STRAGGLE, .drop = 0.2, .late = 2, .to = 600});
    a = s_run_on_1_and_3(&sc, &r1);
    assert_int_equal(r1.messages_lost, 0);
    assert_true(r1.straggled > 0);
    s_expect_like_fault_free(&r1);
    free(a);

    /* When every peer straggles in every round, no one steps: no training loss, no progress. */
    s_scenario(&sc, "malcom", "dither:8", 0.001, 50);
    s_add_fault(&sc, (rumor_fault_t){.kind = RUMOR_FAULT_STRAGGLE, .drop = 1.0, .to = 50});
    free(s_run(&sc, 2, &r1, NULL));
    assert_int_equal(r1.straggled, 8 * 50);
    assert_true(r1.loss == 0.0);
    assert_true(r1.acc_avg_model < 0.5);
}

/* DIFFs 3 rounds late (a fifth of them, rounds 100 to 399): later frames overtake them, so
 * the receiver's link sees a gap, asks for a STATE, and drops the late one when it comes. The
 * run reproduces on any number of threads and learns as without the delays. */
static void test_late_diffs_are_resynced(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    rumor_sim_result_t r1;
    s_fault_scenario(&sc);
    s_add_fault(&sc,
                (rumor_fault_t){
                    .kind = RUMOR_FAULT_DELAY, .delay = 3, .drop = 0.2, .from = 100, .to = 400});
    char *a = s_run_on_1_and_3(&sc, &r1);
    s_expect_like_fault_free(&r1);
    assert_int_equal(r1.messages_lost, 0);
    free(a);
}

/* Deadline rounds of 100 ms on the virtual clock, every frame delayed by 5 to 150 ms: DIFFs
 * that miss the deadline are applied late, in order. The run reproduces on any number of
 * threads and learns as the synchronous one; without the delays it is the synchronous run,
 * bit for bit (every DIFF is in before the deadline). */
static void test_deadline_rounds_with_delays(void **state)
{
    (void)state;
    rumor_scenario_t sc, sync;
    rumor_sim_result_t r1, r0, rs;
    s_fault_scenario(&sc);
    sc.deadline = 1;
    sc.deadline_ms = 100;
    rumor_scenario_rehash(&sc);
    s_fault_scenario(&sync);
    char *d0 = s_run(&sc, 2, &r0, NULL), *s0 = s_run(&sync, 2, &rs, NULL);
    assert_string_equal(d0, s0);
    s_add_fault(
        &sc, (rumor_fault_t){.kind = RUMOR_FAULT_DELAY, .delay_lo = 5, .delay_hi = 150, .to = 600});
    char *a = s_run_on_1_and_3(&sc, &r1);
    assert_string_not_equal(a, d0);
    s_expect_like_fault_free(&r1);
    free(a);
    free(d0);
    free(s0);
}

/* The records of a metrics file's text (a JSON array of objects); the caller decrefs it. */
static json_t *s_records(const char *text)
{
    json_t *all = json_array();
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        json_t *rec = json_loadb(line, (size_t)(nl - line), 0, NULL);
        assert_non_null(rec);
        json_array_append_new(all, rec);
        line = nl + 1;
    }
    return all;
}

static double s_num(const json_t *rec, const char *key)
{
    json_t *v = json_object_get(rec, key);
    if (!json_is_number(v)) fail_msg("record without a number %s", key);
    return json_number_value(v);
}

/* target_round is the first evaluation whose acc_avg_model reaches target_acc, target_bytes the
 * bytes sent per peer by then; both stay null while it is not reached, and in the summary. */
static void test_target_round_and_bytes(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    s_scenario(&sc, "malcom", "dither:16", 0.001, 12);
    sc.eval_every = 1;
    rumor_sim_result_t res;
    char *text = s_run(&sc, 2, &res, NULL);
    assert_null(strstr(text, "target_")); /* no target, no fields */
    json_t *recs = s_records(text);
    free(text);
    /* The best accuracy of the run as the target: first reached at evaluation `first`. */
    size_t first = 0;
    for (size_t k = 1; k < json_array_size(recs); k++)
        if (s_num(json_array_get(recs, k), "acc_avg_model") >
            s_num(json_array_get(recs, first), "acc_avg_model"))
            first = k;
    json_t *hit = json_array_get(recs, first);
    sc.target_acc = s_num(hit, "acc_avg_model");
    text = s_run(&sc, 2, &res, NULL);
    json_t *with = s_records(text);
    free(text);
    assert_int_equal(res.target_round, (uint32_t)s_num(hit, "round"));
    assert_true(fabs(res.target_bytes - s_num(hit, "bytes_sent")) < 0.051);
    for (size_t k = 0; k < json_array_size(with); k++) {
        const json_t *rec = json_array_get(with, k), *tr = json_object_get(rec, "target_round");
        if (k < first)
            assert_true(json_is_null(tr) && json_is_null(json_object_get(rec, "target_bytes")));
        else
            assert_int_equal(json_integer_value(tr), res.target_round);
    }
    json_decref(with);
    json_decref(recs);

    /* Out of reach: null in the summary. */
    sc.target_acc = 1.0;
    text = s_run(&sc, 2, &res, NULL);
    free(text);
    assert_int_equal(res.target_round, 0);
    char line[2048];
    FILE *f = fmemopen(line, sizeof line, "w");
    assert_non_null(f);
    rumor_sim_result_write(f, &res, 0, NULL);
    fclose(f);
    assert_non_null(strstr(line, "\"target_acc\": 1, \"target_round\": null, "
                                 "\"target_bytes\": null"));

    /* The key is checked, and named. */
    const char *bad[] = {"1.01", "0", "\"0.8\""};
    for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
        char json[256];
        snprintf(json, sizeof json, "{\"name\": \"t\", \"target_acc\": %s}", bad[b]);
        rumor_errmsg_t em = {""};
        assert_int_equal(rumor_scenario_parse(json, "g.json", ".", &sc, &em), RUMOR_EINVAL);
        if (!strstr(em.msg, "g.json: target_acc: expected an accuracy in (0, 1]"))
            fail_msg("%s", em.msg);
    }
}

/* A run resumed from a checkpoint keeps the target it had reached before it stopped. */
static void test_target_survives_a_resume(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    s_scenario(&sc, "malcom", "dither:16", 0.001, 40);
    sc.eval_every = 10;
    sc.target_acc = 0.5;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", s_scratch("target-ckpt"));
    const rumor_sim_opts_t opts = {.threads = 2, .checkpoint_dir = dir, .checkpoint_every = 10};
    rumor_sim_result_t res;
    rumor_errmsg_t em = {""};
    if (rumor_sim_run(&sc, &opts, &res, &em)) fail_msg("%s", em.msg);
    assert_int_equal(res.target_round, 10);
    /* The finished run, started again, evaluates its models again at round 40. */
    if (rumor_sim_run(&sc, &opts, &res, &em)) fail_msg("%s", em.msg);
    assert_int_equal(res.round, 40);
    assert_int_equal(res.target_round, 10);
    /* A checkpoint of the same run with another target does not carry this one. */
    sc.target_acc = 0.6;
    if (rumor_sim_run(&sc, &opts, &res, &em)) fail_msg("%s", em.msg);
    assert_int_equal(res.target_round, 40);
}

/* Metrics that set *stop at the record of round `at` (one thread: the run ends in the next round
 * and the checkpoint of `at` stands), noting whether SIGINT or SIGTERM had a handler. */
typedef struct {
    volatile sig_atomic_t *stop;
    uint32_t at;
    int handled;
} s_stopper_t;

static ssize_t s_stopper_write(void *cookie, const char *buf, size_t len)
{
    s_stopper_t *st = cookie;
    struct sigaction a, b;
    sigaction(SIGINT, NULL, &a);
    sigaction(SIGTERM, NULL, &b);
    st->handled |= a.sa_handler != SIG_DFL || b.sa_handler != SIG_DFL;
    char key[32];
    snprintf(key, sizeof key, "\"round\": %u,", st->at);
    if (st->at && memmem(buf, len, key, strlen(key))) *st->stop = 1;
    return (ssize_t)len;
}

/* Runs sc on one thread, checkpointed every 10 rounds in dir and stopped after round stop_at
 * (0: never), its models into models (or NULL); rumor_sim_run's code. */
static int s_run_stopped(const rumor_scenario_t *sc, const char *dir, uint32_t stop_at,
                         const char *models, rumor_errmsg_t *em)
{
    volatile sig_atomic_t stop = 0;
    s_stopper_t st = {.stop = &stop, .at = stop_at};
    FILE *mf = fopencookie(&st, "w", (cookie_io_functions_t){.write = s_stopper_write});
    assert_non_null(mf);
    setvbuf(mf, NULL, _IONBF, 0);
    rumor_sim_opts_t o = {.threads = 1, .metrics = mf, .models_out = models, .stop = &stop};
    o.checkpoint_dir = dir;
    o.checkpoint_every = 10;
    rumor_sim_result_t res;
    const int rc = rumor_sim_run(sc, &o, &res, em);
    fclose(mf);
    assert_false(st.handled); /* the library leaves signals to the program */
    return rc;
}

/* Checkpoints keep no frames in flight: a resume that DELAY faults' frames cross is refused,
 * naming the fault; one past their reach ends with the uninterrupted run's models. */
static void test_resume_across_delays(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    s_fault_scenario(&sc);
    sc.rounds = 40;
    sc.eval_every = 10;
    s_add_fault(&sc, (rumor_fault_t){.kind = RUMOR_FAULT_DROP, .drop = 0.1, .to = 40});
    s_add_fault(&sc, (rumor_fault_t){.kind = RUMOR_FAULT_DELAY, .delay = 2, .drop = 0.5, .to = 40});
    const char *m1 = s_scratch("m1.bin"), *m2 = s_scratch("m2.bin"), *dir = s_scratch("ck-delay");
    assert_int_equal(s_run_stopped(&sc, dir, 20, NULL, &em), RUMOR_EINTR);
    assert_non_null(strstr(em.msg, "interrupted inside round 20"));
    assert_int_equal(s_run_stopped(&sc, dir, 0, NULL, &em), RUMOR_EINVAL);
    if (!strstr(em.msg, "cannot resume at round 20: faults[1] (a DELAY) has frames in flight"))
        fail_msg("%s", em.msg);
    /* Delays of 2 rounds up to round 10 are over by 12: round 20 resumes bit-exact. */
    sc.faults[1].to = 10;
    rumor_scenario_rehash(&sc);
    rumor_sim_result_t r;
    free(s_run(&sc, 1, &r, m1));
    dir = s_scratch("ck-delay-2");
    assert_int_equal(s_run_stopped(&sc, dir, 20, NULL, &em), RUMOR_EINTR);
    if (s_run_stopped(&sc, dir, 0, m2, &em)) fail_msg("%s", em.msg);
    assert_true(s_same_file(m1, m2));
}

/* compress_err is 0 without compression, shrinks with more quantization levels and stays
 * below 1 for a contraction; density_copy is 1 when the copies are the dense models. */
static void test_compress_err_and_copy_density(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    rumor_sim_result_t res, coarse, fine;
    s_scenario(&sc, "dpsgd", "identity", 0.0, 30);
    free(s_run(&sc, 2, &res, NULL));
    assert_true(res.compress_err == 0.0);
    assert_true(res.density_copy == 1.0);
    s_scenario(&sc, "choco", "identity", 0.0, 30);
    free(s_run(&sc, 2, &res, NULL));
    assert_true(res.compress_err < 1e-9);
    s_scenario(&sc, "choco", "dither:2:biased", 0.0, 30);
    free(s_run(&sc, 2, &coarse, NULL));
    s_scenario(&sc, "choco", "dither:64:biased", 0.0, 30);
    free(s_run(&sc, 2, &fine, NULL));
    if (!(fine.compress_err > 0 && fine.compress_err < coarse.compress_err &&
          coarse.compress_err < 1.0))
        fail_msg("compress_err: dither:64 %g, dither:2 %g", fine.compress_err, coarse.compress_err);
    /* The contraction measured on the run's residuals is within the compressor's worst case,
     * E||C(r) - r||^2 <= (1 - 1/delta) ||r||^2, i.e. delta_hat <= delta. */
    rumor_compress_cfg_t ccfg;
    assert_int_equal(rumor_compress_parse("dither:2:biased", &ccfg, NULL), 0);
    rumor_compressor_t *c = rumor_compressor_new(&ccfg, 84);
    assert_non_null(c);
    if (!(1.0 / (1.0 - coarse.compress_err) <= rumor_compressor_delta(c)))
        fail_msg("delta_hat %g, worst case %g", 1.0 / (1.0 - coarse.compress_err),
                 rumor_compressor_delta(c));
    rumor_compressor_destroy(&c);
    /* top-k 10%% keeps the residual's largest tenth: the public copies change there only. */
    s_scenario(&sc, "choco", "topk:0.1", 0.0, 2);
    free(s_run(&sc, 2, &res, NULL));
    assert_true(res.density_copy > 0.0 && res.density_copy <= 0.2 + 1e-9);
}

/* objective = loss + lambda * mean ||x_i||_1, and grad_norm_avg is the squared gradient norm
 * of the network-average model over the training subset, computed here in one piece. */
static void test_objective_and_gradient_norm(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    rumor_sim_result_t res;
    s_scenario(&sc, "malcom", "dither:16", 0.01, 60);
    sc.eval_every = 5;
    char path[512];
    snprintf(path, sizeof path, "%s", s_scratch("objective.bin"));
    char *text = s_run(&sc, 2, &res, path);
    float *x = s_models(path);
    double l1 = 0;
    for (int i = 0; i < 8; i++) l1 += rumor_vec_nrm1(x + i * 84, 84) / 8;
    assert_true(fabs(res.objective - (res.loss + 0.01 * l1)) < 1e-9);

    /* 4000 training rows (fewer than RUMOR_SIM_GRAD_ROWS): the subset is all of them. */
    rumor_dataset_t *all = NULL;
    assert_int_equal(rumor_data_synthetic(5000, 20, 4, 4.0, 3, &all), 0);
    rumor_model_spec_t spec;
    rumor_errmsg_t em = {""};
    assert_int_equal(rumor_model_spec_parse("softmax", 20, 4, &spec, &em), 0);
    rumor_model_t *m = rumor_model_new(&spec, 4000);
    assert_non_null(m);
    float avg[84] = {0}, g[84];
    for (int i = 0; i < 8; i++) rumor_vec_axpy(avg, 1.0f / 8, x + i * 84, 84);
    rumor_model_loss_grad(m, avg, all->x, all->y, 4000, g);
    const double want = rumor_vec_dot(g, g, 84);
    if (!(fabs(res.grad_norm_avg - want) < 1e-4 * want))
        fail_msg("grad_norm_avg %.9g, want %.9g", res.grad_norm_avg, want);
    /* Training brings the average model towards a stationary point. */
    json_t *recs = s_records(text);
    assert_true(s_num(json_array_get(recs, 0), "grad_norm_avg") > 2 * res.grad_norm_avg);
    json_decref(recs);
    rumor_model_destroy(&m);
    rumor_dataset_destroy(&all);
    free(x);
    free(text);

    s_scenario(&sc, "malcom", "dither:16", 0.0, 20);
    free(s_run(&sc, 2, &res, NULL));
    assert_true(res.objective == res.loss);
}

/* `rumor sim --checkpoint` killed with SIGKILL mid-run (inside an outage, with links awaiting
 * a STATE after lost DIFFs and stragglers' lost DIFFs, and with a crashed peer's checkpoint
 * still to restart from)
 * and started again with the same command resumes from its
 * last checkpoint and ends with exactly the models of an uninterrupted run. A checkpoint of
 * another run config, and a damaged one, are refused with a message. */
static void test_killed_sim_resumes_bit_for_bit(void **state)
{
    (void)state;
    const char *bin = getenv("RUMOR_BIN");
    if (!bin) skip();
    const char *json =
        "{\"name\": \"ckpt\", \"topology\": {\"generate\": \"ring\", \"n\": 8},"
        " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 1000, \"dim\": 20,"
        " \"classes\": 4, \"sep\": 4.0},"
        " \"algorithm\": {\"name\": \"malcom\", \"lr\": 0.1, \"gamma\": 0.5, \"lambda\": 0.001,"
        " \"batch\": 16, \"rounds\": 20000}, \"compressor\": \"dither:8\", \"seed\": 3,"
        " \"eval_every\": 1000, \"faults\": [{\"drop\": 0.1}, {\"node\": 2, \"down\": [300, "
        "1500]}, {\"node\": 5, \"crash\": [350, 1500], \"checkpoint_every\": 300},"
        " {\"straggle\": 0.1, \"late\": -1}]}";
    char sc_path[512], dir[512], ref[512], models[512];
    snprintf(sc_path, sizeof sc_path, "%s", s_scratch("ckpt.json"));
    snprintf(dir, sizeof dir, "%s", s_scratch("ckpt"));
    snprintf(ref, sizeof ref, "%s", s_scratch("ref.bin"));
    snprintf(models, sizeof models, "%s", s_scratch("resumed.bin"));
    FILE *f = fopen(sc_path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);

    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    char cmd[2048], out[4096];
    if (rumor_scenario_parse(json, "ckpt.json", ".", &sc, &em)) fail_msg("%s", em.msg);
    rumor_sim_result_t res;
    free(s_run(&sc, 2, &res, ref));
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(bin, bin, "sim", sc_path, "--quiet", "--checkpoint", dir, "--checkpoint-every", "50",
              "--models", models, (char *)NULL);
        _exit(127);
    }
    uint32_t at = 0;
    for (int i = 0;
         i < 3000 && !(rumor_sim_checkpoint_round(dir, &sc, &at, NULL) == 1 && at >= 500); i++)
        usleep(2000);
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st)) fail_msg("the run ended (status %d) before it was killed", st);
    assert_int_equal(rumor_sim_checkpoint_round(dir, &sc, &at, &em), 1);
    assert_true(at >= 500 && at < 20000);
    if (at <= 1500) { /* node 5's checkpoint of round 300 is part of the simulator's */
        snprintf(cmd, sizeof cmd, "test -f %s/a/fault2.safetensors -o -f %s/b/fault2.safetensors",
                 dir, dir);
        assert_int_equal(system(cmd), 0);
    }

    snprintf(cmd, sizeof cmd, "%s sim %s --quiet --checkpoint %s --models %s", bin, sc_path, dir,
             models);
    if (s_capture(cmd, out, sizeof out) != 0) fail_msg("resume failed: %s", out);
    if (!s_same_file(models, ref))
        fail_msg("resumed from round %u, the models differ from an uninterrupted run's", at);

    /* Another seed is another run: refused before its metrics file is touched. */
    snprintf(cmd, sizeof cmd,
             "echo '{\"round\": 9000}' > %s/m.jsonl && %s sim %s --quiet --seed 4 --checkpoint %s "
             "--metrics %s/m.jsonl",
             s_dir, bin, sc_path, dir, s_dir);
    assert_int_equal(s_capture(cmd, out, sizeof out), 1);
    if (!strstr(out, "its checkpoint is of another run config")) fail_msg("%s", out);
    snprintf(cmd, sizeof cmd, "grep -qx '{\"round\": 9000}' %s/m.jsonl", s_dir);
    assert_int_equal(system(cmd), 0);
    /* A damaged state file. */
    snprintf(cmd, sizeof cmd, "echo '{\"round\": 3}' > %s/sim.json && %s sim %s --checkpoint %s",
             dir, bin, sc_path, dir);
    assert_int_equal(s_capture(cmd, out, sizeof out), 1);
    if (!strstr(out, "sim.json: not a rumor sim checkpoint")) fail_msg("%s", out);
}

/* A model that diverges stops the run in the round its SGD step leaves non-finite parameters,
 * with an error that says so, instead of spreading NaN to every peer. */
static void test_divergence_is_reported(void **state)
{
    (void)state;
    const char *json =
        "{\"name\": \"t\", \"topology\": {\"generate\": \"ring\", \"n\": 8},"
        " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 1000, \"dim\": 20,"
        " \"classes\": 4, \"sep\": 4.0}, \"model\": \"mlp:16\","
        " \"algorithm\": {\"name\": \"choco\", \"lr\": 1e6, \"gamma\": 0.5, \"batch\": 16,"
        " \"rounds\": 300}, \"compressor\": \"identity\", \"seed\": 3, \"eval_every\": 50}";
    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    if (rumor_scenario_parse(json, "test", ".", &sc, &em)) fail_msg("%s", em.msg);
    FILE *mf = tmpfile();
    assert_non_null(mf);
    const rumor_sim_opts_t opts = {.threads = 2, .metrics = mf, .timing = 0};
    rumor_sim_result_t res;
    assert_int_equal(rumor_sim_run(&sc, &opts, &res, &em), RUMOR_ENONFINITE);
    assert_non_null(strstr(em.msg, "diverged"));
    assert_true(res.round < 300);
    fclose(mf);
}

static int s_setup(void **state)
{
    (void)state;
    return s_scratch_make("sim");
}

static int s_teardown(void **state)
{
    (void)state;
    return s_scratch_remove();
}

/* SIGTERM ends a long round between two peers' steps (64 peers of 1000 local steps each take
 * seconds per round): the run stops within a peer's step, drops the half-stepped round and
 * says so, rather than finish the round first. */
static void test_sigterm_ends_a_long_round(void **state)
{
    (void)state;
    const char *bin = getenv("RUMOR_BIN");
    if (!bin) skip();
    char sc_path[512];
    snprintf(sc_path, sizeof sc_path, "%s", s_scratch("long-round.json"));
    FILE *f = fopen(sc_path, "w");
    assert_non_null(f);
    fputs("{\"name\": \"long-round\", \"topology\": {\"generate\": \"ring\", \"n\": 64},"
          " \"data\": {\"name\": \"synthetic\", \"n\": 8192, \"test_n\": 256, \"dim\": 64,"
          " \"classes\": 4}, \"model\": \"mlp:256\", \"algorithm\": {\"name\": \"choco\","
          " \"lr\": 0.0001, \"batch\": 64, \"rounds\": 3, \"local_steps\": 1000},"
          " \"compressor\": \"identity\", \"eval_every\": 3}",
          f);
    fclose(f);
    char cmd[1024], out[4096];
    /* Signalled 1.5 s in (inside round 0), it must be gone within 3 s; the round alone takes
     * 5 s or more on one thread. */
    snprintf(cmd, sizeof cmd,
             "(%s sim %s --threads 1 --quiet & pid=$!; sleep 1.5; kill -TERM $pid;"
             " s=$(date +%%s%%N); wait $pid; rc=$?; e=$(date +%%s%%N);"
             " echo \"rc=$rc ms=$(( (e - s) / 1000000 ))\")",
             bin, sc_path);
    assert_int_equal(s_capture(cmd, out, sizeof out), 0);
    const char *r = strstr(out, "rc=");
    int rc = -1, ms = -1;
    if (!r || sscanf(r, "rc=%d ms=%d", &rc, &ms) != 2) fail_msg("%s", out);
    if (rc != 1 || ms > 3000 || !strstr(out, "interrupted inside round 0, which is dropped"))
        fail_msg("exit %d, %d ms after SIGTERM:\n%s", rc, ms, out);
}

/* A torus of 16 (degree 4) with peer 5 Byzantine from round 0, rule robust. */
static void s_byzantine_scenario(rumor_scenario_t *sc, const char *algo, const char *robust,
                                 const char *attack)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"name\": \"t\", \"topology\": {\"generate\": \"torus\", \"n\": 16},"
             " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 1000, \"dim\": 20,"
             " \"classes\": 4, \"sep\": 4.0},"
             " \"algorithm\": {\"name\": \"%s\", \"lr\": 0.1, \"gamma\": 0.5, \"batch\": 16,"
             " \"rounds\": 300, \"robust\": \"%s\"}, \"compressor\": \"%s\","
             " \"seed\": 7, \"eval_every\": 100, \"faults\": [%s]}",
             algo, robust, strcmp(algo, "dpsgd") ? "dither:8:biased" : "identity", attack);
    rumor_errmsg_t em = {""};
    if (rumor_scenario_parse(json, "test", ".", sc, &em)) fail_msg("%s", em.msg);
}

/* A sign-flipping neighbour (x 10) ruins the honest peers' accuracy under the plain mix and
 * not under clip:auto, which clips every one of its terms; honest figures leave it out, and
 * an attacker that never attacks ("none") changes nothing. CHOCO and D-PSGD, 1 and 3 threads
 * alike. */
static void test_byzantine_signflip_and_clip_auto(void **state)
{
    (void)state;
    const char *flip = "{\"byzantine\": \"signflip\", \"nodes\": [5], \"s\": 10}";
    const char *algos[] = {"choco", "dpsgd"};
    for (int a = 0; a < 2; a++) {
        rumor_scenario_t sc;
        rumor_sim_result_t plain, clipped, free_run;
        s_byzantine_scenario(&sc, algos[a], "none", "{\"byzantine\": \"none\", \"nodes\": [5]}");
        free(s_run(&sc, 2, &free_run, NULL));
        assert_true(free_run.byzantine);
        assert_true(free_run.acc_min_honest > 0.95);
        s_byzantine_scenario(&sc, algos[a], "none", flip);
        free(s_run(&sc, 2, &plain, NULL));
        assert_true(plain.acc_min_honest < 0.5);
        assert_false(plain.clips);
        s_byzantine_scenario(&sc, algos[a], "clip:auto", flip);
        char *text = s_run_on_1_and_3(&sc, &clipped);
        assert_true(clipped.acc_min_honest > free_run.acc_min_honest - 0.01);
        assert_true(clipped.clips);
        assert_true(clipped.clipped_frac_byz == 1.0);
        assert_true(clipped.clipped_frac_honest < 0.3);
        assert_non_null(strstr(text, "\"acc_min_honest\": "));
        assert_non_null(strstr(text, "\"clipped_frac_byz\": 1.000000"));
        free(text);
    }
}

/* Every attack decodes (no peer counts a bad message) and the run stays finite under
 * clip:auto; trim:1 keeps the honest peers too; a trim wider than the degree is refused. */
static void test_byzantine_attacks_are_well_formed(void **state)
{
    (void)state;
    const char *attacks[] = {"\"signflip\"", "\"noise\", \"norm\": 50",
                             "\"constant\", \"value\": 5", "\"alie\", \"z\": 1.5",
                             "\"scale\", \"factor\": -20"};
    for (size_t k = 0; k < sizeof attacks / sizeof *attacks; k++) {
        char fault[160];
        snprintf(fault, sizeof fault, "{\"byzantine\": %s, \"nodes\": [5], \"from\": 20}",
                 attacks[k]);
        rumor_scenario_t sc;
        rumor_sim_result_t res;
        s_byzantine_scenario(&sc, "choco", "clip:auto", fault);
        free(s_run(&sc, 2, &res, NULL));
        assert_true(res.acc_min_honest > 0.95);
        s_byzantine_scenario(&sc, "choco", "trim:1", fault);
        free(s_run(&sc, 2, &res, NULL));
        assert_true(res.acc_min_honest > 0.95);
    }
    /* trim:2 needs degree 5; the torus has 4: refused, naming the key */
    rumor_scenario_t sc;
    rumor_sim_result_t res;
    s_byzantine_scenario(&sc, "choco", "trim:2", "");
    rumor_errmsg_t em = {""};
    const rumor_sim_opts_t opts = {.threads = 1};
    assert_int_equal(rumor_sim_run(&sc, &opts, &res, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "algorithm.robust: trim:2 needs every node's degree to be at "
                                   "least 5; node 0 has 4 neighbours"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_algorithms_train),
        cmocka_unit_test(test_lambda_sparsifies),
        cmocka_unit_test(test_bit_reproducible_across_threads),
        cmocka_unit_test(test_bit_reproducible_across_simd_paths),
        cmocka_unit_test(test_divergence_is_reported),
        cmocka_unit_test(test_fault_freezes_a_peer),
        cmocka_unit_test(test_peers_back_from_faults_rejoin),
        cmocka_unit_test(test_lost_messages_are_resynced),
        cmocka_unit_test(test_crashed_peer_restarts_from_its_checkpoint),
        cmocka_unit_test(test_resume_across_delays),
        cmocka_unit_test(test_stragglers_skip_steps_and_lose_diffs),
        cmocka_unit_test(test_late_diffs_are_resynced),
        cmocka_unit_test(test_deadline_rounds_with_delays),
        cmocka_unit_test(test_killed_sim_resumes_bit_for_bit),
        cmocka_unit_test(test_target_round_and_bytes),
        cmocka_unit_test(test_target_survives_a_resume),
        cmocka_unit_test(test_compress_err_and_copy_density),
        cmocka_unit_test(test_objective_and_gradient_norm),
        cmocka_unit_test(test_sigterm_ends_a_long_round),
        cmocka_unit_test(test_byzantine_signflip_and_clip_auto),
        cmocka_unit_test(test_byzantine_attacks_are_well_formed),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
