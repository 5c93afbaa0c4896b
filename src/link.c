/* rumor — one neighbour session as a pure state machine (see link.h).
 *
 * Called for every frame and every wake-up of the carrier's loop, with a few neighbours per
 * peer: cheap, no allocation, no clock, no socket. Actions are appended to the caller's list,
 * which never holds more than RUMOR_LINK_MAX_ACTIONS (no event asks for more).
 */
#include "rumor/link.h"
#include "rumor/log.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_drop_names[RUMOR_LINK_DROP_COUNT] = {
    "replay",   "stale_round", "undecodable", "nonfinite",
    "unsynced", "bad_hello",   "bad_state",   "bad_bye"};

const char *rumor_link_drop_name(rumor_link_drop_t why)
{
    return why < RUMOR_LINK_DROP_COUNT ? s_drop_names[why] : "unknown";
}

static rumor_link_action_t *s_push(rumor_link_actions_t *out, rumor_link_act_t act)
{
    RUMOR_ASSERT(out->n < RUMOR_LINK_MAX_ACTIONS);
    rumor_link_action_t *a = &out->act[out->n++];
    *a = (rumor_link_action_t){.act = act};
    return a;
}

static void s_send(rumor_link_actions_t *out, uint8_t type)
{
    s_push(out, RUMOR_LINK_SEND)->frame = type;
}

static void s_deliver(rumor_link_actions_t *out, rumor_link_act_t act, const rumor_wire_header_t *h,
                      const uint8_t *payload)
{
    rumor_link_action_t *a = s_push(out, act);
    a->h = *h;
    a->payload = payload;
}

int rumor_link_init(rumor_link_t *l, const rumor_link_cfg_t *cfg)
{
    /* Nothing sent yet: a HELLO, a RESYNC or a HEARTBEAT is due at once. */
    *l = (rumor_link_t){.cfg = *cfg,
                        .synced = !cfg->resumed,
                        .got = -1,
                        .last_heard = cfg->now,
                        .last_sent = -HUGE_VAL,
                        .last_hello = -HUGE_VAL,
                        .last_resync = -HUGE_VAL};
    if (!cfg->deadline && !(l->early = malloc(cfg->frame_cap ? cfg->frame_cap : 1)))
        return RUMOR_ENOMEM;
    return 0;
}

void rumor_link_free(rumor_link_t *l)
{
    free(l->early);
    l->early = NULL;
}

rumor_wire_header_t rumor_link_header(const rumor_link_t *l, uint8_t type, uint32_t round,
                                      size_t len)
{
    /* A HELLO carries the session id where other frames carry the edge's sequence number. */
    return (rumor_wire_header_t){.type = type,
                                 .sender = l->cfg.self,
                                 .round = round,
                                 .seq = type == RUMOR_WIRE_HELLO ? l->cfg.session : l->send_seq,
                                 .len = (uint32_t)len};
}

int rumor_link_established(const rumor_link_t *l)
{
    return l->hello && l->hello_acked;
}

/* Established, and holding its public copy: a restarted peer takes no step before, so that
 * its neighbours cannot move on and answer its STATE requests from a later round. */
int rumor_link_ready(const rumor_link_t *l)
{
    return rumor_link_established(l) && l->synced;
}

int rumor_link_awaited(const rumor_link_t *l, uint32_t round)
{
    /* One stopped by an error or a signal stays awaited in synchronous mode, so that the
     * wait sees it (in deadline mode it is down). */
    if ((l->bye && !l->left.code) || l->down || l->refused) return 0;
    /* A neighbour more than a round ahead (it resumed from a later checkpoint) will never
     * send this round; the peer catches up to it after the round. */
    if (l->round > round + 1) return 0;
    return l->got < (int64_t)round;
}

const char *rumor_link_explain_bye(const rumor_wire_bye_t *b, char *buf, size_t cap)
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

static void s_on_diff(rumor_link_t *l, const rumor_wire_header_t *h, const uint8_t *p, uint32_t t,
                      rumor_link_actions_t *out)
{
    if (!l->synced) {
        l->drops[RUMOR_LINK_DROP_UNSYNCED]++;
        return;
    }
    if (h->seq < l->recv_seq) {
        l->drops[RUMOR_LINK_DROP_REPLAY]++;
        return;
    }
    if (h->seq > l->recv_seq) {
        /* Frames were lost: our copy of its public model is stale. Ask for it. */
        rumor_warn("node %u: DIFF from node %u has sequence %" PRIu64 ", expected %" PRIu64
                   "; requesting its state",
                   l->cfg.self, l->cfg.id, h->seq, l->recv_seq);
        l->synced = 0;
        l->resyncs++;
        s_send(out, RUMOR_WIRE_RESYNC);
        l->drops[RUMOR_LINK_DROP_UNSYNCED]++;
        return;
    }
    if (l->cfg.deadline) {
        s_deliver(out, RUMOR_LINK_DELIVER, h, p);
        return;
    }
    /* Synchronous: absorb round t now, keep round t + 1 for later, nothing else is valid. */
    if (h->round == t && l->got < (int64_t)t) {
        s_deliver(out, RUMOR_LINK_DELIVER, h, p);
    } else if (h->round == t + 1 && !l->has_early) {
        if (h->len) memcpy(l->early, p, h->len);
        l->early_h = *h;
        l->has_early = 1;
        l->recv_seq = h->seq + 1;
    } else {
        l->drops[RUMOR_LINK_DROP_ROUND]++;
    }
}

static void s_on_hello(rumor_link_t *l, const rumor_wire_header_t *h, const uint8_t *p, uint32_t t,
                       rumor_link_actions_t *out)
{
    rumor_wire_hello_t theirs;
    if (rumor_wire_decode_hello(p, h->len, &theirs) != 0 || theirs.sender != l->cfg.id) {
        l->drops[RUMOR_LINK_DROP_HELLO]++;
        return;
    }
    const rumor_wire_hello_diff_t diff = rumor_wire_hello_compare(&theirs, l->cfg.hello);
    if (diff != RUMOR_WIRE_HELLO_SAME) {
        char why[256];
        rumor_wire_hello_explain(diff, &theirs, l->cfg.hello, why, sizeof why);
        if (!l->refused) rumor_error("node %u: refusing node %u: %s", l->cfg.self, l->cfg.id, why);
        l->refused = 1;
        l->drops[RUMOR_LINK_DROP_HELLO]++;
        return;
    }
    const int first = !l->hello, restart = l->hello && h->seq != l->session;
    l->hello = 1;
    l->session = h->seq;
    l->refused = 0;
    l->bye = 0;
    l->left = (rumor_wire_bye_t){0};
    l->round = theirs.resume_round;
    /* The other side repeats its HELLO until it has ours; repeats of a session we already
     * answered need nothing more. */
    if (first || restart) l->hello_acked = 0;
    if (!l->hello_acked) s_send(out, RUMOR_WIRE_HELLO);
    if (restart || (first && (theirs.resume_round > 0 || t > 0))) {
        /* A restart on either side: public copies and sequence numbers must be re-agreed
         * (both sides send STATE) before DIFFs count again. */
        l->synced = 0;
        l->has_early = 0;
        s_send(out, RUMOR_WIRE_STATE);
    }
}

static void s_on_state(rumor_link_t *l, const rumor_wire_header_t *h, const uint8_t *p,
                       rumor_link_actions_t *out)
{
    /* Only the first STATE after the neighbour's HELLO counts. One before it may be followed
     * by that HELLO, which asks for another; and requests are repeated until an answer comes
     * (rumor_link_tick), so answers to the repeats follow it. A later answer, sent after the
     * neighbour stepped on, would carry DIFFs of rounds this peer has not reached, which a
     * synchronous run would mix too early. */
    if (!l->hello) {
        l->drops[RUMOR_LINK_DROP_UNSYNCED]++;
        return;
    }
    if (l->synced) return;
    s_deliver(out, RUMOR_LINK_INSTALL, h, p);
}

/* A neighbour that finished stays in the mix with its final public copy (dropping it would
 * change the last rounds of a synchronous run). One stopped by an error sends nothing more:
 * a synchronous peer stops too (rumor_link_tick), a deadline peer mixes without it until it
 * returns with a new HELLO. One interrupted by a signal is to be restarted: a synchronous
 * peer waits for it, a deadline peer mixes without it meanwhile, without waiting for its
 * liveness timeout. */
static void s_on_bye(rumor_link_t *l, const rumor_wire_header_t *h, const uint8_t *p,
                     rumor_link_actions_t *out)
{
    rumor_wire_bye_t b; /* finishing and being interrupted are only said of oneself */
    if (rumor_wire_decode_bye(p, h->len, l->cfg.n, &b) != 0 ||
        ((b.code == 0 || b.code == RUMOR_EINTR) && b.origin != l->cfg.id)) {
        l->drops[RUMOR_LINK_DROP_BYE]++;
        return;
    }
    l->bye = 1;
    l->left = b;
    char why[160];
    rumor_link_explain_bye(&b, why, sizeof why);
    if (b.code == RUMOR_EINTR && !l->cfg.deadline)
        rumor_info("node %u: %s; waiting for it to return", l->cfg.self, why);
    if (b.code == 0 || !l->cfg.deadline || l->down) return;
    l->down = 1;
    l->downs++;
    s_push(out, RUMOR_LINK_DOWN);
    if (b.code == RUMOR_EINTR)
        rumor_warn("node %u: %s; mixing without it until it returns", l->cfg.self, why);
    else
        rumor_warn("node %u: node %u left the run (%s); mixing without it", l->cfg.self, l->cfg.id,
                   why);
}

void rumor_link_on_frame(rumor_link_t *l, const rumor_wire_header_t *h, const uint8_t *payload,
                         uint32_t round, double now, rumor_link_actions_t *out)
{
    out->n = 0;
    l->last_heard = now;
    l->bytes_recv += rumor_wire_frame_bytes(h->len);
    if (l->down && h->type != RUMOR_WIRE_BYE) {
        l->down = 0;
        l->bye = 0; /* it had left with an error, and is talking again */
        l->left = (rumor_wire_bye_t){0};
        s_push(out, RUMOR_LINK_UP);
    }
    if (h->round > l->round) l->round = h->round;
    switch (h->type) {
    case RUMOR_WIRE_HELLO:
        s_on_hello(l, h, payload, round, out);
        break;
    case RUMOR_WIRE_DIFF:
        if (l->hello)
            s_on_diff(l, h, payload, round, out);
        else
            l->drops[RUMOR_LINK_DROP_UNSYNCED]++;
        break;
    case RUMOR_WIRE_STATE:
        s_on_state(l, h, payload, out);
        break;
    case RUMOR_WIRE_RESYNC:
        s_send(out, RUMOR_WIRE_STATE);
        break;
    case RUMOR_WIRE_BYE:
        s_on_bye(l, h, payload, out);
        break;
    default: /* HEARTBEAT: being heard is all it is for */
        break;
    }
}

void rumor_link_tick(rumor_link_t *l, uint32_t round, double now, rumor_link_actions_t *out)
{
    out->n = 0;
    /* Repeat our HELLO until theirs is in and one of ours was queued. */
    if (!rumor_link_established(l) && now - l->last_hello > RUMOR_LINK_HELLO_EVERY_S)
        s_send(out, RUMOR_WIRE_HELLO);
    if (l->hello && !l->synced && !l->bye && now - l->last_resync > RUMOR_LINK_RESYNC_EVERY_S) {
        l->last_resync = now;
        s_send(out, RUMOR_WIRE_RESYNC);
    }
    /* Keeps the neighbour hearing from us while we send nothing else (waiting for another
     * neighbour, evaluating, checkpointing), so its liveness timeout only fires for a peer
     * that is really gone. */
    if (rumor_link_established(l) && !l->bye && now - l->last_sent >= l->cfg.heartbeat_s)
        s_send(out, RUMOR_WIRE_HEARTBEAT);
    if (l->cfg.deadline) return;
    if (l->nonfinite && l->got < (int64_t)round) { /* its DIFF of this round will never count */
        s_push(out, RUMOR_LINK_STOP)->bye =
            (rumor_wire_bye_t){.origin = l->cfg.id, .round = round, .code = RUMOR_ENONFINITE};
    } else if (l->bye && l->left.code && l->left.code != RUMOR_EINTR) { /* nor the next */
        s_push(out, RUMOR_LINK_STOP)->bye = l->left;
    }
}

void rumor_link_expire(rumor_link_t *l, double now, rumor_link_actions_t *out)
{
    out->n = 0;
    if (l->down || l->bye || now - l->last_heard <= l->cfg.liveness_s) return;
    l->down = 1;
    l->downs++;
    s_push(out, RUMOR_LINK_DOWN);
}

void rumor_link_begin_round(rumor_link_t *l, uint32_t round, rumor_link_actions_t *out)
{
    out->n = 0;
    if (!l->has_early) return;
    l->has_early = 0;
    if (l->early_h.round == round) s_deliver(out, RUMOR_LINK_DELIVER, &l->early_h, l->early);
}

void rumor_link_sent(rumor_link_t *l, uint8_t type, int rc, size_t bytes, double now)
{
    if (type == RUMOR_WIRE_HELLO) l->last_hello = now;
    if (rc == 0) {
        l->bytes_sent += bytes;
        l->last_sent = now;
        if (type == RUMOR_WIRE_HELLO) l->hello_acked = 1;
        if (type == RUMOR_WIRE_HEARTBEAT) l->heartbeats++;
    } else if (type == RUMOR_WIRE_HEARTBEAT) {
        l->last_sent = now; /* not connected: try again one interval later */
    }
    if (type == RUMOR_WIRE_DIFF) l->send_seq++;
}

void rumor_link_delivered(rumor_link_t *l, const rumor_wire_header_t *h, int rc, uint32_t round,
                          rumor_link_actions_t *out)
{
    out->n = 0;
    if (rc == RUMOR_ENONFINITE) {
        l->nonfinite = 1;         /* synchronous rounds stop on it; deadline rounds go on without */
        l->recv_seq = h->seq + 1; /* used up: the next one is no gap to resync over */
        l->drops[RUMOR_LINK_DROP_NONFINITE]++;
        return;
    }
    if (rc != 0) {
        l->drops[RUMOR_LINK_DROP_DECODE]++;
        return;
    }
    l->recv_seq = h->seq + 1;
    if ((int64_t)h->round > l->got) l->got = h->round;
    if (h->round < round) l->late_applied++;
}

void rumor_link_installed(rumor_link_t *l, const rumor_wire_header_t *h, int rc,
                          uint32_t state_round)
{
    if (rc != 0) {
        l->drops[RUMOR_LINK_DROP_STATE]++;
        return;
    }
    /* The copy holds its DIFFs of the rounds before state_round; its own round came with the
     * header. */
    l->recv_seq = h->seq;
    l->synced = 1;
    l->has_early = 0;
    if (l->got < (int64_t)state_round - 1) l->got = (int64_t)state_round - 1;
}
