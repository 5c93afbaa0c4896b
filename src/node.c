/* rumor — one networked peer (see node.h): the socket carrier of the link state machine.
 *
 * Single-threaded event loop around one transport. Per round: one step (compute), one DIFF
 * frame per neighbour, then frames are received until the round may close. Each neighbour's
 * session (handshake, sequence numbers, resync, liveness, BYE) is a rumor_link_t; this file
 * moves frames between the links and the transport, executes their actions on the peer and
 * the gossip, and keeps the clock. Buffers for outgoing and incoming frames and each link's
 * early slot are allocated at start. A session is driven round by round (rumor_node_round):
 * rumor_node_run drives it for `rumor peer`, librumor (api.c) for a caller's own model.
 * Metrics records are written by node_metrics.c.
 */
#include "node_internal.h"

#include "rumor/clock.h"
#include "rumor/node.h"
#include "rumor/carrier.h"
#include "rumor/checkpoint.h"
#include "rumor/cmsg.h"
#include "rumor/codec.h"
#include "rumor/file.h"
#include "rumor/keys.h"
#include "rumor/link.h"
#include "rumor/log.h"
#include "rumor/peer.h"
#include "rumor/transport.h"
#include "rumor/wire.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

/* ---- timing and bounds ------------------------------------------------------------------
 * Send timeouts: how long a send may wait for room in a neighbour's queue, which exists only
 * while its connection is up (transport.h). */
#define S_SEND_HELLO_MS         50   /* repeated every RUMOR_LINK_HELLO_EVERY_S anyway */
#define S_SEND_STATE_MS         1000 /* a neighbour waits for it; large (4 d bytes) */
#define S_SEND_RESYNC_MS        100  /* repeated every RUMOR_LINK_RESYNC_EVERY_S while awaited */
#define S_SEND_BYE_MS           100  /* the last word: worth a short wait, not more */
#define S_SEND_DIFF_MS          100 /* synchronous: retried (draining our own queue) up to --wait */
#define S_SEND_DIFF_DEADLINE_MS 20  /* deadline: a DIFF that cannot leave is a gap (resync) */
/* Frames handled per drain: 64 + 4 per neighbour, so that a flood cannot hold a round. */
#define S_DRAIN_FRAMES         64
#define S_DRAIN_FRAMES_PER_NBR 4
/* How long a wait blocks in one receive (ms): short enough to repeat HELLOs and to notice a
 * signal; the receive is cut shorter when a HEARTBEAT is due. */
#define S_PUMP_HANDSHAKE_MS 50
#define S_PUMP_WAIT_MS      200
#define S_PUMP_LINGER_MS    100
/* Progress notes while waiting (seconds apart). */
#define S_NOTE_HANDSHAKE_S 5.0
#define S_NOTE_ROUND_S     10.0
/* After the last round, BYE and answer resync requests for at most this long; on a signal,
 * give the round this long to complete so the checkpoint lands on a round boundary. */
#define S_LINGER_S          3.0
#define S_INTERRUPT_GRACE_S 3.0
/* --wait default; liveness default: 3 deadlines, at least 1 s; a HEARTBEAT after a quarter
 * of the liveness timeout with nothing sent. */
#define S_WAIT_DEFAULT_S          300
#define S_LIVENESS_DEADLINES      3
#define S_LIVENESS_MIN_MS         1000
#define S_HEARTBEATS_PER_LIVENESS 4
/* Transport queues: synchronous rounds keep at most two DIFFs per edge in flight; room for
 * resync traffic. */
#define S_SNDHWM 64
#define S_RCVHWM 4096

/* 1 once the command's stop flag is set (by its SIGINT/SIGTERM handler). */
#define S_STOPPED(n) ((n)->o->stop && *(n)->o->stop)

typedef rumor_node_session_t s_node_t;

static rumor_link_t *s_link(s_node_t *n, uint32_t id)
{
    const int slot = rumor_gossip_slot(rumor_peer_gossip(n->peer), id);
    return slot < 0 ? NULL : &n->nb[slot];
}

/* Sends a frame of `type` with payload[0..len) (NULL when empty) to l's neighbour; returns
 * the transport's code and the frame's size in *flen. */
static int s_transmit(s_node_t *n, rumor_link_t *l, uint8_t type, const uint8_t *payload,
                      size_t len, int timeout_ms, size_t *flen)
{
    const rumor_wire_header_t h = rumor_link_header(l, type, rumor_peer_round(n->peer), len);
    RUMOR_ASSERT(rumor_wire_encode_frame(&h, payload, len, n->out, n->frame_cap, flen) == 0);
    const int rc = rumor_transport_send(n->tr, l->cfg.id, n->out, *flen, timeout_ms);
    if (rc == 0) n->wire_bytes += rumor_transport_wire_bytes(*flen, !n->o->insecure);
    return rc;
}

static int s_send(s_node_t *n, rumor_link_t *l, uint8_t type, const uint8_t *payload, size_t len,
                  int timeout_ms)
{
    size_t flen;
    const int rc = s_transmit(n, l, type, payload, len, timeout_ms, &flen);
    rumor_link_sent(l, type, rc, flen, rumor_clock_now());
    return rc;
}

/* A frame a link asked for: HELLO (ours, with our round), STATE (our public copy and the
 * round from which it is valid), RESYNC or HEARTBEAT. */
static void s_send_type(void *ctx, rumor_link_t *l, uint8_t type)
{
    s_node_t *n = ctx;
    if (type == RUMOR_WIRE_HELLO) {
        uint8_t p[RUMOR_WIRE_HELLO_BYTES];
        n->hello.resume_round = rumor_peer_round(n->peer);
        RUMOR_ASSERT(rumor_wire_encode_hello(&n->hello, p, sizeof p) == 0);
        s_send(n, l, type, p, sizeof p, S_SEND_HELLO_MS);
    } else if (type == RUMOR_WIRE_STATE) {
        size_t len;
        uint8_t *payload = n->out + RUMOR_WIRE_HEADER_BYTES;
        const float *own = rumor_peer_public_copy(n->peer);
        /* The copy is valid at the start of the next round once this round's step has added
         * its message: the receiver must not wait for that DIFF too. */
        const uint32_t valid = rumor_peer_round(n->peer) + (uint32_t)n->stepped;
        RUMOR_ASSERT(rumor_wire_encode_state(valid, own, n->pub, payload,
                                             n->frame_cap - RUMOR_WIRE_HEADER_BYTES, &len) == 0);
        s_send(n, l, type, payload, len, S_SEND_STATE_MS);
    } else {
        s_send(n, l, type, NULL, 0, type == RUMOR_WIRE_RESYNC ? S_SEND_RESYNC_MS : 0);
    }
}

static void s_stop_run(void *ctx, rumor_link_t *l, const rumor_wire_bye_t *why)
{
    s_node_t *n = ctx;
    if (!n->failed) {
        n->failed = l;
        n->failure = *why;
    }
}

static void s_marked(void *ctx, rumor_link_t *l, int up)
{
    const s_node_t *n = ctx;
    if (up) rumor_info("node %u: node %u is back", n->self, l->cfg.id);
}

static const rumor_carrier_t s_carrier = {
    .send = s_send_type, .stop = s_stop_run, .marked = s_marked};

/* Carries out what link l asked for. */
static void s_act(s_node_t *n, rumor_link_t *l, const rumor_link_actions_t *a)
{
    rumor_carrier_act(l, n->peer, rumor_peer_round(n->peer), rumor_clock_now(), a, &s_carrier, n);
}

/* Receives and handles frames for up to timeout_ms; returns after the first frame: 1, or 0
 * when none came. */
static int s_pump(s_node_t *n, int timeout_ms)
{
    const double now = rumor_clock_now();
    const uint32_t round = rumor_peer_round(n->peer);
    for (uint32_t k = 0; k < n->deg; k++) {
        rumor_link_actions_t a;
        rumor_link_tick(&n->nb[k], round, now, &a);
        s_act(n, &n->nb[k], &a);
    }
    /* Wake up in time for the next heartbeat. */
    const int beat_ms = n->liveness_ms / S_HEARTBEATS_PER_LIVENESS + 1;
    if (timeout_ms > beat_ms) timeout_ms = beat_ms;
    uint32_t from;
    size_t len;
    const int rc = rumor_transport_recv(n->tr, timeout_ms, &from, n->in, n->frame_cap, &len);
    if (rc == RUMOR_ETIMEOUT || rc == RUMOR_EINTR) return 0;
    if (rc != 0) {
        n->drops[RUMOR_NODE_DROP_TRANSPORT]++;
        return 1;
    }
    rumor_wire_header_t h;
    const uint8_t *p;
    rumor_wire_drop_t why;
    if (rumor_wire_parse(n->in, len, n->topo->n, n->max_payload, &h, &p, &why) != 0) {
        n->wire_drops[why]++;
        return 1;
    }
    rumor_link_t *l = s_link(n, from);
    if (!l || h.sender != from) {
        n->drops[RUMOR_NODE_DROP_IMPOSTOR]++;
        return 1;
    }
    rumor_link_actions_t a;
    rumor_link_on_frame(l, &h, p, rumor_peer_round(n->peer), rumor_clock_now(), &a);
    s_act(n, l, &a);
    return 1;
}

/* Handles every frame that has already arrived, without waiting (bounded, so a flood cannot
 * hold the round). In deadline mode a round can close with nobody awaited (every neighbour
 * down), and a peer that was not running for a while (stopped, swapped out) finds its
 * neighbours' frames queued: both must be heard before anyone is judged silent. */
static void s_drain(s_node_t *n)
{
    for (uint32_t i = 0; i < S_DRAIN_FRAMES + S_DRAIN_FRAMES_PER_NBR * n->deg && s_pump(n, 0);
         i++) {
    }
}

/* The error of a stop a link asked for (synchronous rounds). This peer's BYE then names
 * itself, with the same code: a BYE only ever speaks of its sender. */
static int s_failure(s_node_t *n, uint32_t t, rumor_errmsg_t *em)
{
    const rumor_link_t *l = n->failed;
    const int code = n->failure.code;
    char why[160];
    n->stop = (rumor_wire_bye_t){.origin = n->self, .round = t, .code = code};
    if (code == RUMOR_ENONFINITE && !l->bye)
        return rumor_errmsg_set(em, code,
                                "node %u: round %u: node %u's model diverged (it sent "
                                "non-finite values); stopping, as rumor sim does",
                                n->self, t, l->cfg.id);
    if (code == RUMOR_EMISMATCH && !(l->bye && l->left.code == code))
        return rumor_errmsg_set(em, code,
                                "node %u: round %u: node %u came back with a mismatched "
                                "configuration (%s); a synchronous run cannot go on without it",
                                n->self, t, l->cfg.id, l->refusal);
    return rumor_errmsg_set(em, code,
                            "node %u: round %u: node %u left the run (%s); a synchronous run "
                            "cannot go on without it",
                            n->self, t, l->cfg.id,
                            rumor_link_explain_bye(&l->left, why, sizeof why));
}

/* How an awaited neighbour is: "alive, last heard 0.3 s ago", "silent since 61.0 s ago". */
static const char *s_how(const s_node_t *n, const rumor_link_t *l, double now, char *buf,
                         size_t cap)
{
    const double quiet = now - l->last_valid;
    snprintf(buf, cap, "%s %.1f s ago",
             l->bye && l->left.code == RUMOR_EINTR ? "interrupted, to be restarted; last heard"
             : quiet * 1000 < n->liveness_ms       ? "alive, last heard"
                                                   : "silent since",
             quiet);
    return buf;
}

/* After --wait seconds without round t completing: who was awaited, and how it was. */
static int s_stalled(const s_node_t *n, uint32_t t, double now, rumor_errmsg_t *em)
{
    char list[384] = "", how[64];
    size_t at = 0;
    for (uint32_t k = 0; k < n->deg && at < sizeof list - 128; k++) {
        const rumor_link_t *l = &n->nb[k];
        if (!rumor_link_awaited(l, t)) continue;
        at += (size_t)snprintf(list + at, sizeof list - at,
                               "%snode %u (%s, its last DIFF of round %" PRId64 ")", at ? ", " : "",
                               l->cfg.id, s_how(n, l, now, how, sizeof how), l->got);
    }
    return rumor_errmsg_set(em, RUMOR_ETIMEOUT, "node %u: round %u: no DIFF within %u s from %s",
                            n->self, t, n->o->wait_s, list);
}

/* Waits until every neighbour has shaken hands (or, on a restart, is known to be gone). */
static int s_handshake(s_node_t *n, rumor_errmsg_t *em)
{
    const double t0 = rumor_clock_now();
    double last_note = t0;
    for (;;) {
        uint32_t missing = 0;
        for (uint32_t k = 0; k < n->deg; k++) missing += !rumor_link_ready(&n->nb[k]);
        if (!missing) return 0;
        if (S_STOPPED(n)) return rumor_errmsg_set(em, RUMOR_EINTR, "interrupted while waiting");
        if (n->failed) return s_failure(n, rumor_peer_round(n->peer), em);
        const double waited = rumor_clock_now() - t0;
        if (n->o->progress && rumor_clock_now() - last_note > S_NOTE_HANDSHAKE_S) {
            char list[256] = "";
            size_t at = 0;
            for (uint32_t k = 0; k < n->deg && at < sizeof list - 16; k++)
                if (!rumor_link_ready(&n->nb[k]))
                    at += (size_t)snprintf(list + at, sizeof list - at, "%s%u%s", at ? ", " : "",
                                           n->nb[k].cfg.id, n->nb[k].refused ? " (refused)" : "");
            fprintf(n->o->progress, "node %u: waiting for neighbours %s (%.0f s)\n", n->self, list,
                    waited);
            last_note = rumor_clock_now();
        }
        if (waited > n->o->wait_s)
            return rumor_errmsg_set(em, RUMOR_ETIMEOUT,
                                    "node %u: %u neighbour(s) did not shake hands within %u s",
                                    n->self, missing, n->o->wait_s);
        s_pump(n, S_PUMP_HANDSHAKE_MS);
    }
}

/* Sends this round's DIFF msg[0..len) to every neighbour. */
static void s_send_diffs(s_node_t *n, const uint8_t *msg, size_t len)
{
    for (uint32_t k = 0; k < n->deg; k++) {
        rumor_link_t *l = &n->nb[k];
        if (l->bye) continue;
        const double t0 = rumor_clock_now();
        /* A neighbour that is down gets no waiting at all in deadline mode. */
        const int timeout = !n->sc.deadline ? S_SEND_DIFF_MS
                            : l->down       ? 0
                                            : S_SEND_DIFF_DEADLINE_MS;
        size_t flen;
        int rc;
        for (;;) {
            rc = s_transmit(n, l, RUMOR_WIRE_DIFF, msg, len, timeout, &flen);
            if (rc == 0) break;
            /* Sync mode must deliver; deadline mode moves on (the gap triggers a resync). */
            if (n->sc.deadline || S_STOPPED(n) || l->bye || rumor_clock_now() - t0 > n->o->wait_s)
                break;
            /* Keep draining our own queue so neighbours blocked on us can progress. */
            s_pump(n, 0);
        }
        rumor_link_sent(l, RUMOR_WIRE_DIFF, rc, flen, rumor_clock_now());
    }
}

/* 1 when round t may close: every live neighbour's DIFF of round t is in. */
static int s_round_complete(const s_node_t *n, uint32_t t)
{
    for (uint32_t k = 0; k < n->deg; k++)
        if (rumor_link_awaited(&n->nb[k], t)) return 0;
    return 1;
}

static void s_mark_down(s_node_t *n)
{
    const double now = rumor_clock_now();
    for (uint32_t k = 0; k < n->deg; k++) {
        rumor_link_t *l = &n->nb[k];
        rumor_link_actions_t a;
        rumor_link_expire(l, now, &a);
        if (!a.n) continue;
        rumor_warn("node %u: node %u silent for %.1f s; mixing without it", n->self, l->cfg.id,
                   now - l->last_heard);
        s_act(n, l, &a);
    }
}

/* Every 10 s of a synchronous wait: who is awaited, and whether it is alive. */
static void s_note_waiting(s_node_t *n, uint32_t t, double now, double waited)
{
    char how[64];
    for (uint32_t k = 0; k < n->deg; k++) {
        const rumor_link_t *l = &n->nb[k];
        if (l->got >= (int64_t)t || (l->bye && l->left.code != RUMOR_EINTR)) continue;
        fprintf(n->o->progress, "node %u: round %u: waiting for node %u (%.0f s; %s)\n", n->self, t,
                l->cfg.id, waited, s_how(n, l, now, how, sizeof how));
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
            rumor_link_actions_t a;
            rumor_link_begin_round(&n->nb[k], t, &a);
            s_act(n, &n->nb[k], &a);
        }
    }
    if (n->sc.deadline) s_drain(n);
    while (!s_round_complete(n, t)) {
        const double now = rumor_clock_now(), waited = now - t0;
        if (S_STOPPED(n)) return RUMOR_EINTR;
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
        if (n->failed) return s_failure(n, t, em);
        if (waited > n->o->wait_s) return s_stalled(n, t, now, em);
        if (n->o->progress && now - last_note > S_NOTE_ROUND_S) {
            s_note_waiting(n, t, now, waited);
            last_note = now;
        }
        s_pump(n, S_PUMP_WAIT_MS);
    }
    return 0;
}

/* Evaluates and writes a metrics record; stop as for rumor_node_write_metrics. */
static void s_record(s_node_t *n, const char *stop)
{
    if (!n->data_loaded) { /* an external model: its caller evaluates it */
        rumor_node_write_metrics(n, NAN, NAN, NAN, stop);
        return;
    }
    const double loss = rumor_peer_take_loss(n->peer);
    double tl, acc;
    const double c0 = rumor_clock_thread_cpu();
    rumor_peer_evaluate(n->peer, &n->data.test, n->sc.eval_samples, &tl, &acc);
    n->cpu_eval += rumor_clock_thread_cpu() - c0;
    rumor_node_write_metrics(n, loss, tl, acc, stop);
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

/* (Re)starts the session with every neighbour; resumed: this peer's state came from a
 * checkpoint, so incoming sequence numbers are unknown until each STATE is in. */
static int s_init_links(s_node_t *n, int resumed, rumor_errmsg_t *em)
{
    const uint32_t *ids = rumor_topology_neighbors(n->topo, n->self);
    const double now = rumor_clock_now();
    for (uint32_t k = 0; k < n->deg; k++) {
        rumor_link_free(&n->nb[k]);
        const rumor_link_cfg_t lc = {
            .self = n->self,
            .id = ids[k],
            .n = n->topo->n,
            .last_round = n->sc.rounds,
            .deadline = n->sc.deadline != 0,
            .session = n->session,
            .hello = &n->hello,
            .frame_cap = n->max_payload,
            .liveness_s = n->liveness_ms / 1000.0,
            .heartbeat_s = n->liveness_ms / 1000.0 / S_HEARTBEATS_PER_LIVENESS,
            .resumed = resumed,
            .now = now,
        };
        if (rumor_link_init(&n->nb[k], &lc))
            return rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory");
    }
    return 0;
}

static int s_setup(s_node_t *n, rumor_errmsg_t *em)
{
    const rumor_node_opts_t *o = n->o;
    int rc = o->config_json
                 ? rumor_scenario_parse(o->config_json, o->config ? o->config : "scenario", ".",
                                        &n->sc, em)
                 : rumor_scenario_load(o->config, &n->sc, em);
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
    const rumor_topology_node_t *me = &n->topo->nodes[n->self];
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
    rumor_model_spec_t spec;
    const int external = rumor_model_spec_parse(n->sc.model, 1, 2, &spec, NULL) == 0 &&
                         spec.kind == RUMOR_MODEL_EXTERNAL;
    rumor_peer_cfg_t pc = {
        .sc = &n->sc, .topo = n->topo, .self = n->self, .eval_batch = RUMOR_PEER_EVAL_ROWS};
    if (!external) { /* an external model has no data: its caller steps it */
        if ((rc = rumor_peer_data_load(&n->sc, n->topo->n, n->self, &n->data, em))) return rc;
        n->data_loaded = 1;
        pc = rumor_peer_data_cfg(&n->data, &n->sc, n->topo, n->self, RUMOR_PEER_EVAL_ROWS);
    }
    if ((rc = rumor_peer_create(&pc, &n->peer, em))) return rc;
    if ((rc = rumor_peer_set_byzantine(n->peer, &o->byzantine)))
        return rumor_errmsg_set(em, rc, "node %u: --byzantine: %s", o->id,
                                rc == RUMOR_EINVAL ? "beer has no Byzantine mode"
                                                   : "out of memory");
    const size_t d = rumor_peer_dim(n->peer);
    const uint32_t pub = rumor_gossip_public_dim(rumor_peer_gossip(n->peer));
    if (d > UINT32_MAX || !rumor_wire_payload_bound(pub, rumor_peer_msg_bound(&n->sc, (uint32_t)d)))
        return rumor_errmsg_set(em, RUMOR_ERANGE,
                                "node %u: the model's %zu parameters make frames larger than the "
                                "wire carries (4 GiB)",
                                n->self, d);
    n->d = (uint32_t)d;
    n->pub = pub;
    n->deg = rumor_topology_degree(n->topo, n->self);
    n->max_payload = rumor_wire_payload_bound(n->pub, rumor_peer_msg_bound(&n->sc, n->d));
    n->frame_cap = rumor_wire_frame_bytes(n->max_payload);
    n->out = malloc(n->frame_cap);
    n->in = malloc(n->frame_cap);
    n->nb = calloc(n->deg ? n->deg : 1, sizeof *n->nb);
    if (!n->out || !n->in || !n->nb) return rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory");
    const uint32_t *ids = rumor_topology_neighbors(n->topo, n->self);
    int resumed = 0;

    if (o->checkpoint_dir) {
        if (rumor_checkpoint_path(n->ckpt_path, sizeof n->ckpt_path, o->checkpoint_dir, n->self))
            return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", o->checkpoint_dir);
        if ((rc = rumor_file_mkdir(o->checkpoint_dir, 0755, em))) return rc;
        struct stat st;
        if (stat(n->ckpt_path, &st) == 0) {
            if ((rc = rumor_checkpoint_load(n->ckpt_path, n->peer, n->topo_hash, em))) return rc;
            rumor_info("node %u: resuming from %s at round %u", n->self, n->ckpt_path,
                       rumor_peer_round(n->peer));
            resumed = 1; /* incoming sequence numbers are unknown until each STATE is in */
        }
    }

    randombytes_buf(&n->session, sizeof n->session);
    n->hello = (rumor_wire_hello_t){.version = RUMOR_WIRE_PROTOCOL, .sender = n->self, .dim = n->d};
    memcpy(n->hello.topology_hash, n->topo_hash, 32);
    memcpy(n->hello.config_hash, n->sc.hash, 32);
    n->liveness_ms = o->liveness_ms ? o->liveness_ms
                                    : (S_LIVENESS_DEADLINES * n->sc.deadline_ms > S_LIVENESS_MIN_MS
                                           ? S_LIVENESS_DEADLINES * n->sc.deadline_ms
                                           : S_LIVENESS_MIN_MS);
    if ((rc = s_init_links(n, resumed, em))) return rc;

    rumor_transport_nbr_t *tn = calloc(n->deg ? n->deg : 1, sizeof *tn);
    if (!tn) return rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory");
    for (uint32_t k = 0; k < n->deg; k++) {
        const rumor_topology_node_t *nd = &n->topo->nodes[ids[k]];
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
        .auth = o->zctx ? o->zauth : NULL,
        .max_frame = n->frame_cap,
        .sndhwm = S_SNDHWM,
        .rcvhwm = S_RCVHWM,
    };
    n->own_zctx = !o->zctx;
    n->zctx = o->zctx ? o->zctx : zmq_ctx_new();
    if (!n->zctx) {
        free(tn);
        return rumor_errmsg_set(em, RUMOR_EIO, "cannot create a ZeroMQ context");
    }
    rc = rumor_transport_create(n->zctx, &tc, &n->tr, em);
    free(tn);
    if (rc) return rc;
    if (o->metrics && !(n->metrics = fopen(o->metrics, rumor_peer_round(n->peer) ? "a" : "w")))
        return rumor_errmsg_set(em, RUMOR_EIO, "%s: cannot create the metrics file: %s", o->metrics,
                                strerror(errno));
    char who[32], desc[384];
    snprintf(who, sizeof who, "node %u: ", n->self);
    rumor_peer_announce(n->peer, who, desc, sizeof desc);
    if (o->progress)
        fprintf(o->progress, "node %u of %s (%s, %u neighbours): %s; %u training samples; %s%s\n",
                n->self, n->sc.name, n->topo->name, n->deg, desc, n->data.train.n, me->endpoint,
                o->insecure ? ", plaintext" : ", CurveZMQ");
    return 0;
}

static void s_teardown(s_node_t *n)
{
    rumor_transport_destroy(&n->tr);
    if (n->zctx && n->own_zctx) zmq_ctx_term(n->zctx);
    if (n->metrics) fclose(n->metrics);
    if (n->nb)
        for (uint32_t k = 0; k < n->deg; k++) rumor_link_free(&n->nb[k]);
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
        s_send(n, &n->nb[k], RUMOR_WIRE_BYE, p, sizeof p, S_SEND_BYE_MS);
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
        if (!open || rumor_clock_now() - t0 > S_LINGER_S || S_STOPPED(n)) break;
        s_pump(n, S_PUMP_LINGER_MS);
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

/* Before the first round: the handshake, and the round to start from. */
static int s_start(s_node_t *n, rumor_errmsg_t *em)
{
    const int rc = s_handshake(n, em);
    if (rc) return rc;
    s_catch_up(n);
    n->cpu_start = rumor_clock_process_cpu();
    n->t_train = rumor_clock_now();
    n->round0 = rumor_peer_round(n->peer);
    n->started = 1;
    if (n->o->progress)
        fprintf(n->o->progress, "node %u: %u neighbours connected, %s mode, starting at round %u\n",
                n->self, n->deg, n->sc.deadline ? "deadline" : "synchronous",
                rumor_peer_round(n->peer));
    return 0;
}

int rumor_node_round(rumor_node_session_t *n, rumor_errmsg_t *em)
{
    int rc = n->started ? 0 : s_start(n, em);
    if (rc) return rc;
    const uint32_t t = rumor_peer_round(n->peer);
    if (t >= n->sc.rounds)
        return rumor_errmsg_set(em, RUMOR_ERANGE,
                                "node %u: the scenario's %u rounds are done (algorithm.rounds)",
                                n->self, n->sc.rounds);
    rumor_peer_stats_t *st = rumor_peer_stats(n->peer);
    const uint8_t *msg;
    size_t len;
    if (n->o->slow_ms) rumor_clock_sleep_ms(n->o->slow_ms);
    const int step_rc = rumor_peer_step(n->peer, &msg, &len);
    n->stepped = 1;
    if (step_rc != 0) {
        n->stop = (rumor_wire_bye_t){.origin = n->self, .round = t, .code = RUMOR_ENONFINITE};
        return rumor_errmsg_set(em, RUMOR_ENONFINITE,
                                "node %u: round %u: the model diverged: its %s left "
                                "non-finite parameters " RUMOR_PEER_DIVERGED_HINT,
                                n->self, t, n->data_loaded ? "SGD step" : "caller's step");
    }
    const double t0 = rumor_clock_now();
    s_send_diffs(n, msg, len);
    rc = s_wait_round(n, t, em);
    st->t_wait += rumor_clock_now() - t0;
    if (rc == RUMOR_EINTR) {
        /* Give the round a moment to complete so the checkpoint lands on a boundary. */
        const double g0 = rumor_clock_now();
        while (!s_round_complete(n, t) && rumor_clock_now() - g0 < S_INTERRUPT_GRACE_S)
            s_pump(n, S_PUMP_LINGER_MS);
        if (!s_round_complete(n, t)) {
            rumor_warn("node %u: interrupted inside round %u; the last checkpoint stands", n->self,
                       t);
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
    if (done % n->sc.eval_every == 0 || done == n->sc.rounds || S_STOPPED(n)) s_record(n, NULL);
    if ((n->o->checkpoint_every && done % n->o->checkpoint_every == 0) || S_STOPPED(n)) {
        if ((rc = s_checkpoint(n, em))) return rc;
    }
    if (S_STOPPED(n)) return rumor_errmsg_set(em, RUMOR_EINTR, "interrupted after round %u", done);
    return 0;
}

int rumor_node_open(const rumor_node_opts_t *o, rumor_node_session_t **out, rumor_errmsg_t *em)
{
    *out = NULL;
    s_node_t *n = calloc(1, sizeof *n);
    if (!n) return rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory");
    n->o_copy = *o;
    if (!n->o_copy.wait_s) n->o_copy.wait_s = S_WAIT_DEFAULT_S;
    n->o = &n->o_copy;
    n->recorded = -1;
    n->t_start = rumor_clock_now();
    const int rc = s_setup(n, em);
    if (rc) {
        s_teardown(n);
        free(n);
        return rc;
    }
    *out = n;
    return 0;
}

int rumor_node_close(rumor_node_session_t **n_p, int rc, rumor_errmsg_t *em)
{
    s_node_t *n = *n_p;
    if (!n) return rc;
    if (!rc) {
        rc = s_checkpoint(n, em);
        if (!rc) s_linger(n);
    }
    /* Stopped by an error or a signal: say why, so that neighbours need not wait for a peer
     * that is gone (an interrupted one is meant to be restarted). */
    if (rc) {
        if (!n->stop.code || rc == RUMOR_EINTR)
            n->stop = (rumor_wire_bye_t){
                .origin = n->self, .round = rumor_peer_round(n->peer), .code = rc};
        s_say_bye(n, &n->stop);
        /* A last record says how the run ended (one written at this round's end stands for an
         * interruption there). */
        if (rc != RUMOR_EINTR || n->recorded != (int64_t)rumor_peer_round(n->peer))
            s_record(n, em ? em->msg : rumor_strerror(rc));
    }
    if (rc == 0 && n->o->model_out) rc = s_write_model(n, em);
    s_teardown(n);
    free(n);
    *n_p = NULL;
    return rc;
}

int rumor_node_resume(rumor_node_session_t *n, const char *path, rumor_errmsg_t *em)
{
    if (n->started)
        return rumor_errmsg_set(em, RUMOR_EINVAL,
                                "%s: state can be loaded only before the first round", path);
    const int rc = rumor_checkpoint_load(path, n->peer, n->topo_hash, em);
    return rc ? rc : s_init_links(n, 1, em);
}

int rumor_node_save(rumor_node_session_t *n, const char *path, rumor_errmsg_t *em)
{
    return rumor_checkpoint_save(path, n->peer, n->topo_hash, em);
}

rumor_peer_t *rumor_node_peer(rumor_node_session_t *n)
{
    return n->peer;
}

uint32_t rumor_node_degree(const rumor_node_session_t *n)
{
    return n->deg;
}

const rumor_link_t *rumor_node_link(const rumor_node_session_t *n, uint32_t k)
{
    return k < n->deg ? &n->nb[k] : NULL;
}

int rumor_node_run(const rumor_node_opts_t *o, rumor_errmsg_t *em)
{
    rumor_peer_blas_one_thread();
    rumor_node_session_t *n;
    int rc = rumor_node_open(o, &n, em);
    if (n && !n->data_loaded) {
        rc = rumor_errmsg_set(em, RUMOR_EINVAL,
                              "%s: model %s is stepped by its caller: gossip it through librumor "
                              "(rumor.h), not rumor peer",
                              o->config, n->sc.model);
        s_teardown(n);
        free(n);
        n = NULL;
    }
    while (n && !rc && rumor_peer_round(n->peer) < n->sc.rounds) rc = rumor_node_round(n, em);
    if (n) rc = rumor_node_close(&n, rc, em);
    return rc;
}
