/* Tests of node against hostile input, on real `rumor peer` processes (test_node.c):
 *   - an admitted neighbour's garbage, truncated, forged, replayed and oversized frames, and a
 *     stranger's frames, are dropped and counted while training ends bit-identical;
 *   - synchronous peers whose models diverge stop at once, and say why in a BYE;
 *   - single frames forged with a neighbour's key (a round far ahead, a HELLO of another
 *     version, BYEs that finish early or blame another node, a STATE nobody asked for, a
 *     flood of RESYNCs) change nothing: the run ends bit-identical, the frames are counted.
 */
#include "node_support.h"

static void s_frame(uint8_t *buf, size_t *len, uint8_t type, uint32_t sender, uint64_t seq,
                    size_t payload)
{
    rumor_wire_header_t h = {
        .type = type, .sender = sender, .round = 0, .seq = seq, .len = (uint32_t)payload};
    memset(buf + RUMOR_WIRE_HEADER_BYTES, 0xA5, payload);
    assert_int_equal(rumor_wire_encode_frame(&h, buf + RUMOR_WIRE_HEADER_BYTES, payload, buf,
                                             RUMOR_WIRE_HEADER_BYTES + payload, len),
                     0);
}

/* Threads of process pid, from /proc. */
static int s_threads(pid_t pid)
{
    char path[64], cmd[128], out[32];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    snprintf(cmd, sizeof cmd, "ls %s | wc -l", path);
    assert_int_equal(s_capture(cmd, out, sizeof out), 0);
    return atoi(out);
}

static void test_hostile_frames_are_dropped(void **state)
{
    (void)state;
    char topo_path[256], json[1024];
    snprintf(json, sizeof json, s_sync_scenario, 20000u, 1u);
    s_prepare("ring", 4, json, topo_path, sizeof topo_path);
    rumor_topology_t *topo = NULL;
    assert_int_equal(rumor_topology_load(topo_path, &topo, NULL), 0);
    rumor_keypair_t n3, stranger;
    char key[256];
    snprintf(key, sizeof key, "%s/keys/node3.key", s_dir);
    assert_int_equal(rumor_keys_load(key, &n3, NULL), 0);
    assert_int_equal(rumor_keys_generate(&stranger, NULL), 0);

    pid_t pids[4];
    /* No BLAS threads, so that what runs is rumor's and ZeroMQ's. */
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    s_start(4, pids, topo_path, NULL, NULL);
    void *ctx = zmq_ctx_new();
    /* Node 3 is node 0's neighbour: its key is admitted. The stranger's is not. */
    void *evil =
        s_dealer(ctx, &n3, 3, topo->nodes[0].public_key, 0, topo->nodes[0].endpoint, "evil");
    void *alien =
        s_dealer(ctx, &stranger, 3, topo->nodes[0].public_key, 0, topo->nodes[0].endpoint, "x");
    static uint8_t buf[1 << 16];
    size_t len;
    /* Attack once node 0 is training (its neighbours have shaken hands). */
    for (int i = 0; i < 600 && s_last_round(0) < 50; i++) usleep(50000);
    /* The peer's own thread answers ZAP requests: it runs beside ZeroMQ's I/O thread and
     * reaper, and nothing else. */
    assert_int_equal(s_threads(pids[0]), 3);
    for (int rep = 0; rep < 5; rep++) {
        for (int k = 0; k < 64; k++) buf[k] = (uint8_t)(k * 31 + rep);
        zmq_send(evil, buf, 64, 0); /* garbage: bad magic */
        s_frame(buf, &len, RUMOR_WIRE_DIFF, 3, 0, 40);
        zmq_send(evil, buf, len - 7, 0); /* truncated: bad length */
        s_frame(buf, &len, RUMOR_WIRE_HEARTBEAT, 1, 0, 0);
        zmq_send(evil, buf, len, 0); /* claims to be node 1: impostor */
        s_frame(buf, &len, RUMOR_WIRE_DIFF, 3, 0, 40);
        zmq_send(evil, buf, len, 0); /* seq 0 again: replay (or undecodable) */
        buf[4] = 99;
        zmq_send(evil, buf, len, 0); /* unknown version */
        s_frame(buf, &len, RUMOR_WIRE_HEARTBEAT, 3, 0, 0);
        zmq_send(alien, buf, len, 0); /* a key that is not listed */
        usleep(100000);
    }
    /* Last: more than the largest frame a run of this size can need. */
    s_frame(buf, &len, RUMOR_WIRE_DIFF, 3, 1, sizeof buf - RUMOR_WIRE_HEADER_BYTES);
    zmq_send(evil, buf, len, 0);
    zmq_close(evil);
    zmq_close(alien);
    zmq_ctx_term(ctx);
    s_wait_all(4, pids);
    assert_true(s_metric(0, "bad magic") >= 5);
    assert_true(s_metric(0, "bad length") + s_metric(0, "bad magic") >= 10);
    assert_true(s_metric(0, "impostor") >= 5);
    assert_true(s_metric(0, "replay") + s_metric(0, "undecodable") >= 5);
    assert_true(s_metric(0, "bad version") >= 5);
    /* Refused from the peer's own loop, which went on to finish the run. */
    char log[256];
    snprintf(log, sizeof log, "%s/peer0.log", s_dir);
    assert_true(s_log_has(log, stranger.public_key));
    s_assert_matches_sim(4);
    rumor_topology_destroy(&topo);
}

/* Peers whose models diverge (a learning rate far too large) stop in the round their SGD step
 * leaves non-finite parameters, and say so in a BYE; a neighbour that receives NaN first
 * refuses it and stops too. Every peer stops at once, long before --wait (120 s) would end a
 * wait for a neighbour that is gone, and its log says the run stopped on a diverged model. */
static void test_diverged_models_stop_synchronous_peers(void **state)
{
    (void)state;
    char topo_path[256];
    s_prepare("ring", 4,
              "{\"name\": \"node-diverge\", \"topology\": \"plain.json\","
              " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 1000, \"dim\": 20,"
              " \"classes\": 4, \"sep\": 4.0}, \"model\": \"mlp:16\","
              " \"algorithm\": {\"name\": \"choco\", \"lr\": 1e6, \"gamma\": 0.5, \"batch\": 16,"
              " \"rounds\": 3000}, \"compressor\": \"identity\", \"seed\": 5, \"eval_every\": 50}",
              topo_path, sizeof topo_path);
    pid_t pids[4];
    s_start(4, pids, topo_path, NULL, "120");
    s_expect_all_stop(pids, 30, "diverged");
}

/* The drops count of the last progress line in log. */
static long s_progress_drops(const char *log)
{
    char cmd[512], out[64];
    snprintf(cmd, sizeof cmd, "grep -o 'drops [0-9]*' %s | tail -n 1 | cut -d' ' -f2", log);
    long v = -1;
    if (s_capture(cmd, out, sizeof out) != 0 || sscanf(out, "%ld", &v) != 1) v = -1;
    return v;
}

/* Issue 20, items 1, 2, 4, 5, 7 and 12: someone holding node 1's key, while the real node 1
 * runs, sends node 0 one each of: a HEARTBEAT of round 0xfffffff0, a HELLO of another protocol
 * version, a BYE saying node 1 finished, a BYE blaming node 3, a BYE of node 3's from a round
 * long past, an unrequested STATE, 20,000 RESYNCs and garbage DIFFs around node 1's sequence
 * numbers. Every peer finishes every round,
 * bit-identical to rumor sim; node 0 counts the frames by reason, per neighbour, says so in
 * its progress line and answered few of the RESYNCs: what it sent node 1 is less than twice
 * what it sent node 3. */
static void test_insider_frames_change_nothing(void **state)
{
    (void)state;
    char topo_path[256], json[1024], log[256];
    snprintf(json, sizeof json, s_sync_scenario, 20000u, 1u);
    pid_t pids[4];
    rumor_topology_t *topo = s_start_ring4(json, topo_path, sizeof topo_path, pids);
    void *ctx = zmq_ctx_new();
    void *n1 = s_insider(ctx, topo, 1, 0, "evil1");
    void *n3 = s_insider(ctx, topo, 3, 0, "evil3");
    s_forge(n1, RUMOR_WIRE_HEARTBEAT, 1, 0xfffffff0u, 0, NULL, 0);
    rumor_wire_hello_t hello = {.version = 0x7777, .sender = 1, .resume_round = 100};
    uint8_t p[RUMOR_WIRE_HELLO_BYTES + 16];
    assert_int_equal(rumor_wire_encode_hello(&hello, p, sizeof p), 0);
    s_forge(n1, RUMOR_WIRE_HELLO, 1, 100, 0x1234, p, RUMOR_WIRE_HELLO_BYTES);
    s_forge_bye(n1, 1, 1, 20000, 0);
    s_forge_bye(n1, 1, 3, 77, RUMOR_ENONFINITE);
    s_forge_bye(n3, 3, 3, 77, RUMOR_ENONFINITE);
    size_t len;
    const float x[20 * 4 + 4] = {0};
    assert_int_equal(rumor_wire_encode_state(0, x, 1, p, sizeof p, &len), 0);
    s_forge(n1, RUMOR_WIRE_STATE, 1, 0, 0, p, len);
    uint8_t resync[RUMOR_WIRE_HEADER_BYTES];
    const rumor_wire_header_t h = {.type = RUMOR_WIRE_RESYNC, .sender = 1};
    assert_int_equal(rumor_wire_encode_header(&h, resync, sizeof resync), 0);
    for (int i = 0; i < 20000; i++) zmq_send(n1, resync, sizeof resync, 0);
    /* Garbage DIFFs at the sequence numbers and rounds node 1's are at (it numbers its DIFFs
     * to node 0 by round): one lands on the awaited number, of this round or the next. */
    static uint8_t garbage[RUMOR_WIRE_HEADER_BYTES + 40];
    memset(garbage, 0xA5, sizeof garbage);
    const uint32_t near = s_last_round(0);
    for (uint32_t k = near; k < near + 400; k++) {
        const rumor_wire_header_t dh = {
            .type = RUMOR_WIRE_DIFF, .sender = 1, .round = k, .seq = k, .len = 40};
        assert_int_equal(rumor_wire_encode_header(&dh, garbage, sizeof garbage), 0);
        zmq_send(n1, garbage, sizeof garbage, 0);
    }
    usleep(500000); /* closing drops what has not left (linger 0) */
    zmq_close(n1);
    zmq_close(n3);
    zmq_ctx_term(ctx);
    rumor_topology_destroy(&topo);
    s_wait_all(4, pids);
    for (uint32_t i = 0; i < 4; i++) assert_int_equal(s_last_round(i), 20000);
    s_assert_matches_sim(4);
    assert_true(s_metric(0, "bad_round") >= 2);
    assert_true(s_metric(0, "bad_hello") >= 1);
    assert_true(s_metric(0, "ignored_state") >= 1);
    assert_true(s_metric(0, "bad_bye") >= 2);
    assert_true(s_metric(0, "resync_limited") >= 1000);
    assert_true(s_counter(0, "edges[\"1\"].dropped.resync_limited") >= 1000);
    /* Node 0 sends nodes 1 and 3 the same DIFFs: the STATEs node 1's key asked for cost less
     * than that again (unanswered, 20,000 STATEs would be 6 times as much). */
    assert_true(s_counter(0, "edges[\"1\"].sent") < 2 * s_counter(0, "edges[\"3\"].sent"));
    s_path(log, sizeof log, "peer0.log");
    assert_true(s_progress_drops(log) >= 1000);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_frames_are_dropped),
        cmocka_unit_test(test_diverged_models_stop_synchronous_peers),
        cmocka_unit_test(test_insider_frames_change_nothing),
    };
    return s_run_tests(tests, s_setup, s_teardown);
}
