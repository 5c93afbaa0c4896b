/* rumor — the codec's VSC mode (vector source coding, after Woldemariam et al., arXiv
 * 2309.05633) and the Golomb and Elias codes it is built from. The format is in
 * docs/codec.md; codec.c chooses between this and the other modes.
 *
 * Work is O(d) for the support and O(nnz) per magnitude layer, at most S_VSC_TABLE layers,
 * whatever the input; the decoder checks every gap against the positions left.
 */
#include "codec_internal.h"

#include <string.h>

/* ---- Golomb and Elias codes ---------------------------------------------------------- */

static inline void s_golomb_put(rumor_bitw_t *w, const s_golomb_t *g, uint32_t v)
{
    /* v inv / 2^32 undershoots v / m by less than 1: one correction step */
    uint32_t q = (uint32_t)(((uint64_t)v * g->inv) >> 32), rem = v - q * g->m;
    if (rem >= g->m) {
        q++;
        rem -= g->m;
    }
    uint64_t bits = 0;
    unsigned nb = 0;
    if (g->b) {
        if (rem < g->t) {
            bits = rem;
            nb = g->b - 1;
        } else {
            const uint32_t y = rem - g->t;
            bits = (uint64_t)(g->t + (y >> 1)) | (uint64_t)(y & 1) << (g->b - 1);
            nb = g->b;
        }
    }
    if ((uint64_t)q + 1 + nb <= RUMOR_BITIO_MAX_BITS) {
        rumor_bitw_put(w, (UINT64_C(1) << q) | bits << (q + 1), q + 1 + nb);
    } else {
        rumor_bitw_zeros(w, q);
        rumor_bitw_put(w, 1, 1);
        rumor_bitw_put(w, bits, nb);
    }
}

/* Reads one Golomb value, which must not exceed limit. */
static inline int s_golomb_get(rumor_bitr_t *r, const s_golomb_t *g, uint32_t limit, uint32_t *v)
{
    uint64_t q = 0;
    rumor_bitr_refill(r);
    for (;;) {
        const uint64_t valid = r->acc & ((UINT64_C(1) << r->n) - 1);
        if (valid) {
            const unsigned z = (unsigned)__builtin_ctzll(valid);
            q += z;
            rumor_bitr_skip(r, z + 1);
            break;
        }
        q += r->n;
        rumor_bitr_skip(r, r->n);
        if (q * g->m > limit || r->phantom > 8) return RUMOR_EFORMAT;
        rumor_bitr_refill(r);
    }
    uint64_t val = q * g->m;
    if (g->b) {
        if (r->n < g->b) rumor_bitr_refill(r);
        const uint64_t bits = rumor_bitr_peek(r, g->b);
        const uint32_t x = (uint32_t)(bits & ((UINT64_C(1) << (g->b - 1)) - 1));
        if (x < g->t) {
            val += x;
            rumor_bitr_skip(r, g->b - 1);
        } else {
            val += (uint64_t)g->t + 2 * (uint64_t)(x - g->t) + (bits >> (g->b - 1));
            rumor_bitr_skip(r, g->b);
        }
    }
    if (val > limit) return RUMOR_EFORMAT;
    *v = (uint32_t)val;
    return 0;
}

/* Elias gamma of v, 1 <= v < 2^33: floor(log2 v) zero bits, then v from its top bit down
 * stored LSB first (the top bit is the terminating one). */
static void s_gamma_put(rumor_bitw_t *w, uint64_t v)
{
    RUMOR_ASSERT(v - 1 < (UINT64_C(1) << 33) - 1);
    const unsigned nb = rumor_bit_width(v) - 1;
    rumor_bitw_put(w, UINT64_C(1) << nb, nb + 1);
    rumor_bitw_put(w, v & ((UINT64_C(1) << nb) - 1), nb);
}

static int s_gamma_get(rumor_bitr_t *r, uint64_t *v)
{
    rumor_bitr_refill(r);
    const uint64_t valid = r->acc & ((UINT64_C(1) << r->n) - 1);
    if (!valid) return RUMOR_EFORMAT;
    const unsigned nb = (unsigned)__builtin_ctzll(valid);
    if (nb > 32) return RUMOR_EFORMAT;
    rumor_bitr_skip(r, nb + 1);
    *v = (UINT64_C(1) << nb) | rumor_bitr_get(r, nb);
    return 0;
}

/* Elias delta of v, 1 <= v < 2^33: gamma(floor(log2 v) + 1), then the bits below the top. */
static void s_delta_put(rumor_bitw_t *w, uint64_t v)
{
    const unsigned nb = rumor_bit_width(v) - 1;
    s_gamma_put(w, nb + 1);
    rumor_bitw_put(w, v & ((UINT64_C(1) << nb) - 1), nb);
}

static int s_delta_get(rumor_bitr_t *r, uint64_t *v)
{
    uint64_t l;
    const int rc = s_gamma_get(r, &l);
    if (rc) return rc;
    if (l > 33) return RUMOR_EFORMAT;
    const unsigned nb = (unsigned)l - 1;
    *v = (UINT64_C(1) << nb) | rumor_bitr_get(r, nb);
    return 0;
}

/* ---- VSC ----------------------------------------------------------------------------- */

/* The support: n marks among d positions (n = nnz, or d - nnz when that is smaller: then the
 * zeros are marked), as Golomb-coded gaps. pos[0..nnz) are the nonzero positions. */
static void s_support_put(rumor_bitw_t *wp, const uint32_t *pos, uint32_t nnz, uint32_t d)
{
    const int comp = nnz > d - nnz;
    const uint32_t n = comp ? d - nnz : nnz;
    if (!n) return;
    rumor_bitw_t wl = *wp, *w = &wl; /* a local copy the compiler can keep in registers */
    const s_golomb_t g = rumor_codec_golomb_param(n, d);
    RUMOR_ASSERT(g.b <= 32); /* s_golomb_put shifts by b - 1 */
    uint32_t next = 0;       /* first position after the previous mark */
    if (!comp) {
        for (uint32_t i = 0; i < nnz; i++) {
            s_golomb_put(w, &g, pos[i] - next);
            next = pos[i] + 1;
        }
    } else {
        uint32_t j = 0;
        for (uint32_t k = 0; k < d; k++) {
            if (j < nnz && pos[j] == k) {
                j++;
                continue;
            }
            s_golomb_put(w, &g, k - next);
            next = k + 1;
        }
    }
    *wp = wl;
}

/* What s_gaps_get does with the marks it reads. */
typedef enum {
    S_GAPS_MARKED,   /* writes each mark's position to out */
    S_GAPS_UNMARKED, /* writes the positions between the marks to out */
    S_GAPS_BYTES,    /* sets mark[position] to 1 */
} s_gaps_t;

/* Records a mark gap positions after next (out[*np..] or mark[]); returns the position after it. */
static inline __attribute__((always_inline)) uint32_t
s_gaps_put(s_gaps_t how, uint32_t *restrict out, uint8_t *restrict mark, uint32_t *np,
           uint32_t next, uint32_t gap)
{
    if (how == S_GAPS_MARKED)
        out[(*np)++] = next + gap;
    else if (how == S_GAPS_UNMARKED)
        for (uint32_t k = 0; k < gap; k++) out[(*np)++] = next + k;
    else
        mark[next + gap] = 1;
    return next + gap + 1;
}

/* Reads n Golomb gaps, summing to at most z, of marks among the positions 0, 1, ...; *next
 * gets the position after the last mark. While 8 bytes are left to load, the gaps are read
 * from a local 64-bit buffer refilled once every few gaps, each by one count of trailing zeros
 * and one truncated-binary read; a gap that does not fit in the buffer, or exceeds what is
 * left of z, and the last bytes go through s_golomb_get, which decides the errors. Both read
 * the same bits, so the stream position, and every check made on it, is the same as when
 * every gap goes through s_golomb_get. */
static inline __attribute__((always_inline)) int
s_gaps_get(rumor_bitr_t *rp, const s_golomb_t *g, uint32_t n, uint32_t z, s_gaps_t how,
           uint32_t *restrict out, uint8_t *restrict mark, uint32_t *next_p)
{
    rumor_bitr_t rl = *rp, *r = &rl; /* in registers: the stores could alias it */
    uint32_t i = 0, next = 0, np = 0;
    const unsigned b = g->b, hb = b ? b - 1 : 0, has_b = b != 0;
    const uint32_t m = g->m, t = g->t;
    const uint64_t low = b ? (UINT64_C(1) << hb) - 1 : 0;
    if (r->end - r->p >= 8) {
        const uint8_t *p = r->p, *last = r->end - 8;
        uint64_t acc = r->acc;
        unsigned nb = r->n;
        while (i < n) {
            if (nb < 32) {
                if (p > last) break;
                acc |= rumor_load64le(p) << nb;
                p += (63 - nb) >> 3;
                nb |= 56;
            }
            /* the top bit stops the count; a unary run through it is too long to read here */
            const unsigned q = (unsigned)__builtin_ctzll(acc | UINT64_C(1) << 63);
            if (q + 1 + b > nb) break;
            const uint64_t rest = acc >> (q + 1), after = rest >> hb;
            const uint32_t x = (uint32_t)(rest & low);
            const unsigned lng = has_b & (x >= t);
            const uint64_t val =
                (uint64_t)q * m +
                (lng ? (uint64_t)t + 2 * (uint64_t)(x - t) + (after & 1) : (uint64_t)x);
            if (val > z) break;
            acc = lng ? after >> 1 : after;
            nb -= q + 1 + hb + lng;
            z -= (uint32_t)val;
            next = s_gaps_put(how, out, mark, &np, next, (uint32_t)val);
            i++;
        }
        r->p = p;
        r->acc = acc;
        r->n = nb;
    }
    int rc = 0;
    for (; i < n; i++) {
        uint32_t gap = 0;
        if ((rc = s_golomb_get(r, g, z, &gap))) break;
        z -= gap;
        next = s_gaps_put(how, out, mark, &np, next, gap);
    }
    *rp = rl;
    *next_p = next;
    return rc;
}

/* s_gaps_get for each use, compiled apart: one loop each, its state in registers. */
static __attribute__((noinline)) int s_gaps_marked(rumor_bitr_t *r, const s_golomb_t *g, uint32_t n,
                                                   uint32_t z, uint32_t *restrict out,
                                                   uint32_t *next)
{
    return s_gaps_get(r, g, n, z, S_GAPS_MARKED, out, NULL, next);
}

static __attribute__((noinline)) int s_gaps_unmarked(rumor_bitr_t *r, const s_golomb_t *g,
                                                     uint32_t n, uint32_t z, uint32_t *restrict out,
                                                     uint32_t *next)
{
    return s_gaps_get(r, g, n, z, S_GAPS_UNMARKED, out, NULL, next);
}

static __attribute__((noinline)) int s_gaps_bytes(rumor_bitr_t *r, const s_golomb_t *g, uint32_t n,
                                                  uint32_t z, uint8_t *restrict mark)
{
    uint32_t next;
    return s_gaps_get(r, g, n, z, S_GAPS_BYTES, NULL, mark, &next);
}

/* Inverse of s_support_put: fills pos[0..nnz) with ascending positions below d. */
static int s_support_get(rumor_bitr_t *r, uint32_t *restrict pos, uint32_t nnz, uint32_t d)
{
    const int comp = nnz > d - nnz;
    const uint32_t n = comp ? d - nnz : nnz;
    if (!n) {
        for (uint32_t k = 0; k < nnz; k++) pos[k] = k;
        return 0;
    }
    const s_golomb_t g = rumor_codec_golomb_param(n, d);
    uint32_t next = 0;
    const int rc = comp ? s_gaps_unmarked(r, &g, n, d - n, pos, &next)
                        : s_gaps_marked(r, &g, n, d - n, pos, &next);
    if (rc) return rc;
    if (comp) /* the unmarked positions after the last mark */
        for (uint32_t k = next, np = next - n; k < d; k++) pos[np++] = k;
    return 0;
}

typedef struct {
    uint32_t mag[S_VSC_TABLE]; /* ascending */
    uint32_t cnt[S_VSC_TABLE]; /* cnt[T-1]: every nonzero of magnitude >= mag[T-1] */
    uint8_t ord[S_VSC_TABLE];  /* the order the layers are peeled in (s_table_order) */
    unsigned T;
    int tail; /* magnitudes above mag[T-1] exist and are coded one by one */
} s_table_t;

/* Layers go by descending count, ties by ascending magnitude, so the passes over the slots
 * still unclaimed shrink as fast as they can: the decoder derives the order from the counts. */
static void s_table_order(s_table_t *t)
{
    for (unsigned j = 0; j < t->T; j++) {
        unsigned k = j;
        for (; k > 0 && t->cnt[t->ord[k - 1]] < t->cnt[j]; k--) t->ord[k] = t->ord[k - 1];
        t->ord[k] = (uint8_t)j;
    }
}

/* The magnitudes layer j claims are mag[j] .. mag[j] + s_layer_span(t, j): one, or with the
 * tail every magnitude from mag[T-1] up. */
static uint32_t s_layer_span(const s_table_t *t, unsigned j)
{
    return t->tail && j == t->T - 1 ? UINT32_MAX - t->mag[j] : 0;
}

/* Appends magnitude a with count n to the table, unless it is full. */
static int s_table_add(s_table_t *t, uint32_t a, uint32_t n, uint32_t *claimed)
{
    if (t->T == S_VSC_TABLE) return 0;
    t->mag[t->T] = a;
    t->cnt[t->T++] = n;
    *claimed += n;
    return 1;
}

/* The smallest distinct magnitudes of mag[0..nnz) (nnz >= 1) and their counts, ascending;
 * the last entry also counts every magnitude above it that is not listed. Past S_H_HASH - 1
 * distinct magnitudes of S_H_DIRECT and above, those are one entry from the smallest up. */
static void s_table_build(rumor_codec_t *c, uint32_t nnz, s_table_t *t)
{
    s_hist_t *h = c->hist;
    rumor_codec_hist_add_all(h, c->mag, nnz);
    t->T = 0;
    uint32_t claimed = 0, a = 1;
    for (; a <= h->top; a++)
        if (h->direct[a] && !s_table_add(t, a, h->direct[a], &claimed)) break;
    if (a <= h->top || t->T == S_VSC_TABLE || claimed == nnz) {
        /* no room, or nothing left */
    } else if (h->lost) {
        uint32_t least = UINT32_MAX;
        for (uint32_t i = 0; i < nnz; i++)
            if (c->mag[i] >= S_H_DIRECT && c->mag[i] < least) least = c->mag[i];
        s_table_add(t, least, 0, &claimed); /* the tail: every large one, below */
    } else {
        /* the keys as (key << 12 | slot), the smallest S_VSC_TABLE - T of them ascending */
        uint64_t best[S_VSC_TABLE];
        const unsigned want = S_VSC_TABLE - t->T;
        unsigned nb = 0;
        for (uint32_t i = 0; i < h->used; i++) {
            const uint64_t v = (uint64_t)h->key[h->slot[i]] << 12 | h->slot[i];
            if (nb == want && v > best[nb - 1]) continue;
            unsigned k = nb < want ? nb++ : nb - 1;
            for (; k > 0 && best[k - 1] > v; k--) best[k] = best[k - 1];
            best[k] = v;
        }
        for (unsigned k = 0; k < nb; k++)
            s_table_add(t, (uint32_t)(best[k] >> 12), h->cnt[best[k] & 4095], &claimed);
    }
    t->tail = claimed < nnz;
    t->cnt[t->T - 1] += nnz - claimed;
    rumor_codec_hist_reset(h);
    s_table_order(t);
}

/* VSC body of an INT message whose nonzeros are c->pos / c->mag [0..nnz). Returns the size,
 * or SIZE_MAX when it does not fit in cap. */
size_t rumor_codec_vsc_int_encode(rumor_codec_t *c, const rumor_cmsg_t *m, uint32_t nnz,
                                  uint8_t *dst, size_t cap)
{
    if (!nnz) return 0;
    rumor_bitw_t w;
    rumor_bitw_init(&w, dst, cap);
    s_support_put(&w, c->pos, nnz, m->d);

    s_table_t t;
    s_table_build(c, nnz, &t);
    s_gamma_put(&w, t.T);
    rumor_bitw_put(&w, (uint64_t)t.tail, 1);
    for (unsigned j = 0; j < t.T; j++) s_gamma_put(&w, t.mag[j] - (j ? t.mag[j - 1] : 0));
    for (unsigned j = 0; j + 1 < t.T; j++) s_delta_put(&w, t.cnt[j]);
    if (w.full) return SIZE_MAX;

    /* Layer j marks, among the r slots still unclaimed, those of its magnitudes (or the
     * others, when they are fewer); the unclaimed ones move down in left[]. */
    uint32_t *left = c->left, r = nnz;
    for (uint32_t i = 0; i < nnz; i++) left[i] = i;
    for (unsigned o = 0; o + 1 < t.T; o++) {
        const unsigned j = t.ord[o];
        const uint32_t mj = t.mag[j], nj = t.cnt[j], span = s_layer_span(&t, j);
        const int comp = nj > r - nj;
        const s_golomb_t g = rumor_codec_golomb_param(comp ? r - nj : nj, r);
        RUMOR_ASSERT(g.b <= 32);
        uint32_t *marks = c->tmp, nm = 0, kept = 0;
        for (uint32_t i = 0; i < r; i++) { /* no data-dependent branches */
            const uint32_t s = left[i];
            const int hit = c->mag[s] - mj <= span;
            marks[nm] = i;
            nm += hit != comp;
            left[kept] = s;
            kept += !hit;
        }
        for (uint32_t k = 0, next = 0; k < nm; k++) {
            s_golomb_put(&w, &g, marks[k] - next);
            next = marks[k] + 1;
        }
        RUMOR_ASSERT(kept == r - nj);
        r = kept;
        if (w.full) return SIZE_MAX;
    }
    if (t.tail) {
        const uint32_t base = t.mag[t.T - 1];
        for (uint32_t i = 0; i < nnz; i++)
            if (c->mag[i] >= base) s_gamma_put(&w, (uint64_t)c->mag[i] - base + 1);
    }

    for (uint32_t i = 0; i < nnz; i += RUMOR_BITIO_MAX_BITS) {
        const uint32_t n = nnz - i < RUMOR_BITIO_MAX_BITS ? nnz - i : RUMOR_BITIO_MAX_BITS;
        uint64_t bits = 0;
        for (uint32_t k = 0; k < n; k++) bits |= (uint64_t)(m->q[c->pos[i + k]] < 0) << k;
        rumor_bitw_put(&w, bits, n);
    }
    const size_t size = rumor_bitw_finish(&w);
    return w.full ? SIZE_MAX : size;
}

/* y[pos[i]] = save[i] (float bits) for i < n: the entries a fused decode changed, as they were. */
static void s_restore(float *restrict y, const uint32_t *pos, const uint32_t *save, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) y[pos[i]] = s_bits_f32(save[i]);
}

/* The signs of a fused decode (y != NULL): y[pos[i]] += scale * level i, the sum computed as
 * rumor_cmsg_axpy computes it, each entry's old value kept in save[i]. 0, or RUMOR_EFORMAT (a
 * positive 2^31) with y as it was; *nonfinite set when a sum is not finite. */
static int s_signs_add(rumor_bitr_t *r, const uint32_t *pos, const uint32_t *mags, uint32_t nnz,
                       float scale, float *restrict y, uint32_t *restrict save, unsigned *nonfinite)
{
    enum { AHEAD = 16 }; /* y is usually out of cache: ask for its lines a few entries ahead */
    unsigned nf = 0;
    for (uint32_t i = 0; i < nnz; i += RUMOR_BITIO_MAX_BITS) {
        const uint32_t n = nnz - i < RUMOR_BITIO_MAX_BITS ? nnz - i : RUMOR_BITIO_MAX_BITS;
        const uint64_t bits = rumor_bitr_get(r, n);
        unsigned bad = 0;
        for (uint32_t k = 0; k < n; k++) {
            const uint32_t a = mags[i + k], at = pos[i + k];
            if (i + k + AHEAD < nnz) __builtin_prefetch(&y[pos[i + k + AHEAD]], 1);
            const unsigned neg = (bits >> k) & 1;
            bad |= !neg & (a > INT32_MAX);
            /* the product, then the sum, as two statements: as rumor_cmsg_axpy rounds them
             * (one expression could be contracted into a fused multiply-add) */
            const float x = scale * (float)(int32_t)(neg ? 0u - a : a);
            const float old = y[at], v = old + x;
            save[i + k] = s_f32_bits(old);
            y[at] = v;
            nf |= s_f32_nonfinite(v);
        }
        if (bad) {
            s_restore(y, pos, save, i + n);
            return RUMOR_EFORMAT;
        }
    }
    *nonfinite = nf;
    return 0;
}

int rumor_codec_vsc_int_decode(rumor_codec_t *c, const s_header_t *h, const uint8_t *b, size_t len,
                               rumor_cmsg_t *out, float *y)
{
    const uint32_t nnz = h->nnz;
    if (!nnz) return len == 0 ? 0 : RUMOR_EFORMAT;
    rumor_bitr_t r;
    rumor_bitr_init(&r, b, len);
    int rc = s_support_get(&r, c->pos, nnz, h->d);
    if (rc) return rc;

    s_table_t t;
    uint64_t v;
    if ((rc = s_gamma_get(&r, &v))) return rc;
    if (v > S_VSC_TABLE || v > nnz) return RUMOR_EFORMAT;
    t.T = (unsigned)v;
    t.tail = (int)rumor_bitr_get(&r, 1);
    uint64_t mag = 0, claimed = 0;
    for (unsigned j = 0; j < t.T; j++) {
        if ((rc = s_gamma_get(&r, &v))) return rc;
        mag += v;
        if (mag > UINT64_C(1) << 31) return RUMOR_EFORMAT;
        t.mag[j] = (uint32_t)mag;
    }
    for (unsigned j = 0; j + 1 < t.T; j++) {
        if ((rc = s_delta_get(&r, &v))) return rc;
        claimed += v;
        if (claimed >= nnz) return RUMOR_EFORMAT;
        t.cnt[j] = (uint32_t)v;
    }
    t.cnt[t.T - 1] = nnz - (uint32_t)claimed;
    s_table_order(&t);
    if (r.phantom > 8) return RUMOR_ETRUNC;

    uint32_t *left = c->left, *mags = c->mag, rem = nnz;
    for (uint32_t i = 0; i < nnz; i++) left[i] = i;
    for (unsigned o = 0; o + 1 < t.T; o++) {
        const uint32_t mj = t.mag[t.ord[o]], nj = t.cnt[t.ord[o]];
        const int comp = nj > rem - nj;
        const uint32_t n = comp ? rem - nj : nj;
        const s_golomb_t g = rumor_codec_golomb_param(n, rem);
        uint8_t *mark = (uint8_t *)c->tmp;
        memset(mark, 0, rem);
        uint32_t kept = 0;
        if ((rc = s_gaps_bytes(&r, &g, n, rem - n, mark))) return rc;
        /* Every slot left takes mj for now (a later layer overwrites those that stay); the
         * loop has no data-dependent branches. */
        for (uint32_t e = 0; e < rem; e++) {
            const uint32_t s = left[e];
            mags[s] = mj;
            left[kept] = s;
            kept += mark[e] == comp;
        }
        rem = kept;
        if (r.phantom > 8) return RUMOR_ETRUNC;
    }
    const uint32_t implied = t.mag[t.ord[t.T - 1]], last = t.mag[t.T - 1];
    for (uint32_t i = 0; i < rem; i++) mags[left[i]] = implied;
    if (t.tail) {      /* the slots holding the last listed magnitude carry their excess over it */
        int above = 0; /* the encoder sets the tail bit only when some magnitude exceeds it */
        for (uint32_t i = 0; i < nnz; i++) {
            if (mags[i] != last) continue;
            if ((rc = s_gamma_get(&r, &v))) return rc;
            above |= v > 1;
            v += last - 1;
            if (v > UINT64_C(1) << 31) return RUMOR_EFORMAT;
            mags[i] = (uint32_t)v;
        }
        if (!above) return RUMOR_EFORMAT;
    }

    if (y) {
        unsigned nonfinite = 0;
        if ((rc = s_signs_add(&r, c->pos, mags, nnz, h->scale, y, c->left, &nonfinite))) return rc;
        rc = rumor_bitr_exact(&r)                          ? (nonfinite ? RUMOR_ENONFINITE : 0)
             : rumor_bitr_consumed(&r) > 8 * (uint64_t)len ? RUMOR_ETRUNC
                                                           : RUMOR_EFORMAT;
        if (rc) s_restore(y, c->pos, c->left, nnz);
        return rc;
    }
    for (uint32_t i = 0; i < nnz; i += RUMOR_BITIO_MAX_BITS) {
        const uint32_t n = nnz - i < RUMOR_BITIO_MAX_BITS ? nnz - i : RUMOR_BITIO_MAX_BITS;
        const uint64_t bits = rumor_bitr_get(&r, n);
        unsigned bad = 0;
        for (uint32_t k = 0; k < n; k++) { /* no branch on the signs, which are random */
            const uint32_t a = mags[i + k], at = out->packed ? i + k : c->pos[i + k];
            const unsigned neg = (bits >> k) & 1;
            bad |= !neg & (a > INT32_MAX);
            out->q[at] = (int32_t)(neg ? 0u - a : a); /* a <= 2^31: wraps to INT32_MIN */
        }
        if (bad) return RUMOR_EFORMAT;
    }
    if (out->listed) memcpy(out->idx, c->pos, (size_t)nnz * sizeof *c->pos);
    return rumor_bitr_exact(&r)                          ? 0
           : rumor_bitr_consumed(&r) > 8 * (uint64_t)len ? RUMOR_ETRUNC
                                                         : RUMOR_EFORMAT;
}

/* VSC body of a SPARSE message: the support, padded to a byte, then nnz f32 values. */
size_t rumor_codec_vsc_sparse_encode(const rumor_cmsg_t *m, uint8_t *dst, size_t cap)
{
    rumor_bitw_t w;
    rumor_bitw_init(&w, dst, cap);
    s_support_put(&w, m->idx, m->nnz, m->d);
    const size_t bits = rumor_bitw_finish(&w);
    if (w.full || cap - bits < 4 * (size_t)m->nnz) return SIZE_MAX;
    s_put_f32s(dst + bits, m->val, m->nnz);
    return bits + 4 * (size_t)m->nnz;
}

int rumor_codec_vsc_sparse_decode(const s_header_t *h, const uint8_t *b, size_t len,
                                  rumor_cmsg_t *out)
{
    const size_t vbytes = 4 * (size_t)h->nnz;
    if (len < vbytes) return RUMOR_ETRUNC;
    rumor_bitr_t r;
    rumor_bitr_init(&r, b, len - vbytes);
    const int rc = s_support_get(&r, out->idx, h->nnz, h->d);
    if (rc) return rc;
    if (!rumor_bitr_exact(&r))
        return rumor_bitr_consumed(&r) > 8 * (uint64_t)(len - vbytes) ? RUMOR_ETRUNC
                                                                      : RUMOR_EFORMAT;
    s_get_f32s(out->val, b + len - vbytes, h->nnz);
    return 0;
}
