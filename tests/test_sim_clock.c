/* Tests of sim on per-peer clocks (deadline rounds with round_mode.compute_ms or a SLOW fault):
 * without slow peers it is the lockstep run, bit for bit; a slow peer does every step late and
 * mixes its neighbours' DIFFs of later rounds, as a hand-driven pair of peers on the same
 * schedule does; slow peers finish last and the network still learns; the faults and options
 * that need a common round are refused. */
#include "sim_support.h"

#include "rumor/peer.h"

/* The fault scenario in deadline rounds of 100 ms, 200 rounds. */
static void s_deadline_scenario(rumor_scenario_t *sc)
{
    s_fault_scenario(sc);
    sc->rounds = 200;
    sc->deadline = 1;
    sc->deadline_ms = 100;
    rumor_scenario_rehash(sc);
}

/* Runs sc with models written to `models` and returns the per-peer clocks' summary line of
 * its progress output (malloc'd); res gets the result. */
static char *s_run_summary(const rumor_scenario_t *sc, rumor_sim_result_t *res, const char *models)
{
    FILE *prog = tmpfile(), *mf = tmpfile();
    assert_non_null(prog);
    assert_non_null(mf);
    const rumor_sim_opts_t opts = {
        .threads = 2, .metrics = mf, .progress = prog, .models_out = models};
    rumor_errmsg_t em = {""};
    if (rumor_sim_run(sc, &opts, res, &em)) fail_msg("%s", em.msg);
    static char text[8192];
    memset(text, 0, sizeof text);
    rewind(prog);
    assert_true(fread(text, 1, sizeof text - 1, prog) > 0);
    fclose(prog);
    fclose(mf);
    const char *line = strstr(text, "rumor sim: per-peer clocks:");
    if (!line) fail_msg("no summary in: %s", text);
    char *out = strdup(line);
    assert_non_null(out);
    return out;
}

/* With every step as long (compute_ms, no SLOW fault) every DIFF of a round comes at once, so
 * per-peer clocks run the lockstep rounds: the same records and models, bit for bit, every
 * round 10 ms long with no wait. */
static void test_equal_clocks_are_lockstep(void **state)
{
    (void)state;
    rumor_scenario_t sc, clocked;
    s_deadline_scenario(&sc);
    clocked = sc;
    clocked.compute_ms = 10;
    rumor_scenario_rehash(&clocked);
    assert_false(rumor_scenario_clocked(&sc));
    assert_true(rumor_scenario_clocked(&clocked));
    assert_memory_not_equal(sc.hash, clocked.hash, sizeof sc.hash);
    char m0[] = "/tmp/rumor-sim-models-XXXXXX", m1[] = "/tmp/rumor-sim-models-XXXXXX";
    close(mkstemp(m0));
    close(mkstemp(m1));
    rumor_sim_result_t r0, r1;
    char *a = s_run(&sc, 2, &r0, m0), *b = s_run(&clocked, 2, &r1, m1);
    assert_string_equal(a, b);
    assert_true(strlen(a) > 100);
    char *line = s_run_summary(&clocked, &r1, NULL);
    if (!strstr(line, "rounds of 10.0 to 10.0 ms (a peer's mean), waits of 0.0 to 0.0 ms a round, "
                      "0.0% of the rounds closed at the deadline, the last peer done at 2.00 s"))
        fail_msg("%s", line);
    free(line);
    float *x0 = s_models(m0), *x1 = s_models(m1);
    assert_memory_equal(x0, x1, 8 * 84 * sizeof *x0);
    free(x0);
    free(x1);
    free(a);
    free(b);
}

/* Two peers; peer 1 takes 150 ms more a step, every step takes 10 ms, the deadline is 100 ms.
 * Peer 0's round k starts at 110 k, its DIFF leaves at 110 k + 10 and the round closes at the
 * deadline, 110 k + 110 (peer 1's DIFF of round k leaves at 160 k + 160). Peer 1's round k
 * starts at 160 k and closes when its DIFF leaves, 160 k + 160, peer 0's of round k being in:
 * it mixes peer 0's DIFFs of rounds up to (160 k + 150) / 110, later than its own (round 1 in
 * its round 0). Driving two peers by hand on this schedule gives the simulator's models. */
static void test_slow_peer_mixes_later_rounds(void **state)
{
    (void)state;
    enum { R = 12, D = 84 };
    const char *json =
        "{\"name\": \"t\", \"topology\": {\"generate\": \"complete\", \"n\": 2},"
        " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 1000, \"dim\": 20,"
        " \"classes\": 4, \"sep\": 4.0},"
        " \"algorithm\": {\"name\": \"malcom\", \"lr\": 0.1, \"gamma\": 0.5, \"lambda\": 0.001,"
        " \"batch\": 16, \"rounds\": 12}, \"compressor\": \"dither:8\", \"seed\": 3,"
        " \"eval_every\": 4, \"round_mode\": {\"deadline_ms\": 100, \"compute_ms\": 10},"
        " \"faults\": [{\"slow\": 150, \"nodes\": [1]}]}";
    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    if (rumor_scenario_parse(json, "test", ".", &sc, &em)) fail_msg("%s", em.msg);
    char path[] = "/tmp/rumor-sim-models-XXXXXX";
    close(mkstemp(path));
    rumor_sim_result_t res;
    free(s_run(&sc, 1, &res, path));
    float sim_x[2 * D];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(sim_x, sizeof *sim_x, 2 * D, f), 2 * D);
    fclose(f);
    unlink(path);

    rumor_topology_t *topo = NULL;
    rumor_peer_data_t data;
    assert_int_equal(rumor_scenario_topology(&sc, &topo, &em), 0);
    assert_int_equal(rumor_peer_data_load(&sc, 2, RUMOR_PEER_ALL, &data, &em), 0);
    rumor_peer_t *p[2];
    for (uint32_t i = 0; i < 2; i++) {
        const rumor_peer_cfg_t pc = rumor_peer_data_cfg(&data, &sc, topo, i, RUMOR_PEER_EVAL_ROWS);
        assert_int_equal(rumor_peer_create(&pc, &p[i], &em), 0);
    }
    /* m[i][k]: peer i's message of round k; leave[i](k): when it leaves; close[i](k) */
    static uint8_t m[2][R][4096];
    size_t len[2][R];
    const long step_ms[2] = {110, 160}, leave_ms[2] = {10, 160};
    uint32_t k[2] = {0, 0}, heard[2] = {0, 0}; /* heard[i]: the other's DIFFs peer i took */
    for (uint32_t i = 0; i < 2; i++) {
        const uint8_t *msg;
        assert_int_equal(rumor_peer_step(p[i], &msg, &len[i][0]), 0);
        assert_true(len[i][0] <= sizeof m[i][0]);
        memcpy(m[i][0], msg, len[i][0]);
    }
    uint32_t later = 0; /* DIFFs of a later round than the hearer's */
    while (k[0] < R || k[1] < R) {
        const long c0 = k[0] < R ? step_ms[0] * k[0] + 110 : LONG_MAX;
        const long c1 = k[1] < R ? step_ms[1] * k[1] + 160 : LONG_MAX;
        const uint32_t i = c0 < c1 ? 0 : 1, o = 1 - i;
        const long now = i ? c1 : c0;
        /* the other's DIFFs that left by now, in order (it stepped them before they left) */
        while (heard[i] < (o ? k[1] + (k[1] < R) : k[0] + (k[0] < R)) &&
               step_ms[o] * heard[i] + leave_ms[o] <= now) {
            later += heard[i] > k[i];
            assert_int_equal(rumor_peer_deliver(p[i], o, m[o][heard[i]], len[o][heard[i]]), 0);
            heard[i]++;
        }
        rumor_peer_finish(p[i]);
        if (++k[i] == R) continue;
        const uint8_t *msg;
        assert_int_equal(rumor_peer_step(p[i], &msg, &len[i][k[i]]), 0);
        memcpy(m[i][k[i]], msg, len[i][k[i]]);
    }
    assert_true(later >= R / 3); /* the slow peer heard the future, often */
    assert_memory_equal(rumor_peer_params(p[0]), sim_x, D * sizeof(float));
    assert_memory_equal(rumor_peer_params(p[1]), sim_x + D, D * sizeof(float));
    for (uint32_t i = 0; i < 2; i++) rumor_peer_destroy(&p[i]);
    rumor_peer_data_free(&data);
    rumor_topology_destroy(&topo);
}

/* Two of 8 peers 150 ms slower a step (10 ms each, deadline 100 ms): their rounds last 160 ms,
 * their neighbours' 110 (each waits out the deadline); the two with no slow neighbour run a
 * step ahead of those and end a wait (100 ms) earlier, 109.5 ms a round; the slow ones finish
 * last, at 200 x 160 ms. The run reproduces, every model differs from the run without them,
 * and the network learns as well. */
static void test_slow_peers_finish_last(void **state)
{
    (void)state;
    rumor_scenario_t sc, slow;
    s_deadline_scenario(&sc);
    sc.compute_ms = 10;
    rumor_scenario_rehash(&sc);
    slow = sc;
    s_add_fault(
        &slow,
        (rumor_fault_t){
            .kind = RUMOR_FAULT_SLOW, .slow_ms = 150, .to = 600, .n_nodes = 2, .nodes = {1, 5}});
    char m0[] = "/tmp/rumor-sim-models-XXXXXX", m1[] = "/tmp/rumor-sim-models-XXXXXX";
    close(mkstemp(m0));
    close(mkstemp(m1));
    rumor_sim_result_t r0, r1, r2;
    free(s_run(&sc, 2, &r0, m0));
    char *line = s_run_summary(&slow, &r1, m1);
    if (!strstr(line, "rounds of 109.5 to 160.0 ms") || !strstr(line, "last peer done at 32.00 s"))
        fail_msg("%s", line);
    free(line);
    char *a = s_run(&slow, 1, &r2, NULL), *b = s_run(&slow, 3, &r2, NULL);
    assert_string_equal(a, b);
    free(a);
    free(b);
    float *x0 = s_models(m0), *x = s_models(m1);
    for (uint32_t i = 0; i < 8; i++) /* every peer mixed with late copies, or is one */
        assert_memory_not_equal(x0 + i * 84, x + i * 84, 84 * sizeof *x0);
    free(x);
    free(x0);
    if (!(r1.acc_min > r0.acc_min - 0.02) || !(r1.consensus_dist < 3 * r0.consensus_dist))
        fail_msg("acc_min %.4f (no slow peers %.4f), consensus %.3e (%.3e)", r1.acc_min, r0.acc_min,
                 r1.consensus_dist, r0.consensus_dist);
}

/* Per-peer clocks with lost DIFFs (resynced with STATEs) and frames 5 to 50 ms late (in order
 * per edge) besides the slow peers: the run reproduces, loses DIFFs, and learns as the run with
 * the same losses and delays and no slow peer does. */
static void test_slow_peers_with_losses_and_delays(void **state)
{
    (void)state;
    rumor_scenario_t lossy, slow;
    s_deadline_scenario(&lossy);
    lossy.compute_ms = 10;
    s_add_fault(&lossy, (rumor_fault_t){.kind = RUMOR_FAULT_DROP, .drop = 0.05, .to = 600});
    s_add_fault(&lossy, (rumor_fault_t){
                            .kind = RUMOR_FAULT_DELAY, .delay_lo = 5, .delay_hi = 50, .to = 600});
    slow = lossy;
    s_add_fault(
        &slow,
        (rumor_fault_t){
            .kind = RUMOR_FAULT_SLOW, .slow_ms = 150, .to = 600, .n_nodes = 2, .nodes = {1, 5}});
    rumor_sim_result_t r0, r1, r2;
    free(s_run(&lossy, 1, &r0, NULL));
    char *a = s_run(&slow, 1, &r1, NULL), *b = s_run(&slow, 2, &r2, NULL);
    assert_string_equal(a, b);
    free(a);
    free(b);
    assert_true(r0.messages_lost > 0 && r1.messages_lost > 0);
    if (!(r1.acc_min > r0.acc_min - 0.02) || !(r1.consensus_dist < 3 * r0.consensus_dist))
        fail_msg("acc_min %.4f (no slow peer %.4f), consensus %.3e (%.3e)", r1.acc_min, r0.acc_min,
                 r1.consensus_dist, r0.consensus_dist);
}

/* SLOW faults need deadline rounds; per-peer clocks take no fault of a common round (DOWN,
 * CRASH, STRAGGLE, DELAY by rounds) and no checkpoints; a bad compute_ms is named. */
static void test_clocks_refuse_common_rounds(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    const rumor_fault_t slow = {
        .kind = RUMOR_FAULT_SLOW, .slow_ms = 150, .to = 600, .n_nodes = 1, .nodes = {5}};
    s_fault_scenario(&sc);
    s_add_fault(&sc, slow);
    assert_int_equal(rumor_scenario_check_faults(&sc, 8, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "faults[0].slow: deadline rounds only"));

    const rumor_fault_t common[] = {
        {.kind = RUMOR_FAULT_DOWN, .node = 2, .from = 10, .to = 20},
        {.kind = RUMOR_FAULT_CRASH, .node = 2, .from = 10, .to = 20, .every = 5},
        {.kind = RUMOR_FAULT_STRAGGLE, .drop = 0.5, .to = 600},
        {.kind = RUMOR_FAULT_DELAY, .delay = 2, .drop = 1, .to = 600}};
    const char *names[] = {"down", "crash", "straggle", "delay"};
    for (size_t k = 0; k < 4; k++) {
        s_deadline_scenario(&sc);
        sc.compute_ms = 5;
        s_add_fault(&sc, common[k]);
        assert_int_equal(rumor_scenario_check_faults(&sc, 8, &em), RUMOR_EINVAL);
        char want[64];
        snprintf(want, sizeof want, "faults[0].%s: not with per-peer clocks", names[k]);
        if (!strstr(em.msg, want)) fail_msg("%s", em.msg);
        sc.compute_ms = 0; /* lockstep: taken */
        rumor_scenario_rehash(&sc);
        assert_int_equal(rumor_scenario_check_faults(&sc, 8, &em), 0);
    }
    s_deadline_scenario(&sc);
    s_add_fault(
        &sc, (rumor_fault_t){.kind = RUMOR_FAULT_DELAY, .delay_lo = 5, .delay_hi = 50, .to = 600});
    s_add_fault(&sc, slow);
    assert_int_equal(rumor_scenario_check_faults(&sc, 8, &em), 0);

    const rumor_sim_opts_t opts = {.threads = 1, .checkpoint_dir = s_scratch("clock-ckpt")};
    rumor_sim_result_t r;
    assert_int_equal(rumor_sim_run(&sc, &opts, &r, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "--checkpoint: not with per-peer clocks"));

    const char *bad = "{\"round_mode\": {\"deadline_ms\": 100, \"compute_ms\": -1}}";
    assert_int_equal(rumor_scenario_parse(bad, "t.json", ".", &sc, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "round_mode.compute_ms"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_clocks_are_lockstep),
        cmocka_unit_test(test_slow_peer_mixes_later_rounds),
        cmocka_unit_test(test_slow_peers_finish_last),
        cmocka_unit_test(test_slow_peers_with_losses_and_delays),
        cmocka_unit_test(test_clocks_refuse_common_rounds),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
