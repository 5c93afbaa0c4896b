/* rumor — the dithering quantizer's kernels: a counter-based uniform generator, the residual's
 * squared norm and the level pass, each with a portable scalar path and AVX2 and AVX-512 paths
 * chosen at run time, all three giving bit-identical results.
 *
 * Called once per round per peer on a residual of d floats (d up to ~1e6): the norm reads the
 * residual once and the level pass once more, drawing each coordinate's uniform from its index
 * (no stream to advance, no buffer of uniforms), so a residual is read twice in all. Neither
 * allocates.
 *
 * Uniforms: coordinate k of a draw keyed by (k0, k1) gets u_k = (h >> 8) / 2^24 with
 * h = m(m(k ^ k0) ^ k1), m the 32-bit mixer x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15;
 * x *= 0x846ca68b; x ^= x >> 16 (a bijection). Any lane computes any coordinate's uniform on its
 * own, which is what lets 8 or 16 lanes work side by side and still give the scalar path's
 * numbers. Keys are meant to be random 64-bit draws (a compressor takes one from its round's
 * stream): two keys that share k1 and the high bits of k0 give one stream's uniforms permuted.
 *
 * The squared norm is summed in a fixed order, the same on every path: 32 double accumulators,
 * accumulator j taking the squares of the coordinates k = j (mod 32) below the last multiple of
 * 32, folded pairwise (j + 16 into j, then j + 8, 4, 2, 1), and the remaining coordinates added
 * one by one after. Squares of floats are exact in double, so only these additions round.
 *
 * The path: RUMOR_SIMD=scalar|avx2|avx512 in the environment asks for one (a path the CPU
 * lacks falls back to the best it has below it); unset, the best the CPU supports.
 */
#ifndef RUMOR_QUANT_H
#define RUMOR_QUANT_H

#include <stdint.h>

typedef enum {
    RUMOR_SIMD_SCALAR = 0,
    RUMOR_SIMD_AVX2 = 1,
    RUMOR_SIMD_AVX512 = 2,
} rumor_simd_t;

/* The best path this CPU supports. */
rumor_simd_t rumor_simd_best(void);

/* The path to use: RUMOR_SIMD's if set (clamped to rumor_simd_best), else rumor_simd_best.
 * An unknown value of RUMOR_SIMD counts as unset. */
rumor_simd_t rumor_simd_pick(void);

/* "scalar", "avx2" or "avx512". */
const char *rumor_simd_name(rumor_simd_t p);

typedef struct {
    uint32_t k0, k1;
} rumor_quant_key_t;

/* u[0..n) = the uniforms of coordinates k0 .. k0 + n - 1 under key (scalar; for tests). */
void rumor_quant_uniforms(rumor_quant_key_t key, uint32_t k0, uint32_t n, float *u);

/* Sum of squares, in the fixed order above, of the n floats a - b (b NULL: of a). */
double rumor_quant_sumsq(rumor_simd_t p, const float *a, const float *b, uint32_t n);

/* The level pass over coordinates [lo, hi): with r = a[k] - b[k] (b NULL: a[k]) in float,
 * l = min((int)(|r| inv + u_k), smax) with the sign of r, where |r| inv and the sum are float
 * operations rounded one at a time. Writes every level of [lo, hi) to q[k], zeros included
 * (whatever q held there; nothing outside the range), and the positions of the nonzero ones,
 * ascending, to idx[0..]; returns their count. idx needs room for hi - lo entries, and those past
 * the count may be written too. a - b must be finite and smax >= 1. */
uint32_t rumor_quant_dither(rumor_simd_t p, const float *a, const float *b, uint32_t lo,
                            uint32_t hi, float inv, int32_t smax, rumor_quant_key_t key, int32_t *q,
                            uint32_t *idx);

#endif
