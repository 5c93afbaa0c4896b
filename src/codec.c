/* rumor — the codec: cmsg <-> bytes in three modes (RAW, VSC, ANS), and the entropy bound.
 *
 * Layout of this file: header and context; RAW; Golomb/Elias primitives and VSC; the
 * adaptive range coder and ANS; mode selection; the entropy bound. The format is specified
 * in codec.h and docs/codec.md; tests/test_codec.c holds plain bit-by-bit reference encoders
 * that must produce the same bytes as the code here.
 *
 * Invariants: encode and decode never allocate (the context's scratch covers d_max); the
 * decoder validates every field before it indexes with it, reads its input only through
 * bounds-checked readers (rumor_bitr_*, s_rc_*) that return zeros past the end and count
 * them, and writes out->q / out->idx / out->val only below the d it has checked against
 * out->cap_d.
 */
#include "rumor/codec.h"
#include "rumor/bitio.h"
#include "rumor/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- header -------------------------------------------------------------------------- */

enum {
    S_MAGIC0 = 'R',
    S_MAGIC1 = 'c',
    S_OFF_VERSION = 2,
    S_OFF_MODE = 3,
    S_OFF_D = 4, /* then d and nnz as LEB128, then the scale */
};
_Static_assert(sizeof(float) == 4, "float32 scale and values");

typedef struct {
    rumor_codec_mode_t mode;
    rumor_cmsg_kind_t kind;
    uint32_t d, nnz;
    float scale;
    size_t size; /* of the header */
} s_header_t;

static uint32_t s_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float s_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* LEB128: 7 bits per byte, least significant first, the top bit set on every byte but the
 * last; 1 to 5 bytes for a u32. */
static size_t s_leb_size(uint32_t v)
{
    return (size_t)(rumor_bit_width(v | 1) + 6) / 7;
}

static size_t s_leb_put(uint8_t *dst, uint32_t v)
{
    size_t n = 0;
    for (; v >= 128; v >>= 7) dst[n++] = (uint8_t)(v | 128);
    dst[n++] = (uint8_t)v;
    return n;
}

/* Reads the shortest spelling of a u32 at src[*at..len) only: a longer one (a last byte of 0
 * after others), more than 5 bytes or a value above 2^32 - 1 is RUMOR_EFORMAT. */
static int s_leb_get(const uint8_t *src, size_t len, size_t *at, uint32_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 5; i++) {
        if (*at >= len) return RUMOR_ETRUNC;
        const uint8_t b = src[(*at)++];
        x |= (uint64_t)(b & 127) << (7 * i);
        if (!(b & 128)) {
            if ((i && !b) || x > UINT32_MAX) return RUMOR_EFORMAT;
            *v = (uint32_t)x;
            return 0;
        }
    }
    return RUMOR_EFORMAT;
}

size_t rumor_codec_header_size(uint32_t d, uint32_t nnz)
{
    return S_OFF_D + s_leb_size(d) + s_leb_size(nnz) + 4;
}

/* Writes the header of a message of m's kind and length with nnz nonzeros; returns its size. */
static size_t s_header_write(uint8_t *dst, rumor_codec_mode_t mode, const rumor_cmsg_t *m,
                             uint32_t nnz)
{
    dst[0] = S_MAGIC0;
    dst[1] = S_MAGIC1;
    dst[S_OFF_VERSION] = RUMOR_CODEC_VERSION;
    dst[S_OFF_MODE] = (uint8_t)((unsigned)mode | (unsigned)m->kind << 4);
    size_t n = S_OFF_D;
    n += s_leb_put(dst + n, m->d);
    n += s_leb_put(dst + n, nnz);
    rumor_store32le(dst + n, s_f32_bits(m->scale));
    return n + 4;
}

static int s_mode_applies(rumor_codec_mode_t mode, rumor_cmsg_kind_t kind)
{
    switch (mode) {
    case RUMOR_CODEC_RAW:
        return kind <= RUMOR_CMSG_SPARSE;
    case RUMOR_CODEC_VSC:
    case RUMOR_CODEC_ANS:
        return kind == RUMOR_CMSG_INT || kind == RUMOR_CMSG_SPARSE;
    case RUMOR_CODEC_SEED:
        return kind == RUMOR_CMSG_SPARSE;
    default:
        return 0;
    }
}

static int s_header_read(const uint8_t *src, size_t len, s_header_t *h)
{
    if (!src || len < S_OFF_D) return RUMOR_ETRUNC;
    if (src[0] != S_MAGIC0 || src[1] != S_MAGIC1) return RUMOR_EFORMAT;
    if (src[S_OFF_VERSION] != RUMOR_CODEC_VERSION) return RUMOR_EVERSION;
    const unsigned mode = src[S_OFF_MODE] & 15u, kind = src[S_OFF_MODE] >> 4;
    if (kind > RUMOR_CMSG_SPARSE || !s_mode_applies((rumor_codec_mode_t)mode, kind))
        return RUMOR_EFORMAT;
    h->mode = (rumor_codec_mode_t)mode;
    h->kind = (rumor_cmsg_kind_t)kind;
    size_t at = S_OFF_D;
    int rc = s_leb_get(src, len, &at, &h->d);
    if (!rc) rc = s_leb_get(src, len, &at, &h->nnz);
    if (rc) return rc;
    if (len - at < 4) return RUMOR_ETRUNC;
    h->scale = s_bits_f32(rumor_load32le(src + at));
    h->size = at + 4;
    if (h->nnz > h->d) return RUMOR_EFORMAT;
    if (h->kind == RUMOR_CMSG_DENSE && h->nnz != h->d) return RUMOR_EFORMAT;
    return 0;
}

int rumor_codec_peek(const uint8_t *src, size_t len, rumor_codec_info_t *info)
{
    s_header_t h;
    const int rc = s_header_read(src, len, &h);
    if (rc) return rc;
    *info = (rumor_codec_info_t){h.mode, h.kind, h.d, h.nnz, h.size};
    return 0;
}

int rumor_codec_peek_mode(const uint8_t *src, size_t len)
{
    rumor_codec_info_t info;
    const int rc = rumor_codec_peek(src, len, &info);
    return rc < 0 ? rc : (int)info.mode;
}

int rumor_codec_parse_mode(const char *s, rumor_codec_mode_t *mode)
{
    static const char *const names[] = {"auto", "raw", "vsc", "ans"};
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *mode = (rumor_codec_mode_t)i;
            return 0;
        }
    return RUMOR_EINVAL;
}

const char *rumor_codec_mode_name(rumor_codec_mode_t mode)
{
    switch (mode) {
    case RUMOR_CODEC_AUTO:
        return "auto";
    case RUMOR_CODEC_RAW:
        return "raw";
    case RUMOR_CODEC_VSC:
        return "vsc";
    case RUMOR_CODEC_ANS:
        return "ans";
    case RUMOR_CODEC_SEED:
        return "seed";
    }
    return "?";
}

/* ---- magnitude histograms (VSC tables, the entropy bound) ---------------------------- */

enum { S_H_DIRECT = 1024, S_H_HASH = 4096 };

/* Counts of nonzero magnitudes: those below S_H_DIRECT directly, the others in an
 * open-addressing table of up to S_H_HASH - 1 keys (further new keys are only counted in
 * `lost`). Starts and, after s_hist_reset, is again all zero. */
typedef struct {
    uint32_t direct[S_H_DIRECT];
    uint32_t key[S_H_HASH], cnt[S_H_HASH];
    uint16_t slot[S_H_HASH];       /* the table slots in use */
    uint32_t nnz, used, top, lost; /* top: largest direct magnitude seen */
} s_hist_t;

static inline uint32_t s_hist_hash(uint32_t a)
{
    return (a * 2654435761u) >> 20; /* 12 bits */
}

static inline void s_hist_add(s_hist_t *t, uint32_t a)
{
    t->nnz++;
    if (a < S_H_DIRECT) {
        t->direct[a]++;
        if (a > t->top) t->top = a;
        return;
    }
    for (uint32_t h = s_hist_hash(a);; h = (h + 1) & (S_H_HASH - 1)) {
        if (t->cnt[h] && t->key[h] == a) {
            t->cnt[h]++;
            return;
        }
        if (!t->cnt[h] && t->used < S_H_HASH - 1) {
            t->key[h] = a;
            t->cnt[h] = 1;
            t->slot[t->used++] = (uint16_t)h;
            return;
        }
        if (!t->cnt[h]) {
            t->lost++;
            return;
        }
    }
}

static void s_hist_reset(s_hist_t *t)
{
    memset(t->direct, 0, (t->top + 1) * sizeof *t->direct);
    for (uint32_t i = 0; i < t->used; i++) t->cnt[t->slot[i]] = 0;
    t->nnz = t->used = t->top = t->lost = 0;
}

/* ---- context ------------------------------------------------------------------------- */

/* Distinct magnitudes VSC lists explicitly; larger ones share the last entry and carry their
 * excess over it in the stream. Bounds the decoder's work at S_VSC_TABLE passes over nnz. */
#define S_VSC_TABLE 32u

struct rumor_codec {
    uint32_t d_max;
    uint32_t *pos;  /* (d_max) positions of the nonzeros / entries, ascending */
    uint32_t *mag;  /* (d_max) INT: magnitude of each nonzero, by slot */
    uint32_t *left; /* (d_max) slots not yet claimed by a VSC magnitude layer */
    uint32_t *tmp;  /* (d_max + 1) the marks of a VSC layer; SEED positions */
    uint64_t *bits; /* (d_max / 64 + 1) the bitmap of rumor_rng_sample_positions */
    s_hist_t *hist; /* the VSC encoder's table of magnitudes, all zero between uses */
    uint8_t *alt;   /* (alt_cap) the candidate AUTO compares against what is in dst */
    size_t alt_cap;
};

size_t rumor_codec_bound(uint32_t d)
{
    return RUMOR_CODEC_HEADER_MAX + 8 * (size_t)d + 8;
}

rumor_codec_t *rumor_codec_new(uint32_t d_max)
{
    rumor_codec_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    const size_t n = (size_t)d_max + 1;
    c->d_max = d_max;
    c->pos = malloc(n * sizeof *c->pos);
    c->mag = malloc(n * sizeof *c->mag);
    c->left = malloc(n * sizeof *c->left);
    c->tmp = malloc(n * sizeof *c->tmp);
    c->bits = malloc(((size_t)d_max / 64 + 1) * sizeof *c->bits);
    c->hist = calloc(1, sizeof *c->hist);
    c->alt_cap = rumor_codec_bound(d_max);
    c->alt = malloc(c->alt_cap);
    if (!c->pos || !c->mag || !c->left || !c->tmp || !c->bits || !c->hist || !c->alt)
        rumor_codec_destroy(&c);
    return c;
}

void rumor_codec_destroy(rumor_codec_t **c_p)
{
    if (!c_p || !*c_p) return;
    rumor_codec_t *c = *c_p;
    free(c->pos);
    free(c->mag);
    free(c->left);
    free(c->tmp);
    free(c->bits);
    free(c->hist);
    free(c->alt);
    free(c);
    *c_p = NULL;
}

/* ---- RAW ----------------------------------------------------------------------------- */

static uint32_t s_zigzag(int32_t v)
{
    return ((uint32_t)v << 1) ^ (uint32_t) - (int32_t)((uint32_t)v >> 31);
}

static int32_t s_unzigzag(uint32_t u)
{
    const uint32_t v = (u >> 1) ^ (uint32_t) - (int32_t)(u & 1);
    int32_t r;
    memcpy(&r, &v, 4);
    return r;
}

/* Magnitude of a level as an unsigned value (|INT32_MIN| = 2^31 fits). */
static uint32_t s_abs(int32_t v)
{
    return v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
}

/* Body size of RAW for m (INT: w is the zigzag width). */
static size_t s_raw_body_bytes(const rumor_cmsg_t *m, unsigned w)
{
    switch (m->kind) {
    case RUMOR_CMSG_DENSE:
        return 4 * (size_t)m->d;
    case RUMOR_CMSG_INT:
        return m->d ? 1 + ((uint64_t)m->d * w + 7) / 8 : 0;
    case RUMOR_CMSG_SPARSE:
        return 8 * (size_t)m->nnz;
    }
    return 0;
}

static void s_put_f32s(uint8_t *dst, const float *v, uint32_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(dst, v, (size_t)n * 4);
#else
    for (uint32_t i = 0; i < n; i++) rumor_store32le(dst + 4 * (size_t)i, s_f32_bits(v[i]));
#endif
}

static void s_get_f32s(float *v, const uint8_t *src, uint32_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(v, src, (size_t)n * 4);
#else
    for (uint32_t i = 0; i < n; i++) v[i] = s_bits_f32(rumor_load32le(src + 4 * (size_t)i));
#endif
}

/* Writes the RAW body of m into dst[0..cap); w is the INT zigzag width. Returns the size, or
 * SIZE_MAX when cap is too small. */
static size_t s_raw_encode(const rumor_cmsg_t *m, unsigned w, uint8_t *dst, size_t cap)
{
    const size_t need = s_raw_body_bytes(m, w);
    if (need > cap) return SIZE_MAX;
    switch (m->kind) {
    case RUMOR_CMSG_DENSE:
        s_put_f32s(dst, m->val, m->d);
        break;
    case RUMOR_CMSG_INT: {
        if (!m->d) break;
        dst[0] = (uint8_t)w;
        rumor_bitw_t bw;
        rumor_bitw_init(&bw, dst + 1, need - 1);
        if (w)
            for (uint32_t k = 0; k < m->d; k++) rumor_bitw_put(&bw, s_zigzag(m->q[k]), w);
        const size_t got = rumor_bitw_finish(&bw);
        RUMOR_ASSERT(got == need - 1);
        break;
    }
    case RUMOR_CMSG_SPARSE:
        for (uint32_t j = 0; j < m->nnz; j++) rumor_store32le(dst + 4 * (size_t)j, m->idx[j]);
        s_put_f32s(dst + 4 * (size_t)m->nnz, m->val, m->nnz);
        break;
    }
    return need;
}

static int s_raw_decode(const s_header_t *h, const uint8_t *b, size_t len, rumor_cmsg_t *out)
{
    switch (h->kind) {
    case RUMOR_CMSG_DENSE:
        if (len != 4 * (size_t)h->d) return len < 4 * (size_t)h->d ? RUMOR_ETRUNC : RUMOR_EFORMAT;
        s_get_f32s(out->val, b, h->d);
        return 0;
    case RUMOR_CMSG_INT: {
        if (h->d == 0) return len == 0 ? 0 : RUMOR_EFORMAT;
        if (len < 1) return RUMOR_ETRUNC;
        const unsigned w = b[0];
        if (w > 32) return RUMOR_EFORMAT;
        const uint64_t need = ((uint64_t)h->d * w + 7) / 8;
        if (len - 1 != need) return len - 1 < need ? RUMOR_ETRUNC : RUMOR_EFORMAT;
        if (w == 0) {
            if (h->nnz != 0) return RUMOR_EFORMAT;
            memset(out->q, 0, (size_t)h->d * sizeof *out->q);
            return 0;
        }
        rumor_bitr_t br;
        rumor_bitr_init(&br, b + 1, len - 1);
        uint32_t nz = 0, zz_or = 0;
        for (uint32_t k = 0; k < h->d; k++) {
            const uint32_t zz = (uint32_t)rumor_bitr_get(&br, w);
            const int32_t v = s_unzigzag(zz);
            out->q[k] = v;
            nz += v != 0;
            zz_or |= zz;
        }
        /* w must be the narrowest width, as the encoder writes it */
        if (!rumor_bitr_exact(&br) || nz != h->nnz || rumor_bit_width(zz_or) != w)
            return RUMOR_EFORMAT;
        if (nz <= h->d / RUMOR_CMSG_SPARSE_DIV) rumor_cmsg_list(out);
        return 0;
    }
    case RUMOR_CMSG_SPARSE: {
        const size_t need = 8 * (size_t)h->nnz;
        if (len != need) return len < need ? RUMOR_ETRUNC : RUMOR_EFORMAT;
        for (uint32_t j = 0; j < h->nnz; j++) {
            const uint32_t i = rumor_load32le(b + 4 * (size_t)j);
            if (i >= h->d || (j > 0 && i <= out->idx[j - 1])) return RUMOR_EFORMAT;
            out->idx[j] = i;
        }
        s_get_f32s(out->val, b + 4 * (size_t)h->nnz, h->nnz);
        return 0;
    }
    }
    return RUMOR_EFORMAT;
}

/* ---- Golomb and Elias codes ---------------------------------------------------------- */

/* Golomb code with parameter m: v = q m + rem is written as q zero bits, a one bit, then rem
 * in truncated binary (b = ceil(log2 m) bits, the t = 2^b - m smallest values in b - 1). */
typedef struct {
    uint32_t m;
    unsigned b;
    uint32_t t;
    uint64_t inv; /* floor(2^32 / m): v / m by a multiply */
} s_golomb_t;

/* Smallest p (in units of 2^-32) for which Golomb parameter m is optimal for a geometric
 * source of success probability p, m = 1..64: p_m = 1 - q_m with q_m^m (1 + q_m) = 1
 * (Gallager and van Voorhis). Part of the format: both sides derive m from counts with it. */
static const uint32_t s_golomb_pmin[64] = {
    1640531527, 1052792407, 776648142, 615576687, 509935190, 435278990, 379707951, 336728359,
    302493996,  274581078,  251386080, 231805706, 215055885, 200564075, 187902425, 176744772,
    166838125,  157983228,  150021014, 142822954, 136284069, 130317767, 124851988, 119826279,
    115189544,  110898306,  106915333, 103208558, 99750213,  96516132,  93485185,  90638814,
    87960657,   85436231,   83052667,  80798494,  78663456,  76638349,  74714897,  72885633,
    71143803,   69483285,   67898515,  66384425,  64936391,  63550180,  62221917,  60948043,
    59725283,   58550622,   57421277,  56334674,  55288433,  54280345,  53308360,  52370574,
    51465213,   50590623,   49745262,  48927688,  48136555,  47370599,  46628637,  45909560,
};

/* Parameter for coding the gaps before n marked positions among r (1 <= n <= r), treating
 * each position as marked with probability p = n / r. Integer arithmetic only, so every
 * platform derives the same m. Beyond the table m = round(ln 2 / p), to which the optimum
 * converges (ln 2 ~ 45426 / 2^16). */
static s_golomb_t s_golomb_param(uint32_t n, uint32_t r)
{
    RUMOR_ASSERT(n >= 1 && n <= r);
    const uint64_t p = ((uint64_t)n << 32) / r;
    uint32_t m = 0;
    for (uint32_t i = 0; i < 64; i++)
        if (p >= s_golomb_pmin[i]) {
            m = i + 1;
            break;
        }
    if (!m) {
        const uint64_t x = (UINT64_C(45426) * r) / n;
        m = (uint32_t)((x + 32768) >> 16);
        if (m < 65) m = 65;
    }
    s_golomb_t g = {m, rumor_bit_width(m - 1), 0, (UINT64_C(1) << 32) / m};
    g.t = (uint32_t)((UINT64_C(1) << g.b) - m);
    return g;
}

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
    const s_golomb_t g = s_golomb_param(n, d);
    uint32_t next = 0; /* first position after the previous mark */
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

/* Inverse of s_support_put: fills pos[0..nnz) with ascending positions below d. */
static int s_support_get(rumor_bitr_t *r, uint32_t *pos, uint32_t nnz, uint32_t d)
{
    const int comp = nnz > d - nnz;
    const uint32_t n = comp ? d - nnz : nnz;
    if (!n) {
        for (uint32_t k = 0; k < nnz; k++) pos[k] = k;
        return 0;
    }
    const s_golomb_t g = s_golomb_param(n, d);
    uint32_t z = d - n; /* unmarked positions not yet passed */
    uint32_t next = 0, np = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t gap;
        const int rc = s_golomb_get(r, &g, z, &gap);
        if (rc) return rc;
        z -= gap;
        if (!comp) {
            pos[np++] = next + gap;
        } else {
            for (uint32_t k = 0; k < gap; k++) pos[np++] = next + k;
        }
        next += gap + 1;
    }
    if (comp)
        for (uint32_t k = next; k < d; k++) pos[np++] = k;
    RUMOR_ASSERT(np == nnz);
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
    for (uint32_t i = 0; i < nnz; i++) s_hist_add(h, c->mag[i]);
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
    s_hist_reset(h);
    s_table_order(t);
}

/* VSC body of an INT message whose nonzeros are c->pos / c->mag [0..nnz). Returns the size,
 * or SIZE_MAX when it does not fit in cap. */
static size_t s_vsc_int_encode(rumor_codec_t *c, const rumor_cmsg_t *m, uint32_t nnz, uint8_t *dst,
                               size_t cap)
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
        const s_golomb_t g = s_golomb_param(comp ? r - nj : nj, r);
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

static int s_vsc_int_decode(rumor_codec_t *c, const s_header_t *h, const uint8_t *b, size_t len,
                            rumor_cmsg_t *out)
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
        const s_golomb_t g = s_golomb_param(n, rem);
        uint8_t *mark = (uint8_t *)c->tmp;
        memset(mark, 0, rem);
        uint32_t z = rem - n, i = 0, kept = 0;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t gap;
            if ((rc = s_golomb_get(&r, &g, z, &gap))) return rc;
            z -= gap;
            i += gap;
            mark[i++] = 1;
        }
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

    for (uint32_t i = 0; i < nnz; i += RUMOR_BITIO_MAX_BITS) {
        const uint32_t n = nnz - i < RUMOR_BITIO_MAX_BITS ? nnz - i : RUMOR_BITIO_MAX_BITS;
        const uint64_t bits = rumor_bitr_get(&r, n);
        for (uint32_t k = 0; k < n; k++) {
            const uint32_t a = mags[i + k];
            if ((bits >> k) & 1) {
                out->q[c->pos[i + k]] = (int32_t)(0u - a); /* a <= 2^31: wraps to INT32_MIN */
            } else {
                if (a > INT32_MAX) return RUMOR_EFORMAT;
                out->q[c->pos[i + k]] = (int32_t)a;
            }
        }
    }
    if (out->listed) memcpy(out->idx, c->pos, (size_t)nnz * sizeof *c->pos);
    return rumor_bitr_exact(&r)                          ? 0
           : rumor_bitr_consumed(&r) > 8 * (uint64_t)len ? RUMOR_ETRUNC
                                                         : RUMOR_EFORMAT;
}

/* VSC body of a SPARSE message: the support, padded to a byte, then nnz f32 values. */
static size_t s_vsc_sparse_encode(const rumor_cmsg_t *m, uint8_t *dst, size_t cap)
{
    rumor_bitw_t w;
    rumor_bitw_init(&w, dst, cap);
    s_support_put(&w, m->idx, m->nnz, m->d);
    const size_t bits = rumor_bitw_finish(&w);
    if (w.full || cap - bits < 4 * (size_t)m->nnz) return SIZE_MAX;
    s_put_f32s(dst + bits, m->val, m->nnz);
    return bits + 4 * (size_t)m->nnz;
}

static int s_vsc_sparse_decode(const s_header_t *h, const uint8_t *b, size_t len, rumor_cmsg_t *out)
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

/* ---- ANS: adaptive binary range coding ----------------------------------------------- */

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

static unsigned s_ans_kb(uint32_t nnz, uint32_t d)
{
    return rumor_bit_width(s_golomb_param(nnz, d).m) - 1;
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

/* ANS body. INT: (gap, magnitude, sign) per nonzero; SPARSE: gaps, then nnz raw f32 values.
 * pos[0..nnz) are the positions (c->pos for INT, m->idx for SPARSE). With rival != SIZE_MAX
 * (the size of a VSC body for the same message), gives up after the first sixteenth of the
 * nonzeros (at least 128) unless it is coding them at least as compactly as the rival's
 * average: on i.i.d. data the two are within a fraction of a percent and VSC, several times
 * faster to decode, is kept without paying for a full ANS pass. */
static size_t s_ans_encode(rumor_codec_t *c, const rumor_cmsg_t *m, uint32_t nnz, uint8_t *dst,
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
    const unsigned kb = s_ans_kb(nnz, m->d);
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

static int s_ans_decode(rumor_codec_t *c, const s_header_t *h, const uint8_t *b, size_t len,
                        rumor_cmsg_t *out)
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
    const unsigned kb = s_ans_kb(nnz, d);
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
            if (s_rcd_direct(&rd, 1))
                out->q[k] = (int32_t)(0u - a);
            else if (a > INT32_MAX)
                return RUMOR_EFORMAT;
            else
                out->q[k] = (int32_t)a;
        }
        if (rd.phantom > 3) return RUMOR_ETRUNC;
    }
    (void)c;
    const int rc = s_rcd_finish(&rd);
    if (rc) return rc;
    if (vbytes) s_get_f32s(out->val, b + len - vbytes, nnz);
    return 0;
}

/* ---- SEED ---------------------------------------------------------------------------- */

/* SEED is written for 3 <= nnz < d only: below, RAW is smaller; at d, any seed would do. */
static int s_seed_fits(uint32_t d, uint32_t nnz)
{
    return nnz >= 3 && nnz < d;
}

/* 1 when the positions of seeded SPARSE message m are those its seed gives. */
static int s_seed_matches(rumor_codec_t *c, const rumor_cmsg_t *m)
{
    rumor_rng_sample_positions(m->seed, m->d, m->nnz, c->bits, c->tmp);
    return memcmp(c->tmp, m->idx, (size_t)m->nnz * sizeof *m->idx) == 0;
}

/* SEED body: u64 seed, then nnz f32 values. */
static size_t s_seed_encode(const rumor_cmsg_t *m, uint8_t *dst)
{
    rumor_store64le(dst, m->seed);
    s_put_f32s(dst + 8, m->val, m->nnz);
    return 8 + 4 * (size_t)m->nnz;
}

static int s_seed_decode(rumor_codec_t *c, const s_header_t *h, const uint8_t *b, size_t len,
                         rumor_cmsg_t *out)
{
    if (!s_seed_fits(h->d, h->nnz)) return RUMOR_EFORMAT;
    const size_t want = 8 + 4 * (size_t)h->nnz;
    if (len != want) return len < want ? RUMOR_ETRUNC : RUMOR_EFORMAT;
    out->seed = rumor_load64le(b);
    rumor_rng_sample_positions(out->seed, h->d, h->nnz, c->bits, out->idx);
    s_get_f32s(out->val, b + 8, h->nnz);
    out->seeded = 1;
    return 0;
}

/* ---- mode selection ------------------------------------------------------------------ */

/* Collects the nonzeros of an INT message into c->pos / c->mag; returns their count and the
 * OR of the zigzagged levels (whose width is the RAW width). A listed message is read through
 * its list, which must be ascending below d with nonzero levels (else the count returned is
 * UINT32_MAX, which no nnz matches). */
static uint32_t s_scan_int(rumor_codec_t *c, const rumor_cmsg_t *m, uint32_t *zz_or)
{
    const int32_t *restrict q = m->q;
    uint32_t *restrict pos = c->pos, *restrict mag = c->mag;
    const uint32_t d = m->d;
    uint32_t n = 0, acc = 0;
    if (m->listed) {
        const uint32_t *idx = m->idx;
        if (m->nnz > d) return UINT32_MAX;
        for (uint32_t i = 0; i < m->nnz; i++) {
            const uint32_t k = idx[i];
            if (k >= d || (i > 0 && k <= idx[i - 1]) || q[k] == 0) return UINT32_MAX;
            pos[i] = k;
        }
        n = m->nnz;
    } else {
        n = rumor_cmsg_support(m, pos);
    }
    for (uint32_t i = 0; i < n; i++) {
        const int32_t v = q[pos[i]];
        acc |= s_zigzag(v);
        mag[i] = s_abs(v);
    }
    *zz_or = acc;
    return n;
}

static int s_sparse_valid(const rumor_cmsg_t *m)
{
    if (m->nnz > m->d) return 0;
    for (uint32_t j = 0; j < m->nnz; j++)
        if (m->idx[j] >= m->d || (j > 0 && m->idx[j] <= m->idx[j - 1])) return 0;
    return 1;
}

int rumor_codec_encode(rumor_codec_t *c, const rumor_cmsg_t *m, rumor_codec_mode_t mode,
                       uint8_t *dst, size_t cap, size_t *written)
{
    if (!c || !m || !written || (!dst && cap)) return RUMOR_EINVAL;
    *written = 0;
    if (m->kind > RUMOR_CMSG_SPARSE || m->d > c->d_max || m->d > m->cap_d) return RUMOR_EINVAL;
    if (mode != RUMOR_CODEC_AUTO && !s_mode_applies(mode, m->kind)) return RUMOR_EINVAL;
    uint32_t nnz = m->d, zz = 0;
    if (m->kind == RUMOR_CMSG_INT) {
        nnz = s_scan_int(c, m, &zz);
        if (nnz != m->nnz) return RUMOR_EINVAL;
    } else if (m->kind == RUMOR_CMSG_SPARSE) {
        if (!s_sparse_valid(m)) return RUMOR_EINVAL;
        nnz = m->nnz;
    }
    /* The positions are checked (O(d)) only where SEED could be written. */
    const int seeded =
        m->kind == RUMOR_CMSG_SPARSE && m->seeded &&
        (mode == RUMOR_CODEC_SEED || (mode == RUMOR_CODEC_AUTO && s_seed_fits(m->d, nnz))) &&
        s_seed_matches(c, m);
    if (mode == RUMOR_CODEC_SEED && !seeded) return RUMOR_EINVAL;
    const size_t hsize = rumor_codec_header_size(m->d, nnz);
    if (cap < hsize) return RUMOR_ENOSPC;
    uint8_t *body = dst + hsize;
    const size_t room = cap - hsize;
    const unsigned w = rumor_bit_width(zz);
    const size_t raw = s_raw_body_bytes(m, w);

    /* Candidates must beat RAW (AUTO) or at least match it (an explicit mode), and fit. AUTO
     * takes ANS over VSC only when it saves more than 1/256 of the size: VSC decodes several
     * times faster. */
    rumor_codec_mode_t chosen = RUMOR_CODEC_RAW;
    size_t size = raw;
    if (mode != RUMOR_CODEC_RAW && mode != RUMOR_CODEC_SEED && m->kind != RUMOR_CMSG_DENSE) {
        const size_t limit = mode == RUMOR_CODEC_AUTO ? (raw ? raw - 1 : 0) : raw;
        const size_t lim = limit < room ? limit : room;
        size_t vsc = SIZE_MAX;
        if (mode == RUMOR_CODEC_AUTO || mode == RUMOR_CODEC_VSC) {
            vsc = m->kind == RUMOR_CMSG_INT ? s_vsc_int_encode(c, m, nnz, body, lim)
                                            : s_vsc_sparse_encode(m, body, lim);
            if (vsc != SIZE_MAX) {
                chosen = RUMOR_CODEC_VSC;
                size = vsc;
            }
        }
        if (mode == RUMOR_CODEC_ANS) {
            const size_t s = s_ans_encode(c, m, nnz, body, lim, SIZE_MAX);
            if (s != SIZE_MAX) {
                chosen = RUMOR_CODEC_ANS;
                size = s;
            }
        } else if (mode == RUMOR_CODEC_AUTO && vsc != 0) {
            const size_t lim2 = vsc == SIZE_MAX ? lim : vsc - vsc / 256 - 1;
            const size_t s = s_ans_encode(c, m, nnz, c->alt, lim2, vsc);
            if (s != SIZE_MAX) {
                memcpy(body, c->alt, s);
                chosen = RUMOR_CODEC_ANS;
                size = s;
            }
        }
    }
    /* SEED sends no positions: smaller than VSC unless they cost under 64 bits */
    if (seeded && s_seed_fits(m->d, nnz) && 8 + 4 * (size_t)nnz < size &&
        8 + 4 * (size_t)nnz <= room) {
        chosen = RUMOR_CODEC_SEED;
        size = s_seed_encode(m, body);
    }
    if (chosen == RUMOR_CODEC_RAW) {
        size = s_raw_encode(m, w, body, room);
        if (size == SIZE_MAX) return RUMOR_ENOSPC;
    }
    *written = s_header_write(dst, chosen, m, nnz) + size;
    return 0;
}

int rumor_codec_decode(rumor_codec_t *c, const uint8_t *src, size_t len, uint32_t d_max,
                       rumor_cmsg_t *out)
{
    if (!c || !out) return RUMOR_EINVAL;
    s_header_t h;
    int rc = s_header_read(src, len, &h);
    if (rc) return rc;
    if (h.d > d_max || h.d > c->d_max || h.d > out->cap_d) return RUMOR_ERANGE;
    /* VSC and ANS write the nonzero levels only, and list them when the message is sparse */
    const int coded_int = h.kind == RUMOR_CMSG_INT && h.mode != RUMOR_CODEC_RAW;
    if (coded_int) rumor_cmsg_int_clear(out, h.d);
    out->kind = h.kind;
    out->d = h.d;
    out->nnz = h.nnz;
    out->scale = h.scale;
    out->listed = coded_int && h.nnz <= h.d / RUMOR_CMSG_SPARSE_DIV;
    out->seeded = 0; /* SEED sets it */
    const uint8_t *b = src + h.size;
    const size_t blen = len - h.size;
    switch (h.mode) {
    case RUMOR_CODEC_RAW:
        rc = s_raw_decode(&h, b, blen, out);
        break;
    case RUMOR_CODEC_VSC:
        rc = h.kind == RUMOR_CMSG_INT ? s_vsc_int_decode(c, &h, b, blen, out)
                                      : s_vsc_sparse_decode(&h, b, blen, out);
        break;
    case RUMOR_CODEC_ANS:
        rc = s_ans_decode(c, &h, b, blen, out);
        break;
    case RUMOR_CODEC_SEED:
        rc = s_seed_decode(c, &h, b, blen, out);
        break;
    default:
        rc = RUMOR_EFORMAT;
        break;
    }
    if (!rc) rc = rumor_cmsg_check(out);
    if (rc) out->listed = 0;
    return rc;
}

int rumor_codec_record_write(FILE *f, const uint8_t *msg, size_t len)
{
    if (!f || (!msg && len) || len > UINT32_MAX) return RUMOR_EINVAL;
    uint8_t prefix[4];
    rumor_store32le(prefix, (uint32_t)len);
    if (fwrite(prefix, 1, 4, f) != 4 || fwrite(msg, 1, len, f) != len) return RUMOR_EIO;
    return 0;
}

/* ---- entropy bound ------------------------------------------------------------------- */

/* ln n!, exact summation below 32 and Stirling's series above (error < 1e-12). Avoids lgamma,
 * which writes the global signgam. */
static double s_lnfact(double n)
{
    if (n < 32) {
        double s = 0;
        for (double k = 2; k <= n; k++) s += log(k);
        return s;
    }
    const double inv = 1.0 / n, inv2 = inv * inv;
    return n * log(n) - n + 0.5 * log(2 * M_PI * n) +
           inv * (1.0 / 12 - inv2 * (1.0 / 360 - inv2 * (1.0 / 1260)));
}

static double s_log2_binom(uint32_t d, uint32_t k)
{
    return (s_lnfact(d) - s_lnfact(k) - s_lnfact((double)d - k)) / M_LN2;
}

/* nnz * H(magnitudes | nonzero) in bits. */
static double s_mag_entropy_bits(const rumor_cmsg_t *m)
{
    s_hist_t t;
    memset(t.direct, 0, sizeof t.direct);
    memset(t.cnt, 0, sizeof t.cnt);
    t.nnz = t.used = t.top = t.lost = 0;
    const int32_t *q = m->q;
    if (m->listed) {
        for (uint32_t j = 0; j < m->nnz; j++) s_hist_add(&t, s_abs(q[m->idx[j]]));
    } else {
        for (uint32_t k = 0; k < m->d; k++)
            if (q[k]) s_hist_add(&t, s_abs(q[k]));
    }
    double sum = 0; /* sum over symbols of c log2 c */
    for (uint32_t a = 1; a <= t.top; a++)
        if (t.direct[a] > 1) sum += t.direct[a] * log2(t.direct[a]);
    for (uint32_t i = 0; i < t.used; i++)
        if (t.cnt[t.slot[i]] > 1) sum += t.cnt[t.slot[i]] * log2(t.cnt[t.slot[i]]);
    const uint32_t nnz = t.nnz;
    return nnz ? nnz * log2(nnz) - sum : 0.0;
}

double rumor_codec_entropy_bound_bits(const rumor_cmsg_t *m)
{
    switch (m->kind) {
    case RUMOR_CMSG_DENSE:
        return 32.0 * m->d;
    case RUMOR_CMSG_SPARSE:
        return s_log2_binom(m->d, m->nnz) + 32.0 * m->nnz + 32;
    case RUMOR_CMSG_INT:
        return s_log2_binom(m->d, m->nnz) + s_mag_entropy_bits(m) + m->nnz + 32;
    }
    return 0;
}
