/* rumor — a compressed vector: what a compressor produces and a codec serialises.
 *
 * Three shapes cover every compressor:
 *   INT     value_k = scale * q[k]          dithered quantizers, scaled sign (q mostly 0);
 *           with nb >= 2 buckets, value_k = scales[j] * q[k] for k in bucket j (one norm per
 *           block of coordinates or per model tensor)
 *   SPARSE  value_{idx[j]} = val[j]         top-k, rand-k, random block (idx strictly ascending)
 *   DENSE   value_k = val[k]                identity
 * A cmsg owns buffers of capacity d for every shape, allocated once by rumor_cmsg_init, so a
 * round reuses one cmsg without allocating. The bottom layer: compress and codec both use
 * it and neither depends on the other.
 */
#ifndef RUMOR_CMSG_H
#define RUMOR_CMSG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum {
    RUMOR_CMSG_DENSE = 0,
    RUMOR_CMSG_INT = 1,
    RUMOR_CMSG_SPARSE = 2,
} rumor_cmsg_kind_t;

typedef struct {
    rumor_cmsg_kind_t kind;
    uint32_t d;     /* vector length */
    float scale;    /* INT: value of one quantization step */
    uint32_t nnz;   /* INT: nonzeros of q; SPARSE: entries in idx/val; DENSE: d */
    int32_t *q;     /* INT: (d) signed levels */
    uint32_t *idx;  /* SPARSE: (nnz) strictly ascending positions < d; INT: see listed */
    float *val;     /* SPARSE: (nnz) values; DENSE: (d) values */
    uint32_t cap_d; /* capacity the buffers were allocated for */
    int listed;     /* INT: 1 when idx[0..nnz) also lists the positions of the nonzero levels,
                       ascending (all other levels below d are 0), so that readers skip the
                       zeros and writers that reuse the buffers clear only those; compressors
                       and the decoder set it, and code that writes q itself must set it to 0
                       (or call rumor_cmsg_list) */
    int packed;     /* INT, listed: 1 when q[0..nnz) holds the levels of idx[0..nnz) in their
                       order (q[j] the level at idx[j]; q[nnz..d) all 0) instead of q[idx[j]],
                       whatever the density:
                       a decoded message a receiver only applies, never written out as a
                       vector of d levels (rumor_codec_decode_packed). rumor_cmsg_axpy,
                       _axpy_finite, _to_dense, _check and _int_clear read it; nothing else
                       is given a packed message */
    int seeded;     /* SPARSE: 1 when idx[0..nnz) are rumor_rng_sample_positions(seed, d, nnz)
                       (rand-k), so that the codec can send the seed instead of the positions;
                       the compressors and the decoder set it, 0 for every other message */
    uint64_t seed;
    uint32_t nb;    /* INT: 0 (one scale for the whole vector) or the number of buckets, >= 2 */
    uint32_t *bend; /* (nb) INT with buckets: the end of each bucket, strictly ascending, the
                       last = d; bucket j is [bend[j-1], bend[j]) (bucket 0 from 0) */
    float *scales;  /* (nb) INT with buckets: the step of each bucket; scale = scales[0] */
} rumor_cmsg_t;

/* An INT message with at most d / RUMOR_CMSG_SPARSE_DIV nonzero levels is sparse: the decoder
 * lists those, and clearing or checking a listed message goes through its list only then
 * (above it, one sequential pass over q is cheaper than scattered accesses). */
#define RUMOR_CMSG_SPARSE_DIV 32

/* 16 levels side by side (GCC/clang vector extension), for the scans that list nonzero
 * levels. */
typedef int32_t rumor_cmsg_lanes_t __attribute__((vector_size(64)));

/* Bit j set when lane j of l is nonzero: a vector compare, a narrowing to bytes and two
 * multiplies that gather 8 byte flags each (the plain-loop form is not vectorised this
 * well). */
static inline uint64_t rumor_cmsg_nonzero16(rumor_cmsg_lanes_t l)
{
    typedef int8_t i8x16 __attribute__((vector_size(16)));
    const i8x16 f = __builtin_convertvector(l != 0, i8x16) & 1;
    uint64_t lo, hi;
    memcpy(&lo, &f, sizeof lo);
    memcpy(&hi, (const char *)&f + 8, sizeof hi);
    const uint64_t k = UINT64_C(0x0102040810204080); /* byte i's low bit to bit 56 + i */
    return (lo * k) >> 56 | ((hi * k) >> 56) << 8;
}

/* Allocates buffers for vectors of length up to d (and up to d buckets), listed = 0, nb = 0;
 * returns 0 or RUMOR_ENOMEM. */
int rumor_cmsg_init(rumor_cmsg_t *m, uint32_t d);
void rumor_cmsg_free(rumor_cmsg_t *m);

/* y += alpha * value(m), y of length m->d. Entries where a SPARSE or listed INT message has
 * no entry are left untouched (not even y + 0). */
void rumor_cmsg_axpy(const rumor_cmsg_t *m, float alpha, float *y);

/* Writes the positions of the nonzero levels of an INT message, ascending, to pos (room for
 * m->d entries); returns their count (which a well-formed message has in nnz). A vectorised
 * scan: the cost is about d / 16 steps plus one per nonzero. */
uint32_t rumor_cmsg_support(const rumor_cmsg_t *m, uint32_t *pos);

/* rumor_cmsg_support into m->idx, and sets listed. */
uint32_t rumor_cmsg_list(rumor_cmsg_t *m);

/* Makes m the INT message of length d (<= cap_d) with every level 0 (nnz 0, listed, not packed,
 * scale kept, no buckets). When m already is a sparse listed INT message only its listed levels
 * (and any beyond its old d) are written, so a sparse message that replaces a sparse one costs
 * O(nnz), not O(d). */
void rumor_cmsg_int_clear(rumor_cmsg_t *m, uint32_t d);

/* out = value(m), out of length m->d. */
void rumor_cmsg_to_dense(const rumor_cmsg_t *m, float *out);

/* Checks the structural invariants (counts within d, ascending unique indices, nnz matching
 * q for INT; for a listed INT message also idx[0..nnz) ascending below d, and the levels there
 * nonzero, which the list of a message that is not sparse shows through the count of nonzero
 * levels instead; with buckets, 2 <= nb <= d and bend strictly ascending to d); returns 0 or
 * RUMOR_EFORMAT. Decoders call it before a message is used. */
int rumor_cmsg_check(const rumor_cmsg_t *m);

/* 1 when rumor_cmsg_axpy(m, alpha, y) would leave every entry it touches finite, and the INT
 * step alpha * scale is finite (y = NULL: as if y were 0, which checks the message's own
 * values; with buckets, every bucket's step). Reads y only: a receiver checks before it
 * applies. */
int rumor_cmsg_axpy_finite(const rumor_cmsg_t *m, float alpha, const float *y);

#endif
