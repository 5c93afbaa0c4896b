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
    "replay",    "stale_round", "undecodable", "nonfinite",     "unsynced",      "bad_hello",
    "bad_state", "bad_bye",     "bad_round",   "ignored_state", "resync_limited"};

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
                        .last_resync = -HUGE_VAL,
                        .state_round = -1};
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
    if ((l->bye && !l->left.code) || l->down) return 0;
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
        snprintf(buf, cap, "node %u stopped in round %u: a model diverged", b->origin, b->round);
    else
        snprintf(buf, cap, "node %u stopped in round %u: %s", b->origin, b->round,
                 rumor_strerror(b->code));
    return buf;
}

/* 1 if round r is one the neighbour could be in or speak of (see link.h, "Trust"). */
static int s_believable(const rumor_link_t *l, uint32_t r, uint32_t t)
{
    if (r > l->cfg.last_round) return 0;
    if (l->cfg.deadline || !l->hello) return 1;
    const uint32_t expected = l->round > t ? l->round : t;
    return r <= expected + RUMOR_LINK_ROUND_WINDOW;
}

/* Our STATE, unless the neighbour had one lately (RESYNC amplification). */
static void s_offer_state(rumor_link_t *l, uint32_t t, double now, rumor_link_actions_t *out)
{
    if (l->states_free) {
        l->states_free--;
    } else if (l->state_round >= 0 && (int64_t)t < l->state_round + RUMOR_LINK_STATE_EVERY &&
               !(rumor_link_awaited(l, t) && now - l->state_time >= RUMOR_LINK_STATE_MIN_S)) {
        l->drops[RUMOR_LINK_DROP_RESYNC]++;
        return;
    }
    l->state_round = t;
    l->state_time = now;
    l->states_sent++;
    s_send(out, RUMOR_WIRE_STATE);
}

/* DIFFs of the neighbour were lost (a frame with sequence number seq, of type `what`, says it
 * sent them): our copy of its public model is stale. Ask for its STATE. */
static void s_resync(rumor_link_t *l, const char *what, uint64_t seq, rumor_link_actions_t *out)
{
    /* Counted in resyncs; a lossy network, or a simulated one, has many: no warning each. */
    rumor_debug("node %u: %s from node %u has sequence %" PRIu64 ", expected %" PRIu64
                "; requesting its state",
                l->cfg.self, what, l->cfg.id, seq, l->recv_seq);
    l->synced = 0;
    l->resyncs++;
    s_send(out, RUMOR_WIRE_RESYNC);
}

/* A HEARTBEAT carries the number of the neighbour's next DIFF. In synchronous rounds, a round
 * that waits for its DIFF while it says it sent one that never came (the last frame of an
 * edge was lost, or refused, and no later DIFF will show the gap: the neighbour waits too)
 * asks for its STATE, as after a gap. Believed only as far as it could be true: it sent at
 * most one DIFF per round since the last one this link took, up to the heartbeat's round. */
static void s_on_heartbeat(rumor_link_t *l, const rumor_wire_header_t *h, uint32_t t,
                           rumor_link_actions_t *out)
{
    if (l->cfg.deadline || !l->synced || l->has_early || l->nonfinite || h->seq <= l->recv_seq ||
        !rumor_link_awaited(l, t))
        return;
    const int64_t rounds = (int64_t)h->round - l->got;
    if (rounds <= 0 || h->seq - l->recv_seq > (uint64_t)rounds) {
        l->drops[RUMOR_LINK_DROP_CLAIM]++;
        return;
    }
    s_resync(l, "HEARTBEAT", h->seq, out);
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
    if (h->seq > l->recv_seq) { /* a gap, if the DIFF is one: rumor_link_checked */
        s_deliver(out, RUMOR_LINK_CHECK, h, p);
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
        s_deliver(out, RUMOR_LINK_CHECK, h, p); /* kept once it decodes: rumor_link_checked */
    } else {
        l->drops[RUMOR_LINK_DROP_ROUND]++;
    }
}

static void s_on_hello(rumor_link_t *l, const rumor_wire_header_t *h, const uint8_t *p, uint32_t t,
                       double now, rumor_link_actions_t *out)
{
    rumor_wire_hello_t theirs;
    if (rumor_wire_decode_hello(p, h->len, &theirs) != 0 || theirs.sender != l->cfg.id) {
        l->drops[RUMOR_LINK_DROP_HELLO]++;
        return;
    }
    if (!s_believable(l, theirs.resume_round, t)) {
        l->drops[RUMOR_LINK_DROP_CLAIM]++;
        return;
    }
    const rumor_wire_hello_diff_t diff = rumor_wire_hello_compare(&theirs, l->cfg.hello);
    if (diff != RUMOR_WIRE_HELLO_SAME) {
        l->drops[RUMOR_LINK_DROP_HELLO]++;
        const int news = !l->refusal[0];
        rumor_wire_hello_explain(diff, &theirs, l->cfg.hello, l->refusal, sizeof l->refusal);
        if (!l->hello) { /* the handshake waits for a compatible one */
            if (!l->refused)
                rumor_error("node %u: refusing node %u: %s", l->cfg.self, l->cfg.id, l->refusal);
            l->refused = 1;
            return;
        }
        /* The live session cannot change its configuration; another session is a restart
         * with another configuration, or a forgery: it counts once the live one has gone
         * (rumor_link_tick). */
        if (h->seq == l->session) return;
        if (news)
            rumor_error("node %u: refusing a new session of node %u: %s", l->cfg.self, l->cfg.id,
                        l->refusal);
        l->refused_at = now;
        return;
    }
    const int first = !l->hello, restart = l->hello && h->seq != l->session;
    l->hello = 1;
    l->session = h->seq;
    l->refused = 0;
    l->refusal[0] = '\0';
    l->refused_at = 0;
    l->bye = 0;
    l->left = (rumor_wire_bye_t){0};
    l->round = theirs.resume_round;
    /* The other side repeats its HELLO until it has ours; repeats of a session we already
     * answered need nothing more. */
    if (first || restart) {
        l->hello_acked = 0;
        l->states_free = RUMOR_LINK_STATES_PER_SESSION;
    }
    if (!l->hello_acked) s_send(out, RUMOR_WIRE_HELLO);
    if (restart || (first && (theirs.resume_round > 0 || t > 0))) {
        /* A restart on either side: public copies and sequence numbers must be re-agreed
         * (both sides send STATE) before DIFFs count again. */
        l->synced = 0;
        l->has_early = 0;
        s_offer_state(l, t, now, out);
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
    if (l->synced) {
        l->drops[RUMOR_LINK_DROP_IGNORED]++;
        return;
    }
    s_deliver(out, RUMOR_LINK_INSTALL, h, p);
}

/* A neighbour that finished stays in the mix with its final public copy (dropping it would
 * change the last rounds of a synchronous run). One stopped by an error sends nothing more:
 * a synchronous peer stops too (rumor_link_tick), a deadline peer mixes without it until it
 * returns with a new HELLO. One interrupted by a signal is to be restarted: a synchronous
 * peer waits for it, a deadline peer mixes without it meanwhile, without waiting for its
 * liveness timeout. */
static void s_on_bye(rumor_link_t *l, const rumor_wire_header_t *h, const uint8_t *p, uint32_t t,
                     rumor_link_actions_t *out)
{
    /* Only said of oneself, in a round it can be in: not before its last DIFF, and finished
     * only in the last round, after its DIFF of the round before. */
    rumor_wire_bye_t b;
    if (rumor_wire_decode_bye(p, h->len, l->cfg.n, &b) != 0 || b.origin != l->cfg.id ||
        !s_believable(l, b.round, t) || b.round < l->round ||
        (b.code == 0 && (b.round != l->cfg.last_round || l->round + 1 < l->cfg.last_round))) {
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
    if (!s_believable(l, h->round, round)) {
        l->drops[RUMOR_LINK_DROP_CLAIM]++;
        return;
    }
    uint64_t dropped = 0;
    for (int k = 0; k < RUMOR_LINK_DROP_COUNT; k++) dropped += l->drops[k];
    if (l->down && h->type != RUMOR_WIRE_BYE) {
        l->down = 0;
        l->bye = 0; /* it had left with an error, and is talking again */
        l->left = (rumor_wire_bye_t){0};
        s_push(out, RUMOR_LINK_UP);
    }
    switch (h->type) {
    case RUMOR_WIRE_HELLO:
        s_on_hello(l, h, payload, round, now, out);
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
        if (l->hello)
            s_offer_state(l, round, now, out);
        else
            l->drops[RUMOR_LINK_DROP_UNSYNCED]++;
        break;
    case RUMOR_WIRE_BYE:
        s_on_bye(l, h, payload, round, out);
        break;
    default: /* HEARTBEAT */
        s_on_heartbeat(l, h, round, out);
        break;
    }
    for (int k = 0; k < RUMOR_LINK_DROP_COUNT; k++) dropped -= l->drops[k];
    if (!dropped) l->last_valid = now;
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
    /* Its new session was refused, and the old one is gone: it came back with another
     * configuration. */
    const int came_back_wrong =
        l->refused_at > l->last_valid && ((l->bye && l->left.code == RUMOR_EINTR) ||
                                          now - l->last_valid > RUMOR_LINK_REFUSED_QUIET_S);
    int code = 0;
    if (l->nonfinite && l->got < (int64_t)round &&
        now - l->nonfinite_at > RUMOR_LINK_NONFINITE_GRACE_S) /* its DIFF will never count */
        code = RUMOR_ENONFINITE;
    else if (l->bye && l->left.code && l->left.code != RUMOR_EINTR) /* nor the next */
        code = l->left.code;
    else if (came_back_wrong)
        code = RUMOR_EMISMATCH;
    if (code)
        s_push(out, RUMOR_LINK_STOP)->bye =
            (rumor_wire_bye_t){.origin = l->cfg.id, .round = round, .code = code};
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
    /* One of a later round stays for it: frames handled while this round's DIFFs were being
     * sent may have brought this round's DIFF, then the next one's, and its sequence number
     * is used up, so nothing would ever replace it. */
    if (!l->has_early || l->early_h.round > round) return;
    l->has_early = 0;
    if (l->early_h.round == round)
        s_deliver(out, RUMOR_LINK_DELIVER, &l->early_h, l->early);
    else /* the peer caught up past its round */
        l->drops[RUMOR_LINK_DROP_ROUND]++;
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
                          double now)
{
    /* A refused DIFF leaves its sequence number awaited: the good one may follow. */
    if (rc == RUMOR_ENONFINITE) {
        if (!l->nonfinite) l->nonfinite_at = now;
        l->nonfinite = 1; /* synchronous rounds stop on it; deadline rounds go on without */
        l->drops[RUMOR_LINK_DROP_NONFINITE]++;
        return;
    }
    if (rc != 0) {
        l->drops[RUMOR_LINK_DROP_DECODE]++;
        return;
    }
    l->nonfinite = 0;
    if (h->seq == l->recv_seq) l->recv_seq = h->seq + 1; /* (an early DIFF's was used up) */
    if ((int64_t)h->round > l->got) l->got = h->round;
    if (h->round > l->round) l->round = h->round;
    if (h->round < round) l->late_applied++;
}

void rumor_link_checked(rumor_link_t *l, const rumor_wire_header_t *h, const uint8_t *payload,
                        int rc, rumor_link_actions_t *out)
{
    out->n = 0;
    if (rc != 0) {
        l->drops[RUMOR_LINK_DROP_DECODE]++;
        return;
    }
    if (h->seq > l->recv_seq) {
        s_resync(l, "DIFF", h->seq, out);
        l->drops[RUMOR_LINK_DROP_UNSYNCED]++;
        return;
    }
    if (h->len) memcpy(l->early, payload, h->len);
    l->early_h = *h;
    l->has_early = 1;
    l->recv_seq = h->seq + 1;
    if (h->round > l->round) l->round = h->round;
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

static uint64_t s_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static double s_real(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* The words of rumor_link_export, in order: flags, counters, rounds, then times. */
#define S_LINK_FLAGS 7

void rumor_link_export(const rumor_link_t *l, uint64_t w[RUMOR_LINK_WORDS])
{
    RUMOR_ASSERT(!l->has_early);
    const uint64_t v[RUMOR_LINK_WORDS - RUMOR_LINK_DROP_COUNT] = {
        /* flags */
        (uint64_t)l->hello, (uint64_t)l->hello_acked, (uint64_t)l->refused, (uint64_t)l->nonfinite,
        (uint64_t)l->bye, (uint64_t)l->synced, (uint64_t)l->down,
        /* sessions, sequence numbers, counters */
        l->cfg.session, l->session, l->send_seq, l->recv_seq, l->bytes_sent, l->bytes_recv,
        l->resyncs, l->late_applied, l->heartbeats, l->downs, l->states_sent,
        (uint64_t)l->states_free,
        /* rounds */
        l->round, (uint64_t)l->got, (uint64_t)l->state_round, l->left.origin, l->left.round,
        (uint64_t)(int64_t)l->left.code,
        /* times */
        s_bits(l->refused_at), s_bits(l->nonfinite_at), s_bits(l->last_heard),
        s_bits(l->last_valid), s_bits(l->last_sent), s_bits(l->last_hello), s_bits(l->last_resync),
        s_bits(l->state_time)};
    memcpy(w, v, sizeof v);
    memcpy(w + RUMOR_LINK_WORDS - RUMOR_LINK_DROP_COUNT, l->drops, sizeof l->drops);
}

int rumor_link_import(rumor_link_t *l, const uint64_t w[RUMOR_LINK_WORDS])
{
    for (int k = 0; k < S_LINK_FLAGS; k++)
        if (w[k] > 1) return RUMOR_EFORMAT;
    const int64_t got = (int64_t)w[20], state_round = (int64_t)w[21];
    if (w[18] > RUMOR_LINK_STATES_PER_SESSION || w[19] > l->cfg.last_round || got < -1 ||
        got > (int64_t)l->cfg.last_round || state_round < -1 ||
        state_round > (int64_t)l->cfg.last_round || w[22] >= l->cfg.n)
        return RUMOR_EFORMAT;
    l->hello = (int)w[0];
    l->hello_acked = (int)w[1];
    l->refused = (int)w[2];
    l->nonfinite = (int)w[3];
    l->bye = (int)w[4];
    l->synced = (int)w[5];
    l->down = (int)w[6];
    l->cfg.session = w[7];
    l->session = w[8];
    l->send_seq = w[9];
    l->recv_seq = w[10];
    l->bytes_sent = w[11];
    l->bytes_recv = w[12];
    l->resyncs = w[13];
    l->late_applied = w[14];
    l->heartbeats = w[15];
    l->downs = w[16];
    l->states_sent = w[17];
    l->states_free = (int)w[18];
    l->round = (uint32_t)w[19];
    l->got = got;
    l->state_round = state_round;
    l->left = (rumor_wire_bye_t){
        .origin = (uint32_t)w[22], .round = (uint32_t)w[23], .code = (int32_t)(int64_t)w[24]};
    l->refused_at = s_real(w[25]);
    l->nonfinite_at = s_real(w[26]);
    l->last_heard = s_real(w[27]);
    l->last_valid = s_real(w[28]);
    l->last_sent = s_real(w[29]);
    l->last_hello = s_real(w[30]);
    l->last_resync = s_real(w[31]);
    l->state_time = s_real(w[32]);
    l->has_early = 0;
    l->refusal[0] = '\0';
    memcpy(l->drops, w + RUMOR_LINK_WORDS - RUMOR_LINK_DROP_COUNT, sizeof l->drops);
    return 0;
}
