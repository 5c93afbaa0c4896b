/* Support shared by the codec's test programs (test_codec*.c): message generators, the
 * fixture (a codec, a message, its decoding and a buffer) and the round trip that checks a
 * decoding equals what was encoded. */
#ifndef RUMOR_TEST_CODEC_SUPPORT_H
#define RUMOR_TEST_CODEC_SUPPORT_H

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

static inline uint32_t s_level(rumor_rng_t *r, s_gen_t g, uint32_t levels)
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
static inline void s_gen_int(rumor_rng_t *r, rumor_cmsg_t *m, uint32_t d, double density, s_gen_t g,
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

static inline void s_gen_sparse(rumor_rng_t *r, rumor_cmsg_t *m, uint32_t d, double density)
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

static inline void s_gen_dense(rumor_rng_t *r, rumor_cmsg_t *m, uint32_t d)
{
    m->kind = RUMOR_CMSG_DENSE;
    m->d = d;
    m->nnz = d;
    m->scale = 0.0f;
    for (uint32_t k = 0; k < d; k++) m->val[k] = (float)rumor_rng_normal(r);
}

/* ---- helpers ------------------------------------------------------------------------- */

static inline void s_assert_same(const rumor_cmsg_t *a, const rumor_cmsg_t *b)
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

static inline int s_setup(void **state)
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

static inline int s_teardown(void **state)
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
static inline size_t s_header(const rumor_cmsg_t *m)
{
    return rumor_codec_header_size(m->d, m->kind == RUMOR_CMSG_DENSE ? m->d : m->nnz);
}

/* Encodes f->m with mode, decodes, checks equality; returns the size and the mode written. */
static inline size_t s_roundtrip(s_fix_t *f, rumor_codec_mode_t mode, int *written_mode)
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

static inline size_t s_raw_size(s_fix_t *f)
{
    size_t n = 0;
    assert_int_equal(rumor_codec_encode(f->c, &f->m, RUMOR_CODEC_RAW, f->buf, f->cap, &n), 0);
    return n;
}

#endif
