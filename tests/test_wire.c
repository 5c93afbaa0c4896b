/* Tests of wire: frames round-trip bit-exactly in a fixed little-endian layout, every kind of
 * bad frame is refused with the right reason, truncated and random input never parses as a
 * frame it is not, and HELLO/STATE payloads round-trip and explain mismatches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/codec.h"
#include "rumor/model.h"
#include "rumor/rng.h"
#include "rumor/wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_NODES 16
#define MAXP    4096

static rumor_wire_header_t s_hdr(uint8_t type, uint32_t len)
{
    rumor_wire_header_t h = {.type = type,
                             .flags = 0,
                             .sender = 5,
                             .round = 0x01020304u,
                             .seq = 0x1122334455667788ull,
                             .len = len};
    return h;
}

static size_t s_frame(uint8_t *buf, size_t cap, uint8_t type, const uint8_t *payload, size_t len)
{
    rumor_wire_header_t h = s_hdr(type, 0);
    size_t w = 0;
    assert_int_equal(rumor_wire_encode_frame(&h, payload, len, buf, cap, &w), 0);
    assert_int_equal(w, RUMOR_WIRE_HEADER_BYTES + len);
    return w;
}

static void test_header_golden_bytes(void **state)
{
    (void)state;
    /* The layout other hosts depend on: any change here breaks interoperability. */
    const uint8_t want[RUMOR_WIRE_HEADER_BYTES] = {
        'R',  'M',  'R',  '1',  2,    2,    0x34, 0x12, /* magic, version, DIFF, flags */
        5,    0,    0,    0,    0x04, 0x03, 0x02, 0x01, /* sender 5, round 0x01020304 */
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* seq 0x1122334455667788 */
        3,    0,    0,    0};                           /* payload length 3 */
    rumor_wire_header_t h = s_hdr(RUMOR_WIRE_DIFF, 3);
    h.flags = 0x1234;
    uint8_t buf[RUMOR_WIRE_HEADER_BYTES];
    assert_int_equal(rumor_wire_encode_header(&h, buf, sizeof buf), 0);
    assert_memory_equal(buf, want, sizeof want);
    assert_int_equal(rumor_wire_encode_header(&h, buf, sizeof buf - 1), RUMOR_ENOSPC);
    h.type = 0;
    assert_int_equal(rumor_wire_encode_header(&h, buf, sizeof buf), RUMOR_EINVAL);
    h.type = 7;
    assert_int_equal(rumor_wire_encode_header(&h, buf, sizeof buf), RUMOR_EINVAL);
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    static uint8_t buf[RUMOR_WIRE_HEADER_BYTES + MAXP];
    uint8_t payload[RUMOR_WIRE_HELLO_BYTES + 40];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 37 + 1);
    const struct {
        uint8_t type;
        size_t len;
    } cases[] = {{RUMOR_WIRE_HELLO, RUMOR_WIRE_HELLO_BYTES},
                 {RUMOR_WIRE_DIFF, 0},
                 {RUMOR_WIRE_DIFF, 117},
                 {RUMOR_WIRE_STATE, RUMOR_WIRE_STATE_HEADER + 4 * 10},
                 {RUMOR_WIRE_RESYNC, 0},
                 {RUMOR_WIRE_HEARTBEAT, 0},
                 {RUMOR_WIRE_BYE, RUMOR_WIRE_BYE_BYTES}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rumor_wire_header_t h = s_hdr(cases[c].type, 0);
        h.flags = 0xbeef;
        h.sender = N_NODES - 1;
        size_t w = 0;
        assert_int_equal(rumor_wire_encode_frame(&h, payload, cases[c].len, buf, sizeof buf, &w),
                         0);
        rumor_wire_header_t g;
        const uint8_t *p = (const uint8_t *)"x";
        rumor_wire_drop_t why = RUMOR_WIRE_DROP_COUNT;
        assert_int_equal(rumor_wire_parse(buf, w, N_NODES, MAXP, &g, &p, &why), 0);
        assert_int_equal(why, RUMOR_WIRE_DROP_NONE);
        assert_int_equal(g.version, RUMOR_WIRE_VERSION);
        assert_int_equal(g.type, cases[c].type);
        assert_int_equal(g.flags, 0xbeef);
        assert_int_equal(g.sender, N_NODES - 1);
        assert_int_equal(g.round, h.round);
        assert_true(g.seq == h.seq);
        assert_int_equal(g.len, cases[c].len);
        if (cases[c].len == 0) {
            assert_null(p);
        } else {
            assert_ptr_equal(p, buf + RUMOR_WIRE_HEADER_BYTES);
            assert_memory_equal(p, payload, cases[c].len);
        }
    }
}

static void test_payload_already_in_place(void **state)
{
    (void)state;
    /* The codec writes straight behind the header; encode_frame must not disturb it. */
    uint8_t buf[RUMOR_WIRE_HEADER_BYTES + 64];
    for (int i = 0; i < 64; i++) buf[RUMOR_WIRE_HEADER_BYTES + i] = (uint8_t)(200 - i);
    rumor_wire_header_t h = s_hdr(RUMOR_WIRE_DIFF, 0);
    size_t w = 0;
    assert_int_equal(
        rumor_wire_encode_frame(&h, buf + RUMOR_WIRE_HEADER_BYTES, 64, buf, sizeof buf, &w), 0);
    for (int i = 0; i < 64; i++) assert_int_equal(buf[RUMOR_WIRE_HEADER_BYTES + i], 200 - i);
    assert_int_equal(rumor_wire_encode_frame(&h, NULL, 65, buf, sizeof buf, &w), RUMOR_ENOSPC);
}

static void s_expect_drop(const uint8_t *buf, size_t len, size_t maxp, rumor_wire_drop_t reason,
                          int code)
{
    rumor_wire_header_t h;
    const uint8_t *p;
    rumor_wire_drop_t why = RUMOR_WIRE_DROP_NONE;
    assert_int_equal(rumor_wire_parse(buf, len, N_NODES, maxp, &h, &p, &why), code);
    assert_int_equal(why, reason);
}

static void test_every_drop_reason(void **state)
{
    (void)state;
    uint8_t good[RUMOR_WIRE_HEADER_BYTES + 100], b[sizeof good + 8];
    uint8_t payload[100] = {0};
    const size_t n = s_frame(good, sizeof good, RUMOR_WIRE_DIFF, payload, 100);

    memcpy(b, good, n);
    b[0] = 'X';
    s_expect_drop(b, n, MAXP, RUMOR_WIRE_DROP_MAGIC, RUMOR_EFORMAT);
    memcpy(b, good, n);
    b[3] = '2'; /* "RMR2" is not ours either */
    s_expect_drop(b, n, MAXP, RUMOR_WIRE_DROP_MAGIC, RUMOR_EFORMAT);

    memcpy(b, good, n);
    b[4] = RUMOR_WIRE_VERSION + 1;
    s_expect_drop(b, n, MAXP, RUMOR_WIRE_DROP_VERSION, RUMOR_EVERSION);
    b[4] = 0;
    s_expect_drop(b, n, MAXP, RUMOR_WIRE_DROP_VERSION, RUMOR_EVERSION);

    const uint8_t bad_types[] = {0, 7, 8, 0x80, 0xff};
    for (size_t i = 0; i < sizeof bad_types; i++) {
        memcpy(b, good, n);
        b[5] = bad_types[i];
        s_expect_drop(b, n, MAXP, RUMOR_WIRE_DROP_TYPE, RUMOR_EFORMAT);
    }

    /* Length field one more / one less than the bytes present, and absurdly large. */
    memcpy(b, good, n);
    b[24] = 101;
    s_expect_drop(b, n, MAXP, RUMOR_WIRE_DROP_LENGTH, RUMOR_ETRUNC);
    b[24] = 99;
    s_expect_drop(b, n, MAXP, RUMOR_WIRE_DROP_LENGTH, RUMOR_ETRUNC);
    b[24] = 100;
    b[27] = 0xff;
    s_expect_drop(b, n, MAXP, RUMOR_WIRE_DROP_LENGTH, RUMOR_ETRUNC);
    /* Extra bytes behind a consistent header are a length fault too. */
    memcpy(b, good, n);
    s_expect_drop(b, n + 1, MAXP, RUMOR_WIRE_DROP_LENGTH, RUMOR_ETRUNC);

    /* Oversized: consistent, but over the caller's maximum; exactly at it is fine. */
    s_expect_drop(good, n, 99, RUMOR_WIRE_DROP_OVERSIZED, RUMOR_ERANGE);
    s_expect_drop(good, n, 100, RUMOR_WIRE_DROP_NONE, 0);

    memcpy(b, good, n);
    b[8] = N_NODES; /* sender == n */
    s_expect_drop(b, n, MAXP, RUMOR_WIRE_DROP_SENDER, RUMOR_ERANGE);
    b[8] = 0;
    b[11] = 0x80;
    s_expect_drop(b, n, MAXP, RUMOR_WIRE_DROP_SENDER, RUMOR_ERANGE);

    /* Fixed-size types with the wrong payload size. */
    uint8_t f[RUMOR_WIRE_HEADER_BYTES + RUMOR_WIRE_HELLO_BYTES + 4];
    size_t fl = s_frame(f, sizeof f, RUMOR_WIRE_HELLO, payload, RUMOR_WIRE_HELLO_BYTES - 1);
    s_expect_drop(f, fl, MAXP, RUMOR_WIRE_DROP_PAYLOAD, RUMOR_EFORMAT);
    fl = s_frame(f, sizeof f, RUMOR_WIRE_HELLO, payload, RUMOR_WIRE_HELLO_BYTES + 1);
    s_expect_drop(f, fl, MAXP, RUMOR_WIRE_DROP_PAYLOAD, RUMOR_EFORMAT);
    fl = s_frame(f, sizeof f, RUMOR_WIRE_HEARTBEAT, payload, 1);
    s_expect_drop(f, fl, MAXP, RUMOR_WIRE_DROP_PAYLOAD, RUMOR_EFORMAT);
    fl = s_frame(f, sizeof f, RUMOR_WIRE_RESYNC, payload, 4);
    s_expect_drop(f, fl, MAXP, RUMOR_WIRE_DROP_PAYLOAD, RUMOR_EFORMAT);
    fl = s_frame(f, sizeof f, RUMOR_WIRE_BYE, payload, 0);
    s_expect_drop(f, fl, MAXP, RUMOR_WIRE_DROP_PAYLOAD, RUMOR_EFORMAT);
    fl = s_frame(f, sizeof f, RUMOR_WIRE_BYE, payload, RUMOR_WIRE_BYE_BYTES + 1);
    s_expect_drop(f, fl, MAXP, RUMOR_WIRE_DROP_PAYLOAD, RUMOR_EFORMAT);
    fl = s_frame(f, sizeof f, RUMOR_WIRE_STATE, payload, 7);
    s_expect_drop(f, fl, MAXP, RUMOR_WIRE_DROP_PAYLOAD, RUMOR_EFORMAT);
    fl = s_frame(f, sizeof f, RUMOR_WIRE_STATE, payload, 10);
    s_expect_drop(f, fl, MAXP, RUMOR_WIRE_DROP_PAYLOAD, RUMOR_EFORMAT);

    /* why may be NULL. */
    rumor_wire_header_t h;
    const uint8_t *p;
    assert_int_equal(rumor_wire_parse(f, fl, N_NODES, MAXP, &h, &p, NULL), RUMOR_EFORMAT);
}

static void test_drop_names(void **state)
{
    (void)state;
    for (int i = 0; i < RUMOR_WIRE_DROP_COUNT; i++) {
        const char *a = rumor_wire_drop_name((rumor_wire_drop_t)i);
        assert_non_null(a);
        assert_string_not_equal(a, "unknown");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(a, rumor_wire_drop_name((rumor_wire_drop_t)j));
    }
    assert_string_equal(rumor_wire_drop_name(RUMOR_WIRE_DROP_MAGIC), "bad magic");
    assert_string_equal(rumor_wire_drop_name(RUMOR_WIRE_DROP_OVERSIZED), "oversized");
    assert_string_equal(rumor_wire_type_name(RUMOR_WIRE_STATE), "STATE");
    assert_string_equal(rumor_wire_type_name(99), "unknown");
}

static void test_truncated_at_every_length(void **state)
{
    (void)state;
    uint8_t frames[3][RUMOR_WIRE_HEADER_BYTES + RUMOR_WIRE_HELLO_BYTES];
    size_t lens[3];
    uint8_t payload[RUMOR_WIRE_HELLO_BYTES];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)i;
    lens[0] = s_frame(frames[0], sizeof frames[0], RUMOR_WIRE_HELLO, payload, sizeof payload);
    lens[1] = s_frame(frames[1], sizeof frames[1], RUMOR_WIRE_DIFF, payload, 33);
    lens[2] = s_frame(frames[2], sizeof frames[2], RUMOR_WIRE_HEARTBEAT, NULL, 0);
    for (int f = 0; f < 3; f++) {
        for (size_t len = 0; len < lens[f]; len++) {
            /* A copy of exactly len bytes, so ASan catches any read past the end. */
            uint8_t *cut = malloc(len ? len : 1);
            assert_non_null(cut);
            memcpy(cut, frames[f], len);
            s_expect_drop(cut, len, MAXP, len == 0 ? RUMOR_WIRE_DROP_MAGIC : RUMOR_WIRE_DROP_LENGTH,
                          len == 0 ? RUMOR_EFORMAT : RUMOR_ETRUNC);
            free(cut);
        }
        s_expect_drop(frames[f], lens[f], MAXP, RUMOR_WIRE_DROP_NONE, 0);
    }
}

static void test_random_bytes_never_crash(void **state)
{
    (void)state;
    rumor_rng_t r;
    rumor_rng_seed(&r, 1234, 0, 0, RUMOR_RNG_TEST);
    uint8_t good[RUMOR_WIRE_HEADER_BYTES + 64];
    uint8_t payload[64] = {1, 2, 3};
    const size_t gl = s_frame(good, sizeof good, RUMOR_WIRE_DIFF, payload, sizeof payload);
    int accepted = 0;
    for (int it = 0; it < 20000; it++) {
        const size_t len = (size_t)rumor_rng_below(&r, 2 * RUMOR_WIRE_HEADER_BYTES + 64);
        uint8_t *buf = malloc(len ? len : 1);
        assert_non_null(buf);
        if (it % 2 == 0) {
            for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)rumor_rng_u64(&r);
        } else { /* a valid frame with a few bytes changed: reaches the later checks */
            for (size_t i = 0; i < len; i++) buf[i] = i < gl ? good[i] : 0;
            for (int k = 0; k < 3 && len > 0; k++)
                buf[rumor_rng_below(&r, (uint32_t)len)] ^= (uint8_t)(1u << rumor_rng_below(&r, 8));
        }
        rumor_wire_header_t h;
        const uint8_t *p = NULL;
        rumor_wire_drop_t why = RUMOR_WIRE_DROP_COUNT;
        const int rc = rumor_wire_parse(buf, len, N_NODES, 64, &h, &p, &why);
        if (rc == 0) {
            accepted++;
            assert_int_equal(why, RUMOR_WIRE_DROP_NONE);
            assert_int_equal(h.len + RUMOR_WIRE_HEADER_BYTES, len);
            assert_true(h.sender < N_NODES && h.len <= 64);
            assert_true(h.type >= RUMOR_WIRE_HELLO && h.type <= RUMOR_WIRE_BYE);
        } else {
            assert_true(rc < 0);
            assert_true(why > RUMOR_WIRE_DROP_NONE && why < RUMOR_WIRE_DROP_COUNT);
        }
        free(buf);
    }
    /* Flips of the flags, round or seq bytes keep a frame valid: the mutation half must have
     * produced some accepted frames, or it never reached the late checks. */
    assert_true(accepted > 0);
}

static rumor_wire_hello_t s_hello(void)
{
    rumor_wire_hello_t h = {
        .version = RUMOR_WIRE_PROTOCOL, .sender = 3, .resume_round = 600, .dim = 79510};
    for (int i = 0; i < RUMOR_WIRE_HASH_BYTES; i++) {
        h.topology_hash[i] = (uint8_t)(0x41 + i);
        h.config_hash[i] = (uint8_t)(0x90 ^ i);
    }
    return h;
}

static void test_hello_round_trip_and_compare(void **state)
{
    (void)state;
    const rumor_wire_hello_t ours = s_hello();
    uint8_t p[RUMOR_WIRE_HELLO_BYTES];
    assert_int_equal(rumor_wire_encode_hello(&ours, p, sizeof p - 1), RUMOR_ENOSPC);
    assert_int_equal(rumor_wire_encode_hello(&ours, p, sizeof p), 0);
    /* Field positions: version, sender, hashes, resume round, dimension. */
    assert_int_equal(p[0] | p[1] << 8, RUMOR_WIRE_PROTOCOL);
    assert_int_equal(p[4], 3);
    assert_int_equal(p[8], 0x41);
    assert_int_equal(p[40], 0x90);
    assert_int_equal(p[72] | p[73] << 8, 600);
    assert_int_equal(p[76] | p[77] << 8 | p[78] << 16, 79510);
    rumor_wire_hello_t got;
    assert_int_equal(rumor_wire_decode_hello(p, sizeof p, &got), 0);
    assert_memory_equal(&got, &ours, sizeof got);
    assert_int_equal(rumor_wire_decode_hello(p, sizeof p - 1, &got), RUMOR_EFORMAT);

    rumor_wire_hello_t theirs = ours;
    theirs.sender = 4;
    theirs.resume_round = 0;
    assert_int_equal(rumor_wire_hello_compare(&theirs, &ours), RUMOR_WIRE_HELLO_SAME);

    char msg[160];
    theirs.topology_hash[0] = 0x9f;
    theirs.topology_hash[1] = 0x2c;
    theirs.topology_hash[2] = 0x01;
    theirs.topology_hash[3] = 0xab;
    assert_int_equal(rumor_wire_hello_compare(&theirs, &ours), RUMOR_WIRE_HELLO_TOPOLOGY);
    rumor_wire_hello_explain(RUMOR_WIRE_HELLO_TOPOLOGY, &theirs, &ours, msg, sizeof msg);
    assert_string_equal(msg, "topology hash differs (theirs 9f2c01ab..., ours 41424344...)");

    theirs = ours;
    theirs.config_hash[31] ^= 1;
    assert_int_equal(rumor_wire_hello_compare(&theirs, &ours), RUMOR_WIRE_HELLO_CONFIG);
    rumor_wire_hello_explain(RUMOR_WIRE_HELLO_CONFIG, &theirs, &ours, msg, sizeof msg);
    assert_non_null(strstr(msg, "run-config hash differs"));

    theirs = ours;
    theirs.dim = 7850;
    assert_int_equal(rumor_wire_hello_compare(&theirs, &ours), RUMOR_WIRE_HELLO_DIM);
    rumor_wire_hello_explain(RUMOR_WIRE_HELLO_DIM, &theirs, &ours, msg, sizeof msg);
    assert_string_equal(msg, "model dimension differs (theirs 7850, ours 79510)");

    /* Version is reported first even when everything else differs too; a peer with another
     * codec format differs in the low byte. */
    theirs.version = RUMOR_WIRE_VERSION << 8 | (RUMOR_CODEC_VERSION + 1);
    theirs.topology_hash[5] ^= 1;
    assert_int_equal(rumor_wire_hello_compare(&theirs, &ours), RUMOR_WIRE_HELLO_VERSION);
    rumor_wire_hello_explain(RUMOR_WIRE_HELLO_VERSION, &theirs, &ours, msg, sizeof msg);
    char want[80];
    snprintf(want, sizeof want, "protocol version differs (theirs %d.%d, ours %d.%d)",
             RUMOR_WIRE_VERSION, RUMOR_CODEC_VERSION + 1, RUMOR_WIRE_VERSION, RUMOR_CODEC_VERSION);
    assert_string_equal(msg, want);

    /* A short buffer is truncated, still terminated. */
    char tiny[8];
    rumor_wire_hello_explain(RUMOR_WIRE_HELLO_DIM, &theirs, &ours, tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
}

static void test_state_round_trip(void **state)
{
    (void)state;
    enum { D = 257 };
    float x[D], y[D];
    for (int i = 0; i < D; i++) x[i] = (float)(i - 100) * 0.37f;
    x[0] = -0.0f;
    x[1] = 1e-42f; /* subnormal */
    x[2] = 3.4e38f;
    static uint8_t p[RUMOR_WIRE_STATE_HEADER + 4 * D + 4];
    size_t w = 0;
    assert_int_equal(rumor_wire_encode_state(42, x, D, p, sizeof p, &w), 0);
    assert_int_equal(w, rumor_wire_state_bytes(D));
    assert_int_equal(rumor_wire_encode_state(42, x, D, p, w - 1, &w), RUMOR_ENOSPC);
    /* x[10] = -90 * 0.37 in little-endian IEEE-754 at its offset. */
    float v;
    uint32_t bits = (uint32_t)p[8 + 40] | (uint32_t)p[8 + 41] << 8 | (uint32_t)p[8 + 42] << 16 |
                    (uint32_t)p[8 + 43] << 24;
    memcpy(&v, &bits, 4);
    assert_true(v == x[10]);

    uint32_t round = 0;
    assert_int_equal(rumor_wire_decode_state(p, w, D, &round, y), 0);
    assert_int_equal(round, 42);
    assert_memory_equal(x, y, sizeof x); /* bit-exact, including -0 and the subnormal */

    /* Dimension mismatch, wrong sizes, and non-finite values leave y untouched. */
    for (int i = 0; i < D; i++) y[i] = 7.0f;
    assert_int_equal(rumor_wire_decode_state(p, w, D + 1, &round, y), RUMOR_EMISMATCH);
    assert_int_equal(rumor_wire_decode_state(p, w - 4, D, &round, y), RUMOR_EFORMAT);
    assert_int_equal(rumor_wire_decode_state(p, w - 1, D, &round, y), RUMOR_EFORMAT);
    assert_int_equal(rumor_wire_decode_state(p, 7, D, &round, y), RUMOR_EFORMAT);
    p[8 + 4 * 100 + 3] = 0x7f; /* exponent all ones: inf or NaN */
    p[8 + 4 * 100 + 2] |= 0x80;
    assert_int_equal(rumor_wire_decode_state(p, w, D, &round, y), RUMOR_EFORMAT);
    for (int i = 0; i < D; i++) assert_true(y[i] == 7.0f);
}

static void test_bye_round_trip_and_checks(void **state)
{
    (void)state;
    const rumor_wire_bye_t cases[] = {
        {.origin = 3, .round = 600, .code = 0},
        {.origin = N_NODES - 1, .round = 212, .code = RUMOR_ENONFINITE},
        {.origin = 0, .round = UINT32_MAX, .code = RUMOR_ETIMEOUT},
        {.origin = 5, .round = 0, .code = RUMOR_ENOMEM},
        /* A full disk reaches neighbours as such, not as an I/O error. */
        {.origin = 2, .round = 100, .code = RUMOR_EDISKFULL},
    };
    uint8_t p[RUMOR_WIRE_BYE_BYTES];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        assert_int_equal(rumor_wire_encode_bye(&cases[c], p, sizeof p - 1), RUMOR_ENOSPC);
        assert_int_equal(rumor_wire_encode_bye(&cases[c], p, sizeof p), 0);
        rumor_wire_bye_t got;
        assert_int_equal(rumor_wire_decode_bye(p, sizeof p, N_NODES, &got), 0);
        assert_memory_equal(&got, &cases[c], sizeof got);
        assert_int_equal(rumor_wire_decode_bye(p, sizeof p - 1, N_NODES, &got), RUMOR_EFORMAT);
    }
    /* Field positions and the code's two's complement: origin 7, round 258, code -14. */
    const rumor_wire_bye_t b = {.origin = 7, .round = 258, .code = RUMOR_ENONFINITE};
    assert_int_equal(rumor_wire_encode_bye(&b, p, sizeof p), 0);
    const uint8_t golden[RUMOR_WIRE_BYE_BYTES] = {7, 0, 0, 0, 2, 1, 0, 0, 0xf2, 0xff, 0xff, 0xff};
    assert_memory_equal(p, golden, sizeof golden);

    /* Refused: an origin outside the run, a positive code, a code below the lowest, the most
     * negative 32-bit value. */
    rumor_wire_bye_t got = {0};
    const rumor_wire_bye_t bad[] = {
        {.origin = N_NODES, .round = 1, .code = 0},
        {.origin = 1, .round = 1, .code = 1},
        {.origin = 1, .round = 1, .code = RUMOR_ELOWEST - 1},
        {.origin = 1, .round = 1, .code = INT32_MIN},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        assert_int_equal(rumor_wire_encode_bye(&bad[c], p, sizeof p), 0);
        assert_int_equal(rumor_wire_decode_bye(p, sizeof p, N_NODES, &got), RUMOR_EFORMAT);
    }
    assert_int_equal(got.origin, 0); /* nothing written on failure */
}

static void test_payload_bound(void **state)
{
    (void)state;
    assert_int_equal(rumor_wire_payload_bound(10, 0), RUMOR_WIRE_HELLO_BYTES);
    assert_int_equal(rumor_wire_payload_bound(1000, 100), rumor_wire_state_bytes(1000));
    assert_int_equal(rumor_wire_payload_bound(1000, 50000), 50000);
    assert_int_equal(rumor_wire_payload_bound(10, (size_t)UINT32_MAX + 1), 0);
    /* Every model a scenario may describe fits; beyond ~4.3e8 parameters a DIFF (up to 10 d bytes)
     * would not. */
    const uint32_t dmax = RUMOR_MODEL_MAX_PARAMS;
    assert_true(rumor_wire_payload_bound(dmax, rumor_codec_bound(dmax)) > 0);
    assert_int_equal(rumor_wire_payload_bound(dmax + 40000000, rumor_codec_bound(dmax + 40000000)),
                     0);
    /* A STATE of the largest d the bound allows parses. */
    enum { D = 300 };
    static uint8_t f[RUMOR_WIRE_HEADER_BYTES + RUMOR_WIRE_STATE_HEADER + 4 * D];
    static float x[D];
    size_t w = 0;
    assert_int_equal(rumor_wire_encode_state(1, x, D, f + RUMOR_WIRE_HEADER_BYTES,
                                             sizeof f - RUMOR_WIRE_HEADER_BYTES, &w),
                     0);
    rumor_wire_header_t h = s_hdr(RUMOR_WIRE_STATE, (uint32_t)w);
    assert_int_equal(rumor_wire_encode_header(&h, f, sizeof f), 0);
    const uint8_t *p;
    assert_int_equal(
        rumor_wire_parse(f, sizeof f, N_NODES, rumor_wire_payload_bound(D, 10), &h, &p, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_golden_bytes),
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_payload_already_in_place),
        cmocka_unit_test(test_every_drop_reason),
        cmocka_unit_test(test_drop_names),
        cmocka_unit_test(test_truncated_at_every_length),
        cmocka_unit_test(test_random_bytes_never_crash),
        cmocka_unit_test(test_hello_round_trip_and_compare),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_bye_round_trip_and_checks),
        cmocka_unit_test(test_payload_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
