/* Tests of node: real `rumor peer` processes on tcp loopback with CurveZMQ.
 *   - a synchronous run is bit-identical to `rumor sim` with the same scenario and seed;
 *   - an admitted neighbour's garbage, truncated, forged, replayed and oversized frames, and a
 *     stranger's frames, are dropped and counted while training ends bit-identical;
 *   - synchronous peers whose models diverge stop at once, and say why in a BYE; in deadline
 *     mode a BYE with an error takes the neighbour out of the mix until it is heard again;
 *   - single frames forged with a neighbour's key (a round far ahead, a HELLO of another
 *     version, BYEs that finish early or blame another node, a STATE nobody asked for, a
 *     flood of RESYNCs) change nothing: the run ends bit-identical, the frames are counted;
 *   - a synchronous peer restarted with an edited scenario stops every peer, naming the
 *     mismatch; a stalled synchronous run's error names the neighbour that is silent;
 *   - in deadline mode a peer killed with SIGKILL and restarted from its checkpoint rejoins,
 *     and the run ends within a point of the fault-free accuracy;
 *   - in synchronous mode a peer interrupted and restarted from its checkpoint rejoins, and
 *     the run ends bit-identical to `rumor sim`;
 *   - in deadline mode a peer whose neighbours are all stopped goes on without them and
 *     hears them again once they continue;
 *   - a peer that has nothing else to send (here: waiting for a neighbour that never comes)
 *     keeps its other neighbours hearing HEARTBEATs, a quarter of its liveness timeout apart.
 * Ports come from a per-process range so parallel test runs do not collide.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/keys.h"
#include "rumor/topology.h"
#include "rumor/transport.h"
#include "rumor/wire.h"
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static const char *s_bin;

/* 50 loopback ports per run in 20000-31999, below the kernel's ephemeral ports (32768-60999
 * by default): there, an outgoing connection could hold a port just when a peer binds it. */
#define S_PORT_BASE (20000 + (unsigned)(getpid() % 240) * 50)

static void s_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", s_dir, name);
}

/* Starts argv with stdout and stderr into log; returns the pid. */
static pid_t s_spawn(char *const argv[], const char *log)
{
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Waits for pid up to timeout_s; kills it on timeout. Returns the exit status or -1. */
static int s_wait(pid_t pid, int timeout_s)
{
    for (int i = 0; i < timeout_s * 20; i++) {
        int st;
        const pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static int s_run(const char *cmd)
{
    return system(cmd);
}

static void s_dump(const char *log)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "tail -n 20 %s >&2", log);
    (void)!system(cmd);
}

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int s_files_equal(const char *a, const char *b)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", a, b);
    return system(cmd) == 0;
}

/* A topology of kind/n on loopback ports, keys for every node, and a scenario; returns the
 * keyed topology path in topo. */
static void s_prepare(const char *kind, uint32_t n, const char *scenario_json, char *topo,
                      size_t cap)
{
    char plain[256], cmd[1024], keys[256], sc[256];
    const unsigned port = S_PORT_BASE;
    s_path(plain, sizeof plain, "plain.json");
    s_path(keys, sizeof keys, "keys");
    s_path(topo, cap, "topology.json");
    s_path(sc, sizeof sc, "scenario.json");
    snprintf(cmd, sizeof cmd,
             "rm -rf %s/keys %s/ckpt* %s/peer* && %s topo gen %s --n %u --port-base %u -o %s "
             ">/dev/null 2>&1",
             s_dir, s_dir, s_dir, s_bin, kind, n, port, plain);
    assert_int_equal(s_run(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s keygen --topology %s --dir %s -o %s --force >/dev/null 2>&1",
             s_bin, plain, keys, topo);
    assert_int_equal(s_run(cmd), 0);
    s_write(sc, scenario_json);
}

/* Starts every node, with checkpoints every `extra` rounds unless it is NULL, and `wait`
 * seconds for neighbours (NULL: 60). */
/* Starts node i's peer with its log in s_dir/log_name; extra, when not NULL, is the
 * checkpoint interval (checkpoints in s_dir/ckpt), wait the --wait seconds (NULL: 60). */
static pid_t s_start_peer(uint32_t i, const char *topo, const char *extra, const char *wait,
                          const char *log_name)
{
    char id[16], key[256], metrics[256], model[256], log[256], sc[256], ckpt[256];
    snprintf(id, sizeof id, "%u", i);
    snprintf(key, sizeof key, "%s/keys/node%u.key", s_dir, i);
    snprintf(metrics, sizeof metrics, "%s/peer%u.jsonl", s_dir, i);
    snprintf(model, sizeof model, "%s/peer%u.model", s_dir, i);
    snprintf(log, sizeof log, "%s/%s", s_dir, log_name);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", s_dir);
    s_path(sc, sizeof sc, "scenario.json");
    char *argv[24] = {(char *)s_bin, "peer",       "--config",  sc,
                      "--topology",  (char *)topo, "--id",      id,
                      "--key",       key,          "--metrics", metrics,
                      "--model-out", model,        "--wait",    wait ? (char *)wait : "60"};
    int a = 16;
    if (extra) {
        argv[a++] = "--checkpoint";
        argv[a++] = ckpt;
        argv[a++] = "--checkpoint-every";
        argv[a++] = (char *)extra;
    }
    argv[a] = NULL;
    return s_spawn(argv, log);
}

static void s_start(uint32_t n, pid_t *pids, const char *topo, const char *extra, const char *wait)
{
    for (uint32_t i = 0; i < n; i++) {
        char log[32];
        snprintf(log, sizeof log, "peer%u.log", i);
        pids[i] = s_start_peer(i, topo, extra, wait, log);
    }
}

static void s_wait_all(uint32_t n, pid_t *pids)
{
    for (uint32_t i = 0; i < n; i++) {
        const int rc = s_wait(pids[i], 120);
        if (rc != 0) {
            char log[256];
            snprintf(log, sizeof log, "%s/peer%u.log", s_dir, i);
            s_dump(log);
            fail_msg("peer %u exited with %d", i, rc);
        }
    }
}

/* Concatenates peer models in id order and compares them with `rumor sim --models`. */
static void s_assert_matches_sim(uint32_t n)
{
    char cmd[2048], all[256], sim[256], sc[256];
    s_path(all, sizeof all, "peers.bin");
    s_path(sim, sizeof sim, "sim.bin");
    s_path(sc, sizeof sc, "scenario.json");
    int at = snprintf(cmd, sizeof cmd, "cat");
    for (uint32_t i = 0; i < n; i++)
        at += snprintf(cmd + at, sizeof cmd - at, " %s/peer%u.model", s_dir, i);
    snprintf(cmd + at, sizeof cmd - at, " > %s", all);
    assert_int_equal(s_run(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s sim %s --models %s --quiet >/dev/null", s_bin, sc, sim);
    assert_int_equal(s_run(cmd), 0);
    assert_true(s_files_equal(all, sim));
}

static const char *s_sync_scenario =
    "{\"name\": \"node-test\", \"topology\": \"plain.json\","
    " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 1000, \"dim\": 20,"
    " \"classes\": 4, \"sep\": 4.0},"
    " \"algorithm\": {\"name\": \"malcom\", \"lr\": 0.1, \"gamma\": 0.5, \"lambda\": 0.001,"
    " \"batch\": 16, \"rounds\": %u, \"local_steps\": %u}, \"compressor\": \"dither:8\","
    " \"codec\": \"auto\", \"seed\": 5, \"eval_every\": 50}";

/* Prepares a ring of n on the synchronous scenario with `rounds` rounds of `local` local steps
 * and starts its peers (extra and wait as for s_start); the keyed topology path goes to
 * topo[256]. */
static void s_start_sync_ring(uint32_t n, uint32_t rounds, uint32_t local, pid_t *pids, char *topo,
                              const char *extra, const char *wait)
{
    char json[1024];
    snprintf(json, sizeof json, s_sync_scenario, rounds, local);
    s_prepare("ring", n, json, topo, 256);
    s_start(n, pids, topo, extra, wait);
}

static void test_eight_peers_match_simulator(void **state)
{
    (void)state;
    char topo[256];
    pid_t pids[8];
    s_start_sync_ring(8, 150, 1, pids, topo, NULL, NULL);
    s_wait_all(8, pids);
    s_assert_matches_sim(8);
}

/* ---- hostile input ------------------------------------------------------------------------ */

/* A CURVE DEALER holding kp, node `from`'s key (or a stranger's), connected to node `to` with
 * the routing id bound to the two keys plus `suffix` (the real node `from` holds the bare one). */
static void *s_dealer(void *ctx, const rumor_keypair_t *kp, uint32_t from, const char *server_pub,
                      uint32_t to, const char *endpoint, const char *suffix)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    const int linger = 0, timeout = 200;
    uint8_t rid[RUMOR_TRANSPORT_RID_BYTES + 32];
    const size_t extra = strlen(suffix);
    assert_true(extra <= 32);
    assert_int_equal(rumor_transport_routing_id(kp, from, server_pub, to, rid), 0);
    memcpy(rid + RUMOR_TRANSPORT_RID_BYTES, suffix, extra);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, RUMOR_TRANSPORT_RID_BYTES + extra);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pub, 40);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, kp->public_key, 40);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, kp->secret_key, 40);
    assert_int_equal(zmq_connect(s, endpoint), 0);
    return s;
}

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

/* The number at jq path .PATH in peer's last metrics record; -1 if it or the file is absent. */
static double s_last(uint32_t peer, const char *path)
{
    char cmd[512], out[64];
    snprintf(cmd, sizeof cmd, "tail -n 1 %s/peer%u.jsonl 2>/dev/null | jq '.%s // -1' 2>/dev/null",
             s_dir, peer, path);
    double v = -1;
    if (s_capture(cmd, out, sizeof out) != 0 || sscanf(out, "%lf", &v) != 1) v = -1;
    return v;
}

static long s_counter(uint32_t peer, const char *path)
{
    return (long)s_last(peer, path);
}

/* A drop counter of peer's last metrics record. */
static long s_metric(uint32_t peer, const char *reason)
{
    char path[128];
    snprintf(path, sizeof path, "dropped[\"%s\"]", reason);
    return s_counter(peer, path);
}

/* The round of peer's last metrics record, 0 before the first. */
static uint32_t s_last_round(uint32_t peer)
{
    const double r = s_last(peer, "round");
    return r < 0 ? 0 : (uint32_t)r;
}

/* 1 when the log file has a line containing text. */
static int s_log_has(const char *log, const char *text)
{
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char line[1024];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, text) != NULL;
    fclose(f);
    if (!found) s_dump(log);
    return found;
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

/* Every one of the 4 peers exits with an error within timeout_s, its log naming the cause. */
static void s_expect_all_stop(pid_t *pids, int timeout_s, const char *cause)
{
    for (uint32_t i = 0; i < 4; i++) {
        const int rc = s_wait(pids[i], timeout_s);
        char log[256];
        snprintf(log, sizeof log, "%s/peer%u.log", s_dir, i);
        if (rc <= 0) s_dump(log);
        if (rc <= 0 || !s_log_has(log, cause)) {
            for (uint32_t j = i + 1; j < 4; j++) s_wait(pids[j], 0); /* kill the rest */
            fail_msg("peer %u exited with %d", i, rc);
        }
    }
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

/* Node `key_node`'s key, as an insider holds it: a second connection to node `target` beside
 * the real node's, with the routing id bound to its key plus the suffix rid. */
static void *s_insider(void *ctx, const rumor_topology_t *topo, uint32_t key_node, uint32_t target,
                       const char *rid)
{
    char key[256];
    rumor_keypair_t kp;
    snprintf(key, sizeof key, "%s/keys/node%u.key", s_dir, key_node);
    assert_int_equal(rumor_keys_load(key, &kp, NULL), 0);
    void *s = s_dealer(ctx, &kp, key_node, topo->nodes[target].public_key, target,
                       topo->nodes[target].endpoint, rid);
    rumor_keys_wipe(&kp);
    return s;
}

/* Sends one frame of type with payload[0..len) on s, three times 100 ms apart (the connection
 * may not be up for the first). */
static void s_forge(void *s, uint8_t type, uint32_t sender, uint32_t round, uint64_t seq,
                    const uint8_t *payload, size_t len)
{
    uint8_t buf[256];
    const rumor_wire_header_t h = {
        .type = type, .sender = sender, .round = round, .seq = seq, .len = (uint32_t)len};
    size_t flen;
    assert_int_equal(rumor_wire_encode_frame(&h, payload, len, buf, sizeof buf, &flen), 0);
    for (int i = 0; i < 3; i++) {
        zmq_send(s, buf, flen, 0);
        usleep(100000);
    }
}

static void s_forge_bye(void *s, uint32_t sender, uint32_t origin, uint32_t round, int32_t code)
{
    uint8_t p[RUMOR_WIRE_BYE_BYTES];
    const rumor_wire_bye_t bye = {.origin = origin, .round = round, .code = code};
    assert_int_equal(rumor_wire_encode_bye(&bye, p, sizeof p), 0);
    s_forge(s, RUMOR_WIRE_BYE, sender, round, 0, p, sizeof p);
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
    s_prepare("ring", 4, json, topo_path, sizeof topo_path);
    rumor_topology_t *topo = NULL;
    assert_int_equal(rumor_topology_load(topo_path, &topo, NULL), 0);
    pid_t pids[4];
    s_start(4, pids, topo_path, NULL, NULL);
    for (int i = 0; i < 600 && s_last_round(0) < 100; i++) usleep(50000);
    assert_true(s_last_round(0) >= 100);
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
    pids[1] = s_start_peer(1, topo, NULL, "60", "peer1.log");
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
    s_prepare("ring", 4, json, topo_path, sizeof topo_path);
    rumor_topology_t *topo = NULL;
    assert_int_equal(rumor_topology_load(topo_path, &topo, NULL), 0);
    pid_t pids[4];
    s_start(4, pids, topo_path, NULL, NULL);
    for (int i = 0; i < 600 && s_last_round(0) < 100; i++) usleep(50000);
    assert_true(s_last_round(0) >= 100);
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
    pids[2] = s_start_peer(2, topo, "20", NULL, "peer2-restart.log");
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
    for (int i = 0; i < 600 && s_last_round(2) < 300; i++) usleep(20000);
    assert_true(s_last_round(2) >= 300);
    kill(pids[2], SIGINT);
    assert_true(s_wait(pids[2], 20) > 0); /* exits with an error status, having checkpointed */
    usleep(500000);
    pids[2] = s_start_peer(2, topo, "50", "60", "peer2-restart.log");
    s_wait_all(4, pids);
    for (uint32_t i = 0; i < 4; i++) assert_int_equal(s_last_round(i), 6000);
    char log[256];
    s_path(log, sizeof log, "peer1.log");
    assert_true(s_log_has(log, "node 1: node 2 was interrupted in round "));
    s_path(log, sizeof log, "peer2-restart.log");
    assert_true(s_log_has(log, "resuming from"));
    /* It checkpointed at a round boundary and its neighbours waited there: nothing was lost,
     * so the run ends as if it had never stopped. */
    s_assert_matches_sim(4);
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
    const uint32_t during = s_last_round(2) - before;
    assert_int_equal(kill(pids[1], SIGCONT), 0);
    assert_int_equal(kill(pids[3], SIGCONT), 0);
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
    const unsigned port = S_PORT_BASE + 40;
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

static int s_setup(void **state)
{
    (void)state;
    s_bin = getenv("RUMOR_BIN");
    if (!s_bin) return -1;
    return s_scratch_make("node");
}

static int s_teardown(void **state)
{
    (void)state;
    return s_scratch_remove();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eight_peers_match_simulator),
        cmocka_unit_test(test_hostile_frames_are_dropped),
        cmocka_unit_test(test_diverged_models_stop_synchronous_peers),
        cmocka_unit_test(test_insider_frames_change_nothing),
        cmocka_unit_test(test_restart_with_edited_scenario_stops_everyone),
        cmocka_unit_test(test_stall_error_names_the_silent_neighbour),
        cmocka_unit_test(test_deadline_peer_mixes_without_a_neighbour_that_left),
        cmocka_unit_test(test_peer_refuses_simulated_faults),
        cmocka_unit_test(test_killed_peer_restarts_from_checkpoint),
        cmocka_unit_test(test_interrupted_peer_is_left_out_until_it_returns),
        cmocka_unit_test(test_interrupted_synchronous_peer_resumes),
        cmocka_unit_test(test_stopped_neighbours_are_left_out_and_return),
        cmocka_unit_test(test_waiting_peer_sends_heartbeats),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
