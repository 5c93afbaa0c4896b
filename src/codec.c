/* rumor — the codec: the message header, the context, RAW and SEED, mode selection and the
 * encode/decode entry points. The coders live beside it (codec_internal.h lists the files);
 * the format is specified in codec.h and docs/codec.md, and tests/test_codec_ref.c holds plain
 * bit-by-bit reference encoders that must produce the same bytes as the code here.
 *
 * Invariants: encode and decode never allocate (the context's scratch covers d_max); the
 * decoder validates every field before it indexes with it, reads its input only through
 * bounds-checked readers (rumor_bitr_*, the range decoder's s_rcd_*) that return zeros past
 * the end and count them, and writes out->q / out->idx / out->val only below the d it has
 * checked against out->cap_d.
 */
#include "codec_internal.h"
#include "rumor/rng.h"

#include <stdlib.h>
#include <string.h>

/* ---- header -------------------------------------------------------------------------- */

enum {
    S_MAGIC0 = 'R',
    S_MAGIC1 = 'c',
    S_OFF_VERSION = 2,
    S_OFF_MODE = 3,
    S_OFF_D = 4,              /* then d and nnz as LEB128, then the scale */
    S_VERSION_PLAIN = 2,      /* every message without buckets, byte for byte as in version 2 */
    S_KIND_BUCKETS = 3,       /* the kind on the wire of an INT message with buckets (version 3) */
    S_LEB_MAX = (32 + 6) / 7, /* bytes of the longest LEB128 u32 */
};

/* The longest header s_header_write writes (d and nnz of 2^32 - 1, then the f32 scale; a bucket
 * table counts as body) fits the bound callers size their buffers by. */
_Static_assert(S_OFF_D + 2 * S_LEB_MAX + 4 <= RUMOR_CODEC_HEADER_MAX,
               "RUMOR_CODEC_HEADER_MAX below the longest header");

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
    for (unsigned i = 0; i < S_LEB_MAX; i++) {
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

/* ---- buckets ------------------------------------------------------------------------- */

/* An INT message with buckets (nb >= 2) is written with version 3 and kind S_KIND_BUCKETS;
 * the header's scale is the first bucket's step, and the body starts with the bucket table:
 * LEB128 B, B >= 1 for buckets of B coordinates (the last one shorter, B < d); B = 0 for a
 * list, LEB128 nb (2 <= nb <= d) then nb LEB128 lengths (each >= 1, summing to d, and not a
 * list that B could say); then the steps of buckets 1 .. nb - 1 as float32. */

static int s_buckets_valid(const rumor_cmsg_t *m)
{
    if (m->nb < 2 || m->nb > m->d || m->bend[m->nb - 1] != m->d || !m->bend[0]) return 0;
    for (uint32_t j = 1; j < m->nb; j++)
        if (m->bend[j] <= m->bend[j - 1]) return 0;
    return 1;
}

/* The common length of m's (valid) buckets when every one but the last has it, else 0. */
static uint32_t s_bucket_len(const rumor_cmsg_t *m)
{
    const uint64_t b = m->bend[0];
    for (uint32_t j = 0; j < m->nb; j++) {
        const uint64_t e = (j + 1) * b;
        if (m->bend[j] != (e < m->d ? e : m->d)) return 0;
    }
    return (uint32_t)b;
}

/* LEB128 v at dst + n (dst NULL: only counted); returns the new n. */
static size_t s_leb_emit(uint8_t *dst, size_t n, uint32_t v)
{
    return n + (dst ? s_leb_put(dst + n, v) : s_leb_size(v));
}

/* Writes the bucket table of m (b: s_bucket_len) to dst, or with dst NULL only sizes it;
 * returns its size. */
static size_t s_buckets_write(uint8_t *dst, const rumor_cmsg_t *m, uint32_t b)
{
    size_t n = s_leb_emit(dst, 0, b);
    if (!b) {
        n = s_leb_emit(dst, n, m->nb);
        for (uint32_t j = 0; j < m->nb; j++)
            n = s_leb_emit(dst, n, m->bend[j] - (j ? m->bend[j - 1] : 0));
    }
    for (uint32_t j = 1; j < m->nb; j++, n += 4)
        if (dst) rumor_store32le(dst + n, s_f32_bits(m->scales[j]));
    return n;
}

/* Reads the bucket table at src[0..len) of a message of length d whose first step is scale
 * into out (nb, bend, scales); *size gets its length. Work and writes are O(nb), nb <= d. */
static int s_buckets_read(const uint8_t *src, size_t len, uint32_t d, float scale,
                          rumor_cmsg_t *out, size_t *size)
{
    size_t at = 0;
    uint32_t b, nb;
    int rc = s_leb_get(src, len, &at, &b);
    if (rc) return rc;
    if (b) {
        if (b >= d) return RUMOR_EFORMAT; /* one bucket is no bucket */
        nb = (uint32_t)(((uint64_t)d + b - 1) / b);
        for (uint32_t j = 0; j < nb; j++) {
            const uint64_t e = (uint64_t)(j + 1) * b;
            out->bend[j] = e < d ? (uint32_t)e : d;
        }
    } else {
        if ((rc = s_leb_get(src, len, &at, &nb))) return rc;
        if (nb < 2 || nb > d) return RUMOR_EFORMAT;
        uint32_t e = 0;
        for (uint32_t j = 0; j < nb; j++) {
            uint32_t n;
            if ((rc = s_leb_get(src, len, &at, &n))) return rc;
            if (!n || n > d - e) return RUMOR_EFORMAT;
            e += n;
            out->bend[j] = e;
        }
        out->nb = nb;
        if (e != d || s_bucket_len(out)) return RUMOR_EFORMAT; /* B says it in one field */
    }
    if ((len - at) / 4 < nb - 1) return RUMOR_ETRUNC;
    out->scales[0] = scale;
    for (uint32_t j = 1; j < nb; j++, at += 4)
        out->scales[j] = s_bits_f32(rumor_load32le(src + at));
    out->nb = nb;
    *size = at;
    return 0;
}

/* ---- header (continued) -------------------------------------------------------------- */

/* Writes the header of a message of m's kind and length with nnz nonzeros, and the bucket
 * table of a message with buckets (b: s_bucket_len); returns their size. */
static size_t s_header_write(uint8_t *dst, rumor_codec_mode_t mode, const rumor_cmsg_t *m,
                             uint32_t nnz, uint32_t b)
{
    const int buckets = m->kind == RUMOR_CMSG_INT && m->nb;
    const unsigned kind = buckets ? S_KIND_BUCKETS : (unsigned)m->kind;
    dst[0] = S_MAGIC0;
    dst[1] = S_MAGIC1;
    dst[S_OFF_VERSION] = buckets ? RUMOR_CODEC_VERSION : S_VERSION_PLAIN;
    dst[S_OFF_MODE] = (uint8_t)((unsigned)mode | kind << 4);
    size_t n = S_OFF_D;
    n += s_leb_put(dst + n, m->d);
    n += s_leb_put(dst + n, nnz);
    rumor_store32le(dst + n, s_f32_bits(buckets ? m->scales[0] : m->scale));
    n += 4;
    return buckets ? n + s_buckets_write(dst + n, m, b) : n;
}

static int s_mode_applies(rumor_codec_mode_t mode, rumor_cmsg_kind_t kind)
{
    switch (mode) {
    case RUMOR_CODEC_RAW:
        return kind <= RUMOR_CMSG_SPARSE;
    case RUMOR_CODEC_VSC:
    case RUMOR_CODEC_ARITH:
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
    const unsigned version = src[S_OFF_VERSION];
    if (version != S_VERSION_PLAIN && version != RUMOR_CODEC_VERSION) return RUMOR_EVERSION;
    const unsigned mode = src[S_OFF_MODE] & 15u, wire_kind = src[S_OFF_MODE] >> 4;
    /* version 3 is the version of buckets, and of nothing else */
    h->buckets = wire_kind == S_KIND_BUCKETS;
    if (h->buckets != (version == RUMOR_CODEC_VERSION)) return RUMOR_EFORMAT;
    const unsigned kind = h->buckets ? RUMOR_CMSG_INT : wire_kind;
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
    *info = (rumor_codec_info_t){h.mode, h.kind, h.d, h.nnz, h.size, h.buckets};
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
    /* "ans" is the arithmetic coder's old name, still read in scenarios and options */
    static const struct {
        const char *name;
        rumor_codec_mode_t mode;
    } names[] = {{"auto", RUMOR_CODEC_AUTO},
                 {"raw", RUMOR_CODEC_RAW},
                 {"vsc", RUMOR_CODEC_VSC},
                 {"arith", RUMOR_CODEC_ARITH},
                 {"ans", RUMOR_CODEC_ARITH}};
    for (size_t i = 0; s && i < sizeof names / sizeof *names; i++)
        if (strcmp(s, names[i].name) == 0) {
            *mode = names[i].mode;
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
    case RUMOR_CODEC_ARITH:
        return "arith";
    case RUMOR_CODEC_SEED:
        return "seed";
    }
    return "?";
}

/* ---- context ------------------------------------------------------------------------- */

/* The largest message is RAW: SPARSE with every position (8 d), or INT with buckets listed one
 * or two coordinates each (a table of at most 2 + 5 nb + d / 128 bytes, nb <= d, and 1 + 4 d
 * of levels): under 10 d + 8 beyond the header either way. */
size_t rumor_codec_bound(uint32_t d)
{
    return RUMOR_CODEC_HEADER_MAX + 10 * (size_t)d + 8;
}

int rumor_codec_create(uint32_t d_max, rumor_codec_t **out)
{
    *out = NULL;
    if (d_max == 0) return RUMOR_EINVAL;
    rumor_codec_t *c = calloc(1, sizeof *c);
    if (!c) return RUMOR_ENOMEM;
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
    if (!c->pos || !c->mag || !c->left || !c->tmp || !c->bits || !c->hist || !c->alt) {
        rumor_codec_destroy(&c);
        return RUMOR_ENOMEM;
    }
    *out = c;
    return 0;
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
    uint32_t blen = 0; /* with buckets: their common length, or 0 for a list */
    size_t table = 0;
    if (m->kind == RUMOR_CMSG_INT && m->nb) {
        if (!s_buckets_valid(m)) return RUMOR_EINVAL;
        blen = s_bucket_len(m);
        table = s_buckets_write(NULL, m, blen);
    }
    const size_t hsize = rumor_codec_header_size(m->d, nnz) + table;
    if (cap < hsize) return RUMOR_ENOSPC;
    uint8_t *body = dst + hsize;
    const size_t room = cap - hsize;
    const unsigned w = rumor_bit_width(zz);
    const size_t raw = s_raw_body_bytes(m, w);

    /* Candidates must beat RAW (AUTO) or at least match it (an explicit mode), and fit. AUTO
     * takes ARITH over VSC only when it saves more than 1/256 of the size: VSC decodes several
     * times faster. */
    rumor_codec_mode_t chosen = RUMOR_CODEC_RAW;
    size_t size = raw;
    if (mode != RUMOR_CODEC_RAW && mode != RUMOR_CODEC_SEED && m->kind != RUMOR_CMSG_DENSE) {
        const size_t limit = mode == RUMOR_CODEC_AUTO ? (raw ? raw - 1 : 0) : raw;
        const size_t lim = limit < room ? limit : room;
        size_t vsc = SIZE_MAX;
        if (mode == RUMOR_CODEC_AUTO || mode == RUMOR_CODEC_VSC) {
            vsc = m->kind == RUMOR_CMSG_INT ? rumor_codec_vsc_int_encode(c, m, nnz, body, lim)
                                            : rumor_codec_vsc_sparse_encode(m, body, lim);
            if (vsc != SIZE_MAX) {
                chosen = RUMOR_CODEC_VSC;
                size = vsc;
            }
        }
        if (mode == RUMOR_CODEC_ARITH) {
            const size_t s = rumor_codec_arith_encode(c, m, nnz, body, lim, SIZE_MAX);
            if (s != SIZE_MAX) {
                chosen = RUMOR_CODEC_ARITH;
                size = s;
            }
        } else if (mode == RUMOR_CODEC_AUTO && vsc != 0) {
            const size_t lim2 = vsc == SIZE_MAX ? lim : vsc - vsc / 256 - 1;
            const size_t s = rumor_codec_arith_encode(c, m, nnz, c->alt, lim2, vsc);
            if (s != SIZE_MAX) {
                memcpy(body, c->alt, s);
                chosen = RUMOR_CODEC_ARITH;
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
    *written = s_header_write(dst, chosen, m, nnz, blen) + size;
    return 0;
}

/* rumor_codec_decode, the message packed (cmsg.h) when `packed` and it is listed; with y
 * (packed), a VSC INT message of length d_max without buckets and with a finite scale is added
 * into y instead (rumor_codec_decode_add): 1. */
static int s_decode(rumor_codec_t *c, const uint8_t *src, size_t len, uint32_t d_max,
                    rumor_cmsg_t *out, int packed, float *y)
{
    if (!c || !out) return RUMOR_EINVAL;
    s_header_t h;
    int rc = s_header_read(src, len, &h);
    if (rc) return rc;
    if (h.d > d_max || h.d > c->d_max || h.d > out->cap_d) return RUMOR_ERANGE;
    /* VSC and ARITH write the nonzero levels only, and list them when the message is sparse */
    const int coded_int = h.kind == RUMOR_CMSG_INT && h.mode != RUMOR_CODEC_RAW;
    if (coded_int) rumor_cmsg_int_clear(out, h.d);
    out->kind = h.kind;
    out->d = h.d;
    out->nnz = h.nnz;
    out->scale = h.scale;
    /* packed, a list whatever the density: the levels are read in order, never scattered */
    out->listed = coded_int && (packed || h.nnz <= h.d / RUMOR_CMSG_SPARSE_DIV);
    out->packed = packed && out->listed;
    out->seeded = 0; /* SEED sets it */
    out->nb = 0;     /* the bucket table sets it */
    size_t table = 0;
    if (h.buckets && (rc = s_buckets_read(src + h.size, len - h.size, h.d, h.scale, out, &table)))
        return rc;
    const uint8_t *b = src + h.size + table;
    const size_t blen = len - h.size - table;
    if (y && h.kind == RUMOR_CMSG_INT && h.mode == RUMOR_CODEC_VSC && !h.buckets && h.d == d_max &&
        !s_f32_nonfinite(h.scale)) {
        out->nnz = 0; /* none of its levels are written: out is the empty message */
        rc = rumor_codec_vsc_int_decode(c, &h, b, blen, out, y);
        if (rc) out->listed = out->packed = 0;
        return rc ? rc : 1;
    }
    switch (h.mode) {
    case RUMOR_CODEC_RAW:
        rc = s_raw_decode(&h, b, blen, out);
        break;
    case RUMOR_CODEC_VSC:
        rc = h.kind == RUMOR_CMSG_INT ? rumor_codec_vsc_int_decode(c, &h, b, blen, out, NULL)
                                      : rumor_codec_vsc_sparse_decode(&h, b, blen, out);
        break;
    case RUMOR_CODEC_ARITH:
        rc = rumor_codec_arith_decode(&h, b, blen, out);
        break;
    case RUMOR_CODEC_SEED:
        rc = s_seed_decode(c, &h, b, blen, out);
        break;
    default:
        rc = RUMOR_EFORMAT;
        break;
    }
    if (!rc) rc = rumor_cmsg_check(out);
    if (rc) out->listed = out->packed = 0;
    if (rc) out->nb = 0;
    return rc;
}

int rumor_codec_decode(rumor_codec_t *c, const uint8_t *src, size_t len, uint32_t d_max,
                       rumor_cmsg_t *out)
{
    return s_decode(c, src, len, d_max, out, 0, NULL);
}

int rumor_codec_decode_packed(rumor_codec_t *c, const uint8_t *src, size_t len, uint32_t d_max,
                              rumor_cmsg_t *out)
{
    return s_decode(c, src, len, d_max, out, 1, NULL);
}

int rumor_codec_decode_add(rumor_codec_t *c, const uint8_t *src, size_t len, uint32_t d,
                           rumor_cmsg_t *out, float *y)
{
    return s_decode(c, src, len, d, out, 1, y);
}

int rumor_codec_record_write(FILE *f, const uint8_t *msg, size_t len)
{
    if (!f || (!msg && len) || len > UINT32_MAX) return RUMOR_EINVAL;
    uint8_t prefix[4];
    rumor_store32le(prefix, (uint32_t)len);
    if (fwrite(prefix, 1, 4, f) != 4 || fwrite(msg, 1, len, f) != len) return RUMOR_EIO;
    return 0;
}
