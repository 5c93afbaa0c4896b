/* rumor — moving frames between a node and its graph neighbours over ZeroMQ (DESIGN.md 5.1, 5.3).
 *
 * Sockets. A transport binds one ROUTER at the node's own endpoint and connects one DEALER
 * per neighbour to that neighbour's endpoint; the DEALER's routing id is the node's id as
 * 4 little-endian bytes. Frames to neighbour j leave on our DEALER j and arrive on j's ROUTER;
 * the ROUTER only receives, so nothing is ever routed by a routing id the other side chose.
 * Every frame is one single-part ZeroMQ message. tcp://, ipc:// and inproc:// all work;
 * inproc needs every transport of a simulation to share one ZeroMQ context.
 *
 * Security (on by default). Every socket speaks CurveZMQ: the ROUTER is a CURVE server with
 * the node's secret key, each DEALER a CURVE client with the node's key pair that expects the
 * neighbour's public key as server key, so both ends of every connection are authenticated
 * and the traffic is encrypted. A ZAP handler (rumor_transport_auth_t, one per ZeroMQ
 * context, a socket bound to inproc://zeromq.zap.01 that the transports using it answer from
 * their own waits: no thread) admits a CURVE client on node i's ROUTER
 * only if its public key is one of i's listed neighbours', and labels the connection with
 * that neighbour's id (the ZAP User-Id). rumor_transport_recv() reports that authenticated id,
 * not the routing id, so a neighbour cannot pose as another one; the caller must still check
 * that a frame's header sender equals it. Routing ids are bound to keys too: node j's DEALER
 * to node i announces a routing id derived from the secret the two share (see
 * rumor_transport_routing_id), which no third key can compute, so no other neighbour can take
 * j's routing id and lock j out of i's ROUTER (ZeroMQ admits one connection per routing id).
 * A frame whose routing id does not begin with the one bound to the key that authenticated
 * its connection is dropped, counted and logged (rate-limited). ZeroMQ runs no security
 * mechanism on inproc://
 * connections, which never leave the process: there the routing id names the sender, even in
 * secure mode. Plaintext needs cfg.insecure and is refused unless
 * every endpoint involved is ipc://, inproc:// or tcp:// on loopback (127.0.0.0/8, ::1,
 * localhost); that check happens before any socket exists.
 *
 * Bounds. A frame travels as one ZeroMQ message of ceil(len / RUMOR_TRANSPORT_PART_BYTES)
 * parts (at least one), all full but the last, so that ZMQ_MAXMSGSIZE can be one part (with
 * a little room for CURVE overhead): ZeroMQ allocates a message as soon as it reads its
 * length, also from a connection that is still in its handshake, so this bounds what a
 * stranger can make a peer hold per connection (500 keyless connections: a few MB) until
 * the handshake times out (handshake_ms). A message split any other way is dropped
 * (RUMOR_EFORMAT). Frames larger than cfg.max_frame are refused by send and dropped by recv
 * (RUMOR_ERANGE); a single part over the limit is cut off by ZeroMQ, which disconnects the
 * sender (it reconnects). An admitted neighbour can still make the ROUTER queue rcvhwm
 * messages of any number of parts: ZeroMQ has no per-connection byte limit. DEALERs use
 * ZMQ_IMMEDIATE, so frames are only queued to a neighbour whose connection is up; a send to a
 * neighbour that is down or not yet started fails with RUMOR_ETIMEOUT after at most its
 * timeout and never hangs. TCP keepalive drops connections to dead hosts; reconnects are
 * automatic. ZeroMQ's own ZMTP heartbeats are off: libzmq 4.3.4 can abort the process
 * (assertion !_io_error in stream_engine_base.cpp) when a heartbeat timer fires on a
 * connection that has just failed, e.g. after the peer was stopped for a while; liveness is
 * the application's job (node.c sends HEARTBEAT frames).
 *
 * Threads and lifetime. A transport is used by one thread at a time, and so are all the
 * transports of one ZAP handler. Create the context, then (for several transports in one
 * context) a shared rumor_transport_auth_t, then the transports; destroy them in reverse
 * order before zmq_ctx_term(). A peer process thus runs its own thread and ZeroMQ's two (one
 * I/O thread, the reaper). The ZAP handler answers a neighbour's CURVE handshake only while
 * one of its transports waits in send, recv or ready (a receive that finds frames waiting
 * serves it every few frames too), so a process that does not call them for longer than the
 * handshake timeout (handshake_ms) makes connecting neighbours retry; two transports of one
 * thread in different contexts must be called in turn to connect. Send and recv never
 * allocate beyond ZeroMQ's own message buffers.
 *
 * Typical peer loop:
 *   void *ctx = zmq_ctx_new();
 *   rumor_transport_t *t = rumor_transport_new(ctx, &cfg, &em);    // cfg.auth = NULL: own ZAP
 *   rumor_transport_send(t, j, frame, frame_len, 100);              // per neighbour j
 *   int rc = rumor_transport_recv(t, remaining_ms, &from, buf, cap, &len);
 *   // rc == 0: rumor_wire_parse(buf, len, ...), then require hdr.sender == from
 *   // RUMOR_ETIMEOUT: deadline reached; RUMOR_EINTR: a signal (check the stop flag)
 *   // RUMOR_ERANGE / RUMOR_EFORMAT / RUMOR_EAUTH: a frame was dropped; count it, go on
 *   rumor_transport_destroy(&t);
 *   zmq_ctx_term(ctx);
 */
#ifndef RUMOR_TRANSPORT_H
#define RUMOR_TRANSPORT_H

#include "rumor/err.h"
#include "rumor/keys.h"

#include <stddef.h>
#include <stdint.h>

/* ---- ZAP handler ------------------------------------------------------------------------ */

typedef struct rumor_transport_auth rumor_transport_auth_t;

/* Binds the ZAP handler of ZeroMQ context zctx (inproc://zeromq.zap.01); the transports given
 * it serve it while they wait, all from one thread. Needed only when several secure
 * transports share a context; a transport created with cfg.auth == NULL binds its own.
 * Returns 0 with *out set, or with *out NULL and em filled RUMOR_ENOMEM or RUMOR_EIO (e.g. the
 * context already has a ZAP handler). */
int rumor_transport_auth_create(void *zctx, rumor_transport_auth_t **out, rumor_errmsg_t *em);

/* The same, NULL on failure: for callers that need no code. */
static inline rumor_transport_auth_t *rumor_transport_auth_new(void *zctx, rumor_errmsg_t *em)
{
    rumor_transport_auth_t *a;
    return rumor_transport_auth_create(zctx, &a, em) ? NULL : a;
}

/* Unbinds and frees the handler. Every transport using it must be destroyed first. */
void rumor_transport_auth_destroy(rumor_transport_auth_t **a_p);

/* Frames travel in parts of this many bytes (see Bounds above). */
#define RUMOR_TRANSPORT_PART_BYTES 16384

/* Bytes a frame of len bytes puts on a tcp:// or ipc:// connection, TCP/IP headers aside:
 * each part as a ZMTP 3 frame (a flags byte, then its size in 1 byte up to 255, else in 8),
 * under CURVE (secure) first wrapped in a MESSAGE command of 33 bytes more ("\x07MESSAGE", an
 * 8-byte nonce, a flags byte and a 16-byte MAC). Greetings and handshakes are not counted. */
static inline uint64_t rumor_transport_wire_bytes(size_t len, int secure)
{
    uint64_t total = 0;
    size_t at = 0;
    do {
        const size_t n =
            len - at < RUMOR_TRANSPORT_PART_BYTES ? len - at : RUMOR_TRANSPORT_PART_BYTES;
        const uint64_t body = n + (secure ? 33u : 0u);
        total += body + (body <= 255 ? 2 : 9);
        at += n;
    } while (at < len);
    return total;
}

/* ---- configuration ---------------------------------------------------------------------- */

typedef struct {
    uint32_t id;
    const char *endpoint;   /* where the neighbour's ROUTER is bound */
    const char *public_key; /* Z85 (40 chars); ignored when insecure */
} rumor_transport_nbr_t;

typedef struct {
    uint32_t self;                     /* this node's id */
    const char *endpoint;              /* where to bind our ROUTER */
    const rumor_transport_nbr_t *nbrs; /* (n_nbrs) distinct ids, none equal to self */
    uint32_t n_nbrs;
    const rumor_keypair_t *keys;  /* own key pair; required unless insecure */
    int insecure;                 /* plaintext; loopback/ipc/inproc endpoints only */
    rumor_transport_auth_t *auth; /* shared ZAP handler; NULL: the transport starts one */
    size_t max_frame;             /* largest frame in bytes, header included; <= 4 GiB */
    /* Tuning; 0 selects the default in brackets. */
    int sndhwm;               /* frames queued per neighbour before send waits [64] */
    int rcvhwm;               /* frames queued on receive [1000] */
    int linger_ms;            /* time pending frames get at close [200] */
    int reconnect_ivl_ms;     /* first reconnect delay [100] */
    int reconnect_ivl_max_ms; /* reconnect backoff ceiling [1000] */
    int keepalive_idle_s;     /* TCP keepalive probes after this idle time; a dead host's
                                 connection drops about 3 s later [5] */
    int handshake_ms;         /* a connection must finish CURVE within this [5000] */
} rumor_transport_cfg_t;

/* 1 if ep may carry plaintext: ipc://..., inproc://..., or tcp://HOST:PORT with HOST in
 * 127.0.0.0/8, ::1 (written [::1]) or "localhost"; 0 otherwise (a wildcard or LAN address,
 * an interface name, pgm://, ...). */
int rumor_transport_endpoint_is_local(const char *ep);

/* ---- the transport ---------------------------------------------------------------------- */

typedef struct rumor_transport rumor_transport_t;

/* Validates cfg (keys well-formed and matching, ids distinct, insecure only on local
 * endpoints), registers the neighbours' keys with the ZAP handler, binds the ROUTER and
 * connects the DEALERs. Connecting does not wait for neighbours to be up. Returns 0 with *out
 * set, or with *out NULL and em filled the failure's code: RUMOR_EINVAL or RUMOR_EAUTH for a
 * configuration ("--insecure refused: node 4's endpoint tcp://10.0.0.5:7404 is not loopback,
 * ipc or inproc"), RUMOR_ENOMEM, or RUMOR_EIO ("node 3: cannot bind tcp://127.0.0.1:7403:
 * Address already in use"). zctx must outlive the transport. */
int rumor_transport_create(void *zctx, const rumor_transport_cfg_t *cfg, rumor_transport_t **out,
                           rumor_errmsg_t *em);

/* The same, NULL on failure: for callers that need no code. */
static inline rumor_transport_t *rumor_transport_new(void *zctx, const rumor_transport_cfg_t *cfg,
                                                     rumor_errmsg_t *em)
{
    rumor_transport_t *t;
    return rumor_transport_create(zctx, cfg, &t, em) ? NULL : t;
}

/* Closes the sockets (pending frames get linger_ms to leave), unregisters from the ZAP
 * handler and stops it if the transport started it. Accepts NULL and *t_p == NULL. */
void rumor_transport_destroy(rumor_transport_t **t_p);

/* Sends buf[0..len) as one frame to neighbour `to`, waiting at most timeout_ms (0: not at
 * all) for room in its queue, which exists only while the connection is up. Returns 0,
 * RUMOR_ETIMEOUT (neighbour not connected or its queue full: the frame was not sent),
 * RUMOR_EINVAL (`to` is not a neighbour), RUMOR_ERANGE (len > max_frame), RUMOR_EINTR
 * (interrupted by a signal: not sent) or RUMOR_EIO. */
int rumor_transport_send(rumor_transport_t *t, uint32_t to, const uint8_t *buf, size_t len,
                         int timeout_ms);

/* Waits up to timeout_ms (-1: forever, 0: poll) for one frame and copies it into
 * buf[0..cap). On 0, *from is the sender's node id and *len the frame size. The id is the
 * authenticated one (ZAP User-Id) in secure mode; in insecure mode, and on an inproc://
 * endpoint, it is the routing id, as trustworthy as loopback or the process itself.
 * Returns RUMOR_ETIMEOUT when nothing arrived and RUMOR_EINTR when a signal interrupted the
 * wait. A received frame can also be dropped, in which case *len gets its size and *from the
 * id when known (else UINT32_MAX):
 *   RUMOR_ERANGE   larger than cap or max_frame
 *   RUMOR_EFORMAT  a message not split into parts as send splits frames (every part is
 *                  consumed), or a malformed routing id
 *   RUMOR_EAUTH    the sender is not a listed neighbour
 * The caller counts drops and calls recv again. buf[0..cap) is unspecified after a drop. */
RUMOR_NODISCARD int rumor_transport_recv(rumor_transport_t *t, int timeout_ms, uint32_t *from,
                                         uint8_t *buf, size_t cap, size_t *len);

/* 1 if a frame to neighbour `to` would be queued now (its connection, including the CURVE
 * handshake, is up and its queue has room), 0 if not or if `to` is not a neighbour. Answers
 * the ZAP handler's waiting requests first, without blocking. A later send can still time
 * out. */
int rumor_transport_ready(rumor_transport_t *t, uint32_t to);

/* Bytes of the routing id a secure connection announces over tcp:// and ipc://. */
#define RUMOR_TRANSPORT_RID_BYTES 17

/* The routing id node `self`, holding key pair keys, announces on its connection to neighbour
 * `peer` whose public key is peer_public (Z85): 'r' and 16 bytes of a BLAKE2b MAC, keyed by the
 * X25519 secret the two nodes share, over both ids. Only the two key holders can compute it.
 * A connection authenticated by self's key must carry a routing id that begins with it (the
 * transport uses exactly it; a longer one lets a second connection under the same key in).
 * Returns 0, or RUMOR_EAUTH for a malformed or degenerate key. */
int rumor_transport_routing_id(const rumor_keypair_t *keys, uint32_t self, const char *peer_public,
                               uint32_t peer, uint8_t out[RUMOR_TRANSPORT_RID_BYTES]);

/* What the ZAP handler decided for connections to this node's ROUTER, and frames dropped for
 * a routing id not bound to their key (secure mode; all zero when insecure). Refusals are
 * logged rate-limited: the first of a burst in full, the rest as one count per 10 s. */
typedef struct {
    uint64_t admitted;                        /* CURVE clients admitted (handshakes) */
    uint64_t refused;                         /* CURVE clients refused: key not listed */
    char last_refused[RUMOR_KEY_Z85_LEN + 1]; /* Z85 key last refused, "" if none */
    uint64_t misrouted; /* frames dropped: routing id not bound to the sender's key */
} rumor_transport_auth_stats_t;

void rumor_transport_auth_stats(const rumor_transport_t *t, rumor_transport_auth_stats_t *out);

#endif
