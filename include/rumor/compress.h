/* rumor — compressors.
 *
 * One interface for every compressor C: x (d floats) -> a cmsg. Each reports its contraction
 * parameter delta (E||C(x) - x||^2 <= (1 - 1/delta) ||x||^2) and whether it is unbiased
 * (E C(x) = x). Randomness comes from a caller-passed stream, so a peer's compression is
 * reproducible from (seed, peer, round). A compressor owns scratch for vectors of length d,
 * allocated in rumor_compressor_new; apply does not allocate.
 *
 * Dithered quantizer with s levels (QSGD-style, unbiased):
 *   l_k = floor(s |x_k| / ||x|| + u_k), u_k ~ U[0,1),  C(x)_k = ||x|| sign(x_k) l_k / s
 * with ||.|| the L2 norm (or L-inf). The "biased" option scales by 1/tau,
 * tau = 1 + min(d/s^2, sqrt(d)/s), which makes it a contraction for CHOCO-style gossip.
 *
 * Natural compression and natural dithering (Horvath et al., "Natural compression for
 * distributed deep learning") round to powers of two instead, unbiasedly: y in [2^e, 2^(e+1))
 * becomes 2^(e+1) with probability y / 2^e - 1, else 2^e; y in [0, 1) becomes 1 with
 * probability y, else 0. Natural dithering with s levels takes y = 2^(s-1) |x_k| / ||x||, so
 * C(x)_k = ||x|| sign(x_k) 2^(1-s) l_k with l_k in {0, 1, 2, 4, ..., 2^(s-1)};
 * omega = 1/8 + sqrt(d) 2^(1-s) min(1, sqrt(d) 2^(1-s)). Natural compression rounds each
 * coordinate itself, y = |x_k| / 2^(E-30) with 2^E > max |x_k|, so every coordinate of
 * magnitude at least 2^(E-30) (30 binades below the largest) keeps its own power of two;
 * smaller ones round to 0 or 2^(E-30). omega = 1/8. Both send integer levels and a scale,
 * and "biased" scales by 1/(1 + omega) as for dither.
 *
 * "randk:F" keeps k = F d coordinates at positions drawn from a seed the message carries
 * (rumor_rng_sample_positions), so the codec sends the seed instead of the positions.
 *
 * "block:F" (random block, as in RBGS) keeps k = F d consecutive coordinates, wrapping past
 * the end, from a uniform start: every coordinate is kept with probability k / d, like rand-k,
 * so delta = d / k, and the support is one or two runs, which the ANS codec sends in a few
 * bits in all.
 *
 * "randk:F:unbiased" scales the kept values by d / k, so that E C(x) = x with variance
 * omega = d / k - 1; plain rand-k is its biased form (E C(x) = (k / d) x, delta = d / k).
 *
 * "topk:F+dither:S..." composes the two: the k largest coordinates, dithered with their own
 * norm (tau of k coordinates, so delta = tau d / k); only the survivors get uniforms.
 * "topk:F+natural:S..." does the same with natural dithering (the new compressor of
 * Beznosikov et al., "On biased compression for distributed learning"): delta = tau d / k
 * with tau = 1 + omega of natural dithering on k coordinates.
 *
 * "eround:B" (exponential rounding, B an integer >= 2) rounds every |x_k| to the nearest of
 * 0 and the powers B^j (the deterministic, biased form: |C(x)_k - x_k| <= (B-1)/(B+1) |x_k|,
 * delta = (B+1)^2 / (4B)); "eround:B:unbiased" rounds to one of the two neighbouring powers at
 * random, unbiasedly (omega = (B-1)^2 / (4B); B = 2 is natural compression). Levels are B^j,
 * j <= J with B^J <= 2^30, in steps of B^(E+1-J), B^E <= max |x_k| < B^(E+1): coordinates more
 * than J powers below the largest round to 0 or the smallest level.
 *
 * "sign:stochastic" is the stochastic 1-bit quantizer: with B = ||x||_inf, coordinate k is
 * +B with probability (1 + x_k / B) / 2, else -B, unbiasedly, with omega = d B^2 / ||x||^2 - 1
 * (at most d - 1); "sign:stochastic:biased" scales it by 1 / (1 + omega) of the message, to
 * (||x||^2 / (d B)) b_k, a contraction with delta = 1 + omega <= d. Either sends one sign per
 * coordinate and one float32 scale.
 *
 * Buckets: "dither:S...:bucket=B" and "natural:S...:bucket=B" take one norm per block of B
 * consecutive coordinates (the last block shorter), ":layer" one norm per model tensor (the
 * sizes given in the configuration); each block is quantized with its own norm and its own
 * tau (from its length) and sends one float32 step (a cmsg with buckets). delta is that of
 * the longest block, which is what keeps tau small on a large model.
 */
#ifndef RUMOR_COMPRESS_H
#define RUMOR_COMPRESS_H

#include "rumor/cmsg.h"
#include "rumor/err.h"
#include "rumor/rng.h"

#include <stdint.h>

typedef enum {
    RUMOR_COMPRESS_IDENTITY = 0,
    RUMOR_COMPRESS_DITHER = 1,
    RUMOR_COMPRESS_TOPK = 2,
    RUMOR_COMPRESS_RANDK = 3,
    RUMOR_COMPRESS_SIGN = 4,    /* scaled sign (||x||_1 / d) sign(x), or stochastic signs */
    RUMOR_COMPRESS_NATURAL = 5, /* natural compression (levels 0) or natural dithering */
    RUMOR_COMPRESS_BLOCK = 6,   /* k consecutive coordinates (cyclically) from a random start */
    RUMOR_COMPRESS_EROUND = 7,  /* exponential rounding to powers of base */
} rumor_compress_kind_t;

typedef struct {
    rumor_compress_kind_t kind;
    uint32_t levels; /* dither: s >= 1; natural: s in [1, 31], or 0 for natural compression;
                        topk: s levels to quantize the survivors with, or 0 to send them as is */
    int norm_inf;    /* dither, natural with s levels, topk then either: 1 = L-inf, 0 = L2 */
    int biased;      /* dither, natural, topk then either, stochastic sign: scale by
                        1/(1 + omega) */
    int stochastic;  /* sign: +-||x||_inf at random, unbiased (see above) */
    double fraction; /* topk, randk, block: k = max(1, round(fraction * d)) */
    rumor_compress_kind_t then; /* topk with levels: DITHER or NATURAL on the survivors */
    int unbiased;               /* randk: values scaled by d / k; eround: stochastic rounding */
    uint32_t base;              /* eround: B >= 2 */
    uint32_t bucket;            /* dither, natural with s levels: one norm per this many
                                   coordinates (0: one norm for the whole vector) */
    int layer;                  /* dither, natural with s levels: one norm per tensor */
    const uint32_t *tensors;    /* layer: the sizes of the model's tensors, in order, summing
                                   to d (rumor_compressor_new copies them) */
    uint32_t n_tensors;
} rumor_compress_cfg_t;

typedef struct rumor_compressor rumor_compressor_t;

/* Parses "identity", "dither:16", "dither:16:inf", "dither:16:biased", "natural",
 * "natural:biased", "natural:8", "natural:8:inf:biased", "dither:8:biased:bucket=512",
 * "natural:4:layer", "topk:0.01", "randk:0.01", "randk:0.01:unbiased", "block:0.01", "sign",
 * "sign:stochastic", "sign:stochastic:biased", "topk:0.1+dither:8:biased",
 * "topk:0.1+natural:4:biased", "eround:4", "eround:2:unbiased". A ":layer" compressor needs
 * cfg->tensors set before rumor_compressor_new. */
int rumor_compress_parse(const char *s, rumor_compress_cfg_t *cfg, rumor_errmsg_t *em);

/* Writes a string rumor_compress_parse accepts. */
void rumor_compress_describe(const rumor_compress_cfg_t *cfg, char *buf, size_t len);

/* Returns 0 with *out set, or with *out NULL RUMOR_EINVAL (for ":layer" when cfg's tensor
 * sizes do not sum to d) or RUMOR_ENOMEM. */
int rumor_compressor_create(const rumor_compress_cfg_t *cfg, uint32_t d, rumor_compressor_t **out);

/* The same, NULL on failure: for callers that need no code. */
static inline rumor_compressor_t *rumor_compressor_new(const rumor_compress_cfg_t *cfg, uint32_t d)
{
    rumor_compressor_t *c;
    return rumor_compressor_create(cfg, d, &c) ? NULL : c;
}
void rumor_compressor_destroy(rumor_compressor_t **c_p);

/* Compresses x (d floats) into out (initialised for at least d). */
void rumor_compressor_apply(rumor_compressor_t *c, const float *x, rumor_rng_t *rng,
                            rumor_cmsg_t *out);

/* Compresses a - b (d floats each): the message rumor_compressor_apply gives for the float
 * vector a - b. The L2 dithering quantizer reads a and b directly and never forms the
 * difference; the others form it in the compressor's scratch first. */
void rumor_compressor_apply_delta(rumor_compressor_t *c, const float *a, const float *b,
                                  rumor_rng_t *rng, rumor_cmsg_t *out);

/* Contraction parameter delta >= 1 (1 = exact) of the compressor as used. For unbiased
 * compressors with variance omega that are not scaled, delta describes C/(1+omega). */
double rumor_compressor_delta(const rumor_compressor_t *c);
int rumor_compressor_unbiased(const rumor_compressor_t *c);

#endif
