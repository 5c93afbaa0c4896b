/* rumor — ZeroMQ sockets and CurveZMQ (see transport.h); the ZAP handler is transport_zap.c.
 *
 * Routing ids. Where no handshake authenticates the sender (insecure mode and inproc) DEALERs
 * carry the node id as routing id, the sender's name. Under CURVE they carry the id bound to
 * their key pair and the receiver's (rumor_transport_routing_id): the ROUTER keeps ZeroMQ's
 * default of refusing a second connection with a routing id already in use rather than
 * handing the id over, so a routing id another key could copy would let that key lock its
 * owner out (first come, first served), and handover would let it cut its owner off again
 * and again. A neighbour restarting after a crash is refused only until its dead connection
 * is noticed (at once on the same host, within the TCP keepalive time otherwise).
 *
 * Log volume. Frames dropped for their routing id are what an attacker can cause at will (a
 * frame per misrouted connection), so they are logged as a burst: the first in full, then
 * one line per RUMOR_LOG_BURST_S s with the count.
 *
 * Workload: send and recv once per neighbour per round. Send and recv allocate nothing
 * themselves (ZeroMQ allocates large message bodies).
 */
#include "transport_internal.h"

#include "rumor/bytes.h"
#include "rumor/clock.h"
#include "rumor/log.h"
#include "rumor/topology.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Room on top of a part for what ZeroMQ counts against ZMQ_MAXMSGSIZE but is not ours: the
 * CURVE MESSAGE wrapping of each part (command name, nonce, MAC, flags). The limit applies
 * to handshake commands too, so it must also hold an INITIATE with its metadata (the floor).
 * It is also all that a connection can make the ROUTER allocate before it is authenticated:
 * ZeroMQ allocates a message as soon as its length is read. */
#define S_MAXMSG_SLACK  256
#define S_MAXMSG_FLOOR  4096
#define S_DEALER_MAXMSG 65536 /* ROUTERs never send: only handshake and heartbeat traffic */
/* A receive that finds frames waiting does not poll; every this many it serves the ZAP
 * handler anyway, so that a neighbour's flood cannot hold other neighbours' handshakes. */
#define S_ZAP_EVERY_FRAMES 8

/* ---- endpoints -------------------------------------------------------------------------- */

int rumor_transport_endpoint_is_local(const char *ep)
{
    if (!ep) return 0;
    if (!strncmp(ep, "ipc://", 6)) return ep[6] != '\0';
    if (!strncmp(ep, "inproc://", 9)) return ep[9] != '\0';
    if (strncmp(ep, "tcp://", 6) != 0) return 0;
    const char *host = ep + 6;
    if (strchr(host, ';')) return 0; /* "source;destination" form: two addresses to vet */
    const char *host_end, *port;
    if (*host == '[') {
        host++;
        host_end = strchr(host, ']');
        if (!host_end || host_end[1] != ':') return 0;
        port = host_end + 2;
    } else {
        host_end = strrchr(host, ':');
        if (!host_end) return 0;
        port = host_end + 1;
    }
    if (*port == '\0' || (strcmp(port, "*") != 0 && strspn(port, "0123456789") != strlen(port)))
        return 0;
    char h[128];
    const size_t hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof h) return 0;
    memcpy(h, host, hl);
    h[hl] = '\0';
    if (!strcmp(h, "localhost")) return 1;
    struct in_addr a4;
    if (inet_pton(AF_INET, h, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, h, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return 0;
}

/* ---- routing ids bound to keys --------------------------------------------------------- */

int rumor_transport_routing_id(const rumor_keypair_t *keys, uint32_t self, const char *peer_public,
                               uint32_t peer, uint8_t out[RUMOR_TRANSPORT_RID_BYTES])
{
    uint8_t sk[32], pk[32], shared[crypto_box_BEFORENMBYTES];
    int rc = RUMOR_EAUTH;
    if (keys && rumor_keys_is_z85(keys->secret_key) && rumor_keys_is_z85(peer_public) &&
        zmq_z85_decode(sk, keys->secret_key) && zmq_z85_decode(pk, peer_public) &&
        crypto_box_beforenm(shared, pk, sk) == 0) {
        /* The X25519 secret is the same from both ends; the ids say who talks to whom. */
        uint8_t msg[12] = {'r', 'i', 'd', '1'};
        rumor_store32le(msg + 4, self);
        rumor_store32le(msg + 8, peer);
        out[0] = 'r'; /* ZeroMQ reserves routing ids that begin with a zero byte */
        crypto_generichash(out + 1, RUMOR_TRANSPORT_RID_BYTES - 1, msg, sizeof msg, shared,
                           sizeof shared);
        rc = 0;
    }
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(shared, sizeof shared);
    return rc;
}

/* ---- the transport ---------------------------------------------------------------------- */

struct rumor_transport {
    uint32_t self;
    int insecure;
    int inproc; /* bound to inproc://: no security mechanism runs, senders are routing ids */
    size_t max_frame;
    void *router;
    uint32_t n_nbrs;
    uint32_t *ids;  /* (n_nbrs) neighbour ids, ascending */
    void **dealer;  /* (n_nbrs) dealer[k] is connected to ids[k] */
    int bound_rids; /* senders must announce rid[k]: secure, not inproc */
    uint8_t (*rid)[RUMOR_TRANSPORT_RID_BYTES]; /* (n_nbrs) routing id bound to ids[k]'s key */
    uint64_t misrouted;                        /* frames dropped for their routing id */
    rumor_log_burst_t misrouted_burst;
    rumor_transport_auth_t *auth;
    int owns_auth;
    int unpolled; /* frames received since the last wait, which serves the ZAP handler */
    rumor_transport_domain_t *domain; /* our entry in auth's table, NULL when insecure */
    char endpoint[512]; /* the ROUTER's endpoint as bound (ZMQ_LAST_ENDPOINT), for the unbind */
};

static int s_slot(const rumor_transport_t *t, uint32_t id)
{
    return rumor_topology_slot(t->ids, t->n_nbrs, id);
}

/* Waits up to wait_ms (-1: forever) until socket s has `events` (ZMQ_POLLIN or ZMQ_POLLOUT),
 * answering the ZAP handler's requests meanwhile (it has no thread of its own). ZMQ_EVENTS
 * first takes in ZeroMQ's pending commands (a receive or send may skip them when called
 * again within a millisecond); if s is not ready, one poll(2) over s's and the handler's
 * descriptors, which turn readable when a command arrives for them. This is zmq_poll()
 * without its extra passes: it costs a blocking wait about half the system calls. Returns 1
 * when s has the events, 0 when the caller should look again (the wait ended, or only the
 * handler was served), RUMOR_EINTR or RUMOR_EIO. */
static int s_poll_socket(rumor_transport_t *t, void *s, int events, long wait_ms)
{
    int ev = 0;
    size_t sz = sizeof ev;
    if (zmq_getsockopt(s, ZMQ_EVENTS, &ev, &sz) != 0)
        return errno == EINTR ? RUMOR_EINTR : RUMOR_EIO;
    if (ev & events) return 1;
    struct pollfd pf[2] = {{.events = POLLIN}, {.events = POLLIN}};
    sz = sizeof pf[0].fd;
    if (zmq_getsockopt(s, ZMQ_FD, &pf[0].fd, &sz) != 0) return RUMOR_EIO;
    int n = 1;
    if (t->auth) {
        /* Requests a bounded serve left waiting signal nothing more: look now. */
        if (rumor_transport_auth_backlog(t->auth)) wait_ms = 0;
        pf[n++].fd = rumor_transport_auth_fd(t->auth);
    }
    if (poll(pf, (nfds_t)n, wait_ms < 0 ? -1 : (int)wait_ms) < 0)
        return errno == EINTR ? RUMOR_EINTR : RUMOR_EIO;
    t->unpolled = 0;
    if (n == 2 && (pf[1].revents || rumor_transport_auth_backlog(t->auth)))
        rumor_transport_auth_serve(t->auth);
    return 0;
}

static int s_opt_int(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof v);
}

static int s_pick(int v, int dflt)
{
    return v > 0 ? v : dflt;
}

/* Options shared by the ROUTER and the DEALERs. */
static int s_common_opts(void *s, const rumor_transport_cfg_t *cfg, const char *ep)
{
    int rc = 0;
    rc |= s_opt_int(s, ZMQ_LINGER, s_pick(cfg->linger_ms, 200));
    rc |= s_opt_int(s, ZMQ_TCP_KEEPALIVE, 1);
    rc |= s_opt_int(s, ZMQ_TCP_KEEPALIVE_IDLE, s_pick(cfg->keepalive_idle_s, 5));
    rc |= s_opt_int(s, ZMQ_TCP_KEEPALIVE_INTVL, 1);
    rc |= s_opt_int(s, ZMQ_TCP_KEEPALIVE_CNT, 3);
    rc |= s_opt_int(s, ZMQ_HANDSHAKE_IVL, s_pick(cfg->handshake_ms, 5000));
    if (!strncmp(ep, "tcp://[", 7)) rc |= s_opt_int(s, ZMQ_IPV6, 1);
    return rc;
}

static double s_now_ms(void)
{
    return 1e3 * rumor_clock_now();
}

/* Logs the count of t's burst of misrouted frames if it is due (or `force`). */
static void s_misrouted_flush(rumor_transport_t *t, int force)
{
    double secs;
    const uint64_t n = rumor_log_burst_close(&t->misrouted_burst, rumor_clock_now(), force, &secs);
    if (n)
        rumor_warn("node %u: dropped %llu more frames whose routing id is not bound to their "
                   "sender's key in the last %.0f s",
                   (unsigned)t->self, (unsigned long long)n, secs);
}

/* 1 if a frame from neighbour slot k came with the routing id bound to k's key (or routing
 * ids are not bound); otherwise counts and logs the drop and returns 0. */
static int s_rid_ok(rumor_transport_t *t, int k, zmq_msg_t *rid, zmq_msg_t *body)
{
    if (!t->bound_rids || (zmq_msg_size(rid) >= RUMOR_TRANSPORT_RID_BYTES &&
                           memcmp(zmq_msg_data(rid), t->rid[k], RUMOR_TRANSPORT_RID_BYTES) == 0))
        return 1;
    t->misrouted++;
    if (rumor_log_burst_note(&t->misrouted_burst, rumor_clock_now())) {
        const char *addr = zmq_msg_gets(body, "Peer-Address");
        rumor_warn("node %u: dropped a frame from %s authenticated as node %u: its routing id "
                   "is not the one bound to that key (a neighbour posing as another?)",
                   (unsigned)t->self, addr ? addr : "?", (unsigned)t->ids[k]);
    }
    return 0;
}

static int s_validate(const rumor_transport_cfg_t *cfg, rumor_errmsg_t *em)
{
    const unsigned self = cfg->self;
    if (!cfg->endpoint || !cfg->endpoint[0])
        return rumor_errmsg_set(em, RUMOR_EINVAL, "node %u: no endpoint to bind", self);
    if (cfg->max_frame == 0 || cfg->max_frame > (size_t)UINT32_MAX)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "node %u: invalid maximum frame size %zu", self,
                                cfg->max_frame);
    if (cfg->n_nbrs > 0 && !cfg->nbrs)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "node %u: neighbour list missing", self);
    for (uint32_t k = 0; k < cfg->n_nbrs; k++) {
        const rumor_transport_nbr_t *nb = &cfg->nbrs[k];
        if (nb->id == cfg->self)
            return rumor_errmsg_set(em, RUMOR_EINVAL, "node %u: lists itself as a neighbour", self);
        for (uint32_t l = 0; l < k; l++)
            if (cfg->nbrs[l].id == nb->id)
                return rumor_errmsg_set(em, RUMOR_EINVAL, "node %u: neighbour %u listed twice",
                                        self, (unsigned)nb->id);
        if (!nb->endpoint || !nb->endpoint[0])
            return rumor_errmsg_set(em, RUMOR_EINVAL, "node %u: neighbour %u has no endpoint", self,
                                    (unsigned)nb->id);
        if (!cfg->insecure && !rumor_keys_is_z85(nb->public_key))
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "node %u: neighbour %u has no valid public_key (40 Z85 "
                                    "characters); generate keys with scripts/keygen-topology "
                                    "or use --insecure on loopback",
                                    self, (unsigned)nb->id);
    }
    if (cfg->insecure) {
        /* Before any socket exists: nothing is bound or sent on a refused configuration. */
        if (!rumor_transport_endpoint_is_local(cfg->endpoint))
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "--insecure refused: node %u's endpoint %s is not loopback, "
                                    "ipc or inproc (plaintext is only allowed on this host)",
                                    self, cfg->endpoint);
        for (uint32_t k = 0; k < cfg->n_nbrs; k++)
            if (!rumor_transport_endpoint_is_local(cfg->nbrs[k].endpoint))
                return rumor_errmsg_set(em, RUMOR_EINVAL,
                                        "--insecure refused: node %u's endpoint %s is not "
                                        "loopback, ipc or inproc (plaintext is only allowed on "
                                        "this host)",
                                        (unsigned)cfg->nbrs[k].id, cfg->nbrs[k].endpoint);
        return 0;
    }
    if (!zmq_has("curve"))
        return rumor_errmsg_set(em, RUMOR_EIO,
                                "node %u: libzmq was built without CURVE support; secure "
                                "transport is impossible",
                                self);
    char pub[RUMOR_KEY_Z85_LEN + 1];
    if (!cfg->keys || !rumor_keys_is_z85(cfg->keys->public_key) ||
        rumor_keys_public_of(cfg->keys->secret_key, pub) != 0 ||
        strcmp(pub, cfg->keys->public_key) != 0)
        return rumor_errmsg_set(em, RUMOR_EAUTH, "node %u: no valid key pair (use --key FILE)",
                                self);
    return 0;
}

void rumor_transport_destroy(rumor_transport_t **t_p)
{
    if (!t_p || !*t_p) return;
    rumor_transport_t *t = *t_p;
    *t_p = NULL;
    if (t->router) {
        /* Releases the endpoint sooner than a bare close (at once for inproc). */
        if (t->endpoint[0]) zmq_unbind(t->router, t->endpoint);
        zmq_close(t->router);
    }
    for (uint32_t k = 0; k < t->n_nbrs; k++)
        if (t->dealer && t->dealer[k]) zmq_close(t->dealer[k]);
    if (t->domain) rumor_transport_auth_unregister(t->auth, t->domain);
    if (t->owns_auth) rumor_transport_auth_destroy(&t->auth);
    s_misrouted_flush(t, 1);
    free(t->rid);
    free(t->ids);
    free(t->dealer);
    free(t);
}

/* The routing id bound to the keys of cfg->self and neighbour nb: the one nb announces to us
 * (incoming) or the one we announce to nb. */
static int s_bound_rid(const rumor_transport_cfg_t *cfg, const rumor_transport_nbr_t *nb,
                       int incoming, uint8_t out[RUMOR_TRANSPORT_RID_BYTES], rumor_errmsg_t *em)
{
    const uint32_t sender = incoming ? nb->id : cfg->self, receiver = incoming ? cfg->self : nb->id;
    if (rumor_transport_routing_id(cfg->keys, sender, nb->public_key, receiver, out) != 0)
        return rumor_errmsg_set(em, RUMOR_EAUTH,
                                "node %u: neighbour %u's public key is not a usable CURVE key",
                                (unsigned)cfg->self, (unsigned)nb->id);
    return 0;
}

/* Frees order and the half-built t; returns rc. */
static int s_fail(rumor_transport_t *t, uint32_t *order, int rc)
{
    free(order);
    /* Half-built sockets must not linger on a context that may be terminated next. */
    if (t->router) s_opt_int(t->router, ZMQ_LINGER, 0);
    for (uint32_t k = 0; k < t->n_nbrs; k++)
        if (t->dealer && t->dealer[k]) s_opt_int(t->dealer[k], ZMQ_LINGER, 0);
    rumor_transport_destroy(&t);
    return rc;
}

int rumor_transport_create(void *zctx, const rumor_transport_cfg_t *cfg, rumor_transport_t **out,
                           rumor_errmsg_t *em)
{
    *out = NULL;
    int rc = s_validate(cfg, em);
    if (rc) return rc;
    const unsigned self = cfg->self;
    rumor_transport_t *t = calloc(1, sizeof *t);
    if (!t) return rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory");
    t->self = cfg->self;
    t->insecure = cfg->insecure;
    t->inproc = !strncmp(cfg->endpoint, "inproc://", 9);
    t->max_frame = cfg->max_frame;
    t->n_nbrs = cfg->n_nbrs;
    t->ids = malloc((cfg->n_nbrs ? cfg->n_nbrs : 1) * sizeof *t->ids);
    t->rid = malloc((cfg->n_nbrs ? cfg->n_nbrs : 1) * sizeof *t->rid);
    t->dealer = calloc(cfg->n_nbrs ? cfg->n_nbrs : 1, sizeof *t->dealer);
    uint32_t *order = malloc((cfg->n_nbrs ? cfg->n_nbrs : 1) * sizeof *order);
    if (!t->ids || !t->rid || !t->dealer || !order)
        return s_fail(t, order, rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory"));
    /* Neighbours sorted by id (insertion sort: degrees are small), for binary search. */
    for (uint32_t k = 0; k < cfg->n_nbrs; k++) {
        uint32_t j = k;
        while (j > 0 && cfg->nbrs[order[j - 1]].id > cfg->nbrs[k].id) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = k;
    }
    for (uint32_t k = 0; k < cfg->n_nbrs; k++) t->ids[k] = cfg->nbrs[order[k]].id;
    t->bound_rids = !cfg->insecure && !t->inproc;
    for (uint32_t k = 0; k < cfg->n_nbrs && t->bound_rids; k++) {
        if ((rc = s_bound_rid(cfg, &cfg->nbrs[order[k]], 1, t->rid[k], em)))
            return s_fail(t, order, rc);
    }

    if (!cfg->insecure) {
        t->auth = cfg->auth;
        if (t->auth && rumor_transport_auth_ctx(t->auth) != zctx) {
            /* ZeroMQ would find no handler on zctx and admit every CURVE client. */
            t->auth = NULL;
            return s_fail(t, order,
                          rumor_errmsg_set(em, RUMOR_EINVAL,
                                           "node %u: the ZAP handler given belongs to another "
                                           "ZeroMQ context",
                                           self));
        }
        if (!t->auth) {
            if ((rc = rumor_transport_auth_create(zctx, &t->auth, em))) return s_fail(t, order, rc);
            t->owns_auth = 1;
        }
        if ((rc = rumor_transport_auth_register(t->auth, cfg->self, cfg->nbrs, cfg->n_nbrs,
                                                &t->domain, em)))
            return s_fail(t, order, rc);
    }

    /* The ROUTER: receive-only. */
    t->router = zmq_socket(zctx, ZMQ_ROUTER);
    rc = t->router ? 0 : -1;
    if (rc == 0) {
        const size_t part = cfg->max_frame < RUMOR_TRANSPORT_PART_BYTES
                                ? cfg->max_frame
                                : RUMOR_TRANSPORT_PART_BYTES;
        int64_t maxmsg = (int64_t)part + S_MAXMSG_SLACK;
        if (maxmsg < S_MAXMSG_FLOOR) maxmsg = S_MAXMSG_FLOOR;
        rc |= s_common_opts(t->router, cfg, cfg->endpoint);
        rc |= s_opt_int(t->router, ZMQ_RCVHWM, s_pick(cfg->rcvhwm, 1000));
        rc |= zmq_setsockopt(t->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
        if (!cfg->insecure) {
            rc |= s_opt_int(t->router, ZMQ_CURVE_SERVER, 1);
            rc |= zmq_setsockopt(t->router, ZMQ_CURVE_SECRETKEY, cfg->keys->secret_key,
                                 RUMOR_KEY_Z85_LEN + 1);
            rc |= zmq_setsockopt(t->router, ZMQ_ZAP_DOMAIN, rumor_transport_auth_domain(t->domain),
                                 strlen(rumor_transport_auth_domain(t->domain)));
        }
    }
    if (rc != 0)
        return s_fail(t, order,
                      rumor_errmsg_set(em, RUMOR_EIO,
                                       "node %u: cannot set up the receiving socket: %s", self,
                                       zmq_strerror(errno)));
    if (zmq_bind(t->router, cfg->endpoint) != 0)
        return s_fail(t, order,
                      rumor_errmsg_set(em, RUMOR_EIO, "node %u: cannot bind %s: %s", self,
                                       cfg->endpoint, zmq_strerror(errno)));
    size_t eplen = sizeof t->endpoint;
    if (zmq_getsockopt(t->router, ZMQ_LAST_ENDPOINT, t->endpoint, &eplen) != 0)
        snprintf(t->endpoint, sizeof t->endpoint, "%s", cfg->endpoint);

    /* One DEALER per neighbour, identified by our id, or under CURVE by the routing id bound
     * to our key and the neighbour's. */
    for (uint32_t k = 0; k < cfg->n_nbrs; k++) {
        const rumor_transport_nbr_t *nb = &cfg->nbrs[order[k]];
        uint8_t rid[RUMOR_TRANSPORT_RID_BYTES];
        rumor_store32le(rid, cfg->self);
        size_t rid_len = 4;
        if (!cfg->insecure && strncmp(nb->endpoint, "inproc://", 9) != 0) {
            if ((rc = s_bound_rid(cfg, nb, 0, rid, em))) return s_fail(t, order, rc);
            rid_len = RUMOR_TRANSPORT_RID_BYTES;
        }
        void *s = zmq_socket(zctx, ZMQ_DEALER);
        t->dealer[k] = s;
        rc = s ? 0 : -1;
        if (rc == 0) {
            const int64_t maxmsg = S_DEALER_MAXMSG;
            rc |= s_common_opts(s, cfg, nb->endpoint);
            rc |= zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, rid_len);
            rc |= s_opt_int(s, ZMQ_SNDHWM, s_pick(cfg->sndhwm, 64));
            rc |= s_opt_int(s, ZMQ_RCVHWM, 1);
            rc |= zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
            rc |= s_opt_int(s, ZMQ_IMMEDIATE, 1);
            rc |= s_opt_int(s, ZMQ_RECONNECT_IVL, s_pick(cfg->reconnect_ivl_ms, 100));
            rc |= s_opt_int(s, ZMQ_RECONNECT_IVL_MAX, s_pick(cfg->reconnect_ivl_max_ms, 1000));
            if (!cfg->insecure) {
                rc |= zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, nb->public_key, RUMOR_KEY_Z85_LEN + 1);
                rc |= zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, cfg->keys->public_key,
                                     RUMOR_KEY_Z85_LEN + 1);
                rc |= zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, cfg->keys->secret_key,
                                     RUMOR_KEY_Z85_LEN + 1);
            }
        }
        if (rc != 0)
            return s_fail(t, order,
                          rumor_errmsg_set(em, RUMOR_EIO,
                                           "node %u: cannot set up the socket to node %u: %s", self,
                                           (unsigned)nb->id, zmq_strerror(errno)));
        if (zmq_connect(s, nb->endpoint) != 0)
            return s_fail(t, order,
                          rumor_errmsg_set(em, RUMOR_EIO,
                                           "node %u: cannot connect to node %u at %s: %s", self,
                                           (unsigned)nb->id, nb->endpoint, zmq_strerror(errno)));
    }
    free(order);
    *out = t;
    return 0;
}

int rumor_transport_send(rumor_transport_t *t, uint32_t to, const uint8_t *buf, size_t len,
                         int timeout_ms)
{
    const int k = s_slot(t, to);
    if (k < 0) return RUMOR_EINVAL;
    if (len > t->max_frame) return RUMOR_ERANGE;
    void *s = t->dealer[k];
    const size_t part = RUMOR_TRANSPORT_PART_BYTES;
    const size_t first = len < part ? len : part;
    const double deadline = s_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (zmq_send(s, buf, first, ZMQ_DONTWAIT | (len > first ? ZMQ_SNDMORE : 0)) >= 0) break;
        if (errno == EINTR) return RUMOR_EINTR;
        if (errno != EAGAIN) return RUMOR_EIO;
        const double left = deadline - s_now_ms();
        if (left <= 0) return RUMOR_ETIMEOUT;
        const int w = s_poll_socket(t, s, ZMQ_POLLOUT, (long)left + 1);
        if (w < 0) return w;
    }
    /* A message is queued whole once its first part is: the rest fails only when the
     * connection broke meanwhile. ZeroMQ then drops the message, and drops every later part
     * up to one without ZMQ_SNDMORE, which an empty part supplies. */
    for (size_t at = first; at < len; at += part) {
        const size_t n = len - at < part ? len - at : part;
        const int more = at + n < len;
        if (zmq_send(s, buf + at, n, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) < 0) {
            if (more) (void)zmq_send(s, "", 0, ZMQ_DONTWAIT);
            return RUMOR_ETIMEOUT;
        }
    }
    return 0;
}

int rumor_transport_ready(rumor_transport_t *t, uint32_t to)
{
    const int k = s_slot(t, to);
    if (k < 0) return 0;
    if (t->auth) rumor_transport_auth_serve(t->auth);
    return s_poll_socket(t, t->dealer[k], ZMQ_POLLOUT, 0) == 1;
}

/* The sender of a received body: the ZAP User-Id in secure mode, the routing id otherwise
 * (insecure, or inproc, where ZeroMQ runs no handshake and only this process can connect).
 * UINT32_MAX if there is none or it is malformed. */
static uint32_t s_sender(const rumor_transport_t *t, zmq_msg_t *rid, zmq_msg_t *body)
{
    if (!t->insecure && !t->inproc) {
        const char *uid = zmq_msg_gets(body, "User-Id");
        if (!uid || !*uid || strspn(uid, "0123456789") != strlen(uid) || strlen(uid) > 10)
            return UINT32_MAX;
        const unsigned long v = strtoul(uid, NULL, 10);
        return v >= UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    }
    if (zmq_msg_size(rid) != 4) return UINT32_MAX;
    const uint8_t *p = zmq_msg_data(rid);
    return rumor_load32le(p);
}

int rumor_transport_recv(rumor_transport_t *t, int timeout_ms, uint32_t *from, uint8_t *buf,
                         size_t cap, size_t *len)
{
    s_misrouted_flush(t, 0);
    if (t->auth) rumor_transport_auth_flush(t->auth);
    *from = UINT32_MAX;
    *len = 0;
    const double deadline = s_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    zmq_msg_t rid, body;
    zmq_msg_init(&rid);
    for (;;) {
        if (zmq_msg_recv(&rid, t->router, ZMQ_DONTWAIT) >= 0) break;
        if (errno != EAGAIN) {
            const int e = errno;
            zmq_msg_close(&rid);
            return e == EINTR ? RUMOR_EINTR : RUMOR_EIO;
        }
        long wait = -1;
        if (timeout_ms >= 0) {
            const double left = deadline - s_now_ms();
            if (left <= 0) {
                zmq_msg_close(&rid);
                return RUMOR_ETIMEOUT;
            }
            wait = (long)left + 1;
        }
        const int w = s_poll_socket(t, t->router, ZMQ_POLLIN, wait);
        if (w < 0) {
            zmq_msg_close(&rid);
            return w;
        }
    }
    /* Frames that are always there need no poll; the ZAP handler is still served. */
    if (t->auth && ++t->unpolled >= S_ZAP_EVERY_FRAMES) {
        t->unpolled = 0;
        rumor_transport_auth_serve(t->auth);
    }
    if (!zmq_msg_more(&rid)) { /* ROUTER always prefixes a routing id; cannot happen */
        zmq_msg_close(&rid);
        return RUMOR_EFORMAT;
    }
    /* The parts of a message are all queued once the first is: blocking reads return at
     * once. The first names the sender (its metadata is the connection's). */
    zmq_msg_init(&body);
    zmq_msg_t extra;
    zmq_msg_init(&extra);
    zmq_msg_t *part = &body;
    const size_t limit = cap < t->max_frame ? cap : t->max_frame;
    size_t total = 0;
    int rc = 0, bad_parts = 0;
    for (;;) {
        int got;
        while ((got = zmq_msg_recv(part, t->router, 0)) < 0 && errno == EINTR) {
        }
        if (got < 0) {
            rc = RUMOR_EIO;
            break;
        }
        if (part == &body) *from = s_sender(t, &rid, &body);
        const size_t n = zmq_msg_size(part);
        const int more = zmq_msg_more(part);
        /* One encoding per frame: full parts, then one of 1..S_PART_BYTES bytes. */
        if (more ? n != RUMOR_TRANSPORT_PART_BYTES : (part != &body && n == 0)) bad_parts = 1;
        if (n <= limit && total <= limit - n) memcpy(buf + total, zmq_msg_data(part), n);
        total += n;
        if (!more) break;
        part = &extra;
    }
    *len = total;
    if (rc == 0 && bad_parts)
        rc = RUMOR_EFORMAT;
    else if (rc == 0 && *from == UINT32_MAX)
        rc = t->insecure ? RUMOR_EFORMAT : RUMOR_EAUTH;
    else if (rc == 0 && (s_slot(t, *from) < 0 || !s_rid_ok(t, s_slot(t, *from), &rid, &body)))
        rc = RUMOR_EAUTH;
    else if (rc == 0 && total > limit)
        rc = RUMOR_ERANGE;
    zmq_msg_close(&extra);
    zmq_msg_close(&body);
    zmq_msg_close(&rid);
    return rc;
}

void rumor_transport_auth_stats(const rumor_transport_t *t, rumor_transport_auth_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->misrouted = t->misrouted;
    if (t->domain) rumor_transport_auth_domain_stats(t->auth, t->domain, out);
}
