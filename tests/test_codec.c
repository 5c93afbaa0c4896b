/* Tests of codec: exact round trips in every mode and kind, hostile-input handling
 * (truncation, bit flips, lying headers), AUTO never above RAW, the record file, and the
 * support list: listed messages encode like unlisted ones, and decoding into a used output
 * (which clears only the old nonzeros) gives what decoding into a fresh one does. The
 * reference coders are in test_codec_ref.c, buckets in test_codec_buckets.c and the entropy
 * bound in test_codec_bound.c. */
#include "codec_support.h"

#include <errno.h>

/* ---- tests --------------------------------------------------------------------------- */

static void test_parse_mode(void **state)
{
    (void)state;
    const char *names[] = {"auto", "raw", "vsc", "arith"};
    for (int i = 0; i < 4; i++) {
        rumor_codec_mode_t m;
        assert_int_equal(rumor_codec_parse_mode(names[i], &m), 0);
        assert_int_equal(m, i);
        assert_string_equal(rumor_codec_mode_name(m), names[i]);
    }
    rumor_codec_mode_t m;
    assert_int_equal(rumor_codec_parse_mode("ans", &m), 0); /* the old name */
    assert_int_equal(m, RUMOR_CODEC_ARITH);
    assert_int_equal(rumor_codec_parse_mode("zstd", &m), RUMOR_EINVAL);
    assert_int_equal(rumor_codec_parse_mode("", &m), RUMOR_EINVAL);
    assert_int_equal(rumor_codec_parse_mode(NULL, &m), RUMOR_EINVAL);
}

static void test_raw_roundtrip_every_kind(void **state)
{
    s_fix_t *f = *state;
    const uint32_t dims[] = {0, 1, 2, 7, 64, 1000, 4099};
    for (size_t i = 0; i < sizeof dims / sizeof *dims; i++) {
        for (int rep = 0; rep < 20; rep++) {
            const uint32_t d = dims[i];
            s_gen_dense(&f->rng, &f->m, d);
            s_roundtrip(f, RUMOR_CODEC_RAW, NULL);
            assert_int_equal(s_raw_size(f), s_header(&f->m) + 4 * (size_t)d);
            s_gen_sparse(&f->rng, &f->m, d, 0.1 * (rep % 10));
            s_roundtrip(f, RUMOR_CODEC_RAW, NULL);
            assert_int_equal(s_raw_size(f), s_header(&f->m) + 8 * (size_t)f->m.nnz);
            s_gen_int(&f->rng, &f->m, d, 0.1 * (rep % 10), rep & 1 ? S_GEN_HUGE : S_GEN_DITHER, 16);
            s_roundtrip(f, RUMOR_CODEC_RAW, NULL);
        }
    }
}

static void test_raw_int_width_is_narrowest(void **state)
{
    s_fix_t *f = *state;
    /* levels in [-16, 16] zigzag to [0, 32]: 6 bits each */
    s_gen_int(&f->rng, &f->m, 1000, 0.5, S_GEN_FLAT, 16);
    f->m.q[3] = -16;
    f->m.nnz = 0;
    for (uint32_t k = 0; k < 1000; k++) f->m.nnz += f->m.q[k] != 0;
    assert_int_equal(s_raw_size(f), s_header(&f->m) + 1 + 1000 * 6 / 8);
    /* all zero: width 0, one byte of body */
    memset(f->m.q, 0, 1000 * 4);
    f->m.nnz = 0;
    assert_int_equal(s_raw_size(f), s_header(&f->m) + 1);
    s_roundtrip(f, RUMOR_CODEC_RAW, NULL);
}

/* Many small vectors of every shape through every mode. */
static void test_roundtrip_property(void **state)
{
    s_fix_t *f = *state;
    const rumor_codec_mode_t modes[] = {RUMOR_CODEC_AUTO, RUMOR_CODEC_RAW, RUMOR_CODEC_VSC,
                                        RUMOR_CODEC_ARITH};
    unsigned count = 0;
    for (int rep = 0; rep < 60000; rep++) {
        const uint32_t d = (uint32_t)rumor_rng_below(&f->rng, rep % 100 == 0 ? 5000 : 64);
        const double density = rumor_rng_uniform_d(&f->rng) * (rep % 3 ? 0.2 : 1.0);
        const s_gen_t g = (s_gen_t)(rep % 4);
        const uint32_t levels = 1 + (uint32_t)rumor_rng_below(&f->rng, rep % 7 ? 16 : 300);
        if (rep % 5 == 4)
            s_gen_sparse(&f->rng, &f->m, d, density);
        else
            s_gen_int(&f->rng, &f->m, d, density, g, levels);
        for (int i = 0; i < 4; i++, count++) s_roundtrip(f, modes[i], NULL);
    }
    assert_true(count >= 240000);
}

static void test_roundtrip_large(void **state)
{
    s_fix_t *f = *state;
    const double dens[] = {0.001, 0.01, 0.1, 0.5, 0.9, 1.0};
    for (size_t i = 0; i < sizeof dens / sizeof *dens; i++)
        for (int g = 0; g < 4; g++) {
            const uint32_t d = g == 0 ? DMAX : DMAX / 4;
            s_gen_int(&f->rng, &f->m, d, dens[i], (s_gen_t)g, 16 + 100 * (uint32_t)g);
            for (int mode = 0; mode < 4; mode++) s_roundtrip(f, (rumor_codec_mode_t)mode, NULL);
            s_gen_sparse(&f->rng, &f->m, d, dens[i]);
            for (int mode = 0; mode < 4; mode++) s_roundtrip(f, (rumor_codec_mode_t)mode, NULL);
        }
}

/* Past 4095 distinct magnitudes of 1024 and above the VSC table lists the small ones and one
 * entry for all the large ones, whose excess travels in the tail: still exact, in every mode. */
static void test_many_large_magnitudes(void **state)
{
    s_fix_t *f = *state;
    const uint32_t d = 12000;
    f->m.kind = RUMOR_CMSG_INT;
    f->m.listed = 0;
    f->m.d = d;
    f->m.scale = 0.5f;
    f->m.nnz = 0;
    for (uint32_t k = 0; k < d; k++) {
        const uint32_t a = k % 3 == 0 ? 1 + k % 7 : 1024 + 3 * k; /* 8000 distinct large */
        f->m.q[k] = k & 1 ? -(int32_t)a : (int32_t)a;
        f->m.nnz++;
    }
    f->m.q[5] = 0; /* one zero, so the support is coded too */
    f->m.nnz--;
    for (int mode = 0; mode < 4; mode++) s_roundtrip(f, (rumor_codec_mode_t)mode, NULL);
    /* The same with fewer than 4096 distinct large ones: the 32 smallest are listed. */
    for (uint32_t k = 0; k < d; k++)
        if (abs(f->m.q[k]) >= 1024) f->m.q[k] = f->m.q[k] < 0 ? -1024 - (int32_t)(k % 100) : 1024;
    for (int mode = 0; mode < 4; mode++) s_roundtrip(f, (rumor_codec_mode_t)mode, NULL);
}

/* A seeded SPARSE message (rand-k's) travels as its seed and its values: AUTO picks SEED, the
 * positions come back from the seed, and a message whose positions are not its seed's, or that
 * is not seeded, is never written as SEED. */
static void test_seeded_messages(void **state)
{
    s_fix_t *f = *state;
    uint64_t *bits = malloc((DMAX / 64 + 1) * sizeof *bits);
    uint8_t *msg = malloc(f->cap + 1);
    assert_non_null(bits);
    assert_non_null(msg);
    unsigned seeded = 0;
    for (int rep = 0; rep < 300; rep++) {
        const uint32_t d = 1 + (uint32_t)rumor_rng_below(&f->rng, rep % 50 ? 3000 : DMAX);
        const uint32_t k = (uint32_t)rumor_rng_below(&f->rng, (uint64_t)d + 1);
        rumor_cmsg_t *m = &f->m;
        m->kind = RUMOR_CMSG_SPARSE;
        m->d = d;
        m->nnz = k;
        m->scale = 1.0f;
        m->seed = rumor_rng_u64(&f->rng);
        m->seeded = 1;
        rumor_rng_sample_positions(m->seed, d, k, bits, m->idx);
        for (uint32_t j = 0; j < k; j++) m->val[j] = (float)rumor_rng_normal(&f->rng);
        int wm;
        const size_t n = s_roundtrip(f, RUMOR_CODEC_AUTO, &wm);
        assert_int_equal(f->out.seeded, wm == RUMOR_CODEC_SEED);
        /* AUTO writes the smallest: SEED (8 + 4 k bytes, for 3 <= k < d) unless the positions
         * cost VSC or ARITH under 64 bits */
        const size_t by_seed = s_header(m) + 8 + 4 * (size_t)k;
        if (k >= 3 && k < d) assert_true(n <= by_seed);
        if (wm == RUMOR_CODEC_SEED) {
            assert_int_equal(n, by_seed);
            size_t nv;
            assert_int_equal(rumor_codec_encode(f->c, m, RUMOR_CODEC_VSC, f->buf, f->cap, &nv), 0);
            assert_true(n < nv);
            assert_true(f->out.seed == m->seed);
            seeded++;
            /* explicit SEED writes the same; cut or lengthened, it is refused */
            assert_int_equal(rumor_codec_encode(f->c, m, RUMOR_CODEC_AUTO, f->buf, f->cap, &nv), 0);
            memcpy(msg, f->buf, n);
            size_t n2;
            assert_int_equal(rumor_codec_encode(f->c, m, RUMOR_CODEC_SEED, f->buf, f->cap, &n2), 0);
            assert_int_equal(n2, n);
            assert_memory_equal(f->buf, msg, n);
            assert_int_equal(rumor_codec_decode(f->c, msg, n - 1, DMAX, &f->out), RUMOR_ETRUNC);
            msg[n] = 0;
            assert_int_equal(rumor_codec_decode(f->c, msg, n + 1, DMAX, &f->out), RUMOR_EFORMAT);
        }
        s_roundtrip(f, RUMOR_CODEC_VSC, NULL);
        assert_false(f->out.seeded);
        /* positions that are not the seed's: never SEED */
        if (k >= 1 && k < d) {
            const uint32_t j = (uint32_t)rumor_rng_below(&f->rng, k);
            const uint32_t lo = j ? m->idx[j - 1] + 1 : 0, hi = j + 1 < k ? m->idx[j + 1] : d;
            if (hi - lo > 1) {
                m->idx[j] = m->idx[j] == lo ? lo + 1 : lo; /* another free position */
                s_roundtrip(f, RUMOR_CODEC_AUTO, &wm);
                assert_int_not_equal(wm, RUMOR_CODEC_SEED);
                size_t n3;
                assert_int_equal(rumor_codec_encode(f->c, m, RUMOR_CODEC_SEED, f->buf, f->cap, &n3),
                                 RUMOR_EINVAL);
            }
        }
        m->seeded = 0;
        size_t n4;
        assert_int_equal(rumor_codec_encode(f->c, m, RUMOR_CODEC_SEED, f->buf, f->cap, &n4),
                         RUMOR_EINVAL);
    }
    assert_true(seeded > 150);
    free(msg);
    free(bits);
}

static void test_edge_cases(void **state)
{
    s_fix_t *f = *state;
    for (int mode = 0; mode < 4; mode++) {
        /* d = 0 */
        f->m.kind = RUMOR_CMSG_INT;
        f->m.d = 0;
        f->m.nnz = 0;
        f->m.scale = 1.5f;
        assert_int_equal(s_roundtrip(f, (rumor_codec_mode_t)mode, NULL),
                         10); /* 8 + two 1-byte LEB128 */
        /* d = 1, zero and nonzero */
        f->m.d = 1;
        f->m.q[0] = 0;
        s_roundtrip(f, (rumor_codec_mode_t)mode, NULL);
        f->m.q[0] = -3;
        f->m.nnz = 1;
        s_roundtrip(f, (rumor_codec_mode_t)mode, NULL);
        /* extremes of int32 */
        const int32_t ext[] = {INT32_MIN, INT32_MAX, INT32_MIN + 1, -1, 1};
        f->m.d = 5;
        memcpy(f->m.q, ext, sizeof ext);
        f->m.nnz = 5;
        s_roundtrip(f, (rumor_codec_mode_t)mode, NULL);
        /* all zero, long */
        f->m.d = 100000;
        memset(f->m.q, 0, 100000 * 4);
        f->m.nnz = 0;
        s_roundtrip(f, (rumor_codec_mode_t)mode, NULL);
        /* a single nonzero at the end, and at the start */
        f->m.q[99999] = 7;
        f->m.nnz = 1;
        s_roundtrip(f, (rumor_codec_mode_t)mode, NULL);
        f->m.q[99999] = 0;
        f->m.q[0] = -7;
        s_roundtrip(f, (rumor_codec_mode_t)mode, NULL);
        f->m.q[0] = 0;
        /* all nonzero, one magnitude */
        for (uint32_t k = 0; k < 100000; k++) f->m.q[k] = k & 1 ? 1 : -1;
        f->m.nnz = 100000;
        s_roundtrip(f, (rumor_codec_mode_t)mode, NULL);
        /* sparse: empty, full */
        s_gen_sparse(&f->rng, &f->m, 1000, 0.0);
        s_roundtrip(f, (rumor_codec_mode_t)mode, NULL);
        s_gen_sparse(&f->rng, &f->m, 1000, 1.0);
        s_roundtrip(f, (rumor_codec_mode_t)mode, NULL);
    }
}

/* VSC reads its gaps from a 64-bit buffer while 8 bytes are left, and hands a gap longer
 * than the buffer holds, or past the positions left, and the last bytes to the bit-by-bit
 * reader: round trips at every Golomb width (m = 1 with the zeros marked, up to m in the
 * thousands), with gaps far beyond 64 bits between dense runs, at both ends, and with the
 * magnitude layers' marks read the same way; every shortened body is refused. */
static void test_vsc_gaps_every_width(void **state)
{
    s_fix_t *f = *state;
    const double dens[] = {0.0003, 0.003, 0.02, 0.1, 0.3, 0.45, 0.55, 0.8, 0.99};
    unsigned checked = 0;
    for (size_t i = 0; i < sizeof dens / sizeof *dens; i++)
        for (int g = 0; g < 4; g++) {
            const uint32_t d = DMAX - (uint32_t)i;
            s_gen_int(&f->rng, &f->m, d, dens[i], (s_gen_t)g, g == S_GEN_FLAT ? 40 : 16);
            int wm = 0;
            const size_t n = s_roundtrip(f, RUMOR_CODEC_VSC, &wm);
            if (wm != RUMOR_CODEC_VSC) continue;
            for (size_t len = n > 24 ? n - 24 : 0; len < n; len++, checked++)
                assert_true(rumor_codec_decode(f->c, f->buf, len, DMAX, &f->out) < 0);
        }
    /* two dense runs at the ends with one gap of ~130000 positions between them, and a run
     * in the middle: a unary count of thousands of bits in the middle of the support */
    for (int shape = 0; shape < 3; shape++) {
        const uint32_t d = DMAX;
        s_gen_int(&f->rng, &f->m, d, 0.0, S_GEN_DITHER, 16);
        uint32_t nnz = 0;
        for (uint32_t k = 0; k < d; k++) {
            const int on = shape == 0   ? k < 300 || k >= d - 300
                           : shape == 1 ? (k >= 60000 && k < 60400) || k == d - 1
                                        : k == 0 || (k % 9000 == 0) || (k >= 500 && k < 900);
            f->m.q[k] = on ? (k % 3 ? 1 : -2) : 0;
            nnz += on;
        }
        f->m.nnz = nnz;
        int wm = 0;
        s_roundtrip(f, RUMOR_CODEC_VSC, &wm);
        assert_int_equal(wm, RUMOR_CODEC_VSC);
    }
    assert_true(checked > 500);
}

/* rumor_codec_decode_add on src[0..n) into y (d entries) against decode_packed and a checked
 * axpy into a copy of y: the same result code, the same y bit for bit, and fused exactly when
 * the message is VSC INT of length d without buckets with a finite scale. Returns the code. */
static int s_check_decode_add(s_fix_t *f, rumor_cmsg_t *plain, const uint8_t *src, size_t n,
                              uint32_t d, float *y, float *want)
{
    memcpy(want, y, (size_t)d * sizeof *y);
    const int dec = rumor_codec_decode_packed(f->c, src, n, d, plain);
    rumor_codec_info_t info;
    const int fusable = dec == 0 && rumor_codec_peek(src, n, &info) == 0 &&
                        info.mode == RUMOR_CODEC_VSC && info.kind == RUMOR_CMSG_INT &&
                        !info.buckets && plain->d == d && isfinite(plain->scale);
    const int rc = rumor_codec_decode_add(f->c, src, n, d, &f->out, y);
    if (dec < 0) {
        assert_int_equal(rc, dec);
    } else if (!fusable) { /* decoded only, for the caller to apply */
        assert_int_equal(rc, 0);
        assert_int_equal(f->out.nnz, plain->nnz);
    } else {
        const int finite = rumor_cmsg_axpy_finite(plain, 1.0f, want);
        if (finite) rumor_cmsg_axpy(plain, 1.0f, want);
        assert_int_equal(rc, finite ? 1 : RUMOR_ENONFINITE);
        if (rc == 1) assert_int_equal(f->out.nnz, 0);
    }
    assert_memory_equal(y, want, (size_t)d * sizeof *y);
    return rc;
}

/* A VSC message added into a vector as it is decoded gives the vector the packed decode and
 * a checked axpy give it, bit for bit; a message that fails to decode (shortened, damaged, a
 * positive 2^31) or would put an infinity there leaves it as it was, with the same code. */
static void test_decode_add_is_decode_then_axpy(void **state)
{
    s_fix_t *f = *state;
    float *y = malloc(2 * (size_t)DMAX * sizeof *y); /* then the vector it should become */
    assert_non_null(y);
    float *want = y + DMAX;
    rumor_cmsg_t plain;
    assert_int_equal(rumor_cmsg_init(&plain, DMAX), 0);
    const double densities[] = {0.0005, 0.02, 0.3, 0.7};
    const rumor_codec_mode_t modes[] = {RUMOR_CODEC_VSC, RUMOR_CODEC_AUTO, RUMOR_CODEC_ARITH,
                                        RUMOR_CODEC_RAW};
    int fused = 0, refused = 0;
    for (int t = 0; t < 32; t++) {
        const uint32_t d = 2000 + 3989 * (uint32_t)t;
        for (uint32_t k = 0; k < d; k++) y[k] = (float)rumor_rng_uniform_d(&f->rng) - 0.5f;
        s_gen_int(&f->rng, &f->m, d, densities[t % 4], t % 3 ? S_GEN_DITHER : S_GEN_HUGE, 8);
        if (t % 8 == 7) { /* y[0] near the largest float: its sum overflows, the others not */
            f->m.scale = 3e38f;
            y[0] = 3e38f;
            for (uint32_t k = 0; k < d; k++) f->m.q[k] = k % 50 ? 0 : 1;
            f->m.nnz = (d + 49) / 50;
        }
        size_t n = 0;
        const rumor_codec_mode_t mode = t % 8 == 7 ? RUMOR_CODEC_VSC : modes[t / 4 % 4];
        assert_int_equal(rumor_codec_encode(f->c, &f->m, mode, f->buf, f->cap, &n), 0);
        const int rc = s_check_decode_add(f, &plain, f->buf, n, d, y, want);
        fused += rc == 1;
        refused += rc == RUMOR_ENONFINITE;
        /* shortened, lengthened, damaged, and of another length than y */
        for (size_t cut = 1; cut <= 9; cut += 4)
            assert_true(s_check_decode_add(f, &plain, f->buf, n - cut, d, y, want) < 0);
        f->buf[n] = 0;
        assert_true(s_check_decode_add(f, &plain, f->buf, n + 1, d, y, want) < 0);
        for (int flip = 0; flip < 8; flip++) {
            const size_t at = n / 2 + (size_t)flip * (n / 20);
            f->buf[at] ^= (uint8_t)(1u << flip);
            (void)s_check_decode_add(f, &plain, f->buf, n, d, y, want);
            f->buf[at] ^= (uint8_t)(1u << flip);
        }
        assert_true(s_check_decode_add(f, &plain, f->buf, n, d + 1, y, want) <= 1);
    }
    assert_true(fused >= 8);
    assert_true(refused >= 2);
    /* a positive 2^31, found by the sign pass after some entries were added */
    s_gen_int(&f->rng, &f->m, 200, 0.0, S_GEN_DITHER, 1);
    for (uint32_t k = 0; k < 200; k += 2) f->m.q[k] = -1;
    f->m.q[199] = INT32_MIN;
    f->m.nnz = 101;
    size_t n;
    assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_VSC, f->buf, f->cap, &n), 0);
    const size_t last = (n - 1) * 8 + (size_t)(31 - __builtin_clz(f->buf[n - 1])); /* q[199]'s */
    f->buf[last / 8] ^= (uint8_t)(1u << last % 8);
    for (uint32_t k = 0; k < 200; k++) y[k] = (float)k;
    assert_int_equal(s_check_decode_add(f, &plain, f->buf, n, 200, y, want), RUMOR_EFORMAT);
    rumor_cmsg_free(&plain);
    free(y);
}

/* Encodes the current message in each mode into bufs; returns how many were written. */
static int s_encode_all(s_fix_t *f, uint8_t *bufs[4], size_t sizes[4])
{
    int n = 0;
    for (int mode = RUMOR_CODEC_RAW; mode <= RUMOR_CODEC_ARITH; mode++) {
        if (rumor_codec_encode(f->c, &f->m, (rumor_codec_mode_t)mode, bufs[n], f->cap, &sizes[n]) ==
            0)
            n++;
    }
    return n;
}

/* A packed decoding is the plain one with the levels beside their positions: the same
 * message applied, the same error on a damaged input, whatever the output held before (the
 * same output goes packed, plain and packed again). */
/* VSC sends a level as a magnitude and a sign: 2^31 is a level only when negative. The
 * magnitude 2^31 is written, its sign bit (the second to last bit sent, the last being a
 * nonzero level's sign) flipped to positive, and the decoder refuses it, packed or not. */
static void test_vsc_positive_two_to_31_is_refused(void **state)
{
    s_fix_t *f = *state;
    f->m.kind = RUMOR_CMSG_INT;
    f->m.listed = 0;
    f->m.nb = 0;
    f->m.d = 8;
    f->m.scale = 1.0f;
    memset(f->m.q, 0, 8 * sizeof *f->m.q);
    f->m.q[1] = INT32_MIN;
    f->m.q[5] = -1;
    f->m.nnz = 2;
    size_t n;
    assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_VSC, f->buf, f->cap, &n), 0);
    assert_int_equal(rumor_codec_decode(f->c, f->buf, n, DMAX, &f->out), 0);
    assert_int_equal(f->out.q[1], INT32_MIN);
    const size_t last = (n - 1) * 8 + (size_t)(31 - __builtin_clz(f->buf[n - 1])); /* q[5]'s */
    f->buf[(last - 1) / 8] ^= (uint8_t)(1u << (last - 1) % 8);
    assert_int_equal(rumor_codec_decode(f->c, f->buf, n, DMAX, &f->out), RUMOR_EFORMAT);
    assert_int_equal(rumor_codec_decode_packed(f->c, f->buf, n, DMAX, &f->out), RUMOR_EFORMAT);
}

static void test_decode_packed_is_decode(void **state)
{
    s_fix_t *f = *state;
    rumor_cmsg_t plain;
    assert_int_equal(rumor_cmsg_init(&plain, DMAX), 0);
    float *a = malloc(DMAX * sizeof *a), *b = malloc(DMAX * sizeof *b);
    assert_true(a && b);
    const double densities[] = {0.002, 0.02, 0.3};
    const rumor_codec_mode_t modes[] = {RUMOR_CODEC_VSC, RUMOR_CODEC_ARITH, RUMOR_CODEC_AUTO};
    int packed_seen = 0;
    for (int t = 0; t < 18; t++) {
        const uint32_t d = 1000 + 977 * (uint32_t)t;
        s_gen_int(&f->rng, &f->m, d, densities[t % 3], t % 2 ? S_GEN_HUGE : S_GEN_DITHER, 8);
        size_t n = 0;
        assert_int_equal(rumor_codec_encode(f->c, &f->m, modes[t / 3 % 3], f->buf, f->cap, &n), 0);
        assert_int_equal(rumor_codec_decode(f->c, f->buf, n, DMAX, &plain), 0);
        const int rc = t % 6 == 5 ? rumor_codec_decode(f->c, f->buf, n, DMAX, &f->out)
                                  : rumor_codec_decode_packed(f->c, f->buf, n, DMAX, &f->out);
        assert_int_equal(rc, 0);
        assert_int_equal(rumor_cmsg_check(&f->out), 0);
        assert_int_equal(f->out.packed,
                         t % 6 != 5 && rumor_codec_peek_mode(f->buf, n) != RUMOR_CODEC_RAW);
        packed_seen |= f->out.packed;
        assert_int_equal(f->out.nnz, plain.nnz);
        rumor_cmsg_to_dense(&plain, a);
        rumor_cmsg_to_dense(&f->out, b);
        assert_memory_equal(a, b, (size_t)d * sizeof *a);
        /* damaged: both refuse it alike */
        f->buf[n / 2] ^= 0x10;
        const int r1 = rumor_codec_decode(f->c, f->buf, n, DMAX, &plain);
        const int r2 = rumor_codec_decode_packed(f->c, f->buf, n - (t % 2), DMAX, &f->out);
        if (t % 2 == 0) assert_int_equal(r1, r2);
        assert_true(r2 <= 0);
    }
    assert_true(packed_seen);
    rumor_cmsg_free(&plain);
    free(a);
    free(b);
}

static void test_truncated_and_extended_inputs_fail(void **state)
{
    s_fix_t *f = *state;
    uint8_t *bufs[4];
    for (int i = 0; i < 4; i++) bufs[i] = malloc(f->cap + 1);
    unsigned checked = 0;
    for (int rep = 0; rep < 24; rep++) {
        const uint32_t d = 50 + (uint32_t)rumor_rng_below(&f->rng, 3000);
        if (rep % 3 == 2)
            s_gen_sparse(&f->rng, &f->m, d, 0.02 + 0.1 * (rep % 5));
        else
            s_gen_int(&f->rng, &f->m, d, 0.02 + 0.1 * (rep % 5), (s_gen_t)(rep % 4), 16);
        size_t sizes[4];
        const int n = s_encode_all(f, bufs, sizes);
        assert_int_equal(n, 3);
        for (int i = 0; i < n; i++) {
            for (size_t len = 0; len < sizes[i]; len++, checked++)
                assert_true(rumor_codec_decode(f->c, bufs[i], len, DMAX, &f->out) < 0);
            bufs[i][sizes[i]] = 0;
            assert_true(rumor_codec_decode(f->c, bufs[i], sizes[i] + 1, DMAX, &f->out) < 0);
            bufs[i][sizes[i]] = 0xA5;
            assert_true(rumor_codec_decode(f->c, bufs[i], sizes[i] + 1, DMAX, &f->out) < 0);
            assert_int_equal(rumor_codec_decode(f->c, bufs[i], sizes[i], DMAX, &f->out), 0);
        }
    }
    assert_true(checked > 10000);
    for (int i = 0; i < 4; i++) free(bufs[i]);
}

/* Corrupted messages either fail or decode to a valid message that survives a round trip. */
static void test_bit_flips_never_crash(void **state)
{
    s_fix_t *f = *state;
    uint8_t *bufs[4];
    for (int i = 0; i < 4; i++) bufs[i] = malloc(f->cap);
    rumor_cmsg_t again;
    assert_int_equal(rumor_cmsg_init(&again, DMAX), 0);
    uint8_t *buf2 = malloc(f->cap);
    unsigned ok = 0, failed = 0;
    for (int rep = 0; rep < 250; rep++) {
        const uint32_t d = 1 + (uint32_t)rumor_rng_below(&f->rng, 2000);
        if (rep % 3 == 2)
            s_gen_sparse(&f->rng, &f->m, d, 0.3 * rumor_rng_uniform_d(&f->rng));
        else
            s_gen_int(&f->rng, &f->m, d, 0.5 * rumor_rng_uniform_d(&f->rng), (s_gen_t)(rep % 4),
                      16);
        size_t sizes[4];
        const int n = s_encode_all(f, bufs, sizes);
        for (int i = 0; i < n; i++) {
            for (int flip = 0; flip < 40; flip++) {
                const size_t len = sizes[i];
                const unsigned nflips = 1 + (unsigned)rumor_rng_below(&f->rng, 3);
                size_t at[3];
                for (unsigned k = 0; k < nflips; k++) {
                    at[k] = (size_t)rumor_rng_below(&f->rng, 8 * len);
                    bufs[i][at[k] / 8] ^= (uint8_t)(1u << (at[k] % 8));
                }
                if (rumor_codec_decode(f->c, bufs[i], len, DMAX, &f->out) == 0) {
                    ok++;
                    assert_int_equal(rumor_cmsg_check(&f->out), 0);
                    size_t n2;
                    assert_int_equal(
                        rumor_codec_encode(f->c, &f->out, RUMOR_CODEC_AUTO, buf2, f->cap, &n2), 0);
                    assert_int_equal(rumor_codec_decode(f->c, buf2, n2, DMAX, &again), 0);
                    s_assert_same(&f->out, &again);
                } else {
                    failed++;
                }
                for (unsigned k = nflips; k-- > 0;)
                    bufs[i][at[k] / 8] ^= (uint8_t)(1u << (at[k] % 8));
            }
        }
    }
    assert_true(failed > 0 && ok > 0);
    rumor_cmsg_free(&again);
    free(buf2);
    for (int i = 0; i < 4; i++) free(bufs[i]);
}

/* msg (n bytes) with its header's d and nnz replaced (LEB128 written here, from the format
 * description), into out; returns the new length. */
static size_t s_relabel(const uint8_t *msg, size_t n, uint32_t d, uint32_t nnz, uint8_t *out)
{
    rumor_codec_info_t info;
    assert_int_equal(rumor_codec_peek(msg, n, &info), 0);
    size_t k = 4;
    memcpy(out, msg, 4);
    const uint32_t v[2] = {d, nnz};
    for (int i = 0; i < 2; i++) {
        uint32_t x = v[i];
        while (x >= 128) {
            out[k++] = (uint8_t)(x | 128);
            x >>= 7;
        }
        out[k++] = (uint8_t)x;
    }
    memcpy(out + k, msg + info.header - 4, 4 + n - info.header); /* scale and body */
    return k + 4 + n - info.header;
}

static void test_lying_headers_are_refused(void **state)
{
    s_fix_t *f = *state;
    s_gen_int(&f->rng, &f->m, 1000, 0.1, S_GEN_DITHER, 16);
    size_t n;
    assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_VSC, f->buf, f->cap, &n), 0);
    uint8_t *b = malloc(n);
    memcpy(b, f->buf, n);
    /* d above the caller's limit, the context's and the output's */
    assert_int_equal(rumor_codec_decode(f->c, b, n, 999, &f->out), RUMOR_ERANGE);
    rumor_codec_t *small = rumor_codec_new(500);
    assert_non_null(small);
    assert_int_equal(rumor_codec_decode(small, b, n, DMAX, &f->out), RUMOR_ERANGE);
    rumor_codec_destroy(&small);
    assert_null(small);
    rumor_cmsg_t tiny;
    assert_int_equal(rumor_cmsg_init(&tiny, 10), 0);
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &tiny), RUMOR_ERANGE);
    rumor_cmsg_free(&tiny);
    /* magic, version, mode, kind */
    b[0] ^= 1;
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EFORMAT);
    assert_true(rumor_codec_peek_mode(b, n) < 0);
    b[0] ^= 1;
    for (uint8_t v = 0; v < 6; v++) {
        if (v == S_PLAIN || v == RUMOR_CODEC_VERSION) continue;
        b[2] = v; /* version 1 peeled VSC layers in another order */
        assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EVERSION);
    }
    b[2] = RUMOR_CODEC_VERSION; /* the version of buckets only */
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EFORMAT);
    b[2] = S_PLAIN;
    const uint8_t mode_byte = b[3];
    const uint8_t bad_modes[] = {0x10, 0x14, 0x0F, 0x02, 0x03, 0x32, 0xF1};
    for (size_t i = 0; i < sizeof bad_modes; i++) {
        b[3] = bad_modes[i]; /* AUTO or unknown modes, DENSE with VSC/ARITH, unknown kinds */
        assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EFORMAT);
    }
    b[3] = mode_byte;
    assert_int_equal(rumor_codec_peek_mode(b, n), RUMOR_CODEC_VSC);
    /* d and nnz as other values, with the body kept: nnz above d, nnz not matching the body */
    uint8_t *lie = malloc(n + 16);
    const uint32_t nnz = f->m.nnz;
    assert_int_equal(rumor_codec_decode(f->c, lie, s_relabel(b, n, 1000, nnz, lie), DMAX, &f->out),
                     0);
    assert_int_equal(rumor_codec_decode(f->c, lie, s_relabel(b, n, 1000, 1001, lie), DMAX, &f->out),
                     RUMOR_EFORMAT);
    for (uint32_t v = 0; v < 1000; v += 37)
        if (v != nnz)
            assert_true(
                rumor_codec_decode(f->c, lie, s_relabel(b, n, 1000, v, lie), DMAX, &f->out) < 0);
    /* LEB128: only the shortest spelling of d (1000 = e8 07), at most 5 bytes, below 2^32 */
    const size_t at = s_relabel(b, n, 1000, nnz, lie);
    const uint8_t *body = b + rumor_codec_header_size(1000, nnz);
    const size_t blen = n - rumor_codec_header_size(1000, nnz);
    const struct {
        uint8_t bytes[6];
        size_t len;
    } bad_d[] = {{{0xe8, 0x87, 0x00}, 3},
                 {{0xe8, 0x87, 0x80, 0x80, 0x80, 0x00}, 6},
                 {{0xff, 0xff, 0xff, 0xff, 0x1f}, 5}};
    for (size_t i = 0; i < sizeof bad_d / sizeof *bad_d; i++) {
        size_t k = 4;
        memcpy(lie, b, 4);
        memcpy(lie + k, bad_d[i].bytes, bad_d[i].len);
        k += bad_d[i].len;
        lie[k++] = (uint8_t)nnz;                                        /* nnz < 128 here */
        memcpy(lie + k, b + rumor_codec_header_size(1000, nnz) - 4, 4); /* scale */
        k += 4;
        memcpy(lie + k, body, blen);
        assert_int_equal(rumor_codec_decode(f->c, lie, k + blen, DMAX, &f->out), RUMOR_EFORMAT);
    }
    assert_true(nnz < 128 && at == n);
    free(lie);
    /* too short for a header: every prefix of it */
    for (size_t len = 0; len < rumor_codec_header_size(1000, nnz); len++)
        assert_int_equal(rumor_codec_decode(f->c, b, len, DMAX, &f->out), RUMOR_ETRUNC);
    assert_int_equal(rumor_codec_decode(f->c, NULL, 0, DMAX, &f->out), RUMOR_ETRUNC);
    free(b);
}

static void test_encode_rejects_bad_input(void **state)
{
    s_fix_t *f = *state;
    size_t n = 1;
    s_gen_dense(&f->rng, &f->m, 100);
    assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_VSC, f->buf, f->cap, &n),
                     RUMOR_EINVAL);
    assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_ARITH, f->buf, f->cap, &n),
                     RUMOR_EINVAL);
    assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_AUTO, f->buf, f->cap, &n), 0);
    assert_int_equal(rumor_codec_peek_mode(f->buf, n), RUMOR_CODEC_RAW);
    s_gen_int(&f->rng, &f->m, 100, 0.3, S_GEN_DITHER, 16);
    f->m.nnz++;
    assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_AUTO, f->buf, f->cap, &n),
                     RUMOR_EINVAL);
    s_gen_sparse(&f->rng, &f->m, 100, 0.3);
    assert_true(f->m.nnz >= 2);
    f->m.idx[1] = f->m.idx[0];
    assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_AUTO, f->buf, f->cap, &n),
                     RUMOR_EINVAL);
    s_gen_sparse(&f->rng, &f->m, 100, 0.3);
    f->m.idx[f->m.nnz - 1] = 100;
    assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_AUTO, f->buf, f->cap, &n),
                     RUMOR_EINVAL);
    rumor_codec_t *small = rumor_codec_new(50);
    s_gen_int(&f->rng, &f->m, 100, 0.3, S_GEN_DITHER, 16);
    assert_int_equal(rumor_codec_encode(small, &f->m, RUMOR_CODEC_AUTO, f->buf, f->cap, &n),
                     RUMOR_EINVAL);
    rumor_codec_destroy(&small);
    assert_int_equal(rumor_codec_encode(f->c, &f->m, (rumor_codec_mode_t)7, f->buf, f->cap, &n),
                     RUMOR_EINVAL);
    /* every mode reports a short buffer instead of overrunning it */
    for (int mode = 0; mode < 4; mode++) {
        size_t full;
        assert_int_equal(
            rumor_codec_encode(f->c, &f->m, (rumor_codec_mode_t)mode, f->buf, f->cap, &full), 0);
        for (size_t cap = 0; cap < full; cap += 1 + cap / 8)
            assert_int_equal(
                rumor_codec_encode(f->c, &f->m, (rumor_codec_mode_t)mode, f->buf, cap, &n),
                RUMOR_ENOSPC);
        assert_int_equal(
            rumor_codec_encode(f->c, &f->m, (rumor_codec_mode_t)mode, f->buf, full, &n), 0);
        assert_int_equal(n, full);
    }
}

static void test_no_mode_exceeds_raw(void **state)
{
    s_fix_t *f = *state;
    for (int rep = 0; rep < 3000; rep++) {
        const uint32_t d = 1 + (uint32_t)rumor_rng_below(&f->rng, rep % 20 ? 500 : 20000);
        const double density = rumor_rng_uniform_d(&f->rng);
        if (rep % 4 == 3)
            s_gen_sparse(&f->rng, &f->m, d, density);
        else
            s_gen_int(&f->rng, &f->m, d, density, (s_gen_t)(rep % 4), 1 + rep % 300);
        const size_t raw = s_raw_size(f);
        for (int mode = 0; mode < 4; mode++) {
            size_t n;
            assert_int_equal(
                rumor_codec_encode(f->c, &f->m, (rumor_codec_mode_t)mode, f->buf, f->cap, &n), 0);
            assert_true(n <= raw);
            assert_true(n <= rumor_codec_bound(d));
        }
    }
}

static void test_record_file_format(void **state)
{
    s_fix_t *f = *state;
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    size_t sizes[2];
    uint8_t *copies[2];
    for (int i = 0; i < 2; i++) {
        s_gen_int(&f->rng, &f->m, 300 + 100 * (uint32_t)i, 0.1, S_GEN_DITHER, 16);
        assert_int_equal(
            rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_AUTO, f->buf, f->cap, &sizes[i]), 0);
        copies[i] = malloc(sizes[i]);
        memcpy(copies[i], f->buf, sizes[i]);
        assert_int_equal(rumor_codec_record_write(tmp, f->buf, sizes[i]), 0);
    }
    assert_int_equal(rumor_codec_record_write(NULL, f->buf, 1), RUMOR_EINVAL);
    rewind(tmp);
    for (int i = 0; i < 2; i++) {
        uint8_t prefix[4];
        assert_int_equal(fread(prefix, 1, 4, tmp), 4);
        const size_t len =
            prefix[0] | prefix[1] << 8 | (size_t)prefix[2] << 16 | (size_t)prefix[3] << 24;
        assert_int_equal(len, sizes[i]);
        assert_int_equal(fread(f->buf, 1, len, tmp), len);
        assert_memory_equal(f->buf, copies[i], len);
        assert_int_equal(rumor_codec_decode(f->c, f->buf, len, DMAX, &f->out), 0);
        free(copies[i]);
    }
    assert_int_equal(fgetc(tmp), EOF);
    fclose(tmp);
}

/* The recorded Malcom-PSGD residuals (tests/data/codec_residuals.bin, docs/codec.md) decode,
 * re-encode to the very same bytes in the mode they were written in (a golden test of the
 * format), and round-trip exactly in every mode. */
static void test_recorded_residuals(void **state)
{
    s_fix_t *f = *state;
    const char *dir = getenv("RUMOR_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/codec_residuals.bin", dir ? dir : RUMOR_SOURCE_DIR);
    FILE *in = fopen(path, "rb");
    if (!in) fail_msg("%s: cannot open the committed golden file: %s", path, strerror(errno));
    uint8_t *msg = malloc(f->cap);
    unsigned count = 0;
    uint8_t prefix[4];
    while (fread(prefix, 1, 4, in) == 4) {
        const size_t len =
            prefix[0] | prefix[1] << 8 | (size_t)prefix[2] << 16 | (size_t)prefix[3] << 24;
        assert_true(len <= f->cap);
        assert_int_equal(fread(msg, 1, len, in), len);
        assert_int_equal(rumor_codec_decode(f->c, msg, len, DMAX, &f->m), 0);
        const int mode = rumor_codec_peek_mode(msg, len);
        size_t n;
        assert_int_equal(
            rumor_codec_encode(f->c, &f->m, (rumor_codec_mode_t)mode, f->buf, f->cap, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(f->buf, msg, len);
        for (int m = 0; m < 4; m++)
            if (f->m.kind != RUMOR_CMSG_DENSE || m <= RUMOR_CODEC_RAW)
                s_roundtrip(f, (rumor_codec_mode_t)m, NULL);
        count++;
    }
    assert_true(feof(in) && count > 0);
    fclose(in);
    free(msg);
}

/* The levels of a listed INT message are zero off its list, and the list is its nonzeros. */
static void s_assert_list_exact(const rumor_cmsg_t *m)
{
    if (m->kind != RUMOR_CMSG_INT || !m->listed) return;
    uint32_t j = 0;
    for (uint32_t k = 0; k < m->d; k++)
        if (m->q[k]) {
            assert_true(j < m->nnz);
            assert_int_equal(m->idx[j++], k);
        }
    assert_int_equal(j, m->nnz);
}

static void test_listed_messages_encode_alike(void **state)
{
    s_fix_t *f = *state;
    uint8_t *ref = malloc(4 * f->cap); /* one encoding per mode */
    assert_non_null(ref);
    for (int rep = 0; rep < 24; rep++) {
        const uint32_t d = rep % 3 == 0 ? 100000 : 1 + (uint32_t)rumor_rng_below(&f->rng, 3000);
        s_gen_int(&f->rng, &f->m, d, rep % 2 ? 0.02 : 0.3, (s_gen_t)(rep % 4), 16);
        const double bound = rumor_codec_entropy_bound_bits(&f->m);
        size_t n[4];
        for (int mode = 0; mode < 4; mode++) {
            assert_int_equal(rumor_codec_encode(f->c, &f->m, (rumor_codec_mode_t)mode,
                                                ref + (size_t)mode * f->cap, f->cap, &n[mode]),
                             0);
        }
        assert_int_equal(rumor_cmsg_list(&f->m), f->m.nnz);
        const double listed_bound = rumor_codec_entropy_bound_bits(&f->m);
        assert_memory_equal(&bound, &listed_bound, sizeof bound);
        for (int mode = 0; mode < 4; mode++) {
            size_t got;
            assert_int_equal(
                rumor_codec_encode(f->c, &f->m, (rumor_codec_mode_t)mode, f->buf, f->cap, &got), 0);
            assert_int_equal(got, n[mode]);
            assert_memory_equal(f->buf, ref + (size_t)mode * f->cap, got);
        }
    }
    /* a list that does not describe q is refused */
    s_gen_int(&f->rng, &f->m, 1000, 0.1, S_GEN_DITHER, 8);
    rumor_cmsg_list(&f->m);
    size_t n;
    f->m.idx[0] = f->m.idx[0] > 0 ? f->m.idx[0] - 1 : 999; /* a zero level, or out of order */
    assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_AUTO, f->buf, f->cap, &n),
                     RUMOR_EINVAL);
    free(ref);
}

static void test_decode_into_used_output(void **state)
{
    s_fix_t *f = *state;
    enum { S_MSGS = 7 };
    uint8_t *msg[S_MSGS];
    size_t len[S_MSGS];
    for (int i = 0; i < S_MSGS; i++) {
        msg[i] = malloc(f->cap);
        assert_non_null(msg[i]);
        const uint32_t d = i == 0 ? DMAX : i == 1 ? 100 : i == 2 ? 5000 : 20000;
        if (i == 3)
            s_gen_sparse(&f->rng, &f->m, d, 0.01);
        else if (i == 4)
            s_gen_dense(&f->rng, &f->m, 300);
        else
            s_gen_int(&f->rng, &f->m, d, i == 5 ? 0.0 : 0.05, S_GEN_DITHER, 8);
        const rumor_codec_mode_t mode = i == 6   ? RUMOR_CODEC_ARITH
                                        : i == 2 ? RUMOR_CODEC_RAW
                                                 : RUMOR_CODEC_AUTO;
        assert_int_equal(rumor_codec_encode(f->c, &f->m, mode, msg[i], f->cap, &len[i]), 0);
    }
    rumor_cmsg_t fresh;
    assert_int_equal(rumor_cmsg_init(&fresh, DMAX), 0);
    for (int a = 0; a < S_MSGS; a++)
        for (int b = 0; b < S_MSGS; b++) {
            assert_int_equal(rumor_codec_decode(f->c, msg[a], len[a], DMAX, &f->out), 0);
            s_assert_list_exact(&f->out);
            if (b % 2) /* a failed decode in between leaves nothing that a later one trusts */
                assert_true(rumor_codec_decode(f->c, msg[b], len[b] - 1, DMAX, &f->out) < 0);
            assert_int_equal(rumor_codec_decode(f->c, msg[b], len[b], DMAX, &f->out), 0);
            memset(fresh.q, 0x55, (size_t)DMAX * sizeof *fresh.q); /* not a listed message */
            fresh.listed = 0;
            assert_int_equal(rumor_codec_decode(f->c, msg[b], len[b], DMAX, &fresh), 0);
            s_assert_same(&fresh, &f->out);
            s_assert_list_exact(&f->out);
        }
    rumor_cmsg_free(&fresh);
    for (int i = 0; i < S_MSGS; i++) free(msg[i]);
}

/* A context for no coordinates is a bad configuration, told apart from a failed allocation. */
static void test_create_codes(void **state)
{
    (void)state;
    static char sentinel;
    rumor_codec_t *c = (rumor_codec_t *)(void *)&sentinel;
    assert_int_equal(rumor_codec_create(0, &c), RUMOR_EINVAL);
    assert_null(c);
    assert_null(rumor_codec_new(0));
    assert_int_equal(rumor_codec_create(1, &c), 0);
    assert_non_null(c);
    rumor_codec_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_mode),
        cmocka_unit_test_setup_teardown(test_raw_roundtrip_every_kind, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_raw_int_width_is_narrowest, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_property, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_large, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_vsc_positive_two_to_31_is_refused, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_edge_cases, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_vsc_gaps_every_width, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_seeded_messages, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_many_large_magnitudes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_truncated_and_extended_inputs_fail, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_bit_flips_never_crash, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_lying_headers_are_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_encode_rejects_bad_input, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_mode_exceeds_raw, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_record_file_format, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_recorded_residuals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_listed_messages_encode_alike, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_into_used_output, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_packed_is_decode, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_add_is_decode_then_axpy, s_setup, s_teardown),
        cmocka_unit_test(test_create_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
