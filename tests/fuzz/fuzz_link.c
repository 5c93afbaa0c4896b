/* libFuzzer target for link: node 0 of a 4-node run of S_LAST rounds holds one link per
 * neighbour (1, 2, 3); the input is a sequence of events -- a frame of any type from one
 * neighbour with fuzzed round, sequence number and payload, the passing of time, a new round,
 * a send that failed -- and a carrier that executes the links' actions, with DIFFs and STATEs
 * that decode or not as the input says. After every event:
 *   - the links of the other neighbours are byte for byte unchanged;
 *   - no link believes a neighbour's round past the last round;
 *   - counters (drops by reason, resyncs, bytes, STATEs sent, ...) never go down;
 *   - at the start of a round, only a DIFF of a later round stays in the early slot;
 *   - a HEARTBEAT asks for at most one STATE, only in synchronous rounds and only when the
 *     link was synced.
 * At the end, neighbour 1 behaves: it restarts with a compatible HELLO, answers with its STATE
 * and sends its DIFF of our round; then the link must not wait for it any more, nor stop the
 * run. Every event also runs under the sanitizers of the fuzz build.
 *
 * Build with -DRUMOR_FUZZ=ON (clang) and run: scripts/fuzz 60 fuzz_link
 */
#include "rumor/link.h"
#include "rumor/log.h"

#include <stdint.h>
#include <string.h>

#define S_NBRS 3
#define S_LAST 50
#define S_DIM  2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const rumor_wire_hello_t s_ours = {
    .version = RUMOR_WIRE_PROTOCOL, .sender = 0, .dim = S_DIM};

typedef struct {
    rumor_link_t l[S_NBRS];
    uint32_t round; /* ours */
    double now;
    int fail_sends;
    int stops;
} s_world_t;

/* Every counter of l, in one array, to check that none goes down. */
static void s_counters(const rumor_link_t *l, uint64_t *c)
{
    int k = 0;
    for (int j = 0; j < RUMOR_LINK_DROP_COUNT; j++) c[k++] = l->drops[j];
    c[k++] = l->resyncs;
    c[k++] = l->late_applied;
    c[k++] = l->heartbeats;
    c[k++] = l->downs;
    c[k++] = l->states_sent;
    c[k++] = l->bytes_sent;
    c[k++] = l->bytes_recv;
    c[k++] = l->send_seq;
}
#define S_COUNTERS (RUMOR_LINK_DROP_COUNT + 8)

/* The carrier: DIFFs decode unless their first byte says otherwise, STATEs decode as the wire
 * decoder says; sends fail while fail_sends is set. */
static void s_act(s_world_t *w, rumor_link_t *l, const rumor_link_actions_t *a)
{
    for (int i = 0; i < a->n; i++) {
        const rumor_link_action_t *x = &a->act[i];
        const int rc = x->h.len && x->payload[0] == 1   ? RUMOR_EFORMAT
                       : x->h.len && x->payload[0] == 2 ? RUMOR_ENONFINITE
                                                        : 0;
        switch (x->act) {
        case RUMOR_LINK_SEND:
            rumor_link_sent(l, x->frame, w->fail_sends ? RUMOR_ETIMEOUT : 0, 28, w->now);
            break;
        case RUMOR_LINK_DELIVER:
            rumor_link_delivered(l, &x->h, rc, w->round, w->now);
            break;
        case RUMOR_LINK_CHECK: {
            rumor_link_actions_t more;
            rumor_link_checked(l, &x->h, x->payload, rc == RUMOR_ENONFINITE ? 0 : rc, &more);
            s_act(w, l, &more);
            break;
        }
        case RUMOR_LINK_INSTALL: {
            float copy[S_DIM];
            uint32_t r = 0;
            const int src = rumor_wire_decode_state(x->payload, x->h.len, S_DIM, &r, copy);
            rumor_link_installed(l, &x->h, src, r);
            break;
        }
        case RUMOR_LINK_STOP:
            w->stops++;
            break;
        default: /* DOWN, UP: the gossip's business */
            break;
        }
    }
}

static void s_frame(s_world_t *w, rumor_link_t *l, uint8_t type, uint32_t round, uint64_t seq,
                    const uint8_t *payload, uint32_t len)
{
    const rumor_wire_header_t h = {
        .type = type, .sender = l->cfg.id, .round = round, .seq = seq, .len = len};
    rumor_link_actions_t a;
    rumor_link_on_frame(l, &h, payload, w->round, w->now, &a);
    s_act(w, l, &a);
}

static uint32_t s_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One event from e[0..12). */
static void s_event(s_world_t *w, const uint8_t *e)
{
    rumor_link_t *l = &w->l[e[1] % S_NBRS];
    w->now += e[2] * 0.01;
    w->fail_sends = e[3] & 1;
    /* Rounds near ours, or anything. */
    const uint32_t round = e[3] & 2 ? s_u32(e + 4) : w->round + (uint32_t)(e[4] % 8) - 3;
    const uint64_t seq = e[3] & 4 ? s_u32(e + 8) : l->recv_seq + (uint64_t)(e[8] % 4) - 1;
    uint8_t p[RUMOR_WIRE_HELLO_BYTES];
    rumor_link_actions_t a;
    switch (e[0] % 10) {
    case 0: { /* HELLO: ours, from another session or with one field changed */
        rumor_wire_hello_t h = s_ours;
        h.sender = e[5] & 8 ? e[5] % 4 : l->cfg.id;
        h.resume_round = round;
        if (e[5] & 16) h.config_hash[0] = e[6];
        if (e[5] & 32) h.version = e[6];
        RUMOR_ASSERT(rumor_wire_encode_hello(&h, p, sizeof p) == 0);
        s_frame(w, l, RUMOR_WIRE_HELLO, round, e[9] % 3, p, sizeof p);
        break;
    }
    case 1: /* DIFF: decodes (0), garbage (1) or non-finite (2) by its first byte */
        p[0] = e[5] % 3;
        s_frame(w, l, RUMOR_WIRE_DIFF, round, seq, p, 1 + e[6] % 8);
        break;
    case 2: { /* STATE of S_DIM floats or of a wrong size */
        const float x[S_DIM] = {0};
        size_t len;
        RUMOR_ASSERT(rumor_wire_encode_state(round, x, S_DIM, p, sizeof p, &len) == 0);
        s_frame(w, l, RUMOR_WIRE_STATE, round, seq, p, (uint32_t)(e[5] & 1 ? len - 4 : len));
        break;
    }
    case 3:
        s_frame(w, l, RUMOR_WIRE_RESYNC, round, seq, NULL, 0);
        break;
    case 4: { /* HEARTBEAT: at most a RESYNC, in synchronous rounds, while synced */
        const int synced = l->synced;
        const uint64_t resyncs = l->resyncs;
        s_frame(w, l, RUMOR_WIRE_HEARTBEAT, round, seq, NULL, 0);
        RUMOR_ASSERT(l->resyncs == resyncs ||
                     (l->resyncs == resyncs + 1 && synced && !l->cfg.deadline));
        break;
    }
    case 5: { /* BYE of any origin, round and code */
        const rumor_wire_bye_t b = {
            .origin = e[5] % 4, .round = round, .code = -(int32_t)(e[6] % 15)};
        RUMOR_ASSERT(rumor_wire_encode_bye(&b, p, sizeof p) == 0);
        s_frame(w, l, RUMOR_WIRE_BYE, e[9] & 1 ? round : b.round, seq, p, RUMOR_WIRE_BYE_BYTES);
        break;
    }
    case 6:
        rumor_link_tick(l, w->round, w->now, &a);
        s_act(w, l, &a);
        break;
    case 7:
        rumor_link_expire(l, w->now, &a);
        s_act(w, l, &a);
        break;
    case 8: /* our next round (each link sees its start) */
        if (w->round + 1 >= S_LAST) break;
        w->round++;
        for (int k = 0; k < S_NBRS; k++) {
            rumor_link_begin_round(&w->l[k], w->round, &a);
            /* Only a DIFF of a later round stays in the early slot. */
            RUMOR_ASSERT(!w->l[k].has_early || w->l[k].early_h.round > w->round);
            s_act(w, &w->l[k], &a);
        }
        break;
    default: /* our DIFF to it, sent or not */
        rumor_link_sent(l, RUMOR_WIRE_DIFF, w->fail_sends ? RUMOR_ETIMEOUT : 0, 40, w->now);
        break;
    }
}

/* Neighbour 1 behaves from now on: restarts, sends its STATE and its DIFF of our round. */
static void s_honest(s_world_t *w)
{
    rumor_link_t *l = &w->l[0];
    uint8_t p[RUMOR_WIRE_HELLO_BYTES];
    rumor_wire_hello_t h = s_ours;
    h.sender = l->cfg.id;
    h.resume_round = w->round;
    RUMOR_ASSERT(rumor_wire_encode_hello(&h, p, sizeof p) == 0);
    w->now += 0.01;
    w->fail_sends = 0;
    s_frame(w, l, RUMOR_WIRE_HELLO, w->round, 0xabcdef, p, sizeof p);
    const float x[S_DIM] = {0};
    size_t len;
    RUMOR_ASSERT(rumor_wire_encode_state(w->round, x, S_DIM, p, sizeof p, &len) == 0);
    s_frame(w, l, RUMOR_WIRE_STATE, w->round, 0, p, (uint32_t)len);
    p[0] = 0;
    s_frame(w, l, RUMOR_WIRE_DIFF, w->round, 0, p, 4);
    RUMOR_ASSERT(rumor_link_ready(l));
    RUMOR_ASSERT(!rumor_link_awaited(l, w->round));
    rumor_link_actions_t a;
    rumor_link_tick(l, w->round, w->now + 0.01, &a);
    for (int i = 0; i < a.n; i++) RUMOR_ASSERT(a.act[i].act != RUMOR_LINK_STOP);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    rumor_log_set_level(RUMOR_LOG_ERROR);
    static s_world_t w;
    memset(&w, 0, sizeof w);
    w.now = 1000.0;
    const int deadline = data[0] & 1;
    for (uint32_t k = 0; k < S_NBRS; k++) {
        const rumor_link_cfg_t cfg = {.self = 0,
                                      .id = k + 1,
                                      .n = 4,
                                      .last_round = S_LAST,
                                      .deadline = deadline,
                                      .session = 77,
                                      .hello = &s_ours,
                                      .frame_cap = 64,
                                      .liveness_s = 1.0,
                                      .heartbeat_s = 0.25,
                                      .resumed = (data[0] >> 1) & 1,
                                      .now = w.now};
        RUMOR_ASSERT(rumor_link_init(&w.l[k], &cfg) == 0);
    }
    for (size_t at = 1; at + 12 <= size; at += 12) {
        const int who = data[at + 1] % S_NBRS;
        rumor_link_t before[S_NBRS];
        memcpy(before, w.l, sizeof before);
        uint64_t c0[S_COUNTERS], c1[S_COUNTERS];
        s_counters(&w.l[who], c0);
        s_event(&w, data + at);
        s_counters(&w.l[who], c1);
        for (int k = 0; k < S_COUNTERS; k++) RUMOR_ASSERT(c1[k] >= c0[k]);
        for (int k = 0; k < S_NBRS; k++) {
            RUMOR_ASSERT(w.l[k].round <= S_LAST);
            /* Only the event's own link changes; a new round reaches all of them. */
            if (k != who && data[at] % 10 != 8)
                RUMOR_ASSERT(memcmp(&before[k], &w.l[k], sizeof before[k]) == 0);
        }
    }
    s_honest(&w);
    for (int k = 0; k < S_NBRS; k++) rumor_link_free(&w.l[k]);
    return 0;
}
