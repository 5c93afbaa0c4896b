/* rumor — frame encoding and checking (see wire.h for the layout).
 *
 * Integers go through bytes.h's little-endian loads and stores: no casts of buffer pointers to
 * wider types, so unaligned and big-endian hosts read the same values and sanitizers stay quiet.
 * Floats travel as their IEEE-754 bit patterns in little-endian order.
 */
#include "rumor/wire.h"
#include "rumor/bytes.h"

#include <stdio.h>
#include <string.h>

_Static_assert(sizeof RUMOR_WIRE_MAGIC - 1 == 4, "magic is 4 bytes");
_Static_assert(RUMOR_WIRE_HEADER_BYTES == 4 + 1 + 1 + 2 + 4 + 4 + 8 + 4, "header layout");
_Static_assert(RUMOR_WIRE_HELLO_BYTES == 4 + 4 + 2 * RUMOR_WIRE_HASH_BYTES + 4 + 4, "HELLO layout");
_Static_assert(RUMOR_WIRE_STATE_HEADER == 4 + 4, "STATE layout");
_Static_assert(sizeof(float) == 4, "f32 on the wire is a C float");

enum {
    S_OFF_MAGIC = 0,
    S_OFF_VERSION = 4,
    S_OFF_TYPE = 5,
    S_OFF_FLAGS = 6,
    S_OFF_SENDER = 8,
    S_OFF_ROUND = 12,
    S_OFF_SEQ = 16,
    S_OFF_LEN = 24,
};
_Static_assert(S_OFF_LEN + 4 == RUMOR_WIRE_HEADER_BYTES, "header offsets");

static int s_known_type(unsigned type)
{
    return type >= RUMOR_WIRE_HELLO && type <= RUMOR_WIRE_BYE;
}

const char *rumor_wire_type_name(int type)
{
    switch (type) {
    case RUMOR_WIRE_HELLO:
        return "HELLO";
    case RUMOR_WIRE_DIFF:
        return "DIFF";
    case RUMOR_WIRE_STATE:
        return "STATE";
    case RUMOR_WIRE_RESYNC:
        return "RESYNC";
    case RUMOR_WIRE_HEARTBEAT:
        return "HEARTBEAT";
    case RUMOR_WIRE_BYE:
        return "BYE";
    default:
        return "unknown";
    }
}

const char *rumor_wire_drop_name(rumor_wire_drop_t why)
{
    switch (why) {
    case RUMOR_WIRE_DROP_NONE:
        return "accepted";
    case RUMOR_WIRE_DROP_MAGIC:
        return "bad magic";
    case RUMOR_WIRE_DROP_VERSION:
        return "bad version";
    case RUMOR_WIRE_DROP_TYPE:
        return "bad type";
    case RUMOR_WIRE_DROP_LENGTH:
        return "bad length";
    case RUMOR_WIRE_DROP_OVERSIZED:
        return "oversized";
    case RUMOR_WIRE_DROP_SENDER:
        return "bad sender";
    case RUMOR_WIRE_DROP_PAYLOAD:
        return "bad payload";
    case RUMOR_WIRE_DROP_COUNT:
        break;
    }
    return "unknown";
}

size_t rumor_wire_payload_bound(uint32_t d, size_t diff_bound)
{
    size_t b = diff_bound;
    if (rumor_wire_state_bytes(d) > b) b = rumor_wire_state_bytes(d);
    if (RUMOR_WIRE_HELLO_BYTES > b) b = RUMOR_WIRE_HELLO_BYTES;
    return b > UINT32_MAX ? 0 : b;
}

int rumor_wire_encode_header(const rumor_wire_header_t *h, uint8_t *dst, size_t cap)
{
    if (cap < RUMOR_WIRE_HEADER_BYTES) return RUMOR_ENOSPC;
    if (!s_known_type(h->type)) return RUMOR_EINVAL;
    memcpy(dst + S_OFF_MAGIC, RUMOR_WIRE_MAGIC, 4);
    dst[S_OFF_VERSION] = RUMOR_WIRE_VERSION;
    dst[S_OFF_TYPE] = h->type;
    rumor_store16le(dst + S_OFF_FLAGS, h->flags);
    rumor_store32le(dst + S_OFF_SENDER, h->sender);
    rumor_store32le(dst + S_OFF_ROUND, h->round);
    rumor_store64le(dst + S_OFF_SEQ, h->seq);
    rumor_store32le(dst + S_OFF_LEN, h->len);
    return 0;
}

int rumor_wire_encode_frame(const rumor_wire_header_t *h, const uint8_t *payload, size_t len,
                            uint8_t *dst, size_t cap, size_t *written)
{
    if (len > UINT32_MAX) return RUMOR_EINVAL;
    if (cap < RUMOR_WIRE_HEADER_BYTES || cap - RUMOR_WIRE_HEADER_BYTES < len) return RUMOR_ENOSPC;
    rumor_wire_header_t hh = *h;
    hh.len = (uint32_t)len;
    const int rc = rumor_wire_encode_header(&hh, dst, cap);
    if (rc != 0) return rc;
    /* memmove: the payload may already be in place, or overlap it. */
    if (len > 0 && payload != dst + RUMOR_WIRE_HEADER_BYTES)
        memmove(dst + RUMOR_WIRE_HEADER_BYTES, payload, len);
    *written = RUMOR_WIRE_HEADER_BYTES + len;
    return 0;
}

static int s_drop(rumor_wire_drop_t *why, rumor_wire_drop_t reason, int code)
{
    if (why) *why = reason;
    return code;
}

/* Payload size rules of the fixed-layout types; DIFF is the codec's business. */
static int s_payload_shape_ok(unsigned type, uint32_t len)
{
    switch (type) {
    case RUMOR_WIRE_HELLO:
        return len == RUMOR_WIRE_HELLO_BYTES;
    case RUMOR_WIRE_STATE:
        return len >= RUMOR_WIRE_STATE_HEADER && (len - RUMOR_WIRE_STATE_HEADER) % 4 == 0;
    case RUMOR_WIRE_BYE:
        return len == RUMOR_WIRE_BYE_BYTES;
    case RUMOR_WIRE_RESYNC:
    case RUMOR_WIRE_HEARTBEAT:
        return len == 0;
    default:
        return 1;
    }
}

int rumor_wire_parse(const uint8_t *buf, size_t len, uint32_t n, size_t max_payload,
                     rumor_wire_header_t *h, const uint8_t **payload, rumor_wire_drop_t *why)
{
    /* Whatever magic bytes are present must match, so a short frame of foreign bytes is
     * "bad magic" and a short frame of ours is "bad length" (truncated). */
    const size_t m = len < 4 ? len : 4;
    if (m > 0 && memcmp(buf, RUMOR_WIRE_MAGIC, m) != 0)
        return s_drop(why, RUMOR_WIRE_DROP_MAGIC, RUMOR_EFORMAT);
    if (len < RUMOR_WIRE_HEADER_BYTES)
        return s_drop(why, len == 0 ? RUMOR_WIRE_DROP_MAGIC : RUMOR_WIRE_DROP_LENGTH,
                      len == 0 ? RUMOR_EFORMAT : RUMOR_ETRUNC);
    if (buf[S_OFF_VERSION] != RUMOR_WIRE_VERSION)
        return s_drop(why, RUMOR_WIRE_DROP_VERSION, RUMOR_EVERSION);
    const unsigned type = buf[S_OFF_TYPE];
    if (!s_known_type(type)) return s_drop(why, RUMOR_WIRE_DROP_TYPE, RUMOR_EFORMAT);
    const uint32_t plen = rumor_load32le(buf + S_OFF_LEN);
    if ((uint64_t)plen != (uint64_t)(len - RUMOR_WIRE_HEADER_BYTES))
        return s_drop(why, RUMOR_WIRE_DROP_LENGTH, RUMOR_ETRUNC);
    if (plen > max_payload) return s_drop(why, RUMOR_WIRE_DROP_OVERSIZED, RUMOR_ERANGE);
    const uint32_t sender = rumor_load32le(buf + S_OFF_SENDER);
    if (sender >= n) return s_drop(why, RUMOR_WIRE_DROP_SENDER, RUMOR_ERANGE);
    if (!s_payload_shape_ok(type, plen)) return s_drop(why, RUMOR_WIRE_DROP_PAYLOAD, RUMOR_EFORMAT);

    h->version = buf[S_OFF_VERSION];
    h->type = (uint8_t)type;
    h->flags = rumor_load16le(buf + S_OFF_FLAGS);
    h->sender = sender;
    h->round = rumor_load32le(buf + S_OFF_ROUND);
    h->seq = rumor_load64le(buf + S_OFF_SEQ);
    h->len = plen;
    *payload = plen > 0 ? buf + RUMOR_WIRE_HEADER_BYTES : NULL;
    return s_drop(why, RUMOR_WIRE_DROP_NONE, 0);
}

/* ---- HELLO ------------------------------------------------------------------------------ */

int rumor_wire_encode_hello(const rumor_wire_hello_t *hello, uint8_t *dst, size_t cap)
{
    if (cap < RUMOR_WIRE_HELLO_BYTES) return RUMOR_ENOSPC;
    rumor_store32le(dst, hello->version);
    rumor_store32le(dst + 4, hello->sender);
    memcpy(dst + 8, hello->topology_hash, RUMOR_WIRE_HASH_BYTES);
    memcpy(dst + 8 + RUMOR_WIRE_HASH_BYTES, hello->config_hash, RUMOR_WIRE_HASH_BYTES);
    rumor_store32le(dst + 8 + 2 * RUMOR_WIRE_HASH_BYTES, hello->resume_round);
    rumor_store32le(dst + 12 + 2 * RUMOR_WIRE_HASH_BYTES, hello->dim);
    return 0;
}

int rumor_wire_decode_hello(const uint8_t *src, size_t len, rumor_wire_hello_t *out)
{
    if (len != RUMOR_WIRE_HELLO_BYTES) return RUMOR_EFORMAT;
    out->version = rumor_load32le(src);
    out->sender = rumor_load32le(src + 4);
    memcpy(out->topology_hash, src + 8, RUMOR_WIRE_HASH_BYTES);
    memcpy(out->config_hash, src + 8 + RUMOR_WIRE_HASH_BYTES, RUMOR_WIRE_HASH_BYTES);
    out->resume_round = rumor_load32le(src + 8 + 2 * RUMOR_WIRE_HASH_BYTES);
    out->dim = rumor_load32le(src + 12 + 2 * RUMOR_WIRE_HASH_BYTES);
    return 0;
}

rumor_wire_hello_diff_t rumor_wire_hello_compare(const rumor_wire_hello_t *theirs,
                                                 const rumor_wire_hello_t *ours)
{
    if (theirs->version != ours->version) return RUMOR_WIRE_HELLO_VERSION;
    if (memcmp(theirs->topology_hash, ours->topology_hash, RUMOR_WIRE_HASH_BYTES) != 0)
        return RUMOR_WIRE_HELLO_TOPOLOGY;
    if (memcmp(theirs->config_hash, ours->config_hash, RUMOR_WIRE_HASH_BYTES) != 0)
        return RUMOR_WIRE_HELLO_CONFIG;
    if (theirs->dim != ours->dim) return RUMOR_WIRE_HELLO_DIM;
    return RUMOR_WIRE_HELLO_SAME;
}

/* "protocol version", "topology hash", "run-config hash", "model dimension"; "nothing" for
 * SAME. Never NULL. */
static const char *s_hello_diff_name(rumor_wire_hello_diff_t diff)
{
    switch (diff) {
    case RUMOR_WIRE_HELLO_SAME:
        return "nothing";
    case RUMOR_WIRE_HELLO_VERSION:
        return "protocol version";
    case RUMOR_WIRE_HELLO_TOPOLOGY:
        return "topology hash";
    case RUMOR_WIRE_HELLO_CONFIG:
        return "run-config hash";
    case RUMOR_WIRE_HELLO_DIM:
        return "model dimension";
    }
    return "unknown field";
}

/* First 4 bytes of a hash as 8 hex digits: enough to tell two files apart in a message. */
static void s_hash_prefix(const uint8_t *h, char out[9])
{
    snprintf(out, 9, "%02x%02x%02x%02x", h[0], h[1], h[2], h[3]);
}

char *rumor_wire_hello_explain(rumor_wire_hello_diff_t diff, const rumor_wire_hello_t *theirs,
                               const rumor_wire_hello_t *ours, char *buf, size_t cap)
{
    if (cap == 0) return buf;
    const char *what = s_hello_diff_name(diff);
    char a[9], b[9];
    switch (diff) {
    case RUMOR_WIRE_HELLO_SAME:
        snprintf(buf, cap, "HELLO matches");
        break;
    case RUMOR_WIRE_HELLO_VERSION: /* frames.codec */
        snprintf(buf, cap, "%s differs (theirs %u.%u, ours %u.%u)", what, theirs->version >> 8,
                 theirs->version & 255, ours->version >> 8, ours->version & 255);
        break;
    case RUMOR_WIRE_HELLO_DIM:
        snprintf(buf, cap, "%s differs (theirs %u, ours %u)", what, (unsigned)theirs->dim,
                 (unsigned)ours->dim);
        break;
    case RUMOR_WIRE_HELLO_TOPOLOGY:
    case RUMOR_WIRE_HELLO_CONFIG: {
        const int t = diff == RUMOR_WIRE_HELLO_TOPOLOGY;
        s_hash_prefix(t ? theirs->topology_hash : theirs->config_hash, a);
        s_hash_prefix(t ? ours->topology_hash : ours->config_hash, b);
        snprintf(buf, cap, "%s differs (theirs %s..., ours %s...)", what, a, b);
        break;
    }
    default:
        snprintf(buf, cap, "%s differs", what);
        break;
    }
    return buf;
}

/* ---- STATE ------------------------------------------------------------------------------ */

int rumor_wire_encode_state(uint32_t round, const float *x, uint32_t d, uint8_t *dst, size_t cap,
                            size_t *written)
{
    const size_t need = rumor_wire_state_bytes(d);
    if (cap < need) return RUMOR_ENOSPC;
    rumor_store32le(dst, round);
    rumor_store32le(dst + 4, d);
    uint8_t *p = dst + RUMOR_WIRE_STATE_HEADER;
    for (uint32_t k = 0; k < d; k++) {
        uint32_t bits;
        memcpy(&bits, &x[k], 4);
        rumor_store32le(p + 4 * (size_t)k, bits);
    }
    *written = need;
    return 0;
}

int rumor_wire_decode_state(const uint8_t *src, size_t len, uint32_t d, uint32_t *round, float *x)
{
    if (len < RUMOR_WIRE_STATE_HEADER || (len - RUMOR_WIRE_STATE_HEADER) % 4 != 0)
        return RUMOR_EFORMAT;
    const uint32_t dd = rumor_load32le(src + 4);
    if ((uint64_t)(len - RUMOR_WIRE_STATE_HEADER) / 4 != dd) return RUMOR_EFORMAT;
    if (dd != d) return RUMOR_EMISMATCH;
    const uint8_t *p = src + RUMOR_WIRE_STATE_HEADER;
    /* Check every value before writing any, so a bad STATE leaves x untouched. */
    for (uint32_t k = 0; k < d; k++) {
        const uint32_t bits = rumor_load32le(p + 4 * (size_t)k);
        if ((bits & 0x7f800000u) == 0x7f800000u) return RUMOR_EFORMAT; /* inf or NaN */
    }
    for (uint32_t k = 0; k < d; k++) {
        const uint32_t bits = rumor_load32le(p + 4 * (size_t)k);
        memcpy(&x[k], &bits, 4);
    }
    *round = rumor_load32le(src);
    return 0;
}

/* ---- BYE -------------------------------------------------------------------------------- */

int rumor_wire_encode_bye(const rumor_wire_bye_t *bye, uint8_t *dst, size_t cap)
{
    if (cap < RUMOR_WIRE_BYE_BYTES) return RUMOR_ENOSPC;
    rumor_store32le(dst, bye->origin);
    rumor_store32le(dst + 4, bye->round);
    rumor_store32le(dst + 8, (uint32_t)bye->code);
    return 0;
}

int rumor_wire_decode_bye(const uint8_t *src, size_t len, uint32_t n, rumor_wire_bye_t *out)
{
    if (len != RUMOR_WIRE_BYE_BYTES) return RUMOR_EFORMAT;
    const uint32_t origin = rumor_load32le(src), code = rumor_load32le(src + 8);
    /* Two's complement read by hand; the codes are small negatives. */
    const int64_t c = code < 0x80000000u ? (int64_t)code : (int64_t)code - 0x100000000LL;
    if (origin >= n || c > 0 || c < RUMOR_ELOWEST) return RUMOR_EFORMAT;
    out->origin = origin;
    out->round = rumor_load32le(src + 4);
    out->code = (int32_t)c;
    return 0;
}
