/* Tests of sim: seeded simulations train, and reproduce bit for bit across thread counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_algorithms_train),
        cmocka_unit_test(test_lambda_sparsifies),
        cmocka_unit_test(test_bit_reproducible_across_threads),
        cmocka_unit_test(test_divergence_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
