/* Support shared by node's test programs (test_node*.c): real `rumor peer` processes (the
 * binary in RUMOR_BIN) on tcp loopback with CurveZMQ, started, awaited and compared with
 * `rumor sim`; their metrics and logs; and sockets that hold a node's key, to forge frames.
 * Ports come from a per-process range so parallel test runs do not collide. */
#ifndef RUMOR_TEST_NODE_SUPPORT_H
#define RUMOR_TEST_NODE_SUPPORT_H

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

static inline void s_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", s_dir, name);
}

/* Starts argv with stdout and stderr into log; returns the pid. */
static inline pid_t s_spawn(char *const argv[], const char *log)
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
static inline int s_wait(pid_t pid, int timeout_s)
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

static inline int s_run(const char *cmd)
{
    return system(cmd);
}

static inline void s_dump(const char *log)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "tail -n 20 %s >&2", log);
    (void)!system(cmd);
}

static inline void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static inline int s_files_equal(const char *a, const char *b)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", a, b);
    return system(cmd) == 0;
}

/* A topology of kind/n on loopback ports, keys for every node, and a scenario; returns the
 * keyed topology path in topo. */
static inline void s_prepare(const char *kind, uint32_t n, const char *scenario_json, char *topo,
                             size_t cap)
{
    char plain[256], cmd[1024], keys[256], sc[256];
    const unsigned port = s_port_block();
    assert_true(port > 0);
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
 * checkpoint interval (checkpoints in s_dir/ckpt), wait the --wait seconds (NULL: 60), more
 * further arguments (NULL-terminated, at most 4; NULL: none). */
static inline pid_t s_start_peer(uint32_t i, const char *topo, const char *extra, const char *wait,
                                 const char *log_name, const char *const *more)
{
    char id[16], key[256], metrics[256], model[256], log[256], sc[256], ckpt[256];
    snprintf(id, sizeof id, "%u", i);
    snprintf(key, sizeof key, "%s/keys/node%u.key", s_dir, i);
    snprintf(metrics, sizeof metrics, "%s/peer%u.jsonl", s_dir, i);
    snprintf(model, sizeof model, "%s/peer%u.model", s_dir, i);
    snprintf(log, sizeof log, "%s/%s", s_dir, log_name);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", s_dir);
    s_path(sc, sizeof sc, "scenario.json");
    char *argv[28] = {(char *)s_bin, "peer",       "--config",  sc,
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
    for (int k = 0; more && more[k]; k++) argv[a++] = (char *)more[k];
    argv[a] = NULL;
    return s_spawn(argv, log);
}

static inline void s_start(uint32_t n, pid_t *pids, const char *topo, const char *extra,
                           const char *wait)
{
    for (uint32_t i = 0; i < n; i++) {
        char log[32];
        snprintf(log, sizeof log, "peer%u.log", i);
        pids[i] = s_start_peer(i, topo, extra, wait, log, NULL);
    }
}

static inline void s_wait_all(uint32_t n, pid_t *pids)
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

/* Concatenates peer models in id order and compares them with `rumor sim --models` of the
 * scenario s_dir/scenario. */
static inline void s_assert_matches_sim_of(uint32_t n, const char *scenario)
{
    char cmd[2048], all[256], sim[256], sc[256];
    s_path(all, sizeof all, "peers.bin");
    s_path(sim, sizeof sim, "sim.bin");
    s_path(sc, sizeof sc, scenario);
    int at = snprintf(cmd, sizeof cmd, "cat");
    for (uint32_t i = 0; i < n; i++)
        at += snprintf(cmd + at, sizeof cmd - at, " %s/peer%u.model", s_dir, i);
    snprintf(cmd + at, sizeof cmd - at, " > %s", all);
    assert_int_equal(s_run(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s sim %s --models %s --quiet >/dev/null", s_bin, sc, sim);
    assert_int_equal(s_run(cmd), 0);
    assert_true(s_files_equal(all, sim));
}

/* The same for the peers' own scenario. */
static inline void s_assert_matches_sim(uint32_t n)
{
    s_assert_matches_sim_of(n, "scenario.json");
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
static inline void s_start_sync_ring(uint32_t n, uint32_t rounds, uint32_t local, pid_t *pids,
                                     char *topo, const char *extra, const char *wait)
{
    char json[1024];
    snprintf(json, sizeof json, s_sync_scenario, rounds, local);
    s_prepare("ring", n, json, topo, 256);
    s_start(n, pids, topo, extra, wait);
}

/* A CURVE DEALER holding kp, node `from`'s key (or a stranger's), connected to node `to` with
 * the routing id bound to the two keys plus `suffix` (the real node `from` holds the bare one). */
static inline void *s_dealer(void *ctx, const rumor_keypair_t *kp, uint32_t from,
                             const char *server_pub, uint32_t to, const char *endpoint,
                             const char *suffix)
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

/* The number at jq path .PATH in peer's last metrics record; -1 if it or the file is absent. */
static inline double s_last(uint32_t peer, const char *path)
{
    char cmd[512], out[64];
    snprintf(cmd, sizeof cmd, "tail -n 1 %s/peer%u.jsonl 2>/dev/null | jq '.%s // -1' 2>/dev/null",
             s_dir, peer, path);
    double v = -1;
    if (s_capture(cmd, out, sizeof out) != 0 || sscanf(out, "%lf", &v) != 1) v = -1;
    return v;
}

static inline long s_counter(uint32_t peer, const char *path)
{
    return (long)s_last(peer, path);
}

/* A drop counter of peer's last metrics record. */
static inline long s_metric(uint32_t peer, const char *reason)
{
    char path[128];
    snprintf(path, sizeof path, "dropped[\"%s\"]", reason);
    return s_counter(peer, path);
}

/* The round of peer's last metrics record, 0 before the first. */
static inline uint32_t s_last_round(uint32_t peer)
{
    const double r = s_last(peer, "round");
    return r < 0 ? 0 : (uint32_t)r;
}

/* 1 when the log file has a line containing text. */
static inline int s_log_has(const char *log, const char *text)
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

/* Starts 4 peers on a ring with the scenario json (its topology file's path in topo_path) and
 * waits until peer 0 has reached round 100; returns the topology, to be destroyed. */
static inline rumor_topology_t *s_start_ring4(const char *json, char *topo_path, size_t cap,
                                              pid_t pids[4])
{
    s_prepare("ring", 4, json, topo_path, cap);
    rumor_topology_t *topo = NULL;
    assert_int_equal(rumor_topology_load(topo_path, &topo, NULL), 0);
    s_start(4, pids, topo_path, NULL, NULL);
    for (int i = 0; i < 600 && s_last_round(0) < 100; i++) usleep(50000);
    assert_true(s_last_round(0) >= 100);
    return topo;
}

/* Every one of the 4 peers exits with an error within timeout_s, its log naming the cause. */
static inline void s_expect_all_stop(pid_t *pids, int timeout_s, const char *cause)
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

/* Node `key_node`'s key, as an insider holds it: a second connection to node `target` beside
 * the real node's, with the routing id bound to its key plus the suffix rid. */
static inline void *s_insider(void *ctx, const rumor_topology_t *topo, uint32_t key_node,
                              uint32_t target, const char *rid)
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
static inline void s_forge(void *s, uint8_t type, uint32_t sender, uint32_t round, uint64_t seq,
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

static inline void s_forge_bye(void *s, uint32_t sender, uint32_t origin, uint32_t round,
                               int32_t code)
{
    uint8_t p[RUMOR_WIRE_BYE_BYTES];
    const rumor_wire_bye_t bye = {.origin = origin, .round = round, .code = code};
    assert_int_equal(rumor_wire_encode_bye(&bye, p, sizeof p), 0);
    s_forge(s, RUMOR_WIRE_BYE, sender, round, 0, p, sizeof p);
}

static inline int s_setup(void **state)
{
    (void)state;
    s_bin = getenv("RUMOR_BIN");
    if (!s_bin) return -1;
    return s_scratch_make("node");
}

static inline int s_teardown(void **state)
{
    (void)state;
    return s_scratch_remove();
}

#endif
