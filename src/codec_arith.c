/* rumor — the codec's ARITH mode: adaptive binary arithmetic (range) coding of gaps and
 * levels, in the style of LZMA's coder (docs/codec.md has the model bit by bit). It wins
 * over VSC where the data are not i.i.d. (clustered supports, heavy-tailed levels); codec.c
 * weighs the two.
 *
 * The decoder reads through s_rcd_byte only, which supplies zeros past the end and counts
 * them; every gap is checked against the positions the remaining nonzeros still need.
 */
#include "codec_internal.h"

/* ---- the range coder --------------------------------------------------------------- */

/* A carry-propagating binary range coder (32-bit range, bytes out as the top of low settles)
 * with 12-bit probabilities. Each probability adapts at rate 1/(n+2) after n observations
 * (the Krichevsky-Trofimov estimate, so a fresh context learns fast), slowing to 1/64 once
 * n reaches S_RATE_N - 2, after which it tracks drift. The first output byte of this coder
 * is always 0 and is not sent; the final flush picks a value in the last interval whose
 * three low bytes are zero and omits them: the decoder reads them back as the zeros it
 * supplies past the end. */

#define S_PROB_BITS 12
#define S_PROB_ONE  (1u << S_PROB_BITS)
#define S_RC_TOP    (1u << 24)
enum { S_RATE_N = 64 };

typedef struct {
    uint16_t p; /* probability of a 0 bit, in (0, S_PROB_ONE) */
    uint16_t n; /* observations, saturating at S_RATE_N - 1 */
} s_prob_t;

/* s_rate[n] = 2^16 / (n + 2). */
static const uint16_t s_rate[S_RATE_N] = {
    32768, 21845, 16384, 13107, 10922, 9362, 8192, 7281, 6553, 5957, 5461, 5041, 4681,
    4369,  4096,  3855,  3640,  3449,  3276, 3120, 2978, 2849, 2730, 2621, 2520, 2427,
    2340,  2259,  2184,  2114,  2048,  1985, 1927, 1872, 1820, 1771, 1724, 1680, 1638,
    1598,  1560,  1524,  1489,  1456,  1424, 1394, 1365, 1337, 1310, 1285, 1260, 1236,
    1213,  1191,  1170,  1149,  1129,  1110, 1092, 1074, 1057, 1040, 1024, 1024,
};

static inline void s_prob_update(s_prob_t *pr, unsigned bit)
{
    const uint32_t p = pr->p, rate = s_rate[pr->n];
    const uint32_t down = p - ((p * rate) >> 16), up = p + (((S_PROB_ONE - p) * rate) >> 16);
    pr->p = (uint16_t)(bit ? down : up);
    pr->n = (uint16_t)(pr->n + (pr->n < S_RATE_N - 1));
}

typedef struct {
    uint64_t low; /* 33 bits: bit 32 is a pending carry */
    uint32_t range;
    uint8_t cache;       /* last settled byte not yet written (a carry may still bump it) */
    uint64_t cache_size; /* cache plus the 0xFF bytes behind it */
    int skip;            /* drop the first byte (always 0) */
    uint8_t *start, *p, *end;
    int full;
} s_rce_t;

static void s_rce_init(s_rce_t *e, uint8_t *dst, size_t cap)
{
    e->low = 0;
    e->range = 0xFFFFFFFFu;
    e->cache = 0;
    e->cache_size = 1;
    e->skip = 1;
    e->start = e->p = dst;
    e->end = dst + cap;
    e->full = 0;
}

static inline void s_rce_out(s_rce_t *e, uint8_t b)
{
    if (e->skip) {
        RUMOR_ASSERT(b == 0);
        e->skip = 0;
    } else if (e->p < e->end) {
        *e->p++ = b;
    } else {
        e->full = 1;
    }
}

static inline void s_rce_shift(s_rce_t *e)
{
    if ((uint32_t)e->low < 0xFF000000u || (e->low >> 32) != 0) {
        const uint8_t carry = (uint8_t)(e->low >> 32);
        uint8_t b = e->cache;
        do {
            s_rce_out(e, (uint8_t)(b + carry));
            b = 0xFF;
        } while (--e->cache_size != 0);
        e->cache = (uint8_t)(e->low >> 24);
    }
    e->cache_size++;
    e->low = (e->low & 0x00FFFFFFu) << 8;
}

static inline void s_rce_norm(s_rce_t *e)
{
    while (e->range < S_RC_TOP) {
        e->range <<= 8;
        s_rce_shift(e);
    }
}

static inline void s_rce_bit(s_rce_t *e, s_prob_t *pr, unsigned bit)
{
    const uint32_t bound = (e->range >> S_PROB_BITS) * pr->p;
    e->low += bound & (0u - bit);
    e->range = bit ? e->range - bound : bound;
    s_prob_update(pr, bit);
    s_rce_norm(e);
}

/* nbits (<= 32) equiprobable bits of v, most significant first. */
static inline void s_rce_direct(s_rce_t *e, uint32_t v, unsigned nbits)
{
    while (nbits--) {
        e->range >>= 1;
        if ((v >> nbits) & 1) e->low += e->range;
        s_rce_norm(e);
    }
}

/* Returns the size, or SIZE_MAX if the output did not fit. */
static size_t s_rce_finish(s_rce_t *e)
{
    /* A value in [low, low + range) with its 24 low bits clear: range >= 2^24 guarantees one.
     * Two shifts write everything up to its top byte; the three zero bytes below it (and the
     * zero left in the cache) are not sent. */
    e->low = (e->low + S_RC_TOP - 1) & ~(uint64_t)(S_RC_TOP - 1);
    s_rce_shift(e);
    s_rce_shift(e);
    RUMOR_ASSERT(e->cache == 0 && e->cache_size == 1);
    return e->full ? SIZE_MAX : (size_t)(e->p - e->start);
}

typedef struct {
    const uint8_t *p, *end;
    uint32_t range, code;
    size_t phantom; /* zero bytes supplied past the end */
} s_rcd_t;

static inline uint32_t s_rcd_byte(s_rcd_t *d)
{
    if (d->p < d->end) return *d->p++;
    d->phantom++;
    return 0;
}

static void s_rcd_init(s_rcd_t *d, const uint8_t *src, size_t len)
{
    d->p = src;
    d->end = src + len;
    d->phantom = 0;
    d->range = 0xFFFFFFFFu;
    d->code = 0;
    for (int k = 0; k < 4; k++) d->code = d->code << 8 | s_rcd_byte(d);
}

static inline void s_rcd_norm(s_rcd_t *d)
{
    while (d->range < S_RC_TOP) {
        d->range <<= 8;
        d->code = d->code << 8 | s_rcd_byte(d);
    }
}

static inline unsigned s_rcd_bit(s_rcd_t *d, s_prob_t *pr)
{
    const uint32_t bound = (d->range >> S_PROB_BITS) * pr->p;
    const unsigned bit = d->code >= bound;
    d->code -= bound & (0u - bit);
    d->range = bit ? d->range - bound : bound;
    s_prob_update(pr, bit);
    s_rcd_norm(d);
    return bit;
}

static inline uint32_t s_rcd_direct(s_rcd_t *d, unsigned nbits)
{
    uint32_t v = 0;
    while (nbits--) {
        d->range >>= 1;
        const uint32_t bit = d->code >= d->range;
        d->code -= d->range & (0u - bit);
        v = v << 1 | bit;
        s_rcd_norm(d);
    }
    return v;
}

/* A stream ends cleanly when every byte was read and exactly the three zero bytes the encoder
 * omits were supplied: a truncated stream needs more, one with extra bytes fewer. */
static int s_rcd_finish(const s_rcd_t *d)
{
    if (d->p != d->end) return RUMOR_EFORMAT;
    return d->phantom == 3 ? 0 : d->phantom > 3 ? RUMOR_ETRUNC : RUMOR_EFORMAT;
}

/* The model. A gap g (zeros before the next nonzero) splits at kb = floor(log2 m), m the
 * Golomb parameter for nnz marks among d: hi = g >> kb in unary over 16 contexts (then an
 * Exp-Golomb escape), the top two bits of the low part in 3 contexts and the rest direct.
 * Gap contexts are conditioned on whether the previous hi was 0 (runs of nonzeros). A
 * magnitude a >= 1 is a - 1 in unary over 16 contexts, conditioned on the previous magnitude
 * (1, 2, more); a larger one (a >= 17) takes the magnitude escape: its binade b (2^b <= a)
 * as b - 4 in a 5-bit binary tree of contexts, whether a is 2^b, and if not the top two bits below
 * the leading one in contexts of b and the rest direct. Signs are direct bits. */
enum { S_UNARY = 16, S_ESC = 33, S_MAG_B0 = 4, S_MAG_NB = 31 - S_MAG_B0 + 1 };

typedef struct {
    s_prob_t hi[2][S_UNARY];
    s_prob_t hesc[2][S_ESC];
    s_prob_t lo[2][3];
    s_prob_t mag[3][S_UNARY];
    s_prob_t mbin[32];          /* binade b - S_MAG_B0 as a 5-bit tree (nodes 1..31) */
    s_prob_t mpow[S_MAG_NB];    /* a == 2^b */
    s_prob_t mtop[S_MAG_NB][3]; /* the two bits below the leading one */
} s_model_t;

static void s_model_init(s_model_t *md)
{
    s_prob_t *p = (s_prob_t *)md;
    for (size_t i = 0; i < sizeof *md / sizeof *p; i++) p[i] = (s_prob_t){S_PROB_ONE / 2, 0};
}

_Static_assert(sizeof(s_model_t) % sizeof(s_prob_t) == 0, "model is an array of probabilities");

static unsigned s_arith_kb(uint32_t nnz, uint32_t d)
{
    return rumor_bit_width(rumor_codec_golomb_param(nnz, d).m) - 1;
}

/* Exp-Golomb of v (< 2^33 - 1): the class c = floor(log2(v + 1)) <= 32 in unary over ctx
 * (c ones, then a zero unless c = 32), then the c bits of v + 1 below its top bit, direct. */
static inline void s_rce_escape(s_rce_t *e, s_prob_t *ctx, uint64_t v)
{
    const uint64_t x = v + 1;
    const unsigned c = rumor_bit_width(x) - 1;
    RUMOR_ASSERT(c < S_ESC);
    for (unsigned j = 0; j < c; j++) s_rce_bit(e, &ctx[j], 1);
    if (c < S_ESC - 1) s_rce_bit(e, &ctx[c], 0);
    s_rce_direct(e, (uint32_t)x, c);
}

static inline void s_rcd_escape(s_rcd_t *d, s_prob_t *ctx, uint64_t *v)
{
    unsigned c = 0;
    while (c < S_ESC - 1 && s_rcd_bit(d, &ctx[c])) c++;
    *v = ((UINT64_C(1) << c) | s_rcd_direct(d, c)) - 1;
}

static inline void s_rce_gap(s_rce_t *e, s_model_t *md, unsigned *cs, unsigned kb, uint32_t g)
{
    const uint32_t hi = g >> kb, lo = g & ((1u << kb) - 1);
    s_prob_t *u = md->hi[*cs];
    const uint32_t nu = hi < S_UNARY ? hi : S_UNARY;
    for (uint32_t i = 0; i < nu; i++) s_rce_bit(e, &u[i], 1);
    if (hi < S_UNARY)
        s_rce_bit(e, &u[hi], 0);
    else
        s_rce_escape(e, md->hesc[*cs], hi - S_UNARY);
    if (kb >= 1) {
        s_prob_t *l = md->lo[*cs];
        const unsigned t1 = (lo >> (kb - 1)) & 1;
        s_rce_bit(e, &l[0], t1);
        if (kb >= 2) {
            s_rce_bit(e, &l[1 + t1], (lo >> (kb - 2)) & 1);
            s_rce_direct(e, lo, kb - 2);
        }
    }
    *cs = hi != 0;
}

/* Decodes a gap no larger than limit. */
static inline int s_rcd_gap(s_rcd_t *d, s_model_t *md, unsigned *cs, unsigned kb, uint32_t limit,
                            uint32_t *g)
{
    s_prob_t *u = md->hi[*cs];
    uint64_t hi = 0;
    while (hi < S_UNARY && s_rcd_bit(d, &u[hi])) hi++;
    if (hi == S_UNARY) {
        uint64_t v;
        s_rcd_escape(d, md->hesc[*cs], &v);
        hi += v;
    }
    if (hi > (limit >> kb)) return RUMOR_EFORMAT;
    uint32_t lo = 0;
    if (kb >= 1) {
        s_prob_t *l = md->lo[*cs];
        const unsigned t1 = s_rcd_bit(d, &l[0]);
        lo = t1;
        if (kb >= 2) {
            lo = lo << 1 | s_rcd_bit(d, &l[1 + t1]);
            lo = lo << (kb - 2) | s_rcd_direct(d, kb - 2);
        }
    }
    const uint64_t v = hi << kb | lo;
    if (v > limit) return RUMOR_EFORMAT;
    *cs = hi != 0;
    *g = (uint32_t)v;
    return 0;
}

/* The magnitude escape for a >= S_UNARY + 1 (model comment above). */
static inline void s_rce_mag_escape(s_rce_t *e, s_model_t *md, uint32_t a)
{
    const unsigned b = rumor_bit_width(a) - 1, u = b - S_MAG_B0;
    for (unsigned node = 1, j = 5; j-- > 0;) {
        const unsigned bit = (u >> j) & 1;
        s_rce_bit(e, &md->mbin[node], bit);
        node = node << 1 | bit;
    }
    const uint32_t man = a - (UINT32_C(1) << b);
    s_rce_bit(e, &md->mpow[u], man == 0);
    if (!man) return;
    const unsigned t1 = (man >> (b - 1)) & 1;
    s_rce_bit(e, &md->mtop[u][0], t1);
    s_rce_bit(e, &md->mtop[u][1 + t1], (man >> (b - 2)) & 1);
    s_rce_direct(e, man, b - 2);
}

/* Decodes the magnitude escape; only the encoder's own output is accepted (a >= 17, at most
 * 2^31, and a power of two only through the flag). */
static inline int s_rcd_mag_escape(s_rcd_t *d, s_model_t *md, uint32_t *a)
{
    unsigned node = 1;
    for (int j = 0; j < 5; j++) node = node << 1 | s_rcd_bit(d, &md->mbin[node]);
    const unsigned u = node - 32, b = u + S_MAG_B0;
    if (u >= S_MAG_NB) return RUMOR_EFORMAT;
    if (s_rcd_bit(d, &md->mpow[u])) {
        if (b == S_MAG_B0) return RUMOR_EFORMAT; /* 16 is coded in unary */
        *a = UINT32_C(1) << b;
        return 0;
    }
    const unsigned t1 = s_rcd_bit(d, &md->mtop[u][0]);
    const unsigned t2 = s_rcd_bit(d, &md->mtop[u][1 + t1]);
    const uint32_t man = t1 << (b - 1) | t2 << (b - 2) | s_rcd_direct(d, b - 2);
    if (!man || b == 31) return RUMOR_EFORMAT; /* a power of two, or above 2^31 */
    *a = (UINT32_C(1) << b) | man;
    return 0;
}

static inline void s_rce_mag(s_rce_t *e, s_model_t *md, unsigned *ms, uint32_t a)
{
    const uint32_t v = a - 1;
    s_prob_t *u = md->mag[*ms];
    const uint32_t nu = v < S_UNARY ? v : S_UNARY;
    for (uint32_t i = 0; i < nu; i++) s_rce_bit(e, &u[i], 1);
    if (v < S_UNARY)
        s_rce_bit(e, &u[v], 0);
    else
        s_rce_mag_escape(e, md, a);
    *ms = v < 2 ? v : 2;
}

static inline int s_rcd_mag(s_rcd_t *d, s_model_t *md, unsigned *ms, uint32_t *a)
{
    s_prob_t *u = md->mag[*ms];
    uint32_t v = 0;
    while (v < S_UNARY && s_rcd_bit(d, &u[v])) v++;
    if (v == S_UNARY) {
        const int rc = s_rcd_mag_escape(d, md, a);
        if (rc) return rc;
        *ms = 2;
        return 0;
    }
    *ms = v < 2 ? v : 2;
    *a = v + 1;
    return 0;
}

/* Bits the range coder has committed to so far, give or take a byte. */
static uint64_t s_rce_bits(const s_rce_t *e)
{
    return 8 * ((uint64_t)(e->p - e->start) + e->cache_size) + 32 - rumor_bit_width(e->range);
}

/* ARITH body. INT: (gap, magnitude, sign) per nonzero; SPARSE: gaps, then nnz raw f32 values.
 * pos[0..nnz) are the positions (c->pos for INT, m->idx for SPARSE). With rival != SIZE_MAX
 * (the size of a VSC body for the same message), gives up after the first sixteenth of the
 * nonzeros (at least 128) unless it is coding them at least as compactly as the rival's
 * average: on i.i.d. data the two are within a fraction of a percent and VSC, several times
 * faster to decode, is kept without paying for a full ARITH pass. */
size_t rumor_codec_arith_encode(rumor_codec_t *c, const rumor_cmsg_t *m, uint32_t nnz, uint8_t *dst,
                                size_t cap, size_t rival)
{
    if (!nnz) return 0;
    const int is_int = m->kind == RUMOR_CMSG_INT;
    const uint32_t *pos = is_int ? c->pos : m->idx;
    const size_t vbytes = is_int ? 0 : 4 * (size_t)nnz;
    if (cap < vbytes) return SIZE_MAX;
    s_model_t md;
    s_model_init(&md);
    s_rce_t e;
    s_rce_init(&e, dst, cap - vbytes);
    const unsigned kb = s_arith_kb(nnz, m->d);
    unsigned cs = 1, ms = 0;
    uint32_t next = 0;
    uint32_t trial = nnz / 16 > 128 ? nnz / 16 : 128;
    if (rival == SIZE_MAX || trial >= nnz) trial = 0;
    const double rival_bits = rival == SIZE_MAX ? 0 : 8.0 * ((double)rival - (double)vbytes);
    for (uint32_t i = 0; i < nnz; i++) {
        if (i == trial && trial && (double)s_rce_bits(&e) * nnz > rival_bits * trial)
            return SIZE_MAX;
        s_rce_gap(&e, &md, &cs, kb, pos[i] - next);
        next = pos[i] + 1;
        if (is_int) {
            s_rce_mag(&e, &md, &ms, c->mag[i]);
            s_rce_direct(&e, m->q[pos[i]] < 0, 1);
        }
        if (e.full) return SIZE_MAX;
    }
    const size_t n = s_rce_finish(&e);
    if (n == SIZE_MAX) return SIZE_MAX;
    if (vbytes) s_put_f32s(dst + n, m->val, nnz);
    return n + vbytes;
}

int rumor_codec_arith_decode(const s_header_t *h, const uint8_t *b, size_t len, rumor_cmsg_t *out)
{
    const uint32_t nnz = h->nnz, d = h->d;
    const int is_int = h->kind == RUMOR_CMSG_INT;
    if (!nnz) return len == 0 ? 0 : RUMOR_EFORMAT;
    const size_t vbytes = is_int ? 0 : 4 * (size_t)nnz;
    if (len < vbytes) return RUMOR_ETRUNC;
    s_model_t md;
    s_model_init(&md);
    s_rcd_t rd;
    s_rcd_init(&rd, b, len - vbytes);
    const unsigned kb = s_arith_kb(nnz, d);
    unsigned cs = 1, ms = 0;
    uint32_t next = 0;
    for (uint32_t i = 0; i < nnz; i++) {
        /* room for this gap: the nnz - i nonzeros left need one position each */
        uint32_t g, a;
        int rc = s_rcd_gap(&rd, &md, &cs, kb, d - next - (nnz - i), &g);
        if (rc) return rc;
        const uint32_t k = next + g;
        next = k + 1;
        out->idx[i] = k;
        if (is_int) {
            if ((rc = s_rcd_mag(&rd, &md, &ms, &a))) return rc;
            const uint32_t at = out->packed ? i : k;
            if (s_rcd_direct(&rd, 1))
                out->q[at] = (int32_t)(0u - a);
            else if (a > INT32_MAX)
                return RUMOR_EFORMAT;
            else
                out->q[at] = (int32_t)a;
        }
        if (rd.phantom > 3) return RUMOR_ETRUNC;
    }

    const int rc = s_rcd_finish(&rd);
    if (rc) return rc;
    if (vbytes) s_get_f32s(out->val, b + len - vbytes, nnz);
    return 0;
}
