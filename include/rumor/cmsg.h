/* rumor — a compressed vector: what a compressor produces and a codec serialises.
 *
 * Three shapes cover every compressor:
 *   INT     value_k = scale * q[k]          dithered quantizers, scaled sign (q mostly 0)
 *   SPARSE  value_{idx[j]} = val[j]         top-k, rand-k (idx strictly ascending)
 *   DENSE   value_k = val[k]                identity
 * A cmsg owns buffers of capacity d for every shape, allocated once by rumor_cmsg_init, so a
 * round reuses one cmsg without allocating. The bottom layer: compress and codec both use
 * it and neither depends on the other.
 */
#ifndef RUMOR_CMSG_H
#define RUMOR_CMSG_H

#include <stddef.h>
#include <stdint.h>

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
    uint32_t *idx;  /* SPARSE: (nnz) strictly ascending positions < d */
    float *val;     /* SPARSE: (nnz) values; DENSE: (d) values */
    uint32_t cap_d; /* capacity the buffers were allocated for */
} rumor_cmsg_t;

/* Allocates buffers for vectors of length up to d; returns 0 or RUMOR_ENOMEM. */
int rumor_cmsg_init(rumor_cmsg_t *m, uint32_t d);
void rumor_cmsg_free(rumor_cmsg_t *m);

/* y += alpha * value(m), y of length m->d. */
void rumor_cmsg_axpy(const rumor_cmsg_t *m, float alpha, float *y);

/* out = value(m), out of length m->d. */
void rumor_cmsg_to_dense(const rumor_cmsg_t *m, float *out);

/* Checks the structural invariants (counts within d, ascending unique indices, nnz matching
 * q for INT); returns 0 or RUMOR_EFORMAT. Decoders call it before a message is used. */
int rumor_cmsg_check(const rumor_cmsg_t *m);

#endif
