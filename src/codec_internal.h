/* rumor — the codec's private header, shared by src/codec*.c and included by nothing else.
 *
 * The codec is one module in four files, one concern each (the layout of zstd's entropy
 * stages over zstd_internal.h): codec.c (header, context, RAW, SEED, mode selection, the
 * encode/decode entry points), codec_vsc.c (Golomb/Elias codes and VSC), codec_arith.c (the
 * adaptive binary range coder) and codec_bound.c (magnitude histograms and the entropy
 * bound). What they share is here: the parsed header, the context and its scratch, the
 * float32 bit helpers, the Golomb parameter (VSC's, and the arithmetic coder's gap split) and
 * the magnitude histogram (VSC's table, the bound).
 *
 * Every coder writes a body into dst[0..cap) and returns its size, or SIZE_MAX when it does
 * not fit; every decoder reads exactly a body of len bytes and returns 0 or a negative
 * RUMOR_E* code, writing the output only below the d the caller has checked.
 */
#ifndef RUMOR_CODEC_INTERNAL_H
#define RUMOR_CODEC_INTERNAL_H

#include "rumor/bitio.h"
#include "rumor/codec.h"

#include <string.h>

_Static_assert(sizeof(float) == 4, "float32 scale and values");

/* A parsed message header. */
typedef struct {
    rumor_codec_mode_t mode;
    rumor_cmsg_kind_t kind;
    uint32_t d, nnz;
    float scale;
    size_t size; /* of the header (a bucket table follows it) */
    int buckets; /* an INT message with buckets: version 3, a bucket table before the body */
} s_header_t;

static inline uint32_t s_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float s_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* n float32 values, little-endian. */
static inline void s_put_f32s(uint8_t *dst, const float *v, uint32_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(dst, v, (size_t)n * 4);
#else
    for (uint32_t i = 0; i < n; i++) rumor_store32le(dst + 4 * (size_t)i, s_f32_bits(v[i]));
#endif
}

static inline void s_get_f32s(float *v, const uint8_t *src, uint32_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(v, src, (size_t)n * 4);
#else
    for (uint32_t i = 0; i < n; i++) v[i] = s_bits_f32(rumor_load32le(src + 4 * (size_t)i));
#endif
}

/* Magnitude of a level as an unsigned value (|INT32_MIN| = 2^31 fits). */
static inline uint32_t s_abs(int32_t v)
{
    return v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
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

/* Makes t all zero again, in time proportional to what it holds. */
void rumor_codec_hist_reset(s_hist_t *t);

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

/* ---- Golomb parameter ---------------------------------------------------------------- */

/* Golomb code with parameter m: v = q m + rem is written as q zero bits, a one bit, then rem
 * in truncated binary (b = ceil(log2 m) bits, the t = 2^b - m smallest values in b - 1). */
typedef struct {
    uint32_t m;
    unsigned b;
    uint32_t t;
    uint64_t inv; /* floor(2^32 / m): v / m by a multiply */
} s_golomb_t;

/* Parameter for coding the gaps before n marked positions among r (1 <= n <= r), treating
 * each position as marked with probability p = n / r (codec_vsc.c). */
s_golomb_t rumor_codec_golomb_param(uint32_t n, uint32_t r);

/* ---- the coders ---------------------------------------------------------------------- */

/* VSC body of an INT message whose nonzeros are c->pos / c->mag [0..nnz). */
size_t rumor_codec_vsc_int_encode(rumor_codec_t *c, const rumor_cmsg_t *m, uint32_t nnz,
                                  uint8_t *dst, size_t cap);
int rumor_codec_vsc_int_decode(rumor_codec_t *c, const s_header_t *h, const uint8_t *b, size_t len,
                               rumor_cmsg_t *out);

/* VSC body of a SPARSE message: the support, padded to a byte, then nnz f32 values. */
size_t rumor_codec_vsc_sparse_encode(const rumor_cmsg_t *m, uint8_t *dst, size_t cap);
int rumor_codec_vsc_sparse_decode(const s_header_t *h, const uint8_t *b, size_t len,
                                  rumor_cmsg_t *out);

/* ARITH body (INT: gap, magnitude and sign per nonzero, c->pos / c->mag; SPARSE: gaps of
 * m->idx, then nnz f32 values). With rival != SIZE_MAX (a VSC body's size) it gives up early
 * unless it is on course to beat it (codec_arith.c). */
size_t rumor_codec_arith_encode(rumor_codec_t *c, const rumor_cmsg_t *m, uint32_t nnz, uint8_t *dst,
                                size_t cap, size_t rival);
int rumor_codec_arith_decode(const s_header_t *h, const uint8_t *b, size_t len, rumor_cmsg_t *out);

#endif
