/* rumor — seeded random streams (see rng.h). */
#include "rumor/rng.h"
#include "rumor/err.h"

#include <math.h>
#include <string.h>

__extension__ typedef unsigned __int128 s_u128;

static uint64_t s_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rumor_rng_seed(rumor_rng_t *r, uint64_t seed, uint64_t peer, uint64_t round, uint64_t purpose)
{
    /* Fold the name into one splitmix state, each part mixed before the next is added, so
     * that (a, b) and (b, a) give unrelated streams. */
    uint64_t x = seed;
    x = s_splitmix(&x) ^ peer;
    x = s_splitmix(&x) ^ round;
    x = s_splitmix(&x) ^ purpose;
    for (int i = 0; i < 4; i++) r->s[i] = s_splitmix(&x);
}

/* ---- fill plans --------------------------------------------------------------------- */

/* xoshiro256's state transition alone: one draw, its output dropped (setup only). */
static void s_step(uint64_t s[4])
{
    rumor_rng_t r;
    memcpy(r.s, s, sizeof r.s);
    (void)rumor_rng_u64(&r);
    memcpy(s, r.s, sizeof r.s);
}

/* y = A x for a linear map given by the images of the 256 state bits, a[4 i .. 4 i + 4). */
static void s_map_apply(const uint64_t *a, const uint64_t x[4], uint64_t y[4])
{
    uint64_t r[4] = {0, 0, 0, 0};
    for (unsigned i = 0; i < 256; i++) {
        const uint64_t mask = 0 - ((x[i >> 6] >> (i & 63)) & 1);
        for (unsigned w = 0; w < 4; w++) r[w] ^= a[4 * i + w] & mask;
    }
    memcpy(y, r, sizeof r);
}

/* c = a o b (c may alias b, not a). */
static void s_map_compose(const uint64_t *a, const uint64_t *b, uint64_t *c)
{
    for (unsigned i = 0; i < 256; i++) s_map_apply(a, b + 4 * i, c + 4 * i);
}

void rumor_rng_fill_plan_init(rumor_rng_fill_plan_t *p, size_t n)
{
    const uint64_t draws = n / 2 + n % 2;
    p->n = n;
    p->lane_draws = (draws + RUMOR_RNG_FILL_LANES - 1) / RUMOR_RNG_FILL_LANES;
    /* jump = T^lane_draws by squaring, T the one-step map. */
    uint64_t base[256][4], sq[256][4];
    for (unsigned i = 0; i < 256; i++) {
        for (unsigned w = 0; w < 4; w++) p->jump[i][w] = base[i][w] = 0;
        p->jump[i][i >> 6] = base[i][i >> 6] = UINT64_C(1) << (i & 63);
        s_step(base[i]);
    }
    for (uint64_t e = p->lane_draws; e; e >>= 1) {
        if (e & 1) s_map_compose(&base[0][0], &p->jump[0][0], &p->jump[0][0]);
        if (e > 1) {
            s_map_compose(&base[0][0], &base[0][0], &sq[0][0]);
            memcpy(base, sq, sizeof base);
        }
    }
}

/* The two floats of one draw. */
static inline void s_put_pair(float *out, uint64_t v)
{
    out[0] = (float)(uint32_t)(v >> 40) * 0x1.0p-24f;
    out[1] = (float)(uint32_t)((v >> 8) & 0xffffff) * 0x1.0p-24f;
}

/* The lanes side by side, as vectors of GCC/clang's vector extension (plain loops over lanes
 * are not vectorised well by either compiler); without SIMD support they lower to scalars. */
typedef uint64_t s_u64x8 __attribute__((vector_size(64)));
typedef uint32_t s_u32x16 __attribute__((vector_size(64)));
typedef float s_f32x16 __attribute__((vector_size(64)));
_Static_assert(RUMOR_RNG_FILL_LANES == 8, "one lane per vector element");

static inline s_u64x8 s_rotl8(s_u64x8 x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* The two floats of a draw per lane, packed as they lie in memory (out[2i], out[2i + 1]):
 * both 24-bit integers side by side in 32-bit halves, converted and scaled in one go. */
static inline s_u64x8 s_pairs8(s_u64x8 v)
{
    const s_u64x8 hi = v >> 40, lo = (v >> 8) & 0xffffff;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    const s_u64x8 both = hi << 32 | lo;
#else
    const s_u64x8 both = hi | lo << 32;
#endif
    s_u32x16 ints;
    memcpy(&ints, &both, sizeof ints);
    const s_f32x16 f = __builtin_convertvector(ints, s_f32x16) * 0x1.0p-24f;
    s_u64x8 r;
    memcpy(&r, &f, sizeof r);
    return r;
}

/* One step of the 8 lanes; returns their draws. */
static inline s_u64x8 s_step8(s_u64x8 *s0, s_u64x8 *s1, s_u64x8 *s2, s_u64x8 *s3)
{
    const s_u64x8 x5 = (*s1 << 2) + *s1, rot = s_rotl8(x5, 7), v = (rot << 3) + rot;
    const s_u64x8 t = *s1 << 17;
    *s2 ^= *s0;
    *s3 ^= *s1;
    *s1 ^= *s2;
    *s0 ^= *s3;
    *s2 ^= t;
    *s3 = s_rotl8(*s3, 45);
    return v;
}

void rumor_rng_fill_uniform(rumor_rng_t *r, const rumor_rng_fill_plan_t *p, float *out)
{
    enum { L = RUMOR_RNG_FILL_LANES };
    const uint64_t draws = p->n / 2 + p->n % 2, m = p->lane_draws;
    if (!draws) return;
    /* Lane l makes draws [l m, l m + cnt[l]); the last draw of an odd n (one float) is made
     * apart, so every lane loop writes whole pairs. */
    uint64_t st[4][L], cnt[L];
    uint64_t cur[4];
    memcpy(cur, r->s, sizeof cur);
    for (unsigned l = 0; l < L; l++) {
        const uint64_t start = l * m;
        cnt[l] = start >= draws ? 0 : draws - start < m ? draws - start : m;
        for (unsigned w = 0; w < 4; w++) st[w][l] = cur[w];
        if (l + 1 < L) s_map_apply(&p->jump[0][0], cur, cur);
    }
    const unsigned last = (unsigned)((draws - 1) / m); /* lane of the final draw */
    if (p->n % 2) cnt[last]--;
    const uint64_t common = cnt[L - 1] < cnt[last] ? cnt[L - 1] : cnt[last];
    if (common) {
        s_u64x8 s0, s1, s2, s3;
        memcpy(&s0, st[0], sizeof s0);
        memcpy(&s1, st[1], sizeof s1);
        memcpy(&s2, st[2], sizeof s2);
        memcpy(&s3, st[3], sizeof s3);
        uint64_t j = 0;
        /* Eight steps at a time: the 8 x 8 block of pairs (step by lane) is transposed so that
         * each lane's 8 consecutive pairs go out in one store. */
        for (; j + 8 <= common; j += 8) {
            s_u64x8 a[8], b[8];
            for (unsigned t = 0; t < 8; t++) a[t] = s_pairs8(s_step8(&s0, &s1, &s2, &s3));
            for (unsigned t = 0; t < 8; t += 2) {
                b[t] = __builtin_shufflevector(a[t], a[t + 1], 0, 8, 2, 10, 4, 12, 6, 14);
                b[t + 1] = __builtin_shufflevector(a[t], a[t + 1], 1, 9, 3, 11, 5, 13, 7, 15);
            }
            for (unsigned t = 0; t < 8; t += 4)
                for (unsigned h = 0; h < 2; h++) {
                    a[t + h] =
                        __builtin_shufflevector(b[t + h], b[t + h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
                    a[t + h + 2] =
                        __builtin_shufflevector(b[t + h], b[t + h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
                }
            for (unsigned h = 0; h < 4; h++) {
                b[h] = __builtin_shufflevector(a[h], a[h + 4], 0, 1, 2, 3, 8, 9, 10, 11);
                b[h + 4] = __builtin_shufflevector(a[h], a[h + 4], 4, 5, 6, 7, 12, 13, 14, 15);
            }
            /* b[l] now holds lane l's pairs for steps j .. j + 7 */
            for (unsigned l = 0; l < L; l++) memcpy(out + 2 * (l * m + j), &b[l], sizeof b[l]);
        }
        for (; j < common; j++) {
            const s_u64x8 v = s_pairs8(s_step8(&s0, &s1, &s2, &s3));
            for (unsigned l = 0; l < L; l++) {
                const uint64_t pr = v[l];
                memcpy(out + 2 * (l * m + j), &pr, sizeof pr);
            }
        }
        memcpy(st[0], &s0, sizeof s0);
        memcpy(st[1], &s1, sizeof s1);
        memcpy(st[2], &s2, sizeof s2);
        memcpy(st[3], &s3, sizeof s3);
    }
    for (unsigned l = 0; l <= last; l++) {
        rumor_rng_t lane = {{st[0][l], st[1][l], st[2][l], st[3][l]}};
        for (uint64_t j = common; j < cnt[l]; j++)
            s_put_pair(out + 2 * (l * m + j), rumor_rng_u64(&lane));
        if (l == last) {
            if (p->n % 2) out[p->n - 1] = (float)(rumor_rng_u64(&lane) >> 40) * 0x1.0p-24f;
            *r = lane;
        }
    }
}

uint64_t rumor_rng_below(rumor_rng_t *r, uint64_t n)
{
    /* Lemire's multiply-shift with rejection. */
    uint64_t x = rumor_rng_u64(r);
    s_u128 m = (s_u128)x * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        const uint64_t thresh = -n % n;
        while (lo < thresh) {
            x = rumor_rng_u64(r);
            m = (s_u128)x * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double rumor_rng_normal(rumor_rng_t *r)
{
    double u1 = rumor_rng_uniform_d(r);
    const double u2 = rumor_rng_uniform_d(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double rumor_rng_gamma(rumor_rng_t *r, double alpha)
{
    if (alpha < 1.0) {
        /* Boost: Gamma(a) = Gamma(a + 1) * U^(1/a). */
        const double g = rumor_rng_gamma(r, alpha + 1.0);
        double u = rumor_rng_uniform_d(r);
        if (u < 1e-300) u = 1e-300;
        return g * pow(u, 1.0 / alpha);
    }
    const double d = alpha - 1.0 / 3.0;
    const double c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = rumor_rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        const double u = rumor_rng_uniform_d(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

void rumor_rng_shuffle(rumor_rng_t *r, uint32_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        const size_t j = (size_t)rumor_rng_below(r, i);
        const uint32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

void rumor_rng_sample_positions(uint64_t seed, uint32_t d, uint32_t k, uint64_t *bits,
                                uint32_t *idx)
{
    RUMOR_ASSERT(k <= d);
    const size_t words = ((size_t)d + 63) / 64;
    memset(bits, 0, words * sizeof *bits);
    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_SUPPORT);
    /* Floyd: after step j the marks are a uniform (j + 1 - (d - k))-subset of [0, j]. */
    for (uint32_t j = d - k; j < d; j++) {
        const uint32_t t = (uint32_t)rumor_rng_below(&r, (uint64_t)j + 1);
        const uint32_t at = bits[t / 64] >> (t % 64) & 1 ? j : t;
        bits[at / 64] |= UINT64_C(1) << (at % 64);
    }
    uint32_t n = 0;
    for (size_t w = 0; w < words; w++)
        for (uint64_t b = bits[w]; b; b &= b - 1)
            idx[n++] = (uint32_t)(w * 64 + (unsigned)__builtin_ctzll(b));
    RUMOR_ASSERT(n == k);
}
