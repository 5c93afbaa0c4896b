/* Tests of codec: exact round trips in every mode and kind, byte-identical agreement with the
 * plain reference coders below, hostile-input handling (truncation, bit flips, lying
 * headers), AUTO never above RAW, size within 3% of the entropy bound, and the support list:
 * listed messages encode and bound like unlisted ones, and decoding into a used output (which
 * clears only the old nonzeros) gives what decoding into a fresh one does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/codec.h"
#include "rumor/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DMAX = 1 << 17 };
/* The version byte of every message without buckets (RUMOR_CODEC_VERSION is theirs). */
enum { S_PLAIN = 2 };

/* ---- generators ---------------------------------------------------------------------- */

typedef enum {
    S_GEN_DITHER,  /* i.i.d. support, small geometric-like levels */
    S_GEN_HUGE,    /* levels anywhere in int32: INT32_MIN, INT32_MAX, powers of two */
    S_GEN_CLUSTER, /* support in runs */
    S_GEN_FLAT,    /* many distinct magnitudes, equally likely */
} s_gen_t;

static uint32_t s_level(rumor_rng_t *r, s_gen_t g, uint32_t levels)
{
    switch (g) {
    case S_GEN_HUGE: {
        const uint64_t u = rumor_rng_u64(r);
        if ((u & 7) == 0) return 1u << 31;
        if ((u & 7) == 1) return INT32_MAX;
        if ((u & 7) == 2) return 1u << (u >> 3) % 31; /* natural compression's levels */
        return 1 + (uint32_t)(u >> 33) % ((1u << (1 + (u >> 3) % 31)));
    }
    case S_GEN_FLAT:
        return 1 + (uint32_t)rumor_rng_below(r, levels);
    default: {
        /* floor of an exponential with mean levels / 4, plus one: like a dithered quantizer */
        const double e = -log(1.0 - rumor_rng_uniform_d(r)) * (levels / 4.0 + 0.1);
        const double l = 1 + floor(e);
        return l > levels ? levels : (uint32_t)l;
    }
    }
}

/* Fills m (initialised for DMAX) with an INT message of length d. */
static void s_gen_int(rumor_rng_t *r, rumor_cmsg_t *m, uint32_t d, double density, s_gen_t g,
                      uint32_t levels)
{
    m->kind = RUMOR_CMSG_INT;
    m->listed = 0; /* q is written here, not through the list */
    m->nb = 0;
    m->d = d;
    m->scale = (float)rumor_rng_uniform_d(r);
    uint32_t nnz = 0;
    int in_run = 0;
    for (uint32_t k = 0; k < d; k++) {
        int on;
        if (g == S_GEN_CLUSTER) {
            /* runs of mean length 20, long gaps between them, same overall density */
            const double p_end = 0.05, p_start = density * p_end / (1.0 - density + 1e-9);
            in_run = in_run ? rumor_rng_uniform_d(r) >= p_end : rumor_rng_uniform_d(r) < p_start;
            on = in_run;
        } else {
            on = rumor_rng_uniform_d(r) < density;
        }
        int32_t v = 0;
        if (on) {
            const uint32_t a = s_level(r, g, levels);
            const int neg = (int)(rumor_rng_u64(r) & 1);
            if (a == (1u << 31))
                v = INT32_MIN;
            else
                v = neg ? -(int32_t)a : (int32_t)a;
        }
        m->q[k] = v;
        nnz += v != 0;
    }
    m->nnz = nnz;
}

static void s_gen_sparse(rumor_rng_t *r, rumor_cmsg_t *m, uint32_t d, double density)
{
    m->kind = RUMOR_CMSG_SPARSE;
    m->d = d;
    m->scale = 0.0f;
    uint32_t n = 0;
    for (uint32_t k = 0; k < d; k++)
        if (rumor_rng_uniform_d(r) < density) {
            m->idx[n] = k;
            const uint32_t bits = (uint32_t)rumor_rng_u64(r);
            memcpy(&m->val[n], &bits, 4); /* any bit pattern, NaNs included */
            n++;
        }
    m->nnz = n;
}

static void s_gen_dense(rumor_rng_t *r, rumor_cmsg_t *m, uint32_t d)
{
    m->kind = RUMOR_CMSG_DENSE;
    m->d = d;
    m->nnz = d;
    m->scale = 0.0f;
    for (uint32_t k = 0; k < d; k++) m->val[k] = (float)rumor_rng_normal(r);
}

/* ---- helpers ------------------------------------------------------------------------- */

static void s_assert_same(const rumor_cmsg_t *a, const rumor_cmsg_t *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->d, b->d);
    assert_int_equal(a->nnz, b->nnz);
    assert_memory_equal(&a->scale, &b->scale, 4);
    switch (a->kind) {
    case RUMOR_CMSG_INT:
        if (a->d) assert_memory_equal(a->q, b->q, (size_t)a->d * 4);
        assert_int_equal(a->nb, b->nb);
        if (a->nb) {
            assert_memory_equal(a->bend, b->bend, (size_t)a->nb * 4);
            assert_memory_equal(a->scales, b->scales, (size_t)a->nb * 4);
        }
        break;
    case RUMOR_CMSG_SPARSE:
        if (a->nnz) {
            assert_memory_equal(a->idx, b->idx, (size_t)a->nnz * 4);
            assert_memory_equal(a->val, b->val, (size_t)a->nnz * 4);
        }
        break;
    case RUMOR_CMSG_DENSE:
        if (a->d) assert_memory_equal(a->val, b->val, (size_t)a->d * 4);
        break;
    }
}

typedef struct {
    rumor_codec_t *c;
    rumor_cmsg_t m, out;
    uint8_t *buf;
    size_t cap;
    rumor_rng_t rng;
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->c = rumor_codec_new(DMAX);
    f->cap = rumor_codec_bound(DMAX);
    f->buf = malloc(f->cap);
    if (!f->c || !f->buf || rumor_cmsg_init(&f->m, DMAX) || rumor_cmsg_init(&f->out, DMAX))
        return -1;
    rumor_rng_seed(&f->rng, 42, 0, 0, RUMOR_RNG_TEST);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    rumor_codec_destroy(&f->c);
    rumor_cmsg_free(&f->m);
    rumor_cmsg_free(&f->out);
    free(f->buf);
    free(f);
    return 0;
}

/* Header size of m's encoding. */
static size_t s_header(const rumor_cmsg_t *m)
{
    return rumor_codec_header_size(m->d, m->kind == RUMOR_CMSG_DENSE ? m->d : m->nnz);
}

/* Encodes f->m with mode, decodes, checks equality; returns the size and the mode written. */
static size_t s_roundtrip(s_fix_t *f, rumor_codec_mode_t mode, int *written_mode)
{
    size_t n = 0;
    assert_int_equal(rumor_codec_encode(f->c, &f->m, mode, f->buf, f->cap, &n), 0);
    assert_true(n >= s_header(&f->m));
    assert_true(n <= rumor_codec_bound(f->m.d));
    const int wm = rumor_codec_peek_mode(f->buf, n);
    assert_true(wm >= RUMOR_CODEC_RAW && wm <= RUMOR_CODEC_SEED);
    if (mode != RUMOR_CODEC_AUTO && mode != (rumor_codec_mode_t)wm)
        assert_int_equal(wm, RUMOR_CODEC_RAW); /* only RAW may replace an explicit mode */
    const int rc = rumor_codec_decode(f->c, f->buf, n, DMAX, &f->out);
    if (rc) fprintf(stderr, "decode failed: %s (mode %d, d %u)\n", rumor_strerror(rc), wm, f->m.d);
    assert_int_equal(rc, 0);
    s_assert_same(&f->m, &f->out);
    if (written_mode) *written_mode = wm;
    return n;
}

static size_t s_raw_size(s_fix_t *f)
{
    size_t n = 0;
    assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_RAW, f->buf, f->cap, &n), 0);
    return n;
}

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

/* The fast coders produce the reference coders' bytes exactly, whenever they write that mode. */
static void test_fast_matches_reference(void **state)
{
    s_fix_t *f = *state;
    uint8_t *ref = malloc(f->cap);
    unsigned compared[4] = {0};
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
        }
    }
    assert_true(compared[RUMOR_CODEC_VSC] > 2500 && compared[RUMOR_CODEC_ARITH] > 2500);
    free(ref);
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

/* Dithered quantization of a Laplacian vector whose support is a fraction `frac` of d, with s
 * levels against its L2 norm: what Malcom-PSGD sends. */
static void s_gen_dithered(rumor_rng_t *r, rumor_cmsg_t *m, uint32_t d, double frac, double s)
{
    double *x = malloc(sizeof *x * d), n2 = 0;
    for (uint32_t k = 0; k < d; k++) {
        x[k] = 0;
        if (rumor_rng_uniform_d(r) >= frac) continue;
        const double u = rumor_rng_uniform_d(r) - 0.5;
        x[k] = (u < 0 ? 1 : -1) * log(1 - 2 * fabs(u));
        n2 += x[k] * x[k];
    }
    m->kind = RUMOR_CMSG_INT;
    m->listed = 0;
    m->nb = 0;
    m->d = d;
    m->nnz = 0;
    m->scale = (float)(sqrt(n2) / s);
    for (uint32_t k = 0; k < d; k++) {
        const int32_t l =
            n2 > 0 ? (int32_t)(fabs(x[k]) * s / sqrt(n2) + rumor_rng_uniform_d(r)) : 0;
        m->q[k] = x[k] < 0 ? -l : l;
        m->nnz += l != 0;
    }
    free(x);
}

static void test_size_within_3pct_of_entropy_bound(void **state)
{
    s_fix_t *f = *state;
    const double fracs[] = {0.014, 0.03, 0.07, 0.14, 0.3, 0.7, 1.0};
    const double spread[] = {0.5, 1.5, 4.0}; /* mean level of the kept entries, roughly */
    unsigned checked = 0;
    for (size_t i = 0; i < sizeof fracs / sizeof *fracs; i++)
        for (size_t j = 0; j < 3; j++)
            for (int rep = 0; rep < 2; rep++) {
                const uint32_t d = 100000;
                s_gen_dithered(&f->rng, &f->m, d, fracs[i], spread[j] * sqrt(2 * fracs[i] * d));
                if (f->m.nnz < 1000) continue;
                const double bound = rumor_codec_entropy_bound_bits(&f->m) / 8;
                int wm;
                const size_t n = s_roundtrip(f, RUMOR_CODEC_AUTO, &wm);
                if ((double)n > 1.03 * bound)
                    fprintf(stderr, "frac %.3f spread %.1f nnz %u: %zu bytes, bound %.0f\n",
                            fracs[i], spread[j], f->m.nnz, n, bound);
                assert_true((double)n <= 1.03 * bound);
                checked++;
            }
    /* Malcom's own setting: s = 16 levels on the L2 norm */
    for (int rep = 0; rep < 6; rep++) {
        s_gen_dithered(&f->rng, &f->m, DMAX, 0.02 + 0.2 * rep, 16);
        if (f->m.nnz < 1000) continue;
        const double bound = rumor_codec_entropy_bound_bits(&f->m) / 8;
        assert_true((double)s_roundtrip(f, RUMOR_CODEC_AUTO, NULL) <= 1.03 * bound);
        checked++;
    }
    assert_true(checked >= 30);
}

/* ---- buckets ------------------------------------------------------------------------- */

/* Gives the INT message m buckets: of b coordinates each (the last shorter), or with b = 0
 * the nb ends in ends; each bucket's step random, the first one also the scale. */
static void s_set_buckets(rumor_rng_t *r, rumor_cmsg_t *m, uint32_t b, const uint32_t *ends,
                          uint32_t nb)
{
    if (b) {
        nb = 0;
        for (uint64_t e = b; nb == 0 || m->bend[nb - 1] < m->d; e += b)
            m->bend[nb++] = e < m->d ? (uint32_t)e : m->d;
    } else {
        if (ends != m->bend) memcpy(m->bend, ends, (size_t)nb * sizeof *ends);
    }
    m->nb = nb;
    for (uint32_t j = 0; j < nb; j++) m->scales[j] = (float)(rumor_rng_uniform_d(r) * 1e-3);
    m->scale = m->scales[0];
}

/* One small message with buckets, by hand: levels 1, 0, 0, -1, 0 in buckets of 2 with steps
 * 0.5, 1 and 2, in RAW; then the same levels with buckets [0,1) [1,4) [4,5) as a list. */
static void test_buckets_golden(void **state)
{
    s_fix_t *f = *state;
    rumor_cmsg_t *m = &f->m;
    m->kind = RUMOR_CMSG_INT;
    m->listed = 0;
    m->d = 5;
    memset(m->q, 0, 5 * sizeof *m->q);
    m->q[0] = 1;
    m->q[3] = -1;
    m->nnz = 2;
    m->nb = 3;
    const uint32_t ends[3] = {2, 4, 5};
    const float steps[3] = {0.5f, 1.0f, 2.0f};
    memcpy(m->bend, ends, sizeof ends);
    memcpy(m->scales, steps, sizeof steps);
    m->scale = 0.5f;
    const uint8_t want[] = {'R', 'c',  3,    0x31, 5, 2, 0, 0,    0, 0x3f, /* header, 0.5 */
                            2,                                             /* buckets of 2 */
                            0,   0,    0x80, 0x3f, 0, 0, 0, 0x40,          /* steps 1 and 2 */
                            2,   0x42, 0}; /* width 2, zigzag levels 2 0 0 1 0 */
    size_t n;
    assert_int_equal(rumor_codec_encode(f->c, m, RUMOR_CODEC_RAW, f->buf, f->cap, &n), 0);
    assert_int_equal(n, sizeof want);
    assert_memory_equal(f->buf, want, sizeof want);
    rumor_codec_info_t info;
    assert_int_equal(rumor_codec_peek(f->buf, n, &info), 0);
    assert_int_equal(info.kind, RUMOR_CMSG_INT);
    assert_true(info.buckets);
    assert_int_equal(rumor_codec_decode(f->c, f->buf, n, DMAX, &f->out), 0);
    s_assert_same(m, &f->out);
    float y[5];
    rumor_cmsg_to_dense(&f->out, y);
    const float values[5] = {0.5f, 0, 0, -1.0f, 0};
    assert_memory_equal(y, values, sizeof y);

    const uint32_t list[3] = {1, 4, 5};
    memcpy(m->bend, list, sizeof list);
    const uint8_t want_list[] = {0, 3, 1, 3, 1}; /* B = 0, three lengths */
    assert_int_equal(rumor_codec_encode(f->c, m, RUMOR_CODEC_RAW, f->buf, f->cap, &n), 0);
    assert_int_equal(n, sizeof want + 4);
    assert_memory_equal(f->buf + 10, want_list, sizeof want_list);
    assert_int_equal(rumor_codec_decode(f->c, f->buf, n, DMAX, &f->out), 0);
    s_assert_same(m, &f->out);
}

/* Every mode carries buckets, of one length or listed, at any density. */
static void test_buckets_roundtrip(void **state)
{
    s_fix_t *f = *state;
    const rumor_codec_mode_t modes[] = {RUMOR_CODEC_AUTO, RUMOR_CODEC_RAW, RUMOR_CODEC_VSC,
                                        RUMOR_CODEC_ARITH};
    const uint32_t lens[] = {2, 3, 100, 1000, 4097};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        for (int dense = 0; dense < 2; dense++) {
            s_gen_int(&f->rng, &f->m, lens[i], dense ? 0.6 : 0.02, S_GEN_DITHER, 8);
            const uint32_t ends[4] = {1, lens[i] / 2 + 1, lens[i] - 1, lens[i]};
            for (int form = 0; form < 3; form++) {
                if (form == 0) s_set_buckets(&f->rng, &f->m, 1 + lens[i] / 7, NULL, 0);
                if (form == 1) s_set_buckets(&f->rng, &f->m, 1, NULL, 0); /* one each */
                if (form == 2) {
                    if (lens[i] < 4) continue;
                    s_set_buckets(&f->rng, &f->m, 0, ends, 4);
                }
                for (size_t k = 0; k < sizeof modes / sizeof *modes; k++)
                    s_roundtrip(f, modes[k], NULL);
            }
        }
}

/* The decoder refuses every other spelling of a bucket table, and truncations. */
static void test_buckets_refused(void **state)
{
    s_fix_t *f = *state;
    s_gen_int(&f->rng, &f->m, 100, 0.1, S_GEN_DITHER, 8);
    s_set_buckets(&f->rng, &f->m, 30, NULL, 0); /* 30, 30, 30, 10 */
    size_t n;
    assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_VSC, f->buf, f->cap, &n), 0);
    uint8_t *b = f->buf;
    const size_t at = rumor_codec_header_size(100, f->m.nnz); /* the table */
    assert_int_equal(b[at], 30);
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), 0);
    for (size_t cut = 1; cut <= 12 && cut < n; cut++)
        assert_true(rumor_codec_decode(f->c, b, n - cut, DMAX, &f->out) < 0);
    b[2] = S_PLAIN; /* buckets are version 3 */
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EFORMAT);
    b[2] = RUMOR_CODEC_VERSION;
    const uint8_t len_byte = b[at];
    b[at] = 100; /* one bucket is no bucket */
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EFORMAT);
    b[at] = 101;
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), RUMOR_EFORMAT);
    b[at] = len_byte;
    assert_int_equal(rumor_codec_decode(f->c, b, n, DMAX, &f->out), 0);

    /* a list: 0, nb, lengths; lists that one length says, a zero length, wrong sums, one
     * bucket, more buckets than coordinates, a list cut short */
    uint8_t msg[64];
    const size_t h = rumor_codec_header_size(100, 0);
    const struct {
        uint8_t table[8];
        size_t len;
        int rc;
    } cases[] = {
        {{0, 2, 40, 60}, 4, 0},
        {{0, 2, 60, 40}, 4, RUMOR_EFORMAT}, /* buckets of 60 */
        {{0, 2, 50, 50}, 4, RUMOR_EFORMAT},
        {{0, 3, 40, 40, 20}, 5, RUMOR_EFORMAT},
        {{0, 3, 40, 0, 60}, 5, RUMOR_EFORMAT},
        {{0, 2, 60, 41}, 4, RUMOR_EFORMAT},
        {{0, 2, 60, 39}, 4, RUMOR_EFORMAT},
        {{0, 1, 100}, 3, RUMOR_EFORMAT},
        {{0, 101}, 2, RUMOR_EFORMAT},
        {{0, 2, 60}, 3, RUMOR_ETRUNC},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const uint8_t head[] = {'R', 'c', 3, RUMOR_CODEC_RAW | 3 << 4, 100, 0, 0, 0, 0, 0};
        memcpy(msg, head, h);
        memcpy(msg + h, cases[i].table, cases[i].len);
        size_t m = h + cases[i].len;
        if (cases[i].rc != RUMOR_ETRUNC) { /* the second step, then the all-zero RAW body */
            memset(msg + m, 0, 5);
            m += 5;
        }
        assert_int_equal(rumor_codec_decode(f->c, msg, m, DMAX, &f->out), cases[i].rc);
        if (!cases[i].rc) assert_int_equal(f->out.nb, 2);
    }
}

/* The encoder refuses buckets that are not a partition of [0, d) in at least two parts. */
static void test_buckets_encode_checks(void **state)
{
    s_fix_t *f = *state;
    s_gen_int(&f->rng, &f->m, 50, 0.1, S_GEN_DITHER, 8);
    size_t n;
    const uint32_t bad[][3] = {{50, 50, 50}, {10, 10, 50}, {20, 10, 50}, {10, 20, 49}, {0, 20, 50}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s_set_buckets(&f->rng, &f->m, 0, bad[i], i == 0 ? 1 : 3);
        assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_AUTO, f->buf, f->cap, &n),
                         RUMOR_EINVAL);
        assert_int_equal(rumor_cmsg_check(&f->m), RUMOR_EFORMAT);
    }
}

/* The largest message there is: levels of 32 bits in RAW, with buckets of one or two
 * coordinates listed one by one; rumor_codec_bound still holds it. */
static void test_buckets_worst_case_fits_bound(void **state)
{
    s_fix_t *f = *state;
    const uint32_t lens[] = {3, 100, 5000, DMAX};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        const uint32_t d = lens[i];
        s_gen_int(&f->rng, &f->m, d, 1.0, S_GEN_HUGE, 0);
        uint32_t nb = 0;
        for (uint32_t e = 2; e < d; e++) f->m.bend[nb++] = e; /* one of 2, then ones */
        f->m.bend[nb++] = d;
        s_set_buckets(&f->rng, &f->m, 0, f->m.bend, nb);
        const size_t n = s_roundtrip(f, RUMOR_CODEC_RAW, NULL);
        assert_true(n > 9 * (size_t)d);
        assert_true(n <= rumor_codec_bound(d));
    }
}

/* Levels dithered with one norm per bucket of 1024 on a residual whose scale differs from
 * bucket to bucket: the bound counts one 32-bit step per bucket, and the codec stays within
 * 3% of it. */
static void test_buckets_within_3pct_of_entropy_bound(void **state)
{
    s_fix_t *f = *state;
    rumor_cmsg_t *m = &f->m;
    const uint32_t d = 100000, b = 1024, s = 8;
    for (int rep = 0; rep < 4; rep++) {
        const double frac = rep < 2 ? 0.05 : 1.0;
        m->kind = RUMOR_CMSG_INT;
        m->listed = 0;
        m->d = d;
        m->nnz = 0;
        s_set_buckets(&f->rng, m, b, NULL, 0);
        double *x = malloc(b * sizeof *x);
        for (uint32_t j = 0, lo = 0; j < m->nb; lo = m->bend[j++]) {
            const double amp = pow(10.0, 3 * rumor_rng_uniform_d(&f->rng));
            double n2 = 0;
            for (uint32_t k = lo; k < m->bend[j]; k++) {
                const double u = rumor_rng_uniform_d(&f->rng) - 0.5;
                x[k - lo] = rumor_rng_uniform_d(&f->rng) < frac
                                ? amp * (u < 0 ? 1 : -1) * log(1 - 2 * fabs(u))
                                : 0;
                n2 += x[k - lo] * x[k - lo];
            }
            m->scales[j] = (float)(sqrt(n2) / s);
            for (uint32_t k = lo; k < m->bend[j]; k++) {
                const int32_t l =
                    n2 > 0
                        ? (int32_t)(fabs(x[k - lo]) * s / sqrt(n2) + rumor_rng_uniform_d(&f->rng))
                        : 0;
                m->q[k] = x[k - lo] < 0 ? -l : l;
                m->nnz += l != 0;
            }
        }
        free(x);
        m->scale = m->scales[0];
        const double bound = rumor_codec_entropy_bound_bits(m);
        m->nb = 0;
        assert_float_equal(bound - rumor_codec_entropy_bound_bits(m), 32.0 * 97, 0.05);
        m->nb = 98;
        const size_t n = s_roundtrip(f, RUMOR_CODEC_AUTO, NULL);
        assert_true(m->nnz > 1000);
        assert_true((double)n <= 1.03 * bound / 8);
    }
}

static void test_entropy_bound_values(void **state)
{
    s_fix_t *f = *state;
    /* d = 8, two nonzeros of one magnitude: log2 C(8,2) + 0 + 2 + 32 */
    f->m.kind = RUMOR_CMSG_INT;
    f->m.d = 8;
    memset(f->m.q, 0, 8 * 4);
    f->m.q[1] = 3;
    f->m.q[6] = -3;
    f->m.nnz = 2;
    assert_float_equal(rumor_codec_entropy_bound_bits(&f->m), log2(28) + 34, 1e-9);
    /* magnitudes 1, 1, 2, 5: H = 1.5 bits */
    f->m.q[0] = 1;
    f->m.q[2] = 2;
    f->m.q[6] = -1;
    f->m.q[1] = 5;
    f->m.nnz = 4;
    assert_float_equal(rumor_codec_entropy_bound_bits(&f->m), log2(70) + 4 * 1.5 + 4 + 32, 1e-9);
    /* large d: Stirling agrees with a direct sum */
    f->m.d = 100000;
    memset(f->m.q, 0, 100000 * 4);
    f->m.nnz = 1000;
    for (uint32_t k = 0; k < 1000; k++) f->m.q[k * 97] = 1;
    double want = 0;
    for (uint32_t k = 0; k < 1000; k++) want += log2((100000.0 - k) / (1000.0 - k));
    assert_float_equal(rumor_codec_entropy_bound_bits(&f->m), want + 1000 + 32, 1e-6);
    /* many distinct large magnitudes are counted exactly while the table has room */
    f->m.d = 3000;
    for (uint32_t k = 0; k < 3000; k++) f->m.q[k] = (int32_t)(5000 + k);
    f->m.nnz = 3000;
    assert_float_equal(rumor_codec_entropy_bound_bits(&f->m), 3000 * log2(3000) + 3000 + 32, 1e-6);
    s_gen_sparse(&f->rng, &f->m, 1000, 0.1);
    assert_float_equal(rumor_codec_entropy_bound_bits(&f->m), rumor_codec_entropy_bound_bits(&f->m),
                       0);
    s_gen_dense(&f->rng, &f->m, 77);
    assert_float_equal(rumor_codec_entropy_bound_bits(&f->m), 32 * 77, 0);
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
    if (!in) {
        fprintf(stderr, "note: %s not found\n", path);
        skip();
    }
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_mode),
        cmocka_unit_test_setup_teardown(test_raw_roundtrip_every_kind, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_raw_int_width_is_narrowest, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_property, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_large, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_edge_cases, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_arith_escape_is_canonical, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_one_spelling_per_mode, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_seeded_messages, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_many_large_magnitudes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fast_matches_reference, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_truncated_and_extended_inputs_fail, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_bit_flips_never_crash, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_lying_headers_are_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_encode_rejects_bad_input, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_mode_exceeds_raw, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_size_within_3pct_of_entropy_bound, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_entropy_bound_values, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_record_file_format, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_recorded_residuals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_listed_messages_encode_alike, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_into_used_output, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_buckets_golden, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_buckets_roundtrip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_packed_is_decode, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_buckets_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_buckets_encode_checks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_buckets_worst_case_fits_bound, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_buckets_within_3pct_of_entropy_bound, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
