/* rumor — the simulator's network: links over frames in memory (see sim_internal.h). */
#include "sim_internal.h"

#include "rumor/carrier.h"
#include "rumor/gossip.h"
#include "rumor/log.h"
#include "rumor/rng.h"
#include "rumor/wire.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_HEAD 16 /* a queued frame's head: arrival (8), length (4), fault decided (1), pad */

static size_t s_pad8(size_t x)
{
    return (x + 7) & ~(size_t)7;
}

/* Room for a frame of up to cap bytes at the end of q: its frame area, or NULL when out of
 * memory. Queues grow to the most a phase ever holds, then stay. */
static uint8_t *s_reserve(rumor_simq_t *q, size_t cap)
{
    const size_t need = q->len + S_HEAD + s_pad8(cap);
    if (need > q->cap) {
        const size_t c = need > 2 * q->cap ? need : 2 * q->cap;
        uint8_t *b = realloc(q->buf, c);
        if (!b) return NULL;
        q->buf = b;
        q->cap = c;
    }
    return q->buf + q->len + S_HEAD;
}

static void s_commit(rumor_simq_t *q, double at, size_t flen, uint8_t fated)
{
    uint8_t *r = q->buf + q->len;
    const uint32_t len32 = (uint32_t)flen;
    memcpy(r, &at, 8);
    memcpy(r + 8, &len32, 4);
    r[12] = fated;
    q->len += S_HEAD + s_pad8(flen);
}

static void s_fail(rumor_simnet_t *net, rumor_simnet_worker_t *w, int rc)
{
    int none = 0; /* the first failure only */
    atomic_compare_exchange_strong(&net->failed, &none, rc);
    w->failed = 1;
}

static uint64_t s_session(uint32_t i, uint32_t restarts)
{
    return (uint64_t)restarts << 32 | i;
}

int rumor_simnet_init(rumor_simnet_t *net, const rumor_scenario_t *sc, const rumor_topology_t *topo,
                      rumor_peer_t **peers, const uint32_t *edge0, rumor_errmsg_t *em)
{
    const uint32_t n = topo->n, edges = edge0[n];
    *net = (rumor_simnet_t){.sc = sc, .peers = peers, .n = n, .edge0 = edge0};
    net->d = (uint32_t)rumor_peer_dim(peers[0]);
    net->pub = rumor_gossip_public_dim(rumor_peer_gossip(peers[0]));
    net->max_payload = rumor_wire_payload_bound(net->pub, rumor_peer_msg_bound(sc, net->d));
    net->round_s = sc->deadline ? sc->deadline_ms / 1000.0 : 1.0;
    net->clocked = rumor_scenario_clocked(sc);
    /* Synchronous rounds: a neighbour not heard in a whole round is out. Deadline rounds: three
     * deadlines; with per-peer clocks, where a slow peer may be silent for longer, at least a
     * second, as `rumor peer`'s default. */
    net->liveness_s = sc->deadline ? 3 * net->round_s : net->round_s;
    if (net->clocked && net->liveness_s < 1.0) net->liveness_s = 1.0;
    const size_t m = edges ? edges : 1;
    net->rev = calloc(m, sizeof *net->rev);
    net->nbr = calloc(m, sizeof *net->nbr);
    net->links = calloc(m, sizeof *net->links);
    net->q[0] = calloc(m, sizeof *net->q[0]);
    net->q[1] = calloc(m, sizeof *net->q[1]);
    net->held = calloc(m, sizeof *net->held);
    net->last_at = calloc(m, sizeof *net->last_at);
    net->frames = calloc(m, sizeof *net->frames);
    net->lost = calloc(n, sizeof *net->lost);
    net->hello = calloc(n, sizeof *net->hello);
    if (!net->rev || !net->nbr || !net->links || !net->q[0] || !net->q[1] || !net->held ||
        !net->last_at || !net->frames || !net->lost || !net->hello || !net->max_payload)
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "simulation: out of memory");
    uint8_t topo_hash[32];
    rumor_topology_hash(topo, topo_hash);
    for (uint32_t i = 0; i < n; i++) {
        net->hello[i] =
            (rumor_wire_hello_t){.version = RUMOR_WIRE_PROTOCOL, .sender = i, .dim = net->d};
        memcpy(net->hello[i].topology_hash, topo_hash, 32);
        memcpy(net->hello[i].config_hash, sc->hash, 32);
        const uint32_t *nb = rumor_topology_neighbors(topo, i);
        for (uint32_t s = 0; s < edge0[i + 1] - edge0[i]; s++) {
            const uint32_t e = edge0[i] + s, j = nb[s];
            const uint32_t *nj = rumor_topology_neighbors(topo, j);
            uint32_t r = 0;
            while (r < edge0[j + 1] - edge0[j] && nj[r] != i) r++;
            if (r == edge0[j + 1] - edge0[j])
                return rumor_errmsg_set(em, RUMOR_EINVAL,
                                        "topology: node %u is a neighbour of %u but not the other "
                                        "way round",
                                        j, i);
            net->rev[e] = edge0[j] + r;
            net->nbr[e] = j;
            const rumor_link_cfg_t lc = {.self = i,
                                         .id = j,
                                         .n = n,
                                         .last_round = sc->rounds,
                                         .deadline = sc->deadline != 0,
                                         .session = s_session(i, 0),
                                         .hello = &net->hello[i],
                                         .frame_cap = net->max_payload,
                                         .liveness_s = net->liveness_s,
                                         .heartbeat_s = net->round_s / 2,
                                         .now = 0.0};
            if (rumor_link_init(&net->links[e], &lc))
                return rumor_errmsg_set(em, RUMOR_ENOMEM, "simulation: out of memory");
        }
    }
    return 0;
}

void rumor_simnet_free(rumor_simnet_t *net)
{
    const uint32_t edges = net->edge0 ? net->edge0[net->n] : 0;
    for (uint32_t e = 0; e < edges && net->links; e++) {
        rumor_link_free(&net->links[e]);
        for (int p = 0; p < 2 && net->q[p]; p++) free(net->q[p][e].buf);
        if (net->held) free(net->held[e].buf);
    }
    free(net->rev);
    free(net->nbr);
    free(net->links);
    free(net->q[0]);
    free(net->q[1]);
    free(net->held);
    free(net->last_at);
    free(net->frames);
    free(net->lost);
    free(net->hello);
    *net = (rumor_simnet_t){0};
}

static int s_fate(rumor_simnet_t *net, uint32_t i, uint32_t e, const uint8_t *frame, size_t flen,
                  double *at);

/* Peer i sends a frame of `type` with payload[0..len) on link e at time `now` of round t in
 * phase s. A STATE's payload (payload NULL) is peer i's public copy, valid from round t + 1
 * (it has taken this round's step). Per-peer clocks: the frame's faults are decided here, and
 * the driver told when it arrives. */
static void s_send(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t e,
                   uint8_t type, const uint8_t *payload, size_t len, uint32_t t, uint64_t s,
                   double now)
{
    rumor_link_t *l = &net->links[e];
    const uint32_t to = net->rev[e];
    rumor_simq_t *q = &net->q[net->clocked ? 0 : (s + 1) & 1][to];
    uint8_t hello[RUMOR_WIRE_HELLO_BYTES];
    if (type == RUMOR_WIRE_HELLO) {
        rumor_wire_hello_t h = net->hello[i];
        h.resume_round = t;
        RUMOR_ASSERT(rumor_wire_encode_hello(&h, hello, sizeof hello) == 0);
        payload = hello;
        len = sizeof hello;
    }
    const size_t cap = rumor_wire_frame_bytes(type == RUMOR_WIRE_STATE ? net->max_payload : len);
    uint8_t *dst = s_reserve(q, cap);
    if (!dst) {
        s_fail(net, w, RUMOR_ENOMEM);
        return;
    }
    if (type == RUMOR_WIRE_STATE) {
        const float *own = rumor_peer_public_copy(net->peers[i]);
        payload = dst + RUMOR_WIRE_HEADER_BYTES;
        RUMOR_ASSERT(rumor_wire_encode_state(t + 1, own, net->pub, dst + RUMOR_WIRE_HEADER_BYTES,
                                             cap - RUMOR_WIRE_HEADER_BYTES, &len) == 0);
    }
    const rumor_wire_header_t h = rumor_link_header(l, type, t, len);
    size_t flen;
    RUMOR_ASSERT(rumor_wire_encode_frame(&h, payload, len, dst, cap, &flen) == 0);
    rumor_link_sent(l, type, 0, flen, now);
    w->sent++;
    double at = now;
    if (!net->clocked) {
        s_commit(q, at, flen, 0);
    } else if (!(net->sc->n_faults && s_fate(net, net->nbr[e], to, dst, flen, &at))) {
        at = (double)llround(at * 1e9) / 1e9; /* the clocks count whole nanoseconds */
        s_commit(q, at, flen, 1);
        net->arrive(net->arrive_ctx, to, at);
    }
}

/* Where a link's actions happen: peer i, link e, round t, phase s, time now. */
typedef struct {
    rumor_simnet_t *net;
    rumor_simnet_worker_t *w;
    uint32_t i, e, t;
    uint64_t s;
    double now;
} s_at_t;

static void s_carry_send(void *ctx, rumor_link_t *l, uint8_t type)
{
    const s_at_t *at = ctx;
    (void)l;
    s_send(at->net, at->w, at->i, at->e, type, NULL, 0, at->t, at->s, at->now);
}

static void s_carry_stop(void *ctx, rumor_link_t *l, const rumor_wire_bye_t *why)
{
    const s_at_t *at = ctx;
    (void)l;
    s_fail(at->net, at->w, why->code);
}

/* A DIFF the peer refused ends the simulation. */
static void s_carry_delivered(void *ctx, rumor_link_t *l, const rumor_wire_header_t *h, int rc)
{
    const s_at_t *at = ctx;
    rumor_simnet_t *net = at->net;
    const uint32_t j = l->cfg.id;
    if (rc == RUMOR_ENONFINITE && !atomic_load(&net->failed))
        rumor_error("peer %u's message of round %u holds non-finite values: its "
                    "model diverged " RUMOR_PEER_DIVERGED_HINT,
                    j, h->round);
    else if (rc && !atomic_load(&net->failed))
        rumor_error("peer %u: message of peer %u in round %u: %s", at->i, j, h->round,
                    rumor_strerror(rc));
    if (rc) s_fail(net, at->w, rc);
}

static const rumor_carrier_t s_carrier = {
    .send = s_carry_send, .stop = s_carry_stop, .delivered = s_carry_delivered};

/* Carries out what link e of peer i asked for. */
static void s_act(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t e, uint32_t t,
                  uint64_t s, double now, const rumor_link_actions_t *a)
{
    s_at_t at = {.net = net, .w = w, .i = i, .e = e, .t = t, .s = s, .now = now};
    rumor_carrier_act(&net->links[e], net->peers[i], t, now, a, &s_carrier, &at);
}

void rumor_simnet_tick(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t t,
                       uint64_t s, double now)
{
    for (uint32_t e = net->edge0[i]; e < net->edge0[i + 1]; e++) {
        rumor_link_actions_t a;
        rumor_link_tick(&net->links[e], t, now, &a);
        s_act(net, w, i, e, t, s, now, &a);
    }
}

void rumor_simnet_send_diff(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t t,
                            uint64_t s, const uint8_t *msg, size_t len, double now)
{
    for (uint32_t e = net->edge0[i]; e < net->edge0[i + 1]; e++)
        if (!net->links[e].bye) s_send(net, w, i, e, RUMOR_WIRE_DIFF, msg, len, t, s, now);
}

void rumor_simnet_restart(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t t,
                          uint32_t k)
{
    for (uint32_t e = net->edge0[i]; e < net->edge0[i + 1]; e++) {
        rumor_link_t *l = &net->links[e];
        rumor_link_cfg_t lc = l->cfg;
        lc.session = s_session(i, k + 1);
        lc.resumed = 1;
        lc.now = t * net->round_s;
        rumor_link_free(l);
        if (rumor_link_init(l, &lc)) s_fail(net, w, RUMOR_ENOMEM);
        net->held[e].len = 0;
    }
}

/* A frame's fate as it leaves the queue of link e (to peer i): 1 when a DROP fault, or a
 * STRAGGLE fault with late -1, loses it, else 0 with *at its arrival after any STRAGGLE or
 * DELAY fault. Draws depend only on the edge, the round and the frame's place on the edge. */
static int s_fate(rumor_simnet_t *net, uint32_t i, uint32_t e, const uint8_t *frame, size_t flen,
                  double *at)
{
    const rumor_scenario_t *sc = net->sc;
    rumor_wire_header_t h;
    const uint8_t *p;
    if (rumor_wire_parse(frame, flen, net->n, net->max_payload, &h, &p, NULL) != 0) return 0;
    const uint32_t j = net->nbr[e], n = net->n;
    const uint64_t k = net->frames[e]++;
    if (h.type == RUMOR_WIRE_DIFF) {
        const double drop = rumor_scenario_drop_rate(sc, h.round);
        rumor_rng_t r;
        if (drop > 0) rumor_rng_seed(&r, sc->seed, (uint64_t)j * n + i, h.round, RUMOR_RNG_FAULT);
        if (drop > 0 && rumor_rng_uniform_d(&r) < drop) {
            net->lost[i]++;
            return 1;
        }
        const rumor_fault_t *st = rumor_scenario_straggler(sc, j, h.round);
        if (st && st->late < 0) {
            net->lost[i]++;
            return 1;
        }
        if (st) *at += st->late * net->round_s;
    }
    for (uint32_t f = 0; f < sc->n_faults; f++) {
        const rumor_fault_t *ft = &sc->faults[f];
        if (ft->kind != RUMOR_FAULT_DELAY || h.round < ft->from || h.round >= ft->to) continue;
        rumor_rng_t r;
        rumor_rng_seed(&r, sc->seed, (uint64_t)n * n * (f + 1) + (uint64_t)j * n + i, k,
                       RUMOR_RNG_FAULT);
        const double u = rumor_rng_uniform_d(&r);
        if (ft->delay && h.type == RUMOR_WIRE_DIFF && u < ft->drop) {
            *at += ft->delay * net->round_s;
        } else if (!ft->delay) {
            *at += (ft->delay_lo + (ft->delay_hi - ft->delay_lo) * u) / 1000.0;
            if (*at < net->last_at[e]) *at = net->last_at[e]; /* one connection: in order */
            net->last_at[e] = *at;
        }
    }
    return 0;
}

/* Peer i hears frame[0..flen) on link e at time `now`. */
static void s_hear(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t e,
                   uint32_t t, uint64_t s, const uint8_t *frame, size_t flen, double now)
{
    rumor_wire_header_t h;
    const uint8_t *p;
    if (rumor_wire_parse(frame, flen, net->n, net->max_payload, &h, &p, NULL) != 0 ||
        h.sender != net->nbr[e])
        return;
    rumor_link_actions_t a;
    rumor_link_on_frame(&net->links[e], &h, p, t, now, &a);
    s_act(net, w, i, e, t, s, now, &a);
}

void rumor_simnet_receive(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t t,
                          uint64_t s, int up)
{
    const double close = (t + 1) * net->round_s;
    for (uint32_t e = net->edge0[i]; e < net->edge0[i + 1]; e++) {
        rumor_simq_t *held = &net->held[e], *q = &net->q[s & 1][e];
        if (!up) {
            held->len = q->len = 0;
            continue;
        }
        /* Frames held from earlier phases that are due now, in the order they came. */
        size_t keep = 0;
        for (size_t at = 0; at < held->len;) {
            double when;
            uint32_t flen;
            memcpy(&when, held->buf + at, 8);
            memcpy(&flen, held->buf + at + 8, 4);
            const size_t rec = S_HEAD + s_pad8(flen);
            if (when < close) {
                s_hear(net, w, i, e, t, s, held->buf + at + S_HEAD, flen, when);
            } else {
                memmove(held->buf + keep, held->buf + at, rec);
                keep += rec;
            }
            at += rec;
        }
        held->len = keep;
        for (size_t at = 0; at < q->len;) {
            double when;
            uint32_t flen;
            memcpy(&when, q->buf + at, 8);
            memcpy(&flen, q->buf + at + 8, 4);
            const uint8_t *frame = q->buf + at + S_HEAD;
            at += S_HEAD + s_pad8(flen);
            if (net->sc->n_faults && s_fate(net, i, e, frame, flen, &when)) continue;
            if (when < close) {
                s_hear(net, w, i, e, t, s, frame, flen, when);
                continue;
            }
            uint8_t *dst = s_reserve(held, flen);
            if (!dst) {
                s_fail(net, w, RUMOR_ENOMEM);
                continue;
            }
            memcpy(dst, frame, flen);
            s_commit(held, when, flen, 1);
        }
        q->len = 0;
    }
}

void rumor_simnet_end_phase(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint64_t s, int w0)
{
    if (w->sent) atomic_fetch_add(&net->sent[(s + 1) % 3], w->sent);
    w->sent = 0;
    if (w0) atomic_store(&net->sent[(s + 2) % 3], 0);
}

unsigned rumor_simnet_pending(rumor_simnet_t *net, uint64_t s)
{
    return atomic_load(&net->sent[(s + 1) % 3]);
}

void rumor_simnet_close(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t t,
                        double now)
{
    for (uint32_t e = net->edge0[i]; e < net->edge0[i + 1]; e++) {
        rumor_link_actions_t a;
        rumor_link_expire(&net->links[e], now, &a);
        s_act(net, w, i, e, t, 0, now, &a);
    }
}

void rumor_simnet_hear(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t e,
                       uint32_t t, double now)
{
    rumor_simq_t *q = &net->q[0][e];
    while (q->head < q->len) {
        double when;
        uint32_t flen;
        memcpy(&when, q->buf + q->head, 8);
        memcpy(&flen, q->buf + q->head + 8, 4);
        if (when > now) break;
        const uint8_t *frame = q->buf + q->head + S_HEAD;
        q->head += S_HEAD + s_pad8(flen);
        /* (answers go to other queues: this one's frames stay where they are) */
        s_hear(net, w, i, e, t, 0, frame, flen, when);
    }
    if (q->head == q->len) q->head = q->len = 0;
}

int rumor_simnet_awaited(const rumor_simnet_t *net, uint32_t i, uint32_t t)
{
    for (uint32_t e = net->edge0[i]; e < net->edge0[i + 1]; e++)
        if (rumor_link_awaited(&net->links[e], t)) return 1;
    return 0;
}

void rumor_simnet_say_done(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t t,
                           double now)
{
    const rumor_wire_bye_t done = {.origin = i, .round = t};
    uint8_t p[RUMOR_WIRE_BYE_BYTES];
    RUMOR_ASSERT(rumor_wire_encode_bye(&done, p, sizeof p) == 0);
    for (uint32_t e = net->edge0[i]; e < net->edge0[i + 1]; e++)
        s_send(net, w, i, e, RUMOR_WIRE_BYE, p, sizeof p, t, 0, now);
}

void rumor_simnet_export(const rumor_simnet_t *net, uint64_t *w)
{
    for (uint32_t e = 0; e < net->edge0[net->n]; e++)
        rumor_link_export(&net->links[e], w + (size_t)e * RUMOR_LINK_WORDS);
}

int rumor_simnet_import(rumor_simnet_t *net, const uint64_t *w)
{
    for (uint32_t i = 0; i < net->n; i++)
        for (uint32_t e = net->edge0[i]; e < net->edge0[i + 1]; e++) {
            rumor_link_t *l = &net->links[e];
            if (rumor_link_import(l, w + (size_t)e * RUMOR_LINK_WORDS)) return RUMOR_EFORMAT;
            /* The mix leaves out what the links marked down (peer checkpoints do not say). */
            RUMOR_ASSERT(
                rumor_gossip_set_up(rumor_peer_gossip(net->peers[i]), l->cfg.id, !l->down) == 0);
        }
    return 0;
}
