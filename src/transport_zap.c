/* rumor — the ZAP handler of secure transports (see transport.h and transport_internal.h).
 *
 * The handler keeps one "domain" per secure transport of its context: the node's id (also
 * the ROUTER's ZMQ_ZAP_DOMAIN, "rumor.node.<id>") and the binary public keys of its
 * neighbours with their ids. ZeroMQ asks it about every CURVE handshake on any ROUTER of the
 * context; it answers 200 with User-Id "<neighbour id>" when the client key is listed for that
 * domain, 400 otherwise.
 *
 * No thread of its own: the handler is a REP socket bound in the context, and the transports
 * that use it serve it from their own waits (one poll over their socket and this one), in the
 * threads that use them. ZeroMQ's I/O thread holds a CURVE handshake until its request is
 * answered, so a handshake completes at the handler's next wait; the ZMQ_HANDSHAKE_IVL
 * timeout (5 s) only bites when no transport is waited on for longer than that, and the
 * client then retries. Transports of one context may live in different threads (librumor's
 * endpoints): the socket, the table and the counters are used under the handler's mutex,
 * which also makes the socket's passing between threads safe for ZeroMQ.
 *
 * Log volume. Refusals are what an attacker can cause at will (a connection per key), so
 * they are logged as a burst: the first in full, then one line per RUMOR_LOG_BURST_S s with
 * the count, closed when the handler is next served after that.
 *
 * Workload: a handful of ZAP requests per connection; a serve that finds none costs one
 * non-blocking receive.
 */
#include "transport_internal.h"

#include "rumor/clock.h"
#include "rumor/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_ZAP_ENDPOINT   "inproc://zeromq.zap.01"
#define S_ZAP_MAX_FRAMES 8
#define S_ZAP_PER_SERVE  64 /* requests answered per serve, so that a flood cannot hold it */
#define S_DOMAIN_MAX     32

struct rumor_transport_domain {
    char name[S_DOMAIN_MAX]; /* ZMQ_ZAP_DOMAIN of the node's ROUTER */
    uint32_t node;
    uint32_t n; /* admitted keys */
    uint8_t (*keys)[32];
    uint32_t *ids; /* ids[k] is the node holding keys[k] */
    uint64_t admitted, refused;
    char last_refused[RUMOR_KEY_Z85_LEN + 1];
    char last_addr[64];      /* where the last refused client came from */
    rumor_log_burst_t burst; /* refusals */
};

struct rumor_transport_auth {
    pthread_mutex_t lock; /* held for every use of what follows but ctx and fd */
    void *ctx;            /* the context it serves */
    void *zap;            /* REP bound to S_ZAP_ENDPOINT */
    int fd;               /* its ZMQ_FD: readable when commands for it arrive */
    int backlog;          /* the last serve left requests waiting */
    rumor_transport_domain_t **domains;
    size_t n_domains, cap_domains;
};

static void s_domain_name(uint32_t node, char out[S_DOMAIN_MAX])
{
    snprintf(out, S_DOMAIN_MAX, "rumor.node.%u", (unsigned)node);
}

static int s_msg_is(zmq_msg_t *m, const char *s)
{
    const size_t n = strlen(s);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/* Decides one request; fills status ("200"/"400"/"500"), text and user id. */
static void s_zap_decide(rumor_transport_auth_t *a, zmq_msg_t *f, int nf, const char **status,
                         const char **text, char user[16])
{
    *status = "400";
    *text = "not a listed neighbour";
    user[0] = '\0';
    if (nf < 6 || !s_msg_is(&f[0], "1.0")) {
        *status = "500";
        *text = "malformed ZAP request";
        return;
    }
    const size_t dlen = zmq_msg_size(&f[2]);
    if (s_msg_is(&f[5], "NULL") && dlen == 0) {
        /* A plaintext socket of this context without a domain: an insecure transport, which
         * has already restricted itself to local endpoints. */
        *status = "200";
        *text = "OK";
        return;
    }
    if (!s_msg_is(&f[5], "CURVE") || nf < 7 || zmq_msg_size(&f[6]) != 32) {
        *text = "unsupported mechanism";
        return;
    }
    const uint8_t *key = zmq_msg_data(&f[6]);
    char addr[64] = "";
    const size_t alen = zmq_msg_size(&f[3]) < sizeof addr - 1 ? zmq_msg_size(&f[3]) : 0;
    memcpy(addr, zmq_msg_data(&f[3]), alen);
    addr[alen] = '\0';

    rumor_transport_domain_t *d = NULL;
    for (size_t i = 0; i < a->n_domains && !d; i++) {
        const size_t nl = strlen(a->domains[i]->name);
        if (nl == dlen && memcmp(a->domains[i]->name, zmq_msg_data(&f[2]), nl) == 0)
            d = a->domains[i];
    }
    if (d) {
        for (uint32_t k = 0; k < d->n; k++) {
            if (memcmp(d->keys[k], key, 32) == 0) {
                *status = "200";
                *text = "OK";
                snprintf(user, 16, "%u", (unsigned)d->ids[k]);
                d->admitted++;
                break;
            }
        }
        if (user[0] == '\0') {
            char z85[RUMOR_KEY_Z85_LEN + 1];
            zmq_z85_encode(z85, key, 32);
            /* A refused client reconnects every few hundred ms, and anyone can make keys. */
            if (rumor_log_burst_note(&d->burst, rumor_clock_now()))
                rumor_warn("node %u: refused a CURVE client from %s: key %s is not one of its "
                           "neighbours' in the topology",
                           (unsigned)d->node, addr[0] ? addr : "?", z85);
            memcpy(d->last_refused, z85, sizeof z85);
            snprintf(d->last_addr, sizeof d->last_addr, "%s", addr[0] ? addr : "?");
            d->refused++;
        }
    } else {
        *text = "unknown domain";
    }
}

/* Logs the count of refusals of d's burst if it is due (or `force`). */
static void s_domain_flush(rumor_transport_domain_t *d, double now, int force)
{
    double secs;
    const uint64_t n = rumor_log_burst_close(&d->burst, now, force, &secs);
    if (n)
        rumor_warn("node %u: refused %llu more CURVE clients with unlisted keys in the last %.0f "
                   "s (the last from %s, key %s)",
                   (unsigned)d->node, (unsigned long long)n, secs, d->last_addr, d->last_refused);
}

/* Answers one request if one is waiting. Returns 1 if it did, 0 if there was none, -1 when
 * the context is going away. */
static int s_zap_serve_one(rumor_transport_auth_t *a)
{
    zmq_msg_t f[S_ZAP_MAX_FRAMES];
    int nf = 0, more = 1, rc = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        /* The parts of a request are all queued once the first is. */
        if (zmq_msg_recv(&m, a->zap, nf ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            if (errno == EINTR) continue;
            rc = errno == EAGAIN && nf == 0 ? 0 : -1;
            break;
        }
        more = zmq_msg_more(&m);
        if (nf < S_ZAP_MAX_FRAMES)
            f[nf++] = m; /* the zmq_msg_t is moved, not copied */
        else
            zmq_msg_close(&m);
    }
    if (rc == 1) {
        const char *status, *text;
        char user[16];
        s_zap_decide(a, f, nf, &status, &text, user);
        const char *req_id = nf > 1 ? zmq_msg_data(&f[1]) : "";
        const size_t req_len = nf > 1 ? zmq_msg_size(&f[1]) : 0;
        if (zmq_send(a->zap, "1.0", 3, ZMQ_SNDMORE) < 0 ||
            zmq_send(a->zap, req_id, req_len, ZMQ_SNDMORE) < 0 ||
            zmq_send(a->zap, status, 3, ZMQ_SNDMORE) < 0 ||
            zmq_send(a->zap, text, strlen(text), ZMQ_SNDMORE) < 0 ||
            zmq_send(a->zap, user, strlen(user), ZMQ_SNDMORE) < 0 || zmq_send(a->zap, "", 0, 0) < 0)
            rc = errno == ETERM ? -1 : 1;
    }
    for (int i = 0; i < nf; i++) zmq_msg_close(&f[i]);
    return rc;
}

static void s_flush(rumor_transport_auth_t *a)
{
    const double now = rumor_clock_now();
    for (size_t i = 0; i < a->n_domains; i++) s_domain_flush(a->domains[i], now, 0);
}

void rumor_transport_auth_serve(rumor_transport_auth_t *a)
{
    pthread_mutex_lock(&a->lock);
    a->backlog = 0;
    for (int i = 0;; i++) {
        /* ZMQ_EVENTS takes in the socket's pending commands, which a receive within a
         * millisecond of the last would skip: a request is never left unseen behind them. */
        int ev = 0;
        size_t sz = sizeof ev;
        if (zmq_getsockopt(a->zap, ZMQ_EVENTS, &ev, &sz) != 0 || !(ev & ZMQ_POLLIN)) break;
        if (i == S_ZAP_PER_SERVE) {
            a->backlog = 1;
            break;
        }
        if (s_zap_serve_one(a) != 1) break;
    }
    s_flush(a);
    pthread_mutex_unlock(&a->lock);
}

int rumor_transport_auth_backlog(rumor_transport_auth_t *a)
{
    pthread_mutex_lock(&a->lock);
    const int b = a->backlog;
    pthread_mutex_unlock(&a->lock);
    return b;
}

int rumor_transport_auth_fd(const rumor_transport_auth_t *a)
{
    return a->fd;
}

void rumor_transport_auth_flush(rumor_transport_auth_t *a)
{
    pthread_mutex_lock(&a->lock);
    s_flush(a);
    pthread_mutex_unlock(&a->lock);
}

static void s_close_linger0(void *s)
{
    if (!s) return;
    const int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(s);
}

int rumor_transport_auth_create(void *zctx, rumor_transport_auth_t **out, rumor_errmsg_t *em)
{
    *out = NULL;
    rumor_transport_auth_t *a = calloc(1, sizeof *a);
    if (!a) return rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory");
    if (pthread_mutex_init(&a->lock, NULL) != 0) {
        free(a);
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "cannot create the ZAP handler's mutex");
    }
    a->ctx = zctx;
    a->zap = zmq_socket(zctx, ZMQ_REP);
    const char *what = NULL;
    int err = 0;
    if (!a->zap) {
        what = "cannot create the ZAP handler's socket";
        err = errno;
    } else if (zmq_bind(a->zap, S_ZAP_ENDPOINT) != 0) {
        err = errno;
        what = err == EADDRINUSE ? "this ZeroMQ context already has a ZAP handler (share one "
                                   "rumor_transport_auth_t between its transports)"
                                 : "cannot bind " S_ZAP_ENDPOINT;
    } else {
        size_t sz = sizeof a->fd;
        if (zmq_getsockopt(a->zap, ZMQ_FD, &a->fd, &sz) != 0) {
            err = errno;
            what = "cannot poll the ZAP handler's socket";
        }
    }
    if (what) {
        s_close_linger0(a->zap);
        pthread_mutex_destroy(&a->lock);
        free(a);
        return rumor_errmsg_set(em, RUMOR_EIO, "%s: %s", what, zmq_strerror(err));
    }
    *out = a;
    return 0;
}

void rumor_transport_auth_destroy(rumor_transport_auth_t **a_p)
{
    if (!a_p || !*a_p) return;
    rumor_transport_auth_t *a = *a_p;
    *a_p = NULL;
    RUMOR_ASSERT(a->n_domains == 0); /* every transport using it was destroyed first */
    /* Closing releases an inproc name only later, on ZeroMQ's reaper thread; unbinding
     * releases it now, so a new handler can start on this context right away. */
    zmq_unbind(a->zap, S_ZAP_ENDPOINT);
    s_close_linger0(a->zap);
    pthread_mutex_destroy(&a->lock);
    free(a->domains);
    free(a);
}

static void s_domain_free(rumor_transport_domain_t *d)
{
    if (!d) return;
    free(d->keys);
    free(d->ids);
    free(d);
}

int rumor_transport_auth_register(rumor_transport_auth_t *a, uint32_t node,
                                  const rumor_transport_nbr_t *nbrs, uint32_t n,
                                  rumor_transport_domain_t **out, rumor_errmsg_t *em)
{
    rumor_transport_domain_t *d = calloc(1, sizeof *d);
    if (d) {
        d->keys = malloc((n ? n : 1) * sizeof *d->keys);
        d->ids = malloc((n ? n : 1) * sizeof *d->ids);
    }
    if (!d || !d->keys || !d->ids) {
        s_domain_free(d);
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory");
    }
    s_domain_name(node, d->name);
    d->node = node;
    d->n = n;
    for (uint32_t k = 0; k < n; k++) {
        const uint8_t *ok = zmq_z85_decode(d->keys[k], nbrs[k].public_key);
        RUMOR_ASSERT(ok); /* rumor_transport_new validated every key */
        d->ids[k] = nbrs[k].id;
    }
    int rc = 0;
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < a->n_domains; i++)
        if (a->domains[i]->node == node)
            rc = rumor_errmsg_set(em, RUMOR_EINVAL,
                                  "node %u already has a transport in this ZeroMQ context",
                                  (unsigned)node);
    if (rc == 0 && a->n_domains == a->cap_domains) {
        const size_t cap = a->cap_domains ? 2 * a->cap_domains : 8;
        rumor_transport_domain_t **p = realloc(a->domains, cap * sizeof *p);
        if (!p)
            rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory");
        else {
            a->domains = p;
            a->cap_domains = cap;
        }
    }
    if (rc == 0) a->domains[a->n_domains++] = d;
    pthread_mutex_unlock(&a->lock);
    if (rc != 0) {
        s_domain_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void rumor_transport_auth_unregister(rumor_transport_auth_t *a, rumor_transport_domain_t *d)
{
    pthread_mutex_lock(&a->lock);
    s_domain_flush(d, rumor_clock_now(), 1);
    for (size_t i = 0; i < a->n_domains; i++) {
        if (a->domains[i] == d) {
            a->domains[i] = a->domains[--a->n_domains];
            break;
        }
    }
    pthread_mutex_unlock(&a->lock);
    s_domain_free(d);
}

void *rumor_transport_auth_ctx(const rumor_transport_auth_t *a)
{
    return a->ctx;
}

const char *rumor_transport_auth_domain(const rumor_transport_domain_t *d)
{
    return d->name;
}

void rumor_transport_auth_domain_stats(rumor_transport_auth_t *a, const rumor_transport_domain_t *d,
                                       rumor_transport_auth_stats_t *out)
{
    pthread_mutex_lock(&a->lock);
    out->admitted = d->admitted;
    out->refused = d->refused;
    memcpy(out->last_refused, d->last_refused, sizeof out->last_refused);
    pthread_mutex_unlock(&a->lock);
}
