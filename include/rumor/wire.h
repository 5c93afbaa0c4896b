/* rumor — frames exchanged between peers (DESIGN.md section 5.2).
 *
 * Every message between two peers is one frame: a fixed 28-byte header followed by a payload.
 * All integers are little-endian and read/written byte by byte, so the format does not depend
 * on the host.
 *
 *   offset size field
 *        0    4 magic "RMR1"
 *        4    1 protocol version (RUMOR_WIRE_VERSION)
 *        5    1 type (rumor_wire_type_t)
 *        6    2 flags (reserved: sent as 0, ignored on receipt)
 *        8    4 sender node id
 *       12    4 round the frame belongs to
 *       16    8 per-edge sequence number (the sender numbers its frames to each neighbour
 *               0, 1, 2, ... so a receiver sees gaps and replays)
 *       24    4 payload length in bytes
 *       28    . payload
 *
 * Payloads by type:
 *   HELLO      80 bytes: u32 protocol version (RUMOR_WIRE_PROTOCOL), u32 sender id,
 *              32-byte topology hash, 32-byte run-config hash, u32 resume round, u32 model
 *              dimension d
 *   DIFF       codec bytes (rumor_codec_encode); opaque to this module
 *   STATE      8 + 4 d bytes: u32 round, u32 d, d x f32 (the sender's public copy, for resync).
 *              The copy is valid at the start of `round`: it holds the sender's DIFFs of every
 *              earlier round (a sender that has already stepped round t sends t + 1)
 *   RESYNC     empty (a request for the receiver's STATE)
 *   HEARTBEAT  empty
 *   BYE        12 bytes: u32 origin, u32 round, i32 code. The sender leaves the run. Code 0: it
 *              finished its last round (origin is the sender). Otherwise a RUMOR_E* code: the
 *              run stopped at node `origin` in `round` for that reason; origin is the sender
 *              itself, or a node whose stop a synchronous peer passes on to its neighbours.
 *              RUMOR_EINTR (-12) from the sender itself: it was interrupted by a signal, has
 *              checkpointed, and is to be restarted
 *
 * Nothing from the wire is trusted: rumor_wire_parse() checks every header field against the
 * bytes actually present and the caller's bounds before anything looks at the payload, and
 * says why a frame was refused (rumor_wire_drop_t) so that drops can be counted by reason.
 * Encoding writes into caller-owned buffers and nothing here allocates, so it is safe in the
 * per-round path. A typical sender encodes the payload at buf + RUMOR_WIRE_HEADER_BYTES first
 * (for a DIFF: the codec writes it there directly) and then the header in front of it.
 */
#ifndef RUMOR_WIRE_H
#define RUMOR_WIRE_H

#include "rumor/codec.h"
#include "rumor/err.h"

#include <stddef.h>
#include <stdint.h>

#define RUMOR_WIRE_MAGIC   "RMR1"
#define RUMOR_WIRE_VERSION 2
/* The protocol version a HELLO carries: the frame layout (RUMOR_WIRE_VERSION) in the high
 * byte, the codec format of DIFF payloads (RUMOR_CODEC_VERSION) in the low byte, so that
 * peers built with different codecs refuse each other by name instead of dropping every DIFF. */
#define RUMOR_WIRE_PROTOCOL     (RUMOR_WIRE_VERSION << 8 | RUMOR_CODEC_VERSION)
#define RUMOR_WIRE_HEADER_BYTES 28
#define RUMOR_WIRE_HASH_BYTES   32
#define RUMOR_WIRE_HELLO_BYTES  80
#define RUMOR_WIRE_STATE_HEADER 8 /* bytes of a STATE payload before the floats */
#define RUMOR_WIRE_BYE_BYTES    12

typedef enum {
    RUMOR_WIRE_HELLO = 1,
    RUMOR_WIRE_DIFF = 2,
    RUMOR_WIRE_STATE = 3,
    RUMOR_WIRE_RESYNC = 4,
    RUMOR_WIRE_HEARTBEAT = 5,
    RUMOR_WIRE_BYE = 6,
} rumor_wire_type_t;

/* "HELLO", "DIFF", ...; "unknown" for any other value. */
const char *rumor_wire_type_name(int type);

typedef struct {
    uint8_t version; /* filled by parse; encode always writes RUMOR_WIRE_VERSION */
    uint8_t type;    /* rumor_wire_type_t */
    uint16_t flags;
    uint32_t sender;
    uint32_t round;
    uint64_t seq;
    uint32_t len; /* payload bytes */
} rumor_wire_header_t;

/* Why a frame was dropped. RUMOR_WIRE_DROP_NONE (0) means it was accepted; the others index
 * a counter array of RUMOR_WIRE_DROP_COUNT entries. */
typedef enum {
    RUMOR_WIRE_DROP_NONE = 0,
    RUMOR_WIRE_DROP_MAGIC,     /* shorter than a header, or the magic is not "RMR1" */
    RUMOR_WIRE_DROP_VERSION,   /* protocol version other than RUMOR_WIRE_VERSION */
    RUMOR_WIRE_DROP_TYPE,      /* unknown message type */
    RUMOR_WIRE_DROP_LENGTH,    /* length field differs from the bytes present */
    RUMOR_WIRE_DROP_OVERSIZED, /* payload longer than the caller's maximum */
    RUMOR_WIRE_DROP_SENDER,    /* sender id >= n */
    RUMOR_WIRE_DROP_PAYLOAD,   /* payload malformed for its type (HELLO/STATE size, d, NaN) */
    RUMOR_WIRE_DROP_COUNT
} rumor_wire_drop_t;

/* "bad magic", "bad version", ...; "accepted" for NONE. Never NULL. */
const char *rumor_wire_drop_name(rumor_wire_drop_t why);

/* Bytes of a whole frame with a payload of `payload` bytes. */
static inline size_t rumor_wire_frame_bytes(size_t payload)
{
    return RUMOR_WIRE_HEADER_BYTES + payload;
}

/* Largest payload a run with model dimension d can need: the maximum of the DIFF bound the
 * caller passes (rumor_codec_bound(d)), a STATE of d floats and a HELLO. This is the
 * `max_payload` to give rumor_wire_parse(); rumor_wire_frame_bytes() of it sizes frame
 * buffers and the transport's maximum message size. Returns 0 if it does not fit in 32 bits. */
size_t rumor_wire_payload_bound(uint32_t d, size_t diff_bound);

/* Writes the header h (h->len = payload bytes that will follow) into dst[0..28).
 * Returns 0, RUMOR_ENOSPC if cap < RUMOR_WIRE_HEADER_BYTES, or RUMOR_EINVAL if h->type is
 * not a known type. h->version is ignored: the current version is always written. */
int rumor_wire_encode_header(const rumor_wire_header_t *h, uint8_t *dst, size_t cap);

/* Writes a whole frame: header h with h->len replaced by `len`, then payload[0..len) (payload
 * may be NULL when len is 0, and may already sit at dst + RUMOR_WIRE_HEADER_BYTES).
 * *written gets the frame size. Returns 0, RUMOR_ENOSPC or RUMOR_EINVAL. */
int rumor_wire_encode_frame(const rumor_wire_header_t *h, const uint8_t *payload, size_t len,
                            uint8_t *dst, size_t cap, size_t *written);

/* Parses and checks the frame buf[0..len): magic, version, type, the length field equal to
 * the payload bytes present, length <= max_payload, sender < n, and the payload size rules
 * of fixed-size types (HELLO exactly 80 bytes, BYE 12; RESYNC, HEARTBEAT empty; STATE at least
 * 8 bytes and 8 + 4k). On success fills *h, points *payload into buf (NULL if the payload is
 * empty) and returns 0. On failure returns RUMOR_EFORMAT (magic, type, payload shape),
 * RUMOR_EVERSION, RUMOR_ETRUNC (length mismatch) or RUMOR_ERANGE (oversized, sender), and
 * sets *why (may be NULL) to the reason; *h and *payload are then unspecified.
 * Checks run in this order and a frame reports the first that fails: magic (over the bytes
 * present, so foreign bytes are MAGIC), header complete (a truncated header is LENGTH),
 * version, type, length field, max_payload, sender, payload shape (PAYLOAD).
 * Authenticating the sender is the caller's job: compare h->sender with the id the
 * transport authenticated. */
RUMOR_NODISCARD int rumor_wire_parse(const uint8_t *buf, size_t len, uint32_t n, size_t max_payload,
                                     rumor_wire_header_t *h, const uint8_t **payload,
                                     rumor_wire_drop_t *why);

/* ---- HELLO ------------------------------------------------------------------------------ */

typedef struct {
    uint32_t version; /* protocol version of the sender */
    uint32_t sender;
    uint8_t topology_hash[RUMOR_WIRE_HASH_BYTES]; /* rumor_topology_hash() */
    uint8_t config_hash[RUMOR_WIRE_HASH_BYTES];   /* hash of the run configuration */
    uint32_t resume_round;                        /* round the sender starts (or restarts) from */
    uint32_t dim;                                 /* model dimension d */
} rumor_wire_hello_t;

/* Writes the 80-byte HELLO payload. Returns 0 or RUMOR_ENOSPC. */
int rumor_wire_encode_hello(const rumor_wire_hello_t *hello, uint8_t *dst, size_t cap);

/* Decodes a HELLO payload; RUMOR_EFORMAT unless len == RUMOR_WIRE_HELLO_BYTES. */
RUMOR_NODISCARD int rumor_wire_decode_hello(const uint8_t *src, size_t len,
                                            rumor_wire_hello_t *out);

/* What makes a received HELLO incompatible with ours, in the order checked. The sender id and
 * the resume round are not compared: they legitimately differ (the caller checks the sender
 * against the authenticated id). */
typedef enum {
    RUMOR_WIRE_HELLO_SAME = 0,
    RUMOR_WIRE_HELLO_VERSION,  /* protocol version */
    RUMOR_WIRE_HELLO_TOPOLOGY, /* topology hash */
    RUMOR_WIRE_HELLO_CONFIG,   /* run-config hash */
    RUMOR_WIRE_HELLO_DIM,      /* model dimension */
} rumor_wire_hello_diff_t;

/* The first field in which `theirs` and `ours` disagree, or RUMOR_WIRE_HELLO_SAME. */
rumor_wire_hello_diff_t rumor_wire_hello_compare(const rumor_wire_hello_t *theirs,
                                                 const rumor_wire_hello_t *ours);

/* Formats what differs, with both values, into buf (always NUL-terminated when cap > 0):
 * "topology hash differs (theirs 9f2c01ab..., ours 41aa7730...)",
 * "model dimension differs (theirs 7850, ours 79510)". Returns buf. */
char *rumor_wire_hello_explain(rumor_wire_hello_diff_t diff, const rumor_wire_hello_t *theirs,
                               const rumor_wire_hello_t *ours, char *buf, size_t cap);

/* ---- STATE ------------------------------------------------------------------------------ */

/* Bytes of a STATE payload carrying d floats. */
static inline size_t rumor_wire_state_bytes(uint32_t d)
{
    return RUMOR_WIRE_STATE_HEADER + 4 * (size_t)d;
}

/* Writes a STATE payload: the public copy x (d floats) valid at the start of `round`.
 * *written gets rumor_wire_state_bytes(d). Returns 0 or RUMOR_ENOSPC. */
int rumor_wire_encode_state(uint32_t round, const float *x, uint32_t d, uint8_t *dst, size_t cap,
                            size_t *written);

/* Decodes a STATE payload into *round and x (d floats, the caller's dimension).
 * Returns RUMOR_EFORMAT if the size is wrong or a value is not finite, RUMOR_EMISMATCH if
 * the payload's d differs from d. x is written only on success. */
RUMOR_NODISCARD int rumor_wire_decode_state(const uint8_t *src, size_t len, uint32_t d,
                                            uint32_t *round, float *x);

/* ---- BYE -------------------------------------------------------------------------------- */

typedef struct {
    uint32_t origin; /* the node whose stop this is (the sender when code is 0) */
    uint32_t round;  /* the round in which it stopped or finished */
    int32_t code;    /* 0: finished; otherwise the RUMOR_E* code it stopped with */
} rumor_wire_bye_t;

/* Writes the 12-byte BYE payload. Returns 0 or RUMOR_ENOSPC. */
int rumor_wire_encode_bye(const rumor_wire_bye_t *bye, uint8_t *dst, size_t cap);

/* Decodes a BYE payload of a run with n nodes. Returns RUMOR_EFORMAT unless len is
 * RUMOR_WIRE_BYE_BYTES, origin < n and code is 0 or a RUMOR_E* code. */
RUMOR_NODISCARD int rumor_wire_decode_bye(const uint8_t *src, size_t len, uint32_t n,
                                          rumor_wire_bye_t *out);

#endif
