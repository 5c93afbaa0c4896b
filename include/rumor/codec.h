/* rumor — serialisation of compressed vectors (cmsg) to bytes, and the entropy limit.
 *
 * Message format (all little-endian; see docs/codec.md for the full layout):
 *   u32 magic "RMC1" | u8 version | u8 mode | u8 kind | u8 reserved | u32 d | u32 nnz |
 *   f32 scale | body
 * Modes: RAW (fixed width; every cmsg kind), VSC (vector source coding of INT messages:
 * per-magnitude Elias-coded frequencies, Golomb/Rice-coded supports, sign bits) and ANS
 * (adaptive entropy coding of gaps and levels). RUMOR_CODEC_AUTO picks the smallest, so no
 * message is ever larger than RAW. Every decoder checks every count and length against d
 * and the bytes left and returns a negative code on any violation.
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

typedef enum {
    RUMOR_CODEC_AUTO = 0,
    RUMOR_CODEC_RAW = 1,
    RUMOR_CODEC_VSC = 2,
    RUMOR_CODEC_ANS = 3,
} rumor_codec_mode_t;

#define RUMOR_CODEC_HEADER_BYTES 20

typedef struct rumor_codec rumor_codec_t;

/* Parses "auto", "raw", "vsc", "ans". */
int rumor_codec_parse_mode(const char *s, rumor_codec_mode_t *mode);
const char *rumor_codec_mode_name(rumor_codec_mode_t mode);

/* A context with scratch for vectors of length up to d_max. */
rumor_codec_t *rumor_codec_new(uint32_t d_max);
void rumor_codec_destroy(rumor_codec_t **c_p);

/* Worst-case encoded size of any cmsg of length d in any mode. */
size_t rumor_codec_bound(uint32_t d);

/* Encodes m into dst[0..cap) with the given mode (AUTO: smallest of the modes that apply to
 * m's kind). *written gets the size. Returns 0, RUMOR_ENOSPC or RUMOR_EINVAL (mode does not
 * apply to the kind). */
int rumor_codec_encode(rumor_codec_t *c, const rumor_cmsg_t *m, rumor_codec_mode_t mode,
                       uint8_t *dst, size_t cap, size_t *written);

/* Decodes src[0..len) into out (initialised for at least d_max). Fails with a negative code
 * on any malformed, truncated or out-of-bound input, or when d > d_max. */
RUMOR_NODISCARD int rumor_codec_decode(rumor_codec_t *c, const uint8_t *src, size_t len,
                                       uint32_t d_max, rumor_cmsg_t *out);

/* The mode byte of an encoded message, or a negative code if the header is invalid. */
int rumor_codec_peek_mode(const uint8_t *src, size_t len);

/* Entropy bound of a message in bits (DESIGN.md section 3): for INT,
 * log2 C(d, nnz) + nnz * H(magnitudes | nonzero) + nnz + 32; SPARSE: log2 C(d, nnz) +
 * 32 nnz + 32; DENSE: 32 d. */
double rumor_codec_entropy_bound_bits(const rumor_cmsg_t *m);

#endif
