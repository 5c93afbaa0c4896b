/* rumor — serialisation of compressed vectors (cmsg) to bytes, and the entropy limit.
 *
 * Message format (all little-endian; docs/codec.md has the full layout):
 *   u8 'R' | u8 'c' | u8 version (2; 3 with buckets) | u8 mode | kind << 4 | LEB128 d
 *   | LEB128 nnz | f32 scale | body
 * An INT message with buckets (cmsg.h) has kind 3 and version 3, its first step as the scale,
 * and its body starts with the bucket table (their lengths and the other steps as f32); the
 * levels follow as for INT in any mode.
 * nnz counts the nonzero levels (INT), the entries (SPARSE) or d (DENSE); scale is the INT
 * step (carried, bit for bit, for every kind). Modes:
 *   RAW  fixed width, every kind: DENSE d f32; INT one width byte w then d zigzag levels of w
 *        bits; SPARSE nnz u32 positions then nnz f32 values.
 *   VSC  vector source coding (INT, SPARSE): the support as Golomb-coded run lengths, then for
 *        INT, per distinct magnitude its Elias-coded frequency and, most frequent first, its
 *        support among the nonzeros not yet claimed, then one sign bit per nonzero. Golomb
 *        parameters and the layer order derive from counts already in the stream.
 *   ARITH adaptive binary arithmetic (range) coding of gaps and levels (INT, SPARSE), with
 *        the binarisation derived from d and nnz; wins where the data are not i.i.d.
 *        (clustered supports, heavy-tailed levels). Formerly named "ans", still accepted.
 *   SEED a seeded SPARSE message (cmsg.h: rand-k's): u64 seed, then nnz f32 values; the
 *        decoder derives the positions with rumor_rng_sample_positions.
 * SPARSE values always travel as raw f32. RUMOR_CODEC_AUTO picks the smallest mode that
 * applies, and an explicit VSC, ARITH or SEED that would be larger than RAW writes RAW, so
 * no message exceeds RAW and rumor_codec_bound always suffices. d = 0 is a valid (empty)
 * message. The decoder checks every count and length against d and the bytes left, accepts
 * exactly one byte string per message and mode (no trailing bytes, zero padding, narrowest
 * RAW width, no idle tail bit, SEED only where it is written), and returns a
 * negative code on any violation.
 *
 * Workload: one encode per round per peer and one decode per neighbour message, d up to
 * ~1e6; a codec context holds all scratch, so encode and decode never allocate.
 */
#ifndef RUMOR_CODEC_H
#define RUMOR_CODEC_H

#include "rumor/cmsg.h"
#include "rumor/err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    RUMOR_CODEC_AUTO = 0,
    RUMOR_CODEC_RAW = 1,
    RUMOR_CODEC_VSC = 2,
    RUMOR_CODEC_ARITH = 3,
    RUMOR_CODEC_SEED = 4, /* seeded SPARSE messages (rand-k) only: the seed, not the positions */
} rumor_codec_mode_t;

#define RUMOR_CODEC_HEADER_MAX 18 /* 8 bytes and two LEB128 u32 of at most 5 */
/* The newest format version read and written: 3 adds INT messages with buckets (one step per
 * bucket); every other message is still written as version 2, byte for byte. */
#define RUMOR_CODEC_VERSION 3

typedef struct rumor_codec rumor_codec_t;

/* Parses "auto", "raw", "vsc", "arith" (or its old name "ans"); SEED is for AUTO, or a
 * caller that knows its messages are seeded. Returns 0 or RUMOR_EINVAL. */
int rumor_codec_parse_mode(const char *s, rumor_codec_mode_t *mode);
const char *rumor_codec_mode_name(rumor_codec_mode_t mode);

/* A context with scratch for vectors of length up to d_max (about 5 * 4 * d_max bytes plus
 * rumor_codec_bound(d_max)). One context per thread: encode and decode use its scratch.
 * Returns 0 with *out set, or with *out NULL RUMOR_EINVAL (d_max of 0) or RUMOR_ENOMEM. */
int rumor_codec_create(uint32_t d_max, rumor_codec_t **out);

/* The same, NULL on failure: for callers that need no code. */
static inline rumor_codec_t *rumor_codec_new(uint32_t d_max)
{
    rumor_codec_t *c;
    return rumor_codec_create(d_max, &c) ? NULL : c;
}
void rumor_codec_destroy(rumor_codec_t **c_p);

/* Worst-case encoded size of any cmsg of length d in any mode (header + 10 d + 8). */
size_t rumor_codec_bound(uint32_t d);

/* Size of the header of a message of length d with nnz nonzeros (entries): 10 to 18 bytes. */
size_t rumor_codec_header_size(uint32_t d, uint32_t nnz);

/* Encodes m into dst[0..cap) with the given mode (AUTO: smallest of the modes that apply to
 * m's kind; VSC/ARITH/SEED: that mode unless RAW is smaller). *written gets the size. Returns 0,
 * RUMOR_ENOSPC, or RUMOR_EINVAL (mode does not apply to the kind, m->d exceeds the
 * context's d_max, or m breaks a cmsg invariant: INT nnz not matching q, SPARSE positions not
 * ascending below d; SEED: m not seeded, or its positions not those of its seed). For a
 * seeded message whose positions are its seed's, AUTO weighs SEED with the others. */
int rumor_codec_encode(rumor_codec_t *c, const rumor_cmsg_t *m, rumor_codec_mode_t mode,
                       uint8_t *dst, size_t cap, size_t *written);

/* Decodes src[0..len) into out (initialised for at least d_max). Fails with a negative code
 * on any malformed, truncated or out-of-bound input, or when d exceeds d_max, out's
 * capacity or the context's d_max (RUMOR_ERANGE). out's contents are unspecified after a
 * failure. */
RUMOR_NODISCARD int rumor_codec_decode(rumor_codec_t *c, const uint8_t *src, size_t len,
                                       uint32_t d_max, rumor_cmsg_t *out);

/* The same, for a receiver that only applies the message (rumor_cmsg_axpy, a gossip absorb):
 * an INT message coded by VSC or ARITH comes listed and packed (cmsg.h) whatever its density,
 * its levels in q[0..nnz) beside their positions, so that decoding, checking and applying it
 * take O(nnz) steps, none scattered over a level vector of d entries. The checks are
 * rumor_codec_decode's. */
RUMOR_NODISCARD int rumor_codec_decode_packed(rumor_codec_t *c, const uint8_t *src, size_t len,
                                              uint32_t d_max, rumor_cmsg_t *out);

/* rumor_codec_decode_packed for a receiver that adds the message into a vector y of d
 * entries (a gossip copy: rumor_gossip_addend), fused where the message allows: a VSC INT
 * message of length d without buckets, with a finite scale, is added as it is decoded (y[k] +=
 * scale * level k, computed as rumor_cmsg_axpy computes it), its levels never written to out
 * (left the empty message): 1. Any other message is decoded into out as by
 * rumor_codec_decode_packed, y untouched, for the caller to apply: 0. A negative code for a
 * message that fails to decode or, fused, RUMOR_ENONFINITE when an entry of y would not be
 * finite (rumor_gossip_absorb's refusal); y is then as it was. */
RUMOR_NODISCARD int rumor_codec_decode_add(rumor_codec_t *c, const uint8_t *src, size_t len,
                                           uint32_t d, rumor_cmsg_t *out, float *y);

typedef struct {
    rumor_codec_mode_t mode;
    rumor_cmsg_kind_t kind;
    uint32_t d, nnz;
    size_t header; /* bytes; the body follows (with buckets, starting with their table) */
    int buckets;   /* an INT message with one step per bucket (version 3) */
} rumor_codec_info_t;

/* Reads the header of an encoded message into info: 0, or a negative code if the header is
 * invalid (the body is not looked at). */
int rumor_codec_peek(const uint8_t *src, size_t len, rumor_codec_info_t *info);

/* The mode of an encoded message, or a negative code if the header is invalid. */
int rumor_codec_peek_mode(const uint8_t *src, size_t len);

/* Recorded-message files (docs/codec.md), read by `rumor bench codec --residuals`: a sequence
 * of records, each a u32 little-endian length followed by that many bytes of one encoded
 * message, until the end of the file. Appends one record to f; returns 0 or RUMOR_EIO. */
int rumor_codec_record_write(FILE *f, const uint8_t *msg, size_t len);

/* Entropy bound of a message in bits (DESIGN.md section 3): for INT,
 * log2 C(d, nnz) + nnz * H(magnitudes | nonzero) + nnz + 32 (32 nb with nb buckets); SPARSE: log2
 * C(d, nnz) + 32 nnz + 32; DENSE: 32 d. H is the empirical entropy of the nonzero magnitudes. Does
 * not allocate; magnitudes of 1024 and above beyond the first 4095 distinct ones are counted as
 * distinct, which can only raise the figure. */
double rumor_codec_entropy_bound_bits(const rumor_cmsg_t *m);

#endif
