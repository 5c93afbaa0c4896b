/* Tests of transport over real sockets (loopback tcp, ipc in a temporary directory, inproc):
 * neighbours exchange frames both ways under CurveZMQ and learn each other's authenticated
 * id; unlisted keys, forged routing ids, wrong server keys, oversized and multi-part frames
 * get nowhere; plaintext works on loopback and is refused anywhere else before any socket
 * exists. Waits are bounded (a few hundred ms where nothing must happen, up to a few seconds
 * where something must), so the suite is quick when things work and cannot hang. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/keys.h"
#include "rumor/transport.h"
#include "support.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define MAXN      4
#define MAX_FRAME 1024
#define WAIT_MS   3000 /* for things that must happen */
#define QUIET_MS  300  /* for things that must not */

static int s_next_port;

static int s_setup(void **state)
{
    (void)state;
    if (s_scratch_make("transport")) return -1;
    /* Spread concurrent runs of this suite (several build directories) over 10000-16399,
     * below the kernel's ephemeral ports (32768-60999 by default), where an outgoing
     * connection could hold a port just when a test binds it. */
    s_next_port = 10000 + (int)(getpid() % 400) * 16;
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    return s_scratch_remove();
}

/* A loopback tcp port that is free right now. */
static int s_port(void)
{
    for (int tries = 0; tries < 200; tries++) {
        const int port = s_next_port++;
        if (s_next_port >= 16400) s_next_port = 10000;
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const int ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (ok) return port;
    }
    fail_msg("no free loopback port in 29000-35500");
    return -1;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- a small network of transports -------------------------------------------------------- */

typedef struct {
    uint32_t n;
    int adj[MAXN][MAXN];
    char ep[MAXN][160];
    rumor_keypair_t kp[MAXN];
    rumor_transport_t *t[MAXN];
    void *ctx;                    /* set by s_net_up */
    rumor_transport_auth_t *auth; /* set by s_net_up unless insecure */
} s_net_t;

typedef enum {
    S_LINE, /* 0 - 1 - 2 ... */
    S_STAR, /* 0 - 1, 0 - 2, ... */
    S_FULL, /* every pair */
} s_shape_t;

/* Whether nodes i != j are neighbours in `shape`. */
static int s_linked(s_shape_t shape, uint32_t i, uint32_t j)
{
    switch (shape) {
    case S_LINE:
        return i + 1 == j || j + 1 == i;
    case S_STAR:
        return i == 0 || j == 0;
    default:
        return 1;
    }
}

/* n nodes on `scheme` ("tcp", "ipc" or "inproc") with fresh endpoints and key pairs, linked
 * as `shape` says; nothing started. */
static void s_net_init(s_net_t *net, uint32_t n, const char *scheme, s_shape_t shape)
{
    memset(net, 0, sizeof *net);
    net->n = n;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) net->adj[i][j] = i != j && s_linked(shape, i, j);
    for (uint32_t i = 0; i < n; i++) {
        if (!strcmp(scheme, "tcp"))
            snprintf(net->ep[i], sizeof net->ep[i], "tcp://127.0.0.1:%d", s_port());
        else if (!strcmp(scheme, "ipc"))
            snprintf(net->ep[i], sizeof net->ep[i], "ipc://%s/node%u", s_dir, i);
        else
            snprintf(net->ep[i], sizeof net->ep[i], "inproc://rumor-test-%d-node%u", s_next_port++,
                     i);
        assert_int_equal(rumor_keys_generate(&net->kp[i], NULL), 0);
    }
}

/* Configuration of node i; nbrs must hold MAXN entries. */
static rumor_transport_cfg_t s_cfg(const s_net_t *net, uint32_t i, rumor_transport_nbr_t *nbrs,
                                   int insecure, rumor_transport_auth_t *auth)
{
    rumor_transport_cfg_t cfg = {.self = i,
                                 .endpoint = net->ep[i],
                                 .nbrs = nbrs,
                                 .keys = insecure ? NULL : &net->kp[i],
                                 .insecure = insecure,
                                 .auth = auth,
                                 .max_frame = MAX_FRAME};
    for (uint32_t j = 0; j < net->n; j++) {
        if (!net->adj[i][j]) continue;
        nbrs[cfg.n_nbrs].id = j;
        nbrs[cfg.n_nbrs].endpoint = net->ep[j];
        nbrs[cfg.n_nbrs].public_key = net->kp[j].public_key;
        cfg.n_nbrs++;
    }
    return cfg;
}

/* Starts node i's transport in ctx; fails the test if it cannot. */
static void s_node_start(s_net_t *net, uint32_t i, void *ctx, rumor_transport_auth_t *auth,
                         int insecure)
{
    rumor_transport_nbr_t nbrs[MAXN];
    const rumor_transport_cfg_t cfg = s_cfg(net, i, nbrs, insecure, auth);
    rumor_errmsg_t em = {{0}};
    net->t[i] = rumor_transport_new(ctx, &cfg, &em);
    if (!net->t[i]) fail_msg("node %u: %s", i, em.msg);
}

/* Starts every node, node i in ctx[i]. */
static void s_net_start(s_net_t *net, void **ctx, rumor_transport_auth_t *auth, int insecure)
{
    for (uint32_t i = 0; i < net->n; i++) s_node_start(net, i, ctx[i], auth, insecure);
}

static void s_net_stop(s_net_t *net)
{
    for (uint32_t i = 0; i < net->n; i++) rumor_transport_destroy(&net->t[i]);
}

/* The simulator's layout: every node in one new context (net->ctx), all sharing one ZAP
 * handler (net->auth), or none when insecure. Undone by s_net_down. */
static void s_net_up(s_net_t *net, int insecure)
{
    net->ctx = zmq_ctx_new();
    assert_non_null(net->ctx);
    if (!insecure) {
        rumor_errmsg_t em = {{0}};
        net->auth = rumor_transport_auth_new(net->ctx, &em);
        if (!net->auth) fail_msg("auth: %s", em.msg);
    }
    void *ctxs[MAXN];
    for (uint32_t i = 0; i < net->n; i++) ctxs[i] = net->ctx;
    s_net_start(net, ctxs, net->auth, insecure);
}

static void s_net_down(s_net_t *net)
{
    s_net_stop(net);
    rumor_transport_auth_destroy(&net->auth);
    zmq_ctx_term(net->ctx);
}

static size_t s_fill(uint8_t *buf, uint32_t from, uint32_t to, size_t len)
{
    for (size_t k = 0; k < len; k++) buf[k] = (uint8_t)(from * 31 + to * 7 + k);
    return len;
}

/* Waits (bounded) until a frame from node `from` (transport tf) to node `to` (transport tt)
 * would be queued. tt's ZAP handler answers the connection's handshake only inside tt's own
 * calls (it has no thread), so both are called in turn, as two peers' loops would. */
static void s_link_up(rumor_transport_t *tf, uint32_t from, rumor_transport_t *tt, uint32_t to)
{
    for (int i = 0; i < WAIT_MS && !rumor_transport_ready(tf, to); i++) {
        (void)rumor_transport_ready(tt, from);
        s_sleep_ms(1);
    }
    assert_true(rumor_transport_ready(tf, to));
}

/* Every node sends one frame to every neighbour, then every node receives one frame from
 * each neighbour and checks the authenticated id and the content. */
static void s_exchange(s_net_t *net, size_t len)
{
    uint8_t buf[MAX_FRAME];
    for (uint32_t i = 0; i < net->n; i++)
        for (uint32_t j = 0; j < net->n; j++)
            if (net->adj[i][j]) s_link_up(net->t[i], i, net->t[j], j);
    for (uint32_t i = 0; i < net->n; i++)
        for (uint32_t j = 0; j < net->n; j++)
            if (net->adj[i][j]) {
                s_fill(buf, i, j, len);
                assert_int_equal(rumor_transport_send(net->t[i], j, buf, len, WAIT_MS), 0);
            }
    for (uint32_t j = 0; j < net->n; j++) {
        int seen[MAXN] = {0}, deg = 0, got = 0;
        for (uint32_t i = 0; i < net->n; i++) deg += net->adj[j][i];
        while (got < deg) {
            uint32_t from = 99;
            size_t n = 0;
            const int rc = rumor_transport_recv(net->t[j], WAIT_MS, &from, buf, sizeof buf, &n);
            if (rc != 0)
                fail_msg("node %u: recv: %s after %d of %d frames", j, rumor_strerror(rc), got,
                         deg);
            assert_true(from < net->n && net->adj[j][from]);
            assert_int_equal(seen[from], 0);
            seen[from] = 1;
            assert_int_equal(n, len);
            uint8_t want[MAX_FRAME];
            s_fill(want, from, j, len);
            assert_memory_equal(buf, want, len);
            got++;
        }
    }
}

/* A DEALER that does not go through rumor_transport: a CURVE client with key pair kp (NULL:
 * plaintext), expecting server key server_pub, with the given routing id (NULL: none). */
static void *s_raw(void *ctx, const rumor_keypair_t *kp, const char *server_pub, const void *rid,
                   size_t rid_len, const char *ep)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    assert_non_null(s);
    const int zero = 0, timeo = WAIT_MS, ivl = 50;
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeo, sizeof timeo), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl), 0);
    if (rid) assert_int_equal(zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, rid_len), 0);
    if (kp) {
        assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pub, 41), 0);
        assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, kp->public_key, 41), 0);
        assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, kp->secret_key, 41), 0);
    }
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

/* A raw DEALER holding node j's keys, connected to node i with the routing id bound to the
 * two keys plus `suffix` (a second connection under j's key needs its own). */
static void *s_raw_as(void *ctx, const s_net_t *net, uint32_t j, uint32_t i, const char *suffix)
{
    uint8_t rid[RUMOR_TRANSPORT_RID_BYTES + 16];
    assert_int_equal(rumor_transport_routing_id(&net->kp[j], j, net->kp[i].public_key, i, rid), 0);
    const size_t extra = strlen(suffix);
    assert_true(extra <= 16);
    memcpy(rid + RUMOR_TRANSPORT_RID_BYTES, suffix, extra);
    return s_raw(ctx, &net->kp[j], net->kp[i].public_key, rid, RUMOR_TRANSPORT_RID_BYTES + extra,
                 net->ep[i]);
}

/* Receives one frame within WAIT_MS, skipping nothing; returns recv's code. */
static int s_recv(rumor_transport_t *t, uint32_t *from, uint8_t *buf, size_t cap, size_t *len)
{
    return rumor_transport_recv(t, WAIT_MS, from, buf, cap, len);
}

/* Checks that nothing arrives at t within ms (t's ZAP handler answers meanwhile). */
static void s_assert_silent(rumor_transport_t *t, int ms)
{
    uint32_t from;
    size_t len;
    uint8_t buf[MAX_FRAME];
    assert_int_equal(rumor_transport_recv(t, ms, &from, buf, sizeof buf, &len), RUMOR_ETIMEOUT);
}

/* Waits (bounded) until t's ZAP handler has refused a client, and checks that the last one it
 * refused had public key `key`; fails if it never refuses one. */
static void s_assert_refused_key(rumor_transport_t *t, const char *key)
{
    rumor_transport_auth_stats_t st;
    rumor_transport_auth_stats(t, &st);
    for (int i = 0; i < WAIT_MS / 10 && st.refused == 0; i++) {
        s_assert_silent(t, 10);
        rumor_transport_auth_stats(t, &st);
    }
    assert_true(st.refused >= 1);
    assert_string_equal(st.last_refused, key);
}

/* Checks that cfg is refused in ctx with an error message containing `want`. */
static void s_assert_cfg_refused(void *ctx, const rumor_transport_cfg_t *cfg, const char *want)
{
    rumor_errmsg_t em = {{0}};
    rumor_transport_t *t = rumor_transport_new(ctx, cfg, &em);
    if (t) {
        rumor_transport_destroy(&t);
        fail_msg("accepted; expected an error containing \"%s\"", want);
    }
    if (!strstr(em.msg, want)) fail_msg("error \"%s\" does not contain \"%s\"", em.msg, want);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_two_nodes_tcp_curve(void **state)
{
    (void)state;
    s_net_t net;
    s_net_init(&net, 2, "tcp", S_LINE);
    s_net_up(&net, 0);
    assert_string_equal(rumor_transport_endpoint(net.t[0]), net.ep[0]);
    s_exchange(&net, 100);
    s_exchange(&net, MAX_FRAME); /* a frame of exactly max_frame passes, CURVE overhead and all */
    s_exchange(&net, 0);         /* and an empty one */
    assert_int_equal(rumor_transport_ready(net.t[0], 1), 1);
    rumor_transport_auth_stats_t st;
    rumor_transport_auth_stats(net.t[1], &st);
    assert_true(st.admitted >= 1);
    assert_int_equal(st.refused, 0);
    s_net_down(&net);
}

static void test_three_nodes_inproc_shared_auth(void **state)
{
    (void)state;
    /* The simulator's layout: every peer in one context, one ZAP handler for all. */
    void *ctx = zmq_ctx_new();
    rumor_transport_auth_t *auth = rumor_transport_auth_new(ctx, NULL);
    assert_non_null(auth);
    void *ctxs[3] = {ctx, ctx, ctx};
    s_net_t net;
    s_net_init(&net, 3, "inproc", S_FULL);
    s_net_start(&net, ctxs, auth, 0);
    for (int round = 0; round < 3; round++) s_exchange(&net, 40 + (size_t)round);
    s_net_stop(&net);
    /* The same over tcp, where every connection goes through the shared ZAP handler: each
     * node admits exactly its two neighbours' keys. */
    s_net_init(&net, 3, "tcp", S_FULL);
    s_net_start(&net, ctxs, auth, 0);
    s_exchange(&net, 40);
    for (uint32_t i = 0; i < 3; i++) {
        rumor_transport_auth_stats_t st;
        rumor_transport_auth_stats(net.t[i], &st);
        assert_int_equal(st.admitted, 2);
        assert_int_equal(st.refused, 0);
    }
    s_net_stop(&net);
    rumor_transport_auth_destroy(&auth);
    zmq_ctx_term(ctx);
}

static void test_three_nodes_ipc_own_contexts(void **state)
{
    (void)state;
    /* The process-per-peer layout: one context each, each transport starts its own ZAP
     * handler (cfg.auth = NULL). Line 0 - 1 - 2. */
    void *ctxs[3] = {zmq_ctx_new(), zmq_ctx_new(), zmq_ctx_new()};
    s_net_t net;
    s_net_init(&net, 3, "ipc", S_LINE);
    s_net_start(&net, ctxs, NULL, 0);
    s_exchange(&net, 300);
    s_exchange(&net, 1);
    /* Not neighbours: refused locally. */
    uint8_t b[4] = {0};
    assert_int_equal(rumor_transport_send(net.t[0], 2, b, sizeof b, 0), RUMOR_EINVAL);
    assert_int_equal(rumor_transport_send(net.t[0], 0, b, sizeof b, 0), RUMOR_EINVAL);
    s_net_stop(&net);
    for (int i = 0; i < 3; i++) zmq_ctx_term(ctxs[i]);
}

static void test_unlisted_key_cannot_deliver(void **state)
{
    (void)state;
    s_net_t net;
    s_net_init(&net, 2, "tcp", S_LINE);
    s_net_up(&net, 0);
    /* A stranger who knows node 0's public key and endpoint, and even claims to be node 1. */
    rumor_keypair_t stranger;
    assert_int_equal(rumor_keys_generate(&stranger, NULL), 0);
    const uint8_t rid[4] = {1, 0, 0, 0};
    void *raw = s_raw(net.ctx, &stranger, net.kp[0].public_key, rid, sizeof rid, net.ep[0]);
    uint8_t frame[64];
    s_fill(frame, 1, 0, sizeof frame);
    assert_int_equal(zmq_send(raw, frame, sizeof frame, 0), (int)sizeof frame);
    s_assert_refused_key(net.t[0], stranger.public_key);
    s_assert_silent(net.t[0], QUIET_MS);
    /* The real neighbour still gets through. */
    s_exchange(&net, 64);
    zmq_close(raw);
    s_net_down(&net);
}

/* Threads of this process, from /proc/self/task. */
static int s_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_zap_served_without_a_thread(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    skip(); /* the thread sanitizer runs a thread of its own */
#endif
    s_net_t net;
    s_net_init(&net, 2, "tcp", S_LINE);
    void *ctx[2] = {zmq_ctx_new(), zmq_ctx_new()};
    const int before = s_threads();
    s_node_start(&net, 0, ctx[0], NULL, 0);
    /* ZeroMQ's I/O thread and its reaper: no ZAP handler thread. */
    assert_int_equal(s_threads() - before, 2);
    s_node_start(&net, 1, ctx[1], NULL, 0);
    /* Node 0 answers handshakes from its own calls: a stranger is refused, node 1 admitted. */
    rumor_keypair_t stranger;
    assert_int_equal(rumor_keys_generate(&stranger, NULL), 0);
    void *raw = s_raw(ctx[0], &stranger, net.kp[0].public_key, NULL, 0, net.ep[0]);
    assert_int_equal(zmq_send(raw, "x", 1, 0), 1);
    s_assert_refused_key(net.t[0], stranger.public_key);
    s_exchange(&net, 64);
    rumor_transport_auth_stats_t st;
    rumor_transport_auth_stats(net.t[0], &st);
    assert_int_equal(st.refused, 1);
    assert_true(st.admitted >= 1);
    zmq_close(raw);
    s_net_stop(&net);
    zmq_ctx_term(ctx[0]);
    zmq_ctx_term(ctx[1]);
}

static void test_forged_routing_id_dropped(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    s_net_t net;
    s_net_init(&net, 3, "tcp", S_STAR);
    /* Only node 0 runs a transport; nodes 1 and 2 are played by raw sockets that hold their
     * keys but swap their old-style routing ids (the node id), then by raw sockets with the
     * routing ids bound to their keys (one with a suffix: a second connection per key). */
    s_node_start(&net, 0, ctx, NULL, 0);
    const uint8_t rid_says_2[4] = {2, 0, 0, 0}, rid_says_1[4] = {1, 0, 0, 0};
    void *as1 = s_raw(ctx, &net.kp[1], net.kp[0].public_key, rid_says_2, 4, net.ep[0]);
    void *as2 = s_raw(ctx, &net.kp[2], net.kp[0].public_key, rid_says_1, 4, net.ep[0]);
    assert_int_equal(zmq_send(as1, "from-1", 6, 0), 6);
    assert_int_equal(zmq_send(as2, "from-2!", 7, 0), 7);
    int seen[3] = {0};
    for (int k = 0; k < 2; k++) {
        uint32_t from = 99;
        size_t len = 0;
        uint8_t buf[MAX_FRAME];
        /* Dropped, and the id reported comes from the key, whatever the routing id says. */
        assert_int_equal(s_recv(net.t[0], &from, buf, sizeof buf, &len), RUMOR_EAUTH);
        assert_true(from == 1 || from == 2);
        assert_int_equal(len, from == 1 ? 6 : 7);
        seen[from]++;
    }
    assert_int_equal(seen[1], 1);
    assert_int_equal(seen[2], 1);
    rumor_transport_auth_stats_t st;
    rumor_transport_auth_stats(net.t[0], &st);
    assert_int_equal(st.misrouted, 2);
    zmq_close(as1);
    zmq_close(as2);
    as1 = s_raw_as(ctx, &net, 1, 0, "");
    as2 = s_raw_as(ctx, &net, 2, 0, "#2");
    assert_int_equal(zmq_send(as1, "from-1", 6, 0), 6);
    assert_int_equal(zmq_send(as2, "from-2!", 7, 0), 7);
    for (int k = 0; k < 2; k++) {
        uint32_t from = 99;
        size_t len = 0;
        uint8_t buf[MAX_FRAME];
        assert_int_equal(s_recv(net.t[0], &from, buf, sizeof buf, &len), 0);
        assert_int_equal(len, from == 1 ? 6 : 7);
        assert_memory_equal(buf, from == 1 ? "from-1" : "from-2!", len);
    }
    zmq_close(as1);
    zmq_close(as2);
    rumor_transport_destroy(&net.t[0]);
    zmq_ctx_term(ctx);
}

static void test_stolen_routing_id_cannot_lock_out(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new(), *ctx1 = zmq_ctx_new();
    s_net_t net;
    s_net_init(&net, 3, "tcp", S_STAR);
    s_node_start(&net, 0, ctx, NULL, 0);
    /* Node 2's key, connected first, announcing node 1's id as its routing id: it must not
     * keep the real node 1 out, and its own frames are dropped and counted. */
    const uint8_t rid_says_1[4] = {1, 0, 0, 0};
    void *thief = s_raw(ctx, &net.kp[2], net.kp[0].public_key, rid_says_1, 4, net.ep[0]);
    assert_int_equal(zmq_send(thief, "stolen", 6, 0), 6);
    uint32_t from = 99;
    size_t len = 0;
    uint8_t buf[MAX_FRAME];
    assert_int_equal(s_recv(net.t[0], &from, buf, sizeof buf, &len), RUMOR_EAUTH);
    assert_int_equal(from, 2);
    rumor_transport_auth_stats_t st;
    rumor_transport_auth_stats(net.t[0], &st);
    assert_int_equal(st.misrouted, 1);
    s_node_start(&net, 1, ctx1, NULL, 0);
    s_link_up(net.t[1], 1, net.t[0], 0);
    assert_int_equal(rumor_transport_send(net.t[1], 0, (const uint8_t *)"real", 4, WAIT_MS), 0);
    assert_int_equal(s_recv(net.t[0], &from, buf, sizeof buf, &len), 0);
    assert_int_equal(from, 1);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "real", 4);
    zmq_close(thief);
    rumor_transport_destroy(&net.t[1]);
    rumor_transport_destroy(&net.t[0]);
    zmq_ctx_term(ctx1);
    zmq_ctx_term(ctx);
}

/* ---- floods before authentication ------------------------------------------------------ */

#define FLOOD_CONNS     500
#define FLOOD_MAX_FRAME (400u << 10) /* a d = 100k run's frames are this large */

/* The resident set of this process in KiB, from /proc/self/status. */
static long s_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    assert_non_null(f);
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    assert_true(kib > 0);
    return kib;
}

/* Enough file descriptors for both ends of every flood connection. */
static void s_raise_fd_limit(void)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 4 * FLOOD_CONNS) {
        rl.rlim_cur = rl.rlim_max < 4 * FLOOD_CONNS ? rl.rlim_max : 4 * FLOOD_CONNS;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur < 2 * FLOOD_CONNS + 64) skip();
}

/* A keyless client: a plain TCP connection to 127.0.0.1:port that speaks just enough ZMTP to
 * reach the CURVE handshake (the greeting), then sends one frame header announcing `size`
 * bytes and all of them but the last, so the peer holds the frame until the handshake times
 * out. Returns the socket (non-blocking), with `want` bytes left to write in *left. */
static int s_keyless(int port, uint64_t size, size_t *left)
{
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    uint8_t hello[64 + 9] = {0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 0, 'C', 'U', 'R', 'V', 'E'};
    hello[64] = 0x06; /* a long command frame */
    for (int i = 0; i < 8; i++) hello[65 + i] = (uint8_t)(size >> (56 - 8 * i));
    assert_int_equal(send(fd, hello, sizeof hello, 0), (ssize_t)sizeof hello);
    assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    *left = (size_t)size - 1;
    return fd;
}

/* Pushes the rest of every client's frame, for at most ms; returns the bytes not sent. */
static uint64_t s_push(int *fd, size_t *left, int n, int ms)
{
    static uint8_t junk[1 << 16];
    const double end = (double)time(NULL) + ms / 1000.0 + 1;
    uint64_t pending = 1;
    while (pending && (double)time(NULL) < end) {
        pending = 0;
        for (int i = 0; i < n; i++) {
            if (left[i] == 0 || fd[i] < 0) continue;
            const size_t chunk = left[i] < sizeof junk ? left[i] : sizeof junk;
            const ssize_t w = send(fd[i], junk, chunk, MSG_NOSIGNAL);
            if (w > 0) left[i] -= (size_t)w;
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) left[i] = 0; /* cut off */
            pending += left[i];
        }
        if (pending) s_sleep_ms(5);
    }
    return pending;
}

static void test_keyless_flood_memory_bounded(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    /* The thread sanitizer's shadow memory multiplies what every connection costs: the bound
     * is checked in the plain and address-sanitizer builds. */
    skip();
#endif
    s_raise_fd_limit();
    void *ctx = zmq_ctx_new();
    s_net_t net;
    s_net_init(&net, 3, "tcp", S_STAR);
    rumor_transport_nbr_t nbrs[MAXN];
    rumor_transport_cfg_t cfg = s_cfg(&net, 0, nbrs, 0, NULL);
    cfg.max_frame = FLOOD_MAX_FRAME;
    rumor_errmsg_t em = {{0}};
    net.t[0] = rumor_transport_new(ctx, &cfg, &em);
    if (!net.t[0]) fail_msg("%s", em.msg);
    const int port = atoi(strrchr(net.ep[0], ':') + 1);
    s_sleep_ms(100);
    const long before = s_rss_kib();
    static int fd[FLOOD_CONNS];
    static size_t left[FLOOD_CONNS];
    /* Half announce the largest frame a neighbour may send, half the largest message
     * ZeroMQ lets in (a part and its CURVE wrapping). */
    for (int i = 0; i < FLOOD_CONNS; i++) {
        fd[i] =
            s_keyless(port, i % 2 ? FLOOD_MAX_FRAME : RUMOR_TRANSPORT_PART_BYTES + 256, &left[i]);
        if (i % 50 == 49) s_sleep_ms(10); /* within the listen backlog: no SYN retries */
    }
    const uint64_t unsent = s_push(fd, left, FLOOD_CONNS, 3000);
    s_sleep_ms(300); /* let the peer's I/O thread read what the kernel holds */
    const long during = s_rss_kib();
    for (int i = 0; i < FLOOD_CONNS; i++) close(fd[i]);
    s_sleep_ms(300);
    const long after = s_rss_kib();
    print_message("keyless flood: %d connections, %llu bytes unsent; RSS %ld KiB before, %ld "
                  "during (+%ld), %ld after (+%ld)\n",
                  FLOOD_CONNS, (unsigned long long)unsent, before, during, during - before, after,
                  after - before);
    assert_true(during - before < 32 * 1024);
    assert_true(after - before < 32 * 1024);
    /* The peer still hears its neighbour's largest frames. */
    void *ctx1 = zmq_ctx_new();
    cfg = s_cfg(&net, 1, nbrs, 0, NULL);
    cfg.max_frame = FLOOD_MAX_FRAME;
    net.t[1] = rumor_transport_new(ctx1, &cfg, &em);
    if (!net.t[1]) fail_msg("%s", em.msg);
    static uint8_t big[FLOOD_MAX_FRAME], got[FLOOD_MAX_FRAME];
    s_fill(big, 1, 0, sizeof big);
    s_link_up(net.t[1], 1, net.t[0], 0);
    assert_int_equal(rumor_transport_send(net.t[1], 0, big, sizeof big, WAIT_MS), 0);
    uint32_t from = 99;
    size_t len = 0;
    assert_int_equal(s_recv(net.t[0], &from, got, sizeof got, &len), 0);
    assert_int_equal(from, 1);
    assert_int_equal(len, sizeof big);
    assert_memory_equal(got, big, sizeof big);
    rumor_transport_destroy(&net.t[1]);
    rumor_transport_destroy(&net.t[0]);
    zmq_ctx_term(ctx1);
    zmq_ctx_term(ctx);
}

/* Lines of file path that contain text. */
static int s_count_lines(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) n += strstr(line, text) != NULL;
    fclose(f);
    return n;
}

static void test_unlisted_keys_logged_in_bursts(void **state)
{
    (void)state;
    s_raise_fd_limit();
    void *ctx = zmq_ctx_new();
    s_net_t net;
    s_net_init(&net, 2, "tcp", S_LINE);
    /* This process's stderr goes to a file while node 0 runs. */
    const char *log = s_scratch("refusals.log");
    fflush(stderr);
    const int saved = dup(2), lf = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && lf >= 0);
    assert_int_equal(dup2(lf, 2), 2);
    close(lf);
    s_node_start(&net, 0, ctx, NULL, 0);
    static void *cl[FLOOD_CONNS];
    for (int i = 0; i < FLOOD_CONNS; i++) {
        rumor_keypair_t kp;
        assert_int_equal(rumor_keys_generate(&kp, NULL), 0);
        cl[i] = s_raw(ctx, &kp, net.kp[0].public_key, NULL, 0, net.ep[0]);
        const int ivl = 60000; /* one try each */
        assert_int_equal(zmq_setsockopt(cl[i], ZMQ_RECONNECT_IVL, &ivl, sizeof ivl), 0);
    }
    rumor_transport_auth_stats_t st = {0};
    for (int i = 0; i < 1000 && st.refused < FLOOD_CONNS; i++) {
        s_assert_silent(net.t[0], 10);
        rumor_transport_auth_stats(net.t[0], &st);
    }
    for (int i = 0; i < FLOOD_CONNS; i++) zmq_close(cl[i]);
    rumor_transport_destroy(&net.t[0]); /* says what is left of the burst */
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    const int lines = s_count_lines(log, "refused");
    print_message("%llu clients refused, %d log lines\n", (unsigned long long)st.refused, lines);
    assert_true(st.refused >= FLOOD_CONNS);
    assert_true(lines >= 2 && lines <= 3);
    char summary[64];
    snprintf(summary, sizeof summary, "refused %llu more CURVE clients",
             (unsigned long long)st.refused - 1);
    assert_int_equal(s_count_lines(log, summary), 1);
    zmq_ctx_term(ctx);
}

static void test_wrong_key_in_topology(void **state)
{
    (void)state;
    /* Node 0's topology has a wrong key for node 1. That key is both the server key node 0
     * expects at node 1's endpoint and the client key node 0 admits as node 1, so nothing
     * flows either way, and node 0's ZAP handler reports node 1's real key as refused. */
    void *ctx = zmq_ctx_new();
    s_net_t net;
    s_net_init(&net, 2, "tcp", S_LINE);
    rumor_keypair_t other;
    assert_int_equal(rumor_keys_generate(&other, NULL), 0);
    rumor_transport_auth_t *auth = rumor_transport_auth_new(ctx, NULL);
    rumor_transport_nbr_t n0[MAXN];
    const rumor_transport_cfg_t c0 = s_cfg(&net, 0, n0, 0, auth);
    n0[0].public_key = other.public_key;
    net.t[0] = rumor_transport_new(ctx, &c0, NULL);
    assert_non_null(net.t[0]);
    s_node_start(&net, 1, ctx, auth, 0);
    uint8_t b[16] = {1};
    assert_int_equal(rumor_transport_send(net.t[0], 1, b, sizeof b, QUIET_MS), RUMOR_ETIMEOUT);
    assert_int_equal(rumor_transport_ready(net.t[0], 1), 0);
    assert_int_equal(rumor_transport_send(net.t[1], 0, b, sizeof b, QUIET_MS), RUMOR_ETIMEOUT);
    s_assert_refused_key(net.t[0], net.kp[1].public_key);
    s_assert_silent(net.t[0], 0);
    s_assert_silent(net.t[1], 0);
    s_net_stop(&net);
    rumor_transport_auth_destroy(&auth);
    zmq_ctx_term(ctx);
}

static void test_impostor_server_gets_nothing(void **state)
{
    (void)state;
    /* Someone else listens at node 1's endpoint with another key (and admits any client).
     * Node 0's DEALER must not complete a handshake with it, so no frame reaches it. */
    void *ctx = zmq_ctx_new(), *ctx_bad = zmq_ctx_new();
    s_net_t net;
    s_net_init(&net, 2, "tcp", S_LINE);
    rumor_keypair_t other;
    assert_int_equal(rumor_keys_generate(&other, NULL), 0);
    void *impostor = zmq_socket(ctx_bad, ZMQ_ROUTER);
    const int one = 1, zero = 0;
    assert_int_equal(zmq_setsockopt(impostor, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_setsockopt(impostor, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
    assert_int_equal(zmq_setsockopt(impostor, ZMQ_CURVE_SECRETKEY, other.secret_key, 41), 0);
    assert_int_equal(zmq_bind(impostor, net.ep[1]), 0);
    s_node_start(&net, 0, ctx, NULL, 0);
    uint8_t b[16] = {1};
    assert_int_equal(rumor_transport_send(net.t[0], 1, b, sizeof b, QUIET_MS), RUMOR_ETIMEOUT);
    zmq_pollitem_t it = {impostor, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, 0), 0);
    zmq_close(impostor);
    rumor_transport_destroy(&net.t[0]);
    zmq_ctx_term(ctx_bad);
    zmq_ctx_term(ctx);
}

static void test_insecure_on_loopback_and_ipc(void **state)
{
    (void)state;
    const char *schemes[] = {"tcp", "ipc", "inproc"};
    for (int s = 0; s < 3; s++) {
        s_net_t net;
        s_net_init(&net, 3, schemes[s], S_LINE);
        s_net_up(&net, 1);
        s_exchange(&net, 200);
        rumor_transport_auth_stats_t st;
        rumor_transport_auth_stats(net.t[1], &st);
        assert_int_equal(st.admitted + st.refused, 0);
        s_net_down(&net);
    }
    /* Plaintext senders are identified by routing id; one that is not a neighbour is dropped. */
    s_net_t net;
    s_net_init(&net, 2, "tcp", S_LINE);
    s_net_up(&net, 1);
    const uint8_t rid7[4] = {7, 0, 0, 0};
    void *raw = s_raw(net.ctx, NULL, NULL, rid7, 4, net.ep[0]);
    assert_int_equal(zmq_send(raw, "hi", 2, 0), 2);
    uint32_t from;
    size_t len;
    uint8_t buf[64];
    assert_int_equal(s_recv(net.t[0], &from, buf, sizeof buf, &len), RUMOR_EAUTH);
    assert_int_equal(from, 7);
    zmq_close(raw);
    s_net_down(&net);
}

static void test_endpoint_is_local(void **state)
{
    (void)state;
    const char *yes[] = {"ipc:///tmp/rumor/node0", "inproc://node-3",
                         "tcp://127.0.0.1:7400",   "tcp://127.8.9.10:1",
                         "tcp://localhost:7400",   "tcp://[::1]:7400",
                         "tcp://127.0.0.1:*",      "tcp://[::ffff:127.0.0.1]:9"};
    const char *no[] = {"tcp://0.0.0.0:7400",
                        "tcp://*:7400",
                        "tcp://192.168.1.10:7400",
                        "tcp://10.0.0.1:7400",
                        "tcp://eth0:7400",
                        "tcp://lo:7400",
                        "tcp://127.0.0.1",
                        "tcp://127.0.0.1:x",
                        "tcp://[::]:7400",
                        "tcp://[::1]7400",
                        "tcp://128.0.0.1:7400",
                        "tcp://[::ffff:10.0.0.1]:1",
                        "tcp://10.0.0.1:5;127.0.0.1:5",
                        "pgm://127.0.0.1;239.1.1.1:5555",
                        "udp://127.0.0.1:5",
                        "tcp://localhost.example.com:1",
                        "ipc://",
                        "inproc://",
                        "",
                        "tcp://:7400"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!rumor_transport_endpoint_is_local(yes[i])) fail_msg("%s should be local", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (rumor_transport_endpoint_is_local(no[i])) fail_msg("%s should not be local", no[i]);
    assert_false(rumor_transport_endpoint_is_local(NULL));
}

static void test_insecure_refused_off_loopback(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    s_net_t net;
    s_net_init(&net, 2, "tcp", S_LINE);
    snprintf(net.ep[1], sizeof net.ep[1], "tcp://192.0.2.7:%d", 29999); /* TEST-NET-1 */
    rumor_transport_nbr_t nbrs[MAXN];
    rumor_transport_cfg_t cfg = s_cfg(&net, 0, nbrs, 1, NULL);
    s_assert_cfg_refused(ctx, &cfg,
                         "--insecure refused: node 1's endpoint tcp://192.0.2.7:29999 "
                         "is not loopback, ipc or inproc");
    /* The check ran before any socket existed: our own endpoint is still free. */
    void *probe = zmq_socket(ctx, ZMQ_ROUTER);
    assert_int_equal(zmq_bind(probe, net.ep[0]), 0);
    zmq_close(probe);
    /* Binding every interface, or a LAN address, in plaintext is refused too. */
    cfg.endpoint = "tcp://*:29998";
    cfg.n_nbrs = 0;
    s_assert_cfg_refused(ctx, &cfg, "node 0's endpoint tcp://*:29998 is not loopback");
    cfg.endpoint = "tcp://192.0.2.8:29998";
    s_assert_cfg_refused(ctx, &cfg, "node 0's endpoint tcp://192.0.2.8:29998 is not loopback");
    zmq_ctx_term(ctx);
}

static void test_oversized_frames_dropped(void **state)
{
    (void)state;
    s_net_t net;
    s_net_init(&net, 2, "tcp", S_LINE);
    s_net_up(&net, 0);
    static uint8_t big[200000];
    uint8_t buf[MAX_FRAME];
    uint32_t from;
    size_t len;
    /* The sender refuses to send a frame over the limit: the receiver would cut it. */
    assert_int_equal(rumor_transport_send(net.t[1], 0, big, MAX_FRAME + 1, WAIT_MS), RUMOR_ERANGE);
    /* A neighbour that ignores the limit: slightly over it is dropped by recv... */
    void *raw = s_raw_as(net.ctx, &net, 1, 0, "raw"); /* node 1 is connected too */
    assert_int_equal(zmq_send(raw, big, MAX_FRAME + 76, 0), MAX_FRAME + 76);
    static uint8_t roomy[4 * MAX_FRAME]; /* the limit holds whatever the caller's buffer */
    assert_int_equal(s_recv(net.t[0], &from, roomy, sizeof roomy, &len), RUMOR_ERANGE);
    assert_int_equal(from, 1);
    assert_int_equal(len, MAX_FRAME + 76);
    /* ...far over it never reaches us (ZeroMQ drops the connection; nothing is allocated)... */
    assert_int_equal(zmq_send(raw, big, sizeof big, 0), (int)sizeof big);
    s_assert_silent(net.t[0], QUIET_MS);
    /* ...and the neighbour's next sane frame arrives once it has reconnected. */
    assert_int_equal(zmq_send(raw, "ok", 2, 0), 2);
    assert_int_equal(s_recv(net.t[0], &from, buf, sizeof buf, &len), 0);
    assert_int_equal(len, 2);
    assert_int_equal(from, 1);
    /* A frame within max_frame but larger than the caller's buffer is dropped too. */
    s_fill(big, 1, 0, 100);
    assert_int_equal(rumor_transport_send(net.t[1], 0, big, 100, WAIT_MS), 0);
    assert_int_equal(s_recv(net.t[0], &from, buf, 99, &len), RUMOR_ERANGE);
    assert_int_equal(len, 100);
    zmq_close(raw);
    s_net_down(&net);
}

static void test_frames_travel_in_parts(void **state)
{
    (void)state;
    enum { P = RUMOR_TRANSPORT_PART_BYTES, CAP = 3 * P + 5 };
    s_net_t net;
    s_net_init(&net, 2, "tcp", S_LINE);
    void *ctx = zmq_ctx_new();
    for (uint32_t i = 0; i < 2; i++) {
        rumor_transport_nbr_t nbrs[MAXN];
        rumor_transport_cfg_t cfg = s_cfg(&net, i, nbrs, 0, NULL);
        cfg.max_frame = CAP;
        void *c = i ? zmq_ctx_new() : ctx;
        net.t[i] = rumor_transport_new(c, &cfg, NULL);
        assert_non_null(net.t[i]);
        if (i) net.ctx = c;
    }
    static uint8_t out[CAP], in[CAP + 1];
    const size_t lens[] = {P - 1, P, P + 1, 2 * P, 2 * P + 7, CAP};
    s_link_up(net.t[1], 1, net.t[0], 0);
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
        s_fill(out, 1, 0, lens[k]);
        assert_int_equal(rumor_transport_send(net.t[1], 0, out, lens[k], WAIT_MS), 0);
        uint32_t from = 99;
        size_t len = 0;
        assert_int_equal(s_recv(net.t[0], &from, in, sizeof in, &len), 0);
        assert_int_equal(from, 1);
        assert_int_equal(len, lens[k]);
        assert_memory_equal(in, out, lens[k]);
    }
    /* Split another way: dropped whole. */
    void *raw = s_raw_as(ctx, &net, 1, 0, "raw");
    assert_int_equal(zmq_send(raw, out, P - 1, ZMQ_SNDMORE), P - 1);
    assert_int_equal(zmq_send(raw, out, 2, 0), 2);
    assert_int_equal(zmq_send(raw, out, P, ZMQ_SNDMORE), P);
    assert_int_equal(zmq_send(raw, out, 0, 0), 0);
    assert_int_equal(zmq_send(raw, out, P, ZMQ_SNDMORE), P);
    assert_int_equal(zmq_send(raw, out, 1, 0), 1);
    uint32_t from;
    size_t len;
    assert_int_equal(s_recv(net.t[0], &from, in, sizeof in, &len), RUMOR_EFORMAT);
    assert_int_equal(len, P + 1);
    assert_int_equal(s_recv(net.t[0], &from, in, sizeof in, &len), RUMOR_EFORMAT);
    assert_int_equal(len, P);
    assert_int_equal(s_recv(net.t[0], &from, in, sizeof in, &len), 0);
    assert_int_equal(len, P + 1);
    /* More full parts than max_frame allows: too large, whatever the caller's buffer. */
    for (int k = 0; k < 4; k++) assert_int_equal(zmq_send(raw, out, P, ZMQ_SNDMORE), P);
    assert_int_equal(zmq_send(raw, out, 1, 0), 1);
    assert_int_equal(s_recv(net.t[0], &from, in, sizeof in, &len), RUMOR_ERANGE);
    assert_int_equal(len, 4 * P + 1);
    zmq_close(raw);
    s_net_stop(&net);
    zmq_ctx_term(net.ctx);
    zmq_ctx_term(ctx);
}

static void test_multipart_dropped(void **state)
{
    (void)state;
    s_net_t net;
    s_net_init(&net, 2, "tcp", S_LINE);
    s_net_up(&net, 0);
    void *raw = s_raw_as(net.ctx, &net, 1, 0, "raw"); /* node 1 is connected too */
    assert_int_equal(zmq_send(raw, "a", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(raw, "bb", 2, ZMQ_SNDMORE), 2);
    assert_int_equal(zmq_send(raw, "ccc", 3, 0), 3);
    assert_int_equal(zmq_send(raw, "next", 4, 0), 4);
    uint32_t from;
    size_t len;
    uint8_t buf[64];
    assert_int_equal(s_recv(net.t[0], &from, buf, sizeof buf, &len), RUMOR_EFORMAT);
    assert_int_equal(from, 1);
    /* All parts were consumed: the next frame is the next message, intact. */
    assert_int_equal(s_recv(net.t[0], &from, buf, sizeof buf, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "next", 4);
    zmq_close(raw);
    s_net_down(&net);
}

static void test_send_to_absent_neighbour_times_out(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    s_net_t net;
    s_net_init(&net, 2, "tcp", S_LINE);
    s_node_start(&net, 0, ctx, NULL, 0); /* node 1 never starts */
    uint8_t b[8] = {0};
    assert_int_equal(rumor_transport_ready(net.t[0], 1), 0);
    assert_int_equal(rumor_transport_send(net.t[0], 1, b, sizeof b, 0), RUMOR_ETIMEOUT);
    assert_int_equal(rumor_transport_send(net.t[0], 1, b, sizeof b, QUIET_MS), RUMOR_ETIMEOUT);
    s_assert_silent(net.t[0], 0);
    /* Node 1 starting late is fine: frames flow once it is up. */
    void *ctx1 = zmq_ctx_new();
    s_node_start(&net, 1, ctx1, NULL, 0);
    s_exchange(&net, 8);
    s_net_stop(&net);
    zmq_ctx_term(ctx);
    zmq_ctx_term(ctx1);
}

static void test_bad_configurations_refused(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    s_net_t net;
    s_net_init(&net, 3, "tcp", S_STAR);
    rumor_transport_nbr_t nbrs[MAXN];

    rumor_transport_cfg_t cfg = s_cfg(&net, 0, nbrs, 0, NULL);
    cfg.keys = NULL;
    s_assert_cfg_refused(ctx, &cfg, "node 0: no valid key pair");

    rumor_keypair_t mixed = net.kp[0];
    memcpy(mixed.public_key, net.kp[1].public_key, sizeof mixed.public_key);
    cfg = s_cfg(&net, 0, nbrs, 0, NULL);
    cfg.keys = &mixed;
    s_assert_cfg_refused(ctx, &cfg, "no valid key pair");

    cfg = s_cfg(&net, 0, nbrs, 0, NULL);
    nbrs[1].public_key = "not a key";
    s_assert_cfg_refused(ctx, &cfg, "neighbour 2 has no valid public_key");

    cfg = s_cfg(&net, 0, nbrs, 0, NULL);
    nbrs[1].id = 1;
    s_assert_cfg_refused(ctx, &cfg, "neighbour 1 listed twice");

    cfg = s_cfg(&net, 0, nbrs, 0, NULL);
    nbrs[1].id = 0;
    s_assert_cfg_refused(ctx, &cfg, "lists itself");

    cfg = s_cfg(&net, 0, nbrs, 0, NULL);
    cfg.max_frame = 0;
    s_assert_cfg_refused(ctx, &cfg, "maximum frame size");

    /* An endpoint in use. */
    s_node_start(&net, 0, ctx, NULL, 0);
    rumor_transport_nbr_t nbrs1[MAXN];
    rumor_transport_cfg_t cfg1 = s_cfg(&net, 1, nbrs1, 1, NULL);
    cfg1.endpoint = net.ep[0];
    s_assert_cfg_refused(ctx, &cfg1, "node 1: cannot bind");
    /* A second transport starting its own ZAP handler on the same context. */
    cfg1 = s_cfg(&net, 1, nbrs1, 0, NULL);
    s_assert_cfg_refused(ctx, &cfg1, "already has a ZAP handler");
    rumor_transport_destroy(&net.t[0]);
    rumor_transport_destroy(&net.t[0]); /* NULL-safe */
    /* Two transports for one node in one context (fresh endpoints: a closed tcp listener
     * is released asynchronously). */
    s_net_init(&net, 3, "tcp", S_STAR);
    rumor_transport_auth_t *auth = rumor_transport_auth_new(ctx, NULL);
    assert_non_null(auth);
    cfg = s_cfg(&net, 0, nbrs, 0, auth);
    rumor_transport_t *t = rumor_transport_new(ctx, &cfg, NULL);
    assert_non_null(t);
    cfg.endpoint = net.ep[2];
    s_assert_cfg_refused(ctx, &cfg, "node 0 already has a transport");
    rumor_transport_destroy(&t);
    /* A handler serving another context would leave this one unguarded. */
    void *ctx2 = zmq_ctx_new();
    cfg = s_cfg(&net, 1, nbrs, 0, auth);
    s_assert_cfg_refused(ctx2, &cfg, "belongs to another ZeroMQ context");
    zmq_ctx_term(ctx2);
    rumor_transport_auth_destroy(&auth);
    zmq_ctx_term(ctx);
}

/* What a frame costs on a connection: ZMTP's short and long size fields, CURVE's 33 bytes per
 * part, and the parts of a frame longer than RUMOR_TRANSPORT_PART_BYTES (checked against the
 * loopback interface's byte counts in docs/performance.md). */
static void test_wire_bytes(void **state)
{
    (void)state;
    const size_t P = RUMOR_TRANSPORT_PART_BYTES;
    assert_int_equal(rumor_transport_wire_bytes(0, 0), 2);
    assert_int_equal(rumor_transport_wire_bytes(255, 0), 257);
    assert_int_equal(rumor_transport_wire_bytes(256, 0), 265);
    assert_int_equal(rumor_transport_wire_bytes(28, 1), 63);
    assert_int_equal(rumor_transport_wire_bytes(222, 1), 257);
    assert_int_equal(rumor_transport_wire_bytes(223, 1), 265);
    assert_int_equal(rumor_transport_wire_bytes(P, 1), P + 42);
    assert_int_equal(rumor_transport_wire_bytes(P + 1, 1), P + 42 + 36);
    assert_int_equal(rumor_transport_wire_bytes(2 * P + 300, 0), 2 * (P + 9) + 309);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_bytes),
        cmocka_unit_test(test_two_nodes_tcp_curve),
        cmocka_unit_test(test_three_nodes_inproc_shared_auth),
        cmocka_unit_test(test_three_nodes_ipc_own_contexts),
        cmocka_unit_test(test_unlisted_key_cannot_deliver),
        cmocka_unit_test(test_zap_served_without_a_thread),
        cmocka_unit_test(test_forged_routing_id_dropped),
        cmocka_unit_test(test_stolen_routing_id_cannot_lock_out),
        cmocka_unit_test(test_keyless_flood_memory_bounded),
        cmocka_unit_test(test_unlisted_keys_logged_in_bursts),
        cmocka_unit_test(test_wrong_key_in_topology),
        cmocka_unit_test(test_impostor_server_gets_nothing),
        cmocka_unit_test(test_insecure_on_loopback_and_ipc),
        cmocka_unit_test(test_endpoint_is_local),
        cmocka_unit_test(test_insecure_refused_off_loopback),
        cmocka_unit_test(test_oversized_frames_dropped),
        cmocka_unit_test(test_frames_travel_in_parts),
        cmocka_unit_test(test_multipart_dropped),
        cmocka_unit_test(test_send_to_absent_neighbour_times_out),
        cmocka_unit_test(test_bad_configurations_refused),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
