/* rumor — float vector kernels (see vec.h). */
#include "rumor/vec.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

void rumor_vec_zero(float *x, size_t n)
{
    memset(x, 0, n * sizeof *x);
}

void rumor_vec_copy(float *restrict dst, const float *restrict src, size_t n)
{
    memcpy(dst, src, n * sizeof *dst);
}

void rumor_vec_axpy(float *restrict y, float a, const float *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* y = v + a0 c0 + ... for m of up to four terms (terms past m are not read); in place (v
 * not read, y taken for it) when `inplace`, a constant at each call, so that no pointer
 * aliases another. */
static inline __attribute__((always_inline)) void
s_lincomb4(float *restrict y, const float *restrict v, int inplace, size_t m,
           const float *restrict c0, const float *restrict c1, const float *restrict c2,
           const float *restrict c3, const float *a, size_t n)
{
    const float a0 = a[0], a1 = m > 1 ? a[1] : 0.0f, a2 = m > 2 ? a[2] : 0.0f,
                a3 = m > 3 ? a[3] : 0.0f;
    /* one loop per count, so that each is a plain vectorised pass */
    switch (m) {
    case 1:
        for (size_t i = 0; i < n; i++) y[i] = (inplace ? y[i] : v[i]) + a0 * c0[i];
        return;
    case 2:
        for (size_t i = 0; i < n; i++) {
            const float t = (inplace ? y[i] : v[i]) + a0 * c0[i];
            y[i] = t + a1 * c1[i];
        }
        return;
    case 3:
        for (size_t i = 0; i < n; i++) {
            float t = (inplace ? y[i] : v[i]) + a0 * c0[i];
            t = t + a1 * c1[i];
            y[i] = t + a2 * c2[i];
        }
        return;
    default:
        for (size_t i = 0; i < n; i++) {
            float t = (inplace ? y[i] : v[i]) + a0 * c0[i];
            t = t + a1 * c1[i];
            t = t + a2 * c2[i];
            y[i] = t + a3 * c3[i];
        }
        return;
    }
}

void rumor_vec_lincomb(float *y, const float *v, size_t m, const float *const *c, const float *a,
                       size_t n)
{
    if (!m) {
        if (y != v) memmove(y, v, n * sizeof *y);
        return;
    }
    for (size_t j = 0; j < m; j += 4) { /* four terms a pass; later passes add to y */
        const size_t r = m - j < 4 ? m - j : 4;
        const float *c1 = r > 1 ? c[j + 1] : NULL, *c2 = r > 2 ? c[j + 2] : NULL,
                    *c3 = r > 3 ? c[j + 3] : NULL;
        if (j || y == v)
            s_lincomb4(y, NULL, 1, r, c[j], c1, c2, c3, a + j, n);
        else
            s_lincomb4(y, v, 0, r, c[j], c1, c2, c3, a + j, n);
    }
}

void rumor_vec_sub(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] - b[i];
}

void rumor_vec_scale(float *x, float a, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] *= a;
}

double rumor_vec_dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Sum of squares of a block of S_BLOCK entries as if added one by one to a running sum
 * s = M u in a binade [2^e, 2^(e+1)) whose ulp is u = 1 / inv_u (M an integer in
 * [2^52, 2^53)). Every square t is exact in double, and while the running sum stays in the
 * binade, adding t rounds it to the nearest multiple of u: s + u * round(t / u), where a tie
 * goes to the even multiple. Apart from ties the roundings do not depend on the running sum,
 * so they are computed side by side and summed exactly (integers below 2^53). A tie depends on
 * the parity of the running sum only, and leaves it even; s_ties settles them with bit masks.
 * Returns the block's increase of M, or -1 when M would leave the binade (reach 2^53; also
 * for an inf or NaN). */
enum { S_BLOCK = 64 };

/* Eight lanes side by side with GCC/clang's vector extension: neither compiler vectorises
 * the plain-loop form of these blocks well (the reductions and the masks defeat it). */
typedef double s_f64x8 __attribute__((vector_size(64)));
typedef int64_t s_i64x8 __attribute__((vector_size(64)));
typedef float s_f32x8 __attribute__((vector_size(32)));
typedef int8_t s_i8x8 __attribute__((vector_size(8)));

/* x_j^2 / u for 8 entries, x = a or (b not NULL) the float differences a - b: exact (a float's
 * square fits a double; u is a power of 2). */
static inline s_f64x8 s_sq8(const float *a, const float *b, double inv_u)
{
    s_f32x8 f;
    memcpy(&f, a, sizeof f);
    if (b) {
        s_f32x8 g;
        memcpy(&g, b, sizeof g);
        f -= g;
    }
    const s_f64x8 v = __builtin_convertvector(f, s_f64x8);
    return v * v * inv_u;
}

/* round-half-even to an integer for 0 <= y < 2^52; larger y give r >= 2^52 */
static inline s_f64x8 s_round8(s_f64x8 y)
{
    return (y + 0x1p52) - 0x1p52;
}

static inline s_i64x8 s_is_half8(s_f64x8 d)
{
    s_i64x8 b;
    memcpy(&b, &d, sizeof b);
    b &= INT64_MAX; /* |d| */
    s_f64x8 a;
    memcpy(&a, &b, sizeof a);
    return a == 0.5;
}

/* Bit plane s of 8 bytes: bit s of byte j to bit j (one multiply gathers 8 bits). */
static inline uint64_t s_plane8(uint64_t bytes, unsigned s)
{
    return (((bytes >> s) & UINT64_C(0x0101010101010101)) * UINT64_C(0x0102040810204080)) >> 56;
}

/* Correction to the sum of round-half-even(y_j) for the ties of a block: a tie adds the odd
 * neighbour of y_j instead of the even one when the running sum before it is odd. The running
 * parity is that of M plus the parities of the roundings since the last tie (a tie leaves the
 * sum even, and round-half-even of a tie is even). A tie's odd neighbour is always the upper
 * one: y_j = t / u with t = x^2 = (8k + 1) 2^2L for an odd-mantissa x = o 2^L, so a tie has
 * u = 2^(2L+1) and y_j = 4k + 1/2, rounded to 4k. */
static double s_ties(const float *a, const float *b, double inv_u, double M)
{
    uint64_t P = 0, T = 0;
    for (unsigned c = 0; c < S_BLOCK; c += 8) {
        const s_f64x8 y = s_sq8(a + c, b ? b + c : NULL, inv_u), h = y + 0x1p52,
                      d = y - (h - 0x1p52);
        s_i64x8 hb;
        memcpy(&hb, &h, sizeof hb); /* h is in [2^52, 2^53): its last bit is r's parity */
        /* per lane: bit 0 parity, bit 1 tie; narrowed to one byte each */
        const s_i8x8 code = __builtin_convertvector((hb & 1) | (s_is_half8(d) & 2), s_i8x8);
        uint64_t bytes;
        memcpy(&bytes, &code, sizeof bytes);
        P |= s_plane8(bytes, 0) << c;
        T |= s_plane8(bytes, 1) << c;
    }
    /* x_j: parity of the roundings from the last tie at or before j through j (segmented
     * prefix XOR, segments starting at ties), with M's parity entering the first segment
     * unless it starts with a tie. */
    const uint64_t m_odd = (uint64_t)M & 1;
    uint64_t x = P ^ (m_odd & ~T), f = T;
    for (unsigned k = 1; k < 64; k *= 2) {
        x ^= (x << k) & ~f;
        f |= f << k;
    }
    /* ties with an odd running sum before them: parity x_{j-1}, or M's for a tie at 0 */
    return (double)__builtin_popcountll((x << 1 | m_odd) & T);
}

static inline double s_sumsq_block(const float *a, const float *b, double inv_u, double M)
{
    s_f64x8 acc = {0};
    s_i64x8 tie = {0};
    for (unsigned c = 0; c < S_BLOCK; c += 8) {
        const s_f64x8 y = s_sq8(a + c, b ? b + c : NULL, inv_u), r = s_round8(y);
        acc += r;
        tie |= s_is_half8(y - r);
    }
    /* exact in any order: integers below 2^53, or a sum reaching 2^53 that is refused anyway */
    acc += __builtin_shufflevector(acc, acc, 4, 5, 6, 7, 0, 1, 2, 3);
    acc += __builtin_shufflevector(acc, acc, 2, 3, 0, 1, 6, 7, 4, 5);
    tie |= __builtin_shufflevector(tie, tie, 4, 5, 6, 7, 0, 1, 2, 3);
    tie |= __builtin_shufflevector(tie, tie, 2, 3, 0, 1, 6, 7, 4, 5);
    double sum = acc[0] + acc[1];
    if (!(sum < 0x1p53 - M)) return -1.0;
    if (tie[0] | tie[1]) {
        sum += s_ties(a, b, inv_u, M);
        if (!(sum < 0x1p53 - M)) return -1.0;
    }
    return sum;
}

/* s + sum x_i^2 added in index order in double (x = a, or the float differences a - b when b is
 * not NULL): bit for bit the sequential loop, without its chain of dependent additions where
 * s_sumsq_block applies (s normal and not tiny, blocks inside one binade); elsewhere the plain
 * loop, one block at a time. */
static double s_sumsq(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    size_t i = 0;
    while (i < n) {
        uint64_t bits;
        memcpy(&bits, &s, sizeof bits);
        const unsigned e = (unsigned)(bits >> 52); /* s >= 0: biased exponent of s */
        if (n - i >= S_BLOCK && e >= 64 && e <= 2000) {
            /* s = M u, u = 2^(e - 1075); blocks while the sum stays below 2^(e+1) */
            const uint64_t inv_bits = (uint64_t)(2098 - e) << 52, u_bits = (uint64_t)(e - 52) << 52;
            double inv_u, u;
            memcpy(&inv_u, &inv_bits, sizeof inv_u);
            memcpy(&u, &u_bits, sizeof u);
            double M = s * inv_u;
            const size_t i0 = i;
            for (; n - i >= S_BLOCK; i += S_BLOCK) {
                const double r = s_sumsq_block(a + i, b ? b + i : NULL, inv_u, M);
                if (r < 0.0) break;
                M += r;
            }
            s = M * u;
            if (i > i0) continue;
        }
        const size_t end = n - i < S_BLOCK ? n : i + S_BLOCK;
        for (; i < end; i++) {
            const float x = b ? a[i] - b[i] : a[i];
            s += (double)x * x;
        }
    }
    return s;
}

double rumor_vec_nrm2(const float *x, size_t n)
{
    return sqrt(s_sumsq(x, NULL, n));
}

double rumor_vec_nrm2_diff(const float *a, const float *b, size_t n)
{
    return sqrt(s_sumsq(a, b, n));
}

double rumor_vec_nrm1(const float *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += fabs((double)x[i]);
    return s;
}

double rumor_vec_nrm_inf(const float *x, size_t n)
{
    float m = 0.0f;
    int nan = 0; /* kept apart from the maximum, so that both loops vectorise */
    for (size_t i = 0; i < n; i++) {
        const float a = fabsf(x[i]);
        m = a > m ? a : m;
        nan |= a != a;
    }
    return nan ? NAN : m;
}

/* (double)a - b, squared, for 8 entries. */
static inline s_f64x8 s_dsq8(const float *a, const float *b)
{
    s_f32x8 f, g;
    memcpy(&f, a, sizeof f);
    memcpy(&g, b, sizeof g);
    const s_f64x8 t = __builtin_convertvector(f, s_f64x8) - __builtin_convertvector(g, s_f64x8);
    return t * t;
}

double rumor_vec_dist2(const float *a, const float *b, size_t n)
{
    s_f64x8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}; /* S[0..8), S[8..16), ... */
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 += s_dsq8(a + i, b + i);
        s1 += s_dsq8(a + i + 8, b + i + 8);
        s2 += s_dsq8(a + i + 16, b + i + 16);
        s3 += s_dsq8(a + i + 24, b + i + 24);
    }
    s_f64x8 l = (s0 + s1) + (s2 + s3);
    l += __builtin_shufflevector(l, l, 4, 5, 6, 7, 0, 1, 2, 3);
    l += __builtin_shufflevector(l, l, 2, 3, 0, 1, 6, 7, 4, 5);
    double rest = 0.0;
    for (; i < n; i++) {
        const double t = (double)a[i] - b[i];
        rest += t * t;
    }
    return (l[0] + l[1]) + rest;
}

void rumor_vec_soft_threshold(float *x, float t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const float a = fabsf(x[i]) - t;
        x[i] = a > 0.0f ? copysignf(a, x[i]) : 0.0f;
    }
}

size_t rumor_vec_count_nonzero(const float *x, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += x[i] != 0.0f;
    return c;
}
