/* Support shared by transport's test programs (test_transport*.c): ports, a small network of
 * transports over real sockets, raw ZeroMQ sockets that play a peer, and the bounded waits
 * and assertions on what arrives. */
#ifndef RUMOR_TEST_TRANSPORT_SUPPORT_H
#define RUMOR_TEST_TRANSPORT_SUPPORT_H

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

static inline int s_setup(void **state)
{
    (void)state;
    if (s_scratch_make("transport")) return -1;
    /* Spread concurrent runs of this suite (several build directories) over 10000-16399,
     * below the kernel's ephemeral ports (32768-60999 by default), where an outgoing
     * connection could hold a port just when a test binds it. */
    s_next_port = 10000 + (int)(getpid() % 400) * 16;
    return 0;
}

static inline int s_teardown(void **state)
{
    (void)state;
    return s_scratch_remove();
}

/* A loopback tcp port that is free right now. */
static inline int s_port(void)
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

static inline void s_sleep_ms(int ms)
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
static inline int s_linked(s_shape_t shape, uint32_t i, uint32_t j)
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
static inline void s_net_init(s_net_t *net, uint32_t n, const char *scheme, s_shape_t shape)
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
static inline rumor_transport_cfg_t s_cfg(const s_net_t *net, uint32_t i,
                                          rumor_transport_nbr_t *nbrs, int insecure,
                                          rumor_transport_auth_t *auth)
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
static inline void s_node_start(s_net_t *net, uint32_t i, void *ctx, rumor_transport_auth_t *auth,
                                int insecure)
{
    rumor_transport_nbr_t nbrs[MAXN];
    const rumor_transport_cfg_t cfg = s_cfg(net, i, nbrs, insecure, auth);
    rumor_errmsg_t em = {{0}};
    net->t[i] = rumor_transport_new(ctx, &cfg, &em);
    if (!net->t[i]) fail_msg("node %u: %s", i, em.msg);
}

/* Starts every node, node i in ctx[i]. */
static inline void s_net_start(s_net_t *net, void **ctx, rumor_transport_auth_t *auth, int insecure)
{
    for (uint32_t i = 0; i < net->n; i++) s_node_start(net, i, ctx[i], auth, insecure);
}

static inline void s_net_stop(s_net_t *net)
{
    for (uint32_t i = 0; i < net->n; i++) rumor_transport_destroy(&net->t[i]);
}

/* The simulator's layout: every node in one new context (net->ctx), all sharing one ZAP
 * handler (net->auth), or none when insecure. Undone by s_net_down. */
static inline void s_net_up(s_net_t *net, int insecure)
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

static inline void s_net_down(s_net_t *net)
{
    s_net_stop(net);
    rumor_transport_auth_destroy(&net->auth);
    zmq_ctx_term(net->ctx);
}

static inline size_t s_fill(uint8_t *buf, uint32_t from, uint32_t to, size_t len)
{
    for (size_t k = 0; k < len; k++) buf[k] = (uint8_t)(from * 31 + to * 7 + k);
    return len;
}

/* Waits (bounded) until a frame from node `from` (transport tf) to node `to` (transport tt)
 * would be queued. tt's ZAP handler answers the connection's handshake only inside tt's own
 * calls (it has no thread), so both are called in turn, as two peers' loops would. */
static inline void s_link_up(rumor_transport_t *tf, uint32_t from, rumor_transport_t *tt,
                             uint32_t to)
{
    for (int i = 0; i < WAIT_MS && !rumor_transport_ready(tf, to); i++) {
        (void)rumor_transport_ready(tt, from);
        s_sleep_ms(1);
    }
    assert_true(rumor_transport_ready(tf, to));
}

/* Every node sends one frame to every neighbour, then every node receives one frame from
 * each neighbour and checks the authenticated id and the content. */
static inline void s_exchange(s_net_t *net, size_t len)
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
static inline void *s_raw(void *ctx, const rumor_keypair_t *kp, const char *server_pub,
                          const void *rid, size_t rid_len, const char *ep)
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
static inline void *s_raw_as(void *ctx, const s_net_t *net, uint32_t j, uint32_t i,
                             const char *suffix)
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
static inline int s_recv(rumor_transport_t *t, uint32_t *from, uint8_t *buf, size_t cap,
                         size_t *len)
{
    return rumor_transport_recv(t, WAIT_MS, from, buf, cap, len);
}

/* Checks that nothing arrives at t within ms (t's ZAP handler answers meanwhile). */
static inline void s_assert_silent(rumor_transport_t *t, int ms)
{
    uint32_t from;
    size_t len;
    uint8_t buf[MAX_FRAME];
    assert_int_equal(rumor_transport_recv(t, ms, &from, buf, sizeof buf, &len), RUMOR_ETIMEOUT);
}

/* Waits (bounded) until t's ZAP handler has refused a client, and checks that the last one it
 * refused had public key `key`; fails if it never refuses one. */
static inline void s_assert_refused_key(rumor_transport_t *t, const char *key)
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
static inline void s_assert_cfg_refused(void *ctx, const rumor_transport_cfg_t *cfg,
                                        const char *want)
{
    rumor_errmsg_t em = {{0}};
    rumor_transport_t *t = rumor_transport_new(ctx, cfg, &em);
    if (t) {
        rumor_transport_destroy(&t);
        fail_msg("accepted; expected an error containing \"%s\"", want);
    }
    if (!strstr(em.msg, want)) fail_msg("error \"%s\" does not contain \"%s\"", em.msg, want);
}

#endif
