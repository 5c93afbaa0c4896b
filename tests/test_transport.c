/* Tests of transport over real sockets (loopback tcp, ipc in a temporary directory, inproc):
 * neighbours exchange frames both ways under CurveZMQ and learn each other's authenticated
 * id; unlisted keys, forged routing ids, wrong server keys, oversized and multi-part frames
 * get nowhere; plaintext works on loopback and is refused anywhere else before any socket
 * exists. Waits are bounded (a few hundred ms where nothing must happen, up to a few seconds
 * where something must), so the suite is quick when things work and cannot hang. Floods
 * before authentication are in test_transport_flood.c. */
#include "transport_support.h"

/* ---- tests -------------------------------------------------------------------------------- */

static void test_two_nodes_tcp_curve(void **state)
{
    (void)state;
    s_net_t net;
    s_net_init(&net, 2, "tcp", S_LINE);
    s_net_up(&net, 0);
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
