/* rumor — librumor's public API (see rumor.h) over the node session of node.h.
 *
 * An endpoint is a node session whose peer gossips an external model: each round copies the
 * caller's parameters into the peer's model, runs the session's round (produce, DIFFs,
 * links, mix, prox) and copies the result back. The process's endpoints share one ZeroMQ
 * context (inproc endpoints need it), made by the first open and ended by the last close,
 * and its secure endpoints one ZAP handler (a context has room for one), made by the first
 * secure open.
 */
#include "rumor/rumor.h"

#include "rumor/err.h"
#include "rumor/link.h"
#include "rumor/node.h"
#include "rumor/peer.h"
#include "rumor/transport.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct rumor_endpoint {
    rumor_node_session_t *node;
    rumor_peer_t *peer;
    uint32_t id, rounds;
    size_t d;
    int started; /* a round was run or a state loaded: the public copies are in use */
    int failed;  /* the error that stopped a round (the BYE at close names it), or 0 */
    rumor_errmsg_t em;
};

static pthread_mutex_t s_ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static void *s_ctx;
static rumor_transport_auth_t *s_auth; /* the context's ZAP handler, once a secure open needs it */
static unsigned s_ctx_users;
static _Thread_local rumor_errmsg_t s_open_em;

/* The shared context and (secure) its ZAP handler, made on first use; 0, or RUMOR_EIO or
 * RUMOR_ENOMEM with em filled. */
static int s_ctx_acquire(int secure, void **ctx, rumor_transport_auth_t **auth, rumor_errmsg_t *em)
{
    pthread_mutex_lock(&s_ctx_lock);
    if (!s_ctx) s_ctx = zmq_ctx_new();
    int rc = 0;
    if (!s_ctx)
        rc = rumor_errmsg_set(em, RUMOR_EIO, "cannot create a ZeroMQ context");
    else if (secure && !s_auth)
        rc = rumor_transport_auth_create(s_ctx, &s_auth, em);
    if (!rc) {
        s_ctx_users++;
        *ctx = s_ctx;
        *auth = s_auth;
    } else if (s_ctx && !s_ctx_users) {
        zmq_ctx_term(s_ctx);
        s_ctx = NULL;
    }
    pthread_mutex_unlock(&s_ctx_lock);
    return rc;
}

static void s_ctx_release(void)
{
    pthread_mutex_lock(&s_ctx_lock);
    if (--s_ctx_users == 0) {
        rumor_transport_auth_destroy(&s_auth); /* its transports were closed */
        zmq_ctx_term(s_ctx);
        s_ctx = NULL;
    }
    pthread_mutex_unlock(&s_ctx_lock);
}

const char *rumor_version(void)
{
    return "rumor " RUMOR_VERSION;
}

int rumor_open(rumor_endpoint_t **out, const char *scenario, const char *topology, uint32_t id,
               const char *key, const rumor_options_t *options)
{
    rumor_errmsg_t *em = &s_open_em;
    em->msg[0] = '\0';
    if (!out) return rumor_errmsg_set(em, RUMOR_EINVAL, "rumor_open: out is NULL");
    *out = NULL;
    if (!scenario) return rumor_errmsg_set(em, RUMOR_EINVAL, "rumor_open: no scenario");
    const rumor_options_t none = {0};
    const rumor_options_t *o = options ? options : &none;
    const char *lead = scenario + strspn(scenario, " \t\r\n");
    const int json = *lead == '{';
    rumor_endpoint_t *g = calloc(1, sizeof *g);
    if (!g) return rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory");
    void *ctx = NULL;
    rumor_transport_auth_t *auth = NULL;
    int rc = s_ctx_acquire(!o->insecure, &ctx, &auth, em);
    if (rc) {
        free(g);
        return rc;
    }
    const rumor_node_opts_t no = {
        .config = json ? "scenario" : scenario,
        .config_json = json ? scenario : NULL,
        .zctx = ctx,
        .zauth = auth,
        .topology = topology,
        .id = id,
        .key = key,
        .insecure = o->insecure,
        .checkpoint_dir = o->checkpoint_dir,
        .checkpoint_every = o->checkpoint_every,
        .metrics = o->metrics,
        .wait_s = o->wait_s,
    };
    rc = rumor_node_open(&no, &g->node, em);
    if (!rc) {
        g->peer = rumor_node_peer(g->node);
        if (rumor_model_spec(rumor_peer_model(g->peer))->kind != RUMOR_MODEL_EXTERNAL) {
            rc = rumor_errmsg_set(em, RUMOR_EINVAL,
                                  "%s: model %s: librumor gossips a caller's model, so the "
                                  "scenario's model must be external:D (D parameters)",
                                  no.config, rumor_peer_scenario(g->peer)->model);
            rumor_errmsg_t ignored;
            (void)rumor_node_close(&g->node, rc, &ignored);
        }
    }
    if (rc) {
        s_ctx_release();
        free(g);
        return rc;
    }
    g->id = id;
    g->d = rumor_peer_dim(g->peer);
    g->rounds = rumor_peer_scenario(g->peer)->rounds;
    *out = g;
    return 0;
}

int rumor_gossip_round(rumor_endpoint_t *g, float *params)
{
    if (!g) return RUMOR_EINVAL;
    g->em.msg[0] = '\0';
    if (!params) return rumor_errmsg_set(&g->em, RUMOR_EINVAL, "rumor_gossip_round: no params");
    float *x = rumor_peer_params_mut(g->peer);
    g->started = 1;
    memcpy(x, params, g->d * sizeof *x);
    const int rc = rumor_node_round(g->node, &g->em);
    if (!rc)
        memcpy(params, x, g->d * sizeof *x);
    else if (rc != RUMOR_ERANGE)
        g->failed = rc; /* past the last round: nothing broke */
    return rc;
}

size_t rumor_dim(const rumor_endpoint_t *g)
{
    return g ? g->d : 0;
}

uint32_t rumor_round(const rumor_endpoint_t *g)
{
    return g ? rumor_peer_round(g->peer) : 0;
}

uint32_t rumor_rounds(const rumor_endpoint_t *g)
{
    return g ? g->rounds : 0;
}

uint32_t rumor_id(const rumor_endpoint_t *g)
{
    return g ? g->id : 0;
}

uint32_t rumor_degree(const rumor_endpoint_t *g)
{
    return g ? rumor_node_degree(g->node) : 0;
}

/* Sum over the edges of the frame bytes sent (recv = 0) or received (recv = 1). */
static uint64_t s_bytes(const rumor_endpoint_t *g, int recv)
{
    uint64_t sum = 0;
    const rumor_link_t *l;
    for (uint32_t k = 0; g && (l = rumor_node_link(g->node, k)); k++)
        sum += recv ? l->bytes_recv : l->bytes_sent;
    return sum;
}

uint64_t rumor_bytes_sent(const rumor_endpoint_t *g)
{
    return s_bytes(g, 0);
}

uint64_t rumor_bytes_recv(const rumor_endpoint_t *g)
{
    return s_bytes(g, 1);
}

int rumor_edge(const rumor_endpoint_t *g, uint32_t k, rumor_edge_t *out)
{
    const rumor_link_t *l = g ? rumor_node_link(g->node, k) : NULL;
    if (!l || !out) return RUMOR_EINVAL;
    memset(out, 0, sizeof *out);
    out->neighbour = l->cfg.id;
    out->down = l->down;
    out->bytes_sent = l->bytes_sent;
    out->bytes_recv = l->bytes_recv;
    out->resyncs = l->resyncs;
    for (int j = 0; j < RUMOR_LINK_DROP_COUNT; j++) out->dropped += l->drops[j];
    return 0;
}

const char *rumor_last_error(const rumor_endpoint_t *g)
{
    return g ? g->em.msg : s_open_em.msg;
}

const char *rumor_error_name(int code)
{
    return rumor_strerror(code);
}

int rumor_set_initial(rumor_endpoint_t *g, const float *x0)
{
    if (!g) return RUMOR_EINVAL;
    g->em.msg[0] = '\0';
    if (!x0) return rumor_errmsg_set(&g->em, RUMOR_EINVAL, "rumor_set_initial: no parameters");
    if (g->started)
        return rumor_errmsg_set(&g->em, RUMOR_EINVAL,
                                "node %u: the initial model can be set only before the first "
                                "round",
                                g->id);
    rumor_peer_set_initial(g->peer, x0);
    return 0;
}

int rumor_save(rumor_endpoint_t *g, const char *path)
{
    if (!g) return RUMOR_EINVAL;
    g->em.msg[0] = '\0';
    if (!path) return rumor_errmsg_set(&g->em, RUMOR_EINVAL, "rumor_save: no path");
    return rumor_node_save(g->node, path, &g->em);
}

int rumor_load(rumor_endpoint_t *g, const char *path)
{
    if (!g) return RUMOR_EINVAL;
    g->em.msg[0] = '\0';
    if (!path) return rumor_errmsg_set(&g->em, RUMOR_EINVAL, "rumor_load: no path");
    const int rc = rumor_node_resume(g->node, path, &g->em);
    if (!rc) g->started = 1;
    return rc;
}

int rumor_close(rumor_endpoint_t *g)
{
    if (!g) return 0;
    s_open_em.msg[0] = '\0';
    /* After a failed round the neighbours hear why (as from rumor peer); the error was
     * reported by that round, so close itself succeeds. */
    const int rc = rumor_node_close(&g->node, g->failed, &s_open_em);
    const int failed = g->failed;
    free(g);
    s_ctx_release();
    return failed ? 0 : rc;
}
