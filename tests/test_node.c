/* Tests of node: real `rumor peer` processes on tcp loopback with CurveZMQ.
 *   - a synchronous run is bit-identical to `rumor sim` with the same scenario and seed;
 *   - a synchronous peer restarted with an edited scenario stops every peer, naming the
 *     mismatch; a stalled synchronous run's error names the neighbour that is silent;
 *   - in deadline mode a BYE with an error takes the neighbour out of the mix until it is
 *     heard again; a peer refuses a scenario with simulated faults;
 *   - in deadline mode a peer killed with SIGKILL and restarted from its checkpoint rejoins,
 *     and the run ends within a point of the fault-free accuracy;
 *   - in synchronous mode a peer interrupted and restarted from its checkpoint rejoins, and
 *     the run ends bit-identical to `rumor sim`; so too 8 peers running BEER with full-sync
 *     rounds and quasi-global momentum, and with a tracker of the output layer alone, and
 *     8 peers under clip:auto+shift, one of them an ALIE attacker (a neighbour of it
 *     restarted, or the attacker itself); ALIE from round 0, where neighbours may send
 *     their first DIFFs before the attacker has stepped, is too;
 *   - in deadline mode a peer whose neighbours are all stopped goes on without them and
 *     hears them again once they continue;
 *   - a peer that has nothing else to send (here: waiting for a neighbour that never comes)
 *     keeps its other neighbours hearing HEARTBEATs, a quarter of its liveness timeout apart.
 * Hostile frames are in test_node_hostile.c.
 */
#include "node_support.h"

static void test_eight_peers_match_simulator(void **state)
{
    (void)state;
    char topo[256];
    pid_t pids[8];
    s_start_sync_ring(8, 150, 1, pids, topo, NULL, NULL);
    s_wait_all(8, pids);
    s_assert_matches_sim(8);
    /* The comparison sees one byte changed: the peers' models with one byte of node 4's flipped
     * no longer match the simulator's. */
    char all[256], flipped[256], sim[256];
    s_path(all, sizeof all, "peers.bin");
    s_path(flipped, sizeof flipped, "peers-flipped.bin");
    s_path(sim, sizeof sim, "sim.bin");
    FILE *f = fopen(all, "rb");
    assert_non_null(f);
    uint8_t models[1 << 16];
    const size_t n = fread(models, 1, sizeof models, f);
    assert_true(n > 0 && n < sizeof models && feof(f));
    fclose(f);
    for (int flip = 1; flip >= 0; flip--) { /* and without the flip they still match */
        models[n / 2] ^= (uint8_t)flip;
        f = fopen(flipped, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(models, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(s_files_equal(flipped, sim), !flip);
        models[n / 2] ^= (uint8_t)flip;
    }
}

/* Issue 20, item 3: synchronous node 1 interrupted and started again with an edited scenario
 * (another learning rate) is refused, and then every peer stops with an error naming the
 * mismatch, rather than finish without it; each one's last metrics record says why. */
static void test_restart_with_edited_scenario_stops_everyone(void **state)
{
    (void)state;
    char topo[256], json[1024], sc[256], cmd[1024];
    pid_t pids[4];
    s_start_sync_ring(4, 200000, 1, pids, topo, NULL, "60");
    for (int i = 0; i < 600 && s_last_round(1) < 200; i++) usleep(20000);
    assert_true(s_last_round(1) >= 200);
    kill(pids[1], SIGINT);
    assert_true(s_wait(pids[1], 20) > 0);
    snprintf(json, sizeof json, s_sync_scenario, 200000u, 1u);
    char *lr = strstr(json, "\"lr\": 0.1");
    assert_non_null(lr);
    memcpy(lr, "\"lr\": 0.2", 9);
    s_path(sc, sizeof sc, "scenario.json");
    s_write(sc, json);
    pids[1] = s_start_peer(1, topo, NULL, "60", "peer1.log", NULL);
    s_expect_all_stop(pids, 40, "mismatch");
    for (uint32_t i = 0; i < 4; i++) {
        snprintf(cmd, sizeof cmd, "tail -n 1 %s/peer%u.jsonl | jq -e '.stop' >/dev/null", s_dir, i);
        assert_int_equal(s_run(cmd), 0);
    }
}

/* Issue 20, item 9: node 2 stopped (SIGSTOP) in a synchronous run with --wait 4: its
 * neighbours' final error names node 2 as the one silent, not some neighbour. */
static void test_stall_error_names_the_silent_neighbour(void **state)
{
    (void)state;
    char topo[256], log[256];
    pid_t pids[4];
    s_start_sync_ring(4, 200000, 1, pids, topo, NULL, "4");
    for (int i = 0; i < 600 && s_last_round(2) < 100; i++) usleep(20000);
    assert_true(s_last_round(2) >= 100);
    kill(pids[2], SIGSTOP);
    for (uint32_t i = 0; i < 4; i++)
        if (i != 2) assert_true(s_wait(pids[i], 30) > 0);
    kill(pids[2], SIGKILL);
    s_wait(pids[2], 5);
    s_path(log, sizeof log, "peer1.log");
    assert_true(s_log_has(log, "from node 2 (silent since"));
    s_path(log, sizeof log, "peer3.log");
    assert_true(s_log_has(log, "from node 2 (silent since"));
}

/* In deadline mode a BYE of node 3's saying it diverged (in a round it may be in: deadline
 * neighbours drift) only takes node 3 out of node 0's mix; node 3's next frame brings it back,
 * and every peer finishes. */
static void test_deadline_peer_mixes_without_a_neighbour_that_left(void **state)
{
    (void)state;
    char topo_path[256], log[256];
    const char *json =
        "{\"name\": \"bye-test\", \"topology\": \"plain.json\","
        " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 500, \"dim\": 20,"
        " \"classes\": 4, \"sep\": 4.0},"
        " \"algorithm\": {\"name\": \"malcom\", \"lr\": 0.1, \"gamma\": 0.5, \"lambda\": 0.001,"
        " \"batch\": 16, \"rounds\": 4000}, \"compressor\": \"dither:8\", \"seed\": 4,"
        " \"eval_every\": 100, \"round_mode\": {\"deadline_ms\": 100}}";
    pid_t pids[4];
    rumor_topology_t *topo = s_start_ring4(json, topo_path, sizeof topo_path, pids);
    void *ctx = zmq_ctx_new();
    void *n3 = s_insider(ctx, topo, 3, 0, "bye");
    s_forge_bye(n3, 3, 3, 3999, RUMOR_ENONFINITE);
    zmq_close(n3);
    zmq_ctx_term(ctx);
    rumor_topology_destroy(&topo);
    s_wait_all(4, pids);
    for (uint32_t i = 0; i < 4; i++) assert_int_equal(s_last_round(i), 4000);
    s_path(log, sizeof log, "peer0.log");
    assert_true(s_log_has(log, "node 0: node 3 left the run (node 3 stopped in round 3999: a model "
                               "diverged); mixing without it"));
    assert_true(s_log_has(log, "node 0: node 3 is back"));
}

/* Injected faults belong to rumor sim: a peer refuses a scenario that has them, before it
 * binds or waits for anyone, rather than run something else than the scenario says. */
static void test_peer_refuses_simulated_faults(void **state)
{
    (void)state;
    char topo[256], sc[256], cmd[1024], out[1024];
    s_prepare("ring", 4,
              "{\"name\": \"faulty\", \"topology\": \"plain.json\","
              " \"data\": {\"name\": \"synthetic\"}, \"algorithm\": {\"rounds\": 50},"
              " \"faults\": [{\"node\": 1, \"down\": [10, 20]}]}",
              topo, sizeof topo);
    s_path(sc, sizeof sc, "scenario.json");
    snprintf(cmd, sizeof cmd, "%s peer --config %s --topology %s --id 0 --insecure --wait 5", s_bin,
             sc, topo);
    assert_int_equal(s_capture(cmd, out, sizeof out), 1);
    if (!strstr(out, "scenario.json: faults: only rumor sim injects them"))
        fail_msg("unexpected output: %s", out);
}

/* A metrics file that fills up loses records, not the run: the peer warns once, naming the
 * file and the round, trains to the end and exits 0 (written to /dev/full). */
static void test_full_metrics_disk_warns_and_trains_on(void **state)
{
    (void)state;
    char topo[256], sc[256], cmd[2048], out[16384];
    s_prepare("ring", 2,
              "{\"name\": \"full\", \"topology\": \"plain.json\","
              " \"data\": {\"name\": \"synthetic\", \"n\": 400, \"test_n\": 100, \"dim\": 8,"
              " \"classes\": 2}, \"algorithm\": {\"rounds\": 200}, \"eval_every\": 50}",
              topo, sizeof topo);
    s_path(sc, sizeof sc, "scenario.json");
    snprintf(cmd, sizeof cmd,
             "(%s peer --config %s --topology %s --id 1 --key %s/keys/node1.key --wait 30 "
             "--quiet & %s peer --config %s --topology %s --id 0 --key %s/keys/node0.key "
             "--wait 30 --metrics /dev/full; a=$?; wait $!; b=$?; echo \"exit $a $b\")",
             s_bin, sc, topo, s_dir, s_bin, sc, topo, s_dir);
    assert_int_equal(s_capture(cmd, out, sizeof out), 0);
    if (!strstr(out, "/dev/full: metrics from round ") || !strstr(out, "no space left on device") ||
        !strstr(out, "round    200/200") || !strstr(out, "exit 0 0"))
        fail_msg("unexpected output: %s", out);
    const char *w = strstr(out, "could not be written");
    assert_null(strstr(w + 1, "could not be written")); /* warned once */
}

/* ---- crash and restart -------------------------------------------------------------------- */

/* Deadline mode, ring of 6: node 2 is stopped by signal sig past round 300, the others go on
 * without it, and node 2 started again with the same arguments resumes from its checkpoint;
 * the run ends within a point of the fault-free accuracy. */
static void s_stop_and_restart(int sig)
{
    char topo[256];
    const char *json =
        "{\"name\": \"restart-test\", \"topology\": \"plain.json\","
        " \"data\": {\"name\": \"synthetic\", \"n\": 6000, \"test_n\": 1000, \"dim\": 20,"
        " \"classes\": 4, \"sep\": 4.0},"
        " \"algorithm\": {\"name\": \"malcom\", \"lr\": 0.1, \"gamma\": 0.5, \"lambda\": 0.001,"
        " \"batch\": 16, \"rounds\": 8000}, \"compressor\": \"dither:8\", \"seed\": 9,"
        " \"eval_every\": 50, \"round_mode\": {\"deadline_ms\": 100}}";
    s_prepare("ring", 6, json, topo, sizeof topo);
    pid_t pids[6];
    s_start(6, pids, topo, "20", NULL);
    /* Kill node 2 once it is well into the run. */
    uint32_t killed_at = 0;
    for (int i = 0; i < 600 && killed_at < 300; i++) {
        usleep(20000);
        const uint32_t r = s_last_round(2); /* 0 if the last line is being written */
        if (r > killed_at) killed_at = r;
    }
    if (killed_at < 300) {
        char log[256];
        snprintf(log, sizeof log, "%s/peer2.log", s_dir);
        s_dump(log);
        fail_msg("node 2 reached only round %u", killed_at);
    }
    kill(pids[2], sig);
    waitpid(pids[2], NULL, 0);
    /* The others go on without it, once they have found it silent (node 1 may have been
     * 100 rounds ahead already: a restart before its liveness timeout would go unnoticed). */
    uint32_t others = 0;
    long downs = 0;
    for (int i = 0; i < 100 && (others <= killed_at + 100 || downs < 2); i++) {
        usleep(100000);
        const uint32_t r = s_last_round(1);
        if (r > others) others = r;
        downs = (s_counter(1, "neighbours_down") >= 1) + (s_counter(3, "neighbours_down") >= 1);
    }
    if (others <= killed_at + 100 || downs < 2)
        fail_msg("node 2 killed at round %u; node 1 at %u after it, %ld of its neighbours "
                 "found it silent",
                 killed_at, others, downs);
    /* Restart with the same arguments; it must resume from its checkpoint. */
    char log[256], sc[256];
    pids[2] = s_start_peer(2, topo, "20", NULL, "peer2-restart.log", NULL);
    s_path(log, sizeof log, "peer2-restart.log");
    s_path(sc, sizeof sc, "scenario.json");
    s_wait_all(6, pids);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "grep -q 'resuming from' %s", log);
    if (s_run(cmd) != 0) {
        s_dump(log);
        fail_msg("the restarted peer did not resume from its checkpoint");
    }
    /* Fault-free reference: the same scenario simulated. */
    snprintf(cmd, sizeof cmd, "%s sim %s --quiet | jq .acc_min", s_bin, sc);
    char out[64];
    assert_int_equal(s_capture(cmd, out, sizeof out), 0);
    double ref = 0;
    assert_int_equal(sscanf(out, "%lf", &ref), 1);
    double acc_min = 1.0;
    for (uint32_t i = 0; i < 6; i++) {
        const double a = s_last(i, "acc");
        if (a < acc_min) acc_min = a;
    }
    if (acc_min < ref - 0.01) fail_msg("acc_min %.4f after restart, fault-free %.4f", acc_min, ref);
    assert_true(s_last_round(2) == 8000);
    /* Node 2's neighbours mixed without it while it was gone. */
    assert_true(s_counter(1, "neighbours_down") >= 1);
    assert_true(s_counter(3, "neighbours_down") >= 1);
}

static void test_killed_peer_restarts_from_checkpoint(void **state)
{
    (void)state;
    s_stop_and_restart(SIGKILL);
}

/* Synchronous peers started with checkpoints every 50 rounds and --wait 60: node `node`
 * interrupted (SIGINT) once past round `past` and started again with the same arguments (more:
 * its further ones, as s_start_peer); every one of the n peers must complete `rounds` rounds,
 * the restarted one resuming from its checkpoint. */
static void s_interrupt_and_resume(uint32_t n, pid_t *pids, const char *topo, uint32_t node,
                                   uint32_t past, uint32_t rounds, const char *const *more)
{
    char log[256], name[32];
    for (int i = 0; i < 600 && s_last_round(node) < past; i++) usleep(20000);
    assert_true(s_last_round(node) >= past);
    kill(pids[node], SIGINT);
    assert_true(s_wait(pids[node], 20) > 0); /* exits with an error status, having checkpointed */
    usleep(500000);
    snprintf(name, sizeof name, "peer%u-restart.log", node);
    pids[node] = s_start_peer(node, topo, "50", "60", name, more);
    s_wait_all(n, pids);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(s_last_round(i), rounds);
    s_path(log, sizeof log, name);
    assert_true(s_log_has(log, "resuming from"));
}

/* Synchronous rounds: node 2 interrupted (SIGINT) and started again resumes from its
 * checkpoint; its neighbours wait for it, the STATE exchange tells each side which DIFFs its
 * copy already holds, and every peer completes the run with the simulator's models. (Before,
 * a neighbour that had sent its DIFF of the round before the restart waited for it again, and
 * the run hung; later, a STATE answered from a round ahead was mixed a round early.) Two local
 * steps a round: the restarted peer's batches go on where they stopped. */
static void test_interrupted_synchronous_peer_resumes(void **state)
{
    (void)state;
    char topo[256];
    pid_t pids[4];
    s_start_sync_ring(4, 6000, 2, pids, topo, "50", "60");
    s_interrupt_and_resume(4, pids, topo, 2, 300, 6000, NULL);
    char log[256];
    s_path(log, sizeof log, "peer1.log");
    assert_true(s_log_has(log, "node 1: node 2 was interrupted in round "));
    /* It checkpointed at a round boundary and its neighbours waited there: nothing was lost,
     * so the run ends as if it had never stopped. */
    s_assert_matches_sim(4);
}

/* 8 peers on a ring running the scenario json (topology plain.json) for `rounds` rounds, node
 * `node` interrupted past round 200 and started again from its checkpoint: every peer completes
 * the run with the simulator's models, byte for byte. */
static void s_eight_resume_and_match_simulator(const char *json, uint32_t node, uint32_t rounds)
{
    char topo[256];
    s_prepare("ring", 8, json, topo, sizeof topo);
    pid_t pids[8];
    s_start(8, pids, topo, "50", "60");
    s_interrupt_and_resume(8, pids, topo, node, 200, rounds, NULL);
    s_assert_matches_sim(8);
}

/* Issue 15: 8 peers running BEER (two-part messages, a tracker and its copies) with full-sync
 * rounds (sync_p) and quasi-global momentum (a buffer that follows the model's change), node 5
 * interrupted past round 200 and started again from its checkpoint: every peer completes the
 * run with the simulator's models, byte for byte. */
static void test_beer_peers_resume_and_match_simulator(void **state)
{
    (void)state;
    const char *json =
        "{\"name\": \"beer-test\", \"topology\": \"plain.json\","
        " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 500, \"dim\": 20,"
        " \"classes\": 4, \"sep\": 4.0},"
        " \"algorithm\": {\"name\": \"beer\", \"lr\": 0.1, \"gamma\": 0.25, \"batch\": 16,"
        " \"rounds\": 3000, \"sync_p\": 0.2, \"momentum\": \"quasi-global:0.5\"},"
        " \"compressor\": \"dither:8:biased\", \"codec\": \"auto\", \"seed\": 11,"
        " \"eval_every\": 50}";
    s_eight_resume_and_match_simulator(json, 5, 3000);
}

/* BEER tracking the output layer alone (algorithm.track "last": a tracker part of 36 of the
 * MLP's 204 parameters) with full-sync rounds, node 3 interrupted past round 200 and started
 * again from its checkpoint: every peer ends with the simulator's models, byte for byte. */
static void test_beer_tracking_the_last_layer_resumes_and_matches_simulator(void **state)
{
    (void)state;
    const char *json =
        "{\"name\": \"beer-last-test\", \"topology\": \"plain.json\","
        " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 500, \"dim\": 20,"
        " \"classes\": 4, \"sep\": 4.0, \"partition\": \"dirichlet:0.3\"}, \"model\": \"mlp:8\","
        " \"algorithm\": {\"name\": \"beer\", \"lr\": 0.1, \"gamma\": 0.25, \"batch\": 16,"
        " \"rounds\": 800, \"sync_p\": 0.2, \"track\": \"last\"},"
        " \"compressor\": \"dither:8:biased\", \"codec\": \"auto\", \"seed\": 12,"
        " \"eval_every\": 50}";
    s_eight_resume_and_match_simulator(json, 3, 800);
}

/* 8 peers on a ring under robust rule `robust` for `rounds` rounds, checkpoints every 50, node
 * 3 sending ALIE poison (`--byzantine alie:0.5`: under clip:auto+shift, near enough to the
 * honest shifts that a neighbour's running mean of it sits about the fade's thresholds) from
 * round `from`, node 4 started `late_ms` after the others; node `node` (none if 8 or more)
 * interrupted past round `past` and started again from its checkpoint. Every peer must end
 * with the models of `rumor sim` given the same attack as a fault, byte for byte. */
static void s_alie_matches_simulator(const char *robust, uint32_t rounds, uint32_t from,
                                     unsigned late_ms, uint32_t node, uint32_t past)
{
    const char *json =
        "{\"name\": \"shift-test\", \"topology\": \"plain.json\","
        " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 500, \"dim\": 20,"
        " \"classes\": 4, \"sep\": 4.0},"
        " \"algorithm\": {\"name\": \"malcom\", \"lr\": 0.1, \"gamma\": 0.5, \"lambda\": 0.001,"
        " \"batch\": 16, \"rounds\": %u, \"robust\": \"%s\"},"
        " \"compressor\": \"dither:8\", \"codec\": \"auto\", \"seed\": 5,"
        " \"eval_every\": 10%s}";
    char topo[256], text[1024], sim[256], fault[128], from_s[16];
    snprintf(text, sizeof text, json, rounds, robust, "");
    s_prepare("ring", 8, text, topo, sizeof topo);
    snprintf(fault, sizeof fault,
             ", \"faults\": [{\"byzantine\": \"alie\", \"z\": 0.5, \"from\": %u, \"nodes\": [3]}]",
             from);
    snprintf(text, sizeof text, json, rounds, robust, fault);
    s_path(sim, sizeof sim, "alie-sim.json");
    s_write(sim, text);
    snprintf(from_s, sizeof from_s, "%u", from);
    const char *const alie[] = {"--byzantine", "alie:0.5", "--byzantine-from", from_s, NULL};
    pid_t pids[8];
    for (uint32_t i = 0; i < 8; i++) {
        char log[32];
        snprintf(log, sizeof log, "peer%u.log", i);
        if (i == 4) usleep(late_ms * 1000);
        pids[i] = s_start_peer(i, topo, "50", "60", log, i == 3 ? alie : NULL);
    }
    if (node < 8)
        s_interrupt_and_resume(8, pids, topo, node, past, rounds, node == 3 ? alie : NULL);
    else
        s_wait_all(8, pids);
    s_assert_matches_sim_of(8, "alie-sim.json");
}

/* clip:auto+shift with an ALIE peer (node 3, from round 50): node 2, its honest neighbour,
 * interrupted past round 200 and started again from its checkpoint, resumes with its running
 * means and clip counts and takes the attacker's copy from its STATE as the attacker's poison
 * built it. */
static void test_shift_peer_next_to_alie_resumes_and_matches_simulator(void **state)
{
    (void)state;
    s_alie_matches_simulator("clip:auto+shift", 800, 50, 0, 2, 200);
}

/* ALIE from round 0, node 4 started a second after the others: node 2 shakes hands with both
 * its neighbours, steps round 0 and sends its DIFF while the attacker still waits for node 4,
 * so the attacker holds node 2's round-0 DIFF before it steps. Its poison of round 0 must be
 * built from its copies as created, as in `rumor sim`. (It was built from the copies at the
 * step, and differed.) */
static void test_alie_from_round_zero_matches_simulator(void **state)
{
    (void)state;
    s_alie_matches_simulator("clip:auto+shift", 60, 0, 1000, 8, 0);
}

/* The ALIE attacker itself (node 3, from round 0, under clip:auto: under +shift its neighbours
 * may have faded it out by then, so that its poison would not matter) interrupted past round
 * 100 and started again from its checkpoint: its neighbours have stepped the round it resumes
 * at, so their STATEs hold their DIFFs of that round; its poison of the round must be built
 * from the copies its checkpoint holds, as the round before left them. (It was built from the
 * STATEs', and differed.) */
static void test_restarted_alie_peer_matches_simulator(void **state)
{
    (void)state;
    s_alie_matches_simulator("clip:auto", 1000, 0, 0, 3, 100);
}

/* Interrupted (SIGINT), node 2 checkpoints and says so in a BYE: its neighbours leave it out at
 * once, rather than after their liveness timeout, and take it back when it returns. */
static void test_interrupted_peer_is_left_out_until_it_returns(void **state)
{
    (void)state;
    s_stop_and_restart(SIGINT);
    char log[256];
    s_path(log, sizeof log, "peer1.log");
    assert_true(s_log_has(log, "node 1: node 2 was interrupted in round "));
    assert_true(s_log_has(log, "; mixing without it until it returns"));
    assert_true(s_log_has(log, "node 1: node 2 is back"));
}

/* ---- stopped peers ------------------------------------------------------------------------ */

/* Deadline mode, ring of 4: nodes 1 and 3, both neighbours of node 2, stopped (SIGSTOP) past
 * the 1 s liveness timeout, until node 2 has gone on 2,000 rounds. Node 2 marks both down and
 * goes on alone; once they are continued, it must hear both again and everyone must finish. (This
 * once failed two ways: libzmq's ZMTP heartbeat aborted the continued peers, and node 2, whose
 * rounds then awaited no one, never read again, so nodes 1 and 3 waited for answers forever.) */
static void test_stopped_neighbours_are_left_out_and_return(void **state)
{
    (void)state;
    char topo[256];
    const char *json =
        "{\"name\": \"stop-test\", \"topology\": \"plain.json\","
        " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 500, \"dim\": 20,"
        " \"classes\": 4, \"sep\": 4.0},"
        " \"algorithm\": {\"name\": \"malcom\", \"lr\": 0.1, \"gamma\": 0.5, \"lambda\": 0.001,"
        " \"batch\": 16, \"rounds\": 60000}, \"compressor\": \"dither:8\", \"seed\": 4,"
        " \"eval_every\": 100, \"round_mode\": {\"deadline_ms\": 100}}";
    s_prepare("ring", 4, json, topo, sizeof topo);
    pid_t pids[4];
    s_start(4, pids, topo, NULL, NULL);
    for (int i = 0; i < 600 && s_last_round(2) < 500; i++) usleep(50000);
    assert_true(s_last_round(2) >= 500);
    assert_int_equal(kill(pids[1], SIGSTOP), 0);
    assert_int_equal(kill(pids[3], SIGSTOP), 0);
    /* Alone, node 2 runs many thousand rounds a second (over 15,000 here): the stop ends once
     * it has gone on 2,000 rounds (or after 10 s), and the run is long enough that it is still
     * running when its neighbours return (they resync first). */
    const uint32_t before = s_last_round(2);
    for (int i = 0; i < 200 && s_last_round(2) < before + 2000; i++) usleep(50000);
    /* Node 2 is held while its neighbours come back, for half a second (under the liveness
     * timeout, so they do not mark it down): alone it would otherwise be able to finish its
     * run before a continued process is scheduled, on a fast or a loaded machine. */
    assert_int_equal(kill(pids[2], SIGSTOP), 0);
    const uint32_t during = s_last_round(2) - before;
    assert_int_equal(kill(pids[1], SIGCONT), 0);
    assert_int_equal(kill(pids[3], SIGCONT), 0);
    usleep(500000);
    assert_int_equal(kill(pids[2], SIGCONT), 0);
    s_wait_all(4, pids);
    if (during < 2000)
        fail_msg("node 2 advanced only %u rounds while 1 and 3 were stopped", during);
    assert_true(s_counter(2, "neighbours_down") >= 2);
    for (uint32_t i = 0; i < 4; i++) assert_int_equal(s_last_round(i), 60000);
    /* Both neighbours were heard again and mixed back in. */
    char log[256];
    s_path(log, sizeof log, "peer2.log");
    assert_true(s_log_has(log, "node 2: node 1 is back"));
    assert_true(s_log_has(log, "node 2: node 3 is back"));
}

/* ---- heartbeats --------------------------------------------------------------------------- */

/* The test plays node 0 of the line 0 - 1 - 2 through the real transport, answers node 1's
 * HELLO with one of its own, and counts what node 1 sends while node 2 never starts. */
static void test_waiting_peer_sends_heartbeats(void **state)
{
    (void)state;
    char plain[256], topo_path[256], sc[256], cmd[1024], json[1024], key0[256], key1[256];
    const unsigned port = s_port_block() + 40;
    s_path(plain, sizeof plain, "plain.json");
    s_path(topo_path, sizeof topo_path, "topology.json");
    s_path(sc, sizeof sc, "scenario.json");
    snprintf(json, sizeof json,
             "{\"name\": \"line3\", \"nodes\": [{\"id\": 0, \"endpoint\": \"tcp://127.0.0.1:%u\"},"
             " {\"id\": 1, \"endpoint\": \"tcp://127.0.0.1:%u\"},"
             " {\"id\": 2, \"endpoint\": \"tcp://127.0.0.1:%u\"}],"
             " \"edges\": [[0, 1], [1, 2]], \"weights\": \"metropolis\"}",
             port, port + 1, port + 2);
    s_write(plain, json);
    snprintf(
        cmd, sizeof cmd,
        "rm -rf %s/keys && %s keygen --topology %s --dir %s/keys -o %s --force >/dev/null 2>&1",
        s_dir, s_bin, plain, s_dir, topo_path);
    assert_int_equal(s_run(cmd), 0);
    snprintf(json, sizeof json, s_sync_scenario, 50u, 1u);
    s_write(sc, json);
    snprintf(key0, sizeof key0, "%s/keys/node0.key", s_dir);
    snprintf(key1, sizeof key1, "%s/keys/node1.key", s_dir);

    char log[256];
    s_path(log, sizeof log, "peer1.log");
    char *argv[] = {(char *)s_bin, "peer", "--config", sc,      "--topology",
                    topo_path,     "--id", "1",        "--key", key1,
                    "--liveness",  "400",  "--wait",   "30",    NULL};
    const pid_t pid = s_spawn(argv, log);

    rumor_topology_t *topo = NULL;
    assert_int_equal(rumor_topology_load(topo_path, &topo, NULL), 0);
    rumor_keypair_t kp;
    assert_int_equal(rumor_keys_load(key0, &kp, NULL), 0);
    void *ctx = zmq_ctx_new();
    const rumor_transport_nbr_t nb = {
        .id = 1, .endpoint = topo->nodes[1].endpoint, .public_key = topo->nodes[1].public_key};
    const rumor_transport_cfg_t tc = {.self = 0,
                                      .endpoint = topo->nodes[0].endpoint,
                                      .nbrs = &nb,
                                      .n_nbrs = 1,
                                      .keys = &kp,
                                      .max_frame = 4096};
    rumor_errmsg_t em = {""};
    rumor_transport_t *tr = rumor_transport_new(ctx, &tc, &em);
    if (!tr) fail_msg("node 0's transport: %s", em.msg);
    static uint8_t buf[4096], out[256];
    int hellos = 0, beats = 0;
    for (int i = 0; i < 200 && beats < 8; i++) {
        uint32_t from;
        size_t len;
        if (rumor_transport_recv(tr, 50, &from, buf, sizeof buf, &len) != 0) continue;
        rumor_wire_header_t h;
        const uint8_t *p;
        assert_int_equal(rumor_wire_parse(buf, len, 3, sizeof buf, &h, &p, NULL), 0);
        assert_int_equal(from, 1);
        if (h.type == RUMOR_WIRE_HELLO) {
            /* Our HELLO: node 1's, as sent by node 0. */
            rumor_wire_hello_t hello;
            assert_int_equal(rumor_wire_decode_hello(p, h.len, &hello), 0);
            hello.sender = 0;
            uint8_t payload[RUMOR_WIRE_HELLO_BYTES];
            assert_int_equal(rumor_wire_encode_hello(&hello, payload, sizeof payload), 0);
            const rumor_wire_header_t oh = {
                .type = RUMOR_WIRE_HELLO, .sender = 0, .seq = 77, .len = sizeof payload};
            size_t olen;
            assert_int_equal(
                rumor_wire_encode_frame(&oh, payload, sizeof payload, out, sizeof out, &olen), 0);
            assert_int_equal(rumor_transport_send(tr, 1, out, olen, 500), 0);
            hellos++;
        } else if (h.type == RUMOR_WIRE_HEARTBEAT && hellos) {
            beats++;
        }
    }
    kill(pid, SIGTERM);
    s_wait(pid, 20);
    rumor_transport_destroy(&tr);
    zmq_ctx_term(ctx);
    rumor_keys_wipe(&kp);
    rumor_topology_destroy(&topo);
    if (beats < 8) s_dump(log);
    assert_true(hellos >= 1);
    /* 8 beats 100 ms apart fit easily in the 10 s the loop allows. */
    assert_true(beats >= 8);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eight_peers_match_simulator),
        cmocka_unit_test(test_restart_with_edited_scenario_stops_everyone),
        cmocka_unit_test(test_stall_error_names_the_silent_neighbour),
        cmocka_unit_test(test_deadline_peer_mixes_without_a_neighbour_that_left),
        cmocka_unit_test(test_peer_refuses_simulated_faults),
        cmocka_unit_test(test_full_metrics_disk_warns_and_trains_on),
        cmocka_unit_test(test_killed_peer_restarts_from_checkpoint),
        cmocka_unit_test(test_interrupted_peer_is_left_out_until_it_returns),
        cmocka_unit_test(test_interrupted_synchronous_peer_resumes),
        cmocka_unit_test(test_beer_peers_resume_and_match_simulator),
        cmocka_unit_test(test_beer_tracking_the_last_layer_resumes_and_matches_simulator),
        cmocka_unit_test(test_shift_peer_next_to_alie_resumes_and_matches_simulator),
        cmocka_unit_test(test_alie_from_round_zero_matches_simulator),
        cmocka_unit_test(test_restarted_alie_peer_matches_simulator),
        cmocka_unit_test(test_stopped_neighbours_are_left_out_and_return),
        cmocka_unit_test(test_waiting_peer_sends_heartbeats),
    };
    return s_run_tests(tests, s_setup, s_teardown);
}
