/* rumor — one neighbour session as a pure state machine (DESIGN.md sections 4 and 5).
 *
 * A link is what a peer knows about one graph neighbour: whether the two have shaken hands
 * (HELLO), the neighbour's session, the sequence numbers of the DIFFs each way, the last round
 * whose DIFF it delivered, whether a STATE is awaited, whether it is down or has left (BYE),
 * one DIFF of the next round that came early (synchronous rounds), and the drop counters by
 * reason. Events go in -- a parsed frame (rumor_link_on_frame), the passing of time
 * (rumor_link_tick, rumor_link_expire), the start of a round (rumor_link_begin_round) and the
 * outcome of the carrier's work (rumor_link_sent, rumor_link_delivered, rumor_link_installed)
 * -- and actions come out: send a frame of this type, deliver this DIFF to the peer, install
 * this STATE, mark the neighbour down or up, stop the run for this reason. A link opens no
 * socket, reads no clock and allocates nothing after rumor_link_init (its early slot is made
 * there), so the same code runs under sockets (node.c) and can be driven by scripted frames
 * in tests.
 *
 * Trust. A link only hears frames whose sender the carrier authenticated as its neighbour,
 * and a frame changes nothing but its own link. Within it, a frame may change only what its
 * sender could legitimately change, and every claim is checked against what the link has seen:
 *   - rounds: no frame is about a round past the scenario's last; in synchronous rounds, once
 *     the neighbour's HELLO is in, none is more than RUMOR_LINK_ROUND_WINDOW past the later of
 *     its round as the link knows it and ours. Other frames are dropped ("bad_round"). The
 *     neighbour's round is learnt only from its HELLO and from DIFFs that were applied;
 *   - HELLO: an incompatible HELLO while a session is established is dropped and counted; it
 *     does not unseat the live neighbour. If it came from a new session and the live one has
 *     gone (said it was interrupted, or has been silent RUMOR_LINK_REFUSED_QUIET_S), a
 *     synchronous run stops with the mismatch named (a careless restart);
 *   - BYE: only about the sender itself (origin = sender), in a round no earlier than its last
 *     applied DIFF; "finished" only in the last round, after its DIFF of the round before;
 *   - DIFF: its sequence number is used up only once it decoded (and, but for the early slot,
 *     was applied); a DIFF that the codec or the gossip refuses leaves the number awaited,
 *     and one after a gap asks for a STATE only if it decodes;
 *   - HEARTBEAT: its sequence number is the neighbour's next DIFF's. In synchronous rounds, one
 *     past the DIFFs the link took while the round waits for its DIFF says that DIFF was lost
 *     (the last of the edge: no later DIFF shows the gap) and asks for a STATE, as a gap does;
 *     believed only if it sent at most one DIFF per round since the last one the link took,
 *     up to the heartbeat's round (else "bad_round");
 *   - RESYNC: answered with at most one STATE per RUMOR_LINK_STATE_EVERY rounds of ours, beyond
 *     the two a new session may need; while this peer waits for that neighbour, one per
 *     RUMOR_LINK_STATE_MIN_S seconds. The rest are counted ("resync_limited").
 *
 * Typical carrier loop (node.c):
 *   rumor_link_init(&l, &cfg);                       // one per neighbour, at setup
 *   rumor_link_actions_t a;
 *   rumor_link_on_frame(&l, &h, payload, round, now, &a);  // each frame from it
 *   rumor_link_tick(&l, round, now, &a);             // every time the loop wakes up
 *   // for each a.act[i]: SEND -> build the frame, send it, rumor_link_sent();
 *   //   DELIVER -> rumor_peer_deliver(), rumor_link_delivered(); INSTALL -> decode the STATE
 *   //   into the public copy, rumor_link_installed(); DOWN/UP -> gossip; STOP -> end the run
 *   rumor_link_free(&l);
 */
#ifndef RUMOR_LINK_H
#define RUMOR_LINK_H

#include "rumor/err.h"
#include "rumor/wire.h"

#include <stddef.h>
#include <stdint.h>

/* Synchronous rounds: a frame's round is believed up to this many rounds past the later of
 * the neighbour's known round and ours (neighbours that both run are at most a round apart).
 * Deadline neighbours may drift by any number of rounds; their frames are only bounded by the
 * last round. */
#define RUMOR_LINK_ROUND_WINDOW 2
/* K: at most one STATE (4 d bytes) per neighbour per this many rounds of ours. At 0.9 bits
 * per parameter and round of DIFFs, RESYNC requests can add at most half of that again. */
#define RUMOR_LINK_STATE_EVERY 64
/* ... and while the round waits for that neighbour (it may be waiting for our STATE), one
 * per this many seconds. */
#define RUMOR_LINK_STATE_MIN_S 2.0
/* A new session answers at most this many STATE requests outside the limit (its HELLO's and
 * one repeat: the first may arrive before our HELLO and be dropped). */
#define RUMOR_LINK_STATES_PER_SESSION 2
/* A synchronous run stops on a neighbour that came back with an incompatible configuration
 * once its old session said it was interrupted or has been silent this long (seconds). */
#define RUMOR_LINK_REFUSED_QUIET_S 5.0
/* A synchronous run stops on a neighbour whose awaited DIFF had non-finite values and no good
 * one came within this long (seconds): the good one may be in flight behind a forgery. */
#define RUMOR_LINK_NONFINITE_GRACE_S 1.0
/* HELLO repeated this often until the handshake is complete (seconds). */
#define RUMOR_LINK_HELLO_EVERY_S 0.25
/* RESYNC repeated this often while a STATE is awaited (the first request or answer may have
 * been sent before the connection was up) (seconds). */
#define RUMOR_LINK_RESYNC_EVERY_S 0.5

/* Why a frame that passed the wire checks was still dropped by its link. */
typedef enum {
    RUMOR_LINK_DROP_REPLAY = 0, /* DIFF with a sequence number already used */
    RUMOR_LINK_DROP_ROUND,      /* DIFF for a round that can no longer be used */
    RUMOR_LINK_DROP_DECODE,     /* DIFF payload the codec or the gossip refused */
    RUMOR_LINK_DROP_NONFINITE,  /* DIFF with NaN or infinite values */
    RUMOR_LINK_DROP_UNSYNCED,   /* DIFF while a STATE is awaited, STATE before the HELLO */
    RUMOR_LINK_DROP_HELLO,      /* HELLO that is malformed or incompatible */
    RUMOR_LINK_DROP_STATE,      /* malformed STATE */
    RUMOR_LINK_DROP_BYE,        /* malformed BYE, or one the sender cannot say */
    RUMOR_LINK_DROP_CLAIM,      /* a round (or a HEARTBEAT's DIFFs) the link cannot believe */
    RUMOR_LINK_DROP_IGNORED,    /* STATE that came when none was awaited */
    RUMOR_LINK_DROP_RESYNC,     /* RESYNC over the STATE rate limit (not answered) */
    RUMOR_LINK_DROP_COUNT
} rumor_link_drop_t;

/* "replay", "stale_round", ...: the metrics' names. Never NULL. */
const char *rumor_link_drop_name(rumor_link_drop_t why);

typedef enum {
    RUMOR_LINK_SEND = 1, /* send a frame of type .frame (HELLO, STATE, RESYNC, HEARTBEAT) */
    RUMOR_LINK_DELIVER,  /* apply DIFF (.h, .payload) to the peer; then rumor_link_delivered */
    RUMOR_LINK_CHECK,    /* decode DIFF (.h, .payload) without applying it (one of the next
                        round, or one after a gap); then rumor_link_checked */
    RUMOR_LINK_INSTALL,  /* decode STATE (.h, .payload) into the neighbour's public copy; then
                            rumor_link_installed */
    RUMOR_LINK_DOWN,     /* leave the neighbour out of the mix */
    RUMOR_LINK_UP,       /* take it back into the mix */
    RUMOR_LINK_STOP,     /* a synchronous run cannot go on: .bye says why (its origin is the
                            neighbour) */
} rumor_link_act_t;

typedef struct {
    rumor_link_act_t act;
    uint8_t frame;          /* SEND: rumor_wire_type_t */
    rumor_wire_header_t h;  /* DELIVER, INSTALL: the frame's header */
    const uint8_t *payload; /* DELIVER, INSTALL: into the caller's frame or the early slot */
    rumor_wire_bye_t bye;   /* STOP */
} rumor_link_action_t;

#define RUMOR_LINK_MAX_ACTIONS 4

/* What one event asks of the carrier, in order. */
typedef struct {
    rumor_link_action_t act[RUMOR_LINK_MAX_ACTIONS];
    int n;
} rumor_link_actions_t;

typedef struct {
    uint32_t self, id;               /* this node, the neighbour */
    uint32_t n;                      /* nodes in the topology */
    uint32_t last_round;             /* the scenario's rounds: no frame is about a later one */
    int deadline;                    /* deadline rounds; 0: synchronous */
    uint64_t session;                /* our session id (HELLO's sequence field) */
    const rumor_wire_hello_t *hello; /* ours, compared with theirs; must outlive the link */
    size_t frame_cap;                /* largest payload: the early slot's size (synchronous) */
    double liveness_s;               /* deadline: silent this long, the neighbour is down */
    double heartbeat_s;              /* nothing sent this long: a HEARTBEAT */
    int resumed;                     /* this peer resumed from a checkpoint: STATE awaited */
    double now;
} rumor_link_cfg_t;

/* One neighbour session. Callers read the fields (progress lines, metrics) and change them
 * only through the functions below. */
typedef struct {
    rumor_link_cfg_t cfg;
    int hello;             /* a compatible HELLO was received */
    int hello_acked;       /* one of our HELLOs was queued after the connection came up */
    int refused;           /* handshake: its HELLO was incompatible, no compatible one came */
    char refusal[192];     /* what differed in the last incompatible HELLO */
    double refused_at;     /* when an incompatible HELLO of a new session came (0: none) */
    int nonfinite;         /* its awaited DIFF had non-finite values (its model diverged?) */
    double nonfinite_at;   /* ... since then */
    int bye;               /* it left the run: finished (left.code 0) or stopped by an error */
    rumor_wire_bye_t left; /* its BYE */
    int synced;            /* recv_seq is known (0 while a STATE is awaited) */
    int down;              /* marked down by the liveness timeout or its BYE (deadline) */
    uint64_t session;      /* its session id (from its HELLO) */
    uint64_t send_seq;     /* sequence number of our next DIFF to it */
    uint64_t recv_seq;     /* sequence number of its next DIFF */
    uint32_t round;        /* its latest round the link believes */
    int64_t got;           /* last round whose DIFF from it was absorbed (-1: none) */
    double last_heard;     /* any frame from it */
    double last_valid;     /* a frame from it that was not dropped */
    double last_sent, last_hello, last_resync;
    int64_t state_round;         /* our round when we last sent it a STATE (-1: never) */
    double state_time;           /* ... and when */
    int states_free;             /* STATEs its session may still have outside the limit */
    int has_early;               /* synchronous: one DIFF of the next round came early: */
    rumor_wire_header_t early_h; /* its header */
    uint8_t *early;              /* its payload (early_h.len bytes; frame_cap allocated) */
    uint64_t bytes_sent, bytes_recv;
    uint64_t drops[RUMOR_LINK_DROP_COUNT];
    uint64_t resyncs, late_applied, heartbeats, downs, states_sent;
} rumor_link_t;

/* Sets up l for neighbour cfg->id; allocates the early slot (synchronous rounds). Returns 0
 * or RUMOR_ENOMEM. */
int rumor_link_init(rumor_link_t *l, const rumor_link_cfg_t *cfg);

/* Frees the early slot; l may be zeroed or initialised. */
void rumor_link_free(rumor_link_t *l);

/* The header of a frame of `type` to the neighbour with a payload of len bytes, sent in our
 * round: its sequence field is our session for a HELLO, the next DIFF's number otherwise. */
rumor_wire_header_t rumor_link_header(const rumor_link_t *l, uint8_t type, uint32_t round,
                                      size_t len);

/* A frame from the neighbour (parsed, sender authenticated and equal to h->sender), while
 * this peer is in `round`. */
void rumor_link_on_frame(rumor_link_t *l, const rumor_wire_header_t *h, const uint8_t *payload,
                         uint32_t round, double now, rumor_link_actions_t *out);

/* Time passed: HELLO and RESYNC repeats, HEARTBEATs, and (synchronous) a STOP when round
 * `round` can never complete because of this neighbour. */
void rumor_link_tick(rumor_link_t *l, uint32_t round, double now, rumor_link_actions_t *out);

/* Deadline rounds, at a deadline: DOWN if the neighbour has been silent past liveness_s. */
void rumor_link_expire(rumor_link_t *l, double now, rumor_link_actions_t *out);

/* Synchronous rounds: round `round` starts; DELIVER the early DIFF if it is of this round
 * (one of a later round stays for it). */
void rumor_link_begin_round(rumor_link_t *l, uint32_t round, rumor_link_actions_t *out);

/* The carrier tried to send a frame of `type` of `bytes` bytes; rc is the transport's code.
 * A DIFF uses up a sequence number whether or not it left (a lost one makes a gap). */
void rumor_link_sent(rumor_link_t *l, uint8_t type, int rc, size_t bytes, double now);

/* The outcome of a DELIVER action whose header was h: rc from rumor_peer_deliver. */
void rumor_link_delivered(rumor_link_t *l, const rumor_wire_header_t *h, int rc, uint32_t round,
                          double now);

/* The outcome of a CHECK action (h, payload as in the action): rc from the decoder. A DIFF
 * after a gap that decodes asks for the neighbour's STATE (a garbage one cannot). */
void rumor_link_checked(rumor_link_t *l, const rumor_wire_header_t *h, const uint8_t *payload,
                        int rc, rumor_link_actions_t *out);

/* The outcome of an INSTALL action whose header was h: rc 0 and the STATE's round, or the
 * decoder's error. */
void rumor_link_installed(rumor_link_t *l, const rumor_wire_header_t *h, int rc,
                          uint32_t state_round);

/* Handshake done both ways. */
int rumor_link_established(const rumor_link_t *l);

/* Established and holding its public copy (no STATE awaited). */
int rumor_link_ready(const rumor_link_t *l);

/* 1 while round `round` must wait for this neighbour's DIFF. */
int rumor_link_awaited(const rumor_link_t *l, uint32_t round);

/* A link's session state as 64-bit words, for a carrier that checkpoints its links with its
 * own state (the simulator): everything but the configuration's pointers and the early slot,
 * which must be empty (between rounds, it is). */
#define RUMOR_LINK_WORDS (33 + RUMOR_LINK_DROP_COUNT)
void rumor_link_export(const rumor_link_t *l, uint64_t w[RUMOR_LINK_WORDS]);

/* Restores what rumor_link_export wrote into l, initialised for the same neighbour. Returns 0,
 * or RUMOR_EFORMAT (l unchanged) when a flag is not 0 or 1 or a round is out of range. */
RUMOR_NODISCARD int rumor_link_import(rumor_link_t *l, const uint64_t w[RUMOR_LINK_WORDS]);

/* "node 3's model diverged in round 212", "node 5 stopped in round 40: timed out",
 * "node 2 was interrupted in round 300" into buf (NUL-terminated when cap > 0). Returns buf. */
const char *rumor_link_explain_bye(const rumor_wire_bye_t *b, char *buf, size_t cap);

#endif
