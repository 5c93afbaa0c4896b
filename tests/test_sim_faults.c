/* Tests of sim's faults: frozen and returning peers, lost messages, crashed peers that
 * restart from their checkpoints, stragglers, late DIFFs and deadline rounds with delays,
 * each agreeing with the run without faults. */
#include "sim_support.h"

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

static void s_add_outage(rumor_scenario_t *sc, uint32_t node, uint32_t from, uint32_t to)
{
    s_add_fault(sc,
                (rumor_fault_t){.kind = RUMOR_FAULT_DOWN, .node = node, .from = from, .to = to});
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

/* data.coded_scale none leaves the coded step of a run with stragglers unscaled: its models
 * differ from the unbiased run's; without stragglers there is nothing to scale, and the two
 * runs end with the same models, bit for bit. */
static void test_coded_scale_none(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    rumor_sim_result_t r;
    char m[2][32] = {"/tmp/rumor-sim-models-XXXXXX", "/tmp/rumor-sim-models-XXXXXX"};
    close(mkstemp(m[0]));
    close(mkstemp(m[1]));
    for (int straggle = 1; straggle >= 0; straggle--) {
        for (int none = 0; none < 2; none++) {
            s_scenario(&sc, "malcom", "dither:8", 0.001, 100);
            sc.redundancy = 2;
            sc.coded_unscaled = none;
            if (straggle)
                s_add_fault(&sc,
                            (rumor_fault_t){
                                .kind = RUMOR_FAULT_STRAGGLE, .drop = 0.3, .late = -1, .to = 100});
            rumor_scenario_rehash(&sc);
            free(s_run(&sc, 2, &r, m[none]));
        }
        float *a = s_models(m[0]), *b = s_models(m[1]);
        if (straggle)
            assert_memory_not_equal(a, b, 8 * 84 * sizeof *a);
        else
            assert_memory_equal(a, b, 8 * 84 * sizeof *a);
        free(a);
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_freezes_a_peer),
        cmocka_unit_test(test_peers_back_from_faults_rejoin),
        cmocka_unit_test(test_lost_messages_are_resynced),
        cmocka_unit_test(test_crashed_peer_restarts_from_its_checkpoint),
        cmocka_unit_test(test_stragglers_skip_steps_and_lose_diffs),
        cmocka_unit_test(test_late_diffs_are_resynced),
        cmocka_unit_test(test_deadline_rounds_with_delays),
        cmocka_unit_test(test_coded_scale_none),
    };
    return s_run_tests(tests, s_setup, s_teardown);
}
