/* rumor — the dataset object, synthetic data and row gathering (see data.h).
 *
 * The file readers are data_idx.c and data_libsvm.c; partitions are partition.c and the
 * minibatch sampler sampler.c. rumor_data_gather runs every round and never allocates.
 */
#include "data_internal.h"

#include "rumor/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rumor_dataset_destroy(rumor_dataset_t **ds_p)
{
    if (!ds_p || !*ds_p) return;
    free((*ds_p)->x);
    free((*ds_p)->px);
    free((*ds_p)->y);
    free(*ds_p);
    *ds_p = NULL;
}

void *rumor_data_grow(void *buf, size_t *cap, size_t need, size_t first, size_t limit, size_t elem)
{
    if (need <= *cap) return buf;
    size_t ncap = *cap ? *cap : (first < limit ? first : limit);
    if (ncap == 0) ncap = 1;
    while (ncap < need) ncap = ncap > limit / 2 ? limit : ncap * 2;
    if (ncap < need || ncap > SIZE_MAX / elem) return NULL;
    void *p = realloc(buf, ncap * elem);
    if (p) *cap = ncap;
    return p;
}

/* Class c's mean is sep * u_c with u_c uniform on the unit sphere, drawn in class order from
 * the stream (seed, 0, 0, DATA); in high dimension the directions are nearly orthogonal, so
 * means sit about sep * sqrt(2) apart against unit noise per coordinate. Sample i has label
 * i mod classes (exactly balanced) and its noise from its own stream (seed, 0, 1 + i, DATA),
 * so the first m samples are the same whatever n is: a larger draw extends a smaller one,
 * and a train/test pair can be cut from one draw. */
int rumor_data_synthetic(uint32_t n, uint32_t dim, uint32_t classes, double sep, uint64_t seed,
                         rumor_dataset_t **out)
{
    if (!out) return RUMOR_EINVAL;
    *out = NULL;
    if (n == 0 || dim == 0 || classes == 0 || !(sep >= 0.0) || !isfinite(sep)) return RUMOR_EINVAL;
    if ((uint64_t)n * dim > RUMOR_DATA_MAX_FLOATS ||
        (uint64_t)classes * dim > RUMOR_DATA_MAX_FLOATS)
        return RUMOR_ERANGE;
    rumor_dataset_t *ds = calloc(1, sizeof *ds);
    float *mean = malloc((size_t)classes * dim * sizeof *mean);
    if (ds) {
        ds->x = malloc((size_t)n * dim * sizeof *ds->x);
        ds->y = malloc((size_t)n * sizeof *ds->y);
    }
    if (!ds || !mean || !ds->x || !ds->y) {
        free(mean);
        rumor_dataset_destroy(&ds);
        return RUMOR_ENOMEM;
    }
    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_DATA);
    for (uint32_t c = 0; c < classes; c++) {
        float *m = mean + (size_t)c * dim;
        double nrm2 = 0.0;
        for (uint32_t j = 0; j < dim; j++) {
            const double g = rumor_rng_normal(&r);
            m[j] = (float)g;
            nrm2 += g * g;
        }
        const double scale = nrm2 > 0.0 ? sep / sqrt(nrm2) : 0.0;
        for (uint32_t j = 0; j < dim; j++) m[j] = (float)(m[j] * scale);
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t c = i % classes;
        const float *m = mean + (size_t)c * dim;
        float *x = ds->x + (size_t)i * dim;
        rumor_rng_seed(&r, seed, 0, 1 + (uint64_t)i, RUMOR_RNG_DATA);
        for (uint32_t j = 0; j < dim; j++) x[j] = m[j] + (float)rumor_rng_normal(&r);
        ds->y[i] = (int32_t)c;
    }
    free(mean);
    ds->n = n;
    ds->dim = dim;
    ds->classes = classes;
    *out = ds;
    return 0;
}

void rumor_data_pixels(const uint8_t *restrict px, size_t n, float *restrict x)
{
#ifdef __FMA__
    /* Without a division: q = p (1 / 255) is within an ulp of p / 255, and one correction
     * step, whose residual p - 255 q an fma gives exactly, rounds as the division does
     * (test_data checks all 256 values). Three multiply-adds instead of a divide. */
    const float inv = 1.0f / 255.0f;
    for (size_t i = 0; i < n; i++) {
        const float p = (float)px[i], q = p * inv;
        x[i] = fmaf(fmaf(-q, 255.0f, p), inv, q);
    }
#else
    for (size_t i = 0; i < n; i++) x[i] = (float)px[i] / 255.0f;
#endif
}

void rumor_data_gather(const rumor_dataset_t *ds, const uint32_t *idx, uint32_t b, float *x,
                       int32_t *y)
{
    const size_t dim = ds->dim;
    const size_t row = dim * (ds->px ? 1 : sizeof(float)); /* bytes a row takes in ds */
    const char *base = ds->px ? (const char *)ds->px : (const char *)ds->x;
    enum { AHEAD = 2 }; /* rows: random ones of a large set miss every cache */
    for (uint32_t k = 0; k < b; k++) {
        const uint32_t i = idx[k];
        RUMOR_ASSERT(i < ds->n);
        if (k + AHEAD < b && idx[k + AHEAD] < ds->n) {
            const char *next = base + (size_t)idx[k + AHEAD] * row;
            for (size_t off = 0; off < row; off += 64) __builtin_prefetch(next + off);
            __builtin_prefetch(ds->y + idx[k + AHEAD]);
        }
        if (ds->px)
            rumor_data_pixels(ds->px + (size_t)i * dim, dim, x + (size_t)k * dim);
        else
            memcpy(x + (size_t)k * dim, ds->x + (size_t)i * dim, dim * sizeof(float));
        if (y) y[k] = ds->y[i];
    }
}

rumor_dataset_t *rumor_data_subset(const rumor_dataset_t *ds, const uint32_t *idx, uint32_t n)
{
    RUMOR_ASSERT(idx || n <= ds->n);
    rumor_dataset_t *out = calloc(1, sizeof *out);
    if (!out) return NULL;
    *out = (rumor_dataset_t){.n = n, .dim = ds->dim, .classes = ds->classes};
    out->x = malloc((n ? (size_t)n * ds->dim : 1) * sizeof *out->x);
    out->y = malloc((n ? n : 1) * sizeof *out->y);
    if (!out->x || !out->y) {
        rumor_dataset_destroy(&out);
        return NULL;
    }
    if (idx) {
        rumor_data_gather(ds, idx, n, out->x, out->y);
    } else {
        if (ds->px)
            rumor_data_pixels(ds->px, (size_t)n * ds->dim, out->x);
        else
            memcpy(out->x, ds->x, (size_t)n * ds->dim * sizeof *out->x);
        memcpy(out->y, ds->y, (size_t)n * sizeof *out->y);
    }
    return out;
}
