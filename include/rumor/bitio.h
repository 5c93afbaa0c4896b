/* rumor — bit-level I/O for the codec: an LSB-first bit writer and reader over caller buffers.
 *
 * Bits fill each byte from its least significant bit up, and a multi-bit field is stored
 * least significant bit first, so a field is read back by a load, a shift and a mask. Both
 * sides move 64-bit words where the buffer allows and fall back to single bytes near its
 * end. The writer never writes past its end (it sets `full` instead); the reader never reads
 * past its end (it supplies zero bytes and counts them in `phantom`, so a caller can tell a
 * truncated stream from a complete one). Everything is inline: these run once per coded
 * symbol in the codec's hot loops.
 */
#ifndef RUMOR_BITIO_H
#define RUMOR_BITIO_H

#include "rumor/bytes.h"

#include <stddef.h>
#include <stdint.h>

/* The widest field one put or get moves. */
#define RUMOR_BITIO_MAX_BITS 56

/* Number of bits needed to write v (0 for v = 0). */
static inline unsigned rumor_bit_width(uint64_t v)
{
    return v ? 64u - (unsigned)__builtin_clzll(v) : 0u;
}

/* ---- writer -------------------------------------------------------------------------- */

typedef struct {
    uint8_t *start;
    uint8_t *p;   /* next byte to write */
    uint8_t *end; /* one past the last writable byte */
    uint64_t acc; /* pending bits, LSB first; only bits [0, n) may be set */
    unsigned n;   /* pending bits, < 8 between calls */
    int full;     /* the buffer ran out; what was written is incomplete */
} rumor_bitw_t;

static inline void rumor_bitw_init(rumor_bitw_t *w, uint8_t *dst, size_t cap)
{
    w->start = w->p = dst;
    w->end = dst + cap;
    w->acc = 0;
    w->n = 0;
    w->full = 0;
}

/* Appends the low nbits (<= RUMOR_BITIO_MAX_BITS) of v; v has no bits at or above nbits. */
static inline void rumor_bitw_put(rumor_bitw_t *w, uint64_t v, unsigned nbits)
{
    w->acc |= v << w->n;
    w->n += nbits;
    if (w->end - w->p >= 8) {
        rumor_store64le(w->p, w->acc);
        w->p += w->n >> 3;
        w->acc >>= w->n & ~7u;
        w->n &= 7;
    } else {
        while (w->n >= 8) {
            if (w->p < w->end)
                *w->p++ = (uint8_t)w->acc;
            else
                w->full = 1;
            w->acc >>= 8;
            w->n -= 8;
        }
    }
}

/* Appends any number of zero bits. */
static inline void rumor_bitw_zeros(rumor_bitw_t *w, uint64_t count)
{
    for (; count > RUMOR_BITIO_MAX_BITS; count -= RUMOR_BITIO_MAX_BITS)
        rumor_bitw_put(w, 0, RUMOR_BITIO_MAX_BITS);
    rumor_bitw_put(w, 0, (unsigned)count);
}

/* Pads the last byte with zero bits; returns the bytes written, or 0 with w->full set when the
 * buffer was too small. */
static inline size_t rumor_bitw_finish(rumor_bitw_t *w)
{
    if (w->n) rumor_bitw_put(w, 0, 8 - w->n);
    return w->full ? 0 : (size_t)(w->p - w->start);
}

/* ---- reader -------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *start;
    const uint8_t *p;   /* next byte to load */
    const uint8_t *end; /* one past the last readable byte */
    uint64_t acc;       /* bits [0, n) are the next stream bits; higher bits, if set, are the
                           stream bits that follow them */
    unsigned n;         /* valid bits in acc */
    size_t phantom;     /* zero bytes supplied past the end */
} rumor_bitr_t;

static inline void rumor_bitr_init(rumor_bitr_t *r, const uint8_t *src, size_t len)
{
    r->start = r->p = src;
    r->end = src + len;
    r->acc = 0;
    r->n = 0;
    r->phantom = 0;
}

/* Tops acc up to at least 56 (and at most 63) valid bits. */
static inline void rumor_bitr_refill(rumor_bitr_t *r)
{
    if (r->end - r->p >= 8) {
        r->acc |= rumor_load64le(r->p) << r->n;
        r->p += (63 - r->n) >> 3;
        r->n |= 56;
    } else {
        while (r->n < 56) {
            uint64_t b = 0;
            if (r->p < r->end)
                b = *r->p++;
            else
                r->phantom++;
            r->acc |= b << r->n;
            r->n += 8;
        }
    }
}

/* The next nbits (<= n) without consuming them. */
static inline uint64_t rumor_bitr_peek(const rumor_bitr_t *r, unsigned nbits)
{
    return r->acc & ((UINT64_C(1) << nbits) - 1);
}

static inline void rumor_bitr_skip(rumor_bitr_t *r, unsigned nbits)
{
    r->acc >>= nbits;
    r->n -= nbits;
}

/* Reads nbits (<= RUMOR_BITIO_MAX_BITS). */
static inline uint64_t rumor_bitr_get(rumor_bitr_t *r, unsigned nbits)
{
    if (r->n < nbits) rumor_bitr_refill(r);
    const uint64_t v = rumor_bitr_peek(r, nbits);
    rumor_bitr_skip(r, nbits);
    return v;
}

/* Bits consumed so far; more than 8 * len means the stream was truncated. */
static inline uint64_t rumor_bitr_consumed(const rumor_bitr_t *r)
{
    return ((uint64_t)(r->p - r->start) + r->phantom) * 8 - r->n;
}

/* 1 when the stream was read exactly to its end: nothing read past it, no whole byte left
 * unread, and the padding bits of the last byte zero. */
static inline int rumor_bitr_exact(const rumor_bitr_t *r)
{
    const uint64_t used = rumor_bitr_consumed(r);
    const uint64_t len = (uint64_t)(r->end - r->start);
    if (used > len * 8 || (used + 7) / 8 != len) return 0;
    const unsigned pad = (unsigned)(len * 8 - used);
    return pad <= r->n && rumor_bitr_peek(r, pad) == 0;
}

#endif
