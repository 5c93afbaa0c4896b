/* libFuzzer target for the codec decoder: arbitrary bytes must decode to a valid message or
 * fail with a negative code, never crash, read out of bounds or trip a sanitizer. A message
 * that decodes is re-encoded in every mode that applies to it (SEED only to one that came as
 * SEED); each encoding must decode to the same message again (buckets and their steps
 * included), and none may be larger than RAW. The packed decoding of the input must give the
 * same message: the same levels beside the same positions, and, when a receiver would apply
 * it (its step and values finite), the same vector. Decoding the input into a vector
 * (rumor_codec_decode_add) gives what the packed decoding and a checked axpy give it, bit for
 * bit, with the same code, whether the input decodes or not.
 *
 * Build with -DRUMOR_FUZZ=ON (clang) and run, for example (scripts/fuzz does both):
 *   build-fuzz/fuzz_codec -max_total_time=60 corpus-run tests/fuzz/corpus/codec
 */
#include "rumor/codec.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { S_DMAX = 1 << 16 };

/* The harness's process state: one codec context and buffers, allocated once. */
static struct {
    rumor_codec_t *c;
    rumor_cmsg_t out, again;
    float *dense, *dense_packed; /* (S_DMAX) the two decodings applied */
    float *y, *want;             /* (S_DMAX) a vector decode_add adds into, and its due result */
    uint8_t *buf;
    size_t cap;
} s_h;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    s_h.c = rumor_codec_new(S_DMAX);
    s_h.cap = rumor_codec_bound(S_DMAX);
    s_h.buf = malloc(s_h.cap);
    s_h.dense = malloc(S_DMAX * sizeof *s_h.dense);
    s_h.dense_packed = malloc(S_DMAX * sizeof *s_h.dense_packed);
    s_h.y = malloc(S_DMAX * sizeof *s_h.y);
    s_h.want = malloc(S_DMAX * sizeof *s_h.want);
    RUMOR_ASSERT(s_h.c && s_h.buf && s_h.dense && s_h.dense_packed && s_h.y && s_h.want);
    RUMOR_ASSERT(rumor_cmsg_init(&s_h.out, S_DMAX) == 0);
    RUMOR_ASSERT(rumor_cmsg_init(&s_h.again, S_DMAX) == 0);
    return 0;
}

static void s_assert_list_exact(const rumor_cmsg_t *m)
{
    if (m->kind != RUMOR_CMSG_INT || !m->listed) return;
    uint32_t j = 0;
    for (uint32_t k = 0; k < m->d; k++)
        if (m->q[k]) {
            RUMOR_ASSERT(j < m->nnz && m->idx[j] == k);
            j++;
        }
    RUMOR_ASSERT(j == m->nnz);
}

/* The input decoded packed into s_h.again is m (decoded plainly), and applies alike. */
static void s_assert_packed_same(const rumor_cmsg_t *m, const uint8_t *data, size_t size)
{
    rumor_cmsg_t *p = &s_h.again;
    RUMOR_ASSERT(rumor_codec_decode_packed(s_h.c, data, size, S_DMAX, p) == 0);
    RUMOR_ASSERT(rumor_cmsg_check(p) == 0);
    RUMOR_ASSERT(p->kind == m->kind && p->d == m->d && p->nnz == m->nnz && p->nb == m->nb);
    RUMOR_ASSERT(p->packed == (m->kind == RUMOR_CMSG_INT &&
                               rumor_codec_peek_mode(data, size) != RUMOR_CODEC_RAW));
    if (p->packed) { /* check() saw nnz nonzero levels at ascending positions: those are m's */
        for (uint32_t j = 0; j < m->nnz; j++) RUMOR_ASSERT(p->q[j] == m->q[p->idx[j]]);
        for (uint32_t k = m->nnz; k < m->d; k++) RUMOR_ASSERT(p->q[k] == 0);
    }
    /* A receiver applies only a message whose step and values are finite (a non-finite step
     * times a zero level is a NaN where an unlisted message has no entry) */
    RUMOR_ASSERT(rumor_cmsg_axpy_finite(p, 1.0f, NULL) == rumor_cmsg_axpy_finite(m, 1.0f, NULL));
    if (!rumor_cmsg_axpy_finite(p, 1.0f, NULL)) return;
    rumor_cmsg_to_dense(m, s_h.dense);
    rumor_cmsg_to_dense(p, s_h.dense_packed);
    RUMOR_ASSERT(!memcmp(s_h.dense, s_h.dense_packed, (size_t)m->d * sizeof *s_h.dense));
}

/* decode_add of the input into a vector of its length, some of whose entries are near the
 * largest float, against the packed decoding and rumor_gossip_absorb's checked axpy. */
static void s_assert_add_same(const uint8_t *data, size_t size)
{
    rumor_codec_info_t info;
    if (rumor_codec_peek(data, size, &info) != 0 || info.d > S_DMAX) return;
    const uint32_t d = info.d;
    for (uint32_t k = 0; k < d; k++) s_h.y[k] = k % 11 == 3 ? 3e38f : (float)(k % 7) - 3.0f;
    memcpy(s_h.want, s_h.y, (size_t)d * sizeof *s_h.y);
    rumor_cmsg_t *p = &s_h.again;
    const int dec = rumor_codec_decode_packed(s_h.c, data, size, d, p);
    const int fused = dec == 0 && p->packed && info.mode == RUMOR_CODEC_VSC && !info.buckets &&
                      p->d == d && isfinite(p->scale);
    int expect = dec;
    if (fused) {
        expect = rumor_cmsg_axpy_finite(p, 1.0f, s_h.want) ? 1 : RUMOR_ENONFINITE;
        if (expect == 1) rumor_cmsg_axpy(p, 1.0f, s_h.want);
    }
    const int rc = rumor_codec_decode_add(s_h.c, data, size, d, &s_h.out, s_h.y);
    RUMOR_ASSERT(rc == expect);
    RUMOR_ASSERT(!memcmp(s_h.y, s_h.want, (size_t)d * sizeof *s_h.y));
    if (rc == 0) /* decoded only, for the caller to apply */
        RUMOR_ASSERT(s_h.out.kind == p->kind && s_h.out.nnz == p->nnz);
}

static void s_assert_same(const rumor_cmsg_t *a, const rumor_cmsg_t *b)
{
    RUMOR_ASSERT(a->kind == b->kind && a->d == b->d && a->nnz == b->nnz);
    RUMOR_ASSERT(memcmp(&a->scale, &b->scale, 4) == 0);
    switch (a->kind) {
    case RUMOR_CMSG_INT:
        RUMOR_ASSERT(!memcmp(a->q, b->q, (size_t)a->d * 4) && a->nb == b->nb);
        RUMOR_ASSERT(!memcmp(a->bend, b->bend, (size_t)a->nb * 4));
        RUMOR_ASSERT(!memcmp(a->scales, b->scales, (size_t)a->nb * 4));
        break;
    case RUMOR_CMSG_SPARSE:
        RUMOR_ASSERT(!memcmp(a->idx, b->idx, (size_t)a->nnz * 4));
        RUMOR_ASSERT(!memcmp(a->val, b->val, (size_t)a->nnz * 4));
        break;
    case RUMOR_CMSG_DENSE:
        RUMOR_ASSERT(!memcmp(a->val, b->val, (size_t)a->d * 4));
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_assert_add_same(data, size);
    const int rc = rumor_codec_decode(s_h.c, data, size, S_DMAX, &s_h.out);
    if (rc != 0) {
        RUMOR_ASSERT(rc < 0);
        return 0;
    }
    RUMOR_ASSERT(rumor_cmsg_check(&s_h.out) == 0);
    s_assert_list_exact(&s_h.out);
    s_assert_packed_same(&s_h.out, data, size);
    RUMOR_ASSERT(rumor_codec_peek_mode(data, size) > 0);
    size_t raw = 0;
    RUMOR_ASSERT(rumor_codec_encode(s_h.c, &s_h.out, RUMOR_CODEC_RAW, s_h.buf, s_h.cap, &raw) == 0);
    for (int mode = RUMOR_CODEC_AUTO; mode <= RUMOR_CODEC_SEED; mode++) {
        size_t n = 0;
        const int erc =
            rumor_codec_encode(s_h.c, &s_h.out, (rumor_codec_mode_t)mode, s_h.buf, s_h.cap, &n);
        if (erc == RUMOR_EINVAL) { /* SEED needs a seeded message, VSC and ARITH a sparse kind */
            RUMOR_ASSERT(mode == RUMOR_CODEC_SEED
                             ? !s_h.out.seeded
                             : s_h.out.kind == RUMOR_CMSG_DENSE && mode >= RUMOR_CODEC_VSC);
            continue;
        }
        RUMOR_ASSERT(erc == 0 && n <= raw && n <= rumor_codec_bound(s_h.out.d));
        RUMOR_ASSERT(rumor_codec_decode(s_h.c, s_h.buf, n, S_DMAX, &s_h.again) == 0);
        s_assert_same(&s_h.out, &s_h.again);
        s_assert_list_exact(&s_h.again);
    }
    return 0;
}
