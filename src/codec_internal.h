/* rumor — the codec's private header, shared by src/codec*.c and included by nothing else.
 *
 * The codec is one module in five files, one concern each (the layout of zstd's entropy
 * stages over zstd_internal.h): codec.c (header, context, RAW, SEED, mode selection, the
 * encode/decode entry points), codec_vsc.c (Golomb/Elias codes and VSC), codec_arith.c (the
 * adaptive binary range coder), codec_bound.c (the entropy bound) and codec_bits.c (what the
 * coders share below them: codec_bits.h). Calls run one way: codec.c calls the coders, and
 * the coders call codec_bits.c. What codec.c and the coders share is here: the parsed header,
 * the context and its scratch, and the coders' entry points.
 *
 * Every coder writes a body into dst[0..cap) and returns its size, or SIZE_MAX when it does
 * not fit; every decoder reads exactly a body of len bytes and returns 0 or a negative
 * RUMOR_E* code, writing the output only below the d the caller has checked.
 */
#ifndef RUMOR_CODEC_INTERNAL_H
#define RUMOR_CODEC_INTERNAL_H

#include "codec_bits.h"
#include "rumor/codec.h"

/* A parsed message header. */
typedef struct {
    rumor_codec_mode_t mode;
    rumor_cmsg_kind_t kind;
    uint32_t d, nnz;
    float scale;
    size_t size; /* of the header (a bucket table follows it) */
    int buckets; /* an INT message with buckets: version 3, a bucket table before the body */
} s_header_t;

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

/* ---- the coders ---------------------------------------------------------------------- */

/* VSC body of an INT message whose nonzeros are c->pos / c->mag [0..nnz). */
size_t rumor_codec_vsc_int_encode(rumor_codec_t *c, const rumor_cmsg_t *m, uint32_t nnz,
                                  uint8_t *dst, size_t cap);
/* With y, the message is not written to out but added into y (y[k] += scale * level k at each
 * nonzero; h has no buckets and a finite scale, out is packed): RUMOR_ENONFINITE when a sum is
 * not finite, and after any failure y is as it was. */
int rumor_codec_vsc_int_decode(rumor_codec_t *c, const s_header_t *h, const uint8_t *b, size_t len,
                               rumor_cmsg_t *out, float *y);

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
