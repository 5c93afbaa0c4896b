/* Tests of link: one neighbour session driven by scripted frames and times, no sockets.
 * Node 0 (this peer) talks to node 1 in a ring of 4, in a run of 100 rounds; every recovery
 * path of the protocol is walked: the handshake, a restart mid-round (new session: STATE both
 * ways), a STATE before the HELLO, a sequence gap (RESYNC), a lost last DIFF that only
 * HEARTBEATs show (RESYNC), a duplicate DIFF, an early and a late DIFF, a silent neighbour
 * going down and coming back, and BYEs (finished, interrupted, error). Then single forged frames
 * from someone holding node 1's key: none may move the round, unseat the live session, end or stall
 * the run, or cost more than a bounded number of STATEs; a careless restart with another
 * configuration stops a synchronous run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/link.h"
#include "rumor/log.h"

#include <string.h>

#define S_ROUNDS     100
#define S_SESSION_US 0x5e55
#define S_SESSION_1  0x1111
#define S_SESSION_2  0x2222

static rumor_wire_hello_t s_ours = {.version = RUMOR_WIRE_PROTOCOL, .sender = 0, .dim = 10};

static void s_make(rumor_link_t *l, int deadline, int resumed)
{
    const rumor_link_cfg_t cfg = {.self = 0,
                                  .id = 1,
                                  .n = 4,
                                  .last_round = S_ROUNDS,
                                  .deadline = deadline,
                                  .session = S_SESSION_US,
                                  .hello = &s_ours,
                                  .frame_cap = 256,
                                  .liveness_s = 1.0,
                                  .heartbeat_s = 0.25,
                                  .resumed = resumed,
                                  .now = 0.0};
    assert_int_equal(rumor_link_init(l, &cfg), 0);
}

/* A frame from node 1 with payload[0..len) (NULL when empty), while we are in `round` at
 * time `now`; the link's actions in *a. */
static void s_frame(rumor_link_t *l, uint8_t type, uint32_t frame_round, uint64_t seq,
                    const uint8_t *payload, uint32_t len, uint32_t round, double now,
                    rumor_link_actions_t *a)
{
    const rumor_wire_header_t h = {
        .type = type, .sender = 1, .round = frame_round, .seq = seq, .len = len};
    rumor_link_on_frame(l, &h, payload, round, now, a);
}

static int s_count(const rumor_link_actions_t *a, rumor_link_act_t act, uint8_t frame)
{
    int c = 0;
    for (int i = 0; i < a->n; i++)
        c += a->act[i].act == act && (act != RUMOR_LINK_SEND || a->act[i].frame == frame);
    return c;
}

static const rumor_link_action_t *s_find(const rumor_link_actions_t *a, rumor_link_act_t act)
{
    for (int i = 0; i < a->n; i++)
        if (a->act[i].act == act) return &a->act[i];
    return NULL;
}

/* Carries out SEND actions as a carrier whose sends all succeed. */
static void s_sent_all(rumor_link_t *l, const rumor_link_actions_t *a, double now)
{
    for (int i = 0; i < a->n; i++)
        if (a->act[i].act == RUMOR_LINK_SEND) rumor_link_sent(l, a->act[i].frame, 0, 28, now);
}

static void s_hello(rumor_link_t *l, uint64_t session, uint32_t resume, uint32_t round, double now,
                    rumor_link_actions_t *a)
{
    rumor_wire_hello_t theirs = s_ours;
    theirs.sender = 1;
    theirs.resume_round = resume;
    uint8_t p[RUMOR_WIRE_HELLO_BYTES];
    assert_int_equal(rumor_wire_encode_hello(&theirs, p, sizeof p), 0);
    s_frame(l, RUMOR_WIRE_HELLO, resume, session, p, sizeof p, round, now, a);
}

/* Both HELLOs through: node 1's session S_SESSION_1 from round `resume`. */
static void s_establish(rumor_link_t *l, uint32_t resume, uint32_t round)
{
    rumor_link_actions_t a;
    rumor_link_tick(l, round, 0.0, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_SEND, RUMOR_WIRE_HELLO), 1);
    s_sent_all(l, &a, 0.0);
    s_hello(l, S_SESSION_1, resume, round, 0.01, &a);
    s_sent_all(l, &a, 0.01);
    assert_true(rumor_link_established(l));
}

/* A link to node 1 past the handshake, from round 0. */
static void s_running(rumor_link_t *l, int deadline)
{
    s_make(l, deadline, 0);
    s_establish(l, 0, 0);
}

/* A DIFF of frame_round with sequence seq, delivered (or, early, decoded) by a carrier whose
 * peer answers rc. */
static void s_diff(rumor_link_t *l, uint32_t frame_round, uint64_t seq, uint32_t round, double now,
                   int rc, rumor_link_actions_t *a)
{
    static const uint8_t payload[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    s_frame(l, RUMOR_WIRE_DIFF, frame_round, seq, payload, sizeof payload, round, now, a);
    const rumor_link_action_t *d = s_find(a, RUMOR_LINK_DELIVER);
    if (d) rumor_link_delivered(l, &d->h, rc, round, now);
    const rumor_link_action_t *c = s_find(a, RUMOR_LINK_CHECK);
    if (c) { /* its follow-up actions join the list */
        rumor_link_actions_t more;
        rumor_link_checked(l, &c->h, c->payload, rc, &more);
        for (int i = 0; i < more.n; i++) a->act[a->n++] = more.act[i];
    }
}

/* Round `round` begins: an early DIFF the link delivers then (one of s_diff's) is applied by
 * a carrier whose peer accepts it. Returns its round, or -1 when none was delivered. */
static int64_t s_begin(rumor_link_t *l, uint32_t round, double now)
{
    rumor_link_actions_t a;
    rumor_link_begin_round(l, round, &a);
    const rumor_link_action_t *d = s_find(&a, RUMOR_LINK_DELIVER);
    if (!d) return -1;
    assert_int_equal(d->payload[0], 1);
    const rumor_wire_header_t h = d->h;
    rumor_link_delivered(l, &h, 0, round, now);
    return h.round;
}

static void s_bye(rumor_link_t *l, uint32_t origin, uint32_t bye_round, int32_t code,
                  uint32_t round, double now, rumor_link_actions_t *a)
{
    const rumor_wire_bye_t b = {.origin = origin, .round = bye_round, .code = code};
    uint8_t p[RUMOR_WIRE_BYE_BYTES];
    assert_int_equal(rumor_wire_encode_bye(&b, p, sizeof p), 0);
    s_frame(l, RUMOR_WIRE_BYE, bye_round, l->recv_seq, p, sizeof p, round, now, a);
}

/* A STATE valid at state_round, installed by a carrier whose decoder answers rc. */
static void s_state(rumor_link_t *l, uint32_t state_round, uint64_t seq, uint32_t round, double now,
                    int rc, rumor_link_actions_t *a)
{
    uint8_t p[RUMOR_WIRE_STATE_HEADER + 4 * 10];
    const float x[10] = {0};
    size_t len;
    assert_int_equal(rumor_wire_encode_state(state_round, x, 10, p, sizeof p, &len), 0);
    s_frame(l, RUMOR_WIRE_STATE, state_round, seq, p, (uint32_t)len, round, now, a);
    const rumor_link_action_t *ins = s_find(a, RUMOR_LINK_INSTALL);
    if (ins) rumor_link_installed(l, &ins->h, rc, state_round);
}

static void test_handshake_then_diffs_in_order(void **state)
{
    (void)state;
    rumor_link_t l;
    s_make(&l, 0, 0);
    assert_false(rumor_link_ready(&l));
    s_establish(&l, 0, 0);
    assert_true(rumor_link_ready(&l));
    rumor_link_actions_t a;
    assert_true(rumor_link_awaited(&l, 0));
    s_diff(&l, 0, 0, 0, 0.1, 0, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_DELIVER, 0), 1);
    assert_false(rumor_link_awaited(&l, 0));
    assert_int_equal(l.got, 0);
    assert_int_equal(l.recv_seq, 1);
    /* Our DIFFs are numbered 0, 1, ... whether or not they left. */
    const uint64_t before = l.bytes_sent;
    rumor_link_sent(&l, RUMOR_WIRE_DIFF, 0, 100, 0.1);
    rumor_link_sent(&l, RUMOR_WIRE_DIFF, RUMOR_ETIMEOUT, 100, 0.2);
    assert_int_equal(rumor_link_header(&l, RUMOR_WIRE_DIFF, 2, 0).seq, 2);
    assert_int_equal(rumor_link_header(&l, RUMOR_WIRE_HELLO, 2, 0).seq, S_SESSION_US);
    assert_int_equal(l.bytes_sent - before, 100);
    rumor_link_free(&l);
}

/* A repeated HELLO of the same session is answered once; nothing is resynced. */
static void test_repeated_hello_changes_nothing(void **state)
{
    (void)state;
    rumor_link_t l;
    s_running(&l, 0);
    rumor_link_actions_t a;
    s_hello(&l, S_SESSION_1, 0, 0, 0.2, &a);
    assert_int_equal(a.n, 0);
    assert_true(rumor_link_ready(&l));
    rumor_link_free(&l);
}

/* Node 1 restarts mid-run (a new session, from its checkpoint at round 40) while we are in
 * round 50: we answer its HELLO and send our STATE, drop its DIFFs until its STATE is in, and
 * take its sequence numbers from that STATE. */
static void test_restart_mid_round_exchanges_state(void **state)
{
    (void)state;
    rumor_link_t l;
    s_running(&l, 0);
    rumor_link_actions_t a;
    for (uint32_t r = 0; r < 50; r++) s_diff(&l, r, r, r, 0.1, 0, &a);
    assert_int_equal(l.got, 49);
    s_hello(&l, S_SESSION_2, 40, 50, 1.0, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_SEND, RUMOR_WIRE_HELLO), 1);
    assert_int_equal(s_count(&a, RUMOR_LINK_SEND, RUMOR_WIRE_STATE), 1);
    s_sent_all(&l, &a, 1.0);
    assert_false(rumor_link_ready(&l));
    s_diff(&l, 50, 40, 50, 1.1, 0, &a); /* before its STATE: cannot count */
    assert_int_equal(s_count(&a, RUMOR_LINK_DELIVER, 0), 0);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_UNSYNCED], 1);
    /* We ask for its STATE until it comes. */
    rumor_link_tick(&l, 50, 1.6, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_SEND, RUMOR_WIRE_RESYNC), 1);
    s_state(&l, 50, 40, 50, 1.7, 0, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_INSTALL, 0), 1);
    assert_true(rumor_link_ready(&l));
    assert_int_equal(l.recv_seq, 40);
    assert_int_equal(l.got, 49);
    s_diff(&l, 50, 40, 50, 1.8, 0, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_DELIVER, 0), 1);
    assert_false(rumor_link_awaited(&l, 50));
    /* Answers to the repeated requests come later and are not installed. */
    s_state(&l, 51, 41, 50, 1.9, 0, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_INSTALL, 0), 0);
    rumor_link_free(&l);
}

/* This peer resumed from a checkpoint: a STATE that comes before node 1's HELLO is dropped
 * (the HELLO will ask for another), the one after it is installed. */
static void test_state_before_hello_is_dropped(void **state)
{
    (void)state;
    rumor_link_t l;
    s_make(&l, 0, 1);
    rumor_link_actions_t a;
    s_state(&l, 30, 30, 30, 0.0, 0, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_INSTALL, 0), 0);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_UNSYNCED], 1);
    s_establish(&l, 30, 30);
    assert_false(rumor_link_ready(&l));
    s_state(&l, 30, 30, 30, 0.1, 0, &a);
    assert_true(rumor_link_ready(&l));
    assert_int_equal(l.got, 29);
    rumor_link_free(&l);
}

/* A DIFF whose sequence number skips one: our copy is stale, so we ask for its STATE. */
static void test_sequence_gap_requests_state(void **state)
{
    (void)state;
    rumor_link_t l;
    s_running(&l, 1);
    rumor_link_actions_t a;
    s_diff(&l, 0, 0, 0, 0.1, 0, &a);
    s_diff(&l, 2, 2, 2, 0.3, 0, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_SEND, RUMOR_WIRE_RESYNC), 1);
    assert_int_equal(s_count(&a, RUMOR_LINK_DELIVER, 0), 0);
    assert_int_equal(l.resyncs, 1);
    assert_false(l.synced);
    s_state(&l, 3, 3, 2, 0.4, 0, &a);
    assert_true(l.synced);
    assert_int_equal(l.recv_seq, 3);
    rumor_link_free(&l);
}

static void test_duplicate_diff_is_a_replay(void **state)
{
    (void)state;
    rumor_link_t l;
    s_running(&l, 0);
    rumor_link_actions_t a;
    s_diff(&l, 0, 0, 0, 0.1, 0, &a);
    s_diff(&l, 0, 0, 0, 0.2, 0, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_DELIVER, 0), 0);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_REPLAY], 1);
    assert_int_equal(l.recv_seq, 1);
    rumor_link_free(&l);
}

/* Synchronous: a DIFF of round t + 1 waits in the early slot until round t + 1 begins; one of
 * round t + 2 is of no use. */
static void test_early_diff_waits_for_its_round(void **state)
{
    (void)state;
    rumor_link_t l;
    s_running(&l, 0);
    rumor_link_actions_t a;
    s_diff(&l, 0, 0, 0, 0.1, 0, &a);
    s_diff(&l, 1, 1, 0, 0.2, 0, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_DELIVER, 0), 0);
    assert_true(l.has_early);
    assert_int_equal(s_begin(&l, 1, 0.25), 1);
    assert_false(rumor_link_awaited(&l, 1));
    s_diff(&l, 3, 2, 1, 0.3, 0, &a);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_ROUND], 1);
    rumor_link_free(&l);
}

/* Synchronous: frames handled while round 5's DIFFs are being sent (before the round begins)
 * bring node 1's DIFF of round 5, applied at once, then its DIFF of round 6: that one stays in
 * the early slot through the start of round 5 and is delivered at the start of round 6. */
static void test_early_diff_survives_the_start_of_its_previous_round(void **state)
{
    (void)state;
    rumor_link_t l;
    s_running(&l, 0);
    rumor_link_actions_t a;
    for (uint32_t r = 0; r < 5; r++) s_diff(&l, r, r, r, 0.1, 0, &a);
    s_diff(&l, 5, 5, 5, 0.2, 0, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_DELIVER, 0), 1);
    s_diff(&l, 6, 6, 5, 0.3, 0, &a);
    assert_true(l.has_early);
    assert_int_equal(s_begin(&l, 5, 0.35), -1);
    assert_true(l.has_early);
    assert_int_equal(s_begin(&l, 6, 0.4), 6);
    assert_false(rumor_link_awaited(&l, 6));
    for (int k = 0; k < RUMOR_LINK_DROP_COUNT; k++) assert_int_equal(l.drops[k], 0);
    /* An early DIFF of a round the peer caught up past is counted. */
    s_diff(&l, 8, 7, 7, 0.5, 0, &a);
    assert_int_equal(s_begin(&l, 9, 0.6), -1);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_ROUND], 1);
    rumor_link_free(&l);
}

/* Synchronous: node 1's DIFF of round 5 (sequence 5), the last frame it sends before waiting
 * for us, is lost; no later DIFF shows the gap. Its HEARTBEATs carry its next DIFF's number,
 * 6: we ask for its STATE, as after a gap, once, and its STATE of round 6 closes round 5.
 * Claims it could not make (more DIFFs than rounds since the last one we took) are counted;
 * nothing happens when nothing is missing, nothing is awaited, or in deadline rounds. */
static void test_lost_last_diff_is_recovered_from_heartbeats(void **state)
{
    (void)state;
    rumor_link_t l;
    s_running(&l, 0);
    rumor_link_actions_t a;
    for (uint32_t r = 0; r < 5; r++) s_diff(&l, r, r, r, 0.1, 0, &a);
    s_frame(&l, RUMOR_WIRE_HEARTBEAT, 5, 5, NULL, 0, 5, 0.2, &a); /* nothing missing */
    assert_int_equal(a.n, 0);
    s_frame(&l, RUMOR_WIRE_HEARTBEAT, 4, 6, NULL, 0, 5, 0.3, &a); /* a DIFF in no round */
    s_frame(&l, RUMOR_WIRE_HEARTBEAT, 5, 7, NULL, 0, 5, 0.3, &a); /* two in one round */
    s_frame(&l, RUMOR_WIRE_HEARTBEAT, 5, UINT64_MAX, NULL, 0, 5, 0.3, &a);
    assert_int_equal(a.n, 0);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_CLAIM], 3);
    assert_true(l.synced);
    s_frame(&l, RUMOR_WIRE_HEARTBEAT, 5, 6, NULL, 0, 5, 0.5, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_SEND, RUMOR_WIRE_RESYNC), 1);
    s_sent_all(&l, &a, 0.5);
    assert_int_equal(l.resyncs, 1);
    assert_false(l.synced);
    s_frame(&l, RUMOR_WIRE_HEARTBEAT, 5, 6, NULL, 0, 5, 0.75, &a); /* asked already */
    assert_int_equal(a.n, 0);
    s_state(&l, 6, 6, 5, 0.8, 0, &a);
    assert_true(rumor_link_ready(&l));
    assert_false(rumor_link_awaited(&l, 5));
    s_frame(&l, RUMOR_WIRE_HEARTBEAT, 6, 7, NULL, 0, 5, 0.9, &a); /* round 5 awaits nothing */
    assert_int_equal(a.n, 0);
    assert_int_equal(l.resyncs, 1);
    rumor_link_free(&l);

    s_running(&l, 1);
    s_diff(&l, 0, 0, 0, 0.1, 0, &a);
    s_frame(&l, RUMOR_WIRE_HEARTBEAT, 1, 2, NULL, 0, 1, 0.2, &a);
    assert_int_equal(a.n, 0);
    assert_true(l.synced);
    rumor_link_free(&l);
}

/* Deadline: a DIFF of an earlier round is applied when it comes, and counted as late. */
static void test_late_diff_applied_in_deadline_mode(void **state)
{
    (void)state;
    rumor_link_t l;
    s_running(&l, 1);
    rumor_link_actions_t a;
    s_diff(&l, 8, 0, 10, 0.1, 0, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_DELIVER, 0), 1);
    assert_int_equal(l.late_applied, 1);
    assert_int_equal(l.got, 8);
    rumor_link_free(&l);
}

/* Deadline: silent past the liveness timeout, node 1 is marked down; any frame brings it back. */
static void test_silent_neighbour_goes_down_and_comes_back(void **state)
{
    (void)state;
    rumor_link_t l;
    s_running(&l, 1);
    rumor_link_actions_t a;
    rumor_link_expire(&l, 0.9, &a);
    assert_int_equal(a.n, 0);
    rumor_link_expire(&l, 1.2, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_DOWN, 0), 1);
    assert_true(l.down);
    assert_false(rumor_link_awaited(&l, 5));
    rumor_link_expire(&l, 2.0, &a); /* once */
    assert_int_equal(a.n, 0);
    s_frame(&l, RUMOR_WIRE_HEARTBEAT, 5, 0, NULL, 0, 5, 2.1, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_UP, 0), 1);
    assert_false(l.down);
    assert_int_equal(l.downs, 1);
    rumor_link_free(&l);
}

/* We send a HEARTBEAT to an established neighbour we sent nothing to for heartbeat_s. */
static void test_heartbeat_when_quiet(void **state)
{
    (void)state;
    rumor_link_t l;
    s_running(&l, 1);
    rumor_link_actions_t a;
    rumor_link_tick(&l, 0, 0.1, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_SEND, RUMOR_WIRE_HEARTBEAT), 0);
    rumor_link_tick(&l, 0, 0.3, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_SEND, RUMOR_WIRE_HEARTBEAT), 1);
    s_sent_all(&l, &a, 0.3);
    assert_int_equal(l.heartbeats, 1);
    rumor_link_free(&l);
}

/* BYE: finished, node 1 is no longer awaited; interrupted (synchronous), it is still awaited
 * and nothing stops; stopped by an error, a synchronous run stops, a deadline one mixes
 * without it. */
static void test_bye_finished_interrupted_and_error(void **state)
{
    (void)state;
    rumor_link_t l;
    rumor_link_actions_t a;
    s_running(&l, 0);
    for (uint32_t r = 0; r < S_ROUNDS; r++) s_diff(&l, r, r, r, 0.1, 0, &a);
    s_bye(&l, 1, S_ROUNDS, 0, S_ROUNDS - 1, 0.2, &a);
    assert_true(l.bye);
    assert_false(rumor_link_awaited(&l, S_ROUNDS));
    rumor_link_free(&l);

    s_running(&l, 0);
    s_diff(&l, 0, 0, 0, 0.1, 0, &a);
    s_bye(&l, 1, 1, RUMOR_EINTR, 1, 0.2, &a);
    assert_true(rumor_link_awaited(&l, 1));
    rumor_link_tick(&l, 1, 0.3, &a);
    assert_null(s_find(&a, RUMOR_LINK_STOP));
    rumor_link_free(&l);

    s_running(&l, 0);
    s_diff(&l, 0, 0, 0, 0.1, 0, &a);
    s_bye(&l, 1, 1, RUMOR_ENONFINITE, 1, 0.2, &a);
    rumor_link_tick(&l, 1, 0.3, &a);
    const rumor_link_action_t *stop = s_find(&a, RUMOR_LINK_STOP);
    assert_non_null(stop);
    assert_int_equal(stop->bye.origin, 1);
    assert_int_equal(stop->bye.code, RUMOR_ENONFINITE);
    char why[160];
    assert_string_equal(rumor_link_explain_bye(&stop->bye, why, sizeof why),
                        "node 1 stopped in round 1: a model diverged");
    rumor_link_free(&l);

    s_running(&l, 1);
    s_diff(&l, 0, 0, 0, 0.1, 0, &a);
    s_bye(&l, 1, 1, RUMOR_ETIMEOUT, 1, 0.2, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_DOWN, 0), 1);
    rumor_link_tick(&l, 1, 0.3, &a);
    assert_null(s_find(&a, RUMOR_LINK_STOP));
    rumor_link_free(&l);
}

/* Synchronous: a DIFF with non-finite values stops the run, naming node 1. */
static void test_nonfinite_diff_stops_synchronous_run(void **state)
{
    (void)state;
    rumor_link_t l;
    rumor_link_actions_t a;
    s_running(&l, 0);
    s_diff(&l, 0, 0, 0, 0.1, RUMOR_ENONFINITE, &a);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_NONFINITE], 1);
    rumor_link_tick(&l, 0, 0.2, &a); /* the good one may be in flight behind it */
    assert_null(s_find(&a, RUMOR_LINK_STOP));
    rumor_link_tick(&l, 0, 0.1 + RUMOR_LINK_NONFINITE_GRACE_S + 0.1, &a);
    const rumor_link_action_t *stop = s_find(&a, RUMOR_LINK_STOP);
    assert_non_null(stop);
    assert_int_equal(stop->bye.origin, 1);
    rumor_link_free(&l);
}

/* An incompatible HELLO is refused and counted. */
static void test_incompatible_hello_refused(void **state)
{
    (void)state;
    rumor_link_t l;
    rumor_link_actions_t a;
    s_make(&l, 0, 0);
    rumor_wire_hello_t theirs = s_ours;
    theirs.sender = 1;
    theirs.dim = 11;
    uint8_t p[RUMOR_WIRE_HELLO_BYTES];
    assert_int_equal(rumor_wire_encode_hello(&theirs, p, sizeof p), 0);
    s_frame(&l, RUMOR_WIRE_HELLO, 0, S_SESSION_1, p, sizeof p, 0, 0.0, &a);
    assert_int_equal(a.n, 0);
    assert_true(l.refused);
    assert_false(l.hello);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_HELLO], 1);
    rumor_link_free(&l);
}

/* ---- forged frames from node 1's key, a careless restart ------------------------------ */

/* Issue 20.1: a round is believed only within the window; nothing moves the neighbour's round
 * past the last round, and only HELLOs and applied DIFFs move it at all. */
static void test_round_claims_are_bounded(void **state)
{
    (void)state;
    rumor_link_t l;
    rumor_link_actions_t a;
    s_running(&l, 0);
    for (uint32_t r = 0; r < 10; r++) s_diff(&l, r, r, r, 0.1, 0, &a);
    s_frame(&l, RUMOR_WIRE_HEARTBEAT, 0xfffffff0u, 10, NULL, 0, 10, 0.2, &a);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_CLAIM], 1);
    s_frame(&l, RUMOR_WIRE_HEARTBEAT, 10 + RUMOR_LINK_ROUND_WINDOW + 1, 10, NULL, 0, 10, 0.2, &a);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_CLAIM], 2);
    s_frame(&l, RUMOR_WIRE_HEARTBEAT, 10 + RUMOR_LINK_ROUND_WINDOW, 10, NULL, 0, 10, 0.2, &a);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_CLAIM], 2);
    assert_int_equal(l.round, 9); /* a HEARTBEAT claims nothing */
    s_hello(&l, S_SESSION_2, S_ROUNDS - 1, 10, 0.3, &a);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_CLAIM], 3);
    assert_true(l.round <= 10 + RUMOR_LINK_ROUND_WINDOW);
    assert_true(rumor_link_ready(&l)); /* not unseated */
    rumor_link_free(&l);

    s_running(&l, 1); /* deadline: drift is allowed, the end of the run is not */
    s_frame(&l, RUMOR_WIRE_HEARTBEAT, 60, 0, NULL, 0, 10, 0.2, &a);
    s_frame(&l, RUMOR_WIRE_HEARTBEAT, S_ROUNDS + 1, 0, NULL, 0, 10, 0.2, &a);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_CLAIM], 1);
    s_diff(&l, 0xfffffff0u, 0, 10, 0.3, 0, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_DELIVER, 0), 0);
    assert_true(l.round <= S_ROUNDS);
    rumor_link_free(&l);
}

/* Issue 20.2: an incompatible HELLO, of the live session or another, does not unseat the
 * live neighbour: it stays awaited, its DIFFs count, and nothing stops while it talks. */
static void test_bad_hello_does_not_unseat_live_neighbour(void **state)
{
    (void)state;
    rumor_link_t l;
    rumor_link_actions_t a;
    s_running(&l, 0);
    s_diff(&l, 0, 0, 0, 0.1, 0, &a);
    rumor_wire_hello_t bad = s_ours;
    bad.sender = 1;
    bad.version = 0x7fff;
    uint8_t p[RUMOR_WIRE_HELLO_BYTES];
    assert_int_equal(rumor_wire_encode_hello(&bad, p, sizeof p), 0);
    s_frame(&l, RUMOR_WIRE_HELLO, 1, S_SESSION_1, p, sizeof p, 1, 0.2, &a);
    s_frame(&l, RUMOR_WIRE_HELLO, 1, S_SESSION_2, p, sizeof p, 1, 0.2, &a);
    assert_int_equal(a.n, 0);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_HELLO], 2);
    assert_true(rumor_link_ready(&l));
    assert_true(rumor_link_awaited(&l, 1));
    for (uint32_t r = 1; r < 40; r++) { /* the live session talks on for 20 s */
        s_diff(&l, r, r, r, 0.2 + r * 0.5, 0, &a);
        assert_int_equal(s_count(&a, RUMOR_LINK_DELIVER, 0), 1);
        rumor_link_tick(&l, r + 1, 0.3 + r * 0.5, &a);
        assert_null(s_find(&a, RUMOR_LINK_STOP));
    }
    rumor_link_free(&l);
}

static void s_hello_config(rumor_link_t *l, uint64_t session, uint8_t config0, uint32_t round,
                           double now, rumor_link_actions_t *a)
{
    rumor_wire_hello_t theirs = s_ours;
    theirs.sender = 1;
    theirs.resume_round = round;
    theirs.config_hash[0] = config0;
    uint8_t p[RUMOR_WIRE_HELLO_BYTES];
    assert_int_equal(rumor_wire_encode_hello(&theirs, p, sizeof p), 0);
    s_frame(l, RUMOR_WIRE_HELLO, round, session, p, sizeof p, round, now, a);
}

/* Issue 20.3: node 1 interrupted, then restarted with an edited scenario: a synchronous run
 * stops, naming the mismatch; so it does when the old session just went silent. */
static void test_restart_with_other_configuration_stops_sync_run(void **state)
{
    (void)state;
    for (int silent = 0; silent < 2; silent++) {
        rumor_link_t l;
        rumor_link_actions_t a;
        s_running(&l, 0);
        for (uint32_t r = 0; r < 10; r++) s_diff(&l, r, r, r, 0.1, 0, &a);
        if (!silent) s_bye(&l, 1, 10, RUMOR_EINTR, 10, 0.2, &a);
        s_hello_config(&l, S_SESSION_2, 0x77, 10, 1.0, &a);
        rumor_link_tick(&l, 10, 1.1, &a);
        if (silent) {
            assert_null(s_find(&a, RUMOR_LINK_STOP)); /* the old session may still talk */
            rumor_link_tick(&l, 10, 0.1 + RUMOR_LINK_REFUSED_QUIET_S + 0.1, &a);
        }
        const rumor_link_action_t *stop = s_find(&a, RUMOR_LINK_STOP);
        assert_non_null(stop);
        assert_int_equal(stop->bye.code, RUMOR_EMISMATCH);
        assert_non_null(strstr(l.refusal, "run-config hash differs"));
        rumor_link_free(&l);
    }
}

/* Issue 20.4: a BYE naming another node, one saying node 1 finished long before the last
 * round, and one placing its stop before DIFFs it sent since are all dropped. */
static void test_forged_byes_are_dropped(void **state)
{
    (void)state;
    rumor_link_t l;
    rumor_link_actions_t a;
    s_running(&l, 0);
    for (uint32_t r = 0; r < 20; r++) s_diff(&l, r, r, r, 0.1, 0, &a);
    s_bye(&l, 3, 20, RUMOR_ENONFINITE, 20, 0.2, &a); /* blames node 3 */
    s_bye(&l, 1, 20, 0, 20, 0.2, &a);                /* "finished" in round 20 of 100 */
    s_bye(&l, 1, S_ROUNDS, 0, 20, 0.2, &a);          /* the last round, without its DIFFs */
    s_bye(&l, 1, 7, RUMOR_ENONFINITE, 20, 0.2, &a);  /* diverged in round 7: it sent 8..19 */
    assert_int_equal(l.drops[RUMOR_LINK_DROP_BYE] + l.drops[RUMOR_LINK_DROP_CLAIM], 4);
    assert_false(l.bye);
    assert_true(rumor_link_awaited(&l, 20));
    rumor_link_tick(&l, 20, 0.3, &a);
    assert_null(s_find(&a, RUMOR_LINK_STOP));
    rumor_link_free(&l);
}

/* Issue 20.5: a garbage DIFF at the awaited sequence number, of this round or (synchronous)
 * of the next, leaves the number awaited; the good one that follows counts. One past the
 * awaited number asks for a STATE only if it decodes. */
static void test_garbage_diff_does_not_use_up_its_sequence(void **state)
{
    (void)state;
    rumor_link_t l;
    rumor_link_actions_t a;
    s_running(&l, 0);
    s_diff(&l, 0, 0, 0, 0.1, RUMOR_EFORMAT, &a);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_DECODE], 1);
    assert_int_equal(l.recv_seq, 0);
    s_diff(&l, 0, 0, 0, 0.2, 0, &a);
    assert_false(rumor_link_awaited(&l, 0));
    s_diff(&l, 1, 1, 0, 0.3, RUMOR_EFORMAT, &a); /* early, undecodable */
    assert_false(l.has_early);
    assert_int_equal(l.recv_seq, 1);
    s_diff(&l, 1, 1, 0, 0.4, 0, &a);
    assert_true(l.has_early);
    rumor_link_begin_round(&l, 1, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_DELIVER, 0), 1);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_REPLAY], 0);
    s_diff(&l, 2, 2, 2, 0.5, RUMOR_ENONFINITE, &a); /* non-finite: awaited still */
    assert_int_equal(l.recv_seq, 2);
    s_diff(&l, 2, 2, 2, 0.6, 0, &a);
    assert_false(l.nonfinite);
    assert_int_equal(l.got, 2);
    s_diff(&l, 3, 9, 2, 0.7, RUMOR_EFORMAT, &a); /* a "gap" that is garbage: no resync */
    assert_int_equal(s_count(&a, RUMOR_LINK_SEND, RUMOR_WIRE_RESYNC), 0);
    assert_true(l.synced);
    assert_int_equal(l.resyncs, 0);
    rumor_link_free(&l);
}

/* Issue 20.7: a flood of RESYNC requests gets at most RUMOR_LINK_STATES_PER_SESSION STATEs,
 * then one per RUMOR_LINK_STATE_EVERY rounds (or, while we wait for node 1, one per
 * RUMOR_LINK_STATE_MIN_S); the rest are counted. */
static void test_state_answers_are_rate_limited(void **state)
{
    (void)state;
    rumor_link_t l;
    rumor_link_actions_t a;
    s_running(&l, 0);
    int states = 0;
    for (int i = 0; i < 100; i++) {
        s_frame(&l, RUMOR_WIRE_RESYNC, 0, 0, NULL, 0, 0, 1.0, &a);
        states += s_count(&a, RUMOR_LINK_SEND, RUMOR_WIRE_STATE);
    }
    assert_int_equal(states, RUMOR_LINK_STATES_PER_SESSION);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_RESYNC], 100 - RUMOR_LINK_STATES_PER_SESSION);
    s_frame(&l, RUMOR_WIRE_RESYNC, 0, 0, NULL, 0, 0, 1.0 + RUMOR_LINK_STATE_MIN_S, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_SEND, RUMOR_WIRE_STATE), 1); /* we wait for it */
    s_frame(&l, RUMOR_WIRE_RESYNC, 0, 0, NULL, 0, 0, 1.0 + RUMOR_LINK_STATE_MIN_S, &a);
    assert_int_equal(a.n, 0);
    assert_int_equal(l.states_sent, RUMOR_LINK_STATES_PER_SESSION + 1);
    rumor_link_free(&l);

    s_make(&l, 1, 0); /* deadline, within RUMOR_LINK_STATE_MIN_S: per K rounds */
    s_establish(&l, 0, 0);
    s_diff(&l, 0, 0, 0, 0.1, 0, &a);
    l.states_free = 0;
    s_frame(&l, RUMOR_WIRE_RESYNC, 0, 0, NULL, 0, 0, 1.0, &a);
    assert_int_equal(l.states_sent, 1);
    s_frame(&l, RUMOR_WIRE_RESYNC, 0, 0, NULL, 0, RUMOR_LINK_STATE_EVERY - 1, 1.5, &a);
    assert_int_equal(l.states_sent, 1);
    s_frame(&l, RUMOR_WIRE_RESYNC, 0, 0, NULL, 0, RUMOR_LINK_STATE_EVERY, 1.5, &a);
    assert_int_equal(l.states_sent, 2);
    rumor_link_free(&l);
}

/* Issue 20.12: a STATE nobody asked for is counted. */
static void test_unrequested_state_is_counted(void **state)
{
    (void)state;
    rumor_link_t l;
    rumor_link_actions_t a;
    s_running(&l, 0);
    s_state(&l, 0, 0, 0, 0.1, 0, &a);
    assert_int_equal(s_count(&a, RUMOR_LINK_INSTALL, 0), 0);
    assert_int_equal(l.drops[RUMOR_LINK_DROP_IGNORED], 1);
    rumor_link_free(&l);
}

static int s_quiet(void **state)
{
    (void)state;
    rumor_log_set_level(RUMOR_LOG_ERROR);
    return 0;
}

/* A link exported mid-recovery (a gap, a STATE awaited) and imported into a fresh link of the
 * same neighbour goes on exactly as the original; words it could not have are refused. */
static void test_export_import_round_trips(void **state)
{
    (void)state;
    rumor_link_t l, m;
    s_running(&l, 0);
    rumor_link_actions_t a;
    s_diff(&l, 0, 0, 0, 0.1, 0, &a);
    s_diff(&l, 1, 2, 1, 0.3, 0, &a); /* a gap: RESYNC, STATE awaited */
    assert_false(l.synced);
    uint64_t w[RUMOR_LINK_WORDS], v[RUMOR_LINK_WORDS];
    rumor_link_export(&l, w);
    s_make(&m, 0, 0);
    assert_int_equal(rumor_link_import(&m, w), 0);
    rumor_link_export(&m, v);
    assert_memory_equal(w, v, sizeof w);
    s_state(&l, 2, 3, 1, 0.4, 0, &a);
    s_state(&m, 2, 3, 1, 0.4, 0, &a);
    s_diff(&l, 2, 3, 2, 0.5, 0, &a);
    s_diff(&m, 2, 3, 2, 0.5, 0, &a);
    rumor_link_export(&l, w);
    rumor_link_export(&m, v);
    assert_memory_equal(w, v, sizeof w);
    assert_true(m.synced);
    w[5] = 2; /* synced is a flag */
    assert_int_equal(rumor_link_import(&m, w), RUMOR_EFORMAT);
    rumor_link_export(&l, w);
    w[19] = S_ROUNDS + 1; /* its round past the last */
    assert_int_equal(rumor_link_import(&m, w), RUMOR_EFORMAT);
    rumor_link_free(&l);
    rumor_link_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_then_diffs_in_order),
        cmocka_unit_test(test_repeated_hello_changes_nothing),
        cmocka_unit_test(test_restart_mid_round_exchanges_state),
        cmocka_unit_test(test_state_before_hello_is_dropped),
        cmocka_unit_test(test_sequence_gap_requests_state),
        cmocka_unit_test(test_duplicate_diff_is_a_replay),
        cmocka_unit_test(test_early_diff_waits_for_its_round),
        cmocka_unit_test(test_early_diff_survives_the_start_of_its_previous_round),
        cmocka_unit_test(test_lost_last_diff_is_recovered_from_heartbeats),
        cmocka_unit_test(test_late_diff_applied_in_deadline_mode),
        cmocka_unit_test(test_silent_neighbour_goes_down_and_comes_back),
        cmocka_unit_test(test_heartbeat_when_quiet),
        cmocka_unit_test(test_bye_finished_interrupted_and_error),
        cmocka_unit_test(test_nonfinite_diff_stops_synchronous_run),
        cmocka_unit_test(test_incompatible_hello_refused),
        cmocka_unit_test(test_round_claims_are_bounded),
        cmocka_unit_test(test_bad_hello_does_not_unseat_live_neighbour),
        cmocka_unit_test(test_restart_with_other_configuration_stops_sync_run),
        cmocka_unit_test(test_forged_byes_are_dropped),
        cmocka_unit_test(test_garbage_diff_does_not_use_up_its_sequence),
        cmocka_unit_test(test_state_answers_are_rate_limited),
        cmocka_unit_test(test_unrequested_state_is_counted),
        cmocka_unit_test(test_export_import_round_trips),
    };
    return cmocka_run_group_tests(tests, s_quiet, NULL);
}
