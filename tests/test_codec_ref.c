/* Tests of codec against plain reference coders written from docs/codec.md: the fast VSC
 * and ARITH coders give their bytes exactly, and hand-made messages have one spelling per
 * mode. */
#include "codec_support.h"

/* ---- reference coders ------------------------------------------------------------------
 * Written from the format description in docs/codec.md, one bit at a time, for clarity over
 * speed; the codec's fast paths must produce exactly the same bytes. */

typedef struct {
    uint8_t *bit; /* one byte per bit */
    size_t n, cap;
} s_bits_t;

static void s_bit(s_bits_t *b, unsigned v)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 1024;
        b->bit = realloc(b->bit, b->cap);
        assert_non_null(b->bit);
    }
    b->bit[b->n++] = (uint8_t)(v & 1);
}

/* A field of nbits, least significant bit first. */
static void s_field(s_bits_t *b, uint64_t v, unsigned nbits)
{
    for (unsigned i = 0; i < nbits; i++) s_bit(b, (unsigned)(v >> i) & 1);
}

/* Packs bit i into byte i / 8 at position i % 8; returns the byte count. */
static size_t s_pack(const s_bits_t *b, uint8_t *out)
{
    const size_t bytes = (b->n + 7) / 8;
    memset(out, 0, bytes);
    for (size_t i = 0; i < b->n; i++) out[i / 8] |= (uint8_t)(b->bit[i] << (i % 8));
    return bytes;
}

static unsigned s_floor_log2(uint64_t v)
{
    unsigned n = 0;
    while (v >>= 1) n++;
    return n;
}

/* Optimal Golomb parameter for n marks among r positions, from its definition: the smallest
 * m with q^m + q^(m+1) <= 1, q = 1 - n/r; beyond 64, round(ln2 / p) in the format's fixed
 * point. */
static uint32_t s_ref_golomb_m(uint32_t n, uint32_t r)
{
    const long double q = 1.0L - (long double)n / r;
    long double qm = q;
    for (uint32_t m = 1; m <= 64; m++, qm *= q)
        if (qm + qm * q <= 1.0L) return m;
    const uint64_t x = (UINT64_C(45426) * r) / n;
    const uint32_t m = (uint32_t)((x + 32768) >> 16);
    return m < 65 ? 65 : m;
}

static void s_ref_golomb(s_bits_t *b, uint32_t m, uint32_t v)
{
    const uint32_t q = v / m, rem = v % m;
    for (uint32_t i = 0; i < q; i++) s_bit(b, 0);
    s_bit(b, 1);
    if (m == 1) return;
    const unsigned k = s_floor_log2(m - 1) + 1; /* ceil(log2 m) */
    const uint32_t t = (uint32_t)((UINT64_C(1) << k) - m);
    if (rem < t) {
        s_field(b, rem, k - 1);
    } else {
        s_field(b, t + (rem - t) / 2, k - 1);
        s_bit(b, (rem - t) % 2);
    }
}

static void s_ref_gamma(s_bits_t *b, uint64_t v)
{
    const unsigned n = s_floor_log2(v);
    for (unsigned i = 0; i < n; i++) s_bit(b, 0);
    s_bit(b, 1);
    s_field(b, v, n); /* the n bits below the top one */
}

static void s_ref_delta(s_bits_t *b, uint64_t v)
{
    const unsigned n = s_floor_log2(v);
    s_ref_gamma(b, n + 1);
    s_field(b, v, n);
}

/* Gaps before each marked position of mark[0..len) (a 0/1 array). */
static void s_ref_marks(s_bits_t *b, const uint8_t *mark, uint32_t len, uint32_t n)
{
    if (!n) return;
    const uint32_t m = s_ref_golomb_m(n, len);
    uint32_t gap = 0;
    for (uint32_t i = 0; i < len; i++) {
        if (mark[i]) {
            s_ref_golomb(b, m, gap);
            gap = 0;
        } else {
            gap++;
        }
    }
}

/* The support of is_nz[0..d): nonzeros marked, or zeros when they are fewer. */
static void s_ref_support(s_bits_t *b, const uint8_t *is_nz, uint32_t d, uint32_t nnz)
{
    uint8_t *mark = malloc(d + 1);
    const int comp = nnz > d - nnz;
    for (uint32_t k = 0; k < d; k++) mark[k] = comp ? !is_nz[k] : is_nz[k];
    s_ref_marks(b, mark, d, comp ? d - nnz : nnz);
    free(mark);
}

static int s_cmp_u32(const void *a, const void *b)
{
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static size_t s_ref_vsc(const rumor_cmsg_t *m, uint8_t *out)
{
    s_bits_t b = {0};
    const uint32_t d = m->d, nnz = m->nnz;
    uint8_t *is_nz = malloc(d + 1);
    if (m->kind == RUMOR_CMSG_SPARSE) {
        memset(is_nz, 0, d + 1);
        for (uint32_t j = 0; j < nnz; j++) is_nz[m->idx[j]] = 1;
        s_ref_support(&b, is_nz, d, nnz);
        const size_t n = s_pack(&b, out);
        memcpy(out + n, m->val, 4 * (size_t)nnz);
        free(is_nz);
        free(b.bit);
        return n + 4 * (size_t)nnz;
    }
    if (!nnz) {
        free(is_nz);
        return 0;
    }
    uint32_t *mag = malloc(4 * (size_t)nnz), *sorted = malloc(4 * (size_t)nnz);
    uint8_t *neg = malloc(nnz);
    uint32_t j = 0;
    for (uint32_t k = 0; k < d; k++) {
        is_nz[k] = m->q[k] != 0;
        if (!m->q[k]) continue;
        mag[j] = m->q[k] < 0 ? (uint32_t)(-(int64_t)m->q[k]) : (uint32_t)m->q[k];
        neg[j++] = m->q[k] < 0;
    }
    s_ref_support(&b, is_nz, d, nnz);

    memcpy(sorted, mag, 4 * (size_t)nnz);
    qsort(sorted, nnz, 4, s_cmp_u32);
    uint32_t tmag[32], tcnt[32], T = 0;
    int tail = 0;
    for (uint32_t i = 0; i < nnz; i++) {
        if (i > 0 && sorted[i] == sorted[i - 1]) {
            if (!tail) tcnt[T - 1]++;
            continue;
        }
        if (T == 32) {
            tail = 1;
            tcnt[31]++;
            continue;
        }
        tmag[T] = sorted[i];
        tcnt[T++] = 1;
    }
    if (tail) { /* the last entry stands for every magnitude from tmag[31] up */
        tcnt[31] = 0;
        for (uint32_t i = 0; i < nnz; i++) tcnt[31] += mag[i] >= tmag[31];
    }
    s_ref_gamma(&b, T);
    s_bit(&b, (unsigned)tail);
    for (uint32_t t = 0; t < T; t++) s_ref_gamma(&b, tmag[t] - (t ? tmag[t - 1] : 0));
    for (uint32_t t = 0; t + 1 < T; t++) s_ref_delta(&b, tcnt[t]);

    /* layers by descending count, ties by ascending magnitude (a stable selection sort) */
    uint32_t ord[32], *left = malloc(4 * (size_t)nnz), r = nnz;
    uint8_t *mark = malloc(nnz), used[32] = {0};
    for (uint32_t o = 0; o < T; o++) {
        uint32_t best = 0;
        while (used[best]) best++;
        for (uint32_t t = best + 1; t < T; t++)
            if (!used[t] && tcnt[t] > tcnt[best]) best = t;
        used[best] = 1;
        ord[o] = best;
    }
    for (uint32_t i = 0; i < nnz; i++) left[i] = i;
    for (uint32_t o = 0; o + 1 < T; o++) {
        const uint32_t t = ord[o];
        const int comp = tcnt[t] > r - tcnt[t];
        uint32_t kept = 0;
        for (uint32_t i = 0; i < r; i++) {
            const uint32_t a = mag[left[i]];
            const int in = a == tmag[t] || (tail && t == T - 1 && a > tmag[t]);
            mark[i] = in != comp;
            if (!in) left[kept++] = left[i];
        }
        s_ref_marks(&b, mark, r, comp ? r - tcnt[t] : tcnt[t]);
        r = kept;
    }
    if (tail)
        for (uint32_t i = 0; i < nnz; i++)
            if (mag[i] >= tmag[T - 1]) s_ref_gamma(&b, (uint64_t)mag[i] - tmag[T - 1] + 1);
    for (uint32_t i = 0; i < nnz; i++) s_bit(&b, neg[i]);
    const size_t n = s_pack(&b, out);
    free(is_nz);
    free(mag);
    free(sorted);
    free(neg);
    free(left);
    free(mark);
    free(b.bit);
    return n;
}

/* Range coder: low is kept below 2^32 and a carry is added into the bytes already written. */
typedef struct {
    uint8_t *out;
    size_t n;
    uint64_t low;
    uint32_t range;
} s_rc_t;

typedef struct {
    uint32_t p, n;
} s_ctx_t;

static void s_rc_carry(s_rc_t *e)
{
    if (e->low < (UINT64_C(1) << 32)) return;
    e->low -= UINT64_C(1) << 32;
    size_t i = e->n;
    do {
        assert_true(i > 0); /* the first byte never receives a carry */
        i--;
    } while (++e->out[i] == 0);
}

static void s_rc_norm(s_rc_t *e)
{
    while (e->range < (1u << 24)) {
        e->out[e->n++] = (uint8_t)(e->low >> 24);
        e->low = (e->low << 8) & 0xFFFFFFFFu;
        e->range <<= 8;
    }
}

static void s_rc_bit(s_rc_t *e, s_ctx_t *c, unsigned bit)
{
    const uint32_t bound = (e->range >> 12) * c->p;
    if (bit) {
        e->low += bound;
        e->range -= bound;
        s_rc_carry(e);
    } else {
        e->range = bound;
    }
    const uint32_t rate = 65536u / ((c->n < 62 ? c->n : 62) + 2);
    if (bit)
        c->p -= (c->p * rate) >> 16;
    else
        c->p += ((4096 - c->p) * rate) >> 16;
    c->n++;
    s_rc_norm(e);
}

static void s_rc_direct(s_rc_t *e, uint64_t v, unsigned nbits)
{
    for (unsigned i = nbits; i-- > 0;) {
        e->range >>= 1;
        if ((v >> i) & 1) {
            e->low += e->range;
            s_rc_carry(e);
        }
        s_rc_norm(e);
    }
}

static size_t s_rc_finish(s_rc_t *e)
{
    e->low = (e->low + (1u << 24) - 1) & ~(uint64_t)((1u << 24) - 1);
    s_rc_carry(e);
    e->out[e->n++] = (uint8_t)(e->low >> 24);
    return e->n;
}

static void s_ref_escape(s_rc_t *e, s_ctx_t *ctx, uint64_t v)
{
    const unsigned c = s_floor_log2(v + 1);
    for (unsigned j = 0; j < c; j++) s_rc_bit(e, &ctx[j], 1);
    if (c < 32) s_rc_bit(e, &ctx[c], 0);
    s_rc_direct(e, v + 1, c); /* the bits below the top one */
}

static size_t s_ref_arith(const rumor_cmsg_t *m, uint8_t *out)
{
    const uint32_t d = m->d, nnz = m->nnz;
    if (!nnz) return 0;
    s_ctx_t hi[2][16], hesc[2][33], lo[2][3], mg[3][16], mbin[32], mpow[28], mtop[28][3];
    s_ctx_t *all[] = {&hi[0][0], &hesc[0][0], &lo[0][0], &mg[0][0], mbin, mpow, &mtop[0][0]};
    const size_t sizes[] = {32, 66, 6, 48, 32, 28, 84};
    for (int i = 0; i < 7; i++)
        for (size_t j = 0; j < sizes[i]; j++) all[i][j] = (s_ctx_t){2048, 0};
    s_rc_t e = {out, 0, 0, 0xFFFFFFFFu};
    const unsigned kb = s_floor_log2(s_ref_golomb_m(nnz, d));
    unsigned cs = 1, ms = 0;
    uint32_t prev_end = 0, j = 0;
    for (uint32_t k = 0; k < d; k++) {
        const int on = m->kind == RUMOR_CMSG_INT ? m->q[k] != 0 : (j < nnz && m->idx[j] == k);
        if (!on) continue;
        j++;
        const uint32_t g = k - prev_end, h = g >> kb;
        prev_end = k + 1;
        for (uint32_t i = 0; i < h && i < 16; i++) s_rc_bit(&e, &hi[cs][i], 1);
        if (h < 16)
            s_rc_bit(&e, &hi[cs][h], 0);
        else
            s_ref_escape(&e, hesc[cs], h - 16);
        if (kb >= 1) {
            const unsigned t1 = (g >> (kb - 1)) & 1;
            s_rc_bit(&e, &lo[cs][0], t1);
            if (kb >= 2) {
                s_rc_bit(&e, &lo[cs][1 + t1], (g >> (kb - 2)) & 1);
                s_rc_direct(&e, g, kb - 2);
            }
        }
        cs = h != 0;
        if (m->kind != RUMOR_CMSG_INT) continue;
        const int32_t q = m->q[k];
        const uint64_t v = (q < 0 ? (uint64_t)(-(int64_t)q) : (uint64_t)q) - 1;
        for (uint64_t i = 0; i < v && i < 16; i++) s_rc_bit(&e, &mg[ms][i], 1);
        if (v < 16) {
            s_rc_bit(&e, &mg[ms][v], 0);
        } else { /* binade b >= 4 as a tree from 4, a == 2^b?, two bits below the top, rest */
            const uint64_t a = v + 1;
            const unsigned b = s_floor_log2(a), u = b - 4;
            for (unsigned node = 1, i = 5; i-- > 0;) {
                s_rc_bit(&e, &mbin[node], (u >> i) & 1);
                node = node << 1 | ((u >> i) & 1);
            }
            const uint64_t man = a - (UINT64_C(1) << b);
            s_rc_bit(&e, &mpow[u], man == 0);
            if (man) {
                const unsigned t1 = (unsigned)(man >> (b - 1)) & 1;
                s_rc_bit(&e, &mtop[u][0], t1);
                s_rc_bit(&e, &mtop[u][1 + t1], (unsigned)(man >> (b - 2)) & 1);
                s_rc_direct(&e, man, b - 2);
            }
        }
        ms = v < 2 ? (unsigned)v : 2;
        s_rc_direct(&e, q < 0, 1);
    }
    size_t n = s_rc_finish(&e);
    if (m->kind == RUMOR_CMSG_SPARSE) {
        memcpy(out + n, m->val, 4 * (size_t)nnz);
        n += 4 * (size_t)nnz;
    }
    return n;
}

/* The ARITH body of the one-level INT message of length 1 whose magnitude escape is spelled
 * (u = binade - 4, pow flag, t1, t2, rest of restbits), sign neg, with a header in front:
 * each binary decision meets a fresh context, so this is the format spelled out by hand. */
static size_t s_arith_one(uint8_t *out, unsigned u, unsigned pow, unsigned t1, unsigned t2,
                          uint32_t rest, unsigned restbits, unsigned neg)
{
    const uint8_t head[] = {'R', 'c',  S_PLAIN, RUMOR_CODEC_ARITH | RUMOR_CMSG_INT << 4, 1, 1, 0,
                            0,   0x80, 0x3f}; /* d 1, nnz 1, scale 1.0f */
    memcpy(out, head, sizeof head);
    s_rc_t e = {out + sizeof head, 0, 0, 0xFFFFFFFFu};
    s_ctx_t c;
#define S_BIT(b) (c = (s_ctx_t){2048, 0}, s_rc_bit(&e, &c, (b)))
    S_BIT(0);                              /* gap 0: hi = 0 (kb = 0 for one mark among one) */
    for (int i = 0; i < 16; i++) S_BIT(1); /* v >= 16: the magnitude escape */
    for (int i = 4; i >= 0; i--) S_BIT((u >> i) & 1);
    S_BIT(pow);
    if (!pow) {
        S_BIT(t1);
        S_BIT(t2);
        s_rc_direct(&e, rest, restbits);
    }
#undef S_BIT
    s_rc_direct(&e, neg, 1);
    return sizeof head + s_rc_finish(&e);
}

/* The magnitude escape accepts its encoder's own spelling only. */
static void test_arith_escape_is_canonical(void **state)
{
    s_fix_t *f = *state;
    uint8_t b[64];
    size_t n = s_arith_one(b, 0, 0, 0, 0, 1, 2, 0); /* 17 = 2^4 + 0001 */
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), 0);
    assert_int_equal(f->out.q[0], 17);
    n = s_arith_one(b, 26, 0, 1, 1, (1u << 28) - 1, 28, 1); /* -(2^31 - 1) */
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), 0);
    assert_int_equal(f->out.q[0], -INT32_MAX);
    n = s_arith_one(b, 1, 1, 0, 0, 0, 0, 0); /* 32 by the flag */
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), 0);
    assert_int_equal(f->out.q[0], 32);
    n = s_arith_one(b, 27, 1, 0, 0, 0, 0, 1); /* -2^31 */
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), 0);
    assert_int_equal(f->out.q[0], INT32_MIN);
    /* +2^31; 16 (unary's) by the flag; a power of two without the flag; above 2^31; a
     * binade past 31 */
    n = s_arith_one(b, 27, 1, 0, 0, 0, 0, 0);
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EFORMAT);
    n = s_arith_one(b, 0, 1, 0, 0, 0, 0, 0);
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EFORMAT);
    n = s_arith_one(b, 3, 0, 0, 0, 0, 5, 0);
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EFORMAT);
    n = s_arith_one(b, 27, 0, 0, 0, 1, 29, 1);
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EFORMAT);
    n = s_arith_one(b, 28, 1, 0, 0, 0, 0, 0);
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EFORMAT);
}

/* A hand-made message: header (mode, kind, d, nnz with 1-byte LEB128, scale 1.0) and body. */
static size_t s_hand(uint8_t *out, rumor_codec_mode_t mode, rumor_cmsg_kind_t kind, uint8_t d,
                     uint8_t nnz, const uint8_t *body, size_t len)
{
    const uint8_t head[] = {'R', 'c',  S_PLAIN, (uint8_t)(mode | kind << 4), d, nnz, 0,
                            0,   0x80, 0x3f};
    memcpy(out, head, sizeof head);
    memcpy(out + sizeof head, body, len);
    return sizeof head + len;
}

/* Each mode has one spelling of a message: a RAW width wider than needed, a VSC tail bit with
 * nothing above the last magnitude, and SEED where RAW is smaller or any seed would do are
 * refused. */
static void test_one_spelling_per_mode(void **state)
{
    s_fix_t *f = *state;
    uint8_t b[64];
    /* RAW INT d = 8, levels 1, -1, 0, ...: zigzag 2, 1 in 2 bits (canonical), or in 3 */
    const uint8_t w2[] = {2, 0x06, 0x00}, w3[] = {3, 0x0A, 0x00, 0x00};
    assert_int_equal(
        rumor_codec_decode(f->c, b, s_hand(b, RUMOR_CODEC_RAW, RUMOR_CMSG_INT, 8, 2, w2, sizeof w2),
                           DMAX, &f->out),
        0);
    assert_int_equal(f->out.q[0], 1);
    assert_int_equal(f->out.q[1], -1);
    assert_int_equal(
        rumor_codec_decode(f->c, b, s_hand(b, RUMOR_CODEC_RAW, RUMOR_CMSG_INT, 8, 2, w3, sizeof w3),
                           DMAX, &f->out),
        RUMOR_EFORMAT);
    /* VSC INT d = 1, level 1: T = 1 and no tail (0x05), or a tail whose excess is 0 (0x0F) */
    const uint8_t notail[] = {0x05}, tail[] = {0x0F};
    assert_int_equal(rumor_codec_decode(f->c, b,
                                        s_hand(b, RUMOR_CODEC_VSC, RUMOR_CMSG_INT, 1, 1, notail, 1),
                                        DMAX, &f->out),
                     0);
    assert_int_equal(f->out.q[0], 1);
    assert_int_equal(rumor_codec_decode(f->c, b,
                                        s_hand(b, RUMOR_CODEC_VSC, RUMOR_CMSG_INT, 1, 1, tail, 1),
                                        DMAX, &f->out),
                     RUMOR_EFORMAT);
    /* SEED: 3 of 10 positions decode; 2 of 10 (RAW is smaller) and 4 of 4 do not */
    uint8_t seed[8 + 4 * 4] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(
        rumor_codec_decode(f->c, b,
                           s_hand(b, RUMOR_CODEC_SEED, RUMOR_CMSG_SPARSE, 10, 3, seed, 8 + 4 * 3),
                           DMAX, &f->out),
        0);
    assert_true(f->out.seeded && f->out.nnz == 3);
    assert_int_equal(
        rumor_codec_decode(f->c, b,
                           s_hand(b, RUMOR_CODEC_SEED, RUMOR_CMSG_SPARSE, 10, 2, seed, 8 + 4 * 2),
                           DMAX, &f->out),
        RUMOR_EFORMAT);
    assert_int_equal(
        rumor_codec_decode(f->c, b,
                           s_hand(b, RUMOR_CODEC_SEED, RUMOR_CMSG_SPARSE, 4, 4, seed, 8 + 4 * 4),
                           DMAX, &f->out),
        RUMOR_EFORMAT);
}

/* Changes one value of m: the sign of its last nonzero level (INT), or the low bit of its last
 * value (SPARSE). Doing it twice restores m. 0 when m has no such value. */
static int s_perturb(rumor_cmsg_t *m)
{
    if (m->kind == RUMOR_CMSG_SPARSE) {
        if (!m->nnz) return 0;
        uint32_t bits;
        memcpy(&bits, &m->val[m->nnz - 1], 4);
        bits ^= 1;
        memcpy(&m->val[m->nnz - 1], &bits, 4);
        return 1;
    }
    for (uint32_t k = m->d; k-- > 0;)
        if (m->q[k] && m->q[k] != INT32_MIN) {
            m->q[k] = -m->q[k];
            return 1;
        }
    return 0;
}

/* The fast coders produce the reference coders' bytes exactly, whenever they write that mode;
 * and the comparison sees one value changed: every 50th message, the reference coding of the
 * message with one value changed (s_perturb) differs from the fast coding of the message. */
static void test_fast_matches_reference(void **state)
{
    s_fix_t *f = *state;
    uint8_t *ref = malloc(f->cap);
    unsigned compared[4] = {0}, perturbed = 0;
    for (int rep = 0; rep < 4000; rep++) {
        const uint32_t d = 1 + (uint32_t)rumor_rng_below(&f->rng, rep % 200 == 0 ? DMAX : 3000);
        const double density = rumor_rng_uniform_d(&f->rng) * (rep % 3 ? 0.15 : 1.0);
        const uint32_t levels = 1 + (uint32_t)rumor_rng_below(&f->rng, rep % 5 ? 16 : 400);
        if (rep % 4 == 3)
            s_gen_sparse(&f->rng, &f->m, d, density);
        else
            s_gen_int(&f->rng, &f->m, d, density, (s_gen_t)(rep % 4), levels);
        for (int mode = RUMOR_CODEC_VSC; mode <= RUMOR_CODEC_ARITH; mode++) {
            size_t n = 0;
            assert_int_equal(
                rumor_codec_encode(f->c, &f->m, (rumor_codec_mode_t)mode, f->buf, f->cap, &n), 0);
            const size_t want =
                mode == RUMOR_CODEC_VSC ? s_ref_vsc(&f->m, ref) : s_ref_arith(&f->m, ref);
            if (rumor_codec_peek_mode(f->buf, n) != mode) {
                /* replaced by RAW only when that is smaller */
                assert_true(n - s_header(&f->m) < want);
                continue;
            }
            assert_int_equal(n - s_header(&f->m), want);
            assert_memory_equal(f->buf + s_header(&f->m), ref, want);
            compared[mode]++;
            if (rep % 50 || !s_perturb(&f->m)) continue;
            const size_t other =
                mode == RUMOR_CODEC_VSC ? s_ref_vsc(&f->m, ref) : s_ref_arith(&f->m, ref);
            assert_true(other != want || memcmp(f->buf + s_header(&f->m), ref, want) != 0);
            assert_int_equal(s_perturb(&f->m), 1);
            perturbed++;
        }
    }
    assert_true(compared[RUMOR_CODEC_VSC] > 2500 && compared[RUMOR_CODEC_ARITH] > 2500);
    assert_true(perturbed > 100);
    free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_arith_escape_is_canonical, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_one_spelling_per_mode, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fast_matches_reference, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
