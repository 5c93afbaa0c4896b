/* rumor — one networked peer (see node.h).
 *
 * Single-threaded event loop around one transport. Per round: one step (compute), one DIFF
 * frame per neighbour, then frames are received until the round may close. Buffers for
 * outgoing and incoming frames and for one early DIFF per neighbour are allocated at start.
 */
#include "rumor/clock.h"
#include "rumor/node.h"
#include "rumor/checkpoint.h"
#include "rumor/codec.h"
#include "rumor/file.h"
#include "rumor/keys.h"
#include "rumor/log.h"
#include "rumor/peer.h"
#include "rumor/transport.h"
#include "rumor/vec.h"
#include "rumor/wire.h"

#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* Why a frame that passed the wire checks was still dropped. */
enum {
    S_DROP_TRANSPORT = 0, /* oversized, multi-part or unauthenticated (transport level) */
    S_DROP_IMPOSTOR,      /* header sender differs from the authenticated sender */
    S_DROP_REPLAY,        /* DIFF with a sequence number already seen */
    S_DROP_ROUND,         /* DIFF for a round that can no longer be used */
    S_DROP_DECODE,        /* DIFF payload the codec or the gossip refused */
    S_DROP_NONFINITE,     /* DIFF with NaN or infinite values (a diverged or hostile sender) */
    S_DROP_UNSYNCED,      /* DIFF while a STATE is awaited, STATE before the HELLO */
    S_DROP_HELLO,         /* HELLO that is malformed or incompatible */
    S_DROP_STATE,         /* malformed STATE */
    S_DROP_BYE,           /* malformed BYE */
    S_DROP_COUNT
};

static const char *const s_drop_names[S_DROP_COUNT] = {
    "transport", "impostor", "replay",    "stale_round", "undecodable",
    "nonfinite", "unsynced", "bad_hello", "bad_state",   "bad_bye"};

typedef struct {
    uint32_t id;
    int hello;             /* a compatible HELLO was received */
    int hello_acked;       /* one of our HELLOs was queued after the connection came up */
    int refused;           /* its HELLO was incompatible */
    int nonfinite;         /* it sent a DIFF with non-finite values (its model diverged) */
    int bye;               /* it left the run: finished (left.code 0) or stopped by an error */
    rumor_wire_bye_t left; /* its BYE */
    int synced;            /* recv_seq is known (0 while a STATE is awaited) */
    int down;              /* marked down by the liveness timeout */
    uint64_t session;      /* its session id (from its HELLO) */
    uint64_t send_seq;     /* sequence number of our next DIFF to it */
    uint64_t recv_seq;     /* sequence number of its next DIFF */
    uint32_t round;        /* its latest known round */
    int64_t got;           /* last round whose DIFF from it was absorbed (-1: none) */
    double last_heard, last_sent, last_hello, last_resync;
    uint8_t *early; /* sync: one DIFF frame of the next round */
    size_t early_len;
    uint64_t bytes_sent, bytes_recv;
} s_nbr_t;

typedef struct {
    const rumor_node_opts_t *o;
    rumor_scenario_t sc;
    rumor_topology_t *topo;
    rumor_peer_data_t data;
    int data_loaded;
    rumor_peer_t *peer;
    rumor_keypair_t keys;
    void *zctx;
    rumor_transport_t *tr;
    uint32_t self, deg, d;
    s_nbr_t *nb;
    uint8_t *out; /* outgoing frame */
    uint8_t *in;  /* incoming frame */
    size_t frame_cap, max_payload;
    rumor_wire_hello_t hello;
    uint64_t session; /* random per process: tells a restarted neighbour from a repeated HELLO */
    uint8_t topo_hash[32];
    uint64_t wire_drops[RUMOR_WIRE_DROP_COUNT];
    uint64_t drops[S_DROP_COUNT];
    uint64_t resyncs, stale_rounds, late_applied, heartbeats;
    uint64_t downs;        /* times a neighbour was marked down by the liveness timeout */
    rumor_wire_bye_t stop; /* why this peer stops, when an error stops it (code < 0) */
    double t_start;
    double cpu_start, cpu_eval; /* process CPU when training began; CPU spent evaluating */
    int stepped;                /* this round's step is done: the own copy holds its DIFF */
    double t_train;             /* wall clock when training began ... */
    uint32_t round0;            /* ... at this round */
    uint32_t liveness_ms;
    double heartbeat_s; /* a neighbour we sent nothing to for this long gets a HEARTBEAT */
    char ckpt_path[RUMOR_PATH_MAX + 64];
    FILE *metrics;
} s_node_t;

static s_nbr_t *s_nbr(s_node_t *n, uint32_t id)
{
    const int slot = rumor_gossip_slot(rumor_peer_gossip(n->peer), id);
    return slot < 0 ? NULL : &n->nb[slot];
}

/* "node 3's model diverged in round 212", "node 5 stopped in round 40: timed out",
 * "node 2 was interrupted in round 300". */
static const char *s_explain_stop(const rumor_wire_bye_t *b, char *buf, size_t cap)
{
    if (b->code == RUMOR_EINTR)
        snprintf(buf, cap, "node %u was interrupted in round %u", b->origin, b->round);
    else if (b->code == RUMOR_ENONFINITE)
        snprintf(buf, cap, "node %u's model diverged in round %u", b->origin, b->round);
    else
        snprintf(buf, cap, "node %u stopped in round %u: %s", b->origin, b->round,
                 rumor_strerror(b->code));
    return buf;
}

/* Sends a frame of `type` to neighbour s; payload may already sit in n->out after the header.
 * Returns the transport's code. */
static int s_send(s_node_t *n, s_nbr_t *s, uint8_t type, uint32_t round, const uint8_t *payload,
                  size_t len, int timeout_ms)
{
    /* A HELLO carries the session id where other frames carry the edge's sequence number. */
    const rumor_wire_header_t h = {.type = type,
                                   .sender = n->self,
                                   .round = round,
                                   .seq = type == RUMOR_WIRE_HELLO ? n->session : s->send_seq,
                                   .len = (uint32_t)len};
    size_t flen;
    int rc = rumor_wire_encode_frame(&h, payload, len, n->out, n->frame_cap, &flen);
    RUMOR_ASSERT(rc == 0);
    rc = rumor_transport_send(n->tr, s->id, n->out, flen, timeout_ms);
    if (rc == 0) {
        s->bytes_sent += flen;
        s->last_sent = rumor_clock_now();
    }
    return rc;
}

static int s_send_hello(s_node_t *n, s_nbr_t *s)
{
    uint8_t p[RUMOR_WIRE_HELLO_BYTES];
    n->hello.resume_round = rumor_peer_round(n->peer);
    RUMOR_ASSERT(rumor_wire_encode_hello(&n->hello, p, sizeof p) == 0);
    s->last_hello = rumor_clock_now();
    const int rc = s_send(n, s, RUMOR_WIRE_HELLO, rumor_peer_round(n->peer), p, sizeof p, 50);
    if (rc == 0) s->hello_acked = 1;
    return rc;
}

/* Our public copy and the sequence number of our next DIFF: the neighbour installs the copy
 * and expects that number next. */
static int s_send_state(s_node_t *n, s_nbr_t *s)
{
    size_t len;
    uint8_t *payload = n->out + RUMOR_WIRE_HEADER_BYTES;
    const float *own = rumor_gossip_copy(rumor_peer_gossip(n->peer), n->self);
    /* The copy is valid at the start of the next round once this round's step has added its
     * message: the receiver must not wait for that DIFF too. */
    const uint32_t valid = rumor_peer_round(n->peer) + (uint32_t)n->stepped;
    RUMOR_ASSERT(rumor_wire_encode_state(valid, own, n->d, payload,
                                         n->frame_cap - RUMOR_WIRE_HEADER_BYTES, &len) == 0);
    return s_send(n, s, RUMOR_WIRE_STATE, rumor_peer_round(n->peer), payload, len, 1000);
}

static void s_absorb(s_node_t *n, s_nbr_t *s, const rumor_wire_header_t *h, const uint8_t *p)
{
    const int rc = rumor_peer_deliver(n->peer, s->id, p, h->len);
    if (rc == RUMOR_ENONFINITE) {
        s->nonfinite = 1;         /* synchronous rounds stop on it; deadline rounds go on without */
        s->recv_seq = h->seq + 1; /* used up: the next one is no gap to resync over */
        n->drops[S_DROP_NONFINITE]++;
        return;
    }
    if (rc != 0) {
        n->drops[S_DROP_DECODE]++;
        return;
    }
    s->recv_seq = h->seq + 1;
    if ((int64_t)h->round > s->got) s->got = h->round;
    if (h->round < rumor_peer_round(n->peer)) n->late_applied++;
}

static void s_on_diff(s_node_t *n, s_nbr_t *s, const rumor_wire_header_t *h, const uint8_t *p,
                      const uint8_t *frame, size_t flen)
{
    if (!s->synced) {
        n->drops[S_DROP_UNSYNCED]++;
        return;
    }
    if (h->seq < s->recv_seq) {
        n->drops[S_DROP_REPLAY]++;
        return;
    }
    if (h->seq > s->recv_seq) {
        /* Frames were lost: our copy of its public model is stale. Ask for it. */
        rumor_warn("node %u: DIFF from node %u has sequence %" PRIu64 ", expected %" PRIu64
                   "; requesting its state",
                   n->self, s->id, h->seq, s->recv_seq);
        s->synced = 0;
        n->resyncs++;
        s_send(n, s, RUMOR_WIRE_RESYNC, rumor_peer_round(n->peer), NULL, 0, 100);
        n->drops[S_DROP_UNSYNCED]++;
        return;
    }
    const uint32_t t = rumor_peer_round(n->peer);
    if (n->sc.deadline) {
        s_absorb(n, s, h, p);
        return;
    }
    /* Synchronous: absorb round t now, keep round t + 1 for later, nothing else is valid. */
    if (h->round == t && s->got < (int64_t)t) {
        s_absorb(n, s, h, p);
    } else if (h->round == t + 1 && !s->early_len) {
        memcpy(s->early, frame, flen);
        s->early_len = flen;
        s->recv_seq = h->seq + 1;
    } else {
        n->drops[S_DROP_ROUND]++;
    }
}

static void s_on_hello(s_node_t *n, s_nbr_t *s, const rumor_wire_header_t *h, const uint8_t *p)
{
    const uint32_t len = h->len;
    rumor_wire_hello_t theirs;
    if (rumor_wire_decode_hello(p, len, &theirs) != 0 || theirs.sender != s->id) {
        n->drops[S_DROP_HELLO]++;
        return;
    }
    const rumor_wire_hello_diff_t diff = rumor_wire_hello_compare(&theirs, &n->hello);
    if (diff != RUMOR_WIRE_HELLO_SAME) {
        char why[256];
        rumor_wire_hello_explain(diff, &theirs, &n->hello, why, sizeof why);
        if (!s->refused) rumor_error("node %u: refusing node %u: %s", n->self, s->id, why);
        s->refused = 1;
        n->drops[S_DROP_HELLO]++;
        return;
    }
    const int first = !s->hello, restart = s->hello && h->seq != s->session;
    s->hello = 1;
    s->session = h->seq;
    s->refused = 0;
    s->bye = 0;
    s->left = (rumor_wire_bye_t){0};
    s->round = theirs.resume_round;
    /* The other side repeats its HELLO until it has ours; repeats of a session we already
     * answered need nothing more. */
    if (first || restart) s->hello_acked = 0;
    if (!s->hello_acked) s_send_hello(n, s);
    if (restart || (first && (theirs.resume_round > 0 || rumor_peer_round(n->peer) > 0))) {
        /* A restart on either side: public copies and sequence numbers must be re-agreed
         * (both sides send STATE) before DIFFs count again. */
        s->synced = 0;
        s->early_len = 0;
        s_send_state(n, s);
    }
}

static void s_on_state(s_node_t *n, s_nbr_t *s, const rumor_wire_header_t *h, const uint8_t *p)
{
    /* Only the first STATE after the neighbour's HELLO counts. One before it may be followed
     * by that HELLO, which asks for another; and requests are repeated until an answer comes
     * (s_request_states), so answers to the repeats follow it. A later answer, sent after the
     * neighbour stepped on, would carry DIFFs of rounds this peer has not reached, which a
     * synchronous run would mix too early. */
    if (!s->hello) {
        n->drops[S_DROP_UNSYNCED]++;
        return;
    }
    if (s->synced) return;
    float *copy = rumor_gossip_copy_mut(rumor_peer_gossip(n->peer), s->id);
    uint32_t round;
    if (rumor_wire_decode_state(p, h->len, n->d, &round, copy) != 0) {
        n->drops[S_DROP_STATE]++;
        return;
    }
    /* The copy holds its DIFFs of the rounds before `round`; its own round came with the
     * header (s_pump). */
    s->recv_seq = h->seq;
    s->synced = 1;
    s->early_len = 0;
    if (s->got < (int64_t)round - 1) s->got = (int64_t)round - 1;
}

/* A neighbour that finished stays in the mix with its final public copy (dropping it would
 * change the last rounds of a synchronous run). One stopped by an error sends nothing more:
 * a synchronous peer stops too (s_wait_round), a deadline peer mixes without it until it
 * returns with a new HELLO. One interrupted by a signal is to be restarted: a synchronous
 * peer waits for it, a deadline peer mixes without it meanwhile, without waiting for its
 * liveness timeout. */
static void s_on_bye(s_node_t *n, s_nbr_t *s, const rumor_wire_header_t *h, const uint8_t *p)
{
    rumor_wire_bye_t b; /* finishing and being interrupted are only said of oneself */
    if (rumor_wire_decode_bye(p, h->len, n->topo->n, &b) != 0 ||
        ((b.code == 0 || b.code == RUMOR_EINTR) && b.origin != s->id)) {
        n->drops[S_DROP_BYE]++;
        return;
    }
    s->bye = 1;
    s->left = b;
    char why[160];
    s_explain_stop(&b, why, sizeof why);
    if (b.code == RUMOR_EINTR && !n->sc.deadline)
        rumor_info("node %u: %s; waiting for it to return", n->self, why);
    if (b.code == 0 || !n->sc.deadline || s->down) return;
    s->down = 1;
    n->downs++;
    RUMOR_ASSERT(rumor_gossip_set_up(rumor_peer_gossip(n->peer), s->id, 0) == 0);
    if (b.code == RUMOR_EINTR)
        rumor_warn("node %u: %s; mixing without it until it returns", n->self, why);
    else
        rumor_warn("node %u: node %u left the run (%s); mixing without it", n->self, s->id, why);
}

/* A neighbour whose STATE we await is asked again every half second: the first request or
 * answer may have been sent before its connection was up. */
static void s_request_states(s_node_t *n, double now)
{
    for (uint32_t k = 0; k < n->deg; k++) {
        s_nbr_t *s = &n->nb[k];
        if (s->hello && !s->synced && !s->bye && now - s->last_resync > 0.5) {
            s->last_resync = now;
            s_send(n, s, RUMOR_WIRE_RESYNC, rumor_peer_round(n->peer), NULL, 0, 0);
        }
    }
}

static int s_established(const s_nbr_t *s)
{
    return s->hello && s->hello_acked;
}

/* Established, and holding its public copy: a restarted peer takes no step before, so that
 * its neighbours cannot move on and answer its STATE requests from a later round. */
static int s_ready(const s_nbr_t *s)
{
    return s_established(s) && s->synced;
}

/* Keeps every established neighbour hearing from us while we send nothing else (waiting
 * for another neighbour, evaluating, checkpointing), so its liveness timeout only fires for
 * a peer that is really gone. */
static void s_heartbeats(s_node_t *n, double now)
{
    for (uint32_t k = 0; k < n->deg; k++) {
        s_nbr_t *s = &n->nb[k];
        if (!s_established(s) || s->bye || now - s->last_sent < n->heartbeat_s) continue;
        if (s_send(n, s, RUMOR_WIRE_HEARTBEAT, rumor_peer_round(n->peer), NULL, 0, 0) == 0)
            n->heartbeats++;
        else
            s->last_sent = now; /* not connected: try again one interval later */
    }
}

/* Receives and handles frames for up to timeout_ms; returns after the first frame: 1, or 0
 * when none came. */
static int s_pump(s_node_t *n, int timeout_ms)
{
    const double now = rumor_clock_now();
    s_request_states(n, now);
    s_heartbeats(n, now);
    /* Wake up in time for the next heartbeat. */
    const int beat_ms = (int)(n->heartbeat_s * 1000) + 1;
    if (timeout_ms > beat_ms) timeout_ms = beat_ms;
    uint32_t from;
    size_t len;
    const int rc = rumor_transport_recv(n->tr, timeout_ms, &from, n->in, n->frame_cap, &len);
    if (rc == RUMOR_ETIMEOUT || rc == RUMOR_EINTR) return 0;
    if (rc != 0) {
        n->drops[S_DROP_TRANSPORT]++;
        return 1;
    }
    rumor_wire_header_t h;
    const uint8_t *p;
    rumor_wire_drop_t why;
    if (rumor_wire_parse(n->in, len, n->topo->n, n->max_payload, &h, &p, &why) != 0) {
        n->wire_drops[why]++;
        return 1;
    }
    s_nbr_t *s = s_nbr(n, from);
    if (!s || h.sender != from) {
        n->drops[S_DROP_IMPOSTOR]++;
        return 1;
    }
    s->last_heard = rumor_clock_now();
    s->bytes_recv += len;
    if (s->down && h.type != RUMOR_WIRE_BYE) {
        s->down = 0;
        s->bye = 0; /* it had left with an error, and is talking again */
        s->left = (rumor_wire_bye_t){0};
        RUMOR_ASSERT(rumor_gossip_set_up(rumor_peer_gossip(n->peer), s->id, 1) == 0);
        rumor_info("node %u: node %u is back", n->self, s->id);
    }
    if (h.round > s->round) s->round = h.round;
    switch (h.type) {
    case RUMOR_WIRE_HELLO:
        s_on_hello(n, s, &h, p);
        break;
    case RUMOR_WIRE_DIFF:
        if (s->hello)
            s_on_diff(n, s, &h, p, n->in, len);
        else
            n->drops[S_DROP_UNSYNCED]++;
        break;
    case RUMOR_WIRE_STATE:
        s_on_state(n, s, &h, p);
        break;
    case RUMOR_WIRE_RESYNC:
        s_send_state(n, s);
        break;
    case RUMOR_WIRE_HEARTBEAT:
        break;
    case RUMOR_WIRE_BYE:
        s_on_bye(n, s, &h, p);
        break;
    }
    return 1;
}

/* Handles every frame that has already arrived, without waiting (bounded, so a flood cannot
 * hold the round). In deadline mode a round can close with nobody awaited (every neighbour
 * down), and a peer that was not running for a while (stopped, swapped out) finds its
 * neighbours' frames queued: both must be heard before anyone is judged silent. */
static void s_drain(s_node_t *n)
{
    for (uint32_t i = 0; i < 64 + 4 * n->deg && s_pump(n, 0); i++) {
    }
}

/* Waits until every neighbour has shaken hands (or, on a restart, is known to be gone). */
static int s_handshake(s_node_t *n, rumor_errmsg_t *em)
{
    const double t0 = rumor_clock_now();
    double last_note = t0;
    for (;;) {
        uint32_t missing = 0;
        for (uint32_t k = 0; k < n->deg; k++) {
            s_nbr_t *s = &n->nb[k];
            /* Repeat our HELLO until theirs is in and one of ours was queued. */
            if (!s_established(s) && rumor_clock_now() - s->last_hello > 0.25) s_send_hello(n, s);
            missing += !s_ready(s);
        }
        if (!missing) return 0;
        if (s_stop) return rumor_errmsg_set(em, RUMOR_EINTR, "interrupted while waiting");
        const double waited = rumor_clock_now() - t0;
        if (n->o->progress && rumor_clock_now() - last_note > 5.0) {
            char list[256] = "";
            size_t at = 0;
            for (uint32_t k = 0; k < n->deg && at < sizeof list - 16; k++)
                if (!s_ready(&n->nb[k]))
                    at += (size_t)snprintf(list + at, sizeof list - at, "%s%u%s", at ? ", " : "",
                                           n->nb[k].id, n->nb[k].refused ? " (refused)" : "");
            fprintf(n->o->progress, "node %u: waiting for neighbours %s (%.0f s)\n", n->self, list,
                    waited);
            last_note = rumor_clock_now();
        }
        if (waited > n->o->wait_s)
            return rumor_errmsg_set(em, RUMOR_ETIMEOUT,
                                    "node %u: %u neighbour(s) did not shake hands within %u s",
                                    n->self, missing, n->o->wait_s);
        s_pump(n, 50);
    }
}

/* Sends this round's DIFF (in n->out after the header) to every neighbour. */
static void s_send_diffs(s_node_t *n, const uint8_t *msg, size_t len)
{
    const uint32_t t = rumor_peer_round(n->peer);
    uint8_t *payload = n->out + RUMOR_WIRE_HEADER_BYTES;
    memcpy(payload, msg, len);
    for (uint32_t k = 0; k < n->deg; k++) {
        s_nbr_t *s = &n->nb[k];
        if (s->bye) continue;
        const double t0 = rumor_clock_now();
        /* A neighbour that is down gets no waiting at all in deadline mode. */
        const int timeout = !n->sc.deadline ? 100 : s->down ? 0 : 20;
        for (;;) {
            const int rc = s_send(n, s, RUMOR_WIRE_DIFF, t, payload, len, timeout);
            if (rc == 0) break;
            /* Sync mode must deliver; deadline mode moves on (the gap triggers a resync). */
            if (n->sc.deadline || s_stop || s->bye || rumor_clock_now() - t0 > n->o->wait_s) break;
            /* Keep draining our own queue so neighbours blocked on us can progress. */
            s_pump(n, 0);
        }
        s->send_seq++;
    }
}

/* 1 when round t may close: every live neighbour's DIFF of round t is in. */
static int s_round_complete(const s_node_t *n, uint32_t t)
{
    for (uint32_t k = 0; k < n->deg; k++) {
        const s_nbr_t *s = &n->nb[k];
        /* One stopped by an error or a signal stays awaited in synchronous mode, so that the
         * wait sees it (in deadline mode it is down). */
        if ((s->bye && !s->left.code) || s->down || s->refused) continue;
        /* A neighbour more than a round ahead (it resumed from a later checkpoint) will
         * never send round t; we catch up to it after this round. */
        if (s->round > t + 1) continue;
        if (s->got < (int64_t)t) return 0;
    }
    return 1;
}

static void s_mark_down(s_node_t *n)
{
    const double now = rumor_clock_now();
    for (uint32_t k = 0; k < n->deg; k++) {
        s_nbr_t *s = &n->nb[k];
        if (!s->down && !s->bye && now - s->last_heard > n->liveness_ms / 1000.0) {
            s->down = 1;
            n->downs++;
            RUMOR_ASSERT(rumor_gossip_set_up(rumor_peer_gossip(n->peer), s->id, 0) == 0);
            rumor_warn("node %u: node %u silent for %.1f s; mixing without it", n->self, s->id,
                       now - s->last_heard);
        }
    }
}

/* Receives until round t can close (sync: all DIFFs; deadline: all or the deadline). */
static int s_wait_round(s_node_t *n, uint32_t t, rumor_errmsg_t *em)
{
    const double t0 = rumor_clock_now();
    double last_note = t0;
    if (!n->sc.deadline) {
        /* DIFFs of this round that arrived during the previous one. */
        for (uint32_t k = 0; k < n->deg; k++) {
            s_nbr_t *s = &n->nb[k];
            if (!s->early_len) continue;
            rumor_wire_header_t h;
            const uint8_t *p;
            if (rumor_wire_parse(s->early, s->early_len, n->topo->n, n->max_payload, &h, &p,
                                 NULL) == 0 &&
                h.round == t)
                s_absorb(n, s, &h, p);
            s->early_len = 0;
        }
    }
    if (n->sc.deadline) s_drain(n);
    while (!s_round_complete(n, t)) {
        const double now = rumor_clock_now(), waited = now - t0;
        if (s_stop) return RUMOR_EINTR;
        if (n->sc.deadline) {
            const double left = n->sc.deadline_ms / 1000.0 - waited;
            if (left <= 0) {
                s_drain(n);
                if (s_round_complete(n, t)) break;
                n->stale_rounds++;
                s_mark_down(n);
                return 0;
            }
            s_pump(n, (int)(left * 1000) + 1);
            continue;
        }
        for (uint32_t k = 0; k < n->deg; k++) {
            const s_nbr_t *s = &n->nb[k];
            if (s->nonfinite && s->got < (int64_t)t) { /* its round-t DIFF will never count */
                n->stop = (rumor_wire_bye_t){.origin = s->id, .round = t, .code = RUMOR_ENONFINITE};
                return rumor_errmsg_set(em, RUMOR_ENONFINITE,
                                        "node %u: round %u: node %u's model diverged (it sent "
                                        "non-finite values); stopping, as rumor sim does",
                                        n->self, t, s->id);
            }
            if (s->bye && s->left.code && s->left.code != RUMOR_EINTR) { /* nor the next */
                char why[160];
                n->stop = s->left;
                return rumor_errmsg_set(em, s->left.code,
                                        "node %u: round %u: node %u left the run (%s); a "
                                        "synchronous run cannot go on without it",
                                        n->self, t, s->id,
                                        s_explain_stop(&s->left, why, sizeof why));
            }
        }
        if (waited > n->o->wait_s)
            return rumor_errmsg_set(em, RUMOR_ETIMEOUT,
                                    "node %u: round %u: a neighbour sent nothing for %u s", n->self,
                                    t, n->o->wait_s);
        if (n->o->progress && now - last_note > 10.0) {
            for (uint32_t k = 0; k < n->deg; k++) {
                const s_nbr_t *s = &n->nb[k];
                const int paused = s->bye && s->left.code == RUMOR_EINTR;
                if (s->got >= (int64_t)t || (s->bye && !paused)) continue;
                const double quiet = now - s->last_heard;
                fprintf(n->o->progress,
                        "node %u: round %u: waiting for node %u (%.0f s; %s %.1f s ago)\n", n->self,
                        t, s->id, waited,
                        paused                          ? "interrupted, to be restarted; last heard"
                        : quiet * 1000 < n->liveness_ms ? "alive, last heard"
                                                        : "silent since",
                        quiet);
            }
            last_note = now;
        }
        s_pump(n, 200);
    }
    return 0;
}

static void s_write_metrics(s_node_t *n, double loss, double test_loss, double acc)
{
    rumor_peer_t *p = n->peer;
    const rumor_peer_stats_t *st = rumor_peer_stats(p);
    const uint32_t r = rumor_peer_round(p);
    const double density = (double)rumor_vec_count_nonzero(rumor_peer_params(p), n->d) / n->d;
    const double wall = rumor_clock_now() - n->t_start, train = rumor_clock_now() - n->t_train;
    const double rate = train > 0 ? (r - n->round0) / train : 0.0; /* since training began */
    char eta[32];
    rumor_clock_eta(rate, n->sc.rounds - r, eta, sizeof eta);
    if (n->o->progress)
        fprintf(n->o->progress,
                "node %u: round %6u/%u  loss %.4f  acc %.4f  density %.3f  sent %.2f MB  "
                "drops %" PRIu64 "  %.1f rounds/s%s%s\n",
                n->self, r, n->sc.rounds, loss, acc, density, st->bytes_sent / 1e6,
                n->drops[S_DROP_IMPOSTOR] + n->drops[S_DROP_REPLAY] + n->drops[S_DROP_DECODE], rate,
                eta[0] ? "  " : "", eta);
    if (!n->metrics) return;
    FILE *f = n->metrics;
    uint64_t recv = 0;
    for (uint32_t k = 0; k < n->deg; k++) recv += n->nb[k].bytes_recv;
    fprintf(f,
            "{\"peer\": %u, \"round\": %u, \"loss\": %.6f, \"test_loss\": %.6f, \"acc\": %.6f, "
            "\"density\": %.6f, \"bytes_sent\": %" PRIu64 ", \"bytes_recv\": %" PRIu64
            ", \"entropy_bound_bytes\": %.1f, \"bits_per_param\": %.6f, \"resyncs\": %" PRIu64
            ", \"stale_rounds\": %" PRIu64 ", \"late_applied\": %" PRIu64
            ", \"heartbeats_sent\": %" PRIu64 ", \"neighbours_down\": %" PRIu64 ", \"dropped\": {",
            n->self, r, loss, test_loss, acc, density, st->bytes_sent, recv, st->entropy_bits / 8.0,
            r ? 8.0 * st->bytes_sent / ((double)r * n->d) : 0.0, n->resyncs, n->stale_rounds,
            n->late_applied, n->heartbeats, n->downs);
    int first = 1;
    for (int k = 1; k < RUMOR_WIRE_DROP_COUNT; k++) {
        fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ",
                rumor_wire_drop_name((rumor_wire_drop_t)k), n->wire_drops[k]);
        first = 0;
    }
    for (int k = 0; k < S_DROP_COUNT; k++)
        fprintf(f, ", \"%s\": %" PRIu64, s_drop_names[k], n->drops[k]);
    fprintf(f, "}, \"edges\": {");
    for (uint32_t k = 0; k < n->deg; k++)
        fprintf(f, "%s\"%u\": {\"sent\": %" PRIu64 ", \"recv\": %" PRIu64 "}", k ? ", " : "",
                n->nb[k].id, n->nb[k].bytes_sent, n->nb[k].bytes_recv);
    /* CPU of every thread since training began that was neither the peer's compute, its
     * codec nor evaluation: frame handling, polling, checkpoints, ZeroMQ's I/O and ZAP
     * threads. */
    const double cpu_other =
        rumor_clock_process_cpu() - n->cpu_start - st->cpu_compute - st->cpu_codec - n->cpu_eval;
    fprintf(f,
            "}, \"time_compute_s\": %.3f, \"time_codec_s\": %.3f, \"time_comm_s\": %.3f, "
            "\"cpu_compute_s\": %.3f, \"cpu_codec_s\": %.3f, \"cpu_other_s\": %.3f, "
            "\"cpu_eval_s\": %.3f, \"wall_s\": %.3f}\n",
            st->t_compute, st->t_codec, st->t_wait, st->cpu_compute, st->cpu_codec, cpu_other,
            n->cpu_eval, wall);
    fflush(f);
}

static int s_checkpoint(s_node_t *n, rumor_errmsg_t *em)
{
    if (!n->o->checkpoint_dir) return 0;
    return rumor_checkpoint_save(n->ckpt_path, n->peer, n->topo_hash, em);
}

static int s_write_model(const s_node_t *n, rumor_errmsg_t *em)
{
    const rumor_file_piece_t piece = {rumor_peer_params(n->peer), n->d * sizeof(float)};
    return rumor_file_save(n->o->model_out, 0644, 0, &piece, 1, em);
}

static int s_setup(s_node_t *n, rumor_errmsg_t *em)
{
    const rumor_node_opts_t *o = n->o;
    int rc = rumor_scenario_load(o->config, &n->sc, em);
    if (rc) return rc;
    if (n->sc.n_faults)
        return rumor_errmsg_set(em, RUMOR_EINVAL,
                                "%s: faults: only rumor sim injects them; to test real peers, "
                                "stop and restart them (see docs/cluster.md)",
                                o->config);
    if (o->rounds) {
        n->sc.rounds = o->rounds;
        rumor_scenario_rehash(&n->sc);
    }
    rc = o->topology ? rumor_topology_load(o->topology, &n->topo, em)
                     : rumor_scenario_topology(&n->sc, &n->topo, em);
    if (rc) return rc;
    if (o->id >= n->topo->n)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "--id %u: the topology has nodes 0..%u", o->id,
                                n->topo->n - 1);
    n->self = o->id;
    const rumor_node_t *me = &n->topo->nodes[n->self];
    if (!me->endpoint[0])
        return rumor_errmsg_set(em, RUMOR_EINVAL, "topology: nodes[%u] has no endpoint", n->self);
    if (!o->insecure) {
        if (!o->key)
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "a secret key file is required (--key FILE, made by `rumor "
                                    "keygen`), or --insecure on loopback/ipc");
        if ((rc = rumor_keys_load(o->key, &n->keys, em))) return rc;
        if (me->public_key[0] && strcmp(me->public_key, n->keys.public_key))
            return rumor_errmsg_set(em, RUMOR_EAUTH,
                                    "%s: public key %s is not node %u's key in the topology (%s)",
                                    o->key, n->keys.public_key, n->self, me->public_key);
    }
    rumor_topology_hash(n->topo, n->topo_hash);
    if ((rc = rumor_peer_data_load(&n->sc, n->topo->n, n->self, &n->data, em))) return rc;
    n->data_loaded = 1;
    const rumor_peer_cfg_t pc =
        rumor_peer_data_cfg(&n->data, &n->sc, n->topo, n->self, RUMOR_PEER_EVAL_ROWS);
    if (!(n->peer = rumor_peer_new(&pc, em))) return RUMOR_EINVAL;
    if (rumor_peer_set_byzantine(n->peer, &o->byzantine))
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "node %u: out of memory", o->id);
    const size_t d = rumor_peer_dim(n->peer);
    if (d > UINT32_MAX || !rumor_wire_payload_bound((uint32_t)d, rumor_codec_bound((uint32_t)d)))
        return rumor_errmsg_set(em, RUMOR_ERANGE,
                                "node %u: the model's %zu parameters make frames larger than the "
                                "wire carries (4 GiB)",
                                n->self, d);
    n->d = (uint32_t)d;
    n->deg = rumor_topology_degree(n->topo, n->self);
    n->max_payload = rumor_wire_payload_bound(n->d, rumor_codec_bound(n->d));
    n->frame_cap = rumor_wire_frame_bytes(n->max_payload);
    n->out = malloc(n->frame_cap);
    n->in = malloc(n->frame_cap);
    n->nb = calloc(n->deg ? n->deg : 1, sizeof *n->nb);
    if (!n->out || !n->in || !n->nb) return rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory");
    const uint32_t *ids = rumor_topology_neighbors(n->topo, n->self);
    const double now = rumor_clock_now();
    for (uint32_t k = 0; k < n->deg; k++) {
        n->nb[k] = (s_nbr_t){.id = ids[k], .synced = 1, .got = -1, .last_heard = now};
        if (!n->sc.deadline && !(n->nb[k].early = malloc(n->frame_cap)))
            return rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory");
    }

    if (o->checkpoint_dir) {
        if (rumor_checkpoint_path(n->ckpt_path, sizeof n->ckpt_path, o->checkpoint_dir, n->self))
            return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", o->checkpoint_dir);
        if ((rc = rumor_file_mkdir(o->checkpoint_dir, 0755, em))) return rc;
        struct stat st;
        if (stat(n->ckpt_path, &st) == 0) {
            if ((rc = rumor_checkpoint_load(n->ckpt_path, n->peer, n->topo_hash, em))) return rc;
            rumor_info("node %u: resuming from %s at round %u", n->self, n->ckpt_path,
                       rumor_peer_round(n->peer));
            /* Incoming sequence numbers are unknown until each neighbour sends its state. */
            for (uint32_t k = 0; k < n->deg; k++) n->nb[k].synced = 0;
        }
    }

    randombytes_buf(&n->session, sizeof n->session);
    n->hello = (rumor_wire_hello_t){.version = RUMOR_WIRE_PROTOCOL, .sender = n->self, .dim = n->d};
    memcpy(n->hello.topology_hash, n->topo_hash, 32);
    memcpy(n->hello.config_hash, n->sc.hash, 32);

    rumor_transport_nbr_t *tn = calloc(n->deg ? n->deg : 1, sizeof *tn);
    if (!tn) return rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory");
    for (uint32_t k = 0; k < n->deg; k++) {
        const rumor_node_t *nd = &n->topo->nodes[ids[k]];
        tn[k] = (rumor_transport_nbr_t){
            .id = ids[k], .endpoint = nd->endpoint, .public_key = nd->public_key};
        if (!o->insecure && !nd->public_key[0]) {
            free(tn);
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "topology: nodes[%u].public_key is missing (secure mode needs "
                                    "every neighbour's key; see scripts/keygen-topology)",
                                    ids[k]);
        }
    }
    const rumor_transport_cfg_t tc = {
        .self = n->self,
        .endpoint = me->endpoint,
        .nbrs = tn,
        .n_nbrs = n->deg,
        .keys = o->insecure ? NULL : &n->keys,
        .insecure = o->insecure,
        .max_frame = n->frame_cap,
        /* Sync rounds keep at most two DIFFs per edge in flight; room for resync traffic. */
        .sndhwm = 64,
        .rcvhwm = 4096,
    };
    n->zctx = zmq_ctx_new();
    if (!n->zctx) {
        free(tn);
        return rumor_errmsg_set(em, RUMOR_EIO, "cannot create a ZeroMQ context");
    }
    n->tr = rumor_transport_new(n->zctx, &tc, em);
    free(tn);
    if (!n->tr) return RUMOR_EIO;
    if (o->metrics && !(n->metrics = fopen(o->metrics, rumor_peer_round(n->peer) ? "a" : "w")))
        return rumor_errmsg_set(em, RUMOR_EIO, "%s: cannot create the metrics file: %s", o->metrics,
                                strerror(errno));
    n->liveness_ms = o->liveness_ms ? o->liveness_ms
                                    : (3 * n->sc.deadline_ms > 1000 ? 3 * n->sc.deadline_ms : 1000);
    n->heartbeat_s = n->liveness_ms / 4000.0;
    char why[512];
    if (rumor_peer_caution(n->peer, why, sizeof why)) rumor_warn("node %u: %s", n->self, why);
    if (o->progress) {
        char desc[384];
        rumor_peer_describe(n->peer, desc, sizeof desc);
        fprintf(o->progress, "node %u of %s (%s, %u neighbours): %s; %u training samples; %s%s\n",
                n->self, n->sc.name, n->topo->name, n->deg, desc, n->data.train.n, me->endpoint,
                o->insecure ? ", plaintext" : ", CurveZMQ");
    }
    return 0;
}

static void s_teardown(s_node_t *n)
{
    rumor_transport_destroy(&n->tr);
    if (n->zctx) zmq_ctx_term(n->zctx);
    if (n->metrics) fclose(n->metrics);
    if (n->nb)
        for (uint32_t k = 0; k < n->deg; k++) free(n->nb[k].early);
    free(n->nb);
    free(n->out);
    free(n->in);
    rumor_peer_destroy(&n->peer);
    if (n->data_loaded) rumor_peer_data_free(&n->data);
    rumor_topology_destroy(&n->topo);
    rumor_keys_wipe(&n->keys);
}

/* Tells every neighbour that this peer leaves the run, and why. */
static void s_say_bye(s_node_t *n, const rumor_wire_bye_t *b)
{
    uint8_t p[RUMOR_WIRE_BYE_BYTES];
    RUMOR_ASSERT(rumor_wire_encode_bye(b, p, sizeof p) == 0);
    for (uint32_t k = 0; k < n->deg; k++) /* also to those that said they left: they may not have */
        s_send(n, &n->nb[k], RUMOR_WIRE_BYE, rumor_peer_round(n->peer), p, sizeof p, 100);
}

/* After the last round: say BYE and answer resync requests until neighbours are done. */
static void s_linger(s_node_t *n)
{
    const rumor_wire_bye_t done = {.origin = n->self, .round = rumor_peer_round(n->peer)};
    s_say_bye(n, &done);
    const double t0 = rumor_clock_now();
    for (;;) {
        int open = 0;
        for (uint32_t k = 0; k < n->deg; k++) open += !n->nb[k].bye && !n->nb[k].down;
        if (!open || rumor_clock_now() - t0 > 3.0 || s_stop) break;
        s_pump(n, 100);
    }
}

/* A peer behind its neighbours (restarted from an older checkpoint than theirs) joins their
 * round rather than replaying; in a synchronous run this ends bit-exactness. (Peers restarted
 * from checkpoints of one round, or one restarted where its neighbours wait, stay exact.) */
static void s_catch_up(s_node_t *n)
{
    uint32_t r = rumor_peer_round(n->peer);
    for (uint32_t k = 0; k < n->deg; k++)
        if (n->nb[k].round > r) r = n->nb[k].round;
    if (r > rumor_peer_round(n->peer)) {
        rumor_info("node %u: catching up from round %u to the neighbours' round %u", n->self,
                   rumor_peer_round(n->peer), r);
        rumor_peer_set_round(n->peer, r);
    }
}

static int s_run(s_node_t *n, rumor_errmsg_t *em)
{
    int rc = s_handshake(n, em);
    if (rc) return rc;
    s_catch_up(n);
    n->cpu_start = rumor_clock_process_cpu();
    n->t_train = rumor_clock_now();
    n->round0 = rumor_peer_round(n->peer);
    if (n->o->progress)
        fprintf(n->o->progress, "node %u: %u neighbours connected, %s mode, starting at round %u\n",
                n->self, n->deg, n->sc.deadline ? "deadline" : "synchronous",
                rumor_peer_round(n->peer));
    const rumor_dataset_t *test = &n->data.test;
    rumor_peer_stats_t *st = rumor_peer_stats(n->peer);
    while (rumor_peer_round(n->peer) < n->sc.rounds) {
        const uint32_t t = rumor_peer_round(n->peer);
        const uint8_t *msg;
        size_t len;
        const int step_rc = rumor_peer_step(n->peer, &msg, &len);
        n->stepped = 1;
        if (step_rc != 0) {
            n->stop = (rumor_wire_bye_t){.origin = n->self, .round = t, .code = RUMOR_ENONFINITE};
            return rumor_errmsg_set(em, RUMOR_ENONFINITE,
                                    "node %u: round %u: the model diverged: its SGD step left "
                                    "non-finite parameters " RUMOR_PEER_DIVERGED_HINT,
                                    n->self, t);
        }
        const double t0 = rumor_clock_now();
        s_send_diffs(n, msg, len);
        rc = s_wait_round(n, t, em);
        st->t_wait += rumor_clock_now() - t0;
        if (rc == RUMOR_EINTR) {
            /* Give the round a moment to complete so the checkpoint lands on a boundary. */
            const double g0 = rumor_clock_now();
            while (!s_round_complete(n, t) && rumor_clock_now() - g0 < 3.0) s_pump(n, 100);
            if (!s_round_complete(n, t)) {
                rumor_warn("node %u: interrupted inside round %u; the last checkpoint stands",
                           n->self, t);
                return rumor_errmsg_set(em, RUMOR_EINTR, "interrupted in round %u", t);
            }
            rc = 0;
        }
        if (rc) return rc;
        rumor_peer_finish(n->peer);
        n->stepped = 0;
        /* Sync: neighbours are never ahead of a finished round unless they resumed from a
         * later checkpoint. Deadline mode is allowed to drift; it catches up only at the
         * handshake. */
        if (!n->sc.deadline) s_catch_up(n);
        const uint32_t done = t + 1;
        if (done % n->sc.eval_every == 0 || done == n->sc.rounds || s_stop) {
            const double loss = rumor_peer_take_loss(n->peer);
            double tl, acc;
            const double c0 = rumor_clock_thread_cpu();
            rumor_peer_evaluate(n->peer, test, n->sc.eval_samples, &tl, &acc);
            n->cpu_eval += rumor_clock_thread_cpu() - c0;
            s_write_metrics(n, loss, tl, acc);
        }
        if ((n->o->checkpoint_every && done % n->o->checkpoint_every == 0) || s_stop) {
            if ((rc = s_checkpoint(n, em))) return rc;
        }
        if (s_stop) return rumor_errmsg_set(em, RUMOR_EINTR, "interrupted after round %u", done);
    }
    if ((rc = s_checkpoint(n, em))) return rc;
    s_linger(n);
    return 0;
}

int rumor_node_run(const rumor_node_opts_t *o, rumor_errmsg_t *em)
{
    s_node_t n = {.o = o};
    rumor_node_opts_t defaults = *o;
    if (!defaults.wait_s) defaults.wait_s = 300;
    n.o = &defaults;
    openblas_set_num_threads(1);
    s_stop = 0;
    struct sigaction sa = {.sa_handler = s_on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    n.t_start = rumor_clock_now();
    int rc = s_setup(&n, em);
    if (!rc) {
        rc = s_run(&n, em);
        /* Stopped by an error or a signal: say why, so that neighbours need not wait for
         * a peer that is gone (an interrupted one is meant to be restarted). */
        if (rc) {
            if (!n.stop.code || rc == RUMOR_EINTR)
                n.stop = (rumor_wire_bye_t){
                    .origin = n.self, .round = rumor_peer_round(n.peer), .code = rc};
            s_say_bye(&n, &n.stop);
        }
    }
    if (rc == 0 && o->model_out) {
        const int mrc = s_write_model(&n, em);
        if (mrc) rc = mrc;
    }
    s_teardown(&n);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}
