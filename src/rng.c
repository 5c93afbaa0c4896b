/* rumor — seeded random streams (see rng.h). */
#include "rumor/rng.h"

#include <math.h>

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

void rumor_rng_fill_uniform(rumor_rng_t *r, float *out, size_t n)
{
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        const uint64_t v = rumor_rng_u64(r);
        out[i] = (float)(uint32_t)(v >> 40) * 0x1.0p-24f;
        out[i + 1] = (float)(uint32_t)((v >> 8) & 0xffffff) * 0x1.0p-24f;
    }
    if (i < n) out[i] = rumor_rng_uniform(r);
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
